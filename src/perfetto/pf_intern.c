/*
 * pf_intern.c - bounded interning tables (see pf_intern.h).
 *
 * Each table is an array of entries (the iid is the index + 1) plus an
 * open-addressing slot array with linear probing, kept at most half full.
 * There is no deletion: a generation only grows until the caps force a reset,
 * and a reset clears everything at once, so probing never meets tombstones.
 * Growth doubles the arrays; with the caps that is a bounded number of
 * allocations per generation and none per event once the working set of
 * sites is known.
 */
#include "perfetto/pf_intern.h"

#include "base/alloc.h"
#include "base/hash.h"

#include <string.h>

#define MIN_SLOTS 64u

uint32_t pf_str_clamp(const char *s, size_t len, uint32_t max)
{
    if (len <= max)
        return (uint32_t)len;
    size_t n = max;
    /* Step back over continuation bytes (10xxxxxx) so no character is split. */
    while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
        n--;
    return (uint32_t)n;
}

size_t pf_utf8_valid_len(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t k;
        uint32_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
            hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
        } else {
            return i;
        }
        if (len - i <= k || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
        i += k + 1;
    }
    return len;
}

static void strtab_free(pf_strtab *t)
{
    sl_free(t->ents);
    sl_free(t->slots);
    memset(t, 0, sizeof *t);
}

static void strtab_clear(pf_strtab *t)
{
    t->n = 0;
    if (t->slots)
        memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
}

void pf_intern_init(pf_intern *in, size_t max_bytes, uint32_t max_entries)
{
    memset(in, 0, sizeof *in);
    if (!max_bytes)
        max_bytes = PF_INTERN_MAX_BYTES_DEFAULT;
    if (!max_entries)
        max_entries = PF_INTERN_MAX_ENTRIES_DEFAULT;
    if (max_bytes < 4 * PF_STR_MAX_BYTES)
        max_bytes = 4 * PF_STR_MAX_BYTES;
    if (max_entries < 16)
        max_entries = 16;
    in->max_bytes = max_bytes;
    in->max_entries = max_entries;
    dbuf_init(&in->pool, max_bytes);
    in->generation = 1;
}

void pf_intern_free(pf_intern *in)
{
    strtab_free(&in->names);
    strtab_free(&in->cats);
    strtab_free(&in->locs);
    sl_free(in->sites);
    sl_free(in->site_slots);
    dbuf_free(&in->pool);
    memset(in, 0, sizeof *in);
}

void pf_intern_reset(pf_intern *in)
{
    strtab_clear(&in->names);
    strtab_clear(&in->cats);
    strtab_clear(&in->locs);
    in->nsites = 0;
    if (in->site_slots)
        memset(in->site_slots, 0, ((size_t)in->site_mask + 1) * sizeof *in->site_slots);
    dbuf_reset(&in->pool);
    in->generation++;
}

static uint32_t total_entries(const pf_intern *in)
{
    return in->names.n + in->cats.n + in->locs.n + in->nsites;
}

/* Returns the iid of (p, len, line) in t, or 0. */
static uint32_t strtab_find(const pf_intern *in, const pf_strtab *t, uint64_t h, const char *p,
                            uint32_t len, uint32_t line)
{
    if (!t->slots)
        return 0;
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t s = t->slots[i];
        if (!s)
            return 0;
        const pf_intern_ent *e = &t->ents[s - 1];
        if (e->hash == h && e->len == len && e->line == line &&
            (len == 0 || memcmp(in->pool.p + e->off, p, len) == 0))
            return s;
    }
}

/*
 * Rebuilds a slot array of nslots entries.  Both entry types (pf_intern_ent,
 * pf_site_ent) begin with their 64-bit hash, which is all probing needs.
 */
static int rehash(uint32_t **slots, uint32_t *mask, uint32_t nslots, const void *ents,
                  size_t ent_size, uint32_t n)
{
    uint32_t *ns = sl_calloc(nslots, sizeof *ns);
    if (!ns)
        return SL_ENOMEM;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t h;
        memcpy(&h, (const uint8_t *)ents + (size_t)k * ent_size, sizeof h);
        uint32_t i = (uint32_t)h & (nslots - 1);
        while (ns[i])
            i = (i + 1) & (nslots - 1);
        ns[i] = k + 1;
    }
    sl_free(*slots);
    *slots = ns;
    *mask = nslots - 1;
    return SL_OK;
}

