/*
 * virtio_pci_modern.c - the virtio 1.x PCI transport (spec 4.1.4): vendor
 * capabilities in config space point to the common config, notify, ISR and
 * device config structures inside memory BARs.
 *
 * Config space comes from the device too: capability pointers are bounded and
 * counted, and every structure must lie inside a mapped memory BAR.
 */
#include <errno.h>
#include <stdlib.h>

#include "virtio.h"

/* PCI 3.0 6.7: the capability list */
#define PCI_CAP_FIRST 0x40          /* capabilities live after the standard header */
#define PCI_CAP_ALIGN 4             /* pointers are dword-aligned: the device must set bits 1:0 to 00b */
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CONFIG_SIZE 256
#define PCI_CAP_ID 0
#define PCI_CAP_NEXT 1
#define PCI_CAP_ID_VNDR 0x09

/* Spec 4.1.4: struct virtio_pci_cap (16 bytes) and struct virtio_pci_notify_cap (20 bytes) */
#define VIRTIO_PCI_CAP_LEN 2
#define VIRTIO_PCI_CAP_CFG_TYPE 3
#define VIRTIO_PCI_CAP_BAR 4
#define VIRTIO_PCI_CAP_OFFSET 8
#define VIRTIO_PCI_CAP_LENGTH 12
#define VIRTIO_PCI_CAP_SIZE 16
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16 /* 4.1.4.4: notify_off_multiplier */
#define VIRTIO_PCI_NOTIFY_CAP_SIZE 20
#define VIRTIO_PCI_CAP_BAR_MAX 5      /* 4.1.4: bar values 0x6..0xff are reserved: ignore the structure */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
/* Alignment of each structure's offset in its BAR */
#define COMMON_CFG_ALIGN 4   /* 4.1.4.3: 32-bit fields, accessed naturally aligned (4.1.3.1) */
#define NOTIFY_ALIGN 2       /* 4.1.4.4.1: cap.offset 2-byte aligned without NOTIFICATION_DATA */
#define NOTIFY_MIN_LEN 2     /* 4.1.4.4.1: cap.length at least 2 */
#define DEVICE_CFG_ALIGN 4   /* 4.1.4.6.1: the device-specific config offset is 4-byte aligned */

/* Spec 4.1.4.3: struct virtio_pci_common_cfg */
#define COMMON_DFSELECT 0
#define COMMON_DF 4
#define COMMON_GFSELECT 8
#define COMMON_GF 12
#define COMMON_MSIX 16
#define COMMON_NUMQ 18
#define COMMON_STATUS 20
#define COMMON_CFGGENERATION 21
#define COMMON_Q_SELECT 22
#define COMMON_Q_SIZE 24
#define COMMON_Q_MSIX 26
#define COMMON_Q_ENABLE 28
#define COMMON_Q_NOFF 30
#define COMMON_Q_DESCLO 32
#define COMMON_Q_DESCHI 36
#define COMMON_Q_AVAILLO 40
#define COMMON_Q_AVAILHI 44
#define COMMON_Q_USEDLO 48
#define COMMON_Q_USEDHI 52
#define COMMON_CFG_MIN_LEN 56

#define CONFIG_GENERATION_TRIES 16

_Static_assert(VIRTIO_PCI_CAP_MAX == (PCI_CONFIG_SIZE - PCI_CAP_FIRST) / PCI_CAP_ALIGN,
	       "one slot per dword after the header: a longer list must visit a capability twice");

struct modern {
	struct unic_dev *dev;
	volatile uint8_t *common, *notify, *device, *isr;
	uint32_t common_len, notify_len, device_len, notify_mult, isr_len;
	struct virtio_msix msix;
};

static int bad_pointer(struct unic_dev *dev, uint8_t from, uint8_t pos, const char *what)
{
	return unic_dev_error(dev, EIO, "%s: PCI capability pointer 0x%02x (at 0x%02x) %s (PCI 3.0 6.7): the device's "
			      "config space is corrupt; this device cannot be used", virtio_dev_name(dev), pos, from, what);
}

