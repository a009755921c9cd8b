// One guest's connection, resolved: command-line flags over inventory vars over ssh_config over
// defaults, each value with where it came from; jump chains resolved hop by hop; config lines that
// would weaken pinning ignored (reported), options fleet cannot honour refused with their line.
import { homedir, hostname, userInfo } from 'node:os';
import { InputError } from '../core/errors.js';
import type { ConfigValue, HostConfig, SshConfig } from './ssh-config.js';
import { parseJumpList, proxyFromCommand, proxyFromSshArgs, type HopSpec, type ProxySpec } from './ssh-config-proxy.js';
import type { JumpHop, ResolvedTarget, ValueSource } from './target.js';

export interface Setting<T> {
  value: T;
  source: ValueSource;
}

/** What the inventory says about a guest's connection (ansible_* vars), with where each was set. */
export interface InventoryConnection {
  name: string;
  host?: Setting<string>;
  port?: Setting<number>;
  user?: Setting<string>;
  identityFile?: Setting<string>;
  /** ansible_ssh_common_args / ansible_ssh_extra_args: `-J ...` or `-o ProxyCommand=...`. */
  sshArgs?: Setting<string>;
}

/** Command-line settings and defaults shared by every guest. */
export interface ResolveContext {
  config: SshConfig;
  localUser?: string;
  flags: { user?: string; port?: number; identity?: string; jump?: string; connectTimeoutS?: number };
  /** Where a flag's value came from when not the command line itself (a FLEET_* variable). */
  flagSources?: Partial<Record<keyof ResolveContext['flags'], ValueSource>>;
  /** The known_hosts file every guest's pins are read from (--known-hosts or beside the inventory). */
  knownHosts: Setting<string>;
  defaultConnectTimeoutS: number;
}

/** A config line fleet read and deliberately did not follow. */
export interface IgnoredLine {
  file: string;
  line: number;
  message: string;
}

const MAX_HOPS = 8;
const WEAK_CHECKING = /^(no|off|false|accept-new)$/i;

