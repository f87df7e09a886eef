/*
 * igb.c - Intel 82576 (8086:10c9 and its copper variants).
 *
 * Follows the 82576 datasheet's initialization (4.5): reset, interrupts
 * masked, MAC from RAL0/RAH0 (intel_common.c); then receive (4.5.9) and
 * transmit (4.5.10) queues with advanced descriptors, RSS over the receive
 * queues, and the copper link through the PHY. The 82576 reports no link
 * after a reset until the driver sets it up (CTRL.SLU and an
 * auto-negotiation restart): QEMU's model and real parts alike.
 */
#include <errno.h>

#include "intel_common.h"

/* Device ids: copper parts only, the link setup below is the copper one (82576 1.4, Table 1-9) */
#define IGB_DEV_82576 0x10C9
#define IGB_DEV_82576_QUAD_COPPER 0x10E8
#define IGB_DEV_82576_QUAD_COPPER_ET2 0x1526
#define IGB_DEV_82576_NS 0x150A

/* MSI-X registers (82576 7.3, 8.8): extended causes per vector, bit n = MSI-X vector n */
#define IGB_GPIE 0x01514           /* general purpose interrupt enable (8.8.15) */
#define IGB_GPIE_NSICR (1u << 0)   /* non-selective ICR clear on read */
#define IGB_GPIE_MSIX_MODE (1u << 4) /* EICR bits are MSI-X vectors (QEMU routes per vector only then) */
#define IGB_GPIE_EIAME (1u << 30)  /* extended interrupt auto mask enable */
#define IGB_GPIE_PBA_SUPPORT (1u << 31) /* MSI-X pending bits array */
#define IGB_EICR 0x01580           /* extended interrupt cause (write 1 clears, 8.8.1) */
#define IGB_EIMS 0x01524           /* extended interrupt mask set (8.8.6) */
#define IGB_EIMC 0x01528           /* extended interrupt mask clear (8.8.8) */
#define IGB_EIAC 0x0152C           /* extended interrupt auto clear (8.8.4) */
#define IGB_EITR0 0x01680          /* interrupt throttle of vector n at + 4n (8.8.12); 0: none */
#define IGB_IVAR0 0x01700          /* rx queue q (q < 8) in bits 7:0 of IVAR0 + 4q (8.8.17) */
#define IGB_IVAR_MISC 0x01740      /* other causes in bits 15:8 (8.8.18) */
#define IGB_IVAR_VALID 0x80u
#define IGB_IVAR_RX_MASK 0xFFu
#define IGB_IVAR_OTHER_SHIFT 8

/* Queue register blocks: receive 0xC000 + 0x40 * n, transmit 0xE000 + 0x40 * n (82576 8.10, 8.12) */
#define IGB_RXQ_BASE 0x0C000
#define IGB_TXQ_BASE 0x0E000
#define IGB_QUEUE_STRIDE 0x40
#define IGB_MAX_QUEUES 8           /* RSS spreads over at most 8 queues (82576 7.1.2.8) */

/* SRRCTL, per receive queue (82576 8.10.6) */
#define IGB_Q_SRRCTL 0x0C
#define IGB_SRRCTL_BSIZEPKT_UNIT 1024u  /* packet buffer size in 1 KB units, bits 6:0 */
#define IGB_SRRCTL_BSIZEPKT_MAX 0x7Fu
#define IGB_SRRCTL_DESCTYPE_ADV_ONEBUF (1u << 25)
#define IGB_SRRCTL_DROP_EN (1u << 31)   /* a full queue drops instead of stalling the others */
/* RQDPC, per receive queue (82576 8.19.x, 0xC030 + 0x40 * n): frames a queue dropped for lack of
 * descriptors with SRRCTL.DROP_EN set; clear on read. Those frames never reach MPC. */
#define IGB_Q_RQDPC 0x30

/*
 * Jumbo frames (82576 1.3 features: frames up to 9.5 KB; 7.1.2.x): with RCTL.LPE, RLPML bounds
 * the frames taken, CRC included (8.10.x, RLPML at 0x5004, 14 bits); SRRCTL.BSIZEPACKET sizes
 * the buffers in 1 KB units.
 */
#define IGB_MAX_FRAME 9728u          /* 9.5 KB */
#define IGB_RLPML 0x05004
#define IGB_RLPML_MASK 0x3FFFu

