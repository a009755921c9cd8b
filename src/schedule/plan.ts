// Slot planning: a deterministic, capped, balanced and stable slot per guest from its IP address.
//
// The scheme is part of the public contract ("the plan must stay the same across our versions"):
//
//   key(g)         = "clonefleet slot v1" LF job LF address        (address trimmed and lower-cased)
//   priority(g)    = hash64(key(g))                                (hash64: first 8 bytes of SHA-256,
//   probe(g, k)    = hash64(key(g) LF k) mod S,  k = 0, 1, 2, ...   big-endian; k in decimal)
//   seats(j)       = min(cap, floor((N + S - 1 - floor(j/2)) / S) + 1)   for slot j = 0 .. S-1
//
// Guests are placed one by one in ascending priority (ties: address, then host name); each takes
// the first slot of its probe sequence that still has a free seat. After 4*S + 64 probes without one
// (only possible when almost every seat is taken) it scans forward from its last probe instead.
//
// Why this shape: it is consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018)
// with independent random probes in place of the ring walk, and "serial dictatorship" in priority
// order. Adding or removing a guest frees or takes one seat, and that change travels down a single
// displacement chain that stops at the first slot that was not full: 1-2 guests on average, about 10
// at worst, for 500 guests (see test/schedule/plan-stability.test.ts). A ring walk clusters overflow
// into runs of full slots, so its chains run about twice as long; rank- or modulo-based schemes move
// a dozen to hundreds. Seats never exceed ceil(N/S) + 1 (balance) nor cap (safety) and always add
// up to at least N when N <= S * cap. They grow two slots at a time as N grows (slots 2i and 2i+1
// gain a seat when N + S - 1 - i reaches a multiple of S) rather than all at once when ceil(N/S)
// steps: a jump in every slot would let a whole wave of overflowed guests return home at once, up to
// ~30 moves for one added guest.
//
// With `previous` (slots read back from guests' managed blocks) and not `fresh`, guests keep their
// slot while it stays under min(cap, ceil(N/S) + 1), taken in priority order; the rest are placed
// as above under that same bound.
import { InputError, UsageError } from '../core/errors.js';
import { hash64, hashMod } from './hash.js';
import { formatClock, formatDuration, slotCron, slotGeometry, slotMinute, type SlotGeometry } from './window.js';

export interface Guest {
  host: string;
  address: string;
}

export interface PlanOptions {
  job: string;
  /** "HH:MM-HH:MM", may wrap midnight. */
  window: string;
  slotMinutes: number;
  /** Most guests allowed to start in one slot. */
  cap: number;
  /** host -> slot index of the plan the guests carry now. */
  previous?: ReadonlyMap<string, number>;
  /** Ignore `previous` for placement (still used to count `changed`). */
  fresh?: boolean;
}

export interface Assignment {
  host: string;
  address: string;
  slot: number;
  /** "HH:MM" */
  start: string;
  /** "M H * * *" */
  cron: string;
}

export interface SlotLoad {
  index: number;
  start: string;
  hosts: string[];
}