/*
 * PCI 3.0 6.7: the list is device-written, so it is walked once: each pointer must be
 * past the header and dword-aligned, each capability is visited at most once (a loop
 * is an error, not a hang), and at most VIRTIO_PCI_CAP_MAX are taken.
 */
int virtio_pci_caps_read(struct unic_dev *dev, struct virtio_pci_caps *c)
{
	uint64_t visited = 0; /* bit pos / PCI_CAP_ALIGN: 64 bits cover 256 bytes */
	uint16_t status;
	uint8_t pos, from = PCI_CAPABILITY_LIST, hdr[2];

	_Static_assert(PCI_CONFIG_SIZE / PCI_CAP_ALIGN <= 64, "visited must hold every dword of config space");
	c->n = 0;
	if (unic_pci_config_read(dev, &status, sizeof status, PCI_STATUS) ||
	    unic_pci_config_read(dev, &pos, 1, PCI_CAPABILITY_LIST))
		return unic_dev_error(dev, EIO, "%s: cannot read PCI config space: is the device still there?",
				      virtio_dev_name(dev));
	if (!(status & PCI_STATUS_CAP_LIST))
		return 0;
	while (pos) {
		uint64_t bit = 1ull << (pos / PCI_CAP_ALIGN);
		if (pos < PCI_CAP_FIRST)
			return bad_pointer(dev, from, pos, "points into the standard header");
		if (pos % PCI_CAP_ALIGN)
			return bad_pointer(dev, from, pos, "is not dword-aligned");
		if (visited & bit)
			return bad_pointer(dev, from, pos, "points back to a capability already seen: the list loops");
		if (c->n == VIRTIO_PCI_CAP_MAX) /* cannot happen with the visited set; kept as the walk's bound */
			return bad_pointer(dev, from, pos, "makes the list longer than config space can hold");
		visited |= bit;
		if (unic_pci_config_read(dev, hdr, sizeof hdr, pos))
			return unic_dev_error(dev, EIO, "%s: cannot read PCI config space at 0x%02x", virtio_dev_name(dev), pos);
		c->pos[c->n] = pos;
		c->id[c->n++] = hdr[PCI_CAP_ID];
		from = (uint8_t)(pos + PCI_CAP_NEXT);
		pos = hdr[PCI_CAP_NEXT];
	}
	return 0;
}

int virtio_pci_find_cap(struct unic_dev *dev, uint8_t cap_id)
{
	struct virtio_pci_caps c;
	unsigned i;
	int r = virtio_pci_caps_read(dev, &c);

	if (r)
		return r;
	for (i = 0; i < c.n; i++)
		if (c.id[i] == cap_id)
			return c.pos[i];
	return -ENOENT;
}

/* One virtio capability as the device wrote it (struct virtio_pci_cap, spec 4.1.4), read once. */
struct vcap {
	uint8_t pos, cap_len, type, bar;
	uint32_t offset, length, notify_mult;
};

/* What each structure we use needs (spec 4.1.4.3, 4.1.4.4, 4.1.4.6). */
struct vcap_rule {
	const char *name;
	uint32_t cap_size, min_len, align;
};
static const struct vcap_rule rule_common = { "common config", VIRTIO_PCI_CAP_SIZE, COMMON_CFG_MIN_LEN, COMMON_CFG_ALIGN };
static const struct vcap_rule rule_notify = { "notify", VIRTIO_PCI_NOTIFY_CAP_SIZE, NOTIFY_MIN_LEN, NOTIFY_ALIGN };
static const struct vcap_rule rule_device = { "device config", VIRTIO_PCI_CAP_SIZE, 0, DEVICE_CFG_ALIGN };
/* 4.1.4.5: one byte, any alignment; used only on the INTx line (uio:) */
static const struct vcap_rule rule_isr = { "ISR status", VIRTIO_PCI_CAP_SIZE, 1, 1 };

