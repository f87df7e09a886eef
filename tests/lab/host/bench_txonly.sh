# bench_txonly.sh - host side of bench-txonly (bash): QEMU's own CPU time during each of the
# guest's runs. For every "TXONLY-BEGIN MODEL WHO G UPTIME" and "TXONLY-END MODEL WHO G UPTIME" the
# guest prints, it reads the host's clock and QEMU's CPU time (all its threads: utime + stime of
# /proc/PID/stat, clock ticks; its vCPU thread: run time and run-queue wait time of
# /proc/PID/task/TID/schedstat, ns), and prints one line per run:
# "TXCPU MODEL WHO G WALL_S QEMU_CPU_S VCPU_RUN_S VCPU_WAIT_S GUEST_S BUSY_WALL_S BUSY_RUN_S
# BUSY_WAIT_S" (GUEST_S: the same window on the guest's clock, from the uptime its lines carry,
# 10 ms, "-" without; BUSY_*: the same sums over the window's 0.1 s intervals in which the vCPU
# wanted a CPU all along, see txcpu_tick). Under TCG the guest's clock is the
# host's (no -icount): when the host leaves QEMU's vCPU waiting for a CPU, the guest's seconds
# still pass and it sends fewer frames in them. VCPU_RUN_S / (VCPU_RUN_S + VCPU_WAIT_S) is the
# share of the time the vCPU wanted a CPU that it had one; the time it slept (the guest idle, e.g.
# in unic-pktgen's device reset or the shell's sleeps) is in neither. Ends at the guest's exit.
# Reads only builtins between the marker and /proc (no fork: the reading is as close to the
# marker as this host lets it be).

