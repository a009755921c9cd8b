// What a playbook did on one guest: one StepResult per step, inside the executor's HostResult shape
// (so JSON Lines, gathering and exit codes work as for run and push).
import type { HostResult } from '../executor/index.js';

export type StepStatus = 'ok' | 'skipped' | 'failed' | 'not-run';

export interface StepResult {
  /** 1-based, as a person counts steps. */
  step: number;
  name: string;
  action: string;
  status: StepStatus;
  /** ok: the step changed the guest (in --check mode: would change it). */
  changed: boolean;
  durationMs: number;
  exitCode?: number | null;
  stdout?: string;
  stderr?: string;
  /** Why a step was skipped, or what it would do in --check mode ("would run"). */
  note?: string;
  /** --check: the file's unified diff (push, template). */
  diff?: string;
  backup?: string;
  attempts?: number;
  /** What went wrong (without the host's name). */
  error?: string;
}

export interface PlayResult extends HostResult {
  steps: StepResult[];
}

/** `ok changed`, `ok unchanged`, `skipped`, `failed`, `not run`: the words of the report. */
export function stepWords(s: StepResult): string {
  if (s.status === 'ok') return s.changed ? 'ok changed' : 'ok unchanged';
  return s.status === 'not-run' ? 'not run' : s.status;
}
