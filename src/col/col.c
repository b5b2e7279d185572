/*
 * col.c - vectors, dictionaries, schemas and batches (see col.h).
 *
 * Invariants kept here:
 *   - a vector's values buffer, when present, holds at least width * len bytes
 *     (len + 1 offsets for strings, ceil(len / 8) bytes for booleans);
 *   - a validity bitmap, when present, covers len bits and null_count equals
 *     the number of zero bits among them;
 *   - bytes past len in a buffer are zero, so bitmaps can be or-ed into.
 */
#include "col/col.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

/* --- buffers --------------------------------------------------------------- */

static col_buf *buf_new(size_t cap_bytes, bool zero)
{
    if (cap_bytes > COL_BUF_MAX_BYTES)
        return NULL;
    col_buf *b = sl_malloc(sizeof *b);
    if (!b)
        return NULL;
    /* Eight spare bytes let word-at-a-time readers and writers touch the last
     * partial word without a bounds branch; they are always zero. */
    b->p = zero ? sl_calloc(1, cap_bytes + 8) : sl_malloc(cap_bytes + 8);
    if (!b->p) {
        sl_free(b);
        return NULL;
    }
    if (!zero)
        memset(b->p + cap_bytes, 0, 8);
    atomic_init(&b->refs, 1);
    b->len_bytes = 0;
    b->cap_bytes = cap_bytes;
    return b;
}

col_buf *col_buf_new(size_t cap_bytes)
{
    return buf_new(cap_bytes, true);
}

col_buf *col_buf_new_uninit(size_t cap_bytes)
{
    return buf_new(cap_bytes, false);
}

col_buf *col_buf_ref(col_buf *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void col_buf_unref(col_buf *b)
{
    if (!b)
        return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        sl_free(b->p);
        sl_free(b);
    }
}

int col_buf_reserve(col_buf *b, size_t need_bytes)
{
    if (need_bytes <= b->cap_bytes)
        return SL_OK;
    if (need_bytes > COL_BUF_MAX_BYTES)
        return SL_ETOOBIG;
    size_t ncap = b->cap_bytes < 64 ? 64 : b->cap_bytes;
    while (ncap < need_bytes)
        ncap *= 2;
    if (ncap > COL_BUF_MAX_BYTES)
        ncap = COL_BUF_MAX_BYTES;
    uint8_t *q = sl_realloc(b->p, ncap + 8);
    if (!q)
        return SL_ENOMEM;
    memset(q + b->cap_bytes, 0, ncap + 8 - b->cap_bytes);
    b->p = q;
    b->cap_bytes = ncap;
    return SL_OK;
}

/* --- types ----------------------------------------------------------------- */

const char *col_type_name(col_type t)
{
    switch (t) {
    case COL_BOOL:
        return "bool";
    case COL_INT32:
        return "int32";
    case COL_INT64:
        return "int64";
    case COL_UINT32:
        return "uint32";
    case COL_UINT64:
        return "uint64";
    case COL_DOUBLE:
        return "double";
    case COL_TS_NS:
        return "timestamp_ns";
    case COL_STRING:
        return "string";
    case COL_BINARY:
        return "binary";
    case COL_DICT:
        return "dict";
    case COL_FIXED16:
        return "fixed16";
    }
    return "?";
}

size_t col_type_width(col_type t, uint8_t key_bytes)
{
    switch (t) {
    case COL_BOOL:
        return 0;
    case COL_INT32:
    case COL_UINT32:
    case COL_STRING:
    case COL_BINARY:
        return 4;
    case COL_DICT:
        return key_bytes;
    case COL_FIXED16:
        return 16;
    default:
        return 8;
    }
}

bool col_type_is_valid(col_type t, uint8_t key_bytes)
{
    if (t < COL_BOOL || t > COL_FIXED16)
        return false;
    if (t == COL_DICT)
        return key_bytes == 1 || key_bytes == 2 || key_bytes == 4 || key_bytes == 8;
    return true;
}

/* --- vectors --------------------------------------------------------------- */

void col_vec_init(col_vec *v, col_type t, uint8_t key_bytes)
{
    memset(v, 0, sizeof *v);
    v->type = t;
    v->key_bytes = t == COL_DICT ? key_bytes : 0;
}

