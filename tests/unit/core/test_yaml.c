#include "ks_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/yaml.h"

/* Parses SRC, which must succeed without messages. */
static ks_doc *parse_ok_flags(const char *src, unsigned flags)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = NULL;
	int rc = ks_yaml_parse(&d, src, strlen(src), "t.yaml", flags, errs);
	if (rc != 0 || ks_errlist_count(errs))
		print_error("unexpected: %s\n",
			    ks_errlist_count(errs) ? ks_errlist_get(errs, 0)
						   : "(no message)");
	assert_int_equal(rc, 0);
	assert_int_equal(ks_errlist_count(errs), 0);
	assert_non_null(d);
	ks_errlist_free(errs);
	return d;
}

static ks_doc *parse_ok(const char *src)
{
	return parse_ok_flags(src, KS_YAML_SINGLE);
}

/*
 * Parses (SRC, LEN), which must fail with KS_EINVAL, leave *out untouched
 * and report at least one message; returns the sorted messages joined by
 * newlines (static storage).
 */
static const char *parse_errn(const char *src, size_t len, unsigned flags)
{
	static char all[4096];
	ks_errlist *errs = ks_errlist_new();
	ks_doc *sentinel = (ks_doc *)&all;
	ks_doc *d = sentinel;
	int rc = ks_yaml_parse(&d, src, len, "t.yaml", flags, errs);
	assert_int_equal(rc, KS_EINVAL);
	assert_ptr_equal(d, sentinel);
	assert_true(ks_errlist_count(errs) > 0);
	ks_errlist_sort(errs);
	all[0] = '\0';
	size_t o = 0;
	for (size_t i = 0; i < ks_errlist_count(errs); i++)
		o += (size_t)snprintf(all + o, sizeof(all) - o, "%s%s",
				      i ? "\n" : "", ks_errlist_get(errs, i));
	ks_errlist_free(errs);
	return all;
}

static const char *parse_err(const char *src)
{
	return parse_errn(src, strlen(src), KS_YAML_SINGLE);
}

/* The value of key "v" in a one-line document "v: TEXT". */
static json_t *scalar(ks_doc **d, const char *text)
{
	char src[256];
	snprintf(src, sizeof(src), "v: %s\n", text);
	*d = parse_ok(src);
	json_t *v = json_object_get(ks_doc_root(*d), "v");
	assert_non_null(v);
	return v;
}

