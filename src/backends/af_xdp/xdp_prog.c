/*
 * xdp_prog.c - the XDP side of the af_xdp backend, with raw bpf(2) and netlink calls (no
 * libbpf, no ELF, no compiler at run time).
 *
 * An XSKMAP holds one socket per queue id, and a six-instruction program sends each frame
 * to the socket of the queue it arrived on, or to the kernel's stack (XDP_PASS) when that
 * queue has none. The program is attached through a bpf link (BPF_LINK_CREATE): the kernel
 * detaches it when the link's fd is closed, so it goes away on unic_close and also when the
 * process dies without one. Netlink (IFLA_XDP) is used only to see and, when the user asks
 * for it (cfg.force), remove a program someone else attached.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "af_xdp.h"

/* The license string the kernel records with the program: bpf_redirect_map is not GPL-only. */
#define PROG_LICENSE "BSD"
#define VERIFIER_LOG_LEN 4096
#define NL_BUF_LEN 8192

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

static uint64_t ptr_u64(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

int unic_xdp_map_create(uint32_t entries)
{
	union bpf_attr a;

	memset(&a, 0, sizeof a);
	a.map_type = BPF_MAP_TYPE_XSKMAP;
	a.key_size = sizeof(uint32_t);   /* the queue id */
	a.value_size = sizeof(uint32_t); /* an AF_XDP socket fd */
	a.max_entries = entries;
	snprintf(a.map_name, sizeof a.map_name, "unic_xsks");
	return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

int unic_xdp_map_set(int map_fd, uint32_t queue_id, int xsk_fd)
{
	union bpf_attr a;
	uint32_t key = queue_id, value = (uint32_t)xsk_fd;

	memset(&a, 0, sizeof a);
	a.map_fd = (uint32_t)map_fd;
	a.key = ptr_u64(&key);
	a.value = ptr_u64(&value);
	a.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &a) ? -errno : 0;
}

/*
 * r2 = ctx->rx_queue_index; r1 = the map; r3 = XDP_PASS (bpf_redirect_map's flags: their low
 * bits are the action when the key has no socket); return bpf_redirect_map(r1, r2, r3).
 * (include/uapi/linux/bpf.h: struct xdp_md, BPF_FUNC_redirect_map, BPF_PSEUDO_MAP_FD.)
 */
int unic_xdp_prog_load(int map_fd, char *log, size_t log_len)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1,
		  .off = offsetof(struct xdp_md, rx_queue_index) },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd },
		{ .code = 0 }, /* second half of the 64-bit immediate */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.expected_attach_type = BPF_XDP;
	a.insns = ptr_u64(insns);
	a.insn_cnt = UNIC_ARRAY_SIZE(insns);
	a.license = ptr_u64(PROG_LICENSE);
	snprintf(a.prog_name, sizeof a.prog_name, "unic_xsk_redir");
	fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0 && errno != EPERM && log && log_len) { /* again, with the verifier's reasons */
		int e = errno;
		a.log_buf = ptr_u64(log);
		a.log_size = (uint32_t)log_len;
		a.log_level = 1;
		log[0] = 0;
		fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
		if (fd < 0)
			errno = e;
	}
	return fd;
}

int unic_xdp_link_create(int prog_fd, int ifindex, uint32_t mode_flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof a);
	a.link_create.prog_fd = (uint32_t)prog_fd;
	a.link_create.target_ifindex = (uint32_t)ifindex;
	a.link_create.attach_type = BPF_XDP;
	a.link_create.flags = mode_flags;
	return (int)sys_bpf(BPF_LINK_CREATE, &a);
}

/* ---- netlink: the program someone else attached ---- */

struct nl_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[64];
};

static struct rtattr *nl_add(struct nl_req *r, unsigned short type, const void *data, unsigned short len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, int ifindex)
{
	memset(r, 0, sizeof *r);
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof r->ifi);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	r->nh.nlmsg_seq = 1;
	r->ifi.ifi_family = AF_UNSPEC;
	r->ifi.ifi_index = ifindex;
}

/* Sends r and reads the one answer into buf; its length, or -errno. */
static int nl_talk(struct nl_req *r, char *buf, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	n = recv(fd, buf, len, 0);
	if (n < 0)
		n = -errno;
	close(fd);
	return (int)n;
}

/* The id of the XDP program attached to ifindex (any mode), 0 when none, or -errno. */
int unic_xdp_attached_id(int ifindex)
{
	struct nl_req r;
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtattr *rta, *sub;
	int len = 0, n;

	nl_init(&r, RTM_GETLINK, 0, ifindex);
	n = nl_talk(&r, buf, sizeof buf);
	if (n < 0)
		return n;
	if (!NLMSG_OK(nh, (unsigned)n))
		return -EIO;
	if (nh->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	if (nh->nlmsg_type != RTM_NEWLINK)
		return -EIO;
	len = (int)IFLA_PAYLOAD(nh);
	for (rta = IFLA_RTA(NLMSG_DATA(nh)); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		int sublen;
		if ((rta->rta_type & NLA_TYPE_MASK) != IFLA_XDP)
			continue;
		sublen = (int)RTA_PAYLOAD(rta);
		for (sub = RTA_DATA(rta); RTA_OK(sub, sublen); sub = RTA_NEXT(sub, sublen))
			if (sub->rta_type == IFLA_XDP_PROG_ID && RTA_PAYLOAD(sub) >= sizeof(uint32_t))
				return (int)*(uint32_t *)RTA_DATA(sub);
	}
	return 0;
}

/*
 * Attaches prog_fd in one mode through netlink, or with -1 removes the program attached in
 * that mode (not one held by a bpf link). A program attached this way stays after its
 * process ends: unic itself uses it only to remove one (tests use it to attach one).
 */
int unic_xdp_netlink_set(int ifindex, int prog_fd, uint32_t mode_flags)
{
	struct nl_req r;
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtattr *xdp;
	int32_t fd = prog_fd;
	int n;

	nl_init(&r, RTM_SETLINK, NLM_F_ACK, ifindex);
	xdp = nl_add(&r, IFLA_XDP | NLA_F_NESTED, NULL, 0);
	nl_add(&r, IFLA_XDP_FD, &fd, sizeof fd);
	nl_add(&r, IFLA_XDP_FLAGS, &mode_flags, sizeof mode_flags);
	xdp->rta_len = (unsigned short)((char *)&r + r.nh.nlmsg_len - (char *)xdp);
	n = nl_talk(&r, buf, sizeof buf);
	if (n < 0)
		return n;
	if (!NLMSG_OK(nh, (unsigned)n) || nh->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
}
