/*
 * Shared state and helpers of the generators (generate.c and gen_*.c).
 * Internal to render/: ks_generate_app in render/internal.h is the entry.
 *
 * Conventions of every generator:
 * - label and annotation maps are emitted sorted by key (simple, stable,
 *   and what the API server and kubectl show); when one key is set twice,
 *   the later source wins, and sources are merged user first, generated
 *   last, so that labels kusync generates win over user labels;
 * - keys inside objects follow the order people write manifests in:
 *   apiVersion, kind, metadata, then spec (or type/data), and within a
 *   spec the order of the Kubernetes API types;
 * - a derived name that breaks Kubernetes' rules is reported with
 *   gen_error and generation goes on (so every problem is reported), but
 *   nothing is appended to the output then.
 */
#ifndef KS_RENDER_GEN_H
#define KS_RENDER_GEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "render/internal.h"

struct gen_res {
	json_t *attrs; /* owned */
	int rank;
	size_t seq; /* generation order, for a stable sort */
	char *id;   /* set when ordering; heap */
};

typedef struct ks_gen {
	const ks_app *app;
	const ks_workspace_view *ws;
	const char *ns;
	const char *stack_label; /* <project>-<stack> */
	ks_errlist *errs;
	size_t nerrors;
	struct gen_res *res;
	size_t nres, alloc;
	/* Monitoring, filled by gen_monitoring_prepare: the label
	 * (operatorMode) or the prometheus.io annotations (otherwise) that go
	 * on the workload, its pod template and its Services; empty objects
	 * when the app has no monitoring. Owned. */
	json_t *mon_labels, *mon_annotations;
	/* The opsRule in force (the app's, else the workspace's for a Service
	 * workload); present == false when none. */
	ks_intorpct opsrule;
} ks_gen;

/* Appends a resource (steals ATTRS; its "kind" gives the rank). */
void gen_add(ks_gen *g, json_t *attrs);

/* Reports a problem of the app at its position: "<app>: MESSAGE". */
void gen_error(ks_gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* `project "p", stack "s", app "a"` followed by EXTRA (may be NULL), for
 * the parts a derived name came from. Heap string. */
char *gen_parts(const ks_gen *g, const char *extra);

/* Name checks; each reports through gen_error naming WHAT (e.g. "service
 * name") and the parts (EXTRA as for gen_parts); true when the name fits. */
bool gen_check_dns1035(ks_gen *g, const char *what, const char *name,
		       const char *extra);
bool gen_check_subdomain(ks_gen *g, const char *what, const char *name,
			 size_t max, const char *extra);
bool gen_check_dns1123_label(ks_gen *g, const char *what, const char *name,
			     const char *extra);

/* A JSON object from a string map (file order). New reference. */
json_t *gen_strmap(const ks_strmap *m);
/* A copy of OBJ with its keys sorted; steals OBJ. */
json_t *gen_sorted(json_t *obj);
/* The app labels: part-of, name, instance (the selector). New object. */
json_t *gen_app_labels(const ks_gen *g);
/* The ownership labels. New object. */
json_t *gen_owner_labels(const ks_gen *g);

/*
 * Object metadata {name, namespace, labels, annotations}: labels are the
 * app's `labels`, then EXTRA_LABELS, then the ownership labels; annotations
 * the app's `annotations`, then EXTRA_ANN (left out when empty). Both
 * extras are borrowed and may be NULL.
 */
json_t *gen_meta(const ks_gen *g, const char *name, const json_t *extra_labels,
		 const json_t *extra_ann);

/* {apiVersion, kind, metadata}; steals META. */
json_t *gen_object(const char *api_version, const char *kind, json_t *meta);

/* {name, valueFrom: {secretKeyRef: {name: SECRET, key: KEY}}}. */
json_t *gen_env_secret(const char *name, const char *secret, const char *key);

/* Generators, in generation order. */
void gen_databases(ks_gen *g);
/* The env entries every app container gets first (database refs). */
json_t *gen_database_env(const ks_gen *g);
void gen_workloads(ks_gen *g);
void gen_services(ks_gen *g);
void gen_secrets(ks_gen *g);
void gen_monitoring_prepare(ks_gen *g);
void gen_monitors(ks_gen *g);

#endif
