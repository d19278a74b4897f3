#!/usr/bin/env bash
# Provides the external programs the local stack needs, in .tools/bin (git-ignored):
#   temporal     Temporal CLI v1.5.1 (dev server: Temporal server 1.29.1 + Web UI)
#   minio        S3-compatible object store
#   stripe-mock  Stripe API mock
#   temporal-server     Temporal server v1.29.1 (`npm run start:cluster`: the production topology)
#   temporal-sql-tool   its Postgres schema tool
#   temporal-schema     its Postgres schemas (.tools/temporal-schema/postgresql/v12/{temporal,visibility}),
#                       copied from the server's Go module source
#   temporal-ui-server  Temporal Web UI server v2.42.1
#
# For each program: already in .tools/bin -> nothing to do; found on PATH -> symlinked into
# .tools/bin; otherwise built with `go install` (Go 1.22+). Without Go, temporal falls back to the
# official release archive; the others need Go.
#
# Usage: scripts/tools.sh [temporal|minio|stripe-mock|temporal-server|... ...]   (default: all)
# Env:   TOOLS_BIN   target folder (default <repo>/.tools/bin), e.g. for trying the build path
#                    on a scratch folder: TOOLS_BIN=$(mktemp -d) PATH=/usr/bin:/bin:/usr/local/go/bin scripts/tools.sh stripe-mock
#
# Idempotent; when everything is present it only runs shell builtins (a few ms). Prints one line
# per program it provides, nothing otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TOOLS_BIN:-$ROOT/.tools/bin}"

TEMPORAL_VERSION="1.5.1"
# The production topology's server and UI (tools/dev/cluster-topology.ts and docker-compose.yml pin the same).
TEMPORAL_SERVER_VERSION="1.29.1"
TEMPORAL_UI_VERSION="2.42.1"
ALL_TOOLS=(temporal minio stripe-mock temporal-server temporal-sql-tool temporal-schema temporal-ui-server)
SCHEMA_DIR="$(dirname "$BIN")/temporal-schema"   # next to the bin folder
# program name -> Go package@version (exact versions; see /work/shared/TOOLCHAIN.md).
# A function, not an associative array, so the script also runs on macOS's bash 3.2.
go_pkg() {
  case "$1" in
    temporal) echo "github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_VERSION}" ;;
    minio) echo "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c" ;;
    stripe-mock) echo "github.com/stripe/stripe-mock@v0.203.0" ;;
    temporal-server) echo "go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}" ;;
    temporal-sql-tool) echo "go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}" ;;
    temporal-ui-server) echo "github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}" ;;
    *) return 1 ;;
  esac
}
# The file `go install` writes for a program (its package's last path element).
go_bin() {
  local pkg
  pkg="$(go_pkg "$1")"
  pkg="${pkg%@*}"
  echo "${pkg##*/}"
}

# Is program $1 present? (temporal-schema is a folder, the rest are executables.)
present() {
  if [[ "$1" == temporal-schema ]]; then [[ -f "$SCHEMA_DIR/v${TEMPORAL_SERVER_VERSION}" ]]; else [[ -x "$BIN/$1" ]]; fi
}

if [[ $# -gt 0 ]]; then TOOLS=("$@"); else TOOLS=("${ALL_TOOLS[@]}"); fi

# ---- fast path: everything already there (builtins only, no subprocesses) ----
missing=()
for t in "${TOOLS[@]}"; do
  case " ${ALL_TOOLS[*]} " in *" $t "*) ;; *) echo "tools.sh: unknown tool '$t' (known: ${ALL_TOOLS[*]})" >&2; exit 2 ;; esac
  present "$t" || missing+=("$t")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# ---- slow path ----
mkdir -p "$BIN"
say() { echo "tools: $*" >&2; }
die() { echo "tools: ERROR: $*" >&2; exit 1; }

