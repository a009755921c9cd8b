// A playbook on one guest: one pinned connection for every step, in order. A step runs unless its
// conditions skip it (if-changed, when, creates, unless); it is retried when asked; the guest stops
// at its first failed step. Once the run is interrupted, no new step starts.
//
// Steps that go through the guest's shell are sent in batches (guest-shell.ts: send): one write and
// no round trip per step. A batch ends before a step that needs what the admin learns from the steps
// before it: one that renders a value registered in the batch, one for the other shell (sudo), one
// whose if-changed step the guest cannot judge (a --check file preview), a step with retries (it
// ends its batch), and steps that do not go through the shell (cron, large files, binary scripts).
// The guest runs a batch's steps in order, each only if the one before ended well; if-changed is
// decided there from shell variables (the admin sets those of steps it already knows). A step's
// duration is then the time between its result and the one before it, an approximation.
import { withConnection, type GuestTarget, type HostStatus, type SessionOptions } from '../executor/index.js';
import type { JobPlan } from '../schedule/index.js';
import type { SshConnection } from '../ssh/index.js';
import {
  ActionError, commandAction, previewFile, previewFileAction, runCommand, testConditions, wouldRunAction, writeFile, writeFileAction,
  type ActionContext, type ActionOutcome, type ShellAction,
} from './actions.js';
import type { FileWrite } from './file-step.js';
import { runCron } from './actions-cron.js';
import { guardScript, skipReason } from './guards.js';
import { changedVar, GuestShells, type ShellResult } from './guest-shell.js';
import type { FileStep, Playbook, Step } from './model.js';
import type { PlayResult, StepResult } from './result.js';
import { references, render, RenderError, type Registered, type Scope } from './template.js';

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

/** What each guest's run does when the run's signal aborts: one listener per signal, not one per guest. */
const aborts = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal | undefined, f: () => void): () => void {
  if (!signal) return () => undefined;
  let fs = aborts.get(signal);
  if (!fs) {
    const set = new Set<() => void>();
    aborts.set(signal, (fs = set));
    signal.addEventListener('abort', () => set.forEach((g) => g()), { once: true });
  }
  fs.add(f);
  return () => fs.delete(f);
}

/** Most steps sent in one write (a bound on what one write carries). */
const BATCH_MAX = 32;

type Failure = { status: Exclude<HostStatus, 'ok'>; error: string; exitCode: number | null };

