/* Merging one search's results from several query nodes, each answering
 * for its own shards (fanout.h). A key lives in one shard, so the parts
 * never hold the same row twice: merging is ranking by score. */
#ifndef TM_SEARCH_MERGE_H
#define TM_SEARCH_MERGE_H

#include "rest_search.h"

/* The parts' hits merged into out (initialised, empty), as one node
 * holding every shard would have answered: per query, the hits ranked by
 * score (ties: the earlier part first), then windowed by ss->plan's offset
 * and limit; with grouping, the first offset + limit groups to appear in
 * that ranking, each keeping its group_size best hits, the first offset
 * groups dropped. Each part must have searched with offset 0 and k =
 * offset + limit and, for grouping, returned the grouping field among its
 * rows. 0, TM_ENOMEM or TM_ECORRUPT. */
int tm_search_merge(const struct tm_sub_result *parts, int n, const struct tm_sub_search *ss,
                    struct tm_sub_result *out);

#endif
