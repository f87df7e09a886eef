/*
 * internal.h - what the core gives drivers, and the driver interface (ops table).
 * Not installed: applications see only include/unic.h.
 */
#ifndef UNIC_INTERNAL_H
#define UNIC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "unic.h"

#define UNIC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNIC_MAX_QUEUES 16
#define UNIC_MAX_BARS 6
#define UNIC_HUGEPAGE_SIZE (2u * 1024 * 1024)
#define unic_likely(x) __builtin_expect(!!(x), 1)
#define unic_unlikely(x) __builtin_expect(!!(x), 0)

/* ---- logging and errors (log.c) ---- */
void unic_log(enum unic_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define UNIC_ERR(...) unic_log(UNIC_LOG_ERR, __VA_ARGS__)
#define UNIC_WARN(...) unic_log(UNIC_LOG_WARN, __VA_ARGS__)
#define UNIC_INFO(...) unic_log(UNIC_LOG_INFO, __VA_ARGS__)
#define UNIC_DEBUG(...) unic_log(UNIC_LOG_DEBUG, __VA_ARGS__)
/* Writes one error line into dev->err (and logs it); returns -err_no for chaining. */
int unic_dev_error(struct unic_dev *dev, int err_no, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void unic_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- DMA memory (dma.c) ---- */
/*
 * One physically contiguous (IOVA-contiguous) DMA region. virt is zeroed.
 * Regions come from 2 MiB hugepages; a region larger than a hugepage is only
 * contiguous in IOVA space with an IOMMU, so such requests fail in physical mode.
 */
struct unic_dma {
	void *virt;
	uint64_t iova;       /* DMA address of virt[0] */
	size_t size;         /* a multiple of the page size */
	size_t page_size;    /* 2 MiB hugepages, or 4 KiB for plain memfd (vhost-user) */
	uint64_t *page_iova; /* per-page DMA address; only page 0 when contiguous */
	size_t npages;
	bool contiguous;     /* iova is valid for the whole region */
	bool mapped_per_page; /* VFIO: one IOMMU mapping per page (IOVA = physical) */
	int fd;              /* memfd backing it (vhost-user shares it) */
	int mode;            /* enum unic_dma_mode */
	bool container_held; /* VFIO: mapped into the container, which stays open until this is freed */
};

enum unic_dma_mode {
	UNIC_DMA_PHYS = 1,    /* iova = physical address from /proc/self/pagemap */
	UNIC_DMA_VFIO,        /* iova mapped through VFIO_IOMMU_MAP_DMA into the shared container */
	UNIC_DMA_VIRT,        /* iova = virtual address (vhost-user: the backend maps the fd) */
	UNIC_DMA_CPU,         /* no device reads the pool: the backend copies every frame with the
				 CPU (af_packet, tap). Ordinary 4 KiB pages, iova = virtual address. */
	UNIC_DMA_UMEM,        /* af_xdp: the pool is the sockets' UMEM; iova = offset from the pool's
				 start. Hugepages when free, else 4 KiB pages; rooms stay within a page. */
};

/*
 * DMA domains: a device can DMA a buffer only when the buffer's pool is in the device's
 * domain (the domain of the device's own pool). Physical-address devices (sysfs,
 * vfio-noiommu, virtio without ACCESS_PLATFORM) share UNIC_DMA_DOMAIN_PHYS; the VFIO
 * devices of the process share the container's domain (a pool mapped into it is reachable
 * by all of them); each vhost-user device is a domain of its own (its backend maps only that
 * device's memfds); so is each af_xdp device (its sockets reach only its own UMEM).
 * unic_tx_burst copies a frame whose buffer is in another domain.
 */
#define UNIC_DMA_DOMAIN_PHYS 1
/*
 * The domain of UNIC_DMA_CPU devices: a backend that copies every frame reaches every
 * pool, so unic_tx_burst hands it any buffer as is (no cross-domain copy).
 */
#define UNIC_DMA_DOMAIN_ANY 2
/*
 * The domain for a new pool of dev, from its dma_mode (set by probe): never 0. A device's
 * domain is its pool's (dev->pool->dma_domain): under vhost-user the pool is the domain, so
 * each call for a UNIC_DMA_VIRT device gives a new one.
 */
uint64_t unic_dma_domain(struct unic_dev *dev);
/* A domain no other device or container has: ids are never reused in the process. */
uint64_t unic_dma_new_domain(void);

/* IOVA-contiguous region (rings): at most one hugepage in physical mode. */
int unic_dma_alloc(struct unic_dev *dev, size_t size, struct unic_dma *out);
/* Region of whole pages that need not be contiguous (mempools); use unic_dma_iova(). */
int unic_dma_alloc_pages(struct unic_dev *dev, size_t size, struct unic_dma *out);
void unic_dma_free(struct unic_dma *dma);
/*
 * Memory no device reaches yet (an application's pool, unic_mempool_create): huge_size bytes
 * in 2 MiB hugepages when that many are free, else small_size bytes in 4 KiB pages; a size
 * of 0 rules that kind out. The area is mode 0 (unbound) until unic_dma_bind.
 */
int unic_dma_map_unbound(struct unic_dev *dev, size_t huge_size, size_t small_size, struct unic_dma *out);
/* Gives an unbound area DMA addresses for dev's mode (VFIO: maps it into the container). */
int unic_dma_bind(struct unic_dev *dev, struct unic_dma *d);
/* Undoes unic_dma_bind (VFIO: unmaps, lets the container go); the memory stays. */
void unic_dma_unbind(struct unic_dma *d);
static inline uint64_t unic_dma_iova(const struct unic_dma *d, size_t off)
{
	if (d->contiguous)
		return d->iova + off;
	return d->page_iova[off / d->page_size] + off % d->page_size;
}
/* Physical address of a mapped virtual address via /proc/self/pagemap; 0 + errno on failure. */
uint64_t unic_virt_to_phys(const void *virt, char *err, size_t errlen);

/* ---- mempool (mempool.c) ---- */
/*
 * The DMA area holds only rooms (headroom + data), room_size bytes each, never
 * across a page; the buffer descriptors and the free store are process memory
 * the device cannot reach, so nothing the pool relies on can be forged by it.
 *
 * Threads: a shared store (a stack under lock, taken once per bulk move) behind a cache
 * per thread (as DPDK's mempool cache): a thread gets a slot (0..UNIC_POOL_THREADS-1) on
 * first use, caches[slot] is that thread's alone (only len is read by others, for
 * free_count and "all buffers home"), and its key destructor flushes it at thread exit.
 */
#define UNIC_POOL_SIZE_MAX (1u << 24) /* 16 Mi buffers: 34 GiB of 2 KiB rooms */
#define UNIC_BUF_SIZE_MIN 64         /* the smallest Ethernet frame without FCS is 60 bytes */
#define UNIC_POOL_THREADS 64     /* threads with a cache at once; more go to the store directly */
#define UNIC_POOL_CACHE_MAX 256  /* buffers a cache refills to; it flushes above twice that */
struct unic_pool_cache {
	_Atomic uint32_t len;    /* written by the owner thread only (release), read by others */
	uint32_t cap;            /* objs[] entries: 2 x the pool's cache_size */
	struct unic_buf *objs[]; /* free buffers, top at len - 1 */
};
struct unic_mempool {
	struct unic_dma mem;     /* the rooms: the only part shared with devices */
	struct unic_buf *bufs;   /* descriptors, bufs[i].index == i (process memory) */
	uint32_t per_page;       /* rooms per DMA page */
	uint32_t num_entries;
	uint16_t room_size;      /* bytes per room, a multiple of 64 */
	uint32_t cache_size;     /* buffers a thread cache refills to (0: no caches) */
	uint64_t dma_domain;     /* unic_dma_domain() of the device that created it, or of the
				    first device an application's pool was bound to */
	uint16_t buf_size;       /* data bytes asked for (room_size - UNIC_HEADROOM, or less) */
	bool app_made;           /* unic_mempool_create: shared by devices (cfg.pool) */
	atomic_bool released;    /* app_made: unic_mempool_release was called */
	/* Owners: the application (app_made, until released) and each device using the pool.
	 * The last one gone orphans the pool (destroyed when its last buffer is home). */
	_Atomic uint32_t refs;
	uint32_t users;          /* devices opened with it that DMA (under the attach lock) */
	uint32_t rx_need;        /* buffers their rx rings hold when full (under the attach lock) */
	uint8_t *in_use;         /* debug builds: 1 while allocated (double-free check) */
	atomic_bool orphaned;    /* its device closed: destroyed when the last buffer comes home */
	pthread_mutex_t lock;    /* the store; dying */
	bool dying;              /* every buffer came home after orphaning: being destroyed */
	_Atomic uint32_t store_len; /* buffers in store[] (written under lock) */
	struct unic_buf **store; /* free buffers, top at store_len - 1 */
	_Atomic(struct unic_pool_cache *) caches[UNIC_POOL_THREADS]; /* per thread slot, made on use */
	struct unic_mempool *next; /* every pool of the process (thread exit flushes into them) */
};
/* Can a device whose pool is in domain own (its pool's dma_domain) send buf without a copy? */
static inline bool unic_dma_reaches(uint64_t own, const struct unic_buf *buf)
{
	return own == UNIC_DMA_DOMAIN_ANY || buf->pool->dma_domain == own;
}
struct unic_mempool *unic_mempool_make(struct unic_dev *dev, uint32_t num, uint16_t buf_size);
void unic_mempool_destroy(struct unic_mempool *pool);
/* Buffers the calling thread can allocate now (store + its cache); unic_mempool_free_count
 * also counts other threads' caches. */
uint32_t unic_mempool_avail(struct unic_mempool *pool);
/* Its device closed: destroys it now when every buffer is home, else when the last one comes back. */
void unic_mempool_orphan(struct unic_mempool *pool);
/*
 * unic_open (after probe: dev->dma_mode is known): dev receives into dev->cfg.pool, an
 * application's pool. Checks that the pool can fill this device's rx rings on top of the
 * others', binds its DMA reach at its first device (or again when no device holds the old
 * one), refuses a device of another DMA domain; sets dev->pool. 0 or -errno, one line.
 */
int unic_mempool_attach(struct unic_dev *dev);
/* unic_close: dev gives up dev->pool (its own, or an application's); the last owner orphans it. */
void unic_mempool_detach(struct unic_dev *dev);
static inline struct unic_buf *unic_mempool_entry(const struct unic_mempool *p, uint32_t i)
{
	return &p->bufs[i];
}

/* ---- PCI (pci.c) ---- */
struct unic_bar {
	void *addr;              /* mmap'ed memory BAR, or NULL */
	size_t size;
	bool is_io;              /* I/O port BAR: accessed with pread/pwrite on io_fd */
	int io_fd;               /* VFIO device fd, or the sysfs resourceN file; -1 if none */
	uint64_t io_offset;      /* VFIO region offset; 0 for sysfs */
};

int unic_pci_read_id(const char *bdf, const char *file, uint32_t *val);
int unic_pci_driver(const char *bdf, char *drv, size_t len); /* "" when unbound */
int unic_pci_unbind(const char *bdf);
int unic_pci_bind(const char *bdf, const char *driver);
/* Maps the memory BARs (and opens the I/O BARs) through sysfs resourceN files. */
int unic_pci_map_bars_sysfs(struct unic_dev *dev);
void unic_pci_unmap_bars(struct unic_dev *dev);
int unic_pci_config_read(struct unic_dev *dev, void *buf, size_t len, off_t off);
int unic_pci_config_write(struct unic_dev *dev, const void *buf, size_t len, off_t off);
int unic_pci_enable_bus_master(struct unic_dev *dev, bool on);
/* Kernel interface names of a PCI device; returns the count found. */
int unic_pci_netdevs(const char *bdf, char names[][32], int max);
/* Non-zero and a reason when an interface is up with an address or a route. */
int unic_netdev_in_use(const char *ifname, char *why, size_t len);

/* I/O BAR access (legacy virtio): through VFIO region pread/pwrite or port I/O. */
uint8_t unic_io_read8(struct unic_dev *dev, int bar, uint32_t off);
uint16_t unic_io_read16(struct unic_dev *dev, int bar, uint32_t off);
uint32_t unic_io_read32(struct unic_dev *dev, int bar, uint32_t off);
void unic_io_write8(struct unic_dev *dev, int bar, uint32_t off, uint8_t v);
void unic_io_write16(struct unic_dev *dev, int bar, uint32_t off, uint16_t v);
void unic_io_write32(struct unic_dev *dev, int bar, uint32_t off, uint32_t v);

/* ---- VFIO (vfio.c) ---- */
/* Group viability, the process-wide container, the device fd; maps the BARs into dev->bars. */
int unic_vfio_open(struct unic_dev *dev, bool noiommu);
void unic_vfio_close(struct unic_dev *dev);
bool unic_vfio_container_iommu(void);            /* true when DMA goes through MAP_DMA */
/* A DMA area mapped into the container keeps it open (a pool may outlive every device). */
void unic_vfio_container_hold(void);
void unic_vfio_container_release(void);
int unic_vfio_dma_map(void *virt, size_t size, uint64_t *iova);
int unic_vfio_dma_map_at(void *virt, size_t size, uint64_t iova);
int unic_vfio_dma_unmap(uint64_t iova, size_t size);
/* DMA domain of the current container (a new one each time the container is created). */
uint64_t unic_vfio_domain(void);
int unic_vfio_reset(struct unic_dev *dev);
/* IOMMU group number of a device, or -1 when it has none. */
int unic_pci_iommu_group(const char *bdf);

/* ---- interrupts (irq.c): wake-up descriptors per vector, owned by the device ---- */
#define UNIC_IRQ_MAX (UNIC_MAX_QUEUES + 1) /* one per rx queue and one for link / other causes */
enum unic_irq_kind {
	UNIC_IRQ_NONE = 0,
	UNIC_IRQ_MSIX,   /* VFIO: one eventfd per MSI-X vector */
	UNIC_IRQ_MSI,    /* VFIO: MSI, one message shared by the listeners (as INTx, but edge-triggered) */
	UNIC_IRQ_INTX,   /* the one INTx line (UIO or VFIO); each "vector" is a listener that sees every interrupt */
};
struct unic_irq {
	bool ready;                 /* unic_irq_init ran: a zeroed (calloc'ed) handle has no descriptors */
	enum unic_irq_kind kind;
	unsigned n;                 /* vectors (listeners) set up */
	int fds[UNIC_IRQ_MAX];      /* per vector: an eventfd (MSI-X), an open file of /dev/uioN (UIO), or
				     * an epoll set of line_fd and wake_fds[v] (a VFIO line: INTx, MSI) */
	int line_fd;                /* a VFIO line: the one eventfd the kernel signals, or -1 */
	int wake_fds[UNIC_IRQ_MAX]; /* a VFIO line: per listener, what another listener's drain passed on */
	int req_fd;                 /* VFIO device request (unplug) eventfd, or -1 */
	int event_epoll;            /* unic_event_fd: the driver's event fd and req_fd in one set, or -1 */
	atomic_bool unplugged;      /* the device request fired: the device is going away */
};
void unic_irq_init(struct unic_irq *irq);
/* Vectors of kind this device's access offers (0: none; VFIO_DEVICE_GET_IRQ_INFO). */
unsigned unic_irq_vectors(struct unic_dev *dev, enum unic_irq_kind kind);
/*
 * After the driver set the device up: n vectors of kind, each with its descriptor (unic_irq_fd).
 * 0 or -errno with dev->err set. Freed by unic_irq_free or at close.
 */
int unic_irq_setup(struct unic_dev *dev, enum unic_irq_kind kind, unsigned n);
/* A VFIO line's listeners without the VFIO call (unic_irq_setup's first half; tests play the kernel
 * by writing line_fd). 0 or -errno with dev->err set. */
int unic_irq_line_setup(struct unic_dev *dev, enum unic_irq_kind kind, unsigned n);
int unic_irq_fd(struct unic_dev *dev, unsigned vec);       /* -ENOTSUP when vec is not set up */
void unic_irq_drain(struct unic_dev *dev, unsigned vec);   /* consumes a pending wake-up, never blocks */
/* Makes vector vec's descriptor readable, for a cause the driver read that raised no interrupt
 * (an eventfd: MSI-X, a VFIO line's listener; a UIO listener cannot be woken this way). */
void unic_irq_kick(struct unic_dev *dev, unsigned vec);
/* INTx: lift the mask the kernel's handler set, after the cause is cleared (UIO: the PCI
 * INTx-disable bit; VFIO: VFIO_IRQ_SET_ACTION_UNMASK, which signals again if the line is still up). */
int unic_irq_unmask(struct unic_dev *dev);
void unic_irq_free(struct unic_dev *dev);
/* VFIO device request interrupt as the removal channel (unic_vfio_open). 0 or -errno. */
int unic_irq_request_setup(struct unic_dev *dev);
/* Data path, cheap enough for idle polls: has the kernel asked for the device back? Sets removed. */
bool unic_irq_unplug_check(struct unic_dev *dev);
int unic_irq_unplug_error(struct unic_dev *dev);           /* the error line: being unplugged */
/* The device's event descriptor: driver_fd (link; -1: none) and the removal request together. */
int unic_irq_event_fd(struct unic_dev *dev, int driver_fd);
void unic_irq_close(struct unic_dev *dev);                 /* everything above, at close */

/*
 * record.c: RUN_DIR/BDF ($UNIC_RUN_DIR, else /run/unic/dev) holds what a PCI device
 * needs after its owner dies: owner pid, access method, the kernel driver it had.
 */
struct unic_record {
	pid_t pid;
	char access[16];                     /* unic_access_name() */
	char driver[64];                     /* "" when it had none */
};
int unic_record_save(const char *bdf, const struct unic_record *rec); /* atomic; 0 or -errno */
int unic_record_load(const char *bdf, struct unic_record *rec);       /* -ENOENT, -EINVAL (malformed) */
void unic_record_remove(const char *bdf);
bool unic_record_owner_alive(const struct unic_record *rec);
/* pci.c: bus mastering off, then a function reset through sysfs; *what names the step that failed. */
int unic_pci_quiesce(const char *bdf, const char **what);
/*
 * During unic_open (device locked, access resolved, nothing moved yet): a record left by an
 * owner that died is acted on (device quiesced when it was in sysfs mode, logged; its
 * original driver kept for restore), then this open's record is written. 0 or -errno
 * (only sysfs mode fails when the record cannot be written).
 */
int unic_record_adopt(struct unic_dev *dev);

/* ---- memory-mapped registers ---- */
static inline uint32_t unic_read32(const volatile void *base, uint32_t off)
{
	return *(const volatile uint32_t *)((const volatile uint8_t *)base + off);
}
static inline void unic_write32(volatile void *base, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)((volatile uint8_t *)base + off) = v;
}
static inline uint16_t unic_read16(const volatile void *base, uint32_t off)
{
	return *(const volatile uint16_t *)((const volatile uint8_t *)base + off);
}
static inline void unic_write16(volatile void *base, uint32_t off, uint16_t v)
{
	*(volatile uint16_t *)((volatile uint8_t *)base + off) = v;
}
static inline uint8_t unic_read8(const volatile void *base, uint32_t off)
{
	return *(const volatile uint8_t *)((const volatile uint8_t *)base + off);
}
static inline void unic_write8(volatile void *base, uint32_t off, uint8_t v)
{
	*(volatile uint8_t *)((volatile uint8_t *)base + off) = v;
}
/* Ordering of descriptor memory against the device (x86: compiler barrier suffices for wmb/rmb). */
#define unic_wmb() atomic_thread_fence(memory_order_release)
#define unic_rmb() atomic_thread_fence(memory_order_acquire)
#define unic_mb() atomic_thread_fence(memory_order_seq_cst)

/* A random locally administered unicast address, from getrandom (never rand()). */
void unic_random_mac(uint8_t mac[6]);

/* The default Toeplitz RSS key (rss.c): Microsoft's example key, as Linux and DPDK use. */
#define UNIC_RSS_KEY_LEN 40
extern const uint8_t unic_rss_default_key[UNIC_RSS_KEY_LEN];

/* Sleeps in a control path (reset waits); never on the data path. */
void unic_usleep(unsigned usec);

/* ---- the driver interface ---- */
struct unic_driver {
	const char *name;
	/* PCI drivers: does this driver take vendor:device? */
	bool (*match)(uint16_t vendor, uint16_t device);
	/* Identify: reset if needed, read the MAC. Allocates dev->priv. No queues. */
	int (*probe)(struct unic_dev *dev);
	/* Set up queues from dev->cfg and start the device. */
	int (*start)(struct unic_dev *dev);
	/* Stop, reset, free everything probe and start took (dev->priv included). */
	void (*close)(struct unic_dev *dev);
	uint16_t (*rx_burst)(void *rxq, struct unic_buf **bufs, uint16_t n);
	uint16_t (*tx_burst)(void *txq, struct unic_buf **bufs, uint16_t n);
	/* Fill the hardware fields of st / fold clear-on-read counters; may be NULL. */
	int (*stats)(struct unic_dev *dev, struct unic_stats *st);
	int (*link)(struct unic_dev *dev, struct unic_link *link);
	int (*set_promisc)(struct unic_dev *dev, bool on);
	/* Optional, control path: 0 while the device is usable, else -errno and why in dev->err
	 * (unic_last_error() asks it: the data path only raises a flag, it writes no text). */
	int (*check)(struct unic_dev *dev);
	/* Optional, control path (under ctl_lock): key (dev->rss_key_len bytes) and reta
	 * (dev->rss_reta_size rx queue numbers, checked by the core) are NULL to keep them. */
	int (*set_rss)(struct unic_dev *dev, const uint8_t *key, const uint16_t *reta);
	/*
	 * Interrupts, all optional (NULL: the core answers -ENOTSUP with a line naming the driver).
	 * rx_intr_fd: the queue's wake-up descriptor (the driver or its transport owns it), -errno.
	 * rx_intr_enable: arm, then look at the ring again: 0 empty, 1 a frame waits, -errno.
	 * rx_intr_disable: disarm and consume a pending wake-up. Data path (the queue's thread).
	 * tx_reclaim: free completed tx buffers, return how many. Data path.
	 * event_fd / event_ack: link and removal events (control path, under ctl_lock).
	 */
	int (*rx_intr_fd)(struct unic_dev *dev, void *rxq);
	int (*rx_intr_enable)(void *rxq);
	int (*rx_intr_disable)(void *rxq);
	uint16_t (*tx_reclaim)(void *txq);
	int (*event_fd)(struct unic_dev *dev);
	int (*event_ack)(struct unic_dev *dev);
};

/*
 * Software counters every queue keeps; the core sums them for unic_stats() and reads them for
 * unic_queue_stats(). Written only by the thread that owns the queue, read by control calls
 * from any thread: every access goes through UNIC_STAT_ADD / UNIC_STAT_GET (relaxed atomic
 * load and store: on x86 a plain add, no locked instruction; no torn reads, no data race).
 */
struct unic_qcounters {
	uint64_t packets, bytes;
	uint64_t dropped;    /* rx: no buffer / did not fit; tx: taken and not sent (too long, broken) */
	uint64_t errors;     /* the device reported an error on the frame */
	uint64_t bad_device; /* values written by the device that failed a check */
	uint64_t copied;     /* tx: frames sent as a copy (their buffer was in another DMA domain) */
};
#define UNIC_STAT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define UNIC_STAT_INC(field) UNIC_STAT_ADD(field, 1)
#define UNIC_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct unic_dev {
	struct unic_config cfg;
	struct unic_config cfg_asked;        /* cfg before defaults: a 0 the driver may fill its own way */
	struct unic_spec spec;
	const struct unic_driver *drv;
	void *priv;                          /* driver state */
	uint16_t vendor_id, device_id;
	uint8_t mac[6];
	char err[UNIC_ERR_LEN];
	char orig_driver[64];                /* kernel driver it had, for restore */
	char features[128];                  /* driver's description for unic_info */
	uint16_t max_mtu;                    /* set by probe: the largest cfg.mtu it takes (0: 1500) */
	uint16_t rx_buf_need;                /* set by probe: data bytes a receive buffer needs for a
						frame of cfg.mtu to land whole in it, when the device
						sizes buffers in steps (0: mtu + 18) */
	uint16_t rss_key_len, rss_reta_size; /* set by probe or start when the device has RSS */

	/* queues: set by the driver's start(); the core dispatches through these */
	uint16_t num_rxq, num_txq;
	uint16_t rx_ring_size, tx_ring_size;
	void *rxq[UNIC_MAX_QUEUES];
	void *txq[UNIC_MAX_QUEUES];
	struct unic_qcounters *rxq_stats[UNIC_MAX_QUEUES]; /* driver-owned, may be NULL */
	struct unic_qcounters *txq_stats[UNIC_MAX_QUEUES];

	struct unic_mempool *pool;           /* created by the core before start(), or cfg.pool */
	uint32_t pool_rx_share;              /* cfg.pool: what this device's rx rings take of it */
	pthread_mutex_t ctl_lock;            /* stats, link, promisc: control calls from any thread */

	/* device access */
	struct unic_bar bars[UNIC_MAX_BARS];
	int config_fd;                       /* sysfs config file, or -1 */
	int lock_fd;                         /* held while open: one process per device */
	int vfio_group_fd, vfio_device_fd;
	uint64_t vfio_config_offset;         /* VFIO config region offset */
	int dma_mode;                        /* enum unic_dma_mode for this device */
	atomic_bool removed;                 /* device reads all-ones: surprise removal (any thread sets it) */
	struct unic_irq irq;                 /* interrupt descriptors (irq.c) */
	char uio_path[32];                   /* UIO access: /dev/uioN, "" otherwise */
	bool record_saved;                   /* this open wrote the crash record (record.c) */

	/* non-PCI backends (vhost-user) keep their transport here */
	void *backend;
};

