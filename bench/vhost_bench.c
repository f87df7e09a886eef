/*
 * vhost_bench - cost per packet of two virtio-net front-ends on the same DPDK
 * vhost-user backend, in ONE process and ONE thread, polled in lock-step:
 *
 *   unic   unic_open("vhost-user:SOCK0") (src/drivers/virtio/virtio_vhost_user.c)
 *   dpdk   DPDK's net_virtio_user, hot-plugged on SOCK1 (scalar paths)
 *
 * Each front-end has its own net_vhost port (same PMD, same configuration, same
 * features: the backend offers the same bits to both, see disable_features()).
 * Rows (burst 32): tx (allocate, write the header, tx_burst, free what was not
 * taken), rx (rx_burst, free), fwd (rx_burst, swap MACs, tx_burst, free the rest),
 * each at 64 and 1500 bytes. Only the front-end's calls are measured:
 *
 *   --mode instr   under valgrind --tool=callgrind --collect-atstart=no: the
 *                  front-end's calls sit between CALLGRIND_TOGGLE_COLLECT, one
 *                  dump per phase named "FRONTEND ROW SIZE"; bench/run divides
 *                  each dump's instructions by the packets printed here
 *   --mode cycles  TSC cycles around the same calls, the two front-ends in
 *                  windows A B B A (ratio per group), and an A/A control (unic
 *                  against itself) to show the noise of the method
 *
 * --in-order: both front-ends negotiate VIRTIO_F_IN_ORDER (DPDK virtio-user's
 * in_order=1, its default: its best scalar configuration); the rows are then named
 * RING-inorder. Without it IN_ORDER is withheld from both (the matched rows).
 *
 * --vec: the rx rows only ("rxvec"), against DPDK's vectorized rx: the backend offers
 * neither front-end MRG_RXBUF nor IN_ORDER (unic's vector path is off in order), and
 * virtio-user gets vectorized=1,mrg_rxbuf=0,in_order=0; the rx function DPDK chose is
 * printed (from its own log line). Not with --in-order.
 *
 * Usage: vhost_bench --ring split|packed [--in-order | --vec] --mode instr|cycles --dir DIR
 *        [--packets N] [--groups G] [--window W] -- EAL-ARGS
 * Prints "RESULT ..." lines for bench/run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_eth_vhost.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_vhost.h>
#include <valgrind/callgrind.h>

#include "unic.h"
#include "bench_common.h"

#define BURST 32
#define RING 512
#define POOL_MBUFS 8191
#define POOL_CACHE 256
#define WARMUP_ITERS 2000

/* virtio feature bits (virtio spec 6, 5.1.3) the backend stops offering to both front-ends */
#define F_ANY_LAYOUT 27     /* legacy-only: VERSION_1 implies it (spec 5.1.6.2); DPDK does not ask */
#define F_MRG_RXBUF 15      /* off for both in the --vec rows: DPDK's vectorized rx needs it off */
#define F_INDIRECT_DESC 28  /* unic does not use it; DPDK would not on these paths: off for both */
#define F_EVENT_IDX 29      /* DPDK's virtio PMD does not implement it: off for unic too */
#define F_RING_PACKED 34    /* off for the split rows */
#define F_IN_ORDER 35       /* off for both in the matched rows; on for both with --in-order */

enum fe { FE_UNIC, FE_DPDK, NFE };
enum row { ROW_TX, ROW_RX, ROW_FWD, NROW };
static const char *const fe_name[] = { "unic", "dpdk" };
static const char *const row_name[] = { "tx", "rx", "fwd" };
static const uint16_t sizes[] = { 64, 1500 };

static struct {
	uint16_t be_port[NFE];      /* the net_vhost port facing each front-end */
	uint16_t dpdk_port;         /* net_virtio_user */
	struct rte_mempool *be_pool, *fe_pool;
	struct unic_dev *udev;
	struct unic_mempool *upool;
	bool instr;
	bool vec;                   /* --vec: rx rows only, DPDK's vectorized rx */
	uint64_t be_rx;             /* packets the backend took from the front-ends (sanity) */
} g;

