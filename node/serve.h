/* `tidemark serve`: the standalone server, every role in one process. */
#ifndef TM_SERVE_H
#define TM_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy.h"

/* The roles one process runs (any may be absent), stopped in the order
 * that lets each finish with the ones it calls still up. */
struct tm_roles {
    struct tm_coord_role *coord;
    struct tm_sealer *sealer;
    struct tm_data_role *data;
    struct tm_query_role *query;
    struct tm_proxy proxy;
    bool proxy_up;
    struct tm_http_server *http;
};

void tm_roles_stop(struct tm_roles *r);

struct tm_serve_config {
    const char *host;
    int port;
    const char *data_dir;
    int shards;
    size_t max_body;
    int http_workers;
    int seal_mb;   /* a shard seals after this many MiB of entries */
    int seal_rows; /* ... or after this many rows (0: the data role's default) */
};

/* Blocks SIGINT and SIGTERM in this thread and in every thread it starts
 * later, so that only tm_await_stop receives them, and ignores SIGPIPE. */
void tm_block_stop_signals(void);
/* Waits for SIGINT or SIGTERM; its name. */
const char *tm_await_stop(void);
/* Locks dir (created if missing) for this process: a second server on one
 * directory would corrupt its logs. The lock's fd, or -1 (logged). */
int tm_lock_data_dir(const char *dir);

/* Runs until SIGINT or SIGTERM, then shuts down cleanly. Returns the exit code. */
int tm_serve_main(const struct tm_serve_config *cfg);

#endif
