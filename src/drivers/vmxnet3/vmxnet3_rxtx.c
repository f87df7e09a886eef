/*
 * vmxnet3_rxtx.c - the vmxnet3 data path: rx ring 1 with its completion ring,
 * the tx command ring with its completion ring.
 *
 * Ownership goes by generation bits (defs.h): a descriptor belongs to the
 * device while its gen bit equals the device's current pass over that ring, a
 * completion entry belongs to the driver while its gen bit equals the driver's
 * current pass over the completion ring; both flip at every wrap.
 *
 * Nothing the device writes is trusted: each completion is read once (the gen
 * word, a barrier, then the other words into locals), its ring id, descriptor
 * index and length are checked against what this queue handed out, and only
 * then is a buffer touched. A completion naming a ring or a slot the device was
 * not given next is a lie that desynchronises the rings: counted in bad_device,
 * and the queue is broken (it returns nothing more until it is reopened).
 */
#include "vmxnet3.h"

static inline uint16_t ring_inc(uint16_t i, uint16_t size)
{
	return (uint16_t)(i + 1 == size ? 0 : i + 1);
}

/* One MMIO read now and then while idle: a removed device reads all-ones, and then we stop. */
static void idle_check(struct unic_dev *dev, uint32_t *idle)
{
	struct vmx_priv *p = dev->priv;

	if (unic_likely(++*idle < VMXNET3_IDLE_CHECK))
		return;
	*idle = 0;
	vmx_check_removed(dev, unic_read32(p->vd, VMXNET3_REG_VRRS));
}

/* ---------------------------------------------------------------- receive */

/* Gives slot q->fill to the device with buffer b: address and length first, the gen bit last. */
static inline void rx_give(struct vmx_rxq *q, struct unic_buf *b)
{
	volatile struct vmx_desc *d = &q->ring[q->fill];

	q->bufs[q->fill] = b;
	d->addr = unic_buf_dma(b);
	d->w3 = 0;
	unic_wmb();
	d->w2 = q->buf_len | VMXNET3_RXD_BTYPE_HEAD << 14 | (uint32_t)q->fill_gen << VMXNET3_RXD_GEN_SHIFT;
	q->fill = ring_inc(q->fill, q->size);
	if (q->fill == 0)
		q->fill_gen ^= 1;
}

/*
 * Start: every slot but the last gets a buffer for the device's first pass (gen 1); the last
 * is held back, so that the device can never complete a slot we have not refilled yet
 * (Linux does the same: a full ring would look empty to a device that compares indices).
 */
void vmx_rx_post_all(struct vmx_rxq *q)
{
	uint16_t i;

	q->fill = 0;
	q->fill_gen = VMXNET3_INIT_GEN;
	for (i = 0; i + 1 < q->size; i++)
		rx_give(q, q->bufs[i]);
	q->next = 0;
	q->comp_next = 0;
	q->comp_gen = VMXNET3_INIT_GEN;
}

static inline struct unic_buf *rx_spare(struct vmx_rxq *q)
{
	if (unic_unlikely(!q->nspare)) {
		if (!unic_buf_alloc_bulk(q->dev->pool, q->spare, VMXNET3_RX_REFILL_BATCH))
			return NULL;
		q->nspare = VMXNET3_RX_REFILL_BATCH;
	}
	return q->spare[--q->nspare];
}

/* broken is read by control calls (vmxnet3_check) from other threads: an atomic store. */
static void rx_lie(struct vmx_rxq *q)
{
	UNIC_STAT_INC(q->stats.bad_device);
	__atomic_store_n(&q->broken, true, __ATOMIC_RELAXED);
}

/*
 * Checks one completion for slot q->next (ring and index already checked). A frame over
 * several buffers (no EOP) is dropped whole and counted once; the queue skips to its EOP.
 */
static inline bool rx_frame_ok(struct vmx_rxq *q, uint32_t w0, uint32_t len, bool err)
{
	bool sop = w0 & VMXNET3_RCD_SOP, eop = w0 & VMXNET3_RCD_EOP;

	if (unic_unlikely(q->discarding || !sop)) {
		if (!q->discarding)
			UNIC_STAT_INC(q->stats.bad_device); /* a middle piece of no frame */
		if (eop)
			q->discarding = false;
		return false;
	}
	if (unic_unlikely(!eop)) {
		q->discarding = true;
		UNIC_STAT_INC(q->stats.dropped);
		return false;
	}
	if (unic_unlikely(err)) {
		UNIC_STAT_INC(q->stats.errors);
		return false;
	}
	if (unic_unlikely(len == 0 || len > q->buf_len)) {
		UNIC_STAT_INC(q->stats.bad_device);
		return false;
	}
	return true;
}

/* Has the device written the next completion? (its gen word only; the burst checks the rest) */
bool vmx_rx_ready(const struct vmx_rxq *q)
{
	return (q->comp[q->comp_next].w3 >> VMXNET3_CD_GEN_SHIFT) == q->comp_gen;
}

