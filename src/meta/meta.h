/*
 * meta.h - the metadata-store interface: processes, streams, blocks.
 *
 * Every ingested message leaves one row here; payload bytes live in the object
 * store.  The interface is a table of function pointers so that the embedded
 * SQLite backend of today and a PostgreSQL backend later are interchangeable.
 * Later tables (the lake's lakehouse_partitions) extend the ops table; callers
 * never see SQL.
 *
 * Identity and idempotency: a row is identified by its uuid and carries a
 * content hash (XXH3-64 of the message that created it).  Inserting the same
 * id with the same hash again succeeds and changes nothing (*existed = 1);
 * the same id with another hash is refused with SL_EEXIST and changes nothing.
 *
 * Dependencies are checked at insert time, inside the same transaction: a
 * stream whose process is unknown, or a block whose stream is unknown, is
 * refused with SL_EAGAIN (the sender will send the dependency and retry); a
 * block whose stream belongs to another process is refused with SL_EMISMATCH.
 *
 * Durability: when an insert returns 0 its row is committed and survives a
 * crash.  Backends may batch concurrent inserts into one commit (group
 * commit); each caller still learns its own outcome.
 *
 * Every function is safe to call from any number of threads at once.
 * Strings in records are NUL-terminated UTF-8; tags and properties are JSON
 * text (an array of strings, an object of string values).  Times are integer
 * nanoseconds since the Unix epoch, UTC.
 */
#ifndef SL_META_H
#define SL_META_H

#include "base/err.h"
#include "base/uuid.h"

#include <stddef.h>
#include <stdint.h>

typedef struct meta_process {
    sl_uuid process_id;
    sl_uuid parent_process_id; /* nil: none (stored as NULL) */
    const char *exe, *username, *realname, *computer, *distro, *cpu_brand;
    uint64_t tsc_frequency;
    int64_t start_time_ns;
    uint64_t start_ticks;
    const char *properties_json;
    int64_t insert_time_ns;    /* set by the store; ignored on insert */
    uint64_t content_hash;
} meta_process;

typedef struct meta_stream {
    sl_uuid stream_id;
    sl_uuid process_id;
    const char *tags_json;
    const char *properties_json;
    int64_t insert_time_ns;    /* set by the store; ignored on insert */
    uint64_t content_hash;
} meta_stream;

typedef struct meta_block {
    sl_uuid block_id, stream_id, process_id;
    int64_t begin_time_ns, end_time_ns;
    int64_t begin_ticks, end_ticks;
    uint64_t nb_objects;
    uint64_t object_offset;
    uint64_t payload_size;
    int64_t insert_time_ns;    /* set by the store; ignored on insert */
    uint64_t content_hash;
} meta_block;

/* One row of the process list with its aggregates. */
typedef struct meta_process_summary {
    meta_process p;
    uint64_t stream_count;
    uint64_t thread_count;  /* streams tagged "cpu" */
    uint64_t block_count;
    uint64_t event_count;   /* sum of the blocks' nb_objects */
    uint64_t payload_bytes; /* sum of the blocks' payload_size */
    int64_t first_time_ns;  /* the blocks' earliest begin and latest end (0: no block) */
    int64_t last_time_ns;
} meta_process_summary;

/* One row of a process's stream list with its aggregates. */
typedef struct meta_stream_summary {
    meta_stream s;
    const char *thread_id;   /* the "thread-id" property, or NULL */
    const char *thread_name; /* the "thread-name" property, or NULL */
    uint64_t block_count;
    uint64_t event_count;
    uint64_t payload_bytes;
} meta_stream_summary;

/*
 * One partition of a lake view (docs/internals/lake.md): a Parquet file covering
 * one view instance and one range of block insert times.
 */
typedef struct meta_partition {
    const char *view_set_name;
    const char *view_instance_id;
    int64_t begin_insert_time_ns, end_insert_time_ns; /* blocks with insert_time in [begin, end) */
    int64_t min_event_time_ns, max_event_time_ns;
    const char *file_path;
    uint64_t file_size;
    uint32_t schema_version;
    uint64_t source_token;
    uint64_t row_count;
    uint64_t event_count;        /* source events read */
    const void *state;           /* view-specific carry-over (thread_spans: open spans) */
    size_t state_len;
    int64_t updated_ns;          /* set by the store */
    int retired;
    int64_t retired_time_ns;
} meta_partition;

/*
 * A SQL user table or view (src/sql/catalog/user.c): its definition is a JSON
 * document (columns, Parquet segments, or the view's query) that the SQL engine
 * owns; the store keeps it with a version so that a change is a compare-and-set.
 */
typedef struct meta_sql_table {
    const char *name;
    int64_t version;             /* 1 when created, +1 per change */
    const char *def;
    int64_t updated_ns;          /* set by the store */
} meta_sql_table;

