/*
 * unic-devbind - list network PCI devices, and move one between kernel
 * drivers (for example to vfio-pci before a unic program opens it, or back).
 *
 * unic_open() binds vfio-pci by itself and hands the device back on close;
 * this tool is for doing it once, by hand, as root, so that unic programs
 * can then run as a user with access to /dev/vfio/N.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tool.h"

/* Where --bind/--unbind remember the original driver of a device: STATE_DIR/BDF holds its
 * name, "" when it had none. The tool's own policy; the library keeps no state. */
#define STATE_PARENT "/run/unic"
#define STATE_DIR STATE_PARENT "/devbind"

static const char usage_text[] =
	"Usage: unic-devbind [--status] [--json]\n"
	"       unic-devbind --bind DRIVER BDF [--force]\n"
	"       unic-devbind --unbind BDF [--force]\n"
	"       unic-devbind --restore BDF\n"
	"List network PCI devices, or move one between kernel drivers.\n"
	"\n"
	"  -s, --status         list network devices: id, driver, interface, IOMMU group (default)\n"
	"  -b, --bind DRIVER    bind BDF to DRIVER (e.g. vfio-pci), remembering its driver\n"
	"  -u, --unbind BDF     unbind BDF from its driver, remembering it\n"
	"  -r, --restore BDF    give BDF back to the driver it had before --bind/--unbind, or before\n"
	"                       a unic program that died with it open took it (that program's\n"
	"                       record in /run/unic/dev; a sysfs: device is quiesced and reset first)\n"
	"      --force          move a device whose interface is up with an address or route\n"
	"      --json           --status as JSON on stdout\n"
	"  -h, --help           this text\n"
	"  -V, --version        print the version\n"
	"\n"
	"BDF: a PCI address like 0000:00:04.0. State is kept in " STATE_DIR ".\n"
	"Exit status: 0 success, 1 runtime failure, 2 bad usage.\n";

enum action { ACT_STATUS, ACT_BIND, ACT_UNBIND, ACT_RESTORE };
enum { OPT_FORCE = 256, OPT_JSON };

static const struct option long_opts[] = {
	{ "status", no_argument, NULL, 's' },        { "bind", required_argument, NULL, 'b' },
	{ "unbind", required_argument, NULL, 'u' },  { "restore", required_argument, NULL, 'r' },
	{ "force", no_argument, NULL, OPT_FORCE },   { "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct options {
	enum action action;
	int actions;
	const char *driver;
	char bdf[16];
	bool force, json;
};

/* A bare PCI address, canonical form, or a usage error. */
static void parse_bdf(const char *arg, char *bdf, size_t len)
{
	struct unic_spec spec;
	char err[UNIC_ERR_LEN];

	if (unic_parse_spec(arg, &spec, err, sizeof err) || spec.access != 0)
		tool_usage_error("bad PCI address '%s': expected one like 0000:00:04.0", arg);
	snprintf(bdf, len, "%s", spec.pci_addr);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	const char *bdf_arg = NULL;
	int c;

	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":sb:u:r:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 's': o->action = ACT_STATUS; o->actions++; break;
		case 'b': o->action = ACT_BIND; o->actions++; o->driver = optarg; break;
		case 'u': o->action = ACT_UNBIND; o->actions++; bdf_arg = optarg; break;
		case 'r': o->action = ACT_RESTORE; o->actions++; bdf_arg = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_JSON: o->json = true; break;
		case 'h': fputs(usage_text, stdout); exit(TOOL_EXIT_OK);
		case 'V': tool_version(); exit(TOOL_EXIT_OK);
		case ':': tool_usage_error("option %s needs an argument", argv[optind - 1]);
		default: tool_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->actions > 1)
		tool_usage_error("give one of --status, --bind, --unbind, --restore");
	if (o->action == ACT_BIND) {
		if (optind == argc)
			tool_usage_error("--bind DRIVER needs a BDF after it");
		bdf_arg = argv[optind++];
		if (!o->driver[0] || strchr(o->driver, '/'))
			tool_usage_error("bad driver name '%s'", o->driver);
	}
	if (optind != argc)
		tool_usage_error("unexpected argument '%s'", argv[optind]);
	if (bdf_arg)
		parse_bdf(bdf_arg, o->bdf, sizeof o->bdf);
}

/* ---- --status ---- */

