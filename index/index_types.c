/* Index type and metric names (milvus-rest-v2.md §4.5). */
#include "index_types.h"

#include <string.h>

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bool tm_index_type_valid(const char *type, enum tm_dtype t)
{
    static const char *const dense[] = {"AUTOINDEX",  "FLAT",    "IVF_FLAT", "IVF_SQ8",
                                        "IVF_PQ",     "HNSW",    "DISKANN",  "SCANN",
                                        "IVF_RABITQ", "HNSW_SQ", "HNSW_PQ",  NULL};
    static const char *const binary[] = {"AUTOINDEX", "BIN_FLAT", "BIN_IVF_FLAT", NULL};
    static const char *const sparse[] = {"AUTOINDEX", "SPARSE_INVERTED_INDEX", "SPARSE_WAND", NULL};
    static const char *const scalar[] = {"AUTOINDEX", "INVERTED", "STL_SORT",
                                         "BITMAP",    "Trie",     NULL};
    if (t == TM_T_BINARY_VECTOR)
        return in_list(type, binary);
    if (t == TM_T_SPARSE_VECTOR)
        return in_list(type, sparse);
    if (tm_dtype_is_vector(t))
        return in_list(type, dense);
    return in_list(type, scalar);
}

bool tm_index_metric_valid(const char *metric, enum tm_dtype t)
{
    static const char *const dense[] = {"L2", "IP", "COSINE", NULL};
    static const char *const binary[] = {"HAMMING", "JACCARD", "SUBSTRUCTURE", "SUPERSTRUCTURE",
                                         NULL};
    static const char *const sparse[] = {"IP", "BM25", NULL};
    if (t == TM_T_BINARY_VECTOR)
        return in_list(metric, binary);
    if (t == TM_T_SPARSE_VECTOR)
        return in_list(metric, sparse);
    return in_list(metric, dense);
}

const char *tm_index_default_metric(enum tm_dtype t)
{
    if (t == TM_T_BINARY_VECTOR)
        return "HAMMING";
    if (t == TM_T_SPARSE_VECTOR)
        return "IP";
    return "COSINE";
}
