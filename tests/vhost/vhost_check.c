/*
 * vhost_check - unic over vhost-user against a backend that echoes frames with
 * their MAC addresses swapped (dpdk-testpmd --forward-mode=macswap).
 *
 *   vhost_check [--count N] SPEC          send N frames (60..1514 bytes, each with a
 *                                         sequence number and a checksum), expect every
 *                                         one back, swapped and intact; exit 0 if so
 *   vhost_check --split ...               the same with cfg.no_packed_ring set: the split
 *                                         ring even when the backend offers the packed one
 *   vhost_check --until-gone S SPEC       exchange frames until the backend goes away
 *                                         (the caller kills it after "exchanging" is
 *                                         printed); exit 0 if unic reports it within S s
 *                                         (rx/tx return 0, unic_last_error says so,
 *                                         unic_stats and unic_link fail), 1 otherwise
 *   vhost_check --pair SPEC2 [--count N] SPEC
 *                                         one application pool (unic_mempool_create) for
 *                                         two devices, each on a backend that echoes: frames
 *                                         sent on one device come back on it, are forwarded
 *                                         as they are (zero copy) to the other, come back
 *                                         there and must equal, byte for byte, what was sent;
 *                                         both directions; exit 0 when all N arrived intact,
 *                                         every buffer was the pool's, tx_copied is 0 on
 *                                         both and every buffer is home after the closes
 * Never more than WINDOW frames in flight, so the echo always finds rx buffers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unic.h"

#define BURST 32
#define WINDOW 256                /* frames in flight: half the default rx ring */
#define ETH_HDR 14
#define ETHERTYPE_LOCAL 0x88b5    /* IEEE 802 local experimental ethertype */
#define MAGIC 0x554e4943u         /* "UNIC" */
#define MAGIC_WARMUP 0x57524d55u  /* "WRMU": a probe sent until the backend forwards */
#define WARMUP_TIMEOUT_S 15
#define WARMUP_INTERVAL_S 0.01
#define OFF_MAGIC ETH_HDR
#define OFF_SEQ (OFF_MAGIC + 4)
#define OFF_LEN (OFF_SEQ + 8)
#define OFF_DATA (OFF_LEN + 2)
#define MIN_FRAME 60
#define MAX_FRAME 1514
#define VERIFY_TIMEOUT_S 30

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long hugepages_free(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint16_t frame_len(uint64_t seq) { return (uint16_t)(MIN_FRAME + (seq * 97) % (MAX_FRAME - MIN_FRAME + 1)); }

static void build(struct unic_buf *b, const uint8_t mac[6], uint64_t seq, uint32_t magic)
{
	uint8_t *p = unic_buf_data(b);
	uint16_t len = frame_len(seq), i;
	uint32_t sum;

	memcpy(p, peer_mac, 6);
	memcpy(p + 6, mac, 6);
	p[12] = ETHERTYPE_LOCAL >> 8;
	p[13] = ETHERTYPE_LOCAL & 0xff;
	memcpy(p + OFF_MAGIC, &magic, 4);
	memcpy(p + OFF_SEQ, &seq, 8);
	memcpy(p + OFF_LEN, &len, 2);
	for (i = OFF_DATA; i < len - 4; i++)
		p[i] = (uint8_t)(seq * 31 + i);
	sum = fnv1a(p + OFF_MAGIC, (size_t)(len - 4 - OFF_MAGIC));
	memcpy(p + len - 4, &sum, 4);
	b->len = len;
}

/* 0 when the echo of a frame we sent is intact; else why not. */
static const char *verify(struct unic_buf *b, const uint8_t mac[6], uint64_t sent, uint8_t *seen, uint64_t *seq_out)
{
	const uint8_t *p = unic_buf_data(b);
	uint32_t magic, sum;
	uint64_t seq;
	uint16_t len;

	if (b->len < MIN_FRAME)
		return "short frame";
	memcpy(&magic, p + OFF_MAGIC, 4);
	memcpy(&seq, p + OFF_SEQ, 8);
	memcpy(&len, p + OFF_LEN, 2);
	if (magic != MAGIC || p[12] != (ETHERTYPE_LOCAL >> 8) || p[13] != (ETHERTYPE_LOCAL & 0xff))
		return "not one of our frames";
	if (memcmp(p, mac, 6) || memcmp(p + 6, peer_mac, 6))
		return "MAC addresses not swapped";
	if (seq >= sent || len != b->len || len != frame_len(seq))
		return "bad sequence number or length";
	memcpy(&sum, p + len - 4, 4);
	if (sum != fnv1a(p + OFF_MAGIC, (size_t)(len - 4 - OFF_MAGIC)))
		return "checksum mismatch";
	if (seen[seq])
		return "duplicate";
	seen[seq] = 1;
	*seq_out = seq;
	return NULL;
}

struct run {
	struct unic_dev *dev;
	struct unic_mempool *pool;
	uint8_t mac[6];
	uint64_t sent, received, bad, late_probes;
};

static bool is_probe(struct unic_buf *b)
{
	uint32_t magic;

	memcpy(&magic, (uint8_t *)unic_buf_data(b) + OFF_MAGIC, 4);
	return b->len >= MIN_FRAME && magic == MAGIC_WARMUP;
}

/*
 * A backend may drop what arrives before it forwards (testpmd flushes its queues
 * when forwarding starts): send probes until one comes back.
 */
static int warm_up(struct run *r)
{
	double t0 = now_s(), last = 0;
	uint64_t n = 0;

	while (now_s() - t0 < WARMUP_TIMEOUT_S) {
		struct unic_buf *b;
		uint16_t got, i;
		bool back = false;
		if (now_s() - last > WARMUP_INTERVAL_S && (b = unic_buf_alloc(r->pool))) {
			build(b, r->mac, n++, MAGIC_WARMUP);
			if (unic_tx_burst(r->dev, 0, &b, 1) != 1)
				unic_buf_free(b);
			last = now_s();
		}
		{
			struct unic_buf *bufs[BURST];
			got = unic_rx_burst(r->dev, 0, bufs, BURST);
			for (i = 0; i < got; i++)
				back |= is_probe(bufs[i]);
			unic_buf_free_bulk(bufs, got);
		}
		if (back) {
			printf("backend forwards after %.2f s (%llu probes)\n", now_s() - t0, (unsigned long long)n);
			return 0;
		}
	}
	printf("no probe came back within %d s: %s\n", WARMUP_TIMEOUT_S, unic_last_error(r->dev));
	return 1;
}

/* Sends up to want frames (fewer if the window is full); returns how many went. */
static uint16_t send_some(struct run *r, uint64_t limit)
{
	struct unic_buf *bufs[BURST];
	uint64_t room = WINDOW - (r->sent - r->received), left = limit - r->sent;
	uint16_t n = (uint16_t)(room < left ? room : left), i, sent;

	if (n > BURST)
		n = BURST;
	if (n == 0 || unic_buf_alloc_bulk(r->pool, bufs, n) != n)
		return 0;
	for (i = 0; i < n; i++)
		build(bufs[i], r->mac, r->sent + i, MAGIC);
	sent = unic_tx_burst(r->dev, 0, bufs, n);
	unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent)); /* rebuilt with the same numbers next time */
	r->sent += sent;
	return sent;
}

