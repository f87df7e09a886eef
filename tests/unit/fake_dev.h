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
#endif
