// Out-of-band confirmation of new host keys: a local command (a hypervisor console, a guest agent,
// a cloud API) prints the guest's public host keys as seen through that other channel. New keys
// read over SSH are kept only if that channel shows every one of them; otherwise someone may have
// sat in the middle of the session that was authenticated by the old, cloned key.
import { execa } from 'execa';
import { EXIT, FleetError } from '../core/index.js';
import { fingerprintSha256, keyTypeOfBlob, probeTypeOf, type ProbeType } from '../ssh/index.js';
import type { TargetRecord } from './journal.js';
import type { KeyRef } from './pins.js';

/** What the confirmation command is told of a guest: who and where it is, and its inventory variables. */
export type ConfirmTarget = Pick<TargetRecord, 'name' | 'address' | 'port' | 'user' | 'vars'>;

/** Environment of the confirmation command: the guest and its inventory variables. */
export function confirmEnv(t: ConfirmTarget, staging?: string): Record<string, string> {
  const env: Record<string, string> = { FLEET_HOST: t.name, FLEET_ADDRESS: t.address, FLEET_PORT: String(t.port), FLEET_USER: t.user };
  if (staging) env.FLEET_STAGING = staging;
  for (const [k, v] of Object.entries(t.vars ?? {})) env[`FLEET_VAR_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
  return env;
}

/** Every `TYPE BASE64` pair in the text whose blob names that type (`.pub` lines, known_hosts lines, ...). */
export function parsePublicKeys(text: string): KeyRef[] {
  const keys: KeyRef[] = [];
  for (const m of text.matchAll(/(?:^|\s)((?:ssh|ecdsa|sk)-[A-Za-z0-9@._+-]+)\s+([A-Za-z0-9+/]+={0,2})(?=\s|$)/gm)) {
    const key = Buffer.from(m[2]!, 'base64');
    if (keyTypeOfBlob(key) === m[1] && !keys.some((k) => k.key.equals(key))) keys.push({ keyType: m[1]!, key });
  }
  return keys;
}

export type Confirmation = { ok: true } | { ok: false; message: string };

/** A confirmation command that cannot confirm anything: the run stops before it touches a guest. */
export class ConfirmationError extends FleetError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

type Ran = { ok: true; seen: KeyRef[] } | { ok: false; why: string };

async function runConfirm(command: string, t: ConfirmTarget, o: { timeoutMs: number; staging?: string }): Promise<Ran> {
  const r = await execa('/bin/sh', ['-c', command], {
    env: confirmEnv(t, o.staging), extendEnv: true, reject: false, timeout: o.timeoutMs, stdin: 'ignore', maxBuffer: 1 << 20,
  });
  if (r.exitCode !== 0 || r.timedOut) {
    const why = r.timedOut ? `timed out after ${o.timeoutMs} ms` : `exit status ${r.exitCode ?? r.signal}`;
    return { ok: false, why: `${why}${r.stderr ? `: ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}` : ''}` };
  }
  return { ok: true, seen: parsePublicKeys(String(r.stdout)) };
}

const show = (ks: KeyRef[]) => ks.map((k) => `${k.keyType} ${fingerprintSha256(k.key)}`).join(', ') || 'no key';

/** Runs the command for one guest and checks that it shows every new key. */
export async function confirmKeys(
  command: string, t: ConfirmTarget, newKeys: KeyRef[], o: { timeoutMs: number; staging?: string; what?: string },
): Promise<Confirmation> {
  const what = o.what ?? 'new keys';
  const r = await runConfirm(command, t, o);
  if (!r.ok) return { ok: false, message: `${t.name}: the confirmation command failed (${r.why}); the ${what} are not confirmed` };
  const seen = r.seen;
  const missing = newKeys.filter((n) => !seen.some((s) => s.key.equals(n.key)));
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    message: `${t.name}: POSSIBLE MAN IN THE MIDDLE: over SSH the guest's ${what} are ${show(newKeys)}, ` +
      `but the other channel shows ${show(seen)}${seen.length > 0 && missing.length < newKeys.length ? ` (not ${show(missing)})` : ''}`,
  };
}

/**
 * Tries the command once, on one guest, before anything changes: it must print that guest's current
 * keys (pinned, presented) of every type the rotation will produce. A quoting slip, a wrong path or a
 * type left out would otherwise roll back every guest at step 6, each reported as a possible man in
 * the middle. A type the guest does not have yet cannot be checked here.
 */
export async function precheckConfirm(command: string, t: ConfirmTarget, current: KeyRef[], types: readonly ProbeType[], o: { timeoutMs: number }): Promise<Confirmation> {
  const expected = current.filter((k) => types.includes(probeTypeOf(k.keyType)!));
  const what = `--confirm-with, tried on ${t.name} (${t.address}) before touching any guest`;
  const cmd = `command: ${command}`;
  const r = await runConfirm(command, t, o);
  if (!r.ok) return { ok: false, message: `${what}, failed (${r.why}); nothing was changed. ${cmd}` };
  if (r.seen.length === 0) {
    return { ok: false, message: `${what}, printed no public key (it must print the guest's .pub or known_hosts lines: ${show(expected)}); nothing was changed. ${cmd}` };
  }
  const missing = expected.filter((e) => !r.seen.some((s) => s.key.equals(e.key)));
  if (missing.length > 0) {
    const gone = [...new Set(missing.map((m) => probeTypeOf(m.keyType)))].join(', ');
    return {
      ok: false,
      message: `${what}, did not print the guest's current ${show(missing)} (it printed ${show(r.seen)}); every type the rotation ` +
        `produces must be shown (${gone} missing: add its .pub file, or leave the type out with --types); nothing was changed. ${cmd}`,
    };
  }
  return { ok: true };
}
