/*
 * fuzz_echo.c - libFuzzer harness for unic-echo's frame handler (apps/common/echo.c)
 * and unic-pcap's pktgen-frame check (apps/common/pkt.c).
 *
 * The input is copied into a heap buffer of exactly its size, so ASan reports
 * any read past the received bytes. Replies are checked for what must always
 * hold, and fed back in: a reply is never answered again (no echo loops).
 */
#include <stdlib.h>
#include <string.h>

#include "common/echo.h"
#include "common/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct echo_cfg cfg = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
	.ip = 0x0200000a, /* 10.0.0.2 in network byte order (little-endian host) */
};

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Half the runs get room to pad a short reply, half get exactly the bytes received. */
	size_t cap = (size && (data[0] & 1) && size < PKT_ETH_MIN_FRAME) ? PKT_ETH_MIN_FRAME : size;
	uint8_t *frame = malloc(cap ? cap : 1);
	size_t out_len = 0, again_len = 0;
	enum echo_verdict v;
	uint64_t seq;
	struct pkt_flow_key key;

	memcpy(frame, data, size);
	v = echo_frame(&cfg, frame, size, cap, &out_len);
	CHECK((unsigned)v < ECHO_VERDICTS && v != ECHO_DROP_TX_FULL);
	CHECK(echo_verdict_name(v) != NULL);
	if (v < ECHO_ANSWERS) {
		CHECK(out_len >= sizeof(struct pkt_eth) + sizeof(struct pkt_arp) && out_len <= cap);
		CHECK(!memcmp(frame + PKT_MAC_LEN, cfg.mac, PKT_MAC_LEN)); /* we are the source */
		CHECK(!(frame[0] & 1));                                    /* never to a group address */
		/* Our own reply, looped back, must not be answered. */
		CHECK(echo_frame(&cfg, frame, out_len, out_len, &again_len) >= ECHO_ANSWERS);
	}
	free(frame);

	frame = malloc(size ? size : 1);
	memcpy(frame, data, size);
	pkt_gen_check(frame, size, &seq, &key);
	free(frame);
	return 0;
}
