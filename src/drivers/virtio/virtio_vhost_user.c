/*
 * virtio_vhost_user.c - virtio-net over vhost-user: the device is a backend in
 * another process (DPDK net_vhost, a vswitch, ...) reached through a unix socket.
 *
 * The backend maps our memory itself: DMA addresses are our virtual addresses
 * (UNIC_DMA_VIRT) and every DMA area is a memfd we hand over with
 * VHOST_USER_SET_MEM_TABLE (two regions: the rings, the buffer pool).
 * Notifications go through eventfds; the ring code asks for a kick only when the
 * backend wants one (EVENT_IDX / NO_NOTIFY), so the data path makes no system
 * call per packet. The ring logic is virtio_ring.c, shared with the PCI
 * transports: this file is only the control plane. Interrupts: each ring's call
 * eventfd is its wake-up descriptor (the backend writes it when the ring asks for
 * notifications, under the same suppression rules); when the backend is gone the
 * transport writes every call fd and its event fd itself, so no sleeper stays asleep.
 *
 * The session (vhost-user.rst, "Communication"), as QEMU and DPDK's virtio-user do it:
 *   connect (or listen + accept with ",server"), SET_OWNER, GET_FEATURES,
 *   GET/SET_PROTOCOL_FEATURES (REPLY_ACK and MQ), GET_QUEUE_NUM (with MQ), then
 *   from virtio_net's start: SET_FEATURES, SET_MEM_TABLE, per ring (rx and tx of
 *   every queue pair the driver uses) SET_VRING_NUM/BASE/ADDR/CALL/KICK, then at
 *   DRIVER_OK SET_VRING_ENABLE for every ring; GET_VRING_BASE stops a ring on reset
 *   and close.
 *
 * Several queue pairs (spec "Multiple queue support"): only with the protocol
 * feature MQ and VIRTIO_NET_F_MQ offered, up to what GET_QUEUE_NUM says. Each ring has its own call and kick
 * eventfd. The control queue's VQ_PAIRS_SET has no backend to go to (in QEMU the
 * front-end serves it and turns it into SET_VRING_ENABLE): here the transport
 * enables every ring the driver sets up, and nothing else, and tells the driver
 * how many pairs there are (queue_pairs); VIRTIO_NET_F_MQ is negotiated with the
 * backend by the transport, not offered to the driver (it would need CTRL_VQ).
 *
 * There is no config space over plain vhost-user (GET_CONFIG needs a protocol
 * feature net backends rarely have): like DPDK's virtio-user, the transport
 * answers for it - a locally administered MAC of its own, and the link is up
 * while the connection lives. The control queue is the front-end's business in
 * vhost-user-net (QEMU serves it, not the backend), so CTRL_VQ is not offered.
 *
 * The backend is not trusted either: replies are checked (type, size, reply flag,
 * no file descriptors) and bounded in time, each reply by VHU_REPLY_TIMEOUT_MS and
 * the whole open by cfg.open_timeout_ms, which cfg.cancel can cut short. A
 * backend that fails in any way is "gone": the first cause (hang-up, silence,
 * malformed reply, refusal, cancel) is kept in an atomic and never overwritten,
 * and the message is composed from it by control calls only (vhu_check). A small
 * monitor thread raises the same flag when the backend hangs up (POLLRDHUP on
 * the socket); the data path only reads the flag, once per burst.
 *
 * Server mode (",server") never replaces a live socket or anything that is not
 * a socket, and accepts only a peer of an allowed uid (SO_PEERCRED): root, our
 * own uid, or the one given with ",uid=N".
 *
 * Reference: QEMU docs/interop/vhost-user.rst ("the spec" below).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "virtio.h"

/* Message header, spec "Header": request, flags, size; flags hold the version. */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* Front-end message types, spec "Front-end message types" */
#define VHOST_USER_GET_FEATURES 1
#define VHOST_USER_SET_FEATURES 2
#define VHOST_USER_SET_OWNER 3
#define VHOST_USER_SET_MEM_TABLE 5
#define VHOST_USER_SET_VRING_NUM 8
#define VHOST_USER_SET_VRING_ADDR 9
#define VHOST_USER_SET_VRING_BASE 10
#define VHOST_USER_GET_VRING_BASE 11
#define VHOST_USER_SET_VRING_KICK 12
#define VHOST_USER_SET_VRING_CALL 13
#define VHOST_USER_GET_PROTOCOL_FEATURES 15
#define VHOST_USER_SET_PROTOCOL_FEATURES 16
#define VHOST_USER_GET_QUEUE_NUM 17
#define VHOST_USER_SET_VRING_ENABLE 18

/* Feature bit 30 (spec "Communication"): the backend speaks protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
/* Protocol features, spec "Protocol features" */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

/* SET_VRING_KICK/CALL payload: ring index in bits 0-7 (spec) */
#define VHOST_USER_VRING_IDX_MASK 0xffu
/* SET_VRING_BASE of a packed ring: bit 15 carries the wrap counter (spec, as DPDK/QEMU read it) */
#define VHOST_USER_PACKED_WRAP_BIT (1u << 15)
/* SET_MEM_TABLE carries at most 8 regions (spec "Memory regions description") */
#define VHOST_USER_MAX_REGIONS 8

