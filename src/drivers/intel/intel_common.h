/*
 * intel_common.h - what the 82576 (igb), the 82574L (e1000e) and the 82540EM
 * (e1000) share.
 *
 * Both chips descend from the same PRO/1000 register file: the registers
 * below sit at the same offsets with the same bits on both, and the 82576's
 * advanced descriptors have the same layout as the 82574's extended ones for
 * everything this library uses (buffer address; DD/EOP/errors, length and RSS
 * hash in the write-back; DD in the transmit write-back). What differs (queue
 * register blocks, descriptor type codes, buffer sizing, RSS table format) is
 * described per chip by struct intel_chip and set up in igb.c / e1000e.c.
 * The 82540EM, their ancestor, has the same register file for what is used
 * here, but only the legacy receive descriptor (intel_rx_burst_legacy).
 *
 * References: Intel 82576EB GbE Controller Datasheet (rev 2.x), "82576";
 * Intel 82574 GbE Controller Family Datasheet (rev 3.x), "82574";
 * PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
 * Manual (8254x, rev 4.0), "8254x".
 */
#ifndef UNIC_INTEL_COMMON_H
#define UNIC_INTEL_COMMON_H

#include "internal.h"

#define INTEL_VENDOR 0x8086
#define INTEL_BAR 0              /* BAR0: memory-mapped registers (82576 8.1, 82574 10.1) */
#define INTEL_BAR_MIN_SIZE 0x10000u

/* ---- general registers, same offset and meaning on both (82576 8.2, 82574 10.2.2) ---- */
#define INTEL_CTRL 0x00000       /* device control */
#define INTEL_STATUS 0x00008     /* device status */
#define INTEL_CTRL_EXT 0x00018   /* extended device control */
#define INTEL_MDIC 0x00020       /* MDI control: PHY register access */
#define INTEL_ICR 0x000C0        /* interrupt cause read (clear on read; a write clears the bits set) */
#define INTEL_ITR 0x000C4        /* interrupt throttling (82576 8.8.x, 82574 10.2.4.2) */
#define INTEL_IMS 0x000D0        /* interrupt mask set */
#define INTEL_IMC 0x000D8        /* interrupt mask clear */
#define INTEL_RCTL 0x00100       /* receive control */
#define INTEL_TCTL 0x00400       /* transmit control */
#define INTEL_RXCSUM 0x05000     /* receive checksum control */
#define INTEL_MTA 0x05200        /* multicast table array, 128 words */
#define INTEL_MTA_WORDS 128
#define INTEL_RAL0 0x05400       /* receive address low, entry 0 */
#define INTEL_RAH0 0x05404       /* receive address high, entry 0 */
#define INTEL_MRQC 0x05818       /* multiple receive queues command */
#define INTEL_RETA 0x05C00       /* RSS redirection table: 32 words, 4 one-byte entries each */
#define INTEL_RETA_WORDS 32      /* (82576 8.10.23, 82574 10.2.5.18) */
#define INTEL_RETA_ENTRIES_PER_WORD 4
#define INTEL_RETA_ENTRIES (INTEL_RETA_WORDS * INTEL_RETA_ENTRIES_PER_WORD) /* 128: hash bits 6:0 pick one */
#define INTEL_RSSRK 0x05C80      /* RSS random key: 10 words, byte 4n in bits 7:0 of word n */
#define INTEL_RSSRK_WORDS 10     /* (82576 8.10.25, 82574 10.2.5.19) */
#define INTEL_RSSRK_BYTES (INTEL_RSSRK_WORDS * 4)

/* CTRL bits (82576 8.2.1, 82574 10.2.2.1) */
#define INTEL_CTRL_FD (1u << 0)          /* full duplex (forced mode only) */
#define INTEL_CTRL_SLU (1u << 6)         /* set link up */
#define INTEL_CTRL_FRCSPD (1u << 11)     /* force speed */
#define INTEL_CTRL_FRCDPX (1u << 12)     /* force duplex */
#define INTEL_CTRL_RST (1u << 26)        /* device reset, self-clearing */

