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

int virtq_init(struct virtq *vq, uint16_t index, uint16_t size, bool packed, bool event_idx, bool in_order,
	       void *mem, uint64_t iova, uint32_t align)
{
	uint16_t i;

	memset(vq, 0, sizeof *vq);
	/* Spec 2.7: a split queue's size is a power of 2; packed may be any size up to 32768. */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (!packed && (size & (size - 1))) || !align || (align & (align - 1)))
		return -EINVAL;
	vq->slot = calloc(size, sizeof *vq->slot);
	if (!vq->slot)
		return -ENOMEM;
	memset(mem, 0, virtq_mem_size(size, packed, align));
	vq->size = size;
	vq->index = index;
	vq->packed = packed;
	vq->event_idx = event_idx;
	vq->in_order = in_order;
	vq->num_free = size;
	/* ring order, wrapping at the end (2.7.5: in order, a chain's next is x + 1, 0 after the last) */
	for (i = 0; i < size; i++) {
		vq->slot[i].next = (uint16_t)(i + 1 == size ? 0 : i + 1);
		vq->slot[i].chain = 1;
	}
	vq->desc_iova = iova;
	if (packed) {
		size_t ev = sizeof(struct vring_packed_desc) * size;
		vq->pdesc = mem;
		vq->driver_event = (struct vring_packed_event *)((uint8_t *)mem + ev);
		vq->device_event = vq->driver_event + 1;
		vq->driver_iova = iova + ev;
		vq->device_iova = iova + ev + sizeof(struct vring_packed_event);
		/* Spec 2.8.1: both wrap counters start at 1 (available: AVAIL 1, USED 0). We poll: no interrupts (2.8.10). */
		vq->avail_flags = VRING_PACKED_DESC_F_AVAIL;
		vq->used_wrap = true;
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
	free(vq->slot);
	vq->slot = NULL;
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
		d->next = more ? vq->slot[id].next : 0;
		id = vq->slot[id].next;
	}
	vq->free_head = id;
	vq->slot[head].token = token;
	vq->slot[head].chain = n;
	vq->slot[head].writable = writable_bytes(sg, n);
	vq->avail[AVAIL_RING + (vq->avail_idx & (vq->size - 1))] = head;
	vq->avail_idx++;
	vq->added++;
}

/*
 * Packed: descriptors at consecutive ring positions, one buffer id for the
 * chain (2.8.6). The flags of the first descriptor made available since the
 * last kick are held back: writing them publishes the whole batch (2.8.21).
 */
static void packed_add(struct virtq *vq, const struct virtq_sg *sg, uint16_t n, void *token)
{
	uint16_t bid = vq->free_head, i;

	vq->free_head = vq->slot[bid].next;
	for (i = 0; i < n; i++) {
		volatile struct vring_packed_desc *d = &vq->pdesc[vq->next_avail];
		uint16_t flags = (uint16_t)((sg[i].device_writes ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0) | vq->avail_flags);
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
			vq->avail_flags ^= VRING_PACKED_DESC_F_AVAIL_USED;
		}
	}
	vq->slot[bid].token = token;
	vq->slot[bid].chain = n;
	vq->slot[bid].writable = writable_bytes(sg, n);
	vq->added = (uint16_t)(vq->added + n);
	if (vq->in_order) /* 2.8.8: a buffer's id is the ring position of its first descriptor */
		vq->free_head = vq->next_avail;
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
	struct virtq_put p;
	uint16_t i, m = virtq_room(vq, n);

	virtq_put_begin(vq, &p);
	for (i = 0; i < m && tokens[i]; i++)
		virtq_put(vq, &p, addr[i], len[i], device_writes, tokens[i]);
	virtq_put_end(vq, &p);
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

/*
 * The loops below keep the queue's state in locals and write it back once (get_end):
 * the stores into tokens[], lens[] and the slots would otherwise make the compiler load
 * every field of the queue again for each buffer. A slot's chain is 1 but while a
 * chain (virtq_add, the control queue) holds the id: taking it back sets 1 again.
 */
struct get_state {
	struct virtq_slot *slot;
	uint16_t size;
	uint16_t free_head;
	uint16_t descs;            /* descriptors given back */
	bool bad;                  /* the device wrote a bad value */
};

static inline void get_begin(const struct virtq *vq, struct get_state *g)
{
	g->slot = vq->slot;
	g->size = vq->size;
	g->free_head = vq->free_head;
	g->descs = 0;
	g->bad = false;
}

