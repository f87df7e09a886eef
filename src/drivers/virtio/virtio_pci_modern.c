/*
 * virtio_pci_modern.c - the virtio 1.x PCI transport (spec 4.1.4): vendor
 * capabilities in config space point to the common config, notify, ISR and
 * device config structures inside memory BARs.
 *
 * Config space comes from the device too: capability pointers are bounded and
 * counted, and every structure must lie inside a mapped memory BAR.
 */
#include <errno.h>
#include <stdlib.h>

#include "virtio.h"

/* PCI 3.0 6.7: the capability list */
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CAP_FIRST 0x40          /* capabilities live after the standard header */
#define PCI_CONFIG_SIZE 256
#define PCI_CAP_MAX 48              /* (256 - 64) / 4: a longer list loops */
#define PCI_CAP_ID_VNDR 0x09

/* Spec 4.1.4: struct virtio_pci_cap */
#define VIRTIO_PCI_CAP_CFG_TYPE 3
#define VIRTIO_PCI_CAP_BAR 4
#define VIRTIO_PCI_CAP_OFFSET 8
#define VIRTIO_PCI_CAP_LENGTH 12
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16 /* 4.1.4.4: struct virtio_pci_notify_cap */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* Spec 4.1.4.3: struct virtio_pci_common_cfg */
#define COMMON_DFSELECT 0
#define COMMON_DF 4
#define COMMON_GFSELECT 8
#define COMMON_GF 12
#define COMMON_MSIX 16
#define COMMON_NUMQ 18
#define COMMON_STATUS 20
#define COMMON_CFGGENERATION 21
#define COMMON_Q_SELECT 22
#define COMMON_Q_SIZE 24
#define COMMON_Q_MSIX 26
#define COMMON_Q_ENABLE 28
#define COMMON_Q_NOFF 30
#define COMMON_Q_DESCLO 32
#define COMMON_Q_DESCHI 36
#define COMMON_Q_AVAILLO 40
#define COMMON_Q_AVAILHI 44
#define COMMON_Q_USEDLO 48
#define COMMON_Q_USEDHI 52
#define COMMON_CFG_MIN_LEN 56
#define VIRTIO_MSI_NO_VECTOR 0xffff  /* 4.1.5.1.2 */

#define RESET_WAIT_US 1000
#define RESET_TRIES 1000
#define CONFIG_GENERATION_TRIES 16

struct modern {
	struct unic_dev *dev;
	volatile uint8_t *common, *notify, *device;
	uint32_t common_len, notify_len, device_len, notify_mult;
};

int virtio_pci_find_cap(struct unic_dev *dev, uint8_t cap_id, int after)
{
	uint16_t status;
	uint8_t pos, hdr[2];
	int n;

	if (unic_pci_config_read(dev, &status, sizeof status, PCI_STATUS) || !(status & PCI_STATUS_CAP_LIST))
		return -ENOENT;
	if (after) {
		if (unic_pci_config_read(dev, &pos, 1, after + 1))
			return -EIO;
	} else if (unic_pci_config_read(dev, &pos, 1, PCI_CAPABILITY_LIST)) {
		return -EIO;
	}
	for (n = 0; n < PCI_CAP_MAX && pos >= PCI_CAP_FIRST; n++) {
		pos &= (uint8_t)~3u; /* PCI 3.0 6.7: the bottom two bits are reserved */
		if (unic_pci_config_read(dev, hdr, sizeof hdr, pos))
			return -EIO;
		if (hdr[0] == cap_id)
			return pos;
		pos = hdr[1];
	}
	return -ENOENT;
}

