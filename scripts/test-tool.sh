#!/usr/bin/env bash
# Checks the .NET tool package: packs src/CultureMert.Cli into artifacts/nupkg (skipped when the package there is newer
# than every source file), installs it into a temporary tool path, and from a temporary folder runs `culturemert --help`
# `culturemert init --preset tiny` and a one-piece `corpus build` from the packed corpora. Prints "tool install: ok (N MB package)"; on failure, what failed and the log,
# and exits 1. Leaves nothing behind but artifacts/nupkg.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
nupkg="$root/artifacts/nupkg"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/culturemert-tool.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/log"

fail() {
  echo "tool install: FAILED: $1" >&2
  [ -s "$log" ] && tail -n 40 "$log" >&2
  exit 1
}

# The RID-specific package holds the tool; the pointer package CultureMert.Cli.<version>.nupkg only names it.
package() { ls -t "$nupkg"/CultureMert.Cli.linux-x64.*.nupkg 2>/dev/null | head -n 1 || true; }

# Anything that goes into the package, newer than it: pack again.
stale() {
  local pkg; pkg="$(package)"
  [ -n "$pkg" ] && compgen -G "$nupkg/CultureMert.Cli.[0-9]*.nupkg" > /dev/null || return 0
  [ -n "$(find "$root/src" "$root/build" "$root/Directory.Build.props" "$root/Directory.Build.targets" "$root/README.md" \
             \( -name bin -o -name obj \) -prune -o -newer "$pkg" -type f -print -quit)" ]
}

if stale; then
  rm -f "$nupkg"/CultureMert.Cli.*.nupkg                     # one version only, so the install cannot pick an old one
  dotnet pack "$root/src/CultureMert.Cli" -c Release -o "$nupkg" -v q > "$log" 2>&1 || fail "dotnet pack"
fi
pkg="$(package)"
[ -n "$pkg" ] || fail "dotnet pack wrote no CultureMert.Cli.linux-x64 package to $nupkg"

# Only the local folder as a source: the install neither needs nor waits for nuget.org.
cat > "$tmp/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$nupkg" /></packageSources></configuration>
EOF
dotnet tool install --tool-path "$tmp/tools" --configfile "$tmp/nuget.config" CultureMert.Cli > "$log" 2>&1 \
  || fail "dotnet tool install from $nupkg"
tool="$tmp/tools/culturemert"

# From a folder outside the repository, so nothing can come from the working tree.
mkdir "$tmp/work"
cd "$tmp/work"
"$tool" --help > "$log" 2>&1 || fail "culturemert --help"
grep -q '^Examples:' "$log" || fail "culturemert --help shows no Examples section"
grep -q '^  culturemert ' "$log" || fail "culturemert --help does not name the command culturemert in its usage"
"$tool" init --preset tiny --out "$tmp/work/model" > "$log" 2>&1 || fail "culturemert init --preset tiny"
for f in config.json preprocessor_config.json model.safetensors; do
  [ -s "$tmp/work/model/$f" ] || fail "culturemert init wrote no $f"
done
# The score corpora come with the tool: one real SymbTr piece rendered, far from any clone of the repository.
"$tool" corpus build --out "$tmp/work/corpus" --cultures turkish-makam --pieces-per-culture 1 --clips-per-piece 1 \
  --seconds-per-clip 2 > "$log" 2>&1 || fail "culturemert corpus build (the packed corpora)"
[ -s "$tmp/work/corpus/corpus.json" ] || fail "culturemert corpus build wrote no corpus.json"

echo "tool install: ok ($(( ($(stat -c %s "$pkg") + 500000) / 1000000 )) MB package)"
