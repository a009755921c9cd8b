// A push or template step through the guest's shell. A small file (up to ONE_TRIP_MAX) travels with
// its check: one command tests the step's conditions, compares the file's SHA-256 (and mode and owner
// when asked for) and installs the bytes only where they differ, saying unchanged, changed or refused
// by its exit status: one round trip per step, and none of its own when it is part of a batch. A
// larger one is probed first and only where something differs a second command receives the bytes
// (base64 in a here-document), so a converged guest does not get them. Either way the new bytes are
// checked, given their mode and owner, validated and renamed over the target. The rules are those of
// the executor's writer (writeRemoteFile): atomic rename, old mode and owner kept unless given,
// backup as a hard link.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { metadataToFix, parseProbe, probeScript, sha256, shellQuote as q } from '../executor/index.js';
import { STALE_TEMP_MINUTES, tempPrefix } from '../executor/remote-steps.js';
import { unifiedDiff } from '../schedule/index.js';
import { asProgramsInShell, inSubshell, runsInShell, type Guards } from './guards.js';
import { STAT_FORMAT, type GuestShell, type ShellCommand, type ShellResult } from './guest-shell.js';
import type { SshConnection } from '../ssh/index.js';

/** Files up to this size go through the shell (base64 costs a third more bytes); larger ones as a push. */
export const SHELL_FILE_MAX = 4 << 20;
/** --check shows a diff of files up to this size. */
const PREVIEW_MAX = 1 << 20;
const KEEP = 64 << 10;

/** What a push or template step writes on a guest. */
export interface FileWrite {
  dest: string;
  data: Buffer;
  mode?: number;
  owner?: string;
  backup: boolean;
  backupSuffix: string;
  /** A command with `%s`, run against a temporary copy of the new bytes before they are installed. */
  validate?: string;
}

/** A file step's write as the guest's shell makes it. */
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

/** Files up to this size are sent with their check (one round trip even when unchanged). */
export const ONE_TRIP_MAX = 64 << 10;
/** applyCommand's exit status when it changed the file (0: it was already as asked). */
export const APPLIED = 99;

/** The one-trip command (applyScript) for a file of up to ONE_TRIP_MAX bytes. */
export function applyCommand(f: ShellFile, guard: Guards | undefined, timeoutMs: number | undefined, keep: number): ShellCommand {
  const inline = plainText(f.data);
  return { command: checkInShell(f, inline), own: true, statPath: f.dest, ...(inline ? {} : { input: base64Lines(f.data) }), guard, timeoutMs, keep, alsoOk: [APPLIED] };
}

/**
 * The converged case in the guest's shell itself (no subshell): one `stat`, the content compared
 * when the size is the same, mode and owner checked; anything else (a change, a fix, an error) goes
 * to applyScript in a subshell, which checks again and acts. Only `fleet_` variables are set.
 */
function checkInShell(f: ShellFile, inline: boolean): string {
  const [user = '', group = ''] = (f.owner ?? '').split(':');
  const is = (v: string, name: string, id: string) => `{ [ "${name}" = ${q(v)} ] || [ "${id}" = ${q(v)} ]; }`;
  const ok = [
    '[ -n "$fleet_same" ]',
    f.mode !== undefined && `[ "$fleet_2" = ${f.mode.toString(8)} ]`,
    user && is(user, '$fleet_5', '$fleet_3'),
    group && is(group, '$fleet_6', '$fleet_4'),
  ].filter(Boolean).join(' && ');
  const compare = inline && f.data.length <= READ_MAX
    ? `fleet_c=; fleet_l=; while IFS= read -r fleet_l; do fleet_c="$fleet_c$fleet_l\n"; fleet_l=; done < "$fleet_f"; fleet_c="$fleet_c$fleet_l"; ` +
      `if [ "$fleet_c" = ${q(f.data.toString('latin1'))} ]; then fleet_same=1; fi; fleet_c=`
    : `if [ "$(sha256sum < "$fleet_f")" = "${sha256(f.data)}  -" ]; then fleet_same=1; fi`;
  return [
    `for fleet_t in ${q(tempPrefix(f.dest))}????????????; do if [ -f "$fleet_t" ] && [ -n "$(find "$fleet_t" -prune -mmin +${STALE_TEMP_MINUTES})" ]; ` +
      'then rm -f -- "$fleet_t"; fi; done 2>/dev/null',
    `fleet_f=${q(f.dest)}; fleet_same=`,
    'if [ -e "$fleet_f" ] && [ ! -d "$fleet_f" ]; then',
    // The stat line the batch took for this file (guest-shell.ts: STAT_FORMAT), while nothing since could have changed it.
    `if [ -n "\${fleet_pl-}" ]; then fleet_l=$fleet_pl; else fleet_l=$(stat -L -c '${STAT_FORMAT}' -- "$fleet_f" 2>/dev/null); fi`,
    'read -r fleet_1 fleet_2 fleet_3 fleet_4 fleet_5 fleet_6 <<fleet_stat\n$fleet_l\nfleet_stat',
    `if [ "$fleet_1" = ${f.data.length} ]; then ${compare}; fi`,
    'fi',
    `if ${ok}; then :; else ${inSubshell(applyScript(f, inline))}; fi`,
  ].join('\n');
}

