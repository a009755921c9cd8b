// The demo: the whole mission on an emulated fleet of cloned guests, in acts. Audit what cloning
// left behind, give the guests new host keys confirmed through the emulator's console, a machine
// identity each, a staggered cron plan (before and after from the host model, and a picture), roll
// an update out in batches while one guest fails on purpose, audit again. Exit 0 when the story went
// as told (the one failure included), 1 otherwise, 130 on Ctrl-C; the fleet it started is always
// stopped and its state removed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const guests = Number(process.env.DEMO_GUESTS ?? '200');
const subnet = process.env.DEMO_SUBNET ?? '127.77.0.0/16';
const svg = process.env.DEMO_SVG ?? join(tmpdir(), 'clonefleet-demo-cron.svg');
if (!Number.isInteger(guests) || guests < 4 || guests > 5000) usage(`DEMO_GUESTS must be a whole number from 4 to 5000, not "${process.env.DEMO_GUESTS}"`);
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/.test(subnet)) usage(`DEMO_SUBNET must be a subnet inside 127.0.0.0/8 such as 127.77.0.0/16, not "${subnet}"`);

function usage(message) {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(2);
}

// Guest roots are many small files: tmpfs keeps cloning them fast even on a busy disk.
const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'clonefleet-demo-'));
symlinkSync(join(root, 'playbooks'), join(work, 'playbooks'));
const state = '.fleet/emulator';
// The commands read as a user would type them in this directory: `fleet` on the PATH, the
// inventory and key from FLEET_* defaults, and the record of failed guests kept here, not in ~.
const env = {
  ...process.env,
  PATH: `${join(root, 'bin')}:${process.env.PATH}`,
  FLEET_INVENTORY: `${state}/inventory`,
  FLEET_IDENTITY: `${state}/id_ed25519`,
  XDG_STATE_HOME: join(work, '.state'),
};
const faulted = `guest${String(Math.round(guests * 0.685)).padStart(3, '0')}`;

class Unexpected extends Error {}
class Interrupted extends Error {}

let child;
let interrupted = false;
let cleaning = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (!interrupted) process.stderr.write(`\ndemo: ${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping after the current command, then stopping the fleet\n`);
    interrupted = true;
    // Passed on to the command's process group, as a terminal would; but `emulator up` is left to
    // finish (so the fleet it starts has a pid file `down` can stop), and so is `down`.
    if (child && !child.starting && !cleaning) process.kill(-child.pid, sig === 'SIGHUP' ? 'SIGTERM' : sig);
  });
}

const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * Runs `fleet ARGS` in the work directory, its output shown as it comes and kept for the checks;
 * with `elide`, standard output is shown once done, its middle cut to the lines said.
 */
