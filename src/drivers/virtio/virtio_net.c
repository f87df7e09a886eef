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
 * Interrupts: queues start with used buffer notifications suppressed (polling);
 * rx_intr_enable asks for them and looks at the ring again, rx_intr_disable
 * suppresses them and consumes the wake-up; the descriptors are the transport's
 * (MSI-X eventfds, UIO INTx listeners, vhost-user call fds).
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

/* Control queue, spec 5.1.6.5: class, command, data, then an ack the device writes */
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_MQ 4                /* 5.1.6.5.5 */
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0   /* le16 virtqueue_pairs */
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1     /* 5.1.6.5.7.1: struct virtio_net_rss_config */
#define VIRTIO_NET_OK 0
#define CTRL_DATA_MAX 512        /* the largest command: an RSS config of RSS_RETA_MAX entries */
#define CTRL_ACK_OFF (2 + CTRL_DATA_MAX) /* the ack byte's place in our control buffer */
#define CTRL_BUF_SIZE (CTRL_ACK_OFF + 1)
#define CTRL_TIMEOUT_MS 1000
#define CTRL_QUEUE_SIZE 64
#define CTRL_POLL_US 100          /* control path only: the data path never sleeps */
#define RESET_WAIT_US 1000        /* virtio_status_reset: 1000 looks 1 ms apart */
#define RESET_TRIES 1000

/* Smallest receive buffer that holds a 1514-byte frame and its header without MRG_RXBUF (5.1.6.3.1) */
#define ETH_FRAME_MAX 1514
#define ETH_MTU 1500             /* Ethernet's payload: the mtu without VIRTIO_NET_F_MTU and MRG_RXBUF */
#define ETH_HDR_LEN 14           /* 5.1.4.2: "mtu plus low level ethernet header length" */
#define VLAN_TAG_LEN 4           /* a frame of mtu may carry one 802.1Q tag */
#define MTU_MIN 68               /* 5.1.4.1: the device's mtu is at least 68 */
#define MTU_MAX 9000             /* the largest cfg.mtu unic takes (the core's limit) */

/* RSS, spec 5.1.6.5.7.1 */
#define RSS_KEY_LEN 40           /* Toeplitz key; 5.1.4.1: rss_max_key_size is at least 40 */
#define RSS_RETA_MAX 128         /* our table: 5.1.4.1 guarantees at least 128 entries */
#define VIRTIO_NET_RSS_HASH_TYPE_IPv4 (1u << 0) /* 5.1.6.4.3.1 */
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv4 (1u << 1)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv4 (1u << 2)
#define VIRTIO_NET_RSS_HASH_TYPE_IPv6 (1u << 3)
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv6 (1u << 4)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv6 (1u << 5)
/* what the Intel drivers hash too: addresses, and ports for TCP and UDP */
#define RSS_HASH_TYPES                                                                                  \
	(VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | \
	 VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6)
/* struct virtio_net_rss_config: hash_types, indirection_table_mask, unclassified_queue, table */
#define RSS_CFG_TABLE_OFF 8
_Static_assert(RSS_CFG_TABLE_OFF + 2 * RSS_RETA_MAX + 2 + 1 + RSS_KEY_LEN <= CTRL_DATA_MAX,
	       "the largest RSS config must fit the control buffer");
_Static_assert(RSS_KEY_LEN == UNIC_RSS_KEY_LEN, "the default key is a whole virtio RSS key");
#define BURST 64                 /* completions taken per ring call */
#define RING_MEM_ALIGN 4096u     /* every ring starts on a page: legacy PFNs need it */

static const uint64_t wanted_features =
	VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
	VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_F_ANY_LAYOUT) |
	VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
	VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) | VIRTIO_BIT(VIRTIO_F_RING_PACKED) | VIRTIO_BIT(VIRTIO_NET_F_MQ) |
	VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_RSS) | VIRTIO_BIT(VIRTIO_F_IN_ORDER);

