/*
 * xdp_bench - instructions per packet of the user-side calls of unic's af_xdp / af_packet
 * backends and of DPDK's net_af_xdp / net_af_packet, in ONE process and ONE thread, under
 * valgrind --tool=callgrind --collect-atstart=no.
 *
 *   unic   unic_open("af_xdp:IF_U") or unic_open("af_packet:IF_U,qdisc_bypass")
 *   dpdk   net_af_xdp0,iface=IF_D (busy_budget: DPDK's default) or
 *          net_af_packet0,iface=IF_D,qdisc_bypass=1, hot-plugged
 *
 * IF_U and IF_D are one end each of two veth pairs (the script makes them); the other ends
 * (PEER_U, PEER_D) are where the rx rows' frames come from: a plain AF_PACKET socket of this
 * process sends a burst there (not measured), then the front-end receives (measured).
 * Rows (burst 32, 60-byte frames, no FCS):
 *   tx  allocate 32 buffers, write a 42-byte header, tx_burst, free what tx did not take
 *   rx  rx_burst, free; af_xdp: polled until the burst is in (it is there when the sender's
 *       sendmmsg returns); af_packet: one poll per step, since unic's TPACKET_V3 ring hands a
 *       block over when the next frame does not fit in it (or after its 1 ms timer): frames
 *       come a block late, empty polls are counted, the count is the same from run to run
 * Only those calls sit between CALLGRIND_TOGGLE_COLLECT: the system calls the backends make
 * (sendto kicks, recvfrom wakeups) are counted up to the syscall instruction, the kernel's
 * work behind them is not (callgrind sees user space only). One dump per phase, named
 * "BACKEND-FRONTEND-ROW"; the script divides each dump's instructions by the packets the
 * phase handled, printed here as "RESULT instr NAME packets N", and counts the system calls
 * in each dump's call graph.
 *
 * Usage: xdp_bench --backend af_xdp|af_packet --unic IF_U --dpdk IF_D --peer-unic PEER_U
 *        --peer-dpdk PEER_D [--packets N] -- EAL-ARGS
 */
#define _GNU_SOURCE /* sendmmsg */
#include <arpa/inet.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <valgrind/callgrind.h>

#include "unic.h"
#include "bench_common.h"

#define BURST 32
#define FRAME_LEN 60        /* 64 bytes on the wire with the FCS */
#define RING 2048           /* both: libxdp's / DPDK's af_xdp default, unic's af_xdp default */
#define POOL_MBUFS 16383
#define POOL_CACHE 256
#define WARMUP_ITERS 500
#define RX_TRIES 100        /* polls per rx step before giving up on a burst (frames lost) */

enum fe { FE_UNIC, FE_DPDK, NFE };
enum row { ROW_TX, ROW_RX, NROW };
static const char *const fe_name[] = { "unic", "dpdk" };
static const char *const row_name[] = { "tx", "rx" };

static struct {
	const char *backend;
	uint16_t dpdk_port;
	struct rte_mempool *pool;
	struct unic_dev *udev;
	struct unic_mempool *upool;
	unsigned rx_tries;          /* rx polls per step (see main) */
	int gen_fd[NFE];            /* the rx rows' sender on each pair's other end */
	struct sockaddr_ll gen_to[NFE];
} g;

/* ---- the front-ends: the measured work, the same for both ---- */

static uint16_t unic_tx(void)
{
	struct unic_buf *b[BURST];
	uint16_t i, sent;

	if (unic_buf_alloc_bulk(g.upool, b, BURST) != BURST)
		return 0;
	for (i = 0; i < BURST; i++) {
		b[i]->len = FRAME_LEN;
		memcpy(unic_buf_data(b[i]), bench_hdr, HDR_LEN);
	}
	sent = unic_tx_burst(g.udev, 0, b, BURST);
	unic_buf_free_bulk(b + sent, (uint32_t)(BURST - sent));
	return sent;
}

