#!/usr/bin/env node
// Applies patches/<package>+<version>.patch (unified diffs, paths relative to the package) to
// node_modules at install time. Strict: the installed version must be the one named, every hunk
// must match exactly (no fuzz), and anything else stops the install with one line on stderr.
// Running it again over an already patched tree changes nothing.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

class PatchError extends Error {}

/** `@scope+name+1.2.3.patch` -> ['@scope/name', '1.2.3']. */
function packageOf(file) {
  const parts = file.replace(/\.patch$/, '').split('+');
  const version = parts.pop();
  return [parts.join('/'), version];
}

/** Files of a unified diff, each with its hunks as [old lines, new lines]. */
export function parseDiff(text) {
  const files = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const plus = /^\+\+\+ b\/(\S+)/.exec(lines[i] ?? '');
    if (!lines[i - 1]?.startsWith('--- ') || !plus) continue;
    const file = { path: plus[1], hunks: [] };
    files.push(file);
    while (/^@@ /.test(lines[i + 1] ?? '')) {
      i++;
      const m = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(lines[i]);
      if (!m) throw new PatchError(`malformed hunk header: ${lines[i]}`);
      let oldLeft = Number(m[1] ?? 1);
      let newLeft = Number(m[2] ?? 1);
      const hunk = { old: [], new: [] };
      while (oldLeft > 0 || newLeft > 0) {
        const l = lines[++i];
        if (l === undefined) throw new PatchError(`hunk of ${file.path} ends early`);
        if (l.startsWith('\\')) continue; // "\ No newline at end of file"
        const body = l.slice(1);
        if (l[0] === ' ' || l === '') {
          hunk.old.push(body);
          hunk.new.push(body);
          oldLeft--;
          newLeft--;
        } else if (l[0] === '-') {
          hunk.old.push(body);
          oldLeft--;
        } else if (l[0] === '+') {
          hunk.new.push(body);
          newLeft--;
        } else throw new PatchError(`unexpected line in hunk of ${file.path}: ${l}`);
      }
      file.hunks.push(hunk);
    }
  }
  return files;
}

function indexesOf(lines, block, from = 0) {
  const found = [];
  for (let i = from; i + block.length <= lines.length; i++) {
    if (block.every((l, j) => lines[i + j] === l)) found.push(i);
  }
  return found;
}

/** Each hunk's `from` block replaced by its `to` block, in order, each matching exactly one place. */
function replaceHunks(lines, file, from, to) {
  let start = 0;
  for (const [n, h] of file.hunks.entries()) {
    const at = indexesOf(lines, h[from], start);
    if (at.length !== 1) {
      throw new PatchError(`hunk ${n + 1} of ${file.path} ${at.length ? 'matches more than one place' : 'does not match'}`);
    }
    lines = [...lines.slice(0, at[0]), ...h[to], ...lines.slice(at[0] + h[from].length)];
    start = at[0] + h[to].length;
  }
  return lines;
}

/** The patched text, the same text when already patched, or a PatchError saying which hunk failed. */
export function applyFile(text, file) {
  const lines = text.split('\n');
  try {
    // Undoing it works only on a patched file (its added lines are there): then nothing to do.
    replaceHunks(lines, file, 'new', 'old');
    return text;
  } catch (err) {
    if (!(err instanceof PatchError)) throw err;
  }
  return replaceHunks(lines, file, 'old', 'new').join('\n');
}

function applyPatch(patchFile) {
  const [name, version] = packageOf(patchFile);
  let dir;
  let installed;
  try {
    // Looked up as the project's code looks it up (hoisted or not); found by directory, since a
    // package's "exports" may not list its package.json.
    const lookup = createRequire(join(root, 'package.json')).resolve.paths(name) ?? [];
    const manifest = lookup.map((d) => join(d, name, 'package.json')).find((p) => existsSync(p));
    dir = dirname(manifest);
    installed = JSON.parse(readFileSync(manifest, 'utf8')).version;
  } catch {
    throw new PatchError(`${name} is not installed`);
  }
  if (installed !== version) throw new PatchError(`it is for ${name} ${version} but ${installed} is installed`);
  const files = parseDiff(readFileSync(join(root, 'patches', patchFile), 'utf8'));
  if (files.length === 0) throw new PatchError('it holds no file');
  // Every file is checked before any is written: a patch applies whole or not at all.
  const out = files.map((f) => {
    const path = join(dir, f.path);
    const before = readFileSync(path, 'utf8');
    return { path, before, after: applyFile(before, f) };
  });
  for (const o of out) {
    if (o.after === o.before) continue;
    writeFileSync(`${o.path}.patching`, o.after);
    renameSync(`${o.path}.patching`, o.path);
  }
  return out.some((o) => o.after !== o.before);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const file of readdirSync(join(root, 'patches')).filter((f) => f.endsWith('.patch')).sort()) {
    try {
      const changed = applyPatch(file);
      console.log(`patches/${file}: ${changed ? 'applied' : 'already applied'}`);
    } catch (err) {
      const why = err instanceof PatchError ? err.message : String(err);
      console.error(`patches/${file} does not apply: ${why}; install the version it names or update the patch`);
      process.exit(1);
    }
  }
}
