#include "agent/config.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/doc.h"
#include "core/mem.h"
#include "core/values.h"
#include "core/yaml.h"
#include "core/banned.h"

/* An agent configuration is small; a bigger file is a mistake (or an
 * attack on the parser). */
#define CONFIG_MAX_FILE (1u << 20)
/* Secret files hold one token, password or webhook secret. */
#define SECRET_MAX_FILE (64u << 10)

const char *ks_role_name(ks_role r)
{
	switch (r) {
	case KS_ROLE_VIEWER:
		return "viewer";
	case KS_ROLE_APPROVER:
		return "approver";
	case KS_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

const char *ks_webhook_provider_name(ks_webhook_provider p)
{
	switch (p) {
	case KS_WEBHOOK_GITHUB:
		return "github";
	case KS_WEBHOOK_GITLAB:
		return "gitlab";
	case KS_WEBHOOK_GITEA:
		return "gitea";
	case KS_WEBHOOK_GENERIC:
		return "generic";
	default:
		return "none";
	}
}

/* The loader's state: the document, where messages go, and the folder
 * relative paths are resolved against. */
typedef struct cctx {
	const ks_doc *doc;
	const char *file;
	const char *dir; /* absolute, no trailing slash */
	ks_errlist *errs;
	unsigned nerr;
} cctx;

/* A place in the document: its value (NULL when absent), its dotted path
 * for messages, and its positions (an absent member carries its parent's
 * key position, where a missing field is reported). */
typedef struct node {
	const json_t *v;
	char path[160];
	ks_mark key, val;
	const char *raw;
} node;

/* An inline secret key and the *File key that should replace it. */
typedef struct secret_key {
	const char *key;
	const char *use;
} secret_key;

static void cerr(cctx *c, ks_mark m, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cerr(cctx *c, ks_mark m, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (!m.line)
		m.line = m.col = 1;
	if (path && *path)
		ks_errlist_add(c->errs, c->file, m.line, m.col, "%s: %s", path,
			       msg);
	else
		ks_errlist_add(c->errs, c->file, m.line, m.col, "%s", msg);
	c->nerr++;
}

static node child(cctx *c, const node *p, const char *key)
{
	node n = {.key = p->key, .val = p->key};
	/* a path longer than the buffer is cut: it only names the field */
	if (snprintf(n.path, sizeof(n.path), "%s%s%s", p->path,
		     *p->path ? "." : "", key) >= (int)sizeof(n.path))
		n.path[sizeof(n.path) - 1] = '\0';
	if (!p->v || !json_is_object(p->v))
		return n;
	n.v = json_object_get(p->v, key);
	const ks_node_info *in = ks_doc_key_info(c->doc, p->v, key);
	if (n.v && in) {
		n.key = in->key;
		n.val = in->value;
		n.raw = in->raw;
	}
	return n;
}

static node item(cctx *c, const node *p, size_t i)
{
	node n = {.key = p->val, .val = p->val};
	if (snprintf(n.path, sizeof(n.path), "%s[%zu]", p->path, i) < 0)
		n.path[0] = '\0';
	if (!p->v || !json_is_array(p->v))
		return n;
	n.v = json_array_get(p->v, i);
	const ks_node_info *in = ks_doc_index_info(c->doc, p->v, i);
	if (in) {
		n.key = in->value;
		n.val = in->value;
		n.raw = in->raw;
	}
	return n;
}

static bool is_set(const node *n)
{
	return n->v && !json_is_null(n->v);
}

/* A short description of a value for "got ...": strings quoted and cut
 * at 40 characters. Never used on a value that may be a secret. */
static const char *describe(const node *n, char *buf, size_t size)
{
	const json_t *v = n->v;
	if (!v || json_is_null(v))
		return "null";
	if (json_is_object(v))
		return "a mapping";
	if (json_is_array(v))
		return "a list";
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = strlen(s), cut = len > 40 ? 40 : len;
		while (cut < len && cut &&
		       ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--; /* do not cut a UTF-8 character */
		snprintf(buf, size, "\"%.*s%s\"", (int)cut, s,
			 cut < len ? "..." : "");
		return buf;
	}
	if (n->raw) {
		snprintf(buf, size, "%.40s", n->raw);
		return buf;
	}
	if (json_is_integer(v))
		snprintf(buf, size, "%" PRId64, (int64_t)json_integer_value(v));
	else
		snprintf(buf, size, "%g", json_real_value(v));
	return buf;
}

static void expected(cctx *c, const node *n, const char *what)
{
	char buf[64];
	cerr(c, n->val, n->path, "expected %s, got %s", what,
	     describe(n, buf, sizeof(buf)));
}

static bool want_map(cctx *c, const node *n)
{
	if (n->v && json_is_object(n->v))
		return true;
	expected(c, n, "a mapping");
	return false;
}

static bool want_list(cctx *c, const node *n)
{
	if (n->v && json_is_array(n->v))
		return true;
	expected(c, n, "a list");
	return false;
}

/* A string (a plain number or boolean is taken as written); NULL and
 * reported otherwise. The result is borrowed from the document. */
static const char *want_str(cctx *c, const node *n)
{
	if (n->v && json_is_string(n->v))
		return json_string_value(n->v);
	if (n->v && n->raw && (json_is_number(n->v) || json_is_boolean(n->v)))
		return n->raw;
	expected(c, n, "a string");
	return NULL;
}

/* A non-empty string without control characters. */
static const char *want_text(cctx *c, const node *n)
{
	const char *s = want_str(c, n);
	if (!s)
		return NULL;
	if (!*s) {
		cerr(c, n->val, n->path, "must not be empty");
		return NULL;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cerr(c, n->val, n->path,
			     "must not contain control characters");
			return NULL;
		}
	}
	return s;
}

static bool want_bool(cctx *c, const node *n, bool *out)
{
	if (n->v && json_is_boolean(n->v)) {
		*out = json_is_true(n->v);
		return true;
	}
	expected(c, n, "true or false");
	return false;
}

static bool want_int(cctx *c, const node *n, int64_t lo, int64_t hi,
		     int64_t *out)
{
	if (!n->v || !json_is_integer(n->v)) {
		expected(c, n, "an integer");
		return false;
	}
	int64_t v = (int64_t)json_integer_value(n->v);
	if (v < lo || v > hi) {
		cerr(c, n->val, n->path,
		     "expected an integer from %" PRId64 " to %" PRId64
		     ", got %" PRId64,
		     lo, hi, v);
		return false;
	}
	*out = v;
	return true;
}

/* A duration such as "60s" or "10m"; 0 (or "0") only when ZERO_OK. */
static bool want_duration(cctx *c, const node *n, bool zero_ok, int64_t *out)
{
	int64_t ms = -1;
	if (n->v && json_is_integer(n->v) && json_integer_value(n->v) == 0)
		ms = 0;
	else if (n->v && json_is_string(n->v) &&
		 ks_duration_parse(json_string_value(n->v), &ms))
		ms = -1;
	if (ms < 0) {
		expected(c, n, "a duration such as \"60s\" or \"10m\"");
		return false;
	}
	if (ms == 0 && !zero_ok) {
		cerr(c, n->val, n->path, "must be longer than 0s");
		return false;
	}
	*out = ms;
	return true;
}

/* One of ALLOWED: its index, else -1 (reported, with a did-you-mean). */
static int want_enum(cctx *c, const node *n, const char *const *allowed,
		     size_t nallowed)
{
	char list[160] = "";
	size_t len = 0;
	for (size_t i = 0; i < nallowed; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? (i + 1 == nallowed ? " or " : ", ")
					  : "",
					allowed[i]);
	if (n->v && json_is_string(n->v)) {
		const char *s = json_string_value(n->v);
		for (size_t i = 0; i < nallowed; i++)
			if (!strcmp(s, allowed[i]))
				return (int)i;
		const char *hint = ks_did_you_mean(s, allowed, nallowed);
		if (hint) {
			char buf[64];
			cerr(c, n->val, n->path,
			     "expected %s, got %s (did you mean \"%s\"?)", list,
			     describe(n, buf, sizeof(buf)), hint);
			return -1;
		}
	}
	expected(c, n, list);
	return -1;
}

/*
 * Reports every key of mapping N not in KNOWN (did-you-mean hint), and
 * every inline secret key of SECRETS with the *File key to use instead:
 * the secret's value never appears in the message.
 */
static void only_known(cctx *c, const node *n, const char *const *known,
		       size_t nknown, const secret_key *secrets,
		       size_t nsecrets)
{
	const char *key;
	json_t *v;
	if (!n->v || !json_is_object(n->v))
		return;
	json_object_foreach((json_t *)n->v, key, v)
	{
		size_t i;
		for (i = 0; i < nknown; i++)
			if (!strcmp(key, known[i]))
				break;
		if (i < nknown)
			continue;
		node k = child(c, n, key);
		for (i = 0; i < nsecrets; i++)
			if (!strcmp(key, secrets[i].key))
				break;
		if (i < nsecrets) {
			cerr(c, k.key, k.path,
			     "a secret must not be written in the "
			     "configuration: put it in a file and name the "
			     "file with \"%s\"",
			     secrets[i].use);
			continue;
		}
		const char *hint = ks_did_you_mean(key, known, nknown);
		if (hint)
			cerr(c, k.key, k.path,
			     "unknown field (did you mean \"%s\"?)", hint);
		else
			cerr(c, k.key, k.path, "unknown field");
	}
}

/* Resolves PATH against the config's folder ("~/" against $HOME). A new
 * string, or NULL (reported at N) when $HOME is needed and unset. */
static char *resolve(cctx *c, const node *n, const char *path)
{
	if (path[0] == '/')
		return ks_xstrdup(path);
	if (path[0] == '~' && (path[1] == '/' || !path[1])) {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			cerr(c, n->val, n->path,
			     "cannot resolve \"~\": $HOME is not set");
			return NULL;
		}
		return ks_xasprintf("%s%s", home, path + 1);
	}
	if (!strcmp(path, "."))
		return ks_xstrdup(c->dir);
	if (!strncmp(path, "./", 2))
		path += 2;
	return ks_xasprintf("%s/%s", c->dir, path);
}

/* The resolved path of the member KEY of P, or NULL when it is absent or
 * wrong (reported). *N gets the member. */
static char *path_member(cctx *c, const node *p, const char *key, node *n)
{
	*n = child(c, p, key);
	if (!is_set(n))
		return NULL;
	const char *s = want_text(c, n);
	return s ? resolve(c, n, s) : NULL;
}

/* The reason in ks_read_file's "PATH: reason". */
static const char *after_path(const char *msg, const char *path)
{
	size_t n = strlen(path);
	if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
		return msg + n + 2;
	return msg;
}

/* Reads the secret file FILE named at N: trailing newlines and spaces
 * stripped; unreadable, too large or empty files are reported by path,
 * never with any of their content. */
static char *read_secret(cctx *c, const node *n, const char *file,
			 size_t *len_out)
{
	char *data = NULL;
	size_t len = 0;
	ks_error err;
	int rc = ks_read_file(file, SECRET_MAX_FILE, &data, &len, &err);
	if (rc == KS_ELIMIT) {
		cerr(c, n->val, n->path,
		     "\"%s\" is too large for a secret (the limit is 64 KiB)",
		     file);
		return NULL;
	}
	if (rc) {
		cerr(c, n->val, n->path, "cannot read \"%s\": %s", file,
		     after_path(err.msg, file));
		return NULL;
	}
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
		       data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	data[len] = '\0';
	if (!len) {
		cerr(c, n->val, n->path, "\"%s\" is empty", file);
		free(data);
		return NULL;
	}
	*len_out = len;
	return data;
}

static void free_secret(char *s, size_t len)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, len);
	free(s);
}

