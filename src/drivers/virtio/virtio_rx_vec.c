/*
 * virtio_rx_vec.c - the vector receive path of the split (spec 2.7) and packed (2.8)
 * rings: used entries 4 (SSE4.2) or 8 (AVX2) at a time, chosen once per queue from the
 * CPU's features.
 *
 * "Ordered mode": receive buffer k of the ring always sits in slot k mod size: the split
 * ring's descriptor k (and the available ring holds slot i at position i, written once),
 * the packed ring's descriptor k with buffer id k. While the device hands buffers back in
 * the order it got them (every rx device seen does: DPDK's vhost, QEMU, vhost-net) the
 * buffers it holds are the slots [first used, first used + in_flight) and the next used
 * entry must name the slot of its position. So one vector compare of the ids against the
 * slots they must be checks every id (in range, given, not repeated) and one unsigned
 * compare checks every length (more than the header, at most the buffer); with
 * MRG_RXBUF each header's num_buffers must be 1; packed: every descriptor's flags must
 * say used for this lap (2.8.1) before its id and length are read. A batch that passes is
 * taken whole: tokens copied out, slots cleared, lengths written into the buffers.
 * Refilling writes only what the device needs anew (split: the address; packed: the
 * descriptor, whose flags publish it as virtq_put's do).
 *
 * Anything else - a length out of range, an id out of order, a short tail, the end of
 * the ring - is left to the scalar path (virtq_get_batch, rx_frame), which reads the
 * entries itself and counts, drops or breaks exactly as without the vector path. After
 * it, virtq_rxv_check looks at private state only: the slots it took must be exactly
 * the first got ones. If the device used buffers out of order, the queue leaves ordered
 * mode for good (its free list is rebuilt from the tokens) and is scalar from then on.
 *
 * The kernels are compiled with target attributes: the library keeps its baseline
 * flags and a CPU without SSE4.2 never runs them. UNIC_SIMD=none|sse4.2|avx2 caps the
 * choice (tests run every path on one machine).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define RXV_X86 1
#endif

#define USED_IDX 1                /* spec 2.7.8: used->idx after flags (uint16_t units) */
#define USED_HDR_BYTES 4u         /* flags and idx in front of the used elements */
#define VIRTIO_NET_HDR_NUM_BUFFERS 10 /* spec 5.1.6: le16 num_buffers at byte 10 of the header */
#define SSE_BATCH 4               /* used entries per 128-bit step: two 16-byte loads */
#define AVX2_BATCH 8              /* used entries per 256-bit step */

static const char *const simd_names[] = { "scalar", "sse4.2", "avx2" };

const char *virtq_simd_name(enum virtq_simd s)
{
	return s < UNIC_ARRAY_SIZE(simd_names) ? simd_names[s] : "?";
}

/* What the CPU runs (cpuid, once per call: control path). */
static enum virtq_simd cpu_simd(void)
{
#ifdef RXV_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		return VIRTQ_SIMD_AVX2;
	if (__builtin_cpu_supports("sse4.2"))
		return VIRTQ_SIMD_SSE42;
#endif
	return VIRTQ_SIMD_NONE;
}

enum virtq_simd virtq_simd_level(void)
{
	enum virtq_simd cpu = cpu_simd(), cap = VIRTQ_SIMD_AVX2;
	const char *v = getenv("UNIC_SIMD");

	if (v && v[0]) {
		if (!strcmp(v, "none") || !strcmp(v, "scalar") || !strcmp(v, "0"))
			cap = VIRTQ_SIMD_NONE;
		else if (!strcmp(v, "sse4.2") || !strcmp(v, "sse"))
			cap = VIRTQ_SIMD_SSE42;
		else if (strcmp(v, "avx2"))
			UNIC_WARN("UNIC_SIMD=%s: not one of none, sse4.2, avx2; using what the CPU has", v);
	}
	return cpu < cap ? cpu : cap;
}

static inline volatile struct vring_used_elem *used_ring(const struct virtq *vq)
{
	return (volatile struct vring_used_elem *)((volatile uint8_t *)vq->used + USED_HDR_BYTES);
}

