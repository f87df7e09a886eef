/*
 * af_packet.c - a kernel interface through AF_PACKET sockets (PACKET_MMAP,
 * Documentation/networking/packet_mmap.rst): the kernel keeps the NIC and its driver,
 * unic keeps its API.
 *
 * rx: one socket per queue with a TPACKET_V3 ring: the kernel fills blocks with frames and
 * hands each block over whole (when full, or after RX_RETIRE_MS); several queues share the
 * interface's traffic through PACKET_FANOUT_HASH. tx: one socket per queue with a TPACKET_V2
 * ring of fixed frames, sent by sendto() past the qdisc (PACKET_QDISC_BYPASS).
 *
 * Every frame is copied: rx from the ring into a buffer of the device's pool, tx from any
 * pool's buffer into the ring (so the device's DMA domain takes every pool: UNIC_DMA_CPU).
 * The rings are memory the kernel writes: every status, length and offset it gives is read
 * once and checked against the ring before use; a bad one is counted (bad_device), and the
 * queue is marked broken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "af_packet.h"

#define WHAT "af_packet"
/*
 * rx blocks: a power-of-two page multiple (packet_mmap.rst, "tp_block_size") that holds one
 * frame of our buffers with its header (frames never cross a block), else as small as that:
 * the kernel hands a block over when it is full or RX_RETIRE_MS after its first frame, so at
 * a low rate each block holds little, and many small blocks are what lets the ring absorb a
 * reader that was off the CPU for a while (128 blocks of 8 KiB: 128 ms at 50 kpps).
 */
#define RX_BLOCK_MIN (8u * 1024)
#define RX_FRAME_SIZE 2048u          /* V3 packs frames by size: this only sizes the ring, as */
#define RX_BLOCKS_MIN 4              /*  rx_ring_size frames of RX_FRAME_SIZE, in >= 4 blocks */
#define RX_HDR_ROOM 256              /* tpacket3_hdr, sockaddr_ll and padding before a frame */
#define RX_RETIRE_MS 1               /* a block not yet full is handed over after 1 ms */
/* tx blocks of one page (frames larger than a page: one frame each). The kernel sends a tx
 * frame's ring pages themselves; a larger block is a high-order allocation the kernel may
 * fall back to vmalloc for, and then finds each frame's page by a page-table walk. */
#define TX_BLOCK_SIZE 4096u
#define TX_FRAME_MIN 128u            /* the smallest tx ring frame (header + a 60-byte frame) */
static int sock_error(struct unic_dev *dev, const char *step, int e)
{
	if (e == EPERM || e == EACCES)
		return unic_dev_error(dev, e, WHAT ": %s: %s: packet sockets need CAP_NET_RAW (run as root, or "
				      "'setcap cap_net_raw+ep' the program)", step, strerror(e));
	return unic_dev_error(dev, e, WHAT ": %s on %s: %s", step, dev->spec.ifname, strerror(e));
}

static int set_int(int fd, int opt, int v)
{
	return setsockopt(fd, SOL_PACKET, opt, &v, sizeof v);
}

/* A packet socket that receives nothing yet (protocol 0 until bind names the interface). */
static int packet_socket(struct unic_dev *dev, int version)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return sock_error(dev, "socket(AF_PACKET)", errno);
	if (set_int(fd, PACKET_VERSION, version)) {
		int e = errno;
		close(fd);
		return sock_error(dev, "PACKET_VERSION", e);
	}
	return fd;
}

static int map_ring(struct unic_dev *dev, int fd, struct afp_ring *r)
{
	r->bytes = (size_t)r->block_size * r->nblocks;
	r->map = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return sock_error(dev, "mmap of the packet ring", errno);
	}
	return 0;
}

static int bind_if(struct afp *a, int fd, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = a->ifindex };

	if (bind(fd, (struct sockaddr *)&sll, sizeof sll))
		return sock_error(a->dev, "bind", errno);
	return 0;
}

/* Queues after the first join the first one's fanout group, whose id the kernel chose. */
static int join_fanout(struct afp *a, struct afp_rxq *q)
{
	int v = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
	socklen_t len = sizeof v;

	if (q->id > 0) {
		if (getsockopt(a->rxq[0].fd, SOL_PACKET, PACKET_FANOUT, &v, &len))
			return sock_error(a->dev, "getsockopt(PACKET_FANOUT)", errno);
		v = (int)((unsigned)v & 0xffff) | PACKET_FANOUT_HASH << 16;
	}
	if (set_int(q->fd, PACKET_FANOUT, v))
		return sock_error(a->dev, "PACKET_FANOUT", errno);
	return 0;
}

