/* labbin.h - what the lab's guest programs in tests/lab/bin share. */
#ifndef UNIC_LABBIN_H
#define UNIC_LABBIN_H
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock: timeouts and rates. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime + stime of this process (every thread) in clock ticks: /proc/self/stat fields 14 and 15,
 * after the ")" of comm; -1 when unreadable. */
static inline long cpu_ticks(void)
{
	char buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}
#endif
