/*
 * The KCL form of AppConfigurations: a reader for the declarative subset of
 * KCL that AppConfigurations are written in, producing the same documents
 * (values and positions) as the YAML reader does for the equivalent YAML.
 *
 * The subset: `import a.b.c [as x]` lines; top-level `name: value` and
 * `name = value`; schema instances `alias.Schema { ... }` and
 * `Schema { ... }`; config blocks `{ key: value }` whose keys are names or
 * strings and whose entries are separated by commas or newlines; lists;
 * strings in single, double and triple quotes (with Python's escapes, and
 * r"..." raw strings); decimal, hex (0x), octal (0o) and binary (0b) ints,
 * ints with KCL's unit suffixes (512Mi, 250m: kept as the string KCL
 * prints); floats; True, False, None; `#` comments. Inside brackets layout
 * does not matter; top-level statements start in column 1, one a line.
 *
 * Everything else (expressions, names used as values, comprehensions, `if`
 * in configs, lambdas, string interpolation, schema definitions, the `|`
 * union operator, unpacking) is refused with a sentence naming it. A
 * syntax error stops the parse; errors that leave the parse in step
 * (duplicate keys, a schema where it does not fit, an unknown schema or
 * module alias) are collected and the parse goes on.
 */
#include "render/internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"
#include "core/banned.h"

#define KCL_MAX_DEPTH 200
#define KCL_MAX_NUMBER 100 /* characters of a number literal */

/* ---- The schema table ------------------------------------------------- */

/*
 * What a position in the model expects. K_ONE: one value of a type (a
 * schema instance of one of the type's schemas, or a plain block read as
 * the type's first schema). K_MAP: a block whose values are of the type.
 * K_LIST: a list whose items are. K_PLAIN: plain data all the way down (no
 * schema fits). K_FREE: a field the table does not know (the validator
 * reports it); any known schema is taken there.
 */
enum kshape { K_FREE, K_PLAIN, K_ONE, K_MAP, K_LIST };

enum ktype {
	T_NONE,
	T_APP,
	T_WORKLOAD,
	T_CONTAINER,
	T_SECRET,
	T_PORT,
	T_PROBE,
	T_HANDLER,
	T_LCHANDLER,
	T_LIFECYCLE,
	T_FILE,
	T_OPSRULE,
	T_MONITORING,
	T_DATABASE,
	T_TOPOLOGY,
	T_PIPELINE,
	T_DEPLOY,
	T_POLICYSET,
	T_DEPENDENCY,
};

typedef struct kctx {
	unsigned char shape; /* enum kshape */
	unsigned char type;  /* enum ktype */
} kctx;

/* A type: the schema names it accepts (the first is what a plain block
 * stands for) and whether it is a union (whose instances carry _type). */
struct ktypedef {
	const char *names[4];
	bool is_union;
};

static const struct ktypedef ktypes[] = {
	[T_NONE] = {{NULL}, false},
	[T_APP] = {{"AppConfiguration"}, false},
	[T_WORKLOAD] = {{"Service", "Job"}, true},
	[T_CONTAINER] = {{"Container"}, false},
	[T_SECRET] = {{"Secret"}, false},
	[T_PORT] = {{"Port"}, false},
	[T_PROBE] = {{"Probe"}, false},
	[T_HANDLER] = {{"Http", "Exec", "Tcp"}, true},
	[T_LCHANDLER] = {{"Exec", "Http"}, true},
	[T_LIFECYCLE] = {{"Lifecycle"}, false},
	[T_FILE] = {{"FileSpec"}, false},
	[T_OPSRULE] = {{"OpsRule"}, false},
	[T_MONITORING] = {{"Prometheus"}, false},
	[T_DATABASE] = {{"MySQL", "PostgreSQL"}, true},
	[T_TOPOLOGY] = {{"Topology"}, false},
	[T_PIPELINE] = {{"Pipeline"}, false},
	[T_DEPLOY] = {{"Deploy"}, false},
	[T_POLICYSET] = {{"PolicySet"}, false},
	[T_DEPENDENCY] = {{"Dependency"}, false},
};

struct kfield {
	const char *name;
	kctx ctx;
};

#define ONE(t)                                                                 \
	{                                                                      \
		K_ONE, t                                                       \
	}
#define MAP(t)                                                                 \
	{                                                                      \
		K_MAP, t                                                       \
	}
#define LIST(t)                                                                \
	{                                                                      \
		K_LIST, t                                                      \
	}
#define PLAIN                                                                  \
	{                                                                      \
		K_PLAIN, T_NONE                                                \
	}

static const struct kfield f_app[] = {
	{"workload", ONE(T_WORKLOAD)},
	{"opsRule", ONE(T_OPSRULE)},
	{"monitoring", ONE(T_MONITORING)},
	{"database", MAP(T_DATABASE)},
	{"labels", PLAIN},
	{"annotations", PLAIN},
	{"topologies", MAP(T_TOPOLOGY)},
	{"pipeline", ONE(T_PIPELINE)},
	{"policysets", MAP(T_POLICYSET)},
	{"dependency", ONE(T_DEPENDENCY)},
	{NULL, {0, 0}},
};
static const struct kfield f_service[] = {
	{"containers", MAP(T_CONTAINER)}, {"secrets", MAP(T_SECRET)},
	{"ports", LIST(T_PORT)},	  {"labels", PLAIN},
	{"annotations", PLAIN},		  {NULL, {0, 0}},
};
static const struct kfield f_job[] = {
	{"containers", MAP(T_CONTAINER)},
	{"secrets", MAP(T_SECRET)},
	{"labels", PLAIN},
	{"annotations", PLAIN},
	{NULL, {0, 0}},
};
static const struct kfield f_container[] = {
	{"command", PLAIN},
	{"args", PLAIN},
	{"env", PLAIN},
	{"resources", PLAIN},
	{"files", MAP(T_FILE)},
	{"dirs", PLAIN},
	{"livenessProbe", ONE(T_PROBE)},
	{"readinessProbe", ONE(T_PROBE)},
	{"startupProbe", ONE(T_PROBE)},
	{"lifecycle", ONE(T_LIFECYCLE)},
	{NULL, {0, 0}},
};
static const struct kfield f_probe[] = {
	{"probeHandler", ONE(T_HANDLER)},
	{NULL, {0, 0}},
};
static const struct kfield f_lifecycle[] = {
	{"preStop", ONE(T_LCHANDLER)},
	{"postStart", ONE(T_LCHANDLER)},
	{NULL, {0, 0}},
};
static const struct kfield f_http[] = {{"headers", PLAIN}, {NULL, {0, 0}}};
static const struct kfield f_exec[] = {{"command", PLAIN}, {NULL, {0, 0}}};
static const struct kfield f_secret[] = {{"data", PLAIN}, {NULL, {0, 0}}};
static const struct kfield f_topology[] = {{"cells", PLAIN}, {NULL, {0, 0}}};
static const struct kfield f_pipeline[] = {
	{"deploy", ONE(T_DEPLOY)},
	{NULL, {0, 0}},
};
static const struct kfield f_dependency[] = {
	{"dependedApps", PLAIN},
	{NULL, {0, 0}},
};
static const struct kfield f_none[] = {{NULL, {0, 0}}};