/** Runs `pb` on one guest with its variables (see guestScope). */
export async function playOn(t: GuestTarget, pb: Playbook, vars: Record<string, string>, o: PlayOptions): Promise<PlayResult> {
  const results: StepResult[] = [];
  const r = await withConnection(t, o, async (conn, started) => {
    const scope: Scope = { vars, registered: o.carry?.registered ?? {} };
    const shells = new GuestShells(conn);
    // Steps already sent must not start once the run is interrupted.
    const unlisten = onAbort(o.signal, () => void shells.stop());
    const done = () => [...(o.carry?.done ?? []), ...results];
    const interrupted = (step: Step): Failure => ({ status: 'failed', exitCode: null, error: `${t.name}: interrupted before step ${step.index + 1} (${step.name})` });
    const failed = (res: StepResult): Failure => ({ status: stepStatus(res), exitCode: res.exitCode ?? null, error: `${t.name}: step ${res.step} (${res.name}): ${res.error}` });
    let failure: Failure | undefined;
    try {
      let i = 0;
      while (i < pb.steps.length && !failure) {
        const step = pb.steps[i]!;
        if (o.signal?.aborted) {
          failure = interrupted(step);
          break;
        }
        const batch = gather(conn, shells, pb.steps, i, scope, o);
        if (batch.length === 0) {
          const res = await runStep(conn, shells, step, scope, done(), o);
          results.push(res);
          if (res.status === 'failed') failure = failed(res);
          i++;
          continue;
        }
        const shell = await shells.get(batch[0]!.c.sudo);
        if (o.signal?.aborted) {
          failure = interrupted(step);
          break;
        }
        const pending = shell.send(batch.map((b) => b.action.command), seed(batch.map((b) => b.step), done()));
        let t0 = Date.now();
        for (const [k, b] of batch.entries()) {
          let res = await pending[k]!;
          if (res.notRun) {
            failure = interrupted(b.step);
            break;
          }
          let out = finish(b, res, scope, pb, done, t0, 1, o);
          // Retries: a step with retries ends its batch, so it is sent again alone.
          for (let attempts = 2; out.retry && !o.signal?.aborted; attempts++) {
            await sleep(b.step.delayMs, o.signal);
            if (o.signal?.aborted) break;
            res = await (await shells.get(b.c.sudo)).send([b.action.command], seed([b.step], done()))[0]!;
            if (res.notRun) break;
            out = finish(b, res, scope, pb, done, t0, attempts, o);
          }
          t0 = Date.now();
          results.push(out.result);
          if (out.result.status === 'failed') {
            failure = failed(out.result);
            break;
          }
        }
        i += batch.length;
      }
    } finally {
      unlisten();
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

/** A step of a batch: its context and its action as a shell command. */
interface Batched {
  step: Step;
  c: ActionContext;
  action: ShellAction;
}

/**
 * The steps from `from` on that can be sent together (see the header); empty when the step at
 * `from` runs on its own (runStep: it does not go through the shell, or rendering it fails).
 */
function gather(conn: SshConnection, shells: GuestShells, steps: Step[], from: number, scope: Scope, o: PlayOptions): Batched[] {
  const batch: Batched[] = [];
  const registers = new Set<string>();
  const knows = new Set<number>();
  for (let j = from; j < steps.length && batch.length < BATCH_MAX; j++) {
    const step = steps[j]!;
    if (batch.length > 0) {
      if ((step.sudo || !!o.sudo) !== batch[0]!.c.sudo) break;
      if (registers.size > 0 && textsOf(step).some((x) => references(x).some((r) => r.name?.includes('.') && registers.has(r.name.split('.')[0]!)))) break;
      const dep = step.ifChanged;
      if (dep !== undefined && dep >= from && !knows.has(dep)) break;
    }
    let b: Batched | undefined;
    try {
      b = batched(conn, shells, step, scope, o);
    } catch {
      b = undefined; // runStep says why
    }
    if (!b) break;
    batch.push(b);
    if (step.register) registers.add(step.register);
    if (b.action.changed) knows.add(step.index);
    if (step.retries > 0) break;
  }
  return batch;
}

/** Every text of a step that is rendered per guest. */
function textsOf(step: Step): string[] {
  const a = step.action;
  const own = a.kind === 'run' ? [a.command] : a.kind === 'push' || a.kind === 'template' ? [a.dest, a.content, a.owner, a.validate] : [];
  return [...own, step.when, step.creates, step.unless].flatMap((x) => (x ? [x.value] : []));
}

/** The step as a shell command, or undefined when it does not go through the shell. */
function batched(conn: SshConnection, shells: GuestShells, step: Step, scope: Scope, o: PlayOptions): Batched | undefined {
  const a = step.action;
  if (a.kind === 'cron' || a.kind === 'keys') return undefined;
  const c: ActionContext = { conn, shells, sudo: step.sudo || !!o.sudo, timeoutMs: o.timeoutMs };
  const guard = (x?: { value: string }) => (x === undefined ? undefined : render(x.value, scope));
  const written = { when: step.when?.value, creates: step.creates?.value, unless: step.unless?.value };
  const conditions = { when: guard(step.when), creates: guard(step.creates), unless: guard(step.unless) };
  const script = guardScript(conditions);
  if (script !== undefined) c.guard = { conditions, script, written };
  let action: ShellAction | undefined;
  if (a.kind === 'run' || a.kind === 'script') {
    if (o.check && !step.safe) action = wouldRunAction(c);
    else {
      action = a.kind === 'run' ? commandAction(c, render(a.command.value, scope)) : commandAction(c, 'sh -s', a.data);
      // A step declared read-only changes nothing, however it ends.
      if (action && step.safe) {
        const inner = action.outcome;
        action = { ...action, changed: [], outcome: (r) => ({ ...inner(r), changed: false }) };
      }
    }
  } else {
    const f = fileWrite(a, scope, o);
    action = o.check ? previewFileAction(c, f) : writeFileAction(c, f);
  }
  if (!action) return undefined;
  const command = { ...action.command, ...(step.ifChanged !== undefined ? { ifChanged: step.ifChanged } : {}), ...(action.changed ? { changed: { step: step.index, statuses: action.changed } } : {}) };
  return { step, c, action: { ...action, command } };
}

/** Shell text setting the changed-ness of the steps the batch's if-changed steps depend on that have already run. */
function seed(batch: Step[], done: StepResult[]): string {
  const inBatch = new Set(batch.map((s) => s.index));
  const deps = new Set(batch.flatMap((s) => (s.ifChanged !== undefined && !inBatch.has(s.ifChanged) ? [s.ifChanged] : [])));
  return [...deps].map((d) => {
    const r = done.find((x) => x.step === d + 1);
    return `${changedVar(d)}=${r && r.status === 'ok' && r.changed ? 1 : 0}`;
  }).join('; ');
}

/** A batched step's result as runStep would give it; `retry` when it failed and may be tried again. */
function finish(b: Batched, res: ShellResult, scope: Scope, pb: Playbook, done: () => StepResult[], t0: number, attempts: number, o: PlayOptions): { result: StepResult; retry?: boolean } {
  const { step } = b;
  const base = { step: step.index + 1, name: step.name, action: step.action.kind };
  const r = (x: Partial<StepResult> & Pick<StepResult, 'status'>): StepResult => ({ ...base, changed: false, ...x, durationMs: Date.now() - t0 });
  try {
    if (res.unchangedDep) {
      const dep = step.ifChanged!;
      const name = [...done(), ...pb.steps].find((d) => ('index' in d ? d.index === dep : d.step === dep + 1))?.name ?? '?';
      return { result: skipped(r, step, scope, `if-changed: step ${dep + 1} (${name}) did not change this guest`) };
    }
    const out = b.action.outcome(res);
    if (out.skipped !== undefined) return { result: skipped(r, step, scope, out.skipped) };
    if (step.register) scope.registered[step.register] = registered(out);
    return { result: r({ status: 'ok', ...out, ...(attempts > 1 ? { attempts } : {}) }) };
  } catch (err) {
    if (err instanceof ActionError) {
      const result = r({ status: 'failed', ...err.outcome, changed: false, error: err.message });
      statuses.set(result, err.status);
      return { result, retry: !err.fatal && attempts <= step.retries && !o.signal?.aborted };
    }
    const result = r({ status: 'failed', error: (err as Error).message });
    if (b.c.conn.lost) statuses.set(result, 'unreachable');
    return { result };
  }
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
  const f = fileWrite(a, scope, o);
  return o.check ? previewFile(c, f) : writeFile(c, f);
}

/** A push or template step's write, rendered for this guest. */
function fileWrite(a: FileStep, scope: Scope, o: PlayOptions): FileWrite {
  return {
    dest: render(a.dest.value, scope),
    data: a.content ? Buffer.from(render(a.content.value, scope)) : a.data!,
    mode: a.mode, owner: a.owner ? render(a.owner.value, scope) : undefined, backup: a.backup, backupSuffix: o.backupSuffix,
    validate: a.validate ? render(a.validate.value, scope) : undefined,
  };
}
