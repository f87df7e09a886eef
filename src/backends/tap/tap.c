/*
 * tap.c - a TAP interface unic creates (Documentation/networking/tuntap.rst): the kernel's
 * stack on the other side, for the exception path (ARP, control traffic, host services).
 *
 * One fd of /dev/net/tun per queue (IFF_MULTI_QUEUE when there are several: the kernel
 * spreads its frames over them by flow), non-blocking, one read() or write() per frame
 * (IFF_NO_PI: the frame alone). The interface lives as long as its fds: closing the last
 * one removes it. unic is the far end of the kernel's interface, so it has a MAC of its
 * own (random, locally administered); the kernel's side keeps the tap's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define WHAT "tap"
#define TUN_PATH "/dev/net/tun"

/* Past a buffer, room for the rest of any frame a tap gives (an MTU of up to 64 KiB): a read
 * that reaches it is a frame too long for our buffers, counted, not cut short unseen. */
#define SPILL_SIZE (64u * 1024 + 64)

struct tap_q {
	int fd;                          /* this queue's fd of the tap; poll() on it for interrupts later */
	uint16_t id;
	struct unic_mempool *pool;       /* rx: where frames are copied to */
	uint8_t *spill;                  /* SPILL_SIZE bytes */
	struct unic_qcounters rx_stats, tx_stats;
};

struct tap {
	struct tap_q q[UNIC_MAX_QUEUES]; /* queue i is rx queue i and tx queue i */
	uint16_t nq;
	uint64_t kernel_drops_base;      /* the tap's tx_dropped when unic opened it */
};

extern const struct unic_driver unic_driver_tap;

static int tun_error(struct unic_dev *dev, const char *step, int e)
{
	if (e == EPERM || e == EACCES)
		return unic_dev_error(dev, e, WHAT ": %s: %s: creating a TAP interface needs CAP_NET_ADMIN (run as "
				      "root)", step, strerror(e));
	return unic_dev_error(dev, e, WHAT ": %s for %s: %s", step, dev->spec.ifname, strerror(e));
}

/* One more queue fd of the tap (the first call creates the interface). */
static int tap_attach(struct unic_dev *dev, bool multi)
{
	struct ifreq ifr;
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return tun_error(dev, "open " TUN_PATH, errno);
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0));
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev->spec.ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return tun_error(dev, "TUNSETIFF", e);
	}
	return fd;
}

/* ---- data path ---- */

static uint16_t tap_rx_burst(void *rxq, struct unic_buf **bufs, uint16_t n)
{
	struct tap_q *q = rxq;
	uint64_t bytes = 0;
	uint16_t got = 0;

	while (got < n) {
		struct unic_buf *b = unic_buf_alloc(q->pool);
		struct iovec iov[2];
		ssize_t r;
		if (!b)
			break; /* the kernel keeps the frames (and drops, counted in hw_rx_missed, when full) */
		iov[0].iov_base = unic_buf_data(b);
		iov[0].iov_len = (size_t)(b->room_size - b->data_off);
		iov[1].iov_base = q->spill;
		iov[1].iov_len = SPILL_SIZE;
		r = readv(q->fd, iov, 2);
		if (r <= 0 || (size_t)r > iov[0].iov_len) {
			unic_buf_free(b);
			if (r <= 0 && (r == 0 || errno == EAGAIN || errno == EINTR))
				break;
			if (r < 0) {
				UNIC_STAT_INC(q->rx_stats.errors);
				break;
			}
			UNIC_STAT_INC(q->rx_stats.dropped); /* longer than our buffers */
			continue;
		}
		b->len = (uint16_t)r;
		b->rx_queue = q->id;
		b->rss_hash = 0;
		bytes += (uint64_t)r;
		bufs[got++] = b;
	}
	UNIC_STAT_ADD(q->rx_stats.packets, got);
	UNIC_STAT_ADD(q->rx_stats.bytes, bytes);
	return got;
}

static uint16_t tap_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct tap_q *q = txq;
	uint64_t bytes = 0;
	uint16_t i, sent = 0;

	for (i = 0; i < n; i++) {
		ssize_t r = write(q->fd, unic_buf_data(bufs[i]), bufs[i]->len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break; /* the kernel's queue is full: the caller keeps the rest */
		if (r == (ssize_t)bufs[i]->len) {
			bytes += (uint64_t)r;
			sent++;
		} else {
			UNIC_STAT_INC(q->tx_stats.errors); /* refused (EIO while the interface is down, EINVAL): dropped */
		}
	}
	unic_buf_free_bulk(bufs, i);
	UNIC_STAT_ADD(q->tx_stats.packets, sent);
	UNIC_STAT_ADD(q->tx_stats.bytes, bytes);
	return i;
}

