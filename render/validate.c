/*
 * AppConfiguration documents -> ks_app, checking every field of
 * spec/appconfiguration.md § Fields and collecting every problem.
 */
#include "render/internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/values.h"
#include "render/check.h"
#include "core/banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---------------------------------------------------- */

/* The keys of mapping N, in file order (for iteration with positions). */
static const char **keys_of(ks_vctx *c, const ks_vnode *n, size_t *count)
{
	size_t len = json_object_size(n->v);
	const char **k = ks_arena_alloc(c->a, (len + 1) * sizeof(*k));
	size_t i = 0;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)n->v, key, v)
	{
		(void)v;
		k[i++] = key;
	}
	*count = i;
	return k;
}

static bool is_abs_path(const char *p)
{
	return p[0] == '/';
}

static bool port_number(const char *s, size_t n, int *out)
{
	if (!n || n > 5)
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = v;
	return true;
}

/* host[:port] at S up to the first of END_CHARS; a host is needed when
 * NEED_PORT, and a port then too. */
static bool host_port_ok(const char *s, const char *end_chars, bool need_port)
{
	size_t hn;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			return false;
		hn = (size_t)(rb - s) + 1;
	} else {
		hn = strcspn(s, ":");
		size_t stop = strcspn(s, end_chars);
		if (stop < hn)
			hn = stop;
	}
	if (!hn)
		return false;
	for (size_t i = 0; i < hn; i++)
		if ((unsigned char)s[i] <= ' ')
			return false;
	const char *rest = s + hn;
	int port;
	if (*rest == ':') {
		rest++;
		size_t pn = strcspn(rest, end_chars);
		if (!port_number(rest, pn, &port))
			return false;
		rest += pn;
	} else if (need_port) {
		return false;
	}
	return *rest == '\0' || strchr(end_chars, *rest);
}

static bool http_url_ok(const char *u)
{
	size_t skip;
	if (!strncasecmp(u, "http://", 7))
		skip = 7;
	else if (!strncasecmp(u, "https://", 8))
		skip = 8;
	else
		return false;
	return host_port_ok(u + skip, "/?#", false);
}

static bool tcp_url_ok(const char *u)
{
	if (!strncasecmp(u, "tcp://", 6))
		u += 6;
	return host_port_ok(u, "", true);
}

/* ---- handlers and probes ---------------------------------------------- */

static const char *const handler_names[] = {"Http", "Exec", "Tcp"};
static const enum ks_handler_type handler_types[] = {KS_H_HTTP, KS_H_EXEC,
						     KS_H_TCP};

static void check_headers(ks_vctx *c, const ks_vnode *n, ks_strmap *out)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	out->items = ks_arena_alloc(c->a, (nk + 1) * sizeof(*out->items));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode h = ks_vchild(c, n, keys[i]);
		const char *s = json_is_null(h.v) ? "" : ks_vstring(c, &h);
		if (!s)
			continue;
		out->items[out->n].key = ks_arena_strdup(c->a, keys[i]);
		out->items[out->n].value = s;
		out->n++;
	}
}

/* A handler block with a _type out of the first NTYPES of handler_names
 * (Probe: all three; lifecycle: Exec and Http). */
static void check_handler(ks_vctx *c, const ks_vnode *n, bool lifecycle,
			  ks_handler *out)
{
	static const char *const http_keys[] = {"_type", "url", "headers"};
	static const char *const exec_keys[] = {"_type", "command"};
	static const char *const tcp_keys[] = {"_type", "url"};
	static const char *const all_keys[] = {"_type", "url", "headers",
					       "command"};
	static const char *const lc_names[] = {"Exec", "Http"};

	if (!ks_vmapping(c, n))
		return;
	ks_vnode t = ks_vrequired(c, n, "_type");
	if (!t.v) {
		ks_vknown(c, n, all_keys, NELEM(all_keys));
		return;
	}
	enum ks_handler_type type = KS_H_NONE;
	if (lifecycle) {
		int i = ks_venum(c, &t, lc_names, NELEM(lc_names));
		if (i >= 0)
			type = i == 0 ? KS_H_EXEC : KS_H_HTTP;
	} else {
		int i = ks_venum(c, &t, handler_names, NELEM(handler_names));
		if (i >= 0)
			type = handler_types[i];
	}
	if (type == KS_H_NONE) {
		ks_vknown(c, n, all_keys, NELEM(all_keys));
		return;
	}
	out->type = type;
	if (type == KS_H_EXEC) {
		ks_vknown(c, n, exec_keys, NELEM(exec_keys));
		ks_vnode cmd = ks_vrequired(c, n, "command");
		if (cmd.v && ks_vstrlist(c, &cmd, &out->command) &&
		    !out->command.n)
			ks_verr(c, cmd.val, cmd.path,
				"needs at least one item (the command to run)");
		return;
	}
	ks_vknown(c, n, type == KS_H_HTTP ? http_keys : tcp_keys,
		  type == KS_H_HTTP ? NELEM(http_keys) : NELEM(tcp_keys));
	ks_vnode u = ks_vrequired(c, n, "url");
	if (u.v) {
		const char *s = ks_vstring(c, &u);
		if (s && type == KS_H_HTTP && !http_url_ok(s))
			ks_verr(c, u.val, u.path,
				"\"%s\" is not an http or https URL (like "
				"http://localhost:8080/healthz)",
				s);
		else if (s && type == KS_H_TCP && !tcp_url_ok(s))
			ks_verr(c, u.val, u.path,
				"\"%s\" is not host:port or tcp://host:port",
				s);
		out->url = s;
	}
	if (type == KS_H_HTTP) {
		ks_vnode h = ks_vchild(c, n, "headers");
		if (ks_vset(&h))
			check_headers(c, &h, &out->headers);
	}
}