/** Resolve one guest. Throws InputError (exit 2) for unusable values and unsupported options. */
export function resolveTarget(inv: InventoryConnection, ctx: ResolveContext): { target: ResolvedTarget; ignored: IgnoredLine[] } {
  const localUser = ctx.localUser ?? userInfo().username;
  const ignored: IgnoredLine[] = [];
  const flag = (name: string, key?: keyof ResolveContext['flags']): ValueSource => (key && ctx.flagSources?.[key]) || { from: 'flag', flag: name };
  // A FLEET_* variable is the admin's default for every guest: a host's own inventory vars rank above
  // it, as Ansible ranks ansible_user above ANSIBLE_REMOTE_USER; the command line ranks above both.
  const fromEnv = (key: 'user' | 'identity') => ctx.flagSources?.[key]?.from === 'env';
  const typed = <K extends 'user' | 'identity'>(key: K) => (fromEnv(key) ? undefined : ctx.flags[key]);
  const envDefault = <K extends 'user' | 'identity'>(key: K) => (fromEnv(key) ? ctx.flags[key] : undefined);
  const cfgSrc = (v: ConfigValue): ValueSource => ({ from: 'ssh_config', file: v.file, line: v.line });
  // As Ansible passes ansible_host to ssh, that is the name ssh_config's Host lines are matched against.
  const lookupName = inv.host?.value ?? inv.name;
  const userGiven = typed('user') ?? inv.user?.value ?? envDefault('user');
  const hc = ctx.config.lookup(lookupName, userGiven, localUser);
  refuseUnsupported(hc);
  const first = (k: string) => hc.options.get(k)?.[0];
  const sources: ResolvedTarget['sources'] = {};

  const hostNameOpt = first('hostname');
  let address = lookupName;
  sources.address = inv.host?.source ?? { from: 'default' };
  if (hostNameOpt) {
    address = hostNameOpt.values[0].replaceAll('%h', lookupName).replaceAll('%%', '%');
    sources.address = cfgSrc(hostNameOpt);
  }

  const userOpt = first('user');
  const user = pick<string>([
    [typed('user'), flag('--user', 'user')],
    [inv.user?.value, inv.user?.source],
    [envDefault('user'), flag('--user', 'user')],
    [userOpt?.values[0], userOpt && cfgSrc(userOpt)],
  ], localUser, sources, 'user');

  const portOpt = first('port');
  const port = pick<number>([
    [ctx.flags.port, flag('--port', 'port')],
    [inv.port?.value, inv.port?.source],
    [portOpt ? portNumber(portOpt) : undefined, portOpt && cfgSrc(portOpt)],
  ], 22, sources, 'port');

  const tokens = { h: address, r: user, p: String(port), n: inv.name, u: localUser };
  const target: ResolvedTarget = { name: inv.name, address, port, user, sources };

  // Identity: the flag, else the inventory's key, else FLEET_IDENTITY, else every IdentityFile line
  // (ssh offers them in turn).
  const identity = typed('identity') ?? (inv.identityFile ? undefined : envDefault('identity'));
  if (identity) {
    target.identityFiles = [identity];
    sources.identityFiles = flag('--identity', 'identity');
  } else if (inv.identityFile) {
    target.identityFiles = [expandPath(inv.identityFile.value, tokens)];
    sources.identityFiles = inv.identityFile.source;
  } else {
    const files = (hc.options.get('identityfile') ?? []).filter((v) => v.values[0].toLowerCase() !== 'none');
    if (files.length) {
      target.identityFiles = files.map((v) => expandPath(v.values[0], tokens));
      sources.identityFiles = cfgSrc(files[0]);
    }
  }
  const only = first('identitiesonly');
  if (only && /^yes$/i.test(only.values[0])) target.identitiesOnly = true;
  const agent = first('identityagent');
  if (agent) target.identityAgent = agent.values[0] === 'SSH_AUTH_SOCK' ? process.env.SSH_AUTH_SOCK ?? 'none' : agent.values[0].toLowerCase() === 'none' ? 'none' : expandPath(agent.values[0], tokens);

  // Pins: the fleet's known_hosts always; UserKnownHostsFile adds files, never replaces them.
  target.knownHostsFiles = [ctx.knownHosts.value];
  sources.knownHostsFiles = ctx.knownHosts.source;
  const ukh = first('userknownhostsfile');
  if (ukh) {
    for (const f of ukh.values) {
      if (f === '/dev/null') ignored.push({ file: ukh.file, line: ukh.line, message: 'UserKnownHostsFile /dev/null ignored: fleet always checks host keys against pinned keys' });
      else if (f.toLowerCase() !== 'none') target.knownHostsFiles.push(expandPath(f, tokens));
    }
  }
  const strict = first('stricthostkeychecking');
  if (strict && WEAK_CHECKING.test(strict.values[0])) {
    ignored.push({ file: strict.file, line: strict.line, message: `StrictHostKeyChecking ${strict.values[0]} ignored: fleet checks every host key strictly (enrol new keys with \`fleet keys trust\`)` });
  }
  const alias = first('hostkeyalias');
  if (alias) {
    target.hostKeyAlias = alias.values[0];
    sources.hostKeyAlias = cfgSrc(alias);
  }

  if (ctx.flags.connectTimeoutS !== undefined) {
    target.connectTimeoutMs = ctx.flags.connectTimeoutS * 1000;
    sources.connectTimeoutMs = flag('--connect-timeout', 'connectTimeoutS');
  } else {
    const ct = first('connecttimeout');
    target.connectTimeoutMs = (ct ? seconds(ct) : ctx.defaultConnectTimeoutS) * 1000;
    sources.connectTimeoutMs = ct ? cfgSrc(ct) : { from: 'default' };
  }
  const sai = first('serveraliveinterval');
  if (sai && seconds(sai, true) > 0) {
    target.serverAliveIntervalMs = seconds(sai, true) * 1000;
    sources.serverAliveIntervalMs = cfgSrc(sai);
  }

  // Jump hosts and proxy commands: --jump, else the inventory's ssh args, else ssh_config.
  let proxy: { spec: ProxySpec; source: ValueSource } | undefined;
  if (ctx.flags.jump !== undefined) proxy = { spec: jumpFlag(ctx.flags.jump), source: flag('--jump', 'jump') };
  else if (inv.sshArgs) {
    try {
      const spec = proxyFromSshArgs(inv.sshArgs.value);
      if (spec) proxy = { spec, source: inv.sshArgs.source };
    } catch (err) {
      const s = inv.sshArgs.source;
      throw new InputError(`host '${inv.name}': ${(err as Error).message}`, s.from === 'inventory' ? s : {});
    }
  }
  proxy ??= configProxy(hc);
  if (proxy && !('none' in proxy.spec)) {
    sources[('jump' in proxy.spec ? 'jump' : 'proxyCommand')] = proxy.source;
    if ('jump' in proxy.spec) target.jump = resolveHops(proxy.spec.jump, ctx, localUser, ignored, 0);
    else target.proxyCommand = proxy.spec.proxyCommand;
  }
  return { target, ignored };
}

