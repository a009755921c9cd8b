// Public face of playbooks: load and validate, check variables against the selected guests, run.
export { loadPlaybook, parsePlaybook, type LoadResult } from './load.js';
export { formatIssue, type Playbook, type PlaybookIssue, type Position, type Step } from './model.js';
export { render, references, RenderError, type Registered, type Scope } from './template.js';
export { BUILTIN_VARS, checkVariables, guestScope, type GuestVars } from './vars.js';
export { playOn, type PlayOptions } from './runner.js';
export { stepWords, type PlayResult, type StepResult, type StepStatus } from './result.js';
export { planCronSteps, plannedNames, type CronPlans } from './actions-cron.js';
export { playPhases, type PhaseOptions, type PlayFanOut } from './phases.js';
