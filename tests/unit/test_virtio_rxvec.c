/*
 * The split ring's vector rx path (src/drivers/virtio/virtio_rx_vec.c) on its own: a
 * queue over plain memory whose used ring the test writes as a device would, on every
 * vector path this CPU runs (SSE4.2: 4 entries a step, AVX2: 8).
 *   - clean entries are taken in whole batches: frame lengths, queue, payload bytes,
 *     the slots emptied, the ring's counters moved;
 *   - one bad entry anywhere in a batch (id off its slot, out of range or never given;
 *     length at or below the header, above the buffer; num_buffers not 1 with
 *     MRG_RXBUF) leaves that batch and everything after it untouched: the scalar path
 *     reads it (the test compares with a reference predicate, also over random batches);
 *   - a short tail and the ring's wrap are left to the scalar path too; a used index
 *     that claims more than the device holds gives nothing;
 *   - virtq_rxv_check keeps ordered mode when the scalar path took the oldest slots
 *     (in any order) and leaves it when it took others, with a free list that offers
 *     exactly the empty slots.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "../../src/drivers/virtio/virtio.h"

#define SIZE 64
#define ROOM 256                  /* bytes per fake buffer room (headroom + data) */
#define HDR 12
#define QID 3
#define BUF_LEN (ROOM - UNIC_HEADROOM + HDR)
#define NUM_BUFFERS_OFF 10        /* spec 5.1.6: num_buffers in the header */
#define LEN_UNTOUCHED 0xbeef

static uint8_t ring_mem[65536] __attribute__((aligned(4096)));
static uint8_t rooms[2 * SIZE][ROOM];
static struct unic_buf bufs[2 * SIZE];
static struct virtq vq;
static struct virtq_rxv rxv;
static bool packed_ring; /* the ring type of this pass */

static volatile uint32_t *used_entry(uint16_t pos)
{
	return (volatile uint32_t *)((volatile uint8_t *)vq.used + 4 + 8u * (pos & (SIZE - 1)));
}

/* A queue in ordered mode with every slot holding buffer slot (bufs[0..SIZE)). */
static bool fresh(enum virtq_simd s, bool mrg, bool event_idx)
{
	struct unic_buf *b[SIZE];
	uint16_t i;

	virtq_fini(&vq); /* the previous case's */
	if (virtq_init(&vq, 0, SIZE, packed_ring, event_idx, false, ring_mem, (uintptr_t)ring_mem, 4))
		return false;
	memset(&rxv, 0, sizeof rxv);
	rxv.buf_len = BUF_LEN;
	rxv.hdr_len = HDR;
	rxv.qid = QID;
	rxv.mrg_rxbuf = mrg;
	virtq_rxv_init(&vq, &rxv, s);
	for (i = 0; i < 2 * SIZE; i++) {
		memset(&bufs[i], 0, sizeof bufs[i]);
		bufs[i].room = rooms[i];
		bufs[i].room_iova = (uintptr_t)rooms[i];
		bufs[i].room_size = ROOM;
		bufs[i].data_off = UNIC_HEADROOM;
		bufs[i].len = LEN_UNTOUCHED;
	}
	for (i = 0; i < SIZE; i++)
		b[i] = &bufs[i];
	virtq_rxv_put(&vq, b, SIZE, UNIC_HEADROOM - HDR);
	return rxv.simd == s && vq.in_flight == SIZE && vq.num_free == 0;
}

/*
 * The device writes used entry (id, len) at the next used position, and num_buffers nb into
 * the header of the buffer the driver expects there (the one of that position's slot: what
 * the vector path reads, whatever id says).
 */
static uint16_t dev_used;
static void dev_put_flags(uint32_t id, uint32_t len, uint16_t nb, bool used)
{
	uint8_t *hdr = ((struct unic_buf *)vq.slot[dev_used & (SIZE - 1)].token)->room + UNIC_HEADROOM - HDR;

	memcpy(hdr + NUM_BUFFERS_OFF, &nb, sizeof nb);
	if (packed_ring) { /* 2.8.1: used when AVAIL and USED both equal the lap's wrap counter (1 first) */
		volatile struct vring_packed_desc *d = &vq.pdesc[dev_used & (SIZE - 1)];
		bool wrap = (dev_used / SIZE) % 2 == 0;
		d->id = (uint16_t)id;
		d->len = len;
		d->flags = (uint16_t)(VRING_DESC_F_WRITE | (used == wrap ? VRING_PACKED_DESC_F_USED : 0) |
				      (wrap ? VRING_PACKED_DESC_F_AVAIL : 0));
		dev_used++;
		return;
	}
	used_entry(dev_used)[0] = id;
	used_entry(dev_used)[1] = len;
	dev_used++;
	vq.used[1] = dev_used;
}