#define VHU_RINGS_PER_PAIR 2        /* rx 2n, tx 2n+1 (virtio 5.1.2); no control queue */
#define VHU_MAX_RINGS (VHU_RINGS_PER_PAIR * UNIC_MAX_QUEUES)
#define VHU_REPLY_TIMEOUT_S 5       /* a backend that answers nothing in this time is dead */
#define VHU_REPLY_TIMEOUT_MS (VHU_REPLY_TIMEOUT_S * 1000)
#define VHU_STR_(x) #x
#define VHU_STR(x) VHU_STR_(x)
#define VHU_OPEN_TIMEOUT_MS 10000   /* cfg.open_timeout_ms 0: the whole open, accept included */
#define VHU_CANCEL_POLL_MS 50       /* waits look at cfg.cancel at least this often */
#define VHU_HDR_SIZE 12u

/* Features the transport itself cannot carry over vhost-user. */
#define VHU_MASKED_FEATURES                                                                          \
	(VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) /* needs IOTLB messages: our addresses are final */ |  \
	 VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES) /* not a virtio bit */ |                        \
	 VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_MQ))
/* Negotiated with the backend by the transport when it has more than one queue pair. */
#define VHU_MQ_FEATURE VIRTIO_BIT(VIRTIO_NET_F_MQ)
/* Features the transport answers for itself (config space emulation). */
#define VHU_OWN_FEATURES (VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS))

struct vhu_region { /* spec "Memory regions description" */
	uint64_t guest_addr, size, user_addr, mmap_offset;
};

struct vhu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;                        /* vring state */
		struct { uint32_t index, flags; uint64_t desc, used, avail, log; } addr; /* vring address */
		struct { uint32_t nregions, padding; struct vhu_region r[VHOST_USER_MAX_REGIONS]; } mem;
	} __attribute__((packed)) p;
} __attribute__((packed));

/* Why the backend is gone: the first cause raised wins (mark_gone). */
enum vhu_cause {
	VHU_ALIVE = 0,
	VHU_HANGUP,    /* it closed the connection */
	VHU_SILENT,    /* no reply within VHU_REPLY_TIMEOUT_MS */
	VHU_DEADLINE,  /* the open took longer than cfg.open_timeout_ms */
	VHU_MALFORMED, /* a reply we cannot trust: we are out of step with it */
	VHU_REFUSED,   /* a non-zero REPLY_ACK */
	VHU_CANCELLED, /* the application raised cfg.cancel */
};

struct vhu {
	struct unic_dev *dev;
	int sock;
	bool server;
	bool protocol;            /* VHOST_USER_F_PROTOCOL_FEATURES offered: rings start disabled */
	bool reply_ack;           /* REPLY_ACK negotiated: setup messages are acknowledged */
	uint16_t max_pairs;       /* queue pairs the backend takes: GET_QUEUE_NUM, capped; 1 without MQ */
	bool memory_shared;
	bool opening;             /* until DRIVER_OK: waits end at open_deadline and on *cancel */
	int64_t open_deadline;    /* CLOCK_MONOTONIC ms */
	uint64_t offered;         /* GET_FEATURES */
	uint8_t status;           /* virtio device status: kept here, vhost-user has none */
	uint8_t mac[6];
	int kick_fd[VHU_MAX_RINGS];   /* one pair of eventfds per ring: kick (we write), */
	atomic_int call_fd[VHU_MAX_RINGS]; /* call (the backend writes; an rx ring's wake-up fd) */
	int event_fd;             /* readable once the backend is gone (unic_event_fd) */
	bool ring_started[VHU_MAX_RINGS];
	atomic_bool gone;         /* the backend failed: the data path reads only this */
	atomic_int cause;         /* enum vhu_cause: the first one raised */
	/* control path only: the request that failed first, and what was wrong with its reply */
	char step[40];
	char detail[96];
	int wake_fd;              /* tells the monitor thread to stop */
	pthread_t monitor;
	bool monitor_running;
};

/* ---- the connection ---- */

/* Writes 1 to an eventfd (non-blocking: a full counter has a wake-up pending anyway). */
static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof one) != sizeof one)
		return;
}

/*
 * The backend is gone: wake whoever sleeps on a ring's call fd (unic_rx_wait: the
 * next arm then says the device went away) or on the event fd. The call fds are ours:
 * the backend writes them, and so may we.
 */
static void wake_all(struct vhu *v)
{
	unsigned i;

	atomic_store(&v->gone, true); /* before the wake-ups: a woken thread sees it */
	eventfd_signal(v->event_fd);
	for (i = 0; i < VHU_MAX_RINGS; i++)
		eventfd_signal(atomic_load(&v->call_fd[i]));
}

/* Raises the gone flag; the first cause stays (the monitor thread and the control path may race). */
static void mark_gone(struct vhu *v, enum vhu_cause cause)
{
	int alive = VHU_ALIVE;

	if (atomic_compare_exchange_strong(&v->cause, &alive, (int)cause))
		wake_all(v);
	atomic_store(&v->gone, true);
}

