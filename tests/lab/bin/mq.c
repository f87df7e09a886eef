/*
 * unic-lab-mq - several queue pairs of one NIC wired to a multi-queue host tap
 * (host side: tests/lab/host/mq.py).
 *
 *   unic-lab-mq [--queues Q] [--mtu MTU] [--size B] [--tx N] [--rx N] [--dropped D] [--rss [--rss-max B]]
 *               [--timeout S] SPEC
 *
 * Opens SPEC with Q rx and Q tx queues (default 2), promiscuous, unic_config.mtu MTU
 * (default 1500), prints "MQ READY <mac> <unic_info features>", then in one loop:
 *   - sends N frames (default 64) of B bytes (default 60) on every tx queue, paced for a tap;
 *   - polls every rx queue for the host's frames (IPv4/UDP to port 9 whose payload starts
 *     "UNICMQ"), printing each as "MQRX <queue> <length> <fnv1a-64 of the frame>", until
 *     it has --rx of them (default 128) or TIMEOUT seconds (default 30).
 * With --rss the device must have RSS: the table is first set through unic_set_rss to
 * entry i -> queue (i / 3) % Q (not unic_open's default), and each host frame must land on
 * the queue that table gives for the Toeplitz hash of its IPv4 addresses and UDP ports
 * under the default key (spec 5.1.6.4.3.1 / Microsoft's RSS hash); with --rss-max, only frames of
 * at most B bytes are checked (the others are counted as "unchecked").
 * With --dropped D the host also sends D frames longer than the buffers (mtu + 18): the device
 * spreads each over several (MRG_RXBUF, num_buffers > 1), and the rx queues must drop and count
 * them all (rx_dropped summed over the queues == D) and deliver none.
 * Then, per queue, "MQ queue q rx_packets=... rx_bytes=... rx_dropped=... tx_packets=...
 * tx_dropped=... bad_device=..." (unic_queue_stats), and "MQ OK" or "MQ FAIL <why>": every tx
 * frame taken, every host frame received once, every queue carried frames both ways, counters
 * equal to the frames counted here, rx_dropped as said, bad_device 0.
 *
 * The tx pattern (tests/lab/host/mq.py regenerates it byte by byte), queue q, frame i:
 *   bytes 0-5    ff:ff:ff:ff:ff:ff
 *   bytes 6-11   the device's MAC
 *   bytes 12-13  0x88 0xb5
 *   byte  14     q
 *   bytes 15-18  i, big-endian 32 bits
 *   byte  k>=19  (q * 101 + i * 31 + k) & 0xff
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbin.h"
#include "unic.h"

#define ETH_HLEN 14
#define ETH_MIN 60
#define ETHERTYPE_LOCAL_HI 0x88
#define ETHERTYPE_LOCAL_LO 0xb5
#define ETHERTYPE_IPV4 0x0800
#define IP_PROTO_UDP 17
#define UDP_PORT_DISCARD 9
#define MAGIC "UNICMQ"
#define MAGIC_LEN 6
#define MAX_QUEUES 16
#define BURST 32
#define TX_BURST 8           /* per queue and pass: a tap under TCG is slow */
#define TX_PACE_US 2000
#define TX_DRAIN_US 1000000
#define RSS_KEY_LEN 40
#define RSS_RETA_MAX 512
#define RETA_STRIDE 3         /* --rss: entry i -> queue (i / 3) % Q */