uint16_t vmx_rx_burst(void *rxq, struct unic_buf **out, uint16_t n)
{
	struct vmx_rxq *q = rxq;
	uint16_t got = 0, seen = 0;

	if (unic_unlikely(q->broken || q->dev->removed))
		return 0;
	while (got < n && seen < q->comp_size) {
		volatile struct vmx_comp *c = &q->comp[q->comp_next];
		uint32_t w3 = c->w3, w0, w2, hash;
		struct unic_buf *b;

		if ((w3 >> VMXNET3_CD_GEN_SHIFT) != q->comp_gen)
			break;
		unic_rmb(); /* the rest of the entry is valid once its gen is seen */
		w0 = c->w0;
		hash = c->w1;
		w2 = c->w2;
		q->comp_next = ring_inc(q->comp_next, q->comp_size);
		if (q->comp_next == 0)
			q->comp_gen ^= 1;
		seen++;
		if (unic_unlikely(((w0 >> VMXNET3_RCD_RQID_SHIFT) & VMXNET3_RCD_RQID_MASK) != q->id ||
				  (w0 & VMXNET3_RCD_RXIDX_MASK) != q->next)) {
			rx_lie(q);
			break;
		}
		b = q->bufs[q->next];
		if (rx_frame_ok(q, w0, w2 & VMXNET3_RCD_LEN_MASK, w2 & VMXNET3_RCD_ERR)) {
			struct unic_buf *fresh = rx_spare(q);
			if (unic_likely(fresh != NULL)) {
				b->len = (uint16_t)(w2 & VMXNET3_RCD_LEN_MASK);
				b->rx_queue = q->id;
				b->rss_hash = hash;
				out[got++] = b;
				UNIC_STAT_INC(q->stats.packets);
				UNIC_STAT_ADD(q->stats.bytes, b->len);
				b = fresh;
			} else {
				UNIC_STAT_INC(q->stats.dropped); /* pool empty: keep the buffer, lose the frame */
			}
		}
		q->bufs[q->next] = NULL;
		q->next = ring_inc(q->next, q->size);
		rx_give(q, b);
	}
	if (seen) {
		if (unic_unlikely(q->qd->update_prod))
			unic_write32(q->prod_reg, 0, q->fill);
		q->idle = 0;
	} else {
		idle_check(q->dev, &q->idle);
	}
	return got;
}

/* ---------------------------------------------------------------- transmit */

/*
 * Completions name the EOP descriptor of the last frame done; frames complete in order.
 * An index outside the frames in flight is a lie: counted, queue broken.
 */
static uint16_t tx_reclaim(struct vmx_txq *q)
{
	uint16_t seen = 0, freed = 0;

	while (seen < q->size) {
		volatile struct vmx_comp *c = &q->comp[q->comp_next];
		uint32_t idx, done, first;

		if ((c->w3 >> VMXNET3_CD_GEN_SHIFT) != q->comp_gen)
			break;
		unic_rmb();
		idx = c->w0 & VMXNET3_TCD_TXIDX_MASK;
		done = (idx >= q->clean ? idx - q->clean : idx + q->size - q->clean) + 1u;
		if (unic_unlikely(idx >= q->size || done > q->inflight)) {
			UNIC_STAT_INC(q->stats.bad_device);
			__atomic_store_n(&q->broken, true, __ATOMIC_RELAXED);
			return freed;
		}
		first = (uint32_t)(q->size - q->clean) < done ? (uint32_t)(q->size - q->clean) : done;
		unic_buf_free_bulk(&q->bufs[q->clean], first);
		if (done > first)
			unic_buf_free_bulk(&q->bufs[0], done - first);
		q->clean = ring_inc((uint16_t)idx, q->size);
		q->inflight = (uint16_t)(q->inflight - done);
		freed = (uint16_t)(freed + done);
		q->comp_next = ring_inc(q->comp_next, q->size);
		if (q->comp_next == 0)
			q->comp_gen ^= 1;
		seen++;
	}
	return freed;
}

/* The driver op: completed tx buffers back to the pool without sending. */
uint16_t vmx_tx_reclaim(void *txq)
{
	struct vmx_txq *q = txq;

	if (unic_unlikely(q->broken || q->dev->removed))
		return 0;
	return tx_reclaim(q);
}

/* One frame, one descriptor: EOP and a completion request; the gen bit, which hands it over, last. */
static inline void tx_put(struct vmx_txq *q, struct unic_buf *b)
{
	volatile struct vmx_desc *d = &q->ring[q->tail];

	q->bufs[q->tail] = b;
	d->addr = unic_buf_dma(b);
	d->w3 = VMXNET3_TXD_EOP | VMXNET3_TXD_CQ;
	unic_wmb();
	d->w2 = (b->len & VMXNET3_TXD_LEN_MASK) | (uint32_t)q->gen << VMXNET3_TXD_GEN_SHIFT;
	q->tail = ring_inc(q->tail, q->size);
	if (q->tail == 0)
		q->gen ^= 1;
}

uint16_t vmx_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n)
{
	struct vmx_txq *q = txq;
	uint16_t room, i, queued = 0;

	if (unic_unlikely(q->broken || q->dev->removed))
		return 0;
	tx_reclaim(q);
	room = (uint16_t)(q->size - 1 - q->inflight);
	for (i = 0; i < n && queued < room; i++) {
		struct unic_buf *b = bufs[i];

		if (unic_unlikely(b->len == 0 || b->len > VMXNET3_TXD_LEN_MASK ||
				  (uint32_t)b->data_off + b->len > b->room_size)) {
			UNIC_STAT_INC(q->stats.dropped); /* taken and dropped: nothing valid to send */
			unic_buf_free(b);
			continue;
		}
		tx_put(q, b);
		UNIC_STAT_INC(q->stats.packets);
		UNIC_STAT_ADD(q->stats.bytes, b->len);
		queued++;
	}
	q->inflight = (uint16_t)(q->inflight + queued);
	if (queued) {
		unic_wmb();
		unic_write32(q->prod_reg, 0, q->tail);
		q->idle = 0;
	} else if (!room) {
		idle_check(q->dev, &q->idle);
	}
	return i;
}
