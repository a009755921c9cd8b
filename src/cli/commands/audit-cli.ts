// Registers `fleet audit`: option parsing only; the work is in ./audit.js (lazy).
import { Command, Option } from 'commander';
import { CHECK_IDS } from '../../audit/model.js';
import { JOB_DEFAULTS } from '../../schedule/job-defaults.js';
import { addSelectionOptions } from '../selection.js';

export function registerAudit(program: Command): void {
  addSelectionOptions(program.command('audit').description('find what cloning left behind: shared keys and identities, weak accounts, cron storms, stale pins'))
    .addOption(new Option('-f, --fanout <n>', 'guests at once').default(64))
    .addOption(new Option('--cap <n>', 'most guests that may start cron jobs in one minute').default(JOB_DEFAULTS.cap))
    .option('--ignore <checks>', `comma list of checks to leave out: ${CHECK_IDS.join(', ')}`)
    .option('--json', 'JSON Lines: one object per finding, worst first, then a summary')
    .addHelpText('after', `
One read-only pass, one login per guest: the host keys each guest presents (as keys scan, no
login), its sshd's key exchange offer, and one command (under sudo -n when allowed) that prints
the files the checks read. Findings, worst first, each with its guests folded and the fix:
  critical  shared-host-key, changed-host-key, revoked-host-key, uid0-account,
            shared-password-hash (locked hashes such as !, !!, *, !$6$... are not), admin-password (empty)
  high      admin-password, strict-host-key-checking no, shared-machine-id, cron-storm, unreachable
  medium    shared-hostname, strict-host-key-checking accept-new, stale-pin, not-checked (e.g. no sudo)
  low       no-pq-kex (sshd offers no mlkem768x25519-sha256 or sntrup761x25519-sha512)
Exit status: 0 nothing found, 1 findings (or guests not audited), 2 bad input, 3 a guest's host key does not match its pin (changed or revoked).
Examples:
  fleet audit -i inventory
  fleet audit -i inventory web --json | jq -c 'select(.check) | [.severity, .check, .hosts]'`)
    .action(async (selection, flags) => (await import('./audit.js')).audit(selection, flags));
}
