// One key rotation per known_hosts file, whatever journal each writes: two at once pin and unpin the
// same guests' keys against each other and lock guests out. The lock sits beside the file's real
// path, so a symlink or another spelling of the path finds it, and a second rotation fails at once.
import { FleetError } from '../core/index.js';
import { acquireLock, canonicalPath, LockHeldError, type FileLock } from '../ssh/index.js';

export async function lockRotation(knownHostsPath: string): Promise<FileLock> {
  const real = await canonicalPath(knownHostsPath);
  try {
    return await acquireLock(`${real}.rotate`, { timeoutMs: 0 });
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    const named = real === knownHostsPath ? real : `${knownHostsPath} (${real})`;
    throw new FleetError(
      `another key rotation is running on ${named}: pid ${err.pid} on ${err.host} holds ${err.lockPath}; ` +
        'one rotation per known_hosts file at a time (wait for it, or if it was killed, run `fleet keys rotate --resume`)',
    );
  }
}
