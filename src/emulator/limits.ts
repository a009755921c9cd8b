// The open-files limit a fleet of N guests needs in the emulator process, checked before anything
// starts. Node raises its own soft RLIMIT_NOFILE to the hard limit when it starts, so the hard limit
// the process was started with is what there is: when it is too low, say so and how to raise it.
import { readFileSync } from 'node:fs';
import { FleetError } from '../core/index.js';

/** Per guest: its listener and, once it has run a command, its two control sockets. Beyond that,
 * each open session holds a socket and three pipe ends: room for a few hundred at once. */
export function openFilesNeeded(guests: number): number {
  return 3 * guests + 1024;
}

/** This process's open-files limits (soft, hard) from /proc; undefined where there is no /proc. */
export function openFilesLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.slice('Max open files'.length).trim().split(/\s+/) ?? []).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return soft !== undefined && hard !== undefined && !Number.isNaN(soft) && !Number.isNaN(hard) ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}

/** Throws, naming the limit, when `guests` would run out of file descriptors. */
export function checkOpenFiles(guests: number, limit = openFilesLimit()): void {
  const need = openFilesNeeded(guests);
  if (!limit || limit.soft >= need) return;
  throw new FleetError(
    `${guests} guests need about ${need} open files in the emulator, but its limit (RLIMIT_NOFILE) is ${limit.soft} ` +
      `(hard limit ${limit.hard}): raise it where the emulator starts (as root: \`ulimit -n ${need}\`, or LimitNOFILE= in a systemd unit), or start fewer guests`,
  );
}
