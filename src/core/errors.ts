// Typed errors shared by the library: each carries what the CLI needs to report it and exit.

/** Exit codes of the CLI contract (README: 0 ok, 1 some failed, 2 input, 3 host key). */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, hostKey: 3 } as const;

/** Base class: a message that reads well plus the exit status the CLI should use. */
export class FleetError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Malformed input (inventory, known_hosts, cron spec, playbook): names the file and line. */
export class InputError extends FleetError {
  readonly file?: string;
  readonly line?: number;
  constructor(message: string, where: { file?: string; line?: number; column?: number } = {}) {
    const col = where.line && where.column ? `:${where.column}` : '';
    const at = where.file ? `${where.file}${where.line ? `:${where.line}${col}` : ''}: ` : '';
    super(`${at}${message}`, EXIT.usage);
    this.file = where.file;
    this.line = where.line;
  }
}

/** Bad command-line usage. */
export class UsageError extends FleetError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
