/*
 * footer.c - parse a Parquet file's footer into an immutable, shareable object.
 *
 * File tail: ... FileMetaData | u32 LE footer length | "PAR1".  The footer
 * bytes are copied so the object outlives the file bytes (the lake caches
 * footers apart from file contents).  Decoding allocates from an arena whose
 * cap grows with the footer size, so a hostile footer cannot ask for more.
 *
 * After decoding, the schema is checked to be flat (a root with leaves that
 * are REQUIRED or OPTIONAL), and every row group is checked to have one
 * column chunk per leaf, of the leaf's type, with as many values as rows.
 * Leaves whose type we cannot read are kept (their statistics are still
 * useful) and marked unsupported; scanning them is refused with the reason.
 */
#include "parquet/internal.h"

#include "base/alloc.h"
#include "base/bytes.h"

#include <string.h>

static void leaf_type(pq_leaf *l, const pq_schema_el *s)
{
    const pq_logical *lt = &s->lt;
    l->ts_mul = 1;
    l->type = 0;
    bool ts_lt = lt->kind == PQ_LT_TIMESTAMP;
    bool ts_ct = s->converted == PQ_CT_TIMESTAMP_MILLIS || s->converted == PQ_CT_TIMESTAMP_MICROS;
    bool uint_lt = lt->kind == PQ_LT_INTEGER && !lt->is_signed;
    bool uint_ct = s->converted >= PQ_CT_UINT_8 && s->converted <= PQ_CT_UINT_64;
    bool other_lt = lt->kind != PQ_LT_NONE && lt->kind != PQ_LT_INTEGER && !ts_lt &&
                    lt->kind != PQ_LT_STRING && lt->kind != PQ_LT_ENUM && lt->kind != PQ_LT_JSON &&
                    lt->kind != PQ_LT_DATE && lt->kind != PQ_LT_UNKNOWN;
    if (other_lt || s->converted == 5 /* DECIMAL */ || s->converted == 7 || s->converted == 8 ||
        s->converted == 21 /* TIME_*, INTERVAL */) {
        l->unsupported = "logical type not supported";
        return;
    }
    switch (s->type) {
    case PQ_BOOLEAN:
        l->type = COL_BOOL;
        break;
    case PQ_INT32:
        l->is_unsigned = uint_lt || uint_ct;
        /* 8- and 16-bit unsigned values fit int32; only UINT_32 needs uint32. */
        l->type = (l->is_unsigned && (lt->bit_width == 32 || s->converted == PQ_CT_UINT_32))
                      ? COL_UINT32
                      : COL_INT32;
        break;
    case PQ_INT64:
        l->is_unsigned = uint_lt || uint_ct;
        l->type = l->is_unsigned ? COL_UINT64 : COL_INT64;
        if (ts_lt || ts_ct) {
            int unit = ts_lt                                    ? lt->unit
                       : s->converted == PQ_CT_TIMESTAMP_MILLIS ? PQ_UNIT_MILLIS
                                                                : PQ_UNIT_MICROS;
            l->type = COL_TS_NS;
            l->ts_mul = unit == PQ_UNIT_MILLIS ? 1000000 : unit == PQ_UNIT_MICROS ? 1000 : 1;
            if (unit < PQ_UNIT_MILLIS || unit > PQ_UNIT_NANOS)
                l->unsupported = "timestamp without a known unit";
        }
        break;
    case PQ_FLOAT: /* widened exactly to double */
    case PQ_DOUBLE:
        l->type = COL_DOUBLE;
        break;
    case PQ_BYTE_ARRAY:
        l->type = lt->kind == PQ_LT_STRING || lt->kind == PQ_LT_ENUM || lt->kind == PQ_LT_JSON ||
                          s->converted == PQ_CT_UTF8 || s->converted == PQ_CT_ENUM ||
                          s->converted == PQ_CT_JSON
                      ? COL_STRING
                      : COL_BINARY;
        break;
    case PQ_INT96:
        l->unsupported = "INT96 columns are not supported";
        break;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        l->unsupported = "FIXED_LEN_BYTE_ARRAY is not supported";
        break;
    default:
        l->unsupported = "unknown physical type";
        break;
    }
    if (!l->type)
        l->type = COL_BINARY; /* placeholder type for the schema; never read */
}

