/*
 * unic-fwd - bidirectional L2 forwarding between two devices: what arrives
 * on one is sent on the other, unchanged. The buffer received on one goes to
 * the other's tx ring without a copy when both devices share a DMA domain
 * (two vfio: devices, two sysfs: devices); otherwise (vhost-user, or vfio: with
 * sysfs:) unic_tx_burst copies each frame once, and the copies are counted.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/tool.h"

/* Bursts to wait for in-flight frames when stopping. */
#define DRAIN_ROUNDS 64

static const char usage_text[] =
	"Usage: unic-fwd [OPTIONS] DEV1 DEV2\n"
	"Forward every frame received on DEV1 to DEV2 and back (promiscuous, L2). Zero copy when\n"
	"both devices share a DMA domain, else one copy per frame, counted.\n"
	"DEV1 and DEV2 are each a DEVICE (below).\n"
	"\n"
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

static const struct option long_opts[] = {
	TOOL_COMMON_LONG_OPTS,
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
	while ((c = getopt_long(argc, argv, ":b:s:hV", long_opts, NULL)) != -1)
		tool_common_option(c, argv, usage_text, &o->common);
	if (argc - optind != 2)
		tool_usage_error(argc - optind < 2 ? "missing DEV1 or DEV2" : "too many arguments");
	o->dev[0] = argv[optind];
	o->dev[1] = argv[optind + 1];
	tool_check_spec(o->dev[0]);
	tool_check_spec(o->dev[1]);
}

/* One burst from -> to. Frames the tx ring has no room for are dropped and counted. */
static uint16_t forward(struct unic_dev *from, struct unic_dev *to, struct unic_buf **bufs, uint16_t batch,
			struct tool_count *c, struct tool_span *span)
{
	uint16_t n = tool_rx_burst(from, bufs, batch), sent, i;
	uint64_t bytes = 0;

	if (!n)
		return 0;
	tool_span_mark(span);
	for (i = 0; i < n; i++)
		bytes += bufs[i]->len;
	sent = unic_tx_burst(to, 0, bufs, n);
	for (i = sent; i < n; i++)
		bytes -= bufs[i]->len;
	unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent));
	c->packets += sent;
	c->bytes += bytes;
	c->drops += n - sent;
	return n;
}

/* Frames the device sent as copies (their buffer was out of its DMA domain). */
static uint64_t tx_copied(struct unic_dev *dev)
{
	struct unic_stats st;

	return unic_stats(dev, &st) ? 0 : st.tx_copied;
}

/* Counters of direction from -> to: ours, plus what the receiving device dropped or saw wrong. */
static void direction_count(struct unic_dev *from, struct unic_dev *to, const struct tool_count *fwd,
			    struct tool_count *out)
{
	struct tool_count rx, tx;

	tool_dev_count(from, true, &rx);
	tool_dev_count(to, false, &tx);
	*out = *fwd;
	out->drops += rx.drops;
	out->errors = rx.errors + tx.errors;
}

int main(int argc, char **argv)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	struct unic_config cfg;
	struct unic_dev *dev[2];
	struct options o;
	struct tool_meter meter;
	struct tool_count fwd[2] = { { 0 } }, total[2];
	struct tool_span span[2] = { { 0 } };
	const char *labels[2] = { "1->2", "2->1" };
	char err[UNIC_ERR_LEN];
	uint64_t deadline, elapsed, copied[2];
	int round;

	tool_init("unic-fwd");
	parse_args(argc, argv, &o);
	unic_config_init(&cfg);
	cfg.promisc = true; /* a bridge forwards every frame, not only those to its own address */
	cfg.force = o.common.force;
	cfg.cancel = &tool_stop; /* the second open is unic_open itself: Ctrl-C stops it too */
	dev[0] = tool_open(o.dev[0], &cfg);
	dev[1] = unic_open(o.dev[1], &cfg, err, sizeof err);
	if (!dev[1]) {
		unic_close(dev[0]); /* give the first device back before failing */
		tool_fail("%s", err);
	}

	fprintf(stderr, "%s: forwarding between %s and %s\n", tool_name(), o.dev[0], o.dev[1]);
	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	while (tool_running(deadline)) {
		forward(dev[0], dev[1], bufs, o.common.batch, &fwd[0], &span[0]);
		forward(dev[1], dev[0], bufs, o.common.batch, &fwd[1], &span[1]);
		if (tool_meter_due(&meter)) {
			direction_count(dev[0], dev[1], &fwd[0], &total[0]);
			direction_count(dev[1], dev[0], &fwd[1], &total[1]);
			tool_meter_print(&meter, 2, labels, total);
		}
	}
	elapsed = tool_now_ns() - meter.start_ns;
	/* Drain: forward what is still arriving, for a bounded number of bursts. */
	for (round = 0; round < DRAIN_ROUNDS; round++) {
		unsigned moved = forward(dev[0], dev[1], bufs, o.common.batch, &fwd[0], &span[0]);
		moved += forward(dev[1], dev[0], bufs, o.common.batch, &fwd[1], &span[1]);
		if (!moved)
			break;
	}
	direction_count(dev[0], dev[1], &fwd[0], &total[0]);
	direction_count(dev[1], dev[0], &fwd[1], &total[1]);
	copied[0] = tx_copied(dev[1]);
	copied[1] = tx_copied(dev[0]);
	unic_close(dev[0]);
	unic_close(dev[1]);

	if (o.common.json) {
		struct tool_json j;
		tool_json_begin(&j);
		tool_json_str(&j, "tool", tool_name());
		tool_json_str(&j, "dev1", o.dev[0]);
		tool_json_str(&j, "dev2", o.dev[1]);
		tool_json_double(&j, "seconds", (double)elapsed / 1e9);
		/* rates over the time each direction carried traffic */
		tool_json_count(&j, "dev1_to_dev2", &total[0], tool_span_ns(&span[0], elapsed));
		tool_json_count(&j, "dev2_to_dev1", &total[1], tool_span_ns(&span[1], elapsed));
		/* frames sent as a copy: the devices do not share a DMA domain */
		tool_json_obj_begin(&j, "copied");
		tool_json_u64(&j, "dev1_to_dev2", copied[0]);
		tool_json_u64(&j, "dev2_to_dev1", copied[1]);
		tool_json_obj_end(&j);
		tool_json_end(&j);
	} else {
		int d;
		for (d = 0; d < 2; d++)
			printf("%s: %s -> %s: %llu frames, %.3f Mpps %.1f Mbit/s, drops %llu, errors %llu, copied %llu\n",
			       tool_name(),
			       o.dev[d], o.dev[1 - d], (unsigned long long)total[d].packets,
			       tool_mpps(total[d].packets, tool_span_ns(&span[d], elapsed)),
			       tool_mbps(total[d].bytes, tool_span_ns(&span[d], elapsed)), (unsigned long long)total[d].drops,
			       (unsigned long long)total[d].errors, (unsigned long long)copied[d]);
	}
	return tool_exit_status(TOOL_EXIT_OK);
}
