/*
 * cmd_keys.c - `streamlake keys add|list`: the keys file of `serve --keys`.
 *
 * `add` draws a secret, appends the line with its SCRAM verifier to the file
 * (server/keys.h) and prints the secret once, on stdout and alone, so a
 * script can take it: the file never holds it and nothing can show it again.
 * `list` prints names and scopes, never anything of a secret.
 */
#include "cli/cli.h"

#include "base/err.h"
#include "server/keys.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake keys add FILE NAME [--scopes LIST]\n"
            "       streamlake keys list FILE\n\n"
            "The keys file of `streamlake serve --keys FILE`: one key a line, NAME SCOPES\n"
            "VERIFIER (a SCRAM-SHA-256 verifier; the file never holds a secret).\n\n"
            "  add FILE NAME    draws a random secret, appends NAME's line to FILE (created\n"
            "                   with mode 0600) and prints the secret once on stdout; a\n"
            "                   PostgreSQL client connects with user NAME and the secret as\n"
            "                   its password.  NAME: 1 to %d characters of A-Z a-z 0-9 _ . @ -\n"
            "  --scopes LIST    comma list of ingest, query, admin (default: query; SQL over\n"
            "                   the PostgreSQL protocol needs query or admin)\n"
            "  list FILE        names and scopes of the keys in FILE\n\n"
            "The format is in docs/internals/pgwire.md (\"The keys file\").\n",
            KEYS_NAME_MAX);
}

static int keys_add_cmd(int argc, char **argv)
{
    const char *file = NULL, *name = NULL, *scopes_text = "query";
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_opt(argc, argv, &i, "--scopes", &v);
        if (r < 0)
            return 2;
        if (r)
            scopes_text = v;
        else if (argv[i][0] == '-' || (file && name)) {
            fprintf(stderr, "streamlake keys add: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!file)
            file = argv[i];
        else
            name = argv[i];
    }
    unsigned scopes;
    if (!file || !name) {
        usage(stderr);
        return 2;
    }
    if (keys_scopes_parse(scopes_text, strlen(scopes_text), &scopes)) {
        fprintf(stderr, "streamlake keys add: --scopes '%s' is not a comma list of ingest, "
                "query, admin (each once)\n", scopes_text);
        return 2;
    }
    char secret[64], sc[32];
    errmsg e = {0};
    if (keys_add(file, name, scopes, secret, sizeof secret, &e)) {
        fprintf(stderr, "streamlake keys add: %s\n", errmsg_str(&e));
        return e.code == SL_EINVAL ? 2 : 1;
    }
    printf("%s\n", secret);
    fflush(stdout);
    memset(secret, 0, sizeof secret);
    fprintf(stderr, "key %s (%s) added to %s; its secret is above, shown this once\n", name,
            keys_scopes_text(scopes, sc, sizeof sc), file);
    return 0;
}

static int keys_list_cmd(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    keyset *ks;
    errmsg e = {0};
    if (keys_load(argv[1], &ks, &e)) {
        fprintf(stderr, "streamlake keys list: %s\n", errmsg_str(&e));
        return 1;
    }
    printf("%-32s %s\n", "NAME", "SCOPES");
    for (int i = 0; i < keys_count(ks); i++) {
        const key_entry *k = keys_at(ks, i);
        char sc[32];
        printf("%-32s %s\n", k->name, keys_scopes_text(k->scopes, sc, sizeof sc));
    }
    keys_free(ks);
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "add"))
        return keys_add_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return keys_list_cmd(argc - 1, argv + 1);
    fprintf(stderr, "streamlake keys: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