/** What applyCommand's result says (its conditions already read by the caller). */
export function applyResult(f: ShellFile, r: ShellResult): FileResult {
  const stdout = r.stdout.toString();
  const refused = /^refused (\d+)$/m.exec(stdout);
  if (refused) return { kind: 'refused', status: Number(refused[1]), stdout: '', stderr: r.stderr.toString() };
  if (r.exitCode === 0) return { kind: 'done', changed: false };
  if (r.exitCode !== APPLIED) return { kind: 'failed', step: 'install', r };
  return { kind: 'done', changed: true, ...(/^backup$/m.test(stdout) ? { backup: backupName(f) } : {}) };
}

const backupName = (f: ShellFile) => `${f.dest}.fleet-bak-${f.backupSuffix}`;

/** A plain-text file up to this size is compared by the shell itself (its `read`: a system call a byte, no process). */
const READ_MAX = 1024;

/**
 * The guest side of the one-trip write: the probe's checks (stale temporary files, a directory in
 * the way) and one `stat` for size, mode and owner; the content compared only when the size is the
 * same (by the shell's `read` for small text, else SHA-256), mode and owner fixed when asked for
 * and the content is the same, else the install (installScript, told by the shell whether the file
 * existed). Exit 0: nothing to do; APPLIED: changed (`backup` on stdout when a backup was made);
 * `refused N` on stdout: the validator said no.
 */
