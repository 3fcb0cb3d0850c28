/*
 * The CEL parser and its light checker, in one pass.
 *
 * Recursive descent over the grammar of langdef.md § Syntax, by precedence.
 * While parsing, names are resolved (iteration variables, then declared
 * variables, then type names such as int or google.protobuf.Duration),
 * macros become comprehension nodes, calls are bound to built-in functions
 * with their arity checked, and literal regular expressions are compiled.
 * A failure anywhere jumps back to ks_cel_compile with a message and the
 * position; every allocation is in the program's arena, so nothing leaks.
 *
 * && and || chains become one n-ary node each: the operators are
 * commutative in CEL, so `a && b && c && ...` needs no depth at all.
 */
#include "policies/cel_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/banned.h"

typedef struct scope_var {
	const char *name;
	size_t len;
	int slot;
} scope_var;

typedef struct parser {
	cel_lexer lx;
	cel_token tok;
	ks_cel_program *prog;
	const char *const *names;
	size_t nvars;
	scope_var scope[KS_CEL_MAX_DEPTH];
	int nscope;
	int depth;
	jmp_buf fail;
	ks_buf name; /* a qualified name being read; released on failure */
	ks_cel_pos *pos;
	ks_error *err;
	int code;
} parser;

static void fail_at(parser *p, unsigned line, unsigned col, int code,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void fail_at(parser *p, unsigned line, unsigned col, int code,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->pos) {
		p->pos->line = line;
		p->pos->col = col;
	}
	ks_error_set(p->err, code, "%s", msg);
	p->code = code;
	longjmp(p->fail, 1);
}

static const char *tok_text(const cel_token *t, char *buf, size_t n)
{
	if (t->type == T_EOF)
		return "end of input";
	size_t l = t->len ? t->len : 1;
	if (l > 20)
		l = 20;
	snprintf(buf, n, "'%.*s'", (int)l, t->start);
	return buf;
}

static void next(parser *p)
{
	cel_lex_next(&p->lx, &p->tok);
	if (p->tok.type == T_ERROR)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL, "%s",
			p->tok.err);
}

static void syntax_error(parser *p, const char *want)
{
	char b[40];
	if (p->tok.type == T_RESERVED)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
			"reserved identifier %s", tok_text(&p->tok, b, 40));
	fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
		"syntax error: unexpected %s, expected %s",
		tok_text(&p->tok, b, sizeof(b)), want);
}

static void expect(parser *p, int type, const char *what)
{
	if (p->tok.type != type)
		syntax_error(p, what);
	next(p);
}

static cel_node *mknode(parser *p, int op, unsigned line, unsigned col,
			unsigned nargs)
{
	cel_node *n = ks_arena_alloc(p->prog->arena, sizeof(*n));
	n->op = (uint8_t)op;
	n->line = line;
	n->col = col;
	n->nargs = nargs;
	n->depth = 1;
	if (nargs)
		n->args = ks_arena_alloc(p->prog->arena,
					 nargs * sizeof(cel_node *));
	return n;
}

/* Sets the height of N from its children and refuses trees too deep to
 * evaluate without risking the stack. */
static cel_node *seal(parser *p, cel_node *n)
{
	unsigned d = 0;
	for (unsigned i = 0; i < n->nargs; i++)
		if (n->args[i]->depth > d)
			d = n->args[i]->depth;
	if (d + 1 > KS_CEL_MAX_DEPTH)
		fail_at(p, n->line, n->col, KS_ELIMIT,
			"expression nests too deeply (more than %d levels)",
			KS_CEL_MAX_DEPTH);
	n->depth = (uint16_t)(d + 1);
	return n;
}

static void enter(parser *p)
{
	if (++p->depth > KS_CEL_MAX_DEPTH)
		fail_at(p, p->tok.line, p->tok.col, KS_ELIMIT,
			"expression nests too deeply (more than %d levels)",
			KS_CEL_MAX_DEPTH);
}

static cel_node *parse_expr(parser *p);

