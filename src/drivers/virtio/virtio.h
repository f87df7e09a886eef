/*
 * virtio.h - private to the virtio driver: ring formats, the virtqueue (ring
 * logic, apart from any transport) and the transport ops.
 *
 * Layering, as in Linux (virtio_ring.c apart from virtio_pci_*.c):
 *   virtio_ring.c         split and packed virtqueues over memory it is given
 *   virtio_pci_legacy.c   virtio 0.9.5 transport: I/O BAR 0
 *   virtio_pci_modern.c   virtio 1.x PCI transport: vendor capabilities
 *   virtio_net.c          the unic driver: negotiation, queues, data path
 * A non-PCI transport (vhost-user: DMA addresses are virtual addresses and
 * notifications go through an eventfd) plugs in by filling struct
 * virtio_transport and calling virtio_net_attach().
 *
 * References: "Virtual I/O Device (VIRTIO) Version 1.2" (the spec, cited as
 * "spec 2.7" etc.) and "Virtio PCI Card Specification v0.9.5" (legacy).
 */
#ifndef UNIC_VIRTIO_H
#define UNIC_VIRTIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "virtio 1.x rings are little-endian and legacy rings are guest-native: this code assumes a little-endian CPU");

/* ---- device status, spec 2.1 ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u
/* What a PCI device that vanished reads (all-ones). No device sets every status bit (2.1: bits 4
 * and 5 are reserved), so a status read of this means the device is gone. */
#define VIRTIO_STATUS_GONE 0xffu
/* What a PCI device that vanished reads (all-ones): no valid device_status sets every bit (2.1: bits
 * 4 and 5 are reserved), so a status read of this means the device is gone. */
#define VIRTIO_STATUS_GONE 0xffu

/* ---- reserved feature bits, spec 6 ---- */
#define VIRTIO_F_NOTIFY_ON_EMPTY 24
#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_BIT(b) (1ull << (b))

/* ---- network device feature bits (spec 5.1.3) and config space (spec 5.1.4) ---- */
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_RSS 60
#define VIRTIO_NET_CFG_MAC 0       /* struct virtio_net_config: mac[6] */
#define VIRTIO_NET_CFG_STATUS 6    /* le16 status */
#define VIRTIO_NET_CFG_MAX_PAIRS 8 /* le16 max_virtqueue_pairs (MQ or RSS) */
#define VIRTIO_NET_CFG_MTU 10      /* le16 mtu (F_MTU) */
#define VIRTIO_NET_CFG_RSS_MAX_KEY 17  /* u8 rss_max_key_size (RSS) */
#define VIRTIO_NET_CFG_RSS_MAX_RETA 18 /* le16 rss_max_indirection_table_length (RSS) */
#define VIRTIO_NET_CFG_HASH_TYPES 20   /* le32 supported_hash_types (RSS) */
#define VIRTIO_NET_S_LINK_UP 1
/* 5.1.4.1: max_virtqueue_pairs is 1..0x8000 (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN/MAX) */
#define VIRTIO_NET_MQ_PAIRS_MIN 1
#define VIRTIO_NET_MQ_PAIRS_MAX 0x8000
/* 5.1.2: receiveqN is virtqueue 2(N-1), transmitqN 2(N-1)+1 */
#define VIRTIO_NET_RXQ_INDEX(pair) ((uint16_t)(2 * (pair)))
#define VIRTIO_NET_TXQ_INDEX(pair) ((uint16_t)(2 * (pair) + 1))
/* 5.1.2: controlq is 2N, N = max_virtqueue_pairs with MQ or RSS negotiated, else 1 */
#define VIRTIO_NET_CTRLQ_INDEX(max_pairs) ((uint16_t)(2 * (max_pairs)))

