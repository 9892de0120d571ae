/* Helpers shared by the REST handlers (rest_*.c, schema_json.c). Each that
 * returns int returns 0 or TM_ESTATUS with r->st filled. */
#ifndef TM_REST_INT_H
#define TM_REST_INT_H

#include "batch.h"
#include "ddl.h"
#include "render.h"
#include "fanout.h"
#include "proxy.h"
#include "wal/entry.h"

/* Reads collectionName and fetches the collection. */
int tm_rest_target(struct tm_req *r, struct tm_collection *c);
/* partitionName (default _default) to a partition id; -1 when all_ok and
 * the request names none. */
int tm_rest_partition_id(struct tm_req *r, const struct tm_collection *c, bool all_ok, int64_t *id);
/* The rows of an insert or upsert: full rows, or merge-mode partial rows.
 * For autoID, keys are generated (an upsert's sent keys go to old_pks). */
int tm_rest_request_rows(struct tm_req *r, const struct tm_collection *c, bool upsert, bool partial,
                         struct tm_batch *rows, struct tm_batch *old_pks);
/* The pk column of rows as a one-column batch; refuses duplicate keys (1100). */
int tm_rest_keys_of_rows(struct tm_req *r, const struct tm_collection *c,
                         const struct tm_batch *rows, struct tm_batch *pks);
/* Writes rows and/or pks to the WAL, split by shard. part[0] is the entry's
 * partition, part[1] the default partition (merges). */
int tm_rest_write_all(struct tm_req *r, enum tm_entry_kind kind, const struct tm_collection *c,
                      const int64_t part[2], const struct tm_batch *rows,
                      const struct tm_batch *pks);
/* A seal entry on every shard (collections/flush), or with compact a
 * compaction of c (collections/compact); returns once each is applied, that
 * is, once the shard's growing data is in durable segments. */
int tm_rest_seal(struct tm_req *r, const struct tm_collection *c, bool compact);
/* Writes the pk column of b as a JSON array into the payload. */
void tm_rest_write_ids(struct tm_req *r, const struct tm_schema *s, const struct tm_batch *b);
/* Reads `fieldOps` into r->ops; a non-REPLACE op sets *partial (it implies
 * merge mode). 1100 for an unknown op, an op on a non-Array field, the
 * primary key, or a field named twice (rest_merge.c). */
int tm_rest_field_ops(struct tm_req *r, const struct tm_collection *c, bool *partial);
/* The WAL shard of row `row` of a primary-key column (pk hash % shards). */
int tm_rest_shard_of(const struct tm_col *pkc, uint32_t row, int nshards);

/* Reads a `properties` object (values stringified) or a `propertyKeys`
 * list into d (rest_db.c). */
int tm_rest_props(struct tm_req *r, const char *key, struct tm_ddl *d);
int tm_rest_prop_keys(struct tm_req *r, const char *key, struct tm_ddl *d);
/* Writes key/value pairs as [{"key": .., "value": ..}] (rest_db.c). */
void tm_rest_write_kvs(struct tm_jw *w, const struct tm_kv *kv, size_t n);
/* Writes the string list a coordinator call returns as the payload (rest_db.c). */
int tm_rest_list(struct tm_req *r, const char *call, const char *db);
/* What a read (get, query, search) asks of the query role (rest_read.c). */
struct tm_read_plan {
    struct tm_out_sel sel;
    bool count;
    int level;
    uint64_t gts; /* Session: the client's last write timestamp */
    int64_t parts[1024];
    uint32_t nparts;
    bool all_parts;
    uint64_t offset, limit;
    const char *filter; /* the filter text (borrowed from the request), NULL for none */
    char *params;       /* exprParams as JSON text (owned; free()), NULL for none */
};

/* Reading the parts of a plan from the request (rest_read.c). */
int tm_rest_parse_level(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p);
int tm_rest_parse_parts(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p);
/* outputFields; star_default: no outputFields means every field (query). */
int tm_rest_parse_outputs(struct tm_req *r, const struct tm_collection *c, struct tm_read_plan *p,
                          bool star_default);
/* `filter` and `exprParams`, checked by parsing them against the schema. */
int tm_rest_parse_filter(struct tm_req *r, const struct tm_collection *c, const json_t *filter,
                         const json_t *params, struct tm_read_plan *p);
/* 101 when the collection is not loaded. */
int tm_rest_check_loaded(struct tm_req *r, const struct tm_collection *c);
/* Writes the plan as a query role request: a map of 11 + extra keys, the
 * caller appending the extra ones. */
void tm_rest_plan_encode(struct tm_mpw *w, const struct tm_collection *c,
                         const struct tm_read_plan *p, const struct tm_batch *pks,
                         uint64_t timeout_ms, uint32_t extra);

/* The keys of a filter that only names primary keys (`id in [..]`,
 * `id == x`), to read by key instead of by a scan: a new JSON array (the
 * caller decrefs), or NULL for any other filter (rest_read.c). */
json_t *tm_rest_pk_terms(const struct tm_collection *c, const char *filter);
/* The primary keys of the rows `filter` (with the request's exprParams)
 * matches now, at Strong consistency, in partition part (-1: every
 * partition), as a one-column batch (rest_read.c). */
int tm_rest_filter_keys(struct tm_req *r, const struct tm_collection *c, const char *filter,
                        int64_t part, struct tm_batch *pks);

/* Sends a "read" (its body written by encode) to query nodes serving every
 * shard and gathers their rows into out (freshly initialised); from
 * several nodes, the rows [offset, offset + limit) of their concatenation
 * (limit 0: no bound). */
int tm_rest_read_gather(struct tm_req *r, tm_fanout_encode_fn encode, void *arg, uint64_t offset,
                        uint64_t limit, struct tm_batch *out);
/* Reads the rows a plan selects (of the keys in pks, when given) into out
 * (freshly initialised). */
int tm_rest_read_batch(struct tm_req *r, const struct tm_collection *c,
                       const struct tm_read_plan *p, const struct tm_batch *pks,
                       struct tm_batch *out);

/* Exact count of visible rows, at Strong consistency (rest_read.c). */
int tm_rest_count(struct tm_req *r, const struct tm_collection *c, const int64_t *parts,
                  uint32_t nparts, uint64_t *n);
/* get and query (rest_read.c); 1 for an unknown action. */
int tm_rest_read(struct tm_req *r, const char *action);

/* search and hybrid_search (rest_search.c); 1 for an unknown action. */
int tm_rest_search(struct tm_req *r, const char *action);

/* A merge-mode upsert (rest_merge.c). */
int tm_rest_merge(struct tm_req *r, const struct tm_collection *c);

#endif
