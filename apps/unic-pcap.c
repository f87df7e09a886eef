/*
 * unic-pcap - capture what a device receives into a pcap file (written by
 * libpcap's dump writer, nanosecond timestamps) or a pcapng file, and
 * optionally check unic-pktgen's sequence numbers and checksums on the way.
 *
 * Timestamps are taken once per received burst (the NICs unic drives give no
 * per-frame receive time in the descriptors it uses).
 *
 * With --queues N, rx queue q is received by thread q % --threads; the threads share the file and the
 * --verify state under one lock, taken once per burst. Frames of one queue keep their order
 * in the file (so does a flow, which RSS keeps on one queue); queues interleave by bursts.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pcapng.h"
#include "common/pkt.h"
#include "common/tool.h"
#include "common/verify.h"

#define DEFAULT_SNAPLEN 65535
#define MIN_SNAPLEN 14
/* The main thread only prints and watches for the end: 10 wake-ups a second cost an idle
 * capture next to nothing (100 did cost 3 % of a CPU under QEMU's TCG). */
#define MAIN_POLL_US 100000
/* Flows with a problem that the text summary names one by one (--json names every flow). */
#define MAX_FLOW_LINES 64

static const char usage_text[] =
	"Usage: unic-pcap [OPTIONS] DEVICE FILE\n"
	"Capture frames received on DEVICE (promiscuous) into FILE.\n"
	"\n"
	"  -c, --count N      stop after N frames (default: no limit)\n"
	"  -n, --pcapng       write pcapng instead of pcap\n"
	"      --snaplen N    bytes kept of each frame, 14..65535 (default 65535)\n"
	"      --verify       check unic-pktgen frames per flow (addresses and UDP ports): lost,\n"
	"                     duplicated, out of order within the flow, corrupt\n"
	TOOL_QUEUE_USAGE
	TOOL_IDLE_USAGE("hybrid")
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure (or --verify found lost or corrupt frames), 2 bad usage.\n";

enum { OPT_SNAPLEN = 256, OPT_VERIFY };

static const struct option long_opts[] = {
	{ "count", required_argument, NULL, 'c' },   { "pcapng", no_argument, NULL, 'n' },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN }, { "verify", no_argument, NULL, OPT_VERIFY },
	TOOL_QUEUE_LONG_OPTS, TOOL_COMMON_LONG_OPTS,
	{ NULL, 0, NULL, 0 },
};

struct options {
	struct tool_common common; /* --seconds --batch --json --force */
	uint64_t count;
	uint32_t snaplen;
	bool pcapng, verify;
	const char *device, *file;
};

/* The output: libpcap's pcap writer, or our pcapng writer. */
struct writer {
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	struct pcapng_writer ng;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof *o);
	o->snaplen = DEFAULT_SNAPLEN;
	tool_common_init(&o->common);
	while ((c = getopt_long(argc, argv, ":c:s:nb:q:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->count = tool_parse_u64("--count", optarg, 1, UINT64_MAX); break;
		case 'n': o->pcapng = true; break;
		case OPT_SNAPLEN: o->snaplen = (uint32_t)tool_parse_u64("--snaplen", optarg, MIN_SNAPLEN, DEFAULT_SNAPLEN); break;
		case OPT_VERIFY: o->verify = true; break;
		default: tool_common_option(c, argv, usage_text, &o->common);
		}
	}
	if (argc - optind != 2)
		tool_usage_error(argc - optind < 2 ? "missing DEVICE or FILE" : "too many arguments");
	tool_common_finish(&o->common);
	o->device = argv[optind];
	o->file = argv[optind + 1];
	tool_check_spec(o->device);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Returns NULL on success, else what went wrong. */
static const char *writer_open(struct writer *w, const struct options *o)
{
	memset(w, 0, sizeof *w);
	if (o->pcapng)
		return pcapng_open(&w->ng, o->file, o->device, o->snaplen) ? strerror(errno) : NULL;
	w->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)o->snaplen, PCAP_TSTAMP_PRECISION_NANO);
	if (!w->pcap)
		return "pcap_open_dead failed";
	w->dumper = pcap_dump_open(w->pcap, o->file);
	return w->dumper ? NULL : pcap_geterr(w->pcap);
}

