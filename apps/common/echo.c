/*
 * echo.c - unic-echo's frame handler (see echo.h).
 *
 * Each layer first checks that its header fits in the bytes it was given,
 * then its fields, and only then hands the rest to the next layer. Replies
 * are built in place: each one is at most as long as the request (plus
 * padding up to the Ethernet minimum, written only within cap).
 *
 * The frame lies in memory the NIC can still write, so every header is copied
 * once into a private struct (struct hdrs) and only the copy is checked and
 * used: no length or address is read from the frame twice. The payload is
 * read once too, for its checksum; the reply's checksums are computed from the
 * private headers and that one payload sum. tests/unit/test_echo.c rewrites
 * the frame between any two of the handler's accesses.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "common/echo.h"

static const char *const verdict_names[ECHO_VERDICTS] = {
	[ECHO_ARP_REPLY] = "arp_reply",
	[ECHO_ICMP_REPLY] = "icmp_reply",
	[ECHO_UDP_REPLY] = "udp_reply",
	[ECHO_DROP_RUNT] = "runt",
	[ECHO_DROP_NOT_FOR_US] = "not_for_us",
	[ECHO_DROP_BAD_SOURCE] = "bad_source",
	[ECHO_DROP_ETHERTYPE] = "ethertype",
	[ECHO_DROP_ARP_MALFORMED] = "arp_malformed",
	[ECHO_DROP_ARP_IGNORED] = "arp_ignored",
	[ECHO_DROP_IP_MALFORMED] = "ip_malformed",
	[ECHO_DROP_IP_CHECKSUM] = "ip_checksum",
	[ECHO_DROP_IP_OPTIONS] = "ip_options",
	[ECHO_DROP_IP_FRAGMENT] = "ip_fragment",
	[ECHO_DROP_IP_NOT_FOR_US] = "ip_not_for_us",
	[ECHO_DROP_IP_PROTOCOL] = "ip_protocol",
	[ECHO_DROP_ICMP_MALFORMED] = "icmp_malformed",
	[ECHO_DROP_ICMP_CHECKSUM] = "icmp_checksum",
	[ECHO_DROP_ICMP_IGNORED] = "icmp_ignored",
	[ECHO_DROP_UDP_MALFORMED] = "udp_malformed",
	[ECHO_DROP_UDP_CHECKSUM] = "udp_checksum",
	[ECHO_DROP_UDP_PORT] = "udp_port",
	[ECHO_DROP_TX_FULL] = "tx_full",
};

/* RFC 864 chargen: a datagram from it (or from port 7 itself) would start an endless echo loop. */
#define UDP_PORT_CHARGEN 19
#define IP_HDR_MIN (PKT_IP_MIN_IHL * 4u)

const char *echo_verdict_name(enum echo_verdict v)
{
	return (unsigned)v < ECHO_VERDICTS ? verdict_names[v] : "unknown";
}

/* IEEE 802-2014 8.2: the I/G bit marks group (multicast and broadcast) addresses. */
static bool mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

static bool mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[PKT_MAC_LEN];

	return !memcmp(mac, zero, PKT_MAC_LEN);
}