/* What was wrong with a reply, kept for the message (the first one only). */
static void set_detail(struct vhu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(struct vhu *v, const char *fmt, ...)
{
	va_list ap;

	if (v->detail[0])
		return;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof v->detail, fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* cfg.cancel raised; unic_open clears the pointer when it returns (read during open only). */
static bool cancelled(const struct vhu *v)
{
	const volatile int *cancel = v->dev->cfg.cancel;

	return v->opening && cancel && *cancel;
}

/*
 * Waits until fd has events, at most until `until` (ms, CLOCK_MONOTONIC) and, while
 * opening, the open deadline; looks at cfg.cancel every VHU_CANCEL_POLL_MS and
 * after every signal. VHU_ALIVE (0), or the cause that ended the wait.
 */
static enum vhu_cause wait_fd(struct vhu *v, int fd, short events, int64_t until)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t now = now_ms(), left = until - now;
		enum vhu_cause expired = VHU_SILENT;

		if (cancelled(v))
			return VHU_CANCELLED;
		if (v->opening && v->open_deadline - now <= left) {
			left = v->open_deadline - now;
			expired = VHU_DEADLINE;
		}
		if (left <= 0)
			return expired;
		if (v->dev->cfg.cancel && left > VHU_CANCEL_POLL_MS)
			left = VHU_CANCEL_POLL_MS;
		if (poll(&p, 1, (int)left) > 0)
			return VHU_ALIVE;
	}
}

