// The demo: an emulated fleet of cloned guests, one command on every guest through the emulator,
// and what that finds (every clone shares the golden image's host key and machine-id, and runs
// run-crons at the same quarter hour). Always stops the fleet it started.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const guests = process.env.DEMO_GUESTS ?? '100';
// Guest roots are many small files: tmpfs keeps cloning them fast even on a busy disk.
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const state = mkdtempSync(join(base, 'clonefleet-demo-'));

function fleet(args, { check = true } = {}) {
  process.stdout.write(`\n$ fleet ${args.map((a) => (/[\s'"$;|]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [join(root, 'bin/fleet'), ...args], { stdio: 'inherit' });
  if (check && r.status !== 0) throw new Error(`fleet ${args[0]} exited ${r.status}`);
  return r.status;
}

const sel = ['-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519')];
let failed = false;
try {
  fleet(['emulator', 'up', '--guests', guests, '--state', state, '--detach']);
  fleet(['inventory', '-i', join(state, 'inventory')]);
  // One command on every guest; identical answers fold into one block: the clones are identical.
  fleet(['run', ...sel, '--', 'echo "machine-id: $(cat /etc/machine-id)"; ' +
    'echo "host key:   $(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d" " -f2)"; ' +
    'echo "cron:       $(grep run-crons /etc/crontab | cut -c1-40)"']);
  fleet(['run', ...sel, '--', 'echo "logged in as $(id -un), uid $(id -u), on a guest of $(hostname | cut -c1-5)..."']);
  const sudo = spawnSync('sh', ['-c', 'command -v sudo'], { stdio: 'ignore' }).status === 0;
  if (sudo) fleet(['run', ...sel, '--sudo', '--', 'id -u']);
  else process.stdout.write('\n(this machine has no sudo: `apt-get install sudo` to see `fleet run --sudo` on the guests)\n');
  // A few guests misbehave; the run still finishes and says why, per guest.
  fleet(['emulator', 'fault', '--state', state, 'refuse@3', 'hang@5', 'hostkey@7']);
  fleet(['run', ...sel, '--connect-timeout', '2', '--', 'uptime -p 2>/dev/null || echo up'], { check: false });
  fleet(['emulator', 'status', '--state', state]);
  process.stdout.write(`
What this shows: all ${guests} clones answer with the same machine-id and the same host key: any
clone's root can impersonate every other. Refused, hanging and re-keyed guests are
reported by reason; a changed host key is never accepted.
`);
} catch (err) {
  failed = true;
  process.stderr.write(`demo: ${err.message}\n`);
} finally {
  fleet(['emulator', 'down', '--state', state, '--remove'], { check: false });
  rmSync(state, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
