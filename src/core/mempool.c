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
 *
 * Threads (unic.h, "Threads"): any thread may allocate from and free into any pool. Each
 * thread has a cache per pool (pool->caches[its slot]) that only it touches, so the common
 * alloc/free is plain loads and stores; a cache refills from and flushes to the pool's store
 * in bulk, under the store's lock. A thread's slot is given out on its first pool call
 * (under pools_lock) and its pthread key destructor flushes its caches when it exits.
 */
#include <errno.h>
#include <pthread.h>
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

/* Bytes of pages of page bytes that hold num rooms, none across a page (room <= page). */
static size_t pages_bytes(uint32_t num, uint32_t room, size_t page)
{
	size_t per_page = page / room;

	return (num + per_page - 1) / per_page * page;
}

/* DMA bytes for num rooms; vhost-user and af_xdp may fall back to 4 KiB pages: sized for that worst case there. */
static size_t dma_bytes(const struct unic_dev *dev, uint32_t num, uint32_t room)
{
	if (dev->dma_mode == UNIC_DMA_CPU) /* one area, rooms may cross pages: nothing DMAs */
		return (size_t)num * room;
	if ((dev->dma_mode == UNIC_DMA_VIRT || dev->dma_mode == UNIC_DMA_UMEM) && room <= SMALL_PAGE)
		return pages_bytes(num, room, SMALL_PAGE);
	return pages_bytes(num, room, UNIC_HUGEPAGE_SIZE);
}

/* Every pool of the process and the thread slots in use: both under pools_lock. */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct unic_mempool *pools;
static uint64_t slots_used;
_Static_assert(UNIC_POOL_THREADS <= 64, "slots_used is a 64-bit map");
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static bool slot_key_ok;
/* This thread's slot + 1; 0: not asked yet; NO_SLOT: none (all taken, or exiting). */
#define NO_SLOT (UNIC_POOL_THREADS + 1)
static _Thread_local uint32_t my_slot __attribute__((tls_model("initial-exec")));

static void free_metadata(struct unic_mempool *p)
{
	uint32_t i;

	for (i = 0; i < UNIC_POOL_THREADS; i++)
		free(atomic_load_explicit(&p->caches[i], memory_order_relaxed));
	free(p->bufs);
	free(p->store);
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
	p->store = calloc(num, sizeof *p->store);
#ifdef UNIC_DEBUG_BUILD
	p->in_use = calloc(num, 1);
	if (!p->in_use) {
		free_metadata(p);
		return NULL;
	}
#endif
	if (!p->bufs || !p->store) {
		free_metadata(p);
		return NULL;
	}
	memset(p->bufs, 0, (size_t)num * sizeof *p->bufs);
	return p;
}

/* Buffers of all caches (store lock held, or the pool quiet): with store_len, every free one. */
static uint32_t cached_count(const struct unic_mempool *p)
{
	uint32_t i, n = 0;

	for (i = 0; i < UNIC_POOL_THREADS; i++) {
		struct unic_pool_cache *c = atomic_load_explicit(&p->caches[i], memory_order_acquire);

		if (c)
			n += atomic_load_explicit(&c->len, memory_order_acquire);
	}
	return n;
}

/* Store lock held: an orphaned pool whose buffers are all home is claimed for destruction. */
static bool claim_if_home(struct unic_mempool *p)
{
	if (p->dying || !atomic_load(&p->orphaned) ||
	    atomic_load_explicit(&p->store_len, memory_order_relaxed) + cached_count(p) != p->num_entries)
		return false;
	p->dying = true;
	return true;
}

/* Moves n buffers from the top of c to the store (store lock held, c is this thread's). */
static void cache_to_store(struct unic_mempool *p, struct unic_pool_cache *c, uint32_t n)
{
	uint32_t len = atomic_load_explicit(&c->len, memory_order_relaxed);
	uint32_t top = atomic_load_explicit(&p->store_len, memory_order_relaxed);

	memcpy(p->store + top, c->objs + len - n, n * sizeof *c->objs);
	atomic_store_explicit(&p->store_len, top + n, memory_order_relaxed);
	atomic_store_explicit(&c->len, len - n, memory_order_release);
}

