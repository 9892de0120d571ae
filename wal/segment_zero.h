#ifndef TM_SEGMENT_ZERO_H
#define TM_SEGMENT_ZERO_H
/* Raft log segments written with zeros when libraft prepares them
 * (segment_zero.c says why). */
#include <stdbool.h>

/* True when libraft's posix_fallocate calls reach segment_zero.c's
 * definition: the executable exports it ahead of the C library's. */
bool tm_segment_zero_bound(void);

#endif
