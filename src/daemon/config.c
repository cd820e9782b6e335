/* config.c — vx6d configuration.
 *
 * Three stages.  (1) libyaml's event parser builds a small tree of scalars,
 * lists and mappings, each node carrying its line and column; aliases and
 * anchors are refused there, so nothing is ever expanded, and depth and node
 * count are capped.  (2) A walker checks the tree against a table of known
 * keys per mapping and fills the typed struct, reporting every error with
 * FILE:LINE:COL: KEYPATH.  (3) vx_config_validate() does the cross-field
 * checks on the finished struct.  Nothing here touches files except
 * vx_config_load(); the environment is read only to resolve default paths.
 *
 * Out of memory aborts (like the rest of the *_new() functions): a config
 * is tiny and a half-built one is of no use to anyone.
 */
#include "daemon/config.h"
#include "hidden/hsaddr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH  64
#define MAX_NODES  (1u << 18)
#define MAX_SCALAR 4096

/* ------------------------------------------------------------------------ */
/* Allocation                                                                 */

static void oom(void)
{
    log_err(LD_CONFIG, "out of memory while handling the configuration");
    abort();
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    s = xcalloc((size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Enum names                                                                 */

static const char *const transport_names[] = {"auto", "tcp", "quic", NULL};
static const char *const route_names[] = {"auto", "direct", "relay", NULL};
static const char *const profile_names[] = {"fast", "balanced", NULL};
static const char *const clearnet_names[] = {"deny", "allow", NULL};
static const char *const xdp_mode_names[] = {"native", "generic", NULL};

const char *vx_cfg_transport_name(enum vx_cfg_transport t)
{
    return (unsigned)t <= VX_CFG_TRANSPORT_QUIC ? transport_names[t] : "?";
}

const char *vx_cfg_route_name(enum vx_cfg_route r)
{
    return (unsigned)r <= VX_CFG_ROUTE_RELAY ? route_names[r] : "?";
}

const char *vx_cfg_profile_name(enum vx_cfg_profile p)
{
    return (unsigned)p <= VX_CFG_PROFILE_BALANCED ? profile_names[p] : "?";
}

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                                */

struct diag {
    const char *file;
    char *buf;
    size_t cap, used;
    unsigned n;
};

static void diag_init(struct diag *d, const char *file, char *buf, size_t cap)
{
    d->file = file ? file : "<config>";
    d->buf = cap ? buf : NULL;
    d->cap = d->buf ? cap : 0;
    d->used = 0;
    d->n = 0;
    if (d->cap)
        d->buf[0] = '\0';
}

static void diag_append(struct diag *d, const char *line)
{
    size_t room, n;

    if (!d->cap || d->used + 1 >= d->cap)
        return;
    if (d->used) {
        d->buf[d->used++] = '\n';
        d->buf[d->used] = '\0';
    }
    room = d->cap - d->used - 1;
    n = strlen(line);
    if (n > room)
        n = room;
    memcpy(d->buf + d->used, line, n);
    d->used += n;
    d->buf[d->used] = '\0';
}

static void diag_vadd(struct diag *d, unsigned line, unsigned col, const char *path,
                      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void diag_vadd(struct diag *d, unsigned line, unsigned col, const char *path,
                      const char *fmt, va_list ap)
{
    char msg[600], full[900];

    d->n++;
    if (d->n > VX_CONFIG_MAX_ERRORS)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (line)
        snprintf(full, sizeof(full), "%s:%u:%u: %s%s%s", d->file, line, col, path ? path : "",
                 path && *path ? ": " : "", msg);
    else
        snprintf(full, sizeof(full), "%s: %s%s%s", d->file, path ? path : "",
                 path && *path ? ": " : "", msg);
    diag_append(d, full);
}

static void diag_add(struct diag *d, unsigned line, unsigned col, const char *path, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static void diag_add(struct diag *d, unsigned line, unsigned col, const char *path, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, line, col, path, fmt, ap);
    va_end(ap);
}

static void diag_finish(struct diag *d)
{
    if (d->n > VX_CONFIG_MAX_ERRORS)
        diag_append(d, "(further errors not shown)");
}

/* Quote a value for a message: "...", non-printable bytes as \xNN, long
 * values cut with "...". */
static const char *quote(const char *s, char *out, size_t cap)
{
    size_t o = 0, i;

    out[o++] = '"';
    for (i = 0; s[i] && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    if (s[i]) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* quote() with single quotes, for key names. */
static const char *quote_key(const char *s, char *out, size_t cap)
{
    size_t n = strlen(quote(s, out, cap));
    out[0] = out[n - 1] = '\'';
    return out;
}

/* Escaped text without quotes, for names (&anchor, *alias). */
static const char *quote_bare(const char *s, char *out, size_t cap)
{
    size_t n = strlen(quote(s, out, cap));
    memmove(out, out + 1, n - 2);
    out[n - 2] = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* The YAML tree                                                              */

enum ytype { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
    enum ytype type;
    unsigned line, col;  /* 1-based */
    bool plain;          /* scalar written without quotes */
    char *s;             /* scalar text, NUL-terminated */
    size_t len;          /* scalar length (may differ from strlen: "\0") */
    struct ynode **kids; /* list items; mapping: key, value, key, value ... */
    size_t n, cap;
};

static void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        ynode_free(n->kids[i]);
    free(n->kids);
    free(n->s);
    free(n);
}

static void ynode_add(struct ynode *parent, struct ynode *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->kids = xreallocarray(parent->kids, parent->cap, sizeof(*parent->kids));
    }
    parent->kids[parent->n++] = kid;
}

static bool is_null(const struct ynode *n)
{
    if (!n)
        return true;
    if (n->type != Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
           strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

static const char *type_name(const struct ynode *n)
{
    if (n->type == Y_SEQ)
        return "a list";
    if (n->type == Y_MAP)
        return "a mapping";
    return is_null(n) ? "nothing" : "a single value";
}

static const char *event_anchor(const yaml_event_t *ev)
{
    if (ev->type == YAML_SCALAR_EVENT)
        return (const char *)ev->data.scalar.anchor;
    if (ev->type == YAML_SEQUENCE_START_EVENT)
        return (const char *)ev->data.sequence_start.anchor;
    if (ev->type == YAML_MAPPING_START_EVENT)
        return (const char *)ev->data.mapping_start.anchor;
    return NULL;
}

/* Build the tree of the (single) document in buf.  *root is NULL for an
 * empty stream.  0 or VX_ERR_CONFIG / VX_ERR_NOMEM with a diagnostic. */
static int build_tree(struct diag *d, const char *buf, size_t len, struct ynode **root)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct ynode *stack[MAX_DEPTH];
    size_t depth = 0;
    unsigned docs = 0, nodes = 0;
    int rc = 0, done = 0;
    char q[80];

    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return VX_ERR_NOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = VX_ERR_NOMEM;
            } else {
                const char *problem = p.problem ? p.problem : "malformed YAML";
                if (p.context)
                    diag_add(d, (unsigned)p.problem_mark.line + 1,
                             (unsigned)p.problem_mark.column + 1, NULL,
                             "YAML syntax error: %s (%s at line %u)", problem, p.context,
                             (unsigned)p.context_mark.line + 1);
                else
                    diag_add(d, (unsigned)p.problem_mark.line + 1,
                             (unsigned)p.problem_mark.column + 1, NULL, "YAML syntax error: %s",
                             problem);
                rc = VX_ERR_CONFIG;
            }
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1, col = (unsigned)ev.start_mark.column + 1;
        const char *anchor = event_anchor(&ev);
        struct ynode *n = NULL;

        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                diag_add(d, line, col, NULL,
                         "only one YAML document is allowed (found a second '---')");
                rc = VX_ERR_CONFIG;
            }
            break;
        case YAML_ALIAS_EVENT:
            diag_add(d, line, col, NULL,
                     "YAML aliases (*%s) are not supported: write the value out in full",
                     quote_bare((const char *)ev.data.alias.anchor, q, sizeof(q)));
            rc = VX_ERR_CONFIG;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (anchor) {
                diag_add(d, line, col, NULL,
                         "YAML anchors (&%s) are not supported: write the value out in full",
                         quote_bare(anchor, q, sizeof(q)));
                rc = VX_ERR_CONFIG;
                break;
            }
            if (++nodes > MAX_NODES) {
                diag_add(d, line, col, NULL, "document has too many elements (at most %u)",
                         MAX_NODES);
                rc = VX_ERR_CONFIG;
                break;
            }
            if (ev.type != YAML_SCALAR_EVENT && depth == MAX_DEPTH) {
                diag_add(d, line, col, NULL, "nesting too deep (at most %d levels)", MAX_DEPTH);
                rc = VX_ERR_CONFIG;
                break;
            }
            n = xcalloc(1, sizeof(*n));
            n->line = line;
            n->col = col;
            if (ev.type == YAML_SCALAR_EVENT) {
                n->type = Y_SCALAR;
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                n->len = ev.data.scalar.length;
                n->s = xcalloc(n->len + 1, 1);
                memcpy(n->s, ev.data.scalar.value, n->len);
            } else {
                n->type = ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ;
            }
            if (depth)
                ynode_add(stack[depth - 1], n);
            else if (!*root)
                *root = n;
            else
                ynode_free(n); /* cannot happen: one root per document */
            if (ev.type != YAML_SCALAR_EVENT)
                stack[depth++] = n;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc) {
        ynode_free(*root);
        *root = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The walker                                                                 */

struct ctx {
    struct diag *d;
    char path[256];
    size_t plen;
    struct vx_config *cfg;
};

static size_t path_push_key(struct ctx *c, const char *key)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "", key);
    if (n > 0)
        c->plen = c->plen + (size_t)n < sizeof(c->path) ? c->plen + (size_t)n : sizeof(c->path) - 1;
    return mark;
}

static size_t path_push_index(struct ctx *c, size_t i)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen = c->plen + (size_t)n < sizeof(c->path) ? c->plen + (size_t)n : sizeof(c->path) - 1;
    return mark;
}

static void path_pop(struct ctx *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

static void err_at(struct ctx *c, const struct ynode *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void err_at(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(c->d, n ? n->line : 0, n ? n->col : 0, c->path, fmt, ap);
    va_end(ap);
}

static bool too_many_errors(const struct ctx *c)
{
    return c->d->n > VX_CONFIG_MAX_ERRORS;
}

/* A scalar of at most maxlen bytes, without NUL bytes; else an error. */
static const char *get_scalar(struct ctx *c, const struct ynode *v, const char *what, size_t maxlen)
{
    if (v->type != Y_SCALAR) {
        err_at(c, v, "expected %s, got %s", what, type_name(v));
        return NULL;
    }
    if (strlen(v->s) != v->len) {
        err_at(c, v, "value contains a NUL character");
        return NULL;
    }
    if (v->len > maxlen) {
        err_at(c, v, "value too long (%zu bytes, at most %zu)", v->len, maxlen);
        return NULL;
    }
    return v->s;
}

static int bool_word(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
    for (int i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    return -1;
}

static bool get_bool(struct ctx *c, const struct ynode *v, bool *out)
{
    char q[80];
    const char *s = get_scalar(c, v, "true or false", 16);
    int b;
    if (!s)
        return false;
    if ((b = bool_word(s)) < 0) {
        err_at(c, v, "%s is not a boolean (use true/false, yes/no or on/off)",
               quote(s, q, sizeof(q)));
        return false;
    }
    *out = b;
    return true;
}

/* Decimal digits only, value in [min, max]. */
static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (!*s)
        return VX_ERR_INVAL;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 19)
            return VX_ERR_INVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return VX_ERR_INVAL;
    *out = v;
    return 0;
}

static bool get_uint(struct ctx *c, const struct ynode *v, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    char q[80];
    const char *s = get_scalar(c, v, "a number", 32);
    if (!s)
        return false;
    if (parse_uint(s, min, max, out) < 0) {
        err_at(c, v, "%s is not a whole number between %" PRIu64 " and %" PRIu64,
               quote(s, q, sizeof(q)), min, max);
        return false;
    }
    return true;
}

static bool get_u32(struct ctx *c, const struct ynode *v, uint64_t min, uint64_t max, uint32_t *out)
{
    uint64_t x;
    if (!get_uint(c, v, min, max, &x))
        return false;
    *out = (uint32_t)x;
    return true;
}

int vx_config_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    uint64_t v = 0;
    size_t i;

    if (!s || !ms)
        return VX_ERR_INVAL;
    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i >= 12)
            return VX_ERR_INVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return VX_ERR_INVAL;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (strcmp(s + i, units[u].suffix) == 0) {
            *ms = v * units[u].mult; /* v < 10^12, mult <= 8.64e7: no overflow */
            return 0;
        }
    }
    return VX_ERR_INVAL;
}

