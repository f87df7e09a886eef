/*
 * unic-lab-idle DEVICE SECONDS [WAIT_MS]: the driver's own cost of an idle rx queue, apart
 * from any tool. Queue 0 sleeps in unic_rx_wait (WAIT_MS at most per call, 1000 unless
 * given: a tool that wakes more often to look at its clock pays per wake) for SECONDS; prints the
 * process's CPU (utime+stime from /proc/self/stat), how many waits ended by a wake-up
 * rather than the timeout, and how many frames came. A driver whose suppression leaks
 * shows as wake-ups without frames. Exit 0 when no wait failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labbin.h"
#include "unic.h"

#define WAIT_MS_DEFAULT 1000
#define BURST 32

/* utime + stime in seconds */
static double cpu_s(void)
{
	long t = cpu_ticks();

	return t < 0 ? -1 : (double)t / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
	struct unic_config cfg;
	struct unic_buf *bufs[BURST];
	struct unic_dev *dev;
	char err[UNIC_ERR_LEN];
	unsigned long wakes = 0, timeouts = 0, frames = 0;
	double secs, t0, c0;
	int r = 0, wait_ms = argc == 4 ? atoi(argv[3]) : WAIT_MS_DEFAULT;

	if (argc < 3 || argc > 4 || (secs = atof(argv[2])) <= 0 || wait_ms <= 0) {
		fprintf(stderr, "usage: unic-lab-idle DEVICE SECONDS [WAIT_MS]\n");
		return 2;
	}
	unic_config_init(&cfg);
	if (!(dev = unic_open(argv[1], &cfg, err, sizeof err))) {
		printf("unic_open: %s\n", err);
		return 1;
	}
	for (t0 = now(), c0 = cpu_s(); now() - t0 < secs;) {
		uint16_t got = unic_rx_burst(dev, 0, bufs, BURST);
		unic_buf_free_bulk(bufs, got);
		frames += got;
		if (got)
			continue;
		if ((r = unic_rx_wait(dev, 0, wait_ms)) < 0) {
			printf("unic_rx_wait: %s\n", unic_last_error(dev));
			break;
		}
		wakes += r == 1;
		timeouts += r == 0;
	}
	printf("idle-driver: %s %.1f s in unic_rx_wait (%d ms each): cpu %.2f s, %lu wake-ups, %lu timeouts, %lu frames\n",
	       argv[1], now() - t0, wait_ms, cpu_s() - c0, wakes, timeouts, frames);
	unic_close(dev);
	return r < 0;
}
