// `fleet run`'s output end to end against an emulated fleet: binary output kept as bytes, long output
// bounded in memory and streamed whole to --out, --out checked before anything runs, timeouts bounded.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { OUTPUT_KEEP } from '../../src/executor/index.js';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from './cli-harness.js';

const F = useFleet({ guests: 4, subnet: '127.130.0.0/16', port: 2222 });
const dir = mkdtempSync(join(tmpdir(), 'fleet-run-output-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Bytes that are not UTF-8 (a gzip header, 0xff, a NUL), the same on every guest.
const BINARY = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x41, 0x0a]);
const printBinary = `printf '${[...BINARY].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')}'`;

describe('binary output', () => {
  it('--out keeps the bytes as received: a gzip stream from the guest stays a valid gzip file', async () => {
    const out = join(dir, 'tar');
    const r = await fleet('run', ...sel(), 'guest001', '--out', out, '--', 'tar czf - -C /etc passwd group');
    expect(r.code, r.err).toBe(0);
    const gz = readFileSync(join(out, 'guest001.stdout'));
    const tar = gunzipSync(gz);
    expect(tar.subarray(0, 100).toString('latin1')).toMatch(/^passwd\0/);
    const passwd = jsonLines((await fleet('run', ...sel(), 'guest001', '--json', '--', 'cat /etc/passwd')).out)[0].stdout;
    expect(tar.includes(Buffer.from(passwd))).toBe(true);
  });

  it('--json carries non-UTF-8 output as base64 with stdout null, and text as text', async () => {
    const r = await fleet('run', ...sel(), 'guest[001-002]', '--json', '--', `${printBinary}; echo text >&2`);
    expect(r.code, r.err).toBe(0);
    const rows = jsonLines(r.out).filter((x) => x.host);
    for (const row of rows) {
      expect(row.stdout).toBeNull();
      expect(Buffer.from(row.stdoutBase64, 'base64')).toEqual(BINARY);
      expect(row.stderr).toBe('text\n');
      expect(row).not.toHaveProperty('stderrBase64');
    }
  });

  it('the human view marks binary output by its size, and folds by bytes, not by a lossy decoding', async () => {
    // 0xff on one guest, 0xfe on the others: both decode to U+FFFD as text.
    const r = await fleet('run', ...sel(), '--', `if [ "$(hostname)" = guest002 ]; then printf '\\377'; else printf '\\376'; fi`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('guest[001,003-004] (3)');
    expect(r.out).toContain('guest002 (1)');
    expect(r.out).toContain('[1 bytes of binary output]');
    expect(r.out).not.toContain('\ufffd');
    const same = await fleet('run', ...sel(), '--', printBinary);
    expect(same.out).toContain('guest[001-004] (4)');
    expect(same.out).toContain(`[${BINARY.length} bytes of binary output]`);
  });
});

describe('long output', () => {
  it('keeps a head and a tail in the result, and the whole output in the --out file', async () => {
    const out = join(dir, 'long');
    const size = 3_000_000;
    const r = await fleet('run', ...sel(), 'guest003', '--json', '--out', out, '--', `yes 0123456789abcdef | head -c ${size}`);
    expect(r.code, r.err).toBe(0);
    const whole = Buffer.from('0123456789abcdef\n'.repeat(Math.ceil(size / 17))).subarray(0, size);
    // Compared as a whole: an element-wise toEqual of megabytes is slow.
    expect(readFileSync(join(out, 'guest003.stdout')).equals(whole)).toBe(true);
    expect(readFileSync(join(out, 'guest003.stderr')).length).toBe(0);
    const [row] = jsonLines(r.out);
    expect(row.stdoutOmitted).toBe(size - OUTPUT_KEEP);
    expect(row.stdoutSha256).toBe(sha256(whole));
    expect(row.stdout).toBe(`${whole.subarray(0, OUTPUT_KEEP / 2)}\n[${size - OUTPUT_KEEP} bytes omitted]\n${whole.subarray(size - OUTPUT_KEEP / 2)}`);
  });

  it('streams to the --out files as the output arrives, not once the command is over', async () => {
    const out = join(dir, 'stream');
    let over = false;
    const run = fleet('run', ...sel(), 'guest004', '--out', out, '--', 'echo first; echo err >&2; sleep 5; echo second').finally(() => (over = true));
    const file = join(out, 'guest004.stdout');
    await vi.waitFor(() => expect(readFileSync(file, 'utf8')).toBe('first\n'), { timeout: 4000, interval: 50 });
    expect(over).toBe(false);
    const r = await run;
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('first\nsecond\n');
    expect(readFileSync(join(out, 'guest004.stderr'), 'utf8')).toBe('err\n');
  });
});

describe('--out is checked before anything connects', () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');

  it.each([
    ['/proc/nope', /^fleet: --out \/proc\/nope: cannot create the directory: ENOENT: no such file or directory\n$/],
    ['/proc', /^fleet: --out \/proc: cannot write a file in it: \w+: .+\n$/],
    [join(blocker, 'sub'), /^fleet: --out .*a-file\/sub: cannot create the directory: ENOTDIR: not a directory.*\n$/],
  ])('%s: exit 2, one line naming the path and why, no guest run', async (path, message) => {
    const marker = `/tmp/ran-${process.pid}`;
    const r = await fleet('run', ...sel(), 'guest001', '--out', path, '--', `touch ${marker}`);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toMatch(message);
    const check = await fleet('run', ...sel(), 'guest001', '--json', '--', `test ! -e ${marker}`);
    expect(jsonLines(check.out)[0]).toMatchObject({ status: 'ok' });
  });

  it('a file that cannot be written is named, the others are written, and the run exits 1', async () => {
    const out = join(dir, 'partly');
    mkdirSync(join(out, 'guest002.stdout'), { recursive: true });
    const r = await fleet('run', ...sel(), 'guest[001-002]', '--out', out, '--', 'hostname');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`fleet: --out: cannot write ${join(out, 'guest002.stdout')}: EISDIR: illegal operation on a directory\n`);
    expect(r.out).toContain('run: 2 ok of 2');
    expect(readFileSync(join(out, 'guest001.stdout'), 'utf8')).toBe('guest001\n');
    expect(readFileSync(join(out, 'guest002.stderr'), 'utf8')).toBe('');
  });

  it('push too', async () => {
    const local = join(dir, 'pushed.txt');
    writeFileSync(local, 'pushed\n');
    const r = await fleet('push', ...sel(), 'guest001', '--out', '/proc/nope', local, `/tmp/pushed-${process.pid}`);
    expect([r.code, r.out, r.err]).toEqual([2, '', 'fleet: --out /proc/nope: cannot create the directory: ENOENT: no such file or directory\n']);
    const check = await fleet('run', ...sel(), 'guest001', '--json', '--', `test ! -e /tmp/pushed-${process.pid}`);
    expect(jsonLines(check.out)[0]).toMatchObject({ status: 'ok' });
  });
});

