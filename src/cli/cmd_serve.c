/*
 * cmd_serve.c - `streamlake serve` (not written yet).
 */
#include "cli/cli.h"

#include <stdio.h>

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "streamlake %s: not implemented yet\n", argv[0]);
    return 1;
}
