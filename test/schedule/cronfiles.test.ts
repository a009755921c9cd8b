// Guest cron files: the dump script run by a real sh, parsing its output, which files cron reads, and
// malformed lines located by host, file and line.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cronEntries, cronIgnores, describeProblem, DUMP_SCRIPT, dumpScript, isSystemFormat, parseDump } from '../../src/schedule/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-cronfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dumpScript and parseDump', () => {
  it('round-trips any bytes, including lines that look like dump headers', () => {
    const tricky = '@fleet-end\n@fleet-file /etc/passwd\n\u00e9t\u00e9 % \\ $HOME `x`\n\n   \nno final newline';
    writeFileSync(join(dir, 'a'), tricky);
    writeFileSync(join(dir, 'b b'), '');
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'x'), '0 1 * * * root /bin/true\n');
    const script = dumpScript([join(dir, 'a'), join(dir, 'missing'), `'${dir}'/b*`, `${join(dir, 'd')}/*`], [join(dir, 'd')]);
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    const dump = parseDump(out);
    expect(dump.files).toEqual([
      { path: join(dir, 'a'), text: tricky },
      { path: join(dir, 'b b'), text: '' },
      { path: join(dir, 'd', 'x'), text: '0 1 * * * root /bin/true\n' },
    ]);
    expect(dump.unreadable).toEqual([]);
  });

  it('lists what exists but cannot be read instead of failing', () => {
    if (process.getuid?.() === 0) {
      // root reads everything; check the parsing side only.
      expect(parseDump('@fleet-unreadable /var/spool/cron/tabs\n').unreadable).toEqual(['/var/spool/cron/tabs']);
      return;
    }
    const f = join(dir, 'secret');
    writeFileSync(f, 'x');
    chmodSync(f, 0);
    const dump = parseDump(execFileSync('/bin/sh', ['-c', dumpScript([f])], { encoding: 'utf8' }));
    expect(dump.unreadable).toEqual([f]);
  });

  it('reads the system crontab, cron.d and both spools', () => {
    expect(DUMP_SCRIPT).toContain('/etc/crontab /etc/cron.d/* /var/spool/cron/tabs/* /var/spool/cron/crontabs/*');
  });

  it('rejects output that is not a dump, naming the host', () => {
    expect(() => parseDump('Welcome to SLES!\n', 'guest007')).toThrow(/^guest007: unexpected output while reading cron files: "Welcome to SLES!"/);
    expect(() => parseDump('@fleet-file /etc/crontab\nAAAA\n', 'g')).toThrow(/ended inside \/etc\/crontab/);
  });
});

describe('which files cron reads, and how', () => {
  it('knows system format from user crontabs', () => {
    expect(isSystemFormat('/etc/crontab')).toBe(true);
    expect(isSystemFormat('/etc/cron.d/fleet-nightly')).toBe(true);
    expect(isSystemFormat('/var/spool/cron/tabs/root')).toBe(false);
    expect(isSystemFormat('/var/spool/cron/crontabs/operator')).toBe(false);
  });

  it.each([
    ['/etc/cron.d/.hidden', true],
    ['/etc/cron.d/job~', true],
    ['/etc/cron.d/job.rpmsave', true],
    ['/etc/cron.d/job.dpkg-old', true],
    ['/etc/cron.d/.fleet-nightly.fleet-tmp-0a1b2c', true],
    ['/etc/cron.d/fleet-nightly', false],
    ['/etc/crontab', false],
  ])('cron ignores %s: %s', (path, ignored) => {
    expect(cronIgnores(path)).toBe(ignored);
  });

  it('collects entries with host, file and line, and one problem per bad line', () => {
    const { entries, problems } = cronEntries('guest003', [
      { path: '/etc/crontab', text: 'MAILTO=root\n-*/15 * * * * root run-crons\n' },
      { path: '/etc/cron.d/broken', text: '# ok\n0 25 * * * root /bin/x\n5 4 * * * nobody /bin/y\n0 0 * * * /no/user\n' },
      { path: '/etc/cron.d/old~', text: 'garbage that cron never reads\n' },
      { path: '/var/spool/cron/tabs/operator', text: '@daily /usr/bin/report\n' },
    ]);
    expect(entries.map((e) => `${e.file}:${e.line} ${e.schedule}`)).toEqual([
      '/etc/crontab:2 */15 * * * *',
      '/etc/cron.d/broken:3 5 4 * * *',
      '/var/spool/cron/tabs/operator:1 @daily',
    ]);
    expect(entries.every((e) => e.host === 'guest003')).toBe(true);
    expect(problems.map(describeProblem)).toEqual([
      expect.stringMatching(/^guest003: \/etc\/cron.d\/broken:2: schedule "0 25 \* \* \*": /),
      'guest003: /etc/cron.d/broken:4: "/no/user" is not a user name (system crontabs name a user after the schedule)',
    ]);
    expect(problems[0]).toMatchObject({ host: 'guest003', file: '/etc/cron.d/broken', line: 2 });
  });
});