static void check_probe(ks_vctx *c, const ks_vnode *n, ks_probe *out)
{
	static const char *const keys[] = {
		"probeHandler",	 "initialDelaySeconds", "timeoutSeconds",
		"periodSeconds", "successThreshold",	"failureThreshold",
	};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	out->present = true;
	ks_vnode h = ks_vrequired(c, n, "probeHandler");
	if (h.v)
		check_handler(c, &h, false, &out->handler);
	int64_t *fields[] = {&out->initialDelaySeconds, &out->timeoutSeconds,
			     &out->periodSeconds, &out->successThreshold,
			     &out->failureThreshold};
	for (size_t i = 0; i < NELEM(fields); i++) {
		ks_vnode f = ks_vchild(c, n, keys[i + 1]);
		if (ks_vset(&f))
			ks_vint_range(c, &f, 0, INT32_MAX, fields[i]);
	}
}

static void check_lifecycle(ks_vctx *c, const ks_vnode *n, ks_container *ct)
{
	static const char *const keys[] = {"preStop", "postStart"};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	ks_vnode p = ks_vchild(c, n, "preStop");
	if (ks_vset(&p))
		check_handler(c, &p, true, &ct->preStop);
	p = ks_vchild(c, n, "postStart");
	if (ks_vset(&p))
		check_handler(c, &p, true, &ct->postStart);
}

/* ---- containers -------------------------------------------------------- */

static bool quantity_ok(const char *s)
{
	ks_quantity q;
	return *s && ks_quantity_parse(s, &q) == 0;
}

static void check_resource(ks_vctx *c, const ks_vnode *r, const char *name,
			   ks_resource_req *out)
{
	const char *s = ks_vstring(c, r);
	if (!s)
		return;
	out->name = ks_arena_strdup(c->a, name);
	/* A quantity may itself hold '-' ("1e-3"), so the whole text is
	 * tried first. */
	if (quantity_ok(s)) {
		out->limit = s;
		return;
	}
	const char *dash = strchr(s, '-');
	if (!dash) {
		ks_verr(c, r->val, r->path,
			"\"%s\" is not a quantity (like 500m, 2, 512Mi)", s);
		return;
	}
	if (strchr(dash + 1, '-')) {
		ks_verr(c, r->val, r->path,
			"expected LIMIT or REQUEST-LIMIT (like 500m or "
			"250m-500m), got \"%s\"",
			s);
		return;
	}
	const char *req = ks_arena_strndup(c->a, s, (size_t)(dash - s));
	const char *lim = dash + 1;
	bool ok = true;
	if (!quantity_ok(req)) {
		ks_verr(c, r->val, r->path,
			"\"%s\" is not a quantity (like 500m, 2, 512Mi)", req);
		ok = false;
	}
	if (!quantity_ok(lim)) {
		ks_verr(c, r->val, r->path,
			"\"%s\" is not a quantity (like 500m, 2, 512Mi)", lim);
		ok = false;
	}
	if (!ok)
		return;
	ks_quantity qr, ql;
	ks_quantity_parse(req, &qr);
	ks_quantity_parse(lim, &ql);
	if (ks_quantity_cmp(&qr, &ql) > 0) {
		ks_verr(c, r->val, r->path,
			"the request \"%s\" is more than the limit \"%s\"", req,
			lim);
		return;
	}
	out->request = req;
	out->limit = ks_arena_strdup(c->a, lim);
}

static int resource_cmp(const void *pa, const void *pb)
{
	const ks_resource_req *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

static void check_resources(ks_vctx *c, const ks_vnode *n, ks_container *ct)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	ct->resources = ks_arena_alloc(c->a, (nk + 1) * sizeof(*ct->resources));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode r = ks_vchild(c, n, keys[i]);
		const char *why = ks_label_key_problem(keys[i]);
		if (why) {
			ks_verr(c, r.key, r.path, "invalid resource name: %s",
				why);
			continue;
		}
		ks_resource_req rr = {0};
		check_resource(c, &r, keys[i], &rr);
		if (rr.limit)
			ct->resources[ct->nresources++] = rr;
	}
	qsort(ct->resources, ct->nresources, sizeof(*ct->resources),
	      resource_cmp);
}

/* A file mode: "0644", 0644 (read as written), 644, 0o644 -> 0644. */
static bool parse_mode(const char *s, unsigned *out)
{
	if (!strncmp(s, "0o", 2) || !strncmp(s, "0O", 2))
		s += 2;
	size_t n = strlen(s);
	if (!n || n > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v > 07777)
		return false;
	*out = v;
	return true;
}

