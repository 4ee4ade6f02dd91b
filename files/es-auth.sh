# Put in front of every script that calls Elasticsearch from a pod (kubelogs/manifests/client_pods.py):
# the credentials reach curl through a config file, not argv (argv is visible in the process list); they
# are read from the files of the Secret mounted at ES_CREDENTIALS (absent or empty: security is off).
# The trust bundle at ES_CA (mounted with them) is the only CA curl trusts for an https ES_URL: it verifies
# Elasticsearch's certificate and its name, and fails rather than talk to anything else.
# Sets AUTH, the file to give curl with -K (empty when security is off).
set -u
AUTH="${TMPDIR:-/tmp}/es-auth"
umask 077
: > "$AUTH"
if [ -n "${ES_CREDENTIALS:-}" ] && [ -s "$ES_CREDENTIALS/username" ]; then
  printf 'user = "%s:%s"\n' "$(cat "$ES_CREDENTIALS/username")" "$(cat "$ES_CREDENTIALS/password")" >> "$AUTH"
fi
if [ -n "${ES_CA:-}" ] && [ -s "$ES_CA" ]; then
  printf 'cacert = "%s"\n' "$ES_CA" >> "$AUTH"
fi
