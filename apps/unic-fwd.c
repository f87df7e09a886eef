/*
 * unic-fwd - bidirectional L2 forwarding between two devices: what arrives
 * on one is sent on the other, unchanged. The buffer received on one goes to
 * the other's tx ring without a copy when both devices share a DMA domain
 * (two vfio: devices, two sysfs: devices); otherwise (vhost-user, or vfio: with
 * sysfs:) unic_tx_burst copies each frame once, and the copies are counted.
 *
 * With --queues N both devices get N queue pairs, and queue q's thread (thread q % --threads)
 * forwards rx queue q of each device to tx queue q of the other: a flow that RSS puts on one
 * queue stays in order.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/tool.h"

/* Bursts to wait for in-flight frames when stopping. */
#define DRAIN_ROUNDS 64
#define MAIN_POLL_US 10000

static const char usage_text[] =
	"Usage: unic-fwd [OPTIONS] DEV1 DEV2\n"
	"Forward every frame received on DEV1 to DEV2 and back (promiscuous, L2). Zero copy when\n"
	"both devices share a DMA domain, else one copy per frame, counted.\n"
	"DEV1 and DEV2 are each a DEVICE (below).\n"
	"\n"
	TOOL_QUEUE_USAGE
	TOOL_IDLE_USAGE("poll")
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

static const struct option long_opts[] = {
	TOOL_QUEUE_LONG_OPTS, TOOL_COMMON_LONG_OPTS,
	{ NULL, 0, NULL, 0 },
};

struct options {
	struct tool_common common; /* --seconds --batch --json --force */
	const char *dev[2];
};

static void parse_args(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof *o);
	tool_common_init(&o->common);
	while ((c = getopt_long(argc, argv, ":b:s:q:hV", long_opts, NULL)) != -1)
		tool_common_option(c, argv, usage_text, &o->common);
	if (argc - optind != 2)
		tool_usage_error(argc - optind < 2 ? "missing DEV1 or DEV2" : "too many arguments");
	tool_common_finish(&o->common);
	o->dev[0] = argv[optind];
	o->dev[1] = argv[optind + 1];
	tool_check_spec(o->dev[0]);
	tool_check_spec(o->dev[1]);
}

/* Queue q: rx queue q of each device to tx queue q of the other, by one thread. */
struct worker {
	struct unic_dev *dev[2];
	uint16_t queue, batch;
	enum tool_idle_mode idle;  /* --idle */
	struct tool_count fwd[2];  /* per direction; TOOL_ADD by the thread, TOOL_GET by main */
	struct tool_span span[2];  /* read after the thread is joined */
};

/* One burst from -> to on the worker's queue. Frames the tx ring has no room for are dropped and counted. */
static uint16_t forward(struct worker *w, int dir, struct unic_buf **bufs)
{
	struct unic_dev *from = w->dev[dir], *to = w->dev[1 - dir];
	uint16_t n = unic_rx_burst(from, w->queue, bufs, w->batch), sent, i;
	uint64_t bytes = 0;

	if (!n)
		return 0;
	tool_span_mark(&w->span[dir]);
	for (i = 0; i < n; i++)
		bytes += bufs[i]->len;
	sent = unic_tx_burst(to, w->queue, bufs, n);
	for (i = sent; i < n; i++)
		bytes -= bufs[i]->len;
	unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent));
	TOOL_ADD(w->fwd[dir].packets, sent);
	TOOL_ADD(w->fwd[dir].bytes, bytes);
	TOOL_ADD(w->fwd[dir].drops, n - sent);
	return n;
}

/* One burst each way on each queue of the thread; how many frames moved. */
static unsigned forward_all(const struct tool_thread *th, struct worker *w, struct unic_buf **bufs)
{
	unsigned moved = 0;
	uint16_t q;

	for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q))
		moved += forward(&w[q], 0, bufs) + forward(&w[q], 1, bufs);
	return moved;
}

