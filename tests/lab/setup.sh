#!/usr/bin/env bash
# Idempotent setup for building and testing unic on Debian 12 (root):
# apt packages (QEMU 10 from bookworm-backports), the guest kernel (downloaded
# and unpacked, never installed), and 2 MiB hugepages on the host.
set -euo pipefail

CACHE=${UNIC_LAB_CACHE:-/var/cache/unic-lab}
HOST_HUGEPAGES=${UNIC_HOST_HUGEPAGES:-256}
export DEBIAN_FRONTEND=noninteractive

say() { echo "setup: $*"; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (apt, hugepages)" >&2; exit 1; }

ensure_backports() {
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding bookworm-backports to apt sources"
		cat > /etc/apt/sources.list.d/unic-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		APT_UPDATED=0
	fi
}

PKGS=(build-essential pkg-config clang libclang-rt-14-dev busybox-static kmod cpio iproute2
      iputils-ping arping tshark python3-scapy libpcap-dev valgrind dpdk dpdk-dev libdpdk-dev
      python3-matplotlib)
APT_UPDATED=0
apt_update_once() { [ "$APT_UPDATED" = 1 ] || { apt-get update -q >/dev/null; APT_UPDATED=1; }; }

ensure_packages() {
	local missing=() p
	for p in "${PKGS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		apt_update_once
		apt-get install -y -q "${missing[@]}" >/dev/null
	fi
	# QEMU 10 (igb needs it): bookworm's own 7.2 is too old.
	local major
	major=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/.*version \([0-9]*\)\..*/\1/p' || true)
	if [ -z "$major" ] || [ "$major" -lt 10 ]; then
		say "installing qemu-system-x86 from bookworm-backports"
		apt_update_once
		apt-get install -y -q -t bookworm-backports qemu-system-x86 >/dev/null
	fi
}

# The guest kernel: the package linux-image-amd64 points at, unpacked into $CACHE.
ensure_kernel() {
	local pkg kver dir
	if [ -f "$CACHE/current" ] && [ -f "$(cat "$CACHE/current")/vmlinuz" ]; then
		return
	fi
	apt_update_once
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	[ -n "$pkg" ] || { echo "setup: cannot resolve the guest kernel package" >&2; exit 1; }
	kver=${pkg#linux-image-}
	dir="$CACHE/$kver"
	say "downloading guest kernel $pkg"
	mkdir -p "$dir"
	(cd "$CACHE" && rm -f "$pkg"_*.deb && apt-get download -q "$pkg" 2>/dev/null >/dev/null)
	rm -rf "$dir/root"
	dpkg -x "$CACHE/$pkg"_*.deb "$dir/root"
	depmod -b "$dir/root" "$kver"
	cp "$dir/root/boot/vmlinuz-$kver" "$dir/vmlinuz"
	echo "$kver" > "$dir/version"
	echo "$dir" > "$CACHE/current"
	rm -f "$CACHE/$pkg"_*.deb
}

ensure_hugepages() {
	local cur
	cur=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$cur" -lt "$HOST_HUGEPAGES" ]; then
		echo "$HOST_HUGEPAGES" > /proc/sys/vm/nr_hugepages
		say "host hugepages: $(cat /proc/sys/vm/nr_hugepages) x 2 MiB"
	fi
}

ensure_backports
ensure_packages
ensure_kernel
ensure_hugepages
say "ready (guest kernel $(cat "$(cat "$CACHE/current")/version"), $(qemu-system-x86_64 --version | head -1))"
