/* spec.c - parsing of device specs: a PCI address, or a backend prefix (backends.c) and its argument. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* "vhost-user:PATH,server": unic listens on PATH instead of connecting to it */
#define VHOST_SERVER_SUFFIX ",server"
/* "vhost-user:PATH,server,uid=N": a backend of uid N may connect too */
#define VHOST_UID_OPTION ",uid="
/* Linux IFNAMSIZ (include/uapi/linux/if.h), with its terminating NUL */
#define IFNAME_SIZE 16
/* af_xdp ",queue=N": a NIC queue id (ethtool's channel numbers fit 16 bits) */
#define QUEUE_ID_MAX UINT16_MAX

static int hex_field(const char **p, unsigned digits_max, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned n = 0;
	unsigned long v = 0;

	while (isxdigit((unsigned char)s[n]) && n < digits_max) {
		v = v * 16 + (unsigned long)(isdigit((unsigned char)s[n]) ? s[n] - '0' : tolower((unsigned char)s[n]) - 'a' + 10);
		n++;
	}
	if (n == 0 || v > max)
		return -1;
	*p = s + n;
	*out = v;
	return 0;
}

/* Accepts "dddd:bb:ss.f" or "bb:ss.f" (domain 0); writes the canonical form. */
static int parse_bdf(const char *s, char *out, size_t outlen)
{
	unsigned long f1, f2, f3, f4, dom = 0, bus, slot, fn;
	const char *p = s;

	if (hex_field(&p, 4, 0xffff, &f1) || *p++ != ':' || hex_field(&p, 2, 0xff, &f2))
		return -1;
	if (*p == ':') {
		p++;
		if (hex_field(&p, 2, 0x1f, &f3) || *p++ != '.' || hex_field(&p, 1, 7, &f4) || *p)
			return -1;
		dom = f1, bus = f2, slot = f3, fn = f4;
	} else if (*p == '.') {
		p++;
		if (f1 > 0xff || f2 > 0x1f || hex_field(&p, 1, 7, &f3) || *p)
			return -1;
		bus = f1, slot = f2, fn = f3;
	} else {
		return -1;
	}
	snprintf(out, outlen, "%04lx:%02lx:%02lx.%lx", dom, bus, slot, fn);
	return 0;
}

/* A trailing ",uid=N" (decimal, below 2^32 - 1) is cut off out->path into out->peer_uid. */
static int strip_uid(struct unic_spec *out, const char *spec, char *err, size_t errlen)
{
	char *opt = strstr(out->path, VHOST_UID_OPTION), *num, *end;
	unsigned long long uid;

	if (!opt)
		return 0;
	num = opt + strlen(VHOST_UID_OPTION);
	errno = 0;
	uid = strtoull(num, &end, 10);
	if (!isdigit((unsigned char)*num) || *end || errno || uid >= UINT32_MAX) {
		unic_fmt(err, errlen, "bad device spec '%s': uid=N wants a decimal user id at the end", spec);
		return -EINVAL;
	}
	*opt = 0;
	out->has_peer_uid = true;
	out->peer_uid = (uint32_t)uid;
	return 0;
}

/* The vhost-user form: PATH[,server[,uid=N]]. */
static int parse_path(const char *rest, struct unic_spec *out, const char *spec, char *err, size_t errlen)
{
	size_t plen;

	if (!*rest || strlen(rest) >= sizeof out->path) {
		unic_fmt(err, errlen, "bad device spec '%s': vhost-user needs a socket path shorter than %zu bytes",
			 spec, sizeof out->path);
		return -EINVAL;
	}
	strcpy(out->path, rest);
	if (strip_uid(out, spec, err, errlen))
		return -EINVAL;
	plen = strlen(out->path);
	if (plen > strlen(VHOST_SERVER_SUFFIX) &&
	    !strcmp(out->path + plen - strlen(VHOST_SERVER_SUFFIX), VHOST_SERVER_SUFFIX)) {
		out->path[plen - strlen(VHOST_SERVER_SUFFIX)] = 0;
		out->server = true;
	}
	if (out->has_peer_uid && !out->server) {
		unic_fmt(err, errlen, "bad device spec '%s': uid=N applies to ,server only (PATH,server,uid=N)", spec);
		return -EINVAL;
	}
	return 0;
}

