#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"

static ks_node_info info_at(unsigned line, unsigned col, const char *raw)
{
	ks_node_info in = {{line, col}, {line, col + 1}, raw, KS_STYLE_PLAIN};
	return in;
}

static void keys_and_indexes_are_separate_places(void **state)
{
	(void)state;
	ks_doc *d = ks_doc_new("a.yaml");
	json_t *obj = json_object();
	json_t *arr = json_array();
	ks_node_info a = info_at(1, 1, NULL), b = info_at(2, 3, "0644");
	ks_doc_note_key(d, obj, "x", &a);
	ks_doc_note_index(d, arr, 0, &b);

	const ks_node_info *in = ks_doc_key_info(d, obj, "x");
	assert_non_null(in);
	assert_int_equal(in->key.line, 1);
	assert_int_equal(in->value.col, 2);
	assert_null(in->raw);
	in = ks_doc_index_info(d, arr, 0);
	assert_non_null(in);
	assert_int_equal(in->key.line, 2);
	assert_string_equal(in->raw, "0644");

	/* The same key on another container, another key, an index on the
	 * object: nothing recorded. */
	assert_null(ks_doc_key_info(d, arr, "x"));
	assert_null(ks_doc_key_info(d, obj, "y"));
	assert_null(ks_doc_index_info(d, obj, 0));
	assert_null(ks_doc_index_info(d, arr, 1));
	assert_null(ks_doc_key_info(d, obj, NULL));
	json_decref(obj);
	json_decref(arr);
	ks_doc_free(d);
}

static void info_is_copied_and_noting_again_replaces(void **state)
{
	(void)state;
	ks_doc *d = ks_doc_new("a.yaml");
	json_t *obj = json_object();
	char key[] = "replicas";
	char raw[] = "08";
	ks_node_info a = info_at(5, 7, raw);
	ks_doc_note_key(d, obj, key, &a);
	/* The caller's buffers may change afterwards. */
	memcpy(key, "xxxxxxxx", 8);
	memcpy(raw, "99", 2);
	const ks_node_info *in = ks_doc_key_info(d, obj, "replicas");
	assert_non_null(in);
	assert_string_equal(in->raw, "08");
	assert_int_equal(in->style, KS_STYLE_PLAIN);

	ks_node_info b = info_at(9, 1, NULL);
	ks_doc_note_key(d, obj, "replicas", &b);
	in = ks_doc_key_info(d, obj, "replicas");
	assert_int_equal(in->key.line, 9);
	assert_null(in->raw);
	json_decref(obj);
	ks_doc_free(d);
}

/* Many places over many containers: every one found, and found pointers
 * stay valid while the table grows. */
static void many_places_survive_growth(void **state)
{
	(void)state;
	enum { NOBJ = 2000, NKEY = 25 };
	ks_doc *d = ks_doc_new("big.yaml");
	json_t *root = json_array();
	for (int i = 0; i < NOBJ; i++)
		json_array_append_new(root, json_object());
	const ks_node_info *first = NULL;
	for (int i = 0; i < NOBJ; i++) {
		json_t *o = json_array_get(root, (size_t)i);
		ks_node_info ai = info_at((unsigned)i + 1, 1, NULL);
		ks_doc_note_index(d, root, (size_t)i, &ai);
		for (int k = 0; k < NKEY; k++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", k);
			ks_node_info in =
				info_at((unsigned)i + 1, (unsigned)k + 1, key);
			ks_doc_note_key(d, o, key, &in);
		}
		if (i == 0)
			first = ks_doc_key_info(d, o, "k3");
	}
	for (int i = 0; i < NOBJ; i++) {
		json_t *o = json_array_get(root, (size_t)i);
		const ks_node_info *ai = ks_doc_index_info(d, root, (size_t)i);
		assert_non_null(ai);
		assert_int_equal(ai->key.line, i + 1);
		for (int k = 0; k < NKEY; k++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", k);
			const ks_node_info *in = ks_doc_key_info(d, o, key);
			assert_non_null(in);
			assert_int_equal(in->key.line, i + 1);
			assert_int_equal(in->key.col, k + 1);
			assert_string_equal(in->raw, key);
		}
	}
	assert_ptr_equal(first,
			 ks_doc_key_info(d, json_array_get(root, 0), "k3"));
	assert_string_equal(first->raw, "k3");
	ks_doc_set_root(d, root, (ks_mark){1, 1});
	ks_doc_free(d);
}

static void root_file_and_intern(void **state)
{
	(void)state;
	char name[] = "prod/app.yaml";
	ks_doc *d = ks_doc_new(name);
	name[0] = 'X';
	assert_string_equal(ks_doc_file(d), "prod/app.yaml");
	assert_null(ks_doc_root(d));
	assert_int_equal(ks_doc_root_mark(d).line, 0);
	json_t *a = json_object();
	ks_doc_set_root(d, a, (ks_mark){3, 4});
	/* Setting a new root drops the old one (LSan checks it). */
	ks_doc_set_root(d, json_array(), (ks_mark){5, 6});
	assert_true(json_is_array(ks_doc_root(d)));
	assert_int_equal(ks_doc_root_mark(d).line, 5);
	assert_int_equal(ks_doc_root_mark(d).col, 6);
	const char *s = ks_doc_intern(d, "hello world", 5);
	assert_string_equal(s, "hello");
	ks_doc_free(d);
	ks_doc_free(NULL);
}

static int doc_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_and_indexes_are_separate_places),
		cmocka_unit_test(info_is_copied_and_noting_again_replaces),
		cmocka_unit_test(many_places_survive_growth),
		cmocka_unit_test(root_file_and_intern),
	};
	return cmocka_run_group_tests_name("core/doc", tests, NULL, NULL);
}
KS_TEST_GROUP(doc_tests)