/* ---- split virtqueue, spec 2.7 ---- */
#define VRING_DESC_F_NEXT 1u      /* 2.7.5: chain continues at next */
#define VRING_DESC_F_WRITE 2u     /* 2.7.5: device writes this buffer */
#define VRING_AVAIL_F_NO_INTERRUPT 1u /* 2.7.7: driver does not want interrupts */
#define VRING_USED_F_NO_NOTIFY 1u /* 2.7.10: device does not want notifications */
#define VRING_AVAIL_RING 2u       /* 2.7.6: avail ring[] starts after flags and idx (uint16_t units) */

struct vring_desc {               /* spec 2.7.5 */
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct vring_used_elem {          /* spec 2.7.8 */
	uint32_t id;
	uint32_t len;
};
/* Legacy layout (spec 2.7.2, virtio 0.9.5 2.3): the used ring starts at the next 4096 boundary. */
#define VIRTIO_LEGACY_RING_ALIGN 4096u

/* ---- packed virtqueue, spec 2.8 ---- */
#define VRING_PACKED_DESC_F_AVAIL (1u << 7)  /* 2.8.1 */
#define VRING_PACKED_DESC_F_USED (1u << 15)  /* 2.8.1 */
#define VRING_PACKED_EVENT_FLAG_ENABLE 0u    /* 2.8.10 */
#define VRING_PACKED_EVENT_FLAG_DISABLE 1u
#define VRING_PACKED_EVENT_FLAG_DESC 2u
#define VRING_PACKED_EVENT_FLAGS_MASK 3u   /* 2.8.10: flags is 2 bits wide */
#define VRING_PACKED_EVENT_F_WRAP_CTR 15     /* 2.8.10: bit of off_wrap holding the wrap counter */

struct vring_packed_desc {        /* spec 2.8.13 */
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
struct vring_packed_event {       /* spec 2.8.10 */
	uint16_t off_wrap;
	uint16_t flags;
};

/* Largest queue the split format allows (spec 2.7: Queue Size up to 32768). */
#define VIRTQ_MAX_SIZE 32768u

/* One piece of a buffer: a device-readable or device-writable area. */
struct virtq_sg {
	uint64_t addr;
	uint32_t len;
	bool device_writes;
};

/*
 * What the driver keeps per buffer id, in private memory the device cannot touch (one
 * 16-byte slot: one address computation per buffer on the data path).
 */
struct virtq_slot {
	void *token;              /* the caller's pointer; NULL while the id is free */
	uint32_t writable;        /* bytes the device may write into the buffer */
	uint16_t chain;           /* descriptors of the buffer: 1, but while a chain holds the id */
	uint16_t next;            /* private free list (in order: i + 1, never changed) */
};

/* Both packed flags of a descriptor (2.8.1): used when they equal the wrap counter, available when they differ. */
#define VRING_PACKED_DESC_F_AVAIL_USED (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)

/*
 * A virtqueue. The rings live in memory the caller gives (DMA memory, or
 * plain memory in a test); everything the driver keeps for itself (which
 * buffer an id stands for, free ids) is in private memory the device cannot
 * touch. Every value read from the ring is checked against that private state.
 */
struct virtq {
	uint16_t size;            /* descriptors */
	uint16_t index;           /* queue number on the device */
	bool packed;
	bool event_idx;           /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool in_order;            /* VIRTIO_F_IN_ORDER negotiated: see "in order" below */
	bool broken;              /* the device wrote a bad value: no more I/O */
	uint16_t num_free;        /* free descriptors */
	uint16_t in_flight;       /* buffers the device owns */
	uint16_t free_head;       /* private free-id list */
	uint16_t added;           /* buffers added since the last notification check */
	struct virtq_slot *slot;  /* [size] per buffer id */
	struct unic_qcounters *stats; /* bad_device counted here (may be NULL) */

	/* split */
	volatile struct vring_desc *desc;
	volatile uint16_t *avail;  /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;   /* flags, idx, then elements; avail_event after them */
	uint16_t avail_idx;        /* shadow of avail->idx */
	uint16_t last_used;

