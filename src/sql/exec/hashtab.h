/*
 * hashtab.h - a hash table from composite keys to dense ids: the core of
 * GROUP BY, DISTINCT, set operations and hash joins.
 *
 * Keys are tuples of SQL values taken a batch at a time from key vectors.
 * Each distinct key gets the next id (0, 1, 2, ...) and is stored once, in
 * columnar form (one col_vec per key column, the id being the row), so a
 * GROUP BY's output keys are those vectors as they are.  Lookups are
 * vectorized: hashes of a whole batch first (a dictionary column hashes each
 * of its entries once), then probing; a single dictionary key column looks up
 * each entry once and keeps the ids while the same dictionary comes back; open addressing with linear probing
 * over slots holding (id + 1), rehashing at 50% load.
 *
 * NULL keys: by default NULL equals NULL (GROUP BY, DISTINCT, set operations);
 * a join asks for rows with a NULL key to be left out (their id is
 * UINT32_MAX).  Floats compare as PostgreSQL does: -0 = 0 and NaN = NaN.
 *
 * Memory (slots, hashes, stored keys) is reported in mem_bytes for work_mem.
 */
#ifndef SL_SQL_EXEC_HASHTAB_H
#define SL_SQL_EXEC_HASHTAB_H

#include "sql/exec/vec.h"

#define SQL_HT_NONE UINT32_MAX

/* The ids of a dictionary's entries, kept while the same dictionary comes back
 * (a reference is held): its rows then cost one load each. */
typedef struct sql_ht_dcache {
    col_dict *dict;
    uint32_t *map;
    int64_t n;
} sql_ht_dcache;

void sql_ht_dcache_free(sql_ht_dcache *c);

typedef struct sql_ht {
    int nkeys;
    sql_type *types;
    col_vec *keys;       /* stored keys, one vector per key column; row = id */
    uint64_t *hashes;    /* per id */
    uint32_t *slots;     /* id + 1, 0 empty */
    size_t nslots;
    uint32_t n;          /* ids given */
    size_t hashes_cap;
    int64_t mem_bytes;
    bool nulls_match;    /* NULL keys equal each other (else: never found, never added) */
    sql_ht_dcache dc;    /* one dictionary key column, when adding (the table's writer) */
} sql_ht;

int sql_ht_init(sql_ht *h, int nkeys, const sql_type *types, bool nulls_match);
void sql_ht_free(sql_ht *h);

/* Hashes of n rows of the key vectors (dense or constant) into out. */
int sql_ht_hash(const sql_ht *h, const sql_vec *keys, int64_t n, uint64_t *out);

/*
 * For each of n rows: its key's id, adding new keys when add is set (else
 * SQL_HT_NONE for keys not present).  Rows with a NULL key get SQL_HT_NONE
 * when nulls do not match.  hashes may be NULL (computed here).
 */
int sql_ht_lookup(sql_ht *h, const sql_vec *keys, int64_t n, const uint64_t *hashes, bool add,
                  uint32_t *ids);
/*
 * Lookup without adding, with the caller's dictionary cache: the table is only
 * read, so several threads may probe it at once, a cache each (hash joins on
 * the scan's workers).
 */
int sql_ht_probe(const sql_ht *h, sql_ht_dcache *c, const sql_vec *keys, int64_t n,
                 uint32_t *ids);

#endif
