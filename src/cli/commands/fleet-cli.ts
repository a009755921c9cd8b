// Registers the fleet-wide commands (run, inventory); their work is loaded lazily.
import { Command } from 'commander';
import { addSelectionOptions } from '../selection.js';
import { commandWords } from '../words.js';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
};


export function registerFleetCommands(program: Command): void {
  addSelectionOptions(
    program
      .command('run')
      .usage('[selection] [options] -- <command...>')
      .description('run a shell command on every selected guest, in parallel, host keys pinned'),
  )
    .option('-f, --fanout <n>', 'guests at once', positive('--fanout'), 64)
    .option('--sudo', 'run under `sudo -n` (never asks for a password)')
    .option('--batch <n|%>', 'roll out in batches of this size, in order')
    .option('--max-fail <n|%>', 'stop before the next batch once more guests than this failed')
    .option('--json', 'JSON Lines: one object per guest, then a summary')
    .option('--out <dir>', 'write each guest\'s stdout and stderr to DIR/<host>.stdout|.stderr')
    .addHelpText('after', `
Output folds guests with identical output into one block headed by their host range.
Examples:
  fleet run -i inventory web -- 'uptime'
  fleet run -l 'all:!db' --sudo --batch 10% --max-fail 2 -- 'systemctl restart nginx'`)
    .action(async (selection, flags) => (await import('./run.js')).run(selection, commandWords(), flags));

  addSelectionOptions(
    program.command('inventory').description('show what a selection expands to (folded into ranges)'),
  )
    .option('--json', 'print JSON')
    .action(async (selection, flags) => (await import('./inventory.js')).inventory(selection, flags));
}
