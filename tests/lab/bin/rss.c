/*
 * unic-lab-rss - RSS across receive queues, with two NICs back to back.
 *
 *   unic-lab-rss [--queues Q] [--threads T] [--set-rss l3|l4] [--flows F] [--per-flow N]
 *                [--vary-ip] [--size B] [--rx-buf B --expect-drop] [--timeout S] TXSPEC RXSPEC
 *
 * Opens RXSPEC with Q receive queues (default 4) and TXSPEC with one, then
 * sends F UDP/IPv4 flows (default 64; source ports 40000..40000+F-1) of N
 * frames each (default 100), round robin, polling every receive queue. With
 * --vary-ip each flow also has its own source address (10.0.0.1 + flow), for
 * chips that hash IPv4 addresses but not UDP ports (82574). Checks:
 *   - every frame arrives intact (sequence number and payload);
 *   - each flow lands on one queue only (the hash is per flow), with a nonzero
 *     RSS hash;
 *   - no queue stays empty (per-queue counts via unic_queue_stats);
 *   - the hardware counters agree with unic's software counts
 *     (hw_tx_packets on TX == tx_packets == sent; hw_rx_packets on RX ==
 *     rx_packets == received).
 * Frames are 64 bytes, or --size bytes (64..1514). With --rx-buf B the receiver's
 * buffers hold B bytes (unic_config.buf_size); with --expect-drop frames larger
 * than that must all be dropped and counted (rx_dropped == sent, nothing
 * delivered, hw_rx_packets == sent, bad_device 0): the device splits them over
 * several descriptors and the driver drops such frames, never aborting.
 * With --threads T the receive queues are polled by T threads (thread t polls the
 * queues q with q % T == t, pinned to CPU t % CPUs), the main thread only sends: each
 * frame must still arrive exactly once (one bit per frame, set atomically).
 * With --set-rss the receiver gets its own Toeplitz key and a redirection table other
 * than the default (unic_set_rss), and every frame must show both in effect: its RSS
 * hash equals the Toeplitz hash of its IPv4 addresses (l3) or addresses and UDP ports
 * (l4) under that key, and it arrived on the queue the table names for that hash.
 * Prints the per-queue counts, the counters, and "RSS OK" or "RSS FAIL".
 */
/* _GNU_SOURCE (the build defines it): sched_getcpu, pthread_setaffinity_np */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labbin.h"
#include "unic.h"

#define ETH_HLEN 14
#define IP_HLEN 20
#define UDP_HLEN 8
#define HDRS (ETH_HLEN + IP_HLEN + UDP_HLEN)
#define FRAME_MIN 64               /* payload: 4-byte flow, 4-byte sequence, pattern */
#define FRAME_MAX 1514
#define SRC_PORT0 40000
#define DST_PORT 4789
#define MAX_FLOWS 1024
#define MAX_QUEUES 16
#define MAX_THREADS 8
#define RSS_KEY_LEN 40
#define RSS_RETA_MAX 512
#define BURST 32
#define WINDOW 256
#define STALL_SECONDS 5.0

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static uint16_t ip_csum(const uint8_t *h)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i < IP_HLEN; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool vary_ip;
static unsigned frame = FRAME_MIN, payload = FRAME_MIN - HDRS;

static void build(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t flow, uint32_t seq)
{
	uint8_t *ip = f + ETH_HLEN, *udp = ip + IP_HLEN, *pl = udp + UDP_HLEN;
	unsigned i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;                       /* IPv4, 20-byte header */
	put16(ip + 2, (uint32_t)(IP_HLEN + UDP_HLEN + payload));
	ip[8] = 64;                         /* TTL */
	ip[9] = 17;                         /* UDP */
	put32(ip + 12, 0x0a000001 + (vary_ip ? flow : 0)); /* 10.0.0.1 (+ flow) */
	put32(ip + 16, 0x0a000002);         /* 10.0.0.2 */
	put16(ip + 10, ip_csum(ip));
	put16(udp, SRC_PORT0 + flow);
	put16(udp + 2, DST_PORT);
	put16(udp + 4, (uint32_t)(UDP_HLEN + payload));
	put16(udp + 6, 0);                  /* no UDP checksum (allowed over IPv4) */
	put32(pl, flow);
	put32(pl + 4, seq);
	for (i = 8; i < payload; i++)
		pl[i] = (uint8_t)(flow * 7 + seq * 13 + i);
}

