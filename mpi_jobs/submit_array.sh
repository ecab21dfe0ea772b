#!/usr/bin/env bash
# Submits mpi_jobs/slurm_array.sbatch for every task of a task file (one `weave run` per line; see
# that script), as one array, or as several when the file has more tasks than the site's
# MaxArraySize allows in one array (Slurm's default: indices 0..1000).
#
#   mpi_jobs/submit_array.sh tasks.txt [sbatch options ...]      e.g. --ntasks=32 --time=02:00:00
#
# Prints the job id of each array it submitted. WEAVE_MAX_ARRAY_SIZE overrides what scontrol says;
# WEAVE_ARRAY_THROTTLE=N runs at most N tasks of each array at once (sbatch --array=...%N).
set -euo pipefail
tasks="${1:?usage: submit_array.sh TASKS_FILE [sbatch options]}"
shift
here="$(cd "$(dirname "$0")" && pwd)"
[ -r "$tasks" ] || { echo "submit_array: cannot read $tasks" >&2; exit 2; }
count=$(grep -c -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$tasks" || true)
[ "$count" -gt 0 ] || { echo "submit_array: $tasks has no tasks (only blank or # lines)" >&2; exit 2; }

max="${WEAVE_MAX_ARRAY_SIZE:-}"
if [ -z "$max" ]; then
  max=$(scontrol show config | awk -F= '/^MaxArraySize/ {gsub(/ /, "", $2); print $2}')
  max="${max:-1001}"
fi
# Array indices go from 0 to MaxArraySize-1.
throttle="${WEAVE_ARRAY_THROTTLE:+%$WEAVE_ARRAY_THROTTLE}"
tasks_path="$(cd "$(dirname "$tasks")" && pwd)/$(basename "$tasks")"
offset=0
while [ "$offset" -lt "$count" ]; do
  n=$((count - offset < max ? count - offset : max))
  job=$(WEAVE_ARRAY_OFFSET=$offset sbatch --parsable --array="0-$((n - 1))$throttle" "$@" \
          "$here/slurm_array.sbatch" "$tasks_path")
  echo "submit_array: job ${job%%;*}: tasks $offset..$((offset + n - 1)) of $tasks_path"
  offset=$((offset + n))
done
