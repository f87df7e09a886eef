/*
 * pci.c - PCI devices through sysfs: identity, driver binding, config space,
 * BARs, and the kernel network interfaces that belong to a device.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SYSFS_PCI "/sys/bus/pci"
/* PCI Local Bus Spec 3.0, 6.2.2: command register and its bus master enable bit */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MASTER 0x4
/* include/linux/ioport.h: resource flags in sysfs "resource" */
#define IORESOURCE_IO 0x100
#define IORESOURCE_MEM 0x200

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

int unic_pci_read_id(const char *bdf, const char *file, uint32_t *val)
{
	char path[256], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/%s", bdf, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*val = (uint32_t)strtoul(buf, NULL, 16);
	return 0;
}

int unic_pci_driver(const char *bdf, char *drv, size_t len)
{
	char path[256], link[256];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof link - 1);
	if (n < 0) {
		drv[0] = 0;
		return errno == ENOENT ? 0 : -errno;
	}
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(drv, len, "%s", slash ? slash + 1 : link);
	return 0;
}

int unic_pci_unbind(const char *bdf)
{
	char path[256];

	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK))
		return 0; /* no driver */
	return write_file(path, bdf);
}

/* Binds to driver through driver_override (kernel >= 3.16), leaving other devices alone. */
int unic_pci_bind(const char *bdf, const char *driver)
{
	char path[256], cur[64];
	int r;

	if (unic_pci_driver(bdf, cur, sizeof cur) == 0 && !strcmp(cur, driver))
		return 0;
	r = unic_pci_unbind(bdf);
	if (r)
		return r;
	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/driver_override", bdf);
	r = write_file(path, driver);
	if (r)
		return r;
	r = write_file(SYSFS_PCI "/drivers_probe", bdf);
	/* Clear the override so that a later rebind by others behaves as usual. */
	write_file(path, "\n");
	if (r)
		return r;
	if (unic_pci_driver(bdf, cur, sizeof cur) || strcmp(cur, driver))
		return -ENODEV;
	return 0;
}

int unic_pci_iommu_group(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof link - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	slash = strrchr(link, '/');
	return slash ? atoi(slash + 1) : -1;
}

int unic_pci_config_read(struct unic_dev *dev, void *buf, size_t len, off_t off)
{
	ssize_t n;

	if (dev->vfio_device_fd >= 0)
		n = pread(dev->vfio_device_fd, buf, len, (off_t)dev->vfio_config_offset + off);
	else
		n = pread(dev->config_fd, buf, len, off);
	return n == (ssize_t)len ? 0 : -EIO;
}

int unic_pci_config_write(struct unic_dev *dev, const void *buf, size_t len, off_t off)
{
	ssize_t n;

	if (dev->vfio_device_fd >= 0)
		n = pwrite(dev->vfio_device_fd, buf, len, (off_t)dev->vfio_config_offset + off);
	else
		n = pwrite(dev->config_fd, buf, len, off);
	return n == (ssize_t)len ? 0 : -EIO;
}

int unic_pci_enable_bus_master(struct unic_dev *dev, bool on)
{
	uint16_t cmd;

	if (unic_pci_config_read(dev, &cmd, sizeof cmd, PCI_COMMAND))
		return -EIO;
	cmd = on ? (uint16_t)(cmd | PCI_COMMAND_MASTER) : (uint16_t)(cmd & ~PCI_COMMAND_MASTER);
	return unic_pci_config_write(dev, &cmd, sizeof cmd, PCI_COMMAND);
}

/*
 * Stops a device a dead owner left running: bus mastering off first (no more
 * DMA), then a function reset through sysfs (the kernel picks FLR, a power
 * state cycle or a bus reset). 0, or the -errno of the first step that failed
 * (*what names it).
 */
