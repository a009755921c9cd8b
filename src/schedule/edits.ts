// One guest's side of a job plan: what it carries now (readPrevious) and the file edits that give it
// its planned lines (guestEdits). Pure: files in, texts out; the CLI reads and writes them.
//
// The job's block lives in one place (/etc/crontab or /etc/cron.d/fleet-<job>); a block left in the
// other place after switching with --cron-d would run the job twice, so it is removed in the same go.
import { InputError } from '../core/errors.js';
import { applyManagedBlock, previousSlot, readManagedBlock, slotStamp } from './block.js';
import { validateCrontab } from './crontab.js';
import { jobPath, type CronJob, type GuestSlot, type PreviousJob } from './job.js';
import { replaceRunCrons } from './runcrons.js';
import type { SlotGeometry } from './window.js';

export interface FileEdit {
  path: string;
  /** undefined when the file does not exist yet. */
  before: string | undefined;
  after: string;
  changed: boolean;
}

export interface GuestEdits {
  edits: FileEdit[];
  /** Why nothing was written although the plan says something (e.g. no run-crons line to replace). */
  note?: string;
}

/** Both places a job's block may be, its own first. */
function places(job: CronJob): [string, string] {
  const own = jobPath(job);
  const other = jobPath({ job: job.job, place: job.place === 'cron.d' ? 'crontab' : 'cron.d' });
  return [own, other];
}

/**
 * What the guest carries for this job: its slot under `geo` and its first entry's schedule.
 * Undefined when it has no block. Throws InputError (file and line) on malformed files.
 */
export function readPrevious(
  job: CronJob,
  files: ReadonlyMap<string, string>,
  geo: SlotGeometry | undefined,
): PreviousJob | undefined {
  for (const path of places(job)) {
    const text = files.get(path);
    if (text === undefined) continue;
    const block = readManagedBlock(text, job.job, { file: path });
    if (!block) continue;
    const entry = block.lines.find((l) => !/^\s*(#|$)/.test(l));
    const cron = entry?.trim().replace(/^-/, '').split(/\s+/).slice(0, 5).join(' ');
    const slot = geo ? previousSlot(block, geo) : undefined;
    return { ...(slot !== undefined ? { slot } : {}), ...(cron ? { cron } : {}) };
  }
  return undefined;
}

/** The block's lines for one guest (command jobs). */
export function blockLines(job: CronJob, g: GuestSlot): string[] {
  if (job.action.kind !== 'command') throw new Error('blockLines is for command jobs');
  return [stampFor(job, g), `${g.cron} ${job.user} ${job.action.command}`];
}

function stampFor(job: CronJob, g: GuestSlot): string {
  return job.timing.kind === 'window' && g.slot !== null && g.start !== null
    ? slotStamp({ slot: g.slot, start: g.start }, job.timing)
    : `# fleet:schedule ${job.timing.kind === 'hashed' ? job.timing.schedule : g.cron}`;
}

/**
 * The edits that give the guest its planned lines, leaving every other line alone. Throws
 * an InputError with file and line if a file is malformed or the result would not parse.
 */
export function guestEdits(job: CronJob, files: ReadonlyMap<string, string>, g: GuestSlot): GuestEdits {
  const [own, other] = places(job);
  const edits: FileEdit[] = [];
  let note: string | undefined;
  const before = files.get(own);
  if (job.action.kind === 'run-crons') {
    const text = before ?? '';
    const r = replaceRunCrons(text, {
      slotCron: g.cron,
      scripts: job.action.scripts,
      job: job.job,
      user: job.user,
      header: [stampFor(job, g)],
      ...(g.hourlyMinute !== undefined ? { hourlyMinute: g.hourlyMinute } : {}),
      file: own,
    });
    if (!r.changed && !readManagedBlock(text, job.job, { file: own })) {
      note = `no run-crons entry in ${own} and no fleet:${job.job} block: nothing to replace`;
    }
    edits.push({ path: own, before, after: r.text, changed: before === undefined ? r.text !== '' : r.text !== before });
  } else {
    const after = applyManagedBlock(before ?? '', job.job, blockLines(job, g), { file: own }).text;
    edits.push({ path: own, before, after, changed: before !== after });
  }
  refuseForeignZone(edits[0]!.after, job.job, own);
  const otherText = files.get(other);
  if (otherText !== undefined && readManagedBlock(otherText, job.job, { file: other })) {
    const after = applyManagedBlock(otherText, job.job, [], { file: other }).text;
    edits.push({ path: other, before: otherText, after, changed: true });
  }
  return note ? { edits, note } : { edits };
}

/**
 * The block's times are the guest's own wall-clock times: under a CRON_TZ set above it, cron would
 * read them in that zone and the spread would land hours off. Refused, naming the line to move.
 */
function refuseForeignZone(text: string, job: string, file: string): void {
  const block = readManagedBlock(text, job, { file });
  if (!block) return;
  const zoned = validateCrontab(text, { systemFormat: true, file }).entries.find((e) => e.tz && e.line > block.begin && e.line < block.end);
  if (!zoned) return;
  throw new InputError(
    `CRON_TZ=${zoned.tz} is in effect at the fleet:${job} block (lines ${block.begin}-${block.end}): cron would read its times ` +
      'in that zone, not the guest\'s; move the CRON_TZ line below the block, or use --cron-d',
    { file, line: block.begin },
  );
}

/** Every edit's result must parse the way cron will read it: the last check before anything is written. */
export function checkEdits(edits: readonly FileEdit[]): void {
  for (const e of edits) {
    const report = validateCrontab(e.after, { systemFormat: true, file: e.path });
    if (report.errors.length > 0) throw report.errors[0]!;
  }
}
