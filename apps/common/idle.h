/*
 * idle.h - --idle hybrid|poll: what a queue thread does when no frame comes.
 *
 * poll: spin on the rings (lowest latency, a whole core). hybrid: poll while frames keep
 * coming; after TOOL_IDLE_EMPTY_ROUNDS rounds over the thread's queues without a frame, arm
 * their interrupts (unic_rx_intr_enable: a frame that landed meanwhile is not slept on) and
 * sleep on their descriptors until one wakes, then poll again. A device that cannot interrupt
 * is polled, after one warning line.
 */
#ifndef UNIC_TOOL_IDLE_H
#define UNIC_TOOL_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "unic.h"

#define TOOL_IDLE_EMPTY_ROUNDS 64  /* empty rounds before sleeping: tens of microseconds of polling */
#define TOOL_IDLE_SLEEP_MS 250     /* the longest sleep: a stop request or deadline is seen this often
                                      (each timeout costs an arm and a disarm: under uio: config
                                      space writes, slow under TCG: 100 ms cost 1.9 % of a CPU) */
#define TOOL_IDLE_MAX 32           /* queues one thread sleeps on */

enum tool_idle_mode { TOOL_IDLE_DEFAULT = 0, TOOL_IDLE_HYBRID, TOOL_IDLE_POLL };
/* --idle's argument, or a usage error. */
enum tool_idle_mode tool_idle_parse(const char *arg);
#define TOOL_IDLE_USAGE(def)                                                                        \
	"      --idle MODE    hybrid: poll while frames come, sleep on the device's interrupt after a\n" \
	"                     run of empty polls; poll: never sleep (a whole core) (default: " def ")\n"

struct tool_idle {
	bool hybrid;
	unsigned empty;
	int n;
	struct unic_dev *dev[TOOL_IDLE_MAX];
	uint16_t queue[TOOL_IDLE_MAX];
	uint64_t sleeps;           /* times the thread slept (for tests and the curious) */
	struct unic_dev *events;   /* its event descriptor is slept on too (tool_idle_watch), or NULL */
	const char *events_name;
};
/* mode TOOL_IDLE_DEFAULT takes def. */
void tool_idle_init(struct tool_idle *w, enum tool_idle_mode mode, enum tool_idle_mode def);
/* One rx queue the thread serves. */
void tool_idle_add(struct tool_idle *w, struct unic_dev *dev, uint16_t queue);
/* Sleeps on dev's events too (link, removal), answered by tool_events_check. */
void tool_idle_watch(struct tool_idle *w, struct unic_dev *dev, const char *name);
/*
 * Device events, without waiting: a link change prints "NAME: DEVICE: link up|down", a removal
 * ends the run with the device's line (tool_dev_failed). Quiet when the device has no events.
 */
void tool_events_check(struct unic_dev *dev, const char *name);
/* After a round over the thread's queues that received got frames: sleeps when it is time. */
void tool_idle_round(struct tool_idle *w, unsigned got);

#endif
