/*
 * irq.c - the interrupt layer drivers use: wake-up descriptors per vector, owned by the
 * device (made by unic_irq_setup after the driver set the device up, freed at close).
 *
 * Three kinds, one interface:
 *   - VFIO MSI-X: one eventfd per vector (VFIO_DEVICE_SET_IRQS, DATA_EVENTFD |
 *     ACTION_TRIGGER); edge-triggered, so masking is the driver's job (EIMC, IMC, ...), and
 *     a wake-up is consumed by reading the eventfd's 8-byte counter.
 *   - UIO INTx (uio_pci_generic): one line for the whole device. Every vector is its own open
 *     file of /dev/uioN: each open file is a listener with its own event count, so an rx queue
 *     and the link event each see every interrupt. uio_pci_generic masks the line in its
 *     handler (PCI command INTx-disable, bit 10) and has no irqcontrol: unic_irq_unmask clears
 *     the bit again through the sysfs config file, after the driver cleared the cause.
 *   - a VFIO line: INTx (VFIO_PCI_INTX_IRQ_INDEX) or single-message MSI: the kernel signals one
 *     eventfd (line_fd) for the whole device, so the core makes the listeners UIO gives for free:
 *     listener v waits on an epoll set of line_fd and its own wake_fds[v]; whoever drains line_fd
 *     passes the wake-up on to every other listener's wake_fds, so an rx queue that takes an
 *     interrupt never hides it from the link event (or another queue). VFIO masks INTx when it
 *     fires (automasked); unic_irq_unmask is VFIO_IRQ_SET_ACTION_UNMASK, after the driver cleared
 *     the cause (the kernel signals again at once if the line is still up: no wake-up is lost).
 *     MSI is edge-triggered and needs no unmask.
 * UNIC_IRQ=msix|msi|intx in the environment limits the core to that kind (the driver falls back as
 * when the device lacks the others): for a device whose MSI-X misbehaves, and for the lab.
 * Device removal: VFIO's device request interrupt (VFIO_PCI_REQ_IRQ_INDEX) on an eventfd of
 * its own; when it fires the device is being unplugged: the data path stops (dev->removed)
 * and unic_last_error says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

/* PCI Local Bus Spec 3.0, 6.2.2: command register, bit 10 masks the device's INTx */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_INTX_DISABLE 0x400

void unic_irq_init(struct unic_irq *irq)
{
	unsigned i;

	memset(irq, 0, sizeof *irq);
	for (i = 0; i < UNIC_IRQ_MAX; i++)
		irq->fds[i] = irq->wake_fds[i] = -1;
	irq->req_fd = irq->event_epoll = irq->line_fd = -1;
	irq->ready = true;
}

static uint32_t vfio_index(enum unic_irq_kind kind)
{
	if (kind == UNIC_IRQ_MSIX)
		return VFIO_PCI_MSIX_IRQ_INDEX;
	return kind == UNIC_IRQ_MSI ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX;
}

/* Vectors VFIO offers at index (VFIO_DEVICE_GET_IRQ_INFO), 0 when none. */
static unsigned vfio_irq_count(struct unic_dev *dev, uint32_t index)
{
	struct vfio_irq_info info = { .argsz = sizeof info, .index = index };

	if (dev->vfio_device_fd < 0 || ioctl(dev->vfio_device_fd, VFIO_DEVICE_GET_IRQ_INFO, &info))
		return 0;
	return info.count;
}

#define IRQ_ENV "UNIC_IRQ"
static const char *const kind_names[] = { [UNIC_IRQ_MSIX] = "msix", [UNIC_IRQ_MSI] = "msi", [UNIC_IRQ_INTX] = "intx" };

/* UNIC_IRQ unset (or empty): every kind; else only the one it names. */
static bool kind_allowed(enum unic_irq_kind kind)
{
	const char *want = getenv(IRQ_ENV);

	return !want || !want[0] || !strcmp(want, kind_names[kind]);
}

