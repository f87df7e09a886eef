/*
 * unic.h - the one public header of unic, a user space network driver library.
 *
 * A unic program takes a NIC away from the kernel, maps its registers, gives it
 * DMA memory and drives its descriptor rings itself, in poll mode.
 *
 *   struct unic_config cfg;
 *   char err[UNIC_ERR_LEN];
 *   unic_config_init(&cfg);
 *   struct unic_dev *dev = unic_open("vfio:0000:00:04.0", &cfg, err, sizeof err);
 *   if (!dev) { fprintf(stderr, "%s\n", err); return 1; }
 *   struct unic_buf *bufs[32];
 *   uint16_t n = unic_rx_burst(dev, 0, bufs, 32);
 *   uint16_t sent = unic_tx_burst(dev, 0, bufs, n);   // tx owns what it took
 *   unic_buf_free_bulk(bufs + sent, n - sent);         // the caller keeps the rest
 *   unic_close(dev);
 *
 * Rules: the library never exits and never prints; it reports through return
 * values, the error text of unic_open/unic_last_error, and the log hook.
 *
 * Threads:
 * - Data path: a queue (rx queue q or tx queue q of a device) is used by one thread at a
 *   time; the application serializes calls on one queue. Different queues of one device
 *   may be used by different threads at once: unic_rx_burst/unic_tx_burst take no lock.
 * - Buffers: any thread may allocate from any pool and free any buffer, whichever thread
 *   or device it came from; a buffer received on one device may be sent on another. Each
 *   thread has its own cache of each pool (no lock, no atomic operation on the common
 *   alloc/free); caches refill from and flush to the pool's shared store in bulk. So a
 *   thread may find a pool empty while other threads' caches hold free buffers; a thread
 *   that exits gives its cached buffers back. Up to 64 threads have caches at once; more
 *   still work, through the store's lock.
 * - Control: unic_open, unic_close, unic_stats, unic_queue_stats, unic_link,
 *   unic_set_promisc, unic_mac, unic_info, unic_set_log and the unic_pci_* calls may be
 *   made from any thread, also while other threads run the data path of the same device.
 *   Counters read by unic_stats while queues run may be a few packets behind. The text
 *   of unic_last_error(dev) may be overwritten by a failing call on dev in another thread:
 *   read it in the thread whose call failed, before dev is used elsewhere.
 * - unic_close(dev) must not race with any other call on dev: before it, the application
 *   stops every thread that uses dev's queues or calls control functions on dev, and makes
 *   sure those calls have returned (e.g. pthread_join, or a flag and a barrier). Buffers of
 *   dev's pool may still be held and freed afterwards, from any thread: the pool lives
 *   until the last one is home.
 */
#ifndef UNIC_H
#define UNIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden: what this header declares is its public API. */
#pragma GCC visibility push(default)

#define UNIC_VERSION_MAJOR 0
#define UNIC_VERSION_MINOR 1
#define UNIC_VERSION_PATCH 0
#define UNIC_VERSION_STRING "0.1.0"

/* Size of an error buffer that always fits unic's messages. */
#define UNIC_ERR_LEN 256

struct unic_dev;
struct unic_mempool;

/*
 * A packet buffer. This descriptor is ordinary process memory that no device can
 * reach; only the packet room it points to (headroom, then frame data: room_size
 * bytes in the pool's DMA memory) is shared with the device. The frame is at
 * room[data_off], len bytes long. The fields are public so that the data path can
 * be inlined; change only data_off, len and user.
 */
struct unic_buf {
	uint64_t room_iova;        /* DMA address of room[0] (set by the pool) */
	struct unic_mempool *pool; /* owner (set by the pool) */
	uint8_t *room;             /* headroom, then frame data, in DMA memory (set by the pool) */
	uint32_t index;            /* entry number in the pool (set by the pool) */
	uint16_t data_off;         /* frame start within room[] */
	uint16_t len;              /* frame length in bytes, without FCS */
	uint16_t room_size;        /* bytes in room[] (set by the pool) */
	uint16_t rx_queue;         /* queue the frame was received on */
	uint32_t rss_hash;         /* device RSS hash when it gives one, else 0 */
	uint64_t user;             /* free for the application */
	uint8_t pad_[16];          /* to one 64-byte cache line */
};

