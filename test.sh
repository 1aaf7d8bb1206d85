#!/usr/bin/env bash
# Runs every test (xunit) after the same set-up as ./culturemert. Prints "N passed, N failed" and exits non-zero on
# any failure, including a set-up or build failure.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
fail() { echo "0 passed, 1 failed"; echo "$1" >&2; exit 1; }
dll=$("$here/scripts/bootstrap.sh") || fail "build failed (see above)"
# The tests use every feature, and render HTML reports in a browser: install the system packages they need now (stock packages of this release; as root,
# else it says what to install), rather than from inside parallel tests.
dotnet "$dll" setup all browser > /dev/null || fail "system packages missing (see above)"
"$here/scripts/test-slurm.sh"
# A libstdc++ without GLIBCXX_3.4.32 for NativeLibraryLoadTests: the system's, or where an earlier set-up replaced it,
# Debian 12's own, downloaded (not installed) into artifacts/.
if grep -qa 'GLIBCXX_3\.4\.32' /usr/lib/x86_64-linux-gnu/libstdc++.so.6 2>/dev/null && [ -r /etc/os-release ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  stock="$here/artifacts/stock-libstdcxx"
  if [ ! -e "$stock/libstdc++.so.6" ]; then
    rm -rf "$stock.tmp" && mkdir -p "$stock.tmp" && (cd "$stock.tmp" && apt-get download -q libstdc++6/bookworm >/dev/null) \
      && dpkg -x "$stock.tmp"/libstdc++6_*.deb "$stock.tmp/x" && mkdir -p "$stock" \
      && cp -L "$stock.tmp"/x/usr/lib/x86_64-linux-gnu/libstdc++.so.6 "$stock/" || fail "could not download Debian 12's libstdc++6"
    rm -rf "$stock.tmp"
  fi
  export CULTUREMERT_STOCK_LIBSTDCXX="$stock"
fi
results="$here/artifacts/test-results"
rm -rf "$results"
rc=0
dotnet test "$here/tests/CultureMert.Tests/CultureMert.Tests.csproj" -c Release --nologo -v q \
  --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@" || rc=$?
trx="$results/results.trx"
if [ -f "$trx" ]; then
  # The run's counters, from the test runner's own report.
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$(get passed); failed=$(get failed); total=$(get total)
  skipped=$(( ${total:-0} - ${passed:-0} - ${failed:-0} ))
  echo "${passed:-0} passed, ${failed:-0} failed, ${skipped} skipped"
  [ "${passed:-0}" -gt 0 ] || { echo "no test ran" >&2; exit 1; }
else
  echo "0 passed, 1 failed"
  echo "the test run did not produce results (build failure?)" >&2
  exit 1
fi
"$here/scripts/test-tool.sh" || rc=1
exit $rc
