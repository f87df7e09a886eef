/*
 * dma.c - DMA memory from 2 MiB hugepages.
 *
 * Memory comes from memfd_create(MFD_HUGETLB): no hugetlbfs mount is needed, no
 * file is left behind, and the fd can be shared with a vhost-user backend.
 * Addresses the device sees depend on the device's access mode:
 *   PHYS  physical addresses from /proc/self/pagemap (sysfs, uio, vfio-noiommu; root)
 *   VFIO  mapped with VFIO_IOMMU_MAP_DMA into the process-wide container, at
 *         IOVA = physical address when root (see map_vfio), else at allocated IOVAs
 *   VIRT  the virtual address itself (vhost-user: the backend maps our fd)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif

/* /proc/self/pagemap: one 64-bit entry per 4 KiB page (Documentation/admin-guide/mm/pagemap.rst) */
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_PFN_MASK ((1ull << 55) - 1)
#define SMALL_PAGE 4096u

/* Domain ids handed out so far; atomic: devices open from any thread. */
static atomic_uint_fast64_t last_domain = UNIC_DMA_DOMAIN_ANY;

uint64_t unic_dma_new_domain(void)
{
	return (uint64_t)atomic_fetch_add(&last_domain, 1) + 1;
}

uint64_t unic_dma_domain(struct unic_dev *dev)
{
	switch (dev->dma_mode) {
	case UNIC_DMA_PHYS:
		return UNIC_DMA_DOMAIN_PHYS;
	case UNIC_DMA_VFIO: /* every VFIO device of the process maps its pools into the one container */
		return unic_vfio_domain() ? unic_vfio_domain() : unic_dma_new_domain();
	case UNIC_DMA_CPU: /* the backend copies: any pool will do */
		return UNIC_DMA_DOMAIN_ANY;
	default: /* VIRT: the vhost-user backend maps only this device's memfds */
		return unic_dma_new_domain();
	}
}

static long meminfo_value(const char *key)
{
	char line[128];
	long v = -1;
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

uint64_t unic_virt_to_phys(const void *virt, char *err, size_t errlen)
{
	uint64_t entry = 0;
	uintptr_t va = (uintptr_t)virt;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0) {
		unic_fmt(err, errlen, "cannot open /proc/self/pagemap: %s (physical addresses need root; "
			 "use vfio: with an IOMMU instead)", strerror(errno));
		return 0;
	}
	if (pread(fd, &entry, sizeof entry, (off_t)(va / SMALL_PAGE * sizeof entry)) != sizeof entry) {
		unic_fmt(err, errlen, "cannot read /proc/self/pagemap: %s", strerror(errno));
		close(fd);
		return 0;
	}
	close(fd);
	if (!(entry & PAGEMAP_PRESENT)) {
		unic_fmt(err, errlen, "page at %p is not present (not faulted in)", virt);
		errno = EFAULT;
		return 0;
	}
	if ((entry & PAGEMAP_PFN_MASK) == 0) {
		unic_fmt(err, errlen, "/proc/self/pagemap hides physical addresses: sysfs, uio and vfio-noiommu "
			 "modes need root (CAP_SYS_ADMIN); use vfio: with an IOMMU instead");
		errno = EPERM;
		return 0;
	}
	return (entry & PAGEMAP_PFN_MASK) * SMALL_PAGE + va % SMALL_PAGE;
}

/* size bytes (a multiple of page) of fresh memfd memory in pages of page bytes: 0 or -errno. */
static int map_pages(size_t size, size_t page, struct unic_dma *d)
{
	int fd = memfd_create("unic-dma", MFD_CLOEXEC | (page == SMALL_PAGE ? 0 : MFD_HUGETLB | MFD_HUGE_2MB));
	int e;

	if (fd < 0)
		return -errno;
	d->page_size = page;
	d->size = size;
	d->npages = size / page;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (d->virt = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)) == MAP_FAILED) {
		e = errno;
		close(fd);
		d->virt = NULL;
		return -e;
	}
	d->fd = fd;
	/* MAP_POPULATE faulted the pages in; they are pinned for DMA by the kernel only under VFIO. */
	return 0;
}

static size_t round_up(size_t size, size_t page)
{
	return (size + page - 1) / page * page;
}

static bool hugepages_free_for(size_t size)
{
	return meminfo_value("HugePages_Free") * (long)UNIC_HUGEPAGE_SIZE >= (long)size;
}

