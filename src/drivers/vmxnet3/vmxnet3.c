/*
 * vmxnet3.c - VMware vmxnet3 (15ad:07b0): control path.
 *
 * Init order (defs.h; QEMU hw/net/vmxnet3.c; Linux vmxnet3_drv.c's order):
 *   reset; revision 1 and UPT 1 selected through VRRS/UVRS; MAC from MACL/MACH;
 *   the interrupt mode (vmxnet3_irq.c: it decides every interrupt index the
 *   device reads at activation); one DMA region with the DriverShared area
 *   (magic, driver info, queue descriptor table address, interrupt config, rx
 *   filter config, RSS config), the queue descriptor table (the tx queue descs,
 *   then the rx queue descs), the RSS config (UPT1_RSSConf) with more than one
 *   rx queue, per tx queue its command, data and completion rings, per rx queue
 *   rings 1 and 2 and its completion ring; rx rings 1 filled; DSAL then DSAH
 *   (the device latches the address on DSAH); ACTIVATE_DEV and its status;
 *   UPDATE_RX_MODE (QEMU's model drops every frame until then),
 *   UPDATE_VLAN_FILTERS, UPDATE_MAC_FILTERS.
 * Close: QUIESCE_DEV, RESET_DEV, then the memory is freed.
 *
 * Queues: up to 8 tx and 8 rx (revision 1). With more than one rx queue,
 * UPT1_F_RSS and a Toeplitz RSS config (IPv4/IPv6, TCP) spread flows; QEMU's
 * model ignores both and writes every frame to rx queue 0 (its receive path
 * names queue 0 only), while it sends from every tx queue.
 * One buffer per frame (maxNumRxSG = 1): ring 2 (body buffers) is set up at its
 * smallest size and never given to the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmxnet3.h"


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

	if (c->rx_queues < 1 || c->rx_queues > VMXNET3_MAX_QUEUES || c->tx_queues < 1 ||
	    c->tx_queues > VMXNET3_MAX_QUEUES)
		return unic_dev_error(dev, EINVAL, "vmxnet3 has 1 to %u rx and tx queues (asked %u rx, %u tx)",
				      VMXNET3_MAX_QUEUES, c->rx_queues, c->tx_queues);
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
	size_t qdesc, rss;
	size_t rx_ring[VMXNET3_MAX_QUEUES], rx_ring2[VMXNET3_MAX_QUEUES], rx_comp[VMXNET3_MAX_QUEUES];
	size_t tx_ring[VMXNET3_MAX_QUEUES], tx_data[VMXNET3_MAX_QUEUES], tx_comp[VMXNET3_MAX_QUEUES];
	size_t total;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

static void plan(const struct unic_dev *dev, struct vmx_layout *l)
{
	size_t d = sizeof(struct vmx_desc), rx = dev->cfg.rx_ring_size, tx = dev->cfg.tx_ring_size, at;
	uint16_t q;

	l->qdesc = align_up(sizeof(struct vmx_shared), VMXNET3_QUEUE_DESC_ALIGN);
	at = l->qdesc + dev->cfg.tx_queues * sizeof(struct vmx_tx_queue_desc) +
	     dev->cfg.rx_queues * sizeof(struct vmx_rx_queue_desc);
	l->rss = align_up(at, VMXNET3_QUEUE_DESC_ALIGN);
	at = l->rss + sizeof(struct vmx_rss_conf);
	for (q = 0; q < dev->cfg.rx_queues; q++) {
		l->rx_ring[q] = align_up(at, VMXNET3_RING_ALIGN);
		l->rx_ring2[q] = align_up(l->rx_ring[q] + rx * d, VMXNET3_RING_ALIGN);
		l->rx_comp[q] = align_up(l->rx_ring2[q] + VMXNET3_RING2_SIZE * d, VMXNET3_RING_ALIGN);
		at = l->rx_comp[q] + (rx + VMXNET3_RING2_SIZE) * d;
	}
	for (q = 0; q < dev->cfg.tx_queues; q++) {
		l->tx_ring[q] = align_up(at, VMXNET3_RING_ALIGN);
		l->tx_data[q] = align_up(l->tx_ring[q] + tx * d, VMXNET3_RING_ALIGN);
		l->tx_comp[q] = align_up(l->tx_data[q] + tx * VMXNET3_TXDATA_DESC_SIZE, VMXNET3_RING_ALIGN);
		at = l->tx_comp[q] + tx * d;
	}
	l->total = at;
}

static uint32_t rx_mode(bool promisc)
{
	return VMXNET3_RXM_UCAST | VMXNET3_RXM_BCAST | VMXNET3_RXM_MCAST | (promisc ? VMXNET3_RXM_PROMISC : 0);
}

/* RSS over the rx queues (UPT1_RSSConf): Toeplitz on IPv4/IPv6 and TCP, table entry i -> queue i % nrx. */
static void fill_rss(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l)
{
	volatile struct vmx_rss_conf *r = (volatile struct vmx_rss_conf *)((uint8_t *)p->mem.virt + l->rss);
	volatile struct vmx_shared *s = p->shared;
	uint32_t i;

	if (p->nrx < 2)
		return; /* one queue: no RSS (Linux does the same) */
	p->rss = r;
	r->hash_type = VMXNET3_RSS_HASH_IPV4 | VMXNET3_RSS_HASH_TCP_IPV4 | VMXNET3_RSS_HASH_IPV6 |
		       VMXNET3_RSS_HASH_TCP_IPV6;
	r->hash_func = VMXNET3_RSS_FUNC_TOEPLITZ;
	r->hash_key_size = VMXNET3_RSS_KEY_SIZE;
	r->ind_table_size = VMXNET3_RSS_IND_SIZE;
	for (i = 0; i < VMXNET3_RSS_KEY_SIZE; i++)
		r->hash_key[i] = unic_rss_default_key[i];
	for (i = 0; i < VMXNET3_RSS_IND_SIZE; i++)
		r->ind_table[i] = (uint8_t)(i % p->nrx);
	s->misc.upt_features |= VMXNET3_UPT1_F_RSS;
	s->rss.ver = VMXNET3_RSS_CONF_VER;
	s->rss.len = sizeof(struct vmx_rss_conf);
	s->rss.pa = p->mem.iova + l->rss;
	dev->rss_key_len = VMXNET3_RSS_KEY_SIZE;
	dev->rss_reta_size = VMXNET3_RSS_IND_SIZE;
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
	s->misc.upt_features = 0;          /* no checksum, VLAN or LRO offload; RSS below */
	s->misc.queue_desc_pa = p->mem.iova + l->qdesc;
	s->misc.queue_desc_len = (uint32_t)(p->ntx * sizeof(struct vmx_tx_queue_desc) +
					    p->nrx * sizeof(struct vmx_rx_queue_desc));
	s->misc.mtu = dev->cfg.mtu < VMXNET3_MIN_MTU ? VMXNET3_MIN_MTU : dev->cfg.mtu;
	s->misc.max_num_rx_sg = 1;         /* one buffer per frame */
	s->misc.num_tx_queues = (uint8_t)p->ntx;
	s->misc.num_rx_queues = (uint8_t)p->nrx;
	vmx_irq_intr_conf(p, &s->intr);
	s->rx_filter.rx_mode = rx_mode(dev->cfg.promisc);
	for (i = 0; i < VMXNET3_VFT_WORDS; i++)
		s->rx_filter.vf_table[i] = UINT32_MAX; /* no VLAN filtering: every VLAN id passes */
	fill_rss(dev, p, l);
}

