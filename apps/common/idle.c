/* idle.c - the hybrid idle mode of the tools (idle.h). */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/idle.h"
#include "common/tool.h"

enum tool_idle_mode tool_idle_parse(const char *arg)
{
	if (!strcmp(arg, "hybrid"))
		return TOOL_IDLE_HYBRID;
	if (!strcmp(arg, "poll"))
		return TOOL_IDLE_POLL;
	tool_usage_error("--idle wants hybrid or poll, not '%s'", arg);
}

void tool_idle_init(struct tool_idle *w, enum tool_idle_mode mode, enum tool_idle_mode def)
{
	memset(w, 0, sizeof *w);
	w->hybrid = (mode ? mode : def) == TOOL_IDLE_HYBRID;
}

void tool_idle_add(struct tool_idle *w, struct unic_dev *dev, uint16_t queue)
{
	if (w->n == TOOL_IDLE_MAX) {
		w->hybrid = false; /* more queues than a thread sleeps on: it polls them */
		return;
	}
	w->dev[w->n] = dev;
	w->queue[w->n++] = queue;
}

/* One line for the whole process: the device is polled from now on. */
static void fall_back(struct tool_idle *w, int i)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;

	if (!atomic_flag_test_and_set(&warned))
		fprintf(stderr, "%s: %s; polling instead\n", tool_name(), unic_last_error(w->dev[i]));
	w->hybrid = false;
}

static void disarm(struct tool_idle *w, int armed)
{
	int i;

	for (i = 0; i < armed; i++)
		unic_rx_intr_disable(w->dev[i], w->queue[i]);
}

void tool_idle_watch(struct tool_idle *w, struct unic_dev *dev, const char *name)
{
	w->events = dev;
	w->events_name = name;
}

void tool_events_check(struct unic_dev *dev, const char *name)
{
	struct pollfd pfd = { .fd = unic_event_fd(dev), .events = POLLIN };
	struct unic_link link;
	int ev;

	if (pfd.fd < 0 || poll(&pfd, 1, 0) != 1)
		return;
	ev = unic_event_ack(dev);
	if (ev > 0 && (ev & UNIC_EVENT_REMOVED)) {
		tool_dev_failed(dev);
		return;
	}
	if (ev > 0 && (ev & UNIC_EVENT_LINK) && !unic_link(dev, &link))
		fprintf(stderr, "%s: %s: link %s\n", tool_name(), name, link.up ? "up" : "down");
}

/* Arms every queue, sleeps unless a frame is already waiting, disarms. */
static void sleep_on_queues(struct tool_idle *w)
{
	struct pollfd pfd[TOOL_IDLE_MAX + 1];
	int i, r, nfds = w->n;

	for (i = 0; i < w->n; i++) {
		pfd[i] = (struct pollfd){ .fd = unic_rx_fd(w->dev[i], w->queue[i]), .events = POLLIN };
		r = pfd[i].fd < 0 ? pfd[i].fd : unic_rx_intr_enable(w->dev[i], w->queue[i]);
		if (r == 1 || r < 0) {
			disarm(w, r == 1 ? i + 1 : i);
			if (r == -ENODEV)
				tool_dev_failed(w->dev[i]);
			else if (r < 0)
				fall_back(w, i);
			return; /* 1: a frame came while arming: receive it */
		}
	}
	if (w->events && (pfd[nfds].fd = unic_event_fd(w->events)) >= 0) {
		pfd[nfds].events = POLLIN;
		nfds++;
	}
	w->sleeps++;
	poll(pfd, (nfds_t)nfds, TOOL_IDLE_SLEEP_MS);
	disarm(w, w->n);
	if (nfds > w->n && pfd[w->n].revents)
		tool_events_check(w->events, w->events_name);
}

void tool_idle_round(struct tool_idle *w, unsigned got)
{
	if (got) {
		w->empty = 0;
		return;
	}
	if (!w->hybrid || ++w->empty < TOOL_IDLE_EMPTY_ROUNDS || tool_stopped())
		return;
	w->empty = 0;
	sleep_on_queues(w);
}