/* ---- the backend (not measured) ---- */

static void be_drain(uint16_t port)
{
	struct rte_mbuf *m[BURST];
	uint16_t n;

	while ((n = rte_eth_rx_burst(port, 0, m, BURST)) > 0) {
		g.be_rx += n;
		rte_pktmbuf_free_bulk(m, n);
	}
}

static void be_send(uint16_t port, uint16_t size)
{
	struct rte_mbuf *m[BURST];
	uint16_t i, sent;

	if (rte_pktmbuf_alloc_bulk(g.be_pool, m, BURST))
		die("backend pool empty");
	for (i = 0; i < BURST; i++) {
		m[i]->data_len = m[i]->pkt_len = size;
		memcpy(rte_pktmbuf_mtod(m[i], void *), bench_hdr, HDR_LEN);
	}
	sent = rte_eth_tx_burst(port, 0, m, BURST);
	if (sent < BURST)
		rte_pktmbuf_free_bulk(m + sent, BURST - sent);
}

/* ---- the front-ends: the measured work, the same for both ---- */

static uint16_t unic_tx(uint16_t size)
{
	struct unic_buf *b[BURST];
	uint16_t i, sent;

	if (unic_buf_alloc_bulk(g.upool, b, BURST) != BURST)
		return 0;
	for (i = 0; i < BURST; i++) {
		b[i]->len = size;
		memcpy(unic_buf_data(b[i]), bench_hdr, HDR_LEN);
	}
	sent = unic_tx_burst(g.udev, 0, b, BURST);
	unic_buf_free_bulk(b + sent, (uint32_t)(BURST - sent));
	return sent;
}

