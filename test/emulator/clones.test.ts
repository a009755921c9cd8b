// Copy-on-write clones: a guest's root is an overlay of its own changes over the golden image, so a
// fleet that has changed nothing takes next to no disk, a change lands in that guest's layer only,
// a deletion stays deleted across restarts, and one guest's sessions share one view of its files.
// Once with the state on tmpfs (the tests' TMPDIR), once on the machine's disk.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Emulator } from '../../src/emulator/index.js';
import { accessTo, connectGuest, runOn } from '../helpers/emulator.js';

const GUESTS = 12;

/** Every entry under dir (relative paths), and the bytes its blocks take, as du counts them. */
function walk(dir: string): { entries: string[]; bytes: number } {
  const entries: string[] = [];
  let bytes = 0;
  const visit = (p: string) => {
    const st = lstatSync(p);
    bytes += st.blocks * 512;
    if (p !== dir) entries.push(relative(dir, p));
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(dir);
  return { entries: entries.sort(), bytes };
}

const isWhiteout = (p: string) => {
  const st = lstatSync(p, { throwIfNoEntry: false });
  return !!st && st.isCharacterDevice() && st.rdev === 0;
};

for (const [where, base, subnet] of [
  ['tmpfs', tmpdir(), '127.125.0.0/16'],
  ['disk', '/var/tmp', '127.126.0.0/16'],
] as const) {
  describe(`copy-on-write clones, state on ${where}`, () => {
    const state = mkdtempSync(join(base, 'clonefleet-clones-test-'));
    let emu: Emulator | undefined;
    const start = async () => (emu = await Emulator.start({ guests: GUESTS, state, subnet }));
    afterAll(async () => {
      await emu?.stop();
      rmSync(state, { recursive: true, force: true });
    });
    const upper = (i: number) => join(state, 'guests', `guest${String(i).padStart(3, '0')}`);

    it('keeps nothing of a clone that changed nothing, not a copy of the image', async () => {
      await start();
      const golden = walk(join(state, 'golden'));
      expect(golden.entries.length).toBeGreaterThan(40);
      for (let i = 1; i <= GUESTS; i++) expect(walk(upper(i)).entries).toEqual([]);
      // Every clone together (its layer and its overlay's work directory) takes less than the image,
      // which each clone used to copy whole.
      const clones = walk(join(state, 'guests')).bytes + walk(join(state, 'work')).bytes;
      expect(clones / GUESTS).toBeLessThan(16 * 1024);
      expect(clones).toBeLessThan(golden.bytes);
    });

    it('writes a guest\'s name and control sockets on its first command, and shows it the whole image', async () => {
      const fleet = accessTo(emu!);
      expect((await runOn(fleet, 2, 'cat /etc/hostname; grep -c . /etc/passwd; ls /etc/cron.daily | wc -l')).stdout).toBe('guest002\n8\n4\n');
      expect(walk(upper(2)).entries).toEqual(['etc', 'etc/hostname', 'etc/hosts', 'run', 'run/fleet', 'run/fleet/control.sock', 'run/fleet/status.sock']);
      expect(walk(upper(3)).entries).toEqual([]);
    });

    it('puts a guest\'s change in its own layer only; the image and other guests do not see it', async () => {
      const fleet = accessTo(emu!);
      const r = await runOn(fleet, 1, 'echo one | sudo -n tee /etc/clone-probe >/dev/null && echo x >> ~/.profile && cat /etc/clone-probe');
      expect(r).toMatchObject({ code: 0, stdout: 'one\n' });
      expect(readFileSync(join(upper(1), 'etc', 'clone-probe'), 'utf8')).toBe('one\n');
      expect(existsSync(join(upper(1), 'home', 'fleetadm', '.profile'))).toBe(true); // copied up when changed
      expect(existsSync(join(state, 'golden', 'etc', 'clone-probe'))).toBe(false);
      expect(readFileSync(join(state, 'golden', 'home', 'fleetadm', '.profile'), 'utf8')).not.toMatch(/^x$/m);
      expect(existsSync(join(upper(2), 'etc', 'clone-probe'))).toBe(false);
      const other = await runOn(fleet, 2, 'cat /etc/clone-probe; tail -1 ~/.profile');
      expect(other.stderr).toMatch(/No such file/);
      expect(other.stdout).not.toMatch(/^x$/m);
    });

    it('sees a change made by another session of the same guest at once', async () => {
      const fleet = accessTo(emu!);
      const flag = `/tmp/clone-flag-${where}`;
      // A session that already looked the file up (and missed) keeps looking while another writes it.
      const waiter = runOn(fleet, 4, `i=0; while [ ! -e ${flag} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; cat ${flag} 2>/dev/null || echo never`);
      await new Promise((r) => setTimeout(r, 500));
      expect((await runOn(fleet, 4, `echo seen > ${flag}`)).code).toBe(0);
      expect((await waiter).stdout).toBe('seen\n');
    });

    it('answers logins from the merged view: a home .ssh replaced by an empty one holds no golden key', async () => {
      const fleet = accessTo(emu!);
      const r = await runOn(fleet, 3, 'sudo -n rm -rf /home/fleetadm/.ssh && sudo -n mkdir -m 700 /home/fleetadm/.ssh && sudo -n chown fleetadm: /home/fleetadm/.ssh');
      expect(r.code).toBe(0);
      await expect(connectGuest(fleet, 3)).rejects.toThrow(/authentication|auth/i);
      (await connectGuest(fleet, 5)).close(); // the others still take the key
    });

    it('keeps a deleted image file deleted, and every change, across a restart', async () => {
      const fleet = accessTo(emu!);
      expect((await runOn(fleet, 6, 'sudo -n rm /etc/crontab && echo kept | sudo -n tee /etc/kept-probe >/dev/null')).code).toBe(0);
      expect(isWhiteout(join(upper(6), 'etc', 'crontab'))).toBe(true);
      expect(existsSync(join(state, 'golden', 'etc', 'crontab'))).toBe(true);
      await emu!.stop();
      emu = undefined;
      await start();
      const again = accessTo(emu!);
      expect((await runOn(again, 6, 'test -e /etc/crontab && echo present || echo gone; cat /etc/kept-probe')).stdout).toBe('gone\nkept\n');
      expect((await runOn(again, 7, 'test -e /etc/crontab && echo present || echo gone')).stdout).toBe('present\n');
      expect((await runOn(again, 1, 'cat /etc/clone-probe /etc/hostname')).stdout).toBe('one\nguest001\n');
    });
  });
}
