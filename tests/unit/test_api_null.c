/* Every public function given NULL or invalid arguments returns an error (and never crashes). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "unic.h"

int main(void)
{
	struct unic_config cfg;
	struct unic_stats st;
	struct unic_link link;
	struct unic_info info;
	struct unic_pci_device pci;
	struct unic_buf *bufs[4];
	uint8_t mac[6];
	struct unic_queue_stats qst;
	char err[UNIC_ERR_LEN];

	unic_config_init(NULL);
	unic_config_init(&cfg);
	CHECK(cfg.rx_queues == 1 && cfg.tx_queues == 1 && cfg.restore_driver && !cfg.allow_unsafe && !cfg.force);

	CHECK(unic_open(NULL, &cfg, err, sizeof err) == NULL && strstr(err, "no device spec"));
	CHECK(unic_open("nonsense", &cfg, err, sizeof err) == NULL && strstr(err, "bad device spec"));
	CHECK(unic_open("nonsense", NULL, NULL, 0) == NULL);
	CHECK(unic_open("vfio:0000:7f:1f.7", &cfg, err, sizeof err) == NULL && strstr(err, "no PCI device at 0000:7f:1f.7"));
	CHECK(unic_open("sysfs:0000:7f:1f.7", NULL, err, sizeof err) == NULL && strstr(err, "no PCI device"));
	CHECK(unic_open("vhost-user:/nonexistent/sock", &cfg, err, sizeof err) == NULL && err[0]);
	cfg.rx_queues = 1000;
	CHECK(unic_open("vfio:0000:7f:1f.7", &cfg, err, sizeof err) == NULL && strstr(err, "queues"));

	CHECK(unic_close(NULL) == -EINVAL);
	CHECK(unic_rx_burst(NULL, 0, bufs, 4) == 0);
	CHECK(unic_tx_burst(NULL, 0, bufs, 4) == 0);
	CHECK(unic_stats(NULL, &st) == -EINVAL);
	CHECK(unic_queue_stats(NULL, 0, &qst) == -EINVAL);
	CHECK(unic_set_rss(NULL, NULL, 0, NULL, 0) == -EINVAL);
	CHECK(unic_rx_fd(NULL, 0) == -EINVAL);
	CHECK(unic_rx_intr_enable(NULL, 0) == -EINVAL);
	CHECK(unic_rx_intr_disable(NULL, 0) == -EINVAL);
	CHECK(unic_rx_wait(NULL, 0, 0) == -EINVAL);
	CHECK(unic_tx_reclaim(NULL, 0) == 0);
	CHECK(unic_event_fd(NULL) == -EINVAL);
	CHECK(unic_event_ack(NULL) == -EINVAL);
	CHECK(unic_link(NULL, &link) == -EINVAL);
	CHECK(unic_mac(NULL, mac) == -EINVAL);
	CHECK(unic_set_promisc(NULL, true) == -EINVAL);
	CHECK(unic_info(NULL, &info) == -EINVAL);
	CHECK(unic_dev_mempool(NULL) == NULL);
	CHECK(unic_last_error(NULL) != NULL);
	CHECK(unic_buf_alloc_bulk(NULL, bufs, 4) == 0);
	CHECK(unic_buf_alloc(NULL) == NULL);
	CHECK(unic_mempool_free_count(NULL) == 0);
	CHECK(unic_mempool_size(NULL) == 0);
	CHECK(unic_mempool_create(0, 2048, NULL, 0) == NULL); /* no error buffer: still refused */
	unic_mempool_release(NULL);
	unic_buf_free(NULL);
	unic_buf_free_bulk(NULL, 4);
	/* PCI inspection and binding: bad arguments fail before sysfs is touched (nothing here
	 * may bind or unbind a real device of this host) */
	CHECK(unic_pci_inspect(NULL, &pci) == -EINVAL);
	CHECK(unic_pci_inspect("0000:00:03.0", NULL) == -EINVAL);
	CHECK(unic_pci_inspect("nonsense", &pci) == -EINVAL);
	CHECK(unic_pci_inspect("vfio:0000:00:03.0", &pci) == -EINVAL);
	CHECK(unic_pci_inspect("../../../etc", &pci) == -EINVAL);
	CHECK(unic_pci_inspect("0000:7f:1f.7", &pci) == -ENODEV);
	CHECK(unic_pci_list_network(NULL, 4) == -EINVAL);
	CHECK(unic_pci_list_network(&pci, -1) == -EINVAL);
	CHECK(unic_pci_list_network(NULL, 0) >= 0);
	CHECK(unic_pci_driver_loaded(NULL) == -EINVAL);
	CHECK(unic_pci_driver_loaded("") == -EINVAL);
	CHECK(unic_pci_driver_loaded("../x") == -EINVAL);
	CHECK(unic_pci_driver_loaded("..") == -EINVAL);
	CHECK(unic_pci_driver_loaded("no-such-unic-driver") == 0);
	CHECK(unic_pci_bind_driver(NULL, "vfio-pci") == -EINVAL);
	CHECK(unic_pci_bind_driver("nonsense", "vfio-pci") == -EINVAL);
	CHECK(unic_pci_bind_driver("0000:7f:1f.7", NULL) == -EINVAL);
	CHECK(unic_pci_bind_driver("0000:7f:1f.7", "") == -EINVAL);
	CHECK(unic_pci_bind_driver("0000:7f:1f.7", "../../x") == -EINVAL);
	CHECK(unic_pci_bind_driver("0000:7f:1f.7", "vfio-pci") == -ENODEV);
	CHECK(unic_pci_unbind_driver(NULL) == -EINVAL);
	CHECK(unic_pci_unbind_driver("sysfs:0000:7f:1f.7") == -EINVAL);
	CHECK(unic_pci_unbind_driver("0000:7f:1f.7") == -ENODEV);

	CHECK(strcmp(unic_access_name(UNIC_ACCESS_SYSFS), "sysfs") == 0);
	CHECK(strcmp(unic_access_name((enum unic_access)99), "none") == 0);
	return check_summary("test_api_null");
}