void virtq_rxv_init(struct virtq *vq, struct virtq_rxv *p, enum virtq_simd s)
{
	uint16_t i;

	/*
	 * an empty queue only, of 2^n slots: slots are free from position 0 on; not in order
	 * (VIRTIO_F_IN_ORDER: a used entry may stand for a batch, and ids go out by the in-order rules)
	 */
	if (s == VIRTQ_SIMD_NONE || vq->in_order || vq->in_flight || vq->avail_idx || vq->last_used || vq->next_avail ||
	    vq->used_pos || (vq->size & (vq->size - 1))) {
		p->simd = VIRTQ_SIMD_NONE;
		return;
	}
	p->simd = (uint8_t)s;
	for (i = 0; i < vq->size; i++) {
		vq->slot[i].chain = 1;
		vq->slot[i].writable = p->buf_len;
		if (vq->packed) /* 2.8: the device writes a used descriptor over each: all is written per buffer */
			continue;
		vq->desc[i].len = p->buf_len;
		vq->desc[i].flags = VRING_DESC_F_WRITE;
		vq->desc[i].next = 0;
		vq->avail[VRING_AVAIL_RING + i] = i; /* 2.7.6: position i offers slot i, for good */
	}
}

/*
 * Packed: buffer id = ring position; as virtq_put does, the batch's first descriptor
 * gets its flags in virtq_kick (2.8.21), the others after a write barrier.
 */
static void packed_put(struct virtq *vq, struct unic_buf *const *bufs, uint16_t n, uint32_t data_off, uint32_t len)
{
	volatile struct vring_packed_desc *ring = vq->pdesc;
	struct virtq_slot *slot = vq->slot;
	uint16_t i, pos = vq->next_avail, size = vq->size, flags = VRING_DESC_F_WRITE | vq->avail_flags;
	bool hold_first = vq->added == 0;

	for (i = 0; i < n; i++) {
		volatile struct vring_packed_desc *d = &ring[pos];
		d->addr = bufs[i]->room_iova + data_off;
		d->len = len;
		d->id = pos;
		if (unic_unlikely(hold_first)) {
			hold_first = false;
			vq->pending_pos = pos;
			vq->pending_flags = flags;
		} else {
			unic_wmb();
			d->flags = flags;
		}
		slot[pos].token = bufs[i];
		if (unic_unlikely(++pos == size)) {
			pos = 0;
			flags ^= VRING_PACKED_DESC_F_AVAIL_USED; /* 2.8.1: the wrap counter flips */
		}
	}
	vq->next_avail = pos;
	vq->avail_flags = (uint16_t)(flags & VRING_PACKED_DESC_F_AVAIL_USED);
	vq->added = (uint16_t)(vq->added + n);
}

/*
 * Split: m buffers into the slots from d and t on. Plain stores into the descriptors: the
 * device reads them only once virtq_kick's barrier has published the available index.
 */
static inline void split_fill(volatile struct vring_desc *d, struct virtq_slot *t, struct unic_buf *const *bufs,
			      uint16_t m, uint32_t data_off)
{
	struct vring_desc *pd = (struct vring_desc *)(uintptr_t)d;
	uint16_t i;

#pragma GCC unroll 4
	for (i = 0; i < m; i++) {
		struct unic_buf *b = bufs[i];
		pd[i].addr = b->room_iova + data_off;
		t[i].token = b;
	}
}

void virtq_rxv_put(struct virtq *vq, struct unic_buf *const *bufs, uint16_t n, uint32_t data_off)
{
	volatile struct vring_desc *desc = vq->desc;
	struct virtq_slot *ids = vq->slot;
	uint16_t slot = vq->avail_idx & (uint16_t)(vq->size - 1), left = n;

	if (vq->packed) {
		packed_put(vq, bufs, n, data_off, vq->slot[0].writable);
		vq->num_free = (uint16_t)(vq->num_free - n);
		vq->in_flight = (uint16_t)(vq->in_flight + n);
		return;
	}
	while (left) { /* slots up to the end of the ring, then from 0 */
		uint16_t m = (uint16_t)(vq->size - slot) < left ? (uint16_t)(vq->size - slot) : left;
		split_fill(desc + slot, ids + slot, bufs, m, data_off);
		bufs += m;
		left = (uint16_t)(left - m);
		slot = 0;
	}
	vq->avail_idx = (uint16_t)(vq->avail_idx + n);
	vq->added = (uint16_t)(vq->added + n);
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->in_flight = (uint16_t)(vq->in_flight + n);
}

