/*
 * test_pool_shared.c - application pools (unic_mempool_create, cfg.pool; issue 10 "Pools").
 *
 * Devices are bare handles as unic_open leaves them before start (no driver, no hardware),
 * joined to the pool the way unic_open does (unic_mempool_attach) and closed through
 * unic_close. Shows: the pool is destroyed exactly when the last of its owners lets go
 * (release, each device's close, the last buffer coming home: all 24 orders of four events);
 * two devices of one domain send each other's buffers as they are (no copy), a device of
 * another domain gets a copy; refusals, one line each: bad count or size, a pool too small
 * for the rx rings of its devices, a device of another DMA domain or of a mode that cannot
 * share, 4 KiB pages for physical addresses, a released pool, buffers smaller than the mtu;
 * threads opening and closing devices on one pool at once. ASan and LeakSanitizer: nothing
 * leaks in any order; ThreadSanitizer (build/tests-tsan/test_pool_shared): no race.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define POOL 64
#define RING 16
#define BUF 2048

/* The pool's memory goes with it: its memfd is closed then. */
static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static bool has(const char *text, const char *part)
{
	bool ok = strstr(text, part) != NULL;

	if (!ok)
		printf("  expected '%s' in: %s\n", part, text);
	return ok;
}

/* The fake driver: keeps what tx gives it. */
static struct unic_buf *got[POOL];
static unsigned ngot;

static uint16_t fake_tx(void *txq, struct unic_buf **bufs, uint16_t n)
{
	uint16_t i;

	(void)txq;
	for (i = 0; i < n && ngot < POOL; i++)
		got[ngot++] = bufs[i];
	return i;
}

static const struct unic_driver fake_drv = { .name = "fake", .tx_burst = fake_tx };

struct fake {
	struct unic_qcounters txs;
	int txq;
};

/* A handle of access method access (its DMA mode), not yet joined to a pool. */
static struct unic_dev *handle(enum unic_access access, int mode, uint16_t ring)
{
	struct unic_dev *dev = calloc(1, sizeof *dev);
	int i;

	if (!dev)
		return NULL;
	unic_config_init(&dev->cfg);
	dev->cfg.rx_ring_size = ring;
	dev->spec.access = access;
	dev->dma_mode = mode;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	for (i = 0; i < UNIC_MAX_BARS; i++)
		dev->bars[i].io_fd = -1;
	return dev;
}

/* A vhost-user-like device joined to p (as unic_open does after probe); NULL and why. */
static struct unic_dev *join(struct unic_mempool *p, enum unic_access access, int mode, uint16_t ring, char *why)
{
	struct unic_dev *dev = handle(access, mode, ring);

	if (!dev)
		return NULL;
	dev->cfg.pool = p;
	if (unic_mempool_attach(dev)) {
		snprintf(why, UNIC_ERR_LEN, "%s", dev->err);
		unic_close(dev); /* as unic_open's failure path: nothing of the pool is held */
		return NULL;
	}
	return dev;
}

static struct unic_dev *join_virt(struct unic_mempool *p, char *why)
{
	return join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, RING, why);
}

static void create_refusals(void)
{
	char err[UNIC_ERR_LEN];
	struct unic_mempool *p;

	CHECK(unic_mempool_create(0, BUF, err, sizeof err) == NULL && has(err, "count 0 is out of range"));
	CHECK(unic_mempool_create(UNIC_POOL_SIZE_MAX + 1, BUF, err, sizeof err) == NULL && has(err, "out of range"));
	CHECK(unic_mempool_create(POOL, 32, err, sizeof err) == NULL && has(err, "buf_size 32 is out of range"));
	CHECK(unic_mempool_create(POOL, UNIC_BUF_SIZE_MAX + 1, err, sizeof err) == NULL && has(err, "out of range"));
	/* UNIC_NO_HUGEPAGES (set in main): rooms above 4 KiB fit no page it allows */
	CHECK(unic_mempool_create(POOL, 9018, err, sizeof err) == NULL && has(err, "do not fit 4 KiB pages"));
	printf("unic_mempool_create refuses: %s\n", err);
	p = unic_mempool_create(POOL, BUF, err, sizeof err);
	CHECK(p != NULL);
	if (!p)
		return;
	/* no device yet: memory without DMA addresses, every buffer home */
	CHECK(p->mem.mode == 0 && p->mem.page_size == 4096 && p->mem.fd >= 0 && p->bufs[0].room_iova == 0);
	CHECK(unic_mempool_size(p) == POOL && unic_mempool_free_count(p) == POOL);
	unic_mempool_release(p); /* no device, no buffer out: gone now (LeakSanitizer) */
}