/* Makes room for one more entry in an (entries, slots) pair. */
static int grow(void **ents, uint32_t *cap, size_t ent_size, uint32_t n, uint32_t **slots,
                uint32_t *mask)
{
    if (n + 1 > *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 32;
        void *ne = sl_realloc(*ents, (size_t)ncap * ent_size);
        if (!ne)
            return SL_ENOMEM;
        *ents = ne;
        *cap = ncap;
    }
    uint32_t nslots = *slots ? *mask + 1 : 0;
    if ((uint64_t)(n + 1) * 2 > nslots) {
        uint32_t want = nslots ? nslots * 2 : MIN_SLOTS;
        return rehash(slots, mask, want, *ents, ent_size, n);
    }
    return SL_OK;
}

static int strtab_add(pf_intern *in, pf_strtab *t, uint64_t h, const char *p, uint32_t len,
                      uint32_t line, uint32_t *iid_out)
{
    int rc = grow((void **)&t->ents, &t->cap, sizeof *t->ents, t->n, &t->slots, &t->mask);
    if (rc)
        return rc;
    size_t off = in->pool.len;
    if ((rc = dbuf_append(&in->pool, p, len)) != 0)
        return rc;
    t->ents[t->n] = (pf_intern_ent){h, (uint32_t)off, len, line};
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slots[i])
        i = (i + 1) & t->mask;
    t->slots[i] = ++t->n;
    *iid_out = t->n;
    return SL_OK;
}

const char *pf_intern_bytes(const pf_intern *in, const pf_strtab *t, uint32_t iid,
                            uint32_t *len_out, uint32_t *line_out)
{
    if (iid == 0 || iid > t->n)
        return NULL;
    const pf_intern_ent *e = &t->ents[iid - 1];
    *len_out = e->len;
    if (line_out)
        *line_out = e->line;
    return (const char *)in->pool.p + e->off;
}

/* The site's fields after clamping, with each one's hash. */
typedef struct site_norm {
    uint32_t name_len, cat_len, file_len;
    uint64_t hname, hcat, hloc;
    uint64_t key;
} site_norm;

static void normalize(const pf_site *s, site_norm *n)
{
    n->name_len = pf_str_clamp(s->name, s->name_len, PF_STR_MAX_BYTES);
    n->cat_len = pf_str_clamp(s->category, s->category_len, PF_STR_MAX_BYTES);
    n->file_len = pf_str_clamp(s->file, s->file_len, PF_STR_MAX_BYTES);
    n->hname = n->name_len ? hash64(s->name, n->name_len) : 0;
    n->hcat = n->cat_len ? hash64(s->category, n->cat_len) : 0;
    n->hloc = (n->file_len || s->line) ? hash64_seed(s->file, n->file_len, s->line) : 0;
    n->key = s->key ? s->key : hash_u64(n->hname ^ hash_u64(n->hcat + 1) ^ (n->hloc * 3));
}

/* True when the site entry e names exactly the strings of s. */
static int site_matches(const pf_intern *in, const pf_site_ent *e, const pf_site *s,
                        const site_norm *n)
{
    uint32_t len, line;
    const char *p;
    if ((e->iids.name != 0) != (n->name_len != 0) || (e->iids.cat != 0) != (n->cat_len != 0) ||
        (e->iids.loc != 0) != (n->file_len != 0 || s->line != 0))
        return 0;
    if (e->iids.name) {
        p = pf_intern_bytes(in, &in->names, e->iids.name, &len, NULL);
        if (len != n->name_len || memcmp(p, s->name, len) != 0)
            return 0;
    }
    if (e->iids.cat) {
        p = pf_intern_bytes(in, &in->cats, e->iids.cat, &len, NULL);
        if (len != n->cat_len || memcmp(p, s->category, len) != 0)
            return 0;
    }
    if (e->iids.loc) {
        p = pf_intern_bytes(in, &in->locs, e->iids.loc, &len, &line);
        if (len != n->file_len || line != s->line || (len && memcmp(p, s->file, len) != 0))
            return 0;
    }
    return 1;
}

