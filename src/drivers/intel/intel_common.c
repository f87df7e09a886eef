/*
 * intel_common.c - the parts of the 82576 (igb) and 82574L (e1000e) drivers
 * that are the same hardware: reset, MAC address, PHY access through MDIC,
 * link, descriptor rings and the data path, RSS tables, and the clear-on-read
 * statistics. Chip differences come in through struct intel_chip.
 *
 * Nothing the device writes is trusted: every receive write-back is checked
 * (DD, EOP, error bits, length within the posted buffer) before a buffer is
 * handed out, and a register that reads all-ones means the device is gone
 * (surprise removal): calls then fail instead of waiting on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "intel_common.h"

#define RESET_SETTLE_US 1000u     /* wait before polling CTRL.RST (82576 4.5.3: at least 1 ms) */
#define RESET_TIMEOUT_MS 100u
#define MASTER_DISABLE_TIMEOUT_MS 80u
#define AUTO_READ_TIMEOUT_MS 10u
#define NVM_RELOAD_8254X_US 5000u
#define MDIC_TIMEOUT_MS 10u
#define POLL_STEP_US 100u
#define CTRL_GIO_MASTER_DISABLE (1u << 2)   /* CTRL: stop new DMA before a reset (82576 8.2.1) */
#define STATUS_GIO_MASTER_ENABLE (1u << 19) /* STATUS: DMA requests still pending */
#define EECD 0x00010
#define EECD_AUTO_RD (1u << 9)             /* NVM auto-read done (82576 8.2.5, 82574 10.2.2.3) */
#define IMC_ALL 0xFFFFFFFFu
_Static_assert(INTEL_RSSRK_BYTES == UNIC_RSS_KEY_LEN, "the default key fills RSSRK");

/* ---------------------------------------------------------------- control path */

bool intel_check_removed(struct unic_dev *dev, uint32_t value)
{
	if (unic_likely(value != UINT32_MAX))
		return false;
	if (!dev->removed)
		UNIC_WARN("%s: registers read all-ones: device removed", dev->spec.pci_addr);
	dev->removed = true;
	return true;
}

static int removed_error(struct unic_dev *dev)
{
	return unic_dev_error(dev, ENODEV, "%s: %s reads all-ones: the device was removed or lost power; "
			      "close it and check 'lspci -s %s'", dev->spec.pci_addr, dev->drv->name, dev->spec.pci_addr);
}

int intel_attach(struct unic_dev *dev, const struct intel_chip *chip)
{
	struct unic_bar *bar = &dev->bars[INTEL_BAR];
	struct intel_priv *p;

	if (!bar->addr || bar->size < INTEL_BAR_MIN_SIZE)
		return unic_dev_error(dev, ENODEV, "%s: BAR0 (registers) is not mapped or smaller than %u bytes",
				      chip->name, INTEL_BAR_MIN_SIZE);
	p = calloc(1, sizeof *p);
	if (!p)
		return unic_dev_error(dev, ENOMEM, "%s: out of memory", chip->name);
	p->chip = chip;
	p->regs = bar->addr;
	dev->priv = p;
	if (intel_check_removed(dev, intel_rd(p, INTEL_STATUS)))
		return removed_error(dev);
	return 0;
}

/* The longest frame cfg.mtu lets in, without CRC: what one receive buffer must hold. */
uint32_t intel_rx_frame_max(const struct unic_dev *dev)
{
	return (uint32_t)dev->cfg.mtu + INTEL_FRAME_OVERHEAD;
}

/*
 * Jumbo frames asked for (mtu above 1500) must land whole in the buffer size the chip was given:
 * a pool made elsewhere (cfg.pool) may be too small for it, or in between two sizes the chip can
 * express. Up to mtu 1500 small buffers stay allowed (longer frames are dropped and counted).
 */
int intel_check_rx_buf(struct unic_dev *dev, uint16_t buf_len)
{
	const struct intel_chip *c = intel_priv(dev)->chip;

	if (dev->cfg.mtu <= INTEL_STD_MTU || buf_len >= intel_rx_frame_max(dev))
		return 0;
	return unic_dev_error(dev, EINVAL, "%s: mtu %u needs receive buffers of %u bytes, the pool's hold %u: use a "
			      "pool of such buffers, or a lower mtu", c->name, dev->cfg.mtu,
			      c->rx_buf_need(intel_rx_frame_max(dev)), intel_rx_capacity(dev));
}

/*
 * Identification: take the registers, reset the device, read its MAC address. Also what the
 * core asks of a driver before it sizes the pool: the largest mtu (the chip's longest frame
 * less header, tag and CRC) and the buffer size in which a frame of cfg.mtu lands whole.
 */
int intel_probe(struct unic_dev *dev, const struct intel_chip *chip)
{
	int r = intel_attach(dev, chip);

	if (!r)
		r = intel_reset(dev);
	if (!r)
		r = intel_read_mac(dev);
	dev->max_mtu = (uint16_t)(chip->max_frame - INTEL_FRAME_OVERHEAD - INTEL_FCS_LEN);
	dev->rx_buf_need = chip->rx_buf_need(intel_rx_frame_max(dev));
	return r;
}