static void assert_json_at(const json_t *v, const char *want, const char *what)
{
	json_error_t jerr;
	json_t *w = json_loads(want, JSON_DECODE_ANY, &jerr);
	if (!w)
		fail_msg("bad expectation %s: %s", want, jerr.text);
	if (!json_equal((json_t *)v, w)) {
		char *got = json_dumps(v, JSON_ENCODE_ANY);
		print_error("%s: got %s, want %s\n", what, got, want);
		free(got);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

static void assert_json(const json_t *v, const char *want)
{
	assert_json_at(v, want, "value");
}

static void scalars_resolve_by_the_core_schema(void **state)
{
	(void)state;
	static const struct {
		const char *yaml, *json;
	} table[] = {
		{"true", "true"},
		{"True", "true"},
		{"TRUE", "true"},
		{"tRuE", "true"},
		{"false", "false"},
		{"FALSE", "false"},
		{"yes", "\"yes\""},
		{"No", "\"No\""},
		{"on", "\"on\""},
		{"off", "\"off\""},
		{"y", "\"y\""},
		{"null", "null"},
		{"Null", "null"},
		{"NULL", "null"},
		{"~", "null"},
		{"", "null"},
		{"nULL", "\"nULL\""},
		{"0", "0"},
		{"42", "42"},
		{"-17", "-17"},
		{"+5", "5"},
		{"012", "12"},
		{"0644", "644"},
		{"0o17", "15"},
		{"0x1F", "31"},
		{"0xff", "255"},
		{"0o8", "\"0o8\""},
		{"0x", "\"0x\""},
		{"0b101", "\"0b101\""},
		{"1_000", "\"1_000\""},
		{"-0x1F", "\"-0x1F\""},
		{"9223372036854775807", "9223372036854775807"},
		{"-9223372036854775808", "-9223372036854775808"},
		{"0x7fffffffffffffff", "9223372036854775807"},
		{"1.5", "1.5"},
		{"1.", "1.0"},
		{".5", "0.5"},
		{"-.5", "-0.5"},
		{"+1.5e+2", "150.0"},
		{"1e3", "1000.0"},
		{"1E-2", "0.01"},
		{"8.0", "8.0"},
		{"1.2.3", "\"1.2.3\""},
		{"1e", "\"1e\""},
		{"e3", "\"e3\""},
		{".", "\".\""},
		{"12:30", "\"12:30\""},
		{"2001-12-14", "\"2001-12-14\""},
		{"500m", "\"500m\""},
		{"25%", "\"25%\""},
		{"hello world", "\"hello world\""},
		{"<<", "\"<<\""},
		{"\"true\"", "\"true\""},
		{"'12'", "\"12\""},
		{"\"null\"", "\"null\""},
		{"''", "\"\""},
		{"\"a\\tb\\u00e9\"", "\"a\\tb\\u00e9\""},
		{"!!str 12", "\"12\""},
		{"!!str true", "\"true\""},
		{"! 12", "\"12\""},
		{"!!int \"12\"", "12"},
		{"!!int 0x10", "16"},
		{"!!float 1", "1.0"},
		{"!!float \"2.5\"", "2.5"},
		{"!!bool \"true\"", "true"},
		{"!!null \"\"", "null"},
		{"!!null ~", "null"},
		{"!!map {a: 1}", "{\"a\": 1}"},
		{"!!seq [1]", "[1]"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		ks_doc *d;
		json_t *v = scalar(&d, table[i].yaml);
		assert_json_at(v, table[i].json, table[i].yaml);
		ks_doc_free(d);
	}
}

static void raw_text_and_style(void **state)
{
	(void)state;
	ks_doc *d = parse_ok("mode: 0644\n"
			     "v: 8.0\n"
			     "b: True\n"
			     "s: hello\n"
			     "q: \"8\"\n"
			     "n: ~\n"
			     "l: |\n  x\n"
			     "m: {}\n");
	json_t *r = ks_doc_root(d);
	static const struct {
		const char *key, *raw;
		unsigned char style;
	} want[] = {
		{"mode", "0644", KS_STYLE_PLAIN}, {"v", "8.0", KS_STYLE_PLAIN},
		{"b", "True", KS_STYLE_PLAIN},	  {"s", NULL, KS_STYLE_PLAIN},
		{"q", NULL, KS_STYLE_QUOTED},	  {"n", "~", KS_STYLE_PLAIN},
		{"l", NULL, KS_STYLE_QUOTED},	  {"m", NULL, KS_STYLE_NONE},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const ks_node_info *in = ks_doc_key_info(d, r, want[i].key);
		assert_non_null(in);
		if (want[i].raw)
			assert_string_equal(in->raw, want[i].raw);
		else
			assert_null(in->raw);
		assert_int_equal(in->style, want[i].style);
	}
	assert_int_equal(json_integer_value(json_object_get(r, "mode")), 644);
	ks_doc_free(d);
}

static void assert_place(const ks_node_info *in, unsigned kl, unsigned kc,
			 unsigned vl, unsigned vc)
{
	assert_non_null(in);
	if (in->key.line != kl || in->key.col != kc || in->value.line != vl ||
	    in->value.col != vc)
		fail_msg("got key %u:%u value %u:%u, want %u:%u %u:%u",
			 in->key.line, in->key.col, in->value.line,
			 in->value.col, kl, kc, vl, vc);
}

/* Positions counted by hand: lines and columns are 1-based and columns
 * count characters, so multibyte UTF-8 before a value counts once. */
static void positions_count_characters(void **state)
{
	(void)state;
	ks_doc *d = parse_ok("name: h\xc3\xa9llo w\xc3\xb6rld\n"	 /* 1 */
			     "\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\": 1\n" /* 2 */
			     "list:\n"					 /* 3 */
			     "  - a\n"					 /* 4 */
			     "  - b: c\n"				 /* 5 */
			     "    d: \xf0\x9f\x98\x80x\n"		 /* 6 */
			     "e: [\xf0\x9f\x98\x80, x]\n"		 /* 7 */
			     "f: {\xc3\xa9: 1, g: [2, 3]}\n"		 /* 8 */
			     "h:\n"					 /* 9 */
			     "  i: 1\n"); /* 10 */
	json_t *r = ks_doc_root(d);
	assert_int_equal(ks_doc_root_mark(d).line, 1);
	assert_int_equal(ks_doc_root_mark(d).col, 1);
	assert_place(ks_doc_key_info(d, r, "name"), 1, 1, 1, 7);
	/* "ключ" is 4 characters (8 bytes) between quotes. */
	assert_place(ks_doc_key_info(d, r, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"),
		     2, 1, 2, 9);
	assert_place(ks_doc_key_info(d, r, "list"), 3, 1, 4, 3);
	json_t *list = json_object_get(r, "list");
	assert_place(ks_doc_index_info(d, list, 0), 4, 5, 4, 5);
	assert_place(ks_doc_index_info(d, list, 1), 5, 5, 5, 5);
	json_t *item = json_array_get(list, 1);
	assert_place(ks_doc_key_info(d, item, "b"), 5, 5, 5, 8);
	assert_place(ks_doc_key_info(d, item, "d"), 6, 5, 6, 8);
	/* The emoji is 4 bytes and one character. */
	json_t *e = json_object_get(r, "e");
	assert_place(ks_doc_index_info(d, e, 0), 7, 5, 7, 5);
	assert_place(ks_doc_index_info(d, e, 1), 7, 8, 7, 8);
	json_t *f = json_object_get(r, "f");
	assert_place(ks_doc_key_info(d, r, "f"), 8, 1, 8, 4);
	assert_place(ks_doc_key_info(d, f, "\xc3\xa9"), 8, 5, 8, 8);
	assert_place(ks_doc_key_info(d, f, "g"), 8, 11, 8, 14);
	assert_place(ks_doc_index_info(d, json_object_get(f, "g"), 1), 8, 18, 8,
		     18);
	/* A block mapping value starts at its first key. */
	assert_place(ks_doc_key_info(d, r, "h"), 9, 1, 10, 3);
	ks_doc_free(d);
}

static void duplicate_keys_are_reported_at_the_second(void **state)
{
	(void)state;
	assert_string_equal(parse_err("a: 1\nb: 2\na: 3\n"),
			    "t.yaml:3:1: duplicate key \"a\" (first at 1:1)");
	/* Every duplicate of a file is reported, nested ones too. */
	assert_string_equal(
		parse_err("x:\n  k: 1\n  k: [1, 2]\ny: {z: 1, z: 2}\ny: 3\n"),
		"t.yaml:3:3: duplicate key \"k\" (first at 2:3)\n"
		"t.yaml:4:11: duplicate key \"z\" (first at 4:5)\n"
		"t.yaml:5:1: duplicate key \"y\" (first at 4:1)");
	/* Keys are compared as text: 1 and "1" are the same key. */
	assert_string_equal(parse_err("1: a\n\"1\": b\n"),
			    "t.yaml:2:1: duplicate key \"1\" (first at 1:1)");
}

static void keys_are_text(void **state)
{
	(void)state;
	ks_doc *d = parse_ok("1: a\ntrue: b\n~: c\n<<: {x: 1}\n");
	assert_json(ks_doc_root(d),
		    "{\"1\": \"a\", \"true\": \"b\", \"~\": \"c\", "
		    "\"<<\": {\"x\": 1}}");
	ks_doc_free(d);
	assert_string_equal(parse_err("? [a]\n: 1\n"),
			    "t.yaml:1:3: mapping keys must be scalars");
	assert_string_equal(parse_err("{{a: 1}: 2}\n"),
			    "t.yaml:1:2: mapping keys must be scalars");
}

static void anchors_share_and_aliases_resolve(void **state)
{
	(void)state;
	ks_doc *d = parse_ok("base: &b {x: 1, y: [1, 2]}\n"
			     "copy: *b\n"
			     "s: &s 08\n"
			     "t: *s\n"
			     "m:\n"
			     "  &k kk: 1\n"
			     "o:\n"
			     "  *k : 2\n"
			     "w: *k\n");
	json_t *r = ks_doc_root(d);
	json_t *base = json_object_get(r, "base");
	assert_ptr_equal(json_object_get(r, "copy"), base);
	assert_json(base, "{\"x\": 1, \"y\": [1, 2]}");
	/* The alias's own place, and the shared subtree's places. */
	assert_place(ks_doc_key_info(d, r, "copy"), 2, 1, 2, 7);
	assert_place(ks_doc_key_info(d, json_object_get(r, "copy"), "x"), 1, 11,
		     1, 14);
	assert_json(json_object_get(r, "t"), "8");
	assert_string_equal(ks_doc_key_info(d, r, "t")->raw, "08");
	assert_json(json_object_get(r, "o"), "{\"kk\": 2}");
	assert_json(json_object_get(r, "w"), "\"kk\"");
	ks_doc_free(d);

	assert_string_equal(parse_err("a: *nope\n"),
			    "t.yaml:1:4: unknown anchor \"nope\"");
	/* An anchor is defined once its node is complete: no cycles. */
	assert_string_equal(parse_err("&a [*a]\n"),
			    "t.yaml:1:5: unknown anchor \"a\"");
	/* Anchors do not cross documents. */
	ks_errlist *errs = ks_errlist_new();
	ks_doc **docs = NULL;
	size_t n = 0;
	const char *two = "a: &x 1\n---\nb: *x\n";
	assert_int_equal(
		ks_yaml_parse_all(&docs, &n, two, strlen(two), "t.yaml", errs),
		KS_EINVAL);
	assert_string_equal(ks_errlist_get(errs, 0),
			    "t.yaml:3:4: unknown anchor \"x\"");
	ks_errlist_free(errs);
}

/* The billion laughs: nine levels of nine aliases each. */
static void alias_bomb_is_refused_quickly(void **state)
{
	(void)state;
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b,
		    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (char c = 'b'; c <= 'j'; c++) {
		ks_buf_printf(&b, "%c: &%c [", c, c);
		for (int i = 0; i < 9; i++)
			ks_buf_printf(&b, "%s*%c", i ? ", " : "", c - 1);
		ks_buf_puts(&b, "]\n");
	}
	clock_t t0 = clock();
	const char *msg = parse_errn(b.data, b.len, 0);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_non_null(strstr(msg, "too many nodes (alias expansion?)"));
	/* 9^7 nodes pass the cap at the line of g (line 7). */
	assert_non_null(strstr(msg, "t.yaml:7:"));
	assert_true(secs < 5);
	ks_buf_release(&b);

	/* One wide anchor aliased many times also counts. */
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "a: &a [");
	for (int i = 0; i < 1000; i++)
		ks_buf_puts(&b, "x, ");
	ks_buf_puts(&b, "x]\nb: [");
	for (int i = 0; i < 3000; i++)
		ks_buf_puts(&b, "*a, ");
	ks_buf_puts(&b, "*a]\n");
	msg = parse_errn(b.data, b.len, 0);
	assert_non_null(strstr(msg, "too many nodes (alias expansion?)"));
	ks_buf_release(&b);
}

static char *repeat(const char *unit, int n, const char *tail)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		ks_buf_puts(&b, unit);
	ks_buf_puts(&b, tail);
	return ks_buf_detach(&b, NULL);
}

static void deep_nesting_is_refused(void **state)
{
	(void)state;
	char *s = repeat("[", 100000, "");
	assert_string_equal(parse_err(s),
			    "t.yaml:1:201: nesting deeper than 200 levels");
	free(s);
	s = repeat("- ", 100000, "x\n");
	assert_string_equal(parse_err(s),
			    "t.yaml:1:401: nesting deeper than 200 levels");
	free(s);
	s = repeat("{a: ", 300, "1");
	assert_string_equal(parse_err(s),
			    "t.yaml:1:801: nesting deeper than 200 levels");
	free(s);

	/* Exactly 200 levels are fine, 201 are not. */
	ks_buf b;
	ks_buf_init(&b, 0);
	for (int i = 0; i < 200; i++)
		ks_buf_puts(&b, "[");
	for (int i = 0; i < 200; i++)
		ks_buf_puts(&b, "]");
	ks_doc *d = parse_ok(b.data);
	json_t *v = ks_doc_root(d);
	int depth = 0;
	while (json_is_array(v)) {
		depth++;
		v = json_array_get(v, 0);
	}
	assert_int_equal(depth, 200);
	ks_doc_free(d);
	ks_buf_release(&b);
	s = repeat("[", 201, "");
	assert_string_equal(parse_err(s),
			    "t.yaml:1:201: nesting deeper than 200 levels");
	free(s);
}

static void libyaml_errors_have_positions(void **state)
{
	(void)state;
	assert_string_equal(
		parse_err("a:\n\tb: 1\n"),
		"t.yaml:2:1: found character that cannot start any token (tabs "
		"are not allowed for indentation) while scanning for the next "
		"token");
	assert_string_equal(parse_err("a: [1, 2\n"),
			    "t.yaml:2:1: did not find expected ',' or ']' "
			    "while parsing a flow sequence (started at 1:4)");
	assert_string_equal(parse_err("a:\n  b: 1\n c: 2\n"),
			    "t.yaml:3:2: did not find expected key while "
			    "parsing a block mapping (started at 1:1)");
	assert_string_equal(parse_err("a: b: c\n"),
			    "t.yaml:1:5: mapping values are not allowed in "
			    "this context");
	assert_string_equal(parse_err("a: \"x\n"),
			    "t.yaml:2:1: found unexpected end of stream while "
			    "scanning a quoted scalar (started at 1:4)");
	/* A UTF-8 byte order mark is not a column. */
	assert_string_equal(parse_err("\xef\xbb\xbf"
				      "a: [1, *\n"),
			    "t.yaml:1:9: did not find expected alphabetic or "
			    "numeric character while scanning an alias "
			    "(started at 1:8)");
}

static void bad_bytes_have_positions(void **state)
{
	(void)state;
	/* The offending byte's place: the 0x28 after a lead byte. */
	assert_string_equal(parse_err("a: b\nc: \xc3\x28\n"),
			    "t.yaml:2:5: invalid trailing UTF-8 octet (#x28)");
	assert_string_equal(parse_err("a: \xff\n"),
			    "t.yaml:1:4: invalid leading UTF-8 octet (#xFF)");
	assert_string_equal(
		parse_errn("a: b\0c\n", 7, KS_YAML_SINGLE),
		"t.yaml:1:5: control characters are not allowed (#x0)");

	/* Garbage: whatever libyaml says, it says it at a position. */
	unsigned char junk[4096];
	unsigned x = 12345;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (unsigned char)(x >> 16);
	}
	const char *msg =
		parse_errn((const char *)junk, sizeof(junk), KS_YAML_SINGLE);
	unsigned line = 0, col = 0;
	assert_int_equal(sscanf(msg, "t.yaml:%u:%u: ", &line, &col), 2);
	assert_true(line >= 1 && col >= 1);
}

static void value_errors(void **state)
{
	(void)state;
	assert_string_equal(parse_err("a: 9223372036854775808\n"),
			    "t.yaml:1:4: integer out of range");
	assert_string_equal(parse_err("a: -9223372036854775809\n"),
			    "t.yaml:1:4: integer out of range");
	assert_string_equal(parse_err("a: 0x10000000000000000\n"),
			    "t.yaml:1:4: integer out of range");
	assert_string_equal(parse_err("a: 1e999\n"),
			    "t.yaml:1:4: number out of range");
	assert_non_null(strstr(parse_err("a: .inf\n"),
			       "t.yaml:1:4: infinite and NaN numbers"));
	assert_non_null(strstr(parse_err("a: -.Inf\n"), "t.yaml:1:4: "));
	assert_non_null(strstr(parse_err("a: .NaN\n"), "t.yaml:1:4: "));
	assert_string_equal(parse_err("a: !foo x\n"),
			    "t.yaml:1:4: unsupported tag \"!foo\" on a scalar");
	assert_string_equal(parse_err("a: !!binary aGk=\n"),
			    "t.yaml:1:4: unsupported tag \"!!binary\" on a "
			    "scalar");
	assert_string_equal(parse_err("a: !!map [1]\n"),
			    "t.yaml:1:4: unsupported tag \"!!map\" on a "
			    "sequence");
	assert_string_equal(parse_err("a: !!set {x: 1}\n"),
			    "t.yaml:1:4: unsupported tag \"!!set\" on a "
			    "mapping");
	assert_string_equal(parse_err("a: !!int abc\n"),
			    "t.yaml:1:4: invalid !!int value \"abc\"");
	assert_string_equal(parse_err("a: !!bool yes\n"),
			    "t.yaml:1:4: invalid !!bool value \"yes\"");
	assert_string_equal(parse_err("a: !!null x\n"),
			    "t.yaml:1:4: invalid !!null value \"x\"");
	assert_string_equal(parse_err("\"a\\0b\": 1\n"),
			    "t.yaml:1:1: mapping key contains a NUL character");
	/* Several value errors in one file are all reported. */
	assert_string_equal(parse_err("a: !x 1\nb: 99999999999999999999\n"),
			    "t.yaml:1:4: unsupported tag \"!x\" on a scalar\n"
			    "t.yaml:2:4: integer out of range");
}

static void documents_and_streams(void **state)
{
	(void)state;
	assert_string_equal(parse_err("a: 1\n---\nb: 2\n"),
			    "t.yaml:2:1: multi-document files are not "
			    "supported here");
	/* Without KS_YAML_SINGLE, ks_yaml_parse gives the first document. */
	ks_doc *d = parse_ok_flags("a: 1\n---\nb: 2\n", 0);
	assert_json(ks_doc_root(d), "{\"a\": 1}");
	ks_doc_free(d);
	/* A leading "---" and a final "..." make one document. */
	d = parse_ok("---\na: 1\n...\n");
	assert_json(ks_doc_root(d), "{\"a\": 1}");
	assert_int_equal(ks_doc_root_mark(d).line, 2);
	ks_doc_free(d);

	static const char *const empties[] = {"", "# only a comment\n", "---\n",
					      "\n\n"};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		d = parse_ok(empties[i]);
		assert_null(ks_doc_root(d));
		assert_string_equal(ks_doc_file(d), "t.yaml");
		ks_doc_free(d);
	}
	/* No buffer at all reads as empty. */
	ks_errlist *none = ks_errlist_new();
	d = NULL;
	assert_int_equal(ks_yaml_parse(&d, NULL, 0, "t.yaml", 0, none), 0);
	assert_null(ks_doc_root(d));
	ks_doc_free(d);
	ks_errlist_free(none);

	d = parse_ok("~\n");
	assert_true(json_is_null(ks_doc_root(d)));
	ks_doc_free(d);

	const char *stream = "---\na: 1\n---\n---\n# nothing\n---\n"
			     "b:\n  - 2\n...\n--- c\n";
	ks_errlist *errs = ks_errlist_new();
	ks_doc **docs = NULL;
	size_t n = 0;
	assert_int_equal(ks_yaml_parse_all(&docs, &n, stream, strlen(stream),
					   "s.yaml", errs),
			 0);
	assert_int_equal(n, 3);
	assert_json(ks_doc_root(docs[0]), "{\"a\": 1}");
	assert_json(ks_doc_root(docs[1]), "{\"b\": [2]}");
	assert_json(ks_doc_root(docs[2]), "\"c\"");
	assert_place(ks_doc_key_info(docs[1], ks_doc_root(docs[1]), "b"), 7, 1,
		     8, 3);
	assert_string_equal(ks_doc_file(docs[2]), "s.yaml");
	for (size_t i = 0; i < n; i++)
		ks_doc_free(docs[i]);
	free(docs);

	docs = NULL;
	assert_int_equal(ks_yaml_parse_all(&docs, &n, "", 0, "s.yaml", errs),
			 0);
	assert_int_equal(n, 0);
	free(docs);
	assert_int_equal(ks_errlist_count(errs), 0);

	/* An error in a later document fails the whole stream. */
	docs = (ks_doc **)&n;
	const char *bad = "a: 1\n---\nb: [\n";
	assert_int_equal(
		ks_yaml_parse_all(&docs, &n, bad, strlen(bad), "s.yaml", errs),
		KS_EINVAL);
	assert_ptr_equal(docs, (ks_doc **)&n);
	assert_int_equal(ks_errlist_count(errs), 1);
	ks_errlist_free(errs);
}

