/*
 * mq_bench - two virtio-net front-ends with 2 queue pairs each on the same DPDK
 * vhost-user backend (dpdk-testpmd, two net_vhost ports with queues=2, macswap
 * forwarding rx queue q to tx queue q), driven alike, one thread per queue pair:
 *
 *   unic   unic_open("vhost-user:SOCK0") with rx_queues = tx_queues = Q
 *   dpdk   DPDK's net_virtio_user on SOCK1, queues=Q (cq=1: virtio-user serves the
 *          control queue itself and enables the pairs with SET_VRING_ENABLE)
 *
 * Each queue's thread loops: allocate a burst of 64-byte frames, write a 42-byte
 * header, tx_burst (free what was not taken), rx_burst the echoes, free them.
 * Windows of --ms milliseconds alternate A B B A (unic, DPDK, DPDK, unic), --groups
 * times, in this one process: both front-ends see the same machine at nearly the
 * same time. Per window: echoes received (rx) and frames sent (tx), in Mpps over
 * the window's wall time; per group the ratio unic/DPDK of rx Mpps.
 *
 * Usage: mq_bench --sock0 PATH --sock1 PATH [--queues Q] [--groups G] [--ms M] -- EAL-ARGS
 * Prints "RESULT ..." lines for bench/vhost-mq.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "unic.h"
#include "bench_common.h"

#define BURST 32
#define RING 512
#define MAX_Q 8
#define POOL_MBUFS 16383
#define POOL_CACHE 256
#define FRAME 64
#define WARMUP_MS 300

enum fe { FE_UNIC, FE_DPDK, NFE };

static struct {
	struct unic_dev *udev;
	struct unic_mempool *upool;
	uint16_t dpdk_port;
	struct rte_mempool *fe_pool;
	uint16_t queues;
	atomic_bool stop;
} g;

struct worker {
	enum fe fe;
	uint16_t q;
	uint64_t tx, rx;
	pthread_t thread;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One iteration of a unic queue: a burst out, the echoes in. */
static void unic_step(struct worker *w)
{
	struct unic_buf *b[BURST];
	uint16_t i, sent, n;

	if (unic_buf_alloc_bulk(g.upool, b, BURST) == BURST) {
		for (i = 0; i < BURST; i++) {
			b[i]->len = FRAME;
			memcpy(unic_buf_data(b[i]), bench_hdr, HDR_LEN);
		}
		sent = unic_tx_burst(g.udev, w->q, b, BURST);
		unic_buf_free_bulk(b + sent, (uint32_t)(BURST - sent));
		w->tx += sent;
	}
	n = unic_rx_burst(g.udev, w->q, b, BURST);
	unic_buf_free_bulk(b, n);
	w->rx += n;
}

static void dpdk_step(struct worker *w)
{
	struct rte_mbuf *m[BURST];
	uint16_t i, sent, n;

	if (rte_pktmbuf_alloc_bulk(g.fe_pool, m, BURST) == 0) {
		for (i = 0; i < BURST; i++) {
			m[i]->data_len = m[i]->pkt_len = FRAME;
			memcpy(rte_pktmbuf_mtod(m[i], void *), bench_hdr, HDR_LEN);
		}
		sent = rte_eth_tx_burst(g.dpdk_port, w->q, m, BURST);
		if (sent < BURST)
			rte_pktmbuf_free_bulk(m + sent, BURST - sent);
		w->tx += sent;
	}
	n = rte_eth_rx_burst(g.dpdk_port, w->q, m, BURST);
	rte_pktmbuf_free_bulk(m, n);
	w->rx += n;
}

/* A queue's thread: registered with DPDK so that both front-ends get a mempool cache. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (rte_thread_register())
		die("rte_thread_register failed");
	while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
		if (w->fe == FE_UNIC)
			unic_step(w);
		else
			dpdk_step(w);
	}
	rte_thread_unregister();
	return NULL;
}

/* One window: every queue of front-end fe driven by its thread for ms; Mpps rx and tx. */
static void window(enum fe fe, unsigned ms, double *rx_mpps, double *tx_mpps)
{
	struct worker w[MAX_Q];
	uint64_t rx = 0, tx = 0;
	double t0, t;
	uint16_t q;

	atomic_store(&g.stop, false);
	t0 = now_s();
	for (q = 0; q < g.queues; q++) {
		w[q] = (struct worker){ .fe = fe, .q = q };
		if (pthread_create(&w[q].thread, NULL, worker_main, &w[q]))
			die("cannot start a thread");
	}
	usleep(ms * 1000u);
	atomic_store(&g.stop, true);
	for (q = 0; q < g.queues; q++) {
		pthread_join(w[q].thread, NULL);
		rx += w[q].rx;
		tx += w[q].tx;
	}
	t = now_s() - t0;
	*rx_mpps = (double)rx / t / 1e6;
	*tx_mpps = (double)tx / t / 1e6;
}