int unic_pci_quiesce(const char *bdf, const char **what)
{
	char path[256];
	uint16_t cmd;
	int fd, r = 0;

	*what = "disable bus mastering";
	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/config", bdf);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &cmd, sizeof cmd, PCI_COMMAND) != sizeof cmd) {
		r = -EIO;
	} else {
		cmd = (uint16_t)(cmd & ~PCI_COMMAND_MASTER);
		if (pwrite(fd, &cmd, sizeof cmd, PCI_COMMAND) != sizeof cmd)
			r = -EIO;
	}
	close(fd);
	if (r)
		return r;
	*what = "reset the function";
	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/reset", bdf);
	return write_file(path, "1");
}

int unic_pci_map_bars_sysfs(struct unic_dev *dev)
{
	char path[256], line[128];
	FILE *f;
	int i;

	snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/resource", dev->spec.pci_addr);
	f = fopen(path, "r");
	if (!f)
		return unic_dev_error(dev, errno, "cannot read %s: %s", path, strerror(errno));
	for (i = 0; i < UNIC_MAX_BARS && fgets(line, sizeof line, f); i++) {
		uint64_t start, end, flags;
		struct unic_bar *bar = &dev->bars[i];
		int fd;

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &start, &end, &flags) != 3 || !start)
			continue;
		if (!(flags & (IORESOURCE_IO | IORESOURCE_MEM)))
			continue;
		snprintf(path, sizeof path, SYSFS_PCI "/devices/%s/resource%d", dev->spec.pci_addr, i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fclose(f);
			return unic_dev_error(dev, errno, "cannot open %s: %s%s", path, strerror(errno),
					      errno == EACCES ? " (sysfs mode needs root)" : "");
		}
		bar->size = (size_t)(end - start + 1);
		if (flags & IORESOURCE_IO) {
			bar->is_io = true;
			bar->io_fd = fd; /* pci-sysfs supports 1/2/4-byte pread/pwrite on I/O BARs */
			continue;
		}
		bar->addr = mmap(NULL, bar->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (bar->addr == MAP_FAILED) {
			int e = errno;
			bar->addr = NULL;
			fclose(f);
			return unic_dev_error(dev, e, "cannot mmap %s: %s%s", path, strerror(e),
					      e == EINVAL ? " (is a kernel driver still bound to it?)" : "");
		}
	}
	fclose(f);
	return 0;
}

void unic_pci_unmap_bars(struct unic_dev *dev)
{
	int i;

	for (i = 0; i < UNIC_MAX_BARS; i++) {
		struct unic_bar *bar = &dev->bars[i];
		if (bar->addr)
			munmap(bar->addr, bar->size);
		if (bar->io_fd >= 0 && bar->io_fd != dev->vfio_device_fd)
			close(bar->io_fd);
		memset(bar, 0, sizeof *bar);
		bar->io_fd = -1;
	}
}

/* ---- I/O BAR access: pread/pwrite of 1, 2 or 4 bytes ---- */
static uint32_t io_read(struct unic_dev *dev, int bar, uint32_t off, size_t width)
{
	struct unic_bar *b = &dev->bars[bar];
	uint32_t v = 0;

	if (b->io_fd < 0 || pread(b->io_fd, &v, width, (off_t)(b->io_offset + off)) != (ssize_t)width) {
		dev->removed = true;
		return UINT32_MAX;
	}
	return v;
}

static void io_write(struct unic_dev *dev, int bar, uint32_t off, uint32_t v, size_t width)
{
	struct unic_bar *b = &dev->bars[bar];

	if (b->io_fd < 0 || pwrite(b->io_fd, &v, width, (off_t)(b->io_offset + off)) != (ssize_t)width)
		dev->removed = true;
}

uint8_t unic_io_read8(struct unic_dev *dev, int bar, uint32_t off) { return (uint8_t)io_read(dev, bar, off, 1); }
uint16_t unic_io_read16(struct unic_dev *dev, int bar, uint32_t off) { return (uint16_t)io_read(dev, bar, off, 2); }
uint32_t unic_io_read32(struct unic_dev *dev, int bar, uint32_t off) { return io_read(dev, bar, off, 4); }
void unic_io_write8(struct unic_dev *dev, int bar, uint32_t off, uint8_t v) { io_write(dev, bar, off, v, 1); }
void unic_io_write16(struct unic_dev *dev, int bar, uint32_t off, uint16_t v) { io_write(dev, bar, off, v, 2); }
void unic_io_write32(struct unic_dev *dev, int bar, uint32_t off, uint32_t v) { io_write(dev, bar, off, v, 4); }

