/*
 * unic-pktgen - send UDP/IPv4 test frames as fast as the device takes them,
 * or at a given rate. Each frame carries a sequence number, its send time and
 * a payload checksum, which `unic-pcap --verify` checks on the other side.
 *
 * The data path: allocate a batch of buffers from the device's mempool, write
 * the frames, unic_tx_burst() them, free what tx did not take. The device
 * frees the rest back to the pool once sent.
 *
 * With --queues N, tx queue q sends the flows f with f % N == q: each flow leaves on one
 * queue, so its frames stay in order (per-flow sequence numbers). Queue q is served by
 * thread q % --threads.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pkt.h"
#include "common/tool.h"

#define DEFAULT_SIZE 60
#define MAX_FLOWS 4096
#define LINK_WAIT_NS (3 * NS_PER_SEC)
#define DRAIN_WAIT_NS (NS_PER_SEC / 2)
#define DRAIN_POLL_US 1000
#define MAIN_POLL_US 10000
#define PKTGEN_NAP_US 50           /* --idle hybrid: a nap between paced bursts (the pace catches up) */

/* Queue threads that have finished: the main thread waits for all of them. */
static atomic_int threads_done;

static const char usage_text[] =
	"Usage: unic-pktgen [OPTIONS] DEVICE\n"
	"Send UDP/IPv4 test frames (sequence number, timestamp, checksum) on DEVICE.\n"
	"\n"
	"  -c, --count N      stop after N frames (default: no limit)\n"
	"  -l, --size BYTES   frame length: Ethernet header to the end of the UDP payload, no FCS;\n"
	"                     60..MTU+14 (default 60; 1514 with the default MTU)\n"
	"  -r, --rate PPS     frames per second, over all queues (default: as fast as possible)\n"
	"  -f, --flows N      N flows, 1..4096: flow i has source address and UDP source port + i\n"
	"                     (so that RSS spreads them) and numbers its frames from 0 (default 1)\n"
	"      --dst MAC      destination MAC (default ff:ff:ff:ff:ff:ff)\n"
	"      --src-ip A     source IPv4 address (default 198.18.0.1)\n"
	"      --dst-ip A     destination IPv4 address (default 198.18.0.2)\n"
	TOOL_QUEUE_USAGE
	TOOL_IDLE_USAGE("poll; hybrid naps between paced bursts instead of spinning")
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

enum { OPT_DST = 256, OPT_SRC_IP, OPT_DST_IP };

static const struct option long_opts[] = {
	{ "count", required_argument, NULL, 'c' },   { "size", required_argument, NULL, 'l' },
	{ "rate", required_argument, NULL, 'r' },    { "flows", required_argument, NULL, 'f' },
	{ "dst", required_argument, NULL, OPT_DST }, { "src-ip", required_argument, NULL, OPT_SRC_IP },
	{ "dst-ip", required_argument, NULL, OPT_DST_IP },
	TOOL_QUEUE_LONG_OPTS, TOOL_COMMON_LONG_OPTS,
	{ NULL, 0, NULL, 0 },
};