static void pool_discard(struct unic_mempool *p);

/* The exiting thread's caches go back to their stores; pools left all home are destroyed. */
static void slot_release(void *arg)
{
	uint32_t slot = (uint32_t)(uintptr_t)arg - 1;
	struct unic_mempool *p, **link, *dead = NULL;

	my_slot = NO_SLOT; /* later frees (other key destructors) go to the store directly */
	pthread_mutex_lock(&pools_lock);
	for (link = &pools; (p = *link) != NULL;) {
		struct unic_pool_cache *c = atomic_load_explicit(&p->caches[slot], memory_order_relaxed);
		bool claimed = false;

		pthread_mutex_lock(&p->lock);
		if (c && !p->dying) {
			cache_to_store(p, c, atomic_load_explicit(&c->len, memory_order_relaxed));
			claimed = claim_if_home(p);
		}
		pthread_mutex_unlock(&p->lock);
		if (claimed) { /* unlinked here, freed below, outside the lock */
			*link = p->next;
			p->next = dead;
			dead = p;
		} else {
			link = &p->next;
		}
	}
	slots_used &= ~(1ull << slot);
	pthread_mutex_unlock(&pools_lock);
	while ((p = dead) != NULL) {
		dead = p->next;
		pool_discard(p);
	}
}

static void slot_key_create(void)
{
	slot_key_ok = pthread_key_create(&slot_key, slot_release) == 0;
}

/* This thread's first pool call: a free slot, released by its key destructor at exit. */
static void slot_get(void)
{
	uint32_t slot;

	my_slot = NO_SLOT;
	pthread_once(&slot_key_once, slot_key_create);
	if (!slot_key_ok)
		return;
	pthread_mutex_lock(&pools_lock);
	if (~slots_used) {
		slot = (uint32_t)__builtin_ctzll(~slots_used);
		if (slot < UNIC_POOL_THREADS && pthread_setspecific(slot_key, (void *)(uintptr_t)(slot + 1)) == 0) {
			slots_used |= 1ull << slot;
			my_slot = slot + 1;
		}
	}
	pthread_mutex_unlock(&pools_lock);
}

/* The calling thread's cache of p, made on first use; NULL: none (go to the store). */
static struct unic_pool_cache *cache_slow(struct unic_mempool *p)
{
	struct unic_pool_cache *c;

	if (my_slot == 0)
		slot_get();
	if (my_slot == NO_SLOT || p->cache_size == 0)
		return NULL;
	c = atomic_load_explicit(&p->caches[my_slot - 1], memory_order_relaxed);
	if (c)
		return c;
	c = calloc(1, sizeof *c + 2 * (size_t)p->cache_size * sizeof *c->objs);
	if (!c)
		return NULL;
	c->cap = 2 * p->cache_size;
	atomic_store_explicit(&p->caches[my_slot - 1], c, memory_order_release);
	return c;
}

static inline struct unic_pool_cache *my_cache(struct unic_mempool *p)
{
	uint32_t slot = my_slot - 1; /* 0 (not asked) wraps to a huge value */
	struct unic_pool_cache *c = NULL;

	if (unic_likely(slot < UNIC_POOL_THREADS))
		c = atomic_load_explicit(&p->caches[slot], memory_order_relaxed);
	return unic_likely(c != NULL) ? c : cache_slow(p);
}

/* Descriptors, store and lock of a pool of num buffers of buf_size bytes; no DMA memory yet. */
static struct unic_mempool *pool_alloc(struct unic_dev *dev, uint32_t num, uint16_t buf_size)
{
	struct unic_mempool *p;

	if (num == 0 || buf_size < 64) {
		unic_dev_error(dev, EINVAL, "mempool needs at least one buffer of at least 64 bytes");
		return NULL;
	}
	if (room_bytes(buf_size) > UINT16_MAX) {
		unic_dev_error(dev, EINVAL, "buffer size %u is above the largest, %u", buf_size, UNIC_BUF_SIZE_MAX);
		return NULL;
	}
	p = alloc_metadata(num);
	if (!p || pthread_mutex_init(&p->lock, NULL)) {
		if (p)
			free_metadata(p);
		unic_dev_error(dev, ENOMEM, "out of memory for a mempool of %u buffers", num);
		return NULL;
	}
	p->mem.fd = -1;
	return p;
}

