/* json.h — a tiny streaming JSON writer.
 *
 * Builds one JSON document in memory.  The writer tracks nesting and inserts
 * commas and colons itself; a call that does not fit the document's
 * structure (a value where a key is due, an unbalanced end, nesting deeper
 * than VX_JSON_MAX_DEPTH) puts the writer into an error state, after which
 * every call is ignored and vx_json_finish() reports VX_ERR_INVAL.
 *
 * Strings are escaped per RFC 8259: '"', '\\' and control characters are
 * escaped; bytes that are not valid UTF-8 are replaced by U+FFFD so the
 * output is always valid JSON.
 *
 *     struct vx_json *j = vx_json_new();
 *     vx_json_obj_begin(j);
 *     vx_json_kv_str(j, "node_id", id);
 *     vx_json_key(j, "listen");
 *     vx_json_arr_begin(j); vx_json_str(j, "[::]:4242"); vx_json_arr_end(j);
 *     vx_json_obj_end(j);
 *     if (vx_json_finish(j) == 0) fputs(vx_json_data(j, NULL), stdout);
 *     vx_json_free(j);
 */
#ifndef VX6_LIB_JSON_H
#define VX6_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VX_JSON_MAX_DEPTH 32

struct vx_json;

/* A new, empty writer.  Never NULL (aborts on out of memory). */
struct vx_json *vx_json_new(void);
/* Accepts NULL. */
void vx_json_free(struct vx_json *j);

void vx_json_obj_begin(struct vx_json *j);
void vx_json_obj_end(struct vx_json *j);
void vx_json_arr_begin(struct vx_json *j);
void vx_json_arr_end(struct vx_json *j);
/* The next member's name; only valid directly inside an object. */
void vx_json_key(struct vx_json *j, const char *key);

void vx_json_str(struct vx_json *j, const char *s); /* NULL writes null */
void vx_json_strn(struct vx_json *j, const char *s, size_t len);
void vx_json_int(struct vx_json *j, int64_t v);
void vx_json_uint(struct vx_json *j, uint64_t v);
/* Finite doubles only; NaN and infinities write null. */
void vx_json_double(struct vx_json *j, double v);
void vx_json_bool(struct vx_json *j, bool v);
void vx_json_null(struct vx_json *j);

/* key + value shorthands. */
void vx_json_kv_str(struct vx_json *j, const char *key, const char *s);
void vx_json_kv_int(struct vx_json *j, const char *key, int64_t v);
void vx_json_kv_uint(struct vx_json *j, const char *key, uint64_t v);
void vx_json_kv_bool(struct vx_json *j, const char *key, bool v);

/* 0 when the document is complete and well formed, VX_ERR_INVAL after a
 * misuse or when containers are still open. */
int vx_json_finish(const struct vx_json *j);
/* The text so far, NUL-terminated (never NULL).  *len may be NULL. */
const char *vx_json_data(const struct vx_json *j, size_t *len);

/* Append `s` (len bytes) to `out` as a quoted, escaped JSON string.  Returns
 * the number of bytes the full string needs (excluding the NUL), like
 * snprintf; out is NUL-terminated when cap > 0. */
size_t vx_json_escape(const char *s, size_t len, char *out, size_t cap);

#endif