static const struct { int bit; const char *name; } feature_names[] = {
	{ VIRTIO_F_VERSION_1, "VERSION_1" }, { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_EVENT_IDX, "EVENT_IDX" }, { VIRTIO_NET_F_MAC, "MAC" }, { VIRTIO_NET_F_STATUS, "STATUS" },
	{ VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ" }, { VIRTIO_NET_F_CTRL_RX, "CTRL_RX" },
	{ VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF" }, { VIRTIO_NET_F_MQ, "MQ" }, { VIRTIO_NET_F_RSS, "RSS" },
	{ VIRTIO_NET_F_MTU, "MTU" }, { VIRTIO_F_IN_ORDER, "IN_ORDER" },
};

struct vnet;

struct vnet_queue {
	struct virtq vq;
	struct vnet *vn;
	const atomic_bool *gone; /* raised by the transport when the device went away */
	struct unic_qcounters stats;
	uint16_t hdr_len;
	uint16_t qid;            /* queue pair number (unic's queue number) */
	uint16_t rx_skip;        /* buffers still to drop of a frame spread over several */
	uint32_t tx_max;         /* longest frame tx may send (5.1.4.2 with F_MTU; else the buffer) */
	bool mrg_rxbuf;
	struct virtq_rxv rxv;    /* rx: the vector path (rxv.simd NONE: scalar) */
};

struct vnet {
	struct unic_dev *dev;
	const struct virtio_transport *t;
	void *tctx;
	uint64_t offered, features;
	struct unic_dma ring_mem;
	uint16_t max_pairs;      /* the device's queue pairs (max_virtqueue_pairs, or 1) */
	uint16_t pairs;          /* in use: the larger of rx_queues and tx_queues */
	uint16_t dev_mtu;        /* config mtu when F_MTU is offered and sane, else 0 */
	struct vnet_queue rxq[UNIC_MAX_QUEUES], txq[UNIC_MAX_QUEUES];
	struct virtq ctrl;
	uint32_t rss_hash_types;  /* RSS negotiated: what we ask the device to hash */
	uint16_t rss_reta_len;    /* RSS negotiated: entries of our table (a power of 2) */
	uint8_t rss_key[RSS_KEY_LEN];
	uint16_t rss_reta[RSS_RETA_MAX]; /* rx queue (pair) numbers */
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
	struct virtq_put p;
	uint16_t want, i, hdr = q->hdr_len;

	while ((want = virtq_room(&q->vq, BURST)) > 0) {
		if (unic_buf_alloc_bulk(pool, bufs, want) != want) { /* all or none: then what is left */
			uint32_t avail = unic_mempool_avail(pool);
			if (want > avail)
				want = (uint16_t)avail;
			if (want == 0 || unic_buf_alloc_bulk(pool, bufs, want) != want)
				break;
		}
		/* the header goes in the headroom so the frame lands at UNIC_HEADROOM */
		if (q->rxv.simd) {
			virtq_rxv_put(&q->vq, bufs, want, UNIC_HEADROOM - hdr);
			continue;
		}
		virtq_put_begin(&q->vq, &p);
		for (i = 0; i < want; i++)
			virtq_put(&q->vq, &p, bufs[i]->room_iova + UNIC_HEADROOM - hdr,
				  (uint32_t)(bufs[i]->room_size - UNIC_HEADROOM + hdr), true, bufs[i]);
		virtq_put_end(&q->vq, &p);
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

/*
 * Checks one received buffer: the header is device-written, read once (by the caller:
 * nb is its num_buffers, 1 without MRG_RXBUF). held: the buffers the device can still
 * hand back after this one (the rest of this pass and those it owns), the most a frame's
 * num_buffers can continue into (5.1.6.4.2).
 */
static enum rx_verdict rx_frame(struct vnet_queue *q, struct unic_buf *b, uint32_t len, uint16_t nb, uint32_t held)
{
	if (q->rx_skip) { /* the tail of a frame we already dropped (and counted) */
		q->rx_skip--;
		return RX_COUNTED;
	}
	if (len < q->hdr_len) /* the device must write the header (5.1.6.4) */
		return rx_lie(q);
	if (q->mrg_rxbuf) {
		if (nb == 0 || nb - 1u > held)
			return rx_lie(q);
		/* one buffer per frame (buffers hold mtu + 18): a longer frame is dropped, with its tail */
		if (nb > 1) {
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
	b->rx_queue = q->qid;
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
	uint16_t k = 0, hdr = q->hdr_len, qid = q->qid;
	bool lied = false, mrg = q->mrg_rxbuf;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed)))
		return queue_gone(q);
	while (k < n && !q->vq.broken) {
		uint16_t want, got, i, kept, first;
		bool odd; /* anything but one whole frame per buffer: rx_frame decides */
		if (q->rxv.simd && !q->rx_skip) { /* clean frames, a batch at a time; the rest below */
			k = (uint16_t)(k + virtq_rxv_get(&q->vq, &q->rxv, out + k, (uint16_t)(n - k), &bytes));
			if (k == n)
				break;
		}
		want = (uint16_t)(n - k) < BURST ? (uint16_t)(n - k) : BURST;
		first = virtq_used_pos(&q->vq);
		/* completions land in out[] directly; the frames that pass are packed down in place */
		got = virtq_get_batch(&q->vq, (void **)(out + k), len, want);
		kept = k;
		if (q->rxv.simd)
			virtq_rxv_check(&q->vq, &q->rxv, first, got);
		odd = q->rx_skip != 0;
		for (i = 0; i < got; i++) {
			struct unic_buf *b = out[k + i];
			enum rx_verdict v;
			uint16_t nb = 1;
			/*
			 * The common case in a few compares: a header that says one buffer (5.1.6.4:
			 * num_buffers, read once) and a frame after it. The rest, and every frame once
			 * the queue is odd (a tail to skip, a lie seen), goes through rx_frame.
			 */
			if (mrg)
				memcpy(&nb, b->room + UNIC_HEADROOM - hdr + VIRTIO_NET_HDR_NUM_BUFFERS, sizeof nb);
			if (unic_likely(nb == 1 && len[i] > hdr && !odd)) {
				b->len = (uint16_t)(len[i] - hdr);
				b->rx_queue = qid;
				bytes += len[i] - hdr;
				out[kept++] = b;
				continue;
			}
			if (unic_unlikely(lied)) {
				UNIC_STAT_INC(q->stats.dropped);
				unic_buf_free(b);
				continue;
			}
			v = rx_frame(q, b, len[i], nb, (uint32_t)(got - i - 1) + q->vq.in_flight);
			if (unic_likely(v == RX_FRAME)) {
				bytes += b->len;
				out[kept++] = b;
				continue;
			}
			lied = v == RX_LIE;
			odd = lied || q->rx_skip != 0;
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

static uint16_t tx_reclaim(struct vnet_queue *q)
{
	void *tok[BURST];
	uint32_t len[BURST];
	uint16_t got, n = 0;

	while ((got = virtq_get_batch(&q->vq, tok, len, BURST)) > 0) {
		unic_buf_free_bulk((struct unic_buf **)tok, got);
		n = (uint16_t)(n + got);
	}
	return n;
}

/* The driver op: completed tx buffers back to the pool without sending. */
static uint16_t vnet_tx_reclaim(void *txq)
{
	struct vnet_queue *q = txq;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed)))
		return queue_gone(q);
	return tx_reclaim(q);
}

/* ---- interrupts ---- */

/* The queue's wake-up descriptor from the transport; with say, one line in dev->err when it has none. */
static int rx_intr_fd(struct vnet_queue *q, bool say)
{
	const struct virtio_transport *t = q->vn->t;

	if (t->queue_intr_fd)
		return t->queue_intr_fd(q->vn->tctx, q->vq.index, say);
	if (!say)
		return -ENOTSUP;
	return unic_dev_error(q->vn->dev, ENOTSUP, "virtio-net %s: the %s transport cannot interrupt: poll the queue",
			      virtio_dev_name(q->vn->dev), t->name);
}

static int vnet_rx_intr_fd(struct unic_dev *dev, void *rxq)
{
	(void)dev;
	return rx_intr_fd(rxq, true);
}

/* Reads an eventfd's counter (non-blocking): how many signals it held, 0 for none. */
static uint64_t eventfd_take(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof n) != sizeof n)
		return 0;
	return n;
}

/* Consumes the queue's wake-up: the transport's way (INTx: acknowledge, unmask), or the eventfd's counter. */
static void rx_intr_ack(struct vnet_queue *q, int fd)
{
	if (q->vn->t->queue_intr_ack)
		q->vn->t->queue_intr_ack(q->vn->tctx, q->vq.index);
	else
		eventfd_take(fd);
}

/*
 * Arm, then look again (virtq_intr_enable): 1 when a frame landed meanwhile; then the
 * queue is disarmed again (the caller goes on polling, often without a disable call).
 * The ring is refilled first: a ring the pool left empty would wait for a frame that
 * cannot come.
 */
static int vnet_rx_intr_enable(void *rxq)
{
	struct vnet_queue *q = rxq;
	int fd, r;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed))) {
		queue_gone(q);
		return -ENODEV;
	}
	if (unic_unlikely((fd = rx_intr_fd(q, false)) < 0))
		return rx_intr_fd(q, true); /* the failing call says why */
	rx_refill(q);
	if (q->vn->t->intr_rearm) /* a shared line left masked by an earlier interrupt would never wake us */
		q->vn->t->intr_rearm(q->vn->tctx);
	r = virtq_intr_enable(&q->vq);
	if (r == 1) { /* the caller receives instead of sleeping: disarmed, or every frame would interrupt */
		virtq_intr_disable(&q->vq);
		rx_intr_ack(q, fd);
	}
	return r;
}