static uint16_t dpdk_tx(uint16_t size)
{
	struct rte_mbuf *m[BURST];
	uint16_t i, sent;

	if (rte_pktmbuf_alloc_bulk(g.fe_pool, m, BURST))
		return 0;
	for (i = 0; i < BURST; i++) {
		m[i]->data_len = m[i]->pkt_len = size;
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

static inline void swap_mac(uint8_t *p)
{
	uint8_t t[6];

	memcpy(t, p, 6);
	memcpy(p, p + 6, 6);
	memcpy(p + 6, t, 6);
}

static uint16_t unic_fwd(void)
{
	struct unic_buf *b[BURST];
	uint16_t n = unic_rx_burst(g.udev, 0, b, BURST), i, sent;

	for (i = 0; i < n; i++)
		swap_mac(unic_buf_data(b[i]));
	sent = unic_tx_burst(g.udev, 0, b, n);
	unic_buf_free_bulk(b + sent, (uint32_t)(n - sent));
	return n;
}

static uint16_t dpdk_fwd(void)
{
	struct rte_mbuf *m[BURST];
	uint16_t n = rte_eth_rx_burst(g.dpdk_port, 0, m, BURST), i, sent;

	for (i = 0; i < n; i++)
		swap_mac(rte_pktmbuf_mtod(m[i], uint8_t *));
	sent = rte_eth_tx_burst(g.dpdk_port, 0, m, n);
	if (sent < n)
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	return n;
}

/* One lock-step iteration: backend work (not measured), then the front-end's (measured). */
static uint16_t step(enum fe fe, enum row row, uint16_t size, uint64_t *cycles)
{
	uint16_t port = g.be_port[fe], n;
	uint64_t t0 = 0;

	if (row != ROW_TX)
		be_send(port, size);
	if (g.instr)
		CALLGRIND_TOGGLE_COLLECT;
	else
		t0 = rte_rdtsc_precise();
	switch (row) {
	case ROW_TX: n = fe == FE_UNIC ? unic_tx(size) : dpdk_tx(size); break;
	case ROW_RX: n = fe == FE_UNIC ? unic_rx() : dpdk_rx(); break;
	default: n = fe == FE_UNIC ? unic_fwd() : dpdk_fwd(); break;
	}
	if (g.instr)
		CALLGRIND_TOGGLE_COLLECT;
	else
		*cycles += rte_rdtsc_precise() - t0;
	if (row != ROW_RX)
		be_drain(port);
	return n;
}

/* Runs iters iterations; returns packets the front-end handled. */
static uint64_t run(enum fe fe, enum row row, uint16_t size, uint64_t iters, uint64_t *cycles)
{
	uint64_t pk = 0, i;

	for (i = 0; i < iters; i++)
		pk += step(fe, row, size, cycles);
	return pk;
}

/* ---- instructions: one callgrind dump per phase ---- */

static void instr_mode(const char *ring, uint64_t packets)
{
	uint64_t iters = packets / BURST, dummy = 0;
	unsigned r, s, f;

	for (r = 0; r < NROW; r++)
		for (s = 0; s < 2; s++)
			for (f = 0; f < NFE && (!g.vec || r == ROW_RX); f++) {
				char name[64];
				uint64_t pk;
				run(f, r, sizes[s], WARMUP_ITERS, &dummy);
				CALLGRIND_ZERO_STATS;
				pk = run(f, r, sizes[s], iters, &dummy);
				snprintf(name, sizeof name, "%s-%s-%s-%u", ring, fe_name[f], g.vec ? "rxvec" : row_name[r], sizes[s]);
				CALLGRIND_DUMP_STATS_AT(name);
				printf("RESULT instr %s packets %llu\n", name, (unsigned long long)pk);
				fflush(stdout);
			}
}

/* ---- cycles: A B B A windows, ratio per group ---- */

/* One A B B A group: cycles/packet of A and B over their two windows each. */
static void group(enum fe a, enum fe b, enum row row, uint16_t size, uint64_t w, double *ca, double *cb)
{
	uint64_t c[4] = { 0 }, p[4];
	enum fe order[4] = { a, b, b, a };
	unsigned i;

	for (i = 0; i < 4; i++)
		p[i] = run(order[i], row, size, w, &c[i]);
	*ca = (double)(c[0] + c[3]) / (double)(p[0] + p[3]);
	*cb = (double)(c[1] + c[2]) / (double)(p[1] + p[2]);
}

static void cycles_mode(const char *ring, unsigned groups, uint64_t window)
{
	double *ua = calloc(groups, sizeof(double)), *db = calloc(groups, sizeof(double));
	double *ratio = calloc(groups, sizeof(double)), *aa = calloc(groups, sizeof(double));
	uint64_t dummy = 0;
	unsigned r, s, i;

	if (!ua || !db || !ratio || !aa)
		die("out of memory");
	for (r = 0; r < NROW; r++)
		for (s = 0; s < 2 && (!g.vec || r == ROW_RX); s++) {
			double best_u = 1e18, best_d = 1e18, x, y;
			run(FE_UNIC, r, sizes[s], WARMUP_ITERS, &dummy);
			run(FE_DPDK, r, sizes[s], WARMUP_ITERS, &dummy);
			for (i = 0; i < groups; i++) {
				group(FE_UNIC, FE_DPDK, r, sizes[s], window, &ua[i], &db[i]);
				ratio[i] = ua[i] / db[i];
				best_u = ua[i] < best_u ? ua[i] : best_u;
				best_d = db[i] < best_d ? db[i] : best_d;
				group(FE_UNIC, FE_UNIC, r, sizes[s], window, &x, &y); /* A/A control */
				aa[i] = x / y;
			}
			printf("RESULT cycles %s-%s-%u unic_med %.1f dpdk_med %.1f unic_best %.1f dpdk_best %.1f "
			       "ratio_med %.3f aa_med %.3f groups %u\n",
			       ring, g.vec ? "rxvec" : row_name[r], sizes[s], median(ua, groups), median(db, groups), best_u, best_d,
			       median(ratio, groups), median(aa, groups), groups);
			fflush(stdout);
		}
	free(ua);
	free(db);
	free(ratio);
	free(aa);
}

/* ---- setup ---- */

static void port_start(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof conf);
	if (rte_eth_dev_configure(port, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL, pool) ||
	    rte_eth_tx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL))
		die("cannot configure an ethdev port");
}

