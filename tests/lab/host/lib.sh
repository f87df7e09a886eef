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
# lab_monitor CMD: one HMP command to the guest's QEMU (set_link n0 off, device_del nic0);
# prints QEMU's answer.
lab_monitor() {
	/usr/bin/python3 - "$LAB_MONITOR" "$*" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(2)
time.sleep(0.2)
try:
    s.recv(4096)  # the banner and first prompt
except socket.timeout:
    pass
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(0.5)
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
        if out.rstrip().endswith(b"(qemu)"):
            break
except socket.timeout:
    pass
import re
text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace")).replace("\r", "")
# QEMU echoes the command keystroke by keystroke: keep its answer only
lines = [l for l in text.split("\n") if l.strip() and not l.startswith("(qemu)") and sys.argv[2][:3] not in l]
print("monitor: " + sys.argv[2] + (": " + " / ".join(lines) if lines else ""))
PY
}
