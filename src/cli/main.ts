// Entry of the `fleet` CLI: parses arguments with commander, loads each command's module lazily
// (so `fleet --help` stays fast), turns thrown FleetErrors into messages and exit codes.
import { Command, CommanderError } from 'commander';
import { EXIT, FleetError } from '../core/index.js';
import { registerCron } from './commands/cron-cli.js';
import { registerEmulator } from './commands/emulator-cli.js';
import { registerFleetCommands } from './commands/fleet-cli.js';
import { registerKeys } from './commands/keys-cli.js';
import { setCommandWords } from './words.js';
import { exitStatus, resetExitStatus } from './exit.js';

export function buildProgram(): Command {
  const program = new Command('fleet')
    .description('Run, push, schedule and re-key hundreds of cloned Linux guests over pinned SSH.\n' +
      'Every host key is checked against a known_hosts file; nothing turns that off.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Exit status: 0 all selected guests succeeded, 1 some failed, 2 usage or input error, 3 a host key was refused.
Try it on the bundled emulator:
  fleet emulator up --guests 20 --detach --state .fleet/emulator
  fleet run -i .fleet/emulator/inventory --identity .fleet/emulator/id_ed25519 -- 'hostname; cat /etc/machine-id'
  fleet emulator down --state .fleet/emulator`);
  registerFleetCommands(program);
  registerCron(program);
  registerKeys(program);
  registerEmulator(program);
  return program;
}

/** Runs the CLI; returns the exit status instead of exiting, so tests can call it in-process. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  resetExitStatus();
  // Everything after the first `--` is the remote command, verbatim (commander would re-parse it).
  const dashes = argv.indexOf('--');
  setCommandWords(dashes >= 0 ? argv.slice(dashes + 1) : []);
  try {
    await program.parseAsync(dashes >= 0 ? argv.slice(0, dashes) : argv, { from: 'user' });
    return exitStatus();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof FleetError) {
      process.stderr.write(`fleet: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`fleet: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 70;
  }
}
