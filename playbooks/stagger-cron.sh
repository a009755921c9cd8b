#!/usr/bin/env bash
# Stop the cron storm: replace the golden image's every-15-minutes run-crons with the daily, weekly
# and monthly scripts called directly, each guest in its own slot of a night window, at most CAP
# guests starting per slot. Shows the load before, the change, and the load after.
#
#   playbooks/stagger-cron.sh [selection options...]
#   WINDOW=22:00-05:00 CAP=10 playbooks/stagger-cron.sh -i inventory --identity ~/.ssh/fleet_ed25519
#   DRY_RUN=1 playbooks/stagger-cron.sh -i .fleet/emulator/inventory --identity .fleet/emulator/id_ed25519
#
# The options (-i, -l, -u, --identity, --known-hosts, --connect-timeout) go to every fleet command.
# WINDOW (default 23:00-06:00), SLOT (default 12m), CAP (default 15), TZ_NAME (the guests' zone for
# the analysis, default UTC). DRY_RUN=1 prints each guest's diff and writes nothing. Asks before
# writing on a terminal; YES=1 answers yes. FLEET: the fleet command (default: `fleet` on PATH, else
# this checkout's bin/fleet). Stops at the first failing step.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLEET=${FLEET:-$(command -v fleet || echo "$here/../bin/fleet")}
window=${WINDOW:-23:00-06:00}
slot=${SLOT:-12m}
cap=${CAP:-15}
tz=${TZ_NAME:-UTC}
extra=()
[[ ${DRY_RUN:-} == 1 ]] && extra+=(--dry-run)
[[ ${YES:-} == 1 ]] && extra+=(--yes)

echo "== 1. the load now"
"$FLEET" cron analyze "$@" --tz "$tz" --cap "$cap" --top 3

echo "== 2. the plan and its effect, simulated"
"$FLEET" cron simulate "$@" --tz "$tz" --replace-run-crons --window "$window" --slot "$slot" --cap "$cap"

echo "== 3. apply"
"$FLEET" cron apply "$@" --replace-run-crons --window "$window" --slot "$slot" --cap "$cap" "${extra[@]}"

[[ ${DRY_RUN:-} == 1 ]] && exit 0
echo "== 4. the load after"
"$FLEET" cron analyze "$@" --tz "$tz" --cap "$cap" --top 3