static void dev_put(uint32_t id, uint32_t len, uint16_t nb) { dev_put_flags(id, len, nb, true); }

/* The next used position, as the ring keeps it. */
static uint16_t used_pos(void) { return virtq_used_pos(&vq); }

/* What the vector path must decide for one entry (the scalar path's checks, and the order). */
static bool entry_clean(uint16_t pos, uint32_t id, uint32_t len, uint16_t nb, bool mrg, bool used)
{
	uint32_t id_bits = packed_ring ? (uint16_t)id : id; /* a packed descriptor's id is 16 bits */

	return id_bits == (pos & (SIZE - 1)) && len > HDR && len <= BUF_LEN && (!mrg || nb == 1) &&
	       (used || !packed_ring);
}

static const char *ring_name(void) { return packed_ring ? "packed" : "split"; }

static unsigned batch_of(enum virtq_simd s) { return s == VIRTQ_SIMD_AVX2 ? 8 : 4; }

/* The layout virtq_rxv_init and _put promise: slot i at avail position i, one writable descriptor. */
static void test_layout(enum virtq_simd s)
{
	unsigned bad = 0, i;

	CHECK(fresh(s, false, true));
	if (packed_ring) { /* descriptor i: buffer i, id i; the first one's flags wait for the kick */
		for (i = 0; i < SIZE; i++)
			bad += vq.pdesc[i].id != i || vq.pdesc[i].len != BUF_LEN || vq.slot[i].token != &bufs[i] ||
			       vq.pdesc[i].addr != (uintptr_t)rooms[i] + UNIC_HEADROOM - HDR ||
			       vq.pdesc[i].flags != (i ? VRING_DESC_F_WRITE | VRING_PACKED_DESC_F_AVAIL : 0);
		virtq_kick(&vq);
		CHECK(bad == 0 && vq.pdesc[0].flags == (VRING_DESC_F_WRITE | VRING_PACKED_DESC_F_AVAIL) && vq.added == 0);
		return;
	}
	for (i = 0; i < SIZE; i++)
		bad += vq.avail[VRING_AVAIL_RING + i] != i || vq.desc[i].len != BUF_LEN ||
		       vq.desc[i].flags != VRING_DESC_F_WRITE || vq.slot[i].token != &bufs[i] ||
		       vq.desc[i].addr != (uintptr_t)rooms[i] + UNIC_HEADROOM - HDR || vq.slot[i].writable != BUF_LEN;
	CHECK(bad == 0 && vq.avail_idx == SIZE && vq.added == SIZE);
}

static void test_clean(enum virtq_simd s, bool mrg)
{
	struct unic_buf *out[SIZE];
	uint64_t bytes = 0, want = 0;
	unsigned i, wrong = 0;
	uint16_t got;

	CHECK(fresh(s, mrg, true));
	dev_used = 0;
	for (i = 0; i < 32; i++) {
		dev_put(i, HDR + 1 + i * 4, 1);
		want += 1 + i * 4;
	}
	got = virtq_rxv_get(&vq, &rxv, out, 32, &bytes);
	CHECK(got == 32 && bytes == want);
	for (i = 0; i < got; i++)
		wrong += out[i] != &bufs[i] || out[i]->len != 1 + i * 4 || out[i]->rx_queue != QID ||
			 vq.slot[i].token != NULL;
	CHECK(wrong == 0);
	CHECK(used_pos() == 32 && vq.in_flight == 32 && vq.num_free == 32);
	if (!packed_ring)
		CHECK(vq.avail[VRING_AVAIL_RING + SIZE] == 31); /* used_event one behind: no interrupts asked */
	CHECK(vq.slot[32].token == &bufs[32]);
	/* nothing pending: nothing taken */
	CHECK(virtq_rxv_get(&vq, &rxv, out, 32, &bytes) == 0);
}

