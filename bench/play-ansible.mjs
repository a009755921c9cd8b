// Benchmark: `fleet play` against `ansible-playbook` (Debian's ansible-core) for the same 3-step
// update on one emulated fleet (GUESTS guests, default 100): push a config rendered per guest, run a
// command only where it changed, a health check. Each tool runs the first apply (guests' files
// removed before, outside the timing) and again on the converged fleet. Ansible reads the emulator's
// INI inventory and known_hosts (ANSIBLE_HOST_KEY_CHECKING=True, UserKnownHostsFile and
// StrictHostKeyChecking=yes in its ssh arguments), keeps its default ssh multiplexing (ControlPersist)
// within a run, and runs at fanout 64 (forks) and at its default of 5. Wall time and admin-side CPU
// (user + system of the tool and every process it started, the ssh masters it leaves behind
// included), medians of RUNS runs (default 3), tools interleaved within each run.
//
//   node bench/play-ansible.mjs      GUESTS=100 RUNS=3 SUBNET=127.171.0.0/16
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleetBin = join(root, 'bin/fleet');
const GUESTS = Number(process.env.GUESTS ?? 100);
const RUNS = Number(process.env.RUNS ?? 3);
const SUBNET = process.env.SUBNET ?? '127.171.0.0/16';
const BASE = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const onPath = (bin) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));

if (!onPath('ansible-playbook')) {
  console.error('bench/play-ansible.mjs: ansible-playbook not found on PATH; install it (Debian: apt-get install -y ansible-core) and run again');
  process.exit(2);
}
if (!onPath('python3')) {
  console.error('bench/play-ansible.mjs: python3 not found on PATH (it measures both tools, and Ansible needs it too)');
  process.exit(2);
}

const DIR = '/home/fleetadm';
const FLEET_PLAYBOOK = `name: update the app config
steps:
  - name: config
    template: {content: "name={{ host }}\\nport=8080\\n", dest: ${DIR}/app.conf, mode: "0644"}
  - name: reload
    run: date >> ${DIR}/app.reloads
    if-changed: config
  - name: health
    run: grep -q port=8080 ${DIR}/app.conf
    check: safe
    retries: 2
`;
const ANSIBLE_PLAYBOOK = `- name: update the app config
  hosts: all
  gather_facts: false
  tasks:
    - name: config
      ansible.builtin.copy:
        content: "name={{ inventory_hostname }}\\nport=8080\\n"
        dest: ${DIR}/app.conf
        mode: "0644"
      register: config
    - name: reload
      ansible.builtin.shell: date >> ${DIR}/app.reloads
      when: config.changed
    - name: health
      ansible.builtin.command: grep -q port=8080 ${DIR}/app.conf
      changed_when: false
      register: health
      until: health.rc == 0
      retries: 2
`;

// Runs a command as a child subreaper: the ssh masters Ansible leaves running become its children,
// are ended once the command exits and their CPU is counted with the rest. Prints wall s, CPU s, status.
const MEASURE = `import ctypes, os, resource, signal, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.execvp(sys.argv[2], sys.argv[2:])
status = os.waitpid(pid, 0)[1]
wall = time.monotonic() - t0
me = str(os.getpid())
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            stat = open('/proc/%s/stat' % p).read()
        except OSError:
            continue
        if stat.rsplit(')', 1)[1].split()[1] == me:
            os.kill(int(p), signal.SIGTERM)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status))
`;

