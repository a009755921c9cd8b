// One guest's rotation, the rotate flow: (1) connect pinned to the current keys, (2) generate
// new keys in a staging place, (3) read their public halves back over that authenticated channel,
// (4) pin old and new together, (5) swap and restart sshd, (6) reconnect pinned to the new keys only,
// (7) unpin the old keys and remove the backup. Each step is journaled before it happens; a failure
// from step 2 on is undone by rollbackGuest.
import { addPin, keyTypeOfBlob, lookup, pinsOf, PROBE_TYPE_NAMES, type KnownHosts, type ProbeType, type SshConnection } from '../ssh/index.js';
import {
  beginStep, classify, connectPinned, connectPinnedRetrying, endGuest, keysText, note, probeGuest, runAsRoot, scriptFailure, StepError,
  type GuestRotation, type RotateContext, type RotateTarget,
} from './guest-ops.js';
import { confirmKeys } from './confirm.js';
import { cleanupScript, generateScript, readScript, stagingDir, swapScript, SWAP_EXIT } from './guest-scripts.js';
import type { StepName } from './journal.js';
import { pinsAreHashed, unpinKeys, type KeyRef } from './pins.js';
import { rollbackGuest } from './rollback.js';
import type { GuestScan } from './scan.js';

const SWAP_MESSAGES: Record<number, string> = {
  [SWAP_EXIT.backupFailed]: 'could not back up the old keys',
  [SWAP_EXIT.nothingStaged]: 'the staged keys are gone',
  [SWAP_EXIT.restored]: 'sshd did not take the new keys; the old ones are back',
  [SWAP_EXIT.sshdDown]: 'sshd failed with the new keys and with the old ones',
};

/** Parses `TYPE KEYTYPE BASE64 [comment]` lines (the read step) into one key per expected type. */
export function parseReadBack(t: RotateTarget, stdout: string, expected: ProbeType[]): KeyRef[] {
  const keys: KeyRef[] = [];
  for (const line of stdout.split('\n').filter((l) => l.trim())) {
    const [family, keyType, b64] = line.trim().split(/\s+/);
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!family || !keyType || keyTypeOfBlob(key) !== keyType || !expected.includes(family as ProbeType)) {
      throw new StepError('read', `${t.name}: unexpected public key line from the guest: ${line.slice(0, 120)}`);
    }
    keys.push({ keyType, key });
  }
  if (keys.length !== expected.length) throw new StepError('read', `${t.name}: expected ${expected.length} new keys (${expected.join(', ')}), read ${keys.length}`);
  return keys;
}

/**
 * Step 6: a login checked against the new keys only, every type presented is a new key, and (with
 * --confirm-with) the other channel shows the same new keys.
 */
export async function verifyNew(t: RotateTarget, ctx: RotateContext, oldKeys: KeyRef[], newKeys: KeyRef[], staging?: string): Promise<SshConnection> {
  let conn: SshConnection;
  try {
    conn = await connectPinnedRetrying(t, ctx, newKeys);
  } catch (err) {
    throw new StepError('verify', `${t.name}: cannot log in with the new host keys pinned alone: ${(err as Error).message}`);
  }
  const p = await probeGuest(t, ctx);
  const is = p.error ? 'unreachable' : classify(p.keys, oldKeys, newKeys);
  if (is !== 'new') {
    conn.close();
    throw new StepError('verify', `${t.name}: after the restart it presents ${p.error ? `nothing (${p.error.message})` : p.keys.map((k) => `${k.keyType} ${k.fingerprint}`).join(', ')}, not exactly the new keys`);
  }
  if (ctx.confirmWith) {
    const c = await confirmKeys(ctx.confirmWith, t, newKeys, { timeoutMs: ctx.commandTimeoutMs, staging });
    if (!c.ok) {
      conn.close();
      throw new StepError('verify', c.message);
    }
  }
  return conn;
}

/** Step 7: drop the old pins, then the guest's backup. Failing to remove the backup is only a warning. */
export async function finishGuest(t: RotateTarget, ctx: RotateContext, r: GuestRotation, staging: string | undefined, conn?: SshConnection): Promise<GuestRotation> {
  await beginStep(ctx, t, 'unpin');
  const stale = r.oldKeys.filter((o) => !r.newKeys.some((n) => n.key.equals(o.key)));
  const leftovers = await ctx.writer.edit((kh) => {
    unpinKeys(kh, t.address, t.port, stale.map((k) => k.key));
    return lookup(kh, t.address, t.port).pinned.filter((p) => stale.some((s) => s.key.equals(p.key)));
  });
  for (const l of leftovers) r.warnings.push(`${t.name}: an old key is still pinned by known_hosts line ${l.line} (a wildcard or pattern line); remove it or mark it @revoked`);
  if (staging) {
    let own = conn;
    try {
      own ??= await connectPinned(t, ctx, r.newKeys);
      const c = await runAsRoot(own, t, cleanupScript(staging), ctx.commandTimeoutMs);
      if (c.code !== 0) r.warnings.push(`${scriptFailure(t, `removing ${staging}`, c)}; remove it by hand (it holds the old private keys)`);
    } catch (err) {
      r.warnings.push(`${t.name}: could not remove ${staging} (${(err as Error).message}); remove it by hand (it holds the old private keys)`);
    } finally {
      if (own !== conn) own?.close();
    }
  }
  await endGuest(ctx, t, 'done');
  return { ...r, outcome: 'done' };
}

