/* The standalone server: coord, data, query and proxy roles in one process,
 * talking only through tm_rpc over nng's inproc transport. A cluster runs the
 * same roles in separate processes with tcp:// addresses instead. */
#include "serve.h"
#include "coord_role.h"
#include "data_role.h"
#include "http.h"
#include "proxy.h"
#include "query_role.h"
#include "binlog.h"
#include "sealer.h"
#include "tm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define COORD_URL "inproc://tidemark/coord"
#define DATA_URL "inproc://tidemark/data"
#define QUERY_URL "inproc://tidemark/query"

struct roles {
    struct tm_roles r;
    int lock_fd;
};

int tm_lock_data_dir(const char *dir)
{
    char path[4096];
    if (mkdir(dir, 0755) && errno != EEXIST) {
        TM_ERROR("serve", "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
        TM_ERROR("serve", "%s is in use by another tidemark process", dir);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Test hook: TIDEMARK_TEST_CRASH_POINT="<point>:<nth>" makes the server
 * _exit at a step of its nth segment write (enum tm_binlog_crash_point in
 * segment/binlog.h), as kill -9 would there; the crash-matrix test uses it.
 * Unset in normal use, where it does nothing. */
static void arm_test_crash_point(void)
{
    const char *v = getenv("TIDEMARK_TEST_CRASH_POINT");
    unsigned point, nth;
    if (v && sscanf(v, "%u:%u", &point, &nth) == 2 && point > TM_BINLOG_CRASH_NONE &&
        point <= TM_BINLOG_CRASH_BEFORE_FINAL_FSYNC) {
        TM_WARN("serve", "test crash point %u armed for segment write %u", point, nth);
        tm_binlog_set_crash_point((enum tm_binlog_crash_point)point, nth, TM_BINLOG_CRASH_EXIT);
    }
}

void tm_roles_stop(struct tm_roles *r)
{
    tm_http_server_stop(r->http);
    if (r->proxy_up)
        tm_proxy_close(&r->proxy);
    tm_query_role_stop(r->query);
    tm_data_role_stop(r->data);
    tm_sealer_close(r->sealer); /* after the data role: it feeds the sealer */
    tm_coord_role_stop(r->coord);
}

static void roles_stop(struct roles *r)
{
    tm_roles_stop(&r->r);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
}

static int roles_start(struct tm_roles *r, const struct tm_serve_config *cfg)
{
    char coord_dir[4096], wal_dir[4096], seg_dir[4096], index_dir[4096];
    snprintf(coord_dir, sizeof coord_dir, "%s/coord", cfg->data_dir);
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", cfg->data_dir);
    snprintf(seg_dir, sizeof seg_dir, "%s/segments", cfg->data_dir);
    snprintf(index_dir, sizeof index_dir, "%s/indexes", cfg->data_dir);
    struct tm_sealer_config sc = {seg_dir, COORD_URL, cfg->shards, NULL};
    struct tm_data_role_config dc = {
        .dir = wal_dir,
        .url = DATA_URL,
        .coord_url = COORD_URL,
        .shards = cfg->shards,
        .seal_bytes = (uint64_t)(cfg->seal_mb > 0 ? cfg->seal_mb : 64) << 20,
        .seal_rows = (uint64_t)(cfg->seal_rows > 0 ? cfg->seal_rows : 0),
    };
    struct tm_query_role_config qc = {.url = QUERY_URL,
                                      .data_url = DATA_URL,
                                      .coord_url = COORD_URL,
                                      .shards = cfg->shards,
                                      .index_dir = index_dir};
    struct tm_proxy_config pc = {.coord_url = COORD_URL,
                                 .data_url = DATA_URL,
                                 .query_url = QUERY_URL,
                                 .shards = cfg->shards,
                                 .request_timeout_ms = 30000,
                                 .max_body = cfg->max_body};
    arm_test_crash_point();
    int rc = tm_coord_role_start(
        &r->coord, &(struct tm_coord_role_config){.dir = coord_dir, .url = COORD_URL});
    if (!rc)
        rc = tm_sealer_open(&r->sealer, &sc);
    if (!rc) {
        dc.sink = tm_sealer_sink(r->sealer);
        rc = tm_data_role_start(&r->data, &dc);
    }
    if (!rc)
        rc = tm_query_role_start(&r->query, &qc);
    if (!rc && !(rc = tm_proxy_init(&r->proxy, &pc)))
        r->proxy_up = true;
    struct tm_http_config hc = {.host = cfg->host,
                                .port = cfg->port,
                                .max_body = cfg->max_body,
                                .workers = cfg->http_workers,
                                .handler = tm_proxy_serve_http,
                                .inline_handler = tm_proxy_serve_inline,
                                .arg = &r->proxy};
    if (!rc)
        rc = tm_http_server_start(&r->http, &hc);
    return rc;
}

void tm_block_stop_signals(void)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    /* libuv (raft_uv_tcp, the HTTP server) writes without MSG_NOSIGNAL: a
     * peer gone mid-write must cost an error, not this process. */
    signal(SIGPIPE, SIG_IGN);
}

const char *tm_await_stop(void)
{
    sigset_t stop;
    int sig = 0;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigwait(&stop, &sig);
    return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

int tm_serve_main(const struct tm_serve_config *cfg)
{
    tm_block_stop_signals();
    struct roles r = {.lock_fd = tm_lock_data_dir(cfg->data_dir)};
    if (r.lock_fd < 0)
        return 1;
    int rc = roles_start(&r.r, cfg);
    if (rc) {
        TM_ERROR("serve", "start failed: %s", tm_strerror(rc));
        roles_stop(&r);
        return 1;
    }
    /* Tests and scripts read this line to learn the port (--port 0). */
    printf("tidemark: serving the Milvus REST API on http://%s:%d (data in %s)\n", cfg->host,
           tm_http_server_port(r.r.http), cfg->data_dir);
    fflush(stdout);
    TM_INFO("serve", "%s: shutting down", tm_await_stop());
    roles_stop(&r);
    TM_INFO("serve", "stopped");
    return 0;
}
