// `fleet emulator console` as a confirmation runs it, once per guest, through bin/fleet: a plain call
// is served without loading the whole CLI (no zod, ssh2, execa or emulator), and answers exactly as
// the CLI does (output, exit status, errors); anything else about it is left to the CLI.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/emulator.js';

const BIN = fileURLToPath(new URL('../../bin/fleet', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/commands/emulator-console.js', import.meta.url));
// The demo's subnet, on another port: the two files may run at once.
const F = useFleet({ guests: 2, subnet: '127.197.0.0/16', port: 2297 });
let dir: string;

beforeAll(() => {
  expect(existsSync(BUILT), 'run `npm run build` first: this test runs bin/fleet').toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'fleet-console-bin-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Not spawnSync: the emulator answering the console runs in this process.
const bin = (args: string[], opts: { input?: string; nodeArgs?: string[] } = {}) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(opts.input ?? '');
  });

describe('fleet emulator console through bin/fleet', () => {
  it('runs the command as root on that guest: output, stdin and exit status as if local', async () => {
    expect(await bin(['emulator', 'console', '--state', F().state, 'guest002', '--', 'hostname; id -u; exit 3'])).toEqual({ code: 3, out: 'guest002\n0\n', err: '' });
    expect(await bin(['emulator', 'console', '--stdin', '--state', F().state, '127.197.0.1', '--', 'cat; echo oops >&2'], { input: 'hello\n' }))
      .toEqual({ code: 0, out: 'hello\n', err: 'oops\n' });
  });

  it('a plain call loads neither the whole CLI nor zod, ssh2, execa or the emulator', async () => {
    // A module hook that writes down every module the process loads.
    const log = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hook.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
    const r = await bin(['emulator', 'console', '--state', F().state, 'guest001', '--', 'cat /etc/ssh/ssh_host_*_key.pub'], { nodeArgs: ['--import', join(dir, 'register.mjs')] });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ssh-ed25519 /m);
    const loaded = readFileSync(log, 'utf8');
    expect(loaded).toContain('/dist/cli/commands/emulator-console.js');
    for (const heavy of ['/dist/cli/main.js', '/node_modules/commander/', '/node_modules/zod/', '/node_modules/ssh2/', '/node_modules/execa/', '/dist/emulator/fleet.js']) {
      expect(loaded, heavy).not.toContain(heavy);
    }
  });

  it('answers as the whole CLI does (--state=DIR goes through it): output, unknown guest, no emulator', async () => {
    const both = (state: string, rest: string[]) => Promise.all([
      bin(['emulator', 'console', '--state', state, ...rest]),
      bin(['emulator', 'console', `--state=${state}`, ...rest]),
    ]);
    const output = await both(F().state, ['guest001', '--', 'echo', 'via', 'console;', 'exit', '4']);
    expect(output[0]).toEqual({ code: 4, out: 'via console\n', err: '' });
    const unknown = await both(F().state, ['guest999', '--', 'true']);
    expect(unknown[0]).toMatchObject({ code: 2, out: '', err: expect.stringMatching(/^fleet: .*guest999/) });
    const none = await both(join(dir, 'none'), ['guest001', '--', 'true']);
    expect(none[0]).toMatchObject({ code: 2, err: `fleet: no emulator running for ${join(dir, 'none')}\n` });
    for (const [fast, cli] of [output, unknown, none]) expect(fast).toEqual(cli);
  });

  it('anything but a plain call is the CLI\'s: help, an empty guest, no command, an unknown option', async () => {
    expect(await bin(['emulator', 'console', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('Usage: fleet emulator console [--state DIR] <guest> -- <command...>') });
    expect(await bin(['emulator', 'console', '--state', F().state, '', '--', 'true'])).toMatchObject({ code: 2, out: '', err: expect.stringMatching(/^fleet: the guest .* is empty/) });
    expect(await bin(['emulator', 'console', '--state', F().state, 'guest001'])).toMatchObject({ code: 2, err: expect.stringMatching(/^fleet: no command/) });
    expect(await bin(['emulator', 'console', '--bogus', '--state', F().state, 'guest001', '--', 'true'])).toMatchObject({ code: 2, err: expect.stringMatching(/^fleet: unknown option '--bogus'/) });
  });
});
