// What every step of a guest's rotation needs: its context, journaling a step before it happens,
// pinned connections to an exact set of keys (over the guest's route: straight, through its jump
// hosts or its ProxyCommand), running a script as root, and judging which keys a guest presents (the
// old set, the new set, or neither).
import { setTimeout as delay } from 'node:timers/promises';
import { shellQuote, wrapSudo } from '../executor/index.js';
import {
  probeHostKeys, SshConnection, targetCredentials, type Credentials, type KnownHosts, type PresentedKey, type ProbeResult, type ProbeType,
} from '../ssh/index.js';
import type { KnownHostsWriter } from './kh-writer.js';
import { toText, type Journal, type JournalRecord, type StepName, type TargetRecord } from './journal.js';
import { pinsOnly, type KeyRef } from './pins.js';

/** No hop pinned: a routed guest probed without ctx.hopPins fails at its first hop, as it should. */
const NO_PINS = pinsOnly('', 0, []);

/**
 * A guest to rotate: the guest as the journal records it (a resume has only that). Its route is taken
 * for every connection and probe of its rotation; its own identity files, when read into
 * RotateContext.identities, are its login.
 */
export type RotateTarget = TargetRecord;

export interface RotateContext {
  run: string;
  journal: Journal;
  writer: KnownHostsWriter;
  credentials: Omit<Credentials, 'username'>;
  /** Private keys read from the guests' and jump hosts' identity files, by path. */
  identities?: ReadonlyMap<string, Buffer>;
  /**
   * What jump hosts are checked against (the guest itself is pinned to exact keys per step): the
   * known_hosts file as it was when this part of the run began.
   */
  hopPins?: KnownHosts;
  connectTimeoutMs: number;
  /** Per script on a guest (key generation, the swap with its sshd restart). */
  commandTimeoutMs: number;
  /** Key types each guest has afterwards; null: the types it presents now. */
  types: ProbeType[] | null;
  restartCommand: string | null;
  /** Local command printing the guest's public host keys through another channel; null: no confirmation. */
  confirmWith: string | null;
  /** Local command running the script on its stdin as root on the guest, out of band; null: none. */
  console?: string | null;
  /** Called after a step is journaled and before it runs (tests inject faults here). */
  onStep?: (host: string, step: StepName) => void | Promise<void>;
}

export type RotationOutcome = 'done' | 'rolled-back' | 'skipped' | 'pending';

export interface GuestRotation {
  host: string;
  address: string;
  outcome: RotationOutcome;
  /** The step that failed (rolled-back, skipped, pending). */
  failedStep?: StepName;
  error?: string;
  oldKeys: KeyRef[];
  newKeys: KeyRef[];
  /** Not failures, but worth saying: a backup left on the guest, an old key still matched by a wildcard. */
  warnings: string[];
  durationMs: number;
}

/** A failure at a named step, with a message that names the guest. */
export class StepError extends Error {
  constructor(readonly step: StepName, message: string) {
    super(message);
    this.name = 'StepError';
  }
}

type StepExtra = Omit<Extract<JournalRecord, { type: 'step' }>, 'type' | 'run' | 'host' | 'step' | 'at'>;

/** Journals the step (durably), then lets a test hook run, before the caller does it. */
export async function beginStep(ctx: RotateContext, t: RotateTarget, step: StepName, extra: StepExtra = {}): Promise<void> {
  await ctx.journal.append({ type: 'step', run: ctx.run, host: t.name, step, at: new Date().toISOString(), ...extra });
  await ctx.onStep?.(t.name, step);
}

export async function note(ctx: RotateContext, t: RotateTarget, error: string): Promise<void> {
  await ctx.journal.append({ type: 'note', run: ctx.run, host: t.name, at: new Date().toISOString(), error });
}

export async function endGuest(ctx: RotateContext, t: RotateTarget, outcome: 'done' | 'rolled-back' | 'skipped', error?: string): Promise<void> {
  await ctx.journal.append({ type: 'end', run: ctx.run, host: t.name, outcome, at: new Date().toISOString(), ...(error ? { error } : {}) });
}

export function keysText(keys: KeyRef[]) {
  return keys.map(toText);
}

