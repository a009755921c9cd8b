// Guests behind jump hosts, for a rotation: the order it takes them in when some are jump hosts of
// others (the guests behind a jump host first, the jump host after them: its sshd restarts with new
// keys during its own rotation, so done last, no guest's steps or way back go through it meanwhile),
// and the pins their jump hosts are checked against, read afresh for each wave.
import { loadKnownHosts, type KnownHosts } from '../ssh/index.js';
import type { RotateTarget } from './guest-ops.js';

const at = (address: string, port: number) => `${address}:${port}`;

/**
 * The targets in waves: wave 0 holds every target no other target goes through; each later wave the
 * jump hosts of the waves before it. A single wave when no target is another's jump host.
 */
export function hopWaves<T extends RotateTarget>(targets: T[]): T[][] {
  const byPlace = new Map(targets.map((t) => [at(t.address, t.port), t]));
  // For each target, the targets it goes through (its chain's hops that are being rotated too).
  const through = new Map<T, T[]>(targets.map((t) => [t, (t.jump ?? []).map((h) => byPlace.get(at(h.address, h.port))).filter((h): h is T => h !== undefined && h !== t)]));
  const depth = new Map<T, number>(targets.map((t) => [t, 0]));
  // A hop sits one wave after every guest behind it; chains settle within as many passes as targets (a loop would not: capped).
  for (let pass = 0, moved = true; moved && pass < targets.length; pass++) {
    moved = false;
    for (const t of targets) {
      for (const hop of through.get(t)!) {
        if (depth.get(hop)! <= depth.get(t)!) {
          depth.set(hop, depth.get(t)! + 1);
          moved = true;
        }
      }
    }
  }
  const waves: T[][] = [];
  for (const t of targets) (waves[depth.get(t)!] ??= []).push(t);
  return waves.filter((w) => w !== undefined);
}

/**
 * What the jump hosts of `targets` are checked against, read now: the rotated known_hosts (a jump
 * host rotated earlier in the run is pinned to its new keys there), then the other files the targets
 * read pins from (UserKnownHostsFile). None when no target goes through a jump host.
 */
export async function hopPins(knownHostsPath: string, targets: RotateTarget[]): Promise<KnownHosts | undefined> {
  if (!targets.some((t) => t.jump?.length)) return undefined;
  const main = await loadKnownHosts(knownHostsPath);
  const others = [...new Set(targets.flatMap((t) => t.knownHostsFiles ?? []))].filter((f) => f !== knownHostsPath && f !== main.file);
  if (others.length === 0) return main;
  const extra = await Promise.all(others.map((f) => loadKnownHosts(f)));
  return { ...main, lines: [...main.lines, ...extra.flatMap((k) => k.lines)], warnings: [...main.warnings, ...extra.flatMap((k) => k.warnings)] };
}
