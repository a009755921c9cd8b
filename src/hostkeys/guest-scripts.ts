// The shell run on a guest (as root, POSIX sh) for each step of a rotation. Everything lives in a
// staging directory under /etc/ssh (same filesystem, so every `mv` into place is atomic): new keys
// in new/, a manifest of what goes where, and old/ with a copy of every file the swap replaces.
// Scripts are idempotent, so a step cut short can be run again or undone.
import { shellQuote } from '../executor/index.js';
import type { ProbeType } from '../ssh/index.js';

export const STAGING_ROOT = '/etc/ssh/fleet-rotate';

export function stagingDir(runId: string, host: string, attempt: number): string {
  const safe = host.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${STAGING_ROOT}/${runId}-${safe}-${attempt}`;
}

/** Shared shell functions: the manifest's files, their backups, restoring them, restarting sshd. */
function prelude(dir: string, restartCommand: string | null): string {
  const restart = restartCommand
    ? `fleet_restart() { /bin/sh -c ${shellQuote(restartCommand)}; }`
    : `fleet_restart() {
  if command -v systemctl >/dev/null 2>&1 && systemctl restart ssh; then return 0; fi
  if command -v systemctl >/dev/null 2>&1 && systemctl restart sshd; then return 0; fi
  if command -v service >/dev/null 2>&1 && service ssh restart; then return 0; fi
  if [ -x /etc/init.d/ssh ] && /etc/init.d/ssh restart; then return 0; fi
  if [ -x /etc/init.d/sshd ] && /etc/init.d/sshd restart; then return 0; fi
  return 1
}`;
  return `set -u
trap '' HUP PIPE
umask 077
d=${shellQuote(dir)}
m="$d/manifest"
files() { while read kind t src dst; do echo "$dst"; [ "$kind" = config ] || echo "$dst.pub"; done < "$m"; }
saved() { echo "$d/old/$(echo "$1" | tr / %)"; }
restore() {
  [ -e "$d/old/.complete" ] || return 0
  for f in $(files); do
    b=$(saved "$f")
    if [ -e "$b" ]; then cp -p "$b" "$f.fleet-tmp" && mv -f "$f.fleet-tmp" "$f" || return 1
    else rm -f "$f" || return 1; fi
  done
  sync
}
${restart}
`;
}

/** Step 2: fresh keys of `keep` types in new/, a manifest, and an edited sshd_config when types change. */
export function generateScript(dir: string, keep: ProbeType[], drop: ProbeType[]): string {
  return `set -eu
umask 077
d=${shellQuote(dir)}
cfg=/etc/ssh/sshd_config
rm -rf "$d"
mkdir -p "$d/new"
host=$(uname -n)
explicit=no
if [ -f "$cfg" ] && grep -Eiq '^[[:space:]]*HostKey[[:space:]]' "$cfg"; then explicit=yes; fi
path_of() {
  p=""
  if [ -f "$cfg" ]; then p=$(awk -v b="ssh_host_$1_key" 'tolower($1) == "hostkey" { n = split($2, a, "/"); if (a[n] == b) { print $2; exit } }' "$cfg"); fi
  if [ -n "$p" ]; then echo "$p"; else echo "/etc/ssh/ssh_host_$1_key"; fi
}
listed() { awk -v p="$1" 'tolower($1) == "hostkey" && $2 == p { f = 1 } END { exit !f }' "$2"; }
changed=no
if [ -f "$cfg" ]; then cp -p "$cfg" "$d/new/sshd_config"; fi
: > "$d/manifest.tmp"
for t in ${keep.join(' ')}; do
  p=$(path_of "$t")
  bits=""
  [ "$t" = rsa ] && bits="-b 3072"
  ssh-keygen -q -t "$t" $bits -N '' -C "root@$host" -f "$d/new/ssh_host_\${t}_key" </dev/null >/dev/null
  chmod 600 "$d/new/ssh_host_\${t}_key"
  chmod 644 "$d/new/ssh_host_\${t}_key.pub"
  echo "key $t $d/new/ssh_host_\${t}_key $p" >> "$d/manifest.tmp"
  if [ "$explicit" = yes ] && ! listed "$p" "$cfg"; then echo "HostKey $p" >> "$d/new/sshd_config"; changed=yes; fi
done
for t in ${drop.join(' ')}; do
  p=$(path_of "$t")
  echo "drop $t - $p" >> "$d/manifest.tmp"
  if [ -f "$d/new/sshd_config" ] && listed "$p" "$d/new/sshd_config"; then
    awk -v p="$p" 'tolower($1) == "hostkey" && $2 == p { print "# " $0 "  # removed by fleet keys rotate"; next } { print }' "$d/new/sshd_config" > "$d/new/sshd_config.tmp"
    mv -f "$d/new/sshd_config.tmp" "$d/new/sshd_config"
    changed=yes
  fi
done
if [ "$changed" = yes ]; then chmod 644 "$d/new/sshd_config"; echo "config - $d/new/sshd_config $cfg" >> "$d/manifest.tmp"
else rm -f "$d/new/sshd_config"; fi
sync
mv -f "$d/manifest.tmp" "$d/manifest"
sync
`;
}

/** Step 3: the public half of each staged key, derived from the private key sshd will load. */
export function readScript(dir: string): string {
  return `set -eu
d=${shellQuote(dir)}
while read kind t src dst; do
  [ "$kind" = key ] || continue
  printf '%s ' "$t"
  ssh-keygen -y -f "$src"
done < "$d/manifest"
`;
}

/** Exit codes of the swap script. */
export const SWAP_EXIT = { ok: 0, backupFailed: 2, nothingStaged: 3, restored: 4, sshdDown: 5 } as const;

/** Step 5: back up (once), put every staged file in place, restart sshd; on failure put the old ones back. */
export function swapScript(dir: string, restartCommand: string | null): string {
  return `${prelude(dir, restartCommand)}
[ -f "$m" ] || { echo "fleet: nothing staged in $d" >&2; exit 3; }
if [ ! -e "$d/old/.complete" ]; then
  rm -rf "$d/old"
  mkdir -p "$d/old" || exit 2
  for f in $(files); do
    if [ -e "$f" ]; then cp -p "$f" "$(saved "$f")" || exit 2; fi
  done
  sync
  touch "$d/old/.complete" || exit 2
  sync
fi
install_all() {
  while read kind t src dst; do
    case "$kind" in
      key) cp -p "$src" "$dst.fleet-tmp" && mv -f "$dst.fleet-tmp" "$dst" &&
           cp -p "$src.pub" "$dst.pub.fleet-tmp" && mv -f "$dst.pub.fleet-tmp" "$dst.pub" || return 1 ;;
      drop) rm -f "$dst" "$dst.pub" || return 1 ;;
      config) cp -p "$src" "$dst.fleet-tmp" && mv -f "$dst.fleet-tmp" "$dst" || return 1 ;;
    esac
  done < "$m"
  sync
}
if ! install_all; then
  restore
  echo "fleet: could not put the new keys in place; the old ones are back" >&2
  exit 4
fi
out=""
if out=$(fleet_restart 2>&1); then exit 0; fi
echo "fleet: sshd restart failed: $out" >&2
out2=""
if restore && out2=$(fleet_restart 2>&1); then
  echo "fleet: old keys restored and sshd restarted with them" >&2
  exit 4
fi
echo "fleet: restarting sshd with the old keys failed too: $out2" >&2
exit 5
`;
}

/** Rollback on the guest: put the backed-up files back, restarting sshd when it may serve the new keys. */
export function restoreScript(dir: string, restart: boolean, restartCommand: string | null): string {
  return `${prelude(dir, restartCommand)}
if [ -f "$m" ]; then restore || { echo "fleet: could not restore the old keys from $d/old" >&2; exit 4; }; fi
${restart ? 'out=""\nout=$(fleet_restart 2>&1) || { echo "fleet: sshd restart failed: $out" >&2; exit 5; }' : ''}
exit 0
`;
}

/** Step 7 (and the end of a rollback): the staging directory and its backup go. */
export function cleanupScript(dir: string): string {
  return `rm -rf ${shellQuote(dir)} && { rmdir ${STAGING_ROOT} 2>/dev/null; exit 0; }`;
}