/* A pool that never went into the list: everything it took. */
static void pool_discard(struct unic_mempool *p)
{
	pthread_mutex_destroy(&p->lock);
	unic_dma_free(&p->mem);
	free_metadata(p);
}

/* Offset of room i in the DMA area: whole rooms per page, never one across a page. */
static size_t room_offset(const struct unic_mempool *p, uint32_t i)
{
	return (size_t)(i / p->per_page) * p->mem.page_size + (size_t)(i % p->per_page) * p->room_size;
}

/* Every buffer's DMA address, from the area's binding (0 while it has none). */
static void set_iovas(struct unic_mempool *p)
{
	uint32_t i;

	for (i = 0; i < p->num_entries; i++)
		p->bufs[i].room_iova = p->mem.mode ? unic_dma_iova(&p->mem, room_offset(p, i)) : 0;
}

/* Rooms laid out in p->mem, every buffer in the store; 0, or -EINVAL when they do not fit. */
static int pool_layout(struct unic_dev *dev, struct unic_mempool *p, uint32_t num, uint16_t buf_size)
{
	uint32_t room = room_bytes(buf_size), i;

	/* Small pages (plain memfd) still hold whole rooms: room <= 4 KiB is required then. */
	p->per_page = (uint32_t)(p->mem.page_size / room);
	if (p->per_page == 0 || (uint64_t)p->per_page * (p->mem.size / p->mem.page_size) < num)
		return unic_dev_error(dev, EINVAL, "buffer size %u does not fit the DMA pages", buf_size);
	p->num_entries = num;
	p->room_size = (uint16_t)room;
	p->buf_size = buf_size;
	/* a sixteenth per thread: several threads' caches cannot hold the whole pool */
	p->cache_size = num / 16 < UNIC_POOL_CACHE_MAX ? num / 16 : UNIC_POOL_CACHE_MAX;
	for (i = 0; i < num; i++) {
		struct unic_buf *b = &p->bufs[i];
		b->room = (uint8_t *)p->mem.virt + room_offset(p, i);
		b->pool = p;
		b->index = i;
		b->room_size = p->room_size;
		b->data_off = UNIC_HEADROOM;
		p->store[num - 1 - i] = b;
	}
	set_iovas(p);
	atomic_store_explicit(&p->store_len, num, memory_order_relaxed);
	return 0;
}

/* Into the list of every pool (thread exits flush their caches into them). */
static void pool_register(struct unic_mempool *p)
{
	pthread_mutex_lock(&pools_lock);
	p->next = pools;
	pools = p;
	pthread_mutex_unlock(&pools_lock);
}

struct unic_mempool *unic_mempool_make(struct unic_dev *dev, uint32_t num, uint16_t buf_size)
{
	struct unic_mempool *p = pool_alloc(dev, num, buf_size);

	if (!p)
		return NULL;
	if (unic_dma_alloc_pages(dev, dma_bytes(dev, num, room_bytes(buf_size)), &p->mem) ||
	    pool_layout(dev, p, num, buf_size)) {
		pool_discard(p);
		return NULL;
	}
	p->dma_domain = unic_dma_domain(dev); /* the device's own domain: see unic_tx_burst */
	atomic_store(&p->refs, 1);             /* its device's */
	pool_register(p);
	return p;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] && strcmp(v, "0") != 0;
}

/*
 * An application's pool: memory every access method can use (a memfd: vhost-user backends
 * map it, VFIO maps it into the container, pagemap gives hugepages' physical addresses), in
 * 2 MiB hugepages when enough are free, else in 4 KiB pages when a room fits one (then only
 * for VFIO and vhost-user devices). Its DMA addresses come with its first device.
 */
