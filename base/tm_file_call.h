/* Files served over calls, a chunk at a time: the data role's segment files
 * ("file") and the query role's index files ("index_file"). An answer is
 * {"size": the file's bytes, "data": bin of at most a chunk from the
 * requested offset}; the copier asks from offset 0 until it has them all. */
#ifndef TM_FILE_CALL_H
#define TM_FILE_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tm_mp.h"
#include "tm_rpc.h"

/* Answers with path's chunk at offset (up to `chunk` bytes); st set when the
 * file cannot be read (messages name it `name`). */
void tm_file_chunk_answer(const char *path, const char *name, uint64_t offset, size_t chunk,
                          struct tm_mpw *reply, struct tm_status *st);

/* Sends the request for the chunk at offset: 0 with *rep filled, or the
 * call's error (st set). */
typedef int (*tm_file_chunk_fn)(void *arg, uint64_t offset, struct tm_rpc_reply *rep,
                                struct tm_status *st);

/* Copies a served file to local: written to local.part, fsynced when
 * `durable`, renamed once whole, so a crash leaves the whole file or none.
 * `expect` (0: any) is the size the file must have. Answers that disagree
 * on the size, overrun it or stop short are TM_ECORRUPT. 0, the call's
 * error (st set), TM_ECORRUPT or -errno. */
int tm_file_copy(tm_file_chunk_fn call, void *arg, const char *local, uint64_t expect, bool durable,
                 struct tm_status *st);

#endif
