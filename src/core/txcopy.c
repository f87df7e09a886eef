/*
 * txcopy.c - sending a frame whose buffer the device cannot reach.
 *
 * A buffer's DMA address means something only in its pool's DMA domain (internal.h): a
 * vhost-user buffer's address is a virtual address of ours, which a PCI NIC would read as
 * a physical one and which another vhost-user backend cannot translate; a VFIO IOVA means
 * nothing to a NIC in physical mode. Such a frame is copied into a buffer of the sending
 * device's own pool, and the original goes back to its pool once the copy is on the ring.
 * Buffers of the same domain still go without a copy.
 */
#include "internal.h"

/* Frames prepared per driver call: bounds the stack arrays of the slow path. */
#define TX_COPY_BATCH 64

/* Why a chunk ends before the burst does. */
enum chunk_stop {
	STOP_NONE,      /* TX_COPY_BATCH reached, or the burst's end */
	STOP_NO_BUFFER, /* the sending device's pool is empty: the caller keeps the rest */
	STOP_TOO_LONG,  /* the next frame does not fit a buffer of the sending device */
};

/* What the driver is given for bufs[0..n): each buffer itself, or a copy. */
struct chunk {
	struct unic_buf *out[TX_COPY_BATCH];
	bool copied[TX_COPY_BATCH];
	uint16_t n;
	enum chunk_stop stop;
};

static inline bool needs_copy(const struct unic_mempool *own, const struct unic_buf *b)
{
	return b->pool != own && !unic_dma_reaches(own->dma_domain, b);
}

/* The frame of b into the fresh buffer c; false when it does not fit c. */
static bool copy_frame(struct unic_buf *c, struct unic_buf *b)
{
	uint16_t len = b->len;

	if (len > unic_buf_tailroom(c))
		return false;
	memcpy(unic_buf_data(c), unic_buf_data(b), len);
	c->len = len;
	return true;
}

/* Fills c for the first frames of bufs[0..n), with buffers from own for the foreign ones. */
static void chunk_build(struct unic_mempool *own, struct unic_buf **bufs, uint16_t n, struct chunk *c)
{
	struct unic_buf *fresh[TX_COPY_BATCH];
	uint32_t want = 0, have, used = 0;
	uint16_t i;

	if (n > TX_COPY_BATCH)
		n = TX_COPY_BATCH;
	for (i = 0; i < n; i++)
		want += needs_copy(own, bufs[i]);
	have = unic_mempool_avail(own); /* what this thread can take: other threads' caches are theirs */
	have = want < have ? want : have;
	have = unic_buf_alloc_bulk(own, fresh, have); /* all or none: have or 0 */
	c->stop = STOP_NONE;
	for (i = 0; i < n; i++) {
		c->copied[i] = needs_copy(own, bufs[i]);
		if (!c->copied[i]) {
			c->out[i] = bufs[i];
			continue;
		}
		if (used == have) {
			c->stop = STOP_NO_BUFFER;
			break;
		}
		if (!copy_frame(fresh[used], bufs[i])) {
			c->stop = STOP_TOO_LONG;
			break;
		}
		c->out[i] = fresh[used++];
	}
	c->n = i;
	unic_buf_free_bulk(fresh + used, have - used);
}

/*
 * The driver took out[0..sent): the originals of those copies go home (the copy is on the
 * ring now). The copies it did not take go back to the device's pool: the caller keeps the
 * originals, as with any frame tx did not take.
 */
static void chunk_settle(const struct chunk *c, struct unic_buf **orig, uint16_t sent, struct unic_qcounters *st)
{
	struct unic_buf *home[TX_COPY_BATCH];
	uint32_t k = 0, copies_sent = 0;
	uint16_t i;

	for (i = 0; i < c->n; i++) {
		if (!c->copied[i])
			continue;
		home[k++] = i < sent ? orig[i] : c->out[i];
		copies_sent += i < sent;
	}
	unic_buf_free_bulk(home, k);
	if (st)
		UNIC_STAT_ADD(st->copied, copies_sent);
}

uint16_t unic_tx_cross_domain(struct unic_dev *dev, uint16_t queue, struct unic_buf **bufs, uint16_t n)
{
	struct unic_qcounters *st = dev->txq_stats[queue];
	uint16_t done = 0;

	while (done < n) {
		struct chunk c;
		uint16_t sent = 0;

		chunk_build(dev->pool, bufs + done, (uint16_t)(n - done), &c);
		if (c.n)
			sent = dev->drv->tx_burst(dev->txq[queue], c.out, c.n);
		chunk_settle(&c, bufs + done, sent, st);
		done = (uint16_t)(done + sent);
		if (sent < c.n || c.stop == STOP_NO_BUFFER)
			break;
		if (c.stop == STOP_TOO_LONG) {
			/* taken and dropped, as a driver does with a frame it cannot send */
			unic_buf_free(bufs[done++]);
			if (st)
				UNIC_STAT_INC(st->dropped);
		}
	}
	return done;
}
