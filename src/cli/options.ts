// Every command's option values checked once, by schema, after parsing and before the command's
// work starts (nothing has connected yet): a bad value is one line naming the option and what it
// takes, exit 2. Also makes every subcommand report usage errors (unknown options, extra
// arguments) as exit 2, and reads the FLEET_* environment defaults.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../core/index.js';
import { checkPositionals } from './positionals.js';

/**
 * FLEET_* defaults for the options every command repeats, by long flag: a flag on the command line
 * wins; a host's own inventory vars beat the variable, which beats the ssh_config and fleet's default.
 */
export const ENV_DEFAULTS: Record<string, string> = {
  '--inventory': 'FLEET_INVENTORY',
  '--identity': 'FLEET_IDENTITY',
  '--known-hosts': 'FLEET_KNOWN_HOSTS',
  '--user': 'FLEET_USER',
  '--fanout': 'FLEET_FANOUT',
  '--state': 'FLEET_EMULATOR_STATE',
};

export const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/**
 * Walks the program once it is built: every command gets exit-2 usage errors on one line, the
 * FLEET_* defaults, and its options' raw text kept for the schema check (which replaces any parser
 * the option was declared with, so a value is converted and refused in one place).
 */
export function installValidation(program: Command): Command {
  const walk = (cmd: Command) => {
    cmd.exitOverride();
    cmd.showHelpAfterError(false);
    const path = commandPath(cmd);
    cmd.configureOutput({
      outputError: (str, write) => write(`fleet: ${str.replace(/^error: /, '').trim().replace(/\n+/g, ' ')}${path ? ` (fleet ${path} --help)` : ''}\n`),
    });
    for (const opt of cmd.options) {
      if (opt.long && ENV_DEFAULTS[opt.long] && !opt.envVar) opt.env(ENV_DEFAULTS[opt.long]!);
      // A collector (-e, repeated) keeps its parser; the values it gathers are checked one by one.
      // Every other value keeps its raw text for the schema (./option-specs.ts has one for each).
      const collects = Array.isArray(opt.defaultValue) && !!opt.parseArg;
      if ((opt.required || opt.optional) && !collects) {
        opt.argParser((v: string, prev: unknown) => (opt.variadic ? [...(Array.isArray(prev) && prev !== opt.defaultValue ? prev : []), v] : v));
      }
    }
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  program.hook('preAction', async (_root, action) => {
    applyEnvDefaults(action);
    const path = commandPath(action);
    (await import('./option-specs.js')).checkOptions(action, path);
    checkPositionals(path, action.processedArgs as unknown[]);
    rerunAsLimit(action);
  });
  return program;
}

/**
 * FLEET_* values for options the command line left out. (Commander wires an option's variable when
 * the option is added; these are named after the commands are built, so they are applied here.)
 */
function applyEnvDefaults(cmd: Command): void {
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    const value = opt.envVar ? process.env[opt.envVar] : undefined;
    if (value === undefined || cmd.getOptionValueSource(key) === 'cli') continue;
    cmd.setOptionValueWithSource(key, value, 'env');
  }
}

/** `--rerun failed` is `-l @failed`: it stands for the selection, so it cannot come with another. */
function rerunAsLimit(cmd: Command): void {
  if (cmd.getOptionValue('rerun') === undefined) return;
  // The selection word, where no other word may stand in its place (push and play read it from several).
  const args = cmd.registeredArguments;
  const at = args.findIndex((a) => a.name() === 'selection');
  const selection = at >= 0 && at === args.length - 1 ? (cmd.processedArgs as unknown[])[at] : undefined;
  const other = cmd.getOptionValue('limit') ?? (typeof selection === 'string' && selection !== '' ? selection : undefined);
  if (other !== undefined) throw new UsageError(`--rerun failed selects the guests itself; drop the selection '${String(other)}' (or write it as -l '@failed,${String(other)}')`);
  cmd.setOptionValueWithSource('limit', '@failed', 'cli');
}

/** True for the errors commander raises for usage (unknown option, missing or extra argument). */
export const isUsageError = (err: unknown): err is CommanderError => err instanceof CommanderError && err.exitCode !== 0;