/* Sends one message with fds in its ancillary data (SCM_RIGHTS); MSG_NOSIGNAL: no SIGPIPE. */
static int send_msg(struct vhu *v, struct vhu_msg *m, const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
	size_t len = VHU_HDR_SIZE + m->size, done = 0;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	if (cancelled(v))
		mark_gone(v, VHU_CANCELLED);
	if (atomic_load(&v->gone))
		return -EPIPE;
	while (done < len) {
		memset(&mh, 0, sizeof mh);
		iov.iov_base = (uint8_t *)m + done;
		iov.iov_len = len - done;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (nfds && done == 0) {
			struct cmsghdr *c;
			memset(control, 0, sizeof control);
			mh.msg_control = control;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(v->sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			mark_gone(v, VHU_HANGUP);
			return -EPIPE;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Closes every fd a message carried: a reply has none to give us. */
static bool drop_fds(struct msghdr *mh)
{
	struct cmsghdr *c;
	bool any = mh->msg_flags & MSG_CTRUNC;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		any = true;
		for (i = 0; c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			close(fd);
		}
	}
	return any;
}

/* Reads exactly len bytes of a reply to what, by until (ms); 0 or the cause of failure. */
static enum vhu_cause recv_all(struct vhu *v, void *buf, size_t len, int64_t until, const char *what)
{
	char control[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
	size_t got = 0;

	while (got < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + got, .iov_len = len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
				     .msg_controllen = sizeof control };
		enum vhu_cause c = wait_fd(v, v->sock, POLLIN, until);
		ssize_t n;

		if (c)
			return c;
		n = recvmsg(v->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (got)
				set_detail(v, "after %zu of the %zu bytes of its reply to %s", got, len, what);
			return VHU_HANGUP;
		}
		if (drop_fds(&mh)) {
			set_detail(v, "its reply to %s carried file descriptors", what);
			return VHU_MALFORMED;
		}
		got += (size_t)n;
	}
	return VHU_ALIVE;
}

static const char *request_name(uint32_t request)
{
	switch (request) {
	case VHOST_USER_GET_FEATURES: return "GET_FEATURES";
	case VHOST_USER_SET_FEATURES: return "SET_FEATURES";
	case VHOST_USER_SET_OWNER: return "SET_OWNER";
	case VHOST_USER_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VHOST_USER_SET_VRING_NUM: return "SET_VRING_NUM";
	case VHOST_USER_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VHOST_USER_SET_VRING_BASE: return "SET_VRING_BASE";
	case VHOST_USER_GET_VRING_BASE: return "GET_VRING_BASE";
	case VHOST_USER_SET_VRING_KICK: return "SET_VRING_KICK";
	case VHOST_USER_SET_VRING_CALL: return "SET_VRING_CALL";
	case VHOST_USER_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VHOST_USER_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VHOST_USER_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case VHOST_USER_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	}
	return "a request";
}

/* The header of a reply to request with a size-byte payload: what is wrong with it, or NULL. */
static bool bad_header(struct vhu *v, const struct vhu_msg *r, uint32_t request, uint32_t size)
{
	const char *what = request_name(request);

	if (r->request != request)
		set_detail(v, "its reply to %s has request code %u", what, r->request);
	else if (!(r->flags & VHOST_USER_REPLY_MASK))
		set_detail(v, "its reply to %s lacks the reply flag (flags 0x%x)", what, r->flags);
	else if ((r->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		set_detail(v, "its reply to %s says protocol version %u, not %u", what,
			   r->flags & VHOST_USER_VERSION_MASK, VHOST_USER_VERSION);
	else if (r->size != size) /* checked before reading: a payload never outgrows *r */
		set_detail(v, "its reply to %s announces %u payload bytes, not %u", what, r->size, size);
	else
		return false;
	return true;
}

/* Waits for the reply to request; checks it is one, for that request, of the size expected. */
static int recv_reply(struct vhu *v, uint32_t request, struct vhu_msg *reply, uint32_t size)
{
	int64_t until = now_ms() + VHU_REPLY_TIMEOUT_MS;
	const char *what = request_name(request);
	enum vhu_cause c = recv_all(v, reply, VHU_HDR_SIZE, until, what);

	if (!c && bad_header(v, reply, request, size))
		c = VHU_MALFORMED;
	if (!c)
		c = recv_all(v, &reply->p, size, until, what);
	if (!c)
		return 0;
	mark_gone(v, c); /* out of step with the backend: nothing more can be trusted */
	return -EPIPE;
}

static void msg_init(struct vhu_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof *m);
	m->request = request;
	m->flags = VHOST_USER_VERSION;
	m->size = size;
}

/* A request without a reply of its own; with REPLY_ACK, waits for the backend's u64 ack (0: done). */
static int request(struct vhu *v, struct vhu_msg *m, const int *fds, unsigned nfds)
{
	struct vhu_msg ack;
	int r;

	if (v->reply_ack)
		m->flags |= VHOST_USER_NEED_REPLY_MASK;
	if ((r = send_msg(v, m, fds, nfds)))
		return r;
	if (!v->reply_ack)
		return 0;
	if ((r = recv_reply(v, m->request, &ack, sizeof ack.p.u64)))
		return r;
	if (!ack.p.u64)
		return 0;
	set_detail(v, "REPLY_ACK %llu", (unsigned long long)ack.p.u64);
	mark_gone(v, VHU_REFUSED);
	return -EPIPE;
}

/* A request whose reply is a u64 (GET_FEATURES, GET_PROTOCOL_FEATURES). */
static int get_u64(struct vhu *v, uint32_t req, uint64_t *val)
{
	struct vhu_msg m;
	int r;

	msg_init(&m, req, 0);
	if ((r = send_msg(v, &m, NULL, 0)) || (r = recv_reply(v, req, &m, sizeof m.p.u64)))
		return r;
	*val = m.p.u64;
	return 0;
}

static int set_u64(struct vhu *v, uint32_t req, uint64_t val)
{
	struct vhu_msg m;

	msg_init(&m, req, sizeof m.p.u64);
	m.p.u64 = val;
	return request(v, &m, NULL, 0);
}

static int set_state(struct vhu *v, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhu_msg m;

	msg_init(&m, req, sizeof m.p.state);
	m.p.state.index = index;
	m.p.state.num = num;
	return request(v, &m, NULL, 0);
}

/* SET_VRING_KICK / SET_VRING_CALL: the ring index in the payload, the eventfd alongside. */
static int set_vring_fd(struct vhu *v, uint32_t req, uint32_t index, int fd)
{
	struct vhu_msg m;

	msg_init(&m, req, sizeof m.p.u64);
	m.p.u64 = index & VHOST_USER_VRING_IDX_MASK;
	return request(v, &m, &fd, 1);
}

static const char *cause_text(enum vhu_cause c)
{
	switch (c) {
	case VHU_ALIVE: break;
	case VHU_HANGUP: return "closed the connection";
	case VHU_SILENT: return "did not answer within " VHU_STR(VHU_REPLY_TIMEOUT_S) " s";
	case VHU_DEADLINE: return "did not complete the session within cfg.open_timeout_ms";
	case VHU_MALFORMED: return "sent a malformed reply";
	case VHU_REFUSED: return "refused a request";
	case VHU_CANCELLED: return "was left: the open was cancelled";
	}
	return "is gone";
}

static int cause_errno(enum vhu_cause c)
{
	switch (c) {
	case VHU_ALIVE: return 0;
	case VHU_SILENT: case VHU_DEADLINE: return ETIMEDOUT;
	case VHU_MALFORMED: return EPROTO;
	case VHU_REFUSED: return EIO;
	case VHU_CANCELLED: return ECANCELED;
	case VHU_HANGUP: break;
	}
	return EPIPE;
}

/*
 * 0 while the backend is usable; else one line in dev->err from the first cause,
 * the first request that failed and what was wrong. Control path only: the data
 * path never writes dev->err (queues on other threads would race on it).
 */
static int vhu_check(void *t)
{
	struct vhu *v = t;
	enum vhu_cause c = (enum vhu_cause)atomic_load(&v->cause);

	if (!atomic_load(&v->gone))
		return 0;
	if (c == VHU_CANCELLED)
		return unic_dev_error(v->dev, ECANCELED, "vhost-user open of %s cancelled by the application (cfg.cancel)%s%s%s",
				      v->dev->spec.path, v->step[0] ? " at " : "", v->step, v->step[0] ? "" : "");
	return unic_dev_error(v->dev, cause_errno(c), "vhost-user backend at %s %s%s%s%s%s%s: %s", v->dev->spec.path,
			      cause_text(c), v->step[0] ? " (at " : "", v->step, v->step[0] ? ")" : "",
			      v->detail[0] ? ": " : "", v->detail,
			      v->opening ? "see the backend's log, then open the device again"
					 : "close the device and open it again once the backend is back");
}

/* A step of the session failed: keep its name (the first only), the message says the first cause. */
static int fail(struct vhu *v, int r, const char *step)
{
	(void)r; /* whatever failed raised the gone flag with its cause */
	mark_gone(v, VHU_HANGUP);
	if (!v->step[0])
		snprintf(v->step, sizeof v->step, "%s", step);
	return vhu_check(v);
}

/* ---- the monitor: notices a backend that hangs up, without a system call on the data path ---- */

static void *monitor_main(void *arg)
{
	struct vhu *v = arg;
	struct pollfd p[2] = { { .fd = v->sock, .events = POLLRDHUP }, { .fd = v->wake_fd, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
			mark_gone(v, VHU_HANGUP);
			break;
		}
	}
	return NULL;
}

static int start_monitor(struct vhu *v)
{
	int r;

	v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->wake_fd < 0)
		return unic_dev_error(v->dev, errno, "eventfd: %s", strerror(errno));
	if ((r = pthread_create(&v->monitor, NULL, monitor_main, v)))
		return unic_dev_error(v->dev, r, "cannot start the vhost-user monitor thread: %s", strerror(r));
	v->monitor_running = true;
	return 0;
}

static void stop_monitor(struct vhu *v)
{
	uint64_t one = 1;

	if (v->monitor_running) {
		if (write(v->wake_fd, &one, sizeof one) != sizeof one)
			UNIC_WARN("vhost-user: cannot wake the monitor thread");
		pthread_join(v->monitor, NULL);
		v->monitor_running = false;
	}
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	v->wake_fd = -1;
}

/* ---- transport ops ---- */

/* Stops every started ring: GET_VRING_BASE (spec "Ring states": the backend stops it). */
static int vhu_reset(void *t)
{
	struct vhu *v = t;
	struct vhu_msg m;
	unsigned i;

	for (i = 0; i < VHU_MAX_RINGS; i++) {
		if (!v->ring_started[i])
			continue;
		v->ring_started[i] = false;
		msg_init(&m, VHOST_USER_GET_VRING_BASE, sizeof m.p.state);
		m.p.state.index = i;
		if (send_msg(v, &m, NULL, 0) || recv_reply(v, VHOST_USER_GET_VRING_BASE, &m, sizeof m.p.state))
			break; /* gone: it uses nothing of ours any more */
		if (m.p.state.index != i) {
			set_detail(v, "its reply to GET_VRING_BASE %u is for ring %u", i, m.p.state.index);
			mark_gone(v, VHU_MALFORMED);
			break;
		}
	}
	v->status = 0;
	return 0;
}

static uint8_t vhu_get_status(void *t)
{
	struct vhu *v = t;

	return atomic_load(&v->gone) ? (uint8_t)(v->status | VIRTIO_STATUS_NEEDS_RESET) : v->status;
}

/*
 * Spec "Ring states": with protocol features a ring starts disabled. Every ring the driver set
 * up is one it uses (this is how the queue pairs past the first come on), and all are enabled
 * together once all are set up: a backend that starts the device when the first pair is
 * ready (DPDK's vhost library) then sees every ring at once - DPDK turns off the
 * front-end's notifications only on the rings that exist when it starts the device, and a ring
 * left with them on costs a kick (a system call) per burst.
 */
static void enable_rings(struct vhu *v)
{
	uint32_t i;
	int r;

	for (i = 0; v->protocol && i < VHU_MAX_RINGS; i++)
		if (v->ring_started[i] && (r = set_state(v, VHOST_USER_SET_VRING_ENABLE, i, 1))) {
			fail(v, r, "SET_VRING_ENABLE");
			return;
		}
}

static void vhu_set_status(void *t, uint8_t status)
{
	struct vhu *v = t;

	if (!atomic_load(&v->gone) && (status & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_DRIVER_OK))
		enable_rings(v); /* a failure marks the backend gone: get_status then says NEEDS_RESET */
	/* FEATURES_OK sticks only if SET_FEATURES went through (set_features marks failures as gone) */
	if (atomic_load(&v->gone))
		status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	else if (status & VIRTIO_STATUS_DRIVER_OK)
		v->opening = false; /* set up: from now on only the per-reply timeout bounds a wait */
	v->status = status;
}

static uint64_t vhu_get_features(void *t)
{
	struct vhu *v = t;

	return (v->offered & ~VHU_MASKED_FEATURES) | VHU_OWN_FEATURES;
}

static void vhu_set_features(void *t, uint64_t features)
{
	struct vhu *v = t;
	uint64_t f = features & ~VHU_OWN_FEATURES;
	int r;

	f |= features & VHU_OWN_FEATURES & v->offered; /* the backend's own, if it has them */
	if (v->max_pairs > 1) /* the rings past the first pair are the backend's to serve */
		f |= v->offered & VHU_MQ_FEATURE;
	if (v->protocol)
		f |= VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	if ((r = set_u64(v, VHOST_USER_SET_FEATURES, f)))
		fail(v, r, "SET_FEATURES");
}

static int vhu_read_config(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct vhu *v = t;
	uint8_t cfg[VIRTIO_NET_CFG_STATUS + sizeof(uint16_t)];
	uint16_t status = VIRTIO_NET_S_LINK_UP;

	if (off > sizeof cfg || len > sizeof cfg - off)
		return -EINVAL;
	if (atomic_load(&v->gone))
		status = 0; /* the MAC is ours and stays; the link is down */
	memcpy(cfg + VIRTIO_NET_CFG_MAC, v->mac, sizeof v->mac);
	memcpy(cfg + VIRTIO_NET_CFG_STATUS, &status, sizeof status);
	memcpy(buf, cfg + off, len);
	return 0;
}

/* vhost-user has no queue size limit of its own short of the format's (spec 2.7). */
static uint16_t vhu_queue_max(void *t, uint16_t index)
{
	struct vhu *v = t;

	return index < VHU_RINGS_PER_PAIR * v->max_pairs ? (uint16_t)VIRTQ_MAX_SIZE : 0;
}

/* SET_MEM_TABLE: the rings and the buffer pool, guest address = user address = our address. */
static int vhu_share_memory(void *t, const struct unic_dma *rings)
{
	struct vhu *v = t;
	const struct unic_dma *areas[2] = { rings, &v->dev->pool->mem };
	int fds[2];
	struct vhu_msg m;
	unsigned i;
	int r;

	msg_init(&m, VHOST_USER_SET_MEM_TABLE,
		 (uint32_t)(2 * sizeof(uint32_t) + UNIC_ARRAY_SIZE(areas) * sizeof(struct vhu_region)));
	m.p.mem.nregions = UNIC_ARRAY_SIZE(areas);
	for (i = 0; i < UNIC_ARRAY_SIZE(areas); i++) {
		m.p.mem.r[i] = (struct vhu_region){ .guest_addr = areas[i]->iova, .size = areas[i]->size,
						    .user_addr = (uint64_t)(uintptr_t)areas[i]->virt, .mmap_offset = 0 };
		fds[i] = areas[i]->fd;
	}
	if ((r = request(v, &m, fds, UNIC_ARRAY_SIZE(areas))))
		return fail(v, r, "SET_MEM_TABLE");
	v->memory_shared = true;
	return 0;
}

static void vhu_notify(struct virtq *vq)
{
	const int *fd = vq->notify_ctx;
	uint64_t one = 1;

	/* An eventfd write cannot block here (non-blocking) nor fail short of a full counter. */
	if (write(*fd, &one, sizeof one) != sizeof one)
		return;
}

static int new_eventfd(struct vhu *v, int *fd)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0)
		return unic_dev_error(v->dev, errno, "eventfd: %s", strerror(errno));
	return 0;
}

static int vhu_queue_enable(void *t, struct virtq *vq)
{
	struct vhu *v = t;
	uint32_t i = vq->index;
	struct vhu_msg m;
	int r, call;

	if (i >= VHU_RINGS_PER_PAIR * v->max_pairs || !v->memory_shared)
		return unic_dev_error(v->dev, EINVAL, "vhost-user: queue %u cannot be set up", i);
	if (new_eventfd(v, &v->kick_fd[i]) || new_eventfd(v, &call))
		return -EIO;
	atomic_store(&v->call_fd[i], call);
	if ((r = set_state(v, VHOST_USER_SET_VRING_NUM, i, vq->size)))
		return fail(v, r, "SET_VRING_NUM");
	/* the rings are fresh: the next available entry is 0 (packed: with wrap counter 1, spec 2.8.1) */
	if ((r = set_state(v, VHOST_USER_SET_VRING_BASE, i, vq->packed ? VHOST_USER_PACKED_WRAP_BIT : 0)))
		return fail(v, r, "SET_VRING_BASE");
	msg_init(&m, VHOST_USER_SET_VRING_ADDR, sizeof m.p.addr);
	m.p.addr.index = i;
	m.p.addr.desc = vq->desc_iova;
	m.p.addr.used = vq->device_iova;  /* packed: the device event area */
	m.p.addr.avail = vq->driver_iova; /* packed: the driver event area */
	if ((r = request(v, &m, NULL, 0)))
		return fail(v, r, "SET_VRING_ADDR");
	/* The backend writes the call fd when the ring asks for interrupts (virtio_ring.c): rx sleeps on it */
	if ((r = set_vring_fd(v, VHOST_USER_SET_VRING_CALL, i, call)))
		return fail(v, r, "SET_VRING_CALL");
	if ((r = set_vring_fd(v, VHOST_USER_SET_VRING_KICK, i, v->kick_fd[i])))
		return fail(v, r, "SET_VRING_KICK");
	v->ring_started[i] = true; /* enabled at DRIVER_OK, with every other ring (enable_rings) */
	vq->notify = vhu_notify;
	vq->notify_ctx = &v->kick_fd[i];
	return 0;
}

static void vhu_close(void *t)
{
	struct vhu *v = t;
	unsigned i;

	stop_monitor(v);
	if (v->event_fd >= 0)
		close(v->event_fd);
	if (v->sock >= 0)
		close(v->sock);
	for (i = 0; i < VHU_MAX_RINGS; i++) {
		if (v->kick_fd[i] >= 0)
			close(v->kick_fd[i]);
		if (atomic_load(&v->call_fd[i]) >= 0)
			close(atomic_load(&v->call_fd[i]));
	}
	if (v->server)
		unlink(v->dev->spec.path);
	free(v);
}

static const atomic_bool *vhu_gone_flag(void *t) { return &((struct vhu *)t)->gone; }

/* An rx ring's wake-up: its call eventfd (vhost-user.rst "Ring states": the back-end signals it). */
static int vhu_queue_intr_fd(void *t, uint16_t index, bool say)
{
	struct vhu *v = t;
	int fd = index < VHU_MAX_RINGS ? atomic_load(&v->call_fd[index]) : -1;

	if (fd >= 0)
		return fd;
	if (!say)
		return -ENOTSUP;
	return unic_dev_error(v->dev, ENOTSUP, "vhost-user %s: ring %u is not set up: start the device first",
			      v->dev->spec.path, index);
}

/* Readable once the backend is gone (the link is then down and stays down). */
static int vhu_config_intr_fd(void *t, bool say)
{
	(void)say;
	return ((struct vhu *)t)->event_fd;
}

/* Queue pairs the backend takes (GET_QUEUE_NUM with the protocol feature MQ, else 1). */
static uint16_t vhu_queue_pairs(void *t) { return ((struct vhu *)t)->max_pairs; }

static const struct virtio_transport vhost_user_transport = {
	.name = "vhost-user",
	.ring_align = 4, /* spec 2.7.2: the used ring needs 4-byte alignment outside legacy */
	.reset = vhu_reset,
	.get_status = vhu_get_status,
	.set_status = vhu_set_status,
	.get_features = vhu_get_features,
	.set_features = vhu_set_features,
	.read_config = vhu_read_config,
	.queue_max = vhu_queue_max,
	.queue_enable = vhu_queue_enable,
	.close = vhu_close,
	.share_memory = vhu_share_memory,
	.gone_flag = vhu_gone_flag,
	.check = vhu_check,
	.queue_pairs = vhu_queue_pairs,
	.queue_intr_fd = vhu_queue_intr_fd,
	.config_intr_fd = vhu_config_intr_fd,
};

/* ---- connecting ---- */

static int unix_addr(struct vhu *v, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(v->dev->spec.path) >= sizeof a->sun_path)
		return unic_dev_error(v->dev, ENAMETOOLONG, "vhost-user socket path %s is too long", v->dev->spec.path);
	strcpy(a->sun_path, v->dev->spec.path);
	return 0;
}

