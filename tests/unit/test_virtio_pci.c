/*
 * The virtio PCI transports against fake devices: a 256-byte config space image
 * in a memfd (dev->config_fd: pread/pwrite work on it as on the sysfs config file),
 * memory BARs as plain memory in dev->bars[], and the legacy I/O BAR 0 as a memfd
 * (dev->bars[0].io_fd: pci.c's I/O accessors pread/pwrite it).
 *
 * Modern: a well-formed device probes; capability lists that loop (two vendor
 * capabilities pointing at each other, a self-loop), point into the header or are
 * misaligned, and virtio capabilities that are too short, name a bad or unmapped
 * BAR, run past their BAR, are misaligned or whose notify multiplier sends a queue's
 * notify address out of its area, or a missing common config, must each fail fast
 * with one line that says which. Every probe of a bad list runs in a child process
 * under a timeout, so a walk that never ends fails the test instead of hanging it.
 * Then 10^5 random config spaces through the modern walk (ASan+UBSan must stay quiet).
 *
 * Legacy: probe and MAC (with and without MSI-X), a control queue whose device does
 * not answer once and then answers late (the next command must work), a control queue
 * the device breaks (every later command says "broken"), and a device whose I/O BAR
 * stops working: rx/tx bursts then return 0, stats and link say the device is removed. Both
 * transports' reset of a device that reads all-ones (gone) answers -ENODEV at once, unwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "../../src/drivers/virtio/virtio.h"

/* PCI 3.0 6.1 / 6.7 config space, virtio spec 4.1.4 capabilities, as the fake device writes them */
#define CFG_SIZE 256
#define CFG_VENDOR 0x00
#define CFG_DEVICE 0x02
#define CFG_STATUS 0x06
#define CFG_STATUS_CAP_LIST 0x10
#define CFG_CAP_PTR 0x34
#define CAP_ID_VNDR 0x09
#define CAP_ID_MSIX 0x11
#define MSIX_FLAGS_ENABLE 0x8000
#define VCAP_LEN 16
#define VCAP_NOTIFY_LEN 20
#define VCAP_COMMON 1
#define VCAP_NOTIFY 2
#define VCAP_ISR 3
#define VCAP_DEVICE 4
#define VIRTIO_VENDOR 0x1af4
#define DEV_MODERN 0x1041
#define DEV_LEGACY 0x1000
/* common config fields (4.1.4.3) the fake fills in */
#define COMMON_DF 4
#define COMMON_NUMQ 18
#define COMMON_STATUS 20
#define COMMON_Q_SIZE 24
#define COMMON_Q_NOFF 30

/* the well-formed modern device's layout in BAR 4 (like QEMU's, smaller) */
#define MBAR 4
#define MBAR_SIZE 0x4000
#define OFF_COMMON 0x0000
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define LEN_COMMON 0x100
#define LEN_DEVICE 0x100
#define LEN_NOTIFY 0x1000
#define NOTIFY_MULT 4
#define POS_COMMON 0x40
#define POS_ISR 0x50
#define POS_DEVICE 0x60
#define POS_NOTIFY 0x70
#define POS_MSIX 0x84

/* legacy I/O BAR 0 (virtio 0.9.5 2.2.2) */
#define IO_SIZE 64
#define IO_HOST_FEATURES 0
#define IO_QUEUE_NUM 12
#define IO_STATUS 18
#define IO_CONFIG_NO_MSIX 20
#define IO_CONFIG_MSIX 24
#define LEGACY_QUEUE 64
#define NET_F_MAC 5
#define NET_F_STATUS 16
#define NET_F_CTRL_VQ 17
#define NET_F_CTRL_RX 18

#define CAP_SLOTS 48            /* dwords after the 64-byte header: (256 - 64) / 4 */
#define PROBE_TIMEOUT_S 3
#define FUZZ_ROUNDS 100000
#define FUZZ_SEED 0x5eed1234u
#define FUZZ_PAGE 0x1000        /* fuzzed structures mostly start on a page of BAR 4 */
#define FUZZ_REGS 64            /* bytes of device registers made random at each page */
#define POOL_SIZE 1024

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

static uint8_t cfg[CFG_SIZE];
static uint8_t *mbar;       /* memory BAR 4 */
static struct unic_dev *dev;
static int cfg_fd, io_fd;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof v); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }

/* ---- building config spaces ---- */
static void cfg_header(uint16_t device_id, uint8_t first_cap)
{
	memset(cfg, 0, sizeof cfg);
	put16(cfg + CFG_VENDOR, VIRTIO_VENDOR);
	put16(cfg + CFG_DEVICE, device_id);
	put16(cfg + CFG_STATUS, CFG_STATUS_CAP_LIST);
	cfg[CFG_CAP_PTR] = first_cap;
}

