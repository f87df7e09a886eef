/* tool.c - shared plumbing of the unic tools (see tool.h). */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdatomic.h>

#include "common/tool.h"

volatile sig_atomic_t tool_stop;
/* What queue threads read: a lock-free atomic, which a signal handler may set too. */
static atomic_bool halted;
static const char *name = "unic";
/* The first device that failed under a tool (tool_dev_count): its error line, for the exit. */
static char dev_failure[UNIC_ERR_LEN];
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
	(void)sig;
	tool_stop = 1;
	atomic_store_explicit(&halted, true, memory_order_relaxed);
}

bool tool_stopped(void)
{
	return atomic_load_explicit(&halted, memory_order_relaxed);
}

void tool_halt(void)
{
	atomic_store_explicit(&halted, true, memory_order_relaxed);
}

/* Library warnings go to stderr; errors come back through return values and are printed once by the caller. */
static void on_log(enum unic_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level != UNIC_LOG_ERR)
		fprintf(stderr, "%s: %s\n", name, msg);
}

void tool_init(const char *tool)
{
	struct sigaction sa;

	name = tool;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked call returns and the loop sees tool_stop */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	unic_set_log(on_log, NULL, UNIC_LOG_WARN);
}

const char *tool_name(void)
{
	return name;
}

static void vline(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tool_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", name);
	exit(TOOL_EXIT_USAGE);
}

void tool_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
	exit(TOOL_EXIT_FAIL);
}

void tool_version(void)
{
	printf("%s (unic) %s\n", name, UNIC_VERSION_STRING);
}

uint64_t tool_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!arg || arg[0] < '0' || arg[0] > '9')
		tool_usage_error("%s wants a number from %llu to %llu, not '%s'", opt, (unsigned long long)min,
				 (unsigned long long)max, arg ? arg : "");
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		tool_usage_error("%s wants a number from %llu to %llu, not '%s'", opt, (unsigned long long)min,
				 (unsigned long long)max, arg);
	return v;
}

void tool_check_spec(const char *spec)
{
	struct unic_spec s;
	char err[UNIC_ERR_LEN];

	if (unic_parse_spec(spec, &s, err, sizeof err))
		tool_usage_error("%s", err);
}

struct unic_dev *tool_open(const char *spec, const struct unic_config *cfg)
{
	char err[UNIC_ERR_LEN];
	struct unic_config c = *cfg;
	struct unic_dev *dev;

	c.cancel = &tool_stop; /* Ctrl-C/SIGTERM stop an open that waits on a device */
	dev = unic_open(spec, &c, err, sizeof err);

	if (!dev)
		tool_fail("%s", err);
	return dev;
}

uint64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void tool_sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

uint64_t tool_deadline(uint64_t seconds)
{
	return seconds ? tool_now_ns() + seconds * NS_PER_SEC : 0;
}

bool tool_running(uint64_t deadline_ns)
{
	return !tool_stopped() && (!deadline_ns || tool_now_ns() < deadline_ns);
}

int tool_exit_status(int status)
{
	if (!dev_failure[0])
		return status;
	fprintf(stderr, "%s: %s\n", name, dev_failure);
	return TOOL_EXIT_FAIL;
}

void tool_span_mark(struct tool_span *s)
{
	s->last_ns = tool_now_ns();
	if (!s->first_ns)
		s->first_ns = s->last_ns;
}

uint64_t tool_span_ns(const struct tool_span *s, uint64_t fallback_ns)
{
	return s->last_ns > s->first_ns ? s->last_ns - s->first_ns : fallback_ns;
}

void tool_dev_failed(struct unic_dev *dev)
{
	pthread_mutex_lock(&failure_lock);
	if (!dev_failure[0])
		snprintf(dev_failure, sizeof dev_failure, "%s", unic_last_error(dev));
	pthread_mutex_unlock(&failure_lock);
	tool_stop = 1;
	tool_halt();
}

