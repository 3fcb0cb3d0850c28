/*
 * CEL internals shared by the lexer, parser, evaluator and functions.
 */
#ifndef KS_POLICIES_CEL_INTERNAL_H
#define KS_POLICIES_CEL_INTERNAL_H

#include "policies/cel.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct ks_cel_list {
	size_t n;
	ks_cel_value *items;
};

struct ks_cel_map {
	size_t n;
	ks_cel_value *keys;
	ks_cel_value *vals;
};

struct ks_cel_err {
	const char *msg;
	unsigned col;
};

/* Node operations. */
enum cel_op {
	N_LIT,	  /* lit */
	N_VAR,	  /* slot: a declared variable or an iteration variable */
	N_SELECT, /* args[0].name */
	N_INDEX,  /* args[0][args[1]] */
	N_CALL,	  /* fn(args...), receiver first for method calls */
	N_LIST,	  /* [args...] */
	N_MAP,	  /* {args[0]: args[1], ...} */
	N_AND,	  /* args[0] && ... (n-ary, commutative) */
	N_OR,	  /* args[0] || ... */
	N_NOT,	  /* !args[0] */
	N_NEG,	  /* -args[0] */
	N_COND,	  /* args[0] ? args[1] : args[2] */
	N_HAS,	  /* has(args[0].name) */
	N_BINOP,  /* sub: a cel_binop */
	N_COMPRE, /* sub: a cel_macro; args[0] range, args[1] p/t, [2] t */
};

enum cel_binop {
	B_ADD,
	B_SUB,
	B_MUL,
	B_DIV,
	B_MOD,
	B_EQ,
	B_NE,
	B_LT,
	B_LE,
	B_GT,
	B_GE,
	B_IN,
};

enum cel_macro {
	M_ALL,
	M_EXISTS,
	M_EXISTS_ONE,
	M_MAP,	      /* e.map(x, t) */
	M_MAP_FILTER, /* e.map(x, p, t) */
	M_FILTER,
};

/* Built-in functions (N_CALL's fn). */
enum cel_fn {
	F_SIZE,
	F_CONTAINS,
	F_STARTS_WITH,
	F_ENDS_WITH,
	F_MATCHES,
	F_INT,
	F_UINT,
	F_DOUBLE,
	F_STRING,
	F_BYTES,
	F_BOOL,
	F_TYPE,
	F_DYN,
	F_DURATION,
	F_TIMESTAMP,
	F_GET_FULL_YEAR,
	F_GET_MONTH,
	F_GET_DAY_OF_YEAR,
	F_GET_DAY_OF_MONTH,
	F_GET_DATE,
	F_GET_DAY_OF_WEEK,
	F_GET_HOURS,
	F_GET_MINUTES,
	F_GET_SECONDS,
	F_GET_MILLISECONDS,
	F_LOWER_ASCII,
	F_UPPER_ASCII,
	F_TRIM,
	F_SPLIT,
	F_JOIN,
	F_INDEX_OF,
	F_REPLACE,
	F_QUANTITY,
	F_IS_QUANTITY,
	F_AS_APPROX,
	F_IS_LESS_THAN,
	F_IS_GREATER_THAN,
	F_COMPARE_TO,
	F__COUNT,
};

typedef struct cel_node cel_node;
struct cel_node {
	uint8_t op;
	uint8_t sub;	   /* binop, macro */
	uint16_t fn;	   /* enum cel_fn */
	uint16_t depth;	   /* height of this subtree */
	uint16_t receiver; /* N_CALL: called as a method */
	unsigned line, col;
	unsigned nargs;
	int slot; /* N_VAR; N_COMPRE: the iteration variable */
	cel_node **args;
	ks_cel_value lit; /* N_LIT; N_SELECT/N_HAS: the field name */
	const char *name; /* N_VAR/N_CALL: the name as written */
	pcre2_code *re;	  /* N_CALL matches with a literal pattern */
	/* N_SELECT on a chain of selections from a variable (x.a.b): the
	 * field names from the variable on (slot is the variable), so
	 * evaluation walks the JSON directly. NULL otherwise. */
	const ks_cel_value *path;
	unsigned npath;
};

struct ks_cel_program {
	ks_arena *arena;
	cel_node *root;
	size_t nvars;
	int nslots; /* variables plus iteration variables */
	pcre2_code **regexes;
	size_t nregexes;
};

/* The evaluator's scratch memory: blocks reused across evaluations. */
typedef struct cel_block cel_block;

#define CEL_RE_CACHE 8

struct ks_cel_ctx {
	cel_block *blocks; /* first block is kept on reset */
	char *cur;
	size_t left;
	uint64_t cost, limit;
	ks_cel_value *slots;
	int nslots;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	struct {
		char *pat;
		size_t len;
		pcre2_code *re;
	} cache[CEL_RE_CACHE];
	unsigned cache_next;
};

