// Out-of-band confirmation of new host keys: a local command (a hypervisor console, a guest agent,
// a cloud API) prints the guest's public host keys as seen through that other channel. New keys
// read over SSH are kept only if that channel shows every one of them; otherwise someone may have
// sat in the middle of the session that was authenticated by the old, cloned key.
import { execa } from 'execa';
import { fingerprintSha256, keyTypeOfBlob } from '../ssh/index.js';
import type { KeyRef } from './pins.js';

export interface ConfirmTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  vars?: Record<string, string>;
}

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

/** Runs the command for one guest and checks that it shows every new key. */
export async function confirmKeys(command: string, t: ConfirmTarget, newKeys: KeyRef[], o: { timeoutMs: number; staging?: string }): Promise<Confirmation> {
  const r = await execa('/bin/sh', ['-c', command], {
    env: confirmEnv(t, o.staging), extendEnv: true, reject: false, timeout: o.timeoutMs, stdin: 'ignore', maxBuffer: 1 << 20,
  });
  if (r.exitCode !== 0 || r.timedOut) {
    const why = r.timedOut ? `timed out after ${o.timeoutMs} ms` : `exit status ${r.exitCode ?? r.signal}`;
    return { ok: false, message: `${t.name}: the confirmation command failed (${why})${r.stderr ? `: ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}` : ''}; the new keys are not confirmed` };
  }
  const seen = parsePublicKeys(String(r.stdout));
  const missing = newKeys.filter((n) => !seen.some((s) => s.key.equals(n.key)));
  if (missing.length === 0) return { ok: true };
  const show = (ks: KeyRef[]) => ks.map((k) => `${k.keyType} ${fingerprintSha256(k.key)}`).join(', ') || 'no key';
  return {
    ok: false,
    message: `${t.name}: POSSIBLE MAN IN THE MIDDLE: over SSH the guest's new keys are ${show(newKeys)}, ` +
      `but the other channel shows ${show(seen)}${seen.length > 0 && missing.length < newKeys.length ? ` (not ${show(missing)})` : ''}`,
  };
}
