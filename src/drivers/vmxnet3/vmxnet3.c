/*
 * vmxnet3.c - VMware vmxnet3 (15ad:07b0): control path.
 *
 * Init order (defs.h; QEMU hw/net/vmxnet3.c; Linux vmxnet3_drv.c's order):
 *   reset; revision 1 and UPT 1 selected through VRRS/UVRS; MAC from MACL/MACH;
 *   one DMA region with the DriverShared area (magic, driver info, queue
 *   descriptor table address, interrupt config, rx filter config), the queue
 *   descriptor table (one tx queue desc, then one rx queue desc), the tx command,
 *   tx data and tx completion rings, rx rings 1 and 2 and the rx completion
 *   ring; rx ring 1 filled; DSAL then DSAH (the device latches the address on
 *   DSAH); ACTIVATE_DEV and its status; UPDATE_RX_MODE (QEMU's model drops every
 *   frame until then), UPDATE_VLAN_FILTERS, UPDATE_MAC_FILTERS.
 * Close: QUIESCE_DEV, RESET_DEV, then the memory is freed.
 *
 * Polling only: interrupts are disabled in intrConf and every interrupt index is
 * 0 (QEMU's model aborts QEMU itself when an index is not 0 while MSI-X is off).
 * One queue pair: QEMU's model receives on rx queue 0 only, so RSS could not be
 * shown working there; more queues are refused with a line that says so.
 * One buffer per frame (maxNumRxSG = 1): ring 2 (body buffers) is set up at its
 * smallest size and never given to the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmxnet3.h"

#define VMXNET3_MAX_QUEUES 1
#define VMXNET3_RX_RINGS 2

static struct vmx_priv *vmx_priv(struct unic_dev *dev)
{
	return dev->priv;
}

bool vmx_check_removed(struct unic_dev *dev, uint32_t value)
{
	if (unic_likely(value != UINT32_MAX))
		return false;
	if (!dev->removed)
		UNIC_WARN("%s: vmxnet3 registers read all-ones: device removed", dev->spec.pci_addr);
	dev->removed = true;
	return true;
}

static int removed_error(struct unic_dev *dev)
{
	return unic_dev_error(dev, ENODEV, "%s: vmxnet3 reads all-ones: the device was removed or lost power; "
			      "close it and check 'lspci -s %s'", dev->spec.pci_addr, dev->spec.pci_addr);
}

/*
 * A command whose result we need (ACTIVATE_DEV's status, GET_LINK): the device answers in the
 * same register. Other commands are only written, as Linux does: they have no result (QEMU's
 * model warns on its console when one is read back).
 */
static uint32_t vmx_cmd(struct vmx_priv *p, uint32_t cmd)
{
	unic_write32(p->vd, VMXNET3_REG_CMD, cmd);
	return unic_read32(p->vd, VMXNET3_REG_CMD);
}

/* A command without a result; the revision register read after it tells a removed device. */
static int vmx_post(struct unic_dev *dev, uint32_t cmd)
{
	struct vmx_priv *p = vmx_priv(dev);

	unic_write32(p->vd, VMXNET3_REG_CMD, cmd);
	if (vmx_check_removed(dev, unic_read32(p->vd, VMXNET3_REG_VRRS)))
		return removed_error(dev);
	return 0;
}

int vmx_attach(struct unic_dev *dev)
{
	struct unic_bar *pt = &dev->bars[VMXNET3_BAR_PT], *vd = &dev->bars[VMXNET3_BAR_VD];
	struct vmx_priv *p;

	if (!pt->addr || pt->size < VMXNET3_BAR_SIZE || !vd->addr || vd->size < VMXNET3_BAR_SIZE)
		return unic_dev_error(dev, ENODEV, "vmxnet3: BAR0 and BAR1 (%u bytes each) are not both mapped",
				      VMXNET3_BAR_SIZE);
	p = calloc(1, sizeof *p);
	if (!p)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: out of memory");
	p->pt = pt->addr;
	p->vd = vd->addr;
	dev->priv = p;
	dev->max_mtu = VMXNET3_MAX_MTU;
	return 0;
}

static void read_mac(struct unic_dev *dev, struct vmx_priv *p)
{
	uint32_t lo = unic_read32(p->vd, VMXNET3_REG_MACL), hi = unic_read32(p->vd, VMXNET3_REG_MACH);
	int i;

	for (i = 0; i < 4; i++)
		dev->mac[i] = (uint8_t)(lo >> (8 * i));
	dev->mac[4] = (uint8_t)hi;
	dev->mac[5] = (uint8_t)(hi >> 8);
}

