/*
 * The af_packet backend's data path over rings this test forges in place of the kernel's:
 * good blocks deliver every frame byte for byte (a VLAN tag the kernel took out put back);
 * frames cut short or too long for the buffers are dropped and counted; every lying length
 * or offset (frame past the block, header overlapping data, next frame outside or misaligned,
 * block longer than the ring's) is counted in bad_device, the frames before it delivered, and
 * the queue broken; 10^5 random blocks: no read outside the ring (ASan), no buffer lost. tx:
 * a full ring stops the burst, a refused frame (WRONG_FORMAT) is counted once (errors), an unknown
 * status breaks the queue, a frame longer than a ring frame (or shorter than an Ethernet header)
 * is taken, dropped and counted (dropped).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_dev.h"
#include "../../src/backends/af_packet/af_packet.h"

#define BLOCK 8192u
#define NBLOCKS 2u
#define FIRST 64u   /* offset of a block's first frame: after struct tpacket_block_desc */
#define MAC_OFF 80u /* frame data offset from its header, as the kernel puts it (16-aligned net) */
#define POOL_N 512u

static struct unic_dev *dev;

static uint16_t rx(struct afp_rxq *q, struct unic_buf **bufs, uint16_t n)
{
	return unic_driver_af_packet.rx_burst(q, bufs, n);
}

static void rxq_init(struct afp_rxq *q, uint8_t *ring)
{
	memset(q, 0, sizeof *q);
	q->fd = -1;
	q->ring.map = ring;
	q->ring.block_size = BLOCK;
	q->ring.nblocks = NBLOCKS;
	q->ring.bytes = BLOCK * NBLOCKS;
	q->pool = dev->pool;
}

static struct tpacket_hdr_v1 *blk_hdr(uint8_t *ring, unsigned b)
{
	return &((struct tpacket_block_desc *)(void *)(ring + b * BLOCK))->hdr.bh1;
}

static void put_block(uint8_t *ring, unsigned b, uint32_t num, uint32_t first, uint32_t len)
{
	struct tpacket_hdr_v1 *h = blk_hdr(ring, b);

	h->num_pkts = num;
	h->offset_to_first_pkt = first;
	h->blk_len = len;
	h->block_status = TP_STATUS_USER;
}

/* A frame header at off in block b; its data (len bytes of pattern seed) at off + MAC_OFF. */
static void put_frame(uint8_t *ring, unsigned b, uint32_t off, uint32_t next, uint32_t snap, uint32_t len,
		      uint32_t status, uint8_t seed)
{
	struct tpacket3_hdr *h = (struct tpacket3_hdr *)(void *)(ring + b * BLOCK + off);
	uint32_t i;

	memset(h, 0, sizeof *h);
	h->tp_next_offset = next;
	h->tp_snaplen = snap;
	h->tp_len = len;
	h->tp_status = status;
	h->tp_mac = MAC_OFF;
	for (i = 0; i < snap && off + MAC_OFF + i < BLOCK; i++)
		ring[b * BLOCK + off + MAC_OFF + i] = (uint8_t)(seed + i);
}

static int frame_is(struct unic_buf *b, uint32_t len, uint8_t seed)
{
	const uint8_t *d = unic_buf_data(b);
	uint32_t i;

	if (b->len != len)
		return 0;
	for (i = 0; i < len; i++)
		if (d[i] != (uint8_t)(seed + i))
			return 0;
	return 1;
}

static void good_blocks(uint8_t *ring)
{
	struct afp_rxq q;
	struct unic_buf *bufs[32];
	const uint8_t *d;

	rxq_init(&q, ring);
	put_block(ring, 0, 3, FIRST, 4096);
	put_frame(ring, 0, FIRST, 160, 60, 60, TP_STATUS_USER, 1);
	put_frame(ring, 0, FIRST + 160, 1600, 1400, 1400, TP_STATUS_USER, 2);
	put_frame(ring, 0, FIRST + 1760, 0, 100, 100, TP_STATUS_USER | TP_STATUS_VLAN_VALID, 3);
	((struct tpacket3_hdr *)(void *)(ring + FIRST + 1760))->hv1.tp_vlan_tci = 0x0064;
	CHECK(rx(&q, bufs, 1) == 1 && frame_is(bufs[0], 60, 1));   /* a burst smaller than the block */
	CHECK(rx(&q, bufs + 1, 32) == 2 && frame_is(bufs[1], 1400, 2));
	d = unic_buf_data(bufs[2]); /* 12 bytes of addresses, the tag 81 00 00 64, then the rest */
	CHECK(bufs[2]->len == 104 && d[11] == 3 + 11 && d[12] == 0x81 && d[13] == 0 && d[14] == 0 && d[15] == 0x64 &&
	      d[16] == (uint8_t)(3 + 12) && d[103] == (uint8_t)(3 + 99));
	CHECK(blk_hdr(ring, 0)->block_status == TP_STATUS_KERNEL); /* handed back once read */
	CHECK(q.block == 1 && !q.broken && q.stats.packets == 3 && q.stats.bad_device == 0);
	unic_buf_free_bulk(bufs, 3);
	CHECK(rx(&q, bufs, 32) == 0); /* block 1 is the kernel's */

	/* cut short by the kernel, then longer than a 2048-byte buffer: dropped, the next delivered */
	rxq_init(&q, ring);
	put_block(ring, 0, 3, FIRST, 4096);
	put_frame(ring, 0, FIRST, 160, 60, 70, TP_STATUS_USER, 4);
	put_frame(ring, 0, FIRST + 160, 2560, 2400, 2400, TP_STATUS_USER, 5);
	put_frame(ring, 0, FIRST + 2720, 0, 64, 64, TP_STATUS_USER, 6);
	CHECK(rx(&q, bufs, 32) == 1 && frame_is(bufs[0], 64, 6));
	CHECK(q.stats.dropped == 2 && q.stats.bad_device == 0 && !q.broken);
	unic_buf_free(bufs[0]);
	CHECK(unic_mempool_free_count(dev->pool) == POOL_N);

	/* blocks handed over empty: released in turn, the call ends when it meets the kernel's */
	rxq_init(&q, ring);
	put_block(ring, 0, 0, FIRST, FIRST);
	put_block(ring, 1, 0, FIRST, FIRST);
	CHECK(rx(&q, bufs, 32) == 0 && q.block == 0 && !q.broken);
	CHECK(blk_hdr(ring, 0)->block_status == TP_STATUS_KERNEL && blk_hdr(ring, 1)->block_status == TP_STATUS_KERNEL);
}

