/*
 * virtio_ring.c - split (spec 2.7) and packed (spec 2.8) virtqueues.
 *
 * Transport-free: a queue is built over memory the caller gives and tells the
 * device nothing by itself; the transport programs the addresses and sets the
 * notify hook. The device is not trusted: every id, length and index it writes
 * is checked against private state (token[], chain[], writable[]) before use,
 * and the first bad one breaks the queue.
 */
#include <errno.h>
#include <stdlib.h>

#include "virtio.h"

/* Split ring: avail is flags, idx, ring[size], used_event (spec 2.7.6). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING VRING_AVAIL_RING
/* Used ring: flags, idx, then size elements of 8 bytes, then avail_event (spec 2.7.8). */
#define USED_FLAGS 0
#define USED_IDX 1
#define USED_HDR_BYTES 4u
#define RING_EVENT_BYTES 2u

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static size_t split_avail_off(uint16_t size) { return sizeof(struct vring_desc) * size; }
static size_t split_used_off(uint16_t size, uint32_t align)
{
	return align_up(split_avail_off(size) + sizeof(uint16_t) * (AVAIL_RING + size) + RING_EVENT_BYTES, align);
}

size_t virtq_mem_size(uint16_t size, bool packed, uint32_t align)
{
	if (packed)
		return sizeof(struct vring_packed_desc) * size + 2 * sizeof(struct vring_packed_event);
	return split_used_off(size, align) + USED_HDR_BYTES + sizeof(struct vring_used_elem) * size + RING_EVENT_BYTES;
}

static inline volatile struct vring_used_elem *used_elem(const struct virtq *vq, uint16_t i)
{
	return (volatile struct vring_used_elem *)((volatile uint8_t *)vq->used + USED_HDR_BYTES) + i;
}
static inline volatile uint16_t *used_event(const struct virtq *vq) { return &vq->avail[AVAIL_RING + vq->size]; }
static inline volatile uint16_t *avail_event(const struct virtq *vq)
{
	return (volatile uint16_t *)(used_elem(vq, vq->size));
}

/* Spec 2.7.10: notify (or interrupt) when the new index passed event since old. */
static inline bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

static void bad_device(struct virtq *vq)
{
	vq->broken = true;
	if (vq->stats)
		UNIC_STAT_INC(vq->stats->bad_device);
}

int virtq_init(struct virtq *vq, uint16_t index, uint16_t size, bool packed, bool event_idx,
	       void *mem, uint64_t iova, uint32_t align)
{
	uint16_t i;

	memset(vq, 0, sizeof *vq);
	/* Spec 2.7: a split queue's size is a power of 2; packed may be any size up to 32768. */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (!packed && (size & (size - 1))) || !align || (align & (align - 1)))
		return -EINVAL;
	vq->next_free = calloc(size, sizeof *vq->next_free);
	vq->token = calloc(size, sizeof *vq->token);
	vq->chain = calloc(size, sizeof *vq->chain);
	vq->writable = calloc(size, sizeof *vq->writable);
	if (!vq->next_free || !vq->token || !vq->chain || !vq->writable) {
		virtq_fini(vq);
		return -ENOMEM;
	}
	memset(mem, 0, virtq_mem_size(size, packed, align));
	vq->size = size;
	vq->index = index;
	vq->packed = packed;
	vq->event_idx = event_idx;
	vq->num_free = size;
	for (i = 0; i < size; i++)
		vq->next_free[i] = (uint16_t)(i + 1);
	vq->desc_iova = iova;
	if (packed) {
		size_t ev = sizeof(struct vring_packed_desc) * size;
		vq->pdesc = mem;
		vq->driver_event = (struct vring_packed_event *)((uint8_t *)mem + ev);
		vq->device_event = vq->driver_event + 1;
		vq->driver_iova = iova + ev;
		vq->device_iova = iova + ev + sizeof(struct vring_packed_event);
		/* Spec 2.8.1: both wrap counters start at 1. We poll: no interrupts (2.8.10). */
		vq->avail_wrap = vq->used_wrap = true;
		vq->driver_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
		return 0;
	}
	vq->desc = mem;
	vq->avail = (uint16_t *)((uint8_t *)mem + split_avail_off(size));
	vq->used = (uint16_t *)((uint8_t *)mem + split_used_off(size, align));
	vq->driver_iova = iova + split_avail_off(size);
	vq->device_iova = iova + split_used_off(size, align);
	/* We poll: ask for no interrupts (2.7.7), or put used_event where it is never crossed (2.7.10). */
	vq->avail[AVAIL_FLAGS] = event_idx ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	*used_event(vq) = (uint16_t)(vq->last_used - 1);
	return 0;
}

