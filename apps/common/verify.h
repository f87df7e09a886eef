/*
 * verify.h - checks a stream of received unic-pktgen frames, flow by flow: lost, duplicated,
 * reordered and corrupt frames. A flow is what the headers name (IPv4 addresses, UDP ports);
 * each flow numbers its frames from 0 (start the receiver first). Order is checked within a
 * flow only: RSS keeps a flow on one queue, while different flows may interleave in any way.
 * A window of the last VERIFY_FLOW_WINDOW numbers of each flow tells a late frame (reordered)
 * from a second copy (duplicated).
 */
#ifndef UNIC_VERIFY_H
#define UNIC_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/pkt.h"

#define VERIFY_MAX_FLOWS 4096u
#define VERIFY_FLOW_WINDOW (1u << 16)

struct verify_counts {
	uint64_t valid;      /* unic-pktgen frames with good lengths and checksum */
	uint64_t corrupt;    /* unic-pktgen frames with a bad length or checksum */
	uint64_t lost, duplicated, reordered;
};

struct verify_flow {
	struct pkt_flow_key key;
	struct verify_counts c;
	uint64_t next;       /* sequence number expected next */
	uint64_t *seen;      /* bitmap of VERIFY_FLOW_WINDOW bits, by seq % VERIFY_FLOW_WINDOW */
};

struct verify {
	uint64_t received;   /* every frame seen */
	uint64_t other;      /* not unic-pktgen frames */
	uint64_t untracked;  /* valid frames of flows beyond VERIFY_MAX_FLOWS (not in total.lost etc.) */
	struct verify_counts total; /* the sum over flows; corrupt also counts frames of no known flow */
	uint32_t nflows;
	struct verify_flow *flows;  /* in the order their first frame came */
	uint32_t *slots;            /* hash table of flow index + 1, 0: free */
};

int verify_init(struct verify *v);
void verify_frame(struct verify *v, const uint8_t *frame, size_t len);
void verify_free(struct verify *v);
/* "198.18.0.1:9000>198.18.0.2:9000" */
void verify_flow_name(const struct pkt_flow_key *k, char *out, size_t len);

#endif
