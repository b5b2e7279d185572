/*
 * saved_queries.c - the saved-queries file: read, change one entry, write back.
 *
 * The whole file is small (bounded by the caps in the header), so every call
 * reads it, and a change writes a new file and renames it over the old one.
 * One mutex for the process serialises the read-modify-write cycles.
 */
#include "server/saved_queries.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_NAME "saved-queries.json"
#define FILE_MAX ((size_t)SAVEDQ_MAX_QUERIES * SAVEDQ_BODY_MAX)
#define TEXT_MAX (SAVEDQ_BODY_MAX - 1024)

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct entry {
    const char *name, *sql, *description, *range;
    int64_t updated_ns;
} entry;

typedef struct store {
    arena a;
    entry *q;
    size_t n;
} store;

int savedq_check_name(const char *name, errmsg *e)
{
    size_t n = strlen(name);
    if (n == 0 || n > SAVEDQ_NAME_MAX)
        return errmsg_set(e, SL_EINVAL, "query name must have 1 to %d characters",
                          SAVEDQ_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return errmsg_set(e, SL_EINVAL,
                              "query name: character %zu is not one of A-Z a-z 0-9 _ - .", i + 1);
    }
    return SL_OK;
}

/* A string member of o (NULL when absent or null); SL_EINVAL when it is something else. */
static int opt_str(const json_val *o, const char *key, size_t max, const char **out, errmsg *e)
{
    const json_val *v = json_get(o, key);
    *out = NULL;
    if (!v || v->type == JSON_NULL)
        return SL_OK;
    if (v->type != JSON_STR || strlen(v->str) != v->len)
        return errmsg_set(e, SL_EINVAL, "%s: a string without NUL is required", key);
    if (v->len > max)
        return errmsg_set(e, SL_ETOOBIG, "%s: over %zu bytes", key, max);
    *out = v->str;
    return SL_OK;
}

/* Reads one query object (from the file or a PUT body) into q. */
static int read_entry(const json_val *o, entry *q, errmsg *e)
{
    if (!o || o->type != JSON_OBJ)
        return errmsg_set(e, SL_EINVAL, "a JSON object is required");
    int rc;
    if ((rc = opt_str(o, "sql", TEXT_MAX, &q->sql, e)) ||
        (rc = opt_str(o, "description", 4096, &q->description, e)) ||
        (rc = opt_str(o, "range", 64, &q->range, e)))
        return rc;
    if (!q->sql || !*q->sql)
        return errmsg_set(e, SL_EINVAL, "sql: a non-empty string is required");
    const json_val *u = json_get(o, "updated_ns");
    q->updated_ns = u && u->type == JSON_NUM && u->is_int ? u->i : 0;
    return SL_OK;
}

static int file_path(const char *dir, char *out, size_t cap, const char *suffix, errmsg *e)
{
    if (snprintf(out, cap, "%s/%s%s", dir, FILE_NAME, suffix) >= (int)cap)
        return errmsg_set(e, SL_EINVAL, "data directory path too long");
    return SL_OK;
}

/* Loads the file into s (empty when there is none yet). */
static int load(const char *dir, store *s, errmsg *e)
{
    arena_init(&s->a, 64 << 10, FILE_MAX * 4);
    s->q = NULL;
    s->n = 0;
    char path[PATH_MAX];
    int rc = file_path(dir, path, sizeof path, "", e);
    if (rc)
        return rc;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? SL_OK
                               : errmsg_set(e, SL_EIO, "%s: %s", path, strerror(errno));
    dbuf b;
    dbuf_init(&b, FILE_MAX);
    char chunk[16384];
    size_t got;
    rc = SL_OK;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (dbuf_append(&b, chunk, got))
            rc = errmsg_set(e, SL_ETOOBIG, "%s: over %zu bytes", path, FILE_MAX);
    if (!rc && ferror(f))
        rc = errmsg_set(e, SL_EIO, "%s: %s", path, strerror(errno));
    fclose(f);
    json_val *root = NULL;
    if (!rc)
        rc = json_parse(&s->a, (const char *)b.p, b.len, &root, e);
    dbuf_free(&b);
    if (rc)
        return rc;
    const json_val *arr = json_get(root, "queries");
    if (!arr || arr->type != JSON_ARR || arr->len > SAVEDQ_MAX_QUERIES)
        return errmsg_set(e, SL_ECORRUPT, "%s: no queries array of at most %d", path,
                          SAVEDQ_MAX_QUERIES);
    s->q = arena_zalloc(&s->a, (arr->len + 1) * sizeof *s->q);
    if (!s->q)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < arr->len; i++) {
        const json_val *nm = json_get(&arr->items[i], "name");
        entry *q = &s->q[s->n];
        if (!nm || nm->type != JSON_STR || (rc = read_entry(&arr->items[i], q, e)))
            return errmsg_set(e, SL_ECORRUPT, "%s: query %zu is damaged", path, i + 1);
        q->name = nm->str;
        s->n++;
    }
    return SL_OK;
}

