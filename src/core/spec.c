/* spec.c - parsing of device specs: "BDF", "vfio:BDF", "vfio-noiommu:BDF", "sysfs:BDF", "vhost-user:PATH". */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct spec_prefix {
	const char *prefix;
	enum unic_access access;
};

/* "vhost-user:PATH,server": unic listens on PATH instead of connecting to it */
#define VHOST_SERVER_SUFFIX ",server"
/* "vhost-user:PATH,server,uid=N": a backend of uid N may connect too */
#define VHOST_UID_OPTION ",uid="

static const struct spec_prefix prefixes[] = {
	{ "vfio:", UNIC_ACCESS_VFIO },
	{ "vfio-noiommu:", UNIC_ACCESS_VFIO_NOIOMMU },
	{ "sysfs:", UNIC_ACCESS_SYSFS },
	{ "vhost-user:", UNIC_ACCESS_VHOST_USER },
};

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

int unic_parse_spec(const char *spec, struct unic_spec *out, char *err, size_t errlen)
{
	const char *rest;
	size_t i, plen;

	if (!spec || !out) {
		unic_fmt(err, errlen, "no device spec given");
		return -EINVAL;
	}
	memset(out, 0, sizeof *out);
	rest = spec;
	for (i = 0; i < UNIC_ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i].prefix);
		if (!strncmp(spec, prefixes[i].prefix, n)) {
			out->access = prefixes[i].access;
			rest = spec + n;
			break;
		}
	}
	if (out->access == UNIC_ACCESS_VHOST_USER) {
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
	if (parse_bdf(rest, out->pci_addr, sizeof out->pci_addr)) {
		unic_fmt(err, errlen,
			 "bad device spec '%s': expected a PCI address like 0000:00:03.0, optionally prefixed "
			 "vfio:, vfio-noiommu:, sysfs: (or vhost-user:PATH)", spec);
		return -EINVAL;
	}
	return 0;
}

const char *unic_access_name(enum unic_access a)
{
	switch (a) {
	case UNIC_ACCESS_VFIO: return "vfio";
	case UNIC_ACCESS_VFIO_NOIOMMU: return "vfio-noiommu";
	case UNIC_ACCESS_SYSFS: return "sysfs";
	case UNIC_ACCESS_VHOST_USER: return "vhost-user";
	}
	return "none";
}
