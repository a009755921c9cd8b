// Public face of src/audit: what cloning left behind on a running fleet, found in one read-only pass
// (collectAudit) and judged by pure checks (analyzeAudit); auditFleet does both.
import type { GuestTarget, SessionOptions } from '../executor/index.js';
import { analyzeAudit } from './analyze.js';
import { collectAudit, type CollectOptions } from './collect.js';
import type { AuditOptions, AuditReport } from './model.js';

export { analyzeAudit } from './analyze.js';
export { collectAudit, ownPins, type CollectOptions } from './collect.js';
export { AUDIT_COMMAND, parseAuditOutput } from './guest-script.js';
export { parseKexInit, readKexOffer } from './kexinit.js';
export { adminAccounts, sudoersAdmins, usableHash } from './accounts.js';
export { weakChecking } from './ssh-client-config.js';
export { isPostQuantumKex } from './identity.js';
export {
  CHECK_IDS, SEVERITIES, sortFindings,
  type AuditOptions, type AuditReport, type AuditSummary, type CheckId, type Finding, type GuestAudit, type GuestFacts, type Severity,
} from './model.js';

/** Collects from every target and analyses: the report `fleet audit` prints. */
export async function auditFleet(targets: GuestTarget[], session: SessionOptions, o: AuditOptions & CollectOptions): Promise<AuditReport> {
  const t0 = Date.now();
  const guests = await collectAudit(targets, session, o);
  const report = analyzeAudit(guests, o);
  report.summary.durationMs = Date.now() - t0;
  return report;
}