	/* packed */
	volatile struct vring_packed_desc *pdesc;
	volatile struct vring_packed_event *driver_event;
	volatile struct vring_packed_event *device_event;
	uint16_t next_avail;       /* ring position of the next descriptor to make available */
	uint16_t used_pos;         /* ring position of the next used descriptor */
	uint16_t avail_flags;      /* AVAIL/USED bits that make a descriptor available in this lap (2.8.1) */
	bool used_wrap;            /* the device's wrap counter as we follow it */
	uint16_t pending_pos;      /* first descriptor of the unpublished batch */
	uint16_t pending_flags;    /* its flags, written last to publish the batch */

	/*
	 * in order (VIRTIO_F_IN_ORDER; spec 2.7.9 / 2.8.8 "In-order use of descriptors", 2.7.5):
	 * ids are handed out in ring order (slot[].next stays i + 1; nothing goes back on the
	 * list) and the device uses buffers in the order they were made available, so the
	 * buffer to complete next is known: used_head's. One used entry may stand for a batch
	 * (its id names the batch's last buffer; the ones before it count as used whole):
	 * batch_end and batch_len keep a batch that was checked but not yet taken completely.
	 */
	uint16_t used_head;        /* id of the oldest buffer the device holds */
	uint16_t batch_end;        /* with in_batch: the id of the batch's last buffer */
	bool in_batch;
	uint32_t batch_len;        /* the used length written for batch_end */

	/* where the device finds the rings (for the transport) */
	uint64_t desc_iova, driver_iova, device_iova;