/* A growable array of nodes, in the arena (so a failure frees it). */
typedef struct nodevec {
	cel_node **v;
	size_t n, alloc;
	ks_arena *arena;
} nodevec;

static void vec_push(nodevec *v, cel_node *n)
{
	if (v->n == v->alloc) {
		size_t na = v->alloc ? v->alloc * 2 : 8;
		cel_node **nv = ks_arena_alloc(v->arena, na * sizeof(*nv));
		if (v->n)
			memcpy(nv, v->v, v->n * sizeof(*nv));
		v->v = nv;
		v->alloc = na;
	}
	v->v[v->n++] = n;
}

/* Moves the vector into a new node's arguments. */
static cel_node *vec_node(parser *p, nodevec *v, int op, unsigned line,
			  unsigned col)
{
	cel_node *n = mknode(p, op, line, col, 0);
	n->nargs = (unsigned)v->n;
	n->args = v->v;
	return seal(p, n);
}

/* Parses a comma-separated list up to CLOSE (a trailing comma allowed). */
static void parse_list(parser *p, int close, nodevec *out, int pairs)
{
	while (p->tok.type != close) {
		vec_push(out, parse_expr(p));
		if (pairs) {
			expect(p, T_COLON, "':'");
			vec_push(out, parse_expr(p));
		}
		if (p->tok.type != T_COMMA)
			break;
		next(p);
	}
	if (p->tok.type != close)
		syntax_error(p, close == T_RPAREN     ? "',' or ')'"
				: close == T_RBRACKET ? "',' or ']'"
						      : "',' or '}'");
	next(p);
}

/* Function table: call style and arities (bit k set: k arguments, not
 * counting the receiver). */
static const struct fn_def {
	const char *name;
	int fn;
	unsigned global, method;
} fns[] = {
	{"size", F_SIZE, 1u << 1, 1u << 0},
	{"contains", F_CONTAINS, 0, 1u << 1},
	{"startsWith", F_STARTS_WITH, 0, 1u << 1},
	{"endsWith", F_ENDS_WITH, 0, 1u << 1},
	{"matches", F_MATCHES, 1u << 2, 1u << 1},
	{"int", F_INT, 1u << 1, 0},
	{"uint", F_UINT, 1u << 1, 0},
	{"double", F_DOUBLE, 1u << 1, 0},
	{"string", F_STRING, 1u << 1, 0},
	{"bytes", F_BYTES, 1u << 1, 0},
	{"bool", F_BOOL, 1u << 1, 0},
	{"type", F_TYPE, 1u << 1, 0},
	{"dyn", F_DYN, 1u << 1, 0},
	{"duration", F_DURATION, 1u << 1, 0},
	{"timestamp", F_TIMESTAMP, 1u << 1, 0},
	{"getFullYear", F_GET_FULL_YEAR, 0, 3u},
	{"getMonth", F_GET_MONTH, 0, 3u},
	{"getDayOfYear", F_GET_DAY_OF_YEAR, 0, 3u},
	{"getDayOfMonth", F_GET_DAY_OF_MONTH, 0, 3u},
	{"getDate", F_GET_DATE, 0, 3u},
	{"getDayOfWeek", F_GET_DAY_OF_WEEK, 0, 3u},
	{"getHours", F_GET_HOURS, 0, 3u},
	{"getMinutes", F_GET_MINUTES, 0, 3u},
	{"getSeconds", F_GET_SECONDS, 0, 3u},
	{"getMilliseconds", F_GET_MILLISECONDS, 0, 3u},
	{"lowerAscii", F_LOWER_ASCII, 0, 1u << 0},
	{"upperAscii", F_UPPER_ASCII, 0, 1u << 0},
	{"trim", F_TRIM, 0, 1u << 0},
	{"split", F_SPLIT, 0, 1u << 1},
	{"join", F_JOIN, 0, 3u},
	{"indexOf", F_INDEX_OF, 0, 1u << 1},
	{"replace", F_REPLACE, 0, 1u << 2},
	{"quantity", F_QUANTITY, 1u << 1, 0},
	{"isQuantity", F_IS_QUANTITY, 1u << 1, 0},
	{"asApproximateFloat", F_AS_APPROX, 0, 1u << 0},
	{"isLessThan", F_IS_LESS_THAN, 0, 1u << 1},
	{"isGreaterThan", F_IS_GREATER_THAN, 0, 1u << 1},
	{"compareTo", F_COMPARE_TO, 0, 1u << 1},
};

