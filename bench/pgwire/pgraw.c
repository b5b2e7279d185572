/*
 * pgraw.c - a minimal PostgreSQL protocol 3 client for benchmarks: the same
 * client for PostgreSQL and streamlake, cheap enough that the server is what
 * is measured.  It reads message headers and skips bodies; it counts rows.
 *
 *   pgraw HOST PORT USER DB stream text|binary|copy|copybin QUERY
 *       the rows of QUERY as text DataRows (simple query), binary DataRows
 *       (Parse/Bind with result format 1/Execute/Sync), or through
 *       COPY (QUERY) TO STDOUT [WITH (FORMAT binary)];
 *       prints {"rows":N,"bytes":B,"seconds":S}
 *   pgraw HOST PORT USER DB latency N QUERY
 *       N round trips of a simple query; prints the median and p99 in us
 *   pgraw HOST PORT USER DB prepared N QUERY MAXKEY
 *       Parse QUERY (one int8 parameter) once, then N Bind/Execute/Sync with
 *       keys 1 + (i * 7919) % MAXKEY as text; median and p99 in us
 *   pgraw HOST PORT USER DB connect N
 *       N connections (startup to ReadyForQuery); median and p99 in us
 *
 * Trust authentication only (loopback benchmarks).  Nothing here is a test.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    uint8_t *buf;
    size_t cap, at, len;
    uint64_t bytes;
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "pgraw: %s\n", what);
    exit(1);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void send_all(conn *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            die("send failed");
        b += w;
        n -= (size_t)w;
    }
}

/* Makes n bytes readable at c->buf + c->at. */
static void need(conn *c, size_t n)
{
    if (c->len - c->at >= n)
        return;
    if (c->at) {
        memmove(c->buf, c->buf + c->at, c->len - c->at);
        c->len -= c->at;
        c->at = 0;
    }
    if (n > c->cap) {
        c->cap = n * 2;
        if (!(c->buf = realloc(c->buf, c->cap)))
            die("out of memory");
    }
    while (c->len < n) {
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r <= 0)
            die("the server closed the connection");
        c->len += (size_t)r;
        c->bytes += (uint64_t)r;
    }
}

/* The next message: its type; *body and *n its body. */
static char next_msg(conn *c, const uint8_t **body, uint32_t *n)
{
    need(c, 5);
    char t = (char)c->buf[c->at];
    uint32_t len = get32(c->buf + c->at + 1);
    if (len < 4)
        die("bad message length");
    need(c, 1 + len);
    *body = c->buf + c->at + 5;
    *n = len - 4;
    c->at += 1 + len;
    if (t == 'E') {
        fprintf(stderr, "pgraw: server error:");
        for (const uint8_t *p = *body; p < *body + *n && *p; p += strlen((const char *)p) + 1)
            fprintf(stderr, " %s", (const char *)p);
        fprintf(stderr, "\n");
        exit(1);
    }
    return t;
}

/* Reads until ReadyForQuery; counts DataRows and CopyData rows (not a binary COPY's
 * header alone, nor its trailer). */
static uint64_t until_ready(conn *c)
{
    uint64_t rows = 0;
    for (;;) {
        const uint8_t *b;
        uint32_t n;
        char t = next_msg(c, &b, &n);
        if (t == 'D' || (t == 'd' && !(n == 2 && b[0] == 0xff && b[1] == 0xff) &&
                         !(n == 19 && !memcmp(b, "PGCOPY", 6))))
            rows++;
        else if (t == 'Z')
            return rows;
    }
}

/* Messages are gathered and sent together at Sync, Query, Terminate (as libpq does). */
static uint8_t g_out[1 << 16];
static size_t g_outn;

static void msg(conn *c, char type, const void *body, size_t n)
{
    if (g_outn + 5 + n > sizeof g_out) {
        send_all(c, g_out, g_outn);
        g_outn = 0;
    }
    if (5 + n > sizeof g_out) {
        uint8_t h[5];
        h[0] = (uint8_t)type;
        put32(h + 1, (uint32_t)(n + 4));
        send_all(c, h, 5);
        send_all(c, body, n);
    } else {
        g_out[g_outn] = (uint8_t)type;
        put32(g_out + g_outn + 1, (uint32_t)(n + 4));
        if (n)
            memcpy(g_out + g_outn + 5, body, n);
        g_outn += 5 + n;
    }
    if (type == 'S' || type == 'Q' || type == 'X') {
        send_all(c, g_out, g_outn);
        g_outn = 0;
    }
}

static void connect_to(conn *c, const char *host, int port, const char *user, const char *db)
{
    memset(c, 0, sizeof *c);
    c->cap = 1 << 20;
    if (!(c->buf = malloc(c->cap)))
        die("out of memory");
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        die("HOST must be an IPv4 address");
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a))
        die("cannot connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t m[512];
    size_t n = 8;
    n += (size_t)snprintf((char *)m + n, sizeof m - n, "user%c%s%cdatabase%c%s%c", 0, user, 0, 0,
                          db, 0);
    m[n++] = 0;
    put32(m, (uint32_t)n);
    put32(m + 4, 196608);
    send_all(c, m, n);
    for (;;) {
        const uint8_t *b;
        uint32_t bn;
        char t = next_msg(c, &b, &bn);
        if (t == 'R' && bn >= 4 && get32(b) != 0)
            die("the server wants a password (pgraw does trust only)");
        if (t == 'Z')
            return;
    }
}

