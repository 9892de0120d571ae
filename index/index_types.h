/* Index types and metrics: which names the catalog accepts, and for which
 * field types. The FLAT family is served by exact search; IVF types are
 * accepted and recorded now and built per sealed segment later. */
#ifndef TM_INDEX_TYPES_H
#define TM_INDEX_TYPES_H

#include <stdbool.h>

#include "schema.h"

/* True for an index type name Milvus accepts on a field of type t
 * (case-sensitive, as Milvus). */
bool tm_index_type_valid(const char *type, enum tm_dtype t);
/* True for a metric name valid on a vector field of type t. */
bool tm_index_metric_valid(const char *metric, enum tm_dtype t);
/* The metric used when none is given: COSINE for dense float vectors,
 * HAMMING for binary, IP for sparse. */
const char *tm_index_default_metric(enum tm_dtype t);

#endif
