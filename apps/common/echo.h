/*
 * echo.h - unic-echo's frame handler: turns an ARP request, an ICMP echo
 * request or a UDP datagram to port 7 for our address into its reply, in
 * place, and gives every other frame a drop reason.
 *
 * Nothing in the frame is trusted: every length is checked against the bytes
 * actually received before a field is read. tests/fuzz/ runs it under
 * libFuzzer with ASan and UBSan.
 */
#ifndef UNIC_ECHO_H
#define UNIC_ECHO_H

#include <stddef.h>
#include <stdint.h>

#include "common/pkt.h"

#define ECHO_UDP_PORT 7 /* RFC 862 echo service */

struct echo_cfg {
	uint8_t mac[PKT_MAC_LEN];
	uint32_t ip;       /* network byte order */
};

/* What became of a frame. The first ECHO_ANSWERS values are replies. */
enum echo_verdict {
	ECHO_ARP_REPLY,
	ECHO_ICMP_REPLY,
	ECHO_UDP_REPLY,
	ECHO_DROP_RUNT,            /* shorter than an Ethernet header */
	ECHO_DROP_NOT_FOR_US,      /* destination MAC neither ours nor broadcast */
	ECHO_DROP_BAD_SOURCE,      /* multicast/zero source MAC, or a source IP one must not answer */
	ECHO_DROP_ETHERTYPE,       /* neither ARP nor IPv4 (VLAN tags, IPv6, ...) */
	ECHO_DROP_ARP_MALFORMED,   /* truncated, or not Ethernet/IPv4 ARP */
	ECHO_DROP_ARP_IGNORED,     /* not a request for our address */
	ECHO_DROP_IP_MALFORMED,    /* truncated, wrong version, header or total length */
	ECHO_DROP_IP_CHECKSUM,
	ECHO_DROP_IP_OPTIONS,      /* options are not echoed: dropped */
	ECHO_DROP_IP_FRAGMENT,
	ECHO_DROP_IP_NOT_FOR_US,   /* another destination address, or IP sent to broadcast MAC */
	ECHO_DROP_IP_PROTOCOL,     /* neither ICMP nor UDP */
	ECHO_DROP_ICMP_MALFORMED,
	ECHO_DROP_ICMP_CHECKSUM,
	ECHO_DROP_ICMP_IGNORED,    /* not an echo request */
	ECHO_DROP_UDP_MALFORMED,
	ECHO_DROP_UDP_CHECKSUM,
	ECHO_DROP_UDP_PORT,        /* not to port 7, or from a port that would make a loop */
	ECHO_DROP_TX_FULL,         /* a reply the device did not take (counted by the tool) */
	ECHO_VERDICTS
};
#define ECHO_ANSWERS ECHO_DROP_RUNT

/* Short names for counters ("arp_reply", "drop_runt", ...). */
const char *echo_verdict_name(enum echo_verdict v);

/*
 * Handles one frame of len bytes in a buffer of cap bytes (cap >= len). For a
 * reply the frame is rewritten in place and *out_len set (padded to the
 * Ethernet minimum when cap allows).
 */
enum echo_verdict echo_frame(const struct echo_cfg *cfg, uint8_t *frame, size_t len, size_t cap, size_t *out_len);

#endif