static volatile struct vmx_tx_queue_desc *txq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t q)
{
	return (volatile struct vmx_tx_queue_desc *)((uint8_t *)p->mem.virt + l->qdesc) + q;
}

/* The rx queue descs follow all tx queue descs in the table (QEMU reads them there). */
static volatile struct vmx_rx_queue_desc *rxq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t q)
{
	return (volatile struct vmx_rx_queue_desc *)((uint8_t *)p->mem.virt + l->qdesc +
						      p->ntx * sizeof(struct vmx_tx_queue_desc)) + q;
}

static void fill_txq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t q, uint16_t size)
{
	volatile struct vmx_tx_queue_desc *t = txq_desc(p, l, q);

	t->tx_ring_pa = p->mem.iova + l->tx_ring[q];
	t->data_ring_pa = p->mem.iova + l->tx_data[q];
	t->comp_ring_pa = p->mem.iova + l->tx_comp[q];
	t->tx_ring_size = size;
	t->data_ring_size = size;
	t->comp_ring_size = size;
	t->intr_idx = vmx_txq_intr_idx(p);
}

static void fill_rxq_desc(struct vmx_priv *p, const struct vmx_layout *l, uint16_t q, uint16_t size)
{
	volatile struct vmx_rx_queue_desc *r = p->rxq[q].qd;

	r->rx_ring_pa[0] = p->mem.iova + l->rx_ring[q];
	r->rx_ring_pa[1] = p->mem.iova + l->rx_ring2[q];
	r->comp_ring_pa = p->mem.iova + l->rx_comp[q];
	r->rx_ring_size[0] = size;
	r->rx_ring_size[1] = VMXNET3_RING2_SIZE;
	r->comp_ring_size = (uint32_t)size + VMXNET3_RING2_SIZE; /* room for every buffer of both rings */
	r->intr_idx = vmx_rxq_intr_idx(p, q);
}

