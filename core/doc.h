/*
 * Documents: a jansson value tree plus the source position of every node.
 *
 * Positions live in a side table keyed by (container, key) or
 * (container, index), because jansson shares its true/false/null singletons
 * and so a node pointer alone cannot identify a place. Containers are never
 * shared within one document except through YAML aliases, where sharing the
 * anchored subtree (and its positions) is exactly right.
 *
 * A document is immutable once built: stages hand it on, they do not edit it.
 */
#ifndef KS_CORE_DOC_H
#define KS_CORE_DOC_H

#include <jansson.h>
#include <stddef.h>

typedef struct ks_mark {
	unsigned line; /* 1-based; 0 = unknown */
	unsigned col;  /* 1-based, in characters */
} ks_mark;

enum ks_scalar_style {
	KS_STYLE_NONE = 0, /* not a scalar, or not from YAML */
	KS_STYLE_PLAIN,
	KS_STYLE_QUOTED, /* single, double, literal or folded */
};

typedef struct ks_node_info {
	ks_mark key;   /* the key of an object member, or the item of a list */
	ks_mark value; /* the value */
	/* The source text of a plain scalar that resolved to something other
	 * than a string ("8.0", "0644", "true"), so that a field wanting a
	 * string can take it as written. NULL otherwise. */
	const char *raw;
	unsigned char style;
} ks_node_info;

typedef struct ks_doc ks_doc;

/* A new empty document for FILE (the path as it should appear in messages;
 * copied). */
ks_doc *ks_doc_new(const char *file);
/* Frees the document and drops its reference to the root. Accepts NULL. */
void ks_doc_free(ks_doc *d);

const char *ks_doc_file(const ks_doc *d);
/* The root value, borrowed; NULL for an empty document. */
json_t *ks_doc_root(const ks_doc *d);
ks_mark ks_doc_root_mark(const ks_doc *d);
/* Sets the root, stealing the reference. */
void ks_doc_set_root(ks_doc *d, json_t *root, ks_mark mark);

/* Records where a member of OBJ or an item of ARR came from. The info is
 * copied (raw text included). */
void ks_doc_note_key(ks_doc *d, const json_t *obj, const char *key,
		     const ks_node_info *info);
void ks_doc_note_index(ks_doc *d, const json_t *arr, size_t index,
		       const ks_node_info *info);

/* Looks a place up; NULL when nothing was recorded (values built in code). */
const ks_node_info *ks_doc_key_info(const ks_doc *d, const json_t *obj,
				    const char *key);
const ks_node_info *ks_doc_index_info(const ks_doc *d, const json_t *arr,
				      size_t index);

/* Arena-backed string owned by the document (for raw texts and the like). */
const char *ks_doc_intern(ks_doc *d, const char *s, size_t len);

#endif
