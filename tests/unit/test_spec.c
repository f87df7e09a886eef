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
	CHECK(parses("uio:0000:00:04.0", UNIC_ACCESS_UIO, "0000:00:04.0"));
	CHECK(parses("uio:02:00.0", UNIC_ACCESS_UIO, "0000:02:00.0"));
	CHECK(unic_parse_spec("vhost-user:/tmp/sock", &sp, err, sizeof err) == 0 &&
	      sp.access == UNIC_ACCESS_VHOST_USER && !strcmp(sp.path, "/tmp/sock") && !sp.server);
	CHECK(unic_parse_spec("vhost-user:/tmp/sock,server", &sp, err, sizeof err) == 0 &&
	      sp.access == UNIC_ACCESS_VHOST_USER && !strcmp(sp.path, "/tmp/sock") && sp.server);

	/* kernel interface backends: IFNAME and their options */
	CHECK(unic_parse_spec("af_packet:veth0", &sp, err, sizeof err) == 0 && sp.access == UNIC_ACCESS_AF_PACKET &&
	      !strcmp(sp.ifname, "veth0") && sp.queues == 0 && !sp.pci_addr[0]);
	CHECK(unic_parse_spec("af_packet:eth-1.100,queues=4", &sp, err, sizeof err) == 0 &&
	      !strcmp(sp.ifname, "eth-1.100") && sp.queues == 4);
	CHECK(unic_parse_spec("tap:unic0,queues=16", &sp, err, sizeof err) == 0 && sp.access == UNIC_ACCESS_TAP &&
	      !strcmp(sp.ifname, "unic0") && sp.queues == 16);
	CHECK(unic_parse_spec("af_xdp:ens3", &sp, err, sizeof err) == 0 && sp.access == UNIC_ACCESS_AF_XDP &&
	      !strcmp(sp.ifname, "ens3") && !sp.has_queue && sp.xdp_mode == UNIC_XDP_AUTO);
	CHECK(unic_parse_spec("af_xdp:ens3,queue=5,queues=2,zerocopy", &sp, err, sizeof err) == 0 &&
	      sp.has_queue && sp.queue == 5 && sp.queues == 2 && sp.xdp_mode == UNIC_XDP_ZEROCOPY);
	CHECK(unic_parse_spec("af_xdp:ens3,copy,queue=0", &sp, err, sizeof err) == 0 &&
	      sp.has_queue && sp.queue == 0 && sp.xdp_mode == UNIC_XDP_COPY);
	CHECK(unic_parse_spec("tap:abcdefghijklmno", &sp, err, sizeof err) == 0); /* 15: IFNAMSIZ - 1 */
	CHECK(!strcmp(unic_access_name(UNIC_ACCESS_AF_XDP), "af_xdp"));
	CHECK(!strcmp(unic_access_name(UNIC_ACCESS_AF_PACKET), "af_packet"));
	CHECK(!strcmp(unic_access_name(UNIC_ACCESS_TAP), "tap"));
	CHECK(!strcmp(unic_access_name(UNIC_ACCESS_VHOST_USER), "vhost-user"));
	CHECK(rejects("af_packet:", "af_packet wants an interface name"));
	CHECK(rejects("tap:abcdefghijklmnop", "tap wants an interface name of 1 to 15")); /* 16 */
	CHECK(rejects("af_packet:a/b", "interface name"));
	CHECK(rejects("af_packet:..", "interface name"));
	CHECK(rejects("af_packet:a b", "interface name"));
	CHECK(rejects("af_packet:,queues=2", "interface name"));
	CHECK(rejects("af_packet:veth0,queues=0", "option 'queues=0'"));
	CHECK(rejects("af_packet:veth0,queues=17", "af_packet:IFNAME[,queues=N]"));
	CHECK(rejects("af_packet:veth0,queues=2x", "option 'queues=2x'"));
	CHECK(rejects("af_packet:veth0,queues=2,queues=2", "repeated"));
	CHECK(rejects("af_packet:veth0,zerocopy", "option 'zerocopy' is unknown")); /* af_xdp only */
	CHECK(rejects("tap:unic0,queue=1", "tap:NAME[,queues=N]"));
	CHECK(rejects("af_xdp:ens3,copy,zerocopy", "option 'zerocopy'"));
	CHECK(rejects("af_xdp:ens3,queue=65536", "option 'queue=65536'"));
	CHECK(rejects("af_xdp:ens3,", "option ''"));
	CHECK(rejects("af_xdp:ens3,queue=-1", "af_xdp:IFNAME[,queue=N][,queues=N][,copy|zerocopy]"));
	CHECK(rejects("af_packet:veth0,queues=99999999999999999999999", "option 'queues=9999"));
	CHECK(rejects("AF_PACKET:veth0", "bad device spec"));

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
