/* pcapng.c - minimal pcapng writer (see pcapng.h). Blocks are written in host byte order. */
#include <errno.h>
#include <string.h>

#include "common/pcapng.h"

/* draft-ietf-opsawg-pcapng: block types, byte-order magic, options */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define PCAPNG_MAJOR 1
#define PCAPNG_MINOR 0
#define PCAPNG_OPT_END 0
#define PCAPNG_OPT_IF_NAME 2
#define PCAPNG_OPT_IF_TSRESOL 9
#define PCAPNG_TSRESOL_NSEC 9          /* 10^-9 s */
#define LINKTYPE_ETHERNET 1
#define PCAPNG_WRITE_BUFFER (1u << 20)

static uint32_t pad4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

static void put(struct pcapng_writer *w, const void *p, size_t n)
{
	fwrite(p, 1, n, w->f);
}

static void put32(struct pcapng_writer *w, uint32_t v)
{
	put(w, &v, sizeof v);
}

static void put16(struct pcapng_writer *w, uint16_t v)
{
	put(w, &v, sizeof v);
}

static void put_padding(struct pcapng_writer *w, uint32_t n)
{
	static const uint8_t zero[4];

	put(w, zero, pad4(n) - n);
}

/* An option: code, length, value padded to 32 bits. */
static void put_option(struct pcapng_writer *w, uint16_t code, const void *val, uint16_t len)
{
	put16(w, code);
	put16(w, len);
	if (len)
		put(w, val, len);
	put_padding(w, len);
}

static void section_header(struct pcapng_writer *w)
{
	const uint32_t len = 28; /* type, length, magic, versions, section length, length */
	int64_t section_len = -1; /* not given */

	put32(w, PCAPNG_SHB);
	put32(w, len);
	put32(w, PCAPNG_BYTE_ORDER_MAGIC);
	put16(w, PCAPNG_MAJOR);
	put16(w, PCAPNG_MINOR);
	put(w, &section_len, sizeof section_len);
	put32(w, len);
}

static void interface_description(struct pcapng_writer *w, const char *ifname, uint32_t snaplen)
{
	uint16_t name_len = (uint16_t)strnlen(ifname, 64);
	uint8_t tsresol = PCAPNG_TSRESOL_NSEC;
	uint32_t len = 20 + 4 + pad4(name_len) + 4 + pad4(sizeof tsresol) + 4;

	put32(w, PCAPNG_IDB);
	put32(w, len);
	put16(w, LINKTYPE_ETHERNET);
	put16(w, 0); /* reserved */
	put32(w, snaplen);
	put_option(w, PCAPNG_OPT_IF_NAME, ifname, name_len);
	put_option(w, PCAPNG_OPT_IF_TSRESOL, &tsresol, sizeof tsresol);
	put_option(w, PCAPNG_OPT_END, NULL, 0);
	put32(w, len);
}

int pcapng_open(struct pcapng_writer *w, const char *path, const char *ifname, uint32_t snaplen)
{
	w->f = fopen(path, "wb");
	if (!w->f)
		return -errno;
	setvbuf(w->f, NULL, _IOFBF, PCAPNG_WRITE_BUFFER);
	section_header(w);
	interface_description(w, ifname, snaplen);
	return ferror(w->f) ? -EIO : 0;
}

int pcapng_write(struct pcapng_writer *w, uint64_t ts_ns, const void *data, uint32_t caplen, uint32_t origlen)
{
	uint32_t len = 32 + pad4(caplen);

	put32(w, PCAPNG_EPB);
	put32(w, len);
	put32(w, 0); /* interface id */
	put32(w, (uint32_t)(ts_ns >> 32));
	put32(w, (uint32_t)ts_ns);
	put32(w, caplen);
	put32(w, origlen);
	put(w, data, caplen);
	put_padding(w, caplen);
	put32(w, len);
	return ferror(w->f) ? -EIO : 0;
}

int pcapng_close(struct pcapng_writer *w)
{
	int r = 0;

	if (!w->f)
		return 0;
	if (ferror(w->f) || fflush(w->f))
		r = -EIO;
	if (fclose(w->f))
		r = r ? r : -errno;
	w->f = NULL;
	return r;
}
