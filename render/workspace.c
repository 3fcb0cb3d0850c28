/*
 * The workspace: platform defaults per module, a default block and named
 * blocks that select projects (spec/appconfiguration.md § The workspace).
 */
#include "render/internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"
#include "core/yaml.h"
#include "render/check.h"
#include "core/banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum module {
	M_SERVICE,
	M_JOB,
	M_PORT,
	M_OPSRULE,
	M_MONITORING,
	M_NAMESPACE,
	M_MYSQL,
	M_POSTGRES,
	M_COUNT
};

static const char *const module_names[M_COUNT] = {
	"service",    "job",	   "port",  "opsRule",
	"monitoring", "namespace", "mysql", "postgres",
};

/* One block of a module; has_* say which keys it sets. */
struct ws_block {
	ks_strlist selector;
	bool has_type, has_replicas, has_labels, has_annotations;
	bool has_max_unavailable, has_operator_mode, has_monitor_type;
	bool has_interval, has_timeout, has_scheme, has_name, has_username,
		has_size;
	enum ks_service_type service_type;
	const char *port_type;
	int64_t replicas;
	ks_strmap labels, annotations;
	ks_intorpct max_unavailable;
	bool operator_mode, pod_monitor;
	const char *interval, *timeout, *scheme;
	int64_t interval_ms, timeout_ms;
	ks_mark interval_mark, timeout_mark;
	const char *ns_name;
	const char *username;
	int64_t size;
};

struct ws_module {
	bool present;
	struct ws_block def;
	struct ws_block *named;
	size_t nnamed;
};

struct ks_workspace {
	struct ws_module mods[M_COUNT];
};

/* The keys of each module's blocks (named blocks add projectSelector). */
static const char *const keys_service[] = {"type", "replicas", "labels",
					   "annotations"};
static const char *const keys_job[] = {"replicas", "labels", "annotations"};
static const char *const keys_port[] = {"type", "labels", "annotations"};
static const char *const keys_opsrule[] = {"maxUnavailable"};
static const char *const keys_monitoring[] = {"operatorMode", "monitorType",
					      "interval", "timeout", "scheme"};
static const char *const keys_namespace[] = {"name"};
static const char *const keys_db[] = {"username", "size"};

static const struct {
	const char *const *keys;
	size_t n;
} module_keys[M_COUNT] = {
	{keys_service, NELEM(keys_service)},
	{keys_job, NELEM(keys_job)},
	{keys_port, NELEM(keys_port)},
	{keys_opsrule, NELEM(keys_opsrule)},
	{keys_monitoring, NELEM(keys_monitoring)},
	{keys_namespace, NELEM(keys_namespace)},
	{keys_db, NELEM(keys_db)},
	{keys_db, NELEM(keys_db)},
};

static void check_known(ks_vctx *c, const ks_vnode *n, enum module m,
			bool named)
{
	const char *keys[8];
	size_t k = 0;
	for (size_t i = 0; i < module_keys[m].n; i++)
		keys[k++] = module_keys[m].keys[i];
	if (named)
		keys[k++] = "projectSelector";
	ks_vknown(c, n, keys, k);
}

static void block_service_port(ks_vctx *c, const ks_vnode *n, enum module m,
			       struct ws_block *b)
{
	static const char *const stypes[] = {"Deployment", "CollaSet"};
	static const char *const ptypes[] = {"aws", "alicloud"};
	ks_vnode f = ks_vchild(c, n, "type");
	if (m != M_JOB && ks_vset(&f)) {
		int i = m == M_SERVICE ? ks_venum(c, &f, stypes, 2)
				       : ks_venum(c, &f, ptypes, 2);
		b->has_type = i >= 0;
		if (m == M_SERVICE)
			b->service_type =
				i == 1 ? KS_ST_COLLASET : KS_ST_DEPLOYMENT;
		else if (i >= 0)
			b->port_type = ptypes[i];
	}
	f = ks_vchild(c, n, "replicas");
	if (m != M_PORT && ks_vset(&f))
		b->has_replicas =
			ks_vint_range(c, &f, 0, INT32_MAX, &b->replicas);
	f = ks_vchild(c, n, "labels");
	if (ks_vset(&f))
		b->has_labels = ks_vlabels(c, &f, false, &b->labels);
	f = ks_vchild(c, n, "annotations");
	if (ks_vset(&f))
		b->has_annotations = ks_vlabels(c, &f, true, &b->annotations);
}

