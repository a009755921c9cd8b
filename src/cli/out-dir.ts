// `--out DIR`: each guest's stdout and stderr in DIR/<host>.stdout and .stderr, byte for byte. The
// directory is created and test-written before anything connects; run streams the output into the
// files as it arrives, so no output is held whole in memory.
import { closeSync, mkdirSync, openSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../core/index.js';
import type { HostResult, OutputSink } from '../executor/index.js';

/** `ENOENT: no such file or directory`: Node's message without the syscall and path it repeats. */
const reason = (err: unknown) => (err as Error).message.replace(/, \w+ '.*'$/s, '');

/**
 * mkdir -p, one level at a time. Node's recursive mkdirSync never returns for a path under /proc
 * (it retries the parent forever); each missing level is made here once, and its error reported.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory: ${p}`), { code: 'ENOTDIR' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw err;
      missing.push(p);
    }
  }
  for (const p of missing.reverse()) mkdirSync(p);
}

/** Creates DIR if needed and checks a file can be written in it; a UsageError naming DIR and why not. */
export function prepareOutDir(dir: string): void {
  try {
    makeDirs(dir);
  } catch (err) {
    throw new UsageError(`--out ${dir}: cannot create the directory: ${reason(err)}`);
  }
  const probe = join(dir, `.fleet-out-check-${process.pid}`);
  try {
    writeFileSync(probe, 'x', { flag: 'wx' });
    unlinkSync(probe);
  } catch (err) {
    throw new UsageError(`--out ${dir}: cannot write a file in it: ${reason(err)}`);
  }
}

/** One output file, opened at its first byte; write errors are kept, not thrown into the connection. */
class OutFile {
  private fd?: number;
  error?: string;

  constructor(readonly path: string) {}

  write(chunk: Buffer): void {
    if (this.error) return;
    try {
      this.fd ??= openSync(this.path, 'w');
      for (let off = 0; off < chunk.length; ) off += writeSync(this.fd, chunk, off);
    } catch (err) {
      this.error = `${this.path}: ${reason(err)}`;
      this.close();
    }
  }

  /** Closes the file; one that got no byte exists all the same, empty. */
  close(): void {
    try {
      if (this.fd !== undefined) closeSync(this.fd);
      else if (!this.error) writeFileSync(this.path, '');
    } catch (err) {
      this.error ??= `${this.path}: ${reason(err)}`;
    }
    this.fd = undefined;
  }
}

export type GuestFiles = OutputSink & { close(): void };

/** The output directory of one run (already prepared). */
export class OutDir {
  private readonly files: OutFile[] = [];

  constructor(readonly dir: string) {}

  /** The sink for one guest's output; close() it once the guest is done. */
  guest(host: string): GuestFiles {
    const out = new OutFile(join(this.dir, `${host}.stdout`));
    const err = new OutFile(join(this.dir, `${host}.stderr`));
    this.files.push(out, err);
    return {
      stdout: (d) => out.write(d),
      stderr: (d) => err.write(d),
      close: () => {
        out.close();
        err.close();
      },
    };
  }

  /** What could not be written (file and reason), in order. */
  errors(): string[] {
    return this.files.flatMap((f) => (f.error ? [f.error] : []));
  }
}

const bytesOf = (text: string | null, base64: string | undefined) => (text !== null ? Buffer.from(text) : Buffer.from(base64 ?? '', 'base64'));

/** After the fact, from the results (push: a step's own words); what the results kept of the output. */
export function writeOutDir(dir: string, results: HostResult[]): void {
  prepareOutDir(dir);
  for (const r of results) {
    writeFileSync(join(dir, `${r.host}.stdout`), bytesOf(r.stdout, r.stdoutBase64));
    writeFileSync(join(dir, `${r.host}.stderr`), bytesOf(r.stderr, r.stderrBase64));
  }
}
