/*
 * tool.h - what every unic tool shares: error lines and exit codes, number
 * parsing, opening a device, clean stop on SIGINT/SIGTERM, the once-a-second
 * stats line and the --json summary.
 *
 * Exit status of every tool: 0 success, 1 runtime failure, 2 bad usage.
 */
#ifndef UNIC_TOOL_H
#define UNIC_TOOL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "common/cpulist.h"
#include "common/idle.h"
#include "unic.h"

#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAIL 1
#define TOOL_EXIT_USAGE 2

#define TOOL_MAX_BATCH 512
#define TOOL_DEFAULT_BATCH 32
#define NS_PER_SEC 1000000000ull

/* Set by SIGINT/SIGTERM, and by tool_dev_count() when a device failed; the main loops poll it.
 * Queue threads read tool_stopped() instead (an atomic flag set at the same moments). */
extern volatile sig_atomic_t tool_stop;
/* True once a signal, a failed device or tool_halt() asked every thread to stop. Any thread. */
bool tool_stopped(void);
/* Asks every thread to stop (the deadline passed, the count was reached). Any thread. */
void tool_halt(void);

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
enum { TOOL_OPT_JSON = 1000, TOOL_OPT_FORCE, TOOL_OPT_MTU, TOOL_OPT_CPUS, TOOL_OPT_THREADS, TOOL_OPT_RING, TOOL_OPT_IDLE };
#define TOOL_COMMON_LONG_OPTS                                                      \
	{ "seconds", required_argument, NULL, 's' }, { "batch", required_argument, NULL, 'b' }, \
	{ "json", no_argument, NULL, TOOL_OPT_JSON }, { "force", no_argument, NULL, TOOL_OPT_FORCE }, \
	{ "mtu", required_argument, NULL, TOOL_OPT_MTU }, { "ring", required_argument, NULL, TOOL_OPT_RING }, \
	{ "idle", required_argument, NULL, TOOL_OPT_IDLE }, \
	{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }
/* --queues and --cpus: the tools that run one thread per queue add these (and "q:" to getopt). */
#define TOOL_QUEUE_LONG_OPTS \
	{ "queues", required_argument, NULL, 'q' }, { "cpus", required_argument, NULL, TOOL_OPT_CPUS }, \
	{ "threads", required_argument, NULL, TOOL_OPT_THREADS }
#define TOOL_QUEUE_USAGE                                                                             \
	"  -q, --queues N     queues per device, 1..16 (default 1)\n"                                   \
	"      --threads T    queue threads, 1..N (default N: one per queue); thread t serves\n"        \
	"                     queues t, t+T, t+2T, ... of every device\n"                               \
	"      --cpus LIST    pin thread t to the t-th CPU of LIST (0,1 or 0-3; wraps around when\n"    \
	"                     there are more threads than CPUs) (default: not pinned)\n"
/* The --help lines of the options above, and what a DEVICE is: the same in every device tool. */
#define TOOL_COMMON_USAGE                                                                            \
	"  -s, --seconds S    stop after S seconds (default: until Ctrl-C)\n"                           \
	"  -b, --batch N      frames per burst, 1..512 (default 32)\n"                                  \
	"      --mtu BYTES    largest IP packet, 68..9000 (default 1500); frames are up to\n"          \
	"                     MTU + 14 bytes (Ethernet header, no FCS)\n"                               \
	"      --ring N       descriptors of each rx and tx ring, 8..32768 (default: the driver's;\n"   \
	"                     a larger ring rides out a thread that is not scheduled for a while)\n"    \
	"      --json         print a JSON summary on stdout at the end\n"                              \
	"      --force        take a device even if its interface is up with an address\n"              \
	"  -h, --help         this text\n"                                                              \
	"  -V, --version      print the version\n"                                                      \
	"\n"                                                                                            \
	"DEVICE: 0000:00:04.0, vfio:0000:00:04.0, vfio-noiommu:..., sysfs:... (see unic-devbind --status),\n" \
	"        vhost-user:PATH[,server], af_packet:IFNAME[,queues=N], tap:NAME[,queues=N],\n"         \
	"        af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy] (see unic(3))\n"
/* Totals the stats line and the summary report for one direction of traffic. */
struct tool_count {
	uint64_t packets, bytes;
	uint64_t drops, errors;
	uint64_t hw_packets;    /* the device's own count of frames it received (rx) or sent (tx), 0: none */
	uint64_t hw_no_buf;     /* rx: times the device met an empty ring (not drops: those are in drops) */
};

