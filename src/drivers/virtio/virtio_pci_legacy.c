/*
 * virtio_pci_legacy.c - the virtio 0.9.5 PCI transport: every register is in
 * I/O BAR 0 (Virtio PCI Card Specification v0.9.5, 2.2.2; spec 4.1.4.8).
 *
 * Each register access is a pread/pwrite system call (VFIO region or sysfs
 * resource file), so the data path touches this transport only to notify, and
 * only when the device asked for it (virtio_ring.c batches that).
 */
#include <errno.h>
#include <stdlib.h>

#include "virtio.h"

#define LEGACY_BAR 0
/* Legacy register offsets in BAR 0 (0.9.5 2.2.2, spec 4.1.4.8) */
#define VIRTIO_PCI_HOST_FEATURES 0   /* 32 bits: what the device offers */
#define VIRTIO_PCI_GUEST_FEATURES 4  /* 32 bits: what the driver accepts */
#define VIRTIO_PCI_QUEUE_PFN 8       /* 32 bits: ring address / 4096 */
#define VIRTIO_PCI_QUEUE_NUM 12      /* 16 bits: size of the selected queue (read only) */
#define VIRTIO_PCI_QUEUE_SEL 14      /* 16 bits */
#define VIRTIO_PCI_QUEUE_NOTIFY 16   /* 16 bits: write a queue index to notify */
#define VIRTIO_PCI_STATUS 18         /* 8 bits */
#define VIRTIO_PCI_ISR 19            /* 8 bits */
#define VIRTIO_MSI_CONFIG_VECTOR 20  /* 16 bits, only while MSI-X is on: vector for config changes */
#define VIRTIO_MSI_QUEUE_VECTOR 22   /* 16 bits, only while MSI-X is on: vector of the selected queue */
#define VIRTIO_PCI_CONFIG_NO_MSIX 20 /* device config starts here while MSI-X is off */
#define VIRTIO_PCI_CONFIG_MSIX 24    /* ... and here while it is on (two vector registers) */
#define VIRTIO_PCI_QUEUE_ADDR_SHIFT 12 /* the PFN is in 4096-byte units */

/* PCI 3.0 6.8.2: MSI-X capability and its enable bit */
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSIX_FLAGS 2
#define PCI_MSIX_FLAGS_ENABLE 0x8000

struct legacy {
	struct unic_dev *dev;
	uint32_t config_off;
	struct virtio_msix msix;
};

static uint8_t legacy_get_status(void *ctx)
{
	struct legacy *l = ctx;
	return unic_io_read8(l->dev, LEGACY_BAR, VIRTIO_PCI_STATUS);
}

static void legacy_set_status(void *ctx, uint8_t status)
{
	struct legacy *l = ctx;
	unic_io_write8(l->dev, LEGACY_BAR, VIRTIO_PCI_STATUS, status);
}

/* 0.9.5 2.2.2.1: reading the status back flushes the write and shows the reset is done. */
static int legacy_reset(void *ctx)
{
	return virtio_status_reset(((struct legacy *)ctx)->dev, legacy_get_status, legacy_set_status, ctx);
}

static uint64_t legacy_get_features(void *ctx)
{
	struct legacy *l = ctx;
	return unic_io_read32(l->dev, LEGACY_BAR, VIRTIO_PCI_HOST_FEATURES); /* only 32 feature bits */
}

static void legacy_set_features(void *ctx, uint64_t features)
{
	struct legacy *l = ctx;
	unic_io_write32(l->dev, LEGACY_BAR, VIRTIO_PCI_GUEST_FEATURES, (uint32_t)features);
}

static int legacy_read_config(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	struct legacy *l = ctx;
	uint8_t *p = buf;
	uint32_t i;

	if (len == sizeof(uint16_t)) { /* one access, so a 16-bit field is read whole */
		uint16_t v = unic_io_read16(l->dev, LEGACY_BAR, l->config_off + off);
		memcpy(buf, &v, sizeof v);
		return l->dev->removed ? -EIO : 0;
	}
	for (i = 0; i < len; i++)
		p[i] = unic_io_read8(l->dev, LEGACY_BAR, l->config_off + off + i);
	return l->dev->removed ? -EIO : 0;
}

