/*
 * replay.c - runs a libFuzzer target without libFuzzer, so every build
 * (gcc, with and without sanitizers) replays the corpus and fuzzes a little.
 *
 *   replay DIR|FILE...                    run each file once
 *   replay --mutate N --seed S DIR...     also run N mutants of each file
 *
 * Mutants are deterministic (xorshift from the seed): bit flips, random
 * bytes, 32-bit little-endian values set to edge numbers (to make lengths and
 * counts lie), truncations, duplicated ranges and varint bytes.  Each input
 * is copied to a heap block of exactly its size so that AddressSanitizer
 * sees the smallest overread.  Prints "N passed, 0 failed" at the end; a
 * crash ends the process (and the test) with the sanitizer's report.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t g_x;
static uint64_t rnd(void)
{
    g_x ^= g_x << 13;
    g_x ^= g_x >> 7;
    g_x ^= g_x << 17;
    return g_x;
}

static long g_runs;

static void run(const uint8_t *p, size_t n)
{
    /* SL_REPLAY_LAST=path keeps the input being run there: after a crash it
     * holds the crashing mutant, ready to be added to the corpus. */
    const char *last = getenv("SL_REPLAY_LAST");
    if (last) {
        FILE *f = fopen(last, "wb");
        if (f) {
            fwrite(p, 1, n, f);
            fclose(f);
        }
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        exit(2);
    memcpy(copy, p, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    g_runs++;
}

static size_t mutate(uint8_t *p, size_t n, size_t cap)
{
    static const uint32_t edges[] = {0,          1,           0x7f,        0x80,       0xff, 0xffff,
                                     0x7fffffff, 0x80000000u, 0xffffffffu, 0x10000000, 4096};
    int steps = 1 + (int)(rnd() % 4);
    for (int s = 0; s < steps && n > 0; s++) {
        size_t at = (size_t)(rnd() % n);
        switch (rnd() % 7) {
        case 0:
            p[at] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            p[at] = (uint8_t)rnd();
            break;
        case 2:
            if (at + 4 <= n) {
                uint32_t v = edges[rnd() % (sizeof edges / sizeof edges[0])];
                for (int k = 0; k < 4; k++)
                    p[at + k] = (uint8_t)(v >> (8 * k));
            }
            break;
        case 3:
            n = at;
            break; /* truncate */
        case 4: {  /* duplicate a range */
            size_t len = (size_t)(rnd() % 64);
            if (at + len <= n && n + len <= cap) {
                memmove(p + at + len, p + at, n - at);
                n += len;
            }
            break;
        }
        case 5:
            p[at] = (uint8_t)(0x80 | rnd());
            break; /* long varints */
        default:
            p[at] = 0;
            break;
        }
    }
    return n;
}

static void one_file(const char *path, long mutants)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t n = len > 0 ? (size_t)len : 0, cap = n + 4096;
    uint8_t *orig = malloc(cap), *buf = malloc(cap);
    if (!orig || !buf || fread(orig, 1, n, f) != n)
        exit(2);
    fclose(f);
    run(orig, n);
    for (long i = 0; i < mutants; i++) {
        memcpy(buf, orig, n);
        run(buf, mutate(buf, n, cap));
    }
    free(orig);
    free(buf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    long mutants = 0;
    g_x = 88172645463325252ull;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            return 2;
        if (!strcmp(argv[i], "--mutate"))
            mutants = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            g_x ^= (uint64_t)atoll(argv[i + 1]) * 0x9e3779b97f4a7c15ull;
    }
    for (; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            char *names[4096];
            int nn = 0;
            for (struct dirent *de; d && (de = readdir(d)) && nn < 4096;)
                if (de->d_name[0] != '.')
                    names[nn++] = strdup(de->d_name);
            if (d)
                closedir(d);
            /* Sorted, so a seed means the same mutants on every machine. */
            qsort(names, (size_t)nn, sizeof names[0], by_name);
            for (int k = 0; k < nn; k++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], names[k]);
                one_file(path, mutants);
                free(names[k]);
            }
        } else {
            one_file(argv[i], mutants);
        }
    }
    printf("replay: %ld inputs\n%ld passed, 0 failed\n", g_runs, g_runs);
    return g_runs > 0 ? 0 : 1;
}