static int vnet_rx_intr_disable(void *rxq)
{
	struct vnet_queue *q = rxq;
	int fd = rx_intr_fd(q, false);

	if (fd < 0)
		return rx_intr_fd(q, true);
	virtq_intr_disable(&q->vq);
	rx_intr_ack(q, fd);
	return 0;
}

/* 1..tx_max bytes after room for the header, inside the room (len - 1 wraps for 0: one compare for both ends) */
static bool tx_buf_ok(const struct unic_buf *b, uint16_t hdr_len, uint32_t tx_max)
{
	uint32_t len = b->len, off = b->data_off;

	return len - 1 < tx_max && off >= hdr_len && off + len <= b->room_size;
}

static uint16_t vnet_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct vnet_queue *q = txq;
	struct virtq_put p;
	uint16_t taken, room, sent = 0, hdr_len = q->hdr_len;
	uint32_t tx_max = q->tx_max;
	uint64_t bytes = 0;

	if (unic_unlikely(atomic_load_explicit(q->gone, memory_order_relaxed)))
		return queue_gone(q);
	/* Reclaim in batches: only when fewer than half the descriptors (or than asked for) are free. */
	if (q->vq.num_free < q->vq.size / 2 || q->vq.num_free < n)
		tx_reclaim(q);
	room = virtq_room(&q->vq, n);
	virtq_put_begin(&q->vq, &p);
	for (taken = 0; taken < room; taken++) {
		struct unic_buf *b = bufs[taken];
		uint8_t *hdr;
		if (unic_unlikely(!tx_buf_ok(b, hdr_len, tx_max))) {
			UNIC_STAT_INC(q->stats.dropped);
			unic_buf_free(b);
			continue;
		}
		/* spec 5.1.6.2: a zeroed header: no checksum offload, no GSO (constant sizes: plain stores) */
		hdr = (uint8_t *)unic_buf_data(b) - hdr_len;
		if (hdr_len == VIRTIO_NET_HDR_LEN)
			memset(hdr, 0, VIRTIO_NET_HDR_LEN);
		else
			memset(hdr, 0, VIRTIO_NET_HDR_LEN_LEGACY);
		virtq_put(&q->vq, &p, unic_buf_dma(b) - hdr_len, (uint32_t)b->len + hdr_len, false, b);
		bytes += b->len;
		sent++;
	}
	virtq_put_end(&q->vq, &p);
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
static int ctrl_cmd_locked(struct vnet *vn, const char *what, uint8_t class, uint8_t cmd, const void *data, uint16_t len)
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
	if (len > CTRL_DATA_MAX)
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