static char *write_temp(const char *data, size_t len)
{
	char *path = ks_xstrdup("/tmp/ks-yaml-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void load_file_names_the_display_path(void **state)
{
	(void)state;
	char *path = write_temp("a: 1\nb: [\n", 10);
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = NULL;
	assert_int_equal(ks_yaml_load_file(&d, path, "prod/app.yaml",
					   KS_YAML_SINGLE, errs),
			 KS_EINVAL);
	assert_null(d);
	assert_int_equal(ks_errlist_count(errs), 1);
	assert_true(
		!strncmp(ks_errlist_get(errs, 0), "prod/app.yaml:3:1: ", 19));
	unlink(path);
	free(path);

	path = write_temp("a: [1]\n", 7);
	assert_int_equal(ks_yaml_load_file(&d, path, NULL, 0, errs), 0);
	assert_string_equal(ks_doc_file(d), path);
	assert_json(ks_doc_root(d), "{\"a\": [1]}");
	ks_doc_free(d);
	unlink(path);

	/* A sparse file just over the limit. */
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, KS_YAML_MAX_FILE + 1), 0);
	close(fd);
	d = NULL;
	assert_int_equal(ks_yaml_load_file(&d, path, "big.yaml", 0, errs),
			 KS_EINVAL);
	assert_null(d);
	assert_string_equal(ks_errlist_get(errs, 1),
			    "big.yaml: file is too large (16777217 bytes, the "
			    "limit is 16 MiB)");
	unlink(path);

	assert_int_equal(ks_yaml_load_file(&d, path, "gone.yaml", 0, errs),
			 KS_ENOTFOUND);
	assert_null(d);
	assert_string_equal(ks_errlist_get(errs, 2),
			    "gone.yaml: No such file or directory");
	free(path);
	ks_errlist_free(errs);
}

