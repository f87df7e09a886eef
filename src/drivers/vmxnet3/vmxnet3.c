/*
 * vmxnet3.c - VMware vmxnet3 (15ad:07b0): identification only so far.
 *
 * Register layout from the vmxnet3 device interface as Linux documents it in
 * drivers/net/vmxnet3/vmxnet3_defs.h: BAR0 is the "PT" page (doorbells),
 * BAR1 the "VD" page with version, command and MAC registers.
 * The data path is not written yet: start() says so instead of pretending.
 */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

#define VMXNET3_VENDOR 0x15ad
#define VMXNET3_DEVICE 0x07b0
#define VMXNET3_BAR_VD 1
/* vmxnet3_defs.h, enum of BAR1 registers */
#define VMXNET3_REG_VRRS 0x00 /* revision report/selection: bit n = revision n+1 */
#define VMXNET3_REG_UVRS 0x08 /* UPT version report/selection */
#define VMXNET3_REG_CMD 0x20
#define VMXNET3_REG_MACL 0x28
#define VMXNET3_REG_MACH 0x30
#define VMXNET3_CMD_RESET_DEV 0xcafe0002u /* VMXNET3_CMD_FIRST_SET + 2 */
#define VMXNET3_REV1 0x1u

static bool vmxnet3_match(uint16_t vendor, uint16_t device)
{
	return vendor == VMXNET3_VENDOR && device == VMXNET3_DEVICE;
}

static int vmxnet3_probe(struct unic_dev *dev)
{
	void *vd = dev->bars[VMXNET3_BAR_VD].addr;
	uint32_t lo, hi, rev;

	if (!vd || dev->bars[VMXNET3_BAR_VD].size < VMXNET3_REG_MACH + 4)
		return unic_dev_error(dev, ENODEV, "vmxnet3: BAR1 is not mapped");
	rev = unic_read32(vd, VMXNET3_REG_VRRS);
	if (rev == UINT32_MAX)
		return unic_dev_error(dev, ENODEV, "vmxnet3: device reads all-ones (removed?)");
	if (!(rev & VMXNET3_REV1))
		return unic_dev_error(dev, ENOTSUP, "vmxnet3: device does not offer revision 1 (VRRS %#x)", rev);
	unic_write32(vd, VMXNET3_REG_VRRS, VMXNET3_REV1);
	unic_write32(vd, VMXNET3_REG_UVRS, 1);
	lo = unic_read32(vd, VMXNET3_REG_MACL);
	hi = unic_read32(vd, VMXNET3_REG_MACH);
	dev->mac[0] = (uint8_t)lo;
	dev->mac[1] = (uint8_t)(lo >> 8);
	dev->mac[2] = (uint8_t)(lo >> 16);
	dev->mac[3] = (uint8_t)(lo >> 24);
	dev->mac[4] = (uint8_t)hi;
	dev->mac[5] = (uint8_t)(hi >> 8);
	snprintf(dev->features, sizeof dev->features, "identification only");
	return 0;
}

static int vmxnet3_start(struct unic_dev *dev)
{
	return unic_dev_error(dev, ENOTSUP, "vmxnet3: the data path is not implemented yet; open it with probe_only");
}

static void vmxnet3_close(struct unic_dev *dev)
{
	void *vd = dev->bars[VMXNET3_BAR_VD].addr;

	if (vd && !dev->removed)
		unic_write32(vd, VMXNET3_REG_CMD, VMXNET3_CMD_RESET_DEV);
}

static uint16_t no_burst(void *q, struct unic_buf **bufs, uint16_t n)
{
	return 0;
}

const struct unic_driver unic_driver_vmxnet3 = {
	.name = "vmxnet3",
	.match = vmxnet3_match,
	.probe = vmxnet3_probe,
	.start = vmxnet3_start,
	.close = vmxnet3_close,
	.rx_burst = no_burst,
	.tx_burst = no_burst,
};
