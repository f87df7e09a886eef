/*
 * test_echo: unic-echo's frame handler (apps/common/echo.c) against a device
 * that rewrites the frame while the handler runs.
 *
 * The frame sits in memory the NIC can still write. The test makes that race
 * deterministic: the frame's page is mapped PROT_NONE, every access to it
 * faults, the SIGSEGV handler opens the page for exactly one instruction
 * (x86 trap flag) and the SIGTRAP handler closes it again, counting accesses.
 * After access number N the "device" rewrites a length field (IPv4 total
 * length, header length, UDP length). For every N and every such rewrite the
 * handler must stay inside the frame (a guard page after it, or any other
 * fault, ends the run as out of bounds) and a reply must fit in cap. A handler that reads a length once,
 * checks it and later reads it again fails here.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"
#include "common/echo.h"
#include "common/pkt.h"

#if defined(__x86_64__)
#define EFLAGS_TF 0x100UL /* Intel SDM vol. 1, 3.4.3.3: trap flag, single-step */
#define PAGE 4096UL

static struct echo_cfg cfg = {
	.mac = { 0x02, 0, 0, 0, 0, 0x02 },
	.ip = 0,   /* set in main: 10.0.0.2 */
};

static uint8_t *area;             /* page 0: the frame, at its end; page 1: a PROT_NONE guard */
static sigjmp_buf escape;
static uint8_t *frame;
static size_t frame_cap;
static volatile unsigned long accesses, mutate_at, oob, before;
static volatile size_t mut_off, mut_len;
static uint8_t mut_bytes[2];

static void protect_frame(int prot)
{
	if (mprotect(area, PAGE, prot))
		_exit(2);
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uint8_t *addr = si->si_addr;

	(void)sig;
	if (addr < area || addr >= area + PAGE) {
		oob++; /* past cap (the guard page) or anywhere else: this run is over */
		siglongjmp(escape, 1);
	}
	if (addr < frame)
		before++;
	protect_frame(PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= EFLAGS_TF;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] &= ~EFLAGS_TF;
	if (++accesses == mutate_at)
		memcpy(frame + mut_off, mut_bytes, mut_len); /* the device writes now */
	protect_frame(PROT_NONE);
}

/* An Ethernet/IPv4 frame to cfg, from 10.0.0.1, carrying an ICMP echo request or a UDP datagram to port 7. */
static size_t build(uint8_t *f, uint8_t proto, size_t payload)
{
	static const uint8_t src_mac[PKT_MAC_LEN] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct pkt_eth *eth = (struct pkt_eth *)f;
	struct pkt_ipv4 *ip = (struct pkt_ipv4 *)(eth + 1);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	size_t l4_len = 8 + payload, i;

	memcpy(eth->dst, cfg.mac, PKT_MAC_LEN);
	memcpy(eth->src, src_mac, PKT_MAC_LEN);
	eth->type = htons(PKT_ETHERTYPE_IPV4);
	memset(ip, 0, sizeof *ip);
	ip->ver_ihl = PKT_IP_VERSION << 4 | PKT_IP_MIN_IHL;
	ip->tot_len = htons((uint16_t)(sizeof *ip + l4_len));
	ip->ttl = PKT_IP_DEFAULT_TTL;
	ip->proto = proto;
	ip->src = htonl(0x0a000001);
	ip->dst = cfg.ip;
	ip->csum = pkt_fold(pkt_sum(ip, sizeof *ip, 0));
	for (i = 8; i < l4_len; i++)
		l4[i] = (uint8_t)(i * 7);
	if (proto == PKT_IPPROTO_ICMP) {
		struct pkt_icmp *icmp = (struct pkt_icmp *)l4;
		icmp->type = PKT_ICMP_ECHO_REQUEST;
		icmp->code = 0;
		icmp->id = htons(1);
		icmp->seq = htons(2);
		icmp->csum = 0;
		icmp->csum = pkt_fold(pkt_sum(icmp, l4_len, 0));
	} else {
		struct pkt_udp *udp = (struct pkt_udp *)l4;
		udp->sport = htons(40000);
		udp->dport = htons(ECHO_UDP_PORT);
		udp->len = htons((uint16_t)l4_len);
		udp->csum = 0;
		udp->csum = pkt_fold(pkt_sum(udp, l4_len, pkt_udp_pseudo_sum(ip, l4_len)));
	}
	return sizeof *eth + sizeof *ip + l4_len;
}

struct run {
	enum echo_verdict v;
	size_t out_len;
};

/* One echo_frame() call on the watched frame; the device rewrites mut_* after access `at` (0: never). */
static struct run watched(const uint8_t *tmpl, size_t len, unsigned long at)
{
	struct run r = { 0 };

	memcpy(frame, tmpl, len);
	accesses = 0;
	mutate_at = at;
	protect_frame(PROT_NONE);
	if (!sigsetjmp(escape, 1))
		r.v = echo_frame(&cfg, frame, len, frame_cap, &r.out_len);
	else
		r.v = ECHO_VERDICTS; /* went past the frame: the reply is void */
	protect_frame(PROT_READ | PROT_WRITE);
	return r;
}

struct mutation {
	const char *name;
	size_t off;      /* from the frame's start */
	size_t len;
	uint8_t bytes[2];
};

