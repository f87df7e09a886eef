/*
 * igb, e1000e and e1000 against a fake, then hostile, device. The register file is
 * plain memory; a small thread plays the parts of the device the drivers wait
 * on (CTRL.RST self-clears, MDIC completes). DMA addresses are virtual
 * (UNIC_DMA_VIRT), so the test writes receive write-backs and reads transmit
 * descriptors itself. Checked: a sane frame round trip; write-backs without
 * EOP (a frame spanning descriptors), with error bits, with a zero or too large
 * length, and a device that keeps setting DD everywhere: each counted and
 * dropped, never followed, never a loop without end; an empty pool; transmit
 * reclaim; a device that reads all-ones (removed): calls fail instead of
 * spinning; a reset that never completes: probe gives up in bounded time. Every
 * buffer is back in the pool after close. RSS: the default key and table, then
 * unic_set_rss writes RSSRK and RETA exactly as given and refuses bad input with
 * one line. Jumbo frames (mtu 9000): LPE, RLPML and the buffer size registers; a
 * 9018-byte frame in one buffer; chains without EOP dropped whole and counted once;
 * a length above the buffer is bad_device; tx takes 9018 bytes in one descriptor
 * and drops (counts) a frame above the chip's longest. The e1000 (82540EM) runs
 * the same checks through its legacy receive write-back, and a byte-level one.
 * Interrupts on the INTx line (uio:; igb, e1000e, e1000), and on one VFIO line (MSI, INTx) whose
 * one eventfd the core fans out to the rx queue's and the link event's listeners:
 * arm then look again (a frame that landed while arming is returned, not slept on), the
 * INTx-disable bit cleared in the config space, a link change read while arming still
 * reported by event_ack, a removed device refused.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fake_dev.h"
#include "internal.h"
#include "../../src/drivers/intel/intel_common.h"

#define POOL_SIZE 512
#define RING 32
#define REGS_SIZE 0x20000
#define FAKE_MAC_LO 0x00565452u   /* 52:54:56:00 */
#define FAKE_MAC_HI 0x0201u       /* 01:02 */
#define STATUS_UP_1000_FD (INTEL_STATUS_LU | INTEL_STATUS_FD | (2u << INTEL_STATUS_SPEED_SHIFT))
#define EECD 0x00010
#define EECD_AUTO_RD (1u << 9)
#define MTU_JUMBO 9000
#define FRAME_JUMBO (MTU_JUMBO + INTEL_FRAME_OVERHEAD)
#define JUMBO_POOL_SIZE 160
#define JUMBO_BUF 16384           /* the largest either chip needs for mtu 9000 (e1000e RCTL.BSIZE) */
#define IGB_RLPML 0x05004
#define IGB_SRRCTL0 0x0C00C
#define IGB_BSIZEPKT_MASK 0x7Fu
#define E1000E_RCTL_BSIZE_MASK (3u << 16 | 1u << 25)   /* BSIZE and BSEX */
#define E1000E_RCTL_16K (1u << 16 | 1u << 25)

static uint32_t regs[REGS_SIZE / 4] __attribute__((aligned(4096)));
static struct unic_mempool *pool, *jumbo_pool;
static struct unic_dev *dev;
static volatile bool fake_run;
static atomic_bool fake_alive;   /* the fake device's thread has started polling */
static int fake_config_fd = -1;   /* >= 0: the device is opened as through uio: (INTx, config file) */
static char fake_uio[32];         /* a FIFO nobody writes: the /dev/uioN that never wakes */
static pthread_t fake_thread;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t reg(uint32_t off) { return unic_read32(regs, off); }
static void set_reg(uint32_t off, uint32_t v) { unic_write32(regs, off, v); }

/* The device's side of reset and PHY access. */
static void *fake_device(void *arg)
{
	struct timespec step = { .tv_nsec = 20000 };

	(void)arg;
	atomic_store(&fake_alive, true);
	while (fake_run) {
		uint32_t ctrl = reg(INTEL_CTRL), mdic = reg(INTEL_MDIC);
		if (ctrl & INTEL_CTRL_RST)
			set_reg(INTEL_CTRL, ctrl & ~INTEL_CTRL_RST);
		if ((mdic & (INTEL_MDIC_OP_READ | INTEL_MDIC_OP_WRITE)) && !(mdic & INTEL_MDIC_READY))
			set_reg(INTEL_MDIC, mdic | INTEL_MDIC_READY);
		nanosleep(&step, NULL);
	}
	return NULL;
}

static void new_dev(const struct unic_driver *drv)
{
	memset(dev, 0, sizeof *dev);
	unic_config_init(&dev->cfg);
	dev->cfg.rx_ring_size = RING;
	dev->cfg.tx_ring_size = RING;
	dev->cfg.buf_size = 2048;
	dev->cfg.mtu = 1500; /* as unic_open leaves it */
	dev->config_fd = dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	unic_irq_init(&dev->irq);
	if (fake_config_fd >= 0) { /* uio: every listener is a FIFO that never wakes; INTx through config */
		dev->spec.access = UNIC_ACCESS_UIO;
		dev->config_fd = fake_config_fd;
		snprintf(dev->uio_path, sizeof dev->uio_path, "%s", fake_uio);
	}
	dev->dma_mode = UNIC_DMA_VIRT;
	dev->drv = drv;
	dev->pool = pool;
	dev->bars[INTEL_BAR].addr = regs;
	dev->bars[INTEL_BAR].size = REGS_SIZE;
	snprintf(dev->spec.pci_addr, sizeof dev->spec.pci_addr, "fake");
}

