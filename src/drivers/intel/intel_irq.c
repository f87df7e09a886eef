/*
 * intel_irq.c - interrupts on the 82576 (igb), the 82574L (e1000e) and the 82540EM (e1000): sleep when idle.
 *
 * Two ways, chosen at start from what the access method offers (src/core/irq.c):
 *   - MSI-X (VFIO): vector 0 for link and other causes, vector q + 1 for rx queue q; each
 *     queue has its own mask bit (igb EIMS/EIMC, 82576 7.3; 82574 IMS RXQn, 82574 7.4).
 *   - one shared line (INTx through UIO or VFIO, or VFIO MSI when MSI-X is missing or
 *     UNIC_IRQ says so; the e1000 has only INTx): every queue's frames
 *     raise ICR.RXT0 (82576: RXDW, the same bit), link changes ICR.LSC; ICR is clear on read,
 *     so what a read saw is kept in icr_seen for the link event.
 * Arming never loses a wake-up: the stale cause is cleared first, then the mask bit is set,
 * then the ring is looked at again (a frame that landed in between is returned, not slept on;
 * one that lands after the arm raises the interrupt). Throttling is off (EITR/ITR 0): QEMU
 * models it with timers, and a lone frame should wake the queue within microseconds.
 */
#include <errno.h>
#include <stdio.h>

#include "intel_common.h"

#define INTEL_OTHER_VEC 0u       /* MSI-X vector of link / other causes (DPDK and Linux do the same) */

/*
 * A wake-up descriptor for every rx queue and the link: MSI-X when there are enough vectors, then
 * MSI (VFIO: one message, edge-triggered), then the INTx line (UIO, or VFIO); on MSI and INTx the
 * core gives each queue and the link a listener of the one interrupt.
 */
static int irq_choose(struct unic_dev *dev, struct intel_priv *p)
{
	static const enum unic_irq_kind lines[] = { UNIC_IRQ_MSI, UNIC_IRQ_INTX };
	unsigned want = p->nrx + 1u, i;

	if (p->chip->msix_setup && unic_irq_vectors(dev, UNIC_IRQ_MSIX) >= want)
		return unic_irq_setup(dev, UNIC_IRQ_MSIX, want);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		if (unic_irq_vectors(dev, lines[i]) >= want)
			return unic_irq_setup(dev, lines[i], want);
	return unic_dev_error(dev, ENOTSUP, "%s: offers no interrupt through %s", dev->spec.pci_addr,
			      unic_access_name(dev->spec.access));
}

/* Shared line: every source is ICR.RXT0 / LSC through IMS/IMC; ICR is read, not written. */
static void icr_bits(struct unic_dev *dev, struct intel_priv *p)
{
	uint16_t q;

	for (q = 0; q < p->nrx; q++)
		p->rxq[q].irq = (struct intel_irq_bits){ .arm = INTEL_IMS, .mask = INTEL_IMC, .bit = INTEL_ICR_RXT0,
							 .vec = dev->irq.n > 1 ? (uint16_t)(q + 1) : 0 };
	p->other = (struct intel_irq_bits){ .arm = INTEL_IMS, .mask = INTEL_IMC, .bit = INTEL_ICR_LSC, .vec = 0 };
	intel_wr(p, INTEL_ITR, 0);
}

/* ICR is clear on read: keep what it said for the link event. */
static uint32_t icr_collect(struct intel_priv *p)
{
	uint32_t icr = intel_rd(p, INTEL_ICR);

	if (icr == UINT32_MAX)
		return 0;
	atomic_fetch_or_explicit(&p->icr_seen, icr, memory_order_relaxed);
	return icr;
}

/* The core's interrupts are set up (MSI-X, or listeners of one line): route and arm the device. */
void intel_irq_attach(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);

	p->icr_mode = dev->irq.kind != UNIC_IRQ_MSIX;
	if (p->icr_mode)
		icr_bits(dev, p);
	else
		p->chip->msix_setup(p);
	p->link_seen = intel_rd(p, INTEL_STATUS) & INTEL_STATUS_LU;
	icr_collect(p);
	atomic_store(&p->icr_seen, 0);
	intel_wr(p, INTEL_IMS, INTEL_ICR_LSC); /* link changes always wake the event descriptor */
	intel_wr(p, p->other.arm, p->other.bit);
	unic_irq_unmask(dev);
	p->irq_on = true;
}