static int yaml_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scalars_resolve_by_the_core_schema),
		cmocka_unit_test(raw_text_and_style),
		cmocka_unit_test(positions_count_characters),
		cmocka_unit_test(duplicate_keys_are_reported_at_the_second),
		cmocka_unit_test(keys_are_text),
		cmocka_unit_test(anchors_share_and_aliases_resolve),
		cmocka_unit_test(alias_bomb_is_refused_quickly),
		cmocka_unit_test(deep_nesting_is_refused),
		cmocka_unit_test(libyaml_errors_have_positions),
		cmocka_unit_test(bad_bytes_have_positions),
		cmocka_unit_test(value_errors),
		cmocka_unit_test(documents_and_streams),
		cmocka_unit_test(load_file_names_the_display_path),
	};
	return cmocka_run_group_tests_name("core/yaml", tests, NULL, NULL);
}
KS_TEST_GROUP(yaml_tests)

/*
 * The emitter.
 */

static char *emit(const json_t *v)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	assert_int_equal(ks_yaml_emit(&b, v), 0);
	return ks_buf_detach(&b, NULL);
}

/* Emits V, reads it back with our reader, and wants the same value. */
static void assert_round_trip(const json_t *v)
{
	char *text = emit(v);
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = NULL;
	int rc = ks_yaml_parse(&d, text, strlen(text), "rt.yaml",
			       KS_YAML_SINGLE, errs);
	if (rc != 0 || !json_equal(ks_doc_root(d), (json_t *)v)) {
		char *want = json_dumps(v, JSON_ENCODE_ANY);
		char *got =
			rc ? NULL : json_dumps(ks_doc_root(d), JSON_ENCODE_ANY);
		fail_msg("round trip of %s\n--- emitted\n%s--- read back\n%s%s",
			 want, text, got ? got : "(error) ",
			 rc ? ks_errlist_get(errs, 0) : "");
	}
	ks_doc_free(d);
	ks_errlist_free(errs);
	free(text);
}

