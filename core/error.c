#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

int ks_error_set(ks_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

void ks_error_clear(ks_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

struct errent {
	char *file;
	unsigned line, col;
	size_t seq;
	char *text; /* the formatted line */
};

struct ks_errlist {
	struct errent *v;
	size_t n, alloc;
	size_t dropped; /* beyond KS_ERRLIST_HARD_MAX */
};

ks_errlist *ks_errlist_new(void)
{
	return ks_xcalloc(1, sizeof(ks_errlist));
}

void ks_errlist_free(ks_errlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].file);
		free(l->v[i].text);
	}
	free(l->v);
	free(l);
}

void ks_errlist_vadd(ks_errlist *l, const char *file, unsigned line,
		     unsigned col, const char *fmt, va_list ap)
{
	if (l->n >= KS_ERRLIST_HARD_MAX) {
		l->dropped++;
		return;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->v = ks_xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct errent *e = &l->v[l->n];
	e->file = ks_xstrdup(file ? file : "");
	e->line = line;
	e->col = col;
	e->seq = l->n;
	if (!file || !*file)
		e->text = ks_xstrdup(msg);
	else if (line == 0)
		e->text = ks_xasprintf("%s: %s", file, msg);
	else
		e->text = ks_xasprintf("%s:%u:%u: %s", file, line, col, msg);
	l->n++;
}

void ks_errlist_add(ks_errlist *l, const char *file, unsigned line,
		    unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ks_errlist_vadd(l, file, line, col, fmt, ap);
	va_end(ap);
}

size_t ks_errlist_count(const ks_errlist *l)
{
	return l ? l->n + l->dropped : 0;
}

static int errent_cmp(const void *pa, const void *pb)
{
	const struct errent *a = pa, *b = pb;
	int c = strcmp(a->file, b->file);
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void ks_errlist_sort(ks_errlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), errent_cmp);
}

const char *ks_errlist_get(const ks_errlist *l, size_t i)
{
	return i < l->n ? l->v[i].text : NULL;
}

void ks_errlist_print(ks_errlist *l, FILE *fp, size_t limit)
{
	ks_errlist_sort(l);
	size_t shown = l->n < limit ? l->n : limit;
	for (size_t i = 0; i < shown; i++)
		fprintf(fp, "%s\n", l->v[i].text);
	size_t more = ks_errlist_count(l) - shown;
	if (more)
		fprintf(fp, "... and %zu more error%s\n", more,
			more == 1 ? "" : "s");
}
