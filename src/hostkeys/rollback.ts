// The way back: rollbackGuest puts a guest's old keys back (from the backup the swap made), checks
// that it presents them again, and only then unpins the new keys.
import type { SshConnection } from '../ssh/index.js';
import {
  beginStep, connectPinnedRetrying, endGuest, note, presentation, runAsRoot, scriptFailure,
  type GuestRotation, type RotateContext, type RotateTarget, type ScriptResult,
} from './guest-ops.js';
import { cleanupScript, restoreScript } from './guest-scripts.js';
import { unpinKeys } from './pins.js';

class Pending extends Error {}

const describe = (keys: { keyType: string; fingerprint: string }[]) => keys.map((k) => `${k.keyType} ${k.fingerprint}`).join(', ') || 'no key';

export async function rollbackGuest(
  t: RotateTarget,
  ctx: RotateContext,
  r: GuestRotation,
  s: { staging?: string; swapped: boolean; conn?: SshConnection },
): Promise<GuestRotation> {
  let live = s.conn;
  let own: SshConnection | undefined;
  // The session of step 1 outlives an sshd restart, so it can repair a guest that no longer accepts
  // new connections; when it is gone, a new one is checked against old and new keys (both pinned).
  const run = async (script: string): Promise<ScriptResult> => {
    if (live) {
      const x = await runAsRoot(live, t, script, ctx.commandTimeoutMs);
      if (!x.lost) return x;
      live = undefined;
    }
    own ??= await connectPinnedRetrying(t, ctx, [...r.oldKeys, ...r.newKeys]);
    return runAsRoot(own, t, script, ctx.commandTimeoutMs);
  };
  try {
    await beginStep(ctx, t, 'rollback');
    if (s.swapped && s.staging) {
      const before = await presentation(t, ctx, r.oldKeys, r.newKeys);
      const x = await run(restoreScript(s.staging, before.is !== 'old', ctx.restartCommand)).catch((err: Error) => {
        throw new Pending(`${t.name}: cannot reach it to put the old keys back: ${err.message}`);
      });
      if (x.code !== 0) throw new Pending(scriptFailure(t, 'putting the old keys back', x));
      const after = await presentation(t, ctx, r.oldKeys, r.newKeys);
      if (after.is !== 'old') {
        throw new Pending(`${t.name}: after putting the old keys back it presents ${after.is === 'unreachable' ? `nothing (${after.error})` : describe(after.keys)}`);
      }
    }
    // The guest serves its old keys (or never served the new ones): the new pins can go.
    if (r.newKeys.length > 0) await ctx.writer.edit((kh) => unpinKeys(kh, t.address, t.port, r.newKeys.map((k) => k.key)));
    if (s.staging) {
      try {
        const c = await run(cleanupScript(s.staging));
        if (c.code !== 0) r.warnings.push(scriptFailure(t, `removing ${s.staging}`, c));
      } catch (err) {
        r.warnings.push(`${t.name}: could not remove ${s.staging}: ${(err as Error).message}`);
      }
    }
    await endGuest(ctx, t, 'rolled-back', r.error);
    return { ...r, outcome: 'rolled-back' };
  } catch (err) {
    const why = (err as Error).message;
    await note(ctx, t, why).catch(() => undefined);
    return {
      ...r,
      outcome: 'pending',
      error: `${r.error ?? t.name}; rollback incomplete: ${why}. Old and new keys both stay pinned; \`fleet keys rotate --resume\` finishes it once the guest answers`,
    };
  } finally {
    own?.close();
  }
}
