/*
 * unic-lab-link - open a device (full start: queues, link setup) and print what
 * unic_link() reports.
 *
 *   unic-lab-link [--wait-up SECONDS] SPEC
 *
 * One line: "LINK <spec> up=<0|1> speed=<Mb/s> duplex=<full|half> driver=<d> features=[<f>]",
 * or "ERROR <spec>: <the library's error line>" and exit status 1. With
 * --wait-up it polls unic_link() until the link is up, bounded by SECONDS.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "unic.h"

#define POLL_NS 100000000L /* 0.1 s */

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "wait-up", required_argument, NULL, 'w' }, { 0 } };
	struct unic_config cfg;
	struct unic_link link;
	struct unic_info info;
	char err[UNIC_ERR_LEN];
	struct unic_dev *dev;
	int c, polls = 0, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'w')
			return 2;
		polls = atoi(optarg) * 10;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: unic-lab-link [--wait-up SECONDS] SPEC\n");
		return 2;
	}
	unic_config_init(&cfg);
	dev = unic_open(argv[optind], &cfg, err, sizeof err);
	if (!dev) {
		printf("ERROR %s: %s\n", argv[optind], err);
		return 1;
	}
	while ((r = unic_link(dev, &link)) == 0 && !link.up && polls-- > 0)
		nanosleep(&(struct timespec){ .tv_nsec = POLL_NS }, NULL);
	unic_info(dev, &info);
	if (r)
		printf("ERROR %s: %s\n", argv[optind], unic_last_error(dev));
	else
		printf("LINK %s up=%d speed=%u duplex=%s driver=%s features=[%s]\n", argv[optind], link.up,
		       link.speed_mbps, link.full_duplex ? "full" : "half", info.driver, info.features);
	unic_close(dev);
	return r ? 1 : 0;
}