/* Each kind of bad entry, at each place of the first two batches. */
enum bad { ID_NEXT, ID_RANGE, ID_HUGE, LEN_HDR, LEN_SHORT, LEN_ZERO, LEN_OVER, LEN_HUGE, NB_ZERO, NB_TWO, NOT_USED, NBAD };
static const char *const bad_name[] = { "id of the next slot", "id out of range", "id 0xffffffff", "length = header",
					 "length < header", "length 0", "length > buffer", "length 2^31",
					 "num_buffers 0", "num_buffers 2", "packed flags not used yet" };

static void bad_entry(enum bad b, uint16_t pos, uint32_t *id, uint32_t *len, uint16_t *nb, bool *used)
{
	*id = pos;
	*len = HDR + 100;
	*nb = 1;
	*used = true;
	switch (b) {
	case NOT_USED: *used = false; break;
	case ID_NEXT: *id = pos + 1u; break;
	case ID_RANGE: *id = pos + SIZE; break;
	case ID_HUGE: *id = 0xffffffffu; break;
	case LEN_HDR: *len = HDR; break;
	case LEN_SHORT: *len = HDR - 1; break;
	case LEN_ZERO: *len = 0; break;
	case LEN_OVER: *len = BUF_LEN + 1; break;
	case LEN_HUGE: *len = 0x80000000u; break;
	case NB_ZERO: *nb = 0; break;
	default: *nb = 2; break;
	}
}

/* Entries 0..n-1 as given; the path must take exactly the clean batches before the first unclean one. */
static bool run_case(enum virtq_simd s, bool mrg, const uint32_t *id, const uint32_t *len, const uint16_t *nb,
		     const bool *used, unsigned n)
{
	struct unic_buf *out[SIZE];
	unsigned w = batch_of(s), expect = 0, i, untouched = 0;
	uint64_t bytes = 0, want = 0;
	uint16_t got;
	bool clean = true;

	if (!fresh(s, mrg, false))
		return false;
	dev_used = 0;
	for (i = 0; i < n; i++)
		dev_put_flags(id[i], len[i], nb[i], used[i]);
	for (i = 0; i + w <= n && clean; i += w) {
		unsigned j;
		for (j = i; j < i + w; j++)
			clean = clean && entry_clean((uint16_t)j, id[j], len[j], nb[j], mrg, used[j]);
		if (clean) {
			expect = i + w;
			for (j = i; j < i + w; j++)
				want += len[j] - HDR;
		}
	}
	got = virtq_rxv_get(&vq, &rxv, out, (uint16_t)n, &bytes);
	for (i = expect; i < SIZE; i++) /* the rest is the scalar path's, as the device left it */
		untouched += vq.slot[i].token != &bufs[i] || bufs[i].len != LEN_UNTOUCHED;
	return got == expect && bytes == want && untouched == 0 && used_pos() == (packed_ring ? expect % SIZE : expect) &&
	       vq.in_flight == SIZE - expect && vq.num_free == expect;
}

static void test_bad(enum virtq_simd s)
{
	uint32_t id[16], len[16];
	uint16_t nb[16];
	bool used[16];
	unsigned b, at, i, wrong = 0, cases = 0;

	for (b = 0; b < NBAD; b++) {
		unsigned wrong_b = 0;
		if (b == NOT_USED && !packed_ring)
			continue;
		for (at = 0; at < 16; at++) {
			for (i = 0; i < 16; i++) {
				id[i] = i;
				len[i] = HDR + 64;
				nb[i] = 1;
				used[i] = true;
			}
			bad_entry((enum bad)b, (uint16_t)at, &id[at], &len[at], &nb[at], &used[at]);
			/* with MRG_RXBUF, and without (num_buffers is then not looked at) */
			wrong_b += !run_case(s, true, id, len, nb, used, 16);
			wrong_b += !run_case(s, false, id, len, nb, used, 16);
			cases += 2;
		}
		if (wrong_b)
			printf("FAIL %s %s: %s: %u of 32 cases\n", ring_name(), virtq_simd_name(s), bad_name[b], wrong_b);
		wrong += wrong_b;
	}
	CHECK(wrong == 0);
	printf("%s %s: %u cases of one bad entry (%u kinds x 16 places x MRG_RXBUF on/off): the batch left whole\n",
	       ring_name(), virtq_simd_name(s), cases, cases / 32);
}