static int read_vcap(struct unic_dev *dev, uint8_t pos, struct vcap *v)
{
	uint8_t raw[VIRTIO_PCI_NOTIFY_CAP_SIZE] = { 0 };
	size_t room = (size_t)PCI_CONFIG_SIZE - pos, len = room < sizeof raw ? room : sizeof raw;

	if (unic_pci_config_read(dev, raw, len, pos))
		return unic_dev_error(dev, EIO, "%s: cannot read PCI config space at 0x%02x", virtio_dev_name(dev), pos);
	v->pos = pos;
	v->cap_len = raw[VIRTIO_PCI_CAP_LEN];
	v->type = raw[VIRTIO_PCI_CAP_CFG_TYPE];
	v->bar = raw[VIRTIO_PCI_CAP_BAR];
	memcpy(&v->offset, raw + VIRTIO_PCI_CAP_OFFSET, sizeof v->offset);
	memcpy(&v->length, raw + VIRTIO_PCI_CAP_LENGTH, sizeof v->length);
	memcpy(&v->notify_mult, raw + VIRTIO_PCI_NOTIFY_CAP_MULT, sizeof v->notify_mult);
	return 0;
}

/* True when capability v can serve as r->name; else false and the reason, one line, in why. */
static bool vcap_usable(const struct unic_dev *dev, const struct vcap *v, const struct vcap_rule *r, char *why,
			size_t whylen)
{
	const struct unic_bar *b = v->bar <= VIRTIO_PCI_CAP_BAR_MAX ? &dev->bars[v->bar] : NULL;

	if (v->cap_len < r->cap_size)
		unic_fmt(why, whylen, "cap_len %u is shorter than its structure (%u bytes, spec 4.1.4)", v->cap_len, r->cap_size);
	else if (v->pos + v->cap_len > PCI_CONFIG_SIZE)
		unic_fmt(why, whylen, "cap_len %u runs past the end of config space", v->cap_len);
	else if (!b)
		unic_fmt(why, whylen, "it names BAR %u (values above %u are reserved, spec 4.1.4)", v->bar, VIRTIO_PCI_CAP_BAR_MAX);
	else if (!b->addr)
		unic_fmt(why, whylen, "it is in BAR %u, which is not a mapped memory BAR", v->bar);
	else if ((uint64_t)v->offset + v->length > b->size)
		unic_fmt(why, whylen, "offset 0x%x + length 0x%x is past the end of BAR %u (0x%zx bytes)", v->offset,
			 v->length, v->bar, b->size);
	else if (v->length < r->min_len)
		unic_fmt(why, whylen, "length %u is shorter than the structure (%u bytes)", v->length, r->min_len);
	else if (v->offset % r->align)
		unic_fmt(why, whylen, "offset 0x%x is not %u-byte aligned", v->offset, r->align);
	else if (r == &rule_notify && v->notify_mult && (v->notify_mult & (v->notify_mult - 1) || v->notify_mult < NOTIFY_ALIGN))
		/* 4.1.4.4.1: 0 or an even power of 2, so every queue's notify address stays 2-byte aligned */
		unic_fmt(why, whylen, "notify_off_multiplier %u is neither 0 nor an even power of 2 (spec 4.1.4.4)",
			 v->notify_mult);
	else
		return true;
	return false;
}

/* The capabilities we use, and the first reason one was refused (for the error line). */
struct cap_choice {
	const struct vcap_rule *rule;
	volatile uint8_t **addr;
	uint32_t *len;
	char why[160];
	uint8_t why_pos;
};

static void take_vcap(struct modern *m, const struct vcap *v, struct cap_choice *ch)
{
	char why[sizeof ch->why];

	if (*ch->addr)
		return; /* spec 4.1.4: the driver uses the first one of each type it can use */
	if (!vcap_usable(m->dev, v, ch->rule, why, sizeof why)) {
		UNIC_WARN("%s: virtio %s capability at 0x%02x ignored: %s", virtio_dev_name(m->dev), ch->rule->name,
			  v->pos, why);
		if (!ch->why[0]) {
			memcpy(ch->why, why, sizeof why);
			ch->why_pos = v->pos;
		}
		return;
	}
	*ch->addr = (volatile uint8_t *)m->dev->bars[v->bar].addr + v->offset;
	*ch->len = v->length;
	if (ch->rule == &rule_notify)
		m->notify_mult = v->notify_mult;
}

