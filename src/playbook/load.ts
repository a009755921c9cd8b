// Reading a playbook: YAML parsed with positions kept, checked with zod and the rules zod cannot
// express (one action per step, if-changed naming an earlier step, local files readable), then
// normalised into the model the runner executes. Every problem is reported, each with file:line:column.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { CRON_KEYS, cronStep } from './actions-cron.js';
import { KEYS_KEYS, keysStep } from './actions-keys.js';
import { hint } from './hint.js';
import type { Action, FileStep, Playbook, PlaybookIssue, Position, Step, Text } from './model.js';
import { ACTIONS, FILE_KEYS, PLAYBOOK_KEYS, PlaybookSchema, STEP_KEYS, StepSchema, type FileAction, type RawStep } from './schema.js';

export interface LoadResult {
  playbook?: Playbook;
  issues: PlaybookIssue[];
}

type Path = (string | number)[];

/** Where things are in one YAML file. */
class Source {
  readonly lines = new LineCounter();
  readonly doc: Document;
  constructor(readonly file: string, readonly text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
  }

  at(offset: number): Position {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, column: p.col };
  }

  /** The node at `path`, or the nearest ancestor that exists. */
  node(path: Path): { node?: Node; exact: boolean } {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && (node as Node).range) return { node, exact: n === path.length };
    }
    return { exact: false };
  }

  position(path: Path): Position {
    return this.at(this.node(path).node?.range?.[0] ?? 0);
  }

  /** The key `key` of the mapping at `path` (where an unknown or surplus key was written). */
  keyPosition(path: Path, key: string): Position {
    const map = this.doc.getIn(path, true);
    if (isMap(map)) {
      for (const pair of map.items) {
        const k = pair.key as Node | null;
        if (isScalar(k) && k.value === key && k.range) return this.at(k.range[0]);
      }
    }
    return this.position(path);
  }

  /** A templated scalar at `path`: `{{ ... }}` located in the source text of its node. */
  textAt(path: Path, value: string): Text {
    const node = this.node(path).node;
    const [start, end] = node?.range ?? [0, 0];
    const slice = this.text.slice(start, end);
    return {
      value,
      where: (raw, nth) => {
        let from = -1;
        for (let i = 0; i <= nth; i++) {
          from = slice.indexOf(raw, from + 1);
          if (from < 0) return this.at(start);
        }
        return this.at(start + from);
      },
    };
  }
}

/** A whole local file as a Text (a template): positions are its own lines. */
function fileText(file: string, value: string): Text {
  const lines = new LineCounter();
  let i = 0;
  for (;;) {
    lines.addNewLine(i);
    const nl = value.indexOf('\n', i);
    if (nl < 0) break;
    i = nl + 1;
  }
  return {
    value,
    where: (raw, nth) => {
      let from = -1;
      for (let k = 0; k <= nth; k++) {
        from = value.indexOf(raw, from + 1);
        if (from < 0) return { file, line: 1, column: 1 };
      }
      const p = lines.linePos(from);
      return { file, line: p.line, column: p.col };
    },
  };
}

const describe = (path: Path) => {
  const last = path.at(-1);
  return typeof last === 'number' ? `item ${last + 1}` : last;
};

/** zod's issues as positioned messages, with the nearest valid key for an unknown one. */
function zodIssues(src: Source, issues: z.core.$ZodIssue[], base: Path, keysAt: (path: Path) => readonly string[]): PlaybookIssue[] {
  const out: PlaybookIssue[] = [];
  for (const i of issues) {
    const path = [...base, ...(i.path as (string | number)[])];
    if (i.code === 'unrecognized_keys') {
      const valid = keysAt(path);
      for (const k of i.keys) out.push({ ...src.keyPosition(path, k), message: `unknown key '${k}'${hint(k, valid)}` });
      continue;
    }
    const { exact } = src.node(path);
    const missing = !exact && i.code === 'invalid_type';
    out.push({ ...src.position(path), message: missing ? `${describe(path)} is missing` : i.message });
  }
  return out;
}

