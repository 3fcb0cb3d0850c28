#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/selector.h"

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return v;
}

/* Whether selector text matches the labels literal (the parse must work). */
static bool sel_match(const char *text, const char *labels)
{
	ks_selector *s = NULL;
	ks_error err = {0};
	if (ks_selector_parse(&s, text, &err) != 0)
		fail_msg("parse of \"%s\" failed: %s", text, err.msg);
	json_t *l = labels ? J(labels) : NULL;
	bool m = ks_selector_matches(s, l);
	json_decref(l);
	ks_selector_free(s);
	return m;
}

static void check_parse_error(const char *text, const char *want)
{
	ks_selector *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_selector_parse(&s, text, &err), KS_EINVAL);
	assert_null(s);
	if (strcmp(err.msg, want) != 0)
		fail_msg("\"%s\": got \"%s\"\nwant \"%s\"", text, err.msg,
			 want);
}

static void check_string(const char *text, const char *want)
{
	ks_selector *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_selector_parse(&s, text, &err), 0);
	char *str = ks_selector_string(s);
	assert_string_equal(str, want);
	free(str);
	ks_selector_free(s);
}

static const char web[] = "{\"app\":\"web\",\"tier\":\"front\"}";

static void label_equality_and_inequality(void **state)
{
	(void)state;
	assert_true(sel_match("app=web", web));
	assert_true(sel_match("app==web", web));
	assert_false(sel_match("app=db", web));
	assert_true(sel_match("app!=db", web));
	assert_false(sel_match("app!=web", web));
	/* != matches objects without the key. */
	assert_true(sel_match("env!=prod", web));
	assert_true(sel_match("env!=prod", NULL));
	assert_false(sel_match("app=web", NULL));
	assert_true(sel_match("", web));
	assert_true(sel_match("  ", NULL));
	/* An empty value after = matches an empty label only. */
	assert_true(sel_match("app=", "{\"app\":\"\"}"));
	assert_false(sel_match("app=", web));
}

static void label_sets_and_existence(void **state)
{
	(void)state;
	assert_true(sel_match("app in (db,web)", web));
	assert_true(sel_match("app in(web)", web));
	assert_false(sel_match("app in (db)", web));
	assert_true(sel_match("app notin (db)", web));
	assert_false(sel_match("app notin (db, web)", web));
	assert_true(sel_match("env notin (prod)", web));
	assert_true(sel_match("app", web));
	assert_false(sel_match("env", web));
	assert_true(sel_match("!env", web));
	assert_false(sel_match("!app", web));
	assert_true(sel_match(" app = web , tier in ( front ) , !env ", web));
	assert_false(sel_match("app=web,tier=back", web));
	assert_true(sel_match("n>3", "{\"n\":\"5\"}"));
	assert_false(sel_match("n<3", "{\"n\":\"5\"}"));
	assert_false(sel_match("n>3", "{\"n\":\"x\"}"));
	/* "in" as a value is an identifier in value position. */
	assert_true(sel_match("x=in", "{\"x\":\"in\"}"));
}

static void label_parse_errors_read_like_the_server(void **state)
{
	(void)state;
	check_parse_error("!=x", "found '!=', expected: !, identifier, or "
				 "'end of string'");
	check_parse_error("a===b", "unable to parse requirement: found '=', "
				   "expected: identifier");
	check_parse_error("a=b=c", "found '=', expected: ',' or 'end of "
				   "string'");
	check_parse_error("a=b,", "found '', expected: identifier after ','");
	check_parse_error("a in b", "unable to parse requirement: found 'b' "
				    "expected: '('");
	check_parse_error("a in (b", "unable to parse requirement: found '', "
				     "expected: ',' or ')'");
	check_parse_error("!a=b", "unable to parse requirement: found 'a', "
				  "expected: ',' or 'end of string'");
	check_parse_error("a b", "unable to parse requirement: found 'b', "
				 "expected: in, notin, =, ==, !=, gt, lt");
	check_parse_error("a=b c", "found 'c', expected: ',' or 'end of "
				   "string'");
	check_parse_error(
		"-a=b",
		"unable to parse requirement: key: Invalid value: \"-a\": "
		"name part must consist of alphanumeric characters, '-', '_' "
		"or '.', and must start and end with an alphanumeric "
		"character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
		"regex used for validation is "
		"'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
	check_parse_error("Ex.com/a=b",
			  "unable to parse requirement: key: Invalid value: "
			  "\"Ex.com/a\": prefix part a lowercase RFC 1123 "
			  "subdomain must consist of lower case alphanumeric "
			  "characters, '-' or '.', and must start and end with "
			  "an alphanumeric character (e.g. 'example.com', "
			  "regex used for validation is "
			  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]"
			  "*[a-z0-9])?)*')");
	ks_selector *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_selector_parse(&s, "a=b_", &err), KS_EINVAL);
	assert_non_null(strstr(err.msg, "values[0][a]: Invalid value: \"b_\""));
	assert_int_equal(ks_selector_parse(&s, "a>b", &err), KS_EINVAL);
	assert_non_null(strstr(err.msg, "the value must be an integer"));
	assert_int_equal(ks_selector_parse(&s, "example.com/app=x,a.b/c", &err),
			 0);
	ks_selector_free(s);
}