/* STATUS bits (82576 8.2.2, 82574 10.2.2.2) */
#define INTEL_STATUS_FD (1u << 0)
#define INTEL_STATUS_LU (1u << 1)
#define INTEL_STATUS_SPEED_SHIFT 6
#define INTEL_STATUS_SPEED_MASK (3u << INTEL_STATUS_SPEED_SHIFT)
#define INTEL_STATUS_SPEED_10 0u
#define INTEL_STATUS_SPEED_100 1u        /* 10b and 11b both mean 1000 */

/* CTRL_EXT (82576 8.2.3, 82574 10.2.2.5) */
#define INTEL_CTRL_EXT_DRV_LOAD (1u << 28) /* tells firmware a driver owns the device */

/* MDIC (82576 8.2.4, 82574 10.2.2.7) */
#define INTEL_MDIC_DATA_MASK 0xFFFFu
#define INTEL_MDIC_REG_SHIFT 16
#define INTEL_MDIC_REG_MASK 0x1Fu        /* 5-bit PHY register number */
#define INTEL_MDIC_PHY_SHIFT 21
#define INTEL_MDIC_OP_WRITE (1u << 26)
#define INTEL_MDIC_OP_READ (2u << 26)
#define INTEL_MDIC_READY (1u << 28)
#define INTEL_MDIC_ERROR (1u << 30)
#define INTEL_PHY_ADDR 1                 /* the internal PHY answers at address 1 on both */

/* PHY registers, IEEE 802.3 clause 22 (82576 8.24, 82574 10.3) */
#define PHY_BMCR 0
#define PHY_BMCR_ANRESTART (1u << 9)
#define PHY_BMCR_ANENABLE (1u << 12)

/* ICR / IMS cause bits, same on both (82576 8.8.3, 82574 10.2.4.1) */
#define INTEL_ICR_LSC (1u << 2)          /* link status change */
#define INTEL_ICR_RXT0 (1u << 7)         /* receive timer / descriptor written back (82576: RXDW) */

/* RCTL (82576 8.10.1, 82574 10.2.5.1) */
#define INTEL_RCTL_EN (1u << 1)
#define INTEL_RCTL_UPE (1u << 3)         /* unicast promiscuous */
#define INTEL_RCTL_MPE (1u << 4)         /* multicast promiscuous */
#define INTEL_RCTL_LPE (1u << 5)         /* long packet enable: frames above 1522 bytes (jumbo) */
#define INTEL_RCTL_BAM (1u << 15)        /* accept broadcast */
/* Buffer size of the 8254x / 82574 (one for all queues): BSIZE 17:16, scaled by 16 with BSEX
 * (8254x 13.4.22, 82574 10.2.5.1); the 82576 sizes its buffers per queue instead (SRRCTL). */
#define INTEL_RCTL_BSIZE_SHIFT 16
#define INTEL_RCTL_BSEX (1u << 25)
#define INTEL_RCTL_SECRC (1u << 26)      /* strip the Ethernet CRC */

/* TCTL (82576 8.12.1, 82574 10.2.6.1) */
#define INTEL_TCTL_EN (1u << 1)
#define INTEL_TCTL_PSP (1u << 3)         /* pad short packets to 64 bytes */
#define INTEL_TCTL_CT_SHIFT 4
#define INTEL_TCTL_CT_DEFAULT 0x0Fu      /* collision threshold: the datasheet's value */
#define INTEL_TCTL_COLD_SHIFT 12
#define INTEL_TCTL_COLD_FD 0x3Fu         /* collision distance for full duplex */
#define INTEL_TCTL_RTLC (1u << 24)       /* re-transmit on late collision */

/* RXCSUM: PCSD makes write-back dword 1 carry the RSS hash, which RSS needs (82576 8.10.12) */
#define INTEL_RXCSUM_PCSD (1u << 13)

