/*
 * mempool.c - fixed-size packet buffers whose rooms are in DMA memory.
 *
 * A stack of free buffers gives O(1) batch alloc and free with no system call
 * and no allocation on the hot path. The DMA area holds nothing but rooms
 * (headroom + frame data), which never cross a page boundary, so each room's DMA
 * address is valid without physical contiguity. The descriptors (struct
 * unic_buf: owner, DMA address, room size, index) are an ordinary array: a device
 * may write any byte of its DMA memory, and none of them is something the
 * library trusts. Debug builds (UNIC_DEBUG_BUILD) keep an in-use byte per buffer
 * to catch double frees and pointers that are not buffers of the pool.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

_Static_assert(sizeof(struct unic_buf) == 64, "struct unic_buf is one cache line");

#define CACHE_LINE 64u
#define SMALL_PAGE 4096u

#ifdef UNIC_DEBUG_BUILD
#include <stdio.h>
/* A broken invariant in the caller: report through the log hook, then trap in debug builds. */
static void pool_misuse(const char *what, const void *p)
{
	UNIC_ERR("mempool: %s (%p)", what, p);
	fprintf(stderr, "unic mempool: %s (%p)\n", what, p);
	__builtin_trap();
}
#endif

/* Bytes of DMA memory per buffer: headroom and data, rounded up to a cache line. */
static uint32_t room_bytes(uint16_t buf_size)
{
	return (UNIC_HEADROOM + (uint32_t)buf_size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
}

/* DMA bytes for num rooms; vhost-user may fall back to 4 KiB pages: sized for that worst case there. */
static size_t dma_bytes(const struct unic_dev *dev, uint32_t num, uint32_t room)
{
	uint32_t per_page = UNIC_HUGEPAGE_SIZE / room;

	if (dev->dma_mode == UNIC_DMA_VIRT && room <= SMALL_PAGE)
		return (size_t)((num + SMALL_PAGE / room - 1) / (SMALL_PAGE / room)) * SMALL_PAGE;
	return (size_t)((num + per_page - 1) / per_page) * UNIC_HUGEPAGE_SIZE;
}

static void free_metadata(struct unic_mempool *p)
{
	free(p->bufs);
	free(p->free_stack);
	free(p->in_use);
	free(p);
}

static struct unic_mempool *alloc_metadata(uint32_t num)
{
	struct unic_mempool *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	/* aligned_alloc: one descriptor per cache line; the size is a multiple of the alignment */
	p->bufs = aligned_alloc(CACHE_LINE, (size_t)num * sizeof *p->bufs);
	p->free_stack = calloc(num, sizeof *p->free_stack);
#ifdef UNIC_DEBUG_BUILD
	p->in_use = calloc(num, 1);
	if (!p->in_use) {
		free_metadata(p);
		return NULL;
	}
#endif
	if (!p->bufs || !p->free_stack) {
		free_metadata(p);
		return NULL;
	}
	memset(p->bufs, 0, (size_t)num * sizeof *p->bufs);
	return p;
}

struct unic_mempool *unic_mempool_create(struct unic_dev *dev, uint32_t num, uint16_t buf_size)
{
	struct unic_mempool *p;
	uint32_t room = room_bytes(buf_size), i;

	if (num == 0 || buf_size < 64) {
		unic_dev_error(dev, EINVAL, "mempool needs at least one buffer of at least 64 bytes");
		return NULL;
	}
	if (room > UINT16_MAX) {
		unic_dev_error(dev, EINVAL, "buffer size %u is above the largest, %u", buf_size, UNIC_BUF_SIZE_MAX);
		return NULL;
	}
	p = alloc_metadata(num);
	if (!p) {
		unic_dev_error(dev, ENOMEM, "out of memory for a mempool of %u buffers", num);
		return NULL;
	}
	if (unic_dma_alloc_pages(dev, dma_bytes(dev, num, room), &p->mem)) {
		free_metadata(p);
		return NULL;
	}
	/* Small pages (plain memfd) still hold whole rooms: room <= 4 KiB is required then. */
	p->per_page = (uint32_t)(p->mem.page_size / room);
	if (p->per_page == 0 || (uint64_t)p->per_page * (p->mem.size / p->mem.page_size) < num) {
		unic_dev_error(dev, EINVAL, "buffer size %u does not fit the DMA pages", buf_size);
		unic_mempool_destroy(p);
		return NULL;
	}
	p->num_entries = num;
	p->room_size = (uint16_t)room;
	p->dma_domain = unic_dma_domain(dev); /* the device's own domain: see unic_tx_burst */
	for (i = 0; i < num; i++) {
		size_t off = (size_t)(i / p->per_page) * p->mem.page_size + (size_t)(i % p->per_page) * room;
		struct unic_buf *b = &p->bufs[i];
		b->room = (uint8_t *)p->mem.virt + off;
		b->room_iova = unic_dma_iova(&p->mem, off);
		b->pool = p;
		b->index = i;
		b->room_size = p->room_size;
		b->data_off = UNIC_HEADROOM;
		p->free_stack[num - 1 - i] = b;
	}
	p->free_top = num;
	return p;
}

void unic_mempool_destroy(struct unic_mempool *p)
{
	if (!p)
		return;
	unic_dma_free(&p->mem);
	free_metadata(p);
}

/*
 * A pool outlives its device while its buffers are elsewhere (unic-fwd sends what
 * one NIC received out of another without a copy; the application may hold some):
 * the free that brings the last one home destroys it (unic_buf_free_bulk).
 */
void unic_mempool_orphan(struct unic_mempool *p)
{
	if (!p)
		return;
	if (p->free_top == p->num_entries)
		unic_mempool_destroy(p);
	else
		p->orphaned = true;
}

static inline void reset_buf(struct unic_buf *b)
{
	b->data_off = UNIC_HEADROOM;
	b->len = 0;
	b->rss_hash = 0;
}

uint32_t unic_buf_alloc_bulk(struct unic_mempool *p, struct unic_buf **bufs, uint32_t n)
{
	struct unic_buf **stack;
	uint32_t i, top;

	if (unic_unlikely(!p || !bufs || n > p->free_top))
		return 0;
	/* locals: the stores below cannot alias the pool's fields for the compiler */
	stack = p->free_stack;
	top = p->free_top;
	for (i = 0; i < n; i++) {
		struct unic_buf *b = stack[--top];
#ifdef UNIC_DEBUG_BUILD
		p->in_use[b->index] = 1;
#endif
		reset_buf(b);
		bufs[i] = b;
	}
	p->free_top = top;
	return n;
}

struct unic_buf *unic_buf_alloc(struct unic_mempool *p)
{
	struct unic_buf *b = NULL;

	unic_buf_alloc_bulk(p, &b, 1);
	return b;
}

#ifdef UNIC_DEBUG_BUILD
static void check_free(const struct unic_buf *b)
{
	const struct unic_mempool *p = b->pool;
	uintptr_t base, addr = (uintptr_t)b;

	if (!p)
		pool_misuse("free of a pointer that is not a unic buffer", b);
	base = (uintptr_t)p->bufs;
	if (addr < base || addr >= base + (uintptr_t)p->num_entries * sizeof *b || (addr - base) % sizeof *b ||
	    b->index >= p->num_entries || unic_mempool_entry(p, b->index) != b)
		pool_misuse("free of a pointer that is not a buffer of its pool", b);
	if (!p->in_use[b->index])
		pool_misuse("double free of a buffer", b);
}
#endif

void unic_buf_free_bulk(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i = 0;

	if (unic_unlikely(!bufs))
		return;
	while (i < n) {
		/* a run of buffers of one pool goes back with the stack top in a register */
		struct unic_mempool *p;
		struct unic_buf **stack;
		uint32_t top;
#ifdef UNIC_DEBUG_BUILD
		check_free(bufs[i]); /* before following its pool pointer */
#endif
		p = bufs[i]->pool;
		stack = p->free_stack;
		top = p->free_top;
		do {
			struct unic_buf *b = bufs[i];
#ifdef UNIC_DEBUG_BUILD
			check_free(b);
			p->in_use[b->index] = 0;
#endif
			stack[top++] = b;
		} while (++i < n && bufs[i]->pool == p);
		p->free_top = top;
		if (unic_unlikely(p->orphaned) && top == p->num_entries)
			unic_mempool_destroy(p); /* the last buffer of a closed device's pool came home */
	}
}

void unic_buf_free(struct unic_buf *b)
{
	if (b)
		unic_buf_free_bulk(&b, 1);
}

uint32_t unic_mempool_free_count(const struct unic_mempool *p)
{
	return p ? p->free_top : 0;
}

uint32_t unic_mempool_size(const struct unic_mempool *p)
{
	return p ? p->num_entries : 0;
}

struct unic_mempool *unic_dev_mempool(struct unic_dev *dev)
{
	return dev ? dev->pool : NULL;
}