static void writer_frame(struct writer *w, uint64_t ts_ns, const uint8_t *data, uint32_t len, uint32_t snaplen)
{
	uint32_t caplen = len < snaplen ? len : snaplen;
	struct pcap_pkthdr h;

	if (!w->dumper) {
		pcapng_write(&w->ng, ts_ns, data, caplen, len);
		return;
	}
	/* With nanosecond precision, libpcap reads tv_usec as nanoseconds. */
	h.ts.tv_sec = (time_t)(ts_ns / NS_PER_SEC);
	h.ts.tv_usec = (suseconds_t)(ts_ns % NS_PER_SEC);
	h.caplen = caplen;
	h.len = len;
	pcap_dump((u_char *)w->dumper, &h, data);
}

/* 0, or -1 when the file could not be written completely. */
static int writer_close(struct writer *w)
{
	int r = 0;

	if (w->dumper) {
		if (pcap_dump_flush(w->dumper))
			r = -1;
		pcap_dump_close(w->dumper);
	} else if (!w->pcap && pcapng_close(&w->ng)) {
		r = -1;
	}
	if (w->pcap)
		pcap_close(w->pcap);
	return r;
}

/* What the queue threads share, under lock: the file, --verify, and the count of frames kept. */
struct capture {
	pthread_mutex_t lock;
	struct writer w;
	struct verify v;
	const struct options *o;
	uint64_t written;
};

/* Rx queue q of the device, received by one thread. */
struct receiver {
	struct unic_dev *dev;
	struct capture *cap;
	uint16_t queue;
	struct tool_count count;   /* TOOL_ADD by the thread, TOOL_GET by main */
	struct tool_span span;     /* read after the thread is joined */
};

/* Writes (and checks) one burst; stops every thread once --count frames are kept. */
static void keep_burst(struct capture *cap, struct unic_buf **bufs, uint16_t n, uint64_t ts)
{
	const struct options *o = cap->o;
	uint16_t i;

	pthread_mutex_lock(&cap->lock);
	for (i = 0; i < n && (!o->count || cap->written < o->count); i++) {
		const uint8_t *data = unic_buf_data(bufs[i]);
		writer_frame(&cap->w, ts, data, bufs[i]->len, o->snaplen);
		cap->written++;
		if (o->verify)
			verify_frame(&cap->v, data, bufs[i]->len);
	}
	if (o->count && cap->written == o->count)
		tool_halt(); /* later frames are received and counted, not kept */
	pthread_mutex_unlock(&cap->lock);
}

/* One burst from queue r: written, checked and counted. */
static uint16_t receive_burst(struct receiver *r, struct unic_buf **bufs)
{
	uint16_t n = unic_rx_burst(r->dev, r->queue, bufs, r->cap->o->common.batch), i;
	uint64_t bytes = 0;

	if (!n)
		return 0;
	tool_span_mark(&r->span);
	keep_burst(r->cap, bufs, n, realtime_ns());
	for (i = 0; i < n; i++)
		bytes += bufs[i]->len;
	TOOL_ADD(r->count.packets, n);
	TOOL_ADD(r->count.bytes, bytes);
	unic_buf_free_bulk(bufs, n);
	return n;
}

static void *receiver_run(void *arg)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	const struct tool_thread *th = arg;
	struct receiver *r = th->tool;
	struct tool_idle idle;
	uint16_t q;

	tool_idle_init(&idle, r[0].cap->o->common.idle, TOOL_IDLE_HYBRID);
	for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q))
		tool_idle_add(&idle, r[q].dev, q);
	while (!tool_stopped()) {
		unsigned got = 0;
		for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q))
			got += receive_burst(&r[q], bufs);
		tool_idle_round(&idle, got);
	}
	return NULL;
}

/* Every thread's frames, and the device's drops and errors. */
static void totals(struct unic_dev *dev, const struct receiver *r, uint16_t nq, struct tool_count *c)
{
	struct tool_count d;
	uint16_t q;

	tool_dev_count(dev, true, &d);
	*c = d;
	c->packets = c->bytes = 0;
	for (q = 0; q < nq; q++) {
		c->packets += TOOL_GET(r[q].count.packets);
		c->bytes += TOOL_GET(r[q].count.bytes);
	}
}