static bool get_duration(struct ctx *c, const struct ynode *v, uint64_t min_ms, uint64_t max_ms,
                         uint64_t *out)
{
    char q[80];
    uint64_t ms;
    const char *s = get_scalar(c, v, "a duration", 32);
    if (!s)
        return false;
    if (vx_config_parse_duration(s, &ms) < 0) {
        err_at(c, v, "%s is not a duration (use e.g. 10s, 500ms, 5m or a number of seconds)",
               quote(s, q, sizeof(q)));
        return false;
    }
    if (ms < min_ms || ms > max_ms) {
        err_at(c, v, "%s is out of range (%" PRIu64 "ms to %" PRIu64 "s)", quote(s, q, sizeof(q)),
               min_ms, max_ms / 1000);
        return false;
    }
    *out = ms;
    return true;
}

static bool get_enum(struct ctx *c, const struct ynode *v, const char *const *names, int *out)
{
    char q[80], list[128] = "";
    const char *s = get_scalar(c, v, "a word", 32);
    size_t o = 0;
    if (!s)
        return false;
    for (int i = 0; names[i]; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
                              i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
        if (o >= sizeof(list))
            o = sizeof(list) - 1;
    }
    err_at(c, v, "%s is not valid (use %s)", quote(s, q, sizeof(q)), list);
    return false;
}

static bool get_addr(struct ctx *c, const struct ynode *v, unsigned flags, struct vx_addr *out)
{
    char q[80];
    const char *why = "malformed";
    const char *s = get_scalar(c, v, "an address", 200);
    if (!s)
        return false;
    if (vx_addr_parse_ex(s, flags, &out->ss, &out->len, &why) < 0) {
        err_at(c, v, "%s is not a valid address (%s)", quote(s, q, sizeof(q)), why);
        return false;
    }
    return true;
}

/* A DNS label: 1..max of [a-z0-9-], not starting or ending with '-'. */
static const char *label_problem(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0)
        return "is empty";
    if (n > max)
        return "is too long";
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            return "must be lowercase";
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return "may contain only a-z, 0-9 and '-'";
    }
    if (s[0] == '-' || s[n - 1] == '-')
        return "must not start or end with '-'";
    return NULL;
}

static bool get_label(struct ctx *c, const struct ynode *v, size_t max, const char *what,
                      char **out)
{
    char q[80];
    const char *why, *s = get_scalar(c, v, what, 256);
    if (!s)
        return false;
    if ((why = label_problem(s, max)) != NULL) {
        err_at(c, v, "%s is not a valid %s: it %s (1-%zu characters a-z, 0-9 and '-')",
               quote(s, q, sizeof(q)), what, why, max);
        return false;
    }
    free(*out);
    *out = xstrdup(s);
    return true;
}

/* 52 base32 characters that decode to 32 bytes (canonical last char). */
static bool node_id_ok(const char *s)
{
    uint8_t bin[VX_NODE_ID_LEN];
    return vx_node_id_from_str(s, bin) == 0;
}

static void node_id_set(struct vx_cfg_node_id *id, const char *s)
{
    for (size_t i = 0; i <= VX_NODE_ID_STRLEN; i++)
        id->s[i] = (char)tolower((unsigned char)s[i]);
    vx_node_id_from_str(id->s, id->bin);
}

static bool get_node_id(struct ctx *c, const struct ynode *v, struct vx_cfg_node_id *out)
{
    char q[80];
    const char *s = get_scalar(c, v, "a node ID", 128);
    if (!s)
        return false;
    if (!node_id_ok(s)) {
        err_at(c, v, "%s is not a node ID (%d base32 characters a-z, 2-7, as `vx6 id` prints)",
               quote(s, q, sizeof(q)), VX_NODE_ID_STRLEN);
        return false;
    }
    node_id_set(out, s);
    return true;
}

/* A list, or a single scalar taken as a one-item list. */
static bool as_list(struct ctx *c, const struct ynode *v, const char *what, size_t max,
                    struct ynode *const **items, size_t *n)
{
    static struct ynode *const none[1];
    if (v->type == Y_MAP) {
        err_at(c, v, "expected %s, got a mapping", what);
        return false;
    }
    if (v->type == Y_SCALAR) {
        if (is_null(v)) {
            *items = none;
            *n = 0;
            return true;
        }
        *items = NULL;
        *n = 1;
        return true;
    }
    if (v->n > max) {
        err_at(c, v, "too many entries (%zu, at most %zu)", v->n, max);
        return false;
    }
    *items = v->kids;
    *n = v->n;
    return true;
}

/* Item i of what as_list() returned: the scalar itself when items is NULL. */
static const struct ynode *list_item(const struct ynode *v, struct ynode *const *items, size_t i)
{
    return items ? items[i] : v;
}

/* ---- mappings with a fixed set of keys ---- */

struct keydef {
    const char *name;
    void (*fn)(struct ctx *c, const struct ynode *v, void *obj);
};

static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[33], i, j;
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned cost = tolower((unsigned char)a[i - 1]) == b[j - 1] ? 0 : 1;
            unsigned best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *suggest(const char *key, const struct keydef *keys)
{
    const char *best = NULL;
    unsigned bestd = 3;
    size_t len = strlen(key);
    for (size_t i = 0; keys[i].name; i++) {
        unsigned dd = edit_distance(key, keys[i].name);
        if (dd < bestd && (dd <= 1 || len > 4)) {
            bestd = dd;
            best = keys[i].name;
        }
    }
    /* "user" for "username", "max_conn" for "max_connections" */
    for (size_t i = 0; !best && len >= 3 && keys[i].name; i++)
        if (strncmp(keys[i].name, key, len) == 0)
            best = keys[i].name;
    return best;
}

static void walk_map(struct ctx *c, const struct ynode *map, const struct keydef *keys, void *obj,
                     const char *what)
{
    const struct ynode *first[32] = {0};
    char q[80];

    if (map->type != Y_MAP) {
        err_at(c, map, "expected %s, got %s", what, type_name(map));
        return;
    }
    for (size_t i = 0; i + 1 < map->n && !too_many_errors(c); i += 2) {
        const struct ynode *k = map->kids[i], *v = map->kids[i + 1];
        size_t idx, mark;

        if (k->type != Y_SCALAR || strlen(k->s) != k->len) {
            err_at(c, k, "keys must be plain words, got %s", type_name(k));
            continue;
        }
        for (idx = 0; keys[idx].name; idx++)
            if (strcmp(keys[idx].name, k->s) == 0)
                break;
        if (!keys[idx].name) {
            const char *sug = suggest(k->s, keys);
            if (sug)
                err_at(c, k, "unknown key %s (did you mean '%s'?)", quote_key(k->s, q, sizeof(q)),
                       sug);
            else
                err_at(c, k, "unknown key %s", quote_key(k->s, q, sizeof(q)));
            continue;
        }
        mark = path_push_key(c, k->s);
        if (idx < 32 && first[idx]) {
            err_at(c, k, "duplicate key (first given at line %u)", first[idx]->line);
        } else {
            if (idx < 32)
                first[idx] = k;
            if (!is_null(v))
                keys[idx].fn(c, v, obj);
        }
        path_pop(c, mark);
    }
}

