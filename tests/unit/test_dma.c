/* DMA memory: pagemap translation of a hugepage buffer, and the error lines for what users get wrong. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

#define KPF_HUGE (1ull << 17) /* Documentation/admin-guide/mm/pagemap.rst: /proc/kpageflags */
#define SMALL 4096u

static uint64_t kpageflags(uint64_t phys)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &flags, sizeof flags, (off_t)(phys / SMALL * sizeof flags)) != sizeof flags)
			flags = 0;
		close(fd);
	}
	return flags;
}

/* As an unprivileged user, pagemap hides PFNs: the error must say why and what to do. */
static int nonroot_error_explains(void *virt)
{
	int status, pipefd[2];
	char msg[UNIC_ERR_LEN] = "";
	pid_t pid;

	if (pipe(pipefd))
		return 0;
	pid = fork();
	if (pid == 0) {
		char err[UNIC_ERR_LEN] = "";
		if (setgid(65534) || setuid(65534))
			_exit(2);
		uint64_t pa = unic_virt_to_phys(virt, err, sizeof err);
		if (write(pipefd[1], err, strlen(err)) < 0)
			_exit(3);
		_exit(pa == 0 ? 0 : 1);
	}
	close(pipefd[1]);
	if (read(pipefd[0], msg, sizeof msg - 1) < 0)
		msg[0] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	printf("  unprivileged: %s\n", msg);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(msg, "need root");
}

int main(void)
{
	struct unic_dev dev = { .dma_mode = UNIC_DMA_PHYS };
	struct unic_dma d, big, ring;
	char err[UNIC_ERR_LEN];
	size_t pg, k;
	int contiguous = 1;

	/* two hugepages, each physically contiguous over its 512 small pages */
	CHECK(unic_dma_alloc_pages(&dev, 2 * UNIC_HUGEPAGE_SIZE, &d) == 0);
	CHECK(d.npages == 2 && d.page_size == UNIC_HUGEPAGE_SIZE);
	for (pg = 0; pg < d.npages; pg++) {
		uint8_t *base = (uint8_t *)d.virt + pg * d.page_size;
		CHECK(d.page_iova[pg] % UNIC_HUGEPAGE_SIZE == 0);
		CHECK(kpageflags(d.page_iova[pg]) & KPF_HUGE);
		for (k = 0; k < UNIC_HUGEPAGE_SIZE / SMALL; k++)
			if (unic_virt_to_phys(base + k * SMALL + 123, err, sizeof err) != d.page_iova[pg] + k * SMALL + 123)
				contiguous = 0;
	}
	CHECK(contiguous);
	CHECK(unic_dma_iova(&d, UNIC_HUGEPAGE_SIZE + 5) == d.page_iova[1] + 5);
	CHECK(nonroot_error_explains(d.virt));

	/* a ring: one contiguous page */
	CHECK(unic_dma_alloc(&dev, 64 * 1024, &ring) == 0 && ring.contiguous && ring.iova == d.page_iova[0] + 0 - d.page_iova[0] + ring.iova);
	CHECK(((uint8_t *)ring.virt)[100] == 0); /* zeroed */
	unic_dma_free(&ring);

	/* contiguity larger than a hugepage cannot be had from physical memory */
	CHECK(unic_dma_alloc(&dev, 3 * 1024 * 1024, &big) < 0);
	printf("  too large: %s\n", dev.err);
	CHECK(strstr(dev.err, "larger than one 2 MiB hugepage") != NULL);

	/* more hugepages than the machine has: the error says how to reserve them */
	CHECK(unic_dma_alloc_pages(&dev, (size_t)64 << 30, &big) < 0);
	printf("  no hugepages: %s\n", dev.err);
	CHECK(strstr(dev.err, "not enough 2 MiB hugepages") && strstr(dev.err, "/proc/sys/vm/nr_hugepages"));

	unic_dma_free(&d);
	return check_summary("test_dma");
}
