// Registers the fleet-wide commands (run, push, inventory); their work is loaded lazily.
import { Command, Option } from 'commander';
import { addRerunOptions } from '../run-options.js';
import { addSelectionOptions } from '../selection.js';
import { commandWords } from '../words.js';
import { registerAudit } from './audit-cli.js';

// Values are checked and converted by their schema (../option-specs.ts); a number default is given as one.
const fanout = () => new Option('-f, --fanout <n>', 'guests at once').default(64);

export function registerFleetCommands(program: Command): void {
  addRerunOptions(addSelectionOptions(
    program
      .command('run')
      .usage('[selection] [options] -- <command...>')
      .description('run a shell command on every selected guest, in parallel, host keys pinned'),
  ))
    .addOption(fanout())
    .option('--sudo', 'run under `sudo -n` (never asks for a password)')
    .option('--stdin', 'read standard input once and feed it to every guest\'s command (up to 64 MiB)')
    .option('--batch <n|%>', 'roll out in batches of this size, in order')
    .option('--max-fail <n|%>', 'stop before the next batch once more guests than this failed')
    .option('--json', 'JSON Lines: one object per guest, then a summary')
    .option('--out <dir>', 'write each guest\'s whole stdout and stderr, byte for byte, to DIR/<host>.stdout|.stderr')
    .addHelpText('after', `
Output folds guests with identical output into one block headed by their host range; output that is
not text shows as "[N bytes of binary output]". Each guest's output is kept in memory up to 512 KiB
per stream (its head and tail around a "[N bytes omitted]" line); --out files hold all of it.
--json: "stdout"/"stderr" are text, or null when the output is not UTF-8: then "stdoutBase64"/
"stderrBase64" hold its bytes; "stdoutOmitted" (bytes left out) and "stdoutSha256" (of the whole
output) appear when it was cut.
Examples:
  fleet run -i inventory web -- 'uptime'
  fleet run -l 'all:!db' --sudo --batch 10% --max-fail 2 -- 'systemctl restart nginx'
  fleet run --stdin --sudo -- sh -s < fix-ntp.sh      # a local script, run on every guest`)
    .action(async (selection, flags) => (await import('./run.js')).run(selection, commandWords(), flags));

  // Commander cannot put a required argument after an optional one: push takes up to three words and
  // reads `[selection] <local> <remote>` from them.
  addRerunOptions(addSelectionOptions(
    program
      .command('push')
      .usage('[selection] [options] <local> <remote>')
      .description('copy a file to every selected guest: atomic, --mode/--owner, skipped where unchanged'),
  ))
    .argument('[local]', 'local file (read once)')
    .argument('[remote]', 'path on the guests (`dir/` appends the local name; relative paths start in the login home)')
    .addOption(fanout())
    .option('--mode <octal>', 'permission bits of the file (default: keep the old file\'s, or 0666 less umask)')
    .option('--owner <user[:group]>', 'owner of the file (with --sudo, or when logging in as root)')
    .option('--backup', 'keep the previous version as <remote>.fleet-bak-<UTC time>')
    .option('--sudo', 'install as root through `sudo -n` (upload to the login user\'s /tmp first)')
    .option('--batch <n|%>', 'roll out in batches of this size, in order')
    .option('--max-fail <n|%>', 'stop before the next batch once more guests than this failed')
    .option('--json', 'JSON Lines: one object per guest (with "changed"), then a summary')
    .option('--out <dir>', 'write each guest\'s stdout and stderr to DIR/<host>.stdout|.stderr')
    .addHelpText('after', `
--timeout bounds the whole transfer on each guest. Guests whose file already has the same SHA-256
(and mode/owner, when given) are reported unchanged and not written. A guest sees the old file or
the new one, never a partial one: the upload goes to a temporary name and is renamed over the target.
Examples:
  fleet push -i inventory web ./nginx.conf /etc/nginx/nginx.conf --sudo --mode 0644 --owner root:root --backup
  fleet push -l 'all:!db' --batch 10% --max-fail 2 motd.txt /tmp/`)
    .action(async (a, b, c, flags) => (await import('./push.js')).push([a, b, c], flags));

  addRerunOptions(addSelectionOptions(
    program
      .command('play')
      .usage('[selection] [options] <playbook.yaml>')
      .description('run a playbook: its steps in order over one connection per guest'),
  ))
    .argument('[playbook]', 'the playbook (YAML)')
    .addOption(fanout())
    .option('-e, --extra-var <name=value>', 'a variable for {{ name }}, over the playbook\'s and the inventory\'s (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--check', 'change nothing: show what each step would do (file diffs, "would run")')
    .option('--sudo', 'run every step under `sudo -n`')
    .option('--canary <n>', 'run the whole playbook on the first N selected guests first; if one fails, start no other')
    .option('--batch <n|%>', 'roll out in batches of this size, in order')
    .option('--max-fail <n|%>', 'stop before the next batch once more guests than this failed')
    .option('--json', 'JSON Lines: one object per guest with its "steps", then a summary')
    .addHelpText('after', `
The whole playbook is checked first (keys, types, one action per step, every {{ variable }} for every
selected guest): any problem is reported as file:line:column and nothing connects (exit 2).
Examples:
  fleet play -i inventory web playbooks/update-config.yaml --check
  fleet play -l 'all:!db' --batch 10% --max-fail 2 -e version=1.4 site.yaml
  fleet play --canary 2 --batch 25% site.yaml    # two guests to the end first, then the rest`)
    .action(async (a, b, flags) => (await import('./play.js')).play([a, b], flags));

  addSelectionOptions(
    program.command('inventory').description('show what a selection expands to (folded into ranges), each connection setting and where it came from'),
  )
    .option('--json', 'JSON Lines: one object per host with its resolved connection and "from": where each value came from')
    .action(async (selection, flags) => (await import('./inventory.js')).inventory(selection, flags));

  registerAudit(program);
}
