/*
 * test_af_xdp_hostile: the af_xdp backend's data path (src/backends/af_xdp/af_xdp.c, compiled in
 * here) against a fake kernel that writes the rings in ordinary memory: rx descriptors with
 * lengths that do not fit, addresses of buffers the ring does not hold or holds no longer,
 * completions of frames never sent or completed twice, an index that jumps more than a ring;
 * then 10^5 random descriptors. Every lie is counted in bad_device, no buffer is handed out
 * twice or lost (the pool is whole at the end), and a queue whose indices lie stops.
 */
#include "check.h"
#include "fake_dev.h"
#include "../../src/backends/af_xdp/af_xdp.c"

#define RING_SIZE 64u
#define POOL 512u
#define XDP_HEADROOM 256u /* where the kernel puts a frame in a chunk (XDP_PACKET_HEADROOM) */
#define RANDOM_ROUNDS 100000

/* One fake ring: the indices, flags and entries the kernel would map. */
struct fake_ring {
	_Atomic uint32_t prod, cons, flags;
	uint64_t descs[RING_SIZE * 2]; /* room for struct xdp_desc entries too */
};

static void ring_attach(struct xsk_ring *r, struct fake_ring *f)
{
	memset(f, 0, sizeof *f);
	memset(r, 0, sizeof *r);
	r->producer = &f->prod;
	r->consumer = &f->cons;
	r->flags = &f->flags;
	r->descs = f->descs;
	r->size = RING_SIZE;
	r->mask = RING_SIZE - 1;
}

/* A device whose pool is laid out as af_xdp's (UMEM mode: iova = offset in the pool). */
static struct unic_dev *umem_dev(void)
{
	struct unic_dev *dev = calloc(1, sizeof *dev);
	int i;

	unic_config_init(&dev->cfg);
	dev->cfg.no_hugepages = true;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	for (i = 0; i < UNIC_MAX_BARS; i++)
		dev->bars[i].io_fd = -1;
	dev->dma_mode = UNIC_DMA_UMEM;
	dev->rx_ring_size = dev->tx_ring_size = RING_SIZE;
	dev->pool = unic_mempool_make(dev, POOL, 2048);
	return dev;
}

static struct fake_ring fill_f, rx_f, tx_f, comp_f;

static void queues_init(struct unic_dev *dev, struct xsk_sock *s)
{
	memset(s, 0, sizeof *s);
	s->fd = s->rxq.fd = s->txq.fd = -1; /* no socket: kicks fail quietly, as on a gone interface */
	CHECK(sock_queues(dev, s, 0) == 0);
	ring_attach(&s->rxq.fill, &fill_f);
	ring_attach(&s->rxq.rx, &rx_f);
	ring_attach(&s->txq.tx, &tx_f);
	ring_attach(&s->txq.comp, &comp_f);
	s->rxq.refill_min = 1;
}

/* The kernel: takes n fill entries and returns their addresses (as rx would), unaligned form. */
static uint32_t kernel_take_fill(uint64_t *addrs, uint32_t n)
{
	uint32_t c = atomic_load(&fill_f.cons), i;

	for (i = 0; i < n && c != atomic_load(&fill_f.prod); i++, c++)
		addrs[i] = fill_f.descs[c & (RING_SIZE - 1)];
	atomic_store(&fill_f.cons, c);
	return i;
}

static void kernel_rx(uint64_t addr, uint32_t len)
{
	uint32_t p = atomic_load(&rx_f.prod);
	struct xdp_desc *d = (struct xdp_desc *)rx_f.descs + (p & (RING_SIZE - 1));

	d->addr = addr;
	d->len = len;
	atomic_store(&rx_f.prod, p + 1);
}

static uint64_t bad_device(const struct xsk_sock *s)
{
	return s->rxq.stats.bad_device + s->txq.stats.bad_device;
}

static void test_rx(struct unic_dev *dev, struct xsk_sock *s)
{
	struct unic_buf *got[RING_SIZE];
	uint64_t a[8], before;
	uint32_t free0;
	uint16_t n;

	rx_refill(&s->rxq);
	CHECK(atomic_load(&fill_f.prod) == RING_SIZE);
	free0 = unic_mempool_free_count(dev->pool);
	CHECK(free0 == POOL - RING_SIZE);
	CHECK(kernel_take_fill(a, 6) == 6);
	kernel_rx(a[0] | (uint64_t)XDP_HEADROOM << XSK_UNALIGNED_BUF_OFFSET_SHIFT, 60);   /* good */
	kernel_rx(a[1] + XDP_HEADROOM, dev->pool->room_size);                              /* too long */
	kernel_rx(a[0] + XDP_HEADROOM, 60);                                                /* again */
	kernel_rx(dev->pool->mem.size + XDP_HEADROOM, 60);                                 /* outside */
	kernel_rx(a[2] + XDP_HEADROOM, 0);                                                 /* empty */
	kernel_rx(a[3] + XDP_HEADROOM, 1514);                                              /* good */
	n = xsk_rx_burst(&s->rxq, got, RING_SIZE);
	CHECK(n == 2);
	CHECK(n == 2 && got[0]->data_off == XDP_HEADROOM && got[0]->len == 60 && got[1]->len == 1514);
	CHECK(n == 2 && unic_buf_dma(got[0]) == a[0] + XDP_HEADROOM);
	CHECK(bad_device(s) == 4);
	CHECK(s->rxq.stats.packets == 2);
	unic_buf_free_bulk(got, n);
	/* 6 taken by the "kernel": 4 came back (2 delivered and freed, 2 with bad lengths freed),
	 * a[4] and a[5] it still holds; the ring was refilled from the pool */
	CHECK(unic_mempool_free_count(dev->pool) + RING_SIZE + 2 == POOL);
	/* a producer more than a ring ahead: the queue stops and says so */
	before = bad_device(s);
	atomic_store(&rx_f.prod, atomic_load(&rx_f.prod) + RING_SIZE + 1);
	CHECK(xsk_rx_burst(&s->rxq, got, RING_SIZE) == 0);
	CHECK(s->rxq.broken && bad_device(s) == before + 1);
	CHECK(xsk_rx_burst(&s->rxq, got, RING_SIZE) == 0);
}

