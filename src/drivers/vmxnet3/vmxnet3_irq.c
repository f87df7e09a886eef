/*
 * vmxnet3_irq.c - vmxnet3 interrupts: sleep when idle (defs.h; QEMU hw/net/vmxnet3.c).
 *
 * Chosen at start from what the access method offers (src/core/irq.c), before the shared
 * area is written: the device reads every interrupt index once, at ACTIVATE_DEV.
 *   - MSI-X (VFIO): vector 0 is the event interrupt (link changes, DriverShared.ecr), vector
 *     1 + q wakes rx queue q, and every tx queue completes on vector nrx + 1, which stays
 *     masked (a tx completion wakes nobody). autoMask is on: a vector masks itself when it
 *     fires, so an armed queue wakes once; arming writes 0 to its IMR, disarming 1.
 *   - INTx (uio): one line and every interrupt index 0 (QEMU's model aborts QEMU itself on any
 *     other index when MSI-X is off). autoMask is off: the one vector stays unmasked, so link
 *     changes are never missed; reading ICR lowers the line, and uio_pci_generic's own
 *     masking (PCI command INTx-disable) is undone by unic_irq_unmask. Every rx queue and the
 *     event have a listener of their own on the line: a queue may wake for another's frame.
 * Arming never loses a wake-up: the stale wake-up is consumed, the vector unmasked, then the
 * ring is looked at again. A cause that came while a vector was masked stays pending in the
 * device and fires at the unmask: such an arm may wake once for a frame already taken.
 */
#include <errno.h>
#include <stdio.h>

#include "vmxnet3.h"

static struct vmx_priv *vmx_priv(struct unic_dev *dev)
{
	return dev->priv;
}

static void imr_write(struct vmx_priv *p, unsigned idx, uint32_t v)
{
	unic_write32(p->pt, VMXNET3_REG_IMR + VMXNET3_REG_ALIGN * idx, v);
}

/* A wake-up descriptor for the event and for every rx queue: MSI-X when the device has the vectors. */
void vmx_irq_choose(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	unsigned want = dev->cfg.rx_queues + 1u; /* the event's and the rx queues'; the tx vector has none */
	int r;

	p->irq = VMX_IRQ_NONE;
	p->irq_err[0] = 0;
	if (dev->spec.access == UNIC_ACCESS_SYSFS)
		return; /* the core answers for sysfs */
	if (unic_irq_vectors(dev, UNIC_IRQ_MSIX) > want) { /* > : the tx queues' vector must exist too */
		if (!(r = unic_irq_setup(dev, UNIC_IRQ_MSIX, want)))
			p->irq = VMX_IRQ_MSIX;
	} else if (unic_irq_vectors(dev, UNIC_IRQ_INTX) >= want) {
		if (!(r = unic_irq_setup(dev, UNIC_IRQ_INTX, want)))
			p->irq = VMX_IRQ_INTX;
	} else {
		r = unic_dev_error(dev, ENOTSUP, "%s: vmxnet3 needs MSI-X (VFIO) or the INTx line (uio:) to "
				   "interrupt; %s offers neither", dev->spec.pci_addr, unic_access_name(dev->spec.access));
	}
	if (r) {
		snprintf(p->irq_err, sizeof p->irq_err, "%.95s", dev->err);
		dev->err[0] = 0; /* the device works without: polling only */
		UNIC_DEBUG("%s: no interrupts: %s", dev->spec.pci_addr, p->irq_err);
	}
}

uint8_t vmx_rxq_intr_idx(const struct vmx_priv *p, uint16_t q)
{
	return (uint8_t)(p->irq == VMX_IRQ_MSIX ? q + 1u : 0u);
}

uint8_t vmx_txq_intr_idx(const struct vmx_priv *p)
{
	return (uint8_t)(p->irq == VMX_IRQ_MSIX ? p->nrx + 1u : 0u);
}

/* DriverShared.intrConf for the mode chosen. */
void vmx_irq_intr_conf(const struct vmx_priv *p, volatile struct vmx_intr_conf *c)
{
	unsigned i, n = p->irq == VMX_IRQ_MSIX ? p->nrx + 2u : 1u;

	c->auto_mask = p->irq == VMX_IRQ_MSIX;
	c->num_intrs = (uint8_t)n;
	c->event_intr_idx = VMX_EVENT_VEC;
	for (i = 0; i < n; i++)
		c->mod_levels[i] = VMXNET3_IML_NONE; /* a lone frame wakes its queue at once */
	c->intr_ctrl = p->irq == VMX_IRQ_NONE ? VMXNET3_IC_DISABLE_ALL : 0;
}

