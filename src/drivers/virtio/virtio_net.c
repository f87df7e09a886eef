/*
 * virtio_net.c - the virtio network device (spec 5.1) as a unic driver.
 *
 * probe: find a transport (modern PCI capabilities, else legacy I/O BAR 0),
 *        reset, read the MAC from device config.
 * start: the init sequence of spec 3.1.1 - reset, ACKNOWLEDGE, DRIVER, feature
 *        negotiation, FEATURES_OK, queues, DRIVER_OK - then fill the receive
 *        queue and apply the promiscuous setting through the control queue.
 * Data path: one descriptor per buffer; the virtio header sits in the buffer's
 * headroom right in front of the frame, so the frame stays at UNIC_HEADROOM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "virtio.h"

/* PCI ids, spec 4.1.2: transitional (legacy) network device, and 0x1040 + device type 1 */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_NET_LEGACY 0x1000
#define VIRTIO_PCI_DEVICE_NET_MODERN 0x1041

/* struct virtio_net_hdr, spec 5.1.6: 10 bytes, 12 with num_buffers (VERSION_1 or MRG_RXBUF) */
#define VIRTIO_NET_HDR_LEN_LEGACY 10
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_NUM_BUFFERS 10

/* Queue numbers without VIRTIO_NET_F_MQ, spec 5.1.2 */
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_CTRLQ 2

/* Control queue, spec 5.1.6.5: class, command, data, then an ack the device writes */
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_OK 0
#define CTRL_ACK_OFF 32          /* the ack byte's place in our control buffer */
#define CTRL_BUF_SIZE 64
#define CTRL_TIMEOUT_MS 1000
#define CTRL_QUEUE_SIZE 64
#define CTRL_POLL_US 100          /* control path only: the data path never sleeps */

/* Smallest receive buffer that holds a 1514-byte frame and its header without MRG_RXBUF (5.1.6.3.1) */
#define ETH_FRAME_MAX 1514
#define BURST 64                 /* completions taken per ring call */
#define RING_MEM_ALIGN 4096u     /* every ring starts on a page: legacy PFNs need it */

static const uint64_t wanted_features =
	VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
	VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_F_ANY_LAYOUT) |
	VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
	VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) | VIRTIO_BIT(VIRTIO_F_RING_PACKED);

