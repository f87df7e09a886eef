/*
 * test_af_xdp_ring: the af_xdp backend's checks on what the kernel writes into its rings
 * (src/backends/af_xdp/xsk_ring.h), against a fake ring whose "kernel" side lies: indices that
 * move back, run past what unic produced or more than a ring ahead (also across the 2^32
 * wrap), addresses outside the UMEM, between rooms, past the pool's last buffer, naming a
 * buffer the ring does not hold (or holds no longer), and lengths that do not fit the room.
 */
#include <stdlib.h>

#include "check.h"
#include "../../src/backends/af_xdp/xsk_ring.h"

#define RING 8u
#define PAGE_SHIFT 12                 /* 4 KiB pool pages */
#define ROOM 2176u                    /* UNIC_HEADROOM + 2048: one room per 4 KiB page */
#define ENTRIES 5u                    /* five rooms: pages 0..4 */
#define RANDOM_ROUNDS 200000

static _Atomic uint32_t prod, cons, flags;
static uint64_t descs[RING];

static void ring_init(struct xsk_ring *r, uint32_t start)
{
	memset(r, 0, sizeof *r);
	r->producer = &prod;
	r->consumer = &cons;
	r->flags = &flags;
	r->descs = descs;
	r->size = RING;
	r->mask = RING - 1;
	r->head = r->seen = start;
	atomic_store(&prod, start);
	atomic_store(&cons, start);
}

/* A ring unic fills (fill, tx): the kernel's consumer index. */
static void test_prod_ring(uint32_t start)
{
	struct xsk_ring r;

	ring_init(&r, start);
	CHECK(xsk_prod_free(&r) == RING);
	xsk_prod_submit(&r, 6);
	CHECK(atomic_load(&prod) == start + 6);
	CHECK(xsk_prod_free(&r) == RING - 6);
	atomic_store(&cons, start + 4);       /* consumed 4 */
	CHECK(xsk_prod_free(&r) == RING - 2);
	CHECK(xsk_prod_pending(&r) == 2);
	atomic_store(&cons, start + 3);       /* moves back */
	CHECK(xsk_prod_free(&r) == -1);
	atomic_store(&cons, start + 7);       /* past what unic produced */
	CHECK(xsk_prod_free(&r) == -1);
	atomic_store(&cons, start + 6 - 0x80000000u); /* far away */
	CHECK(xsk_prod_free(&r) == -1);
	atomic_store(&cons, start + 6);       /* all consumed: still fine after the lies */
	CHECK(xsk_prod_free(&r) == RING);
	CHECK(xsk_prod_pending(&r) == 0);
}

/* A ring unic reads (rx, completion): the kernel's producer index. */
static void test_cons_ring(uint32_t start)
{
	struct xsk_ring r;

	ring_init(&r, start);
	CHECK(xsk_cons_avail(&r) == 0);
	atomic_store(&prod, start + 5);
	CHECK(xsk_cons_avail(&r) == 5);
	xsk_cons_release(&r, 3);
	CHECK(atomic_load(&cons) == start + 3);
	CHECK(xsk_cons_avail(&r) == 2);
	atomic_store(&prod, start + 4);       /* moves back */
	CHECK(xsk_cons_avail(&r) == -1);
	atomic_store(&prod, start + 3 + RING + 1); /* more than a ring ahead of unic */
	CHECK(xsk_cons_avail(&r) == -1);
	atomic_store(&prod, start + 3 + RING); /* exactly a ring ahead: allowed */
	CHECK(xsk_cons_avail(&r) == RING);
	atomic_store(&prod, start - 1);       /* far behind (wraps) */
	CHECK(xsk_cons_avail(&r) == -1);
}

static const struct xsk_umem_map map = {
	.size = (uint64_t)ENTRIES << PAGE_SHIFT,
	.page_shift = PAGE_SHIFT,
	.per_page = 1,
	.room_size = ROOM,
	.num_entries = ENTRIES,
};

static uint64_t room_addr(uint32_t idx)
{
	return (uint64_t)idx << PAGE_SHIFT;
}