/* The queue leaves ordered mode: the free list is made of the slots no buffer holds. */
static void leave_ordered(struct virtq *vq, struct virtq_rxv *p)
{
	uint16_t i = vq->size;

	p->simd = VIRTQ_SIMD_NONE;
	vq->free_head = vq->size; /* end of the list; num_free keeps anyone from following it */
	while (i-- > 0)
		if (!vq->slot[i].token) {
			vq->slot[i].next = vq->free_head;
			vq->free_head = i;
		}
}

bool virtq_rxv_check(struct virtq *vq, struct virtq_rxv *p, uint16_t first, uint16_t got)
{
	uint16_t mask = (uint16_t)(vq->size - 1), i;

	/*
	 * got distinct buffers were taken (take() clears a token, and a cleared one fails
	 * used_ok) from the slots [first, first + in_flight) that held them all: they are
	 * exactly the first got slots when those are all empty now.
	 */
	for (i = 0; i < got; i++)
		if (vq->slot[(uint16_t)(first + i) & mask].token) {
			leave_ordered(vq, p);
			return false;
		}
	return true;
}

/* The checked entries k..k+batch-1 are taken: the ring's private state as take() leaves it. */
static inline void commit(struct virtq *vq, uint16_t k)
{
	if (vq->packed) {
		vq->in_flight = (uint16_t)(vq->in_flight - k);
		vq->num_free = (uint16_t)(vq->num_free + k);
		vq->used_pos = (uint16_t)(vq->used_pos + k);
		if (vq->used_pos == vq->size) { /* batches stop at the ring's end: never past it */
			vq->used_pos = 0;
			vq->used_wrap = !vq->used_wrap;
		}
		return;
	}
	vq->last_used = (uint16_t)(vq->last_used + k);
	vq->in_flight = (uint16_t)(vq->in_flight - k);
	vq->num_free = (uint16_t)(vq->num_free + k);
	if (vq->event_idx) /* 2.7.10: as split_get, used_event stays one behind: no interrupts */
		vq->avail[VRING_AVAIL_RING + vq->size] = (uint16_t)(vq->last_used - 1);
}

/* With MRG_RXBUF: non-zero unless every header of the batch says num_buffers 1 (read once). */
static inline uint32_t numbuf_bad(struct unic_buf *const *b, unsigned n, uint16_t hdr_len)
{
	uint32_t bad = 0;
	unsigned i;

#pragma GCC unroll 8
	for (i = 0; i < n; i++) {
		uint16_t nb;
		memcpy(&nb, b[i]->room + UNIC_HEADROOM - hdr_len + VIRTIO_NET_HDR_NUM_BUFFERS, sizeof nb);
		bad |= nb ^ 1u;
	}
	return bad;
}

/* Frame length and queue into each buffer; data_off and rss_hash are as allocation left them. */
static inline void finish(struct unic_buf *const *b, const uint32_t *len, unsigned n, uint16_t qid)
{
	unsigned i;

#pragma GCC unroll 8
	for (i = 0; i < n; i++) {
		b[i]->len = (uint16_t)len[i];
		b[i]->rx_queue = qid;
	}
}

/* Used entries the device says it has: 0 when it claims more than it holds (the scalar path breaks the queue). */
static inline uint16_t pending(const struct virtq *vq, uint16_t n)
{
	uint16_t p = (uint16_t)(vq->used[USED_IDX] - vq->last_used);

	if (p > vq->in_flight)
		return 0;
	unic_rmb(); /* the index before the elements (2.7.14) */
	return n < p ? n : p;
}

/* The batch's slots give their buffers up (take() does the same one at a time). */
static inline void clear_tokens(struct virtq_slot *s, unsigned n)
{
	unsigned i;

#pragma GCC unroll 8
	for (i = 0; i < n; i++)
		s[i].token = NULL;
}

