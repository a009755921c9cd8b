// Faults an emulated guest can be told to show, and the selection syntax that assigns them:
// `KIND[:MS]@WHO` where WHO is `all`, `N%` (a seeded random fraction), guest numbers `3,5-7`,
// names or addresses. Examples: `hang@10%`, `slow:1500@3`, `drop:200@127.77.0.9`, `hostkey@guest004`.
import { createHash } from 'node:crypto';
import { UsageError } from '../core/index.js';

export const FAULT_KINDS = ['refuse', 'hang', 'slow', 'drop', 'auth-reject', 'hostkey', 'mitm'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** slow: delay before each command/transfer starts; drop: time after it starts when the link dies. */
  ms: number;
}

export const FAULT_HELP = {
  refuse: 'the guest refuses TCP connections (sshd down)',
  hang: 'TCP accepted, never a byte of SSH: the client waits until its timeout',
  slow: 'every command or transfer starts MS late (default 2000)',
  drop: 'the connection is cut MS after a command or transfer starts (default 200)',
  'auth-reject': 'every authentication is refused',
  hostkey: 'the guest presents a different host key (a man in the middle)',
  mitm: 'a man in the middle holding the cloned key: relays sessions with the key the guest booted with, swaps public host keys in command output for its own, and presents its own key once the guest has changed keys',
} satisfies Record<FaultKind, string>;

const DEFAULT_MS: Partial<Record<FaultKind, number>> = { slow: 2000, drop: 200 };

export interface GuestRef {
  index: number; // 1-based guest number
  name: string;
  address: string;
}

export interface FaultAssignment {
  fault: Fault;
  guests: GuestRef[];
}

/** Deterministic pick of `count` guests: ordered by a hash of seed and guest number. */
function seededPick(guests: GuestRef[], count: number, seed: string): GuestRef[] {
  const score = (g: GuestRef) => createHash('sha256').update(`${seed}:${g.index}`).digest().readUInt32BE(0);
  return [...guests].sort((a, b) => score(a) - score(b) || a.index - b.index).slice(0, count);
}

function selectGuests(who: string, guests: GuestRef[], seed: string, spec: string): GuestRef[] {
  if (who === 'all' || who === '*') return guests;
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(who);
  if (pct) return seededPick(guests, Math.round((guests.length * Number(pct[1])) / 100), seed);
  const picked = new Map<number, GuestRef>();
  for (const part of who.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    const matches = range
      ? guests.filter((g) => g.index >= Number(range[1]) && g.index <= Number(range[2] ?? range[1]))
      : guests.filter((g) => g.name === part || g.address === part);
    if (matches.length === 0) throw new UsageError(`fault '${spec}': no guest matches '${part}'`);
    for (const g of matches) picked.set(g.index, g);
  }
  return [...picked.values()];
}

/** Parses one `KIND[:MS]@WHO` spec against the fleet's guests. */
export function parseFault(spec: string, guests: GuestRef[], seed = 'clonefleet'): FaultAssignment {
  const m = /^([a-z-]+)(?::(\d+))?(?:@(.+))?$/.exec(spec.trim());
  const kind = m?.[1] as FaultKind | undefined;
  if (!m || !kind || !FAULT_KINDS.includes(kind)) {
    throw new UsageError(`bad fault '${spec}': expected KIND[:MS]@WHO with KIND one of ${FAULT_KINDS.join(', ')}`);
  }
  const ms = m[2] !== undefined ? Number(m[2]) : (DEFAULT_MS[kind] ?? 0);
  return { fault: { kind, ms }, guests: selectGuests(m[3] ?? 'all', guests, seed, spec) };
}