/* Bytes a pool buffer offers a frame behind the headroom; the chip rounds it down to a size it can express. */
uint16_t intel_rx_capacity(const struct unic_dev *dev)
{
	uint32_t room = dev->pool ? dev->pool->room_size : 0;

	return room > UNIC_HEADROOM ? (uint16_t)(room - UNIC_HEADROOM) : 0;
}

/* Polls reg until (value & mask) == want; bounded by timeout_ms. */
int intel_wait_reg(struct unic_dev *dev, uint32_t reg, uint32_t mask, uint32_t want, unsigned timeout_ms)
{
	struct intel_priv *p = intel_priv(dev);
	unsigned i, steps = timeout_ms * 1000u / POLL_STEP_US;

	for (i = 0; i <= steps; i++) {
		uint32_t v = intel_rd(p, reg);
		if (intel_check_removed(dev, v))
			return removed_error(dev);
		if ((v & mask) == want)
			return 0;
		unic_usleep(POLL_STEP_US);
	}
	return -ETIMEDOUT;
}

static void mask_interrupts(struct intel_priv *p)
{
	intel_wr(p, INTEL_IMC, IMC_ALL);
	if (p->chip->eimc)
		intel_wr(p, p->chip->eimc, IMC_ALL);
	(void)intel_rd(p, INTEL_ICR); /* clears pending causes */
}

/*
 * Global reset (82576 4.5.3 / 4.6.1, 82574 4.6.1): mask interrupts, stop the
 * receive and transmit units, block new DMA (GIO master disable), set CTRL.RST,
 * wait for it to clear, mask interrupts again (the reset re-enables nothing,
 * but a late cause may have been latched). Every wait is bounded.
 */
int intel_reset(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	int r;

	mask_interrupts(p);
	intel_wr(p, INTEL_RCTL, 0);
	intel_wr(p, INTEL_TCTL, INTEL_TCTL_PSP);
	if (!p->chip->conventional_pci) {
		intel_wr(p, INTEL_CTRL, intel_rd(p, INTEL_CTRL) | CTRL_GIO_MASTER_DISABLE);
		r = intel_wait_reg(dev, INTEL_STATUS, STATUS_GIO_MASTER_ENABLE, 0, MASTER_DISABLE_TIMEOUT_MS);
		if (r == -ENODEV)
			return r;
		if (r)
			UNIC_DEBUG("%s: DMA requests still pending before reset; resetting anyway", dev->spec.pci_addr);
	}
	intel_wr(p, INTEL_CTRL, intel_rd(p, INTEL_CTRL) | INTEL_CTRL_RST);
	unic_usleep(RESET_SETTLE_US);
	r = intel_wait_reg(dev, INTEL_CTRL, INTEL_CTRL_RST, 0, RESET_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		return unic_dev_error(dev, ETIMEDOUT, "%s: reset did not complete within %u ms (CTRL.RST stays set); "
				      "the device may be wedged: try a PCI reset (echo 1 > /sys/bus/pci/devices/%s/reset)",
				      dev->spec.pci_addr, RESET_TIMEOUT_MS, dev->spec.pci_addr);
	if (r)
		return r;
	/*
	 * The NVM reload after reset restores RAL0/RAH0; some parts without NVM never flag it (not an
	 * error). The 8254x has no such flag (EECD bit 9 is EE_SIZE there, 8254x 13.4.3): it gets the
	 * fixed time Linux e1000 gives the 82540 (e1000_get_auto_rd_done).
	 */
	if (p->chip->conventional_pci)
		unic_usleep(NVM_RELOAD_8254X_US);
	else if (intel_wait_reg(dev, EECD, EECD_AUTO_RD, EECD_AUTO_RD, AUTO_READ_TIMEOUT_MS) == -ENODEV)
		return -ENODEV;
	mask_interrupts(p);
	return 0;
}

/* MAC address from receive address entry 0, loaded from the NVM at reset (82576 8.10.13/14). */
int intel_read_mac(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t lo = intel_rd(p, INTEL_RAL0), hi = intel_rd(p, INTEL_RAH0);
	int i;

	if (intel_check_removed(dev, hi))
		return removed_error(dev);
	if (!(hi & INTEL_RAH_AV))
		return unic_dev_error(dev, ENODEV, "%s: receive address 0 is not valid (RAH0.AV clear): the NVM "
				      "holds no MAC address", dev->spec.pci_addr);
	for (i = 0; i < 4; i++)
		dev->mac[i] = (uint8_t)(lo >> (8 * i));
	dev->mac[4] = (uint8_t)hi;
	dev->mac[5] = (uint8_t)(hi >> 8);
	return 0;
}

static int mdic(struct unic_dev *dev, uint32_t cmd, uint16_t *val)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t v;
	int r;

	intel_wr(p, INTEL_MDIC, cmd);
	r = intel_wait_reg(dev, INTEL_MDIC, INTEL_MDIC_READY, INTEL_MDIC_READY, MDIC_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		return unic_dev_error(dev, EIO, "%s: PHY access timed out (MDIC.R never set)", dev->spec.pci_addr);
	if (r)
		return r;
	v = intel_rd(p, INTEL_MDIC);
	if (v & INTEL_MDIC_ERROR)
		return unic_dev_error(dev, EIO, "%s: PHY register %u access failed (MDIC.E)", dev->spec.pci_addr,
				      (cmd >> INTEL_MDIC_REG_SHIFT) & INTEL_MDIC_REG_MASK);
	if (val)
		*val = (uint16_t)(v & INTEL_MDIC_DATA_MASK);
	return 0;
}

int intel_phy_read(struct unic_dev *dev, uint32_t reg, uint16_t *val)
{
	return mdic(dev, INTEL_MDIC_OP_READ | reg << INTEL_MDIC_REG_SHIFT | INTEL_PHY_ADDR << INTEL_MDIC_PHY_SHIFT, val);
}

int intel_phy_write(struct unic_dev *dev, uint32_t reg, uint16_t val)
{
	return mdic(dev, INTEL_MDIC_OP_WRITE | reg << INTEL_MDIC_REG_SHIFT | INTEL_PHY_ADDR << INTEL_MDIC_PHY_SHIFT | val,
		    NULL);
}

/*
 * Copper link setup as Linux and DPDK do it (82576 3.5.4 / 4.5.7, 82574 4.6.7):
 * CTRL.SLU with speed and duplex from auto-negotiation (FRCSPD/FRCDPX clear);
 * if the link is not up yet, enable and restart auto-negotiation in the PHY
 * and wait for STATUS.LU, bounded. A link that stays down (no cable) is not an
 * error: the device is usable and unic_link() reports it.
 */
int intel_link_setup(struct unic_dev *dev, unsigned timeout_ms)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t ctrl = intel_rd(p, INTEL_CTRL);
	uint16_t bmcr;
	int r;

	if (intel_check_removed(dev, ctrl))
		return removed_error(dev);
	ctrl |= INTEL_CTRL_SLU;
	ctrl &= ~(INTEL_CTRL_FRCSPD | INTEL_CTRL_FRCDPX);
	intel_wr(p, INTEL_CTRL, ctrl);
	if (intel_rd(p, INTEL_STATUS) & INTEL_STATUS_LU)
		return 0;
	r = intel_phy_read(dev, PHY_BMCR, &bmcr);
	if (!r)
		r = intel_phy_write(dev, PHY_BMCR, bmcr | PHY_BMCR_ANENABLE | PHY_BMCR_ANRESTART);
	if (r)
		return r;
	r = intel_wait_reg(dev, INTEL_STATUS, INTEL_STATUS_LU, INTEL_STATUS_LU, timeout_ms);
	if (r == -ETIMEDOUT) {
		UNIC_WARN("%s: link still down %u ms after auto-negotiation restart (cable?)", dev->spec.pci_addr,
			  timeout_ms);
		return 0;
	}
	return r;
}

