/*
 * dev.c - opening and closing devices, and the calls every driver answers.
 *
 * unic_open() reads like the checklist a careful user would follow by hand:
 * parse the spec, find the device and a driver for it, make sure nobody else
 * uses it (another unic process, or the kernel with an address on it), take it
 * through the chosen access method, identify it, then give it memory and start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PCI_CLASS_NETWORK 0x02
#define DEFAULT_BUF_SIZE 2048
#define DEFAULT_POOL_MIN 4096
#define RING_MIN 8                 /* drivers may need more (Intel: 32) and say so when they start */
#define RING_MAX 32768             /* the largest virtio queue (VIRTQ_MAX_SIZE); Intel's are smaller */
#define MTU_DEFAULT 1500           /* Ethernet's (IEEE 802.3) payload */
#define MTU_MIN 68                 /* the smallest IPv4 MTU (RFC 791) */
#define MTU_MAX 9000               /* the common jumbo frame payload */
#define FRAME_OVERHEAD 18          /* Ethernet header (14) and one 802.1Q tag (4); no FCS */

static const struct unic_driver *const pci_drivers[] = {
	&unic_driver_virtio_net,
	&unic_driver_igb,
	&unic_driver_e1000e,
	&unic_driver_e1000,
	&unic_driver_vmxnet3,
};

void unic_config_init(struct unic_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof *cfg);
	cfg->rx_queues = 1;
	cfg->tx_queues = 1;
	cfg->restore_driver = true;
}

