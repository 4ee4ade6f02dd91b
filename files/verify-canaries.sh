# Runs inside the cluster, in the verifier pod (any image with sh and curl). Checks Elasticsearch's health,
# then polls for each canary token until all are searchable or TIMEOUT seconds pass.
# In:  ES_URL, AUTH (files/es-auth.sh, run first), HEALTH_WAIT (green|yellow), INDEX,
#      TOKENS ("node=token node=token"), TIMEOUT and INTERVAL (seconds), POLICY (ILM policy name, or empty),
#      UNROUTED (index pattern), UNROUTED_NODE_FIELD and SHIPPERS (nodes whose unrouted lines to count),
#      LOGS (the pattern of the daily log indices).
# Out: "health <json>", "policy <json>" (the ILM policy's answer, when POLICY is set), "unrouted <node> <n>"
#      per shipper, then "found <node> <epoch>" per token, "missing <node>" per token not found, and last
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
echo "logs $(es "_cat/indices/$LOGS?h=index" 2>/dev/null | sed -n 's/-[0-9]\{4\}\.[0-9]\{2\}\.[0-9]\{2\}$//p' \
  | grep -E '^[a-z0-9][a-z0-9-]*$' | sort -u | tr '\n' ' ')"
[ -z "$pending" ]
