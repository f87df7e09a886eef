/*
 * e1000.c - Intel 82540EM (8086:100e), the NIC QEMU (-device e1000) and
 * VirtualBox give a guest by default.
 *
 * The 82540EM is the ancestor of the 82574 (e1000e) and the 82576 (igb): CTRL,
 * STATUS, MDIC and the PHY, RCTL/TCTL, RAL/RAH, MTA, the statistics registers
 * and the one receive and one transmit queue block sit where they do on its
 * descendants, so reset, MAC, link, statistics and the transmit path are
 * intel_common.c. What is particular to it (8254x software developer's manual,
 * 14, general initialization):
 *   - conventional PCI: no GIO master disable before reset (conventional_pci);
 *     INTx only, no MSI (the 82540EM has neither capability): the shared-line mode of
 *     intel_irq.c, through uio: or vfio: (the core's VFIO INTx line). One read of ICR
 *     (clear on read, 13.4.17) per arm and per event takes every cause; RXT0 wakes the
 *     queue (IMS/IMC 13.4.20, 13.4.21), LSC the event descriptor. ITR is written 0
 *     (13.4.18: no throttling); QEMU's model still holds a second interrupt back for
 *     at least 128 us after one it raised (its mitigation), which only delays wake-ups.
 *   - receive: only the legacy descriptor (3.2.3), read by
 *     intel_rx_burst_legacy; the buffer size is RCTL.BSIZE/BSEX (13.4.22),
 *     from the same list of sizes as the 82574's.
 *   - transmit: the legacy descriptor (3.3.3), as e1000e uses it.
 *   - one receive and one transmit queue; no RSS.
 */
#include <errno.h>

#include "intel_common.h"

#define E1000_DEV_82540EM 0x100E

/* Queue register blocks: RDBAL 0x2800 .. RDT 0x2818, TDBAL 0x3800 .. TDT 0x3818 (8254x 13.4.27-13.4.41) */
#define E1000_RXQ_BASE 0x02800
#define E1000_TXQ_BASE 0x03800
#define E1000_QUEUE_STRIDE 0x100   /* unused: one queue of each */
#define E1000_MAX_QUEUES 1

/* TIPG: the manual's values for copper, IEEE 802.3 inter-packet gap (8254x 13.4.34) */
#define E1000_TIPG 0x00410
#define E1000_TIPG_IPGT 10u
#define E1000_TIPG_IPGR1 8u
#define E1000_TIPG_IPGR1_SHIFT 10
#define E1000_TIPG_IPGR2 6u
#define E1000_TIPG_IPGR2_SHIFT 20

#define E1000_LINK_TIMEOUT_MS 4000u

/*
 * Long frames: with RCTL.LPE the 8254x takes frames up to 16128 bytes (8254x 13.4.22 and
 * 3.2.4; Linux e1000 allows the 82540 MAX_JUMBO_FRAME_SIZE 0x3F00 with the CRC); without LPE
 * 1522. It has no register to bound them lower: a frame longer than the buffer is written over
 * several descriptors and dropped whole. The library caps mtu at 9000 itself.
 */
#define E1000_MAX_FRAME 16128u

static const struct intel_chip e1000_chip = {
	.name = "e1000 (82540EM)",
	.max_rx_queues = E1000_MAX_QUEUES,
	.max_tx_queues = E1000_MAX_QUEUES,
	.rxq_base = E1000_RXQ_BASE,
	.txq_base = E1000_TXQ_BASE,
	.queue_stride = E1000_QUEUE_STRIDE,
	.tx_dtyp = 0,               /* legacy descriptor */
	.max_frame = E1000_MAX_FRAME,
	.rx_buf_need = intel_rctl_buf_need,
	.conventional_pci = true,
	.legacy_rx = true,
};

static bool e1000_match(uint16_t vendor, uint16_t device)
{
	return vendor == INTEL_VENDOR && device == E1000_DEV_82540EM;
}

static int e1000_probe(struct unic_dev *dev)
{
	return intel_probe(dev, &e1000_chip);
}

/* Receive then transmit initialization, as the manual orders them (8254x 14.4, 14.5). */
static int e1000_start(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t bsize = 0;
	uint16_t buf_len = intel_rctl_buf_pick(intel_rx_capacity(dev), &bsize);
	int r;

	if ((r = intel_check_config(dev)))
		return r;
	if (!buf_len)
		return unic_dev_error(dev, EINVAL, "e1000: receive buffers need at least 256 bytes of data room");
	if ((r = intel_check_rx_buf(dev, buf_len)))
		return r;

	intel_clear_filters(dev);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev) | bsize);
	if ((r = intel_queues_alloc(dev, buf_len)))
		return r;
	intel_rx_arm(dev);
	intel_wr(p, INTEL_RCTL, intel_rctl_base(dev) | bsize | INTEL_RCTL_EN);

	intel_wr(p, E1000_TIPG, E1000_TIPG_IPGT | E1000_TIPG_IPGR1 << E1000_TIPG_IPGR1_SHIFT |
		 E1000_TIPG_IPGR2 << E1000_TIPG_IPGR2_SHIFT);
	intel_wr(p, INTEL_TCTL, intel_tctl_value());

	if ((r = intel_link_setup(dev, E1000_LINK_TIMEOUT_MS)))
		return r;
	intel_describe(dev, "legacy rx / legacy tx");
	intel_irq_start(dev);
	return 0;
}

const struct unic_driver unic_driver_e1000 = {
	.name = "e1000",
	.match = e1000_match,
	.probe = e1000_probe,
	.start = e1000_start,
	.close = intel_close,
	.rx_burst = intel_rx_burst_legacy,
	.tx_burst = intel_tx_burst,
	.stats = intel_stats,
	.link = intel_link,
	.set_promisc = intel_set_promisc,
	.rx_intr_fd = intel_rx_intr_fd,
	.rx_intr_enable = intel_rx_intr_enable,
	.rx_intr_disable = intel_rx_intr_disable,
	.tx_reclaim = intel_tx_reclaim,
	.event_fd = intel_event_fd,
	.event_ack = intel_event_ack,
};