/* The error line for hugepages that could not be had. */
static int no_hugepages(struct unic_dev *dev, size_t size)
{
	long free_pages = meminfo_value("HugePages_Free");
	long total = meminfo_value("HugePages_Total");

	return unic_dev_error(dev, ENOMEM,
		"not enough 2 MiB hugepages for %zu MiB of DMA memory (%ld free of %ld): reserve more "
		"as root with 'echo %ld > /proc/sys/vm/nr_hugepages'",
		size >> 20, free_pages, total, (total > 0 ? total : 0) + (long)(size / UNIC_HUGEPAGE_SIZE) + 64);
}

/*
 * Maps size bytes of fresh memfd memory, hugepage-backed unless the mode allows
 * small pages: in VIRT mode (vhost-user) ordinary 4 KiB pages serve when the
 * user asks for them (cfg.no_hugepages) or when hugepages are short; in CPU mode
 * (af_packet, tap: the backend copies) always.
 */
static int map_memory(struct unic_dev *dev, size_t size, struct unic_dma *d)
{
	bool virt = dev->dma_mode == UNIC_DMA_VIRT;
	bool cpu = dev->dma_mode == UNIC_DMA_CPU;
	bool small = cpu || (virt && (dev->cfg.no_hugepages || !hugepages_free_for(size)));
	int r;

	if (!small) {
		r = map_pages(round_up(size, UNIC_HUGEPAGE_SIZE), UNIC_HUGEPAGE_SIZE, d);
		if (!r)
			return 0;
		if (!virt) /* free hugepages we may not use (cgroup limit, reservations): small ones serve VIRT */
			return no_hugepages(dev, round_up(size, UNIC_HUGEPAGE_SIZE));
	}
	r = map_pages(round_up(size, SMALL_PAGE), SMALL_PAGE, d);
	if (r)
		return unic_dev_error(dev, -r, "cannot map %zu bytes of DMA memory: %s", round_up(size, SMALL_PAGE),
				      strerror(-r));
	if (cpu) /* no device: the area is one "page" that rooms may cross */
		d->page_size = d->size, d->npages = 1;
	return 0;
}

int unic_dma_map_unbound(struct unic_dev *dev, size_t huge_size, size_t small_size, struct unic_dma *out)
{
	int r = -ENOMEM;

	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (huge_size && hugepages_free_for(round_up(huge_size, UNIC_HUGEPAGE_SIZE)))
		r = map_pages(round_up(huge_size, UNIC_HUGEPAGE_SIZE), UNIC_HUGEPAGE_SIZE, out);
	if (r && small_size)
		r = map_pages(round_up(small_size, SMALL_PAGE), SMALL_PAGE, out);
	if (!r)
		return 0;
	if (!small_size)
		return no_hugepages(dev, round_up(huge_size, UNIC_HUGEPAGE_SIZE));
	return unic_dev_error(dev, -r, "cannot map %zu bytes of memory for the pool: %s", round_up(small_size, SMALL_PAGE),
			      strerror(-r));
}

/* Physical address of every page; 0 and an error line on failure. */
static int lookup_phys(struct unic_dev *dev, struct unic_dma *d, bool quiet)
{
	char err[UNIC_ERR_LEN];
	size_t i;

	for (i = 0; i < d->npages; i++) {
		d->page_iova[i] = unic_virt_to_phys((uint8_t *)d->virt + i * d->page_size, err, sizeof err);
		if (!d->page_iova[i])
			return quiet ? -EPERM : unic_dev_error(dev, errno ? errno : EIO, "%s", err);
	}
	d->iova = d->page_iova[0];
	d->contiguous = d->npages == 1;
	return 0;
}

/*
 * VFIO: as root, each page is mapped at IOVA = its physical address (DPDK's
 * iova-mode=pa), so a device that bypasses the IOMMU (legacy virtio, which
 * cannot negotiate VIRTIO_F_ACCESS_PLATFORM) still reaches the right memory.
 * Without root, pagemap hides PFNs: one mapping at an allocated IOVA.
 */
