#ifndef TM_HEAP_H
#define TM_HEAP_H
/* The process's malloc settings (heap.c says why). */
#include <stdbool.h>

/* Call first thing in main. For a server (serve, node) it may execute the
 * binary again with GLIBC_TUNABLES set, which does not return. */
void tm_heap_setup(char **argv, bool server);

#endif