static int rxq_init(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l, uint16_t id,
		    uint16_t buf_len)
{
	struct vmx_rxq *q = &p->rxq[id];
	uint16_t n;

	q->dev = dev;
	q->id = id;
	q->vec = (uint16_t)(p->irq == VMX_IRQ_NONE ? 0 : id + 1); /* its descriptor: 0 is the event's */
	q->size = dev->cfg.rx_ring_size;
	q->comp_size = (uint16_t)(q->size + VMXNET3_RING2_SIZE);
	q->buf_len = buf_len;
	q->ring = (volatile struct vmx_desc *)((uint8_t *)p->mem.virt + l->rx_ring[id]);
	q->comp = (volatile struct vmx_comp *)((uint8_t *)p->mem.virt + l->rx_comp[id]);
	q->qd = rxq_desc(p, l, id);
	q->prod_reg = p->pt + VMXNET3_REG_RXPROD + VMXNET3_REG_ALIGN * id;
	q->bufs = calloc(q->size, sizeof *q->bufs);
	if (!q->bufs)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: out of memory");
	n = (uint16_t)(q->size - 1);
	if (unic_buf_alloc_bulk(dev->pool, q->bufs, n) != n)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: the mempool has too few free buffers for %u %u-entry rx "
				      "rings (raise pool_size)", p->nrx, q->size);
	fill_rxq_desc(p, l, id, q->size);
	vmx_rx_post_all(q);
	dev->rxq[id] = q;
	dev->rxq_stats[id] = &q->stats;
	return 0;
}

static int txq_init(struct unic_dev *dev, struct vmx_priv *p, const struct vmx_layout *l, uint16_t id)
{
	struct vmx_txq *q = &p->txq[id];

	q->dev = dev;
	q->id = id;
	q->size = dev->cfg.tx_ring_size;
	q->ring = (volatile struct vmx_desc *)((uint8_t *)p->mem.virt + l->tx_ring[id]);
	q->comp = (volatile struct vmx_comp *)((uint8_t *)p->mem.virt + l->tx_comp[id]);
	q->qd = txq_desc(p, l, id);
	q->prod_reg = p->pt + VMXNET3_REG_TXPROD + VMXNET3_REG_ALIGN * id;
	q->gen = q->comp_gen = VMXNET3_INIT_GEN;
	q->bufs = calloc(q->size, sizeof *q->bufs);
	if (!q->bufs)
		return unic_dev_error(dev, ENOMEM, "vmxnet3: out of memory");
	fill_txq_desc(p, l, id, q->size);
	dev->txq[id] = q;
	dev->txq_stats[id] = &q->stats;
	return 0;
}