/* RAH (82576 8.10.14, 82574 10.2.5.12) */
#define INTEL_RAH_AV (1u << 31)          /* address valid */

/* MRQC hash field selects (82576 8.10.24, 82574 10.2.5.17) */
#define INTEL_MRQC_RSS_IPV4_TCP (1u << 16)
#define INTEL_MRQC_RSS_IPV4 (1u << 17)
#define INTEL_MRQC_RSS_IPV6_TCP (1u << 18)
#define INTEL_MRQC_RSS_IPV6 (1u << 20)

/* ---- clear-on-read statistics (82576 8.19, 82574 10.2.7) ---- */
#define INTEL_CRCERRS 0x04000
#define INTEL_MPC 0x04010        /* missed packets: no room in the receive FIFO / ring */
#define INTEL_GPRC 0x04074       /* good packets received */
#define INTEL_GPTC 0x04080       /* good packets transmitted */
#define INTEL_GORCL 0x04088      /* good octets received, low then high (reading high clears) */
#define INTEL_GORCH 0x0408C
#define INTEL_GOTCL 0x04090
#define INTEL_GOTCH 0x04094
#define INTEL_RNBC 0x040A0       /* receive no buffers: an event count, the frame may still be received */
#define INTEL_TPR 0x040D0        /* total packets received */
#define INTEL_TPT 0x040D4        /* total packets transmitted */

/* ---- per-queue register blocks: same layout inside the block on both chips ---- */
#define INTEL_Q_BAL 0x00         /* descriptor base low */
#define INTEL_Q_BAH 0x04         /* descriptor base high */
#define INTEL_Q_LEN 0x08         /* ring length in bytes, multiple of 128 */
#define INTEL_Q_HEAD 0x10
#define INTEL_Q_TAIL 0x18
#define INTEL_Q_DCTL 0x28        /* RXDCTL / TXDCTL */
#define INTEL_RING_ALIGN 128u    /* base and length alignment (82576 8.10.4, 82574 10.2.5.5) */

/* ---- frame sizes ---- */
#define INTEL_FRAME_OVERHEAD 18          /* Ethernet header (14) and one 802.1Q tag (4): frame = mtu + 18 */
#define INTEL_FCS_LEN 4                  /* the CRC the chip checks and strips (RCTL.SECRC) or inserts (IFCS) */
#define INTEL_STD_FRAME 1522             /* the longest frame, with a tag and CRC, taken without RCTL.LPE */
#define INTEL_STD_MTU 1500               /* Ethernet's payload: above it the application asked for jumbo frames */

/* ---- descriptors ---- */
/*
 * Receive: 82576 advanced descriptor, one buffer (7.1.5) = 82574 extended
 * descriptor (7.1.4). Read format: buffer address, then 0 (no header split).
 */
union intel_rx_desc {
	struct {
		uint64_t pkt_addr;
		uint64_t hdr_addr;
	} read;
	struct {
		uint32_t info;       /* RSS type / packet type (82576), MRQ (82574) */
		uint32_t rss_hash;   /* with RXCSUM.PCSD */
		uint32_t staterr;    /* extended status 19:0, extended errors 31:20 */
		uint16_t length;     /* bytes written to this descriptor's buffer */
		uint16_t vlan;
	} wb;
	/* 8254x legacy descriptor (8254x 3.2.3): same read format (address, then 0), write-back below */
	struct {
		uint64_t addr;
		uint16_t length;
		uint16_t csum;
		uint16_t staterr;    /* status 7:0 (DD bit 0, EOP bit 1: where the extended status has
				      * them), errors 15:8 (CE, SE, SEQ, -, CXE, TCPE, IPE, RXE: the
				      * extended errors 31:24 in the same order) */
		uint16_t special;
	} legacy;
};
_Static_assert(sizeof(union intel_rx_desc) == 16, "receive descriptors are 16 bytes");