/* A secret member KEY of P read from its file; NULL when absent or
 * wrong. */
static char *secret_member(cctx *c, const node *p, const char *key, size_t *len,
			   node *n)
{
	char *file = path_member(c, p, key, n);
	if (!file)
		return NULL;
	char *s = read_secret(c, n, file, len);
	free(file);
	return s;
}

/* A file member KEY of P that must exist and be readable (read later, by
 * someone else). */
static char *readable_member(cctx *c, const node *p, const char *key, node *n)
{
	char *file = path_member(c, p, key, n);
	if (file && access(file, R_OK)) {
		cerr(c, n->val, n->path, "cannot read \"%s\": %s", file,
		     strerror(errno));
		free(file);
		return NULL;
	}
	return file;
}

static char **str_list(cctx *c, const node *n, size_t *count)
{
	*count = 0;
	if (!want_list(c, n))
		return NULL;
	size_t len = json_array_size(n->v);
	char **out = ks_xcalloc(len + 1, sizeof(*out));
	for (size_t i = 0; i < len; i++) {
		node it = item(c, n, i);
		const char *s = want_text(c, &it);
		if (s)
			out[(*count)++] = ks_xstrdup(s);
	}
	return out;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *dup_text(cctx *c, const node *n)
{
	const char *s = want_text(c, n);
	return s ? ks_xstrdup(s) : NULL;
}

/* "HOST:PORT" or "[V6]:PORT" with a port from 0 to 65535. */
static void check_listen(cctx *c, const node *n, const char *s)
{
	const char *colon = strrchr(s, ':');
	bool ok = colon && colon > s && colon[1];
	if (ok && s[0] == '[')
		ok = colon[-1] == ']' && colon - s > 2;
	else if (ok)
		ok = memchr(s, ':', (size_t)(colon - s)) == NULL;
	long port = -1;
	if (ok) {
		char *end;
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		ok = !*end && !errno && port >= 0 && port <= 65535 &&
		     colon[1] >= '0' && colon[1] <= '9';
	}
	if (!ok)
		cerr(c, n->val, n->path,
		     "expected HOST:PORT such as \"127.0.0.1:8080\" or "
		     "\"[::1]:8080\", got \"%s\"",
		     s);
}

static void load_cluster(cctx *c, const node *n, ks_agent_config *cfg)
{
	static const char *const known[] = {"kubeconfig", "context",
					    "inCluster", "qps", "burst"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 5, NULL, 0);
	node k;
	cfg->kubeconfig = path_member(c, n, "kubeconfig", &k);
	node ctx = child(c, n, "context");
	if (is_set(&ctx)) {
		const char *s = want_str(c, &ctx);
		if (s && *s)
			cfg->context = ks_xstrdup(s);
	}
	node ic = child(c, n, "inCluster");
	if (is_set(&ic) && want_bool(c, &ic, &cfg->in_cluster) &&
	    cfg->in_cluster && is_set(&k))
		cerr(c, ic.key, ic.path,
		     "inCluster and kubeconfig exclude each other");
	node q = child(c, n, "qps");
	if (is_set(&q)) {
		if (!json_is_number(q.v) || json_number_value(q.v) <= 0 ||
		    json_number_value(q.v) > 1e6)
			expected(c, &q, "a number greater than 0");
		else
			cfg->qps = json_number_value(q.v);
	}
	node b = child(c, n, "burst");
	int64_t v;
	if (is_set(&b) && want_int(c, &b, 1, 100000, &v))
		cfg->burst = (int)v;
}

static void load_state(cctx *c, const node *n, ks_agent_config *cfg)
{
	static const char *const known[] = {"backend", "path", "namespace",
					    "historyLimit"};
	static const char *const backends[] = {"local", "kubernetes"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 4, NULL, 0);
	node b = child(c, n, "backend");
	if (is_set(&b))
		cfg->state_kubernetes = want_enum(c, &b, backends, 2) == 1;
	node p;
	char *path = path_member(c, n, "path", &p);
	if (path) {
		free(cfg->state_path);
		cfg->state_path = path;
	}
	node ns = child(c, n, "namespace");
	if (is_set(&ns)) {
		const char *s = want_text(c, &ns);
		if (s && !ks_is_dns1123_label(s))
			cerr(c, ns.val, ns.path,
			     "\"%s\" is not a valid namespace name (lowercase "
			     "letters, digits and '-', at most 63)",
			     s);
		else if (s) {
			free(cfg->state_namespace);
			cfg->state_namespace = ks_xstrdup(s);
		}
	}
	node h = child(c, n, "historyLimit");
	int64_t v;
	if (is_set(&h) && want_int(c, &h, 1, 10000, &v))
		cfg->history_limit = (int)v;
}

/* Token names appear in the audit log: a login-like word. */
static bool good_token_name(const char *s)
{
	size_t len = strlen(s);
	if (!len || len > 63)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-_.@", *p)))
			return false;
	return true;
}

static bool token_chars_ok(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static void load_token(cctx *c, const node *n, ks_agent_config *cfg)
{
	static const char *const known[] = {"name", "tokenFile", "role"};
	static const secret_key secrets[] = {{"token", "tokenFile"},
					     {"password", "tokenFile"},
					     {"secret", "tokenFile"}};
	static const char *const roles[] = {"viewer", "approver", "admin"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 3, secrets, 3);
	ks_agent_token t = {.role = KS_ROLE_VIEWER};
	node name = child(c, n, "name");
	if (!is_set(&name)) {
		cerr(c, n->key, n->path, "missing required field \"name\"");
	} else if ((t.name = dup_text(c, &name)) && !good_token_name(t.name)) {
		cerr(c, name.val, name.path,
		     "\"%s\" is not a valid token name (letters, digits, "
		     "'-', '_', '.', '@', at most 63)",
		     t.name);
	} else if (t.name) {
		for (size_t i = 0; i < cfg->ntokens; i++)
			if (!strcmp(cfg->tokens[i].name, t.name))
				cerr(c, name.val, name.path,
				     "duplicate token name \"%s\"", t.name);
	}
	node role = child(c, n, "role");
	if (is_set(&role)) {
		int r = want_enum(c, &role, roles, 3);
		if (r >= 0)
			t.role = (ks_role)(r + 1);
	}
	node file = child(c, n, "tokenFile");
	size_t len = 0;
	if (!is_set(&file) && !json_object_get(n->v, "token"))
		cerr(c, n->key, n->path,
		     "missing required field \"tokenFile\"");
	else if (is_set(&file))
		t.token = secret_member(c, n, "tokenFile", &len, &file);
	if (t.token && !token_chars_ok(t.token)) {
		cerr(c, file.val, file.path,
		     "the token in the file holds spaces or control "
		     "characters, which a bearer token cannot carry");
		free_secret(t.token, len);
		t.token = NULL;
	}
	for (size_t i = 0; t.token && i < cfg->ntokens; i++)
		if (!strcmp(cfg->tokens[i].token, t.token))
			cerr(c, file.val, file.path,
			     "the same token as \"%s\": each token must be "
			     "different",
			     cfg->tokens[i].name);
	if (!t.name || !t.token) {
		free(t.name);
		free_secret(t.token, len);
		return;
	}
	cfg->tokens[cfg->ntokens++] = t;
}

static void load_auth(cctx *c, const node *n, ks_agent_config *cfg)
{
	static const char *const known[] = {"tokens"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 1, NULL, 0);
	node toks = child(c, n, "tokens");
	if (!is_set(&toks) || !want_list(c, &toks))
		return;
	size_t len = json_array_size(toks.v);
	cfg->tokens = ks_xcalloc(len + 1, sizeof(*cfg->tokens));
	for (size_t i = 0; i < len; i++) {
		node t = item(c, &toks, i);
		load_token(c, &t, cfg);
	}
}

/* The scheme of URL when it is one kusync fetches from, else NULL. */
static const char *url_scheme(const char *url)
{
	static const char *const schemes[] = {"https://", "http://", "ssh://",
					      "git://", "file://"};
	for (size_t i = 0; i < 5; i++)
		if (!strncmp(url, schemes[i], strlen(schemes[i])))
			return schemes[i];
	return NULL;
}

/* The URL is checked without ever being echoed: it may carry a password
 * (which is refused). */
static void check_url(cctx *c, const node *n, const char *url)
{
	const char *scheme = url_scheme(url);
	if (!scheme) {
		cerr(c, n->val, n->path,
		     "expected a URL starting with https://, http://, ssh://, "
		     "git:// or file://");
		return;
	}
	const char *rest = url + strlen(scheme);
	if (!strcmp(scheme, "file://")) {
		if (rest[0] != '/')
			cerr(c, n->val, n->path,
			     "a file:// URL needs an absolute path "
			     "(file:///srv/git/repo.git)");
		return;
	}
	size_t hostlen = strcspn(rest, "/");
	if (!hostlen || memchr(rest, ' ', strlen(rest))) {
		cerr(c, n->val, n->path, "expected a URL with a host");
		return;
	}
	const char *at = memchr(rest, '@', hostlen);
	if (at && memchr(rest, ':', (size_t)(at - rest)))
		cerr(c, n->val, n->path,
		     "a password must not be written in the URL: put it in a "
		     "file and name the file with "
		     "\"credentials.passwordFile\"");
}

/* "refs/..." without spaces, control characters or "..". */
static void check_ref(cctx *c, const node *n, const char *ref)
{
	bool ok = !strncmp(ref, "refs/", 5) && ref[5] && !strstr(ref, "..") &&
		  ref[strlen(ref) - 1] != '/';
	for (const char *p = ref; ok && *p; p++)
		if ((unsigned char)*p <= 0x20 || strchr("~^:?*[\\", *p))
			ok = false;
	if (!ok)
		cerr(c, n->val, n->path,
		     "expected a full ref such as \"refs/heads/main\", got "
		     "\"%s\"",
		     ref);
}

/* A folder inside the repository: relative, no "..". */
static void check_paths(cctx *c, const node *n, ks_agent_source *s)
{
	for (size_t i = 0; i < s->npaths; i++) {
		node it = item(c, n, i);
		char *p = s->paths[i];
		size_t len = strlen(p);
		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		bool dotdot = !strcmp(p, "..") || !strncmp(p, "../", 3) ||
			      strstr(p, "/../") ||
			      (len >= 3 && !strcmp(p + len - 3, "/.."));
		if (p[0] == '/' || dotdot)
			cerr(c, it.val, it.path,
			     "expected a folder inside the repository "
			     "(relative, without \"..\"), got \"%s\"",
			     p);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->paths[j], p))
				cerr(c, it.val, it.path,
				     "duplicate path \"%s\"", p);
	}
}

