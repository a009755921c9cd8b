// A playbook on one guest: one pinned connection for every step, in order. A step runs unless its
// conditions skip it (if-changed, when, creates, unless); it is retried when asked; the guest stops
// at its first failed step. Once the run is interrupted, no new step starts.
import { withConnection, type GuestTarget, type HostStatus, type SessionOptions } from '../executor/index.js';
import type { JobPlan } from '../schedule/index.js';
import type { SshConnection } from '../ssh/index.js';
import { ActionError, previewFile, runCommand, testConditions, writeFile, type ActionContext, type ActionOutcome } from './actions.js';
import { runCron } from './actions-cron.js';
import { guardScript, skipReason } from './guards.js';
import { GuestShells } from './guest-shell.js';
import type { Playbook, Step } from './model.js';
import type { PlayResult, StepResult } from './result.js';
import { render, RenderError, type Registered, type Scope } from './template.js';

export interface PlayOptions extends SessionOptions {
  /** --check: change nothing; report what each step would do. */
  check?: boolean;
  /** Every step runs under sudo -n (a step's own `sudo:` adds it to that step). */
  sudo?: boolean;
  /** One backup suffix for the whole run, so every guest's backups share it. */
  backupSuffix: string;
  /** Once aborted, no new step starts on any guest. */
  signal?: AbortSignal;
  /** The plans of the playbook's cron steps, by step index (planCronSteps). */
  cronPlans?: ReadonlyMap<number, JobPlan>;
  /** This guest's registered values and step results from earlier phases (a keys step splits the play). */
  carry?: { registered: Record<string, Registered>; done: StepResult[] };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(done, ms);
  function done() {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  }
  signal?.addEventListener('abort', done, { once: true });
});

const notRun = (s: Step): StepResult => ({ step: s.index + 1, name: s.name, action: s.action.kind, status: 'not-run', changed: false, durationMs: 0 });

/** Runs `pb` on one guest with its variables (see guestScope). */
export async function playOn(t: GuestTarget, pb: Playbook, vars: Record<string, string>, o: PlayOptions): Promise<PlayResult> {
  const results: StepResult[] = [];
  const r = await withConnection(t, o, async (conn, started) => {
    const scope: Scope = { vars, registered: o.carry?.registered ?? {} };
    const shells = new GuestShells(conn);
    let failure: { status: Exclude<HostStatus, 'ok'>; error: string; exitCode: number | null } | undefined;
    for (const step of pb.steps) {
      if (o.signal?.aborted) {
        failure = { status: 'failed', exitCode: null, error: `${t.name}: interrupted before step ${step.index + 1} (${step.name})` };
        break;
      }
      const res = await runStep(conn, shells, step, scope, [...(o.carry?.done ?? []), ...results], o);
      results.push(res);
      if (res.status === 'failed') {
        failure = { status: stepStatus(res), exitCode: res.exitCode ?? null, error: `${t.name}: step ${res.step} (${res.name}): ${res.error}` };
        break;
      }
    }
    await shells.closeAll();
    return {
      host: t.name, address: t.address, status: failure?.status ?? 'ok', exitCode: failure ? failure.exitCode : 0, stdout: '', stderr: '',
      changed: results.some((s) => s.status === 'ok' && s.changed), durationMs: Date.now() - started,
      ...(failure ? { error: failure.error } : {}),
    };
  });
  // Steps that never started (an earlier one failed, the run was interrupted, the guest unreachable).
  for (const s of pb.steps.slice(results.length)) results.push(notRun(s));
  return { ...r, steps: results };
}

/** The host status a failed step gives its guest. */
const statuses = new WeakMap<StepResult, Exclude<HostStatus, 'ok'>>();
const stepStatus = (s: StepResult) => statuses.get(s) ?? 'failed';

/** Actions that test the step's conditions in their own guest command (no separate round trip). */
const FOLDS_CONDITIONS = new Set(['run', 'script', 'push', 'template']);