/* Headroom left in front of every frame: room for a virtio header or a tunnel header. */
#define UNIC_HEADROOM 128
/* Largest cfg.buf_size: a room (headroom + data, rounded up to a 64-byte line) fits a uint16_t. */
#define UNIC_BUF_SIZE_MAX (UINT16_MAX / 64 * 64 - UNIC_HEADROOM)

static inline void *unic_buf_data(struct unic_buf *b) { return b->room + b->data_off; }
static inline uint64_t unic_buf_dma(const struct unic_buf *b) { return b->room_iova + b->data_off; }
static inline uint16_t unic_buf_tailroom(const struct unic_buf *b)
{
	return (uint16_t)(b->room_size - b->data_off - b->len);
}

/* Mempool: fixed-size buffers, O(1) batch alloc/free, no system call on the hot path; any
 * thread may allocate and free (see Threads above). */
struct unic_mempool *unic_dev_mempool(struct unic_dev *dev);
/* Allocates exactly n buffers (len 0, data_off UNIC_HEADROOM) or none: returns n or 0. */
uint32_t unic_buf_alloc_bulk(struct unic_mempool *pool, struct unic_buf **bufs, uint32_t n);
struct unic_buf *unic_buf_alloc(struct unic_mempool *pool);
void unic_buf_free(struct unic_buf *buf);
void unic_buf_free_bulk(struct unic_buf **bufs, uint32_t n);
/*
 * A pool made by the application, for several devices and queues: count buffers of buf_size
 * data bytes (64..UNIC_BUF_SIZE_MAX) each, in 2 MiB hugepages when enough are free, else in
 * 4 KiB pages (buf_size up to 3968; UNIC_NO_HUGEPAGES=1 forces them; sysfs: and vfio-noiommu:
 * devices refuse such a pool). It takes its DMA reach from the first device opened with it
 * (cfg.pool); devices opened with it later must be in the same DMA domain (all vfio: devices
 * of the process; all sysfs: and vfio-noiommu: devices; vhost-user devices add it to their
 * backend's memory table), else unic_open refuses; once no device uses it (and, for sysfs:,
 * every buffer is home) the next device binds it anew. Its buffers are sent zero-copy by
 * every device of its domain. unic_open also refuses it when it cannot fill the rx rings of
 * all its devices (rx_queues x rx_ring_size each). NULL and one line in err.
 */
struct unic_mempool *unic_mempool_create(uint32_t count, uint16_t buf_size, char *err, size_t errlen);
/* The application's reference: the pool is freed once every device using it has closed and
 * every buffer is home, in whatever order that happens. After it, the pool may not be given
 * to unic_open; its buffers still out stay valid until freed. */
void unic_mempool_release(struct unic_mempool *pool);
/* Free buffers: the shared store and every thread's cache (exact when no thread is using it). */
uint32_t unic_mempool_free_count(const struct unic_mempool *pool);
uint32_t unic_mempool_size(const struct unic_mempool *pool);

