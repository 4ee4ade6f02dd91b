# Runs in the elasticsearch-retention CronJob's pod (any image with sh and curl), for Elasticsearch
# versions without ILM (before 6.6): deletes the daily log indices (<name>-YYYY.MM.DD) older than
# RETENTION_DAYS days. In: ES_URL, AUTH (files/es-auth.sh, run first), RETENTION_DAYS.
# Out: "deleted <index>" per index removed, "kept <n> indices". Exit 1 when Elasticsearch fails.
es() { curl -fsS -m 70 -K "$AUTH" "$@"; }
# The oldest day kept, as the indices spell it; names of the same shape compare in date order.
cutoff=$(date -u -d "@$(( $(date +%s) - RETENTION_DAYS * 86400 ))" +%Y.%m.%d) || exit 1
indices=$(es "$ES_URL/_cat/indices?h=index") || { echo "cannot list indices"; exit 1; }
kept=0
for index in $indices; do
  day=${index##*-}
  case "$day" in
    [12][0-9][0-9][0-9].[01][0-9].[0-3][0-9]) ;;
    *) continue ;;  # not a daily log index
  esac
  if [ "$day" \< "$cutoff" ]; then
    es -X DELETE "$ES_URL/$index" > /dev/null || { echo "cannot delete $index"; exit 1; }
    echo "deleted $index"
  else
    kept=$((kept + 1))
  fi
done
echo "kept $kept indices"
