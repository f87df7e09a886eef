/*
 * vhost_check - unic over vhost-user against a backend that echoes frames with
 * their MAC addresses swapped (dpdk-testpmd --forward-mode=macswap), on every
 * queue pair (testpmd forwards rx queue q to tx queue q).
 *
 *   vhost_check [--count N] SPEC          send N frames (60..1514 bytes, each with a
 *                                         sequence number, its queue's mark and a
 *                                         pattern of both), expect every one back,
 *                                         swapped and byte for byte as sent; exit 0 if so
 *   vhost_check --queues Q ...            Q queue pairs, one thread each: N frames per
 *                                         queue; each must come back on the queue it was
 *                                         sent on, once, intact, and unic_queue_stats of
 *                                         each queue must equal what its thread counted
 *   vhost_check --split ...               the same with cfg.no_packed_ring set: the split
 *                                         ring even when the backend offers the packed one
 *   vhost_check --until-gone S SPEC       exchange frames until the backend goes away
 *                                         (the caller kills it after "exchanging" is
 *                                         printed); exit 0 if unic reports it within S s
 *                                         (rx/tx return 0, unic_last_error says so,
 *                                         unic_stats and unic_link fail), 1 otherwise
 *   vhost_check --queues N SPEC           (with any of the above) N queue pairs, one thread each
 *   vhost_check --pair SPEC2 [--count N] SPEC
 *                                         one application pool (unic_mempool_create) for
 *                                         two devices, each on a backend that echoes: frames
 *                                         sent on one device come back on it, are forwarded
 *                                         as they are (zero copy) to the other, come back
 *                                         there and must equal, byte for byte, what was sent;
 *                                         both directions; exit 0 when all N arrived intact,
 *                                         every buffer was the pool's, tx_copied is 0 on
 *                                         both and every buffer is home after the closes
 *   vhost_check --idle S SPEC             interrupts (issue 11): after the warm-up, queue 0
 *                                         idles S seconds in unic_rx_wait (the process's
 *                                         utime+stime from /proc/self/stat, printed, must
 *                                         stay under IDLE_CPU_MAX % of a CPU; then the same
 *                                         idle queue polled for POLL_S s, printed for
 *                                         contrast); then the queue is armed, one frame is
 *                                         sent, and the backend's echo must make the rx
 *                                         descriptor readable (its call eventfd) and arrive
 * Never more than WINDOW frames in flight per queue, so the echo always finds rx buffers.
 */
#include <poll.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unic.h"

#define BURST 32
#define WINDOW 256                /* frames in flight per queue: half the default rx ring */
#define MAX_QUEUES 16
#define ETH_HDR 14
#define ETHERTYPE_LOCAL 0x88b5    /* IEEE 802 local experimental ethertype */
#define MAGIC 0x554e4943u         /* "UNIC" */
#define MAGIC_WARMUP 0x57524d55u  /* "WRMU": a probe sent until the backend forwards */
#define WARMUP_TIMEOUT_S 15
#define WARMUP_INTERVAL_S 0.01
#define OFF_MAGIC ETH_HDR
#define OFF_SEQ (OFF_MAGIC + 4)
#define OFF_LEN (OFF_SEQ + 8)
#define OFF_QUEUE (OFF_LEN + 2)   /* the queue it was sent on: its mark */
#define OFF_DATA (OFF_QUEUE + 2)
#define MIN_FRAME 60
#define MAX_FRAME 1514
#define VERIFY_TIMEOUT_S 30
#define IDLE_CPU_MAX 2.0          /* % of a CPU an idle queue may use (issue 11) */
#define IDLE_WAIT_MS 1000         /* each unic_rx_wait of the idle loop */
#define POLL_S 2.0                /* the polled contrast */
#define WAKE_TIMEOUT_MS 5000      /* the echo must wake the sleeper within this */

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 2 MiB hugepages this process has mapped (HugetlbPages in /proc/self/status): its own, so
 * other processes taking or freeing hugepages meanwhile do not change the figure. */
static long hugepages_taken(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "HugetlbPages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 2048;
}

/* Lengths differ per queue too, so a frame of one queue never matches another's. */
static uint16_t frame_len(uint16_t q, uint64_t seq)
{
	return (uint16_t)(MIN_FRAME + (seq * 97 + q * 13) % (MAX_FRAME - MIN_FRAME + 1));
}