static bool secret_key_ok(const char *k);

static void check_file(ks_vctx *c, const ks_vnode *f, const char *path,
		       ks_file *out)
{
	static const char *const keys[] = {"content", "mode"};
	bool ok = true;
	size_t len = strlen(path);
	if (!is_abs_path(path) || path[len - 1] == '/') {
		ks_verr(c, f->key, f->path,
			"file path \"%s\" must be absolute and name a file "
			"(like /etc/app/app.conf)",
			path);
		ok = false;
	} else if (!secret_key_ok(strrchr(path, '/') + 1)) {
		ks_verr(c, f->key, f->path,
			"file name \"%s\" may hold only letters, digits, '-', "
			"'_' and '.' (it becomes a ConfigMap key)",
			strrchr(path, '/') + 1);
		ok = false;
	}
	if (!ks_vmapping(c, f))
		return;
	ks_vknown(c, f, keys, NELEM(keys));
	ks_vnode content = ks_vrequired(c, f, "content");
	const char *text =
		content.v ? (json_is_null(content.v) ? ""
						     : ks_vstring(c, &content))
			  : NULL;
	unsigned mode = 0644;
	ks_vnode m = ks_vchild(c, f, "mode");
	if (ks_vset(&m)) {
		const char *ms = NULL;
		if (json_is_string(m.v) || json_is_integer(m.v))
			ms = ks_vstring(c, &m);
		if (!ms || !parse_mode(ms, &mode)) {
			ks_verr(c, m.val, m.path,
				"expected a file mode of octal digits (like "
				"\"0644\"), got %s",
				ks_vdescribe(c, &m));
			ok = false;
		}
	}
	if (!ok || !text)
		return;
	out->path = ks_arena_strdup(c->a, path);
	out->content = text;
	out->mode = mode;
}

static void check_files(ks_vctx *c, const ks_vnode *n, ks_container *ct)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	ct->files = ks_arena_alloc(c->a, (nk + 1) * sizeof(*ct->files));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode f = ks_vchild(c, n, keys[i]);
		ks_file file = {0};
		check_file(c, &f, keys[i], &file);
		if (file.path)
			ct->files[ct->nfiles++] = file;
	}
}

static void check_dirs(ks_vctx *c, const ks_vnode *n, ks_container *ct)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	ct->dirs.items = ks_arena_alloc(c->a, (nk + 1) * sizeof(ks_kv));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode d = ks_vchild(c, n, keys[i]);
		if (!is_abs_path(keys[i])) {
			ks_verr(c, d.key, d.path,
				"mount path \"%s\" must be absolute", keys[i]);
			continue;
		}
		const char *s = ks_vstring(c, &d);
		if (!s)
			continue;
		const char *name = NULL;
		if (!strncmp(s, "secret://", 9))
			name = s + 9;
		else if (!strncmp(s, "configmap://", 12))
			name = s + 12;
		if (!name || !ks_is_dns1123_subdomain(name)) {
			ks_verr(c, d.val, d.path,
				"expected secret://NAME or configmap://NAME, "
				"got \"%s\"",
				s);
			continue;
		}
		ct->dirs.items[ct->dirs.n].key = ks_arena_strdup(c->a, keys[i]);
		ct->dirs.items[ct->dirs.n].value = s;
		ct->dirs.n++;
	}
}

/* A dirs mount path that is also the folder of some files would mount two
 * volumes at one path, which the API server refuses. */
static void check_mounts(ks_vctx *c, const ks_vnode *dirs, ks_container *ct)
{
	for (size_t i = 0; i < ct->dirs.n; i++) {
		const char *d = ct->dirs.items[i].key;
		size_t dl = strlen(d);
		while (dl > 1 && d[dl - 1] == '/')
			dl--;
		for (size_t j = 0; j < ct->nfiles; j++) {
			const char *p = ct->files[j].path;
			size_t fl = (size_t)(strrchr(p, '/') - p);
			if (!fl)
				fl = 1; /* "/x" lives in "/" */
			if (fl != dl || strncmp(p, d, dl))
				continue;
			ks_vnode k = ks_vchild(c, dirs, d);
			ks_verr(c, k.key, k.path,
				"mount path \"%s\" is also the folder of file "
				"\"%s\" (one path takes one volume)",
				d, p);
			break;
		}
	}
}

static bool secret_key_ok(const char *k)
{
	if (!*k || strlen(k) > 253)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.'))
			return false;
	return true;
}

