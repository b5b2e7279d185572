/*
 * objstore_local.c - the object store as a local directory.
 *
 * Key "a/b/c" is the file ROOT/a/b/c.  A put writes the bytes to a fresh temp
 * file in ROOT/.tmp (same file system as every object, so the final step is a
 * plain link or rename), fsyncs it, moves it into place and fsyncs the target
 * directory; directories created on the way are fsynced into their parents.
 * A reader therefore sees either no file or the whole file, and after put
 * returns 0 the object survives a crash of the process or the machine.
 *
 * Temp files live in one directory instead of beside their targets so that the
 * startup cleanup is one readdir of ROOT/.tmp, not a walk of every object: a
 * crash mid-put leaves at most one temp file per in-flight put, and
 * objstore_local_open removes them all before the store serves anyone.
 *
 * A store holds an exclusive flock on ROOT/.tmp/.lock while it is open, so two
 * processes never share one directory (the second open fails with SL_ESTATE).
 *
 * Write-once (OBJSTORE_PUT_ONCE) uses link(2), which refuses to replace an
 * existing name, so two racing puts of the same key cannot both "win"; the
 * loser compares bytes and reports 0 (same) or SL_EEXIST (different).
 * OBJSTORE_PUT_REPLACE uses rename(2), which replaces atomically.
 */
#include "objstore/objstore.h"

#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct local_store {
    objstore base;
    char *root;
    size_t root_len;
    int tmp_fd;        /* ROOT/.tmp, opened once, for openat() of temp files */
    int lock_fd;       /* ROOT/.tmp/.lock, flock'ed while the store is open */
} local_store;

static _Atomic uint64_t g_tmp_seq;

int objstore_key_check(const char *key, errmsg *e)
{
    size_t n = strlen(key);
    if (n == 0 || n > OBJSTORE_MAX_KEY)
        return errmsg_set(e, SL_EINVAL, "object key of %zu bytes (must be 1..%d)", n,
                          OBJSTORE_MAX_KEY);
    size_t seg = 0; /* length of the current segment */
    for (size_t i = 0; i <= n; i++) {
        char c = key[i];
        if (c == '/' || c == 0) {
            if (seg == 0)
                return errmsg_set(e, SL_EINVAL, "object key '%s': empty segment at byte %zu",
                                  key, i);
            seg = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok || (seg == 0 && c == '.'))
            return errmsg_set(e, SL_EINVAL, "object key '%s': character 0x%02x not allowed at "
                              "byte %zu", key, (unsigned char)c, i);
        seg++;
    }
    return SL_OK;
}

/* Checks key and writes ROOT/key into out (PATH_MAX; a valid key fits). 0 or SL_EINVAL. */
static int key_path(const local_store *ls, const char *key, char *out, errmsg *e)
{
    int rc = objstore_key_check(key, e);
    if (!rc)
        snprintf(out, PATH_MAX, "%s/%s", ls->root, key);
    return rc;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SL_EIO;
    int rc = fsync(fd) == 0 ? SL_OK : SL_EIO;
    close(fd);
    return rc;
}

/* fsyncs the directory that holds path (path has at least one '/'). */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return SL_EINTERNAL;
    *slash = 0;
    return fsync_dir(dir[0] ? dir : "/");
}

/*
 * Creates directory path and any missing parents below the store root, fsyncing
 * each new entry into its parent so that the object's path survives a crash.
 */
static int ensure_dir(const local_store *ls, char *path)
{
    if (mkdir(path, 0755) == 0)
        return fsync_parent(path);
    if (errno == EEXIST)
        return SL_OK;
    if (errno != ENOENT || strlen(path) <= ls->root_len)
        return SL_EIO;
    char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return SL_EIO;
    *slash = 0;
    int rc = ensure_dir(ls, path);
    *slash = '/';
    if (rc)
        return rc;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return SL_EIO;
    return fsync_parent(path);
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return SL_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return SL_OK;
}

static int read_all(int fd, void *data, size_t len, uint64_t offset)
{
    uint8_t *p = data;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)offset);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return SL_EIO;
        }
        if (r == 0)
            return SL_ETRUNC; /* the file shrank under us: not something a store does */
        p += r;
        len -= (size_t)r;
        offset += (uint64_t)r;
    }
    return SL_OK;
}