static const struct { int bit; const char *name; } feature_names[] = {
	{ VIRTIO_F_VERSION_1, "VERSION_1" }, { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_EVENT_IDX, "EVENT_IDX" }, { VIRTIO_NET_F_MAC, "MAC" }, { VIRTIO_NET_F_STATUS, "STATUS" },
	{ VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ" }, { VIRTIO_NET_F_CTRL_RX, "CTRL_RX" },
	{ VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF" },
};

struct vnet;

struct vnet_queue {
	struct virtq vq;
	struct vnet *vn;
	const atomic_bool *gone; /* raised by the transport when the device went away */
	struct unic_qcounters stats;
	uint16_t hdr_len;
	uint16_t rx_skip;        /* buffers still to drop of a frame spread over several */
	bool mrg_rxbuf;
};

struct vnet {
	struct unic_dev *dev;
	const struct virtio_transport *t;
	void *tctx;
	uint64_t offered, features;
	struct unic_dma ring_mem;
	struct vnet_queue rx, tx;
	struct virtq ctrl;
	struct unic_qcounters ctrl_stats; /* bad values in the control queue (under ctrl_lock) */
	pthread_mutex_t ctrl_lock;          /* one control command at a time, from any thread */
	bool has_ctrl, ctrl_busy, queues_ready;
	volatile uint8_t *ctrl_buf;
	uint64_t ctrl_iova;
};

static bool has(const struct vnet *vn, int bit) { return vn->features & VIRTIO_BIT(bit); }

/* A transport without a gone flag (PCI) points here: a device that never goes away. */
static const atomic_bool never_gone = false;

/*
 * The device went away (vhost-user backend hung up): stop the queue. The data path
 * writes nothing shared: unic_last_error() and the control calls compose the
 * message from the transport's gone state (vnet_check).
 */
static uint16_t queue_gone(struct vnet_queue *q)
{
	q->vq.broken = true;
	return 0;
}

/* ---- data path ---- */

static void rx_refill(struct vnet_queue *q)
{
	struct unic_mempool *pool = q->vn->dev->pool;
	struct unic_buf *bufs[BURST];
	uint16_t want, i;

	while ((want = virtq_room(&q->vq, BURST)) > 0) {
		if (unic_buf_alloc_bulk(pool, bufs, want) != want) { /* all or none: then what is left */
			uint32_t avail = unic_mempool_avail(pool);
			if (want > avail)
				want = (uint16_t)avail;
			if (want == 0 || unic_buf_alloc_bulk(pool, bufs, want) != want)
				break;
		}
		/* the header goes in the headroom so the frame lands at UNIC_HEADROOM */
		for (i = 0; i < want; i++)
			virtq_put(&q->vq, bufs[i]->room_iova + UNIC_HEADROOM - q->hdr_len,
				  (uint32_t)(bufs[i]->room_size - UNIC_HEADROOM + q->hdr_len), true, bufs[i]);
	}
	virtq_kick(&q->vq);
}

/* What one received buffer holds. */
enum rx_verdict {
	RX_FRAME,   /* a whole frame to hand out */
	RX_COUNTED, /* no frame, and already counted (a dropped multi-buffer frame, an empty frame) */
	RX_LIE,     /* the device wrote a bad header: counted in bad_device, queue broken */
};

static enum rx_verdict rx_lie(struct vnet_queue *q)
{
	UNIC_STAT_INC(q->stats.bad_device);
	q->vq.broken = true;
	return RX_LIE;
}

/* Checks one received buffer: the header is device-written, read once. */
static enum rx_verdict rx_frame(struct vnet_queue *q, struct unic_buf *b, uint32_t len)
{
	if (q->rx_skip) { /* the tail of a frame we already dropped (and counted) */
		q->rx_skip--;
		return RX_COUNTED;
	}
	if (len < q->hdr_len) /* the device must write the header (5.1.6.4) */
		return rx_lie(q);
	if (q->mrg_rxbuf) {
		uint16_t nb;
		memcpy(&nb, b->room + UNIC_HEADROOM - q->hdr_len + VIRTIO_NET_HDR_NUM_BUFFERS, sizeof nb);
		if (nb == 0 || nb > q->vq.size)
			return rx_lie(q);
		if (nb > 1) { /* unic_buf has no chaining: drop the frame, and the buffers it continues in */
			q->rx_skip = (uint16_t)(nb - 1);
			UNIC_STAT_INC(q->stats.dropped);
			return RX_COUNTED;
		}
	}
	if (len == q->hdr_len) {
		UNIC_STAT_INC(q->stats.errors);
		return RX_COUNTED;
	}
	/* data_off (UNIC_HEADROOM) and rss_hash (0) are as rx_refill's allocation left them */
	b->len = (uint16_t)(len - q->hdr_len);
	b->rx_queue = 0;
	return RX_FRAME;
}

/*
 * Every buffer the ring gives back is delivered or counted. virtq_get_batch returns
 * only entries it checked, even in the pass that met a bad one (it stops there and
 * breaks the queue): those frames are good and are delivered. Once a header lies,
 * the frames after it in the same pass come from a device we no longer trust: they
 * are counted as dropped.
 */
static uint16_t vnet_rx_burst(void *rxq, struct unic_buf **out, uint16_t n)
{
	struct vnet_queue *q = rxq;
	uint32_t len[BURST];
	uint64_t bytes = 0;
	uint16_t k = 0;
	bool lied = false;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed)))
		return queue_gone(q);
	while (k < n && !q->vq.broken) {
		uint16_t want = (uint16_t)(n - k) < BURST ? (uint16_t)(n - k) : BURST;
		/* completions land in out[] directly; the frames that pass are packed down in place */
		uint16_t got = virtq_get_batch(&q->vq, (void **)(out + k), len, want), i, kept = k;
		for (i = 0; i < got; i++) {
			struct unic_buf *b = out[k + i];
			enum rx_verdict v;
			if (unic_unlikely(lied)) {
				UNIC_STAT_INC(q->stats.dropped);
				unic_buf_free(b);
				continue;
			}
			v = rx_frame(q, b, len[i]);
			if (unic_likely(v == RX_FRAME)) {
				bytes += b->len;
				out[kept++] = b;
				continue;
			}
			lied = v == RX_LIE;
			unic_buf_free(b);
		}
		k = kept;
		if (got < want)
			break;
	}
	UNIC_STAT_ADD(q->stats.packets, k);
	UNIC_STAT_ADD(q->stats.bytes, bytes);
	if (!q->vq.broken)
		rx_refill(q);
	return k;
}

