// What each action does on one guest over the guest's one connection: run a command, feed a local
// script to `sh -s`, make a file hold rendered or local bytes (validated first), or, in --check mode,
// say what would happen (the file's unified diff, "would run"). They go through the guest's shell
// (guest-shell.ts) with the step's conditions tested in the same guest command; what a shell cannot
// carry (a script that is not text, a file over SHELL_FILE_MAX) gets guest commands of its own.
import { createHash } from 'node:crypto';
import { OutputCapture, readRemoteFile, shellQuote as q, StepError, wrapSudo, writeRemoteFile } from '../executor/index.js';
import { unifiedDiff } from '../schedule/index.js';
import type { SshConnection } from '../ssh/index.js';
import type { HostStatus } from '../executor/index.js';
import { APPLIED, applyCommand, applyResult, ONE_TRIP_MAX, previewCommand, previewResult, SHELL_FILE_MAX, writeThroughShell, type FileResult, type FileWrite, type ShellFile } from './file-step.js';
import { skipWords, type Guards } from './guards.js';
import type { GuestShells, ShellCommand, ShellResult } from './guest-shell.js';

/** Output kept per step and stream: enough for a registered value or a health check's answer. */
const STEP_OUTPUT_KEEP = 64 << 10;

/** What one attempt of an action did. */
export interface ActionOutcome {
  changed: boolean;
  exitCode?: number | null;
  stdout?: string;
  stderr?: string;
  note?: string;
  diff?: string;
  backup?: string;
  /** The step's conditions said no: why (the action did nothing). */
  skipped?: string;
}

/** An action that failed: the result model's status, and the guest's words. */
export class ActionError extends Error {
  constructor(message: string, readonly status: Exclude<HostStatus, 'ok'>, readonly outcome: Partial<ActionOutcome> = {}) {
    super(message);
    this.name = 'ActionError';
  }
  /** No retry helps: the connection is gone. */
  get fatal(): boolean {
    return this.status === 'unreachable';
  }
}

export interface ActionContext {
  conn: SshConnection;
  /** The guest's shells (login user's, root's), shared by every step. */
  shells: GuestShells;
  sudo: boolean;
  timeoutMs?: number;
  /** The step's conditions (when, creates, unless): rendered, as guard text, and as written for messages. */
  guard?: { conditions: Guards; script: string; written: Guards };
}

/** Skipped by the conditions, or the action's outcome. */
const skippedBy = (c: ActionContext, code: number, stderr: string): ActionOutcome => ({ changed: false, skipped: skipWords(code, c.guard!.written, stderr) });

/**
 * An action as one command of the guest's shell (its conditions included) and how to read what it
 * did, so that the runner can send it alone or with the steps that follow it (guest-shell.ts: send).
 * `changed`: the exit statuses that mean it changed the guest, when the guest can tell.
 */
export interface ShellAction {
  command: ShellCommand;
  changed?: number[];
  /** The outcome, or an ActionError; `notRun` and `unchangedDep` results are the caller's. */
  outcome(r: ShellResult): ActionOutcome;
}

/** Runs a shell action on its own. */
async function runAlone(c: ActionContext, a: ShellAction): Promise<ActionOutcome> {
  const sh = await c.shells.get(c.sudo);
  return a.outcome(await sh.run(a.command.command, a.command));
}

/** A shell command (or `sh -s` fed `stdin`) as a shell action; undefined when `stdin` is not text a here-document can carry. */
export function commandAction(c: ActionContext, command: string, stdin?: Buffer): ShellAction | undefined {
  const text = stdin === undefined ? undefined : stdin.toString('utf8');
  if (text !== undefined && (text.includes('\0') || !Buffer.from(text).equals(stdin!))) return undefined;
  return {
    command: { command, guard: c.guard?.conditions, input: text, timeoutMs: c.timeoutMs, keep: STEP_OUTPUT_KEEP },
    changed: [0],
    outcome: (r) => (r.guard !== undefined ? skippedBy(c, r.guard, r.stderr.toString()) : commandOutcome(c, r)),
  };
}