static void query(conn *c, const char *sql)
{
    msg(c, 'Q', sql, strlen(sql) + 1);
}

/* Parse (unnamed, nparams int8 parameters), or Bind + Execute + Sync. */
static void parse(conn *c, const char *name, const char *sql, int nparams)
{
    size_t sn = strlen(sql), nn = strlen(name);
    uint8_t *m = malloc(nn + sn + 16 + 4 * (size_t)nparams);
    size_t n = 0;
    memcpy(m + n, name, nn + 1);
    n += nn + 1;
    memcpy(m + n, sql, sn + 1);
    n += sn + 1;
    m[n++] = 0;
    m[n++] = (uint8_t)nparams;
    for (int i = 0; i < nparams; i++) {
        put32(m + n, 20);
        n += 4;
    }
    msg(c, 'P', m, n);
    free(m);
}

static void bind_execute(conn *c, const char *stmt, const char *param, int result_format)
{
    uint8_t m[256];
    size_t n = 0;
    m[n++] = 0; /* unnamed portal */
    size_t sl = strlen(stmt);
    memcpy(m + n, stmt, sl + 1);
    n += sl + 1;
    m[n++] = 0; /* parameter formats: all text */
    m[n++] = 0;
    m[n++] = 0;
    m[n++] = param ? 1 : 0;
    if (param) {
        size_t pl = strlen(param);
        put32(m + n, (uint32_t)pl);
        n += 4;
        memcpy(m + n, param, pl);
        n += pl;
    }
    m[n++] = 0; /* result formats: one for all */
    m[n++] = 1;
    m[n++] = 0;
    m[n++] = (uint8_t)result_format;
    msg(c, 'B', m, n);
    uint8_t e[5] = {0, 0, 0, 0, 0};
    msg(c, 'E', e, 5);
    msg(c, 'S', NULL, 0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_lat(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    printf("{\"median_us\":%.1f,\"p99_us\":%.1f,\"n\":%d}\n", t[n / 2] * 1e6,
           t[(size_t)n * 99 / 100] * 1e6, n);
}

int main(int argc, char **argv)
{
    if (argc < 7 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: pgraw HOST PORT USER DB stream text|binary|copy|copybin QUERY\n"
                        "       pgraw HOST PORT USER DB latency N QUERY\n"
                        "       pgraw HOST PORT USER DB prepared N QUERY MAXKEY\n"
                        "       pgraw HOST PORT USER DB connect N\n");
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    const char *host = argv[1], *user = argv[3], *db = argv[4], *mode = argv[5];
    int port = atoi(argv[2]);
    conn c;
    if (!strcmp(mode, "connect")) {
        int n = atoi(argv[6]);
        double *t = calloc((size_t)n, sizeof *t);
        for (int i = 0; i < n; i++) {
            double t0 = now();
            connect_to(&c, host, port, user, db);
            t[i] = now() - t0;
            msg(&c, 'X', NULL, 0);
            close(c.fd);
            free(c.buf);
        }
        print_lat(t, n);
        return 0;
    }
    connect_to(&c, host, port, user, db);
    if (!strcmp(mode, "stream") && argc == 8) {
        const char *how = argv[6], *sql = argv[7];
        char *copy = malloc(strlen(sql) + 64);
        uint64_t b0 = c.bytes;
        double t0 = now();
        uint64_t rows;
        if (!strcmp(how, "text")) {
            query(&c, sql);
            rows = until_ready(&c);
        } else if (!strcmp(how, "binary")) {
            parse(&c, "", sql, 0);
            bind_execute(&c, "", NULL, 1);
            rows = until_ready(&c);
        } else if (!strcmp(how, "copy") || !strcmp(how, "copybin")) {
            sprintf(copy, "COPY (%s) TO STDOUT%s", sql,
                    !strcmp(how, "copybin") ? " WITH (FORMAT binary)" : "");
            query(&c, copy);
            rows = until_ready(&c);
        } else {
            die("stream wants text, binary, copy or copybin");
        }
        double dt = now() - t0;
        printf("{\"rows\":%llu,\"bytes\":%llu,\"seconds\":%.4f}\n", (unsigned long long)rows,
               (unsigned long long)(c.bytes - b0), dt);
        free(copy);
    } else if (!strcmp(mode, "latency") && argc == 8) {
        int n = atoi(argv[6]);
        double *t = calloc((size_t)n, sizeof *t);
        for (int i = 0; i < n; i++) {
            double t0 = now();
            query(&c, argv[7]);
            if (until_ready(&c) != 1)
                die("latency: the query must return one row");
            t[i] = now() - t0;
        }
        print_lat(t, n);
    } else if (!strcmp(mode, "prepared") && argc == 9) {
        int n = atoi(argv[6]);
        long maxkey = atol(argv[8]);
        double *t = calloc((size_t)n, sizeof *t);
        parse(&c, "pgraw_q", argv[7], 1);
        msg(&c, 'S', NULL, 0);
        until_ready(&c);
        for (int i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof key, "%ld", 1 + ((long)i * 7919) % maxkey);
            double t0 = now();
            bind_execute(&c, "pgraw_q", key, 0);
            if (until_ready(&c) != 1)
                die("prepared: the query must return one row");
            t[i] = now() - t0;
        }
        print_lat(t, n);
    } else {
        die("bad arguments (pgraw --help)");
    }
    msg(&c, 'X', NULL, 0);
    close(c.fd);
    return 0;
}
