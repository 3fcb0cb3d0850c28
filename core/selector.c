#include "core/selector.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

/*
 * The grammar and messages follow k8s.io/apimachinery/pkg/labels/selector.go:
 * a lexer that cuts the text into identifiers and operator symbols, and a
 * recursive-descent parser over the tokens.
 */

enum op {
	OP_EQ,
	OP_DEQ,
	OP_NEQ,
	OP_IN,
	OP_NOTIN,
	OP_EXISTS,
	OP_NOTEXISTS,
	OP_GT,
	OP_LT,
};

struct req {
	char *key;
	enum op op;
	char **vals; /* sorted, unique */
	size_t nvals;
};

struct ks_selector {
	struct req *reqs;
	size_t n;
};

enum tok {
	T_ERROR,
	T_EOS,
	T_CLOSEPAR,
	T_COMMA,
	T_NOT,
	T_DEQ,
	T_EQ,
	T_GT,
	T_IDENT,
	T_IN,
	T_LT,
	T_NEQ,
	T_NOTIN,
	T_OPENPAR,
};

struct token {
	enum tok tok;
	char *lit;
};

struct parser {
	struct token *toks;
	size_t n, pos;
	ks_error *err;
};

static const struct {
	const char *s;
	enum tok tok;
} symbols[] = {
	{"!", T_NOT},	{"!=", T_NEQ}, {"(", T_OPENPAR},   {")", T_CLOSEPAR},
	{",", T_COMMA}, {"=", T_EQ},   {"==", T_DEQ},	   {">", T_GT},
	{"<", T_LT},	{"in", T_IN},  {"notin", T_NOTIN},
};

static bool is_special(char c)
{
	return c && strchr("=!(),><", c) != NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum tok lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(symbols) / sizeof(*symbols); i++)
		if (strlen(symbols[i].s) == n && !memcmp(symbols[i].s, s, n))
			return symbols[i].tok;
	return T_ERROR;
}

/* Scans one token at *p, advancing it. */
static struct token lex_one(const char **p)
{
	const char *s = *p;
	while (is_space(*s))
		s++;
	struct token t = {T_EOS, NULL};
	if (!*s) {
		t.lit = ks_xstrdup("");
		*p = s;
		return t;
	}
	size_t n = 0;
	if (is_special(*s)) {
		/* The longest symbol: "!=" and "==" win over "!" and "=". */
		size_t best = 0;
		while (is_special(s[n])) {
			n++;
			if (lookup(s, n) != T_ERROR)
				best = n;
			else if (best)
				break;
		}
		if (!best) {
			t.tok = T_ERROR;
			t.lit = ks_xasprintf(
				"error expected: keyword found '%.*s'", (int)n,
				s);
			*p = s + n;
			return t;
		}
		t.tok = lookup(s, best);
		t.lit = ks_xstrndup(s, best);
		*p = s + best;
		return t;
	}
	while (s[n] && !is_special(s[n]) && !is_space(s[n]))
		n++;
	t.tok = lookup(s, n);
	if (t.tok != T_IN && t.tok != T_NOTIN)
		t.tok = T_IDENT;
	t.lit = ks_xstrndup(s, n);
	*p = s + n;
	return t;
}

static void lex_all(struct parser *ps, const char *text)
{
	for (;;) {
		struct token t = lex_one(&text);
		ps->toks = ks_xrealloc(ps->toks, (ps->n + 1) * sizeof(t));
		ps->toks[ps->n++] = t;
		if (t.tok == T_EOS || t.tok == T_ERROR)
			break;
	}
}

/* The current token; in a value context "in" and "notin" are
 * identifiers. */
static enum tok peek(const struct parser *ps, bool values, const char **lit)
{
	const struct token *t = &ps->toks[ps->pos];
	*lit = t->lit;
	if (values && (t->tok == T_IN || t->tok == T_NOTIN))
		return T_IDENT;
	return t->tok;
}

static enum tok next(struct parser *ps, bool values, const char **lit)
{
	enum tok t = peek(ps, values, lit);
	if (ps->pos + 1 < ps->n)
		ps->pos++;
	return t;
}

static const char qualified_msg[] =
	"must consist of alphanumeric characters, '-', '_' or '.', and must "
	"start and end with an alphanumeric character";
