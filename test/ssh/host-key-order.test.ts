// Host key algorithms in the order OpenSSH uses: the types pinned for a host first. A known_hosts
// holding only the guests' ECDSA (or RSA) keys must reach them, not raise a false "changed" alarm
// because the guest presented its ed25519 key first.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { DEFAULT_HOST_KEY_ALGORITHMS, hostKeyAlgorithms } from '../../src/ssh/host-key-order.js';
import { parseKnownHosts } from '../../src/ssh/index.js';

const F = useFleet({ guests: 4, subnet: '127.141.0.0/16', port: 2222 });

/** The emulator's known_hosts reduced to the lines of one key type. */
function onlyType(keyType: string): string {
  const lines = readFileSync(F().emu.knownHostsPath, 'utf8').split('\n').filter((l) => l.split(' ')[1] === keyType);
  expect(lines).toHaveLength(4);
  const kh = join(F().state, `only-${keyType}`);
  writeFileSync(kh, `${lines.join('\n')}\n`);
  return kh;
}

const run = (kh: string) =>
  fleet('run', '-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--known-hosts', kh, '--json', '--', 'hostname');

describe('pinned host key types are asked for first', () => {
  it('reaches every guest with a known_hosts holding only their ECDSA keys', async () => {
    const r = await run(onlyType('ecdsa-sha2-nistp256'));
    expect(r.err).not.toMatch(/HAS CHANGED/);
    expect(jsonLines(r.out).pop()).toMatchObject({ summary: { ok: 4, total: 4 } });
    expect(r.code).toBe(0);
  });

  it('reaches every guest with a known_hosts holding only their RSA keys', async () => {
    const r = await run(onlyType('ssh-rsa'));
    expect(jsonLines(r.out).pop()).toMatchObject({ summary: { ok: 4, total: 4 } });
    expect(r.code).toBe(0);
  });

  it('still refuses a guest whose pinned type presents another key', async () => {
    const kh = onlyType('ecdsa-sha2-nistp256');
    const other = readFileSync(F().emu.knownHostsPath, 'utf8').split('\n').find((l) => l.includes(' ecdsa-sha2-nistp256 '))!;
    // guest002 pinned to a different ECDSA key: the guest's real one is refused as changed.
    const forged = Buffer.from(other.split(' ')[2]!, 'base64');
    forged[forged.length - 1] ^= 1;
    const text = readFileSync(kh, 'utf8').split('\n').map((l) => (l.startsWith('[127.141.0.2]:2222 ') ? `${l.split(' ').slice(0, 2).join(' ')} ${forged.toString('base64')}` : l));
    writeFileSync(kh, text.join('\n'));
    const r = await run(kh);
    const rows = jsonLines(r.out);
    expect(rows.find((x) => x.host === 'guest002')).toMatchObject({ status: 'hostkey-refused' });
    expect(rows.find((x) => x.host === 'guest002')!.error).toMatch(/HAS CHANGED: presented ecdsa-sha2-nistp256/);
    expect(r.code).toBe(3);
  });
});

describe('hostKeyAlgorithms', () => {
  const line = (keyType: string) => readFileSync(F().emu.knownHostsPath, 'utf8').split('\n').find((l) => l.split(' ')[1] === keyType)!;
  const order = (text: string) => hostKeyAlgorithms(parseKnownHosts(text, 'kh'), '127.141.0.1', 2222)?.serverHostKey;

  it('keeps the default order with no pins, or when the pinned types lead it already', () => {
    expect(order('')).toBeUndefined();
    expect(order(`${line('ssh-ed25519')}\n`)).toBeUndefined();
    expect(order(`${line('ssh-ed25519')}\n${line('ecdsa-sha2-nistp256')}\n`)).toBeUndefined();
    // Another host's pins do not count.
    expect(order(line('ssh-rsa').replace('[127.141.0.1]:2222', '[127.141.0.9]:2222'))).toBeUndefined();
  });

  it('puts the pinned types first and still offers the rest', () => {
    expect(order(line('ecdsa-sha2-nistp256'))).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(order(line('ssh-rsa'))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
    expect(order(`${line('ssh-rsa')}\n${line('ecdsa-sha2-nistp256')}\n`)?.slice(0, 4)).toEqual(['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect([...(order(line('ssh-rsa')) ?? [])].sort()).toEqual([...DEFAULT_HOST_KEY_ALGORITHMS].sort());
  });
});