/* 1 if the file at path holds exactly data, 0 if not, negative on error. */
static int same_content(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SL_EIO;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = SL_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size != len)
        goto out;
    uint8_t buf[65536];
    for (size_t off = 0; off < len;) {
        size_t n = len - off < sizeof buf ? len - off : sizeof buf;
        if ((rc = read_all(fd, buf, n, off)))
            goto out;
        if (memcmp(buf, (const uint8_t *)data + off, n) != 0)
            goto out;
        off += n;
    }
    rc = 1;
out:
    close(fd);
    return rc;
}

/* Writes data to a new temp file and fsyncs it; its name goes to tmp_name. */
static int write_temp(local_store *ls, const void *data, size_t len, char *tmp_name,
                      size_t tmp_size)
{
    uint64_t seq = atomic_fetch_add(&g_tmp_seq, 1);
    snprintf(tmp_name, tmp_size, "%d-%llu", (int)getpid(), (unsigned long long)seq);
    int fd = openat(ls->tmp_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return SL_EIO;
    int rc = write_all(fd, data, len);
    if (!rc && fsync(fd) != 0)
        rc = SL_EIO;
    if (close(fd) != 0 && !rc)
        rc = SL_EIO;
    if (rc)
        unlinkat(ls->tmp_fd, tmp_name, 0);
    return rc;
}

/* Moves the temp file to path by link (once) or rename (replace). */
static int place(const char *tmp_path, const char *path, int mode)
{
    if (mode == OBJSTORE_PUT_REPLACE)
        return rename(tmp_path, path) == 0 ? SL_OK : -errno;
    return link(tmp_path, path) == 0 ? SL_OK : -errno;
}

static int local_put(objstore *os, const char *key, const void *data, size_t len, int mode,
                     errmsg *e)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX], tmp_name[64], tmp_path[PATH_MAX];
    int rc = key_path(ls, key, path, e);
    if (rc)
        return rc;
    if ((rc = write_temp(ls, data, len, tmp_name, sizeof tmp_name)))
        return errmsg_set(e, rc, "object %s: cannot write temp file: %s", key, strerror(errno));
    snprintf(tmp_path, sizeof tmp_path, "%s/" OBJSTORE_LOCAL_TMP "/%s", ls->root, tmp_name);
    int sys = place(tmp_path, path, mode);
    if (sys == -ENOENT) {
        /* The first object of a stream: create its directories, then retry once. */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        if ((rc = ensure_dir(ls, dir))) {
            errmsg_set(e, rc, "object %s: cannot create its directory: %s", key,
                       strerror(errno));
            goto out;
        }
        sys = place(tmp_path, path, mode);
    }
    if (sys == -EEXIST) {
        int same = same_content(path, data, len);
        if (same < 0)
            rc = errmsg_set(e, same, "object %s: cannot read the existing object", key);
        else if (!same)
            rc = errmsg_set(e, SL_EEXIST, "object %s exists with different content", key);
        goto out; /* identical bytes: the put is idempotent and already durable */
    }
    if (sys) {
        rc = errmsg_set(e, SL_EIO, "object %s: cannot move into place: %s", key, strerror(-sys));
        goto out;
    }
    if ((rc = fsync_parent(path)))
        errmsg_set(e, rc, "object %s: cannot fsync its directory", key);
out:
    /* After rename the temp name is gone already; after link (or failure) remove it. */
    unlinkat(ls->tmp_fd, tmp_name, 0);
    return rc;
}

/* Opens key for reading and returns its size; SL_ENOTFOUND if absent. */
static int open_obj(local_store *ls, const char *key, int *fd_out, uint64_t *size, errmsg *e)
{
    char path[PATH_MAX];
    int rc = key_path(ls, key, path, e);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? errmsg_set(e, SL_ENOTFOUND, "object %s not found", key)
                   : errmsg_set(e, SL_EIO, "object %s: %s", key, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errmsg_set(e, SL_ENOTFOUND, "object %s is not a regular file", key);
    }
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return SL_OK;
}

static int read_into(int fd, const char *key, uint64_t offset, size_t len, dbuf *out, errmsg *e)
{
    int rc = dbuf_reserve_exact(out, len); /* the size is known: no slack */
    if (rc)
        return errmsg_set(e, rc, "object %s: %zu bytes do not fit the reader's buffer", key, len);
    if ((rc = read_all(fd, out->p + out->len, len, offset)))
        return errmsg_set(e, rc, "object %s: read failed", key);
    out->len += len;
    out->p[out->len] = 0;
    return SL_OK;
}