static int connect_client(struct vhu *v)
{
	struct sockaddr_un a;
	int r;

	if ((r = unix_addr(v, &a)))
		return r;
	v->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->sock < 0)
		return unic_dev_error(v->dev, errno, "socket: %s", strerror(errno));
	if (connect(v->sock, (struct sockaddr *)&a, sizeof a) == 0)
		return 0;
	r = errno;
	return unic_dev_error(v->dev, r, "cannot connect to the vhost-user backend at %s: %s (%s)", a.sun_path,
			      strerror(r),
			      r == ENOENT || r == ECONNREFUSED ? "start the backend first, in server mode, or open "
								  "vhost-user:PATH,server for a backend in client mode"
			      : r == EACCES ? "the socket or its directory is not writable for this user"
					    : "is the path a vhost-user socket?");
}

/*
 * Server mode never replaces what it did not make: a socket that answers is another
 * process's (refused); one that refuses connections is stale (removed); anything
 * else at the path is refused. 0, or -errno with the line in dev->err.
 */
static int clear_path(struct vhu *v, const struct sockaddr_un *a)
{
	struct stat st;
	int s, r;

	if (lstat(a->sun_path, &st)) {
		if (errno == ENOENT)
			return 0;
		r = errno;
		return unic_dev_error(v->dev, r, "cannot look at %s: %s", a->sun_path, strerror(r));
	}
	if (!S_ISSOCK(st.st_mode))
		return unic_dev_error(v->dev, EEXIST, "%s exists and is not a socket: refusing to replace it; "
				      "choose another path for vhost-user:PATH,server", a->sun_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return unic_dev_error(v->dev, errno, "socket: %s", strerror(errno));
	r = connect(s, (const struct sockaddr *)a, sizeof *a) ? errno : 0;
	close(s);
	if (r == ECONNREFUSED) { /* nobody listens: left behind by a process that died */
		if (unlink(a->sun_path) && errno != ENOENT)
			return unic_dev_error(v->dev, errno, "cannot remove the stale socket %s: %s", a->sun_path,
					      strerror(errno));
		return 0;
	}
	if (r == 0 || r == EAGAIN)
		return unic_dev_error(v->dev, EADDRINUSE, "another process is listening on %s: refusing to take its "
				      "socket; stop it or choose another path", a->sun_path);
	return unic_dev_error(v->dev, r, "cannot tell whether %s is in use (%s): remove it by hand if it is stale",
			      a->sun_path, strerror(r));
}

/* Root, our own uid, and the uid of ",uid=N" may connect. */
static bool peer_allowed(const struct unic_spec *spec, uid_t peer)
{
	return peer == 0 || peer == geteuid() || (spec->has_peer_uid && peer == spec->peer_uid);
}

/*
 * The next peer of an allowed uid, until the open deadline; others are closed and
 * named in the error. Returns the connected socket, or -1 with why set.
 */
static int accept_allowed(struct vhu *v, int lfd, enum vhu_cause *why, unsigned *refused, uid_t *last_uid)
{
	for (;;) {
		struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 }; /* -1: unknown */
		socklen_t len = sizeof cred;
		int s;

		if ((*why = wait_fd(v, lfd, POLLIN, v->open_deadline)))
			return -1;
		s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			continue;
		if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && peer_allowed(&v->dev->spec, cred.uid))
			return s;
		UNIC_WARN("vhost-user %s: refused a peer of uid %d (pid %d): not root, uid %d or the ,uid=N allowed",
			  v->dev->spec.path, (int)cred.uid, (int)cred.pid, (int)geteuid());
		*last_uid = cred.uid;
		(*refused)++;
		close(s);
	}
}