static int missing_cap(struct modern *m, const struct cap_choice *ch, const char *section)
{
	if (ch->why[0])
		return unic_dev_error(m->dev, ENXIO, "%s: no usable virtio %s capability: the one at 0x%02x: %s",
				      virtio_dev_name(m->dev), ch->rule->name, ch->why_pos, ch->why);
	return unic_dev_error(m->dev, ENXIO, "%s has virtio capabilities but no %s capability (spec %s)",
			      virtio_dev_name(m->dev), ch->rule->name, section);
}

/*
 * Spec 4.1.4: common config, notify and device config structures, each checked against
 * its struct, its BAR and its alignment. 0; -ENODEV when the device has none of them
 * (not modern: legacy may follow); -ENXIO when it has some but not a usable common
 * config and notify; -EIO when the list is corrupt. dev->err says which.
 */
static int parse_caps(struct modern *m)
{
	struct cap_choice ch[] = {
		{ .rule = &rule_common, .addr = &m->common, .len = &m->common_len },
		{ .rule = &rule_notify, .addr = &m->notify, .len = &m->notify_len },
		{ .rule = &rule_device, .addr = &m->device, .len = &m->device_len },
		{ .rule = &rule_isr, .addr = &m->isr, .len = &m->isr_len },
	};
	struct virtio_pci_caps c;
	unsigned i, seen = 0;
	int r = virtio_pci_caps_read(m->dev, &c);

	if (r)
		return r;
	for (i = 0; i < c.n; i++) {
		struct vcap v = { 0 };
		if (c.id[i] != PCI_CAP_ID_VNDR)
			continue;
		if ((r = read_vcap(m->dev, c.pos[i], &v)))
			return r;
		/* other types (PCI cfg access, shared memory) we do not use; reserved ones are ignored (4.1.4) */
		if (v.type == VIRTIO_PCI_CAP_COMMON_CFG || v.type == VIRTIO_PCI_CAP_NOTIFY_CFG ||
		    v.type == VIRTIO_PCI_CAP_DEVICE_CFG) {
			take_vcap(m, &v, &ch[v.type == VIRTIO_PCI_CAP_COMMON_CFG ? 0 : v.type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 1 : 2]);
			seen++;
		} else if (v.type == VIRTIO_PCI_CAP_ISR_CFG) { /* INTx only: not enough to call the device modern */
			take_vcap(m, &v, &ch[3]);
		}
	}
	if (!seen)
		return -ENODEV;
	if (!m->common)
		return missing_cap(m, &ch[0], "4.1.4.3");
	if (!m->notify)
		return missing_cap(m, &ch[1], "4.1.4.4");
	return 0;
}

static uint8_t modern_get_status(void *ctx)
{
	struct modern *m = ctx;
	return unic_read8(m->common, COMMON_STATUS);
}

static void modern_set_status(void *ctx, uint8_t status)
{
	struct modern *m = ctx;
	unic_write8(m->common, COMMON_STATUS, status);
}

/* 4.1.4.3.2: the driver waits until device_status reads 0 before reinitializing. */
static int modern_reset(void *ctx)
{
	return virtio_status_reset(((struct modern *)ctx)->dev, modern_get_status, modern_set_status, ctx);
}

static uint64_t modern_get_features(void *ctx)
{
	struct modern *m = ctx;
	uint64_t lo, hi;

	unic_write32(m->common, COMMON_DFSELECT, 0);
	lo = unic_read32(m->common, COMMON_DF);
	unic_write32(m->common, COMMON_DFSELECT, 1);
	hi = unic_read32(m->common, COMMON_DF);
	return hi << 32 | lo;
}

static void modern_set_features(void *ctx, uint64_t features)
{
	struct modern *m = ctx;

	unic_write32(m->common, COMMON_GFSELECT, 0);
	unic_write32(m->common, COMMON_GF, (uint32_t)features);
	unic_write32(m->common, COMMON_GFSELECT, 1);
	unic_write32(m->common, COMMON_GF, (uint32_t)(features >> 32));
}

