/*
 * meta.h - Parquet metadata structures (parquet.thrift) and their Thrift
 * compact encoding and decoding.
 *
 * Only the fields streamlake uses are kept; every other field is skipped on
 * decode, whatever its type (forward compatibility).  Field numbers are the
 * ones of apache/parquet-format's parquet.thrift and are written next to each
 * member.  Integers that a file may leave out are -1 when absent.
 *
 * Decoded strings and byte ranges (statistics) point into memory the caller
 * keeps alive (the footer object copies the footer bytes for that reason);
 * arrays are allocated from a caller's arena with a cap, so a hostile footer
 * costs at most that cap.
 */
#ifndef SL_PARQUET_META_H
#define SL_PARQUET_META_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>

enum pq_phys {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

enum pq_encoding {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

enum pq_codec_id {
    PQ_CODEC_UNCOMPRESSED = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7,
};

enum pq_page_type { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };
enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

/* ConvertedType values we read or write. */
enum {
    PQ_CT_UTF8 = 0,
    PQ_CT_ENUM = 4,
    PQ_CT_DATE = 6,
    PQ_CT_TIMESTAMP_MILLIS = 9,
    PQ_CT_TIMESTAMP_MICROS = 10,
    PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_16 = 12,
    PQ_CT_UINT_32 = 13,
    PQ_CT_UINT_64 = 14,
    PQ_CT_INT_8 = 15,
    PQ_CT_INT_16 = 16,
    PQ_CT_INT_32 = 17,
    PQ_CT_INT_64 = 18,
    PQ_CT_JSON = 19,
};

/* LogicalType union member ids. */
enum {
    PQ_LT_NONE = 0,
    PQ_LT_STRING = 1,
    PQ_LT_MAP = 2,
    PQ_LT_LIST = 3,
    PQ_LT_ENUM = 4,
    PQ_LT_DECIMAL = 5,
    PQ_LT_DATE = 6,
    PQ_LT_TIME = 7,
    PQ_LT_TIMESTAMP = 8,
    PQ_LT_INTEGER = 10,
    PQ_LT_UNKNOWN = 11,
    PQ_LT_JSON = 12,
    PQ_LT_BSON = 13,
    PQ_LT_UUID = 14,
};
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

/* Statistics (struct Statistics). */
enum {
    PQ_ST_MAX = 1 << 0,       /* 1: max (legacy, signed byte order for strings) */
    PQ_ST_MIN = 1 << 1,       /* 2: min (legacy) */
    PQ_ST_NULLS = 1 << 2,     /* 3: null_count */
    PQ_ST_DISTINCT = 1 << 3,  /* 4: distinct_count */
    PQ_ST_MAX_VALUE = 1 << 4, /* 5: max_value */
    PQ_ST_MIN_VALUE = 1 << 5, /* 6: min_value */
};

typedef struct pq_bytes {
    const uint8_t *p;
    size_t n;
} pq_bytes;

typedef struct pq_stats {
    unsigned has; /* PQ_ST_* bits */
    pq_bytes max, min, max_value, min_value;
    int64_t null_count, distinct_count;
} pq_stats;

typedef struct pq_logical {
    uint8_t kind;             /* PQ_LT_* */
    uint8_t unit;             /* TIMESTAMP/TIME: PQ_UNIT_* */
    bool utc;                 /* TIMESTAMP/TIME: isAdjustedToUTC */
    int8_t bit_width;         /* INTEGER */
    bool is_signed;           /* INTEGER */
    int32_t scale, precision; /* DECIMAL */
} pq_logical;

/* SchemaElement. */
typedef struct pq_schema_el {
    int32_t type;         /* 1 (-1 for groups) */
    int32_t type_length;  /* 2 */
    int32_t repetition;   /* 3 */
    const char *name;     /* 4, required */
    int32_t num_children; /* 5 */
    int32_t converted;    /* 6 */
    int32_t scale;        /* 7 */
    int32_t precision;    /* 8 */
    int32_t field_id;     /* 9 */
    pq_logical lt;        /* 10 */
} pq_schema_el;

typedef struct pq_kv {
    const char *key;   /* 1 */
    const char *value; /* 2, NULL when absent */
    size_t value_len;
} pq_kv;

/* ColumnChunk with its ColumnMetaData flattened in. */
typedef struct pq_chunk {
    const char *file_path; /* CC 1: data in another file (unsupported) */
    int64_t file_offset;   /* CC 2 */
    bool has_meta;         /* CC 3 present */
    int32_t type;          /* CMD 1 */
    uint32_t encodings;    /* CMD 2, bit (1 << encoding) */
    const char **path;     /* CMD 3 */
    int npath;
    int32_t codec;                  /* CMD 4 */
    int64_t num_values;             /* CMD 5 */
    int64_t total_uncompressed;     /* CMD 6 */
    int64_t total_compressed;       /* CMD 7 */
    int64_t data_page_offset;       /* CMD 9 */
    int64_t index_page_offset;      /* CMD 10 */
    int64_t dictionary_page_offset; /* CMD 11 */
    pq_stats stats;                 /* CMD 12 */
    bool encrypted;                 /* CC 8 or 9 present */
} pq_chunk;

typedef struct pq_row_group {
    pq_chunk *cols; /* 1 */
    int ncols;
    int64_t total_byte_size; /* 2 */
    int64_t num_rows;        /* 3 */
} pq_row_group;

typedef struct pq_file_meta {
    int32_t version;      /* 1 */
    pq_schema_el *schema; /* 2 */
    int nschema;
    int64_t num_rows;  /* 3 */
    pq_row_group *rgs; /* 4 */
    int nrgs;
    pq_kv *kv; /* 5 */
    int nkv;
    const char *created_by;  /* 6 */
    bool type_defined_order; /* 7: column_orders all TYPE_ORDER (written by us) */
    bool encrypted;          /* 8 encryption_algorithm present */
} pq_file_meta;

/* PageHeader with its optional sub-headers. */
typedef struct pq_page_header {
    int32_t type;              /* 1 */
    int32_t uncompressed_size; /* 2 */
    int32_t compressed_size;   /* 3 */
    bool has_crc;              /* 4: present */
    uint32_t crc;              /* 4: CRC-32 (zlib's) of the page bytes after the header */
    /* DataPageHeader (5) or DataPageHeaderV2 (8) */
    int32_t num_values;
    int32_t encoding;
    int32_t def_encoding; /* v1 only */
    int32_t rep_encoding; /* v1 only */
    int32_t num_nulls;    /* v2 */
    int32_t num_rows;     /* v2 */
    int32_t def_len;      /* v2 */
    int32_t rep_len;      /* v2 */
    bool is_compressed;   /* v2, default true */
    bool has_sub;         /* the sub-header matching type was present */
} pq_page_header;

/* Decodes FileMetaData from p[0..n).  base_off is p's offset in the file (for
 * messages).  Arrays come from a (bounded by its cap). */
int pq_meta_decode(const uint8_t *p, size_t n, size_t base_off, arena *a, pq_file_meta *out,
                   errmsg *e);
/* Encodes FileMetaData; stats and strings are written as given. */
int pq_meta_encode(const pq_file_meta *m, dbuf *out);

/* Decodes one page header at p (n bytes available); *hdr_len gets its size. */
int pq_page_header_decode(const uint8_t *p, size_t n, size_t base_off, pq_page_header *out,
                          size_t *hdr_len, errmsg *e);
/* Encodes a page header: DataPageHeader, DictionaryPageHeader or
 * DataPageHeaderV2 according to h->type. */
int pq_page_header_encode(const pq_page_header *h, dbuf *out);

const char *pq_encoding_name(int enc);
const char *pq_codec_name(int codec);
const char *pq_phys_name(int type);

#endif