#define TOOL_MAX_QUEUES 16
#define TOOL_DEFAULT_MTU 1500
#define TOOL_MIN_MTU 68
#define TOOL_MAX_MTU 9000
#define TOOL_ETH_HDR_LEN 14
#define TOOL_MIN_RING 8       /* unic_config's ring size range */
#define TOOL_MAX_RING 32768
struct tool_common {
	uint64_t seconds;   /* 0: until stopped */
	uint16_t batch;
	uint16_t queues;    /* 1..TOOL_MAX_QUEUES */
	uint16_t threads;   /* 1..queues; 0 until tool_common_finish(): one per queue */
	uint16_t mtu;       /* TOOL_DEFAULT_MTU unless --mtu */
	uint16_t ring;      /* 0: the driver's default */
	enum tool_idle_mode idle; /* --idle; TOOL_IDLE_DEFAULT: the tool's own default */
	int ncpus;          /* entries in cpus[], 0: threads are not pinned */
	int cpus[CPULIST_MAX];
	bool json, force;
};
void tool_common_init(struct tool_common *c);
void tool_common_option(int opt, char **argv, const char *usage, struct tool_common *c);
/* After the options: --threads defaults to --queues, and may not exceed it (a usage error). */
void tool_common_finish(struct tool_common *c);
/* What the common options ask of unic_open: force, mtu, rx and tx queues, ring sizes. */
void tool_common_config(const struct tool_common *c, struct unic_config *cfg);

/*
 * Queue threads: c->threads threads; thread t runs fn(&tid[t]'s struct tool_thread), serves
 * queues t, t + threads, ... below c->queues (tool_thread_next), and is pinned to
 * cpus[t % ncpus] when --cpus was given. tool_threads_stop() asks them to stop (tool_halt)
 * and joins them all. A thread that cannot be started stops and joins those that were, and is
 * reported in err: 0 or -1.
 */
struct tool_thread {
	pthread_t tid;
	uint16_t index, nthreads, nqueues;
	void *tool;          /* what the tool gave tool_threads_start */
};
struct tool_threads {
	struct tool_thread t[TOOL_MAX_QUEUES];
	int n;
};
int tool_threads_start(struct tool_threads *t, const struct tool_common *c, void *(*fn)(void *), void *tool,
		       char *err, size_t errlen);
/* The queues of a thread: for (q = th->index; q < th->nqueues; q = tool_thread_next(th, q)) */
static inline uint16_t tool_thread_next(const struct tool_thread *th, uint16_t q)
{
	return (uint16_t)(q + th->nthreads);
}
void tool_threads_stop(struct tool_threads *t);
/* Counters a queue thread writes and the main thread reads: one writer, relaxed atomics. */
#define TOOL_ADD(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define TOOL_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
/* Per queue counts of one device, through unic_queue_stats(): rx (rx true) or tx side. */
void tool_queue_count(struct unic_dev *dev, uint16_t q, bool rx, struct tool_count *c);
/* With several queues, one line per queue on stdout: "NAME: queue q: received|sent N frames, drops D, errors E". */
void tool_print_queues(struct unic_dev *dev, uint16_t nq, bool rx);

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
/* Widens all to cover s too (the span of several queues). */
void tool_span_merge(struct tool_span *all, const struct tool_span *s);
/* Length of the span; fallback_ns when it is empty. */
uint64_t tool_span_ns(const struct tool_span *s, uint64_t fallback_ns);

/*
 * Device drops (no buffer, missed by the hardware) and errors (bad frames, bad device values),
 * and the hardware's own counters. A device that failed gives the counters it had; its error
 * line is kept for tool_exit_status() and tool_stop is set, so the run ends.
 */
void tool_dev_count(struct unic_dev *dev, bool rx, struct tool_count *c);
/* A queue thread saw the device fail (removed, unplugged): keep its line for the exit, stop. */
void tool_dev_failed(struct unic_dev *dev);

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
/* The same line, ended with each direction's packets per queue when there are several queues:
 *   ... drops 0 errors 0; queues LABEL 10+12 [LABEL 3+0]   (q[dir * nq + queue]) */
void tool_meter_print_queues(struct tool_meter *m, int n, const char *const labels[], const struct tool_count c[],
			     int nq, const struct tool_count q[]);
double tool_mpps(uint64_t packets, uint64_t ns);
double tool_mbps(uint64_t bytes, uint64_t ns);

/* --json: a flat JSON object on stdout, written one member at a time. */
#define TOOL_JSON_DEPTH 8
struct tool_json {
	FILE *f;
	int depth;
	int members[TOOL_JSON_DEPTH];
};
void tool_json_begin(struct tool_json *j);
/* The same, to f (tests). */
void tool_json_begin_to(struct tool_json *j, FILE *f);
void tool_json_str(struct tool_json *j, const char *key, const char *val);
void tool_json_u64(struct tool_json *j, const char *key, uint64_t val);
void tool_json_double(struct tool_json *j, const char *key, double val);
/* "key": {"packets":..,"bytes":..,"drops":..,"errors":..,"mpps":..,"mbps":..} */
void tool_json_obj_begin(struct tool_json *j, const char *key);
void tool_json_obj_end(struct tool_json *j);
/* "key": [ ... ]: members are tool_json_obj_begin(j, NULL) objects. */
void tool_json_arr_begin(struct tool_json *j, const char *key);
void tool_json_arr_end(struct tool_json *j);
void tool_json_count(struct tool_json *j, const char *key, const struct tool_count *c, uint64_t ns);
/* "queues": [{"queue":0,"rx"|"tx":{counts}}, ...] from unic_queue_stats(), rates over ns. */
void tool_json_queues(struct tool_json *j, struct unic_dev *dev, uint16_t nq, bool rx, uint64_t ns);
void tool_json_end(struct tool_json *j);

#endif