static int rx_open(struct afp *a, struct afp_rxq *q)
{
	struct unic_dev *dev = a->dev;
	uint64_t want = (uint64_t)dev->cfg.rx_ring_size * RX_FRAME_SIZE;
	struct tpacket_req3 req;
	int r;

	q->ring.block_size = RX_BLOCK_MIN;
	while (q->ring.block_size < (uint32_t)dev->cfg.buf_size + RX_HDR_ROOM)
		q->ring.block_size *= 2;
	q->ring.nblocks = (uint32_t)((want + q->ring.block_size - 1) / q->ring.block_size);
	if (q->ring.nblocks < RX_BLOCKS_MIN)
		q->ring.nblocks = RX_BLOCKS_MIN;
	memset(&req, 0, sizeof req);
	req.tp_block_size = q->ring.block_size;
	req.tp_block_nr = q->ring.nblocks;
	req.tp_frame_size = RX_FRAME_SIZE;
	req.tp_frame_nr = q->ring.block_size / RX_FRAME_SIZE * q->ring.nblocks;
	req.tp_retire_blk_tov = RX_RETIRE_MS;
	req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
	if ((q->fd = r = packet_socket(dev, TPACKET_V3)) < 0)
		return r;
	/* our own frames, and the kernel's, leaving through the interface are not received */
	if (set_int(q->fd, PACKET_IGNORE_OUTGOING, 1))
		return sock_error(dev, "PACKET_IGNORE_OUTGOING", errno);
	if (setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req))
		return sock_error(dev, "PACKET_RX_RING", errno);
	if ((r = map_ring(dev, q->fd, &q->ring)) || (r = bind_if(a, q->fd, ETH_P_ALL)))
		return r;
	return a->nrx > 1 ? join_fanout(a, q) : 0;
}

/*
 * A tx ring frame: a power of two, so that no frame crosses a page (the kernel sends the
 * ring's pages themselves as the frame's fragments: one page is one fragment), large enough
 * for the longest frame the interface sends (MTU + Ethernet header + a VLAN tag) or our
 * buffers hold, whichever is shorter.
 */
static uint32_t tx_frame_size(const struct afp *a, uint16_t buf_size)
{
	uint32_t longest = a->mtu ? a->mtu + ETH_HLEN + VLAN_TAG_LEN : buf_size, frame = TX_FRAME_MIN;

	if (longest > buf_size)
		longest = buf_size;
	while (frame < TX_DATA_OFF + longest)
		frame *= 2;
	return frame;
}

static int tx_open(struct afp *a, struct afp_txq *q)
{
	struct unic_dev *dev = a->dev;
	uint32_t frame = tx_frame_size(a, dev->cfg.buf_size);
	struct tpacket_req req;
	int r;

	q->ring.frame_size = frame;
	q->ring.block_size = frame > TX_BLOCK_SIZE ? frame : TX_BLOCK_SIZE; /* frame: a power of two */
	q->per_block = q->ring.block_size / frame;
	q->ring.nblocks = (dev->cfg.tx_ring_size + q->per_block - 1) / q->per_block;
	q->ring.nframes = q->per_block * q->ring.nblocks;
	q->max_len = (uint16_t)(frame - TX_DATA_OFF < UINT16_MAX ? frame - TX_DATA_OFF : UINT16_MAX);
	if (a->mtu && a->mtu + ETH_HLEN + VLAN_TAG_LEN < q->max_len) /* the kernel's limit (tpacket_snd) */
		q->max_len = (uint16_t)(a->mtu + ETH_HLEN + VLAN_TAG_LEN);
	memset(&req, 0, sizeof req);
	req.tp_block_size = q->ring.block_size;
	req.tp_block_nr = q->ring.nblocks;
	req.tp_frame_size = frame;
	req.tp_frame_nr = q->ring.nframes;
	if ((q->fd = r = packet_socket(dev, TPACKET_V2)) < 0)
		return r;
	/*
	 * ",qdisc_bypass": straight to the driver, without the qdisc's lock and queue. Not the
	 * default: a frame the driver cannot take (its ring full, queue stopped) is then dropped
	 * by the kernel without a trace (packet_direct_xmit), while the qdisc holds it back. Seen
	 * on e1000e in the lab: 246 of 10,000 frames gone at 5,000 frames/s (tests/lab af-packet).
	 */
	if (dev->spec.qdisc_bypass && set_int(q->fd, PACKET_QDISC_BYPASS, 1))
		return sock_error(dev, "PACKET_QDISC_BYPASS", errno);
	/* a frame the kernel refuses is skipped: without this its WRONG_FORMAT status stops the
	 * kernel at that frame, and the ring behind it, for good (we check lengths first anyway) */
	if (set_int(q->fd, PACKET_LOSS, 1))
		return sock_error(dev, "PACKET_LOSS", errno);
	if (setsockopt(q->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req))
		return sock_error(dev, "PACKET_TX_RING", errno);
	/* protocol 0: this socket sends only, nothing is queued to it */
	if ((r = map_ring(dev, q->fd, &q->ring)) || (r = bind_if(a, q->fd, 0)))
		return r;
	return 0;
}