static const struct fn_def *find_fn(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (strlen(fns[i].name) == len &&
		    !memcmp(fns[i].name, name, len))
			return &fns[i];
	return NULL;
}

static void compile_literal_regex(parser *p, cel_node *call)
{
	cel_node *pat = call->args[call->nargs - 1];
	if (pat->op != N_LIT || pat->lit.kind != KS_CEL_STRING)
		return;
	char msg[256];
	pcre2_code *re =
		cel_regex_compile(pat->lit.v.s, pat->lit.aux, msg, sizeof(msg));
	if (!re)
		fail_at(p, pat->line, pat->col, KS_EINVAL, "%s", msg);
	ks_cel_program *pr = p->prog;
	pr->regexes = ks_xrealloc(pr->regexes,
				  (pr->nregexes + 1) * sizeof(*pr->regexes));
	pr->regexes[pr->nregexes++] = re;
	call->re = re;
}

static cel_node *make_call(parser *p, const char *name, size_t len,
			   unsigned line, unsigned col, nodevec *args,
			   int receiver)
{
	const struct fn_def *f = find_fn(name, len);
	if (!f)
		fail_at(p, line, col, KS_EINVAL,
			"undeclared reference to '%.*s'", (int)len, name);
	unsigned nargs = (unsigned)args->n - (receiver ? 1 : 0);
	unsigned mask = receiver ? f->method : f->global;
	if (nargs >= 32 || !(mask & (1u << nargs))) {
		if (!mask)
			fail_at(p, line, col, KS_EINVAL,
				"'%s' cannot be called as a %s", f->name,
				receiver ? "method" : "global function");
		fail_at(p, line, col, KS_EINVAL,
			"no matching overload for '%s' with %u argument%s",
			f->name, nargs, nargs == 1 ? "" : "s");
	}
	cel_node *n = vec_node(p, args, N_CALL, line, col);
	n->fn = (uint16_t)f->fn;
	n->receiver = (uint16_t)receiver;
	n->name = f->name;
	if (f->fn == F_MATCHES)
		compile_literal_regex(p, n);
	return n;
}

static int is_name(const cel_token *t, const char *s)
{
	return t->type == T_IDENT && strlen(s) == t->len &&
	       !memcmp(t->start, s, t->len);
}

static int macro_kind(const char *name, size_t len)
{
	static const struct {
		const char *s;
		int m;
	} ms[] = {{"all", M_ALL},
		  {"exists", M_EXISTS},
		  {"exists_one", M_EXISTS_ONE},
		  {"map", M_MAP},
		  {"filter", M_FILTER}};
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (strlen(ms[i].s) == len && !memcmp(ms[i].s, name, len))
			return ms[i].m;
	return -1;
}

