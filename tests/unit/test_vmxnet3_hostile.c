/*
 * vmxnet3 against a fake, then hostile, device. BAR0 and BAR1 are plain memory;
 * DMA addresses are virtual (UNIC_DMA_VIRT), so the test plays the device: it
 * takes rx descriptors whose gen bit says they are the device's, writes frames
 * and completion entries (gen last), and reads the tx ring. The queues are built
 * by the driver's own setup (vmx_queues_setup: shared area, queue descriptors,
 * rings); ACTIVATE_DEV needs a device that answers in its command register, so
 * the control path is left to the lab (tests/lab/scenarios/vmxnet3-proofs).
 * Checked: sane frames over several passes of every ring (gen bits flipping);
 * completions with the error bit, a zero or too large length, a frame spread
 * over two buffers, a piece without start of packet, each counted and dropped;
 * a stale gen bit is not taken; a completion naming the wrong slot or ring 2
 * (never given buffers) is a lie: counted, queue broken, nothing more taken even
 * from good entries; tx descriptors (EOP, completion request, length, gen) and
 * the TXPROD doorbell; a tx completion outside the frames in flight breaks the
 * queue; an empty pool; every buffer back in the pool after close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "fake_dev.h"
#include "internal.h"
#include "../../src/drivers/vmxnet3/vmxnet3.h"

#define POOL_SIZE 512
#define RING 32

static uint32_t bar0[VMXNET3_BAR_SIZE / 4] __attribute__((aligned(4096)));
static uint32_t bar1[VMXNET3_BAR_SIZE / 4] __attribute__((aligned(4096)));
static struct unic_mempool *pool;
static struct unic_dev *dev;

/* The device's side of the rx queue: where it takes the next buffer and writes the next completion. */
static struct {
	uint16_t rx_next, comp_next;
	uint8_t rx_gen, comp_gen;
} devq;

static uint16_t cur; /* the rx / tx queue the fake device's helpers act on */
static struct vmx_rxq *rxq(void) { return dev->rxq[cur]; }
static struct vmx_txq *txq(void) { return dev->txq[cur]; }
static struct vmx_priv *priv(void) { return dev->priv; }

/* The queue the device helpers act on from now: its device side starts at slot 0, pass 1. */
static void use_queue(uint16_t q)
{
	cur = q;
	devq.rx_next = devq.comp_next = 0;
	devq.rx_gen = devq.comp_gen = VMXNET3_INIT_GEN;
}

/* nq rx and tx queues; irq: the interrupt mode vmx_irq_choose would have chosen. */
static bool open_fake_with(uint16_t nq, enum vmx_irq_mode irq)
{
	memset(dev, 0, sizeof *dev);
	memset(bar0, 0, sizeof bar0);
	memset(bar1, 0, sizeof bar1);
	unic_irq_init(&dev->irq);
	unic_config_init(&dev->cfg);
	dev->cfg.rx_queues = dev->cfg.tx_queues = nq;
	dev->cfg.rx_ring_size = RING;
	dev->cfg.tx_ring_size = RING;
	dev->cfg.mtu = 1500;
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	dev->dma_mode = UNIC_DMA_VIRT;
	dev->drv = &unic_driver_vmxnet3;
	dev->pool = pool;
	dev->bars[VMXNET3_BAR_PT].addr = bar0;
	dev->bars[VMXNET3_BAR_PT].size = sizeof bar0;
	dev->bars[VMXNET3_BAR_VD].addr = bar1;
	dev->bars[VMXNET3_BAR_VD].size = sizeof bar1;
	snprintf(dev->spec.pci_addr, sizeof dev->spec.pci_addr, "fake");
	use_queue(0);
	if (vmx_attach(dev))
		return false;
	priv()->irq = irq;
	if (vmx_queues_setup(dev)) {
		printf("open: %s\n", dev->err);
		return false;
	}
	return true;
}

static bool open_fake(void)
{
	return open_fake_with(1, VMX_IRQ_NONE);
}

static void close_fake(void)
{
	dev->drv->close(dev); /* never activated: no command reaches the fake registers but RESET */
}

