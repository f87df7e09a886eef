/*
 * sysfs.h - PCI network devices as unic-devbind sees them through sysfs:
 * identity, kernel driver, kernel interfaces and whether they are in use,
 * IOMMU group; binding with driver_override, and a small state file that
 * remembers the original driver for --restore.
 *
 * The library does the same few things inside unic_open() (src/core/pci.c)
 * but keeps them private: its public API is devices, not sysfs. This copy is
 * the tool's own, on purpose small.
 */
#ifndef UNIC_SYSFS_H
#define UNIC_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYSFS_NAME_LEN 64
#define SYSFS_MAX_IFACES 4

struct sysfs_iface {
	char name[SYSFS_NAME_LEN];
	bool up;
	char in_use[128];    /* why it counts as in use ("" when it does not) */
};

struct sysfs_pci {
	char bdf[16];
	uint16_t vendor, device;
	uint32_t class_code;
	char driver[SYSFS_NAME_LEN];   /* "" when unbound */
	int iommu_group;               /* -1 when none */
	int n_ifaces;
	struct sysfs_iface ifaces[SYSFS_MAX_IFACES];
};

/* Fills d for bdf; -ENODEV when there is no such device. */
int sysfs_pci_read(const char *bdf, struct sysfs_pci *d);
/* Calls fn for every network-class (0x02) PCI device, sorted by address; returns the count. */
int sysfs_pci_each_network(void (*fn)(const struct sysfs_pci *d, void *arg), void *arg);
/* First interface of d that is up with an address or a route, or NULL. */
const struct sysfs_iface *sysfs_pci_busy_iface(const struct sysfs_pci *d);

bool sysfs_driver_exists(const char *driver);
/* 0 or -errno. bind goes through driver_override so no other device moves. */
int sysfs_unbind(const char *bdf);
int sysfs_bind(const char *bdf, const char *driver);

/* Where --bind/--unbind remember the original driver of a device; "" means it had none. */
#define SYSFS_STATE_DIR "/run/unic/devbind"
int sysfs_state_save(const char *bdf, const char *driver);   /* keeps an existing record */
int sysfs_state_load(const char *bdf, char *driver, size_t len);
int sysfs_state_forget(const char *bdf);

#endif