/* The bytes of frame (q, seq): dst, src, ethertype, magic, seq, len, queue, a pattern of both. */
static uint16_t fill(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t q, uint64_t seq, uint32_t magic)
{
	uint16_t len = frame_len(q, seq), i;

	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = ETHERTYPE_LOCAL >> 8;
	p[13] = ETHERTYPE_LOCAL & 0xff;
	memcpy(p + OFF_MAGIC, &magic, 4);
	memcpy(p + OFF_SEQ, &seq, 8);
	memcpy(p + OFF_LEN, &len, 2);
	memcpy(p + OFF_QUEUE, &q, 2);
	for (i = OFF_DATA; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i + q * 101u);
	return len;
}

struct run {
	struct unic_dev *dev;
	struct unic_mempool *pool;
	uint8_t mac[6];
	atomic_uint finished;     /* queue threads done */
};

/* One queue pair's side of the test: written by its own thread only. */
struct qrun {
	struct run *r;
	uint16_t q;
	uint64_t count;
	uint64_t sent, received, bad, late_probes;
	uint64_t sent_bytes, received_bytes, late_probe_bytes;
	uint8_t *seen;
	int rc;
	pthread_t thread;
};

static void build(struct qrun *qr, struct unic_buf *b, uint64_t seq, uint32_t magic)
{
	b->len = fill(unic_buf_data(b), peer_mac, qr->r->mac, qr->q, seq, magic);
}

/* NULL when b is the echo of a frame this queue sent, byte for byte; else why not. */
static const char *verify(struct qrun *qr, struct unic_buf *b)
{
	const uint8_t *p = unic_buf_data(b);
	uint8_t want[MAX_FRAME];
	uint32_t magic;
	uint64_t seq;
	uint16_t q;

	if (b->len < MIN_FRAME)
		return "short frame";
	memcpy(&magic, p + OFF_MAGIC, 4);
	memcpy(&seq, p + OFF_SEQ, 8);
	memcpy(&q, p + OFF_QUEUE, 2);
	if (magic != MAGIC || p[12] != (ETHERTYPE_LOCAL >> 8) || p[13] != (ETHERTYPE_LOCAL & 0xff))
		return "not one of our frames";
	if (q != qr->q)
		return "arrived on another queue than it was sent on";
	if (seq >= qr->sent || b->len != frame_len(q, seq))
		return "bad sequence number or length";
	fill(want, qr->r->mac, peer_mac, q, seq, MAGIC); /* as sent, MACs swapped */
	if (memcmp(p, want, b->len))
		return memcmp(p, want, 12) ? "MAC addresses not swapped" : "bytes differ from what was sent";
	if (qr->seen[seq])
		return "duplicate";
	qr->seen[seq] = 1;
	return NULL;
}

static bool is_probe(struct unic_buf *b)
{
	uint32_t magic;

	memcpy(&magic, (uint8_t *)unic_buf_data(b) + OFF_MAGIC, 4);
	return b->len >= MIN_FRAME && magic == MAGIC_WARMUP;
}

/*
 * A backend may drop what arrives before it forwards (testpmd flushes its queues
 * when forwarding starts; a queue pair past the first comes on a little later):
 * send probes on this queue until one comes back on it.
 */
static int warm_up(struct qrun *qr)
{
	double t0 = now_s(), last = 0;
	uint64_t n = 0;

	while (now_s() - t0 < WARMUP_TIMEOUT_S) {
		struct unic_buf *b, *bufs[BURST];
		uint16_t got, i;
		bool back = false;
		if (now_s() - last > WARMUP_INTERVAL_S && (b = unic_buf_alloc(qr->r->pool))) {
			build(qr, b, n++, MAGIC_WARMUP);
			if (unic_tx_burst(qr->r->dev, qr->q, &b, 1) != 1)
				unic_buf_free(b);
			last = now_s();
		}
		got = unic_rx_burst(qr->r->dev, qr->q, bufs, BURST);
		for (i = 0; i < got; i++)
			back |= is_probe(bufs[i]);
		unic_buf_free_bulk(bufs, got);
		if (back) {
			printf("queue %u: backend forwards after %.2f s (%llu probes)\n", qr->q, now_s() - t0,
			       (unsigned long long)n);
			return 0;
		}
	}
	printf("queue %u: no probe came back within %d s: %s\n", qr->q, WARMUP_TIMEOUT_S, unic_last_error(qr->r->dev));
	return 1;
}

