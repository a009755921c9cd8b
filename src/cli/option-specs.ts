// The schema of every option value, by long flag: what each takes and how it is converted, with
// values it refuses (for the test that walks every option). Loaded only when a command runs; the
// checks are a few lines of their own rather than zod, whose ~95 modules every command paid for at
// start-up (~75 ms of CPU).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command, Option } from 'commander';
import { CHECK_IDS } from '../audit/model.js';
import { UsageError } from '../core/index.js';
import { parseSlot } from '../schedule/window.js';
import { faultSpecProblem } from './positionals.js';

type Outcome<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A check of one raw value, in steps: the first refusal is the answer, conversions feed the next step. */
class Check<T> {
  constructor(readonly run: (raw: string) => Outcome<T>) {}

  /** Refuses with `message` what `ok` does not accept. */
  refine(ok: (v: T) => boolean, message: string): Check<T> {
    return this.then((v) => (ok(v) ? { ok: true, value: v } : { ok: false, problem: message }));
  }

  /** Refuses with the problem `problem` names, if it names one. */
  problem(problem: (v: T) => string | undefined): Check<T> {
    return this.then((v) => {
      const p = problem(v);
      return p === undefined ? { ok: true, value: v } : { ok: false, problem: p };
    });
  }

  transform<U>(convert: (v: T) => U): Check<U> {
    return this.then((v) => ({ ok: true, value: convert(v) }));
  }

  private then<U>(next: (v: T) => Outcome<U>): Check<U> {
    return new Check((raw) => {
      const r = this.run(raw);
      return r.ok ? next(r.value) : r;
    });
  }
}

const str = () => new Check<string>((raw) => ({ ok: true, value: raw }));
const matching = (re: RegExp, message: string) => str().refine((v) => re.test(v), message);

/** How one option's value is checked (raw text in, the value the command uses out). */
export interface OptionSpec {
  schema: Check<unknown>;
  /** Values the schema refuses, for the test that walks every option (an empty value always is). */
  refuses: string[];
}

const text = (what = 'a value') => str().refine((v) => v.trim() !== '' && !/[\n\r\0]/.test(v), `must be ${what} (not empty, one line)`);

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  str()
    .refine((v) => /^\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max,
      max === Number.MAX_SAFE_INTEGER ? `must be a whole number of at least ${min}` : `must be a whole number from ${min} to ${max}`)
    .transform(Number);

const decimal = (min: number, exclusive: boolean, max = Infinity) =>
  str()
    .refine((v) => {
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) && (exclusive ? n > min : n >= min) && n <= max;
    }, `must be a number ${exclusive ? 'above' : 'of at least'} ${min}${max < Infinity ? ` and at most ${max}` : ''}`)
    .transform(Number);

// Beyond 2^31-1 ms Node's timers fire after 1 ms: an oversized timeout would time out every guest.
const seconds = (max: number, range: string) =>
  str()
    .refine((v) => v.trim() !== '' && Number(v) > 0 && Number(v) <= max, `must be a number of seconds greater than 0 and at most ${max} (${range})`)
    .transform(Number);

/** `N` or `P%`: a batch is at least one guest and at most all of them; a failure budget may be 0. */
const amount = (min: number) =>
  str()
    .refine((v) => {
      const m = /^(\d+)(%?)$/.exec(v.trim());
      return !!m && Number(m[1]) >= min && (!m[2] || Number(m[1]) <= 100);
    }, `takes a whole number${min ? ` of at least ${min}` : ''} or a percentage from ${min}% to 100%`)
    .transform((v) => v.trim());

const clock = matching(/^([01]?\d|2[0-3]):[0-5]\d$/, 'must be a time of day HH:MM');

const oneOf = (names: readonly string[]) =>
  str()
    .refine((v) => {
      const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      return list.length > 0 && list.every((s) => names.includes(s));
    }, `takes a comma list of ${names.join(', ')}`)
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))]);

const existing = (what: string) => text(what).refine((v) => existsSync(v), `must name an existing ${what}`);
const writableIn = (what: string) => text(what).refine((v) => existsSync(dirname(v)), `must be a ${what} in an existing directory`);