/* Writes completion entry words; gen last, as a device does. */
static void device_complete(uint32_t w0, uint32_t len_err, bool good_gen)
{
	volatile struct vmx_comp *c = &rxq()->comp[devq.comp_next];
	uint32_t gen = good_gen ? devq.comp_gen : devq.comp_gen ^ 1u;

	c->w0 = w0;
	c->w1 = 0x5eed;
	c->w2 = len_err;
	unic_wmb();
	c->w3 = gen << VMXNET3_CD_GEN_SHIFT;
	if (++devq.comp_next == rxq()->comp_size) {
		devq.comp_next = 0;
		devq.comp_gen ^= 1;
	}
}

/*
 * The device receives len bytes of fill into the next ring 1 buffer it owns. flags: SOP/EOP
 * bits of completion word 0; err adds the error bit. Returns false when the driver had not
 * handed the slot over (its gen bit is not the device's).
 */
static bool device_rx(uint16_t len, uint8_t fill, uint32_t flags, bool err)
{
	volatile struct vmx_desc *d = &rxq()->ring[devq.rx_next];
	uint32_t w2 = d->w2;
	uint16_t cap = (uint16_t)(w2 & VMXNET3_RXD_LEN_MASK);

	if ((w2 >> VMXNET3_RXD_GEN_SHIFT) != devq.rx_gen)
		return false;
	memset((void *)(uintptr_t)d->addr, fill, len < cap ? len : cap);
	device_complete(devq.rx_next | flags | (uint32_t)cur << VMXNET3_RCD_RQID_SHIFT, len | (err ? VMXNET3_RCD_ERR : 0),
			true);
	if (++devq.rx_next == rxq()->size) {
		devq.rx_next = 0;
		devq.rx_gen ^= 1;
	}
	return true;
}

static const uint32_t SE = VMXNET3_RCD_SOP | VMXNET3_RCD_EOP;

/* Sane frames through three passes of the ring: gen bits flip on both sides, every frame intact. */
static void test_rx_passes(void)
{
	struct unic_buf *bufs[RING];
	uint32_t total = 0, good = 0, i;

	CHECK(open_fake());
	/* The driver holds one slot back: the device owns RING - 1 buffers at the start. */
	for (i = 0; i < RING - 1; i++)
		CHECK(((rxq()->ring[i].w2 >> VMXNET3_RXD_GEN_SHIFT) == VMXNET3_INIT_GEN));
	CHECK((rxq()->ring[RING - 1].w2 >> VMXNET3_RXD_GEN_SHIFT) != VMXNET3_INIT_GEN);
	while (total < 3 * RING) {
		uint16_t n, k = 0;
		while (k < 7 && device_rx((uint16_t)(60 + total % 1400), (uint8_t)total, SE, false))
			k++, total++;
		CHECK(k == 7);
		n = unic_rx_burst(dev, 0, bufs, RING);
		CHECK(n == k);
		for (i = 0; i < n; i++)
			good += fake_data_is(bufs[i], (uint16_t)(60 + (total - n + i) % 1400), (uint8_t)(total - n + i));
		unic_buf_free_bulk(bufs, n);
	}
	CHECK(good == total);
	CHECK(UNIC_STAT_GET(rxq()->stats.packets) == total && UNIC_STAT_GET(rxq()->stats.bad_device) == 0);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rx: %u frames over three passes of a %u-slot ring, all intact\n", total, RING);
}