/* ---- rx ---- */

static inline struct tpacket_block_desc *rx_block(const struct afp_rxq *q, uint32_t i)
{
	return (struct tpacket_block_desc *)(void *)(q->ring.map + (size_t)i * q->ring.block_size);
}

static void rx_lies(struct afp_rxq *q)
{
	UNIC_STAT_INC(q->stats.bad_device);
	q->broken = true;
}

/* The current block, when the kernel has handed it over: its header read once and checked. */
static bool rx_take_block(struct afp_rxq *q)
{
	volatile struct tpacket_hdr_v1 *h = &rx_block(q, q->block)->hdr.bh1;
	uint32_t num, first, len;

	if (!(h->block_status & TP_STATUS_USER))
		return false;
	unic_rmb(); /* the block's contents after its status */
	num = h->num_pkts;
	first = h->offset_to_first_pkt;
	len = h->blk_len;
	if (len > q->ring.block_size || first < sizeof(struct tpacket_block_desc) || first > len ||
	    (num && first + sizeof(struct tpacket3_hdr) > len)) {
		rx_lies(q);
		return false;
	}
	q->in_block = true;
	q->left = num;
	q->off = first;
	q->blk_len = len;
	return true;
}

static void rx_release_block(struct afp_rxq *q)
{
	volatile struct tpacket_hdr_v1 *h = &rx_block(q, q->block)->hdr.bh1;

	unic_mb(); /* our reads of the block are done before the kernel may write it again */
	h->block_status = TP_STATUS_KERNEL;
	q->in_block = false;
	q->block = (q->block + 1) % q->ring.nblocks;
}

/* Copies the frame at data (len bytes) into b, putting back the VLAN tag the kernel took out. */
static void rx_copy(struct unic_buf *b, const uint8_t *data, uint32_t len, uint32_t status,
		    const struct tpacket3_hdr *h)
{
	uint8_t *out = unic_buf_data(b);

	if (!(status & TP_STATUS_VLAN_VALID)) {
		memcpy(out, data, len);
		b->len = (uint16_t)len;
		return;
	}
	uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
	uint16_t tag[2] = { htons(tpid), htons((uint16_t)h->hv1.tp_vlan_tci) };
	memcpy(out, data, ETH_ADDRS_LEN);
	memcpy(out + ETH_ADDRS_LEN, tag, VLAN_TAG_LEN);
	memcpy(out + ETH_ADDRS_LEN + VLAN_TAG_LEN, data + ETH_ADDRS_LEN, len - ETH_ADDRS_LEN);
	b->len = (uint16_t)(len + VLAN_TAG_LEN);
}

/*
 * The next frame of the current block into b: 1 when b holds it, 0 when it was dropped
 * (counted), -1 when the kernel's header lies (the queue is broken).
 */