/*
 * unic_tx_burst's slow path (txcopy.c), for a burst holding a buffer of another pool: frames
 * whose pool is in another DMA domain go out as copies in buffers of dev->pool. Same
 * contract as unic_tx_burst; queue is valid.
 */
uint16_t unic_tx_cross_domain(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n);

/* Every driver the library has; the core walks this to find one for a device. */
extern const struct unic_driver unic_driver_virtio_net;
extern const struct unic_driver unic_driver_igb;
extern const struct unic_driver unic_driver_e1000e;
extern const struct unic_driver unic_driver_e1000;
extern const struct unic_driver unic_driver_vmxnet3;

/* ---- backends (backends.c): the one table from spec prefix to probe ---- */
/* What follows a spec's prefix. */
enum unic_spec_arg {
	UNIC_SPEC_PCI = 1,  /* a PCI address: dev.c's PCI path (driver table, access method) */
	UNIC_SPEC_PATH,     /* a unix socket path (vhost-user) */
	UNIC_SPEC_IFNAME,   /* a kernel interface name, then ",option"s */
};
/* Options an IFNAME spec may take (unic_backend.options). */
#define UNIC_OPT_QUEUES   (1u << 0)  /* ,queues=N */
#define UNIC_OPT_QUEUE    (1u << 1)  /* ,queue=N */
#define UNIC_OPT_XDP_MODE (1u << 2)  /* ,copy or ,zerocopy */
#define UNIC_OPT_QDISC_BYPASS (1u << 3) /* ,qdisc_bypass */
struct unic_backend {
	const char *name;            /* the prefix without ':', and unic_access_name() */
	enum unic_access access;
	enum unic_spec_arg arg;
	unsigned options;            /* UNIC_OPT_* accepted after an IFNAME */
	/*
	 * NULL for PCI rows, and for a backend this build lacks. Otherwise the probe step of
	 * unic_open: takes what dev->spec names, binds a driver (dev->drv, its state in
	 * dev->priv / dev->backend), sets dev->mac and dev->dma_mode; no queues yet (drv->start
	 * makes them). On failure it frees what it took and returns -errno with dev->err set.
	 */
	int (*probe)(struct unic_dev *dev);
	const char *syntax;          /* for error lines: "af_packet:IFNAME[,queues=N]" */
};
/* The row whose prefix ("name:") spec starts with, and the prefix's length; NULL when none. */
const struct unic_backend *unic_backend_by_prefix(const char *spec, size_t *prefix_len);
const struct unic_backend *unic_backend_by_access(enum unic_access a);

