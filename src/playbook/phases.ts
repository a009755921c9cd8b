// A play over the selected guests, in phases split at `keys` steps. Each phase runs its steps on
// every guest still going, over one connection per guest (playOn); at a keys step every guest has
// finished the steps before it, the rotation runs for those that got there, and the next phase
// connects afresh, pinned to the keys the rotation left in known_hosts. A guest carries its
// registered values and step results from phase to phase, so `if-changed` and `{{ NAME.stdout }}`
// reach across a keys step. A playbook without keys steps is one phase: exactly playOn per guest.
import type { GuestTarget, HostResult } from '../executor/index.js';
import { loadKnownHosts } from '../ssh/index.js';
import { rotateStep, type RotationContext } from './actions-keys.js';
import type { KeysStep, Playbook, Step } from './model.js';
import type { PlayResult, StepResult } from './result.js';
import { playOn, type PlayOptions } from './runner.js';
import type { Registered } from './template.js';

/** The fan-out the caller provides (progress, batches, failure budget, Ctrl-C). */
export type PlayFanOut = (targets: GuestTarget[], task: (t: GuestTarget, signal: AbortSignal) => Promise<PlayResult>) => Promise<HostResult[]>;

export interface PhaseOptions extends Omit<PlayOptions, 'signal' | 'carry'> {
  fanOut: PlayFanOut;
  /** Where pins are read from after a rotation, and what the rotation rewrites. */
  knownHostsPath: string;
  fanout: number;
  /** Runs a rotation with Ctrl-C turned into an abort signal. */
  interruptible?: <T>(work: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

interface Phase {
  steps: Step[];
  keys?: Step & { action: KeysStep };
}

export function phasesOf(pb: Playbook): Phase[] {
  const phases: Phase[] = [{ steps: [] }];
  for (const s of pb.steps) {
    if (s.action.kind === 'keys') {
      phases.at(-1)!.keys = s as Step & { action: KeysStep };
      phases.push({ steps: [] });
    } else phases.at(-1)!.steps.push(s);
  }
  return phases.filter((p) => p.steps.length > 0 || p.keys);
}

interface GuestState {
  registered: Record<string, Registered>;
  done: StepResult[];
  /** The last phase's host result (status, error), once the guest ran one. */
  last?: HostResult;
  durationMs: number;
  stopped: boolean;
}

/** Runs `pb` over `targets` with each guest's variables; one PlayResult per guest that started. */
export async function playPhases(targets: GuestTarget[], pb: Playbook, vars: ReadonlyMap<string, Record<string, string>>, o: PhaseOptions): Promise<PlayResult[]> {
  const state = new Map<string, GuestState>(targets.map((t) => [t.name, { registered: {}, done: [], durationMs: 0, stopped: false }]));
  let session = { knownHosts: o.knownHosts };
  let interrupted = false;
  for (const phase of phasesOf(pb)) {
    const going = targets.filter((t) => !state.get(t.name)!.stopped);
    if (going.length === 0 || interrupted) break;
    if (phase.steps.length > 0) {
      const sub = { ...pb, steps: phase.steps };
      const ran = await o.fanOut(going, (t, signal) => {
        const g = state.get(t.name)!;
        return playOn(t, sub, vars.get(t.name)!, { ...o, ...session, signal, carry: g }).finally(() => {
          interrupted ||= signal.aborted;
        });
      });
      const byHost = new Map(ran.map((r) => [r.host, r as PlayResult]));
      for (const t of going) {
        const g = state.get(t.name)!;
        const r = byHost.get(t.name);
        if (!r) {
          g.stopped = true;
          if (g.last) g.last = { ...g.last, status: 'failed', error: `${t.name}: stopped before step ${phase.steps[0]!.index + 1} (${phase.steps[0]!.name}): the rollout stopped` };
          continue;
        }
        g.done.push(...r.steps.filter((s) => s.status !== 'not-run'));
        g.last = r;
        g.durationMs += r.durationMs;
        if (r.status !== 'ok') g.stopped = true;
      }
    }
    if (phase.keys && !interrupted) await rotate(phase.keys, targets.filter((t) => !state.get(t.name)!.stopped), state, o);
    // The rotation re-pinned keys: the next phase's connections trust what known_hosts says now.
    if (phase.keys) session = { knownHosts: await loadKnownHosts(o.knownHostsPath) };
  }
  return targets.flatMap((t) => {
    const g = state.get(t.name)!;
    if (!g.last) return [];
    const steps = pb.steps.map((s) => g.done.find((d) => d.step === s.index + 1) ?? notRun(s));
    return [{ ...g.last, changed: steps.some((s) => s.status === 'ok' && s.changed), durationMs: g.durationMs, steps }];
  });
}

const notRun = (s: Step): StepResult => ({ step: s.index + 1, name: s.name, action: s.action.kind, status: 'not-run', changed: false, durationMs: 0 });

async function rotate(step: Step & { action: KeysStep }, going: GuestTarget[], state: Map<string, GuestState>, o: PhaseOptions): Promise<void> {
  if (going.length === 0) return;
  const t0 = Date.now();
  const ctx: Omit<RotationContext, 'signal'> = {
    knownHostsPath: o.knownHostsPath, credentials: o.credentials, connectTimeoutMs: o.connectTimeoutMs, commandTimeoutMs: o.timeoutMs,
    fanout: o.fanout, check: o.check,
  };
  const run = o.interruptible ?? ((work) => work(new AbortController().signal));
  const outcomes = await run((signal) => rotateStep(step.action, going.map((t) => ({ ...t, port: t.port ?? 22, user: t.user ?? '' })), { ...ctx, signal }));
  const durationMs = Date.now() - t0;
  for (const t of going) {
    const g = state.get(t.name)!;
    g.last ??= { host: t.name, address: t.address, status: 'ok', exitCode: 0, stdout: '', stderr: '', changed: false, durationMs: 0 };
    const r = outcomes.get(t.name) ?? { ok: false, changed: false, error: 'not rotated', status: 'failed' as const };
    const base = { step: step.index + 1, name: step.name, action: 'keys', durationMs };
    g.done.push(r.ok ? { ...base, status: 'ok', changed: r.changed, ...(r.note ? { note: r.note } : {}) } : { ...base, status: 'failed', changed: false, error: r.error });
    g.durationMs += durationMs;
    if (!r.ok) {
      g.stopped = true;
      g.last = { ...g.last, status: r.status ?? 'failed', exitCode: null, error: `${t.name}: step ${step.index + 1} (${step.name}): ${r.error}` };
    }
  }
}
