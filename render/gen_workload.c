/*
 * The workload of an app: containers (env, resources, probes, lifecycle,
 * files, dirs), the ConfigMaps for files, the Deployment / CollaSet / Job /
 * CronJob (once, or once per topology cell) and its opsRule.
 */
#include "render/gen.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/values.h"
#include "core/banned.h"

/* ---- probes and lifecycle handlers ------------------------------------ */

/* Host and port of "host[:port]" (host may be "[v6]") up to END. */
struct hostport {
	char *host; /* heap, brackets removed */
	const char *port;
	size_t portlen;
	const char *rest; /* after host[:port] */
};

static void split_hostport(const char *s, const char *end_chars,
			   struct hostport *hp)
{
	size_t hn;
	const char *h = s;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		hn = rb ? (size_t)(rb - s) + 1 : strlen(s);
		h = s + 1;
		hl = hn >= 2 ? hn - 2 : 0;
	} else {
		hn = strcspn(s, ":");
		size_t stop = strcspn(s, end_chars);
		if (stop < hn)
			hn = stop;
		hl = hn;
	}
	hp->host = ks_xstrndup(h, hl);
	hp->port = NULL;
	hp->portlen = 0;
	const char *rest = s + hn;
	if (*rest == ':') {
		rest++;
		hp->port = rest;
		hp->portlen = strcspn(rest, end_chars);
		rest += hp->portlen;
	}
	hp->rest = rest;
}

/* Kubernetes resolves an omitted host to the pod's IP, which is what
 * "localhost" in an AppConfiguration means; the kubelet would resolve
 * "localhost" to the node instead. */
static bool is_local_host(const char *h)
{
	return !strcasecmp(h, "localhost") || !strcmp(h, "127.0.0.1");
}

/* A port as JSON: a number when numeric, else a named port. */
static json_t *port_value(const char *p, size_t n)
{
	char buf[16];
	if (n && n < sizeof(buf) && strspn(p, "0123456789") >= n) {
		memcpy(buf, p, n);
		buf[n] = '\0';
		return json_integer(strtol(buf, NULL, 10));
	}
	return json_stringn(p, n);
}

/* {path?, port, host?, scheme, httpHeaders?} from a validated http(s) URL:
 * scheme upper-cased, host left out when local, port from the URL or the
 * scheme's default, path with the query (the fragment dropped), left out
 * when empty. */
static json_t *http_get(const char *url, const ks_strmap *headers)
{
	bool https = !strncasecmp(url, "https://", 8);
	struct hostport hp;
	split_hostport(url + (https ? 8 : 7), "/?#", &hp);
	size_t pathlen = strcspn(hp.rest, "#");
	json_t *o = json_object();
	if (pathlen) {
		char *path =
			hp.rest[0] == '?'
				? ks_xasprintf("/%.*s", (int)pathlen, hp.rest)
				: ks_xstrndup(hp.rest, pathlen);
		json_object_set_new(o, "path", json_string(path));
		free(path);
	}
	if (hp.portlen)
		json_object_set_new(o, "port", port_value(hp.port, hp.portlen));
	else
		json_object_set_new(o, "port", json_integer(https ? 443 : 80));
	if (*hp.host && !is_local_host(hp.host))
		json_object_set_new(o, "host", json_string(hp.host));
	json_object_set_new(o, "scheme", json_string(https ? "HTTPS" : "HTTP"));
	if (headers && headers->n) {
		json_t *hs = json_array();
		for (size_t i = 0; i < headers->n; i++)
			json_array_append_new(
				hs, json_pack("{s:s, s:s}", "name",
					      headers->items[i].key, "value",
					      headers->items[i].value));
		json_object_set_new(o, "httpHeaders", hs);
	}
	free(hp.host);
	return o;
}

/* {host?, port} from "host:port" or "tcp://host:port"; a local host is
 * left out as for Http (the brief's choice, for the same reason). */
static json_t *tcp_socket(const char *url)
{
	if (!strncasecmp(url, "tcp://", 6))
		url += 6;
	struct hostport hp;
	split_hostport(url, "", &hp);
	json_t *o = json_object();
	if (*hp.host && !is_local_host(hp.host))
		json_object_set_new(o, "host", json_string(hp.host));
	json_object_set_new(o, "port", port_value(hp.port, hp.portlen));
	free(hp.host);
	return o;
}

static json_t *strlist(const ks_strlist *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->items[i]));
	return a;
}