/** Connects and authenticates with only `keys` accepted as the guest's host key; every hop on the way is pinned by ctx.hopPins. */
export function connectPinned(t: RotateTarget, ctx: RotateContext, keys: KeyRef[]): Promise<SshConnection> {
  return SshConnection.connect({
    name: t.name,
    address: t.address,
    port: t.port,
    knownHosts: pinsOnly(t.address, t.port, keys),
    credentials: targetCredentials(t, ctx.credentials, ctx.identities),
    connectTimeoutMs: ctx.connectTimeoutMs,
    jump: t.jump,
    proxyCommand: t.proxyCommand,
    identities: ctx.identities,
    ...(ctx.hopPins ? { jumpKnownHosts: ctx.hopPins } : {}),
  });
}

/** The guest's host keys, probed as scan does: over its route when it has one, its hops pinned by ctx.hopPins. */
export function probeGuest(t: RotateTarget, ctx: Pick<RotateContext, 'hopPins' | 'credentials' | 'identities' | 'connectTimeoutMs'>): Promise<ProbeResult> {
  const routed = !!t.jump?.length || !!t.proxyCommand;
  const via = routed
    ? { name: t.name, user: t.user, jump: t.jump, proxyCommand: t.proxyCommand, knownHosts: ctx.hopPins ?? NO_PINS, credentials: ctx.credentials, identities: ctx.identities }
    : undefined;
  return probeHostKeys({ address: t.address, port: t.port, timeoutMs: ctx.connectTimeoutMs, ...(via ? { via } : {}) });
}

/** connectPinned, retried a little while sshd comes back from a restart; refusals are final. */
export async function connectPinnedRetrying(t: RotateTarget, ctx: RotateContext, keys: KeyRef[], attempts = 3): Promise<SshConnection> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await connectPinned(t, ctx, keys);
    } catch (err) {
      last = err;
      const reason = (err as { reason?: string }).reason;
      if (reason === 'hostkey-refused' || reason === 'auth-refused') break;
      if (i < attempts - 1) await delay(250 * (i + 1));
    }
  }
  throw last;
}

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The connection or channel went away before the script finished. */
  lost: boolean;
}

/** Runs a script as root (sudo -n unless the login is root); never rejects. */
export async function runAsRoot(conn: SshConnection, t: RotateTarget, script: string, timeoutMs: number): Promise<ScriptResult> {
  const command = t.user === 'root' ? `/bin/sh -c ${shellQuote(script)}` : wrapSudo(script);
  try {
    const r = await conn.exec(command, { timeoutMs });
    const lost = r.timedOut || (r.exitCode === null && !r.signal);
    return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString(), lost };
  } catch (err) {
    return { code: null, stdout: '', stderr: (err as Error).message, lost: true };
  }
}

export function scriptFailure(t: RotateTarget, what: string, r: ScriptResult): string {
  const why = r.lost ? 'the connection was lost or the script timed out' : `exit status ${r.code}`;
  const detail = r.stderr.trim().split('\n').slice(-3).join(' | ');
  return `${t.name}: ${what} failed (${why})${detail ? `: ${detail}` : ''}`;
}

export type Presentation = 'old' | 'new' | 'mixed' | 'unreachable';

const has = (set: KeyRef[], k: PresentedKey) => set.some((s) => s.key.equals(k.key));

/**
 * Which set the presented keys belong to: 'new' when every presented key is new and every new key's
 * type is presented; 'old' when every presented key is old; anything else is 'mixed'.
 */
export function classify(presented: PresentedKey[], oldKeys: KeyRef[], newKeys: KeyRef[]): Exclude<Presentation, 'unreachable'> {
  if (presented.length === 0) return 'mixed';
  if (newKeys.length > 0 && presented.every((k) => has(newKeys, k)) && newKeys.every((n) => presented.some((k) => k.key.equals(n.key)))) return 'new';
  if (presented.every((k) => has(oldKeys, k))) return 'old';
  return 'mixed';
}

export async function presentation(t: RotateTarget, ctx: RotateContext, oldKeys: KeyRef[], newKeys: KeyRef[]): Promise<{ is: Presentation; keys: PresentedKey[]; error?: string }> {
  const p = await probeGuest(t, ctx);
  if (p.error) return { is: 'unreachable', keys: p.keys, error: p.error.message };
  return { is: classify(p.keys, oldKeys, newKeys), keys: p.keys };
}