#ifdef RXV_X86
/* The token is the first 8 bytes of each 16-byte slot: one 128-bit load per slot, pairs of tokens unpacked. */
_Static_assert(sizeof(struct virtq_slot) == 16 && offsetof(struct virtq_slot, token) == 0 && sizeof(void *) == 8,
	       "the token loads below take a slot's first 8 bytes");

/* The tokens of 4 slots in order into out. */
__attribute__((target("sse4.2"))) static inline void tokens4(const struct virtq_slot *s, struct unic_buf **out)
{
	__m128i s0 = _mm_loadu_si128((const __m128i *)&s[0]), s1 = _mm_loadu_si128((const __m128i *)&s[1]);
	__m128i s2 = _mm_loadu_si128((const __m128i *)&s[2]), s3 = _mm_loadu_si128((const __m128i *)&s[3]);

	_mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi64(s0, s1));
	_mm_storeu_si128((__m128i *)(out + 2), _mm_unpacklo_epi64(s2, s3));
}

/*
 * The tokens of 8 slots in order into out: slots 0 and 2 in one 256-bit value, 1 and 3 in
 * another (each half its own 128-bit load, as an unaligned 256-bit load is anyway), so
 * one unpack per 4 tokens puts them in order.
 */
__attribute__((target("avx2"))) static inline void tokens8(const struct virtq_slot *s, struct unic_buf **out)
{
	__m256i s02 = _mm256_loadu2_m128i((const __m128i *)&s[2], (const __m128i *)&s[0]);
	__m256i s13 = _mm256_loadu2_m128i((const __m128i *)&s[3], (const __m128i *)&s[1]);
	__m256i s46 = _mm256_loadu2_m128i((const __m128i *)&s[6], (const __m128i *)&s[4]);
	__m256i s57 = _mm256_loadu2_m128i((const __m128i *)&s[7], (const __m128i *)&s[5]);

	_mm256_storeu_si256((__m256i *)out, _mm256_unpacklo_epi64(s02, s13));
	_mm256_storeu_si256((__m256i *)(out + 4), _mm256_unpacklo_epi64(s46, s57));
}

__attribute__((target("sse4.2"))) static uint16_t get_sse(struct virtq *vq, const struct virtq_rxv *p,
							   struct unic_buf **out, uint16_t n, uint64_t *bytes)
{
	volatile struct vring_used_elem *ring = used_ring(vq);
	const __m128i step = _mm_setr_epi32(0, 1, 2, 3), lo = _mm_set1_epi32(p->hdr_len + 1);
	const __m128i span = _mm_set1_epi32((int)(p->buf_len - p->hdr_len - 1u)), hdr = _mm_set1_epi32(p->hdr_len);
	__m128i sum = _mm_setzero_si128();
	uint16_t k = 0, slot = vq->last_used & (uint16_t)(vq->size - 1);
	uint32_t len[SSE_BATCH];

	n = pending(vq, n);
	while (n - k >= SSE_BATCH && slot + SSE_BATCH <= vq->size) {
		__m128i e01 = _mm_loadu_si128((const __m128i *)(uintptr_t)&ring[slot]);
		__m128i e23 = _mm_loadu_si128((const __m128i *)(uintptr_t)&ring[slot + 2]);
		__m128i ids, lens, off, bad;

		/* read once: the checked values are the ones used, never a second read of the ring */
		__asm__ volatile("" : "+x"(e01), "+x"(e23));
		ids = _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(e01), _mm_castsi128_ps(e23), _MM_SHUFFLE(2, 0, 2, 0)));
		lens = _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(e01), _mm_castsi128_ps(e23), _MM_SHUFFLE(3, 1, 3, 1)));
		/* id == its slot; header < len <= buffer: len - (hdr + 1) <= buf_len - hdr - 1, unsigned */
		off = _mm_sub_epi32(lens, lo);
		bad = _mm_or_si128(_mm_xor_si128(ids, _mm_add_epi32(_mm_set1_epi32(slot), step)),
				   _mm_xor_si128(_mm_min_epu32(off, span), off));
		if (!_mm_testz_si128(bad, bad))
			break;
		tokens4(vq->slot + slot, out + k);
		if (p->mrg_rxbuf && numbuf_bad(out + k, SSE_BATCH, p->hdr_len))
			break;
		clear_tokens(vq->slot + slot, SSE_BATCH);
		lens = _mm_sub_epi32(lens, hdr);
		sum = _mm_add_epi32(sum, lens); /* per lane at most 16384 x 65535: no overflow */
		_mm_storeu_si128((__m128i *)len, lens);
		finish(out + k, len, SSE_BATCH, p->qid);
		k += SSE_BATCH;
		slot += SSE_BATCH;
	}
	sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
	sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
	*bytes += (uint32_t)_mm_cvtsi128_si32(sum);
	commit(vq, k);
	return k;
}

