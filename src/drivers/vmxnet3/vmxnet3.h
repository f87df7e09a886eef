/*
 * vmxnet3.h - VMware vmxnet3 (15ad:07b0): the device interface and the driver's state.
 *
 * Layouts and values from the vmxnet3 device interface as Linux documents it in
 * drivers/net/vmxnet3/vmxnet3_defs.h and upt1_defs.h ("defs.h" below), checked
 * against QEMU's model (hw/net/vmxnet3.c). Everything is little-endian; the
 * bit fields of the descriptors are read and written as whole 32-bit words.
 */
#ifndef UNIC_VMXNET3_H
#define UNIC_VMXNET3_H

#include "internal.h"

#define VMXNET3_VENDOR 0x15ad
#define VMXNET3_DEVICE 0x07b0
#define VMXNET3_BAR_PT 0 /* "PT" page: doorbells and interrupt masks */
#define VMXNET3_BAR_VD 1 /* "VD" page: version, shared area, command, MAC */
#define VMXNET3_BAR_SIZE 4096u /* defs.h VMXNET3_PT_REG_SIZE / VMXNET3_VD_REG_SIZE */

/* BAR1 registers (defs.h, enum of BAR 1); all 32-bit: QEMU's model takes 4-byte accesses only */
#define VMXNET3_REG_VRRS 0x00 /* revision report/selection: bit n = revision n+1 */
#define VMXNET3_REG_UVRS 0x08 /* UPT version report/selection */
#define VMXNET3_REG_DSAL 0x10 /* DriverShared address low (write first) */
#define VMXNET3_REG_DSAH 0x18 /* DriverShared address high (the device latches the address here) */
#define VMXNET3_REG_CMD 0x20  /* command; read back: its result */
#define VMXNET3_REG_MACL 0x28
#define VMXNET3_REG_MACH 0x30
#define VMXNET3_REG_ICR 0x38  /* interrupt cause (INTx): a read lowers the line (QEMU: vector 0 only) */
#define VMXNET3_REG_ECR 0x40  /* event cause: writing bits acknowledges them in DriverShared.ecr */
/* BAR0 registers (defs.h, enum of BAR 0): one per queue / vector, 8 bytes apart */
#define VMXNET3_REG_IMR 0x000    /* interrupt mask of vector n at IMR + 8n: 1 = masked */
#define VMXNET3_REG_TXPROD 0x600 /* tx producer index of queue n at TXPROD + 8n */
#define VMXNET3_REG_RXPROD 0x800 /* rx ring 1 producer index */
#define VMXNET3_REG_ALIGN 8
#define VMXNET3_IMR_MASKED 1u
#define VMXNET3_IMR_UNMASKED 0u
#define VMXNET3_MAX_INTRS 25u    /* defs.h VMXNET3_MAX_INTRS: MSI-X vectors and IMR registers */

#define VMXNET3_REV1 0x1u /* VRRS / UVRS bit 0: revision 1, UPT version 1 */

/* Commands (defs.h): set commands from 0xCAFE0000, get commands from 0xF00D0000 */
#define VMXNET3_CMD_ACTIVATE_DEV 0xCAFE0000u
#define VMXNET3_CMD_QUIESCE_DEV 0xCAFE0001u
#define VMXNET3_CMD_RESET_DEV 0xCAFE0002u
#define VMXNET3_CMD_UPDATE_RX_MODE 0xCAFE0003u
#define VMXNET3_CMD_UPDATE_MAC_FILTERS 0xCAFE0004u
#define VMXNET3_CMD_UPDATE_VLAN_FILTERS 0xCAFE0005u
#define VMXNET3_CMD_UPDATE_RSSIDT 0xCAFE0006u /* the device reads the RSS indirection table again */
#define VMXNET3_CMD_GET_STATS 0xF00D0001u
#define VMXNET3_CMD_GET_LINK 0xF00D0002u
#define VMXNET3_LINK_UP 0x1u         /* GET_LINK result: bit 0 up, speed in Mb/s in bits 31:16 */
#define VMXNET3_LINK_SPEED_SHIFT 16