/* target.macro(x, ...) with the '(' consumed. */
static cel_node *parse_macro(parser *p, cel_node *target, int m,
			     const cel_token *nametok)
{
	char b[40];
	if (p->tok.type != T_IDENT)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
			"%.*s() needs a simple variable name as its first "
			"argument, got %s",
			(int)nametok->len, nametok->start,
			tok_text(&p->tok, b, sizeof(b)));
	cel_token var = p->tok;
	next(p);
	expect(p, T_COMMA, "','");
	if (p->nscope >= KS_CEL_MAX_DEPTH)
		fail_at(p, var.line, var.col, KS_ELIMIT,
			"too many nested macros");
	int slot = p->prog->nslots++;
	p->scope[p->nscope++] = (scope_var){var.start, var.len, slot};
	cel_node *a1 = parse_expr(p);
	cel_node *a2 = NULL;
	if (p->tok.type == T_COMMA && m == M_MAP) {
		next(p);
		a2 = parse_expr(p);
		m = M_MAP_FILTER;
	}
	p->nscope--;
	if (p->tok.type != T_RPAREN)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
			"%.*s() takes %s arguments", (int)nametok->len,
			nametok->start,
			m == M_MAP || m == M_MAP_FILTER ? "2 or 3" : "2");
	next(p);
	cel_node *n =
		mknode(p, N_COMPRE, nametok->line, nametok->col, a2 ? 3 : 2);
	n->sub = (uint8_t)m;
	n->slot = slot;
	n->args[0] = target;
	n->args[1] = a1;
	if (a2)
		n->args[2] = a2;
	return seal(p, n);
}

static int lookup_var(parser *p, const char *s, size_t len, int root_only)
{
	if (!root_only)
		for (int i = p->nscope - 1; i >= 0; i--)
			if (p->scope[i].len == len &&
			    !memcmp(p->scope[i].name, s, len))
				return p->scope[i].slot;
	for (size_t i = 0; i < p->nvars; i++)
		if (strlen(p->names[i]) == len && !memcmp(p->names[i], s, len))
			return (int)i;
	return -1;
}

static int type_name_kind(const char *s, size_t len)
{
	for (int k = KS_CEL_NULL; k < KS_CEL_ERROR; k++) {
		const char *n = ks_cel_kind_name((ks_cel_kind)k);
		if (strlen(n) == len && !memcmp(n, s, len))
			return k;
	}
	return -1;
}

static cel_node *parse_member_suffix(parser *p, cel_node *n);

/*
 * An identifier that is not a variable: the start of a qualified name,
 * which must name a type (int, google.protobuf.Duration). Consumes the
 * dotted parts and returns a type literal.
 */
static cel_node *parse_qualified(parser *p, const cel_token *first)
{
	ks_buf *name = &p->name;
	name->len = 0;
	ks_buf_append(name, first->start, first->len);
	while (p->tok.type == T_DOT) {
		/* Only as long as the prefix is not already a type. */
		if (type_name_kind(name->data, name->len) >= 0)
			break;
		cel_lexer save = p->lx;
		cel_token dot = p->tok;
		next(p);
		if (p->tok.type != T_IDENT) {
			p->lx = save;
			p->tok = dot;
			break;
		}
		ks_buf_puts(name, ".");
		ks_buf_append(name, p->tok.start, p->tok.len);
		next(p);
	}
	int k = type_name_kind(name->data, name->len);
	if (k < 0)
		fail_at(p, first->line, first->col, KS_EINVAL,
			"undeclared reference to '%.*s'",
			(int)(name->len > 200 ? 200 : name->len), name->data);
	if (p->tok.type == T_LBRACE)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
			"message construction is not supported");
	cel_node *n = mknode(p, N_LIT, first->line, first->col, 0);
	n->lit = cel_type(k);
	return n;
}

static cel_node *parse_ident_primary(parser *p, int root_only)
{
	cel_token id = p->tok;
	next(p);
	if (p->tok.type == T_LPAREN) {
		if (root_only)
			fail_at(p, id.line, id.col, KS_EINVAL,
				"undeclared reference to '.%.*s'", (int)id.len,
				id.start);
		if (!is_name(&id, "has") && !find_fn(id.start, id.len))
			fail_at(p, id.line, id.col, KS_EINVAL,
				"undeclared reference to '%.*s'", (int)id.len,
				id.start);
		next(p);
		nodevec args = {.arena = p->prog->arena};
		parse_list(p, T_RPAREN, &args, 0);
		if (is_name(&id, "has")) {
			if (args.n != 1 || args.v[0]->op != N_SELECT) {
				fail_at(p, id.line, id.col, KS_EINVAL,
					"invalid argument to has() macro: "
					"want a field selection a.f");
			}
			cel_node *sel = args.v[0];
			sel->op = N_HAS;
			return sel;
		}
		return make_call(p, id.start, id.len, id.line, id.col, &args,
				 0);
	}
	int slot = lookup_var(p, id.start, id.len, root_only);
	if (slot < 0)
		return parse_qualified(p, &id);
	if (p->tok.type == T_LBRACE)
		fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
			"message construction is not supported");
	cel_node *n = mknode(p, N_VAR, id.line, id.col, 0);
	n->slot = slot;
	n->name = ks_arena_strndup(p->prog->arena, id.start, id.len);
	return n;
}

