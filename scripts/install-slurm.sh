#!/usr/bin/env bash
# Installs what the Slurm job tests need (label slurm: tests/slurm/slurm_jobs.py), from Debian 12
# packages: the Slurm controller and node daemons, the client commands, and munge. The tests start
# their own private, single-node Slurm under a temporary folder (own munge key and socket, own ports)
# and stop it again; they never use or touch the Slurm services these packages set up. Debian ships
# no /etc/slurm/slurm.conf, so the packages' own slurmctld/slurmd services do not start; munge's
# starts with its own key, as on any Debian machine that installs it.
# Idempotent, like install-deps.sh (which does the work); scripts/test.sh runs both.
set -euo pipefail
exec "$(dirname "$0")/install-deps.sh" --slurm
