// `fleet cron plan|apply|analyze|simulate` end to end, in-process through main(), on a small emulated fleet.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleet } from './cli-harness.js';
import { Emulator } from '../../src/emulator/index.js';

let emu: Emulator;
let dir: string;
const GUESTS = 12;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-cron-test-'));
  emu = await Emulator.start({ guests: GUESTS, state: join(dir, 'state'), subnet: '127.110.0.0/16', port: 2222 });
});

afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});


const sel = () => ['-i', emu.inventoryPath, '--identity', emu.clientKeyPath];
const jsonLines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));
const guestFile = (i: number, path: string) => join(emu.guests[i - 1]!.cfg.dir, path);
const crontabOf = (i: number) => readFileSync(guestFile(i, 'etc/crontab'), 'utf8');
const NIGHTLY = ['--job', 'nightly', '--command', 'run-parts /etc/cron.daily', '--window', '23:00-00:00', '--slot', '12m', '--cap', '3'];

describe('fleet cron plan', () => {
  it('prints one JSON line per guest in the DESIGN shape, then a summary', async () => {
    const r = await fleet('cron', 'plan', ...sel(), ...NIGHTLY, '--offline', '--json');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out);
    const guests = rows.slice(0, -1);
    expect(guests).toHaveLength(GUESTS);
    for (const g of guests) {
      expect(Object.keys(g)).toEqual(['host', 'address', 'slot', 'start', 'cron']);
      expect(g.start).toMatch(/^23:(00|12|24|36|48)$/);
      expect(g.cron).toBe(`${Number(g.start.slice(3))} 23 * * *`);
    }
    const perSlot = new Map<number, number>();
    for (const g of guests) perSlot.set(g.slot, (perSlot.get(g.slot) ?? 0) + 1);
    expect(Math.max(...perSlot.values())).toBeLessThanOrEqual(3);
    expect(rows.at(-1).summary).toMatchObject({ job: 'nightly', guests: GUESTS, slots: 5, cap: 3, offline: true, lastEnds: '00:00' });
  });

  it('prints a table of slots with folded hosts, the peak and the last block (offline: no key needed)', async () => {
    const r = await fleet('cron', 'plan', '-i', emu.inventoryPath, ...NIGHTLY, '--offline');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/window 23:00-00:00 = 5 slots of 12 min, cap 3/);
    expect(r.out).toMatch(/^23:00\s+\d\s+guest/m);
    expect(r.out).toMatch(/peak 3 guests in one slot \(best possible 3, cap 3\)/);
    expect(r.out).toMatch(/last block starts 23:48, its slot ends 00:00/);
    expect(r.out).toMatch(/--offline/);
  });

  it('plans from the inventory when no guest can be read, warning why, and exits 3 for refused host keys', async () => {
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const r = await fleet('cron', 'plan', ...sel(), '--known-hosts', empty, ...NIGHTLY, '--connect-timeout', '5');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/warning: could not read the current slot of: guest\[001-012\] \(12\) hostkey-refused, e.g. .*not pinned/);
    expect(r.out).toMatch(/no guest could be read: planned from the inventory alone/);
    const offline = await fleet('cron', 'plan', ...sel(), ...NIGHTLY, '--offline', '--json');
    const online = await fleet('cron', 'plan', ...sel(), '--known-hosts', empty, ...NIGHTLY, '--json');
    expect(online.out.split('\n').slice(0, GUESTS)).toEqual(offline.out.split('\n').slice(0, GUESTS));
  });

  it('exits 2 and says what would fit when the fleet does not', async () => {
    const r = await fleet('cron', 'plan', ...sel(), '--job', 'nightly', '--command', 'x', '--window', '23:00-23:24', '--cap', '3', '--offline');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/12 guests do not fit: 2 slots of 12 min in 23:00-23:24 × cap 3 = 6/);
    expect(r.err).toMatch(/a window of at least 48m.*slots of at most 6 min.*a cap of at least 6/);
  });

  it('expands a Jenkins-style hashed schedule per guest', async () => {
    const r = await fleet('cron', 'plan', ...sel(), '--job', 'logsync', '--command', '/bin/true', '--schedule', 'H H(1-5) * * *', '--json', '--offline');
    expect(r.code).toBe(0);
    const guests = jsonLines(r.out).slice(0, -1);
    for (const g of guests) {
      expect(g.slot).toBeNull();
      const [m, h, ...rest] = g.cron.split(' ');
      expect(Number(m)).toBeLessThan(60);
      expect(Number(h)).toBeGreaterThanOrEqual(1);
      expect(Number(h)).toBeLessThanOrEqual(5);
      expect(rest).toEqual(['*', '*', '*']);
    }
    expect(new Set(guests.map((g) => g.cron)).size).toBeGreaterThan(GUESTS / 2);
    const again = await fleet('cron', 'plan', ...sel(), '--job', 'logsync', '--command', '/bin/true', '--schedule', 'H H(1-5) * * *', '--json', '--offline');
    expect(again.out).toBe(r.out);
  });

  it('refuses usage mistakes with exit 2', async () => {
    expect((await fleet('cron', 'plan', ...sel(), '--offline', '--command', 'x')).code).toBe(2);
    expect((await fleet('cron', 'plan', ...sel(), '--offline', '--job', 'j')).code).toBe(2);
    const slot = await fleet('cron', 'plan', ...sel(), '--offline', '--job', 'j', '--command', 'x', '--slot', 'soon');
    expect(slot.code).toBe(2);
    expect(slot.err).toMatch(/invalid --slot "soon"/);
    const both = await fleet('cron', 'apply', ...sel(), '--replace-run-crons', '--command', 'x');
    expect(both.err).toMatch(/drop --command/);
    const dot = await fleet('cron', 'apply', ...sel(), '--job', 'a.b', '--command', 'x', '--cron-d');
    expect(dot.err).toMatch(/Debian's cron would ignore/);
  });
});