/* mtu 0: 1500; else the device gets the jumbo pool, as unic_open would size it. */
static bool open_fake_mtu(const struct unic_driver *drv, uint16_t rx_queues, uint16_t mtu)
{
	memset(regs, 0, sizeof regs);
	set_reg(INTEL_STATUS, STATUS_UP_1000_FD);
	set_reg(EECD, EECD_AUTO_RD);
	set_reg(INTEL_RAL0, FAKE_MAC_LO);
	set_reg(INTEL_RAH0, FAKE_MAC_HI | INTEL_RAH_AV);
	new_dev(drv);
	dev->cfg.rx_queues = rx_queues;
	if (mtu) {
		dev->cfg.mtu = mtu;
		dev->cfg.buf_size = JUMBO_BUF;
		dev->pool = jumbo_pool;
	}
	fake_run = true;
	atomic_store(&fake_alive, false);
	pthread_create(&fake_thread, NULL, fake_device, NULL);
	/* On a loaded machine a new thread may wait long to run: the driver's 100 ms reset timeout
	 * is for the device, not for the scheduler, so probe starts once the fake device runs. */
	while (!atomic_load(&fake_alive))
		sched_yield();
	if (drv->probe(dev) || drv->start(dev)) {
		printf("open %s: %s\n", drv->name, dev->err);
		return false;
	}
	return true;
}

static bool open_fake_queues(const struct unic_driver *drv, uint16_t rx_queues)
{
	return open_fake_mtu(drv, rx_queues, 0);
}

static bool open_fake(const struct unic_driver *drv)
{
	return open_fake_queues(drv, 1);
}

static void close_fake(void)
{
	dev->drv->close(dev);
	unic_irq_close(dev);
	if (fake_run) {
		fake_run = false;
		pthread_join(fake_thread, NULL);
	}
}

/* The device receives a frame into slot i: data, then the write-back, DD last. */
static void device_rx(struct intel_rxq *q, uint16_t i, uint32_t staterr, uint16_t len, uint8_t fill)
{
	volatile union intel_rx_desc *d = &q->ring[i];
	uint8_t *buf = (uint8_t *)(uintptr_t)d->read.pkt_addr;

	memset(buf, fill, len < q->buf_len ? len : q->buf_len);
	if (q->dev->drv == &unic_driver_e1000) { /* legacy write-back: errors byte above the status byte */
		d->legacy.length = len;
		d->legacy.csum = 0;
		d->legacy.special = 0;
		unic_wmb();
		d->legacy.staterr = (uint16_t)((staterr & INTEL_RXD_LEGACY_STATUS_MASK) |
					       (staterr >> INTEL_RXD_LEGACY_ERR_SHIFT & ~INTEL_RXD_LEGACY_STATUS_MASK));
		return;
	}
	d->wb.info = 0;
	d->wb.rss_hash = 0;
	d->wb.length = len;
	d->wb.vlan = 0;
	unic_wmb();
	d->wb.staterr = staterr;
}

static void test_rx(const struct unic_driver *drv)
{
	const uint32_t de = INTEL_RXD_STAT_DD | INTEL_RXD_STAT_EOP;
	struct unic_buf *bufs[RING], *hog[POOL_SIZE];
	struct intel_rxq *q;
	struct unic_stats st;
	uint32_t held;
	uint16_t n, i;

	CHECK(open_fake(drv));
	q = dev->rxq[0];
	device_rx(q, 0, de, 60, 0xa1);
	device_rx(q, 1, INTEL_RXD_STAT_DD, 2048, 0xb2);            /* first part of a frame that spans */
	device_rx(q, 2, de, 100, 0xb2);                            /* its last part */
	device_rx(q, 3, de, 4000, 0xc3);                           /* longer than the buffer */
	device_rx(q, 4, de | INTEL_RXD_ERR_CE, 60, 0xd4);          /* CRC error */
	device_rx(q, 5, de, 0, 0);                                 /* empty */
	device_rx(q, 6, de, 1514, 0xe5);
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 2);
	CHECK(n == 2 && fake_data_is(bufs[0], 60, 0xa1) && fake_data_is(bufs[1], 1514, 0xe5));
	unic_buf_free_bulk(bufs, n);
	CHECK(unic_stats(dev, &st) == 0);
	CHECK(st.rx_packets == 2 && st.rx_bytes == 1574 && st.rx_dropped == 1 && st.rx_errors == 1 && st.bad_device == 2);
	CHECK(reg(intel_rxq_reg(intel_priv(dev), 0, INTEL_Q_TAIL)) == 6); /* one tail write: the last slot handed back */
	for (i = 0; i <= 6; i++)
		CHECK(q->ring[i].read.hdr_addr == 0 && q->ring[i].read.pkt_addr != 0); /* re-posted, DD clear */
	CHECK(q->next == 7);

	/* A device that sets DD on every descriptor, again and again: bounded work per call. */
	for (i = 0; i < RING; i++)
		device_rx(q, i, de, 0, 0);
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 0);
	CHECK(unic_stats(dev, &st) == 0 && st.bad_device == 2 + RING);

	/* Pool empty: the frame is dropped and counted, the buffer stays posted. */
	held = unic_mempool_free_count(pool);
	CHECK(unic_buf_alloc_bulk(pool, hog, held) == held);
	for (i = 0; i < RING; i++)
		device_rx(q, (uint16_t)((q->next + i) % RING), de, 60, 0x5a);
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(unic_stats(dev, &st) == 0 && st.rx_dropped == 1 + (uint64_t)(RING - n));
	unic_buf_free_bulk(bufs, n);
	unic_buf_free_bulk(hog, held);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rx %s: frames checked, bad write-backs counted (dropped %llu, errors %llu, bad_device %llu)\n", drv->name,
	       (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_errors, (unsigned long long)st.bad_device);
}