	/* notification: set by the transport */
	void (*notify)(struct virtq *vq);
	void *notify_ctx;
	uint64_t notifications;    /* how many times we notified (tests, tuning) */
};

/* Bytes of ring memory for a queue; align is the used ring alignment (legacy 4096, else 4). */
size_t virtq_mem_size(uint16_t size, bool packed, uint32_t align);
/* Builds a queue over mem (zeroed by this call) whose DMA address is iova. 0 or -errno. */
int virtq_init(struct virtq *vq, uint16_t index, uint16_t size, bool packed, bool event_idx, bool in_order,
	       void *mem, uint64_t iova, uint32_t align);
void virtq_fini(struct virtq *vq);
/* Adds one buffer made of n pieces (readable ones first). 0, -ENOSPC or -EIO (broken). */
int virtq_add(struct virtq *vq, const struct virtq_sg *sg, uint16_t n, void *token);
/* Adds n one-piece buffers, stopping when the ring is full; returns how many. */
uint16_t virtq_add_batch(struct virtq *vq, const uint64_t *addr, const uint32_t *len, bool device_writes,
			 void *const *tokens, uint16_t n);

/*
 * The data path's way to add one-piece buffers (what virtq_add_batch does, inlined
 * into the driver's burst loop): virtq_room says how many of n fit (0 once the queue
 * is broken); virtq_put_begin, virtq_put for each, virtq_put_end; virtq_kick publishes
 * them. The batch's ring state lives in struct virtq_put (a local: registers) meanwhile,
 * not in the queue: a store into a descriptor or a slot cannot make the compiler load
 * the queue's fields again for every buffer.
 */
static inline uint16_t virtq_room(const struct virtq *vq, uint16_t n)
{
	if (unic_unlikely(vq->broken))
		return 0;
	return n < vq->num_free ? n : vq->num_free;
}

struct virtq_put {
	struct virtq_slot *slot;
	volatile struct vring_packed_desc *pdesc; /* packed */
	volatile struct vring_desc *desc;         /* split */
	volatile uint16_t *avail_ring;            /* split: avail ring[] */
	uint16_t free_head;
	uint16_t pos;            /* packed: next_avail; split: avail_idx */
	uint16_t size;
	uint16_t avail_flags;    /* packed: this lap's AVAIL/USED bits */
	uint16_t n;              /* buffers put since virtq_put_begin */
	bool packed;
	bool hold_first;         /* packed: the first descriptor of the batch gets its flags at the kick */
};

static inline void virtq_put_begin(const struct virtq *vq, struct virtq_put *p)
{
	p->slot = vq->slot;
	p->pdesc = vq->pdesc;
	p->desc = vq->desc;
	p->avail_ring = vq->avail + VRING_AVAIL_RING;
	p->free_head = vq->free_head;
	p->pos = vq->packed ? vq->next_avail : vq->avail_idx;
	p->size = vq->size;
	p->avail_flags = vq->avail_flags;
	p->n = 0;
	p->packed = vq->packed;
	p->hold_first = vq->added == 0;
}

/* Adds one buffer; the caller made sure of the room (virtq_room). */
static inline void virtq_put(struct virtq *vq, struct virtq_put *p, uint64_t addr, uint32_t len,
			     bool device_writes, void *token)
{
	uint16_t id = p->free_head, flags = device_writes ? VRING_DESC_F_WRITE : 0;
	struct virtq_slot *s = &p->slot[id];

	p->free_head = s->next;
	s->token = token;
	s->writable = device_writes ? len : 0;
	p->n++;
	if (p->packed) {
		/* 2.8.6 / 2.8.21: the batch's first descriptor gets its flags last, in virtq_kick */
		volatile struct vring_packed_desc *d = &p->pdesc[p->pos];
		flags = (uint16_t)(flags | p->avail_flags);
		d->addr = addr;
		d->len = len;
		d->id = id;
		if (unic_unlikely(p->hold_first)) {
			p->hold_first = false;
			vq->pending_pos = p->pos;
			vq->pending_flags = flags;
		} else {
			unic_wmb();
			d->flags = flags;
		}
		if (unic_unlikely(++p->pos == p->size)) {
			p->pos = 0;
			p->avail_flags ^= VRING_PACKED_DESC_F_AVAIL_USED; /* 2.8.1: the wrap counter flips */
		}
	} else {
		/*
		 * 2.7.5 / 2.7.6: the descriptor, then its head in the available ring. next is left
		 * as it is: without VRING_DESC_F_NEXT the device does not read it (2.7.5).
		 */
		volatile struct vring_desc *d = &p->desc[id];
		d->addr = addr;
		d->len = len;
		d->flags = flags;
		p->avail_ring[p->pos & (p->size - 1)] = id;
		p->pos++;
	}
}

static inline void virtq_put_end(struct virtq *vq, const struct virtq_put *p)
{
	vq->free_head = p->free_head;
	if (p->packed) {
		vq->next_avail = p->pos;
		vq->avail_flags = p->avail_flags;
	} else {
		vq->avail_idx = p->pos;
	}
	vq->added = (uint16_t)(vq->added + p->n);
	vq->num_free = (uint16_t)(vq->num_free - p->n);
	vq->in_flight = (uint16_t)(vq->in_flight + p->n);
}
/* Makes added buffers visible; notifies the device when it asked for it. */
void virtq_kick(struct virtq *vq);
/*
 * Takes up to n completed buffers: their tokens and the lengths the device wrote.
 * A bad id, length or index is counted (stats->bad_device), the queue is marked
 * broken, and nothing more is returned from it.
 */
uint16_t virtq_get_batch(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n);
/* Takes back every buffer still given to the device (after a reset), for freeing. */
uint16_t virtq_drain(struct virtq *vq, void **tokens, uint16_t n);

/*
 * Used buffer notifications (interrupts), off after virtq_init. virtq_intr_enable asks
 * the device for one, then looks at the ring again: 1 a used buffer already waits
 * (take it: it will not interrupt for it), 0 none (sleep), -EIO the queue is broken
 * (now or by a bad used index seen here). virtq_intr_disable asks for none again; the
 * split ring without EVENT_IDX makes that a hint only (2.7.7): the caller consumes
 * interrupts that come anyway.
 */
int virtq_intr_enable(struct virtq *vq);
void virtq_intr_disable(struct virtq *vq);

/*
 * The vector receive path of the split and packed rings (virtio_rx_vec.c: what "ordered mode" is
 * and why its checks are as strict as the scalar path's). Per rx queue, chosen once
 * at setup: virtq_simd_level is the best the CPU runs, capped by the environment
 * variable UNIC_SIMD=none|sse4.2|avx2; virtq_rxv_init puts an empty queue in
 * ordered mode (p->simd stays NONE when it cannot). In ordered mode refill with
 * virtq_rxv_put (not virtq_put); virtq_rxv_get takes clean frames, whole batches,
 * and leaves everything else to virtq_get_batch, after which virtq_rxv_check (first:
 * last_used before it, got: what it returned) keeps ordered mode or leaves it for good.
 */
enum virtq_simd { VIRTQ_SIMD_NONE, VIRTQ_SIMD_SSE42, VIRTQ_SIMD_AVX2 };
struct virtq_rxv {
	uint32_t buf_len;  /* bytes each receive descriptor offers the device, header included */
	uint16_t hdr_len;  /* the virtio-net header in front of each frame */
	uint16_t qid;      /* written into each buffer's rx_queue */
	bool mrg_rxbuf;    /* the header's num_buffers must be 1 */
	uint8_t simd;      /* enum virtq_simd in use; NONE: the queue is not (or no longer) ordered */
};
enum virtq_simd virtq_simd_level(void);
const char *virtq_simd_name(enum virtq_simd s);
void virtq_rxv_init(struct virtq *vq, struct virtq_rxv *p, enum virtq_simd s);
/* n buffers into the next slots; the device finds frames at room_iova + data_off. */
void virtq_rxv_put(struct virtq *vq, struct unic_buf *const *bufs, uint16_t n, uint32_t data_off);
/* Up to n received frames (len and rx_queue written), their payload bytes added to *bytes. */
uint16_t virtq_rxv_get(struct virtq *vq, const struct virtq_rxv *p, struct unic_buf **out, uint16_t n,
		       uint64_t *bytes);
bool virtq_rxv_check(struct virtq *vq, struct virtq_rxv *p, uint16_t first, uint16_t got);
/* The ring position of the next used buffer (split: last_used, packed: used_pos): "first" above. */
static inline uint16_t virtq_used_pos(const struct virtq *vq) { return vq->packed ? vq->used_pos : vq->last_used; }

/* ---- transport ops ---- */
struct virtio_transport {
	const char *name;                  /* "legacy", "modern", "vhost-user" */
	bool fixed_queue_size;             /* legacy: the device chooses the size */
	uint32_t ring_align;               /* used ring alignment the transport needs */
	/* Writes 0 to status and waits until the device says it is reset. 0 or -errno. */
	int (*reset)(void *t);
	uint8_t (*get_status)(void *t);
	void (*set_status)(void *t, uint8_t status);
	uint64_t (*get_features)(void *t);
	void (*set_features)(void *t, uint64_t features);
	/* Device-specific config space (e.g. struct virtio_net_config). 0 or -errno. */
	int (*read_config)(void *t, uint32_t off, void *buf, uint32_t len);
	/* Largest size of queue index (0: no such queue). */
	uint16_t (*queue_max)(void *t, uint16_t index);
	/* Tells the device where vq's rings are, enables it, and sets vq->notify. */
	int (*queue_enable)(void *t, struct virtq *vq);
	/* Frees the transport state (after a reset). */
	void (*close)(void *t);
	/*
	 * Optional (NULL for PCI). A device in another process maps our memory itself
	 * (vhost-user): share the ring area and the buffer pool with it. Called once,
	 * after the rings are allocated and before the first queue_enable. 0 or -errno.
	 */
	int (*share_memory)(void *t, const struct unic_dma *rings);
	/*
	 * Optional. A flag the transport raises (from any thread) when the device is
	 * gone for good (vhost-user: the backend hung up). The data path reads it once
	 * per burst: no system call.
	 */
	const atomic_bool *(*gone_flag)(void *t);
	/* Optional. 0 while the device is reachable; else -errno and one line in dev->err. */
	int (*check)(void *t);
	/*
	 * Optional (NULL for PCI: there VIRTIO_NET_F_MQ and the control queue say it). A
	 * transport that gives several queue pairs by itself, without VIRTIO_NET_F_MQ
	 * (vhost-user: GET_QUEUE_NUM, and each ring enabled by the transport): how many
	 * pairs the device has (at least 1). virtio-net then uses queues 2k / 2k+1 for
	 * pair k and sends no VQ_PAIRS_SET.
	 */
	uint16_t (*queue_pairs)(void *t);
	/*
	 * Interrupts, all optional (NULL: the device cannot interrupt this way).
	 * intr_setup: after negotiation, before the first queue_enable: get ready to
	 * interrupt for the first rx_queues receive queues and for config changes (PCI:
	 * MSI-X vector 0 for config, k + 1 for receiveq k+1). A device that cannot is not
	 * an error (it is polled): queue_intr_fd then says why.
	 * queue_intr_fd: the descriptor that becomes readable when queue index interrupts
	 * (an eventfd: the caller reads its 8-byte counter to consume it), or -ENOTSUP,
	 * with one line in dev->err when say is true (a control call, or the failing one).
	 * config_intr_fd: the same for config changes (link) and for the device going away.
	 */
	int (*intr_setup)(void *t, uint16_t rx_queues);
	int (*queue_intr_fd)(void *t, uint16_t index, bool say);
	int (*config_intr_fd)(void *t, bool say);
	/*
	 * Optional (NULL: the descriptors are eventfds the caller reads). intr_rearm: before
	 * a queue is armed (a shared INTx line: acknowledge what is pending, unmask the line).
	 * queue_intr_ack: consume the wake-up of queue index after it was disarmed.
	 * config_intr_ack: consume the config wake-up; true when the config changed.
	 */
	void (*intr_rearm)(void *t);
	void (*queue_intr_ack)(void *t, uint16_t index);
	bool (*config_intr_ack)(void *t);
};

/*
 * Interrupts for the PCI transports. MSI-X through VFIO: vector 0 for config changes,
 * vector k + 1 for receive queue k (DPDK's and Linux's layout); transmit and control
 * queues get none (VIRTIO_MSI_NO_VECTOR, spec 4.1.5.1.2). Or, through UIO, the one
 * INTx line (spec 4.1.5.3/4.1.5.4): the same slots, each a listener that sees every
 * interrupt; the ISR status register says what it was and, read, lowers the line.
 */
#define VIRTIO_ISR_QUEUE 0x1          /* spec 4.1.4.5: a used buffer notification */
#define VIRTIO_ISR_CONFIG 0x2         /* spec 4.1.4.5: a configuration change */
#define VIRTIO_MSI_NO_VECTOR 0xffff   /* spec 4.1.4.3 / 4.1.5.1.2: no vector, or the device refused one */
#define VIRTIO_MSIX_CONFIG_VECTOR 0
struct virtio_msix {
	unsigned n;                          /* slots enabled (0: none, polled); their fds: unic_irq_fd */
	uint16_t rx_queues;                  /* receive queues that have a slot */
	bool intx;                           /* UIO's INTx line, not MSI-X: no vector to program */
	atomic_bool config_seen;             /* INTx: an ISR read (by any thread) saw VIRTIO_ISR_CONFIG */
	char why[200];                       /* when n is 0: why the device cannot interrupt */
};
void virtio_msix_init(struct virtio_msix *m);
/*
 * Enables MSI-X (VFIO) or INTx listeners (UIO) with 1 + rx_queues slots. 0, or -errno
 * with m->why set (the device is then polled). With m->intx no vector is programmed.
 */
int virtio_msix_enable(struct unic_dev *dev, struct virtio_msix *m, uint16_t rx_queues);
/* The slot of virtqueue index: receiveq k (index 2k, k < rx_queues) gets k + 1, others none. */
uint16_t virtio_msix_queue_slot(const struct virtio_msix *m, uint16_t index);
/* The MSI-X vector to program for virtqueue index (VIRTIO_MSI_NO_VECTOR on INTx or none). */
uint16_t virtio_msix_queue_vector(const struct virtio_msix *m, uint16_t index);
/*
 * INTx: read the ISR (read_isr: lowers the line, spec 4.1.4.5), remember a config
 * change, unmask the line (uio_pci_generic masked it). Nothing for MSI-X.
 */
void virtio_intx_rearm(struct unic_dev *dev, struct virtio_msix *m, uint8_t (*read_isr)(void *), void *ctx);
/* Consumes slot's wake-up (and rearms INTx); true when it held one. */
bool virtio_msix_ack(struct unic_dev *dev, struct virtio_msix *m, uint16_t slot, uint8_t (*read_isr)(void *),
		     void *ctx);
/* Consumes the config slot's wake-up: true when the config changed. */
bool virtio_msix_config_ack(struct unic_dev *dev, struct virtio_msix *m, uint8_t (*read_isr)(void *), void *ctx);
/* The eventfd of vector (VIRTIO_MSIX_CONFIG_VECTOR or a queue's), or -ENOTSUP with a line when say. */
int virtio_msix_fd(struct unic_dev *dev, const struct virtio_msix *m, uint16_t vector, bool say);
/*
 * The device refused a vector (it read back VIRTIO_MSI_NO_VECTOR): the reason goes to
 * m->why (and a warning), and no queue of the device interrupts; it is polled.
 */
void virtio_msix_refused(struct unic_dev *dev, struct virtio_msix *m, const char *what, uint16_t vector);
/* MSI-X off again (the vectors' eventfds freed). */
void virtio_msix_close(struct unic_dev *dev, struct virtio_msix *m);

/* PCI capabilities: at most one per dword of config space after the 64-byte header (PCI 3.0 6.7). */
#define VIRTIO_PCI_CAP_MAX 48
struct virtio_pci_caps {
	unsigned n;
	uint8_t pos[VIRTIO_PCI_CAP_MAX]; /* config-space offset of each, in list order */
	uint8_t id[VIRTIO_PCI_CAP_MAX];  /* its capability ID */
};
/* Walks the capability list once, checking every pointer. 0, or -errno and one line in dev->err. */
int virtio_pci_caps_read(struct unic_dev *dev, struct virtio_pci_caps *caps);
/* Config-space offset of the first capability cap_id; -ENOENT if none, other -errno (dev->err) if the list is bad. */
int virtio_pci_find_cap(struct unic_dev *dev, uint8_t cap_id);
/*
 * The PCI transports: 0 and *ctx set, or -ENODEV when the device does not speak it.
 * Modern also returns -ENXIO (virtio capabilities, but not the ones it needs: dev->err
 * says why; a transitional device may still speak legacy) and -EIO (corrupt list).
 */
int virtio_pci_modern_open(struct unic_dev *dev, const struct virtio_transport **t, void **ctx);
int virtio_pci_legacy_open(struct unic_dev *dev, const struct virtio_transport **t, void **ctx);
/* Name of the device in messages: its PCI address, or its vhost-user socket path. */
static inline const char *virtio_dev_name(const struct unic_dev *dev)
{
	return dev->spec.pci_addr[0] ? dev->spec.pci_addr : dev->spec.path;
}

/*
 * The reset of the PCI transports over their status accessors (2.4, 4.1.4.3.2): write 0, then
 * wait until status reads 0 (bounded: about a second). A device whose status reads all-ones
 * (VIRTIO_STATUS_GONE), before the write or while waiting, is gone: dev->removed is raised and
 * -ENODEV answered at once, never a wait on it. 0, -ENODEV or -ETIMEDOUT.
 */
int virtio_status_reset(struct unic_dev *dev, uint8_t (*get)(void *), void (*set)(void *, uint8_t), void *ctx);

/*
 * Binds the virtio-net driver to dev over transport t (dev->priv set): reset,
 * identify, read the MAC. Used by probe for PCI, by other transports, and by tests.
 */
int virtio_net_attach(struct unic_dev *dev, const struct virtio_transport *t, void *ctx);

#endif
