// The way back for a guest presenting a revoked key (a new clone of the golden image, a snapshot
// restore): no SSH session it authenticates can be trusted, so its keys cannot be rotated over SSH.
// Given a console (a local command that runs the shell script on its stdin as root on the guest
// through another channel: a hypervisor console, a guest agent), the keys are generated, read back
// and put in place over that channel; they never cross SSH, so they are pinned as read, and a login
// pinned to them alone checks the result. On failure the guest gets its old keys back and the new
// pins go: it is left as it was found (refused), never half-rotated.
import { execa } from 'execa';
import { addPin } from '../ssh/index.js';
import { confirmEnv } from './confirm.js';
import { classify, connectPinnedRetrying, endGuest, note, probeGuest, type GuestRotation, type RotateContext, type RotateTarget, type ScriptResult } from './guest-ops.js';
import { cleanupScript, generateScript, readScript, restoreScript, stagingDir, swapScript } from './guest-scripts.js';
import { pinsAreHashed, unpinKeys } from './pins.js';
import { parseReadBack, typePlan } from './rotate-guest.js';
import type { GuestScan } from './scan.js';

/** Runs a script on the guest through the console command (script on its stdin); never rejects. */
export async function runOnConsole(console: string, t: RotateTarget, script: string, timeoutMs: number): Promise<ScriptResult> {
  const r = await execa('/bin/sh', ['-c', console], {
    env: confirmEnv(t), extendEnv: true, reject: false, timeout: timeoutMs, input: script, maxBuffer: 1 << 20,
  });
  return { code: r.timedOut ? null : (r.exitCode ?? null), stdout: String(r.stdout), stderr: String(r.stderr), lost: !!r.timedOut };
}

const failed = (t: RotateTarget, what: string, r: ScriptResult) =>
  `${t.name}: ${what} over the console failed (${r.lost ? 'timed out' : `exit status ${r.code}`})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`;

export async function rotateOverConsole(t: RotateTarget, ctx: RotateContext, console: string, scan: GuestScan, attempt: number): Promise<GuestRotation> {
  const started = Date.now();
  const r: GuestRotation = { host: t.name, address: t.address, outcome: 'skipped', oldKeys: [], newKeys: [], warnings: [], durationMs: 0 };
  const done = async (x: GuestRotation) => {
    await endGuest(ctx, t, x.outcome === 'done' ? 'done' : x.outcome === 'rolled-back' ? 'rolled-back' : 'skipped', x.error);
    return { ...x, durationMs: Date.now() - started };
  };
  const { keep, drop } = typePlan(scan, ctx.types);
  const staging = stagingDir(ctx.run, t.name, attempt);
  await note(ctx, t, `${t.name}: presents a revoked key; regenerating its keys over the console`);
  const gen = await runOnConsole(console, t, `${generateScript(staging, keep, drop)}\n${readScript(staging)}`, ctx.commandTimeoutMs);
  if (gen.code !== 0) return done({ ...r, failedStep: 'generate', error: failed(t, 'generating new keys', gen) });
  try {
    r.newKeys = parseReadBack(t, gen.stdout, keep);
  } catch (err) {
    return done({ ...r, failedStep: 'read', error: (err as Error).message });
  }
  await ctx.writer.edit((kh) => {
    const hashed = pinsAreHashed(kh, t.address, t.port);
    for (const k of r.newKeys) addPin(kh, t.address, t.port, k.keyType, k.key, { hashed });
  });
  let error: string | undefined;
  const swap = await runOnConsole(console, t, swapScript(staging, ctx.restartCommand), ctx.commandTimeoutMs);
  if (swap.code !== 0) error = failed(t, 'putting the new keys in place', swap);
  if (!error) {
    try {
      const conn = await connectPinnedRetrying(t, ctx, r.newKeys);
      conn.close();
      const p = await probeGuest(t, ctx);
      if (p.error || classify(p.keys, [], r.newKeys) !== 'new') error = `${t.name}: after the restart it does not present exactly the new keys`;
    } catch (err) {
      error = `${t.name}: cannot log in with the new host keys pinned alone: ${(err as Error).message}`;
    }
  }
  if (error) {
    const back = await runOnConsole(console, t, restoreScript(staging, true, ctx.restartCommand), ctx.commandTimeoutMs);
    await ctx.writer.edit((kh) => unpinKeys(kh, t.address, t.port, r.newKeys.map((k) => k.key)));
    if (back.code !== 0) r.warnings.push(failed(t, 'putting the old keys back', back));
    return done({ ...r, outcome: 'rolled-back', failedStep: 'verify', error });
  }
  // Lines still pinning the revoked keys for this guest count for nothing any more: they go.
  await ctx.writer.edit((kh) => unpinKeys(kh, t.address, t.port, scan.keys.map((k) => k.key)));
  const c = await runOnConsole(console, t, cleanupScript(staging), ctx.commandTimeoutMs);
  if (c.code !== 0) r.warnings.push(`${failed(t, `removing ${staging}`, c)}; remove it by hand (it holds the old private keys)`);
  return done({ ...r, outcome: 'done' });
}