static void test_tx(const struct unic_driver *drv, uint32_t want_cmd, uint8_t paylen_shift)
{
	struct unic_buf *bufs[RING];
	struct intel_txq *q;
	struct unic_stats st;
	struct unic_link link;
	uint32_t free0;
	uint16_t n, i;

	CHECK(open_fake(drv));
	q = dev->txq[0];
	free0 = unic_mempool_free_count(pool);
	CHECK(unic_buf_alloc_bulk(pool, bufs, 4) == 4);
	for (i = 0; i < 4; i++)
		bufs[i]->len = 60;
	bufs[3]->len = 0; /* nothing to send: taken, dropped, counted */
	CHECK(unic_tx_burst(dev, 0, bufs, 4) == 4);
	CHECK(reg(intel_txq_reg(intel_priv(dev), 0, INTEL_Q_TAIL)) == 3);
	for (i = 0; i < 3; i++) { /* RS (a write-back) only on the last descriptor of the burst */
		CHECK(q->ring[i].cmd_type_len == (want_cmd | 60u | (i == 2 ? INTEL_TXD_CMD_RS : 0)));
		CHECK(q->ring[i].olinfo_status == (paylen_shift ? 60u << paylen_shift : 0));
	}
	CHECK(unic_stats(dev, &st) == 0 && st.tx_packets == 3 && st.tx_dropped == 1);
	/* Completion: DD on the last of the three frees all three at the next burst. */
	q->ring[2].olinfo_status |= INTEL_TXD_STAT_DD;
	CHECK(unic_tx_burst(dev, 0, bufs, 0) == 0);
	CHECK(unic_mempool_free_count(pool) == free0);
	/* A full ring takes no more than it has room for. */
	CHECK(fake_fill_tx(dev, pool, RING, 60) == RING - 1);
	/* Slots 3..RING-1, 0, 1 hold the burst: one write-back requested, on its last descriptor. */
	for (i = 0, n = 0; i < RING; i++)
		n = (uint16_t)(n + (i != 2 && (q->ring[i].cmd_type_len & INTEL_TXD_CMD_RS)));
	CHECK(n == 1 && (q->ring[1].cmd_type_len & INTEL_TXD_CMD_RS));
	q->ring[1].olinfo_status |= INTEL_TXD_STAT_DD;
	CHECK(unic_tx_burst(dev, 0, bufs, 0) == 0);
	CHECK(unic_mempool_free_count(pool) == free0);
	CHECK(unic_link(dev, &link) == 0 && link.up && link.full_duplex && link.speed_mbps == 1000);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("tx %s: descriptors as specified, batched reclaim, full ring bounded\n", drv->name);
}

/* All-ones registers: the device is gone. Calls fail or return 0, nothing waits on it. */
static void test_removed(const struct unic_driver *drv)
{
	struct unic_buf *bufs[4];
	struct unic_stats st;
	struct unic_link link;
	double t0;
	int i;

	CHECK(open_fake(drv));
	fake_run = false;
	pthread_join(fake_thread, NULL);
	memset(regs, 0xff, sizeof regs);
	for (i = 0; i < 2 * (int)INTEL_IDLE_CHECK && !dev->removed; i++)
		unic_rx_burst(dev, 0, bufs, 4);
	CHECK(dev->removed);
	CHECK(unic_rx_burst(dev, 0, bufs, 4) == 0);
	CHECK(unic_buf_alloc_bulk(pool, bufs, 4) == 4);
	for (i = 0; i < 4; i++)
		bufs[i]->len = 60;
	CHECK(unic_tx_burst(dev, 0, bufs, 4) == 0);
	unic_buf_free_bulk(bufs, 4);
	CHECK(unic_stats(dev, &st) == -ENODEV && strstr(dev->err, "all-ones"));
	CHECK(unic_link(dev, &link) == -ENODEV);
	t0 = now();
	close_fake();
	CHECK(now() - t0 < 0.5);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);

	new_dev(drv); /* removed before probe */
	t0 = now();
	CHECK(drv->probe(dev) == -ENODEV && strstr(dev->err, "all-ones"));
	CHECK(now() - t0 < 0.5);
	drv->close(dev);

	memset(regs, 0, sizeof regs); /* a reset that never completes: no thread clears CTRL.RST */
	new_dev(drv);
	t0 = now();
	CHECK(drv->probe(dev) == -ETIMEDOUT && strstr(dev->err, "reset did not complete"));
	CHECK(now() - t0 < 2.0);
	drv->close(dev);
	printf("removed/wedged %s: calls fail with an error, waits bounded (%.2f s)\n", drv->name, now() - t0);
}

/*
 * Frames the device dropped are in hw_rx_missed: MPC, and on igb the per-queue RQDPC
 * (82576 8.19.x: with SRRCTL.DROP_EN, set for more than one queue, a full queue drops
 * there and not in MPC). RNBC is an event count, reported apart (hw_rx_no_buf).
 */
static void test_hw_drops(const struct unic_driver *drv, uint64_t want_missed)
{
	struct unic_stats st;

	CHECK(open_fake_queues(drv, 2));
	set_reg(INTEL_MPC, 3);
	set_reg(INTEL_RNBC, 11);
	set_reg(intel_rxq_reg(intel_priv(dev), 0, 0x30), 5);   /* igb RQDPC0 (0xC030) */
	set_reg(intel_rxq_reg(intel_priv(dev), 1, 0x30), 7);   /* igb RQDPC1 (0xC070) */
	CHECK(unic_stats(dev, &st) == 0);
	CHECK(st.hw_rx_missed == want_missed);
	CHECK(st.hw_rx_no_buf == 11);
	printf("hw drops %s: MPC 3, queue drops 5 + 7, RNBC 11 -> hw_rx_missed %llu, hw_rx_no_buf %llu\n", drv->name,
	       (unsigned long long)st.hw_rx_missed, (unsigned long long)st.hw_rx_no_buf);
	close_fake();
}

