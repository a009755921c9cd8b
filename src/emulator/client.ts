// Public face for clients of a running emulator: its control socket, nothing else. What runs once per
// guest (`fleet emulator console` as a confirmation channel) loads this instead of ./index.ts, which
// brings the whole emulator (ssh2 servers, the sandbox spawner, execa).
export { controlRequest, type ControlRequest } from './control.js';