static int ctrl_cmd(struct vnet *vn, const char *what, uint8_t class, uint8_t cmd, const void *data, uint16_t len)
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

/* Config changes (the link) and the device going away: the transport's descriptor. Control call. */
static int vnet_event_fd(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;

	if (!vn || !vn->t->config_intr_fd)
		return unic_dev_error(dev, ENOTSUP, "virtio-net %s: the %s transport cannot tell link changes: poll "
				      "unic_link()", virtio_dev_name(dev), vn ? vn->t->name : "unknown");
	return vn->t->config_intr_fd(vn->tctx, true);
}

/*
 * A config interrupt says "something in config space changed" (spec 4.1.5.3): for
 * virtio-net that is the link status (5.1.4), so it is reported as UNIC_EVENT_LINK,
 * even when the link flapped back before this call (unic_link() has the state now).
 * A transport that lost its device adds UNIC_EVENT_REMOVED.
 */
static int vnet_event_ack(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;
	int fd, ev = 0;

	if ((fd = vnet_event_fd(dev)) < 0)
		return fd;
	if (vn->t->config_intr_ack ? vn->t->config_intr_ack(vn->tctx) : eventfd_take(fd) > 0)
		ev |= UNIC_EVENT_LINK;
	if (vn->t->check && vn->t->check(vn->tctx))
		ev |= UNIC_EVENT_REMOVED;
	return ev;
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

int virtio_status_reset(struct unic_dev *dev, uint8_t (*get)(void *), void (*set)(void *, uint8_t), void *ctx)
{
	uint8_t status = get(ctx);
	int i;

	if (status != VIRTIO_STATUS_GONE) {
		set(ctx, 0);
		for (i = 0; i < RESET_TRIES && !dev->removed && (status = get(ctx)) != VIRTIO_STATUS_GONE; i++) {
			if (status == 0)
				return 0;
			unic_usleep(RESET_WAIT_US);
		}
	}
	if (status == VIRTIO_STATUS_GONE)
		dev->removed = true; /* not a reset under way: it would read so for ever */
	return dev->removed ? -ENODEV : -ETIMEDOUT;
}

/*
 * The largest cfg.mtu this device takes (dev->max_mtu). With VIRTIO_NET_F_MTU the device
 * says it (5.1.4.1: 68..65535; unic goes to MTU_MAX) and sends no larger frame (5.1.4.2).
 * Without it, virtio-net has no frame limit of its own: the backend's link has one the
 * driver cannot see (Linux then allows 65535). What makes a larger mtu honest is that a
 * frame larger than our buffers has a defined outcome: with MRG_RXBUF it arrives spread
 * over several buffers (num_buffers > 1), and rx drops and counts it. Without MRG_RXBUF,
 * spec 5.1.6.3.1 sizes buffers for 1514-byte frames only and leaves a longer frame
 * undefined, so the mtu stays 1500.
 */
static void read_max_mtu(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	uint16_t mtu = 0;

	vn->dev_mtu = 0;
	if ((vn->offered & VIRTIO_BIT(VIRTIO_NET_F_MTU)) &&
	    !vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_MTU, &mtu, sizeof mtu)) {
		if (mtu >= MTU_MIN)
			vn->dev_mtu = mtu;
		else
			UNIC_WARN("virtio-net %s: its mtu field says %u, below the spec's 68 (5.1.4.1): ignored",
				  virtio_dev_name(dev), mtu);
	}
	if (vn->dev_mtu)
		dev->max_mtu = vn->dev_mtu < MTU_MAX ? vn->dev_mtu : MTU_MAX;
	else
		dev->max_mtu = (vn->offered & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)) ? MTU_MAX : ETH_MTU;
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
	read_max_mtu(vn);
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