static cel_node *parse_literal(parser *p, int negate)
{
	cel_token t = p->tok;
	cel_node *n = mknode(p, N_LIT, t.line, t.col, 0);
	switch (t.type) {
	case T_INT:
		if (negate && t.u == (uint64_t)INT64_MAX + 1) {
			n->lit = cel_int(INT64_MIN);
		} else if (t.u > (uint64_t)INT64_MAX) {
			fail_at(p, t.line, t.col, KS_EINVAL,
				"integer literal out of range");
		} else {
			n->lit = cel_int(negate ? -(int64_t)t.u : (int64_t)t.u);
		}
		break;
	case T_UINT:
		n->lit = cel_uint(t.u);
		break;
	case T_DOUBLE:
		n->lit = cel_double(negate ? -t.d : t.d);
		break;
	case T_STRING:
	case T_BYTES:
		n->lit = cel_str(t.type == T_STRING ? KS_CEL_STRING
						    : KS_CEL_BYTES,
				 t.str, t.slen);
		break;
	case T_TRUE:
	case T_FALSE:
		n->lit = cel_bool(t.type == T_TRUE);
		break;
	default:
		n->lit.kind = KS_CEL_NULL;
		break;
	}
	next(p);
	return n;
}

static cel_node *parse_primary(parser *p)
{
	cel_token t = p->tok;
	switch (t.type) {
	case T_INT:
	case T_UINT:
	case T_DOUBLE:
	case T_STRING:
	case T_BYTES:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
		return parse_literal(p, 0);
	case T_IDENT:
		return parse_ident_primary(p, 0);
	case T_DOT:
		next(p);
		if (p->tok.type != T_IDENT)
			syntax_error(p, "an identifier");
		return parse_ident_primary(p, 1);
	case T_LPAREN: {
		next(p);
		cel_node *n = parse_expr(p);
		expect(p, T_RPAREN, "')'");
		return n;
	}
	case T_LBRACKET: {
		next(p);
		nodevec v = {.arena = p->prog->arena};
		parse_list(p, T_RBRACKET, &v, 0);
		return vec_node(p, &v, N_LIST, t.line, t.col);
	}
	case T_LBRACE: {
		next(p);
		nodevec v = {.arena = p->prog->arena};
		parse_list(p, T_RBRACE, &v, 1);
		return vec_node(p, &v, N_MAP, t.line, t.col);
	}
	default:
		syntax_error(p, "an expression");
		return NULL;
	}
}

/* Records the field path of S (a selection of FROM) when FROM is a
 * variable or a selection with a path itself. */
static void set_path(parser *p, cel_node *s, const cel_node *from)
{
	unsigned n;
	if (from->op == N_VAR)
		n = 0;
	else if (from->op == N_SELECT && from->path)
		n = from->npath;
	else
		return;
	ks_cel_value *path =
		ks_arena_alloc(p->prog->arena, (n + 1) * sizeof(*path));
	if (n)
		memcpy(path, from->path, n * sizeof(*path));
	path[n] = s->lit;
	s->path = path;
	s->npath = n + 1;
	s->slot = from->slot;
}

