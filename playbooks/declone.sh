#!/usr/bin/env bash
# Give every guest that shares a cloned host key its own keys, re-pinned, and revoke the cloned key.
#
#   playbooks/declone.sh [selection options...]
#   playbooks/declone.sh -i inventory --identity ~/.ssh/fleet_ed25519
#   playbooks/declone.sh -i .fleet/emulator/inventory --identity .fleet/emulator/id_ed25519   # on the emulator
#
# The options (-i, -l, -u, --identity, --known-hosts, --connect-timeout) go to every fleet command.
# TYPES (default ed25519,ecdsa): key types each rotated guest has afterwards. FANOUT (default 32).
# CONFIRM_WITH: a local command that prints a guest's public host keys, every type, through another
# channel (console, hypervisor), run with $FLEET_HOST, $FLEET_ADDRESS, $FLEET_PORT, $FLEET_USER,
# $FLEET_STAGING and $FLEET_VAR_<inventory var> set; it is tried on one guest before any guest is
# touched, and new keys are kept only if it shows them. On the emulator:
#   CONFIRM_WITH='fleet emulator console --state DIR "$FLEET_HOST" -- "cat /etc/ssh/ssh_host_*_key.pub"'
# FLEET: the fleet command (default: `fleet` on PATH, else this checkout's bin/fleet).
# Asks before rotating on a terminal; YES=1 answers yes. Stops at the first failing step.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLEET=${FLEET:-$(command -v fleet || echo "$here/../bin/fleet")}
types=${TYPES:-ed25519,ecdsa}
fanout=${FANOUT:-32}
yes=()
[[ ${YES:-} == 1 ]] && yes=(--yes)
confirm=()
[[ -n ${CONFIRM_WITH:-} ]] && confirm=(--confirm-with "$CONFIRM_WITH")

echo "== 1. which guests share host keys"
# Exit 1 means work to do (a clone group, an unpinned key, a guest not reached), 3 a key not pinned
# as is (changed or revoked): rotate refuses those guests itself, so the verdict is shown and the run goes on.
"$FLEET" keys scan "$@" -f "$fanout" || { rc=$?; [[ $rc -eq 1 || $rc -eq 3 ]]; }

echo "== 2. rotate the cloned ones (journaled: after a crash, run it again with --resume)"
"$FLEET" keys rotate "$@" -f "$fanout" --cloned-only --types "$types" "${confirm[@]}" "${yes[@]}"

echo "== 3. check: no clone group left, every guest pinned"
"$FLEET" keys scan "$@" -f "$fanout"