static void tx_reclaim(struct vnet_queue *q)
{
	void *tok[BURST];
	uint32_t len[BURST];
	uint16_t got;

	while ((got = virtq_get_batch(&q->vq, tok, len, BURST)) > 0)
		unic_buf_free_bulk((struct unic_buf **)tok, got);
}

static bool tx_buf_ok(const struct vnet_queue *q, const struct unic_buf *b)
{
	return b->len > 0 && b->data_off >= q->hdr_len && (uint32_t)b->data_off + b->len <= b->room_size;
}

static uint16_t vnet_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct vnet_queue *q = txq;
	uint16_t taken, room, sent = 0;
	uint64_t bytes = 0;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed)))
		return queue_gone(q);
	/* Reclaim in batches: only when fewer than half the descriptors (or than asked for) are free. */
	if (q->vq.num_free < q->vq.size / 2 || q->vq.num_free < n)
		tx_reclaim(q);
	room = virtq_room(&q->vq, n);
	for (taken = 0; taken < room; taken++) {
		struct unic_buf *b = bufs[taken];
		uint8_t *hdr;
		if (unic_unlikely(!tx_buf_ok(q, b))) {
			UNIC_STAT_INC(q->stats.dropped);
			unic_buf_free(b);
			continue;
		}
		/* spec 5.1.6.2: a zeroed header: no checksum offload, no GSO (constant sizes: plain stores) */
		hdr = (uint8_t *)unic_buf_data(b) - q->hdr_len;
		if (q->hdr_len == VIRTIO_NET_HDR_LEN)
			memset(hdr, 0, VIRTIO_NET_HDR_LEN);
		else
			memset(hdr, 0, VIRTIO_NET_HDR_LEN_LEGACY);
		virtq_put(&q->vq, unic_buf_dma(b) - q->hdr_len, (uint32_t)b->len + q->hdr_len, false, b);
		bytes += b->len;
		sent++;
	}
	UNIC_STAT_ADD(q->stats.packets, sent);
	UNIC_STAT_ADD(q->stats.bytes, bytes);
	virtq_kick(&q->vq);
	return taken;
}

/* ---- control queue ---- */

/*
 * Spec 5.1.6.5: one command at a time, in ctrl_buf; the device answers by handing the
 * buffer back with an ack byte. What if it does not answer? Linux's virtnet_send_command
 * spins until the buffer comes back or the queue is broken, and DPDK's virtio_send_command
 * polls (usleep(100)) without a bound; neither resets the device, and neither reuses a
 * buffer the device still owns. unic keeps that rule but never hangs the caller: a command
 * waits at most CTRL_TIMEOUT_MS; after that the device still owns ctrl_buf (ctrl_busy),
 * and the next command first takes the late answer back (ctrl_reclaim) and then runs.
 * While the device still holds it, commands fail with -EBUSY and a line that says so; once
 * the device wrote a bad used entry the queue is broken and every later command says that.
 * ctrl_lock: control calls may come from any thread.
 */