/* Takes buffer id back from the device: its token; its chain's descriptors are counted. */
static inline void *get_take(struct get_state *g, uint16_t id)
{
	struct virtq_slot *s = &g->slot[id];
	void *t = s->token;

	s->token = NULL;
	g->descs = (uint16_t)(g->descs + s->chain);
	return t;
}

static inline void get_end(struct virtq *vq, const struct get_state *g, uint16_t taken)
{
	vq->free_head = g->free_head;
	vq->in_flight = (uint16_t)(vq->in_flight - taken);
	vq->num_free = (uint16_t)(vq->num_free + g->descs);
	if (unic_unlikely(g->bad))
		bad_device(vq);
}

/* Split, out of order: the free list takes the chain back (its ids are linked by next). */
static inline void split_free(struct get_state *g, uint16_t head)
{
	struct virtq_slot *s = &g->slot[head];
	uint16_t last = head, i;

	if (unic_unlikely(s->chain > 1)) {
		for (i = 1; i < s->chain; i++)
			last = g->slot[last].next;
		s->chain = 1;
	}
	g->slot[last].next = g->free_head;
	g->free_head = head;
}

/* How many used entries the device says it added since last_used, read once and checked
 * against what it was given; 0 when none (or when it lied: the queue is then broken). *n is
 * lowered to that count. The elements may be read after this returns (2.7.14). */
static inline uint16_t split_pending(struct virtq *vq, uint16_t *n)
{
	uint16_t pending = (uint16_t)(vq->used[USED_IDX] - vq->last_used);

	if (pending == 0)
		return 0;
	if (unic_unlikely(pending > vq->in_flight)) { /* the device used more than it was given */
		bad_device(vq);
		return 0;
	}
	unic_rmb(); /* the index before the elements (2.7.14) */
	if (*n > pending)
		*n = pending;
	return pending;
}

static uint16_t split_get(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	uint16_t last = vq->last_used, k;
	struct get_state g;

	if (split_pending(vq, &n) == 0)
		return 0;
	get_begin(vq, &g);
	for (k = 0; k < n; k++) {
		volatile struct vring_used_elem *e = used_elem(vq, (uint16_t)(last + k) & (g.size - 1));
		uint32_t id = e->id, len = e->len;
		/* an id we gave (its token set) and a length within what the device may write */
		if (unic_unlikely(id >= g.size || !g.slot[id].token || len > g.slot[id].writable)) {
			g.bad = true;
			break;
		}
		tokens[k] = get_take(&g, (uint16_t)id);
		lens[k] = len;
		split_free(&g, (uint16_t)id);
	}
	vq->last_used = (uint16_t)(last + k);
	if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1);
	get_end(vq, &g, k);
	return k;
}

static uint16_t packed_get(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	volatile struct vring_packed_desc *ring = vq->pdesc;
	uint16_t pos = vq->used_pos, k;
	/* 2.8.1: used when AVAIL and USED both equal the used wrap counter */
	uint16_t want = vq->used_wrap ? VRING_PACKED_DESC_F_AVAIL_USED : 0;
	struct get_state g;

	if (n > vq->in_flight)
		n = vq->in_flight;
	get_begin(vq, &g);
	for (k = 0; k < n; k++) {
		volatile struct vring_packed_desc *d = &ring[pos];
		struct virtq_slot *s;
		uint16_t id;
		uint32_t len;

		if ((d->flags & VRING_PACKED_DESC_F_AVAIL_USED) != want)
			break;
		unic_rmb(); /* flags before id and len */
		id = d->id;
		len = d->len;
		if (unic_unlikely(id >= g.size)) {
			g.bad = true;
			break;
		}
		s = &g.slot[id];
		/*
		 * 2.8 (packed): "Element Length is reserved for used descriptors without the
		 * VIRTQ_DESC_F_WRITE flag, and is ignored by drivers" - DPDK's vhost writes the
		 * buffer's length there. A buffer the device may not write has no length to check.
		 */
		if (s->writable == 0)
			len = 0;
		if (unic_unlikely(!s->token || len > s->writable)) {
			g.bad = true;
			break;
		}
		/* 2.8.6: the used descriptor stands for the whole chain of that id */
		pos = (uint16_t)(pos + s->chain);
		if (pos >= g.size) {
			pos = (uint16_t)(pos - g.size);
			want ^= VRING_PACKED_DESC_F_AVAIL_USED;
		}
		tokens[k] = get_take(&g, id);
		lens[k] = len;
		s->chain = 1;
		s->next = g.free_head;
		g.free_head = id;
	}
	vq->used_pos = pos;
	vq->used_wrap = want != 0;
	get_end(vq, &g, k);
	return k;
}

