// `fleet cron plan|apply|analyze|simulate`: option parsing only; the work is in ./cron-*.js (lazy).
import { Command, Option } from 'commander';
import { addRerunOption } from '../run-options.js';
import { addSelectionOptions } from '../selection.js';

// Values are checked and converted by their schema (../option-specs.ts); a number default is given as one.
const counted = (flags: string, description: string, value?: number) => new Option(flags, description).default(value);

/** The job and its timing: shared by plan, apply and simulate (where it describes the "after"). */
function addJobOptions(cmd: Command): Command {
  return cmd
    .option('--job <name>', 'job name: names the managed block and seeds the hash (default with --replace-run-crons: run-crons)')
    .option('--command <cmd>', 'what the job runs (one shell line, as cron runs it)')
    .option('--window <HH:MM-HH:MM>', 'when the job may start; may wrap midnight', '23:00-06:00')
    .option('--slot <minutes>', 'slot length: 12m, 12 or 1h', '12m')
    .addOption(counted('--cap <n>', 'most guests starting in one slot', 15))
    .option('--schedule <spec>', "hashed, uncapped schedule instead of a window, Jenkins-style: 'H H(1-5) * * *', 'H/15 * * * *'")
    .option('--replace-run-crons', "replace the golden image's every-15-minutes run-crons line with direct calls at the guest's slot")
    .option('--scripts <list>', 'with --replace-run-crons: which /etc/cron.<period> to keep (hourly,daily,weekly,monthly)', 'daily,weekly,monthly')
    .option('--cron-d', 'put the job in /etc/cron.d/fleet-<job> instead of a block in /etc/crontab')
    .option('--cron-user <name>', 'user the job runs as', 'root')
    .option('--fresh', "plan from scratch instead of keeping guests in the slots they carry")
    .option('--sudo', 'read (and for apply write) cron files with `sudo -n`', true)
    .option('--no-sudo', 'read cron files as the login user (user crontabs are then usually unreadable)')
    .addOption(counted('-f, --fanout <n>', 'guests at once', 64));
}

function addDayOptions(cmd: Command): Command {
  return cmd
    .option('--tz <zone>', 'time zone the guests keep (IANA name)', 'UTC')
    .option('--date <YYYY-MM-DD>', 'the day to expand (default: today in --tz)');
}

export function registerCron(program: Command): void {
  const cron = program
    .command('cron')
    .description('staggered crontabs by IP hash with a hard cap, and the load cron causes across the fleet');

  addJobOptions(addSelectionOptions(cron.command('plan').description('assign every selected guest a start time (nothing is written)')))
    .option('--offline', 'plan from the inventory alone, without reading the slots guests carry now')
    .option('--json', 'JSON Lines: one {host, address, slot, start, cron} per guest, then a summary')
    .addHelpText('after', `
Guarantees: no slot holds more than --cap guests (exit 2 with advice when the fleet does not fit);
the busiest slot holds at most one more than ceil(guests / slots); the plan depends only on the
guests' addresses, the job name and the options; guests that already carry this job's block stay
in their slot where the cap allows, so a regeneration moves few guests (--fresh: from scratch).
Examples:
  fleet cron plan -i inventory --job nightly --command 'run-parts /etc/cron.daily' --window 23:00-06:00 --slot 12m --cap 15
  fleet cron plan --job logsync --command '/usr/local/bin/logsync' --schedule 'H H(1-5) * * *' --offline`)
    .action(async (selection, flags) => (await import('./cron-plan.js')).cronPlan(selection, flags));

  addRerunOption(addJobOptions(addSelectionOptions(cron.command('apply').description('write each guest its planned line(s) as a managed block'))))
    .option('--dry-run', 'show the change per guest as a diff; write nothing')
    .option('--no-backup', 'do not keep a copy of the file being replaced')
    .option('--yes', 'do not ask for confirmation on a terminal')
    .option('--json', 'JSON Lines: one result per guest, then a summary')
    .addHelpText('after', `
Each guest gets "# BEGIN fleet:<job>" ... "# END fleet:<job>" in /etc/crontab (or the file
/etc/cron.d/fleet-<job> with --cron-d); every other line stays as it is. The new file must parse
before it is written; it is written atomically with a backup, and not at all when unchanged.
Writing root's cron files needs root: apply uses \`sudo -n\` unless --no-sudo.
Examples:
  fleet cron apply -i inventory --job nightly --command 'run-parts /etc/cron.daily' --dry-run
  fleet cron apply -i inventory --replace-run-crons --scripts daily,weekly,monthly`)
    .action(async (selection, flags) => (await import('./cron-apply.js')).cronApply(selection, flags));

  addDayOptions(addSelectionOptions(cron.command('analyze').description('per-minute job starts across the fleet over one day: peak, when, and why')))
    .option('--sudo', 'read cron files with `sudo -n` (user crontabs are root-only)', true)
    .option('--no-sudo', 'read cron files as the login user')
    .addOption(counted('-f, --fanout <n>', 'guests at once', 64))
    .option('--cap <n>', 'mark hours whose peak exceeds this')
    .addOption(counted('--top <n>', 'how many of the busiest minutes to list', 10))
    .option('--svg <file.svg>', 'also draw the day as one SVG: starts per minute and the eligible queue (host model defaults), --cap as a line')
    .addOption(new Option('--plot <file.svg>').hideHelp())
    .option('--json', 'JSON Lines: one object per guest, then the summary and the analysis')
    .action(async (selection, flags) => (await import('./cron-analyze.js')).cronAnalyze(selection, flags));

  addDayOptions(addJobOptions(addSelectionOptions(cron.command('simulate').description("run the day's job starts through the host model; with --job or --replace-run-crons, compare with a plan"))))
    .option('--from <HH:MM>', 'simulate the 24 hours from this time of --date (so a night window is not cut at midnight)', '12:00')
    .addOption(counted('--capacity <n>', 'guests the host dispatches at once without queueing', 41))
    .addOption(counted('--job-minutes <m>', 'minutes a daily job takes on a quiet host', 3))
    .addOption(counted('--thrash <a>', 'slowdown per queued guest: dispatched guests run at 1/(1 + a*queue)', 0.32))
    .addOption(counted('--idle-seconds <s>', 'seconds a run-crons (or hourly) start takes when nothing is due', 0.1))
    .option('--daily-at <HH:MM>', 'when run-crons runs the daily scripts on the clones', '00:00')
    .addOption(counted('--unresponsive-queue <n>', 'the host counts as unresponsive while more than N guests wait', 0))
    .option('--svg <file.svg>', 'also draw starts per minute and the eligible queue, before and after, as one SVG (the cap as a line)')
    .addOption(new Option('--plot <file.svg>').hideHelp())
    .option('--json', 'print the comparison as one JSON object')
    .addHelpText('after', `
The host model (README, "The host model"): C guests run at once; more wait in an eligible queue;
while anyone waits, the host thrashes and every running guest slows to 1/(1 + a*queue).
Defaults are calibrated on the field: 35 at once done in ~3 min, queueing from 42, 110 at once
~1 h 37 min unresponsive, 500 run-crons with nothing due ~1.5 min unresponsive.
Examples:
  fleet cron simulate -i inventory
  fleet cron simulate -i inventory --replace-run-crons --window 23:00-06:00 --slot 12m --cap 15`)
    .action(async (selection, flags) => (await import('./cron-simulate.js')).cronSimulate(selection, flags));
}