static bool ctrl_reclaim(struct vnet *vn)
{
	void *tok;
	uint32_t len;

	if (!vn->ctrl_busy)
		return true;
	if (virtq_get_batch(&vn->ctrl, &tok, &len, 1) != 1)
		return false;
	vn->ctrl_busy = false;
	UNIC_WARN("virtio-net %s: the device answered a timed-out control command late (ack %u); the control queue "
		  "works again", virtio_dev_name(vn->dev), vn->ctrl_buf[CTRL_ACK_OFF]);
	return true;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Waits for the device to hand the command back: 0, or -ETIMEDOUT (it still owns it), or -EIO (broken). */
static int ctrl_wait(struct vnet *vn)
{
	struct timespec t0;
	void *tok;
	uint32_t got_len;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (virtq_get_batch(&vn->ctrl, &tok, &got_len, 1) == 1)
			return 0;
		if (vn->ctrl.broken)
			return -EIO;
		if (ms_since(&t0) > CTRL_TIMEOUT_MS) {
			vn->ctrl_busy = true;
			return -ETIMEDOUT;
		}
		unic_usleep(CTRL_POLL_US);
	}
}

static int ctrl_broken(struct vnet *vn, const char *what)
{
	return unic_dev_error(vn->dev, EIO, "virtio-net %s: the control queue is broken (the device wrote a bad value "
			      "into it): %s was not applied; close and reopen the device", virtio_dev_name(vn->dev), what);
}

/* Sends one command (what names it in messages). 0, or -errno and one line in dev->err. */
static int ctrl_cmd_locked(struct vnet *vn, const char *what, uint8_t class, uint8_t cmd, const void *data, uint8_t len)
{
	struct virtq_sg sg[2] = {
		{ .addr = vn->ctrl_iova, .len = 2u + len, .device_writes = false },
		{ .addr = vn->ctrl_iova + CTRL_ACK_OFF, .len = 1, .device_writes = true },
	};
	struct unic_dev *dev = vn->dev;
	int r;

	if (!vn->has_ctrl)
		return unic_dev_error(dev, ENOTSUP, "virtio-net %s has no control queue (VIRTIO_NET_F_CTRL_VQ, bit 17): "
				      "%s cannot be sent", virtio_dev_name(dev), what);
	if (vn->t->check && (r = vn->t->check(vn->tctx)))
		return r;
	if (vn->ctrl.broken)
		return ctrl_broken(vn, what);
	if (!ctrl_reclaim(vn))
		return unic_dev_error(dev, EBUSY, "virtio-net %s: the device has still not answered an earlier control "
				      "command (it timed out after %d ms): %s not sent; try again later",
				      virtio_dev_name(dev), CTRL_TIMEOUT_MS, what);
	if (2u + len > CTRL_ACK_OFF)
		return unic_dev_error(dev, EINVAL, "virtio-net control command %s: %u data bytes do not fit", what, len);
	vn->ctrl_buf[0] = class;
	vn->ctrl_buf[1] = cmd;
	memcpy((uint8_t *)vn->ctrl_buf + 2, data, len);
	vn->ctrl_buf[CTRL_ACK_OFF] = (uint8_t)~VIRTIO_NET_OK;
	if (virtq_add(&vn->ctrl, sg, 2, vn))
		return ctrl_broken(vn, what);
	virtq_kick(&vn->ctrl);
	r = ctrl_wait(vn);
	if (r == -EIO)
		return ctrl_broken(vn, what);
	if (r == -ETIMEDOUT)
		return unic_dev_error(dev, ETIMEDOUT, "virtio-net %s: no answer to control command %s within %d ms; the "
				      "next control command first waits for this answer", virtio_dev_name(dev), what,
				      CTRL_TIMEOUT_MS);
	if (vn->ctrl_buf[CTRL_ACK_OFF] != VIRTIO_NET_OK)
		return unic_dev_error(dev, EIO, "virtio-net %s refused control command %s (ack %u)", virtio_dev_name(dev),
				      what, vn->ctrl_buf[CTRL_ACK_OFF]);
	return 0;
}

static int ctrl_cmd(struct vnet *vn, const char *what, uint8_t class, uint8_t cmd, const void *data, uint8_t len)
{
	int r;

	pthread_mutex_lock(&vn->ctrl_lock);
	r = ctrl_cmd_locked(vn, what, class, cmd, data, len);
	pthread_mutex_unlock(&vn->ctrl_lock);
	return r;
}

