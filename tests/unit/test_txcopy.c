/*
 * test_txcopy.c - unic_tx_burst between DMA domains (issue 9 item 4).
 *
 * Two fake devices, each with its own pool in its own DMA domain (two vhost-user devices:
 * each backend maps only its device's memfd), and a fake driver whose tx records what it is
 * given. A buffer of the other domain must never reach the driver: the driver gets a copy
 * from the sending device's pool with the same bytes, the original goes home, tx_copied
 * counts it. Buffers of the device's own pool or of its domain go without a copy.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "internal.h"

#define POOL 64
#define MAX_GOT 256
#define FRAME_LEN 200

/* The fake driver: takes up to accept_max frames per call and keeps them (its "ring"). */
static struct unic_buf *got[MAX_GOT];
static unsigned ngot;
static uint16_t accept_max = UINT16_MAX;

static uint16_t fake_tx(void *txq, struct unic_buf **bufs, uint16_t n)
{
	uint16_t i, k = n < accept_max ? n : accept_max;

	(void)txq;
	for (i = 0; i < k && ngot < MAX_GOT; i++)
		got[ngot++] = bufs[i];
	return i;
}

/* Tx completion: the driver frees what it sent. */
static void fake_complete(void)
{
	unic_buf_free_bulk(got, ngot);
	ngot = 0;
}

static const struct unic_driver fake_drv = { .name = "fake", .tx_burst = fake_tx };

struct fake_dev {
	struct unic_dev dev;
	struct unic_qcounters txs;
	int txq; /* the queue's address is all the driver gets */
};

static struct unic_mempool *make_pool(enum unic_dma_mode mode, uint16_t buf_size)
{
	struct unic_dev scratch;
	struct unic_mempool *p;

	memset(&scratch, 0, sizeof scratch);
	scratch.dma_mode = mode;
	scratch.config_fd = scratch.lock_fd = scratch.vfio_group_fd = scratch.vfio_device_fd = -1;
	p = unic_mempool_make(&scratch, POOL, buf_size);
	if (!p)
		printf("mempool: %s\n", scratch.err);
	return p;
}

static void fake_dev_init(struct fake_dev *f, struct unic_mempool *pool)
{
	memset(f, 0, sizeof *f);
	f->dev.drv = &fake_drv;
	f->dev.pool = pool;
	f->dev.num_txq = 1;
	f->dev.txq[0] = &f->txq;
	f->dev.txq_stats[0] = &f->txs;
}

/* n buffers of p, frame i filled with bytes derived from seed + i. */
static void fill(struct unic_mempool *p, struct unic_buf **b, unsigned n, unsigned seed)
{
	unsigned i, j;

	CHECK(unic_buf_alloc_bulk(p, b, n) == n);
	for (i = 0; i < n; i++) {
		uint8_t *d = unic_buf_data(b[i]);
		b[i]->len = FRAME_LEN;
		for (j = 0; j < FRAME_LEN; j++)
			d[j] = (uint8_t)(seed + i * 7 + j);
	}
}

static bool frame_is(struct unic_buf *b, unsigned seed, unsigned i)
{
	const uint8_t *d = unic_buf_data(b);
	unsigned j;

	if (b->len != FRAME_LEN)
		return false;
	for (j = 0; j < FRAME_LEN; j++)
		if (d[j] != (uint8_t)(seed + i * 7 + j))
			return false;
	return true;
}

static uint64_t copied(struct fake_dev *f)
{
	struct unic_stats st;

	return unic_stats(&f->dev, &st) == 0 ? st.tx_copied : UINT64_MAX;
}

static void test_domains(void)
{
	struct unic_dev d1, d2;

	memset(&d1, 0, sizeof d1);
	memset(&d2, 0, sizeof d2);
	d1.dma_mode = d2.dma_mode = UNIC_DMA_PHYS;
	CHECK(unic_dma_domain(&d1) == UNIC_DMA_DOMAIN_PHYS && unic_dma_domain(&d2) == UNIC_DMA_DOMAIN_PHYS);
	d1.dma_mode = d2.dma_mode = UNIC_DMA_VIRT;
	CHECK(unic_dma_domain(&d1) != unic_dma_domain(&d2));
	CHECK(unic_dma_domain(&d1) != UNIC_DMA_DOMAIN_PHYS && unic_dma_domain(&d1) != 0);
}