/* After ACTIVATE_DEV: queues masked (they poll until armed), the event vector open. */
void vmx_irq_start(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint16_t q;

	if (p->irq == VMX_IRQ_NONE) {
		imr_write(p, VMX_EVENT_VEC, VMXNET3_IMR_MASKED); /* every index is 0: nothing interrupts */
		return;
	}
	if (p->irq == VMX_IRQ_MSIX) {
		for (q = 0; q < p->nrx; q++)
			imr_write(p, vmx_rxq_intr_idx(p, q), VMXNET3_IMR_MASKED);
		imr_write(p, vmx_txq_intr_idx(p), VMXNET3_IMR_MASKED);
	} else {
		(void)unic_read32(p->vd, VMXNET3_REG_ICR); /* a line left high by the reset goes down */
	}
	p->link_seen = vmx_link_word(dev) & VMXNET3_LINK_UP;
	imr_write(p, VMX_EVENT_VEC, VMXNET3_IMR_UNMASKED);
	unic_irq_unmask(dev);
}

static int irq_off(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);

	if (dev->removed)
		return unic_dev_error(dev, ENODEV, "%s: the device is gone", dev->spec.pci_addr);
	return unic_dev_error(dev, ENOTSUP, "%s: vmxnet3 has no interrupts here (%s): poll the queue",
			      dev->spec.pci_addr, p->irq_err[0] ? p->irq_err : "not set up");
}

int vmx_rx_intr_fd(struct unic_dev *dev, void *rxq)
{
	struct vmx_rxq *q = rxq;

	if (vmx_priv(dev)->irq == VMX_IRQ_NONE)
		return irq_off(dev);
	return unic_irq_fd(dev, q->vec);
}

int vmx_rx_intr_enable(void *rxq)
{
	struct vmx_rxq *q = rxq;
	struct unic_dev *dev = q->dev;
	struct vmx_priv *p = vmx_priv(dev);

	if (unic_unlikely(p->irq == VMX_IRQ_NONE || dev->removed))
		return -(dev->removed ? ENODEV : ENOTSUP);
	if (unic_unlikely(q->broken))
		return -EIO; /* a lying queue would be slept on forever */
	unic_irq_drain(dev, q->vec); /* a wake-up left from before: anything after the unmask is new */
	if (p->irq == VMX_IRQ_INTX)
		(void)unic_read32(p->vd, VMXNET3_REG_ICR); /* lowers the line: the next cause raises it */
	else
		imr_write(p, vmx_rxq_intr_idx(p, q->id), VMXNET3_IMR_UNMASKED);
	if (unic_irq_unmask(dev))
		return -EIO;
	unic_mb(); /* the unmask reaches the device before the ring is looked at again */
	if (vmx_check_removed(dev, unic_read32(p->vd, VMXNET3_REG_VRRS)))
		return -ENODEV;
	if (!vmx_rx_ready(q))
		return 0;
	vmx_rx_intr_disable(q); /* the caller receives instead of sleeping: no interrupt for that frame */
	return 1;
}

int vmx_rx_intr_disable(void *rxq)
{
	struct vmx_rxq *q = rxq;
	struct vmx_priv *p = vmx_priv(q->dev);

	if (unic_unlikely(p->irq == VMX_IRQ_NONE))
		return -ENOTSUP;
	if (p->irq == VMX_IRQ_MSIX) /* INTx: the one vector stays open for link changes */
		imr_write(p, vmx_rxq_intr_idx(p, q->id), VMXNET3_IMR_MASKED);
	unic_irq_drain(q->dev, q->vec);
	return 0;
}

int vmx_event_fd(struct unic_dev *dev)
{
	if (vmx_priv(dev)->irq == VMX_IRQ_NONE)
		return irq_off(dev);
	return unic_irq_fd(dev, VMX_EVENT_VEC);
}

/*
 * Events since the last call: DriverShared.ecr (written by the device; only its LINK bit is
 * used, and every bit seen is acknowledged through the ECR register), or GET_LINK unlike the
 * state last reported (a flap that the device folded into one event still counts).
 */
int vmx_event_ack(struct unic_dev *dev)
{
	struct vmx_priv *p = vmx_priv(dev);
	uint32_t ecr, link;
	bool up;

	if (p->irq == VMX_IRQ_NONE)
		return irq_off(dev);
	unic_irq_drain(dev, VMX_EVENT_VEC);
	if (p->irq == VMX_IRQ_INTX)
		(void)unic_read32(p->vd, VMXNET3_REG_ICR);
	unic_rmb();
	ecr = p->shared->ecr;
	if (ecr)
		unic_write32(p->vd, VMXNET3_REG_ECR, ecr);
	if (ecr & (VMXNET3_ECR_RQERR | VMXNET3_ECR_TQERR))
		UNIC_WARN("%s: vmxnet3 reports a queue error (event %#x)", dev->spec.pci_addr, ecr);
	link = vmx_link_word(dev);
	if (dev->removed)
		return UNIC_EVENT_REMOVED;
	imr_write(p, VMX_EVENT_VEC, VMXNET3_IMR_UNMASKED); /* MSI-X: autoMask closed it when it fired */
	unic_irq_unmask(dev);
	up = link & VMXNET3_LINK_UP;
	if (!(ecr & VMXNET3_ECR_LINK) && up == p->link_seen)
		return 0;
	p->link_seen = up;
	return UNIC_EVENT_LINK;
}