struct options {
	struct tool_common common; /* --seconds --batch --json --force */
	uint64_t count, rate;
	uint16_t size, flows;
	uint8_t dst_mac[PKT_MAC_LEN];
	uint32_t src_ip, dst_ip;
	const char *device;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof *o);
	o->size = DEFAULT_SIZE;
	tool_common_init(&o->common);
	memset(o->dst_mac, 0xff, sizeof o->dst_mac);
	pkt_parse_ipv4("198.18.0.1", &o->src_ip); /* RFC 2544 benchmarking range */
	pkt_parse_ipv4("198.18.0.2", &o->dst_ip);
	while ((c = getopt_long(argc, argv, ":c:s:l:r:b:f:q:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->count = tool_parse_u64("--count", optarg, 1, UINT64_MAX); break;
		case 'l': o->size = (uint16_t)tool_parse_u64("--size", optarg, PKT_GEN_MIN_FRAME, PKT_JUMBO_MAX_FRAME); break;
		case 'r': o->rate = tool_parse_u64("--rate", optarg, 1, 1000000000); break;
		case 'f': o->flows = (uint16_t)tool_parse_u64("--flows", optarg, 1, MAX_FLOWS); break;
		case OPT_DST:
			if (pkt_parse_mac(optarg, o->dst_mac))
				tool_usage_error("--dst wants a MAC address like 02:00:00:00:00:01, not '%s'", optarg);
			break;
		case OPT_SRC_IP:
		case OPT_DST_IP:
			if (pkt_parse_ipv4(optarg, c == OPT_SRC_IP ? &o->src_ip : &o->dst_ip))
				tool_usage_error("%s wants an IPv4 address, not '%s'", c == OPT_SRC_IP ? "--src-ip" : "--dst-ip", optarg);
			break;
		default: tool_common_option(c, argv, usage_text, &o->common);
		}
	}
	if (optind != argc - 1)
		tool_usage_error(optind == argc ? "missing DEVICE" : "too many arguments");
	tool_common_finish(&o->common);
	if (!o->flows)
		o->flows = o->common.queues; /* one flow per queue thread */
	if (o->flows < o->common.queues)
		tool_usage_error("--flows %u is fewer than --queues %u: each queue sends flows of its own", o->flows,
				 o->common.queues);
	if (o->rate && o->rate < o->common.queues)
		tool_usage_error("--rate %llu is less than one frame per second per queue (--queues %u)",
				 (unsigned long long)o->rate, o->common.queues);
	if (o->size > o->common.mtu + TOOL_ETH_HDR_LEN)
		tool_usage_error("--size %u is more than the MTU (%u) + 14: give --mtu %u or a smaller --size", o->size,
				 o->common.mtu, o->size - TOOL_ETH_HDR_LEN);
	o->device = argv[optind];
	tool_check_spec(o->device);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Frames sent before the link is up are lost: give the link a moment (igb needs one). */
static void wait_for_link(struct unic_dev *dev)
{
	uint64_t until = tool_now_ns() + LINK_WAIT_NS;
	struct unic_link link;

	while (!tool_stop && unic_link(dev, &link) == 0 && !link.up) {
		if (tool_now_ns() > until) {
			fprintf(stderr, "%s: link is down; sending anyway\n", tool_name());
			return;
		}
		tool_sleep_us(1000);
	}
}

/* How many frames the rate allows after elapsed_ns (pacing by busy-waiting on the clock, no sleep). */
static uint64_t paced_budget(uint64_t rate, uint64_t elapsed_ns, uint64_t sent)
{
	double due;

	if (!rate)
		return UINT64_MAX;
	due = (double)elapsed_ns * (double)rate / 1e9;
	return due > (double)sent ? (uint64_t)due - sent : 0;
}

/* Give the device time to send what is still in its rings: closing resets it. Called once the
 * queue threads are joined, so that this thread may use every queue. */
static void drain_tx(struct unic_dev *dev, uint16_t queues)
{
	struct unic_mempool *pool = unic_dev_mempool(dev);
	uint64_t until = tool_now_ns() + DRAIN_WAIT_NS;
	uint16_t q;

	while (unic_mempool_free_count(pool) < unic_mempool_size(pool) && tool_now_ns() < until) {
		for (q = 0; q < queues; q++)
			unic_tx_reclaim(dev, q); /* finished descriptors give their buffers back */
		tool_sleep_us(DRAIN_POLL_US);
	}
}

/* What one tx queue owns (and the one thread that serves it): its flows, its share of --count and --rate. */
struct sender {
	struct unic_dev *dev;
	const struct options *o;
	const struct pkt_gen_template *tmpl;
	uint16_t queue;
	uint64_t count;             /* UINT64_MAX: no limit (a share of --count may be 0) */
	uint64_t rate;              /* 0: no limit */
	uint64_t start_ns, deadline, real_offset;
	uint32_t nflows;            /* flows queue, queue + Q, queue + 2Q, ... */
	struct pkt_gen_flow *flows;
	uint64_t *next_seq;         /* per flow */
	uint32_t cursor;            /* flow of the next frame */
	/* written by the thread, read by the main thread: TOOL_ADD / TOOL_GET */
	uint64_t sent, busy, no_buf;
};

/* Writes n frames, round robin over the thread's flows from its cursor, each with its flow's next number. */
static void write_frames(struct sender *s, struct unic_buf **bufs, uint16_t n, uint64_t ts)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint32_t f = s->cursor;
		pkt_gen_write(s->tmpl, &s->flows[f], unic_buf_data(bufs[i]), s->next_seq[f]++, ts);
		bufs[i]->len = s->tmpl->len;
		if (++s->cursor == s->nflows)
			s->cursor = 0;
	}
}

/* Frames tx did not take give their numbers back, last first: they go out with the next burst. */
static void unwrite_frames(struct sender *s, uint16_t n)
{
	while (n--) {
		s->cursor = s->cursor ? s->cursor - 1 : s->nflows - 1;
		s->next_seq[s->cursor]--;
	}
}