static void emit_layout(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *v = json_loads(
		"{\"apps\": [{\"name\": \"x\", \"cells\": [], \"p\": {}}],"
		" \"n\": 1, \"r\": 1.5, \"i\": 3.0, \"b\": true, \"z\": null,"
		" \"s\": \"yes\", \"l\": \"a\\nb\\n\","
		" \"nested\": [[1, 2], {\"a\": 1, \"b\": []}, [[\"x\"]]],"
		" \"m\": {\"k\": {\"j\": \"v\"}}}",
		JSON_PRESERVE_ORDER, &jerr);
	assert_non_null(v);
	char *text = emit(v);
	assert_string_equal(text, "apps:\n"
				  "  - name: x\n"
				  "    cells: []\n"
				  "    p: {}\n"
				  /* "n" is false to YAML 1.1. */
				  "\"n\": 1\n"
				  "r: 1.5\n"
				  "i: 3.0\n"
				  "b: true\n"
				  "z: null\n"
				  "s: \"yes\"\n"
				  "l: |\n"
				  "  a\n"
				  "  b\n"
				  "nested:\n"
				  "  - - 1\n"
				  "    - 2\n"
				  "  - a: 1\n"
				  "    b: []\n"
				  "  - - - x\n"
				  "m:\n"
				  "  k:\n"
				  "    j: v\n");
	free(text);
	assert_round_trip(v);
	json_decref(v);

	/* Top-level scalars and empty containers. */
	static const struct {
		json_t *v;
		const char *want;
	} tops[] = {
		{NULL, "null\n"},     {NULL, "{}\n"},  {NULL, "[]\n"},
		{NULL, "\"true\"\n"}, {NULL, "-42\n"},
	};
	json_t *vals[] = {json_null(), json_object(), json_array(),
			  json_string("true"), json_integer(-42)};
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		text = emit(vals[i]);
		assert_string_equal(text, tops[i].want);
		free(text);
		assert_round_trip(vals[i]);
		json_decref(vals[i]);
	}
}

