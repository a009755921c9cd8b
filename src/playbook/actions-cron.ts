// The playbook's `cron` step: the scheduler's apply (`fleet cron apply`) for the selected guests.
// The plan needs the slots every guest carries before it can place any, so it is made once before
// the first step runs (one read of each guest's job files); each guest then re-reads its files over
// the play's connection when it reaches the step and writes (or, in --check, diffs) its own block.
// The plan's slot and start time are the guest's `{{ slot }}` and `{{ start }}` in every step.
import { InputError, UsageError } from '../core/index.js';
import { StepError, type FleetSummary, type GuestTarget, type SessionOptions } from '../executor/index.js';
import { jobFromOptions, previewJob, readAndPlan, writeJob, type JobPlan } from '../schedule/index.js';
import { z } from 'zod';
import { ActionError, type ActionContext, type ActionOutcome } from './actions.js';
import type { CronStep, Playbook } from './model.js';

export const CRON_KEYS = [
  'job', 'command', 'window', 'slot', 'cap', 'schedule', 'replace-run-crons', 'scripts', 'cron-d', 'cron-user', 'fresh', 'backup',
] as const;

const text = (what: string) => z.string({ error: `${what} must be a string` });
const flag = (what: string) => z.boolean({ error: `${what} must be true or false` });

export const CronStepSchema = z.strictObject({
  job: text('job (the name of the managed block)').optional(),
  command: text('command (one shell line, as cron runs it)').optional(),
  window: text("window ('HH:MM-HH:MM')").optional(),
  // `slot: 12` reads as a number: minutes.
  slot: z.union([z.string(), z.number()], { error: "slot must be a length such as '12m', 12 or '1h'" }).transform(String).optional(),
  cap: z.number({ error: 'cap must be a whole number' }).int({ error: 'cap must be a whole number' }).min(1, { error: 'cap must be at least 1' }).optional(),
  schedule: text("schedule (a hashed schedule such as 'H H(1-5) * * *')").optional(),
  'replace-run-crons': flag('replace-run-crons').optional(),
  scripts: z.union([z.string(), z.array(z.string())], { error: 'scripts must be a list of hourly, daily, weekly, monthly' })
    .transform((v) => (Array.isArray(v) ? v.join(',') : v)).optional(),
  'cron-d': flag('cron-d').optional(),
  'cron-user': text('cron-user').optional(),
  fresh: flag('fresh').optional(),
  backup: flag('backup').optional(),
}, { error: `cron must be a mapping of ${CRON_KEYS.join(', ')}` });

/** The step's job, checked as `fleet cron apply` checks its flags; a message on failure. */
export function cronStep(raw: z.infer<typeof CronStepSchema>): CronStep | string {
  try {
    const job = jobFromOptions({
      job: raw.job, command: raw.command, window: raw.window, slot: raw.slot, cap: raw.cap, schedule: raw.schedule,
      replaceRunCrons: raw['replace-run-crons'], scripts: raw.scripts, cronD: raw['cron-d'], cronUser: raw['cron-user'],
    }, true, (k) => k)!;
    return { kind: 'cron', job, fresh: raw.fresh ?? false, backup: raw.backup ?? true };
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
}

/** The names the plan defines for every guest: those of the first cron step with a window. */
export function plannedNames(pb: Playbook): string[] {
  return pb.steps.some((s) => s.action.kind === 'cron' && s.action.job.timing.kind === 'window') ? ['slot', 'start'] : [];
}

export interface CronPlans {
  /** Step index -> the plan of that cron step. */
  plans: Map<number, JobPlan>;
  /** Per guest: `slot` and `start` from the first windowed cron step's plan. */
  vars: Map<string, Record<string, string>>;
  /** Reading stopped (Ctrl-C) before every guest was read: no plan to act on. */
  interrupted: boolean;
  /** The reads, per cron step, for a report of the guests that could not be read. */
  reads: FleetSummary[];
}

/** Plans every cron step of the playbook over the selected guests (guests not read plan as new). */
export async function planCronSteps(
  pb: Playbook,
  targets: GuestTarget[],
  session: SessionOptions,
  o: { sudo?: boolean; fanout: number; signal?: AbortSignal },
): Promise<CronPlans> {
  const out: CronPlans = { plans: new Map(), vars: new Map(), interrupted: false, reads: [] };
  for (const step of pb.steps) {
    const a = step.action;
    if (a.kind !== 'cron') continue;
    const r = await readAndPlan(a.job, targets, session, { sudo: step.sudo || !!o.sudo, fanout: o.fanout, fresh: a.fresh, signal: o.signal });
    out.reads.push(r.summary);
    if (r.summary.notRun > 0 || o.signal?.aborted) return { ...out, interrupted: true };
    out.plans.set(step.index, r.plan);
    if (out.vars.size === 0 && a.job.timing.kind === 'window') {
      for (const g of r.plan.guests) out.vars.set(g.host, { slot: String(g.slot), start: g.start ?? '' });
    }
  }
  return out;
}

/** One guest's part of the plan: its block written (or, with `check`, the diff of what would change). */
export async function runCron(c: ActionContext, a: CronStep, plan: JobPlan | undefined, o: { check?: boolean; backupSuffix: string }): Promise<ActionOutcome> {
  const host = c.conn.options.name;
  const slot = plan?.guests.find((g) => g.host === host);
  if (!slot) throw new ActionError(`fleet:${a.job.job} has no plan for ${host}`, 'failed');
  try {
    if (o.check) {
      const p = await previewJob(c.conn, a.job, slot, { sudo: c.sudo, timeoutMs: c.timeoutMs });
      return p.changed ? { changed: true, note: `would change ${p.what}`, diff: p.diff } : { changed: false, note: `unchanged: ${p.what}${p.note ? ` (${p.note})` : ''}` };
    }
    const w = await writeJob(c.conn, a.job, slot, { sudo: c.sudo, backup: a.backup, backupSuffix: o.backupSuffix, timeoutMs: c.timeoutMs });
    return { changed: w.changed, note: `${w.changed ? '' : 'unchanged: '}${w.what}${!w.changed && w.note ? ` (${w.note})` : ''}${w.warning ? `; warning: ${w.warning}` : ''}`, ...(w.backup ? { backup: w.backup } : {}) };
  } catch (err) {
    if (err instanceof InputError) throw new ActionError(`${err.message}; nothing written`, 'failed');
    if (err instanceof StepError) throw new ActionError(`${err.step}: ${err.reason}`, err.status, { stderr: err.stderr });
    throw err;
  }
}
