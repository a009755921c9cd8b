// Time window and slot geometry: "23:00-06:00" cut into fixed-length slots, each with its wall-clock start.
import { UsageError } from '../core/errors.js';

const DAY = 1440;

/** A window cut into `count` slots of `slotMinutes`; minutes are counted from local midnight. */
export interface SlotGeometry {
  window: string;
  /** Minute of day the window opens. */
  start: number;
  /** Window length in minutes; "HH:MM-HH:MM" with equal ends means the whole day. */
  length: number;
  slotMinutes: number;
  count: number;
}

/** Parses "HH:MM" into a minute of day, or undefined when it is not a valid clock time. */
export function parseClock(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h < 24 && min < 60 ? h * 60 + min : undefined;
}

/** Formats a minute (of day, or past midnight, wrapped) as "HH:MM". */
export function formatClock(minute: number): string {
  const m = ((Math.floor(minute) % DAY) + DAY) % DAY;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** Formats a duration in minutes as "7h24m" for messages. */
export function formatDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h === 0 ? `${m}m` : m === 0 ? `${h}h` : `${h}h${String(m).padStart(2, '0')}m`;
}

/** Validates the window and slot length once, at the edge; everything after trusts the geometry. */
export function slotGeometry(window: string, slotMinutes: number): SlotGeometry {
  const parts = window.split('-');
  const start = parts.length === 2 ? parseClock(parts[0]!) : undefined;
  const end = parts.length === 2 ? parseClock(parts[1]!) : undefined;
  if (start === undefined || end === undefined) {
    throw new UsageError(`invalid window "${window}": expected HH:MM-HH:MM, e.g. 23:00-06:00 (may wrap midnight)`);
  }
  // Equal ends can only mean "all day": an empty window would schedule nothing.
  const length = end > start ? end - start : end + DAY - start;
  if (!Number.isInteger(slotMinutes) || slotMinutes < 1 || slotMinutes > length) {
    throw new UsageError(
      `invalid slot length ${slotMinutes}: expected whole minutes between 1 and the window's ${length}`,
    );
  }
  return { window, start, length, slotMinutes, count: Math.floor(length / slotMinutes) };
}

/** Minute of day at which slot `index` starts. */
export function slotMinute(geo: SlotGeometry, index: number): number {
  return (geo.start + index * geo.slotMinutes) % DAY;
}

/** The cron time fields "M H * * *" for a daily run at the start of slot `index`. */
export function slotCron(geo: SlotGeometry, index: number): string {
  const m = slotMinute(geo, index);
  return `${m % 60} ${Math.floor(m / 60)} * * *`;
}

/** The slot that starts exactly at `clock` ("HH:MM"), or undefined if that time is no slot start. */
export function slotAt(geo: SlotGeometry, clock: string): number | undefined {
  const minute = parseClock(clock);
  if (minute === undefined) return undefined;
  const offset = (minute - geo.start + DAY) % DAY;
  if (offset % geo.slotMinutes !== 0) return undefined;
  const index = offset / geo.slotMinutes;
  return index < geo.count ? index : undefined;
}

/** "12m", "12" or "1h" as whole minutes; `name` spells the option as its source does. Here, not beside
 * the job's other options, because the CLI checks --slot on every `fleet cron` call and this module
 * pulls in no cron parsing. */
export function parseSlot(text: string, name: (key: string) => string = (key) => `--${key}`): number {
  const m = /^(\d+)\s*(m|min|h)?$/.exec(text.trim());
  const minutes = m ? Number(m[1]) * (m[2] === 'h' ? 60 : 1) : NaN;
  if (!Number.isInteger(minutes) || minutes < 1) throw new UsageError(`invalid ${name('slot')} "${text}": expected minutes like 12m, 12 or 1h`);
  return minutes;
}
