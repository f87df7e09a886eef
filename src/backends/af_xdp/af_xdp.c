/*
 * af_xdp.c - the af_xdp backend: any Linux interface through AF_XDP sockets
 * (Documentation/networking/af_xdp.rst), "af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy]".
 *
 * One XSK socket per queue id (queue, queue+1, ...). The UMEM they share is the device's
 * unic pool memory, registered in unaligned-chunk mode so that a room (UNIC_HEADROOM + data,
 * not a power of two) is a chunk: a buffer's DMA address is its offset in the pool
 * (UNIC_DMA_UMEM), so rx hands out the pool's own buffers and tx sends them without a copy.
 * Every af_xdp device is a DMA domain of its own: unic_tx_burst copies other pools' frames.
 *
 * Per socket: fill and rx rings for the rx queue, tx and completion rings for the tx queue
 * (rx and tx of one queue id may run in two threads: their state is apart). Each queue keeps
 * a bitmap of the pool buffers the kernel holds through its rings; an address the kernel
 * hands back must name one of them (xsk_ring.h), else it is counted (bad_device) and dropped.
 * Wakeups follow XDP_USE_NEED_WAKEUP; preferred busy polling is asked for and used when the
 * kernel accepts it. Zero-copy is bound when the driver has it (or refused when ",zerocopy"
 * asks for it and the driver has not), copy mode otherwise; unic_info's features say which.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "af_xdp.h"
#include "xsk_ring.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* AF_XDP chunks are at least 2048 bytes (XDP_UMEM_MIN_CHUNK_SIZE in net/xdp/xdp_umem.c). */
#define XSK_MIN_CHUNK 2048u
/* Ring size when cfg leaves it 0: libxdp's and DPDK's af_xdp default (XSK_RING_CONS__DEFAULT_NUM_DESCS). */
#define XSK_DEFAULT_RING 2048
#define BUSY_POLL_USEC 20      /* SO_BUSY_POLL: how long a recvfrom/sendto may spin in the driver */
#define BUSY_POLL_BUDGET 64    /* SO_BUSY_POLL_BUDGET: frames per busy-poll round */
#define FILL_BATCH 64          /* buffers posted to the fill ring per allocation */
#define COMP_BATCH 64          /* completions freed per bulk free */
/* Copy-mode sendto() sends at most 32 frames (TX_BATCH_SIZE in net/xdp/xsk.c): a tx burst kicks
 * a few times so that its frames leave now rather than on the next call. */
#define TX_KICKS_MAX 8
#define BIND_BUSY_WAIT_US 1000000 /* how long a queue that is busy at bind is waited for */
#define BIND_RETRY_US 10000
#define CARRIER_WAIT_US 10000000 /* how long open waits for a carrier the XDP attach took away */
#define CARRIER_POLL_US 10000

struct xsk_rxq {
	struct xsk_ring fill, rx;
	struct xsk_umem_map map;
	uint8_t *owned;            /* pool buffers in the fill or rx ring (xsk_ring.h) */
	struct unic_mempool *pool;
	struct unic_qcounters stats;
	uint32_t refill_min;       /* free fill slots worth an allocation */
	int fd;
	uint16_t queue;            /* unic's queue number (buf->rx_queue) */
	bool busy_poll;            /* kick on every empty poll: it drives the driver */
	bool broken;               /* the kernel's ring indices were impossible: queue stopped */
};

struct xsk_txq {
	struct xsk_ring tx, comp;
	struct xsk_umem_map map;
	uint8_t *owned;            /* pool buffers in the tx or completion ring */
	struct unic_mempool *pool;
	struct unic_qcounters stats;
	int fd;
	bool busy_poll;
	bool broken;
};

struct xsk_sock {
	int fd;
	bool has_rx, has_tx;
	struct xsk_rxq rxq;
	struct xsk_txq txq;
};

struct af_xdp {
	int ifindex;
	uint32_t first_queue;      /* the interface's queue id of unic queue 0 */
	uint16_t nsocks;
	int map_fd, prog_fd, link_fd;
	int promisc_fd;            /* a packet socket holding IFF_PROMISC while open, or -1 */
	bool zerocopy, native, busy_poll;
	struct xsk_sock socks[UNIC_MAX_QUEUES];
};

static const struct unic_driver unic_driver_af_xdp;
static int xdp_set_promisc(struct unic_dev *dev, bool on);

/* ---- data path ---- */

