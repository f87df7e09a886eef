# tools_echo.sh - host side of the tools-echo-* scenarios (bash, inside the lab namespace).
# echo_host MAC FLOOD_FRAMES [FLOOD_RATE]: ping, arping, UDP echo; then (FLOOD_FRAMES > 0) the
# malformed-frame flood and ping again; last, unic-echo's received count must equal what the
# tap handed to the guest (the tap's tx_packets minus tx_dropped over the run).
HOST_IP=10.0.0.1
ECHO_IP=10.0.0.2
TOOLS_FLOOD=$LAB_ROOT/tests/lab/host/tools_flood.py

host_check() { # NAME CMD...
	local name=$1
	shift
	if "$@"; then echo "PASS $name"; else echo "FAIL $name"; HOST_FAILS=$((HOST_FAILS + 1)); fi
}

ping_all() { # COUNT: every one answered
	local out
	out=$(ping -c "$1" -i 0.05 -W 2 "$ECHO_IP" 2>&1 | tail -2)
	echo "$out"
	echo "$out" | grep -q " $1 received, 0% packet loss"
}

tap_stat() { cat "/sys/class/net/$LAB_TAP/statistics/$1"; }

echo_host() {
	local mac=$1 flood=${2:-0} rate=${3:-9000} tx0 drop0 sent received
	HOST_FAILS=0
	sysctl -qw "net.ipv6.conf.$LAB_TAP.disable_ipv6=1" # no IPv6 chatter: count only our frames
	ip addr add "$HOST_IP/24" dev "$LAB_TAP"
	lab_wait_guest ECHO-READY 90 || return 1
	tx0=$(tap_stat tx_packets)
	drop0=$(tap_stat tx_dropped)
	host_check "ping-100-of-100" ping_all 100
	host_check "arping" arping -c 3 -w 5 -i "$LAB_TAP" "$ECHO_IP"
	# unic-echo ends after --stop-idle quiet seconds: a slow host can take that long to start Python and
	# scapy, so a ping a second keeps the guest listening until the last check has begun.
	ping -q -i 1 -w 300 "$ECHO_IP" >/dev/null 2>&1 &
	keepalive=$!
	trap 'kill "$keepalive" 2>/dev/null' EXIT
	host_check "udp-echo" /usr/bin/python3 "$TOOLS_FLOOD" udp-echo "$ECHO_IP"
	if [ "$flood" -gt 0 ]; then
		host_check "flood-$flood-frames" /usr/bin/python3 "$TOOLS_FLOOD" flood "$LAB_TAP" "$mac" "$HOST_IP" "$ECHO_IP" \
			"$flood" "$rate"
		kill "$keepalive"; wait "$keepalive" 2>/dev/null
		host_check "ping-after-flood" ping_all 20
	else
		kill "$keepalive"; wait "$keepalive" 2>/dev/null
	fi
	# From here on the host sends nothing; unic-echo stops after its idle time and reports.
	lab_wait_guest ECHO-JSON 120 || return 1
	# A tap counts tx_packets when QEMU reads a frame (tun_put_user) and tx_dropped, apart,
	# when its queue to QEMU was full (tun_net_xmit): the frames QEMU got are tx_packets alone.
	sent=$(( $(tap_stat tx_packets) - tx0 ))
	received=$(tr -d '\r' <"$LAB_LOG" | sed -n 's/^ECHO-JSON .*"received":\([0-9]*\).*/\1/p')
	echo "tap handed $sent frames to the guest ($(( $(tap_stat tx_dropped) - drop0 )) dropped at the tap);" \
		"unic-echo received $received"
	host_check "echo-received-all-host-sent" [ "$sent" = "$received" ]
	return "$HOST_FAILS"
}
