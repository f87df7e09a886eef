/*
 * Pool stress from several threads (issue 10, "Pools"): THREADS threads share one pool of
 * POOL buffers and do alloc/free bursts, hand buffers to each other through a small
 * mutex-protected queue (so a buffer is freed by another thread than the one that took it),
 * hoard until the pool runs dry (alloc fails, then succeeds once buffers come back), and exit
 * with buffers in their caches. Every buffer a thread gets is counted in held[index]: a buffer
 * handed out while another thread holds it is counted in handed_twice. At the end every buffer
 * must be home exactly once: free_count == size, and allocating them all gives each index once.
 * Built under ASan+UBSan (build/tests) and ThreadSanitizer (build/tests-tsan), OPS operations
 * each. Then an orphaned pool whose last buffers come home while an idle thread's cache holds
 * others must be destroyed at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_dev.h"
#include "internal.h"

#define THREADS 4
#define POOL 4096u
#define BURST 32u
#define HOARD 1536u     /* a thread keeps up to this many: 4 x HOARD > POOL, so allocs fail */
#define HANDOFF 1024u   /* slots in the cross-thread queue */
#define OPS 10000000ull /* buffer allocs + frees, all threads: under TSan too (about 4 s) */

static struct unic_mempool *pool;
static atomic_uint held[POOL];
static atomic_ullong ops_done, handed_twice, bad_index, alloc_failed, alloc_after_fail;

static struct {
	pthread_mutex_t lock;
	struct unic_buf *slot[HANDOFF];
	uint32_t head, count;
} handoff = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint32_t handoff_put(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	pthread_mutex_lock(&handoff.lock);
	for (i = 0; i < n && handoff.count < HANDOFF; i++, handoff.count++)
		handoff.slot[(handoff.head + handoff.count) % HANDOFF] = bufs[i];
	pthread_mutex_unlock(&handoff.lock);
	return i;
}

static uint32_t handoff_get(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	pthread_mutex_lock(&handoff.lock);
	for (i = 0; i < n && handoff.count; i++, handoff.count--, handoff.head = (handoff.head + 1) % HANDOFF)
		bufs[i] = handoff.slot[handoff.head];
	pthread_mutex_unlock(&handoff.lock);
	return i;
}

/* Marks bufs as held by the caller; a buffer someone else holds is handed out twice. */
static void take(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t idx = bufs[i]->index;

		if (bufs[i]->pool != pool || idx >= POOL || unic_mempool_entry(pool, idx) != bufs[i]) {
			atomic_fetch_add(&bad_index, 1);
			continue;
		}
		if (atomic_fetch_add(&held[idx], 1) != 0)
			atomic_fetch_add(&handed_twice, 1);
	}
}

static void give_back(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (bufs[i]->index < POOL)
			atomic_fetch_sub(&held[bufs[i]->index], 1);
	unic_buf_free_bulk(bufs, n);
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 11);
}

static void *worker(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1), done = 0;
	struct unic_buf **mine = calloc(HOARD, sizeof *mine);
	uint32_t nmine = 0;
	bool failed = false;

	if (!mine)
		return NULL;
	while (atomic_load_explicit(&ops_done, memory_order_relaxed) < OPS) {
		uint32_t r = rnd(&seed), n = 1 + r % BURST, got, k, m;

		switch ((r >> 8) % 4) {
		case 0: case 1: /* alloc a burst and keep it */
			if (nmine + n > HOARD)
				n = HOARD - nmine;
			got = unic_buf_alloc_bulk(pool, mine + nmine, n);
			if (n && !got) {
				atomic_fetch_add(&alloc_failed, 1);
				failed = true;
			} else if (got && failed) {
				atomic_fetch_add(&alloc_after_fail, 1);
				failed = false;
			}
			if (got && got != n)
				atomic_fetch_add(&bad_index, 1); /* exactly n or none */
			take(mine + nmine, got);
			nmine += got;
			done += got;
			break;
		case 2: /* free a burst of my own (newest first) */
			k = n < nmine ? n : nmine;
			give_back(mine + nmine - k, k);
			nmine -= k;
			done += k;
			break;
		default: /* hand some to another thread, free what others handed over */
			k = n < nmine ? n : nmine;
			m = handoff_put(mine + nmine - k, k); /* the first m of those k went */
			memmove(mine + nmine - k, mine + nmine - k + m, (k - m) * sizeof *mine);
			nmine -= m;
			{
				struct unic_buf *theirs[BURST];

				m = handoff_get(theirs, n);
				give_back(theirs, m);
				done += m;
			}
			break;
		}
		if (done >= 4096) {
			atomic_fetch_add_explicit(&ops_done, done, memory_order_relaxed);
			done = 0;
		}
	}
	/* exit holding nothing but what sits in this thread's cache: the key destructor returns it */
	give_back(mine, nmine);
	atomic_fetch_add(&ops_done, done + nmine);
	free(mine);
	return NULL;
}

