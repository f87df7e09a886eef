# nic-proofs.sh - host side of the per-NIC tap proofs (see scenarios/nic-proofs.guest).
# In a scenario's host_side():
#   source "$LAB_ROOT/tests/lab/host/nic-proofs.sh"
#   nic_tap_host GUEST_MAC TAPCOUNT
# Captures the tap for the whole run, sends scapy frames when the guest is ready to
# receive them, compares what the guest printed and what it sent, byte for byte.
NIC_PY=/usr/bin/python3 # the system python has scapy (python3-scapy, tests/lab/setup.sh)
[ -x "$NIC_PY" ] || NIC_PY=python3
NIC_TAPFRAMES="$LAB_ROOT/tests/lab/host/tapframes.py"

nic_tap_host() {
	local mac=$1 count=$2 rc=0 mode pcap cap_pid
	pcap=$(mktemp /tmp/unic-lab-tap.XXXXXX.pcap)
	dumpcap -q -i "$LAB_TAP" -w "$pcap" 2>/dev/null &
	cap_pid=$!
	for mode in vfio sysfs; do
		lab_wait_guest "TAPRX-GO $mode" 120 || { rc=1; break; }
		"$NIC_PY" "$NIC_TAPFRAMES" send "$LAB_TAP" "$mac" "$count" || rc=1
		lab_wait_guest "TAPRX-END $mode" 60 || { rc=1; break; }
		"$NIC_PY" "$NIC_TAPFRAMES" check-rx "$LAB_LOG" "$mode" "$mac" "$count" || rc=1
	done
	if lab_wait_guest "TAPTX-DONE" 120; then
		sleep 1
		kill "$cap_pid"
		wait "$cap_pid" 2>/dev/null
		"$NIC_PY" "$NIC_TAPFRAMES" check-tx "$pcap" "$mac" "$count" 60 vfio || rc=1
		"$NIC_PY" "$NIC_TAPFRAMES" check-tx "$pcap" "$mac" "$count" 1514 sysfs || rc=1
	else
		kill "$cap_pid"
		rc=1
	fi
	rm -f "$pcap"
	return $rc
}

# nic_tap_host_jumbo GUEST_MAC COUNT MTU: the jumbo tap proof (scenarios/intel-jumbo.guest).
# The host's tap takes MTU; one round through vfio: scapy sends COUNT frames, the first of
# MTU + 14 bytes, and compares what the guest printed; the guest sends COUNT frames of MTU + 14
# bytes and the capture must hold exactly them, byte for byte.
nic_tap_host_jumbo() {
	local mac=$1 count=$2 max=$(($3 + 14)) rc=0 pcap cap_pid
	ip link set "$LAB_TAP" mtu "$3" || return 1
	echo "tap $LAB_TAP mtu $(cat "/sys/class/net/$LAB_TAP/mtu")"
	pcap=$(mktemp /tmp/unic-lab-tap.XXXXXX.pcap)
	dumpcap -q -i "$LAB_TAP" -w "$pcap" 2>/dev/null &
	cap_pid=$!
	if lab_wait_guest "TAPRX-GO vfio" 120; then
		"$NIC_PY" "$NIC_TAPFRAMES" send "$LAB_TAP" "$mac" "$count" "$max" || rc=1
		lab_wait_guest "TAPRX-END vfio" 60 || rc=1
		"$NIC_PY" "$NIC_TAPFRAMES" check-rx "$LAB_LOG" vfio "$mac" "$count" "$max" || rc=1
	else
		rc=1
	fi
	if lab_wait_guest "TAPTX-DONE" 120; then
		sleep 1
		kill "$cap_pid"
		wait "$cap_pid" 2>/dev/null
		"$NIC_PY" "$NIC_TAPFRAMES" check-tx "$pcap" "$mac" "$count" "$max" vfio || rc=1
	else
		kill "$cap_pid"
		rc=1
	fi
	rm -f "$pcap"
	return $rc
}
