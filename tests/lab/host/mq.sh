# mq.sh - host side of the multi-queue tap proofs (see scenarios/virtio-mq.guest).
# In a scenario's host_side():
#   source "$LAB_ROOT/tests/lab/host/mq.sh"
#   mq_host GUEST_MAC
# The tap (2 queues) takes mtu 9000. For each round (mq: mtu 1500, jumbo: mtu 9000) scapy sends
# frames of 64 flows once the guest is ready, and what the guest printed is compared with them
# (the mq round also sends 8 frames of 9014 bytes, which the guest must drop and count);
# the capture of the whole run must hold every frame the guest sent on each queue, byte for byte.
MQ_PY=/usr/bin/python3 # the system python has scapy (python3-scapy, tests/lab/setup.sh)
[ -x "$MQ_PY" ] || MQ_PY=python3
MQ_SCRIPT="$LAB_ROOT/tests/lab/host/mq.py"

# mq_round TAG MAC COUNT MAX [LONG]: send when the guest says so, then check what it received.
mq_round() {
	lab_wait_guest "MQ-GO $1" 120 || return 1
	echo "tap $LAB_TAP: mtu $(cat "/sys/class/net/$LAB_TAP/mtu"), $(ls "/sys/class/net/$LAB_TAP/queues" | grep -c tx-) queues attached"
	"$MQ_PY" "$MQ_SCRIPT" send "$LAB_TAP" "$2" "$3" "$4" ${5:-} || return 1
	lab_wait_guest "MQ-END $1" 60 || return 1
	"$MQ_PY" "$MQ_SCRIPT" check-rx "$LAB_LOG" "$1" "$2" "$3" "$4" 2
}

mq_host() {
	local mac=$1 rc=0 pcap cap_pid
	ip link set "$LAB_TAP" mtu 9000 || return 1
	pcap=$(mktemp /tmp/unic-lab-mq.XXXXXX.pcap)
	dumpcap -q -i "$LAB_TAP" -w "$pcap" 2>/dev/null &
	cap_pid=$!
	mq_round mq "$mac" 128 1514 8 || rc=1
	mq_round jumbo "$mac" 64 9014 || rc=1
	if lab_wait_guest "MQ-TX-DONE" 120; then
		sleep 1
		kill "$cap_pid"
		wait "$cap_pid" 2>/dev/null
		"$MQ_PY" "$MQ_SCRIPT" check-tx "$pcap" "$mac" 2 64 60 mq || rc=1
		"$MQ_PY" "$MQ_SCRIPT" check-tx "$pcap" "$mac" 2 16 9014 jumbo || rc=1
	else
		kill "$cap_pid"
		rc=1
	fi
	rm -f "$pcap"
	return $rc
}