/* RXDCTL / TXDCTL (82576 8.10.9, 8.12.13) */
#define IGB_DCTL_ENABLE (1u << 25)
#define IGB_QUEUE_ENABLE_TIMEOUT_MS 10u

/* Advanced transmit data descriptor (82576 7.2.2.3) */
#define IGB_TXD_DTYP_ADV_DATA 0x3u
#define IGB_TXD_PAYLEN_SHIFT 14

/* MRQC (82576 8.10.24): RSS without virtualization; UDP over IPv4/IPv6 hashed on ports too */
#define IGB_MRQC_RSS 0x2u
#define IGB_MRQC_RSS_IPV4_UDP (1u << 22)
#define IGB_MRQC_RSS_IPV6_UDP (1u << 23)

#define IGB_LINK_TIMEOUT_MS 4000u  /* auto-negotiation takes up to a few seconds */

/* A frame lands in one buffer of a whole number of kilobytes. */
static uint16_t igb_rx_buf_need(uint32_t frame)
{
	return (uint16_t)((frame + IGB_SRRCTL_BSIZEPKT_UNIT - 1) / IGB_SRRCTL_BSIZEPKT_UNIT * IGB_SRRCTL_BSIZEPKT_UNIT);
}

/* Vector 0: link and other causes; vector q + 1: rx queue q; throttling off; EICR bits clear
 * themselves when their message is sent (EIAC), queue bits are armed by rx_intr_enable. */
static void igb_msix_setup(struct intel_priv *p)
{
	uint32_t all = 0;
	uint16_t q;

	intel_wr(p, IGB_GPIE, IGB_GPIE_NSICR | IGB_GPIE_MSIX_MODE | IGB_GPIE_EIAME | IGB_GPIE_PBA_SUPPORT);
	for (q = 0; q < p->nrx; q++) {
		uint32_t ivar = IGB_IVAR0 + 4u * q, vec = q + 1u;

		intel_wr(p, ivar, (intel_rd(p, ivar) & ~IGB_IVAR_RX_MASK) | vec | IGB_IVAR_VALID);
		p->rxq[q].irq = (struct intel_irq_bits){ .arm = IGB_EIMS, .mask = IGB_EIMC, .ack = IGB_EICR,
							 .bit = 1u << vec, .vec = (uint16_t)vec };
		all |= 1u << vec;
	}
	intel_wr(p, IGB_IVAR_MISC, (0u | IGB_IVAR_VALID) << IGB_IVAR_OTHER_SHIFT);
	p->other = (struct intel_irq_bits){ .arm = IGB_EIMS, .mask = IGB_EIMC, .ack = IGB_EICR, .bit = 1u, .vec = 0 };
	all |= 1u;
	for (q = 0; q <= p->nrx; q++)
		intel_wr(p, IGB_EITR0 + 4u * q, 0);
	intel_wr(p, IGB_EIAC, all);
	intel_wr(p, IGB_EIMC, ~0u);
	intel_wr(p, IGB_EICR, all);
}

static const struct intel_chip igb_chip = {
	.name = "igb (82576)",
	.max_rx_queues = IGB_MAX_QUEUES,
	.max_tx_queues = IGB_MAX_QUEUES,
	.rxq_base = IGB_RXQ_BASE,
	.txq_base = IGB_TXQ_BASE,
	.queue_stride = IGB_QUEUE_STRIDE,
	.tx_dtyp = IGB_TXD_DTYP_ADV_DATA,
	.tx_paylen_shift = IGB_TXD_PAYLEN_SHIFT,
	.mrqc_rss = IGB_MRQC_RSS,
	.mrqc_fields = INTEL_MRQC_RSS_IPV4_TCP | INTEL_MRQC_RSS_IPV4 | INTEL_MRQC_RSS_IPV6_TCP | INTEL_MRQC_RSS_IPV6 |
		       IGB_MRQC_RSS_IPV4_UDP | IGB_MRQC_RSS_IPV6_UDP,
	.reta_shift = 0,
	.eimc = IGB_EIMC,
	.rxq_drops = IGB_Q_RQDPC,
	.max_frame = IGB_MAX_FRAME,
	.rlpml = IGB_RLPML,
	.rx_buf_need = igb_rx_buf_need,
	.msix_setup = igb_msix_setup,
};

static bool igb_match(uint16_t vendor, uint16_t device)
{
	return vendor == INTEL_VENDOR && (device == IGB_DEV_82576 || device == IGB_DEV_82576_QUAD_COPPER ||
					  device == IGB_DEV_82576_QUAD_COPPER_ET2 || device == IGB_DEV_82576_NS);
}