/* Ring sizes and queue counts this driver and chip can take. */
int intel_check_config(struct unic_dev *dev)
{
	const struct intel_chip *c = intel_priv(dev)->chip;
	const struct unic_config *cfg = &dev->cfg;

	if (cfg->rx_queues > c->max_rx_queues || cfg->tx_queues > c->max_tx_queues)
		return unic_dev_error(dev, EINVAL, "%s supports at most %u rx and %u tx queues (asked %u and %u)",
				      c->name, c->max_rx_queues, c->max_tx_queues, cfg->rx_queues, cfg->tx_queues);
	if (cfg->rx_ring_size < INTEL_RING_MIN || cfg->rx_ring_size > INTEL_RING_MAX || cfg->rx_ring_size % INTEL_RING_MULTIPLE ||
	    cfg->tx_ring_size < INTEL_RING_MIN || cfg->tx_ring_size > INTEL_RING_MAX || cfg->tx_ring_size % INTEL_RING_MULTIPLE)
		return unic_dev_error(dev, EINVAL, "%s ring sizes must be multiples of %u from %u to %u "
				      "(the ring length register counts 128-byte units); asked rx %u, tx %u",
				      c->name, INTEL_RING_MULTIPLE, INTEL_RING_MIN, INTEL_RING_MAX, cfg->rx_ring_size, cfg->tx_ring_size);
	return 0;
}

static void program_ring(struct intel_priv *p, uint32_t block, uint64_t iova, uint16_t size)
{
	intel_wr(p, block + INTEL_Q_BAL, (uint32_t)iova);
	intel_wr(p, block + INTEL_Q_BAH, (uint32_t)(iova >> 32));
	intel_wr(p, block + INTEL_Q_LEN, (uint32_t)size * INTEL_DESC_SIZE);
	intel_wr(p, block + INTEL_Q_HEAD, 0);
	intel_wr(p, block + INTEL_Q_TAIL, 0);
}

static inline void rx_post(struct intel_rxq *q, uint16_t i, struct unic_buf *b)
{
	q->bufs[i] = b;
	q->ring[i].read.pkt_addr = unic_buf_dma(b);
	q->ring[i].read.hdr_addr = 0; /* also clears DD: the status word overlays it */
}