struct unic_mempool *unic_mempool_create(uint32_t count, uint16_t buf_size, char *err, size_t errlen)
{
	struct unic_dev scratch; /* for the error line */
	struct unic_mempool *p = NULL;
	uint32_t room = room_bytes(buf_size);
	size_t huge, small;

	memset(&scratch, 0, sizeof scratch);
	if (err && errlen)
		err[0] = 0;
	huge = env_true("UNIC_NO_HUGEPAGES") ? 0 : pages_bytes(count ? count : 1, room, UNIC_HUGEPAGE_SIZE);
	small = room <= SMALL_PAGE ? pages_bytes(count ? count : 1, room, SMALL_PAGE) : 0;
	if (count == 0 || count > UNIC_POOL_SIZE_MAX)
		unic_dev_error(&scratch, EINVAL, "unic_mempool_create: count %u is out of range: give 1 to %u buffers",
			       count, UNIC_POOL_SIZE_MAX);
	else if (buf_size < UNIC_BUF_SIZE_MIN || buf_size > UNIC_BUF_SIZE_MAX)
		unic_dev_error(&scratch, EINVAL, "unic_mempool_create: buf_size %u is out of range: give %u to %u bytes",
			       buf_size, UNIC_BUF_SIZE_MIN, UNIC_BUF_SIZE_MAX);
	else if (!huge && !small)
		unic_dev_error(&scratch, EINVAL, "unic_mempool_create: buffers of %u bytes do not fit 4 KiB pages and "
			       "UNIC_NO_HUGEPAGES rules out 2 MiB ones: unset it, or give buf_size %u or less",
			       buf_size, SMALL_PAGE - UNIC_HEADROOM);
	else if ((p = pool_alloc(&scratch, count, buf_size)) &&
		 (unic_dma_map_unbound(&scratch, huge, small, &p->mem) || pool_layout(&scratch, p, count, buf_size))) {
		pool_discard(p);
		p = NULL;
	}
	if (!p) {
		unic_fmt(err, errlen, "%s", scratch.err);
		return NULL;
	}
	p->app_made = true;
	atomic_store(&p->refs, 1); /* the application's, until unic_mempool_release */
	pool_register(p);
	return p;
}

void unic_mempool_destroy(struct unic_mempool *p)
{
	struct unic_mempool **link;

	if (!p)
		return;
	pthread_mutex_lock(&pools_lock);
	for (link = &pools; *link; link = &(*link)->next)
		if (*link == p) {
			*link = p->next;
			break;
		}
	pthread_mutex_unlock(&pools_lock);
	pool_discard(p);
}

/*
 * A pool outlives its device while its buffers are elsewhere (unic-fwd sends what
 * one NIC received out of another without a copy; the application may hold some):
 * the free that brings the last one home destroys it (free_slow), counting the
 * buffers in every thread's cache as home. A free that raced with this call (it saw
 * the pool not yet orphaned and put the last buffer in its cache) leaves it to that
 * thread's exit, which flushes its caches and destroys the pool then.
 */
void unic_mempool_orphan(struct unic_mempool *p)
{
	bool claimed;

	if (!p)
		return;
	atomic_store(&p->orphaned, true);
	pthread_mutex_lock(&p->lock);
	claimed = claim_if_home(p);
	pthread_mutex_unlock(&p->lock);
	if (claimed)
		unic_mempool_destroy(p);
}

/* One owner fewer (the application, or a device): the last one orphans the pool. */
static void pool_put(struct unic_mempool *p)
{
	if (atomic_fetch_sub(&p->refs, 1) == 1)
		unic_mempool_orphan(p);
}

void unic_mempool_release(struct unic_mempool *p)
{
	if (!p)
		return;
	if (!p->app_made) {
		UNIC_ERR("unic_mempool_release: this pool belongs to its device (unic_dev_mempool); unic_close frees it");
		return;
	}
	if (atomic_exchange(&p->released, true)) {
		UNIC_ERR("unic_mempool_release: the pool was released already");
		return;
	}
	pool_put(p);
}

/* Devices join and leave application pools one at a time: users, rx_need and binding. */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

