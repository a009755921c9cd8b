import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { resolveTarget, SshConfig, targetCredentials, type ResolveContext } from '../../src/ssh/index.js';
import { proxyCommandAsJump, proxyFromSshArgs } from '../../src/ssh/ssh-config-proxy.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-sshcfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CONFIG = `# admin's config
Host bastion
  HostName 10.9.0.1
  User jumper
  Port 2201
  IdentityFile ~/.ssh/bastion_key

Host web*
  User webadmin
  Port 2222
  IdentityFile ~/.ssh/web_key
  IdentityFile %d/.ssh/web_%r
  ProxyJump bastion
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null ~/.ssh/web_known_hosts
  ServerAliveInterval 30

Host db*
  HostName %h.db.internal
  ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p

Host *
  ConnectTimeout 7
  User everyone
  Port 22
`;

const ctx = (config: SshConfig, flags: ResolveContext['flags'] = {}): ResolveContext => ({
  config, localUser: 'me', flags, knownHosts: { value: '/inv/known_hosts', source: { from: 'default' } }, defaultConnectTimeoutS: 10,
});

describe('ssh_config lookups', () => {
  const config = SshConfig.parse(CONFIG, '/home/me/.ssh/config');

  it('applies Host blocks in order, first value obtained winning, IdentityFile lines accumulating', () => {
    const { target, ignored } = resolveTarget({ name: 'web1' }, ctx(config));
    expect(target).toMatchObject({
      name: 'web1', address: 'web1', port: 2222, user: 'webadmin',
      identityFiles: [join(homedir(), '.ssh/web_key'), join(homedir(), '.ssh/web_webadmin')],
      knownHostsFiles: ['/inv/known_hosts', join(homedir(), '.ssh/web_known_hosts')],
      connectTimeoutMs: 7000, serverAliveIntervalMs: 30_000,
      jump: [{ host: 'bastion', address: '10.9.0.1', port: 2201, user: 'jumper', identityFiles: [join(homedir(), '.ssh/bastion_key')] }],
    });
    expect(target.sources).toMatchObject({
      user: { from: 'ssh_config', file: '/home/me/.ssh/config', line: 9 },
      port: { from: 'ssh_config', line: 10 },
      jump: { from: 'ssh_config', line: 13 },
    });
    // Weakening lines are read, named, and not followed.
    expect(ignored).toEqual([
      { file: '/home/me/.ssh/config', line: 15, message: 'UserKnownHostsFile /dev/null ignored: fleet always checks host keys against pinned keys' },
      { file: '/home/me/.ssh/config', line: 14, message: 'StrictHostKeyChecking no ignored: fleet checks every host key strictly (enrol new keys with `fleet keys trust`)' },
    ]);
  });

  it('keeps a ProxyCommand that is not a jump as written, and expands HostName', () => {
    const { target } = resolveTarget({ name: 'db7' }, ctx(config));
    expect(target.address).toBe('db7.db.internal');
    expect(target.proxyCommand).toBe('aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p');
    expect(target.jump).toBeUndefined();
    expect([target.user, target.port]).toEqual(['everyone', 22]);
  });

  it('ranks flags over inventory vars over ssh_config over defaults', () => {
    const inv = {
      name: 'web1',
      host: { value: '10.0.0.1', source: { from: 'inventory' as const, file: 'hosts', line: 2, var: 'ansible_host' } },
      user: { value: 'ansible', source: { from: 'inventory' as const, file: 'hosts', line: 2, var: 'ansible_user' } },
      port: { value: 2200, source: { from: 'inventory' as const, file: 'hosts', line: 2, var: 'ansible_port' } },
    };
    // ansible_host is what ssh is given (as Ansible does), so `Host web*` no longer matches it.
    let { target } = resolveTarget(inv, ctx(config));
    expect([target.address, target.user, target.port, target.jump]).toEqual(['10.0.0.1', 'ansible', 2200, undefined]);
    expect(target.sources.user).toEqual({ from: 'inventory', file: 'hosts', line: 2, var: 'ansible_user' });
    ({ target } = resolveTarget({ name: 'web1', user: inv.user }, ctx(config, { user: 'root', port: 2022, identity: '/k', jump: 'ops@j1:2222,j2', connectTimeoutS: 3 })));
    expect(target).toMatchObject({ user: 'root', port: 2022, identityFiles: ['/k'], connectTimeoutMs: 3000 });
    expect(target.jump).toEqual([{ host: 'j1', address: 'j1', port: 2222, user: 'ops' }, { host: 'j2', address: 'j2', port: 22, user: 'everyone' }]);
    expect(target.sources.port).toEqual({ from: 'flag', flag: '--port' });
    ({ target } = resolveTarget({ name: 'other' }, ctx(SshConfig.none())));
    expect([target.address, target.user, target.port, target.connectTimeoutMs, target.sources.user]).toEqual(['other', 'me', 22, 10_000, { from: 'default' }]);
  });

  it('chains the first hop\'s own ProxyJump in front (as ssh -J does)', () => {
    const c = SshConfig.parse('Host inner\n  ProxyJump outer\n  User in\nHost outer\n  HostName 1.2.3.4\nHost g\n  ProxyJump inner\n', '/c');
    const { target } = resolveTarget({ name: 'g' }, ctx(c));
    expect(target.jump!.map((h) => `${h.user}@${h.address}:${h.port}`)).toEqual(['me@1.2.3.4:22', 'in@inner:22']);
    const loop = SshConfig.parse('Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n', '/loop');
    expect(() => resolveTarget({ name: 'a' }, ctx(loop))).toThrow(/nest more than 8 deep/);
  });

  it('evaluates Match host/user/originalhost/final, and refuses Match exec with its line', () => {
    const c = SshConfig.parse('Match originalhost g1 user root\n  Port 1\nMatch host *.lan\n  Port 2\nHost g2\n  HostName g2.lan\nMatch final\n  User late\n', '/m');
    expect(resolveTarget({ name: 'g1' }, ctx(c, { user: 'root' })).target.port).toBe(1);
    expect(resolveTarget({ name: 'g1' }, ctx(c)).target.port).toBe(22);
    expect(resolveTarget({ name: 'g2' }, ctx(c)).target).toMatchObject({ address: 'g2.lan', user: 'late' });
    const ex = SshConfig.parse('Host *\n  User a\nMatch host g* exec "test -f /tmp/x"\n  Port 3\n', '/x');
    expect(() => resolveTarget({ name: 'g1' }, ctx(ex))).toThrow("/x:3: 'Match exec' is not supported");
    // A Match exec whose earlier condition fails is never reached (ssh would not run it either).
    expect(resolveTarget({ name: 'other' }, ctx(ex)).target.port).toBe(22);
  });

  it('refuses certificates and DNS canonicalisation with file:line', () => {
    const c = SshConfig.parse('Host *\n  CertificateFile ~/.ssh/id_ed25519-cert.pub\n', '/cert');
    expect(() => resolveTarget({ name: 'g' }, ctx(c))).toThrow('/cert:2: CertificateFile: certificate authentication is not supported');
    const d = SshConfig.parse('Host *\n  CanonicalizeHostname yes\n', '/dns');
    expect(() => resolveTarget({ name: 'g' }, ctx(d))).toThrow('/dns:2: CanonicalizeHostname yes:');
    const p = SshConfig.parse('Host g\n  Port 99999\n', '/port');
    expect(() => resolveTarget({ name: 'g' }, ctx(p))).toThrow("/port:2: Port must be 1-65535, got '99999'");
  });

  it('inlines Include files (numbered in their own file) and refuses an unreadable one', async () => {
    const inc = join(dir, 'inc.conf');
    await writeFile(inc, '\nHost g\n  User included\n');
    const c = SshConfig.parse(`Include ${inc} ${join(dir, 'missing-*.conf')}\nHost *\n  User later\n`, '/main');
    const { target } = resolveTarget({ name: 'g' }, ctx(c));
    expect(target.user).toBe('included');
    expect(target.sources.user).toEqual({ from: 'ssh_config', file: inc, line: 3 });
    if (userInfo().uid !== 0) {
      await chmod(inc, 0);
      expect(() => SshConfig.parse(`Include ${inc}\n`, '/main')).toThrow(`/main:1: Include of ${inc} cannot be read`);
    }
    const sub = join(dir, 'conf.d');
    await mkdir(sub);
    await writeFile(join(sub, 'x.conf'), 'Host g\n  Port 2\n');
    await mkdir(join(sub, 'y.conf'));
    expect(resolveTarget({ name: 'g' }, ctx(SshConfig.parse(`Include ${sub}/*.conf\n`, '/main'))).target.port).toBe(2);
    // A directory where a file is expected cannot be read: refused, not skipped.
    expect(() => SshConfig.parse(`Include ${sub}\n`, '/main')).toThrow(`/main:1: Include of ${sub} cannot be read`);
  });
});

describe('credentials per guest', () => {
  it('offers the first identity file that was read, and the agent unless IdentityAgent none or IdentitiesOnly', () => {
    const keys = new Map([['/b', Buffer.from('B')]]);
    const base = { privateKey: Buffer.from('SHARED'), agent: '/agent.sock' };
    const t = { name: 'g', address: 'g', port: 22, user: 'u' };
    expect(targetCredentials({ ...t, identityFiles: ['/a', '/b'] }, base, keys)).toEqual({ username: 'u', privateKey: Buffer.from('B'), agent: '/agent.sock' });
    expect(targetCredentials({ ...t, identityFiles: ['/a', '/b'], identitiesOnly: true }, base, keys).agent).toBeUndefined();
    expect(targetCredentials({ ...t, identityFiles: ['/missing'], identityAgent: 'none' }, base, keys)).toEqual({ username: 'u', privateKey: Buffer.from('SHARED'), agent: undefined });
    expect(targetCredentials({ ...t, identityAgent: '/other.sock' }, base, keys).agent).toBe('/other.sock');
  });

  it('reads IdentitiesOnly, IdentityAgent and HostKeyAlias from the config', () => {
    const c = SshConfig.parse('Host g\n  IdentitiesOnly yes\n  IdentityAgent none\n  HostKeyAlias g-key\n', '/c');
    expect(resolveTarget({ name: 'g' }, ctx(c)).target).toMatchObject({ identitiesOnly: true, identityAgent: 'none', hostKeyAlias: 'g-key' });
  });
});

describe('ansible_ssh_common_args', () => {
  it('reads -J and the ssh -W ProxyCommand as jump hosts; any other ProxyCommand stays a command', () => {
    expect(proxyFromSshArgs('-J ops@bastion:2222,inner')).toEqual({ jump: [{ host: 'bastion', user: 'ops', port: 2222 }, { host: 'inner' }] });
    expect(proxyFromSshArgs('-o ProxyCommand="ssh -i ~/.ssh/b -p 2200 -W %h:%p -q ops@bastion"')).toEqual({
      jump: [{ host: 'bastion', user: 'ops', port: 2200, identityFile: '~/.ssh/b' }],
    });
    expect(proxyFromSshArgs("-o 'ProxyCommand=ssh -W [%h]:%p -l ops bastion.example.org' -o ServerAliveInterval=5")).toEqual({
      jump: [{ host: 'bastion.example.org', user: 'ops' }],
    });
    expect(proxyFromSshArgs('-o ProxyJump=j1,j2')).toEqual({ jump: [{ host: 'j1' }, { host: 'j2' }] });
    expect(proxyFromSshArgs('-o ProxyCommand="nc -X 5 -x proxy:1080 %h %p"')).toEqual({ proxyCommand: 'nc -X 5 -x proxy:1080 %h %p' });
    expect(proxyFromSshArgs('-o ControlMaster=auto -o ControlPersist=60s')).toBeUndefined();
    expect(proxyCommandAsJump('ssh -L 80:x:80 -W %h:%p bastion')).toBeNull();
    expect(proxyCommandAsJump('ssh bastion nc %h %p')).toBeNull();
  });
});

describe('fleet inventory --json and the ssh_config flags', () => {
  it('shows each guest\'s resolved connection and where every value came from, warning once per ignored line', async () => {
    const cfg = join(dir, 'config');
    await writeFile(cfg, CONFIG);
    const inv = join(dir, 'hosts');
    await writeFile(inv, [
      '[web]', 'web1', 'web2 ansible_user=root color=blue',
      '[db]', `db1 ansible_host=10.1.0.5 ansible_ssh_common_args='-o ProxyCommand="ssh -p 2200 -W %h:%p -q ops@bastion"'`, '',
    ].join('\n'));
    const r = await fleet('inventory', '-i', inv, '-F', cfg, '--json');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out);
    expect(rows.map((x) => [x.name, x.address, x.port, x.user])).toEqual([
      ['web1', 'web1', 2222, 'webadmin'], ['web2', 'web2', 2222, 'root'], ['db1', '10.1.0.5', 22, 'everyone'],
    ]);
    expect(rows[1].vars.color).toBe('blue');
    expect(rows[1].from).toMatchObject({ user: `inventory ${inv}:3 (ansible_user)`, port: `ssh_config ${cfg}:10`, jump: `ssh_config ${cfg}:13`, address: 'default' });
    expect(rows[2].jump).toEqual([{ host: 'bastion', address: '10.9.0.1', port: 2200, user: 'ops', identityFiles: [join(homedir(), '.ssh/bastion_key')] }]);
    expect(rows[2].from.jump).toBe(`inventory ${inv}:5 (ansible_ssh_common_args)`);
    expect(r.err).toBe(
      `fleet: warning: ${cfg}:15: UserKnownHostsFile /dev/null ignored: fleet always checks host keys against pinned keys\n` +
      `fleet: warning: ${cfg}:14: StrictHostKeyChecking no ignored: fleet checks every host key strictly (enrol new keys with \`fleet keys trust\`)\n`,
    );
    const none = await fleet('inventory', '-i', inv, '--ssh-config', 'none', '--port', '2022', '--json');
    expect(jsonLines(none.out).map((x) => [x.port, x.from.port])).toEqual([[2022, 'flag --port'], [2022, 'flag --port'], [2022, 'flag --port']]);
    expect(none.err).toBe('');
  });

  it('exit 2 for a bad --port, a missing -F file, a bad --jump, Match exec', async () => {
    const inv = join(dir, 'one');
    await writeFile(inv, 'g1\n');
    const bad = await fleet('inventory', '-i', inv, '--port', '0', '--json');
    expect([bad.code, bad.err]).toEqual([2, "fleet: --port must be 1-65535, got '0'\n"]);
    const missing = await fleet('inventory', '-i', inv, '-F', join(dir, 'nope'), '--json');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(`fleet: ${join(dir, 'nope')}: cannot read ssh config`);
    const jump = await fleet('inventory', '-i', inv, '--ssh-config', 'none', '--jump', 'a@b:x', '--json');
    expect([jump.code, jump.err]).toEqual([2, "fleet: --jump must be [user@]host[:port][,next...] or none, got 'a@b:x'\n"]);
    const cfg = join(dir, 'exec');
    await writeFile(cfg, 'Match exec "true"\n  Port 1\n');
    const ex = await fleet('inventory', '-i', inv, '-F', cfg, '--json');
    expect(ex.code).toBe(2);
    expect(ex.err).toMatch(`fleet: ${cfg}:1: 'Match exec' is not supported`);
  });
});
