/* af_xdp.h - what the af_xdp backend's files share (not seen outside src/backends/af_xdp/). */
#ifndef UNIC_AF_XDP_H
#define UNIC_AF_XDP_H

#include "internal.h"

/* xdp_prog.c: the XSKMAP, the redirect program and its attachment; fds, or -1 / -errno. */
int unic_xdp_map_create(uint32_t entries);                 /* fd, or -1 with errno */
int unic_xdp_map_set(int map_fd, uint32_t queue_id, int xsk_fd);
int unic_xdp_prog_load(int map_fd, char *log, size_t log_len); /* fd, or -1 with errno */
int unic_xdp_link_create(int prog_fd, int ifindex, uint32_t mode_flags); /* fd, or -1 with errno */
int unic_xdp_attached_id(int ifindex);                     /* program id, 0 when none, or -errno */
/* prog_fd -1: removes the program attached in that mode; 0 or -errno */
int unic_xdp_netlink_set(int ifindex, int prog_fd, uint32_t mode_flags);

#endif
