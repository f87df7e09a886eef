/*
 * unic-lab-b2b - two NICs wired back to back, driven by one process.
 *
 *   unic-lab-b2b [--count N] [--size BYTES] [--mtu MTU] [--buf-size B] [--batch N] [--window N] [--timeout S]
 *                TXSPEC RXSPEC
 *
 * Sends N frames of SIZE bytes (without FCS, 60..1514, or up to MTU + 14 with --mtu:
 * both devices are opened with unic_config.mtu = MTU, and buf_size = B when given) from TXSPEC to RXSPEC's MAC
 * and polls RXSPEC in the same loop. Each frame carries a magic, a sequence
 * number and a checksum of its payload. At most WINDOW frames are in flight,
 * so a slow emulated receiver is not flooded. Checks: every frame received,
 * none corrupted, none duplicated, all in order, and both devices' counters
 * agree (tx_packets on TX == rx_packets on RX == N). One summary line; exit 0
 * only when everything matches. Bounded: TIMEOUT seconds (default 120) in all,
 * and 5 s without progress.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbin.h"
#include "unic.h"

#define ETH_HLEN 14
#define ETH_MIN 60
#define ETH_MAX 1514
#define ETHERTYPE_LOCAL 0x88b5 /* IEEE 802 local experimental ethertype */
#define MAGIC 0x554e4943u      /* "UNIC" */
#define STALL_SECONDS 5.0

/* Payload after the Ethernet header. */
struct b2b_hdr {
	uint32_t magic;
	uint32_t csum;  /* FNV-1a of the bytes after this header */
	uint64_t seq;
} __attribute__((packed));

struct opts {
	uint64_t count;
	unsigned size, batch, window, mtu, buf_size;
	double timeout;
	const char *tx_spec, *rx_spec;
};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void build_frame(uint8_t *f, unsigned size, const uint8_t dst[6], const uint8_t src[6], uint64_t seq)
{
	struct b2b_hdr h = { .magic = MAGIC, .seq = seq };
	uint8_t *pl = f + ETH_HLEN + sizeof h;
	unsigned i, n = size - ETH_HLEN - (unsigned)sizeof h;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE_LOCAL >> 8;
	f[13] = ETHERTYPE_LOCAL & 0xff;
	for (i = 0; i < n; i++)
		pl[i] = (uint8_t)(seq * 131 + i * 7);
	h.csum = fnv1a(pl, n);
	memcpy(f + ETH_HLEN, &h, sizeof h);
}

