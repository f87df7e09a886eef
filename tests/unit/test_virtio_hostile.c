/*
 * virtio-net against a hostile device. A fake transport plays the device on
 * the ring memory itself (UNIC_DMA_VIRT: DMA addresses are virtual addresses,
 * as for vhost-user), first as a sane device (frames round-trip byte for byte
 * over split, packed and legacy-layout rings), then writing used ids out of
 * range, lengths larger than the buffer, indices that jump ahead, repeated and
 * looping packed descriptors, bad num_buffers, and random garbage. The driver
 * must count each (bad_device), stop using the queue, never touch memory out
 * of bounds (ASan), and give every buffer back on close. The split and packed
 * cases run again with VIRTIO_F_IN_ORDER negotiated (ids in ring order, one used
 * entry for a batch of buffers, spec 2.7.9 / 2.8.8), with cases of their own.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "../../src/drivers/virtio/virtio.h"

#define POOL_SIZE 1024
#define RING 64
#define HDR_NUM_BUFFERS 10
#define F(b) VIRTIO_BIT(b)
#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define NET_F_CTRL_VQ 17
#define NET_F_CTRL_RX 18
#define NET_F_MTU 3
#define NET_F_MQ 22
#define NET_F_RSS 60
#define CFG_MAX_PAIRS 8           /* struct virtio_net_config (spec 5.1.4) */
#define CFG_MTU 10
#define CFG_RSS_MAX_KEY 17
#define CFG_RSS_MAX_RETA 18
#define CFG_HASH_TYPES 20
#define CFG_SIZE 24
#define MAX_PAIRS 8               /* the most queue pairs a test device has */
#define WIRE_MAX 9216             /* the longest frame the test device carries (mtu 9000 and more) */
#define CTRL_MQ 4                 /* spec 5.1.6.5.5 */
#define CTRL_MQ_VQ_PAIRS_SET 0
#define CTRL_MQ_RSS_CONFIG 1

enum kind { SPLIT, PACKED, LEGACY, NKINDS };
static const char *const kind_name[] = { "split", "packed", "legacy" };

/* ---- the fake device ---- */
struct fq {
	uint16_t index, size;
	bool packed;
	volatile struct vring_desc *desc;
	volatile uint16_t *avail;
	volatile uint8_t *used;
	volatile struct vring_packed_desc *pdesc;
	volatile struct vring_packed_event *dev_event; /* packed: the device's suppression area (2.8.10) */
	volatile struct vring_packed_event *drv_event; /* packed: the driver's (interrupt suppression) */
	uint16_t last_avail, used_idx;     /* split */
	uint16_t apos, upos;               /* packed */
	bool awrap, uwrap;
	unsigned notified;
	uint16_t next_id;                  /* in order: the id the driver must give next (split) */
	unsigned order_errors;             /* in order: ids given out of ring order (check_order) */
};

struct fake {
	enum kind kind;
	uint64_t offered, accepted;
	uint8_t status;
	uint8_t config[CFG_SIZE]; /* mac, status, max_virtqueue_pairs, mtu, ..., RSS limits */
	struct fq q[2 * MAX_PAIRS + 1];
	uint16_t ctrl_index;      /* 2 * max_virtqueue_pairs with MQ or RSS, else 2 (spec 5.1.2) */
	bool promisc;
	uint8_t ctrl_ack;
	uint8_t mq_ack;           /* the answer to MQ commands (0: VIRTIO_NET_OK) */
	bool ctrl_lie;            /* hand MQ commands back with an id never given */
	bool ctrl_lie_inside;     /* in order: ... with the id of the chain's second descriptor */
	uint16_t pairs_set;       /* the last VQ_PAIRS_SET, 0 if none */
	uint8_t rss[512];         /* the last RSS_CONFIG's data */
	uint32_t rss_len, rss_count;
};

static void fq_bind(struct fq *q, struct virtq *vq, bool packed)
{
	memset(q, 0, sizeof *q);
	q->index = vq->index;
	q->size = vq->size;
	q->packed = packed;
	q->awrap = q->uwrap = true;
	/* DMA addresses are virtual addresses here: the device works from what it was told */
	if (packed) {
		q->pdesc = (void *)(uintptr_t)vq->desc_iova;
		q->dev_event = (void *)(uintptr_t)vq->device_iova;
		q->drv_event = (void *)(uintptr_t)vq->driver_iova;
	} else {
		q->desc = (void *)(uintptr_t)vq->desc_iova;
		q->avail = (void *)(uintptr_t)vq->driver_iova;
		q->used = (void *)(uintptr_t)vq->device_iova;
	}
}

static bool check_order; /* dev_pop counts data buffers whose id breaks ring order (2.7.5 / 2.8.8) */

/* Takes the next available descriptor (one of a chain for the control queue). */
static bool dev_pop(struct fq *q, uint16_t *id, uint64_t *addr, uint32_t *len, uint16_t *flags)
{
	if (q->packed) {
		volatile struct vring_packed_desc *d = &q->pdesc[q->apos];
		uint16_t f = d->flags;
		bool av = f & VRING_PACKED_DESC_F_AVAIL, us = f & VRING_PACKED_DESC_F_USED;
		if (av != q->awrap || us == q->awrap)
			return false;
		*id = d->id;
		/* in order, a buffer's id is the ring position of its (first) descriptor */
		q->order_errors += check_order && *id != q->apos;
		*addr = d->addr;
		*len = d->len;
		*flags = f;
		if (++q->apos == q->size) {
			q->apos = 0;
			q->awrap = !q->awrap;
		}
		return true;
	}
	/* like a real device with EVENT_IDX: ask to be notified of anything past what it saw */
	*(volatile uint16_t *)(q->used + 4 + 8 * q->size) = q->last_avail;
	if (q->avail[1] == q->last_avail)
		return false;
	*id = q->avail[2 + q->last_avail % q->size];
	q->last_avail++;
	/* in order, descriptors are used in table order, wrapping at the end (2.7.5) */
	q->order_errors += check_order && *id != q->next_id;
	q->next_id = (uint16_t)((*id + 1) % q->size);
	*addr = q->desc[*id].addr;
	*len = q->desc[*id].len;
	*flags = q->desc[*id].flags;
	return true;
}

static void dev_split_next(struct fq *q, uint16_t id, uint64_t *addr, uint32_t *len)
{
	uint16_t n = q->desc[id].next;
	*addr = q->desc[n].addr;
	*len = q->desc[n].len;
}

/* Marks a buffer used: the device side of spec 2.7.8 / 2.8.7; raw, so it can lie. */
static void dev_push(struct fq *q, uint32_t id, uint32_t len, uint16_t ndesc)
{
	if (q->packed) {
		volatile struct vring_packed_desc *d = &q->pdesc[q->upos];
		d->id = (uint16_t)id;
		d->len = len;
		d->flags = q->uwrap ? (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED) : 0;
		q->upos = (uint16_t)(q->upos + ndesc);
		if (q->upos >= q->size) {
			q->upos = (uint16_t)(q->upos - q->size);
			q->uwrap = !q->uwrap;
		}
		return;
	}
	volatile uint32_t *e = (volatile uint32_t *)(q->used + 4 + 8 * (q->used_idx % q->size));
	e[0] = id;
	e[1] = len;
	q->used_idx++;
	*(volatile uint16_t *)(q->used + 2) = q->used_idx;
}

/*
 * In order (2.7.9 / 2.8.8): one used entry for a batch of nbuf buffers (ndesc descriptors),
 * written where the batch's first would go, naming the id of its last; the device then
 * skips past the batch (split: the used index grows by nbuf). used_count lets a test lie
 * about how many the index counts.
 */
static void dev_push_batch(struct fq *q, uint32_t last_id, uint32_t len, uint16_t ndesc, uint16_t used_count)
{
	volatile uint32_t *e;

	if (q->packed) {
		dev_push(q, last_id, len, ndesc);
		return;
	}
	e = (volatile uint32_t *)(q->used + 4 + 8 * (q->used_idx % q->size));
	e[0] = last_id;
	e[1] = len;
	q->used_idx = (uint16_t)(q->used_idx + used_count);
	*(volatile uint16_t *)(q->used + 2) = q->used_idx;
}

/* The control queue answers at once, from the notification. */
static void fake_ctrl(struct fake *f, struct fq *q)
{
	uint16_t id, flags;
	uint64_t addr, ack;
	uint32_t len, acklen;

	while (dev_pop(q, &id, &addr, &len, &flags)) {
		const uint8_t *cmd = (const uint8_t *)(uintptr_t)addr;
		if (q->packed) {
			uint16_t id2, fl2;
			dev_pop(q, &id2, &ack, &acklen, &fl2);
		} else {
			dev_split_next(q, id, &ack, &acklen);
		}
		if (cmd[0] == 0 && cmd[1] == 0 && len == 3) /* VIRTIO_NET_CTRL_RX_PROMISC */
			f->promisc = cmd[2];
		*(uint8_t *)(uintptr_t)ack = f->ctrl_ack;
		if (cmd[0] == CTRL_MQ) {
			*(uint8_t *)(uintptr_t)ack = f->mq_ack;
			if (cmd[1] == CTRL_MQ_VQ_PAIRS_SET && len == 4 && !f->mq_ack)
				memcpy(&f->pairs_set, cmd + 2, 2);
			if (cmd[1] == CTRL_MQ_RSS_CONFIG && len - 2 <= sizeof f->rss && !f->mq_ack) {
				memcpy(f->rss, cmd + 2, len - 2);
				f->rss_len = len - 2;
				f->rss_count++;
			}
			if (f->ctrl_lie) {
				dev_push(q, q->size + 3u, 1, 2);
				continue;
			}
			if (f->ctrl_lie_inside) { /* held, but no buffer starts there */
				dev_push(q, (id + 1u) % q->size, 1, 2);
				continue;
			}
		}
		dev_push(q, id, 1, 2);
	}
}

static struct fake *notify_owner;
static struct unic_dev *dev_of_test(void);
static bool fail_features_ok; /* a device that refuses any feature set */

static void fake_notify(struct virtq *vq)
{
	struct fq *q = vq->notify_ctx;

	q->notified++;
	if (q->index == notify_owner->ctrl_index)
		fake_ctrl(notify_owner, q);
}

