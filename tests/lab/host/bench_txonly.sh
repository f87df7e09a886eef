# bench_txonly.sh - host side of bench-txonly (bash): QEMU's own CPU time during each of the
# guest's runs. For every "TXONLY-BEGIN MODEL WHO G" and "TXONLY-END MODEL WHO G" the guest prints,
# it reads the host's clock and QEMU's CPU time (all its threads: utime + stime of
# /proc/PID/stat, clock ticks; its vCPU thread: run time and run-queue wait time of
# /proc/PID/task/TID/schedstat, ns), and prints one line per run:
# "TXCPU MODEL WHO G WALL_S QEMU_CPU_S VCPU_RUN_S VCPU_WAIT_S". Under TCG the guest's clock is the
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

txonly_host() {
	local hz line kind model who g key log tail_pid
	local -A b_wall=() b_proc=() b_vrun=() b_vwait=()
	hz=$(getconf CLK_TCK)
	QPID=$(txcpu_qemu_pid) || { echo "TXCPU-NONE no QEMU at pid ${LAB_QEMU_PID:-?}"; return 0; }
	VTID=""   # found at the first run
	echo "TXCPU-QEMU pid $QPID hz $hz"
	exec {log}< <(exec tail -n +1 -F "$LAB_LOG" 2>/dev/null)
	tail_pid=$!
	while IFS= read -r -u "$log" line; do
		line=${line%$'\r'}
		case "$line" in
		TXONLY-BEGIN\ *|TXONLY-END\ *)
			[ -n "$VTID" ] || { VTID=$(txcpu_vcpu_tid "$QPID"); echo "TXCPU-VCPU tid ${VTID:-none}"; }
			txcpu_sample || break
			read -r kind model who g <<<"$line"
			key="$model $who $g"
			if [ "$kind" = TXONLY-BEGIN ]; then
				b_wall[$key]=$S_WALL b_proc[$key]=$S_PROC b_vrun[$key]=$S_VRUN b_vwait[$key]=$S_VWAIT
			elif [ -n "${b_wall[$key]:-}" ]; then
				awk -v k="$key" -v w=$((S_WALL - b_wall[$key])) -v p=$((S_PROC - b_proc[$key])) -v hz="$hz" \
					-v r=$((S_VRUN - b_vrun[$key])) -v q=$((S_VWAIT - b_vwait[$key])) \
					'BEGIN {printf "TXCPU %s %.4f %.3f %.4f %.4f\n", k, w / 1e6, p / hz, r / 1e9, q / 1e9}'
				unset "b_wall[$key]"
			fi ;;
		UNIC-SCENARIO-EXIT*) break ;;
		esac
	done
	kill "$tail_pid" 2>/dev/null
	exec {log}<&-
	return 0
}
