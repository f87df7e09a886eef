/* sysfs.c - PCI network devices through sysfs, for unic-devbind (see sysfs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sysfs.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"
#define PCI_CLASS_NETWORK 0x02 /* PCI Code and ID Assignment Spec: base class 02h */

/* Bounded string copy (truncates). */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_text(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static unsigned long read_hex(const char *bdf, const char *file, int *err)
{
	char path[256], buf[32];

	snprintf(path, sizeof path, PCI_DEVICES "/%s/%s", bdf, file);
	if (read_text(path, buf, sizeof buf)) {
		*err = -ENODEV;
		return 0;
	}
	return strtoul(buf, NULL, 16);
}

/* Last path component of a symlink: the driver's name, the IOMMU group's number. */
static int link_name(const char *path, char *out, size_t len)
{
	char target[256];
	ssize_t n = readlink(path, target, sizeof target - 1);
	const char *slash;

	out[0] = 0;
	if (n < 0)
		return -errno;
	target[n] = 0;
	slash = strrchr(target, '/');
	copy_str(out, len, slash ? slash + 1 : target);
	return 0;
}

/* ---- is an interface in use? (like dpdk-devbind: up with an address or a route) ---- */

static bool has_route(const char *ifname)
{
	char line[512], dev[SYSFS_NAME_LEN];
	bool found = false;
	FILE *f = fopen("/proc/net/route", "r");

	if (f) {
		while (!found && fgets(line, sizeof line, f))
			found = sscanf(line, "%63s", dev) == 1 && !strcmp(dev, ifname);
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "r");
	if (f) {
		/* the device is the last column; every up interface has link-local and multicast routes */
		while (!found && fgets(line, sizeof line, f)) {
			const char *last = strrchr(line, ' ');
			found = last && sscanf(last, "%63s", dev) == 1 && !strcmp(dev, ifname) && strncmp(line, "fe80", 4) &&
				strncmp(line, "ff00", 4);
		}
		fclose(f);
	}
	return found;
}

static void iface_state(struct sysfs_iface *i)
{
	struct ifaddrs *all, *a;
	char path[128], buf[32], why[sizeof i->in_use] = "";

	snprintf(path, sizeof path, "/sys/class/net/%s/flags", i->name);
	i->up = !read_text(path, buf, sizeof buf) && (strtoul(buf, NULL, 16) & IFF_UP);
	i->in_use[0] = 0;
	if (!i->up)
		return;
	if (getifaddrs(&all) == 0) {
		for (a = all; a && !why[0]; a = a->ifa_next) {
			if (!a->ifa_addr || strcmp(a->ifa_name, i->name))
				continue;
			if (a->ifa_addr->sa_family == AF_INET ||
			    (a->ifa_addr->sa_family == AF_INET6 &&
			     !IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)(const void *)a->ifa_addr)->sin6_addr)))
				snprintf(why, sizeof why, "interface %s is up with an address", i->name);
		}
		freeifaddrs(all);
	}
	if (!why[0] && has_route(i->name))
		snprintf(why, sizeof why, "interface %s is up with a route", i->name);
	copy_str(i->in_use, sizeof i->in_use, why);
}

/* Does the interface's device path lie at or under the PCI device? (virtio-net hangs its
 * interface under a virtioN child, so PCI_DEVICES/BDF/net alone misses it.) */
static bool iface_of(const char *ifname, const char *bdf)
{
	char path[PATH_MAX], real[PATH_MAX], needle[32];
	size_t n;

	snprintf(path, sizeof path, "/sys/class/net/%s/device", ifname);
	if (!realpath(path, real))
		return false;
	snprintf(needle, sizeof needle, "/%s", bdf);
	n = strlen(needle);
	for (const char *p = strstr(real, needle); p; p = strstr(p + 1, needle))
		if (p[n] == 0 || p[n] == '/')
			return true;
	return false;
}

static void read_ifaces(struct sysfs_pci *d)
{
	struct dirent *e;
	DIR *dir = opendir("/sys/class/net");

	d->n_ifaces = 0;
	if (!dir)
		return;
	while ((e = readdir(dir)) && d->n_ifaces < SYSFS_MAX_IFACES) {
		struct sysfs_iface *i = &d->ifaces[d->n_ifaces];
		if (e->d_name[0] == '.' || !iface_of(e->d_name, d->bdf))
			continue;
		copy_str(i->name, sizeof i->name, e->d_name);
		iface_state(i);
		d->n_ifaces++;
	}
	closedir(dir);
}