void col_vec_release(col_vec *v)
{
    col_buf_unref(v->validity);
    col_buf_unref(v->values);
    col_buf_unref(v->data);
    col_dict_unref(v->dict);
    col_vec_init(v, v->type, v->key_bytes);
}

size_t col_vec_values_bytes(const col_vec *v, int64_t nrows)
{
    if (v->type == COL_BOOL)
        return ((size_t)nrows + 7) / 8;
    size_t w = col_type_width(v->type, v->key_bytes);
    if (v->type == COL_STRING || v->type == COL_BINARY)
        return w * ((size_t)nrows + 1);
    return w * (size_t)nrows;
}

static int ensure_buf(col_buf **pb, size_t need)
{
    if (!*pb) {
        *pb = col_buf_new(need < 64 ? 64 : need);
        return *pb ? SL_OK : SL_ENOMEM;
    }
    return col_buf_reserve(*pb, need);
}

int col_vec_need_validity(col_vec *v, int64_t cap_rows)
{
    size_t need = ((size_t)cap_rows + 7) / 8;
    if (v->validity)
        return col_buf_reserve(v->validity, need);
    size_t cap = need < 64 ? 64 : need;
    if (v->values && v->values->cap_bytes > cap)
        cap = v->values->cap_bytes; /* grow in step with the values */
    v->validity = col_buf_new(cap);
    if (!v->validity)
        return SL_ENOMEM;
    /* Rows so far were all valid. */
    size_t full = (size_t)v->len / 8;
    memset(v->validity->p, 0xff, full);
    for (int64_t i = (int64_t)full * 8; i < v->len; i++)
        v->validity->p[i >> 3] |= (uint8_t)(1u << (i & 7));
    return SL_OK;
}

int col_vec_reserve(col_vec *v, int64_t nrows, size_t data_bytes)
{
    if (nrows < 0 || v->len > INT32_MAX - nrows)
        return SL_ETOOBIG;
    int64_t total = v->len + nrows;
    int rc = ensure_buf(&v->values, col_vec_values_bytes(v, total));
    if (rc)
        return rc;
    if (v->type == COL_STRING || v->type == COL_BINARY) {
        size_t used = v->data ? v->data->len_bytes : 0;
        if (data_bytes > COL_BUF_MAX_BYTES - used)
            return SL_ETOOBIG;
        rc = ensure_buf(&v->data, used + data_bytes);
        if (rc)
            return rc;
    }
    if (v->validity)
        rc = col_buf_reserve(v->validity, ((size_t)total + 7) / 8);
    return rc;
}

static inline void set_valid_bit(col_vec *v)
{
    if (v->validity)
        v->validity->p[v->len >> 3] |= (uint8_t)(1u << (v->len & 7));
}

/* Grows for one more row and marks it valid; the caller stores the value. */
static inline int grow_one(col_vec *v, size_t data_bytes)
{
    int rc = col_vec_reserve(v, 1, data_bytes);
    if (rc)
        return rc;
    set_valid_bit(v);
    return SL_OK;
}

static void finish_fixed(col_vec *v, const void *x, size_t w)
{
    memcpy(v->values->p + w * (size_t)v->len, x, w);
    v->len++;
    v->values->len_bytes = w * (size_t)v->len;
}

int col_vec_append_null(col_vec *v)
{
    int rc = col_vec_reserve(v, 1, 0);
    if (!rc)
        rc = col_vec_need_validity(v, v->len + 1);
    if (rc)
        return rc;
    /* The validity bit stays 0 and the value is stored as zero. */
    v->null_count++;
    if (v->type == COL_STRING || v->type == COL_BINARY) {
        int32_t *o = (int32_t *)(void *)v->values->p;
        o[v->len + 1] = o[v->len];
        v->len++;
        v->values->len_bytes = 4 * ((size_t)v->len + 1);
        return SL_OK;
    }
    if (v->type == COL_BOOL) {
        v->values->p[v->len >> 3] &= (uint8_t) ~(1u << (v->len & 7));
        v->len++;
        v->values->len_bytes = ((size_t)v->len + 7) / 8;
        return SL_OK;
    }
    static const uint8_t zero[16];
    finish_fixed(v, zero, col_type_width(v->type, v->key_bytes));
    return SL_OK;
}