static uint16_t legacy_queue_max(void *ctx, uint16_t index)
{
	struct legacy *l = ctx;

	unic_io_write16(l->dev, LEGACY_BAR, VIRTIO_PCI_QUEUE_SEL, index);
	return unic_io_read16(l->dev, LEGACY_BAR, VIRTIO_PCI_QUEUE_NUM);
}

static void legacy_notify(struct virtq *vq)
{
	struct legacy *l = vq->notify_ctx;
	unic_io_write16(l->dev, LEGACY_BAR, VIRTIO_PCI_QUEUE_NOTIFY, vq->index);
}

/* 0.9.5 2.2.2 / spec 4.1.5.1.2: write a vector, read it back; VIRTIO_MSI_NO_VECTOR means refused. */
static void legacy_bind_vector(struct legacy *l, uint32_t reg, uint16_t vector, const char *what)
{
	unic_io_write16(l->dev, LEGACY_BAR, reg, vector);
	if (vector == VIRTIO_MSI_NO_VECTOR || unic_io_read16(l->dev, LEGACY_BAR, reg) == vector)
		return;
	virtio_msix_refused(l->dev, &l->msix, what, vector); /* MSI-X off again: */
	l->config_off = VIRTIO_PCI_CONFIG_NO_MSIX;              /* the config moves back */
}

/*
 * MSI-X on through VFIO, then vector 0 for config changes. From the moment MSI-X is
 * on, the device config (MAC, status) is at offset 24, after the two vector
 * registers (0.9.5 2.2.2; QEMU's VIRTIO_PCI_CONFIG_SIZE follows the enable bit).
 */
static int legacy_intr_setup(void *ctx, uint16_t rx_queues)
{
	struct legacy *l = ctx;

	if (virtio_msix_enable(l->dev, &l->msix, rx_queues) || l->msix.intx)
		return 0; /* polled (l->msix.why says why), or INTx: no vector, the config stays at 20 */
	l->config_off = VIRTIO_PCI_CONFIG_MSIX;
	legacy_bind_vector(l, VIRTIO_MSI_CONFIG_VECTOR, VIRTIO_MSIX_CONFIG_VECTOR, "config changes");
	return 0;
}

static int legacy_queue_intr_fd(void *ctx, uint16_t index, bool say)
{
	struct legacy *l = ctx;

	return virtio_msix_fd(l->dev, &l->msix, virtio_msix_queue_slot(&l->msix, index), say);
}

/* 0.9.5 2.2.2: reading the ISR status lowers the INTx line */
static uint8_t legacy_read_isr(void *ctx)
{
	struct legacy *l = ctx;

	return unic_io_read8(l->dev, LEGACY_BAR, VIRTIO_PCI_ISR);
}

static void legacy_intr_rearm(void *ctx)
{
	struct legacy *l = ctx;

	virtio_intx_rearm(l->dev, &l->msix, legacy_read_isr, l);
}

static void legacy_queue_intr_ack(void *ctx, uint16_t index)
{
	struct legacy *l = ctx;

	virtio_msix_ack(l->dev, &l->msix, virtio_msix_queue_slot(&l->msix, index), legacy_read_isr, l);
}

static bool legacy_config_intr_ack(void *ctx)
{
	struct legacy *l = ctx;

	return virtio_msix_config_ack(l->dev, &l->msix, legacy_read_isr, l);
}

static int legacy_config_intr_fd(void *ctx, bool say)
{
	struct legacy *l = ctx;

	return virtio_msix_fd(l->dev, &l->msix, VIRTIO_MSIX_CONFIG_VECTOR, say);
}

