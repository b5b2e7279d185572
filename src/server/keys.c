/*
 * keys.c - the keys file: parsing, lookup, made-up verifiers for unknown
 * names, and appending a new key (see keys.h; the format is in
 * docs/internals/pgwire.md).
 *
 * Parsing reads the whole file (capped at KEYS_FILE_MAX) and stops at the
 * first bad line: a server must not start with half of its credentials.
 */
#include "server/keys.h"

#include "base/alloc.h"
#include "base/base64.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct keyset {
    key_entry *keys;
    int n;
    uint8_t mock_secret[32];         /* for made-up salts of unknown names */
};

static const char *const g_scopes[] = {"ingest", "query", "admin"};

int keys_scopes_parse(const char *s, size_t n, unsigned *out)
{
    *out = 0;
    const char *end = s + n;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        size_t len = (size_t)((comma ? comma : end) - s);
        unsigned bit = 0;
        for (unsigned i = 0; i < 3; i++)
            if (len == strlen(g_scopes[i]) && !memcmp(s, g_scopes[i], len))
                bit = 1u << i;
        if (!bit || (*out & bit))
            return SL_EINVAL;
        *out |= bit;
        if (!comma)
            break;
        s = comma + 1;
    }
    return SL_OK;
}

const char *keys_scopes_text(unsigned scopes, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < 3; i++)
        if (scopes & (1u << i)) {
            int w = snprintf(buf + k, size - k, "%s%s", k ? "," : "", g_scopes[i]);
            if (w < 0 || (size_t)w >= size - k)
                break;
            k += (size_t)w;
        }
    return buf;
}

int keys_name_check(const char *name, size_t n)
{
    if (n == 0 || n > KEYS_NAME_MAX)
        return SL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == '-'))
            return SL_EINVAL;
    }
    return SL_OK;
}

/* ---- parsing ---- */

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next field of a line: its start and length, or false at the end. */
static bool field(const char **p, const char *end, const char **f, size_t *n)
{
    while (*p < end && blank(**p))
        (*p)++;
    if (*p == end)
        return false;
    *f = *p;
    while (*p < end && !blank(**p))
        (*p)++;
    *n = (size_t)(*p - *f);
    return true;
}

/* A comment "# streamlake-keys N": N, or 0 when the comment is any other. */
static long version_comment(const char *p, const char *end)
{
    static const char tag[] = "streamlake-keys";
    p++;
    while (p < end && blank(*p))
        p++;
    if ((size_t)(end - p) <= sizeof tag - 1 || memcmp(p, tag, sizeof tag - 1) ||
        !blank(p[sizeof tag - 1]))
        return 0;
    p += sizeof tag - 1;
    while (p < end && blank(*p))
        p++;
    long v = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9' && p - d < 6)
        v = v * 10 + (*p++ - '0');
    while (p < end && blank(*p))
        p++;
    return p == end && p > d ? v : 0;
}

/* One line without its newline: 1 a key (in *k), 0 nothing, or an error. */
static int parse_line(const char *p, size_t n, key_entry *k, errmsg *e)
{
    const char *end = p + n;
    while (end > p && (blank(end[-1]) || end[-1] == '\r'))
        end--;
    if (memchr(p, 0, (size_t)(end - p)) || memchr(p, '\r', (size_t)(end - p)))
        return errmsg_set(e, SL_ECORRUPT, "a NUL or carriage return inside the line");
    const char *q = p;
    while (q < end && blank(*q))
        q++;
    if (q == end)
        return 0;
    if (*q == '#') {
        long v = version_comment(q, end);
        if (v > KEYS_FORMAT_VERSION)
            return errmsg_set(e, SL_EVERSION, "format version %ld; this build reads version %d",
                              v, KEYS_FORMAT_VERSION);
        return 0;
    }
    const char *f[3];
    size_t fl[3];
    int nf = 0;
    const char *x;
    size_t xl;
    while (field(&q, end, &x, &xl)) {
        if (nf == 3)
            return errmsg_set(e, SL_ECORRUPT, "more than three fields (NAME SCOPES VERIFIER)");
        f[nf] = x;
        fl[nf++] = xl;
    }
    if (nf < 3)
        return errmsg_set(e, SL_ECORRUPT, "expected three fields: NAME SCOPES VERIFIER");
    memset(k, 0, sizeof *k);
    if (keys_name_check(f[0], fl[0]))
        return errmsg_set(e, SL_ECORRUPT, "the name is not 1 to %d characters of "
                          "A-Z a-z 0-9 _ . @ -", KEYS_NAME_MAX);
    memcpy(k->name, f[0], fl[0]);
    if (keys_scopes_parse(f[1], fl[1], &k->scopes))
        return errmsg_set(e, SL_ECORRUPT, "scopes \"%.*s\" are not a comma list of ingest, "
                          "query, admin (each once)", (int)(fl[1] > 64 ? 64 : fl[1]), f[1]);
    errmsg ve = {0};
    if (scram_verifier_parse(f[2], fl[2], &k->verifier, &ve))
        return errmsg_set(e, SL_ECORRUPT, "bad verifier: %s", ve.text);
    return 1;
}

