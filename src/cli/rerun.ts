// The guests a run did not succeed on, kept where the next run can select them (`-l @failed`,
// `--rerun failed`), as Ansible keeps retry files: one file per inventory under the state directory
// ($XDG_STATE_HOME/fleet, else ~/.local/state/fleet). Also the lines that tell the user so.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../core/index.js';
import type { FleetEvent, HostResult, Target } from '../executor/index.js';
import { foldHosts } from '../inventory/index.js';

export type Stopped = Extract<FleetEvent, { type: 'stopped' }>;

/** The token a selection uses for the guests the last run on this inventory did not succeed on. */
export const FAILED_TOKEN = '@failed';

export function stateDir(): string {
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'fleet');
}

/** One file per inventory (by its absolute path), named so a person can tell which. */
export function rerunFile(inventory: string): string {
  const abs = resolve(inventory);
  const tag = createHash('sha256').update(abs).digest('hex').slice(0, 10);
  return join(stateDir(), `${basename(abs).replace(/[^A-Za-z0-9._-]/g, '_')}-${tag}.failed`);
}

/**
 * The pattern with `@failed` (a term of a union, or `!@failed` to leave them out) replaced by the
 * hosts the last run on this inventory left undone; a usage error when there is no such run.
 */
export function expandFailed(pattern: string, inventory: string): string {
  // Separators stay with the term before them: `web,@failed` -> `web,` `@failed`.
  const terms = pattern.split(/(?<=[,:])/);
  const bare = (t: string) => t.replace(/[,:]$/, '');
  if (!terms.some((t) => bare(t).replace(/^[!&]/, '') === FAILED_TOKEN)) return pattern;
  if (terms.some((t) => bare(t) === `&${FAILED_TOKEN}`)) throw new UsageError(`${FAILED_TOKEN} cannot be intersected (&); select -l @failed and narrow with !exclusions`);
  const file = rerunFile(inventory);
  if (!existsSync(file)) throw new UsageError(`${FAILED_TOKEN}: no run on ${inventory} has been recorded yet (${file})`);
  const hosts = readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  if (hosts.length === 0) throw new UsageError(`${FAILED_TOKEN}: the last run on ${inventory} succeeded on every guest; nothing to rerun`);
  return terms.map((t) => {
    const sep = t.slice(bare(t).length);
    if (bare(t) === FAILED_TOKEN) return `${hosts.join(',')}${sep}`;
    if (bare(t) === `!${FAILED_TOKEN}`) return `${hosts.map((h) => `!${h}`).join(':')}${sep}`;
    return t;
  }).join('');
}

/** The guests of a run that did not succeed, by how: failed (any status but ok) and never started. */
export function undone(targets: Target[], results: HostResult[]): { failed: string[]; notStarted: string[] } {
  const seen = new Set(results.map((r) => r.host));
  return {
    failed: results.filter((r) => r.status !== 'ok').map((r) => r.host),
    notStarted: targets.filter((t) => !seen.has(t.name)).map((t) => t.name),
  };
}

/** Writes the rerun file (atomically; empty when everything succeeded); returns its path, or undefined if it could not be written. */
export function recordUndone(inventory: string, verb: string, hosts: string[]): string | undefined {
  const file = rerunFile(inventory);
  try {
    mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `# fleet ${verb} on ${resolve(inventory)} at ${new Date().toISOString()}: ${hosts.length} not succeeded\n${hosts.map((h) => `${h}\n`).join('')}`);
    renameSync(tmp, file);
    return file;
  } catch (err) {
    process.stderr.write(`fleet: warning: cannot record the guests to rerun in ${file}: ${(err as Error).message}\n`);
    return undefined;
  }
}

/** Why a rolling run stopped early, in words, with the budget and the count. */
export function stopReason(s: Stopped, maxFail: string | undefined): string {
  return s.reason === 'max-fail'
    ? `stopped before batch ${s.batch} of ${s.of}: ${s.failed} guests failed, more than --max-fail ${maxFail} (${s.budget} allowed)`
    : `interrupted${s.of > 1 ? ` in batch ${s.batch} of ${s.of}` : ''}`;
}

/**
 * Records what a run left undone and says so: the summary fields for --json (the guests never
 * started, why, the rerun file) or the lines ending the human summary. Every run/push/play ends here.
 */
export function recordRun(
  verb: string, f: { inventory: string; maxFail?: string }, targets: Target[], results: HostResult[], stopped?: Stopped, why?: string,
): { summary: Record<string, unknown>; lines: string; retryLine: string } {
  const { failed, notStarted } = undone(targets, results);
  const told = recordLeftUndone(verb, f.inventory, failed, notStarted, { why: why ?? (stopped ? stopReason(stopped, f.maxFail) : undefined) });
  if (!stopped) return told;
  const { rerunFile: file, ...rest } = told.summary;
  const stop = { reason: stopped.reason, batch: stopped.batch, of: stopped.of, failed: stopped.failed, budget: Number.isFinite(stopped.budget) ? stopped.budget : null };
  return { ...told, summary: { ...rest, stopped: stop, ...(file ? { rerunFile: file } : {}) } };
}

/**
 * Records the guests a command did not succeed on (those it ran on and failed, those it never
 * started) and says how to act on them again: `fleet VERB --rerun failed`, or `retry` when the
 * command has its own way to carry on (a rotation to resume).
 */
export function recordLeftUndone(
  verb: string, inventory: string, failed: string[], notStarted: string[], o: { why?: string; retry?: (count: number, file: string) => string } = {},
): { summary: Record<string, unknown>; lines: string; retryLine: string } {
  const file = recordUndone(inventory, verb, [...failed, ...notStarted]);
  const count = failed.length + notStarted.length;
  const retry = count > 0 && file
    ? o.retry?.(count, file) ?? `to ${notStarted.length ? 'resume' : 'retry'} on the ${count} that did not succeed: fleet ${verb} --rerun failed ... (or -l @failed; the list: ${file})`
    : undefined;
  const retryLine = retry ? `${retry}\n` : '';
  const notStartedLine = notStarted.length > 0 ? `not started: ${foldHosts(notStarted)} (${notStarted.length}): ${o.why ?? 'the run stopped early'}\n` : '';
  const summary: Record<string, unknown> = {};
  if (notStarted.length > 0) summary.notStarted = notStarted;
  if (file) summary.rerunFile = file;
  return { summary, lines: notStartedLine + retryLine, retryLine };
}