int col_vec_append_bool(col_vec *v, bool x)
{
    int rc = grow_one(v, 0);
    if (rc)
        return rc;
    uint8_t bit = (uint8_t)(1u << (v->len & 7));
    if (x)
        v->values->p[v->len >> 3] |= bit;
    else
        v->values->p[v->len >> 3] &= (uint8_t)~bit;
    v->len++;
    v->values->len_bytes = ((size_t)v->len + 7) / 8;
    return SL_OK;
}

/* The common case first: no validity buffer yet and room for one more value (a
 * batch's rows are appended one at a time, so the reserve chain below is the
 * exception: the buffer doubles when it grows). */
#define APPEND_FIXED(fn, ctype)                                                                    \
    int fn(col_vec *v, ctype x)                                                                    \
    {                                                                                              \
        col_buf *b = v->values;                                                                    \
        size_t at = sizeof x * (size_t)v->len;                                                     \
        if (b && !v->validity && at + sizeof x <= b->cap_bytes && v->len < INT32_MAX) {            \
            memcpy(b->p + at, &x, sizeof x);                                                       \
            v->len++;                                                                              \
            b->len_bytes = at + sizeof x;                                                          \
            return SL_OK;                                                                          \
        }                                                                                          \
        int rc = grow_one(v, 0);                                                                   \
        if (rc)                                                                                    \
            return rc;                                                                             \
        finish_fixed(v, &x, sizeof x);                                                             \
        return SL_OK;                                                                              \
    }

APPEND_FIXED(col_vec_append_i32, int32_t)
APPEND_FIXED(col_vec_append_i64, int64_t)
APPEND_FIXED(col_vec_append_u32, uint32_t)
APPEND_FIXED(col_vec_append_u64, uint64_t)
APPEND_FIXED(col_vec_append_f64, double)

int col_vec_append_fixed16(col_vec *v, const void *p16)
{
    int rc = grow_one(v, 0);
    if (rc)
        return rc;
    finish_fixed(v, p16, 16);
    return SL_OK;
}

int col_vec_append_str(col_vec *v, const void *p, size_t n)
{
    int rc = grow_one(v, n);
    if (rc)
        return rc;
    int32_t *o = (int32_t *)(void *)v->values->p;
    if (n)
        memcpy(v->data->p + o[v->len], p, n);
    o[v->len + 1] = o[v->len] + (int32_t)n;
    v->len++;
    v->values->len_bytes = 4 * ((size_t)v->len + 1);
    v->data->len_bytes = (size_t)o[v->len];
    return SL_OK;
}

int col_vec_append_key(col_vec *v, uint64_t key)
{
    if (!v->dict || key >= (uint64_t)v->dict->strings.len)
        return SL_EINVAL;
    int rc = grow_one(v, 0);
    if (rc)
        return rc;
    uint8_t k1 = (uint8_t)key;
    uint16_t k2 = (uint16_t)key;
    uint32_t k4 = (uint32_t)key;
    switch (v->key_bytes) {
    case 1:
        finish_fixed(v, &k1, 1);
        break;
    case 2:
        finish_fixed(v, &k2, 2);
        break;
    case 4:
        finish_fixed(v, &k4, 4);
        break;
    default:
        finish_fixed(v, &key, 8);
        break;
    }
    return SL_OK;
}

void col_vec_set_dict(col_vec *v, col_dict *d)
{
    col_dict *old = v->dict;
    v->dict = col_dict_ref(d);
    col_dict_unref(old);
}

