/*
 * record.c - what an open PCI device needs after its owner dies, kept on disk.
 *
 * A process killed with a device open leaves it as it was: in sysfs mode the
 * NIC is still bus mastering into hugepages the kernel now gives to others, and
 * the kernel driver it had before unic took it was only in the dead process's
 * memory. So unic_open() writes RUN_DIR/BDF (owner pid, access method, original
 * driver) before it touches the device, atomically (temporary file, rename),
 * and a clean close removes it. A record found by the next unic_open() (which
 * holds the device's lock, so its owner is gone) or by unic_pci_recover()
 * (unic-devbind --restore) means the owner died: the device is quiesced (bus
 * mastering off, function reset) before anything else, and the original
 * driver comes from the record.
 *
 * RUN_DIR is $UNIC_RUN_DIR when set (tests), else /run/unic/dev.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define RUN_PARENT "/run/unic"
#define RUN_DIR_DEFAULT RUN_PARENT "/dev"
#define RUN_DIR_ENV "UNIC_RUN_DIR"
#define RECORD_MAX 256                 /* bytes: three short lines */

static const char *run_dir(void)
{
	const char *d = getenv(RUN_DIR_ENV);

	return d && d[0] ? d : RUN_DIR_DEFAULT;
}

static int record_path(const char *bdf, char *path, size_t len)
{
	if (!bdf || !bdf[0] || strchr(bdf, '/') || bdf[0] == '.')
		return -EINVAL;
	return (size_t)snprintf(path, len, "%s/%s", run_dir(), bdf) < len ? 0 : -ENAMETOOLONG;
}

/* Driver names go into sysfs bind files: letters, digits, '-' and '_' only. */
static bool driver_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