/*
 * Events: 0 release, 1 close device 1, 2 close device 2, 3 the last buffer out comes home.
 * For each of the 24 orders the pool's memory must live until the fourth and go with it.
 */
static void lifetime_orders(void)
{
	int order[24][4], n = 0, a, b, c, d, k, exact = 0;
	char why[UNIC_ERR_LEN];

	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			for (c = 0; c < 4; c++)
				for (d = 0; d < 4; d++)
					if (a != b && a != c && a != d && b != c && b != d && c != d) {
						order[n][0] = a, order[n][1] = b, order[n][2] = c, order[n][3] = d;
						n++;
					}
	for (k = 0; k < n; k++) {
		struct unic_mempool *p = unic_mempool_create(POOL, BUF, why, sizeof why);
		struct unic_dev *dev[2];
		struct unic_buf *held;
		int fd, step, alive_ok = 1;

		CHECK(p != NULL);
		if (!p)
			return;
		fd = p->mem.fd;
		dev[0] = join_virt(p, why);
		dev[1] = join_virt(p, why);
		CHECK(dev[0] && dev[1] && dev[0]->pool == p && dev[1]->pool == p && p->users == 2);
		held = unic_buf_alloc(p);
		CHECK(held != NULL);
		for (step = 0; step < 4; step++) {
			switch (order[k][step]) {
			case 0: unic_mempool_release(p); break;
			case 1: unic_close(dev[0]); break;
			case 2: unic_close(dev[1]); break;
			default: unic_buf_free(held); break;
			}
			if (step < 3)
				alive_ok &= fd_open(fd);
		}
		CHECK(alive_ok);
		CHECK(!fd_open(fd));
		exact += alive_ok && !fd_open(fd);
	}
	printf("pool lifetime: %d of %d orders of release, two closes and the last buffer home destroyed the "
	       "pool exactly at the last of them\n", exact, n);
}

/* Two devices on one pool send each other's buffers as they are; a third domain copies. */
static void zero_copy(void)
{
	struct unic_mempool *p = unic_mempool_create(POOL, BUF, NULL, 0);
	char why[UNIC_ERR_LEN];
	struct unic_dev *d1, *d2, *other;
	struct unic_buf *b[4];
	struct unic_stats st;
	struct fake f, g;

	CHECK(p != NULL);
	if (!p)
		return;
	d1 = join_virt(p, why);
	d2 = join_virt(p, why);
	other = handle(UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, RING);
	CHECK(d1 && d2 && other);
	if (!d1 || !d2 || !other)
		return;
	other->pool = unic_mempool_make(other, POOL, BUF); /* a device's own pool: its own domain */
	CHECK(other->pool && other->pool->dma_domain != p->dma_domain && d1->pool->dma_domain == d2->pool->dma_domain);
	/* bound at the first device: every buffer has a DMA address now (vhost-user: its address) */
	CHECK(p->mem.mode == UNIC_DMA_VIRT && p->bufs[1].room_iova == (uint64_t)(uintptr_t)p->bufs[1].room);
	memset(&f, 0, sizeof f);
	memset(&g, 0, sizeof g);
	d2->drv = other->drv = &fake_drv;
	d2->num_txq = other->num_txq = 1;
	d2->txq[0] = &f.txq;
	d2->txq_stats[0] = &f.txs;
	other->txq[0] = &g.txq;
	other->txq_stats[0] = &g.txs;
	CHECK(unic_buf_alloc_bulk(p, b, 4) == 4); /* as if received on d1 */
	CHECK(unic_tx_burst(d2, 0, b, 2) == 2);
	CHECK(ngot == 2 && got[0] == b[0] && got[1] == b[1] && UNIC_STAT_GET(f.txs.copied) == 0);
	CHECK(unic_tx_burst(other, 0, b + 2, 2) == 2);
	CHECK(ngot == 4 && got[2] != b[2] && got[2]->pool == other->pool && UNIC_STAT_GET(g.txs.copied) == 2);
	printf("tx on a device sharing the pool: %s (%llu copied); on a device of another domain: %llu copied\n",
	       got[0] == b[0] ? "the buffers themselves" : "copies", (unsigned long long)UNIC_STAT_GET(f.txs.copied),
	       (unsigned long long)UNIC_STAT_GET(g.txs.copied));
	unic_buf_free_bulk(got, ngot); /* "tx completion" */
	ngot = 0;
	CHECK(unic_stats(d2, &st) == 0 && st.tx_copied == 0);
	d2->drv = other->drv = NULL;
	unic_close(other);
	unic_close(d1);
	unic_mempool_release(p);
	CHECK(unic_mempool_free_count(p) == POOL && p->users == 1); /* d2 still holds it */
	unic_close(d2);
}