static uint16_t pow2_floor(uint32_t v)
{
	uint16_t p = 1;

	while ((uint32_t)p * 2 <= v && p < VIRTQ_MAX_SIZE)
		p = (uint16_t)(p * 2);
	return p;
}

/*
 * RSS (5.1.6.5.7.1) needs a key of at least RSS_KEY_LEN bytes, a table and hash types we
 * share with the device: what it offers is read once here (5.1.4), before FEATURES_OK.
 * false: RSS is not negotiated (the device steers by itself), with a warning why.
 */
static bool rss_usable(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	uint8_t key_max = 0;
	uint16_t reta_max = 0;
	uint32_t types = 0;

	if (vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_RSS_MAX_KEY, &key_max, sizeof key_max) ||
	    vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_RSS_MAX_RETA, &reta_max, sizeof reta_max) ||
	    vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_HASH_TYPES, &types, sizeof types))
		return false;
	vn->rss_hash_types = types & RSS_HASH_TYPES;
	if (key_max < RSS_KEY_LEN || reta_max == 0 || !vn->rss_hash_types) {
		UNIC_WARN("virtio-net %s offers RSS with a %u-byte key, %u table entries and hash types 0x%x (5.1.4.1 "
			  "asks for 40 bytes and 128 entries): not used; the device steers by itself",
			  virtio_dev_name(dev), key_max, reta_max, types);
		return false;
	}
	vn->rss_reta_len = pow2_floor(reta_max < RSS_RETA_MAX ? reta_max : RSS_RETA_MAX);
	return true;
}

static int negotiate(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	bool modern = !vn->t->fixed_queue_size;
	size_t i, len;

	vn->features = vn->offered & wanted_features;
	if (!(vn->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ))) /* 5.1.3.1: these need CTRL_VQ */
		vn->features &= ~(VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_MQ) |
				  VIRTIO_BIT(VIRTIO_NET_F_RSS));
	if (has(vn, VIRTIO_NET_F_RSS) && !rss_usable(vn))
		vn->features &= ~VIRTIO_BIT(VIRTIO_NET_F_RSS);
	/* 5.1.4.2: with F_MTU the driver supplies buffers for a frame of the device's mtu */
	if (!vn->dev_mtu || (!has(vn, VIRTIO_NET_F_MRG_RXBUF) &&
			     (uint32_t)dev->pool->room_size - UNIC_HEADROOM < (uint32_t)vn->dev_mtu + ETH_HDR_LEN))
		vn->features &= ~VIRTIO_BIT(VIRTIO_NET_F_MTU);
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

/* The device's queue pairs: 5.1.4 max_virtqueue_pairs (MQ or RSS), the transport's, or 1. */
static int read_max_pairs(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	uint16_t n = 1;

	if (has(vn, VIRTIO_NET_F_MQ) || has(vn, VIRTIO_NET_F_RSS)) {
		if (vn->t->read_config(vn->tctx, VIRTIO_NET_CFG_MAX_PAIRS, &n, sizeof n))
			return unic_dev_error(dev, EIO, "virtio-net %s: cannot read max_virtqueue_pairs", virtio_dev_name(dev));
		/* 5.1.4.1: 1..0x8000; and the control queue after them (2N) must have a 16-bit number */
		if (n < VIRTIO_NET_MQ_PAIRS_MIN || n > VIRTIO_NET_MQ_PAIRS_MAX || 2u * n > UINT16_MAX)
			return unic_dev_error(dev, EIO, "virtio-net %s: max_virtqueue_pairs %u is outside 1..32767 (spec "
					      "5.1.4.1): the device is broken", virtio_dev_name(dev), n);
	} else if (vn->t->queue_pairs) {
		n = vn->t->queue_pairs(vn->tctx);
		if (n < VIRTIO_NET_MQ_PAIRS_MIN)
			n = VIRTIO_NET_MQ_PAIRS_MIN;
	}
	vn->max_pairs = n;
	return 0;
}