function pick<T>(candidates: Array<[T | undefined, ValueSource | undefined]>, fallback: T, sources: ResolvedTarget['sources'], key: 'user' | 'port'): T {
  for (const [v, s] of candidates) {
    if (v !== undefined && s) {
      sources[key] = s;
      return v;
    }
  }
  sources[key] = { from: 'default' };
  return fallback;
}

function configProxy(hc: HostConfig): { spec: ProxySpec; source: ValueSource } | undefined {
  const pj = hc.options.get('proxyjump')?.[0];
  const pc = hc.options.get('proxycommand')?.[0];
  const v = pj ?? pc;
  if (!v) return undefined;
  const source: ValueSource = { from: 'ssh_config', file: v.file, line: v.line };
  if (v === pc) return { spec: proxyFromCommand(v.raw), source };
  if (v.values[0].toLowerCase() === 'none') return { spec: { none: true }, source };
  const hops = parseJumpList(v.values.join(','));
  if (!hops) throw new InputError(`cannot read ProxyJump '${v.raw}' (expected [user@]host[:port][,...])`, v);
  return { spec: { jump: hops }, source };
}

function jumpFlag(text: string): ProxySpec {
  if (text.toLowerCase() === 'none') return { none: true };
  const hops = parseJumpList(text);
  if (!hops) throw new InputError(`--jump must be [user@]host[:port][,next...] or none, got '${text}'`);
  return { jump: hops };
}

/**
 * Each hop's own ssh_config applies (HostName, User, Port, IdentityFile, HostKeyAlias), and the first
 * hop's own ProxyJump puts its chain in front, as `ssh -J` does.
 */
function resolveHops(specs: HopSpec[], ctx: ResolveContext, localUser: string, ignored: IgnoredLine[], depth: number): JumpHop[] {
  const out: JumpHop[] = [];
  specs.forEach((spec, i) => {
    const hc = ctx.config.lookup(spec.host, spec.user, localUser);
    refuseUnsupported(hc);
    const first = (k: string) => hc.options.get(k)?.[0];
    if (i === 0) {
      const own = configProxy(hc);
      if (own && 'jump' in own.spec) {
        if (depth + specs.length >= MAX_HOPS) throw new InputError(`jump hosts nest more than ${MAX_HOPS} deep (a ProxyJump loop?)`, own.source.from === 'ssh_config' ? own.source : {});
        out.push(...resolveHops(own.spec.jump, ctx, localUser, ignored, depth + 1));
      } else if (own && 'proxyCommand' in own.spec) {
        throw new InputError(`jump host '${spec.host}' is itself reached through a ProxyCommand, which fleet cannot chain`, own.source.from === 'ssh_config' ? own.source : {});
      }
    }
    const hn = first('hostname');
    const address = hn ? hn.values[0].replaceAll('%h', spec.host).replaceAll('%%', '%') : spec.host;
    const portOpt = first('port');
    const user = spec.user ?? first('user')?.values[0] ?? localUser;
    const port = spec.port ?? (portOpt ? portNumber(portOpt) : 22);
    const tokens = { h: address, r: user, p: String(port), n: spec.host, u: localUser };
    const files = spec.identityFile ? [spec.identityFile] : (hc.options.get('identityfile') ?? []).map((v) => v.values[0]).filter((f) => f.toLowerCase() !== 'none');
    const hop: JumpHop = { host: spec.host, address, port, user };
    if (files.length) hop.identityFiles = files.map((f) => expandPath(f, tokens));
    const alias = first('hostkeyalias');
    if (alias) hop.hostKeyAlias = alias.values[0];
    const strict = first('stricthostkeychecking');
    if (strict && WEAK_CHECKING.test(strict.values[0])) {
      ignored.push({ file: strict.file, line: strict.line, message: `StrictHostKeyChecking ${strict.values[0]} ignored: fleet checks every host key strictly (enrol new keys with \`fleet keys trust\`)` });
    }
    out.push(hop);
  });
  return out;
}