void virtq_fini(struct virtq *vq)
{
	free(vq->next_free);
	free(vq->token);
	free(vq->chain);
	free(vq->writable);
	vq->next_free = NULL;
	vq->token = NULL;
	vq->chain = NULL;
	vq->writable = NULL;
	vq->size = 0;
	vq->num_free = 0;
}

/* ---- adding buffers ---- */

static uint32_t writable_bytes(const struct virtq_sg *sg, uint16_t n)
{
	uint32_t w = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		if (sg[i].device_writes)
			w += sg[i].len;
	return w;
}

/* Split: the chain takes ids off the private free list, in list order, so the list links it (2.7.5). */
static void split_add(struct virtq *vq, const struct virtq_sg *sg, uint16_t n, void *token)
{
	uint16_t head = vq->free_head, id = head, i;

	for (i = 0; i < n; i++) {
		volatile struct vring_desc *d = &vq->desc[id];
		bool more = i + 1 < n;
		d->addr = sg[i].addr;
		d->len = sg[i].len;
		d->flags = (uint16_t)((sg[i].device_writes ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0));
		d->next = more ? vq->next_free[id] : 0;
		id = vq->next_free[id];
	}
	vq->free_head = id;
	vq->token[head] = token;
	vq->chain[head] = n;
	vq->writable[head] = writable_bytes(sg, n);
	vq->avail[AVAIL_RING + (vq->avail_idx & (vq->size - 1))] = head;
	vq->avail_idx++;
	vq->added++;
}

/*
 * Packed: descriptors at consecutive ring positions, one buffer id for the
 * chain (2.8.6). The flags of the first descriptor made available since the
 * last kick are held back: writing them publishes the whole batch (2.8.21).
 */