static int rx_frame(struct afp_rxq *q, const uint8_t *blk, struct unic_buf *b)
{
	const volatile struct tpacket3_hdr *vh;
	struct tpacket3_hdr h;
	uint32_t off = q->off, extra, cap = (uint32_t)(b->room_size - b->data_off);

	if (off % RX_FRAME_ALIGN || (uint64_t)off + sizeof h > q->blk_len)
		return -1;
	vh = (const volatile struct tpacket3_hdr *)(const void *)(blk + off);
	h.tp_next_offset = vh->tp_next_offset;
	h.tp_snaplen = vh->tp_snaplen;
	h.tp_len = vh->tp_len;
	h.tp_status = vh->tp_status;
	h.tp_mac = vh->tp_mac;
	h.hv1.tp_rxhash = vh->hv1.tp_rxhash;
	if (h.tp_status & TP_STATUS_VLAN_VALID) { /* the tag's fields only when the kernel says it took one */
		h.hv1.tp_vlan_tci = vh->hv1.tp_vlan_tci;
		h.hv1.tp_vlan_tpid = vh->hv1.tp_vlan_tpid;
	}
	if (h.tp_mac < sizeof h || (uint64_t)off + h.tp_mac + h.tp_snaplen > q->blk_len)
		return -1;
	if (q->left > 1 && (h.tp_next_offset < sizeof h || (uint64_t)off + h.tp_next_offset >= q->blk_len))
		return -1;
	q->off = off + h.tp_next_offset;
	q->left--;
	extra = (h.tp_status & TP_STATUS_VLAN_VALID) ? VLAN_TAG_LEN : 0;
	if (h.tp_snaplen < h.tp_len || h.tp_snaplen + extra > cap || h.tp_snaplen < ETH_ADDRS_LEN) {
		UNIC_STAT_INC(q->stats.dropped); /* cut short by the kernel, or longer than our buffers */
		return 0;
	}
	rx_copy(b, blk + off + h.tp_mac, h.tp_snaplen, h.tp_status, &h);
	b->rx_queue = q->id;
	b->rss_hash = h.hv1.tp_rxhash;
	return 1;
}

static uint16_t afp_rx_burst(void *rxq, struct unic_buf **bufs, uint16_t n)
{
	struct afp_rxq *q = rxq;
	uint16_t got = 0;
	uint64_t bytes = 0;
	uint32_t visits = 0; /* at most once round the ring per call, whatever the blocks say */

	while (got < n && !q->broken && visits++ <= q->ring.nblocks) {
		uint16_t want, have, start = got, i;
		const uint8_t *blk;
		if (!q->in_block && !rx_take_block(q))
			break;
		if (!q->left) {
			rx_release_block(q);
			continue;
		}
		want = (uint16_t)((uint32_t)(n - got) < q->left ? (uint32_t)(n - got) : q->left);
		have = (uint16_t)unic_buf_alloc_bulk(q->pool, bufs + start, want);
		if (!have)
			break; /* no buffer: the frames wait in the ring, the kernel counts what it drops */
		blk = (const uint8_t *)rx_block(q, q->block);
		for (i = 0; i < have && !q->broken; i++) {
			int r = rx_frame(q, blk, bufs[got]); /* a dropped frame leaves bufs[got] for the next */
			if (r < 0)
				rx_lies(q);
			if (r > 0)
				bytes += bufs[got++]->len;
		}
		if (start + have > got) /* buffers of dropped frames, or of frames after a lie */
			unic_buf_free_bulk(bufs + got, (uint32_t)(start + have - got));
		if (!q->left && !q->broken)
			rx_release_block(q); /* the kernel may fill it again at once */
	}
	UNIC_STAT_ADD(q->stats.packets, got);
	UNIC_STAT_ADD(q->stats.bytes, bytes);
	return got;
}

/* ---- tx ---- */

static inline volatile struct tpacket2_hdr *tx_frame(const struct afp_txq *q, uint32_t i)
{
	size_t off = (size_t)(i / q->per_block) * q->ring.block_size + (size_t)(i % q->per_block) * q->ring.frame_size;

	return (volatile struct tpacket2_hdr *)(void *)(q->ring.map + off);
}

/* Is ring frame i ours to fill? Counts what the kernel said of the frame sent there before. */
static bool tx_frame_free(struct afp_txq *q, uint32_t i)
{
	uint32_t status = tx_frame(q, i)->tp_status & ~(uint32_t)TX_STATUS_TS_MASK;

	switch (status) {
	case TP_STATUS_AVAILABLE:
		return true;
	case TP_STATUS_WRONG_FORMAT: /* the kernel refused that frame: counted once, then it is ours */
		UNIC_STAT_INC(q->stats.errors);
		tx_frame(q, i)->tp_status = TP_STATUS_AVAILABLE;
		return true;
	case TP_STATUS_SEND_REQUEST:
	case TP_STATUS_SENDING:
		return false; /* still the kernel's: the ring is full */
	default:
		UNIC_STAT_INC(q->stats.bad_device);
		q->broken = true;
		return false;
	}
}