static void attach_refusals(void)
{
	struct unic_mempool *p = unic_mempool_create(POOL, BUF, NULL, 0);
	char why[UNIC_ERR_LEN];
	struct unic_dev *d1, *d2, *own;

	CHECK(p != NULL);
	if (!p)
		return;
	/* 4 KiB pages cannot be given to a physical-address device: refused, the pool stays unbound */
	CHECK(!join(p, UNIC_ACCESS_SYSFS, UNIC_DMA_PHYS, RING, why) && has(why, "4 KiB pages"));
	CHECK(p->mem.mode == 0 && p->users == 0);
	printf("sysfs: device on a 4 KiB pool: %s\n", why);
	/* rx rings: 48 + 32 buffers do not fit 64 */
	d1 = join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, 48, why);
	CHECK(d1 != NULL);
	CHECK(!join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, 32, why) && has(why, "at least 80 buffers"));
	printf("too small: %s\n", why);
	CHECK(p->users == 1 && p->rx_need == 48);
	/* a device of another DMA domain while the pool is bound to vhost-user devices */
	CHECK(!join(p, UNIC_ACCESS_VFIO, UNIC_DMA_VFIO, RING, why) && has(why, "bound to vhost-user devices"));
	printf("another domain: %s\n", why);
	CHECK(!join(p, UNIC_ACCESS_SYSFS, UNIC_DMA_PHYS, RING, why) && has(why, "out of a sysfs device's reach"));
	/* a DMA mode that takes only its own memory (e.g. a socket's registered area) */
	CHECK(!join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT + 10, RING, why) && has(why, "leave cfg.pool NULL"));
	printf("a mode that cannot share: %s\n", why);
	d2 = join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, 16, why); /* 48 + 16 = 64: fits */
	CHECK(d2 != NULL && p->rx_need == 64);
	/* a copying backend (af_packet, tap) reaches any memory: it joins, holds no binding */
	own = join(p, UNIC_ACCESS_TAP, UNIC_DMA_CPU, 0, why);
	CHECK(own != NULL && p->users == 2 && p->mem.mode == UNIC_DMA_VIRT);
	unic_close(d1);
	unic_close(d2);
	CHECK(p->users == 0); /* the tap device does not keep the vhost-user binding */
	/* no device left: another mode may bind it; a failed bind leaves it usable */
	CHECK(!join(p, UNIC_ACCESS_VFIO, UNIC_DMA_VFIO, RING, why) && has(why, "VFIO_IOMMU_MAP_DMA"));
	CHECK(p->mem.mode == 0 && p->dma_domain == 0 && p->bufs[0].room_iova == 0);
	d1 = join_virt(p, why);
	CHECK(d1 != NULL && p->mem.mode == UNIC_DMA_VIRT && p->users == 1);
	unic_close(own);
	/* a device's own pool, and a released one, are not application pools */
	own = handle(UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, RING);
	if (own) {
		own->pool = unic_mempool_make(own, POOL, BUF);
		CHECK(own->pool && !join(own->pool, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, RING, why) &&
		      has(why, "a device's own pool"));
		unic_mempool_release(own->pool); /* logged, and nothing else */
		CHECK(own->pool->refs == 1);
		unic_close(own);
	}
	unic_mempool_release(p);
	unic_mempool_release(p); /* logged, and nothing else: d1 still holds it */
	CHECK(p->refs == 1);
	CHECK(!join_virt(p, why) && has(why, "released"));
	unic_close(d1); /* the last owner: the pool goes */
}