function keysFor(path: Path): readonly string[] {
  if (path.length === 0) return PLAYBOOK_KEYS;
  if (path.length === 2) return STEP_KEYS;
  if (path[2] === 'cron') return CRON_KEYS;
  if (path[2] === 'keys') return KEYS_KEYS;
  return FILE_KEYS;
}

function readLocal(file: string): Buffer | Error {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return new Error(e.code === 'ENOENT' ? `no such file: ${file}` : e.code === 'EISDIR' ? `is a directory: ${file}` : `cannot read ${file}: ${e.message}`);
  }
}

function defaultName(kind: string, detail: string): string {
  const first = detail.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return `${kind}: ${first.length > 50 ? `${first.slice(0, 47)}...` : first}`;
}

function parseMode(m: string | undefined): number | undefined {
  return m === undefined ? undefined : parseInt(m, 8);
}

/** Parses and validates a playbook's text; `file` names it in messages and anchors relative paths. */
export function parsePlaybook(text: string, file: string): LoadResult {
  const src = new Source(file, text);
  const issues: PlaybookIssue[] = [];
  for (const e of src.doc.errors) {
    issues.push({ ...src.at(e.pos[0]), message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') });
  }
  if (issues.length > 0) return { issues };
  const raw = src.doc.toJS() as unknown;
  // On failure: the top level's own problems, then each step checked alone, so one bad step hides no other.
  const head = PlaybookSchema.safeParse(raw);
  if (head.success) return build(src, head.data.steps, head.data, issues);
  const topIssues = head.error.issues.filter((i) => !(i.path[0] === 'steps' && i.path.length >= 2));
  issues.push(...zodIssues(src, topIssues, [], keysFor));
  const steps = Array.isArray((raw as { steps?: unknown })?.steps) ? ((raw as { steps: unknown[] }).steps) : [];
  const checked = steps.map((s, n) => {
    const r = StepSchema.safeParse(s);
    if (!r.success) issues.push(...zodIssues(src, r.error.issues, ['steps', n], keysFor));
    return r.success ? r.data : undefined;
  });
  // Steps that passed still get their own checks, so one run lists every problem.
  build(src, checked, { vars: {} }, issues);
  return { issues };
}

function build(src: Source, rawSteps: (RawStep | undefined)[], head: { name?: string; vars?: Record<string, string | number | boolean>; sudo?: boolean }, issues: PlaybookIssue[]): LoadResult {
  const dir = dirname(src.file);
  const steps: Step[] = [];
  const names = new Map<string, number>();
  rawSteps.forEach((s, n) => {
    if (!s) return;
    const path: Path = ['steps', n];
    const err = (at: Position, message: string) => issues.push({ ...at, message });
    const present = ACTIONS.filter((a) => s[a] !== undefined);
    if (present.length === 0) {
      err(src.position(path), `a step needs one action: ${ACTIONS.join(', ')}`);
      return;
    }
    if (present.length > 1) {
      err(src.keyPosition(path, present[1]!), `a step has one action, this one has ${present.join(' and ')} (make them two steps)`);
      return;
    }
    const kind = present[0]!;
    if (kind === 'keys') {
      // The rotation runs once for every guest that got there, between two phases of the play.
      for (const k of ['when', 'if-changed', 'retries', 'delay'] as const) {
        if (s[k] !== undefined) err(src.keyPosition(path, k), `${k} does not apply to a keys step: the rotation runs once for every guest that reaches it`);
      }
    }
    const commandLike = kind === 'run' || kind === 'script';
    for (const k of ['creates', 'unless', 'register', 'check'] as const) {
      if (s[k] !== undefined && !commandLike) err(src.keyPosition(path, k), `${k} is for run and script steps, not ${kind}`);
    }
    const text = (key: string, value: string | undefined) => (value === undefined ? undefined : src.textAt([...path, key], value));
    let action: Action | undefined;
    let detail = '';
    if (kind === 'run') {
      action = { kind, command: src.textAt([...path, 'run'], s.run!) };
      detail = s.run!;
    } else if (kind === 'script') {
      const file = resolve(dir, s.script!);
      const data = readLocal(file);
      if (data instanceof Error) err(src.position([...path, 'script']), data.message);
      else action = { kind, path: file, data };
      detail = s.script!;
    } else if (kind === 'cron' || kind === 'keys') {
      const made = kind === 'cron' ? cronStep(s.cron!) : keysStep(s.keys!, dir);
      if (typeof made === 'string') err(src.keyPosition(path, kind), made);
      else action = made;
      detail = typeof made === 'string' ? '' : made.kind === 'cron' ? `fleet:${made.job.job}` : 'rotate host keys';
    } else {
      action = fileStep(src, [...path, kind], kind, s[kind]!, dir, issues);
      detail = s[kind]!.dest;
    }
    const name = s.name ?? defaultName(kind, detail);
    if (s.name !== undefined) {
      if (names.has(s.name)) err(src.position([...path, 'name']), `another step is already named '${s.name}' (step ${names.get(s.name)! + 1}): names must be unique`);
      else names.set(s.name, n);
    }
    let ifChanged: number | undefined;
    if (s['if-changed'] !== undefined) {
      ifChanged = names.get(s['if-changed']);
      const later = rawSteps.findIndex((o, m) => m > n && o?.name === s['if-changed']);
      if (ifChanged === undefined || ifChanged === n) {
        err(src.position([...path, 'if-changed']), later >= 0
          ? `if-changed: '${s['if-changed']}' is a later step (step ${later + 1}); it must name an earlier one`
          : `if-changed: no earlier step is named '${s['if-changed']}'${hint(s['if-changed'], [...names.keys()].filter((k) => k !== s.name), false)}`);
      }
    }
    if (!action) return;
    steps.push({
      index: n, name, action,
      // Cron files are root's: the cron step uses sudo -n unless told not to, as `fleet cron apply`.
      sudo: s.sudo ?? head.sudo ?? kind === 'cron',
      when: text('when', s.when), unless: text('unless', s.unless), creates: text('creates', s.creates),
      ...(ifChanged !== undefined ? { ifChanged } : {}),
      ...(s.register ? { register: s.register } : {}),
      retries: s.retries ?? 0, delayMs: (s.delay ?? 1) * 1000, safe: s.check === 'safe',
      at: src.position(path),
    });
  });
  if (issues.length > 0) return { issues };
  const vars = Object.fromEntries(Object.entries(head.vars ?? {}).map(([k, v]) => [k, String(v)]));
  return { issues, playbook: { file: src.file, name: head.name ?? src.file, vars, steps } };
}

function fileStep(src: Source, path: Path, kind: 'push' | 'template', f: FileAction, dir: string, issues: PlaybookIssue[]): FileStep | undefined {
  if ((f.src === undefined) === (f.content === undefined)) {
    issues.push(f.src === undefined
      ? { ...src.position(path), message: `${kind} needs src (a local file) or content` }
      : { ...src.keyPosition(path, 'content'), message: `${kind} takes src or content, not both` });
    return undefined;
  }
  const common = {
    kind, dest: src.textAt([...path, 'dest'], f.dest), mode: parseMode(f.mode), backup: f.backup ?? false,
    ...(f.owner !== undefined ? { owner: src.textAt([...path, 'owner'], f.owner) } : {}),
    ...(f.validate !== undefined ? { validate: src.textAt([...path, 'validate'], f.validate) } : {}),
  };
  if (f.content !== undefined) return { ...common, content: src.textAt([...path, 'content'], f.content), source: 'content' };
  const file = resolve(dir, f.src!);
  const data = readLocal(file);
  if (data instanceof Error) {
    issues.push({ ...src.position([...path, 'src']), message: data.message });
    return undefined;
  }
  // A push sends the file's bytes as they are; a template is text with {{ name }} in it.
  if (kind === 'push') return { ...common, data, source: file };
  return { ...common, content: fileText(file, data.toString('utf8')), source: file };
}

/** Reads and validates a playbook file. */
export function loadPlaybook(path: string): LoadResult {
  const data = readLocal(path);
  if (data instanceof Error) return { issues: [{ file: path, line: 1, column: 1, message: data.message }] };
  return parsePlaybook(data.toString('utf8'), path);
}