static int local_get(objstore *os, const char *key, dbuf *out, errmsg *e)
{
    int fd;
    uint64_t size;
    int rc = open_obj((local_store *)os, key, &fd, &size, e);
    if (rc)
        return rc;
    if (size > SIZE_MAX / 2)
        rc = errmsg_set(e, SL_ETOOBIG, "object %s is too large", key);
    else
        rc = read_into(fd, key, 0, (size_t)size, out, e);
    close(fd);
    return rc;
}

static const uint8_t g_empty[8];

static int local_map(objstore *os, const char *key, const uint8_t **p, size_t *len, errmsg *e)
{
    int fd;
    uint64_t size;
    int rc = open_obj((local_store *)os, key, &fd, &size, e);
    if (rc)
        return rc;
    if (size > SIZE_MAX / 2) {
        close(fd);
        return errmsg_set(e, SL_ETOOBIG, "object %s is too large", key);
    }
    if (size == 0) {
        close(fd);
        *p = g_empty;
        *len = 0;
        return SL_OK;
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return errmsg_set(e, SL_EIO, "object %s: cannot map: %s", key, strerror(errno));
    *p = m;
    *len = (size_t)size;
    return SL_OK;
}

static void local_unmap(objstore *os, const uint8_t *p, size_t len)
{
    (void)os;
    if (p && p != g_empty && len)
        munmap((void *)p, len);
}

static int local_get_range(objstore *os, const char *key, uint64_t offset, size_t len,
                           dbuf *out, errmsg *e)
{
    int fd;
    uint64_t size;
    int rc = open_obj((local_store *)os, key, &fd, &size, e);
    if (rc)
        return rc;
    if (offset > size || len > size - offset)
        rc = errmsg_set(e, SL_EINVAL, "object %s: range %llu+%zu past its end (%llu bytes)",
                        key, (unsigned long long)offset, len, (unsigned long long)size);
    else
        rc = read_into(fd, key, offset, len, out, e);
    close(fd);
    return rc;
}

static int local_stat(objstore *os, const char *key, objstore_stat *out, errmsg *e)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    int rc = key_path(ls, key, path, e);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return errmsg_set(e, SL_ENOTFOUND, "object %s not found", key);
    out->size_bytes = (uint64_t)st.st_size;
    out->mtime_ns = mtime_ns(&st);
    return SL_OK;
}

static int local_del(objstore *os, const char *key, errmsg *e)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    int rc = key_path(ls, key, path, e);
    if (rc)
        return rc;
    if (unlink(path) != 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? errmsg_set(e, SL_ENOTFOUND, "object %s not found", key)
                   : errmsg_set(e, SL_EIO, "object %s: %s", key, strerror(errno));
    if ((rc = fsync_parent(path)))
        return errmsg_set(e, rc, "object %s: cannot fsync its directory", key);
    return SL_OK;
}

typedef struct list_ctx {
    local_store *ls;
    objstore_list_fn fn;
    void *arg;
    errmsg *e;
} list_ctx;

/*
 * Lists directory `rel` (a key prefix ending at a segment boundary, "" for the
 * root), keeping entries whose name starts with name_prefix; subdirectories
 * that match are listed whole.  Names starting with '.' (temp files) are skipped.
 */
static int list_dir(list_ctx *c, const char *rel, const char *name_prefix)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", c->ls->root, rel);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR
                   ? SL_OK
                   : errmsg_set(c->e, SL_EIO, "cannot list %s: %s", path, strerror(errno));
    int rc = SL_OK;
    size_t np = strlen(name_prefix);
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strncmp(de->d_name, name_prefix, np) != 0)
            continue;
        char key[PATH_MAX];
        int kl = snprintf(key, sizeof key, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        if (kl < 0 || kl > OBJSTORE_MAX_KEY)
            continue;
        char fpath[PATH_MAX];
        if (snprintf(fpath, sizeof fpath, "%s/%s", c->ls->root, key) >= (int)sizeof fpath)
            continue;
        struct stat st;
        if (stat(fpath, &st) != 0)
            continue; /* deleted while we listed */
        if (S_ISDIR(st.st_mode)) {
            rc = list_dir(c, key, "");
        } else if (S_ISREG(st.st_mode)) {
            objstore_stat os = {(uint64_t)st.st_size, mtime_ns(&st)};
            rc = c->fn(c->arg, key, &os);
        }
    }
    closedir(d);
    return rc;
}