static int site_find(const pf_intern *in, const pf_site *s, const site_norm *n, pf_iids *out)
{
    if (!in->site_slots)
        return 0;
    for (uint32_t i = (uint32_t)n->key & in->site_mask;; i = (i + 1) & in->site_mask) {
        uint32_t k = in->site_slots[i];
        if (!k)
            return 0;
        const pf_site_ent *e = &in->sites[k - 1];
        if (e->key == n->key && site_matches(in, e, s, n)) {
            *out = e->iids;
            return 1;
        }
    }
}

static int site_add(pf_intern *in, uint64_t key, const pf_iids *iids)
{
    int rc = grow((void **)&in->sites, &in->sites_cap, sizeof *in->sites, in->nsites,
                  &in->site_slots, &in->site_mask);
    if (rc)
        return rc;
    in->sites[in->nsites] = (pf_site_ent){key, *iids};
    uint32_t i = (uint32_t)key & in->site_mask;
    while (in->site_slots[i])
        i = (i + 1) & in->site_mask;
    in->site_slots[i] = ++in->nsites;
    return SL_OK;
}

/* Finds the three iids (0 where missing); returns entries and bytes to add. */
static void lookup_parts(const pf_intern *in, const pf_site *s, const site_norm *n, pf_iids *ids,
                         uint32_t *add_entries, size_t *add_bytes)
{
    *add_entries = 1; /* the site entry itself */
    *add_bytes = 0;
    ids->name = n->name_len ? strtab_find(in, &in->names, n->hname, s->name, n->name_len, 0) : 0;
    ids->cat = n->cat_len ? strtab_find(in, &in->cats, n->hcat, s->category, n->cat_len, 0) : 0;
    ids->loc = (n->file_len || s->line)
                   ? strtab_find(in, &in->locs, n->hloc, s->file, n->file_len, s->line)
                   : 0;
    if (n->name_len && !ids->name) {
        (*add_entries)++;
        *add_bytes += n->name_len;
    }
    if (n->cat_len && !ids->cat) {
        (*add_entries)++;
        *add_bytes += n->cat_len;
    }
    if ((n->file_len || s->line) && !ids->loc) {
        (*add_entries)++;
        *add_bytes += n->file_len;
    }
}

int pf_intern_site(pf_intern *in, const pf_site *s, pf_iids *out, unsigned *fresh, int *did_reset)
{
    site_norm n;
    normalize(s, &n);
    *fresh = 0;
    *did_reset = 0;
    if (site_find(in, s, &n, out))
        return SL_OK;

    pf_iids ids;
    uint32_t add_entries;
    size_t add_bytes;
    lookup_parts(in, s, &n, &ids, &add_entries, &add_bytes);
    if (total_entries(in) + add_entries > in->max_entries ||
        in->pool.len + add_bytes > in->max_bytes) {
        pf_intern_reset(in);
        in->resets++;
        *did_reset = 1;
        lookup_parts(in, s, &n, &ids, &add_entries, &add_bytes);
    }
    int rc = SL_OK;
    if (n.name_len && !ids.name) {
        if ((rc = strtab_add(in, &in->names, n.hname, s->name, n.name_len, 0, &ids.name)))
            goto out;
        *fresh |= PF_FRESH_NAME;
    }
    if (n.cat_len && !ids.cat) {
        if ((rc = strtab_add(in, &in->cats, n.hcat, s->category, n.cat_len, 0, &ids.cat)))
            goto out;
        *fresh |= PF_FRESH_CAT;
    }
    if ((n.file_len || s->line) && !ids.loc) {
        if ((rc = strtab_add(in, &in->locs, n.hloc, s->file, n.file_len, s->line, &ids.loc)))
            goto out;
        *fresh |= PF_FRESH_LOC;
    }
    rc = site_add(in, n.key, &ids);
    *out = ids;
out:
    if (rc) {
        /* A half-added site would leave iids the caller never emits: start over. */
        pf_intern_reset(in);
        *did_reset = 1;
        *fresh = 0;
    }
    return rc;
}
