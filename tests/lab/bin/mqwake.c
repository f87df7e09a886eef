/*
 * unic-lab-mqwake DEVICE QUEUES IDLE_S FRAMES [TIMEOUT_S]: several rx queues asleep at once,
 * each woken by its own interrupt.
 *
 * Opens DEVICE (promiscuous) with QUEUES rx and tx queues; one thread per rx queue does what an
 * application with one descriptor per queue does: receive while frames come, else arm the
 * queue (unic_rx_intr_enable), poll() its descriptor (unic_rx_fd) for at most WAIT_MS, disarm.
 * Each thread counts how its sleeps ended: woken by the descriptor, a frame found by the arm
 * itself, or the timeout. A queue whose interrupt never fires still gets its frames after a
 * timeout, so frames alone prove nothing: the descriptor wake-ups do.
 *
 * The main thread measures the process's CPU (utime+stime of every thread, /proc/self/stat)
 * while all queues sleep for IDLE_S seconds, prints "MQWAKE-SEND" (the scenario then sends
 * FRAMES frames over many flows), and waits until FRAMES arrived or TIMEOUT_S (default 30)
 * passed. Then one line per queue: frames, its unic_queue_stats rx_packets, and its sleeps
 * during the idle period and after it. Exit 0 when every queue received frames and was woken
 * by its descriptor at least once after the idle period, FRAMES arrived in all, and no call
 * failed; the CPU figure is printed for the scenario to judge.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labbin.h"
#include "unic.h"

#define WAIT_MS 1000           /* a sleep's longest: the stop flag is seen this often */
#define TIMEOUT_DEFAULT_S 30
#define BURST 32
#define POLL_INTERVAL_US 10000 /* the main thread's look at the frame count */
#define MAX_QUEUES 16

enum phase { PHASE_IDLE, PHASE_BURST, PHASES };
enum sleep_end { END_WOKEN, END_ARMED, END_TIMEOUT, ENDS };
static const char *const end_name[ENDS] = { "woken", "armed-found", "timeouts" };

struct queue {
	struct unic_dev *dev;
	uint16_t q;
	pthread_t thread;
	_Atomic unsigned long frames;
	unsigned long ends[PHASES][ENDS];
	int err;                 /* the first failed call's -errno, 0 */
};

static atomic_bool stop;
static _Atomic int phase = PHASE_IDLE;

/* Arm, sleep on the descriptor, disarm: how the sleep ended, or -errno. */
static int sleep_once(struct queue *w, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = unic_rx_intr_enable(w->dev, w->q);

	if (r == 1)
		return END_ARMED; /* a frame landed while arming: not slept on */
	if (r < 0)
		return r;
	r = poll(&pfd, 1, WAIT_MS);
	unic_rx_intr_disable(w->dev, w->q);
	if (r < 0)
		return -errno;
	return r == 0 ? END_TIMEOUT : END_WOKEN;
}

static void *queue_thread(void *arg)
{
	struct queue *w = arg;
	struct unic_buf *bufs[BURST];
	int fd = unic_rx_fd(w->dev, w->q), r;

	if (fd < 0) {
		w->err = fd;
		return NULL;
	}
	while (!atomic_load(&stop)) {
		uint16_t got = unic_rx_burst(w->dev, w->q, bufs, BURST);
		if (got) {
			unic_buf_free_bulk(bufs, got);
			atomic_fetch_add(&w->frames, got);
			continue;
		}
		if ((r = sleep_once(w, fd)) < 0) {
			w->err = r;
			break;
		}
		w->ends[atomic_load(&phase)][r]++;
	}
	return NULL;
}

static unsigned long total_frames(struct queue *w, unsigned n)
{
	unsigned long t = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		t += atomic_load(&w[i].frames);
	return t;
}

/* One line per queue; 1 when it received frames and its descriptor woke it after the idle period. */
static int report(struct queue *w)
{
	struct unic_queue_stats st = { 0 };
	int ok = w->err == 0 && atomic_load(&w->frames) > 0 && w->ends[PHASE_BURST][END_WOKEN] > 0;

	unic_queue_stats(w->dev, w->q, &st);
	printf("mqwake: queue %u: %lu frames (unic_queue_stats rx_packets %llu); idle: %lu %s, %lu %s, %lu %s; "
	       "burst: %lu %s, %lu %s, %lu %s%s%s\n",
	       w->q, atomic_load(&w->frames), (unsigned long long)st.rx_packets, w->ends[PHASE_IDLE][END_WOKEN],
	       end_name[END_WOKEN], w->ends[PHASE_IDLE][END_ARMED], end_name[END_ARMED], w->ends[PHASE_IDLE][END_TIMEOUT],
	       end_name[END_TIMEOUT], w->ends[PHASE_BURST][END_WOKEN], end_name[END_WOKEN], w->ends[PHASE_BURST][END_ARMED],
	       end_name[END_ARMED], w->ends[PHASE_BURST][END_TIMEOUT], end_name[END_TIMEOUT], w->err ? ": " : "",
	       w->err ? strerror(-w->err) : "");
	return ok;
}

int main(int argc, char **argv)
{
	static struct queue w[MAX_QUEUES];
	struct unic_config cfg;
	struct unic_dev *dev;
	char err[UNIC_ERR_LEN];
	unsigned n, i, ok = 0;
	unsigned long want;
	double idle_s, timeout_s, t0;
	long c0, used;
	int started = 0;

	if (argc < 5 || argc > 6 || (n = (unsigned)atoi(argv[2])) < 1 || n > MAX_QUEUES ||
	    (idle_s = atof(argv[3])) <= 0 || (want = strtoul(argv[4], NULL, 10)) == 0) {
		fprintf(stderr, "usage: unic-lab-mqwake DEVICE QUEUES(1-%d) IDLE_S FRAMES [TIMEOUT_S]\n", MAX_QUEUES);
		return 2;
	}
	timeout_s = argc == 6 ? atof(argv[5]) : TIMEOUT_DEFAULT_S;
	unic_config_init(&cfg);
	cfg.rx_queues = cfg.tx_queues = (uint16_t)n;
	cfg.promisc = true;
	if (!(dev = unic_open(argv[1], &cfg, err, sizeof err))) {
		printf("unic_open: %s\n", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		w[i].dev = dev;
		w[i].q = (uint16_t)i;
		if (pthread_create(&w[i].thread, NULL, queue_thread, &w[i]))
			break;
		started++;
	}
	c0 = cpu_ticks();
	usleep((useconds_t)(idle_s * 1e6));
	used = cpu_ticks() - c0;
	atomic_store(&phase, PHASE_BURST);
	printf("mqwake: %s: %u queues asleep %.1f s: %ld ticks = %.1f %% of a CPU, %lu frames\n", argv[1], n, idle_s,
	       used, 100.0 * (double)used / (double)sysconf(_SC_CLK_TCK) / idle_s, total_frames(w, n));
	printf("MQWAKE-SEND\n");
	fflush(stdout);
	for (t0 = now(); total_frames(w, n) < want && now() - t0 < timeout_s;)
		usleep(POLL_INTERVAL_US);
	atomic_store(&stop, true);
	for (i = 0; i < (unsigned)started; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < n; i++)
		ok += (unsigned)report(&w[i]);
	printf("mqwake: %lu of %lu frames; %u of %u queues received and were woken by their descriptor\n",
	       total_frames(w, n), want, ok, n);
	unic_close(dev);
	return !(ok == n && total_frames(w, n) == want && started == (int)n);
}
