/*
 * fuzz_savedq.c - fuzz target for the saved-queries code (src/server/saved_queries.c):
 * what a client sends (the PUT body, the name in the path) and what it reads back
 * from its file.
 *
 * The first byte picks what the rest is, modulo 3:
 *   0  a PUT body (savedq_check_body)
 *   1  a query name (savedq_check_name): a valid one has only the allowed bytes
 *   2  the saved-queries file of a data directory, listed (savedq_list); a list
 *      that loads is JSON that loads again the same
 * A crash, an out-of-bounds read, a hang or a listing that does not reload is a bug.
 */
#include "server/saved_queries.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];

static void write_file(const char *dir, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/saved-queries.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

static void remove_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/saved-queries.json", g_dir);
    unlink(path);
    rmdir(g_dir);
}

static void list_file(const char *p, size_t n)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/sl-fuzz-savedq-XXXXXX");
        if (!mkdtemp(g_dir))
            abort();
        atexit(remove_dir);
    }
    write_file(g_dir, p, n);
    dbuf a, b;
    dbuf_init(&a, 1u << 30);
    dbuf_init(&b, 1u << 30);
    errmsg e = {0};
    if (savedq_list(g_dir, &a, &e) == SL_OK) {
        write_file(g_dir, a.p, a.len);
        if (savedq_list(g_dir, &b, &e) != SL_OK || a.len != b.len || memcmp(a.p, b.p, a.len))
            abort();
    }
    dbuf_free(&a);
    dbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    errmsg e = {0};
    switch (data[0] % 3) {
    case 0:
        savedq_check_body(p, n, &e);
        break;
    case 1: {
        char name[256];
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, p, n);
        name[n] = 0;
        if (savedq_check_name(name, &e) == SL_OK &&
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                strlen(name))
            abort();
        break;
    }
    default:
        list_file(p, n);
    }
    return 0;
}