static void check_env(ks_vctx *c, const ks_vnode *n, ks_container *ct)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	ct->env.items = ks_arena_alloc(c->a, (nk + 1) * sizeof(ks_kv));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode e = ks_vchild(c, n, keys[i]);
		if (!ks_is_env_name(keys[i])) {
			ks_verr(c, e.key, e.path,
				"\"%s\" is not a valid environment variable "
				"name (letters, digits, '_', '-' and '.', not "
				"starting with a digit)",
				keys[i]);
			continue;
		}
		const char *s = json_is_null(e.v) ? "" : ks_vstring(c, &e);
		if (!s)
			continue;
		if (!strncmp(s, "secret://", 9)) {
			const char *name = s + 9, *slash = strchr(name, '/');
			char *sn =
				slash ? ks_arena_strndup(c->a, name,
							 (size_t)(slash - name))
				      : NULL;
			if (!sn || !ks_is_dns1123_subdomain(sn) ||
			    !secret_key_ok(slash + 1)) {
				ks_verr(c, e.val, e.path,
					"expected secret://NAME/KEY, got "
					"\"%s\"",
					s);
				continue;
			}
		}
		ct->env.items[ct->env.n].key = ks_arena_strdup(c->a, keys[i]);
		ct->env.items[ct->env.n].value = s;
		ct->env.n++;
	}
}

static void check_container(ks_vctx *c, const ks_vnode *n, const char *name,
			    ks_container *ct)
{
	static const char *const keys[] = {
		"image",	 "command",	   "args",	   "env",
		"workingDir",	 "resources",	   "files",	   "dirs",
		"livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
	};
	ct->name = ks_arena_strdup(c->a, name);
	if (!ks_is_dns1123_label(name))
		ks_verr(c, n->key, n->path,
			"\"%s\" is not a valid container name (a DNS-1123 "
			"label: lowercase letters, digits and '-', at most 63)",
			name);
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	ks_vnode f = ks_vrequired(c, n, "image");
	if (f.v) {
		ct->image = ks_vstring(c, &f);
		if (ct->image && !*ct->image)
			ks_verr(c, f.val, f.path, "must not be empty");
	}
	f = ks_vchild(c, n, "command");
	if (ks_vset(&f))
		ct->has_command = ks_vstrlist(c, &f, &ct->command);
	f = ks_vchild(c, n, "args");
	if (ks_vset(&f))
		ct->has_args = ks_vstrlist(c, &f, &ct->args);
	f = ks_vchild(c, n, "env");
	if (ks_vset(&f))
		check_env(c, &f, ct);
	f = ks_vchild(c, n, "workingDir");
	if (ks_vset(&f))
		ct->workingDir = ks_vstring(c, &f);
	f = ks_vchild(c, n, "resources");
	if (ks_vset(&f))
		check_resources(c, &f, ct);
	f = ks_vchild(c, n, "files");
	if (ks_vset(&f))
		check_files(c, &f, ct);
	f = ks_vchild(c, n, "dirs");
	if (ks_vset(&f)) {
		check_dirs(c, &f, ct);
		check_mounts(c, &f, ct);
	}
	ks_probe *probes[] = {&ct->liveness, &ct->readiness, &ct->startup};
	for (size_t i = 0; i < 3; i++) {
		f = ks_vchild(c, n, keys[8 + i]);
		if (ks_vset(&f))
			check_probe(c, &f, probes[i]);
	}
	f = ks_vchild(c, n, "lifecycle");
	if (ks_vset(&f))
		check_lifecycle(c, &f, ct);
}

static int container_cmp(const void *pa, const void *pb)
{
	const ks_container *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

static void check_containers(ks_vctx *c, const ks_vnode *n, ks_workload *w)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	if (!nk) {
		ks_verr(c, n->val, n->path, "needs at least one container");
		return;
	}
	w->containers = ks_arena_alloc(c->a, nk * sizeof(*w->containers));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode ct = ks_vchild(c, n, keys[i]);
		check_container(c, &ct, keys[i], &w->containers[i]);
	}
	w->ncontainers = nk;
	qsort(w->containers, nk, sizeof(*w->containers), container_cmp);
}

/* ---- secrets, ports ---------------------------------------------------- */

