/* log.c - the log hook and error lines. The library prints nothing by itself. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static unic_log_fn log_fn;
static void *log_arg;
static enum unic_log_level log_max = UNIC_LOG_INFO;

void unic_set_log(unic_log_fn fn, void *arg, enum unic_log_level max_level)
{
	log_fn = fn;
	log_arg = arg;
	log_max = max_level;
}

static void log_va(enum unic_log_level level, const char *fmt, va_list ap)
{
	char msg[512];

	if (!log_fn || level > log_max)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_fn(level, msg, log_arg);
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
	if (dev->drv && dev->drv->check)
		dev->drv->check(dev); /* a device gone under the data path: the message is made here */
	return dev->err;
}
