// scripts/patch-deps.mjs, the install-time patch of ssh2 (key exchange, public-key login): it applies to the pinned ssh2 exactly,
// changes nothing when run again, and stops the install with one line when the package moved on.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { applyFile, parseDiff } from '../../scripts/patch-deps.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PATCH = readFileSync(join(REPO, 'patches/ssh2+1.17.0.patch'), 'utf8');
const FILES = ['lib/protocol/kex.js', 'lib/protocol/constants.js', 'lib/client.js', 'lib/protocol/Protocol.js', 'lib/protocol/SFTP.js', 'lib/protocol/crypto.js', 'lib/protocol/keyParser.js', 'lib/Channel.js', 'lib/index.js'];

type File = { path: string; hunks: { old: string[]; new: string[] }[] };
const files = (): File[] => parseDiff(PATCH);
const installed = (path: string) => readFileSync(join(REPO, 'node_modules/ssh2', path), 'utf8');
/** ssh2 as published: the installed (patched) file with the patch taken out. */
const pristine = (f: File) => applyFile(installed(f.path), { ...f, hunks: f.hunks.map((h) => ({ old: h.new, new: h.old })) });
// The other patch, ML-KEM's hashing in @noble/post-quantum: a scoped package whose "exports" do not list its package.json.
const PQ = 'node_modules/@noble/post-quantum';
const PQ_FILES = ['_crystals.js', 'ml-kem.js'];
const pqFiles = (): File[] => parseDiff(readFileSync(join(REPO, 'patches/@noble+post-quantum+0.7.1.patch'), 'utf8'));
const pqInstalled = (path: string) => readFileSync(join(REPO, PQ, path), 'utf8');
const pqPristine = (f: File) => applyFile(pqInstalled(f.path), { ...f, hunks: f.hunks.map((h) => ({ old: h.new, new: h.old })) });

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A project with the script, the patch and an ssh2 of `version` whose files are `content(path)`. */
function project(version: string, content: (f: File) => string): string {
  root = mkdtempSync(join(tmpdir(), 'fleet-patch-deps-'));
  mkdirSync(join(root, 'scripts'));
  cpSync(join(REPO, 'scripts/patch-deps.mjs'), join(root, 'scripts/patch-deps.mjs'));
  cpSync(join(REPO, 'patches'), join(root, 'patches'), { recursive: true });
  writeFileSync(join(root, 'package.json'), '{"name":"p","type":"module"}');
  mkdirSync(join(root, 'node_modules/ssh2/lib/protocol'), { recursive: true });
  writeFileSync(join(root, 'node_modules/ssh2/package.json'), JSON.stringify({ name: 'ssh2', version, main: './lib/index.js' }));
  for (const f of files()) writeFileSync(join(root, 'node_modules/ssh2', f.path), content(f));
  mkdirSync(join(root, PQ), { recursive: true });
  cpSync(join(REPO, PQ, 'package.json'), join(root, PQ, 'package.json'));
  for (const f of pqFiles()) writeFileSync(join(root, PQ, f.path), pqPristine(f));
  return root;
}

const run = (dir: string) => execa('node', [join(dir, 'scripts/patch-deps.mjs')], { reject: false });

describe('patch-deps', () => {
  it('touches the files of ssh2 that carry the key exchange, the public-key login, SFTP writes, packet buffers, host key parsing, channel teardown and what loads at start-up', () => {
    expect(files().map((f) => f.path).sort()).toEqual([...FILES].sort());
    for (const f of files()) expect(pristine(f)).not.toContain('mlkem768x25519-sha256');
    expect(pqFiles().map((f) => f.path).sort()).toEqual([...PQ_FILES].sort());
    for (const f of pqFiles()) expect(pqPristine(f)).not.toContain('createHash');
  });

  it('patches the published ssh2 1.17.0 into what is installed, then finds it applied', async () => {
    const dir = project('1.17.0', pristine);
    const first = await run(dir);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe('patches/@noble+post-quantum+0.7.1.patch: applied\npatches/ssh2+1.17.0.patch: applied');
    for (const path of FILES) expect(readFileSync(join(dir, 'node_modules/ssh2', path), 'utf8')).toBe(installed(path));
    for (const path of PQ_FILES) expect(readFileSync(join(dir, PQ, path), 'utf8')).toBe(pqInstalled(path));
    const again = await run(dir);
    expect(again.stdout).toBe('patches/@noble+post-quantum+0.7.1.patch: already applied\npatches/ssh2+1.17.0.patch: already applied');
    for (const path of FILES) expect(readFileSync(join(dir, 'node_modules/ssh2', path), 'utf8')).toBe(installed(path));
    for (const path of PQ_FILES) expect(readFileSync(join(dir, PQ, path), 'utf8')).toBe(pqInstalled(path));
  });

  it('fails the install in one line when another ssh2 version is installed', async () => {
    const r = await run(project('1.18.0', pristine));
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'patches/ssh2+1.17.0.patch does not apply: it is for ssh2 1.17.0 but 1.18.0 is installed; install the version it names or update the patch',
    ]);
  });

  it('fails, writing nothing, when a file no longer matches the patch', async () => {
    const changed = (f: File) => (f.path.endsWith('kex.js') ? pristine(f).replace("return new Curve25519Exchange('sha256', ...args);", 'return new X();') : pristine(f));
    const dir = project('1.17.0', changed);
    const r = await run(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(/^patches\/ssh2\+1\.17\.0\.patch does not apply: hunk 4 of lib\/protocol\/kex\.js does not match;/);
    const constants = files().find((f) => f.path.endsWith('constants.js'))!;
    expect(readFileSync(join(dir, 'node_modules/ssh2/lib/protocol/constants.js'), 'utf8')).toBe(pristine(constants));
  });

  it('leaves the server, the HTTP agents and key generation of the installed ssh2 unloaded until first used', async () => {
    const probe = `const ssh2 = require('ssh2');
      const loaded = () => Object.keys(require.cache).map((k) => k.replace(/.*node_modules\\//, '')).filter((k) => /server|http-agents|keygen|bcrypt/.test(k)).sort();
      const before = loaded();
      const used = [typeof ssh2.Server, typeof ssh2.HTTPAgent, typeof ssh2.HTTPSAgent, typeof ssh2.utils.generateKeyPairSync];
      console.log(JSON.stringify({ before, used, after: loaded() }));`;
    const r = await execa('node', ['-e', probe], { cwd: REPO });
    expect(JSON.parse(r.stdout)).toEqual({
      before: [],
      used: ['function', 'function', 'function', 'function'],
      after: ['bcrypt-pbkdf/index.js', 'ssh2/lib/http-agents.js', 'ssh2/lib/keygen.js', 'ssh2/lib/server.js'],
    });
  });
});
