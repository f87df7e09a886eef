# lab.sh - helpers for scenario scripts inside the lab guest (busybox sh).
LAB_FAILS=0
LAB_PASSES=0

lab_modprobe() {
	for m in "$@"; do modprobe "$m" || echo "lab: modprobe $m failed"; done
}

# lab_bind BDF DRIVER: hand a device to DRIVER (loaded first) through driver_override.
lab_bind() {
	lab_unbind "$1"
	echo "$2" > "/sys/bus/pci/devices/$1/driver_override"
	echo "$1" > /sys/bus/pci/drivers_probe
	echo > "/sys/bus/pci/devices/$1/driver_override"
}

lab_unbind() {
	[ -e "/sys/bus/pci/devices/$1/driver" ] && echo "$1" > "/sys/bus/pci/devices/$1/driver/unbind"
	return 0
}

lab_driver() {
	d=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && basename "$d" || echo none
}

lab_hugepages() {
	echo "$1" > /proc/sys/vm/nr_hugepages
}

lab_hugepages_free() {
	sed -n 's/^HugePages_Free: *//p' /proc/meminfo
}

# The NICs of this boot, one "MODEL BDF MAC" line each (from the kernel command line).
lab_nics() {
	tr ' ' '\n' < /proc/cmdline | sed -n 's/^unic\.nic=//p' | tr ',' ' '
}

# lab_nic MODEL [N]: BDF of the Nth (1-based) NIC of that model.
lab_nic() {
	lab_nics | awk -v m="$1" -v n="${2:-1}" '$1==m {c++; if (c==n) {print $2; exit}}'
}

lab_nic_mac() {
	lab_nics | awk -v b="$1" '$2==b {print $3}'
}

# PCI ids QEMU 10 gives each model.
lab_model_ids() {
	case "$1" in
	virtio-legacy) echo 1af4:1000 ;;
	virtio-modern|virtio-packed) echo 1af4:1041 ;;
	igb) echo 8086:10c9 ;;
	e1000e) echo 8086:10d3 ;;
	e1000) echo 8086:100e ;;
	vmxnet3) echo 15ad:07b0 ;;
	*) echo unknown ;;
	esac
}

# lab_expect NAME CMD...: run a check, print PASS/FAIL NAME, count failures.
lab_expect() {
	name=$1
	shift
	if "$@"; then
		echo "PASS $name"
		LAB_PASSES=$((LAB_PASSES + 1))
	else
		echo "FAIL $name"
		LAB_FAILS=$((LAB_FAILS + 1))
	fi
}

# lab_expect_output NAME PATTERN CMD...: CMD's output must match the grep -E PATTERN.
lab_expect_output() {
	name=$1
	pat=$2
	shift 2
	out=$("$@" 2>&1)
	echo "$out" | sed 's/^/  | /'
	if echo "$out" | grep -Eq "$pat"; then
		echo "PASS $name"
		LAB_PASSES=$((LAB_PASSES + 1))
	else
		echo "FAIL $name (wanted /$pat/)"
		LAB_FAILS=$((LAB_FAILS + 1))
	fi
}

# lab_wait_for FILE TEXT: a program wrote TEXT into FILE (it holds its devices), at most 20 s.
lab_wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q "$2" "$1"
}

# lab_cpu_ticks PID: utime + stime of PID in clock ticks (USER_HZ, LAB_HZ a second).
LAB_HZ=100
lab_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# lab_cpu_over PID SECONDS: prints the ticks PID used over the next SECONDS.
lab_cpu_over() {
	t0=$(lab_cpu_ticks "$1")
	sleep "$2"
	echo $(($(lab_cpu_ticks "$1") - t0))
}

# lab_cpu_pct TICKS SECONDS: TICKS over SECONDS as "P.D" percent of a CPU.
lab_cpu_pct() { echo "$(($1 * 100 / ($2 * LAB_HZ))).$(($1 * 1000 / ($2 * LAB_HZ) % 10))"; }

# lab_jnum FILE KEY: the first number after "KEY": in a one-line JSON file (the tools' --json).
lab_jnum() { grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2; }

# lab_queue_packets FILE DIR: packets of each queue's DIR ("rx" or "tx"), one a line, in queue order.
lab_queue_packets() { grep -o "\"queue\":[0-9]*,\"$2\":{\"packets\":[0-9]*" "$1" | sed 's/.*://'; }

# lab_all_positive N: N numbers on stdin, each above 0.
lab_all_positive() { awk -v n="$1" '$1 > 0 {c++} END {exit !(NR == n && c == n)}'; }

lab_done() {
	echo "lab: $LAB_PASSES passed, $LAB_FAILS failed"
	[ "$LAB_FAILS" = 0 ]
}