static int fake_reset(void *t) { ((struct fake *)t)->status = 0; return 0; }
static uint8_t fake_get_status(void *t) { return ((struct fake *)t)->status; }
static void fake_set_status(void *t, uint8_t s)
{
	if (fail_features_ok)
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	((struct fake *)t)->status = s;
}
static uint64_t fake_get_features(void *t) { return ((struct fake *)t)->offered; }
static void fake_set_features(void *t, uint64_t f)
{
	struct fake *fk_ = t;
	uint16_t max_pairs;

	fk_->accepted = f;
	memcpy(&max_pairs, fk_->config + CFG_MAX_PAIRS, 2);
	/* spec 5.1.2: the control queue follows every pair the device has, or pair 1 without MQ */
	fk_->ctrl_index = (f & (F(NET_F_MQ) | F(NET_F_RSS))) && max_pairs <= MAX_PAIRS ? (uint16_t)(2 * max_pairs) : 2;
}
static int fake_read_config(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct fake *f = t;
	if (off + len > sizeof f->config)
		return -1;
	memcpy(buf, f->config + off, len);
	return 0;
}
static uint16_t fake_queue_max(void *t, uint16_t index)
{
	struct fake *f = t;
	if (index > f->ctrl_index)
		return 0;
	return f->kind == LEGACY ? (index == f->ctrl_index ? 16 : RING) : 256;
}
static int fake_queue_enable(void *t, struct virtq *vq)
{
	struct fake *f = t;
	fq_bind(&f->q[vq->index], vq, f->accepted & F(VIRTIO_F_RING_PACKED));
	vq->notify = fake_notify;
	vq->notify_ctx = &f->q[vq->index];
	return 0;
}
static void fake_close(void *t) { (void)t; }

/* Interrupts: one eventfd per queue and one for config changes, made once (main), drained by setup. */
static int intr_fd[2 * MAX_PAIRS + 1], config_fd = -1;
static bool fake_no_intr; /* a transport that cannot interrupt (as sysfs: access) */
static int fake_queue_intr_fd(void *t, uint16_t index, bool say)
{
	(void)t;
	if (!fake_no_intr && index < 2 * MAX_PAIRS + 1)
		return intr_fd[index];
	return say ? unic_dev_error(dev_of_test(), ENOTSUP, "fake: no interrupts here: poll the queue") : -ENOTSUP;
}
static int fake_config_intr_fd(void *t, bool say)
{
	(void)t;
	(void)say;
	return config_fd;
}

static const struct virtio_transport fake_modern = {
	.name = "fake", .ring_align = 4, .reset = fake_reset, .get_status = fake_get_status,
	.set_status = fake_set_status, .get_features = fake_get_features, .set_features = fake_set_features,
	.read_config = fake_read_config, .queue_max = fake_queue_max, .queue_enable = fake_queue_enable,
	.close = fake_close, .queue_intr_fd = fake_queue_intr_fd, .config_intr_fd = fake_config_intr_fd,
};
static const struct virtio_transport fake_legacy = {
	.name = "fake-legacy", .fixed_queue_size = true, .ring_align = VIRTIO_LEGACY_RING_ALIGN,
	.reset = fake_reset, .get_status = fake_get_status, .set_status = fake_set_status,
	.get_features = fake_get_features, .set_features = fake_set_features, .read_config = fake_read_config,
	.queue_max = fake_queue_max, .queue_enable = fake_queue_enable, .close = fake_close,
	.queue_intr_fd = fake_queue_intr_fd, .config_intr_fd = fake_config_intr_fd,
};

/* ---- the unic side ---- */
static struct unic_mempool *pool;
static struct unic_dev *dev;
static struct unic_dev *dev_of_test(void) { return dev; }
static struct fake fk;

static uint16_t hdr_len(void)
{
	return (fk.accepted & (F(VIRTIO_F_VERSION_1) | F(NET_F_MRG_RXBUF))) ? 12 : 10;
}

static uint64_t offer_mask = ~0ull; /* features a test device leaves out */
static bool no_packed_ring;        /* cfg.no_packed_ring for the next setup() */
/* multi-queue, RSS and MTU: what the next setup()'s device offers and unic asks for */
static struct {
	uint64_t offer;              /* features added to the usual ones */
	uint16_t max_pairs, mtu;     /* config fields (0: left 0) */
	uint8_t rss_key_max;
	uint16_t rss_reta_max;
	uint32_t hash_types;
	uint16_t rx_queues, tx_queues; /* 0: 1 */
	struct unic_mempool *pool;   /* NULL: the 2048-byte pool */
} opt;
static uint8_t mq_ack_next;  /* fk.mq_ack for the next setup() */
static bool ctrl_lie_next;   /* fk.ctrl_lie for the next setup() */
static bool ctrl_lie_inside_next; /* fk.ctrl_lie_inside for the next setup() */
static bool in_order;        /* the next setup()'s device offers VIRTIO_F_IN_ORDER (not legacy: bit 35) */

/* "split", "packed in_order", ...: what the messages call a configuration */
static const char *kname(enum kind kind)
{
	static char buf[32];
	snprintf(buf, sizeof buf, "%s%s", kind_name[kind], in_order && kind != LEGACY ? " in_order" : "");
	return buf;
}

/* The rx path of this pass (UNIC_SIMD): scalar, sse4.2 or avx2; every ring type uses it but in order (scalar). */
static const char *rx_path = "scalar";

static void check_rx_path(void)
{
	char want[16];
	bool vec = strcmp(rx_path, "scalar") != 0 && !(fk.accepted & F(VIRTIO_F_IN_ORDER));

	snprintf(want, sizeof want, " rx:%s", rx_path);
	CHECK(vec ? strstr(dev->features, want) != NULL : strstr(dev->features, " rx:") == NULL);
}

static bool setup(enum kind kind)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memset(&fk, 0, sizeof fk);
	fk.kind = kind;
	fk.offered = F(NET_F_MAC) | F(NET_F_STATUS) | F(NET_F_CTRL_VQ) | F(NET_F_CTRL_RX) | F(NET_F_MRG_RXBUF) |
		     F(VIRTIO_F_RING_EVENT_IDX) | F(VIRTIO_F_ANY_LAYOUT);
	if (kind != LEGACY)
		fk.offered |= F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM);
	if (kind == PACKED)
		fk.offered |= F(VIRTIO_F_RING_PACKED);
	if (kind == LEGACY) /* the oldest kind of device: 10-byte header, no event index, no merging */
		fk.offered &= ~(F(NET_F_MRG_RXBUF) | F(VIRTIO_F_RING_EVENT_IDX));
	if (in_order && kind != LEGACY)
		fk.offered |= F(VIRTIO_F_IN_ORDER);
	fk.offered |= opt.offer;
	fk.offered &= offer_mask;
	memcpy(fk.config, mac, 6);
	fk.config[6] = 1; /* VIRTIO_NET_S_LINK_UP */
	memcpy(fk.config + CFG_MAX_PAIRS, &opt.max_pairs, 2);
	memcpy(fk.config + CFG_MTU, &opt.mtu, 2);
	fk.config[CFG_RSS_MAX_KEY] = opt.rss_key_max;
	memcpy(fk.config + CFG_RSS_MAX_RETA, &opt.rss_reta_max, 2);
	memcpy(fk.config + CFG_HASH_TYPES, &opt.hash_types, 4);
	fk.ctrl_index = 2;
	fk.mq_ack = mq_ack_next;
	fk.ctrl_lie = ctrl_lie_next;
	fk.ctrl_lie_inside = ctrl_lie_inside_next;
	fk.ctrl_ack = 0;
	notify_owner = &fk;

	memset(dev, 0, sizeof *dev);
	unic_irq_init(&dev->irq);
	unic_config_init(&dev->cfg);
	dev->cfg.rx_ring_size = RING;
	dev->cfg.tx_ring_size = RING;
	dev->cfg.buf_size = 2048;
	dev->cfg.no_packed_ring = no_packed_ring;
	dev->cfg.rx_queues = opt.rx_queues ? opt.rx_queues : 1;
	dev->cfg.tx_queues = opt.tx_queues ? opt.tx_queues : 1;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	dev->dma_mode = UNIC_DMA_VIRT;
	dev->drv = &unic_driver_virtio_net;
	dev->pool = opt.pool ? opt.pool : pool;
	snprintf(dev->spec.pci_addr, sizeof dev->spec.pci_addr, "fake");
	if (virtio_net_attach(dev, kind == LEGACY ? &fake_legacy : &fake_modern, &fk)) {
		printf("attach: %s\n", dev->err);
		return false;
	}
	if (dev->drv->start(dev)) {
		printf("start: %s\n", dev->err);
		return false;
	}
	check_rx_path();
	return true;
}

static void teardown(void)
{
	struct unic_mempool *p = dev->pool;

	dev->drv->close(dev);
	unic_irq_close(dev);
	/* every buffer the rings held is back */
	CHECK(unic_mempool_free_count(p) == unic_mempool_size(p));
}

static void fill_frame(uint8_t *p, uint16_t len, uint32_t seq)
{
	uint16_t j;
	for (j = 0; j < len; j++)
		p[j] = (uint8_t)(seq * 7 + j * 13 + (j >> 8));
	memcpy(p, &seq, sizeof seq);
}

/* Device: take what tx of pair k gave, check the zeroed header, loop it into rx of pair k. Returns frames moved. */
static unsigned device_loopback_pair(uint16_t k)
{
	static uint8_t wire[RING][WIRE_MAX];
	static uint32_t wlen[RING];
	struct fq *tx = &fk.q[2 * k + 1], *rx = &fk.q[2 * k];
	unsigned n = 0, i, bad_hdr = 0;
	uint16_t id, flags, h = hdr_len();
	uint64_t addr;
	uint32_t len;

	while (n < RING && dev_pop(tx, &id, &addr, &len, &flags)) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)addr;
		for (i = 0; i < h; i++)
			bad_hdr += p[i] != 0;
		CHECK(!(flags & VRING_DESC_F_WRITE) && len > h && len - h <= sizeof wire[0]);
		wlen[n] = len - h;
		memcpy(wire[n], p + h, wlen[n]);
		dev_push(tx, id, 0, 1);
		n++;
	}
	CHECK(bad_hdr == 0);
	for (i = 0; i < n; i++) {
		uint8_t *p;
		CHECK(dev_pop(rx, &id, &addr, &len, &flags));
		CHECK(flags & VRING_DESC_F_WRITE);
		CHECK(len >= wlen[i] + h);
		p = (uint8_t *)(uintptr_t)addr;
		memset(p, 0, h);
		if (h == 12)
			p[HDR_NUM_BUFFERS] = 1;
		memcpy(p + h, wire[i], wlen[i]);
		dev_push(rx, id, wlen[i] + h, 1);
	}
	return n;
}

static unsigned device_loopback(void) { return device_loopback_pair(0); }