static const char qualified_re[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over (s, n). */
static bool is_qualified_part(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool is_dns_subdomain(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		const char *l = s + start;
		if (len == 0 ||
		    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", l[0]) ||
		    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", l[len - 1]))
			return false;
		for (size_t j = 0; j < len; j++)
			if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-",
				    l[j]))
				return false;
		start = i + 1;
	}
	return true;
}

/* A label key (a qualified name); on error sets err and returns KS_EINVAL. */
static int validate_key(const char *key, ks_error *err)
{
	const char *slash = strchr(key, '/');
	const char *name = slash ? slash + 1 : key;
	const char *why = NULL;
	if (slash && strchr(name, '/'))
		why = "a qualified name must consist of alphanumeric "
		      "characters, '-', '_' or '.', and must start and end "
		      "with an alphanumeric character (e.g. 'MyName',  or "
		      "'my.name',  or '123-abc', regex used for validation is "
		      "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
		      "optional DNS subdomain prefix and '/' (e.g. "
		      "'example.com/MyName')";
	else if (slash && slash == key)
		why = "prefix part must be non-empty";
	else if (slash && !is_dns_subdomain(key, (size_t)(slash - key)))
		why = "prefix part a lowercase RFC 1123 subdomain must consist "
		      "of lower case alphanumeric characters, '-' or '.', and "
		      "must start and end with an alphanumeric character (e.g. "
		      "'example.com', regex used for validation is "
		      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
		      "[a-z0-9])?)*')";
	else if (!*name)
		why = "name part must be non-empty";
	else if (strlen(name) > 63)
		why = "name part must be no more than 63 characters";
	if (why)
		return ks_error_set(err, KS_EINVAL,
				    "unable to parse requirement: key: Invalid "
				    "value: \"%s\": %s",
				    key, why);
	if (!is_qualified_part(name, strlen(name)))
		return ks_error_set(
			err, KS_EINVAL,
			"unable to parse requirement: key: Invalid "
			"value: \"%s\": name part %s (e.g. 'MyName', "
			" or 'my.name',  or '123-abc', regex used "
			"for validation is '%s')",
			key, qualified_msg, qualified_re);
	return 0;
}

static int validate_value(const char *key, const char *v, size_t i,
			  ks_error *err)
{
	size_t n = strlen(v);
	if (n > 63)
		return ks_error_set(
			err, KS_EINVAL,
			"unable to parse requirement: values[%zu][%s]: "
			"Invalid value: \"%s\": must be no more than "
			"63 characters",
			i, key, v);
	if (n && !is_qualified_part(v, n))
		return ks_error_set(
			err, KS_EINVAL,
			"unable to parse requirement: values[%zu][%s]: Invalid "
			"value: \"%s\": a valid label must be an empty string "
			"or consist of alphanumeric characters, '-', '_' or "
			"'.', and must start and end with an alphanumeric "
			"character (e.g. 'MyValue',  or 'my_value',  or "
			"'12345', regex used for validation is "
			"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
			i, key, v);
	return 0;
}

static bool parse_int64(const char *s, long long *out)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static void req_release(struct req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvals; i++)
		free(r->vals[i]);
	free(r->vals);
}

static void req_add_value(struct req *r, const char *v)
{
	size_t at = 0;
	while (at < r->nvals && strcmp(r->vals[at], v) < 0)
		at++;
	if (at < r->nvals && !strcmp(r->vals[at], v))
		return;
	r->vals = ks_xrealloc(r->vals, (r->nvals + 1) * sizeof(char *));
	memmove(r->vals + at + 1, r->vals + at,
		(r->nvals - at) * sizeof(char *));
	r->vals[at] = ks_xstrdup(v);
	r->nvals++;
}

