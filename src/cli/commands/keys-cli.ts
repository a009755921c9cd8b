// `fleet keys scan|trust|rotate|status`: option parsing only; the work is in ./keys-*.js (lazy).
import { Command, Option } from 'commander';
import { addRerunOption } from '../run-options.js';
import { addSelectionOptions } from '../selection.js';

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('host keys: find guests sharing a cloned key, pin keys deliberately, give every guest its own');
  const fanout = () => new Option('-f, --fanout <n>', 'guests at once').default(64);

  addSelectionOptions(keys.command('scan').description('show each guest\'s host keys, whether they are pinned, and clone groups'))
    .addOption(fanout())
    .option('--types <list>', 'key types to probe (default ed25519,ecdsa,rsa)')
    .option('--json', 'JSON Lines: one object per guest, then a summary')
    .addHelpText('after', `
Connects only as far as the key exchange (no login), once per key type, as ssh-keyscan does.
Status: pinned (every presented key is in known_hosts), unknown (nothing pinned), CHANGED (a key
differs from the pins), revoked. A clone group is a set of guests presenting the same key.
Guests that read the same (keys, status, group) are one row, their names folded (guest[001-300]).
Exit status, so it serves as a check: 0 every guest has its own keys, all pinned; 1 a clone group,
an unknown key or an unreachable guest; 3 a CHANGED or revoked key.`)
    .action(async (selection, flags) => (await import('./keys-scan.js')).scan(selection, flags));

  addSelectionOptions(keys.command('trust').description('pin the host keys of unknown guests, after showing their fingerprints'))
    .addOption(fanout())
    .option('--yes', 'do not ask (you checked the fingerprints another way)')
    .option('--hash', 'write hashed host names (|1|salt|hash), as ssh-keygen -H does')
    .option('--replace', 'also replace the pins of guests whose key CHANGED (asks again, showing old and new)')
    .option('--confirm-with <cmd>', 'pin only keys this local command shows through another channel (as for rotate); no question asked')
    .addHelpText('after', `
Guests sharing a key (clone groups) are flagged: pinning a cloned key trusts every clone holding it.
Without a terminal, trust needs --yes; it never asks where nobody can answer.
--confirm-with CMD re-enrols guests with keys confirmed out of band: per guest, CMD (sh -c, with
FLEET_HOST, FLEET_ADDRESS, FLEET_PORT, FLEET_USER and FLEET_VAR_<inventory var> set) must print
every key the guest presents; a guest it does not confirm is not pinned (exit 3).`)
    .action(async (selection, flags) => (await import('./keys-trust.js')).trust(selection, flags));

  addRerunOption(addSelectionOptions(keys.command('rotate').description('give each guest new host keys, re-pinned, with a journal that survives a crash')))
    .addOption(fanout())
    .option('--cloned-only', 'only guests that share a key with another guest')
    .option('--types <list>', 'key types each guest has afterwards (default: the types it has now)')
    .option('--resume', 'finish an interrupted rotation: reconcile each guest by what it presents, then carry on')
    .option('--restart-command <cmd>', 'how to restart sshd on a guest (default: systemctl, service, then /etc/init.d)')
    .option('--confirm-with <cmd>', 'local command printing the guest\'s public host keys (every type) through another channel; tried on one guest first, and new keys are kept only if it shows them')
    .option('--console <cmd>', 'local command running the script on its stdin as root on the guest out of band; guests presenting a revoked key get new keys through it')
    .option('--batch <n|%>', 'rotate in rolling batches of this size, in order')
    .option('--max-fail <n|%>', 'start no further batch once more guests than this failed (default: stop when the first 5 to finish all failed the same way)')
    .option('--no-revoke', 'do not mark the cloned keys @revoked once no guest is pinned to them any more')
    .option('--journal <file>', 'rotation journal (default: <known_hosts>.rotate.jsonl)')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'JSON Lines: one object per guest, then a summary')
    .addHelpText('after', `
Per guest: (1) connect pinned to its current key, (2) generate new keys in a staging directory
(sudo -n), (3) read them back over that session, (4) pin old and new, (5) swap and restart sshd,
(6) reconnect pinned to the new keys only, (7) unpin the old keys, remove the backup. A failure at
5 or 6 puts the old keys back. Each step is journaled (fsync) before it happens.
Guests behind jump hosts or a ProxyCommand are reached that way at every step (one pinned
connection per jump host, every hop checked against known_hosts); a selected guest that is the jump
host of others is rotated after them. --resume goes the way the run went and refuses a guest whose
address or route the selection now gives otherwise (put it back until the run is finished).
--confirm-with runs CMD (sh -c) with FLEET_HOST, FLEET_ADDRESS, FLEET_PORT, FLEET_USER,
FLEET_STAGING and FLEET_VAR_<inventory var> set; it must print the guest's public keys, every type
(.pub or known_hosts lines), as seen through another channel, e.g. a hypervisor console:
  --confirm-with 'fleet emulator console --state DIR "$FLEET_HOST" -- "cat /etc/ssh/ssh_host_*_key.pub"'
It is tried first on one guest, before any guest is touched: unless it prints that guest's current
keys of every type the rotation produces, the run stops there (exit 2). Then, per guest, a guest
whose new keys the other channel does not show is rolled back: possible man in the middle.
A guest presenting a revoked key (a new clone of the golden image, a snapshot restore) cannot be
rotated over SSH; with --console CMD its keys are generated, read and swapped through CMD instead:
  --console 'fleet emulator console --state DIR "$FLEET_HOST" --stdin -- sh'`)
    .action(async (selection, flags) => (await import('./keys-rotate.js')).rotate(selection, flags));

  addSelectionOptions(
    keys
      .command('revoke')
      .description('mark a key @revoked for every host (a retired golden key), showing who still presents or pins it')
      .argument('<fingerprint>', 'SHA256:... as scan prints it'),
  )
    .addOption(fanout())
    .option('--yes', 'do not ask for confirmation')
    .action(async (fingerprint, selection, flags) => (await import('./keys-revoke.js')).revoke(fingerprint, selection, flags));

  addSelectionOptions(keys.command('status').description('where the last rotation stands, and what --resume would do'))
    .addOption(fanout())
    .option('--journal <file>', 'rotation journal (default: <known_hosts>.rotate.jsonl)')
    .option('--json', 'JSON Lines: one object per guest of the run, then a summary')
    .action(async (selection, flags) => (await import('./keys-rotate.js')).status(selection, flags));
}
