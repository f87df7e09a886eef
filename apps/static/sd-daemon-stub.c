/*
 * sd-daemon-stub.c - linked only into the static guest build of unic-pcap.
 *
 * Debian's libpcap.a needs libdbus-1.a (for its D-Bus capture source), and
 * libdbus-1.a calls two libsystemd functions for socket activation of D-Bus
 * servers; Debian ships no libsystemd.a. unic-pcap never captures from D-Bus
 * and is never socket-activated, so these answer "no sockets were passed",
 * which is what libsystemd itself answers outside socket activation.
 */
int sd_listen_fds(int unset_environment);
int sd_is_socket(int fd, int family, int type, int listening);

int sd_listen_fds(int unset_environment)
{
	(void)unset_environment;
	return 0;
}

int sd_is_socket(int fd, int family, int type, int listening)
{
	(void)fd, (void)family, (void)type, (void)listening;
	return 0;
}