static int rxq_init(struct unic_dev *dev, uint16_t id, uint8_t *virt, uint64_t iova, uint16_t buf_len)
{
	struct intel_priv *p = intel_priv(dev);
	struct intel_rxq *q = &p->rxq[id];
	uint16_t i;

	q->dev = dev;
	q->id = id;
	q->size = dev->cfg.rx_ring_size;
	q->buf_len = buf_len;
	q->ring = (volatile union intel_rx_desc *)virt;
	q->ring_iova = iova;
	q->tail_reg = p->regs + intel_rxq_reg(p, id, INTEL_Q_TAIL);
	q->bufs = calloc(q->size, sizeof *q->bufs);
	if (!q->bufs)
		return unic_dev_error(dev, ENOMEM, "%s: out of memory", p->chip->name);
	if (unic_buf_alloc_bulk(dev->pool, q->bufs, q->size) != q->size)
		return unic_dev_error(dev, ENOMEM, "%s: the mempool has too few free buffers for a %u-entry rx ring "
				      "(raise pool_size)", p->chip->name, q->size);
	for (i = 0; i < q->size; i++)
		rx_post(q, i, q->bufs[i]);
	program_ring(p, intel_rxq_reg(p, id, 0), iova, q->size);
	dev->rxq[id] = q;
	dev->rxq_stats[id] = &q->stats;
	return 0;
}

static int txq_init(struct unic_dev *dev, uint16_t id, uint8_t *virt, uint64_t iova)
{
	struct intel_priv *p = intel_priv(dev);
	struct intel_txq *q = &p->txq[id];

	q->dev = dev;
	q->id = id;
	q->size = dev->cfg.tx_ring_size;
	q->ring = (volatile struct intel_tx_desc *)virt;
	q->ring_iova = iova;
	q->tail_reg = p->regs + intel_txq_reg(p, id, INTEL_Q_TAIL);
	q->cmd = p->chip->tx_dtyp << INTEL_TXD_DTYP_SHIFT | (p->chip->tx_dtyp ? INTEL_TXD_CMD_DEXT : 0) |
		 INTEL_TXD_CMD_IFCS | INTEL_TXD_CMD_EOP;
	q->paylen_shift = p->chip->tx_paylen_shift;
	q->max_len = (uint16_t)(p->chip->max_frame - INTEL_FCS_LEN);
	q->bufs = calloc(q->size, sizeof *q->bufs);
	q->rs = calloc(q->size, sizeof *q->rs);
	if (!q->bufs || !q->rs)
		return unic_dev_error(dev, ENOMEM, "%s: out of memory", p->chip->name);
	program_ring(p, intel_txq_reg(p, id, 0), iova, q->size);
	dev->txq[id] = q;
	dev->txq_stats[id] = &q->stats;
	return 0;
}

/*
 * All rings of the device share one DMA region (at most 2 x 16 x 4096 x 16 B
 * = 2 MiB, one hugepage); each ring starts on a 128-byte boundary because its
 * size is a multiple of 8 descriptors. Receive rings are filled with buffers;
 * their tails are written by intel_rx_arm() once the chip enabled the queues.
 */
int intel_queues_alloc(struct unic_dev *dev, uint16_t buf_len)
{
	struct intel_priv *p = intel_priv(dev);
	size_t rx_bytes = (size_t)dev->cfg.rx_ring_size * sizeof(union intel_rx_desc);
	size_t tx_bytes = (size_t)dev->cfg.tx_ring_size * sizeof(struct intel_tx_desc);
	size_t off = 0;
	uint16_t i;
	int r;

	r = unic_dma_alloc(dev, rx_bytes * dev->cfg.rx_queues + tx_bytes * dev->cfg.tx_queues, &p->rings);
	if (r)
		return r;
	for (i = 0; i < dev->cfg.rx_queues; i++, off += rx_bytes) {
		if ((r = rxq_init(dev, i, (uint8_t *)p->rings.virt + off, p->rings.iova + off, buf_len)))
			return r;
		p->nrx = (uint16_t)(i + 1);
	}
	for (i = 0; i < dev->cfg.tx_queues; i++, off += tx_bytes) {
		if ((r = txq_init(dev, i, (uint8_t *)p->rings.virt + off, p->rings.iova + off)))
			return r;
		p->ntx = (uint16_t)(i + 1);
	}
	dev->num_rxq = p->nrx;
	dev->num_txq = p->ntx;
	dev->rx_ring_size = dev->cfg.rx_ring_size;
	dev->tx_ring_size = dev->cfg.tx_ring_size;
	return 0;
}

/* Hands every posted receive buffer to the device: tail = last descriptor (one stays back, 82576 7.1.4.1). */
void intel_rx_arm(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint16_t i;

	unic_wmb();
	for (i = 0; i < p->nrx; i++)
		unic_write32(p->rxq[i].tail_reg, 0, (uint32_t)(p->rxq[i].size - 1));
}

static void free_bufs(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (bufs[i])
			unic_buf_free(bufs[i]);
}

void intel_queues_free(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint16_t i, k;

	for (i = 0; i < UNIC_MAX_QUEUES; i++) {
		struct intel_rxq *rq = &p->rxq[i];
		struct intel_txq *tq = &p->txq[i];

		if (rq->bufs)
			free_bufs(rq->bufs, rq->size);
		unic_buf_free_bulk(rq->spare, rq->nspare);
		free(rq->bufs);
		for (k = 0; tq->bufs && k < tq->inflight; k++)
			unic_buf_free(tq->bufs[(tq->clean + k) % tq->size]);
		free(tq->bufs);
		free(tq->rs);
		memset(rq, 0, sizeof *rq);
		memset(tq, 0, sizeof *tq);
		dev->rxq[i] = dev->txq[i] = NULL;
		dev->rxq_stats[i] = dev->txq_stats[i] = NULL;
	}
	if (p->rings.virt)
		unic_dma_free(&p->rings);
	memset(&p->rings, 0, sizeof p->rings);
	p->nrx = p->ntx = 0;
	dev->num_rxq = dev->num_txq = 0;
}

