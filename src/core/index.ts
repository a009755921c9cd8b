// Public face of the shared core: errors and exit codes.
export { EXIT, FleetError, InputError, UsageError } from './errors.js';
