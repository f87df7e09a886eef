/*
 * bench_common.h - what bench/vhost_bench.c and bench/mq_bench.c share: the header
 * every front-end writes into its frames, dying with one line, the median of a
 * series, waiting for an ethdev port's link. Included by both; header-only.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_ethdev.h>

#define HDR_LEN 42          /* Ethernet + IPv4 + UDP: what the application writes */
#define LINK_WAIT_S 10

/* A fixed Ethernet/IPv4/UDP header: what a generator writes into every frame. */
static const uint8_t bench_hdr[HDR_LEN] = {
	0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,              /* Ethernet */
	0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, /* IPv4 */
	0x04, 0x00, 0x04, 0x01, 0, 30, 0, 0,                                    /* UDP */
};

static inline void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline double median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void wait_link(uint16_t port)
{
	struct rte_eth_link link;
	unsigned i;

	for (i = 0; i < LINK_WAIT_S * 100; i++) {
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			return;
		usleep(10000);
	}
	die("an ethdev port did not come up");
}

#endif