/* One line the kernel signals on one eventfd, fanned out to listeners (a VFIO line). */
static bool is_line(const struct unic_dev *dev, enum unic_irq_kind kind)
{
	return kind == UNIC_IRQ_MSI || (kind == UNIC_IRQ_INTX && !dev->uio_path[0]);
}

unsigned unic_irq_vectors(struct unic_dev *dev, enum unic_irq_kind kind)
{
	unsigned n = 0;

	if (kind != UNIC_IRQ_MSIX && kind != UNIC_IRQ_MSI && kind != UNIC_IRQ_INTX)
		return 0;
	if (!kind_allowed(kind))
		return 0;
	if (kind == UNIC_IRQ_INTX && dev->uio_path[0])
		n = UNIC_IRQ_MAX; /* one line, as many listeners as wanted */
	else if (is_line(dev, kind))
		n = vfio_irq_count(dev, vfio_index(kind)) ? UNIC_IRQ_MAX : 0; /* one message: listeners */
	else
		n = vfio_irq_count(dev, vfio_index(kind));
	return n > UNIC_IRQ_MAX ? UNIC_IRQ_MAX : n;
}

/* Hands fds[0..n) (or none: n = 0, DATA_NONE) to VFIO at index. 0 or -errno. */
static int vfio_set_irqs(struct unic_dev *dev, uint32_t index, const int *fds, unsigned n)
{
	size_t sz = sizeof(struct vfio_irq_set) + n * sizeof(int);
	struct vfio_irq_set *set = calloc(1, sz);
	int r = 0;

	if (!set)
		return -ENOMEM;
	set->argsz = (uint32_t)sz;
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER | (n ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	set->index = index;
	set->count = n;
	if (n)
		memcpy(set->data, fds, n * sizeof(int));
	if (ioctl(dev->vfio_device_fd, VFIO_DEVICE_SET_IRQS, set))
		r = -errno;
	free(set);
	return r;
}

static int open_listeners(struct unic_dev *dev, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		dev->irq.fds[i] = open(dev->uio_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (dev->irq.fds[i] < 0)
			return unic_dev_error(dev, errno, "cannot open %s: %s", dev->uio_path, strerror(errno));
	}
	return 0;
}

static int make_eventfds(struct unic_dev *dev, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		dev->irq.fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (dev->irq.fds[i] < 0)
			return unic_dev_error(dev, errno, "cannot make an eventfd: %s", strerror(errno));
	}
	return 0;
}

static int epoll_add(int ep, int fd);

/* A VFIO line: line_fd for the kernel, and per listener an epoll set of it and its own wake-up. */
int unic_irq_line_setup(struct unic_dev *dev, enum unic_irq_kind kind, unsigned n)
{
	unsigned i;

	if (n == 0 || n > UNIC_IRQ_MAX)
		return unic_dev_error(dev, EINVAL, "%s: %u listeners of one interrupt line", dev->spec.pci_addr, n);
	dev->irq.kind = kind;
	dev->irq.n = n;
	dev->irq.line_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->irq.line_fd < 0)
		return unic_dev_error(dev, errno, "cannot make an eventfd: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		dev->irq.wake_fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		dev->irq.fds[i] = epoll_create1(EPOLL_CLOEXEC);
		if (dev->irq.wake_fds[i] < 0 || dev->irq.fds[i] < 0 || epoll_add(dev->irq.fds[i], dev->irq.line_fd) ||
		    epoll_add(dev->irq.fds[i], dev->irq.wake_fds[i]))
			return unic_dev_error(dev, errno, "cannot make the listeners of an interrupt line: %s",
					      strerror(errno));
	}
	return 0;
}

static const char *kind_label(enum unic_irq_kind kind)
{
	return kind == UNIC_IRQ_MSIX ? "MSI-X" : kind == UNIC_IRQ_MSI ? "MSI" : "INTx";
}

