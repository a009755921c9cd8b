// Writing a guest file with one guest process: a script reports the target's state (umask, SHA-256,
// mode and owner when asked) and waits for one line from us: `skip`, `meta` (same bytes, fix mode or
// owner) or `put` followed by the bytes on stdin, which it writes to a temporary name beside the
// target, checks against the SHA-256, gives its mode/owner and renames over the target. Under sudo
// the whole script runs as root (one root step for the check and the install); as the login user the
// SFTP transfer (remote-sftp.ts) costs the guest fewer processes, and this is its fallback for guests
// without a usable SFTP server.
import type { ExecResult, SshConnection } from '../ssh/index.js';
import { shellQuote as q, wrapSudo } from './command.js';
import { StepError } from './errors.js';
import { cleanup, failed, metadataToFix, parseProbe, probeScript, stepError, type WritePlan, type WriteRemoteOptions, type WriteRemoteOutcome } from './remote-steps.js';

const READY = 'fleet-ready\n';
const RECEIVED = 'fleet-received\n';

/** The guest side. The decision line's words are checked by us: octal mode or `-`, owner or `-`/`=`, 0/1. */
function streamScript(path: string, p: WritePlan): string {
  return [
    probeScript(path, p.withStat),
    `printf '${READY.replace('\n', '\\n')}'`,
    `t=${q(p.beside)}`,
    // `read` takes exactly one line from a pipe, so what follows it on stdin is the file.
    'IFS=" " read -r op mode owner bak || exit 0',
    'case "$op" in',
    'put)',
    `  trap 'rm -f -- "$t"' EXIT`,
    '  d=${t%/*}',
    '  [ -d "$d" ] || { echo "no such directory: $d" >&2; exit 1; }',
    // The shell says why it cannot create the file (permission denied, read-only file system, ...).
    '  (set -C; umask 077; exec cat > "$t") || exit 1',
    `  [ "$(sha256sum < "$t")" = "${p.want}  -" ] || { echo 'received bytes do not match the SHA-256 sent (transfer cut short?)' >&2; exit 1; }`,
    `  printf '${RECEIVED.replace('\n', '\\n')}'`,
    // `-`: keep the old file's mode, or give a new one the umask's; `=`: keep the old owner.
    '  if [ "$mode" = - ]; then if [ -e "$f" ]; then mode=$(stat -L -c %a -- "$f") || exit 1; else mode=$(printf %o $((0666 & ~$(umask)))); fi; fi',
    '  chmod "$mode" "$t" || exit 1',
    '  if [ "$owner" = = ]; then if [ -e "$f" ]; then owner=$(stat -L -c %u:%g -- "$f") || exit 1; else owner=-; fi; fi',
    '  if [ "$owner" != - ]; then chown -- "$owner" "$t" || exit 1; fi',
    `  if [ "$bak" = 1 ] && { [ -e "$f" ] || [ -L "$f" ]; }; then ln -- "$f" ${q(p.backupPath)} || exit 1; fi`,
    '  mv -f -- "$t" "$f" || exit 1',
    '  trap - EXIT ;;',
    'meta)',
    '  if [ "$mode" != - ]; then chmod "$mode" -- "$f" || exit 1; fi',
    '  if [ "$owner" != - ]; then chown -- "$owner" "$f" || exit 1; fi ;;',
    'esac',
  ].join('\n');
}

export async function writeStreamed(conn: SshConnection, path: string, data: Buffer, p: WritePlan, opts: WriteRemoteOptions): Promise<WriteRemoteOutcome> {
  const script = streamScript(path, p);
  let proc: Awaited<ReturnType<SshConnection['start']>>;
  try {
    proc = await conn.start(opts.sudo ? wrapSudo(script) : script, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    throw stepError(conn, 'check', path, 'unreachable', `connection lost (${(err as Error).message})`, err);
  }
  if (!(await proc.waitFor(READY))) throw await ended(conn, path, 'check', proc.result, []);
  let decision: string;
  let outcome: WriteRemoteOutcome;
  try {
    const answer = proc.stdout();
    const now = parseProbe(conn, path, answer.slice(0, answer.indexOf(READY)), p.withStat);
    if (now.existing?.sha256 === p.want) {
      const fix = metadataToFix(now.existing, opts);
      const changed = fix.mode !== undefined || fix.owner !== undefined;
      decision = changed ? `meta ${fix.mode?.toString(8) ?? '-'} ${fix.owner ?? '-'} 0\n` : 'skip\n';
      outcome = { changed };
    } else {
      const backup = opts.backup && now.existing ? p.backupPath : undefined;
      const owner = opts.owner ?? (opts.sudo ? '=' : '-');
      decision = `put ${opts.mode?.toString(8) ?? '-'} ${owner} ${backup ? 1 : 0}\n`;
      outcome = { changed: true, ...(backup ? { backup } : {}) };
    }
  } catch (err) {
    proc.end('skip\n');
    await proc.result;
    throw err;
  }
  proc.write(decision);
  proc.end(decision.startsWith('put') ? data : undefined);
  const r = await proc.result;
  if (r.exitCode === 0 && !r.timedOut) return outcome;
  const stepName = !decision.startsWith('put') ? 'metadata' : proc.stdout().includes(RECEIVED) ? 'install' : 'upload';
  throw await ended(conn, path, stepName, Promise.resolve(r), decision.startsWith('put') ? [p.beside] : [], !!opts.sudo, opts.timeoutMs);
}

/** The script ended early or badly: say why, removing the temporary file if it may be left. */
async function ended(
  conn: SshConnection, path: string, stepName: string, result: Promise<ExecResult>,
  temps: string[], sudo = false, timeoutMs?: number,
): Promise<StepError> {
  const r = await result;
  const lost = r.exitCode === null && !r.signal && !r.timedOut;
  // A failing script removes its own file; a killed one (timeout, lost link) cannot.
  const clean = r.exitCode !== null || (await cleanup(conn, temps, sudo));
  const left = clean ? '' : `; temporary file ${temps.join(', ')} may remain`;
  if (r.timedOut) return stepError(conn, stepName, path, 'timeout', `still running after ${timeoutMs} ms; stopped${left}`);
  if (lost) return stepError(conn, stepName, path, 'unreachable', `connection lost${left}`);
  return failed(conn, stepName, path, r, stepName !== 'check');
}