static void vcap(uint8_t pos, uint8_t next, uint8_t type, uint8_t bar, uint32_t off, uint32_t len)
{
	cfg[pos] = CAP_ID_VNDR;
	cfg[pos + 1] = next;
	cfg[pos + 2] = type == VCAP_NOTIFY ? VCAP_NOTIFY_LEN : VCAP_LEN;
	cfg[pos + 3] = type;
	cfg[pos + 4] = bar;
	put32(cfg + pos + 8, off);
	put32(cfg + pos + 12, len);
	if (type == VCAP_NOTIFY)
		put32(cfg + pos + 16, NOTIFY_MULT);
}

static void msix_cap(uint8_t pos, uint8_t next, bool enabled)
{
	cfg[pos] = CAP_ID_MSIX;
	cfg[pos + 1] = next;
	put16(cfg + pos + 2, enabled ? MSIX_FLAGS_ENABLE : 0);
}

/* A modern device as QEMU lays it out: common, ISR, device, notify, then MSI-X. */
static void cfg_modern(void)
{
	cfg_header(DEV_MODERN, POS_COMMON);
	vcap(POS_COMMON, POS_ISR, VCAP_COMMON, MBAR, OFF_COMMON, LEN_COMMON);
	vcap(POS_ISR, POS_DEVICE, VCAP_ISR, MBAR, OFF_ISR, 1);
	vcap(POS_DEVICE, POS_NOTIFY, VCAP_DEVICE, MBAR, OFF_DEVICE, LEN_DEVICE);
	vcap(POS_NOTIFY, POS_MSIX, VCAP_NOTIFY, MBAR, OFF_NOTIFY, LEN_NOTIFY);
	msix_cap(POS_MSIX, 0, false);
}

/* The fake device's registers in BAR 4: features, 3 queues of 256, queue_notify_off 0; a MAC. */
static void mbar_init(void)
{
	memset(mbar, 0, MBAR_SIZE);
	put32(mbar + OFF_COMMON + COMMON_DF, 1u << NET_F_MAC);
	put16(mbar + OFF_COMMON + COMMON_NUMQ, 3);
	put16(mbar + OFF_COMMON + COMMON_Q_SIZE, 256);
	memcpy(mbar + OFF_DEVICE, test_mac, sizeof test_mac);
}

static void cfg_store(void)
{
	if (pwrite(cfg_fd, cfg, sizeof cfg, 0) != (ssize_t)sizeof cfg)
		CHECK(!"pwrite config");
}

static void dev_reset(uint16_t device_id)
{
	int i;

	memset(dev, 0, sizeof *dev);
	unic_irq_init(&dev->irq);
	unic_config_init(&dev->cfg);
	dev->config_fd = cfg_fd;
	dev->lock_fd = dev->vfio_group_fd = dev->vfio_device_fd = -1;
	dev->dma_mode = UNIC_DMA_VIRT;
	dev->vendor_id = VIRTIO_VENDOR;
	dev->device_id = device_id;
	dev->drv = &unic_driver_virtio_net;
	for (i = 0; i < UNIC_MAX_BARS; i++)
		dev->bars[i].io_fd = -1;
	dev->bars[MBAR].addr = mbar;
	dev->bars[MBAR].size = MBAR_SIZE;
	snprintf(dev->spec.pci_addr, sizeof dev->spec.pci_addr, "0000:00:04.0");
}

/* ---- modern: probes under a timeout ---- */

/* The modern transport alone, on cfg. */
static int open_modern(void)
{
	const struct virtio_transport *t;
	void *ctx;
	int r;

	dev_reset(DEV_MODERN);
	r = virtio_pci_modern_open(dev, &t, &ctx);
	if (r == 0)
		t->close(ctx);
	return r;
}

/*
 * Runs open_fn (a probe of cfg) in a child process with an alarm: a walk that never
 * ends is killed and reported. Returns the child's verdict; err gets dev->err.
 */
enum verdict { OPENED, REFUSED, HUNG, CRASHED };
static const char *const verdict_name[] = { "opened", "refused", "hung (killed by the timeout)", "crashed" };

static enum verdict run_bounded(int (*open_fn)(void), char *err, size_t errlen)
{
	int pipefd[2], status;
	pid_t pid;
	ssize_t n;

	err[0] = 0;
	cfg_store();
	if (pipe(pipefd))
		return CRASHED;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;
		close(pipefd[0]);
		alarm(PROBE_TIMEOUT_S);
		r = open_fn();
		if (write(pipefd[1], dev->err, strlen(dev->err)) < 0)
			_exit(3);
		_exit(r == 0 ? 0 : 1);
	}
	close(pipefd[1]);
	n = read(pipefd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return CRASHED;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGALRM ? HUNG : CRASHED;
	return WEXITSTATUS(status) == 0 ? OPENED : WEXITSTATUS(status) == 1 ? REFUSED : CRASHED;
}

