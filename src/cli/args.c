/*
 * args.c - small option-parsing helpers shared by the subcommands.
 */
#include "cli/cli.h"

#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: option %s needs a value\n", argv[0], name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_opt_any(int argc, char **argv, int *i, const char *const *names, const char **const *dst,
                size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const char *v;
        int r = cli_opt(argc, argv, i, names[k], &v);
        if (r > 0)
            *dst[k] = v;
        if (r)
            return r;
    }
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == 0) {
        fprintf(stderr, "option %s: '%s' is not a non-negative integer\n", opt, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        fprintf(stderr, "option %s: '%s' is not a non-negative integer\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_duration(const char *opt, const char *s, int64_t *ns)
{
    static const struct { char unit; int64_t ns; } units[] = {
        {'s', 1000000000LL}, {'m', 60000000000LL}, {'h', 3600000000000LL},
        {'d', 86400000000000LL}};
    size_t n = 0;
    uint64_t v = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 12)
        v = v * 10 + (uint64_t)(s[n++] - '0');
    for (size_t k = 0; n && s[n] && !s[n + 1] && k < sizeof units / sizeof units[0]; k++) {
        if (s[n] == units[k].unit && v > 0 && v <= (uint64_t)(INT64_MAX / units[k].ns)) {
            *ns = (int64_t)v * units[k].ns;
            return 0;
        }
    }
    fprintf(stderr, "option %s: '%s' is not a duration (a positive integer and one unit: "
            "s, m, h or d, e.g. 30d)\n", opt, s);
    return -1;
}

int cli_parse_time(const char *opt, const char *s, int64_t *ns)
{
    if (!s || clock_parse_time(s, ns) == 0)
        return 0;
    fprintf(stderr, "option %s: '%s' is not an RFC 3339 date-time "
            "(YYYY-MM-DDTHH:MM:SS[.frac] then Z or +HH:MM) or integer ns\n", opt, s);
    return -1;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}
