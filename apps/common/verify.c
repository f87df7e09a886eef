/* verify.c - sequence and checksum accounting for unic-pktgen frames, per flow (see verify.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/verify.h"

#define WORD_BITS 64u
#define SLOTS (2 * VERIFY_MAX_FLOWS) /* half full at most: short probe runs */
#define WINDOW_WORDS (VERIFY_FLOW_WINDOW / WORD_BITS)

int verify_init(struct verify *v)
{
	memset(v, 0, sizeof *v);
	v->flows = calloc(VERIFY_MAX_FLOWS, sizeof *v->flows);
	v->slots = calloc(SLOTS, sizeof *v->slots);
	if (v->flows && v->slots)
		return 0;
	verify_free(v);
	return -ENOMEM;
}

void verify_free(struct verify *v)
{
	uint32_t i;

	for (i = 0; v->flows && i < v->nflows; i++)
		free(v->flows[i].seen);
	free(v->flows);
	free(v->slots);
	v->flows = NULL;
	v->slots = NULL;
	v->nflows = 0;
}

void verify_flow_name(const struct pkt_flow_key *k, char *out, size_t len)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &k->src, src, sizeof src);
	inet_ntop(AF_INET, &k->dst, dst, sizeof dst);
	snprintf(out, len, "%s:%u>%s:%u", src, ntohs(k->sport), dst, ntohs(k->dport));
}

static uint32_t key_hash(const struct pkt_flow_key *k)
{
	uint64_t h = (uint64_t)k->src * 0x9e3779b97f4a7c15ull;

	h ^= ((uint64_t)k->dst << 32 | (uint32_t)k->sport << 16 | k->dport) * 0xc2b2ae3d27d4eb4full;
	return (uint32_t)(h >> 32);
}

static int key_eq(const struct pkt_flow_key *a, const struct pkt_flow_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport;
}

/* The flow of key; a new one when add and there is room, else NULL. */
static struct verify_flow *flow_of(struct verify *v, const struct pkt_flow_key *key, int add)
{
	uint32_t s = key_hash(key) % SLOTS;
	struct verify_flow *f;

	for (; v->slots[s]; s = (s + 1) % SLOTS)
		if (key_eq(&v->flows[v->slots[s] - 1].key, key))
			return &v->flows[v->slots[s] - 1];
	if (!add || v->nflows == VERIFY_MAX_FLOWS)
		return NULL;
	f = &v->flows[v->nflows];
	f->seen = calloc(WINDOW_WORDS, sizeof *f->seen);
	if (!f->seen)
		return NULL;
	f->key = *key;
	v->slots[s] = ++v->nflows;
	return f;
}

static uint64_t *word(struct verify_flow *f, uint64_t seq)
{
	return &f->seen[(seq % VERIFY_FLOW_WINDOW) / WORD_BITS];
}

static uint64_t bit(uint64_t seq)
{
	return 1ull << (seq % WORD_BITS);
}

/* Counts one frame of flow f in f's counts and in the total (t). */
static void sequence(struct verify_flow *f, struct verify_counts *t, uint64_t seq)
{
	uint64_t s;

	if (seq >= f->next) {
		/* A gap counts as lost until its frames turn up late. Forget what the window held there. */
		if (seq - f->next >= VERIFY_FLOW_WINDOW)
			memset(f->seen, 0, WINDOW_WORDS * sizeof *f->seen);
		else
			for (s = f->next; s < seq; s++)
				*word(f, s) &= ~bit(s);
		f->c.lost += seq - f->next;
		t->lost += seq - f->next;
		*word(f, seq) |= bit(seq);
		f->next = seq + 1;
	} else if (f->next - seq > VERIFY_FLOW_WINDOW) {
		f->c.reordered++; /* too old to tell: assume late, not a copy */
		t->reordered++;
		if (f->c.lost) {
			f->c.lost--;
			t->lost--;
		}
	} else if (*word(f, seq) & bit(seq)) {
		f->c.duplicated++;
		t->duplicated++;
	} else {
		*word(f, seq) |= bit(seq);
		f->c.reordered++;
		t->reordered++;
		f->c.lost--;
		t->lost--;
	}
}

void verify_frame(struct verify *v, const uint8_t *frame, size_t len)
{
	struct pkt_flow_key key;
	struct verify_flow *f;
	uint64_t seq;

	v->received++;
	switch (pkt_gen_check(frame, len, &seq, &key)) {
	case PKT_GEN_OK:
		v->total.valid++;
		f = flow_of(v, &key, 1);
		if (!f) {
			v->untracked++;
			break;
		}
		f->c.valid++;
		sequence(f, &v->total, seq);
		break;
	case PKT_GEN_OTHER:
		v->other++;
		break;
	case PKT_GEN_CORRUPT:
		v->total.corrupt++;
		/* headers may be what changed: charge a flow only when it exists already */
		f = flow_of(v, &key, 0);
		if (f)
			f->c.corrupt++;
		break;
	}
}
