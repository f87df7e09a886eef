/* labbin.h - what the lab's guest programs in tests/lab/bin share. */
#ifndef UNIC_LABBIN_H
#define UNIC_LABBIN_H
#include <time.h>

/* Seconds on the monotonic clock: timeouts and rates. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
#endif