static void kernel_complete(uint64_t addr)
{
	uint32_t p = atomic_load(&comp_f.prod);

	comp_f.descs[p & (RING_SIZE - 1)] = addr;
	atomic_store(&comp_f.prod, p + 1);
}

static void test_tx(struct unic_dev *dev, struct xsk_sock *s)
{
	struct unic_buf *b[3];
	const struct xdp_desc *d = (const struct xdp_desc *)tx_f.descs;
	uint32_t free0;
	uint64_t before = bad_device(s);

	CHECK(unic_buf_alloc_bulk(dev->pool, b, 3) == 3);
	b[0]->len = 60;
	b[1]->len = 0; /* nothing to send: taken and dropped */
	b[2]->len = 100;
	b[2]->data_off = 64;
	free0 = unic_mempool_free_count(dev->pool);
	CHECK(xsk_tx_burst(&s->txq, b, 3) == 3);
	CHECK(unic_mempool_free_count(dev->pool) == free0 + 1);
	CHECK(atomic_load(&tx_f.prod) == 2 && s->txq.stats.packets == 2 && s->txq.stats.dropped == 1);
	CHECK(d[0].addr == b[0]->room_iova + UNIC_HEADROOM && d[0].len == 60);
	CHECK(d[1].addr == b[2]->room_iova + 64 && d[1].len == 100);
	atomic_store(&tx_f.cons, 2); /* the kernel sent both */
	kernel_complete(d[0].addr);
	kernel_complete(d[0].addr);           /* twice */
	kernel_complete(b[1]->room_iova);     /* a buffer never sent (it is free in the pool) */
	kernel_complete(d[1].addr);
	CHECK(xsk_tx_burst(&s->txq, b, 0) == 0); /* reclaims */
	CHECK(unic_mempool_free_count(dev->pool) == free0 + 3);
	CHECK(bad_device(s) == before + 2);
	/* a consumer index past what unic produced: the queue stops */
	atomic_store(&tx_f.cons, 5);
	CHECK(unic_buf_alloc_bulk(dev->pool, b, 1) == 1);
	b[0]->len = 60;
	CHECK(xsk_tx_burst(&s->txq, b, 1) == 0);
	CHECK(s->txq.broken && bad_device(s) == before + 3);
	unic_buf_free(b[0]);
}

/* Random rx descriptors and completion addresses between bursts: nothing breaks, every
 * delivered buffer was one the ring held, and the pool is whole once the queue lets go. */
static void test_random(struct unic_dev *dev)
{
	struct xsk_sock s;
	struct unic_buf *got[RING_SIZE];
	uint64_t held[RING_SIZE];
	unsigned i, k, nheld = 0, delivered = 0, ok = 1;

	queues_init(dev, &s);
	srand(11);
	rx_refill(&s.rxq);
	for (i = 0; i < RANDOM_ROUNDS && !s.rxq.broken; i++) {
		uint32_t r = (uint32_t)rand();
		uint64_t addr;

		if (nheld < RING_SIZE / 2)
			nheld += kernel_take_fill(held + nheld, RING_SIZE / 2);
		if (r % 3 == 0 && nheld) { /* a held buffer, maybe with a bad length */
			k = (uint32_t)rand() % nheld;
			addr = held[k] | (uint64_t)((uint32_t)rand() % 512) << XSK_UNALIGNED_BUF_OFFSET_SHIFT;
			held[k] = held[--nheld];
		} else { /* anything */
			addr = ((uint64_t)rand() << 20 ^ (uint64_t)rand()) % (dev->pool->mem.size + 4096);
		}
		kernel_rx(addr, (uint32_t)rand() % 2300);
		if (r % 5 == 0)
			kernel_complete(((uint64_t)rand() << 16) % (dev->pool->mem.size * 2));
		if (i % 8 == 7) { /* the fake rings never hold more than a ring */
			uint16_t n = xsk_rx_burst(&s.rxq, got, RING_SIZE);
			for (k = 0; k < n; k++)
				ok &= got[k]->len > 0 && got[k]->data_off + got[k]->len <= got[k]->room_size;
			delivered += n;
			unic_buf_free_bulk(got, n);
			xsk_tx_burst(&s.txq, got, 0);
		}
	}
	CHECK(ok);
	CHECK(delivered > 0);
	CHECK(!s.rxq.broken && !s.txq.broken);
	sock_close(&s); /* returns what the rings still hold */
	CHECK(unic_mempool_free_count(dev->pool) == POOL);
}

int main(void)
{
	struct unic_dev *dev = umem_dev();
	struct xsk_sock s;

	CHECK(dev && dev->pool);
	if (!dev || !dev->pool)
		return check_summary("test_af_xdp_hostile");
	queues_init(dev, &s);
	test_rx(dev, &s);
	test_tx(dev, &s);
	sock_close(&s);
	CHECK(unic_mempool_free_count(dev->pool) == POOL);
	test_random(dev);
	unic_mempool_orphan(dev->pool);
	free(dev);
	return check_summary("test_af_xdp_hostile");
}