async function runStep(conn: SshConnection, shells: GuestShells, step: Step, scope: Scope, done: StepResult[], o: PlayOptions): Promise<StepResult> {
  const t0 = Date.now();
  const base = { step: step.index + 1, name: step.name, action: step.action.kind };
  const c: ActionContext = { conn, shells, sudo: step.sudo || !!o.sudo, timeoutMs: o.timeoutMs };
  const r = (x: Partial<StepResult> & Pick<StepResult, 'status'>): StepResult => ({ ...base, changed: false, ...x, durationMs: Date.now() - t0 });
  try {
    if (step.ifChanged !== undefined) {
      const dep = done.find((d) => d.step === step.ifChanged! + 1);
      if (!dep || dep.status !== 'ok' || !dep.changed) return skipped(r, step, scope, `if-changed: step ${step.ifChanged + 1} (${dep?.name ?? '?'}) did not change this guest`);
    }
    const guard = (x?: { value: string }) => (x === undefined ? undefined : render(x.value, scope));
    const written = { when: step.when?.value, creates: step.creates?.value, unless: step.unless?.value };
    const conditions = { when: guard(step.when), creates: guard(step.creates), unless: guard(step.unless) };
    if (FOLDS_CONDITIONS.has(step.action.kind)) {
      const script = guardScript(conditions);
      if (script !== undefined) c.guard = { conditions, script, written };
    } else {
      const why = await skipReason(conn, conditions, written, c.sudo, o.timeoutMs);
      if (why) return skipped(r, step, scope, why);
    }
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        const out = await act(c, step, scope, o);
        if (out.skipped !== undefined) return skipped(r, step, scope, out.skipped);
        if (step.register) scope.registered[step.register] = registered(out);
        return r({ status: 'ok', ...out, ...(attempts > 1 ? { attempts } : {}) });
      } catch (err) {
        if (!(err instanceof ActionError) || err.fatal || attempts > step.retries || o.signal?.aborted) throw err;
        await sleep(step.delayMs, o.signal);
      }
    }
  } catch (err) {
    if (err instanceof ActionError) {
      const res = r({ status: 'failed', ...err.outcome, changed: false, error: err.message });
      statuses.set(res, err.status);
      return res;
    }
    const res = r({ status: 'failed', error: err instanceof RenderError ? err.message : (err as Error).message });
    if (conn.lost) statuses.set(res, 'unreachable');
    return res;
  }
}

function registered(o: Partial<ActionOutcome>): Registered {
  return { stdout: o.stdout ?? '', stderr: o.stderr ?? '', exitCode: o.exitCode ?? null };
}

/** A skipped step still registers (empty output, no exit code) so later steps can render. */
function skipped(r: (x: Partial<StepResult> & Pick<StepResult, 'status'>) => StepResult, step: Step, scope: Scope, note: string): StepResult {
  if (step.register) scope.registered[step.register] = { stdout: '', stderr: '', exitCode: null };
  return r({ status: 'skipped', note });
}

async function act(c: ActionContext, step: Step, scope: Scope, o: PlayOptions): Promise<ActionOutcome> {
  const a = step.action;
  const preview = o.check && !step.safe;
  if (a.kind === 'run' || a.kind === 'script') {
    if (preview) {
      const why = await testConditions(c);
      return why !== undefined ? { changed: false, skipped: why } : { changed: true, note: 'would run' };
    }
    const out = a.kind === 'run' ? await runCommand(c, render(a.command.value, scope)) : await runCommand(c, 'sh -s', a.data);
    // A step declared read-only changes nothing, however it ends.
    return step.safe ? { ...out, changed: false } : out;
  }
  if (a.kind === 'cron') return runCron(c, a, o.cronPlans?.get(step.index), o);
  if (a.kind === 'keys') throw new ActionError('a keys step runs between the phases of a play (playPhases), not on one guest', 'failed');
  const f = {
    dest: render(a.dest.value, scope),
    data: a.content ? Buffer.from(render(a.content.value, scope)) : a.data!,
    mode: a.mode, owner: a.owner ? render(a.owner.value, scope) : undefined, backup: a.backup, backupSuffix: o.backupSuffix,
    validate: a.validate ? render(a.validate.value, scope) : undefined,
  };
  return o.check ? previewFile(c, f) : writeFile(c, f);
}
