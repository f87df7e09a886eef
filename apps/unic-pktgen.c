/*
 * unic-pktgen - send UDP/IPv4 test frames as fast as the device takes them,
 * or at a given rate. Each frame carries a sequence number, its send time and
 * a payload checksum, which `unic-pcap --verify` checks on the other side.
 *
 * The data path: allocate a batch of buffers from the device's mempool, write
 * the frames, unic_tx_burst() them, free what tx did not take. The device
 * frees the rest back to the pool once sent.
 */
#include <getopt.h>
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

static const char usage_text[] =
	"Usage: unic-pktgen [OPTIONS] DEVICE\n"
	"Send UDP/IPv4 test frames (sequence number, timestamp, checksum) on DEVICE.\n"
	"\n"
	"  -c, --count N      stop after N frames (default: no limit)\n"
	"  -l, --size BYTES   frame length without FCS, 60..1514 (default 60)\n"
	"  -r, --rate PPS     frames per second (default: as fast as possible)\n"
	"  -f, --flows N      vary the UDP source port over N values, for RSS (default 1)\n"
	"      --dst MAC      destination MAC (default ff:ff:ff:ff:ff:ff)\n"
	"      --src-ip A     source IPv4 address (default 198.18.0.1)\n"
	"      --dst-ip A     destination IPv4 address (default 198.18.0.2)\n"
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

enum { OPT_DST = 256, OPT_SRC_IP, OPT_DST_IP };