static cel_node *parse_member_suffix(parser *p, cel_node *n)
{
	for (;;) {
		if (p->tok.type == T_DOT) {
			next(p);
			/* Reserved words are fine as field names: objects
			 * have metadata.namespace (cel-go agrees). */
			if (p->tok.type != T_IDENT && p->tok.type != T_RESERVED)
				syntax_error(p, "a field or method name");
			cel_token id = p->tok;
			next(p);
			if (p->tok.type == T_LPAREN) {
				next(p);
				int m = macro_kind(id.start, id.len);
				if (m >= 0) {
					n = parse_macro(p, n, m, &id);
					continue;
				}
				nodevec args = {.arena = p->prog->arena};
				vec_push(&args, n);
				parse_list(p, T_RPAREN, &args, 0);
				n = make_call(p, id.start, id.len, id.line,
					      id.col, &args, 1);
				continue;
			}
			if (p->tok.type == T_LBRACE)
				fail_at(p, p->tok.line, p->tok.col, KS_EINVAL,
					"message construction is not "
					"supported");
			cel_node *s = mknode(p, N_SELECT, id.line, id.col, 1);
			s->args[0] = n;
			s->lit = cel_str(KS_CEL_STRING,
					 ks_arena_strndup(p->prog->arena,
							  id.start, id.len),
					 id.len);
			set_path(p, s, n);
			n = seal(p, s);
		} else if (p->tok.type == T_LBRACKET) {
			cel_token lb = p->tok;
			next(p);
			cel_node *idx = parse_expr(p);
			expect(p, T_RBRACKET, "']'");
			cel_node *s = mknode(p, N_INDEX, lb.line, lb.col, 2);
			s->args[0] = n;
			s->args[1] = idx;
			n = seal(p, s);
		} else {
			return n;
		}
	}
}

static cel_node *wrap_unary(parser *p, int op, const ks_cel_pos *t, cel_node *n)
{
	cel_node *u = mknode(p, op, t->line, t->col, 1);
	u->args[0] = n;
	return seal(p, u);
}

static cel_node *parse_unary(parser *p)
{
	int type = p->tok.type;
	if (type != T_NOT && type != T_MINUS)
		return parse_member_suffix(p, parse_primary(p));
	/* "!" {"!"} Member | "-" {"-"} Member: no mixing. */
	ks_cel_pos small[8], *ops = small;
	int nops = 0, cap = 8;
	while (p->tok.type == type) {
		if (nops >= KS_CEL_MAX_DEPTH)
			fail_at(p, p->tok.line, p->tok.col, KS_ELIMIT,
				"expression nests too deeply (more than %d "
				"levels)",
				KS_CEL_MAX_DEPTH);
		if (nops == cap) {
			ks_cel_pos *n = ks_arena_alloc(p->prog->arena,
						       2 * cap * sizeof(*n));
			memcpy(n, ops, cap * sizeof(*n));
			ops = n;
			cap *= 2;
		}
		ops[nops++] = (ks_cel_pos){p->tok.line, p->tok.col};
		next(p);
	}
	cel_node *n;
	if (type == T_MINUS &&
	    (p->tok.type == T_INT || p->tok.type == T_DOUBLE)) {
		/* The last minus is the literal's sign, so that
		 * -9223372036854775808 is an int. */
		cel_node *lit = parse_literal(p, 1);
		lit->line = ops[nops - 1].line;
		lit->col = ops[nops - 1].col;
		nops--;
		n = parse_member_suffix(p, lit);
	} else {
		n = parse_member_suffix(p, parse_primary(p));
	}
	while (nops > 0) {
		nops--;
		n = wrap_unary(p, type == T_NOT ? N_NOT : N_NEG, &ops[nops], n);
	}
	return n;
}

static int binop_of(int tok, int level)
{
	static const struct {
		int tok, op, level;
	} t[] = {
		{T_STAR, B_MUL, 0}, {T_SLASH, B_DIV, 0}, {T_PERCENT, B_MOD, 0},
		{T_PLUS, B_ADD, 1}, {T_MINUS, B_SUB, 1}, {T_EQ, B_EQ, 2},
		{T_NE, B_NE, 2},    {T_LT, B_LT, 2},	 {T_LE, B_LE, 2},
		{T_GT, B_GT, 2},    {T_GE, B_GE, 2},	 {T_IN, B_IN, 2},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].tok == tok && t[i].level == level)
			return t[i].op;
	return -1;
}