function main() {
  const state = mkdtempSync(join(BASE, 'fleet-bench-play-ansible-'));
  const stop = () => {
    spawnSync(process.execPath, [fleetBin, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  };
  process.on('SIGINT', () => (stop(), process.exit(130)));
  try {
    const up = spawnSync(process.execPath, [fleetBin, 'emulator', 'up', '--guests', String(GUESTS), '--state', state, '--subnet', SUBNET, '--detach'], { encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`emulator up failed: ${up.stderr}`);
    const files = {
      fleet: join(state, 'update.yaml'), ansible: join(state, 'update-ansible.yaml'), measure: join(state, 'measure.py'), log: join(state, 'last.log'),
    };
    writeFileSync(files.fleet, FLEET_PLAYBOOK);
    writeFileSync(files.ansible, ANSIBLE_PLAYBOOK);
    writeFileSync(files.measure, MEASURE);
    const inventory = join(state, 'inventory');
    const key = join(state, 'id_ed25519');
    const sel = ['-i', inventory, '--identity', key, '-f', '64'];
    const ansibleEnv = (run) => {
      const cp = join(state, `cp-${run}`); // a fresh multiplexing directory: no master outlives its run into the next
      mkdirSync(cp);
      return {
        ...process.env,
        ANSIBLE_HOST_KEY_CHECKING: 'True',
        ANSIBLE_SSH_COMMON_ARGS: `-o UserKnownHostsFile=${join(state, 'known_hosts')} -o StrictHostKeyChecking=yes`,
        ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_LOCAL_TEMP: join(state, 'ansible-tmp'),
        ANSIBLE_NOCOLOR: '1',
      };
    };
    let n = 0;
    const measure = (label, argv, env = process.env) => {
      const r = spawnSync('python3', [files.measure, files.log, ...argv], { encoding: 'utf8', env });
      const [wall, cpu, code] = r.stdout.trim().split(' ').map(Number);
      if (r.status !== 0 || code !== 0) {
        const log = spawnSync('tail', ['-c', '1500', files.log], { encoding: 'utf8' }).stdout;
        throw new Error(`${label} failed (exit ${code ?? r.status}): ${r.stderr}${log}`);
      }
      return { wall, cpu };
    };
    const reset = () => {
      const r = spawnSync(process.execPath, [fleetBin, 'run', ...sel, '--', `rm -f ${DIR}/app.conf ${DIR}/app.reloads`], { stdio: 'ignore' });
      if (r.status !== 0) throw new Error('resetting the guests failed');
    };
    const tools = [
      { name: 'fleet play (fanout 64)', argv: () => [process.execPath, fleetBin, 'play', ...sel, files.fleet] },
      { name: 'ansible-playbook (forks 64)', argv: () => ['ansible-playbook', '-i', inventory, '--private-key', key, '-f', '64', files.ansible], env: true },
      { name: 'ansible-playbook (forks 5)', argv: () => ['ansible-playbook', '-i', inventory, '--private-key', key, '-f', '5', files.ansible], env: true },
    ];
    const rows = tools.map(() => ({ first: [], again: [] }));
    for (let run = 0; run < RUNS; run++) {
      tools.forEach((t, i) => {
        reset();
        rows[i].first.push(measure(`${t.name}, first`, t.argv(), t.env ? ansibleEnv(++n) : undefined));
        rows[i].again.push(measure(`${t.name}, again`, t.argv(), t.env ? ansibleEnv(++n) : undefined));
      });
    }
    const m = rows.map((r) => Object.fromEntries(['first', 'again'].flatMap((k) => [[`${k}Wall`, median(r[k].map((x) => x.wall))], [`${k}Cpu`, median(r[k].map((x) => x.cpu))]])));
    console.log(`${GUESTS} guests, medians of ${RUNS} runs: wall s / admin-side CPU s (ratio to fleet play)`);
    const cell = (i, k) => `${m[i][`${k}Wall`].toFixed(2)} / ${m[i][`${k}Cpu`].toFixed(2)} (${(m[i][`${k}Wall`] / m[0][`${k}Wall`]).toFixed(1)}x / ${(m[i][`${k}Cpu`] / m[0][`${k}Cpu`]).toFixed(1)}x)`;
    tools.forEach((t, i) => console.log(`  ${t.name.padEnd(28)} first apply ${cell(i, 'first')}   again (converged) ${cell(i, 'again')}`));
  } finally {
    stop();
  }
}

main();