void intel_irq_start(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	int r;

	p->irq_on = false;
	if (dev->spec.access == UNIC_ACCESS_SYSFS)
		return; /* the core answers for sysfs: */
	r = irq_choose(dev, p);
	if (r) {
		snprintf(p->irq_err, sizeof p->irq_err, "%.95s", dev->err);
		dev->err[0] = 0; /* the device works without: polling only */
		UNIC_DEBUG("%s: no interrupts: %s", dev->spec.pci_addr, p->irq_err);
		return;
	}
	intel_irq_attach(dev);
}

static int irq_off(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);

	if (dev->removed)
		return unic_dev_error(dev, ENODEV, "%s: the device is gone", dev->spec.pci_addr);
	return unic_dev_error(dev, ENOTSUP, "%s: %s has no interrupts here (%s): poll the queue", dev->spec.pci_addr,
			      dev->drv->name, p->irq_err[0] ? p->irq_err : "not set up");
}

int intel_rx_intr_fd(struct unic_dev *dev, void *rxq)
{
	struct intel_rxq *q = rxq;

	if (!intel_priv(dev)->irq_on)
		return irq_off(dev);
	return unic_irq_fd(dev, q->irq.vec);
}

/* Has the device written the next descriptor back? (read once; the burst checks the rest) */
static int rx_ready(const struct intel_rxq *q, bool legacy)
{
	volatile union intel_rx_desc *d = &q->ring[q->next];

	if (legacy) /* 8254x 3.2.3: the status byte sits after length and checksum */
		return (d->legacy.staterr & INTEL_RXD_STAT_DD) ? 1 : 0;
	return (d->wb.staterr & INTEL_RXD_STAT_DD) ? 1 : 0;
}

int intel_rx_intr_enable(void *rxq)
{
	struct intel_rxq *q = rxq;
	struct unic_dev *dev = q->dev;
	struct intel_priv *p = intel_priv(dev);

	if (unic_unlikely(!p->irq_on || dev->removed))
		return -(dev->removed ? ENODEV : ENOTSUP);
	if (p->icr_mode) {
		/* clears the line's causes: the next frame raises it. A link change that came while
		 * the line was masked (VFIO INTx between a wake and the next unmask) raised nothing:
		 * wake the event descriptor for it here. */
		if (icr_collect(p) & INTEL_ICR_LSC)
			unic_irq_kick(dev, p->other.vec);
	} else {
		intel_wr(p, q->irq.ack, q->irq.bit); /* a cause left from polling would wake at once */
	}
	intel_wr(p, q->irq.arm, q->irq.bit);
	if (unic_irq_unmask(dev))
		return -EIO;
	unic_mb(); /* the arm reaches the device before the ring is looked at again */
	if (intel_check_removed(dev, intel_rd(p, INTEL_STATUS)))
		return -ENODEV;
	return rx_ready(q, p->chip->legacy_rx);
}

int intel_rx_intr_disable(void *rxq)
{
	struct intel_rxq *q = rxq;
	struct unic_dev *dev = q->dev;
	struct intel_priv *p = intel_priv(dev);

	if (unic_unlikely(!p->irq_on))
		return -ENOTSUP;
	/* a shared cause bit stays armed for the other queues (the line is masked anyway after it fired) */
	if (!p->icr_mode || p->nrx == 1)
		intel_wr(p, q->irq.mask, q->irq.bit);
	unic_irq_drain(dev, q->irq.vec);
	return 0;
}

int intel_event_fd(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);

	if (!p->irq_on)
		return irq_off(dev);
	return unic_irq_fd(dev, p->other.vec);
}

/* Link changes: ICR.LSC since the last call, or STATUS.LU unlike the last one seen. */
int intel_event_ack(struct unic_dev *dev)
{
	struct intel_priv *p = intel_priv(dev);
	uint32_t icr, status;
	bool lu;

	if (!p->irq_on)
		return irq_off(dev);
	unic_irq_drain(dev, p->other.vec);
	icr = intel_rd(p, INTEL_ICR);
	status = intel_rd(p, INTEL_STATUS);
	if (intel_check_removed(dev, status))
		return UNIC_EVENT_REMOVED;
	intel_wr(p, INTEL_ICR, icr & INTEL_ICR_LSC); /* MSI-X keeps ICR: clear what was taken */
	icr |= atomic_exchange(&p->icr_seen, 0);
	lu = status & INTEL_STATUS_LU;
	/* the 82574 under MSI-X auto-clears IMS.OTHER and the causes behind it (LSC) when it fires */
	intel_wr(p, INTEL_IMS, INTEL_ICR_LSC);
	intel_wr(p, p->other.arm, p->other.bit);
	unic_irq_unmask(dev);
	if (!(icr & INTEL_ICR_LSC) && lu == p->link_seen)
		return 0;
	p->link_seen = lu;
	return UNIC_EVENT_LINK;
}
