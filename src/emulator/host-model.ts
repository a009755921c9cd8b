// The emulated host's capacity: at most C guest commands run at once; the rest wait in an eligible
// queue, like the hypervisor's dispatcher in the field's cron storm. Records the queue over time.

export interface HostModelStatus {
  capacity: number | null;
  running: number;
  queueNow: number;
  queuePeak: number;
  /** Wall-clock minutes (since start) during which anything waited in the queue. */
  minutesWithQueue: number;
  /** Per minute since start that saw activity: the longest queue in that minute. */
  queueByMinute: { minute: number; peak: number }[];
}

export class HostModel {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private queuePeak = 0;
  private readonly minutePeaks = new Map<number, number>();
  private readonly startedAt = Date.now();

  constructor(private capacity: number | null) {}

  setCapacity(capacity: number | null): void {
    this.capacity = capacity;
    this.drain();
  }

  /** Waits for a free slot; returns the function that gives it back (call exactly once). */
  async acquire(): Promise<() => void> {
    if (this.capacity === null || this.running < this.capacity) {
      this.running++;
      this.record();
      return this.releaser();
    }
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.record();
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.waiting.length > 0 && (this.capacity === null || this.running < this.capacity)) {
      this.running++;
      this.waiting.shift()!();
    }
    this.record();
  }

  private record(): void {
    const q = this.waiting.length;
    this.queuePeak = Math.max(this.queuePeak, q);
    const minute = Math.floor((Date.now() - this.startedAt) / 60_000);
    this.minutePeaks.set(minute, Math.max(this.minutePeaks.get(minute) ?? 0, q));
  }

  status(): HostModelStatus {
    const byMinute = [...this.minutePeaks.entries()].sort((a, b) => a[0] - b[0]).map(([minute, peak]) => ({ minute, peak }));
    return {
      capacity: this.capacity,
      running: this.running,
      queueNow: this.waiting.length,
      queuePeak: this.queuePeak,
      minutesWithQueue: byMinute.filter((m) => m.peak > 0).length,
      queueByMinute: byMinute,
    };
  }
}