/* Every schema name the reader knows, with the fields whose values are
 * schemas or plain data; other fields are scalars (or unknown keys, which
 * the validator reports). */
struct kschema {
	const char *name;
	const struct kfield *fields;
};

static const struct kschema kschemas[] = {
	{"AppConfiguration", f_app},
	{"Service", f_service},
	{"Job", f_job},
	{"Container", f_container},
	{"Probe", f_probe},
	{"Http", f_http},
	{"Exec", f_exec},
	{"Tcp", f_none},
	{"Lifecycle", f_lifecycle},
	{"FileSpec", f_none},
	{"Port", f_none},
	{"Secret", f_secret},
	{"OpsRule", f_none},
	{"Prometheus", f_none},
	{"MySQL", f_none},
	{"PostgreSQL", f_none},
	{"Topology", f_topology},
	{"Pipeline", f_pipeline},
	{"Deploy", f_none},
	{"PolicySet", f_none},
	{"Dependency", f_dependency},
};

static const struct kschema *schema_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(kschemas) / sizeof(kschemas[0]); i++) {
		if (strlen(kschemas[i].name) == len &&
		    memcmp(kschemas[i].name, name, len) == 0)
			return &kschemas[i];
	}
	return NULL;
}

static kctx field_ctx(const struct kschema *s, const char *key)
{
	kctx free_ctx = {K_FREE, T_NONE};
	for (const struct kfield *f = s->fields; f->name; f++) {
		if (strcmp(f->name, key) == 0)
			return f->ctx;
	}
	return free_ctx;
}

static bool type_accepts(enum ktype t, const char *name)
{
	for (size_t i = 0; i < 4 && ktypes[t].names[i]; i++) {
		if (strcmp(ktypes[t].names[i], name) == 0)
			return true;
	}
	return false;
}