function fleet(args, { ok = [0], elide } = {}) {
  if (interrupted) throw new Interrupted();
  process.stdout.write(`\n$ fleet ${args.map(quote).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    // Its own process group: Ctrl-C reaches the demo, which decides what to pass on.
    child = spawn(process.execPath, [join(root, 'bin/fleet'), ...args], { cwd: work, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.starting = args[0] === 'emulator' && args[1] === 'up';
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (!elide) process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      child = undefined;
      if (elide) process.stdout.write(cut(out, elide));
      if (interrupted) return reject(new Interrupted());
      if (!ok.includes(code)) return reject(new Unexpected(`fleet ${args.slice(0, 2).join(' ')} exited ${code ?? signal}, expected ${ok.join(' or ')}`));
      resolve({ code, out });
    });
  });
}

/** The first `head` and last `tail` lines of `text`, and what was left out between them. */
function cut(text, { head, tail, what }) {
  const lines = text.replace(/\n$/, '').split('\n').filter((l) => !l.startsWith('fleet: progress'));
  if (lines.length <= head + tail + 1) return `${lines.join('\n')}\n`;
  return `${[...lines.slice(0, head), `[... ${lines.length - head - tail} more lines: ${what} ...]`, ...lines.slice(-tail)].join('\n')}\n`;
}

/** Fails the demo unless `out` matches: the story is only told if it happened. */
function expectLine(out, re, what) {
  const m = out.match(re);
  if (!m) throw new Unexpected(`expected ${what}, and the output above does not show it`);
  return m;
}

const timings = [];
async function act(title, body) {
  heading(title);
  const t0 = performance.now();
  await body();
  timings.push([title.replace(/^Act \d+\. /, ''), (performance.now() - t0) / 1000]);
}

/** When `down` could not: the emulator this demo started, by the pid it recorded, and nothing else. */
function stopByPid() {
  const file = join(work, state, 'emulator.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive() && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  if (alive()) process.kill(pid, 'SIGKILL');
  process.stdout.write(`emulator pid ${pid} stopped\n`);
}

const say = (text) => process.stdout.write(`\n${text.trim()}\n`);
const heading = (title) => process.stdout.write(`\n\n== ${title} ${'='.repeat(Math.max(3, 76 - title.length))}\n`);
const fig = {};
const t0 = performance.now();
let failure;
try {
  say(`
clonefleet demo: ${guests} Linux guests cloned from one golden image, emulated on ${subnet}.
Each act below is the commands an admin would type, and what they print. They run in a scratch
directory (${work}) with
  export FLEET_INVENTORY=${env.FLEET_INVENTORY} FLEET_IDENTITY=${env.FLEET_IDENTITY}`);

  await act(`Act 0. A fleet of ${guests} fresh clones`, async () => {
    say(`Every guest is an SSH server on its own loopback address, a copy-on-write clone of one image.`);
    await fleet(['emulator', 'up', '--guests', String(guests), '--subnet', subnet, '--state', state, '--detach']);
  });

  await act('Act 1. Audit: what did cloning leave behind?', async () => {
    say(`One read-only pass over every guest: the keys it presents, one login, one command under sudo.`);
    const { out } = await fleet(['audit'], { ok: [1] });
    fig.keyShared = expectLine(out, /^CRITICAL +shared-host-key .*?(\d+) guests present the same SSH host key/m, 'the shared host keys')[1];
    expectLine(out, /^HIGH +shared-machine-id /m, 'the shared machine-id');
    fig.stormBefore = expectLine(out, /^HIGH +cron-storm .*?cron storm: (\d+) guests start jobs in the same minute/m, 'the cron storm')[1];
    fig.findings = expectLine(out, /^audit: (\d+ findings?) /m, 'the audit summary')[1];
    say(`
Found: ${fig.keyShared} guests present the same host keys (whoever holds the image can pose as any of
them), they share one machine-id, and ${fig.stormBefore} start run-crons in the same minute, every quarter hour.`);
  });

  await act('Act 2. New host keys, each confirmed out of band', async () => {
    say(`
Each guest makes its own keys; fleet reads them over SSH, and keeps them only if the emulator's
console (the hypervisor's view of the guest, no SSH involved) shows the same keys. Once no guest is
pinned to the golden keys any more, they are revoked.`);
    const confirm = `fleet emulator console --state ${state} "$FLEET_HOST" -- "cat /etc/ssh/ssh_host_*_key.pub"`;
    const { out } = await fleet(['keys', 'rotate', '--cloned-only', '--types', 'ed25519,ecdsa', '--confirm-with', confirm, '--yes']);
    fig.rotated = expectLine(out, new RegExp(`^rotate: (${guests}) done of ${guests}\\b`, 'm'), `all ${guests} guests rotated`)[1];
    expectLine(out, /^revoked the cloned key ssh-ed25519 /m, 'the golden ed25519 key revoked');
  });

  await act('Act 3. A machine identity of its own for every guest', async () => {
    say(`A new /etc/machine-id, D-Bus id and random seed on every guest, recorded so a rerun changes nothing.`);
    const { out } = await fleet(['play', 'playbooks/unique-identity.yaml']);
    fig.identities = expectLine(out, new RegExp(`^play: (${guests}) ok of ${guests} guests`, 'm'), `all ${guests} guests given a machine-id`)[1];
  });

  await act('Act 4. The cron storm: before and after the staggered plan', async () => {
    say(`
The plan: the golden image's every-15-minutes run-crons line replaced, on each guest, by its daily,
weekly and monthly scripts at a slot of its own in 23:00-06:00, at most 15 guests per 12-minute slot.
First what the host model says of the day before and after it, then the plan applied.`);
    const plan = ['--replace-run-crons', '--window', '23:00-06:00', '--slot', '12m', '--cap', '15'];
    const { out } = await fleet(['cron', 'simulate', ...plan, '--svg', svg]);
    const row = (name) => expectLine(out, new RegExp(`^${name} {2,}(\\S.*?) {2,}(\\S.*?)\\s*$`, 'm'), `the ${name} before and after`).slice(1);
    fig.peak = row('peak starts in one minute').map((v) => v.split(' ')[0]);
    fig.queue = row('peak eligible queue');
    fig.unresponsive = row('minutes unresponsive');
    expectLine(out, /^picture written to /m, 'the picture written');
    const host = fig.queue[0] === '0'
      ? `; at this size the host keeps up (the model queues guests above its capacity of 41)`
      : `, an eligible queue of up to ${fig.queue[0]} guests, the host unresponsive ${fig.unresponsive[0]} a day`;
    say(`
Before: ${fig.peak[0]} guests start jobs in one minute${host}.
After: at most ${fig.peak[1]} a minute, queue ${fig.queue[1]}, unresponsive ${fig.unresponsive[1]}.
The day as a picture (starts per minute and the eligible queue, before and after, the cap as a line):
  ${svg}`);
    const play = await fleet(['play', 'playbooks/stagger-nightly-cron.yaml'], { elide: { head: 6, tail: 2, what: 'the other slots, a block of guests each' } });
    expectLine(play.out, new RegExp(`^play: ${guests} ok of ${guests} guests`, 'm'), `all ${guests} guests given a slot`);
    if (/warning: \/etc\/cron\.hourly holds/.test(play.out)) {
      say(`
The warning is the playbook's choice made visible: the image's hourly script is no longer run (add
hourly to the cron step's scripts to keep it).`);
    }
  });

  await act(`Act 5. A rolling update while ${faulted} is down`, async () => {
    say(`
${faulted}'s sshd now refuses connections (an emulator fault, as a guest that went down would). The
update goes out in batches of 25%; one failed guest is within budget (--max-fail 1).`);
    await fleet(['emulator', 'fault', '--state', state, `refuse@${faulted}`]);
    const { out } = await fleet(['play', '--batch', '25%', '--max-fail', '1', '--progress', 'playbooks/update-config.yaml'], { ok: [1] });
    fig.updated = expectLine(out, new RegExp(`^play: (${guests - 1}) ok, 1 unreachable of ${guests} guests`, 'm'), `${guests - 1} guests updated and ${faulted} unreachable`)[1];
    expectLine(out, new RegExp(`^-+\\n${faulted} \\(1\\) +unreachable`, 'm'), `${faulted} reported unreachable`);
    say(`
As expected: ${fig.updated} guests updated, ${faulted} reported unreachable and not touched (exit status 1);
fleet keeps it on a list for \`fleet play --rerun failed\` once it is back.`);
  });

  await act('Act 6. Audit again', async () => {
    const { out } = await fleet(['audit'], { ok: [1] });
    expectLine(out, /^audit: 1 finding \(1 high\);/m, 'a single finding');
    expectLine(out, new RegExp(`^HIGH +unreachable +${faulted} \\(1\\)`, 'm'), `${faulted} unreachable`);
    fig.stormAfter = expectLine(out, /cron peak (\d+) guests a minute/, 'the cron peak')[1];
    say(`Clean, but for ${faulted}, which is still down and is said so rather than skipped.`);
  });

  heading('The mission in figures');
  const rows = [
    ['', 'before', 'after'],
    ['host keys', `one set on ${fig.keyShared} guests`, `${fig.rotated} guests their own, confirmed out of band; the golden keys revoked`],
    ['machine-id', `one on ${guests} guests`, `one each (${fig.identities} guests)`],
    ['cron', `${fig.peak[0]} guests start in one minute`, `at most ${fig.peak[1]} (cap 15); queue ${fig.queue[0]} -> ${fig.queue[1]}, unresponsive ${fig.unresponsive[0]} -> ${fig.unresponsive[1]} a day`],
    ['update', '', `${fig.updated} of ${guests} guests in batches of 25%; ${faulted}, down on purpose, reported`],
    ['audit', fig.findings, `1 finding: ${faulted} not reached`],
  ];
  const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)) + 3);
  process.stdout.write(`\n${rows.map(([a, b, c]) => `  ${a.padEnd(w[0])}${b.padEnd(w[1])}${c}`.trimEnd()).join('\n')}\n  picture of the cron load: ${svg}\n`);
} catch (err) {
  failure = err;
} finally {
  heading('The end: the fleet goes away');
  const wasInterrupted = interrupted;
  interrupted = false; // the clean-up runs whatever happened
  cleaning = true;
  try {
    await fleet(['emulator', 'down', '--state', state, '--remove']);
  } catch (err) {
    failure ??= err;
    stopByPid();
  }
  rmSync(work, { recursive: true, force: true });
  interrupted ||= wasInterrupted;
}

const total = (performance.now() - t0) / 1000;
process.stdout.write(`\nTime per act:\n${timings.map(([t, s]) => `  ${s.toFixed(1).padStart(6)} s  ${t}`).join('\n')}\n  ${total.toFixed(1).padStart(6)} s  in all\n`);
if (interrupted || failure instanceof Interrupted) {
  process.stderr.write('demo: interrupted; the fleet is stopped and its files removed\n');
  process.exitCode = 130;
} else if (failure) {
  process.stderr.write(`demo: ${failure instanceof Unexpected ? '' : 'unexpected error: '}${failure.message}\n`);
  process.exitCode = 1;
}
