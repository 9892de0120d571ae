/* Collection schemas between JSON and struct tm_collection: the create
 * request (quick-setup and full-schema modes, milvus-rest-v2.md §4.1.1) and
 * the describe reply (§4.1.2). */
#ifndef TM_SCHEMA_JSON_H
#define TM_SCHEMA_JSON_H

#include "ddl.h"
#include "proxy.h"

/* Builds the new collection of a create request into d->coll (validated,
 * indexes included). 0 or TM_ESTATUS with r->st filled. */
int tm_schema_from_create(struct tm_req *r, struct tm_ddl *d);
/* Parses one index description ({fieldName, indexName, metricType,
 * indexType, params}) against the schema. 0 or TM_ESTATUS. */
int tm_index_from_json(struct tm_req *r, const json_t *j, const struct tm_schema *s,
                       struct tm_index *out);
/* Writes the describe payload of a collection. */
void tm_collection_describe(struct tm_jw *w, const struct tm_collection *c, const char *db);

#endif
