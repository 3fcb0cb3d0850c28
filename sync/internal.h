/*
 * What the files of sync/ share and nobody else needs.
 */
#ifndef KS_SYNC_INTERNAL_H
#define KS_SYNC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* PATH resolved against DIR unless absolute; "~/" means $HOME. New string. */
char *ks_sync_resolve_path(const char *dir, const char *path);

/* Milliseconds of the monotonic clock, and of the wall clock. */
int64_t ks_sync_now_ms(void);
int64_t ks_sync_wall_ms(void);

/* Sleeps MS milliseconds. */
void ks_sync_sleep_ms(int64_t ms);

/* Uniform in [0, 1), from the CSPRNG (cheap enough for jitter). */
double ks_sync_rand01(void);

/* Parses an RFC 3339 time ("2026-11-25T08:00:00Z", with optional fraction
 * and offset) into Unix seconds; -1 when malformed. */
int64_t ks_sync_parse_time(const char *s);

/* SHA-256 of (p, n) as lowercase hex (65 bytes with the NUL). */
void ks_sync_sha256_hex(const void *p, size_t n, char out[65]);

#endif
