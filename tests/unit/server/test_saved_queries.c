/*
 * test_saved_queries.c - the saved-queries file (src/server/saved_queries.c):
 * create, create-only refusals, replace, list order, delete, caps, bad input
 * changing nothing, a damaged file reported, and writers on several threads.
 */
#include "server/saved_queries.h"

#include "test.h"
#include "tmpdir.h"

#include <pthread.h>

static char *list(const char *dir)
{
    dbuf b;
    dbuf_init(&b, 1 << 24);
    errmsg e = {0};
    CHECK_OK(savedq_list(dir, &b, &e));
    dbuf_append_byte(&b, 0);
    size_t n;
    return (char *)dbuf_take(&b, &n);
}

static int put(const char *dir, const char *name, const char *body, int create_only, int *created)
{
    errmsg e = {0};
    int c = 0;
    int rc = savedq_put(dir, name, body, strlen(body), create_only, &c, &e);
    if (created)
        *created = c;
    return rc;
}

TEST(create_replace_delete)
{
    char dir[256];
    test_tmpdir(dir, sizeof dir, "savedq");
    char *empty = list(dir);
    CHECK_STR(empty, "{\"version\":1,\"queries\":[]}\n");
    free(empty);
    int created;
    CHECK_OK(put(dir, "zeta", "{\"sql\":\"SELECT 2\"}", 1, &created));
    CHECK_EQ(created, 1);
    CHECK_OK(put(dir, "alpha", "{\"sql\":\"SELECT 1\",\"range\":\"1h\",\"x\":[1]}", 1, &created));
    CHECK_EQ(put(dir, "alpha", "{\"sql\":\"SELECT 9\"}", 1, &created), SL_EEXIST);
    CHECK_EQ(created, 0);
    char *l = list(dir);
    CHECK(strstr(l, "\"name\":\"alpha\"") < strstr(l, "\"name\":\"zeta\""));
    CHECK(strstr(l, "SELECT 1") && !strstr(l, "SELECT 9"));
    free(l);
    CHECK_OK(put(dir, "alpha", "{\"sql\":\"SELECT 3\",\"description\":\"three\"}", 0, &created));
    CHECK_EQ(created, 0);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    errmsg e = {0};
    CHECK_OK(savedq_get(dir, "alpha", &b, &e));
    dbuf_append_byte(&b, 0);
    CHECK(strstr((char *)b.p, "\"sql\":\"SELECT 3\"") && strstr((char *)b.p, "\"description\":\"three\""));
    dbuf_free(&b);
    CHECK_OK(savedq_delete(dir, "alpha", &e));
    CHECK_EQ(savedq_delete(dir, "alpha", &e), SL_ENOTFOUND);
    dbuf_init(&b, 1 << 20);
    CHECK_EQ(savedq_get(dir, "alpha", &b, &e), SL_ENOTFOUND);
    dbuf_free(&b);
    test_rmtree(dir);
}

TEST(bad_input_changes_nothing)
{
    char dir[256];
    test_tmpdir(dir, sizeof dir, "savedq");
    CHECK_OK(put(dir, "q", "{\"sql\":\"SELECT 1\"}", 0, NULL));
    char *before = list(dir);
    const char *bodies[] = {"", "{", "[]", "{\"sql\":\"\"}", "{\"sql\":1}", "{\"sql\":null}",
                            "{\"sql\":\"a\\u0000b\"}", "{\"sql\":\"x\",\"range\":7}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        CHECK_EQ(put(dir, "q", bodies[i], 0, NULL), SL_EINVAL);
    const char *names[] = {"", "a b", "a/b", "ü", "..x\n"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_EQ(put(dir, names[i], "{\"sql\":\"x\"}", 0, NULL), SL_EINVAL);
    char longname[SAVEDQ_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_EQ(put(dir, longname, "{\"sql\":\"x\"}", 0, NULL), SL_EINVAL);
    size_t big = SAVEDQ_BODY_MAX + 10;
    char *body = malloc(big + 1);
    memset(body, 'x', big);
    memcpy(body, "{\"sql\":\"", 8);
    memcpy(body + big - 2, "\"}", 2);
    body[big] = 0;
    CHECK_EQ(put(dir, "q", body, 0, NULL), SL_ETOOBIG);
    free(body);
    char *after = list(dir);
    CHECK_STR(before, after);
    free(before);
    free(after);
    test_rmtree(dir);
}

TEST(damaged_file)
{
    char dir[256], path[300];
    test_tmpdir(dir, sizeof dir, "savedq");
    snprintf(path, sizeof path, "%s/saved-queries.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\":1,\"queries\":[{\"name\":\"a\"}]}", f);
    fclose(f);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    errmsg e = {0};
    CHECK_EQ(savedq_list(dir, &b, &e), SL_ECORRUPT);
    CHECK(strstr(errmsg_str(&e), "query 1 is damaged"));
    CHECK_EQ(put(dir, "b", "{\"sql\":\"x\"}", 0, NULL), SL_ECORRUPT);
    dbuf_free(&b);
    test_rmtree(dir);
}

static char g_dir[256];

static void *writer(void *arg)
{
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "t%ld-%d", (long)(intptr_t)arg, i);
        if (put(g_dir, name, "{\"sql\":\"SELECT 1\"}", 1, NULL) != SL_OK)
            return (void *)1;
    }
    return NULL;
}

TEST(concurrent_writers_lose_nothing)
{
    test_tmpdir(g_dir, sizeof g_dir, "savedq");
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    char *l = list(g_dir);
    int n = 0;
    for (const char *p = l; (p = strstr(p, "\"name\":")); p++)
        n++;
    CHECK_EQ(n, 80);
    free(l);
    test_rmtree(g_dir);
}