/* The handler as the members of a probe or lifecycle handler. */
static json_t *handler_json(const ks_handler *h)
{
	json_t *o = json_object();
	switch (h->type) {
	case KS_H_HTTP:
		json_object_set_new(o, "httpGet",
				    http_get(h->url, &h->headers));
		break;
	case KS_H_EXEC:
		json_object_set_new(
			o, "exec",
			json_pack("{s:o}", "command", strlist(&h->command)));
		break;
	case KS_H_TCP:
		json_object_set_new(o, "tcpSocket", tcp_socket(h->url));
		break;
	case KS_H_NONE:
		break;
	}
	return o;
}

static void set_positive(json_t *o, const char *key, int64_t v)
{
	if (v > 0)
		json_object_set_new(o, key, json_integer(v));
}

static json_t *probe_json(const ks_probe *p)
{
	json_t *o = handler_json(&p->handler);
	set_positive(o, "initialDelaySeconds", p->initialDelaySeconds);
	set_positive(o, "timeoutSeconds", p->timeoutSeconds);
	set_positive(o, "periodSeconds", p->periodSeconds);
	set_positive(o, "successThreshold", p->successThreshold);
	set_positive(o, "failureThreshold", p->failureThreshold);
	return o;
}

/* ---- files and dirs --------------------------------------------------- */

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return ks_xstrdup("/");
	return ks_xstrndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The pod's volumes and one container's mounts, filled as we go. */
struct pod_parts {
	json_t *file_volumes; /* files-<k> */
	json_t *dir_volumes;  /* dirs-<k> */
	int nfiles_vol, ndirs_vol;
};

/* The files of C in directory DIR: a ConfigMap named
 * N-<container>-<i>-<h> and its volume and mount. */
static void file_configmap(ks_gen *g, const ks_container *c, const char *dir,
			   int i, struct pod_parts *pp, json_t *mounts)
{
	json_t *data = json_object();
	for (size_t f = 0; f < c->nfiles; f++) {
		char *d = dir_of(c->files[f].path);
		if (!strcmp(d, dir))
			json_object_set_new(data, base_of(c->files[f].path),
					    json_string(c->files[f].content));
		free(d);
	}
	data = gen_sorted(data);
	char *canon = ks_json_canonical(data, NULL);
	char hash[65];
	ks_sha256_hex(canon, strlen(canon), hash);
	free(canon);
	char *name = ks_xasprintf("%s-%s-%d-%.8s", g->app->fullname, c->name, i,
				  hash);
	char *extra = ks_xasprintf("container \"%s\", directory \"%s\"",
				   c->name, dir);
	gen_check_subdomain(g, "configmap name", name, 253, extra);
	free(extra);

	json_t *items = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(data, key, v)
	{
		(void)v;
		unsigned mode = 0644;
		for (size_t f = 0; f < c->nfiles; f++) {
			char *d = dir_of(c->files[f].path);
			if (!strcmp(d, dir) &&
			    !strcmp(base_of(c->files[f].path), key))
				mode = c->files[f].mode;
			free(d);
		}
		json_array_append_new(items, json_pack("{s:s, s:s, s:i}", "key",
						       key, "path", key, "mode",
						       (int)mode));
	}
	char vol[32];
	snprintf(vol, sizeof(vol), "files-%d", pp->nfiles_vol++);
	json_array_append_new(pp->file_volumes,
			      json_pack("{s:s, s:{s:s, s:o}}", "name", vol,
					"configMap", "name", name, "items",
					items));
	json_array_append_new(
		mounts, json_pack("{s:s, s:s}", "name", vol, "mountPath", dir));

	json_t *cm =
		gen_object("v1", "ConfigMap", gen_meta(g, name, NULL, NULL));
	json_object_set_new(cm, "data", data);
	gen_add(g, cm);
	free(name);
}

static int cstr_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	return strcmp(*a, *b);
}

/* One ConfigMap per directory of C's files, directories sorted. */
static void file_configmaps(ks_gen *g, const ks_container *c,
			    struct pod_parts *pp, json_t *mounts)
{
	char **dirs = ks_xcalloc(c->nfiles + 1, sizeof(*dirs));
	size_t n = 0;
	for (size_t f = 0; f < c->nfiles; f++) {
		char *d = dir_of(c->files[f].path);
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = !strcmp(dirs[j], d);
		if (seen)
			free(d);
		else
			dirs[n++] = d;
	}
	qsort(dirs, n, sizeof(*dirs), cstr_cmp);
	for (size_t j = 0; j < n; j++) {
		file_configmap(g, c, dirs[j], (int)j, pp, mounts);
		free(dirs[j]);
	}
	free(dirs);
}

