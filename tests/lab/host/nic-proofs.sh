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