/* Sends up to a burst (fewer if the window is full); returns how many went. */
static uint16_t send_some(struct qrun *qr, uint64_t limit)
{
	struct unic_buf *bufs[BURST];
	uint64_t room = WINDOW - (qr->sent - qr->received), left = limit - qr->sent;
	uint16_t n = (uint16_t)(room < left ? room : left), i, sent;

	if (n > BURST)
		n = BURST;
	if (n == 0 || unic_buf_alloc_bulk(qr->r->pool, bufs, n) != n)
		return 0;
	for (i = 0; i < n; i++)
		build(qr, bufs[i], qr->sent + i, MAGIC);
	sent = unic_tx_burst(qr->r->dev, qr->q, bufs, n);
	for (i = 0; i < sent; i++)
		qr->sent_bytes += bufs[i]->len;
	unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent)); /* rebuilt with the same numbers next time */
	qr->sent += sent;
	return sent;
}

static uint16_t receive_some(struct qrun *qr, bool check)
{
	struct unic_buf *bufs[BURST];
	uint16_t n = unic_rx_burst(qr->r->dev, qr->q, bufs, BURST), i, probes = 0;

	for (i = 0; i < n; i++) {
		const char *why;
		if (is_probe(bufs[i])) { /* a late echo of a warm-up probe */
			qr->late_probes++;
			qr->late_probe_bytes += bufs[i]->len;
			probes++;
			continue;
		}
		qr->received_bytes += bufs[i]->len;
		why = check ? verify(qr, bufs[i]) : NULL;
		if (why && qr->bad++ < 5)
			printf("queue %u: bad frame (len %u): %s\n", qr->q, bufs[i]->len, why);
	}
	unic_buf_free_bulk(bufs, n);
	qr->received += (uint16_t)(n - probes);
	return n;
}

#define DELTA(a, b, f) ((unsigned long long)((a).f - (b).f))

/* The queue's own counters against what its thread counted. */
static int check_queue_stats(struct qrun *qr, const struct unic_queue_stats *base)
{
	struct unic_queue_stats st;

	if (unic_queue_stats(qr->r->dev, qr->q, &st)) {
		printf("queue %u: unic_queue_stats failed\n", qr->q);
		return 1;
	}
	printf("queue %u: sent %llu (%llu bytes), echoed %llu (%llu bytes), bad %llu, lost %llu; unic_queue_stats: "
	       "tx %llu (%llu bytes) rx %llu (%llu bytes) rx_dropped %llu tx_dropped %llu bad_device %llu\n",
	       qr->q, (unsigned long long)qr->sent, (unsigned long long)qr->sent_bytes, (unsigned long long)qr->received,
	       (unsigned long long)qr->received_bytes, (unsigned long long)qr->bad,
	       (unsigned long long)(qr->count - qr->received + qr->bad), DELTA(st, *base, tx_packets),
	       DELTA(st, *base, tx_bytes), DELTA(st, *base, rx_packets) - qr->late_probes,
	       DELTA(st, *base, rx_bytes) - qr->late_probe_bytes, DELTA(st, *base, rx_dropped),
	       DELTA(st, *base, tx_dropped), DELTA(st, *base, bad_device));
	return st.tx_packets - base->tx_packets == qr->sent && st.tx_bytes - base->tx_bytes == qr->sent_bytes &&
			       st.rx_packets - base->rx_packets == qr->received + qr->late_probes &&
			       st.rx_bytes - base->rx_bytes == qr->received_bytes + qr->late_probe_bytes &&
			       st.rx_dropped == base->rx_dropped && st.tx_dropped == base->tx_dropped &&
			       st.bad_device == base->bad_device
		       ? 0 : 1;
}

/* A queue's thread: warm up, then count frames round trip; the queue is this thread's alone. */
static void *verify_queue(void *arg)
{
	struct qrun *qr = arg;
	struct unic_queue_stats base;
	double t0;

	qr->rc = 1;
	qr->seen = calloc(qr->count ? qr->count : 1, 1);
	if (!qr->seen || warm_up(qr) || unic_queue_stats(qr->r->dev, qr->q, &base))
		goto out;
	t0 = now_s();
	while (qr->received < qr->count && now_s() - t0 < VERIFY_TIMEOUT_S) {
		uint16_t s = send_some(qr, qr->count), g = receive_some(qr, true);
		struct unic_stats st;
		if (s == 0 && g == 0 && unic_stats(qr->r->dev, &st) < 0) /* the backend is gone */
			break;
	}
	printf("queue %u: %.2f s\n", qr->q, now_s() - t0);
	qr->rc = check_queue_stats(qr, &base) || qr->sent != qr->count || qr->received != qr->count || qr->bad;
out:
	free(qr->seen);
	atomic_fetch_add(&qr->r->finished, 1);
	return NULL;
}