static void test_sane(enum kind kind)
{
	struct unic_buf *bufs[RING], *rx[RING];
	struct unic_stats st;
	struct unic_link link;
	uint8_t mac[6];
	uint32_t seq = 0, expect = 0;
	unsigned round, i, tx_calls = 0;
	uint16_t got;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	CHECK(dev->num_rxq == 1 && dev->num_txq == 1);
	CHECK(unic_mac(dev, mac) == 0 && mac[0] == 0x52 && mac[5] == 0x56);
	CHECK(unic_link(dev, &link) == 0 && link.up);
	CHECK(hdr_len() == (kind == LEGACY ? 10 : 12));
	CHECK(!!(fk.accepted & F(VIRTIO_F_RING_PACKED)) == (kind == PACKED));
	CHECK(!!(fk.accepted & F(VIRTIO_F_IN_ORDER)) == (in_order && kind != LEGACY));
	CHECK(!!strstr(dev->features, "IN_ORDER") == (in_order && kind != LEGACY));
	CHECK(dev->rx_ring_size == RING);
	CHECK(unic_set_promisc(dev, true) == 0 && fk.promisc);
	CHECK(unic_set_promisc(dev, false) == 0 && !fk.promisc);
	fk.ctrl_ack = 1; /* VIRTIO_NET_ERR */
	CHECK(unic_set_promisc(dev, true) != 0);
	fk.ctrl_ack = 0;

	check_order = in_order && kind != LEGACY;
	for (round = 0; round < 20; round++) {
		uint16_t n = (uint16_t)(5 + round * 3 % 40), sent, left;
		CHECK(unic_buf_alloc_bulk(pool, bufs, n) == n);
		for (i = 0; i < n; i++) {
			bufs[i]->len = (uint16_t)(60 + (seq * 97) % 1455);
			fill_frame(unic_buf_data(bufs[i]), bufs[i]->len, seq++);
		}
		sent = unic_tx_burst(dev, 0, bufs, n);
		tx_calls++;
		unic_buf_free_bulk(bufs + sent, n - sent);
		CHECK(sent == n);
		CHECK(device_loopback() == sent);
		left = sent;
		while (left) {
			got = unic_rx_burst(dev, 0, rx, left);
			if (!got)
				break;
			for (i = 0; i < got; i++) {
				uint8_t want[2048];
				uint16_t len = (uint16_t)(60 + (expect * 97) % 1455);
				fill_frame(want, len, expect++);
				CHECK(rx[i]->len == len && rx[i]->data_off == UNIC_HEADROOM);
				CHECK(rx[i]->len == len && !memcmp(unic_buf_data(rx[i]), want, len));
			}
			unic_buf_free_bulk(rx, got);
			left = (uint16_t)(left - got);
		}
		CHECK(left == 0);
	}
	check_order = false;
	CHECK(fk.q[0].order_errors == 0 && fk.q[1].order_errors == 0);
	CHECK(unic_stats(dev, &st) == 0);
	CHECK(st.tx_packets == seq && st.rx_packets == seq && st.bad_device == 0 && st.rx_dropped == 0);
	/* at most one notification per burst: never one per packet */
	CHECK(fk.q[1].notified <= tx_calls);
	printf("sane %s: %u frames round-trip, %u tx notifications for %u bursts, rx %u notifications\n",
	       kname(kind), seq, fk.q[1].notified, tx_calls, fk.q[0].notified);
	teardown();
}

/* ---- hostile cases ---- */
enum attack {
	ID_OUT_OF_RANGE, LEN_TOO_BIG, IDX_JUMP, ID_REPEAT, ID_NOT_GIVEN, HDR_SHORT,
	NUMBUF_ZERO, NUMBUF_HUGE, PACKED_LOOP, TX_LEN, TX_ID_RANGE, NATTACKS
};
static const char *const attack_name[] = {
	"id out of range", "length larger than buffer", "used index jumps ahead", "id repeated",
	"id never given", "length below header", "num_buffers 0", "num_buffers huge", "packed flags loop",
	"tx used length", "tx id out of range",
};

static uint64_t bad_count(void)
{
	struct unic_stats st;
	unic_stats(dev, &st);
	return st.bad_device;
}

/* One valid receive: write a frame into the next rx buffer and mark it used. */
static void dev_rx_one(uint16_t flen, uint16_t *id_out, uint32_t *buflen_out)
{
	struct fq *q = &fk.q[0];
	uint16_t id, flags, h = hdr_len();
	uint64_t addr;
	uint32_t len;
	uint8_t *p;

	CHECK(dev_pop(q, &id, &addr, &len, &flags));
	p = (uint8_t *)(uintptr_t)addr;
	memset(p, 0, h);
	if (h == 12)
		p[HDR_NUM_BUFFERS] = 1;
	fill_frame(p + h, flen, 1);
	if (id_out)
		*id_out = id;
	if (buflen_out)
		*buflen_out = len;
}

static void test_attack(enum kind kind, enum attack a)
{
	struct fq *rq = &fk.q[0], *tq = &fk.q[1];
	struct unic_buf *bufs[RING];
	uint16_t id, flags, h, i;
	uint32_t len;
	uint64_t addr;
	bool applies = true;
	uint16_t got_before;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	h = hdr_len();
	/* a good frame first: the driver works until the device lies */
	dev_rx_one(100, &id, &len);
	dev_push(rq, id, 100u + h, 1);
	got_before = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(got_before == 1);
	unic_buf_free_bulk(bufs, got_before);

	switch (a) {
	case ID_OUT_OF_RANGE:
		dev_rx_one(100, &id, &len);
		/* packed ids are 16 bits: 0xfff0 + size would wrap to an id in range (48 for 64) */
		dev_push(rq, rq->packed ? 0xfff0u : 0xfff0u + rq->size, 100u + h, 1);
		break;
	case LEN_TOO_BIG:
		dev_rx_one(100, &id, &len);
		dev_push(rq, id, len + 1, 1);
		break;
	case IDX_JUMP:
		if (kind == PACKED) { /* packed has no index: a used flag far ahead is just not seen */
			applies = false;
			break;
		}
		dev_rx_one(100, &id, &len);
		dev_push(rq, id, 100u + h, 1);
		rq->used_idx = (uint16_t)(rq->used_idx + rq->size + 1);
		*(volatile uint16_t *)(rq->used + 2) = rq->used_idx;
		break;
	case ID_REPEAT:
		dev_rx_one(100, &id, &len);
		dev_push(rq, id, 100u + h, 1);
		dev_push(rq, id, 100u + h, 1);
		break;
	case ID_NOT_GIVEN: /* tx has one buffer out; the device returns another id */
		CHECK(unic_buf_alloc_bulk(pool, bufs, 1) == 1);
		bufs[0]->len = 60;
		CHECK(unic_tx_burst(dev, 0, bufs, 1) == 1);
		CHECK(dev_pop(tq, &id, &addr, &len, &flags));
		dev_push(tq, (uint16_t)((id + 7) % tq->size), 0, 1);
		/* tx reclaims only when short of descriptors: ask for a full ring to force it */
		{
			struct unic_buf *many[RING];
			uint16_t s;
			CHECK(unic_buf_alloc_bulk(pool, many, RING) == RING);
			for (i = 0; i < RING; i++)
				many[i]->len = 60;
			s = unic_tx_burst(dev, 0, many, RING);
			unic_buf_free_bulk(many + s, (uint32_t)(RING - s));
		}
		CHECK(bad_count() == 1);
		break;
	case HDR_SHORT:
		dev_rx_one(100, &id, &len);
		dev_push(rq, id, h - 1u, 1);
		break;
	case NUMBUF_ZERO:
	case NUMBUF_HUGE:
		if (h != 12) {
			applies = false;
			break;
		}
		dev_rx_one(100, &id, &len);
		{
			uint8_t *p = (uint8_t *)(uintptr_t)(kind == PACKED ? rq->pdesc[(rq->apos + rq->size - 1) % rq->size].addr
									   : rq->desc[id].addr);
			uint16_t nb = a == NUMBUF_ZERO ? 0 : 60000;
			memcpy(p + HDR_NUM_BUFFERS, &nb, 2);
		}
		dev_push(rq, id, 100u + h, 1);
		break;
	case PACKED_LOOP:
		if (kind != PACKED) {
			applies = false;
			break;
		}
		/* every descriptor of the ring marked used, all with the same id */
		dev_rx_one(100, &id, &len);
		for (i = 0; i < rq->size; i++)
			dev_push(rq, id, 100u + h, 1);
		break;
	case TX_LEN:
		if (kind == PACKED) { /* spec 2.8: the length of a used read-only buffer is ignored */
			CHECK(unic_buf_alloc_bulk(pool, bufs, 1) == 1);
			bufs[0]->len = 60;
			CHECK(unic_tx_burst(dev, 0, bufs, 1) == 1);
			CHECK(dev_pop(tq, &id, &addr, &len, &flags));
			dev_push(tq, id, 10u, 1);
			{
				struct unic_buf *many[RING];
				uint16_t s;
				CHECK(unic_buf_alloc_bulk(pool, many, RING) == RING);
				for (i = 0; i < RING; i++)
					many[i]->len = 60;
				s = unic_tx_burst(dev, 0, many, RING);
				CHECK(s > 0); /* reclaimed the buffer, and not broken */
				unic_buf_free_bulk(many + s, (uint32_t)(RING - s));
			}
			CHECK(bad_count() == 0);
			applies = false;
			printf("packed / tx used length: ignored as spec 2.8 says, queue keeps going\n");
			break;
		}
		/* fall through */
	case TX_ID_RANGE:
		CHECK(unic_buf_alloc_bulk(pool, bufs, 1) == 1);
		bufs[0]->len = 60;
		CHECK(unic_tx_burst(dev, 0, bufs, 1) == 1);
		CHECK(dev_pop(tq, &id, &addr, &len, &flags));
		dev_push(tq, a == TX_LEN ? id : 9999u, a == TX_LEN ? 10u : 0u, 1);
		{
			struct unic_buf *many[RING];
			uint16_t s;
			CHECK(unic_buf_alloc_bulk(pool, many, RING) == RING);
			for (i = 0; i < RING; i++)
				many[i]->len = 60;
			s = unic_tx_burst(dev, 0, many, RING);
			unic_buf_free_bulk(many + s, (uint32_t)(RING - s));
			/* broken: tx takes nothing more */
			CHECK(unic_buf_alloc_bulk(pool, many, 1) == 1);
			many[0]->len = 60;
			CHECK(unic_tx_burst(dev, 0, many, 1) == 0);
			unic_buf_free(many[0]);
		}
		CHECK(bad_count() == 1);
		break;
	default:
		break;
	}
	if (applies && a != ID_NOT_GIVEN && a != TX_LEN && a != TX_ID_RANGE) {
		uint16_t got = unic_rx_burst(dev, 0, bufs, RING);
		/* ID_REPEAT / PACKED_LOOP: the first of the repeats is a real frame */
		unic_buf_free_bulk(bufs, got);
		CHECK(got <= 1);
		CHECK(bad_count() == 1);
		/* broken: a later valid frame is not taken, the count does not grow */
		if (rq->packed || (uint16_t)(rq->used_idx - rq->last_avail) < rq->size) {
			if (dev_pop(rq, &id, &addr, &len, &flags))
				dev_push(rq, id, 100u + h, 1);
		}
		CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0);
		CHECK(bad_count() == 1);
	}
	if (applies)
		printf("hostile %s / %s: counted %llu, queue stopped\n", kname(kind), attack_name[a],
		       (unsigned long long)bad_count());
	teardown();
}

