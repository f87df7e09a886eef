/*
 * e1000e.c - Intel 82574L / 82574LA (8086:10d3, 8086:10f6).
 *
 * The 82574 keeps the PRO/1000 register file the 82576 also has, so reset,
 * MAC, PHY, link, statistics and the data path are intel_common.c. What is
 * particular to it (82574 datasheet 4.6, initialization):
 *   - receive: the extended descriptor format (7.1.4), chosen with
 *     RFCTL.EXSTEN; its write-back puts status, errors, length and RSS hash
 *     where the 82576's advanced one does. The buffer size is global, in
 *     RCTL.BSIZE/BSEX (10.2.5.1), from a short list of sizes.
 *   - transmit: legacy descriptors (7.2.10.1): no offloads are used, and
 *     their command and DD bits sit where the extended ones do.
 *   - two receive queues with RSS (7.1.12); one transmit queue.
 */
#include <errno.h>

#include "intel_common.h"

#define E1000E_DEV_82574L 0x10D3
#define E1000E_DEV_82574LA 0x10F6

/* Queue register blocks: receive 0x2800 + 0x100 * n, transmit 0x3800 + 0x100 * n (82574 10.2.5, 10.2.6) */
#define E1000E_RXQ_BASE 0x02800
#define E1000E_TXQ_BASE 0x03800
#define E1000E_QUEUE_STRIDE 0x100
#define E1000E_MAX_RX_QUEUES 2
#define E1000E_MAX_TX_QUEUES 1

/*
 * MSI-X on the 82574 (82574 7.4, 10.2.4): IVAR routes each cause to a vector (4-bit entries,
 * valid bit 3); the causes are ICR/IMS bits RXQ0, RXQ1, OTHER; EIAC clears them when their
 * message goes out (with CTRL_EXT.EIAME); EITR(n) throttles vector n (0: off).
 */
#define E1000E_IVAR 0x000E4
#define E1000E_IVAR_VALID 0x8u
#define E1000E_IVAR_BITS 4u          /* rx0 3:0, rx1 7:4, tx0 11:8, tx1 15:12, other 19:16 */
#define E1000E_IVAR_OTHER_SHIFT 16
#define E1000E_EITR0 0x000E8         /* + 4n */
#define E1000E_EIAC 0x000DC
#define E1000E_ICR_RXQ0 (1u << 20)   /* rx queue n: RXQ0 << n */
#define E1000E_ICR_OTHER (1u << 24)
#define E1000E_CTRL_EXT_EIAME (1u << 24)
#define E1000E_CTRL_EXT_PBA_CLR (1u << 31)

/* RFCTL (82574 10.2.5.3): extended receive descriptors */
#define E1000E_RFCTL 0x05008
#define E1000E_RFCTL_EXSTEN (1u << 15)

/* RCTL buffer size (82574 10.2.5.1): BSIZE bits 17:16, scaled by 16 with BSEX */
#define E1000E_RCTL_BSIZE_SHIFT 16
#define E1000E_RCTL_BSEX (1u << 25)

/* TXDCTL bit 22 must be written 1 (82574 10.2.6.9; Linux e1000e does the same) */
#define E1000E_TXDCTL_BIT22 (1u << 22)

/* TIPG: the datasheet's values for copper (82574 10.2.6.4) */
#define E1000E_TIPG 0x00410
#define E1000E_TIPG_IPGT 8u
#define E1000E_TIPG_IPGR1 8u
#define E1000E_TIPG_IPGR1_SHIFT 10
#define E1000E_TIPG_IPGR2 6u
#define E1000E_TIPG_IPGR2_SHIFT 20

/* MRQC (82574 10.2.5.17): RSS enable; RETA entries carry the queue in bit 7 (10.2.5.18) */
#define E1000E_MRQC_RSS 0x1u
#define E1000E_RETA_QUEUE_SHIFT 7

#define E1000E_LINK_TIMEOUT_MS 4000u