static const struct ynode *map_get(const struct ynode *map, const char *key)
{
    if (map->type != Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (map->kids[i]->type == Y_SCALAR && strcmp(map->kids[i]->s, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Key handlers                                                               */

#define CFG(obj) ((struct vx_config *)(obj))

static void set_path(struct ctx *c, const struct ynode *v, size_t max, char **out)
{
    const char *s = get_scalar(c, v, "a path", VX_CONFIG_MAX_PATH);
    if (!s)
        return;
    if (s[0] != '/') {
        char q[80];
        err_at(c, v, "%s is not an absolute path", quote(s, q, sizeof(q)));
        return;
    }
    if (strlen(s) > max) {
        err_at(c, v, "path too long (%zu bytes, at most %zu)", strlen(s), max);
        return;
    }
    free(*out);
    *out = xstrdup(s);
}

static void h_data_dir(struct ctx *c, const struct ynode *v, void *obj)
{
    set_path(c, v, VX_CONFIG_MAX_PATH, &CFG(obj)->data_dir);
}

static void h_control_socket(struct ctx *c, const struct ynode *v, void *obj)
{
    set_path(c, v, VX_CONFIG_MAX_SOCKPATH, &CFG(obj)->control_socket);
}

static void h_user(struct ctx *c, const struct ynode *v, void *obj)
{
    get_label(c, v, VX_CONFIG_MAX_USER, "user name", &CFG(obj)->user);
}

/* vx_log_configure() syntax, checked without applying it. */
static const char *log_spec_problem(const char *spec, char *bad, size_t badlen)
{
    char buf[256], *save = NULL, *tok;
    if (strlen(spec) >= sizeof(buf))
        return "is too long";
    strcpy(buf, spec);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(tok, '=');
        snprintf(bad, badlen, "%s", tok);
        if (!eq) {
            if (vx_log_level_parse(tok) < 0)
                return "unknown level";
            continue;
        }
        *eq = '\0';
        if (vx_log_domain_parse(tok) < 0) {
            snprintf(bad, badlen, "%s", tok);
            return "unknown log domain";
        }
        if (vx_log_level_parse(eq + 1) < 0) {
            snprintf(bad, badlen, "%s", eq + 1);
            return "unknown level";
        }
    }
    return NULL;
}

static void h_log_level(struct ctx *c, const struct ynode *v, void *obj)
{
    char q[80], bad[64] = "";
    const char *why, *s = get_scalar(c, v, "a log level", 255);
    if (!s)
        return;
    if ((why = log_spec_problem(s, bad, sizeof(bad))) != NULL) {
        err_at(c, v,
               "%s: %s '%s' (use debug, info, notice, warn or error, optionally followed by "
               "domain=level pairs such as dht=debug)",
               quote(s, q, sizeof(q)), why, bad);
        return;
    }
    free(CFG(obj)->log_level);
    CFG(obj)->log_level = xstrdup(s);
}

static void h_listen(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    struct ynode *const *items;
    size_t n;
    if (!as_list(c, v, "a list of addresses", VX_CONFIG_MAX_LISTEN, &items, &n))
        return;
    free(cfg->listen);
    cfg->listen = xcalloc(n, sizeof(*cfg->listen));
    cfg->n_listen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = items ? path_push_index(c, i) : c->plen;
        if (get_addr(c, list_item(v, items, i), VX_ADDR_BARE_PORT_ANY | VX_ADDR_PORT0,
                     &cfg->listen[cfg->n_listen]))
            cfg->n_listen++;
        path_pop(c, mark);
    }
}

static void h_transport(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, transport_names, &e))
        CFG(obj)->transport = (enum vx_cfg_transport)e;
}

/* "off" (or false) or an address. */
static void addr_or_off(struct ctx *c, const struct ynode *v, bool *enabled, struct vx_addr *a)
{
    if (v->type == Y_SCALAR && bool_word(v->s) == 0) {
        *enabled = false;
        return;
    }
    if (v->type != Y_SCALAR) {
        err_at(c, v, "expected an address or off, got %s", type_name(v));
        return;
    }
    if (get_addr(c, v, VX_ADDR_BARE_PORT_LOOPBACK | VX_ADDR_PORT0, a))
        *enabled = true;
}

static void h_socks(struct ctx *c, const struct ynode *v, void *obj)
{
    addr_or_off(c, v, &CFG(obj)->socks_enabled, &CFG(obj)->socks);
}

static void h_metrics(struct ctx *c, const struct ynode *v, void *obj)
{
    addr_or_off(c, v, &CFG(obj)->metrics_enabled, &CFG(obj)->metrics);
}

static void set_cred(struct ctx *c, const struct ynode *v, char **out)
{
    const char *s = get_scalar(c, v, "a string", VX_CONFIG_MAX_CRED);
    if (!s)
        return;
    if (!*s) {
        err_at(c, v, "must not be empty");
        return;
    }
    free(*out);
    *out = xstrdup(s);
}

static void h_auth_username(struct ctx *c, const struct ynode *v, void *obj)
{
    set_cred(c, v, &CFG(obj)->socks_username);
}

static void h_auth_password(struct ctx *c, const struct ynode *v, void *obj)
{
    set_cred(c, v, &CFG(obj)->socks_password);
}

static const struct keydef auth_keys[] = {
        {"username", h_auth_username},
        {"password", h_auth_password},
        {NULL, NULL},
};

static void h_socks_auth(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    unsigned before = c->d->n;
    walk_map(c, v, auth_keys, obj, "a mapping with username and password");
    if (c->d->n == before && (!cfg->socks_username || !cfg->socks_password))
        err_at(c, v, "needs both username and password");
}

static void h_clearnet(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, clearnet_names, &e))
        CFG(obj)->clearnet = (enum vx_cfg_clearnet)e;
}

static bool parse_peer(struct ctx *c, const struct ynode *v, struct vx_cfg_peer *peer)
{
    char q[80], idbuf[VX_NODE_ID_STRLEN + 1];
    const char *why = "malformed", *s = get_scalar(c, v, "a peer address", 200), *at;

    if (!s)
        return false;
    memset(peer, 0, sizeof(*peer));
    at = strchr(s, '@');
    if (at) {
        if ((size_t)(at - s) != VX_NODE_ID_STRLEN) {
            err_at(c, v, "%s: the part before '@' is not a node ID (%d base32 characters)",
                   quote(s, q, sizeof(q)), VX_NODE_ID_STRLEN);
            return false;
        }
        memcpy(idbuf, s, VX_NODE_ID_STRLEN);
        idbuf[VX_NODE_ID_STRLEN] = '\0';
        if (!node_id_ok(idbuf)) {
            err_at(c, v, "%s: the part before '@' is not a node ID (base32 a-z, 2-7)",
                   quote(s, q, sizeof(q)));
            return false;
        }
        node_id_set(&peer->id, idbuf);
        peer->has_id = true;
        s = at + 1;
    }
    if (vx_addr_parse_ex(s, 0, &peer->addr.ss, &peer->addr.len, &why) < 0) {
        /* A bare IP means the default node port. */
        if (vx_addr_parse_ip(s, &peer->addr.ss, &peer->addr.len) == 0) {
            vx_addr_set_port((struct sockaddr *)&peer->addr.ss, VX_CONFIG_DEFAULT_PORT);
        } else {
            err_at(c, v, "%s is not a valid peer address (%s)", quote(v->s, q, sizeof(q)), why);
            return false;
        }
    }
    if (vx_addr_is_any((struct sockaddr *)&peer->addr.ss)) {
        err_at(c, v, "%s: a wildcard address is not a peer", quote(v->s, q, sizeof(q)));
        return false;
    }
    return true;
}

static void h_bootstrap(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    struct ynode *const *items;
    size_t n;
    if (!as_list(c, v, "a list of peer addresses", VX_CONFIG_MAX_BOOTSTRAP, &items, &n))
        return;
    free(cfg->bootstrap);
    cfg->bootstrap = xcalloc(n, sizeof(*cfg->bootstrap));
    cfg->n_bootstrap = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = items ? path_push_index(c, i) : c->plen;
        if (parse_peer(c, list_item(v, items, i), &cfg->bootstrap[cfg->n_bootstrap]))
            cfg->n_bootstrap++;
        path_pop(c, mark);
    }
}

static void h_relay(struct ctx *c, const struct ynode *v, void *obj)
{
    get_bool(c, v, &CFG(obj)->relay);
}

static void h_relay_hops(struct ctx *c, const struct ynode *v, void *obj)
{
    uint64_t x;
    if (get_uint(c, v, 1, 8, &x))
        CFG(obj)->relay_hops = (unsigned)x;
}

/* ---- services ---- */

#define SVC(obj) ((struct vx_cfg_service *)(obj))

static void h_svc_name(struct ctx *c, const struct ynode *v, void *obj)
{
    get_label(c, v, VX_CONFIG_MAX_LABEL, "service name", &SVC(obj)->name);
}

/* A target address; loopback unless the service allows remote targets. */
static bool get_target(struct ctx *c, const struct ynode *v, const struct vx_cfg_service *s,
                       const char *text, struct vx_addr *out)
{
    char q[80];
    const char *why = "malformed";
    if (vx_addr_parse_ex(text, VX_ADDR_BARE_PORT_LOOPBACK, &out->ss, &out->len, &why) < 0) {
        err_at(c, v, "%s is not a valid address (%s)", quote(text, q, sizeof(q)), why);
        return false;
    }
    if (vx_addr_is_any((struct sockaddr *)&out->ss)) {
        err_at(c, v, "%s: a wildcard address cannot be a target", quote(text, q, sizeof(q)));
        return false;
    }
    if (!s->allow_remote_target && !vx_addr_is_loopback((struct sockaddr *)&out->ss)) {
        err_at(c, v,
               "%s is not a loopback address (set allow_remote_target: true to forward to "
               "another host)",
               quote(text, q, sizeof(q)));
        return false;
    }
    return true;
}

static void h_svc_target(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_cfg_service *s = obj;
    const char *t = get_scalar(c, v, "an address", 200);
    if (t && get_target(c, v, s, t, &s->target))
        s->has_target = true;
}