/* A frame spread over 3 buffers (MRG_RXBUF) is dropped whole and counted; the next one is fine. */
static void test_merged(enum kind kind)
{
	struct fq *rq = &fk.q[0];
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t id, ids[3], h, i;
	uint32_t len;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	h = hdr_len();
	for (i = 0; i < 3; i++) {
		dev_rx_one(100, &ids[i], &len);
		if (i == 0) {
			uint8_t *p = (uint8_t *)(uintptr_t)(rq->packed ? rq->pdesc[(rq->apos + rq->size - 1) % rq->size].addr
								       : rq->desc[ids[0]].addr);
			p[HDR_NUM_BUFFERS] = 3;
		}
	}
	for (i = 0; i < 3; i++)
		dev_push(rq, ids[i], i ? 1000u : 1000u + h, 1);
	dev_rx_one(80, &id, &len);
	dev_push(rq, id, 80u + h, 1);
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 1);
	CHECK(bufs[0]->len == 80);
	unic_buf_free(bufs[0]);
	unic_stats(dev, &st);
	CHECK(st.rx_dropped == 1 && st.bad_device == 0 && st.rx_packets == 1);
	printf("merged %s: 3-buffer frame dropped (rx_dropped %llu), next frame received\n", kname(kind),
	       (unsigned long long)st.rx_dropped);
	teardown();
}

/* Random bytes at random places of the pool's DMA memory: every room the device may write. */
static void scribble_rooms(void)
{
	uint8_t *m = pool->mem.virt;
	size_t i;

	for (i = 0; i < pool->mem.size / 64; i++)
		m[(size_t)rand() % pool->mem.size] = (uint8_t)rand();
}

/* Random bytes over everything the device can write; only ASan and the pool count judge. */
static void test_garbage(enum kind kind, unsigned trials)
{
	struct unic_buf *bufs[RING];
	unsigned t, broke = 0;
	uint16_t q, got, i;

	srand(12345 + kind);
	for (t = 0; t < trials; t++) {
		if (!setup(kind)) {
			CHECK(!"setup");
			return;
		}
		CHECK(unic_buf_alloc_bulk(pool, bufs, 8) == 8);
		for (i = 0; i < 8; i++)
			bufs[i]->len = 60;
		got = unic_tx_burst(dev, 0, bufs, 8);
		unic_buf_free_bulk(bufs + got, 8u - got);
		for (q = 0; q < 2; q++) {
			struct fq *f = &fk.q[q];
			uint8_t *p;
			size_t n;
			if (f->packed) {
				p = (uint8_t *)(uintptr_t)f->pdesc;
				n = virtq_mem_size(f->size, true, 4);
			} else {
				p = (uint8_t *)(uintptr_t)f->used;
				n = 4 + 8u * f->size + 2;
			}
			for (size_t j = 0; j < n; j++)
				if (rand() % 4 == 0)
					p[j] = (uint8_t)rand();
		}
		scribble_rooms();
		for (i = 0; i < 3; i++) {
			got = unic_rx_burst(dev, 0, bufs, RING);
			unic_buf_free_bulk(bufs, got);
			CHECK(unic_buf_alloc_bulk(pool, bufs, RING) == RING);
			for (q = 0; q < RING; q++)
				bufs[q]->len = 60;
			got = unic_tx_burst(dev, 0, bufs, RING);
			unic_buf_free_bulk(bufs + got, (uint32_t)(RING - got));
		}
		broke += bad_count() > 0;
		teardown();
	}
	CHECK(broke > 0);
	printf("garbage %s: %u trials, %u caught a bad value, no access out of bounds\n", kname(kind), trials, broke);
}

/* ---- in order (VIRTIO_F_IN_ORDER: spec 2.7.5, 2.7.9, 2.8.8) ---- */

/* Sends n 60-byte frames on tx queue 0 and lets the device take them: their ids in ids[]. */
static void tx_popped(uint16_t n, uint16_t *ids)
{
	struct unic_buf *b[RING];
	uint16_t i, flags;
	uint64_t addr;
	uint32_t len;

	CHECK(unic_buf_alloc_bulk(pool, b, n) == n);
	for (i = 0; i < n; i++)
		b[i]->len = 60;
	CHECK(unic_tx_burst(dev, 0, b, n) == n);
	for (i = 0; i < n; i++)
		CHECK(dev_pop(&fk.q[1], &ids[i], &addr, &len, &flags));
}

/* Broken tx queue: a frame is not taken any more. */
static bool tx_stopped(void)
{
	struct unic_buf *b;
	uint16_t sent;

	CHECK(unic_buf_alloc_bulk(pool, &b, 1) == 1);
	b->len = 60;
	sent = unic_tx_burst(dev, 0, &b, 1);
	if (!sent)
		unic_buf_free(b);
	return sent == 0;
}

/*
 * A device that completes in batches: tx buffers given back with one used entry per batch
 * of 1 to 13 (ring positions wrap several times), every buffer back, nothing counted; a
 * receive batch of 3: the two buffers without an entry count as written whole.
 */
static void test_in_order_batches(enum kind kind)
{
	struct fq *rq = &fk.q[0], *tq = &fk.q[1];
	struct unic_buf *bufs[RING];
	uint16_t ids[RING], h, i, j, round, batches = 0;
	uint32_t buflen[3], reclaimed = 0, free_before;

	in_order = true;
	if (!setup(kind)) {
		CHECK(!"setup");
		in_order = false;
		return;
	}
	CHECK(fk.accepted & F(VIRTIO_F_IN_ORDER));
	h = hdr_len();
	free_before = unic_mempool_free_count(pool);
	srand(777 + kind);
	check_order = true;
	for (round = 0; round < 7; round++) {
		tx_popped(40, ids);
		for (j = 0; j < 40; j += i, batches++) {
			i = (uint16_t)(1 + rand() % 13);
			if (i > 40 - j)
				i = (uint16_t)(40 - j);
			dev_push_batch(tq, ids[j + i - 1], 0, i, i);
		}
		reclaimed += unic_tx_reclaim(dev, 0);
	}
	check_order = false;
	CHECK(tq->order_errors == 0);
	CHECK(reclaimed == 7 * 40 && unic_mempool_free_count(pool) == free_before);
	CHECK(bad_count() == 0);

	for (i = 0; i < 3; i++)
		dev_rx_one(100, &ids[i], &buflen[i]);
	dev_push_batch(rq, ids[2], 100u + h, 3, 3);
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 3);
	CHECK(bufs[0]->len == buflen[0] - h && bufs[1]->len == buflen[1] - h && bufs[2]->len == 100);
	unic_buf_free_bulk(bufs, 3);
	CHECK(bad_count() == 0);
	printf("in order %s: 280 tx buffers back in %u batches (one used entry each), a 3-buffer rx batch delivered "
	       "(lengths %u, %u, %u), bad_device 0\n", kind_name[kind], batches, buflen[0] - h, buflen[1] - h, 100);
	teardown();
	in_order = false;
}

enum in_order_lie { IO_BEHIND, IO_AHEAD, IO_SHORT_INDEX, IO_LEN, IO_CHAIN, NIO_LIES };
static const char *const io_lie_name[] = {
	"an id the driver already took back", "an id past what the device holds",
	"a batch longer than the used index counts", "a batch whose length is larger than its buffer",
	"a control reply naming a chain's second descriptor",
};

/* Each lie on a new in-order device: counted once, the queue stops; good entries before it count. */
static void test_in_order_lie(enum kind kind, enum in_order_lie lie)
{
	struct fq *rq = &fk.q[0], *tq = &fk.q[1];
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t ids[4], i, h;
	uint32_t len;
	bool ok;

	in_order = true;
	if (lie == IO_CHAIN) {
		memset(&opt, 0, sizeof opt);
		opt.offer = F(NET_F_MQ);
		opt.max_pairs = 2;
		opt.rx_queues = opt.tx_queues = 2;
		ctrl_lie_inside_next = true;
		ok = setup(kind);
		ctrl_lie_inside_next = false;
		memset(&opt, 0, sizeof opt);
		CHECK(!ok && strstr(dev->err, "control queue is broken") && strstr(dev->err, "MQ_VQ_PAIRS_SET"));
		CHECK(unic_stats(dev, &st) == 0 && st.bad_device == 1);
		printf("in order %s / %s: %s (bad_device %llu)\n", kind_name[kind], io_lie_name[lie], dev->err,
		       (unsigned long long)st.bad_device);
		dev->drv->close(dev);
		CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
		in_order = false;
		return;
	}
	if (!setup(kind)) {
		CHECK(!"setup");
		in_order = false;
		return;
	}
	h = hdr_len();
	switch (lie) {
	case IO_BEHIND: /* the first of 4 back, then its id again */
		tx_popped(4, ids);
		dev_push_batch(tq, ids[0], 0, 1, 1);
		dev_push_batch(tq, ids[0], 0, 1, 1);
		CHECK(unic_tx_reclaim(dev, 0) == 1);
		CHECK(tx_stopped());
		break;
	case IO_AHEAD: /* 4 held, the entry names the 6th (split: the index says 4, no more) */
		tx_popped(4, ids);
		dev_push_batch(tq, (ids[0] + 5u) % tq->size, 0, 4, 4);
		CHECK(unic_tx_reclaim(dev, 0) == 0);
		CHECK(tx_stopped());
		break;
	case IO_SHORT_INDEX: /* packed has no index: there the same entry is a good batch of 4 */
		tx_popped(4, ids);
		dev_push_batch(tq, ids[3], 0, 4, kind == SPLIT ? 1 : 4);
		CHECK(unic_tx_reclaim(dev, 0) == (kind == SPLIT ? 0 : 4));
		CHECK(tx_stopped() == (kind == SPLIT));
		if (kind != SPLIT) {
			CHECK(bad_count() == 0);
			printf("in order %s / %s: no index to lie with, a good batch of 4\n", kind_name[kind], io_lie_name[lie]);
			teardown();
			in_order = false;
			return;
		}
		break;
	case IO_LEN: /* a good frame, then a batch of 2 whose length overflows its last buffer */
		dev_rx_one(100, &ids[0], &len);
		dev_push(rq, ids[0], 100u + h, 1);
		for (i = 1; i < 3; i++)
			dev_rx_one(100, &ids[i], &len);
		dev_push_batch(rq, ids[2], len + 1, 2, 2);
		CHECK(unic_rx_burst(dev, 0, bufs, RING) == 1);
		unic_buf_free(bufs[0]);
		CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0);
		break;
	default:
		break;
	}
	CHECK(bad_count() == 1);
	printf("in order %s / %s: counted %llu, queue stopped\n", kind_name[kind], io_lie_name[lie],
	       (unsigned long long)bad_count());
	teardown();
	in_order = false;
}

/*
 * Issue 9 item 1: a packed device in DESC mode whose off_wrap is stale, as QEMU's is:
 * it writes off_wrap when it enables notifications (at the descriptor it would take
 * next), pops on without moving it, and then waits for a notification. The driver must
 * still notify, or both ends stall for good.
 */