static void iface_text(const struct unic_pci_device *d, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < d->num_ifaces && used < len; i++) {
		const struct unic_pci_iface *f = &d->ifaces[i];
		used += (size_t)snprintf(buf + used, len - used, "%s%s %s%s", i ? ", " : "", f->name, f->up ? "up" : "down",
					 f->in_use ? " (in use)" : "");
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void print_row(const struct unic_pci_device *d)
{
	char ifaces[160], group[16];

	iface_text(d, ifaces, sizeof ifaces);
	snprintf(group, sizeof group, d->iommu_group >= 0 ? "%d" : "-", d->iommu_group);
	printf("%-13s %04x:%04x  %-12s %-28s %s\n", d->bdf, d->vendor_id, d->device_id, d->driver[0] ? d->driver : "-",
	       ifaces, group);
}

static void json_device(struct tool_json *j, const struct unic_pci_device *d)
{
	const struct unic_pci_iface *f = d->num_ifaces ? &d->ifaces[0] : NULL;
	char id[8];

	tool_json_obj_begin(j, d->bdf);
	snprintf(id, sizeof id, "%04x", d->vendor_id);
	tool_json_str(j, "vendor", id);
	snprintf(id, sizeof id, "%04x", d->device_id);
	tool_json_str(j, "device", id);
	tool_json_str(j, "driver", d->driver);
	tool_json_str(j, "interface", f ? f->name : "");
	tool_json_str(j, "state", !f ? "" : f->in_use ? "in use" : f->up ? "up" : "down");
	tool_json_u64(j, "iommu_group_valid", d->iommu_group >= 0);
	tool_json_u64(j, "iommu_group", d->iommu_group >= 0 ? (uint64_t)d->iommu_group : 0);
	tool_json_obj_end(j);
}

/* All network devices; *n is how many. Asks twice in case one came or went in between. */
static struct unic_pci_device *list_devices(int *n)
{
	struct unic_pci_device *devs = NULL;
	int want = 0, got;

	while ((got = unic_pci_list_network(devs, want)) > want) {
		free(devs);
		want = got;
		devs = calloc((size_t)want, sizeof *devs);
		if (!devs)
			tool_fail("out of memory");
	}
	if (got < 0)
		tool_fail("cannot list PCI devices: %s", strerror(-got));
	*n = got;
	return devs;
}

static int status(const struct options *o)
{
	int i, n;
	struct unic_pci_device *devs = list_devices(&n);

	if (o->json) {
		struct tool_json j;
		tool_json_begin(&j);
		tool_json_str(&j, "tool", tool_name());
		tool_json_obj_begin(&j, "devices");
		for (i = 0; i < n; i++)
			json_device(&j, &devs[i]);
		tool_json_obj_end(&j);
		tool_json_end(&j);
	} else {
		printf("%-13s %-10s %-12s %-28s %s\n", "PCI address", "id", "driver", "interface", "IOMMU group");
		for (i = 0; i < n; i++)
			print_row(&devs[i]);
		if (!n)
			printf("(no network PCI devices)\n");
	}
	free(devs);
	return TOOL_EXIT_OK;
}

/* ---- the state file ---- */

static void state_path(const char *bdf, char *path, size_t len)
{
	snprintf(path, len, STATE_DIR "/%s", bdf);
}

/* Keeps an existing record: after two moves the first one names the original driver. */
static int state_save(const char *bdf, const char *driver)
{
	char path[256];
	FILE *f;

	state_path(bdf, path, sizeof path);
	if (access(path, F_OK) == 0)
		return 0;
	if ((mkdir(STATE_PARENT, 0755) && errno != EEXIST) || (mkdir(STATE_DIR, 0755) && errno != EEXIST))
		return -errno;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", driver);
	return fclose(f) ? -errno : 0;
}

static int state_load(const char *bdf, char *driver, size_t len)
{
	char path[256];
	FILE *f;

	state_path(bdf, path, sizeof path);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(driver, (int)len, f))
		driver[0] = 0;
	fclose(f);
	driver[strcspn(driver, "\n")] = 0;
	return 0;
}

static void state_forget(const char *bdf)
{
	char path[256];

	state_path(bdf, path, sizeof path);
	unlink(path);
}

/* ---- --bind, --unbind, --restore ---- */

static const char *hint(int err)
{
	return err == -EACCES || err == -EPERM ? " (needs root)" : "";
}

static void read_device(const char *bdf, struct unic_pci_device *d)
{
	if (unic_pci_inspect(bdf, d))
		tool_fail("no PCI device at %s (list them with 'unic-devbind --status')", bdf);
}