static void meter_line(struct tool_meter *m, struct unic_dev *dev, const struct receiver *r, uint16_t nq)
{
	static const char *const labels[] = { "rx" };
	struct tool_count c, q[TOOL_MAX_QUEUES];
	uint16_t i;

	totals(dev, r, nq, &c);
	for (i = 0; i < nq; i++)
		tool_queue_count(dev, i, true, &q[i]);
	tool_meter_print_queues(m, 1, labels, &c, nq, q);
}

static void json_verify_counts(struct tool_json *j, const struct verify_counts *c)
{
	tool_json_u64(j, "valid", c->valid);
	tool_json_u64(j, "lost", c->lost);
	tool_json_u64(j, "duplicated", c->duplicated);
	tool_json_u64(j, "reordered", c->reordered);
	tool_json_u64(j, "corrupt", c->corrupt);
}

static void json_verify(struct tool_json *j, const struct verify *v)
{
	char name[64];
	uint32_t i;

	tool_json_obj_begin(j, "verify");
	tool_json_u64(j, "received", v->received);
	json_verify_counts(j, &v->total);
	tool_json_u64(j, "other", v->other);
	tool_json_u64(j, "untracked", v->untracked);
	tool_json_u64(j, "nflows", v->nflows);
	tool_json_arr_begin(j, "flows");
	for (i = 0; i < v->nflows; i++) {
		tool_json_obj_begin(j, NULL);
		verify_flow_name(&v->flows[i].key, name, sizeof name);
		tool_json_str(j, "flow", name);
		json_verify_counts(j, &v->flows[i].c);
		tool_json_obj_end(j);
	}
	tool_json_arr_end(j);
	tool_json_obj_end(j);
}

static void print_json(const struct options *o, struct unic_dev *dev, const struct tool_count *c,
		       const struct verify *v, uint64_t written, uint64_t ns, uint64_t active_ns)
{
	struct tool_json j;

	tool_json_begin(&j);
	tool_json_str(&j, "tool", tool_name());
	tool_json_str(&j, "device", o->device);
	tool_json_str(&j, "file", o->file);
	tool_json_str(&j, "format", o->pcapng ? "pcapng" : "pcap");
	tool_json_double(&j, "seconds", (double)ns / 1e9);
	tool_json_double(&j, "active_seconds", (double)active_ns / 1e9);
	tool_json_u64(&j, "written", written);
	tool_json_count(&j, "rx", c, active_ns);
	/* the NIC's own counts: frames it delivered, and empty-ring events (not drops) */
	tool_json_u64(&j, "hw_rx_packets", c->hw_packets);
	tool_json_u64(&j, "hw_rx_no_buf", c->hw_no_buf);
	tool_json_queues(&j, dev, o->common.queues, true, active_ns); /* the library's counters of each rx queue */
	if (o->verify)
		json_verify(&j, v);
	tool_json_end(&j);
}

static bool flow_has_problem(const struct verify_counts *c)
{
	return c->lost || c->duplicated || c->reordered || c->corrupt;
}

static void print_verify(const struct verify *v)
{
	const struct verify_counts *t = &v->total;
	uint32_t i, shown = 0, bad = 0;
	char name[64];

	printf("%s: verify: received %llu, valid %llu, lost %llu, duplicated %llu, reordered %llu, corrupt %llu, "
	       "other %llu, flows %u\n", tool_name(), (unsigned long long)v->received, (unsigned long long)t->valid,
	       (unsigned long long)t->lost, (unsigned long long)t->duplicated, (unsigned long long)t->reordered,
	       (unsigned long long)t->corrupt, (unsigned long long)v->other, v->nflows);
	for (i = 0; i < v->nflows; i++) {
		const struct verify_counts *c = &v->flows[i].c;
		if (!flow_has_problem(c) || bad++ >= MAX_FLOW_LINES)
			continue;
		verify_flow_name(&v->flows[i].key, name, sizeof name);
		printf("%s: verify: flow %s: valid %llu, lost %llu, duplicated %llu, reordered %llu, corrupt %llu\n",
		       tool_name(), name, (unsigned long long)c->valid, (unsigned long long)c->lost,
		       (unsigned long long)c->duplicated, (unsigned long long)c->reordered, (unsigned long long)c->corrupt);
		shown++;
	}
	if (bad > shown)
		printf("%s: verify: %u more flows with problems (--json lists every flow)\n", tool_name(), bad - shown);
	if (v->untracked)
		printf("%s: verify: %llu frames of flows beyond the first %u were not checked for order\n", tool_name(),
		       (unsigned long long)v->untracked, VERIFY_MAX_FLOWS);
}