/* Descriptor words (defs.h Vmxnet3_TxDesc / TxCompDesc / RxDesc / RxCompDesc, little-endian layout) */
#define VMXNET3_TXD_LEN_MASK 0x3FFFu     /* word 2 bits 13:0; 0 means 16384 */
#define VMXNET3_TXD_GEN_SHIFT 14         /* word 2 bit 14 */
#define VMXNET3_TXD_EOP (1u << 12)       /* word 3: end of packet */
#define VMXNET3_TXD_CQ (1u << 13)        /* word 3: completion request */
#define VMXNET3_TCD_TXIDX_MASK 0xFFFu    /* completion word 0: index of the EOP descriptor */
#define VMXNET3_CD_GEN_SHIFT 31          /* completion word 3 bit 31 (tx and rx) */
#define VMXNET3_RXD_LEN_MASK 0x3FFFu     /* rx descriptor word 2: buffer length */
#define VMXNET3_RXD_BTYPE_HEAD 0u        /* word 2 bit 14: a head buffer (ring 1) */
#define VMXNET3_RXD_GEN_SHIFT 31
#define VMXNET3_RCD_RXIDX_MASK 0xFFFu    /* rx completion word 0 bits 11:0: descriptor index */
#define VMXNET3_RCD_EOP (1u << 14)
#define VMXNET3_RCD_SOP (1u << 15)
#define VMXNET3_RCD_RQID_SHIFT 16        /* bits 25:16: ring 1 of queue q is q, ring 2 is q + queues */
#define VMXNET3_RCD_RQID_MASK 0x3FFu
#define VMXNET3_RCD_LEN_MASK 0x3FFFu     /* word 2 bits 13:0 */
#define VMXNET3_RCD_ERR (1u << 14)       /* word 2 bit 14 */
#define VMXNET3_INIT_GEN 1u

#define VMXNET3_MAX_RX_BUF_SIZE ((1u << 14) - 1) /* defs.h: 14-bit length field */
#define VMXNET3_MIN_RX_BUF_SIZE 128u             /* defs.h VMXNET3_MIN_T0_BUF_SIZE */
#define VMXNET3_RING_ALIGN 512u                  /* defs.h VMXNET3_RING_BA_ALIGN */
#define VMXNET3_RING_MULTIPLE 32u                /* defs.h VMXNET3_RING_SIZE_ALIGN */
#define VMXNET3_RING_MAX 4096u                   /* defs.h VMXNET3_*_RING_MAX_SIZE */
#define VMXNET3_RING2_SIZE VMXNET3_RING_MULTIPLE /* ring 2 (body buffers) is never used: smallest size */
#define VMXNET3_TXDATA_DESC_SIZE 128u            /* defs.h VMXNET3_HDR_COPY_SIZE: one tx data ring entry */
#define VMXNET3_MAX_MTU 9000u                    /* defs.h VMXNET3_MAX_MTU */
#define VMXNET3_MIN_MTU 60u                      /* QEMU asserts 60 <= mtu <= 9000 at ACTIVATE_DEV */