/* The kernel wrote an impossible ring index: the queue stops (unic_last_error says so). */
static uint16_t queue_lied(bool *broken, struct unic_qcounters *st)
{
	UNIC_STAT_INC(st->bad_device);
	*broken = true;
	return 0;
}

/* Free fill slots get fresh buffers of the pool, in batches. */
static void rx_refill(struct xsk_rxq *r)
{
	struct unic_buf *bufs[FILL_BATCH];
	int64_t room = xsk_prod_free(&r->fill);
	const struct xsk_ring fill = r->fill; /* descs and mask, in registers: a byte store into */
	uint8_t *owned = r->owned;             /* owned may alias any field for the compiler */
	uint32_t want, i, head;

	if (unic_unlikely(room < 0)) {
		queue_lied(&r->broken, &r->stats);
		return;
	}
	if ((uint64_t)room < r->refill_min)
		return;
	while (room > 0) {
		uint32_t avail = unic_mempool_avail(r->pool); /* a short pool still gives what it has */
		want = room < FILL_BATCH ? (uint32_t)room : FILL_BATCH;
		want = want < avail ? want : avail;
		if (!want || unic_buf_alloc_bulk(r->pool, bufs, want) != want)
			break; /* the pool is empty: the frames in flight come home first */
		head = r->fill.head;
		for (i = 0; i < want; i++) {
			*xsk_addr_at(&fill, head + i) = bufs[i]->room_iova;
			held_put(owned, bufs[i]->index);
		}
		xsk_prod_submit(&r->fill, want);
		room -= want;
	}
}

/* One rx descriptor, read once and checked: its buffer, or NULL (counted and dropped). m is the
 * caller's copy of r->map, kept in registers across the burst (owned's byte stores may alias). */
static struct unic_buf *rx_take(struct xsk_rxq *r, const struct xsk_umem_map *m, uint32_t slot)
{
	const volatile struct xdp_desc *d = xsk_desc_at(&r->rx, slot);
	uint64_t addr = d->addr;
	uint32_t len = d->len, off;
	int64_t bad, idx = xsk_rx_check(m, r->owned, addr, len, &off, &bad);
	struct unic_buf *b;

	if (unic_unlikely(idx < 0)) {
		UNIC_STAT_INC(r->stats.bad_device);
		if (bad >= 0) /* a buffer we gave it, with an impossible length: it goes home */
			unic_buf_free(unic_mempool_entry(r->pool, (uint32_t)bad));
		return NULL;
	}
	b = unic_mempool_entry(r->pool, (uint32_t)idx);
	b->data_off = (uint16_t)off;
	b->len = (uint16_t)len;
	b->rx_queue = r->queue;
	b->rss_hash = 0;
	return b;
}