/* RSSRK: byte 4n of the key in bits 7:0 of word n (82576 8.10.25, 82574 10.2.5.19). */
static void rss_write_key(struct intel_priv *p)
{
	uint32_t w;

	for (w = 0; w < INTEL_RSSRK_WORDS; w++)
		intel_wr(p, INTEL_RSSRK + 4 * w, (uint32_t)p->rss_key[4 * w] | (uint32_t)p->rss_key[4 * w + 1] << 8 |
			 (uint32_t)p->rss_key[4 * w + 2] << 16 | (uint32_t)p->rss_key[4 * w + 3] << 24);
}

/* RETA: entry 4n+k in byte k of word n, the queue at the chip's bit position (82576 8.10.23, 82574 10.2.5.18). */
static void rss_write_reta(struct intel_priv *p)
{
	uint32_t w, e;

	for (w = 0; w < INTEL_RETA_WORDS; w++) {
		uint32_t word = 0;
		for (e = 0; e < INTEL_RETA_ENTRIES_PER_WORD; e++)
			word |= (uint32_t)(p->reta[w * INTEL_RETA_ENTRIES_PER_WORD + e] << p->chip->reta_shift) << (8 * e);
		intel_wr(p, INTEL_RETA + 4 * w, word);
	}
}

/*
 * RSS (82576 7.1.2.8, 82574 7.1.12): the default key, a redirection table spreading the 128
 * entries over the queues in turn, the hash inputs, and RXCSUM.PCSD so that the hash lands in
 * the write-back (and the chip takes it). With one queue RSS stays off (no key, no table).
 */
int intel_rss_setup(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	const struct intel_chip *c = p->chip;
	uint32_t i;

	intel_wr(p, INTEL_RXCSUM, INTEL_RXCSUM_PCSD);
	if (p->nrx <= 1) {
		intel_wr(p, INTEL_MRQC, 0);
		dev->rss_key_len = dev->rss_reta_size = 0;
		return 0;
	}
	memcpy(p->rss_key, unic_rss_default_key, sizeof p->rss_key); /* Microsoft's key (core rss.c) */
	for (i = 0; i < INTEL_RETA_ENTRIES; i++)
		p->reta[i] = (uint8_t)(i % p->nrx);
	rss_write_key(p);
	rss_write_reta(p);
	intel_wr(p, INTEL_MRQC, c->mrqc_rss | c->mrqc_fields);
	for (i = 0; i < p->nrx; i++)
		p->rxq[i].rss = true;
	dev->rss_key_len = INTEL_RSSRK_BYTES;
	dev->rss_reta_size = INTEL_RETA_ENTRIES;
	return 0;
}

/* unic_set_rss (the core checked the lengths and queue numbers): the chip takes both while it runs. */
int intel_set_rss(struct unic_dev *dev, const uint8_t *key, const uint16_t *reta)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t i;

	if (dev->removed || intel_check_removed(dev, intel_rd(p, INTEL_STATUS)))
		return removed_error(dev);
	if (key) {
		memcpy(p->rss_key, key, sizeof p->rss_key);
		rss_write_key(p);
	}
	if (reta) {
		for (i = 0; i < INTEL_RETA_ENTRIES; i++)
			p->reta[i] = (uint8_t)reta[i];
		rss_write_reta(p);
	}
	return 0;
}

/* No multicast hash filter entries: only our unicast address and broadcast pass (or promiscuous). */
void intel_clear_filters(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t i;

	for (i = 0; i < INTEL_MTA_WORDS; i++)
		intel_wr(p, INTEL_MTA + 4 * i, 0);
}

/*
 * Long frames: a chip with RLPML (82576) always has LPE on and RLPML bounding frames to cfg.mtu
 * (CRC included, 82576 8.10.1 and 8.10.x RLPML); one without (82574) needs LPE for frames above
 * the standard 1522 bytes and then takes up to its own maximum: a frame longer than the buffer
 * is then written over several descriptors and dropped whole (rx_frame_ok).
 */
uint32_t intel_rctl_base(const struct unic_dev *dev)
{
	const struct intel_chip *c = ((const struct intel_priv *)dev->priv)->chip;
	uint32_t rctl = INTEL_RCTL_BAM | INTEL_RCTL_SECRC;

	if (c->rlpml || intel_rx_frame_max(dev) + INTEL_FCS_LEN > INTEL_STD_FRAME)
		rctl |= INTEL_RCTL_LPE;
	if (dev->cfg.promisc)
		rctl |= INTEL_RCTL_UPE | INTEL_RCTL_MPE;
	return rctl;
}

