// A step on one guest that went wrong, carrying what the result model needs: which guest, which
// step, which file, how it ended (a status of the result model), and the guest's own words.
import type { HostStatus } from './result.js';

export interface StepFailure {
  host: string;
  /** What we were doing: `check`, `upload`, `install`, `read`, ... */
  step: string;
  status: Exclude<HostStatus, 'ok'>;
  path?: string;
  exitCode?: number | null;
  stderr?: string;
}

export class StepError extends Error {
  readonly host: string;
  readonly step: string;
  readonly status: Exclude<HostStatus, 'ok'>;
  readonly path?: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  /** The message without host, file and step. */
  readonly reason: string;

  /** `reason` says what happened; the message names host, file and step around it. */
  constructor(f: StepFailure, reason: string, options?: { cause?: unknown }) {
    super(`${f.host}: ${f.path ? `${f.path}: ` : ''}${f.step}: ${reason}`, options);
    this.name = 'StepError';
    this.host = f.host;
    this.step = f.step;
    this.status = f.status;
    this.path = f.path;
    this.exitCode = f.exitCode ?? null;
    this.stderr = f.stderr ?? '';
    this.reason = reason;
  }
}