/*
 * ---- in order (VIRTIO_F_IN_ORDER, 2.7.9 / 2.8.8) ----
 * Ids go out in ring order and nothing goes back on the free list: the buffer the device
 * completes next is always used_head's. A used entry names the last buffer of a batch that
 * starts at used_head; the buffers before it in the batch have no entry of their own and
 * count as used whole (their length is what the device could write). The id must be a
 * buffer the device holds, at or after used_head; anything else is a lie. A device that
 * writes an entry per buffer (DPDK's vhost on the split ring and on receive queues) makes
 * batches of one: one compare on the way.
 */

/* Buffers from head up to and including the one whose id is last (checked to be held). */
static uint16_t inorder_count(const struct virtq_slot *slot, uint16_t size, uint16_t head, uint16_t last)
{
	uint16_t id = head, count = 1;

	while (id != last) {
		id = (uint16_t)(id + slot[id].chain);
		if (id >= size)
			id = (uint16_t)(id - size);
		count++;
	}
	return count;
}

/*
 * Checks a used entry whose id is not head's: the last buffer of a longer batch, or a lie.
 * room: split, the buffers the used index still counts (the whole batch must be among
 * them); packed, no limit.
 */
static bool inorder_batch_ok(const struct get_state *g, uint16_t head, uint32_t id, uint32_t len, uint16_t room)
{
	uint16_t dist;

	if (id >= g->size)
		return false;
	dist = (uint16_t)(id >= head ? id - head : id + g->size - head);
	/*
	 * In order, a token is set exactly at the first descriptor of each buffer the device
	 * holds, and those lie from head on in ring order: a set token is a buffer at or after
	 * head (an id already taken back, or never given, or inside a chain, has none).
	 */
	if (!g->slot[id].token || len > g->slot[id].writable)
		return false;
	/* a buffer has at least one descriptor: dist + 1 buffers at most, often all that is needed */
	return dist < room || inorder_count(g->slot, g->size, head, (uint16_t)id) <= room;
}

/*
 * One loop for both formats. Split: the used index (read once) bounds n, and an entry is
 * read at the used ring's next slot at the start of each batch. Packed: the entry of a
 * batch is written over the batch's first descriptor, which is head's (2.8.8).
 */
static uint16_t get_in_order(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n, uint16_t room)
{
	volatile struct vring_packed_desc *ring = vq->pdesc;
	uint16_t head = vq->used_head, end = vq->batch_end, last = vq->last_used, k;
	uint16_t want = vq->used_wrap ? VRING_PACKED_DESC_F_AVAIL_USED : 0;
	uint32_t blen = vq->batch_len;
	bool in_batch = vq->in_batch, packed = vq->packed;
	struct get_state g;

	get_begin(vq, &g);
	for (k = 0; k < n; k++) {
		struct virtq_slot *s = &g.slot[head];
		uint16_t next;
		if (!in_batch) {
			uint32_t id, len;
			if (packed) {
				volatile struct vring_packed_desc *d = &ring[head];
				if ((d->flags & VRING_PACKED_DESC_F_AVAIL_USED) != want)
					break;
				unic_rmb(); /* flags before id and len */
				id = d->id;
				len = d->len;
				/* 2.8.4: no length for a buffer the device may not write (see packed_get) */
				if (id < g.size && g.slot[id].writable == 0)
					len = 0;
			} else {
				volatile struct vring_used_elem *e = used_elem(vq, (uint16_t)(last + k) & (g.size - 1));
				id = e->id;
				len = e->len;
			}
			if (unic_likely(id == head)) {
				if (unic_unlikely(len > s->writable)) {
					g.bad = true;
					break;
				}
			} else if (unic_unlikely(!inorder_batch_ok(&g, head, id, len, packed ? UINT16_MAX : (uint16_t)(room - k)))) {
				g.bad = true;
				break;
			}
			end = (uint16_t)id;
			blen = len;
			in_batch = true;
		}
		/* a buffer before the batch's last counts as used whole (2.7.9 / 2.8.8) */
		if (head == end) {
			lens[k] = blen;
			in_batch = false;
		} else {
			lens[k] = s->writable;
		}
		next = (uint16_t)(head + s->chain);
		if (unic_unlikely(s->chain > 1))
			s->chain = 1;
		tokens[k] = get_take(&g, head);
		if (next >= g.size) {
			next = (uint16_t)(next - g.size);
			want ^= VRING_PACKED_DESC_F_AVAIL_USED; /* packed: the device's wrap counter flips (2.8.1) */
		}
		head = next;
	}
	vq->used_head = head;
	vq->batch_end = end;
	vq->batch_len = blen;
	vq->in_batch = in_batch;
	if (packed) {
		vq->used_pos = head;
		vq->used_wrap = want != 0;
	} else {
		vq->last_used = (uint16_t)(last + k);
		if (vq->event_idx)
			*used_event(vq) = (uint16_t)(vq->last_used - 1);
	}
	get_end(vq, &g, k);
	return k;
}

