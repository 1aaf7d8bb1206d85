#!/usr/bin/env bash
# Debian's own Slurm and munge packages for the tests that run deploy/slurm on a real one-machine cluster
# (tests/CultureMert.Tests/Batch/LocalSlurm.cs starts its own daemons under a temporary folder and stops them after).
# Installed as root only where missing; their services are not started (a policy-rc.d, present only during the
# install, refuses them), and nothing under /etc is configured. Without root it says what to install, and those tests
# skip saying why.
set -uo pipefail
packages=(slurmctld slurmd slurm-client munge)
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: the Slurm tests will skip: run 'sudo apt-get install --no-install-recommends ${packages[*]}' to include them" >&2
  exit 0
fi
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
  trap 'rm -f "$policy"' EXIT
fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" > /dev/null 2>&1; }
install || { apt-get update -q > /dev/null 2>&1 && install; } \
  || echo "note: could not install ${packages[*]}; the Slurm tests will skip" >&2
[ "$own_policy" = 1 ] && rm -f "$policy"
exit 0