static void block_monitoring(ks_vctx *c, const ks_vnode *n, struct ws_block *b)
{
	static const char *const mtypes[] = {"Service", "Pod"};
	static const char *const schemes[] = {"http", "https"};
	ks_vnode f = ks_vchild(c, n, "operatorMode");
	if (ks_vset(&f))
		b->has_operator_mode = ks_vbool(c, &f, &b->operator_mode);
	f = ks_vchild(c, n, "monitorType");
	if (ks_vset(&f)) {
		int i = ks_venum(c, &f, mtypes, 2);
		b->has_monitor_type = i >= 0;
		b->pod_monitor = i == 1;
	}
	f = ks_vchild(c, n, "interval");
	if (ks_vset(&f)) {
		b->has_interval =
			ks_vduration(c, &f, &b->interval_ms, &b->interval);
		b->interval_mark = f.val;
	}
	f = ks_vchild(c, n, "timeout");
	if (ks_vset(&f)) {
		b->has_timeout =
			ks_vduration(c, &f, &b->timeout_ms, &b->timeout);
		b->timeout_mark = f.val;
	}
	f = ks_vchild(c, n, "scheme");
	if (ks_vset(&f)) {
		int i = ks_venum(c, &f, schemes, 2);
		b->has_scheme = i >= 0;
		if (i >= 0)
			b->scheme = schemes[i];
	}
}

static void block_other(ks_vctx *c, const ks_vnode *n, enum module m,
			struct ws_block *b)
{
	ks_vnode f;
	if (m == M_OPSRULE) {
		f = ks_vchild(c, n, "maxUnavailable");
		if (ks_vset(&f))
			b->has_max_unavailable =
				ks_vintorpct(c, &f, &b->max_unavailable);
		return;
	}
	if (m == M_NAMESPACE) {
		f = ks_vchild(c, n, "name");
		if (!ks_vset(&f))
			return;
		const char *s = ks_vstring(c, &f);
		if (s && *s && !ks_is_dns1123_label(s))
			ks_verr(c, f.val, f.path,
				"\"%s\" is not a valid namespace name (a "
				"DNS-1123 label: lowercase letters, digits "
				"and '-', at most 63)",
				s);
		else if (s) {
			b->has_name = true;
			b->ns_name = s;
		}
		return;
	}
	f = ks_vchild(c, n, "username");
	if (ks_vset(&f)) {
		const char *s = ks_vstring(c, &f);
		if (s && !*s)
			ks_verr(c, f.val, f.path, "must not be empty");
		else if (s) {
			b->has_username = true;
			b->username = s;
		}
	}
	f = ks_vchild(c, n, "size");
	if (ks_vset(&f))
		b->has_size = ks_vint_range(c, &f, 1, 1 << 20, &b->size);
}

static void parse_block(ks_vctx *c, const ks_vnode *n, enum module m,
			bool named, struct ws_block *b)
{
	if (!ks_vmapping(c, n))
		return;
	check_known(c, n, m, named);
	if (named) {
		ks_vnode sel = ks_vrequired(c, n, "projectSelector");
		if (sel.v && ks_vstrlist(c, &sel, &b->selector) &&
		    !b->selector.n)
			ks_verr(c, sel.val, sel.path,
				"needs at least one project");
	}
	switch (m) {
	case M_SERVICE:
	case M_JOB:
	case M_PORT:
		block_service_port(c, n, m, b);
		break;
	case M_MONITORING:
		block_monitoring(c, n, b);
		break;
	default:
		block_other(c, n, m, b);
		break;
	}
}