static int port_map_cmp(const void *a, const void *b)
{
    const struct vx_cfg_port_map *x = a, *y = b;
    return (int)x->vport - (int)y->vport;
}

/* One "vport -> target" entry.  kv: node holding the virtual port (for
 * messages), tv: node holding the target. */
static void add_port(struct ctx *c, struct vx_cfg_service *s, const struct ynode *kv,
                     const char *vport_text, const struct ynode *tv, const char *target_text,
                     unsigned *lines)
{
    char q[80];
    uint64_t vp;
    struct vx_cfg_port_map pm;

    if (parse_uint(vport_text, 1, 65535, &vp) < 0) {
        err_at(c, kv, "virtual port %s is not a number between 1 and 65535",
               quote(vport_text, q, sizeof(q)));
        return;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        if (s->ports[i].vport == vp) {
            err_at(c, kv, "virtual port %u is mapped twice (first at line %u)", (unsigned)vp,
                   lines[i]);
            return;
        }
    }
    pm.vport = (uint16_t)vp;
    if (!get_target(c, tv, s, target_text, &pm.target))
        return;
    lines[s->n_ports] = kv->line;
    s->ports[s->n_ports++] = pm;
}

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

static void port_pair(struct ctx *c, struct vx_cfg_service *s, const struct ynode *k,
                      const struct ynode *v, unsigned *lines)
{
    const char *ks, *vs;
    if (!(ks = get_scalar(c, k, "a virtual port number", 16)))
        return;
    if (!(vs = get_scalar(c, v, "a target address", 200)))
        return;
    add_port(c, s, k, ks, v, vs, lines);
}

static void h_svc_ports(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_cfg_service *s = obj;
    unsigned *lines;
    size_t n = v->type == Y_MAP ? v->n / 2 : v->n;

    if (v->type == Y_SCALAR) {
        err_at(c, v,
               "expected a mapping such as {80: \"127.0.0.1:8080\"} or a list such as "
               "[\"80 -> 127.0.0.1:8080\"], got a single value");
        return;
    }
    if (n > VX_CONFIG_MAX_PORTS) {
        err_at(c, v, "too many port maps (%zu, at most %d)", n, VX_CONFIG_MAX_PORTS);
        return;
    }
    free(s->ports);
    s->ports = xcalloc(n, sizeof(*s->ports));
    s->n_ports = 0;
    lines = xcalloc(n, sizeof(*lines));
    if (v->type == Y_MAP) {
        for (size_t i = 0; i + 1 < v->n && !too_many_errors(c); i += 2)
            port_pair(c, s, v->kids[i], v->kids[i + 1], lines);
    } else {
        for (size_t i = 0; i < v->n && !too_many_errors(c); i++) {
            const struct ynode *it = v->kids[i];
            size_t mark = path_push_index(c, i);
            if (it->type == Y_MAP && it->n == 2) {
                port_pair(c, s, it->kids[0], it->kids[1], lines);
            } else if (it->type == Y_SCALAR) {
                const char *t = get_scalar(c, it, "\"PORT -> ADDRESS\"", 256);
                char *arrow, buf[260];
                if (t) {
                    snprintf(buf, sizeof(buf), "%s", t);
                    if (!(arrow = strstr(buf, "->"))) {
                        char q[80];
                        err_at(c, it, "%s is not a port map (write \"80 -> 127.0.0.1:8080\")",
                               quote(t, q, sizeof(q)));
                    } else {
                        *arrow = '\0';
                        trim(buf);
                        trim(arrow + 2);
                        add_port(c, s, it, buf, it, arrow + 2, lines);
                    }
                }
            } else {
                err_at(c, it, "expected \"PORT -> ADDRESS\" or {PORT: ADDRESS}, got %s",
                       type_name(it));
            }
            path_pop(c, mark);
        }
    }
    free(lines);
    qsort(s->ports, s->n_ports, sizeof(*s->ports), port_map_cmp);
}

static void h_svc_hidden(struct ctx *c, const struct ynode *v, void *obj)
{
    get_bool(c, v, &SVC(obj)->hidden);
}

static void h_svc_allow_remote(struct ctx *c, const struct ynode *v, void *obj)
{
    get_bool(c, v, &SVC(obj)->allow_remote_target);
}

static void h_svc_allow(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_cfg_service *s = obj;
    struct ynode *const *items;
    size_t n;
    if (!as_list(c, v, "a list of node IDs", VX_CONFIG_MAX_ALLOW, &items, &n))
        return;
    free(s->allow);
    s->allow = xcalloc(n, sizeof(*s->allow));
    s->n_allow = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = items ? path_push_index(c, i) : c->plen;
        if (get_node_id(c, list_item(v, items, i), &s->allow[s->n_allow]))
            s->n_allow++;
        path_pop(c, mark);
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* A client's public key: 64 hex characters of a valid Ed25519 key. */
static bool get_client_key(struct ctx *c, const struct ynode *v, struct vx_cfg_client_key *out)
{
    char q[80];
    uint8_t pk[VX_PK_LEN];
    const char *s = get_scalar(c, v, "a public key", 128);
    size_t n;

    if (!s)
        return false;
    n = strlen(s);
    for (size_t i = 0; n == 2 * VX_PK_LEN && i < VX_PK_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            n = 0;
            break;
        }
        pk[i] = (uint8_t)(hi << 4 | lo);
    }
    if (n != 2 * VX_PK_LEN) {
        if (node_id_ok(s))
            err_at(c, v,
                   "%s is a node ID; authorized_clients takes the client's public key (64 hex "
                   "characters: run `vx6 hidden auth-key` on the client)",
                   quote(s, q, sizeof(q)));
        else
            err_at(c, v,
                   "%s is not a public key (64 hex characters, as `vx6 hidden auth-key` or "
                   "`vx6 id` prints)",
                   quote(s, q, sizeof(q)));
        return false;
    }
    if (vx_pk_to_x25519(pk, out->x25519) < 0) {
        err_at(c, v, "%s is not a valid Ed25519 public key", quote(s, q, sizeof(q)));
        return false;
    }
    for (size_t i = 0; i <= n; i++)
        out->s[i] = (char)tolower((unsigned char)s[i]);
    return true;
}

static void h_svc_clients(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_cfg_service *s = obj;
    struct ynode *const *items;
    unsigned *lines;
    size_t n;
    if (!as_list(c, v, "a list of client public keys", VX_CONFIG_MAX_CLIENTS, &items, &n))
        return;
    free(s->clients);
    s->clients = xcalloc(n, sizeof(*s->clients));
    s->n_clients = 0;
    lines = xcalloc(n, sizeof(*lines));
    for (size_t i = 0; i < n; i++) {
        size_t mark = items ? path_push_index(c, i) : c->plen;
        const struct ynode *it = list_item(v, items, i);
        struct vx_cfg_client_key *k = &s->clients[s->n_clients];
        if (get_client_key(c, it, k)) {
            size_t j;
            for (j = 0; j < s->n_clients; j++)
                if (strcmp(s->clients[j].s, k->s) == 0)
                    break;
            if (j < s->n_clients) {
                err_at(c, it, "client key listed twice (first at line %u)", lines[j]);
            } else {
                lines[s->n_clients++] = it->line;
            }
        }
        path_pop(c, mark);
    }
    free(lines);
}

static void h_svc_route(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, route_names, &e))
        SVC(obj)->route = (enum vx_cfg_route)e;
}

static void h_svc_profile(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, profile_names, &e))
        SVC(obj)->profile = (enum vx_cfg_profile)e;
}

static void h_svc_transport(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, transport_names, &e))
        SVC(obj)->transport = (enum vx_cfg_transport)e;
}

static const struct keydef service_keys[] = {
        {"name", h_svc_name},
        {"target", h_svc_target},
        {"ports", h_svc_ports},
        {"hidden", h_svc_hidden},
        {"allow_remote_target", h_svc_allow_remote},
        {"allow", h_svc_allow},
        {"authorized_clients", h_svc_clients},
        {"route", h_svc_route},
        {"profile", h_svc_profile},
        {"transport", h_svc_transport},
        {NULL, NULL},
};

static void h_services(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    if (v->type != Y_SEQ) {
        err_at(c, v, "expected a list of services, got %s", type_name(v));
        return;
    }
    if (v->n > VX_CONFIG_MAX_SERVICES) {
        err_at(c, v, "too many services (%zu, at most %d)", v->n, VX_CONFIG_MAX_SERVICES);
        return;
    }
    cfg->services = xcalloc(v->n, sizeof(*cfg->services));
    for (size_t i = 0; i < v->n && !too_many_errors(c); i++) {
        const struct ynode *it = v->kids[i], *art;
        struct vx_cfg_service *s = &cfg->services[cfg->n_services++];
        size_t mark = path_push_index(c, i);

        s->pos.line = it->line;
        s->pos.col = it->col;
        /* allow_remote_target governs how targets are checked, wherever it
         * appears in the mapping; its own errors are reported by walk_map. */
        art = map_get(it, "allow_remote_target");
        if (art && art->type == Y_SCALAR && bool_word(art->s) == 1)
            s->allow_remote_target = true;
        walk_map(c, it, service_keys, s, "a mapping (name: ..., target: ...)");
        if (it->type == Y_MAP && !map_get(it, "name"))
            err_at(c, it, "missing required key 'name'");
        path_pop(c, mark);
    }
}

/* ---- forwards ---- */

#define FWD(obj) ((struct vx_cfg_forward *)(obj))

static void h_fwd_listen(struct ctx *c, const struct ynode *v, void *obj)
{
    get_addr(c, v, VX_ADDR_BARE_PORT_LOOPBACK | VX_ADDR_PORT0, &FWD(obj)->listen);
}

static const char *host_problem(const char *h)
{
    size_t n = strlen(h);
    if (n == 0)
        return "empty host";
    if (n > VX_CONFIG_MAX_HOST)
        return "host name too long";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
            return "host may contain only letters, digits, '-', '_' and '.'";
    if (h[0] == '.' || strstr(h, ".."))
        return "empty label in host name";
    return NULL;
}