/** Options that change where or how to connect and that fleet does not implement: refused, never skipped. */
function refuseUnsupported(hc: HostConfig): void {
  const refuse = (key: string, why: string, when: (v: string) => boolean = () => true) => {
    const v = hc.options.get(key)?.find((o) => when(o.values[0] ?? ''));
    if (v) throw new InputError(`${v.key === 'certificatefile' ? 'CertificateFile' : v.raw ? `${keyName(v.key)} ${v.raw}` : keyName(v.key)}: ${why}`, v);
  };
  refuse('certificatefile', 'certificate authentication is not supported by fleet; use a plain key for these guests');
  refuse('knownhostscommand', 'fleet reads pins only from known_hosts files');
  refuse('pkcs11provider', 'PKCS#11 keys are not supported; load the key into ssh-agent instead', (v) => v.toLowerCase() !== 'none');
  refuse('canonicalizehostname', 'fleet does not canonicalize host names through DNS; write the HostName', (v) => /^(yes|always)$/i.test(v));
  refuse('proxyusefdpass', 'fleet does not support ProxyUseFdpass', (v) => /^yes$/i.test(v));
}

const KEY_NAMES: Record<string, string> = {
  knownhostscommand: 'KnownHostsCommand', pkcs11provider: 'PKCS11Provider', canonicalizehostname: 'CanonicalizeHostname', proxyusefdpass: 'ProxyUseFdpass',
};
const keyName = (k: string) => KEY_NAMES[k] ?? k;

function portNumber(v: ConfigValue): number {
  const n = Number(v.values[0]);
  if (!/^\d+$/.test(v.values[0]) || n < 1 || n > 65535) throw new InputError(`Port must be 1-65535, got '${v.values[0]}'`, v);
  return n;
}

function seconds(v: ConfigValue, zeroOk = false): number {
  const n = Number(v.values[0]);
  if (!/^\d+$/.test(v.values[0]) || (!zeroOk && n === 0)) throw new InputError(`${v.key === 'connecttimeout' ? 'ConnectTimeout' : 'ServerAliveInterval'} must be a whole number of seconds, got '${v.values[0]}'`, v);
  return n;
}

/** ssh's path tokens: `~`, %d %u %h %r %p %n %i %l %L %%, and ${VAR}. */
export function expandPath(path: string, t: { h: string; r: string; p: string; n: string; u: string }): string {
  const home = homedir();
  let s = path.startsWith('~/') || path === '~' ? home + path.slice(1) : path;
  s = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => process.env[name] ?? '');
  const host = hostname();
  const map: Record<string, string> = { d: home, u: t.u, h: t.h, r: t.r, p: t.p, n: t.n, i: String(process.getuid?.() ?? ''), l: host, L: host.split('.')[0], '%': '%' };
  return s.replace(/%(.)/g, (m, c: string) => map[c] ?? m);
}