/* RETA as the chip holds it: entry i's byte, the queue at the chip's bit position. */
static uint8_t reta_entry(uint32_t i)
{
	return (uint8_t)(reg(INTEL_RETA + 4 * (i / INTEL_RETA_ENTRIES_PER_WORD)) >> (8 * (i % INTEL_RETA_ENTRIES_PER_WORD)));
}

static bool key_is(const uint8_t *key)
{
	uint32_t i;

	for (i = 0; i < INTEL_RSSRK_BYTES; i++)
		if ((uint8_t)(reg(INTEL_RSSRK + 4 * (i / 4)) >> (8 * (i % 4))) != key[i])
			return false;
	return true;
}

static bool reta_is(const uint16_t *reta, uint8_t shift)
{
	uint32_t i;

	for (i = 0; i < INTEL_RETA_ENTRIES; i++)
		if (reta_entry(i) != (uint8_t)(reta[i] << shift))
			return false;
	return true;
}

/* unic_set_rss: key and table land in RSSRK and RETA as given; bad input refused, registers kept. */
static void test_rss(const struct unic_driver *drv, uint16_t nq, uint8_t shift)
{
	uint8_t key[INTEL_RSSRK_BYTES], key2[INTEL_RSSRK_BYTES];
	uint16_t reta[INTEL_RETA_ENTRIES], reta2[INTEL_RETA_ENTRIES];
	struct unic_info info;
	uint32_t i;

	CHECK(open_fake_queues(drv, nq));
	CHECK(unic_info(dev, &info) == 0 && info.rss_key_len == INTEL_RSSRK_BYTES &&
	      info.rss_reta_size == INTEL_RETA_ENTRIES);
	for (i = 0; i < INTEL_RETA_ENTRIES; i++)
		reta[i] = (uint16_t)(i % nq);  /* the default: round robin */
	CHECK(reta_is(reta, shift));
	/* the default key (Microsoft's example): 6d 5a 56 da ... be ac 01 fa, byte 4n in bits 7:0 */
	CHECK(reg(INTEL_RSSRK) == 0xda565a6du && reg(INTEL_RSSRK + 4 * (INTEL_RSSRK_WORDS - 1)) == 0xfa01acbeu);
	for (i = 0; i < INTEL_RSSRK_BYTES; i++) {
		key[i] = (uint8_t)(i * 37 + 11);
		key2[i] = (uint8_t)(i * 13 + 5);
	}
	for (i = 0; i < INTEL_RETA_ENTRIES; i++) {
		reta[i] = (uint16_t)(nq - 1 - (i * 7) % nq);
		reta2[i] = (uint16_t)((i / 16) % nq);
	}
	CHECK(unic_set_rss(dev, key, sizeof key, reta, INTEL_RETA_ENTRIES) == 0);
	CHECK(key_is(key) && reta_is(reta, shift));
	CHECK(unic_set_rss(dev, NULL, 0, reta2, INTEL_RETA_ENTRIES) == 0); /* the key stays */
	CHECK(key_is(key) && reta_is(reta2, shift));
	CHECK(unic_set_rss(dev, key2, sizeof key2, NULL, 0) == 0);         /* the table stays */
	CHECK(key_is(key2) && reta_is(reta2, shift));

	CHECK(unic_set_rss(dev, key, sizeof key - 1, reta, INTEL_RETA_ENTRIES) == -EINVAL);
	CHECK(strstr(dev->err, "RSS key of 39 bytes") && strstr(dev->err, "takes 40") && !strchr(dev->err, '\n'));
	printf("set_rss %s refused: %s\n", drv->name, dev->err);
	CHECK(unic_set_rss(dev, NULL, 0, reta, INTEL_RETA_ENTRIES / 2) == -EINVAL);
	CHECK(strstr(dev->err, "RSS table of 64 entries") && strstr(dev->err, "takes 128"));
	printf("set_rss %s refused: %s\n", drv->name, dev->err);
	reta[77] = nq;
	CHECK(unic_set_rss(dev, key, sizeof key, reta, INTEL_RETA_ENTRIES) == -EINVAL);
	CHECK(strstr(dev->err, "entry 77 names rx queue") && !strchr(dev->err, '\n'));
	printf("set_rss %s refused: %s\n", drv->name, dev->err);
	CHECK(key_is(key2) && reta_is(reta2, shift)); /* nothing written by a refused call */
	close_fake();

	CHECK(open_fake(drv)); /* one queue: no RSS to configure */
	CHECK(unic_info(dev, &info) == 0 && info.rss_key_len == 0 && info.rss_reta_size == 0);
	CHECK(unic_set_rss(dev, key, sizeof key, NULL, 0) == -ENOTSUP && strstr(dev->err, "no receive side scaling"));
	close_fake();
	printf("set_rss %s: %u queues, key and table written as given, refusals leave them\n", drv->name, nq);
}