static uint16_t xsk_rx_burst(void *q, struct unic_buf **bufs, uint16_t n)
{
	struct xsk_rxq *r = q;
	const struct xsk_umem_map map = r->map;
	int64_t avail;
	uint32_t i;
	uint16_t got = 0;
	uint64_t bytes = 0;

	if (unic_unlikely(r->broken))
		return 0;
	avail = xsk_cons_avail(&r->rx);
	if (unic_unlikely(avail < 0))
		return queue_lied(&r->broken, &r->stats);
	if (avail > n)
		avail = n;
	for (i = 0; i < avail; i++) {
		struct unic_buf *b = rx_take(r, &map, r->rx.head + i);
		if (b) {
			bufs[got++] = b;
			bytes += b->len;
		}
	}
	xsk_cons_release(&r->rx, (uint32_t)avail);
	UNIC_STAT_ADD(r->stats.packets, got);
	UNIC_STAT_ADD(r->stats.bytes, bytes);
	rx_refill(r);
	/* need_wakeup: the driver sleeps until asked; busy polling: the poll is the driver's run */
	if (!avail && (r->busy_poll || xsk_needs_wakeup(&r->fill)))
		recvfrom(r->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	return got;
}

/* Completed tx buffers go home; an address the queue did not send is counted and dropped. */
static void tx_reclaim(struct xsk_txq *t)
{
	struct unic_buf *done[COMP_BATCH];
	const struct xsk_umem_map map = t->map; /* in registers for the loop: the byte stores into */
	uint8_t *owned = t->owned;               /* owned could alias the queue's fields for the compiler */
	int64_t avail = xsk_cons_avail(&t->comp);
	uint32_t i, m, k;

	if (unic_unlikely(avail < 0)) {
		queue_lied(&t->broken, &t->stats);
		return;
	}
	while (avail > 0) {
		m = avail < COMP_BATCH ? (uint32_t)avail : COMP_BATCH;
		for (i = k = 0; i < m; i++) {
			uint64_t addr = *(const volatile uint64_t *)xsk_addr_at(&t->comp, t->comp.head + i);
			int64_t idx = xsk_comp_check(&map, owned, addr);
			if (unic_unlikely(idx < 0))
				UNIC_STAT_INC(t->stats.bad_device);
			else
				done[k++] = unic_mempool_entry(t->pool, (uint32_t)idx);
		}
		xsk_cons_release(&t->comp, m);
		unic_buf_free_bulk(done, k);
		avail -= m;
	}
}

/* Asks the kernel to send what the tx ring holds, while it takes some and wants asking. */
static void tx_kick(struct xsk_txq *t)
{
	unsigned tries;

	for (tries = 0; tries < TX_KICKS_MAX && xsk_prod_pending(&t->tx); tries++) {
		if (!t->busy_poll && !xsk_needs_wakeup(&t->tx))
			return;
		if (sendto(t->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOBUFS && errno != EINTR)
			return; /* e.g. ENETDOWN: the frames wait in the ring */
		tx_reclaim(t); /* EAGAIN: the completion ring was full */
		if (unic_unlikely(xsk_prod_free(&t->tx) < 0)) {
			queue_lied(&t->broken, &t->stats);
			return;
		}
	}
}

static uint16_t xsk_tx_burst(void *q, struct unic_buf **bufs, uint16_t n)
{
	struct xsk_txq *t = q;
	struct xsk_ring ring;
	uint8_t *owned = t->owned;
	int64_t room;
	uint32_t k = 0;
	uint64_t bytes = 0;
	uint16_t i;

	if (unic_unlikely(t->broken))
		return 0;
	tx_reclaim(t);
	room = xsk_prod_free(&t->tx);
	if (unic_unlikely(room < 0))
		return queue_lied(&t->broken, &t->stats);
	if (n > room)
		n = (uint16_t)room;
	ring = t->tx; /* in registers: a byte store into owned may alias any field for the compiler */
	for (i = 0; i < n; i++) {
		struct unic_buf *b = bufs[i];
		uint16_t len = b->len, off = b->data_off;
		struct xdp_desc *d;
		if (unic_unlikely(!len || (uint32_t)off + len > b->room_size)) {
			unic_buf_free(b); /* taken and dropped: the kernel would refuse it and never complete it */
			UNIC_STAT_INC(t->stats.dropped);
			continue;
		}
		d = xsk_desc_at(&ring, ring.head + k++);
		d->addr = b->room_iova + off; /* room_iova is the room's UMEM offset */
		d->len = len;
		d->options = 0;
		held_put(owned, b->index);
		bytes += len;
	}
	xsk_prod_submit(&t->tx, k);
	UNIC_STAT_ADD(t->stats.packets, k);
	UNIC_STAT_ADD(t->stats.bytes, bytes);
	tx_kick(t);
	return n;
}

/* ---- sockets and rings ---- */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Maps one ring of fd and points r at its parts (offsets from XDP_MMAP_OFFSETS). */
static int ring_map(struct unic_dev *dev, int fd, struct xsk_ring *r, const struct xdp_ring_offset *o,
		    uint32_t size, size_t entry, off_t pgoff, const char *name)
{
	r->map_len = o->desc + (size_t)size * entry;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return unic_dev_error(dev, errno, "af_xdp: cannot map the %s ring: %s", name, strerror(errno));
	}
	r->producer = (_Atomic uint32_t *)((char *)r->map + o->producer);
	r->consumer = (_Atomic uint32_t *)((char *)r->map + o->consumer);
	r->flags = (_Atomic uint32_t *)((char *)r->map + o->flags);
	r->descs = (char *)r->map + o->desc;
	r->size = size;
	r->mask = size - 1;
	/* the kernel's side starts where it is (0 on a new socket) */
	r->head = r->seen = atomic_load_explicit(r->producer, memory_order_acquire);
	return 0;
}

static void ring_unmap(struct xsk_ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
}

static int set_ring_size(struct unic_dev *dev, int fd, int opt, uint32_t size, const char *name)
{
	if (setsockopt(fd, SOL_XDP, opt, &size, sizeof size))
		return unic_dev_error(dev, errno, "af_xdp: cannot size the %s ring (%u): %s", name, size, strerror(errno));
	return 0;
}

/* The pool's memory as the UMEM: chunks are rooms, anywhere (unaligned mode). */
static int umem_register(struct unic_dev *dev, int fd)
{
	const struct unic_mempool *p = dev->pool;
	struct xdp_umem_reg reg = {
		.addr = (uint64_t)(uintptr_t)p->mem.virt,
		.len = p->mem.size,
		.chunk_size = p->room_size,
		.headroom = 0,
		.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG,
	};

	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg))
		return unic_dev_error(dev, errno, "af_xdp: cannot register %zu bytes of buffers as the UMEM: %s%s",
				      p->mem.size, strerror(errno),
				      errno == ENOMEM || errno == ENOBUFS ? " (raise the locked memory limit: ulimit -l)" : "");
	return 0;
}

