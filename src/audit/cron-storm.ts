// The cron storm: how many guests start jobs in the same minute, from the scheduler's own analysis
// (every entry of every cron file expanded over one day), against the scheduler's cap.
import { foldHosts } from '../inventory/index.js';
import { cronEntries, CRON_D, expandStarts, SYSTEM_CRONTAB, USER_SPOOLS, type CronFile, type DayStarts } from '../schedule/index.js';
import type { Finding, GuestFacts } from './model.js';

type Guest = { host: string; facts: GuestFacts };

const isCronFile = (path: string) => path === SYSTEM_CRONTAB || path.startsWith(`${CRON_D}/`) || USER_SPOOLS.some((d) => path.startsWith(`${d}/`));

/** The fleet's cron starts per minute of the day (null when no guest's cron files were read). */
export function cronDay(guests: readonly Guest[], day: Date, tz: string): DayStarts | null {
  if (guests.length === 0) return null;
  const entries = guests.flatMap((g) => {
    const files: CronFile[] = [...g.facts.files].filter(([p]) => isCronFile(p)).map(([path, text]) => ({ path, text }));
    return cronEntries(g.host, files).entries;
  });
  return expandStarts(entries, day, tz);
}

export function cronStormFindings(day: DayStarts | null, cap: number): Finding[] {
  if (!day || day.peak <= cap) return [];
  const hosts = [...new Set(day.causes.flatMap((c) => c.hosts))];
  const above = day.counts.filter((c) => c > cap).length;
  const times = day.peakMinutes.length > 6 ? `${day.peakMinutes.slice(0, 6).join(', ')}, ...` : day.peakMinutes.join(', ');
  return [{
    check: 'cron-storm', severity: 'high', hosts,
    data: { peak: day.peak, cap, peakMinutes: day.peakMinutes, minutesAboveCap: above },
    title: `cron storm: ${day.peak} guests start jobs in the same minute (cap ${cap}), ${above} minute${above === 1 ? '' : 's'} a day above the cap, at ${times}`,
    remedy: 'playbooks/stagger-nightly-cron.yaml (or fleet cron apply --replace-run-crons); fleet cron analyze shows the load',
    details: day.causes.slice(0, 3).map((c) => `${c.hosts.length} guests (${foldHosts(c.hosts)}): ${c.schedule} ${c.command}`),
  }];
}
