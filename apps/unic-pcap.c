/*
 * unic-pcap - capture what a device receives into a pcap file (written by
 * libpcap's dump writer, nanosecond timestamps) or a pcapng file, and
 * optionally check unic-pktgen's sequence numbers and checksums on the way.
 *
 * Timestamps are taken once per received burst (the NICs unic drives give no
 * per-frame receive time in the descriptors it uses).
 */
#include <errno.h>
#include <getopt.h>
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

static const char usage_text[] =
	"Usage: unic-pcap [OPTIONS] DEVICE FILE\n"
	"Capture frames received on DEVICE (promiscuous) into FILE.\n"
	"\n"
	"  -c, --count N      stop after N frames (default: no limit)\n"
	"  -n, --pcapng       write pcapng instead of pcap\n"
	"      --snaplen N    bytes kept of each frame, 14..65535 (default 65535)\n"
	"      --verify       check unic-pktgen frames: lost, duplicated, reordered, corrupt\n"
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure (or --verify found lost or corrupt frames), 2 bad usage.\n";

enum { OPT_SNAPLEN = 256, OPT_VERIFY };

static const struct option long_opts[] = {
	{ "count", required_argument, NULL, 'c' },   { "pcapng", no_argument, NULL, 'n' },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN }, { "verify", no_argument, NULL, OPT_VERIFY },
	TOOL_COMMON_LONG_OPTS,
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
	while ((c = getopt_long(argc, argv, ":c:s:nb:hV", long_opts, NULL)) != -1) {
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

/* Rates are over active_ns, from the first to the last frame received. */
static void print_summary(const struct options *o, const struct tool_count *c, const struct verify *v,
			  uint64_t written, uint64_t ns, uint64_t active_ns)
{
	if (o->common.json) {
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
		if (o->verify) {
			tool_json_obj_begin(&j, "verify");
			tool_json_u64(&j, "received", v->received);
			tool_json_u64(&j, "valid", v->valid);
			tool_json_u64(&j, "lost", v->lost);
			tool_json_u64(&j, "duplicated", v->duplicated);
			tool_json_u64(&j, "reordered", v->reordered);
			tool_json_u64(&j, "corrupt", v->corrupt);
			tool_json_u64(&j, "other", v->other);
			tool_json_obj_end(&j);
		}
		tool_json_end(&j);
		return;
	}
	printf("%s: wrote %llu frames to %s in %.3f s; received %llu at %.3f Mpps %.1f Mbit/s, drops %llu, errors %llu\n",
	       tool_name(), (unsigned long long)written, o->file, (double)ns / 1e9, (unsigned long long)c->packets,
	       tool_mpps(c->packets, active_ns), tool_mbps(c->bytes, active_ns),
	       (unsigned long long)c->drops, (unsigned long long)c->errors);
	if (o->verify)
		printf("%s: verify: received %llu, valid %llu, lost %llu, duplicated %llu, reordered %llu, corrupt %llu, "
		       "other %llu\n", tool_name(), (unsigned long long)v->received, (unsigned long long)v->valid,
		       (unsigned long long)v->lost, (unsigned long long)v->duplicated, (unsigned long long)v->reordered,
		       (unsigned long long)v->corrupt, (unsigned long long)v->other);
}

/* With several rx queues: the frames each one received (how the device spread them). */
static void print_queues(struct unic_dev *dev)
{
	struct unic_info info;
	struct unic_queue_stats qs;
	uint16_t q;

	if (unic_info(dev, &info) || info.rx_queues < 2)
		return;
	fprintf(stderr, "%s: per rx queue:", tool_name());
	for (q = 0; q < info.rx_queues; q++)
		if (unic_queue_stats(dev, q, &qs) == 0)
			fprintf(stderr, " %u:%llu", q, (unsigned long long)qs.rx_packets);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	struct unic_config cfg;
	struct unic_dev *dev;
	struct options o;
	struct writer w;
	struct verify v = { 0 };
	struct tool_meter meter;
	struct tool_count count = { 0 }, dev_count;
	struct tool_span span = { 0 };
	static const char *const labels[] = { "rx" };
	uint64_t deadline, elapsed, written = 0;
	const char *why;
	int status = TOOL_EXIT_OK;

	tool_init("unic-pcap");
	parse_args(argc, argv, &o);
	if (o.verify && verify_init(&v))
		tool_fail("out of memory");
	unic_config_init(&cfg);
	cfg.promisc = true; /* a capture sees every frame on the wire */
	cfg.force = o.common.force;
	dev = tool_open(o.device, &cfg);
	if ((why = writer_open(&w, &o))) {
		unic_close(dev);
		tool_fail("cannot write %s: %s", o.file, why);
	}

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	fprintf(stderr, "%s: capturing on %s\n", tool_name(), o.device);
	while (tool_running(deadline) && (!o.count || written < o.count)) {
		uint16_t n = tool_rx_burst(dev, bufs, o.common.batch), i;
		uint64_t ts = n ? realtime_ns() : 0;

		if (n)
			tool_span_mark(&span);

		for (i = 0; i < n; i++) {
			const uint8_t *data = unic_buf_data(bufs[i]);
			count.packets++;
			count.bytes += bufs[i]->len;
			if (o.count && written == o.count)
				continue; /* received, counted, not kept */
			writer_frame(&w, ts, data, bufs[i]->len, o.snaplen);
			written++;
			if (o.verify)
				verify_frame(&v, data, bufs[i]->len);
		}
		unic_buf_free_bulk(bufs, n);
		if (tool_meter_due(&meter)) {
			tool_dev_count(dev, true, &dev_count);
			count.drops = dev_count.drops;
			count.errors = dev_count.errors;
			tool_meter_print(&meter, 1, labels, &count);
		}
	}
	elapsed = tool_now_ns() - meter.start_ns;
	tool_dev_count(dev, true, &dev_count);
	count.drops = dev_count.drops;
	count.errors = dev_count.errors;
	count.hw_packets = dev_count.hw_packets;
	count.hw_no_buf = dev_count.hw_no_buf;
	print_queues(dev);
	unic_close(dev);
	if (writer_close(&w)) {
		fprintf(stderr, "%s: writing %s failed (disk full?)\n", tool_name(), o.file);
		status = TOOL_EXIT_FAIL;
	}
	print_summary(&o, &count, &v, written, elapsed, tool_span_ns(&span, elapsed));
	if (o.verify) {
		if (v.lost || v.corrupt)
			status = TOOL_EXIT_FAIL;
		verify_free(&v);
	}
	return tool_exit_status(status);
}