static uint16_t dpdk_tx(void)
{
	struct rte_mbuf *m[BURST];
	uint16_t i, sent;

	if (rte_pktmbuf_alloc_bulk(g.pool, m, BURST))
		return 0;
	for (i = 0; i < BURST; i++) {
		m[i]->data_len = m[i]->pkt_len = FRAME_LEN;
		memcpy(rte_pktmbuf_mtod(m[i], void *), bench_hdr, HDR_LEN);
	}
	sent = rte_eth_tx_burst(g.dpdk_port, 0, m, BURST);
	if (sent < BURST)
		rte_pktmbuf_free_bulk(m + sent, BURST - sent);
	return sent;
}

static uint16_t unic_rx(void)
{
	struct unic_buf *b[BURST];
	uint16_t n = unic_rx_burst(g.udev, 0, b, BURST);

	unic_buf_free_bulk(b, n);
	return n;
}

static uint16_t dpdk_rx(void)
{
	struct rte_mbuf *m[BURST];
	uint16_t n = rte_eth_rx_burst(g.dpdk_port, 0, m, BURST);

	rte_pktmbuf_free_bulk(m, n);
	return n;
}

/* ---- the rx rows' generator (not measured): one sendmmsg of a burst on the pair's other end ---- */

static void gen_open(enum fe fe, const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */

	if (fd < 0)
		die("cannot open the generator's packet socket");
	memset(&g.gen_to[fe], 0, sizeof g.gen_to[fe]);
	g.gen_to[fe].sll_family = AF_PACKET;
	g.gen_to[fe].sll_ifindex = (int)if_nametoindex(ifname);
	g.gen_to[fe].sll_halen = ETH_ALEN;
	if (!g.gen_to[fe].sll_ifindex)
		die("no such peer interface");
	g.gen_fd[fe] = fd;
}