static int make_dir(void)
{
	const char *d = run_dir();

	if (!getenv(RUN_DIR_ENV) || !getenv(RUN_DIR_ENV)[0])
		if (mkdir(RUN_PARENT, 0755) && errno != EEXIST)
			return -errno;
	if (mkdir(d, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int unic_record_save(const char *bdf, const struct unic_record *rec)
{
	char path[256], tmp[300], text[RECORD_MAX];
	int fd, r = 0, n;

	if (record_path(bdf, path, sizeof path) || !driver_name_ok(rec->driver) || strchr(rec->access, '\n'))
		return -EINVAL;
	if ((r = make_dir()))
		return r;
	n = snprintf(text, sizeof text, "pid %ld\naccess %s\ndriver %s\n", (long)rec->pid, rec->access, rec->driver);
	if (n < 0 || (size_t)n >= sizeof text)
		return -EINVAL;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || fsync(fd))
		r = errno ? -errno : -EIO;
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* "key value\n": value into out (may be empty); -EINVAL when the line is not that key. */
static int take_line(char **p, const char *key, char *out, size_t len)
{
	size_t k = strlen(key), v;
	char *nl = strchr(*p, '\n');

	if (!nl || strncmp(*p, key, k) || ((*p)[k] != ' ' && (*p)[k] != '\n'))
		return -EINVAL;
	*p += (*p)[k] == ' ' ? k + 1 : k;
	v = (size_t)(nl - *p);
	if (v >= len)
		return -EINVAL;
	memcpy(out, *p, v);
	out[v] = 0;
	*p = nl + 1;
	return 0;
}

int unic_record_load(const char *bdf, struct unic_record *rec)
{
	char path[256], text[RECORD_MAX + 1], pid[24], *p = text, *end;
	ssize_t n;
	long v;
	int fd, r;

	memset(rec, 0, sizeof *rec);
	if ((r = record_path(bdf, path, sizeof path)))
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, RECORD_MAX);
	close(fd);
	if (n < 0)
		return -EIO;
	text[n] = 0;
	if (take_line(&p, "pid", pid, sizeof pid) || take_line(&p, "access", rec->access, sizeof rec->access) ||
	    take_line(&p, "driver", rec->driver, sizeof rec->driver) || *p)
		return -EINVAL;
	errno = 0;
	v = strtol(pid, &end, 10);
	if (errno || *end || v <= 0 || v > INT32_MAX || !driver_name_ok(rec->driver))
		return -EINVAL;
	rec->pid = (pid_t)v;
	return 0;
}

void unic_record_remove(const char *bdf)
{
	char path[256];

	if (!record_path(bdf, path, sizeof path))
		unlink(path);
}

bool unic_record_owner_alive(const struct unic_record *rec)
{
	return rec->pid > 0 && (kill(rec->pid, 0) == 0 || errno == EPERM);
}

/* VFIO's release path disables and resets the device when its owner's file closes; sysfs has none. */
static bool needs_quiesce(const struct unic_record *rec)
{
	return strcmp(rec->access, "vfio") && strcmp(rec->access, "vfio-noiommu");
}

/* Quiesces (when the record says so) and logs; the device is then ready for a new owner. */
static int recover_locked(const char *bdf, const struct unic_record *rec)
{
	const char *what;
	int r = 0;

	if (needs_quiesce(rec)) {
		r = unic_pci_quiesce(bdf, &what);
		if (r)
			UNIC_WARN("%s: its previous owner (pid %ld, %s) died without closing it, and unic could not %s: %s",
				  bdf, (long)rec->pid, rec->access, what, strerror(-r));
		else
			UNIC_WARN("%s: its previous owner (pid %ld, %s) died without closing it: bus mastering disabled, "
				  "function reset", bdf, (long)rec->pid, rec->access);
	} else {
		UNIC_WARN("%s: its previous owner (pid %ld, %s) died without closing it (the kernel reset it)", bdf,
			  (long)rec->pid, rec->access);
	}
	return r;
}

int unic_record_adopt(struct unic_dev *dev)
{
	const char *bdf = dev->spec.pci_addr;
	struct unic_record old, rec = { .pid = getpid() };
	int r;

	r = unic_record_load(bdf, &old);
	if (r == 0) {
		recover_locked(bdf, &old);
		if (!dev->orig_driver[0])
			snprintf(dev->orig_driver, sizeof dev->orig_driver, "%s", old.driver);
		snprintf(rec.driver, sizeof rec.driver, "%s", old.driver);
	} else {
		if (r != -ENOENT)
			UNIC_WARN("%s: ignoring an unreadable record in %s: %s", bdf, run_dir(), strerror(-r));
		unic_pci_driver(bdf, rec.driver, sizeof rec.driver);
	}
	snprintf(rec.access, sizeof rec.access, "%s", unic_access_name(dev->spec.access));
	r = unic_record_save(bdf, &rec);
	if (r && (dev->spec.access == UNIC_ACCESS_SYSFS || dev->spec.access == UNIC_ACCESS_UIO))
		return unic_dev_error(dev, -r, "cannot record %s in %s: %s; %s mode needs it to recover the device "
				      "after a crash (root, or set " RUN_DIR_ENV " to a writable directory)", bdf,
				      run_dir(), strerror(-r), unic_access_name(dev->spec.access));
	if (r)
		UNIC_DEBUG("%s: no record in %s (%s): unic-devbind --restore will not know its driver", bdf, run_dir(),
			   strerror(-r));
	dev->record_saved = !r;
	return 0;
}

int unic_pci_recover(const char *bdf, char *driver, size_t len)
{
	struct unic_record rec;
	char path[256];
	int fd, r;

	if (!bdf || !driver || !len)
		return -EINVAL;
	driver[0] = 0;
	if ((r = unic_record_load(bdf, &rec)))
		return r;
	/* the same lock unic_open() holds: taken means a live owner still has the device */
	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -EBUSY;
	}
	r = recover_locked(bdf, &rec);
	if (!r)
		r = rec.driver[0] ? unic_pci_bind_driver(bdf, rec.driver) : unic_pci_unbind_driver(bdf);
	if (!r)
		unic_record_remove(bdf);
	close(fd);
	snprintf(driver, len, "%s", rec.driver);
	return r;
}
