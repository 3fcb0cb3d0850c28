#include "core/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/banned.h"

static void oom(size_t n)
{
	fprintf(stderr, "kusync: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *ks_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *ks_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *ks_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *ks_xstrdup(const char *s)
{
	return ks_xstrndup(s, strlen(s));
}

char *ks_xstrndup(const char *s, size_t n)
{
	char *p = ks_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *ks_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *p = ks_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* Arena: a chain of blocks; big requests get a block of their own. */
struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

struct ks_arena {
	struct arena_block *head;
};

#define ARENA_BLOCK (64 * 1024)

ks_arena *ks_arena_new(void)
{
	return ks_xcalloc(1, sizeof(ks_arena));
}

void ks_arena_free(ks_arena *a)
{
	if (!a)
		return;
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

void *ks_arena_alloc(ks_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		struct arena_block *nb = ks_xmalloc(sizeof(*nb) + size);
		nb->used = 0;
		nb->size = size;
		if (b && size == n) {
			/* A big block goes behind the current one so the
			 * current block's free space is not lost. */
			nb->next = b->next;
			b->next = nb;
			nb->used = n;
			memset(nb->data, 0, n);
			return nb->data;
		}
		nb->next = b;
		a->head = nb;
		b = nb;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *ks_arena_strndup(ks_arena *a, const char *s, size_t n)
{
	char *p = ks_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *ks_arena_strdup(ks_arena *a, const char *s)
{
	return ks_arena_strndup(a, s, strlen(s));
}

char *ks_arena_printf(ks_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *p = ks_arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void ks_buf_init(ks_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void ks_buf_release(ks_buf *b)
{
	if (!b)
		return;
	free(b->data);
	ks_buf_init(b, b->cap);
}

int ks_buf_append(ks_buf *b, const void *p, size_t n)
{
	if (b->cap && (n > b->cap || b->len > b->cap - n))
		return KS_ELIMIT;
	if (b->len + n + 1 > b->alloc) {
		size_t want = b->alloc ? b->alloc : 256;
		while (want < b->len + n + 1)
			want *= 2;
		b->data = ks_xrealloc(b->data, want);
		b->alloc = want;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ks_buf_puts(ks_buf *b, const char *s)
{
	return ks_buf_append(b, s, strlen(s));
}

int ks_buf_printf(ks_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return KS_ERROR;
	if ((size_t)n < sizeof(small))
		return ks_buf_append(b, small, (size_t)n);
	char *big = ks_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = ks_buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

char *ks_buf_detach(ks_buf *b, size_t *len)
{
	if (!b->data)
		ks_buf_append(b, "", 0);
	char *p = b->data;
	if (len)
		*len = b->len;
	ks_buf_init(b, b->cap);
	return p;
}

int ks_read_file(const char *path, size_t max, char **out, size_t *len,
		 ks_error *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return ks_error_set(err,
				    errno == ENOENT ? KS_ENOTFOUND : KS_EIO,
				    "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return ks_error_set(err, KS_EIO, "%s: is a directory", path);
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
	    (uintmax_t)st.st_size > max) {
		fclose(fp);
		return ks_error_set(err, KS_ELIMIT,
				    "%s: file is too large (%jd bytes, the "
				    "limit is %zu)",
				    path, (intmax_t)st.st_size, max);
	}
	ks_buf b;
	ks_buf_init(&b, max);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (ks_buf_append(&b, chunk, n) < 0) {
			rc = ks_error_set(err, KS_ELIMIT,
					  "%s: file is too large (the limit "
					  "is %zu bytes)",
					  path, max);
			break;
		}
	}
	if (!rc && ferror(fp))
		rc = ks_error_set(err, KS_EIO, "%s: %s", path, strerror(errno));
	fclose(fp);
	if (rc) {
		ks_buf_release(&b);
		return rc;
	}
	*out = ks_buf_detach(&b, len);
	return 0;
}
