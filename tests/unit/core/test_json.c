#include "ks_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/mem.h"

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *v =
		json_loads(text, JSON_DECODE_ANY | JSON_PRESERVE_ORDER, &jerr);
	if (!v)
		fail_msg("bad fixture %s: %s", text, jerr.text);
	return v;
}

static void pretty_indents_by_two_in_order(void **state)
{
	(void)state;
	json_t *v = load("{\"z\": [1, {\"b\": \"x/y\"}], \"e\": {}, \"f\": [],"
			 " \"r\": 0.1, \"i\": 3.0, \"s\": \"\\u00e9\\n\","
			 " \"t\": true, \"n\": null, \"a\": -7}");
	ks_buf b;
	ks_buf_init(&b, 0);
	assert_int_equal(ks_json_pretty(&b, v), 0);
	assert_string_equal(b.data, "{\n"
				    "  \"z\": [\n"
				    "    1,\n"
				    "    {\n"
				    "      \"b\": \"x/y\"\n"
				    "    }\n"
				    "  ],\n"
				    "  \"e\": {},\n"
				    "  \"f\": [],\n"
				    "  \"r\": 0.1,\n"
				    "  \"i\": 3.0,\n"
				    "  \"s\": \"\xc3\xa9\\n\",\n"
				    "  \"t\": true,\n"
				    "  \"n\": null,\n"
				    "  \"a\": -7\n"
				    "}\n");
	/* What we print, jansson reads back as the same value. */
	json_t *back = load(b.data);
	assert_true(json_equal(v, back));
	json_decref(back);
	ks_buf_release(&b);

	ks_buf_init(&b, 10);
	assert_int_equal(ks_json_pretty(&b, v), KS_ELIMIT);
	ks_buf_release(&b);
	json_decref(v);

	ks_buf_init(&b, 0);
	v = json_string("x");
	assert_int_equal(ks_json_pretty(&b, v), 0);
	assert_string_equal(b.data, "\"x\"\n");
	json_decref(v);
	ks_buf_release(&b);
}

static void canonical_sorts_and_escapes_minimally(void **state)
{
	(void)state;
	json_t *v = load("{\"b\": [1, {\"y\": 2, \"x\": 1}], \"a\": \"\","
			 " \"\\u00e9\": 1, \"z\": 2, \"B\": 3, \"aa\": 4}");
	size_t len = 0;
	char *c = ks_json_canonical(v, &len);
	/* Byte order: "B" < "a" < "aa" < "b" < "z" < "é" (0xC3). */
	assert_string_equal(c, "{\"B\":3,\"a\":\"\",\"aa\":4,\"b\":[1,{\"x\":1,"
			       "\"y\":2}],\"z\":2,\"\xc3\xa9\":1}");
	assert_int_equal(len, strlen(c));
	free(c);
	json_decref(v);

	/* Only '"', '\' and controls are escaped; / and non-ASCII are not;
	 * controls use the short forms where JSON has them. */
	v = json_stringn("q\"b\\s/\x01\x1f\b\f\n\r\t\x7f\xc3\xa9\xe2\x80\xa8\0",
			 20);
	c = ks_json_canonical(v, NULL);
	assert_string_equal(c, "\"q\\\"b\\\\s/\\u0001\\u001f\\b\\f\\n\\r\\t"
			       "\x7f\xc3\xa9\xe2\x80\xa8\\u0000\"");
	free(c);
	json_decref(v);

	c = ks_json_canonical(NULL, NULL);
	assert_string_equal(c, "null");
	free(c);
}

/* Numbers as ECMAScript prints them (RFC 8785's examples among them). */
static void canonical_numbers(void **state)
{
	(void)state;
	static const struct {
		double d;
		const char *want;
	} reals[] = {
		{0.0, "0"},
		{-0.0, "0"},
		{1.0, "1"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{4.50, "4.5"},
		{2e-3, "0.002"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{1e-27, "1e-27"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1e30, "1e+30"},
		{333333333.33333329, "333333333.3333333"},
		{123456789012345680000.0, "123456789012345680000"},
		{5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{-1.2345e-10, "-1.2345e-10"},
	};
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		json_t *v = json_real(reals[i].d);
		char *c = ks_json_canonical(v, NULL);
		if (strcmp(c, reals[i].want))
			fail_msg("%.17g: got %s want %s", reals[i].d, c,
				 reals[i].want);
		free(c);
		json_decref(v);
	}
	json_t *v = json_pack("[I, I, i]", (json_int_t)INT64_MAX,
			      (json_int_t)INT64_MIN, 0);
	char *c = ks_json_canonical(v, NULL);
	assert_string_equal(c, "[9223372036854775807,-9223372036854775808,0]");
	free(c);
	json_decref(v);
}

static void format_real_keeps_reals_real(void **state)
{
	(void)state;
	char buf[32];
	ks_json_format_real(3.0, buf, sizeof(buf));
	assert_string_equal(buf, "3.0");
	ks_json_format_real(-0.0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0");
	ks_json_format_real(1e21, buf, sizeof(buf));
	assert_string_equal(buf, "1e+21");
	ks_json_format_real(0.3, buf, sizeof(buf));
	assert_string_equal(buf, "0.3");
	ks_json_format_real(1e20, buf, sizeof(buf));
	assert_string_equal(buf, "100000000000000000000.0");
}

static void sha256_known_vectors(void **state)
{
	(void)state;
	char hex[65];
	ks_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	ks_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnop"
			  "nopq";
	ks_sha256_hex(two, strlen(two), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
}

static int json_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pretty_indents_by_two_in_order),
		cmocka_unit_test(canonical_sorts_and_escapes_minimally),
		cmocka_unit_test(canonical_numbers),
		cmocka_unit_test(format_real_keeps_reals_real),
		cmocka_unit_test(sha256_known_vectors),
	};
	return cmocka_run_group_tests_name("core/json", tests, NULL, NULL);
}
KS_TEST_GROUP(json_tests)