struct unic_config {
	/* unic_open checks every field before it touches the device: one error line per refusal */
	uint16_t rx_queues;     /* 1..16; 0: 1 */
	uint16_t tx_queues;     /* 1..16; 0: 1 */
	uint16_t rx_ring_size;  /* descriptors, 8..32768 (drivers may round or need more); 0: default */
	uint16_t tx_ring_size;  /* descriptors, 8..32768 (drivers may round or need more); 0: default */
	uint32_t pool_size;     /* buffers in the device's mempool, at least rx_queues x rx_ring_size,
				   at most 2^24; 0: enough for the rings */
	uint16_t buf_size;      /* data room per buffer, 64..UNIC_BUF_SIZE_MAX; 0: 2048 */
	bool promisc;           /* start in promiscuous mode */
	bool restore_driver;    /* on close, hand the device back to the kernel driver it had */
	bool allow_unsafe;      /* a bare PCI address may fall back to no-IOMMU access */
	bool force;             /* take a device whose kernel interface is up with an address or route */
	bool probe_only;        /* map and identify the device, set up no queues */
	bool no_hugepages;      /* vhost-user: DMA memory in ordinary 4 KiB memfd pages even when
				   2 MiB hugepages are free (also set by the environment variable
				   UNIC_NO_HUGEPAGES=1); without it hugepages are used when free */
	bool no_packed_ring;    /* virtio (every transport): never negotiate VIRTIO_F_RING_PACKED, so
				   the split ring is used even when the device offers the packed one */
	uint32_t open_timeout_ms; /* vhost-user: the most unic_open may wait on the backend in all
				   (accepting it in server mode, then every reply); 0: 10000. Each
				   reply is also bounded by 5 s. */
	uint16_t mtu;           /* largest frame payload (IP packet) in bytes, 68..9000 and at most
				   unic_info's max_mtu; 0: 1500. The device takes frames of up to
				   mtu + 18 bytes (Ethernet header and one VLAN tag, no FCS), each in
				   one buffer: buf_size, when 0, grows to fit (and must fit when set;
				   a device that sizes buffers in steps needs the next step: igb 1 KB
				   units, 9216 for mtu 9000; e1000e 2/4/8/16 KB, 16384 for 9000) */
	struct unic_mempool *pool; /* NULL: unic_open makes the device's own pool (pool_size,
				   buf_size). Else the device receives into this pool, made by
				   unic_mempool_create and shared with other devices and queues
				   (pool_size and buf_size are then ignored; its buffers must fit mtu) */
	const volatile int *cancel; /* NULL, or a flag the application sets non-zero (from a signal
				   handler or another thread; a volatile sig_atomic_t works) to make
				   a unic_open in progress give up: every wait on a vhost-user
				   backend looks at it at least every 50 ms and after each signal,
				   and unic_open then fails with "... cancelled ...". Read only
				   during unic_open; it must stay valid until unic_open returns. */
};

void unic_config_init(struct unic_config *cfg);