/* Rates are over active_ns, from the first to the last frame received. */
static void print_text(const struct options *o, struct unic_dev *dev, const struct tool_count *c,
		       const struct verify *v, uint64_t written, uint64_t ns, uint64_t active_ns)
{
	printf("%s: wrote %llu frames to %s in %.3f s; received %llu at %.3f Mpps %.1f Mbit/s, drops %llu, errors %llu\n",
	       tool_name(), (unsigned long long)written, o->file, (double)ns / 1e9, (unsigned long long)c->packets,
	       tool_mpps(c->packets, active_ns), tool_mbps(c->bytes, active_ns),
	       (unsigned long long)c->drops, (unsigned long long)c->errors);
	tool_print_queues(dev, o->common.queues, true);
	if (o->verify)
		print_verify(v);
}

/* The span over every queue: first to last burst. */
static uint64_t active_ns(const struct receiver *r, uint16_t nq, uint64_t fallback_ns)
{
	struct tool_span all = { 0, 0 };
	uint16_t q;

	for (q = 0; q < nq; q++)
		tool_span_merge(&all, &r[q].span);
	return tool_span_ns(&all, fallback_ns);
}

int main(int argc, char **argv)
{
	static struct capture cap;
	struct receiver recv[TOOL_MAX_QUEUES];
	struct tool_threads threads;
	struct unic_config cfg;
	struct unic_dev *dev;
	struct options o;
	struct tool_meter meter;
	struct tool_count count;
	uint64_t deadline, elapsed;
	char err[UNIC_ERR_LEN];
	const char *why;
	int status = TOOL_EXIT_OK;
	uint16_t q, nq;

	tool_init("unic-pcap");
	parse_args(argc, argv, &o);
	nq = o.common.queues;
	cap.o = &o;
	pthread_mutex_init(&cap.lock, NULL);
	if (o.verify && verify_init(&cap.v))
		tool_fail("out of memory");
	unic_config_init(&cfg);
	tool_common_config(&o.common, &cfg);
	cfg.promisc = true; /* a capture sees every frame on the wire */
	dev = tool_open(o.device, &cfg);
	if ((why = writer_open(&cap.w, &o))) {
		unic_close(dev);
		tool_fail("cannot write %s: %s", o.file, why);
	}
	memset(recv, 0, sizeof recv);
	for (q = 0; q < nq; q++) {
		recv[q].dev = dev;
		recv[q].cap = &cap;
		recv[q].queue = q;
	}

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	if (tool_threads_start(&threads, &o.common, receiver_run, recv, err, sizeof err)) {
		unic_close(dev);
		writer_close(&cap.w);
		tool_fail("%s", err);
	}
	fprintf(stderr, "%s: capturing on %s (%u queues, %u threads)\n", tool_name(), o.device, nq, o.common.threads);
	while (tool_running(deadline)) {
		tool_sleep_us(MAIN_POLL_US);
		if (tool_meter_due(&meter)) {
			tool_events_check(dev, o.device);
			meter_line(&meter, dev, recv, nq);
		}
	}
	elapsed = tool_now_ns() - meter.start_ns;
	tool_threads_stop(&threads);
	totals(dev, recv, nq, &count);
	if (writer_close(&cap.w)) {
		fprintf(stderr, "%s: writing %s failed (disk full?)\n", tool_name(), o.file);
		status = TOOL_EXIT_FAIL;
	}
	if (o.common.json)
		print_json(&o, dev, &count, &cap.v, cap.written, elapsed, active_ns(recv, nq, elapsed));
	else
		print_text(&o, dev, &count, &cap.v, cap.written, elapsed, active_ns(recv, nq, elapsed));
	unic_close(dev);
	if (o.verify) {
		if (cap.v.total.lost || cap.v.total.corrupt)
			status = TOOL_EXIT_FAIL;
		verify_free(&cap.v);
	}
	pthread_mutex_destroy(&cap.lock);
	return tool_exit_status(status);
}
