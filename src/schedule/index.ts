// Public face of the scheduler: slot plans, hashed cron fields, managed crontab blocks, load model, and the
// flows that read guests' cron files and apply a plan to them.
export {
  planSlots,
  fitAdvice,
  type Guest,
  type PlanOptions,
  type Plan,
  type Assignment,
  type SlotLoad,
} from './plan.js';
export { slotGeometry, slotAt, slotCron, formatClock, parseClock, type SlotGeometry } from './window.js';
export { expandHashed, seedKeyFor } from './hashed.js';
export { checkSchedule, NICKNAMES } from './cronsyntax.js';
export {
  validateCrontab,
  parseCrontabLine,
  splitLines,
  type CrontabEntry,
  type CrontabLine,
  type CrontabReport,
  type CrontabFormat,
} from './crontab.js';
export {
  applyManagedBlock,
  readManagedBlock,
  previousSlot,
  slotLines,
  slotStamp,
  type ManagedBlock,
  type SlotStamp,
  type BlockOptions,
} from './block.js';
export { replaceRunCrons, directCalls, type Period, type RunCronsOptions } from './runcrons.js';
export { expandStarts, expandEntries, nextDay, type StartEntry, type TimedEntry, type DayStarts, type PeakCause } from './starts.js';
export {
  simulateHost,
  DEFAULT_HOST_MODEL,
  type HostModel,
  type HostJob,
  type HostSimulation,
} from './hostmodel.js';
export {
  cronEntries,
  cronIgnores,
  describeProblem,
  isSystemFormat,
  parseDump,
  dumpScript,
  DUMP_SCRIPT,
  SYSTEM_CRONTAB,
  CRON_D,
  USER_SPOOLS,
  type CronDump,
  type CronFile,
  type CronProblem,
} from './cronfiles.js';
export {
  normalizeJob,
  planJob,
  planSpan,
  jobPath,
  dailyStart,
  type CronJob,
  type JobAction,
  type JobTiming,
  type JobPlan,
  type GuestSlot,
  type PreviousJob,
} from './job.js';
export { readPrevious, guestEdits, blockLines, checkEdits, type FileEdit, type GuestEdits } from './edits.js';
export { unifiedDiff } from './diff.js';
export { simulateDay, dayJobs, startCost, DEFAULT_LOAD_MODEL, type LoadModel, type DayLoad } from './dayload.js';
export { readCronFiles, readJobFiles, jobPaths, previousOf, fleetCron, withProblems, type GuestCron, type ReadOptions, type FleetCron } from './collect.js';
export {
  readAndPlan,
  predictApply,
  cronChange,
  describeSlot,
  previewJob,
  writeJob,
  writeGuests,
  type ReadPlan,
  type ReadPlanOptions,
  type CronChange,
  type WriteOptions,
} from './apply.js';
export { jobFromOptions, JOB_DEFAULTS, type JobOptions } from './job-options.js';
export { parseSlot } from './window.js';
