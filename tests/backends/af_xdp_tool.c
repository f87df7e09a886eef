/*
 * af_xdp_tool: helpers of tests/backends/af_xdp-run.
 *   af_xdp_tool pass IFNAME    attaches an XDP_PASS program to IFNAME through netlink, the way
 *                              other software does (it stays after this process ends): the
 *                              "interface already has a program" case
 *   af_xdp_tool info [--force] SPEC  opens SPEC (queues set up, program attached), prints
 *                              "INFO <name> driver=<d> rxq=<n> txq=<n> [<features>]", closes;
 *                              or "ERROR <the library's line>" and exit status 1
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "unic.h"
#include "../../src/backends/af_xdp/af_xdp.h"

static int attach_pass(const char *ifname)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd, r, ifindex = (int)if_nametoindex(ifname);

	if (!ifindex) {
		printf("ERROR no interface %s\n", ifname);
		return 1;
	}
	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t)"BSD";
	fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
	if (fd < 0) {
		printf("ERROR BPF_PROG_LOAD: %s\n", strerror(errno));
		return 1;
	}
	r = unic_xdp_netlink_set(ifindex, fd, XDP_FLAGS_DRV_MODE);
	if (r) {
		printf("ERROR attach to %s: %s\n", ifname, strerror(-r));
		return 1;
	}
	printf("ATTACHED %s id=%d\n", ifname, unic_xdp_attached_id(ifindex));
	return 0;
}

static int info(const char *spec, bool force)
{
	struct unic_config cfg;
	struct unic_info in;
	char err[UNIC_ERR_LEN];
	struct unic_dev *dev;

	unic_config_init(&cfg);
	cfg.force = force;
	dev = unic_open(spec, &cfg, err, sizeof err);
	if (!dev) {
		printf("ERROR %s\n", err);
		return 1;
	}
	unic_info(dev, &in);
	printf("INFO %s driver=%s rxq=%u txq=%u [%s]\n", in.name, in.driver, in.rx_queues, in.tx_queues, in.features);
	unic_close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "pass"))
		return attach_pass(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "info"))
		return info(argv[2], false);
	if (argc == 4 && !strcmp(argv[1], "info") && !strcmp(argv[2], "--force"))
		return info(argv[3], true);
	fprintf(stderr, "usage: af_xdp_tool pass IFNAME | info [--force] SPEC\n");
	return 2;
}