static uint16_t receive_some(struct run *r, uint8_t *seen, bool check)
{
	struct unic_buf *bufs[BURST];
	uint16_t n = unic_rx_burst(r->dev, 0, bufs, BURST), i, probes = 0;

	for (i = 0; i < n; i++) {
		uint64_t seq;
		const char *why;
		if (is_probe(bufs[i])) { /* a late echo of a warm-up probe */
			r->late_probes++;
			probes++;
			continue;
		}
		why = check ? verify(bufs[i], r->mac, r->sent, seen, &seq) : NULL;
		if (why) {
			if (r->bad++ < 5)
				printf("bad frame (len %u): %s\n", bufs[i]->len, why);
		}
	}
	unic_buf_free_bulk(bufs, n);
	r->received += (uint16_t)(n - probes);
	return n;
}

static int verify_run(struct run *r, uint64_t count)
{
	uint8_t *seen = calloc(count ? count : 1, 1);
	double t0 = now_s();
	struct unic_stats st, base;

	if (!seen || unic_stats(r->dev, &base) < 0)
		return 1;
	while (r->received < count && now_s() - t0 < VERIFY_TIMEOUT_S) {
		send_some(r, count);
		receive_some(r, seen, true);
		if (unic_stats(r->dev, &st) < 0)
			break;
	}
	free(seen);
	if (unic_stats(r->dev, &st) < 0) {
		printf("unic_stats failed: %s\n", unic_last_error(r->dev));
		return 1;
	}
	printf("sent %llu, echoed %llu, bad %llu, lost %llu in %.2f s; stats: tx %llu rx %llu bad_device %llu\n",
	       (unsigned long long)r->sent, (unsigned long long)r->received, (unsigned long long)r->bad,
	       (unsigned long long)(count - r->received + r->bad), now_s() - t0, (unsigned long long)(st.tx_packets - base.tx_packets),
	       (unsigned long long)(st.rx_packets - base.rx_packets - r->late_probes), (unsigned long long)st.bad_device);
	return r->sent == count && r->received == count && r->bad == 0 && st.bad_device == 0 &&
			       st.tx_packets - base.tx_packets == count &&
			       st.rx_packets - base.rx_packets == count + r->late_probes ? 0 : 1;
}

