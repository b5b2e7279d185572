/*
 * craft.h - builds small Parquet files by hand, page by page, for tests and
 * for the fuzz corpus: encodings our writer does not produce (DELTA_*,
 * BYTE_STREAM_SPLIT, data page v2) and deliberately broken files.
 *
 * A crafted file has one row group of one column: "PAR1", the pages given,
 * then a footer built from the fields of craft_spec.  Sizes in page headers
 * are taken from the bodies unless a spec field overrides them, so a test
 * can make a header lie on purpose.
 */
#ifndef SL_TEST_CRAFT_H
#define SL_TEST_CRAFT_H

#include "base/arena.h"
#include "base/bytes.h"
#include "base/dbuf.h"
#include "parquet/meta.h"

typedef struct craft_page {
    int type; /* PQ_PAGE_DATA, PQ_PAGE_DICT or PQ_PAGE_DATA_V2 */
    int encoding;
    int32_t num_values;
    int32_t num_nulls; /* v2 */
    int32_t def_len;   /* v2: bytes of levels at the start of body */
    int32_t raw_size;  /* uncompressed size to declare; 0 = body length */
    int32_t comp_size; /* compressed size to declare; 0 = body length */
    const uint8_t *body;
    size_t len;
} craft_page;

typedef struct craft_spec {
    int phys;
    int repetition; /* PQ_REQUIRED or PQ_OPTIONAL */
    pq_logical lt;
    int codec;
    int64_t num_rows;
    craft_page pages[4];
    int npages;
} craft_spec;

static inline void craft_header(dbuf *out, const craft_page *p)
{
    pq_page_header h = {.type = p->type,
                        .uncompressed_size = p->raw_size ? p->raw_size : (int32_t)p->len,
                        .compressed_size = p->comp_size ? p->comp_size : (int32_t)p->len,
                        .num_values = p->num_values,
                        .encoding = p->encoding,
                        .def_encoding = PQ_ENC_RLE,
                        .rep_encoding = PQ_ENC_RLE,
                        .num_nulls = p->num_nulls,
                        .num_rows = p->num_values,
                        .def_len = p->def_len,
                        .rep_len = 0,
                        .is_compressed = false};
    pq_page_header_encode(&h, out);
}

/* Appends the whole file to out. */
static inline int craft_file(const craft_spec *s, dbuf *out)
{
    static const char *path[] = {"c"};
    dbuf_append(out, "PAR1", 4);
    int64_t start = (int64_t)out->len, dict_off = -1, data_off = -1;
    for (int i = 0; i < s->npages; i++) {
        const craft_page *p = &s->pages[i];
        if (p->type == PQ_PAGE_DICT && dict_off < 0)
            dict_off = (int64_t)out->len;
        else if (p->type != PQ_PAGE_DICT && data_off < 0)
            data_off = (int64_t)out->len;
        craft_header(out, p);
        dbuf_append(out, p->body, p->len);
    }
    if (data_off < 0)
        data_off = start;
    pq_schema_el schema[2] = {
        {-1, -1, -1, "schema", 1, -1, -1, -1, -1, {0}},
        {s->phys, -1, s->repetition, "c", -1, -1, -1, -1, -1, s->lt},
    };
    pq_chunk chunk = {.file_offset = start,
                      .has_meta = true,
                      .type = s->phys,
                      .encodings = 1u << PQ_ENC_PLAIN,
                      .path = path,
                      .npath = 1,
                      .codec = s->codec,
                      .num_values = s->num_rows,
                      .total_uncompressed = (int64_t)out->len - start,
                      .total_compressed = (int64_t)out->len - start,
                      .data_page_offset = data_off,
                      .dictionary_page_offset = dict_off,
                      .index_page_offset = -1};
    pq_row_group rg = {&chunk, 1, (int64_t)out->len - start, s->num_rows};
    pq_file_meta m = {.version = 2,
                      .schema = schema,
                      .nschema = 2,
                      .num_rows = s->num_rows,
                      .rgs = &rg,
                      .nrgs = 1,
                      .created_by = "craft"};
    size_t before = out->len;
    int rc = pq_meta_encode(&m, out);
    uint8_t tail[8];
    st_u32le(tail, (uint32_t)(out->len - before));
    memcpy(tail + 4, "PAR1", 4);
    dbuf_append(out, tail, 8);
    return rc;
}

#endif