static uint16_t afp_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct afp_txq *q = txq;
	uint64_t bytes = 0;
	uint16_t i, sent = 0;

	for (i = 0; i < n && !q->broken && tx_frame_free(q, q->head); i++) {
		volatile struct tpacket2_hdr *h = tx_frame(q, q->head);
		uint16_t len = bufs[i]->len;
		if (len > q->max_len || len < ETH_HLEN) {
			UNIC_STAT_INC(q->stats.dropped); /* taken and dropped, as a NIC driver does with what it cannot send */
			continue;
		}
		memcpy((uint8_t *)(uintptr_t)h + TX_DATA_OFF, unic_buf_data(bufs[i]), len);
		h->tp_len = len;
		unic_wmb(); /* the frame before its status */
		h->tp_status = TP_STATUS_SEND_REQUEST;
		q->head = (q->head + 1) % q->ring.nframes;
		bytes += len;
		sent++;
	}
	unic_buf_free_bulk(bufs, i);
	/* one system call per burst; EAGAIN/ENOBUFS leave the frames queued for the next kick */
	if (sent)
		(void)sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	UNIC_STAT_ADD(q->stats.packets, sent);
	UNIC_STAT_ADD(q->stats.bytes, bytes);
	return i;
}

/* ---- control ---- */

static void ring_free(struct afp_ring *r)
{
	if (r->map)
		munmap(r->map, r->bytes);
	r->map = NULL;
}

static void afp_close(struct unic_dev *dev)
{
	struct afp *a = dev->priv;
	int i;

	if (!a)
		return;
	for (i = 0; i < UNIC_MAX_QUEUES; i++) {
		ring_free(&a->rxq[i].ring);
		ring_free(&a->txq[i].ring);
		if (a->rxq[i].fd >= 0)
			close(a->rxq[i].fd);
		if (a->txq[i].fd >= 0)
			close(a->txq[i].fd);
	}
	free(a);
	dev->priv = NULL;
}

static int afp_start(struct unic_dev *dev)
{
	struct afp *a = dev->priv;
	int r = 0;
	uint16_t i;

	a->nrx = dev->cfg.rx_queues;
	a->ntx = dev->cfg.tx_queues;
	for (i = 0; i < a->nrx && !r; i++) {
		a->rxq[i].id = i;
		a->rxq[i].pool = dev->pool;
		r = rx_open(a, &a->rxq[i]);
		dev->rxq[i] = &a->rxq[i];
		dev->rxq_stats[i] = &a->rxq[i].stats;
	}
	for (i = 0; i < a->ntx && !r; i++) {
		r = tx_open(a, &a->txq[i]);
		dev->txq[i] = &a->txq[i];
		dev->txq_stats[i] = &a->txq[i].stats;
	}
	if (r)
		return r;
	dev->num_rxq = a->nrx;
	dev->num_txq = a->ntx;
	dev->rx_ring_size = dev->cfg.rx_ring_size;
	dev->tx_ring_size = (uint16_t)(a->txq[0].ring.nframes < UINT16_MAX ? a->txq[0].ring.nframes : UINT16_MAX);
	snprintf(dev->features, sizeof dev->features, "TPACKET_V3 rx (%u x %u KiB blocks), TPACKET_V2 tx, qdisc "
		 "bypass%s", a->rxq[0].ring.nblocks, a->rxq[0].ring.block_size / 1024, a->nrx > 1 ? ", fanout hash" : "");
	return dev->cfg.promisc ? dev->drv->set_promisc(dev, true) : 0;
}