/** Runs a shell command (or `sh -s` fed `stdin`); a non-zero exit status is an ActionError. */
export async function runCommand(c: ActionContext, command: string, stdin?: Buffer): Promise<ActionOutcome> {
  const a = commandAction(c, command, stdin);
  return a ? runAlone(c, a) : runOwnCommand(c, command, stdin);
}

/** A step that would run but must not (--check): only its conditions, tested by the guest's shell. */
export function wouldRunAction(c: ActionContext): ShellAction {
  return {
    command: { command: 'true', guard: c.guard?.conditions, timeoutMs: c.timeoutMs, keep: 4096 },
    changed: [0],
    outcome: (r) => {
      if (r.guard !== undefined) return skippedBy(c, r.guard, r.stderr.toString());
      if (r.exitCode !== 0) commandOutcome(c, r);
      return { changed: true, note: 'would run' };
    },
  };
}

/** Only the step's conditions (a step that would run but must not: --check). */
export async function testConditions(c: ActionContext): Promise<string | undefined> {
  if (!c.guard) return undefined;
  return (await runAlone(c, wouldRunAction(c))).skipped;
}

function commandOutcome(c: ActionContext, r: ShellResult): ActionOutcome {
  const outcome = { changed: true, exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  if (r.timedOut) throw new ActionError(`still running after ${c.timeoutMs} ms; stopped`, 'timeout', outcome);
  if (r.exitCode === 0) return outcome;
  const said = outcome.stderr.trim().split('\n').at(-1);
  if (r.exitCode === null) {
    if (c.conn.lost) throw new ActionError('connection lost before the command finished', 'unreachable', outcome);
    throw new ActionError(`the guest's shell ended before the command finished${said ? `: ${said}` : ''}`, 'failed', outcome);
  }
  throw new ActionError(`exit status ${r.exitCode}${said ? `: ${said}` : ''}`, 'failed', outcome);
}

/** A command with a guest process of its own (input that a here-document cannot carry). */
async function runOwnCommand(c: ActionContext, command: string, stdin?: Buffer): Promise<ActionOutcome> {
  if (c.guard) {
    const code = await c.conn.exec(c.sudo ? wrapSudo(c.guard.script) : c.guard.script, { timeoutMs: c.timeoutMs });
    if (code.exitCode !== 0) return skippedBy(c, code.exitCode ?? -1, code.stderr.toString());
  }
  const out = new OutputCapture(STEP_OUTPUT_KEEP);
  const err = new OutputCapture(STEP_OUTPUT_KEEP);
  const r = await c.conn.exec(c.sudo ? wrapSudo(command) : command, {
    timeoutMs: c.timeoutMs,
    ...(stdin ? { stdin } : {}),
    onStdout: (d) => out.write(d),
    onStderr: (d) => err.write(d),
  });
  const outcome = { changed: true, exitCode: r.exitCode, stdout: out.result().bytes.toString('utf8'), stderr: err.result().bytes.toString('utf8') };
  if (r.timedOut) throw new ActionError(`still running after ${c.timeoutMs} ms; stopped`, 'timeout', outcome);
  if (r.exitCode === 0) return outcome;
  if (r.exitCode === null && !r.signal) throw new ActionError('connection lost before the command finished', 'unreachable', outcome);
  const said = outcome.stderr.trim().split('\n').at(-1);
  throw new ActionError(`${r.signal ? `killed by signal ${r.signal}` : `exit status ${r.exitCode}`}${said ? `: ${said}` : ''}`, 'failed', outcome);
}


/** A file of up to ONE_TRIP_MAX bytes as one shell action: checked, and written where it differs. */
export function writeFileAction(c: ActionContext, f: FileWrite): ShellAction | undefined {
  if (f.data.length > ONE_TRIP_MAX) return undefined;
  const sf = shellFile(c, f);
  return {
    command: applyCommand(sf, c.guard?.conditions, c.timeoutMs, KEEP_FILE),
    changed: [APPLIED],
    outcome: (r) => (r.guard !== undefined ? skippedBy(c, r.guard, r.stderr.toString()) : fileOutcome(c, f, applyResult(sf, r))),
  };
}

const KEEP_FILE = 64 << 10;

/** Makes `dest` hold the bytes (skipped when its SHA-256 already matches), validated first when asked. */
export async function writeFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  if (f.data.length > SHELL_FILE_MAX) return writeOwnFile(c, f);
  const one = writeFileAction(c, f);
  if (one) return runAlone(c, one);
  const sh = await c.shells.get(c.sudo);
  let r: FileResult;
  try {
    r = await writeThroughShell(sh, c.conn, shellFile(c, f), c.guard?.conditions, c.timeoutMs);
  } catch (err) {
    throw fileError(c, err);
  }
  if (r.kind === 'skipped') return skippedBy(c, r.guard, r.stderr);
  return fileOutcome(c, f, r);
}