static void test_packed_stale_event(void)
{
	struct fq *tq = &fk.q[1];
	struct unic_buf *b[8];
	uint16_t id, flags, i, burst;
	uint64_t addr;
	uint32_t len;
	unsigned before, missed = 0;

	if (!setup(PACKED)) {
		CHECK(!"setup");
		return;
	}
	/* the device enables notifications at the descriptor it takes next */
	tq->dev_event->off_wrap = (uint16_t)(tq->apos | (tq->awrap << VRING_PACKED_EVENT_F_WRAP_CTR));
	tq->dev_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
	for (burst = 0; burst < 4; burst++) {
		CHECK(unic_buf_alloc_bulk(pool, b, 8) == 8);
		for (i = 0; i < 8; i++)
			b[i]->len = 60;
		before = tq->notified;
		CHECK(unic_tx_burst(dev, 0, b, 8) == 8);
		missed += tq->notified == before;
		/* it takes and completes everything, off_wrap left where it was, and waits */
		while (dev_pop(tq, &id, &addr, &len, &flags))
			dev_push(tq, id, 0, 1);
	}
	CHECK(missed == 0);
	printf("packed stale DESC off_wrap: %u of 4 tx bursts left the waiting device without a notification\n", missed);
	teardown();
}

/*
 * Issue 9 item 17: good frames read in the same ring pass as a bad used entry are
 * delivered (or counted), never freed uncounted. The third of four used entries lies:
 * header: its num_buffers is 0 (the fourth, read in the same pass, is then dropped and
 * counted); else its id is out of range (the ring stops there).
 */
static void test_good_then_bad(enum kind kind, bool header)
{
	struct fq *rq = &fk.q[0];
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t id, h, got, i;
	uint32_t len;
	uint64_t counted;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	h = hdr_len();
	if (header && h != 12) {
		teardown();
		return;
	}
	for (i = 0; i < 4; i++) {
		dev_rx_one(100, &id, &len);
		if (i == 2 && header) {
			uint8_t *p = (uint8_t *)(uintptr_t)(rq->packed ? rq->pdesc[(rq->apos + rq->size - 1) % rq->size].addr
								       : rq->desc[id].addr);
			p[HDR_NUM_BUFFERS] = 0;
		}
		dev_push(rq, i == 2 && !header ? rq->size + 5u : id, 100u + h, 1);
	}
	got = unic_rx_burst(dev, 0, bufs, RING);
	unic_buf_free_bulk(bufs, got);
	unic_stats(dev, &st);
	/* the bad entry itself is the one counted in bad_device */
	counted = st.rx_packets + st.rx_dropped + st.rx_errors;
	printf("good then bad %s (%s): delivered %u, rx_packets %llu, rx_dropped %llu, bad_device %llu; "
	       "frames before the lie uncounted: %llu\n", kname(kind), header ? "num_buffers 0" : "id out of range",
	       got, (unsigned long long)st.rx_packets, (unsigned long long)st.rx_dropped,
	       (unsigned long long)st.bad_device, (unsigned long long)(2 - (counted < 2 ? counted : 2)));
	CHECK(got == 2 && st.rx_packets == 2);
	CHECK(st.bad_device == 1);
	/* the frame after a lying header was read in the same pass: counted as dropped */
	CHECK(st.rx_dropped == (header ? 1u : 0u));
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0); /* broken: nothing more */
	teardown();
}

/* ---- random device writes (the hostile harness) ---- */

#define RANDOM_WRITES 1000000ull
#define RANDOM_SEED 0x9e3779b97f4a7c15ull

static uint64_t rng_state;

/* xorshift64*: a fixed, printed seed makes a failing run repeatable */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* n bytes at DMA address addr inside one pool room (rooms are room_size apart, none crosses a
 * page), or NULL: the test device reads and writes only there, whatever the (randomly
 * rewritten) descriptors say. */
static uint8_t *pool_span(uint64_t addr, uint32_t n)
{
	const struct unic_dma *m = &pool->mem;
	uint64_t base = (uint64_t)(uintptr_t)m->virt, off = addr - base, page, idx, room;

	if (addr < base || off >= m->size || n > pool->room_size)
		return NULL;
	page = off / m->page_size;
	idx = off % m->page_size / pool->room_size;
	if (idx >= pool->per_page || page * pool->per_page + idx >= pool->num_entries)
		return NULL;
	room = page * m->page_size + idx * pool->room_size;
	if (off + n > room + pool->room_size)
		return NULL;
	return (uint8_t *)m->virt + off;
}

/* dev_pop for a device that cannot trust the ring either: an id out of range gives no buffer */
static bool hdev_pop(struct fq *q, uint16_t *id, uint8_t **p, uint32_t *len)
{
	uint16_t flags;
	uint64_t addr;

	if (q->packed) {
		if (!dev_pop(q, id, &addr, len, &flags))
			return false;
	} else {
		*(volatile uint16_t *)(q->used + 4 + 8 * q->size) = q->last_avail;
		if (q->avail[1] == q->last_avail)
			return false;
		*id = q->avail[2 + q->last_avail % q->size];
		q->last_avail++;
		addr = *id < q->size ? q->desc[*id].addr : 0;
		*len = *id < q->size ? q->desc[*id].len : 0;
	}
	*p = pool_span(addr, *len);
	return true;
}

/* Bytes of ring memory the device can write: the whole ring area of a queue. */
static size_t ring_bytes(const struct fq *q, uint8_t **base, size_t *device_area)
{
	if (q->packed) {
		*base = (uint8_t *)(uintptr_t)q->pdesc;
		*device_area = sizeof(struct vring_packed_desc) * q->size; /* the two event areas follow */
		return virtq_mem_size(q->size, true, 4);
	}
	*base = (uint8_t *)(uintptr_t)q->desc;
	*device_area = (size_t)(q->used - *base); /* the used ring and avail_event follow */
	return *device_area + 4 + 8u * q->size + 2;
}

/* One random 1, 2 or 4-byte write into a ring, mostly where the device really writes. */
static void random_ring_write(void)
{
	struct fq *q = &fk.q[rnd() & 1];
	uint8_t *base;
	size_t area, n = ring_bytes(q, &base, &area), lo = rnd() % 4 ? area : 0, off;
	unsigned w = 1u << (rnd() % 3);
	uint32_t v = (uint32_t)rnd();

	if (q->packed && lo) /* packed: the descriptors are the device's too */
		lo = rnd() % 8 ? 0 : area;
	off = (lo + rnd() % (n - lo)) & ~(size_t)(w - 1);
	if (off + w > n)
		off = n - w;
	memcpy(base + off, &v, w);
}

/*
 * The device: transmit what tx gave into rx, lying in a header now and then. In order, it
 * gives half of the tx rounds back as one batch (one used entry naming the last id, 2.7.9 /
 * 2.8.8), whatever the (randomly rewritten) ring said the ids were.
 */
static uint64_t hostile_device(void)
{
	static uint8_t wire[RING][2048];
	static uint32_t wlen[RING];
	struct fq *tx = &fk.q[1], *rx = &fk.q[0];
	uint16_t id, h = hdr_len(), popped = 0;
	unsigned n = 0, i;
	uint64_t writes = 0;
	uint32_t len;
	uint8_t *p;
	bool batch = (fk.accepted & F(VIRTIO_F_IN_ORDER)) && rnd() % 2;

	while (n < RING && hdev_pop(tx, &id, &p, &len)) {
		wlen[n] = p && len > h && len - h <= sizeof wire[0] ? len - h : 0;
		if (wlen[n])
			memcpy(wire[n], p + h, wlen[n]);
		if (batch)
			popped++;
		else
			dev_push(tx, id, 0, 1);
		n += wlen[n] > 0;
	}
	if (popped)
		dev_push_batch(tx, id, 0, popped, popped);
	for (i = 0; i < n && hdev_pop(rx, &id, &p, &len); i++) {
		p = len >= wlen[i] + h ? pool_span((uint64_t)(uintptr_t)p, wlen[i] + h) : NULL;
		if (!p) {
			dev_push(rx, id, 0, 1);
			continue;
		}
		memset(p, 0, h);
		if (h == 12)
			p[HDR_NUM_BUFFERS] = 1;
		if (rnd() % 8 == 0) { /* a header the device got wrong: num_buffers or any byte */
			p[rnd() % 2 ? HDR_NUM_BUFFERS : rnd() % h] = (uint8_t)rnd();
			writes++;
		}
		memcpy(p + h, wire[i], wlen[i]);
		dev_push(rx, id, wlen[i] + h, 1);
	}
	return writes;
}

struct random_run {
	uint64_t writes, rounds, restarts, frames, bad;
};

/* Random device writes interleaved with rx and tx bursts until target writes were made. */
static void random_writes(enum kind kind, bool event_idx, bool io, uint64_t target, struct random_run *r)
{
	struct unic_buf *bufs[RING];
	unsigned broken_rounds = 0, idle = 0, i;
	uint16_t n, got, room = (uint16_t)(pool->room_size - UNIC_HEADROOM);

	memset(r, 0, sizeof *r);
	in_order = io;
	offer_mask = event_idx ? ~0ull : ~F(VIRTIO_F_RING_EVENT_IDX);
	if (!setup(kind)) {
		CHECK(!"setup");
		offer_mask = ~0ull;
		return;
	}
	while (r->writes < target) {
		n = (uint16_t)(1 + rnd() % 16);
		CHECK(unic_buf_alloc_bulk(pool, bufs, n) == n);
		for (i = 0; i < n; i++)
			bufs[i]->len = (uint16_t)(60 + rnd() % 200);
		got = unic_tx_burst(dev, 0, bufs, n);
		unic_buf_free_bulk(bufs + got, (uint32_t)(n - got));
		r->writes += hostile_device();
		for (i = (unsigned)(rnd() % 4); i > 0; i--, r->writes++)
			random_ring_write();
		got = unic_rx_burst(dev, 0, bufs, RING);
		for (i = 0; i < got; i++) /* what reaches the application fits its buffer */
			CHECK(bufs[i]->data_off == UNIC_HEADROOM && bufs[i]->len > 0 && bufs[i]->len <= room);
		unic_buf_free_bulk(bufs, got);
		r->frames += got;
		r->rounds++;
		/* a broken queue stays quiet for a few rounds, then a new device; so does one
		 * that stopped delivering (a scribbled flag or index it waits behind) */
		idle = got ? 0 : idle + 1;
		if ((bad_count() && ++broken_rounds > 2) || idle > 16) {
			r->bad += bad_count();
			teardown(); /* every buffer is back in the pool */
			if (!setup(kind)) {
				CHECK(!"setup");
				break;
			}
			r->restarts++;
			broken_rounds = idle = 0;
		}
	}
	r->bad += bad_count();
	teardown();
	offer_mask = ~0ull;
	in_order = false;
}