/* Kernel interfaces (netif.c), for the backends that use one (dev->spec.ifname). */
/* 0 when it exists and is administratively up; else one line naming it, prefixed "what: ". */
int unic_netif_check_up(struct unic_dev *dev, const char *what);
int unic_netif_mac(const char *ifname, uint8_t mac[6]);   /* 0 or -errno */
int unic_netif_mtu(const char *ifname, uint32_t *mtu);    /* 0 or -errno */
/* From /sys/class/net/IF: operstate "up", speed (0 when unknown), duplex. */
int unic_netif_link(struct unic_dev *dev, struct unic_link *link);

/* The probes: named only by backends.c's table. */
int unic_vhost_user_probe(struct unic_dev *dev);  /* src/drivers/virtio/virtio_vhost_user.c */
int unic_af_xdp_probe(struct unic_dev *dev);      /* src/backends/af_xdp/ */
int unic_af_packet_probe(struct unic_dev *dev);   /* src/backends/af_packet/ */
int unic_tap_probe(struct unic_dev *dev);         /* src/backends/tap/ */

/*
 * Kernel-interface backends (af_packet, af_xdp, tap) sleep in poll() on a queue's socket or
 * tap fd: readiness is level-triggered (readable while a frame waits), so arming needs no
 * second look at the ring and a wake-up is never lost; there is nothing to consume.
 */
static inline int unic_netif_intr_armed(void *rxq) { (void)rxq; return 0; }
static inline int unic_netif_intr_off(void *rxq) { (void)rxq; return 0; }

/* Default ring size when cfg leaves it 0 and the driver has no better figure. */
#define UNIC_DEFAULT_RING 512

#endif
