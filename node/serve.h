/* `tidemark serve`: the standalone server, every role in one process. */
#ifndef TM_SERVE_H
#define TM_SERVE_H

#include <stddef.h>

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

/* Runs until SIGINT or SIGTERM, then shuts down cleanly. Returns the exit code. */
int tm_serve_main(const struct tm_serve_config *cfg);

#endif
