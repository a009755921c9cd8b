// The rotation journal: append-only JSON Lines on the admin host, each record durable (fsync) before
// the step it announces happens. Records from many guests at once share one write and one fsync
// (group commit). One rotation at a time holds `<journal>.lock` (a second one fails at once); a killed
// holder's lock is stale and taken over. Replay tolerates a torn last line (the write a crash cut short).
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FleetError, InputError } from '../core/index.js';
import { acquireLock, LockHeldError, syncDir, type ConnectionTarget, type FileLock } from '../ssh/index.js';
import type { KeyRef } from './pins.js';

/** The seven steps of a guest's rotation, and the way back. */
export const STEPS = ['connect', 'generate', 'read', 'pin', 'swap', 'verify', 'unpin', 'rollback'] as const;
export type StepName = (typeof STEPS)[number];

export interface KeyText {
  keyType: string;
  /** base64 of the key blob */
  key: string;
}

/**
 * A guest as the host key code reaches it, and as a run record of the journal keeps it: a resume has
 * nothing else to go by, so a rotation uses nothing the journal does not record. Its route (jump, absent:
 * straight over TCP; proxyCommand) is the one the run reached the guest by: a resume goes the same way,
 * and refuses a guest the selection now places behind another route (see routeChanges). Its login
 * (identity files and agent, known_hosts files) is as resolved when the run began; vars are its inventory
 * variables, for the confirmation command's environment.
 */
export interface TargetRecord
  extends Pick<ConnectionTarget, 'name' | 'address' | 'port' | 'user'>,
    Partial<Pick<ConnectionTarget, 'jump' | 'proxyCommand' | 'identityFiles' | 'identitiesOnly' | 'identityAgent' | 'knownHostsFiles'>> {
  vars?: Record<string, string>;
}

/** The optional fields a record keeps, in the order they are written (the type makes a field added to TargetRecord be listed here). */
const KEPT: Record<Exclude<keyof TargetRecord, 'name' | 'address' | 'port' | 'user'>, true> = {
  vars: true, jump: true, proxyCommand: true, identityFiles: true, identitiesOnly: true, identityAgent: true, knownHostsFiles: true,
};

/** What the journal keeps of a target: where it is, how it is reached and logged into; nothing else the caller's object carries. */
export function targetRecord(t: TargetRecord): TargetRecord {
  const r: TargetRecord = { name: t.name, address: t.address, port: t.port, user: t.user };
  for (const k of Object.keys(KEPT) as (keyof typeof KEPT)[]) {
    if (t[k] !== undefined && !(Array.isArray(t[k]) && t[k].length === 0)) (r as unknown as Record<string, unknown>)[k] = t[k];
  }
  return r;
}

/** The route in words, as messages show it: `directly`, `through jump host ops@10.9.0.1:22`, `through ProxyCommand `...``. */
export function routeOf(t: Pick<TargetRecord, 'jump' | 'proxyCommand'>): string {
  if (t.jump?.length) return `through jump host${t.jump.length > 1 ? 's' : ''} ${t.jump.map((h) => `${h.user}@${h.address}:${h.port}`).join(' > ')}`;
  if (t.proxyCommand) return `through ProxyCommand \`${t.proxyCommand}\``;
  return 'directly';
}

/** Same route: the same hops at the same addresses and ports, or the same ProxyCommand text (who logs in there is no matter). */
function sameRoute(a: Pick<TargetRecord, 'jump' | 'proxyCommand'>, b: Pick<TargetRecord, 'jump' | 'proxyCommand'>): boolean {
  const hops = (t: typeof a) => (t.jump ?? []).map((h) => `${h.address}:${h.port}`).join(' > ');
  const proxy = (t: typeof a) => (t.jump?.length ? '' : (t.proxyCommand ?? ''));
  return hops(a) === hops(b) && proxy(a) === proxy(b);
}

/**
 * The run's guests that the current selection resolves to another address, port or route than the
 * journal recorded: a resume would reach something else under their name. Guests the selection no
 * longer names are not compared (the journal's route is the one taken).
 */
export function routeChanges(journaled: TargetRecord[], current: TargetRecord[]): { host: string; was: string; now: string }[] {
  const now = new Map(current.map((t) => [t.name, t]));
  const changes: { host: string; was: string; now: string }[] = [];
  for (const j of journaled) {
    const c = now.get(j.name);
    if (!c || (c.address === j.address && c.port === j.port && sameRoute(j, c))) continue;
    changes.push({ host: j.name, was: `${j.address}:${j.port} ${routeOf(j)}`, now: `${c.address}:${c.port} ${routeOf(c)}` });
  }
  return changes;
}

export type Outcome = 'done' | 'rolled-back' | 'skipped';