/*
 * Jumbo frames: the 82574 takes long frames with RCTL.LPE up to 9 KB (82574 1.x features;
 * Linux e1000e allows it 9234 bytes with the CRC, DEFAULT_JUMBO) and has no register to bound
 * them lower (no RLPML): a longer frame than the buffer spans descriptors and is dropped.
 */
#define E1000E_MAX_FRAME 9234u

/* RCTL.BSIZE/BSEX encodings, largest first (82574 10.2.5.1). */
static const struct {
	uint16_t bytes;
	uint32_t rctl;
} e1000e_buf_sizes[] = {
	{ 16384, 1u << E1000E_RCTL_BSIZE_SHIFT | E1000E_RCTL_BSEX },
	{ 8192, 2u << E1000E_RCTL_BSIZE_SHIFT | E1000E_RCTL_BSEX },
	{ 4096, 3u << E1000E_RCTL_BSIZE_SHIFT | E1000E_RCTL_BSEX },
	{ 2048, 0u },
	{ 1024, 1u << E1000E_RCTL_BSIZE_SHIFT },
	{ 512, 2u << E1000E_RCTL_BSIZE_SHIFT },
	{ 256, 3u << E1000E_RCTL_BSIZE_SHIFT },
};

/* The smallest RCTL buffer size that holds frame (mtu 9000's 9018 bytes fit 16 KB, the largest). */
static uint16_t e1000e_rx_buf_need(uint32_t frame)
{
	size_t i = UNIC_ARRAY_SIZE(e1000e_buf_sizes);

	while (i-- > 0)
		if (e1000e_buf_sizes[i].bytes >= frame)
			return e1000e_buf_sizes[i].bytes;
	return e1000e_buf_sizes[0].bytes;
}

/* Vector 0: link and other causes; vector q + 1: rx queue q (IMS RXQ0 << q). */
static void e1000e_msix_setup(struct intel_priv *p)
{
	uint32_t ivar = (0u | E1000E_IVAR_VALID) << E1000E_IVAR_OTHER_SHIFT, eiac = E1000E_ICR_OTHER;
	uint16_t q;

	for (q = 0; q < p->nrx; q++) {
		uint32_t vec = q + 1u, bit = E1000E_ICR_RXQ0 << q;

		ivar |= (vec | E1000E_IVAR_VALID) << (E1000E_IVAR_BITS * q);
		p->rxq[q].irq = (struct intel_irq_bits){ .arm = INTEL_IMS, .mask = INTEL_IMC, .ack = INTEL_ICR,
							 .bit = bit, .vec = (uint16_t)vec };
		eiac |= bit;
	}
	p->other = (struct intel_irq_bits){ .arm = INTEL_IMS, .mask = INTEL_IMC, .ack = INTEL_ICR,
					    .bit = E1000E_ICR_OTHER, .vec = 0 };
	intel_wr(p, E1000E_IVAR, ivar);
	for (q = 0; q <= p->nrx; q++)
		intel_wr(p, E1000E_EITR0 + 4u * q, 0);
	intel_wr(p, INTEL_ITR, 0);
	intel_wr(p, E1000E_EIAC, eiac);
	intel_wr(p, INTEL_CTRL_EXT, intel_rd(p, INTEL_CTRL_EXT) | E1000E_CTRL_EXT_EIAME | E1000E_CTRL_EXT_PBA_CLR);
}

