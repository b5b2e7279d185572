/*
 * procinfo.c - who this process is: the fields of the process message.
 *
 * Everything is read once, by the sender thread, before the first message:
 * the executable path, user, host, distribution and CPU brand come from the
 * usual Linux sources; the parent process id comes from the environment
 * variable STREAMLAKE_PARENT_PROCESS_ID, which a traced program may set for
 * the children it starts (sl_process_id() gives the value to pass).
 */
#include "client/client.h"

#include "wire/wire.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads the value of `key` from a "key: value" or key=value text file. */
static void read_keyed(const char *path, const char *key, char sep, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (!f)
        return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *v = strchr(line + kl, sep);
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t' || *v == '"')
            v++;
        size_t l = strcspn(v, "\"\n");
        snprintf(out, n, "%.*s", (int)l, v);
        break;
    }
    fclose(f);
}

static wire_str ws(const char *s)
{
    return (wire_str){s, (uint32_t)strnlen(s, WIRE_MAX_STRING)};
}

int cl_process_message(const sl_config *cfg, dbuf *out)
{
    char exe[1024] = "", user[256] = "", real[256] = "", host[256] = "", distro[256] = "",
         cpu[256] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    struct passwd pw, *ppw = NULL;
    char pwbuf[2048];
    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &ppw) == 0 && ppw) {
        snprintf(user, sizeof user, "%s", pw.pw_name);
        snprintf(real, sizeof real, "%.*s", (int)strcspn(pw.pw_gecos, ","), pw.pw_gecos);
    }
    gethostname(host, sizeof host - 1);
    read_keyed("/etc/os-release", "PRETTY_NAME", '=', distro, sizeof distro);
    read_keyed("/proc/cpuinfo", "model name", ':', cpu, sizeof cpu);

    wire_process p;
    memset(&p, 0, sizeof p);
    p.process_id = g_cl.process_id;
    const char *parent = getenv("STREAMLAKE_PARENT_PROCESS_ID");
    if (parent)
        uuid_parse(parent, &p.parent_process_id); /* left nil when malformed */
    p.start_time_ns = g_cl.start_time_ns;
    p.start_ticks = g_cl.start_ticks;
    p.tsc_frequency = atomic_load(&g_cl.tsc_frequency);
    p.exe = ws(exe);
    p.username = ws(user);
    p.realname = ws(real);
    p.computer = ws(host);
    p.distro = ws(distro);
    p.cpu_brand = ws(cpu);
    /* The OS pid first (traces show it); the program's own properties follow. */
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    wire_kv kv[WIRE_MAX_PROPERTIES];
    kv[0].key = ws("pid");
    kv[0].value = ws(pid);
    size_t np = 1;
    for (size_t i = 0; i < cfg->n_properties && np < WIRE_MAX_PROPERTIES; i++, np++) {
        kv[np].key = ws(cfg->properties[i].key);
        kv[np].value = ws(cfg->properties[i].value);
    }
    p.properties = kv;
    p.n_properties = (uint32_t)np;
    return wire_process_encode(&p, out);
}