int keys_parse(const char *text, size_t n, keyset **out, errmsg *e)
{
    *out = NULL;
    keyset *ks = sl_calloc(1, sizeof *ks);
    int cap = 0, rc = SL_OK, line = 0;
    if (!ks)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    if (getrandom(ks->mock_secret, sizeof ks->mock_secret, 0) != sizeof ks->mock_secret) {
        rc = errmsg_set(e, SL_EIO, "getrandom: %s", strerror(errno));
        goto out;
    }
    for (const char *p = text, *end = text + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        line++;
        if (len > KEYS_LINE_MAX) {
            rc = errmsg_set(e, SL_ETOOBIG, "line %d: longer than %d characters", line,
                            KEYS_LINE_MAX);
            goto out;
        }
        key_entry k;
        errmsg le = {0};
        int r = parse_line(p, len, &k, &le);
        p = nl ? nl + 1 : end;
        if (r < 0) {
            rc = errmsg_set(e, r, "line %d: %s", line, le.text);
            goto out;
        }
        if (r == 0)
            continue;
        const key_entry *dup = keys_find(ks, k.name);
        if (dup) {
            rc = errmsg_set(e, SL_ECORRUPT, "line %d: key \"%s\" is already on line %d", line,
                            k.name, dup->line);
            goto out;
        }
        if (ks->n == KEYS_MAX) {
            rc = errmsg_set(e, SL_ETOOBIG, "line %d: more than %d keys", line, KEYS_MAX);
            goto out;
        }
        if (ks->n == cap) {
            cap = cap ? cap * 2 : 8;
            key_entry *nk = sl_realloc(ks->keys, sizeof *nk * (size_t)cap);
            if (!nk) {
                rc = errmsg_set(e, SL_ENOMEM, "out of memory");
                goto out;
            }
            ks->keys = nk;
        }
        k.line = line;
        ks->keys[ks->n++] = k;
    }
out:
    if (rc)
        keys_free(ks);
    else
        *out = ks;
    return rc;
}

/* The whole of an open file (at most KEYS_FILE_MAX bytes), NUL-terminated, to free. */
static int read_all(int fd, char **text, size_t *n, errmsg *e)
{
    struct stat st;
    if (fstat(fd, &st))
        return errmsg_set(e, SL_EIO, "%s", strerror(errno));
    if (st.st_size > (off_t)KEYS_FILE_MAX)
        return errmsg_set(e, SL_ETOOBIG, "larger than %u bytes", KEYS_FILE_MAX);
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = sl_malloc(size + 1);
    if (!buf)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    *text = buf;
    *n = got;
    return SL_OK;
}

/* Reads and parses an open keys file; its size and last byte for an append. */
static int load_fd(int fd, const char *path, keyset **out, size_t *size, char *last, errmsg *e)
{
    char *text = NULL;
    size_t n = 0;
    errmsg le = {0};
    int rc = read_all(fd, &text, &n, &le);
    if (rc) {
        sl_free(text);
        return errmsg_set(e, rc, "keys file %s: %s", path, le.text);
    }
    if (size)
        *size = n;
    if (last)
        *last = n ? text[n - 1] : '\n';
    rc = keys_parse(text, n, out, &le);
    sl_free(text);
    return rc ? errmsg_set(e, rc, "keys file %s, %s", path, le.text) : SL_OK;
}

int keys_load(const char *path, keyset **out, errmsg *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "keys file %s: %s", path, strerror(errno));
    int rc = load_fd(fd, path, out, NULL, NULL, e);
    close(fd);
    return rc;
}

void keys_free(keyset *ks)
{
    if (!ks)
        return;
    OPENSSL_cleanse(ks->mock_secret, sizeof ks->mock_secret);
    sl_free(ks->keys);
    sl_free(ks);
}

int keys_count(const keyset *ks)
{
    return ks->n;
}

const key_entry *keys_at(const keyset *ks, int i)
{
    return i >= 0 && i < ks->n ? &ks->keys[i] : NULL;
}

const key_entry *keys_find(const keyset *ks, const char *name)
{
    char want[KEYS_NAME_MAX + 1] = {0};
    size_t n = strnlen(name, sizeof want);
    if (n == sizeof want)
        return NULL;
    memcpy(want, name, n);
    /* every key is compared, all of its bytes: no early exit tells which one matched */
    const key_entry *hit = NULL;
    for (int i = 0; i < ks->n; i++)
        if (!CRYPTO_memcmp(ks->keys[i].name, want, sizeof want))
            hit = &ks->keys[i];
    return hit;
}