/* A frame of mtu 9000 in one buffer; what a device may do wrong with long frames, counted. */
static void test_jumbo_rx(const struct unic_driver *drv, uint16_t want_need, uint16_t want_max_mtu)
{
	const uint16_t want_buf = JUMBO_BUF; /* what the buffers hold, a size both chips can express */
	const uint32_t de = INTEL_RXD_STAT_DD | INTEL_RXD_STAT_EOP;
	struct unic_buf *bufs[RING];
	struct intel_rxq *q;
	struct unic_stats st;
	uint16_t n;

	CHECK(open_fake_mtu(drv, 1, MTU_JUMBO));
	CHECK(dev->max_mtu == want_max_mtu && dev->rx_buf_need == want_need);
	q = dev->rxq[0];
	CHECK(q->buf_len == want_buf);
	CHECK(reg(INTEL_RCTL) & INTEL_RCTL_LPE);
	if (drv == &unic_driver_igb) /* frames up to mtu + 18 + CRC; buffers in KB */
		CHECK(reg(IGB_RLPML) == FRAME_JUMBO + INTEL_FCS_LEN &&
		      (reg(IGB_SRRCTL0) & IGB_BSIZEPKT_MASK) == want_buf / 1024);
	else
		CHECK((reg(INTEL_RCTL) & E1000E_RCTL_BSIZE_MASK) == E1000E_RCTL_16K);
	device_rx(q, 0, de, FRAME_JUMBO, 0x71);                    /* a whole jumbo frame */
	device_rx(q, 1, INTEL_RXD_STAT_DD, 4096, 0x72);            /* a frame over three descriptors */
	device_rx(q, 2, INTEL_RXD_STAT_DD, 4096, 0x72);
	device_rx(q, 3, de, 826, 0x72);
	device_rx(q, 4, de, (uint16_t)(want_buf + 1), 0x73);       /* more than the buffer: a lie */
	device_rx(q, 5, INTEL_RXD_STAT_DD, 100, 0x74);             /* a chain whose middle lies */
	device_rx(q, 6, INTEL_RXD_STAT_DD, (uint16_t)(want_buf + 1), 0x74);
	device_rx(q, 7, de, 100, 0x74);
	device_rx(q, 8, de, FRAME_JUMBO - 1, 0x75);
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 2 && fake_data_is(bufs[0], FRAME_JUMBO, 0x71) && fake_data_is(bufs[1], FRAME_JUMBO - 1, 0x75));
	unic_buf_free_bulk(bufs, n);
	CHECK(unic_stats(dev, &st) == 0);
	/* the chains: each dropped once (the lying one is bad_device instead), the lie counted */
	CHECK(st.rx_packets == 2 && st.rx_bytes == 2u * FRAME_JUMBO - 1 && st.rx_dropped == 2 && st.bad_device == 2 &&
	      st.rx_errors == 0);
	CHECK(q->next == 9 && !q->discarding);
	/* A chain cut by the end of a burst is still dropped whole in the next one. */
	device_rx(q, 9, INTEL_RXD_STAT_DD, 4096, 0x76);
	device_rx(q, 10, INTEL_RXD_STAT_DD, 4096, 0x76);
	CHECK(unic_rx_burst(dev, 0, bufs, RING) == 0 && q->discarding);
	device_rx(q, 11, de, 826, 0x76);
	device_rx(q, 12, de, 60, 0x77);
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 1 && fake_data_is(bufs[0], 60, 0x77));
	unic_buf_free_bulk(bufs, n);
	CHECK(unic_stats(dev, &st) == 0 && st.rx_dropped == 3 && st.bad_device == 2 && st.rx_packets == 3);
	close_fake();
	CHECK(unic_mempool_free_count(jumbo_pool) == JUMBO_POOL_SIZE);
	printf("jumbo rx %s: mtu 9000 needs %u-byte buffers, 9018-byte frame whole, chains dropped %llu, lies "
	       "bad_device %llu\n", drv->name, want_need, (unsigned long long)st.rx_dropped,
	       (unsigned long long)st.bad_device);
}

/* tx: one descriptor per frame up to the chip's longest; a longer one taken, dropped, counted. */
static void test_jumbo_tx(const struct unic_driver *drv, uint16_t chip_max)
{
	struct unic_buf *bufs[3];
	struct intel_txq *q;
	struct unic_stats st;

	CHECK(open_fake_mtu(drv, 1, MTU_JUMBO));
	q = dev->txq[0];
	CHECK(unic_buf_alloc_bulk(jumbo_pool, bufs, 3) == 3);
	bufs[0]->len = FRAME_JUMBO;
	bufs[1]->len = chip_max;                 /* the longest the chip sends (CRC not counted) */
	bufs[2]->len = (uint16_t)(chip_max + 1); /* one more */
	CHECK(unic_tx_burst(dev, 0, bufs, 3) == 3);
	CHECK((q->ring[0].cmd_type_len & INTEL_TXD_LEN_MASK) == FRAME_JUMBO &&
	      (q->ring[0].cmd_type_len & INTEL_TXD_CMD_EOP));
	CHECK((q->ring[1].cmd_type_len & INTEL_TXD_LEN_MASK) == chip_max);
	CHECK(reg(intel_txq_reg(intel_priv(dev), 0, INTEL_Q_TAIL)) == 2);
	CHECK(unic_stats(dev, &st) == 0 && st.tx_packets == 2 && st.tx_dropped == 1 &&
	      st.tx_bytes == (uint64_t)FRAME_JUMBO + chip_max);
	close_fake();
	CHECK(unic_mempool_free_count(jumbo_pool) == JUMBO_POOL_SIZE);
	printf("jumbo tx %s: 9018 and %u bytes in one descriptor each, %u taken and dropped (tx_dropped %llu)\n",
	       drv->name, chip_max, chip_max + 1, (unsigned long long)st.tx_dropped);
}