function applyScript(f: ShellFile, inline: boolean): string {
  const stale = `for t in ${q(tempPrefix(f.dest))}????????????; do if [ -f "$t" ] && [ -n "$(find "$t" -prune -mmin +${STALE_TEMP_MINUTES})" ]; ` +
    'then rm -f -- "$t"; fi; done 2>/dev/null';
  const [user = '', group = ''] = (f.owner ?? '').split(':');
  // After the stat: $1 size, $2 mode, $3 uid, $4 gid, $5 user, $6 group.
  const is = (v: string, name: string, id: string) => `{ [ "${name}" = ${q(v)} ] || [ "${id}" = ${q(v)} ]; }`;
  const ownerOk = [user && is(user, '$5', '$3'), group && is(group, '$6', '$4')].filter(Boolean).join(' && ') || 'true';
  const compare = inline && f.data.length <= READ_MAX
    // `read` keeps a last line without a newline in `l`; a NUL it drops makes the text shorter, so unequal.
    ? `c=; l=; while IFS= read -r l; do c="$c$l\n"; l=; done < "$f"; c="$c$l"; if [ "$c" = ${q(f.data.toString('latin1'))} ]; then same=1; fi`
    : `s=$(sha256sum < "$f") || exit 1; if [ "$s" = "${sha256(f.data)}  -" ]; then same=1; fi`;
  return [
    stale,
    `f=${q(f.dest)}; e=; same=`,
    `if [ -d "$f" ]; then echo 'is a directory (give the full target path)' >&2; exit 1; fi`,
    'if [ -e "$f" ]; then',
    `e=1; set -- $(stat -L -c '%s %a %u %g %U %G' -- "$f") && [ $# = 6 ] || exit 1`,
    `if [ "$1" = ${f.data.length} ]; then ${compare}; fi`,
    'fi',
    'if [ -n "$same" ]; then',
    'c=0',
    f.mode !== undefined && `if [ "$2" != ${f.mode.toString(8)} ]; then chmod ${f.mode.toString(8)} -- "$f" || exit 1; c=1; fi`,
    f.owner !== undefined && `if ! ${ownerOk}; then chown -- ${q(f.owner)} "$f" || exit 1; c=1; fi`,
    `[ $c = 0 ] || exit ${APPLIED}`,
    'exit 0',
    'fi',
    // The old mode and owner, for installScript to keep.
    'if [ -n "$e" ]; then set -- "$2" "$3:$4"; fi',
    installScript(f, sha256(f.data), f.backup ? backupName(f) : undefined, undefined, inline),
    `exit ${APPLIED}`,
  ].filter(Boolean).join('\n');
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
function installScript(f: ShellFile, want: string, backup: string | undefined, exists: boolean | undefined, inline: boolean): string {
  const beside = `${posix.dirname(f.dest)}/.${posix.basename(f.dest)}.fleet-tmp-${randomBytes(6).toString('hex')}`;
  const owner = f.owner ?? (f.root ? '=' : '-');
  const byUmask = f.mode !== undefined && (f.mode & ~0o666) === 0;
  // `exists` undefined: the shell variable `e` says (non-empty: the file exists).
  const ifExists = (text: string) => (exists === undefined ? `if [ -n "$e" ]; then ${text}; fi` : exists ? text : '');
  // Mode and owner kept from the file being replaced: one stat for both ($1 and $2; already there when `exists` is undefined).
  const keep = exists && (f.mode === undefined || owner === '=')
    ? 'set -- $(stat -L -c \'%a %u:%g\' -- "$f") && [ $# = 2 ] || exit 1' : '';
  const umask = byUmask ? `umask ${(~f.mode! & 0o777).toString(8).padStart(3, '0')};`
    : f.mode !== undefined || exists ? 'umask 077;' : exists === undefined ? '[ -z "$e" ] || umask 077;' : '';
  return [
    `f=${q(f.dest)}; t=${q(beside)}`,
    `trap 'rm -f -- "$t"' EXIT`,
    'd=${t%/*}',
    '[ -d "$d" ] || { echo "no such directory: $d" >&2; exit 1; }',
    keep,
    writeTemp(inline ? `printf %s ${q(f.data.toString('latin1'))}` : 'base64 -d', umask),
    !inline && `[ "$(sha256sum < "$t")" = "${want}  -" ] || { echo 'received bytes do not match the SHA-256 sent' >&2; exit 1; }`,
    f.mode !== undefined ? (byUmask ? '' : `chmod ${f.mode.toString(8)} "$t" || exit 1`) : ifExists('chmod "$1" "$t" || exit 1'),
    owner === '=' ? ifExists('chown -- "$2" "$t" || exit 1')
      : owner === '-' ? '' : `chown -- ${q(owner)} "$t" || exit 1`,
    f.validate !== undefined && `${validator(f.validate)} >&2 </dev/null; v=$?; if [ "$v" != 0 ]; then echo "refused $v"; exit 1; fi`,
    backup && (exists === undefined
      ? `if [ -n "$e" ]; then ln -- "$f" ${q(backup)} || exit 1; echo backup; fi`
      : `if [ -e "$f" ] || [ -L "$f" ]; then ln -- "$f" ${q(backup)} || exit 1; fi`),
    'mv -f -- "$t" "$f" || exit 1',
    'trap - EXIT',
  ].filter(Boolean).join('\n');
}

/**
 * Shell text writing the output of `writer` to the new temporary file `$t`: noclobber (`$t` must be
 * new) and the umask (`umask`, shell text: the new file's mode) hold for this write only, not for the
 * validator after it. Both are set and put back in the install script's own shell, the umask it had
 * read from /proc/self/status (a fork less than a subshell per file); where that cannot be read, in
 * a subshell.
 */
function writeTemp(writer: string, umask: string): string {
  if (!umask) return `set -C; ${writer} > "$t"; w=$?; set +C; [ "$w" = 0 ] || exit 1`;
  return [
    `fleet_write() { ${writer}\n}`,
    'u=; { read -r _ _ && read -r _ u; } </proc/self/status 2>/dev/null',
    `case $u in 0[0-7][0-7][0-7]) set -C; ${umask} fleet_write > "$t"; w=$?; set +C; umask "$u";; *) (set -C; ${umask} fleet_write > "$t"); w=$?;; esac`,
    '[ "$w" = 0 ] || exit 1',
  ].join('\n');
}

/**
 * The validator run against the temporary file `$t`: in the install script's shell itself when it
 * cannot change that shell (runsInShell: `visudo -cf "$t"`, a fork less), else in a subshell.
 */
function validator(command: string): string {
  const text = command.replaceAll('%s', '"$t"');
  return runsInShell(text) ? asProgramsInShell(text) : `( ${text} )`;
}

/** --check: the command reading what the file holds now (previewResult compares it); the conditions tested in the same command. */
export function previewCommand(f: ShellFile, guard: Guards | undefined, timeoutMs?: number): ShellCommand {
  const command = `f=${q(f.dest)}; if [ -e "$f" ] || [ -L "$f" ]; then n=$(wc -c < "$f") || exit 1; echo "$n"; ` +
    `if [ "$n" -le ${PREVIEW_MAX} ]; then exec cat -- "$f"; else sha256sum < "$f"; fi; else echo missing; fi`;
  return { command, guard, timeoutMs, keep: PREVIEW_MAX + 4096 };
}

/** --check: unchanged, or the unified diff of what would change. */
export function previewResult(f: ShellFile, r: ShellResult):
  { kind: 'skipped'; guard: number; stderr: string } | { kind: 'failed'; step: string; r: ShellResult } | { kind: 'done'; changed: boolean; note: string; diff?: string } {
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
