# irq.sh - host side of the irq-* scenarios (bash, inside the lab namespace): ping unic-echo,
# flap its link through QEMU's monitor, ping again. irq_host NETDEV (the tap NIC's nI).
source "$LAB_ROOT/tests/lab/host/tools_echo.sh"

irq_host() {
	local nd=$1
	HOST_FAILS=0
	sysctl -qw "net.ipv6.conf.$LAB_TAP.disable_ipv6=1"
	ip addr add "$HOST_IP/24" dev "$LAB_TAP"
	lab_wait_guest "answering for" 150 || return 1
	host_check "ping-100-of-100" ping_all 100
	lab_monitor "set_link $nd off"
	host_check "guest-saw-link-down" lab_wait_guest "link down" 20
	lab_monitor "set_link $nd on"
	host_check "guest-saw-link-up" lab_wait_guest "link up" 20
	host_check "ping-20-after-link-flap" ping_all 20
	return "$HOST_FAILS"
}
