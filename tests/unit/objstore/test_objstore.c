/*
 * test_objstore.c - the local object store: what a put promises (whole objects,
 * write-once, idempotent), reads with caps and ranges, listing, deletion, key
 * rules, and the startup cleanup of temp files left by a crash.
 */
#include "test.h"
#include "tmpdir.h"

#include "objstore/objstore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

/* A fresh directory under $TMPDIR for one case. */
static void tmp_dir(char *out, size_t n)
{
    test_tmpdir(out, n, "objstore");
}

static objstore *open_store(const char *dir)
{
    objstore *os = NULL;
    errmsg e;
    CHECK_OK(objstore_local_open(dir, &os, &e));
    return os;
}

/* Entries of dir, leaving out dot names (the store's lock file). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

TEST(put_get_roundtrip)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    CHECK_OK(objstore_put(os, "blobs/p1/s1/b1", "hello world", 11, OBJSTORE_PUT_ONCE, &e));
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(objstore_get(os, "blobs/p1/s1/b1", &b, &e));
    CHECK_EQ(b.len, 11);
    CHECK(memcmp(b.p, "hello world", 11) == 0);
    /* The object is a plain file at ROOT/key, as the layout documents. */
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/p1/s1/b1", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_size, 11);
    objstore_stat s;
    CHECK_OK(objstore_stat_get(os, "blobs/p1/s1/b1", &s, &e));
    CHECK_EQ(s.size_bytes, 11);
    CHECK_EQ(objstore_stat_get(os, "blobs/p1/s1/nope", &s, &e), SL_ENOTFOUND);
    dbuf_reset(&b);
    CHECK_EQ(objstore_get(os, "blobs/p1/s1/nope", &b, &e), SL_ENOTFOUND);
    /* No temp file is left behind by successful puts. */
    snprintf(path, sizeof path, "%s/" OBJSTORE_LOCAL_TMP, dir);
    CHECK_EQ(count_entries(path), 0);
    dbuf_free(&b);
    objstore_close(os);
    test_rmtree(dir);
}

TEST(get_range_and_caps)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    CHECK_OK(objstore_put(os, "a/digits", "0123456789", 10, OBJSTORE_PUT_ONCE, &e));
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(objstore_get_range(os, "a/digits", 3, 4, &b, &e));
    CHECK_EQ(b.len, 4);
    CHECK(memcmp(b.p, "3456", 4) == 0);
    dbuf_reset(&b);
    CHECK_OK(objstore_get_range(os, "a/digits", 10, 0, &b, &e));
    CHECK_EQ(b.len, 0);
    CHECK_EQ(objstore_get_range(os, "a/digits", 8, 3, &b, &e), SL_EINVAL);
    CHECK_EQ(objstore_get_range(os, "a/digits", 11, 0, &b, &e), SL_EINVAL);
    dbuf_free(&b);
    /* A reader's cap is respected: the object is refused, not truncated. */
    dbuf small;
    dbuf_init(&small, 5);
    CHECK_EQ(objstore_get(os, "a/digits", &small, &e), SL_ETOOBIG);
    CHECK_EQ(small.len, 0);
    dbuf_free(&small);
    objstore_close(os);
    test_rmtree(dir);
}

TEST(write_once_is_idempotent)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    CHECK_OK(objstore_put(os, "k/x", "same", 4, OBJSTORE_PUT_ONCE, &e));
    /* The same bytes again: accepted, nothing changes. */
    CHECK_OK(objstore_put(os, "k/x", "same", 4, OBJSTORE_PUT_ONCE, &e));
    /* Different bytes (even a prefix): refused, the first content stays. */
    CHECK_EQ(objstore_put(os, "k/x", "other", 5, OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    CHECK(strstr(e.text, "different content") != NULL);
    CHECK_EQ(objstore_put(os, "k/x", "sam", 3, OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(objstore_get(os, "k/x", &b, &e));
    CHECK_EQ(b.len, 4);
    CHECK(memcmp(b.p, "same", 4) == 0);
    /* Replace exists for orphans and does replace. */
    CHECK_OK(objstore_put(os, "k/x", "newer!", 6, OBJSTORE_PUT_REPLACE, &e));
    dbuf_reset(&b);
    CHECK_OK(objstore_get(os, "k/x", &b, &e));
    CHECK_EQ(b.len, 6);
    char path[512];
    snprintf(path, sizeof path, "%s/" OBJSTORE_LOCAL_TMP, dir);
    CHECK_EQ(count_entries(path), 0);
    dbuf_free(&b);
    objstore_close(os);
    test_rmtree(dir);
}

TEST(large_object)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    size_t n = 3u << 20;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 13));
    CHECK_OK(objstore_put(os, "big/one", data, n, OBJSTORE_PUT_ONCE, &e));
    CHECK_OK(objstore_put(os, "big/one", data, n, OBJSTORE_PUT_ONCE, &e));
    data[n - 1] ^= 1; /* a difference in the last byte is still a difference */
    CHECK_EQ(objstore_put(os, "big/one", data, n, OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    data[n - 1] ^= 1;
    dbuf b;
    dbuf_init(&b, 4u << 20);
    CHECK_OK(objstore_get(os, "big/one", &b, &e));
    CHECK_EQ(b.len, n);
    CHECK(memcmp(b.p, data, n) == 0);
    dbuf_free(&b);
    free(data);
    objstore_close(os);
    test_rmtree(dir);
}

typedef struct listed {
    char keys[16][128];
    uint64_t sizes[16];
    int n;
} listed;

static int collect(void *arg, const char *key, const objstore_stat *st)
{
    listed *l = arg;
    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
        l->sizes[l->n++] = st->size_bytes;
    }
    return 0;
}

static int has_key(const listed *l, const char *k)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->keys[i], k))
            return 1;
    return 0;
}