/* DriverShared (defs.h struct Vmxnet3_DriverShared): offsets of what we fill */
#define VMXNET3_REV1_MAGIC 0xBABEFEE1u   /* defs.h 3133079265 */
#define VMXNET3_GOS_BITS_64 2u           /* GOSInfo bits 1:0 */
#define VMXNET3_GOS_TYPE_LINUX 1u        /* GOSInfo bits 5:2 (QEMU: not Windows = compound rx packets) */
#define VMXNET3_GOS_TYPE_SHIFT 2
#define VMXNET3_DRIVER_VERSION 0x00010000u /* ours: reported in driverInfo.version */
#define VMXNET3_RXM_UCAST 0x01u
#define VMXNET3_RXM_MCAST 0x02u
#define VMXNET3_RXM_BCAST 0x04u
#define VMXNET3_RXM_PROMISC 0x10u
#define VMXNET3_IC_DISABLE_ALL 0x1u      /* intrConf.intrCtrl: no interrupts at all (polling) */
#define VMXNET3_IML_NONE 0u              /* upt1_defs.h UPT1_IML_NONE: no moderation (intrConf.modLevels) */
#define VMXNET3_ECR_RQERR (1u << 0)      /* defs.h event causes (DriverShared.ecr) */
#define VMXNET3_ECR_TQERR (1u << 1)
#define VMXNET3_ECR_LINK (1u << 2)
#define VMXNET3_MAX_QUEUES 8u            /* defs.h VMXNET3_DEVICE_MAX_{TX,RX}_QUEUES (revision 1; QEMU's model) */
/* RSS (upt1_defs.h UPT1_RSSConf, UPT1_F_RSS) */
#define VMXNET3_UPT1_F_RSS 0x2u          /* misc.uptFeatures */
#define VMXNET3_RSS_HASH_IPV4 0x01u      /* UPT1_RSS_HASH_TYPE_IPV4 */
#define VMXNET3_RSS_HASH_TCP_IPV4 0x02u
#define VMXNET3_RSS_HASH_IPV6 0x04u
#define VMXNET3_RSS_HASH_TCP_IPV6 0x08u
#define VMXNET3_RSS_FUNC_TOEPLITZ 0x01u  /* UPT1_RSS_HASH_FUNC_TOEPLITZ */
#define VMXNET3_RSS_KEY_SIZE 40u         /* UPT1_RSS_MAX_KEY_SIZE */
#define VMXNET3_RSS_MAX_IND 128u         /* UPT1_RSS_MAX_IND_TABLE_SIZE */
#define VMXNET3_RSS_IND_SIZE (4u * VMXNET3_MAX_QUEUES) /* Linux's VMXNET3_RSS_IND_TABLE_SIZE for 8 queues */
#define VMXNET3_RSS_CONF_VER 1u          /* rssConfDesc.confVer */
#define VMXNET3_VFT_WORDS 128u           /* VLAN filter: one bit per VLAN id */
#define VMXNET3_QUEUE_DESC_ALIGN 128u

struct vmx_driver_info {          /* Vmxnet3_DriverInfo */
	uint32_t version, gos, rev_spt, upt_spt;
};
struct vmx_misc_conf {            /* Vmxnet3_MiscConf */
	struct vmx_driver_info driver_info;
	uint64_t upt_features, dd_pa, queue_desc_pa;
	uint32_t dd_len, queue_desc_len, mtu;
	uint16_t max_num_rx_sg;
	uint8_t num_tx_queues, num_rx_queues;
	uint32_t reserved[4];
};
struct vmx_intr_conf {            /* Vmxnet3_IntrConf */
	uint8_t auto_mask, num_intrs, event_intr_idx, mod_levels[25];
	uint32_t intr_ctrl, reserved[2];
};
struct vmx_rx_filter_conf {       /* Vmxnet3_RxFilterConf */
	uint32_t rx_mode;
	uint16_t mf_table_len, pad;
	uint64_t mf_table_pa;
	uint32_t vf_table[VMXNET3_VFT_WORDS];
};
struct vmx_var_conf {             /* Vmxnet3_VariableLenConfDesc */
	uint32_t ver, len;
	uint64_t pa;
};
struct vmx_shared {               /* Vmxnet3_DriverShared */
	uint32_t magic, pad;
	struct vmx_misc_conf misc;
	struct vmx_intr_conf intr;
	struct vmx_rx_filter_conf rx_filter;
	struct vmx_var_conf rss, pm, plugin;
	uint32_t ecr, reserved;
	uint32_t cmd_info[4];
};
_Static_assert(sizeof(struct vmx_misc_conf) == 72, "Vmxnet3_MiscConf is 72 bytes");
_Static_assert(sizeof(struct vmx_intr_conf) == 40, "Vmxnet3_IntrConf is 40 bytes");
_Static_assert(offsetof(struct vmx_shared, rx_filter) == 120, "rxFilterConf at 120");
_Static_assert(offsetof(struct vmx_shared, ecr) == 696, "ecr at 696");
_Static_assert(sizeof(struct vmx_shared) == 720, "Vmxnet3_DriverShared is 720 bytes");