/* 4.1.4.3.1 / 2.5.1: re-read while config_generation changes under us. */
static int modern_read_config(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	struct modern *m = ctx;
	uint8_t *p = buf, gen;
	uint32_t i;
	int tries;

	if (!m->device || (uint64_t)off + len > m->device_len)
		return -ERANGE;
	for (tries = 0; tries < CONFIG_GENERATION_TRIES; tries++) {
		gen = unic_read8(m->common, COMMON_CFGGENERATION);
		if (len == sizeof(uint16_t)) {
			uint16_t v = unic_read16(m->device, off);
			memcpy(buf, &v, sizeof v);
		} else {
			for (i = 0; i < len; i++)
				p[i] = unic_read8(m->device, off + i);
		}
		if (unic_read8(m->common, COMMON_CFGGENERATION) == gen)
			return 0;
	}
	return -EAGAIN;
}

static uint16_t modern_queue_max(void *ctx, uint16_t index)
{
	struct modern *m = ctx;

	if (index >= unic_read16(m->common, COMMON_NUMQ))
		return 0;
	unic_write16(m->common, COMMON_Q_SELECT, index);
	return unic_read16(m->common, COMMON_Q_SIZE);
}

static void modern_notify(struct virtq *vq)
{
	/* 4.1.4.4: write the queue index (no VIRTIO_F_NOTIFICATION_DATA) */
	unic_write16(vq->notify_ctx, 0, vq->index);
}

static void write64(volatile uint8_t *base, uint32_t lo_off, uint32_t hi_off, uint64_t v)
{
	/* 4.1.3.1: 64-bit fields may be written as two 32-bit halves */
	unic_write32(base, lo_off, (uint32_t)v);
	unic_write32(base, hi_off, (uint32_t)(v >> 32));
}

/*
 * 4.1.4.3 / 4.1.5.1.2: write a vector (msix_config, or queue_msix_vector of the selected
 * queue) and read it back: VIRTIO_MSI_NO_VECTOR means the device refused it; then no
 * queue interrupts (m->msix.why says why) and the device is polled. 0, or -EIO refused.
 */
static int modern_bind_vector(struct modern *m, uint32_t reg, uint16_t vector, const char *what)
{
	unic_write16(m->common, reg, vector);
	if (vector == VIRTIO_MSI_NO_VECTOR || unic_read16(m->common, reg) == vector)
		return 0;
	virtio_msix_refused(m->dev, &m->msix, what, vector);
	return -EIO;
}

/* MSI-X on (VFIO) before any vector is written (4.1.5.1.2); vector 0 for config changes. */
static int modern_intr_setup(void *ctx, uint16_t rx_queues)
{
	struct modern *m = ctx;

	if (virtio_msix_enable(m->dev, &m->msix, rx_queues))
		return 0; /* polled: m->msix.why says why */
	if (m->msix.intx) {
		if (m->isr)
			return 0; /* INTx: no vector to program */
		virtio_msix_close(m->dev, &m->msix); /* the line could not be lowered: an interrupt storm */
		unic_fmt(m->msix.why, sizeof m->msix.why, "virtio %s has no usable ISR status capability (spec 4.1.4.5), "
			 "which its INTx line needs: open it as vfio: (MSI-X), or poll it", virtio_dev_name(m->dev));
		return 0;
	}
	modern_bind_vector(m, COMMON_MSIX, VIRTIO_MSIX_CONFIG_VECTOR, "config changes");
	return 0;
}

static int modern_queue_intr_fd(void *ctx, uint16_t index, bool say)
{
	struct modern *m = ctx;

	return virtio_msix_fd(m->dev, &m->msix, virtio_msix_queue_slot(&m->msix, index), say);
}

/* 4.1.4.5: reading the ISR status lowers the INTx line */
static uint8_t modern_read_isr(void *ctx)
{
	struct modern *m = ctx;

	return unic_read8(m->isr, 0);
}

static void modern_intr_rearm(void *ctx)
{
	struct modern *m = ctx;

	virtio_intx_rearm(m->dev, &m->msix, modern_read_isr, m);
}

static void modern_queue_intr_ack(void *ctx, uint16_t index)
{
	struct modern *m = ctx;

	virtio_msix_ack(m->dev, &m->msix, virtio_msix_queue_slot(&m->msix, index), modern_read_isr, m);
}

static bool modern_config_intr_ack(void *ctx)
{
	struct modern *m = ctx;

	return virtio_msix_config_ack(m->dev, &m->msix, modern_read_isr, m);
}

