/*
 * test.h - the unit-test harness.
 *
 * A test file defines cases with TEST(name) { ... } and includes this header
 * once (in exactly one translation unit, which may #include the .c under test
 * to reach static functions).  main() runs every case in a child process with
 * a time limit, so one crash or hang is reported as that case's failure and
 * the others still run.  Run a single case with `./test_x name`.
 *
 * Checks: CHECK(cond), CHECK_EQ(a, b) for integers, CHECK_STR(a, b), CHECK_OK(rc)
 * for functions returning 0 / negative error codes.  A failed check prints the
 * file, line and values and ends the case.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#define _GNU_SOURCE 1
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*test_fn)(void);
typedef struct test_case {
    const char *name;
    test_fn fn;
} test_case;

#define TEST_MAX 512
static test_case g_tests[TEST_MAX];
static int g_ntests;

#define TEST(name)                                                                              \
    static void test_##name(void);                                                             \
    __attribute__((constructor)) static void test_reg_##name(void)                             \
    {                                                                                           \
        if (g_ntests < TEST_MAX)                                                                \
            g_tests[g_ntests++] = (test_case){#name, test_##name};                             \
    }                                                                                           \
    static void test_##name(void)

#define TEST_FAIL(...)                                                                          \
    do {                                                                                        \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                           \
        fprintf(stderr, "\n");                                                                  \
        exit(1);                                                                                \
    } while (0)

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (!(cond))                                                                            \
            TEST_FAIL("CHECK(%s) failed", #cond);                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                          \
    do {                                                                                        \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                   \
        if (va_ != vb_)                                                                         \
            TEST_FAIL("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, va_, vb_);                      \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *sa_ = (a), *sb_ = (b);                                                      \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                                              \
            TEST_FAIL("CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b, sa_ ? sa_ : "(null)",     \
                      sb_ ? sb_ : "(null)");                                                   \
    } while (0)

#define CHECK_OK(expr)                                                                          \
    do {                                                                                        \
        int rc_ = (expr);                                                                       \
        if (rc_ != 0)                                                                           \
            TEST_FAIL("%s returned %d", #expr, rc_);                                           \
    } while (0)

static int test_timeout_s(void)
{
    const char *t = getenv("SL_TEST_TIMEOUT");
    int v = t ? atoi(t) : 0;
    return v > 0 ? v : 120;
}

static int run_one(const test_case *tc)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        alarm((unsigned)test_timeout_s());
        tc->fn();
        fflush(NULL);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st))
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    return 1;
}

int main(int argc, char **argv)
{
    int failed = 0, ran = 0;
    for (int i = 0; i < g_ntests; i++) {
        if (argc > 1 && strcmp(argv[1], g_tests[i].name) != 0)
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = run_one(&g_tests[i]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %s (%.0f ms)\n", r ? "FAIL" : "ok  ", g_tests[i].name, ms);
        failed += r;
        ran++;
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed ? 1 : (ran ? 0 : 1);
}

#endif
