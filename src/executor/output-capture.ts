// Bounded capture of one output stream of a guest command: its first and last bytes with the count
// of those left out between them, so a guest printing gigabytes costs a fixed amount of memory. Once
// anything is left out, the SHA-256 of every byte received is kept too: outputs still compare by
// their whole content.
import { createHash, type Hash } from 'node:crypto';

/** Bytes kept per stream (half head, half tail): stdout and stderr together hold 1 MiB per guest. */
export const OUTPUT_KEEP = 512 << 10;

export interface CapturedOutput {
  /** What is kept: every byte received, or the head, an omissionMarker() and the tail. */
  bytes: Buffer;
  /** Bytes received but not kept (0 when `bytes` is the whole output). */
  omitted: number;
  /** SHA-256 (hex) of every byte received, when some were omitted. */
  sha256?: string;
}

/** The line that stands for the bytes left out, between head and tail. */
export const omissionMarker = (omitted: number): string => `\n[${omitted} bytes omitted]\n`;

/** How many bytes the command printed, from what was kept of them. */
export function receivedBytes(kept: number, omitted: number): number {
  return omitted > 0 ? kept - Buffer.byteLength(omissionMarker(omitted)) + omitted : kept;
}

export class OutputCapture {
  private readonly headMax: number;
  private readonly tailMax: number;
  private readonly head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  private total = 0;
  private hash?: Hash;

  constructor(keep = OUTPUT_KEEP) {
    this.headMax = Math.ceil(keep / 2);
    this.tailMax = Math.floor(keep / 2);
  }

  /** Bytes received so far. */
  get received(): number {
    return this.total;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!this.hash && this.total + chunk.length > this.headMax + this.tailMax) {
      // The first byte is about to be dropped: from here on the content is known by its digest.
      this.hash = createHash('sha256');
      for (const b of this.head) this.hash.update(b);
      for (const b of this.tail) this.hash.update(b);
    }
    this.hash?.update(chunk);
    this.total += chunk.length;
    let rest = chunk;
    if (this.headLen < this.headMax) {
      const take = Math.min(this.headMax - this.headLen, rest.length);
      // A copy, so a large chunk is not kept alive by the small part of it we hold.
      this.head.push(take === rest.length ? rest : Buffer.from(rest.subarray(0, take)));
      this.headLen += take;
      rest = rest.subarray(take);
      if (rest.length === 0) return;
    }
    if (rest.length >= this.tailMax) {
      this.tail = this.tailMax > 0 ? [Buffer.from(rest.subarray(rest.length - this.tailMax))] : [];
      this.tailLen = this.tailMax;
      return;
    }
    this.tail.push(rest);
    this.tailLen += rest.length;
    // Drop whole chunks while the rest still fills the tail; the one straddling its start is cut at the end.
    while (this.tail.length > 1 && this.tailLen - this.tail[0]!.length >= this.tailMax) this.tailLen -= this.tail.shift()!.length;
  }

  /** What was kept, the omitted count, and the digest of the whole when something was left out. */
  result(): CapturedOutput {
    const head = Buffer.concat(this.head, this.headLen);
    let tail = Buffer.concat(this.tail, this.tailLen);
    if (this.total <= this.headMax + this.tailMax) return { bytes: Buffer.concat([head, tail]), omitted: 0 };
    tail = tail.subarray(tail.length - this.tailMax);
    // Cut at character boundaries, so text stays text: a split UTF-8 sequence counts as omitted.
    const headEnd = utf8SafeEnd(head);
    const tailStart = utf8SafeStart(tail);
    const omitted = this.total - headEnd - (tail.length - tailStart);
    return {
      bytes: Buffer.concat([head.subarray(0, headEnd), Buffer.from(omissionMarker(omitted)), tail.subarray(tailStart)]),
      omitted,
      sha256: this.hash!.digest('hex'),
    };
  }
}

/** Length of `b` without a UTF-8 sequence cut short at its end. */
function utf8SafeEnd(b: Buffer): number {
  for (let i = b.length - 1; i >= Math.max(0, b.length - 4); i--) {
    const c = b[i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead byte
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return b.length - i >= need ? b.length : i;
  }
  return b.length; // not UTF-8 anyway
}

/** Offset of the first byte of `b` that is not the continuation of a sequence cut at its start. */
function utf8SafeStart(b: Buffer): number {
  let i = 0;
  while (i < Math.min(3, b.length) && (b[i]! & 0xc0) === 0x80) i++;
  return i < 3 || (b[i]! & 0xc0) !== 0x80 ? i : 0;
}

// ignoreBOM: a leading byte-order mark is output like any other, kept rather than eaten.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Output as the result model carries it: text when it is UTF-8, else base64. */
export function encodeOutput(bytes: Buffer): { text: string } | { text: null; base64: string } {
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { text: null, base64: bytes.toString('base64') };
  }
}

type Stream = 'stdout' | 'stderr';

/** One stream's fields of a HostResult: `stdout` (or null and `stdoutBase64`), `stdoutOmitted`, ... */
export function outputFields<S extends Stream>(stream: S, c: CapturedOutput): Record<S, string | null> & Partial<Record<`${S}${'Base64' | 'Sha256'}`, string> & Record<`${S}Omitted`, number>> {
  const e = encodeOutput(c.bytes);
  return {
    [stream]: e.text,
    ...(e.text === null ? { [`${stream}Base64`]: e.base64 } : {}),
    ...(c.omitted > 0 ? { [`${stream}Omitted`]: c.omitted, [`${stream}Sha256`]: c.sha256 } : {}),
  } as never;
}
