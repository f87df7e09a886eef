# lib.sh - helpers for host_side() of lab scenarios (bash, on the host).
# lab_wait_guest MARKER [SECONDS]: wait until the guest printed a line containing MARKER.
lab_wait_guest() {
	local marker=$1 t=${2:-90} i
	for ((i = 0; i < t * 10; i++)); do
		tr -d '\r' < "$LAB_LOG" 2>/dev/null | grep -qF -- "$marker" && return 0
		sleep 0.1
	done
	echo "timed out waiting for guest marker '$marker'" >&2
	return 1
}
# lab_ns CMD...: run CMD in the lab namespace.
lab_ns() { ip netns exec "$LAB_NS" "$@"; }