/* "Service or Job", "Http, Exec or Tcp" */
static void type_label(enum ktype t, char *buf, size_t size)
{
	size_t n = 0, len = 0;
	while (n < 4 && ktypes[t].names[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++) {
		const char *sep = i == 0 ? "" : (i + 1 == n ? " or " : ", ");
		int w = snprintf(buf + len, size - len, "%s%s", sep,
				 ktypes[t].names[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* ---- Lexer ------------------------------------------------------------ */

enum tk {
	TK_EOF,
	TK_NAME,
	TK_STRING,
	TK_INT,
	TK_FLOAT,
	TK_UNIT, /* an int with a unit suffix: 512Mi */
	TK_LBRACE,
	TK_RBRACE,
	TK_LBRACK,
	TK_RBRACK,
	TK_LPAREN,
	TK_RPAREN,
	TK_COLON,
	TK_ASSIGN,
	TK_COMMA,
	TK_DOT,
	TK_PIPE,
	TK_STAR,
	TK_STARSTAR,
	TK_PLUS,
	TK_MINUS,
	TK_AUG, /* +=, -=, |=, ... */
	TK_OP,	/* any other operator */
};

typedef struct tok {
	enum tk kind;
	const char *p; /* source text */
	size_t n;
	ks_mark mark;
	bool nl;  /* a line break since the previous token (or file start) */
	bool tab; /* a tab in the blank space before it on its line */
} tok;

struct alias {
	char *name;
	char *path;
};

typedef struct parser {
	const char *file;
	ks_errlist *errs;
	ks_doc *doc;
	const char *p, *end;
	unsigned line, col;
	tok t;
	ks_buf sbuf;   /* the decoded text of the current string token */
	ks_buf path;   /* field path for messages */
	json_t *grave; /* values dropped after an error (see drop) */
	struct alias *aliases;
	size_t naliases;
	int depth;
	bool failed; /* an error was reported */
	bool first;  /* no token read yet */
} parser;

static void perr(parser *P, ks_mark m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(parser *P, ks_mark m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ks_errlist_vadd(P->errs, P->file, m.line, m.col, fmt, ap);
	va_end(ap);
	P->failed = true;
}

/* Keeps a value that was parsed but not placed (after an error) alive
 * until the parse ends, so that no later container reuses its address and
 * inherits the positions noted for it. */
static void drop(parser *P, json_t *v)
{
	if (v)
		json_array_append_new(P->grave, v);
}

static ks_mark here(const parser *P)
{
	ks_mark m = {P->line, P->col};
	return m;
}

static void bump(parser *P)
{
	unsigned char c = (unsigned char)*P->p++;
	if (c == '\n') {
		P->line++;
		P->col = 1;
	} else if (c == '\r') {
		if (P->p < P->end && *P->p == '\n')
			return;
		P->line++;
		P->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		P->col++;
	}
}

/* The length of the UTF-8 sequence at s (1 to 4), 0 when it is invalid
 * (truncated, overlong, a surrogate, beyond U+10FFFF). */
static size_t utf8_len(const unsigned char *s, const unsigned char *e)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(e - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

/* Consumes one character of text that may be any valid UTF-8 (comments,
 * strings); reports invalid bytes. */
static int bump_char(parser *P)
{
	size_t n = utf8_len((const unsigned char *)P->p,
			    (const unsigned char *)P->end);
	if (n == 0) {
		perr(P, here(P), "invalid UTF-8 (byte 0x%02x)",
		     (unsigned)(unsigned char)*P->p);
		return -1;
	}
	while (n--)
		bump(P);
	return 0;
}

static bool is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int peekc(const parser *P, size_t off)
{
	if ((size_t)(P->end - P->p) <= off)
		return -1;
	return (unsigned char)P->p[off];
}

static void put_utf8(ks_buf *b, uint32_t cp)
{
	char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		s[0] = (char)(0xF0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	ks_buf_append(b, s, n);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* After a backslash (not consumed yet) in a non-raw string: decodes one
 * escape into sbuf, Python's way (an unknown escape keeps its backslash). */
static int lex_escape(parser *P)
{
	ks_mark at = here(P);
	bump(P); /* the backslash */
	int c = peekc(P, 0);
	const char *simple = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
	if (c < 0)
		return 0; /* the caller reports the unterminated string */
	if (c == '\n' || c == '\r') {
		/* A line continuation: both characters vanish. */
		if (c == '\r' && peekc(P, 1) == '\n')
			bump(P);
		bump(P);
		return 0;
	}
	for (const char *s = simple; *s; s += 2) {
		if (*s == c) {
			bump(P);
			ks_buf_append(&P->sbuf, &s[1], 1);
			return 0;
		}
	}
	if (c >= '0' && c <= '7') {
		uint32_t cp = 0;
		for (int i = 0;
		     i < 3 && peekc(P, 0) >= '0' && peekc(P, 0) <= '7'; i++) {
			cp = cp * 8 + (uint32_t)(peekc(P, 0) - '0');
			bump(P);
		}
		if (cp == 0) {
			perr(P, at, "strings may not contain NUL characters");
			return -1;
		}
		put_utf8(&P->sbuf, cp);
		return 0;
	}
	if (c == 'x' || c == 'u' || c == 'U') {
		int want = c == 'x' ? 2 : (c == 'u' ? 4 : 8);
		uint32_t cp = 0;
		bump(P);
		for (int i = 0; i < want; i++) {
			int h = hexval(peekc(P, 0));
			if (h < 0) {
				perr(P, at,
				     "invalid escape: \\%c needs %d hex digits",
				     c, want);
				return -1;
			}
			cp = cp * 16 + (uint32_t)h;
			bump(P);
		}
		if (cp == 0) {
			perr(P, at, "strings may not contain NUL characters");
			return -1;
		}
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
			perr(P, at, "invalid escape: U+%04X is not a character",
			     (unsigned)cp);
			return -1;
		}
		put_utf8(&P->sbuf, cp);
		return 0;
	}
	if (c == 'N') {
		perr(P, at,
		     "named unicode escapes (\\N{...}) are not supported");
		return -1;
	}
	ks_buf_append(&P->sbuf, "\\", 1);
	return 0;
}

/* A string token: P->p at the opening quote (after an r prefix). */
static int lex_string(parser *P, bool raw, ks_mark start)
{
	char q = *P->p;
	bool triple = peekc(P, 1) == q && peekc(P, 2) == q;
	P->sbuf.len = 0;
	P->sbuf.data[0] = '\0';
	for (int i = 0; i < (triple ? 3 : 1); i++)
		bump(P);
	for (;;) {
		int c = peekc(P, 0);
		if (c < 0) {
			perr(P, start, "unterminated string");
			return -1;
		}
		if (c == q) {
			if (!triple) {
				bump(P);
				break;
			}
			if (peekc(P, 1) == q && peekc(P, 2) == q) {
				bump(P);
				bump(P);
				bump(P);
				break;
			}
		}
		if ((c == '\n' || c == '\r') && !triple) {
			perr(P, start,
			     "unterminated string (a line break inside a "
			     "quoted string; use triple quotes for text of "
			     "several lines)");
			return -1;
		}
		if (c == '\\' && !raw) {
			if (lex_escape(P) < 0)
				return -1;
			continue;
		}
		if (c == '\\' && raw && peekc(P, 1) >= 0) {
			/* A raw string keeps the backslash and the character
			 * after it, which then does not end the string. */
			ks_buf_append(&P->sbuf, P->p, 1);
			bump(P);
			c = peekc(P, 0);
		}
		if (c == '$' && !raw && peekc(P, 1) == '{') {
			perr(P, here(P),
			     "string interpolation (${...}) is not supported; "
			     "a raw string r\"...\" keeps ${ as written");
			return -1;
		}
		if (c == 0) {
			perr(P, here(P),
			     "strings may not contain NUL characters");
			return -1;
		}
		const char *s = P->p;
		if (c == '\r' && peekc(P, 1) == '\n') {
			bump(P); /* CRLF in a triple-quoted string reads \n */
			continue;
		}
		if (c == '\r') {
			bump(P);
			ks_buf_append(&P->sbuf, "\n", 1);
			continue;
		}
		if (bump_char(P) < 0)
			return -1;
		ks_buf_append(&P->sbuf, s, (size_t)(P->p - s));
	}
	return 0;
}

static bool unit_suffix_ok(const char *s, size_t n)
{
	static const char *const units[] = {"n",  "u",	"m",  "k", "K",
					    "M",  "G",	"T",  "P", "Ki",
					    "Mi", "Gi", "Ti", "Pi"};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i]) == n && memcmp(units[i], s, n) == 0)
			return true;
	}
	return false;
}

static bool is_digit_in(int c, int base)
{
	if (c == '_')
		return false;
	int v = hexval(c);
	return v >= 0 && v < base;
}

/* A number token: ints, floats and ints with a unit suffix. */
static int lex_number(parser *P, tok *t)
{
	const char *s = P->p;
	int base = 10;
	bool is_float = false;
	if (*s == '0' && (peekc(P, 1) == 'x' || peekc(P, 1) == 'X'))
		base = 16;
	else if (*s == '0' && (peekc(P, 1) == 'o' || peekc(P, 1) == 'O'))
		base = 8;
	else if (*s == '0' && (peekc(P, 1) == 'b' || peekc(P, 1) == 'B'))
		base = 2;
	if (base != 10) {
		bump(P);
		bump(P);
		if (!is_digit_in(peekc(P, 0), base)) {
			perr(P, t->mark,
			     "invalid number: no digits after "
			     "\"%.2s\"",
			     s);
			return -1;
		}
		while (is_digit_in(peekc(P, 0), base))
			bump(P);
	} else {
		while (is_digit_in(peekc(P, 0), 10))
			bump(P);
		if (peekc(P, 0) == '.' && is_digit_in(peekc(P, 1), 10)) {
			is_float = true;
			bump(P);
		} else if (peekc(P, 0) == '.' && !is_name_start(peekc(P, 1)) &&
			   P->p > s) {
			is_float = true; /* "5." */
		}
		if (is_float) {
			if (peekc(P, 0) == '.')
				bump(P);
			while (is_digit_in(peekc(P, 0), 10))
				bump(P);
		}
		int e = peekc(P, 0);
		if ((e == 'e' || e == 'E') &&
		    (is_digit_in(peekc(P, 1), 10) ||
		     ((peekc(P, 1) == '+' || peekc(P, 1) == '-') &&
		      is_digit_in(peekc(P, 2), 10)))) {
			is_float = true;
			bump(P);
			if (peekc(P, 0) == '+' || peekc(P, 0) == '-')
				bump(P);
			while (is_digit_in(peekc(P, 0), 10))
				bump(P);
		}
	}
	t->kind = is_float ? TK_FLOAT : TK_INT;
	if (is_name_char(peekc(P, 0))) {
		const char *u = P->p;
		ks_mark um = here(P);
		while (is_name_char(peekc(P, 0)))
			bump(P);
		size_t un = (size_t)(P->p - u);
		if (*u == '_') {
			perr(P, um,
			     "digit separators (_) in numbers are not "
			     "supported");
			return -1;
		}
		if (!unit_suffix_ok(u, un)) {
			perr(P, um,
			     "unsupported unit suffix \"%.*s\" (KCL's are n, "
			     "u, m, k, K, M, G, T, P, Ki, Mi, Gi, Ti, Pi)",
			     (int)un, u);
			return -1;
		}
		if (is_float || base != 10) {
			perr(P, um,
			     "a unit suffix goes only after a decimal integer");
			return -1;
		}
		t->kind = TK_UNIT;
	}
	t->n = (size_t)(P->p - s);
	if (t->n > KCL_MAX_NUMBER) {
		perr(P, t->mark, "number literal too long");
		return -1;
	}
	return 0;
}

/* Blank space and comments before a token; notes line breaks and tabs. */
static int skip_blank(parser *P, tok *t)
{
	bool tab = false;
	t->nl = P->first;
	for (;;) {
		int c = peekc(P, 0);
		if (c == ' ' || c == '\f') {
			bump(P);
		} else if (c == '\t') {
			tab = true;
			bump(P);
		} else if (c == '\n' || c == '\r') {
			t->nl = true;
			tab = false;
			bump(P);
		} else if (c == '#') {
			while (peekc(P, 0) >= 0 && peekc(P, 0) != '\n' &&
			       peekc(P, 0) != '\r') {
				if (bump_char(P) < 0)
					return -1;
			}
		} else if (c == '\\' &&
			   (peekc(P, 1) == '\n' || peekc(P, 1) == '\r')) {
			bump(P); /* an explicit line join */
			if (peekc(P, 0) == '\r' && peekc(P, 1) == '\n')
				bump(P);
			bump(P);
		} else {
			break;
		}
	}
	t->tab = tab;
	P->first = false;
	return 0;
}

static int lex_punct(parser *P, tok *t)
{
	static const char *const two[] = {
		"**", "==", "!=", "<=", ">=", "//", "->", "<<", ">>"};
	int c = peekc(P, 0), d = peekc(P, 1);
	t->n = 1;
	switch (c) {
	case '{':
		t->kind = TK_LBRACE;
		break;
	case '}':
		t->kind = TK_RBRACE;
		break;
	case '[':
		t->kind = TK_LBRACK;
		break;
	case ']':
		t->kind = TK_RBRACK;
		break;
	case '(':
		t->kind = TK_LPAREN;
		break;
	case ')':
		t->kind = TK_RPAREN;
		break;
	case ':':
		t->kind = TK_COLON;
		break;
	case ',':
		t->kind = TK_COMMA;
		break;
	case '.':
		t->kind = TK_DOT;
		break;
	case '|':
		t->kind = TK_PIPE;
		break;
	case '*':
		t->kind = TK_STAR;
		break;
	case '+':
		t->kind = TK_PLUS;
		break;
	case '-':
		t->kind = TK_MINUS;
		break;
	case '=':
		t->kind = TK_ASSIGN;
		break;
	case '<':
	case '>':
	case '/':
	case '%':
	case '&':
	case '^':
	case '~':
	case '@':
	case '!':
	case '?':
		t->kind = TK_OP;
		break;
	default:
		if (c >= 0x80 && utf8_len((const unsigned char *)P->p,
					  (const unsigned char *)P->end) == 0)
			perr(P, t->mark, "invalid UTF-8 (byte 0x%02x)",
			     (unsigned)c);
		else if (c < 0x20 || c == 0x7f)
			perr(P, t->mark, "unexpected control character 0x%02x",
			     (unsigned)c);
		else if (c >= 0x80)
			perr(P, t->mark,
			     "unexpected character \"%.*s\" outside a string",
			     (int)utf8_len((const unsigned char *)P->p,
					   (const unsigned char *)P->end),
			     P->p);
		else
			perr(P, t->mark, "unexpected character \"%c\"", c);
		return -1;
	}
	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
		if (two[i][0] == c && two[i][1] == d) {
			t->n = 2;
			t->kind = c == '*' ? TK_STARSTAR : TK_OP;
			break;
		}
	}
	if (t->n == 1 && d == '=' && strchr("+-*|/%&^", c)) {
		t->n = 2;
		t->kind = TK_AUG;
	}
	for (size_t i = 0; i < t->n; i++)
		bump(P);
	return 0;
}

/* Reads the next token into P->t; -1 after reporting a lexical error. */
static int next(parser *P)
{
	tok *t = &P->t;
	if (skip_blank(P, t) < 0)
		return -1;
	t->mark = here(P);
	t->p = P->p;
	t->n = 0;
	int c = peekc(P, 0);
	if (c < 0) {
		t->kind = TK_EOF;
		return 0;
	}
	if ((c == 'r' || c == 'R') &&
	    (peekc(P, 1) == '"' || peekc(P, 1) == '\'')) {
		bump(P);
		t->kind = TK_STRING;
		if (lex_string(P, true, t->mark) < 0)
			return -1;
	} else if (is_name_start(c)) {
		while (is_name_char(peekc(P, 0)))
			bump(P);
		t->kind = TK_NAME;
	} else if (c == '"' || c == '\'') {
		t->kind = TK_STRING;
		if (lex_string(P, false, t->mark) < 0)
			return -1;
	} else if ((c >= '0' && c <= '9') ||
		   (c == '.' && is_digit_in(peekc(P, 1), 10))) {
		return lex_number(P, t);
	} else {
		return lex_punct(P, t);
	}
	t->n = (size_t)(P->p - t->p);
	return 0;
}

static bool tok_is(const tok *t, const char *name)
{
	return t->kind == TK_NAME && strlen(name) == t->n &&
	       memcmp(t->p, name, t->n) == 0;
}

/* How a token reads in a message. */
static void tok_desc(const tok *t, char *buf, size_t size)
{
	switch (t->kind) {
	case TK_EOF:
		snprintf(buf, size, "the end of the file");
		break;
	case TK_STRING:
		snprintf(buf, size, "a string");
		break;
	default:
		snprintf(buf, size, "\"%.*s\"", (int)(t->n > 40 ? 40 : t->n),
			 t->p);
	}
}

static void expected(parser *P, const char *what)
{
	char d[64];
	tok_desc(&P->t, d, sizeof(d));
	perr(P, P->t.mark, "expected %s, got %s", what, d);
}

/* ---- Paths for messages ----------------------------------------------- */

static size_t path_push_key(parser *P, const char *key)
{
	size_t old = P->path.len;
	if (old)
		ks_buf_append(&P->path, ".", 1);
	ks_buf_puts(&P->path, key);
	return old;
}

static size_t path_push_index(parser *P, size_t i)
{
	size_t old = P->path.len;
	ks_buf_printf(&P->path, "[%zu]", i);
	return old;
}

static void path_pop(parser *P, size_t old)
{
	P->path.len = old;
	P->path.data[old] = '\0';
}

/* ---- Parser ----------------------------------------------------------- */

/* How the entries of a block are read: by a schema's field table, or all
 * alike. */
typedef struct bctx {
	const struct kschema *schema;
	kctx each;
} bctx;

static int parse_value(parser *P, kctx ctx, json_t **out, ks_node_info *info);

/* Words refused where a key starts (KCL lets other keywords, such as
 * type, protocol or rule, name attributes in configs). */
static const char *const key_refused[][2] = {
	{"if", "if in configs is not supported"},
	{"elif", "if in configs is not supported"},
	{"else", "if in configs is not supported"},
};

/* Words refused where a value starts. */
static const char *const value_refused[][2] = {
	{"lambda", "lambda expressions are not supported"},
	{"if", "conditional expressions (if ... else) are not supported"},
	{"for", "for comprehensions are not supported"},
	{"not", "expressions (\"not\") are not supported; write the value"},
	{"Undefined", "Undefined is not supported; leave the field out"},
};

static const char *refused_in(const char *const (*list)[2], size_t n,
			      const tok *t)
{
	for (size_t i = 0; i < n; i++) {
		if (tok_is(t, list[i][0]))
			return list[i][1];
	}
	return NULL;
}

#define REFUSED(list, t) refused_in(list, sizeof(list) / sizeof(list[0]), t)

/* Reports a construct that continues a value on its line (an operator, a
 * comprehension, a selector, ...); false when T is none of them. */
static bool refused_after_value(parser *P)
{
	tok *t = &P->t;
	const char *what = NULL;
	if (tok_is(t, "for"))
		what = "for comprehensions are not supported";
	else if (tok_is(t, "if"))
		what = "conditional expressions (if ... else) are not "
		       "supported";
	else if (t->kind == TK_DOT)
		what = "selectors (value.name) are not supported";
	else if (t->kind == TK_LBRACK)
		what = "indexing (value[...]) is not supported";
	else if (t->kind == TK_LPAREN)
		what = "calls are not supported";
	if (what) {
		perr(P, t->mark, "%s", what);
		return true;
	}
	if (tok_is(t, "and") || tok_is(t, "or") || tok_is(t, "in") ||
	    tok_is(t, "is") || tok_is(t, "not") || t->kind == TK_OP ||
	    t->kind == TK_PLUS || t->kind == TK_MINUS || t->kind == TK_STAR ||
	    t->kind == TK_STARSTAR || t->kind == TK_AUG) {
		perr(P, t->mark,
		     "operators (\"%.*s\") are not supported; write the value "
		     "itself",
		     (int)t->n, t->p);
		return true;
	}
	return false;
}

/*
 * After a value: what may follow it is a separator (a comma, which is
 * consumed, or a line break), or CLOSER (not consumed). Anything else is
 * an error that names the construct when it is one the subset refuses.
 * OPEN is where the enclosing bracket opened (for unclosed ones).
 */
static int end_of_item(parser *P, enum tk closer, ks_mark open)
{
	tok *t = &P->t;
	if (t->kind == TK_COMMA)
		return next(P);
	if (t->kind == closer)
		return 0;
	if (t->kind == TK_PIPE) {
		perr(P, t->mark,
		     "the | union operator on configs is not "
		     "supported; write one block");
		return -1;
	}
	/* What starts a new line starts the next entry or statement. */
	if (!t->nl && refused_after_value(P))
		return -1;
	if (t->kind == TK_EOF && closer != TK_EOF) {
		perr(P, open, "\"%s\" is never closed",
		     closer == TK_RBRACE ? "{" : "[");
		return -1;
	}
	if (t->nl && closer != TK_EOF && t->kind != TK_RBRACE &&
	    t->kind != TK_RBRACK && t->kind != TK_RPAREN)
		return 0;
	if (closer == TK_EOF && (t->nl || t->kind == TK_EOF))
		return 0;
	char d[64];
	tok_desc(t, d, sizeof(d));
	if (t->kind == TK_RBRACE || t->kind == TK_RBRACK ||
	    t->kind == TK_RPAREN) {
		if (closer == TK_EOF)
			perr(P, t->mark, "unexpected %s (nothing to close)", d);
		else
			perr(P, t->mark,
			     "expected \"%s\" to close the \"%s\" at %u:%u, "
			     "got %s",
			     closer == TK_RBRACE ? "}" : "]",
			     closer == TK_RBRACE ? "{" : "[", open.line,
			     open.col, d);
		return -1;
	}
	if (closer == TK_EOF)
		perr(P, t->mark,
		     "expected a line break after the statement, got %s", d);
	else
		perr(P, t->mark,
		     "expected \",\" or a line break between entries, got %s",
		     d);
	return -1;
}

static int enter(parser *P, ks_mark at)
{
	if (++P->depth > KCL_MAX_DEPTH) {
		perr(P, at, "nesting deeper than %d levels", KCL_MAX_DEPTH);
		return -1;
	}
	return 0;
}

static const char *key_first_pos(parser *P, json_t *obj, const char *key,
				 char *buf, size_t size)
{
	const ks_node_info *fi = ks_doc_key_info(P->doc, obj, key);
	if (fi)
		snprintf(buf, size, "%u:%u", fi->key.line, fi->key.col);
	else
		snprintf(buf, size, "?");
	return buf;
}

/* Places VALUE under KEY in OBJ (stealing it), or reports a duplicate. */
static void place(parser *P, json_t *obj, const char *key, json_t *value,
		  const ks_node_info *info)
{
	if (json_object_get(obj, key)) {
		char pos[32];
		perr(P, info->key, "duplicate key \"%s\" (first at %s)", key,
		     key_first_pos(P, obj, key, pos, sizeof(pos)));
		drop(P, value);
		return;
	}
	json_object_set_new(obj, key, value);
	ks_doc_note_key(P->doc, obj, key, info);
}

/* Reads a key (a name or a string) and its ":" or "="; *key is a heap
 * copy. */
static int parse_key(parser *P, char **key, ks_mark *mark)
{
	tok *t = &P->t;
	if (t->kind == TK_STARSTAR || t->kind == TK_STAR) {
		perr(P, t->mark, "unpacking (%.*s) is not supported", (int)t->n,
		     t->p);
		return -1;
	}
	if (t->kind == TK_NAME) {
		const char *why = REFUSED(key_refused, t);
		if (why) {
			perr(P, t->mark, "%s", why);
			return -1;
		}
	}
	if (t->kind != TK_NAME && t->kind != TK_STRING) {
		expected(P, "a key (a name or a string)");
		return -1;
	}
	if (t->kind == TK_STRING && memchr(P->sbuf.data, '\0', P->sbuf.len)) {
		perr(P, t->mark, "keys may not contain NUL characters");
		return -1;
	}
	*mark = t->mark;
	char *k = t->kind == TK_NAME ? ks_xstrndup(t->p, t->n)
				     : ks_xstrndup(P->sbuf.data, P->sbuf.len);
	if (next(P) < 0)
		goto fail;
	if (t->kind == TK_DOT) {
		perr(P, t->mark,
		     "dotted keys (a.b: value) are not supported; "
		     "nest the blocks instead");
		goto fail;
	}
	if (t->kind == TK_AUG) {
		perr(P, t->mark, "the \"%.*s\" operator is not supported",
		     (int)t->n, t->p);
		goto fail;
	}
	if (t->kind != TK_COLON && t->kind != TK_ASSIGN) {
		char what[96];
		snprintf(what, sizeof(what),
			 "\":\" or \"=\" after the key \"%.*s\"", 40, k);
		expected(P, what);
		goto fail;
	}
	if (next(P) < 0)
		goto fail;
	*key = k;
	return 0;
fail:
	free(k);
	return -1;
}

/* The entries of a block, after its "{" (at OPEN), up to and including its
 * "}". */
static int parse_block(parser *P, const bctx *bc, json_t *obj, ks_mark open)
{
	for (;;) {
		tok *t = &P->t;
		if (t->kind == TK_RBRACE)
			return next(P);
		if (t->kind == TK_EOF) {
			perr(P, open, "\"{\" is never closed");
			return -1;
		}
		char *key = NULL;
		ks_node_info info = {0};
		if (parse_key(P, &key, &info.key) < 0)
			return -1;
		kctx ctx = bc->schema ? field_ctx(bc->schema, key) : bc->each;
		size_t old = path_push_key(P, key);
		json_t *v = NULL;
		int rc = parse_value(P, ctx, &v, &info);
		path_pop(P, old);
		if (rc < 0) {
			free(key);
			return -1;
		}
		place(P, obj, key, v, &info);
		free(key);
		if (end_of_item(P, TK_RBRACE, open) < 0)
			return -1;
	}
}

/* The items of a list, after its "[" (at OPEN), up to its "]". */
static int parse_list(parser *P, kctx item, json_t *arr, ks_mark open)
{
	for (size_t i = 0;; i++) {
		tok *t = &P->t;
		if (t->kind == TK_RBRACK)
			return next(P);
		if (t->kind == TK_EOF) {
			perr(P, open, "\"[\" is never closed");
			return -1;
		}
		if (t->kind == TK_STAR || t->kind == TK_STARSTAR) {
			perr(P, t->mark, "unpacking (%.*s) is not supported",
			     (int)t->n, t->p);
			return -1;
		}
		ks_node_info info = {0};
		json_t *v = NULL;
		size_t old = path_push_index(P, i);
		int rc = parse_value(P, item, &v, &info);
		path_pop(P, old);
		if (rc < 0)
			return -1;
		info.key = info.value;
		json_array_append_new(arr, v);
		ks_doc_note_index(P->doc, arr, json_array_size(arr) - 1, &info);
		if (end_of_item(P, TK_RBRACK, open) < 0)
			return -1;
	}
}

/* A plain block "{ ... }" in context CTX. */
static int parse_dict(parser *P, kctx ctx, json_t **out)
{
	ks_mark open = P->t.mark;
	bctx bc = {NULL, {K_FREE, T_NONE}};
	if (enter(P, open) < 0)
		return -1;
	if (ctx.shape == K_ONE)
		bc.schema = schema_find(ktypes[ctx.type].names[0],
					strlen(ktypes[ctx.type].names[0]));
	else if (ctx.shape == K_MAP)
		bc.each = (kctx){K_ONE, ctx.type};
	else if (ctx.shape == K_PLAIN || ctx.shape == K_LIST)
		bc.each = (kctx){K_PLAIN, T_NONE};
	json_t *obj = json_object();
	if (next(P) < 0 || parse_block(P, &bc, obj, open) < 0) {
		json_decref(obj);
		return -1;
	}
	P->depth--;
	*out = obj;
	return 0;
}

static int parse_list_value(parser *P, kctx ctx, json_t **out)
{
	ks_mark open = P->t.mark;
	kctx item = {K_FREE, T_NONE};
	if (enter(P, open) < 0)
		return -1;
	if (ctx.shape == K_LIST)
		item = (kctx){K_ONE, ctx.type};
	else if (ctx.shape != K_FREE)
		item = (kctx){K_PLAIN, T_NONE};
	json_t *arr = json_array();
	if (next(P) < 0 || parse_list(P, item, arr, open) < 0) {
		json_decref(arr);
		return -1;
	}
	P->depth--;
	*out = arr;
	return 0;
}

static bool alias_known(const parser *P, const char *name, size_t n)
{
	for (size_t i = 0; i < P->naliases; i++) {
		if (strlen(P->aliases[i].name) == n &&
		    memcmp(P->aliases[i].name, name, n) == 0)
			return true;
	}
	return false;
}

static void unknown_schema(parser *P, ks_mark at, const char *name, size_t n)
{
	enum { NS = sizeof(kschemas) / sizeof(kschemas[0]) };
	const char *names[NS];
	for (size_t i = 0; i < NS; i++)
		names[i] = kschemas[i].name;
	char *word = ks_xstrndup(name, n);
	const char *hint = ks_did_you_mean(word, names, NS);
	if (hint)
		perr(P, at, "unknown schema \"%s\" (did you mean \"%s\"?)",
		     word, hint);
	else
		perr(P, at, "unknown schema \"%s\"", word);
	free(word);
}

/* Checks that a schema NAME fits the place CTX; reports when it does not.
 * Returns whether the instance takes a _type key. */
static bool schema_fits(parser *P, kctx ctx, const char *name, ks_mark at)
{
	char label[64];
	const char *path = P->path.len ? P->path.data : "(top level)";
	switch (ctx.shape) {
	case K_ONE:
		if (type_accepts(ctx.type, name))
			return ktypes[ctx.type].is_union;
		type_label(ctx.type, label, sizeof(label));
		perr(P, at, "%s: expected %s, got %s", path, label, name);
		return false;
	case K_MAP:
		type_label(ctx.type, label, sizeof(label));
		perr(P, at, "%s: expected a block of name: %s, got %s", path,
		     label, name);
		return false;
	case K_LIST:
		type_label(ctx.type, label, sizeof(label));
		perr(P, at, "%s: expected a list of %s, got %s", path, label,
		     name);
		return false;
	case K_PLAIN:
		perr(P, at, "%s: expected plain values, got schema %s", path,
		     name);
		return false;
	default:
		return false;
	}
}

/*
 * A value that starts with a name: True, False, None, or a schema instance
 * `[alias.]Schema { ... }`. Names used as values (variables), calls and
 * keywords the subset refuses are errors.
 */
static int parse_named(parser *P, kctx ctx, json_t **out, ks_node_info *info)
{
	tok *t = &P->t;
	static const char *const consts[] = {"True", "False", "None"};
	static const char *const raws[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		if (!tok_is(t, consts[i]))
			continue;
		*out = i == 0	? json_true()
		       : i == 1 ? json_false()
				: json_null();
		info->raw = raws[i];
		info->style = KS_STYLE_PLAIN;
		return next(P);
	}
	const char *why = REFUSED(value_refused, t);
	if (why) {
		perr(P, t->mark, "%s", why);
		return -1;
	}
	/* [alias.]Name */
	ks_mark at = t->mark;
	const char *first = t->p, *name = t->p;
	size_t first_n = t->n, name_n = t->n, parts = 1;
	if (next(P) < 0)
		return -1;
	while (t->kind == TK_DOT && !t->nl) {
		if (next(P) < 0)
			return -1;
		if (t->kind != TK_NAME) {
			expected(P, "a name after \".\"");
			return -1;
		}
		name = t->p;
		name_n = t->n;
		parts++;
		if (next(P) < 0)
			return -1;
	}
	int shown = (int)(name + name_n - first);
	if (t->kind == TK_LPAREN) {
		perr(P, t->mark, "calls are not supported (\"%.*s(...)\")",
		     shown, first);
		return -1;
	}
	if (t->kind != TK_LBRACE) {
		if (tok_is(t, "for"))
			perr(P, t->mark,
			     "for comprehensions are not supported");
		else
			perr(P, at,
			     "names as values are not supported (\"%.*s\"); "
			     "write the value itself",
			     shown, first);
		return -1;
	}
	/* A schema instance. */
	if (parts > 2) {
		perr(P, at, "expected a schema as alias.Schema, got \"%.*s\"",
		     shown, first);
		return -1;
	}
	const struct kschema *s = schema_find(name, name_n);
	bool typed = false;
	if (parts == 2 && !alias_known(P, first, first_n))
		perr(P, at,
		     "unknown module alias \"%.*s\" (no import line "
		     "names it)",
		     (int)first_n, first);
	if (!s) {
		unknown_schema(P, at, name, name_n);
	} else {
		typed = schema_fits(P, ctx, s->name, at);
	}
	ks_mark open = t->mark;
	if (enter(P, open) < 0)
		return -1;
	json_t *obj = json_object();
	if (typed) {
		ks_node_info ti = {at, at, NULL, KS_STYLE_PLAIN};
		json_object_set_new(obj, "_type", json_string(s->name));
		ks_doc_note_key(P->doc, obj, "_type", &ti);
	}
	bctx bc = {s, {K_FREE, T_NONE}};
	if (next(P) < 0 || parse_block(P, &bc, obj, open) < 0) {
		json_decref(obj);
		return -1;
	}
	P->depth--;
	*out = obj;
	info->style = KS_STYLE_NONE;
	return 0;
}

static int parse_number(parser *P, json_t **out, ks_node_info *info)
{
	tok *t = &P->t;
	char text[KCL_MAX_NUMBER + 2];
	size_t n = 0;
	if (t->kind == TK_MINUS || t->kind == TK_PLUS) {
		text[n++] = *t->p;
		if (next(P) < 0)
			return -1;
		if (t->kind != TK_INT && t->kind != TK_FLOAT &&
		    t->kind != TK_UNIT) {
			expected(P, "a number after the sign");
			return -1;
		}
	}
	memcpy(text + n, t->p, t->n);
	n += t->n;
	text[n] = '\0';
	const char *digits = text + (text[0] == '-' || text[0] == '+');
	if (t->kind == TK_UNIT) {
		*out = json_string(text);
		info->style = KS_STYLE_PLAIN;
	} else if (t->kind == TK_FLOAT) {
		errno = 0;
		double d = strtod(text, NULL);
		if (!isfinite(d) || errno == ERANGE) {
			perr(P, info->value, "number out of range: %s", text);
			return -1;
		}
		*out = json_real(d);
		info->raw = ks_doc_intern(P->doc, text, n);
		info->style = KS_STYLE_PLAIN;
	} else {
		int base = 10;
		if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
			base = 16;
		else if (digits[0] == '0' &&
			 (digits[1] == 'o' || digits[1] == 'O'))
			base = 8;
		else if (digits[0] == '0' &&
			 (digits[1] == 'b' || digits[1] == 'B'))
			base = 2;
		errno = 0;
		unsigned long long u =
			strtoull(digits + (base == 10 ? 0 : 2), NULL, base);
		bool neg = text[0] == '-';
		if (errno == ERANGE ||
		    (!neg && u > (unsigned long long)INT64_MAX) ||
		    (neg && u > (unsigned long long)INT64_MAX + 1ull)) {
			perr(P, info->value, "integer out of range: %s", text);
			return -1;
		}
		json_int_t v = neg ? (json_int_t)(0 - u) : (json_int_t)u;
		if (neg && u == (unsigned long long)INT64_MAX + 1ull)
			v = INT64_MIN;
		*out = json_integer(v);
		info->raw = ks_doc_intern(P->doc, text, n);
		info->style = KS_STYLE_PLAIN;
	}
	return next(P);
}

static int parse_value1(parser *P, kctx ctx, json_t **out, ks_node_info *info)
{
	tok *t = &P->t;
	info->value = t->mark;
	switch (t->kind) {
	case TK_STRING:
		if (memchr(P->sbuf.data, '\0', P->sbuf.len)) {
			perr(P, t->mark,
			     "strings may not contain NUL characters");
			return -1;
		}
		*out = json_stringn(P->sbuf.data, P->sbuf.len);
		info->style = KS_STYLE_QUOTED;
		return next(P);
	case TK_INT:
	case TK_FLOAT:
	case TK_UNIT:
	case TK_MINUS:
	case TK_PLUS:
		return parse_number(P, out, info);
	case TK_NAME:
		return parse_named(P, ctx, out, info);
	case TK_LBRACE:
		if (ctx.shape == K_ONE)
			info->style = KS_STYLE_NONE;
		return parse_dict(P, ctx, out);
	case TK_LBRACK:
		return parse_list_value(P, ctx, out);
	case TK_LPAREN:
		perr(P, t->mark, "parenthesized expressions are not supported");
		return -1;
	case TK_STAR:
	case TK_STARSTAR:
		perr(P, t->mark, "unpacking (%.*s) is not supported", (int)t->n,
		     t->p);
		return -1;
	default:
		expected(P, "a value");
		return -1;
	}
}

/* One value in context CTX; fills info->value, raw and style. On failure
 * *out is NULL. */
static int parse_value(parser *P, kctx ctx, json_t **out, ks_node_info *info)
{
	json_t *v = NULL;
	if (parse_value1(P, ctx, &v, info) < 0) {
		json_decref(v);
		*out = NULL;
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- Top level -------------------------------------------------------- */

/* `import a.b.c [as x]`, after the keyword. */
static int parse_import(parser *P)
{
	tok *t = &P->t;
	ks_buf path;
	ks_buf_init(&path, 0);
	const char *last = NULL;
	size_t last_n = 0;
	int rc = -1;
	if (next(P) < 0)
		goto out;
	for (;;) {
		if (t->kind != TK_NAME || t->nl) {
			expected(P, "a module path after \"import\"");
			goto out;
		}
		ks_buf_append(&path, t->p, t->n);
		last = t->p;
		last_n = t->n;
		if (next(P) < 0)
			goto out;
		if (t->kind != TK_DOT || t->nl)
			break;
		ks_buf_append(&path, ".", 1);
		if (next(P) < 0)
			goto out;
	}
	ks_mark at = t->mark;
	if (tok_is(t, "as") && !t->nl) {
		if (next(P) < 0)
			goto out;
		if (t->kind != TK_NAME || t->nl) {
			expected(P, "an alias after \"as\"");
			goto out;
		}
		last = t->p;
		last_n = t->n;
		at = t->mark;
		if (next(P) < 0)
			goto out;
	}
	if (!t->nl && t->kind != TK_EOF) {
		expected(P, "a line break after the import");
		goto out;
	}
	for (size_t i = 0; i < P->naliases; i++) {
		struct alias *a = &P->aliases[i];
		if (strlen(a->name) != last_n ||
		    memcmp(a->name, last, last_n) != 0)
			continue;
		if (strcmp(a->path, path.data) != 0)
			perr(P, at, "alias \"%s\" already names module \"%s\"",
			     a->name, a->path);
		rc = 0;
		goto out;
	}
	P->aliases = ks_xrealloc(P->aliases,
				 (P->naliases + 1) * sizeof(*P->aliases));
	P->aliases[P->naliases].name = ks_xstrndup(last, last_n);
	P->aliases[P->naliases].path = ks_buf_detach(&path, NULL);
	P->naliases++;
	rc = 0;
out:
	ks_buf_release(&path);
	return rc;
}

static const char *const top_refused[][2] = {
	{"schema", "schema definitions are not supported"},
	{"mixin", "mixin definitions are not supported"},
	{"protocol", "protocol definitions are not supported"},
	{"rule", "rule definitions are not supported"},
	{"lambda", "lambda expressions are not supported"},
	{"if", "if statements are not supported"},
	{"elif", "if statements are not supported"},
	{"else", "if statements are not supported"},
	{"for", "for loops are not supported"},
	{"assert", "assert statements are not supported"},
};

/* One top-level statement. */
static int parse_statement(parser *P, json_t *root, ks_mark *root_mark)
{
	tok *t = &P->t;
	if (!t->nl) {
		expected(P, "a line break before the statement");
		return -1;
	}
	if (t->mark.col != 1) {
		if (t->tab)
			perr(P, t->mark,
			     "unexpected tab before a top-level "
			     "statement (statements start in "
			     "column 1)");
		else
			perr(P, t->mark,
			     "unexpected indentation (top-level "
			     "statements start in column 1)");
		return -1;
	}
	if (tok_is(t, "import"))
		return parse_import(P);
	if (t->kind == TK_OP && t->n == 1 && *t->p == '@') {
		perr(P, t->mark, "decorators are not supported");
		return -1;
	}
	for (size_t i = 0; i < sizeof(top_refused) / sizeof(top_refused[0]);
	     i++) {
		if (tok_is(t, top_refused[i][0])) {
			perr(P, t->mark, "%s", top_refused[i][1]);
			return -1;
		}
	}
	if (tok_is(t, "type") && P->p < P->end) {
		/* `type X = ...` is an alias; `type: ...` a plain name. */
		const char *s = P->p;
		while (s < P->end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < P->end && is_name_start((unsigned char)*s)) {
			perr(P, t->mark, "type aliases are not supported");
			return -1;
		}
	}
	if (t->kind != TK_NAME) {
		expected(P, "a statement (name: value, name = value or "
			    "import)");
		return -1;
	}
	ks_node_info info = {0};
	info.key = t->mark;
	char *key = ks_xstrndup(t->p, t->n);
	json_t *v = NULL;
	if (next(P) < 0)
		goto fail;
	if (t->kind == TK_LPAREN) {
		perr(P, t->mark, "calls are not supported (\"%s(...)\")", key);
		goto fail;
	}
	if (t->kind == TK_DOT) {
		perr(P, t->mark,
		     "dotted names (a.b = value) are not supported "
		     "at the top level");
		goto fail;
	}
	if (t->kind == TK_AUG) {
		perr(P, t->mark, "the \"%.*s\" operator is not supported",
		     (int)t->n, t->p);
		goto fail;
	}
	if (t->kind != TK_COLON && t->kind != TK_ASSIGN) {
		char what[96];
		snprintf(what, sizeof(what), "\":\" or \"=\" after \"%.40s\"",
			 key);
		expected(P, what);
		goto fail;
	}
	if (next(P) < 0)
		goto fail;
	if (t->nl || t->kind == TK_EOF) {
		expected(P, "a value on the same line");
		goto fail;
	}
	size_t old = path_push_key(P, key);
	kctx app = {K_ONE, T_APP};
	int rc = parse_value(P, app, &v, &info);
	path_pop(P, old);
	if (rc < 0)
		goto fail;
	if (json_object_size(root) == 0 && root_mark->line == 0)
		*root_mark = info.key;
	place(P, root, key, v, &info);
	free(key);
	return end_of_item(P, TK_EOF, info.key);
fail:
	free(key);
	return -1;
}

static void parser_release(parser *P)
{
	ks_buf_release(&P->sbuf);
	ks_buf_release(&P->path);
	json_decref(P->grave);
	for (size_t i = 0; i < P->naliases; i++) {
		free(P->aliases[i].name);
		free(P->aliases[i].path);
	}
	free(P->aliases);
}

int ks_kcl_parse(ks_doc **out, const char *buf, size_t len, const char *file,
		 ks_errlist *errs)
{
	parser P;
	memset(&P, 0, sizeof(P));
	P.file = file;
	P.errs = errs;
	P.doc = ks_doc_new(file);
	P.p = buf;
	P.end = buf + len;
	P.line = 1;
	P.col = 1;
	P.first = true;
	P.grave = json_array();
	ks_buf_init(&P.sbuf, 0);
	ks_buf_init(&P.path, 0);
	ks_buf_puts(&P.sbuf, "");
	ks_buf_puts(&P.path, "");
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		P.p += 3; /* a byte order mark */

	json_t *root = json_object();
	ks_mark root_mark = {0, 0};
	int rc = next(&P);
	while (rc == 0 && P.t.kind != TK_EOF)
		rc = parse_statement(&P, root, &root_mark);
	if (rc < 0 || P.failed) {
		json_decref(root);
		ks_doc_free(P.doc);
		parser_release(&P);
		return KS_EINVAL;
	}
	if (json_object_size(root) == 0)
		json_decref(root);
	else
		ks_doc_set_root(P.doc, root, root_mark);
	parser_release(&P);
	*out = P.doc;
	return 0;
}