describe('fleet cron analyze', () => {
  it("shows the golden image's run-crons storm on every guest at :00, :15, :30, :45 and draws it", async () => {
    const svg = join(dir, 'storm.svg');
    const r = await fleet('cron', 'analyze', ...sel(), '--plot', svg, '--cap', '3');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`peak: ${GUESTS} guests start jobs in the same minute, 96 times: 00:00, 00:15, 00:30, 00:45`));
    expect(r.out).toMatch(/caused by:\n.*\n\s+12\s+1152\s+\*\/15 \* \* \* \*\s+test -x \/usr\/lib\/cron\/run-crons/);
    expect(r.out).toMatch(/^00:00\s+12\s+48\s+█+ {2}over cap$/m);
    const picture = readFileSync(svg, 'utf8');
    expect(picture).toMatch(/^<\?xml [^\n]*\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(picture).toContain('cap 3');
    expect(picture).toContain('peak 12');
  });

  it('prints JSON: one object per guest, then the summary and the analysis', async () => {
    const r = await fleet('cron', 'analyze', ...sel(), '--json', '--tz', 'Europe/Berlin', '--date', '2026-03-29');
    const rows = jsonLines(r.out);
    expect(rows.slice(0, -1).every((x) => x.status === 'ok' && x.files.includes('/etc/crontab'))).toBe(true);
    const { summary, analysis } = rows.at(-1);
    expect(summary).toMatchObject({ ok: GUESTS, total: GUESTS });
    expect(analysis).toMatchObject({ day: '2026-03-29', tz: 'Europe/Berlin', peak: GUESTS });
    // The day clocks spring forward: 02:00-02:59 does not exist, so 92 quarter hours instead of 96.
    expect(analysis.peakMinutes).toHaveLength(92);
    expect(analysis.counts).toHaveLength(1440);
    expect(analysis.causes[0]).toMatchObject({ guests: GUESTS, hosts: 'guest[001-012]' });
  });

  it('reports malformed crontab input with host, file and line, and still counts the rest', async () => {
    const broken = guestFile(3, 'etc/cron.d/broken');
    writeFileSync(broken, 'MAILTO=root\n61 4 * * * root /bin/true\n5 4 * * * root /bin/true\n');
    const user = guestFile(5, 'var/spool/cron/tabs/operator');
    writeFileSync(user, '# operator (user format: no user field)\n*/30 * * * * /usr/bin/backup --quick\n');
    try {
      const r = await fleet('cron', 'analyze', ...sel());
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/guest003: \/etc\/cron.d\/broken:2: schedule "61 4 \* \* \*": .*61/);
      expect(r.out).toMatch(/analyze: 12 guests, 14 cron files, 14 entries/);
      const j = jsonLines((await fleet('cron', 'analyze', ...sel(), '--json')).out);
      expect(j.find((x) => x.host === 'guest003')).toMatchObject({ status: 'failed', error: expect.stringContaining('/etc/cron.d/broken:2') });
      expect(j.find((x) => x.host === 'guest005').files).toContain('/var/spool/cron/tabs/operator');
    } finally {
      rmSync(broken);
      rmSync(user);
    }
  });

  it('says which files it could not read without sudo', async () => {
    const spool = guestFile(2, 'var/spool/cron/tabs');
    const mode = statSync(spool).mode;
    writeFileSync(join(spool, 'root'), '0 1 * * * /bin/true\n');
    const { chmodSync } = await import('node:fs');
    chmodSync(spool, 0o700);
    try {
      const r = await fleet('cron', 'analyze', ...sel(), 'guest002', '--no-sudo');
      expect(r.out).toMatch(/cannot read \/var\/spool\/cron\/tabs on guest002 \(1\)/);
      const s = await fleet('cron', 'analyze', ...sel(), 'guest002');
      expect(s.out).toMatch(/2 cron files, 2 entries/);
    } finally {
      chmodSync(spool, mode & 0o7777);
      rmSync(join(spool, 'root'));
    }
  });
});