/* Control calls from another thread while the queues run: they must neither disturb nor race. */
static unsigned poll_counters(struct run *r, uint16_t nq)
{
	unsigned polls = 0;
	uint16_t q;

	while (atomic_load(&r->finished) < nq) {
		struct unic_stats st;
		struct unic_queue_stats qs;
		if (unic_stats(r->dev, &st) < 0)
			break;
		for (q = 0; q < nq; q++)
			unic_queue_stats(r->dev, q, &qs);
		polls++;
		usleep(1000);
	}
	return polls;
}

/* One thread per queue pair; the main thread reads the device counters meanwhile (control calls). */
static int verify_run(struct run *r, uint16_t nq, uint64_t count)
{
	struct qrun qr[MAX_QUEUES];
	struct unic_stats st, base;
	uint64_t sent = 0, received = 0, probes = 0;
	int rc = 0;
	uint16_t q;

	if (unic_stats(r->dev, &base) < 0)
		return 1;
	for (q = 0; q < nq; q++) {
		qr[q] = (struct qrun){ .r = r, .q = q, .count = count };
		if (pthread_create(&qr[q].thread, NULL, verify_queue, &qr[q])) {
			printf("cannot start a thread\n");
			return 1;
		}
	}
	printf("main thread: unic_stats and unic_queue_stats read %u times while the queues ran\n",
	       poll_counters(r, nq));
	for (q = 0; q < nq; q++) {
		pthread_join(qr[q].thread, NULL);
		rc |= qr[q].rc;
		sent += qr[q].sent;
		received += qr[q].received;
		probes += qr[q].late_probes;
	}
	if (unic_stats(r->dev, &st) < 0) {
		printf("unic_stats failed: %s\n", unic_last_error(r->dev));
		return 1;
	}
	printf("all %u queues: sent %llu, echoed %llu; unic_stats: tx %llu rx %llu bad_device %llu: %s\n", nq,
	       (unsigned long long)sent, (unsigned long long)received, DELTA(st, base, tx_packets),
	       DELTA(st, base, rx_packets) - probes, (unsigned long long)st.bad_device, rc ? "FAILED" : "ok");
	/* warm-up probes went before the base: only the late echoes are in the delta */
	return rc || st.bad_device || st.tx_packets - base.tx_packets < sent ||
			       st.rx_packets - base.rx_packets < received + probes ? 1 : 0;
}

/* Every queue's bursts return 0 once the backend is gone. */
static bool all_stopped(struct qrun *qr, uint16_t nq)
{
	uint16_t q;

	for (q = 0; q < nq; q++)
		if (send_some(&qr[q], UINT64_MAX) != 0 || receive_some(&qr[q], false) != 0)
			return false;
	return true;
}

