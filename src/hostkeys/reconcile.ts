// The way forward after a crash: what a resume does for a guest whose rotation was cut short. It
// probes what the guest presents and finishes (it serves exactly the new keys) or rolls back (anything else).
import type { SshConnection } from '../ssh/index.js';
import { beginStep, note, presentation, type GuestRotation, type RotateContext, type RotateTarget } from './guest-ops.js';
import type { HostJournal } from './journal.js';
import { rollbackGuest } from './rollback.js';
import { finishGuest, verifyNew } from './rotate-guest.js';

/** A resume's decision for one guest that the journal shows in the middle of a rotation. */
export async function reconcileGuest(t: RotateTarget, ctx: RotateContext, h: HostJournal): Promise<GuestRotation> {
  const started = Date.now();
  const r: GuestRotation = {
    host: t.name, address: t.address, outcome: 'pending', oldKeys: h.old, newKeys: h.new, warnings: [], durationMs: 0,
    failedStep: h.lastStep, error: `${t.name}: rotation interrupted at step '${h.lastStep}'`,
  };
  const timed = (x: GuestRotation) => ({ ...x, durationMs: Date.now() - started });
  if (!h.swapped) return timed(await rollbackGuest(t, ctx, r, { staging: h.staging, swapped: false }));
  if (h.lastStep === 'rollback') return timed(await rollbackGuest(t, ctx, r, { staging: h.staging, swapped: true }));
  if (h.lastStep === 'unpin') {
    try {
      return timed(await finishGuest(t, ctx, r, h.staging));
    } catch (err) {
      await note(ctx, t, (err as Error).message).catch(() => undefined);
      return timed({ ...r, error: (err as Error).message });
    }
  }
  const p = await presentation(t, ctx, h.old, h.new);
  if (p.is === 'unreachable') {
    const why = `${t.name}: unreachable while resuming (${p.error}); old and new keys both stay pinned`;
    await note(ctx, t, why);
    return timed({ ...r, error: why });
  }
  if (p.is !== 'new') return timed(await rollbackGuest(t, ctx, r, { staging: h.staging, swapped: true }));
  let conn: SshConnection;
  try {
    await beginStep(ctx, t, 'verify');
    conn = await verifyNew(t, ctx, h.old, h.new, h.staging);
  } catch (err) {
    return timed(await rollbackGuest(t, ctx, { ...r, failedStep: 'verify', error: (err as Error).message }, { staging: h.staging, swapped: true }));
  }
  try {
    return timed(await finishGuest(t, ctx, r, h.staging, conn));
  } catch (err) {
    await note(ctx, t, (err as Error).message).catch(() => undefined);
    return timed({ ...r, error: (err as Error).message });
  } finally {
    conn.close();
  }
}
