/* Copying a sealed range's segment files from a shard's leader (the data
 * role's "files" and "file" calls) into a local directory: for a query node
 * that does not share the data node's file system, and for a data replica
 * that installs the leader's snapshot, which names ranges it never wrote.
 *
 * Each file is written to a temporary name, fsynced and renamed, so a crash
 * leaves whole files or none. A file already there at the listed size is
 * kept unless `again`; its content is checked anyway when the range is
 * read, since every binlog file carries checksums. */
#ifndef TM_SEAL_FETCH_H
#define TM_SEAL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_mp.h"
#include "tm_rpc.h"

/* Calls the shard leader's "sealed" (naming reader, 0 for none): *rep to
 * free, *ranges at its "ranges" list of *n entries (each read with
 * tm_sealed_range_read), *upto its "upto" (0 when absent). 0, the call's
 * error, or TM_ECORRUPT (nothing to free). */
int tm_sealed_list(struct tm_rpc_client *c, int shard, uint64_t reader, struct tm_rpc_reply *rep,
                   struct tm_mpr *ranges, uint32_t *n, uint64_t *upto);

/* One entry of a "sealed" answer's "ranges" list at b (wal/data_role.h:
 * [collection, seal timestamp, the leader's directory]), the directory
 * copied into dir: 0 or TM_ECORRUPT. */
int tm_sealed_range_read(struct tm_mpr *b, int64_t *coll, uint64_t *index, char *dir, size_t cap);

/* Lists the files of remote_dir (a directory of the leader's, as its
 * "sealed" call names it) whose names start with prefix, and copies those
 * missing into local_dir (created). 0, an RPC error, TM_ECORRUPT or -errno. */
int tm_seal_fetch(struct tm_rpc_client *c, int shard, const char *remote_dir, const char *prefix,
                  const char *local_dir, bool again);

#endif