/* Row callbacks; pointers inside are valid during the call only. Non-zero stops. */
typedef int (*meta_process_fn)(void *arg, const meta_process_summary *row);
typedef int (*meta_stream_fn)(void *arg, const meta_stream_summary *row);
typedef int (*meta_block_fn)(void *arg, const meta_block *row);
typedef int (*meta_partition_fn)(void *arg, const meta_partition *row);
typedef int (*meta_sql_table_fn)(void *arg, const meta_sql_table *row);

typedef struct meta meta;

typedef struct meta_ops {
    int (*insert_process)(meta *m, const meta_process *p, int *existed, errmsg *e);
    int (*insert_stream)(meta *m, const meta_stream *s, int *existed, errmsg *e);
    int (*insert_block)(meta *m, const meta_block *b, int *existed, errmsg *e);
    int (*find_stream)(meta *m, const sl_uuid *stream_id, meta_stream *out, errmsg *e);
    int (*find_block)(meta *m, const sl_uuid *block_id, meta_block *out, errmsg *e);
    int (*list_processes)(meta *m, meta_process_fn fn, void *arg, errmsg *e);
    int (*list_streams)(meta *m, const sl_uuid *process_id, meta_stream_fn fn, void *arg,
                        errmsg *e);
    int (*list_blocks)(meta *m, const sl_uuid *stream_id, meta_block_fn fn, void *arg,
                       errmsg *e);
    int (*list_blocks_since)(meta *m, int64_t since_ns, meta_block_fn fn, void *arg,
                             errmsg *e);
    int (*find_process)(meta *m, const sl_uuid *process_id, meta_process_fn fn, void *arg,
                        errmsg *e);
    int (*list_partitions)(meta *m, const char *view, const char *instance,
                           meta_partition_fn fn, void *arg, errmsg *e);
    int (*replace_partition)(meta *m, const meta_partition *p, errmsg *e);
    int (*list_retired)(meta *m, int64_t retired_before_ns, meta_partition_fn fn, void *arg,
                        errmsg *e);
    int (*forget_partition)(meta *m, const char *file_path, errmsg *e);
    int (*retire_partition)(meta *m, const char *file_path, int *retired, errmsg *e);
    int (*list_partition_files)(meta *m, meta_partition_fn fn, void *arg, errmsg *e);
    int (*sql_table_put)(meta *m, const char *name, int64_t expect_version, const char *def,
                         int64_t *new_version, errmsg *e);
    int (*sql_table_list)(meta *m, const char *name, meta_sql_table_fn fn, void *arg,
                          errmsg *e);
    int (*expire_blocks)(meta *m, int64_t before_ns, int limit, meta_block_fn fn, void *arg,
                         errmsg *e);
    int (*expire_partitions)(meta *m, int64_t insert_before_ns, int limit, int *retired,
                             errmsg *e);
    /* Shared stores only (NULL otherwise): cross-process locks and leadership. */
    int (*lock_partition)(meta *m, uint64_t key, void **hold, errmsg *e);
    void (*unlock_partition)(meta *m, uint64_t key, void *hold);
    int (*leader_poll)(meta *m, int *is_leader, errmsg *e);
    void (*close)(meta *m);
    /* Shared stores only (NULL otherwise): see meta_change_stamp. */
    int (*change_stamp)(meta *m, int what, const sl_uuid *id, const char *view,
                        const char *instance, uint64_t *stamp, errmsg *e);
} meta_ops;

/* Every backend's handle starts with this. */
struct meta {
    const meta_ops *ops;
    int shared; /* other servers write the same store: nothing read may be cached for long */
};

/* What a change stamp summarises (meta_change_stamp). */
enum meta_stamp_of {
    META_STAMP_STREAMS = 1,    /* the streams of process id */
    META_STAMP_BLOCKS = 2,     /* the blocks of stream id */
    META_STAMP_PARTITIONS = 3, /* the current partitions of (view, instance) */
};

/*
 * A 64-bit summary of a set of rows (enum meta_stamp_of) that changes when a row
 * is added, removed or replaced (the count and a sum of the rows' hashed keys), read
 * with one small aggregate query instead of the rows.  A server caching the list of
 * a shared store reads the stamp before it loads the list and keeps it with the
 * list; the list is still current while the stamp is the same
 * (docs/internals/lake.md "Caches over shared metadata").  SL_EUNSUPPORTED for a
 * store no other server writes (SQLite): its caches are told of every change.
 */
static inline int meta_change_stamp(meta *m, int what, const sl_uuid *id, const char *view,
                                    const char *instance, uint64_t *stamp, errmsg *e)
{
    if (!m->ops->change_stamp)
        return SL_EUNSUPPORTED;
    return m->ops->change_stamp(m, what, id, view, instance, stamp, e);
}