/*
 * The fast paths: one used entry per one-descriptor buffer, each naming head's id (what
 * DPDK's vhost writes on receive queues and on split transmit queues). They stop at the
 * first entry that is anything else, and get_in_order goes on from there; what they read
 * of that entry is not used.
 */
static uint16_t split_get_in_order(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	uint16_t head = vq->used_head, last = vq->last_used, mask = (uint16_t)(vq->size - 1), k;
	/* 2.7.9: the index counts every buffer of a batch, those without an entry too */
	uint16_t pending = split_pending(vq, &n);
	struct get_state g;

	if (pending == 0)
		return 0;
	if (unic_unlikely(vq->in_batch))
		return get_in_order(vq, tokens, lens, n, pending);
	get_begin(vq, &g);
	for (k = 0; k < n; k++) {
		volatile struct vring_used_elem *e = used_elem(vq, (uint16_t)(last + k) & mask);
		struct virtq_slot *s = &g.slot[head];
		uint32_t id = e->id, len = e->len;
		if (unic_unlikely(id != head || s->chain != 1))
			break;
		if (unic_unlikely(len > s->writable)) {
			g.bad = true;
			break;
		}
		tokens[k] = get_take(&g, head);
		lens[k] = len;
		head = (uint16_t)((head + 1) & mask);
	}
	vq->used_head = head;
	vq->last_used = (uint16_t)(last + k);
	if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1);
	get_end(vq, &g, k);
	if (k < n && !g.bad)
		k = (uint16_t)(k + get_in_order(vq, tokens + k, lens + k, (uint16_t)(n - k), (uint16_t)(pending - k)));
	return k;
}

static uint16_t packed_get_in_order(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	volatile struct vring_packed_desc *ring = vq->pdesc;
	uint16_t head = vq->used_head, k;
	uint16_t want = vq->used_wrap ? VRING_PACKED_DESC_F_AVAIL_USED : 0;
	struct get_state g;
	bool more = false;

	if (n > vq->in_flight)
		n = vq->in_flight;
	if (unic_unlikely(vq->in_batch))
		return get_in_order(vq, tokens, lens, n, 0);
	get_begin(vq, &g);
	for (k = 0; k < n; k++) {
		volatile struct vring_packed_desc *d = &ring[head];
		struct virtq_slot *s = &g.slot[head];
		uint32_t len, w;
		if ((d->flags & VRING_PACKED_DESC_F_AVAIL_USED) != want)
			break;
		unic_rmb(); /* flags before id and len */
		if (unic_unlikely(d->id != head || s->chain != 1)) {
			more = true;
			break;
		}
		len = d->len;
		w = s->writable;
		if (w == 0) /* 2.8.4: no length for a buffer the device may not write (see packed_get) */
			len = 0;
		if (unic_unlikely(len > w)) {
			g.bad = true;
			break;
		}
		tokens[k] = get_take(&g, head);
		lens[k] = len;
		if (unic_unlikely(++head == g.size)) {
			head = 0;
			want ^= VRING_PACKED_DESC_F_AVAIL_USED; /* the device's wrap counter flips (2.8.1) */
		}
	}
	vq->used_head = vq->used_pos = head;
	vq->used_wrap = want != 0;
	get_end(vq, &g, k);
	if (more && !g.bad)
		k = (uint16_t)(k + get_in_order(vq, tokens + k, lens + k, (uint16_t)(n - k), 0));
	return k;
}

uint16_t virtq_get_batch(struct virtq *vq, void **tokens, uint32_t *lens, uint16_t n)
{
	if (unic_unlikely(vq->broken))
		return 0;
	if (vq->packed)
		return vq->in_order ? packed_get_in_order(vq, tokens, lens, n) : packed_get(vq, tokens, lens, n);
	return vq->in_order ? split_get_in_order(vq, tokens, lens, n) : split_get(vq, tokens, lens, n);
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
	if (vq->in_batch) /* in order: buffers of a checked batch are still to be taken */
		return 1;
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
		if (vq->slot[id].token) {
			tokens[k++] = vq->slot[id].token;
			vq->slot[id].token = NULL;
			vq->in_flight--;
		}
	return k;
}