static int vmxnet3_probe(struct unic_dev *dev)
{
	struct vmx_priv *p;
	uint32_t rev, upt;
	int r;

	if ((r = vmx_attach(dev)))
		return r;
	p = vmx_priv(dev);
	rev = unic_read32(p->vd, VMXNET3_REG_VRRS);
	if (vmx_check_removed(dev, rev))
		return removed_error(dev);
	/* A previous owner may have left it active: stop it before anything else. */
	unic_write32(p->vd, VMXNET3_REG_CMD, VMXNET3_CMD_RESET_DEV);
	if (!(rev & VMXNET3_REV1))
		return unic_dev_error(dev, ENOTSUP, "vmxnet3: device does not offer revision 1 (VRRS %#x)", rev);
	unic_write32(p->vd, VMXNET3_REG_VRRS, VMXNET3_REV1);
	upt = unic_read32(p->vd, VMXNET3_REG_UVRS);
	if (!(upt & VMXNET3_REV1))
		return unic_dev_error(dev, ENOTSUP, "vmxnet3: device does not offer UPT version 1 (UVRS %#x)", upt);
	unic_write32(p->vd, VMXNET3_REG_UVRS, VMXNET3_REV1);
	read_mac(dev, p);
	snprintf(dev->features, sizeof dev->features, "vmxnet3 revision 1, UPT 1");
	return 0;
}

static int check_config(struct unic_dev *dev)
{
	const struct unic_config *c = &dev->cfg;

	if (c->rx_queues > VMXNET3_MAX_QUEUES || c->tx_queues > VMXNET3_MAX_QUEUES)
		return unic_dev_error(dev, EINVAL, "vmxnet3: unic drives one rx and one tx queue (asked %u and %u): "
				      "QEMU's model receives on queue 0 only, so RSS is not offered; use 1",
				      c->rx_queues, c->tx_queues);
	if (c->rx_ring_size < VMXNET3_RING_MULTIPLE || c->rx_ring_size > VMXNET3_RING_MAX ||
	    c->rx_ring_size % VMXNET3_RING_MULTIPLE || c->tx_ring_size < VMXNET3_RING_MULTIPLE ||
	    c->tx_ring_size > VMXNET3_RING_MAX || c->tx_ring_size % VMXNET3_RING_MULTIPLE)
		return unic_dev_error(dev, EINVAL, "vmxnet3 ring sizes must be multiples of %u from %u to %u; "
				      "asked rx %u, tx %u", VMXNET3_RING_MULTIPLE, VMXNET3_RING_MULTIPLE,
				      VMXNET3_RING_MAX, c->rx_ring_size, c->tx_ring_size);
	return 0;
}

/* Bytes a pool buffer offers a frame behind the headroom, within the descriptor's 14-bit length. */
static uint16_t rx_buf_len(const struct unic_dev *dev)
{
	uint32_t room = dev->pool ? dev->pool->room_size : 0;
	uint32_t len = room > UNIC_HEADROOM ? room - UNIC_HEADROOM : 0;

	return (uint16_t)(len > VMXNET3_MAX_RX_BUF_SIZE ? VMXNET3_MAX_RX_BUF_SIZE : len);
}