/* Who can reach a pool bound in mode m: for the error line. */
static const char *reach_name(int mode)
{
	switch (mode) {
	case UNIC_DMA_PHYS: return "sysfs:/uio:/vfio-noiommu: devices (physical addresses)";
	case UNIC_DMA_VFIO: return "vfio: devices (this process's VFIO container)";
	case UNIC_DMA_VIRT: return "vhost-user devices (their backends' memory tables)";
	default: return "no device";
	}
}

/* Can dev's DMA reach p as it is bound now? */
static bool reaches(const struct unic_dev *dev, const struct unic_mempool *p)
{
	if (p->mem.mode != dev->dma_mode)
		return false;
	/* a new container (its last group left) dropped every mapping: another domain */
	return dev->dma_mode != UNIC_DMA_VFIO || p->dma_domain == unic_vfio_domain();
}

/*
 * No device uses p: may its binding be replaced? Only when no device can hold one of its
 * buffers in a ring: vhost-user's domain is its users', a dead VFIO container's devices are
 * gone; else (a device of the domain may have been handed some for tx) every buffer is home.
 */
static bool may_rebind(const struct unic_mempool *p)
{
	if (p->users)
		return false;
	if (!p->mem.mode || p->mem.mode == UNIC_DMA_VIRT)
		return true;
	if (p->mem.mode == UNIC_DMA_VFIO && p->dma_domain != unic_vfio_domain())
		return true;
	return unic_mempool_free_count(p) == p->num_entries;
}

static int bind_pool(struct unic_dev *dev, struct unic_mempool *p)
{
	int r;

	unic_dma_unbind(&p->mem);
	p->dma_domain = 0; /* unbound: every device copies its buffers */
	r = unic_dma_bind(dev, &p->mem);
	set_iovas(p);
	if (!r)
		p->dma_domain = unic_dma_domain(dev);
	return r;
}

/* attach_lock held: 0 when dev may use p as it is bound, or after binding it anew. */
static int check_reach(struct unic_dev *dev, struct unic_mempool *p)
{
	const char *name = unic_access_name(dev->spec.access);

	if (dev->dma_mode != UNIC_DMA_PHYS && dev->dma_mode != UNIC_DMA_VFIO && dev->dma_mode != UNIC_DMA_VIRT)
		return unic_dev_error(dev, ENOTSUP, "%s devices cannot receive into an application's pool (cfg.pool): "
				      "leave cfg.pool NULL and it gets its own", name);
	if (p->mem.mode && reaches(dev, p))
		return 0;
	if (may_rebind(p))
		return bind_pool(dev, p);
	return unic_dev_error(dev, EXDEV, "cfg.pool is bound to %s, out of a %s device's reach while %u device(s) or "
			      "buffers hold it: open this one with its own pool (cfg.pool NULL)",
			      reach_name(p->mem.mode), name, p->users);
}

int unic_mempool_attach(struct unic_dev *dev)
{
	struct unic_mempool *p = dev->cfg.pool;
	uint32_t share = (uint32_t)dev->cfg.rx_queues * dev->cfg.rx_ring_size;
	int r = 0;

	if (!p->app_made || atomic_load(&p->released))
		return unic_dev_error(dev, EINVAL, "cfg.pool is %s: give a pool from unic_mempool_create that is not "
				      "released yet", p->app_made ? "released" : "a device's own pool");
	pthread_mutex_lock(&attach_lock);
	if ((uint64_t)p->rx_need + share > p->num_entries)
		r = unic_dev_error(dev, EINVAL, "cfg.pool of %u buffers cannot fill the rx rings of its devices: %u for "
				   "this one (rx_queues %u x rx_ring_size %u) and %u for the %u already on it: create "
				   "it with at least %u buffers, or give smaller rx rings", p->num_entries, share,
				   dev->cfg.rx_queues, dev->cfg.rx_ring_size, p->rx_need, p->users, p->rx_need + share);
	/* a copying backend (af_packet, tap) reaches any memory: it holds no binding */
	if (!r && dev->dma_mode != UNIC_DMA_CPU)
		r = check_reach(dev, p);
	if (!r) {
		p->users += dev->dma_mode != UNIC_DMA_CPU;
		p->rx_need += share;
		atomic_fetch_add(&p->refs, 1);
		dev->pool_rx_share = share;
		dev->pool = p;
	}
	pthread_mutex_unlock(&attach_lock);
	return r;
}