/* timeout <= interval on the block's effective values (named blocks over
 * the default, the default over 30s / 15s). */
static void check_monitoring_times(ks_vctx *c, const struct ws_block *def,
				   const struct ws_block *b, const char *path)
{
	int64_t interval = 30000, timeout = 15000;
	const char *it = "30s", *tt = "15s";
	ks_mark m = {0, 0};
	if (def->has_interval) {
		interval = def->interval_ms;
		it = def->interval;
		m = def->interval_mark;
	}
	if (def->has_timeout) {
		timeout = def->timeout_ms;
		tt = def->timeout;
		m = def->timeout_mark;
	}
	if (b != def && b->has_interval) {
		interval = b->interval_ms;
		it = b->interval;
		m = b->interval_mark;
	}
	if (b != def && b->has_timeout) {
		timeout = b->timeout_ms;
		tt = b->timeout;
		m = b->timeout_mark;
	}
	if (b != def && !b->has_interval && !b->has_timeout)
		return; /* the default block's own check covers it */
	if (timeout > interval)
		ks_verr(c, m, path,
			"the timeout %s is longer than the interval %s", tt,
			it);
}

static void parse_module(ks_vctx *c, const ks_vnode *n, enum module m,
			 struct ws_module *mod)
{
	mod->present = true;
	if (!ks_vmapping(c, n))
		return;
	size_t cnt = json_object_size(n->v);
	mod->named = ks_arena_alloc(c->a, (cnt + 1) * sizeof(*mod->named));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)n->v, key, v)
	{
		ks_vnode b = ks_vchild(c, n, key);
		if (json_is_null(v))
			continue;
		if (!strcmp(key, "default")) {
			parse_block(c, &b, m, false, &mod->def);
			if (m == M_MONITORING)
				check_monitoring_times(c, &mod->def, &mod->def,
						       b.path);
			continue;
		}
		struct ws_block *nb = &mod->named[mod->nnamed++];
		parse_block(c, &b, m, true, nb);
		if (m == M_MONITORING)
			check_monitoring_times(c, &mod->def, nb, b.path);
	}
}

static void parse_workspace(ks_vctx *c, const ks_doc *doc, ks_workspace *ws)
{
	static const char *const top[] = {"modules"};
	json_t *root = ks_doc_root(doc);
	ks_mark rm = ks_doc_root_mark(doc);
	ks_vnode n = ks_vroot(root, "", rm, rm);
	if (!root)
		return; /* an empty workspace: no modules */
	if (!json_is_object(root)) {
		ks_verr(c, rm, "", "expected a mapping with \"modules\"");
		return;
	}
	ks_vknown(c, &n, top, 1);
	ks_vnode mods = ks_vchild(c, &n, "modules");
	if (!ks_vset(&mods) || !ks_vmapping(c, &mods))
		return;
	ks_vknown(c, &mods, module_names, M_COUNT);
	for (int m = 0; m < M_COUNT; m++) {
		ks_vnode mn = ks_vchild(c, &mods, module_names[m]);
		if (ks_vset(&mn))
			parse_module(c, &mn, (enum module)m, &ws->mods[m]);
	}
}

int ks_workspace_load(ks_workspace **out, ks_arena *a, const char *path,
		      ks_errlist *errs)
{
	ks_doc *doc = NULL;
	if (ks_yaml_load_file(&doc, path, path, KS_YAML_SINGLE, errs) < 0)
		return KS_EINVAL;
	ks_workspace *ws = ks_arena_alloc(a, sizeof(*ws));
	ks_vctx c = {a, doc, ks_arena_strdup(a, path), errs, 0};
	parse_workspace(&c, doc, ws);
	ks_doc_free(doc);
	if (c.nerr)
		return KS_EINVAL;
	*out = ws;
	return 0;
}

