#!/usr/bin/env bash
# One-time machine set-up and incremental Release build, shared by ./culturemert, ./test.sh and bench/.
# Run it (do not source it): it prints the path of the CLI dll on stdout, everything else on stderr, and exits
# non-zero when the machine cannot run the project, saying why.
#
# What it does, each step only when needed:
#   1. TorchSharp-cpu 0.107 (libtorch 2.10) needs libstdc++ with GLIBCXX_3.4.32. Debian 12 ships 3.4.30, so on
#      Debian 12 as root we add a trixie apt source derived from the machine's own Debian source (same mirror,
#      same keyring), pin it low (priority 100: no package is upgraded from it unless asked) and install libstdc++6
#      from it, which also brings the trixie libc6 and libgcc-s1 it depends on. Elsewhere we print what to run.
#   2. libsndfile1 (FLAC decoding, and a fallback for other formats) from the distribution.
#   3. fonts-dejavu-core: SkiaSharp (ScottPlot's heatmaps) has no fontconfig here, so without a TrueType file in the
#      usual folders a plot's text comes out blank.
#   4. fluidsynth + fluid-soundfont-gm: the corpus renders its MIDI (real scores and procedural music) to audio.
#   5. Only with CULTUREMERT_MPI=1 (./test.sh sets it): Open MPI's runtime (openmpi-bin: mpirun, libmpi.so.40) for data-parallel
#      pre-training under mpirun; nothing else needs it, and a single process never loads it.
#   6. dotnet build -c Release when any source is newer than the last build, or when CULTUREMERT_TORCH_BACKEND (cpu, the
#      default, or cuda: passed as -p:TorchBackend, see README "GPUs") differs from the last build's.
set -euo pipefail
CULTUREMERT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "[setup] $*" >&2; }

