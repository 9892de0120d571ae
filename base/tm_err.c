/* Error names and Milvus statuses. */
#include "tm_err.h"

#include <stdio.h>
#include <string.h>

const char *tm_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case TM_ENOMEM:
        return "out of memory";
    case TM_ECORRUPT:
        return "corrupt data";
    case TM_ETRUNC:
        return "truncated data";
    case TM_EVERSION:
        return "unsupported format version";
    case TM_ENOTFOUND:
        return "not found";
    case TM_EEXIST:
        return "already exists";
    case TM_EINVAL:
        return "invalid argument";
    case TM_ETIMEDOUT:
        return "timed out";
    case TM_ESHUTDOWN:
        return "shutting down";
    case TM_ENOTLEADER:
        return "not the leader";
    case TM_EIO:
        return "I/O error";
    case TM_ETOOBIG:
        return "too big";
    case TM_ESTATUS:
        return "request failed";
    case TM_EAGAIN:
        return "not yet";
    case TM_ECANCELED:
        return "cancelled";
    default:
        break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}

int tm_status_set(struct tm_status *st, int code, const char *fmt, ...)
{
    va_list ap;
    st->code = code;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return TM_ESTATUS;
}

void tm_status_ok(struct tm_status *st)
{
    st->code = 0;
    st->msg[0] = '\0';
}
