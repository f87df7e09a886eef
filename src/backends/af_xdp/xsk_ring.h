/*
 * xsk_ring.h - the four AF_XDP rings as unic sees them, and the checks on what the kernel
 * writes into them (Documentation/networking/af_xdp.rst, "Rings").
 *
 * Each ring is a power-of-two array shared with the kernel, a producer and a consumer index
 * (free-running 32-bit counters) and a flags word. unic produces into the fill and tx rings
 * and consumes the rx and completion rings. The kernel is handled like any device: every
 * index and descriptor it writes is read once, checked against what unic handed it, and only
 * then used. These functions are inline for the data path, and a unit test drives them with
 * a fake ring whose "kernel" side lies (tests/unit/test_af_xdp_ring.c).
 */
#ifndef UNIC_XSK_RING_H
#define UNIC_XSK_RING_H

#include <linux/if_xdp.h>

#include "internal.h"

struct xsk_ring {
	_Atomic uint32_t *producer; /* in the shared mapping */
	_Atomic uint32_t *consumer;
	_Atomic uint32_t *flags;    /* XDP_RING_NEED_WAKEUP */
	void *descs;                /* uint64_t addresses (fill, completion) or struct xdp_desc (rx, tx) */
	uint32_t size, mask;
	uint32_t head;              /* unic's own index: producer of fill/tx, consumer of rx/completion */
	uint32_t seen;              /* the kernel's index as last accepted (it never moves back) */
	void *map;                  /* the mmap'ed ring, for munmap */
	size_t map_len;
};

/*
 * Rings unic produces into (fill, tx): free slots, or -1 when the kernel's consumer index is
 * impossible (behind what it consumed before, or past what unic produced).
 */
static inline int64_t xsk_prod_free(struct xsk_ring *r)
{
	uint32_t cons = atomic_load_explicit(r->consumer, memory_order_acquire);

	if (unic_unlikely((uint32_t)(cons - r->seen) > (uint32_t)(r->head - r->seen)))
		return -1;
	r->seen = cons;
	return (int64_t)r->size - (uint32_t)(r->head - cons);
}

/* Entries produced by unic that the kernel has not consumed yet (tx: frames not sent). */
static inline uint32_t xsk_prod_pending(const struct xsk_ring *r)
{
	return r->head - r->seen;
}

static inline void xsk_prod_submit(struct xsk_ring *r, uint32_t n)
{
	r->head += n;
	atomic_store_explicit(r->producer, r->head, memory_order_release);
}

/*
 * Rings unic consumes (rx, completion): entries ready, or -1 when the kernel's producer index
 * is impossible (behind what it produced before, or more than a ring ahead of unic).
 */
static inline int64_t xsk_cons_avail(struct xsk_ring *r)
{
	uint32_t prod = atomic_load_explicit(r->producer, memory_order_acquire);

	if (unic_unlikely((uint32_t)(prod - r->seen) > (uint32_t)(r->head + r->size - r->seen)))
		return -1;
	r->seen = prod;
	return (uint32_t)(prod - r->head);
}

static inline void xsk_cons_release(struct xsk_ring *r, uint32_t n)
{
	r->head += n;
	atomic_store_explicit(r->consumer, r->head, memory_order_release);
}

static inline bool xsk_needs_wakeup(const struct xsk_ring *r)
{
	return atomic_load_explicit(r->flags, memory_order_relaxed) & XDP_RING_NEED_WAKEUP;
}

static inline uint64_t *xsk_addr_at(const struct xsk_ring *r, uint32_t i)
{
	return (uint64_t *)r->descs + (i & r->mask);
}

static inline struct xdp_desc *xsk_desc_at(const struct xsk_ring *r, uint32_t i)
{
	return (struct xdp_desc *)r->descs + (i & r->mask);
}

/*
 * The UMEM is the device's pool memory: a UMEM address is an offset into it, and the rooms
 * lie per_page to a page, room_size bytes apart, from each page's start (mempool.c).
 */
struct xsk_umem_map {
	uint64_t size;       /* bytes registered */
	uint32_t page_shift; /* pool pages: 2 MiB or 4 KiB */
	uint32_t per_page;
	uint32_t room_size;
	uint32_t num_entries;
};

/*
 * In unaligned-chunk mode the kernel hands back an rx address as base | offset << 48: the
 * data starts offset bytes after base (if_xdp.h, XSK_UNALIGNED_BUF_OFFSET_SHIFT).
 */
static inline uint64_t xsk_addr_flat(uint64_t addr)
{
	return (addr & XSK_UNALIGNED_BUF_ADDR_MASK) + (addr >> XSK_UNALIGNED_BUF_OFFSET_SHIFT);
}

/* Pool index of the room that holds UMEM offset off, and off's place in it; -1 when none does. */
static inline int64_t xsk_room_of(const struct xsk_umem_map *m, uint64_t off, uint32_t *in_room)
{
	uint64_t page = off >> m->page_shift;
	uint32_t in_page = (uint32_t)(off & ((1ull << m->page_shift) - 1));
	uint32_t slot = in_page / m->room_size;
	uint64_t idx = page * m->per_page + slot;

	if (unic_unlikely(off >= m->size || slot >= m->per_page || idx >= m->num_entries))
		return -1;
	*in_room = in_page - slot * m->room_size;
	return (int64_t)idx;
}

/*
 * Buffers a ring holds for the kernel: one byte per pool entry (a bit would be 8 times
 * smaller, but costs a read-modify-write of a shared word, about 10 more instructions
 * per frame on each of rx and tx: bench/xdp-instr).
 */
static inline bool held_take(uint8_t *held, uint64_t i)
{
	bool was = held[i];

	held[i] = 0;
	return was;
}

static inline void held_put(uint8_t *held, uint64_t i)
{
	held[i] = 1;
}

/*
 * An rx descriptor: the pool index of its buffer and the frame's place in it, or -1 when the
 * address is in no room, names a buffer this ring does not hold, or the frame (empty, or
 * longer than what follows its start in the room) does not fit. A held buffer with a bad
 * length is released from owned (*held_bad = its index) so the caller frees it.
 */
static inline int64_t xsk_rx_check(const struct xsk_umem_map *m, uint8_t *owned, uint64_t addr, uint32_t len,
				   uint32_t *data_off, int64_t *held_bad)
{
	int64_t idx = xsk_room_of(m, xsk_addr_flat(addr), data_off);

	*held_bad = -1;
	if (idx < 0 || !held_take(owned, (uint64_t)idx))
		return -1;
	if (unic_unlikely(len == 0 || len > m->room_size - *data_off)) {
		*held_bad = idx;
		return -1;
	}
	return idx;
}

/* A completion address: the pool index of a buffer this tx queue sent, or -1. */
static inline int64_t xsk_comp_check(const struct xsk_umem_map *m, uint8_t *owned, uint64_t addr)
{
	uint32_t in_room;
	int64_t idx = xsk_room_of(m, xsk_addr_flat(addr), &in_room);

	if (idx < 0 || !held_take(owned, (uint64_t)idx))
		return -1;
	return idx;
}

#endif