/* Pairs in use: enough for rx_queues and tx_queues; one line naming the maximum if the device has fewer. */
static int choose_pairs(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	const struct unic_config *c = &dev->cfg;
	uint16_t want = c->rx_queues > c->tx_queues ? c->rx_queues : c->tx_queues;
	uint16_t usable = vn->max_pairs < UNIC_MAX_QUEUES ? vn->max_pairs : UNIC_MAX_QUEUES;

	if (want > usable && usable == 1)
		return unic_dev_error(dev, EINVAL, "virtio-net %s has one queue pair (%s): give rx_queues and tx_queues 1",
				      virtio_dev_name(dev), vn->t->queue_pairs
				      ? "the vhost-user backend offers no VIRTIO_NET_F_MQ or no protocol feature MQ, or GET_QUEUE_NUM "
					"says 1; DPDK: "
					"--vdev net_vhost0,iface=PATH,queues=N"
				      : has(vn, VIRTIO_NET_F_MQ) || has(vn, VIRTIO_NET_F_RSS)
				      ? "its max_virtqueue_pairs is 1; QEMU gives the device as many pairs as its netdev has "
					"queues, e.g. -netdev tap,queues=N (a hub port has one)"
				      : (vn->offered & VIRTIO_BIT(VIRTIO_NET_F_MQ))
				      ? "its VIRTIO_NET_F_MQ needs VIRTIO_NET_F_CTRL_VQ, which it does not offer"
				      : "it offers no VIRTIO_NET_F_MQ, bit 22; QEMU gives several with -device virtio-net-pci,"
					"mq=on and a multi-queue backend such as -netdev tap,queues=N");
	if (want > usable)
		return unic_dev_error(dev, EINVAL, "virtio-net %s has %u queue pairs%s: give rx_queues and tx_queues of at "
				      "most %u", virtio_dev_name(dev), vn->max_pairs,
				      usable < vn->max_pairs ? " (unic uses 16)" : "", usable);
	/* without RSS the device spreads frames over every pair it has enabled (5.1.6.5.5) */
	if (c->rx_queues < want && !has(vn, VIRTIO_NET_F_RSS))
		return unic_dev_error(dev, EINVAL, "virtio-net %s (no VIRTIO_NET_F_RSS) spreads received frames over all %u "
				      "queue pairs: give rx_queues %u too, or tx_queues %u", virtio_dev_name(dev), want,
				      want, c->rx_queues);
	vn->pairs = want;
	return 0;
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

/* Every virtqueue we use, in device order: receiveq1, transmitq1, ..., then the control queue. */
struct vq_plan {
	uint16_t n;
	struct virtq *vq[2 * UNIC_MAX_QUEUES + 1];
	uint16_t index[2 * UNIC_MAX_QUEUES + 1], want[2 * UNIC_MAX_QUEUES + 1], size[2 * UNIC_MAX_QUEUES + 1];
	size_t off[2 * UNIC_MAX_QUEUES + 1];
};

static void plan_queues(struct vnet *vn, struct vq_plan *p)
{
	const struct unic_config *c = &vn->dev->cfg;
	uint16_t k;

	p->n = 0;
	for (k = 0; k < vn->pairs; k++) {
		p->vq[p->n] = &vn->rxq[k].vq;
		p->index[p->n] = VIRTIO_NET_RXQ_INDEX(k);
		p->want[p->n++] = c->rx_ring_size;
		p->vq[p->n] = &vn->txq[k].vq;
		p->index[p->n] = VIRTIO_NET_TXQ_INDEX(k);
		p->want[p->n++] = c->tx_ring_size;
	}
	if (has(vn, VIRTIO_NET_F_CTRL_VQ)) {
		p->vq[p->n] = &vn->ctrl;
		p->index[p->n] = VIRTIO_NET_CTRLQ_INDEX(has(vn, VIRTIO_NET_F_MQ) || has(vn, VIRTIO_NET_F_RSS) ? vn->max_pairs : 1);
		p->want[p->n++] = CTRL_QUEUE_SIZE;
	}
}

static int setup_queues(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	struct vq_plan p;
	size_t total = 0;
	bool packed = has(vn, VIRTIO_F_RING_PACKED), event_idx = has(vn, VIRTIO_F_RING_EVENT_IDX);
	bool in_order = has(vn, VIRTIO_F_IN_ORDER);
	uint16_t i;
	int r;

	plan_queues(vn, &p);
	for (i = 0; i < p.n; i++) {
		if ((r = queue_size(vn, p.index[i], p.want[i], &p.size[i])))
			return r;
		p.off[i] = total;
		total += page_align(virtq_mem_size(p.size[i], packed, vn->t->ring_align));
	}
	if ((r = unic_dma_alloc(dev, total + CTRL_BUF_SIZE, &vn->ring_mem)))
		return r;
	if (vn->t->share_memory && (r = vn->t->share_memory(vn->tctx, &vn->ring_mem)))
		return r;
	vn->ctrl_buf = (uint8_t *)vn->ring_mem.virt + total;
	vn->ctrl_iova = vn->ring_mem.iova + total;
	for (i = 0; i < p.n; i++) {
		r = virtq_init(p.vq[i], p.index[i], p.size[i], packed, event_idx, in_order,
			       (uint8_t *)vn->ring_mem.virt + p.off[i], vn->ring_mem.iova + p.off[i], vn->t->ring_align);
		if (r)
			return unic_dev_error(dev, -r, "cannot set up virtio queue %u: %s", p.index[i], strerror(-r));
		if ((r = vn->t->queue_enable(vn->tctx, p.vq[i])))
			return r;
	}
	vn->has_ctrl = has(vn, VIRTIO_NET_F_CTRL_VQ);
	vn->ctrl.stats = &vn->ctrl_stats;
	for (i = 0; i < vn->pairs; i++) { /* virtq_init cleared them */
		vn->rxq[i].vq.stats = &vn->rxq[i].stats;
		vn->txq[i].vq.stats = &vn->txq[i].stats;
	}
	return 0;
}

/*
 * The vector rx path (virtio_rx_vec.c) for each rx queue in use, when the CPU has one
 * and IN_ORDER is not negotiated (its split-ring device may skip used entries); named
 * in unic_info's features ("rx:avx2").
 */
static void rx_vec_setup(struct vnet *vn)
{
	enum virtq_simd s = has(vn, VIRTIO_F_IN_ORDER) ? VIRTQ_SIMD_NONE : virtq_simd_level();
	size_t len = strlen(vn->dev->features);
	uint16_t k;

	for (k = 0; k < vn->dev->num_rxq; k++) {
		struct vnet_queue *q = &vn->rxq[k];
		q->rxv.buf_len = (uint32_t)vn->dev->pool->room_size - UNIC_HEADROOM + q->hdr_len;
		q->rxv.hdr_len = q->hdr_len;
		q->rxv.qid = q->qid;
		q->rxv.mrg_rxbuf = q->mrg_rxbuf;
		virtq_rxv_init(&q->vq, &q->rxv, s);
	}
	if (vn->rxq[0].rxv.simd && len < sizeof vn->dev->features)
		snprintf(vn->dev->features + len, sizeof vn->dev->features - len, " rx:%s",
			 virtq_simd_name((enum virtq_simd)vn->rxq[0].rxv.simd));
}

static void init_queue(struct vnet *vn, struct vnet_queue *q, uint16_t qid)
{
	q->vn = vn;
	q->qid = qid;
	q->gone = vn->t->gone_flag ? vn->t->gone_flag(vn->tctx) : &never_gone;
	q->hdr_len = has(vn, VIRTIO_F_VERSION_1) || has(vn, VIRTIO_NET_F_MRG_RXBUF) ? VIRTIO_NET_HDR_LEN
										  : VIRTIO_NET_HDR_LEN_LEGACY;
	q->mrg_rxbuf = has(vn, VIRTIO_NET_F_MRG_RXBUF);
	/* 5.1.4.2: with F_MTU no frame longer than mtu plus the Ethernet header (and a VLAN tag) */
	q->tx_max = has(vn, VIRTIO_NET_F_MTU) ? (uint32_t)vn->dev_mtu + ETH_HDR_LEN + VLAN_TAG_LEN : UINT32_MAX;
}

/* ---- multi-queue and RSS through the control queue ---- */

/* 5.1.6.5.7.1: struct virtio_net_rss_config, little-endian, built in out; returns its length. */
static uint16_t rss_config(const struct vnet *vn, uint8_t *out)
{
	uint16_t mask = (uint16_t)(vn->rss_reta_len - 1), unclassified = 0, tx = vn->pairs, off = RSS_CFG_TABLE_OFF;
	uint8_t key_len = RSS_KEY_LEN;

	memcpy(out, &vn->rss_hash_types, sizeof vn->rss_hash_types);
	memcpy(out + 4, &mask, sizeof mask);
	memcpy(out + 6, &unclassified, sizeof unclassified); /* frames of no hash type: rx queue 0 */
	memcpy(out + off, vn->rss_reta, 2u * vn->rss_reta_len);
	off = (uint16_t)(off + 2u * vn->rss_reta_len);
	memcpy(out + off, &tx, sizeof tx); /* max_tx_vq: every tx queue of the pairs in use */
	off += 2;
	out[off++] = key_len;
	memcpy(out + off, vn->rss_key, key_len);
	return (uint16_t)(off + key_len);
}

static int rss_send(struct vnet *vn)
{
	uint8_t cfg[CTRL_DATA_MAX];
	uint16_t len = rss_config(vn, cfg);

	return ctrl_cmd(vn, "MQ_RSS_CONFIG", VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg, len);
}

/* The driver op: under ctl_lock; the core checked lengths and queue numbers. */
static int vnet_set_rss(struct unic_dev *dev, const uint8_t *key, const uint16_t *reta)
{
	struct vnet *vn = dev->priv;
	uint8_t old_key[RSS_KEY_LEN];
	uint16_t old_reta[RSS_RETA_MAX];
	int r;

	if (!vn || !vn->queues_ready || !has(vn, VIRTIO_NET_F_RSS))
		return unic_dev_error(dev, ENOTSUP, "virtio-net %s has no RSS (VIRTIO_NET_F_RSS, bit 60, not negotiated)",
				      virtio_dev_name(dev));
	memcpy(old_key, vn->rss_key, sizeof old_key);
	memcpy(old_reta, vn->rss_reta, sizeof old_reta);
	if (key)
		memcpy(vn->rss_key, key, RSS_KEY_LEN);
	if (reta)
		memcpy(vn->rss_reta, reta, 2u * vn->rss_reta_len);
	if ((r = rss_send(vn))) { /* the device keeps what it had: so do we */
		memcpy(vn->rss_key, old_key, sizeof old_key);
		memcpy(vn->rss_reta, old_reta, sizeof old_reta);
	}
	return r;
}

/*
 * 5.1.6.5.5: after reset the device uses the first pair only. With RSS the config says
 * how many tx queues and which rx queues (a table spread over rx_queues); else
 * VQ_PAIRS_SET enables the pairs and the device steers by itself (QEMU: its backend's
 * queues; a multi-queue tap picks one per flow).
 */
static int enable_pairs(struct vnet *vn)
{
	struct unic_dev *dev = vn->dev;
	uint16_t i, pairs = vn->pairs;

	if (has(vn, VIRTIO_NET_F_RSS)) {
		memcpy(vn->rss_key, unic_rss_default_key, sizeof vn->rss_key);
		for (i = 0; i < vn->rss_reta_len; i++)
			vn->rss_reta[i] = (uint16_t)(i % dev->cfg.rx_queues);
		dev->rss_key_len = RSS_KEY_LEN;
		dev->rss_reta_size = vn->rss_reta_len;
		return rss_send(vn);
	}
	if (has(vn, VIRTIO_NET_F_MQ) && pairs > 1)
		return ctrl_cmd(vn, "MQ_VQ_PAIRS_SET", VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs,
				sizeof pairs);
	return 0;
}

static int start_device(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;
	uint16_t k;
	int r;

	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK */
	if (vn->t->reset(vn->tctx))
		return unic_dev_error(dev, EIO, "virtio device %s did not reset", virtio_dev_name(dev));
	vn->t->set_status(vn->tctx, VIRTIO_STATUS_ACKNOWLEDGE);
	vn->t->set_status(vn->tctx, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if ((r = negotiate(vn)) || (r = read_max_pairs(vn)) || (r = choose_pairs(vn)))
		return r;
	for (k = 0; k < vn->pairs; k++) {
		init_queue(vn, &vn->rxq[k], k);
		init_queue(vn, &vn->txq[k], k);
	}
	if (!vn->rxq[0].mrg_rxbuf && dev->pool->room_size - UNIC_HEADROOM < ETH_FRAME_MAX)
		UNIC_WARN("virtio-net %s: %u-byte buffers without MRG_RXBUF: full-size frames will not fit",
			  virtio_dev_name(dev), dev->pool->room_size - UNIC_HEADROOM);
	/* interrupts for the rx queues in use (and config changes), before their vectors are bound */
	if (vn->t->intr_setup && (r = vn->t->intr_setup(vn->tctx, dev->cfg.rx_queues)))
		return r;
	if ((r = setup_queues(vn)))
		return r;
	vn->t->set_status(vn->tctx, (uint8_t)(vn->t->get_status(vn->tctx) | VIRTIO_STATUS_DRIVER_OK));
	if (vn->t->get_status(vn->tctx) & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_NEEDS_RESET))
		return unic_dev_error(dev, EIO, "virtio device %s failed after DRIVER_OK", virtio_dev_name(dev));
	/* an rx queue beyond rx_queues (RSS sends it nothing) gets no buffers: none would come back */
	dev->num_rxq = dev->cfg.rx_queues;
	dev->num_txq = dev->cfg.tx_queues;
	rx_vec_setup(vn);
	for (k = 0; k < dev->num_rxq; k++) {
		rx_refill(&vn->rxq[k]);
		dev->rxq[k] = &vn->rxq[k];
		dev->rxq_stats[k] = &vn->rxq[k].stats;
	}
	for (k = 0; k < dev->num_txq; k++) {
		dev->txq[k] = &vn->txq[k];
		dev->txq_stats[k] = &vn->txq[k].stats;
	}
	dev->rx_ring_size = vn->rxq[0].vq.size;
	dev->tx_ring_size = vn->txq[0].vq.size;
	vn->queues_ready = true;
	if ((r = enable_pairs(vn)))
		return r;
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

	if (!vq->slot)
		return;
	while ((got = virtq_drain(vq, tok, BURST)) > 0)
		if (bufs)
			unic_buf_free_bulk((struct unic_buf **)tok, got);
	virtq_fini(vq);
}

static void virtio_net_close(struct unic_dev *dev)
{
	struct vnet *vn = dev->priv;
	uint16_t k;

	if (!vn)
		return;
	vn->t->reset(vn->tctx); /* the device stops using our memory before we free it */
	for (k = 0; k < UNIC_MAX_QUEUES; k++) {
		free_queue_bufs(&vn->rxq[k].vq, true);
		free_queue_bufs(&vn->txq[k].vq, true);
	}
	free_queue_bufs(&vn->ctrl, false);
	unic_dma_free(&vn->ring_mem);
	vn->t->close(vn->tctx);
	pthread_mutex_destroy(&vn->ctrl_lock);
	free(vn);
	dev->priv = NULL;
	for (k = 0; k < UNIC_MAX_QUEUES; k++) {
		dev->rxq[k] = dev->txq[k] = NULL;
		dev->rxq_stats[k] = dev->txq_stats[k] = NULL;
	}
	dev->num_rxq = dev->num_txq = 0;
	dev->rss_key_len = dev->rss_reta_size = 0;
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
	.set_rss = vnet_set_rss,
	.rx_intr_fd = vnet_rx_intr_fd,
	.rx_intr_enable = vnet_rx_intr_enable,
	.rx_intr_disable = vnet_rx_intr_disable,
	.tx_reclaim = vnet_tx_reclaim,
	.event_fd = vnet_event_fd,
	.event_ack = vnet_event_ack,
};