/*
 * Opens a device. spec is one of:
 *   0000:00:03.0             VFIO with an IOMMU; refused without one unless cfg->allow_unsafe
 *   vfio:0000:00:03.0        VFIO with an IOMMU
 *   vfio-noiommu:0000:00:03.0  VFIO in no-IOMMU mode (root; DMA is not confined)
 *   sysfs:0000:00:03.0       sysfs resource0 + /proc/self/pagemap (root; DMA is not confined)
 *   uio:0000:00:03.0         bound to uio_pci_generic ('modprobe uio_pci_generic' first): as
 *                            sysfs: (root, pagemap, not confined) plus the device's INTx line
 *                            through /dev/uioN, so it can sleep when idle (unic_rx_wait); all
 *                            its queues share that one line
 *   vhost-user:/path/sock    virtio-net over vhost-user (no root, no device): unic connects
 *                            to a backend listening on the socket (e.g. DPDK net_vhost,
 *                            QEMU's vhost-user-* daemons, a vswitch) and shares its DMA
 *                            memory with it through memfd (hugepages when free, else 4 KiB
 *                            pages; see no_hugepages)
 *   vhost-user:/path/sock,server  the same, but unic creates the socket and waits (up to
 *                            cfg->open_timeout_ms) for a backend in client mode to connect
 *                            (DPDK: client=1). A socket at the path that another process
 *                            listens on, or a path that is not a socket, is refused (a
 *                            stale socket nobody listens on is replaced). Only a peer of
 *                            uid 0 or of unic's own uid may connect (SO_PEERCRED);
 *                            others are closed and named in the error.
 *   vhost-user:/path/sock,server,uid=N  also lets a backend of uid N connect
 *   A vhost-user backend that goes away (or fails during open) is reported by its first
 *   cause (closed the connection, stopped answering, malformed reply, ...) and the request
 *   it failed at: the next rx/tx burst returns 0, unic_last_error() says so, and
 *   unic_stats()/unic_link() return -EPIPE (or the cause's errno) - unic_stats() still
 *   fills in the counters so far. Reopen the device once the backend is back. Several
 *   queue pairs (rx_queues = tx_queues = N) when the backend has the vhost-user protocol
 *   feature MQ, up to the count it reports (DPDK: net_vhost0,iface=PATH,queues=N); the
 *   backend chooses the pair a frame arrives on. No control queue.
 *   af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy]  a kernel interface through AF_XDP
 *                            sockets bound to its queues N.. (default 0); zero-copy when
 *                            the kernel driver offers it, else copy (or as asked)
 *   af_packet:IFNAME[,queues=N]  a kernel interface through AF_PACKET sockets (PACKET_MMAP
 *                            rings, one socket per queue, PACKET_FANOUT hash over them). Needs
 *                            CAP_NET_RAW. The kernel keeps the interface (its addresses and
 *                            stack stay), so an interface with an address is not refused; a
 *                            missing or down one is. Every frame is copied between the
 *                            kernel's ring and unic buffers.
 *   tap:NAME[,queues=N]      unic creates the TAP interface NAME (IFF_MULTI_QUEUE with N > 1)
 *                            and exchanges frames with the kernel's stack through it: the
 *                            exception path (ARP, control traffic, host services). Needs
 *                            CAP_NET_ADMIN; the interface is removed on close. Its link is the
 *                            tap's carrier: up once the kernel side is set up.
 *   ",queues=N" (1..16) sets rx_queues and tx_queues both; cfg must then ask for 0, 1 or N.
 *   af_packet and tap copy every frame, so unic_tx_burst gives them any pool's buffer as is
 *   (no tx_copied), and their pools live in ordinary memory (no hugepages, no IOMMU).
 * Returns NULL and one line in err (if given) on failure.
 */
struct unic_dev *unic_open(const char *spec, const struct unic_config *cfg, char *err, size_t errlen);
/* Stops the device, resets it, frees its memory; 0 or a negative errno. */
int unic_close(struct unic_dev *dev);

/*
 * Non-blocking, batched. rx is zero copy. tx takes bufs[0..returned) and the caller keeps
 * the rest. A buffer tx takes goes out without a copy when its pool shares the device's DMA
 * domain: the device's own pool, or any pool of the same kind of DMA access (all vfio:
 * devices of the process share one IOMMU container; sysfs: and vfio-noiommu: devices share
 * physical addresses). Otherwise (a vhost-user device's buffer, whose backend maps only that
 * device's memory; a vfio: buffer on a sysfs: NIC or back) the frame is copied into a buffer
 * of the sending device's pool, the original is freed, and stats tx_copied counts it; when
 * that pool has no free buffer, tx stops there and the caller keeps the rest; a frame longer
 * than that pool's buffers is taken, dropped and counted in tx_errors.
 */
uint16_t unic_rx_burst(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n);
uint16_t unic_tx_burst(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n);

/*
 * Interrupts: sleep until a frame arrives instead of polling an idle queue. Every rx queue has
 * a file descriptor that becomes readable (POLLIN) when the queue's interrupt fires, to put in
 * a poll/epoll set with the application's own descriptors. The thread that owns the queue:
 *
 *   for (;;) {
 *       uint16_t n = unic_rx_burst(dev, q, bufs, 32);
 *       if (n) { handle(bufs, n); continue; }
 *       if (unic_rx_intr_enable(dev, q) == 1)   // a frame landed while arming:
 *           continue;                            // it is not slept on
 *       poll(&(struct pollfd){ .fd = unic_rx_fd(dev, q), .events = POLLIN }, 1, -1);
 *       unic_rx_intr_disable(dev, q);            // back to polling; consumes the wake-up
 *   }
 *
 * unic_rx_wait() is that arm / look again / sleep / disarm step with a timeout. Several queues
 * may share one descriptor (UIO: the device's one INTx line): after a wake-up, look at every
 * queue armed on it. A device that cannot interrupt (sysfs: access) answers -ENOTSUP, and
 * unic_last_error() says why and what to use instead; such a queue can only be polled.
 */
