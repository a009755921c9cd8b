// From what was collected to the report: every check over the fleet, guests that could not be
// audited (never skipped in silence), findings worst first, and the summary. Pure: no I/O.
import { foldHosts } from '../inventory/index.js';
import { adminPasswordFindings, sharedHashFindings, uidZeroFindings } from './accounts.js';
import { cronDay, cronStormFindings } from './cron-storm.js';
import { SHADOW } from './guest-script.js';
import { hostnameFindings, kexFindings, machineIdFindings, pinVerdictFindings, sharedKeyFindings, stalePinFindings } from './identity.js';
import { SEVERITIES, sortFindings, type AuditOptions, type AuditReport, type Finding, type GuestAudit, type GuestFacts, type Severity } from './model.js';
import { strictCheckingFindings } from './ssh-client-config.js';

const REMEDY_BY_STATUS: Record<string, string> = {
  'hostkey-refused': 'fleet keys scan shows what the guest presents; pin it after checking (fleet keys trust)',
  'auth-refused': 'check the login user and key (--user, --identity, the guest\'s authorized_keys)',
  failed: 'see the error: the audit command needs sh, uname, cut, sort, sed and base64 on the guest',
  timeout: 'check the guest (console, load), or give it longer with --connect-timeout / --timeout',
  unreachable: 'check the guest is up and reachable, then audit again',
};

/** Guests the audit could not log in to or run on, one finding per reason. */
function unreachableFindings(guests: readonly GuestAudit[]): Finding[] {
  const byStatus = new Map<string, GuestAudit[]>();
  for (const g of guests) if (g.login.status !== 'ok') byStatus.set(g.login.status, [...(byStatus.get(g.login.status) ?? []), g]);
  return [...byStatus].map(([status, gs]) => ({
    check: 'unreachable', severity: 'high', hosts: gs.map((g) => g.host), data: { status },
    title: `${gs.length} guest${gs.length === 1 ? '' : 's'} not audited (${status}): nothing is known of ${gs.length === 1 ? 'it' : 'them'}`,
    remedy: REMEDY_BY_STATUS[status] ?? REMEDY_BY_STATUS.unreachable!,
    details: gs[0]!.login.error ? [`e.g. ${gs[0]!.login.error}`] : [],
  }));
}

/** Checks that could not be made on guests that were reached: said, not skipped. */
function notCheckedFindings(guests: readonly GuestAudit[], audited: readonly { host: string; facts: GuestFacts }[]): Finding[] {
  const out: Finding[] = [];
  const noSudo = audited.filter((g) => !g.facts.privileged);
  if (noSudo.length > 0) {
    const paths = [...new Set(noSudo.flatMap((g) => g.facts.unreadable))];
    out.push({
      check: 'not-checked', severity: 'medium', hosts: noSudo.map((g) => g.host), data: { reason: 'no-sudo', sudo: noSudo[0]!.facts.sudoError, unreadable: paths },
      title: `sudo -n refused on ${noSudo.length} guest${noSudo.length === 1 ? '' : 's'}: shared password hashes and admin passwords not checked${paths.length ? `; unreadable: ${paths.join(', ')}` : ''}`,
      remedy: 'let the login user run sudo without a password (NOPASSWD, as playbooks/common-account.yaml sets up), or audit as a user who can',
      details: [`sudo said: ${noSudo[0]!.facts.sudoError}`],
    });
  }
  const noShadow = audited.filter((g) => g.facts.privileged && !g.facts.files.has(SHADOW));
  if (noShadow.length > 0) {
    out.push({
      check: 'not-checked', severity: 'medium', hosts: noShadow.map((g) => g.host), data: { reason: 'no-shadow' },
      title: `no readable ${SHADOW}: password hashes not checked`, remedy: 'check how these guests keep passwords (LDAP, /etc/passwd hashes)', details: [],
    });
  }
  const unprobed = guests.filter((g) => g.login.status === 'ok' && !g.keys);
  if (unprobed.length > 0) {
    out.push({
      check: 'not-checked', severity: 'medium', hosts: unprobed.map((g) => g.host), data: { reason: 'host-keys' },
      title: 'host keys not probed: shared keys and stale pins not checked', remedy: 'fleet keys scan shows why',
      details: unprobed[0]!.keysError ? [`e.g. ${unprobed[0]!.keysError}`] : [],
    });
  }
  return out;
}

/** The whole audit over what was collected. */
export function analyzeAudit(guests: readonly GuestAudit[], o: AuditOptions): AuditReport {
  const audited = guests.flatMap((g) => (g.login.status === 'ok' && g.facts ? [{ host: g.host, facts: g.facts }] : []));
  const day = cronDay(audited, o.day ?? new Date(), o.tz ?? 'UTC');
  const all = [
    ...sharedKeyFindings(guests), ...pinVerdictFindings(guests), ...uidZeroFindings(audited), ...sharedHashFindings(audited),
    ...adminPasswordFindings(audited), ...strictCheckingFindings(audited), ...machineIdFindings(audited),
    ...cronStormFindings(day, o.cap), ...unreachableFindings(guests), ...hostnameFindings(audited), ...stalePinFindings(guests),
    ...notCheckedFindings(guests, audited), ...kexFindings(guests),
  ];
  const ignore = new Set(o.ignore ?? []);
  const findings = sortFindings(all.filter((f) => !ignore.has(f.check)));
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<Severity, number>;
  const byCheck: AuditReport['summary']['byCheck'] = {};
  for (const f of findings) byCheck[f.check] = (byCheck[f.check] ?? 0) + 1;
  const kexMissing = guests.filter((g) => g.login.status === 'ok' && !g.kex && g.kexError);
  const notes = kexMissing.length === 0 ? [] : [`key exchange offer not read on ${foldHosts(kexMissing.map((g) => g.host))} (${kexMissing.length}): ${kexMissing[0]!.kexError}`];
  return {
    findings,
    summary: {
      guests: guests.length, audited: audited.length, unreachable: guests.length - audited.length,
      findings: findings.length, bySeverity, byCheck, ignored: all.length - findings.length,
      cron: day ? { peak: day.peak, cap: o.cap, peakMinutes: day.peakMinutes } : null, notes,
    },
  };
}
