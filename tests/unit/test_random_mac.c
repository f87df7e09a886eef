/*
 * A virtio-net device without a MAC address gets a random one (issue 9 item 9): the library
 * must not touch the application's rand() sequence (no srand()/rand() inside), and the address
 * is unicast and locally administered. The device is a fake transport offering VERSION_1 only.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "../../src/drivers/virtio/virtio.h"

#define SEQ 8

static int fake_reset(void *t) { (void)t; return 0; }
static uint8_t fake_get_status(void *t) { (void)t; return 0; }
static void fake_set_status(void *t, uint8_t s) { (void)t; (void)s; }
static uint64_t fake_get_features(void *t) { (void)t; return VIRTIO_BIT(VIRTIO_F_VERSION_1); }
static void fake_set_features(void *t, uint64_t f) { (void)t; (void)f; }
static int fake_read_config(void *t, uint32_t off, void *buf, uint32_t len)
{
	(void)t; (void)off;
	memset(buf, 0, len);
	return 0;
}
static uint16_t fake_queue_max(void *t, uint16_t index) { (void)t; (void)index; return 0; }
static int fake_queue_enable(void *t, struct virtq *vq) { (void)t; (void)vq; return -1; }
static void fake_close(void *t) { (void)t; }

static const struct virtio_transport no_mac_device = {
	.name = "fake", .ring_align = 4, .reset = fake_reset, .get_status = fake_get_status,
	.set_status = fake_set_status, .get_features = fake_get_features, .set_features = fake_set_features,
	.read_config = fake_read_config, .queue_max = fake_queue_max, .queue_enable = fake_queue_enable,
	.close = fake_close,
};

/* The virtio-net driver binds to the fake device and makes up its address. */
static bool attach_no_mac(uint8_t mac[6])
{
	struct unic_dev dev;
	bool ok;

	memset(&dev, 0, sizeof dev);
	unic_config_init(&dev.cfg);
	dev.dma_mode = UNIC_DMA_VIRT;
	snprintf(dev.spec.pci_addr, sizeof dev.spec.pci_addr, "fake");
	ok = virtio_net_attach(&dev, &no_mac_device, NULL) == 0;
	memcpy(mac, dev.mac, 6);
	unic_driver_virtio_net.close(&dev);
	return ok;
}

static bool unicast_local(const uint8_t mac[6])
{
	return (mac[0] & 0x01) == 0 && (mac[0] & 0x02) != 0;
}

int main(void)
{
	int want[SEQ], got[SEQ], i;
	uint8_t a[6], b[6];
	bool differ;

	srand(42);
	for (i = 0; i < SEQ; i++)
		want[i] = rand();

	/* the application's sequence goes on across the driver making up two addresses */
	srand(42);
	for (i = 0; i < SEQ / 2; i++)
		got[i] = rand();
	CHECK(attach_no_mac(a));
	CHECK(attach_no_mac(b));
	for (; i < SEQ; i++)
		got[i] = rand();
	CHECK(memcmp(want, got, sizeof want) == 0);
	CHECK(unicast_local(a) && unicast_local(b));
	differ = memcmp(a, b, 6) != 0;
	CHECK(differ); /* 46 random bits each: equal only by a 2^-46 chance */
	printf("addresses %02x:%02x:%02x:%02x:%02x:%02x and %02x:%02x:%02x:%02x:%02x:%02x; the application's "
	       "rand() sequence %s\n", a[0], a[1], a[2], a[3], a[4], a[5], b[0], b[1], b[2], b[3], b[4], b[5],
	       memcmp(want, got, sizeof want) ? "was disturbed" : "went on undisturbed");
#ifndef BEFORE_FIX
	/* the core helper itself, as vhost-user uses it */
	srand(42);
	for (i = 0; i < 100; i++) {
		unic_random_mac(a);
		CHECK(unicast_local(a));
	}
	CHECK(rand() == want[0]);
#endif
	return check_summary("random_mac");
}