function fileOutcome(c: ActionContext, f: FileWrite, r: FileResult): ActionOutcome {
  if (r.kind === 'skipped') return skippedBy(c, r.guard, r.stderr);
  if (r.kind === 'refused') {
    const said = r.stderr.trim().split('\n').at(-1);
    throw new ActionError(`validate: ${f.validate} refused the new ${f.dest} (exit status ${r.status}${said ? `: ${said}` : ''}); the guest's file is unchanged`, 'failed', { stderr: r.stderr });
  }
  if (r.kind === 'failed') throw shellFailure(c, f.dest, r.step, r.r);
  return { changed: r.changed, ...(r.backup ? { backup: r.backup } : {}) };
}

const shellFile = (c: ActionContext, f: FileWrite): ShellFile => ({ ...f, root: c.sudo });

function shellFailure(c: ActionContext, dest: string, step: string, r: ShellResult): ActionError {
  const stderr = r.stderr.toString();
  const said = stderr.trim().split('\n').filter(Boolean).at(-1)?.replace(/^(?:\S*\/)?(?:sh|dash|bash): (?:line )?\d+: /, '');
  if (r.timedOut) return new ActionError(`${dest}: ${step}: still running after ${c.timeoutMs} ms; stopped`, 'timeout', { stderr });
  if (r.exitCode === null && c.conn.lost) return new ActionError(`${dest}: ${step}: connection lost`, 'unreachable', { stderr });
  const why = r.exitCode === null ? "the guest's shell ended" : `exit status ${r.exitCode}`;
  return new ActionError(`${dest}: ${step}: ${why}${said ? `: ${said}` : ''}`, 'failed', { stderr });
}

function fileError(c: ActionContext, err: unknown): Error {
  if (err instanceof ActionError) return err;
  if (err instanceof StepError) return new ActionError(`${err.path ? `${err.path}: ` : ''}${err.step}: ${err.reason}`, err.status, { stderr: err.stderr });
  return new ActionError((err as Error).message, c.conn.lost ? 'unreachable' : 'failed');
}

