/*
 * Memory helpers. Out-of-memory aborts, as in git and redis: every caller
 * can then treat allocation as infallible.
 */
#ifndef KS_CORE_MEM_H
#define KS_CORE_MEM_H

#include <stddef.h>

struct ks_error;

void *ks_xmalloc(size_t n);
void *ks_xcalloc(size_t nmemb, size_t size);
void *ks_xrealloc(void *p, size_t n);
char *ks_xstrdup(const char *s);
char *ks_xstrndup(const char *s, size_t n);
/* printf into a new heap string; the caller frees it. */
char *ks_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * An arena: many small allocations freed at once. The render of one set of
 * stacks allocates its model from one arena (nginx's request pool).
 */
typedef struct ks_arena ks_arena;

ks_arena *ks_arena_new(void);
/* Frees every allocation made from the arena. Accepts NULL. */
void ks_arena_free(ks_arena *a);
/* Zeroed memory aligned for any type; lives as long as the arena. */
void *ks_arena_alloc(ks_arena *a, size_t n);
char *ks_arena_strdup(ks_arena *a, const char *s);
char *ks_arena_strndup(ks_arena *a, const char *s, size_t n);
char *ks_arena_printf(ks_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A growable byte buffer with a size cap. ks_buf_init sets cap (0 = no cap);
 * an append past the cap fails with KS_ELIMIT and leaves the buffer as it was.
 * The data is always NUL-terminated.
 */
typedef struct ks_buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
} ks_buf;

void ks_buf_init(ks_buf *b, size_t cap);
void ks_buf_release(ks_buf *b);
int ks_buf_append(ks_buf *b, const void *p, size_t n);
int ks_buf_puts(ks_buf *b, const char *s);
int ks_buf_printf(ks_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free() it) and empties the buffer. */
char *ks_buf_detach(ks_buf *b, size_t *len);

/* Reads a whole file into memory, refusing files larger than max bytes. */
int ks_read_file(const char *path, size_t max, char **out, size_t *len,
		 struct ks_error *err);

#endif
