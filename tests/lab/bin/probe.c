/*
 * unic-lab-probe: open devices with probe_only and print what unic read from them.
 *   unic-lab-probe [--twice] [--hold SECONDS] [--force] [--unsafe] SPEC...
 * One line per device: "PROBE <spec> access=<a> id=<vendor>:<device> mac=<mac> driver=<d>",
 * or "ERROR <spec>: <the library's error line>" and exit status 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unic.h"

static void print_dev(const char *spec, struct unic_dev *dev)
{
	struct unic_info info;
	uint8_t m[6];

	unic_info(dev, &info);
	unic_mac(dev, m);
	printf("PROBE %s access=%s id=%04x:%04x mac=%02x:%02x:%02x:%02x:%02x:%02x driver=%s\n", spec,
	       unic_access_name(info.access), info.vendor_id, info.device_id, m[0], m[1], m[2], m[3], m[4], m[5],
	       info.driver);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "twice", no_argument, NULL, 't' }, { "hold", required_argument, NULL, 'h' },
		{ "force", no_argument, NULL, 'f' }, { "unsafe", no_argument, NULL, 'u' }, { 0 },
	};
	struct unic_config cfg;
	int twice = 0, hold = 0, rc = 0, c, i;

	unic_config_init(&cfg);
	cfg.probe_only = true;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': twice = 1; break;
		case 'h': hold = atoi(optarg); break;
		case 'f': cfg.force = true; break;
		case 'u': cfg.allow_unsafe = true; break;
		default: return 2;
		}
	}
	for (i = optind; i < argc; i++) {
		char err[UNIC_ERR_LEN];
		struct unic_dev *dev = unic_open(argv[i], &cfg, err, sizeof err);

		if (!dev) {
			printf("ERROR %s: %s\n", argv[i], err);
			rc = 1;
			continue;
		}
		print_dev(argv[i], dev);
		if (twice) {
			struct unic_dev *again = unic_open(argv[i], &cfg, err, sizeof err);
			if (again) {
				printf("SECOND-OPEN-SUCCEEDED %s\n", argv[i]);
				unic_close(again);
				rc = 1;
			} else {
				printf("SECOND-OPEN-REFUSED %s: %s\n", argv[i], err);
			}
		}
		if (hold) {
			printf("HOLDING %s\n", argv[i]);
			fflush(stdout);
			sleep((unsigned)hold);
		}
		unic_close(dev);
	}
	return rc;
}
