/*
 * pcapng.h - a minimal pcapng writer: one section, one Ethernet interface with
 * nanosecond timestamps, Enhanced Packet Blocks. (libpcap 1.10 reads pcapng
 * but cannot write it; unic-pcap writes classic pcap through libpcap.)
 * Format: IETF draft-ietf-opsawg-pcapng, sections 4.1, 4.2 and 4.3.
 */
#ifndef UNIC_PCAPNG_H
#define UNIC_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

struct pcapng_writer {
	FILE *f;
};

/* Creates path and writes the section and interface headers; 0 or -errno. */
int pcapng_open(struct pcapng_writer *w, const char *path, const char *ifname, uint32_t snaplen);
int pcapng_write(struct pcapng_writer *w, uint64_t ts_ns, const void *data, uint32_t caplen, uint32_t origlen);
/* Flushes and closes; 0, or -errno when any write failed. */
int pcapng_close(struct pcapng_writer *w);

#endif