/* A bad config space must be refused, quickly, with a line that contains want. */
static void expect_refused(const char *name, const char *want)
{
	char err[UNIC_ERR_LEN];
	struct timespec t0, t1;
	enum verdict v;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	v = run_bounded(open_modern, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("modern %-34s %s in %ld ms: %s\n", name, verdict_name[v], ms, err[0] ? err : "(no error line)");
	CHECK(v == REFUSED);
	CHECK(strstr(err, want) != NULL);
}

static void test_modern_good(void)
{
	const struct virtio_transport *t;
	void *ctx;
	char err[UNIC_ERR_LEN];
	int r;

	cfg_modern();
	mbar_init();
	CHECK(run_bounded(open_modern, err, sizeof err) == OPENED);
	/* the whole driver probe in this process: reset, features, MAC from the device config */
	dev_reset(DEV_MODERN);
	CHECK(dev->drv->probe(dev) == 0);
	CHECK(memcmp(dev->mac, test_mac, sizeof test_mac) == 0);
	CHECK(strncmp(dev->features, "modern", 6) == 0);
	printf("modern well-formed: probed (%s), mac %02x:..:%02x\n", dev->features, dev->mac[0], dev->mac[5]);
	dev->drv->close(dev);
	/* the ISR capability may be anything: we do not use it */
	cfg_modern();
	cfg[POS_ISR + 4] = 9;
	dev_reset(DEV_MODERN);
	cfg_store();
	r = virtio_pci_modern_open(dev, &t, &ctx);
	CHECK(r == 0);
	if (r == 0)
		t->close(ctx);
}

static void test_modern_lists(void)
{
	/* two vendor capabilities pointing at each other (the reported hang) */
	cfg_header(DEV_MODERN, POS_COMMON);
	vcap(POS_COMMON, POS_ISR, VCAP_ISR, MBAR, OFF_ISR, 1);
	vcap(POS_ISR, POS_COMMON, VCAP_ISR, MBAR, OFF_ISR, 1);
	expect_refused("two capabilities in a loop:", "loops");

	cfg_modern(); /* the same in a full device: notify points back to common */
	cfg[POS_NOTIFY + 1] = POS_COMMON;
	expect_refused("full device, last points to first:", "loops");

	cfg_header(DEV_MODERN, POS_COMMON);
	vcap(POS_COMMON, POS_COMMON, VCAP_COMMON, MBAR, OFF_COMMON, LEN_COMMON);
	expect_refused("self-loop:", "loops");

	cfg_modern();
	cfg[POS_DEVICE + 1] = 0x10; /* a BAR register */
	expect_refused("next pointer into the header:", "standard header");

	cfg_modern();
	cfg[CFG_CAP_PTR] = 0x3c;
	expect_refused("first pointer into the header:", "standard header");

	cfg_modern();
	cfg[POS_ISR + 1] = POS_DEVICE + 2;
	expect_refused("misaligned pointer:", "dword-aligned");
}

static void test_modern_caps(void)
{
	cfg_modern();
	cfg[POS_COMMON + 2] = 12;
	expect_refused("common cap_len 12:", "cap_len 12 is shorter");

	cfg_modern();
	cfg[POS_NOTIFY + 2] = VCAP_LEN; /* a notify cap needs 20: notify_off_multiplier */
	expect_refused("notify cap_len 16:", "cap_len 16 is shorter");

	cfg_modern();
	cfg[0xf0] = CAP_ID_VNDR; /* a common cfg cap whose 16 bytes would run past 256 */
	cfg[0xf0 + 2] = VCAP_LEN + 8;
	cfg[0xf0 + 3] = VCAP_COMMON;
	cfg[POS_COMMON + 3] = VCAP_ISR;
	cfg[POS_MSIX + 1] = 0xf0;
	expect_refused("cap running past config space:", "past the end of config space");

	cfg_modern();
	cfg[POS_COMMON + 4] = 7;
	expect_refused("common in BAR 7:", "BAR 7");

	cfg_modern();
	cfg[POS_NOTIFY + 4] = 2;
	expect_refused("notify in unmapped BAR 2:", "not a mapped memory BAR");

	cfg_modern();
	put32(cfg + POS_COMMON + 8, MBAR_SIZE - 0x20);
	expect_refused("common past the BAR end:", "past the end of BAR 4");

	cfg_modern();
	put32(cfg + POS_NOTIFY + 8, 0xfffffff0u); /* offset + length wraps in 32 bits */
	expect_refused("notify offset wrapping:", "past the end of BAR 4");

	cfg_modern();
	put32(cfg + POS_COMMON + 12, 40);
	expect_refused("common length 40:", "length 40 is shorter");

	cfg_modern();
	put32(cfg + POS_COMMON + 8, 2);
	expect_refused("common offset 2:", "not 4-byte aligned");

	cfg_modern();
	put32(cfg + POS_NOTIFY + 8, OFF_NOTIFY + 1);
	put32(cfg + POS_NOTIFY + 12, LEN_NOTIFY - 1);
	expect_refused("notify offset odd:", "not 2-byte aligned");

	cfg_modern();
	put32(cfg + POS_NOTIFY + 16, 3);
	expect_refused("notify multiplier 3:", "notify_off_multiplier 3");

	cfg_modern();
	cfg[CFG_CAP_PTR] = POS_ISR;
	expect_refused("missing common config:", "no common config");

	cfg_modern();
	cfg[POS_DEVICE + 1] = POS_MSIX;
	expect_refused("missing notify:", "no notify");
}

/* A notify offset the multiplier sends past the notify area: the queue is refused. Then removal. */
static void test_modern_queue(void)
{
	const struct virtio_transport *t;
	struct virtq vq;
	void *ctx;
	int r;

	cfg_modern();
	mbar_init();
	put16(mbar + OFF_COMMON + COMMON_Q_NOFF, LEN_NOTIFY / NOTIFY_MULT); /* 0x400 * 4: one past the end */
	dev_reset(DEV_MODERN);
	cfg_store();
	r = virtio_pci_modern_open(dev, &t, &ctx);
	CHECK(r == 0);
	if (r)
		return;
	memset(&vq, 0, sizeof vq);
	vq.index = 0;
	vq.size = 64;
	CHECK(t->queue_enable(ctx, &vq) == -EIO);
	CHECK(strstr(dev->err, "outside the notify area") != NULL);
	printf("modern notify offset past its area: %s\n", dev->err);
	put16(mbar + OFF_COMMON + COMMON_Q_NOFF, LEN_NOTIFY / NOTIFY_MULT - 1); /* the last slot fits */
	CHECK(t->queue_enable(ctx, &vq) == 0);
	CHECK((uint8_t *)vq.notify_ctx == mbar + OFF_NOTIFY + LEN_NOTIFY - NOTIFY_MULT);
	/* a device that is gone reads all-ones: the check the data path and stats rely on says so */
	CHECK(t->check && t->gone_flag);
	if (t->check && t->gone_flag) {
		CHECK(t->check(ctx) == 0 && !dev->removed);
		memset(mbar + OFF_COMMON, 0xff, LEN_COMMON);
		CHECK(t->check(ctx) == -ENODEV && dev->removed && *t->gone_flag(ctx));
		CHECK(strstr(dev->err, "device removed") != NULL);
	}
	printf("modern registers reading all-ones: %s\n", dev->err[0] ? dev->err : "(no error line)");
	t->close(ctx);
}

/* A transitional device whose modern capabilities are unusable still works through legacy. */
static void legacy_bar_init(uint32_t features, bool msix);

static void test_transitional_fallback(void)
{
	cfg_modern();
	cfg[POS_NOTIFY + 4] = 2; /* unmapped: the modern transport cannot be used */
	msix_cap(POS_MSIX, 0, false);
	legacy_bar_init(1u << NET_F_MAC, false);
	dev_reset(DEV_LEGACY);
	cfg_store();
	dev->bars[0].is_io = true;
	dev->bars[0].io_fd = io_fd;
	CHECK(dev->drv->probe(dev) == 0);
	CHECK(strncmp(dev->features, "legacy", 6) == 0);
	CHECK(memcmp(dev->mac, test_mac, sizeof test_mac) == 0);
	printf("transitional device, modern notify in an unmapped BAR: probed as %s\n", dev->features);
	dev->drv->close(dev);
	/* without a legacy BAR the first cause (the modern one) is what the user reads */
	dev_reset(DEV_LEGACY);
	CHECK(dev->drv->probe(dev) == -ENXIO);
	CHECK(strstr(dev->err, "not a mapped memory BAR") != NULL);
	printf("... and without an I/O BAR: %s\n", dev->err);
}

/* ---- modern: fuzzing the walk ---- */
static uint32_t rng = FUZZ_SEED;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* One virtio capability, mostly plausible: the right cap_len, BAR 4, an aligned offset inside it. */
static void fuzz_vcap(uint8_t pos)
{
	static const uint8_t types[] = { VCAP_COMMON, VCAP_COMMON, VCAP_NOTIFY, VCAP_NOTIFY, VCAP_DEVICE, VCAP_ISR, 5 };
	uint8_t type = rnd() % 16 ? types[rnd() % sizeof types] : (uint8_t)rnd();

	cfg[pos] = rnd() % 16 ? CAP_ID_VNDR : CAP_ID_MSIX;
	if (pos > CFG_SIZE - VCAP_NOTIFY_LEN)
		return;
	cfg[pos + 2] = rnd() % 8 ? (type == VCAP_NOTIFY ? VCAP_NOTIFY_LEN : VCAP_LEN) : (uint8_t)rnd();
	cfg[pos + 3] = type;
	cfg[pos + 4] = rnd() % 8 ? MBAR : (uint8_t)(rnd() % 8);
	put32(cfg + pos + 8, rnd() % 4 ? FUZZ_PAGE * (rnd() % 4) : rnd() % 2 ? rnd() % MBAR_SIZE : rnd());
	put32(cfg + pos + 12, rnd() % 4 ? 56 + rnd() % FUZZ_PAGE : rnd());
	put32(cfg + pos + 16, rnd() % 4 ? (1u << (rnd() % 4)) & ~1u : rnd());
}

/*
 * A random config space: random bytes under a list of distinct capabilities that usually
 * ends (so the walk reaches the virtio checks), then a few random bytes written over it
 * (so the pointers and fields are also wrong in every way).
 */
static void fuzz_image(void)
{
	uint8_t order[CAP_SLOTS];
	/* usually one slot per capability so they do not overlap; sometimes any dword, overlapping */
	unsigned stride = rnd() % 8 ? VCAP_NOTIFY_LEN : 4, slots = (CFG_SIZE - 0x40) / stride;
	unsigned i, ncaps = 1 + rnd() % (slots < 10 ? slots : 10), flips = rnd() % 4;

	for (i = 0; i < CFG_SIZE; i++)
		cfg[i] = (uint8_t)rnd();
	put16(cfg + CFG_STATUS, rnd() % 16 ? CFG_STATUS_CAP_LIST : (uint16_t)rnd());
	for (i = 0; i < slots; i++)
		order[i] = (uint8_t)(0x40 + stride * i);
	for (i = 0; i < ncaps; i++) { /* the first ncaps of a shuffle: distinct positions */
		unsigned j = i + rnd() % (slots - i);
		uint8_t tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	cfg[CFG_CAP_PTR] = order[0];
	for (i = 0; i < ncaps; i++)
		fuzz_vcap(order[i]);
	for (i = 0; i < ncaps; i++) /* links last: overlapping capabilities must not cut the list */
		cfg[order[i] + 1] = i + 1 < ncaps ? order[i + 1] : rnd() % 8 ? 0 : (uint8_t)rnd();
	for (i = 0; i < flips; i++)
		cfg[rnd() % CFG_SIZE] = (uint8_t)rnd();
}

static void test_fuzz(void)
{
	unsigned i, opened = 0, refused = 0, legacy = 0, enabled = 0;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(120); /* the whole fuzz run: a hang fails instead of blocking the suite */
	for (i = 0; i < FUZZ_ROUNDS; i++) {
		const struct virtio_transport *t;
		struct virtq vq;
		void *ctx;
		int r;
		fuzz_image();
		dev_reset(DEV_MODERN);
		dev->bars[MBAR].size = rnd() % 4 ? MBAR_SIZE : rnd() % MBAR_SIZE;
		for (r = 0; r < MBAR_SIZE / FUZZ_PAGE * FUZZ_REGS; r++) /* what the queue code reads: random too */
			mbar[r / FUZZ_REGS * FUZZ_PAGE + r % FUZZ_REGS] = (uint8_t)rnd();
		cfg_store();
		r = virtio_pci_modern_open(dev, &t, &ctx);
		if (r == -ENODEV) {
			legacy++;
			continue;
		}
		if (r) {
			CHECK(dev->err[0] != 0); /* every refusal says why */
			refused++;
			continue;
		}
		opened++;
		memset(&vq, 0, sizeof vq);
		vq.size = (uint16_t)(1u << (rnd() % 9));
		if (t->queue_enable(ctx, &vq) == 0) {
			enabled++;
			/* the notify address must lie inside the mapped BAR */
			CHECK((uint8_t *)vq.notify_ctx >= mbar &&
			      (uint8_t *)vq.notify_ctx + sizeof(uint16_t) <= mbar + dev->bars[MBAR].size);
			vq.notify(&vq);
		}
		t->close(ctx);
	}
	alarm(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fuzz: %u random config spaces through the modern capability walk (seed 0x%x) in %ld ms: %u opened "
	       "(%u queues enabled), %u refused with an error line, %u without virtio capabilities\n",
	       FUZZ_ROUNDS, FUZZ_SEED, (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
	       opened, enabled, refused, legacy);
	CHECK(opened + refused + legacy == FUZZ_ROUNDS);
}

/* ---- legacy ---- */
static uint8_t io_image[IO_SIZE];

static void legacy_bar_init(uint32_t features, bool msix)
{
	uint16_t link_up = 1;
	uint32_t cfg_off = msix ? IO_CONFIG_MSIX : IO_CONFIG_NO_MSIX;

	memset(io_image, 0, sizeof io_image);
	put32(io_image + IO_HOST_FEATURES, features);
	put16(io_image + IO_QUEUE_NUM, LEGACY_QUEUE);
	memcpy(io_image + cfg_off, test_mac, sizeof test_mac);
	memcpy(io_image + cfg_off + 6, &link_up, sizeof link_up);
	if (pwrite(io_fd, io_image, sizeof io_image, 0) != (ssize_t)sizeof io_image)
		CHECK(!"pwrite io");
}

/* dev as a legacy-only device: no memory BAR, I/O BAR 0 on io_fd. */
static void legacy_dev_bars(void)
{
	dev_reset(DEV_LEGACY);
	dev->bars[MBAR].addr = NULL;
	dev->bars[MBAR].size = 0;
	dev->bars[0].is_io = true;
	dev->bars[0].io_fd = io_fd;
}

static void legacy_dev(uint32_t features, bool msix)
{
	cfg_header(DEV_LEGACY, POS_MSIX);
	msix_cap(POS_MSIX, 0, msix);
	legacy_bar_init(features, msix);
	legacy_dev_bars();
	cfg_store();
}

/* The whole driver probe (modern, then legacy) of a legacy-only device on the stored cfg. */
static int probe_legacy_dev(void)
{
	legacy_dev_bars();
	return dev->drv->probe(dev);
}

static void test_legacy_probe(void)
{
	char err[UNIC_ERR_LEN];
	enum verdict v;
	int msix;

	for (msix = 0; msix < 2; msix++) {
		legacy_dev(1u << NET_F_MAC, msix);
		CHECK(dev->drv->probe(dev) == 0);
		CHECK(strncmp(dev->features, "legacy", 6) == 0);
		CHECK(memcmp(dev->mac, test_mac, sizeof test_mac) == 0);
		printf("legacy probe, MSI-X %s: %s, mac %02x:..:%02x\n", msix ? "on" : "off", dev->features, dev->mac[0],
		       dev->mac[5]);
		dev->drv->close(dev);
	}
	/* a looping list on a legacy device: refused with the reason, no hang */
	legacy_dev(1u << NET_F_MAC, false);
	cfg[POS_MSIX] = CAP_ID_VNDR; /* a vendor capability pointing at itself, before the MSI-X one */
	cfg[POS_MSIX + 1] = POS_MSIX;
	v = run_bounded(probe_legacy_dev, err, sizeof err);
	printf("legacy with a looping list: %s: %s\n", verdict_name[v], err[0] ? err : "(no error line)");
	CHECK(v == REFUSED && strstr(err, "loops") != NULL);
}

/*
 * Starting the legacy transport for real: its queue_enable writes the ring's page number
 * into a 32-bit register, and test DMA memory (UNIC_DMA_VIRT: DMA address = virtual
 * address) lies above what that holds. The fake device never reads that register, so the
 * transport is shown a low ring address; every other op is the legacy transport's own.
 * The control queue's notify is taken over by the fake device below.
 */
static struct virtio_transport legacy_lowring;
static int (*legacy_enable)(void *, struct virtq *);
static struct virtq *ctrl_vq;
enum ctrl_mode { CTRL_ANSWER, CTRL_SILENT, CTRL_BAD_ID };
static enum ctrl_mode ctrl_mode;
static uint16_t ctrl_seen;   /* avail entries the fake device took */
static int promisc = -1;     /* what the device was told last */

/* The fake device's control queue (split ring, spec 2.7): answers every pending command. */
static void ctrl_answer(void)
{
	volatile struct vring_desc *desc = (void *)(uintptr_t)ctrl_vq->desc_iova;
	volatile uint16_t *avail = (void *)(uintptr_t)ctrl_vq->driver_iova;
	volatile uint8_t *used = (void *)(uintptr_t)ctrl_vq->device_iova;
	uint16_t size = ctrl_vq->size;

	while (avail[1] != ctrl_seen) {
		uint16_t head = avail[2 + ctrl_seen % size], ack = desc[head].next, idx;
		const uint8_t *cmd = (const uint8_t *)(uintptr_t)desc[head].addr;
		uint32_t elem[2] = { ctrl_mode == CTRL_BAD_ID ? 999u : head, 1 };
		ctrl_seen++;
		if (cmd[0] == 0 && cmd[1] == 0) /* VIRTIO_NET_CTRL_RX_PROMISC */
			promisc = cmd[2];
		*(volatile uint8_t *)(uintptr_t)desc[ack].addr = 0; /* VIRTIO_NET_OK */
		idx = *(volatile uint16_t *)(used + 2);
		memcpy((uint8_t *)(uintptr_t)(used + 4 + 8 * (idx % size)), elem, sizeof elem);
		unic_wmb();
		*(volatile uint16_t *)(used + 2) = (uint16_t)(idx + 1);
	}
}

static void ctrl_notify(struct virtq *vq)
{
	(void)vq;
	if (ctrl_mode != CTRL_SILENT)
		ctrl_answer();
}

static int lowring_enable(void *ctx, struct virtq *vq)
{
	uint64_t iova = vq->desc_iova;
	int r;

	vq->desc_iova = (uint64_t)(vq->index + 1) * VIRTIO_LEGACY_RING_ALIGN;
	r = legacy_enable(ctx, vq);
	vq->desc_iova = iova;
	if (vq->index == 2) {
		ctrl_vq = vq;
		vq->notify = ctrl_notify;
	}
	return r;
}

static struct unic_mempool *pool;

static bool legacy_start(uint32_t features)
{
	const struct virtio_transport *t;
	void *ctx;

	legacy_dev(features, false);
	dev->pool = pool;
	dev->cfg.rx_ring_size = dev->cfg.tx_ring_size = LEGACY_QUEUE;
	ctrl_mode = CTRL_ANSWER;
	ctrl_seen = 0;
	ctrl_vq = NULL;
	if (virtio_pci_legacy_open(dev, &t, &ctx)) {
		printf("legacy open: %s\n", dev->err);
		return false;
	}
	legacy_lowring = *t;
	legacy_enable = t->queue_enable;
	legacy_lowring.queue_enable = lowring_enable;
	if (virtio_net_attach(dev, &legacy_lowring, ctx) || dev->drv->start(dev)) {
		printf("legacy start: %s\n", dev->err);
		dev->drv->close(dev);
		return false;
	}
	return true;
}

static void legacy_stop(void)
{
	dev->drv->close(dev);
	CHECK(unic_mempool_free_count(pool) == POOL_SIZE); /* every buffer came home */
}

/* Item 12: a control command the device answers late must not wedge the control queue. */
static void test_ctrl_timeout(void)
{
	struct unic_stats st;
	int r;

	if (!legacy_start(1u << NET_F_MAC | 1u << NET_F_CTRL_VQ | 1u << NET_F_CTRL_RX)) {
		CHECK(!"legacy start with a control queue");
		return;
	}
	CHECK(ctrl_vq != NULL && promisc == 0); /* start set promiscuous mode off */
	/* opened without VFIO (as sysfs:): no MSI-X; the enable call says how to get interrupts */
	r = unic_rx_intr_enable(dev, 0);
	printf("interrupts without VFIO: rx_intr_enable = %d: %s\n", r, dev->err);
	CHECK(r == -ENOTSUP && strstr(dev->err, "this access gives no interrupts: open it as vfio:") != NULL);
	CHECK(unic_rx_fd(dev, 0) == -ENOTSUP);
	ctrl_mode = CTRL_SILENT;
	r = unic_set_promisc(dev, true);
	printf("ctrl: device silent: set_promisc(on) = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -ETIMEDOUT);
	r = unic_set_promisc(dev, false);
	printf("ctrl: still silent: set_promisc(off) = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -EBUSY && strstr(unic_last_error(dev), "not answered") != NULL);
	ctrl_answer(); /* the device finally completes the first command */
	ctrl_mode = CTRL_ANSWER;
	CHECK(promisc == 1);
	r = unic_set_promisc(dev, false);
	printf("ctrl: device answered late; next set_promisc(off) = %d (device promisc now %d)\n", r, promisc);
	CHECK(r == 0 && promisc == 0);
	CHECK(unic_set_promisc(dev, true) == 0 && promisc == 1);

	/* a device that writes a bad used id breaks the control queue: every later command says so */
	ctrl_mode = CTRL_BAD_ID;
	r = unic_set_promisc(dev, false);
	printf("ctrl: bad used id: set_promisc(off) = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -EIO && strstr(unic_last_error(dev), "broken") != NULL);
	ctrl_mode = CTRL_ANSWER;
	r = unic_set_promisc(dev, true);
	printf("ctrl: after that: set_promisc(on) = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -EIO && strstr(unic_last_error(dev), "broken") != NULL);
	CHECK(unic_stats(dev, &st) == 0 && st.bad_device == 1);
	legacy_stop();
}

/* Item 12: the I/O BAR stops working (device gone): the data path must stop and say so. */
static void test_legacy_removed(void)
{
	struct unic_buf *bufs[8];
	struct unic_stats st;
	struct unic_link link;
	uint16_t n, sent, got;
	int dir, r;

	if (!legacy_start(1u << NET_F_MAC | 1u << NET_F_STATUS)) {
		CHECK(!"legacy start");
		return;
	}
	CHECK(unic_link(dev, &link) == 0 && link.up);
	n = (uint16_t)unic_buf_alloc_bulk(pool, bufs, 8);
	for (got = 0; got < n; got++)
		bufs[got]->len = 60;
	sent = unic_tx_burst(dev, 0, bufs, n);
	unic_buf_free_bulk(bufs + sent, n - sent);
	CHECK(sent == 8);
	CHECK(unic_rx_burst(dev, 0, bufs, 8) == 0);

	/* the device goes away: every access to its I/O BAR fails from now on (a directory fd) */
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir >= 0 && dup2(dir, io_fd) == io_fd);
	close(dir);
	n = (uint16_t)unic_buf_alloc_bulk(pool, bufs, 8);
	for (got = 0; got < n; got++)
		bufs[got]->len = 60;
	sent = unic_tx_burst(dev, 0, bufs, n); /* its notification is what meets the dead BAR */
	unic_buf_free_bulk(bufs + sent, n - sent);
	n = (uint16_t)unic_buf_alloc_bulk(pool, bufs, 8);
	for (got = 0; got < n; got++)
		bufs[got]->len = 60;
	sent = unic_tx_burst(dev, 0, bufs, n);
	unic_buf_free_bulk(bufs + sent, n - sent);
	got = unic_rx_burst(dev, 0, bufs, 8);
	printf("removed: tx burst %u, rx burst %u: %s\n", sent, got, unic_last_error(dev));
	CHECK(sent == 0 && got == 0);
	CHECK(strstr(unic_last_error(dev), "device removed") != NULL);
	r = unic_stats(dev, &st);
	printf("removed: unic_stats = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -ENODEV && strstr(unic_last_error(dev), "device removed") != NULL);
	r = unic_link(dev, &link);
	printf("removed: unic_link = %d: %s\n", r, unic_last_error(dev));
	CHECK(r == -ENODEV);
	legacy_stop();
	/* a fresh I/O BAR for whatever follows */
	close(io_fd);
	io_fd = memfd_create("fake-io-bar", MFD_CLOEXEC);
	CHECK(io_fd >= 0 && ftruncate(io_fd, IO_SIZE) == 0);
}

/*
 * Resetting a device that vanished (hot unplug without warning): its registers read all-ones.
 * The reset must say so (-ENODEV, dev->removed) at once and write nothing to it, not wait a
 * second for a status that never reads 0, nor take a write that lands nowhere as a reset.
 */
static void reset_gone(const char *name, const struct virtio_transport *t, void *ctx, uint8_t (*status)(void))
{
	int r;

	dev->removed = false;
	r = t->reset(ctx);
	printf("%s reset of a device reading all-ones: %d (%s), status after it 0x%02x\n", name, r,
	       r == -ENODEV ? "ENODEV" : "not ENODEV", status());
	CHECK(r == -ENODEV && dev->removed);
	CHECK(status() == VIRTIO_STATUS_GONE); /* not written to */
}

static uint8_t modern_status(void) { return mbar[OFF_COMMON + COMMON_STATUS]; }
static uint8_t legacy_status(void)
{
	uint8_t v = 0;

	if (pread(io_fd, &v, 1, IO_STATUS) != 1)
		CHECK(!"pread io");
	return v;
}

static void test_reset_gone(void)
{
	const struct virtio_transport *t;
	uint8_t ones = VIRTIO_STATUS_GONE;
	void *ctx;

	cfg_modern();
	mbar_init();
	dev_reset(DEV_MODERN);
	cfg_store();
	if (virtio_pci_modern_open(dev, &t, &ctx)) {
		CHECK(!"modern open");
		return;
	}
	mbar[OFF_COMMON + COMMON_STATUS] = VIRTIO_STATUS_DRIVER_OK;
	CHECK(t->reset(ctx) == 0 && modern_status() == 0 && !dev->removed); /* a live one resets */
	memset(mbar + OFF_COMMON, 0xff, LEN_COMMON);
	reset_gone("modern", t, ctx, modern_status);
	t->close(ctx);

	legacy_dev(1u << NET_F_MAC, false);
	if (virtio_pci_legacy_open(dev, &t, &ctx)) {
		CHECK(!"legacy open");
		return;
	}
	CHECK(pwrite(io_fd, &ones, 1, IO_STATUS) == 1);
	reset_gone("legacy", t, ctx, legacy_status);
	t->close(ctx);
}

int main(void)
{
	struct unic_dev scratch;

	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg_fd = memfd_create("fake-pci-config", MFD_CLOEXEC);
	io_fd = memfd_create("fake-io-bar", MFD_CLOEXEC);
	mbar = aligned_alloc(4096, MBAR_SIZE);
	dev = calloc(1, sizeof *dev);
	CHECK(cfg_fd >= 0 && io_fd >= 0 && mbar && dev && ftruncate(io_fd, IO_SIZE) == 0);
	memset(&scratch, 0, sizeof scratch);
	scratch.dma_mode = UNIC_DMA_VIRT;
	scratch.config_fd = scratch.lock_fd = scratch.vfio_group_fd = scratch.vfio_device_fd = -1;
	pool = unic_mempool_make(&scratch, POOL_SIZE, 2048);
	CHECK(pool != NULL);
	if (!pool || !dev || !mbar)
		return check_summary("virtio_pci");

	test_modern_lists();
	test_modern_good();
	test_modern_caps();
	test_modern_queue();
	test_transitional_fallback();
	test_legacy_probe();
	test_ctrl_timeout();
	test_legacy_removed();
	test_reset_gone();
	test_fuzz();

	unic_mempool_destroy(pool);
	free(dev);
	free(mbar);
	close(cfg_fd);
	close(io_fd);
	return check_summary("virtio_pci");
}
