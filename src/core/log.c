/* log.c - the log hook and error lines. The library prints nothing by itself. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/*
 * The hook is set and used from any thread: a logger copies function, argument and
 * level under the lock, as one, then calls the hook outside it (so that a hook may
 * itself call unic_set_log). Logging is rare and off the data path's fast path.
 */
static struct {
	unic_log_fn fn;
	void *arg;
	enum unic_log_level max;
} hook = { .max = UNIC_LOG_INFO };
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;

void unic_set_log(unic_log_fn fn, void *arg, enum unic_log_level max_level)
{
	pthread_mutex_lock(&hook_lock);
	hook.fn = fn;
	hook.arg = arg;
	hook.max = max_level;
	pthread_mutex_unlock(&hook_lock);
}

static void log_va(enum unic_log_level level, const char *fmt, va_list ap)
{
	unic_log_fn fn;
	void *arg;
	char msg[512];

	pthread_mutex_lock(&hook_lock);
	fn = level <= hook.max ? hook.fn : NULL;
	arg = hook.arg;
	pthread_mutex_unlock(&hook_lock);
	if (!fn)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	fn(level, msg, arg);
}

void unic_log(enum unic_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, fmt, ap);
	va_end(ap);
}

void unic_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int unic_dev_error(struct unic_dev *dev, int err_no, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->err, sizeof dev->err, fmt, ap);
	va_end(ap);
	unic_log(UNIC_LOG_ERR, "%s", dev->err);
	return err_no > 0 ? -err_no : err_no;
}

const char *unic_last_error(struct unic_dev *dev)
{
	if (!dev)
		return "no device";
	if (atomic_load(&dev->irq.unplugged))
		unic_irq_unplug_error(dev); /* the device request fired: the kernel wants it back */
	else if (dev->drv && dev->drv->check)
		dev->drv->check(dev); /* a device gone under the data path: the message is made here */
	return dev->err;
}
