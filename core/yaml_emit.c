#include "core/yaml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/banned.h"

/*
 * The YAML writer. Block style throughout; a sequence under a key is
 * indented by two like the mapping members, and a mapping or sequence that
 * is a sequence item starts on the dash's line ("- name: x").
 *
 * Strings are written plain only when every reader we care about gives the
 * same string back: YAML 1.2 core (ours), and YAML 1.1 (kubectl's go-yaml,
 * PyYAML), whose implicit types are wider (yes/no/on/off, 1_000, 0b1, 012,
 * 1:30, 2001-12-14, =, <<). Anything doubtful is double-quoted.
 */

struct emitter {
	ks_buf *out;
	int rc;
};

static void put(struct emitter *e, const char *s, size_t n)
{
	if (!e->rc)
		e->rc = ks_buf_append(e->out, s, n);
}

static void puts_(struct emitter *e, const char *s)
{
	put(e, s, strlen(s));
}

static void indent(struct emitter *e, int n)
{
	static const char spaces[] = "                                ";
	while (n > 0) {
		int k = n < 32 ? n : 32;
		put(e, spaces, (size_t)k);
		n -= k;
	}
}

/* Decodes one UTF-8 character at s (n bytes left); returns its length, or 0
 * for an invalid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n || s[0] >= 0xf8)
		return 0;
	uint32_t c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters that may appear as they are in a plain or literal scalar:
 * YAML's printable set minus the ones libyaml reads as line breaks (NEL,
 * LS, PS) and the byte order mark. Tab is decided by the caller. */
static bool printable(uint32_t c)
{
	if (c < 0x20)
		return false;
	if (c < 0x7f)
		return true;
	if (c < 0xa0)
		return false;
	if (c == 0x2028 || c == 0x2029 || c == 0xfeff)
		return false;
	if (c == 0xfffe || c == 0xffff)
		return false;
	return true;
}

/* True when S (N bytes) is valid UTF-8 made of printable characters, with
 * '\n' allowed when NL and tab when TAB. */
static bool all_printable(const char *s, size_t n, bool nl, bool tab)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);
		if (!l)
			return false;
		if (!printable(c) && !(nl && c == '\n') && !(tab && c == '\t'))
			return false;
		i += l;
	}
	return true;
}

static bool in_set(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/*
 * True when S could be read as a number or timestamp by a YAML 1.1 or 1.2
 * reader. Deliberately wide: a string made only of digits, signs, points,
 * colons, underscores, exponent and radix letters, with a digit in it
 * ("1.2.3" is quoted though it is a string everywhere: harmless).
 */
static bool numberish(const char *s)
{
	const char *t = s;
	if (*t == '-' || *t == '+')
		t++;
	if (!strcasecmp(t, ".inf") || !strcasecmp(t, ".nan"))
		return true;
	if (!((*t >= '0' && *t <= '9') || *t == '.'))
		return false;
	if (!strpbrk(t, "0123456789"))
		return false;
	if (in_set(t, "0123456789abcdefABCDEFxXoO_.:+-"))
		return true;
	/* Timestamps: 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43. */
	return t == s && strspn(t, "0123456789") == 4 && t[4] == '-';
}

static bool reserved_word(const char *s)
{
	static const char *const words[] = {
		"null", "~", "true", "false", "yes", "no",  "on",
		"off",	"y", "n",    "=",     "<<",  "---", "...",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

/* Whether single-line S (N bytes) can be written plain. */
static bool plain_ok(const char *s, size_t n)
{
	if (!n || strlen(s) != n)
		return false;
	if (!all_printable(s, n, false, false))
		return false;
	/* "-" starts a plain scalar when a non-space follows ("--all"), as
	 * in libyaml and go-yaml; the other indicators never do here. */
	if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]) ||
	    (s[0] == '-' && (n == 1 || s[1] == ' ')))
		return false;
	if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	if (strstr(s, ": ") || strstr(s, " #"))
		return false;
	if (!strncmp(s, "---", 3) || !strncmp(s, "...", 3))
		return false;
	return !reserved_word(s) && !numberish(s);
}

