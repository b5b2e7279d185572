/*
 * replay.c - runs a fuzz target without libFuzzer, for the test suite.
 *
 *   replay_X DIR...                 every file of each corpus directory once
 *   replay_X --mutate N SEED DIR... and N deterministic mutations of each file
 *
 * Mutations: bit flips, byte overwrites with boundary values, truncation,
 * insertion and duplication of ranges, and 32-bit length fields set to
 * extremes.  It is a small, repeatable fuzzing pass that every `make test`
 * does; longer coverage-guided runs use the libFuzzer build (make fuzz).
 * Prints "N passed, 0 failed" (inputs run); a crash ends it non-zero.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t g_rng;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    static const uint8_t edges[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
    int rounds = 1 + (int)(rnd() % 4);
    for (int r = 0; r < rounds; r++) {
        size_t pos = len ? rnd() % len : 0;
        switch (rnd() % 6) {
        case 0:
            if (len)
                buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            if (len)
                buf[pos] = edges[rnd() % sizeof edges];
            break;
        case 2:
            len = len ? rnd() % len : 0;
            break;
        case 3: {
            size_t n = 1 + rnd() % 16;
            if (len + n <= cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                for (size_t i = 0; i < n; i++)
                    buf[pos + i] = (uint8_t)rnd();
                len += n;
            }
            break;
        }
        case 4: {
            size_t n = len - pos < 64 ? len - pos : 64;
            if (len + n <= cap) {
                memcpy(buf + len, buf + pos, n);
                len += n;
            }
            break;
        }
        default:
            if (len >= 4 && pos <= len - 4) {
                uint32_t v = (rnd() & 1) ? 0xffffffffu : (uint32_t)(rnd() % 65536);
                memcpy(buf + pos, &v, 4);
            }
        }
    }
    return len;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    long mutations = 0;
    int i = 1;
    if (argc > 3 && !strcmp(argv[1], "--mutate")) {
        mutations = atol(argv[2]);
        g_rng = strtoull(argv[3], NULL, 10) | 1;
        i = 4;
    }
    unsigned long runs = 0, files = 0;
    for (; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            return 1;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
            size_t len;
            uint8_t *data = read_all(path, &len);
            if (!data)
                continue;
            files++;
            LLVMFuzzerTestOneInput(data, len);
            runs++;
            size_t cap = len * 2 + 256;
            uint8_t *buf = malloc(cap);
            for (long m = 0; m < mutations; m++) {
                memcpy(buf, data, len);
                size_t n = mutate(buf, len, cap);
                /* A private copy of exactly n bytes, so ASan sees any overread. */
                uint8_t *exact = malloc(n ? n : 1);
                memcpy(exact, buf, n);
                LLVMFuzzerTestOneInput(exact, n);
                free(exact);
                runs++;
            }
            free(buf);
            free(data);
        }
        closedir(d);
    }
    fprintf(stderr, "replayed %lu corpus files, %lu inputs\n", files, runs);
    printf("%lu passed, 0 failed\n", runs);
    return files ? 0 : 1;
}