static uint16_t packed_avail_flags(const struct virtq *vq)
{
	return vq->avail_wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

static void packed_add(struct virtq *vq, const struct virtq_sg *sg, uint16_t n, void *token)
{
	uint16_t bid = vq->free_head, i;

	vq->free_head = vq->next_free[bid];
	for (i = 0; i < n; i++) {
		volatile struct vring_packed_desc *d = &vq->pdesc[vq->next_avail];
		uint16_t flags = (uint16_t)((sg[i].device_writes ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0) | packed_avail_flags(vq));
		d->addr = sg[i].addr;
		d->len = sg[i].len;
		d->id = bid;
		if (vq->added == 0 && i == 0) {
			vq->pending_pos = vq->next_avail;
			vq->pending_flags = flags;
		} else {
			unic_wmb();
			d->flags = flags;
		}
		if (++vq->next_avail == vq->size) {
			vq->next_avail = 0;
			vq->avail_wrap = !vq->avail_wrap;
		}
	}
	vq->token[bid] = token;
	vq->chain[bid] = n;
	vq->writable[bid] = writable_bytes(sg, n);
	vq->added = (uint16_t)(vq->added + n);
}

int virtq_add(struct virtq *vq, const struct virtq_sg *sg, uint16_t n, void *token)
{
	if (unic_unlikely(vq->broken))
		return -EIO;
	if (n == 0 || !token)
		return -EINVAL;
	if (n > vq->num_free)
		return -ENOSPC;
	if (vq->packed)
		packed_add(vq, sg, n, token);
	else
		split_add(vq, sg, n, token);
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->in_flight++;
	return 0;
}

uint16_t virtq_add_batch(struct virtq *vq, const uint64_t *addr, const uint32_t *len, bool device_writes,
			 void *const *tokens, uint16_t n)
{
	uint16_t i, m = virtq_room(vq, n);

	for (i = 0; i < m && tokens[i]; i++)
		virtq_put(vq, addr[i], len[i], device_writes, tokens[i]);
	return i;
}

/* ---- publishing and notifying ---- */

static bool split_publish(struct virtq *vq)
{
	uint16_t old = (uint16_t)(vq->avail_idx - vq->added);

	unic_wmb(); /* descriptors and ring entries before the index (2.7.13) */
	vq->avail[AVAIL_IDX] = vq->avail_idx;
	unic_mb();  /* the index before reading the device's suppression state (2.7.13.4) */
	if (vq->event_idx)
		return need_event(*avail_event(vq), vq->avail_idx, old);
	return !(vq->used[USED_FLAGS] & VRING_USED_F_NO_NOTIFY);
}

/*
 * Packed: publish the batch, then notify unless the device disabled notifications
 * (2.8.10, 2.8.21.3). DESC mode ("notify when the descriptor at off_wrap is made
 * available") is treated as ENABLE, on purpose: off_wrap is device-written and may be
 * stale. QEMU (hw/virtio/virtio.c, at least up to 10.0) writes off_wrap only when it
 * enables notifications, then pops on without moving it; when it then waits, off_wrap
 * names a descriptor made available long ago, one no later batch contains. A driver
 * that trusts it (the 2.8.21.3 computation, as Linux does) never notifies again and
 * both ends stall for good (issue 9 item 1: rx ring, and tx ring of the sender). A
 * notification the device did not need costs one doorbell write per burst.
 */
static bool packed_publish(struct virtq *vq)
{
	unic_wmb(); /* the batch's descriptors before the flags of its first (2.8.21) */
	vq->pdesc[vq->pending_pos].flags = vq->pending_flags;
	unic_mb();  /* the flags before reading the device's suppression state (2.8.21.3.1) */
	return (vq->device_event->flags & VRING_PACKED_EVENT_FLAGS_MASK) != VRING_PACKED_EVENT_FLAG_DISABLE;
}

void virtq_kick(struct virtq *vq)
{
	bool need;

	if (vq->added == 0 || vq->broken)
		return;
	need = vq->packed ? packed_publish(vq) : split_publish(vq);
	vq->added = 0;
	if (need && vq->notify) {
		vq->notify(vq);
		vq->notifications++;
	}
}

/* ---- taking completed buffers ---- */

/* Checks a used (id, len) pair against private state; false (and broken) when bad. */
static inline bool used_ok(struct virtq *vq, uint32_t id, uint32_t len)
{
	if (unic_unlikely(id >= vq->size || !vq->token[id] || len > vq->writable[id])) {
		bad_device(vq);
		return false;
	}
	return true;
}

static inline void *take(struct virtq *vq, uint16_t id)
{
	void *t = vq->token[id];

	vq->token[id] = NULL;
	vq->in_flight--;
	vq->num_free = (uint16_t)(vq->num_free + vq->chain[id]);
	return t;
}

static inline void split_free_chain(struct virtq *vq, uint16_t head)
{
	uint16_t last = head, i;

	for (i = 1; unic_unlikely(i < vq->chain[head]); i++)
		last = vq->next_free[last];
	vq->next_free[last] = vq->free_head;
	vq->free_head = head;
}

static uint16_t split_get(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	uint16_t used_idx = vq->used[USED_IDX], pending = (uint16_t)(used_idx - vq->last_used), k;

	if (pending == 0)
		return 0;
	if (pending > vq->in_flight) { /* the device used more than it was given */
		bad_device(vq);
		return 0;
	}
	unic_rmb(); /* the index before the elements (2.7.14) */
	if (n > pending)
		n = pending;
	for (k = 0; k < n; k++) {
		volatile struct vring_used_elem *e = used_elem(vq, (uint16_t)(vq->last_used + k) & (vq->size - 1));
		uint32_t id = e->id, len = e->len;
		if (!used_ok(vq, id, len))
			break;
		split_free_chain(vq, (uint16_t)id);
		tokens[k] = take(vq, (uint16_t)id);
		lens[k] = len;
	}
	vq->last_used = (uint16_t)(vq->last_used + k);
	if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1);
	return k;
}

