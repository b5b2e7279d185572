/*
 * objstore.h - the object-store interface: named, immutable byte objects.
 *
 * Payloads (and later Parquet partitions) live in an object store addressed by
 * keys such as "blobs/{process_id}/{stream_id}/{block_id}".  The interface is
 * a table of function pointers so that the local-directory backend
 * (objstore_local.c) and the S3 backend (objstore_s3.c) are interchangeable;
 * nothing above this layer knows which one it talks to.
 *
 * Contract every backend keeps:
 *   - put is atomic and durable: once it returns 0, a reader sees the whole
 *     object and it survives a crash of the process (and, for the local
 *     backend, of the machine); before that, readers see either the previous
 *     state or nothing, never a partial object.
 *   - Objects are written once.  objstore_put with OBJSTORE_PUT_ONCE accepts a
 *     second put of identical bytes (returns 0, idempotent) and refuses
 *     different bytes with SL_EEXIST.  OBJSTORE_PUT_REPLACE exists for the one
 *     caller that knows an object is unreferenced (an orphan left by a crash
 *     between the object write and its metadata commit) and may be replaced.
 *     OBJSTORE_PUT_NEW is OBJSTORE_PUT_ONCE for a key its caller made unique
 *     (a random part, as partition files have): a backend that cannot write
 *     conditionally skips the look it would take first (S3 without
 *     If-None-Match: a HEAD), since nothing can be there; one that can still
 *     writes conditionally.
 *   - Keys are relative paths of segments [A-Za-z0-9._-], separated by '/',
 *     no segment empty or starting with '.', at most OBJSTORE_MAX_KEY bytes.
 *     Invalid keys are refused with SL_EINVAL, so no key escapes the store.
 *   - Every read takes a cap: an object larger than the caller's buffer max is
 *     refused with SL_ETOOBIG rather than read.
 */
#ifndef SL_OBJSTORE_H
#define SL_OBJSTORE_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

#define OBJSTORE_MAX_KEY 1024

enum objstore_put_mode { OBJSTORE_PUT_ONCE = 0, OBJSTORE_PUT_REPLACE = 1, OBJSTORE_PUT_NEW = 2 };

typedef struct objstore_stat {
    uint64_t size_bytes;
    int64_t mtime_ns;
} objstore_stat;

typedef struct objstore objstore;
struct jw;

/* Called once per listed key; a non-zero return stops the listing and is returned. */
typedef int (*objstore_list_fn)(void *arg, const char *key, const objstore_stat *st);

typedef struct objstore_ops {
    int (*put)(objstore *os, const char *key, const void *data, size_t len, int mode,
               errmsg *e);
    int (*get)(objstore *os, const char *key, dbuf *out, errmsg *e);
    int (*get_range)(objstore *os, const char *key, uint64_t offset, size_t len, dbuf *out,
                     errmsg *e);
    int (*stat)(objstore *os, const char *key, objstore_stat *out, errmsg *e);
    int (*del)(objstore *os, const char *key, errmsg *e);
    int (*list)(objstore *os, const char *prefix, objstore_list_fn fn, void *arg, errmsg *e);
    void (*close)(objstore *os);
    /* Optional (NULL: not offered): the object's bytes mapped read-only. */
    int (*map)(objstore *os, const char *key, const uint8_t **p, size_t *len, errmsg *e);
    void (*unmap)(objstore *os, const uint8_t *p, size_t len);
    /* Optional (NULL: none): the backend's request and byte counters as JSON members. */
    void (*stats_json)(objstore *os, struct jw *w);
    /*
     * GETs objstore_get_many keeps in flight at once for this backend: a store
     * across a network (S3) hides its round trips behind each other; 0 or 1 (a
     * local directory): one after another.
     */
    int parallel_gets;
} objstore_ops;

/* Every backend's handle starts with this; backends extend it. */
struct objstore {
    const objstore_ops *ops;
};

/*
 * Stores len bytes under key (mode: enum objstore_put_mode).  0 when the object
 * is durably in place; SL_EEXIST (OBJSTORE_PUT_ONCE) when different bytes are
 * already there; SL_EINVAL for a bad key; SL_EIO when the system failed.
 */
static inline int objstore_put(objstore *os, const char *key, const void *data, size_t len,
                               int mode, errmsg *e)
{
    return os->ops->put(os, key, data, len, mode, e);
}

/* Appends the whole object to out (bounded by out->max: SL_ETOOBIG). SL_ENOTFOUND if absent. */
static inline int objstore_get(objstore *os, const char *key, dbuf *out, errmsg *e)
{
    return os->ops->get(os, key, out, e);
}

/*
 * Appends bytes [offset, offset+len) to out.  A range past the end of the object
 * is SL_EINVAL (no short reads are returned silently).
 */
static inline int objstore_get_range(objstore *os, const char *key, uint64_t offset, size_t len,
                                     dbuf *out, errmsg *e)
{
    return os->ops->get_range(os, key, offset, len, out, e);
}

