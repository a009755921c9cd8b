// `fleet emulator up` on an existing state directory says what it keeps and how to start fresh.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reuseNote } from '../../src/cli/commands/emulator.js';
import { Emulator } from '../../src/emulator/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('emulator up on an existing state directory', () => {
  it('names what is kept, what --unique-keys will not touch, and down --remove', async () => {
    const state = join(dir, 'state');
    expect(reuseNote({ state, guests: 3, uniqueKeys: true })).toBeUndefined();
    const emu = await Emulator.start({ guests: 2, state, subnet: '127.161.0.0/16', port: 2222 });
    await emu.stop();
    // Guests' roots are made on their first command: run none, and their layers stay empty.
    const note = reuseNote({ state, guests: 3, uniqueKeys: true })!;
    expect(note).toMatch(new RegExp(`^reusing the state directory ${state}: its golden image and the \\d guest root\\(s\\) already made \\(files, host keys\\) are kept\\n`));
    expect(note).toMatch(/--unique-keys applies only to guests created now \(\d\)/);
    expect(note.endsWith(`to start fresh: fleet emulator down --state ${state} --remove`)).toBe(true);
    expect(reuseNote({ state, guests: 3 })).not.toContain('--unique-keys');
  });
});