/* One burst: how many frames went out. */
static uint16_t send_burst(struct sender *s, struct unic_buf **bufs, uint64_t now, uint64_t seq)
{
	uint64_t n = s->o->common.batch, budget;
	uint16_t sent;

	if (s->count - seq < n)
		n = s->count - seq;
	budget = paced_budget(s->rate, now - s->start_ns, seq);
	if (budget < n)
		n = budget;
	if (!n)
		return 0;
	if (unic_buf_alloc_bulk(unic_dev_mempool(s->dev), bufs, (uint32_t)n) != n) {
		unic_tx_reclaim(s->dev, s->queue); /* all buffers are in the tx ring: take back the sent ones */
		TOOL_ADD(s->no_buf, 1);
		return 0;
	}
	write_frames(s, bufs, (uint16_t)n, now + s->real_offset);
	sent = unic_tx_burst(s->dev, s->queue, bufs, (uint16_t)n);
	if (sent < n) {
		unwrite_frames(s, (uint16_t)(n - sent));
		unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent));
		TOOL_ADD(s->busy, n - sent);
	}
	return sent;
}

/* --idle hybrid: a paced sender that found nothing due for a while naps instead of spinning. */
static void nap_when_idle(const struct options *o, uint64_t moved, unsigned *empty)
{
	if (moved || o->common.idle != TOOL_IDLE_HYBRID) {
		*empty = 0;
		return;
	}
	if (++*empty >= TOOL_IDLE_EMPTY_ROUNDS) {
		*empty = 0;
		tool_sleep_us(PKTGEN_NAP_US);
	}
}

/* Queue thread: sends on each of its queues in turn until stopped, the deadline, or every
 * queue's share of --count is out. */
static void *sender_run(void *arg)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	const struct tool_thread *th = arg;
	struct sender *senders = th->tool;
	bool more = true;
	unsigned empty = 0;
	uint16_t q;

	while (more && !tool_stopped()) {
		uint64_t moved = 0;
		/* One clock read per burst serves the deadline, pacing and the frames' timestamps
		 * (the monotonic clock moved onto the wall clock's scale once, by real_offset). */
		uint64_t now = tool_now_ns();
		more = false;
		for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q)) {
			struct sender *s = &senders[q];
			uint64_t seq = s->sent; /* this thread is its only writer */
			if (seq == s->count || (s->deadline && now >= s->deadline))
				continue;
			uint16_t n = send_burst(s, bufs, now, seq);
			moved += n;
			__atomic_store_n(&s->sent, seq + n, __ATOMIC_RELAXED);
			more = true;
		}
		nap_when_idle(senders[th->index].o, moved, &empty);
	}
	atomic_fetch_add(&threads_done, 1);
	return NULL;
}

/* share of total for queue q of n: the first total % n queues get one more. */
static uint64_t share(uint64_t total, uint16_t q, uint16_t n)
{
	return total / n + (q < total % n);
}

/* Sets up thread q's sender: its flows are q, q + Q, ... of the run's flows. */
static int sender_init(struct sender *s, struct unic_dev *dev, const struct options *o,
		       const struct pkt_gen_template *tmpl, uint16_t q)
{
	uint16_t nq = o->common.queues;
	uint32_t i;

	memset(s, 0, sizeof *s);
	s->dev = dev;
	s->o = o;
	s->tmpl = tmpl;
	s->queue = q;
	s->count = o->count ? share(o->count, q, nq) : UINT64_MAX;
	s->rate = o->rate ? share(o->rate, q, nq) : 0;
	s->nflows = (uint32_t)share(o->flows, q, nq);
	s->flows = calloc(s->nflows ? s->nflows : 1, sizeof *s->flows);
	s->next_seq = calloc(s->nflows ? s->nflows : 1, sizeof *s->next_seq);
	if (!s->flows || !s->next_seq)
		return -1;
	for (i = 0; i < s->nflows; i++)
		pkt_gen_flow_init(tmpl, q + i * nq, &s->flows[i]);
	return 0;
}


/* Totals of every sender, read while they run. */
static void totals(const struct sender *s, uint16_t n, struct tool_count *c, uint64_t *busy, uint64_t *no_buf)
{
	uint16_t q;

	memset(c, 0, sizeof *c);
	*busy = *no_buf = 0;
	for (q = 0; q < n; q++) {
		c->packets += TOOL_GET(s[q].sent);
		*busy += TOOL_GET(s[q].busy);
		*no_buf += TOOL_GET(s[q].no_buf);
	}
	c->bytes = c->packets * s[0].tmpl->len;
}

/* The live line: total, and frames per tx queue (the library's per-queue counters). */
static void meter_line(struct tool_meter *m, struct unic_dev *dev, const struct sender *s, uint16_t nq)
{
	static const char *const labels[] = { "tx" };
	struct tool_count c, dev_count, q[TOOL_MAX_QUEUES];
	uint64_t busy, no_buf;
	uint16_t i;

	totals(s, nq, &c, &busy, &no_buf);
	tool_dev_count(dev, false, &dev_count);
	c.errors = dev_count.errors;
	for (i = 0; i < nq; i++)
		tool_queue_count(dev, i, false, &q[i]);
	tool_meter_print_queues(m, 1, labels, &c, nq, q);
}

