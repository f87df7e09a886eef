/*
 * virtio_pci_msix.c - MSI-X vectors for the PCI transports (spec 4.1.5.1.2), shared by
 * legacy and modern: which vector each queue gets, over the core's interrupt layer
 * (irq.c: one eventfd per VFIO MSI-X vector, owned by the device).
 *
 * Layout (as Linux's virtio_pci and DPDK's virtio driver): vector 0 for config changes
 * (the link), vector k + 1 for receiveq k+1 (virtqueue 2k); transmit and control
 * queues get no vector: unic reclaims tx buffers itself and waits for control answers
 * by polling. MSI-X is enabled through VFIO before any vector is written to the
 * device: a vector register means nothing while MSI-X is off (4.1.5.1.2), and a
 * legacy device has those registers only then (0.9.5 2.2.2).
 *
 * Through UIO the device has one INTx line (uio_pci_generic gives no MSI-X): every slot
 * is a listener of that line, no vector is programmed, and the ISR status register is
 * read to lower the line (4.1.4.5) before uio_pci_generic's mask is lifted.
 */
#include <errno.h>
#include <unistd.h>

#include "virtio.h"

void virtio_msix_init(struct virtio_msix *m)
{
	m->n = 0;
	m->rx_queues = 0;
	m->intx = false;
	atomic_init(&m->config_seen, false);
	unic_fmt(m->why, sizeof m->why, "MSI-X is not set up yet: start the device first");
}

/* UIO: one listener of the INTx line per slot. */
static int intx_enable(struct unic_dev *dev, struct virtio_msix *m, uint16_t rx_queues)
{
	int r;

	if ((r = unic_irq_setup(dev, UNIC_IRQ_INTX, 1u + rx_queues))) {
		unic_fmt(m->why, sizeof m->why, "%s", dev->err);
		return r;
	}
	m->n = 1u + rx_queues;
	m->rx_queues = rx_queues;
	m->intx = true;
	m->why[0] = 0;
	return 0;
}

int virtio_msix_enable(struct unic_dev *dev, struct virtio_msix *m, uint16_t rx_queues)
{
	unsigned have, want = 1u + rx_queues;
	int r;

	virtio_msix_close(dev, m);
	if (dev->uio_path[0])
		return intx_enable(dev, m, rx_queues);
	if (dev->vfio_device_fd < 0) {
		unic_fmt(m->why, sizeof m->why, "virtio %s: this access gives no interrupts: open it as vfio:%s (MSI-X) "
			 "or uio:%s (INTx) to sleep when idle, or poll it", virtio_dev_name(dev), dev->spec.pci_addr,
			 dev->spec.pci_addr);
		return -ENOTSUP;
	}
	if ((have = unic_irq_vectors(dev, UNIC_IRQ_MSIX)) < want) {
		unic_fmt(m->why, sizeof m->why, "virtio %s has %u MSI-X vectors; %u rx queues and the config change need "
			 "%u (QEMU: -device virtio-net-pci,vectors=N): poll it", virtio_dev_name(dev), have, rx_queues, want);
		return -ENOTSUP;
	}
	if ((r = unic_irq_setup(dev, UNIC_IRQ_MSIX, want))) {
		unic_fmt(m->why, sizeof m->why, "%s", dev->err);
		return r;
	}
	m->n = want;
	m->rx_queues = rx_queues;
	m->why[0] = 0;
	return 0;
}

uint16_t virtio_msix_queue_slot(const struct virtio_msix *m, uint16_t index)
{
	uint16_t k = index / 2;

	if (!m->n || index % 2 || k >= m->rx_queues)
		return VIRTIO_MSI_NO_VECTOR;
	return (uint16_t)(k + 1);
}

uint16_t virtio_msix_queue_vector(const struct virtio_msix *m, uint16_t index)
{
	return m->intx ? VIRTIO_MSI_NO_VECTOR : virtio_msix_queue_slot(m, index);
}

void virtio_intx_rearm(struct unic_dev *dev, struct virtio_msix *m, uint8_t (*read_isr)(void *), void *ctx)
{
	if (!m->intx)
		return;
	if (read_isr(ctx) & VIRTIO_ISR_CONFIG)
		atomic_store(&m->config_seen, true);
	unic_irq_unmask(dev);
}

/* Reads slot's descriptor (eventfd: 8 bytes; UIO: the 4-byte interrupt count): true when it had one. */
static bool take(struct unic_dev *dev, const struct virtio_msix *m, uint16_t slot)
{
	uint64_t n = 0;
	int fd = slot < m->n ? unic_irq_fd(dev, slot) : -1;
	size_t len = m->intx ? sizeof(uint32_t) : sizeof(uint64_t);

	return fd >= 0 && read(fd, &n, len) == (ssize_t)len;
}

bool virtio_msix_ack(struct unic_dev *dev, struct virtio_msix *m, uint16_t slot, uint8_t (*read_isr)(void *),
		     void *ctx)
{
	bool had = take(dev, m, slot);

	virtio_intx_rearm(dev, m, read_isr, ctx);
	return had;
}

bool virtio_msix_config_ack(struct unic_dev *dev, struct virtio_msix *m, uint8_t (*read_isr)(void *), void *ctx)
{
	bool had = virtio_msix_ack(dev, m, VIRTIO_MSIX_CONFIG_VECTOR, read_isr, ctx);

	if (m->intx) /* the line is shared: only the ISR tells a config change from a frame */
		return atomic_exchange(&m->config_seen, false);
	return had;
}

int virtio_msix_fd(struct unic_dev *dev, const struct virtio_msix *m, uint16_t vector, bool say)
{
	int fd = vector < m->n ? unic_irq_fd(dev, vector) : -ENOTSUP;


	if (fd >= 0 || !say)
		return fd;
	if (m->n)
		return unic_dev_error(dev, ENOTSUP, "virtio %s: this queue has no MSI-X vector (only the first %u rx queues "
				      "have one): poll it", virtio_dev_name(dev), m->rx_queues);
	return unic_dev_error(dev, ENOTSUP, "%s", m->why);
}

void virtio_msix_refused(struct unic_dev *dev, struct virtio_msix *m, const char *what, uint16_t vector)
{
	unic_fmt(m->why, sizeof m->why, "virtio %s refused MSI-X vector %u for %s (it reads back 0x%x, spec 4.1.5.1.2): "
		 "it has too few vectors for unic's layout; give it more (QEMU: -device virtio-net-pci,vectors=N), or "
		 "poll it", virtio_dev_name(dev), vector, what, VIRTIO_MSI_NO_VECTOR);
	UNIC_WARN("%s", m->why);
	virtio_msix_close(dev, m);
}

void virtio_msix_close(struct unic_dev *dev, struct virtio_msix *m)
{
	if (m->n)
		unic_irq_free(dev);
	m->n = 0;
	m->rx_queues = 0;
	m->intx = false;
}
