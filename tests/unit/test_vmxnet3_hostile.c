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

static struct vmx_rxq *rxq(void) { return dev->rxq[0]; }
static struct vmx_txq *txq(void) { return dev->txq[0]; }

static bool open_fake(void)
{
	memset(dev, 0, sizeof *dev);
	memset(bar0, 0, sizeof bar0);
	memset(bar1, 0, sizeof bar1);
	unic_config_init(&dev->cfg);
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
	devq.rx_next = devq.comp_next = 0;
	devq.rx_gen = devq.comp_gen = VMXNET3_INIT_GEN;
	if (vmx_attach(dev) || vmx_queues_setup(dev)) {
		printf("open: %s\n", dev->err);
		return false;
	}
	return true;
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
	device_complete(devq.rx_next | flags, len | (err ? VMXNET3_RCD_ERR : 0), true);
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
	free(dev);
	unic_mempool_destroy(pool);
	return check_summary("vmxnet3_hostile");
}