/* Every frame from the other domain goes as a copy; the originals go home at once. */
static void test_foreign(struct fake_dev *a, struct fake_dev *b)
{
	struct unic_buf *bufs[8];
	unsigned i, foreign = 0, intact = 0;

	fill(a->dev.pool, bufs, 8, 1);
	CHECK(unic_tx_burst(&b->dev, 0, bufs, 8) == 8);
	CHECK(ngot == 8);
	for (i = 0; i < ngot; i++) {
		foreign += got[i]->pool != b->dev.pool;
		intact += got[i]->pool == b->dev.pool && frame_is(got[i], 1, i);
	}
	printf("foreign burst: %u of 8 buffers reached the driver from the other domain, %u copies intact, "
	       "tx_copied %llu\n", foreign, intact, (unsigned long long)copied(b));
	CHECK(foreign == 0);
	CHECK(intact == 8);
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL);     /* originals are home */
	CHECK(unic_mempool_free_count(b->dev.pool) == POOL - 8); /* copies on the "ring" */
	CHECK(copied(b) == 8);
	fake_complete();
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL && unic_mempool_free_count(b->dev.pool) == POOL);
}

/* Own pool and same-domain pool: the very buffers; only the foreign ones are copied, in order. */
static void test_mixed(struct fake_dev *a, struct fake_dev *b, struct unic_mempool *b_twin)
{
	struct unic_buf *own[1], *twin[1], *fa[2], *bufs[4];
	uint64_t before = copied(b);

	fill(b->dev.pool, own, 1, 10);
	fill(b_twin, twin, 1, 20);
	fill(a->dev.pool, fa, 2, 30);
	bufs[0] = own[0];
	bufs[1] = fa[0];
	bufs[2] = twin[0];
	bufs[3] = fa[1];
	CHECK(unic_tx_burst(&b->dev, 0, bufs, 4) == 4);
	CHECK(ngot == 4);
	if (ngot == 4) {
		CHECK(got[0] == own[0] && got[2] == twin[0]); /* zero copy */
		CHECK(got[1] != fa[0] && got[1]->pool == b->dev.pool && frame_is(got[1], 30, 0));
		CHECK(got[3] != fa[1] && got[3]->pool == b->dev.pool && frame_is(got[3], 30, 1));
	}
	CHECK(copied(b) == before + 2);
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL);
	fake_complete();
	CHECK(unic_mempool_free_count(b_twin) == POOL && unic_mempool_free_count(b->dev.pool) == POOL);
}

/* A driver that takes 2 of 4: the caller keeps the other 2 originals, their copies go back. */
static void test_partial(struct fake_dev *a, struct fake_dev *b)
{
	struct unic_buf *bufs[4];
	uint64_t before = copied(b);

	uint16_t sent;

	fill(a->dev.pool, bufs, 4, 40);
	accept_max = 2;
	sent = unic_tx_burst(&b->dev, 0, bufs, 4);
	accept_max = UINT16_MAX;
	CHECK(sent == 2);
	CHECK(ngot == 2 && frame_is(got[0], 40, 0) && frame_is(got[1], 40, 1));
	CHECK(copied(b) == before + 2);
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL - 2); /* bufs[2..3] still the caller's */
	CHECK(unic_mempool_free_count(b->dev.pool) == POOL - 2); /* only the two taken copies out */
	CHECK(frame_is(bufs[2], 40, 2) && frame_is(bufs[3], 40, 3));
	unic_buf_free_bulk(bufs + sent, 4u - sent);
	fake_complete();
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL && unic_mempool_free_count(b->dev.pool) == POOL);
}

/* The sending device's pool is empty: nothing foreign is sent; one free buffer lets one go. */
static void test_pool_empty(struct fake_dev *a, struct fake_dev *b)
{
	struct unic_buf *hog[POOL], *bufs[3];
	uint64_t before = copied(b);

	uint16_t sent;

	CHECK(unic_buf_alloc_bulk(b->dev.pool, hog, POOL) == POOL);
	fill(a->dev.pool, bufs, 3, 50);
	sent = unic_tx_burst(&b->dev, 0, bufs, 3);
	CHECK(sent == 0);
	CHECK(ngot == 0 && copied(b) == before);
	if (sent == 0) {
		unic_buf_free(hog[0]);
		sent = unic_tx_burst(&b->dev, 0, bufs, 3);
		CHECK(sent == 1);
		CHECK(ngot == 1 && got[0]->pool == b->dev.pool && frame_is(got[0], 50, 0));
		CHECK(copied(b) == before + 1);
		CHECK(unic_mempool_free_count(a->dev.pool) == POOL - 2);
	} else {
		unic_buf_free(hog[0]);
	}
	unic_buf_free_bulk(bufs + sent, 3u - sent); /* the caller's: what tx did not take */
	unic_buf_free_bulk(hog + 1, POOL - 1);
	fake_complete();
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL && unic_mempool_free_count(b->dev.pool) == POOL);
}