/* Checks a requirement as labels.NewRequirement does. */
static int req_validate(const struct req *r, ks_error *err)
{
	int rc = validate_key(r->key, err);
	if (rc < 0)
		return rc;
	if ((r->op == OP_IN || r->op == OP_NOTIN) && r->nvals == 0)
		return ks_error_set(err, KS_EINVAL,
				    "unable to parse requirement: values: "
				    "Invalid value: []: for 'in', 'notin' "
				    "operators, values set can't be empty");
	if ((r->op == OP_EXISTS || r->op == OP_NOTEXISTS) && r->nvals)
		return ks_error_set(err, KS_EINVAL,
				    "unable to parse requirement: values: "
				    "Invalid value: \"%s\": values set must be "
				    "empty for exists and does not exist",
				    r->vals[0]);
	for (size_t i = 0; i < r->nvals; i++) {
		long long dummy;
		if ((r->op == OP_GT || r->op == OP_LT) &&
		    !parse_int64(r->vals[i], &dummy))
			return ks_error_set(
				err, KS_EINVAL,
				"unable to parse requirement: "
				"values[%zu]: Invalid value: \"%s\": "
				"for 'Gt', 'Lt' operators, the value "
				"must be an integer",
				i, r->vals[i]);
		rc = validate_value(r->key, r->vals[i], i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Sets the message "<prefix>found '<lit>'<rest>". */
static int parse_fail(struct parser *ps, const char *prefix, const char *lit,
		      const char *rest)
{
	return ks_error_set(ps->err, KS_EINVAL, "%sfound '%s'%s", prefix, lit,
			    rest);
}

/* key, !key, or key followed by an operator. */
static int parse_key(struct parser *ps, struct req *r, bool *unary)
{
	const char *lit;
	bool negated = false;
	enum tok t = next(ps, true, &lit);
	if (t == T_NOT) {
		negated = true;
		t = next(ps, true, &lit);
	}
	if (t != T_IDENT)
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  ", expected: identifier");
	r->key = ks_xstrdup(lit);
	const char *la;
	enum tok after = peek(ps, true, &la);
	*unary = after == T_EOS || after == T_COMMA;
	if (*unary) {
		r->op = negated ? OP_NOTEXISTS : OP_EXISTS;
		return 0;
	}
	if (negated)
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  ", expected: ',' or 'end of string'");
	return 0;
}

static int parse_operator(struct parser *ps, struct req *r)
{
	const char *lit;
	switch (next(ps, false, &lit)) {
	case T_IN:
		r->op = OP_IN;
		return 0;
	case T_NOTIN:
		r->op = OP_NOTIN;
		return 0;
	case T_EQ:
		r->op = OP_EQ;
		return 0;
	case T_DEQ:
		r->op = OP_DEQ;
		return 0;
	case T_NEQ:
		r->op = OP_NEQ;
		return 0;
	case T_GT:
		r->op = OP_GT;
		return 0;
	case T_LT:
		r->op = OP_LT;
		return 0;
	default:
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  ", expected: in, notin, =, ==, !=, gt, lt");
	}
}

/* The "a,b" inside "(...)". */
static int parse_ident_list(struct parser *ps, struct req *r)
{
	for (;;) {
		const char *lit, *l2;
		enum tok t = next(ps, true, &lit);
		if (t == T_IDENT) {
			req_add_value(r, lit);
			enum tok t2 = peek(ps, true, &l2);
			if (t2 == T_COMMA)
				continue;
			if (t2 == T_CLOSEPAR)
				return 0;
			return parse_fail(ps,
					  "unable to parse requirement: ", l2,
					  ", expected: ',' or ')'");
		}
		if (t != T_COMMA)
			return parse_fail(ps,
					  "unable to parse requirement: ", lit,
					  ", expected: ',', or identifier");
		/* "(,", ",," and ",)" stand for empty values. */
		if (r->nvals == 0)
			req_add_value(r, "");
		enum tok t2 = peek(ps, true, &l2);
		if (t2 == T_CLOSEPAR) {
			req_add_value(r, "");
			return 0;
		}
		if (t2 == T_COMMA) {
			next(ps, true, &l2);
			req_add_value(r, "");
		}
	}
}

static int parse_values(struct parser *ps, struct req *r)
{
	const char *lit;
	if (next(ps, true, &lit) != T_OPENPAR)
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  " expected: '('");
	enum tok t = peek(ps, true, &lit);
	if (t == T_CLOSEPAR) {
		next(ps, true, &lit);
		req_add_value(r, "");
		return 0;
	}
	if (t != T_IDENT && t != T_COMMA)
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  ", expected: ',', ')' or identifier");
	int rc = parse_ident_list(ps, r);
	if (rc < 0)
		return rc;
	if (next(ps, true, &lit) != T_CLOSEPAR)
		return parse_fail(ps, "unable to parse requirement: ", lit,
				  ", expected: ')'");
	return 0;
}