static void check_secret(ks_vctx *c, const ks_vnode *n, const char *name,
			 ks_secret *out)
{
	static const char *const keys[] = {"type", "data", "immutable"};
	static const char *const types[] = {"basic", "token", "certificate",
					    "opaque", "external"};
	static const enum ks_secret_type tmap[] = {
		KS_SECRET_BASIC, KS_SECRET_TOKEN, KS_SECRET_CERT,
		KS_SECRET_OPAQUE};
	static const char *const need[][2] = {{"username", "password"},
					      {"token", NULL},
					      {"tls.crt", "tls.key"},
					      {NULL, NULL}};

	out->name = ks_arena_strdup(c->a, name);
	if (!ks_is_dns1123_subdomain(name))
		ks_verr(c, n->key, n->path,
			"\"%s\" is not a valid secret name (a DNS-1123 "
			"subdomain: lowercase letters, digits, '-' and '.')",
			name);
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	ks_vnode t = ks_vrequired(c, n, "type");
	int ti = -1;
	if (t.v) {
		ti = ks_venum(c, &t, types, NELEM(types));
		if (ti == 4) {
			ks_verr(c, t.val, t.path,
				"external secrets need a secret store, not "
				"supported");
			ti = -1;
		}
	}
	if (ti >= 0)
		out->type = tmap[ti];
	ks_vnode f = ks_vchild(c, n, "immutable");
	if (ks_vset(&f))
		ks_vbool(c, &f, &out->immutable);

	ks_vnode d = ks_vchild(c, n, "data");
	ks_vnode dpath = d; /* for messages about missing keys */
	if (ks_vset(&d) && ks_vmapping(c, &d)) {
		size_t nk;
		const char **dk = keys_of(c, &d, &nk);
		out->data.items =
			ks_arena_alloc(c->a, (nk + 1) * sizeof(ks_kv));
		for (size_t i = 0; i < nk; i++) {
			ks_vnode e = ks_vchild(c, &d, dk[i]);
			if (!secret_key_ok(dk[i])) {
				ks_verr(c, e.key, e.path,
					"\"%s\" is not a valid secret key "
					"(letters, digits, '-', '_' and '.')",
					dk[i]);
				continue;
			}
			if (json_is_null(e.v)) {
				ks_verr(c, e.val, e.path,
					"missing value (secret values are "
					"never generated)");
				continue;
			}
			const char *s = ks_vstring(c, &e);
			if (!s)
				continue;
			out->data.items[out->data.n].key =
				ks_arena_strdup(c->a, dk[i]);
			out->data.items[out->data.n].value = s;
			out->data.n++;
		}
	}
	if (ti < 0 || ti > 3)
		return;
	/* A missing key is the type's demand: reported at the type. */
	for (size_t k = 0; k < 2 && need[ti][k]; k++) {
		const char *key = need[ti][k];
		if (d.v && json_is_object(d.v) && json_object_get(d.v, key))
			continue;
		ks_verr(c, t.val, dpath.path,
			"missing key \"%s\" (type %s needs %s)", key, types[ti],
			ti == 1	  ? "\"token\""
			: ti == 0 ? "\"username\" and \"password\""
				  : "\"tls.crt\" and \"tls.key\"");
	}
}

static int secret_cmp(const void *pa, const void *pb)
{
	const ks_secret *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

static void check_secrets(ks_vctx *c, const ks_vnode *n, ks_workload *w)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	w->secrets = ks_arena_alloc(c->a, (nk + 1) * sizeof(*w->secrets));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode s = ks_vchild(c, n, keys[i]);
		check_secret(c, &s, keys[i], &w->secrets[i]);
	}
	w->nsecrets = nk;
	qsort(w->secrets, nk, sizeof(*w->secrets), secret_cmp);
}

static void check_port(ks_vctx *c, const ks_vnode *n, ks_port *out)
{
	static const char *const keys[] = {"port", "targetPort", "protocol",
					   "exposeInternet", "public"};
	static const char *const protos[] = {"TCP", "UDP"};
	out->port = 80;
	out->targetPort = 0;
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	int64_t v;
	ks_vnode f = ks_vchild(c, n, "port");
	if (ks_vset(&f) && ks_vint_range(c, &f, 1, 65535, &v))
		out->port = (int)v;
	f = ks_vchild(c, n, "targetPort");
	if (ks_vset(&f) && ks_vint_range(c, &f, 1, 65535, &v))
		out->targetPort = (int)v;
	if (!out->targetPort)
		out->targetPort = out->port;
	f = ks_vchild(c, n, "protocol");
	if (ks_vset(&f))
		out->udp = ks_venum(c, &f, protos, 2) == 1;
	bool expose = false, pub = false;
	ks_vnode e = ks_vchild(c, n, "exposeInternet");
	ks_vnode p = ks_vchild(c, n, "public");
	bool has_e = ks_vset(&e) && ks_vbool(c, &e, &expose);
	bool has_p = ks_vset(&p) && ks_vbool(c, &p, &pub);
	if (has_e && has_p && expose != pub)
		ks_verr(c, p.val, p.path,
			"public (another name for exposeInternet) is %s but "
			"exposeInternet is %s",
			pub ? "true" : "false", expose ? "true" : "false");
	out->expose = has_e ? expose : pub;
}

static void check_ports(ks_vctx *c, const ks_vnode *n, ks_workload *w)
{
	if (!ks_vlist(c, n))
		return;
	size_t len = json_array_size(n->v);
	w->ports = ks_arena_alloc(c->a, (len + 1) * sizeof(*w->ports));
	for (size_t i = 0; i < len; i++) {
		ks_vnode it = ks_vitem(c, n, i);
		ks_port p = {0};
		unsigned before = c->nerr;
		check_port(c, &it, &p);
		if (c->nerr != before)
			continue;
		size_t j;
		for (j = 0; j < w->nports; j++)
			if (w->ports[j].port == p.port &&
			    w->ports[j].udp == p.udp)
				break;
		if (j < w->nports) {
			ks_verr(c, it.val, it.path,
				"port %d/%s is listed twice", p.port,
				p.udp ? "UDP" : "TCP");
			continue;
		}
		w->ports[w->nports++] = p;
	}
}

/* ---- workload ---------------------------------------------------------- */

