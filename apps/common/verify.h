/*
 * verify.h - checks a stream of received unic-pktgen frames: lost, duplicated,
 * reordered and corrupt frames. Sequence numbers start at 0 (start the
 * receiver first). A window of the last VERIFY_WINDOW numbers tells a late
 * frame (reordered) from a second copy (duplicated).
 */
#ifndef UNIC_VERIFY_H
#define UNIC_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define VERIFY_WINDOW (1u << 20)

struct verify {
	uint64_t received;   /* every frame seen */
	uint64_t valid;      /* unic-pktgen frames with good lengths and checksum */
	uint64_t other;      /* not unic-pktgen frames */
	uint64_t corrupt;    /* unic-pktgen frames with a bad length or checksum */
	uint64_t lost, duplicated, reordered;
	uint64_t next;       /* sequence number expected next */
	uint64_t *seen;      /* bitmap of VERIFY_WINDOW bits, by seq % VERIFY_WINDOW */
};

int verify_init(struct verify *v);
void verify_frame(struct verify *v, const uint8_t *frame, size_t len);
void verify_free(struct verify *v);

#endif