static uint16_t bind_flags(const struct unic_dev *dev, unsigned i)
{
	if (i > 0)
		return XDP_SHARED_UMEM; /* the others inherit copy/zero-copy and need_wakeup from socket 0 */
	if (dev->spec.xdp_mode == UNIC_XDP_ZEROCOPY)
		return XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY;
	if (dev->spec.xdp_mode == UNIC_XDP_COPY)
		return XDP_USE_NEED_WAKEUP | XDP_COPY;
	return XDP_USE_NEED_WAKEUP; /* the kernel binds zero-copy when the driver has it, else copy */
}

static int bind_error(struct unic_dev *dev, uint32_t qid, int e)
{
	const char *ifname = dev->spec.ifname;

	if (e == EBUSY)
		return unic_dev_error(dev, EBUSY, "af_xdp: queue %u of %s is taken by another AF_XDP socket (another unic "
				      "or DPDK process?)", qid, ifname);
	if (e == EOPNOTSUPP && dev->spec.xdp_mode == UNIC_XDP_ZEROCOPY)
		return unic_dev_error(dev, e, "af_xdp: the driver of %s has no AF_XDP zero-copy: leave ,zerocopy out "
				      "(or give ,copy)", ifname);
	if (e == EINVAL)
		return unic_dev_error(dev, e, "af_xdp: cannot bind to queue %u of %s: it has no such queue (see "
				      "'ethtool -l %s'; a veth gets more with numrxqueues/numtxqueues)", qid, ifname, ifname);
	return unic_dev_error(dev, e, "af_xdp: cannot bind to queue %u of %s: %s", qid, ifname, strerror(e));
}

/*
 * A queue whose last socket was just closed stays taken until a kernel worker releases its
 * buffer pool (xp_release_deferred in net/xdp/xsk_buff_pool.c): EBUSY is tried again for a
 * short while, so that closing and reopening a device (or two tools in a row) works.
 */
static int bind_retry(int fd, const struct sockaddr_xdp *sa)
{
	unsigned waited;

	for (waited = 0;; waited += BIND_RETRY_US) {
		if (!bind(fd, (const struct sockaddr *)sa, sizeof *sa))
			return 0;
		if (errno != EBUSY || waited >= BIND_BUSY_WAIT_US)
			return -1;
		unic_usleep(BIND_RETRY_US);
	}
}

/* Rings of socket i: fill + completion always (each queue id needs its own), rx and tx as used. */
static int sock_rings(struct unic_dev *dev, struct xsk_sock *s)
{
	struct xdp_mmap_offsets off;
	socklen_t len = sizeof off;
	int r;

	if ((r = set_ring_size(dev, s->fd, XDP_UMEM_FILL_RING, dev->rx_ring_size, "fill")) ||
	    (r = set_ring_size(dev, s->fd, XDP_UMEM_COMPLETION_RING, dev->tx_ring_size, "completion")) ||
	    (s->has_rx && (r = set_ring_size(dev, s->fd, XDP_RX_RING, dev->rx_ring_size, "rx"))) ||
	    (s->has_tx && (r = set_ring_size(dev, s->fd, XDP_TX_RING, dev->tx_ring_size, "tx"))))
		return r;
	if (getsockopt(s->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len))
		return unic_dev_error(dev, errno, "af_xdp: XDP_MMAP_OFFSETS: %s", strerror(errno));
	if ((r = ring_map(dev, s->fd, &s->rxq.fill, &off.fr, dev->rx_ring_size, sizeof(uint64_t),
			  (off_t)XDP_UMEM_PGOFF_FILL_RING, "fill")) ||
	    (r = ring_map(dev, s->fd, &s->txq.comp, &off.cr, dev->tx_ring_size, sizeof(uint64_t),
			  (off_t)XDP_UMEM_PGOFF_COMPLETION_RING, "completion")) ||
	    (s->has_rx && (r = ring_map(dev, s->fd, &s->rxq.rx, &off.rx, dev->rx_ring_size, sizeof(struct xdp_desc),
					XDP_PGOFF_RX_RING, "rx"))) ||
	    (s->has_tx && (r = ring_map(dev, s->fd, &s->txq.tx, &off.tx, dev->tx_ring_size, sizeof(struct xdp_desc),
					XDP_PGOFF_TX_RING, "tx"))))
		return r;
	return 0;
}