static void race(const char *what, const uint8_t *tmpl, size_t len, const struct mutation *m)
{
	unsigned long n, total, bad_len = 0, bad_verdict = 0, oob_runs = 0, oob_clean = oob;
	struct run clean = watched(tmpl, len, 0);

	total = accesses;
	CHECK(clean.v < ECHO_ANSWERS && clean.out_len == len && oob == oob_clean);
	mut_off = m->off;
	mut_len = m->len;
	memcpy(mut_bytes, m->bytes, m->len);
	for (n = 1; n <= total + 1; n++) {
		unsigned long oob_before = oob;
		struct run r = watched(tmpl, len, n);

		oob_runs += oob != oob_before;
		bad_verdict += (unsigned)r.v >= ECHO_VERDICTS && oob == oob_before;
		bad_len += r.v < ECHO_ANSWERS && r.out_len > frame_cap;
	}
	printf("  %s, %s rewritten after each of %lu accesses: %lu runs went past the frame, %lu replies longer "
	       "than it\n", what, m->name, total, oob_runs, bad_len);
	CHECK(oob_runs == 0);
	CHECK(bad_len == 0);
	CHECK(bad_verdict == 0);
}

#define ETH_LEN sizeof(struct pkt_eth)
#define IP_TOT_LEN_OFF (ETH_LEN + offsetof(struct pkt_ipv4, tot_len))
#define IP_VER_IHL_OFF (ETH_LEN + offsetof(struct pkt_ipv4, ver_ihl))
#define UDP_LEN_OFF (ETH_LEN + sizeof(struct pkt_ipv4) + offsetof(struct pkt_udp, len))

static void test_races(void)
{
	static const struct mutation ip_muts[] = {
		{ "IPv4 total length 65535", IP_TOT_LEN_OFF, 2, { 0xff, 0xff } },
		{ "IPv4 total length 0", IP_TOT_LEN_OFF, 2, { 0, 0 } },
		{ "IPv4 header length 60", IP_VER_IHL_OFF, 1, { 0x4f } },
		{ "IPv4 header length 0", IP_VER_IHL_OFF, 1, { 0x40 } },
	};
	static const struct mutation udp_muts[] = {
		{ "UDP length 65535", UDP_LEN_OFF, 2, { 0xff, 0xff } },
		{ "UDP length 0", UDP_LEN_OFF, 2, { 0, 0 } },
	};
	uint8_t icmp[128], udp[128];
	size_t icmp_len = build(icmp, PKT_IPPROTO_ICMP, 40), udp_len = build(udp, PKT_IPPROTO_UDP, 40);
	size_t i;

	for (i = 0; i < sizeof ip_muts / sizeof ip_muts[0]; i++) {
		frame_cap = icmp_len;
		frame = area + PAGE - frame_cap;
		race("ICMP echo", icmp, icmp_len, &ip_muts[i]);
		frame_cap = udp_len;
		frame = area + PAGE - frame_cap;
		race("UDP echo", udp, udp_len, &ip_muts[i]);
	}
	for (i = 0; i < sizeof udp_muts / sizeof udp_muts[0]; i++)
		race("UDP echo", udp, udp_len, &udp_muts[i]);
	CHECK(before == 0);
}

/* Unwatched: the replies themselves are right (checksums verify, addresses turned around). */
static void test_replies(void)
{
	uint8_t f[128];
	size_t len, out = 0;
	const struct pkt_ipv4 *ip = (const struct pkt_ipv4 *)(f + ETH_LEN);

	len = build(f, PKT_IPPROTO_ICMP, 41);
	CHECK(echo_frame(&cfg, f, len, len, &out) == ECHO_ICMP_REPLY && out == len);
	CHECK(pkt_fold(pkt_sum(ip, sizeof *ip, 0)) == 0 && ip->src == cfg.ip && ip->dst == htonl(0x0a000001));
	CHECK(pkt_fold(pkt_sum(ip + 1, len - ETH_LEN - sizeof *ip, 0)) == 0);
	CHECK(((const struct pkt_icmp *)(ip + 1))->type == PKT_ICMP_ECHO_REPLY);
	CHECK(!memcmp(f + PKT_MAC_LEN, cfg.mac, PKT_MAC_LEN) && f[5] == 0x01);

	len = build(f, PKT_IPPROTO_UDP, 41);
	CHECK(echo_frame(&cfg, f, len, len, &out) == ECHO_UDP_REPLY && out == len);
	{
		const struct pkt_udp *u = (const struct pkt_udp *)(ip + 1);
		size_t ul = ntohs(u->len);
		CHECK(u->sport == htons(ECHO_UDP_PORT) && u->dport == htons(40000));
		CHECK(pkt_fold(pkt_sum(u, ul, pkt_udp_pseudo_sum(ip, ul))) == 0);
	}
	/* a reply looped back is not answered */
	CHECK(echo_frame(&cfg, f, out, out, &out) >= ECHO_ANSWERS);
}

int main(void)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO };

	cfg.ip = htonl(0x0a000002);
	area = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED && !mprotect(area + PAGE, PAGE, PROT_NONE));
	if (area == MAP_FAILED)
		return check_summary("test_echo");
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = on_trap;
	sigaction(SIGTRAP, &sa, NULL);
	test_replies();
	test_races();
	return check_summary("test_echo");
}
#else
int main(void)
{
	printf("test_echo: the watched-frame test needs x86-64 (trap flag)\n");
	return 1;
}
#endif