/* Where each part lives in the one DMA region: every ring on a 512-byte boundary. */
struct vmx_layout {
	size_t qdesc, rx_ring, rx_ring2, rx_comp, tx_ring, tx_data, tx_comp, total;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

static void plan(const struct unic_dev *dev, struct vmx_layout *l)
{
	size_t d = sizeof(struct vmx_desc), rx = dev->cfg.rx_ring_size, tx = dev->cfg.tx_ring_size;

	l->qdesc = align_up(sizeof(struct vmx_shared), VMXNET3_QUEUE_DESC_ALIGN);
	l->rx_ring = align_up(l->qdesc + sizeof(struct vmx_tx_queue_desc) + sizeof(struct vmx_rx_queue_desc),
			      VMXNET3_RING_ALIGN);
	l->rx_ring2 = align_up(l->rx_ring + rx * d, VMXNET3_RING_ALIGN);
	l->rx_comp = align_up(l->rx_ring2 + VMXNET3_RING2_SIZE * d, VMXNET3_RING_ALIGN);
	l->tx_ring = align_up(l->rx_comp + (rx + VMXNET3_RING2_SIZE) * d, VMXNET3_RING_ALIGN);
	l->tx_data = align_up(l->tx_ring + tx * d, VMXNET3_RING_ALIGN);
	l->tx_comp = align_up(l->tx_data + tx * VMXNET3_TXDATA_DESC_SIZE, VMXNET3_RING_ALIGN);
	l->total = l->tx_comp + tx * d;
}

static uint32_t rx_mode(bool promisc)
{
	return VMXNET3_RXM_UCAST | VMXNET3_RXM_BCAST | VMXNET3_RXM_MCAST | (promisc ? VMXNET3_RXM_PROMISC : 0);
}

/* DriverShared: what the device reads at ACTIVATE_DEV and the UPDATE commands. */
static void fill_shared(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l)
{
	volatile struct vmx_shared *s = p->shared;
	uint32_t i;

	s->magic = VMXNET3_REV1_MAGIC;
	s->misc.driver_info.version = VMXNET3_DRIVER_VERSION;
	s->misc.driver_info.gos = VMXNET3_GOS_BITS_64 | VMXNET3_GOS_TYPE_LINUX << VMXNET3_GOS_TYPE_SHIFT;
	s->misc.driver_info.rev_spt = VMXNET3_REV1;
	s->misc.driver_info.upt_spt = VMXNET3_REV1;
	s->misc.upt_features = 0;          /* no checksum, VLAN, LRO or RSS offload */
	s->misc.queue_desc_pa = p->mem.iova + l->qdesc;
	s->misc.queue_desc_len = sizeof(struct vmx_tx_queue_desc) + sizeof(struct vmx_rx_queue_desc);
	s->misc.mtu = dev->cfg.mtu < VMXNET3_MIN_MTU ? VMXNET3_MIN_MTU : dev->cfg.mtu;
	s->misc.max_num_rx_sg = 1;         /* one buffer per frame */
	s->misc.num_tx_queues = 1;
	s->misc.num_rx_queues = 1;
	s->intr.auto_mask = 1;
	s->intr.num_intrs = 1;
	s->intr.event_intr_idx = 0;
	s->intr.intr_ctrl = VMXNET3_IC_DISABLE_ALL;
	s->rx_filter.rx_mode = rx_mode(dev->cfg.promisc);
	for (i = 0; i < VMXNET3_VFT_WORDS; i++)
		s->rx_filter.vf_table[i] = UINT32_MAX; /* no VLAN filtering: every VLAN id passes */
}

static void fill_txq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t size)
{
	volatile struct vmx_tx_queue_desc *t = (volatile struct vmx_tx_queue_desc *)((uint8_t *)p->mem.virt + l->qdesc);

	t->tx_ring_pa = p->mem.iova + l->tx_ring;
	t->data_ring_pa = p->mem.iova + l->tx_data;
	t->comp_ring_pa = p->mem.iova + l->tx_comp;
	t->tx_ring_size = size;
	t->data_ring_size = size;
	t->comp_ring_size = size;
	t->intr_idx = 0;
}

static void fill_rxq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t size)
{
	volatile struct vmx_rx_queue_desc *r = p->rxq.qd;

	r->rx_ring_pa[0] = p->mem.iova + l->rx_ring;
	r->rx_ring_pa[1] = p->mem.iova + l->rx_ring2;
	r->comp_ring_pa = p->mem.iova + l->rx_comp;
	r->rx_ring_size[0] = size;
	r->rx_ring_size[1] = VMXNET3_RING2_SIZE;
	r->comp_ring_size = (uint32_t)size + VMXNET3_RING2_SIZE; /* room for every buffer of both rings */
	r->intr_idx = 0;
}

static int rxq_init(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l, uint16_t buf_len)
{
	struct vmx_rxq *q = &p->rxq;
	uint16_t n;

	q->dev = dev;
	q->id = 0;
	q->size = dev->cfg.rx_ring_size;
	q->comp_size = (uint16_t)(q->size + VMXNET3_RING2_SIZE);
	q->buf_len = buf_len;
	q->ring = (volatile struct vmx_desc *)((uint8_t *)p->mem.virt + l->rx_ring);
	q->comp = (volatile struct vmx_comp *)((uint8_t *)p->mem.virt + l->rx_comp);
	q->qd = (volatile struct vmx_rx_queue_desc *)((uint8_t *)p->mem.virt + l->qdesc + sizeof(struct vmx_tx_queue_desc));
	q->prod_reg = p->pt + VMXNET3_REG_RXPROD;
	q->bufs = calloc(q->size, sizeof *q->bufs);
	if (!q->bufs)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: out of memory");
	n = (uint16_t)(q->size - 1);
	if (unic_buf_alloc_bulk(dev->pool, q->bufs, n) != n)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: the mempool has too few free buffers for a %u-entry rx ring "
				      "(raise pool_size)", q->size);
	fill_rxq_desc(p, l, q->size);
	vmx_rx_post_all(q);
	dev->rxq[0] = q;
	dev->rxq_stats[0] = &q->stats;
	return 0;
}

