/*
 * unic-lab-poolhold SPEC_A SPEC_B: a mempool outlives its device under VFIO (issue 9 item 7).
 *   1. open A, take a buffer from its pool, close A (the last device: the pool and the VFIO
 *      container must stay alive while the buffer is out);
 *   2. open A and B again (the container, still open for the old pool, takes the groups back);
 *   3. free the held buffer: the old pool goes, unmapping its DMA memory from the container;
 *   4. COUNT frames A -> B back to back, each checked: the new pools' mappings survived step 3;
 *   5. hold a buffer of B, close A then B, free it.
 * Prints one "POOLHOLD ..." line per step; exit 0 when every frame arrived intact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labbin.h"
#include "unic.h"

#define COUNT 2048 /* whole batches */
#define BATCH 32
#define FRAME 64
#define ETHERTYPE_LOCAL 0x88b5 /* IEEE 802 local experimental EtherType 1 */
#define WAIT_S 2.0

static struct unic_dev *open_or_die(const char *spec)
{
	char err[UNIC_ERR_LEN];
	struct unic_dev *d = unic_open(spec, NULL, err, sizeof err);

	if (!d) {
		printf("POOLHOLD FAIL open %s: %s\n", spec, err);
		exit(1);
	}
	return d;
}

static void make_frame(struct unic_buf *b, const uint8_t dst[6], const uint8_t src[6], uint32_t seq)
{
	uint8_t *p = unic_buf_data(b);

	memset(p, 0, FRAME);
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = ETHERTYPE_LOCAL >> 8;
	p[13] = ETHERTYPE_LOCAL & 0xff;
	memcpy(p + 14, &seq, sizeof seq);
	memset(p + 18, (int)(seq & 0xff), FRAME - 18);
	b->len = FRAME;
}

/* Receives on b until want frames of this batch arrived or WAIT_S passed; checks each. */
static uint32_t receive(struct unic_dev *b, uint32_t first, uint32_t want, uint32_t *bad)
{
	struct unic_buf *got[BATCH];
	uint32_t n = 0;
	double until = now() + WAIT_S;

	while (n < want && now() < until) {
		uint16_t i, k = unic_rx_burst(b, 0, got, BATCH);
		for (i = 0; i < k; i++) {
			const uint8_t *p = unic_buf_data(got[i]);
			uint32_t seq;
			memcpy(&seq, p + 14, sizeof seq);
			if (got[i]->len < FRAME || p[12] != ETHERTYPE_LOCAL >> 8 || seq != first + n ||
			    p[FRAME - 1] != (uint8_t)(seq & 0xff))
				(*bad)++;
			n++;
		}
		unic_buf_free_bulk(got, k);
	}
	return n;
}

int main(int argc, char **argv)
{
	uint8_t mac_a[6], mac_b[6];
	struct unic_buf *held, *bufs[BATCH];
	struct unic_dev *a, *b;
	uint32_t sent = 0, received = 0, bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: unic-lab-poolhold SPEC_A SPEC_B\n");
		return 2;
	}
	a = open_or_die(argv[1]);
	held = unic_buf_alloc(unic_dev_mempool(a));
	unic_close(a);
	memset(unic_buf_data(held), 0x5a, FRAME); /* the room is still mapped and ours */
	printf("POOLHOLD held a buffer across the close of the last device\n");

	a = open_or_die(argv[1]);
	b = open_or_die(argv[2]);
	unic_buf_free(held);
	printf("POOLHOLD freed it with two new devices open: its pool is gone\n");

	unic_mac(a, mac_a);
	unic_mac(b, mac_b);
	while (sent < COUNT) {
		uint16_t i, n = 0;
		if (unic_buf_alloc_bulk(unic_dev_mempool(a), bufs, BATCH) != BATCH)
			break;
		for (i = 0; i < BATCH; i++)
			make_frame(bufs[i], mac_b, mac_a, sent + i);
		double until = now() + WAIT_S;
		while (n < BATCH && now() < until)
			n = (uint16_t)(n + unic_tx_burst(a, 0, bufs + n, (uint16_t)(BATCH - n)));
		unic_buf_free_bulk(bufs + n, BATCH - n);
		received += receive(b, sent, n, &bad);
		sent += n;
		if (n < BATCH)
			break;
	}
	printf("POOLHOLD sent %u received %u bad %u\n", sent, received, bad);

	held = unic_buf_alloc(unic_dev_mempool(b));
	unic_close(a);
	unic_close(b);
	unic_buf_free(held);
	printf("POOLHOLD %s\n", sent == COUNT && received == COUNT && bad == 0 ? "OK" : "FAIL");
	return sent == COUNT && received == COUNT && bad == 0 ? 0 : 1;
}