/* A decimal number in [lo, hi] that is the whole of s. */
static bool decimal_in(const char *s, unsigned long lo, unsigned long hi, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* One ",option" of an IFNAME spec (opt is NUL-terminated); false when b does not take it. */
static bool parse_option(const struct unic_backend *b, const char *opt, struct unic_spec *out)
{
	if ((b->options & UNIC_OPT_QUEUES) && !strncmp(opt, "queues=", 7))
		return !out->queues && decimal_in(opt + 7, 1, UNIC_MAX_QUEUES, &out->queues);
	if ((b->options & UNIC_OPT_QUEUE) && !strncmp(opt, "queue=", 6)) {
		if (out->has_queue)
			return false;
		out->has_queue = true;
		return decimal_in(opt + 6, 0, QUEUE_ID_MAX, &out->queue);
	}
	if ((b->options & UNIC_OPT_XDP_MODE) && out->xdp_mode == UNIC_XDP_AUTO) {
		if (!strcmp(opt, "copy"))
			out->xdp_mode = UNIC_XDP_COPY;
		else if (!strcmp(opt, "zerocopy"))
			out->xdp_mode = UNIC_XDP_ZEROCOPY;
		return out->xdp_mode != UNIC_XDP_AUTO;
	}
	return false;
}

/* A name the kernel would take (net/core/dev.c dev_valid_name), without ',' (our separator). */
static bool ifname_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= IFNAME_SIZE || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return false;
	return true;
}

/* The kernel interface forms: IFNAME[,option]... as the backend's row allows. */
static int parse_ifname(const struct unic_backend *b, const char *rest, struct unic_spec *out, const char *spec,
			char *err, size_t errlen)
{
	size_t n = strcspn(rest, ",");
	char opt[32];

	if (!ifname_ok(rest, n)) {
		unic_fmt(err, errlen, "bad device spec '%s': %s wants an interface name of 1 to %d characters "
			 "(no '/', ':', ',' or spaces): %s", spec, b->name, IFNAME_SIZE - 1, b->syntax);
		return -EINVAL;
	}
	memcpy(out->ifname, rest, n);
	out->ifname[n] = 0;
	for (rest += n; *rest; rest += n) {
		rest++; /* the ',' */
		n = strcspn(rest, ",");
		snprintf(opt, sizeof opt, "%.*s", (int)n, rest);
		if (n >= sizeof opt || !parse_option(b, opt, out)) {
			unic_fmt(err, errlen, "bad device spec '%s': option '%.*s' is unknown, repeated or out of range; "
				 "the form is %s (queues 1..%d)", spec, (int)(n < 40 ? n : 40), rest, b->syntax,
				 UNIC_MAX_QUEUES);
			return -EINVAL;
		}
	}
	return 0;
}

int unic_parse_spec(const char *spec, struct unic_spec *out, char *err, size_t errlen)
{
	const struct unic_backend *b;
	const char *rest;
	size_t plen = 0;

	if (!spec || !out) {
		unic_fmt(err, errlen, "no device spec given");
		return -EINVAL;
	}
	memset(out, 0, sizeof *out);
	b = unic_backend_by_prefix(spec, &plen);
	rest = spec + plen;
	if (b) {
		out->access = b->access;
		if (b->arg == UNIC_SPEC_PATH)
			return parse_path(rest, out, spec, err, errlen);
		if (b->arg == UNIC_SPEC_IFNAME)
			return parse_ifname(b, rest, out, spec, err, errlen);
	}
	if (parse_bdf(rest, out->pci_addr, sizeof out->pci_addr)) {
		unic_fmt(err, errlen,
			 "bad device spec '%s': expected a PCI address like 0000:00:03.0, optionally prefixed "
			 "vfio:, vfio-noiommu:, sysfs:, uio: (or vhost-user:PATH, af_xdp:IFNAME, af_packet:IFNAME, tap:NAME)",
			 spec);
		return -EINVAL;
	}
	return 0;
}
