// The exec contract against a real OpenSSH sshd: the reference the emulator's guests are held to
// (the same suite runs against the emulator in guest-exec.test.ts).
import { afterAll, beforeAll } from 'vitest';
import { describeExecContract } from '../helpers/exec-contract.js';
import { startRealSshd, type RealSshd } from '../helpers/real-sshd.js';

let sshd: RealSshd | undefined;

beforeAll(async () => {
  sshd = await startRealSshd('127.94.0.1');
});
afterAll(async () => {
  await sshd?.stop();
});

// It logs in as root (no other login user can be assumed on the host), for which OpenSSH ignores
// signal requests; the emulator's guests are held to the signal part as fleetadm.
describeExecContract('real OpenSSH sshd', () => sshd!, { signalRequests: false });
