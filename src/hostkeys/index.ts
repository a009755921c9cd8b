// Public face of src/hostkeys: scan guests' host keys and find clone groups, enrol pins, rotate keys
// with a journal that survives a crash, and report where a rotation stands.
export { cloneGroups, pinStatus, probeVia, scanFleet, type CloneGroup, type GuestScan, type PinStatus, type ScanOptions, type ScanTarget } from './scan.js';
export { foldScans, type ScanBlock } from './scan-fold.js';
export { applyTrust, confirmScans, pinnedFingerprints, planTrust, type TrustPlan, type TrustResult } from './trust.js';
export { pinLines, pinsAreHashed, pinsOnly, unpinKeys, type KeyRef } from './pins.js';
export { KnownHostsWriter } from './kh-writer.js';
export { Journal, parseJournal, readJournal, replay, routeChanges, targetRecord, unsettled, STEPS, type HostJournal, type JournalRecord, type RunJournal, type StepName } from './journal.js';
export { classify, type GuestRotation, type Presentation, type RotateTarget, type RotationOutcome } from './guest-ops.js';
export { countOutcomes, newRunId, rotateFleet, type RotateFleetOptions, type RotatePlan, type RotateReport } from './rotate-fleet.js';
export { hopPins, hopWaves } from './hop-order.js';
export { rotationStatus, type GuestRotationState, type GuestStatusRow, type RotationStatus } from './status.js';
export { STAGING_ROOT } from './guest-scripts.js';
export { confirmKeys, confirmEnv, ConfirmationError, parsePublicKeys, precheckConfirm, type Confirmation } from './confirm.js';
export { isRevoked, pinsOfKey, retireSharedKeys, type RetireResult } from './revoke.js';
