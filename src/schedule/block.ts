// The managed block "# BEGIN fleet:<job>" ... "# END fleet:<job>": read, replace or append, nothing else.
//
// Every line outside our block is kept byte for byte: the guest's crontab is the admin's file, we
// only own what sits between our markers. The block carries a stamp comment recording the slot it
// was planned for, so the next plan can be incremental (see previousSlot).
import { InputError } from '../core/errors.js';
import { splitLines, validateCrontab } from './crontab.js';
import { parseClock, slotAt, type SlotGeometry } from './window.js';
import type { Assignment } from './plan.js';

const MARKER = /^\s*#\s*(BEGIN|END)\s+fleet:(\S*)\s*$/;
const STAMP = /^#\s*fleet:slot\b(.*)$/;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface SlotStamp {
  index?: number;
  /** "HH:MM" */
  start?: string;
  window?: string;
  slotMinutes?: number;
}

export interface ManagedBlock {
  /** The lines between the markers. */
  lines: string[];
  /** 1-based line numbers of the BEGIN and END markers. */
  begin: number;
  end: number;
  /** The slot the block was planned for: from its stamp, else from its first daily entry's time. */
  slot?: SlotStamp;
}

export interface BlockOptions {
  file?: string;
  /** Default true: /etc/crontab and /etc/cron.d entries name a user. */
  systemFormat?: boolean;
}

/** The block's lines for one guest: a stamp recording the plan, then the entry. */
export function slotLines(
  a: Assignment,
  opts: { command: string; user?: string; window: string; slotMinutes: number; systemFormat?: boolean },
): string[] {
  const user = opts.systemFormat === false ? '' : `${opts.user ?? 'root'} `;
  return [slotStamp(a, opts), `${a.cron} ${user}${opts.command}`];
}

/** The comment that records which slot of which geometry a block was planned for (see previousSlot). */
export function slotStamp(a: Pick<Assignment, 'slot' | 'start'>, opts: { window: string; slotMinutes: number }): string {
  return `# fleet:slot index=${a.slot} start=${a.start} window=${opts.window} minutes=${opts.slotMinutes}`;
}

/** Finds the job's block; undefined if absent. Throws InputError on malformed markers or entries. */
export function readManagedBlock(text: string, job: string, opts: BlockOptions = {}): ManagedBlock | undefined {
  const lines = splitLines(text);
  const found = scan(lines, job, opts);
  if (!found) return undefined;
  const inner = lines.slice(found.begin, found.end - 1);
  const slot = parseStamp(inner, opts);
  return { lines: inner, begin: found.begin, end: found.end, ...(slot ? { slot } : {}) };
}

/**
 * Replaces the job's block with `lines`, or appends it; an empty `lines` removes the block.
 * Applying the same lines twice returns the same text with changed=false.
 */
export function applyManagedBlock(
  text: string,
  job: string,
  lines: readonly string[],
  opts: BlockOptions = {},
): { text: string; changed: boolean } {
  const all = splitLines(text);
  const found = scan(all, job, opts);
  const block = lines.length === 0 ? [] : [`# BEGIN fleet:${job}`, ...lines, `# END fleet:${job}`];
  const at = found ? found.begin - 1 : all.length;
  block.forEach((line, i) => {
    if (line.includes('\n') || (i > 0 && i < block.length - 1 && MARKER.test(line))) {
      throw new InputError(`block line ${i} for job ${job} may not contain a newline or a fleet marker: "${line}"`, {
        file: opts.file,
      });
    }
  });
  // The new lines must be as valid as the rest of the file, reported where they would land.
  const check = validateCrontab(block.join('\n'), { systemFormat: opts.systemFormat ?? true });
  if (check.errors.length > 0) {
    const first = check.errors[0]!;
    throw new InputError(`new block for ${job}: ${first.message}`, { file: opts.file, line: at + first.line! });
  }
  let out: string;
  if (found) {
    const before = all.slice(0, found.begin - 1);
    const after = all.slice(found.end);
    out = joinLines([...before, ...block, ...after], text);
    // cron ignores a last line without a newline; our block must never be that line.
    if (after.length === 0 && block.length > 0 && !out.endsWith('\n')) out += '\n';
  } else if (block.length === 0) {
    out = text;
  } else {
    // Appending needs a line break after a last line that lacks one; nothing else is touched.
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    out = `${text}${sep}${block.join('\n')}\n`;
  }
  return { text: out, changed: out !== text };
}