TEST(list_by_prefix_and_delete)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    const char *keys[] = {"blobs/p1/s1/b1", "blobs/p1/s1/b2", "blobs/p1/s2/b3", "blobs/p2/s3/b4",
                          "views/x"};
    for (int i = 0; i < 5; i++)
        CHECK_OK(objstore_put(os, keys[i], keys[i], strlen(keys[i]), OBJSTORE_PUT_ONCE, &e));
    listed l = {0};
    CHECK_OK(objstore_list(os, "blobs/p1/", collect, &l, &e));
    CHECK_EQ(l.n, 3);
    CHECK(has_key(&l, "blobs/p1/s1/b1") && has_key(&l, "blobs/p1/s2/b3"));
    memset(&l, 0, sizeof l);
    CHECK_OK(objstore_list(os, "blobs/p1/s1/b", collect, &l, &e));
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.sizes[0], 14);
    memset(&l, 0, sizeof l);
    CHECK_OK(objstore_list(os, "", collect, &l, &e));
    CHECK_EQ(l.n, 5); /* the temp directory is never listed */
    memset(&l, 0, sizeof l);
    CHECK_OK(objstore_list(os, "nothing/here/", collect, &l, &e));
    CHECK_EQ(l.n, 0);

    CHECK_OK(objstore_delete(os, "blobs/p1/s1/b1", &e));
    CHECK_EQ(objstore_delete(os, "blobs/p1/s1/b1", &e), SL_ENOTFOUND);
    memset(&l, 0, sizeof l);
    CHECK_OK(objstore_list(os, "blobs/", collect, &l, &e));
    CHECK_EQ(l.n, 3);
    CHECK(!has_key(&l, "blobs/p1/s1/b1"));
    objstore_close(os);
    test_rmtree(dir);
}

TEST(bad_keys_refused)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    const char *bad[] = {"", "/abs", "a//b", "a/../b", "../up", "a/.hidden", "a/b/",
                         "sp ace", "a\\b", ".tmp/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(objstore_put(os, bad[i], "x", 1, OBJSTORE_PUT_ONCE, &e), SL_EINVAL);
        CHECK_EQ(objstore_delete(os, bad[i], &e), SL_EINVAL);
    }
    listed l = {0};
    CHECK_EQ(objstore_list(os, "../", collect, &l, &e), SL_EINVAL);
    CHECK_EQ(count_entries(dir), 0); /* nothing but the hidden .tmp */
    objstore_close(os);
    test_rmtree(dir);
}

TEST(startup_removes_temp_files)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir);
    errmsg e;
    CHECK_OK(objstore_put(os, "blobs/p/s/b", "kept", 4, OBJSTORE_PUT_ONCE, &e));
    objstore_close(os);
    /* Simulate puts cut short by a crash: half-written temp files. */
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/" OBJSTORE_LOCAL_TMP "/999-%d", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0);
        CHECK(write(fd, "part", 4) == 4);
        close(fd);
    }
    snprintf(path, sizeof path, "%s/" OBJSTORE_LOCAL_TMP, dir);
    CHECK_EQ(count_entries(path), 3);
    os = open_store(dir);
    CHECK_EQ(count_entries(path), 0);
    /* Finished objects are untouched. */
    dbuf b;
    dbuf_init(&b, 64);
    CHECK_OK(objstore_get(os, "blobs/p/s/b", &b, &e));
    CHECK_EQ(b.len, 4);
    dbuf_free(&b);
    objstore_close(os);
    test_rmtree(dir);
}

TEST(open_creates_missing_root)
{
    char dir[256], root[300];
    tmp_dir(dir, sizeof dir);
    snprintf(root, sizeof root, "%s/a/b/c/", dir);
    objstore *os = open_store(root);
    errmsg e;
    CHECK_OK(objstore_put(os, "x", "1", 1, OBJSTORE_PUT_ONCE, &e));
    objstore_close(os);
    /* A root that is a file cannot be a store. */
    snprintf(root, sizeof root, "%s/a/b/c/x", dir);
    os = NULL;
    CHECK(objstore_local_open(root, &os, &e) < 0);
    CHECK(os == NULL);
    test_rmtree(dir);
}

TEST(one_store_per_directory)
{
    char dir[256];
    tmp_dir(dir, sizeof dir);
    objstore *os = open_store(dir), *other = NULL;
    errmsg e;
    /* A second store on the same directory would delete the first one's temp files. */
    CHECK_EQ(objstore_local_open(dir, &other, &e), SL_ESTATE);
    CHECK(strstr(e.text, "in use") != NULL);
    CHECK(other == NULL);
    objstore_close(os);
    /* Once the first is closed the directory is free again. */
    os = open_store(dir);
    CHECK_OK(objstore_put(os, "a", "1", 1, OBJSTORE_PUT_ONCE, &e));
    objstore_close(os);
    test_rmtree(dir);
}
