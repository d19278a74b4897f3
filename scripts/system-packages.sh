#!/usr/bin/env bash
# The Debian packages some test tiers need, installed by the setup step (`npm test`, .ci/run), never
# from inside a test:
#   chromium, fonts-liberation   the web console tests drive headless Chromium (playwright-core)
#   docker-compose, python3-yaml the compose checks resolve docker-compose.yml without a Docker engine
#
# Present -> nothing to do (a few ms). Missing, as root with apt-get -> apt-get install (a few minutes
# once). Missing otherwise -> a loud note; the tests that need the package skip with the same reason.
#
# Usage: scripts/system-packages.sh            Env: SKIP_SYSTEM_PACKAGES=1 to never install.
set -euo pipefail

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium fonts-liberation)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
[[ ${#need[@]} -eq 0 ]] && exit 0

loud() { printf '\n%s\n!!! %s\n%s\n\n' "$(printf '!%.0s' {1..100})" "$*" "$(printf '!%.0s' {1..100})" >&2; }

if [[ -n "${SKIP_SYSTEM_PACKAGES:-}" ]]; then
  loud "system packages missing: ${need[*]} (SKIP_SYSTEM_PACKAGES is set); the tests that need them will skip"
  exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  loud "system packages missing: ${need[*]}; install them (sudo apt-get install -y ${need[*]}) or the browser and compose tests skip"
  exit 0
fi

echo "system-packages: installing ${need[*]} with apt-get (a few minutes, once)" >&2
export DEBIAN_FRONTEND=noninteractive
# Serialise with another run of this script (e.g. npm test and npm start at once).
exec 9>/tmp/imagegen-system-packages.lock
flock 9
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/imagegen-system-packages.log 2>&1; then
  tail -n 5 /tmp/imagegen-system-packages.log >&2 || true
  loud "apt-get install ${need[*]} failed (log: /tmp/imagegen-system-packages.log); the tests that need them will skip"
fi