/* The default key unic_open gives (Microsoft's RSS specification, "Verifying the RSS hash"). */
static const uint8_t rss_key[RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct opts {
	unsigned queues, mtu, size, tx, rx, dropped;
	double timeout;
	bool rss;
	unsigned rss_max;
	const char *spec;
};

struct state {
	struct unic_dev *d;
	uint8_t mac[6];
	uint16_t reta[RSS_RETA_MAX];
	uint16_t reta_len;
	unsigned long tx_taken[MAX_QUEUES], rx_frames[MAX_QUEUES], rx_other[MAX_QUEUES];
	unsigned long rx_total, misplaced, unchecked;
};

static void usage(void)
{
	fprintf(stderr, "usage: unic-lab-mq [--queues Q] [--mtu MTU] [--size B] [--tx N] [--rx N] [--rss] "
			"[--timeout S] SPEC\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "queues", 1, 0, 'q' }, { "mtu", 1, 0, 'm' }, { "size", 1, 0, 's' }, { "tx", 1, 0, 't' },
		{ "rx", 1, 0, 'r' }, { "rss", 0, 0, 'R' }, { "rss-max", 1, 0, 'M' }, { "timeout", 1, 0, 'T' },
		{ "dropped", 1, 0, 'D' }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ .queues = 2, .mtu = 1500, .size = ETH_MIN, .tx = 64, .rx = 128, .timeout = 30,
			    .rss_max = UINT16_MAX };
	while ((c = getopt_long(argc, argv, "q:m:s:t:r:RM:T:D:", lo, NULL)) != -1) {
		switch (c) {
		case 'q': o->queues = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': o->mtu = (unsigned)strtoul(optarg, NULL, 0); break;
		case 's': o->size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': o->tx = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': o->rx = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': o->rss = true; break;
		case 'M': o->rss_max = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'T': o->timeout = strtod(optarg, NULL); break;
		case 'D': o->dropped = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (argc - optind != 1 || o->queues == 0 || o->queues > MAX_QUEUES || o->mtu > UINT16_MAX ||
	    o->size < ETH_MIN || o->size > o->mtu + ETH_HLEN)
		usage();
	o->spec = argv[optind];
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

/* Toeplitz hash of n input bytes under the 40-byte key (Microsoft's RSS specification). */
static uint32_t toeplitz(const uint8_t *in, size_t n)
{
	uint32_t h = 0, window = (uint32_t)rss_key[0] << 24 | (uint32_t)rss_key[1] << 16 | (uint32_t)rss_key[2] << 8 |
			       rss_key[3];
	size_t i;
	int b;

	for (i = 0; i < n; i++)
		for (b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				h ^= window;
			window <<= 1;
			if (i + 4 < RSS_KEY_LEN && rss_key[i + 4] >> b & 1)
				window |= 1;
		}
	return h;
}

static void tx_pattern(uint8_t *p, unsigned size, const uint8_t mac[6], unsigned q, uint32_t i)
{
	unsigned k;

	memset(p, 0xff, 6);
	memcpy(p + 6, mac, 6);
	p[12] = ETHERTYPE_LOCAL_HI;
	p[13] = ETHERTYPE_LOCAL_LO;
	p[14] = (uint8_t)q;
	p[15] = (uint8_t)(i >> 24);
	p[16] = (uint8_t)(i >> 16);
	p[17] = (uint8_t)(i >> 8);
	p[18] = (uint8_t)i;
	for (k = 19; k < size; k++)
		p[k] = (uint8_t)(q * 101 + i * 31 + k);
}

/* The host's frames: IPv4 (no options) / UDP to port 9 / "UNICMQ"... Offset of UDP, or 0. */
static unsigned host_frame(const uint8_t *p, unsigned len)
{
	unsigned ihl;

	if (len < ETH_HLEN + 20 + 8 + MAGIC_LEN || (p[12] << 8 | p[13]) != ETHERTYPE_IPV4)
		return 0;
	ihl = (p[ETH_HLEN] & 0xf) * 4u;
	if (ihl < 20 || p[ETH_HLEN + 9] != IP_PROTO_UDP || len < ETH_HLEN + ihl + 8 + MAGIC_LEN)
		return 0;
	if ((p[ETH_HLEN + ihl + 2] << 8 | p[ETH_HLEN + ihl + 3]) != UDP_PORT_DISCARD ||
	    memcmp(p + ETH_HLEN + ihl + 8, MAGIC, MAGIC_LEN))
		return 0;
	return ETH_HLEN + ihl;
}

/* The queue RSS must have put this frame on: addresses (12..19 of the IP header), then ports. */
static unsigned rss_queue(const struct state *s, const uint8_t *p, unsigned udp)
{
	uint8_t in[12];

	memcpy(in, p + ETH_HLEN + 12, 8);
	memcpy(in + 8, p + udp, 4);
	return s->reta[toeplitz(in, sizeof in) & (uint32_t)(s->reta_len - 1)];
}

static void receive(struct state *s, const struct opts *o, unsigned q)
{
	struct unic_buf *b[BURST];
	uint16_t n = unic_rx_burst(s->d, (uint16_t)q, b, BURST), i;

	for (i = 0; i < n; i++) {
		const uint8_t *p = unic_buf_data(b[i]);
		unsigned udp = host_frame(p, b[i]->len);
		if (!udp) {
			s->rx_other[q]++;
			continue;
		}
		printf("MQRX %u %u %016llx\n", q, b[i]->len, (unsigned long long)fnv1a64(p, b[i]->len));
		s->rx_frames[q]++;
		s->rx_total++;
		if (o->rss && b[i]->len > o->rss_max) {
			s->unchecked++;
		} else if (o->rss && rss_queue(s, p, udp) != q) {
			printf("MQ misplaced: a frame on queue %u, the table says %u\n", q, rss_queue(s, p, udp));
			s->misplaced++;
		}
	}
	unic_buf_free_bulk(b, n);
}

static void transmit(struct state *s, const struct opts *o, unsigned q)
{
	struct unic_buf *b[TX_BURST];
	uint32_t n = o->tx - s->tx_taken[q] < TX_BURST ? (uint32_t)(o->tx - s->tx_taken[q]) : TX_BURST, i;
	uint16_t taken;

	if (!n || unic_buf_alloc_bulk(unic_dev_mempool(s->d), b, n) != n)
		return;
	for (i = 0; i < n; i++) {
		tx_pattern(unic_buf_data(b[i]), o->size, s->mac, q, (uint32_t)(s->tx_taken[q] + i));
		b[i]->len = (uint16_t)o->size;
	}
	taken = unic_tx_burst(s->d, (uint16_t)q, b, (uint16_t)n);
	unic_buf_free_bulk(b + taken, n - taken);
	s->tx_taken[q] += taken;
}

static int set_table(struct state *s, const struct opts *o)
{
	struct unic_info info;
	unsigned i;
	int r;

	if (unic_info(s->d, &info) || !info.rss_reta_size || info.rss_reta_size > RSS_RETA_MAX ||
	    info.rss_key_len != RSS_KEY_LEN) {
		printf("MQ FAIL --rss: the device has no RSS table unic-lab-mq can use (%u entries, %u-byte key)\n",
		       info.rss_reta_size, info.rss_key_len);
		return -1;
	}
	s->reta_len = info.rss_reta_size;
	for (i = 0; i < s->reta_len; i++)
		s->reta[i] = (uint16_t)(i / RETA_STRIDE % o->queues);
	if ((r = unic_set_rss(s->d, NULL, 0, s->reta, s->reta_len))) {
		printf("MQ FAIL unic_set_rss: %d: %s\n", r, unic_last_error(s->d));
		return -1;
	}
	printf("MQ rss table: %u entries, entry i -> queue (i / %d) %% %u\n", s->reta_len, RETA_STRIDE, o->queues);
	return 0;
}

static struct unic_dev *open_dev(const struct opts *o)
{
	struct unic_config cfg;
	char err[UNIC_ERR_LEN];
	struct unic_dev *d;

	unic_config_init(&cfg);
	cfg.promisc = true;
	cfg.rx_queues = cfg.tx_queues = (uint16_t)o->queues;
	cfg.mtu = (uint16_t)o->mtu;
	d = unic_open(o->spec, &cfg, err, sizeof err);
	if (!d)
		printf("MQ FAIL open %s: %s\n", o->spec, err);
	return d;
}

static unsigned long long rx_dropped(struct state *s, const struct opts *o)
{
	unsigned long long n = 0;
	unsigned q;

	for (q = 0; q < o->queues; q++) {
		struct unic_queue_stats st;
		unic_queue_stats(s->d, (uint16_t)q, &st);
		n += st.rx_dropped;
	}
	return n;
}

/* Per-queue counters against what was counted here; 0 when every queue carried both ways. */
static int report(struct state *s, const struct opts *o)
{
	unsigned q, bad = 0;
	unsigned long long dropped = 0;

	for (q = 0; q < o->queues; q++) {
		struct unic_queue_stats st;
		unic_queue_stats(s->d, (uint16_t)q, &st);
		printf("MQ queue %u rx_packets=%llu rx_bytes=%llu rx_dropped=%llu host_frames=%lu other=%lu tx_packets=%llu "
		       "tx_bytes=%llu tx_dropped=%llu bad_device=%llu\n", q, (unsigned long long)st.rx_packets,
		       (unsigned long long)st.rx_bytes, (unsigned long long)st.rx_dropped, s->rx_frames[q], s->rx_other[q],
		       (unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
		       (unsigned long long)st.tx_dropped, (unsigned long long)st.bad_device);
		dropped += st.rx_dropped;
		if (!s->rx_frames[q] || s->tx_taken[q] != o->tx || st.tx_packets != o->tx || st.tx_dropped ||
		    st.rx_packets != s->rx_frames[q] + s->rx_other[q] || st.bad_device)
			bad++;
	}
	if (s->rx_total != o->rx || bad || s->misplaced || dropped != o->dropped) {
		printf("MQ FAIL host frames %lu of %u, %u queues short or miscounted, %lu misplaced, rx_dropped %llu of %u\n",
		       s->rx_total, o->rx, bad, s->misplaced, dropped, o->dropped);
		return 1;
	}
	printf("MQ OK %u queues: %u host frames received, %u sent per queue, %llu too long for a buffer dropped",
	       o->queues, o->rx, o->tx, dropped);
	if (o->rss)
		printf("; RSS: %lu frames on the queue the table gives, %lu above --rss-max unchecked",
		       s->rx_total - s->unchecked, s->unchecked);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct state s = { 0 };
	struct unic_info info;
	unsigned q;
	double t0;
	int rc;

	parse(argc, argv, &o);
	if (!(s.d = open_dev(&o)))
		return 1;
	unic_mac(s.d, s.mac);
	unic_info(s.d, &info);
	if (o.rss && set_table(&s, &o)) {
		unic_close(s.d);
		return 1;
	}
	printf("MQ READY %02x:%02x:%02x:%02x:%02x:%02x %s; %u rx and %u tx queues, mtu %u\n", s.mac[0], s.mac[1],
	       s.mac[2], s.mac[3], s.mac[4], s.mac[5], info.features, info.rx_queues, info.tx_queues, info.mtu);
	fflush(stdout);
	t0 = now();
	for (;;) {
		bool tx_done = true;
		for (q = 0; q < o.queues; q++) {
			transmit(&s, &o, q);
			tx_done &= s.tx_taken[q] == o.tx;
			receive(&s, &o, q);
		}
		if ((tx_done && s.rx_total >= o.rx && rx_dropped(&s, &o) >= o.dropped) || now() - t0 > o.timeout)
			break;
		sleep_us(TX_PACE_US);
	}
	/* what the device still holds goes out, and late host frames are counted */
	for (t0 = now(); now() - t0 < TX_DRAIN_US / 1e6;)
		for (q = 0; q < o.queues; q++)
			receive(&s, &o, q);
	rc = report(&s, &o);
	fflush(stdout);
	unic_close(s.d);
	return rc;
}