void tool_dev_count(struct unic_dev *dev, bool rx, struct tool_count *c)
{
	struct unic_stats st;

	memset(c, 0, sizeof *c);
	memset(&st, 0, sizeof st);
	/* a device that failed still gives the counters it had: keep them, and remember why */
	if (unic_stats(dev, &st))
		tool_dev_failed(dev); /* the run ends as on a signal, in loops that read tool_stop directly too */
	c->packets = rx ? st.rx_packets : st.tx_packets;
	c->bytes = rx ? st.rx_bytes : st.tx_bytes;
	c->drops = rx ? st.rx_dropped + st.hw_rx_missed : st.tx_dropped;
	c->errors = (rx ? st.rx_errors : st.tx_errors) + st.bad_device;
	c->hw_packets = rx ? st.hw_rx_packets : st.hw_tx_packets;
	c->hw_no_buf = rx ? st.hw_rx_no_buf : 0;
}

/* ---- the live stats line ---- */

void tool_meter_start(struct tool_meter *m)
{
	memset(m, 0, sizeof *m);
	m->start_ns = m->last_ns = tool_now_ns();
}

bool tool_meter_due_at(const struct tool_meter *m, uint64_t now_ns)
{
	return now_ns - m->last_ns >= NS_PER_SEC;
}

bool tool_meter_due(const struct tool_meter *m)
{
	return tool_meter_due_at(m, tool_now_ns());
}

double tool_mpps(uint64_t packets, uint64_t ns)
{
	return ns ? (double)packets * 1e3 / (double)ns : 0.0;
}

double tool_mbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes * 8e3 / (double)ns : 0.0;
}

static void meter_line(struct tool_meter *m, int n, const char *const labels[], const struct tool_count c[])
{
	uint64_t now = tool_now_ns(), ns = now - m->last_ns, drops = 0, errors = 0;
	int i;

	fprintf(stderr, "%s:", name);
	for (i = 0; i < n && i < TOOL_METER_DIRS; i++) {
		fprintf(stderr, "%s %s %.3f Mpps %.1f Mbit/s (%llu total)", i ? " |" : "", labels[i],
			tool_mpps(c[i].packets - m->last[i].packets, ns), tool_mbps(c[i].bytes - m->last[i].bytes, ns),
			(unsigned long long)c[i].packets);
		drops += c[i].drops;
		errors += c[i].errors;
		m->last[i] = c[i];
	}
	fprintf(stderr, " drops %llu errors %llu", (unsigned long long)drops, (unsigned long long)errors);
	m->last_ns = now;
}

void tool_meter_print(struct tool_meter *m, int n, const char *const labels[], const struct tool_count c[])
{
	meter_line(m, n, labels, c);
	fputc('\n', stderr);
}

void tool_meter_print_queues(struct tool_meter *m, int n, const char *const labels[], const struct tool_count c[],
			     int nq, const struct tool_count q[])
{
	int d, i;

	meter_line(m, n, labels, c);
	if (nq > 1) {
		fputs("; queues", stderr);
		for (d = 0; d < n && d < TOOL_METER_DIRS; d++) {
			if (n > 1)
				fprintf(stderr, " %s", labels[d]);
			for (i = 0; i < nq; i++)
				fprintf(stderr, "%s%llu", i ? "+" : " ", (unsigned long long)q[d * nq + i].packets);
		}
	}
	fputc('\n', stderr);
}

/* ---- --json ---- */

/* A member's key, or only the separator for an array element (key NULL). */
static void json_key(struct tool_json *j, const char *key)
{
	fputs(j->members[j->depth]++ ? "," : "", j->f);
	if (key)
		fprintf(j->f, "\"%s\":", key);
}

void tool_json_begin(struct tool_json *j)
{
	tool_json_begin_to(j, stdout);
}

void tool_json_begin_to(struct tool_json *j, FILE *f)
{
	memset(j, 0, sizeof *j);
	j->f = f;
	fputc('{', j->f);
}

/* Opens an object or array (bracket '{' or '['): one level deeper, its members counted apart. */
static void json_open(struct tool_json *j, const char *key, char bracket)
{
	json_key(j, key);
	fputc(bracket, j->f);
	if (j->depth + 1 < TOOL_JSON_DEPTH)
		j->members[++j->depth] = 0;
}