/* unic_open checks the pool against the mtu before it touches any device. */
static void open_refusals(void)
{
	struct unic_mempool *small = unic_mempool_create(POOL, 1024, NULL, 0);
	struct unic_mempool *p = unic_mempool_create(POOL, BUF, NULL, 0);
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];

	CHECK(small && p);
	if (!small || !p)
		return;
	unic_config_init(&cfg);
	cfg.pool = small; /* the default mtu, 1500, needs 1518 bytes */
	CHECK(!unic_open("vhost-user:/nonexistent/unic-test.sock", &cfg, err, sizeof err) &&
	      has(err, "buffers of 1024 bytes cannot hold a frame of mtu 1500"));
	printf("mtu: %s\n", err);
	cfg.pool = p;
	cfg.mtu = 9000;
	CHECK(!unic_open("vhost-user:/nonexistent/unic-test.sock", &cfg, err, sizeof err) && has(err, "buf_size 9018"));
	cfg.mtu = 0; /* fits: the open goes on, and fails later for want of a backend */
	CHECK(!unic_open("vhost-user:/nonexistent/unic-test.sock", &cfg, err, sizeof err) && !strstr(err, "pool"));
	CHECK(p->users == 0 && unic_mempool_free_count(p) == POOL);
	unic_mempool_release(small);
	unic_mempool_release(p);
}

/*
 * Threads open and close devices on one pool at once (unic_open and unic_close are safe from
 * any thread), each moving buffers through it in between; the pool outlives them all and goes
 * with the application's release once every thread has exited (their caches flushed).
 */
#define THREADS 4
#define ROUNDS 200

static void *open_close_loop(void *arg)
{
	struct unic_mempool *p = arg;
	char why[UNIC_ERR_LEN];
	struct unic_buf *b[8];
	long ok = 0;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		struct unic_dev *dev = join(p, UNIC_ACCESS_VHOST_USER, UNIC_DMA_VIRT, 8, why);
		if (!dev)
			continue;
		if (unic_buf_alloc_bulk(p, b, 8) == 8) {
			memset(unic_buf_data(b[0]), i, 64);
			unic_buf_free_bulk(b, 8);
			ok++;
		}
		unic_close(dev);
	}
	return (void *)ok;
}

static void threads_open_close(void)
{
	struct unic_mempool *p = unic_mempool_create(POOL, BUF, NULL, 0);
	pthread_t t[THREADS];
	long total = 0;
	int i, fd;

	CHECK(p != NULL);
	if (!p)
		return;
	fd = p->mem.fd;
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, open_close_loop, p) == 0);
	for (i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	CHECK(total == THREADS * ROUNDS);
	CHECK(p->users == 0 && p->rx_need == 0 && unic_mempool_free_count(p) == POOL);
	unic_mempool_release(p);
	CHECK(!fd_open(fd));
	printf("%d threads opened and closed %ld devices on one pool: every buffer home, pool gone with the release\n",
	       THREADS, total);
}

int main(void)
{
	setenv("UNIC_NO_HUGEPAGES", "1", 1); /* 4 KiB pages: no hugepages needed, and the PHYS refusal */
	create_refusals();
	lifetime_orders();
	zero_copy();
	attach_refusals();
	open_refusals();
	threads_open_close();
	return check_summary("pool_shared");
}
