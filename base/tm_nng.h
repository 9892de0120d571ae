/* What base's nng wrappers (tm_rpc.c, tm_stream.c) share. */
#ifndef TM_NNG_H
#define TM_NNG_H

/* An nng error as a TM_E* code (0 stays 0). */
int tm_nng_err(int rv);

#endif