void unic_usleep(unsigned usec)
{
	struct timespec ts = { .tv_sec = usec / 1000000, .tv_nsec = (long)(usec % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Closes run one at a time: a device's close returns the buffers in its rings to
 * their pools, which may belong to another device being closed. A pool whose
 * buffers are still out when its device closes lives on until the last comes
 * home (unic_mempool_orphan): no table of retired pools, no limit.
 */
static pthread_mutex_t close_lock = PTHREAD_MUTEX_INITIALIZER;

static struct unic_dev *dev_new(void)
{
	struct unic_dev *dev = calloc(1, sizeof *dev);
	int i;

	if (!dev)
		return NULL;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	for (i = 0; i < UNIC_MAX_BARS; i++)
		dev->bars[i].io_fd = -1;
	pthread_mutex_init(&dev->ctl_lock, NULL); /* default attributes: cannot fail (glibc, musl) */
	unic_irq_init(&dev->irq);
	return dev;
}

static int find_driver(struct unic_dev *dev)
{
	const char *bdf = dev->spec.pci_addr;
	uint32_t vendor, device, class;
	size_t i;

	if (unic_pci_read_id(bdf, "vendor", &vendor) || unic_pci_read_id(bdf, "device", &device) ||
	    unic_pci_read_id(bdf, "class", &class))
		return unic_dev_error(dev, ENODEV, "no PCI device at %s (list them with 'unic-devbind --status' or lspci)", bdf);
	dev->vendor_id = (uint16_t)vendor;
	dev->device_id = (uint16_t)device;
	for (i = 0; i < UNIC_ARRAY_SIZE(pci_drivers); i++)
		if (pci_drivers[i]->match(dev->vendor_id, dev->device_id)) {
			dev->drv = pci_drivers[i];
			return 0;
		}
	if ((class >> 16) != PCI_CLASS_NETWORK)
		return unic_dev_error(dev, ENODEV, "%s (%04x:%04x, class %06x) is not a network device", bdf, vendor, device, class);
	return unic_dev_error(dev, ENOTSUP, "no unic driver for %s (%04x:%04x); supported: virtio-net, igb (82576), "
			      "e1000e (82574L), e1000 (82540EM), vmxnet3", bdf, vendor, device);
}

/* One process per device: an advisory lock on the device's sysfs config file. */
static int lock_device(struct unic_dev *dev)
{
	char path[128];

	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/config", dev->spec.pci_addr);
	dev->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (dev->lock_fd < 0)
		return unic_dev_error(dev, errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(dev->lock_fd, LOCK_EX | LOCK_NB))
		return unic_dev_error(dev, EBUSY, "%s is in use by another unic device handle or process", dev->spec.pci_addr);
	return 0;
}

static int check_not_in_use(struct unic_dev *dev)
{
	char names[8][32], why[128];
	int i, n = unic_pci_netdevs(dev->spec.pci_addr, names, 8);

	for (i = 0; i < n; i++)
		if (unic_netdev_in_use(names[i], why, sizeof why) && !dev->cfg.force)
			return unic_dev_error(dev, EBUSY, "refusing %s: %s; take it down first "
					      "('ip link set %s down') or pass force (--force)", dev->spec.pci_addr, why, names[i]);
	return 0;
}

/* The kernel driver the device had, for restore (unless the record of an owner that died named it). */
static void remember_driver(struct unic_dev *dev, const char *drv)
{
	if (!dev->orig_driver[0])
		snprintf(dev->orig_driver, sizeof dev->orig_driver, "%s", drv);
}

/* sysfs: and uio: alike: the config space through sysfs, BARs through resourceN, DMA by physical address. */
static int open_sysfs_resources(struct unic_dev *dev)
{
	char path[128];

	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/config", dev->spec.pci_addr);
	dev->config_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->config_fd < 0)
		return unic_dev_error(dev, errno, "cannot open %s: %s", path, strerror(errno));
	dev->dma_mode = UNIC_DMA_PHYS;
	return unic_pci_map_bars_sysfs(dev);
}

static int open_sysfs(struct unic_dev *dev)
{
	char drv[64];
	int r;

	if (geteuid() != 0)
		return unic_dev_error(dev, EPERM, "sysfs mode needs root (physical addresses, resource files); "
				      "use vfio: with an IOMMU as a user");
	unic_pci_driver(dev->spec.pci_addr, drv, sizeof drv);
	if (drv[0]) {
		remember_driver(dev, drv);
		if ((r = unic_pci_unbind(dev->spec.pci_addr)))
			return unic_dev_error(dev, -r, "cannot unbind %s from %s: %s", dev->spec.pci_addr, drv, strerror(-r));
	}
	return open_sysfs_resources(dev);
}

#define UIO_DRIVER "uio_pci_generic"

/* The /dev/uioN of a device bound to uio_pci_generic: sysfs lists it under the device's uio/. */
static int find_uio_node(struct unic_dev *dev)
{
	char path[128];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/uio", dev->spec.pci_addr);
	d = opendir(path);
	if (!d)
		return unic_dev_error(dev, ENODEV, "%s is bound to " UIO_DRIVER " but has no uio device in %s",
				      dev->spec.pci_addr, path);
	while ((e = readdir(d)) && strncmp(e->d_name, "uio", 3))
		;
	if (e)
		snprintf(dev->uio_path, sizeof dev->uio_path, "/dev/%.20s", e->d_name);
	closedir(d);
	if (!dev->uio_path[0])
		return unic_dev_error(dev, ENODEV, "%s: no uioN entry in %s", dev->spec.pci_addr, path);
	return 0;
}

/*
 * uio:BDF: uio_pci_generic holds the device and its INTx line (the interrupt layer reads
 * /dev/uioN); registers through sysfs resourceN, the config space through sysfs config, DMA
 * by physical address (pagemap): root, as sysfs: mode. Loading the driver is the user's job.
 */
static int open_uio(struct unic_dev *dev)
{
	char drv[64];
	int r;

	if (geteuid() != 0)
		return unic_dev_error(dev, EPERM, "uio mode needs root (physical addresses, resource files); "
				      "use vfio: with an IOMMU as a user");
	if (access("/sys/bus/pci/drivers/" UIO_DRIVER, F_OK))
		return unic_dev_error(dev, ENODEV, "the " UIO_DRIVER " driver is not loaded: run 'modprobe "
				      UIO_DRIVER "' as root");
	unic_pci_driver(dev->spec.pci_addr, drv, sizeof drv);
	if (strcmp(drv, UIO_DRIVER)) {
		remember_driver(dev, drv);
		if ((r = unic_pci_bind(dev->spec.pci_addr, UIO_DRIVER)))
			return unic_dev_error(dev, -r, "cannot bind %s to " UIO_DRIVER ": %s%s", dev->spec.pci_addr,
					      strerror(-r), r == -ENODEV ? " (a device without an INTx pin is refused "
					      "by it: use vfio:)" : "");
	}
	if ((r = find_uio_node(dev)))
		return r;
	return open_sysfs_resources(dev);
}

/* A bare PCI address: VFIO when the device has an IOMMU group, sysfs only when allowed. */
static int resolve_access(struct unic_dev *dev)
{
	enum unic_access a = dev->spec.access;

	if (a == 0) {
		if (unic_pci_iommu_group(dev->spec.pci_addr) >= 0)
			a = UNIC_ACCESS_VFIO;
		else if (dev->cfg.allow_unsafe)
			a = UNIC_ACCESS_SYSFS;
		else
			return unic_dev_error(dev, EPERM, "%s has no IOMMU group, so DMA could not be confined: enable the "
				"IOMMU, or ask for an unsafe mode explicitly (sysfs:%s or vfio-noiommu:%s, root)",
				dev->spec.pci_addr, dev->spec.pci_addr, dev->spec.pci_addr);
		dev->spec.access = a;
	}
	return 0;
}

static int open_access(struct unic_dev *dev)
{
	switch (dev->spec.access) {
	case UNIC_ACCESS_VFIO: return unic_vfio_open(dev, false);
	case UNIC_ACCESS_VFIO_NOIOMMU: return unic_vfio_open(dev, true);
	case UNIC_ACCESS_SYSFS: return open_sysfs(dev);
	case UNIC_ACCESS_UIO: return open_uio(dev);
	default: return unic_dev_error(dev, ENOTSUP, "access method %s is not available in this build",
				       unic_access_name(dev->spec.access));
	}
}

static int setup_memory(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;
	uint32_t need = (uint32_t)c->rx_queues * c->rx_ring_size + (uint32_t)c->tx_queues * c->tx_ring_size;
	uint32_t n = c->pool_size ? c->pool_size : (2 * need > DEFAULT_POOL_MIN ? 2 * need : DEFAULT_POOL_MIN);

	if (c->pool) /* the application's: bound to this device's DMA domain, or refused */
		return unic_mempool_attach(dev);
	dev->pool = unic_mempool_make(dev, n, c->buf_size);
	return dev->pool ? 0 : -ENOMEM;
}

static void release(struct unic_dev *dev)
{
	pthread_mutex_lock(&close_lock);
	if (dev->drv && dev->drv->close)
		dev->drv->close(dev); /* returns ring buffers to their pools, this one's or others' */
	unic_mempool_detach(dev); /* the last owner gone: freed when its last buffer is home */
	pthread_mutex_unlock(&close_lock);
	unic_irq_close(dev); /* after the driver masked the device's interrupts */
	if (dev->config_fd >= 0 || dev->vfio_device_fd >= 0)
		unic_pci_enable_bus_master(dev, false);
	unic_pci_unmap_bars(dev);
	unic_vfio_close(dev);
	if (dev->config_fd >= 0)
		close(dev->config_fd);
	dev->config_fd = -1;
	if (dev->cfg.restore_driver && dev->orig_driver[0] && dev->spec.pci_addr[0] &&
	    unic_pci_bind(dev->spec.pci_addr, dev->orig_driver))
		UNIC_WARN("could not hand %s back to %s", dev->spec.pci_addr, dev->orig_driver);
	if (dev->record_saved)
		unic_record_remove(dev->spec.pci_addr); /* a clean close: nothing left to recover */
	dev->record_saved = false;
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
	dev->lock_fd = -1;
}

/* One queue count: 0 means 1. */
static int check_queues(struct unic_dev *dev, const char *name, uint16_t *n)
{
	if (!*n)
		*n = 1;
	if (*n > UNIC_MAX_QUEUES)
		return unic_dev_error(dev, EINVAL, "%s %u is too many: at most %d queues per direction",
				      name, *n, UNIC_MAX_QUEUES);
	return 0;
}

/* One ring size: 0 means the default; the driver may round it to what the device takes. */
static int check_ring(struct unic_dev *dev, const char *name, uint16_t *size)
{
	if (!*size)
		*size = UNIC_DEFAULT_RING;
	if (*size < RING_MIN || *size > RING_MAX)
		return unic_dev_error(dev, EINVAL, "%s %u is out of range: give %u to %u descriptors, or 0 for "
				      "the default", name, *size, RING_MIN, RING_MAX);
	return 0;
}

/* ",queues=N" in the spec sets both directions; a cfg that asks for another count is refused. */
static int spec_queues(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;
	uint16_t n = dev->spec.queues;

	if (!n)
		return 0;
	if ((c->rx_queues > 1 && c->rx_queues != n) || (c->tx_queues > 1 && c->tx_queues != n))
		return unic_dev_error(dev, EINVAL, "the spec asks for queues=%u but the configuration for %u rx and %u tx "
				      "queues: give one of them only (or the same count)", n, c->rx_queues, c->tx_queues);
	c->rx_queues = c->tx_queues = n;
	return 0;
}

/*
 * Every field checked, and defaults filled in, before any device is touched: one
 * error line per refusal, naming the field and what to give instead.
 */
/* The device in messages: its PCI address, socket path or interface name. */
static const char *dev_name(const struct unic_dev *dev)
{
	if (dev->spec.pci_addr[0])
		return dev->spec.pci_addr;
	return dev->spec.path[0] ? dev->spec.path : dev->spec.ifname;
}

static int check_mtu(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;

	if (!c->mtu)
		c->mtu = MTU_DEFAULT;
	if (c->mtu < MTU_MIN || c->mtu > MTU_MAX)
		return unic_dev_error(dev, EINVAL, "mtu %u is out of range: give %u to %u bytes, or 0 for %u", c->mtu,
				      MTU_MIN, MTU_MAX, MTU_DEFAULT);
	return 0;
}

/* After probe: the driver said how large a frame the device takes (dev->max_mtu; 0: 1500). */
static int check_device_mtu(struct unic_dev *dev)
{
	if (!dev->max_mtu)
		dev->max_mtu = MTU_DEFAULT;
	if (dev->max_mtu > MTU_MAX) /* the chip takes more than the library does */
		dev->max_mtu = MTU_MAX;
	if (dev->cfg.mtu > dev->max_mtu)
		return unic_dev_error(dev, EINVAL, "mtu %u is more than %s on %s takes (at most %u): lower it (--mtu)",
				      dev->cfg.mtu, dev->drv->name, dev_name(dev),
				      dev->max_mtu);
	return 0;
}

/* cfg.pool: its buffers are the device's (pool_size and buf_size are not used) and must fit mtu. */
static int check_app_pool(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;

	c->buf_size = c->pool->buf_size;
	c->pool_size = 0;
	if (c->buf_size < c->mtu + FRAME_OVERHEAD)
		return unic_dev_error(dev, EINVAL, "cfg.pool's buffers of %u bytes cannot hold a frame of mtu %u (%u bytes "
				      "with the Ethernet header and a VLAN tag): create the pool with buf_size %u or "
				      "more, or lower mtu", c->buf_size, c->mtu, c->mtu + FRAME_OVERHEAD,
				      c->mtu + FRAME_OVERHEAD);
	return 0;
}

/*
 * After probe: a device that sizes its receive buffers in steps (Intel: 1 KB units, or a few
 * fixed sizes) may need more than mtu + 18 bytes per buffer for a frame of mtu to land in one
 * (dev->rx_buf_need). buf_size left to unic_open grows to it; one the application gave for an
 * mtu it gave must hold it.
 */
static int fit_rx_buffers(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;
	bool buf_given = dev->cfg_asked.buf_size, mtu_given = dev->cfg_asked.mtu;

	/* an application's pool (cfg.pool) is what it is: the driver checks its buffers at start */
	if (c->pool || dev->rx_buf_need <= c->buf_size)
		return 0;
	if (!buf_given) {
		c->buf_size = dev->rx_buf_need;
		return 0;
	}
	if (mtu_given)
		return unic_dev_error(dev, EINVAL, "buf_size %u is too small for mtu %u on %s: it receives such frames "
				      "into buffers of %u bytes; give that, or 0", c->buf_size, c->mtu, dev->drv->name,
				      dev->rx_buf_need);
	return 0;
}

static int normalize_config(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;
	uint32_t rx_need;
	int r;

	if ((r = spec_queues(dev)) || (r = check_queues(dev, "rx_queues", &c->rx_queues)) || (r = check_queues(dev, "tx_queues", &c->tx_queues)) ||
	    (r = check_ring(dev, "rx_ring_size", &c->rx_ring_size)) ||
	    (r = check_ring(dev, "tx_ring_size", &c->tx_ring_size)))
		return r;
	bool mtu_given = c->mtu != 0;

	if ((r = check_mtu(dev)))
		return r;
	if (c->pool)
		return check_app_pool(dev);
	if (!c->buf_size)
		c->buf_size = c->mtu + FRAME_OVERHEAD > DEFAULT_BUF_SIZE ? c->mtu + FRAME_OVERHEAD : DEFAULT_BUF_SIZE;
	/* without an mtu, small buffers stay allowed (frames that do not fit are dropped and counted) */
	if (mtu_given && c->buf_size < c->mtu + FRAME_OVERHEAD)
		return unic_dev_error(dev, EINVAL, "buf_size %u cannot hold a frame of mtu %u (%u bytes with the Ethernet "
				      "header and a VLAN tag): raise it, or give 0", c->buf_size, c->mtu, c->mtu + FRAME_OVERHEAD);
	if (c->buf_size < UNIC_BUF_SIZE_MIN || c->buf_size > UNIC_BUF_SIZE_MAX)
		return unic_dev_error(dev, EINVAL, "buf_size %u is out of range: give %u to %u bytes, or 0 for %u",
				      c->buf_size, UNIC_BUF_SIZE_MIN, UNIC_BUF_SIZE_MAX, DEFAULT_BUF_SIZE);
	rx_need = (uint32_t)c->rx_queues * c->rx_ring_size;
	if (c->pool_size && c->pool_size < rx_need)
		return unic_dev_error(dev, EINVAL, "pool_size %u cannot fill the rx rings (rx_queues %u x rx_ring_size "
				      "%u = %u buffers): raise it, or give 0 to size the pool for the rings",
				      c->pool_size, c->rx_queues, c->rx_ring_size, rx_need);
	if (c->pool_size > UNIC_POOL_SIZE_MAX)
		return unic_dev_error(dev, EINVAL, "pool_size %u is too large: at most %u buffers", c->pool_size,
				      UNIC_POOL_SIZE_MAX);
	return 0;
}

/* A PCI device: find it and its driver, take it through the access method, identify it. */
static int probe_pci(struct unic_dev *dev)
{
	int r = find_driver(dev);

	if (!r)
		r = lock_device(dev);
	if (!r)
		r = check_not_in_use(dev);
	if (!r)
		r = resolve_access(dev);
	if (!r)
		r = unic_record_adopt(dev); /* before the device moves: a crash from here on is recoverable */
	if (!r)
		r = open_access(dev);
	if (!r && unic_pci_enable_bus_master(dev, true))
		r = unic_dev_error(dev, EIO, "cannot enable bus mastering on %s", dev->spec.pci_addr);
	if (!r)
		r = dev->drv->probe(dev);
	return r;
}

/* The backend table's probe for the spec's prefix, or the PCI path for an address. */
static int probe(struct unic_dev *dev)
{
	const struct unic_backend *b = unic_backend_by_access(dev->spec.access);

	if (!b || b->arg == UNIC_SPEC_PCI)
		return probe_pci(dev);
	if (!b->probe)
		return unic_dev_error(dev, ENOTSUP, "%s is not available in this build of unic (src/backends/%s was "
				      "not built)", b->name, b->name);
	return b->probe(dev);
}

/* Everything the device took, then the handle itself (open's failure path and close). */
static void dev_free(struct unic_dev *dev)
{
	release(dev);
	pthread_mutex_destroy(&dev->ctl_lock);
	free(dev);
}

struct unic_dev *unic_open(const char *spec, const struct unic_config *cfg, char *err, size_t errlen)
{
	struct unic_dev *dev;
	int r;

	if (err && errlen)
		err[0] = 0;
	dev = dev_new();
	if (!dev) {
		unic_fmt(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg)
		dev->cfg = *cfg;
	else
		unic_config_init(&dev->cfg);
	dev->cfg_asked = dev->cfg;
	r = unic_parse_spec(spec, &dev->spec, dev->err, sizeof dev->err);
	if (!r)
		r = normalize_config(dev);
	if (!r)
		r = probe(dev);
	if (!r)
		r = check_device_mtu(dev);
	if (!r)
		r = fit_rx_buffers(dev);
	if (!r && !dev->cfg.probe_only) {
		r = setup_memory(dev);
		if (!r)
			r = dev->drv->start(dev);
	}
	if (r) {
		unic_fmt(err, errlen, "%s", dev->err[0] ? dev->err : strerror(-r));
		dev_free(dev);
		return NULL;
	}
	dev->cfg.cancel = NULL; /* read during unic_open only: the application's flag may go away now */
	return dev;
}

int unic_close(struct unic_dev *dev)
{
	if (!dev)
		return -EINVAL;
	dev_free(dev);
	return 0;
}

uint16_t unic_rx_burst(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n)
{
	if (unic_unlikely(!dev || !bufs || queue >= dev->num_rxq))
		return 0;
	return dev->drv->rx_burst(dev->rxq[queue], bufs, n);
}

uint16_t unic_tx_burst(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n)
{
	const struct unic_mempool *own;
	uint16_t i;

	if (unic_unlikely(!dev || !bufs || queue >= dev->num_txq))
		return 0;
	/* a buffer of another pool may be out of this device's DMA reach: the slow path decides */
	own = dev->pool;
	if (own->dma_domain != UNIC_DMA_DOMAIN_ANY) /* a copying backend takes any pool's buffer */
		for (i = 0; i < n; i++)
			if (unic_unlikely(bufs[i]->pool != own))
				return unic_tx_cross_domain(dev, queue, bufs, n);
	return dev->drv->tx_burst(dev->txq[queue], bufs, n);
}

int unic_stats(struct unic_dev *dev, struct unic_stats *st)
{
	int q, r;

	if (!dev || !st)
		return -EINVAL;
	memset(st, 0, sizeof *st);
	for (q = 0; q < dev->num_rxq; q++) {
		struct unic_qcounters *s = dev->rxq_stats[q];
		if (!s)
			continue;
		st->rx_packets += UNIC_STAT_GET(s->packets);
		st->rx_bytes += UNIC_STAT_GET(s->bytes);
		st->rx_dropped += UNIC_STAT_GET(s->dropped);
		st->rx_errors += UNIC_STAT_GET(s->errors);
		st->bad_device += UNIC_STAT_GET(s->bad_device);
	}
	for (q = 0; q < dev->num_txq; q++) {
		struct unic_qcounters *s = dev->txq_stats[q];
		if (!s)
			continue;
		st->tx_packets += UNIC_STAT_GET(s->packets);
		st->tx_bytes += UNIC_STAT_GET(s->bytes);
		st->tx_dropped += UNIC_STAT_GET(s->dropped);
		st->tx_errors += UNIC_STAT_GET(s->errors);
		st->bad_device += UNIC_STAT_GET(s->bad_device);
		st->tx_copied += UNIC_STAT_GET(s->copied);
	}
	/* drivers fold clear-on-read hardware counters into the device: one caller at a time */
	pthread_mutex_lock(&dev->ctl_lock);
	r = dev->drv->stats ? dev->drv->stats(dev, st) : 0;
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_queue_stats(struct unic_dev *dev, uint16_t queue, struct unic_queue_stats *st)
{
	struct unic_qcounters *s;

	if (!dev || !st || (queue >= dev->num_rxq && queue >= dev->num_txq))
		return -EINVAL;
	memset(st, 0, sizeof *st);
	if (queue < dev->num_rxq && (s = dev->rxq_stats[queue])) {
		st->rx_packets = UNIC_STAT_GET(s->packets);
		st->rx_bytes = UNIC_STAT_GET(s->bytes);
		st->rx_dropped = UNIC_STAT_GET(s->dropped);
		st->rx_errors = UNIC_STAT_GET(s->errors);
		st->bad_device = UNIC_STAT_GET(s->bad_device);
	}
	if (queue < dev->num_txq && (s = dev->txq_stats[queue])) {
		st->tx_packets = UNIC_STAT_GET(s->packets);
		st->tx_bytes = UNIC_STAT_GET(s->bytes);
		st->tx_dropped = UNIC_STAT_GET(s->dropped);
		st->tx_errors = UNIC_STAT_GET(s->errors);
		st->bad_device += UNIC_STAT_GET(s->bad_device);
	}
	return 0;
}

static int no_interrupts(struct unic_dev *dev)
{
	if (dev->spec.access == UNIC_ACCESS_SYSFS)
		return unic_dev_error(dev, ENOTSUP, "%s: sysfs: access gives no interrupts: open it with vfio: or uio: "
				      "to sleep when idle, or poll it", dev->spec.pci_addr);
	return unic_dev_error(dev, ENOTSUP, "%s: the %s driver cannot interrupt yet: poll the queue", dev_name(dev),
			      dev->drv->name);
}

int unic_rx_fd(struct unic_dev *dev, uint16_t queue)
{
	if (!dev || queue >= dev->num_rxq)
		return -EINVAL;
	if (!dev->drv->rx_intr_fd || dev->spec.access == UNIC_ACCESS_SYSFS)
		return no_interrupts(dev);
	return dev->drv->rx_intr_fd(dev, dev->rxq[queue]);
}

int unic_rx_intr_enable(struct unic_dev *dev, uint16_t queue)
{
	if (unic_unlikely(!dev || queue >= dev->num_rxq))
		return -EINVAL;
	if (!dev->drv->rx_intr_enable || dev->spec.access == UNIC_ACCESS_SYSFS)
		return no_interrupts(dev);
	if (unic_irq_unplug_check(dev)) /* a sleep now would be on a device that is going away */
		return -ENODEV;
	return dev->drv->rx_intr_enable(dev->rxq[queue]);
}

int unic_rx_intr_disable(struct unic_dev *dev, uint16_t queue)
{
	if (unic_unlikely(!dev || queue >= dev->num_rxq))
		return -EINVAL;
	if (!dev->drv->rx_intr_disable || dev->spec.access == UNIC_ACCESS_SYSFS)
		return no_interrupts(dev);
	return dev->drv->rx_intr_disable(dev->rxq[queue]);
}

/* Sleeps on the queue's descriptor and on the device's removal request (when it has one). */
int unic_rx_wait(struct unic_dev *dev, uint16_t queue, int timeout_ms)
{
	struct pollfd pfd[2] = { { .events = POLLIN }, { .events = POLLIN } };
	int r = unic_rx_fd(dev, queue);

	if (r < 0)
		return r;
	pfd[0].fd = r;
	pfd[1].fd = dev->irq.ready ? dev->irq.req_fd : -1; /* -1: poll skips it */
	r = unic_rx_intr_enable(dev, queue);
	if (r)
		return r; /* 1: a frame is waiting; or an error */
	r = poll(pfd, 2, timeout_ms);
	if (r < 0)
		r = -errno;
	unic_rx_intr_disable(dev, queue);
	if (unic_irq_unplug_check(dev))
		return -ENODEV;
	if (r > 0 && (pfd[0].revents & (POLLERR | POLLNVAL)))
		return -EIO;
	return r > 0 ? 1 : r;
}

uint16_t unic_tx_reclaim(struct unic_dev *dev, uint16_t queue)
{
	if (unic_unlikely(!dev || queue >= dev->num_txq || !dev->drv->tx_reclaim))
		return 0;
	return dev->drv->tx_reclaim(dev->txq[queue]);
}

/* One descriptor for link changes (the driver's) and removal (the core's VFIO device request). */
int unic_event_fd(struct unic_dev *dev)
{
	int r = -1;

	if (!dev)
		return -EINVAL;
	if ((!dev->drv->event_fd && dev->irq.req_fd < 0) || dev->spec.access == UNIC_ACCESS_SYSFS)
		return no_interrupts(dev);
	pthread_mutex_lock(&dev->ctl_lock);
	if (dev->drv->event_fd)
		r = dev->drv->event_fd(dev);
	if (r >= 0 || !dev->drv->event_fd)
		r = unic_irq_event_fd(dev, r);
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_event_ack(struct unic_dev *dev)
{
	int r = 0;

	if (!dev)
		return -EINVAL;
	if ((!dev->drv->event_ack && dev->irq.req_fd < 0) || dev->spec.access == UNIC_ACCESS_SYSFS)
		return no_interrupts(dev);
	pthread_mutex_lock(&dev->ctl_lock);
	if (unic_irq_unplug_check(dev)) {
		unic_irq_unplug_error(dev);
		r = UNIC_EVENT_REMOVED;
	} else if (dev->drv->event_ack) {
		r = dev->drv->event_ack(dev);
	}
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_set_rss(struct unic_dev *dev, const uint8_t *key, size_t key_len, const uint16_t *reta, size_t reta_len)
{
	size_t i;
	int r;

	if (!dev)
		return -EINVAL;
	if (!dev->drv->set_rss || !dev->rss_reta_size)
		return unic_dev_error(dev, ENOTSUP, "%s has no receive side scaling", dev->drv->name);
	if (key && key_len != dev->rss_key_len)
		return unic_dev_error(dev, EINVAL, "RSS key of %zu bytes: %s takes %u", key_len, dev->drv->name,
				      dev->rss_key_len);
	if (reta && reta_len != dev->rss_reta_size)
		return unic_dev_error(dev, EINVAL, "RSS table of %zu entries: %s takes %u", reta_len, dev->drv->name,
				      dev->rss_reta_size);
	for (i = 0; reta && i < reta_len; i++)
		if (reta[i] >= dev->num_rxq)
			return unic_dev_error(dev, EINVAL, "RSS table entry %zu names rx queue %u: the device has %u",
					      i, reta[i], dev->num_rxq);
	pthread_mutex_lock(&dev->ctl_lock);
	r = dev->drv->set_rss(dev, key, reta);
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_link(struct unic_dev *dev, struct unic_link *link)
{
	int r;

	if (!dev || !link)
		return -EINVAL;
	memset(link, 0, sizeof *link);
	if (!dev->drv->link)
		return unic_dev_error(dev, ENOTSUP, "%s cannot report link state", dev->drv->name);
	pthread_mutex_lock(&dev->ctl_lock);
	r = dev->drv->link(dev, link);
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_mac(struct unic_dev *dev, uint8_t mac[6])
{
	if (!dev || !mac)
		return -EINVAL;
	memcpy(mac, dev->mac, 6);
	return 0;
}

int unic_set_promisc(struct unic_dev *dev, bool on)
{
	int r;

	if (!dev)
		return -EINVAL;
	if (!dev->drv->set_promisc)
		return unic_dev_error(dev, ENOTSUP, "%s cannot change promiscuous mode", dev->drv->name);
	pthread_mutex_lock(&dev->ctl_lock);
	r = dev->drv->set_promisc(dev, on);
	if (!r)
		dev->cfg.promisc = on;
	pthread_mutex_unlock(&dev->ctl_lock);
	return r;
}

int unic_info(struct unic_dev *dev, struct unic_info *info)
{
	if (!dev || !info)
		return -EINVAL;
	memset(info, 0, sizeof *info);
	if (dev->spec.path[0])
		snprintf(info->name, sizeof info->name, "%s:%.50s", unic_access_name(dev->spec.access), dev->spec.path);
	else if (dev->spec.ifname[0])
		snprintf(info->name, sizeof info->name, "%s:%s", unic_access_name(dev->spec.access), dev->spec.ifname);
	else
		snprintf(info->name, sizeof info->name, "%s:%s", unic_access_name(dev->spec.access), dev->spec.pci_addr);
	snprintf(info->pci_addr, sizeof info->pci_addr, "%s", dev->spec.pci_addr);
	info->driver = dev->drv->name;
	info->access = dev->spec.access;
	info->vendor_id = dev->vendor_id;
	info->device_id = dev->device_id;
	info->rx_queues = dev->num_rxq;
	info->tx_queues = dev->num_txq;
	info->rx_ring_size = dev->rx_ring_size;
	info->tx_ring_size = dev->tx_ring_size;
	snprintf(info->features, sizeof info->features, "%s", dev->features);
	info->mtu = dev->cfg.mtu;
	info->max_mtu = dev->max_mtu;
	info->rss_key_len = dev->rss_key_len;
	info->rss_reta_size = dev->rss_reta_size;
	return 0;
}
