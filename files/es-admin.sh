# Runs inside the cluster, in a short-lived pod of the cluster stage (any image with sh and curl): the
# Elasticsearch calls around restarts, replica changes and index settings, so credentials never leave it.
# In:  ES_URL, AUTH (files/es-auth.sh, run first), ACTIONS (space-separated, run in order),
#      TIMEOUT and INTERVAL (seconds), and what the actions below read.
# Actions:
#   allocation_all        cluster.routing.allocation.enable back to its default (all shards)
#   allocation_primaries  only primaries are allocated while a node restarts (Elastic's rolling restart)
#   flush                 flush every index, so a restarted node recovers from its own files
#   health                wait for HEALTH_WAIT (green|yellow) and, if set, NODES_WAIT (e.g. ">=3") nodes
#   allocation_exclude    no shard on the nodes in LEAVING (comma-separated names), before they are removed
#   drained               wait until the nodes in LEAVING hold no shard
#   allocation_exclude_clear  the exclusion back to its default (after those nodes are gone)
#   minimum_masters       discovery.zen.minimum_master_nodes = MINIMUM_MASTER_NODES (6.x, persistent)
#   exclude_voting        POST each of VOTING_EXCLUSIONS (paths; 7.x+, before removing master nodes)
#   clear_voting          DELETE the voting configuration exclusions (after those nodes are gone)
#   clear_voting_kept     the same without waiting for the excluded nodes to leave (they stay as data nodes)
#   master_eligible       print "master-eligible NAME" for each of the nodes in LEAVING that has the master role
#                         or is not in the cluster (so cannot tell)
#   snapshot              a snapshot of the whole cluster in REPOSITORY named SNAPSHOT_PREFIX-<UTC date and time>;
#                         waits until its state is SUCCESS (fails with the state and reason otherwise)
#   expire_snapshots      delete the snapshots named SNAPSHOT_PREFIX-<date> older than KEEP_DAYS days, keeping
#                         the newest KEEP_AT_LEAST of them
#   requests              send REQUESTS: lines "METHOD PATH BODY" (the index settings, the security settings), each
#                         @@NAME@@ in a body replaced by the file PASSWORDS_DIR/NAME (a password from its Secret)
# Out: "ok <action>" per action done; "failed <action>: <HTTP status> <answer>" and exit 1 on the first failure.
answer="${TMPDIR:-/tmp}/es-answer"
# call METHOD PATH [BODY]: sets $status (000 when Elasticsearch did not answer). The body goes through stdin
# (printf is built in): a password in it never shows in the process list.
call() {
  if [ $# -ge 3 ]; then
    status=$(printf '%s' "$3" | curl -sS -m 70 -K "$AUTH" -o "$answer" -w '%{http_code}' -X "$1" \
      -H 'Content-Type: application/json' --data-binary @- "$ES_URL/$2" 2>"$answer.err") || status=000
  else
    status=$(curl -sS -m 70 -K "$AUTH" -o "$answer" -w '%{http_code}' -X "$1" \
      "$ES_URL/$2" 2>"$answer.err") || status=000
  fi
}
fail() { echo "failed $1: $status $(cat "$answer" "$answer.err" 2>/dev/null | head -c 600)"; exit 1; }
# must WHAT METHOD PATH [BODY]: the call must succeed; no answer, 408, 429 and 5xx are retried (a node that
# has just restarted may still be joining), up to 5 tries
must() {
  what=$1; shift
  for try in 1 2 3 4 5; do
    call "$@"
    case "$status" in 2??) return 0 ;; 000|408|429|5??) sleep "$INTERVAL" ;; *) break ;; esac
  done
  fail "$what"
}
setting() { must "$1" PUT _cluster/settings "{\"persistent\":{\"$2\":$3}}"; }
# expand TEXT: each @@NAME@@ (NAME in capitals and _) replaced by the content of the file PASSWORDS_DIR/NAME
expand() {
  rest=$1; out=""
  while :; do
    case "$rest" in *@@[A-Z_]*@@*) ;; *) break ;; esac
    out="$out${rest%%@@*}"; rest=${rest#*@@}; name=${rest%%@@*}; rest=${rest#*@@}
    case "$name" in *[!A-Z_]*|"") echo "bad placeholder @@$name@@"; exit 1 ;; esac
    [ -s "${PASSWORDS_DIR:-/nonexistent}/$name" ] || { echo "@@$name@@ has no value"; exit 1; }
    out="$out$(cat "$PASSWORDS_DIR/$name")"
  done
  printf '%s' "$out$rest"
}