static void json_close(struct tool_json *j, char bracket)
{
	fputc(bracket, j->f);
	if (j->depth > 0)
		j->depth--;
}

void tool_json_obj_begin(struct tool_json *j, const char *key)
{
	json_open(j, key, '{');
}

void tool_json_obj_end(struct tool_json *j)
{
	json_close(j, '}');
}

void tool_json_arr_begin(struct tool_json *j, const char *key)
{
	json_open(j, key, '[');
}

void tool_json_arr_end(struct tool_json *j)
{
	json_close(j, ']');
}

/* Strings here are device specs, file names and counter names: escape the two JSON specials, drop controls. */
void tool_json_str(struct tool_json *j, const char *key, const char *val)
{
	const char *p;

	json_key(j, key);
	fputc('"', j->f);
	for (p = val; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', j->f);
		if ((unsigned char)*p >= 0x20)
			fputc(*p, j->f);
	}
	fputc('"', j->f);
}

void tool_json_u64(struct tool_json *j, const char *key, uint64_t val)
{
	json_key(j, key);
	fprintf(j->f, "%llu", (unsigned long long)val);
}

void tool_json_double(struct tool_json *j, const char *key, double val)
{
	json_key(j, key);
	fprintf(j->f, "%.6f", val);
}

void tool_json_count(struct tool_json *j, const char *key, const struct tool_count *c, uint64_t ns)
{
	tool_json_obj_begin(j, key);
	tool_json_u64(j, "packets", c->packets);
	tool_json_u64(j, "bytes", c->bytes);
	tool_json_u64(j, "drops", c->drops);
	tool_json_u64(j, "errors", c->errors);
	tool_json_double(j, "mpps", tool_mpps(c->packets, ns));
	tool_json_double(j, "mbps", tool_mbps(c->bytes, ns));
	tool_json_obj_end(j);
}

void tool_json_end(struct tool_json *j)
{
	fputs("}\n", j->f);
	fflush(j->f);
}

void tool_common_init(struct tool_common *c)
{
	memset(c, 0, sizeof *c);
	c->batch = TOOL_DEFAULT_BATCH;
	c->queues = 1;
	c->mtu = TOOL_DEFAULT_MTU;
	opterr = 0; /* getopt's own messages would make a second error line */
}

/* --cpus: a list of CPUs this process may run on, or one usage error line. */
static void parse_cpus(const char *arg, struct tool_common *c)
{
	char err[UNIC_ERR_LEN];
	cpu_set_t allowed;

	c->ncpus = cpulist_parse(arg, c->cpus, err, sizeof err);
	if (c->ncpus < 0)
		tool_usage_error("%s", err);
	if (sched_getaffinity(0, sizeof allowed, &allowed))
		tool_fail("cannot read this process's CPUs: %s", strerror(errno));
	if (cpulist_check(c->cpus, c->ncpus, &allowed, err, sizeof err))
		tool_usage_error("%s", err);
}

void tool_common_option(int opt, char **argv, const char *usage, struct tool_common *c)
{
	switch (opt) {
	case 's': c->seconds = tool_parse_u64("--seconds", optarg, 1, 1000000); break;
	case 'b': c->batch = (uint16_t)tool_parse_u64("--batch", optarg, 1, TOOL_MAX_BATCH); break;
	case TOOL_OPT_JSON: c->json = true; break;
	case TOOL_OPT_FORCE: c->force = true; break;
	case TOOL_OPT_IDLE: c->idle = tool_idle_parse(optarg); break;
	case TOOL_OPT_RING: c->ring = (uint16_t)tool_parse_u64("--ring", optarg, TOOL_MIN_RING, TOOL_MAX_RING); break;
	case TOOL_OPT_MTU: c->mtu = (uint16_t)tool_parse_u64("--mtu", optarg, TOOL_MIN_MTU, TOOL_MAX_MTU); break;
	case 'q': c->queues = (uint16_t)tool_parse_u64("--queues", optarg, 1, TOOL_MAX_QUEUES); break;
	case TOOL_OPT_CPUS: parse_cpus(optarg, c); break;
	case TOOL_OPT_THREADS: c->threads = (uint16_t)tool_parse_u64("--threads", optarg, 1, TOOL_MAX_QUEUES); break;
	case 'h': fputs(usage, stdout); exit(TOOL_EXIT_OK);
	case 'V': tool_version(); exit(TOOL_EXIT_OK);
	case ':': tool_usage_error("option %s needs an argument", argv[optind - 1]);
	default: tool_usage_error("unknown option '%s'", argv[optind - 1]);
	}
}