/* Preferred busy polling, when the kernel takes all three options; quietly without it. */
static bool sock_busy_poll(int fd)
{
	int one = 1, usec = BUSY_POLL_USEC, budget = BUSY_POLL_BUDGET;

	return !setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one) &&
	       !setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usec, sizeof usec) &&
	       !setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget);
}

static int sock_open(struct unic_dev *dev, struct af_xdp *x, unsigned i)
{
	struct xsk_sock *s = &x->socks[i];
	struct sockaddr_xdp sa;
	int r;

	s->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return unic_dev_error(dev, errno, "af_xdp: cannot create an AF_XDP socket: %s%s", strerror(errno),
				      errno == EPERM || errno == EACCES ? " (needs root, or CAP_NET_RAW, CAP_NET_ADMIN "
				      "and CAP_BPF)" : "");
	if (i == 0 && (r = umem_register(dev, s->fd)))
		return r;
	if ((r = sock_rings(dev, s)))
		return r;
	memset(&sa, 0, sizeof sa);
	sa.sxdp_family = AF_XDP;
	sa.sxdp_ifindex = (uint32_t)x->ifindex;
	sa.sxdp_queue_id = x->first_queue + i;
	sa.sxdp_flags = bind_flags(dev, i);
	sa.sxdp_shared_umem_fd = i ? (uint32_t)x->socks[0].fd : 0;
	if (bind_retry(s->fd, &sa))
		return bind_error(dev, sa.sxdp_queue_id, errno);
	s->rxq.fd = s->txq.fd = s->fd;
	x->busy_poll = sock_busy_poll(s->fd) && (i == 0 || x->busy_poll);
	return 0;
}

/* Queue state around socket i's rings. */
static int sock_queues(struct unic_dev *dev, struct xsk_sock *s, uint16_t q)
{
	const struct unic_mempool *p = dev->pool;
	struct xsk_umem_map map = {
		.size = p->mem.size,
		.page_shift = (uint32_t)__builtin_ctzll(p->mem.page_size),
		.per_page = p->per_page,
		.room_size = p->room_size,
		.num_entries = p->num_entries,
	};

	s->rxq.map = s->txq.map = map;
	s->rxq.pool = s->txq.pool = dev->pool;
	s->rxq.queue = q;
	s->rxq.refill_min = dev->rx_ring_size / 2 < FILL_BATCH ? dev->rx_ring_size / 2 : FILL_BATCH;
	s->rxq.owned = calloc(p->num_entries, 1);
	s->txq.owned = calloc(p->num_entries, 1);
	if (!s->rxq.owned || !s->txq.owned)
		return unic_dev_error(dev, ENOMEM, "af_xdp: out of memory for the queue state");
	return 0;
}

/* ---- the XDP program ---- */

/* One line for a program already on the interface, unless the user asked to replace it. */
static int replace_existing(struct unic_dev *dev, struct af_xdp *x)
{
	const char *ifname = dev->spec.ifname;
	int id = unic_xdp_attached_id(x->ifindex);

	if (!dev->cfg.force)
		return unic_dev_error(dev, EBUSY, "af_xdp: %s already has an XDP program (id %d): remove it ('ip link "
				      "set dev %s xdp off') or pass force (--force) to replace it", ifname, id, ifname);
	unic_xdp_netlink_set(x->ifindex, -1, XDP_FLAGS_DRV_MODE);
	unic_xdp_netlink_set(x->ifindex, -1, XDP_FLAGS_SKB_MODE);
	return 0;
}