/* full: the million writes per ring type; else a tenth (the same on another rx path) */
static void test_random_writes(bool full)
{
	/* in order: a quarter as many again (each configuration restarts the device ~40,000 times) */
	uint64_t target = full ? RANDOM_WRITES : RANDOM_WRITES / 10;
	static const struct { enum kind kind; bool event_idx, in_order; uint64_t parts; const char *name; } cfgs[] = {
		{ SPLIT, true, false, 2, "split" },
		{ SPLIT, false, false, 2, "split, no EVENT_IDX" },
		{ SPLIT, true, true, 4, "split, IN_ORDER (batches)" },
		{ PACKED, true, false, 2, "packed" },
		{ PACKED, false, false, 2, "packed, no EVENT_IDX" },
		{ PACKED, true, true, 4, "packed, IN_ORDER (batches)" },
	};
	uint64_t total[NKINDS] = { 0 };
	struct random_run r;
	size_t c;

	rng_state = RANDOM_SEED;
	printf("random device writes: seed %#llx\n", (unsigned long long)RANDOM_SEED);
	for (c = 0; c < UNIC_ARRAY_SIZE(cfgs); c++) {
		random_writes(cfgs[c].kind, cfgs[c].event_idx, cfgs[c].in_order, target / cfgs[c].parts, &r);
		total[cfgs[c].kind] += r.writes;
		CHECK(r.bad > 0 && r.frames > 0);
		printf("  %s: %llu writes in %llu rounds, %llu frames delivered, %llu bad values counted, "
		       "%llu new devices\n", cfgs[c].name, (unsigned long long)r.writes, (unsigned long long)r.rounds,
		       (unsigned long long)r.frames, (unsigned long long)r.bad, (unsigned long long)r.restarts);
	}
	CHECK(total[SPLIT] >= target && total[PACKED] >= target);
	/* the sanitizer build stops at the first ASan or UBSan report: getting here means none */
	printf("random device writes: split %llu, packed %llu, reports 0\n", (unsigned long long)total[SPLIT],
	       (unsigned long long)total[PACKED]);
}

/* A device that offers less still works with what it offers; a missing required bit is named. */
static void test_tolerant(void)
{
	struct unic_buf *b[4];
	struct unic_link link;
	uint8_t mac[6];

	offer_mask = F(VIRTIO_F_VERSION_1); /* no MAC, STATUS, CTRL_VQ, MRG_RXBUF, EVENT_IDX */
	CHECK(setup(SPLIT));
	CHECK(unic_link(dev, &link) == 0 && link.up); /* 5.1.4.2: up without STATUS */
	CHECK(unic_mac(dev, mac) == 0 && (mac[0] & 3) == 2); /* random, locally administered, unicast */
	CHECK(unic_set_promisc(dev, true) == -ENOTSUP && strstr(dev->err, "bit 18"));
	CHECK(unic_buf_alloc_bulk(pool, b, 4) == 4);
	for (int i = 0; i < 4; i++)
		b[i]->len = 60;
	CHECK(unic_tx_burst(dev, 0, b, 4) == 4);
	CHECK(device_loopback() == 4);
	CHECK(unic_rx_burst(dev, 0, b, 4) == 4);
	unic_buf_free_bulk(b, 4);
	teardown();
	printf("tolerant: a device offering only VERSION_1 works (link up, random MAC %02x:..., no promisc)\n", mac[0]);

	offer_mask = ~F(VIRTIO_F_VERSION_1); /* modern transport without VERSION_1 */
	CHECK(!setup(PACKED));
	CHECK(strstr(dev->err, "VIRTIO_F_VERSION_1 (bit 32)") != NULL);
	dev->drv->close(dev);
	offer_mask = ~0ull;
	fail_features_ok = true;
	CHECK(!setup(SPLIT));
	CHECK(strstr(dev->err, "FEATURES_OK") != NULL);
	dev->drv->close(dev);
	fail_features_ok = false;
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
}

/* cfg.no_packed_ring: a device offering RING_PACKED gets the split ring, and it works. */
static void test_no_packed_ring(void)
{
	struct unic_buf *b[4];
	int i;

	no_packed_ring = true;
	CHECK(setup(PACKED));
	no_packed_ring = false;
	CHECK(fk.offered & F(VIRTIO_F_RING_PACKED));
	CHECK(!(fk.accepted & F(VIRTIO_F_RING_PACKED)));
	CHECK(!fk.q[0].packed && !fk.q[1].packed);
	CHECK(strstr(dev->features, " split") != NULL && strstr(dev->features, "packed") == NULL);
	CHECK(unic_buf_alloc_bulk(pool, b, 4) == 4);
	for (i = 0; i < 4; i++)
		b[i]->len = 60;
	CHECK(unic_tx_burst(dev, 0, b, 4) == 4);
	CHECK(device_loopback() == 4);
	CHECK(unic_rx_burst(dev, 0, b, 4) == 4);
	unic_buf_free_bulk(b, 4);
	printf("no_packed_ring: offered RING_PACKED, negotiated '%s'\n", dev->features);
	teardown();
}

/* ---- multi-queue (spec 5.1.6.5.5), RSS (5.1.6.5.7.1), MTU (5.1.4) ---- */

static void opt_mq(uint16_t max_pairs, uint16_t queues)
{
	memset(&opt, 0, sizeof opt);
	opt.offer = F(NET_F_MQ);
	opt.max_pairs = max_pairs;
	opt.rx_queues = opt.tx_queues = queues;
}

/* n frames out of tx queue k, through the device's pair k, back on rx queue k: byte for byte. */
static void roundtrip_queue(uint16_t k, uint16_t n, uint32_t seq0)
{
	struct unic_buf *b[RING];
	uint16_t i, got;

	CHECK(unic_buf_alloc_bulk(pool, b, n) == n);
	for (i = 0; i < n; i++) {
		b[i]->len = (uint16_t)(60 + i * 11);
		fill_frame(unic_buf_data(b[i]), b[i]->len, seq0 + i);
	}
	CHECK(unic_tx_burst(dev, k, b, n) == n);
	CHECK(device_loopback_pair(k) == n);
	got = unic_rx_burst(dev, k, b, RING);
	CHECK(got == n);
	for (i = 0; i < got; i++) {
		uint8_t want[2048];
		fill_frame(want, (uint16_t)(60 + i * 11), seq0 + i);
		CHECK(b[i]->rx_queue == k && b[i]->len == 60 + i * 11 && !memcmp(unic_buf_data(b[i]), want, b[i]->len));
	}
	unic_buf_free_bulk(b, got);
}

/* 2 of the device's 4 pairs: VQ_PAIRS_SET 2, control queue at 8, each queue its own frames and counters. */
static void test_mq(enum kind kind)
{
	struct unic_queue_stats qs;
	struct unic_stats st;
	uint16_t k;

	opt_mq(4, 2);
	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	CHECK(fk.accepted & F(NET_F_MQ));
	CHECK(fk.ctrl_index == 8 && fk.q[8].size == (kind == LEGACY ? 16 : 64));
	CHECK(fk.pairs_set == 2);
	CHECK(dev->num_rxq == 2 && dev->num_txq == 2);
	CHECK(fk.q[0].size && fk.q[1].size && fk.q[2].size && fk.q[3].size && !fk.q[4].size && !fk.q[6].size);
	for (k = 0; k < 2; k++)
		roundtrip_queue(k, (uint16_t)(3 + 4 * k), 100u * k);
	for (k = 0; k < 2; k++) {
		CHECK(unic_queue_stats(dev, k, &qs) == 0);
		CHECK(qs.rx_packets == 3u + 4 * k && qs.tx_packets == 3u + 4 * k && qs.bad_device == 0);
	}
	CHECK(unic_stats(dev, &st) == 0 && st.rx_packets == 10 && st.tx_packets == 10);
	CHECK(unic_set_promisc(dev, true) == 0 && fk.promisc); /* the control queue at its new place */
	printf("mq %s: 2 of 4 pairs, VQ_PAIRS_SET %u, control queue %u; queue 0: 3 frames, queue 1: 7 frames, "
	       "per-queue counters agree\n", kname(kind), fk.pairs_set, fk.ctrl_index);
	teardown();
	memset(&opt, 0, sizeof opt);
}

/* setup() must fail with a line that contains want; every buffer comes back. */
static void expect_refused(enum kind kind, const char *what, const char *want)
{
	bool ok = setup(kind);

	CHECK(!ok);
	CHECK(strstr(dev->err, want) != NULL);
	printf("mq refused (%s): %s\n", what, dev->err);
	dev->drv->close(dev);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
}

static void test_mq_refused(enum kind kind)
{
	opt_mq(4, 5);
	expect_refused(kind, "more queues than pairs", "has 4 queue pairs: give rx_queues and tx_queues of at most 4");
	opt_mq(1, 2);
	opt.offer = 0;
	expect_refused(kind, "no MQ", "one queue pair (it offers no VIRTIO_NET_F_MQ");
	opt_mq(1, 2); /* MQ offered, one pair: QEMU's device on a one-queue netdev (a hub port) */
	expect_refused(kind, "MQ with max_virtqueue_pairs 1", "one queue pair (its max_virtqueue_pairs is 1");
	opt_mq(4, 2);
	offer_mask = ~F(NET_F_CTRL_VQ);
	expect_refused(kind, "MQ without CTRL_VQ", "needs VIRTIO_NET_F_CTRL_VQ");
	offer_mask = ~0ull;
	opt_mq(0, 2);
	expect_refused(kind, "max_virtqueue_pairs 0", "max_virtqueue_pairs 0 is outside");
	opt_mq(4, 2);
	opt.rx_queues = 1;
	expect_refused(kind, "fewer rx than tx queues without RSS", "give rx_queues 2 too");
	memset(&opt, 0, sizeof opt);
}

/* The control queue's MQ reply: refused (ack 1), or handed back with an id never given. */
static void test_mq_reply(enum kind kind)
{
	struct unic_stats st;
	bool ok;

	opt_mq(4, 2);
	mq_ack_next = 1;
	ok = setup(kind);
	CHECK(!ok && strstr(dev->err, "refused control command MQ_VQ_PAIRS_SET (ack 1)"));
	printf("mq reply refused: %s\n", dev->err);
	dev->drv->close(dev);
	mq_ack_next = 0;
	ctrl_lie_next = true;
	ok = setup(kind);
	CHECK(!ok && strstr(dev->err, "control queue is broken") && strstr(dev->err, "MQ_VQ_PAIRS_SET"));
	CHECK(unic_stats(dev, &st) == 0 && st.bad_device == 1);
	printf("mq reply with a bad id: %s (bad_device %llu)\n", dev->err, (unsigned long long)st.bad_device);
	dev->drv->close(dev);
	ctrl_lie_next = false;
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	memset(&opt, 0, sizeof opt);
}

static uint16_t rss_u16(unsigned off) { uint16_t v; memcpy(&v, fk.rss + off, 2); return v; }