/* 0 (inserted, or *existed = 1 when identical), SL_EEXIST, SL_EIO. */
static inline int meta_process_insert(meta *m, const meta_process *p, int *existed, errmsg *e)
{
    return m->ops->insert_process(m, p, existed, e);
}

/* As meta_process_insert; also SL_EAGAIN when the stream's process is unknown. */
static inline int meta_stream_insert(meta *m, const meta_stream *s, int *existed, errmsg *e)
{
    return m->ops->insert_stream(m, s, existed, e);
}

/*
 * As meta_process_insert; also SL_EAGAIN when the block's stream is unknown and
 * SL_EMISMATCH when the stream belongs to another process.
 */
static inline int meta_block_insert(meta *m, const meta_block *b, int *existed, errmsg *e)
{
    return m->ops->insert_block(m, b, existed, e);
}

/*
 * Reads one committed stream (strings in *out are NULL: only ids, times and
 * hash are returned).  SL_ENOTFOUND if absent.
 */
static inline int meta_stream_find(meta *m, const sl_uuid *stream_id, meta_stream *out,
                                   errmsg *e)
{
    return m->ops->find_stream(m, stream_id, out, e);
}

/* Reads one committed block row.  SL_ENOTFOUND if absent. */
static inline int meta_block_find(meta *m, const sl_uuid *block_id, meta_block *out, errmsg *e)
{
    return m->ops->find_block(m, block_id, out, e);
}

/* Every process with its aggregates, newest start_time first. */
static inline int meta_processes_list(meta *m, meta_process_fn fn, void *arg, errmsg *e)
{
    return m->ops->list_processes(m, fn, arg, e);
}

/* The streams of one process with aggregates, oldest first; SL_ENOTFOUND if no such process. */
static inline int meta_streams_list(meta *m, const sl_uuid *process_id, meta_stream_fn fn,
                                    void *arg, errmsg *e)
{
    return m->ops->list_streams(m, process_id, fn, arg, e);
}

/* The blocks of one stream in object_offset order (SL_OK with no calls if none). */
static inline int meta_blocks_list(meta *m, const sl_uuid *stream_id, meta_block_fn fn,
                                   void *arg, errmsg *e)
{
    return m->ops->list_blocks(m, stream_id, fn, arg, e);
}

/*
 * The blocks inserted at or after since_ns (insert_time), by insert time, then
 * stream and object_offset (SL_OK with no calls if none).  A continuous job over
 * telemetry replays them after a restart (src/stream/source_telemetry.c), through
 * the index on insert_time (blocks_by_insert_time).
 */
static inline int meta_blocks_since(meta *m, int64_t since_ns, meta_block_fn fn, void *arg,
                                    errmsg *e)
{
    return m->ops->list_blocks_since(m, since_ns, fn, arg, e);
}

/* One process (aggregates in the summary are zero); SL_ENOTFOUND if absent. */
static inline int meta_process_find(meta *m, const sl_uuid *process_id, meta_process_fn fn,
                                    void *arg, errmsg *e)
{
    return m->ops->find_process(m, process_id, fn, arg, e);
}

/* The current (not retired) partitions of a view instance, by begin_insert_time. */
static inline int meta_partitions_list(meta *m, const char *view, const char *instance,
                                       meta_partition_fn fn, void *arg, errmsg *e)
{
    return m->ops->list_partitions(m, view, instance, fn, arg, e);
}

/*
 * Records a built partition: in one transaction, retires the current partition
 * with the same (view, instance, begin_insert_time), if any, and inserts p.
 * Once this returns 0 the new row is committed; the file must already be stored.
 */
static inline int meta_partition_replace(meta *m, const meta_partition *p, errmsg *e)
{
    return m->ops->replace_partition(m, p, e);
}

/* Retired partitions whose retirement is older than retired_before_ns. */
static inline int meta_partitions_retired(meta *m, int64_t retired_before_ns,
                                          meta_partition_fn fn, void *arg, errmsg *e)
{
    return m->ops->list_retired(m, retired_before_ns, fn, arg, e);
}

/* Deletes the retired row of file_path (after its file was deleted). */
static inline int meta_partition_forget(meta *m, const char *file_path, errmsg *e)
{
    return m->ops->forget_partition(m, file_path, e);
}

/*
 * Retires the current partition stored in file_path (an administrator's
 * retire_partitions): the lake builds its range again when it is next read,
 * and the janitor deletes the file after the grace period.  *retired: 1 if
 * this call retired it, 0 if it was not current.
 */
static inline int meta_partition_retire(meta *m, const char *file_path, int *retired, errmsg *e)
{
    return m->ops->retire_partition(m, file_path, retired, e);
}

