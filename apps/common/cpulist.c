/* cpulist.c - parse and check --cpus lists (see cpulist.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cpulist.h"

/* A CPU number at *p (decimal digits only), advancing *p; -1 when there is none or it is too large. */
static int cpu_number(const char **p)
{
	unsigned long v;
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v >= CPU_SETSIZE)
		return -1;
	*p = end;
	return (int)v;
}

int cpulist_parse(const char *s, int cpus[CPULIST_MAX], char *err, size_t errlen)
{
	const char *p = s;
	int n = 0, lo, hi, c;

	if (!s || !*s) {
		snprintf(err, errlen, "--cpus wants a list like 0,1 or 0-3, not an empty one");
		return -1;
	}
	for (;;) {
		lo = cpu_number(&p);
		hi = lo;
		if (lo >= 0 && *p == '-') {
			p++;
			hi = cpu_number(&p);
		}
		if (lo < 0 || hi < lo || (*p && *p != ',')) {
			snprintf(err, errlen, "--cpus wants a list like 0,1 or 0-3 (CPU numbers below %d), not '%s'",
				 CPU_SETSIZE, s);
			return -1;
		}
		for (c = lo; c <= hi; c++) {
			if (n == CPULIST_MAX) {
				snprintf(err, errlen, "--cpus lists more than %d CPUs: '%s'", CPULIST_MAX, s);
				return -1;
			}
			cpus[n++] = c;
		}
		if (!*p)
			return n;
		p++; /* the comma: an item must follow */
	}
}

/* "0-1,4" for the CPUs in set, cut short to fit len. */
static void format_set(const cpu_set_t *set, char *out, size_t len)
{
	size_t used = 0;
	int c = 0, start;

	out[0] = 0;
	while (c < CPU_SETSIZE && used < len) {
		if (!CPU_ISSET(c, set)) {
			c++;
			continue;
		}
		for (start = c; c + 1 < CPU_SETSIZE && CPU_ISSET(c + 1, set); c++)
			;
		used += (size_t)snprintf(out + used, len - used, c > start ? "%s%d-%d" : "%s%d", used ? "," : "", start, c);
		c++;
	}
}

int cpulist_check(const int *cpus, int n, const cpu_set_t *allowed, char *err, size_t errlen)
{
	char set[128];
	int i;

	for (i = 0; i < n; i++) {
		if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE && CPU_ISSET(cpus[i], allowed))
			continue;
		format_set(allowed, set, sizeof set);
		snprintf(err, errlen, "--cpus: CPU %d does not exist or this process may not run on it (allowed: %s)",
			 cpus[i], set);
		return -1;
	}
	return 0;
}
