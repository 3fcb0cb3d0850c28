/*
 * YAML in and out.
 *
 * The reader is built on libyaml's event API and produces ks_doc documents
 * with positions. Scalars resolve by the YAML 1.2 core schema: plain
 * true/false (any case) are booleans, null/~/empty are null, decimal, 0o
 * octal and 0x hex are integers, decimal floats and .inf/.nan are reals;
 * everything else, and every quoted scalar, is a string (so yes/no/on/off
 * are strings). Anchors and aliases are resolved (an alias shares the
 * anchored subtree); the number of nodes reachable through aliases is capped
 * so an alias bomb is an error, not an explosion. Duplicate keys are an
 * error at the second key. Non-string keys are taken as their text. Nesting
 * deeper than KS_YAML_MAX_DEPTH is an error. Tags other than the core
 * schema's are refused.
 *
 * Every error goes to ERRS as `FILE:LINE:COL: message` and the function
 * returns KS_EINVAL with *out untouched.
 *
 * Details of the reader:
 * - Positions: key = the key scalar's start, value = the value node's start
 *   (at its anchor or tag if it has one; a block mapping starts at its
 *   first key, a flow one at its brace); a sequence item has key = value =
 *   the item node's start. An alias value is placed where the alias
 *   stands; the members of the shared subtree keep the anchor's positions.
 *   Columns count characters (a UTF-8 byte order mark is not one).
 * - Integers outside int64 ("integer out of range"), reals outside double
 *   ("number out of range") and .inf/.nan (JSON has no such numbers) are
 *   errors. !!str, !!int, !!float, !!bool, !!null, !!map and !!seq apply;
 *   any other tag is an error. "<<" is an ordinary key.
 * - Structural errors (libyaml's, nesting, the node cap, non-scalar keys,
 *   unknown anchors, a second document under KS_YAML_SINGLE) stop at the
 *   first; errors in single values (duplicate keys, tags, numbers) are all
 *   reported.
 * - KS_YAML_MAX_NODES counts per document.
 */
#ifndef KS_CORE_YAML_H
#define KS_CORE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"

#define KS_YAML_MAX_FILE (16u << 20) /* bytes of one YAML file */
#define KS_YAML_MAX_DEPTH 200
#define KS_YAML_MAX_NODES 2000000 /* nodes, counting alias expansions */

enum {
	/* Refuse a stream with more than one document ("multi-document files
	 * are not supported here"). */
	KS_YAML_SINGLE = 1 << 0,
};

/* Parses one document. An empty stream (or only comments) gives a document
 * whose root is NULL and whose root mark is 0:0. Without KS_YAML_SINGLE the
 * whole stream is read (an error anywhere fails) and the first non-empty
 * document is returned. */
int ks_yaml_parse(ks_doc **out, const char *buf, size_t len, const char *file,
		  unsigned flags, ks_errlist *errs);

/* Parses every document of a stream; empty documents are skipped. *out is
 * an array of *n documents; free each with ks_doc_free and the array with
 * free(). */
int ks_yaml_parse_all(ks_doc ***out, size_t *n, const char *buf, size_t len,
		      const char *file, ks_errlist *errs);

/* Reads PATH (capped at KS_YAML_MAX_FILE) and parses it; messages name the
 * file as DISPLAY (PATH when NULL). A file that cannot be read gives
 * `DISPLAY: <strerror>` and ks_read_file's code (KS_ENOTFOUND, KS_EIO); a
 * too large one `DISPLAY: file is too large (N bytes, the limit is 16 MiB)`
 * and KS_EINVAL. */
int ks_yaml_load_file(ks_doc **out, const char *path, const char *display,
		      unsigned flags, ks_errlist *errs);

/*
 * Writes V as block YAML (no leading "---"), deterministically: object keys
 * in insertion order, two-space indentation, lists of mappings as "- key:".
 * A string is quoted whenever it would read back as something else under
 * YAML 1.2 or YAML 1.1 (true, yes, on, null, 1e3, 0x1F, "", leading or
 * trailing space, ": " or " #", indicators), with double quotes and escapes;
 * multi-line strings use literal blocks where they round-trip exactly.
 * Reals are written shortest-round-trip, always readable as reals by YAML
 * 1.1 too ("3.0", "1.0e+21"). A sequence under a key is indented by two
 * ("key:\n  - a"). NULL writes "null". Returns KS_EINVAL for a string that
 * is not valid UTF-8 and ks_buf's KS_ELIMIT past the buffer's cap; on error
 * OUT is left as it was.
 */
int ks_yaml_emit(ks_buf *out, const json_t *v);

#endif