void unic_mempool_detach(struct unic_dev *dev)
{
	struct unic_mempool *p = dev->pool;

	if (!p)
		return;
	dev->pool = NULL;
	if (p->app_made) {
		pthread_mutex_lock(&attach_lock);
		p->users -= dev->dma_mode != UNIC_DMA_CPU;
		p->rx_need -= dev->pool_rx_share;
		pthread_mutex_unlock(&attach_lock);
	}
	pool_put(p);
}

static inline void reset_buf(struct unic_buf *b)
{
	b->data_off = UNIC_HEADROOM;
	b->len = 0;
	b->rss_hash = 0;
}

static inline void hand_out(struct unic_mempool *p, struct unic_buf *b)
{
#ifdef UNIC_DEBUG_BUILD
	p->in_use[b->index] = 1;
#endif
	reset_buf(b);
}

/* The cache cannot give n: under the store lock, n from cache + store (or none), then refill. */
static uint32_t alloc_slow(struct unic_mempool *p, struct unic_pool_cache *c, struct unic_buf **bufs, uint32_t n)
{
	uint32_t len = c ? atomic_load_explicit(&c->len, memory_order_relaxed) : 0, top, i = 0, want;

	pthread_mutex_lock(&p->lock);
	top = atomic_load_explicit(&p->store_len, memory_order_relaxed);
	if ((uint64_t)top + len < n) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	for (; i < n && len; i++)
		bufs[i] = c->objs[--len];
	for (; i < n; i++)
		bufs[i] = p->store[--top];
	if (c) {
		want = len >= p->cache_size ? 0 : p->cache_size - len < top ? p->cache_size - len : top;
		memcpy(c->objs + len, p->store + top - want, want * sizeof *c->objs);
		top -= want;
		len += want;
		atomic_store_explicit(&c->len, len, memory_order_release);
	}
	atomic_store_explicit(&p->store_len, top, memory_order_relaxed);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < n; i++)
		hand_out(p, bufs[i]);
	return n;
}

uint32_t unic_buf_alloc_bulk(struct unic_mempool *p, struct unic_buf **bufs, uint32_t n)
{
	struct unic_pool_cache *c;
	struct unic_buf **objs;
	uint32_t i, len;

	if (unic_unlikely(!p || !bufs))
		return 0;
	c = my_cache(p);
	if (unic_unlikely(!c))
		return alloc_slow(p, NULL, bufs, n);
	len = atomic_load_explicit(&c->len, memory_order_relaxed);
	if (unic_unlikely(n > len))
		return alloc_slow(p, c, bufs, n);
	objs = c->objs; /* a local: the stores below cannot alias it for the compiler */
#pragma GCC unroll 4
	for (i = 0; i < n; i++) {
		struct unic_buf *b = objs[--len];
		hand_out(p, b);
		bufs[i] = b;
	}
	atomic_store_explicit(&c->len, len, memory_order_release);
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
	p->in_use[b->index] = 0;
}
#endif

/*
 * The cache cannot take the run (full, none, or the pool is orphaned): under the store lock,
 * the run goes to the store and the cache down to cache_size (all of it when orphaned, so
 * that the last buffer home is seen here).
 */
static void free_slow(struct unic_mempool *p, struct unic_pool_cache *c, struct unic_buf **bufs, uint32_t n)
{
	uint32_t top, len;
	bool claimed;

	pthread_mutex_lock(&p->lock);
	top = atomic_load_explicit(&p->store_len, memory_order_relaxed);
	memcpy(p->store + top, bufs, n * sizeof *bufs);
	atomic_store_explicit(&p->store_len, top + n, memory_order_relaxed);
	if (c) {
		len = atomic_load_explicit(&c->len, memory_order_relaxed);
		if (atomic_load_explicit(&p->orphaned, memory_order_relaxed))
			cache_to_store(p, c, len);
		else if (len > p->cache_size)
			cache_to_store(p, c, len - p->cache_size);
	}
	claimed = claim_if_home(p);
	pthread_mutex_unlock(&p->lock);
	if (claimed)
		unic_mempool_destroy(p); /* the last buffer of a closed device's pool came home */
}

