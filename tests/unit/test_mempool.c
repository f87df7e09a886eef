/* Mempool: exhaustion, batch alloc/free, buffer addresses, double free and foreign free caught. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

#define N 3000 /* more than one hugepage worth of 2 KiB buffers */

/* Runs fn in a child; true when the child was killed by a trap (the debug check fired). */
static int dies_trapping(void (*fn)(struct unic_mempool *), struct unic_mempool *p)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2); /* the trap's message is expected */
		fn(p);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && (WTERMSIG(status) == SIGILL || WTERMSIG(status) == SIGTRAP);
}

static void double_free(struct unic_mempool *p)
{
	struct unic_buf *b = unic_buf_alloc(p);
	unic_buf_free(b);
	unic_buf_free(b);
}

static void foreign_free(struct unic_mempool *p)
{
	struct unic_buf *fake = calloc(1, sizeof *fake + 64);
	fake->pool = p;
	unic_buf_free(fake);
}

static void interior_free(struct unic_mempool *p)
{
	struct unic_buf *b = unic_buf_alloc(p);
	unic_buf_free((struct unic_buf *)((uint8_t *)b + 8));
}

int main(void)
{
	struct unic_dev dev = { .dma_mode = UNIC_DMA_PHYS };
	struct unic_buf **all = calloc(N + 1, sizeof *all);
	struct unic_buf *batch[32];
	struct unic_mempool *p = unic_mempool_make(&dev, N, 2048);
	uint32_t i, round;
	int distinct = 1, aligned = 1, within = 1;

	CHECK(p != NULL);
	if (!p) {
		printf("mempool: %s\n", dev.err);
		return check_summary("test_mempool");
	}
	CHECK(unic_mempool_size(p) == N && unic_mempool_free_count(p) == N);

	/* batch alloc/free keep the count and give clean buffers */
	for (round = 0; round < 100; round++) {
		CHECK(unic_buf_alloc_bulk(p, batch, 32) == 32);
		for (i = 0; i < 32; i++) {
			if (batch[i]->data_off != UNIC_HEADROOM || batch[i]->len != 0 || batch[i]->pool != p)
				distinct = 0;
			batch[i]->len = 60;
			batch[i]->data_off = 0;
		}
		unic_buf_free_bulk(batch, 32);
	}
	CHECK(distinct);
	CHECK(unic_mempool_free_count(p) == N);

	/* exhaustion: all N, then nothing; an oversized batch takes nothing */
	CHECK(unic_buf_alloc_bulk(p, all, N - 10) == N - 10);
	CHECK(unic_buf_alloc_bulk(p, batch, 11) == 0);
	CHECK(unic_mempool_free_count(p) == 10);
	CHECK(unic_buf_alloc_bulk(p, all + N - 10, 10) == 10);
	CHECK(unic_buf_alloc(p) == NULL);
	CHECK(unic_mempool_free_count(p) == 0);

	/* every buffer distinct, descriptor and room cache-line aligned, room inside one page of the
	 * DMA area, descriptor outside it, with its own DMA address */
	for (i = 0; i < N; i++) {
		uintptr_t off = (uintptr_t)all[i]->room - (uintptr_t)p->mem.virt;
		if ((uintptr_t)all[i] % 64 || off % 64)
			aligned = 0;
		if (off >= p->mem.size || off % UNIC_HUGEPAGE_SIZE + all[i]->room_size > UNIC_HUGEPAGE_SIZE)
			within = 0;
		if ((uintptr_t)all[i] - (uintptr_t)p->mem.virt < p->mem.size)
			within = 0;
		if (i && all[i]->room_iova == all[i - 1]->room_iova)
			distinct = 0;
		if (all[i]->room_size < UNIC_HEADROOM + 2048)
			within = 0;
	}
	CHECK(aligned && within && distinct);
	unic_buf_free_bulk(all, N);
	CHECK(unic_mempool_free_count(p) == N);

	/* debug builds catch misuse */
	CHECK(dies_trapping(double_free, p));
	CHECK(dies_trapping(foreign_free, p));
	CHECK(dies_trapping(interior_free, p));

	/* bad arguments */
	CHECK(unic_mempool_make(&dev, 0, 2048) == NULL && strstr(dev.err, "at least one buffer"));
	unic_mempool_destroy(p);
	unic_mempool_destroy(NULL);
	free(all);
	return check_summary("test_mempool");
}
