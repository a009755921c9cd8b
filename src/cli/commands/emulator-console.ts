// `fleet emulator console GUEST -- CMD` (a root command on a guest without SSH) and the running
// emulator's pid file and control socket. A confirmation (`keys rotate --confirm-with`) starts this
// command once per guest, so bin/fleet runs a plain call of it from here alone: commander, zod, ssh2
// and the emulator itself are not loaded (0.07 s of CPU per call instead of 0.4 s).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FleetError, UsageError } from '../../core/index.js';
import { controlRequest } from '../../emulator/client.js';
import { exitStatus, resetExitStatus, setExitStatus } from '../exit.js';

export const controlSocket = (state: string) => join(resolve(state), 'emulator.sock');

/** The pid of the emulator serving `state`, if it is alive. */
export function runningPid(state: string): number | undefined {
  const file = join(resolve(state), 'emulator.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** `fleet emulator console GUEST -- CMD`: output and exit status as if the command ran locally. */
export async function console(guest: string, words: string[], opts: { state: string; stdin?: boolean }): Promise<void> {
  if (words.length === 0) throw new UsageError('no command: fleet emulator console <guest> -- <command...>');
  if (!runningPid(opts.state)) throw new FleetError(`no emulator running for ${resolve(opts.state)}`);
  const stdin = opts.stdin ? await readStdin() : undefined;
  const reply = await controlRequest(controlSocket(opts.state), { op: 'console', guest, command: words.join(' '), stdin: stdin?.toString('base64') }, 120_000);
  const r = reply.console as { exitCode: number | null; signal: string | null; stdout: string; stderr: string };
  process.stdout.write(Buffer.from(r.stdout, 'base64'));
  process.stderr.write(Buffer.from(r.stderr, 'base64'));
  setExitStatus(r.exitCode ?? 128);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const plain = (v: string | undefined): v is string => v !== undefined && v.trim() !== '' && !/[\n\r\0]/.test(v) && !v.startsWith('-');

/**
 * `emulator console [--state DIR] [--stdin] GUEST -- CMD...` with plain values, as a confirmation
 * writes it, or undefined: anything else (help, an odd or missing value, another option) is left to
 * the whole CLI, which checks and explains it.
 */
export function plainConsoleCall(argv: string[]): { guest: string; words: string[]; state: string; stdin: boolean } | undefined {
  const dashes = argv.indexOf('--');
  if (argv[0] !== 'emulator' || argv[1] !== 'console' || dashes < 0 || dashes === argv.length - 1) return undefined;
  let state = process.env.FLEET_EMULATOR_STATE ?? '.fleet/emulator';
  let stdin = false;
  let guest: string | undefined;
  for (let i = 2; i < dashes; i++) {
    const a = argv[i]!;
    if (a === '--state' && plain(argv[i + 1]) && i + 1 < dashes) state = argv[++i]!;
    else if (a === '--stdin' && !stdin) stdin = true;
    else if (plain(a) && guest === undefined) guest = a;
    else return undefined;
  }
  return plain(guest) && plain(state) ? { guest, words: argv.slice(dashes + 1), state, stdin } : undefined;
}

/** Runs a plain console call (see plainConsoleCall) and returns its exit status, as main() would. */
export async function consoleMain(call: NonNullable<ReturnType<typeof plainConsoleCall>>): Promise<number> {
  resetExitStatus();
  try {
    await console(call.guest, call.words, call);
    return exitStatus();
  } catch (err) {
    if (err instanceof FleetError) {
      process.stderr.write(`fleet: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`fleet: internal error: ${((err as Error).message ?? String(err)).split('\n')[0]} (--debug shows where)\n`);
    return 70;
  }
}
