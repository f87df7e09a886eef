/*
 * unic-echo - answer ARP requests, ICMP echo requests (ping) and UDP echo
 * (port 7) for one IPv4 address, from user space. Every other frame is
 * dropped and counted by reason, so that received == answered + dropped.
 *
 * Replies are written in place into the received buffer and sent back on the
 * same device: no copy, no allocation.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/echo.h"
#include "common/tool.h"

static const char usage_text[] =
	"Usage: unic-echo --ip ADDR/LEN [OPTIONS] DEVICE\n"
	"Answer ARP, ICMP echo (ping) and UDP echo (port 7) for ADDR on DEVICE.\n"
	"\n"
	"  -i, --ip ADDR/LEN  our IPv4 address and prefix length, e.g. 10.0.0.2/24 (required)\n"
	"      --stop-idle S  stop after S seconds without a received frame\n"
	TOOL_IDLE_USAGE("hybrid")
	TOOL_COMMON_USAGE
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

enum { OPT_STOP_IDLE = 256 };

static const struct option long_opts[] = {
	{ "ip", required_argument, NULL, 'i' }, { "stop-idle", required_argument, NULL, OPT_STOP_IDLE },
	TOOL_COMMON_LONG_OPTS,
	{ NULL, 0, NULL, 0 },
};

struct options {
	struct tool_common common; /* --seconds --batch --json --force */
	uint64_t idle;
	uint32_t ip;
	unsigned prefix;
	const char *ip_text, *device;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof *o);
	tool_common_init(&o->common);
	while ((c = getopt_long(argc, argv, ":i:s:b:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pkt_parse_ipv4_prefix(optarg, &o->ip, &o->prefix))
				tool_usage_error("--ip wants ADDR/LEN like 10.0.0.2/24, not '%s'", optarg);
			o->ip_text = optarg;
			break;
		case OPT_STOP_IDLE: o->idle = tool_parse_u64("--stop-idle", optarg, 1, 1000000); break;
		default: tool_common_option(c, argv, usage_text, &o->common);
		}
	}
	if (!o->ip_text)
		tool_usage_error("missing --ip ADDR/LEN");
	if (optind != argc - 1)
		tool_usage_error(optind == argc ? "missing DEVICE" : "too many arguments");
	o->device = argv[optind];
	tool_check_spec(o->device);
}

/* Handles one burst: replies go back out, the rest is freed. Returns frames received. */
static uint16_t echo_burst(struct unic_dev *dev, const struct echo_cfg *ec, uint16_t batch, uint64_t *verdicts)
{
	struct unic_buf *bufs[TOOL_MAX_BATCH], *replies[TOOL_MAX_BATCH], *drops[TOOL_MAX_BATCH];
	enum echo_verdict kind[TOOL_MAX_BATCH];
	uint16_t n = unic_rx_burst(dev, 0, bufs, batch), nr = 0, nd = 0, sent, i;

	for (i = 0; i < n; i++) {
		struct unic_buf *b = bufs[i];
		size_t cap = (size_t)b->len + unic_buf_tailroom(b), out_len = 0;
		enum echo_verdict v = echo_frame(ec, unic_buf_data(b), b->len, cap, &out_len);

		verdicts[v]++;
		if (v < ECHO_ANSWERS) {
			b->len = (uint16_t)out_len;
			kind[nr] = v;
			replies[nr++] = b;
		} else {
			drops[nd++] = b;
		}
	}
	sent = nr ? unic_tx_burst(dev, 0, replies, nr) : 0;
	for (i = sent; i < nr; i++) {
		/* The device had no room: the request is dropped after all. */
		verdicts[kind[i]]--;
		verdicts[ECHO_DROP_TX_FULL]++;
	}
	unic_buf_free_bulk(replies + sent, (uint32_t)(nr - sent));
	unic_buf_free_bulk(drops, nd);
	return n;
}

