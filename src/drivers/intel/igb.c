/* igb.c - placeholder until the driver lands: matches nothing. */
#include <errno.h>

#include "internal.h"

static bool igb_match(uint16_t vendor, uint16_t device) { return false; }
static int igb_probe(struct unic_dev *dev) { return -ENOTSUP; }

const struct unic_driver unic_driver_igb = {
	.name = "igb",
	.match = igb_match,
	.probe = igb_probe,
	.start = igb_probe,
};