/* ---- control ---- */

/* A counter of the tap from /sys/class/net/NAME/statistics (0 when unreadable). */
static uint64_t tap_counter(const char *ifname, const char *name)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", ifname, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static void tap_close(struct unic_dev *dev)
{
	struct tap *t = dev->priv;
	int i;

	if (!t)
		return;
	for (i = 0; i < UNIC_MAX_QUEUES; i++) {
		if (t->q[i].fd >= 0)
			close(t->q[i].fd); /* the last one removes the interface */
		free(t->q[i].spill);
	}
	free(t);
	dev->priv = NULL;
}

static int tap_start(struct unic_dev *dev)
{
	struct tap *t = dev->priv;
	uint16_t i;

	for (i = 0; i < t->nq; i++) {
		t->q[i].id = i;
		t->q[i].pool = dev->pool;
		t->q[i].spill = malloc(SPILL_SIZE);
		if (!t->q[i].spill)
			return unic_dev_error(dev, ENOMEM, "out of memory");
		dev->rxq[i] = dev->txq[i] = &t->q[i]; /* one fd: rx_burst reads it, tx_burst writes it */
		dev->rxq_stats[i] = &t->q[i].rx_stats;
		dev->txq_stats[i] = &t->q[i].tx_stats;
	}
	dev->num_rxq = dev->num_txq = t->nq;
	dev->rx_ring_size = dev->cfg.rx_ring_size;
	dev->tx_ring_size = dev->cfg.tx_ring_size;
	snprintf(dev->features, sizeof dev->features, "kernel TAP %s, %u queue%s", dev->spec.ifname, t->nq,
		 t->nq > 1 ? "s (IFF_MULTI_QUEUE)" : "");
	return 0;
}

static int tap_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct tap *t = dev->priv;

	/* frames the kernel could not hand us (our queue was full) are its tx_dropped */
	st->hw_rx_missed = tap_counter(dev->spec.ifname, "tx_dropped") - t->kernel_drops_base;
	return 0;
}

static int tap_link(struct unic_dev *dev, struct unic_link *link)
{
	return unic_netif_link(dev, link);
}

/* unic already gets every frame the kernel sends into the tap: there is no filter to open. */
static int tap_set_promisc(struct unic_dev *dev, bool on)
{
	return 0;
}

/* The queue's tap fd: readable while a frame waits. */
static int tap_rx_fd(struct unic_dev *dev, void *rxq)
{
	(void)dev;
	return ((struct tap_q *)rxq)->fd;
}

const struct unic_driver unic_driver_tap = {
	.name = "tap",
	.start = tap_start,
	.close = tap_close,
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.stats = tap_stats,
	.link = tap_link,
	.set_promisc = tap_set_promisc,
	.rx_intr_fd = tap_rx_fd,
	.rx_intr_enable = unic_netif_intr_armed,
	.rx_intr_disable = unic_netif_intr_off,
};

int unic_tap_probe(struct unic_dev *dev)
{
	struct unic_config *c = &dev->cfg;
	struct tap *t;
	uint16_t i;
	int fd;

	if (c->rx_queues != c->tx_queues)
		return unic_dev_error(dev, EINVAL, WHAT ": give as many rx as tx queues (%u and %u asked; queues=N sets "
				      "both): each queue is one fd of the tap, which the kernel sends into too",
				      c->rx_queues, c->tx_queues);
	if (if_nametoindex(dev->spec.ifname))
		return unic_dev_error(dev, EEXIST, WHAT ": interface %s already exists; tap: creates its own, so pick "
				      "another name or remove it ('ip link del %s')", dev->spec.ifname, dev->spec.ifname);
	t = calloc(1, sizeof *t);
	if (!t)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	for (i = 0; i < UNIC_MAX_QUEUES; i++)
		t->q[i].fd = -1;
	dev->priv = t;
	dev->drv = &unic_driver_tap;
	dev->dma_mode = UNIC_DMA_CPU; /* every frame is copied: any pool, no hugepages, no mapping */
	t->nq = c->rx_queues;
	for (i = 0; i < t->nq; i++) {
		if ((fd = tap_attach(dev, t->nq > 1)) < 0)
			return fd;
		t->q[i].fd = fd;
	}
	t->kernel_drops_base = tap_counter(dev->spec.ifname, "tx_dropped");
	unic_random_mac(dev->mac); /* the far end of the kernel's interface: not the tap's own MAC */
	return 0;
}
