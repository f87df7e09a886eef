/*
 * vfio.c - device access through VFIO (Documentation/driver-api/vfio.rst).
 *
 * One container per process holds every group unic opens, so that DMA memory
 * mapped once is visible to all devices (a frame received on one NIC can be
 * sent on another without a copy); type1 replays existing mappings into the
 * IOMMU domain of a group attached later.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* IOVAs start above the first GiB and grow; 39 address bits is the smallest common VT-d width. */
#define IOVA_BASE (1ull << 30)
#define IOVA_LIMIT (1ull << 39)

/*
 * The container is open while a group is attached or a DMA area mapped into it is
 * alive: a mempool may outlive every device (its buffers still out), and its
 * unmapping must reach this container, not a new one that reused its IOVAs. The
 * IOVA counter is never rewound while the fd stays open. container_lock guards it
 * all: devices open and close from any thread.
 */
static struct {
	int fd;
	int groups;          /* groups attached (VFIO_GROUP_SET_CONTAINER) */
	int dma_areas;       /* live DMA areas mapped through it (unic_vfio_container_hold) */
	bool iommu;          /* type1 (true) or no-IOMMU (false) */
	uint64_t next_iova;
	uint64_t domain;     /* DMA domain of this container's mappings: new per container */
} container = { .fd = -1 };
static pthread_mutex_t container_lock = PTHREAD_MUTEX_INITIALIZER;

static void close_container_if_unused(void)
{
	if (container.fd >= 0 && container.groups == 0 && container.dma_areas == 0) {
		close(container.fd);
		container.fd = -1;
	}
}

bool unic_vfio_container_iommu(void)
{
	bool r;

	pthread_mutex_lock(&container_lock);
	r = container.fd >= 0 && container.groups > 0 && container.iommu; /* no group: no IOMMU model */
	pthread_mutex_unlock(&container_lock);
	return r;
}

void unic_vfio_container_hold(void)
{
	pthread_mutex_lock(&container_lock);
	container.dma_areas++;
	pthread_mutex_unlock(&container_lock);
}

void unic_vfio_container_release(void)
{
	pthread_mutex_lock(&container_lock);
	if (container.dma_areas > 0)
		container.dma_areas--;
	close_container_if_unused();
	pthread_mutex_unlock(&container_lock);
}

uint64_t unic_vfio_domain(void)
{
	return container.domain;
}

#define NOIOMMU_PARAM "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"

/* vfio no-IOMMU mode exists only in kernels with CONFIG_VFIO_NOIOMMU, and only when enabled. */
static int check_noiommu_enabled(struct unic_dev *dev)
{
	char v = 0;
	FILE *f = fopen(NOIOMMU_PARAM, "r");

	if (f) {
		if (fread(&v, 1, 1, f) != 1)
			v = 0;
		fclose(f);
	}
	if (v == 'Y' || v == '1')
		return 0;
	return unic_dev_error(dev, ENODEV, "vfio no-IOMMU mode is not enabled: it needs a kernel with "
			      "CONFIG_VFIO_NOIOMMU and 'echo 1 > " NOIOMMU_PARAM "' (root)");
}

static int group_path(struct unic_dev *dev, bool noiommu, char *path, size_t len)
{
	int group = unic_pci_iommu_group(dev->spec.pci_addr);

	if (group < 0 && noiommu)
		return unic_dev_error(dev, ENODEV, "%s got no no-IOMMU group from vfio-pci", dev->spec.pci_addr);
	if (group < 0)
		return unic_dev_error(dev, ENODEV,
			"%s has no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu=on on the kernel "
			"command line), or use vfio-noiommu: or sysfs: (unsafe, root)", dev->spec.pci_addr);
	snprintf(path, len, noiommu ? "/dev/vfio/noiommu-%d" : "/dev/vfio/%d", group);
	return 0;
}

static int bind_vfio_pci(struct unic_dev *dev)
{
	char drv[64];
	int r;

	unic_pci_driver(dev->spec.pci_addr, drv, sizeof drv);
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		return unic_dev_error(dev, ENODEV, "the vfio-pci driver is not loaded: run 'modprobe vfio-pci' as root");
	if (!dev->orig_driver[0]) /* else the record of an owner that died named it */
		snprintf(dev->orig_driver, sizeof dev->orig_driver, "%s", drv);
	r = unic_pci_bind(dev->spec.pci_addr, "vfio-pci");
	if (r)
		return unic_dev_error(dev, -r, "cannot bind %s to vfio-pci: %s%s", dev->spec.pci_addr, strerror(-r),
				      r == -EACCES || r == -EPERM ? " (binding needs root; or bind it once with unic-devbind)" : "");
	return 0;
}

