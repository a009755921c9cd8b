// The playbook's `keys` step: the journaled host key rotation of `fleet keys rotate` (rotateFleet),
// over the guests that reached the step. A rotation is fleet-wide (one scan to find clone groups, one
// journal run, its own connections, sshd restarted under the play's feet), so it runs between two
// phases of the play: every guest finishes the steps before it, the rotation runs, and the steps
// after it run over fresh connections pinned to the new keys (see phases.ts).
import { resolve } from 'node:path';
import { z } from 'zod';
import { FleetError } from '../core/index.js';
import type { FleetEvent, HostStatus } from '../executor/index.js';
import type { RotateTarget } from '../hostkeys/index.js';
import { loadKnownHosts, PROBE_TYPE_NAMES, type Credentials, type ProbeType } from '../ssh/index.js';
import type { KeysStep } from './model.js';

/** The rotation machinery (and the local tools it starts), loaded only by a play that has a keys step: every play would pay for it at start. */
const hostkeys = () => import('../hostkeys/index.js');

export const KEYS_KEYS = ['cloned-only', 'types', 'restart-command', 'confirm-with', 'journal', 'revoke'] as const;

const text = (what: string) => z.string({ error: `${what} must be a string` });
const flag = (what: string) => z.boolean({ error: `${what} must be true or false` });

export const KeysStepSchema = z.strictObject({
  'cloned-only': flag('cloned-only').optional(),
  types: z.union([z.string(), z.array(z.string())], { error: `types must be a list of ${PROBE_TYPE_NAMES.join(', ')}` })
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((t) => t.trim()).filter(Boolean)).optional(),
  'restart-command': text('restart-command').optional(),
  'confirm-with': text('confirm-with (a local command)').optional(),
  journal: text('journal (a local file)').optional(),
  revoke: flag('revoke').optional(),
}, { error: `keys must be a mapping of ${KEYS_KEYS.join(', ')} ({} for the defaults)` });

/** The step's rotation options, checked as `fleet keys rotate` checks its flags; a message on failure. */
export function keysStep(raw: z.infer<typeof KeysStepSchema>, dir: string): KeysStep | string {
  const r = raw;
  const bad = (r.types ?? []).filter((t) => !(PROBE_TYPE_NAMES as string[]).includes(t));
  if (r.types && (r.types.length === 0 || bad.length > 0)) return `types takes a list of ${PROBE_TYPE_NAMES.join(', ')}, got '${r.types.join(',')}'`;
  return {
    kind: 'keys',
    clonedOnly: r['cloned-only'] ?? false,
    types: (r.types as ProbeType[] | undefined) ?? null,
    restartCommand: r['restart-command'] ?? null,
    confirmWith: r['confirm-with'] ?? null,
    ...(r.journal !== undefined ? { journal: resolve(dir, r.journal) } : {}),
    revoke: r.revoke ?? true,
  };
}

export interface RotationContext {
  knownHostsPath: string;
  credentials: Omit<Credentials, 'username'>;
  connectTimeoutMs: number;
  commandTimeoutMs?: number;
  fanout: number;
  check?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: FleetEvent) => void;
}

/** What the step did on one guest. */
export interface KeysOutcome {
  ok: boolean;
  changed: boolean;
  note?: string;
  error?: string;
  /** The host status a failure gives the guest. */
  status?: Exclude<HostStatus, 'ok'>;
}

const journalOf = (a: KeysStep, knownHostsPath: string) => a.journal ?? `${knownHostsPath}.rotate.jsonl`;

/**
 * Rotates (or with `check`, scans and says who would rotate) the guests that reached the step.
 * A refusal of the whole rotation (another one holds the known_hosts file, an interrupted run in
 * the journal) fails every guest with the rotation's own words.
 */
export async function rotateStep(a: KeysStep, guests: RotateTarget[], o: RotationContext): Promise<Map<string, KeysOutcome>> {
  const out = new Map<string, KeysOutcome>();
  if (guests.length === 0) return out;
  if (o.check) return previewRotation(a, guests, o);
  let report;
  try {
    const { rotateFleet } = await hostkeys();
    report = await rotateFleet({
      targets: guests, knownHostsPath: o.knownHostsPath, journalPath: journalOf(a, o.knownHostsPath), credentials: o.credentials,
      connectTimeoutMs: o.connectTimeoutMs, commandTimeoutMs: o.commandTimeoutMs ?? 120_000, fanout: o.fanout, types: a.types,
      clonedOnly: a.clonedOnly, restartCommand: a.restartCommand, confirmWith: a.confirmWith, revoke: a.revoke, resume: false,
      signal: o.signal, onEvent: o.onEvent,
    });
  } catch (err) {
    if (!(err instanceof FleetError)) throw err;
    for (const g of guests) out.set(g.name, { ok: false, changed: false, error: err.message, status: 'failed' });
    return out;
  }
  const byHost = new Map(report.results.map((r) => [r.host, r]));
  for (const g of guests) {
    const r = byHost.get(g.name);
    if (!r) {
      const why = report.nothingToDo ?? (a.clonedOnly ? 'shares no host key with another guest: nothing to rotate' : 'not rotated');
      out.set(g.name, o.signal?.aborted && !report.nothingToDo
        ? { ok: false, changed: false, error: 'interrupted before its rotation started', status: 'failed' }
        : { ok: true, changed: false, note: why });
    } else if (r.outcome === 'done') {
      out.set(g.name, { ok: true, changed: true, note: `new host keys pinned (run ${report.run})${report.unconfirmed ? '; learned over SSH only (no confirm-with)' : ''}` });
    } else {
      out.set(g.name, { ok: false, changed: false, error: `${r.outcome}${r.failedStep ? ` at ${r.failedStep}` : ''}: ${r.error ?? 'not rotated'}`, status: 'failed' });
    }
  }
  return out;
}

/** --check: one scan, the same choice of guests as the rotation; nothing is written anywhere. */
async function previewRotation(a: KeysStep, guests: RotateTarget[], o: RotationContext): Promise<Map<string, KeysOutcome>> {
  const out = new Map<string, KeysOutcome>();
  const { scanFleet } = await hostkeys();
  const { scans, groups } = await scanFleet(guests, await loadKnownHosts(o.knownHostsPath), { fanout: o.fanout, timeoutMs: o.connectTimeoutMs, signal: o.signal });
  const byHost = new Map(scans.map((s) => [s.host, s]));
  for (const g of guests) {
    const s = byHost.get(g.name);
    if (!s || s.status === 'unreachable') {
      out.set(g.name, { ok: false, changed: false, error: `cannot scan its host keys: ${s?.error ?? 'not scanned'}`, status: 'unreachable' });
      continue;
    }
    const group = s.cloneGroup === null ? undefined : groups.find((x) => x.id === s.cloneGroup);
    if (a.clonedOnly && !group) out.set(g.name, { ok: true, changed: false, note: 'shares no host key with another guest: nothing to rotate' });
    else out.set(g.name, { ok: true, changed: true, note: `would rotate its host keys${group ? ` (shares them with ${group.hosts.length - 1} other guests)` : ''}` });
  }
  return out;
}