static int parse_exact_value(struct parser *ps, struct req *r)
{
	const char *lit;
	enum tok t = peek(ps, true, &lit);
	if (t == T_EOS || t == T_COMMA) {
		req_add_value(r, "");
		return 0;
	}
	if (next(ps, true, &lit) == T_IDENT) {
		req_add_value(r, lit);
		return 0;
	}
	return parse_fail(ps, "unable to parse requirement: ", lit,
			  ", expected: identifier");
}

static int parse_requirement(struct parser *ps, struct req *r)
{
	bool unary = false;
	int rc = parse_key(ps, r, &unary);
	if (rc < 0 || unary)
		return rc < 0 ? rc : req_validate(r, ps->err);
	rc = parse_operator(ps, r);
	if (rc < 0)
		return rc;
	if (r->op == OP_IN || r->op == OP_NOTIN)
		rc = parse_values(ps, r);
	else
		rc = parse_exact_value(ps, r);
	return rc < 0 ? rc : req_validate(r, ps->err);
}

/* Inserts r (taken over) keeping requirements sorted by key, stably. */
static void selector_add(ks_selector *s, struct req *r)
{
	size_t at = s->n;
	while (at > 0 && strcmp(s->reqs[at - 1].key, r->key) > 0)
		at--;
	s->reqs = ks_xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
	memmove(s->reqs + at + 1, s->reqs + at, (s->n - at) * sizeof(*r));
	s->reqs[at] = *r;
	s->n++;
}

/* After a requirement: end of string, or a comma and another one. */
static int parse_separator(struct parser *ps, bool *done)
{
	const char *lit, *l2;
	enum tok t = next(ps, true, &lit);
	if (t == T_EOS) {
		*done = true;
		return 0;
	}
	if (t != T_COMMA)
		return parse_fail(ps, "", lit,
				  ", expected: ',' or 'end of string'");
	enum tok t2 = peek(ps, true, &l2);
	if (t2 != T_IDENT && t2 != T_NOT)
		return parse_fail(ps, "", l2,
				  ", expected: identifier after ','");
	return 0;
}

static int parse_all(struct parser *ps, ks_selector *s)
{
	for (;;) {
		const char *lit;
		enum tok t = peek(ps, true, &lit);
		if (t == T_EOS)
			return 0;
		if (t != T_IDENT && t != T_NOT)
			return parse_fail(ps, "", lit,
					  ", expected: !, identifier, or 'end "
					  "of string'");
		struct req r = {0};
		int rc = parse_requirement(ps, &r);
		if (rc < 0) {
			req_release(&r);
			return rc;
		}
		selector_add(s, &r);
		bool done = false;
		rc = parse_separator(ps, &done);
		if (rc < 0 || done)
			return rc;
	}
}