/*
 * The legacy write-back (8254x 3.2.3) at the byte level, as the 82540EM writes it: length in
 * bytes 8-9, status in byte 12, errors in byte 13. Not through device_rx, so that a layout
 * mistake shared by the driver and the fake cannot hide.
 */
static void legacy_wb(struct intel_rxq *q, uint16_t i, uint8_t status, uint8_t errors, uint16_t len)
{
	volatile uint8_t *d = (volatile uint8_t *)&q->ring[i];

	d[8] = (uint8_t)len;
	d[9] = (uint8_t)(len >> 8);
	d[13] = errors;
	unic_wmb();
	d[12] = status;
}

static void test_rx_legacy_errors(void)
{
	struct unic_buf *bufs[RING];
	struct unic_stats st;
	struct intel_rxq *q;
	uint16_t n;

	CHECK(open_fake(&unic_driver_e1000));
	q = dev->rxq[0];
	legacy_wb(q, 0, 0x03, 0x00, 64);      /* DD | EOP */
	legacy_wb(q, 1, 0x03, 0x01, 64);      /* CE: CRC error */
	legacy_wb(q, 2, 0x03, 0x80, 64);      /* RXE */
	legacy_wb(q, 3, 0x03, 0x10, 64);      /* CXE */
	legacy_wb(q, 4, 0x03, 0x60, 70);      /* TCPE | IPE: checksum results, not frame errors */
	legacy_wb(q, 5, 0x01, 0x00, 2048);    /* DD without EOP: the frame spans */
	legacy_wb(q, 6, 0x03, 0x00, 10);      /* its end */
	legacy_wb(q, 7, 0x03, 0x00, 2049);    /* longer than the buffer */
	legacy_wb(q, 9, 0x03, 0x00, 60);      /* after a slot without DD: not reached */
	n = unic_rx_burst(dev, 0, bufs, RING);
	CHECK(n == 2 && bufs[0]->len == 64 && bufs[1]->len == 70);
	unic_buf_free_bulk(bufs, n);
	CHECK(unic_stats(dev, &st) == 0 && st.rx_packets == 2 && st.rx_errors == 3 && st.rx_dropped == 1 &&
	      st.bad_device == 1);
	CHECK(q->next == 8);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("rx e1000 legacy bytes: errors %llu, dropped %llu, bad_device %llu, stops at the first slot without DD\n",
	       (unsigned long long)st.rx_errors, (unsigned long long)st.rx_dropped, (unsigned long long)st.bad_device);
}

/* One queue of each, no RSS: more is refused with one line; reset leaves the PCIe-only GIO master bit alone. */
static void test_e1000_one_queue(void)
{
	struct unic_info info;

	CHECK(open_fake(&unic_driver_e1000));
	CHECK(!(reg(INTEL_CTRL) & (1u << 2))); /* GIO master disable: reserved on the 8254x, never written */
	CHECK(unic_info(dev, &info) == 0 && info.rss_key_len == 0 && info.rss_reta_size == 0);
	close_fake();
	CHECK(!open_fake_queues(&unic_driver_e1000, 2));
	CHECK(strstr(dev->err, "at most 1 rx and 1 tx queues") && !strchr(dev->err, '\n'));
	printf("e1000 refused: %s\n", dev->err);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
}

/* mtu 9000 with a pool whose buffers hold less than the chip needs: start refuses with one line. */
static void test_jumbo_small_pool(const struct unic_driver *drv, const char *want)
{
	memset(regs, 0, sizeof regs);
	set_reg(INTEL_STATUS, STATUS_UP_1000_FD);
	set_reg(EECD, EECD_AUTO_RD);
	set_reg(INTEL_RAL0, FAKE_MAC_LO);
	set_reg(INTEL_RAH0, FAKE_MAC_HI | INTEL_RAH_AV);
	new_dev(drv);
	dev->cfg.mtu = MTU_JUMBO; /* the 2048-byte pool stays */
	fake_run = true;
	pthread_create(&fake_thread, NULL, fake_device, NULL);
	CHECK(drv->probe(dev) == 0);
	CHECK(drv->start(dev) == -EINVAL && strstr(dev->err, want) && !strchr(dev->err, '\n'));
	printf("jumbo %s, 2048-byte pool: %s\n", drv->name, dev->err);
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
}

/* PCI command register (PCI 3.0 6.2.2) in the fake config file: bit 10 masks INTx. */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_COMMAND_SET (0x0006u | PCI_COMMAND_INTX_DISABLE) /* memory, bus master; masked as the kernel leaves it */

static uint16_t config_command(void)
{
	uint16_t cmd = 0;

	CHECK(pread(fake_config_fd, &cmd, sizeof cmd, PCI_COMMAND) == sizeof cmd);
	return cmd;
}

/*
 * Interrupts on the shared INTx line (uio:): arming clears the stale causes (ICR read), sets
 * IMS.RXT0, unmasks INTx in the config space, then looks at the ring again: a frame already
 * written back is reported (1), not slept on. Disarming clears IMS.RXT0. A link change read from
 * ICR while arming is not lost: event_ack reports it; so does STATUS.LU changing alone. A device
 * that reads all-ones cannot be armed.
 */