static void *worker_run(void *arg)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	const struct tool_thread *th = arg;
	struct worker *w = th->tool;
	struct tool_idle idle;
	uint16_t q;
	int round;

	tool_idle_init(&idle, w[0].idle, TOOL_IDLE_POLL);
	for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q)) {
		tool_idle_add(&idle, w[q].dev[0], q);
		tool_idle_add(&idle, w[q].dev[1], q);
	}
	while (!tool_stopped())
		tool_idle_round(&idle, forward_all(th, w, bufs));
	/* Drain: forward what is still arriving, for a bounded number of bursts. */
	for (round = 0; round < DRAIN_ROUNDS; round++)
		if (!forward_all(th, w, bufs))
			break;
	return NULL;
}

/* Frames the device sent as copies (their buffer was out of its DMA domain). */
static uint64_t tx_copied(struct unic_dev *dev)
{
	struct unic_stats st;

	return unic_stats(dev, &st) ? 0 : st.tx_copied;
}

/* Direction dir: what the workers forwarded, plus what the receiving device dropped or saw wrong. */
static void direction_count(struct unic_dev *dev[2], const struct worker *w, uint16_t nq, int dir,
			    struct tool_count *out)
{
	struct tool_count rx, tx;
	uint16_t q;

	memset(out, 0, sizeof *out);
	for (q = 0; q < nq; q++) {
		out->packets += TOOL_GET(w[q].fwd[dir].packets);
		out->bytes += TOOL_GET(w[q].fwd[dir].bytes);
		out->drops += TOOL_GET(w[q].fwd[dir].drops);
	}
	tool_dev_count(dev[dir], true, &rx);
	tool_dev_count(dev[1 - dir], false, &tx);
	out->drops += rx.drops;
	out->errors = rx.errors + tx.errors;
}

/* The live line: both directions, then frames received per queue (how RSS spread them). */
static void meter_line(struct tool_meter *m, struct unic_dev *dev[2], const struct worker *w, uint16_t nq)
{
	static const char *const labels[2] = { "1->2", "2->1" };
	struct tool_count total[2], q[2 * TOOL_MAX_QUEUES];
	uint16_t i;
	int d;

	for (d = 0; d < 2; d++) {
		direction_count(dev, w, nq, d, &total[d]);
		for (i = 0; i < nq; i++)
			tool_queue_count(dev[d], i, true, &q[d * nq + i]);
	}
	tool_meter_print_queues(m, 2, labels, total, nq, q);
}

/* The span of a direction over every queue: first to last burst. */
static void merged_span(const struct worker *w, uint16_t nq, int dir, struct tool_span *out)
{
	uint16_t q;

	memset(out, 0, sizeof *out);
	for (q = 0; q < nq; q++)
		tool_span_merge(out, &w[q].span[dir]);
}

/* Each device's per-queue counters: {"queue":q,"dev1":{"rx":{..},"tx":{..}},"dev2":{..}} */
static void json_queues(struct tool_json *j, struct unic_dev *dev[2], uint16_t nq, uint64_t ns)
{
	static const char *const names[2] = { "dev1", "dev2" };
	struct tool_count c;
	uint16_t q;
	int d;

	tool_json_arr_begin(j, "queues");
	for (q = 0; q < nq; q++) {
		tool_json_obj_begin(j, NULL);
		tool_json_u64(j, "queue", q);
		for (d = 0; d < 2; d++) {
			tool_json_obj_begin(j, names[d]);
			tool_queue_count(dev[d], q, true, &c);
			tool_json_count(j, "rx", &c, ns);
			tool_queue_count(dev[d], q, false, &c);
			tool_json_count(j, "tx", &c, ns);
			tool_json_obj_end(j);
		}
		tool_json_obj_end(j);
	}
	tool_json_arr_end(j);
}