# txcpu_qemu_pid: QEMU's PID: the process tests/lab/run started (ip netns exec execs QEMU in
# place), or else a child of it
txcpu_qemu_pid() {
	local p comm
	for p in "${LAB_QEMU_PID:-}" $(cat /proc/"${LAB_QEMU_PID:-none}"/task/*/children 2>/dev/null); do
		read -r comm <"/proc/$p/comm" 2>/dev/null || continue
		[[ $comm == qemu-system* ]] && { echo "$p"; return 0; }
	done
	return 1
}

# txcpu_vcpu_tid PID: the TID of QEMU's TCG vCPU thread: the one named "CPU 0/TCG" (QEMU names
# its threads only with -name debug-threads=on), else the one that has run longest (the guest has
# one vCPU, and by the first run it has booted the kernel and started testpmd on it)
txcpu_vcpu_tid() {
	local t comm run best="" most=-1
	for t in /proc/"$1"/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		[[ $comm == "CPU "*"/TCG" ]] && { echo "${t##*/}"; return 0; }
		read -r run _ <"$t/schedstat" 2>/dev/null || continue
		[ "$run" -gt "$most" ] && { most=$run; best=${t##*/}; }
	done
	[ -n "$best" ] && echo "$best"
}

# txcpu_sample: sets S_WALL (us), S_PROC (ticks), S_VRUN and S_VWAIT (ns)
txcpu_sample() {
	local stat rest f
	S_WALL=${EPOCHREALTIME/./}
	read -r stat <"/proc/$QPID/stat" || return 1
	rest=${stat##*) }   # after the comm field, which may hold spaces
	read -ra f <<<"$rest"
	S_PROC=$((f[11] + f[12]))   # fields 14 and 15: utime, stime (fields from 3 on: index = field - 3)
	S_VRUN=0 S_VWAIT=0
	[ -n "$VTID" ] && read -r S_VRUN S_VWAIT _ <"/proc/$QPID/task/$VTID/schedstat"
	return 0
}

# txcpu_tick: adds the interval since the last sample to the open run's busy sums when the vCPU
# wanted a CPU all through it (run + wait at least TXCPU_BUSY of the wall time): the tools' tx
# loops busy-poll, while unic-pktgen's device reset and the shell between runs sleep, and each
# wake-up from a sleep waits for a CPU too, a wait that the tx loop does not see
TXCPU_BUSY=90   # percent
txcpu_tick() {
	local dw=$((S_WALL - L_WALL)) dr=$((S_VRUN - L_VRUN)) dq=$((S_VWAIT - L_VWAIT))
	if [ "$dw" -gt 0 ] && [ $(((dr + dq) / 10)) -ge $((dw * TXCPU_BUSY)) ]; then   # ns / 10 against us * percent
		B_WALL=$((B_WALL + dw)) B_VRUN=$((B_VRUN + dr)) B_VWAIT=$((B_VWAIT + dq))
	fi
	L_WALL=$S_WALL L_VRUN=$S_VRUN L_VWAIT=$S_VWAIT
}

# txcpu_pin PID TID: the vCPU thread alone on the host's last CPU, QEMU's other threads (its main
# loop, which runs virtio-net's transmit and the hubs, and its RCU and I/O threads) and this
# script on the others. Unpinned, the host's scheduler may put the vCPU and the main loop on one
# CPU for a while or move them between CPUs: both rates move with it, from run to run.
txcpu_pin() {
	local last=$(($(nproc) - 1)) t
	[ "$last" -ge 1 ] || { echo "TXCPU-PIN none: one host CPU"; return 0; }
	for t in /proc/"$1"/task/*; do
		t=${t##*/}
		if [ "$t" = "$2" ]; then taskset -pc "$last" "$t" >/dev/null; else taskset -pc "0-$((last - 1))" "$t" >/dev/null; fi
	done
	taskset -pc "0-$((last - 1))" $$ >/dev/null
	echo "TXCPU-PIN vcpu $2 on cpu $last, QEMU's other threads and the host side on cpus 0-$((last - 1))"
}

txonly_host() {
	local hz line buf="" kind model who g gt key="" log tail_pid rc
	local b_wall b_proc b_vrun b_vwait b_gt
	hz=$(getconf CLK_TCK)
	QPID=$(txcpu_qemu_pid) || { echo "TXCPU-NONE no QEMU at pid ${LAB_QEMU_PID:-?}"; return 0; }
	VTID=""   # found at the first run
	echo "TXCPU-QEMU pid $QPID hz $hz"
	exec {log}< <(exec tail -n +1 -F "$LAB_LOG" 2>/dev/null)
	tail_pid=$!
	while :; do
		# a line, or every 0.1 s without one a sample of the open run (a timeout keeps a partial line)
		IFS= read -r -t 0.1 -u "$log" line
		rc=$?
		if [ $rc -gt 128 ]; then
			buf+=$line
			[ -n "$key" ] && txcpu_sample && txcpu_tick
			continue
		fi
		[ $rc = 0 ] || break
		line=$buf$line buf=""
		line=${line%$'\r'}
		case "$line" in
		TXONLY-BEGIN\ *|TXONLY-END\ *)
			[ -n "$VTID" ] || { VTID=$(txcpu_vcpu_tid "$QPID"); echo "TXCPU-VCPU tid ${VTID:-none}"; [ -z "$VTID" ] || txcpu_pin "$QPID" "$VTID"; }
			txcpu_sample || break
			read -r kind model who g gt <<<"$line"
			if [ "$kind" = TXONLY-BEGIN ]; then
				key="$model $who $g"
				b_wall=$S_WALL b_proc=$S_PROC b_vrun=$S_VRUN b_vwait=$S_VWAIT b_gt=${gt:--}
				L_WALL=$S_WALL L_VRUN=$S_VRUN L_VWAIT=$S_VWAIT B_WALL=0 B_VRUN=0 B_VWAIT=0
			elif [ "$key" = "$model $who $g" ]; then
				txcpu_tick
				awk -v k="$key" -v w=$((S_WALL - b_wall)) -v p=$((S_PROC - b_proc)) -v hz="$hz" \
					-v r=$((S_VRUN - b_vrun)) -v q=$((S_VWAIT - b_vwait)) -v g0="$b_gt" -v g1="${gt:--}" \
					-v bw="$B_WALL" -v br="$B_VRUN" -v bq="$B_VWAIT" \
					'BEGIN {printf "TXCPU %s %.4f %.3f %.4f %.4f %s %.4f %.4f %.4f\n", k, w / 1e6, p / hz, r / 1e9, q / 1e9,
						(g0 != "-" && g1 != "-" ? sprintf("%.2f", g1 - g0) : "-"), bw / 1e6, br / 1e9, bq / 1e9}'
				key=""
			fi ;;
		UNIC-SCENARIO-EXIT*) break ;;
		*) [ -n "$key" ] && txcpu_sample && txcpu_tick ;;
		esac
	done
	kill "$tail_pid" 2>/dev/null
	exec {log}<&-
	return 0
}