static void dir_volumes(const ks_container *c, struct pod_parts *pp,
			json_t *mounts)
{
	for (size_t i = 0; i < c->dirs.n; i++) {
		const char *path = c->dirs.items[i].key;
		const char *ref = c->dirs.items[i].value;
		char vol[32];
		snprintf(vol, sizeof(vol), "dirs-%d", pp->ndirs_vol++);
		json_t *v;
		if (!strncmp(ref, "secret://", 9))
			v = json_pack("{s:s, s:{s:s}}", "name", vol, "secret",
				      "secretName", ref + 9);
		else
			v = json_pack("{s:s, s:{s:s}}", "name", vol,
				      "configMap", "name",
				      ref + strlen("configmap://"));
		json_array_append_new(pp->dir_volumes, v);
		json_array_append_new(mounts,
				      json_pack("{s:s, s:s}", "name", vol,
						"mountPath", path));
	}
}

/* ---- containers ------------------------------------------------------- */

static json_t *env_json(const ks_container *c, const json_t *dbenv)
{
	json_t *env = json_deep_copy(dbenv);
	for (size_t i = 0; i < c->env.n; i++) {
		const char *k = c->env.items[i].key;
		const char *v = c->env.items[i].value;
		const char *slash;
		if (!strncmp(v, "secret://", 9) &&
		    (slash = strchr(v + 9, '/')) != NULL) {
			char *secret =
				ks_xstrndup(v + 9, (size_t)(slash - (v + 9)));
			json_array_append_new(
				env, gen_env_secret(k, secret, slash + 1));
			free(secret);
		} else {
			json_array_append_new(
				env,
				json_pack("{s:s, s:s}", "name", k, "value", v));
		}
	}
	return env;
}

static json_t *resources_json(const ks_container *c)
{
	json_t *req = json_object(), *lim = json_object();
	for (size_t i = 0; i < c->nresources; i++) {
		const ks_resource_req *r = &c->resources[i];
		if (r->request)
			json_object_set_new(req, r->name,
					    json_string(r->request));
		if (r->limit)
			json_object_set_new(lim, r->name,
					    json_string(r->limit));
	}
	json_t *o = json_object();
	if (json_object_size(lim))
		json_object_set_new(o, "limits", gen_sorted(lim));
	else
		json_decref(lim);
	if (json_object_size(req))
		json_object_set_new(o, "requests", gen_sorted(req));
	else
		json_decref(req);
	return o;
}

static json_t *lifecycle_json(const ks_container *c)
{
	json_t *o = json_object();
	if (c->postStart.type != KS_H_NONE)
		json_object_set_new(o, "postStart",
				    handler_json(&c->postStart));
	if (c->preStop.type != KS_H_NONE)
		json_object_set_new(o, "preStop", handler_json(&c->preStop));
	return o;
}

static void set_nonempty(json_t *o, const char *key, json_t *v)
{
	if ((json_is_object(v) && json_object_size(v)) ||
	    (json_is_array(v) && json_array_size(v)))
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

static json_t *container_json(ks_gen *g, const ks_container *c,
			      const json_t *dbenv, struct pod_parts *pp)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "image", json_string(c->image));
	if (c->has_command || c->command.n)
		json_object_set_new(o, "command", strlist(&c->command));
	if (c->has_args || c->args.n)
		json_object_set_new(o, "args", strlist(&c->args));
	if (c->workingDir)
		json_object_set_new(o, "workingDir",
				    json_string(c->workingDir));
	set_nonempty(o, "env", env_json(c, dbenv));
	set_nonempty(o, "resources", resources_json(c));
	json_t *mounts = json_array();
	file_configmaps(g, c, pp, mounts);
	dir_volumes(c, pp, mounts);
	set_nonempty(o, "volumeMounts", mounts);
	if (c->liveness.present)
		json_object_set_new(o, "livenessProbe",
				    probe_json(&c->liveness));
	if (c->readiness.present)
		json_object_set_new(o, "readinessProbe",
				    probe_json(&c->readiness));
	if (c->startup.present)
		json_object_set_new(o, "startupProbe", probe_json(&c->startup));
	set_nonempty(o, "lifecycle", lifecycle_json(c));
	return o;
}

/* The pod spec shared by every cell: containers and volumes. Generates the
 * ConfigMaps for files on the way. */