static void check_workload(ks_vctx *c, const ks_vnode *n, ks_workload *w)
{
	static const char *const svc_keys[] = {
		"_type",  "containers",	 "secrets", "replicas",
		"labels", "annotations", "ports",   "type"};
	static const char *const job_keys[] = {
		"_type",  "containers",	 "secrets", "replicas",
		"labels", "annotations", "schedule"};
	static const char *const kinds[] = {"Service", "Job"};
	static const char *const stypes[] = {"Deployment", "CollaSet"};

	w->replicas = -1;
	if (!ks_vmapping(c, n))
		return;
	ks_vnode t = ks_vchild(c, n, "_type");
	if (ks_vset(&t) && ks_venum(c, &t, kinds, 2) == 1)
		w->kind = KS_WL_JOB;
	if (w->kind == KS_WL_JOB)
		ks_vknown(c, n, job_keys, NELEM(job_keys));
	else
		ks_vknown(c, n, svc_keys, NELEM(svc_keys));

	ks_vnode f = ks_vrequired(c, n, "containers");
	if (f.v)
		check_containers(c, &f, w);
	f = ks_vchild(c, n, "secrets");
	if (ks_vset(&f))
		check_secrets(c, &f, w);
	f = ks_vchild(c, n, "replicas");
	if (ks_vset(&f))
		ks_vint_range(c, &f, 0, INT32_MAX, &w->replicas);
	f = ks_vchild(c, n, "labels");
	if (ks_vset(&f))
		ks_vlabels(c, &f, false, &w->labels);
	f = ks_vchild(c, n, "annotations");
	if (ks_vset(&f))
		ks_vlabels(c, &f, true, &w->annotations);
	if (w->kind == KS_WL_SERVICE) {
		f = ks_vchild(c, n, "ports");
		if (ks_vset(&f))
			check_ports(c, &f, w);
		f = ks_vchild(c, n, "type");
		if (ks_vset(&f)) {
			int i = ks_venum(c, &f, stypes, 2);
			if (i >= 0)
				w->type = i == 0 ? KS_ST_DEPLOYMENT
						 : KS_ST_COLLASET;
		}
		return;
	}
	f = ks_vchild(c, n, "schedule");
	if (!ks_vset(&f))
		return;
	const char *s = ks_vstring(c, &f);
	if (!s || !*s)
		return;
	char why[256] = "";
	if (ks_cron_check(s, why, sizeof(why)) < 0) {
		ks_verr(c, f.val, f.path, "\"%s\" is not a cron schedule%s%s",
			s, *why ? ": " : "", why);
		return;
	}
	w->schedule = s;
}

/* ---- the other blocks -------------------------------------------------- */

static void check_opsrule(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	static const char *const keys[] = {"maxUnavailable"};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, 1);
	ks_vnode m = ks_vchild(c, n, "maxUnavailable");
	if (ks_vset(&m)) {
		ks_vintorpct(c, &m, &app->opsRule);
		return;
	}
	app->opsRule.present = true;
	app->opsRule.is_percent = true;
	app->opsRule.value = 25;
}

static void check_monitoring(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	static const char *const keys[] = {"path", "port"};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	app->has_monitoring = true;
	app->monitoring_where.file = c->file;
	app->monitoring_where.mark = n->key;
	ks_vnode f = ks_vchild(c, n, "path");
	if (ks_vset(&f)) {
		const char *s = ks_vstring(c, &f);
		if (s && s[0] != '/')
			ks_verr(c, f.val, f.path,
				"expected a path starting with '/', got "
				"\"%s\"",
				s);
		else
			app->monitoring_path = s;
	}
	f = ks_vchild(c, n, "port");
	if (!ks_vset(&f))
		return;
	if (json_is_integer(f.v)) {
		int64_t v;
		if (ks_vint_range(c, &f, 1, 65535, &v))
			app->monitoring_port =
				ks_arena_printf(c->a, "%" PRId64, v);
		return;
	}
	const char *s = ks_vstring(c, &f);
	if (s && !*s)
		ks_verr(c, f.val, f.path, "must not be empty");
	else if (s)
		app->monitoring_port = s;
}

static void check_database(ks_vctx *c, const ks_vnode *n, const char *key,
			   ks_database *out)
{
	static const char *const keys[] = {"_type", "type", "version"};
	static const char *const engines[] = {"MySQL", "PostgreSQL"};
	static const char *const types[] = {"local", "cloud"};
	out->key = ks_arena_strdup(c->a, key);
	if (!ks_is_dns1123_label(key))
		ks_verr(c, n->key, n->path,
			"\"%s\" is not a valid database name (a DNS-1123 "
			"label: lowercase letters, digits and '-', at most 63)",
			key);
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, NELEM(keys));
	ks_vnode f = ks_vrequired(c, n, "_type");
	if (f.v && ks_venum(c, &f, engines, 2) == 1)
		out->engine = KS_DB_POSTGRES;
	f = ks_vrequired(c, n, "type");
	if (f.v && json_is_string(f.v) &&
	    !strcmp(json_string_value(f.v), "cloud"))
		ks_verr(c, f.val, f.path, "cloud databases are not supported");
	else if (f.v)
		ks_venum(c, &f, types, 1);
	f = ks_vrequired(c, n, "version");
	if (f.v) {
		out->version = ks_vstring(c, &f);
		if (out->version && !*out->version)
			ks_verr(c, f.val, f.path, "must not be empty");
	}
}

