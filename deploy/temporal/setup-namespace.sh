#!/bin/sh
# One-shot (docker-compose service temporal-setup, image temporalio/admin-tools): once the Temporal
# server answers, creates the namespace if missing and registers the custom search attributes of
# temporal-config/search-attributes.json (mounted at $SEARCH_ATTRIBUTES_FILE) that are missing.
# Idempotent. The local dev server gets the same attributes from tools/dev/stack.ts (--search-attribute).
# Env: TEMPORAL_ADDRESS (read by the temporal CLI), NAMESPACE, NAMESPACE_RETENTION, SEARCH_ATTRIBUTES_FILE.
set -eu
export HOME="${HOME:-/tmp}" # the CLI looks for its config file under $HOME

ns="${NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-168h}"
file="${SEARCH_ATTRIBUTES_FILE:-/etc/imagegen/search-attributes.json}"

retry() { # retry <what> <command...>: up to 60 tries, 2 s apart (a new namespace takes a few seconds to be usable)
  what="$1"; shift
  i=0
  until "$@"; do
    i=$((i + 1))
    [ "$i" -lt 60 ] || { echo "gave up: $what" >&2; exit 1; }
    sleep 2
  done
}

echo "waiting for the Temporal server at ${TEMPORAL_ADDRESS:-127.0.0.1:7233} ..."
retry "temporal server health" sh -c 'temporal operator cluster health 2>/dev/null | grep -q SERVING'

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention "$retention"
  echo "namespace $ns created (retention $retention)"
fi

# The file is a flat JSON object, one "Name": "Type" pair per line (no jq in this image).
pairs="$(sed -n 's/^[[:space:]]*"\([A-Za-z][A-Za-z0-9_]*\)"[[:space:]]*:[[:space:]]*"\([A-Za-z]*\)".*$/\1 \2/p' "$file")"
[ -n "$pairs" ] || { echo "no search attributes found in $file" >&2; exit 1; }

retry "list search attributes of $ns" temporal operator search-attribute list --namespace "$ns" >/dev/null
existing="$(temporal operator search-attribute list --namespace "$ns")"
echo "$pairs" | while read -r name type; do
  if echo "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    retry "create search attribute $name" temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type"
    echo "search attribute $name ($type) created"
  fi
done
echo "temporal namespace $ns is ready"