describe('timeouts are bounded', () => {
  it.each([
    ['run', '--timeout', '2147484', /--timeout .* at most 604800 \(7 days\), got '2147484'/],
    ['run', '--connect-timeout', '86401', /--connect-timeout .* at most 86400 \(24 h\), got '86401'/],
    ['run', '--connect-timeout', '0', /--connect-timeout must be a number of seconds greater than 0/],
    ['push', '--timeout', '1e7', /--timeout .* at most 604800/],
    ['keys scan', '--connect-timeout', '3000000', /--connect-timeout .* at most 86400/],
    ['cron plan', '--timeout', 'Infinity', /--timeout .* at most 604800/],
  ])('%s %s %s: exit 2 naming the option and the range', async (command, option, value, message) => {
    const r = await fleet(...command.split(' '), ...sel(), option, value, '--', 'true');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(message);
  });

  it('the largest values allowed let commands finish normally; a second more is refused', async () => {
    const r = await fleet('run', ...sel(), '--json', '--timeout', '604800', '--connect-timeout', '86400', '--', 'echo ok');
    expect(r.code, r.err).toBe(0);
    expect(jsonLines(r.out).at(-1).summary).toMatchObject({ ok: 4, total: 4 });
    const over = await fleet('run', ...sel(), '--json', '--timeout', '604801', '--', 'echo ok');
    expect([over.code, over.out]).toEqual([2, '']);
    expect(over.err).toMatch(/--timeout .* at most 604800 \(7 days\)/);
  });
});
