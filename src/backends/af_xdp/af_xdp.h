/* af_xdp.h - what the af_xdp backend's files share (not seen outside src/backends/af_xdp/). */
#ifndef UNIC_AF_XDP_H
#define UNIC_AF_XDP_H

#include "internal.h"

/* xdp_prog.c: the XSKMAP, the redirect program and its attachment; fds, or -1 / -errno. */
int xdp_map_create(uint32_t entries);                 /* fd, or -1 with errno */
int xdp_map_set(int map_fd, uint32_t queue_id, int xsk_fd);
int xdp_prog_load(int map_fd, char *log, size_t log_len); /* fd, or -1 with errno */
int xdp_link_create(int prog_fd, int ifindex, uint32_t mode_flags); /* fd, or -1 with errno */
int xdp_attached_id(int ifindex);                     /* program id, 0 when none, or -errno */
int xdp_detach_netlink(int ifindex, uint32_t mode_flags);

#endif