describe('fleet cron apply', () => {
  const before = () => Array.from({ length: GUESTS }, (_, i) => crontabOf(i + 1));

  it('--dry-run shows a diff per guest and writes nothing', async () => {
    const was = before();
    const r = await fleet('cron', 'apply', ...sel(), ...NIGHTLY, '--dry-run');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--- \/etc\/crontab\n\+\+\+ \/etc\/crontab\n@@ -5,3 \+5,7 @@/);
    expect(r.out).toMatch(/\+# BEGIN fleet:nightly\n\+# fleet:slot index=\d start=23:\d\d window=23:00-00:00 minutes=12\n\+\d+ 23 \* \* \* root run-parts \/etc\/cron.daily\n\+# END fleet:nightly/);
    expect(r.out).toMatch(/^12 guests would change, 0 already carry this plan; nothing was written$/m);
    expect(before()).toEqual(was);
    expect(readdirSync(guestFile(1, 'etc')).filter((n) => n.includes('fleet-'))).toEqual([]);
  });

  it('writes the block, keeps every other line and a backup, and a second run changes nothing', async () => {
    const was = before();
    const r = await fleet('cron', 'apply', ...sel(), ...NIGHTLY, '--json');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out);
    expect(rows.slice(0, -1).every((x) => x.status === 'ok' && x.changed === true)).toBe(true);
    const plan = jsonLines((await fleet('cron', 'plan', ...sel(), ...NIGHTLY, '--offline', '--json')).out);
    for (let i = 1; i <= GUESTS; i++) {
      const now = crontabOf(i);
      const mine = plan.find((p) => p.host === emu.guests[i - 1]!.name);
      expect(now.startsWith(was[i - 1]!)).toBe(true);
      expect(now.slice(was[i - 1]!.length)).toBe(
        `# BEGIN fleet:nightly\n# fleet:slot index=${mine.slot} start=${mine.start} window=23:00-00:00 minutes=12\n` +
          `${mine.cron} root run-parts /etc/cron.daily\n# END fleet:nightly\n`,
      );
      const backups = readdirSync(guestFile(i, 'etc')).filter((n) => n.startsWith('crontab.fleet-bak-'));
      expect(backups).toHaveLength(1);
      expect(readFileSync(guestFile(i, `etc/${backups[0]}`), 'utf8')).toBe(was[i - 1]);
      expect(statSync(guestFile(i, 'etc/crontab')).mode & 0o777).toBe(0o644);
    }
    const again = await fleet('cron', 'apply', ...sel(), ...NIGHTLY);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/nothing changed: all 12 guests already carry this plan/);
    const replan = await fleet('cron', 'plan', ...sel(), ...NIGHTLY);
    expect(replan.out).toMatch(/12 guests carry fleet:nightly now; this plan changes 0 of 12 guests/);
  });

  it('keeps guests in the slots they carry when the window grows, unless --fresh', async () => {
    // A longer window would spread the guests differently from scratch; carried slots still exist in it.
    const wider = ['--job', 'nightly', '--command', 'run-parts /etc/cron.daily', '--window', '23:00-01:00', '--slot', '12m', '--cap', '3'];
    const kept = await fleet('cron', 'plan', ...sel(), ...wider, '--json');
    expect(jsonLines(kept.out).at(-1).summary).toMatchObject({ known: GUESTS, changed: 0 });
    const fresh = await fleet('cron', 'plan', ...sel(), ...wider, '--json', '--fresh');
    expect(jsonLines(fresh.out).at(-1).summary.changed).toBeGreaterThan(0);
  });

  it('refuses a guest whose crontab is malformed, naming host, file and line, and writes the others', async () => {
    const path = guestFile(4, 'etc/crontab');
    const was = readFileSync(path, 'utf8');
    writeFileSync(path, `${was}this is not a cron line\n`);
    try {
      const r = await fleet('cron', 'apply', ...sel(), '--job', 'other', '--command', '/bin/true', '--window', '01:00-02:00', '--json');
      expect(r.code).toBe(1);
      const rows = jsonLines(r.out);
      const bad = rows.find((x) => x.host === 'guest004');
      expect(bad.status).toBe('failed');
      expect(bad.error).toMatch(/^guest004: \/etc\/crontab:12: minute field "this" is not cron syntax; nothing written$/);
      expect(readFileSync(path, 'utf8')).toBe(`${was}this is not a cron line\n`);
      expect(rows.filter((x) => x.status === 'ok')).toHaveLength(GUESTS - 1);
    } finally {
      writeFileSync(path, was);
    }
  });

  it('--cron-d moves the job to /etc/cron.d/fleet-<job>, removes the old block, and leaves no copy there', async () => {
    const r = await fleet('cron', 'apply', ...sel(), ...NIGHTLY, '--cron-d', 'guest001');
    expect(r.code).toBe(0);
    const file = guestFile(1, 'etc/cron.d/fleet-nightly');
    expect(readFileSync(file, 'utf8')).toMatch(/^# BEGIN fleet:nightly\n# fleet:slot .*\n\d+ 23 \* \* \* root run-parts \/etc\/cron.daily\n# END fleet:nightly\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(crontabOf(1)).not.toContain('fleet:nightly');
    expect(readdirSync(guestFile(1, 'etc/cron.d'))).toEqual(['fleet-nightly']);
    // Its slot came along: the plan for the guest is the same one.
    const replan = await fleet('cron', 'plan', ...sel(), ...NIGHTLY, '--cron-d', '--json');
    expect(jsonLines(replan.out).at(-1).summary).toMatchObject({ known: GUESTS, changed: 0 });
  });

  it('--replace-run-crons turns the storm line into direct calls at the slot; analyze then shows the cap', async () => {
    const opts = ['--replace-run-crons', '--scripts', 'hourly,daily', '--window', '22:00-23:00', '--cap', '3'];
    const r = await fleet('cron', 'apply', ...sel(), ...opts);
    expect(r.code).toBe(0);
    const text = crontabOf(2);
    expect(text).toMatch(/^# disabled by fleet:run-crons: -\*\/15 \* \* \* \*\s+root\s+test -x \/usr\/lib\/cron\/run-crons/m);
    expect(text).toMatch(/# BEGIN fleet:run-crons\n# fleet:slot index=\d .*\n\d+ \* \* \* \* root run-parts \/etc\/cron.hourly\n\d+ 22 \* \* \* root run-parts \/etc\/cron.daily\n# END fleet:run-crons\n/);
    const a = await fleet('cron', 'analyze', ...sel(), '--json');
    const { analysis } = jsonLines(a.out).at(-1);
    // Daily blocks of at most 3, plus at most one hourly start per minute (12 guests over 60 minutes).
    expect(analysis.peak).toBeLessThanOrEqual(3 + 1);
    expect(analysis.causes.some((c: { command: string }) => c.command.includes('run-crons'))).toBe(false);
    const again = await fleet('cron', 'apply', ...sel(), ...opts);
    expect(again.out).toMatch(/nothing changed/);
  });
});

describe('fleet cron simulate', () => {
  it('compares the current crontabs with a plan, side by side', async () => {
    const r = await fleet('cron', 'simulate', ...sel(), '--job', 'backup', '--command', '/usr/local/bin/backup',
      '--window', '01:00-02:00', '--cap', '3', '--capacity', '1', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const { runs, model } = JSON.parse(r.out);
    expect(model.capacity).toBe(1);
    expect(runs.map((x: { name: string }) => x.name)).toEqual(['before (current crontabs)', 'after (plan backup)']);
    expect(runs[1].startsPerDay).toBe(runs[0].startsPerDay + GUESTS);
    expect(runs[1].peakQueue).toBeGreaterThanOrEqual(1);
    const text = await fleet('cron', 'simulate', ...sel(), '--plot', join(dir, 'sim.svg'));
    expect(text.out).toMatch(/peak eligible queue\s+0/);
    expect(text.out).toMatch(/last job ends\s+\d\d:\d\d/);
    expect(existsSync(join(dir, 'sim.svg'))).toBe(true);
  });
});
