/*
 * test_tools: what the tools' options and --verify promise.
 * - --cpus LIST (apps/common/cpulist.c): the CPUs in the order written, ranges expanded, and
 *   one error line for each malformed list or for a CPU the process may not run on.
 * - --verify per flow (apps/common/verify.c): frames written by unic-pktgen's code over many
 *   flows, interleaved across flows as several queues deliver them: nothing is reported when
 *   each flow is in order; a lost, duplicated, late or corrupt frame is charged to its flow
 *   and to the total, and no other flow.
 * - --json (apps/common/tool.c): unic-fwd's per-queue objects nest five deep; every member
 *   gets its separator at every depth (a bug once wrote `{,"packets"` at the fifth).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/cpulist.h"
#include "common/tool.h"
#include "common/verify.h"

#define UNIC_TEST_ERR_LEN 256

static int parse(const char *s, int *cpus, char *err)
{
	return cpulist_parse(s, cpus, err, UNIC_TEST_ERR_LEN);
}

static void test_cpulist(void)
{
	static const char *const bad[] = { "", "a", "1,", ",1", "1,,2", "3-1", "1-", "-1", "0x1", "1 ", "1-2-3",
					   "99999999999", "1.5" };
	char err[UNIC_TEST_ERR_LEN];
	int cpus[CPULIST_MAX], n, i, refused = 0, one_line = 0;
	cpu_set_t allowed;

	n = parse("3,0-2,7", cpus, err);
	CHECK(n == 5 && cpus[0] == 3 && cpus[1] == 0 && cpus[2] == 1 && cpus[3] == 2 && cpus[4] == 7);
	CHECK(parse("0", cpus, err) == 1 && cpus[0] == 0);
	CHECK(parse("0-63", cpus, err) == CPULIST_MAX && cpus[63] == 63);
	CHECK(parse("0-64", cpus, err) == -1 && strstr(err, "more than 64"));
	for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
		err[0] = 0;
		refused += parse(bad[i], cpus, err) == -1;
		one_line += strstr(err, "--cpus") && !strchr(err, '\n');
	}
	CHECK(refused == (int)(sizeof bad / sizeof bad[0]));
	CHECK(one_line == refused);

	CPU_ZERO(&allowed);
	CPU_SET(0, &allowed);
	CPU_SET(1, &allowed);
	CPU_SET(4, &allowed);
	n = parse("1,0,4", cpus, err);
	CHECK(cpulist_check(cpus, n, &allowed, err, sizeof err) == 0);
	n = parse("0-2", cpus, err);
	CHECK(cpulist_check(cpus, n, &allowed, err, sizeof err) == -1);
	CHECK(strstr(err, "CPU 2 does not exist") && strstr(err, "(allowed: 0-1,4)"));
}

/* Frames of nflows flows, perflow each, in the order queues would hand them over: flow f is
 * on "queue" f % 2, the queues take turns by bursts of 7 frames. */
#define FLOWS 64
#define PER_FLOW 200
#define SIZE 80

struct gen {
	struct pkt_gen_template t;
	struct pkt_gen_flow f[FLOWS];
};

static void gen_init(struct gen *g)
{
	static const uint8_t src[PKT_MAC_LEN] = { 2, 0, 0, 0, 0, 1 }, dst[PKT_MAC_LEN] = { 2, 0, 0, 0, 0, 2 };
	uint32_t i;

	pkt_gen_template_init(&g->t, SIZE, src, dst, htonl(0xc6120001), htonl(0xc6120002));
	for (i = 0; i < FLOWS; i++)
		pkt_gen_flow_init(&g->t, i, &g->f[i]);
}

/* Feeds every frame of every flow; hook may change (or skip: return 0) frame seq of flow f. */
static void feed(struct verify *v, const struct gen *g, int (*hook)(uint32_t f, uint64_t seq, uint8_t *frame))
{
	uint8_t frame[SIZE];
	uint64_t next[2] = { 0, 0 }; /* per queue: index of its next frame (flow-major round robin) */
	const uint64_t per_queue = (uint64_t)FLOWS / 2 * PER_FLOW;
	int q = 0, k;

	while (next[0] < per_queue || next[1] < per_queue) {
		for (k = 0; k < 7 && next[q] < per_queue; k++, next[q]++) {
			uint32_t f = (uint32_t)(next[q] % (FLOWS / 2)) * 2 + (uint32_t)q;
			uint64_t seq = next[q] / (FLOWS / 2);
			pkt_gen_write(&g->t, &g->f[f], frame, seq, seq * 1000);
			if (!hook || hook(f, seq, frame))
				verify_frame(v, frame, SIZE);
		}
		q ^= 1;
	}
}

static int drop_f5_seq10(uint32_t f, uint64_t seq, uint8_t *frame)
{
	(void)frame;
	return !(f == 5 && seq == 10);
}

static int corrupt_f9_seq3(uint32_t f, uint64_t seq, uint8_t *frame)
{
	if (f == 9 && seq == 3)
		frame[SIZE - 1] ^= 1; /* the fill: the payload checksum catches it */
	return 1;
}

