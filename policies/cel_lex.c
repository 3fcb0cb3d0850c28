/*
 * The CEL lexer (langdef.md § Syntax, the lexis): one token at a time, with
 * its line and column, string and bytes literals decoded into the program's
 * arena.
 */
#include "policies/cel_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

void cel_lex_init(cel_lexer *lx, const char *src, size_t len, ks_arena *a)
{
	lx->src = lx->p = src;
	lx->end = src + len;
	lx->line = 1;
	lx->col = 1;
	lx->arena = a;
}

size_t cel_utf8_valid_one(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		v = c & 0x1F;
		min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		v = c & 0x0F;
		min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

int cel_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t l = cel_utf8_valid_one(p + i, n - i, &cp);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

size_t cel_utf8_count(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* Consumes one byte, keeping line and column (columns count characters). */
static void adv(cel_lexer *lx)
{
	unsigned char c = (unsigned char)*lx->p++;
	if (c == '\n' || (c == '\r' && (lx->p >= lx->end || *lx->p != '\n'))) {
		lx->line++;
		lx->col = 1;
	} else if ((c & 0xC0) != 0x80 && c != '\r') {
		lx->col++;
	}
}

static int peek(const cel_lexer *lx, size_t k)
{
	if (lx->p + k >= lx->end)
		return -1;
	return (unsigned char)lx->p[k];
}

static int is_ident_start(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
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

static void skip_space(cel_lexer *lx)
{
	for (;;) {
		int c = peek(lx, 0);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f') {
			adv(lx);
		} else if (c == '/' && peek(lx, 1) == '/') {
			while (lx->p < lx->end && *lx->p != '\n' &&
			       *lx->p != '\r')
				adv(lx);
		} else {
			return;
		}
	}
}

static int set_error(cel_token *t, const char *msg)
{
	t->type = T_ERROR;
	t->err = msg;
	return 0;
}

static const char *const reserved[] = {
	"as",	     "break",  "const",	 "continue", "else",  "for",
	"function",  "if",     "import", "let",	     "loop",  "package",
	"namespace", "return", "var",	 "void",     "while",
};

static int lex_ident(cel_lexer *lx, cel_token *t)
{
	while (lx->p < lx->end && (is_ident_start((unsigned char)*lx->p) ||
				   is_digit((unsigned char)*lx->p)))
		adv(lx);
	t->len = (size_t)(lx->p - t->start);
	t->type = T_IDENT;
	struct {
		const char *w;
		int type;
	} kw[] = {{"true", T_TRUE},
		  {"false", T_FALSE},
		  {"null", T_NULL},
		  {"in", T_IN}};
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strlen(kw[i].w) == t->len &&
		    !memcmp(kw[i].w, t->start, t->len))
			t->type = kw[i].type;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == t->len &&
		    !memcmp(reserved[i], t->start, t->len))
			t->type = T_RESERVED;
	return 0;
}