/** A large file: the conditions, the check and the validation each a guest command, then a push. */
async function writeOwnFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  try {
    if (c.guard) {
      const g = await c.conn.exec(c.sudo ? wrapSudo(c.guard.script) : c.guard.script, { timeoutMs: c.timeoutMs });
      if (g.exitCode !== 0) return skippedBy(c, g.exitCode ?? -1, g.stderr.toString());
    }
    let validated: ActionOutcome | undefined;
    if (f.validate !== undefined && !(await sameContent(c, f))) validated = await validate(c, f);
    const o = await writeRemoteFile(c.conn, f.dest, f.data, {
      sudo: c.sudo, mode: f.mode, owner: f.owner, backup: f.backup, backupSuffix: f.backupSuffix, timeoutMs: c.timeoutMs,
    });
    return { changed: o.changed, ...(o.backup ? { backup: o.backup } : {}), ...(validated?.stdout || validated?.stderr ? { stdout: validated.stdout, stderr: validated.stderr } : {}) };
  } catch (err) {
    throw fileError(c, err);
  }
}
async function sameContent(c: ActionContext, f: FileWrite): Promise<boolean> {
  const script = `f=${q(f.dest)}; if [ -f "$f" ]; then sha256sum < "$f"; fi`;
  const r = await c.conn.exec(c.sudo ? wrapSudo(script) : script, { timeoutMs: c.timeoutMs });
  const want = createHash('sha256').update(f.data).digest('hex');
  return r.exitCode === 0 && r.stdout.toString().startsWith(`${want} `);
}

/** The new bytes go to a private temporary file that the command checks; the file is removed after. */
async function validate(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  const command = f.validate!.replaceAll('%s', '"$t"');
  const script = [
    't=$(mktemp /tmp/.fleet-validate-XXXXXXXX) || exit 1',
    `trap 'rm -f -- "$t"' EXIT`,
    'cat > "$t" || exit 1',
    command,
  ].join('\n');
  try {
    return await runOwnCommand({ ...c, guard: undefined }, script, f.data);
  } catch (err) {
    if (!(err instanceof ActionError) || err.status !== 'failed') throw err;
    throw new ActionError(`validate: ${f.validate} refused the new ${f.dest} (${err.message}); the guest's file is unchanged`, 'failed', err.outcome);
  }
}

/** --check for a file through the guest's shell: what the file holds now, compared here (the guest cannot tell "changed"). */
export function previewFileAction(c: ActionContext, f: FileWrite): ShellAction | undefined {
  if (f.data.length > SHELL_FILE_MAX) return undefined;
  const sf = shellFile(c, f);
  return {
    command: previewCommand(sf, c.guard?.conditions, c.timeoutMs),
    outcome: (res) => {
      const r = previewResult(sf, res);
      if (r.kind === 'skipped') return skippedBy(c, r.guard, r.stderr);
      if (r.kind === 'failed') throw shellFailure(c, f.dest, r.step, r.r);
      return { changed: r.changed, note: r.note, ...(r.diff !== undefined ? { diff: r.diff } : {}) };
    },
  };
}

/** --check for a file: unchanged, or the unified diff of what would change. Changes nothing. */
export async function previewFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  const a = previewFileAction(c, f);
  return a ? runAlone(c, a) : previewOwnFile(c, f);
}

async function previewOwnFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  if (c.guard) {
    const g = await c.conn.exec(c.sudo ? wrapSudo(c.guard.script) : c.guard.script, { timeoutMs: c.timeoutMs });
    if (g.exitCode !== 0) return skippedBy(c, g.exitCode ?? -1, g.stderr.toString());
  }
  let old: Buffer | undefined;
  try {
    old = await readRemoteFile(c.conn, f.dest, { sudo: c.sudo, timeoutMs: c.timeoutMs });
  } catch (err) {
    if (err instanceof StepError) throw new ActionError(`${f.dest}: read: ${err.reason}`, err.status, { stderr: err.stderr });
    throw err;
  }
  if (old && old.equals(f.data)) return { changed: false, note: 'same content' };
  const binary = (b: Buffer) => b.includes(0);
  if ((old && binary(old)) || binary(f.data)) return { changed: true, note: `would ${old ? 'replace' : 'create'} ${f.dest} (binary content)` };
  const diff = unifiedDiff(old?.toString('utf8') ?? '', f.data.toString('utf8'), { from: old ? f.dest : '/dev/null', to: f.dest });
  return { changed: true, note: `would ${old ? 'change' : 'create'} ${f.dest}`, diff };
}
