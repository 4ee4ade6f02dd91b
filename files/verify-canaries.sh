# Runs inside the cluster, in the verifier pod (any image with sh and curl). Checks Elasticsearch's health,
# then polls for each canary token until all are searchable or TIMEOUT seconds pass.
# In:  ES_URL, AUTH (files/es-auth.sh, run first), HEALTH_WAIT (green|yellow), INDEX,
#      TOKENS ("node=token node=token"), TIMEOUT and INTERVAL (seconds), POLICY (ILM policy name, or empty),
#      UNROUTED (index pattern), UNROUTED_NODE_FIELD and SHIPPERS (nodes whose unrouted lines to count),
#      LOGS (the pattern of the daily log indices), AGENTS ("node=podIP ...": the Fluent Bit pods to read),
#      AGENT_PORT, AGENT_PATH (their Prometheus metrics) and AGENT_COUNTERS (the metric names to sum).
# Out: "health <json>", "policy <json>" (the ILM policy's answer, when POLICY is set), "unrouted <node> <n>"
#      per shipper, then "found <node> <epoch>" per token, "missing <node>" per token not found, then
#      "agent <node> <sum> <sum> ..." (AGENT_COUNTERS' order) or "agent <node> unreadable" per agent, and last
#      "logs <name> <name> ..." (the log names that have a daily index).
# Exit: 0 all found, 1 some missing, 2 Elasticsearch unreachable.
es() { curl -sS -m 70 -K "$AUTH" "$ES_URL/$1"; }
health=$(es "_cluster/health?wait_for_status=$HEALTH_WAIT&timeout=60s" 2>&1) || { echo "unreachable $health"; exit 2; }
echo "health $health"
[ -n "${POLICY:-}" ] && echo "policy $(es "_ilm/policy/$POLICY" 2>&1 | tr -d '\n')"
for node in ${SHIPPERS:-}; do
  count=$(es "$UNROUTED/_count?q=$UNROUTED_NODE_FIELD:%22$node%22" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
  echo "unrouted $node ${count:-?}"
done
deadline=$(( $(date +%s) + TIMEOUT ))
pending="$TOKENS"
while :; do
  still=""
  for pair in $pending; do
    node=${pair%%=*}; token=${pair#*=}
    case "$(es "$INDEX/_count?q=%22$token%22" 2>/dev/null | tr -d ' \n')" in
      *'"count":0'*) still="$still $pair" ;;
      *'"count":'*) echo "found $node $(date +%s)" ;;
      *) still="$still $pair" ;;  # index not created yet, or a transient error
    esac
  done
  pending=${still# }
  [ -z "$pending" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for pair in $pending; do echo "missing ${pair%%=*}"; done
    break
  fi
  sleep "$INTERVAL"
done
# Every agent's counters, AGENT_BATCH agents at a time: one curl fetches a batch, AGENT_PARALLEL at once, each
# for at most AGENT_SECONDS, into /tmp (an agent's metrics are some KiB: a batch, not the whole cluster, fits
# the pod's small /tmp), one awk sums them (%.0f: exact beyond 2^31, where %d is not in every awk).
agents() {  # $@: node=ip pairs
  dir=${TMPDIR:-/tmp}/agents
  rm -rf "$dir" && mkdir -p "$dir" || { for pair; do echo "agent ${pair%%=*} unreadable"; done; return; }
  for pair; do
    ip=${pair#*=}
    case $ip in *:*) ip="[$ip]" ;; esac  # IPv6
    printf 'url = "http://%s:%s/%s"\noutput = "%s/%s"\n' "$ip" "$AGENT_PORT" "$AGENT_PATH" "$dir" "${pair%%=*}"
  done | curl -sfg --parallel --parallel-max "$AGENT_PARALLEL" --connect-timeout 5 -m "$AGENT_SECONDS" -K - 2>/dev/null
  for pair; do [ -s "$dir/${pair%%=*}" ] || echo "agent ${pair%%=*} unreadable"; done
  [ -n "$(ls "$dir")" ] || return 0
  # Prometheus text: "name{labels} value [timestamp]" or "name value [timestamp]"; comments start with #.
  awk -v want="$AGENT_COUNTERS" '
    function report(  node, line, i) {
      node = file; sub(/.*\//, "", node); line = "agent " node
      for (i = 1; i <= n; i++) line = line " " sprintf("%.0f", sum[i])
      print line
    }
    BEGIN { n = split(want, names, " "); for (i = 1; i <= n; i++) at[names[i]] = i }
    FNR == 1 { if (file != "") report(); file = FILENAME; for (i = 1; i <= n; i++) sum[i] = 0 }
    /^#/ { next }
    {
      metric = $0; sub(/[{ ].*/, "", metric)
      if (!(metric in at)) next
      rest = $0
      if (index(rest, "}")) sub(/.*}/, "", rest); else sub(/^[^ ]*/, "", rest)
      split(rest, value, " "); sum[at[metric]] += value[1]
    }
    END { if (file != "") report() }' "$dir"/*
}
set --
for pair in ${AGENTS:-}; do
  set -- "$@" "$pair"
  [ $# -ge $AGENT_BATCH ] && { agents "$@"; set --; }
done
[ $# -gt 0 ] && agents "$@"
echo "logs $(es "_cat/indices/$LOGS?h=index" 2>/dev/null | sed -n 's/-[0-9]\{4\}\.[0-9]\{2\}\.[0-9]\{2\}$//p' \
  | grep -E '^[a-z0-9][a-z0-9-]*$' | sort -u | tr '\n' ' ')"
[ -z "$pending" ]