static int vnet_set_promisc(struct unic_dev *dev, bool on)
{
	struct vnet *vn = dev->priv;
	uint8_t v = on;

	if (!vn || !vn->queues_ready)
		return unic_dev_error(dev, EINVAL, "start the device before changing promiscuous mode");
	if (!has(vn, VIRTIO_NET_F_CTRL_RX))
		return unic_dev_error(dev, ENOTSUP, "this virtio-net device offers no VIRTIO_NET_F_CTRL_RX (bit 18): "
				      "it cannot switch promiscuous mode");
	return ctrl_cmd(vn, on ? "PROMISC on" : "PROMISC off", VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &v, 1);
}

/* ---- link and identity ---- */

/* 0 while the device is reachable; else its transport's first cause in dev->err. Control path. */
static int vnet_check(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;

	return vn && vn->t->check ? vn->t->check(vn->tctx) : 0;
}

/* The counters are kept in software (st has them already); only a device that went away fails. */
static int vnet_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct vnet *vn = dev->priv;

	if (vn) {
		pthread_mutex_lock(&vn->ctrl_lock); /* the control queue's counter is written under it */
		st->bad_device += vn->ctrl_stats.bad_device;
		pthread_mutex_unlock(&vn->ctrl_lock);
	}
	return vnet_check(dev);
}

static int vnet_link(struct unic_dev *dev, struct unic_link *link)
{
	struct vnet *vn = dev->priv;
	uint16_t status;
	int r;

	if (vn && vn->t->check && (r = vn->t->check(vn->tctx)))
		return r;

	link->full_duplex = true;
	link->speed_mbps = 0; /* virtio reports a speed only with VIRTIO_NET_F_SPEED_DUPLEX */
	if (!vn || !(vn->offered & VIRTIO_BIT(VIRTIO_NET_F_STATUS))) {
		link->up = true; /* 5.1.4.2: without STATUS the link is assumed up */
		return 0;
	}
	if (vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_STATUS, &status, sizeof status))
		return unic_dev_error(dev, EIO, "cannot read the virtio-net status field");
	link->up = status & VIRTIO_NET_S_LINK_UP;
	return 0;
}

static void read_mac(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;

	if ((vn->offered & VIRTIO_BIT(VIRTIO_NET_F_MAC)) &&
	    !vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_MAC, dev->mac, sizeof dev->mac))
		return;
	/* 5.1.5: without VIRTIO_NET_F_MAC the driver makes up an address: random, locally administered */
	unic_random_mac(dev->mac);
	UNIC_WARN("virtio-net %s: the device gives no MAC address; using a random one", virtio_dev_name(dev));
}

int virtio_net_attach(struct unic_dev *dev, const struct virtio_transport *t, void *ctx)
{
	struct vnet *vn = calloc(1, sizeof *vn);

	if (!vn) {
		t->close(ctx);
		return unic_dev_error(dev, ENOMEM, "out of memory");
	}
	vn->dev = dev;
	vn->t = t;
	vn->tctx = ctx;
	vn->ring_mem.fd = -1;
	pthread_mutex_init(&vn->ctrl_lock, NULL);
	dev->priv = vn;
	if (t->reset(ctx))
		return unic_dev_error(dev, EIO, "virtio device %s did not reset (status stays non-zero)", virtio_dev_name(dev));
	t->set_status(ctx, VIRTIO_STATUS_ACKNOWLEDGE);
	t->set_status(ctx, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vn->offered = t->get_features(ctx);
	read_mac(vn);
	/*
	 * Without ACCESS_PLATFORM the device bypasses the IOMMU (spec 6.1) and takes physical
	 * addresses - so it is with legacy devices in QEMU behind a vIOMMU. IOVAs would be wrong.
	 */
	if (dev->dma_mode == UNIC_DMA_VFIO && !(vn->offered & VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM))) {
		if (geteuid() != 0)
			return unic_dev_error(dev, EPERM, "virtio-net %s offers no VIRTIO_F_ACCESS_PLATFORM (bit 33): its DMA "
					      "bypasses the IOMMU and needs physical addresses, which only root can get; "
					      "give the device iommu_platform=on, or run as root", virtio_dev_name(dev));
		UNIC_WARN("virtio-net %s offers no VIRTIO_F_ACCESS_PLATFORM (bit 33): its DMA bypasses the IOMMU, so "
			  "unic gives it physical addresses (root only; DMA not confined)", virtio_dev_name(dev));
		dev->dma_mode = UNIC_DMA_PHYS;
	}
	snprintf(dev->features, sizeof dev->features, "%s", t->name);
	return 0;
}