/* What is plain and what is quoted, checked against YAML 1.1 readers too. */
static void emit_quoting(void **state)
{
	(void)state;
	static const struct {
		const char *s, *want;
	} table[] = {
		{"plain", "plain"},
		{"500m", "500m"},
		{"25%", "25%"},
		{"nginx:1.25.4", "nginx:1.25.4"},
		{"--all", "--all"},
		{"-c", "-c"},
		{"a,b", "a,b"},
		{"/v1, Kind=Namespace", "/v1, Kind=Namespace"},
		{"http://x.y/z?q=1#frag", "http://x.y/z?q=1#frag"},
		{"h\xc3\xa9llo", "h\xc3\xa9llo"},
		{"", "\"\""},
		{"yes", "\"yes\""},
		{"No", "\"No\""},
		{"ON", "\"ON\""},
		{"y", "\"y\""},
		{"n", "\"n\""},
		{"True", "\"True\""},
		{"null", "\"null\""},
		{"~", "\"~\""},
		{"12", "\"12\""},
		{"012", "\"012\""},
		{"1_000", "\"1_000\""},
		{"0x1F", "\"0x1F\""},
		{"0o17", "\"0o17\""},
		{"0b11", "\"0b11\""},
		{"1e3", "\"1e3\""},
		{".5", "\".5\""},
		{"-1", "\"-1\""},
		{"+1", "\"+1\""},
		{".inf", "\".inf\""},
		{"-.Inf", "\"-.Inf\""},
		{".NaN", "\".NaN\""},
		{"1:30", "\"1:30\""},
		{"2001-12-14", "\"2001-12-14\""},
		{"2001-12-14t21:59:43.10-05:00",
		 "\"2001-12-14t21:59:43.10-05:00\""},
		{"=", "\"=\""},
		{"<<", "\"<<\""},
		{" a", "\" a\""},
		{"a ", "\"a \""},
		{"-", "\"-\""},
		{"- a", "\"- a\""},
		{"?x", "\"?x\""},
		{":x", "\":x\""},
		{"a:", "\"a:\""},
		{"a: b", "\"a: b\""},
		{"a #b", "\"a #b\""},
		{"#x", "\"#x\""},
		{"&a", "\"&a\""},
		{"*a", "\"*a\""},
		{"!a", "\"!a\""},
		{"|", "\"|\""},
		{">x", "\">x\""},
		{"'q", "\"'q\""},
		{"\"q", "\"\\\"q\""},
		{"%x", "\"%x\""},
		{"@x", "\"@x\""},
		{"`x", "\"`x\""},
		{"[x]", "\"[x]\""},
		{"{\"a\": 1}", "\"{\\\"a\\\": 1}\""},
		{"---", "\"---\""},
		{"...", "\"...\""},
		{"a\tb", "\"a\\tb\""},
		{"back\\slash", "back\\slash"},
		{"ctl\x01", "\"ctl\\x01\""},
		{"del\x7f", "\"del\\x7F\""},
		{"nel\xc2\x85", "\"nel\\N\""},
		{"ls\xe2\x80\xa8", "\"ls\\L\""},
		{"\xef\xbb\xbf"
		 "bom",
		 "\"\\uFEFFbom\""},
		{" lead\nx", "\" lead\\nx\""},
		{"trail \nx", "\"trail \\nx\""},
		{"cr\r\nx", "\"cr\\r\\nx\""},
		{"one\ntwo", "|-\n  one\n  two"},
		{"one\ntwo\n", "|\n  one\n  two"},
		{"one\ntwo\n\n", "|+\n  one\n  two\n"},
		{"one\n\n  two\n", "|\n  one\n\n    two"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		json_t *v = json_object();
		json_object_set_new(v, "k", json_string(table[i].s));
		char *text = emit(v);
		char want[256];
		snprintf(want, sizeof(want), "k: %s\n", table[i].want);
		if (strcmp(text, want))
			fail_msg("string %zu: got [%s] want [%s]", i, text,
				 want);
		free(text);
		assert_round_trip(v);
		json_decref(v);
	}
}

/* Tricky strings as values, as keys and as list items all read back. */
static void emit_round_trips(void **state)
{
	(void)state;
	static const char *const strs[] = {
		"",
		" ",
		"  ",
		"a ",
		" a",
		"yes",
		"No",
		"ON",
		"off",
		"y",
		"N",
		"true",
		"False",
		"null",
		"NULL",
		"~",
		"-",
		"--",
		"---",
		"...",
		"- a",
		"-a",
		"? x",
		"?x",
		":x",
		"a:",
		"a: b",
		"a:b",
		"a #b",
		"a#b",
		"#x",
		"&a",
		"*a",
		"!a",
		"!!str",
		"|",
		"|x",
		">",
		"'",
		"\"",
		"%x",
		"@x",
		"`x",
		"[",
		"]",
		"{}",
		"{a}",
		",",
		"a,b",
		"0",
		"012",
		"0o17",
		"0x1F",
		"0b11",
		"1_000",
		"1e3",
		"1E3",
		".5",
		"5.",
		".inf",
		"-.Inf",
		".NaN",
		"1:30",
		"190:20:30.15",
		"2001-12-14",
		"2001-12-14t21:59:43.10-05:00",
		"+1",
		"-1",
		"1.2.3",
		"=",
		"<<",
		"a\tb",
		"\t",
		"tab\t",
		"\ttab",
		"a\nb",
		"a\nb\n",
		"a\nb\n\n",
		"a\nb\n\n\n",
		" a\nb",
		"a \nb",
		"a\n\nb",
		"a\n \nb",
		"a\n\tb\n",
		"\n",
		"\na",
		"\n\n",
		"a\r\nb",
		"a\rb",
		"\xc3\xa9",
		("\xc3\xbcn\xc3\xaf"
		 "c\xc3\xb6"
		 "d\xc3\xa9: x"),
		"\xf0\x9f\x98\x80",
		"\xc2\x85 NEL",
		"LS\xe2\x80\xa8",
		"PS\xe2\x80\xa9x",
		("\xef\xbb\xbf"
		 "bom"),
		"nb\xc2\xa0sp\xc2\xa0",
		"ctrl\x01\x1b",
		"del\x7f",
		"c1\xc2\x80\xc2\x9f",
		"\xef\xbf\xbe",
		"back\\slash",
		"quote\"d",
		"it's",
		"a  b",
		"k8s.io/name",
		"http://x.y/z?q=1#frag",
		"#",
		"a #",
		"x:",
		"foo: ",
		"line1\n  indented\nline3\n",
		"trailing space \nx",
		"literal\n---\nnot a doc\n",
		"...\n",
		"#comment\nx",
		"- item\n- item2\n",
		"key: value\nother: 1\n",
		"|\n>\n",
		"  \n",
		"x\n  ",
		"\"quoted\"\n'single'",
		"emoji \xf0\x9f\x98\x80\nline",
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *v = json_object();
		json_object_set_new(v, strs[i], json_string(strs[i]));
		json_object_set_new(v, "list",
				    json_pack("[s, {s: s}, [s]]", strs[i],
					      strs[i], strs[i], strs[i]));
		json_object_set_new(
			v, "nested",
			json_pack("{s: {s: s}}", "a", "b", strs[i]));
		assert_round_trip(v);
		json_decref(v);
		json_t *s = json_string(strs[i]);
		assert_round_trip(s);
		json_decref(s);
	}

	/* A NUL inside a value, a key too long for a simple key, numbers. */
	json_t *v = json_object();
	json_object_set_new(v, "nul", json_stringn("a\0b", 3));
	char longkey[2001];
	memset(longkey, 'k', 2000);
	longkey[2000] = '\0';
	json_object_set_new(v, longkey, json_pack("{s: i}", "x", 1));
	json_object_set_new(v, "after", json_true());
	json_object_set_new(v, "nums",
			    json_pack("[I, I, f, f, f, f, f, f, f]",
				      (json_int_t)INT64_MAX,
				      (json_int_t)INT64_MIN, 0.1, 1e300, 1e-7,
				      100.0, -2.5, 1e21, 123456789.125));
	assert_round_trip(v);
	json_decref(v);
}

/* Shortest round-trip reals, with a point in every exponent form so YAML
 * 1.1 readers take them as reals too. */
static void emit_reals(void **state)
{
	(void)state;
	static const struct {
		double d;
		const char *want;
	} table[] = {
		{0.1, "0.1\n"},		  {-2.5, "-2.5\n"},
		{100.0, "100.0\n"},	  {1e20, "100000000000000000000.0\n"},
		{1e21, "1.0e+21\n"},	  {1e300, "1.0e+300\n"},
		{1e-7, "1.0e-7\n"},	  {2.5e-8, "2.5e-8\n"},
		{0.000001, "0.000001\n"}, {123456789.125, "123456789.125\n"},
		{5e-324, "5.0e-324\n"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		json_t *v = json_real(table[i].d);
		char *text = emit(v);
		assert_string_equal(text, table[i].want);
		free(text);
		assert_round_trip(v);
		json_decref(v);
	}
}

static void emit_refuses_invalid_utf8(void **state)
{
	(void)state;
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "kept\n");
	json_t *v = json_pack("{s: o}", "k", json_stringn_nocheck("a\xff", 2));
	assert_int_equal(ks_yaml_emit(&b, v), KS_EINVAL);
	/* The buffer is as it was. */
	assert_string_equal(b.data, "kept\n");
	json_decref(v);
	ks_buf_release(&b);
}

static int yaml_emit_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emit_layout),
		cmocka_unit_test(emit_quoting),
		cmocka_unit_test(emit_round_trips),
		cmocka_unit_test(emit_reals),
		cmocka_unit_test(emit_refuses_invalid_utf8),
	};
	return cmocka_run_group_tests_name("core/yaml_emit", tests, NULL, NULL);
}
KS_TEST_GROUP(yaml_emit_tests)
