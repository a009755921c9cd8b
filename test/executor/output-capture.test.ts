// The bounded head-and-tail capture of a guest's output, and how the result model carries it.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeOutput, gather, omissionMarker, OUTPUT_KEEP, OutputCapture, receivedBytes, type HostResult } from '../../src/executor/index.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Feeds `data` in chunks of `size` bytes, as a connection would. */
function capture(data: Buffer, size: number, keep?: number): OutputCapture {
  const c = new OutputCapture(keep);
  for (let i = 0; i < data.length; i += size) c.write(data.subarray(i, i + size));
  return c;
}

describe('OutputCapture', () => {
  it('keeps a short output whole, byte for byte, with nothing omitted', () => {
    const data = Buffer.from([0x1f, 0x8b, 0xff, 0x00, 0x41, 0x0a]);
    expect(capture(data, 1).result()).toEqual({ bytes: data, omitted: 0 });
    expect(capture(Buffer.alloc(0), 1).result()).toEqual({ bytes: Buffer.alloc(0), omitted: 0 });
  });

  it('keeps the head and the tail of a long output around an omission line, and the digest of the whole', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
    for (const size of [1, 7, 100, 4096, data.length]) {
      const r = capture(data, size, 100).result();
      const omitted = data.length - 100;
      expect(r.omitted).toBe(omitted);
      expect(r.bytes.toString()).toBe(`${data.subarray(0, 50)}${omissionMarker(omitted)}${data.subarray(data.length - 50)}`);
      expect(r.sha256).toBe(sha256(data));
      expect(receivedBytes(r.bytes.length, r.omitted)).toBe(data.length);
    }
  });

  it('holds a bounded amount whatever it is fed', () => {
    const c = new OutputCapture();
    const chunk = Buffer.alloc(32 << 10, 'x');
    for (let i = 0; i < 1024; i++) c.write(chunk); // 32 MiB
    const r = c.result();
    expect(c.received).toBe(32 << 20);
    expect(r.bytes.length).toBeLessThan(OUTPUT_KEEP + 64);
    expect(r.omitted).toBe((32 << 20) - OUTPUT_KEEP);
  });

  it('cuts at character boundaries so UTF-8 text stays text', () => {
    const data = Buffer.from('é'.repeat(300)); // two bytes each
    const r = capture(data, 3, 102).result(); // head and tail of 51 bytes: both would split a character
    const text = encodeOutput(r.bytes);
    expect(text.text).not.toBeNull();
    expect(text.text).toMatch(/^(é)+\n\[\d+ bytes omitted\]\n(é)+$/);
    expect(receivedBytes(r.bytes.length, r.omitted)).toBe(600);
  });
});

describe('encodeOutput', () => {
  it('gives UTF-8 as text (a byte-order mark included) and anything else as base64', () => {
    expect(encodeOutput(Buffer.from('héllo\0\n'))).toEqual({ text: 'héllo\0\n' });
    expect(encodeOutput(Buffer.from([0xef, 0xbb, 0xbf, 0x41]))).toEqual({ text: '\ufeffA' });
    const gz = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe]);
    expect(encodeOutput(gz)).toEqual({ text: null, base64: gz.toString('base64') });
  });
});

describe('gather compares bytes', () => {
  const r = (host: string, fields: Partial<HostResult>): HostResult => ({
    host, address: '10.0.0.1', status: 'ok', exitCode: 0, stdout: '', stderr: '', changed: true, durationMs: 1, ...fields,
  });

  it('keeps apart outputs that differ only in bytes a text decoding would lose, or only in their middle', () => {
    const binary = (b: number[]) => ({ stdout: null, stdoutBase64: Buffer.from(b).toString('base64') });
    expect(gather([r('h1', binary([0xff])), r('h2', binary([0xfe])), r('h3', binary([0xff]))]).map((g) => g.folded)).toEqual(['h[1,3]', 'h2']);
    const cut = { stdout: `a${omissionMarker(10)}z`, stdoutOmitted: 10 };
    expect(gather([r('h1', { ...cut, stdoutSha256: 'aa' }), r('h2', { ...cut, stdoutSha256: 'bb' })])).toHaveLength(2);
  });
});
