# Runs inside the cluster, in a pod of the verify stage (any image with sh and curl): waits until Kibana
# serves (available or degraded; green or yellow before 8.x), then makes sure an index pattern (a data view
# from 8.4) `<name>-*` exists for each log name, and the dashboard's saved objects (imported without
# overwrite: what exists, perhaps changed by someone, is kept).
# In:  KIBANA_URL, AUTH (files/es-auth.sh, run first: a user who may write Kibana's saved objects),
#      API (data_views | saved_objects | none), NAMES (log names), TIMEOUT and INTERVAL (seconds),
#      DASHBOARD (the saved objects, NDJSON; empty: this Kibana has no import API).
# Out: "status <state or level>" (or "unavailable <answer>" and exit 2), then per name
#      "view <name>-* exists|created|unsupported" or "view <name>-* failed <HTTP status> <answer>" (exit 1),
#      then "dashboard created|exists|unsupported" or "dashboard failed <HTTP status> <answer>" (exit 1).
answer="${TMPDIR:-/tmp}/kibana-answer"
# kb METHOD PATH [BODY]: sets $status (000 when Kibana did not answer); the body goes through stdin
kb() {
  status=$(printf '%s' "${3:-}" | curl -sS -m 30 -K "$AUTH" -o "$answer" -w '%{http_code}' -X "$1" \
    -H 'kbn-xsrf: true' -H 'Content-Type: application/json' ${3:+--data-binary @-} "$KIBANA_URL$2" 2>"$answer.err") || status=000
}
overall() { tr -d '\n' < "$answer" | sed -En 's/.*"overall":\{[^}]*"(level|state)":"([a-z]+)".*/\2/p'; }

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  kb GET /api/status
  case "$(overall)" in available|degraded|green|yellow) echo "status $(overall)"; break ;; esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "unavailable $status $(cat "$answer" "$answer.err" 2>/dev/null | head -c 300)"; exit 2
  fi
  sleep "$INTERVAL"
done
failed=0
if [ "$API" = data_views ]; then
  kb GET /api/data_views
  [ "$status" = 200 ] || { echo "failed listing the data views: $status $(head -c 300 "$answer")"; exit 1; }
  cp "$answer" "$answer.views"
fi
for name in $NAMES; do
  title="$name-*"
  case "$API" in
    none) echo "view $title unsupported"; continue ;;
    data_views)
      if tr -d ' \n' < "$answer.views" | grep -q "\"title\":\"$name-\\*\""; then echo "view $title exists"; continue; fi
      kb POST /api/data_views/data_view "{\"data_view\":{\"title\":\"$title\",\"name\":\"$name\",\"timeFieldName\":\"@timestamp\"}}" ;;
    saved_objects)
      kb GET "/api/saved_objects/index-pattern/kubelogs-$name"
      if [ "$status" = 200 ]; then echo "view $title exists"; continue; fi
      kb POST "/api/saved_objects/index-pattern/kubelogs-$name" "{\"attributes\":{\"title\":\"$title\",\"timeFieldName\":\"@timestamp\"}}" ;;
  esac
  case "$status" in
    200) echo "view $title created" ;;
    *) echo "view $title failed $status $(cat "$answer" "$answer.err" 2>/dev/null | head -c 300)"; failed=1 ;;
  esac
done
if [ -z "${DASHBOARD:-}" ]; then
  echo "dashboard unsupported"
else
  printf '%s\n' "$DASHBOARD" > "$answer.ndjson"
  status=$(curl -sS -m 60 -K "$AUTH" -o "$answer" -w '%{http_code}' -X POST -H 'kbn-xsrf: true' \
    -F "file=@$answer.ndjson;filename=kubelogs.ndjson" "$KIBANA_URL/api/saved_objects/_import" 2>"$answer.err") || status=000
  flat=$(tr -d ' \n' < "$answer")
  # Without overwrite, an object that exists is a "conflict" error: kept as it is. Any other error fails.
  others=$(printf '%s' "$flat" | grep -o '"error":{"type":"[a-z_]*"' | grep -vc '"conflict"')
  if [ "$status" = 200 ] && [ "$others" = 0 ]; then
    case "$flat" in *'"success":true'*) echo "dashboard created" ;; *) echo "dashboard exists" ;; esac
  else
    echo "dashboard failed $status $(cat "$answer" "$answer.err" 2>/dev/null | head -c 300)"; failed=1
  fi
fi
exit $failed