#define INTEL_RXD_STAT_DD (1u << 0)      /* descriptor done */
#define INTEL_RXD_STAT_EOP (1u << 1)     /* end of packet */
/* Frame errors: CRC, symbol, sequence, carrier extension, RX data error (82576 7.1.5.2) */
#define INTEL_RXD_ERR_CE (1u << 24)
#define INTEL_RXD_ERR_SE (1u << 25)
#define INTEL_RXD_ERR_SEQ (1u << 26)
#define INTEL_RXD_ERR_CXE (1u << 28)
#define INTEL_RXD_ERR_RXE (1u << 31)
#define INTEL_RXD_LEGACY_STATUS_MASK 0xFFu /* legacy status byte */
#define INTEL_RXD_LEGACY_ERR_SHIFT 16      /* legacy errors byte (15:8) << 16 = the extended error bits 31:24 */
#define INTEL_RXD_ERR_FRAME (INTEL_RXD_ERR_CE | INTEL_RXD_ERR_SE | INTEL_RXD_ERR_SEQ | \
			     INTEL_RXD_ERR_CXE | INTEL_RXD_ERR_RXE)

/*
 * Transmit: 82576 advanced data descriptor (7.2.2.3) = 82574 TCP/IP data
 * descriptor (7.2.10.3): address; length 15:0, DTYP 23:20, DCMD 31:24; then
 * a status word whose bit 0 (DD) the device sets when RS asked for it.
 */
struct intel_tx_desc {
	uint64_t addr;
	uint32_t cmd_type_len;
	uint32_t olinfo_status;
};
_Static_assert(sizeof(struct intel_tx_desc) == 16, "transmit descriptors are 16 bytes");
#define INTEL_DESC_SIZE 16u

#define INTEL_TXD_LEN_MASK 0xFFFFu
#define INTEL_TXD_DTYP_SHIFT 20
#define INTEL_TXD_CMD_EOP (1u << 24)
#define INTEL_TXD_CMD_IFCS (1u << 25)    /* insert the Ethernet CRC */
#define INTEL_TXD_CMD_RS (1u << 27)      /* report status: write DD back */
#define INTEL_TXD_CMD_DEXT (1u << 29)    /* extended (non-legacy) descriptor */
#define INTEL_TXD_STAT_DD (1u << 0)

/* Largest ring this library sets up: 4096 descriptors, the datasheets' RDLEN/TDLEN range. */
#define INTEL_RING_MAX 4096u
#define INTEL_RING_MIN 32u
#define INTEL_RING_MULTIPLE (INTEL_RING_ALIGN / INTEL_DESC_SIZE) /* length register counts 128 bytes */
#define INTEL_RX_REFILL_BATCH 32u        /* buffers taken from the pool at once */
#define INTEL_TX_RS_INTERVAL 32u         /* at most this many descriptors between two RS bits */
#define INTEL_IDLE_CHECK 4096u           /* empty polls between removal checks */

struct intel_priv;

/* What one chip needs the shared code to know. */
struct intel_chip {
	const char *name;
	uint16_t max_rx_queues, max_tx_queues;
	uint32_t rxq_base, txq_base, queue_stride;  /* queue n's block: base + n * stride */
	uint32_t tx_dtyp;                /* DTYP of a data descriptor */
	uint8_t tx_paylen_shift;         /* olinfo PAYLEN position; 0: no such field */
	uint32_t mrqc_rss;               /* MRQC value that enables RSS */
	uint32_t mrqc_fields;            /* hash inputs the chip offers */
	uint8_t reta_shift;              /* where the queue index sits in a RETA byte */
	uint32_t eimc;                   /* extended interrupt mask clear register, 0: none */
	uint32_t rxq_drops;              /* per-queue dropped-frames counter in the queue block, 0: none */
	uint16_t max_frame;              /* longest frame the chip takes with LPE, CRC included */
	uint32_t rlpml;                  /* register bounding received frames under LPE, 0: none */
	uint16_t (*rx_buf_need)(uint32_t frame); /* data bytes per buffer so that frame fits one */
	bool conventional_pci;           /* 8254x: no GIO master disable before reset (CTRL bit 2 and
					  * STATUS bit 19 are reserved there, 8254x 13.4.1/13.4.2), no
					  * EECD auto-read-done flag: a fixed wait for the NVM reload */
	bool legacy_rx;                  /* 8254x: legacy receive write-back (DD in its status byte) */
	/* MSI-X routing (intel_irq.c): vector 0 for link / other causes, vector q + 1 for rx
	 * queue q; fills the arm / mask bits. NULL: the chip runs on one shared line (ICR). */
	void (*msix_setup)(struct intel_priv *p);
};