void tool_common_finish(struct tool_common *c)
{
	if (!c->threads)
		c->threads = c->queues;
	if (c->threads > c->queues)
		tool_usage_error("--threads %u is more than --queues %u: each thread needs a queue", c->threads, c->queues);
}

void tool_common_config(const struct tool_common *c, struct unic_config *cfg)
{
	cfg->force = c->force;
	cfg->mtu = c->mtu;
	cfg->rx_queues = c->queues;
	cfg->tx_queues = c->queues;
	cfg->rx_ring_size = c->ring;
	cfg->tx_ring_size = c->ring;
}

void tool_queue_count(struct unic_dev *dev, uint16_t q, bool rx, struct tool_count *c)
{
	struct unic_queue_stats st;

	memset(c, 0, sizeof *c);
	if (unic_queue_stats(dev, q, &st))
		return;
	c->packets = rx ? st.rx_packets : st.tx_packets;
	c->bytes = rx ? st.rx_bytes : st.tx_bytes;
	c->drops = rx ? st.rx_dropped : st.tx_dropped;
	c->errors = (rx ? st.rx_errors : st.tx_errors) + st.bad_device;
}

/* ---- queue threads ---- */

int tool_threads_start(struct tool_threads *t, const struct tool_common *c, void *(*fn)(void *), void *tool,
		       char *err, size_t errlen)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int i, r = 0;

	t->n = 0;
	for (i = 0; i < c->threads && !r; i++) {
		struct tool_thread *th = &t->t[i];
		th->index = (uint16_t)i;
		th->nthreads = c->threads;
		th->nqueues = c->queues;
		th->tool = tool;
		pthread_attr_init(&attr);
		if (c->ncpus) {
			CPU_ZERO(&set);
			CPU_SET(c->cpus[i % c->ncpus], &set);
			r = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
		}
		if (!r)
			r = pthread_create(&th->tid, &attr, fn, th);
		pthread_attr_destroy(&attr);
		if (!r)
			t->n++;
	}
	if (!r)
		return 0;
	snprintf(err, errlen, "cannot start queue thread %d: %s", t->n, strerror(r));
	tool_threads_stop(t);
	return -1;
}

void tool_threads_stop(struct tool_threads *t)
{
	int q;

	tool_halt();
	for (q = 0; q < t->n; q++)
		pthread_join(t->t[q].tid, NULL);
	t->n = 0;
}

void tool_json_queues(struct tool_json *j, struct unic_dev *dev, uint16_t nq, bool rx, uint64_t ns)
{
	struct tool_count c;
	uint16_t q;

	tool_json_arr_begin(j, "queues");
	for (q = 0; q < nq; q++) {
		tool_queue_count(dev, q, rx, &c);
		tool_json_obj_begin(j, NULL);
		tool_json_u64(j, "queue", q);
		tool_json_count(j, rx ? "rx" : "tx", &c, ns);
		tool_json_obj_end(j);
	}
	tool_json_arr_end(j);
}

void tool_print_queues(struct unic_dev *dev, uint16_t nq, bool rx)
{
	struct tool_count c;
	uint16_t q;

	for (q = 0; nq > 1 && q < nq; q++) {
		tool_queue_count(dev, q, rx, &c);
		printf("%s: queue %u: %s %llu frames, drops %llu, errors %llu\n", name, q, rx ? "received" : "sent",
		       (unsigned long long)c.packets, (unsigned long long)c.drops, (unsigned long long)c.errors);
	}
}

void tool_span_merge(struct tool_span *all, const struct tool_span *s)
{
	if (s->first_ns && (!all->first_ns || s->first_ns < all->first_ns))
		all->first_ns = s->first_ns;
	if (s->last_ns > all->last_ns)
		all->last_ns = s->last_ns;
}