static int txq_init(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l)
{
	struct vmx_txq *q = &p->txq;

	q->dev = dev;
	q->id = 0;
	q->size = dev->cfg.tx_ring_size;
	q->ring = (volatile struct vmx_desc *)((uint8_t *)p->mem.virt + l->tx_ring);
	q->comp = (volatile struct vmx_comp *)((uint8_t *)p->mem.virt + l->tx_comp);
	q->prod_reg = p->pt + VMXNET3_REG_TXPROD;
	q->gen = q->comp_gen = VMXNET3_INIT_GEN;
	q->bufs = calloc(q->size, sizeof *q->bufs);
	if (!q->bufs)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: out of memory");
	fill_txq_desc(p, l, q->size);
	dev->txq[0] = q;
	dev->txq_stats[0] = &q->stats;
	return 0;
}

/* Memory and rings, no register access (the hostile-device test calls this directly). */
int vmx_queues_setup(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	struct vmx_layout l;
	uint16_t buf_len = rx_buf_len(dev);
	int r;

	if ((r = check_config(dev)))
		return r;
	if (buf_len < VMXNET3_MIN_RX_BUF_SIZE)
		return unic_dev_error(dev, EINVAL, "vmxnet3: receive buffers need at least %u bytes of data room",
				      VMXNET3_MIN_RX_BUF_SIZE);
	plan(dev, &l);
	if ((r = unic_dma_alloc(dev, l.total, &p->mem)))
		return r;
	p->shared = p->mem.virt;
	fill_shared(dev, p, &l);
	if ((r = rxq_init(dev, p, &l, buf_len)) || (r = txq_init(dev, p, &l)))
		return r;
	dev->num_rxq = dev->num_txq = 1;
	dev->rx_ring_size = dev->cfg.rx_ring_size;
	dev->tx_ring_size = dev->cfg.tx_ring_size;
	return 0;
}

static void free_bufs(struct unic_buf **bufs, uint32_t n)
{
	uint32_t i;

	for (i = 0; bufs && i < n; i++)
		if (bufs[i])
			unic_buf_free(bufs[i]);
}

void vmx_queues_free(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	struct vmx_txq *t = &p->txq;
	uint16_t k;

	free_bufs(p->rxq.bufs, p->rxq.size);
	unic_buf_free_bulk(p->rxq.spare, p->rxq.nspare);
	free(p->rxq.bufs);
	for (k = 0; t->bufs && k < t->inflight; k++)
		unic_buf_free(t->bufs[(t->clean + k) % t->size]);
	free(t->bufs);
	memset(&p->rxq, 0, sizeof p->rxq);
	memset(&p->txq, 0, sizeof p->txq);
	dev->rxq[0] = dev->txq[0] = NULL;
	dev->rxq_stats[0] = dev->txq_stats[0] = NULL;
	dev->num_rxq = dev->num_txq = 0;
	if (p->mem.virt)
		unic_dma_free(&p->mem);
	memset(&p->mem, 0, sizeof p->mem);
	p->shared = NULL;
}

/* ACTIVATE_DEV: its result is 0 when the device took the configuration. */
static int vmx_activate_cmd(struct unic_dev *dev)
{
	uint32_t st = vmx_cmd(vmx_priv(dev), VMXNET3_CMD_ACTIVATE_DEV);

	if (vmx_check_removed(dev, st))
		return removed_error(dev);
	if (st)
		return unic_dev_error(dev, EIO, "vmxnet3: the device refused ACTIVATE_DEV (status %#x): it did not "
				      "accept the shared area; check the hypervisor's log", st);
	return 0;
}

static int activate(struct unic_dev *dev, struct vmx_priv *p)
{
	int r;

	unic_wmb(); /* the shared area and the rings are in memory before the device reads them */
	unic_write32(p->vd, VMXNET3_REG_DSAL, (uint32_t)p->mem.iova);
	unic_write32(p->vd, VMXNET3_REG_DSAH, (uint32_t)(p->mem.iova >> 32));
	if ((r = vmx_activate_cmd(dev)))
		return r;
	p->active = true;
	unic_write32(p->pt, VMXNET3_REG_IMR, VMXNET3_IMR_MASKED); /* vector 0: we poll */
	unic_write32(p->rxq.prod_reg, 0, p->rxq.fill);
	if ((r = vmx_post(dev, VMXNET3_CMD_UPDATE_RX_MODE)) || (r = vmx_post(dev, VMXNET3_CMD_UPDATE_VLAN_FILTERS)))
		return r;
	return vmx_post(dev, VMXNET3_CMD_UPDATE_MAC_FILTERS);
}