/* ",server": we listen, a backend in client mode connects. */
static int accept_backend(struct vhu *v)
{
	struct sockaddr_un a;
	enum vhu_cause why;
	unsigned refused = 0;
	uid_t last_uid = 0;
	int lfd, r;

	if ((r = unix_addr(v, &a)) || (r = clear_path(v, &a)))
		return r;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return unic_dev_error(v->dev, errno, "socket: %s", strerror(errno));
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1)) {
		r = errno;
		close(lfd);
		return unic_dev_error(v->dev, r, "cannot listen on %s: %s", a.sun_path, strerror(r));
	}
	v->server = true; /* we made the socket file: close removes it */
	v->sock = accept_allowed(v, lfd, &why, &refused, &last_uid);
	close(lfd);
	if (v->sock >= 0)
		return 0;
	if (why == VHU_CANCELLED)
		return unic_dev_error(v->dev, ECANCELED, "vhost-user open of %s cancelled by the application (cfg.cancel) "
				      "while waiting for the backend to connect", a.sun_path);
	if (refused)
		return unic_dev_error(v->dev, EACCES, "no allowed vhost-user backend connected to %s in time: refused %u "
				      "peer(s), the last of uid %d (allowed: root, uid %d; add ,uid=N to allow another)",
				      a.sun_path, refused, (int)last_uid, (int)geteuid());
	return unic_dev_error(v->dev, ETIMEDOUT,
			      "no vhost-user backend connected to %s in time (cfg.open_timeout_ms): start it in client "
			      "mode (DPDK: --vdev net_vhost0,iface=%s,client=1)", a.sun_path, a.sun_path);
}