/* How one interrupt source is armed, masked and its stale cause cleared (intel_irq.c). */
struct intel_irq_bits {
	uint32_t arm, mask, ack;         /* registers: set mask (EIMS/IMS), clear mask (EIMC/IMC), W1C cause */
	uint32_t bit;
	uint16_t vec;                    /* unic_irq vector whose descriptor wakes */
};

struct intel_rxq {
	struct unic_dev *dev;
	volatile union intel_rx_desc *ring;
	uint64_t ring_iova;
	struct unic_buf **bufs;          /* buffer posted in each slot */
	struct unic_buf *spare[INTEL_RX_REFILL_BATCH];
	uint32_t nspare;
	volatile uint8_t *tail_reg;
	uint16_t size, next, id;
	uint16_t buf_len;                /* bytes the device may write per buffer */
	bool discarding;                 /* inside a frame that spans descriptors */
	bool rss;
	uint32_t idle;
	struct intel_irq_bits irq;
	struct unic_qcounters stats;
};

struct intel_txq {
	struct unic_dev *dev;
	volatile struct intel_tx_desc *ring;
	uint64_t ring_iova;
	struct unic_buf **bufs;
	volatile uint8_t *tail_reg;
	uint16_t size, tail, clean, inflight, id;
	uint16_t *rs;                    /* FIFO of the slots that carry RS, oldest first */
	uint16_t rs_head, rs_count, since_rs;
	uint32_t cmd;                    /* DTYP | DEXT | IFCS | EOP (RS is set where a write-back is wanted) */
	uint16_t max_len;                /* longest frame one descriptor may carry (the chip's, no CRC) */
	uint8_t paylen_shift;
	uint32_t idle;
	struct unic_qcounters stats;
};

/* Hardware counters, folded from the clear-on-read registers. */
struct intel_hw_stats {
	uint64_t gprc, gptc, gorc, gotc, mpc, rnbc, crcerrs, tpr, tpt;
	uint64_t rxq_drops;              /* sum of the per-queue drop counters (igb RQDPC) */
};

struct intel_priv {
	const struct intel_chip *chip;
	volatile uint8_t *regs;
	struct unic_dma rings;           /* every ring of the device, in one region */
	struct intel_rxq rxq[UNIC_MAX_QUEUES];
	struct intel_txq txq[UNIC_MAX_QUEUES];
	uint16_t nrx, ntx;
	struct intel_hw_stats hw;
	uint8_t rss_key[INTEL_RSSRK_BYTES];     /* in effect (unic_set_rss), as the Toeplitz key bytes */
	uint8_t reta[INTEL_RETA_ENTRIES];       /* in effect: an rx queue number per entry */
	/* interrupts (intel_irq.c) */
	bool irq_on;                     /* descriptors set up: the interrupt ops work */
	bool icr_mode;                   /* one shared line (INTx, MSI): causes read from ICR */
	struct intel_irq_bits other;     /* link and other causes */
	_Atomic uint32_t icr_seen;       /* ICR bits read (clear on read) and not yet taken by event_ack */
	bool link_seen;                  /* STATUS.LU at the last event_ack */
	char irq_err[96];                /* why interrupts are off, for the -ENOTSUP line */
};

