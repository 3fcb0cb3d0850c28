#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/yaml.h"
#include "policies/policy.h"
#include "render/render.h"
#include "core/banned.h"

const char ks_usage_check[] =
	"usage: kusync check [-w WORKSPACE] [-c AGENT_CONFIG] [-p "
	"POLICY_DIR]... "
	"[-o text|json]\n"
	"                    STACK_DIR...\n"
	"       kusync check --policy-set NAME [-p POLICY_DIR]... "
	"[--advisory]\n"
	"                    [-o text|json] --manifest FILE...\n"
	"\n"
	"Renders each stack and runs every app's policy sets (the app's "
	"policysets:\nNAME: {kind: mandatory|advisory}) over its objects; or "
	"runs one set over\nplain Kubernetes manifests (YAML streams or JSON; "
	"mandatory unless --advisory).\n"
	"\n"
	"  -w, --workspace FILE   platform defaults (the workspace)\n"
	"  -c, --config FILE      take the policy folders of an agent "
	"configuration\n"
	"  -p, --policies DIR     a folder of PolicySet files (repeatable); "
	"sets there\n"
	"                         replace built-in sets of the same name\n"
	"  --policy-set NAME      the set to run on --manifest files\n"
	"  --manifest FILE        a file of Kubernetes objects (repeatable)\n"
	"  -o, --output FORMAT    text (default): one line per violation,\n"
	"                         SET/RULE KIND NAMESPACE/NAME: MESSAGE "
	"(mandatory|advisory);\n"
	"                         json: {violations, evaluated, blocked}\n"
	"\n"
	"Built-in sets: release-strategy-check, resource-specification,\n"
	"pod-security-baseline (read from $KUSYNC_BUILTIN_POLICIES when set).\n"
	"Exit codes: 0 no mandatory violation, 1 a mandatory rule failed, 2 "
	"invalid\ninput (a malformed policy file, an unknown set).\n";

typedef struct check_args {
	const char *workspace, *config, *set, *output;
	const char **dirs, **policy_dirs, **manifests;
	size_t ndirs, npolicy_dirs, nmanifests;
	int advisory;
} check_args;

static int parse_args(check_args *a, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		if ((v = ks_cli_flag_value(argc, argv, &i, "-w", "--workspace",
					   &missing)))
			a->workspace = v;
		else if ((v = ks_cli_flag_value(argc, argv, &i, "-c",
						"--config", &missing)))
			a->config = v;
		else if ((v = ks_cli_flag_value(argc, argv, &i, "-p",
						"--policies", &missing)))
			a->policy_dirs[a->npolicy_dirs++] = v;
		else if ((v = ks_cli_flag_value(argc, argv, &i, "-o",
						"--output", &missing)))
			a->output = v;
		else if ((v = ks_cli_flag_value(argc, argv, &i, NULL,
						"--policy-set", &missing)))
			a->set = v;
		else if ((v = ks_cli_flag_value(argc, argv, &i, NULL,
						"--manifest", &missing)))
			a->manifests[a->nmanifests++] = v;
		else if (missing) {
			ks_cli_error("flag %s needs a value", argv[i]);
			return -1;
		} else if (!strcmp(argv[i], "--advisory")) {
			a->advisory = 1;
		} else if (!strcmp(argv[i], "--")) {
			for (i++; i < argc; i++)
				a->dirs[a->ndirs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			ks_cli_error("unknown flag %s; run 'kusync check "
				     "--help'",
				     argv[i]);
			return -1;
		} else {
			a->dirs[a->ndirs++] = argv[i];
		}
	}
	if (strcmp(a->output, "text") && strcmp(a->output, "json")) {
		ks_cli_error("unknown output format \"%s\" (want text or json)",
			     a->output);
		return -1;
	}
	if (a->set || a->nmanifests) {
		if (!a->set || !a->nmanifests || a->ndirs) {
			ks_cli_error("--policy-set NAME and --manifest FILE go "
				     "together, without stack folders");
			return -1;
		}
	} else if (!a->ndirs) {
		ks_cli_error(
			"no stack folder given; run 'kusync check --help'");
		return -1;
	}
	return 0;
}

/* The policy folders of an agent configuration (`policies: [dir...]`),
 * relative to the configuration file. */
static int config_dirs(ks_policy_registry *r, const char *path,
		       ks_errlist *errs)
{
	ks_doc *doc = NULL;
	if (ks_yaml_load_file(&doc, path, NULL, KS_YAML_SINGLE, errs))
		return KS_EINVAL;
	json_t *dirs = json_object_get(ks_doc_root(doc), "policies");
	int rc = 0;
	if (dirs && !json_is_array(dirs)) {
		ks_errlist_add(errs, path, 0, 0,
			       "policies: expected a list of folders");
		rc = KS_EINVAL;
	}
	const char *slash = strrchr(path, '/');
	size_t i;
	json_t *d;
	json_array_foreach(dirs, i, d)
	{
		if (!json_is_string(d))
			continue;
		const char *s = json_string_value(d);
		char *full =
			s[0] == '/' || !slash
				? ks_xstrdup(s)
				: ks_xasprintf("%.*s/%s", (int)(slash - path),
					       path, s);
		if (ks_policy_load_dir(r, full, errs))
			rc = KS_EINVAL;
		free(full);
	}
	ks_doc_free(doc);
	return rc;
}