__attribute__((target("avx2"))) static uint16_t get_avx2(struct virtq *vq, const struct virtq_rxv *p,
							  struct unic_buf **out, uint16_t n, uint64_t *bytes)
{
	volatile struct vring_used_elem *ring = used_ring(vq);
	const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), lo = _mm256_set1_epi32(p->hdr_len + 1);
	const __m256i span = _mm256_set1_epi32((int)(p->buf_len - p->hdr_len - 1u)), hdr = _mm256_set1_epi32(p->hdr_len);
	__m256i sum = _mm256_setzero_si256();
	__m128i s;
	uint16_t k = 0, slot = vq->last_used & (uint16_t)(vq->size - 1);
	uint32_t len[AVX2_BATCH];

	n = pending(vq, n);
	while (n - k >= AVX2_BATCH && slot + AVX2_BATCH <= vq->size) {
		__m256i e0 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&ring[slot]);
		__m256i e1 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&ring[slot + 4]);
		__m256i ids, lens, off, bad;

		__asm__ volatile("" : "+x"(e0), "+x"(e1)); /* read once, as in get_sse */
		/* per 128-bit lane: entries 0 1 4 5 | 2 3 6 7; the 64-bit permute puts them in order */
		ids = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(e0), _mm256_castsi256_ps(e1),
							    _MM_SHUFFLE(2, 0, 2, 0)));
		lens = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(e0), _mm256_castsi256_ps(e1),
							     _MM_SHUFFLE(3, 1, 3, 1)));
		ids = _mm256_permute4x64_epi64(ids, _MM_SHUFFLE(3, 1, 2, 0));
		lens = _mm256_permute4x64_epi64(lens, _MM_SHUFFLE(3, 1, 2, 0));
		off = _mm256_sub_epi32(lens, lo);
		bad = _mm256_or_si256(_mm256_xor_si256(ids, _mm256_add_epi32(_mm256_set1_epi32(slot), step)),
				      _mm256_xor_si256(_mm256_min_epu32(off, span), off));
		if (!_mm256_testz_si256(bad, bad))
			break;
		tokens8(vq->slot + slot, out + k);
		if (p->mrg_rxbuf && numbuf_bad(out + k, AVX2_BATCH, p->hdr_len))
			break;
		clear_tokens(vq->slot + slot, AVX2_BATCH);
		lens = _mm256_sub_epi32(lens, hdr);
		sum = _mm256_add_epi32(sum, lens); /* per lane at most 8192 x 65535: no overflow */
		_mm256_storeu_si256((__m256i *)len, lens);
		finish(out + k, len, AVX2_BATCH, p->qid);
		k += AVX2_BATCH;
		slot += AVX2_BATCH;
	}
	s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	*bytes += (uint32_t)_mm_cvtsi128_si32(s);
	commit(vq, k);
	return k;
}

/*
 * Packed (2.8): the device writes each used descriptor over the one it took, id and
 * length first, flags last (2.8.21). A batch is used when every flags has AVAIL and
 * USED equal to the used wrap counter; the descriptors are then read again for id and
 * length (x86 keeps loads in order; the compiler is kept from merging the two reads).
 * Batches stop at the ring's end, so the wrap counter is one for the whole call.
 */
#define PACKED_USED_BITS (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)
#define PACKED_FLAGS_SHIFT 16 /* flags above id in the id/flags word of a descriptor's high half */
#define PACKED_ID_MASK 0xffff

