// The `mitm` fault: an attacker holding the cloned key relays sessions unseen, swaps public host keys
// in command output for its own, and can only present its own key once the guest has new keys.
import { describe, expect, it } from 'vitest';
import { runOn, useFleet } from '../helpers/emulator.js';
import { presentedHostKey } from '../helpers/ssh-client.js';

const F = useFleet({ guests: 2, subnet: '127.97.0.0/16', port: 2222 });

describe('mitm fault', () => {
  it('is invisible at the key exchange while the guest keeps its boot keys, but lies about keys in output', async () => {
    const g1 = F().emu.guest('guest001');
    const real = F().emu.publicHostKeys(g1).find((k) => k.startsWith('ssh-ed25519'))!;
    await F().emu.setFault('mitm@1');
    try {
      const presented = await presentedHostKey('127.97.0.1', 2222);
      expect(`ssh-ed25519 ${presented}`).toBe(real);
      const r = await runOn(F(), 1, 'cat /etc/ssh/ssh_host_ed25519_key.pub; echo tail-line');
      expect(r.code).toBe(0);
      const [line, tail] = r.stdout.trim().split('\n');
      expect(line!.startsWith('ssh-ed25519 ')).toBe(true);
      expect(line!.split(' ').slice(0, 2).join(' ')).not.toBe(real);
      expect(tail).toBe('tail-line');
      // The hypervisor console sees the truth.
      const truth = await g1.consoleExec('cat /etc/ssh/ssh_host_ed25519_key.pub');
      expect(truth.stdout.toString().split(' ').slice(0, 2).join(' ')).toBe(real);
      // Once the guest has new keys, the attacker can only present its own: the key it fed us.
      const gen = await runOn(F(), 1, "sudo -n rm -f /etc/ssh/ssh_host_ed25519_key && sudo -n ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && sudo -n systemctl restart ssh");
      expect(gen.code).toBe(0);
      const after = await presentedHostKey('127.97.0.1', 2222);
      expect(`ssh-ed25519 ${after}`).toBe(line!.split(' ').slice(0, 2).join(' '));
    } finally {
      await F().emu.clearFaults();
    }
    // Without the fault, the guest's real new key is presented and output is honest.
    const now = F().emu.publicHostKeys(g1).find((k) => k.startsWith('ssh-ed25519'))!;
    expect(`ssh-ed25519 ${await presentedHostKey('127.97.0.1', 2222)}`).toBe(now);
    expect(now).not.toBe(real);
  });

  it('leaves other guests honest', async () => {
    await F().emu.setFault('mitm@1');
    try {
      const r = await runOn(F(), 2, 'cat /etc/ssh/ssh_host_ed25519_key.pub');
      const g2 = F().emu.guest('guest002');
      expect(F().emu.publicHostKeys(g2)).toContain(r.stdout.trim().split(' ').slice(0, 2).join(' '));
    } finally {
      await F().emu.clearFaults();
    }
  });
});