static inline struct intel_priv *intel_priv(struct unic_dev *dev)
{
	return dev->priv;
}

/* Register access; reads of all-ones mark the device removed (checked by the callers). */
static inline uint32_t intel_rd(struct intel_priv *p, uint32_t reg)
{
	return unic_read32(p->regs, reg);
}
static inline void intel_wr(struct intel_priv *p, uint32_t reg, uint32_t v)
{
	unic_write32(p->regs, reg, v);
}
static inline uint32_t intel_rxq_reg(const struct intel_priv *p, uint16_t q, uint32_t off)
{
	return p->chip->rxq_base + q * p->chip->queue_stride + off;
}
static inline uint32_t intel_txq_reg(const struct intel_priv *p, uint16_t q, uint32_t off)
{
	return p->chip->txq_base + q * p->chip->queue_stride + off;
}

/* Control path (intel_common.c). */
int intel_attach(struct unic_dev *dev, const struct intel_chip *chip);
int intel_probe(struct unic_dev *dev, const struct intel_chip *chip);
uint16_t intel_rx_capacity(const struct unic_dev *dev);
bool intel_check_removed(struct unic_dev *dev, uint32_t value);
int intel_wait_reg(struct unic_dev *dev, uint32_t reg, uint32_t mask, uint32_t want, unsigned timeout_ms);
int intel_reset(struct unic_dev *dev);
int intel_read_mac(struct unic_dev *dev);
int intel_phy_read(struct unic_dev *dev, uint32_t reg, uint16_t *val);
int intel_phy_write(struct unic_dev *dev, uint32_t reg, uint16_t val);
int intel_link_setup(struct unic_dev *dev, unsigned timeout_ms);
int intel_check_config(struct unic_dev *dev);
int intel_queues_alloc(struct unic_dev *dev, uint16_t buf_len);
void intel_rx_arm(struct unic_dev *dev);
void intel_queues_free(struct unic_dev *dev);
int intel_rss_setup(struct unic_dev *dev);
int intel_set_rss(struct unic_dev *dev, const uint8_t *key, const uint16_t *reta);
uint32_t intel_rx_frame_max(const struct unic_dev *dev);
int intel_check_rx_buf(struct unic_dev *dev, uint16_t buf_len);
void intel_clear_filters(struct unic_dev *dev);
uint32_t intel_rctl_base(const struct unic_dev *dev);
uint16_t intel_rctl_buf_need(uint32_t frame);
uint16_t intel_rctl_buf_pick(uint16_t cap, uint32_t *rctl_bits);
uint32_t intel_tctl_value(void);
void intel_stats_fold(struct intel_priv *p);
void intel_describe(struct unic_dev *dev, const char *desc_kind);
void intel_close(struct unic_dev *dev);

/* Interrupts (intel_irq.c): set up at the end of start; ops both chips use. */
void intel_irq_start(struct unic_dev *dev);
void intel_irq_attach(struct unic_dev *dev); /* after unic_irq_setup (or a test's unic_irq_line_setup) */
int intel_rx_intr_fd(struct unic_dev *dev, void *rxq);
int intel_rx_intr_enable(void *rxq);
int intel_rx_intr_disable(void *rxq);
int intel_event_fd(struct unic_dev *dev);
int intel_event_ack(struct unic_dev *dev);
uint16_t intel_tx_reclaim(void *txq);

/* Driver ops both chips use as they are. */
uint16_t intel_rx_burst(void *rxq, struct unic_buf **bufs, uint16_t n);
uint16_t intel_rx_burst_legacy(void *rxq, struct unic_buf **bufs, uint16_t n);
uint16_t intel_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n);
int intel_stats(struct unic_dev *dev, struct unic_stats *st);
int intel_link(struct unic_dev *dev, struct unic_link *link);
int intel_set_promisc(struct unic_dev *dev, bool on);

#endif
