/*
 * Stack discovery: project.yaml in the stack folder's parent, stack.yaml in
 * the folder, and the AppConfiguration files (*.yaml, *.yml, *.k) sorted by
 * name, from disk or from memory.
 */
#include "render/internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/values.h"
#include "core/yaml.h"
#include "render/check.h"
#include "core/banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* Whether a file of the stack folder holds AppConfigurations. */
static bool is_app_file(const char *name)
{
	static const char *const skip[] = {"stack.yaml", "project.yaml",
					   "kcl.yaml", "kusion.yaml"};
	if (name[0] == '.')
		return false;
	for (size_t i = 0; i < NELEM(skip); i++)
		if (!strcmp(name, skip[i]))
			return false;
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml") ||
	       has_suffix(name, ".k");
}

/* The display path of the stack folder's parent joined with NAME:
 * "shop/prod" -> "shop/NAME", "prod" -> "NAME", "." -> "../NAME". */
static char *parent_join(ks_arena *a, const char *dir, const char *name)
{
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	const char *base = dir;
	for (size_t i = 0; i < len; i++)
		if (dir[i] == '/')
			base = dir + i + 1;
	size_t blen = len - (size_t)(base - dir);
	if ((blen == 1 && base[0] == '.') ||
	    (blen == 2 && base[0] == '.' && base[1] == '.'))
		return ks_arena_printf(a, "%.*s/../%s", (int)len, dir, name);
	if (base == dir)
		return ks_arena_strdup(a, name);
	if (base == dir + 1) /* "/prod" */
		return ks_arena_printf(a, "/%s", name);
	return ks_arena_printf(a, "%.*s%s", (int)(base - dir), dir, name);
}

/* Reads FILE (PATH on disk) with the size cap; reports with the display
 * name. */
static int read_capped(const char *path, const char *display, char **buf,
		       size_t *len, ks_errlist *errs)
{
	ks_error err = {0};
	int rc = ks_read_file(path, KS_YAML_MAX_FILE, buf, len, &err);
	if (rc == 0)
		return 0;
	/* ks_read_file names the path; messages use the display name. */
	const char *msg = err.msg;
	size_t pl = strlen(path);
	if (!strncmp(msg, path, pl) && msg[pl] == ':' && msg[pl + 1] == ' ')
		msg += pl + 2;
	if (rc == KS_ENOTFOUND)
		msg = "no such file";
	ks_errlist_add(errs, display, 0, 0, "%s", msg);
	return rc;
}

/*
 * project.yaml / stack.yaml: {name: <DNS-1123 label>, description: str}.
 * Returns the name (arena) or NULL after reporting.
 */
static const char *parse_names_file(ks_arena *a, const char *buf, size_t len,
				    const char *display, const char *what,
				    ks_errlist *errs)
{
	static const char *const keys[] = {"name", "description"};
	ks_doc *doc = NULL;
	if (ks_yaml_parse(&doc, buf, len, display, KS_YAML_SINGLE, errs) < 0)
		return NULL;
	ks_vctx c = {a, doc, display, errs, 0};
	const char *name = NULL;
	json_t *root = ks_doc_root(doc);
	ks_mark m = ks_doc_root_mark(doc);
	ks_vnode n = ks_vroot(root, "", m, m);
	if (!root) {
		ks_verr(&c, (ks_mark){0, 0}, "", "file is empty");
		goto out;
	}
	if (!json_is_object(root)) {
		ks_verr(&c, m, "", "expected a mapping with the %s's name",
			what);
		goto out;
	}
	ks_vknown(&c, &n, keys, NELEM(keys));
	ks_vnode d = ks_vchild(&c, &n, "description");
	if (ks_vset(&d))
		ks_vstring(&c, &d);
	ks_vnode f = ks_vchild(&c, &n, "name");
	if (!f.v) {
		ks_verr(&c, m, "", "missing required field \"name\"");
		goto out;
	}
	const char *s = ks_vstring(&c, &f);
	if (!s)
		goto out;
	if (!ks_is_dns1123_label(s)) {
		ks_verr(&c, f.val, "name",
			"\"%s\" is not a valid %s name (a DNS-1123 label: "
			"lowercase letters, digits and '-', at most 63)",
			s, what);
		goto out;
	}
	if (!c.nerr)
		name = s;
out:
	ks_doc_free(doc);
	return name;
}

static const char *load_names_file(ks_arena *a, const char *path,
				   const char *display, const char *what,
				   ks_errlist *errs)
{
	char *buf = NULL;
	size_t len = 0;
	if (read_capped(path, display, &buf, &len, errs) < 0)
		return NULL;
	const char *name = parse_names_file(a, buf, len, display, what, errs);
	free(buf);
	return name;
}

static void add_doc(ks_stack_docs *s, ks_doc *d)
{
	s->docs = ks_xrealloc(s->docs, (s->ndocs + 1) * sizeof(*s->docs));
	s->docs[s->ndocs++] = d;
}

