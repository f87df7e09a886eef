/*
 * Control calls from two threads at once (issue 9 item 10): each thread opens devices that fail
 * early, opens and closes handles with a pool (holding a buffer across the close), takes and
 * drops the VFIO container, and sets the log hook, in a loop. Built twice: under ASan+UBSan
 * (build/tests) and under ThreadSanitizer (build/tests-tsan), where any unlocked process
 * global shows up as a data race. Each log hook must be called with its own argument.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_dev.h"
#include "internal.h"

#define ROUNDS 200
#define THREADS 2

static const char tag[THREADS][8] = { "hook 0", "hook 1" };
static atomic_uint calls[THREADS], mismatched;

static void hook0(enum unic_log_level level, const char *msg, void *arg)
{
	(void)level; (void)msg;
	atomic_fetch_add(&calls[0], 1);
	if (arg != tag[0])
		atomic_fetch_add(&mismatched, 1);
}

static void hook1(enum unic_log_level level, const char *msg, void *arg)
{
	(void)level; (void)msg;
	atomic_fetch_add(&calls[1], 1);
	if (arg != tag[1])
		atomic_fetch_add(&mismatched, 1);
}

static const unic_log_fn hooks[THREADS] = { hook0, hook1 };

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, round, failures = 0;
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];

	unic_config_init(&cfg);
	for (round = 0; round < ROUNDS; round++) {
		struct unic_dev *dev;
		struct unic_buf *b;

		unic_set_log(hooks[id], (void *)tag[id], UNIC_LOG_DEBUG);
		failures += unic_open("vhost-user:/nonexistent/unic-test-threads.sock", &cfg, err, sizeof err) == NULL;
		failures += unic_open("vfio:0000:7f:1f.7", &cfg, err, sizeof err) == NULL;
		dev = fake_dev(4);
		if (!dev)
			continue;
		b = unic_buf_alloc(dev->pool);
		unic_close(dev); /* the pool lives on while b is out */
		unic_buf_free(b);
#ifndef BEFORE_FIX /* the container's reference for DMA areas came with the fix */
		unic_vfio_container_hold();
		(void)unic_vfio_container_iommu();
		(void)unic_vfio_dma_unmap(1ull << 30, 4096); /* no container: -ENODEV */
		unic_vfio_container_release();
#endif
	}
	return (void *)(intptr_t)failures;
}

int main(void)
{
	pthread_t t[THREADS];
	void *failures;
	int i, total = 0;

	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &failures);
		total += (int)(intptr_t)failures;
	}
	unic_set_log(NULL, NULL, UNIC_LOG_ERR);
	CHECK(total == THREADS * ROUNDS * 2);     /* every bad open failed, none crashed */
	CHECK(atomic_load(&mismatched) == 0);     /* a hook never met the other's argument */
	CHECK(atomic_load(&calls[0]) + atomic_load(&calls[1]) >= THREADS * ROUNDS * 2);
	CHECK(!unic_vfio_container_iommu());     /* the container closed with its last user */
	printf("%d threads x %d rounds of open/close/log hook/container: hook calls %u + %u, %u with a "
	       "foreign argument\n", THREADS, ROUNDS, atomic_load(&calls[0]), atomic_load(&calls[1]),
	       atomic_load(&mismatched));
	return check_summary("threads");
}