static int legacy_queue_enable(void *ctx, struct virtq *vq)
{
	struct legacy *l = ctx;
	uint64_t pfn = vq->desc_iova >> VIRTIO_PCI_QUEUE_ADDR_SHIFT;

	if (vq->desc_iova & (VIRTIO_LEGACY_RING_ALIGN - 1) || pfn > UINT32_MAX)
		return unic_dev_error(l->dev, EINVAL, "legacy virtio queue %u at 0x%llx: the ring must be 4096-aligned "
				      "below 16 TiB", vq->index, (unsigned long long)vq->desc_iova);
	if (legacy_queue_max(ctx, vq->index) != vq->size)
		return unic_dev_error(l->dev, EINVAL, "legacy virtio queue %u: size %u is not the device's", vq->index, vq->size);
	/* queue_max selected the queue: its vector (only with MSI-X on: the register exists only then) */
	if (l->msix.n && !l->msix.intx)
		legacy_bind_vector(l, VIRTIO_MSI_QUEUE_VECTOR, virtio_msix_queue_vector(&l->msix, vq->index), "a queue");
	unic_io_write32(l->dev, LEGACY_BAR, VIRTIO_PCI_QUEUE_PFN, (uint32_t)pfn);
	vq->notify = legacy_notify;
	vq->notify_ctx = l;
	return l->dev->removed ? -EIO : 0;
}

static void legacy_close(void *ctx)
{
	struct legacy *l = ctx;

	virtio_msix_close(l->dev, &l->msix);
	free(l);
}

/* pci.c's I/O accessors raise dev->removed when a pread/pwrite on the I/O BAR fails. */
static const atomic_bool *legacy_gone_flag(void *ctx) { return &((struct legacy *)ctx)->dev->removed; }

static int legacy_check(void *ctx)
{
	struct legacy *l = ctx;

	if (!l->dev->removed)
		return 0;
	return unic_dev_error(l->dev, ENODEV, "virtio %s: device removed (an access to its legacy I/O BAR 0 failed): "
			      "close it and open it again once it is back", virtio_dev_name(l->dev));
}

static const struct virtio_transport legacy_ops = {
	.name = "legacy",
	.fixed_queue_size = true,
	.ring_align = VIRTIO_LEGACY_RING_ALIGN,
	.reset = legacy_reset,
	.get_status = legacy_get_status,
	.set_status = legacy_set_status,
	.get_features = legacy_get_features,
	.set_features = legacy_set_features,
	.read_config = legacy_read_config,
	.queue_max = legacy_queue_max,
	.queue_enable = legacy_queue_enable,
	.close = legacy_close,
	.gone_flag = legacy_gone_flag,
	.check = legacy_check,
	.intr_setup = legacy_intr_setup,
	.queue_intr_fd = legacy_queue_intr_fd,
	.config_intr_fd = legacy_config_intr_fd,
	.intr_rearm = legacy_intr_rearm,
	.queue_intr_ack = legacy_queue_intr_ack,
	.config_intr_ack = legacy_config_intr_ack,
};

/* 0.9.5 2.2.2: with MSI-X on, two vector registers come before the device config. 0 or -errno (dev->err). */
static int msix_enabled(struct unic_dev *dev, bool *on)
{
	uint16_t ctrl;
	int pos = virtio_pci_find_cap(dev, PCI_CAP_ID_MSIX);

	*on = false;
	if (pos == -ENOENT)
		return 0;
	if (pos < 0)
		return pos; /* a corrupt capability list: dev->err says how */
	if (unic_pci_config_read(dev, &ctrl, sizeof ctrl, pos + PCI_MSIX_FLAGS))
		return unic_dev_error(dev, EIO, "%s: cannot read the MSI-X capability at 0x%02x", virtio_dev_name(dev), pos);
	*on = ctrl & PCI_MSIX_FLAGS_ENABLE;
	return 0;
}

int virtio_pci_legacy_open(struct unic_dev *dev, const struct virtio_transport **t, void **ctx)
{
	struct legacy *l;
	bool msix;
	int r;

	if (!dev->bars[LEGACY_BAR].is_io || dev->bars[LEGACY_BAR].io_fd < 0)
		return unic_dev_error(dev, ENODEV, "%s has no legacy virtio I/O BAR 0", dev->spec.pci_addr);
	if ((r = msix_enabled(dev, &msix)))
		return r;
	l = calloc(1, sizeof *l);
	if (!l)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	l->dev = dev;
	virtio_msix_init(&l->msix);
	l->config_off = msix ? VIRTIO_PCI_CONFIG_MSIX : VIRTIO_PCI_CONFIG_NO_MSIX;
	*t = &legacy_ops;
	*ctx = l;
	return 0;
}