export type JournalRecord =
  | {
      type: 'run'; run: string; at: string; types: string[] | null; restart: string | null; targets: TargetRecord[];
      /** Out-of-band confirmation command (absent in older journals: none). */
      confirmWith?: string | null;
      /** Keys the run's clone groups shared: revoked once nothing pins them any more. */
      shared?: KeyText[];
    }
  | { type: 'step'; run: string; host: string; step: StepName; at: string; old?: KeyText[]; new?: KeyText[]; staging?: string; hashed?: boolean }
  | { type: 'end'; run: string; host: string; outcome: Outcome; at: string; error?: string }
  | { type: 'note'; run: string; host: string; at: string; error: string }
  | { type: 'resume'; run: string; at: string }
  | { type: 'run-end'; run: string; at: string };

export const toText = (k: KeyRef): KeyText => ({ keyType: k.keyType, key: k.key.toString('base64') });
export const fromText = (k: KeyText): KeyRef => ({ keyType: k.keyType, key: Buffer.from(k.key, 'base64') });

/** What the journal says about one guest in the last run (its latest attempt). */
export interface HostJournal {
  host: string;
  /** Attempts begun (a `connect` step starts one). */
  attempts: number;
  lastStep?: StepName;
  /** The swap step began in this attempt: the guest's /etc/ssh may hold the new keys. */
  swapped: boolean;
  old: KeyRef[];
  new: KeyRef[];
  staging?: string;
  hashed: boolean;
  end?: { outcome: Outcome; error?: string; at: string };
  /** Problems that left the guest unsettled (pending), latest last. */
  notes: string[];
}

export interface RunJournal {
  run: Extract<JournalRecord, { type: 'run' }>;
  hosts: Map<string, HostJournal>;
  ended: boolean;
  resumes: number;
}

/** Guests whose latest attempt began and has not ended: the ones a resume must reconcile. */
export function unsettled(r: RunJournal): HostJournal[] {
  return [...r.hosts.values()].filter((h) => h.attempts > 0 && !h.end);
}

export function parseJournal(text: string, file: string): JournalRecord[] {
  const lines = text.split('\n');
  const records: JournalRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch {
      // Only the last line can be torn by a crash; anything else means the file was damaged.
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!last) throw new InputError('rotation journal is damaged: not JSON', { file, line: i + 1 });
    }
  });
  return records;
}

/** The last run in the records, folded per guest; undefined when there is none. */
export function replay(records: JournalRecord[]): RunJournal | undefined {
  let start = -1;
  records.forEach((r, i) => {
    if (r.type === 'run') start = i;
  });
  if (start < 0) return undefined;
  const run = records[start] as RunJournal['run'];
  const state: RunJournal = { run, hosts: new Map(), ended: false, resumes: 0 };
  const host = (name: string) => {
    let h = state.hosts.get(name);
    if (!h) state.hosts.set(name, (h = { host: name, attempts: 0, swapped: false, old: [], new: [], hashed: false, notes: [] }));
    return h;
  };
  for (const r of records.slice(start + 1)) {
    if (!('run' in r) || r.run !== run.run) continue;
    if (r.type === 'run-end') state.ended = true;
    else if (r.type === 'resume') state.resumes++;
    else if (r.type === 'note') host(r.host).notes.push(r.error);
    else if (r.type === 'end') host(r.host).end = { outcome: r.outcome, error: r.error, at: r.at };
    else if (r.type === 'step') {
      const h = host(r.host);
      if (r.step === 'connect') {
        Object.assign(h, { attempts: h.attempts + 1, swapped: false, old: [], new: [], staging: undefined, hashed: false, end: undefined, notes: [] });
      }
      h.lastStep = r.step;
      if (r.step === 'swap') h.swapped = true;
      if (r.old) h.old = r.old.map(fromText);
      if (r.new) h.new = r.new.map(fromText);
      if (r.staging) h.staging = r.staging;
      if (r.hashed !== undefined) h.hashed = r.hashed;
    }
  }
  return state;
}

export async function readJournal(path: string): Promise<JournalRecord[]> {
  try {
    return parseJournal(await readFile(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The journal open for appending, held by one rotation. */
export class Journal {
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing?: Promise<void>;

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly lock: FileLock) {}

  /** Takes the journal's lock (another live rotation holding it is an error) and opens it for appending. */
  static async open(path: string): Promise<Journal> {
    let lock: FileLock;
    try {
      lock = await acquireLock(path, { timeoutMs: 0 });
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      throw new FleetError(`another key rotation is using the journal ${path}: pid ${err.pid} on ${err.host} holds ${err.lockPath}`);
    }
    try {
      const fh = await open(path, 'a', 0o600);
      await syncDir(dirname(path)); // a journal created just now must survive a crash too
      return new Journal(path, fh, lock);
    } catch (err) {
      await lock.release();
      throw new InputError(`cannot open the rotation journal: ${(err as Error).message}`, { file: path });
    }
  }

  /** Appends one record; resolves once it is on disk. */
  append(record: JournalRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(record)}\n`, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.fh.write(batch.map((b) => b.line).join(''));
        await this.fh.sync();
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.fh.close();
    await this.lock.release();
  }
}
