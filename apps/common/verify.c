/* verify.c - sequence and checksum accounting for unic-pktgen frames (see verify.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/pkt.h"
#include "common/verify.h"

#define WORD_BITS 64u

int verify_init(struct verify *v)
{
	memset(v, 0, sizeof *v);
	v->seen = calloc(VERIFY_WINDOW / WORD_BITS, sizeof *v->seen);
	return v->seen ? 0 : -ENOMEM;
}

void verify_free(struct verify *v)
{
	free(v->seen);
	v->seen = NULL;
}

static uint64_t *word(struct verify *v, uint64_t seq)
{
	return &v->seen[(seq % VERIFY_WINDOW) / WORD_BITS];
}

static uint64_t bit(uint64_t seq)
{
	return 1ull << (seq % WORD_BITS);
}

static void sequence(struct verify *v, uint64_t seq)
{
	uint64_t s;

	if (seq >= v->next) {
		/* A gap counts as lost until its frames turn up late. Forget what the window held there. */
		if (seq - v->next >= VERIFY_WINDOW)
			memset(v->seen, 0, VERIFY_WINDOW / 8);
		else
			for (s = v->next; s < seq; s++)
				*word(v, s) &= ~bit(s);
		v->lost += seq - v->next;
		*word(v, seq) |= bit(seq);
		v->next = seq + 1;
	} else if (v->next - seq > VERIFY_WINDOW) {
		v->reordered++; /* too old to tell: assume late, not a copy */
		if (v->lost)
			v->lost--;
	} else if (*word(v, seq) & bit(seq)) {
		v->duplicated++;
	} else {
		*word(v, seq) |= bit(seq);
		v->reordered++;
		v->lost--;
	}
}

void verify_frame(struct verify *v, const uint8_t *frame, size_t len)
{
	uint64_t seq;

	v->received++;
	switch (pkt_gen_check(frame, len, &seq)) {
	case PKT_GEN_OK:
		v->valid++;
		sequence(v, seq);
		break;
	case PKT_GEN_OTHER:
		v->other++;
		break;
	case PKT_GEN_CORRUPT:
		v->corrupt++;
		break;
	}
}
