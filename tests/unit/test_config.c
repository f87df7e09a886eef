/*
 * unic_open checks every configuration field before it touches a device (issue 9 item 6):
 * each refusal is one line naming the field. The spec is a vhost-user socket that does not
 * exist, so a configuration that passes fails later, on the socket, with another message.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define SPEC "vhost-user:/nonexistent/unic-test-config.sock"

static char err[UNIC_ERR_LEN];

/* unic_open's error line for cfg (every open here fails). */
static const char *open_error(const struct unic_config *cfg)
{
	struct unic_dev *dev = unic_open(SPEC, cfg, err, sizeof err);

	if (dev) {
		unic_close(dev);
		return "(opened)";
	}
	return err;
}

/* cfg is refused with a line containing every one of want[] (NULL-terminated). */
static bool refused(const struct unic_config *cfg, const char *const *want)
{
	const char *e = open_error(cfg);

	for (; *want; want++)
		if (!strstr(e, *want)) {
			printf("  error line \"%s\" lacks \"%s\"\n", e, *want);
			return false;
		}
	printf("refused: %s\n", e);
	return true;
}

/* cfg passes the configuration checks: the open fails on the socket instead. */
static bool passes_config(const struct unic_config *cfg)
{
	const char *e = open_error(cfg);
	bool ok = strstr(e, "_size") == NULL && strstr(e, "_queues") == NULL && e[0];

	if (!ok)
		printf("  unexpected error line \"%s\"\n", e);
	return ok;
}

int main(void)
{
	struct unic_config cfg;
	struct unic_dev scratch;

	unic_config_init(&cfg);
	CHECK(passes_config(&cfg));

	cfg.buf_size = UNIC_BUF_SIZE_MAX + 1; /* 65345: the room would wrap its uint16_t */
	CHECK(refused(&cfg, (const char *const[]){ "buf_size 65345", "65344", NULL }));
	cfg.buf_size = 65535;
	CHECK(refused(&cfg, (const char *const[]){ "buf_size 65535", "out of range", NULL }));
	cfg.buf_size = 63;
	CHECK(refused(&cfg, (const char *const[]){ "buf_size 63", "64 to 65344", NULL }));
	cfg.buf_size = UNIC_BUF_SIZE_MAX;
	CHECK(passes_config(&cfg));
	cfg.buf_size = 0;

	cfg.mtu = 9001;
	CHECK(refused(&cfg, (const char *const[]){ "mtu 9001", "68 to 9000", NULL }));
	cfg.mtu = 67;
	CHECK(refused(&cfg, (const char *const[]){ "mtu 67", "out of range", NULL }));
	cfg.mtu = 9000;
	cfg.buf_size = 4096; /* a 9018-byte frame cannot land in one 4096-byte buffer */
	CHECK(refused(&cfg, (const char *const[]){ "buf_size 4096", "mtu 9000", "9018", NULL }));
	cfg.buf_size = 0;   /* grows to fit */
	CHECK(passes_config(&cfg));
	cfg.mtu = 0;
	cfg.buf_size = 256; /* no mtu asked for: small buffers stay allowed */
	CHECK(passes_config(&cfg));
	cfg.buf_size = 0;

	cfg.rx_queues = UNIC_MAX_QUEUES + 1;
	CHECK(refused(&cfg, (const char *const[]){ "rx_queues 17", "at most 16", NULL }));
	cfg.rx_queues = 1;
	cfg.tx_queues = 1000;
	CHECK(refused(&cfg, (const char *const[]){ "tx_queues 1000", "at most 16", NULL }));
	cfg.tx_queues = 0; /* 0 means 1 */
	CHECK(passes_config(&cfg));

	cfg.rx_ring_size = 4;
	CHECK(refused(&cfg, (const char *const[]){ "rx_ring_size 4", "8 to 32768", NULL }));
	cfg.rx_ring_size = 65535;
	CHECK(refused(&cfg, (const char *const[]){ "rx_ring_size 65535", NULL }));
	cfg.rx_ring_size = 0;
	cfg.tx_ring_size = 40000;
	CHECK(refused(&cfg, (const char *const[]){ "tx_ring_size 40000", "8 to 32768", NULL }));
	cfg.tx_ring_size = 0;

	cfg.rx_queues = 4;
	cfg.rx_ring_size = 1024;
	cfg.pool_size = 4095;
	CHECK(refused(&cfg, (const char *const[]){ "pool_size 4095", "4 x rx_ring_size 1024 = 4096", NULL }));
	cfg.pool_size = 4096;
	CHECK(passes_config(&cfg));
	cfg.pool_size = 0xffffffffu;
	CHECK(refused(&cfg, (const char *const[]){ "pool_size 4294967295", "too large", NULL }));

	/* ",queues=N" in a spec sets both directions; a cfg asking for another count is refused */
	unic_config_init(&cfg);
	cfg.rx_queues = 2;
	CHECK(unic_open("af_packet:unic-nosuch0,queues=4", &cfg, err, sizeof err) == NULL &&
	      strstr(err, "queues=4 but the configuration for 2 rx and 1 tx queues"));
	printf("refused: %s\n", err);
	cfg.rx_queues = cfg.tx_queues = 4; /* the same count: on to the interface, which is missing */
	CHECK(unic_open("af_packet:unic-nosuch0,queues=4", &cfg, err, sizeof err) == NULL &&
	      strstr(err, "af_packet: no interface unic-nosuch0"));
	printf("refused: %s\n", err);
	cfg.tx_queues = 1; /* a tap's queue is one fd for both directions */
	CHECK(unic_open("tap:unic-nosuch0", &cfg, err, sizeof err) == NULL &&
	      strstr(err, "tap: give as many rx as tx queues (4 and 1 asked"));
	printf("refused: %s\n", err);

	/* the mempool refuses a room that does not fit its uint16_t even when asked directly */
	memset(&scratch, 0, sizeof scratch);
	scratch.dma_mode = UNIC_DMA_VIRT;
	CHECK(unic_mempool_make(&scratch, 8, 65535) == NULL && strstr(scratch.err, "above the largest, 65344"));
	return check_summary("test_config");
}
