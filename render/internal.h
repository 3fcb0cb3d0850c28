/*
 * Interfaces between the parts of render/. Not public.
 *
 *   load.c      stack discovery, reading project.yaml / stack.yaml / files
 *   validate.c  documents -> ks_app (every field checked, all errors)
 *   workspace.c workspace file -> ks_workspace -> per-project view
 *   generate.c  ks_app + view -> resources (attributes, dependsOn, ...)
 *   render.c    orchestration: apps across stacks, dependencies, output
 *   kcl.c       the KCL form -> the same documents as the YAML reader
 */
#ifndef KS_RENDER_INTERNAL_H
#define KS_RENDER_INTERNAL_H

#include <jansson.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "render/model.h"
#include "render/render.h"

/*
 * Validates one app: KEY_INFO is the position of the app's key in DOC,
 * VALUE the AppConfiguration mapping. Every problem goes to ERRS; returns 0
 * and fills *out (arena memory) when there were none, else KS_EINVAL.
 * project and stack are already validated names.
 */
int ks_app_validate(ks_app *out, ks_arena *a, const ks_doc *doc,
		    const char *app_name, const ks_node_info *key_info,
		    const json_t *value, const char *project, const char *stack,
		    ks_errlist *errs);

/* The parsed workspace; NULL stands for "no workspace". */
typedef struct ks_workspace ks_workspace;

int ks_workspace_load(ks_workspace **out, ks_arena *a, const char *path,
		      ks_errlist *errs);
/* The effective settings for PROJECT: default block, overlaid by the first
 * named block whose projectSelector lists the project. WS may be NULL. */
void ks_workspace_view_for(const ks_workspace *ws, const char *project,
			   ks_workspace_view *out);

/* The namespace an app goes to: the workspace's namespace.name, else
 * <project>-<stack>. */
const char *ks_app_namespace(ks_arena *a, const ks_app *app,
			     const ks_workspace_view *ws);

/*
 * Generates the resources of one app, in output order (stably sorted by the
 * rank of their kind), appending each Spec resource
 * {id, type, attributes, dependsOn, extensions} to RESOURCES. The app's
 * Namespace is not generated here (see ks_generate_namespace) but every
 * resource depends on it. Derived names that break Kubernetes' rules are
 * errors (naming the parts they came from, at the app's position) and
 * nothing is appended then. Returns 0 or KS_EINVAL.
 */
int ks_generate_app(json_t *resources, const ks_app *app,
		    const ks_workspace_view *ws, const char *ns,
		    ks_errlist *errs);

/* A v1 Namespace resource entry (extensions hold only GVK). */
json_t *ks_generate_namespace(const char *ns);

/* The rank of a kind in the dependsOn order (kinds not listed come last). */
int ks_kind_rank(const char *kind);

/* Resource id: apiVersion:kind[:namespace]:name. Heap string. */
char *ks_resource_id(const char *api_version, const char *kind, const char *ns,
		     const char *name);

/*
 * A stack read by load.c: its names and its AppConfiguration documents,
 * sorted by file name (YAML files parsed with KS_YAML_SINGLE, .k files with
 * ks_kcl_parse). names_ok is false when project.yaml or stack.yaml was
 * missing or invalid; project and stack are then placeholders. Documents
 * that failed to parse are left out (their errors are in ERRS).
 */
typedef struct ks_stack_docs {
	const char *dir;
	const char *project, *stack;
	bool names_ok;
	ks_doc **docs;
	size_t ndocs;
} ks_stack_docs;

/* Reads one stack; returns KS_EINVAL when anything was reported (OUT is
 * filled as far as it could be, and must be released either way). */
int ks_stack_load(ks_stack_docs *out, ks_arena *a, const ks_render_stack *in,
		  ks_errlist *errs);
void ks_stack_docs_release(ks_stack_docs *s);

/* The KCL form: parses a .k file into a document shaped exactly like the
 * YAML reader's output for the equivalent YAML (schema names become _type
 * where the field is a union). */
int ks_kcl_parse(ks_doc **out, const char *buf, size_t len, const char *file,
		 ks_errlist *errs);

#endif
