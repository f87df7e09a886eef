# bench_idle.sh - host side of bench-idle (bash, inside the lab namespace): for each step the
# guest announces ("IDLE-READY STEP MODEL MODE INTERVAL COUNT"), ping unic-echo COUNT times every
# INTERVAL seconds and print "IDLE-RTT STEP MODEL MODE INTERVAL p50 p99 REPLIES COUNT" (ms, from
# ping's time= of each reply; p99: the reply at rank ceil(0.99 n)). Ends at "IDLE-DONE".
IDLE_HOST_IP=10.0.0.1
IDLE_ECHO_IP=10.0.0.2

# rtt_percentiles FILE: "p50 p99 n" of the time= values in ping's output FILE ("- - 0" if none)
rtt_percentiles() {
	sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -g | awk '{v[NR] = $1}
		END {
			if (NR == 0) { print "- - 0"; exit }
			i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++
			i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++
			printf "%.3f %.3f %d\n", v[i50], v[i99], NR
		}'
}

idle_host() {
	local step=1 line model mode interval count out
	sysctl -qw net.ipv6.conf.br0.disable_ipv6=1 2>/dev/null
	ip addr add "$IDLE_HOST_IP/24" dev br0 || return 1
	out=$(mktemp /tmp/unic-idle-ping.XXXXXX)
	while :; do
		lab_wait_guest "IDLE-READY $step " 240 || { rm -f "$out"; return 1; }
		line=$(tr -d '\r' <"$LAB_LOG" | grep -m1 "^IDLE-READY $step ")
		read -r _ _ model mode interval count <<<"$line"
		ip neigh flush dev br0 # each NIC has its own MAC: no stale entry from the last one
		ping -c 1 -W 1 "$IDLE_ECHO_IP" >/dev/null 2>&1 # ARP first: not in the figures
		ping -c "$count" -i "$interval" -W 2 "$IDLE_ECHO_IP" >"$out" 2>&1
		echo "IDLE-RTT $step $model $mode $interval $(rtt_percentiles "$out") $count"
		tr -d '\r' <"$LAB_LOG" | grep -q "^IDLE-DONE" && break
		step=$((step + 1))
		# the guest announces the next step, or that it is done
		for _ in $(seq 1 600); do
			tr -d '\r' <"$LAB_LOG" | grep -q "^IDLE-READY $step \|^IDLE-DONE" && break
			sleep 0.1
		done
		tr -d '\r' <"$LAB_LOG" | grep -q "^IDLE-READY $step " || break
	done
	rm -f "$out"
	return 0
}