static void test_intx(const struct unic_driver *drv)
{
	const uint16_t cmd0 = PCI_COMMAND_SET;
	struct intel_rxq *q;
	struct unic_buf *b[4];
	struct unic_link link;
	FILE *f = tmpfile();

	fake_config_fd = f ? fileno(f) : -1;
	snprintf(fake_uio, sizeof fake_uio, "/tmp/unic-uio-%d", (int)getpid());
	CHECK(mkfifo(fake_uio, 0600) == 0);
	CHECK(fake_config_fd >= 0 && pwrite(fake_config_fd, &cmd0, sizeof cmd0, PCI_COMMAND) == sizeof cmd0);
	CHECK(open_fake(drv));
	q = dev->rxq[0];
	CHECK(unic_rx_fd(dev, 0) >= 0);
	CHECK(unic_event_fd(dev) >= 0);
	CHECK(unic_irq_vectors(dev, UNIC_IRQ_INTX) == UNIC_IRQ_MAX);
	setenv("UNIC_IRQ", "msi", 1);                 /* the user limits the core to MSI: no INTx offered */
	CHECK(unic_irq_vectors(dev, UNIC_IRQ_INTX) == 0);
	unsetenv("UNIC_IRQ");
	set_reg(INTEL_ICR, INTEL_ICR_LSC);           /* a link change waits in ICR */
	set_reg(INTEL_IMS, 0);
	CHECK(unic_rx_intr_enable(dev, 0) == 0);      /* empty ring: sleep */
	CHECK(reg(INTEL_IMS) == INTEL_ICR_RXT0);
	CHECK(!(config_command() & PCI_COMMAND_INTX_DISABLE));
	CHECK((config_command() & 0x6) == 0x6);       /* memory and bus master untouched */
	set_reg(INTEL_ICR, 0);                        /* as if the read cleared it */
	CHECK(unic_event_ack(dev) == UNIC_EVENT_LINK);  /* the LSC read while arming */
	CHECK(unic_event_ack(dev) == 0);
	CHECK(unic_rx_intr_disable(dev, 0) == 0);
	CHECK(reg(INTEL_IMC) == INTEL_ICR_RXT0);
	device_rx(q, q->next, INTEL_RXD_STAT_DD | INTEL_RXD_STAT_EOP, 60, 0x5A);
	CHECK(unic_rx_intr_enable(dev, 0) == 1);      /* landed before the arm: receive it, do not sleep */
	CHECK(unic_rx_burst(dev, 0, b, 4) == 1 && fake_data_is(b[0], 60, 0x5A));
	unic_buf_free_bulk(b, 1);
	CHECK(unic_rx_intr_enable(dev, 0) == 0);
	set_reg(INTEL_STATUS, 0);                     /* link down, no LSC in ICR: STATUS tells */
	CHECK(unic_event_ack(dev) == UNIC_EVENT_LINK);
	CHECK(unic_link(dev, &link) == 0 && !link.up);
	if (drv == &unic_driver_igb) {                /* the kernel asks for the device back (unplug) */
		uint64_t one = 1;
		dev->irq.req_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(dev->irq.req_fd >= 0 && write(dev->irq.req_fd, &one, sizeof one) == sizeof one);
		CHECK(unic_event_ack(dev) == UNIC_EVENT_REMOVED);
		CHECK(strstr(unic_last_error(dev), "is being unplugged") != NULL);
		CHECK(unic_rx_intr_enable(dev, 0) == -ENODEV);
		CHECK(unic_rx_wait(dev, 0, 1000) == -ENODEV);
		device_rx(q, q->next, INTEL_RXD_STAT_DD | INTEL_RXD_STAT_EOP, 60, 0x5A);
		CHECK(unic_rx_burst(dev, 0, b, 4) == 0); /* the data path stopped */
		printf("intx %s: unplug request: event REMOVED, '%s', rx stopped\n", drv->name, unic_last_error(dev));
	} else {
		set_reg(INTEL_STATUS, UINT32_MAX);    /* removed */
		CHECK(unic_rx_intr_enable(dev, 0) == -ENODEV);
	}
	close_fake();
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("intx %s: arm clears INTx-disable, re-check returns the frame that landed, LSC kept for "
	       "event_ack, removed refused\n", drv->name);
	fake_config_fd = -1;
	unlink(fake_uio);
	if (f)
		fclose(f);
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* The kernel signals the line: one count on the eventfd it was given. */
static void line_fires(void)
{
	uint64_t one = 1;

	CHECK(write(dev->irq.line_fd, &one, sizeof one) == sizeof one);
}

/*
 * One VFIO line (MSI with one message; INTx alike) shared by the rx queue and the link event: the
 * core gives each its own listener. The test plays the kernel by writing the line's eventfd. An
 * interrupt wakes both; the queue's disarm (which takes the line's count) leaves the link event
 * readable, and event_ack reports the LSC that ICR held; a frame wakes both again, and an
 * event_ack taken first leaves the queue readable and the frame there; a link change the arm's ICR
 * read finds (it came while the line was masked, raising nothing) wakes the link event. Caught: with the old one
 * eventfd for both, the queue's drain hid the link change from the event descriptor.
 */
static void test_line(const struct unic_driver *drv, enum unic_irq_kind kind)
{
	struct intel_rxq *q;
	struct unic_buf *b[4];
	int rx_fd, ev_fd;

	CHECK(open_fake(drv));
	CHECK(unic_rx_intr_enable(dev, 0) == -ENOTSUP); /* no interrupt offered to the fake */
	dev->err[0] = 0;
	CHECK(unic_irq_line_setup(dev, kind, 2) == 0);
	intel_irq_attach(dev);
	q = dev->rxq[0];
	rx_fd = unic_rx_fd(dev, 0);
	ev_fd = unic_event_fd(dev);
	CHECK(rx_fd >= 0 && ev_fd >= 0 && rx_fd != ev_fd);
	CHECK(unic_rx_intr_enable(dev, 0) == 0);
	CHECK(reg(INTEL_IMS) == INTEL_ICR_RXT0 && !readable(rx_fd) && !readable(ev_fd));
	set_reg(INTEL_STATUS, 0);                     /* link down: LSC */
	set_reg(INTEL_ICR, INTEL_ICR_LSC);
	line_fires();
	CHECK(readable(rx_fd) && readable(ev_fd));
	CHECK(unic_rx_intr_disable(dev, 0) == 0);     /* the queue takes the line's count ... */
	CHECK(!readable(rx_fd));
	CHECK(readable(ev_fd));                       /* ... and the link event still sees it */
	CHECK(unic_event_ack(dev) == UNIC_EVENT_LINK);
	CHECK(!readable(ev_fd));
	set_reg(INTEL_ICR, 0);                        /* as if the read cleared it */
	CHECK(unic_rx_intr_enable(dev, 0) == 0);
	device_rx(q, q->next, INTEL_RXD_STAT_DD | INTEL_RXD_STAT_EOP, 60, 0x3C);
	set_reg(INTEL_ICR, INTEL_ICR_RXT0);
	line_fires();
	CHECK(unic_event_ack(dev) == 0);              /* the event side first: nothing for it ... */
	CHECK(readable(rx_fd));                       /* ... and the queue is still woken */
	CHECK(unic_rx_intr_disable(dev, 0) == 0 && !readable(rx_fd));
	CHECK(unic_rx_burst(dev, 0, b, 4) == 1 && fake_data_is(b[0], 60, 0x3C));
	unic_buf_free_bulk(b, 1);
	CHECK(unic_rx_intr_enable(dev, 0) == 0 && !readable(rx_fd) && !readable(ev_fd));
	CHECK(unic_rx_intr_disable(dev, 0) == 0);
	set_reg(INTEL_STATUS, STATUS_UP_1000_FD);     /* link up while the line was masked: no interrupt */
	set_reg(INTEL_ICR, INTEL_ICR_LSC);
	CHECK(unic_rx_intr_enable(dev, 0) == 0);      /* the arm's ICR read takes the LSC ... */
	CHECK(readable(ev_fd) && !readable(rx_fd));   /* ... and wakes the link event for it */
	set_reg(INTEL_ICR, 0);
	CHECK(unic_event_ack(dev) == UNIC_EVENT_LINK && !readable(ev_fd));
	close_fake();
	CHECK(dev->irq.line_fd == -1 && dev->irq.fds[0] == -1 && dev->irq.wake_fds[1] == -1);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE);
	printf("line %s (%s): one interrupt wakes the queue and the link event; each one's taking leaves the "
	       "other's wake-up\n", drv->name, kind == UNIC_IRQ_MSI ? "MSI" : "INTx");
}

