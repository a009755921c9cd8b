import { describe, expect, it } from 'vitest';
import { exitCodeOf, gather, summarize, type HostResult } from '../../src/executor/index.js';
import { shellQuote, wrapSudo } from '../../src/executor/index.js';

const r = (host: string, stdout: string, status: HostResult['status'] = 'ok', exitCode: number | null = 0): HostResult => ({
  host, address: `10.0.0.${host.slice(-1)}`, status, exitCode, stdout, stderr: '', changed: true, durationMs: 1,
});

describe('gather', () => {
  it('folds identical outputs into one group headed by the host range, largest first', () => {
    const groups = gather([r('web1', 'a\n'), r('web2', 'a\n'), r('web3', 'b\n'), r('web4', 'a\n')]);
    expect(groups.map((g) => [g.folded, g.hosts.length, g.stdout])).toEqual([
      ['web[1-2,4]', 3, 'a\n'],
      ['web3', 1, 'b\n'],
    ]);
  });

  it('keeps different exit codes apart even with the same output', () => {
    const groups = gather([r('h1', 'x', 'ok', 0), r('h2', 'x', 'failed', 1)]);
    expect(groups).toHaveLength(2);
  });

  it('keeps changed and unchanged pushes apart, and folds the same backup path', () => {
    const changed = { ...r('h1', ''), backup: '/etc/x.fleet-bak-S' };
    const groups = gather([changed, { ...r('h2', ''), backup: '/etc/x.fleet-bak-S' }, { ...r('h3', ''), changed: false }]);
    expect(groups.map((g) => [g.folded, g.changed, g.backup])).toEqual([['h[1-2]', true, '/etc/x.fleet-bak-S'], ['h3', false, undefined]]);
  });

  it('folds failures whose messages differ only by the host name', () => {
    const a = { ...r('h1', '', 'unreachable', null), error: 'h1 (10.0.0.1:22): ECONNREFUSED' };
    const b = { ...r('h2', '', 'unreachable', null), error: 'h2 (10.0.0.2:22): ECONNREFUSED' };
    expect(gather([a, b])).toHaveLength(1);
  });
});

describe('summary and exit status', () => {
  it('counts per status, guests not run, and maps to the CLI contract', () => {
    const s = summarize([r('h1', ''), r('h2', '', 'failed', 2)], 3, 10);
    expect(s).toMatchObject({ ok: 1, failed: 1, total: 3, notRun: 1 });
    expect(exitCodeOf(s)).toBe(1);
    expect(exitCodeOf(summarize([r('h1', '')], 1, 1))).toBe(0);
    expect(exitCodeOf(summarize([r('h1', ''), r('h2', '', 'hostkey-refused', null)], 2, 1))).toBe(3);
  });
});

describe('quoting', () => {
  it('quotes for a POSIX shell so the text arrives exactly as typed', async () => {
    const { execFileSync } = await import('node:child_process');
    const nasty = `it's "$HOME" \`x\` *\nline2 \\ ;|&`;
    expect(execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(nasty)}`]).toString()).toBe(nasty);
    expect(wrapSudo("echo 'hi'")).toBe(`sudo -n -- /bin/sh -c 'echo '\\''hi'\\'''`);
  });
});
