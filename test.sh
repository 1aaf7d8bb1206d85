#!/usr/bin/env bash
# Runs every test (xunit) after the same set-up as ./culturemert. Prints "N passed, N failed" and exits non-zero on
# any failure, including a set-up or build failure.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Open MPI too: the data-parallel pre-training test always runs, and fails without mpirun.
export CULTUREMERT_MPI=1
if ! "$here/scripts/bootstrap.sh" > /dev/null; then
  echo "0 passed, 1 failed"
  echo "set-up failed (see above)" >&2
  exit 1
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
exit $rc