libstdcxx_path() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$p" ] && { echo "$p"; return; }
  done
}
has_glibcxx_3432() {
  local p; p=$(libstdcxx_path)
  [ -n "$p" ] && grep -qa 'GLIBCXX_3\.4\.32' "$p"
}
is_debian12() { [ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; }

apt_updated=0
apt_install() { # apt_install [apt-get args...] packages; apt's chatter goes to a log, shown only on failure
  local aptlog; aptlog=$(mktemp)
  if [ "$apt_updated" = 0 ]; then apt-get update -qq > "$aptlog" 2>&1 || true; apt_updated=1; fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >> "$aptlog" 2>&1; then
    cat "$aptlog" >&2; rm -f "$aptlog"; return 1
  fi
  rm -f "$aptlog"
}

# Writes /etc/apt/sources.list.d/culturemert-trixie.sources from the first non-security Debian source found
# (deb822 .sources or one-line sources.list), so whatever mirror this machine uses is reused.
add_trixie_source() {
  local uri="" keyring="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk '/^URIs:/{u=$2} /^Suites:/{s=$0} /^Signed-By:/{k=$2} /^$/{if(u!="" && s ~ /bookworm( |$)/){print u; exit} u="";s=""} END{if(u!="" && s ~ /bookworm( |$)/) print u}' "$f" | head -n1)
    keyring=$(awk '/^Signed-By:/{print $2; exit}' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 ~ / bookworm / {for(i=2;i<=NF;i++) if($i ~ /^(https?|file|ftp):/){print $i; exit}}' /etc/apt/sources.list | head -n1)
  fi
  if [ -z "$uri" ]; then
    log "no Debian bookworm apt source found to derive a trixie source from."; return 1
  fi
  keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
  log "adding trixie apt source from $uri (pinned at priority 100) for libstdc++6"
  cat > /etc/apt/sources.list.d/culturemert-trixie.sources <<SRC
Types: deb
URIs: $uri
Suites: trixie
Components: main
Signed-By: $keyring
SRC
  cat > /etc/apt/preferences.d/culturemert-trixie <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  apt_updated=0
}

ensure_libstdcxx() {
  has_glibcxx_3432 && return 0
  if is_debian12 && [ "$(id -u)" = 0 ]; then
    add_trixie_source && apt_install -t trixie libstdc++6
    has_glibcxx_3432 && { log "libstdc++6 from trixie installed (GLIBCXX_3.4.32 available)"; return 0; }
  fi
  cat >&2 <<MSG
[setup] TorchSharp's native library needs libstdc++ with GLIBCXX_3.4.32, which this system lacks.
[setup] On Debian 12, as root:
[setup]   printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/trixie.sources
[setup]   printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie
[setup]   apt-get update && apt-get install -t trixie libstdc++6
[setup] Elsewhere: install GCC 13 or newer's libstdc++ (e.g. Ubuntu 24.04 has it).
MSG
  return 1
}

ensure_libsndfile() {
  # ldconfig lives in /sbin, which a non-root PATH may lack; grep without -q: with pipefail, -q's early exit would
  # fail the pipeline through SIGPIPE
  local ldconfig; ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  "$ldconfig" -p 2>/dev/null | grep 'libsndfile\.so\.1' >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing libsndfile1 (FLAC/OGG/MP3 decoding)"; apt_install libsndfile1 && return 0
  fi
  log "libsndfile1 is missing: FLAC files will not decode. Install it with: apt-get install libsndfile1"
}

ensure_fonts() {
  local f
  for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf \
           /usr/share/fonts/dejavu/DejaVuSans.ttf /usr/share/fonts/TTF/DejaVuSans.ttf \
           /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf; do
    [ -e "$f" ] && return 0
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing fonts-dejavu-core (text in PNG reports)"; apt_install fonts-dejavu-core && return 0
  fi
  log "no DejaVu or Liberation font found: PNG reports will have no text. Install one with: apt-get install fonts-dejavu-core"
}

ensure_fluidsynth() {
  # The corpus renders MIDI (SymbTr, Nottingham, the procedural generators) with FluidSynth and a General MIDI SoundFont.
  command -v fluidsynth >/dev/null && [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing fluidsynth and fluid-soundfont-gm (rendering the corpus's MIDI to audio)"
    apt_install --no-install-recommends fluidsynth fluid-soundfont-gm && return 0
  fi
  log "fluidsynth or its General MIDI SoundFont is missing: 'corpus build' and the demo cannot render music. Install them with: apt-get install fluidsynth fluid-soundfont-gm"
}

ensure_mpi() {
  # Data-parallel pre-training: `mpirun -np N ./culturemert pretrain ...` loads libmpi.so.40 (Open MPI's ABI).
  [ "${CULTUREMERT_MPI:-0}" = 1 ] || return 0
  local ldconfig; ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  command -v mpirun >/dev/null && "$ldconfig" -p 2>/dev/null | grep 'libmpi\.so\.40' >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # Only the runtime: we call libmpi.so.40 by P/Invoke and need no C headers. libopenmpi-dev would also pull
    # bookworm's libc6-dev, which cannot sit beside the trixie libc6 that libstdc++6 brought (see step 1).
    log "installing Open MPI (openmpi-bin) for data-parallel pre-training (CULTUREMERT_MPI=1)"
    apt_install --no-install-recommends openmpi-bin && return 0
  fi
  log "Open MPI is missing: mpirun-launched pre-training and its test cannot run. Install it with: apt-get install openmpi-bin"
}

build_if_stale() {
  local stamp="$CULTUREMERT_ROOT/artifacts/.build-stamp"     # holds the TorchBackend of the last build
  local backend="${CULTUREMERT_TORCH_BACKEND:-cpu}"
  case "$backend" in
    cpu|cuda) ;;
    *) log "CULTUREMERT_TORCH_BACKEND=$backend: expected cpu or cuda (README, \"GPUs\")."; return 1 ;;
  esac
  CULTUREMERT_CLI_DLL="$CULTUREMERT_ROOT/artifacts/cli/CultureMert.Cli.dll"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$backend" ]; then
    rm -rf "$CULTUREMERT_ROOT/artifacts/cli"                 # the other backend's native libraries must not linger
  fi
  if [ -f "$stamp" ] && [ -f "$CULTUREMERT_CLI_DLL" ] && \
     [ -z "$(find "$CULTUREMERT_ROOT/src" "$CULTUREMERT_ROOT/Directory.Build.props" -newer "$stamp" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
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
ensure_libstdcxx
ensure_libsndfile
ensure_fonts
ensure_fluidsynth
ensure_mpi
build_if_stale
echo "$CULTUREMERT_CLI_DLL"