deadline=$(( $(date +%s) + TIMEOUT ))
for action in $ACTIONS; do
  case "$action" in
    allocation_all) setting "$action" cluster.routing.allocation.enable null ;;
    allocation_primaries) setting "$action" cluster.routing.allocation.enable '"primaries"' ;;
    flush) must "$action" POST _flush ;;
    health)
      query="wait_for_status=$HEALTH_WAIT&timeout=30s"
      [ -n "${NODES_WAIT:-}" ] && query="$query&wait_for_nodes=$NODES_WAIT"
      while :; do
        call GET "_cluster/health?$query"
        case "$status" in 200) break ;; esac
        [ "$(date +%s)" -ge "$deadline" ] && fail "$action (waited ${TIMEOUT}s for $HEALTH_WAIT${NODES_WAIT:+ with $NODES_WAIT nodes})"
        sleep "$INTERVAL"
      done ;;
    allocation_exclude) setting "$action" cluster.routing.allocation.exclude._name "\"$LEAVING\"" ;;
    allocation_exclude_clear) setting "$action" cluster.routing.allocation.exclude._name null ;;
    drained)
      for node in $(echo "$LEAVING" | tr ',' ' '); do
        while :; do
          # Its own row: the answer also has an UNASSIGNED row while any shard is unassigned.
          must "$action $node" GET "_cat/allocation/$node?h=node,shards"
          shards=""
          while read -r name count; do [ "$name" = "$node" ] && shards=$count; done < "$answer"
          [ -z "$shards" ] || [ "$shards" = 0 ] && break  # no row: the node is not in the cluster
          [ "$(date +%s)" -ge "$deadline" ] && fail "$action (waited ${TIMEOUT}s for the shards to leave $node)"
          sleep "$INTERVAL"
        done
      done ;;
    snapshot)
      name="$SNAPSHOT_PREFIX-$(date -u +%Y.%m.%d-%H%M%S)"
      must "$action $name" PUT "_snapshot/$REPOSITORY/$name" '{"include_global_state":true}'
      while :; do
        must "$action $name" GET "_snapshot/$REPOSITORY/$name"
        # One snapshot in the answer: its state, in Elasticsearch's compact JSON.
        case "$(cat "$answer")" in
          *'"state":"SUCCESS"'*) break ;;
          *'"state":"IN_PROGRESS"'*|*'"state":"STARTED"'*|*'"state":"INIT"'*) ;;
          *) status=$(sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p' "$answer"); fail "$action $name" ;;
        esac
        [ "$(date +%s)" -ge "$deadline" ] && { status=IN_PROGRESS; fail "$action $name (waited ${TIMEOUT}s for SUCCESS)"; }
        sleep "$INTERVAL"
      done
      echo "snapshot $name SUCCESS" ;;
    expire_snapshots)
      # Names carry their date (YYYY.MM.DD sorts as dates do); the newest KEEP_AT_LEAST stay whatever their age.
      cutoff=$(date -u -d "@$(( $(date +%s) - KEEP_DAYS * 86400 ))" +%Y.%m.%d) || exit 1
      must "$action" GET "_cat/snapshots/$REPOSITORY?h=id"
      names=$(grep "^$SNAPSHOT_PREFIX-[12][0-9][0-9][0-9]\.[01][0-9]\.[0-3][0-9]" "$answer" | sort -r | tail -n +$((KEEP_AT_LEAST + 1)))
      for name in $names; do
        day=${name#"$SNAPSHOT_PREFIX-"}; day=${day%%-*}
        if [ "$day" \< "$cutoff" ]; then must "$action $name" DELETE "_snapshot/$REPOSITORY/$name"; echo "deleted snapshot $name"; fi
      done ;;
    minimum_masters) setting "$action" discovery.zen.minimum_master_nodes "$MINIMUM_MASTER_NODES" ;;
    exclude_voting) for path in $VOTING_EXCLUSIONS; do must "$action" POST "$path"; done ;;
    clear_voting) must "$action" DELETE _cluster/voting_config_exclusions ;;
    clear_voting_kept) must "$action" DELETE "_cluster/voting_config_exclusions?wait_for_removal=false" ;;
    master_eligible)
      must "$action" GET "_cat/nodes?h=name,node.role"
      for node in $(echo "$LEAVING" | tr ',' ' '); do
        roles=-
        while read -r name node_roles; do [ "$name" = "$node" ] && roles=$node_roles; done < "$answer"
        case "$roles" in -|*m*) echo "master-eligible $node" ;; esac
      done ;;
    requests)
      printf '%s\n' "$REQUESTS" | while read -r method path body; do
        [ -n "$method" ] || continue
        filled=$(expand "$body") || { echo "failed $action $path: a placeholder without its Secret: $filled"; exit 1; }
        must "$action $path" "$method" "$path" "$filled"
      done || exit 1 ;;
    *) echo "failed $action: unknown action"; exit 1 ;;
  esac
  echo "ok $action"
done