static uint16_t packed_get(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	uint16_t k = 0;

	while (k < n && vq->in_flight) {
		volatile struct vring_packed_desc *d = &vq->pdesc[vq->used_pos];
		uint16_t flags = d->flags, id;
		bool avail = flags & VRING_PACKED_DESC_F_AVAIL, used = flags & VRING_PACKED_DESC_F_USED;
		uint32_t len;

		/* 2.8.1: used when AVAIL and USED both equal the used wrap counter */
		if (avail != used || used != vq->used_wrap)
			break;
		unic_rmb(); /* flags before id and len */
		id = d->id;
		len = d->len;
		/*
		 * 2.8 (packed): "Element Length is reserved for used descriptors without the
		 * VIRTQ_DESC_F_WRITE flag, and is ignored by drivers" - DPDK's vhost writes the
		 * buffer's length there. A buffer the device may not write has no length to check.
		 */
		if (id < vq->size && vq->writable[id] == 0)
			len = 0;
		if (!used_ok(vq, id, len))
			break;
		/* 2.8.6: the used descriptor stands for the whole chain of that id */
		vq->used_pos = (uint16_t)(vq->used_pos + vq->chain[id]);
		if (vq->used_pos >= vq->size) {
			vq->used_pos = (uint16_t)(vq->used_pos - vq->size);
			vq->used_wrap = !vq->used_wrap;
		}
		vq->next_free[id] = vq->free_head;
		vq->free_head = id;
		tokens[k] = take(vq, id);
		lens[k] = len;
		k++;
	}
	return k;
}

uint16_t virtq_get_batch(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	if (unic_unlikely(vq->broken))
		return 0;
	return vq->packed ? packed_get(vq, tokens, lens, n) : split_get(vq, tokens, lens, n);
}

/* ---- interrupts (used buffer notifications) ---- */

/*
 * Is a used buffer waiting? Read once, checked like virtq_get_batch does: a split used
 * index that claims more than the device holds breaks the queue (-EIO). 1 / 0 / -EIO.
 */
static int split_has_used(struct virtq *vq)
{
	uint16_t pending = (uint16_t)(vq->used[USED_IDX] - vq->last_used);

	if (unic_unlikely(pending > vq->in_flight)) {
		bad_device(vq);
		return -EIO;
	}
	return pending != 0;
}

/* Packed: the next used position is used when AVAIL and USED both equal the used wrap counter (2.8.1). */
static int packed_has_used(const struct virtq *vq)
{
	uint16_t flags;
	bool avail, used;

	if (vq->in_flight == 0) /* nothing given: what is there is stale (packed_get reads nothing either) */
		return 0;
	flags = vq->pdesc[vq->used_pos].flags;
	avail = flags & VRING_PACKED_DESC_F_AVAIL;
	used = flags & VRING_PACKED_DESC_F_USED;
	return avail == used && used == vq->used_wrap;
}

int virtq_intr_enable(struct virtq *vq)
{
	if (unic_unlikely(vq->broken))
		return -EIO;
	if (vq->packed) {
		/* 2.8.10: ENABLE, not DESC: any used buffer from now on interrupts */
		vq->driver_event->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	} else if (vq->event_idx) {
		/* 2.7.10: interrupt once the used index moves past last_used */
		*used_event(vq) = vq->last_used;
	} else {
		vq->avail[AVAIL_FLAGS] = 0; /* 2.7.7: clear VRING_AVAIL_F_NO_INTERRUPT */
	}
	/*
	 * The store above before the load below (2.7.10 / 2.8.21.3.1): a buffer the device
	 * used before it saw our request is found here; one it used after gets an interrupt.
	 */
	unic_mb();
	return vq->packed ? packed_has_used(vq) : split_has_used(vq);
}

void virtq_intr_disable(struct virtq *vq)
{
	if (vq->packed)
		vq->driver_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	else if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1); /* never crossed before the index wraps */
	else
		vq->avail[AVAIL_FLAGS] = VRING_AVAIL_F_NO_INTERRUPT;
}

uint16_t virtq_drain(struct virtq *vq, void **tokens, uint16_t n)
{
	uint16_t id, k = 0;

	for (id = 0; id < vq->size && k < n; id++)
		if (vq->token[id]) {
			tokens[k++] = vq->token[id];
			vq->token[id] = NULL;
			vq->in_flight--;
		}
	return k;
}