static void check_namespaces(cctx *c, const node *n, ks_agent_source *s)
{
	for (size_t i = 0; i < s->nnamespaces; i++) {
		node it = item(c, n, i);
		const char *g = s->namespaces[i];
		size_t bad = strspn(g, "abcdefghijklmnopqrstuvwxyz0123456789-*?"
				       "[]!");
		if (g[bad])
			cerr(c, it.val, it.path,
			     "expected a namespace name or glob (lowercase "
			     "letters, digits, '-', '*', '?', '[...]'), got "
			     "\"%s\"",
			     g);
	}
}

static void load_credentials(cctx *c, const node *n, ks_agent_source *s)
{
	static const char *const known[] = {"username", "passwordFile",
					    "tokenFile", "sshKeyFile",
					    "knownHostsFile"};
	static const secret_key secrets[] = {
		{"password", "passwordFile"}, {"token", "tokenFile"},
		{"sshKey", "sshKeyFile"},     {"privateKey", "sshKeyFile"},
		{"secret", "passwordFile"},
	};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 5, secrets, 5);
	node u = child(c, n, "username");
	if (is_set(&u))
		s->username = dup_text(c, &u);
	node pw = child(c, n, "passwordFile"), tok = child(c, n, "tokenFile");
	size_t len = 0;
	if (is_set(&pw) && is_set(&tok))
		cerr(c, tok.key, tok.path,
		     "passwordFile and tokenFile exclude each other");
	else if (is_set(&pw))
		s->password = secret_member(c, n, "passwordFile", &len, &pw);
	else if (is_set(&tok))
		s->password = secret_member(c, n, "tokenFile", &len, &tok);
	node key, kh;
	s->ssh_key_file = readable_member(c, n, "sshKeyFile", &key);
	s->known_hosts_file = readable_member(c, n, "knownHostsFile", &kh);
	if (is_set(&key) && !is_set(&kh))
		cerr(c, key.key, key.path,
		     "knownHostsFile is required with sshKeyFile (the "
		     "server's host key must be checked)");
	if (is_set(&key) && s->url && strncmp(s->url, "ssh://", 6))
		cerr(c, key.key, key.path, "sshKeyFile needs an ssh:// url");
}