/* ---- an orphaned pool goes when its last buffer is home, even in an idle thread's cache ---- */
#define SMALL 256u
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int step;
	struct unic_mempool *pool;
	struct unic_buf *out[8];
} orph = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, { NULL } };

static void orph_wait(int step)
{
	pthread_mutex_lock(&orph.lock);
	while (orph.step < step)
		pthread_cond_wait(&orph.cond, &orph.lock);
	pthread_mutex_unlock(&orph.lock);
}

static void orph_go(int step)
{
	pthread_mutex_lock(&orph.lock);
	orph.step = step;
	pthread_cond_broadcast(&orph.cond);
	pthread_mutex_unlock(&orph.lock);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* Takes 40, frees 32 into its own cache, hands 8 to main, then idles until told to exit. */
static void *orph_worker(void *arg)
{
	struct unic_buf *b[40];

	(void)arg;
	if (unic_buf_alloc_bulk(orph.pool, b, 40) == 40) {
		unic_buf_free_bulk(b, 32);
		memcpy(orph.out, b + 32, sizeof orph.out);
	}
	orph_go(1);
	orph_wait(2);
	return NULL;
}

static void orphan_with_idle_cache(void)
{
	struct unic_dev *dev = fake_dev(SMALL);
	pthread_t t;
	uint32_t cached;
	int fd;

	if (!dev)
		return;
	orph.pool = dev->pool;
	fd = dev->pool->mem.fd;
	CHECK(pthread_create(&t, NULL, orph_worker, NULL) == 0);
	orph_wait(1);
	CHECK(orph.out[7] != NULL);
	cached = unic_mempool_free_count(orph.pool) - unic_mempool_avail(orph.pool);
	CHECK(unic_mempool_free_count(orph.pool) == SMALL - 8);
	CHECK(unic_close(dev) == 0);
	CHECK(fd_open(fd)); /* 8 buffers out: the pool lives */
	unic_buf_free_bulk(orph.out, 8); /* the last ones home, while others sit in the idle thread's cache */
	CHECK(!fd_open(fd));
	printf("orphaned pool, %u buffers in an idle thread's cache, last 8 freed by another: pool %s\n",
	       cached, fd_open(fd) ? "still alive" : "destroyed");
	CHECK(cached > 0);
	orph_go(2);
	pthread_join(t, NULL);
}

int main(void)
{
	struct unic_dev *dev = fake_dev(POOL);
	pthread_t t[THREADS];
	struct unic_buf *rest[BURST];
	static struct unic_buf *all[POOL + 1];
	static uint8_t seen[POOL];
	uint32_t i, n, home = 0, twice = 0, m;

	if (!dev)
		return 1;
	pool = dev->pool;
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	while ((m = handoff_get(rest, BURST)) > 0)
		give_back(rest, m);
	CHECK(unic_mempool_free_count(pool) == POOL);
	/* every buffer home exactly once: take them all, one by one, and look at the indexes */
	for (n = 0; n < POOL + 1; n++) {
		all[n] = unic_buf_alloc(pool);
		if (!all[n])
			break;
		if (all[n]->index < POOL && !seen[all[n]->index]++)
			home++;
		else
			twice++;
	}
	CHECK(n == POOL && unic_buf_alloc(pool) == NULL); /* exhausted */
	if (n > 0) {
		unic_buf_free(all[--n]);
		all[n] = unic_buf_alloc(pool); /* succeeds again once one is back */
		CHECK(all[n] != NULL);
		n += all[n] != NULL;
	}
	unic_buf_free_bulk(all, n);
	CHECK(unic_mempool_free_count(pool) == POOL);
	printf("pool threads: %d threads, %llu operations, buffers home %u of %u, handed out twice %llu\n",
	       THREADS, (unsigned long long)atomic_load(&ops_done), home, POOL,
	       (unsigned long long)(atomic_load(&handed_twice) + twice));
	printf("pool threads: allocs that found the pool empty %llu, then succeeded %llu, bad buffers %llu\n",
	       (unsigned long long)atomic_load(&alloc_failed), (unsigned long long)atomic_load(&alloc_after_fail),
	       (unsigned long long)atomic_load(&bad_index));
	CHECK(home == POOL && twice == 0);
	CHECK(atomic_load(&handed_twice) == 0 && atomic_load(&bad_index) == 0);
	CHECK(atomic_load(&alloc_failed) > 0 && atomic_load(&alloc_after_fail) > 0);
	CHECK(atomic_load(&ops_done) >= OPS);
	unic_close(dev);
	orphan_with_idle_cache();
	return check_summary("test_pool_threads");
}