static int database_cmp(const void *pa, const void *pb)
{
	const ks_database *a = pa, *b = pb;
	return strcmp(a->key, b->key);
}

static void check_databases(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	app->databases = ks_arena_alloc(c->a, (nk + 1) * sizeof(ks_database));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode d = ks_vchild(c, n, keys[i]);
		check_database(c, &d, keys[i], &app->databases[i]);
	}
	app->ndatabases = nk;
	qsort(app->databases, nk, sizeof(ks_database), database_cmp);
}

static char *lower(ks_arena *a, const char *s)
{
	char *l = ks_arena_strdup(a, s);
	for (char *p = l; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return l;
}

/* Cells seen so far, to find duplicates across zones. */
struct seen_cell {
	const char *lower, *zone;
};

static void check_zone(ks_vctx *c, const ks_vnode *z, const char *zone,
		       ks_app *app, struct seen_cell *seen)
{
	static const char *const keys[] = {"cells"};
	const char *why = ks_label_value_problem(zone);
	if (why || !*zone)
		ks_verr(c, z->key, z->path,
			"\"%s\" is not a valid zone name (it becomes a label "
			"value): %s",
			zone, why ? why : "must not be empty");
	if (!ks_vmapping(c, z))
		return;
	ks_vknown(c, z, keys, 1);
	ks_vnode cells = ks_vrequired(c, z, "cells");
	if (!cells.v || !ks_vlist(c, &cells))
		return;
	size_t len = json_array_size(cells.v);
	if (!len) {
		ks_verr(c, z->key, z->path, "needs at least one cell");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		ks_vnode it = ks_vitem(c, &cells, i);
		const char *s = ks_vstring(c, &it);
		if (!s)
			continue;
		const char *l = lower(c->a, s);
		if (!ks_is_dns1123_label(l)) {
			ks_verr(c, it.val, it.path,
				"\"%s\" is not a valid cell name (a DNS-1123 "
				"label once lower-cased: letters, digits and "
				"'-', at most 63)",
				s);
			continue;
		}
		size_t j;
		for (j = 0; j < app->ncells; j++)
			if (!strcmp(seen[j].lower, l))
				break;
		if (j < app->ncells) {
			ks_verr(c, it.val, it.path,
				"cell \"%s\" is already listed in zone \"%s\" "
				"(cells must be unique, ignoring case)",
				s, seen[j].zone);
			continue;
		}
		seen[app->ncells].lower = l;
		seen[app->ncells].zone = zone;
		app->cells[app->ncells].zone = ks_arena_strdup(c->a, zone);
		app->cells[app->ncells].cell = s;
		app->ncells++;
	}
}

static void check_topologies(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **keys = keys_of(c, n, &nk);
	if (!nk) {
		ks_verr(c, n->val, n->path, "needs at least one zone");
		return;
	}
	size_t total = 0;
	for (size_t i = 0; i < nk; i++) {
		json_t *z = json_object_get(n->v, keys[i]);
		json_t *cl =
			json_is_object(z) ? json_object_get(z, "cells") : NULL;
		total += json_is_array(cl) ? json_array_size(cl) : 0;
	}
	app->cells = ks_arena_alloc(c->a, (total + 1) * sizeof(ks_cell));
	struct seen_cell *seen =
		ks_arena_alloc(c->a, (total + 1) * sizeof(*seen));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode z = ks_vchild(c, n, keys[i]);
		check_zone(c, &z, keys[i], app, seen);
	}
}

static void check_pipeline(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	static const char *const keys[] = {"deploy"};
	static const char *const dkeys[] = {"manualApprove", "rollbackIfFailed",
					    "timeout"};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, 1);
	ks_vnode d = ks_vchild(c, n, "deploy");
	if (!ks_vset(&d) || !ks_vmapping(c, &d))
		return;
	ks_vknown(c, &d, dkeys, NELEM(dkeys));
	ks_vnode f = ks_vchild(c, &d, "manualApprove");
	if (ks_vset(&f))
		ks_vbool(c, &f, &app->manualApprove);
	f = ks_vchild(c, &d, "rollbackIfFailed");
	if (ks_vset(&f))
		ks_vbool(c, &f, &app->rollbackIfFailed);
	f = ks_vchild(c, &d, "timeout");
	if (ks_vset(&f))
		ks_vduration(c, &f, &app->timeout_ms, NULL);
}

static void check_policysets(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	static const char *const keys[] = {"kind"};
	static const char *const kinds[] = {"mandatory", "advisory"};
	if (!ks_vmapping(c, n))
		return;
	size_t nk;
	const char **names = keys_of(c, n, &nk);
	app->policysets =
		ks_arena_alloc(c->a, (nk + 1) * sizeof(*app->policysets));
	for (size_t i = 0; i < nk; i++) {
		ks_vnode p = ks_vchild(c, n, names[i]);
		if (!ks_vmapping(c, &p))
			continue;
		ks_vknown(c, &p, keys, 1);
		ks_vnode k = ks_vrequired(c, &p, "kind");
		int ki = k.v ? ks_venum(c, &k, kinds, 2) : -1;
		if (ki < 0)
			continue;
		app->policysets[app->npolicysets].name =
			ks_arena_strdup(c->a, names[i]);
		app->policysets[app->npolicysets].mandatory = ki == 0;
		app->npolicysets++;
	}
}