/* Flow number of an intact frame of ours, or -1. */
static long parse(const uint8_t *f, unsigned len, uint32_t flows, uint32_t per_flow)
{
	const uint8_t *pl = f + HDRS;
	uint32_t flow, seq;
	unsigned i;

	if (len != frame || f[12] != 0x08 || f[13] != 0x00 || f[ETH_HLEN + 9] != 17)
		return -1;
	flow = get32(pl);
	seq = get32(pl + 4);
	if (flow >= flows || seq >= per_flow || (f[ETH_HLEN + IP_HLEN] << 8 | f[ETH_HLEN + IP_HLEN + 1]) != SRC_PORT0 + (int)flow)
		return -1;
	for (i = 8; i < payload; i++)
		if (pl[i] != (uint8_t)(flow * 7 + seq * 13 + i))
			return -1;
	return flow;
}

/* Toeplitz hash (Microsoft RSS): for each set input bit, XOR the 32 key bits starting there. */
static uint32_t toeplitz(const uint8_t *key, const uint8_t *in, unsigned n)
{
	uint32_t r = 0, win = get32(key);
	unsigned i, b;

	for (i = 0; i < n; i++)
		for (b = 0; b < 8; b++) {
			if (in[i] & (0x80u >> b))
				r ^= win;
			win = win << 1 | ((key[i + 4] >> (7 - b)) & 1u);
		}
	return r;
}

/* What the receiver and its threads share; counters are updated atomically. */
struct run {
	struct unic_dev *rx;
	uint32_t nq, flows, per_flow, nthreads;
	int16_t flow_queue[MAX_FLOWS];
	uint8_t *seen;                 /* one bit per frame (flow, seq) */
	uint64_t received, bad, dup, split, nohash, hash_wrong, queue_wrong, qcount[MAX_QUEUES];
	int hash_l4;                   /* -1: no check; 0: addresses; 1: addresses and ports */
	uint8_t key[RSS_KEY_LEN];
	uint16_t reta[RSS_RETA_MAX];
	uint16_t reta_size;
	volatile int stop;
	int cpu[MAX_THREADS];
};

static void add(uint64_t *c, uint64_t n) { __atomic_fetch_add(c, n, __ATOMIC_RELAXED); }
static uint64_t get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

/* The frame's hash and queue follow the key and table we set. */
static void check_rss(struct run *r, const uint8_t *f, uint32_t hash, uint16_t q)
{
	uint8_t in[12];

	memcpy(in, f + ETH_HLEN + 12, 8);              /* source and destination address */
	memcpy(in + 8, f + ETH_HLEN + IP_HLEN, 4);     /* source and destination port */
	if (toeplitz(r->key, in, r->hash_l4 ? 12 : 8) != hash)
		add(&r->hash_wrong, 1);
	if (r->reta[hash & (r->reta_size - 1u)] != q) /* the low hash bits index the table (a power of two) */
		add(&r->queue_wrong, 1);
}