/* 1: good frame with *seq; 0: not ours (ignored); -1: ours but corrupted. */
static int check_frame(const uint8_t *f, unsigned len, unsigned size, uint64_t *seq)
{
	struct b2b_hdr h;

	if (len < ETH_HLEN + sizeof h || f[12] != (ETHERTYPE_LOCAL >> 8) || f[13] != (ETHERTYPE_LOCAL & 0xff))
		return 0;
	memcpy(&h, f + ETH_HLEN, sizeof h);
	if (h.magic != MAGIC || len != size)
		return -1;
	if (fnv1a(f + ETH_HLEN + sizeof h, len - ETH_HLEN - sizeof h) != h.csum)
		return -1;
	*seq = h.seq;
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: unic-lab-b2b [--count N] [--size BYTES] [--mtu MTU] [--buf-size B] [--batch N] "
			"[--window N] [--timeout S] TXSPEC RXSPEC\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "count", 1, 0, 'c' }, { "size", 1, 0, 's' }, { "batch", 1, 0, 'b' },
		{ "window", 1, 0, 'w' }, { "timeout", 1, 0, 't' }, { "mtu", 1, 0, 'm' }, { "buf-size", 1, 0, 'B' },
		{ 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ .count = 1000, .size = 64, .batch = 32, .window = 192, .timeout = 120 };
	while ((c = getopt_long(argc, argv, "c:s:b:w:t:m:B:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->count = strtoull(optarg, NULL, 0); break;
		case 's': o->size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': o->batch = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': o->window = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': o->timeout = strtod(optarg, NULL); break;
		case 'm': o->mtu = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'B': o->buf_size = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || o->size < ETH_MIN || o->size > (o->mtu ? o->mtu + ETH_HLEN : ETH_MAX) ||
	    o->mtu > UINT16_MAX || o->buf_size > UINT16_MAX || o->batch == 0 || o->batch > 256 ||
	    o->window < o->batch || o->count == 0)
		usage();
	o->tx_spec = argv[optind];
	o->rx_spec = argv[optind + 1];
}

struct result {
	uint64_t sent, received, dup, corrupt, reorder, foreign, alloc_fail;
	uint64_t last_seq;
	bool any;
	uint8_t *seen; /* one bit per sequence number */
};

static void receive(struct unic_dev *rx, const struct opts *o, struct result *r)
{
	struct unic_buf *bufs[256];
	uint16_t n = unic_rx_burst(rx, 0, bufs, (uint16_t)o->batch), i;

	for (i = 0; i < n; i++) {
		uint64_t seq = 0;
		int v = check_frame(unic_buf_data(bufs[i]), bufs[i]->len, o->size, &seq);
		if (v == 0) {
			r->foreign++;
		} else if (v < 0 || seq >= o->count) {
			r->corrupt++;
		} else if (r->seen[seq / 8] & (1u << (seq % 8))) {
			r->dup++;
		} else {
			r->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
			if (r->any && seq < r->last_seq)
				r->reorder++;
			r->last_seq = seq;
			r->any = true;
			r->received++;
		}
	}
	unic_buf_free_bulk(bufs, n);
}

static void transmit(struct unic_dev *tx, const struct opts *o, const uint8_t dst[6], const uint8_t src[6],
		     struct result *r)
{
	struct unic_buf *bufs[256];
	uint64_t in_flight = r->sent - r->received - r->corrupt;
	uint32_t n = o->batch, i;
	uint16_t taken;

	if (r->sent >= o->count || in_flight + o->batch > o->window)
		return;
	if (n > o->count - r->sent)
		n = (uint32_t)(o->count - r->sent);
	if (unic_buf_alloc_bulk(unic_dev_mempool(tx), bufs, n) != n) {
		r->alloc_fail++;
		return;
	}
	for (i = 0; i < n; i++) {
		build_frame(unic_buf_data(bufs[i]), o->size, dst, src, r->sent + i);
		bufs[i]->len = (uint16_t)o->size;
	}
	taken = unic_tx_burst(tx, 0, bufs, (uint16_t)n);
	unic_buf_free_bulk(bufs + taken, n - taken);
	r->sent += taken;
}

static struct unic_dev *open_dev(const char *spec, const struct opts *o)
{
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	struct unic_dev *d;

	unic_config_init(&cfg);
	cfg.mtu = (uint16_t)o->mtu;
	cfg.buf_size = (uint16_t)o->buf_size;
	d = unic_open(spec, &cfg, err, sizeof err);
	if (!d)
		fprintf(stderr, "b2b: %s: %s\n", spec, err);
	return d;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct result r = { 0 };
	struct unic_dev *tx, *rx;
	struct unic_stats ts, rs;
	struct unic_info ti, ri;
	struct unic_link tl, rl;
	uint8_t dst[6], src[6];
	double t0, last_progress, elapsed;
	uint64_t progress = 0;
	bool ok;

	parse(argc, argv, &o);
	r.seen = calloc(o.count / 8 + 1, 1);
	tx = open_dev(o.tx_spec, &o);
	rx = tx ? open_dev(o.rx_spec, &o) : NULL;
	if (!tx || !rx || !r.seen) {
		printf("b2b FAIL: cannot open the devices\n");
		if (tx)
			unic_close(tx);
		return 1;
	}
	unic_mac(rx, dst);
	unic_mac(tx, src);
	unic_info(tx, &ti);
	unic_info(rx, &ri);
	t0 = last_progress = now();
	while (r.received + r.corrupt + r.dup < o.count) {
		double t;
		transmit(tx, &o, dst, src, &r);
		receive(rx, &o, &r);
		if (r.received + r.sent != progress) {
			progress = r.received + r.sent;
			last_progress = now();
			continue;
		}
		t = now();
		if (t - last_progress > STALL_SECONDS || t - t0 > o.timeout)
			break;
	}
	elapsed = now() - t0;
	unic_stats(tx, &ts);
	unic_stats(rx, &rs);
	ok = r.received == o.count && r.dup == 0 && r.corrupt == 0 && r.reorder == 0 && ts.tx_packets == o.count &&
	     rs.rx_packets == o.count && ts.bad_device == 0 && rs.bad_device == 0;
	printf("b2b %s->%s size=%u sent=%llu received=%llu lost=%llu dup=%llu corrupt=%llu reorder=%llu "
	       "tx_stats=%llu rx_stats=%llu bad_device=%llu/%llu time=%.1fs rate=%.0fpps %s\n",
	       ti.driver, ri.driver, o.size, (unsigned long long)r.sent, (unsigned long long)r.received,
	       (unsigned long long)(o.count - r.received), (unsigned long long)r.dup, (unsigned long long)r.corrupt,
	       (unsigned long long)r.reorder, (unsigned long long)ts.tx_packets, (unsigned long long)rs.rx_packets,
	       (unsigned long long)ts.bad_device, (unsigned long long)rs.bad_device, elapsed,
	       elapsed > 0 ? (double)r.received / elapsed : 0.0, ok ? "OK" : "FAIL");
	unic_link(tx, &tl);
	unic_link(rx, &rl);
	printf("b2b tx=%s link=%s [%s] rx=%s link=%s [%s]\n", ti.name, tl.up ? "up" : "down", ti.features, ri.name,
	       rl.up ? "up" : "down", ri.features);
	/* Hardware counters (0 when the device keeps none): TX's transmitted, RX's received and missed. */
	printf("b2b hw tx_packets=%llu rx_packets=%llu rx_missed=%llu\n", (unsigned long long)ts.hw_tx_packets,
	       (unsigned long long)rs.hw_rx_packets, (unsigned long long)rs.hw_rx_missed);
	unic_close(rx);
	unic_close(tx);
	free(r.seen);
	return ok ? 0 : 1;
}
