/*
 * fuzz_parquet.c - libFuzzer target for the Parquet footer and reader.
 *
 * The input is a whole file.  The target parses the footer, reads the
 * statistics and key/value accessors, then scans every column with small
 * caps (1 MiB pages, 4096-row batches) and stops after 64 batches: a footer
 * may claim billions of rows that RLE-compressed null levels really encode,
 * and walking them all would only measure patience.  Any crash, overread,
 * leak or undefined behaviour is a bug; errors are the expected outcome.
 */
#include "parquet/parquet.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errmsg e = {0};
    pq_footer *f;
    int64_t rows = 0;
    if (pq_footer_parse(data, size, &f, &e) != 0)
        goto out;
    for (int g = 0; g < pq_footer_num_row_groups(f) && g < 16; g++)
        for (int c = 0; c < pq_footer_schema(f)->ncols && c < 16; c++) {
            int64_t lo, hi;
            (void)pq_footer_stats_i64(f, g, c, &lo, &hi);
            (void)pq_footer_null_count(f, g, c, &lo);
        }
    (void)pq_footer_kv(f, "streamlake.view");
    pq_reader *r;
    if (pq_reader_open(data, size, f, &r, &e) == 0) {
        pq_scan_opts o = {.batch_rows = 4096, .max_page_bytes = 1 << 20};
        pq_scan *s;
        if (pq_scan_open(r, &o, &s, &e) == 0) {
            for (int i = 0; i < 64; i++) {
                col_batch *b;
                if (pq_scan_next(s, &b, &e) != 0 || !b)
                    break;
                (void)col_batch_validate(b);
                rows += b->nrows;
                col_batch_release(b);
            }
            pq_scan_close(s);
        }
        pq_reader_close(r);
    }
    pq_footer_unref(f);
out:
    /* SL_FUZZ_VERBOSE=1 shows what each input came to, to see the corpus reach deep. */
    if (getenv("SL_FUZZ_VERBOSE"))
        fprintf(stderr, "%zu bytes: %lld rows; %s\n", size, (long long)rows,
                e.text[0] ? e.text : "ok");
    return 0;
}
