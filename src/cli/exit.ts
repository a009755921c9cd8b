// The exit status a command decided on (commands return data and set this; only bin/fleet exits).
let status = 0;

export function setExitStatus(code: number): void {
  status = Math.max(status, code);
}
export function exitStatus(): number {
  return status;
}
export function resetExitStatus(): void {
  status = 0;
}
