// What each action does on one guest over the guest's one connection: run a command, feed a local
// script to `sh -s`, make a file hold rendered or local bytes (validated first), or, in --check mode,
// say what would happen (the file's unified diff, "would run").
import { createHash } from 'node:crypto';
import { OutputCapture, readRemoteFile, shellQuote as q, StepError, wrapSudo, writeRemoteFile } from '../executor/index.js';
import { unifiedDiff } from '../schedule/index.js';
import type { SshConnection } from '../ssh/index.js';
import type { HostStatus } from '../executor/index.js';

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
  sudo: boolean;
  timeoutMs?: number;
}

/** Runs a shell command (or `sh -s` fed `stdin`); a non-zero exit status is an ActionError. */
export async function runCommand(c: ActionContext, command: string, stdin?: Buffer): Promise<ActionOutcome> {
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

export interface FileWrite {
  dest: string;
  data: Buffer;
  mode?: number;
  owner?: string;
  backup: boolean;
  backupSuffix: string;
  /** A command with `%s`, run against a temporary copy of the new bytes before they are installed. */
  validate?: string;
}

/** Makes `dest` hold the bytes (skipped when its SHA-256 already matches), validated first when asked. */
export async function writeFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
  try {
    let validated: ActionOutcome | undefined;
    if (f.validate !== undefined && !(await sameContent(c, f))) validated = await validate(c, f);
    const o = await writeRemoteFile(c.conn, f.dest, f.data, {
      sudo: c.sudo, mode: f.mode, owner: f.owner, backup: f.backup, backupSuffix: f.backupSuffix, timeoutMs: c.timeoutMs,
    });
    return { changed: o.changed, ...(o.backup ? { backup: o.backup } : {}), ...(validated?.stdout || validated?.stderr ? { stdout: validated.stdout, stderr: validated.stderr } : {}) };
  } catch (err) {
    if (err instanceof ActionError) throw err;
    if (err instanceof StepError) throw new ActionError(`${err.path ? `${err.path}: ` : ''}${err.step}: ${err.reason}`, err.status, { stderr: err.stderr });
    throw new ActionError((err as Error).message, c.conn.lost ? 'unreachable' : 'failed');
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
    return await runCommand(c, script, f.data);
  } catch (err) {
    if (!(err instanceof ActionError) || err.status !== 'failed') throw err;
    throw new ActionError(`validate: ${f.validate} refused the new ${f.dest} (${err.message}); the guest's file is unchanged`, 'failed', err.outcome);
  }
}

/** --check for a file: unchanged, or the unified diff of what would change. Changes nothing. */
export async function previewFile(c: ActionContext, f: FileWrite): Promise<ActionOutcome> {
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
