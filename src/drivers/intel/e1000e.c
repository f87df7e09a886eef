/* e1000e.c - placeholder until the driver lands: matches nothing. */
#include <errno.h>

#include "internal.h"

static bool e1000e_match(uint16_t vendor, uint16_t device) { return false; }
static int e1000e_probe(struct unic_dev *dev) { return -ENOTSUP; }

const struct unic_driver unic_driver_e1000e = {
	.name = "e1000e",
	.match = e1000e_match,
	.probe = e1000e_probe,
	.start = e1000e_probe,
};
