// Public face of the emulator: start a fleet of cloned SSH guests, inspect it, inject faults.
export { Emulator, DEFAULT_PORT, DEFAULT_SUBNET, guestAddresses, type EmulatorOptions, type EmulatorStatus } from './fleet.js';
export { controlRequest, type ControlRequest } from './control.js';
export { FAULT_HELP, FAULT_KINDS, parseFault, type Fault, type FaultKind } from './faults.js';
export { ADMIN_USER, PLAIN_USER } from './golden.js';
export { importGolden, parseGoldenFrom, type GoldenSource } from './golden-import.js';
export type { GuestStatus } from './guest.js';
export type { HostModelStatus } from './host-model.js';