/* RCTL.BSIZE/BSEX encodings, largest first (8254x 13.4.22, 82574 10.2.5.1). */
static const struct {
	uint16_t bytes;
	uint32_t rctl;
} rctl_buf_sizes[] = {
	{ 16384, 1u << INTEL_RCTL_BSIZE_SHIFT | INTEL_RCTL_BSEX },
	{ 8192, 2u << INTEL_RCTL_BSIZE_SHIFT | INTEL_RCTL_BSEX },
	{ 4096, 3u << INTEL_RCTL_BSIZE_SHIFT | INTEL_RCTL_BSEX },
	{ 2048, 0u },
	{ 1024, 1u << INTEL_RCTL_BSIZE_SHIFT },
	{ 512, 2u << INTEL_RCTL_BSIZE_SHIFT },
	{ 256, 3u << INTEL_RCTL_BSIZE_SHIFT },
};

/* The smallest RCTL buffer size that holds frame (the largest when none does: start refuses). */
uint16_t intel_rctl_buf_need(uint32_t frame)
{
	size_t i = UNIC_ARRAY_SIZE(rctl_buf_sizes);

	while (i-- > 0)
		if (rctl_buf_sizes[i].bytes >= frame)
			return rctl_buf_sizes[i].bytes;
	return rctl_buf_sizes[0].bytes;
}

/* The largest RCTL buffer size within cap bytes and its RCTL bits; 0 when even the smallest is too big. */
uint16_t intel_rctl_buf_pick(uint16_t cap, uint32_t *rctl_bits)
{
	size_t i;

	for (i = 0; i < UNIC_ARRAY_SIZE(rctl_buf_sizes); i++)
		if (rctl_buf_sizes[i].bytes <= cap) {
			*rctl_bits = rctl_buf_sizes[i].rctl;
			return rctl_buf_sizes[i].bytes;
		}
	return 0;
}

uint32_t intel_tctl_value(void)
{
	return INTEL_TCTL_EN | INTEL_TCTL_PSP | INTEL_TCTL_RTLC | INTEL_TCTL_CT_DEFAULT << INTEL_TCTL_CT_SHIFT |
	       INTEL_TCTL_COLD_FD << INTEL_TCTL_COLD_SHIFT;
}

void intel_describe(struct unic_dev *dev, const char *desc_kind)
{
	struct intel_priv *p = intel_priv(dev);

	snprintf(dev->features, sizeof dev->features, "%s; %s descriptors; %u rx / %u tx queues%s; %u-byte rx buffers; "
		 "mtu %u", p->chip->name, desc_kind, p->nrx, p->ntx, p->nrx > 1 ? " (RSS)" : "",
		 p->nrx ? p->rxq[0].buf_len : 0, dev->cfg.mtu);
}

/* Reset on close: the device stops all DMA before its rings and buffers are freed. */
void intel_close(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);

	if (!p)
		return;
	if (!dev->removed) {
		intel_wr(p, INTEL_CTRL_EXT, intel_rd(p, INTEL_CTRL_EXT) & ~INTEL_CTRL_EXT_DRV_LOAD);
		if (intel_reset(dev))
			UNIC_WARN("%s: reset on close failed: %s", dev->spec.pci_addr, dev->err);
	}
	intel_queues_free(dev);
	free(p);
	dev->priv = NULL;
}

/* ---------------------------------------------------------------- statistics and link */

/* Folds the clear-on-read counters into 64-bit totals. Low word first: reading the high one clears both. */
void intel_stats_fold(struct intel_priv *p)
{
	struct intel_hw_stats *h = &p->hw;
	uint32_t lo;
	uint16_t q;

	h->gprc += intel_rd(p, INTEL_GPRC);
	h->gptc += intel_rd(p, INTEL_GPTC);
	lo = intel_rd(p, INTEL_GORCL);
	h->gorc += (uint64_t)intel_rd(p, INTEL_GORCH) << 32 | lo;
	lo = intel_rd(p, INTEL_GOTCL);
	h->gotc += (uint64_t)intel_rd(p, INTEL_GOTCH) << 32 | lo;
	h->mpc += intel_rd(p, INTEL_MPC);
	h->rnbc += intel_rd(p, INTEL_RNBC);
	h->crcerrs += intel_rd(p, INTEL_CRCERRS);
	/* Read (and so clear) the totals too: some models derive the good-packet counters from them. */
	h->tpr += intel_rd(p, INTEL_TPR);
	h->tpt += intel_rd(p, INTEL_TPT);
	if (p->chip->rxq_drops)
		for (q = 0; q < p->nrx; q++)
			h->rxq_drops += intel_rd(p, intel_rxq_reg(p, q, p->chip->rxq_drops));
}

int intel_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct intel_priv *p = intel_priv(dev);

	if (dev->removed || intel_check_removed(dev, intel_rd(p, INTEL_STATUS)))
		return removed_error(dev);
	intel_stats_fold(p);
	st->hw_rx_packets = p->hw.gprc;
	st->hw_tx_packets = p->hw.gptc;
	/* Frames the device dropped: missed for lack of FIFO room, or dropped by a full queue. */
	st->hw_rx_missed = p->hw.mpc + p->hw.rxq_drops;
	st->hw_rx_no_buf = p->hw.rnbc;
	return 0;
}