struct vmx_rss_conf {             /* UPT1_RSSConf */
	uint16_t hash_type, hash_func, hash_key_size, ind_table_size;
	uint8_t hash_key[VMXNET3_RSS_KEY_SIZE];
	uint8_t ind_table[VMXNET3_RSS_MAX_IND];
};
_Static_assert(sizeof(struct vmx_rss_conf) == 176, "UPT1_RSSConf is 176 bytes");
_Static_assert(VMXNET3_RSS_KEY_SIZE == UNIC_RSS_KEY_LEN, "the default key is a whole vmxnet3 key");

/* UPT1_TxStats / UPT1_RxStats (upt1_defs.h): the device writes them at GET_STATS */
struct vmx_tx_stats {
	uint64_t tso_pkts, tso_bytes, ucast_pkts, ucast_bytes, mcast_pkts, mcast_bytes;
	uint64_t bcast_pkts, bcast_bytes, error_pkts, discard_pkts;
};
struct vmx_rx_stats {
	uint64_t lro_pkts, lro_bytes, ucast_pkts, ucast_bytes, mcast_pkts, mcast_bytes;
	uint64_t bcast_pkts, bcast_bytes, out_of_buf_pkts, error_pkts;
};
struct vmx_tx_queue_desc {        /* Vmxnet3_TxQueueDesc: ctrl, conf, status, stats; 256 bytes */
	uint32_t num_deferred, threshold;
	uint64_t ctrl_reserved;
	uint64_t tx_ring_pa, data_ring_pa, comp_ring_pa, dd_pa, conf_reserved;
	uint32_t tx_ring_size, data_ring_size, comp_ring_size, dd_len;
	uint8_t intr_idx, pad1;
	uint16_t data_desc_size;
	uint8_t pad2[4];
	uint8_t stopped, status_pad[3];
	uint32_t error;
	struct vmx_tx_stats stats;
	uint8_t pad[88];
};
struct vmx_rx_queue_desc {        /* Vmxnet3_RxQueueDesc: 256 bytes */
	uint8_t update_prod, ctrl_pad[7];
	uint64_t ctrl_reserved;
	uint64_t rx_ring_pa[2], comp_ring_pa, dd_pa, data_ring_pa;
	uint32_t rx_ring_size[2], comp_ring_size, dd_len;
	uint8_t intr_idx, pad1;
	uint16_t data_desc_size;
	uint8_t pad2[4];
	uint8_t stopped, status_pad[3];
	uint32_t error;
	struct vmx_rx_stats stats;
	uint8_t pad[88];
};
_Static_assert(sizeof(struct vmx_tx_queue_desc) == 256, "Vmxnet3_TxQueueDesc is 256 bytes");
_Static_assert(sizeof(struct vmx_rx_queue_desc) == 256, "Vmxnet3_RxQueueDesc is 256 bytes");
_Static_assert(offsetof(struct vmx_tx_queue_desc, stats) == 88, "UPT1_TxStats at 88");
_Static_assert(offsetof(struct vmx_rx_queue_desc, stats) == 88, "UPT1_RxStats at 88");

/* Every ring entry is 16 bytes: address or index word(s), then two flag words. */
struct vmx_desc {
	uint64_t addr;
	uint32_t w2, w3;
};
struct vmx_comp {
	uint32_t w0, w1, w2, w3;
};
_Static_assert(sizeof(struct vmx_desc) == 16 && sizeof(struct vmx_comp) == 16, "16-byte ring entries");

#define VMXNET3_RX_REFILL_BATCH 32u
#define VMXNET3_IDLE_CHECK 4096u