/* Completions the device may write but that deliver nothing: each counted once, and the ring goes on. */
static void test_rx_bad_frames(void)
{
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t n;

	CHECK(open_fake());
	CHECK(device_rx(60, 0xa1, SE, false));
	CHECK(device_rx(60, 0xb2, SE, true));                          /* error bit */
	CHECK(device_rx(0, 0, SE, false));                             /* empty */
	CHECK(device_rx(rxq()->buf_len + 1, 0xc3, SE, false));         /* longer than the buffer */
	CHECK(device_rx(2048, 0xd4, VMXNET3_RCD_SOP, false));          /* a frame over two buffers ... */
	CHECK(device_rx(100, 0xd4, VMXNET3_RCD_EOP, false));           /* ... its end */
	CHECK(device_rx(100, 0xe5, VMXNET3_RCD_EOP, false));           /* an end with no start */
	CHECK(device_rx(1514, 0xf6, SE, false));
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 2 && fake_data_is(bufs[0], 60, 0xa1) && fake_data_is(bufs[1], 1514, 0xf6));
	CHECK(n == 2 && bufs[0]->rss_hash == 0x5eed && bufs[0]->rx_queue == 0);
	unic_buf_free_bulk(bufs, n);
	CHECK(unic_stats(dev, &st) == 0);
	CHECK(st.rx_packets == 2 && st.rx_bytes == 1574 && st.rx_errors == 1 && st.rx_dropped == 1 && st.bad_device == 3);
	CHECK(rxq()->next == 8 && rxq()->comp_next == 8 && !rxq()->broken && dev->drv->check(dev) == 0);

	/* A completion with a stale gen bit is not the driver's yet: nothing taken. */
	device_complete(rxq()->next | SE, 60, false);
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0 && rxq()->comp_next == 8);

	/* Pool empty: the frame is dropped and counted, the buffer goes back to the device. */
	{
		struct unic_buf *hog[POOL_SIZE];
		uint32_t held = unic_mempool_free_count(pool);

		devq.comp_next = 8; /* overwrite the stale entry */
		CHECK(unic_buf_alloc_bulk(pool, hog, held) == held);
		while (rxq()->nspare) /* the queue's spares too: nothing left to refill with */
			hog[held++] = rxq()->spare[--rxq()->nspare];
		CHECK(device_rx(60, 0x11, SE, false));
		CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0);
		CHECK(unic_stats(dev, &st) == 0 && st.rx_dropped == 2);
		unic_buf_free_bulk(hog, held);
	}
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rx: errors %llu, dropped %llu (spanning frame, pool empty), bad_device %llu (empty, too long, end without start)\n",
	       (unsigned long long)st.rx_errors, (unsigned long long)st.rx_dropped, (unsigned long long)st.bad_device);
}

/* A completion naming a slot other than the next one, or ring 2: the queue is broken. */
static void test_rx_lies(uint32_t w0_lie, const char *what)
{
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint16_t n;

	CHECK(open_fake());
	CHECK(device_rx(60, 0x21, SE, false));
	device_complete(w0_lie, 60, true);
	CHECK(device_rx(60, 0x22, SE, false)); /* a good one after the lie is not taken */
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 1 && fake_data_is(bufs[0], 60, 0x21));
	unic_buf_free_bulk(bufs, n);
	CHECK(rxq()->broken);
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0);
	CHECK(dev->drv->check(dev) == -EIO && strstr(dev->err, "rx queue 0 stopped") != NULL);
	CHECK(unic_stats(dev, &st) == 0 && st.bad_device == 1 && st.rx_packets == 1);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rx lie (%s): bad_device %llu, queue broken\n", what, (unsigned long long)st.bad_device);
}

/* The device completes the frames up to EOP descriptor idx: gen word for its pass. */
static void device_tx_complete(uint16_t slot, uint32_t idx, uint8_t gen)
{
	volatile struct vmx_comp *c = &txq()->comp[slot];

	c->w0 = idx;
	c->w1 = c->w2 = 0;
	unic_wmb();
	c->w3 = (uint32_t)gen << VMXNET3_CD_GEN_SHIFT;
}

