// The command lines bench/fanout.mjs times: the same four operations for fleet and each peer tool,
// all with the emulator's client key and its known_hosts, checked strictly.
import { join } from 'node:path';

export const TOOLS = [
  { name: 'fleet', label: 'fleet', bins: [], debian: null },
  { name: 'pssh', label: 'pssh / pscp', bins: ['parallel-ssh', 'parallel-scp'], debian: 'pssh' },
  { name: 'pdsh', label: 'pdsh / pdcp', bins: ['pdsh', 'pdcp'], debian: 'pdsh' },
  { name: 'clush', label: 'clush', bins: ['clush'], debian: 'clustershell' },
  { name: 'ansible', label: 'ansible (raw; copy)', bins: ['ansible'], debian: 'ansible-core' },
];

/** OpenSSH options every peer passes to ssh/scp: strict pinning, the emulator's key, no user config. */
function sshOptions(ctx) {
  return [
    '-F', '/dev/null', '-i', join(ctx.state, 'id_ed25519'), '-o', `Port=${ctx.port}`,
    '-o', `UserKnownHostsFile=${join(ctx.state, 'known_hosts')}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10',
  ];
}

/**
 * [run true, run 'uname -a', push (first), push (again)] as {argv, env}. `dest` is a fresh name in
 * the guests' /tmp for this tool and run; both pushes write it, so the second finds it unchanged.
 */
export function fanoutCommands(tool, ctx, dest) {
  const hosts = join(ctx.state, 'hosts');
  const remote = `/tmp/${dest}`;
  const ssh = sshOptions(ctx).join(' ');
  const user = 'fleetadm';
  const f = String(ctx.fanout);
  switch (tool) {
    case 'fleet': {
      const sel = ['-i', join(ctx.state, 'inventory'), '--identity', join(ctx.state, 'id_ed25519'), '-f', f];
      const fleet = (...a) => ({ argv: [ctx.node, ctx.fleetBin, ...a], env: {} });
      const push = fleet('push', ...sel, ctx.payload, remote);
      return [fleet('run', ...sel, '--', 'true'), fleet('run', ...sel, '--', 'uname -a'), push, push];
    }
    case 'pssh': {
      const common = ['-h', hosts, '-p', f, '-l', user, '-t', '120', '-x', ssh];
      const push = { argv: ['parallel-scp', ...common, ctx.payload, remote], env: {} };
      return [
        { argv: ['parallel-ssh', ...common, 'true'], env: {} },
        { argv: ['parallel-ssh', ...common, '-i', 'uname -a'], env: {} },
        push, push,
      ];
    }
    case 'pdsh': {
      const env = { PDSH_RCMD_TYPE: 'ssh', PDSH_SSH_ARGS: `-a -x ${ssh} -l%u %h` };
      const common = ['-w', `^${hosts}`, '-f', f, '-l', user];
      const push = { argv: ['pdcp', ...common, ctx.payload, remote], env };
      return [{ argv: ['pdsh', ...common, 'true'], env }, { argv: ['pdsh', ...common, 'uname -a'], env }, push, push];
    }
    case 'clush': {
      const common = ['--hostfile', hosts, '-f', f, '-l', user, '-o', ssh, '-t', '10'];
      const push = { argv: ['clush', ...common, '--copy', ctx.payload, '--dest', remote], env: {} };
      return [{ argv: ['clush', ...common, '-b', 'true'], env: {} }, { argv: ['clush', ...common, '-b', 'uname -a'], env: {} }, push, push];
    }
    case 'ansible': {
      const env = {
        ANSIBLE_SSH_ARGS: '', // no ControlPersist: a master left from one run would speed up the next
        ANSIBLE_HOST_KEY_CHECKING: 'True',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: join(ctx.state, 'ansible-tmp'),
        // Common args reach ssh, sftp and scp alike (--ssh-extra-args would leave the copy unpinned).
        ANSIBLE_SSH_COMMON_ARGS: ssh,
      };
      const common = ['all', '-i', join(ctx.state, 'inventory'), '-f', f, '--private-key', join(ctx.state, 'id_ed25519'), '-o'];
      const push = { argv: ['ansible', ...common, '-m', 'copy', '-a', `src=${ctx.payload} dest=${remote}`], env };
      return [
        { argv: ['ansible', ...common, '-m', 'raw', '-a', 'true'], env },
        { argv: ['ansible', ...common, '-m', 'raw', '-a', 'uname -a'], env },
        push, push,
      ];
    }
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}