static void print_summary(const struct options *o, const uint64_t *verdicts, const struct tool_count *rx,
			  const struct tool_count *tx, uint64_t ns)
{
	uint64_t answered = 0, dropped = 0;
	int v;

	for (v = 0; v < ECHO_VERDICTS; v++)
		*(v < ECHO_ANSWERS ? &answered : &dropped) += verdicts[v];
	if (o->common.json) {
		struct tool_json j;
		tool_json_begin(&j);
		tool_json_str(&j, "tool", tool_name());
		tool_json_str(&j, "device", o->device);
		tool_json_str(&j, "ip", o->ip_text);
		tool_json_double(&j, "seconds", (double)ns / 1e9);
		tool_json_u64(&j, "received", answered + dropped);
		tool_json_u64(&j, "answered", answered);
		tool_json_u64(&j, "dropped", dropped);
		tool_json_obj_begin(&j, "answers");
		for (v = 0; v < ECHO_ANSWERS; v++)
			tool_json_u64(&j, echo_verdict_name(v), verdicts[v]);
		tool_json_obj_end(&j);
		tool_json_obj_begin(&j, "drops");
		for (v = ECHO_ANSWERS; v < ECHO_VERDICTS; v++)
			tool_json_u64(&j, echo_verdict_name(v), verdicts[v]);
		tool_json_obj_end(&j);
		tool_json_count(&j, "rx", rx, ns);
		tool_json_count(&j, "tx", tx, ns);
		tool_json_end(&j);
		return;
	}
	printf("%s: received %llu, answered %llu, dropped %llu in %.3f s\n", tool_name(),
	       (unsigned long long)(answered + dropped), (unsigned long long)answered, (unsigned long long)dropped,
	       (double)ns / 1e9);
	for (v = 0; v < ECHO_VERDICTS; v++)
		if (verdicts[v])
			printf("  %-16s %llu\n", echo_verdict_name(v), (unsigned long long)verdicts[v]);
	printf("  device: rx drops %llu, rx errors %llu, tx errors %llu\n", (unsigned long long)rx->drops,
	       (unsigned long long)rx->errors, (unsigned long long)tx->errors);
}

int main(int argc, char **argv)
{
	struct unic_config cfg;
	struct unic_dev *dev;
	struct options o;
	struct echo_cfg ec;
	struct tool_meter meter;
	struct tool_count rx, tx, live[1];
	static const char *const labels[] = { "rx" };
	uint64_t verdicts[ECHO_VERDICTS] = { 0 }, deadline, last_rx, elapsed;
	char addr[INET_ADDRSTRLEN];
	struct tool_idle idle;
	int round;

	tool_init("unic-echo");
	parse_args(argc, argv, &o);
	unic_config_init(&cfg);
	tool_common_config(&o.common, &cfg); /* --force, --mtu; one queue */
	dev = tool_open(o.device, &cfg);
	unic_mac(dev, ec.mac);
	ec.ip = o.ip;
	inet_ntop(AF_INET, &ec.ip, addr, sizeof addr);
	fprintf(stderr, "%s: answering for %s at %02x:%02x:%02x:%02x:%02x:%02x on %s\n", tool_name(), addr, ec.mac[0],
		ec.mac[1], ec.mac[2], ec.mac[3], ec.mac[4], ec.mac[5], o.device);

	deadline = tool_deadline(o.common.seconds);
	tool_meter_start(&meter);
	last_rx = meter.start_ns;
	tool_idle_init(&idle, o.common.idle, TOOL_IDLE_HYBRID);
	tool_idle_add(&idle, dev, 0);
	tool_idle_watch(&idle, dev, o.device); /* a link change or an unplug wakes it too */
	while (tool_running(deadline)) {
		uint16_t got = echo_burst(dev, &ec, o.common.batch, verdicts);
		if (got)
			last_rx = tool_now_ns();
		else if (o.idle && tool_now_ns() - last_rx > o.idle * NS_PER_SEC)
			break;
		tool_idle_round(&idle, got);
		if (tool_meter_due(&meter)) {
			tool_events_check(dev, o.device);
			tool_dev_count(dev, true, &live[0]);
			tool_meter_print(&meter, 1, labels, live);
		}
	}
	elapsed = tool_now_ns() - meter.start_ns;
	for (round = 0; round < 64 && echo_burst(dev, &ec, o.common.batch, verdicts); round++)
		; /* drain what already arrived */
	tool_dev_count(dev, true, &rx);
	tool_dev_count(dev, false, &tx);
	unic_close(dev);
	print_summary(&o, verdicts, &rx, &tx, elapsed);
	return tool_exit_status(TOOL_EXIT_OK);
}
