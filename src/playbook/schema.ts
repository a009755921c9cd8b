// The playbook format as zod schemas: what a playbook, a step and a file action may hold. Validation
// errors are turned into `file:line:column` messages by load.ts; these messages say what was expected.
import { z } from 'zod';
import { CronStepSchema } from './actions-cron.js';
import { KeysStepSchema } from './actions-keys.js';

const text = (what: string) => z.string({ error: `${what} must be a string` });
const flag = (what: string) => z.boolean({ error: `${what} must be true or false` });
/** A scalar variable value: numbers and booleans read as YAML wrote them, kept as text. */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'a variable must be a string, a number or true/false' });

/** `0644` (quoted): YAML 1.2 reads an unquoted 0644 as the decimal number 644. */
const mode = z.string({ error: "mode must be quoted octal permission bits such as '0644' (YAML reads an unquoted 0644 as the number 644)" })
  .regex(/^0?[0-7]{3,4}$/, { error: "mode must be octal permission bits such as '0644' or '600'" });

export const FILE_KEYS = ['src', 'content', 'dest', 'mode', 'owner', 'backup', 'validate'] as const;

export const FileActionSchema = z.strictObject({
  src: text('src').optional(),
  content: text('content').optional(),
  dest: text('dest'),
  mode: mode.optional(),
  owner: text('owner').optional(),
  backup: flag('backup').optional(),
  validate: text('validate').includes('%s', { error: "validate must contain %s (the temporary file's path), e.g. 'visudo -cf %s'" }).optional(),
}, { error: 'must be a mapping of src or content, dest, mode, owner, backup, validate' });

export const ACTIONS = ['run', 'script', 'push', 'template', 'cron', 'keys'] as const;
export type ActionName = (typeof ACTIONS)[number];

export const STEP_KEYS = [
  ...ACTIONS, 'name', 'sudo', 'when', 'if-changed', 'retries', 'delay', 'check', 'creates', 'unless', 'register',
] as const;

const count = (what: string, max: number) =>
  z.number({ error: `${what} must be a whole number` }).int({ error: `${what} must be a whole number` }).min(0, { error: `${what} must be 0 or more` }).max(max, { error: `${what} must be at most ${max}` });

export const StepSchema = z.strictObject({
  name: text('name').optional(),
  // `run: true` is the shell's true, not a boolean.
  run: z.union([z.string(), z.number(), z.boolean()], { error: 'run must be a shell command' }).transform(String).optional(),
  script: text('script (a local file)').optional(),
  push: FileActionSchema.optional(),
  template: FileActionSchema.optional(),
  cron: CronStepSchema.optional(),
  keys: KeysStepSchema.optional(),
  sudo: flag('sudo').optional(),
  when: text('when (a shell test)').optional(),
  'if-changed': text('if-changed (the name of an earlier step)').optional(),
  retries: count('retries', 1000).optional(),
  delay: z.number({ error: 'delay must be a number of seconds' }).min(0, { error: 'delay must be 0 or more seconds' }).max(3600, { error: 'delay must be at most 3600 seconds' }).optional(),
  check: z.literal('safe', { error: "check must be 'safe' (the step only reads: it runs in --check mode too)" }).optional(),
  creates: text('creates (a path on the guest)').optional(),
  unless: text('unless (a shell test)').optional(),
  register: text('register').regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'register must be a name of letters, digits and _' }).optional(),
}, { error: 'a step must be a mapping (run:, push:, template:, ... with name:, when:, ...)' });

export const PLAYBOOK_KEYS = ['name', 'vars', 'sudo', 'steps'] as const;

export const PlaybookSchema = z.strictObject({
  name: text('name').optional(),
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'a variable name must be letters, digits and _' }), scalar, {
    error: 'vars must be a mapping of names to values',
  }).optional(),
  sudo: flag('sudo').optional(),
  steps: z.array(StepSchema, { error: 'steps must be a list of steps' }).min(1, { error: 'steps: a playbook needs at least one step' }),
}, { error: 'a playbook must be a mapping with name, vars and steps' });

export type FileAction = z.infer<typeof FileActionSchema>;
export type RawStep = z.infer<typeof StepSchema>;
export type RawPlaybook = z.infer<typeof PlaybookSchema>;