static void load_webhook(cctx *c, const node *n, ks_agent_source *s)
{
	static const char *const known[] = {"provider", "secretFile"};
	static const secret_key secrets[] = {{"secret", "secretFile"},
					     {"token", "secretFile"}};
	static const char *const providers[] = {"github", "gitlab", "gitea",
						"generic"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 2, secrets, 2);
	node p = child(c, n, "provider");
	if (!is_set(&p)) {
		cerr(c, n->key, n->path, "missing required field \"provider\"");
	} else {
		int i = want_enum(c, &p, providers, 4);
		if (i >= 0)
			s->webhook = (ks_webhook_provider)(i + 1);
	}
	node f = child(c, n, "secretFile");
	if (!is_set(&f) && !json_object_get(n->v, "secret") &&
	    !json_object_get(n->v, "token"))
		cerr(c, n->key, n->path,
		     "missing required field \"secretFile\" (a webhook "
		     "needs a secret)");
	else if (is_set(&f))
		s->webhook_secret = secret_member(c, n, "secretFile",
						  &s->webhook_secret_len, &f);
}

static void load_drift(cctx *c, const node *n, ks_agent_source *s)
{
	static const char *const known[] = {"mode", "resync"};
	static const char *const modes[] = {"report", "heal"};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 2, NULL, 0);
	node m = child(c, n, "mode");
	if (is_set(&m))
		s->drift_heal = want_enum(c, &m, modes, 2) == 1;
	node r = child(c, n, "resync");
	if (is_set(&r))
		want_duration(c, &r, false, &s->resync_ms);
}