static int check_schema(pq_footer *f, errmsg *e)
{
    const pq_file_meta *m = &f->m;
    const pq_schema_el *root = &m->schema[0];
    if (root->num_children != m->nschema - 1 || m->nschema < 2)
        return errmsg_set(e, SL_EUNSUPPORTED,
                          "parquet: schema is not flat (root has %d children, "
                          "%d elements) or has no column",
                          root->num_children, m->nschema);
    f->nleaves = m->nschema - 1;
    f->leaves = arena_zalloc(&f->a, (size_t)f->nleaves * sizeof *f->leaves);
    f->schema = col_schema_new(f->nleaves);
    if (!f->leaves || !f->schema)
        return SL_ENOMEM;
    for (int i = 0; i < f->nleaves; i++) {
        const pq_schema_el *s = &m->schema[i + 1];
        pq_leaf *l = &f->leaves[i];
        l->name = s->name;
        l->phys = s->type;
        if (s->num_children > 0 || s->type < 0)
            return errmsg_set(e, SL_EUNSUPPORTED, "parquet: nested column \"%s\" is not supported",
                              s->name);
        if (s->repetition == PQ_REPEATED)
            return errmsg_set(e, SL_EUNSUPPORTED,
                              "parquet: repeated column \"%s\" is not supported", s->name);
        l->max_def = s->repetition == PQ_REQUIRED ? 0 : 1;
        leaf_type(l, s);
        int rc = col_schema_set(f->schema, i, s->name, l->type, 0, l->max_def > 0);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static int check_row_groups(pq_footer *f, errmsg *e)
{
    const pq_file_meta *m = &f->m;
    int64_t total = 0;
    for (int g = 0; g < m->nrgs; g++) {
        const pq_row_group *rg = &m->rgs[g];
        if (rg->ncols != f->nleaves)
            return errmsg_set(e, SL_ECORRUPT,
                              "parquet: row group %d has %d column chunks for %d "
                              "columns",
                              g, rg->ncols, f->nleaves);
        for (int c = 0; c < rg->ncols; c++) {
            const pq_chunk *ch = &rg->cols[c];
            if (!ch->has_meta || ch->encrypted || ch->file_path)
                return errmsg_set(e, SL_EUNSUPPORTED,
                                  "parquet: row group %d column %d has no "
                                  "inline metadata (encrypted or in another file)",
                                  g, c);
            if (ch->type != f->leaves[c].phys || ch->num_values != rg->num_rows)
                return errmsg_set(e, SL_ECORRUPT,
                                  "parquet: row group %d column \"%s\" has type %d "
                                  "and %lld values; schema says type %d, %lld rows",
                                  g, f->leaves[c].name, ch->type, (long long)ch->num_values,
                                  f->leaves[c].phys, (long long)rg->num_rows);
        }
        if (rg->num_rows > INT64_MAX - total)
            return errmsg_set(e, SL_ECORRUPT, "parquet: row counts overflow");
        total += rg->num_rows;
    }
    if (total != m->num_rows)
        return errmsg_set(e, SL_ECORRUPT, "parquet: row groups hold %lld rows, footer says %lld",
                          (long long)total, (long long)m->num_rows);
    return SL_OK;
}

static int pq_footer_parse_impl(const uint8_t *file, size_t len, pq_footer **out, errmsg *e)
{
    *out = NULL;
    if (len < 12)
        return errmsg_set(e, SL_ETRUNC, "parquet: %zu bytes is too short for a file (at least 12)",
                          len);
    if (memcmp(file, "PAR1", 4) != 0)
        return errmsg_set(e, SL_EINVAL, "parquet: bad magic at byte 0 (not a Parquet file)");
    if (memcmp(file + len - 4, "PARE", 4) == 0)
        return errmsg_set(e, SL_EUNSUPPORTED, "parquet: encrypted footers are not supported");
    if (memcmp(file + len - 4, "PAR1", 4) != 0)
        return errmsg_set(e, SL_ETRUNC, "parquet: no magic at byte %zu (file truncated?)", len - 4);
    size_t flen = ld_u32le(file + len - 8);
    if (flen > len - 12)
        return errmsg_set(e, SL_ECORRUPT,
                          "parquet: footer length %zu at byte %zu exceeds the "
                          "file",
                          flen, len - 8);
    if (flen > PQ_FOOTER_MAX_BYTES)
        return errmsg_set(e, SL_ETOOBIG, "parquet: footer of %zu bytes is over the %zu cap", flen,
                          PQ_FOOTER_MAX_BYTES);
    pq_footer *f = sl_calloc(1, sizeof *f);
    if (!f)
        return SL_ENOMEM;
    atomic_init(&f->refs, 1);
    f->file_len = len;
    f->data_end = len - 8 - flen;
    arena_init(&f->a, 64 * 1024, flen * 32 + (1 << 20));
    f->bytes = sl_malloc(flen);
    int rc = f->bytes ? SL_OK : SL_ENOMEM;
    if (!rc) {
        memcpy(f->bytes, file + f->data_end, flen);
        rc = pq_meta_decode(f->bytes, flen, f->data_end, &f->a, &f->m, e);
    }
    if (!rc && f->m.encrypted)
        rc = errmsg_set(e, SL_EUNSUPPORTED, "parquet: encrypted files are not supported");
    if (!rc)
        rc = check_schema(f, e);
    if (!rc)
        rc = check_row_groups(f, e);
    if (!rc && !(f->crc_done = arena_zalloc(&f->a, (size_t)f->m.nrgs * (size_t)f->nleaves + 1)))
        rc = SL_ENOMEM;
    if (rc) {
        if (rc == SL_ENOMEM && e && !e->text[0])
            errmsg_set(e, rc, "parquet: footer needs more memory than its cap");
        pq_footer_unref(f);
        return rc;
    }
    *out = f;
    return SL_OK;
}

int pq_footer_parse(const uint8_t *file, size_t len, pq_footer **out, errmsg *e)
{
    return pq_msg(e, pq_footer_parse_impl(file, len, out, e), "reading the footer");
}

pq_footer *pq_footer_ref(pq_footer *f)
{
    if (f)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void pq_footer_unref(pq_footer *f)
{
    if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    col_schema_unref(f->schema);
    arena_destroy(&f->a);
    sl_free(f->bytes);
    sl_free(f);
}

const pq_file_meta *pq_footer_meta(const pq_footer *f)
{
    return &f->m;
}

col_schema *pq_footer_schema(const pq_footer *f)
{
    return f->schema;
}

int64_t pq_footer_num_rows(const pq_footer *f)
{
    return f->m.num_rows;
}

int pq_footer_num_row_groups(const pq_footer *f)
{
    return f->m.nrgs;
}

int64_t pq_footer_row_group_rows(const pq_footer *f, int rg)
{
    return rg >= 0 && rg < f->m.nrgs ? f->m.rgs[rg].num_rows : -1;
}

const char *pq_footer_kv(const pq_footer *f, const char *key)
{
    for (int i = 0; i < f->m.nkv; i++)
        if (strcmp(f->m.kv[i].key, key) == 0)
            return f->m.kv[i].value;
    return NULL;
}

static bool stat_int(const pq_bytes *b, int phys, bool is_unsigned, int64_t *v)
{
    if (phys == PQ_INT64 && b->n == 8) {
        *v = (int64_t)ld_u64le(b->p);
        return true;
    }
    if (phys == PQ_INT32 && b->n == 4) {
        uint32_t u = ld_u32le(b->p);
        *v = is_unsigned ? (int64_t)u : (int64_t)(int32_t)u;
        return true;
    }
    return false;
}

static int64_t sat_mul(int64_t v, int64_t m)
{
    if (m == 1)
        return v;
    if (v > INT64_MAX / m)
        return INT64_MAX;
    if (v < INT64_MIN / m)
        return INT64_MIN;
    return v * m;
}

int pq_footer_stats_i64(const pq_footer *f, int rg, int col, int64_t *min, int64_t *max)
{
    if (rg < 0 || rg >= f->m.nrgs || col < 0 || col >= f->nleaves)
        return SL_EINVAL;
    const pq_leaf *l = &f->leaves[col];
    const pq_stats *s = &f->m.rgs[rg].cols[col].stats;
    bool ok;
    if ((s->has & PQ_ST_MIN_VALUE) && (s->has & PQ_ST_MAX_VALUE))
        ok = stat_int(&s->min_value, l->phys, l->is_unsigned, min) &&
             stat_int(&s->max_value, l->phys, l->is_unsigned, max);
    else if ((s->has & PQ_ST_MIN) && (s->has & PQ_ST_MAX) && !l->is_unsigned)
        /* Legacy min/max were compared as signed: right for signed ints only. */
        ok = stat_int(&s->min, l->phys, false, min) && stat_int(&s->max, l->phys, false, max);
    else
        ok = false;
    if (!ok || (l->phys == PQ_INT64 && l->is_unsigned && (*min < 0 || *max < 0)))
        return SL_ENOTFOUND;
    *min = sat_mul(*min, l->ts_mul);
    *max = sat_mul(*max, l->ts_mul);
    return SL_OK;
}

int pq_footer_null_count(const pq_footer *f, int rg, int col, int64_t *nulls)
{
    if (rg < 0 || rg >= f->m.nrgs || col < 0 || col >= f->nleaves)
        return SL_EINVAL;
    const pq_stats *s = &f->m.rgs[rg].cols[col].stats;
    if (!(s->has & PQ_ST_NULLS))
        return SL_ENOTFOUND;
    *nulls = s->null_count;
    return SL_OK;
}