static int afp_set_promisc(struct unic_dev *dev, bool on)
{
	struct afp *a = dev->priv;
	struct packet_mreq mr = { .mr_ifindex = a->ifindex, .mr_type = PACKET_MR_PROMISC };

	if (!a->nrx) /* probe_only: no socket holds the membership */
		return unic_dev_error(dev, ENOTSUP, WHAT ": no queues, so no socket to hold promiscuous mode");
	/* the membership belongs to the socket: the kernel drops it when the socket closes */
	if (setsockopt(a->rxq[0].fd, SOL_PACKET, on ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) &&
	    !(errno == EADDRNOTAVAIL && !on)) /* dropping a membership we never took */
		return sock_error(dev, on ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP", errno);
	return 0;
}

static int afp_stats(struct unic_dev *dev, struct unic_stats *st)
{
	struct afp *a = dev->priv;
	uint16_t i;

	for (i = 0; i < a->nrx; i++) {
		struct tpacket_stats_v3 ks;
		socklen_t len = sizeof ks;
		memset(&ks, 0, sizeof ks);
		/* clear on read (and tp_packets includes tp_drops): folded into the device's totals */
		if (getsockopt(a->rxq[i].fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0) {
			a->kernel_packets += ks.tp_packets;
			a->kernel_drops += ks.tp_drops;
		}
	}
	st->hw_rx_packets = a->kernel_packets;
	st->hw_rx_missed = a->kernel_drops;
	return 0;
}

static int afp_link(struct unic_dev *dev, struct unic_link *link)
{
	return unic_netif_link(dev, link);
}

static int afp_check(struct unic_dev *dev)
{
	struct afp *a = dev->priv;
	uint16_t i;

	for (i = 0; i < a->nrx; i++)
		if (a->rxq[i].broken)
			return unic_dev_error(dev, EIO, WHAT ": rx queue %u on %s stopped: the kernel's ring gave a length "
					      "or offset outside it (counted in bad_device); reopen the device", i,
					      dev->spec.ifname);
	for (i = 0; i < a->ntx; i++)
		if (a->txq[i].broken)
			return unic_dev_error(dev, EIO, WHAT ": tx queue %u on %s stopped: the kernel's ring gave an unknown "
					      "frame status (counted in bad_device); reopen the device", i, dev->spec.ifname);
	return 0;
}

/* The queue's socket: readable when the kernel has handed a block over (or its timer retired one). */
static int afp_rx_fd(struct unic_dev *dev, void *rxq)
{
	(void)dev;
	return ((struct afp_rxq *)rxq)->fd;
}

/* Frames left in the block being read are ours already, out of poll()'s sight: receive them. */
static int afp_rx_arm(void *rxq)
{
	const struct afp_rxq *q = rxq;

	return q->in_block && q->left ? 1 : 0;
}

const struct unic_driver unic_driver_af_packet = {
	.name = "af_packet",
	.start = afp_start,
	.close = afp_close,
	.rx_burst = afp_rx_burst,
	.tx_burst = afp_tx_burst,
	.stats = afp_stats,
	.link = afp_link,
	.set_promisc = afp_set_promisc,
	.check = afp_check,
	.rx_intr_fd = afp_rx_fd,
	.rx_intr_enable = afp_rx_arm,
	.rx_intr_disable = unic_netif_intr_off,
};

int unic_af_packet_probe(struct unic_dev *dev)
{
	struct afp *a;
	int r, i, fd;

	if ((r = unic_netif_check_up(dev, WHAT)))
		return r;
	/* a socket now: no CAP_NET_RAW is one clear line before anything is set up */
	if ((fd = packet_socket(dev, TPACKET_V3)) < 0)
		return fd;
	close(fd);
	a = calloc(1, sizeof *a);
	if (!a)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	for (i = 0; i < UNIC_MAX_QUEUES; i++)
		a->rxq[i].fd = a->txq[i].fd = -1;
	a->dev = dev;
	dev->priv = a;
	dev->drv = &unic_driver_af_packet;
	dev->dma_mode = UNIC_DMA_CPU; /* every frame is copied: any pool, no hugepages, no mapping */
	a->ifindex = (int)if_nametoindex(dev->spec.ifname);
	if (!a->ifindex)
		return unic_dev_error(dev, ENODEV, WHAT ": interface %s went away", dev->spec.ifname);
	if (unic_netif_mtu(dev->spec.ifname, &a->mtu))
		a->mtu = 0; /* unknown: ring frames sized for our buffers */
	if ((r = unic_netif_mac(dev->spec.ifname, dev->mac)))
		return unic_dev_error(dev, -r, WHAT ": cannot read the MAC of %s: %s", dev->spec.ifname, strerror(-r));
	return 0;
}
