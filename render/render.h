/*
 * render: AppConfigurations in, the Spec out.
 *
 * The Spec is a jansson object {"apps": [...], "resources": [...]} in the
 * shape of spec/appconfiguration.md § Output. It is the immutable value that
 * every later stage (policies, sync, agent) works from; nothing after render
 * reads AppConfiguration files.
 */
#ifndef KS_RENDER_H
#define KS_RENDER_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "core/mem.h"

/*
 * A file of a stack given as contents rather than read from disk (the agent
 * reads stacks from a Git tree). name is the file's base name.
 */
typedef struct ks_render_file {
	const char *name;
	const char *data;
	size_t len;
} ks_render_file;

/* One stack to render: a folder on disk, or in-memory files. */
typedef struct ks_render_stack {
	/* The stack folder as the user named it; also the prefix of every
	 * file name in messages ("examples/demo/prod/app.yaml"). */
	const char *dir;
	/* When files is NULL, dir is read from disk: project.yaml is looked
	 * for in dir's parent, stack.yaml in dir. Otherwise these are used. */
	const ks_render_file *files;
	size_t nfiles;
	const char *project_yaml; /* contents, with files */
	size_t project_yaml_len;
	const char *stack_yaml; /* contents, with files */
	size_t stack_yaml_len;
} ks_render_stack;

typedef struct ks_render_opts {
	const char *workspace_path; /* NULL: no workspace */
} ks_render_opts;

/*
 * Renders the stacks into *out (a new reference). All input errors go to
 * ERRS (sorted later by the caller's print) and the function returns
 * KS_EINVAL with *out untouched; nothing is half-rendered.
 */
int ks_render(json_t **out, const ks_render_stack *stacks, size_t nstacks,
	      const ks_render_opts *opts, ks_errlist *errs);

/* Convenience: render folders on disk. */
int ks_render_dirs(json_t **out, const char *const *dirs, size_t ndirs,
		   const char *workspace, ks_errlist *errs);

enum ks_render_format {
	KS_OUT_SPEC,	  /* YAML, the Spec */
	KS_OUT_JSON,	  /* JSON, the Spec */
	KS_OUT_MANIFESTS, /* a YAML stream of the resources' attributes */
};

/* Writes the Spec in the given format. */
int ks_render_write(ks_buf *out, const json_t *spec,
		    enum ks_render_format format);

#endif
