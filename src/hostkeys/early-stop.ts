// When the first guests of a rotation all fail the same way (a confirmation command that cannot
// work, sudo refused everywhere, a wrong identity), the rest would fail that way too: stop starting
// guests instead of rolling back hundreds, each reported on its own.
import type { GuestRotation } from './guest-ops.js';

/** How many guests must have finished, all failing alike, before the run stops. */
export const SAME_FAILURE_AFTER = 5;

/**
 * A failure as it reads for any guest: its step and message, with what differs from guest to guest
 * for the same cause blanked (name, address, the fingerprints of each guest's own new keys).
 */
export function failureSignature(r: GuestRotation): string {
  const msg = (r.error ?? '').split(r.host).join('<guest>').split(r.address).join('<address>').replace(/SHA256:[A-Za-z0-9+/]+=*/g, 'SHA256:<key>');
  return `${r.failedStep ?? ''}\0${msg}`;
}

/** Watches guests as they finish; `stop` says why once the first `after` of them failed alike. */
export class SameFailureStop {
  private readonly first: GuestRotation[] = [];
  reason?: string;

  constructor(private readonly after = SAME_FAILURE_AFTER) {}

  /** Records a finished guest; true when the run should start no more guests. */
  saw(r: GuestRotation): boolean {
    if (this.reason || this.first.length >= this.after) return !!this.reason;
    this.first.push(r);
    if (this.first.length < this.after) return false;
    const sig = failureSignature(this.first[0]!);
    if (this.first.every((x) => x.outcome !== 'done' && failureSignature(x) === sig)) {
      const x = this.first[0]!;
      this.reason = `the first ${this.after} guests to finish all failed the same way (at step '${x.failedStep}': ${x.error}); ` +
        'no further guest was started';
    }
    return !!this.reason;
  }
}
