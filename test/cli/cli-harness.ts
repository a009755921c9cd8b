// Calls the CLI in-process (main()) with stdout/stderr captured, for the CLI test files.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function fleet(...args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

/** `--json` output: one object per line. */
export const jsonLines = (out: string): Record<string, any>[] => out.trim().split('\n').map((l) => JSON.parse(l));

/** host -> status of a `--json` run. */
export const statuses = (out: string): Record<string, string> =>
  Object.fromEntries(jsonLines(out).filter((x) => x.host).map((x) => [x.host, x.status]));
