/*
 * mac.c - a random MAC address for a device that has none of its own.
 *
 * The bytes come from getrandom(2): the library never calls srand()/rand(),
 * which would reseed or advance the application's own random sequence.
 */
#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* IEEE 802-2014 8.2.2: bit 0 of the first octet is I/G (group), bit 1 is U/L (local). */
#define MAC_GROUP_BIT 0x01u
#define MAC_LOCAL_BIT 0x02u
#define MAC_LEN 6

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004 /* Linux 5.6: never blocks, no entropy claim (enough for an address) */
#endif

/* All of len bytes from getrandom with flags, or false. */
static bool fill_random(uint8_t *buf, size_t len, unsigned flags)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Last resort when the kernel has no getrandom: the clock, the pid and an address, mixed. */
static void fill_weak(uint8_t *buf, size_t len)
{
	struct timespec ts;
	uint64_t x;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = ((uint64_t)ts.tv_sec << 30 ^ (uint64_t)ts.tv_nsec) * 0x9e3779b97f4a7c15ull /* golden-ratio mix */
	    ^ (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf;
	for (i = 0; i < len; i++, x >>= 8)
		buf[i] = (uint8_t)x;
}

void unic_random_mac(uint8_t mac[6])
{
	/* early in boot the pool may not be ready: GRND_NONBLOCK fails, GRND_INSECURE does not */
	if (!fill_random(mac, MAC_LEN, GRND_NONBLOCK) && !fill_random(mac, MAC_LEN, GRND_INSECURE))
		fill_weak(mac, MAC_LEN);
	mac[0] = (uint8_t)((mac[0] & ~MAC_GROUP_BIT) | MAC_LOCAL_BIT); /* unicast, locally administered */
}
