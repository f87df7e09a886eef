/*
 * A device's mempool lives until its last buffer comes home (issue 9 item 7): a buffer held
 * across unic_close of the last device, then freed, frees the pool (no crash, no leak under
 * LeakSanitizer); any number of closed devices' pools, freed in any order, all go away.
 * The devices are bare handles with a pool and no driver, closed through unic_close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_dev.h"
#include "internal.h"

#define POOL 8
#define MANY 100

/* The pool's DMA memory is released with it: its memfd is closed then. */
static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void held_across_last_close(void)
{
	struct unic_dev *dev = fake_dev(POOL);
	struct unic_buf *b;
	int fd;

	CHECK(dev != NULL);
	if (!dev)
		return;
	fd = dev->pool->mem.fd;
	b = unic_buf_alloc(dev->pool);
	CHECK(b != NULL);
	CHECK(unic_close(dev) == 0);
	CHECK(fd_open(fd));                       /* a buffer is out: the pool lives */
	memset(unic_buf_data(b), 0xab, 64);       /* and its room is still ours */
	CHECK(unic_mempool_free_count(b->pool) == POOL - 1);
	unic_buf_free(b);                         /* the last one home: the pool goes */
	CHECK(!fd_open(fd));
	printf("buffer held across the last close, then freed: pool %s\n",
	       fd_open(fd) ? "still alive" : "destroyed on its return");
}

static void many_retired(void)
{
	static struct unic_dev *devs[MANY];
	struct unic_buf *first[MANY], *second[MANY], *pair[2];
	int fds[MANY], i, alive = 0;

	for (i = 0; i < MANY; i++) {
		devs[i] = fake_dev(POOL);
		CHECK(devs[i] != NULL);
		if (!devs[i])
			return;
		fds[i] = devs[i]->pool->mem.fd;
		CHECK(unic_buf_alloc_bulk(devs[i]->pool, pair, 2) == 2); /* two buffers out of each pool */
		first[i] = pair[0];
		second[i] = pair[1];
	}
	/* the devices close in an order unrelated to their pools' return */
	for (i = MANY - 1; i >= 0; i -= 2)
		CHECK(unic_close(devs[i]) == 0);
	for (i = MANY - 2; i >= 0; i -= 2)
		CHECK(unic_close(devs[i]) == 0);
	for (i = 0; i < MANY; i++)
		alive += fd_open(fds[i]);
	CHECK(alive == MANY);
	/* one buffer of each pool in one bulk across 100 pools: every pool still has one out */
	unic_buf_free_bulk(first, MANY);
	for (i = 0, alive = 0; i < MANY; i++)
		alive += fd_open(fds[i]);
	CHECK(alive == MANY);
	/* the last ones, one at a time from the middle outwards: each frees its pool */
	for (i = 0; i < MANY; i++)
		unic_buf_free(second[(i * 37) % MANY]);
	for (i = 0, alive = 0; i < MANY; i++)
		alive += fd_open(fds[i]);
	CHECK(alive == 0);
	printf("%d devices closed with buffers out: %d pools still alive after their buffers came home\n",
	       MANY, alive);
}

int main(void)
{
	held_across_last_close();
	many_retired();
	return check_summary("pool_lifetime");
}