static void print_json(const struct options *o, struct unic_dev *dev, const struct tool_count *c, uint64_t elapsed,
		       uint64_t busy, uint64_t no_buf)
{
	struct tool_json j;

	tool_json_begin(&j);
	tool_json_str(&j, "tool", tool_name());
	tool_json_str(&j, "device", o->device);
	tool_json_double(&j, "seconds", (double)elapsed / 1e9);
	tool_json_u64(&j, "size", o->size);
	tool_json_u64(&j, "flows", o->flows);
	tool_json_count(&j, "tx", c, elapsed);
	tool_json_u64(&j, "hw_tx_packets", c->hw_packets); /* the NIC's own count of frames sent */
	tool_json_u64(&j, "tx_busy", busy);
	tool_json_u64(&j, "no_buffer", no_buf);
	tool_json_queues(&j, dev, o->common.queues, false, elapsed); /* the library's counters of each tx queue */
	tool_json_end(&j);
}

static void print_text(const struct options *o, struct unic_dev *dev, const struct tool_count *c, uint64_t elapsed)
{
	printf("%s: sent %llu frames of %u bytes in %.3f s: %.3f Mpps %.1f Mbit/s, errors %llu\n", tool_name(),
	       (unsigned long long)c->packets, o->size, (double)elapsed / 1e9, tool_mpps(c->packets, elapsed),
	       tool_mbps(c->bytes, elapsed), (unsigned long long)c->errors);
	tool_print_queues(dev, o->common.queues, false);
}

static void senders_free(struct sender *s, uint16_t n)
{
	uint16_t q;

	for (q = 0; q < n; q++) {
		free(s[q].flows);
		free(s[q].next_seq);
	}
}

int main(int argc, char **argv)
{
	static struct pkt_gen_template tmpl;
	struct sender senders[TOOL_MAX_QUEUES];
	struct tool_threads threads;
	struct unic_config cfg;
	struct options o;
	struct tool_meter meter;
	struct tool_count count, dev_count;
	uint64_t deadline, elapsed, real_offset, busy, no_buf;
	uint8_t mac[PKT_MAC_LEN];
	char err[UNIC_ERR_LEN];
	struct unic_dev *dev;
	uint16_t q, nq;

	tool_init("unic-pktgen");
	parse_args(argc, argv, &o);
	nq = o.common.queues;
	unic_config_init(&cfg);
	tool_common_config(&o.common, &cfg);
	dev = tool_open(o.device, &cfg);
	unic_mac(dev, mac);
	pkt_gen_template_init(&tmpl, o.size, mac, o.dst_mac, o.src_ip, o.dst_ip);
	wait_for_link(dev);
	fprintf(stderr, "%s: sending %u-byte frames on %s (%u flows, %u queues, %u threads)\n", tool_name(), o.size,
		o.device, o.flows, nq, o.common.threads);

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	real_offset = realtime_ns() - tool_now_ns();
	for (q = 0; q < nq; q++) {
		if (sender_init(&senders[q], dev, &o, &tmpl, q)) {
			senders_free(senders, (uint16_t)(q + 1));
			unic_close(dev);
			tool_fail("out of memory");
		}
		senders[q].start_ns = meter.start_ns;
		senders[q].deadline = deadline;
		senders[q].real_offset = real_offset;
	}
	if (tool_threads_start(&threads, &o.common, sender_run, senders, err, sizeof err)) {
		senders_free(senders, nq);
		unic_close(dev);
		tool_fail("%s", err);
	}
	while (tool_running(deadline) && atomic_load(&threads_done) < threads.n) {
		tool_sleep_us(MAIN_POLL_US);
		if (tool_meter_due(&meter))
			meter_line(&meter, dev, senders, nq);
	}
	tool_threads_stop(&threads);
	elapsed = tool_now_ns() - meter.start_ns;
	drain_tx(dev, nq);
	totals(senders, nq, &count, &busy, &no_buf);
	tool_dev_count(dev, false, &dev_count);
	count.errors = dev_count.errors;
	count.hw_packets = dev_count.hw_packets;
	if (o.common.json)
		print_json(&o, dev, &count, elapsed, busy, no_buf);
	else
		print_text(&o, dev, &count, elapsed);
	unic_close(dev);
	senders_free(senders, nq);
	return tool_exit_status(TOOL_EXIT_OK);
}