/*
 * GET_QUEUE_NUM: how many queue pairs the backend takes. The spec words it as "queues";
 * vhost-user-net back-ends and front-ends (DPDK's vhost library, QEMU's vhost-user
 * netdev) count queue pairs, and so does unic. 0 cannot be true: malformed.
 */
static int get_queue_pairs(struct vhu *v)
{
	uint64_t n;
	int r;

	if ((r = get_u64(v, VHOST_USER_GET_QUEUE_NUM, &n)))
		return fail(v, r, "GET_QUEUE_NUM");
	if (n == 0) {
		set_detail(v, "its reply to GET_QUEUE_NUM says 0 queue pairs");
		mark_gone(v, VHU_MALFORMED);
		return fail(v, -EPROTO, "GET_QUEUE_NUM");
	}
	v->max_pairs = n < UNIC_MAX_QUEUES ? (uint16_t)n : UNIC_MAX_QUEUES; /* more than we use: fine */
	return 0;
}

/* SET_OWNER, the backend's features, REPLY_ACK and MQ if it has protocol features. */
static int open_session(struct vhu *v)
{
	struct vhu_msg m;
	uint64_t proto;
	int r;

	msg_init(&m, VHOST_USER_SET_OWNER, 0);
	if ((r = send_msg(v, &m, NULL, 0)))
		return fail(v, r, "SET_OWNER");
	if ((r = get_u64(v, VHOST_USER_GET_FEATURES, &v->offered)))
		return fail(v, r, "GET_FEATURES");
	v->protocol = v->offered & VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	if (!v->protocol)
		return 0;
	if ((r = get_u64(v, VHOST_USER_GET_PROTOCOL_FEATURES, &proto)))
		return fail(v, r, "GET_PROTOCOL_FEATURES");
	proto &= VIRTIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | VIRTIO_BIT(VHOST_USER_PROTOCOL_F_MQ);
	if ((r = set_u64(v, VHOST_USER_SET_PROTOCOL_FEATURES, proto)))
		return fail(v, r, "SET_PROTOCOL_FEATURES");
	v->reply_ack = proto & VIRTIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK); /* from the next message on */
	/* a net backend without VIRTIO_NET_F_MQ is a one-pair device, whatever its protocol says */
	if ((proto & VIRTIO_BIT(VHOST_USER_PROTOCOL_F_MQ)) && (v->offered & VHU_MQ_FEATURE))
		return get_queue_pairs(v);
	return 0;
}