# Serialise concurrent runs (e.g. `npm test` and `npm start` at once) so a binary is never built
# twice at the same time; the loser re-checks after getting the lock and finds it done.
# (flock is util-linux; where it is missing, e.g. macOS, runs are simply not serialised.)
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN/.lock"
  if ! flock -n 9; then
    say "another tools.sh run is providing tools; waiting for it..."
    flock 9
  fi
fi

# Does `go` exist and is it >= 1.22? Sets GO_OK=1/0 and GO_DESC.
GO_OK=0
GO_DESC="not found on PATH"
if command -v go >/dev/null 2>&1; then
  gov="$(go env GOVERSION 2>/dev/null || true)"   # e.g. go1.26.8
  GO_DESC="${gov:-unknown version}"
  if [[ "$gov" =~ ^go([0-9]+)\.([0-9]+) ]]; then
    major="${BASH_REMATCH[1]}"; minor="${BASH_REMATCH[2]}"
    if (( major > 1 || (major == 1 && minor >= 22) )); then GO_OK=1; fi
  fi
fi

# Install file $1 as $BIN/$2 atomically (the fast path above must never see a half-written file).
install_atomic() {
  local src="$1" name="$2"
  chmod +x "$src"
  mv -f "$src" "$BIN/.$name.new"
  mv -f "$BIN/.$name.new" "$BIN/$name"
}

go_build() {
  local name="$1" pkg tmp start
  pkg="$(go_pkg "$name")"
  tmp="$(mktemp -d "$BIN/.build-$name.XXXXXX")"   # same filesystem as $BIN -> rename is atomic
  start=$SECONDS
  if ! GOBIN="$tmp" go install "$pkg" >"$tmp.log" 2>&1; then
    tail -n 30 "$tmp.log" >&2 || true
    rm -rf "$tmp"
    die "building $name ($pkg) failed; full log: $tmp.log"
  fi
  install_atomic "$tmp/$(go_bin "$name")" "$name"
  rm -rf "$tmp" "$tmp.log"
  say "built $name from $pkg in $((SECONDS - start)) s"
}

download() { # url file
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 2 --connect-timeout 15 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    return 127
  fi
}

# Temporal CLI without Go: the official release archive (same source as temporal's install.sh).
download_temporal() {
  local os arch tmp archive name sum_url url ok=0
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no Go and no Temporal CLI release for OS '$(uname -s)'; install Go 1.22+ or the Temporal CLI v${TEMPORAL_VERSION} (on PATH)" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Go and no Temporal CLI release for CPU '$(uname -m)'; install Go 1.22+ or the Temporal CLI v${TEMPORAL_VERSION} (on PATH)" ;;
  esac
  name="temporal_cli_${TEMPORAL_VERSION}_${os}_${arch}.tar.gz"
  tmp="$(mktemp -d "$BIN/.download-temporal.XXXXXX")"
  archive="$tmp/$name"
  for url in \
    "https://temporal.download/cli/archive/v${TEMPORAL_VERSION}?platform=${os}&arch=${arch}" \
    "https://github.com/temporalio/cli/releases/download/v${TEMPORAL_VERSION}/${name}"; do
    say "Go ${GO_DESC}; downloading Temporal CLI v${TEMPORAL_VERSION} from $url"
    if download "$url" "$archive"; then ok=1; break; fi
  done
  [[ $ok == 1 ]] || { rm -rf "$tmp"; die "could not download the Temporal CLI (no network? no curl/wget?); install Go 1.22+ or put temporal v${TEMPORAL_VERSION} on PATH"; }

  # Verify against the release's checksums.txt when it can be fetched (GitHub).
  sum_url="https://github.com/temporalio/cli/releases/download/v${TEMPORAL_VERSION}/checksums.txt"
  if download "$sum_url" "$tmp/checksums.txt" 2>/dev/null; then
    local want got
    want="$(awk -v n="$name" '$2 == n || $2 == "*"n { print $1 }' "$tmp/checksums.txt")"
    if command -v sha256sum >/dev/null 2>&1; then got="$(sha256sum "$archive" | awk '{print $1}')"
    else got="$(shasum -a 256 "$archive" | awk '{print $1}')"; fi
    if [[ -z "$want" || "$want" != "$got" ]]; then
      rm -rf "$tmp"
      die "checksum mismatch for $name (expected '${want:-none listed}', got '$got')"
    fi
  else
    say "warning: could not fetch $sum_url; archive not checksum-verified"
  fi

  tar -xzf "$archive" -C "$tmp" || { rm -rf "$tmp"; die "could not unpack $name"; }
  [[ -f "$tmp/temporal" ]] || { rm -rf "$tmp"; die "$name has no 'temporal' binary"; }
  "$tmp/temporal" --version >/dev/null 2>&1 || { rm -rf "$tmp"; die "downloaded temporal does not run on this machine"; }
  install_atomic "$tmp/temporal" temporal
  rm -rf "$tmp"
  say "downloaded temporal v${TEMPORAL_VERSION} (${os}/${arch})"
}

