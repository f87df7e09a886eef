/*
 * test_pkt: the tools' Internet checksum (apps/common/pkt.c) against the
 * RFC 1071 definition, and unic-pktgen's payload: what pkt_gen_write() writes
 * pkt_gen_check() accepts, and any changed byte after the headers is caught.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/pkt.h"

/* RFC 1071: the sum of big-endian 16-bit words, a last odd byte padded with zero. */
static uint32_t reference_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static void test_sum(void)
{
	uint8_t buf[256];
	size_t off, len;
	int mismatches = 0;

	srand(1);
	for (off = 0; off < sizeof buf; off++)
		buf[off] = (uint8_t)rand();
	for (off = 0; off < 4; off++)
		for (len = 0; len + off <= 200; len++)
			mismatches += pkt_fold(pkt_sum(buf + off, len, 7)) != pkt_fold(reference_sum(buf + off, len, 7));
	CHECK(mismatches == 0);
	memset(buf, 0xff, sizeof buf); /* the largest words: carries out of every fold */
	CHECK(pkt_fold(pkt_sum(buf, sizeof buf, 0xffff)) == pkt_fold(reference_sum(buf, sizeof buf, 0xffff)));
}

static void test_gen(uint16_t size)
{
	static const uint8_t src[PKT_MAC_LEN] = { 0x52, 0x54, 0, 0, 0, 1 }, dst[PKT_MAC_LEN] = { 2, 0, 0, 0, 0, 0 };
	static uint8_t frame[PKT_JUMBO_MAX_FRAME];
	struct pkt_gen_template t;
	struct pkt_gen_flow f0, f;
	struct pkt_flow_key key;
	uint64_t seq = 0, want = 0xfedcba9876543210ull;
	size_t i;
	int missed = 0;

	pkt_gen_template_init(&t, size, src, dst, htonl(0x0a0000ff), htonl(0x0a000002));
	pkt_gen_flow_init(&t, 0, &f0);
	pkt_gen_flow_init(&t, 4242, &f);
	pkt_gen_write(&t, &f, frame, want, 0xffffffffffffffffull);
	/* flow 4242: source address and port moved by 4242 (the address carries into the next byte),
	 * and the IPv4 header checksum still right (pkt_gen_check refuses a wrong one) */
	CHECK(pkt_gen_check(frame, size, &seq, &key) == PKT_GEN_OK && seq == want);
	CHECK(key.src == htonl(0x0a0000ff + 4242) && key.dst == htonl(0x0a000002));
	CHECK(key.sport == htons(PKT_GEN_UDP_PORT + 4242) && key.dport == htons(PKT_GEN_UDP_PORT));
	pkt_gen_write(&t, &f0, frame, 0, 0);
	CHECK(pkt_gen_check(frame, size, &seq, &key) == PKT_GEN_OK && seq == 0);
	CHECK(key.src == htonl(0x0a0000ff) && key.sport == htons(PKT_GEN_UDP_PORT));
	for (i = PKT_HDRS_LEN; i < size; i++) { /* payload: seq, time, checksum, fill */
		frame[i] ^= 0x10;
		missed += pkt_gen_check(frame, size, &seq, &key) != PKT_GEN_CORRUPT;
		frame[i] ^= 0x10;
	}
	CHECK(missed == 0);
}

int main(void)
{
	test_sum();
	test_gen(PKT_GEN_MIN_FRAME);
	test_gen(64);
	test_gen(PKT_ETH_MAX_FRAME);
	test_gen(PKT_JUMBO_MAX_FRAME);
	return check_summary("test_pkt");
}
