# Runs inside the cluster, in the verifier pod (any image with sh and curl). Checks Elasticsearch's health,
# then polls for each canary token until all are searchable or TIMEOUT seconds pass.
# In:  ES_URL, ES_USER / ES_PASSWORD (when security is on), HEALTH_WAIT (green|yellow), INDEX,
#      TOKENS ("node=token node=token"), TIMEOUT and INTERVAL (seconds).
# Out: "health <json>", then "found <node> <epoch>" per token, "missing <node>" per token not found.
# Exit: 0 all found, 1 some missing, 2 Elasticsearch unreachable.
set -u
if [ -n "${ES_USER:-}" ]; then
  # credentials through a curl config file, not argv (argv is visible in the process list)
  umask 077; printf 'user = "%s:%s"\n' "$ES_USER" "$ES_PASSWORD" > "${TMPDIR:-/tmp}/es-auth"
else
  : > "${TMPDIR:-/tmp}/es-auth"
fi
es() { curl -sS -m 70 -K "${TMPDIR:-/tmp}/es-auth" "$ES_URL/$1"; }
health=$(es "_cluster/health?wait_for_status=$HEALTH_WAIT&timeout=60s" 2>&1) || { echo "unreachable $health"; exit 2; }
echo "health $health"
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
  [ -z "$pending" ] && exit 0
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for pair in $pending; do echo "missing ${pair%%=*}"; done
    exit 1
  fi
  sleep "$INTERVAL"
done
