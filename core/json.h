/*
 * Deterministic JSON output and hashing.
 */
#ifndef KS_CORE_JSON_H
#define KS_CORE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/mem.h"

/* Two-space indented JSON, keys in insertion order, trailing newline. */
int ks_json_pretty(ks_buf *out, const json_t *v);

/* Canonical JSON (RFC 8785 for the values kusync produces): keys sorted, no
 * whitespace, UTF-8 unescaped, only '"', '\' and control characters
 * escaped. Returns a heap string (free()); *len gets its length if non-NULL. */
char *ks_json_canonical(const json_t *v, size_t *len);

/* SHA-256 of (p, n) as 64 lowercase hex digits and a NUL. */
void ks_sha256_hex(const void *p, size_t n, char out[65]);

#endif
