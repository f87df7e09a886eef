/*
 * af_packet.h - the af_packet backend's rings and queues, shared with its hostile-kernel unit
 * test (tests/unit/test_af_packet_hostile.c), which drives the data path over rings it forges.
 */
#ifndef UNIC_AF_PACKET_H
#define UNIC_AF_PACKET_H
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "internal.h"

/* V2 tx frame: the data starts after the aligned header (tpacket_fill_skb without
 * PACKET_TX_HAS_OFF: tp_hdrlen - sizeof(struct sockaddr_ll)). */
#define TX_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket2_hdr))
/* Status bits the kernel may add on tx completion when timestamping is on (not asked for). */
#define TX_STATUS_TS_MASK (TP_STATUS_TS_SOFTWARE | TP_STATUS_TS_SYS_HARDWARE | TP_STATUS_TS_RAW_HARDWARE)
/* V3 packs frames in a block at 8-byte steps (V3_ALIGNMENT, net/packet/af_packet.c) */
#define RX_FRAME_ALIGN 8
#define VLAN_TAG_LEN 4               /* IEEE 802.1Q: TPID + TCI */
#define ETH_ADDRS_LEN (2 * ETH_ALEN) /* the tag goes right after destination and source */

struct afp_ring {
	uint8_t *map;
	size_t bytes;
	uint32_t block_size, nblocks;
	uint32_t frame_size, nframes;    /* tx: fixed frames, frames_per_block in each block */
};

struct afp_rxq {
	int fd;                          /* the socket; poll() on it for interrupts later */
	struct afp_ring ring;
	uint32_t block;                  /* the block being read, or next to be handed over */
	uint32_t left;                   /* frames of it not yet read (it is ours while in_block) */
	uint32_t off;                    /* offset of the next frame in it */
	uint32_t blk_len;                /* its checked length */
	bool in_block;
	bool broken;                     /* the kernel gave a bad length: nothing more is read */
	uint16_t id;
	struct unic_mempool *pool;
	struct unic_qcounters stats;
};

struct afp_txq {
	int fd;
	struct afp_ring ring;
	uint32_t head;                   /* next frame to fill */
	uint32_t per_block;
	uint16_t max_len;                /* the longest frame a ring frame holds */
	bool broken;
	struct unic_qcounters stats;
};

struct afp {
	struct unic_dev *dev;
	int ifindex;
	uint32_t mtu;                    /* the interface's, when probe read it (else 0) */
	struct afp_rxq rxq[UNIC_MAX_QUEUES];
	struct afp_txq txq[UNIC_MAX_QUEUES];
	uint16_t nrx, ntx;
	uint64_t kernel_packets, kernel_drops; /* PACKET_STATISTICS, clear on read: folded here */
};

extern const struct unic_driver unic_driver_af_packet;

#endif
