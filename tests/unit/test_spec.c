/* Device spec parsing: every accepted form, and the rejected ones with their error line. */
#include <string.h>

#include "check.h"
#include "unic.h"

static int parses(const char *s, enum unic_access a, const char *bdf)
{
	struct unic_spec sp;
	char err[UNIC_ERR_LEN];

	return unic_parse_spec(s, &sp, err, sizeof err) == 0 && sp.access == a && !strcmp(sp.pci_addr, bdf);
}

static int rejects(const char *s, const char *msg)
{
	struct unic_spec sp;
	char err[UNIC_ERR_LEN] = "";

	return unic_parse_spec(s, &sp, err, sizeof err) < 0 && strstr(err, msg) != NULL;
}

int main(void)
{
	struct unic_spec sp;
	char err[UNIC_ERR_LEN];

	CHECK(parses("0000:00:03.0", 0, "0000:00:03.0"));
	CHECK(parses("00:03.0", 0, "0000:00:03.0"));
	CHECK(parses("0001:af:1f.7", 0, "0001:af:1f.7"));
	CHECK(parses("0000:AF:1F.7", 0, "0000:af:1f.7"));
	CHECK(parses("vfio:0000:00:04.0", UNIC_ACCESS_VFIO, "0000:00:04.0"));
	CHECK(parses("vfio-noiommu:0000:00:04.0", UNIC_ACCESS_VFIO_NOIOMMU, "0000:00:04.0"));
	CHECK(parses("sysfs:01:00.1", UNIC_ACCESS_SYSFS, "0000:01:00.1"));
	CHECK(unic_parse_spec("vhost-user:/tmp/sock", &sp, err, sizeof err) == 0 &&
	      sp.access == UNIC_ACCESS_VHOST_USER && !strcmp(sp.path, "/tmp/sock") && !sp.server);
	CHECK(unic_parse_spec("vhost-user:/tmp/sock,server", &sp, err, sizeof err) == 0 &&
	      sp.access == UNIC_ACCESS_VHOST_USER && !strcmp(sp.path, "/tmp/sock") && sp.server);

	CHECK(rejects("", "bad device spec"));
	CHECK(rejects("eth0", "bad device spec 'eth0'"));
	CHECK(rejects("0000:00:20.0", "bad device spec"));   /* slot > 0x1f */
	CHECK(rejects("0000:00:03.8", "bad device spec"));   /* function > 7 */
	CHECK(rejects("0000:100:03.0", "bad device spec"));  /* bus > 0xff */
	CHECK(rejects("0000:00:03.0x", "bad device spec"));
	CHECK(rejects("vfio:", "bad device spec"));
	CHECK(rejects("pci:0000:00:03.0", "bad device spec"));
	CHECK(rejects("vhost-user:", "socket path"));
	CHECK(unic_parse_spec(NULL, &sp, err, sizeof err) < 0);
	CHECK(unic_parse_spec("00:03.0", NULL, err, sizeof err) < 0);
	CHECK(unic_parse_spec("bad", &sp, NULL, 0) < 0); /* no error buffer: still no crash */
	return check_summary("test_spec");
}