static void test_tx(void)
{
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	uint32_t free0;
	uint16_t i;

	CHECK(open_fake());
	free0 = unic_mempool_free_count(pool);
	CHECK(unic_buf_alloc_bulk(pool, bufs, 4) == 4);
	for (i = 0; i < 4; i++)
		bufs[i]->len = (uint16_t)(60 + i);
	bufs[3]->len = 0; /* nothing to send: taken, dropped, counted */
	CHECK(unic_tx_burst(dev, 0, bufs, 4) == 4);
	CHECK(unic_read32(bar0, VMXNET3_REG_TXPROD) == 3);
	for (i = 0; i < 3; i++) {
		CHECK(txq()->ring[i].w2 == ((60u + i) | VMXNET3_INIT_GEN << VMXNET3_TXD_GEN_SHIFT));
		CHECK(txq()->ring[i].w3 == (VMXNET3_TXD_EOP | VMXNET3_TXD_CQ));
	}
	CHECK(unic_stats(dev, &st) == 0 && st.tx_packets == 3 && st.tx_dropped == 1);
	/* One completion naming the last EOP frees all three. */
	device_tx_complete(0, 2, VMXNET3_INIT_GEN);
	CHECK(unic_tx_burst(dev, 0, bufs, 0) == 0 && txq()->inflight == 0);
	CHECK(unic_mempool_free_count(pool) == free0);

	/* Around the ring: the second pass carries gen 0. */
	CHECK(fake_fill_tx(dev, pool, RING, 60) == RING - 1);
	CHECK((txq()->ring[0].w2 >> VMXNET3_TXD_GEN_SHIFT) == 0 && (txq()->ring[3].w2 >> VMXNET3_TXD_GEN_SHIFT) == 1);
	/* A completion for a slot that holds no frame in flight (slot 2 was completed): a lie. */
	device_tx_complete(1, 2, VMXNET3_INIT_GEN);
	CHECK(unic_buf_alloc_bulk(pool, bufs, 1) == 1);
	bufs[0]->len = 60;
	CHECK(unic_tx_burst(dev, 0, bufs, 1) == 0);
	unic_buf_free(bufs[0]);
	CHECK(txq()->broken && unic_stats(dev, &st) == 0 && st.bad_device == 1);
	CHECK(dev->drv->check(dev) == -EIO && strstr(dev->err, "tx queue 0 stopped") != NULL);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("tx: descriptors, doorbell, reclaim, wrap; a completion outside the frames in flight breaks the queue\n");
}


/* The register of queue / vector n in BAR0's block at base (8 bytes apart). */
static uint32_t bar0_reg(uint32_t base, uint32_t n)
{
	return unic_read32(bar0, base + VMXNET3_REG_ALIGN * n);
}

/*
 * Two queue pairs: the queue descriptor table (tx descs, then rx descs) points at each queue's
 * own rings; frames on rx queue 1 arrive there, named rqID 1; a completion on queue 1's ring that
 * names queue 0 (or queue 1's ring 2, rqID 1 + 2) breaks queue 1 only; tx queue 1 rings TXPROD + 8.
 */