static int local_list(objstore *os, const char *prefix, objstore_list_fn fn, void *arg,
                      errmsg *e)
{
    list_ctx c = {(local_store *)os, fn, arg, e};
    size_t n = strlen(prefix);
    if (n > OBJSTORE_MAX_KEY || strstr(prefix, "..") || prefix[0] == '/')
        return errmsg_set(e, SL_EINVAL, "bad object key prefix '%s'", prefix);
    char rel[OBJSTORE_MAX_KEY + 1];
    memcpy(rel, prefix, n + 1);
    char *slash = strrchr(rel, '/');
    if (!slash)
        return list_dir(&c, "", prefix);
    *slash = 0;
    return list_dir(&c, rel, slash + 1);
}

static void local_close(objstore *os)
{
    local_store *ls = (local_store *)os;
    if (ls->lock_fd >= 0)
        close(ls->lock_fd); /* releases the flock */
    if (ls->tmp_fd >= 0)
        close(ls->tmp_fd);
    sl_free(ls->root);
    sl_free(ls);
}

static const objstore_ops g_local_ops = {local_put,  local_get,  local_get_range, local_stat,
                                         local_del,  local_list, local_close,     local_map,
                                         local_unmap, NULL,       1};

/* Removes every leftover temp file (puts interrupted by a crash). */
static int clean_tmp(local_store *ls, errmsg *e)
{
    int fd = dup(ls->tmp_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return errmsg_set(e, SL_EIO, "cannot read %s/" OBJSTORE_LOCAL_TMP, ls->root);
    }
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && unlinkat(ls->tmp_fd, de->d_name, 0) == 0)
            removed++;
    closedir(d);
    if (removed && fsync(ls->tmp_fd) != 0)
        return errmsg_set(e, SL_EIO, "cannot fsync %s/" OBJSTORE_LOCAL_TMP, ls->root);
    return SL_OK;
}

/* mkdir -p for the root itself (its parents are the operator's, not the store's). */
static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return SL_EIO;
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return SL_EIO;
    return SL_OK;
}

int objstore_local_open(const char *dir, objstore **out, errmsg *e)
{
    int rc = SL_OK;
    local_store *ls = sl_calloc(1, sizeof *ls);
    if (!ls)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    ls->base.ops = &g_local_ops;
    ls->tmp_fd = -1;
    ls->lock_fd = -1;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n + OBJSTORE_MAX_KEY + 64 >= PATH_MAX) {
        rc = errmsg_set(e, SL_EINVAL, "object store directory '%s' is empty or too long", dir);
        goto out;
    }
    if (!(ls->root = sl_strndup(dir, n))) {
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        goto out;
    }
    ls->root_len = n;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/" OBJSTORE_LOCAL_TMP, ls->root);
    if ((rc = mkdir_p(ls->root))) {
        rc = errmsg_set(e, rc, "cannot create %s: %s", ls->root, strerror(errno));
        goto out;
    }
    /*
     * No fsync of the root for .tmp: it holds only temp files, so losing its
     * entry in a crash loses nothing (the next open makes it again), and an
     * object linked out of it is made durable by its own directory's fsync.
     * On ext4 that fsync would wait for every dirty page of the file system
     * (a previous run's output, say): tens of milliseconds at every start.
     */
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        rc = errmsg_set(e, SL_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    ls->tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ls->tmp_fd < 0) {
        rc = errmsg_set(e, SL_EIO, "cannot open %s: %s", tmp, strerror(errno));
        goto out;
    }
    /*
     * One open store per directory: another one would remove this one's temp
     * files at its start-up.  flock is released by the kernel when the process
     * dies, so a crash never leaves the directory locked.
     */
    ls->lock_fd = openat(ls->tmp_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (ls->lock_fd < 0) {
        /* Read-only file system, permissions, disk full: say which, it is not a lock. */
        rc = errmsg_set(e, SL_EIO, "data directory %s is not writable: cannot open %s/.lock: %s",
                        ls->root, tmp, strerror(errno));
        goto out;
    }
    if (flock(ls->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        rc = err == EWOULDBLOCK
                 ? errmsg_set(e, SL_ESTATE, "object store %s is in use by another process "
                              "(%s/.lock is locked)", ls->root, tmp)
                 : errmsg_set(e, SL_EIO, "cannot lock %s/.lock: %s", tmp, strerror(err));
        goto out;
    }
    rc = clean_tmp(ls, e);
out:
    if (rc) {
        local_close(&ls->base);
        return rc;
    }
    *out = &ls->base;
    return SL_OK;
}