static const struct intel_chip e1000e_chip = {
	.name = "e1000e (82574L)",
	.max_rx_queues = E1000E_MAX_RX_QUEUES,
	.max_tx_queues = E1000E_MAX_TX_QUEUES,
	.rxq_base = E1000E_RXQ_BASE,
	.txq_base = E1000E_TXQ_BASE,
	.queue_stride = E1000E_QUEUE_STRIDE,
	.tx_dtyp = 0,               /* legacy descriptor */
	.tx_paylen_shift = 0,
	.mrqc_rss = E1000E_MRQC_RSS,
	.mrqc_fields = INTEL_MRQC_RSS_IPV4_TCP | INTEL_MRQC_RSS_IPV4 | INTEL_MRQC_RSS_IPV6_TCP | INTEL_MRQC_RSS_IPV6,
	.reta_shift = E1000E_RETA_QUEUE_SHIFT,
	.eimc = 0,
	.max_frame = E1000E_MAX_FRAME,
	.rlpml = 0,
	.rx_buf_need = e1000e_rx_buf_need,
	.msix_setup = e1000e_msix_setup,
};

static bool e1000e_match(uint16_t vendor, uint16_t device)
{
	return vendor == INTEL_VENDOR && (device == E1000E_DEV_82574L || device == E1000E_DEV_82574LA);
}

static int e1000e_probe(struct unic_dev *dev)
{
	return intel_probe(dev, &e1000e_chip);
}

static int e1000e_start(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint16_t cap = intel_rx_capacity(dev);
	uint32_t bsize = 0;
	uint16_t buf_len = 0;
	size_t i;
	int r;

	if ((r = intel_check_config(dev)))
		return r;
	for (i = 0; i < UNIC_ARRAY_SIZE(e1000e_buf_sizes) && !buf_len; i++)
		if (e1000e_buf_sizes[i].bytes <= cap) {
			buf_len = e1000e_buf_sizes[i].bytes;
			bsize = e1000e_buf_sizes[i].rctl;
		}
	if (!buf_len)
		return unic_dev_error(dev, EINVAL, "e1000e: receive buffers need at least 256 bytes of data room");
	if ((r = intel_check_rx_buf(dev, buf_len)))
		return r;

	intel_wr(p, INTEL_CTRL_EXT, intel_rd(p, INTEL_CTRL_EXT) | INTEL_CTRL_EXT_DRV_LOAD);
	intel_clear_filters(dev);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev) | bsize);
	intel_wr(p, E1000E_RFCTL, intel_rd(p, E1000E_RFCTL) | E1000E_RFCTL_EXSTEN);
	if ((r = intel_queues_alloc(dev, buf_len)))
		return r;
	intel_rss_setup(dev);
	intel_rx_arm(dev);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev) | bsize | INTEL_RCTL_EN);

	intel_wr(p, intel_txq_reg(p, 0, INTEL_Q_DCTL), intel_rd(p, intel_txq_reg(p, 0, INTEL_Q_DCTL)) | E1000E_TXDCTL_BIT22);
	intel_wr(p, E1000E_TIPG, E1000E_TIPG_IPGT | E1000E_TIPG_IPGR1 << E1000E_TIPG_IPGR1_SHIFT |
		 E1000E_TIPG_IPGR2 << E1000E_TIPG_IPGR2_SHIFT);
	intel_wr(p, INTEL_TCTL, intel_tctl_value());

	if ((r = intel_link_setup(dev, E1000E_LINK_TIMEOUT_MS)))
		return r;
	intel_describe(dev, "extended rx / legacy tx");
	intel_irq_start(dev);
	return 0;
}

const struct unic_driver unic_driver_e1000e = {
	.name = "e1000e",
	.match = e1000e_match,
	.probe = e1000e_probe,
	.start = e1000e_start,
	.close = intel_close,
	.rx_burst = intel_rx_burst,
	.tx_burst = intel_tx_burst,
	.stats = intel_stats,
	.link = intel_link,
	.set_promisc = intel_set_promisc,
	.set_rss = intel_set_rss,
	.rx_intr_fd = intel_rx_intr_fd,
	.rx_intr_enable = intel_rx_intr_enable,
	.rx_intr_disable = intel_rx_intr_disable,
	.tx_reclaim = intel_tx_reclaim,
	.event_fd = intel_event_fd,
	.event_ack = intel_event_ack,
};