/* A frame longer than the sending device's buffers is taken and dropped as a tx error. */
static void test_too_long(struct fake_dev *a)
{
	struct unic_mempool *small = make_pool(UNIC_DMA_VIRT, 64);
	struct fake_dev s;
	struct unic_buf *bufs[2];
	struct unic_stats st;

	CHECK(small != NULL);
	if (!small)
		return;
	fake_dev_init(&s, small);
	fill(a->dev.pool, bufs, 2, 60);
	bufs[1]->len = 60; /* fits */
	CHECK(unic_tx_burst(&s.dev, 0, bufs, 2) == 2); /* both taken: one sent, one dropped */
	CHECK(ngot == 1 && got[0]->pool == small && got[0]->len == 60);
	CHECK(unic_stats(&s.dev, &st) == 0 && st.tx_dropped == 1 && st.tx_copied == 1);
	CHECK(unic_mempool_free_count(a->dev.pool) == POOL);
	fake_complete();
	unic_mempool_destroy(small);
}

/*
 * A device that copies every frame itself (af_packet, tap: UNIC_DMA_CPU) reaches every pool:
 * it gets the very buffers of any domain, nothing is copied for it; its own pool (plain 4 KiB
 * memory, rooms larger than a page allowed) still goes as a copy to a device of another domain.
 */
static void test_copying_backend(struct fake_dev *a)
{
	struct unic_mempool *cpu = make_pool(UNIC_DMA_CPU, 9000);
	struct fake_dev c;
	struct unic_buf *bufs[4], *mine[1];

	CHECK(cpu != NULL);
	if (!cpu)
		return;
	CHECK(cpu->dma_domain == UNIC_DMA_DOMAIN_ANY && cpu->mem.page_size % 4096 == 0);
	fake_dev_init(&c, cpu);
	fill(a->dev.pool, bufs, 3, 70);
	fill(cpu, bufs + 3, 1, 80);
	CHECK(unic_tx_burst(&c.dev, 0, bufs, 4) == 4);
	CHECK(ngot == 4 && got[0] == bufs[0] && got[2] == bufs[2] && got[3] == bufs[3]); /* as they are */
	CHECK(copied(&c) == 0);
	fake_complete();
	fill(cpu, mine, 1, 90); /* the other way: a's domain does not reach plain memory */
	CHECK(unic_tx_burst(&a->dev, 0, mine, 1) == 1);
	CHECK(ngot == 1 && got[0] != mine[0] && got[0]->pool == a->dev.pool && frame_is(got[0], 90, 0));
	fake_complete();
	CHECK(unic_mempool_free_count(cpu) == POOL && unic_mempool_free_count(a->dev.pool) == POOL);
	unic_mempool_destroy(cpu);
}

int main(void)
{
	struct unic_mempool *pa = make_pool(UNIC_DMA_VIRT, 2048), *pb = make_pool(UNIC_DMA_VIRT, 2048);
	struct unic_mempool *twin = make_pool(UNIC_DMA_VIRT, 2048);
	struct fake_dev a, b;

	setvbuf(stdout, NULL, _IONBF, 0); /* every line out before a debug-build trap */
	CHECK(pa && pb && twin);
	if (!pa || !pb || !twin)
		return check_summary("txcopy");
	twin->dma_domain = pb->dma_domain; /* as two vfio: devices' pools in one container */
	fake_dev_init(&a, pa);
	fake_dev_init(&b, pb);
	test_domains();
	test_foreign(&a, &b);
	test_mixed(&a, &b, twin);
	test_partial(&a, &b);
	test_pool_empty(&a, &b);
	test_too_long(&a);
	test_copying_backend(&a);
	unic_mempool_destroy(pa);
	unic_mempool_destroy(pb);
	unic_mempool_destroy(twin);
	return check_summary("txcopy");
}