# The server's Postgres schemas (versioned SQL the schema tool applies) live in its Go module source:
# `go mod download` puts that in the module cache (already there after building temporal-server);
# a copy under .tools survives a cleaned cache. A marker file named after the version says it is complete.
provide_schema() {
  local mod dir
  [[ $GO_OK == 1 ]] || die "temporal-schema needs Go 1.22+ (go: ${GO_DESC}) to fetch go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}"
  mod="go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}"
  dir="$(cd / && go mod download -json "$mod" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir/schema/postgresql/v12" ]] || die "could not fetch the schemas of $mod (go mod download)"
  rm -rf "$SCHEMA_DIR"
  mkdir -p "$SCHEMA_DIR"
  cp -R "$dir/schema/postgresql" "$SCHEMA_DIR/"
  chmod -R u+w "$SCHEMA_DIR"
  touch "$SCHEMA_DIR/v${TEMPORAL_SERVER_VERSION}"
  say "copied the Postgres schemas of $mod into $SCHEMA_DIR"
}

provide() {
  local name="$1" onpath
  if [[ "$name" == temporal-schema ]]; then present "$name" || provide_schema; return 0; fi
  [[ -x "$BIN/$name" ]] && return 0          # appeared while we waited for the lock
  [[ -L "$BIN/$name" ]] && rm -f "$BIN/$name" # dangling symlink (PATH program went away)

  # On PATH (ignoring our own folder)? Link it.
  onpath="$(PATH="$(printf %s "$PATH" | tr ':' '\n' | grep -vxF "$BIN" | paste -sd: -)" command -v "$name" 2>/dev/null || true)"
  if [[ -n "$onpath" ]]; then
    onpath="$(readlink -f "$onpath" 2>/dev/null || echo "$onpath")"
    [[ "$onpath" == /* ]] || onpath="$PWD/$onpath"
    ln -sfn "$onpath" "$BIN/$name"
    if [[ "$name" == temporal ]] && ! "$onpath" --version 2>/dev/null | grep -qE "${TEMPORAL_VERSION}|Server 1\.29\.1"; then
      say "linked temporal from PATH ($onpath), but it is not v${TEMPORAL_VERSION}: $("$onpath" --version 2>&1 | head -n1)"
    else
      say "linked $name from PATH ($onpath)"
    fi
    return 0
  fi

  if [[ $GO_OK == 1 && "$name" == temporal-ui-server ]]; then
    # Optional: only `npm run start:cluster` uses it, and it runs without a UI.
    ( go_build "$name" ) || say "could not build temporal-ui-server; start:cluster runs without the Web UI"
  elif [[ $GO_OK == 1 ]]; then
    go_build "$name"
  elif [[ "$name" == temporal ]]; then
    download_temporal
  else
    die "$name is not in $BIN nor on PATH, and building it needs Go 1.22+ (go: ${GO_DESC}). Install Go from https://go.dev/dl/ and re-run 'npm run tools', or put $name on PATH."
  fi
}

for t in "${missing[@]}"; do provide "$t"; done
