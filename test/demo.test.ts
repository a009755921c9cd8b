// `npm run demo` end to end on a small fleet: the story's key lines (findings before, the rotation,
// the cron peak before and after with its picture, the update with its one expected failure, the
// audit after), exit 0, and the fleet stopped and its files gone; also after a Ctrl-C mid-story.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GUESTS = 20;
let dir: string;

beforeAll(() => {
  expect(existsSync(join(ROOT, 'dist/cli/main.js')), 'run `npm run build` first: the demo runs bin/fleet').toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'fleet-demo-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface DemoRun { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Runs scripts/demo.mjs; `onOut` sees the output so far and may signal the demo. */
function demo(env: Record<string, string>, onOut?: (out: string, pid: number) => void): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/demo.mjs')], {
      env: { ...process.env, DEMO_GUESTS: String(GUESTS), DEMO_SUBNET: '127.197.0.0/16', DEMO_SVG: join(dir, 'cron.svg'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      onOut?.(out, child.pid!);
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** Whether `pid` has exited (a zombie awaiting its reaper counts as exited), within a few seconds. */
async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const stat = `/proc/${pid}/stat`;
    if (!existsSync(stat)) return true;
    try {
      if (readFileSync(stat, 'utf8').replace(/^.*\) /s, '').startsWith('Z')) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The emulator the demo started is gone, and so is its scratch directory. */
async function cleanedUp(out: string) {
  const pid = Number(out.match(/^emulator up: .*, pid (\d+),/m)![1]);
  const scratch = out.match(/scratch\s+directory \((\S+)\)/)![1]!;
  expect(out).toMatch(new RegExp(`^emulator stopped \\(pid ${pid}\\)$`, 'm'));
  expect(await exited(pid)).toBe(true);
  expect(existsSync(scratch)).toBe(false);
}

describe('npm run demo', () => {
  it(`tells the whole mission on ${GUESTS} clones and exits 0, the one failure being the expected one`, async () => {
    const r = await demo({});
    expect(r.code, r.out + r.err).toBe(0);
    const { out } = r;
    // Act 1: what cloning left.
    expect(out).toMatch(/^CRITICAL +shared-host-key +guest\[001-020\] \(20\) +20 guests present the same SSH host key/m);
    expect(out).toMatch(/^HIGH +shared-machine-id +guest\[001-020\] \(20\)/m);
    expect(out).toMatch(/^HIGH +cron-storm +guest\[001-020\] \(20\) +cron storm: 20 guests start jobs in the same minute/m);
    expect(out).toMatch(/^audit: 3 findings \(1 critical, 2 high\); 20 of 20 guests audited/m);
    // Act 2: new keys, confirmed through the console, the golden ones revoked.
    expect(out).toContain(`--confirm-with 'fleet emulator console --state .fleet/emulator "$FLEET_HOST" -- "cat /etc/ssh/ssh_host_*_key.pub"'`);
    expect(out).toMatch(/^rotate: 20 done of 20 in /m);
    expect(out).toMatch(/^revoked the cloned key ssh-ed25519 /m);
    // Act 3 and 4: identities, then the cron peak before and after, with its picture.
    expect(out).toMatch(/^play: 20 ok of 20 guests .*\(steps: 20 changed/m);
    const peak = out.match(/^peak starts in one minute +(\d+) at .*? {2,}(\d+) at /m);
    expect(peak, out).not.toBeNull();
    expect(Number(peak![1])).toBe(GUESTS);
    expect(Number(peak![2])).toBeGreaterThan(0);
    expect(Number(peak![2])).toBeLessThanOrEqual(15);
    expect(out).toContain(`picture written to ${join(dir, 'cron.svg')}`);
    expect(XMLValidator.validate(readFileSync(join(dir, 'cron.svg'), 'utf8'))).toBe(true);
    // Act 5: the update, guest014 down on purpose and reported.
    expect(out).toMatch(/^\$ fleet emulator fault --state \.fleet\/emulator refuse@guest014$/m);
    expect(r.err).toMatch(/^fleet: progress .*; batch 4 of 4 \(5 guests\) starting$/m);
    expect(out).toMatch(/^guest014 \(1\) +unreachable$/m);
    expect(out).not.toMatch(/<host>|<address>/); // a block of one guest names it
    expect(out).toMatch(/^play: 19 ok, 1 unreachable of 20 guests/m);
    // Act 6: clean but for guest014.
    expect(out).toMatch(/^audit: 1 finding \(1 high\); 19 of 20 guests audited; cron peak (\d+) guests a minute \(cap 15\)/m);
    expect(out).toMatch(/^HIGH +unreachable +guest014 \(1\) +1 guest not audited/m);
    expect(out.match(/^(CRITICAL|HIGH|MEDIUM|LOW) /gm)).toHaveLength(3 + 1);
    await cleanedUp(out);
    expect(r.err).not.toMatch(/^demo:/m);
  }, 900_000);

  it('Ctrl-C mid-story: the command running stops, the fleet is stopped and removed, exit 130', async () => {
    let sent = false;
    const r = await demo({}, (out, pid) => {
      if (!sent && /^== Act 2\./m.test(out)) {
        sent = true;
        process.kill(pid, 'SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect([r.code, r.signal], r.out + r.err).toEqual([130, null]);
    expect(r.err).toMatch(/^demo: interrupted; the fleet is stopped and its files removed$/m);
    expect(r.out).not.toMatch(/^== Act 3\./m);
    await cleanedUp(r.out);
  }, 600_000);

  it('a bad DEMO_GUESTS or DEMO_SUBNET is one line and exit 2, before anything starts', async () => {
    for (const env of [{ DEMO_GUESTS: 'many' }, { DEMO_GUESTS: '2' }, { DEMO_SUBNET: '10.0.0.0/8' }]) {
      const r = await demo(env);
      expect([r.code, r.out, r.err.split('\n').length], r.err).toEqual([2, '', 2]);
      expect(r.err).toMatch(/^demo: DEMO_(GUESTS|SUBNET) must be /);
    }
  });
});