export interface Plan {
  /** One per guest, in input order. */
  assignments: Assignment[];
  slots: SlotLoad[];
  /** Most guests in any slot. */
  peak: number;
  /** ceil(N / slots): the best any assignment could do. */
  optimum: number;
  /** Guests whose slot differs from `previous` (all guests when there is none; newcomers count). */
  changed: number;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

interface Ranked extends Guest {
  key: string;
  priority: bigint;
}

/** Assigns every guest a slot in the window; throws when the guests cannot fit under the cap. */
export function planSlots(guests: readonly Guest[], opts: PlanOptions): Plan {
  if (!JOB_NAME.test(opts.job)) {
    throw new UsageError(`invalid job name "${opts.job}": use letters, digits, '.', '_' and '-'`);
  }
  if (!Number.isInteger(opts.cap) || opts.cap < 1) {
    throw new UsageError(`invalid cap ${opts.cap}: expected a whole number of guests, at least 1`);
  }
  const geo = slotGeometry(opts.window, opts.slotMinutes);
  const n = guests.length;
  const s = geo.count;
  if (n > s * opts.cap) throw new UsageError(fitAdvice(n, geo, opts.cap));

  const ranked = rank(guests, opts.job);
  const load: number[] = new Array(s).fill(0);
  const slotOf = new Map<string, number>();
  const keep = opts.previous && !opts.fresh ? opts.previous : undefined;
  let seats: number[];
  if (keep) {
    // Keeping guests where they are is worth a seat more than a fresh plan would give a slot.
    seats = new Array(s).fill(Math.min(opts.cap, Math.ceil(n / s) + 1));
    for (const g of ranked) {
      const p = keep.get(g.host);
      if (p !== undefined && Number.isInteger(p) && p >= 0 && p < s && load[p]! < seats[p]!) {
        load[p]!++;
        slotOf.set(g.host, p);
      }
    }
  } else {
    seats = Array.from({ length: s }, (_, j) => Math.min(opts.cap, Math.floor((n + s - 1 - (j >> 1)) / s) + 1));
  }
  for (const g of ranked) {
    if (slotOf.has(g.host)) continue;
    const slot = firstFree(g.key, seats, load);
    load[slot]!++;
    slotOf.set(g.host, slot);
  }
  return summarize(guests, slotOf, geo, opts.previous);
}

function rank(guests: readonly Guest[], job: string): Ranked[] {
  const seen = new Set<string>();
  const ranked = guests.map((g) => {
    if (seen.has(g.host)) throw new InputError(`guest "${g.host}" is listed twice`);
    seen.add(g.host);
    const address = g.address.trim().toLowerCase();
    if (address === '') throw new InputError(`guest "${g.host}" has no address`);
    const key = `clonefleet slot v1\n${job}\n${address}`;
    return { host: g.host, address, key, priority: hash64(key) };
  });
  // Duplicate addresses (clones that DHCP gave one IP) share a priority; the host name settles it.
  return ranked.sort((a, b) =>
    a.priority !== b.priority
      ? a.priority < b.priority ? -1 : 1
      : a.address !== b.address
        ? a.address < b.address ? -1 : 1
        : a.host < b.host ? -1 : a.host > b.host ? 1 : 0,
  );
}

function firstFree(key: string, seats: readonly number[], load: readonly number[]): number {
  const s = seats.length;
  let slot = 0;
  for (let k = 0; k < 4 * s + 64; k++) {
    slot = hashMod(`${key}\n${k}`, s);
    if (load[slot]! < seats[slot]!) return slot;
  }
  for (let i = 1; i <= s; i++) {
    const j = (slot + i) % s;
    if (load[j]! < seats[j]!) return j;
  }
  // Unreachable: callers check N <= total seats first.
  throw new Error('no free seat left in any slot');
}

function summarize(
  guests: readonly Guest[],
  slotOf: ReadonlyMap<string, number>,
  geo: SlotGeometry,
  previous: ReadonlyMap<string, number> | undefined,
): Plan {
  const slots: SlotLoad[] = Array.from({ length: geo.count }, (_, index) => ({
    index,
    start: formatClock(slotMinute(geo, index)),
    hosts: [],
  }));
  let changed = 0;
  const assignments = guests.map((g) => {
    const slot = slotOf.get(g.host)!;
    slots[slot]!.hosts.push(g.host);
    if (previous?.get(g.host) !== slot) changed++;
    return { host: g.host, address: g.address, slot, start: slots[slot]!.start, cron: slotCron(geo, slot) };
  });
  for (const slot of slots) slot.hosts.sort();
  return {
    assignments,
    slots,
    peak: Math.max(0, ...slots.map((x) => x.hosts.length)),
    optimum: Math.ceil(guests.length / geo.count),
    changed,
  };
}

/** Says concretely what would fit: a longer window, shorter slots, or a higher cap. */
export function fitAdvice(n: number, geo: SlotGeometry, cap: number): string {
  const needed = Math.ceil(n / cap);
  const options: string[] = [];
  const windowMinutes = needed * geo.slotMinutes;
  if (windowMinutes <= 1440) {
    const end = formatClock(geo.start + windowMinutes);
    options.push(
      `a window of at least ${formatDuration(windowMinutes)} (${needed} slots of ${geo.slotMinutes} min, ` +
        `e.g. ${formatClock(geo.start)}-${end})`,
    );
  }
  const shorter = Math.floor(geo.length / needed);
  if (shorter >= 1) options.push(`slots of at most ${shorter} min (${Math.floor(geo.length / shorter)} slots)`);
  options.push(`a cap of at least ${Math.ceil(n / geo.count)}`);
  return (
    `${n} guests do not fit: ${geo.count} slots of ${geo.slotMinutes} min in ${geo.window} × cap ${cap} ` +
    `= ${geo.count * cap}. Any one of these would: ${options.join('; ')}.`
  );
}
