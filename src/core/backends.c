/*
 * backends.c - the one list of access methods: spec prefix, what follows it, and the
 * probe that takes the device. The core finds everything else through this table, so a
 * new backend is its own folder (src/backends/NAME/) plus one row here.
 *
 * A row whose folder is not in the build (UNIC_HAVE_<NAME> comes from the Makefile, one
 * per folder under src/backends/) is still parsed, so the spec is understood and unic_open
 * can say that this build lacks it.
 */
#include "internal.h"

#ifdef UNIC_HAVE_AF_XDP
#define AF_XDP_PROBE unic_af_xdp_probe
#else
#define AF_XDP_PROBE NULL
#endif
#ifdef UNIC_HAVE_AF_PACKET
#define AF_PACKET_PROBE unic_af_packet_probe
#else
#define AF_PACKET_PROBE NULL
#endif
#ifdef UNIC_HAVE_TAP
#define TAP_PROBE unic_tap_probe
#else
#define TAP_PROBE NULL
#endif

static const struct unic_backend backends[] = {
	/* PCI devices: found by address, driven by a driver of src/drivers/ (dev.c's PCI path) */
	{ "vfio", UNIC_ACCESS_VFIO, UNIC_SPEC_PCI, 0, NULL, "vfio:BDF" },
	{ "vfio-noiommu", UNIC_ACCESS_VFIO_NOIOMMU, UNIC_SPEC_PCI, 0, NULL, "vfio-noiommu:BDF" },
	{ "sysfs", UNIC_ACCESS_SYSFS, UNIC_SPEC_PCI, 0, NULL, "sysfs:BDF" },
	{ "uio", UNIC_ACCESS_UIO, UNIC_SPEC_PCI, 0, NULL, "uio:BDF" },
	/* everything else: the probe binds a driver (dev->drv) to its transport */
	{ "vhost-user", UNIC_ACCESS_VHOST_USER, UNIC_SPEC_PATH, 0, unic_vhost_user_probe,
	  "vhost-user:PATH[,server[,uid=N]]" },
	{ "af_xdp", UNIC_ACCESS_AF_XDP, UNIC_SPEC_IFNAME, UNIC_OPT_QUEUE | UNIC_OPT_QUEUES | UNIC_OPT_XDP_MODE,
	  AF_XDP_PROBE, "af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy]" },
	{ "af_packet", UNIC_ACCESS_AF_PACKET, UNIC_SPEC_IFNAME, UNIC_OPT_QUEUES, AF_PACKET_PROBE,
	  "af_packet:IFNAME[,queues=N]" },
	{ "tap", UNIC_ACCESS_TAP, UNIC_SPEC_IFNAME, UNIC_OPT_QUEUES, TAP_PROBE, "tap:NAME[,queues=N]" },
};

const struct unic_backend *unic_backend_by_prefix(const char *spec, size_t *prefix_len)
{
	size_t i;

	for (i = 0; i < UNIC_ARRAY_SIZE(backends); i++) {
		size_t n = strlen(backends[i].name);
		if (!strncmp(spec, backends[i].name, n) && spec[n] == ':') {
			*prefix_len = n + 1;
			return &backends[i];
		}
	}
	return NULL;
}

const struct unic_backend *unic_backend_by_access(enum unic_access a)
{
	size_t i;

	for (i = 0; i < UNIC_ARRAY_SIZE(backends); i++)
		if (backends[i].access == a)
			return &backends[i];
	return NULL;
}

const char *unic_access_name(enum unic_access a)
{
	const struct unic_backend *b = unic_backend_by_access(a);

	return b ? b->name : "none";
}