int ks_selector_parse(ks_selector **out, const char *text, ks_error *err)
{
	struct parser ps = {.err = err};
	ks_selector *s = ks_xcalloc(1, sizeof(*s));
	lex_all(&ps, text ? text : "");
	int rc = parse_all(&ps, s);
	for (size_t i = 0; i < ps.n; i++)
		free(ps.toks[i].lit);
	free(ps.toks);
	if (rc < 0) {
		ks_selector_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int expression_op(const char *op, enum op *out, ks_error *err)
{
	static const struct {
		const char *name;
		enum op op;
	} ops[] = {{"In", OP_IN},
		   {"NotIn", OP_NOTIN},
		   {"Exists", OP_EXISTS},
		   {"DoesNotExist", OP_NOTEXISTS}};
	for (size_t i = 0; op && i < sizeof(ops) / sizeof(*ops); i++) {
		if (!strcmp(op, ops[i].name)) {
			*out = ops[i].op;
			return 0;
		}
	}
	return ks_error_set(err, KS_EINVAL,
			    "\"%s\" is not a valid label selector operator",
			    op ? op : "");
}

static int add_expression(ks_selector *s, const json_t *e, ks_error *err)
{
	struct req r = {0};
	const char *key = json_string_value(json_object_get(e, "key"));
	int rc = expression_op(
		json_string_value(json_object_get(e, "operator")), &r.op, err);
	if (rc < 0)
		return rc;
	r.key = ks_xstrdup(key ? key : "");
	const json_t *vals = json_object_get(e, "values");
	for (size_t i = 0; i < json_array_size(vals); i++) {
		const char *v = json_string_value(json_array_get(vals, i));
		req_add_value(&r, v ? v : "");
	}
	if ((r.op == OP_EXISTS || r.op == OP_NOTEXISTS) && r.nvals)
		rc = ks_error_set(err, KS_EINVAL,
				  "values: Invalid value: \"%s\": values set "
				  "must be empty for exists and does not exist",
				  r.vals[0]);
	else if ((r.op == OP_IN || r.op == OP_NOTIN) && !r.nvals)
		rc = ks_error_set(err, KS_EINVAL,
				  "values: Invalid value: []: for 'in', "
				  "'notin' operators, values set can't be "
				  "empty");
	else
		rc = req_validate(&r, err);
	if (rc < 0) {
		req_release(&r);
		return rc;
	}
	selector_add(s, &r);
	return 0;
}

int ks_selector_from_label_selector(ks_selector **out, const json_t *sel,
				    ks_error *err)
{
	ks_selector *s = ks_xcalloc(1, sizeof(*s));
	const json_t *ml = json_object_get(sel, "matchLabels");
	const char *k;
	json_t *v;
	int rc = 0;
	json_object_foreach((json_t *)ml, k, v)
	{
		struct req r = {.key = ks_xstrdup(k), .op = OP_EQ};
		req_add_value(&r,
			      json_string_value(v) ? json_string_value(v) : "");
		rc = req_validate(&r, err);
		if (rc < 0) {
			req_release(&r);
			goto out;
		}
		selector_add(s, &r);
	}
	const json_t *me = json_object_get(sel, "matchExpressions");
	for (size_t i = 0; i < json_array_size(me) && rc == 0; i++)
		rc = add_expression(s, json_array_get(me, i), err);
out:
	if (rc < 0) {
		ks_selector_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static bool has_value(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvals; i++)
		if (!strcmp(r->vals[i], v))
			return true;
	return false;
}

static bool req_matches(const struct req *r, const json_t *labels)
{
	const json_t *lv = json_object_get(labels, r->key);
	const char *v = json_string_value(lv);
	long long a, b;
	switch (r->op) {
	case OP_EQ:
	case OP_DEQ:
	case OP_IN:
		return v && has_value(r, v);
	case OP_NEQ:
	case OP_NOTIN:
		return !v || !has_value(r, v);
	case OP_EXISTS:
		return lv != NULL;
	case OP_NOTEXISTS:
		return lv == NULL;
	case OP_GT:
	case OP_LT:
		if (!v || r->nvals != 1 || !parse_int64(v, &a) ||
		    !parse_int64(r->vals[0], &b))
			return false;
		return r->op == OP_GT ? a > b : a < b;
	}
	return false;
}

bool ks_selector_matches(const ks_selector *sel, const json_t *labels)
{
	for (size_t i = 0; i < sel->n; i++)
		if (!req_matches(&sel->reqs[i], labels))
			return false;
	return true;
}

bool ks_selector_empty(const ks_selector *sel)
{
	return sel->n == 0;
}

static void req_string(ks_buf *b, const struct req *r)
{
	static const char *const ops[] = {
		[OP_EQ] = "=",	  [OP_DEQ] = "==",	  [OP_NEQ] = "!=",
		[OP_IN] = " in ", [OP_NOTIN] = " notin ", [OP_GT] = ">",
		[OP_LT] = "<",
	};
	if (r->op == OP_NOTEXISTS)
		ks_buf_puts(b, "!");
	ks_buf_puts(b, r->key);
	if (r->op == OP_EXISTS || r->op == OP_NOTEXISTS)
		return;
	ks_buf_puts(b, ops[r->op]);
	bool paren = r->op == OP_IN || r->op == OP_NOTIN;
	if (paren)
		ks_buf_puts(b, "(");
	for (size_t i = 0; i < r->nvals; i++)
		ks_buf_printf(b, "%s%s", i ? "," : "", r->vals[i]);
	if (paren)
		ks_buf_puts(b, ")");
}

char *ks_selector_string(const ks_selector *sel)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "");
	for (size_t i = 0; i < sel->n; i++) {
		if (i)
			ks_buf_puts(&b, ",");
		req_string(&b, &sel->reqs[i]);
	}
	return ks_buf_detach(&b, NULL);
}

void ks_selector_free(ks_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		req_release(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

/* ---- field selectors ---- */

struct field_req {
	bool name; /* metadata.name, else metadata.namespace */
	bool negate;
	char *value;
};

struct ks_field_selector {
	struct field_req *reqs;
	size_t n;
};

/* Unescapes \\, \, and \= in (s, n); -1 on another escape or a bare '='
 * or ','. */
static int unescape_value(const char *s, size_t n, char **out, ks_error *err)
{
	char *v = ks_xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= n || !strchr("\\,=", s[i + 1])) {
				free(v);
				return ks_error_set(err, KS_EINVAL,
						    "invalid field selector: "
						    "invalid escape sequence: "
						    "%.*s",
						    (int)(i + 1 < n ? 2 : 1),
						    s + i);
			}
			v[o++] = s[++i];
			continue;
		}
		if (s[i] == '=' || s[i] == ',') {
			free(v);
			return ks_error_set(err, KS_EINVAL,
					    "invalid field selector: unescaped "
					    "character in value: %c",
					    s[i]);
		}
		v[o++] = s[i];
	}
	v[o] = 0;
	*out = v;
	return 0;
}