/* Native XDP when the driver has it (zero-copy needs it), else generic (skb) mode. */
static int link_attach(struct unic_dev *dev, struct af_xdp *x)
{
	x->native = true;
	x->link_fd = unic_xdp_link_create(x->prog_fd, x->ifindex, XDP_FLAGS_DRV_MODE);
	if (x->link_fd < 0 && (errno == EOPNOTSUPP || errno == EINVAL) && !x->zerocopy) {
		x->native = false;
		x->link_fd = unic_xdp_link_create(x->prog_fd, x->ifindex, XDP_FLAGS_SKB_MODE);
	}
	return x->link_fd < 0 ? -errno : 0;
}

/* 1 when ifname has a carrier, 0 when not, -1 when unknown (e.g. down: the file says EINVAL). */
static int carrier(const char *ifname)
{
	char path[64], c = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/sys/class/net/%s/carrier", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, &c, 1);
	close(fd);
	return n == 1 ? c == '1' : -1;
}

/*
 * Drivers such as igb reset the NIC to attach a native XDP program: the carrier drops and
 * comes back after autonegotiation, while operstate (and so unic_link) still says up for a
 * moment. Frames sent then are dropped by the kernel (tx_dropped), so unic_open waits for the
 * carrier it had, bounded; a link that stays away is for unic_link to report.
 */
static void wait_carrier(const char *ifname)
{
	unsigned waited;

	for (waited = 0; waited < CARRIER_WAIT_US && carrier(ifname) == 0; waited += CARRIER_POLL_US)
		unic_usleep(CARRIER_POLL_US);
}

static int prog_attach(struct unic_dev *dev, struct af_xdp *x)
{
	const char *ifname = dev->spec.ifname;
	bool had_carrier = carrier(ifname) == 1;
	char log[512];
	unsigned i;
	int r;

	x->map_fd = unic_xdp_map_create(x->first_queue + x->nsocks);
	if (x->map_fd < 0)
		return unic_dev_error(dev, errno, "af_xdp: cannot create the XSKMAP: %s%s", strerror(errno),
				      errno == EPERM ? " (needs root, or CAP_BPF and CAP_NET_ADMIN)" : "");
	for (i = 0; i < x->nsocks; i++)
		if (x->socks[i].has_rx && (r = unic_xdp_map_set(x->map_fd, x->first_queue + i, x->socks[i].fd)))
			return unic_dev_error(dev, -r, "af_xdp: cannot put socket %u in the XSKMAP: %s", i, strerror(-r));
	x->prog_fd = unic_xdp_prog_load(x->map_fd, log, sizeof log);
	if (x->prog_fd < 0)
		return unic_dev_error(dev, errno, "af_xdp: the kernel refused the XDP program: %s%s%.120s",
				      strerror(errno), log[0] ? ": " : "", log);
	r = link_attach(dev, x);
	if (r == -EBUSY || r == -EEXIST) {
		if ((r = replace_existing(dev, x)))
			return r;
		r = link_attach(dev, x);
		if (r == -EBUSY || r == -EEXIST)
			return unic_dev_error(dev, EBUSY, "af_xdp: the XDP program on %s is held by a bpf link of another "
					      "process (another unic or libxdp program?): stop that process first", ifname);
	}
	if (r)
		return unic_dev_error(dev, -r, "af_xdp: cannot attach the XDP program to %s: %s", ifname, strerror(-r));
	if (had_carrier)
		wait_carrier(ifname);
	return 0;
}

/* ---- driver operations ---- */

static void describe(struct unic_dev *dev, const struct af_xdp *x)
{
	snprintf(dev->features, sizeof dev->features, "%s, %s XDP, need_wakeup%s, queues %u-%u",
		 x->zerocopy ? "zero-copy" : "copy mode", x->native ? "native" : "generic (skb)",
		 x->busy_poll ? ", busy-poll" : "", x->first_queue, x->first_queue + x->nsocks - 1);
}

static bool sock_zerocopy(int fd)
{
	struct xdp_options opts = { 0 };
	socklen_t len = sizeof opts;

	return !getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len) && (opts.flags & XDP_OPTIONS_ZEROCOPY);
}

/* Rings must hold a power of two entries; the pool must fill every rx queue's fill ring. */
static int size_rings(struct unic_dev *dev, uint16_t nrx)
{
	uint32_t rx = pow2_at_least(dev->cfg.rx_ring_size), tx = pow2_at_least(dev->cfg.tx_ring_size);

	if (rx > UINT16_MAX || tx > UINT16_MAX)
		return unic_dev_error(dev, EINVAL, "af_xdp: ring sizes are powers of two up to 32768");
	dev->rx_ring_size = (uint16_t)rx;
	dev->tx_ring_size = (uint16_t)tx;
	if ((uint64_t)nrx * rx >= dev->pool->num_entries)
		return unic_dev_error(dev, EINVAL, "af_xdp: pool_size %u cannot fill %u rx rings of %u (rounded up to a "
				      "power of two): raise pool_size or give 0", dev->pool->num_entries, nrx, rx);
	return 0;
}