/* RSS_CONFIG as the device reads it: hash types, mask, table, max_tx_vq, key. */
static void check_rss_config(uint16_t reta_len, uint16_t tx, const uint16_t *reta, const uint8_t *key)
{
	uint32_t types;
	uint16_t i, off = (uint16_t)(8 + 2 * reta_len);
	bool table_ok = true;

	memcpy(&types, fk.rss, 4);
	CHECK(fk.rss_len == 8u + 2u * reta_len + 2 + 1 + 40);
	CHECK(types == 0x3f); /* IPv4, TCPv4, UDPv4, IPv6, TCPv6, UDPv6 of the 0x1ff offered */
	CHECK(rss_u16(4) == reta_len - 1 && rss_u16(6) == 0);
	for (i = 0; i < reta_len; i++)
		table_ok &= rss_u16(8u + 2u * i) == reta[i];
	CHECK(table_ok);
	CHECK(rss_u16(off) == tx && fk.rss[off + 2] == 40 && !memcmp(fk.rss + off + 3, key, 40));
}

static void test_rss(void)
{
	static const uint8_t ms_key[40] = { 0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d,
					    0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
					    0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b,
					    0xbe, 0xac, 0x01, 0xfa };
	uint16_t reta[128], ones[128], i;
	uint8_t key[40];
	struct unic_info info;

	opt_mq(4, 2);
	opt.offer |= F(NET_F_RSS);
	opt.rss_key_max = 40;
	opt.rss_reta_max = 128;
	opt.hash_types = 0x1ff;
	CHECK(setup(SPLIT));
	CHECK(fk.accepted & F(NET_F_RSS));
	CHECK(fk.rss_count == 1 && fk.pairs_set == 0); /* RSS_CONFIG says the pairs: no VQ_PAIRS_SET */
	for (i = 0; i < 128; i++) {
		reta[i] = i % 2;
		ones[i] = 1;
	}
	check_rss_config(128, 2, reta, ms_key);
	CHECK(unic_info(dev, &info) == 0 && info.rss_key_len == 40 && info.rss_reta_size == 128);
	CHECK(unic_set_rss(dev, NULL, 0, ones, 128) == 0);
	check_rss_config(128, 2, ones, ms_key);
	for (i = 0; i < 40; i++)
		key[i] = (uint8_t)(i * 3);
	fk.mq_ack = 1;
	CHECK(unic_set_rss(dev, key, 40, reta, 128) == -EIO);
	fk.mq_ack = 0;
	CHECK(unic_set_rss(dev, NULL, 0, NULL, 0) == 0);
	check_rss_config(128, 2, ones, ms_key); /* the refused key and table were not kept */
	CHECK(unic_set_rss(dev, key, 40, NULL, 0) == 0);
	check_rss_config(128, 2, ones, key);
	CHECK(unic_set_rss(dev, NULL, 0, reta, 64) == -EINVAL);
	ones[5] = 2;
	CHECK(unic_set_rss(dev, NULL, 0, ones, 128) == -EINVAL && strstr(dev->err, "rx queue 2"));
	roundtrip_queue(1, 4, 7);
	teardown();
	printf("rss: RSS_CONFIG of 128 entries over 2 queues, max_tx_vq 2, Microsoft's key; unic_set_rss table and "
	       "key reach the device; a refused config keeps the old one\n");

	/* one rx queue, two tx queues: the table names rx queue 0 only */
	opt.rx_queues = 1;
	opt.rss_reta_max = 256; /* more than unic uses: 128 */
	CHECK(setup(PACKED));
	memset(reta, 0, sizeof reta);
	check_rss_config(128, 2, reta, ms_key);
	CHECK(dev->num_rxq == 1 && dev->num_txq == 2);
	teardown();

	/* a device whose RSS limits are below the spec's: MQ without RSS */
	opt.rx_queues = 2;
	opt.rss_key_max = 20;
	CHECK(setup(SPLIT));
	CHECK(!(fk.accepted & F(NET_F_RSS)) && fk.pairs_set == 2 && fk.rss_count == 0);
	CHECK(unic_set_rss(dev, NULL, 0, reta, 128) == -ENOTSUP);
	teardown();
	printf("rss: one rx queue and two tx queues: the table is all 0; a 20-byte key limit: MQ without RSS\n");
	memset(&opt, 0, sizeof opt);
}

/* dev->max_mtu from what the device offers, and whether F_MTU is negotiated. */
static void mtu_case(enum kind kind, uint64_t offer, uint64_t mask, uint16_t field, uint16_t want_max, bool want_f)
{
	memset(&opt, 0, sizeof opt);
	opt.offer = offer;
	opt.mtu = field;
	offer_mask = mask;
	CHECK(setup(kind));
	CHECK(dev->max_mtu == want_max);
	CHECK(!!(fk.accepted & F(NET_F_MTU)) == want_f);
	printf("mtu %s: F_MTU %s, mtu field %u, MRG_RXBUF %s: max_mtu %u, F_MTU %snegotiated\n", kname(kind),
	       offer & F(NET_F_MTU) ? "offered" : "not offered", field, fk.offered & F(NET_F_MRG_RXBUF) ? "on" : "off",
	       dev->max_mtu, want_f ? "" : "not ");
	teardown();
	offer_mask = ~0ull;
	memset(&opt, 0, sizeof opt);
}

#define JUMBO_BUF 9216
#define JUMBO_FRAME 9018 /* mtu 9000 + Ethernet header + VLAN tag */

/* 9018-byte frames out and back in one buffer each, byte for byte; 9019 bytes is more than F_MTU allows. */
static void test_jumbo(enum kind kind, struct unic_mempool *jpool)
{
	struct unic_buf *b[4];
	struct unic_stats st;
	uint16_t i;

	memset(&opt, 0, sizeof opt);
	opt.offer = F(NET_F_MTU);
	opt.mtu = 9000;
	opt.pool = jpool;
	CHECK(setup(kind));
	CHECK(dev->max_mtu == 9000 && (fk.accepted & F(NET_F_MTU)));
	CHECK(unic_buf_alloc_bulk(jpool, b, 4) == 4);
	for (i = 0; i < 4; i++) {
		b[i]->len = i == 3 ? JUMBO_FRAME + 1 : JUMBO_FRAME - i;
		fill_frame(unic_buf_data(b[i]), b[i]->len, 500u + i);
	}
	CHECK(unic_tx_burst(dev, 0, b, 4) == 4); /* taken: the last one dropped and counted */
	CHECK(device_loopback() == 3);
	CHECK(unic_rx_burst(dev, 0, b, 4) == 3);
	for (i = 0; i < 3; i++) {
		static uint8_t want[JUMBO_FRAME];
		fill_frame(want, (uint16_t)(JUMBO_FRAME - i), 500u + i);
		CHECK(b[i]->len == JUMBO_FRAME - i && !memcmp(unic_buf_data(b[i]), want, b[i]->len));
	}
	unic_buf_free_bulk(b, 3);
	CHECK(unic_stats(dev, &st) == 0 && st.tx_packets == 3 && st.tx_dropped == 1 && st.rx_packets == 3);
	printf("jumbo %s: 3 frames of up to %u bytes round-trip byte for byte; one of %u bytes (past F_MTU 9000) "
	       "dropped (tx_dropped %llu)\n", kname(kind), JUMBO_FRAME, JUMBO_FRAME + 1,
	       (unsigned long long)st.tx_dropped);
	teardown();
	memset(&opt, 0, sizeof opt);
}

static void test_mtu(struct unic_mempool *jpool)
{
	mtu_case(SPLIT, F(NET_F_MTU), ~0ull, 9000, 9000, true);
	mtu_case(SPLIT, F(NET_F_MTU), ~0ull, 1500, 1500, true);
	mtu_case(PACKED, F(NET_F_MTU), ~0ull, 65000, 9000, true);
	mtu_case(SPLIT, F(NET_F_MTU), ~0ull, 60, 9000, false);   /* below 68: ignored; MRG_RXBUF: 9000 */
	mtu_case(SPLIT, 0, ~0ull, 0, 9000, false);               /* MRG_RXBUF: a longer frame is counted */
	mtu_case(SPLIT, 0, ~F(NET_F_MRG_RXBUF), 0, 1500, false); /* neither: Ethernet's */
	mtu_case(LEGACY, F(NET_F_MTU), ~0ull, 9000, 9000, false); /* 2048-byte buffers, no merging: not negotiated */
	test_jumbo(SPLIT, jpool);
	test_jumbo(PACKED, jpool);
	test_jumbo(LEGACY, jpool);
}

/*
 * num_buffers (5.1.6.4.2) against the buffers the device holds: all 64 rx buffers are its;
 * a frame in one of them that says 65 is impossible (bad_device, queue broken); one that says
 * 64 is a frame spread over the whole ring: dropped with its 63 continuations, then the
 * next frame arrives.
 */
static void test_numbuf_bound(enum kind kind)
{
	struct fq *rq = &fk.q[0];
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t nb, id, i, ids[RING];
	uint32_t len;
	uint8_t *p;

	for (nb = RING; nb <= RING + 1; nb++) {
		CHECK(setup(kind));
		for (i = 0; i < RING; i++) {
			dev_rx_one(100, &ids[i], &len);
			if (i == 0) {
				p = (uint8_t *)(uintptr_t)(rq->packed ? rq->pdesc[0].addr : rq->desc[ids[0]].addr);
				memcpy(p + HDR_NUM_BUFFERS, &nb, 2);
			}
		}
		dev_push(rq, ids[0], 100u + hdr_len(), 1);
		CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0);
		unic_stats(dev, &st);
		if (nb == RING + 1) {
			CHECK(st.bad_device == 1 && st.rx_dropped == 0);
		} else {
			CHECK(st.bad_device == 0 && st.rx_dropped == 1);
			for (i = 1; i < RING; i++)
				dev_push(rq, ids[i], 100u + hdr_len(), 1);
			CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0); /* the 63 continuations */
			dev_rx_one(80, &id, &len);
			dev_push(rq, id, 80u + hdr_len(), 1);
			CHECK(unic_rx_burst(dev, 0, bufs, RING) == 1 && bufs[0]->len == 80);
			unic_buf_free(bufs[0]);
			unic_stats(dev, &st);
			CHECK(st.bad_device == 0 && st.rx_dropped == 1 && st.rx_packets == 1);
		}
		printf("num_buffers %u with %u rx buffers held by the device (%s): bad_device %llu, rx_dropped %llu\n", nb,
		       RING, kname(kind), (unsigned long long)st.bad_device, (unsigned long long)st.rx_dropped);
		teardown();
	}
}

/* ---- interrupts (issue 11): arm, look again, sleep, disarm ---- */

/* Empties an eventfd; true when it held a signal. */
static bool fd_take(int fd)
{
	uint64_t n = 0;
	return read(fd, &n, sizeof n) == sizeof n && n > 0;
}

/* Readable now? (poll with no wait: what unic_rx_wait's poll would see) */
static bool fd_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * The device side of interrupt suppression after it published used entries (split:
 * the used index moved on from old): 2.7.7 NO_INTERRUPT, 2.7.10 used_event, 2.8.10
 * the driver event area (unic uses ENABLE and DISABLE only).
 */