struct vmx_rxq {
	struct unic_dev *dev;
	volatile struct vmx_desc *ring;      /* ring 1: head buffers, one per frame */
	volatile struct vmx_comp *comp;
	volatile struct vmx_rx_queue_desc *qd;
	struct unic_buf **bufs;              /* buffer posted in each ring 1 slot */
	struct unic_buf *spare[VMXNET3_RX_REFILL_BATCH];
	uint32_t nspare;
	volatile uint8_t *prod_reg;
	uint16_t size, comp_size;
	uint16_t next;                       /* ring 1 slot the device completes next (in order) */
	uint16_t fill;                       /* the slot held back: the next one given to the device */
	uint16_t comp_next;
	uint8_t fill_gen, comp_gen;
	uint16_t id, buf_len;
	uint16_t vec;                        /* its wake-up: MSI-X vector / IMR index, and unic_irq_fd's index */
	bool discarding;                     /* inside a frame spread over several buffers */
	bool broken;                         /* the device wrote a completion that cannot be true */
	uint32_t idle;
	struct unic_qcounters stats;
};

struct vmx_txq {
	struct unic_dev *dev;
	volatile struct vmx_desc *ring;
	volatile struct vmx_comp *comp;
	volatile struct vmx_tx_queue_desc *qd;
	struct unic_buf **bufs;
	volatile uint8_t *prod_reg;
	uint16_t size, tail, clean, inflight, comp_next, id;
	uint8_t gen, comp_gen;
	bool broken;
	uint32_t idle;
	struct unic_qcounters stats;
};

/* How the device interrupts (chosen at start from what the access method offers). */
enum vmx_irq_mode {
	VMX_IRQ_NONE,   /* polling: every interrupt index 0 and masked */
	VMX_IRQ_MSIX,   /* vector 0 events, vector 1 + q rx queue q, tx queues on a vector left masked */
	VMX_IRQ_INTX,   /* the one line: every index 0 (QEMU aborts on any other without MSI-X) */
};
#define VMX_EVENT_VEC 0u /* the event interrupt (link) is vector 0 in both modes */

struct vmx_priv {
	volatile uint8_t *pt, *vd;           /* BAR0, BAR1 */
	struct unic_dma mem;                 /* shared area, queue descriptors, RSS config, rings */
	volatile struct vmx_shared *shared;
	volatile struct vmx_rss_conf *rss;   /* NULL with one rx queue */
	struct vmx_rxq rxq[VMXNET3_MAX_QUEUES];
	struct vmx_txq txq[VMXNET3_MAX_QUEUES];
	uint16_t nrx, ntx;
	bool active;
	enum vmx_irq_mode irq;
	bool link_seen;                      /* link state the last event reported */
	char irq_err[96];                    /* why there are no interrupts, for the enable call's line */
};

/* Control path pieces the hostile-device test drives without a device behind BAR1. */
int vmx_attach(struct unic_dev *dev);
int vmx_queues_setup(struct unic_dev *dev);
void vmx_queues_free(struct unic_dev *dev);
bool vmx_check_removed(struct unic_dev *dev, uint32_t value);

/* Interrupts (vmxnet3_irq.c). */
void vmx_irq_choose(struct unic_dev *dev);
uint8_t vmx_rxq_intr_idx(const struct vmx_priv *p, uint16_t q);
uint8_t vmx_txq_intr_idx(const struct vmx_priv *p);
void vmx_irq_intr_conf(const struct vmx_priv *p, volatile struct vmx_intr_conf *c);
void vmx_irq_start(struct unic_dev *dev);
int vmx_rx_intr_fd(struct unic_dev *dev, void *rxq);
int vmx_rx_intr_enable(void *rxq);
int vmx_rx_intr_disable(void *rxq);
int vmx_event_fd(struct unic_dev *dev);
int vmx_event_ack(struct unic_dev *dev);
uint32_t vmx_link_word(struct unic_dev *dev);

/* Data path (vmxnet3_rxtx.c). */
bool vmx_rx_ready(const struct vmx_rxq *q);
void vmx_rx_post_all(struct vmx_rxq *q);
uint16_t vmx_rx_burst(void *rxq, struct unic_buf **bufs, uint16_t n);
uint16_t vmx_tx_burst(void *txq, struct unic_buf **bufs, uint16_t n);
uint16_t vmx_tx_reclaim(void *txq);

#endif