static int gone_run(struct run *r, double seconds)
{
	double t0 = now_s(), t_gone = 0;
	bool told = false;
	struct unic_stats st;
	struct unic_link link;

	while (now_s() - t0 < seconds) {
		uint16_t s = send_some(r, UINT64_MAX), g = receive_some(r, NULL, false);
		if (!told && r->received >= 1000) {
			printf("exchanging\n");
			fflush(stdout);
			told = true;
		}
		if (r->sent - r->received >= WINDOW) /* the backend stopped echoing: let the window drain */
			r->received = r->sent - WINDOW / 2;
		if (s == 0 && g == 0 && unic_stats(r->dev, &st) < 0) {
			t_gone = now_s();
			break;
		}
	}
	if (!t_gone) {
		printf("backend gone not reported within %.0f s (last error: '%s')\n", seconds, unic_last_error(r->dev));
		return 1;
	}
	printf("gone reported: %s\n", unic_last_error(r->dev));
	if (unic_link(r->dev, &link) >= 0 || send_some(r, UINT64_MAX) != 0 || receive_some(r, NULL, false) != 0) {
		printf("after the backend left, unic_link or a burst still succeeds\n");
		return 1;
	}
	/* the counters the device had survive it: unic_stats fails and still fills them in */
	memset(&st, 0, sizeof st);
	if (unic_stats(r->dev, &st) >= 0 || st.tx_packets < r->sent || st.rx_packets == 0) {
		printf("after the backend left, unic_stats lost the counters (tx %llu of %llu sent, rx %llu)\n",
		       (unsigned long long)st.tx_packets, (unsigned long long)r->sent, (unsigned long long)st.rx_packets);
		return 1;
	}
	printf("rx/tx return 0, unic_stats and unic_link fail, counters kept (tx %llu, rx %llu): ok\n",
	       (unsigned long long)st.tx_packets, (unsigned long long)st.rx_packets);
	return 0;
}

/* ---- --pair: two devices, one application pool ---- */
#define PAIR_POOL 4096 /* both rx rings (512 each) and the frames in flight */

struct pair {
	struct unic_dev *dev[2];
	struct unic_mempool *pool;
	uint8_t mac[2][6];
	uint64_t sent, arrived, forwarded, bad, foreign, fwd_dropped;
	uint8_t *seen;
};

/* Frame seq starts on device seq % 2 (as build() makes it with that device's MAC). */
static void pair_send(struct pair *pr, uint64_t count)
{
	struct unic_buf *b;
	int o;

	while (pr->sent < count && pr->sent - pr->arrived < WINDOW && (b = unic_buf_alloc(pr->pool))) {
		o = (int)(pr->sent % 2);
		build(b, pr->mac[o], pr->sent, MAGIC);
		if (unic_tx_burst(pr->dev[o], 0, &b, 1) != 1) {
			unic_buf_free(b);
			return;
		}
		pr->sent++;
	}
}

