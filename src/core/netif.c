/*
 * netif.c - what the kernel-interface backends (af_xdp, af_packet, tap) ask of an interface:
 * that it exists and is up, its index, MAC, link state and speed. Through ioctl and
 * /sys/class/net; no backend names here.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* An ioctl on ifname through a throwaway datagram socket (any family answers SIOCGIF*). */
static int if_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof *ifr);
	snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", ifname);
	if (ioctl(fd, req, ifr) < 0)
		r = -errno;
	close(fd);
	return r;
}

int unic_netif_check_up(struct unic_dev *dev, const char *what)
{
	const char *ifname = dev->spec.ifname;
	struct ifreq ifr;
	int r = if_ioctl(ifname, SIOCGIFFLAGS, &ifr);

	if (r == -ENODEV)
		return unic_dev_error(dev, ENODEV, "%s: no interface %s in this network namespace (list them with "
				      "'ip link')", what, ifname);
	if (r)
		return unic_dev_error(dev, -r, "%s: cannot read the flags of %s: %s", what, ifname, strerror(-r));
	if (!(ifr.ifr_flags & IFF_UP))
		return unic_dev_error(dev, ENETDOWN, "%s: interface %s is down: bring it up first ('ip link set %s up')",
				      what, ifname, ifname);
	return 0;
}

int unic_netif_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int r = if_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (!r)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return r;
}

int unic_netif_mtu(const char *ifname, uint32_t *mtu)
{
	struct ifreq ifr;
	int r = if_ioctl(ifname, SIOCGIFMTU, &ifr);

	if (!r)
		*mtu = ifr.ifr_mtu > 0 ? (uint32_t)ifr.ifr_mtu : 0;
	return r;
}

/* The first line of /sys/class/net/IF/FILE, without its newline; false when unreadable. */
static bool sys_line(const char *ifname, const char *file, char *buf, size_t len)
{
	char path[96];
	FILE *f;
	bool ok;

	snprintf(path, sizeof path, "/sys/class/net/%s/%s", ifname, file);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

int unic_netif_link(struct unic_dev *dev, struct unic_link *link)
{
	const char *ifname = dev->spec.ifname;
	char line[32];
	long speed;

	if (!sys_line(ifname, "operstate", line, sizeof line))
		return unic_dev_error(dev, ENODEV, "interface %s is gone (no /sys/class/net/%s/operstate)", ifname,
				      ifname);
	link->up = !strcmp(line, "up");
	/* speed reads -1 or fails (EINVAL) when the interface has no link or does not know it */
	speed = sys_line(ifname, "speed", line, sizeof line) ? strtol(line, NULL, 10) : 0;
	link->speed_mbps = link->up && speed > 0 && speed <= UINT32_MAX ? (uint32_t)speed : 0;
	link->full_duplex = link->up && sys_line(ifname, "duplex", line, sizeof line) && !strcmp(line, "full");
	return 0;
}
