/*
 * unic-lab-rss - RSS across receive queues, with two NICs back to back.
 *
 *   unic-lab-rss [--queues Q] [--flows F] [--per-flow N] [--vary-ip] [--size B]
 *                [--rx-buf B --expect-drop] [--timeout S] TXSPEC RXSPEC
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
 * Prints the per-queue counts, the counters, and "RSS OK" or "RSS FAIL".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
		{ 0 },
	};
	uint32_t nq = 4, flows = 64, per_flow = 100, q;
	double timeout = 60, t0, last;
	int16_t flow_queue[MAX_FLOWS];
	uint64_t sent = 0, received = 0, bad = 0, dropped = 0, split = 0, nohash = 0, total, qcount[MAX_QUEUES] = { 0 }, progress = 0;
	struct unic_dev *tx, *rx;
	struct unic_stats ts, rs;
	uint8_t dst[6], src[6];
	bool ok = true, expect_drop = false;
	uint16_t rx_buf = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': nq = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'f': flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': per_flow = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': timeout = strtod(optarg, NULL); break;
		case 'v': vary_ip = true; break;
		case 's': frame = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': rx_buf = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'd': expect_drop = true; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || !nq || nq > MAX_QUEUES || !flows || flows > MAX_FLOWS || !per_flow ||
	    frame < FRAME_MIN || frame > FRAME_MAX) {
		fprintf(stderr, "usage: unic-lab-rss [--queues Q] [--flows F] [--per-flow N] [--vary-ip] [--size B] "
				"[--rx-buf B --expect-drop] [--timeout S] TXSPEC RXSPEC\n");
		return 2;
	}
	payload = frame - HDRS;
	total = (uint64_t)flows * per_flow;
	memset(flow_queue, 0xff, sizeof flow_queue);
	tx = open_dev(argv[optind], 1, 0);
	rx = tx ? open_dev(argv[optind + 1], (uint16_t)nq, rx_buf) : NULL;
	if (!rx) {
		if (tx)
			unic_close(tx);
		printf("RSS FAIL: cannot open the devices\n");
		return 1;
	}
	unic_mac(rx, dst);
	unic_mac(tx, src);
	t0 = last = now();
	while (received + bad + dropped < total && now() - t0 < timeout && now() - last < STALL_SECONDS) {
		struct unic_buf *bufs[BURST];
		uint32_t n = BURST, i;

		if (sent < total && sent - received - bad - dropped + BURST <= WINDOW) {
			if (n > total - sent)
				n = (uint32_t)(total - sent);
			if (unic_buf_alloc_bulk(unic_dev_mempool(tx), bufs, n) == n) {
				uint16_t taken;
				for (i = 0; i < n; i++) {
					uint64_t k = sent + i;
					build(unic_buf_data(bufs[i]), dst, src, (uint32_t)(k % flows), (uint32_t)(k / flows));
					bufs[i]->len = (uint16_t)frame;
				}
				taken = unic_tx_burst(tx, 0, bufs, (uint16_t)n);
				unic_buf_free_bulk(bufs + taken, n - taken);
				sent += taken;
			}
		}
		for (q = 0; q < nq; q++) {
			uint16_t got = unic_rx_burst(rx, (uint16_t)q, bufs, BURST);
			for (i = 0; i < got; i++) {
				long f = parse(unic_buf_data(bufs[i]), bufs[i]->len, flows, per_flow);
				if (f < 0 || bufs[i]->rx_queue != q) {
					bad++;
					continue;
				}
				if (flow_queue[f] < 0)
					flow_queue[f] = (int16_t)q;
				else if (flow_queue[f] != (int16_t)q)
					split++;
				if (!bufs[i]->rss_hash)
					nohash++;
				qcount[q]++;
				received++;
			}
			unic_buf_free_bulk(bufs, got);
		}
		if (expect_drop && unic_stats(rx, &rs) == 0)
			dropped = rs.rx_dropped;
		if (sent + received + dropped != progress) {
			progress = sent + received + dropped;
			last = now();
		}
	}
	unic_stats(tx, &ts);
	unic_stats(rx, &rs);
	for (q = 0; q < nq; q++) {
		struct unic_queue_stats qst;
		uint64_t qs = unic_queue_stats(rx, (uint16_t)q, &qst) ? 0 : qst.rx_packets;
		printf("RSS queue %u: received=%llu queue_stats=%llu\n", q, (unsigned long long)qcount[q],
		       (unsigned long long)qs);
		if ((!qcount[q] && !expect_drop) || qs != qcount[q])
			ok = false;
	}
	printf("RSS flows=%u sent=%llu received=%llu bad=%llu flows_split=%llu no_hash=%llu\n", flows,
	       (unsigned long long)sent, (unsigned long long)received, (unsigned long long)bad,
	       (unsigned long long)split, (unsigned long long)nohash);
	printf("RSS counters: tx sw=%llu hw(GPTC)=%llu; rx sw=%llu hw(GPRC)=%llu missed=%llu bad_device=%llu/%llu\n",
	       (unsigned long long)ts.tx_packets, (unsigned long long)ts.hw_tx_packets,
	       (unsigned long long)rs.rx_packets, (unsigned long long)rs.hw_rx_packets,
	       (unsigned long long)rs.hw_rx_missed, (unsigned long long)ts.bad_device, (unsigned long long)rs.bad_device);
	printf("RSS rx_dropped=%llu rx_errors=%llu\n", (unsigned long long)rs.rx_dropped, (unsigned long long)rs.rx_errors);
	if (expect_drop)
		ok = ok && sent == total && received == 0 && !bad && rs.rx_dropped == sent && rs.rx_packets == 0 &&
		     ts.hw_tx_packets == sent && rs.hw_rx_packets == sent && !ts.bad_device && !rs.bad_device;
	else
		ok = ok && received == total && !bad && !split && !nohash && ts.tx_packets == sent &&
		     ts.hw_tx_packets == sent && rs.rx_packets == received && rs.hw_rx_packets == received &&
		     !rs.rx_dropped && !ts.bad_device && !rs.bad_device;
	printf("RSS %s\n", ok ? "OK" : "FAIL");
	unic_close(rx);
	unic_close(tx);
	return ok ? 0 : 1;
}