static int map_vfio(struct unic_dev *dev, struct unic_dma *d)
{
	size_t i;
	int r;

	if (lookup_phys(dev, d, true) == 0) {
		for (i = 0; i < d->npages; i++) {
			uint64_t iova = d->page_iova[i];
			r = unic_vfio_dma_map_at((uint8_t *)d->virt + i * d->page_size, d->page_size, iova);
			if (r) {
				while (i--)
					unic_vfio_dma_unmap(d->page_iova[i], d->page_size);
				return unic_dev_error(dev, -r, "VFIO_IOMMU_MAP_DMA failed: %s", strerror(-r));
			}
		}
		d->mapped_per_page = true;
		d->container_held = true;
		unic_vfio_container_hold();
		return 0;
	}
	r = unic_vfio_dma_map(d->virt, d->size, &d->iova);
	if (r)
		return unic_dev_error(dev, -r, "VFIO_IOMMU_MAP_DMA of %zu bytes failed: %s%s", d->size, strerror(-r),
				      r == -ENOMEM ? " (raise the locked memory limit: ulimit -l)" : "");
	d->contiguous = true;
	d->container_held = true;
	unic_vfio_container_hold();
	for (i = 0; i < d->npages; i++)
		d->page_iova[i] = d->iova + i * d->page_size;
	return 0;
}

static int assign_iovas(struct unic_dev *dev, struct unic_dma *d)
{
	size_t i;

	d->mode = dev->dma_mode;
	d->page_iova = calloc(d->npages, sizeof *d->page_iova);
	if (!d->page_iova)
		return unic_dev_error(dev, ENOMEM, "out of memory for the DMA page table");
	switch (dev->dma_mode) {
	case UNIC_DMA_VFIO:
		return map_vfio(dev, d);
	case UNIC_DMA_VIRT:
	case UNIC_DMA_CPU: /* nobody DMAs: the address is only a label */
		d->iova = (uint64_t)(uintptr_t)d->virt;
		d->contiguous = true;
		for (i = 0; i < d->npages; i++)
			d->page_iova[i] = d->iova + i * d->page_size;
		return 0;
	default: /* UNIC_DMA_PHYS */
		return lookup_phys(dev, d, false);
	}
}

int unic_dma_alloc_pages(struct unic_dev *dev, size_t size, struct unic_dma *out)
{
	int r;

	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (size == 0)
		return unic_dev_error(dev, EINVAL, "DMA allocation of 0 bytes");
	r = map_memory(dev, size, out);
	if (!r)
		r = assign_iovas(dev, out);
	if (r)
		unic_dma_free(out);
	return r;
}

int unic_dma_alloc(struct unic_dev *dev, size_t size, struct unic_dma *out)
{
	int r;

	if (dev->dma_mode == UNIC_DMA_PHYS && size > UNIC_HUGEPAGE_SIZE)
		return unic_dev_error(dev, EINVAL,
			"a physically contiguous DMA area of %zu bytes is larger than one 2 MiB hugepage: "
			"use smaller rings, or vfio: with an IOMMU", size);
	r = unic_dma_alloc_pages(dev, size, out);
	if (!r && !out->contiguous) {
		unic_dma_free(out);
		return unic_dev_error(dev, EINVAL, "DMA area of %zu bytes is not contiguous", size);
	}
	return r;
}

int unic_dma_bind(struct unic_dev *dev, struct unic_dma *d)
{
	int r;

	/* Pages the kernel may move (4 KiB shmem: compaction, swap) keep no physical address. */
	if (dev->dma_mode == UNIC_DMA_PHYS && d->page_size != UNIC_HUGEPAGE_SIZE)
		return unic_dev_error(dev, EINVAL, "the pool is in 4 KiB pages, whose physical addresses the kernel "
				      "may change: sysfs:, uio: and vfio-noiommu: devices need it in 2 MiB hugepages (reserve "
				      "hugepages before unic_mempool_create)");
	r = assign_iovas(dev, d);
	if (r)
		unic_dma_unbind(d);
	return r;
}

void unic_dma_unbind(struct unic_dma *d)
{
	if (d->mode == UNIC_DMA_VFIO && d->mapped_per_page) {
		size_t i;
		for (i = 0; i < d->npages; i++)
			unic_vfio_dma_unmap(d->page_iova[i], d->page_size);
	} else if (d->mode == UNIC_DMA_VFIO && d->contiguous && d->virt) {
		unic_vfio_dma_unmap(d->iova, d->size);
	}
	if (d->container_held)
		unic_vfio_container_release(); /* after the unmapping: the container may close now */
	free(d->page_iova);
	d->page_iova = NULL;
	d->iova = 0;
	d->mode = 0;
	d->contiguous = d->mapped_per_page = d->container_held = false;
}

void unic_dma_free(struct unic_dma *d)
{
	if (!d)
		return;
	unic_dma_unbind(d);
	if (d->virt)
		munmap(d->virt, d->size);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof *d);
	d->fd = -1;
}
