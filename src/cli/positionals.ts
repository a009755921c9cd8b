// Checks of the words commands take besides options (push's destination, emulator guests and fault
// specs), run with the option checks before a command's work starts: an empty or malformed word is
// one line and exit 2, never a request the emulator or a guest would have to refuse.
import { UsageError } from '../core/index.js';
import { FAULT_KINDS } from '../emulator/faults.js';

const FAULT = new RegExp(`^(${FAULT_KINDS.join('|')})(:\\d+)?(@[^@\\s]+)?$`);

/** The problem with one `KIND[:MS]@WHO` fault spec, or undefined when it reads well. */
export function faultSpecProblem(spec: string): string | undefined {
  return FAULT.test(spec.trim()) ? undefined : `bad fault '${spec}': expected KIND[:MS]@WHO with KIND one of ${FAULT_KINDS.join(', ')} and MS a whole number of milliseconds`;
}

const nonEmpty = (what: string, v: unknown) => {
  if (typeof v === 'string' && v.trim() === '') throw new UsageError(`${what} is empty`);
};

/** Throws the first problem with a command's arguments (as commander hands them to the action). */
export function checkPositionals(command: string, args: unknown[]): void {
  const words = args.filter((a): a is string => typeof a === 'string');
  switch (command) {
    case 'push': {
      // `[selection] <local> <remote>`: the last word given is the destination.
      if (words.length >= 2) nonEmpty('the remote path (push destination)', words[words.length - 1]);
      if (words.length >= 2) nonEmpty('the local file', words[words.length - 2]);
      break;
    }
    case 'emulator fault':
      for (const spec of (args[0] as string[] | undefined) ?? []) {
        const problem = faultSpecProblem(spec);
        if (problem) throw new UsageError(problem);
      }
      break;
    case 'emulator console':
      nonEmpty('the guest (a name, number or address)', args[0]);
      break;
    case 'emulator sshd':
      if (args[0] !== 'start' && args[0] !== 'stop') throw new UsageError(`sshd action must be start or stop, got '${String(args[0])}'`);
      nonEmpty('the guest (a name, number or address)', args[1]);
      break;
    case 'keys revoke':
      if (typeof args[0] === 'string' && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(args[0])) {
        throw new UsageError(`the fingerprint must read SHA256:... as keys scan prints it, got '${args[0]}'`);
      }
      break;
  }
  // Every command's optional [selection] is the same pattern syntax as --limit: never empty.
  if (command !== 'emulator fault' && words.length > 0 && words[0] !== undefined) {
    if (['run', 'inventory', 'cron plan', 'cron apply', 'cron analyze', 'cron simulate', 'keys scan', 'keys trust', 'keys rotate', 'keys status'].includes(command)) {
      nonEmpty('the selection', words[0]);
    }
  }
}
