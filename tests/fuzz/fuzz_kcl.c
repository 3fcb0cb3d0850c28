/*
 * Fuzzes the KCL reader: any input either parses into a document whose root
 * is an object (or absent) with no errors reported, or fails with at least
 * one error and leaves *out alone. Never a crash, a leak or a deep stack.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/doc.h"
#include "core/error.h"
#include "render/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc *doc = NULL;
	int rc = ks_kcl_parse(&doc, (const char *)data, size, "fuzz.k", errs);
	if (rc == 0) {
		if (!doc || ks_errlist_count(errs))
			abort(); /* success with errors is a contract breach */
		json_t *root = ks_doc_root(doc);
		if (root && !json_is_object(root))
			abort();
		/* The tree must serialize (valid UTF-8 everywhere). */
		char *s = root ? json_dumps(root, JSON_PRESERVE_ORDER) : NULL;
		if (root && !s)
			abort();
		free(s);
		ks_doc_free(doc);
	} else if (doc || !ks_errlist_count(errs)) {
		abort(); /* a failure must say why and leave *out alone */
	}
	ks_errlist_free(errs);
	return 0;
}