static void h_fwd_to(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_cfg_forward *f = obj;
    char q[80], buf[300], *host, *colon;
    const char *why = NULL, *s = get_scalar(c, v, "HOST:PORT", 280);
    uint64_t port;

    if (!s)
        return;
    snprintf(buf, sizeof(buf), "%s", s);
    colon = strrchr(buf, ':');
    if (!colon) {
        why = "missing port (expected HOST:PORT)";
        goto bad;
    }
    *colon = '\0';
    host = buf;
    if (parse_uint(colon + 1, 1, 65535, &port) < 0) {
        why = "port is not a number between 1 and 65535";
        goto bad;
    }
    if (host[0] == '[') {
        struct sockaddr_storage ss;
        socklen_t len;
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']') {
            why = "missing ']'";
            goto bad;
        }
        host[hl - 1] = '\0';
        host++;
        if (vx_addr_parse_ip_ex(host, &ss, &len, &why) < 0 || ss.ss_family != AF_INET6) {
            why = why ? why : "not an IPv6 address";
            goto bad;
        }
    } else {
        if (strchr(host, ':')) {
            why = "IPv6 address needs brackets: [ADDRESS]:PORT";
            goto bad;
        }
        if ((why = host_problem(host)) != NULL)
            goto bad;
        for (char *p = host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    free(f->host);
    f->host = xstrdup(host);
    f->port = (uint16_t)port;
    return;
bad:
    err_at(c, v, "%s is not a valid destination (%s)", quote(s, q, sizeof(q)), why);
}

static void h_fwd_route(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, route_names, &e))
        FWD(obj)->route = (enum vx_cfg_route)e;
}

static void h_fwd_transport(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, transport_names, &e))
        FWD(obj)->transport = (enum vx_cfg_transport)e;
}

static const struct keydef forward_keys[] = {
        {"listen", h_fwd_listen},       {"to", h_fwd_to}, {"route", h_fwd_route},
        {"transport", h_fwd_transport}, {NULL, NULL},
};

static void h_forwards(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    if (v->type != Y_SEQ) {
        err_at(c, v, "expected a list of forwards, got %s", type_name(v));
        return;
    }
    if (v->n > VX_CONFIG_MAX_FORWARDS) {
        err_at(c, v, "too many forwards (%zu, at most %d)", v->n, VX_CONFIG_MAX_FORWARDS);
        return;
    }
    cfg->forwards = xcalloc(v->n, sizeof(*cfg->forwards));
    for (size_t i = 0; i < v->n && !too_many_errors(c); i++) {
        const struct ynode *it = v->kids[i];
        struct vx_cfg_forward *f = &cfg->forwards[cfg->n_forwards++];
        size_t mark = path_push_index(c, i);
        f->pos.line = it->line;
        f->pos.col = it->col;
        walk_map(c, it, forward_keys, f, "a mapping (listen: ..., to: ...)");
        if (it->type == Y_MAP) {
            if (!map_get(it, "listen"))
                err_at(c, it, "missing required key 'listen'");
            if (!map_get(it, "to"))
                err_at(c, it, "missing required key 'to'");
        }
        path_pop(c, mark);
    }
}

/* ---- aliases ---- */

/* "alice.web", "alice.web.vx6", or a hidden ADDRESS (one label). */
static const char *alias_target_problem(char *t)
{
    size_t n = strlen(t), labels = 0;
    char *save = NULL, *lab;

    for (size_t i = 0; i < n; i++)
        t[i] = (char)tolower((unsigned char)t[i]);
    if (n > 4 && strcmp(t + n - 4, ".vx6") == 0)
        t[n - 4] = '\0';
    if (!*t || t[0] == '.' || t[strlen(t) - 1] == '.' || strstr(t, ".."))
        return "empty name";
    char *copy = xstrdup(t);
    const char *why = NULL;
    for (lab = strtok_r(copy, ".", &save); lab && !why; lab = strtok_r(NULL, ".", &save)) {
        labels++;
        if (label_problem(lab, VX_CONFIG_MAX_LABEL))
            why = "each part must be 1-63 characters a-z, 0-9 and '-'";
    }
    free(copy);
    if (!why && labels > 2)
        why = "expected USER.SERVICE or a hidden-service ADDRESS";
    return why;
}

static int alias_key_cmp(const void *a, const void *b)
{
    const struct ynode *x = *(const struct ynode *const *)a, *y = *(const struct ynode *const *)b;
    int r = strcmp(x->s, y->s);
    if (r)
        return r;
    return x->line != y->line ? (x->line < y->line ? -1 : 1) : (int)x->col - (int)y->col;
}

static void h_aliases(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    const struct ynode **keys;
    size_t n = v->n / 2, nk = 0;
    char q[80];

    if (v->type != Y_MAP) {
        err_at(c, v, "expected a mapping of NAME: TARGET, got %s", type_name(v));
        return;
    }
    if (n > VX_CONFIG_MAX_ALIASES) {
        err_at(c, v, "too many aliases (%zu, at most %d)", n, VX_CONFIG_MAX_ALIASES);
        return;
    }
    /* Duplicate names, in O(n log n). */
    keys = xcalloc(n, sizeof(*keys));
    for (size_t i = 0; i + 1 < v->n; i += 2)
        if (v->kids[i]->type == Y_SCALAR)
            keys[nk++] = v->kids[i];
    qsort(keys, nk, sizeof(*keys), alias_key_cmp);
    for (size_t i = 1; i < nk; i++) {
        if (strcmp(keys[i]->s, keys[i - 1]->s) == 0) {
            size_t mark = path_push_key(c, keys[i]->s);
            err_at(c, keys[i], "duplicate key (first given at line %u)", keys[i - 1]->line);
            path_pop(c, mark);
        }
    }
    free(keys);

    cfg->aliases = xcalloc(n, sizeof(*cfg->aliases));
    for (size_t i = 0; i + 1 < v->n && !too_many_errors(c); i += 2) {
        const struct ynode *k = v->kids[i], *t = v->kids[i + 1];
        struct vx_cfg_alias *a = &cfg->aliases[cfg->n_aliases];
        const char *ts, *why;
        char *tcopy;
        size_t mark;

        if (k->type != Y_SCALAR) {
            err_at(c, k, "alias names must be plain words, got %s", type_name(k));
            continue;
        }
        mark = path_push_key(c, k->s);
        if (!get_label(c, k, VX_CONFIG_MAX_LABEL, "alias name", &a->name))
            goto next;
        if (!(ts = get_scalar(c, t, "a name (USER.SERVICE or ADDRESS)", 300)))
            goto next;
        tcopy = xstrdup(ts);
        if ((why = alias_target_problem(tcopy)) != NULL) {
            err_at(c, t, "%s is not a valid alias target (%s)", quote(ts, q, sizeof(q)), why);
            free(tcopy);
            goto next;
        }
        a->target = tcopy;
        cfg->n_aliases++;
        path_pop(c, mark);
        continue;
    next:
        free(a->name);
        a->name = NULL;
        path_pop(c, mark);
    }
}

/* ---- hidden_auth ---- */

#define HSA(obj) ((struct vx_cfg_hidden_auth *)(obj))

/* ADDRESS or ADDRESS.vx6 (any case) into out (lowercase, no suffix). */
static int hsaddr_canon(const char *s, char out[VX_CONFIG_HSADDR_LEN + 1])
{
    uint8_t pk[VX_PK_LEN];
    size_t n = strlen(s);
    if (n == VX_CONFIG_HSADDR_LEN + 4 && strcasecmp(s + VX_CONFIG_HSADDR_LEN, ".vx6") == 0)
        n = VX_CONFIG_HSADDR_LEN;
    if (n != VX_CONFIG_HSADDR_LEN)
        return VX_ERR_BADADDR;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return vx_hsaddr_parse(out, pk);
}

static void h_ha_address(struct ctx *c, const struct ynode *v, void *obj)
{
    char q[80];
    const char *s = get_scalar(c, v, "a hidden-service address", 128);
    if (!s)
        return;
    if (hsaddr_canon(s, HSA(obj)->address) < 0) {
        HSA(obj)->address[0] = '\0';
        err_at(c, v,
               "%s is not a hidden-service address (56 base32 characters with a checksum, "
               "optionally followed by .vx6, as `vx6 hidden address` prints)",
               quote(s, q, sizeof(q)));
    }
}

static void h_ha_key(struct ctx *c, const struct ynode *v, void *obj)
{
    if (v->type == Y_SCALAR && strcmp(v->s, "identity") == 0) {
        free(HSA(obj)->key_file);
        HSA(obj)->key_file = NULL;
        return;
    }
    set_path(c, v, VX_CONFIG_MAX_PATH, &HSA(obj)->key_file);
}

static const struct keydef hidden_auth_keys[] = {
        {"address", h_ha_address},
        {"key", h_ha_key},
        {NULL, NULL},
};

static void h_hidden_auth(struct ctx *c, const struct ynode *v, void *obj)
{
    struct vx_config *cfg = obj;
    if (v->type != Y_SEQ) {
        err_at(c, v, "expected a list of {address: ADDRESS, key: FILE}, got %s", type_name(v));
        return;
    }
    if (v->n > VX_CONFIG_MAX_HS_AUTH) {
        err_at(c, v, "too many entries (%zu, at most %d)", v->n, VX_CONFIG_MAX_HS_AUTH);
        return;
    }
    cfg->hidden_auth = xcalloc(v->n, sizeof(*cfg->hidden_auth));
    for (size_t i = 0; i < v->n && !too_many_errors(c); i++) {
        const struct ynode *it = v->kids[i], *av;
        struct vx_cfg_hidden_auth *a = &cfg->hidden_auth[cfg->n_hidden_auth++];
        size_t mark = path_push_index(c, i);
        a->pos.line = it->line;
        a->pos.col = it->col;
        walk_map(c, it, hidden_auth_keys, a, "a mapping (address: ..., key: ...)");
        av = map_get(it, "address");
        if (it->type == Y_MAP && !av)
            err_at(c, it, "missing required key 'address'");
        for (size_t j = 0; a->address[0] && j + 1 < cfg->n_hidden_auth; j++) {
            if (strcmp(cfg->hidden_auth[j].address, a->address) == 0) {
                size_t m2 = path_push_key(c, "address");
                err_at(c, av, "address given twice (first at line %u)",
                       cfg->hidden_auth[j].pos.line);
                path_pop(c, m2);
                break;
            }
        }
        path_pop(c, mark);
    }
}