/* The queue's wake-up descriptor (owned by the library: do not close or read it), or -errno. */
int unic_rx_fd(struct unic_dev *dev, uint16_t queue);
/* Arms the queue's interrupt, then looks at the ring once more: 0 when it is empty (sleep on
 * the descriptor now), 1 when a frame is already waiting (receive it; the interrupt may stay
 * armed), or -errno. Data path: call it from the thread that owns the queue. */
int unic_rx_intr_enable(struct unic_dev *dev, uint16_t queue);
/* Disarms it and consumes a pending wake-up of the descriptor. 0 or -errno. Data path. */
int unic_rx_intr_disable(struct unic_dev *dev, uint16_t queue);
/* Returns 1 at once when a frame is waiting, else sleeps until a wake-up (1: receive now; on
 * a shared descriptor the frame may be on another queue), 0 when
 * timeout_ms (-1: no limit) passed, -EINTR on a signal, or another -errno (the device went
 * away, or it cannot interrupt). Data path. */
int unic_rx_wait(struct unic_dev *dev, uint16_t queue, int timeout_ms);
/* Frees the buffers of frames the device finished sending, without sending: how many. Data
 * path (the thread that owns tx queue queue). */
uint16_t unic_tx_reclaim(struct unic_dev *dev, uint16_t queue);
/*
 * Device events: a descriptor that becomes readable when the link changes or the device is
 * being removed (VFIO's device request: unplug); then unic_event_ack() consumes it and says
 * what happened. Control call. -ENOTSUP when the device cannot tell (sysfs: access).
 */
int unic_event_fd(struct unic_dev *dev);
#define UNIC_EVENT_LINK 1u      /* the link changed: unic_link() has the new state */
#define UNIC_EVENT_REMOVED 2u   /* the device is going away: close it (unic_last_error says why) */
/* The events since the last call (UNIC_EVENT_* bits, 0 for none), or -errno. Control call. */
int unic_event_ack(struct unic_dev *dev);

struct unic_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_dropped;    /* no buffer, or frames that did not fit */
	uint64_t rx_errors;     /* device reported an error on the frame */
	uint64_t tx_errors;     /* device reported an error on a frame it sent */
	uint64_t tx_dropped;    /* taken by tx and not sent: nothing valid to send, or too long */
	uint64_t bad_device;    /* values written by the device that failed a check */
	/* Counters the hardware keeps itself, where it has them (else 0). */
	uint64_t hw_rx_packets, hw_tx_packets, hw_rx_missed;
	uint64_t tx_copied;     /* frames sent as a copy: their buffer was in another DMA domain */
	/* Times a frame met an empty receive ring (Intel RNBC). Not a drop count: the frame may
	 * still be received from the device's FIFO; frames it drops are in hw_rx_missed. */
	uint64_t hw_rx_no_buf;
};
/* 0, or a negative errno when the device is gone: st then holds the counters so far. */
int unic_stats(struct unic_dev *dev, struct unic_stats *st);
/* The software counters of rx queue q and tx queue q (a side the device has fewer queues of
 * reads 0). Like unic_stats, safe while the queues run. 0, or -EINVAL. */
struct unic_queue_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t bad_device;    /* both directions */
};
int unic_queue_stats(struct unic_dev *dev, uint16_t queue, struct unic_queue_stats *st);

