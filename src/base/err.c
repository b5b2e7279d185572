/*
 * err.c - descriptions of error codes and the request-owned error message.
 */
#include "base/err.h"

#include <stdio.h>
#include <string.h>

const char *sl_strerror(int code)
{
    switch (code) {
    case SL_OK: return "ok";
    case SL_ENOMEM: return "out of memory or over a size cap";
    case SL_EINVAL: return "invalid value";
    case SL_ETRUNC: return "truncated input";
    case SL_EVERSION: return "unsupported format version";
    case SL_ETOOBIG: return "input too large";
    case SL_ECORRUPT: return "corrupt input";
    case SL_EIO: return "i/o error";
    case SL_ENOTFOUND: return "not found";
    case SL_EEXIST: return "already exists with different content";
    case SL_EMISMATCH: return "identifiers do not match";
    case SL_EAGAIN: return "missing dependency, retry later";
    case SL_ECANCELED: return "cancelled";
    case SL_EUNSUPPORTED: return "unsupported";
    case SL_EINTERNAL: return "internal error";
    case SL_ENET: return "network error";
    case SL_ESTATE: return "invalid state";
    case SL_EBUSY: return "busy";
    default: return "unknown error";
    }
}

int errmsg_setv(errmsg *e, int code, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->text, sizeof e->text, fmt, ap);
    }
    return code;
}

int errmsg_set(errmsg *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errmsg_setv(e, code, fmt, ap);
    va_end(ap);
    return code;
}

void errmsg_clear(errmsg *e)
{
    e->code = 0;
    e->text[0] = 0;
}

const char *errmsg_str(const errmsg *e)
{
    if (e->text[0])
        return e->text;
    return sl_strerror(e->code);
}