/* ---- xdp, limits ---- */

static void h_xdp_interface(struct ctx *c, const struct ynode *v, void *obj)
{
    char q[80];
    const char *s = get_scalar(c, v, "an interface name", 64);
    if (!s)
        return;
    if (!*s || strlen(s) > 15 || strpbrk(s, "/ \t:")) {
        err_at(c, v, "%s is not a valid interface name", quote(s, q, sizeof(q)));
        return;
    }
    free(CFG(obj)->xdp_interface);
    CFG(obj)->xdp_interface = xstrdup(s);
}

static void h_xdp_mode(struct ctx *c, const struct ynode *v, void *obj)
{
    int e;
    if (get_enum(c, v, xdp_mode_names, &e))
        CFG(obj)->xdp_mode = (enum vx_cfg_xdp_mode)e;
}

static void h_xdp_udp_rate(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 0, 10000000, &CFG(obj)->xdp_udp_rate);
}

static void h_xdp_udp_burst(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 10000000, &CFG(obj)->xdp_udp_burst);
}

static const struct keydef xdp_keys[] = {
        {"interface", h_xdp_interface}, {"mode", h_xdp_mode}, {"udp_rate", h_xdp_udp_rate},
        {"udp_burst", h_xdp_udp_burst}, {NULL, NULL},
};

static void h_xdp(struct ctx *c, const struct ynode *v, void *obj)
{
    /* "xdp: off" is the same as leaving it out. */
    if (v->type == Y_SCALAR && bool_word(v->s) == 0)
        return;
    walk_map(c, v, xdp_keys, obj, "a mapping (interface: ..., mode: ...) or off");
    if (v->type == Y_MAP && !map_get(v, "interface"))
        err_at(c, v, "missing required key 'interface'");
}

#define LIM(obj) (&((struct vx_config *)(obj))->limits)

static void h_lim_maxconn(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 1000000, &LIM(obj)->max_connections);
}

static void h_lim_maxconn_client(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 1000000, &LIM(obj)->max_connections_per_client);
}

static void h_lim_handshake(struct ctx *c, const struct ynode *v, void *obj)
{
    get_duration(c, v, 100, 600000, &LIM(obj)->handshake_timeout_ms);
}

static void h_lim_idle(struct ctx *c, const struct ynode *v, void *obj)
{
    get_duration(c, v, 1000, 7 * 86400000ull, &LIM(obj)->idle_timeout_ms);
}

static void h_lim_streams(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 1000000, &LIM(obj)->max_streams_per_peer);
}

static void h_lim_sessions(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 1024, &LIM(obj)->max_sessions_per_peer);
}

static void h_lim_dht_rate(struct ctx *c, const struct ynode *v, void *obj)
{
    get_u32(c, v, 1, 100000, &LIM(obj)->dht_rate);
}

static const struct keydef limits_keys[] = {
        {"max_connections", h_lim_maxconn},
        {"max_connections_per_client", h_lim_maxconn_client},
        {"handshake_timeout", h_lim_handshake},
        {"idle_timeout", h_lim_idle},
        {"max_streams_per_peer", h_lim_streams},
        {"max_sessions_per_peer", h_lim_sessions},
        {"dht_rate", h_lim_dht_rate},
        {NULL, NULL},
};

static void h_limits(struct ctx *c, const struct ynode *v, void *obj)
{
    walk_map(c, v, limits_keys, obj, "a mapping of limits");
}

static const struct keydef top_keys[] = {
        {"data_dir", h_data_dir},
        {"user", h_user},
        {"log_level", h_log_level},
        {"control_socket", h_control_socket},
        {"listen", h_listen},
        {"transport", h_transport},
        {"socks", h_socks},
        {"socks_auth", h_socks_auth},
        {"clearnet", h_clearnet},
        {"bootstrap", h_bootstrap},
        {"relay", h_relay},
        {"relay_hops", h_relay_hops},
        {"metrics", h_metrics},
        {"services", h_services},
        {"forwards", h_forwards},
        {"aliases", h_aliases},
        {"hidden_auth", h_hidden_auth},
        {"xdp", h_xdp},
        {"limits", h_limits},
        {NULL, NULL},
};

/* ------------------------------------------------------------------------ */
/* Defaults                                                                   */

static void set_default_addr(struct vx_addr *a, const char *text)
{
    if (vx_addr_parse(text, 0, &a->ss, &a->len) < 0)
        abort(); /* a built-in default that does not parse is a bug */
}

/* Everything but the paths, which depend on what the file says. */
static void scalar_defaults(struct vx_config *cfg)
{
    cfg->log_level = xstrdup("info");
    cfg->listen = xcalloc(1, sizeof(*cfg->listen));
    set_default_addr(&cfg->listen[0], "[::]:4242");
    cfg->n_listen = 1;
    cfg->transport = VX_CFG_TRANSPORT_AUTO;
    cfg->socks_enabled = true;
    set_default_addr(&cfg->socks, "127.0.0.1:1080");
    cfg->clearnet = VX_CFG_CLEARNET_DENY;
    cfg->relay = true;
    cfg->relay_hops = 3;
    cfg->metrics_enabled = false;
    cfg->xdp_mode = VX_CFG_XDP_NATIVE;
    cfg->xdp_udp_rate = VX_CFG_XDP_UDP_RATE;
    cfg->xdp_udp_burst = VX_CFG_XDP_UDP_BURST;
    cfg->limits.max_connections = 4096;
    cfg->limits.max_connections_per_client = 256;
    cfg->limits.handshake_timeout_ms = 10000;
    cfg->limits.idle_timeout_ms = 300000;
    cfg->limits.max_streams_per_peer = 1024;
    cfg->limits.max_sessions_per_peer = 16;
    cfg->limits.dht_rate = 50;
}

static const char *env_abs(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '/' ? v : NULL;
}

/* data_dir and control_socket when the file did not set them. */
static int resolve_paths(struct vx_config *cfg, struct diag *d)
{
    bool root = geteuid() == 0;
    const char *x;

    if (!cfg->data_dir) {
        if (root) {
            cfg->data_dir = xstrdup("/var/lib/vx6");
        } else if ((x = env_abs("XDG_DATA_HOME")) != NULL) {
            cfg->data_dir = xasprintf("%s/vx6", x);
        } else if ((x = env_abs("HOME")) != NULL) {
            cfg->data_dir = xasprintf("%s/.local/share/vx6", x);
        } else {
            struct passwd *pw = getpwuid(geteuid());
            if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/') {
                diag_add(d, 0, 0, "data_dir",
                         "no default: HOME is not set; set data_dir in the config file");
                return VX_ERR_CONFIG;
            }
            cfg->data_dir = xasprintf("%s/.local/share/vx6", pw->pw_dir);
        }
    }
    if (!cfg->control_socket) {
        if (root)
            cfg->control_socket = xstrdup("/run/vx6/control.sock");
        else if ((x = env_abs("XDG_RUNTIME_DIR")) != NULL)
            cfg->control_socket = xasprintf("%s/vx6.sock", x);
        else
            cfg->control_socket = xasprintf("%s/control.sock", cfg->data_dir);
    }
    return 0;
}

static void config_clear(struct vx_config *cfg)
{
    free(cfg->filename);
    free(cfg->data_dir);
    free(cfg->user);
    free(cfg->log_level);
    free(cfg->control_socket);
    free(cfg->listen);
    free(cfg->socks_username);
    if (cfg->socks_password) {
        explicit_bzero(cfg->socks_password, strlen(cfg->socks_password));
        free(cfg->socks_password);
    }
    free(cfg->bootstrap);
    for (size_t i = 0; i < cfg->n_services; i++) {
        free(cfg->services[i].name);
        free(cfg->services[i].ports);
        free(cfg->services[i].allow);
        if (cfg->services[i].clients)
            explicit_bzero(cfg->services[i].clients,
                           cfg->services[i].n_clients * sizeof(*cfg->services[i].clients));
        free(cfg->services[i].clients);
    }
    free(cfg->services);
    for (size_t i = 0; i < cfg->n_forwards; i++)
        free(cfg->forwards[i].host);
    free(cfg->forwards);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        free(cfg->aliases[i].name);
        free(cfg->aliases[i].target);
    }
    free(cfg->aliases);
    for (size_t i = 0; i < cfg->n_hidden_auth; i++)
        free(cfg->hidden_auth[i].key_file);
    free(cfg->hidden_auth);
    free(cfg->xdp_interface);
    memset(cfg, 0, sizeof(*cfg));
}

void vx_config_free(struct vx_config *cfg)
{
    if (!cfg)
        return;
    config_clear(cfg);
    free(cfg);
}

int vx_config_defaults(struct vx_config *cfg)
{
    struct diag d;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->filename = xstrdup("<defaults>");
    scalar_defaults(cfg);
    diag_init(&d, cfg->filename, NULL, 0);
    if ((rc = resolve_paths(cfg, &d)) < 0)
        config_clear(cfg);
    return rc;
}

