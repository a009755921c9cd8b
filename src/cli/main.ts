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
import { accountForLost, resetInFlight } from './in-flight.js';
import { ENV_DEFAULTS, installValidation } from './options.js';

export function buildProgram(): Command {
  const program = new Command('fleet')
    .description('Run, push, schedule and re-key hundreds of cloned Linux guests over pinned SSH.\n' +
      'Every host key is checked against a known_hosts file; nothing turns that off.')
    .version('0.1.0')
    .option('--debug', 'print the stack trace of an unexpected error')
    .addHelpText('after', `
Exit status: 0 all selected guests succeeded, 1 some failed, 2 usage or input error, 3 a host key was refused.
Defaults from the environment, for every command that takes the option:
${Object.entries(ENV_DEFAULTS).map(([flag, v]) => `  ${v.padEnd(22)}${flag}`).join('\n')}
Each setting comes from, highest first: the command line, a host's own inventory vars (ansible_user,
...), the FLEET_* variable, the ssh_config (~/.ssh/config or -F), then fleet's default.
Try it on the bundled emulator:
  fleet emulator up --guests 20 --detach --state .fleet/emulator
  fleet run -i .fleet/emulator/inventory --identity .fleet/emulator/id_ed25519 -- 'hostname; cat /etc/machine-id'
  fleet emulator down --state .fleet/emulator`);
  registerFleetCommands(program);
  registerCron(program);
  registerKeys(program);
  registerEmulator(program);
  return installValidation(program);
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
  resetInFlight();
  const stalled = whenLoopEmpties();
  try {
    const work = program.parseAsync(dashes >= 0 ? argv.slice(0, dashes) : argv, { from: 'user' });
    if (!(await Promise.race([work.then(() => true), stalled.promise]))) return await reportLost(program, argv);
    return exitStatus();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof FleetError) {
      process.stderr.write(`fleet: ${err.message}\n`);
      return err.exitCode;
    }
    // One line unless asked for the stack: a trace is for whoever fixes fleet, not for every user.
    const debug = argv.slice(0, dashes >= 0 ? dashes : undefined).includes('--debug');
    const e = err as Error;
    process.stderr.write(debug ? `fleet: internal error: ${e.stack ?? String(err)}\n`
      : `fleet: internal error: ${(e.message ?? String(err)).split('\n')[0]} (--debug shows where)\n`);
    return 70;
  } finally {
    stalled.dispose();
  }
}

/**
 * Resolves false when the process runs out of work (Node's 'beforeExit') while the command has not
 * finished: a promise nothing will ever settle. Node would exit 13 there without a word.
 */
function whenLoopEmpties(): { promise: Promise<false>; dispose: () => void } {
  let onEmpty = () => {};
  const promise = new Promise<false>((resolve) => (onEmpty = () => resolve(false)));
  process.once('beforeExit', onEmpty);
  return { promise, dispose: () => process.off('beforeExit', onEmpty) };
}

/** The command stopped short: report every guest (the lost ones as failures naming them), exit 1 (3 for a refused key). */
async function reportLost(program: Command, argv: string[]): Promise<number> {
  const known = accountForLost();
  if (!known) {
    process.stderr.write('fleet: internal error: the command stopped before it finished (nothing was left to wait for)\n');
    return EXIT.someFailed;
  }
  const names = new Set(program.commands.map((c) => c.name()));
  const verb = argv.find((a) => names.has(a)) ?? 'fleet';
  const [{ exitCodeOf, summarize }, { foldHosts }, { printGathered, printJsonLines }] =
    await Promise.all([import('../executor/index.js'), import('../inventory/index.js'), import('./render.js')]);
  const { results, selected, durationMs, lost, json } = known;
  const summary = summarize(results, selected, durationMs);
  if (json) printJsonLines(results, summary);
  else printGathered(results, summary, verb, verb === 'push' ? { describeOk: (g) => (g.changed ? 'changed' : 'unchanged') } : {});
  process.stderr.write(lost.length === 0
    ? 'fleet: internal error: the command stopped after every guest finished, before it completed\n'
    : `fleet: lost track of ${lost.length} guest${lost.length === 1 ? '' : 's'} (${foldHosts(lost)}): ` +
      'their work stopped without an outcome; reported as failed\n');
  return Math.max(EXIT.someFailed, exitCodeOf(summary));
}
