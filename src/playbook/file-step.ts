// A push or template step through the guest's shell: one command tests the step's conditions and
// probes the file (SHA-256, umask, mode and owner when asked for), and only when something differs a
// second one receives the bytes (base64 in a here-document), checks them, gives them their mode and
// owner, runs the validator on them and renames them over the target. A converged guest costs one
// command per file step and no transfer. The rules are those of the executor's writer
// (writeRemoteFile): atomic rename, old mode and owner kept unless given, backup as a hard link.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { metadataToFix, parseProbe, probeScript, sha256, shellQuote as q } from '../executor/index.js';
import { unifiedDiff } from '../schedule/index.js';
import type { FileWrite } from './actions.js';
import type { Guards } from './guards.js';
import type { GuestShell, ShellResult } from './guest-shell.js';
import type { SshConnection } from '../ssh/index.js';

/** Files up to this size go through the shell (base64 costs a third more bytes); larger ones as a push. */
export const SHELL_FILE_MAX = 4 << 20;
/** --check shows a diff of files up to this size. */
const PREVIEW_MAX = 1 << 20;
const KEEP = 64 << 10;

/** A file step's write (actions.ts's FileWrite) as the guest's shell makes it. */
export interface ShellFile extends FileWrite {
  /** Whether the shell is root's: then a file with no owner given keeps its old one. */
  root: boolean;
}

/** What happened: `skipped` (the guard's exit status), or the outcome; `refused`: the validator's status. */
export type FileResult =
  | { kind: 'skipped'; guard: number; stderr: string }
  | { kind: 'done'; changed: boolean; backup?: string }
  | { kind: 'refused'; status: number; stdout: string; stderr: string }
  | { kind: 'failed'; step: string; r: ShellResult };

export async function writeThroughShell(sh: GuestShell, conn: SshConnection, f: ShellFile, guard: Guards | undefined, timeoutMs?: number): Promise<FileResult> {
  const withStat = f.mode !== undefined || f.owner !== undefined;
  const probed = await sh.run(probeScript(f.dest, withStat), { guard, timeoutMs, keep: KEEP });
  if (probed.guard !== undefined) return { kind: 'skipped', guard: probed.guard, stderr: probed.stderr.toString() };
  if (probed.exitCode !== 0) return { kind: 'failed', step: 'check', r: probed };
  const now = parseProbe(conn, f.dest, probed.stdout.toString(), withStat);
  const want = sha256(f.data);
  if (now.existing?.sha256 === want) {
    const fix = metadataToFix(now.existing, f);
    if (fix.mode === undefined && fix.owner === undefined) return { kind: 'done', changed: false };
    const script = [fix.mode !== undefined && `chmod ${fix.mode.toString(8)} -- ${q(f.dest)}`, fix.owner && `chown -- ${q(fix.owner)} ${q(f.dest)}`]
      .filter(Boolean).join(' && ');
    const r = await sh.run(script, { timeoutMs, keep: KEEP });
    return r.exitCode === 0 ? { kind: 'done', changed: true } : { kind: 'failed', step: 'metadata', r };
  }
  const backup = f.backup && now.existing ? `${f.dest}.fleet-bak-${f.backupSuffix}` : undefined;
  const inline = plainText(f.data);
  const r = await sh.run(installScript(f, want, backup, !!now.existing, inline), { ...(inline ? {} : { input: base64Lines(f.data) }), timeoutMs, keep: KEEP });
  const refused = /^refused (\d+)$/m.exec(r.stdout.toString());
  if (refused) return { kind: 'refused', status: Number(refused[1]), stdout: '', stderr: r.stderr.toString() };
  if (r.exitCode !== 0) return { kind: 'failed', step: 'install', r };
  return { kind: 'done', changed: true, ...(backup ? { backup } : {}) };
}

function base64Lines(data: Buffer): string {
  return data.toString('base64').replace(/.{1,76}/g, '$&\n');
}

/** Text up to this size that is printable ASCII goes in the shell's own text (quoted), not base64. */
const INLINE_MAX = 64 << 10;
const PLAIN = /^[\t\n\r\x20-\x7e]*$/;
/**
 * The bytes can be written by the shell itself (`printf %s '...'`: no base64 or sha256sum process):
 * printable ASCII, so nothing in them is special to any shell; the quoted text either reaches the
 * guest whole or the shell cannot parse the command and writes nothing.
 */
const plainText = (data: Buffer) => data.length <= INLINE_MAX && PLAIN.test(data.toString('latin1'));

/**
 * The guest side of a changed file; the validator's output goes to stderr, its refusal to stdout.
 * Every process it starts costs the guest an exec, so what the shell can do itself it does: the
 * bytes are written by printf where they allow it, and a mode without execute or special bits is
 * given by creating the file under the matching umask (chmod only for the others; a directory with
 * a default ACL can still widen it, and the next run's check sees that and fixes it).
 */