/* Parses one AppConfiguration file's contents. */
static int parse_app_file(ks_stack_docs *s, const char *name,
			  const char *display, const char *buf, size_t len,
			  ks_errlist *errs)
{
	if (len > KS_YAML_MAX_FILE) {
		ks_errlist_add(errs, display, 0, 0,
			       "file is too large (the limit is %u bytes)",
			       (unsigned)KS_YAML_MAX_FILE);
		return KS_ELIMIT;
	}
	ks_doc *doc = NULL;
	int rc;
	if (has_suffix(name, ".k"))
		rc = ks_kcl_parse(&doc, buf, len, display, errs);
	else
		rc = ks_yaml_parse(&doc, buf, len, display, KS_YAML_SINGLE,
				   errs);
	if (rc < 0)
		return KS_EINVAL;
	if (!ks_doc_root(doc)) {
		ks_errlist_add(errs, display, 0, 0, "file is empty");
		ks_doc_free(doc);
		return KS_EINVAL;
	}
	add_doc(s, doc);
	return 0;
}

static int name_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	return strcmp(*a, *b);
}

/* The app file names of folder DIR, sorted; NULL after reporting. */
static char **list_dir(const char *dir, size_t *n, ks_errlist *errs)
{
	DIR *d = opendir(dir);
	if (!d) {
		ks_errlist_add(errs, dir, 0, 0,
			       "cannot read the stack folder: %s",
			       strerror(errno));
		return NULL;
	}
	char **names = NULL;
	size_t cnt = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_app_file(e->d_name))
			continue;
		char *full = ks_xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		bool reg = stat(full, &st) == 0 && S_ISREG(st.st_mode);
		free(full);
		if (!reg)
			continue;
		names = ks_xrealloc(names, (cnt + 1) * sizeof(*names));
		names[cnt++] = ks_xstrdup(e->d_name);
	}
	closedir(d);
	if (cnt)
		qsort(names, cnt, sizeof(*names), name_cmp);
	*n = cnt;
	if (!names)
		names = ks_xcalloc(1, sizeof(*names));
	return names;
}

static int load_from_disk(ks_stack_docs *s, ks_arena *a, const char *dir,
			  ks_errlist *errs)
{
	int rc = 0;
	size_t n = 0;
	char **names = list_dir(dir, &n, errs);
	if (!names)
		return KS_EINVAL;
	char *pp = parent_join(a, dir, "project.yaml");
	s->project = load_names_file(a, pp, pp, "project", errs);
	char *sp = ks_vjoin(a, dir, "stack.yaml");
	s->stack = load_names_file(a, sp, sp, "stack", errs);
	for (size_t i = 0; i < n; i++) {
		char *display = ks_vjoin(a, dir, names[i]);
		char *buf = NULL;
		size_t len = 0;
		if (read_capped(display, display, &buf, &len, errs) < 0 ||
		    parse_app_file(s, names[i], display, buf, len, errs) < 0)
			rc = KS_EINVAL;
		free(buf);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int file_cmp(const void *pa, const void *pb)
{
	const ks_render_file *const *a = pa, *const *b = pb;
	return strcmp((*a)->name, (*b)->name);
}

static int load_from_memory(ks_stack_docs *s, ks_arena *a,
			    const ks_render_stack *in, ks_errlist *errs)
{
	int rc = 0;
	char *pp = parent_join(a, in->dir, "project.yaml");
	if (!in->project_yaml)
		ks_errlist_add(errs, pp, 0, 0, "no such file");
	else
		s->project = parse_names_file(a, in->project_yaml,
					      in->project_yaml_len, pp,
					      "project", errs);
	char *sp = ks_vjoin(a, in->dir, "stack.yaml");
	if (!in->stack_yaml)
		ks_errlist_add(errs, sp, 0, 0, "no such file");
	else
		s->stack =
			parse_names_file(a, in->stack_yaml, in->stack_yaml_len,
					 sp, "stack", errs);
	const ks_render_file **files =
		ks_xcalloc(in->nfiles + 1, sizeof(*files));
	size_t n = 0;
	for (size_t i = 0; i < in->nfiles; i++)
		if (is_app_file(in->files[i].name))
			files[n++] = &in->files[i];
	qsort(files, n, sizeof(*files), file_cmp);
	for (size_t i = 0; i < n; i++) {
		char *display = ks_vjoin(a, in->dir, files[i]->name);
		if (parse_app_file(s, files[i]->name, display, files[i]->data,
				   files[i]->len, errs) < 0)
			rc = KS_EINVAL;
	}
	free(files);
	return rc;
}

int ks_stack_load(ks_stack_docs *out, ks_arena *a, const ks_render_stack *in,
		  ks_errlist *errs)
{
	size_t before = ks_errlist_count(errs);
	memset(out, 0, sizeof(*out));
	out->dir = ks_arena_strdup(a, in->dir);
	if (in->files || in->project_yaml || in->stack_yaml)
		load_from_memory(out, a, in, errs);
	else
		load_from_disk(out, a, in->dir, errs);
	out->names_ok = out->project && out->stack;
	if (!out->project)
		out->project = "project";
	if (!out->stack)
		out->stack = "stack";
	return ks_errlist_count(errs) > before ? KS_EINVAL : 0;
}

void ks_stack_docs_release(ks_stack_docs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndocs; i++)
		ks_doc_free(s->docs[i]);
	free(s->docs);
	s->docs = NULL;
	s->ndocs = 0;
}
