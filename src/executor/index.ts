// Public face of the executor: fan-out, per-guest run and push, guest files, gathered output, results.
export { fanout, parseAmount, type FanoutOptions, type FleetEvent, type Target } from './fanout.js';
export { gather, type OutputGroup } from './gather.js';
export { runCommandOn, shellQuote, withConnection, wrapSudo, type GuestTarget, type OutputSink, type RunOptions, type SessionOptions } from './command.js';
export { encodeOutput, omissionMarker, OUTPUT_KEEP, OutputCapture, receivedBytes, type CapturedOutput } from './output-capture.js';
export { exitCodeOf, STATUSES, summarize, type FleetSummary, type HostResult, type HostStatus } from './result.js';
export { StepError, type StepFailure } from './errors.js';
export { backupSuffix, readRemoteFile, STREAM_MAX, writeRemoteFile, type ReadRemoteOptions, type WriteRemoteOptions, type WriteRemoteOutcome } from './remote-file.js';
export { pushFileOn, type PushOptions } from './push.js';
export { metadataToFix, parseProbe, probeScript, sha256, type Existing } from './remote-steps.js';
