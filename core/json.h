/*
 * Deterministic JSON output and hashing.
 */
#ifndef KS_CORE_JSON_H
#define KS_CORE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/mem.h"

/* Two-space indented JSON, keys in insertion order, trailing newline; "{}"
 * and "[]" for empty containers; reals as ks_json_format_real writes them;
 * strings escaped as in ks_json_canonical. NULL writes "null". Returns
 * KS_ELIMIT past OUT's cap. */
int ks_json_pretty(ks_buf *out, const json_t *v);

/* Canonical JSON (RFC 8785 for the values kusync produces): keys sorted, no
 * whitespace, UTF-8 unescaped, only '"', '\' and control characters
 * escaped (\b \f \n \r \t, others as \u00xx). Keys are sorted byte-wise
 * (UTF-8 order; RFC 8785 sorts by UTF-16 units, which differs only between
 * U+E000..U+FFFF and astral characters). Integers are written as they are;
 * reals as ECMAScript prints numbers (1, 0.1, 1e+21, 1e-7). Returns a heap
 * string (free()); *len gets its length if non-NULL. */
char *ks_json_canonical(const json_t *v, size_t *len);

/* Formats a finite real as its shortest round-trip decimal text, the way
 * ECMAScript prints numbers (1e+21, 1.5e-7, 0.1), but with ".0" added when
 * the text would otherwise read back as an integer ("3.0"). BUF should hold
 * 32 bytes. Used by ks_json_pretty and ks_yaml_emit. */
void ks_json_format_real(double d, char *buf, size_t size);

/* SHA-256 of (p, n) as 64 lowercase hex digits and a NUL. */
void ks_sha256_hex(const void *p, size_t n, char out[65]);

#endif