/* Which flow of v has key k (by pktgen flow number f). */
static const struct verify_flow *find(const struct verify *v, const struct gen *g, uint32_t f)
{
	uint32_t i;

	for (i = 0; i < v->nflows; i++)
		if (v->flows[i].key.src == g->f[f].src_ip && v->flows[i].key.sport == htons(g->f[f].sport))
			return &v->flows[i];
	return NULL;
}

/* Every flow but one has clean counts and all its frames. */
static int others_clean(const struct verify *v, const struct gen *g, uint32_t except)
{
	const struct verify_flow *fl;
	uint32_t f;
	int bad = 0;

	for (f = 0; f < FLOWS; f++) {
		fl = find(v, g, f);
		if (f == except)
			continue;
		bad += !fl || fl->c.valid != PER_FLOW || fl->c.lost || fl->c.duplicated || fl->c.reordered ||
		       fl->c.corrupt || fl->next != PER_FLOW;
	}
	return bad == 0;
}

static void test_verify(void)
{
	static struct gen g;
	struct verify v;
	const struct verify_flow *fl;
	uint8_t frame[SIZE];
	char name[64];

	gen_init(&g);
	/* interleaved across flows, in order within each: all clean */
	CHECK(verify_init(&v) == 0);
	feed(&v, &g, NULL);
	CHECK(v.nflows == FLOWS && v.received == (uint64_t)FLOWS * PER_FLOW);
	CHECK(v.total.valid == (uint64_t)FLOWS * PER_FLOW && !v.total.lost && !v.total.duplicated &&
	      !v.total.reordered && !v.total.corrupt && !v.other && !v.untracked);
	CHECK(others_clean(&v, &g, FLOWS));
	verify_flow_name(&v.flows[0].key, name, sizeof name);
	CHECK(strcmp(name, "198.18.0.1:9000>198.18.0.2:9000") == 0);

	/* flow 5 loses one frame; then it comes late; then it comes again */
	pkt_gen_write(&g.t, &g.f[5], frame, 10, 10000);
	verify_free(&v);
	CHECK(verify_init(&v) == 0);
	feed(&v, &g, drop_f5_seq10);
	fl = find(&v, &g, 5);
	CHECK(fl && fl->c.lost == 1 && fl->c.valid == PER_FLOW - 1 && v.total.lost == 1);
	CHECK(others_clean(&v, &g, 5));
	verify_frame(&v, frame, SIZE);
	CHECK(fl->c.lost == 0 && fl->c.reordered == 1 && v.total.lost == 0 && v.total.reordered == 1);
	verify_frame(&v, frame, SIZE);
	CHECK(fl->c.duplicated == 1 && v.total.duplicated == 1 && fl->c.valid == PER_FLOW + 1);
	CHECK(others_clean(&v, &g, 5));

	/* flow 9's frame 3 corrupt: charged to flow 9 and the total; its gap is a loss of flow 9 */
	verify_free(&v);
	CHECK(verify_init(&v) == 0);
	feed(&v, &g, corrupt_f9_seq3);
	fl = find(&v, &g, 9);
	CHECK(fl && fl->c.corrupt == 1 && v.total.corrupt == 1 && fl->c.lost == 1 && v.total.lost == 1);
	CHECK(others_clean(&v, &g, 9));
	/* a corrupt frame whose headers name no known flow counts in the total only */
	pkt_gen_write(&g.t, &g.f[9], frame, 0, 0);
	frame[SIZE - 1] ^= 1;
	frame[26] ^= 0x40; /* the source address: a flow never seen (and a bad IPv4 checksum) */
	verify_frame(&v, frame, SIZE);
	CHECK(v.total.corrupt == 2 && v.nflows == FLOWS);
	verify_free(&v);
	CHECK(v.flows == NULL);
}

static void test_json(void)
{
	static const char want[] = "{\"tool\":\"t\",\"queues\":[{\"queue\":0,\"dev1\":{\"rx\":{\"packets\":1,"
				   "\"bytes\":2},\"tx\":{\"packets\":3}}},{\"queue\":1}],\"n\":4}\n";
	struct tool_json j;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	CHECK(f != NULL);
	if (!f)
		return;
	tool_json_begin_to(&j, f);
	tool_json_str(&j, "tool", "t");
	tool_json_arr_begin(&j, "queues");
	tool_json_obj_begin(&j, NULL);
	tool_json_u64(&j, "queue", 0);
	tool_json_obj_begin(&j, "dev1");
	tool_json_obj_begin(&j, "rx");
	tool_json_u64(&j, "packets", 1);
	tool_json_u64(&j, "bytes", 2);
	tool_json_obj_end(&j);
	tool_json_obj_begin(&j, "tx");
	tool_json_u64(&j, "packets", 3);
	tool_json_obj_end(&j);
	tool_json_obj_end(&j);
	tool_json_obj_end(&j);
	tool_json_obj_begin(&j, NULL);
	tool_json_u64(&j, "queue", 1);
	tool_json_obj_end(&j);
	tool_json_arr_end(&j);
	tool_json_u64(&j, "n", 4);
	tool_json_end(&j);
	fclose(f);
	CHECK(out && strcmp(out, want) == 0);
	if (out && strcmp(out, want))
		printf("  got  %s  want %s", out, want);
	free(out);
}

int main(void)
{
	test_json();
	test_cpulist();
	test_verify();
	return check_summary("test_tools");
}
