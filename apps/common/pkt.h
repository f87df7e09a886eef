/*
 * pkt.h - the few protocol headers the tools read and write (Ethernet, ARP,
 * IPv4, ICMP, UDP), the Internet checksum, and unic-pktgen's test payload.
 *
 * Header fields are in network byte order. Structures are packed because
 * frames sit at any offset in a buffer.
 */
#ifndef UNIC_PKT_H
#define UNIC_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAC_LEN 6
#define PKT_IP4_LEN 4
#define PKT_ETH_MIN_FRAME 60     /* IEEE 802.3 minimum frame, without the 4-byte FCS */
#define PKT_ETH_MAX_FRAME 1514   /* 1500-byte MTU + Ethernet header, without FCS */
#define PKT_JUMBO_MAX_FRAME 9014 /* 9000-byte MTU + Ethernet header, without FCS */

/* IEEE 802.3 / RFC 894 EtherTypes */
#define PKT_ETHERTYPE_IPV4 0x0800
#define PKT_ETHERTYPE_ARP 0x0806

struct pkt_eth {
	uint8_t dst[PKT_MAC_LEN];
	uint8_t src[PKT_MAC_LEN];
	uint16_t type;
} __attribute__((packed));

/* RFC 826 ARP for IPv4 over Ethernet */
#define PKT_ARP_HTYPE_ETHER 1
#define PKT_ARP_OP_REQUEST 1
#define PKT_ARP_OP_REPLY 2
struct pkt_arp {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[PKT_MAC_LEN];
	uint8_t spa[PKT_IP4_LEN];
	uint8_t tha[PKT_MAC_LEN];
	uint8_t tpa[PKT_IP4_LEN];
} __attribute__((packed));

/* RFC 791 IPv4 header (without options) */
#define PKT_IP_VERSION 4
#define PKT_IP_MIN_IHL 5         /* header length in 32-bit words */
#define PKT_IP_FLAG_MF 0x2000    /* more fragments */
#define PKT_IP_FRAG_OFFSET 0x1fff
#define PKT_IP_FLAG_DF 0x4000
#define PKT_IP_DEFAULT_TTL 64
#define PKT_IPPROTO_ICMP 1
#define PKT_IPPROTO_UDP 17
struct pkt_ipv4 {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag;
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));

/* RFC 792 ICMP echo */
#define PKT_ICMP_ECHO_REPLY 0
#define PKT_ICMP_ECHO_REQUEST 8
struct pkt_icmp {
	uint8_t type, code;
	uint16_t csum;
	uint16_t id, seq;
} __attribute__((packed));

/* RFC 768 UDP */
struct pkt_udp {
	uint16_t sport, dport;
	uint16_t len;
	uint16_t csum;
} __attribute__((packed));

#define PKT_HDRS_LEN (sizeof(struct pkt_eth) + sizeof(struct pkt_ipv4) + sizeof(struct pkt_udp))

/* RFC 1071 Internet checksum: add 16-bit words, then fold and complement. */
uint32_t pkt_sum(const void *data, size_t len, uint32_t sum);
uint16_t pkt_fold(uint32_t sum);
/* RFC 768 pseudo header sum of a UDP datagram of udp_len bytes; add pkt_sum() of the datagram. */
uint32_t pkt_udp_pseudo_sum(const struct pkt_ipv4 *ip, size_t udp_len);

/* "aa:bb:cc:dd:ee:ff" -> mac; "10.0.0.2/24" -> address (network order) and prefix. */
int pkt_parse_mac(const char *s, uint8_t mac[PKT_MAC_LEN]);
int pkt_parse_ipv4_prefix(const char *s, uint32_t *addr, unsigned *prefix);
int pkt_parse_ipv4(const char *s, uint32_t *addr);

/*
 * unic-pktgen's payload, right after the UDP header: a sequence number, the
 * send time, and a checksum over the whole payload (this header with csum 0,
 * then fill bytes i & 0xff), so that --verify spots any changed byte.
 */
#define PKT_GEN_UDP_PORT 9000
struct pkt_gen {
	uint64_t seq;      /* big endian */
	uint64_t tx_ns;    /* big endian, CLOCK_REALTIME */
	uint16_t csum;
} __attribute__((packed));
#define PKT_GEN_MIN_FRAME (PKT_HDRS_LEN + sizeof(struct pkt_gen))

struct pkt_gen_template {
	uint8_t frame[PKT_JUMBO_MAX_FRAME];
	uint16_t len;
	uint16_t sport;          /* first UDP source port */
	uint32_t fill_sum;       /* pkt_sum of the fill bytes */
};
/* Builds Ethernet/IPv4/UDP headers and the fill for frames of len bytes. */
void pkt_gen_template_init(struct pkt_gen_template *t, uint16_t len, const uint8_t src_mac[PKT_MAC_LEN],
			   const uint8_t dst_mac[PKT_MAC_LEN], uint32_t src_ip, uint32_t dst_ip);

/*
 * Flow number i of a run (0, 1, ...): the template's source address + i and UDP source port
 * + i, so that every RSS hash (IPv4 addresses only, or with the ports) tells flows apart.
 * Each flow numbers its frames from 0: a receiver checks order per flow.
 */
struct pkt_gen_flow {
	uint32_t src_ip;         /* network order */
	uint16_t sport;          /* host order */
	uint16_t ip_csum;        /* the IPv4 header checksum with this source, network order */
};
void pkt_gen_flow_init(const struct pkt_gen_template *t, uint32_t i, struct pkt_gen_flow *f);
/* Writes one frame into out (t->len bytes): template, flow f's addresses, seq, time, checksum. */
void pkt_gen_write(const struct pkt_gen_template *t, const struct pkt_gen_flow *f, uint8_t *out, uint64_t seq,
		   uint64_t tx_ns);

/* What tells flows apart: the IPv4 addresses and UDP ports, as in the frame (network order). */
struct pkt_flow_key {
	uint32_t src, dst;
	uint16_t sport, dport;
};

enum pkt_gen_check {
	PKT_GEN_OK,
	PKT_GEN_OTHER,     /* not a unic-pktgen frame */
	PKT_GEN_CORRUPT,   /* a unic-pktgen frame whose lengths or checksum are wrong */
};
/* Classifies a received frame; on PKT_GEN_OK *seq is its sequence number; unless PKT_GEN_OTHER,
 * *key is its flow as the headers say (which a corrupt frame may have wrong). */
enum pkt_gen_check pkt_gen_check(const uint8_t *frame, size_t len, uint64_t *seq, struct pkt_flow_key *key);

#endif
