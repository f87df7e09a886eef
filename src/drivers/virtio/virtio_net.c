/* virtio_net.c - placeholder until the driver lands: matches nothing. */
#include <errno.h>

#include "internal.h"

static bool virtio_net_match(uint16_t vendor, uint16_t device) { return false; }
static int virtio_net_probe(struct unic_dev *dev) { return -ENOTSUP; }

const struct unic_driver unic_driver_virtio_net = {
	.name = "virtio_net",
	.match = virtio_net_match,
	.probe = virtio_net_probe,
	.start = virtio_net_probe,
};