static int modern_config_intr_fd(void *ctx, bool say)
{
	struct modern *m = ctx;

	return virtio_msix_fd(m->dev, &m->msix, VIRTIO_MSIX_CONFIG_VECTOR, say);
}

static int modern_queue_enable(void *ctx, struct virtq *vq)
{
	struct modern *m = ctx;
	uint64_t noff;

	if (modern_queue_max(ctx, vq->index) < vq->size)
		return unic_dev_error(m->dev, EINVAL, "virtio queue %u: size %u is larger than the device allows",
				      vq->index, vq->size);
	unic_write16(m->common, COMMON_Q_SIZE, vq->size);
	if (modern_bind_vector(m, COMMON_Q_MSIX, virtio_msix_queue_vector(&m->msix, vq->index), "a queue"))
		unic_write16(m->common, COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	write64(m->common, COMMON_Q_DESCLO, COMMON_Q_DESCHI, vq->desc_iova);
	write64(m->common, COMMON_Q_AVAILLO, COMMON_Q_AVAILHI, vq->driver_iova);
	write64(m->common, COMMON_Q_USEDLO, COMMON_Q_USEDHI, vq->device_iova);
	/* 4.1.4.4: the notify address is cap.offset + queue_notify_off * notify_off_multiplier */
	noff = (uint64_t)unic_read16(m->common, COMMON_Q_NOFF) * m->notify_mult;
	if (noff + sizeof(uint16_t) > m->notify_len)
		return unic_dev_error(m->dev, EIO, "virtio queue %u: notify offset 0x%llx is outside the notify area "
				      "(0x%x bytes)", vq->index, (unsigned long long)noff, m->notify_len);
	vq->notify = modern_notify;
	vq->notify_ctx = (void *)(uintptr_t)(m->notify + noff);
	unic_write16(m->common, COMMON_Q_ENABLE, 1);
	return 0;
}

static void modern_close(void *ctx)
{
	struct modern *m = ctx;

	virtio_msix_close(m->dev, &m->msix);
	free(m);
}

/* The data path stops when the device is gone (see modern_check). */
static const atomic_bool *modern_gone_flag(void *ctx) { return &((struct modern *)ctx)->dev->removed; }

/* A device that is gone reads all-ones over MMIO; no valid device_status has every bit set (spec 2.1). */
static int modern_check(void *ctx)
{
	struct modern *m = ctx;

	if (!m->dev->removed && unic_read8(m->common, COMMON_STATUS) != VIRTIO_STATUS_GONE)
		return 0;
	m->dev->removed = true;
	return unic_dev_error(m->dev, ENODEV, "virtio %s: device removed (its registers read all-ones): close it and "
			      "open it again once it is back", virtio_dev_name(m->dev));
}

static const struct virtio_transport modern_ops = {
	.name = "modern",
	.fixed_queue_size = false,
	.ring_align = sizeof(struct vring_used_elem), /* 2.7: used ring 4-aligned, desc 16 */
	.reset = modern_reset,
	.get_status = modern_get_status,
	.set_status = modern_set_status,
	.get_features = modern_get_features,
	.set_features = modern_set_features,
	.read_config = modern_read_config,
	.queue_max = modern_queue_max,
	.queue_enable = modern_queue_enable,
	.close = modern_close,
	.gone_flag = modern_gone_flag,
	.check = modern_check,
	.intr_setup = modern_intr_setup,
	.queue_intr_fd = modern_queue_intr_fd,
	.config_intr_fd = modern_config_intr_fd,
	.intr_rearm = modern_intr_rearm,
	.queue_intr_ack = modern_queue_intr_ack,
	.config_intr_ack = modern_config_intr_ack,
};

int virtio_pci_modern_open(struct unic_dev *dev, const struct virtio_transport **t, void **ctx)
{
	struct modern *m = calloc(1, sizeof *m);
	int r;

	if (!m)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	m->dev = dev;
	virtio_msix_init(&m->msix);
	if ((r = parse_caps(m))) {
		free(m);
		return r; /* -ENODEV / -ENXIO: a transitional device may still speak legacy */
	}
	*t = &modern_ops;
	*ctx = m;
	return 0;
}