void keys_mock_verifier(const keyset *ks, const char *name, scram_verifier *v)
{
    memset(v, 0, sizeof *v);
    v->iterations = ks->n ? ks->keys[0].verifier.iterations : SCRAM_DEFAULT_ITERATIONS;
    v->salt_len = ks->n ? ks->keys[0].verifier.salt_len : SCRAM_DEFAULT_SALT_LEN;
    /* a key for this name, HMAC(secret, name), and from it the salt and the two keys */
    uint8_t k[32], md[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), ks->mock_secret, sizeof ks->mock_secret, (const uint8_t *)name,
         strlen(name), k, &len);
    uint8_t *dst[4] = {v->salt, v->salt + 32, v->stored_key, v->server_key};
    size_t n[4] = {v->salt_len < 32 ? v->salt_len : 32, v->salt_len > 32 ? v->salt_len - 32 : 0,
                   32, 32};
    for (uint8_t i = 0; i < 4; i++) {
        HMAC(EVP_sha256(), k, sizeof k, &i, 1, md, &len);
        memcpy(dst[i], md, n[i]);
    }
    OPENSSL_cleanse(k, sizeof k);
}

/* ---- adding a key ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SL_EIO;
        p += w;
        n -= (size_t)w;
    }
    return SL_OK;
}

/* The line of a new key with a fresh random secret (into secret) and salt. */
static int new_key_line(const char *name, unsigned scopes, char *secret, size_t secret_size,
                        char *line, size_t line_size, errmsg *e)
{
    uint8_t raw[24], salt[SCRAM_DEFAULT_SALT_LEN];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw ||
        getrandom(salt, sizeof salt, 0) != sizeof salt)
        return errmsg_set(e, SL_EIO, "getrandom: %s", strerror(errno));
    char b[40];
    b64_encode(raw, sizeof raw, b, sizeof b, true);
    OPENSSL_cleanse(raw, sizeof raw);
    int k = snprintf(secret, secret_size, "sl_%s", b);
    OPENSSL_cleanse(b, sizeof b);
    if (k < 0 || (size_t)k >= secret_size)
        return errmsg_set(e, SL_EINVAL, "secret buffer too small");
    scram_verifier v;
    char vt[SCRAM_VERIFIER_MAX], sc[32];
    if (scram_verifier_make(secret, salt, sizeof salt, SCRAM_DEFAULT_ITERATIONS, &v) ||
        scram_verifier_format(&v, vt, sizeof vt))
        return errmsg_set(e, SL_EINTERNAL, "cannot compute the verifier");
    k = snprintf(line, line_size, "%s %s %s\n", name, keys_scopes_text(scopes, sc, sizeof sc), vt);
    return k < 0 || (size_t)k >= line_size ? errmsg_set(e, SL_EINTERNAL, "line too long")
                                           : SL_OK;
}

int keys_add(const char *path, const char *name, unsigned scopes, char *secret,
             size_t secret_size, errmsg *e)
{
    if (keys_name_check(name, strlen(name)))
        return errmsg_set(e, SL_EINVAL, "key name \"%.64s\" is not 1 to %d characters of "
                          "A-Z a-z 0-9 _ . @ -", name, KEYS_NAME_MAX);
    if (!scopes || scopes > 7)
        return errmsg_set(e, SL_EINVAL, "no scopes");
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "keys file %s: %s", path, strerror(errno));
    keyset *ks = NULL;
    int rc;
    /* locked from the duplicate check to the append: two adds cannot both take a name */
    while ((rc = flock(fd, LOCK_EX)) && errno == EINTR)
        ;
    if (rc) {
        rc = errmsg_set(e, SL_EIO, "keys file %s: lock: %s", path, strerror(errno));
        goto out;
    }
    size_t n = 0;
    char last = '\n';
    if ((rc = load_fd(fd, path, &ks, &n, &last, e)))
        goto out;
    const key_entry *dup = keys_find(ks, name);
    if (dup) {
        rc = errmsg_set(e, SL_EEXIST, "keys file %s: key \"%s\" exists (line %d)", path, name,
                        dup->line);
        goto out;
    }
    char line[KEYS_LINE_MAX];
    if ((rc = new_key_line(name, scopes, secret, secret_size, line, sizeof line, e)))
        goto out;
    char head[160] = "";
    if (n == 0)
        snprintf(head, sizeof head, "# streamlake keys: NAME SCOPES VERIFIER, one key a line "
                 "(docs/internals/pgwire.md)\n# streamlake-keys %d\n", KEYS_FORMAT_VERSION);
    else if (last != '\n')
        snprintf(head, sizeof head, "\n");
    if (write_all(fd, head, strlen(head)) || write_all(fd, line, strlen(line)) || fsync(fd))
        rc = errmsg_set(e, SL_EIO, "keys file %s: write: %s", path, strerror(errno));
out:
    if (rc && secret_size)
        OPENSSL_cleanse(secret, secret_size);
    keys_free(ks);
    close(fd);
    return rc;
}
