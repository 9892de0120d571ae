/* Plain TCP sockets (tm_tcp.h). */
#include "tm_tcp.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_time.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int tm_tcp_parse(const char *url, struct tm_tcp_addr *out)
{
    char host[256];
    if (strncmp(url, "tcp://", 6) != 0)
        return TM_EINVAL;
    const char *hp = url + 6, *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host || !colon[1])
        return TM_EINVAL;
    size_t hn = (size_t)(colon - hp);
    if (hn >= 2 && hp[0] == '[' && hp[hn - 1] == ']') /* an IPv6 address */
        hp++, hn -= 2;
    memcpy(host, hp, hn);
    host[hn] = '\0';
    bool any = host[0] == '\0' || strcmp(host, "*") == 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (any ? AI_PASSIVE : 0)};
    struct addrinfo *ai;
    if (getaddrinfo(any ? NULL : host, colon + 1, &hints, &ai) != 0)
        return TM_EINVAL;
    memcpy(&out->sa, ai->ai_addr, ai->ai_addrlen);
    out->len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int open_socket(const struct tm_tcp_addr *addr)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int tm_tcp_listen(const struct tm_tcp_addr *addr)
{
    int fd = open_socket(addr), one = 1;
    if (fd < 0)
        return fd;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) || listen(fd, 64)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int tm_tcp_connect(const struct tm_tcp_addr *addr)
{
    int fd = open_socket(addr);
    if (fd < 0)
        return fd;
    tm_tcp_nodelay(fd);
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) && errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

void tm_tcp_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int tm_tcp_epoll_in(int epfd, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int tm_tcp_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        tm_tcp_nodelay(fd);
        return fd;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        TM_WARN("tcp", "cannot accept a connection: %s", strerror(errno));
        tm_sleep_ms(100);
    }
    return -1;
}