static bool mac_is_broadcast(const uint8_t *mac)
{
	static const uint8_t bcast[PKT_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return !memcmp(mac, bcast, PKT_MAC_LEN);
}

/* RFC 1122 3.2.1.3 / 3.2.2.6: never answer "this host", broadcast, loopback or multicast sources. */
static bool ip_source_unanswerable(uint32_t addr)
{
	uint32_t a = ntohl(addr);

	return a == 0 || a == UINT32_MAX || (a >> 24) == 127 || (a >> 28) == 0xe;
}

static size_t pad_to_minimum(uint8_t *frame, size_t len, size_t cap)
{
	if (len < PKT_ETH_MIN_FRAME && cap >= PKT_ETH_MIN_FRAME) {
		memset(frame + len, 0, PKT_ETH_MIN_FRAME - len);
		len = PKT_ETH_MIN_FRAME;
	}
	return len;
}

/* The headers of one frame, copied out of the frame once. */
struct hdrs {
	struct pkt_eth eth;
	union {
		struct pkt_arp arp;
		struct {
			struct pkt_ipv4 ip;
			union {
				struct pkt_icmp icmp;
				struct pkt_udp udp;
			};
		};
	};
	size_t ip_tot_len;        /* from ip.tot_len, checked against the frame */
	size_t udp_len;           /* from udp.len, checked against ip_tot_len */
	uint32_t payload_sum;     /* pkt_sum of the bytes after the ICMP/UDP header */
};

/* ---- ARP (RFC 826) ---- */

static enum echo_verdict arp_check(const struct echo_cfg *cfg, struct hdrs *h, const uint8_t *l3, size_t len)
{
	const struct pkt_arp *a = &h->arp;

	if (len < sizeof *a)
		return ECHO_DROP_ARP_MALFORMED;
	memcpy(&h->arp, l3, sizeof h->arp);
	if (a->htype != htons(PKT_ARP_HTYPE_ETHER) || a->ptype != htons(PKT_ETHERTYPE_IPV4) ||
	    a->hlen != PKT_MAC_LEN || a->plen != PKT_IP4_LEN)
		return ECHO_DROP_ARP_MALFORMED;
	if (a->op != htons(PKT_ARP_OP_REQUEST) || memcmp(a->tpa, &cfg->ip, PKT_IP4_LEN))
		return ECHO_DROP_ARP_IGNORED;
	if (mac_is_group(a->sha) || mac_is_zero(a->sha))
		return ECHO_DROP_BAD_SOURCE;
	return ECHO_ARP_REPLY;
}

static void arp_turn_around(const struct echo_cfg *cfg, struct pkt_arp *a)
{
	memcpy(a->tha, a->sha, PKT_MAC_LEN);
	memcpy(a->tpa, a->spa, PKT_IP4_LEN);
	memcpy(a->sha, cfg->mac, PKT_MAC_LEN);
	memcpy(a->spa, &cfg->ip, PKT_IP4_LEN);
	a->op = htons(PKT_ARP_OP_REPLY);
}

/* ---- ICMP echo (RFC 792) ---- */

/* l4 points at the ICMP header in the frame, len bytes of ICMP message. */
static enum echo_verdict icmp_check(struct hdrs *h, const uint8_t *l4, size_t len)
{
	const struct pkt_icmp *icmp = &h->icmp;

	if (len < sizeof *icmp)
		return ECHO_DROP_ICMP_MALFORMED;
	memcpy(&h->icmp, l4, sizeof h->icmp);
	h->payload_sum = pkt_sum(l4 + sizeof *icmp, len - sizeof *icmp, 0);
	if (pkt_fold(pkt_sum(icmp, sizeof *icmp, h->payload_sum)) != 0)
		return ECHO_DROP_ICMP_CHECKSUM;
	if (icmp->type != PKT_ICMP_ECHO_REQUEST || icmp->code != 0)
		return ECHO_DROP_ICMP_IGNORED;
	return ECHO_ICMP_REPLY;
}

/* The reply carries the request's identifier, sequence number and data. */
static void icmp_turn_around(struct hdrs *h)
{
	h->icmp.type = PKT_ICMP_ECHO_REPLY;
	h->icmp.csum = 0;
	h->icmp.csum = pkt_fold(pkt_sum(&h->icmp, sizeof h->icmp, h->payload_sum));
}

/* ---- UDP echo (RFC 768, RFC 862) ---- */

/* The UDP checksum of the private headers (pseudo header, UDP header) and the payload's sum. */
static uint16_t udp_csum(const struct hdrs *h)
{
	return pkt_fold(pkt_sum(&h->udp, sizeof h->udp, pkt_udp_pseudo_sum(&h->ip, h->udp_len) + h->payload_sum));
}

static enum echo_verdict udp_check(struct hdrs *h, const uint8_t *l4, size_t len)
{
	const struct pkt_udp *udp = &h->udp;

	if (len < sizeof *udp)
		return ECHO_DROP_UDP_MALFORMED;
	memcpy(&h->udp, l4, sizeof h->udp);
	h->udp_len = ntohs(udp->len);
	if (h->udp_len < sizeof *udp || h->udp_len > len)
		return ECHO_DROP_UDP_MALFORMED;
	h->payload_sum = pkt_sum(l4 + sizeof *udp, h->udp_len - sizeof *udp, 0);
	if (udp->csum && udp_csum(h) != 0)
		return ECHO_DROP_UDP_CHECKSUM;
	if (udp->dport != htons(ECHO_UDP_PORT) || udp->sport == 0 || udp->sport == htons(ECHO_UDP_PORT) ||
	    udp->sport == htons(UDP_PORT_CHARGEN))
		return ECHO_DROP_UDP_PORT;
	return ECHO_UDP_REPLY;
}

/* Call after the IP addresses are turned around: the checksum covers them. */
static void udp_turn_around(struct hdrs *h)
{
	uint16_t port = h->udp.sport;

	h->udp.sport = h->udp.dport;
	h->udp.dport = port;
	if (!h->udp.csum)
		return; /* the sender sent none: neither do we */
	h->udp.csum = 0;
	h->udp.csum = udp_csum(h);
	if (!h->udp.csum)
		h->udp.csum = 0xffff; /* RFC 768: a computed zero is sent as all ones */
}

/* ---- IPv4 (RFC 791) ---- */

static enum echo_verdict ip_check(const struct echo_cfg *cfg, struct hdrs *h, const uint8_t *l3, size_t len)
{
	const struct pkt_ipv4 *ip = &h->ip;
	size_t hdr_len;
	uint16_t frag;

	if (len < sizeof *ip)
		return ECHO_DROP_IP_MALFORMED;
	memcpy(&h->ip, l3, sizeof h->ip);
	if (ip->ver_ihl >> 4 != PKT_IP_VERSION)
		return ECHO_DROP_IP_MALFORMED;
	hdr_len = (ip->ver_ihl & 0xfu) * 4u;
	if (hdr_len < IP_HDR_MIN || hdr_len > len)
		return ECHO_DROP_IP_MALFORMED;
	/* options, if any, are summed straight from the frame: read once, and dropped below */
	if (pkt_fold(pkt_sum(l3 + sizeof *ip, hdr_len - sizeof *ip, pkt_sum(ip, sizeof *ip, 0))) != 0)
		return ECHO_DROP_IP_CHECKSUM;
	h->ip_tot_len = ntohs(ip->tot_len);
	if (h->ip_tot_len < hdr_len || h->ip_tot_len > len)
		return ECHO_DROP_IP_MALFORMED;
	if (hdr_len != IP_HDR_MIN)
		return ECHO_DROP_IP_OPTIONS;
	frag = ntohs(ip->frag);
	if (frag & (PKT_IP_FLAG_MF | PKT_IP_FRAG_OFFSET))
		return ECHO_DROP_IP_FRAGMENT;
	if (ip->dst != cfg->ip || mac_is_group(h->eth.dst))
		return ECHO_DROP_IP_NOT_FOR_US;
	if (ip_source_unanswerable(ip->src))
		return ECHO_DROP_BAD_SOURCE;
	if (ip->proto == PKT_IPPROTO_ICMP)
		return icmp_check(h, l3 + sizeof *ip, h->ip_tot_len - sizeof *ip);
	if (ip->proto == PKT_IPPROTO_UDP)
		return udp_check(h, l3 + sizeof *ip, h->ip_tot_len - sizeof *ip);
	return ECHO_DROP_IP_PROTOCOL;
}

static void ip_turn_around(const struct echo_cfg *cfg, struct pkt_ipv4 *ip)
{
	ip->dst = ip->src;
	ip->src = cfg->ip;
	ip->ttl = PKT_IP_DEFAULT_TTL;
	ip->frag = 0;
	ip->csum = 0;
	ip->csum = pkt_fold(pkt_sum(ip, sizeof *ip, 0));
}

/* Turns an IPv4 request around in h and writes the reply's headers; returns the reply's length after Ethernet. */
static size_t ip_reply(const struct echo_cfg *cfg, struct hdrs *h, enum echo_verdict v, uint8_t *l3)
{
	ip_turn_around(cfg, &h->ip);
	if (v == ECHO_ICMP_REPLY) {
		icmp_turn_around(h);
		memcpy(l3 + sizeof h->ip, &h->icmp, sizeof h->icmp);
	} else {
		udp_turn_around(h);
		memcpy(l3 + sizeof h->ip, &h->udp, sizeof h->udp);
	}
	memcpy(l3, &h->ip, sizeof h->ip);
	return h->ip_tot_len;
}

/* ---- Ethernet ---- */

enum echo_verdict echo_frame(const struct echo_cfg *cfg, uint8_t *frame, size_t len, size_t cap, size_t *out_len)
{
	struct hdrs h;
	struct pkt_eth *eth = &h.eth;
	uint8_t *l3 = frame + sizeof *eth;
	size_t l3_len, reply_len;
	enum echo_verdict v;

	if (len < sizeof *eth)
		return ECHO_DROP_RUNT;
	memcpy(eth, frame, sizeof *eth);
	if (!mac_is_broadcast(eth->dst) && memcmp(eth->dst, cfg->mac, PKT_MAC_LEN))
		return ECHO_DROP_NOT_FOR_US;
	if (mac_is_group(eth->src) || mac_is_zero(eth->src))
		return ECHO_DROP_BAD_SOURCE;
	l3_len = len - sizeof *eth;
	if (eth->type == htons(PKT_ETHERTYPE_ARP)) {
		v = arp_check(cfg, &h, l3, l3_len);
		if (v != ECHO_ARP_REPLY)
			return v;
		arp_turn_around(cfg, &h.arp);
		memcpy(l3, &h.arp, sizeof h.arp);
		reply_len = sizeof *eth + sizeof h.arp;
	} else if (eth->type == htons(PKT_ETHERTYPE_IPV4)) {
		v = ip_check(cfg, &h, l3, l3_len);
		if (v >= ECHO_ANSWERS)
			return v;
		reply_len = sizeof *eth + ip_reply(cfg, &h, v, l3);
	} else {
		return ECHO_DROP_ETHERTYPE;
	}
	memcpy(eth->dst, eth->src, PKT_MAC_LEN);
	memcpy(eth->src, cfg->mac, PKT_MAC_LEN);
	memcpy(frame, eth, sizeof *eth);
	*out_len = pad_to_minimum(frame, reply_len, cap);
	return v;
}
