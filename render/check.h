/*
 * A small toolkit for checking user documents field by field, shared by
 * validate.c (AppConfigurations), workspace.c and load.c. Internal to
 * render/.
 *
 * A ks_vnode is a place in a document: its value (NULL when absent), its
 * field path for messages ("hello.workload.replicas") and its positions.
 * Every check reports to the context's error list as
 * `FILE:LINE:COL: PATH: message` and never stops the caller: each function
 * says whether the value was usable, so validation goes on and collects
 * every problem.
 */
#ifndef KS_RENDER_CHECK_H
#define KS_RENDER_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "render/model.h"

typedef struct ks_vctx {
	ks_arena *a;
	const ks_doc *doc;
	const char *file; /* as it appears in messages */
	ks_errlist *errs;
	unsigned nerr; /* errors reported through this context */
} ks_vctx;

typedef struct ks_vnode {
	const json_t *v;  /* NULL when absent */
	const char *path; /* arena string */
	ks_mark key;	  /* its key, list item, or (absent) the parent's key */
	ks_mark val;	  /* its value, or (absent) the parent's key */
	const char *raw;  /* plain-scalar source text, see ks_node_info */
} ks_vnode;

/* Reports `PATH: message` at M. */
void ks_verr(ks_vctx *c, ks_mark m, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A node for a top-level value at the given positions. */
ks_vnode ks_vroot(const json_t *v, const char *path, ks_mark key, ks_mark val);
/* The member KEY of the mapping P (absent: v NULL, positions of P's key). */
ks_vnode ks_vchild(ks_vctx *c, const ks_vnode *p, const char *key);
/* Item I of the list P; its path is "P[I]". */
ks_vnode ks_vitem(ks_vctx *c, const ks_vnode *p, size_t i);

/* Present and not null. Null counts as absent for optional fields. */
bool ks_vset(const ks_vnode *n);

/* A short description of a value for "got ..." ("\"two\"", "2.5",
 * "a mapping"). */
const char *ks_vdescribe(ks_vctx *c, const ks_vnode *n);

/* Type checks: report "expected ..., got ..." at the value and return
 * false when the value has the wrong type. */
bool ks_vmapping(ks_vctx *c, const ks_vnode *n);
bool ks_vlist(ks_vctx *c, const ks_vnode *n);
/* A string, or a plain scalar of another type taken as its text. NULL
 * (reported) otherwise. The result is arena memory. */
const char *ks_vstring(ks_vctx *c, const ks_vnode *n);
bool ks_vint(ks_vctx *c, const ks_vnode *n, int64_t *out);
/* An int within [lo, hi]; "expected an integer >= LO" for a value below
 * LO when HI is INT32_MAX or more (no bound worth naming), else "expected
 * an integer from LO to HI". */
bool ks_vint_range(ks_vctx *c, const ks_vnode *n, int64_t lo, int64_t hi,
		   int64_t *out);
bool ks_vbool(ks_vctx *c, const ks_vnode *n, bool *out);
/* One of ALLOWED (exact match): its index, else -1 (reported as
 * "expected A, B or C, got ..."). */
int ks_venum(ks_vctx *c, const ks_vnode *n, const char *const *allowed,
	     size_t nallowed);

/* Reports every key of mapping N that is not in KNOWN, at the key, with a
 * did-you-mean hint. Returns the number of unknown keys. */
unsigned ks_vknown(ks_vctx *c, const ks_vnode *n, const char *const *known,
		   size_t nknown);
/* The member KEY of P when set; when not, reports `P: missing required
 * field "KEY"` at P's key and returns a node with v NULL. */
ks_vnode ks_vrequired(ks_vctx *c, const ks_vnode *p, const char *key);

/* A list of strings (scalars as text). */
bool ks_vstrlist(ks_vctx *c, const ks_vnode *n, ks_strlist *out);
/*
 * labels / annotations: a mapping of valid label keys to strings; label
 * values must be valid label values. Keys under kusync.io/ and the
 * ownership labels app.kubernetes.io/managed-by and
 * app.kubernetes.io/instance are refused. Null values are "".
 */
bool ks_vlabels(ks_vctx *c, const ks_vnode *n, bool annotations,
		ks_strmap *out);
/* int >= 0 or "N%" with N from 0 to 100. */
bool ks_vintorpct(ks_vctx *c, const ks_vnode *n, ks_intorpct *out);
/* A duration (ks_duration_parse) greater than zero. */
bool ks_vduration(ks_vctx *c, const ks_vnode *n, int64_t *ms,
		  const char **text);

/* Joins a display path: "a/b" + "c" -> "a/b/c" (no doubled slash). */
char *ks_vjoin(ks_arena *a, const char *dir, const char *name);

#endif