/* A frame back from its second echo: the bytes built for it, exactly. */
static const char *pair_verify(struct pair *pr, int x, struct unic_buf *b)
{
	struct unic_buf ref_buf;
	uint8_t room[UNIC_HEADROOM + MAX_FRAME];
	uint64_t seq;

	memcpy(&seq, (uint8_t *)unic_buf_data(b) + OFF_SEQ, 8);
	if (seq >= pr->sent || (int)(seq % 2) == x)
		return "bad sequence number, or back on the device that sent it";
	memset(&ref_buf, 0, sizeof ref_buf);
	ref_buf.room = room;
	ref_buf.data_off = UNIC_HEADROOM;
	build(&ref_buf, pr->mac[seq % 2], seq, MAGIC);
	if (b->len != ref_buf.len || memcmp(unic_buf_data(b), unic_buf_data(&ref_buf), b->len))
		return "bytes differ from the frame sent";
	if (pr->seen[seq]++)
		return "duplicate";
	return NULL;
}

/* Device x: first echoes go to the other device as they are, second echoes are checked. */
static void pair_receive(struct pair *pr, int x)
{
	struct unic_buf *bufs[BURST], *fwd[BURST], *done[BURST];
	uint16_t n = unic_rx_burst(pr->dev[x], 0, bufs, BURST), i, nf = 0, nd = 0, sent;

	for (i = 0; i < n; i++) {
		struct unic_buf *b = bufs[i];
		const uint8_t *p = unic_buf_data(b);
		const char *why = NULL;
		pr->foreign += b->pool != pr->pool;
		if (is_probe(b))
			done[nd++] = b;
		else if (b->len >= MIN_FRAME && !memcmp(p, pr->mac[x], 6))
			fwd[nf++] = b; /* swapped once: dst is this device */
		else {
			why = b->len >= MIN_FRAME && !memcmp(p, peer_mac, 6) ? pair_verify(pr, x, b) : "not one of our frames";
			pr->arrived++;
			done[nd++] = b;
		}
		if (why && pr->bad++ < 5)
			printf("bad frame on device %d (len %u): %s\n", x + 1, b->len, why);
	}
	sent = unic_tx_burst(pr->dev[!x], 0, fwd, nf);
	pr->forwarded += sent;
	pr->fwd_dropped += (uint16_t)(nf - sent);
	pr->arrived += (uint16_t)(nf - sent); /* lost: the window moves on */
	unic_buf_free_bulk(fwd + sent, (uint32_t)(nf - sent));
	unic_buf_free_bulk(done, nd);
}

static int pair_run(struct pair *pr, uint64_t count)
{
	struct unic_stats st[2];
	double t0 = now_s();
	uint64_t intact = 0, i;

	pr->seen = calloc(count ? count : 1, 1);
	if (!pr->seen)
		return 1;
	while (pr->arrived < count && now_s() - t0 < VERIFY_TIMEOUT_S) {
		pair_send(pr, count);
		pair_receive(pr, 0);
		pair_receive(pr, 1);
	}
	for (i = 0; i < count; i++)
		intact += pr->seen[i] == 1;
	free(pr->seen);
	if (unic_stats(pr->dev[0], &st[0]) < 0 || unic_stats(pr->dev[1], &st[1]) < 0) {
		printf("unic_stats failed\n");
		return 1;
	}
	printf("pair: sent %llu, forwarded %llu (dropped %llu), arrived intact %llu of %llu, bad %llu, buffers not "
	       "of the pool %llu, tx_copied %llu + %llu in %.2f s\n", (unsigned long long)pr->sent,
	       (unsigned long long)pr->forwarded, (unsigned long long)pr->fwd_dropped, (unsigned long long)intact,
	       (unsigned long long)count, (unsigned long long)pr->bad, (unsigned long long)pr->foreign,
	       (unsigned long long)st[0].tx_copied, (unsigned long long)st[1].tx_copied, now_s() - t0);
	return intact == count && pr->forwarded == count && pr->bad == 0 && pr->foreign == 0 &&
			       st[0].tx_copied == 0 && st[1].tx_copied == 0 && st[0].bad_device + st[1].bad_device == 0
		       ? 0 : 1;
}