static const struct option long_opts[] = {
	{ "count", required_argument, NULL, 'c' },   { "size", required_argument, NULL, 'l' },
	{ "rate", required_argument, NULL, 'r' },    { "flows", required_argument, NULL, 'f' },
	{ "dst", required_argument, NULL, OPT_DST }, { "src-ip", required_argument, NULL, OPT_SRC_IP },
	{ "dst-ip", required_argument, NULL, OPT_DST_IP },
	TOOL_COMMON_LONG_OPTS,
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
	o->flows = 1;
	memset(o->dst_mac, 0xff, sizeof o->dst_mac);
	pkt_parse_ipv4("198.18.0.1", &o->src_ip); /* RFC 2544 benchmarking range */
	pkt_parse_ipv4("198.18.0.2", &o->dst_ip);
	while ((c = getopt_long(argc, argv, ":c:s:l:r:b:f:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->count = tool_parse_u64("--count", optarg, 1, UINT64_MAX); break;
		case 'l': o->size = (uint16_t)tool_parse_u64("--size", optarg, PKT_GEN_MIN_FRAME, PKT_ETH_MAX_FRAME); break;
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
static uint64_t paced_budget(const struct options *o, uint64_t elapsed_ns, uint64_t sent)
{
	double due;

	if (!o->rate)
		return UINT64_MAX;
	due = (double)elapsed_ns * (double)o->rate / 1e9;
	return due > (double)sent ? (uint64_t)due - sent : 0;
}

/* Give the device time to send what is still in its ring: closing resets it. */
static void drain_tx(struct unic_dev *dev)
{
	struct unic_mempool *pool = unic_dev_mempool(dev);
	uint64_t until = tool_now_ns() + DRAIN_WAIT_NS;
	struct unic_buf *none[1];

	while (unic_mempool_free_count(pool) < unic_mempool_size(pool) && tool_now_ns() < until) {
		unic_tx_burst(dev, 0, none, 0); /* lets the driver reclaim finished descriptors */
		tool_sleep_us(DRAIN_POLL_US);
	}
}

int main(int argc, char **argv)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH];
	struct pkt_gen_template tmpl;
	struct unic_config cfg;
	struct options o;
	struct tool_meter meter;
	struct tool_count count = { 0 }, dev_count;
	uint64_t deadline, seq = 0, busy = 0, no_buf = 0, elapsed, real_offset;
	uint8_t mac[PKT_MAC_LEN];
	static const char *const labels[] = { "tx" };
	struct unic_dev *dev;
	struct unic_mempool *pool;

	tool_init("unic-pktgen");
	parse_args(argc, argv, &o);
	unic_config_init(&cfg);
	cfg.force = o.common.force;
	dev = tool_open(o.device, &cfg);
	pool = unic_dev_mempool(dev);
	unic_mac(dev, mac);
	pkt_gen_template_init(&tmpl, o.size, mac, o.dst_mac, o.src_ip, o.dst_ip);
	wait_for_link(dev);
	fprintf(stderr, "%s: sending %u-byte frames on %s\n", tool_name(), o.size, o.device);

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	/* One clock read per burst serves the deadline, pacing, the stats line and the frames'
	 * timestamps (the monotonic clock moved onto the wall clock's scale once, here). */
	real_offset = realtime_ns() - tool_now_ns();
	while (!tool_stop && (!o.count || seq < o.count)) {
		uint64_t now = tool_now_ns(), n = o.common.batch, ts, budget;
		uint32_t flow;
		uint16_t i, sent;

		if (deadline && now >= deadline)
			break;
		if (o.count && o.count - seq < n)
			n = o.count - seq;
		budget = paced_budget(&o, now - meter.start_ns, seq);
		if (budget < n)
			n = budget;
		if (n && unic_buf_alloc_bulk(pool, bufs, (uint32_t)n) != n) {
			unic_tx_burst(dev, 0, bufs, 0); /* all buffers are in the tx ring: let it reclaim */
			no_buf++;
			n = 0;
		}
		ts = now + real_offset;
		flow = (uint32_t)(seq % o.flows); /* one division per burst, not per frame */
		for (i = 0; i < n; i++) {
			pkt_gen_write(&tmpl, unic_buf_data(bufs[i]), (uint16_t)(tmpl.sport + flow), seq + i, ts);
			bufs[i]->len = o.size;
			if (++flow == o.flows)
				flow = 0;
		}
		sent = n ? unic_tx_burst(dev, 0, bufs, (uint16_t)n) : 0;
		if (sent < n) {
			/* Not taken: free them; their sequence numbers go out with the next burst. */
			unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent));
			busy += n - sent;
		}
		seq += sent;
		if (tool_meter_due_at(&meter, now)) {
			tool_dev_count(dev, false, &dev_count);
			count.packets = seq;
			count.bytes = seq * o.size;
			count.errors = dev_count.errors;
			tool_meter_print(&meter, 1, labels, &count);
		}
	}
	elapsed = tool_now_ns() - meter.start_ns;
	drain_tx(dev);
	tool_dev_count(dev, false, &dev_count);
	count.packets = seq;
	count.bytes = seq * o.size;
	count.errors = dev_count.errors;
	count.hw_packets = dev_count.hw_packets;
	unic_close(dev);

	if (o.common.json) {
		struct tool_json j;
		tool_json_begin(&j);
		tool_json_str(&j, "tool", tool_name());
		tool_json_str(&j, "device", o.device);
		tool_json_double(&j, "seconds", (double)elapsed / 1e9);
		tool_json_u64(&j, "size", o.size);
		tool_json_count(&j, "tx", &count, elapsed);
		tool_json_u64(&j, "hw_tx_packets", count.hw_packets); /* the NIC's own count of frames sent */
		tool_json_u64(&j, "tx_busy", busy);
		tool_json_u64(&j, "no_buffer", no_buf);
		tool_json_end(&j);
	} else {
		printf("%s: sent %llu frames of %u bytes in %.3f s: %.3f Mpps %.1f Mbit/s, errors %llu\n", tool_name(),
		       (unsigned long long)seq, o.size, (double)elapsed / 1e9, tool_mpps(seq, elapsed),
		       tool_mbps(count.bytes, elapsed), (unsigned long long)count.errors);
	}
	return tool_exit_status(TOOL_EXIT_OK);
}