/* Every partition row, current and retired (for orphan-file detection). */
static inline int meta_partition_files(meta *m, meta_partition_fn fn, void *arg, errmsg *e)
{
    return m->ops->list_partition_files(m, fn, arg, e);
}

/*
 * Creates (expect_version 0), replaces (the current version) or, with def NULL,
 * drops a SQL table's definition, atomically: SL_EEXIST if it exists when
 * creating, SL_ESTATE if its version is not expect_version any more (another
 * statement changed it meanwhile: nothing is written), SL_ENOTFOUND if it is gone.
 */
static inline int meta_sql_table_put(meta *m, const char *name, int64_t expect_version,
                                     const char *def, int64_t *new_version, errmsg *e)
{
    return m->ops->sql_table_put(m, name, expect_version, def, new_version, e);
}

/* One table's definition (name), or every one (name NULL). */
static inline int meta_sql_table_list(meta *m, const char *name, meta_sql_table_fn fn,
                                      void *arg, errmsg *e)
{
    return m->ops->sql_table_list(m, name, fn, arg, e);
}

/*
 * Retention: deletes up to limit blocks whose end_time is before before_ns (in
 * one short transaction) and then gives each deleted row to fn (to delete its
 * payload: the row goes first, so a row never lacks its payload).  When fewer
 * than limit blocks were left, also deletes the streams and processes inserted
 * before before_ns that no block references any more.  Returns the number of
 * blocks deleted (>= 0), or a negative error.
 */
static inline int meta_blocks_expire(meta *m, int64_t before_ns, int limit, meta_block_fn fn,
                                     void *arg, errmsg *e)
{
    return m->ops->expire_blocks(m, before_ns, limit, fn, arg, e);
}

/*
 * Retires up to limit current partitions whose begin_insert_time is before
 * insert_before_ns (their source blocks may be gone: the next read builds what
 * is left, the janitor deletes the files).  *retired: how many.
 */
static inline int meta_partitions_expire(meta *m, int64_t insert_before_ns, int limit,
                                         int *retired, errmsg *e)
{
    return m->ops->expire_partitions(m, insert_before_ns, limit, retired, e);
}

/*
 * Takes the store-wide lock of a partition key (view, instance, begin hashed),
 * waiting for another server that holds it; *hold is given back to unlock.  A
 * store used by one process only has no such lock (returns 0 at once).
 */
static inline int meta_partition_lock(meta *m, uint64_t key, void **hold, errmsg *e)
{
    *hold = NULL;
    return m->ops->lock_partition ? m->ops->lock_partition(m, key, hold, e) : SL_OK;
}

static inline void meta_partition_unlock(meta *m, uint64_t key, void *hold)
{
    if (m->ops->unlock_partition)
        m->ops->unlock_partition(m, key, hold);
}

/*
 * Leadership of background work (janitor, retention, materializer): *is_leader
 * 1 if this process leads now.  Called periodically; it takes the lead when the
 * previous leader is gone, and confirms the lead is still held.  A store used by
 * one process only always leads.
 */
static inline int meta_leader_poll(meta *m, int *is_leader, errmsg *e)
{
    if (!m->ops->leader_poll) {
        *is_leader = 1;
        return SL_OK;
    }
    return m->ops->leader_poll(m, is_leader, e);
}

/* Finishes pending commits and releases the handle (NULL is fine). */
static inline void meta_close(meta *m)
{
    if (m)
        m->ops->close(m);
}

typedef struct meta_sqlite_opts {
    int n_readers;          /* reader connections (0: 4) */
    int max_batch;          /* inserts per group commit (0: 256) */
    int relaxed_sync;       /* 0: synchronous=FULL, every commit fsynced (the default);
                               1: NORMAL, for throwaway data only */
} meta_sqlite_opts;

/*
 * Opens (creating if needed) the SQLite database at path in WAL mode and starts
 * its writer thread.  opts may be NULL for defaults.  Refuses a database whose
 * schema version is newer than this build's with SL_EVERSION.
 */
int meta_sqlite_open(const char *path, const meta_sqlite_opts *opts, meta **out, errmsg *e);

#define META_SQLITE_SCHEMA_VERSION 3

typedef struct meta_pg_opts {
    int n_readers;          /* reader connections (0: 4) */
    int max_batch;          /* inserts per group commit (0: 256) */
    int max_lockers;        /* connections holding partition locks at once (0: 16) */
} meta_pg_opts;

/*
 * Connects to PostgreSQL (conninfo: a postgres:// URL or key=value pairs),
 * creates or migrates the schema (docs/internals/meta-postgres.md) and starts the
 * writer thread.  Refuses a schema newer than this build's with SL_EVERSION.
 * The store is shared: several servers may use it at once.
 */
int meta_pg_open(const char *conninfo, const meta_pg_opts *opts, meta **out, errmsg *e);

#define META_PG_SCHEMA_VERSION 2

#endif