function installScript(f: ShellFile, want: string, backup: string | undefined, exists: boolean, inline: boolean): string {
  const beside = `${posix.dirname(f.dest)}/.${posix.basename(f.dest)}.fleet-tmp-${randomBytes(6).toString('hex')}`;
  const owner = f.owner ?? (f.root ? '=' : '-');
  const byUmask = f.mode !== undefined && (f.mode & ~0o666) === 0;
  // Mode and owner kept from the file being replaced: one stat for both.
  const keep = exists && (f.mode === undefined || owner === '=')
    ? 'set -- $(stat -L -c \'%a %u:%g\' -- "$f") && [ $# = 2 ] || exit 1' : '';
  const umask = byUmask ? (~f.mode! & 0o777).toString(8).padStart(3, '0') : f.mode !== undefined || exists ? '077' : undefined;
  return [
    `f=${q(f.dest)}; t=${q(beside)}`,
    `trap 'rm -f -- "$t"' EXIT`,
    'd=${t%/*}',
    '[ -d "$d" ] || { echo "no such directory: $d" >&2; exit 1; }',
    keep,
    // A subshell (a fork, no exec): noclobber and the umask are for this file only, not the validator.
    `(set -C;${umask ? ` umask ${umask};` : ''} ${inline ? `printf %s ${q(f.data.toString('latin1'))}` : 'base64 -d'} > "$t") || exit 1`,
    !inline && `[ "$(sha256sum < "$t")" = "${want}  -" ] || { echo 'received bytes do not match the SHA-256 sent' >&2; exit 1; }`,
    f.mode !== undefined ? (byUmask ? '' : `chmod ${f.mode.toString(8)} "$t" || exit 1`) : exists ? 'chmod "$1" "$t" || exit 1' : '',
    owner === '=' ? (exists ? 'chown -- "$2" "$t" || exit 1' : '')
      : owner === '-' ? '' : `chown -- ${q(owner)} "$t" || exit 1`,
    f.validate !== undefined &&
      `( ${f.validate.replaceAll('%s', '"$t"')} ) >&2 </dev/null; v=$?; if [ "$v" != 0 ]; then echo "refused $v"; exit 1; fi`,
    backup && `if [ -e "$f" ] || [ -L "$f" ]; then ln -- "$f" ${q(backup)} || exit 1; fi`,
    'mv -f -- "$t" "$f" || exit 1',
    'trap - EXIT',
  ].filter(Boolean).join('\n');
}

/** --check: unchanged, or the unified diff of what would change; the conditions tested in the same command. */
export async function previewThroughShell(sh: GuestShell, f: ShellFile, guard: Guards | undefined, timeoutMs?: number):
  Promise<{ kind: 'skipped'; guard: number; stderr: string } | { kind: 'failed'; step: string; r: ShellResult } | { kind: 'done'; changed: boolean; note: string; diff?: string }> {
  const script = `f=${q(f.dest)}; if [ -e "$f" ] || [ -L "$f" ]; then n=$(wc -c < "$f") || exit 1; echo "$n"; ` +
    `if [ "$n" -le ${PREVIEW_MAX} ]; then exec cat -- "$f"; else sha256sum < "$f"; fi; else echo missing; fi`;
  const r = await sh.run(script, { guard, timeoutMs, keep: PREVIEW_MAX + 4096 });
  if (r.guard !== undefined) return { kind: 'skipped', guard: r.guard, stderr: r.stderr.toString() };
  if (r.exitCode !== 0) return { kind: 'failed', step: 'read', r };
  const nl = r.stdout.indexOf(10);
  const head = r.stdout.subarray(0, nl).toString();
  const body = r.stdout.subarray(nl + 1);
  if (head === 'missing') return { kind: 'done', changed: true, ...describe(undefined, f) };
  if (Number(head) > PREVIEW_MAX) {
    const same = body.toString().startsWith(`${sha256(f.data)} `);
    return same ? { kind: 'done', changed: false, note: 'same content' } : { kind: 'done', changed: true, note: `would replace ${f.dest} (large file, no diff)` };
  }
  if (body.equals(f.data)) return { kind: 'done', changed: false, note: 'same content' };
  return { kind: 'done', changed: true, ...describe(body, f) };
}

function describe(old: Buffer | undefined, f: ShellFile): { note: string; diff?: string } {
  const binary = (b: Buffer) => b.includes(0);
  if ((old && binary(old)) || binary(f.data)) return { note: `would ${old ? 'replace' : 'create'} ${f.dest} (binary content)` };
  const diff = unifiedDiff(old?.toString('utf8') ?? '', f.data.toString('utf8'), { from: old ? f.dest : '/dev/null', to: f.dest });
  return { note: `would ${old ? 'change' : 'create'} ${f.dest}`, diff };
}
