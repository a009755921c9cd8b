// `fleet run` to guests known only by their ssh_config Host aliases (HostName, Port, User,
// IdentityFile, UserKnownHostsFile), against an emulated fleet.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const fleetOf = useFleet({ guests: 3, subnet: '127.160.0.0/16', port: 2222 });

async function setup() {
  const f = fleetOf();
  const addresses = [...(await loadInventory(f.emu.inventoryPath)).hosts.values()].map((h) => h.address);
  const inv = join(f.state, 'aliases');
  // Names no resolver knows, with no ansible_* vars: only the ssh_config says where they are.
  writeFileSync(inv, '[app]\nalpha\nbeta\ngamma\n');
  const cfg = join(f.state, 'ssh_config');
  writeFileSync(cfg, [
    ...['alpha', 'beta', 'gamma'].flatMap((n, i) => [`Host ${n}`, `  HostName ${addresses[i]}`]),
    'Host alpha beta gamma',
    '  Port 2222',
    '  User fleetadm',
    `  IdentityFile ${f.emu.clientKeyPath}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${f.emu.knownHostsPath}`,
    '  StrictHostKeyChecking accept-new',
    '',
  ].join('\n'));
  // The fleet's own known_hosts is empty: the pins come from the config's UserKnownHostsFile.
  const kh = join(f.state, 'empty_known_hosts');
  writeFileSync(kh, '');
  return { inv, cfg, kh, addresses };
}

describe('guests reached through ssh_config Host aliases', () => {
  it('fleet run uses HostName, Port, User, IdentityFile and UserKnownHostsFile of each alias', async () => {
    const { inv, cfg, kh, addresses } = await setup();
    const r = await fleet('run', '-i', inv, '-F', cfg, '--known-hosts', kh, '--json', '--', 'id -un; cat /etc/hostname');
    expect(r.code).toBe(0);
    const rows = jsonLines(r.out).filter((x) => x.host);
    expect(rows.map((x) => [x.host, x.address, x.status])).toEqual([
      ['alpha', addresses[0], 'ok'], ['beta', addresses[1], 'ok'], ['gamma', addresses[2], 'ok'],
    ]);
    expect(rows.every((x) => x.stdout.startsWith('fleetadm\n'))).toBe(true);
    // accept-new is read and refused once, naming its line; pinning stayed strict and still passed.
    expect(r.err).toBe(`fleet: warning: ${cfg}:13: StrictHostKeyChecking accept-new ignored: fleet checks every host key strictly (enrol new keys with \`fleet keys trust\`)\n`);
  });

  it('without the config the same names lead nowhere, and without the pins file the keys are unknown', async () => {
    const { inv, cfg, kh } = await setup();
    const none = await fleet('run', '-i', inv, '--ssh-config', 'none', '--known-hosts', kh, '--identity', fleetOf().emu.clientKeyPath, '--json', '--connect-timeout', '5', '--', 'true');
    expect(none.code).toBe(1);
    expect(jsonLines(none.out).filter((x) => x.host).map((x) => x.status)).toEqual(['unreachable', 'unreachable', 'unreachable']);
    const noPins = cfg + '.nopins';
    writeFileSync(noPins, (await import('node:fs')).readFileSync(cfg, 'utf8').replace(/ {2}UserKnownHostsFile .*\n/, ''));
    const refused = await fleet('run', '-i', inv, '-F', noPins, '--known-hosts', kh, '--json', '--', 'true');
    expect(refused.code).toBe(3);
    expect(jsonLines(refused.out).filter((x) => x.host).map((x) => x.status)).toEqual(['hostkey-refused', 'hostkey-refused', 'hostkey-refused']);
  });
});
