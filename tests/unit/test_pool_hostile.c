/*
 * A device that writes every byte of a mempool's DMA memory (issue 9 item 3): the pool must
 * still hand out and take back every buffer with its own pool, room, DMA address and index,
 * because none of what the library relies on lives where the device can write.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define N 600 /* more than one 2 MiB page's worth of rooms would need hugepages: 4 KiB pages here */

struct expect {
	struct unic_buf *b;
	struct unic_mempool *pool;
	uint8_t *room;
	uint64_t room_iova;
	uint32_t index;
	uint16_t room_size;
};

static struct unic_mempool *new_pool(struct unic_dev *dev)
{
	memset(dev, 0, sizeof *dev);
	dev->dma_mode = UNIC_DMA_VIRT; /* 4 KiB memfd pages: no hugepages, no IOMMU needed */
	dev->cfg.no_hugepages = true;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	return unic_mempool_make(dev, N, 2048);
}

/* Takes every buffer once and remembers what the pool set in it. */
static void record(struct unic_mempool *p, struct expect *e)
{
	struct unic_buf *all[N];
	uint32_t i;

	CHECK(unic_buf_alloc_bulk(p, all, N) == N);
	for (i = 0; i < N; i++)
		e[i] = (struct expect){ all[i], all[i]->pool, all[i]->room, all[i]->room_iova, all[i]->index,
					all[i]->room_size };
	unic_buf_free_bulk(all, N);
}

/* Every buffer of the pool is handed out again with the fields recorded before the scribble. */
static int same_as_recorded(struct unic_mempool *p, const struct expect *e, struct unic_buf **all)
{
	uint32_t i, j, good = 0;

	if (unic_buf_alloc_bulk(p, all, N) != N)
		return 0;
	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			if (e[j].b == all[i]) {
				good += all[i]->pool == e[j].pool && all[i]->room == e[j].room &&
					all[i]->room_iova == e[j].room_iova && all[i]->index == e[j].index &&
					all[i]->room_size == e[j].room_size && all[i]->data_off == UNIC_HEADROOM &&
					all[i]->len == 0;
				break;
			}
	return good == N;
}

/* What the device may write: every byte of the pool's DMA memory. */
static void scribble(struct unic_mempool *p, int how)
{
	uint8_t *m = p->mem.virt;
	size_t i;

	if (how == 0) {
		memset(m, 0xff, p->mem.size);
		return;
	}
	for (i = 0; i < p->mem.size; i++)
		m[i] = (uint8_t)rand();
}

int main(void)
{
	static struct expect ea[N], eb[N];
	static struct unic_buf *a[N], *b[N], *mixed[2 * N];
	struct unic_dev da, db;
	struct unic_mempool *pa = new_pool(&da), *pb = new_pool(&db);
	uint32_t i;
	int how;

	CHECK(pa && pb);
	if (!pa || !pb) {
		printf("mempool: %s %s\n", da.err, db.err);
		return check_summary("pool_hostile");
	}
	/* the rooms (and only they) are in the DMA area: each room inside it, the DMA address right */
	record(pa, ea);
	record(pb, eb);
	for (i = 0; i < N; i++) {
		size_t off = (size_t)(ea[i].room - (uint8_t *)pa->mem.virt);
		CHECK(off < pa->mem.size && off % pa->mem.page_size + ea[i].room_size <= pa->mem.page_size);
		CHECK(ea[i].room_iova == unic_dma_iova(&pa->mem, off));
		CHECK(ea[i].room_size >= UNIC_HEADROOM + 2048);
	}
	srand(9);
	for (how = 0; how < 2; how++) {
		scribble(pa, how);
		scribble(pb, how);
		CHECK(same_as_recorded(pa, ea, a));
		CHECK(same_as_recorded(pb, eb, b));
		/* freed after the scribble, interleaved: each buffer goes back to its own pool */
		for (i = 0; i < N; i++) {
			mixed[2 * i] = a[i];
			mixed[2 * i + 1] = b[i];
		}
		unic_buf_free_bulk(mixed, 2 * N);
		CHECK(unic_mempool_free_count(pa) == N && unic_mempool_free_count(pb) == N);
		printf("device wrote %s over both pools' DMA memory (%zu bytes each): %u buffers each handed out "
		       "and taken back intact\n", how ? "random bytes" : "0xff", pa->mem.size, N);
	}
	unic_mempool_destroy(pa);
	unic_mempool_destroy(pb);
	return check_summary("pool_hostile");
}