static void print_summary(const struct options *o, struct unic_dev *dev[2], const struct tool_count total[2],
			  const struct tool_span span[2], const uint64_t copied[2], uint64_t elapsed)
{
	struct tool_count rx, tx;
	uint16_t q;
	int d;

	if (o->common.json) {
		struct tool_json j;
		tool_json_begin(&j);
		tool_json_str(&j, "tool", tool_name());
		tool_json_str(&j, "dev1", o->dev[0]);
		tool_json_str(&j, "dev2", o->dev[1]);
		tool_json_double(&j, "seconds", (double)elapsed / 1e9);
		/* rates over the time each direction carried traffic */
		tool_json_count(&j, "dev1_to_dev2", &total[0], tool_span_ns(&span[0], elapsed));
		tool_json_count(&j, "dev2_to_dev1", &total[1], tool_span_ns(&span[1], elapsed));
		/* frames sent as a copy: the devices do not share a DMA domain */
		tool_json_obj_begin(&j, "copied");
		tool_json_u64(&j, "dev1_to_dev2", copied[0]);
		tool_json_u64(&j, "dev2_to_dev1", copied[1]);
		tool_json_obj_end(&j);
		json_queues(&j, dev, o->common.queues, elapsed);
		tool_json_end(&j);
		return;
	}
	for (d = 0; d < 2; d++)
		printf("%s: %s -> %s: %llu frames, %.3f Mpps %.1f Mbit/s, drops %llu, errors %llu, copied %llu\n",
		       tool_name(), o->dev[d], o->dev[1 - d], (unsigned long long)total[d].packets,
		       tool_mpps(total[d].packets, tool_span_ns(&span[d], elapsed)),
		       tool_mbps(total[d].bytes, tool_span_ns(&span[d], elapsed)), (unsigned long long)total[d].drops,
		       (unsigned long long)total[d].errors, (unsigned long long)copied[d]);
	for (q = 0; o->common.queues > 1 && q < o->common.queues; q++)
		for (d = 0; d < 2; d++) {
			tool_queue_count(dev[d], q, true, &rx);
			tool_queue_count(dev[1 - d], q, false, &tx);
			printf("%s: queue %u: %s -> %s: received %llu, sent %llu\n", tool_name(), q, d ? "2" : "1",
			       d ? "1" : "2", (unsigned long long)rx.packets, (unsigned long long)tx.packets);
		}
}

int main(int argc, char **argv)
{
	struct worker workers[TOOL_MAX_QUEUES];
	struct tool_threads threads;
	struct unic_config cfg;
	struct unic_dev *dev[2];
	struct options o;
	struct tool_meter meter;
	struct tool_count total[2];
	struct tool_span span[2];
	char err[UNIC_ERR_LEN];
	uint64_t deadline, elapsed, copied[2];
	uint16_t q, nq;
	int d;

	tool_init("unic-fwd");
	parse_args(argc, argv, &o);
	nq = o.common.queues;
	unic_config_init(&cfg);
	tool_common_config(&o.common, &cfg);
	cfg.promisc = true; /* a bridge forwards every frame, not only those to its own address */
	cfg.cancel = &tool_stop; /* the second open is unic_open itself: Ctrl-C stops it too */
	dev[0] = tool_open(o.dev[0], &cfg);
	dev[1] = unic_open(o.dev[1], &cfg, err, sizeof err);
	if (!dev[1]) {
		unic_close(dev[0]); /* give the first device back before failing */
		tool_fail("%s", err);
	}
	memset(workers, 0, sizeof workers);
	for (q = 0; q < nq; q++) {
		workers[q].dev[0] = dev[0];
		workers[q].dev[1] = dev[1];
		workers[q].queue = q;
		workers[q].batch = o.common.batch;
		workers[q].idle = o.common.idle;
	}

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	if (tool_threads_start(&threads, &o.common, worker_run, workers, err, sizeof err)) {
		unic_close(dev[0]);
		unic_close(dev[1]);
		tool_fail("%s", err);
	}
	fprintf(stderr, "%s: forwarding between %s and %s (%u queues, %u threads)\n", tool_name(), o.dev[0], o.dev[1],
		nq, o.common.threads);
	while (tool_running(deadline)) {
		tool_sleep_us(MAIN_POLL_US);
		if (tool_meter_due(&meter))
			meter_line(&meter, dev, workers, nq);
	}
	elapsed = tool_now_ns() - meter.start_ns;
	tool_threads_stop(&threads); /* each thread drains its queues first */
	for (d = 0; d < 2; d++) {
		direction_count(dev, workers, nq, d, &total[d]);
		merged_span(workers, nq, d, &span[d]);
	}
	copied[0] = tx_copied(dev[1]);
	copied[1] = tx_copied(dev[0]);
	print_summary(&o, dev, total, span, copied, elapsed);
	unic_close(dev[0]);
	unic_close(dev[1]);
	return tool_exit_status(TOOL_EXIT_OK);
}