/* Maps one virtio capability to an address in a memory BAR; NULL when it does not fit. */
static volatile uint8_t *cap_address(struct unic_dev *dev, int pos, uint32_t *len)
{
	uint8_t bar;
	uint32_t off, length;

	if (unic_pci_config_read(dev, &bar, 1, pos + VIRTIO_PCI_CAP_BAR) ||
	    unic_pci_config_read(dev, &off, 4, pos + VIRTIO_PCI_CAP_OFFSET) ||
	    unic_pci_config_read(dev, &length, 4, pos + VIRTIO_PCI_CAP_LENGTH))
		return NULL;
	if (bar >= UNIC_MAX_BARS || !dev->bars[bar].addr || (uint64_t)off + length > dev->bars[bar].size) {
		UNIC_DEBUG("virtio: capability at 0x%x points outside a mapped memory BAR (bar %u off 0x%x len 0x%x)",
			   pos, bar, off, length);
		return NULL;
	}
	*len = length;
	return (volatile uint8_t *)dev->bars[bar].addr + off;
}

/* Spec 4.1.4: the driver uses the first capability of each type that it can use. */
static void parse_caps(struct modern *m)
{
	struct unic_dev *dev = m->dev;
	int pos = 0;

	while ((pos = virtio_pci_find_cap(dev, PCI_CAP_ID_VNDR, pos)) > 0) {
		uint8_t type;
		uint32_t len = 0;
		volatile uint8_t *p;

		if (unic_pci_config_read(dev, &type, 1, pos + VIRTIO_PCI_CAP_CFG_TYPE))
			return;
		p = cap_address(dev, pos, &len);
		if (!p)
			continue;
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !m->common && len >= COMMON_CFG_MIN_LEN) {
			m->common = p;
			m->common_len = len;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !m->notify &&
			   !unic_pci_config_read(dev, &m->notify_mult, 4, pos + VIRTIO_PCI_NOTIFY_CAP_MULT)) {
			m->notify = p;
			m->notify_len = len;
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !m->device) {
			m->device = p;
			m->device_len = len;
		}
	}
}

static int modern_reset(void *ctx)
{
	struct modern *m = ctx;
	int i;

	unic_write8(m->common, COMMON_STATUS, 0);
	/* 4.1.4.3.2: the driver waits until device_status reads 0 before reinitializing */
	for (i = 0; i < RESET_TRIES; i++) {
		if (unic_read8(m->common, COMMON_STATUS) == 0)
			return 0;
		unic_usleep(RESET_WAIT_US);
	}
	return -ETIMEDOUT;
}

static uint8_t modern_get_status(void *ctx)
{
	struct modern *m = ctx;
	return unic_read8(m->common, COMMON_STATUS);
}

static void modern_set_status(void *ctx, uint8_t status)
{
	struct modern *m = ctx;
	unic_write8(m->common, COMMON_STATUS, status);
}

static uint64_t modern_get_features(void *ctx)
{
	struct modern *m = ctx;
	uint64_t lo, hi;

	unic_write32(m->common, COMMON_DFSELECT, 0);
	lo = unic_read32(m->common, COMMON_DF);
	unic_write32(m->common, COMMON_DFSELECT, 1);
	hi = unic_read32(m->common, COMMON_DF);
	return hi << 32 | lo;
}

static void modern_set_features(void *ctx, uint64_t features)
{
	struct modern *m = ctx;

	unic_write32(m->common, COMMON_GFSELECT, 0);
	unic_write32(m->common, COMMON_GF, (uint32_t)features);
	unic_write32(m->common, COMMON_GFSELECT, 1);
	unic_write32(m->common, COMMON_GF, (uint32_t)(features >> 32));
}

/* 4.1.4.3.1 / 2.5.1: re-read while config_generation changes under us. */
static int modern_read_config(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	struct modern *m = ctx;
	uint8_t *p = buf, gen;
	uint32_t i;
	int tries;

	if (!m->device || (uint64_t)off + len > m->device_len)
		return -ERANGE;
	for (tries = 0; tries < CONFIG_GENERATION_TRIES; tries++) {
		gen = unic_read8(m->common, COMMON_CFGGENERATION);
		if (len == sizeof(uint16_t)) {
			uint16_t v = unic_read16(m->device, off);
			memcpy(buf, &v, sizeof v);
		} else {
			for (i = 0; i < len; i++)
				p[i] = unic_read8(m->device, off + i);
		}
		if (unic_read8(m->common, COMMON_CFGGENERATION) == gen)
			return 0;
	}
	return -EAGAIN;
}

