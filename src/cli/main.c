/*
 * main.c - `streamlake`: one binary for every role.  Dispatches to the
 * subcommand named by argv[1]; see docs/ for a page per subcommand.
 */
#include "cli/cli.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command g_commands[] = {
    {"serve", cmd_serve, "run the server (ingestion, JSON API)"},
    {"processes", cmd_processes, "list the processes a server holds"},
    {"job", cmd_job, "list, describe, stop or start a server's continuous jobs"},
    {"loadgen", cmd_loadgen, "run an instrumented load generator against a server"},
    {"import", cmd_import, "send an offline capture directory to a server"},
    {"view", cmd_view, "print the rows of a view (thread_spans, log_entries, ...)"},
    {"materialize", cmd_materialize, "build view partitions ahead of time"},
    {"trace", cmd_trace, "write the Perfetto trace of a process"},
    {"sql", cmd_sql, "run SQL over the lake, or open a SQL shell"},
    {"analyze", cmd_analyze, "report where a process's time went (and its flame graphs)"},
    {"run", cmd_run, "run a file of continuous SQL jobs over files (no server)"},
    {"decode", cmd_decode, "check and print wire messages and payload files as JSON"},
    {"keys", cmd_keys, "add and list the keys of `serve --keys` (PostgreSQL SCRAM logins)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: streamlake <command> [options]\n\n"
               "An observability lakehouse: ingest traces, logs and metrics from\n"
               "instrumented programs and query them.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f, "\nRun `streamlake <command> --help` for a command's options.\n"
               "Commands that talk to a server started with --keys send the key in\n"
               "STREAMLAKE_API_KEY (Authorization: Bearer KEY).\n");
}

/*
 * Batches come and go by the thousand (64k rows, a few hundred KB a column).
 * glibc would map and unmap each of those buffers (they pass its mmap
 * threshold) and hand freed heap back to the kernel, so every batch paid page
 * faults.  Keeping freed memory for reuse makes that churn cheap; the
 * footprint stays what the program's own caps allow.
 */
static void tune_allocator(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int main(int argc, char **argv)
{
    tune_allocator();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("streamlake %s\n", SL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (!strcmp(argv[1], g_commands[i].name))
            return g_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "streamlake: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