static bool virtio_net_match(uint16_t vendor, uint16_t device)
{
	return vendor == VIRTIO_PCI_VENDOR &&
	       (device == VIRTIO_PCI_DEVICE_NET_LEGACY || device == VIRTIO_PCI_DEVICE_NET_MODERN);
}

/* A transitional device has both transports; like Linux, prefer the modern one. */
static int virtio_net_probe(struct unic_dev *dev)
{
	const struct virtio_transport *t;
	void *ctx;
	int r = virtio_pci_modern_open(dev, &t, &ctx);

	/* -ENXIO: modern capabilities we cannot use (dev->err says why); a transitional device has legacy too */
	if ((r == -ENODEV || r == -ENXIO) && dev->device_id == VIRTIO_PCI_DEVICE_NET_LEGACY) {
		char why[sizeof dev->err];
		int lr;

		memcpy(why, dev->err, sizeof why);
		lr = virtio_pci_legacy_open(dev, &t, &ctx);
		if (lr == 0 && r == -ENXIO)
			UNIC_WARN("%s; using the legacy transport", why);
		if (lr == 0 || r == -ENODEV)
			r = lr;
		else
			memcpy(dev->err, why, sizeof why); /* legacy failed too: the modern reason is the first cause */
	}
	if (r == -ENODEV)
		return unic_dev_error(dev, ENODEV, "%s: no usable virtio PCI transport (no virtio capabilities in a "
				      "mapped memory BAR, and no legacy I/O BAR 0)", virtio_dev_name(dev));
	if (r)
		return r;
	return virtio_net_attach(dev, t, ctx);
}

/* ---- start: negotiation and queues ---- */

static int negotiate(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	bool modern = !vn->t->fixed_queue_size;
	size_t i, len;

	vn->features = vn->offered & wanted_features;
	if (!(vn->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)))
		vn->features &= ~VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX); /* 5.1.3.1: CTRL_RX needs CTRL_VQ */
	if (dev->cfg.no_packed_ring) /* 2.8: without RING_PACKED the split virtqueue (2.7) is used */
		vn->features &= ~VIRTIO_BIT(VIRTIO_F_RING_PACKED);
	if (modern && !has(vn, VIRTIO_F_VERSION_1))
		return unic_dev_error(dev, ENOTSUP, "virtio device %s does not offer VIRTIO_F_VERSION_1 (bit 32), which "
				      "the %s%s transport needs", virtio_dev_name(dev), vn->t->name,
				      dev->spec.pci_addr[0] ? " PCI" : "");
	if (!has(vn, VIRTIO_F_VERSION_1) && !has(vn, VIRTIO_F_ANY_LAYOUT))
		UNIC_WARN("legacy virtio device %s offers no VIRTIO_F_ANY_LAYOUT (bit 27): it may want the header in "
			  "a descriptor of its own", virtio_dev_name(dev));
	vn->t->set_features(vn->tctx, vn->features);
	if (has(vn, VIRTIO_F_VERSION_1)) {
		/* 3.1.1 steps 5-6: FEATURES_OK, then read it back to see the device accepts them */
		vn->t->set_status(vn->tctx, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
		if (!(vn->t->get_status(vn->tctx) & VIRTIO_STATUS_FEATURES_OK))
			return unic_dev_error(dev, EIO, "virtio device %s refused features 0x%llx (FEATURES_OK stays clear)",
					      virtio_dev_name(dev), (unsigned long long)vn->features);
	}
	len = strlen(dev->features);
	len += (size_t)snprintf(dev->features + len, sizeof dev->features - len, " %s",
				has(vn, VIRTIO_F_RING_PACKED) ? "packed" : "split");
	for (i = 0; i < UNIC_ARRAY_SIZE(feature_names) && len < sizeof dev->features; i++)
		if (has(vn, feature_names[i].bit))
			len += (size_t)snprintf(dev->features + len, sizeof dev->features - len, " %s", feature_names[i].name);
	return 0;
}