static void test_mq(void)
{
	struct unic_buf *bufs[RING];
	volatile struct vmx_shared *sh;
	const volatile struct vmx_tx_queue_desc *td;
	const volatile struct vmx_rx_queue_desc *rd;
	uint16_t n;

	CHECK(open_fake_with(2, VMX_IRQ_NONE));
	sh = priv()->shared;
	CHECK(sh->misc.num_rx_queues == 2 && sh->misc.num_tx_queues == 2 && dev->num_rxq == 2 && dev->num_txq == 2);
	CHECK(sh->misc.queue_desc_len == 4 * 256);
	td = (const volatile struct vmx_tx_queue_desc *)(uintptr_t)sh->misc.queue_desc_pa;
	rd = (const volatile struct vmx_rx_queue_desc *)(td + 2);
	CHECK(td[1].tx_ring_pa == (uintptr_t)priv()->txq[1].ring && td[1].comp_ring_pa == (uintptr_t)priv()->txq[1].comp);
	CHECK(rd[1].rx_ring_pa[0] == (uintptr_t)priv()->rxq[1].ring && rd[1].comp_ring_pa == (uintptr_t)priv()->rxq[1].comp);
	CHECK(rd[0].rx_ring_pa[0] != rd[1].rx_ring_pa[0] && td[0].tx_ring_pa != td[1].tx_ring_pa);
	CHECK(rd[1].intr_idx == 0 && td[1].intr_idx == 0 && sh->intr.intr_ctrl == VMXNET3_IC_DISABLE_ALL);

	use_queue(1);
	CHECK(device_rx(60, 0x31, SE, false) && device_rx(61, 0x32, SE, false));
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0); /* queue 0 has nothing */
	n = unic_rx_burst(dev, 1, bufs, RING);
	CHECK(n == 2 && fake_data_is(bufs[0], 60, 0x31) && fake_data_is(bufs[1], 61, 0x32) && bufs[1]->rx_queue == 1);
	unic_buf_free_bulk(bufs, n);
	device_complete(devq.rx_next | SE, 60, true); /* rqID 0 on queue 1's completion ring */
	CHECK(unic_rx_burst(dev, 1, bufs, RING) == 0 && rxq()->broken);
	CHECK(dev->drv->check(dev) == -EIO && strstr(dev->err, "rx queue 1 stopped") != NULL);
	use_queue(0);
	CHECK(device_rx(62, 0x33, SE, false) && unic_rx_burst(dev, 0, bufs, RING) == 1 && fake_data_is(bufs[0], 62, 0x33));
	unic_buf_free_bulk(bufs, 1);
	CHECK(!rxq()->broken && UNIC_STAT_GET(priv()->rxq[1].stats.bad_device) == 1);

	CHECK(unic_buf_alloc_bulk(pool, bufs, 3) == 3);
	bufs[0]->len = bufs[1]->len = bufs[2]->len = 60;
	CHECK(unic_tx_burst(dev, 1, bufs, 3) == 3);
	CHECK(bar0_reg(VMXNET3_REG_TXPROD, 1) == 3 && bar0_reg(VMXNET3_REG_TXPROD, 0) == 0);
	close_fake();

	/* Ring 2 of queue 1 (rqID 1 + 2 queues = 3) was never given a buffer: a lie. */
	CHECK(open_fake_with(2, VMX_IRQ_NONE));
	use_queue(1);
	device_complete(0 | SE | 3u << VMXNET3_RCD_RQID_SHIFT, 60, true);
	CHECK(unic_rx_burst(dev, 1, bufs, RING) == 0 && rxq()->broken);
	close_fake();
	use_queue(0);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("mq: 2 queue pairs, frames on rx queue 1, a completion naming queue 0 or ring 2 on queue 1 breaks queue 1 only, "
	       "tx queue 1 rings TXPROD + 8\n");
}

/* RSS with two rx queues: UPT1_F_RSS, the UPT1_RSSConf the device reads, a new table through UPDATE_RSSIDT. */
static void test_rss(void)
{
	volatile struct vmx_rss_conf *r;
	volatile struct vmx_shared *sh;
	uint16_t reta[VMXNET3_RSS_IND_SIZE];
	uint8_t key[VMXNET3_RSS_KEY_SIZE];
	uint32_t i;
	bool ok = true;

	CHECK(open_fake());
	CHECK(priv()->rss == NULL && !(priv()->shared->misc.upt_features & VMXNET3_UPT1_F_RSS));
	CHECK(unic_set_rss(dev, NULL, 0, NULL, 0) == -ENOTSUP); /* one rx queue: no RSS */
	close_fake();

	CHECK(open_fake_with(2, VMX_IRQ_NONE));
	sh = priv()->shared;
	r = priv()->rss;
	CHECK(r != NULL && (sh->misc.upt_features & VMXNET3_UPT1_F_RSS));
	CHECK(sh->rss.ver == 1 && sh->rss.len == 176 && sh->rss.pa == (uintptr_t)r);
	CHECK(r->hash_type == 0xf && r->hash_func == 1 && r->hash_key_size == 40 && r->ind_table_size == 32);
	for (i = 0; i < VMXNET3_RSS_KEY_SIZE; i++)
		ok &= r->hash_key[i] == unic_rss_default_key[i];
	for (i = 0; i < VMXNET3_RSS_IND_SIZE; i++)
		ok &= r->ind_table[i] == i % 2;
	CHECK(ok && dev->rss_reta_size == 32 && dev->rss_key_len == 40);
	for (i = 0; i < VMXNET3_RSS_IND_SIZE; i++)
		reta[i] = (uint16_t)(i < 3);
	CHECK(unic_set_rss(dev, NULL, 0, reta, VMXNET3_RSS_IND_SIZE) == 0);
	CHECK(unic_read32(bar1, VMXNET3_REG_CMD) == VMXNET3_CMD_UPDATE_RSSIDT);
	CHECK(r->ind_table[0] == 1 && r->ind_table[2] == 1 && r->ind_table[3] == 0 && r->ind_table[31] == 0);
	memset(key, 0x42, sizeof key);
	unic_write32(bar1, VMXNET3_REG_CMD, 0);
	CHECK(unic_set_rss(dev, key, sizeof key, NULL, 0) == -ENOTSUP && strstr(dev->err, "key") != NULL);
	CHECK(r->hash_key[0] == unic_rss_default_key[0] && unic_read32(bar1, VMXNET3_REG_CMD) == 0);
	reta[5] = 2; /* names an rx queue the device does not have: the core refuses it */
	CHECK(unic_set_rss(dev, NULL, 0, reta, VMXNET3_RSS_IND_SIZE) == -EINVAL && r->ind_table[5] == 0);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rss: UPT1_RSSConf (Toeplitz, IPv4/IPv6 TCP, 40-byte key, 32 entries) and UPDATE_RSSIDT; a new key refused\n");
}

