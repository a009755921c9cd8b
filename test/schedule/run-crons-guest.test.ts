// Replacing run-crons is honest about what it costs: hourly scripts left out of --scripts are named
// on every guest that has some, kept in an hourly slot when asked; a guest without run-parts gets
// nothing written rather than lines that fail every night.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jobFromOptions } from '../../src/schedule/index.js';
import { parseFacts, PROBE, runCronsVerdict } from '../../src/schedule/guest-cron-facts.js';
import { InputError } from '../../src/core/index.js';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';

const F = useFleet({ guests: 3, subnet: '127.178.0.0/24', port: 2222 });
const sel = () => ['-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath];
const job = (scripts: string) => jobFromOptions({ replaceRunCrons: true, scripts }, true)!;

describe('--replace-run-crons on guests with hourly scripts', () => {
  it('default --scripts: each guest is told which hourly scripts no line runs any more', async () => {
    const r = await fleet('cron', 'apply', ...sel(), 'guest001', '--replace-run-crons', '--yes', '--json');
    expect(r.code, r.err).toBe(0);
    const row = jsonLines(r.out)[0]!;
    expect(row.stdout).toContain('warning: /etc/cron.hourly holds 1 script (suse.de-cron-local) that no line runs any more: add hourly to --scripts to keep them in an hourly slot');
  });

  it('--scripts with hourly: an hourly run-parts line at the guest\'s own minute, no warning', async () => {
    const r = await fleet('cron', 'apply', ...sel(), 'guest002', '--replace-run-crons', '--scripts', 'hourly,daily,weekly,monthly', '--yes', '--json');
    expect(r.code, r.err).toBe(0);
    expect(jsonLines(r.out)[0]!.stdout).not.toContain('warning');
    const crontab = await fleet('run', ...sel(), 'guest002', '--', 'cat /etc/crontab');
    expect(crontab.out).toMatch(/^\d{1,2} \* \* \* \* root run-parts \/etc\/cron\.hourly$/m);
  });
});

describe('a guest without run-parts', () => {
  it('the probe reports it missing (run by a real shell with no run-parts on its PATH), and nothing is written', () => {
    const out = execFileSync('/bin/sh', ['-c', PROBE], { env: { PATH: '/nonexistent' } }).toString();
    const facts = parseFacts(out);
    expect(facts.runParts).toBe(false);
    expect(() => runCronsVerdict(job('daily,weekly,monthly'), facts)).toThrow(InputError);
    expect(() => runCronsVerdict(job('daily,weekly,monthly'), facts)).toThrow(/run-parts is not on this guest's PATH/);
    // With run-parts where cron finds it, the same probe finds it.
    expect(parseFacts(execFileSync('/bin/sh', ['-c', PROBE], { env: { PATH: '/usr/bin:/bin' } }).toString()).runParts).toBe(true);
  });
});
