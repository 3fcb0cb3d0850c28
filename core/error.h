/*
 * Error codes and the two ways errors travel: ks_error for one failure of an
 * operation (its message), ks_errlist for the many problems found in user
 * input, each with a position.
 */
#ifndef KS_CORE_ERROR_H
#define KS_CORE_ERROR_H

#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>

enum {
	KS_OK = 0,
	KS_ERROR = -1,	/* generic failure */
	KS_EINVAL = -2, /* invalid user input (exit code 2) */
	KS_EIO = -3,	/* file system */
	KS_ENOTFOUND = -4,
	KS_ELIMIT = -5, /* a size or count limit was hit */
	KS_EENV = -6,	/* environment: cluster, git, network (exit 3) */
	KS_ECONFLICT = -7,
};

typedef struct ks_error {
	int code;
	char msg[1024];
} ks_error;

/* Sets code and message; returns code so that `return ks_error_set(...)`
 * reads naturally. err may be NULL. */
int ks_error_set(ks_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ks_error_clear(ks_error *err);

/*
 * A list of input errors. Each entry is `FILE:LINE:COL: message` (or
 * `FILE: message` when line is 0). Entries are kept in full up to a memory
 * guard of KS_ERRLIST_HARD_MAX; ks_errlist_print sorts them by file, line
 * and column (stably) and prints at most `limit` of them.
 */
#define KS_ERRLIST_LIMIT 50
#define KS_ERRLIST_HARD_MAX 10000

typedef struct ks_errlist ks_errlist;

ks_errlist *ks_errlist_new(void);
void ks_errlist_free(ks_errlist *l);
void ks_errlist_add(ks_errlist *l, const char *file, unsigned line,
		    unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void ks_errlist_vadd(ks_errlist *l, const char *file, unsigned line,
		     unsigned col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
size_t ks_errlist_count(const ks_errlist *l);
/* Sorts by (file, line, col), keeping insertion order for equal keys. */
void ks_errlist_sort(ks_errlist *l);
/* The i-th formatted line (after sorting, if sorted), borrowed. */
const char *ks_errlist_get(const ks_errlist *l, size_t i);
/* Sorts, prints up to limit lines, then "... and N more errors". */
void ks_errlist_print(ks_errlist *l, FILE *fp, size_t limit);

#endif
