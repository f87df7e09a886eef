/*
 * tool.h - what every unic tool shares: error lines and exit codes, number
 * parsing, opening a device, clean stop on SIGINT/SIGTERM, the once-a-second
 * stats line and the --json summary.
 *
 * Exit status of every tool: 0 success, 1 runtime failure, 2 bad usage.
 */
#ifndef UNIC_TOOL_H
#define UNIC_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "unic.h"

#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAIL 1
#define TOOL_EXIT_USAGE 2

#define TOOL_MAX_BATCH 512
#define TOOL_DEFAULT_BATCH 32
#define NS_PER_SEC 1000000000ull

/* Set by SIGINT/SIGTERM, and by tool_dev_count() when a device failed; the main loops poll it. */
extern volatile sig_atomic_t tool_stop;

/* Names the tool in error lines, routes library warnings to stderr, installs the signal handlers. */
void tool_init(const char *name);
const char *tool_name(void);

/* One line "NAME: message" on stderr, then exit 2 (bad usage) or 1 (runtime failure). */
noreturn void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void tool_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_version(void);

/* A decimal number in [min, max] for option opt, or a usage error. */
uint64_t tool_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max);
/* Checks a device spec with unic_parse_spec(): a bad one is a usage error. */
void tool_check_spec(const char *spec);
/* unic_open(), or the library's error line and exit 1. SIGINT/SIGTERM cancel an open
 * that waits on a device (cfg.cancel = &tool_stop). */
struct unic_dev *tool_open(const char *spec, const struct unic_config *cfg);

/*
 * Options every device tool takes. Give tool_common_option() each option your
 * own switch does not handle: it fills these, prints --help/--version and
 * exits, and turns anything else into one usage error line.
 */
enum { TOOL_OPT_JSON = 1000, TOOL_OPT_FORCE };
#define TOOL_COMMON_LONG_OPTS                                                      \
	{ "seconds", required_argument, NULL, 's' }, { "batch", required_argument, NULL, 'b' }, \
	{ "json", no_argument, NULL, TOOL_OPT_JSON }, { "force", no_argument, NULL, TOOL_OPT_FORCE }, \
	{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }
/* The --help lines of the options above, and what a DEVICE is: the same in every device tool. */
#define TOOL_COMMON_USAGE                                                                            \
	"  -s, --seconds S    stop after S seconds (default: until Ctrl-C)\n"                           \
	"  -b, --batch N      frames per burst, 1..512 (default 32)\n"                                  \
	"      --json         print a JSON summary on stdout at the end\n"                              \
	"      --force        take a device even if its interface is up with an address;\n"             \
	"                     af_xdp: replace an XDP program already on the interface\n"               \
	"  -h, --help         this text\n"                                                              \
	"  -V, --version      print the version\n"                                                      \
	"\n"                                                                                            \
	"DEVICE: 0000:00:04.0, vfio:0000:00:04.0, vfio-noiommu:..., sysfs:... (see unic-devbind --status),\n" \
	"        vhost-user:PATH[,server], af_packet:IFNAME[,queues=N], tap:NAME[,queues=N],\n"         \
	"        af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy] (see unic(3))\n"
struct tool_common {
	uint64_t seconds;   /* 0: until stopped */
	uint16_t batch;
	bool json, force;
};
void tool_common_init(struct tool_common *c);
void tool_common_option(int opt, char **argv, const char *usage, struct tool_common *c);

/* One rx burst from the device's queues in turn (one thread, at most 4 devices): with
 * queues=N in the spec the kernel (or the NIC) spreads frames over N queues, and a tool reads
 * them all. The first non-empty queue's frames; 0 when every queue is empty. */
uint16_t tool_rx_burst(struct unic_dev *dev, struct unic_buf **bufs, uint16_t n);
uint64_t tool_now_ns(void);
/* Sleeps in a control path (waiting for link, draining); never per packet. */
void tool_sleep_us(unsigned us);
/* True while the run should go on: no signal (nor failed device), and before deadline_ns (0: none). */
bool tool_running(uint64_t deadline_ns);
/*
 * The tool's exit status, given the one it would have: when a device failed during
 * the run (tool_dev_count saw unic_stats fail: a vhost-user backend hung up), prints
 * that device's error line and returns TOOL_EXIT_FAIL. Call it last, after the summary.
 */
int tool_exit_status(int status);
/* Deadline seconds from now, or 0 when seconds is 0 (run until stopped). */
uint64_t tool_deadline(uint64_t seconds);

/*
 * The span from the first to the last burst that moved frames. Receivers start
 * before traffic does: rates over this span leave out the idle time around it.
 */
struct tool_span {
	uint64_t first_ns, last_ns;
};
void tool_span_mark(struct tool_span *s);
/* Length of the span; fallback_ns when it is empty. */
uint64_t tool_span_ns(const struct tool_span *s, uint64_t fallback_ns);

/* Totals the stats line and the summary report for one direction of traffic. */
struct tool_count {
	uint64_t packets, bytes;
	uint64_t drops, errors;
	uint64_t hw_packets;    /* the device's own count of frames it received (rx) or sent (tx), 0: none */
	uint64_t hw_no_buf;     /* rx: times the device met an empty ring (not drops: those are in drops) */
};
/*
 * Device drops (no buffer, missed by the hardware) and errors (bad frames, bad device values),
 * and the hardware's own counters. A device that failed gives the counters it had; its error
 * line is kept for tool_exit_status() and tool_stop is set, so the run ends.
 */
void tool_dev_count(struct unic_dev *dev, bool rx, struct tool_count *c);

/*
 * Once-a-second live line on stderr, one or two directions:
 *   NAME: LABEL 0.123 Mpps 59.1 Mbit/s (N total) [| LABEL ...] drops 0 errors 0
 */
#define TOOL_METER_DIRS 2
struct tool_meter {
	uint64_t start_ns, last_ns;
	struct tool_count last[TOOL_METER_DIRS];
};
void tool_meter_start(struct tool_meter *m);
/* True once a second has passed since the last line (cheap: reads the clock only). */
bool tool_meter_due(const struct tool_meter *m);
/* The same, for a caller that has just read the clock (tool_now_ns()). */
bool tool_meter_due_at(const struct tool_meter *m, uint64_t now_ns);
/* Prints the line for n directions (totals since start in c[]) and starts the next second. */
void tool_meter_print(struct tool_meter *m, int n, const char *const labels[], const struct tool_count c[]);
double tool_mpps(uint64_t packets, uint64_t ns);
double tool_mbps(uint64_t bytes, uint64_t ns);

/* --json: a flat JSON object on stdout, written one member at a time. */
#define TOOL_JSON_DEPTH 4
struct tool_json {
	FILE *f;
	int depth;
	int members[TOOL_JSON_DEPTH];
};
void tool_json_begin(struct tool_json *j);
void tool_json_str(struct tool_json *j, const char *key, const char *val);
void tool_json_u64(struct tool_json *j, const char *key, uint64_t val);
void tool_json_double(struct tool_json *j, const char *key, double val);
/* "key": {"packets":..,"bytes":..,"drops":..,"errors":..,"mpps":..,"mbps":..} */
void tool_json_obj_begin(struct tool_json *j, const char *key);
void tool_json_obj_end(struct tool_json *j);
void tool_json_count(struct tool_json *j, const char *key, const struct tool_count *c, uint64_t ns);
void tool_json_end(struct tool_json *j);

#endif
