/*
 * tmpdir.h - scratch directories for unit tests that touch the file system.
 *
 * test_tmpdir makes a fresh directory under $TMPDIR (or /tmp); test_rmtree
 * removes it at the end of a passing case.  A failing case exits before its
 * cleanup, so its directory stays behind for inspection.
 */
#ifndef SL_TEST_TMPDIR_H
#define SL_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline void test_tmpdir(char *out, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/sl-%s-XXXXXX", t && t[0] ? t : "/tmp", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path) == 0 ? 0 : 0;
}

static inline void test_rmtree(const char *dir)
{
    nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