static void gen_send(enum fe fe)
{
	static uint8_t frame[FRAME_LEN];
	struct mmsghdr msg[BURST];
	struct iovec iov = { .iov_base = frame, .iov_len = FRAME_LEN };
	unsigned i;

	memcpy(frame, bench_hdr, HDR_LEN);
	memset(msg, 0, sizeof msg);
	for (i = 0; i < BURST; i++) {
		msg[i].msg_hdr.msg_name = &g.gen_to[fe];
		msg[i].msg_hdr.msg_namelen = sizeof g.gen_to[fe];
		msg[i].msg_hdr.msg_iov = &iov;
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	if (sendmmsg(g.gen_fd[fe], msg, BURST, 0) != BURST)
		die("the generator could not send a burst");
}

/* ---- phases ---- */

/* One lock-step iteration: the generator's work (not measured), then the front-end's (measured). */
static uint16_t step(enum fe fe, enum row row)
{
	uint16_t n = 0;
	unsigned tries;

	if (row == ROW_TX) {
		CALLGRIND_TOGGLE_COLLECT;
		n = fe == FE_UNIC ? unic_tx() : dpdk_tx();
		CALLGRIND_TOGGLE_COLLECT;
		return n;
	}
	gen_send(fe);
	for (tries = 0; n < BURST && tries < g.rx_tries; tries++) {
		CALLGRIND_TOGGLE_COLLECT;
		n += fe == FE_UNIC ? unic_rx() : dpdk_rx();
		CALLGRIND_TOGGLE_COLLECT;
	}
	return n;
}

static uint64_t run(enum fe fe, enum row row, uint64_t iters)
{
	uint64_t pk = 0, i;

	for (i = 0; i < iters; i++)
		pk += step(fe, row);
	return pk;
}

static void instr_mode(uint64_t packets)
{
	uint64_t iters = packets / BURST;
	unsigned r, f;

	for (r = 0; r < NROW; r++) {
		for (f = 0; f < NFE; f++) {
			char name[64];
			uint64_t pk;
			run(f, r, WARMUP_ITERS);
			CALLGRIND_ZERO_STATS;
			pk = run(f, r, iters);
			snprintf(name, sizeof name, "%s-%s-%s", g.backend, fe_name[f], row_name[r]);
			CALLGRIND_DUMP_STATS_AT(name);
			printf("RESULT instr %s packets %llu\n", name, (unsigned long long)pk);
			fflush(stdout);
		}
	}
}

/* ---- set-up ---- */

static void dpdk_open(const char *ifname)
{
	struct rte_eth_conf conf;
	char args[200];
	const char *name = !strcmp(g.backend, "af_xdp") ? "net_af_xdp0" : "net_af_packet0";

	if (!strcmp(g.backend, "af_xdp"))
		snprintf(args, sizeof args, "iface=%s,start_queue=0,queue_count=1", ifname);
	else
		snprintf(args, sizeof args, "iface=%s,qpairs=1,qdisc_bypass=1", ifname);
	if (rte_eal_hotplug_add("vdev", name, args))
		die("cannot hot-plug DPDK's port");
	if (rte_eth_dev_get_port_by_name(name, &g.dpdk_port))
		die("DPDK's port has no port id");
	memset(&conf, 0, sizeof conf);
	if (rte_eth_dev_configure(g.dpdk_port, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(g.dpdk_port, 0, RING, rte_socket_id(), NULL, g.pool) ||
	    rte_eth_tx_queue_setup(g.dpdk_port, 0, RING, rte_socket_id(), NULL) || rte_eth_dev_start(g.dpdk_port))
		die("cannot start DPDK's port");
}

static void unic_dev_open(const char *ifname)
{
	char spec[128], err[UNIC_ERR_LEN];
	struct unic_config cfg;
	struct unic_info info;

	unic_config_init(&cfg);
	if (!strcmp(g.backend, "af_xdp"))
		snprintf(spec, sizeof spec, "af_xdp:%s", ifname);
	else
		snprintf(spec, sizeof spec, "af_packet:%s,qdisc_bypass", ifname);
	g.udev = unic_open(spec, &cfg, err, sizeof err);
	if (!g.udev)
		die(err);
	g.upool = unic_dev_mempool(g.udev);
	unic_info(g.udev, &info);
	printf("RESULT unic-info %s\n", info.features);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, 'b' },   { "unic", required_argument, NULL, 'u' },
		{ "dpdk", required_argument, NULL, 'd' },      { "peer-unic", required_argument, NULL, 'U' },
		{ "peer-dpdk", required_argument, NULL, 'D' }, { "packets", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifu = NULL, *ifd = NULL, *peer_u = NULL, *peer_d = NULL;
	uint64_t packets = 200000;
	int c, eal_argc;
	char **eal_argv;

	g.backend = "af_xdp";
	while ((c = getopt_long(argc, argv, "b:u:d:U:D:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': g.backend = optarg; break;
		case 'u': ifu = optarg; break;
		case 'd': ifd = optarg; break;
		case 'U': peer_u = optarg; break;
		case 'D': peer_d = optarg; break;
		case 'n': packets = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!ifu || !ifd || !peer_u || !peer_d || packets < BURST ||
	    (strcmp(g.backend, "af_xdp") && strcmp(g.backend, "af_packet")))
		die("usage: xdp_bench --backend af_xdp|af_packet --unic IF --dpdk IF --peer-unic IF --peer-dpdk IF "
		    "[--packets N] -- EAL-ARGS");
	/* EAL arguments follow "--": argv[optind - 1] becomes the program name */
	eal_argc = argc - optind + 1;
	eal_argv = argv + optind - 1;
	eal_argv[0] = argv[0];

	/* af_xdp: the frames are in the rx ring when the generator's sendmmsg returns (the veth's
	 * NAPI ran in it); af_packet: TPACKET_V3 hands a block over when a frame no longer fits in
	 * it (or after its timer): one poll per step, the frames arrive a block later on average */
	g.rx_tries = !strcmp(g.backend, "af_xdp") ? RX_TRIES : 1;
	if (rte_eal_init(eal_argc, eal_argv) < 0)
		die("rte_eal_init failed");
	g.pool = rte_pktmbuf_pool_create("fe", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!g.pool)
		die("cannot create the mbuf pool");
	unic_dev_open(ifu);
	dpdk_open(ifd);
	gen_open(FE_UNIC, peer_u);
	gen_open(FE_DPDK, peer_d);

	instr_mode(packets);

	unic_close(g.udev);
	rte_eth_dev_stop(g.dpdk_port);
	rte_eth_dev_close(g.dpdk_port);
	close(g.gen_fd[FE_UNIC]);
	close(g.gen_fd[FE_DPDK]);
	rte_eal_cleanup();
	return 0;
}