/* Frames on every queue (one thread: round robin) until the backend goes away. */
static int gone_run(struct run *r, uint16_t nq, double seconds)
{
	struct qrun qr[MAX_QUEUES];
	double t0, t_gone = 0;
	bool told = false;
	struct unic_stats st;
	struct unic_link link;
	uint64_t sent = 0;
	uint16_t q;

	for (q = 0; q < nq; q++) {
		qr[q] = (struct qrun){ .r = r, .q = q };
		if (warm_up(&qr[q]))
			return 1;
	}
	t0 = now_s();
	while (!t_gone && now_s() - t0 < seconds) {
		unsigned moved = 0;
		for (q = 0; q < nq; q++) {
			moved += send_some(&qr[q], UINT64_MAX) + receive_some(&qr[q], false);
			if (qr[q].sent - qr[q].received >= WINDOW) /* the backend stopped echoing: let the window drain */
				qr[q].received = qr[q].sent - WINDOW / 2;
		}
		if (!told && qr[nq - 1].received >= 1000) {
			printf("exchanging\n");
			fflush(stdout);
			told = true;
		}
		if (moved == 0 && unic_stats(r->dev, &st) < 0)
			t_gone = now_s();
	}
	if (!t_gone) {
		printf("backend gone not reported within %.0f s (last error: '%s')\n", seconds, unic_last_error(r->dev));
		return 1;
	}
	printf("gone reported: %s\n", unic_last_error(r->dev));
	if (unic_link(r->dev, &link) >= 0 || !all_stopped(qr, nq)) {
		printf("after the backend left, unic_link or a burst still succeeds\n");
		return 1;
	}
	/* the counters the device had survive it: unic_stats fails and still fills them in */
	memset(&st, 0, sizeof st);
	for (q = 0; q < nq; q++)
		sent += qr[q].sent;
	if (unic_stats(r->dev, &st) >= 0 || st.tx_packets < sent || st.rx_packets == 0) {
		printf("after the backend left, unic_stats lost the counters (tx %llu of %llu sent, rx %llu)\n",
		       (unsigned long long)st.tx_packets, (unsigned long long)sent, (unsigned long long)st.rx_packets);
		return 1;
	}
	printf("rx/tx of all %u queues return 0, unic_stats and unic_link fail, counters kept (tx %llu, rx %llu): ok\n",
	       nq, (unsigned long long)st.tx_packets, (unsigned long long)st.rx_packets);
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
		b->len = fill(unic_buf_data(b), peer_mac, pr->mac[o], 0, pr->sent, MAGIC);
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
	ref_buf.len = fill(unic_buf_data(&ref_buf), peer_mac, pr->mac[seq % 2], 0, seq, MAGIC);
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
		       hugepages_taken());
		struct qrun q0 = { .r = &r0 }, q1 = { .r = &r1 };
		if (!warm_up(&q0) && !warm_up(&q1))
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

