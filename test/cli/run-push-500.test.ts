// Scale: `fleet run` and `fleet push` succeed on every guest of a 500-guest emulated fleet.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type TestFleet } from '../helpers/emulator.js';
import { fleet, jsonLines } from './cli-harness.js';

let tf: TestFleet;

beforeAll(async () => {
  tf = await startFleet({ guests: 500, subnet: '127.106.0.0/16', port: 2222 });
}, 60_000);

afterAll(async () => {
  await tf?.stop();
}, 60_000);

const sel = () => ['-i', tf.emu.inventoryPath, '--identity', tf.emu.clientKeyPath];

describe('500 guests', () => {
  it('runs a command on all of them', async () => {
    const r = await fleet('run', ...sel(), '--', 'hostname');
    expect(r.code).toBe(0);
    expect(r.out).toContain('run: 500 ok of 500');
    // 500 different hostnames: every guest answered for itself.
    expect(r.out).toContain('guest001 (1)');
    expect(r.out).toContain('guest500 (1)');
  }, 60_000);

  it('pushes a file to all of them, then finds it unchanged everywhere', async () => {
    const local = join(tf.state, 'payload');
    writeFileSync(local, Buffer.alloc(64 << 10, 'x'));
    const first = await fleet('push', ...sel(), '--json', local, '/tmp/payload');
    expect(jsonLines(first.out).at(-1)!.summary).toMatchObject({ ok: 500, changed: 500, total: 500 });
    expect(readFileSync(join(tf.emu.guests[499]!.cfg.dir, 'tmp/payload'))).toEqual(readFileSync(local));
    const second = await fleet('push', ...sel(), local, '/tmp/payload');
    expect(second.code).toBe(0);
    expect(second.out).toContain('guest[001-500] (500)');
    expect(second.out).toContain('push: 500 ok (0 changed, 500 unchanged) of 500');
  }, 60_000);
});