static const struct ws_block *select_block(const struct ws_module *mod,
					   const char *project)
{
	for (size_t i = 0; i < mod->nnamed; i++)
		for (size_t j = 0; j < mod->named[i].selector.n; j++)
			if (!strcmp(mod->named[i].selector.items[j], project))
				return &mod->named[i];
	return NULL;
}

/* Applies the keys block B sets to the view, for module M. */
static void apply_block(ks_workspace_view *v, enum module m,
			const struct ws_block *b)
{
	switch (m) {
	case M_SERVICE:
		if (b->has_type)
			v->service_type = b->service_type;
		if (b->has_replicas)
			v->service_replicas = b->replicas;
		if (b->has_labels)
			v->service_labels = b->labels;
		if (b->has_annotations)
			v->service_annotations = b->annotations;
		break;
	case M_JOB:
		if (b->has_replicas)
			v->job_replicas = b->replicas;
		if (b->has_labels)
			v->job_labels = b->labels;
		if (b->has_annotations)
			v->job_annotations = b->annotations;
		break;
	case M_PORT:
		if (b->has_type)
			v->port_type = b->port_type;
		if (b->has_labels)
			v->port_labels = b->labels;
		if (b->has_annotations)
			v->port_annotations = b->annotations;
		break;
	case M_OPSRULE:
		if (b->has_max_unavailable)
			v->opsRule = b->max_unavailable;
		break;
	case M_MONITORING:
		if (b->has_operator_mode)
			v->operatorMode = b->operator_mode;
		if (b->has_monitor_type)
			v->podMonitor = b->pod_monitor;
		if (b->has_interval)
			v->interval = b->interval;
		if (b->has_timeout)
			v->timeout = b->timeout;
		if (b->has_scheme)
			v->scheme = b->scheme;
		break;
	case M_NAMESPACE:
		if (b->has_name)
			v->namespace_name = *b->ns_name ? b->ns_name : NULL;
		break;
	case M_MYSQL:
	case M_POSTGRES: {
		const char **user = m == M_MYSQL ? &v->mysql_username
						 : &v->postgres_username;
		int64_t *size =
			m == M_MYSQL ? &v->mysql_size : &v->postgres_size;
		if (b->has_username)
			*user = b->username;
		if (b->has_size)
			*size = b->size;
		break;
	}
	default:
		break;
	}
}

void ks_workspace_view_for(const ks_workspace *ws, const char *project,
			   ks_workspace_view *out)
{
	memset(out, 0, sizeof(*out));
	out->service_type = KS_ST_DEPLOYMENT;
	out->service_replicas = 2;
	out->job_replicas = 1;
	out->interval = "30s";
	out->timeout = "15s";
	out->scheme = "http";
	out->mysql_username = "root";
	out->postgres_username = "root";
	out->mysql_size = 10;
	out->postgres_size = 10;
	if (!ws)
		return;
	for (int m = 0; m < M_COUNT; m++) {
		const struct ws_module *mod = &ws->mods[m];
		if (!mod->present)
			continue;
		if (m == M_OPSRULE) {
			/* The module's presence means an opsRule for every
			 * Service; 25% unless set. */
			out->opsRule.present = true;
			out->opsRule.is_percent = true;
			out->opsRule.value = 25;
		}
		if (m == M_MONITORING)
			out->has_monitoring = true;
		apply_block(out, (enum module)m, &mod->def);
		const struct ws_block *b = select_block(mod, project);
		if (b)
			apply_block(out, (enum module)m, b);
	}
}

const char *ks_app_namespace(ks_arena *a, const ks_app *app,
			     const ks_workspace_view *ws)
{
	if (ws && ws->namespace_name && *ws->namespace_name)
		return ws->namespace_name;
	return ks_arena_printf(a, "%s-%s", app->project, app->stack);
}