/** A stamp's slot index if it was planned for the same window and slot length, else by its start time. */
export function previousSlot(block: ManagedBlock | undefined, geo: SlotGeometry): number | undefined {
  const stamp = block?.slot;
  if (!stamp) return undefined;
  if (stamp.index !== undefined && stamp.window === geo.window && stamp.slotMinutes === geo.slotMinutes) {
    return stamp.index < geo.count ? stamp.index : undefined;
  }
  return stamp.start === undefined ? undefined : slotAt(geo, stamp.start);
}

function scan(lines: readonly string[], job: string, opts: BlockOptions): { begin: number; end: number } | undefined {
  if (!JOB_NAME.test(job)) throw new InputError(`invalid job name "${job}"`, { file: opts.file });
  const where = (i: number) => ({ file: opts.file, line: i + 1 });
  let open: { job: string; line: number } | undefined;
  let found: { begin: number; end: number } | undefined;
  lines.forEach((line, i) => {
    const m = MARKER.exec(line);
    if (!m) return;
    const [, kind, name] = m;
    if (kind === 'BEGIN') {
      if (open) {
        throw new InputError(`BEGIN fleet:${name} inside the block fleet:${open.job} opened at line ${open.line}`, where(i));
      }
      if (name === job && found) {
        throw new InputError(`second block for fleet:${job} (the first starts at line ${found.begin})`, where(i));
      }
      open = { job: name!, line: i + 1 };
    } else {
      if (!open) throw new InputError(`END fleet:${name} without a BEGIN`, where(i));
      if (open.job !== name) {
        throw new InputError(`END fleet:${name} closes the block fleet:${open.job} opened at line ${open.line}`, where(i));
      }
      if (name === job) found = { begin: open.line, end: i + 1 };
      open = undefined;
    }
  });
  if (open) throw new InputError(`BEGIN fleet:${open.job} has no END`, { file: opts.file, line: open.line });
  const report = validateCrontab(lines.join('\n'), { systemFormat: opts.systemFormat ?? true, file: opts.file });
  if (report.errors.length > 0) throw report.errors[0]!;
  return found;
}

function parseStamp(inner: readonly string[], opts: BlockOptions): SlotStamp | undefined {
  for (const line of inner) {
    const m = STAMP.exec(line.trim());
    if (!m) continue;
    const stamp: SlotStamp = {};
    for (const [, key, value] of m[1]!.matchAll(/(\w+)=(\S+)/g)) {
      if (key === 'index' && /^\d+$/.test(value!)) stamp.index = Number(value);
      else if (key === 'start' && parseClock(value!) !== undefined) stamp.start = value;
      else if (key === 'window') stamp.window = value;
      else if (key === 'minutes' && /^\d+$/.test(value!)) stamp.slotMinutes = Number(value);
    }
    return stamp;
  }
  // No stamp (a hand-written or older block): a single daily time is still a usable start.
  const report = validateCrontab(inner.join('\n'), { systemFormat: opts.systemFormat ?? true });
  for (const entry of report.entries) {
    const [minute, hour] = (entry.fields ?? '').split(' ');
    if (/^\d+$/.test(minute ?? '') && /^\d+$/.test(hour ?? '')) {
      return { start: `${hour!.padStart(2, '0')}:${minute!.padStart(2, '0')}` };
    }
  }
  return undefined;
}

/** Joins lines the way the original text was terminated (with or without a final newline). */
function joinLines(lines: readonly string[], original: string): string {
  if (lines.length === 0) return '';
  return lines.join('\n') + (original === '' || original.endsWith('\n') ? '\n' : '');
}
