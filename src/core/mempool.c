/*
 * mempool.c - fixed-size packet buffers in DMA memory.
 *
 * A stack of free entry indices gives O(1) batch alloc and free with no system
 * call and no allocation on the hot path. Entries never cross a page boundary,
 * so each buffer's DMA address is valid without physical contiguity. Debug
 * builds (UNIC_DEBUG_BUILD) keep an in-use byte per entry to catch double frees and
 * pointers that are not buffers of the pool.
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

struct unic_mempool *unic_mempool_create(struct unic_dev *dev, uint32_t num, uint16_t buf_size)
{
	struct unic_mempool *p;
	uint32_t entry, per_page, pages, i;
	size_t size;

	if (num == 0 || buf_size < 64) {
		unic_dev_error(dev, EINVAL, "mempool needs at least one buffer of at least 64 bytes");
		return NULL;
	}
	entry = (uint32_t)(sizeof(struct unic_buf) + UNIC_HEADROOM + buf_size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	p = calloc(1, sizeof *p);
	if (!p) {
		unic_dev_error(dev, ENOMEM, "out of memory for a mempool");
		return NULL;
	}
	p->free_stack = calloc(num, sizeof *p->free_stack);
#ifdef UNIC_DEBUG_BUILD
	p->in_use = calloc(num, 1);
#endif
	per_page = UNIC_HUGEPAGE_SIZE / entry;
	pages = (num + per_page - 1) / per_page;
	size = (size_t)pages * UNIC_HUGEPAGE_SIZE;
	/* vhost-user may fall back to 4 KiB pages: size for that worst case there. */
	if (dev->dma_mode == UNIC_DMA_VIRT && entry <= SMALL_PAGE)
		size = (size_t)((num + SMALL_PAGE / entry - 1) / (SMALL_PAGE / entry)) * SMALL_PAGE;
	if (!p->free_stack || unic_dma_alloc_pages(dev, size, &p->mem)) {
		if (!p->free_stack)
			unic_dev_error(dev, ENOMEM, "out of memory for a mempool");
		free(p->free_stack);
		free(p->in_use);
		free(p);
		return NULL;
	}
	/* Small pages (plain memfd) still hold whole entries: entry <= 4 KiB is required then. */
	per_page = (uint32_t)(p->mem.page_size / entry);
	if (per_page == 0 || (uint64_t)per_page * (p->mem.size / p->mem.page_size) < num) {
		unic_dev_error(dev, EINVAL, "buffer size %u does not fit the DMA pages", buf_size);
		unic_mempool_destroy(p);
		return NULL;
	}
	p->entry_size = entry;
	p->per_page = per_page;
	p->num_entries = num;
	p->room_size = (uint16_t)(entry - sizeof(struct unic_buf));
	p->dma_domain = unic_dma_domain(dev); /* the device's own domain: see unic_tx_burst */
	for (i = 0; i < num; i++) {
		size_t off = (size_t)(i / per_page) * p->mem.page_size + (size_t)(i % per_page) * entry;
		struct unic_buf *b = (struct unic_buf *)((uint8_t *)p->mem.virt + off);
		b->room_iova = unic_dma_iova(&p->mem, off + sizeof *b);
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
	free(p->free_stack);
	free(p->in_use);
	free(p);
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
	base = (uintptr_t)p->mem.virt;
	if (addr < base || addr >= base + p->mem.size || b->index >= p->num_entries ||
	    unic_mempool_entry(p, b->index) != b)
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