static bool env_true(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0") != 0;
}

int unic_vhost_user_probe(struct unic_dev *dev)
{
	struct vhu *v = calloc(1, sizeof *v);
	unsigned i;
	int r;

	if (!v)
		return unic_dev_error(dev, ENOMEM, "out of memory");
	v->dev = dev;
	v->sock = v->wake_fd = -1;
	for (i = 0; i < VHU_MAX_RINGS; i++) {
		v->kick_fd[i] = -1;
		atomic_init(&v->call_fd[i], -1);
	}
	v->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->event_fd < 0) {
		free(v);
		return unic_dev_error(dev, errno, "eventfd: %s", strerror(errno));
	}
	v->max_pairs = 1; /* without the protocol feature MQ (spec "Multiple queue support") */
	atomic_init(&v->gone, false);
	atomic_init(&v->cause, VHU_ALIVE);
	v->opening = true;
	v->open_deadline = now_ms() + (dev->cfg.open_timeout_ms ? dev->cfg.open_timeout_ms : VHU_OPEN_TIMEOUT_MS);
	unic_random_mac(v->mac); /* locally administered unicast, fixed per open */
	dev->drv = &unic_driver_virtio_net;
	dev->dma_mode = UNIC_DMA_VIRT; /* the backend maps our memfds: addresses are ours */
	if (env_true("UNIC_NO_HUGEPAGES"))
		dev->cfg.no_hugepages = true;
	r = dev->spec.server ? accept_backend(v) : connect_client(v);
	if (!r)
		r = open_session(v);
	if (!r)
		r = start_monitor(v);
	if (r) {
		vhu_close(v);
		return r;
	}
	/* From here the driver owns v: attach closes it on failure, the driver's close otherwise. */
	return virtio_net_attach(dev, &vhost_user_transport, v);
}
