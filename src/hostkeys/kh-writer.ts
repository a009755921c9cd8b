// Serialized, batched known_hosts edits: many guests finishing a step at once share one locked
// read-modify-write and one fsync (group commit). Each edit's promise resolves only once the file
// holding it is durable; an edit that throws leaves the file as the other edits made it.
import { updateKnownHosts, type KnownHosts } from '../ssh/index.js';

type Edit = { fn: (kh: KnownHosts) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class KnownHostsWriter {
  private queue: Edit[] = [];
  private running?: Promise<void>;

  constructor(readonly path: string) {}

  /** Applies `fn` to the current file under the lock; resolves with its result once written. */
  edit<T>(fn: (kh: KnownHosts) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.running ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      try {
        await updateKnownHosts(this.path, (kh) => {
          outcomes.length = 0;
          for (const e of batch) {
            try {
              outcomes.push({ ok: true, value: e.fn(kh) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        });
      } catch (error) {
        for (const e of batch) e.reject(error);
        continue;
      }
      batch.forEach((e, i) => {
        const o = outcomes[i]!;
        if (o.ok) e.resolve(o.value);
        else e.reject(o.error);
      });
    }
    this.running = undefined;
  }
}