/* Random entries, mostly clean: the path agrees with the reference on every one. */
static void test_random(enum virtq_simd s)
{
	uint32_t id[SIZE], len[SIZE];
	uint16_t nb[SIZE];
	bool used[SIZE];
	unsigned t, i, wrong = 0, taken = 0;

	srand(4242 + s + 16 * packed_ring);
	for (t = 0; t < 3000; t++) {
		unsigned n = 1 + (unsigned)rand() % SIZE;
		for (i = 0; i < n; i++) {
			unsigned r = (unsigned)rand() % 64;
			id[i] = r == 0 ? (unsigned)rand() : r == 1 ? i ^ 1u : i;
			len[i] = r == 2 ? (unsigned)rand() % (BUF_LEN + 8) : r == 3 ? HDR : HDR + 1 + (unsigned)rand() % (BUF_LEN - HDR);
			nb[i] = r == 4 ? (uint16_t)rand() : 1;
			used[i] = r != 5;
		}
		wrong += !run_case(s, t & 1, id, len, nb, used, n);
		taken += SIZE - vq.in_flight;
	}
	CHECK(wrong == 0);
	CHECK(taken > 0);
	printf("%s %s: 3000 random used rings agree with the reference (%u entries taken by the vector path)\n",
	       ring_name(), virtq_simd_name(s), taken);
}

/* Short tails and the ring's end go to the scalar path; a used index that lies gives nothing. */
static void test_tail_wrap(enum virtq_simd s)
{
	struct unic_buf *out[SIZE], *b[SIZE];
	unsigned w = batch_of(s), i;
	uint64_t bytes = 0;
	uint16_t got;

	CHECK(fresh(s, false, true));
	dev_used = 0;
	for (i = 0; i < w - 1; i++)
		dev_put(i, HDR + 10, 1);
	CHECK(virtq_rxv_get(&vq, &rxv, out, SIZE, &bytes) == 0); /* a tail of w - 1: scalar */

	CHECK(fresh(s, false, true));
	dev_used = 0;
	for (i = 0; i < SIZE - 8; i++)
		dev_put(i, HDR + 10, 1);
	CHECK(virtq_rxv_get(&vq, &rxv, out, SIZE, &bytes) == SIZE - 8);
	for (i = 0; i < SIZE - 8; i++)
		b[i] = &bufs[SIZE + i % SIZE];
	virtq_rxv_put(&vq, b, SIZE - 8, UNIC_HEADROOM - HDR); /* slots 56..63 still the device's, 0..55 new */
	CHECK(vq.slot[0].token == &bufs[SIZE] && vq.slot[SIZE - 9].token == &bufs[2 * SIZE - 9] &&
	      vq.slot[SIZE - 1].token == &bufs[SIZE - 1]);
	for (i = 0; i < 16; i++)
		dev_put((SIZE - 8 + i) % SIZE, HDR + 10, 1);
	got = virtq_rxv_get(&vq, &rxv, out, 16, &bytes);
	CHECK(got == 8 && out[7] == &bufs[SIZE - 1]); /* up to the end of the ring */
	got = virtq_rxv_get(&vq, &rxv, out, 16, &bytes);
	CHECK(got == 8 && out[0] == &bufs[SIZE] && out[0]->len == 10); /* then from slot 0 */

	if (packed_ring)
		return;
	CHECK(fresh(s, false, true));
	vq.used[1] = SIZE + 1; /* more than the device holds */
	CHECK(virtq_rxv_get(&vq, &rxv, out, SIZE, &bytes) == 0 && vq.last_used == 0 && vq.in_flight == SIZE);
}

