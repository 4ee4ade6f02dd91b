# Put in front of every script that calls Elasticsearch from a pod (kubelogs/manifests/client_pods.py):
# the credentials reach curl through a config file, not argv (argv is visible in the process list); they
# are read from the files of the Secret mounted at ES_CREDENTIALS (absent or empty: security is off).
# Sets AUTH, the file to give curl with -K (empty when security is off).
set -u
AUTH="${TMPDIR:-/tmp}/es-auth"
if [ -n "${ES_CREDENTIALS:-}" ] && [ -s "$ES_CREDENTIALS/username" ]; then
  umask 077; printf 'user = "%s:%s"\n' "$(cat "$ES_CREDENTIALS/username")" "$(cat "$ES_CREDENTIALS/password")" > "$AUTH"
else
  : > "$AUTH"
fi