static void take(struct run *r, uint32_t q, struct unic_buf *b)
{
	long f = parse(unic_buf_data(b), b->len, r->flows, r->per_flow);
	int16_t none = -1;
	uint64_t k;

	if (f < 0 || b->rx_queue != q) {
		add(&r->bad, 1);
		return;
	}
	k = (uint64_t)f * r->per_flow + get32((const uint8_t *)unic_buf_data(b) + HDRS + 4);
	if (__atomic_fetch_or(&r->seen[k / 8], (uint8_t)(1u << (k % 8)), __ATOMIC_RELAXED) & (1u << (k % 8))) {
		add(&r->dup, 1);
		return;
	}
	if (!__atomic_compare_exchange_n(&r->flow_queue[f], &none, (int16_t)q, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
	    none != (int16_t)q)
		add(&r->split, 1);
	if (!b->rss_hash)
		add(&r->nohash, 1);
	if (r->hash_l4 >= 0)
		check_rss(r, unic_buf_data(b), b->rss_hash, (uint16_t)q);
	add(&r->qcount[q], 1);
	add(&r->received, 1);
}

static uint32_t poll_queue(struct run *r, uint32_t q)
{
	struct unic_buf *bufs[BURST];
	uint16_t got = unic_rx_burst(r->rx, (uint16_t)q, bufs, BURST), i;

	for (i = 0; i < got; i++)
		take(r, q, bufs[i]);
	unic_buf_free_bulk(bufs, got);
	return got;
}

struct worker {
	struct run *r;
	uint32_t id;
	pthread_t th;
};

/* Receiver thread t: the queues q with q % T == t, on CPU t (as far as there are CPUs). */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	uint32_t q;

	CPU_ZERO(&set);
	CPU_SET((int)(w->id % (uint32_t)(ncpu > 0 ? ncpu : 1)), &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	r->cpu[w->id] = sched_getcpu();
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
		for (q = w->id; q < r->nq; q += r->nthreads)
			poll_queue(r, q);
	return NULL;
}

/* Our own key and a table other than the default round robin, through unic_set_rss. */
static int set_rss(struct run *r)
{
	struct unic_info info;
	uint32_t i;
	int rc;

	if (unic_info(r->rx, &info) || info.rss_key_len != RSS_KEY_LEN || !info.rss_reta_size ||
	    info.rss_reta_size > RSS_RETA_MAX || (info.rss_reta_size & (info.rss_reta_size - 1))) {
		printf("RSS set_rss: the device reports key %u bytes, table %u entries: not what this test drives\n",
		       info.rss_key_len, info.rss_reta_size);
		return -1;
	}
	r->reta_size = info.rss_reta_size;
	for (i = 0; i < RSS_KEY_LEN; i++)
		r->key[i] = (uint8_t)(i * 29 + 7);
	for (i = 0; i < r->reta_size; i++)
		r->reta[i] = (uint16_t)((r->nq - 1) - (i / 3) % r->nq);
	rc = unic_set_rss(r->rx, r->key, RSS_KEY_LEN, r->reta, r->reta_size);
	printf("RSS set_rss: key of %u bytes, table of %u entries (queue = nq-1 - (i/3) %% nq): %d%s%s\n", RSS_KEY_LEN,
	       r->reta_size, rc, rc ? " " : "", rc ? unic_last_error(r->rx) : "");
	return rc;
}

static struct unic_dev *open_dev(const char *spec, uint16_t rxq, uint16_t buf_size)
{
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	struct unic_dev *d;

	unic_config_init(&cfg);
	cfg.rx_queues = rxq;
	cfg.buf_size = buf_size;
	d = unic_open(spec, &cfg, err, sizeof err);
	if (!d)
		printf("ERROR %s: %s\n", spec, err);
	return d;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "queues", 1, 0, 'q' }, { "flows", 1, 0, 'f' }, { "per-flow", 1, 0, 'n' }, { "timeout", 1, 0, 't' },
		{ "vary-ip", 0, 0, 'v' }, { "size", 1, 0, 's' }, { "rx-buf", 1, 0, 'r' }, { "expect-drop", 0, 0, 'd' },
		{ "threads", 1, 0, 'T' }, { "set-rss", 1, 0, 'k' }, { 0 },
	};
	static struct run run = { .nq = 4, .flows = 64, .per_flow = 100, .hash_l4 = -1 };
	static struct worker workers[MAX_THREADS];
	struct run *r = &run;
	double timeout = 60, t0, last;
	uint64_t sent = 0, dropped = 0, total, progress = 0, done = 0;
	struct unic_dev *tx;
	struct unic_stats ts, rs;
	uint8_t dst[6], src[6];
	bool ok = true, expect_drop = false, want_rss = false;
	uint16_t rx_buf = 0;
	uint32_t q, t;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': r->nq = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'f': r->flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': r->per_flow = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': timeout = strtod(optarg, NULL); break;
		case 'v': vary_ip = true; break;
		case 's': frame = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': rx_buf = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'd': expect_drop = true; break;
		case 'T': r->nthreads = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'k': want_rss = true; r->hash_l4 = !strcmp(optarg, "l4") ? 1 : !strcmp(optarg, "l3") ? 0 : -2; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || !r->nq || r->nq > MAX_QUEUES || !r->flows || r->flows > MAX_FLOWS || !r->per_flow ||
	    frame < FRAME_MIN || frame > FRAME_MAX || r->nthreads > MAX_THREADS || r->nthreads > r->nq || r->hash_l4 < -1) {
		fprintf(stderr, "usage: unic-lab-rss [--queues Q] [--threads T] [--set-rss l3|l4] [--flows F] [--per-flow N] "
				"[--vary-ip] [--size B] [--rx-buf B --expect-drop] [--timeout S] TXSPEC RXSPEC\n");
		return 2;
	}
	payload = frame - HDRS;
	total = (uint64_t)r->flows * r->per_flow;
	memset(r->flow_queue, 0xff, sizeof r->flow_queue);
	r->seen = calloc(total / 8 + 1, 1);
	tx = r->seen ? open_dev(argv[optind], 1, 0) : NULL;
	r->rx = tx ? open_dev(argv[optind + 1], (uint16_t)r->nq, rx_buf) : NULL;
	if (!r->rx || (want_rss && set_rss(r))) {
		if (r->rx)
			unic_close(r->rx);
		if (tx)
			unic_close(tx);
		printf("RSS FAIL: cannot open the devices\n");
		return 1;
	}
	unic_mac(r->rx, dst);
	unic_mac(tx, src);
	for (t = 0; t < r->nthreads; t++) {
		workers[t] = (struct worker){ .r = r, .id = t };
		pthread_create(&workers[t].th, NULL, worker_main, &workers[t]);
	}
	t0 = last = now();
	while (done < total && now() - t0 < timeout && now() - last < STALL_SECONDS) {
		struct unic_buf *bufs[BURST];
		uint32_t n = BURST, i;

		if (sent < total && sent - done + BURST <= WINDOW) {
			if (n > total - sent)
				n = (uint32_t)(total - sent);
			if (unic_buf_alloc_bulk(unic_dev_mempool(tx), bufs, n) == n) {
				uint16_t taken;
				for (i = 0; i < n; i++) {
					uint64_t k = sent + i;
					build(unic_buf_data(bufs[i]), dst, src, (uint32_t)(k % r->flows), (uint32_t)(k / r->flows));
					bufs[i]->len = (uint16_t)frame;
				}
				taken = unic_tx_burst(tx, 0, bufs, (uint16_t)n);
				unic_buf_free_bulk(bufs + taken, n - taken);
				sent += taken;
			}
		}
		for (q = 0; !r->nthreads && q < r->nq; q++)
			poll_queue(r, q);
		if (expect_drop && unic_stats(r->rx, &rs) == 0)
			dropped = rs.rx_dropped;
		done = get(&r->received) + get(&r->bad) + get(&r->dup) + dropped;
		if (sent + done != progress) {
			progress = sent + done;
			last = now();
		}
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	for (t = 0; t < r->nthreads; t++) {
		pthread_join(workers[t].th, NULL);
		printf("RSS thread %u: cpu %d, queues", t, r->cpu[t]);
		for (q = t; q < r->nq; q += r->nthreads)
			printf(" %u", q);
		printf("\n");
	}
	unic_stats(tx, &ts);
	unic_stats(r->rx, &rs);
	for (q = 0; q < r->nq; q++) {
		struct unic_queue_stats qst;
		uint64_t qs = unic_queue_stats(r->rx, (uint16_t)q, &qst) ? 0 : qst.rx_packets;
		printf("RSS queue %u: received=%llu queue_stats=%llu\n", q, (unsigned long long)r->qcount[q],
		       (unsigned long long)qs);
		if ((!r->qcount[q] && !expect_drop) || qs != r->qcount[q])
			ok = false;
	}
	printf("RSS flows=%u sent=%llu received=%llu bad=%llu dup=%llu flows_split=%llu no_hash=%llu\n", r->flows,
	       (unsigned long long)sent, (unsigned long long)r->received, (unsigned long long)r->bad,
	       (unsigned long long)r->dup, (unsigned long long)r->split, (unsigned long long)r->nohash);
	if (want_rss)
		printf("RSS set_rss check (%s): hash_wrong=%llu queue_wrong=%llu\n", r->hash_l4 ? "l4" : "l3",
		       (unsigned long long)r->hash_wrong, (unsigned long long)r->queue_wrong);
	printf("RSS counters: tx sw=%llu hw(GPTC)=%llu; rx sw=%llu hw(GPRC)=%llu missed=%llu bad_device=%llu/%llu\n",
	       (unsigned long long)ts.tx_packets, (unsigned long long)ts.hw_tx_packets,
	       (unsigned long long)rs.rx_packets, (unsigned long long)rs.hw_rx_packets,
	       (unsigned long long)rs.hw_rx_missed, (unsigned long long)ts.bad_device, (unsigned long long)rs.bad_device);
	printf("RSS rx_dropped=%llu rx_errors=%llu\n", (unsigned long long)rs.rx_dropped, (unsigned long long)rs.rx_errors);
	if (expect_drop)
		ok = ok && sent == total && r->received == 0 && !r->bad && rs.rx_dropped == sent && rs.rx_packets == 0 &&
		     ts.hw_tx_packets == sent && rs.hw_rx_packets == sent && !ts.bad_device && !rs.bad_device;
	else
		ok = ok && r->received == total && !r->bad && !r->dup && !r->split && !r->nohash && ts.tx_packets == sent &&
		     ts.hw_tx_packets == sent && rs.rx_packets == r->received && rs.hw_rx_packets == r->received &&
		     !rs.rx_dropped && !ts.bad_device && !rs.bad_device && !r->hash_wrong && !r->queue_wrong;
	printf("RSS %s\n", ok ? "OK" : "FAIL");
	unic_close(r->rx);
	unic_close(tx);
	free(r->seen);
	return ok ? 0 : 1;
}