static json_t *pod_spec(ks_gen *g)
{
	const ks_workload *wl = &g->app->workload;
	struct pod_parts pp = {json_array(), json_array(), 0, 0};
	json_t *dbenv = gen_database_env(g);
	json_t *containers = json_array();
	for (size_t i = 0; i < wl->ncontainers; i++)
		json_array_append_new(
			containers,
			container_json(g, &wl->containers[i], dbenv, &pp));
	json_decref(dbenv);
	json_t *spec = json_object();
	json_object_set_new(spec, "containers", containers);
	if (wl->kind == KS_WL_JOB)
		json_object_set_new(spec, "restartPolicy",
				    json_string("Never"));
	json_array_extend(pp.file_volumes, pp.dir_volumes);
	json_decref(pp.dir_volumes);
	set_nonempty(spec, "volumes", pp.file_volumes);
	return spec;
}

/* ---- the workload objects --------------------------------------------- */

static char *lower_dup(const char *s)
{
	char *d = ks_xstrdup(s);
	for (char *p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* What one rendering of the workload (one cell, or the only one) needs. */
struct wl_instance {
	const char *name;
	const ks_cell *cell; /* NULL without topologies */
	const char *parts;   /* extra parts for messages, or NULL */
	json_t *cell_labels; /* zone and cell, or empty */
};

static json_t *max_unavailable(const ks_intorpct *v)
{
	if (!v->is_percent)
		return json_integer(v->value);
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld%%", (long long)v->value);
	return json_string(buf);
}

/* The PodTransitionRule of a CollaSet: named like it, same selector. */
static void pod_transition_rule(ks_gen *g, const struct wl_instance *in,
				const json_t *selector)
{
	json_t *o =
		gen_object("apps.kusionstack.io/v1alpha1", "PodTransitionRule",
			   gen_meta(g, in->name, in->cell_labels, NULL));
	json_t *rule = json_pack("{s:s, s:{s:o}}", "name", "maxUnavailable",
				 "availablePolicy", "maxUnavailableValue",
				 max_unavailable(&g->opsrule));
	json_object_set_new(o, "spec",
			    json_pack("{s:{s:O}, s:[o]}", "selector",
				      "matchLabels", selector, "rules", rule));
	gen_add(g, o);
}

/* Metadata labels (beyond app.labels and ownership), pod labels and
 * annotations of one instance. */
struct wl_labels {
	json_t *selector; /* app labels + cell labels */
	json_t *labels;	  /* user workload labels, then generated */
	json_t *ann;	  /* workload annotations + monitoring */
};

static void instance_labels(const ks_gen *g, const struct wl_instance *in,
			    struct wl_labels *l)
{
	const ks_workload *wl = &g->app->workload;
	bool job = wl->kind == KS_WL_JOB;
	l->selector = gen_app_labels(g);
	json_object_update(l->selector, in->cell_labels);
	l->selector = gen_sorted(l->selector);
	l->labels =
		gen_strmap(job ? &g->ws->job_labels : &g->ws->service_labels);
	json_t *t = gen_strmap(&wl->labels);
	json_object_update(l->labels, t);
	json_decref(t);
	json_object_update(l->labels, l->selector);
	json_object_update(l->labels, g->mon_labels);
	l->ann = gen_strmap(job ? &g->ws->job_annotations
				: &g->ws->service_annotations);
	t = gen_strmap(&wl->annotations);
	json_object_update(l->ann, t);
	json_decref(t);
	json_object_update(l->ann, g->mon_annotations);
}

static json_t *pod_template(const struct wl_labels *l, const json_t *podspec,
			    const struct wl_instance *in)
{
	json_t *meta = json_object();
	json_object_set_new(meta, "labels",
			    gen_sorted(json_deep_copy(l->labels)));
	if (json_object_size(l->ann))
		json_object_set_new(meta, "annotations",
				    gen_sorted(json_deep_copy(l->ann)));
	/* Without topologies there is one instance and gen_workloads drops
	 * its reference right after, so the pod spec is handed over instead
	 * of copied; each cell gets its own copy. */
	json_t *spec = in->cell ? json_deep_copy(podspec)
				: json_incref((json_t *)podspec);
	if (in->cell) {
		json_t *ns = json_pack(
			"{s:s, s:s}", "kusync.io/cell", in->cell->cell,
			"topology.kubernetes.io/zone", in->cell->zone);
		/* after containers, in the order the keys are written */
		json_t *s2 = json_object();
		json_object_set(s2, "containers",
				json_object_get(spec, "containers"));
		json_object_set_new(s2, "nodeSelector", ns);
		json_object_update(s2, spec);
		json_decref(spec);
		spec = s2;
	}
	return json_pack("{s:o, s:o}", "metadata", meta, "spec", spec);
}

static void service_workload(ks_gen *g, const struct wl_instance *in,
			     const struct wl_labels *l, json_t *tmpl)
{
	const ks_workload *wl = &g->app->workload;
	enum ks_service_type st =
		wl->type != KS_ST_UNSET ? wl->type : g->ws->service_type;
	bool colla = st == KS_ST_COLLASET;
	gen_check_subdomain(g, colla ? "collaset name" : "deployment name",
			    in->name, 253, in->parts);
	int64_t replicas =
		wl->replicas >= 0 ? wl->replicas : g->ws->service_replicas;
	json_t *o =
		gen_object(colla ? "apps.kusionstack.io/v1alpha1" : "apps/v1",
			   colla ? "CollaSet" : "Deployment",
			   gen_meta(g, in->name, l->labels, l->ann));
	json_t *spec = json_object();
	json_object_set_new(spec, "replicas", json_integer(replicas));
	json_object_set_new(spec, "selector",
			    json_pack("{s:O}", "matchLabels", l->selector));
	if (!colla && g->opsrule.present)
		json_object_set_new(spec, "strategy",
				    json_pack("{s:s, s:{s:o}}", "type",
					      "RollingUpdate", "rollingUpdate",
					      "maxUnavailable",
					      max_unavailable(&g->opsrule)));
	json_object_set_new(spec, "template", tmpl);
	json_object_set_new(o, "spec", spec);
	gen_add(g, o);
	if (colla && g->opsrule.present)
		pod_transition_rule(g, in, l->selector);
}

static void job_workload(ks_gen *g, const struct wl_instance *in,
			 const struct wl_labels *l, json_t *tmpl)
{
	const ks_workload *wl = &g->app->workload;
	bool cron = wl->schedule && *wl->schedule;
	if (cron)
		gen_check_subdomain(g, "cronjob name", in->name, 52, in->parts);
	else
		gen_check_subdomain(g, "job name", in->name, 63, in->parts);
	json_t *o = gen_object("batch/v1", cron ? "CronJob" : "Job",
			       gen_meta(g, in->name, l->labels, l->ann));
	json_t *spec;
	if (cron)
		spec = json_pack("{s:s, s:{s:{s:o}}}", "schedule", wl->schedule,
				 "jobTemplate", "spec", "template", tmpl);
	else
		spec = json_pack("{s:o}", "template", tmpl);
	json_object_set_new(o, "spec", spec);
	gen_add(g, o);
}

static void workload_instance(ks_gen *g, const struct wl_instance *in,
			      const json_t *podspec)
{
	struct wl_labels l;
	instance_labels(g, in, &l);
	json_t *tmpl = pod_template(&l, podspec, in);
	if (g->app->workload.kind == KS_WL_JOB)
		job_workload(g, in, &l, tmpl);
	else
		service_workload(g, in, &l, tmpl);
	json_decref(l.selector);
	json_decref(l.labels);
	json_decref(l.ann);
}

/* One rendering per topology cell: N-<cell lower-cased>, with the cell's
 * labels and nodeSelector. */
static void cell_instance(ks_gen *g, const ks_cell *cell, const json_t *podspec)
{
	char *lower = lower_dup(cell->cell);
	char *name = ks_xasprintf("%s-%s", g->app->fullname, lower);
	char *parts = ks_xasprintf("cell \"%s\"", cell->cell);
	struct wl_instance in = {name, cell, parts,
				 json_pack("{s:s, s:s}", "kusync.io/zone",
					   cell->zone, "kusync.io/cell",
					   cell->cell)};
	workload_instance(g, &in, podspec);
	json_decref(in.cell_labels);
	free(parts);
	free(name);
	free(lower);
}

void gen_workloads(ks_gen *g)
{
	const ks_app *app = g->app;
	json_t *podspec = pod_spec(g);
	if (!app->ncells) {
		struct wl_instance in = {app->fullname, NULL, NULL,
					 json_object()};
		workload_instance(g, &in, podspec);
		json_decref(in.cell_labels);
	}
	for (size_t i = 0; i < app->ncells; i++)
		cell_instance(g, &app->cells[i], podspec);
	json_decref(podspec);
}