/* Memory and rings, no register access (the hostile-device test calls this directly). */
int vmx_queues_setup(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	struct vmx_layout l;
	uint16_t buf_len = rx_buf_len(dev), q;
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
	p->nrx = dev->cfg.rx_queues;
	p->ntx = dev->cfg.tx_queues;
	fill_shared(dev, p, &l);
	for (q = 0; q < p->nrx; q++)
		if ((r = rxq_init(dev, p, &l, q, buf_len)))
			return r;
	for (q = 0; q < p->ntx; q++)
		if ((r = txq_init(dev, p, &l, q)))
			return r;
	dev->num_rxq = p->nrx;
	dev->num_txq = p->ntx;
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

static void rxq_free(struct vmx_rxq *q)
{
	free_bufs(q->bufs, q->size);
	unic_buf_free_bulk(q->spare, q->nspare);
	free(q->bufs);
	memset(q, 0, sizeof *q);
}

static void txq_free(struct vmx_txq *t)
{
	uint16_t k;

	for (k = 0; t->bufs && k < t->inflight; k++)
		unic_buf_free(t->bufs[(t->clean + k) % t->size]);
	free(t->bufs);
	memset(t, 0, sizeof *t);
}

void vmx_queues_free(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint16_t q;

	for (q = 0; q < VMXNET3_MAX_QUEUES; q++) {
		rxq_free(&p->rxq[q]);
		txq_free(&p->txq[q]);
		dev->rxq[q] = dev->txq[q] = NULL;
		dev->rxq_stats[q] = dev->txq_stats[q] = NULL;
	}
	dev->num_rxq = dev->num_txq = 0;
	p->nrx = p->ntx = 0;
	if (p->mem.virt)
		unic_dma_free(&p->mem);
	memset(&p->mem, 0, sizeof p->mem);
	p->shared = NULL;
	p->rss = NULL;
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
	uint16_t q;
	int r;

	unic_wmb(); /* the shared area and the rings are in memory before the device reads them */
	unic_write32(p->vd, VMXNET3_REG_DSAL, (uint32_t)p->mem.iova);
	unic_write32(p->vd, VMXNET3_REG_DSAH, (uint32_t)(p->mem.iova >> 32));
	if ((r = vmx_activate_cmd(dev)))
		return r;
	p->active = true;
	for (q = 0; q < p->nrx; q++)
		unic_write32(p->rxq[q].prod_reg, 0, p->rxq[q].fill);
	if ((r = vmx_post(dev, VMXNET3_CMD_UPDATE_RX_MODE)) || (r = vmx_post(dev, VMXNET3_CMD_UPDATE_VLAN_FILTERS)) ||
	    (r = vmx_post(dev, VMXNET3_CMD_UPDATE_MAC_FILTERS)))
		return r;
	vmx_irq_start(dev);
	return 0;
}

static int vmxnet3_start(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	static const char *const irq_names[] = { "polled", "MSI-X", "INTx" };
	int r;

	vmx_irq_choose(dev); /* before the shared area: it holds the interrupt indices */
	if ((r = vmx_queues_setup(dev)) || (r = activate(dev, p)))
		return r;
	snprintf(dev->features, sizeof dev->features, "vmxnet3 revision 1, UPT 1; %u rx / %u tx queues%s; "
		 "%u-byte rx buffers; mtu %u; %s", p->nrx, p->ntx, p->rss ? " (RSS)" : "", p->rxq[0].buf_len,
		 dev->cfg.mtu, irq_names[p->irq]);
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

/* GET_LINK's word (bit 0 up, speed in bits 31:16); all-ones when the device is gone. */
uint32_t vmx_link_word(struct unic_dev *dev)
{
	uint32_t v = vmx_cmd(vmx_priv(dev), VMXNET3_CMD_GET_LINK);

	vmx_check_removed(dev, v);
	return v;
}

static int vmxnet3_link(struct unic_dev *dev, struct unic_link *link)
{
	uint32_t v;

	if (dev->removed || (v = vmx_link_word(dev), dev->removed))
		return removed_error(dev);
	link->up = v & VMXNET3_LINK_UP;
	link->full_duplex = link->up; /* a virtual link has no half duplex */
	link->speed_mbps = link->up ? v >> VMXNET3_LINK_SPEED_SHIFT : 0;
	return 0;
}

static uint64_t tx_stats_packets(const volatile struct vmx_tx_queue_desc *t)
{
	return t->stats.ucast_pkts + t->stats.mcast_pkts + t->stats.bcast_pkts;
}

/* GET_STATS makes the device write the UPT1 counters into the queue descriptors: summed over queues. */
static int vmxnet3_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint16_t q;

	if (dev->removed || !p->active)
		return dev->removed ? removed_error(dev) : 0;
	if (vmx_post(dev, VMXNET3_CMD_GET_STATS))
		return -ENODEV;
	unic_rmb();
	for (q = 0; q < p->ntx; q++)
		st->hw_tx_packets += tx_stats_packets(p->txq[q].qd);
	for (q = 0; q < p->nrx; q++) {
		volatile struct vmx_rx_queue_desc *r = p->rxq[q].qd;
		st->hw_rx_packets += r->stats.ucast_pkts + r->stats.mcast_pkts + r->stats.bcast_pkts;
		st->hw_rx_missed += r->stats.out_of_buf_pkts;
	}
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

/*
 * A new indirection table: written into UPT1_RSSConf, then UPDATE_RSSIDT makes the device read
 * it again. The key is read only at ACTIVATE_DEV (revision 1 has no command to take a new one;
 * Linux refuses a key change too), so a new key is refused with a line and nothing changes.
 */
static int vmxnet3_set_rss(struct unic_dev *dev, const uint8_t *key, const uint16_t *reta)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint32_t i;

	if (dev->removed)
		return removed_error(dev);
	if (!p->rss)
		return unic_dev_error(dev, ENOTSUP, "vmxnet3: RSS needs more than one rx queue");
	if (key)
		return unic_dev_error(dev, ENOTSUP, "vmxnet3 takes its RSS key only when it is activated (revision 1 "
				      "has no command for a new one): the table can be changed, the key cannot");
	if (!reta)
		return 0;
	for (i = 0; i < VMXNET3_RSS_IND_SIZE; i++)
		p->rss->ind_table[i] = (uint8_t)reta[i];
	unic_wmb();
	return vmx_post(dev, VMXNET3_CMD_UPDATE_RSSIDT);
}

static int stopped_error(struct unic_dev *dev, const char *dir, uint16_t q)
{
	return unic_dev_error(dev, EIO, "vmxnet3 %s: %s queue %u stopped: the device wrote a completion for a "
			      "descriptor or ring it was not given (counted in bad_device); close and reopen it",
			      dev->spec.pci_addr, dir, q);
}

/* unic_last_error(): a queue the device lied to stops; say which and what to do. */
static int vmxnet3_check(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint16_t q;

	if (!p)
		return 0;
	if (dev->removed)
		return removed_error(dev);
	for (q = 0; q < p->nrx; q++)
		if (__atomic_load_n(&p->rxq[q].broken, __ATOMIC_RELAXED))
			return stopped_error(dev, "rx", q);
	for (q = 0; q < p->ntx; q++)
		if (__atomic_load_n(&p->txq[q].broken, __ATOMIC_RELAXED))
			return stopped_error(dev, "tx", q);
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
	.tx_reclaim = vmx_tx_reclaim,
	.stats = vmxnet3_stats,
	.link = vmxnet3_link,
	.set_promisc = vmxnet3_set_promisc,
	.set_rss = vmxnet3_set_rss,
	.check = vmxnet3_check,
	.rx_intr_fd = vmx_rx_intr_fd,
	.rx_intr_enable = vmx_rx_intr_enable,
	.rx_intr_disable = vmx_rx_intr_disable,
	.event_fd = vmx_event_fd,
	.event_ack = vmx_event_ack,
};
