// `fleet play` sends a guest's shell steps in batches: one write to the guest's shell carries every
// step that does not wait on the admin, a small file step checks and installs in one command, the
// guest decides if-changed and stops at the first failed step itself, and Ctrl-C still keeps steps
// already sent from starting. The admin's writes to guest commands and the guest channels it opens
// are counted by wrapping SshConnection.start (every command and shell goes through it).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SshConnection } from '../../src/ssh/index.js';
import { useFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

const F = useFleet({ guests: 3, subnet: '127.200.0.0/16', port: 2222 });

const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const guestFile = (i: number, p: string) => join(F().emu.guests[i - 1]!.cfg.dir, p);
let n = 0;
function book(text: string[]): string {
  const dir = join(F().state, `batch${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'play.yaml'), text.join('\n'));
  return join(dir, 'play.yaml');
}
const words = (out: string) => jsonLines(out).filter((x) => x.host).map((x) => x.steps.map((s: any) => (s.status === 'ok' ? (s.changed ? 'changed' : 'unchanged') : s.status)));

/** Guest channels opened and writes to them, over every connection of the test. */
const count = { channels: 0, writes: 0 };
beforeEach(() => {
  count.channels = count.writes = 0;
  const start = SshConnection.prototype.start;
  vi.spyOn(SshConnection.prototype, 'start').mockImplementation(async function (this: SshConnection, ...args: Parameters<SshConnection['start']>) {
    const proc = await start.apply(this, args);
    count.channels++;
    const write = proc.write;
    proc.write = (data) => {
      count.writes++;
      write(data);
    };
    return proc;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('fleet play in batches', () => {
  it('sends all of a guest\'s steps in one write, files checked and installed in the same command, first run and converged', async () => {
    const pb = book([
      'steps:',
      '  - run: mkdir -p /home/fleetadm/batch',
      '    creates: /home/fleetadm/batch',
      '  - name: conf',
      '    template: {content: "index={{ index }}\\n", dest: /home/fleetadm/batch/app.conf, mode: "0640", validate: "grep -q index= %s"}',
      '  - push: {content: "static\\n", dest: /home/fleetadm/batch/static.txt, backup: true}',
      '  - run: echo reloaded >> /home/fleetadm/batch/reloads',
      '    if-changed: conf',
      '  - run: echo ok > /home/fleetadm/batch/state',
      '    unless: test -s /home/fleetadm/batch/state',
      '  - run: cat /home/fleetadm/batch/app.conf',
      '    check: safe',
    ]);
    const first = await fleet('play', ...sel(), '--json', pb);
    expect(first.code, first.out + first.err).toBe(0);
    expect(words(first.out)).toEqual(Array(3).fill(['changed', 'changed', 'changed', 'changed', 'changed', 'unchanged']));
    expect(jsonLines(first.out)[0]!.steps[5].stdout).toBe('index=1\n');
    // One shell per guest, one write each: no round trip per step, none of a file step's own.
    expect(count).toEqual({ channels: 3, writes: 3 });

    count.channels = count.writes = 0;
    const again = await fleet('play', ...sel(), '--json', pb);
    expect(again.code, again.out + again.err).toBe(0);
    expect(words(again.out)).toEqual(Array(3).fill(['skipped', 'unchanged', 'unchanged', 'skipped', 'skipped', 'unchanged']));
    expect(jsonLines(again.out)[0]!.steps[3].note).toBe('if-changed: step 2 (conf) did not change this guest');
    expect(count).toEqual({ channels: 3, writes: 3 });
  });

  it('the guest stops at the first failed step of a batch and decides if-changed itself', async () => {
    const pb = book([
      'steps:',
      '  - name: conf',
      '    push: {content: "v={{ v }}\\n", dest: /tmp/batch-conf}',
      '  - run: touch /tmp/batch-restarted',
      '    if-changed: conf',
      '  - run: exit {{ code }}',
      '  - run: touch /tmp/batch-after',
    ]);
    const r = await fleet('play', ...sel(), 'guest001', '--json', '-e', 'v=1', '-e', 'code=3', pb);
    expect(r.code).toBe(1);
    expect(words(r.out)).toEqual([['changed', 'changed', 'failed', 'not-run']]);
    expect(jsonLines(r.out)[0]!.steps[2].error).toBe('exit status 3');
    expect(existsSync(guestFile(1, 'tmp/batch-restarted'))).toBe(true);
    expect(existsSync(guestFile(1, 'tmp/batch-after'))).toBe(false);
    expect(count).toEqual({ channels: 1, writes: 1 });

    // Same content: the guest skips the if-changed step; the rest runs.
    count.channels = count.writes = 0;
    const ok = await fleet('play', ...sel(), 'guest001', '--json', '-e', 'v=1', '-e', 'code=0', pb);
    expect(ok.code, ok.out + ok.err).toBe(0);
    expect(words(ok.out)).toEqual([['unchanged', 'skipped', 'changed', 'changed']]);
    expect(existsSync(guestFile(1, 'tmp/batch-after'))).toBe(true);
    expect(count).toEqual({ channels: 1, writes: 1 });
  });

  it('ends a batch where a step needs the admin: a registered value, the root shell, retries', async () => {
    const pb = book([
      'steps:',
      '  - run: printf one',
      '    register: a',
      '  - run: test "{{ a.stdout }}" = one',
      '  - run: id -u',
      '    sudo: true',
      '    register: uid',
      '  - run: test "$(cat /tmp/batch-tries 2>/dev/null)" = xx || { printf x >> /tmp/batch-tries; exit 1; }',
      '    retries: 3',
      '    delay: 0',
      '  - run: echo "{{ uid.stdout }}"',
    ]);
    const r = await fleet('play', ...sel(), 'guest002', '--json', pb);
    expect(r.code, r.out + r.err).toBe(0);
    const steps = jsonLines(r.out)[0]!.steps;
    expect(steps.map((s: any) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(steps[3].attempts).toBe(3);
    expect(steps[4].stdout).toBe('0\n\n');
    // Writes: [1], [2] to the user's shell, [3] to root's, [4] and its two retries, [5]: each waited on the one before.
    expect(count).toEqual({ channels: 2, writes: 7 });
  });

  it('compares a small text file in the shell itself: exact to the byte, one process (stat) for the converged file steps together, no subshell', async () => {
    const LAST_PID = 'cat /proc/sys/kernel/ns_last_pid';
    const pb = book([
      'steps:',
      `  - run: ${LAST_PID}`,
      '    register: before',
      '    check: safe',
      `  - push: {content: "  a\\tb \\\\ c $x 'q'\\r\\nlast", dest: /tmp/batch-text, mode: "0640"}`,
      '  - push: {content: "x\\n", dest: /tmp/batch-same}',
      `  - run: ${LAST_PID}`,
      '    register: after',
      '    check: safe',
    ]);
    const play = async () => {
      const r = await fleet('play', ...sel(), 'guest001', '--json', pb);
      expect(r.code, r.out + r.err).toBe(0);
      const steps = jsonLines(r.out)[0]!.steps;
      return { words: words(r.out)[0], pids: Number(steps[3].stdout) - Number(steps[0].stdout) };
    };
    expect((await play()).words).toEqual(['unchanged', 'changed', 'changed', 'unchanged']);
    expect(readFileSync(guestFile(1, 'tmp/batch-text'), 'latin1')).toBe("  a\tb \\ c $x 'q'\r\nlast");
    // Same size, other bytes: replaced; a missing last newline or a NUL is a difference too.
    writeFileSync(guestFile(1, 'tmp/batch-same'), 'y\n');
    writeFileSync(guestFile(1, 'tmp/batch-text'), "  a\tb \\ c $x 'q'\r\nlas\0");
    expect((await play()).words).toEqual(['unchanged', 'changed', 'changed', 'unchanged']);
    expect(readFileSync(guestFile(1, 'tmp/batch-same'), 'utf8')).toBe('x\n');
    const converged = await play();
    expect(converged.words).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    // One stat for both file steps (taken together; the checks run in the shell itself, no subshell); the last `cat` one more.
    expect(converged.pids).toBe(2);
  });

  it('binary bytes (base64 with the check) and a file over 64 KiB (checked first, sent only when it differs) arrive exact', async () => {
    const pb = book([
      'steps:',
      '  - push: {src: bin.dat, dest: /tmp/batch-bin, mode: "0600"}',
      '  - push: {src: big.txt, dest: /tmp/batch-big}',
    ]);
    const bin = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) % 256));
    const big = Buffer.from('line of text\n'.repeat(8000));
    writeFileSync(join(dirname(pb), 'bin.dat'), bin);
    writeFileSync(join(dirname(pb), 'big.txt'), big);
    const first = await fleet('play', ...sel(), 'guest002', '--json', pb);
    expect(first.code, first.out + first.err).toBe(0);
    expect(words(first.out)).toEqual([['changed', 'changed']]);
    expect(readFileSync(guestFile(2, 'tmp/batch-bin')).equals(bin)).toBe(true);
    expect(readFileSync(guestFile(2, 'tmp/batch-big')).equals(big)).toBe(true);
    const again = await fleet('play', ...sel(), 'guest002', '--json', pb);
    expect(words(again.out)).toEqual([['unchanged', 'unchanged']]);
  });

  it('Ctrl-C: steps already sent do not start, and the guest is left no trace of the stop', async () => {
    const pb = book(['steps:', '  - run: touch /tmp/batch-int; sleep 1', '  - run: touch /tmp/batch-int-2', '  - run: touch /tmp/batch-int-3', '']);
    const running = fleet('play', ...sel(), 'guest003', '--json', pb);
    while (!existsSync(guestFile(3, 'tmp/batch-int'))) await new Promise((r) => setTimeout(r, 20));
    process.emit('SIGINT');
    const r = await running;
    expect(r.code).toBe(1);
    expect(words(r.out)).toEqual([['changed', 'not-run', 'not-run']]);
    expect(existsSync(guestFile(3, 'tmp/batch-int-2'))).toBe(false);
    expect(existsSync(guestFile(3, 'tmp/batch-int-3'))).toBe(false);
    expect(readdirSync(guestFile(3, 'tmp')).filter((f) => f.startsWith('.fleet-stop-'))).toEqual([]);
  });
});