static void label_canonical_string(void **state)
{
	(void)state;
	check_string("tier in (b, a),app=web,!env",
		     "app=web,!env,tier in (a,b)");
	check_string("x==y,z!=w,k notin (b,a,b)", "k notin (a,b),x==y,z!=w");
	check_string("", "");
}

static void label_selector_objects(void **state)
{
	(void)state;
	json_t *obj = J("{\"matchLabels\":{\"app\":\"web\"},"
			"\"matchExpressions\":[{\"key\":\"tier\","
			"\"operator\":\"In\",\"values\":[\"front\",\"back\"]},"
			"{\"key\":\"env\",\"operator\":\"DoesNotExist\"}]}");
	ks_selector *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_selector_from_label_selector(&s, obj, &err), 0);
	json_t *l = J(web);
	assert_true(ks_selector_matches(s, l));
	json_object_set_new(l, "env", json_string("prod"));
	assert_false(ks_selector_matches(s, l));
	char *str = ks_selector_string(s);
	assert_string_equal(str, "app=web,!env,tier in (back,front)");
	free(str);
	ks_selector_free(s);
	json_decref(obj);

	obj = J("{}");
	assert_int_equal(ks_selector_from_label_selector(&s, obj, &err), 0);
	assert_true(ks_selector_empty(s));
	assert_true(ks_selector_matches(s, l));
	ks_selector_free(s);
	json_decref(obj);
	json_decref(l);

	obj = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Has\"}]"
		"}");
	assert_int_equal(ks_selector_from_label_selector(&s, obj, &err),
			 KS_EINVAL);
	assert_string_equal(err.msg,
			    "\"Has\" is not a valid label selector operator");
	json_decref(obj);
	obj = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\","
		"\"values\":[]}]}");
	assert_int_equal(ks_selector_from_label_selector(&s, obj, &err),
			 KS_EINVAL);
	assert_non_null(strstr(err.msg, "values set can't be empty"));
	json_decref(obj);
}

static bool field_match(const char *text, const char *obj)
{
	ks_field_selector *s = NULL;
	ks_error err = {0};
	if (ks_field_selector_parse(&s, text, &err) != 0)
		fail_msg("parse of \"%s\" failed: %s", text, err.msg);
	json_t *o = J(obj);
	bool m = ks_field_selector_matches(s, o);
	json_decref(o);
	ks_field_selector_free(s);
	return m;
}

static void field_selectors(void **state)
{
	(void)state;
	const char *cm = "{\"metadata\":{\"name\":\"web\",\"namespace\":"
			 "\"default\"}}";
	assert_true(field_match("metadata.name=web", cm));
	assert_true(field_match("metadata.name==web", cm));
	assert_false(field_match("metadata.name!=web", cm));
	assert_true(field_match("metadata.name=web,metadata.namespace=default",
				cm));
	assert_false(field_match("metadata.namespace=kube-system", cm));
	assert_true(field_match("", cm));
	assert_true(field_match("metadata.namespace=",
				"{\"metadata\":{\"name\":\"n\"}}"));
	assert_true(field_match("metadata.name=a\\,b",
				"{\"metadata\":{\"name\":\"a,b\"}}"));

	ks_field_selector *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_field_selector_parse(&s, "data.a=1", &err),
			 KS_EINVAL);
	assert_string_equal(err.msg,
			    "\"data.a\" is not a known field selector: only "
			    "\"metadata.name\", \"metadata.namespace\"");
	assert_int_equal(ks_field_selector_parse(&s, "metadata.name", &err),
			 KS_EINVAL);
	assert_string_equal(err.msg, "invalid selector: 'metadata.name'; "
				     "can't understand 'metadata.name'");
	assert_null(s);
}

static int selector_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(label_equality_and_inequality),
		cmocka_unit_test(label_sets_and_existence),
		cmocka_unit_test(label_parse_errors_read_like_the_server),
		cmocka_unit_test(label_canonical_string),
		cmocka_unit_test(label_selector_objects),
		cmocka_unit_test(field_selectors),
	};
	return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
KS_TEST_GROUP(selector_tests)
