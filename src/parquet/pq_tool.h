/*
 * pq_tool.h - what the two halves of pq_tool (pq_tool.c, pq_tool_bench.c)
 * share: command-line option helpers and the benchmark commands.
 */
#ifndef SL_PARQUET_PQ_TOOL_H
#define SL_PARQUET_PQ_TOOL_H

#include <stdbool.h>

/* The argument after name in argv, or dflt when name is absent. */
const char *pq_tool_opt(int argc, char **argv, const char *name, const char *dflt);
/* Whether name appears in argv. */
bool pq_tool_flag(int argc, char **argv, const char *name);
/* Splits "a,b,c" in place into at most max names; returns how many. */
int pq_tool_split(char *s, const char **names, int max);

int pq_tool_bench_spans(int argc, char **argv);
int pq_tool_bench_scan(int argc, char **argv);

#endif