struct vx_config *vx_config_new_default(void)
{
    struct vx_config *cfg = xcalloc(1, sizeof(*cfg));
    if (vx_config_defaults(cfg) < 0) {
        /* No HOME: fall back to a per-user directory under /tmp rather
         * than failing; the daemon logs where its data lives. */
        scalar_defaults(cfg);
        cfg->filename = xstrdup("<defaults>");
        cfg->data_dir = xasprintf("/tmp/vx6-%u", (unsigned)geteuid());
        cfg->control_socket = xasprintf("%s/control.sock", cfg->data_dir);
    }
    return cfg;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                 */

static void verr(struct diag *d, const struct vx_cfg_pos *pos, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static void verr(struct diag *d, const struct vx_cfg_pos *pos, const char *path, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, pos ? pos->line : 0, pos ? pos->col : 0, path, fmt, ap);
    va_end(ap);
}

struct bound {
    const struct vx_addr *a;
    const struct vx_cfg_pos *pos;
    char what[48];
};

/* Two TCP listeners that the kernel would refuse to bind both. */
static bool binds_clash(const struct vx_addr *x, const struct vx_addr *y)
{
    const struct sockaddr *a = (const struct sockaddr *)&x->ss,
                          *b = (const struct sockaddr *)&y->ss;
    if (vx_addr_port(a) == 0 || vx_addr_port(a) != vx_addr_port(b))
        return false;
    if (vx_addr_cmp_ip(a, b) == 0)
        return true;
    /* [::] dual-stack covers every address of both families; 0.0.0.0 every IPv4 one. */
    if ((a->sa_family == AF_INET6 && vx_addr_is_any(a)) ||
        (b->sa_family == AF_INET6 && vx_addr_is_any(b)))
        return true;
    if (a->sa_family == AF_INET && b->sa_family == AF_INET &&
        (vx_addr_is_any(a) || vx_addr_is_any(b)))
        return true;
    return false;
}

static int validate(const struct vx_config *cfg, struct diag *d)
{
    unsigned before = d->n;
    char path[64], q[80];
    struct bound *b;
    size_t nb = 0;

    if (!cfg->data_dir || cfg->data_dir[0] != '/')
        verr(d, NULL, "data_dir", "must be an absolute path");
    if (!cfg->control_socket || cfg->control_socket[0] != '/')
        verr(d, NULL, "control_socket", "must be an absolute path");
    else if (strlen(cfg->control_socket) > VX_CONFIG_MAX_SOCKPATH)
        verr(d, NULL, "control_socket", "%s is too long for a UNIX socket (at most %d bytes)",
             quote(cfg->control_socket, q, sizeof(q)), VX_CONFIG_MAX_SOCKPATH);
    if (!cfg->log_level)
        verr(d, NULL, "log_level", "not set");
    if (cfg->relay_hops < 1 || cfg->relay_hops > 8)
        verr(d, NULL, "relay_hops", "must be between 1 and 8");
    if (!cfg->socks_username != !cfg->socks_password)
        verr(d, NULL, "socks_auth", "needs both username and password");
    if (cfg->limits.max_connections_per_client > cfg->limits.max_connections)
        verr(d, NULL, "limits.max_connections_per_client",
             "%" PRIu32 " is more than limits.max_connections (%" PRIu32 ")",
             cfg->limits.max_connections_per_client, cfg->limits.max_connections);
    if (!cfg->limits.max_connections || !cfg->limits.max_streams_per_peer ||
        !cfg->limits.max_sessions_per_peer || !cfg->limits.dht_rate ||
        !cfg->limits.handshake_timeout_ms || !cfg->limits.idle_timeout_ms)
        verr(d, NULL, "limits", "limits must not be zero");

    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        snprintf(path, sizeof(path), "services[%zu]", i);
        if (!s->name || label_problem(s->name, VX_CONFIG_MAX_LABEL)) {
            verr(d, &s->pos, path, "missing or invalid name");
            continue;
        }
        if (!s->has_target && !s->n_ports)
            verr(d, &s->pos, path, "service '%s' needs a target or ports (or both)", s->name);
        for (size_t j = 0; j < i; j++) {
            if (cfg->services[j].name && strcmp(cfg->services[j].name, s->name) == 0) {
                verr(d, &s->pos, path, "duplicate service name '%s' (first at line %u)", s->name,
                     cfg->services[j].pos.line);
                break;
            }
        }
        if (s->n_clients && !s->hidden)
            verr(d, &s->pos, path,
                 "service '%s' has authorized_clients but is not hidden (set hidden: true)",
                 s->name);
        if (s->n_clients > VX_CONFIG_MAX_CLIENTS)
            verr(d, &s->pos, path, "too many authorized_clients (at most %d)",
                 VX_CONFIG_MAX_CLIENTS);
        if (!s->allow_remote_target) {
            bool bad =
                    s->has_target && !vx_addr_is_loopback((const struct sockaddr *)&s->target.ss);
            for (size_t k = 0; k < s->n_ports; k++)
                if (!vx_addr_is_loopback((const struct sockaddr *)&s->ports[k].target.ss))
                    bad = true;
            if (bad)
                verr(d, &s->pos, path,
                     "service '%s' has a target that is not a loopback address "
                     "(set allow_remote_target: true)",
                     s->name);
        }
    }
    for (size_t i = 0; i < cfg->n_forwards; i++) {
        const struct vx_cfg_forward *f = &cfg->forwards[i];
        snprintf(path, sizeof(path), "forwards[%zu]", i);
        if (!f->host || !f->port)
            verr(d, &f->pos, path, "missing destination");
        if (!f->listen.len)
            verr(d, &f->pos, path, "missing listen address");
    }

    for (size_t i = 0; i < cfg->n_hidden_auth; i++) {
        const struct vx_cfg_hidden_auth *a = &cfg->hidden_auth[i];
        char canon[VX_CONFIG_HSADDR_LEN + 1];
        snprintf(path, sizeof(path), "hidden_auth[%zu]", i);
        if (hsaddr_canon(a->address, canon) < 0)
            verr(d, &a->pos, path, "missing or invalid address");
        if (a->key_file && a->key_file[0] != '/')
            verr(d, &a->pos, path, "key must be an absolute path or 'identity'");
    }

    /* Listening sockets that would collide at bind time. */
    b = xcalloc(cfg->n_listen + cfg->n_forwards + 2, sizeof(*b));
    for (size_t i = 0; i < cfg->n_listen; i++) {
        b[nb].a = &cfg->listen[i];
        snprintf(b[nb++].what, sizeof(b[0].what), "listen[%zu]", i);
    }
    if (cfg->socks_enabled) {
        b[nb].a = &cfg->socks;
        snprintf(b[nb++].what, sizeof(b[0].what), "socks");
    }
    if (cfg->metrics_enabled) {
        b[nb].a = &cfg->metrics;
        snprintf(b[nb++].what, sizeof(b[0].what), "metrics");
    }
    for (size_t i = 0; i < cfg->n_forwards; i++) {
        if (!cfg->forwards[i].listen.len)
            continue;
        b[nb].a = &cfg->forwards[i].listen;
        b[nb].pos = &cfg->forwards[i].pos;
        snprintf(b[nb++].what, sizeof(b[0].what), "forwards[%zu].listen", i);
    }
    for (size_t i = 0; i < nb && d->n <= VX_CONFIG_MAX_ERRORS; i++) {
        for (size_t j = 0; j < i; j++) {
            if (binds_clash(b[i].a, b[j].a)) {
                char as[VX_ADDR_STRLEN];
                vx_addr_format((const struct sockaddr *)&b[i].a->ss, b[i].a->len, as, sizeof(as));
                verr(d, b[i].pos, b[i].what, "%s clashes with %s (same port)", as, b[j].what);
                break;
            }
        }
    }
    free(b);
    return d->n > before ? VX_ERR_CONFIG : 0;
}

