/* fake_dev.h - a device handle as unic_open leaves it, with a pool and no hardware behind it. */
#ifndef UNIC_FAKE_DEV_H
#define UNIC_FAKE_DEV_H
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* A calloc'ed handle unic_close can take, with a pool of n buffers in 4 KiB memfd pages. */
static inline struct unic_dev *fake_dev(uint32_t n)
{
	struct unic_dev *dev = calloc(1, sizeof *dev);
	int i;

	if (!dev)
		return NULL;
	unic_config_init(&dev->cfg);
	dev->cfg.no_hugepages = true;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	for (i = 0; i < UNIC_MAX_BARS; i++)
		dev->bars[i].io_fd = -1;
	unic_irq_init(&dev->irq); /* no interrupt descriptors: unic_close must close none (fd 0 is not one) */
	dev->dma_mode = UNIC_DMA_VIRT; /* no hugepages, no IOMMU needed */
	dev->pool = unic_mempool_make(dev, n, 2048);
	if (!dev->pool) {
		printf("mempool: %s\n", dev->err);
		free(dev);
		return NULL;
	}
	return dev;
}

/* A zeroed handle with no device behind it, only there to make pools (unic_mempool_make). */
static inline void fake_scratch(struct unic_dev *scratch)
{
	memset(scratch, 0, sizeof *scratch);
	scratch->dma_mode = UNIC_DMA_VIRT;
	scratch->config_fd = scratch->lock_fd = scratch->vfio_group_fd = scratch->vfio_device_fd = -1;
}

/* Buffer b holds a frame of len bytes, every one fill (what the test's fake device wrote). */
static inline bool fake_data_is(const struct unic_buf *b, uint16_t len, uint8_t fill)
{
	const uint8_t *p = b->room + b->data_off;
	uint16_t i;

	if (b->len != len)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] != fill)
			return false;
	return true;
}

/*
 * Offers a tx queue of ring (<= FAKE_TX_MAX) slots two rings' worth of frames of len bytes, in
 * two bursts, without completing any: returns how many it took (a full ring takes ring - 1).
 */
#define FAKE_TX_MAX 256
static inline uint16_t fake_fill_tx(struct unic_dev *dev, struct unic_mempool *pool, uint16_t ring, uint16_t len)
{
	struct unic_buf *bufs[FAKE_TX_MAX];
	uint16_t i, k, n = 0;

	for (i = 0; i < 2 && ring <= FAKE_TX_MAX; i++) {
		if (unic_buf_alloc_bulk(pool, bufs, ring) != ring)
			return n;
		for (k = 0; k < ring; k++)
			bufs[k]->len = len;
		k = unic_tx_burst(dev, 0, bufs, ring);
		unic_buf_free_bulk(bufs + k, (uint32_t)(ring - k));
		n = (uint16_t)(n + k);
	}
	return n;
}
#endif
