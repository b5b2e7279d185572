/*
 * cli.h - the `streamlake` command: subcommand entry points and argument helpers.
 *
 * Each subcommand lives in its own cmd_<name>.c and has the signature
 * int cmd_<name>(int argc, char **argv), with argv[0] the subcommand name.  It
 * returns the process exit code: 0 success, 1 failure, 2 usage error.  Every
 * subcommand answers --help with its usage on stdout and exit code 0.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stddef.h>
#include <stdint.h>

int cmd_serve(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_processes(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_materialize(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_analyze(int argc, char **argv);

/*
 * Option parsing shared by subcommands: `--name value` or `--name=value`.
 * cli_opt returns 1 and sets *value when argv[*i] is option `name` (advancing *i
 * past a separate value), 0 when it is another argument, and -1 (after printing
 * an error) when the value is missing.
 */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* cli_opt for any of n options: names[k]'s value goes to *dst[k]. */
int cli_opt_any(int argc, char **argv, int *i, const char *const *names, const char **const *dst,
                size_t n);
/* Parses a non-negative integer option value; prints an error and returns -1 if bad. */
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/*
 * Parses a time option (RFC 3339 date-time or integer ns; far times clamp, as
 * everywhere: base/clock.h).  NULL is fine (no value: 0, nothing set).  Prints
 * an error naming the option and returns -1 if the text is not a valid time.
 */
int cli_parse_time(const char *opt, const char *s, int64_t *ns);
/*
 * Parses a duration: a positive integer and one unit, s, m, h or d ("30d"), with
 * nothing else (no sign, space or fraction).  Prints an error and returns -1 if bad.
 */
int cli_parse_duration(const char *opt, const char *s, int64_t *ns);
/* True if argv contains -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