int intel_link(struct unic_dev *dev, struct unic_link *link)
{
	uint32_t status = intel_rd(intel_priv(dev), INTEL_STATUS);
	uint32_t speed = (status & INTEL_STATUS_SPEED_MASK) >> INTEL_STATUS_SPEED_SHIFT;

	if (dev->removed || intel_check_removed(dev, status))
		return removed_error(dev);
	link->up = status & INTEL_STATUS_LU;
	link->full_duplex = status & INTEL_STATUS_FD;
	link->speed_mbps = !link->up ? 0 : speed == INTEL_STATUS_SPEED_10 ? 10 : speed == INTEL_STATUS_SPEED_100 ? 100 : 1000;
	return 0;
}

int intel_set_promisc(struct unic_dev *dev, bool on)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t rctl = intel_rd(p, INTEL_RCTL);

	if (dev->removed || intel_check_removed(dev, rctl))
		return removed_error(dev);
	if (on)
		rctl |= INTEL_RCTL_UPE | INTEL_RCTL_MPE;
	else
		rctl &= ~(INTEL_RCTL_UPE | INTEL_RCTL_MPE);
	intel_wr(p, INTEL_RCTL, rctl);
	return 0;
}

/* ---------------------------------------------------------------- data path */

/* One MMIO read now and then while idle: a removed device reads all-ones, and then we stop. */
static void idle_check(struct unic_dev *dev, uint32_t *idle)
{
	if (unic_likely(++*idle < INTEL_IDLE_CHECK))
		return;
	*idle = 0;
	if (!unic_irq_unplug_check(dev)) /* the kernel asking for the device back stops us too */
		intel_check_removed(dev, intel_rd(intel_priv(dev), INTEL_STATUS));
}

/* Replacement buffers come from the pool INTEL_RX_REFILL_BATCH at a time. */
static inline struct unic_buf *rx_spare(struct intel_rxq *q)
{
	if (unic_unlikely(!q->nspare)) {
		if (!unic_buf_alloc_bulk(q->dev->pool, q->spare, INTEL_RX_REFILL_BATCH))
			return NULL;
		q->nspare = INTEL_RX_REFILL_BATCH;
	}
	return q->spare[--q->nspare];
}

/*
 * Checks one write-back. A frame larger than one buffer arrives as several descriptors
 * without EOP: the whole frame is dropped (counted once, rx_dropped) and the queue skips
 * descriptors up to and including the one with EOP. A length the buffer cannot hold is a
 * lie (bad_device), whether or not the descriptor ends the frame.
 */
static inline bool rx_frame_ok(struct intel_rxq *q, uint32_t staterr, uint16_t len)
{
	bool eop = staterr & INTEL_RXD_STAT_EOP;

	if (unic_unlikely(len > q->buf_len)) {
		UNIC_STAT_INC(q->stats.bad_device);
		q->discarding = !eop; /* the rest of its frame goes too, not counted again */
		return false;
	}
	if (unic_unlikely(q->discarding)) {
		q->discarding = !eop;
		return false;
	}
	if (unic_unlikely(!eop)) {
		q->discarding = true;
		UNIC_STAT_INC(q->stats.dropped);
		return false;
	}
	if (unic_unlikely(staterr & INTEL_RXD_ERR_FRAME)) {
		UNIC_STAT_INC(q->stats.errors);
		return false;
	}
	if (unic_unlikely(len == 0)) {
		UNIC_STAT_INC(q->stats.bad_device);
		return false;
	}
	return true;
}

/*
 * Status and errors of a write-back, read once, in the extended layout: the legacy descriptor
 * (8254x 3.2.3.1/3.2.3.2) has DD and EOP at the same bits of its status byte, and its errors
 * byte holds CE, SE, SEQ, CXE and RXE in the order of the extended errors 31:24.
 */
static inline uint32_t rx_staterr(volatile union intel_rx_desc *d, bool legacy)
{
	if (legacy) {
		uint32_t w = d->legacy.staterr; /* one load: status and errors of the same write-back */
		return (w & INTEL_RXD_LEGACY_STATUS_MASK) | (w & ~INTEL_RXD_LEGACY_STATUS_MASK) << INTEL_RXD_LEGACY_ERR_SHIFT;
	}
	return d->wb.staterr;
}

/* The receive loop for both write-back layouts; legacy is a constant in each caller, so each gets its own copy. */
static inline uint16_t rx_burst(struct intel_rxq *q, struct unic_buf **out, uint16_t n, bool legacy)
{
	uint16_t got = 0, seen = 0, last = 0;

	if (unic_unlikely(q->dev->removed))
		return 0;
	while (got < n && seen < q->size) {
		volatile union intel_rx_desc *d = &q->ring[q->next];
		uint32_t staterr = rx_staterr(d, legacy);
		struct unic_buf *b = q->bufs[q->next];
		uint16_t len;

		if (!(staterr & INTEL_RXD_STAT_DD))
			break;
		unic_rmb(); /* the rest of the write-back is valid once DD is seen */
		len = legacy ? d->legacy.length : d->wb.length;
		if (rx_frame_ok(q, staterr, len)) {
			struct unic_buf *fresh = rx_spare(q);
			if (unic_likely(fresh != NULL)) {
				b->len = len;
				b->rx_queue = q->id;
				b->rss_hash = q->rss ? d->wb.rss_hash : 0;
				out[got++] = b;
				UNIC_STAT_INC(q->stats.packets);
				UNIC_STAT_ADD(q->stats.bytes, len);
				b = fresh;
			} else {
				UNIC_STAT_INC(q->stats.dropped); /* pool empty: keep the buffer, lose the frame */
			}
		}
		rx_post(q, q->next, b);
		last = q->next;
		q->next = (uint16_t)(q->next + 1 == q->size ? 0 : q->next + 1);
		seen++;
	}
	if (seen) {
		unic_wmb();
		unic_write32(q->tail_reg, 0, last);
		q->idle = 0;
	} else {
		idle_check(q->dev, &q->idle);
	}
	return got;
}

