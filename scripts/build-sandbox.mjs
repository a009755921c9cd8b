// Builds the emulator's sandbox launcher (C, no dependencies) and its guest-side shims into dist/.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'emulator');
const guestBin = join(out, 'guest-bin');
rmSync(guestBin, { recursive: true, force: true });
mkdirSync(guestBin, { recursive: true });
const cc = process.env.CC ?? 'cc';
const exe = join(out, 'fleet-sandbox');
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wno-format-truncation', '-o', exe, join(root, 'src/emulator/sandbox/fleet-sandbox.c')], { stdio: 'inherit' });
} catch (err) {
  console.error(`build-sandbox: could not compile the emulator's sandbox with ${cc} (install gcc or set CC): ${err.message}`);
  process.exit(1);
}
copyFileSync(exe, join(guestBin, 'fleet-guestctl'));
for (const shim of readdirSync(join(root, 'src/emulator/guest-bin'))) {
  copyFileSync(join(root, 'src/emulator/guest-bin', shim), join(guestBin, shim));
}
for (const f of readdirSync(guestBin)) chmodSync(join(guestBin, f), 0o755);