static void run_groups(unsigned groups, unsigned ms)
{
	double urx[64], drx[64], utx[64], dtx[64], ratio[64], x, y;
	unsigned i;

	if (groups > 64)
		groups = 64;
	window(FE_UNIC, WARMUP_MS, &x, &y);
	window(FE_DPDK, WARMUP_MS, &x, &y);
	for (i = 0; i < groups; i++) {
		double a1, a2, b1, b2, ta1, ta2, tb1, tb2;
		window(FE_UNIC, ms, &a1, &ta1);
		window(FE_DPDK, ms, &b1, &tb1);
		window(FE_DPDK, ms, &b2, &tb2);
		window(FE_UNIC, ms, &a2, &ta2);
		urx[i] = (a1 + a2) / 2;
		drx[i] = (b1 + b2) / 2;
		utx[i] = (ta1 + ta2) / 2;
		dtx[i] = (tb1 + tb2) / 2;
		ratio[i] = drx[i] > 0 ? urx[i] / drx[i] : 0;
		printf("RESULT group %u unic_rx %.3f dpdk_rx %.3f unic_tx %.3f dpdk_tx %.3f ratio %.3f\n", i, urx[i],
		       drx[i], utx[i], dtx[i], ratio[i]);
		fflush(stdout);
	}
	printf("RESULT mq queues %u groups %u ms %u unic_rx_mpps %.3f dpdk_rx_mpps %.3f unic_tx_mpps %.3f "
	       "dpdk_tx_mpps %.3f ratio %.3f\n",
	       g.queues, groups, ms, median(urx, groups), median(drx, groups), median(utx, groups), median(dtx, groups),
	       median(ratio, groups));
}

/* ---- setup ---- */

static void dpdk_open(const char *sock, bool packed)
{
	struct rte_eth_conf conf;
	char args[400];
	uint16_t q;

	snprintf(args, sizeof args,
		 "path=%s,queues=%u,cq=1,queue_size=%d,packed_vq=%d,in_order=1,mrg_rxbuf=1,vectorized=0", sock,
		 g.queues, RING, packed);
	if (rte_eal_hotplug_add("vdev", "net_virtio_user0", args))
		die("cannot hot-plug net_virtio_user0");
	if (rte_eth_dev_get_port_by_name("net_virtio_user0", &g.dpdk_port))
		die("no net_virtio_user0 port");
	memset(&conf, 0, sizeof conf);
	if (rte_eth_dev_configure(g.dpdk_port, g.queues, g.queues, &conf))
		die("cannot configure net_virtio_user0");
	for (q = 0; q < g.queues; q++)
		if (rte_eth_rx_queue_setup(g.dpdk_port, q, RING, rte_socket_id(), NULL, g.fe_pool) ||
		    rte_eth_tx_queue_setup(g.dpdk_port, q, RING, rte_socket_id(), NULL))
			die("cannot set up a net_virtio_user0 queue");
	if (rte_eth_dev_start(g.dpdk_port))
		die("cannot start net_virtio_user0");
	wait_link(g.dpdk_port);
}

static void unic_dev_open(const char *sock, bool packed)
{
	struct unic_config cfg;
	struct unic_info info;
	char spec[300], err[UNIC_ERR_LEN];

	unic_config_init(&cfg);
	cfg.rx_queues = cfg.tx_queues = g.queues;
	cfg.rx_ring_size = cfg.tx_ring_size = RING;
	cfg.no_packed_ring = !packed;
	snprintf(spec, sizeof spec, "vhost-user:%s", sock);
	g.udev = unic_open(spec, &cfg, err, sizeof err);
	if (!g.udev)
		die(err);
	g.upool = unic_dev_mempool(g.udev);
	unic_info(g.udev, &info);
	printf("RESULT unic-info %s, queues %u/%u\n", info.features, info.rx_queues, info.tx_queues);
	if (info.rx_queues != g.queues || info.tx_queues != g.queues)
		die("unic did not open every queue pair asked for");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock0", required_argument, NULL, 'u' }, { "sock1", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' }, { "groups", required_argument, NULL, 'g' },
		{ "ms", required_argument, NULL, 'm' },     { "ring", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock0 = NULL, *sock1 = NULL, *ring = "split";
	unsigned groups = 5, ms = 500;
	int c, eal_argc;
	char **eal_argv;

	g.queues = 2;
	while ((c = getopt_long(argc, argv, "u:d:q:g:m:r:", opts, NULL)) != -1) {
		switch (c) {
		case 'u': sock0 = optarg; break;
		case 'd': sock1 = optarg; break;
		case 'q': g.queues = (uint16_t)atoi(optarg); break;
		case 'g': groups = (unsigned)atoi(optarg); break;
		case 'm': ms = (unsigned)atoi(optarg); break;
		case 'r': ring = optarg; break;
		default: return 2;
		}
	}
	if (!sock0 || !sock1 || !groups || !ms || g.queues < 1 || g.queues > MAX_Q)
		die("usage: mq_bench --sock0 PATH --sock1 PATH [--queues 1..8] [--groups G] [--ms M] "
		    "[--ring split|packed] -- EAL-ARGS");
	/* EAL arguments follow "--": argv[optind - 1] becomes the program name */
	eal_argc = argc - optind + 1;
	eal_argv = argv + optind - 1;
	eal_argv[0] = argv[0];
	if (rte_eal_init(eal_argc, eal_argv) < 0)
		die("rte_eal_init failed");
	g.fe_pool = rte_pktmbuf_pool_create("fe", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!g.fe_pool)
		die("cannot create the mbuf pool");
	unic_dev_open(sock0, !strcmp(ring, "packed"));
	dpdk_open(sock1, !strcmp(ring, "packed"));
	run_groups(groups, ms);
	unic_close(g.udev);
	rte_eth_dev_stop(g.dpdk_port);
	rte_eth_dev_close(g.dpdk_port);
	rte_eal_cleanup();
	return 0;
}
