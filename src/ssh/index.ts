// Public face of src/ssh: the known_hosts model and its files, key fingerprints, file locks.
export {
  parseKnownHosts, serializeKnownHosts, lookup, verify, addPin, addRevoked, removePins, namesHost, hostKeyName, hashHostName,
  type KnownHosts, type KnownHostsLine, type KnownHostsEntry, type KnownHostsOther, type KnownHostsWarning,
  type Marker, type PinnedKey, type HostKeyLookup, type HostKeyVerdict, type PinOptions,
} from './known-hosts.js';
export { loadKnownHosts, saveKnownHosts, updateKnownHosts, writeKnownHostsAtomic, encodeKnownHosts } from './known-hosts-file.js';
export { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
export { useKeyObjects } from './key-objects.js';
export { pinsOf } from './connection-cache.js';
export { acquireLock, canonicalPath, LockHeldError, syncDir, withLock, writeFileAtomic, type FileLock, type LockOptions } from './lockfile.js';
export { SshConnection, type ExecOptions, type ExecResult } from './connection.js';
export { SshError, type ConnectFailure, type ConnectOptions } from './connection-types.js';
export { probeHostKey, probeHostKeys, probeTypeOf, PROBE_TYPES, PROBE_TYPE_NAMES, ProbeError, type PresentedKey, type ProbeFailure, type ProbeOptions, type ProbeResult, type ProbeType } from './probe.js';
export { targetCredentials, type ConnectionTarget, type Credentials, type JumpHop, type ResolvedTarget, type ValueSource } from './target.js';
export { checkProxyCommand, expandProxyCommand, type ProxyTokens } from './proxy-command.js';
export { openJumpCount } from './jump-pool.js';
export { SshConfig, type ConfigValue, type HostConfig } from './ssh-config.js';
export { resolveTarget, expandPath, type IgnoredLine, type InventoryConnection, type ResolveContext, type Setting } from './ssh-config-resolve.js';
