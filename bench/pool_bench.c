/*
 * pool_bench - what the pool's thread cache costs per packet (issue 10): instructions for one
 * buffer's allocation and free, in bursts of 32 (as rx refill and tx completion take and give
 * them), one thread, on a pool from unic_mempool_create:
 *   pool-cache  the common path: the thread's own cache, no lock, no atomic read-modify-write
 *   pool-store  the same pool type with its caches turned off (cache_size 0 before first use):
 *               every burst goes to the shared store under its lock, as before the caches
 * Run under valgrind --tool=callgrind --collect-atstart=no: each phase is collected between
 * CALLGRIND_TOGGLE_COLLECT and dumped under its name; prints "RESULT instr NAME packets N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <valgrind/callgrind.h>

#include "internal.h"
#include "unic.h"

#define BURST 32
#define POOL 4096
#define WARM_BURSTS 64

static int phase(const char *name, bool cache, unsigned long packets)
{
	char err[UNIC_ERR_LEN];
	struct unic_mempool *p = unic_mempool_create(POOL, 2048, err, sizeof err);
	struct unic_buf *b[BURST];
	unsigned long i, bursts = packets / BURST;
	int bad = 0;

	if (!p) {
		fprintf(stderr, "pool_bench: %s\n", err);
		return 1;
	}
	if (!cache)
		p->cache_size = 0; /* before any thread made a cache of it: every call goes to the store */
	for (i = 0; i < WARM_BURSTS; i++) { /* the cache exists and is filled before counting */
		bad |= unic_buf_alloc_bulk(p, b, BURST) != BURST;
		unic_buf_free_bulk(b, BURST);
	}
	CALLGRIND_ZERO_STATS;
	CALLGRIND_TOGGLE_COLLECT;
	for (i = 0; i < bursts; i++) {
		bad |= unic_buf_alloc_bulk(p, b, BURST) != BURST;
		unic_buf_free_bulk(b, BURST);
	}
	CALLGRIND_TOGGLE_COLLECT;
	CALLGRIND_DUMP_STATS_AT(name);
	unic_mempool_release(p);
	if (bad) {
		fprintf(stderr, "pool_bench: an allocation of %d failed\n", BURST);
		return 1;
	}
	printf("RESULT instr %s packets %lu\n", name, bursts * BURST);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long packets = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;

	return phase("pool-cache", true, packets) || phase("pool-store", false, packets);
}
