/*
 * Fuzzes the YAML reader and writer: any input either parses (every
 * document of the stream) with no errors reported, or fails with at least
 * one error and leaves *out alone. Every parsed document, written back with
 * ks_yaml_emit and read again, gives the same value, and so does the input
 * taken as one string; the JSON writers take them too. Never a crash, a leak or
 * a deep stack.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nodes of V, counting shared subtrees each time, stopping past LIMIT (an
 * alias-heavy tree is legal but slow to write out). */
static size_t count_nodes(const json_t *v, size_t limit)
{
	size_t n = 1;
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			n += count_nodes(x, limit);
			if (n > limit)
				return n;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			n += count_nodes(x, limit);
			if (n > limit)
				return n;
		}
	}
	return n;
}

static void round_trip(const json_t *root)
{
	if (count_nodes(root, 100000) > 100000)
		return;
	ks_buf b;
	ks_buf_init(&b, 0);
	if (ks_yaml_emit(&b, root) != 0)
		abort(); /* the reader only makes valid UTF-8 */
	ks_errlist *errs = ks_errlist_new();
	ks_doc *again = NULL;
	if (ks_yaml_parse(&again, b.data, b.len, "emitted.yaml", KS_YAML_SINGLE,
			  errs) != 0)
		abort();
	if (!json_equal(ks_doc_root(again), (json_t *)root))
		abort();
	ks_doc_free(again);
	ks_errlist_free(errs);
	ks_buf_release(&b);

	ks_buf_init(&b, 0);
	if (ks_json_pretty(&b, root) != 0)
		abort();
	ks_buf_release(&b);
	size_t len = 0;
	char *c = ks_json_canonical(root, &len);
	char hex[65];
	ks_sha256_hex(c, len, hex);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc **docs = NULL;
	size_t n = 0;
	int rc = ks_yaml_parse_all(&docs, &n, (const char *)data, size,
				   "fuzz.yaml", errs);
	if (rc == 0) {
		if (!docs || ks_errlist_count(errs))
			abort(); /* success with errors is a contract breach */
		for (size_t i = 0; i < n; i++) {
			if (!ks_doc_root(docs[i]))
				abort(); /* empty documents are skipped */
			round_trip(ks_doc_root(docs[i]));
			ks_doc_free(docs[i]);
		}
		free(docs);
	} else if (docs || !ks_errlist_count(errs)) {
		abort(); /* a failure must say why and leave *out alone */
	}
	ks_errlist_free(errs);

	/* The input as one string (when it is UTF-8): as a value, a list item
	 * and a key it must survive the writer and the reader. */
	json_t *str = json_stringn((const char *)data, size);
	if (str) {
		json_t *v = json_pack("{s: O, s: [O]}", "v", str, "l", str);
		if (!memchr(data, 0, size))
			json_object_set(v, json_string_value(str), str);
		round_trip(v);
		round_trip(str);
		json_decref(v);
		json_decref(str);
	}

	/* The single-document entry point agrees on failure. */
	errs = ks_errlist_new();
	ks_doc *doc = NULL;
	int rc1 = ks_yaml_parse(&doc, (const char *)data, size, "fuzz.yaml", 0,
				errs);
	if ((rc1 == 0) != (rc == 0))
		abort();
	ks_doc_free(doc);
	ks_errlist_free(errs);
	return 0;
}