static int lex_number(cel_lexer *lx, cel_token *t)
{
	int is_float = 0;
	if (peek(lx, 0) == '0' && peek(lx, 1) == 'x') {
		adv(lx);
		adv(lx);
		uint64_t v = 0;
		int ndig = 0, over = 0;
		int h;
		while ((h = hexval(peek(lx, 0))) >= 0) {
			if (v > (UINT64_MAX >> 4))
				over = 1;
			v = (v << 4) | (uint64_t)h;
			ndig++;
			adv(lx);
		}
		if (!ndig)
			return set_error(t, "invalid hex literal");
		t->u = v;
		t->type = T_INT;
		if (peek(lx, 0) == 'u' || peek(lx, 0) == 'U') {
			adv(lx);
			t->type = T_UINT;
		}
		if (over)
			return set_error(t, "integer literal out of range");
		goto end;
	}
	while (is_digit(peek(lx, 0)))
		adv(lx);
	if (peek(lx, 0) == '.' && is_digit(peek(lx, 1))) {
		is_float = 1;
		adv(lx);
		while (is_digit(peek(lx, 0)))
			adv(lx);
	}
	if ((peek(lx, 0) == 'e' || peek(lx, 0) == 'E') &&
	    (is_digit(peek(lx, 1)) ||
	     ((peek(lx, 1) == '+' || peek(lx, 1) == '-') &&
	      is_digit(peek(lx, 2))))) {
		is_float = 1;
		adv(lx);
		if (peek(lx, 0) == '+' || peek(lx, 0) == '-')
			adv(lx);
		while (is_digit(peek(lx, 0)))
			adv(lx);
	}
	size_t n = (size_t)(lx->p - t->start);
	if (is_float) {
		char *tmp = ks_arena_strndup(lx->arena, t->start, n);
		errno = 0;
		t->d = strtod(tmp, NULL);
		t->type = T_DOUBLE;
		/* Overflow to infinity is an error, as in cel-go; underflow
		 * to zero or a denormal is fine. */
		if (errno == ERANGE && isinf(t->d))
			return set_error(t, "double literal out of range");
		goto end;
	}
	uint64_t v = 0;
	int over = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(t->start[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = 1;
		v = v * 10 + d;
	}
	t->u = v;
	t->type = T_INT;
	if (peek(lx, 0) == 'u' || peek(lx, 0) == 'U') {
		adv(lx);
		t->type = T_UINT;
	}
	if (over)
		return set_error(t, "integer literal out of range");
end:
	if (is_ident_start(peek(lx, 0)) || is_digit(peek(lx, 0)))
		return set_error(t, "invalid number literal");
	t->len = (size_t)(lx->p - t->start);
	return 0;
}

static void put_utf8(ks_buf *b, uint32_t cp)
{
	unsigned char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (unsigned char)(0xC0 | (cp >> 6));
		s[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (unsigned char)(0xE0 | (cp >> 12));
		s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		s[0] = (unsigned char)(0xF0 | (cp >> 18));
		s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		s[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	ks_buf_append(b, s, n);
}

/* Reads N hex digits; -1 when one is missing. */
static long read_hex(cel_lexer *lx, int n)
{
	long v = 0;
	for (int i = 0; i < n; i++) {
		int h = hexval(peek(lx, 0));
		if (h < 0)
			return -1;
		v = v * 16 + h;
		adv(lx);
	}
	return v;
}

/* Decodes one escape after the backslash. Returns an error message or
 * NULL. */
static const char *lex_escape(cel_lexer *lx, ks_buf *b, int bytes)
{
	int c = peek(lx, 0);
	const char *simple = "\\\\??\"\"''``a\ab\bf\fn\nr\rt\tv\v";
	for (const char *s = simple; *s; s += 2) {
		if (c == s[0]) {
			adv(lx);
			ks_buf_append(b, s + 1, 1);
			return NULL;
		}
	}
	long v;
	if (c == 'x' || c == 'X') {
		adv(lx);
		v = read_hex(lx, 2);
		if (v < 0)
			return "invalid \\x escape";
	} else if (c == 'u' || c == 'U') {
		adv(lx);
		if (bytes)
			return "\\u and \\U escapes are not allowed in bytes";
		v = read_hex(lx, c == 'u' ? 4 : 8);
		if (v < 0)
			return "invalid unicode escape";
		if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
			return "invalid unicode code point in escape";
	} else if (c >= '0' && c <= '3') {
		v = 0;
		for (int i = 0; i < 3; i++) {
			int d = peek(lx, 0);
			if (d < '0' || d > '7')
				return "invalid octal escape";
			v = v * 8 + (d - '0');
			adv(lx);
		}
	} else {
		return "invalid escape sequence";
	}
	if (bytes) {
		unsigned char byte = (unsigned char)v;
		ks_buf_append(b, &byte, 1);
	} else {
		put_utf8(b, (uint32_t)v);
	}
	return NULL;
}

static int lex_string(cel_lexer *lx, cel_token *t, int raw, int bytes)
{
	int q = peek(lx, 0);
	int triple = peek(lx, 1) == q && peek(lx, 2) == q;
	for (int i = 0; i < (triple ? 3 : 1); i++)
		adv(lx);
	ks_buf b;
	ks_buf_init(&b, 0);
	const char *err = NULL;
	for (;;) {
		int c = peek(lx, 0);
		if (c < 0) {
			err = "unterminated string literal";
			break;
		}
		if (c == q &&
		    (!triple || (peek(lx, 1) == q && peek(lx, 2) == q))) {
			for (int i = 0; i < (triple ? 3 : 1); i++)
				adv(lx);
			break;
		}
		if (!triple && (c == '\n' || c == '\r')) {
			err = "newline in string literal";
			break;
		}
		if (c == '\\' && !raw) {
			adv(lx);
			if ((err = lex_escape(lx, &b, bytes)))
				break;
			continue;
		}
		uint32_t cp;
		size_t l = cel_utf8_valid_one((const unsigned char *)lx->p,
					      (size_t)(lx->end - lx->p), &cp);
		if (!l) {
			err = "invalid UTF-8 in string literal";
			break;
		}
		ks_buf_append(&b, lx->p, l);
		for (size_t i = 0; i < l; i++)
			adv(lx);
	}
	if (err) {
		ks_buf_release(&b);
		return set_error(t, err);
	}
	t->type = bytes ? T_BYTES : T_STRING;
	t->str = ks_arena_strndup(lx->arena, b.data ? b.data : "", b.len);
	t->slen = b.len;
	ks_buf_release(&b);
	if (!bytes && !cel_utf8_valid(t->str, t->slen))
		return set_error(t, "invalid UTF-8 in string literal");
	t->len = (size_t)(lx->p - t->start);
	return 0;
}

static int lex_op(cel_lexer *lx, cel_token *t)
{
	static const struct {
		const char *s;
		int type;
	} ops[] = {
		{"==", T_EQ},	   {"!=", T_NE},    {"<=", T_LE},
		{">=", T_GE},	   {"&&", T_AND},   {"||", T_OR},
		{"(", T_LPAREN},   {")", T_RPAREN}, {"[", T_LBRACKET},
		{"]", T_RBRACKET}, {"{", T_LBRACE}, {"}", T_RBRACE},
		{".", T_DOT},	   {",", T_COMMA},  {":", T_COLON},
		{"?", T_QUESTION}, {"+", T_PLUS},   {"-", T_MINUS},
		{"*", T_STAR},	   {"/", T_SLASH},  {"%", T_PERCENT},
		{"!", T_NOT},	   {"<", T_LT},	    {">", T_GT},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].s);
		if ((size_t)(lx->end - lx->p) >= n &&
		    !memcmp(lx->p, ops[i].s, n)) {
			for (size_t k = 0; k < n; k++)
				adv(lx);
			t->type = ops[i].type;
			t->len = n;
			return 1;
		}
	}
	return 0;
}

static int lex_token(cel_lexer *lx, cel_token *t)
{
	skip_space(lx);
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	t->start = lx->p;
	if (lx->p >= lx->end) {
		t->type = T_EOF;
		return 0;
	}
	int c = peek(lx, 0), c1 = peek(lx, 1), c2 = peek(lx, 2);
	int raw = 0, bytes = 0;
	if ((c == 'r' || c == 'R') && (c1 == '"' || c1 == '\''))
		raw = 1;
	else if ((c == 'b' || c == 'B') && (c1 == '"' || c1 == '\''))
		bytes = 1;
	else if ((c == 'r' || c == 'R') && (c1 == 'b' || c1 == 'B') &&
		 (c2 == '"' || c2 == '\''))
		raw = bytes = 1;
	else if ((c == 'b' || c == 'B') && (c1 == 'r' || c1 == 'R') &&
		 (c2 == '"' || c2 == '\''))
		raw = bytes = 1;
	if (raw || bytes) {
		for (int i = 0; i < raw + bytes; i++)
			adv(lx);
		return lex_string(lx, t, raw, bytes);
	}
	if (c == '"' || c == '\'')
		return lex_string(lx, t, 0, 0);
	if (is_ident_start(c))
		return lex_ident(lx, t);
	if (is_digit(c) || (c == '.' && is_digit(c1)))
		return lex_number(lx, t);
	if (lex_op(lx, t))
		return 0;
	if (c == '=')
		return set_error(t, "unexpected '=' (use '==')");
	if (c == '&' || c == '|')
		return set_error(t, "unexpected character (use && or ||)");
	return set_error(t, "unexpected character");
}

void cel_lex_next(cel_lexer *lx, cel_token *t)
{
	lex_token(lx, t);
}
