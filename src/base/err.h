/*
 * err.h - the one table of error codes used across streamlake.
 *
 * Every function that can fail returns an int: 0 on success, or one of the
 * negative codes below.  Results travel through out-parameters.  When a caller
 * needs to know *why* (which field, which offset), the callee also fills an
 * errmsg owned by the caller; the code says what kind of failure it was, the
 * message says where.  Codes are stable: tools and tests compare against them.
 */
#ifndef SL_BASE_ERR_H
#define SL_BASE_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum {
    SL_OK = 0,
    SL_ENOMEM = -1,      /* an allocation failed or a cap was reached */
    SL_EINVAL = -2,      /* an argument or a field has a value that is not allowed */
    SL_ETRUNC = -3,      /* input ended before a complete item */
    SL_EVERSION = -4,    /* a format version this build does not read */
    SL_ETOOBIG = -5,     /* input larger than its documented cap */
    SL_ECORRUPT = -6,    /* input is inconsistent with itself (checksum, counts) */
    SL_EIO = -7,         /* an operating-system I/O call failed */
    SL_ENOTFOUND = -8,   /* the named thing does not exist */
    SL_EEXIST = -9,      /* the named thing exists with different content */
    SL_EMISMATCH = -10,  /* ids disagree (path vs body, body vs payload) */
    SL_EAGAIN = -11,     /* a dependency is missing for now; retrying may succeed */
    SL_ECANCELED = -12,  /* the operation was cancelled */
    SL_EUNSUPPORTED = -13, /* a valid feature that this build does not implement */
    SL_EINTERNAL = -14,  /* a bug: an invariant did not hold */
    SL_ENET = -15,       /* a network peer could not be reached or misbehaved */
    SL_ESTATE = -16,     /* the call is not valid in the object's current state */
    SL_EBUSY = -17,      /* a resource budget is exhausted for now; retry later */
};

/* Short, stable English description of an error code ("truncated input"). */
const char *sl_strerror(int code);

/*
 * A message explaining an error, owned by whoever asked for it (usually one
 * request).  Fixed size so that filling it never allocates; long messages are
 * cut, never overflowed.
 */
typedef struct errmsg {
    int code;
    char text[256];
} errmsg;

/* Fill *e (if not NULL) with code and a printf-style message; returns code. */
int errmsg_set(errmsg *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int errmsg_setv(errmsg *e, int code, const char *fmt, va_list ap);
/* Reset to "no error". */
void errmsg_clear(errmsg *e);
/* The message, or the code's description when no message was set. */
const char *errmsg_str(const errmsg *e);

#endif
