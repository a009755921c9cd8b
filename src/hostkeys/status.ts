// `keys status`: where the last rotation stands, per guest, from the journal; for guests cut short,
// what they present now (probed over the route the run took) and what a resume will do with them.
import { fanout } from '../executor/index.js';
import type { Credentials } from '../ssh/index.js';
import { classify, probeGuest, type Presentation } from './guest-ops.js';
import { readJournal, replay, type StepName } from './journal.js';
import { hopPins } from './hop-order.js';

export type GuestRotationState = 'done' | 'rolled-back' | 'skipped' | 'in-progress' | 'not-started';

export interface GuestStatusRow {
  host: string;
  address: string;
  state: GuestRotationState;
  /** Last step journaled (in-progress guests). */
  step?: StepName;
  presents?: Presentation;
  /** What `--resume` will do. */
  next?: 'finish' | 'roll back' | 'wait (unreachable)' | 'rotate';
  error?: string;
}

export interface RotationStatus {
  run?: { id: string; startedAt: string; types: string[] | null; guests: number; resumes: number };
  ended: boolean;
  rows: GuestStatusRow[];
}

export interface StatusOptions {
  timeoutMs: number;
  fanout: number;
  /** known_hosts the run rotated (its jump hosts are pinned there). */
  knownHostsPath?: string;
  /** The login on jump hosts, asked for only when a guest to probe is behind one. */
  session?: () => Promise<{ credentials: Omit<Credentials, 'username'>; identities?: ReadonlyMap<string, Buffer> }>;
}

export async function rotationStatus(journalPath: string, o: StatusOptions): Promise<RotationStatus> {
  const state = replay(await readJournal(journalPath));
  if (!state) return { ended: true, rows: [] };
  const rows: GuestStatusRow[] = state.run.targets.map((t) => {
    const h = state.hosts.get(t.name);
    if (!h || (h.attempts === 0 && !h.end)) return { host: t.name, address: t.address, state: 'not-started', ...(state.ended ? {} : { next: 'rotate' as const }) };
    if (h.end) {
      const row: GuestStatusRow = { host: t.name, address: t.address, state: h.end.outcome, ...(h.end.error ? { error: h.end.error } : {}) };
      if (!state.ended && h.end.outcome !== 'done') row.next = 'rotate';
      return row;
    }
    return { host: t.name, address: t.address, state: 'in-progress', step: h.lastStep, ...(h.notes.length ? { error: h.notes.at(-1) } : {}) };
  });
  const byName = new Map(state.run.targets.map((t) => [t.name, t]));
  const probed = rows.filter((r) => r.state === 'in-progress').map((r) => byName.get(r.host)!);
  const routed = probed.some((t) => t.jump?.length);
  const login = routed && o.session ? await o.session() : { credentials: {} };
  const ctx = { ...login, connectTimeoutMs: o.timeoutMs, hopPins: routed && o.knownHostsPath ? await hopPins(o.knownHostsPath, probed) : undefined };
  await fanout(
    rows.filter((r) => r.state === 'in-progress').map((r) => ({ name: r.host, address: r.address, row: r })),
    async (x) => {
      const t = byName.get(x.name)!;
      const h = state.hosts.get(x.name)!;
      const p = await probeGuest(t, ctx);
      x.row.presents = p.error ? 'unreachable' : classify(p.keys, h.old, h.new);
      x.row.next = x.row.presents === 'unreachable' ? 'wait (unreachable)'
        : h.lastStep === 'unpin' || (h.swapped && h.lastStep !== 'rollback' && x.row.presents === 'new') ? 'finish' : 'roll back';
      return { host: x.name, address: x.address, status: 'ok', exitCode: null, stdout: '', stderr: '', changed: false, durationMs: 0 };
    },
    { fanout: o.fanout },
  );
  return {
    run: { id: state.run.run, startedAt: state.run.at, types: state.run.types, guests: state.run.targets.length, resumes: state.resumes },
    ended: state.ended,
    rows,
  };
}
