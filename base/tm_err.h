/* Errors shared by every module.
 *
 * Internal functions return int: 0 on success, a negative errno for the OS,
 * or one of the TM_E* codes below (far below any errno) for our own failures.
 * tm_strerror() names both.
 *
 * User-facing failures carry a Milvus status instead: a numeric Milvus code
 * (see ../shared/api/milvus-rest-v2.md §2) and a message, in struct tm_status.
 */
#ifndef TM_ERR_H
#define TM_ERR_H

#include <stdarg.h>

enum {
    TM_ENOMEM = -10001,     /* allocation failed */
    TM_ECORRUPT = -10002,   /* bytes from disk or the wire are malformed */
    TM_ETRUNC = -10003,     /* input ends before a declared length */
    TM_EVERSION = -10004,   /* unknown format version */
    TM_ENOTFOUND = -10005,  /* no such object */
    TM_EEXIST = -10006,     /* object already exists */
    TM_EINVAL = -10007,     /* invalid argument (our caller's bug or bad input) */
    TM_ETIMEDOUT = -10008,  /* a wait ran out of time */
    TM_ESHUTDOWN = -10009,  /* the component is stopping */
    TM_ENOTLEADER = -10010, /* this replica cannot accept writes */
    TM_EIO = -10011,        /* I/O failed below us (Raft, disk) */
    TM_ETOOBIG = -10012,    /* a size limit was exceeded */
    TM_ESTATUS = -10013,    /* a Milvus status was filled in; see struct tm_status */
    TM_EAGAIN = -10014,     /* not now: retried when what it waits for arrives */
    TM_ECANCELED = -10015,  /* called off by its caller (an index build on a drop) */
};

/* Milvus status codes used by the REST API (milvus-rest-v2.md §2.1). */
enum {
    TM_MV_OK = 0,
    TM_MV_UNAVAILABLE = 2, /* merr.ErrServiceUnavailable */
    TM_MV_INTERNAL = 5,
    TM_MV_COLL_NOT_FOUND = 100,
    TM_MV_COLL_NOT_LOADED = 101,
    TM_MV_PART_NOT_FOUND = 200,
    TM_MV_PART_NOT_LOADED = 201,
    TM_MV_INDEX_NOT_FOUND = 700,
    TM_MV_INDEX_DUP = 702,
    TM_MV_DB_NOT_FOUND = 800,
    TM_MV_INVALID_PARAM = 1100,
    TM_MV_FIELD_NOT_FOUND = 1700,
    TM_MV_BAD_JSON = 1801,
    TM_MV_MISSING_PARAM = 1802,
    TM_MV_BAD_INSERT = 1804,
    TM_MV_BAD_PK = 1806,
    TM_MV_TIMEOUT = 10001,
    /* Between roles only, never in a REST answer: "ask another replica".
     * A multi-address tm_rpc client moves on to the next address. */
    TM_MV_NOT_LEADER = 10010,
    TM_MV_UNEXPECTED = 65535,
};

#define TM_STATUS_MSG 512

/* A user-facing outcome: Milvus code (0 = success) and message. */
struct tm_status {
    int code;
    char msg[TM_STATUS_MSG];
};

/* Names an internal error code or a negative errno. Never returns NULL. */
const char *tm_strerror(int rc);

/* Fills st with code and a printf-formatted message; returns TM_ESTATUS so
 * callers can write `return tm_status_set(st, ...)`. */
int tm_status_set(struct tm_status *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears st to success. */
void tm_status_ok(struct tm_status *st);

#endif