static uint16_t port_by_name(const char *name)
{
	uint16_t p;

	if (rte_eth_dev_get_port_by_name(name, &p))
		die("no such port");
	return p;
}

/* The same features on offer to both front-ends (see the F_ constants). */
static void disable_features(const char *sock, bool packed, bool in_order)
{
	uint64_t off = (1ull << F_ANY_LAYOUT) | (1ull << F_INDIRECT_DESC) | (1ull << F_EVENT_IDX) |
		       (in_order ? 0 : 1ull << F_IN_ORDER) | (packed ? 0 : 1ull << F_RING_PACKED) |
		       (g.vec ? 1ull << F_MRG_RXBUF : 0);

	if (rte_vhost_driver_disable_features(sock, off))
		die("rte_vhost_driver_disable_features failed");
}

/*
 * DPDK names the rx function it chose in an INFO line of its virtio driver ("virtio: using
 * vectorized Rx path on port 2"): its log goes to memory while the port starts, and that
 * line is printed as RESULT dpdk-rx-path.
 */
static void dpdk_log_capture(bool on)
{
	static char *text;
	static size_t len;
	static FILE *mem;
	static uint32_t global;
	char *at, *end = NULL;

	if (on) {
		global = rte_log_get_global_level();
		mem = open_memstream(&text, &len);
		if (!mem || rte_openlog_stream(mem))
			die("cannot capture DPDK's log");
		rte_log_set_global_level(RTE_LOG_INFO);
		rte_log_set_level_pattern("pmd.net.virtio.*", RTE_LOG_INFO);
		return;
	}
	rte_openlog_stream(NULL);
	rte_log_set_global_level(global);
	fclose(mem);
	for (at = text; at && (at = strstr(at, "virtio: using ")) != NULL; at = end + 1) {
		if ((end = strchr(at, '\n')) == NULL)
			break;
		*end = 0; /* one line at a time */
		if (strstr(at, "Rx path"))
			break;
	}
	if (at)
		printf("RESULT dpdk-rx-path %s\n", at + strlen("virtio: using "));
	else
		printf("RESULT dpdk-rx-path unknown (no line from its driver)\n");
	free(text);
}

