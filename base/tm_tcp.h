/* Plain TCP sockets for base's own transports (the log stream): addresses
 * in nng's "tcp://host:port" form, so one configured address serves either. */
#ifndef TM_TCP_H
#define TM_TCP_H

#include <sys/socket.h>

struct tm_tcp_addr {
    struct sockaddr_storage sa;
    socklen_t len;
};

/* Resolves "tcp://host:port" (host "*" or empty: every interface; an IPv6
 * host in brackets, "tcp://[::1]:p", as nng writes it). 0 or TM_EINVAL. */
int tm_tcp_parse(const char *url, struct tm_tcp_addr *out);
/* A non-blocking listening socket bound to addr, or a negative errno. */
int tm_tcp_listen(const struct tm_tcp_addr *addr);
/* Starts a non-blocking connect: the socket (connected or in progress), or a
 * negative errno. */
int tm_tcp_connect(const struct tm_tcp_addr *addr);
/* Sets TCP_NODELAY: every frame is written whole, and Nagle would hold a
 * small one back until the last is acknowledged. */
void tm_tcp_nodelay(int fd);

/* Accepts one connection on a non-blocking listener: the socket
 * (non-blocking, TCP_NODELAY) or -1 when none waits. Out of descriptors
 * (or any other failure) it logs and pauses 100 ms first, so that a
 * listener that stays readable does not spin its thread. */
int tm_tcp_accept(int lfd);
/* Adds fd to the epoll set for reading, with ptr as its event's data. 0 or a
 * negative errno. */
int tm_tcp_epoll_in(int epfd, int fd, void *ptr);

#endif