/* "app" or "project/stack/app", each part a DNS-1123 label. */
static bool dep_ref_ok(const char *s)
{
	char buf[256];
	size_t len = strlen(s);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	char *parts[4];
	size_t np = 0;
	char *p = buf;
	for (;;) {
		if (np == 3)
			return false;
		parts[np++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (np != 1 && np != 3)
		return false;
	for (size_t i = 0; i < np; i++)
		if (!ks_is_dns1123_label(parts[i]))
			return false;
	return true;
}

static void check_dependency(ks_vctx *c, const ks_vnode *n, ks_app *app)
{
	static const char *const keys[] = {"dependedApps"};
	if (!ks_vmapping(c, n))
		return;
	ks_vknown(c, n, keys, 1);
	ks_vnode l = ks_vchild(c, n, "dependedApps");
	if (!ks_vset(&l) || !ks_vlist(c, &l))
		return;
	size_t len = json_array_size(l.v);
	app->deps = ks_arena_alloc(c->a, (len + 1) * sizeof(*app->deps));
	for (size_t i = 0; i < len; i++) {
		ks_vnode it = ks_vitem(c, &l, i);
		const char *s = ks_vstring(c, &it);
		if (!s)
			continue;
		if (!dep_ref_ok(s)) {
			ks_verr(c, it.val, it.path,
				"expected an app name or project/stack/app, "
				"got \"%s\"",
				s);
			continue;
		}
		size_t j;
		for (j = 0; j < app->ndeps; j++)
			if (!strcmp(app->deps[j].text, s))
				break;
		if (j < app->ndeps) {
			ks_verr(c, it.val, it.path, "\"%s\" is listed twice",
				s);
			continue;
		}
		ks_depref *d = &app->deps[app->ndeps++];
		d->text = s;
		d->where.file = c->file;
		d->where.mark = it.val;
		d->path = it.path;
	}
}

/* ---- the app ----------------------------------------------------------- */

int ks_app_validate(ks_app *out, ks_arena *a, const ks_doc *doc,
		    const char *app_name, const ks_node_info *key_info,
		    const json_t *value, const char *project, const char *stack,
		    ks_errlist *errs)
{
	static const char *const keys[] = {
		"workload",   "opsRule",     "monitoring", "database",
		"labels",     "annotations", "topologies", "pipeline",
		"policysets", "dependency",
	};
	ks_vctx c = {a, doc, ks_arena_strdup(a, ks_doc_file(doc)), errs, 0};
	ks_mark km = {0, 0}, vm = {0, 0};
	if (key_info) {
		km = key_info->key;
		vm = key_info->value;
	}
	ks_vnode n = ks_vroot(value, ks_arena_strdup(a, app_name), km, vm);
	ks_app app;
	memset(&app, 0, sizeof(app));
	app.project = ks_arena_strdup(a, project);
	app.stack = ks_arena_strdup(a, stack);
	app.name = n.path;
	app.fullname = ks_arena_printf(a, "%s-%s-%s", project, stack, app_name);
	app.where.file = c.file;
	app.where.mark = km;
	app.timeout_ms = 10 * 60 * 1000;
	app.workload.replicas = -1;

	if (!ks_vmapping(&c, &n))
		return KS_EINVAL;
	ks_vknown(&c, &n, keys, NELEM(keys));

	ks_vnode f = ks_vrequired(&c, &n, "workload");
	if (f.v)
		check_workload(&c, &f, &app.workload);
	f = ks_vchild(&c, &n, "opsRule");
	if (ks_vset(&f))
		check_opsrule(&c, &f, &app);
	f = ks_vchild(&c, &n, "monitoring");
	if (ks_vset(&f))
		check_monitoring(&c, &f, &app);
	f = ks_vchild(&c, &n, "database");
	if (ks_vset(&f))
		check_databases(&c, &f, &app);
	f = ks_vchild(&c, &n, "labels");
	if (ks_vset(&f))
		ks_vlabels(&c, &f, false, &app.labels);
	f = ks_vchild(&c, &n, "annotations");
	if (ks_vset(&f))
		ks_vlabels(&c, &f, true, &app.annotations);
	f = ks_vchild(&c, &n, "topologies");
	if (ks_vset(&f))
		check_topologies(&c, &f, &app);
	f = ks_vchild(&c, &n, "pipeline");
	if (ks_vset(&f))
		check_pipeline(&c, &f, &app);
	f = ks_vchild(&c, &n, "policysets");
	if (ks_vset(&f))
		check_policysets(&c, &f, &app);
	f = ks_vchild(&c, &n, "dependency");
	if (ks_vset(&f))
		check_dependency(&c, &f, &app);

	if (c.nerr)
		return KS_EINVAL;
	*out = app;
	return 0;
}