static void dev_interrupt(struct fq *q, uint16_t old)
{
	bool want;
	uint64_t one = 1;

	if (q->packed)
		want = (q->drv_event->flags & VRING_PACKED_EVENT_FLAGS_MASK) == VRING_PACKED_EVENT_FLAG_ENABLE;
	else if (fk.accepted & F(VIRTIO_F_RING_EVENT_IDX))
		want = (uint16_t)(q->used_idx - q->avail[2 + q->size] - 1) < (uint16_t)(q->used_idx - old);
	else
		want = !(q->avail[0] & VRING_AVAIL_F_NO_INTERRUPT);
	if (want)
		CHECK(write(intr_fd[q->index], &one, sizeof one) == sizeof one);
}

/* The device receives one 100-byte frame into rx queue 0 and interrupts if asked. */
static void dev_rx_frame(void)
{
	struct fq *q = &fk.q[0];
	uint16_t id, old = q->used_idx;

	dev_rx_one(100, &id, NULL);
	dev_push(q, id, 100u + hdr_len(), 1);
	dev_interrupt(q, old);
}

static uint16_t rx_all(void)
{
	struct unic_buf *b[RING];
	uint16_t got = unic_rx_burst(dev, 0, b, RING);

	unic_buf_free_bulk(b, got);
	return got;
}

static void test_intr(enum kind kind)
{
	unsigned i;
	int fd;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	for (i = 0; i < UNIC_ARRAY_SIZE(intr_fd); i++)
		fd_take(intr_fd[i]);
	fd = unic_rx_fd(dev, 0);
	CHECK(fd == intr_fd[0]);
	/* polling (never armed): a frame interrupts nobody */
	dev_rx_frame();
	CHECK(!fd_ready(fd));
	CHECK(rx_all() == 1);
	/* armed on an empty ring: 0 (sleep); the next frame makes the descriptor readable */
	CHECK(unic_rx_intr_enable(dev, 0) == 0);
	CHECK(!fd_ready(fd));
	dev_rx_frame();
	CHECK(fd_ready(fd));
	CHECK(unic_rx_intr_disable(dev, 0) == 0);
	CHECK(!fd_ready(fd)); /* disable consumed the wake-up */
	CHECK(rx_all() == 1);
	/* disarmed again: frames interrupt nobody */
	dev_rx_frame();
	dev_rx_frame();
	CHECK(!fd_ready(fd));
	CHECK(rx_all() == 2);
	/*
	 * A frame the device used before it saw the arm gets no interrupt (it read the
	 * suppression state first): the look after arming must report it, not sleep on it.
	 */
	dev_rx_frame();
	CHECK(!fd_ready(fd));
	CHECK(unic_rx_intr_enable(dev, 0) == 1);
	CHECK(unic_rx_wait(dev, 0, 0) == 1);
	CHECK(rx_all() == 1);
	CHECK(unic_rx_intr_disable(dev, 0) == 0);
	/* unic_rx_wait: nothing within the timeout is 0; a frame is 1, and it is then disarmed */
	CHECK(unic_rx_wait(dev, 0, 0) == 0);
	dev_rx_frame();
	CHECK(unic_rx_wait(dev, 0, 10) == 1);
	CHECK(rx_all() == 1);
	dev_rx_frame();
	CHECK(!fd_ready(fd));
	CHECK(rx_all() == 1);
	CHECK(bad_count() == 0);
	printf("interrupts %s: arm/look again/disarm as asked; a frame used before the arm is reported (1)\n",
	       kname(kind));
	teardown();
}

/* The device lies after the arm: the look again counts it and says -EIO; the queue never spins on 1. */
static void test_intr_hostile(enum kind kind)
{
	struct fq *q = &fk.q[0];
	uint16_t id;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	if (kind == PACKED) {
		/* a used descriptor whose id was never given: the look sees a used entry (1), rx breaks the queue */
		dev_rx_one(100, &id, NULL);
		dev_push(q, RING + 7u, 100u + hdr_len(), 1);
		CHECK(unic_rx_intr_enable(dev, 0) == 1);
		CHECK(rx_all() == 0);
		CHECK(bad_count() == 1);
	} else {
		/* the used index jumps past every buffer the device holds: counted at the look, -EIO */
		*(volatile uint16_t *)(q->used + 2) = (uint16_t)(q->used_idx + RING + 5);
		CHECK(unic_rx_intr_enable(dev, 0) == -EIO);
		CHECK(bad_count() == 1);
		CHECK(rx_all() == 0);
	}
	CHECK(unic_rx_intr_enable(dev, 0) == -EIO);
	CHECK(unic_rx_wait(dev, 0, 0) == -EIO);
	CHECK(bad_count() == 1);
	teardown();
}

/* unic_tx_reclaim gives completed tx buffers back without sending; the config fd gives a link event. */
static void test_reclaim_and_events(enum kind kind)
{
	struct fq *tq = &fk.q[1];
	struct unic_buf *b[8];
	uint16_t id, flags, i;
	uint64_t addr, one = 1;
	uint32_t len, free_before;
	int efd;

	if (!setup(kind)) {
		CHECK(!"setup");
		return;
	}
	free_before = unic_mempool_free_count(pool);
	CHECK(unic_buf_alloc_bulk(pool, b, 8) == 8);
	for (i = 0; i < 8; i++)
		b[i]->len = 60;
	CHECK(unic_tx_burst(dev, 0, b, 8) == 8);
	CHECK(unic_tx_reclaim(dev, 0) == 0); /* the device has not sent them yet */
	while (dev_pop(tq, &id, &addr, &len, &flags))
		dev_push(tq, id, 0, 1);
	CHECK(unic_tx_reclaim(dev, 0) == 8);
	CHECK(unic_mempool_free_count(pool) == free_before);
	CHECK(unic_tx_reclaim(dev, 0) == 0);
	/* config change (the device's vector 0): one UNIC_EVENT_LINK, consumed */
	fd_take(config_fd);
	CHECK((efd = unic_event_fd(dev)) >= 0);
	CHECK(!fd_ready(efd));
	CHECK(unic_event_ack(dev) == 0);
	CHECK(write(config_fd, &one, sizeof one) == sizeof one);
	CHECK(fd_ready(efd));
	CHECK(unic_event_ack(dev) == (int)UNIC_EVENT_LINK);
	CHECK(!fd_ready(efd));
	CHECK(unic_event_ack(dev) == 0);
	teardown();
}

/* A transport that cannot interrupt: the enable call fails with a line, and polling still works. */
static void test_intr_none(void)
{
	if (!setup(SPLIT)) {
		CHECK(!"setup");
		return;
	}
	fake_no_intr = true;
	dev->err[0] = 0;
	CHECK(unic_rx_intr_enable(dev, 0) == -ENOTSUP);
	CHECK(strstr(dev->err, "poll the queue") != NULL);
	CHECK(unic_rx_fd(dev, 0) == -ENOTSUP);
	CHECK(unic_rx_wait(dev, 0, 0) == -ENOTSUP);
	dev_rx_frame();
	CHECK(rx_all() == 1);
	fake_no_intr = false;
	teardown();
}

int main(void)
{
	struct unic_mempool *jpool;
	static const char *const rx_paths[] = { "scalar", "sse4.2", "avx2" };
	const char *best;
	struct unic_dev scratch;
	size_t p;
	int k, a;

	memset(&scratch, 0, sizeof scratch);
	scratch.dma_mode = UNIC_DMA_VIRT;
	scratch.config_fd = scratch.lock_fd = scratch.vfio_group_fd = scratch.vfio_device_fd = -1;
	pool = unic_mempool_make(&scratch, POOL_SIZE, 2048);
	CHECK(pool != NULL);
	if (!pool) {
		printf("mempool: %s\n", scratch.err);
		return check_summary("virtio_hostile");
	}
	dev = calloc(1, sizeof *dev);
	for (k = 0; k < (int)UNIC_ARRAY_SIZE(intr_fd); k++)
		intr_fd[k] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	config_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* every receive test on each rx path this CPU runs: scalar first, the best last */
	unsetenv("UNIC_SIMD");
	best = virtq_simd_name(virtq_simd_level());
	for (p = 0; p < UNIC_ARRAY_SIZE(rx_paths); p++) {
		setenv("UNIC_SIMD", rx_paths[p], 1);
		if (strcmp(virtq_simd_name(virtq_simd_level()), rx_paths[p])) {
			printf("rx path %s: not on this CPU\n", rx_paths[p]);
			continue;
		}
		rx_path = rx_paths[p];
		printf("== rx path %s\n", rx_path);
		for (k = 0; k < NKINDS; k++) {
			test_sane((enum kind)k);
			for (a = 0; a < NATTACKS; a++)
				test_attack((enum kind)k, (enum attack)a);
			test_merged(k == LEGACY ? SPLIT : (enum kind)k);
			test_garbage((enum kind)k, strcmp(rx_path, best) ? 50 : 200);
			test_good_then_bad((enum kind)k, false);
			test_good_then_bad((enum kind)k, true);
			test_intr((enum kind)k);
			test_intr_hostile((enum kind)k);
		}
		test_numbuf_bound(SPLIT);
		test_random_writes(!strcmp(rx_path, best)); /* in full on the path unic picks */
		test_tolerant();
		test_no_packed_ring();
		/* the same with VIRTIO_F_IN_ORDER (split and packed: legacy devices have no bit 35; the rx path stays scalar) */
		for (k = SPLIT; k <= PACKED; k++) {
			in_order = true;
			test_sane((enum kind)k);
			for (a = 0; a < NATTACKS; a++)
				test_attack((enum kind)k, (enum attack)a);
			test_merged((enum kind)k);
			test_garbage((enum kind)k, strcmp(rx_path, best) ? 25 : 100);
			test_good_then_bad((enum kind)k, false);
			test_good_then_bad((enum kind)k, true);
			test_intr((enum kind)k);
			test_intr_hostile((enum kind)k);
			in_order = false;
			test_in_order_batches((enum kind)k);
			for (a = 0; a < NIO_LIES; a++)
				test_in_order_lie((enum kind)k, (enum in_order_lie)a);
		}
	}
	unsetenv("UNIC_SIMD"); /* the rest on the path unic chooses by itself */
	rx_path = best;
	for (k = 0; k < NKINDS; k++) {
		test_mq((enum kind)k);
		test_mq_refused((enum kind)k);
		test_mq_reply((enum kind)k);
	}
	test_numbuf_bound(PACKED);
	test_rss();
	jpool = unic_mempool_make(&scratch, 2 * RING, JUMBO_BUF);
	CHECK(jpool != NULL);
	if (jpool) {
		test_mtu(jpool);
		unic_mempool_destroy(jpool);
	}
	test_packed_stale_event();
	for (k = 0; k < NKINDS; k++)
		test_reclaim_and_events((enum kind)k);
	for (k = SPLIT; k <= PACKED; k++) {
		in_order = true;
		test_reclaim_and_events((enum kind)k);
		in_order = false;
	}
	test_intr_none();
	for (k = 0; k < (int)UNIC_ARRAY_SIZE(intr_fd); k++)
		close(intr_fd[k]);
	close(config_fd);
	free(dev);
	unic_mempool_destroy(pool);
	return check_summary("virtio_hostile");
}