static void load_ignore(cctx *c, const node *n, ks_agent_source *s)
{
	static const char *const known[] = {"group", "kind", "name",
					    "namespace", "jsonPointers"};
	if (!want_list(c, n))
		return;
	for (size_t i = 0; i < json_array_size(n->v); i++) {
		node r = item(c, n, i);
		if (!want_map(c, &r))
			continue;
		only_known(c, &r, known, 5, NULL, 0);
		json_t *rule = json_object();
		bool ok = true;
		for (size_t k = 0; k < 4; k++) {
			node f = child(c, &r, known[k]);
			if (!is_set(&f)) {
				if (k == 1) {
					cerr(c, r.key, r.path,
					     "missing required field \"kind\"");
					ok = false;
				}
				continue;
			}
			const char *v = want_str(c, &f);
			if (v)
				json_object_set_new(rule, known[k],
						    json_string(v));
			ok = ok && v;
		}
		node ptrs = child(c, &r, "jsonPointers");
		json_t *arr = json_array();
		if (!is_set(&ptrs)) {
			cerr(c, r.key, r.path,
			     "missing required field \"jsonPointers\"");
			ok = false;
		} else if (want_list(c, &ptrs)) {
			for (size_t k = 0; k < json_array_size(ptrs.v); k++) {
				node p = item(c, &ptrs, k);
				const char *v = want_str(c, &p);
				if (v && v[0] != '/') {
					cerr(c, p.val, p.path,
					     "expected a JSON pointer such as "
					     "\"/spec/replicas\", got \"%s\"",
					     v);
					v = NULL;
				}
				if (v)
					json_array_append_new(arr,
							      json_string(v));
				ok = ok && v;
			}
		} else {
			ok = false;
		}
		json_object_set_new(rule, "jsonPointers", arr);
		if (ok)
			json_array_append_new(s->ignore, rule);
		else
			json_decref(rule);
	}
}