static uint16_t pow2_floor(uint32_t v)
{
	uint16_t p = 1;

	while ((uint32_t)p * 2 <= v && p < VIRTQ_MAX_SIZE)
		p = (uint16_t)(p * 2);
	return p;
}

/* Ring size for a queue: the device's own for legacy, else what the user asked for, capped. */
static int queue_size(struct vnet *vn, uint16_t index, uint16_t want, uint16_t *size)
{
	uint16_t max = vn->t->queue_max(vn->tctx, index);

	if (max == 0 || max > VIRTQ_MAX_SIZE || (max & (max - 1)))
		return unic_dev_error(vn->dev, EIO, "virtio device %s: queue %u has size %u (must be a power of 2, "
				      "at most 32768)", virtio_dev_name(vn->dev), index, max);
	*size = vn->t->fixed_queue_size ? max : pow2_floor(want < max ? want : max);
	return 0;
}

static size_t page_align(size_t v) { return (v + RING_MEM_ALIGN - 1) / RING_MEM_ALIGN * RING_MEM_ALIGN; }

static int setup_queues(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	uint16_t sizes[3], wants[3] = { dev->cfg.rx_ring_size, dev->cfg.tx_ring_size, CTRL_QUEUE_SIZE };
	struct virtq *vqs[3] = { &vn->rx.vq, &vn->tx.vq, &vn->ctrl };
	size_t off[3], total = 0;
	bool packed = has(vn, VIRTIO_F_RING_PACKED), event_idx = has(vn, VIRTIO_F_RING_EVENT_IDX);
	uint16_t nq = has(vn, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2, i;
	int r;

	for (i = 0; i < nq; i++) {
		if ((r = queue_size(vn, i, wants[i], &sizes[i])))
			return r;
		off[i] = total;
		total += page_align(virtq_mem_size(sizes[i], packed, vn->t->ring_align));
	}
	if ((r = unic_dma_alloc(dev, total + CTRL_BUF_SIZE, &vn->ring_mem)))
		return r;
	if (vn->t->share_memory && (r = vn->t->share_memory(vn->tctx, &vn->ring_mem)))
		return r;
	vn->ctrl_buf = (uint8_t *)vn->ring_mem.virt + total;
	vn->ctrl_iova = vn->ring_mem.iova + total;
	for (i = 0; i < nq; i++) {
		r = virtq_init(vqs[i], i, sizes[i], packed, event_idx, (uint8_t *)vn->ring_mem.virt + off[i],
			       vn->ring_mem.iova + off[i], vn->t->ring_align);
		if (r)
			return unic_dev_error(dev, -r, "cannot set up virtio queue %u: %s", i, strerror(-r));
		if ((r = vn->t->queue_enable(vn->tctx, vqs[i])))
			return r;
	}
	vn->has_ctrl = nq == 3;
	vn->rx.vq.stats = &vn->rx.stats;
	vn->tx.vq.stats = &vn->tx.stats;
	vn->ctrl.stats = &vn->ctrl_stats;
	return 0;
}

static void init_queue(struct vnet *vn, struct vnet_queue *q)
{
	q->vn = vn;
	q->gone = vn->t->gone_flag ? vn->t->gone_flag(vn->tctx) : &never_gone;
	q->hdr_len = has(vn, VIRTIO_F_VERSION_1) || has(vn, VIRTIO_NET_F_MRG_RXBUF) ? VIRTIO_NET_HDR_LEN
										  : VIRTIO_NET_HDR_LEN_LEGACY;
	q->mrg_rxbuf = has(vn, VIRTIO_NET_F_MRG_RXBUF);
}

static int start_device(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;
	int r;

	if (dev->cfg.rx_queues > 1 || dev->cfg.tx_queues > 1)
		UNIC_WARN("virtio-net %s: one queue pair only (VIRTIO_NET_F_MQ is not supported yet)", virtio_dev_name(dev));
	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK */
	if (vn->t->reset(vn->tctx))
		return unic_dev_error(dev, EIO, "virtio device %s did not reset", virtio_dev_name(dev));
	vn->t->set_status(vn->tctx, VIRTIO_STATUS_ACKNOWLEDGE);
	vn->t->set_status(vn->tctx, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if ((r = negotiate(vn)))
		return r;
	init_queue(vn, &vn->rx);
	init_queue(vn, &vn->tx);
	if (!vn->rx.mrg_rxbuf && dev->pool->room_size - UNIC_HEADROOM < ETH_FRAME_MAX)
		UNIC_WARN("virtio-net %s: %u-byte buffers without MRG_RXBUF: full-size frames will not fit",
			  virtio_dev_name(dev), dev->pool->room_size - UNIC_HEADROOM);
	if ((r = setup_queues(vn)))
		return r;
	vn->t->set_status(vn->tctx, (uint8_t)(vn->t->get_status(vn->tctx) | VIRTIO_STATUS_DRIVER_OK));
	if (vn->t->get_status(vn->tctx) & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_NEEDS_RESET))
		return unic_dev_error(dev, EIO, "virtio device %s failed after DRIVER_OK", virtio_dev_name(dev));
	rx_refill(&vn->rx);
	dev->num_rxq = dev->num_txq = 1;
	dev->rxq[0] = &vn->rx;
	dev->txq[0] = &vn->tx;
	dev->rxq_stats[0] = &vn->rx.stats;
	dev->txq_stats[0] = &vn->tx.stats;
	dev->rx_ring_size = vn->rx.vq.size;
	dev->tx_ring_size = vn->tx.vq.size;
	vn->queues_ready = true;
	if (has(vn, VIRTIO_NET_F_CTRL_RX) && (r = vnet_set_promisc(dev, dev->cfg.promisc)))
		return r;
	if (dev->cfg.promisc && !has(vn, VIRTIO_NET_F_CTRL_RX))
		UNIC_WARN("virtio-net %s cannot switch promiscuous mode (no CTRL_RX); leaving the device's default",
			  virtio_dev_name(dev));
	return 0;
}

/*
 * A transport that failed underneath (a vhost-user backend that hung up during
 * negotiation) makes later steps fail for reasons of their own ("refused
 * features"): the transport's first cause is the message.
 */
static int virtio_net_start(struct unic_dev *dev)
{
	int r = start_device(dev), first;

	if (r && (first = vnet_check(dev)))
		return first;
	return r;
}

/* ---- close ---- */

static void free_queue_bufs(struct virtq *vq, bool bufs)
{
	void *tok[BURST];
	uint16_t got;

	if (!vq->token)
		return;
	while ((got = virtq_drain(vq, tok, BURST)) > 0)
		if (bufs)
			unic_buf_free_bulk((struct unic_buf **)tok, got);
	virtq_fini(vq);
}

static void virtio_net_close(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;

	if (!vn)
		return;
	vn->t->reset(vn->tctx); /* the device stops using our memory before we free it */
	free_queue_bufs(&vn->rx.vq, true);
	free_queue_bufs(&vn->tx.vq, true);
	free_queue_bufs(&vn->ctrl, false);
	unic_dma_free(&vn->ring_mem);
	vn->t->close(vn->tctx);
	pthread_mutex_destroy(&vn->ctrl_lock);
	free(vn);
	dev->priv = NULL;
	dev->num_rxq = dev->num_txq = 0;
	dev->rxq[0] = dev->txq[0] = NULL;
	dev->rxq_stats[0] = dev->txq_stats[0] = NULL;
}

const struct unic_driver unic_driver_virtio_net = {
	.name = "virtio-net",
	.match = virtio_net_match,
	.probe = virtio_net_probe,
	.start = virtio_net_start,
	.close = virtio_net_close,
	.rx_burst = vnet_rx_burst,
	.tx_burst = vnet_tx_burst,
	.stats = vnet_stats,
	.check = vnet_check,
	.link = vnet_link,
	.set_promisc = vnet_set_promisc,
};