/* One `field<op>value` term of (s, n). */
static int parse_field_term(ks_field_selector *fs, const char *all,
			    const char *s, size_t n, ks_error *err)
{
	size_t i = 0, oplen = 0;
	bool negate = false;
	for (; i < n; i++) {
		if (i + 1 < n && (s[i] == '!' || s[i] == '=') &&
		    s[i + 1] == '=') {
			negate = s[i] == '!';
			oplen = 2;
			break;
		}
		if (s[i] == '=') {
			oplen = 1;
			break;
		}
	}
	if (!oplen)
		return ks_error_set(err, KS_EINVAL,
				    "invalid selector: '%s'; can't understand "
				    "'%.*s'",
				    all, (int)n, s);
	char *value = NULL;
	int rc = unescape_value(s + i + oplen, n - i - oplen, &value, err);
	if (rc < 0)
		return rc;
	bool is_name = i == 13 && !memcmp(s, "metadata.name", 13);
	bool is_ns = i == 18 && !memcmp(s, "metadata.namespace", 18);
	if (!is_name && !is_ns) {
		free(value);
		return ks_error_set(err, KS_EINVAL,
				    "\"%.*s\" is not a known field selector: "
				    "only \"metadata.name\", "
				    "\"metadata.namespace\"",
				    (int)i, s);
	}
	fs->reqs = ks_xrealloc(fs->reqs, (fs->n + 1) * sizeof(*fs->reqs));
	fs->reqs[fs->n++] = (struct field_req){is_name, negate, value};
	return 0;
}

int ks_field_selector_parse(ks_field_selector **out, const char *text,
			    ks_error *err)
{
	ks_field_selector *fs = ks_xcalloc(1, sizeof(*fs));
	const char *s = text ? text : "";
	int rc = 0;
	while (*s && rc == 0) {
		size_t n = 0;
		while (s[n] && s[n] != ',') {
			if (s[n] == '\\' && s[n + 1])
				n++;
			n++;
		}
		if (n)
			rc = parse_field_term(fs, text, s, n, err);
		s += n;
		if (*s == ',')
			s++;
	}
	if (rc < 0) {
		ks_field_selector_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

bool ks_field_selector_matches(const ks_field_selector *sel, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	for (size_t i = 0; i < sel->n; i++) {
		const struct field_req *r = &sel->reqs[i];
		const char *v = json_string_value(
			json_object_get(md, r->name ? "name" : "namespace"));
		bool eq = !strcmp(v ? v : "", r->value);
		if (eq == r->negate)
			return false;
	}
	return true;
}

void ks_field_selector_free(ks_field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		free(sel->reqs[i].value);
	free(sel->reqs);
	free(sel);
}