/* A run of buffers of p from bufs[0], to the store under its lock: returns its length. */
static uint32_t free_run_slow(struct unic_mempool *p, struct unic_pool_cache *c, struct unic_buf **bufs, uint32_t n)
{
	uint32_t j = 1;

	while (j < n && bufs[j]->pool == p) {
#ifdef UNIC_DEBUG_BUILD
		check_free(bufs[j]);
#endif
		j++;
	}
	free_slow(p, c, bufs, j);
	return j;
}

/* Do all n buffers belong to p? One pass without an early exit: the common case is yes. */
static inline bool all_of_pool(struct unic_buf *const *bufs, uint32_t n, const struct unic_mempool *p)
{
	uintptr_t diff = 0;
	uint32_t i;

#pragma GCC unroll 4
	for (i = 0; i < n; i++)
		diff |= (uintptr_t)bufs[i]->pool ^ (uintptr_t)p;
	return diff == 0;
}

void unic_buf_free_bulk(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i = 0;

	if (unic_unlikely(!bufs))
		return;
	while (i < n) {
		/* a run of buffers of one pool goes to this thread's cache with its top in a register */
		struct unic_mempool *p;
		struct unic_pool_cache *c;
		struct unic_buf **objs;
		uint32_t len;
#ifdef UNIC_DEBUG_BUILD
		check_free(bufs[i]); /* before following its pool pointer */
#endif
		p = bufs[i]->pool;
		c = my_cache(p);
		if (unic_unlikely(!c || atomic_load_explicit(&p->orphaned, memory_order_relaxed))) {
			i += free_run_slow(p, c, bufs + i, n - i);
			continue;
		}
		len = atomic_load_explicit(&c->len, memory_order_relaxed);
		if (unic_unlikely(len + (n - i) > c->cap)) { /* the rest might not fit: flush first */
			i += free_run_slow(p, c, bufs + i, n - i);
			continue;
		}
		objs = c->objs;
		/* the usual burst: all of one pool, and the cache has room: one copy of the pointers */
		if (i == 0 && all_of_pool(bufs, n, p)) {
#ifdef UNIC_DEBUG_BUILD
			for (i = 1; i < n; i++)
				check_free(bufs[i]);
#endif
			memcpy(objs + len, bufs, n * sizeof *bufs);
			atomic_store_explicit(&c->len, len + n, memory_order_release);
			return;
		}
		objs[len++] = bufs[i];
		while (++i < n && bufs[i]->pool == p) {
#ifdef UNIC_DEBUG_BUILD
			check_free(bufs[i]);
#endif
			objs[len++] = bufs[i];
		}
		atomic_store_explicit(&c->len, len, memory_order_release);
	}
}

void unic_buf_free(struct unic_buf *b)
{
	if (b)
		unic_buf_free_bulk(&b, 1);
}

/*
 * What the calling thread can allocate now: the store and its own cache (the other threads'
 * caches are theirs). For the data path: it reads no other thread's cache.
 */
uint32_t unic_mempool_avail(struct unic_mempool *p)
{
	struct unic_pool_cache *c;

	if (!p)
		return 0;
	c = my_cache(p);
	return atomic_load_explicit(&p->store_len, memory_order_relaxed) +
	       (c ? atomic_load_explicit(&c->len, memory_order_relaxed) : 0);
}

/* Store and every thread's cache: exact when no other thread is using the pool. */
uint32_t unic_mempool_free_count(const struct unic_mempool *p)
{
	return p ? atomic_load_explicit(&p->store_len, memory_order_relaxed) + cached_count(p) : 0;
}

uint32_t unic_mempool_size(const struct unic_mempool *p)
{
	return p ? p->num_entries : 0;
}

struct unic_mempool *unic_dev_mempool(struct unic_dev *dev)
{
	return dev ? dev->pool : NULL;
}
