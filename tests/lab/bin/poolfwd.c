/*
 * unic-lab-poolfwd [--refuse SPEC] [--rounds N] SPEC_B SPEC_C: two devices on one application
 * pool (unic_mempool_create, cfg.pool), forwarding to each other as unic-fwd does (issue 10).
 *   Each round opens B and C with the pool, forwards both ways (every received buffer sent on
 *   the other device as it is) until frames stopped for IDLE_S after some came, prints the
 *   counts and each device's tx_copied, and closes both. Round 2 opens them again: the
 *   process's VFIO container lost its mappings when its last group left, so the pool is
 *   mapped anew. --refuse SPEC: in round 1, with the pool bound to B and C, opening SPEC with
 *   it must fail with one line (a device of another DMA domain).
 * Prints "POOLFWD ..." lines; exit 0 when every round forwarded frames, none was copied, the
 * refusal came, and every buffer was home after the last close.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labbin.h"
#include "unic.h"

#define POOL_BUFS 4096   /* two rx rings of 512 and the frames in flight */
#define BURST 32
#define IDLE_S 2.0       /* quiet this long after traffic: the round is over */
#define MAX_S 60.0

struct round {
	uint64_t fwd[2], dropped;
	uint64_t copied[2];
};

/* What arrives on from goes out on to, the buffers themselves. */
static uint16_t forward(struct unic_dev *from, struct unic_dev *to, uint64_t *fwd, uint64_t *dropped)
{
	struct unic_buf *bufs[BURST];
	uint16_t n = unic_rx_burst(from, 0, bufs, BURST), sent = 0;

	if (n) {
		sent = unic_tx_burst(to, 0, bufs, n);
		unic_buf_free_bulk(bufs + sent, (uint32_t)(n - sent));
	}
	*fwd += sent;
	*dropped += (uint16_t)(n - sent);
	return n;
}

static int refuse(const char *spec, struct unic_config *cfg)
{
	char err[UNIC_ERR_LEN];
	struct unic_dev *d = unic_open(spec, cfg, err, sizeof err);

	if (d) {
		printf("POOLFWD FAIL %s opened with a pool bound to other devices' DMA domain\n", spec);
		unic_close(d);
		return 1;
	}
	printf("POOLFWD REFUSED %s: %s\n", spec, err);
	return strstr(err, "reach") ? 0 : 1;
}

static int run_round(int r, const char *specs[2], struct unic_config *cfg, const char *refuse_spec)
{
	struct unic_dev *dev[2] = { NULL, NULL };
	struct round rd = { { 0, 0 }, 0, { 0, 0 } };
	char err[UNIC_ERR_LEN];
	double start, last;
	int i, rc = 0;

	for (i = 0; i < 2; i++) {
		dev[i] = unic_open(specs[i], cfg, err, sizeof err);
		if (!dev[i]) {
			printf("POOLFWD FAIL round %d: open %s: %s\n", r, specs[i], err);
			unic_close(dev[0]);
			return 1;
		}
		unic_set_promisc(dev[i], true);
	}
	if (refuse_spec)
		rc |= refuse(refuse_spec, cfg);
	printf("POOLFWD round %d: forwarding between %s and %s on one pool\n", r, specs[0], specs[1]);
	fflush(stdout);
	start = last = now();
	while (now() - start < MAX_S && (rd.fwd[0] + rd.fwd[1] == 0 || now() - last < IDLE_S)) {
		uint16_t got = forward(dev[0], dev[1], &rd.fwd[0], &rd.dropped);
		got += forward(dev[1], dev[0], &rd.fwd[1], &rd.dropped);
		if (got)
			last = now();
	}
	for (i = 0; i < 2; i++) {
		struct unic_stats st;
		if (unic_stats(dev[i], &st) == 0)
			rd.copied[i] = st.tx_copied;
		else
			rc = 1;
	}
	printf("POOLFWD round %d: forwarded b2c %llu c2b %llu dropped %llu copied b2c %llu c2b %llu\n", r,
	       (unsigned long long)rd.fwd[0], (unsigned long long)rd.fwd[1], (unsigned long long)rd.dropped,
	       (unsigned long long)rd.copied[1], (unsigned long long)rd.copied[0]);
	fflush(stdout);
	unic_close(dev[0]);
	unic_close(dev[1]);
	return rc || rd.fwd[0] == 0 || rd.copied[0] || rd.copied[1];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "refuse", required_argument, NULL, 'r' },
					       { "rounds", required_argument, NULL, 'n' },
					       { NULL, 0, NULL, 0 } };
	const char *refuse_spec = NULL, *specs[2];
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	int rounds = 1, r, c, rc = 0;

	while ((c = getopt_long(argc, argv, "r:n:", opts, NULL)) != -1) {
		if (c == 'r')
			refuse_spec = optarg;
		else if (c == 'n')
			rounds = atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 2 || rounds < 1) {
		fprintf(stderr, "usage: unic-lab-poolfwd [--refuse SPEC] [--rounds N] SPEC_B SPEC_C\n");
		return 2;
	}
	specs[0] = argv[optind];
	specs[1] = argv[optind + 1];
	unic_config_init(&cfg);
	cfg.pool = unic_mempool_create(POOL_BUFS, 2048, err, sizeof err);
	if (!cfg.pool) {
		printf("POOLFWD FAIL unic_mempool_create: %s\n", err);
		return 1;
	}
	for (r = 1; r <= rounds; r++)
		rc |= run_round(r, specs, &cfg, r == 1 ? refuse_spec : NULL);
	if (unic_mempool_free_count(cfg.pool) != unic_mempool_size(cfg.pool)) {
		printf("POOLFWD FAIL %u of %u buffers home after the last close\n", unic_mempool_free_count(cfg.pool),
		       unic_mempool_size(cfg.pool));
		rc = 1;
	}
	unic_mempool_release(cfg.pool);
	printf("POOLFWD %s\n", rc ? "FAIL" : "OK");
	return rc;
}