static int igb_probe(struct unic_dev *dev)
{
	return intel_probe(dev, &igb_chip);
}

/* Sets a queue's enable bit and waits until the device reports it (82576 4.5.9 step 6, 4.5.10). */
static int igb_enable_queue(struct unic_dev *dev, uint32_t dctl)
{
	struct intel_priv *p = intel_priv(dev);
	int r;

	intel_wr(p, dctl, intel_rd(p, dctl) | IGB_DCTL_ENABLE);
	r = intel_wait_reg(dev, dctl, IGB_DCTL_ENABLE, IGB_DCTL_ENABLE, IGB_QUEUE_ENABLE_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		return unic_dev_error(dev, EIO, "igb: queue control register %#x did not report the queue enabled",
				      dctl);
	return r;
}

/* Queues are disabled while their rings are programmed (queue 0 comes out of reset enabled). */
static void igb_disable_queues(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint16_t q;

	for (q = 0; q < IGB_MAX_QUEUES; q++) {
		intel_wr(p, intel_rxq_reg(p, q, INTEL_Q_DCTL), 0);
		intel_wr(p, intel_txq_reg(p, q, INTEL_Q_DCTL), 0);
	}
}

static int igb_start_rx(struct unic_dev *dev, uint16_t buf_len)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t srrctl = buf_len / IGB_SRRCTL_BSIZEPKT_UNIT | IGB_SRRCTL_DESCTYPE_ADV_ONEBUF;
	uint16_t q;
	int r;

	if (p->nrx > 1)
		srrctl |= IGB_SRRCTL_DROP_EN;
	for (q = 0; q < p->nrx; q++) {
		intel_wr(p, intel_rxq_reg(p, q, IGB_Q_SRRCTL), srrctl);
		if ((r = igb_enable_queue(dev, intel_rxq_reg(p, q, INTEL_Q_DCTL))))
			return r;
	}
	intel_rss_setup(dev);
	intel_rx_arm(dev);
	/* frames up to mtu + 18 and the CRC; longer ones the chip drops (and counts in ROC) */
	intel_wr(p, IGB_RLPML, (intel_rx_frame_max(dev) + INTEL_FCS_LEN) & IGB_RLPML_MASK);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev) | INTEL_RCTL_EN);
	return 0;
}

static int igb_start_tx(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint16_t q;
	int r;

	for (q = 0; q < p->ntx; q++)
		if ((r = igb_enable_queue(dev, intel_txq_reg(p, q, INTEL_Q_DCTL))))
			return r;
	intel_wr(p, INTEL_TCTL, intel_tctl_value());
	return 0;
}

static int igb_start(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t cap = intel_rx_capacity(dev);
	uint16_t buf_len;
	int r;

	if ((r = intel_check_config(dev)))
		return r;
	if (cap > IGB_SRRCTL_BSIZEPKT_MAX * IGB_SRRCTL_BSIZEPKT_UNIT)
		cap = IGB_SRRCTL_BSIZEPKT_MAX * IGB_SRRCTL_BSIZEPKT_UNIT;
	buf_len = (uint16_t)(cap / IGB_SRRCTL_BSIZEPKT_UNIT * IGB_SRRCTL_BSIZEPKT_UNIT);
	if (!buf_len)
		return unic_dev_error(dev, EINVAL, "igb: receive buffers need at least %u bytes of data room "
				      "(buf_size)", IGB_SRRCTL_BSIZEPKT_UNIT);
	if ((r = intel_check_rx_buf(dev, buf_len)))
		return r;
	intel_wr(p, INTEL_CTRL_EXT, intel_rd(p, INTEL_CTRL_EXT) | INTEL_CTRL_EXT_DRV_LOAD);
	intel_clear_filters(dev);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev));
	igb_disable_queues(dev);
	if ((r = intel_queues_alloc(dev, buf_len)) || (r = igb_start_rx(dev, buf_len)) || (r = igb_start_tx(dev)))
		return r;
	if ((r = intel_link_setup(dev, IGB_LINK_TIMEOUT_MS)))
		return r;
	intel_describe(dev, "advanced");
	intel_irq_start(dev);
	return 0;
}

const struct unic_driver unic_driver_igb = {
	.name = "igb",
	.match = igb_match,
	.probe = igb_probe,
	.start = igb_start,
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