/* virtq_rxv_check after the scalar path: ordered mode kept, or left with a right free list. */
static void test_check(enum virtq_simd s)
{
	void *tok[4];
	uint32_t len[4];
	struct unic_buf *b[3] = { &bufs[SIZE], &bufs[SIZE + 1], &bufs[SIZE + 2] };
	struct virtq_put put;
	uint64_t bytes = 0;
	struct unic_buf *out[4];
	unsigned i, wrong = 0;

	CHECK(fresh(s, false, true));
	dev_used = 0;
	dev_put(1, HDR + 10, 1); /* the two oldest, swapped: ordered still holds */
	dev_put(0, HDR + 10, 1);
	CHECK(virtq_rxv_get(&vq, &rxv, out, 2, &bytes) == 0);
	CHECK(virtq_get_batch(&vq, tok, len, 2) == 2 && tok[0] == &bufs[1] && tok[1] == &bufs[0]);
	CHECK(virtq_rxv_check(&vq, &rxv, 0, 2) && rxv.simd == s);
	dev_put(5, HDR + 10, 1); /* slot 5 before slot 2: not the oldest */
	CHECK(virtq_get_batch(&vq, tok, len, 4) == 1 && tok[0] == &bufs[5]);
	CHECK(!virtq_rxv_check(&vq, &rxv, 2, 1) && rxv.simd == VIRTQ_SIMD_NONE);
	/* scalar from now on: the free list offers slots 0, 1 and 5, and nothing else */
	CHECK(vq.num_free == 3);
	virtq_put_begin(&vq, &put);
	for (i = 0; i < 3; i++)
		virtq_put(&vq, &put, (uintptr_t)b[i]->room, 100, true, b[i]);
	virtq_put_end(&vq, &put);
	for (i = 0; i < SIZE; i++)
		wrong += vq.slot[i].token == NULL || ((i == 0 || i == 1 || i == 5) != (vq.slot[i].token >= (void *)&bufs[SIZE]));
	CHECK(wrong == 0 && vq.num_free == 0 && vq.in_flight == SIZE);
}

int main(void)
{
	static const enum virtq_simd paths[] = { VIRTQ_SIMD_SSE42, VIRTQ_SIMD_AVX2 };
	enum virtq_simd cpu;
	unsigned p, r, ran = 0;

	unsetenv("UNIC_SIMD");
	cpu = virtq_simd_level();
	for (r = 0; r < 2; r++)
		for (p = 0; p < UNIC_ARRAY_SIZE(paths); p++) {
			enum virtq_simd s = paths[p];
			packed_ring = r;
			if (s > cpu) {
				printf("%s: not on this CPU\n", virtq_simd_name(s));
				continue;
			}
			test_layout(s);
			test_clean(s, false);
			test_clean(s, true);
			test_bad(s);
			test_random(s);
			test_tail_wrap(s);
			test_check(s);
			ran++;
		}
	/* the scalar choice: no ordered mode, the queue stays as virtq_init left it */
	virtq_fini(&vq);
	CHECK(virtq_init(&vq, 0, SIZE, false, true, false, ring_mem, (uintptr_t)ring_mem, 4) == 0);
	virtq_rxv_init(&vq, &rxv, VIRTQ_SIMD_NONE);
	CHECK(rxv.simd == VIRTQ_SIMD_NONE && vq.avail[VRING_AVAIL_RING + 1] == 0);
	/* VIRTIO_F_IN_ORDER: no ordered mode on either ring whatever the CPU runs (the in-order rules take over) */
	for (r = 0; r < 2; r++) {
		virtq_fini(&vq);
		CHECK(virtq_init(&vq, 0, SIZE, r, true, true, ring_mem, (uintptr_t)ring_mem, 4) == 0);
		virtq_rxv_init(&vq, &rxv, VIRTQ_SIMD_AVX2);
		CHECK(rxv.simd == VIRTQ_SIMD_NONE && vq.slot[1].writable == 0);
	}
	setenv("UNIC_SIMD", "none", 1);
	CHECK(virtq_simd_level() == VIRTQ_SIMD_NONE);
	setenv("UNIC_SIMD", "sse4.2", 1);
	CHECK(virtq_simd_level() == (cpu < VIRTQ_SIMD_SSE42 ? cpu : VIRTQ_SIMD_SSE42));
	virtq_fini(&vq);
	printf("vector rx paths tested: %u, split and packed (this CPU: %s)\n", ran, virtq_simd_name(cpu));
	return check_summary("virtio_rxvec");
}