static int pair_main(const char *spec1, const char *spec2, uint64_t count)
{
	struct pair pr = { 0 };
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	const char *specs[2] = { spec1, spec2 };
	long huge_before = hugepages_free();
	int i, rc = 1;

	pr.pool = unic_mempool_create(PAIR_POOL, 2048, err, sizeof err);
	if (!pr.pool) {
		printf("unic_mempool_create: %s\n", err);
		return 1;
	}
	unic_config_init(&cfg);
	cfg.pool = pr.pool;
	for (i = 0; i < 2; i++) {
		pr.dev[i] = unic_open(specs[i], &cfg, err, sizeof err);
		if (!pr.dev[i]) {
			printf("unic_open %s: %s\n", specs[i], err);
			break;
		}
		unic_mac(pr.dev[i], pr.mac[i]);
	}
	if (i == 2 && unic_dev_mempool(pr.dev[0]) == pr.pool && unic_dev_mempool(pr.dev[1]) == pr.pool) {
		struct run r0 = { .dev = pr.dev[0], .pool = pr.pool }, r1 = { .dev = pr.dev[1], .pool = pr.pool };
		memcpy(r0.mac, pr.mac[0], 6);
		memcpy(r1.mac, pr.mac[1], 6);
		printf("opened two devices on one pool of %u buffers, hugepages taken %ld\n", unic_mempool_size(pr.pool),
		       huge_before - hugepages_free());
		if (!warm_up(&r0) && !warm_up(&r1))
			rc = pair_run(&pr, count);
	}
	for (i = 0; i < 2; i++)
		unic_close(pr.dev[i]); /* NULL-safe */
	/* every buffer home: the rings' and the frames' */
	if (unic_mempool_free_count(pr.pool) != unic_mempool_size(pr.pool)) {
		printf("after both closes %u of %u buffers are home\n", unic_mempool_free_count(pr.pool),
		       unic_mempool_size(pr.pool));
		rc = 1;
	}
	unic_mempool_release(pr.pool);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "count", required_argument, NULL, 'c' },
					       { "until-gone", required_argument, NULL, 'g' },
					       { "split", no_argument, NULL, 's' },
					       { "pair", required_argument, NULL, 'p' },
					       { NULL, 0, NULL, 0 } };
	struct unic_config cfg;
	struct unic_info info;
	struct run r = { 0 };
	char err[UNIC_ERR_LEN];
	uint64_t count = 10000;
	double gone = 0, t;
	long huge_before;
	bool split = false;
	const char *pair = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:g:s", opts, NULL)) != -1) {
		if (c == 'c')
			count = strtoull(optarg, NULL, 10);
		else if (c == 'g')
			gone = atof(optarg);
		else if (c == 's')
			split = true;
		else if (c == 'p')
			pair = optarg;
		else
			return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: vhost_check [--split] [--pair SPEC2] [--count N | --until-gone S] "
			"vhost-user:PATH[,server]\n");
		return 2;
	}
	if (pair)
		return pair_main(argv[optind], pair, count);
	unic_config_init(&cfg);
	cfg.no_packed_ring = split;
	huge_before = hugepages_free();
	r.dev = unic_open(argv[optind], &cfg, err, sizeof err);
	if (!r.dev) {
		printf("unic_open: %s\n", err);
		return 1;
	}
	r.pool = unic_dev_mempool(r.dev);
	unic_mac(r.dev, r.mac);
	unic_info(r.dev, &info);
	printf("opened %s: %s, rings %u/%u, hugepages taken %ld\n", info.name, info.features, info.rx_ring_size,
	       info.tx_ring_size, huge_before - hugepages_free());
	fflush(stdout);
	rc = warm_up(&r);
	if (!rc)
		rc = gone > 0 ? gone_run(&r, gone) : verify_run(&r, count);
	t = now_s();
	unic_close(r.dev);
	printf("unic_close took %.3f s\n", now_s() - t);
	return rc;
}
