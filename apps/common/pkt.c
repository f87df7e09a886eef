/* pkt.c - checksums, address parsing and unic-pktgen's payload (see pkt.h). */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pkt.h"

/*
 * RFC 1071 2(B): the one's complement sum does not depend on byte order, so
 * native 32-bit words are added into 64 bits, folded to 16, and swapped once
 * into the big-endian word sum the callers add up.
 */
uint32_t pkt_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint32_t w32;
	uint16_t w16;

	for (; len >= sizeof w32; p += sizeof w32, len -= sizeof w32) {
		memcpy(&w32, p, sizeof w32);
		acc += w32;
	}
	if (len >= sizeof w16) {
		memcpy(&w16, p, sizeof w16);
		acc += w16;
		p += sizeof w16;
		len -= sizeof w16;
	}
	if (len) /* a last odd byte is the high byte of a zero-padded word */
		acc += ntohs((uint16_t)(*p << 8));
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return sum + ntohs((uint16_t)acc);
}

/* The sum of a 64-bit value's four 16-bit words: what pkt_sum() gives for it stored big endian. */
static inline uint32_t sum_u64(uint64_t v)
{
	return (uint32_t)(v >> 48) + (uint32_t)(v >> 32 & 0xffff) + (uint32_t)(v >> 16 & 0xffff) + (uint32_t)(v & 0xffff);
}

/* The checksum field value, in network byte order, for a pkt_sum() total. */
uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint32_t pkt_udp_pseudo_sum(const struct pkt_ipv4 *ip, size_t udp_len)
{
	/* source, destination, zero, protocol, UDP length */
	uint32_t sum = pkt_sum(&ip->src, sizeof ip->src, 0);

	sum = pkt_sum(&ip->dst, sizeof ip->dst, sum);
	return sum + PKT_IPPROTO_UDP + (uint32_t)udp_len;
}

int pkt_parse_mac(const char *s, uint8_t mac[PKT_MAC_LEN])
{
	unsigned v[PKT_MAC_LEN];
	char end;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != PKT_MAC_LEN)
		return -1;
	for (i = 0; i < PKT_MAC_LEN; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int pkt_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*addr = a.s_addr;
	return 0;
}

int pkt_parse_ipv4_prefix(const char *s, uint32_t *addr, unsigned *prefix)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *end;
	unsigned long len;

	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	len = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end || len > 32 || pkt_parse_ipv4(buf, addr))
		return -1;
	*prefix = (unsigned)len;
	return 0;
}

/* ---- unic-pktgen payload ---- */

void pkt_gen_template_init(struct pkt_gen_template *t, uint16_t len, const uint8_t src_mac[PKT_MAC_LEN],
			   const uint8_t dst_mac[PKT_MAC_LEN], uint32_t src_ip, uint32_t dst_ip)
{
	struct pkt_eth *eth = (struct pkt_eth *)t->frame;
	struct pkt_ipv4 *ip = (struct pkt_ipv4 *)(eth + 1);
	struct pkt_udp *udp = (struct pkt_udp *)(ip + 1);
	uint8_t *fill = (uint8_t *)udp + sizeof *udp + sizeof(struct pkt_gen);
	size_t i, fill_len = len - PKT_GEN_MIN_FRAME;

	memset(t, 0, sizeof *t);
	t->len = len;
	t->sport = PKT_GEN_UDP_PORT;
	memcpy(eth->dst, dst_mac, PKT_MAC_LEN);
	memcpy(eth->src, src_mac, PKT_MAC_LEN);
	eth->type = htons(PKT_ETHERTYPE_IPV4);
	ip->ver_ihl = PKT_IP_VERSION << 4 | PKT_IP_MIN_IHL;
	ip->tot_len = htons((uint16_t)(len - sizeof *eth));
	ip->frag = htons(PKT_IP_FLAG_DF);
	ip->ttl = PKT_IP_DEFAULT_TTL;
	ip->proto = PKT_IPPROTO_UDP;
	ip->src = src_ip;
	ip->dst = dst_ip;
	ip->csum = pkt_fold(pkt_sum(ip, sizeof *ip, 0));
	udp->dport = htons(PKT_GEN_UDP_PORT);
	udp->len = htons((uint16_t)(len - sizeof *eth - sizeof *ip));
	udp->csum = 0; /* RFC 768: none; the payload carries its own checksum */
	for (i = 0; i < fill_len; i++)
		fill[i] = (uint8_t)i;
	t->fill_sum = pkt_sum(fill, fill_len, 0);
}

void pkt_gen_flow_init(const struct pkt_gen_template *t, uint32_t i, struct pkt_gen_flow *f)
{
	struct pkt_ipv4 ip;

	memcpy(&ip, t->frame + sizeof(struct pkt_eth), sizeof ip);
	ip.src = htonl(ntohl(ip.src) + i);
	ip.csum = 0;
	f->src_ip = ip.src;
	f->sport = (uint16_t)(t->sport + i);
	f->ip_csum = pkt_fold(pkt_sum(&ip, sizeof ip, 0));
}

void pkt_gen_write(const struct pkt_gen_template *t, const struct pkt_gen_flow *f, uint8_t *out, uint64_t seq,
		   uint64_t tx_ns)
{
	struct pkt_ipv4 *ip = (struct pkt_ipv4 *)(out + sizeof(struct pkt_eth));
	struct pkt_udp *udp = (struct pkt_udp *)(ip + 1);
	struct pkt_gen *g = (struct pkt_gen *)(udp + 1);

	memcpy(out, t->frame, t->len);
	ip->src = f->src_ip;
	ip->csum = f->ip_csum;
	udp->sport = htons(f->sport);
	g->seq = htobe64(seq);
	g->tx_ns = htobe64(tx_ns);
	/* The fill is at an even offset from g, so its sum adds to the header's. */
	g->csum = pkt_fold(t->fill_sum + sum_u64(seq) + sum_u64(tx_ns));
}

enum pkt_gen_check pkt_gen_check(const uint8_t *frame, size_t len, uint64_t *seq, struct pkt_flow_key *key)
{
	const struct pkt_eth *eth = (const struct pkt_eth *)frame;
	const struct pkt_ipv4 *ip = (const struct pkt_ipv4 *)(eth + 1);
	const struct pkt_udp *udp = (const struct pkt_udp *)(ip + 1);
	const struct pkt_gen *g = (const struct pkt_gen *)(udp + 1);
	size_t ip_len, udp_len;

	if (len < PKT_GEN_MIN_FRAME || eth->type != htons(PKT_ETHERTYPE_IPV4) ||
	    ip->ver_ihl != (PKT_IP_VERSION << 4 | PKT_IP_MIN_IHL) || ip->proto != PKT_IPPROTO_UDP ||
	    udp->dport != htons(PKT_GEN_UDP_PORT))
		return PKT_GEN_OTHER;
	key->src = ip->src;
	key->dst = ip->dst;
	key->sport = udp->sport;
	key->dport = udp->dport;
	ip_len = ntohs(ip->tot_len);
	udp_len = ntohs(udp->len);
	if (ip_len + sizeof *eth > len || udp_len + sizeof *ip != ip_len || udp_len < sizeof *udp + sizeof *g ||
	    pkt_fold(pkt_sum(ip, sizeof *ip, 0)) != 0)
		return PKT_GEN_CORRUPT;
	/* The sum over the payload, its checksum included, is all ones when nothing changed. */
	if (pkt_fold(pkt_sum(g, udp_len - sizeof *udp, 0)) != 0)
		return PKT_GEN_CORRUPT;
	*seq = be64toh(g->seq);
	return PKT_GEN_OK;
}