static uint16_t modern_queue_max(void *ctx, uint16_t index)
{
	struct modern *m = ctx;

	if (index >= unic_read16(m->common, COMMON_NUMQ))
		return 0;
	unic_write16(m->common, COMMON_Q_SELECT, index);
	return unic_read16(m->common, COMMON_Q_SIZE);
}

static void modern_notify(struct virtq *vq)
{
	/* 4.1.4.4: write the queue index (no VIRTIO_F_NOTIFICATION_DATA) */
	unic_write16(vq->notify_ctx, 0, vq->index);
}

static void write64(volatile uint8_t *base, uint32_t lo_off, uint32_t hi_off, uint64_t v)
{
	/* 4.1.3.1: 64-bit fields may be written as two 32-bit halves */
	unic_write32(base, lo_off, (uint32_t)v);
	unic_write32(base, hi_off, (uint32_t)(v >> 32));
}

static int modern_queue_enable(void *ctx, struct virtq *vq)
{
	struct modern *m = ctx;
	uint64_t noff;

	if (modern_queue_max(ctx, vq->index) < vq->size)
		return unic_dev_error(m->dev, EINVAL, "virtio queue %u: size %u is larger than the device allows",
				      vq->index, vq->size);
	unic_write16(m->common, COMMON_Q_SIZE, vq->size);
	unic_write16(m->common, COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR); /* we poll */
	write64(m->common, COMMON_Q_DESCLO, COMMON_Q_DESCHI, vq->desc_iova);
	write64(m->common, COMMON_Q_AVAILLO, COMMON_Q_AVAILHI, vq->driver_iova);
	write64(m->common, COMMON_Q_USEDLO, COMMON_Q_USEDHI, vq->device_iova);
	/* 4.1.4.4: the notify address is cap.offset + queue_notify_off * notify_off_multiplier */
	noff = (uint64_t)unic_read16(m->common, COMMON_Q_NOFF) * m->notify_mult;
	if (noff + sizeof(uint16_t) > m->notify_len)
		return unic_dev_error(m->dev, EIO, "virtio queue %u: notify offset 0x%llx is outside the notify area "
				      "(0x%x bytes)", vq->index, (unsigned long long)noff, m->notify_len);
	vq->notify = modern_notify;
	vq->notify_ctx = (void *)(uintptr_t)(m->notify + noff);
	unic_write16(m->common, COMMON_Q_ENABLE, 1);
	return 0;
}

static void modern_close(void *ctx) { free(ctx); }

static const struct virtio_transport modern_ops = {
	.name = "modern",
	.fixed_queue_size = false,
	.ring_align = sizeof(struct vring_used_elem), /* 2.7: used ring 4-aligned, desc 16 */
	.reset = modern_reset,
	.get_status = modern_get_status,
	.set_status = modern_set_status,
	.get_features = modern_get_features,
	.set_features = modern_set_features,
	.read_config = modern_read_config,
	.queue_max = modern_queue_max,
	.queue_enable = modern_queue_enable,
	.close = modern_close,
};

int virtio_pci_modern_open(struct unic_dev *dev, const struct virtio_transport **t, void **ctx)
{
	struct modern *m = calloc(1, sizeof *m);

	if (!m)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	m->dev = dev;
	parse_caps(m);
	if (!m->common || !m->notify) {
		free(m);
		return -ENODEV; /* not a modern device (or its BARs are not mapped): try legacy */
	}
	*t = &modern_ops;
	*ctx = m;
	return 0;
}
