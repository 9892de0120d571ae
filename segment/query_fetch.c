/* A sealed range's segment files copied from the shard leader into the
 * query node's own directory (seal_fetch.h), for a query node that does not
 * share the data node's file system. Files land under
 * <fetch_dir>/shard-<s>/c<coll>/; a file already there at the listed size
 * is kept (a restart fetches nothing again), and a range that fails to read
 * is fetched again once, from scratch. */
#include "query_role_int.h"
#include "seal_fetch.h"
#include "seal_io.h"
#include "tm_log.h"

#include <inttypes.h>
#include <stdio.h>

int tm_qfetch_read(struct tm_query_role *q, int shard, int64_t coll, uint64_t index,
                   const char *remote_dir, struct tm_seal_owned *o, char *err)
{
    if (!q->fetch_dir[0])
        return tm_seal_read(remote_dir, index, o, err);
    char local[4096], prefix[TM_SEAL_PREFIX_LEN + 1];
    snprintf(local, sizeof local, "%s/shard-%d/c%" PRId64, q->fetch_dir, shard, coll);
    tm_seal_range_prefix(prefix, index);
    int rc = tm_seal_fetch(q->shards[shard].data, shard, remote_dir, prefix, local, false);
    if (rc)
        return rc;
    rc = tm_seal_read(local, index, o, err);
    if (rc && rc != TM_ENOTFOUND) {
        TM_WARN("query", "range %s in %s did not read (%s): fetching it again", prefix, local, err);
        tm_seal_owned_free(o);
        rc = tm_seal_fetch(q->shards[shard].data, shard, remote_dir, prefix, local, true);
        if (!rc)
            rc = tm_seal_read(local, index, o, err);
    }
    return rc;
}