/* utime + stime of this process in seconds: /proc/self/stat fields 14 and 15 (after the ")" of comm). */
static double cpu_s(void)
{
	char buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t rx_drop_all(struct unic_dev *dev)
{
	struct unic_buf *bufs[BURST];
	uint16_t got = unic_rx_burst(dev, 0, bufs, BURST);

	unic_buf_free_bulk(bufs, got);
	return got;
}

/* % of a CPU queue 0 uses for secs: sleeping in unic_rx_wait when asleep, else polling. -1 on error. */
static double idle_cpu(struct run *r, double secs, bool sleep, uint64_t *frames, uint64_t *wakes)
{
	double t0 = now_s(), c0 = cpu_s();
	int w;

	while (now_s() - t0 < secs) {
		uint64_t got = rx_drop_all(r->dev);
		*frames += got;
		if (got || !sleep)
			continue;
		if ((w = unic_rx_wait(r->dev, 0, IDLE_WAIT_MS)) < 0) {
			printf("unic_rx_wait: %s\n", unic_last_error(r->dev));
			return -1;
		}
		*wakes += (uint64_t)w;
	}
	return (cpu_s() - c0) / (now_s() - t0) * 100.0;
}

/* Armed, then one frame sent: its echo must make the descriptor readable. 0 on success. */
static int wake_on_echo(struct qrun *qr, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct unic_buf *b;
	double t0;
	int armed, ready;
	uint64_t got = 0;

	while ((armed = unic_rx_intr_enable(qr->r->dev, 0)) == 1) /* a late frame: take it, arm again */
		rx_drop_all(qr->r->dev);
	if (armed < 0 || !(b = unic_buf_alloc(qr->r->pool))) {
		printf("cannot arm queue 0 or get a buffer: %s\n", unic_last_error(qr->r->dev));
		return 1;
	}
	build(qr, b, 0, MAGIC);
	t0 = now_s();
	if (unic_tx_burst(qr->r->dev, 0, &b, 1) != 1) {
		unic_buf_free(b);
		printf("tx refused the frame: %s\n", unic_last_error(qr->r->dev));
		return 1;
	}
	ready = poll(&p, 1, WAKE_TIMEOUT_MS);
	unic_rx_intr_disable(qr->r->dev, 0);
	printf("armed and asleep, one frame sent: %s after %.3f ms\n",
	       ready == 1 ? "the echo woke the descriptor" : "NOT woken", (now_s() - t0) * 1e3);
	while (ready == 1 && !got && now_s() - t0 < WAKE_TIMEOUT_MS / 1e3)
		got = rx_drop_all(qr->r->dev);
	printf("the echo %s\n", got ? "was received" : "did NOT arrive");
	return ready == 1 && got ? 0 : 1;
}

static int idle_run(struct run *r, double secs)
{
	struct qrun qr = { .r = r, .q = 0 };
	uint64_t frames = 0, wakes = 0, polled = 0, none = 0;
	double idle, poll_cpu, t0;
	int fd = unic_rx_fd(r->dev, 0);

	if (fd < 0) {
		printf("unic_rx_fd: %s\n", unic_last_error(r->dev));
		return 1;
	}
	if (warm_up(&qr))
		return 1;
	for (t0 = now_s(); now_s() - t0 < 0.2;) /* late echoes of the probes */
		rx_drop_all(r->dev);
	if ((idle = idle_cpu(r, secs, true, &frames, &wakes)) < 0)
		return 1;
	printf("idle %.1f s in unic_rx_wait: %.2f %% of a CPU (utime+stime), %llu wake-ups, %llu frames\n", secs, idle,
	       (unsigned long long)wakes, (unsigned long long)frames);
	poll_cpu = idle_cpu(r, POLL_S, false, &polled, &none);
	printf("the same idle queue polled %.1f s: %.2f %% of a CPU\n", POLL_S, poll_cpu);
	if (idle >= IDLE_CPU_MAX) {
		printf("idle CPU %.2f %% is not under %.1f %%\n", idle, IDLE_CPU_MAX);
		return 1;
	}
	return wake_on_echo(&qr, fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "count", required_argument, NULL, 'c' },
					       { "until-gone", required_argument, NULL, 'g' },
					       { "split", no_argument, NULL, 's' },
					       { "pair", required_argument, NULL, 'p' },
					       { "queues", required_argument, NULL, 'q' },
					       { "idle", required_argument, NULL, 'i' },
					       { NULL, 0, NULL, 0 } };
	struct unic_config cfg;
	struct unic_info info;
	struct run r = { 0 };
	char err[UNIC_ERR_LEN];
	uint64_t count = 10000;
	double gone = 0, idle = 0, t;
	bool split = false;
	const char *pair = NULL;
	int c, rc, nq = 1;

	while ((c = getopt_long(argc, argv, "c:g:sp:q:i:", opts, NULL)) != -1) {
		if (c == 'c')
			count = strtoull(optarg, NULL, 10);
		else if (c == 'g')
			gone = atof(optarg);
		else if (c == 's')
			split = true;
		else if (c == 'p')
			pair = optarg;
		else if (c == 'q')
			nq = atoi(optarg);
		else if (c == 'i')
			idle = atof(optarg);
		else
			return 2;
	}
	if (optind != argc - 1 || nq < 1 || nq > MAX_QUEUES) {
		fprintf(stderr, "usage: vhost_check [--split] [--queues 1..%d] [--pair SPEC2] [--count N | --until-gone S | --idle S] "
			"vhost-user:PATH[,server]\n", MAX_QUEUES);
		return 2;
	}
	if (pair)
		return pair_main(argv[optind], pair, count);
	unic_config_init(&cfg);
	cfg.no_packed_ring = split;
	cfg.rx_queues = cfg.tx_queues = (uint16_t)nq;
	r.dev = unic_open(argv[optind], &cfg, err, sizeof err);
	if (!r.dev) {
		printf("unic_open: %s\n", err);
		return 1;
	}
	r.pool = unic_dev_mempool(r.dev);
	unic_mac(r.dev, r.mac);
	unic_info(r.dev, &info);
	printf("opened %s: %s, queues %u/%u, rings %u/%u, hugepages taken %ld\n", info.name, info.features,
	       info.rx_queues, info.tx_queues, info.rx_ring_size, info.tx_ring_size, hugepages_taken());
	fflush(stdout);
	if (info.rx_queues != nq || info.tx_queues != nq) {
		printf("asked for %d queue pairs, the device has %u rx and %u tx queues\n", nq, info.rx_queues,
		       info.tx_queues);
		rc = 1;
	} else
		rc = gone > 0 ? gone_run(&r, (uint16_t)nq, gone)
		     : idle > 0 ? idle_run(&r, idle) : verify_run(&r, (uint16_t)nq, count);
	t = now_s();
	unic_close(r.dev);
	printf("unic_close took %.3f s\n", now_s() - t);
	return rc;
}