/*
 * Reads n whole objects: outs[i] gets keys[i] (each bounded by its own
 * outs[i].max, as objstore_get), with at most the backend's parallel_gets
 * requests in flight (OBJSTORE_MAX_PARALLEL at most), so a batch of small
 * objects costs about n / parallel_gets round trips instead of n.  Memory is
 * the callers' buffers only.  The first failure (in key order among those
 * tried) is returned, and no request starts after a failure; the buffers of
 * keys not read are left as they were.
 */
#define OBJSTORE_MAX_PARALLEL 16
int objstore_get_many(objstore *os, const char *const *keys, size_t n, dbuf *outs, errmsg *e);

/*
 * As objstore_get_many, and got(got_arg, i) runs as soon as keys[i] is read
 * whole into outs[i] (on the thread that read it, possibly while other reads
 * are in flight), so a caller can hand each object on without waiting for the
 * batch.  got may take outs[i]'s bytes; it is not called for a failed read.
 */
typedef void (*objstore_got_fn)(void *got_arg, size_t i);
int objstore_get_many_cb(objstore *os, const char *const *keys, size_t n, dbuf *outs,
                         objstore_got_fn got, void *got_arg, errmsg *e);

/* Size and time of an object; SL_ENOTFOUND if absent (that is the `exists` test). */
static inline int objstore_stat_get(objstore *os, const char *key, objstore_stat *out,
                                    errmsg *e)
{
    return os->ops->stat(os, key, out, e);
}

/* Removes an object durably; SL_ENOTFOUND if it was absent. */
static inline int objstore_delete(objstore *os, const char *key, errmsg *e)
{
    return os->ops->del(os, key, e);
}

/*
 * Calls fn for every key that starts with prefix (a plain string prefix, not
 * only whole segments), in no particular order.  Temp files of unfinished puts
 * are never listed.
 */
static inline int objstore_list(objstore *os, const char *prefix, objstore_list_fn fn,
                                void *arg, errmsg *e)
{
    return os->ops->list(os, prefix, fn, arg, e);
}

/*
 * Maps a whole object read-only, when the backend can (objects are immutable,
 * so the mapping stays valid until unmapped, even if the object is deleted).
 * SL_EUNSUPPORTED when it cannot: read it with objstore_get instead.  An empty
 * object maps to len 0 and a non-NULL p that must still be unmapped.
 */
static inline int objstore_map(objstore *os, const char *key, const uint8_t **p, size_t *len,
                               errmsg *e)
{
    if (!os->ops->map)
        return SL_EUNSUPPORTED;
    return os->ops->map(os, key, p, len, e);
}

static inline void objstore_unmap(objstore *os, const uint8_t *p, size_t len)
{
    if (os->ops->unmap)
        os->ops->unmap(os, p, len);
}

/* Releases the handle (NULL is fine). */
static inline void objstore_close(objstore *os)
{
    if (os)
        os->ops->close(os);
}

/*
 * Writes the backend's figures (requests by kind, bytes, retries, errors) as
 * members of the JSON object being written; nothing for a backend without them.
 */
static inline void objstore_stats_json(objstore *os, struct jw *w)
{
    if (os && os->ops->stats_json)
        os->ops->stats_json(os, w);
}

/* 0 if key follows the key rules above, else SL_EINVAL with a message. */
int objstore_key_check(const char *key, errmsg *e);

/*
 * Opens (creating if needed) a local-directory store rooted at dir.  Temp files
 * of puts interrupted by a crash are removed here, before the store is used.
 * SL_ESTATE if another open store (in any process) uses the directory.
 */
int objstore_local_open(const char *dir, objstore **out, errmsg *e);

/* The local backend's directory for temp files, relative to its root. */
#define OBJSTORE_LOCAL_TMP ".tmp"

/*
 * The S3 backend (objstore_s3.c; docs/internals/storage.md "S3").  Fields left
 * NULL or 0 take the environment or the default named beside them.  Keys come
 * from the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN when set), never from a command line.
 */
typedef struct objstore_s3_opts {
    const char *url;          /* "s3://bucket" or "s3://bucket/prefix" (required) */
    const char *endpoint;     /* AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com */
    const char *region;       /* AWS_REGION, else us-east-1 */
    const char *addressing;   /* "path" or "virtual"; SL_S3_ADDRESSING, else virtual
                               * without an endpoint (AWS), path with one */
    size_t part_bytes;        /* multipart above this, in parts of this size;
                               * SL_S3_PART_BYTES, else 16 MiB */
    int max_attempts;         /* tries per request (5) */
    int64_t max_retry_ms;     /* retries of one request stop after this long (30000) */
} objstore_s3_opts;

/*
 * Opens the bucket and checks it can be used: a probe object is written, written
 * again conditionally (to learn whether the server honours If-None-Match on
 * PUT) and deleted, so wrong credentials or a missing bucket fail here with the
 * server's error code and message, not at the first ingestion.
 */
int objstore_s3_open(const objstore_s3_opts *o, objstore **out, errmsg *e);

/* 1 if url names an S3 store ("s3://..."), else 0. */
int objstore_is_s3_url(const char *url);

#endif
