# Put in front of every script that calls Elasticsearch from a pod (kubelogs/manifests/client_pods.py):
# the credentials reach curl through a config file, not argv (argv is visible in the process list).
# Sets AUTH, the file to give curl with -K (empty when security is off).
set -u
AUTH="${TMPDIR:-/tmp}/es-auth"
if [ -n "${ES_USER:-}" ]; then
  umask 077; printf 'user = "%s:%s"\n' "$ES_USER" "$ES_PASSWORD" > "$AUTH"
else
  : > "$AUTH"
fi
