// Whether a public key blob is whole: every field its type defines, each complete, nothing after. A
// key cut short (a line truncated by a copy, a paste or an editor) still decodes as base64 and names
// its type; taken as a pin it could never match, and the host would look re-keyed (a false MITM alarm).

/** The fields of each key type (RFC 4253, 5656, 8709, OpenSSH's PROTOCOL.u2f): s = string/mpint, fixed sizes checked. */
const LAYOUTS: Record<string, { fields: number; sizes?: Record<number, number>; curve?: string }> = {
  'ssh-ed25519': { fields: 2, sizes: { 1: 32 } },
  'ssh-ed448': { fields: 2, sizes: { 1: 57 } },
  'ssh-rsa': { fields: 3 },
  'ssh-dss': { fields: 5 },
  'ecdsa-sha2-nistp256': { fields: 3, curve: 'nistp256', sizes: { 2: 65 } },
  'ecdsa-sha2-nistp384': { fields: 3, curve: 'nistp384', sizes: { 2: 97 } },
  'ecdsa-sha2-nistp521': { fields: 3, curve: 'nistp521', sizes: { 2: 133 } },
  'sk-ssh-ed25519@openssh.com': { fields: 3, sizes: { 1: 32 } },
  'sk-ecdsa-sha2-nistp256@openssh.com': { fields: 4, curve: 'nistp256', sizes: { 2: 65 } },
};

/**
 * Why a blob of `keyType` is not a whole key (truncated, wrong size, trailing bytes), or null when it
 * is, or when the type is one we do not know the layout of (certificates, future types): left to ssh.
 */
export function keyBlobProblem(keyType: string, blob: Buffer): string | null {
  const layout = LAYOUTS[keyType];
  if (!layout) return null;
  let at = 0;
  for (let i = 0; i < layout.fields; i++) {
    if (at + 4 > blob.length) return `truncated ${keyType} key: ${blob.length} bytes, it ends before field ${i + 1} of ${layout.fields}`;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return `truncated ${keyType} key: ${blob.length} bytes, it ends inside field ${i + 1} of ${layout.fields}`;
    const want = layout.sizes?.[i];
    if (want !== undefined && len !== want) return `damaged ${keyType} key: field ${i + 1} holds ${len} bytes, not ${want}`;
    if (i === 1 && layout.curve && blob.toString('latin1', at + 4, at + 4 + len) !== layout.curve) return `damaged ${keyType} key: wrong curve name`;
    at += 4 + len;
  }
  if (at !== blob.length) return `damaged ${keyType} key: ${blob.length - at} bytes after its last field`;
  return null;
}