/* The wake-up descriptors vmx_irq_choose would get from the core: eventfds, as VFIO's. */
static void fake_vectors(unsigned n)
{
	unsigned i;

	dev->irq.kind = UNIC_IRQ_MSIX;
	dev->irq.n = n;
	for (i = 0; i < n; i++)
		dev->irq.fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static void close_vectors(void)
{
	unsigned i;

	for (i = 0; i < dev->irq.n; i++)
		close(dev->irq.fds[i]);
	dev->irq.n = 0;
}

static bool fd_pending(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof v) != sizeof v)
		return false;
	return v > 0;
}

/*
 * MSI-X with two rx queues: intrConf (autoMask, 4 vectors, event 0, interrupts on), rx queue q on
 * vector q + 1, tx queues on vector 3, masked; arming unmasks the queue's IMR and answers 0 on an
 * empty ring, 1 when a frame already waits; a stale wake-up is consumed by the arm; disarming masks
 * again; a link event in DriverShared.ecr is acknowledged through ECR and reopens vector 0; a
 * broken queue refuses to be slept on.
 */
static void test_irq_msix(void)
{
	volatile struct vmx_shared *sh;
	struct unic_buf *bufs[RING];
	uint64_t one = 1;

	CHECK(open_fake_with(2, VMX_IRQ_MSIX));
	fake_vectors(3);
	sh = priv()->shared;
	CHECK(sh->intr.auto_mask == 1 && sh->intr.num_intrs == 4 && sh->intr.event_intr_idx == 0 && sh->intr.intr_ctrl == 0);
	CHECK(priv()->rxq[0].qd->intr_idx == 1 && priv()->rxq[1].qd->intr_idx == 2);
	CHECK(priv()->txq[0].qd->intr_idx == 3 && priv()->txq[1].qd->intr_idx == 3);
	unic_write32(bar0, VMXNET3_REG_IMR, VMXNET3_IMR_MASKED);
	vmx_irq_start(dev);
	CHECK(bar0_reg(VMXNET3_REG_IMR, 0) == 0 && bar0_reg(VMXNET3_REG_IMR, 1) == 1 && bar0_reg(VMXNET3_REG_IMR, 2) == 1 &&
	      bar0_reg(VMXNET3_REG_IMR, 3) == 1);
	CHECK(unic_rx_fd(dev, 1) == dev->irq.fds[2]);

	CHECK(write(dev->irq.fds[2], &one, sizeof one) == sizeof one); /* left from before */
	CHECK(unic_rx_intr_enable(dev, 1) == 0 && bar0_reg(VMXNET3_REG_IMR, 2) == 0 && !fd_pending(dev->irq.fds[2]));
	CHECK(bar0_reg(VMXNET3_REG_IMR, 1) == 1); /* the other queue stays masked */
	CHECK(unic_rx_intr_disable(dev, 1) == 0 && bar0_reg(VMXNET3_REG_IMR, 2) == 1);
	use_queue(1);
	CHECK(device_rx(60, 0x41, SE, false));
	CHECK(unic_rx_intr_enable(dev, 1) == 1); /* a frame came before the arm: receive it */
	CHECK(bar0_reg(VMXNET3_REG_IMR, 2) == 1); /* and the queue is disarmed again */
	CHECK(unic_rx_burst(dev, 1, bufs, RING) == 1);
	unic_buf_free_bulk(bufs, 1);
	CHECK(unic_rx_intr_enable(dev, 1) == 0);
	CHECK(unic_rx_intr_disable(dev, 1) == 0);

	unic_write32(bar0, VMXNET3_REG_IMR, VMXNET3_IMR_MASKED); /* autoMask closed it when it fired */
	sh->ecr = VMXNET3_ECR_LINK;
	CHECK(unic_event_ack(dev) == UNIC_EVENT_LINK);
	CHECK(unic_read32(bar1, VMXNET3_REG_ECR) == VMXNET3_ECR_LINK && bar0_reg(VMXNET3_REG_IMR, 0) == 0);
	sh->ecr = 0; /* the device clears what ECR acknowledged */
	CHECK(unic_event_ack(dev) == 0);

	device_complete(5u | SE | 1u << VMXNET3_RCD_RQID_SHIFT, 60, true); /* a lie: queue 1 breaks */
	CHECK(unic_rx_burst(dev, 1, bufs, RING) == 0 && unic_rx_intr_enable(dev, 1) == -EIO);
	close_vectors();
	close_fake();
	use_queue(0);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("irq msix: vectors 0 event, 1-2 rx, 3 tx (masked); arm/disarm through IMR; look-again; ECR acknowledged\n");
}