int col_vec_expand(const col_vec *v, col_vec *out)
{
    if (v->type != COL_DICT || !v->dict || out->type != COL_STRING)
        return SL_EINVAL;
    const col_vec *d = &v->dict->strings;
    /* Size the output exactly once: no growth inside the loop. */
    size_t bytes = 0;
    for (int64_t i = 0; i < v->len; i++) {
        if (!col_vec_is_valid(v, i))
            continue;
        uint64_t k = col_vec_key(v, i);
        if (k >= (uint64_t)d->len)
            return SL_ECORRUPT;
        const int32_t *o = col_vec_offsets(d);
        bytes += (size_t)(o[k + 1] - o[k]);
    }
    int rc = col_vec_reserve(out, v->len, bytes);
    if (rc)
        return rc;
    for (int64_t i = 0; i < v->len && !rc; i++) {
        if (!col_vec_is_valid(v, i)) {
            rc = col_vec_append_null(out);
            continue;
        }
        size_t n;
        const uint8_t *p = col_vec_str(v, i, &n);
        rc = col_vec_append_str(out, p, n);
    }
    return rc;
}

/* --- dictionaries ---------------------------------------------------------- */

col_dict *col_dict_new(void)
{
    col_dict *d = sl_malloc(sizeof *d);
    if (!d)
        return NULL;
    atomic_init(&d->refs, 1);
    col_vec_init(&d->strings, COL_STRING, 0);
    return d;
}

col_dict *col_dict_ref(col_dict *d)
{
    if (d)
        atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    return d;
}

void col_dict_unref(col_dict *d)
{
    if (!d)
        return;
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) {
        col_vec_release(&d->strings);
        sl_free(d);
    }
}

uint8_t col_dict_key_bytes(int64_t n)
{
    if (n <= 1 << 8)
        return 1;
    if (n <= 1 << 16)
        return 2;
    if (n <= (int64_t)1 << 32)
        return 4;
    return 8;
}

/* --- schemas and batches --------------------------------------------------- */

col_schema *col_schema_new(int ncols)
{
    if (ncols < 0)
        return NULL;
    col_schema *s = sl_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fields = sl_calloc((size_t)ncols + 1, sizeof *s->fields);
    if (!s->fields) {
        sl_free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->ncols = ncols;
    return s;
}

int col_schema_set(col_schema *s, int i, const char *name, col_type t, uint8_t key_bytes,
                   bool nullable)
{
    if (i < 0 || i >= s->ncols || !col_type_is_valid(t, key_bytes) || !name)
        return SL_EINVAL;
    char *z = sl_strdup(name);
    if (!z)
        return SL_ENOMEM;
    sl_free(s->fields[i].name);
    s->fields[i] = (col_field){z, t, t == COL_DICT ? key_bytes : 0, nullable};
    return SL_OK;
}

col_schema *col_schema_ref(col_schema *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void col_schema_unref(col_schema *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        for (int i = 0; i < s->ncols; i++)
            sl_free(s->fields[i].name);
        sl_free(s->fields);
        sl_free(s);
    }
}

int col_schema_find(const col_schema *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0)
            return i;
    return -1;
}

int col_batch_new(col_schema *s, col_batch **out)
{
    *out = NULL;
    col_batch *b = sl_calloc(1, sizeof *b);
    if (!b)
        return SL_ENOMEM;
    b->cols = sl_calloc((size_t)s->ncols + 1, sizeof *b->cols);
    if (!b->cols) {
        sl_free(b);
        return SL_ENOMEM;
    }
    b->schema = col_schema_ref(s);
    b->ncols = s->ncols;
    for (int i = 0; i < s->ncols; i++)
        col_vec_init(&b->cols[i], s->fields[i].type, s->fields[i].key_bytes);
    *out = b;
    return SL_OK;
}

void col_batch_release(col_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncols; i++)
        col_vec_release(&b->cols[i]);
    sl_free(b->cols);
    col_schema_unref(b->schema);
    sl_free(b);
}

int col_batch_validate(const col_batch *b)
{
    if (!b->schema || b->ncols != b->schema->ncols)
        return SL_EINVAL;
    for (int i = 0; i < b->ncols; i++) {
        const col_vec *v = &b->cols[i];
        const col_field *f = &b->schema->fields[i];
        bool type_ok = v->type == f->type || (f->type == COL_STRING && v->type == COL_DICT);
        if (!type_ok || v->len != b->nrows || (v->null_count && !f->nullable))
            return SL_EINVAL;
        if (v->type == COL_DICT && !v->dict)
            return SL_EINVAL;
    }
    return SL_OK;
}