static int attach_container_locked(struct unic_dev *dev, bool noiommu)
{
	if (container.fd < 0) {
		container.fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (container.fd < 0)
			return unic_dev_error(dev, errno, "cannot open /dev/vfio/vfio: %s (modprobe vfio-pci)", strerror(errno));
		if (ioctl(container.fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
			close(container.fd);
			container.fd = -1;
			return unic_dev_error(dev, EINVAL, "unknown VFIO API version");
		}
		container.next_iova = IOVA_BASE;
	} else if (container.groups > 0 && container.iommu == noiommu) {
		return unic_dev_error(dev, EINVAL, "cannot mix vfio: and vfio-noiommu: devices in one process");
	}
	if (ioctl(dev->vfio_group_fd, VFIO_GROUP_SET_CONTAINER, &container.fd)) {
		int e = errno;
		close_container_if_unused();
		return unic_dev_error(dev, e, "VFIO_GROUP_SET_CONTAINER failed: %s", strerror(e));
	}
	container.groups++;
	if (container.groups == 1) { /* the first group: the container has no IOMMU model yet */
		unsigned long type = noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
		if (!noiommu && !ioctl(container.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) &&
		    ioctl(container.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU))
			type = VFIO_TYPE1_IOMMU;
		if (ioctl(container.fd, VFIO_SET_IOMMU, type))
			return unic_dev_error(dev, errno, "VFIO_SET_IOMMU failed: %s%s", strerror(errno),
				errno == ENODEV ? " (modprobe vfio_iommu_type1)" : "");
		container.iommu = !noiommu;
		/* A new IOMMU model starts with no mappings (the last group's detach dropped the old
		 * ones): pools mapped before are another DMA domain now. */
		container.domain = unic_dma_new_domain();
	}
	return 0;
}

static int attach_container(struct unic_dev *dev, bool noiommu)
{
	int r;

	pthread_mutex_lock(&container_lock);
	r = attach_container_locked(dev, noiommu);
	pthread_mutex_unlock(&container_lock);
	return r;
}

static int map_regions(struct unic_dev *dev)
{
	struct vfio_region_info reg = { .argsz = sizeof reg };
	int i;

	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(dev->vfio_device_fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return unic_dev_error(dev, errno, "VFIO config region info failed: %s", strerror(errno));
	dev->vfio_config_offset = reg.offset;
	for (i = 0; i < UNIC_MAX_BARS; i++) {
		struct unic_bar *bar = &dev->bars[i];
		uint32_t bar_reg;

		memset(&reg, 0, sizeof reg);
		reg.argsz = sizeof reg;
		reg.index = (uint32_t)(VFIO_PCI_BAR0_REGION_INDEX + i);
		if (ioctl(dev->vfio_device_fd, VFIO_DEVICE_GET_REGION_INFO, &reg) || reg.size == 0)
			continue;
		bar->size = reg.size;
		/* PCI spec 6.2.5.1: bit 0 of a BAR says I/O space */
		if (!unic_pci_config_read(dev, &bar_reg, sizeof bar_reg, 0x10 + 4 * i) && (bar_reg & 1)) {
			bar->is_io = true;
			bar->io_fd = dev->vfio_device_fd;
			bar->io_offset = reg.offset;
			continue;
		}
		if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP))
			continue;
		bar->addr = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->vfio_device_fd, (off_t)reg.offset);
		if (bar->addr == MAP_FAILED) {
			bar->addr = NULL;
			return unic_dev_error(dev, errno, "cannot mmap BAR%d of %s: %s", i, dev->spec.pci_addr, strerror(errno));
		}
	}
	return 0;
}

