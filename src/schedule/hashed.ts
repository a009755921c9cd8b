// Jenkins-style hashed cron fields (H, H(a-b), H/n, H(a-b)/n) expanded to a plain cron line per guest.
//
// Each H term becomes a fixed number derived from the guest, never from the clock, so every run of
// `fleet cron plan` writes the same line. The frozen scheme, for field f (0 minute, 1 hour, 2 day of
// month, 3 month, 4 day of week) and the t-th comma-separated term (from 0) of that field:
//
//   h = hash64("clonefleet H v1" LF seedKey LF f LF t)     (first 8 bytes of SHA-256, big-endian)
//   H        -> lo + h mod (hi - lo + 1)      over the field's H range
//   H(a-b)   -> a + h mod (b - a + 1)         a <= b inside the field; no wrap (as in Jenkins):
//                                             use planSlots' window for spans across midnight
//   H/n      -> (lo + h mod n)-hi/n           the offset stays below the step
//   H(a-b)/n -> (a + h mod n)-b/n             n may not exceed b - a + 1
//
// H ranges are the field ranges except day of month, which is 1-28 so that every month has the day
// (Jenkins does the same). Jenkins' nicknames map to H forms: @hourly "H * * * *", @daily and
// @midnight "H H * * *", @weekly "H H * * H", @monthly "H H H * *", @yearly/@annually "H H H H *".
// Unlike planSlots, H spreads without any cap: fine for light jobs, not for the nightly storm.
import { InputError } from '../core/errors.js';
import { checkSchedule } from './cronsyntax.js';
import { hash64 } from './hash.js';

const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const H_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 23],
  [1, 28],
  [1, 12],
  [0, 6],
];
const H_NICKNAMES: Readonly<Record<string, string>> = {
  '@hourly': 'H * * * *',
  '@daily': 'H H * * *',
  '@midnight': 'H H * * *',
  '@weekly': 'H H * * H',
  '@monthly': 'H H H * *',
  '@yearly': 'H H H H *',
  '@annually': 'H H H H *',
};
const H_TERM = /^H(?:\((\d+)-(\d+)\))?(?:\/(\d+))?$/;

/** The seed key for a guest and job: stable across runs, and distinct per job so jobs do not align. */
export function seedKeyFor(address: string, job: string): string {
  return `${address.trim().toLowerCase()} ${job}`;
}

/** Expands every H term of `spec` for the guest keyed `seedKey`; the result is checked cron syntax. */
export function expandHashed(spec: string, seedKey: string, where: { file?: string; line?: number } = {}): string {
  const fail = (why: string): never => {
    throw new InputError(`cron spec "${spec}": ${why}`, where);
  };
  const text = spec.trim();
  const nick = text.toLowerCase();
  const expanded = text.startsWith('@') ? H_NICKNAMES[nick] : text;
  if (expanded === undefined) fail(`no hashed form for ${text} (use one of ${Object.keys(H_NICKNAMES).join(', ')})`);
  const fields = expanded!.split(/\s+/);
  if (fields.length !== 5) fail(`has ${fields.length} fields, cron needs 5`);

  const out = fields.map((field, f) =>
    field
      .split(',')
      .map((term, t) => {
        if (!term.startsWith('H')) return term;
        return expandTerm(term, f, hash64(`clonefleet H v1\n${seedKey}\n${f}\n${t}`), fail);
      })
      .join(','),
  );
  const line = out.join(' ');
  const checked = checkSchedule(line);
  if ('error' in checked) fail(checked.error);
  return line;
}

function expandTerm(term: string, f: number, h: bigint, fail: (why: string) => never): string {
  const m = H_TERM.exec(term);
  if (!m) return fail(`"${term}" is not H, H(a-b), H/n or H(a-b)/n`);
  const [min, max] = RANGES[f]!;
  let [lo, hi] = H_RANGES[f]!;
  if (m[1] !== undefined) {
    lo = Number(m[1]);
    hi = Number(m[2]);
    if (lo > hi) {
      fail(`range ${lo}-${hi} in "${term}" wraps; H ranges run low to high (use a window plan for night spans)`);
    }
    if (lo < min || hi > max) fail(`range ${lo}-${hi} in "${term}" is outside ${min}-${max}`);
  }
  const pick = (n: number) => lo + Number(h % BigInt(n));
  if (m[3] === undefined) return String(pick(hi - lo + 1));
  const step = Number(m[3]);
  if (step < 1) fail(`step in "${term}" must be at least 1`);
  if (step > hi - lo + 1) fail(`step ${step} in "${term}" is wider than the range ${lo}-${hi}`);
  const start = pick(step);
  if (start + step > hi) return String(start);
  return step === 1 ? `${start}-${hi}` : `${start}-${hi}/${step}`;
}