int unic_irq_setup(struct unic_dev *dev, enum unic_irq_kind kind, unsigned n)
{
	unsigned have = unic_irq_vectors(dev, kind);
	int r;

	if (dev->irq.kind)
		return unic_dev_error(dev, EBUSY, "%s: interrupts are set up already", dev->spec.pci_addr);
	if (n == 0 || n > have)
		return unic_dev_error(dev, ENOTSUP, "%s: %u interrupt vectors wanted, the device offers %u here",
				      dev->spec.pci_addr, n, have);
	if (is_line(dev, kind)) {
		r = unic_irq_line_setup(dev, kind, n);
		if (!r && (r = vfio_set_irqs(dev, vfio_index(kind), &dev->irq.line_fd, 1)))
			r = unic_dev_error(dev, -r, "%s: VFIO_DEVICE_SET_IRQS for the %s line failed: %s",
					   dev->spec.pci_addr, kind_label(kind), strerror(-r));
	} else {
		r = kind == UNIC_IRQ_INTX ? open_listeners(dev, n) : make_eventfds(dev, n);
		dev->irq.kind = kind;
		dev->irq.n = n;
		if (!r && kind == UNIC_IRQ_MSIX && (r = vfio_set_irqs(dev, vfio_index(kind), dev->irq.fds, n)))
			r = unic_dev_error(dev, -r, "%s: VFIO_DEVICE_SET_IRQS for %u MSI-X vectors failed: %s",
					   dev->spec.pci_addr, n, strerror(-r));
	}
	if (r)
		unic_irq_free(dev);
	return r;
}

int unic_irq_fd(struct unic_dev *dev, unsigned vec)
{
	if (vec >= dev->irq.n)
		return -ENOTSUP;
	return dev->irq.fds[vec];
}

/* A VFIO line: take the kernel's count and pass it on to every other listener, then take ours. */
static void line_drain(struct unic_irq *irq, unsigned vec)
{
	uint64_t count, one = 1;
	unsigned i;

	if (read(irq->line_fd, &count, sizeof count) == sizeof count)
		for (i = 0; i < irq->n; i++)
			if (i != vec && write(irq->wake_fds[i], &one, sizeof one) < 0)
				(void)0; /* EAGAIN only at a count of 2^64 - 1: that listener is awake anyway */
	if (read(irq->wake_fds[vec], &count, sizeof count) < 0)
		(void)0; /* EAGAIN: nothing was passed on */
}

void unic_irq_drain(struct unic_dev *dev, unsigned vec)
{
	uint64_t count; /* eventfd: 8 bytes; uio: 4 (the interrupt count) */

	if (vec >= dev->irq.n)
		return;
	if (dev->irq.line_fd >= 0)
		line_drain(&dev->irq, vec);
	else if (read(dev->irq.fds[vec], &count, dev->irq.kind == UNIC_IRQ_INTX ? 4 : 8) < 0)
		(void)0; /* EAGAIN: nothing pending */
}

void unic_irq_kick(struct unic_dev *dev, unsigned vec)
{
	uint64_t one = 1;

	if (vec >= dev->irq.n || (dev->irq.kind == UNIC_IRQ_INTX && dev->uio_path[0]))
		return; /* a /dev/uioN file counts the kernel's interrupts only */
	if (write(dev->irq.line_fd >= 0 ? dev->irq.wake_fds[vec] : dev->irq.fds[vec], &one, sizeof one) < 0)
		(void)0; /* EAGAIN only at a count of 2^64 - 1: awake anyway */
}

/* VFIO INTx: the kernel masked the line when it fired; lifting the mask re-signals a line still up. */
static int vfio_intx_unmask(struct unic_dev *dev)
{
	struct vfio_irq_set set = { .argsz = sizeof set, .index = VFIO_PCI_INTX_IRQ_INDEX, .start = 0, .count = 1,
				    .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK };

	return ioctl(dev->vfio_device_fd, VFIO_DEVICE_SET_IRQS, &set) ? -errno : 0;
}