/** The types a guest has after rotation, and those it loses. */
export function typePlan(scan: GuestScan, types: ProbeType[] | null): { keep: ProbeType[]; drop: ProbeType[] } {
  const now = PROBE_TYPE_NAMES.filter((f) => scan.keys.some((k) => k.type === f));
  const keep = types ? PROBE_TYPE_NAMES.filter((f) => types.includes(f)) : now;
  return { keep, drop: now.filter((f) => !keep.includes(f)) };
}

/** Rotates one guest; never rejects. `known` is known_hosts as loaded for this run. */
export async function rotateGuest(t: RotateTarget, ctx: RotateContext, scan: GuestScan, known: KnownHosts, attempt: number): Promise<GuestRotation> {
  const started = Date.now();
  const oldKeys: KeyRef[] = lookup(pinsOf(known, t.address, t.port), t.address, t.port).pinned.map((p) => ({ keyType: p.keyType, key: p.key }));
  const r: GuestRotation = { host: t.name, address: t.address, outcome: 'skipped', oldKeys, newKeys: [], warnings: [], durationMs: 0 };
  const done = (x: GuestRotation) => ({ ...x, durationMs: Date.now() - started });
  if (scan.status !== 'pinned') {
    const why = scan.status === 'unreachable' ? (scan.error ?? 'unreachable')
      : scan.status === 'revoked' ? `${t.name}: it presents a REVOKED key, so no SSH session with it can be trusted; give its keys back through another channel with --console CMD (or re-image it)`
        : `${t.name}: its host keys are ${scan.status.toUpperCase()}, not pinned; check them with \`fleet keys scan\` and \`fleet keys trust\` (--confirm-with) first`;
    await endGuest(ctx, t, 'skipped', why);
    return done({ ...r, failedStep: 'connect', error: why });
  }
  const { keep, drop } = typePlan(scan, ctx.types);
  const hashed = pinsAreHashed(known, t.address, t.port);
  const staging = stagingDir(ctx.run, t.name, attempt);
  let at: StepName = 'connect';
  let conn: SshConnection | undefined;
  let swapped = false;
  try {
    await beginStep(ctx, t, 'connect', { old: keysText(oldKeys) });
    try {
      conn = await connectPinned(t, ctx, oldKeys);
    } catch (err) {
      throw new StepError('connect', (err as Error).message);
    }
    // Steps 2 and 3 run as one script (one sudo, not two): both are journaled first, and the public
    // keys still come back over the session authenticated in step 1. Neither touches what sshd serves.
    await beginStep(ctx, t, (at = 'generate'), { staging });
    await beginStep(ctx, t, 'read');
    const gen = await runAsRoot(conn, t, `${generateScript(staging, keep, drop)}\n${readScript(staging)}`, ctx.commandTimeoutMs);
    if (gen.code !== 0) throw new StepError(at, scriptFailure(t, 'generating new keys and reading them back', gen));
    at = 'read';
    r.newKeys = parseReadBack(t, gen.stdout, keep);
    if (r.newKeys.some((n) => oldKeys.some((o) => o.key.equals(n.key)) || scan.keys.some((k) => k.key.equals(n.key)))) {
      throw new StepError(at, `${t.name}: a "new" key is one of the old ones; refusing`);
    }
    await beginStep(ctx, t, (at = 'pin'), { new: keysText(r.newKeys), hashed });
    await ctx.writer.edit((kh) => {
      for (const k of r.newKeys) addPin(kh, t.address, t.port, k.keyType, k.key, { hashed });
    });
    await beginStep(ctx, t, (at = 'swap'));
    swapped = true;
    const swap = await runAsRoot(conn, t, swapScript(staging, ctx.restartCommand), ctx.commandTimeoutMs);
    if (swap.code !== 0) {
      const what = swap.code !== null && SWAP_MESSAGES[swap.code] ? `putting the new keys in place (${SWAP_MESSAGES[swap.code]})` : 'putting the new keys in place';
      throw new StepError(at, scriptFailure(t, what, swap));
    }
    await beginStep(ctx, t, (at = 'verify'));
    const fresh = await verifyNew(t, ctx, oldKeys, r.newKeys, staging);
    try {
      at = 'unpin';
      return done(await finishGuest(t, ctx, r, staging, fresh));
    } finally {
      fresh.close();
    }
  } catch (err) {
    const e = err instanceof StepError ? err : new StepError(at, `${t.name}: ${(err as Error).message}`);
    if (e.step === 'connect') {
      await endGuest(ctx, t, 'skipped', e.message);
      return done({ ...r, failedStep: 'connect', error: e.message });
    }
    if (e.step === 'unpin') {
      // The guest serves the new keys, pinned: nothing to undo; a resume finishes the unpinning.
      await note(ctx, t, e.message);
      return done({ ...r, outcome: 'pending', failedStep: 'unpin', error: e.message });
    }
    return done(await rollbackGuest(t, ctx, { ...r, failedStep: e.step, error: e.message }, { staging, swapped, conn }));
  } finally {
    conn?.close();
  }
}
