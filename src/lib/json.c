/* json.c — a tiny streaming JSON writer. */
#include "lib/json.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ctx { CTX_OBJ, CTX_ARR };

struct vx_json {
    char *buf;
    size_t len, cap;
    int depth;
    enum ctx stack[VX_JSON_MAX_DEPTH];
    size_t count[VX_JSON_MAX_DEPTH]; /* members written at each level */
    bool have_key;                   /* inside an object: a key awaits its value */
    bool done;                       /* the root value is complete */
    bool error;
};

struct vx_json *vx_json_new(void)
{
    struct vx_json *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->cap = 256;
    j->buf = xrealloc(NULL, j->cap);
    j->buf[0] = '\0';
    return j;
}

void vx_json_free(struct vx_json *j)
{
    if (!j)
        return;
    free(j->buf);
    free(j);
}

static void reserve(struct vx_json *j, size_t more)
{
    if (j->len + more + 1 <= j->cap)
        return;
    while (j->len + more + 1 > j->cap)
        j->cap *= 2;
    j->buf = xrealloc(j->buf, j->cap);
}

static void put(struct vx_json *j, const char *s, size_t n)
{
    reserve(j, n);
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

/* Called before every value: checks that a value may go here and writes the
 * separating comma.  false (and error state) if not. */
static bool before_value(struct vx_json *j)
{
    if (j->error)
        return false;
    if (j->depth == 0) {
        if (j->done) {
            j->error = true;
            return false;
        }
        return true;
    }
    if (j->stack[j->depth - 1] == CTX_OBJ) {
        if (!j->have_key) {
            j->error = true;
            return false;
        }
        j->have_key = false;
        return true;
    }
    if (j->count[j->depth - 1]++ > 0)
        put(j, ",", 1);
    return true;
}

static void after_value(struct vx_json *j)
{
    if (j->depth == 0)
        j->done = true;
}

static void open_ctx(struct vx_json *j, enum ctx c, char ch)
{
    if (!before_value(j))
        return;
    if (j->depth >= VX_JSON_MAX_DEPTH) {
        j->error = true;
        return;
    }
    j->stack[j->depth] = c;
    j->count[j->depth] = 0;
    j->depth++;
    put(j, &ch, 1);
}

static void close_ctx(struct vx_json *j, enum ctx c, char ch)
{
    if (j->error)
        return;
    if (j->depth == 0 || j->stack[j->depth - 1] != c || j->have_key) {
        j->error = true;
        return;
    }
    j->depth--;
    put(j, &ch, 1);
    after_value(j);
}

void vx_json_obj_begin(struct vx_json *j)
{
    open_ctx(j, CTX_OBJ, '{');
}

void vx_json_obj_end(struct vx_json *j)
{
    close_ctx(j, CTX_OBJ, '}');
}

void vx_json_arr_begin(struct vx_json *j)
{
    open_ctx(j, CTX_ARR, '[');
}

void vx_json_arr_end(struct vx_json *j)
{
    close_ctx(j, CTX_ARR, ']');
}

static void put_escaped(struct vx_json *j, const char *s, size_t len)
{
    size_t need = vx_json_escape(s, len, NULL, 0);
    reserve(j, need);
    vx_json_escape(s, len, j->buf + j->len, j->cap - j->len);
    j->len += need;
}

void vx_json_key(struct vx_json *j, const char *key)
{
    if (j->error)
        return;
    if (j->depth == 0 || j->stack[j->depth - 1] != CTX_OBJ || j->have_key || !key) {
        j->error = true;
        return;
    }
    if (j->count[j->depth - 1]++ > 0)
        put(j, ",", 1);
    put_escaped(j, key, strlen(key));
    put(j, ":", 1);
    j->have_key = true;
}

void vx_json_strn(struct vx_json *j, const char *s, size_t len)
{
    if (!before_value(j))
        return;
    put_escaped(j, s, len);
    after_value(j);
}

void vx_json_str(struct vx_json *j, const char *s)
{
    if (!s) {
        vx_json_null(j);
        return;
    }
    vx_json_strn(j, s, strlen(s));
}

static void put_raw_value(struct vx_json *j, const char *text)
{
    if (!before_value(j))
        return;
    put(j, text, strlen(text));
    after_value(j);
}

void vx_json_int(struct vx_json *j, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    put_raw_value(j, tmp);
}

void vx_json_uint(struct vx_json *j, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    put_raw_value(j, tmp);
}

void vx_json_double(struct vx_json *j, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        put_raw_value(j, "null");
        return;
    }
    snprintf(tmp, sizeof(tmp), "%.17g", v);
    put_raw_value(j, tmp);
}

void vx_json_bool(struct vx_json *j, bool v)
{
    put_raw_value(j, v ? "true" : "false");
}

void vx_json_null(struct vx_json *j)
{
    put_raw_value(j, "null");
}

void vx_json_kv_str(struct vx_json *j, const char *key, const char *s)
{
    vx_json_key(j, key);
    vx_json_str(j, s);
}

void vx_json_kv_int(struct vx_json *j, const char *key, int64_t v)
{
    vx_json_key(j, key);
    vx_json_int(j, v);
}

void vx_json_kv_uint(struct vx_json *j, const char *key, uint64_t v)
{
    vx_json_key(j, key);
    vx_json_uint(j, v);
}

void vx_json_kv_bool(struct vx_json *j, const char *key, bool v)
{
    vx_json_key(j, key);
    vx_json_bool(j, v);
}

int vx_json_finish(const struct vx_json *j)
{
    if (j->error || j->depth != 0 || !j->done)
        return VX_ERR_INVAL;
    return 0;
}

const char *vx_json_data(const struct vx_json *j, size_t *len)
{
    if (len)
        *len = j->len;
    return j->buf;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

struct sink {
    char *out;
    size_t cap, n;
};

static void sink_put(struct sink *k, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++, k->n++)
        if (k->cap && k->n < k->cap - 1)
            k->out[k->n] = s[i];
}

size_t vx_json_escape(const char *s, size_t len, char *out, size_t cap)
{
    struct sink k = {out, cap, 0};
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    sink_put(&k, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sink_put(&k, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *e = NULL;
            switch (c) {
            case '\n':
                e = "\\n";
                break;
            case '\r':
                e = "\\r";
                break;
            case '\t':
                e = "\\t";
                break;
            case '\b':
                e = "\\b";
                break;
            case '\f':
                e = "\\f";
                break;
            default:
                break;
            }
            if (e)
                sink_put(&k, e, 2);
            else {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                sink_put(&k, esc, 6);
            }
            i++;
        } else {
            size_t n = utf8_seq(p + i, len - i);
            if (n == 0) {
                sink_put(&k, "\\ufffd", 6);
                i++;
            } else {
                sink_put(&k, s + i, n);
                i += n;
            }
        }
    }
    sink_put(&k, "\"", 1);
    if (cap)
        out[k.n < cap ? k.n : cap - 1] = '\0';
    return k.n;
}
