// Builds the emulator's sandbox launcher (C, no dependencies) and its guest-side shims into dist/.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'emulator');
// Built beside the live files and renamed into place: a running emulator's guests keep finding
// their shims and launcher during a rebuild (a rename replaces a file or directory atomically).
const stage = join(out, `.build-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
const guestBin = join(stage, 'guest-bin');
mkdirSync(guestBin, { recursive: true });
const cc = process.env.CC ?? 'cc';
const exe = join(stage, 'fleet-sandbox');
// One binary from every C source of the folder (one file per role, sandbox.h between them).
const sources = join(root, 'src/emulator/sandbox');
const units = readdirSync(sources).filter((f) => f.endsWith('.c')).sort().map((f) => join(sources, f));
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wno-format-truncation', '-o', exe, ...units], { stdio: 'inherit' });
} catch (err) {
  rmSync(stage, { recursive: true, force: true });
  console.error(`build-sandbox: could not compile the emulator's sandbox with ${cc} (install gcc or set CC): ${err.message}`);
  process.exit(1);
}
copyFileSync(exe, join(guestBin, 'fleet-guestctl'));
for (const shim of readdirSync(join(root, 'src/emulator/guest-bin'))) {
  copyFileSync(join(root, 'src/emulator/guest-bin', shim), join(guestBin, shim));
}
for (const f of readdirSync(guestBin)) chmodSync(join(guestBin, f), 0o755);
renameSync(exe, join(out, 'fleet-sandbox'));
// A directory cannot be renamed over a non-empty one: swap its entries one by one instead.
mkdirSync(join(out, 'guest-bin'), { recursive: true });
for (const f of readdirSync(guestBin)) renameSync(join(guestBin, f), join(out, 'guest-bin', f));
rmSync(stage, { recursive: true, force: true });