static void put_escape(struct emitter *e, uint32_t c)
{
	char esc[12];
	switch (c) {
	case 0:
		puts_(e, "\\0");
		return;
	case '\a':
		puts_(e, "\\a");
		return;
	case '\b':
		puts_(e, "\\b");
		return;
	case '\t':
		puts_(e, "\\t");
		return;
	case '\n':
		puts_(e, "\\n");
		return;
	case '\v':
		puts_(e, "\\v");
		return;
	case '\f':
		puts_(e, "\\f");
		return;
	case '\r':
		puts_(e, "\\r");
		return;
	case 0x1b:
		puts_(e, "\\e");
		return;
	case 0x85:
		puts_(e, "\\N");
		return;
	case 0x2028:
		puts_(e, "\\L");
		return;
	case 0x2029:
		puts_(e, "\\P");
		return;
	}
	if (c <= 0xff)
		snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)c);
	else
		snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
	puts_(e, esc);
}

static int put_double_quoted(struct emitter *e, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	put(e, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);
		if (!l)
			return KS_EINVAL;
		if (printable(c) && c != '"' && c != '\\') {
			run += l;
			i += l;
			continue;
		}
		put(e, s + i - run, run);
		run = 0;
		if (c == '"' || c == '\\') {
			put(e, "\\", 1);
			put(e, s + i, 1);
		} else {
			put_escape(e, c);
		}
		i += l;
	}
	put(e, s + n - run, run);
	put(e, "\"", 1);
	return 0;
}

/* Whether multi-line S can be a literal block that reads back exactly. */
static bool literal_ok(const char *s, size_t n)
{
	if (!n || strlen(s) != n || !memchr(s, '\n', n))
		return false;
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
		return false;
	if (!all_printable(s, n, true, true))
		return false;
	for (size_t i = 0; i < n; i++) {
		bool eol = i + 1 == n || s[i + 1] == '\n';
		if (eol && (s[i] == ' ' || s[i] == '\t'))
			return false;
	}
	return true;
}

/* Writes a literal block for S, its lines at IND spaces. */
static void put_literal(struct emitter *e, const char *s, size_t n, int ind)
{
	size_t body = n, trailing = 0;
	while (body && s[body - 1] == '\n') {
		body--;
		trailing++;
	}
	puts_(e, trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n");
	for (size_t i = 0; i < body;) {
		const char *nl = memchr(s + i, '\n', body - i);
		size_t end = nl ? (size_t)(nl - s) : body;
		if (end > i) {
			indent(e, ind);
			put(e, s + i, end - i);
		}
		put(e, "\n", 1);
		i = end + 1;
	}
	for (size_t i = 1; i < trailing; i++)
		put(e, "\n", 1);
}

/* Writes string S as a scalar; a literal block's lines go at IND. Adds the
 * final newline. */
static int put_string(struct emitter *e, const char *s, size_t n, int ind)
{
	if (literal_ok(s, n)) {
		put_literal(e, s, n, ind);
		return 0;
	}
	int rc = 0;
	if (plain_ok(s, n))
		put(e, s, n);
	else
		rc = put_double_quoted(e, s, n);
	put(e, "\n", 1);
	return rc;
}

/* A real and its newline. YAML 1.1 reads an exponent form as a real only
 * with a point in the mantissa and a sign in the exponent: 1.0e+300, not
 * 1e+300 (which PyYAML takes for a string). */
static void put_real(struct emitter *e, double d)
{
	char num[64];
	ks_json_format_real(d, num, sizeof(num));
	char *x = strchr(num, 'e');
	if (x && !memchr(num, '.', (size_t)(x - num))) {
		put(e, num, (size_t)(x - num));
		put(e, ".0", 2);
		puts_(e, x);
	} else {
		puts_(e, num);
	}
	put(e, "\n", 1);
}

/* A scalar other than a string, and its newline. */
static void put_other_scalar(struct emitter *e, const json_t *v)
{
	char num[64];
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT "\n",
			 json_integer_value(v));
		puts_(e, num);
		break;
	case JSON_REAL:
		put_real(e, json_real_value(v));
		break;
	case JSON_TRUE:
		puts_(e, "true\n");
		break;
	case JSON_FALSE:
		puts_(e, "false\n");
		break;
	default:
		puts_(e, "null\n");
		break;
	}
}

