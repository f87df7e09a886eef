/*
 * test_record: the crash record unic_open() keeps for each PCI device
 * (src/core/record.c), in a directory of the test's own ($UNIC_RUN_DIR): written
 * atomically and read back exactly; anything malformed refused (a record names
 * a driver that goes into sysfs bind files); a dead owner told from a live one;
 * unic_pci_recover() with no record says so; an open that finds a dead owner's
 * record logs it, keeps the driver the device had before the dead owner took it
 * (so a second crash still restores the right one) and writes its own record.
 * The device side (quiesce, restore) is the lab's: tests/lab/run sysfs-crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static char dir[] = "/tmp/unic-record-XXXXXX";

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void put(const char *name, const char *text)
{
	char path[128];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void test_round_trip(void)
{
	struct unic_record rec = { .pid = 4242, .access = "sysfs", .driver = "e1000e" }, got;
	char path[128], text[128] = { 0 };
	int fd;

	CHECK(unic_record_load("0000:00:02.0", &got) == -ENOENT);
	CHECK(unic_record_save("0000:00:02.0", &rec) == 0);
	CHECK(entries() == 1); /* the temporary file was renamed, not left behind */
	snprintf(path, sizeof path, "%s/0000:00:02.0", dir);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, text, sizeof text - 1) > 0);
	close(fd);
	CHECK(!strcmp(text, "pid 4242\naccess sysfs\ndriver e1000e\n"));
	CHECK(unic_record_load("0000:00:02.0", &got) == 0);
	CHECK(got.pid == 4242 && !strcmp(got.access, "sysfs") && !strcmp(got.driver, "e1000e"));
	rec.driver[0] = 0; /* a device that had no driver */
	CHECK(unic_record_save("0000:00:02.0", &rec) == 0 && unic_record_load("0000:00:02.0", &got) == 0);
	CHECK(got.driver[0] == 0);
	unic_record_remove("0000:00:02.0");
	CHECK(unic_record_load("0000:00:02.0", &got) == -ENOENT && entries() == 0);
}

static void test_refused(void)
{
	struct unic_record rec = { .pid = 1, .access = "sysfs", .driver = "../../x" }, got;
	static const char *const bad[] = {
		"",                                             /* empty */
		"pid 12\naccess sysfs\n",                       /* no driver line */
		"pid x\naccess sysfs\ndriver e1000e\n",         /* pid not a number */
		"pid -3\naccess sysfs\ndriver e1000e\n",
		"pid 12\naccess sysfs\ndriver ../../bind\n",    /* a path, not a driver name */
		"pid 12\naccess sysfs\ndriver e1000e\nextra\n", /* trailing junk */
		"pid 12 access sysfs driver e1000e",            /* one line */
	};
	size_t i;
	int refused = 0;

	CHECK(unic_record_save("0000:00:03.0", &rec) == -EINVAL); /* never written */
	snprintf(rec.driver, sizeof rec.driver, "igb");
	CHECK(unic_record_save("../escape", &rec) == -EINVAL && unic_record_save("", &rec) == -EINVAL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put("0000:00:04.0", bad[i]);
		refused += unic_record_load("0000:00:04.0", &got) == -EINVAL;
	}
	CHECK(refused == (int)(sizeof bad / sizeof bad[0]));
	unic_record_remove("0000:00:04.0");
	CHECK(entries() == 0);
}

static void test_owner(void)
{
	struct unic_record rec = { .pid = getpid() };
	pid_t child = fork();
	char drv[64] = "x";

	if (child == 0)
		_exit(0);
	CHECK(child > 0 && waitpid(child, NULL, 0) == child);
	CHECK(unic_record_owner_alive(&rec));
	rec.pid = child; /* reaped: no such process */
	CHECK(!unic_record_owner_alive(&rec));
	/* no record: nothing to recover, nothing touched */
	CHECK(unic_pci_recover("0000:00:05.0", drv, sizeof drv) == -ENOENT && drv[0] == 0);
	CHECK(unic_pci_recover(NULL, drv, sizeof drv) == -EINVAL);
}

static char logged[512];

static void on_log(enum unic_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(logged, sizeof logged, "%s", msg);
}

/* No such device here: the quiesce fails (and says so); the record logic is what is checked. */
static void test_adopt(void)
{
	const char *bdf = "0000:ff:1f.7";
	struct unic_record dead = { .access = "sysfs", .driver = "e1000e" }, got;
	struct unic_dev *dev = calloc(1, sizeof *dev);
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	dead.pid = child;
	CHECK(dev && unic_record_save(bdf, &dead) == 0);
	if (!dev)
		return;
	snprintf(dev->spec.pci_addr, sizeof dev->spec.pci_addr, "%s", bdf);
	dev->spec.access = UNIC_ACCESS_SYSFS;
	unic_set_log(on_log, NULL, UNIC_LOG_WARN);
	CHECK(unic_record_adopt(dev) == 0 && dev->record_saved);
	unic_set_log(NULL, NULL, UNIC_LOG_WARN);
	printf("  adopt: %s\n", logged);
	CHECK(strstr(logged, "previous owner") && strstr(logged, "died without closing it"));
	CHECK(!strcmp(dev->orig_driver, "e1000e"));            /* the device is unbound now: the record knows */
	CHECK(unic_record_load(bdf, &got) == 0 && got.pid == getpid() && !strcmp(got.access, "sysfs") &&
	      !strcmp(got.driver, "e1000e"));                   /* a second crash still finds e1000e */
	unic_record_remove(bdf);
	free(dev);
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	setenv("UNIC_RUN_DIR", dir, 1);
	test_round_trip();
	test_refused();
	test_owner();
	test_adopt();
	rmdir(dir);
	return check_summary("test_record");
}