/* Levels 0 (multiplicative), 1 (additive), 2 (relations): left
 * associative. */
static cel_node *parse_binary(parser *p, int level)
{
	cel_node *l = level == 0 ? parse_unary(p) : parse_binary(p, level - 1);
	int op;
	while ((op = binop_of(p->tok.type, level)) >= 0) {
		cel_token t = p->tok;
		next(p);
		cel_node *r = level == 0 ? parse_unary(p)
					 : parse_binary(p, level - 1);
		cel_node *n = mknode(p, N_BINOP, t.line, t.col, 2);
		n->sub = (uint8_t)op;
		n->args[0] = l;
		n->args[1] = r;
		l = seal(p, n);
	}
	return l;
}

static cel_node *parse_logical(parser *p, int tok)
{
	cel_node *first =
		tok == T_OR ? parse_logical(p, T_AND) : parse_binary(p, 2);
	if (p->tok.type != tok)
		return first;
	cel_token t = p->tok;
	nodevec v = {.arena = p->prog->arena};
	vec_push(&v, first);
	while (p->tok.type == tok) {
		next(p);
		vec_push(&v, tok == T_OR ? parse_logical(p, T_AND)
					 : parse_binary(p, 2));
	}
	return vec_node(p, &v, tok == T_OR ? N_OR : N_AND, t.line, t.col);
}

static cel_node *parse_expr(parser *p)
{
	enter(p);
	cel_node *c = parse_logical(p, T_OR);
	if (p->tok.type == T_QUESTION) {
		cel_token q = p->tok;
		next(p);
		cel_node *a = parse_logical(p, T_OR);
		expect(p, T_COLON, "':'");
		cel_node *b = parse_expr(p);
		cel_node *n = mknode(p, N_COND, q.line, q.col, 3);
		n->args[0] = c;
		n->args[1] = a;
		n->args[2] = b;
		c = seal(p, n);
	}
	p->depth--;
	return c;
}

void ks_cel_program_free(ks_cel_program *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nregexes; i++)
		pcre2_code_free(p->regexes[i]);
	free(p->regexes);
	ks_arena_free(p->arena);
	free(p);
}

int ks_cel_compile(ks_cel_program **out, const char *expr, size_t len,
		   const char *const *names, size_t nvars, ks_cel_pos *pos,
		   ks_error *err)
{
	if (pos)
		pos->line = pos->col = 0;
	if (len > KS_CEL_MAX_EXPR) {
		if (pos)
			pos->line = pos->col = 1;
		return ks_error_set(err, KS_ELIMIT,
				    "expression is longer than %d bytes",
				    KS_CEL_MAX_EXPR);
	}
	if (nvars > KS_CEL_MAX_VARS)
		return ks_error_set(err, KS_ELIMIT, "too many variables");
	ks_cel_program *prog = ks_xcalloc(1, sizeof(*prog));
	prog->arena = ks_arena_new();
	prog->nvars = nvars;
	prog->nslots = (int)nvars;
	/* The parser state is large (scope table); keep it off the stack. */
	parser *p = ks_xcalloc(1, sizeof(*p));
	p->prog = prog;
	p->names = names;
	p->nvars = nvars;
	p->pos = pos;
	p->err = err;
	cel_lex_init(&p->lx, expr, len, prog->arena);
	ks_buf_init(&p->name, 0);
	if (setjmp(p->fail)) {
		int code = p->code;
		ks_buf_release(&p->name);
		free(p);
		ks_cel_program_free(prog);
		return code;
	}
	next(p);
	prog->root = parse_expr(p);
	if (p->tok.type != T_EOF)
		syntax_error(p, "an operator or end of input");
	ks_buf_release(&p->name);
	free(p);
	*out = prog;
	return 0;
}