int unic_vfio_open(struct unic_dev *dev, bool noiommu)
{
	struct vfio_group_status status = { .argsz = sizeof status };
	char path[64];
	int r;

	/* With an IOMMU the group exists before binding; a no-IOMMU group is made by the bind. */
	if (noiommu)
		r = check_noiommu_enabled(dev) ?: bind_vfio_pci(dev) ?: group_path(dev, true, path, sizeof path);
	else
		r = group_path(dev, false, path, sizeof path) ?: bind_vfio_pci(dev);
	if (r)
		return r;
	dev->vfio_group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->vfio_group_fd < 0) {
		int e = errno;
		if (e == EBUSY)
			return unic_dev_error(dev, e, "%s is in use: another process has its VFIO group %s open",
					      dev->spec.pci_addr, path);
		return unic_dev_error(dev, e, "cannot open %s: %s%s", path, strerror(e),
			e == EACCES ? " (give your user access to it, e.g. chown, or run as root)" :
			e == ENOENT && noiommu ? " (the kernel needs CONFIG_VFIO_NOIOMMU and vfio enable_unsafe_noiommu_mode=1)" : "");
	}
	if (ioctl(dev->vfio_group_fd, VFIO_GROUP_GET_STATUS, &status))
		return unic_dev_error(dev, errno, "VFIO_GROUP_GET_STATUS failed: %s", strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return unic_dev_error(dev, EBUSY, "IOMMU group %s of %s is not viable: bind every device of the group "
				      "to vfio-pci (or unbind them)", path, dev->spec.pci_addr);
	if ((r = attach_container(dev, noiommu)))
		return r;
	dev->vfio_device_fd = ioctl(dev->vfio_group_fd, VFIO_GROUP_GET_DEVICE_FD, dev->spec.pci_addr);
	if (dev->vfio_device_fd < 0)
		return unic_dev_error(dev, errno, "cannot get the VFIO device fd of %s: %s", dev->spec.pci_addr, strerror(errno));
	dev->dma_mode = noiommu ? UNIC_DMA_PHYS : UNIC_DMA_VFIO;
	return map_regions(dev) ?: unic_irq_request_setup(dev);
}

void unic_vfio_close(struct unic_dev *dev)
{
	if (dev->vfio_device_fd >= 0)
		close(dev->vfio_device_fd);
	dev->vfio_device_fd = -1;
	if (dev->vfio_group_fd >= 0) {
		pthread_mutex_lock(&container_lock);
		if (container.fd >= 0 && !ioctl(dev->vfio_group_fd, VFIO_GROUP_UNSET_CONTAINER))
			container.groups--;
		close_container_if_unused();
		pthread_mutex_unlock(&container_lock);
		close(dev->vfio_group_fd);
	}
	dev->vfio_group_fd = -1;
}

int unic_vfio_dma_map(void *virt, size_t size, uint64_t *iova)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof map,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)virt,
		.size = size,
	};

	int r = 0;

	pthread_mutex_lock(&container_lock);
	if (container.fd < 0 || !container.iommu)
		r = -ENODEV;
	else if (container.next_iova + size > IOVA_LIMIT)
		r = -ENOSPC;
	if (!r) {
		map.iova = container.next_iova;
		if (ioctl(container.fd, VFIO_IOMMU_MAP_DMA, &map))
			r = -errno;
		else
			container.next_iova += (size + UNIC_HUGEPAGE_SIZE - 1) / UNIC_HUGEPAGE_SIZE * UNIC_HUGEPAGE_SIZE;
	}
	pthread_mutex_unlock(&container_lock);
	if (!r)
		*iova = map.iova;
	return r;
}

int unic_vfio_dma_map_at(void *virt, size_t size, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof map,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)virt,
		.size = size,
		.iova = iova,
	};
	int r = -ENODEV;

	pthread_mutex_lock(&container_lock);
	if (container.fd >= 0 && container.iommu)
		r = ioctl(container.fd, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
	pthread_mutex_unlock(&container_lock);
	return r;
}

int unic_vfio_dma_unmap(uint64_t iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof unmap, .iova = iova, .size = size };
	int r = -ENODEV;

	pthread_mutex_lock(&container_lock);
	if (container.fd >= 0 && container.iommu)
		r = ioctl(container.fd, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : 0;
	pthread_mutex_unlock(&container_lock);
	return r;
}

int unic_vfio_reset(struct unic_dev *dev)
{
	struct vfio_device_info info = { .argsz = sizeof info };

	if (dev->vfio_device_fd < 0 || ioctl(dev->vfio_device_fd, VFIO_DEVICE_GET_INFO, &info))
		return -ENODEV;
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	return ioctl(dev->vfio_device_fd, VFIO_DEVICE_RESET) ? -errno : 0;
}