static bool is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) ||
	       (json_is_array(v) && json_array_size(v));
}

/* Writes a scalar or an empty container (after "key: " or "- "). */
static int put_scalar(struct emitter *e, const json_t *v, int ind)
{
	if (json_is_string(v))
		return put_string(e, json_string_value(v),
				  json_string_length(v), ind);
	if (json_is_object(v))
		puts_(e, "{}\n");
	else if (json_is_array(v))
		puts_(e, "[]\n");
	else
		put_other_scalar(e, v);
	return 0;
}

static int put_mapping(struct emitter *e, const json_t *v, int ind,
		       bool inline_first);
static int put_sequence(struct emitter *e, const json_t *v, int ind,
			bool inline_first);

/* Long keys need the explicit "? key" form: libyaml reads simple keys of
 * at most 1024 characters. */
#define SIMPLE_KEY_MAX 1000

static int put_key(struct emitter *e, const char *k, int ind)
{
	size_t n = strlen(k);
	ks_buf kb;
	ks_buf_init(&kb, 0);
	struct emitter ke = {&kb, 0};
	int rc = 0;
	if (plain_ok(k, n))
		put(&ke, k, n);
	else
		rc = put_double_quoted(&ke, k, n);
	if (!rc)
		rc = ke.rc;
	if (!rc && kb.len > SIMPLE_KEY_MAX) {
		puts_(e, "? ");
		put(e, kb.data, kb.len);
		put(e, "\n", 1);
		indent(e, ind);
	} else if (!rc) {
		put(e, kb.data, kb.len);
	}
	ks_buf_release(&kb);
	put(e, ":", 1);
	return rc;
}

static int put_mapping(struct emitter *e, const json_t *v, int ind,
		       bool inline_first)
{
	const char *k;
	json_t *x;
	bool first = true;
	json_object_foreach((json_t *)v, k, x)
	{
		if (!first || !inline_first)
			indent(e, ind);
		first = false;
		int rc = put_key(e, k, ind);
		if (!rc && !is_block(x)) {
			put(e, " ", 1);
			rc = put_scalar(e, x, ind + 2);
		} else if (!rc && json_is_object(x)) {
			put(e, "\n", 1);
			rc = put_mapping(e, x, ind + 2, false);
		} else if (!rc) {
			put(e, "\n", 1);
			rc = put_sequence(e, x, ind + 2, false);
		}
		if (rc)
			return rc;
	}
	return e->rc;
}

static int put_sequence(struct emitter *e, const json_t *v, int ind,
			bool inline_first)
{
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x)
	{
		if (i || !inline_first)
			indent(e, ind);
		put(e, "- ", 2);
		int rc;
		if (!is_block(x))
			rc = put_scalar(e, x, ind + 2);
		else if (json_is_object(x))
			rc = put_mapping(e, x, ind + 2, true);
		else
			rc = put_sequence(e, x, ind + 2, true);
		if (rc)
			return rc;
	}
	return e->rc;
}

int ks_yaml_emit(ks_buf *out, const json_t *v)
{
	struct emitter e = {out, 0};
	size_t start = out->len;
	int rc;
	if (!v)
		rc = put_scalar(&e, json_null(), 2);
	else if (json_is_object(v) && json_object_size(v))
		rc = put_mapping(&e, v, 0, false);
	else if (json_is_array(v) && json_array_size(v))
		rc = put_sequence(&e, v, 0, false);
	else
		rc = put_scalar(&e, v, 2);
	if (!rc)
		rc = e.rc;
	if (rc && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}