int vx_config_validate(const struct vx_config *cfg, char *err, size_t errlen)
{
    struct diag d;
    int rc;
    diag_init(&d, cfg && cfg->filename ? cfg->filename : NULL, err, errlen);
    if (!cfg) {
        diag_add(&d, 0, 0, NULL, "no configuration");
        return VX_ERR_CONFIG;
    }
    rc = validate(cfg, &d);
    diag_finish(&d);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Parse, load, reload                                                        */

int vx_config_parse(const char *buf, size_t len, const char *filename, struct vx_config **out,
                    char *err, size_t errlen)
{
    struct diag d;
    struct ctx c;
    struct ynode *root = NULL;
    struct vx_config *cfg = NULL;
    int rc;

    diag_init(&d, filename, err, errlen);
    if (!out) {
        diag_add(&d, 0, 0, NULL, "no output");
        return VX_ERR_INVAL;
    }
    *out = NULL;
    if (!buf && len) {
        diag_add(&d, 0, 0, NULL, "no input");
        return VX_ERR_INVAL;
    }
    if (len > VX_CONFIG_MAX_BYTES) {
        diag_add(&d, 0, 0, NULL, "file too large (%zu bytes, at most %u)", len,
                 VX_CONFIG_MAX_BYTES);
        return VX_ERR_TOOBIG;
    }
    if ((rc = build_tree(&d, buf ? buf : "", len, &root)) < 0)
        goto out;

    cfg = xcalloc(1, sizeof(*cfg));
    cfg->filename = xstrdup(d.file);
    scalar_defaults(cfg);
    memset(&c, 0, sizeof(c));
    c.d = &d;
    c.cfg = cfg;
    if (root && !is_null(root)) {
        if (root->type != Y_MAP)
            err_at(&c, root, "the top level must be a mapping of keys (such as 'listen:'), got %s",
                   type_name(root));
        else
            walk_map(&c, root, top_keys, cfg, "a mapping");
    }
    if (d.n) {
        rc = VX_ERR_CONFIG;
        goto out;
    }
    if ((rc = resolve_paths(cfg, &d)) < 0)
        goto out;
    rc = validate(cfg, &d);
out:
    ynode_free(root);
    diag_finish(&d);
    if (rc < 0)
        vx_config_free(cfg);
    else
        *out = cfg;
    return rc;
}

int vx_config_load(const char *path, struct vx_config **out, char *err, size_t errlen)
{
    struct diag d;
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, rc;

    diag_init(&d, path, err, errlen);
    if (out)
        *out = NULL;
    if (!path || !out) {
        diag_add(&d, 0, 0, NULL, "no file name");
        return VX_ERR_INVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? VX_ERR_NOTFOUND : VX_ERR_SYS;
        diag_add(&d, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        diag_add(&d, 0, 0, NULL, "not a regular file");
        close(fd);
        return VX_ERR_SYS;
    }
    buf = xcalloc(VX_CONFIG_MAX_BYTES + 1, 1);
    for (;;) {
        ssize_t n = read(fd, buf + len, VX_CONFIG_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            diag_add(&d, 0, 0, NULL, "read error: %s", strerror(errno));
            rc = VX_ERR_SYS;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > VX_CONFIG_MAX_BYTES) {
            diag_add(&d, 0, 0, NULL, "file too large (more than %u bytes)", VX_CONFIG_MAX_BYTES);
            rc = VX_ERR_TOOBIG;
            goto out;
        }
    }
    rc = vx_config_parse(buf, len, path, out, err, errlen);
out:
    close(fd);
    free(buf);
    return rc;
}

int vx_config_reload(struct vx_config **current, const char *path, char *err, size_t errlen)
{
    struct vx_config *fresh = NULL;
    int rc;

    if (!current)
        return VX_ERR_INVAL;
    rc = vx_config_load(path, &fresh, err, errlen);
    if (rc < 0)
        return rc;
    vx_config_free(*current);
    *current = fresh;
    return 0;
}

const struct vx_cfg_service *vx_config_find_service(const struct vx_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_services; i++)
        if (cfg->services[i].name && strcmp(cfg->services[i].name, name) == 0)
            return &cfg->services[i];
    return NULL;
}

const struct vx_cfg_hidden_auth *vx_config_find_hidden_auth(const struct vx_config *cfg,
                                                            const char *address)
{
    char canon[VX_CONFIG_HSADDR_LEN + 1];
    if (!cfg || !address || hsaddr_canon(address, canon) < 0)
        return NULL;
    for (size_t i = 0; i < cfg->n_hidden_auth; i++)
        if (strcmp(cfg->hidden_auth[i].address, canon) == 0)
            return &cfg->hidden_auth[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Dump                                                                       */

/* A YAML double-quoted string.  Escaped: besides '"', '\\' and the C0
 * controls, what YAML does not take raw (the strings are UTF-8: libyaml
 * checked the input): U+0080..U+009F, among them NEL (U+0085), which YAML
 * folds as a line break, and the non-characters U+FFFE and U+FFFF. */
static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)s[0], c1 = (unsigned char)s[1];
        if (ch == '"' || ch == '\\') {
            fprintf(f, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(f, "\\x%02x", ch);
        } else if (ch == 0xc2 && c1 >= 0x80 && c1 <= 0x9f) {
            fprintf(f, "\\x%02x", c1);
            s++;
        } else if (ch == 0xef && c1 == 0xbf && ((unsigned char)s[2] & 0xfe) == 0xbe) {
            fprintf(f, "\\u%04X", 0xffc0u | ((unsigned char)s[2] & 0x3fu));
            s += 2;
        } else {
            fputc(ch, f);
        }
    }
    fputc('"', f);
}

static void put_addr(FILE *f, const struct vx_addr *a)
{
    char buf[VX_ADDR_STRLEN];
    if (vx_addr_format((const struct sockaddr *)&a->ss, a->len, buf, sizeof(buf)) < 0)
        snprintf(buf, sizeof(buf), "?");
    put_str(f, buf);
}

static void put_duration(FILE *f, uint64_t ms)
{
    if (ms % 1000 == 0)
        fprintf(f, "%" PRIu64 "s", ms / 1000);
    else
        fprintf(f, "%" PRIu64 "ms", ms);
}

static const char *yesno(bool b)
{
    return b ? "true" : "false";
}

int vx_config_dump_ex(const struct vx_config *cfg, FILE *f, unsigned flags)
{
    if (!cfg || !f)
        return VX_ERR_INVAL;
    fprintf(f, "# vx6 effective configuration (from %s)\n", cfg->filename ? cfg->filename : "?");
    fputs("data_dir: ", f);
    put_str(f, cfg->data_dir ? cfg->data_dir : "");
    fputc('\n', f);
    if (cfg->user) {
        fputs("user: ", f);
        put_str(f, cfg->user);
        fputc('\n', f);
    } else {
        fputs("# user: (not set)\n", f);
    }
    fputs("log_level: ", f);
    put_str(f, cfg->log_level ? cfg->log_level : "info");
    fputs("\ncontrol_socket: ", f);
    put_str(f, cfg->control_socket ? cfg->control_socket : "");
    fputs("\nlisten:", f);
    if (!cfg->n_listen)
        fputs(" []", f);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        fputs("\n  - ", f);
        put_addr(f, &cfg->listen[i]);
    }
    fprintf(f, "\ntransport: %s\nsocks: ", vx_cfg_transport_name(cfg->transport));
    if (cfg->socks_enabled)
        put_addr(f, &cfg->socks);
    else
        fputs("off", f);
    fputc('\n', f);
    if (cfg->socks_username && cfg->socks_password) {
        fputs("socks_auth:\n  username: ", f);
        put_str(f, cfg->socks_username);
        fputs("\n  password: ", f);
        put_str(f, (flags & VX_CONFIG_DUMP_SECRETS) ? cfg->socks_password : "********");
        fputc('\n', f);
    }
    fprintf(f, "clearnet: %s\nbootstrap:", clearnet_names[cfg->clearnet == VX_CFG_CLEARNET_ALLOW]);
    if (!cfg->n_bootstrap)
        fputs(" []", f);
    for (size_t i = 0; i < cfg->n_bootstrap; i++) {
        char a[VX_ADDR_STRLEN];
        const struct vx_cfg_peer *p = &cfg->bootstrap[i];
        vx_addr_format((const struct sockaddr *)&p->addr.ss, p->addr.len, a, sizeof(a));
        fprintf(f, "\n  - \"%s%s%s\"", p->has_id ? p->id.s : "", p->has_id ? "@" : "", a);
    }
    fprintf(f, "\nrelay: %s\nrelay_hops: %u\nmetrics: ", yesno(cfg->relay), cfg->relay_hops);
    if (cfg->metrics_enabled)
        put_addr(f, &cfg->metrics);
    else
        fputs("off", f);
    fputs("\nservices:", f);
    if (!cfg->n_services)
        fputs(" []", f);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        fputs("\n  - name: ", f);
        put_str(f, s->name ? s->name : "");
        if (s->has_target) {
            fputs("\n    target: ", f);
            put_addr(f, &s->target);
        }
        if (s->n_ports) {
            fputs("\n    ports:", f);
            for (size_t k = 0; k < s->n_ports; k++) {
                fprintf(f, "\n      %u: ", s->ports[k].vport);
                put_addr(f, &s->ports[k].target);
            }
        }
        fprintf(f, "\n    hidden: %s\n    allow_remote_target: %s\n    allow:", yesno(s->hidden),
                yesno(s->allow_remote_target));
        if (!s->n_allow)
            fputs(" []", f);
        for (size_t k = 0; k < s->n_allow; k++)
            fprintf(f, "\n      - %s", s->allow[k].s);
        if (s->n_clients)
            fputs("\n    authorized_clients:", f);
        for (size_t k = 0; k < s->n_clients; k++)
            fprintf(f, "\n      - \"%s\"", s->clients[k].s);
        fprintf(f, "\n    route: %s\n    profile: %s\n    transport: %s",
                vx_cfg_route_name(s->route), vx_cfg_profile_name(s->profile),
                vx_cfg_transport_name(s->transport));
    }
    fputs("\nforwards:", f);
    if (!cfg->n_forwards)
        fputs(" []", f);
    for (size_t i = 0; i < cfg->n_forwards; i++) {
        const struct vx_cfg_forward *fw = &cfg->forwards[i];
        bool v6 = fw->host && strchr(fw->host, ':');
        fputs("\n  - listen: ", f);
        put_addr(f, &fw->listen);
        fprintf(f, "\n    to: \"%s%s%s:%u\"", v6 ? "[" : "", fw->host ? fw->host : "",
                v6 ? "]" : "", fw->port);
        fprintf(f, "\n    route: %s\n    transport: %s", vx_cfg_route_name(fw->route),
                vx_cfg_transport_name(fw->transport));
    }
    fputs("\naliases:", f);
    if (!cfg->n_aliases)
        fputs(" {}", f);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        fputs("\n  ", f);
        put_str(f, cfg->aliases[i].name);
        fputs(": ", f);
        put_str(f, cfg->aliases[i].target);
    }
    fputs("\nhidden_auth:", f);
    if (!cfg->n_hidden_auth)
        fputs(" []", f);
    for (size_t i = 0; i < cfg->n_hidden_auth; i++) {
        fprintf(f, "\n  - address: %s.vx6\n    key: ", cfg->hidden_auth[i].address);
        if (cfg->hidden_auth[i].key_file)
            put_str(f, cfg->hidden_auth[i].key_file);
        else
            fputs("identity", f);
    }
    fputc('\n', f);
    if (cfg->xdp_interface) {
        fputs("xdp:\n  interface: ", f);
        put_str(f, cfg->xdp_interface);
        fprintf(f, "\n  mode: %s\n", xdp_mode_names[cfg->xdp_mode == VX_CFG_XDP_GENERIC]);
        fprintf(f, "  udp_rate: %u\n  udp_burst: %u\n", cfg->xdp_udp_rate, cfg->xdp_udp_burst);
    } else {
        fputs("xdp: off\n", f);
    }
    fprintf(f,
            "limits:\n  max_connections: %" PRIu32 "\n  max_connections_per_client: %" PRIu32
            "\n  handshake_timeout: ",
            cfg->limits.max_connections, cfg->limits.max_connections_per_client);
    put_duration(f, cfg->limits.handshake_timeout_ms);
    fputs("\n  idle_timeout: ", f);
    put_duration(f, cfg->limits.idle_timeout_ms);
    fprintf(f,
            "\n  max_streams_per_peer: %" PRIu32 "\n  max_sessions_per_peer: %" PRIu32
            "\n  dht_rate: %" PRIu32 "\n",
            cfg->limits.max_streams_per_peer, cfg->limits.max_sessions_per_peer,
            cfg->limits.dht_rate);
    fflush(f);
    return ferror(f) ? VX_ERR_SYS : 0;
}

int vx_config_dump(const struct vx_config *cfg, FILE *f)
{
    return vx_config_dump_ex(cfg, f, 0);
}
