/*
 * dbuf.h - growable byte buffer with a hard maximum.
 *
 * Every buffer fed by the network or a file is a dbuf with a cap, so that no
 * input can grow memory without bound: an append that would pass the cap fails
 * with SL_ETOOBIG and leaves the buffer as it was.  The content is always
 * followed by one NUL byte (not counted in len), so text can be used as a C
 * string without a copy.
 */
#ifndef SL_BASE_DBUF_H
#define SL_BASE_DBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct dbuf {
    uint8_t *p;
    size_t len;
    size_t cap;      /* bytes allocated (excluding the NUL slot) */
    size_t max;      /* hard maximum for len */
} dbuf;

/* Initialise an empty buffer that may hold at most max_bytes. No allocation. */
void dbuf_init(dbuf *b, size_t max_bytes);
void dbuf_free(dbuf *b);
/* Keep the memory, forget the content. */
void dbuf_reset(dbuf *b);
/* Make room for n more bytes; SL_ETOOBIG past max, SL_ENOMEM if malloc fails. */
int dbuf_reserve(dbuf *b, size_t n);
/* The same, but room for exactly n more bytes (no doubling): for a known size. */
int dbuf_reserve_exact(dbuf *b, size_t n);
/* Appends with room to spare are inline (the hot path of every encoder); the rest grow
 * the buffer in dbuf_append_grow. */
int dbuf_append_grow(dbuf *b, const void *data, size_t n);
static inline int dbuf_append(dbuf *b, const void *data, size_t n)
{
    if (b->p && n <= b->cap - b->len) {
        if (n)
            memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = 0;
        return 0;
    }
    return dbuf_append_grow(b, data, n);
}
static inline int dbuf_append_byte(dbuf *b, uint8_t c)
{
    if (b->p && b->len < b->cap) {
        b->p[b->len++] = c;
        b->p[b->len] = 0;
        return 0;
    }
    return dbuf_append_grow(b, &c, 1);
}
int dbuf_append_str(dbuf *b, const char *s);
int dbuf_printf(dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dbuf_vprintf(dbuf *b, const char *fmt, va_list ap);
/* Hand the bytes to the caller (who frees them with sl_free); buffer becomes empty. */
uint8_t *dbuf_take(dbuf *b, size_t *len_out);

#endif
