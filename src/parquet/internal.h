/*
 * internal.h - what footer.c and reader.c share: the footer object and the
 * per-column facts derived from the schema.
 */
#ifndef SL_PARQUET_INTERNAL_H
#define SL_PARQUET_INTERNAL_H

#include "base/arena.h"
#include "parquet/parquet.h"

#include <stdatomic.h>

/* One leaf column of a flat schema, as the reader sees it. */
typedef struct pq_leaf {
    const char *name;
    int phys;       /* PQ_INT32 ... */
    col_type type;  /* output type */
    int max_def;    /* 0 (REQUIRED) or 1 (OPTIONAL) */
    int64_t ts_mul; /* timestamps: factor from the file's unit to ns; else 1 */
    bool is_unsigned;
    const char *unsupported; /* why this column cannot be read, or NULL */
} pq_leaf;

/*
 * Every failure of a public reader call carries a reason: a code returned by a
 * helper that had none to give (an allocation sized by a corrupt footer, say)
 * gets "parquet: <what>: <the code's description>" rather than an empty message.
 */
static inline int pq_msg(errmsg *e, int rc, const char *what)
{
    if (rc && e && !e->text[0])
        errmsg_set(e, rc, "parquet: %s: %s", what, sl_strerror(rc));
    return rc;
}

struct pq_footer {
    _Atomic int64_t refs;
    uint8_t *bytes;  /* copy of the footer bytes: decoded strings point here */
    size_t file_len; /* size of the file the footer came from */
    size_t data_end; /* first byte of the footer: column chunks end before it */
    arena a;
    pq_file_meta m;
    pq_leaf *leaves;
    int nleaves;
    col_schema *schema;
    /* per (row group, leaf): every page of the chunk passed its CRC once already; the
     * bytes a footer serves are immutable (a footer is reused only for its own file),
     * so later scans skip the check */
    _Atomic uint8_t *crc_done;
};

struct pq_reader {
    const uint8_t *bytes;
    size_t len;
    pq_footer *f;
    void *map; /* mmap of an opened file, or NULL */
    size_t map_len;
};

#endif