/* Socket i, its rings, and (rx) a full fill ring: frames find buffers from the first one on. */
static int sock_setup(struct unic_dev *dev, struct af_xdp *x, uint16_t i, uint16_t nrx, uint16_t ntx)
{
	struct xsk_sock *s = &x->socks[i];
	uint32_t refill_min;
	int r;

	s->has_rx = i < nrx;
	s->has_tx = i < ntx;
	if ((r = sock_queues(dev, s, i)) || (r = sock_open(dev, x, i)))
		return r;
	if (s->has_rx) {
		refill_min = s->rxq.refill_min;
		s->rxq.refill_min = 1;
		rx_refill(&s->rxq);
		s->rxq.refill_min = refill_min;
	}
	return 0;
}

static int xdp_start(struct unic_dev *dev)
{
	struct af_xdp *x = dev->priv;
	uint16_t nrx = dev->cfg.rx_queues, ntx = dev->cfg.tx_queues, i;
	int r;

	x->nsocks = nrx > ntx ? nrx : ntx;
	if ((r = size_rings(dev, nrx)))
		return r;
	for (i = 0; i < x->nsocks; i++)
		if ((r = sock_setup(dev, x, i, nrx, ntx)))
			return r;
	x->zerocopy = sock_zerocopy(x->socks[0].fd);
	if ((r = prog_attach(dev, x)))
		return r;
	for (i = 0; i < x->nsocks; i++) {
		struct xsk_sock *s = &x->socks[i];
		s->rxq.busy_poll = s->txq.busy_poll = x->busy_poll;
		if (s->has_rx) {
			dev->rxq[i] = &s->rxq;
			dev->rxq_stats[i] = &s->rxq.stats;
		}
		if (s->has_tx) {
			dev->txq[i] = &s->txq;
			dev->txq_stats[i] = &s->txq.stats;
		}
	}
	dev->num_rxq = nrx;
	dev->num_txq = ntx;
	describe(dev, x);
	return dev->cfg.promisc ? xdp_set_promisc(dev, true) : 0;
}

/* Buffers a queue's rings still hold go home (the socket is closed: the kernel let them go). */
static void free_owned(struct unic_mempool *pool, uint8_t *owned)
{
	uint32_t i;

	if (!owned || !pool)
		return;
	for (i = 0; i < pool->num_entries; i++)
		if (held_take(owned, i))
			unic_buf_free(unic_mempool_entry(pool, i));
	free(owned);
}

static void sock_close(struct xsk_sock *s)
{
	ring_unmap(&s->rxq.fill);
	ring_unmap(&s->rxq.rx);
	ring_unmap(&s->txq.tx);
	ring_unmap(&s->txq.comp);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free_owned(s->rxq.pool, s->rxq.owned);
	free_owned(s->txq.pool, s->txq.owned);
	s->rxq.owned = s->txq.owned = NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The program first (closing the link detaches it), then the sockets, then their buffers. */
static void xdp_close(struct unic_dev *dev)
{
	struct af_xdp *x = dev->priv;
	unsigned i;

	if (!x)
		return;
	close_fd(&x->link_fd);
	close_fd(&x->prog_fd);
	close_fd(&x->map_fd);
	for (i = 0; i < UNIC_MAX_QUEUES; i++)
		sock_close(&x->socks[i]);
	close_fd(&x->promisc_fd);
	free(x);
	dev->priv = NULL;
}

/* The kernel's own counters of each socket (XDP_STATISTICS). */
static int xdp_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct af_xdp *x = dev->priv;
	unsigned i;

	for (i = 0; i < x->nsocks; i++) {
		struct xdp_statistics xs;
		socklen_t len = sizeof xs;
		if (x->socks[i].fd < 0 || getsockopt(x->socks[i].fd, SOL_XDP, XDP_STATISTICS, &xs, &len))
			continue;
		st->hw_rx_missed += xs.rx_dropped + xs.rx_ring_full;
		st->hw_rx_no_buf += xs.rx_fill_ring_empty_descs;
		st->rx_errors += xs.rx_invalid_descs;
		st->tx_errors += xs.tx_invalid_descs;
	}
	return 0;
}