static void release_source(ks_agent_source *s)
{
	free(s->name);
	free(s->url);
	free(s->ref);
	free_strs(s->paths, s->npaths);
	free(s->username);
	if (s->password)
		free_secret(s->password, strlen(s->password));
	free(s->ssh_key_file);
	free(s->known_hosts_file);
	free_secret(s->webhook_secret, s->webhook_secret_len);
	free_strs(s->approvers, s->napprovers);
	free_strs(s->namespaces, s->nnamespaces);
	json_decref(s->ignore);
}

static void load_source_name(cctx *c, const node *n, ks_agent_source *s,
			     const ks_agent_config *cfg)
{
	node name = child(c, n, "name");
	if (!is_set(&name)) {
		cerr(c, n->key, n->path, "missing required field \"name\"");
		return;
	}
	s->name = dup_text(c, &name);
	if (!s->name)
		return;
	if (!ks_is_dns1123_label(s->name)) {
		cerr(c, name.val, name.path,
		     "\"%s\" is not a valid source name (a DNS-1123 label: "
		     "lowercase letters, digits and '-', at most 63)",
		     s->name);
		return;
	}
	if (!strcmp(s->name, "unknown")) {
		cerr(c, name.val, name.path,
		     "the source name \"unknown\" is reserved (webhook metrics "
		     "count deliveries for unknown sources under it)");
		return;
	}
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].name &&
		    !strcmp(cfg->sources[i].name, s->name))
			cerr(c, name.val, name.path,
			     "duplicate source name \"%s\" (the first is on "
			     "line %u)",
			     s->name, cfg->sources[i].line);
}

static void load_source_required(cctx *c, const node *n, ks_agent_source *s)
{
	node url = child(c, n, "url");
	if (!is_set(&url))
		cerr(c, n->key, n->path, "missing required field \"url\"");
	else if ((s->url = dup_text(c, &url)))
		check_url(c, &url, s->url);
	node paths = child(c, n, "paths");
	if (!is_set(&paths)) {
		cerr(c, n->key, n->path,
		     "missing required field \"paths\" (the stack folders "
		     "to deploy)");
	} else if ((s->paths = str_list(c, &paths, &s->npaths))) {
		if (!json_array_size(paths.v))
			cerr(c, paths.val, paths.path,
			     "needs at least one stack folder");
		check_paths(c, &paths, s);
	}
	node ns = child(c, n, "namespaces");
	if (!is_set(&ns)) {
		cerr(c, n->key, n->path,
		     "missing required field \"namespaces\" (where this "
		     "source's apps may deploy)");
	} else if ((s->namespaces = str_list(c, &ns, &s->nnamespaces))) {
		if (!json_array_size(ns.v))
			cerr(c, ns.val, ns.path,
			     "needs at least one namespace or glob");
		check_namespaces(c, &ns, s);
	}
}

