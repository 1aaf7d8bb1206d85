#!/usr/bin/env bash
# Incremental Release build, shared by ./culturemert, ./test.sh and bench/. Run it (do not source it): it prints the
# path of the CLI dll on stdout, everything else on stderr, and exits non-zero when the project cannot be built.
#
# It changes nothing outside the project. System packages are installed by the features that need them, at their first
# use (`culturemert setup` lists them); TorchSharp's native library is made to load with the system's own libstdc++ by
# the build itself (build/WeakGlibcxx.targets).
#
#   scripts/bootstrap.sh --undo   removes what earlier versions of this script added to apt (a Debian 13 "trixie" source
#                                 and its pin) and says which packages came from it; it downgrades nothing by itself.
set -euo pipefail
CULTUREMERT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "[setup] $*" >&2; }

undo_trixie() {
  local files=(/etc/apt/sources.list.d/culturemert-trixie.sources /etc/apt/preferences.d/culturemert-trixie) found=0 f
  for f in "${files[@]}"; do
    [ -e "$f" ] || continue
    found=1
    if [ "$(id -u)" = 0 ]; then rm -f "$f"; log "removed $f"; else log "not root: remove $f with sudo rm $f"; fi
  done
  [ "$found" = 1 ] || log "no culturemert apt source or pin found: nothing to undo"
  [ "$found" = 1 ] || return 0
  # apt now lists no source for what came from trixie: such packages show as "local".
  [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 || true
  local left; left=$(apt list --installed 2>/dev/null | grep ',local\]' | cut -d/ -f1 | tr '\n' ' ' || true)
  [ -z "$left" ] && return 0
  log "installed versions that no configured source offers any more (those from trixie, and any from other removed or local sources), left as they are: $left"
  log "Debian does not support downgrading libc6 in place; to get the release's versions back, restore the machine's image"
  log "or a backup. The project runs with either."
}

build_if_stale() {
  local stamp="$CULTUREMERT_ROOT/artifacts/.build-stamp"     # holds the TorchBackend of the last build
  local backend="${CULTUREMERT_TORCH_BACKEND:-cpu}"
  case "$backend" in
    cpu|cuda) ;;
    *) log "CULTUREMERT_TORCH_BACKEND=$backend: expected cpu or cuda (docs/gpu.md)."; return 1 ;;
  esac
  CULTUREMERT_CLI_DLL="$CULTUREMERT_ROOT/artifacts/cli/CultureMert.Cli.dll"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$backend" ]; then
    rm -rf "$CULTUREMERT_ROOT/artifacts/cli"                 # the other backend's native libraries must not linger
  fi
  if [ -f "$stamp" ] && [ -f "$CULTUREMERT_CLI_DLL" ] && \
     [ -z "$(find "$CULTUREMERT_ROOT/src" "$CULTUREMERT_ROOT/build" "$CULTUREMERT_ROOT/Directory.Build.props" "$CULTUREMERT_ROOT/Directory.Build.targets" \( -name bin -o -name obj \) -prune -o -newer "$stamp" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
    return 0
  fi
  command -v dotnet >/dev/null || { log "the .NET 10 SDK (dotnet) is required: https://dot.net"; return 1; }
  log "building CultureMert (Release, TorchBackend=$backend)..."
  mkdir -p "$CULTUREMERT_ROOT/artifacts"
  local log="$CULTUREMERT_ROOT/artifacts/build.log"
  if ! dotnet build "$CULTUREMERT_ROOT/src/CultureMert.Cli/CultureMert.Cli.csproj" -c Release --nologo -v q -p:TorchBackend="$backend" \
       -o "$CULTUREMERT_ROOT/artifacts/cli" > "$log" 2>&1; then
    cat "$log" >&2; log "build failed (log: $log)"; return 1
  fi
  echo "$backend" > "$stamp"
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ "${1:-}" = --undo ]; then undo_trixie; exit 0; fi
build_if_stale
echo "$CULTUREMERT_CLI_DLL"
