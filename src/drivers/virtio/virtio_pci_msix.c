/*
 * virtio_pci_msix.c - MSI-X vectors for the PCI transports (spec 4.1.5.1.2), shared by
 * legacy and modern: which vector each queue gets, and the eventfds VFIO signals.
 *
 * Layout (as Linux's virtio_pci and DPDK's virtio driver): vector 0 for config changes
 * (the link), vector k + 1 for receiveq k+1 (virtqueue 2k); transmit and control
 * queues get no vector: unic reclaims tx buffers itself and waits for control answers
 * by polling. MSI-X is enabled through VFIO (VFIO_DEVICE_SET_IRQS, one eventfd per
 * vector) before any vector is written to the device, as the spec's 4.1.5.1.2 needs
 * ("the driver MUST NOT write a vector ... unless MSI-X is enabled").
 */
#include <errno.h>
#include <unistd.h>

#include "virtio.h"

/* PCI 3.0 6.8.2: MSI-X capability, Message Control: Table Size in bits 10:0, N-1 encoded */
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSIX_FLAGS 2
#define PCI_MSIX_FLAGS_QSIZE 0x07ff

void virtio_msix_init(struct virtio_msix *m)
{
	unsigned i;

	m->n = 0;
	m->rx_queues = 0;
	for (i = 0; i < VIRTIO_MSIX_MAX_VECTORS; i++)
		m->fd[i] = -1;
	unic_fmt(m->why, sizeof m->why, "MSI-X is not set up yet: start the device first");
}

/* Vectors in the device's MSI-X table, 0 when it has no MSI-X capability. */
static int msix_table_size(struct unic_dev *dev, unsigned *n)
{
	uint16_t ctrl;
	int pos = virtio_pci_find_cap(dev, PCI_CAP_ID_MSIX);

	*n = 0;
	if (pos == -ENOENT)
		return 0;
	if (pos < 0)
		return pos;
	if (unic_pci_config_read(dev, &ctrl, sizeof ctrl, pos + PCI_MSIX_FLAGS))
		return -EIO;
	*n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u;
	return 0;
}

int virtio_msix_enable(struct unic_dev *dev, struct virtio_msix *m, uint16_t rx_queues)
{
	unsigned table, want = 1u + rx_queues;
	int r;

	virtio_msix_close(m);
	if (dev->vfio_device_fd < 0) {
		unic_fmt(m->why, sizeof m->why, "virtio %s: only vfio: access gives MSI-X interrupts: open it as vfio:%s "
			 "to sleep when idle, or poll it", virtio_dev_name(dev), dev->spec.pci_addr);
		return -ENOTSUP;
	}
	if ((r = msix_table_size(dev, &table)))
		goto fail;
	if (table < want) {
		unic_fmt(m->why, sizeof m->why, "virtio %s has %u MSI-X vectors; %u rx queues and the config change need "
			 "%u (QEMU: -device virtio-net-pci,vectors=N): poll it", virtio_dev_name(dev), table, rx_queues, want);
		return -ENOTSUP;
	}
	if ((r = unic_vfio_msix_eventfds(dev, m->fd, want)))
		goto fail;
	m->n = want;
	m->rx_queues = rx_queues;
	m->why[0] = 0;
	return 0;
fail:
	for (table = 0; table < VIRTIO_MSIX_MAX_VECTORS; table++)
		m->fd[table] = -1;
	unic_fmt(m->why, sizeof m->why, "virtio %s: cannot enable MSI-X through VFIO (%s): poll it",
		 virtio_dev_name(dev), strerror(-r));
	return r;
}

uint16_t virtio_msix_queue_vector(const struct virtio_msix *m, uint16_t index)
{
	uint16_t k = index / 2;

	if (!m->n || index % 2 || k >= m->rx_queues)
		return VIRTIO_MSI_NO_VECTOR;
	return (uint16_t)(k + 1);
}

int virtio_msix_fd(struct unic_dev *dev, const struct virtio_msix *m, uint16_t vector, bool say)
{
	if (vector < m->n && m->fd[vector] >= 0)
		return m->fd[vector];
	if (!say)
		return -ENOTSUP;
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
	virtio_msix_close(m);
}

void virtio_msix_close(struct virtio_msix *m)
{
	unsigned i;

	for (i = 0; i < VIRTIO_MSIX_MAX_VECTORS; i++)
		if (m->fd[i] >= 0) {
			close(m->fd[i]);
			m->fd[i] = -1;
		}
	m->n = 0;
	m->rx_queues = 0;
}