static void load_source(cctx *c, const node *n, ks_agent_config *cfg)
{
	static const char *const known[] = {
		"name",
		"url",
		"ref",
		"paths",
		"interval",
		"fetchTimeout",
		"credentials",
		"webhook",
		"approvers",
		"namespaces",
		"drift",
		"prune",
		"ignoreDifferences",
	};
	static const secret_key secrets[] = {{"password", "credentials."
							  "passwordFile"},
					     {"token", "credentials.tokenFile"},
					     {"secret", "webhook.secretFile"}};
	if (!want_map(c, n))
		return;
	only_known(c, n, known, 13, secrets, 3);
	ks_agent_source *s = &cfg->sources[cfg->nsources];
	memset(s, 0, sizeof(*s));
	s->line = n->key.line;
	s->interval_ms = 60000;
	s->fetch_timeout_ms = 60000;
	s->resync_ms = 600000;
	s->prune = true;
	s->ignore = json_array();
	load_source_name(c, n, s, cfg);
	load_source_required(c, n, s);
	node ref = child(c, n, "ref");
	if (is_set(&ref) && (s->ref = dup_text(c, &ref)))
		check_ref(c, &ref, s->ref);
	if (!s->ref)
		s->ref = ks_xstrdup("refs/heads/main");
	node iv = child(c, n, "interval");
	if (is_set(&iv))
		want_duration(c, &iv, true, &s->interval_ms);
	node ft = child(c, n, "fetchTimeout");
	if (is_set(&ft))
		want_duration(c, &ft, false, &s->fetch_timeout_ms);
	node cr = child(c, n, "credentials");
	if (is_set(&cr))
		load_credentials(c, &cr, s);
	if (!s->username && s->url && !strncmp(s->url, "ssh://", 6))
		s->username = ks_xstrdup("git");
	node wh = child(c, n, "webhook");
	if (is_set(&wh))
		load_webhook(c, &wh, s);
	node ap = child(c, n, "approvers");
	if (is_set(&ap))
		s->approvers = str_list(c, &ap, &s->napprovers);
	node dr = child(c, n, "drift");
	if (is_set(&dr))
		load_drift(c, &dr, s);
	node pr = child(c, n, "prune");
	if (is_set(&pr))
		want_bool(c, &pr, &s->prune);
	node ig = child(c, n, "ignoreDifferences");
	if (is_set(&ig))
		load_ignore(c, &ig, s);
	cfg->nsources++;
}

static void load_sources(cctx *c, const node *n, ks_agent_config *cfg)
{
	if (!want_list(c, n))
		return;
	size_t len = json_array_size(n->v);
	cfg->sources = ks_xcalloc(len + 1, sizeof(*cfg->sources));
	for (size_t i = 0; i < len; i++) {
		node s = item(c, n, i);
		load_source(c, &s, cfg);
	}
}

static void load_policies(cctx *c, const node *n, ks_agent_config *cfg)
{
	if (!want_list(c, n))
		return;
	size_t len = json_array_size(n->v);
	cfg->policies = ks_xcalloc(len + 1, sizeof(*cfg->policies));
	for (size_t i = 0; i < len; i++) {
		node it = item(c, n, i);
		const char *s = want_text(c, &it);
		char *dir = s ? resolve(c, &it, s) : NULL;
		if (dir && access(dir, R_OK | X_OK)) {
			cerr(c, it.val, it.path, "cannot read \"%s\": %s", dir,
			     strerror(errno));
			free(dir);
			dir = NULL;
		}
		if (dir)
			cfg->policies[cfg->npolicies++] = dir;
	}
}

static void load_top(cctx *c, const node *root, ks_agent_config *cfg)
{
	static const char *const known[] = {
		"listen",
		"cluster",
		"workspace",
		"policies",
		"cacheDir",
		"state",
		"auth",
		"sources",
		"maxParallelApps",
		"maxParallelFetches",
	};
	only_known(c, root, known, 10, NULL, 0);
	node l = child(c, root, "listen");
	if (is_set(&l)) {
		const char *s = want_text(c, &l);
		if (s) {
			check_listen(c, &l, s);
			free(cfg->listen);
			cfg->listen = ks_xstrdup(s);
		}
	}
	node n = child(c, root, "cluster");
	if (is_set(&n))
		load_cluster(c, &n, cfg);
	cfg->workspace = readable_member(c, root, "workspace", &n);
	n = child(c, root, "policies");
	if (is_set(&n))
		load_policies(c, &n, cfg);
	cfg->cache_dir = path_member(c, root, "cacheDir", &n);
	n = child(c, root, "state");
	if (is_set(&n))
		load_state(c, &n, cfg);
	n = child(c, root, "auth");
	if (is_set(&n))
		load_auth(c, &n, cfg);
	n = child(c, root, "sources");
	if (is_set(&n))
		load_sources(c, &n, cfg);
	int64_t v;
	n = child(c, root, "maxParallelApps");
	if (is_set(&n) && want_int(c, &n, 1, 64, &v))
		cfg->max_parallel_apps = (unsigned)v;
	n = child(c, root, "maxParallelFetches");
	if (is_set(&n) && want_int(c, &n, 1, 64, &v))
		cfg->max_parallel_fetches = (unsigned)v;
	if (!cfg->cache_dir)
		cfg->cache_dir =
			cfg->state_kubernetes
				? ks_xstrdup("/var/cache/kusync")
				: ks_xasprintf("%s/git", cfg->state_path);
}

/* The absolute folder of PATH. */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
		slash ? ks_xstrndup(path,
				    slash == path ? 1 : (size_t)(slash - path))
		      : ks_xstrdup(".");
	if (dir[0] == '/')
		return dir;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return dir;
	char *abs = strcmp(dir, ".") ? ks_xasprintf("%s/%s", cwd, dir)
				     : ks_xstrdup(cwd);
	free(dir);
	return abs;
}

