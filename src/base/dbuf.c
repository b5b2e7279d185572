/*
 * dbuf.c - growable byte buffer with a hard maximum (see dbuf.h).
 */
#include "base/dbuf.h"

#include "base/alloc.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

void dbuf_init(dbuf *b, size_t max_bytes)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max_bytes;
}

void dbuf_free(dbuf *b)
{
    sl_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void dbuf_reset(dbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

/* Room for n more bytes: exact, or by doubling from the current capacity. */
static int reserve(dbuf *b, size_t n, int exact)
{
    if (n > b->max || b->len > b->max - n)
        return SL_ETOOBIG;
    size_t need = b->len + n;
    if (need <= b->cap && b->p)
        return SL_OK;
    size_t ncap = exact ? need : b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max)
        ncap = b->max;
    uint8_t *q = sl_realloc(b->p, ncap + 1);
    if (!q)
        return SL_ENOMEM;
    b->p = q;
    b->cap = ncap;
    b->p[b->len] = 0;
    return SL_OK;
}

int dbuf_reserve(dbuf *b, size_t n)
{
    return reserve(b, n, 0);
}

int dbuf_reserve_exact(dbuf *b, size_t n)
{
    return reserve(b, n, 1);
}

int dbuf_append_grow(dbuf *b, const void *data, size_t n)
{
    int rc = dbuf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return SL_OK;
}

int dbuf_append_str(dbuf *b, const char *s)
{
    return dbuf_append(b, s, strlen(s));
}

int dbuf_vprintf(dbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SL_EINVAL;
    int rc = dbuf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SL_OK;
}

int dbuf_printf(dbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = dbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

uint8_t *dbuf_take(dbuf *b, size_t *len_out)
{
    uint8_t *p = b->p;
    if (len_out)
        *len_out = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
