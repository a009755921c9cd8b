// The validated playbook the runner executes: steps normalised once (defaults filled, local files
// read, names resolved), every templated text carrying where it was written for error messages.
import type { CronJob } from '../schedule/index.js';
import type { ProbeType } from '../ssh/index.js';

/** A position in a playbook or template file, 1-based as editors show it. */
export interface Position {
  file: string;
  line: number;
  column: number;
}

/** A text that may hold `{{ name }}`: its value and how to find a piece of it in its file. */
export interface Text {
  value: string;
  /** Where the `nth` occurrence of `raw` (a `{{ ... }}`) was written; the text's start if not found. */
  where(raw: string, nth: number): Position;
}

export interface FileStep {
  kind: 'push' | 'template';
  dest: Text;
  /** push with `src`: the local file's bytes, sent as they are. */
  data?: Buffer;
  /** template (from `src` or `content`) and push `content`: rendered per guest. */
  content?: Text;
  /** Where the bytes came from, for messages. */
  source: string;
  mode?: number;
  owner?: Text;
  backup: boolean;
  validate?: Text;
}

/** The scheduler's apply for the selected guests (`fleet cron apply`). */
export interface CronStep {
  kind: 'cron';
  job: CronJob;
  /** Plan from scratch instead of keeping guests in the slots they carry. */
  fresh: boolean;
  backup: boolean;
}

/** The journaled host key rotation over the guests that reach the step (`fleet keys rotate`). */
export interface KeysStep {
  kind: 'keys';
  clonedOnly: boolean;
  types: ProbeType[] | null;
  restartCommand: string | null;
  confirmWith: string | null;
  /** Absolute path; undefined: next to the known_hosts file. */
  journal?: string;
  revoke: boolean;
}

export type Action =
  | { kind: 'run'; command: Text }
  | { kind: 'script'; path: string; data: Buffer }
  | FileStep
  | CronStep
  | KeysStep;

export interface Step {
  /** 0-based position in the playbook. */
  index: number;
  /** The given name, or one made from the action (`run: systemctl restart nginx`). */
  name: string;
  action: Action;
  sudo: boolean;
  when?: Text;
  unless?: Text;
  creates?: Text;
  /** Index of the earlier step this one depends on. */
  ifChanged?: number;
  register?: string;
  retries: number;
  delayMs: number;
  /** `check: safe`: the step only reads; it runs in --check mode and never counts as a change. */
  safe: boolean;
  at: Position;
}

export interface Playbook {
  file: string;
  name: string;
  vars: Record<string, string>;
  steps: Step[];
}

/** One validation problem: `file:line:column: message`. */
export interface PlaybookIssue extends Position {
  message: string;
}

export const formatIssue = (i: PlaybookIssue): string => `${i.file}:${i.line}:${i.column}: ${i.message}`;