/* ---- kernel network interfaces of a device ---- */
/*
 * An interface belongs to the device when its /sys/class/net/IF/device link
 * resolves to the device or below it: virtio-net's interface hangs off an
 * intermediate virtioN device (…/0000:00:03.0/virtio0), not the PCI device.
 */
int unic_pci_netdevs(const char *bdf, char names[][32], int max)
{
	char path[300], real[PATH_MAX], want[64];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/sys/class/net");

	if (!d)
		return 0;
	snprintf(want, sizeof want, "/%s", bdf);
	while ((e = readdir(d)) && n < max) {
		char *hit;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/sys/class/net/%s/device", e->d_name);
		if (!realpath(path, real))
			continue;
		hit = strstr(real, want);
		if (hit && (hit[strlen(want)] == '/' || hit[strlen(want)] == 0))
			snprintf(names[n++], 32, "%.31s", e->d_name);
	}
	closedir(d);
	return n;
}

static bool has_route(const char *ifname)
{
	char line[512], dev[64];
	bool found = false;
	FILE *f = fopen("/proc/net/route", "r");

	if (f) {
		while (!found && fgets(line, sizeof line, f))
			found = sscanf(line, "%63s", dev) == 1 && !strcmp(dev, ifname);
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "r");
	if (f) {
		/* last column is the device; link-local routes (fe80::/64) come with any up interface */
		while (!found && fgets(line, sizeof line, f)) {
			char *last = strrchr(line, ' ');
			if (last && sscanf(last, "%63s", dev) == 1 && !strcmp(dev, ifname) && strncmp(line, "fe80", 4) &&
			    strncmp(line, "ff00", 4))
				found = true;
		}
		fclose(f);
	}
	return found;
}

/* Is the interface administratively up? (its sysfs "flags", a hex IFF_* mask) */
static bool netdev_up(const char *ifname)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	if (!if_nametoindex(ifname))
		return false;
	snprintf(path, sizeof path, "/sys/class/net/%s/flags", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strtoul(buf, NULL, 16) & IFF_UP;
}

int unic_netdev_in_use(const char *ifname, char *why, size_t len)
{
	struct ifaddrs *ifa, *i;
	char addr[64] = "";

	if (!netdev_up(ifname))
		return 0;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i && !addr[0]; i = i->ifa_next) {
			if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				snprintf(addr, sizeof addr, "an IPv4 address");
			else if (i->ifa_addr->sa_family == AF_INET6 &&
				 !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr))
				snprintf(addr, sizeof addr, "an IPv6 address");
		}
		freeifaddrs(ifa);
	}
	if (addr[0]) {
		unic_fmt(why, len, "interface %s is up with %s", ifname, addr);
		return 1;
	}
	if (has_route(ifname)) {
		unic_fmt(why, len, "interface %s is up with a route", ifname);
		return 1;
	}
	return 0;
}

/* ---- public: inspection and binding for tools (unic.h) ---- */

/* PCI Code and ID Assignment Spec 1.11, 1.3: base class 02h is "network controller" */
#define PCI_BASE_CLASS_NETWORK 0x02
#define PCI_BASE_CLASS_SHIFT 16

/* A bare PCI address in canonical form; user input reaches sysfs paths only through this. */
static int canonical_bdf(const char *bdf, char *out, size_t len)
{
	struct unic_spec spec;

	if (!bdf || unic_parse_spec(bdf, &spec, NULL, 0) || spec.access != 0)
		return -EINVAL;
	snprintf(out, len, "%s", spec.pci_addr);
	return 0;
}