/*
 * A block whose header says num, first and blk_len, holding a good frame at FIRST and then a
 * frame with the given next offset, snaplen and data offset: the frames before the lie (want)
 * are delivered, the lie counted, the queue broken.
 */
static void lie(uint8_t *ring, const char *what, uint16_t want, uint32_t num, uint32_t first, uint32_t blk_len,
		uint32_t next, uint32_t snap, uint32_t mac)
{
	struct afp_rxq q;
	struct unic_buf *bufs[32];
	uint16_t got;

	memset(ring, 0, BLOCK * NBLOCKS);
	rxq_init(&q, ring);
	put_block(ring, 0, num, first, blk_len);
	put_frame(ring, 0, FIRST, 200, 60, 60, TP_STATUS_USER, 7);
	put_frame(ring, 0, FIRST + 200, next, snap, snap, TP_STATUS_USER, 8);
	((struct tpacket3_hdr *)(void *)(ring + FIRST + 200))->tp_mac = mac;
	got = rx(&q, bufs, 32);
	if (!(q.broken && q.stats.bad_device == 1 && got == want && (got == 0 || frame_is(bufs[0], 60, 7)))) {
		printf("FAIL lie '%s': got %u (want %u), broken %d, bad_device %llu\n", what, got, want, q.broken,
		       (unsigned long long)q.stats.bad_device);
		check_failed++;
	}
	check_total++;
	unic_buf_free_bulk(bufs, got);
	put_block(ring, 1, 1, FIRST, 4096);
	put_frame(ring, 1, FIRST, 0, 60, 60, TP_STATUS_USER, 9);
	CHECK(rx(&q, bufs, 32) == 0); /* broken: nothing more is read */
}

static void lies(uint8_t *ring)
{
	lie(ring, "frame data past the block", 1, 3, FIRST, 4096, 200, 4000, MAC_OFF);
	lie(ring, "frame data past blk_len", 1, 2, FIRST, 1000, 0, 900, MAC_OFF);
	lie(ring, "data overlapping its header", 1, 2, FIRST, 4096, 0, 60, 8);
	lie(ring, "next frame outside the block", 1, 3, FIRST, 4096, 8192, 60, MAC_OFF);
	lie(ring, "next frame misaligned", 2, 3, FIRST, 4096, 203, 60, MAC_OFF);
	lie(ring, "next frame at offset 0 (a loop)", 1, 3, FIRST, 4096, 0, 60, MAC_OFF);
	lie(ring, "frame count past the block", 1, 100000, FIRST, 4096, 0, 60, MAC_OFF);
	lie(ring, "blk_len longer than the block", 0, 2, FIRST, BLOCK + 8, 0, 60, MAC_OFF);
	lie(ring, "first frame inside the block header", 0, 2, 8, 4096, 0, 60, MAC_OFF);
	lie(ring, "first frame past blk_len", 0, 1, 4000, 3000, 0, 60, MAC_OFF);
	CHECK(unic_mempool_free_count(dev->pool) == POOL_N);
}