static void print_features(void)
{
	unsigned f;

	for (f = 0; f < NFE; f++) {
		uint64_t feat = 0;
		int vid = rte_eth_vhost_get_vid_from_port_id(g.be_port[f]);
		if (vid < 0 || rte_vhost_get_negotiated_features((int)vid, &feat))
			die("cannot read the negotiated features");
		printf("RESULT features %s 0x%llx\n", fe_name[f], (unsigned long long)feat);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ring", required_argument, NULL, 'r' },   { "mode", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'd' },    { "packets", required_argument, NULL, 'n' },
		{ "groups", required_argument, NULL, 'g' }, { "window", required_argument, NULL, 'w' },
		{ "in-order", no_argument, NULL, 'o' },     { "vec", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ring = "split", *mode = "instr", *dir = "/tmp";
	uint64_t packets = 200000, window = 2000;
	unsigned groups = 15;
	char sock[2][256], spec[300], args[400], err[UNIC_ERR_LEN], label[32];
	struct unic_config cfg;
	bool packed, in_order = false;
	int c, eal_argc = argc;
	char **eal_argv = argv;

	while ((c = getopt_long(argc, argv, "r:m:d:n:g:w:ov", opts, NULL)) != -1) {
		switch (c) {
		case 'r': ring = optarg; break;
		case 'm': mode = optarg; break;
		case 'd': dir = optarg; break;
		case 'n': packets = strtoull(optarg, NULL, 10); break;
		case 'g': groups = (unsigned)atoi(optarg); break;
		case 'w': window = strtoull(optarg, NULL, 10); break;
		case 'o': in_order = true; break;
		case 'v': g.vec = true; break;
		default: return 2;
		}
	}
	if (!groups || !window || packets < BURST)
		die("--groups, --window and --packets must be positive");
	if (in_order && g.vec)
		die("--vec compares the rx paths without IN_ORDER: not with --in-order");
	packed = !strcmp(ring, "packed");
	snprintf(label, sizeof label, "%s%s", ring, in_order ? "-inorder" : "");
	g.instr = !strcmp(mode, "instr");
	/* EAL arguments follow "--": argv[optind - 1] becomes the program name */
	eal_argc = argc - optind + 1;
	eal_argv = argv + optind - 1;
	eal_argv[0] = argv[0];
	snprintf(sock[0], sizeof sock[0], "%s/unic.sock", dir);
	snprintf(sock[1], sizeof sock[1], "%s/dpdk.sock", dir);

	if (rte_eal_init(eal_argc, eal_argv) < 0)
		die("rte_eal_init failed");
	g.be_pool = rte_pktmbuf_pool_create("be", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	g.fe_pool = rte_pktmbuf_pool_create("fe", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!g.be_pool || !g.fe_pool)
		die("cannot create mbuf pools");

	/* the two backend ports: their sockets exist once the ports are configured */
	for (c = 0; c < NFE; c++) {
		char name[32], a[300];
		snprintf(name, sizeof name, "net_vhost%d", c);
		snprintf(a, sizeof a, "iface=%s,queues=1", sock[c]);
		if (rte_eal_hotplug_add("vdev", name, a))
			die("cannot create a net_vhost port");
		g.be_port[c] = port_by_name(name);
		port_start(g.be_port[c], g.be_pool);
		disable_features(sock[c], packed, in_order);
		if (rte_eth_dev_start(g.be_port[c]))
			die("cannot start a net_vhost port");
	}

	/* unic: one queue pair of 512, buffers of 2048 bytes, stats always on */
	unic_config_init(&cfg);
	cfg.rx_ring_size = cfg.tx_ring_size = RING;
	snprintf(spec, sizeof spec, "vhost-user:%s", sock[0]);
	g.udev = unic_open(spec, &cfg, err, sizeof err);
	if (!g.udev)
		die(err);
	g.upool = unic_dev_mempool(g.udev);

	/* DPDK's virtio-user: scalar paths, in_order as asked, mergeable rx buffers like unic; or its vectorized rx */
	snprintf(args, sizeof args, "path=%s,queues=1,queue_size=%d,packed_vq=%d,in_order=%d,%s", sock[1], RING, packed,
		 in_order, g.vec ? "mrg_rxbuf=0,vectorized=1" : "mrg_rxbuf=1,vectorized=0");
	dpdk_log_capture(true);
	if (rte_eal_hotplug_add("vdev", "net_virtio_user0", args))
		die("cannot hot-plug net_virtio_user0");
	g.dpdk_port = port_by_name("net_virtio_user0");
	port_start(g.dpdk_port, g.fe_pool);
	if (rte_eth_dev_start(g.dpdk_port))
		die("cannot start net_virtio_user0");
	dpdk_log_capture(false);
	wait_link(g.be_port[FE_UNIC]);
	wait_link(g.be_port[FE_DPDK]);
	{
		struct unic_info info;
		unic_info(g.udev, &info);
		printf("RESULT unic-info %s\n", info.features);
	}
	print_features();

	if (g.instr)
		instr_mode(label, packets);
	else
		cycles_mode(label, groups, window);
	printf("RESULT backend-took %llu\n", (unsigned long long)g.be_rx);

	unic_close(g.udev);
	rte_eth_dev_stop(g.dpdk_port);
	rte_eth_dev_close(g.dpdk_port);
	for (c = 0; c < NFE; c++) {
		rte_eth_dev_stop(g.be_port[c]);
		rte_eth_dev_close(g.be_port[c]);
	}
	rte_eal_cleanup();
	return 0;
}