static void write_entry(jw *w, const entry *q)
{
    jw_obj_begin(w);
    jw_kv_str(w, "name", q->name);
    jw_kv_str(w, "sql", q->sql);
    jw_kv_str(w, "description", q->description ? q->description : "");
    jw_kv_str(w, "range", q->range ? q->range : "");
    jw_kv_int(w, "updated_ns", q->updated_ns);
    jw_obj_end(w);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static int render(store *s, dbuf *out)
{
    if (s->n)
        qsort(s->q, s->n, sizeof *s->q, by_name);
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_kv_int(&w, "version", 1);
    jw_key(&w, "queries");
    jw_arr_begin(&w);
    for (size_t i = 0; i < s->n; i++)
        write_entry(&w, &s->q[i]);
    jw_arr_end(&w);
    jw_obj_end(&w);
    return w.err ? SL_ENOMEM : dbuf_append_str(out, "\n");
}

/* Writes s over the file: a temporary file, fsync, rename, fsync of the directory. */
static int save(const char *dir, store *s, errmsg *e)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc;
    if ((rc = file_path(dir, path, sizeof path, "", e)) ||
        (rc = file_path(dir, tmp, sizeof tmp, ".tmp", e)))
        return rc;
    dbuf b;
    dbuf_init(&b, FILE_MAX * 2);
    if (render(s, &b)) {
        dbuf_free(&b);
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    rc = fd < 0 ? errmsg_set(e, SL_EIO, "%s: %s", tmp, strerror(errno)) : SL_OK;
    size_t off = 0;
    while (!rc && off < b.len) {
        ssize_t n = write(fd, b.p + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = errmsg_set(e, SL_EIO, "%s: %s", tmp, strerror(errno));
        else
            off += (size_t)n;
    }
    if (!rc && fsync(fd) != 0)
        rc = errmsg_set(e, SL_EIO, "%s: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = errmsg_set(e, SL_EIO, "%s: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    dbuf_free(&b);
    int dfd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return rc;
}

static entry *find(store *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->q[i].name, name))
            return &s->q[i];
    return NULL;
}

int savedq_list(const char *data_dir, dbuf *out, errmsg *e)
{
    store s;
    pthread_mutex_lock(&g_mu);
    int rc = load(data_dir, &s, e);
    pthread_mutex_unlock(&g_mu);
    if (!rc && render(&s, out))
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    arena_destroy(&s.a);
    return rc;
}

int savedq_get(const char *data_dir, const char *name, dbuf *out, errmsg *e)
{
    store s;
    int rc = savedq_check_name(name, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&g_mu);
    rc = load(data_dir, &s, e);
    pthread_mutex_unlock(&g_mu);
    entry *q = rc ? NULL : find(&s, name);
    if (!rc && !q)
        rc = errmsg_set(e, SL_ENOTFOUND, "no saved query named %s", name);
    if (q) {
        jw w;
        jw_init(&w, out);
        write_entry(&w, q);
        if (w.err)
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    arena_destroy(&s.a);
    return rc;
}

int savedq_check_body(const char *body, size_t len, errmsg *e)
{
    if (len > SAVEDQ_BODY_MAX)
        return errmsg_set(e, SL_ETOOBIG, "body over %u bytes", SAVEDQ_BODY_MAX);
    arena a;
    arena_init(&a, 16 << 10, SAVEDQ_BODY_MAX * 64);
    json_val *root = NULL;
    entry q = {0};
    int rc = json_parse(&a, body, len, &root, e);
    if (rc == SL_ENOMEM) /* a small body of many tiny values */
        rc = errmsg_set(e, SL_ETOOBIG, "body has too many JSON values");
    if (!rc)
        rc = read_entry(root, &q, e);
    arena_destroy(&a);
    return rc;
}

int savedq_put(const char *data_dir, const char *name, const char *body, size_t len,
               int create_only, int *created, errmsg *e)
{
    *created = 0;
    int rc = savedq_check_name(name, e);
    if (rc || (rc = savedq_check_body(body, len, e)))
        return rc;
    store s;
    pthread_mutex_lock(&g_mu);
    rc = load(data_dir, &s, e);
    json_val *root = NULL;
    entry in = {0};
    if (!rc)
        rc = json_parse(&s.a, body, len, &root, e);
    if (!rc)
        rc = read_entry(root, &in, e);
    entry *q = rc ? NULL : find(&s, name);
    if (!rc && q && create_only)
        rc = errmsg_set(e, SL_EEXIST, "a saved query named %s exists", name);
    if (!rc && !q && s.n >= SAVEDQ_MAX_QUERIES)
        rc = errmsg_set(e, SL_ETOOBIG, "at most %d saved queries", SAVEDQ_MAX_QUERIES);
    if (!rc && !q) {
        entry *grown = arena_alloc(&s.a, (s.n + 1) * sizeof *grown);
        if (!grown) {
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        } else {
            if (s.n)
                memcpy(grown, s.q, s.n * sizeof *grown);
            s.q = grown;
            q = &s.q[s.n++];
            *created = 1;
        }
    }
    if (!rc) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        in.name = arena_strndup(&s.a, name, strlen(name));
        in.updated_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        *q = in;
        rc = in.name ? save(data_dir, &s, e) : errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&g_mu);
    arena_destroy(&s.a);
    if (rc)
        *created = 0;
    return rc;
}

int savedq_delete(const char *data_dir, const char *name, errmsg *e)
{
    int rc = savedq_check_name(name, e);
    if (rc)
        return rc;
    store s;
    pthread_mutex_lock(&g_mu);
    rc = load(data_dir, &s, e);
    entry *q = rc ? NULL : find(&s, name);
    if (!rc && !q)
        rc = errmsg_set(e, SL_ENOTFOUND, "no saved query named %s", name);
    if (!rc) {
        *q = s.q[--s.n];
        rc = save(data_dir, &s, e);
    }
    pthread_mutex_unlock(&g_mu);
    arena_destroy(&s.a);
    return rc;
}