/* Random block headers and frame headers: whatever comes out lies inside our buffers. */
static void random_blocks(uint8_t *ring)
{
	struct unic_buf *bufs[64];
	unsigned iter, i;
	int ok = 1;

	srand(13);
	for (iter = 0; iter < 100000 && ok; iter++) {
		struct afp_rxq q;
		uint16_t got;
		uint32_t off = FIRST;
		rxq_init(&q, ring);
		put_block(ring, 0, (uint32_t)rand() % 40, (uint32_t)rand() % 2 ? FIRST : (uint32_t)rand() % BLOCK,
			  (uint32_t)rand() % 3 ? 4096 + (uint32_t)rand() % 4096 : (uint32_t)rand());
		for (i = 0; i < 20 && off + sizeof(struct tpacket3_hdr) <= BLOCK; i++) {
			uint32_t next = (uint32_t)rand() % 4 ? 8 * (1 + (uint32_t)rand() % 40) : (uint32_t)rand();
			put_frame(ring, 0, off, next, (uint32_t)rand() % 300, (uint32_t)rand() % 300, (uint32_t)rand(), 0);
			((struct tpacket3_hdr *)(void *)(ring + off))->tp_mac = (uint16_t)rand() % 8 ? MAC_OFF : (uint16_t)rand();
			off += next < 400 ? next : 400;
		}
		got = rx(&q, bufs, 64);
		for (i = 0; i < got; i++)
			ok &= bufs[i]->len <= bufs[i]->room_size - bufs[i]->data_off;
		unic_buf_free_bulk(bufs, got);
	}
	CHECK(ok);
	CHECK(unic_mempool_free_count(dev->pool) == POOL_N);
}

static void tx(void)
{
	uint8_t *ring = aligned_alloc(4096, BLOCK * NBLOCKS);
	struct afp_txq q;
	struct unic_buf *bufs[16];
	struct tpacket2_hdr *h;
	uint32_t i;

	memset(ring, 0, BLOCK * NBLOCKS);
	memset(&q, 0, sizeof q);
	q.fd = -1; /* the kick fails (EBADF) and is ignored, as EAGAIN would be */
	q.ring.map = ring;
	q.ring.block_size = BLOCK;
	q.ring.nblocks = NBLOCKS;
	q.ring.frame_size = 2048;
	q.per_block = BLOCK / 2048;
	q.ring.nframes = q.per_block * NBLOCKS;
	q.max_len = 2048 - TX_DATA_OFF;
	CHECK(unic_buf_alloc_bulk(dev->pool, bufs, 10) == 10);
	for (i = 0; i < 10; i++) {
		bufs[i]->len = (uint16_t)(60 + i);
		memset(unic_buf_data(bufs[i]), (int)i + 1, bufs[i]->len);
	}
	CHECK(unic_driver_af_packet.tx_burst(&q, bufs, 10) == 8); /* 8 ring frames */
	h = (struct tpacket2_hdr *)(void *)(ring + 2048 * 5);
	CHECK(h->tp_status == TP_STATUS_SEND_REQUEST && h->tp_len == 65 && ((uint8_t *)h)[TX_DATA_OFF + 64] == 6);
	CHECK(q.stats.packets == 8 && unic_mempool_free_count(dev->pool) == POOL_N - 2);
	for (i = 0; i < 8; i++) /* the kernel sent them all, but refused frame 0 */
		((struct tpacket2_hdr *)(void *)(ring + 2048 * i))->tp_status = i ? TP_STATUS_AVAILABLE : TP_STATUS_WRONG_FORMAT;
	bufs[8]->len = (uint16_t)(q.max_len + 1); /* too long for a ring frame: taken, dropped, counted */
	bufs[9]->len = 13;                        /* shorter than an Ethernet header: the same */
	CHECK(unic_driver_af_packet.tx_burst(&q, bufs + 8, 2) == 2 && q.stats.errors == 1 && q.stats.dropped == 2 &&
	      q.stats.packets == 8);
	CHECK(((struct tpacket2_hdr *)(void *)ring)->tp_status == TP_STATUS_AVAILABLE); /* counted once, ours */
	CHECK(unic_buf_alloc_bulk(dev->pool, bufs, 1) == 1);
	bufs[0]->len = 60;
	CHECK(unic_driver_af_packet.tx_burst(&q, bufs, 1) == 1 && q.stats.errors == 1 && q.stats.packets == 9);
	((struct tpacket2_hdr *)(void *)(ring + 2048 * 1))->tp_status = 0x1234; /* no status the kernel writes */
	CHECK(unic_buf_alloc_bulk(dev->pool, bufs, 1) == 1);
	bufs[0]->len = 60;
	CHECK(unic_driver_af_packet.tx_burst(&q, bufs, 1) == 0 && q.broken && q.stats.bad_device == 1);
	unic_buf_free(bufs[0]);
	CHECK(unic_mempool_free_count(dev->pool) == POOL_N);
	free(ring);
}

int main(void)
{
	uint8_t *ring = aligned_alloc(4096, BLOCK * NBLOCKS); /* ASan sees any read past it */

	dev = fake_dev(POOL_N);
	CHECK(dev && ring);
	if (!dev || !ring)
		return check_summary("test_af_packet_hostile");
	memset(ring, 0, BLOCK * NBLOCKS);
	good_blocks(ring);
	lies(ring);
	random_blocks(ring);
	tx();
	free(ring);
	unic_close(dev);
	return check_summary("test_af_packet_hostile");
}