__attribute__((target("sse4.2"))) static inline __m128i packed_hi4(const volatile struct vring_packed_desc *d,
								    __m128i *lens)
{
	__m128i d0 = _mm_load_si128((const __m128i *)(uintptr_t)&d[0]);
	__m128i d1 = _mm_load_si128((const __m128i *)(uintptr_t)&d[1]);
	__m128i d2 = _mm_load_si128((const __m128i *)(uintptr_t)&d[2]);
	__m128i d3 = _mm_load_si128((const __m128i *)(uintptr_t)&d[3]);
	__m128i h01, h23;

	__asm__ volatile("" : "+x"(d0), "+x"(d1), "+x"(d2), "+x"(d3)); /* read once */
	h01 = _mm_unpackhi_epi64(d0, d1); /* len, id | flags << 16 of descriptors 0 and 1 */
	h23 = _mm_unpackhi_epi64(d2, d3);
	*lens = _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(h01), _mm_castsi128_ps(h23), _MM_SHUFFLE(2, 0, 2, 0)));
	return _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(h01), _mm_castsi128_ps(h23), _MM_SHUFFLE(3, 1, 3, 1)));
}

__attribute__((target("sse4.2"))) static uint16_t packed_sse(struct virtq *vq, const struct virtq_rxv *p,
							      struct unic_buf **out, uint16_t n, uint64_t *bytes)
{
	const __m128i step = _mm_setr_epi32(0, 1, 2, 3), lo = _mm_set1_epi32(p->hdr_len + 1);
	const __m128i span = _mm_set1_epi32((int)(p->buf_len - p->hdr_len - 1u)), hdr = _mm_set1_epi32(p->hdr_len);
	const __m128i fmask = _mm_set1_epi32(PACKED_USED_BITS << PACKED_FLAGS_SHIFT);
	const __m128i fwant = _mm_set1_epi32(vq->used_wrap ? PACKED_USED_BITS << PACKED_FLAGS_SHIFT : 0);
	const __m128i idmask = _mm_set1_epi32(PACKED_ID_MASK);
	__m128i sum = _mm_setzero_si128();
	uint16_t k = 0, pos = vq->used_pos;
	uint32_t len[SSE_BATCH];

	if (n > vq->in_flight)
		n = vq->in_flight;
	while (n - k >= SSE_BATCH && pos + SSE_BATCH <= vq->size) {
		__m128i lens, idf = packed_hi4(&vq->pdesc[pos], &lens), off, bad;

		if (!_mm_testz_si128(_mm_xor_si128(_mm_and_si128(idf, fmask), fwant), fmask))
			break; /* not all used yet */
		__asm__ volatile("" ::: "memory"); /* flags before id and len (2.8.21) */
		idf = packed_hi4(&vq->pdesc[pos], &lens);
		off = _mm_sub_epi32(lens, lo);
		bad = _mm_or_si128(_mm_xor_si128(_mm_and_si128(idf, idmask), _mm_add_epi32(_mm_set1_epi32(pos), step)),
				   _mm_xor_si128(_mm_min_epu32(off, span), off));
		if (!_mm_testz_si128(bad, bad))
			break;
		tokens4(vq->slot + pos, out + k);
		if (p->mrg_rxbuf && numbuf_bad(out + k, SSE_BATCH, p->hdr_len))
			break;
		clear_tokens(vq->slot + pos, SSE_BATCH);
		lens = _mm_sub_epi32(lens, hdr);
		sum = _mm_add_epi32(sum, lens);
		_mm_storeu_si128((__m128i *)len, lens);
		finish(out + k, len, SSE_BATCH, p->qid);
		k += SSE_BATCH;
		pos += SSE_BATCH;
	}
	sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
	sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
	*bytes += (uint32_t)_mm_cvtsi128_si32(sum);
	commit(vq, k);
	return k;
}

