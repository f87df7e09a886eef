/*
 * cpulist.h - the --cpus LIST of the tools: "0,1", "0-3", "0,2-3". Parsing is apart from
 * the check against the CPUs this process may run on, so that both can be tested.
 */
#ifndef UNIC_CPULIST_H
#define UNIC_CPULIST_H

#include <sched.h>
#include <stddef.h>

/* Entries a list may hold (the tools run at most 16 queue threads; a longer list is refused). */
#define CPULIST_MAX 64

/*
 * Parses s into cpus[0..returned), in the order written ("3,0-1" -> 3 0 1). Each item is a
 * CPU number or a range LOW-HIGH with LOW <= HIGH, numbers below CPU_SETSIZE. Returns the
 * count, or -1 with one line in err saying what is wrong.
 */
int cpulist_parse(const char *s, int cpus[CPULIST_MAX], char *err, size_t errlen);
/* 0 when every listed CPU is in allowed, else -1 and one line in err naming the first
 * that is not and the allowed set ("CPU 7 does not exist or is not allowed (allowed: 0-1)"). */
int cpulist_check(const int *cpus, int n, const cpu_set_t *allowed, char *err, size_t errlen);

#endif