/*
 * Receive side scaling: which rx queue a flow lands on. key: the Toeplitz hash key (key_len
 * bytes; unic_info's rss_key_len, 40 on Intel and virtio-net), NULL to keep it; reta: the
 * redirection table (reta_len entries, unic_info's rss_reta_size, each an rx queue number),
 * NULL to keep it. unic_open sets a default key and spreads the table over the rx queues.
 * 0, -EINVAL (wrong length, queue out of range), -ENOTSUP (the device has no RSS: a virtio-net
 * device without VIRTIO_NET_F_RSS spreads flows over its queue pairs by itself).
 */
int unic_set_rss(struct unic_dev *dev, const uint8_t *key, size_t key_len, const uint16_t *reta, size_t reta_len);

struct unic_link {
	bool up;
	bool full_duplex;
	uint32_t speed_mbps;    /* 0 when unknown */
};
int unic_link(struct unic_dev *dev, struct unic_link *link);
int unic_mac(struct unic_dev *dev, uint8_t mac[6]);
int unic_set_promisc(struct unic_dev *dev, bool on);

enum unic_access {
	UNIC_ACCESS_VFIO = 1,
	UNIC_ACCESS_VFIO_NOIOMMU,
	UNIC_ACCESS_SYSFS,
	UNIC_ACCESS_VHOST_USER,
	UNIC_ACCESS_AF_XDP,       /* a kernel interface through AF_XDP sockets */
	UNIC_ACCESS_AF_PACKET,    /* a kernel interface through AF_PACKET (PACKET_MMAP) sockets */
	UNIC_ACCESS_TAP,          /* a TAP interface unic creates: frames to and from the kernel stack */
	UNIC_ACCESS_UIO,          /* uio:BDF: uio_pci_generic, one INTx line; DMA as sysfs: (root) */
};

struct unic_info {
	char name[64];          /* the spec it was opened with */
	char pci_addr[16];      /* empty for non-PCI backends */
	const char *driver;     /* "virtio-net", "igb", ... */
	enum unic_access access;
	uint16_t vendor_id, device_id;
	uint16_t rx_queues, tx_queues;
	uint16_t rx_ring_size, tx_ring_size;
	char features[128];     /* driver-specific: negotiated features, ring type */
	uint16_t mtu;           /* in effect (cfg.mtu) */
	uint16_t max_mtu;       /* the largest cfg.mtu this device takes */
	uint16_t rss_key_len;   /* bytes of RSS key, 0 when the device has no RSS */
	uint16_t rss_reta_size; /* entries of the redirection table, 0 when none */
};
int unic_info(struct unic_dev *dev, struct unic_info *info);
const char *unic_access_name(enum unic_access a);

/* The text of the last error on this device (never NULL); when the device is gone (a
 * vhost-user backend hung up, even if only a burst saw it), it says why. Control call. */
const char *unic_last_error(struct unic_dev *dev);

enum unic_log_level { UNIC_LOG_ERR = 0, UNIC_LOG_WARN, UNIC_LOG_INFO, UNIC_LOG_DEBUG };
typedef void (*unic_log_fn)(enum unic_log_level level, const char *msg, void *arg);
/* No hook (the default): the library prints nothing. */
void unic_set_log(unic_log_fn fn, void *arg, enum unic_log_level max_level);

/* af_xdp: how the sockets bind (",copy" / ",zerocopy" in the spec). */
enum unic_xdp_mode {
	UNIC_XDP_AUTO = 0,         /* zero-copy when the kernel driver offers it, else copy */
	UNIC_XDP_COPY,             /* XDP_COPY only */
	UNIC_XDP_ZEROCOPY,         /* XDP_ZEROCOPY or fail */
};