uint16_t intel_rx_burst(void *rxq, struct unic_buf **out, uint16_t n)
{
	return rx_burst(rxq, out, n, false);
}

uint16_t intel_rx_burst_legacy(void *rxq, struct unic_buf **out, uint16_t n)
{
	return rx_burst(rxq, out, n, true);
}

/*
 * The device writes DD back only into descriptors with RS (82576 7.2.2.3, 82574 7.2.10.3:
 * "Report Status"), and completes in order. RS goes on the last descriptor of every burst and
 * at least every INTEL_TX_RS_INTERVAL descriptors, so the device writes back once per batch, not
 * once per frame, and reclaim checks one descriptor per batch.
 */
static inline void tx_push_rs(struct intel_txq *q, uint16_t slot)
{
	uint16_t at = (uint16_t)(q->rs_head + q->rs_count);

	q->rs[at >= q->size ? at - q->size : at] = slot;
	q->rs_count++;
	q->since_rs = 0;
}

static uint16_t tx_reclaim(struct intel_txq *q)
{
	uint16_t freed = 0;

	while (q->rs_count) {
		uint16_t slot = q->rs[q->rs_head];
		uint16_t done = (uint16_t)((slot >= q->clean ? slot - q->clean : slot + q->size - q->clean) + 1u);
		uint16_t first = (uint16_t)(q->size - q->clean) < done ? (uint16_t)(q->size - q->clean) : done;

		if (!(q->ring[slot].olinfo_status & INTEL_TXD_STAT_DD))
			break;
		unic_rmb();
		unic_buf_free_bulk(&q->bufs[q->clean], first);
		if (done > first)
			unic_buf_free_bulk(&q->bufs[0], (uint32_t)(done - first));
		q->clean = (uint16_t)(slot + 1 == q->size ? 0 : slot + 1);
		q->inflight = (uint16_t)(q->inflight - done);
		q->rs_head = (uint16_t)(q->rs_head + 1 == q->size ? 0 : q->rs_head + 1);
		q->rs_count--;
		freed = (uint16_t)(freed + done);
	}
	return freed;
}

/* unic_tx_reclaim: completed buffers back to their pools without sending. */
uint16_t intel_tx_reclaim(void *txq)
{
	struct intel_txq *q = txq;

	if (unic_unlikely(q->dev->removed))
		return 0;
	return tx_reclaim(q);
}

uint16_t intel_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct intel_txq *q = txq;
	uint16_t room, i, queued = 0;

	if (unic_unlikely(q->dev->removed))
		return 0;
	tx_reclaim(q);
	room = (uint16_t)(q->size - 1 - q->inflight); /* tail == head means empty: one slot stays free */
	for (i = 0; i < n && queued < room; i++) {
		struct unic_buf *b = bufs[i];
		volatile struct intel_tx_desc *d = &q->ring[q->tail];
		bool rs;

		/* one descriptor per frame: its length field takes any uint16_t, the chip only its max frame */
		if (unic_unlikely(b->len == 0 || b->len > q->max_len || (uint32_t)b->data_off + b->len > b->room_size)) {
			UNIC_STAT_INC(q->stats.dropped); /* taken and dropped: nothing valid to send, or too long */
			unic_buf_free(b);
			continue;
		}
		rs = ++q->since_rs == INTEL_TX_RS_INTERVAL;
		d->addr = unic_buf_dma(b);
		d->cmd_type_len = q->cmd | b->len | (rs ? INTEL_TXD_CMD_RS : 0);
		d->olinfo_status = q->paylen_shift ? (uint32_t)b->len << q->paylen_shift : 0;
		q->bufs[q->tail] = b;
		if (unic_unlikely(rs))
			tx_push_rs(q, q->tail);
		q->tail = (uint16_t)(q->tail + 1 == q->size ? 0 : q->tail + 1);
		UNIC_STAT_INC(q->stats.packets);
		UNIC_STAT_ADD(q->stats.bytes, b->len);
		queued++;
	}
	q->inflight = (uint16_t)(q->inflight + queued);
	if (queued) {
		if (q->since_rs) { /* the burst's last descriptor reports too */
			uint16_t last = (uint16_t)(q->tail ? q->tail - 1 : q->size - 1);

			q->ring[last].cmd_type_len |= INTEL_TXD_CMD_RS;
			tx_push_rs(q, last);
		}
		unic_wmb();
		unic_write32(q->tail_reg, 0, q->tail);
		q->idle = 0;
	} else if (!room) {
		idle_check(q->dev, &q->idle);
	}
	return i;
}