int sysfs_pci_read(const char *bdf, struct sysfs_pci *d)
{
	char path[256], group[16];
	int err = 0;

	memset(d, 0, sizeof *d);
	snprintf(d->bdf, sizeof d->bdf, "%s", bdf);
	d->vendor = (uint16_t)read_hex(bdf, "vendor", &err);
	d->device = (uint16_t)read_hex(bdf, "device", &err);
	d->class_code = (uint32_t)read_hex(bdf, "class", &err);
	if (err)
		return err;
	snprintf(path, sizeof path, PCI_DEVICES "/%s/driver", bdf);
	link_name(path, d->driver, sizeof d->driver);
	snprintf(path, sizeof path, PCI_DEVICES "/%s/iommu_group", bdf);
	d->iommu_group = link_name(path, group, sizeof group) ? -1 : atoi(group);
	read_ifaces(d);
	return 0;
}

int sysfs_pci_each_network(void (*fn)(const struct sysfs_pci *d, void *arg), void *arg)
{
	struct dirent **list;
	struct sysfs_pci d;
	int n = scandir(PCI_DEVICES, &list, NULL, alphasort), i, found = 0;

	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.' && !sysfs_pci_read(list[i]->d_name, &d) &&
		    d.class_code >> 16 == PCI_CLASS_NETWORK) {
			fn(&d, arg);
			found++;
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return found;
}

const struct sysfs_iface *sysfs_pci_busy_iface(const struct sysfs_pci *d)
{
	int i;

	for (i = 0; i < d->n_ifaces; i++)
		if (d->ifaces[i].in_use[0])
			return &d->ifaces[i];
	return NULL;
}

/* ---- binding ---- */

bool sysfs_driver_exists(const char *driver)
{
	char path[256];

	snprintf(path, sizeof path, PCI_DRIVERS "/%s", driver);
	return access(path, F_OK) == 0;
}

int sysfs_unbind(const char *bdf)
{
	char path[256];

	snprintf(path, sizeof path, PCI_DEVICES "/%s/driver/unbind", bdf);
	if (access(path, F_OK))
		return 0; /* not bound */
	return write_text(path, bdf);
}

int sysfs_bind(const char *bdf, const char *driver)
{
	char path[256], now[SYSFS_NAME_LEN];
	int r;

	snprintf(path, sizeof path, PCI_DEVICES "/%s/driver", bdf);
	if (!link_name(path, now, sizeof now) && !strcmp(now, driver))
		return 0;
	if ((r = sysfs_unbind(bdf)))
		return r;
	/* Documentation/ABI/testing/sysfs-bus-pci: driver_override, then drivers_probe */
	snprintf(path, sizeof path, PCI_DEVICES "/%s/driver_override", bdf);
	if ((r = write_text(path, driver)))
		return r;
	r = write_text("/sys/bus/pci/drivers_probe", bdf);
	write_text(path, "\n"); /* clear the override: later binds behave as usual */
	if (r)
		return r;
	snprintf(path, sizeof path, PCI_DEVICES "/%s/driver", bdf);
	if (link_name(path, now, sizeof now) || strcmp(now, driver))
		return -ENODEV; /* the driver did not take it */
	return 0;
}

/* ---- the state file: /run/unic/devbind/BDF holds the original driver's name ---- */

static void state_path(const char *bdf, char *path, size_t len)
{
	snprintf(path, len, SYSFS_STATE_DIR "/%s", bdf);
}

int sysfs_state_save(const char *bdf, const char *driver)
{
	char path[256];
	FILE *f;

	state_path(bdf, path, sizeof path);
	if (access(path, F_OK) == 0)
		return 0; /* already moved once: the first record is the original */
	if ((mkdir("/run/unic", 0755) && errno != EEXIST) || (mkdir(SYSFS_STATE_DIR, 0755) && errno != EEXIST))
		return -errno;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", driver);
	return fclose(f) ? -errno : 0;
}

int sysfs_state_load(const char *bdf, char *driver, size_t len)
{
	char path[256];

	state_path(bdf, path, sizeof path);
	return read_text(path, driver, len);
}

int sysfs_state_forget(const char *bdf)
{
	char path[256];

	state_path(bdf, path, sizeof path);
	return unlink(path) ? -errno : 0;
}