static int vmxnet3_start(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	int r;

	if ((r = vmx_queues_setup(dev)) || (r = activate(dev, p)))
		return r;
	snprintf(dev->features, sizeof dev->features, "vmxnet3 revision 1, UPT 1; 1 rx / 1 tx queue; "
		 "%u-byte rx buffers; mtu %u", p->rxq.buf_len, dev->cfg.mtu);
	return 0;
}

/* Quiesce and reset: the device stops all DMA before its rings and buffers are freed. */
static void vmxnet3_close(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);

	if (!p)
		return;
	if (!dev->removed && p->vd) {
		if (p->active)
			unic_write32(p->vd, VMXNET3_REG_CMD, VMXNET3_CMD_QUIESCE_DEV);
		unic_write32(p->vd, VMXNET3_REG_CMD, VMXNET3_CMD_RESET_DEV);
	}
	vmx_queues_free(dev);
	free(p);
	dev->priv = NULL;
}

static int vmxnet3_link(struct unic_dev *dev, struct unic_link *link)
{
	uint32_t v = vmx_cmd(vmx_priv(dev), VMXNET3_CMD_GET_LINK);

	if (dev->removed || vmx_check_removed(dev, v))
		return removed_error(dev);
	link->up = v & VMXNET3_LINK_UP;
	link->full_duplex = link->up; /* a virtual link has no half duplex */
	link->speed_mbps = link->up ? v >> VMXNET3_LINK_SPEED_SHIFT : 0;
	return 0;
}

/* GET_STATS makes the device write the UPT1 counters into the queue descriptors. */
static int vmxnet3_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct vmx_priv *p = vmx_priv(dev);
	volatile struct vmx_tx_queue_desc *t;
	volatile struct vmx_rx_queue_desc *r = p->rxq.qd;

	if (dev->removed || !p->active)
		return dev->removed ? removed_error(dev) : 0;
	if (vmx_post(dev, VMXNET3_CMD_GET_STATS))
		return -ENODEV;
	unic_rmb();
	t = (volatile struct vmx_tx_queue_desc *)((volatile uint8_t *)r - sizeof *t);
	st->hw_tx_packets = t->stats.ucast_pkts + t->stats.mcast_pkts + t->stats.bcast_pkts;
	st->hw_rx_packets = r->stats.ucast_pkts + r->stats.mcast_pkts + r->stats.bcast_pkts;
	st->hw_rx_missed = r->stats.out_of_buf_pkts;
	return 0;
}

static int vmxnet3_set_promisc(struct unic_dev *dev, bool on)
{
	struct vmx_priv *p = vmx_priv(dev);

	if (dev->removed)
		return removed_error(dev);
	if (!p->shared)
		return 0;
	p->shared->rx_filter.rx_mode = rx_mode(on);
	unic_wmb();
	return vmx_post(dev, VMXNET3_CMD_UPDATE_RX_MODE);
}

/* unic_last_error(): a queue the device lied to stops; say which and what to do. */
static int vmxnet3_check(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	bool rx, tx;

	if (!p)
		return 0;
	if (dev->removed)
		return removed_error(dev);
	rx = __atomic_load_n(&p->rxq.broken, __ATOMIC_RELAXED);
	tx = __atomic_load_n(&p->txq.broken, __ATOMIC_RELAXED);
	if (rx || tx)
		return unic_dev_error(dev, EIO, "vmxnet3 %s: %s queue 0 stopped: the device wrote a completion for a "
				      "descriptor or ring it was not given (counted in bad_device); close and reopen it",
				      dev->spec.pci_addr, rx ? "rx" : "tx");
	return 0;
}

static bool vmxnet3_match(uint16_t vendor, uint16_t device)
{
	return vendor == VMXNET3_VENDOR && device == VMXNET3_DEVICE;
}

const struct unic_driver unic_driver_vmxnet3 = {
	.name = "vmxnet3",
	.match = vmxnet3_match,
	.probe = vmxnet3_probe,
	.start = vmxnet3_start,
	.close = vmxnet3_close,
	.rx_burst = vmx_rx_burst,
	.tx_burst = vmx_tx_burst,
	.stats = vmxnet3_stats,
	.link = vmxnet3_link,
	.set_promisc = vmxnet3_set_promisc,
	.check = vmxnet3_check,
};
