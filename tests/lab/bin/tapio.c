/*
 * unic-lab-tapio - one NIC wired to a host tap, for byte-exact proofs.
 *
 *   unic-lab-tapio [--mtu MTU] rx SPEC COUNT [TIMEOUT]
 *       Opens SPEC in promiscuous mode, prints "TAPIO READY <mac>", then one line
 *       "FRAME <hex>" per received frame whose ethertype is 0x88b5 (other traffic
 *       the host kernel may send on the tap, e.g. IPv6 neighbour discovery, is
 *       counted but not printed), until COUNT frames or TIMEOUT seconds (30).
 *       Last line: "TAPIO rx frames=N other=M".
 *
 *   unic-lab-tapio [--mtu MTU] tx SPEC COUNT SIZE
 *       Sends COUNT frames of SIZE bytes (without FCS, 60..1514), then waits a
 *       second so the device has sent them all. Last line: "TAPIO tx sent=N".
 *
 *   --mtu MTU opens the device with unic_config.mtu = MTU: frames up to MTU + 14
 *   bytes are received and may be sent (jumbo frames).
 *
 * The tx pattern (regenerate it on the host byte by byte), frame i = 0..COUNT-1:
 *   bytes 0-5    ff:ff:ff:ff:ff:ff
 *   bytes 6-11   the device's MAC
 *   bytes 12-13  0x88 0xb5
 *   bytes 14-17  i, big-endian 32 bits
 *   byte  k>=18  (i * 31 + k) & 0xff
 * tests/lab/host/tapframes.py implements the same function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbin.h"
#include "unic.h"

#define ETH_MIN 60
#define ETH_HLEN 14
#define ETH_MAX 1514
#define ETHERTYPE_HI 0x88
#define ETHERTYPE_LO 0xb5
#define BURST 32
#define TX_DRAIN_US 1000000
#define DEFAULT_TIMEOUT 30.0

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static unsigned mtu, frame_max = ETH_MAX;

static struct unic_dev *open_dev(const char *spec, bool promisc)
{
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	struct unic_dev *d;

	unic_config_init(&cfg);
	cfg.promisc = promisc;
	cfg.mtu = (uint16_t)mtu;
	d = unic_open(spec, &cfg, err, sizeof err);
	if (!d)
		printf("TAPIO ERROR %s: %s\n", spec, err);
	return d;
}

static void print_frame(const uint8_t *p, unsigned len)
{
	static const char hex[] = "0123456789abcdef";
	size_t size = 2 * (size_t)len + 16;
	char *line = malloc(size);
	unsigned i, n = 0;

	if (!line) {
		puts("FRAME (out of memory)");
		return;
	}
	n += (unsigned)snprintf(line, size, "FRAME ");
	for (i = 0; i < len && n + 3 < size; i++) {
		line[n++] = hex[p[i] >> 4];
		line[n++] = hex[p[i] & 15];
	}
	line[n] = 0;
	puts(line);
	free(line);
}

static int do_rx(const char *spec, unsigned long count, double timeout)
{
	struct unic_dev *d = open_dev(spec, true);
	struct unic_buf *bufs[BURST];
	unsigned long frames = 0, other = 0;
	uint8_t mac[6];
	double t0 = now();

	if (!d)
		return 1;
	unic_mac(d, mac);
	printf("TAPIO READY %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	fflush(stdout);
	while (frames < count && now() - t0 < timeout) {
		uint16_t n = unic_rx_burst(d, 0, bufs, BURST), i;
		for (i = 0; i < n; i++) {
			const uint8_t *p = unic_buf_data(bufs[i]);
			if (bufs[i]->len >= 14 && p[12] == ETHERTYPE_HI && p[13] == ETHERTYPE_LO && frames < count) {
				print_frame(p, bufs[i]->len);
				frames++;
			} else {
				other++;
			}
		}
		unic_buf_free_bulk(bufs, n);
		if (!n)
			sleep_us(100);
	}
	printf("TAPIO rx frames=%lu other=%lu\n", frames, other);
	unic_close(d);
	return frames == count ? 0 : 1;
}

static void tx_pattern(uint8_t *p, unsigned size, const uint8_t mac[6], uint32_t i)
{
	unsigned k;

	memset(p, 0xff, 6);
	memcpy(p + 6, mac, 6);
	p[12] = ETHERTYPE_HI;
	p[13] = ETHERTYPE_LO;
	p[14] = (uint8_t)(i >> 24);
	p[15] = (uint8_t)(i >> 16);
	p[16] = (uint8_t)(i >> 8);
	p[17] = (uint8_t)i;
	for (k = 18; k < size; k++)
		p[k] = (uint8_t)(i * 31 + k);
}

static int do_tx(const char *spec, unsigned long count, unsigned size)
{
	struct unic_dev *d = open_dev(spec, false);
	struct unic_buf *bufs[BURST];
	unsigned long sent = 0;
	uint8_t mac[6];
	double t0 = now();

	if (!d)
		return 1;
	unic_mac(d, mac);
	while (sent < count && now() - t0 < DEFAULT_TIMEOUT) {
		uint32_t n = count - sent < BURST ? (uint32_t)(count - sent) : BURST, i;
		uint16_t taken;
		if (unic_buf_alloc_bulk(unic_dev_mempool(d), bufs, n) != n) {
			sleep_us(100);
			continue;
		}
		for (i = 0; i < n; i++) {
			tx_pattern(unic_buf_data(bufs[i]), size, mac, (uint32_t)(sent + i));
			bufs[i]->len = (uint16_t)size;
		}
		taken = unic_tx_burst(d, 0, bufs, (uint16_t)n);
		unic_buf_free_bulk(bufs + taken, n - taken);
		sent += taken;
		/* a tap is slower than a hub: pace the bursts */
		sleep_us(2000);
	}
	sleep_us(TX_DRAIN_US);
	printf("TAPIO tx sent=%lu\n", sent);
	unic_close(d);
	return sent == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--mtu")) {
		mtu = (unsigned)strtoul(argv[2], NULL, 0);
		frame_max = mtu + ETH_HLEN;
		argc -= 2;
		argv += 2;
	}
	if (argc >= 4 && !strcmp(argv[1], "rx"))
		return do_rx(argv[2], strtoul(argv[3], NULL, 0), argc > 4 ? strtod(argv[4], NULL) : DEFAULT_TIMEOUT);
	if (argc == 5 && !strcmp(argv[1], "tx")) {
		unsigned size = (unsigned)strtoul(argv[4], NULL, 0);
		if (size >= ETH_MIN && size <= frame_max && mtu <= UINT16_MAX)
			return do_tx(argv[2], strtoul(argv[3], NULL, 0), size);
	}
	fprintf(stderr, "usage: unic-lab-tapio [--mtu MTU] rx SPEC COUNT [TIMEOUT] | tx SPEC COUNT SIZE\n");
	return 2;
}