int main(void)
{
	struct unic_dev scratch;

	fake_scratch(&scratch);
	pool = unic_mempool_make(&scratch, POOL_SIZE, 2048);
	jumbo_pool = unic_mempool_make(&scratch, JUMBO_POOL_SIZE, JUMBO_BUF);
	dev = calloc(1, sizeof *dev);
	CHECK(pool != NULL && jumbo_pool != NULL && dev != NULL);
	if (!pool || !jumbo_pool || !dev) {
		printf("setup: %s\n", scratch.err);
		return check_summary("intel_hostile");
	}
	test_rx(&unic_driver_igb);
	test_rx(&unic_driver_e1000e);
	test_rx(&unic_driver_e1000);
	test_rx_legacy_errors();
	test_tx(&unic_driver_igb, INTEL_TXD_CMD_EOP | INTEL_TXD_CMD_IFCS | INTEL_TXD_CMD_DEXT |
				  3u << INTEL_TXD_DTYP_SHIFT, 14);
	test_tx(&unic_driver_e1000e, INTEL_TXD_CMD_EOP | INTEL_TXD_CMD_IFCS, 0);
	test_tx(&unic_driver_e1000, INTEL_TXD_CMD_EOP | INTEL_TXD_CMD_IFCS, 0);
	test_removed(&unic_driver_igb);
	test_removed(&unic_driver_e1000e);
	test_removed(&unic_driver_e1000);
	test_hw_drops(&unic_driver_igb, 3 + 5 + 7);
	test_hw_drops(&unic_driver_e1000e, 3);
	test_e1000_one_queue();
	test_rss(&unic_driver_igb, 8, 0);
	test_rss(&unic_driver_igb, 4, 0);
	test_rss(&unic_driver_e1000e, 2, 7);
	test_jumbo_rx(&unic_driver_igb, 9216, 9728 - 22);
	test_jumbo_rx(&unic_driver_e1000e, 16384, 9234 - 22);
	test_jumbo_rx(&unic_driver_e1000, 16384, 16128 - 22);
	test_jumbo_tx(&unic_driver_igb, 9728 - 4);
	test_jumbo_tx(&unic_driver_e1000e, 9234 - 4);
	test_jumbo_tx(&unic_driver_e1000, 16128 - 4);
	test_intx(&unic_driver_igb);
	test_intx(&unic_driver_e1000e);
	test_intx(&unic_driver_e1000);
	test_line(&unic_driver_e1000e, UNIC_IRQ_MSI);
	test_line(&unic_driver_e1000, UNIC_IRQ_MSI);
	test_jumbo_small_pool(&unic_driver_igb, "mtu 9000 needs receive buffers of 9216 bytes, the pool's hold 2048");
	test_jumbo_small_pool(&unic_driver_e1000e, "mtu 9000 needs receive buffers of 16384 bytes, the pool's hold 2048");
	test_jumbo_small_pool(&unic_driver_e1000, "mtu 9000 needs receive buffers of 16384 bytes, the pool's hold 2048");
	free(dev);
	unic_mempool_destroy(jumbo_pool);
	unic_mempool_destroy(pool);
	return check_summary("intel_hostile");
}