/* Parsed form of a device spec; exposed for tools and tests. */
struct unic_spec {
	enum unic_access access;   /* 0 for a bare PCI address */
	char pci_addr[16];         /* canonical dddd:bb:ss.f; "" for the other backends */
	char path[108];            /* vhost-user socket path */
	bool server;               /* vhost-user: ",server" suffix: unic listens, the backend connects */
	bool has_peer_uid;         /* vhost-user server: ",uid=N" suffix given */
	uint32_t peer_uid;         /* ... the N: a backend of that uid may connect too */
	char ifname[16];           /* af_xdp, af_packet, tap: the kernel interface name (IFNAMSIZ) */
	uint16_t queues;           /* ",queues=N" (1..16), 0 when not given: unic_open uses N rx and
				      N tx queues (cfg rx_queues/tx_queues must then be 0, 1 or N) */
	bool has_queue;            /* af_xdp ",queue=N" given */
	uint16_t queue;            /* ... the N: the interface's first queue to bind (default 0) */
	enum unic_xdp_mode xdp_mode; /* af_xdp ",copy" / ",zerocopy" */
};
int unic_parse_spec(const char *spec, struct unic_spec *out, char *err, size_t errlen);

/*
 * PCI devices as the kernel sees them, and moving one between kernel drivers:
 * for tools (unic-devbind) that prepare a device by hand, as root, before a
 * unic program opens it. unic_open() does the same by itself. These functions
 * only read and write sysfs; they never open the device. A BDF is a bare PCI
 * address, "0000:00:04.0" or "00:04.0"; anything else is -EINVAL.
 */
#define UNIC_PCI_MAX_IFACES 4

struct unic_pci_iface {
	char name[32];          /* kernel network interface, e.g. "enp0s4" */
	bool up;                /* administratively up (IFF_UP) */
	bool in_use;            /* up with an IPv4 or non-link-local IPv6 address, or a route */
	char why[128];          /* when in_use: one line saying so, else "" */
};

struct unic_pci_device {
	char bdf[16];           /* canonical dddd:bb:ss.f */
	uint16_t vendor_id, device_id;
	uint32_t class_code;    /* base class << 16 | subclass << 8 | prog-if (0x02xxxx: network) */
	char driver[64];        /* kernel driver bound to it, "" when none */
	int iommu_group;        /* -1 when it has none */
	int num_ifaces;         /* entries used in ifaces[] */
	struct unic_pci_iface ifaces[UNIC_PCI_MAX_IFACES];
};

/* Fills out for bdf: 0, -EINVAL, or -ENODEV when there is no such device. */
int unic_pci_inspect(const char *bdf, struct unic_pci_device *out);
/* Network-class PCI devices, sorted by address, into out[0..max) (out may be NULL when max
 * is 0); returns how many there are, which may exceed max, or a negative errno. */
int unic_pci_list_network(struct unic_pci_device *out, int max);
/* 1 when the kernel PCI driver (e.g. "vfio-pci") is loaded, 0 when not, -EINVAL. */
int unic_pci_driver_loaded(const char *driver);
/* Binds bdf to driver through driver_override, so that no other device moves (a no-op when
 * already bound to it). It does not look at the device's interfaces: check ifaces[].in_use
 * first. 0, -EINVAL, -ENODEV (no such device, or the driver did not take it), -ENOENT (the
 * driver is not loaded; nothing changed), -EACCES/-EPERM (needs root), or another -errno. */
int unic_pci_bind_driver(const char *bdf, const char *driver);
/* Unbinds bdf from its kernel driver (0 when it has none); errors as unic_pci_bind_driver. */
int unic_pci_unbind_driver(const char *bdf);
/*
 * After a unic process died with bdf open (unic-devbind --restore): unic_open() records each
 * PCI device it opens in /run/unic/dev/BDF ($UNIC_RUN_DIR). When that record exists and no
 * live process holds the device, the device is quiesced if the dead owner used sysfs: (bus
 * mastering off, function reset, logged) and handed back to the kernel driver it had before
 * unic took it (named in *driver, "" for none); the record is removed. 0, -ENOENT (no
 * record: unic did not leave it behind), -EBUSY (a running process has it open),
 * -EINVAL (bad arguments or a malformed record), or another -errno (e.g. -EACCES: root).
 */
int unic_pci_recover(const char *bdf, char *driver, size_t len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