static int xdp_link(struct unic_dev *dev, struct unic_link *link)
{
	return unic_netif_link(dev, link);
}

/* Promiscuous mode through a packet socket's membership: the kernel drops it with the socket. */
static int xdp_set_promisc(struct unic_dev *dev, bool on)
{
	struct af_xdp *x = dev->priv;
	struct packet_mreq mr = { .mr_ifindex = x->ifindex, .mr_type = PACKET_MR_PROMISC };

	if (!on) {
		close_fd(&x->promisc_fd);
		return 0;
	}
	if (x->promisc_fd >= 0)
		return 0;
	x->promisc_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */
	if (x->promisc_fd < 0 || setsockopt(x->promisc_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) {
		int e = errno;
		close_fd(&x->promisc_fd);
		return unic_dev_error(dev, e, "af_xdp: cannot make %s promiscuous: %s", dev->spec.ifname, strerror(e));
	}
	return 0;
}

static int xdp_check(struct unic_dev *dev)
{
	struct af_xdp *x = dev->priv;
	unsigned i;

	for (i = 0; x && i < x->nsocks; i++)
		if (x->socks[i].rxq.broken || x->socks[i].txq.broken)
			return unic_dev_error(dev, EIO, "af_xdp: the kernel wrote impossible ring indices on queue %u of %s; "
					      "the queue stopped: reopen the device", x->first_queue + i, dev->spec.ifname);
	return 0;
}

/* The queue's XSK socket: readable while its rx ring holds frames; poll() also gives the kernel
 * the fill-ring wake-up need_wakeup asks for. */
static int xsk_rx_fd(struct unic_dev *dev, void *rxq)
{
	(void)dev;
	return ((struct xsk_sock *)((char *)rxq - offsetof(struct xsk_sock, rxq)))->fd;
}

static const struct unic_driver unic_driver_af_xdp = {
	.name = "af_xdp",
	.start = xdp_start,
	.close = xdp_close,
	.rx_burst = xsk_rx_burst,
	.tx_burst = xsk_tx_burst,
	.stats = xdp_stats,
	.link = xdp_link,
	.set_promisc = xdp_set_promisc,
	.check = xdp_check,
	.rx_intr_fd = xsk_rx_fd,
	.rx_intr_enable = unic_netif_intr_armed,
	.rx_intr_disable = unic_netif_intr_off,
};

static struct af_xdp *state_new(void)
{
	struct af_xdp *x = calloc(1, sizeof *x);
	unsigned i;

	if (!x)
		return NULL;
	x->map_fd = x->prog_fd = x->link_fd = x->promisc_fd = -1;
	for (i = 0; i < UNIC_MAX_QUEUES; i++)
		x->socks[i].fd = -1;
	return x;
}

int unic_af_xdp_probe(struct unic_dev *dev)
{
	const char *ifname = dev->spec.ifname;
	struct af_xdp *x;
	int r;

	if ((r = unic_netif_check_up(dev, "af_xdp")))
		return r;
	if ((uint32_t)dev->cfg.buf_size + UNIC_HEADROOM < XSK_MIN_CHUNK)
		return unic_dev_error(dev, EINVAL, "af_xdp: buf_size %u is too small: AF_XDP buffers take at least %u "
				      "bytes with unic's headroom (buf_size %u)", dev->cfg.buf_size, XSK_MIN_CHUNK,
				      XSK_MIN_CHUNK - UNIC_HEADROOM);
	/* the kernel fills the rx ring while unic is not running: a deeper default than a NIC's */
	if (!dev->cfg_asked.rx_ring_size)
		dev->cfg.rx_ring_size = XSK_DEFAULT_RING;
	if (!dev->cfg_asked.tx_ring_size)
		dev->cfg.tx_ring_size = XSK_DEFAULT_RING;
	x = state_new();
	if (!x)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	dev->priv = x;
	dev->drv = &unic_driver_af_xdp; /* from here on, close frees what probe and start took */
	x->ifindex = (int)if_nametoindex(ifname);
	x->first_queue = dev->spec.queue;
	if (!x->ifindex)
		return unic_dev_error(dev, ENODEV, "af_xdp: interface %s went away", ifname);
	if ((r = unic_netif_mac(ifname, dev->mac)))
		return unic_dev_error(dev, -r, "af_xdp: cannot read the MAC address of %s: %s", ifname, strerror(-r));
	dev->dma_mode = UNIC_DMA_UMEM;
	return 0;
}
