#!/usr/bin/env bash
# Unpacks an OpenSSH that speaks mlkem768x25519-sha256 (9.9 or later) into .peers/openssh, for the
# key exchange interop tests, without installing it: the machine's own ssh and sshd stay as they are.
# On Debian 12 it is bookworm-backports' openssh, fetched with apt's own client from the mirror the
# machine already uses. Never fails: when no peer can be had, it says why and the tests report it.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=.peers/openssh
work=.peers/apt

speaks_mlkem() { [ -x "$1/usr/bin/ssh" ] && [ -x "$1/usr/sbin/sshd" ] && "$1/usr/bin/ssh" -Q kex 2>/dev/null | grep -qx mlkem768x25519-sha256; }

if speaks_mlkem "$dest"; then
  echo "fetch-openssh-peer: $("$dest/usr/bin/ssh" -V 2>&1) already in $dest"
  exit 0
fi
give_up() { echo "fetch-openssh-peer: no OpenSSH peer with mlkem768x25519-sha256: $*; the interop tests will say so" >&2; exit 0; }

# A machine whose own OpenSSH already has it (Debian 13 and later): its binaries are the peer.
if speaks_mlkem /; then
  mkdir -p "$dest/usr/bin" "$dest/usr/sbin" "$dest/usr/lib"
  ln -sfn /usr/bin/ssh "$dest/usr/bin/ssh"
  ln -sfn /usr/sbin/sshd "$dest/usr/sbin/sshd"
  ln -sfn /usr/lib/openssh "$dest/usr/lib/openssh"
  echo "fetch-openssh-peer: using the machine's own $(ssh -V 2>&1)"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || give_up "no apt-get here"
. /etc/os-release 2>/dev/null
suite="${VERSION_CODENAME:-}-backports"
[ "$suite" != "-backports" ] || give_up "unknown Debian release"
# The Debian mirror this machine is set up with (deb822 or one-line sources).
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk -v s="${VERSION_CODENAME}" '$1 == "deb" && $3 == s { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || give_up "no Debian mirror in the apt sources"

rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb $mirror $suite main" > "$work/sources.list"
apt=(-q -o "Dir::Etc::SourceList=$PWD/$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$PWD/$work/lists" -o "Dir::Cache=$PWD/$work/cache"
     -o APT::Sandbox::User=root -o Acquire::Retries=3)
apt-get "${apt[@]}" update >"$work/log" 2>&1 || give_up "apt-get update of $suite failed (see $work/log)"
(cd "$work/debs" && apt-get "${apt[@]}" download "openssh-client/$suite" "openssh-server/$suite" "openssh-sftp-server/$suite") \
  >>"$work/log" 2>&1 || give_up "apt-get download from $suite failed (see $work/log)"
rm -rf "$dest.new" && mkdir -p "$dest.new"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$dest.new" || give_up "dpkg-deb -x $deb failed"; done
speaks_mlkem "$dest.new" || give_up "the OpenSSH in $suite does not speak mlkem768x25519-sha256"
rm -rf "$dest" && mv "$dest.new" "$dest" && rm -rf "$work"
echo "fetch-openssh-peer: $("$dest/usr/bin/ssh" -V 2>&1) unpacked into $dest"
