// Public face of the scheduler core: slot plans, hashed cron fields, managed crontab blocks, load model.
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
  type ManagedBlock,
  type SlotStamp,
  type BlockOptions,
} from './block.js';
export { replaceRunCrons, directCalls, type Period, type RunCronsOptions } from './runcrons.js';
export { expandStarts, type StartEntry, type DayStarts, type PeakCause } from './starts.js';
export {
  simulateHost,
  DEFAULT_HOST_MODEL,
  type HostModel,
  type HostJob,
  type HostSimulation,
} from './hostmodel.js';