static void test_rx_desc(void)
{
	uint8_t owned[ENTRIES] = { 0 };
	uint32_t off = 0;
	int64_t bad;

	held_put(owned, 2);
	/* the kernel's unaligned-mode form: base | offset << 48, data at base + offset */
	CHECK(xsk_rx_check(&map, owned, room_addr(2) | (256ull << XSK_UNALIGNED_BUF_OFFSET_SHIFT), 60, &off, &bad) == 2);
	CHECK(off == 256 && bad == -1);
	CHECK(xsk_rx_check(&map, owned, room_addr(2) + 256, 60, &off, &bad) == -1); /* handed back twice */
	CHECK(bad == -1);
	CHECK(xsk_rx_check(&map, owned, room_addr(3) + 256, 60, &off, &bad) == -1); /* never handed over */
	held_put(owned, 3);
	CHECK(xsk_rx_check(&map, owned, room_addr(ENTRIES) + 256, 60, &off, &bad) == -1); /* past the UMEM */
	CHECK(xsk_rx_check(&map, owned, room_addr(3) + ROOM + 8, 60, &off, &bad) == -1); /* between rooms */
	CHECK(xsk_rx_check(&map, owned, ~0ull, 60, &off, &bad) == -1);
	CHECK(owned[3]); /* the lies above left the held buffer alone */
	CHECK(xsk_rx_check(&map, owned, room_addr(3) + 256, ROOM - 256 + 1, &off, &bad) == -1); /* too long */
	CHECK(bad == 3 && !owned[3]); /* released: the caller frees it */
	held_put(owned, 4);
	CHECK(xsk_rx_check(&map, owned, room_addr(4) + 256, 0, &off, &bad) == -1 && bad == 4); /* empty */
	held_put(owned, 1);
	CHECK(xsk_rx_check(&map, owned, room_addr(1) + 256, ROOM - 256, &off, &bad) == 1); /* fills the room */
}

static void test_completion(void)
{
	uint8_t owned[ENTRIES] = { 0 };

	held_put(owned, 0);
	held_put(owned, 4);
	CHECK(xsk_comp_check(&map, owned, room_addr(4) + 128) == 4);
	CHECK(xsk_comp_check(&map, owned, room_addr(4) + 128) == -1); /* completed twice */
	CHECK(xsk_comp_check(&map, owned, room_addr(1) + 128) == -1); /* never sent */
	CHECK(xsk_comp_check(&map, owned, room_addr(ENTRIES)) == -1);
	CHECK(xsk_comp_check(&map, owned, room_addr(0) + ROOM) == -1); /* after the room, in the page's tail */
	CHECK(xsk_comp_check(&map, owned, room_addr(0)) == 0);
}

/* Random addresses and lengths: whatever is accepted is a held buffer and fits its room. */
static void test_random(void)
{
	uint8_t owned[ENTRIES];
	unsigned i, j, accepted = 0, bad_ok = 1;

	srand(13);
	for (i = 0; i < RANDOM_ROUNDS; i++) {
		uint64_t addr = ((uint64_t)rand() << 31 ^ (uint64_t)rand()) % (map.size + 8192);
		uint32_t len = (uint32_t)rand() % (ROOM + 64), off = 0;
		int64_t bad, idx;

		if (rand() & 1)
			addr = ((addr & ~0xfffull) % map.size) | ((uint64_t)(rand() % 512) << XSK_UNALIGNED_BUF_OFFSET_SHIFT);
		for (j = 0; j < ENTRIES; j++)
			owned[j] = (uint8_t)(rand() & 1);
		idx = xsk_rx_check(&map, owned, addr, len, &off, &bad);
		if (idx >= 0) {
			accepted++;
			bad_ok &= idx < ENTRIES && len > 0 && off + len <= ROOM &&
				  room_addr((uint32_t)idx) + off == xsk_addr_flat(addr);
		} else if (bad >= 0) {
			bad_ok &= bad < ENTRIES;
		}
	}
	CHECK(bad_ok);
	CHECK(accepted > 0);
}

int main(void)
{
	test_prod_ring(0);
	test_prod_ring(UINT32_MAX - 3); /* the free-running indices wrap inside the test */
	test_cons_ring(0);
	test_cons_ring(UINT32_MAX - 2);
	test_rx_desc();
	test_completion();
	test_random();
	return check_summary("test_af_xdp_ring");
}