/* Appends the objects of one manifest file (a YAML stream, JSON, or
 * kind: List documents) to OBJS. */
static int load_manifest(json_t *objs, const char *path, ks_errlist *errs)
{
	char *text = NULL;
	size_t len = 0;
	ks_error err = {0};
	if (ks_read_file(path, KS_YAML_MAX_FILE, &text, &len, &err)) {
		ks_errlist_add(errs, path, 0, 0, "%s", err.msg);
		return KS_EINVAL;
	}
	ks_doc **docs = NULL;
	size_t n = 0;
	int rc = ks_yaml_parse_all(&docs, &n, text, len, path, errs);
	free(text);
	if (rc)
		return KS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		json_t *root = ks_doc_root(docs[i]);
		json_t *items = json_object_get(root, "items");
		const char *kind =
			json_string_value(json_object_get(root, "kind"));
		if (kind && !strcmp(kind, "List") && json_is_array(items))
			json_array_extend(objs, items);
		else if (json_is_object(root))
			json_array_append(objs, root);
		else if (root)
			ks_errlist_add(errs, path,
				       ks_doc_root_mark(docs[i]).line,
				       ks_doc_root_mark(docs[i]).col,
				       "expected a Kubernetes object");
		ks_doc_free(docs[i]);
	}
	free(docs);
	return ks_errlist_count(errs) ? KS_EINVAL : 0;
}

static int run_check(check_args *a, ks_policy_registry *r,
		     ks_policy_report *rep, ks_errlist *errs)
{
	if (a->set) {
		const ks_policy_set *s = ks_policy_find(r, a->set);
		if (!s) {
			ks_errlist_add(errs, a->set, 0, 0,
				       "unknown policy set");
			return KS_EINVAL;
		}
		json_t *objs = json_array();
		int rc = 0;
		for (size_t i = 0; i < a->nmanifests; i++)
			if (load_manifest(objs, a->manifests[i], errs))
				rc = KS_EINVAL;
		if (!rc)
			ks_policy_check_objects(s, !a->advisory, objs, NULL,
						NULL, rep);
		json_decref(objs);
		return rc;
	}
	json_t *spec = NULL;
	if (ks_render_dirs(&spec, a->dirs, a->ndirs, a->workspace, errs) < 0 ||
	    ks_errlist_count(errs)) {
		json_decref(spec);
		return KS_EINVAL;
	}
	int rc = ks_policy_check_spec(r, spec, rep, errs);
	json_decref(spec);
	return rc;
}

static void print_report(const check_args *a, const ks_policy_report *rep)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	if (!strcmp(a->output, "json")) {
		json_t *j = ks_policy_report_json(rep);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		ks_buf_puts(&b, s);
		ks_buf_puts(&b, "\n");
		free(s);
		json_decref(j);
	} else {
		ks_policy_report_text(&b, rep);
	}
	fwrite(b.data, 1, b.len, stdout);
	fflush(stdout);
	ks_buf_release(&b);
}

int ks_cmd_check(int argc, char **argv)
{
	size_t cap = (size_t)argc + 1;
	check_args a = {
		.output = "text",
		.dirs = ks_xcalloc(cap, sizeof(char *)),
		.policy_dirs = ks_xcalloc(cap, sizeof(char *)),
		.manifests = ks_xcalloc(cap, sizeof(char *)),
	};
	int rc = KS_EXIT_USAGE;
	ks_policy_registry *r = NULL;
	ks_errlist *errs = NULL;
	ks_policy_report rep;
	ks_policy_report_init(&rep);
	if (parse_args(&a, argc, argv))
		goto out;
	r = ks_policy_registry_new();
	errs = ks_errlist_new();
	int bad = ks_policy_load_builtin(r, errs) != 0;
	if (a.config && config_dirs(r, a.config, errs))
		bad = 1;
	for (size_t i = 0; i < a.npolicy_dirs; i++)
		if (ks_policy_load_dir(r, a.policy_dirs[i], errs))
			bad = 1;
	if (bad || run_check(&a, r, &rep, errs) || ks_errlist_count(errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		goto out;
	}
	print_report(&a, &rep);
	rc = ks_policy_report_blocks(&rep) ? KS_EXIT_FINDINGS : KS_EXIT_OK;
out:
	ks_policy_report_release(&rep);
	ks_errlist_free(errs);
	ks_policy_registry_free(r);
	free(a.dirs);
	free(a.policy_dirs);
	free(a.manifests);
	return rc;
}