/* Lexer. */
enum cel_tok {
	T_EOF,
	T_ERROR,
	T_IDENT,
	T_INT,
	T_UINT,
	T_DOUBLE,
	T_STRING,
	T_BYTES,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_IN,
	T_RESERVED,
	T_LPAREN,
	T_RPAREN,
	T_LBRACKET,
	T_RBRACKET,
	T_LBRACE,
	T_RBRACE,
	T_DOT,
	T_COMMA,
	T_COLON,
	T_QUESTION,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_PERCENT,
	T_NOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AND,
	T_OR,
};

typedef struct cel_token {
	int type;
	unsigned line, col;
	const char *start; /* in the source */
	size_t len;
	/* T_STRING/T_BYTES: decoded text in the program's arena;
	 * T_INT/T_UINT: magnitude; T_DOUBLE: value. */
	const char *str;
	size_t slen;
	uint64_t u;
	double d;
	const char *err; /* T_ERROR: message */
} cel_token;

typedef struct cel_lexer {
	const char *src, *p, *end;
	unsigned line, col;
	ks_arena *arena;
} cel_lexer;

void cel_lex_init(cel_lexer *lx, const char *src, size_t len, ks_arena *a);
void cel_lex_next(cel_lexer *lx, cel_token *t);

/* UTF-8: the number of code points of a valid string; decode one. */
size_t cel_utf8_count(const char *s, size_t n);
/* Returns the byte length of a valid UTF-8 sequence at s, 0 if invalid. */
size_t cel_utf8_valid_one(const unsigned char *s, size_t n, uint32_t *cp);
int cel_utf8_valid(const char *s, size_t n);

/* Evaluation helpers (cel_eval.c). */
void *cel_alloc(ks_cel_ctx *c, size_t n);
ks_cel_value cel_error(ks_cel_ctx *c, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
ks_cel_value cel_no_overload(ks_cel_ctx *c, const cel_node *n, const char *op,
			     const ks_cel_value *a, const ks_cel_value *b);
ks_cel_value cel_json_value(const json_t *j);
size_t cel_list_size(const ks_cel_value *l);
ks_cel_value cel_list_get(const ks_cel_value *l, size_t i);
size_t cel_map_size(const ks_cel_value *m);
/* Map lookup by key; *found says whether it was there. Returns an error
 * value for a key of a kind maps cannot hold. */
ks_cel_value cel_map_find(ks_cel_ctx *c, const ks_cel_value *m,
			  const ks_cel_value *key, int *found);
/* The i-th key of a map (iteration order). */
ks_cel_value cel_map_key(const ks_cel_value *m, size_t i, void **iter);
/* Equality: a bool value or an error. */
ks_cel_value cel_equals(ks_cel_ctx *c, const ks_cel_value *a,
			const ks_cel_value *b);
/* Ordering: -1, 0, 1, or 2 when the kinds have no ordering. */
int cel_compare(const ks_cel_value *a, const ks_cel_value *b);

static inline ks_cel_value cel_bool(int b)
{
	ks_cel_value v = {.kind = KS_CEL_BOOL};
	v.v.b = b != 0;
	return v;
}

static inline ks_cel_value cel_int(int64_t i)
{
	ks_cel_value v = {.kind = KS_CEL_INT};
	v.v.i = i;
	return v;
}

static inline ks_cel_value cel_uint(uint64_t u)
{
	ks_cel_value v = {.kind = KS_CEL_UINT};
	v.v.u = u;
	return v;
}

static inline ks_cel_value cel_double(double d)
{
	ks_cel_value v = {.kind = KS_CEL_DOUBLE};
	v.v.d = d;
	return v;
}

static inline ks_cel_value cel_str(int kind, const char *s, size_t n)
{
	ks_cel_value v = {.kind = (uint8_t)kind};
	v.v.s = s;
	v.aux = (uint32_t)n;
	return v;
}

static inline ks_cel_value cel_type(int kind)
{
	ks_cel_value v = {.kind = KS_CEL_TYPE};
	v.aux = (uint32_t)kind;
	return v;
}

/* Functions (cel_func.c). */
ks_cel_value cel_call(ks_cel_ctx *c, const cel_node *n, ks_cel_value *args);
/* Compiles a pattern for matches(); NULL with a message on failure. */
pcre2_code *cel_regex_compile(const char *pat, size_t len, char *msg,
			      size_t msglen);
/* Duration and timestamp text. */
int cel_parse_duration(const char *s, size_t n, int64_t *out);
int cel_parse_timestamp(const char *s, size_t n, int64_t *sec, uint32_t *nanos);
void cel_format_duration_go(ks_buf *b, int64_t ns);
void cel_format_duration_proto(ks_buf *b, int64_t ns);
void cel_format_timestamp(ks_buf *b, int64_t sec, uint32_t nanos);
void cel_format_double(ks_buf *b, double d);

#define CEL_MIN_TS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define CEL_MAX_TS (253402300799LL) /* 9999-12-31T23:59:59Z */

#endif