/* 8 descriptors: id | flags << 16 in order 0..7, their lengths in *lens. */
__attribute__((target("avx2"))) static inline __m256i packed_hi8(const volatile struct vring_packed_desc *d,
								  __m256i *lens)
{
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256i d01 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&d[0]);
	__m256i d23 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&d[2]);
	__m256i d45 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&d[4]);
	__m256i d67 = _mm256_loadu_si256((const __m256i *)(uintptr_t)&d[6]);
	__m256i ha, hb;

	__asm__ volatile("" : "+x"(d01), "+x"(d23), "+x"(d45), "+x"(d67)); /* read once */
	/* per 128-bit lane: descriptors 0 2 4 6 | 1 3 5 7; the permute puts them in order */
	ha = _mm256_unpackhi_epi64(d01, d23);
	hb = _mm256_unpackhi_epi64(d45, d67);
	*lens = _mm256_permutevar8x32_epi32(
		_mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(ha), _mm256_castsi256_ps(hb), _MM_SHUFFLE(2, 0, 2, 0))),
		order);
	return _mm256_permutevar8x32_epi32(
		_mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(ha), _mm256_castsi256_ps(hb), _MM_SHUFFLE(3, 1, 3, 1))),
		order);
}

__attribute__((target("avx2"))) static uint16_t packed_avx2(struct virtq *vq, const struct virtq_rxv *p,
							     struct unic_buf **out, uint16_t n, uint64_t *bytes)
{
	const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), lo = _mm256_set1_epi32(p->hdr_len + 1);
	const __m256i span = _mm256_set1_epi32((int)(p->buf_len - p->hdr_len - 1u)), hdr = _mm256_set1_epi32(p->hdr_len);
	const __m256i fmask = _mm256_set1_epi32(PACKED_USED_BITS << PACKED_FLAGS_SHIFT);
	const __m256i fwant = _mm256_set1_epi32(vq->used_wrap ? PACKED_USED_BITS << PACKED_FLAGS_SHIFT : 0);
	const __m256i idmask = _mm256_set1_epi32(PACKED_ID_MASK);
	__m256i sum = _mm256_setzero_si256();
	__m128i s;
	uint16_t k = 0, pos = vq->used_pos;
	uint32_t len[AVX2_BATCH];

	if (n > vq->in_flight)
		n = vq->in_flight;
	while (n - k >= AVX2_BATCH && pos + AVX2_BATCH <= vq->size) {
		__m256i lens, idf = packed_hi8(&vq->pdesc[pos], &lens), off, bad;

		if (!_mm256_testz_si256(_mm256_xor_si256(_mm256_and_si256(idf, fmask), fwant), fmask))
			break; /* not all used yet */
		__asm__ volatile("" ::: "memory"); /* flags before id and len (2.8.21) */
		idf = packed_hi8(&vq->pdesc[pos], &lens);
		off = _mm256_sub_epi32(lens, lo);
		bad = _mm256_or_si256(_mm256_xor_si256(_mm256_and_si256(idf, idmask),
						       _mm256_add_epi32(_mm256_set1_epi32(pos), step)),
				      _mm256_xor_si256(_mm256_min_epu32(off, span), off));
		if (!_mm256_testz_si256(bad, bad))
			break;
		tokens8(vq->slot + pos, out + k);
		if (p->mrg_rxbuf && numbuf_bad(out + k, AVX2_BATCH, p->hdr_len))
			break;
		clear_tokens(vq->slot + pos, AVX2_BATCH);
		lens = _mm256_sub_epi32(lens, hdr);
		sum = _mm256_add_epi32(sum, lens);
		_mm256_storeu_si256((__m256i *)len, lens);
		finish(out + k, len, AVX2_BATCH, p->qid);
		k += AVX2_BATCH;
		pos += AVX2_BATCH;
	}
	s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	*bytes += (uint32_t)_mm_cvtsi128_si32(s);
	commit(vq, k);
	return k;
}
#endif

uint16_t virtq_rxv_get(struct virtq *vq, const struct virtq_rxv *p, struct unic_buf **out, uint16_t n,
		       uint64_t *bytes)
{
	if (p->simd == VIRTQ_SIMD_NONE)
		return 0;
#ifdef RXV_X86
	if (vq->packed)
		return p->simd == VIRTQ_SIMD_AVX2 ? packed_avx2(vq, p, out, n, bytes) : packed_sse(vq, p, out, n, bytes);
	if (p->simd == VIRTQ_SIMD_AVX2)
		return get_avx2(vq, p, out, n, bytes);
	if (p->simd == VIRTQ_SIMD_SSE42)
		return get_sse(vq, p, out, n, bytes);
#else
	(void)vq;
	(void)p;
	(void)out;
	(void)n;
	(void)bytes;
#endif
	return 0;
}