/** A private key file: it exists, and is not the public half (`id_ed25519.pub` for `id_ed25519`). */
const privateKey = existing('private key file').problem((v) => {
  let head = '';
  try {
    if (statSync(v).isFile()) head = readFileSync(v).subarray(0, 200).toString('latin1').trimStart();
  } catch {
    // unreadable: reported where the key is read, with the system's reason
  }
  if (v.endsWith('.pub') || /^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/.test(head) || head.startsWith('---- BEGIN SSH2 PUBLIC KEY')) {
    return `must be a private key; this is a public key${v.endsWith('.pub') ? ` (try ${v.slice(0, -4)})` : ''}`;
  }
  return undefined;
});

const user = matching(/^[^\s@:]+$/, 'must be a user name (not empty, no spaces, @ or :)');

const YMD = str().refine((v) => {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T12:00:00Z`) : new Date(NaN);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}, 'must be a date YYYY-MM-DD');

const zone = str().refine((v) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: v });
    return v.trim() !== '';
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as UTC or Europe/Berlin');


const spec = (schema: Check<unknown>, ...refuses: string[]): OptionSpec => ({ schema, refuses });

const PORT = spec(str().refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, 'must be 1-65535').transform(Number), '0', '65536', 'ssh');
const COUNT = spec(integer(1), '0', '-1', 'abc', '1.5');
const NON_NEGATIVE = spec(decimal(0, false), '-1', 'abc');

/** Option specs by long flag; a function when the check depends on the command (its path, e.g. `keys trust`). */
const SPECS: Record<string, OptionSpec | ((command: string) => OptionSpec)> = {
  // selection and connection
  '--inventory': spec(existing('inventory file or directory'), 'no/such/inventory'),
  '--limit': spec(text('a selection pattern')),
  '--user': spec(user, 'a b', 'root@host'),
  '--port': PORT,
  '--jump': spec(text('[user@]host[:port][,next...] or none')),
  // A file that cannot be read is reported by the config reader (file and reason), also before connecting.
  '--ssh-config': spec(text('a file or none')),
  '--identity': spec(privateKey, 'no/such/key', 'inventory/known_hosts.pub'),
  // trust writes the pins it takes and scan reports what is not pinned yet (the first step of
  // enrolling a fleet), so the file may be new there; everywhere else a missing file is a typo that
  // would refuse every guest as unpinned.
  '--known-hosts': (command) => command === 'keys trust' || command === 'keys scan'
    ? spec(writableIn('known_hosts file'), 'no/such/dir/known_hosts')
    : spec(existing('known_hosts file'), 'no/such/known_hosts'),
  '--connect-timeout': spec(seconds(24 * 3600, '24 h'), '0', '-1', 'abc', '86401'),
  '--timeout': spec(seconds(7 * 24 * 3600, '7 days'), '0', '-1', 'abc', '604801'),
  '--fanout': spec(integer(1, 100_000), '0', '-1', 'abc', '1.5'),
  '--batch': spec(amount(1), '0', 'abc', '150%', '0%', '-1'),
  '--max-fail': spec(amount(0), 'x', '150%', '-1', '1.5'),
  '--retries': spec(integer(0, 100), '-1', 'abc', '101'),
  '--retry-delay': spec(decimal(0, false, 3600), '-1', 'abc', '3601'),
  '--rerun': spec(str().refine((v) => v === 'failed', "takes 'failed' (the guests the last run did not succeed on)"), 'ok', 'all'),
  // run, push, play
  '--out': spec(text('a directory')),
  '--mode': spec(matching(/^0?[0-7]{3,4}$/, 'must be octal permission bits such as 0644 or 600'), '999', 'rw'),
  '--owner': spec(str().refine((v) => v !== ':' && /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*)?(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?$/.test(v), 'must be user, user:group or :group'), 'a b', ':'),
  '--extra-var': spec(matching(/^[A-Za-z_][A-Za-z0-9_]*=/s, 'must be NAME=VALUE (a name of letters, digits and _)'), 'novalue', '1x=2'),
  '--canary': COUNT,
  // cron
  '--job': spec(matching(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a job name of letters, digits, '.', '_' and '-'"), 'a b', '-x'),
  '--command': spec(text('a shell command')),
  '--window': spec(matching(/^([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d$/, 'must be HH:MM-HH:MM, e.g. 23:00-06:00'), '23:00', '25:00-06:00'),
  // The scheduler's own reading, so the message is the one `cron` commands give everywhere.
  '--slot': spec(str().transform((v) => (parseSlot(v), v)), '0', 'abc'),
  '--cap': COUNT,
  '--schedule': spec(text('a cron schedule')),
  '--scripts': spec(oneOf(['hourly', 'daily', 'weekly', 'monthly']).transform((l) => l.join(',')), 'yearly'),
  '--cron-user': spec(matching(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a user name'), '1root', 'a b'),
  '--tz': spec(zone, 'Mars/Olympus'),
  '--date': spec(YMD, '2024-02-30', 'today'),
  '--top': COUNT,
  '--plot': spec(writableIn('file'), 'no/such/dir/day.svg'),
  '--svg': spec(writableIn('file'), 'no/such/dir/day.svg'),
  '--from': spec(clock, '25:00', 'noon'),
  '--daily-at': spec(clock, '24:00', 'midnight'),
  '--capacity': COUNT,
  '--job-minutes': spec(decimal(0, true), '0', '-1', 'abc'),
  '--thrash': NON_NEGATIVE,
  '--idle-seconds': NON_NEGATIVE,
  '--unresponsive-queue': NON_NEGATIVE,
  // keys
  '--types': spec(oneOf(['ed25519', 'ecdsa', 'rsa']), 'dsa', ','),
  // audit
  '--ignore': spec(oneOf(CHECK_IDS), 'bogus', ','),
  '--restart-command': spec(text('a shell command')),
  '--confirm-with': spec(text('a shell command')),
  '--console': spec(text('a shell command')),
  '--journal': spec(writableIn('journal file'), 'no/such/dir/journal'),
  // emulator
  '--state': spec(text('a state directory')),
  '--guests': spec(integer(1, 65_000), '0', '-1', 'abc'),
  '--subnet': spec(matching(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}\/([89]|[12]\d|30)$/, 'must be a loopback subnet such as 127.77.0.0/16 (prefix 8-30)'), '10.0.0.0/8', '127.77.0.0'),
  '--host-capacity': COUNT,
  '--fault': spec(str().refine((v) => !faultSpecProblem(v), 'takes KIND[:MS]@WHO (see Faults below)'), 'bogus@3', 'slow:abc@3'),
  '--seed': spec(text('a seed')),
  '--golden-from': spec(text('a guest of an emulator state directory, STATE/guests/NAME')),
  '--clear': spec(matching(/^(refuse|hang|slow|drop|auth-reject|hostkey|mitm)?(@[^@\s]+)?$/, 'takes KIND, @WHO or KIND@WHO'), 'bogus', 'slow:abc@3'),
};

/** The spec of one option of one command (`run`, `keys trust`, ...), or undefined if none is known. */
export function optionSpec(command: string, opt: Option): OptionSpec | undefined {
  const s = opt.long ? SPECS[opt.long] : undefined;
  return typeof s === 'function' ? s(command) : s;
}

/**
 * Checks (and converts) every value the command line or the environment gave to the command at
 * `path` (`keys rotate`); throws the first problem.
 */
export function checkOptions(cmd: Command, path: string): void {
  for (const opt of cmd.options) {
    if (!(opt.required || opt.optional)) continue;
    const key = opt.attributeName();
    const source = cmd.getOptionValueSource(key);
    if (source !== 'cli' && source !== 'env') continue;
    const value = cmd.getOptionValue(key);
    if (value === true) continue; // an optional value left out (--clear)
    const s = optionSpec(path, opt);
    const name = source === 'env' ? `${opt.envVar} (${opt.long})` : (opt.long ?? opt.flags);
    const one = (raw: string): unknown => {
      if (raw.trim() === '') throw new UsageError(`${name} needs a value, got an empty one`);
      if (!s) return raw;
      const r = s.schema.run(raw);
      if (r.ok) return r.value;
      throw new UsageError(`${name} ${r.problem}, got '${raw}'`);
    };
    const checked = Array.isArray(value) ? value.map((v) => one(String(v))) : one(String(value));
    if (!Array.isArray(value) || opt.variadic) cmd.setOptionValueWithSource(key, checked, source);
  }
}