static ks_agent_config *new_config(const char *path)
{
	ks_agent_config *cfg = ks_xcalloc(1, sizeof(*cfg));
	cfg->path = ks_xstrdup(path);
	cfg->listen = ks_xstrdup("127.0.0.1:8080");
	cfg->qps = 50;
	cfg->burst = 100;
	cfg->state_path = ks_xstrdup("/var/lib/kusync");
	cfg->state_namespace = ks_xstrdup("kusync");
	cfg->history_limit = 20;
	cfg->max_parallel_apps = 4;
	cfg->max_parallel_fetches = 4;
	return cfg;
}

static int parse_file(ks_doc **doc, const char *path, ks_errlist *errs)
{
	char *data = NULL;
	size_t len = 0;
	ks_error err;
	int rc = ks_read_file(path, CONFIG_MAX_FILE, &data, &len, &err);
	if (rc == KS_ELIMIT) {
		ks_errlist_add(errs, path, 0, 0,
			       "file is too large for an agent configuration "
			       "(the limit is 1 MiB)");
		return KS_EINVAL;
	}
	if (rc) {
		ks_errlist_add(errs, path, 0, 0, "%s",
			       after_path(err.msg, path));
		return KS_EINVAL;
	}
	rc = ks_yaml_parse(doc, data, len, path, KS_YAML_SINGLE, errs);
	free(data);
	return rc ? KS_EINVAL : 0;
}

int ks_agent_config_load(ks_agent_config **out, const char *path,
			 ks_errlist *errs)
{
	ks_doc *doc = NULL;
	if (parse_file(&doc, path, errs))
		return KS_EINVAL;
	cctx c = {.doc = doc, .file = path, .errs = errs};
	node root = {.v = ks_doc_root(doc), .key = ks_doc_root_mark(doc)};
	root.val = root.key;
	if (!root.v) {
		cerr(&c, root.key, "",
		     "the agent configuration is empty (it needs at least "
		     "sources)");
		ks_doc_free(doc);
		return KS_EINVAL;
	}
	if (!json_is_object(root.v)) {
		char buf[64];
		cerr(&c, root.val, "",
		     "expected a mapping at the top of the agent "
		     "configuration, got %s",
		     describe(&root, buf, sizeof(buf)));
		ks_doc_free(doc);
		return KS_EINVAL;
	}
	char *dir = config_dir(path);
	c.dir = dir;
	ks_agent_config *cfg = new_config(path);
	load_top(&c, &root, cfg);
	free(dir);
	ks_doc_free(doc);
	if (c.nerr) {
		ks_agent_config_free(cfg);
		return KS_EINVAL;
	}
	*out = cfg;
	return 0;
}

void ks_agent_config_free(ks_agent_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen);
	free(c->kubeconfig);
	free(c->context);
	free(c->workspace);
	free_strs(c->policies, c->npolicies);
	free(c->cache_dir);
	free(c->state_path);
	free(c->state_namespace);
	for (size_t i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].name);
		free_secret(c->tokens[i].token, strlen(c->tokens[i].token));
	}
	free(c->tokens);
	for (size_t i = 0; i < c->nsources; i++)
		release_source(&c->sources[i]);
	free(c->sources);
	free(c);
}

const ks_agent_source *ks_agent_config_source(const ks_agent_config *c,
					      const char *name)
{
	for (size_t i = 0; c && name && i < c->nsources; i++)
		if (!strcmp(c->sources[i].name, name))
			return &c->sources[i];
	return NULL;
}

ks_role ks_agent_config_auth(const ks_agent_config *c, const char *token,
			     const char **name)
{
	/* Comparing SHA-256 digests keeps every comparison the same length
	 * whatever the tokens' lengths, and every token is compared: the
	 * time taken says nothing about which token (or how much of one)
	 * matched. */
	unsigned char want[EVP_MAX_MD_SIZE], have[EVP_MAX_MD_SIZE];
	unsigned int wl = 0, hl = 0;
	ks_role role = KS_ROLE_NONE;
	const char *who = NULL;
	if (name)
		*name = NULL;
	if (!c || !token || !*token)
		return KS_ROLE_NONE;
	if (!EVP_Digest(token, strlen(token), want, &wl, EVP_sha256(), NULL))
		return KS_ROLE_NONE;
	for (size_t i = 0; i < c->ntokens; i++) {
		const ks_agent_token *t = &c->tokens[i];
		if (!EVP_Digest(t->token, strlen(t->token), have, &hl,
				EVP_sha256(), NULL) ||
		    hl != wl)
			continue;
		int same = CRYPTO_memcmp(want, have, wl) == 0;
		/* no branch on the secret beyond recording the result */
		role = same ? t->role : role;
		who = same ? t->name : who;
	}
	if (name)
		*name = who;
	return role;
}

bool ks_agent_source_allows(const ks_agent_source *src, const char *ns)
{
	if (!src || !ns)
		return false;
	for (size_t i = 0; i < src->nnamespaces; i++)
		if (fnmatch(src->namespaces[i], ns, 0) == 0)
			return true;
	return false;
}