/* Like dpdk-devbind: never pull a device from under a configured interface unless told to. */
static void check_not_in_use(const struct options *o, const struct unic_pci_device *d)
{
	int i;

	for (i = 0; i < d->num_ifaces && !o->force; i++)
		if (d->ifaces[i].in_use)
			tool_fail("refusing %s: %s; take it down first ('ip link set %s down') or pass --force", d->bdf,
				  d->ifaces[i].why, d->ifaces[i].name);
}

static void remember(const struct unic_pci_device *d)
{
	int r = state_save(d->bdf, d->driver);

	if (r)
		tool_fail("cannot record the driver of %s in " STATE_DIR ": %s%s", d->bdf, strerror(-r), hint(r));
}

static int act_bind(const struct options *o)
{
	struct unic_pci_device d;
	int r;

	read_device(o->bdf, &d);
	if (!strcmp(d.driver, o->driver)) {
		printf("%s: %s is already bound to %s\n", tool_name(), o->bdf, o->driver);
		return TOOL_EXIT_OK;
	}
	if (unic_pci_driver_loaded(o->driver) != 1)
		tool_fail("driver %s is not loaded: run 'modprobe %s' as root", o->driver, o->driver);
	check_not_in_use(o, &d);
	remember(&d);
	if ((r = unic_pci_bind_driver(o->bdf, o->driver)))
		tool_fail("cannot bind %s to %s: %s%s", o->bdf, o->driver, strerror(-r), hint(r));
	printf("%s: %s bound to %s (was %s)\n", tool_name(), o->bdf, o->driver, d.driver[0] ? d.driver : "unbound");
	return TOOL_EXIT_OK;
}

static int act_unbind(const struct options *o)
{
	struct unic_pci_device d;
	int r;

	read_device(o->bdf, &d);
	if (!d.driver[0]) {
		printf("%s: %s is not bound to a driver\n", tool_name(), o->bdf);
		return TOOL_EXIT_OK;
	}
	check_not_in_use(o, &d);
	remember(&d);
	if ((r = unic_pci_unbind_driver(o->bdf)))
		tool_fail("cannot unbind %s from %s: %s%s", o->bdf, d.driver, strerror(-r), hint(r));
	printf("%s: %s unbound from %s\n", tool_name(), o->bdf, d.driver);
	return TOOL_EXIT_OK;
}

/*
 * A unic program that died with the device open left a record (unic_pci_recover): the device
 * is quiesced and given back to the driver it had before that program took it. Then this
 * tool's own record, if any, names the driver it had before --bind/--unbind.
 */
static int act_restore(const struct options *o)
{
	char orig[sizeof ((struct unic_pci_device *)0)->driver], dead[sizeof orig];
	struct unic_pci_device d;
	int r, rec;

	read_device(o->bdf, &d);
	rec = unic_pci_recover(d.bdf, dead, sizeof dead);
	if (rec == -EBUSY)
		tool_fail("%s is open in a running unic program: stop it first", o->bdf);
	if (rec && rec != -ENOENT)
		tool_fail("cannot recover %s from the unic program that died with it open: %s%s", o->bdf,
			  strerror(-rec), hint(rec));
	if (state_load(o->bdf, orig, sizeof orig)) {
		if (rec)
			tool_fail("nothing to restore for %s: neither unic-devbind nor a unic program that died moved it",
				  o->bdf);
		printf("%s: %s restored to %s (its unic program had died with it open)\n", tool_name(), o->bdf,
		       dead[0] ? dead : "no driver");
		return TOOL_EXIT_OK;
	}
	r = orig[0] ? unic_pci_bind_driver(o->bdf, orig) : unic_pci_unbind_driver(o->bdf);
	if (r)
		tool_fail("cannot give %s back to %s: %s%s", o->bdf, orig[0] ? orig : "no driver", strerror(-r), hint(r));
	state_forget(o->bdf);
	printf("%s: %s restored to %s\n", tool_name(), o->bdf, orig[0] ? orig : "no driver");
	return TOOL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options o;

	tool_init("unic-devbind");
	parse_args(argc, argv, &o);
	switch (o.action) {
	case ACT_BIND: return act_bind(&o);
	case ACT_UNBIND: return act_unbind(&o);
	case ACT_RESTORE: return act_restore(&o);
	case ACT_STATUS: break;
	}
	return status(&o);
}
