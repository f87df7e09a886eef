/* check.h - a minimal test harness: CHECK() prints one line per failed check and counts. */
#ifndef UNIC_CHECK_H
#define UNIC_CHECK_H
#include <stdio.h>

static int check_failed, check_total;

#define CHECK(cond)                                                                        \
	do {                                                                                   \
		check_total++;                                                                     \
		if (!(cond)) {                                                                     \
			check_failed++;                                                                \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
		}                                                                                  \
	} while (0)

/* Prints the summary line and gives main's return value. */
static inline int check_summary(const char *name)
{
	printf("%s %s: %d checks, %d failed\n", check_failed ? "FAIL" : "PASS", name, check_total, check_failed);
	return check_failed ? 1 : 0;
}
#endif