/* A driver name is one sysfs directory name: not empty, no '/', not "." or "..". */
static bool valid_driver_name(const char *driver)
{
	return driver && driver[0] && strlen(driver) < sizeof ((struct unic_pci_device *)0)->driver &&
	       !strchr(driver, '/') && strcmp(driver, ".") && strcmp(driver, "..");
}

static int read_identity(const char *bdf, struct unic_pci_device *out)
{
	uint32_t vendor, device, class_code;

	memset(out, 0, sizeof *out);
	if (unic_pci_read_id(bdf, "vendor", &vendor) || unic_pci_read_id(bdf, "device", &device) ||
	    unic_pci_read_id(bdf, "class", &class_code))
		return -ENODEV;
	snprintf(out->bdf, sizeof out->bdf, "%s", bdf);
	out->vendor_id = (uint16_t)vendor;
	out->device_id = (uint16_t)device;
	out->class_code = class_code;
	return 0;
}

/* Driver, IOMMU group and kernel interfaces of a device whose identity is read. */
static void read_state(struct unic_pci_device *out)
{
	char names[UNIC_PCI_MAX_IFACES][32];
	int i;

	_Static_assert(sizeof names[0] == sizeof out->ifaces[0].name, "unic_pci_netdevs fills 32-byte names");

	unic_pci_driver(out->bdf, out->driver, sizeof out->driver);
	out->iommu_group = unic_pci_iommu_group(out->bdf);
	out->num_ifaces = unic_pci_netdevs(out->bdf, names, UNIC_PCI_MAX_IFACES);
	for (i = 0; i < out->num_ifaces; i++) {
		struct unic_pci_iface *f = &out->ifaces[i];
		memcpy(f->name, names[i], sizeof f->name); /* NUL-terminated by unic_pci_netdevs */
		f->up = netdev_up(f->name);
		f->in_use = unic_netdev_in_use(f->name, f->why, sizeof f->why) != 0;
	}
}

int unic_pci_inspect(const char *bdf, struct unic_pci_device *out)
{
	char canon[16];
	int r;

	if (!out || canonical_bdf(bdf, canon, sizeof canon))
		return -EINVAL;
	if ((r = read_identity(canon, out)))
		return r;
	read_state(out);
	return 0;
}

int unic_pci_list_network(struct unic_pci_device *out, int max)
{
	struct dirent **list;
	struct unic_pci_device d;
	int n, i, found = 0;

	if (max < 0 || (max > 0 && !out))
		return -EINVAL;
	n = scandir(SYSFS_PCI "/devices", &list, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.' && !read_identity(list[i]->d_name, &d) &&
		    d.class_code >> PCI_BASE_CLASS_SHIFT == PCI_BASE_CLASS_NETWORK) {
			if (found < max) {
				read_state(&d);
				out[found] = d;
			}
			found++;
		}
		free(list[i]);
	}
	free(list);
	return found;
}

int unic_pci_driver_loaded(const char *driver)
{
	char path[128];

	if (!valid_driver_name(driver))
		return -EINVAL;
	snprintf(path, sizeof path, SYSFS_PCI "/drivers/%s", driver);
	return access(path, F_OK) == 0;
}

int unic_pci_bind_driver(const char *bdf, const char *driver)
{
	char canon[16];
	uint32_t vendor;

	if (canonical_bdf(bdf, canon, sizeof canon) || !valid_driver_name(driver))
		return -EINVAL;
	if (unic_pci_read_id(canon, "vendor", &vendor))
		return -ENODEV;
	/* checked first: unic_pci_bind unbinds before it probes, and would leave the device driverless */
	if (unic_pci_driver_loaded(driver) != 1)
		return -ENOENT;
	return unic_pci_bind(canon, driver);
}

int unic_pci_unbind_driver(const char *bdf)
{
	char canon[16];
	uint32_t vendor;

	if (canonical_bdf(bdf, canon, sizeof canon))
		return -EINVAL;
	if (unic_pci_read_id(canon, "vendor", &vendor))
		return -ENODEV;
	return unic_pci_unbind(canon);
}
