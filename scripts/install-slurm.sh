#!/usr/bin/env bash
# Installs what the Slurm job tests need (label slurm: tests/slurm/slurm_jobs.py), from Debian 12
# packages: the Slurm controller and node daemons, the client commands, and munge. The tests start
# their own private, single-node Slurm under a temporary folder (own munge key and socket, own ports)
# and stop it again; they never use or touch the Slurm services these packages set up. Debian ships
# no /etc/slurm/slurm.conf, so the packages' own slurmctld/slurmd services do not start; munge's
# starts with its own key, as on any Debian machine that installs it.
# Idempotent, like install-deps.sh; scripts/test.sh runs both.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-slurm: all ${#packages[@]} packages already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-slurm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-slurm: done"