int unic_irq_unmask(struct unic_dev *dev)
{
	uint16_t cmd;

	if (dev->irq.kind != UNIC_IRQ_INTX)
		return 0; /* MSI / MSI-X: masked and unmasked on the device */
	if (!dev->uio_path[0])
		return vfio_intx_unmask(dev);
	if (unic_pci_config_read(dev, &cmd, sizeof cmd, PCI_COMMAND))
		return -EIO;
	if (!(cmd & PCI_COMMAND_INTX_DISABLE))
		return 0;
	cmd = (uint16_t)(cmd & ~PCI_COMMAND_INTX_DISABLE);
	return unic_pci_config_write(dev, &cmd, sizeof cmd, PCI_COMMAND);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void unic_irq_free(struct unic_dev *dev)
{
	unsigned i;

	if (dev->irq.kind && !(dev->irq.kind == UNIC_IRQ_INTX && dev->uio_path[0]) && dev->vfio_device_fd >= 0)
		vfio_set_irqs(dev, vfio_index(dev->irq.kind), NULL, 0);
	for (i = 0; i < UNIC_IRQ_MAX; i++) {
		close_fd(&dev->irq.fds[i]);
		close_fd(&dev->irq.wake_fds[i]);
	}
	close_fd(&dev->irq.line_fd);
	dev->irq.kind = UNIC_IRQ_NONE;
	dev->irq.n = 0;
}

/* ---- removal: VFIO's device request ---- */

int unic_irq_request_setup(struct unic_dev *dev)
{
	int fd;

	if (vfio_irq_count(dev, VFIO_PCI_REQ_IRQ_INDEX) == 0)
		return 0; /* an old kernel: removal shows only as all-ones reads */
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return unic_dev_error(dev, errno, "cannot make an eventfd: %s", strerror(errno));
	if (vfio_set_irqs(dev, VFIO_PCI_REQ_IRQ_INDEX, &fd, 1)) {
		close(fd);
		UNIC_DEBUG("%s: no VFIO device request channel", dev->spec.pci_addr);
		return 0;
	}
	dev->irq.req_fd = fd;
	return 0;
}

bool unic_irq_unplug_check(struct unic_dev *dev)
{
	struct pollfd pfd = { .fd = dev->irq.req_fd, .events = POLLIN };

	if (!dev->irq.ready || dev->irq.req_fd < 0)
		return false;
	/* looked at, never read: it stays readable for every waiter (rx_wait, the event set) */
	if (!atomic_load_explicit(&dev->irq.unplugged, memory_order_relaxed) && poll(&pfd, 1, 0) == 1) {
		atomic_store(&dev->irq.unplugged, true);
		dev->removed = true; /* the data path stops: every burst returns 0 */
	}
	return atomic_load_explicit(&dev->irq.unplugged, memory_order_relaxed);
}

int unic_irq_unplug_error(struct unic_dev *dev)
{
	return unic_dev_error(dev, ENODEV, "%s is being unplugged (the kernel asked for it back): close it now",
			      dev->spec.pci_addr[0] ? dev->spec.pci_addr : "the device");
}

/* ---- the device's event descriptor: the driver's (link) and the removal request in one set ---- */

static int epoll_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int unic_irq_event_fd(struct unic_dev *dev, int driver_fd)
{
	if (dev->irq.event_epoll >= 0)
		return dev->irq.event_epoll;
	dev->irq.event_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (dev->irq.event_epoll < 0)
		return unic_dev_error(dev, errno, "epoll_create1: %s", strerror(errno));
	if (epoll_add(dev->irq.event_epoll, driver_fd) || epoll_add(dev->irq.event_epoll, dev->irq.req_fd)) {
		int e = errno;
		close(dev->irq.event_epoll);
		dev->irq.event_epoll = -1;
		return unic_dev_error(dev, e, "epoll_ctl: %s", strerror(e));
	}
	return dev->irq.event_epoll;
}

void unic_irq_close(struct unic_dev *dev)
{
	if (!dev->irq.ready)
		return; /* a handle made without dev_new (tests): nothing was opened */
	unic_irq_free(dev);
	if (dev->irq.event_epoll >= 0)
		close(dev->irq.event_epoll);
	if (dev->irq.req_fd >= 0) {
		if (dev->vfio_device_fd >= 0)
			vfio_set_irqs(dev, VFIO_PCI_REQ_IRQ_INDEX, NULL, 0);
		close(dev->irq.req_fd);
	}
	dev->irq.event_epoll = dev->irq.req_fd = -1;
}
