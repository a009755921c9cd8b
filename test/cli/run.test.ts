// `fleet run` end to end, in-process through main(), against an emulated fleet.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInput } from '../../src/cli/commands/run.js';
import { UsageError } from '../../src/core/index.js';
import { Emulator } from '../../src/emulator/index.js';
import { fleet, jsonLines } from './cli-harness.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));

let emu: Emulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-run-test-'));
  emu = await Emulator.start({ guests: 8, state: join(dir, 'state'), subnet: '127.100.0.0/16', port: 2222 });
});

afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sel = () => ['-i', emu.inventoryPath, '--identity', emu.clientKeyPath];

describe('fleet run', () => {
  it('runs on every guest and folds identical output into one block', async () => {
    const r = await fleet('run', ...sel(), '--', 'cat /etc/machine-id');
    expect(r.code).toBe(0);
    expect(r.out).toContain('guest[001-008] (8)');
    expect(r.out).toContain('run: 8 ok of 8');
  });

  it('delivers quotes, $, newlines and globs exactly as typed, and --sudo runs as root', async () => {
    const cmd = `printf '%s|' "it's" '$HOME' "a\nb" '*'`;
    const r = await fleet('run', ...sel(), 'guest001', '--json', '--', cmd);
    const [host, summary] = jsonLines(r.out);
    expect(host.stdout).toBe(`it's|$HOME|a\nb|*|`);
    expect(summary.summary).toMatchObject({ ok: 1, total: 1 });
    const s = await fleet('run', ...sel(), 'guest002', '--sudo', '--json', '--', cmd + '; id -u');
    expect(jsonLines(s.out)[0].stdout).toBe(`it's|$HOME|a\nb|*|0\n`);
  });

  it('--stdin feeds the same local input to every guest: a local script run with sh -s, under sudo', async () => {
    const script = 'echo "from a local script on $(hostname)"\nid -u\nprintf "%s\\n" "it\'s $HOME"\n';
    const r = await execa(process.execPath, [BIN, 'run', ...sel(), 'guest[001-003]', '--stdin', '--sudo', '--json', '--', 'sh', '-s'], {
      input: script, reject: false, timeout: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const hosts = jsonLines(r.stdout).filter((x) => x.host);
    expect(hosts.map((h) => h.stdout)).toEqual([1, 2, 3].map((i) => `from a local script on guest00${i}\n0\nit's /root\n`));
    // Without --stdin a command reading stdin sees EOF at once, whatever fleet's own stdin holds.
    const plain = await execa(process.execPath, [BIN, 'run', ...sel(), 'guest001', '--json', '--', 'wc -c'], { input: 'ignored', reject: false, timeout: 60_000 });
    expect(jsonLines(plain.stdout)[0]!.stdout.trim()).toBe('0');
  });

  it('--stdin refuses a terminal and more input than it holds in memory', async () => {
    const tty = Object.assign(Readable.from([Buffer.from('x')]), { isTTY: true }) as unknown as NodeJS.ReadStream;
    await expect(readInput(tty)).rejects.toThrow(UsageError);
    await expect(readInput(tty)).rejects.toThrow(/standard input is a terminal/);
    const piped = Readable.from([Buffer.from('a'), Buffer.from('b')]) as unknown as NodeJS.ReadStream;
    expect((await readInput(piped)).toString()).toBe('ab');
    const huge = Readable.from((function* () { for (let i = 0; i < 65; i++) yield Buffer.alloc(1 << 20); })()) as unknown as NodeJS.ReadStream;
    await expect(readInput(huge)).rejects.toThrow(/more than 64 MiB/);
  });

  it('reports failed guests with their exit code and exits 1', async () => {
    const r = await fleet('run', ...sel(), '--json', '--', 'test "$(hostname)" != guest003 || exit 7');
    expect(r.code).toBe(1);
    const rows = jsonLines(r.out);
    expect(rows.find((x) => x.host === 'guest003')).toMatchObject({ status: 'failed', exitCode: 7 });
    expect(rows.at(-1).summary).toMatchObject({ ok: 7, failed: 1, total: 8 });
  });

  it('classifies every fault and still finishes within the timeouts', async () => {
    await emu.setFault('refuse@1');
    await emu.setFault('hang@2');
    await emu.setFault('auth-reject@3');
    await emu.setFault('hostkey@4');
    await emu.setFault('drop:300@5');
    try {
      const t0 = Date.now();
      const r = await fleet('run', ...sel(), '--json', '--connect-timeout', '2', '--timeout', '3', '--', 'sleep 1; echo done');
      expect(Date.now() - t0).toBeLessThan(8000);
      const by = Object.fromEntries(jsonLines(r.out).filter((x) => x.host).map((x) => [x.host, x.status]));
      expect(by).toEqual({
        guest001: 'unreachable', guest002: 'timeout', guest003: 'auth-refused', guest004: 'hostkey-refused',
        guest005: 'unreachable', guest006: 'ok', guest007: 'ok', guest008: 'ok',
      });
      expect(r.code).toBe(3);
    } finally {
      await emu.clearFaults();
    }
  });

  it('stops a command that outlives --timeout', async () => {
    const r = await fleet('run', ...sel(), 'guest006', '--json', '--timeout', '1', '--', 'sleep 20');
    expect(jsonLines(r.out)[0]).toMatchObject({ status: 'timeout' });
  });

  it('refuses a host whose key is not pinned, naming its SHA256 fingerprint', async () => {
    const kh = join(dir, 'partial_known_hosts');
    const lines = readFileSync(emu.knownHostsPath, 'utf8').split('\n').filter((l) => !l.startsWith('[127.100.0.8]'));
    writeFileSync(kh, lines.join('\n'));
    const r = await fleet('run', ...sel(), '--known-hosts', kh, '--json', '--', 'true');
    const g8 = jsonLines(r.out).find((x) => x.host === 'guest008');
    expect(g8.status).toBe('hostkey-refused');
    expect(g8.error).toMatch(/not pinned: ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}/);
    expect(r.code).toBe(3);
  });

  it('refuses a revoked key even where it is pinned', async () => {
    const kh = join(dir, 'revoked_known_hosts');
    copyFileSync(emu.knownHostsPath, kh);
    const first = readFileSync(kh, 'utf8').split('\n').find((l) => l.startsWith('[127.100.0.1]:2222 ssh-ed25519'))!;
    writeFileSync(kh, `${readFileSync(kh, 'utf8')}@revoked * ${first.split(' ').slice(1).join(' ')}\n`);
    const r = await fleet('run', ...sel(), '--known-hosts', kh, 'guest001', '--json', '--', 'true');
    expect(jsonLines(r.out)[0]).toMatchObject({ status: 'hostkey-refused' });
    expect(jsonLines(r.out)[0].error).toMatch(/REVOKED/);
  });

  it('exits 2 naming the file and line for a malformed inventory', async () => {
    const inv = join(dir, 'bad_inventory');
    writeFileSync(inv, '[web]\nweb[5-1].example\n');
    const r = await fleet('run', '-i', inv, '--identity', emu.clientKeyPath, '--', 'true');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${inv}:2`);
  });

  it('runs in batches and stops once the failure budget is exceeded', async () => {
    const r = await fleet('run', ...sel(), '--json', '--batch', '2', '--max-fail', '1', '--', 'exit 1');
    const rows = jsonLines(r.out);
    expect(rows.at(-1).summary).toMatchObject({ failed: 2, notRun: 6, total: 8 });
  });
});