/* INTx: every index 0, no autoMask, ICR read at the arm; polled: interrupts off and refused with a line. */
static void test_irq_intx_and_polled(void)
{
	volatile struct vmx_shared *sh;

	CHECK(open_fake_with(2, VMX_IRQ_INTX));
	sh = priv()->shared;
	CHECK(sh->intr.auto_mask == 0 && sh->intr.num_intrs == 1 && sh->intr.intr_ctrl == 0);
	CHECK(priv()->rxq[1].qd->intr_idx == 0 && priv()->txq[1].qd->intr_idx == 0 && sh->intr.event_intr_idx == 0);
	CHECK(priv()->rxq[0].vec == 1 && priv()->rxq[1].vec == 2);
	close_fake();

	CHECK(open_fake());
	sh = priv()->shared;
	CHECK(sh->intr.intr_ctrl == VMXNET3_IC_DISABLE_ALL && priv()->rxq[0].qd->intr_idx == 0);
	snprintf(priv()->irq_err, sizeof priv()->irq_err, "no vectors");
	CHECK(unic_rx_intr_enable(dev, 0) == -ENOTSUP);
	CHECK(unic_rx_fd(dev, 0) == -ENOTSUP && strstr(dev->err, "no vectors") != NULL);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("irq intx: every index 0, autoMask off; polled: interrupts disabled, the enable call refused with a line\n");
}

int main(void)
{
	struct unic_dev scratch;

	fake_scratch(&scratch);
	pool = unic_mempool_make(&scratch, POOL_SIZE, 2048);
	dev = calloc(1, sizeof *dev);
	CHECK(pool != NULL && dev != NULL);
	if (!pool || !dev) {
		printf("setup: %s\n", scratch.err);
		return check_summary("vmxnet3_hostile");
	}
	test_rx_passes();
	test_rx_bad_frames();
	test_rx_lies(5u | SE, "slot 5 instead of slot 1");
	test_rx_lies(1u | SE | (1u << VMXNET3_RCD_RQID_SHIFT), "ring 2, never given buffers");
	test_tx();
	test_mq();
	test_rss();
	test_irq_msix();
	test_irq_intx_and_polled();
	free(dev);
	unic_mempool_destroy(pool);
	return check_summary("vmxnet3_hostile");
}
