/*
 * The agent's client commands: status, approve, rollback, sync, suspend and
 * resume talk to a running agent's HTTP API (spec/agent.md § HTTP API)
 * with libcurl. The token is sent only in the Authorization header, never
 * printed, and redirects are not followed (a redirect could carry it to
 * another host).
 */
#include "agent/cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/error.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/values.h"
#include "core/banned.h"

#define AGENT_FLAGS_HELP                                                       \
	"  --server URL           the agent (default $KUSYNC_SERVER, else "    \
	"http://127.0.0.1:8080)\n"                                             \
	"  --token TOKEN          bearer token (default $KUSYNC_TOKEN)\n"      \
	"  --token-file FILE      read the bearer token from FILE\n"           \
	"  -o, --output FORMAT    text (default) or json\n"                    \
	"  --timeout D            give up after D (default 30s)\n"

#define EXIT_CODES_HELP                                                        \
	"Exit codes: 0 done, 2 invalid usage or refused by the agent (400, "   \
	"404, 409,\n422), 3 agent unreachable, token refused (401, 403) or "   \
	"agent failure.\n"

#define RELEASE_EXIT_HELP                                                      \
	"Exit codes: 0 done, 1 the release ended Failed, Blocked or "          \
	"RolledBack, 2\ninvalid usage or refused by the agent (400, 404, "     \
	"409, 422), 3 agent\nunreachable, token refused (401, 403) or agent "  \
	"failure.\n"

const char ks_usage_status[] =
	"usage: kusync status [agent flags] [-o text|json] [APP]\n"
	"\n"
	"Shows the agent's apps as a table (name, source, commit, latest "
	"release,\nphase, health, drift, suspended), or one app in detail: "
	"its release and cells,\nwhat it waits for, errors with their "
	"positions, the release's preview\nsummary and its last releases.\n"
	"\n" AGENT_FLAGS_HELP "\n"
	"Exit codes: 0 ok, 1 an app's latest release is Failed, Blocked or "
	"RolledBack,\n2 unknown app or invalid usage, 3 agent unreachable or "
	"token refused.\n";

const char ks_usage_approve[] =
	"usage: kusync approve [agent flags] APP REVISION [--comment TEXT]\n"
	"\n"
	"Approves the release of APP that awaits approval. REVISION names it: "
	"its\ncommit id (7 or more hex digits) or its release number.\n"
	"\n" AGENT_FLAGS_HELP
	"  --comment TEXT         recorded with the approval\n"
	"\n" RELEASE_EXIT_HELP;

const char ks_usage_rollback[] =
	"usage: kusync rollback [agent flags] APP [RELEASE] [--comment TEXT]\n"
	"\n"
	"Rolls APP back: a new release with the resources of release RELEASE "
	"(default:\nthe previous succeeded release), deployed and checked "
	"cell by cell without a\nnew approval.\n"
	"\n" AGENT_FLAGS_HELP
	"  --comment TEXT         recorded in the audit log\n"
	"\n" RELEASE_EXIT_HELP;

const char ks_usage_sync[] =
	"usage: kusync sync [agent flags] APP\n"
	"\n"
	"Asks the agent to fetch, re-plan and reconcile APP now, even when "
	"the commit\nis unchanged.\n"
	"\n" AGENT_FLAGS_HELP "\n" EXIT_CODES_HELP;

const char ks_usage_suspend[] =
	"usage: kusync suspend [agent flags] APP\n"
	"\n"
	"Stops reconciling and healing APP until 'kusync resume'.\n"
	"\n" AGENT_FLAGS_HELP "\n" EXIT_CODES_HELP;

const char ks_usage_resume[] =
	"usage: kusync resume [agent flags] APP\n"
	"\n"
	"Restarts reconciling and healing a suspended APP.\n"
	"\n" AGENT_FLAGS_HELP "\n" EXIT_CODES_HELP;

/* Answers bigger than this are refused: a status is a few KiB. */
#define MAX_ANSWER (16u << 20)
#define MAX_TOKEN_FILE (64u << 10)

typedef struct client {
	const char *command;
	char *server; /* without a trailing '/' */
	char *token;  /* NULL: none */
	const char *output;
	int64_t timeout_ms;
	const char *comment;
	const char *args[3];
	size_t nargs;
} client;

static void client_release(client *c)
{
	free(c->server);
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
}

static int read_token_file(client *c, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	ks_error err;
	if (ks_read_file(path, MAX_TOKEN_FILE, &data, &len, &err)) {
		ks_cli_error("--token-file: %s", err.msg);
		return KS_EXIT_USAGE;
	}
	while (len && isspace((unsigned char)data[len - 1]))
		len--;
	data[len] = '\0';
	if (!len) {
		free(data);
		ks_cli_error("--token-file: %s is empty", path);
		return KS_EXIT_USAGE;
	}
	c->token = data;
	return -1;
}

/* Flags and up to MAXARGS positional arguments; -1 when fine, else the
 * exit code (the problem printed). */
static int parse(client *c, int argc, char **argv, size_t maxargs, bool comment)
{
	const char *server = getenv("KUSYNC_SERVER");
	const char *token = NULL, *token_file = NULL;
	c->output = "text";
	c->timeout_ms = 30000;
	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		const char *arg = argv[i];
		if ((v = ks_cli_flag_value(argc, argv, &i, NULL, "--server",
					   &missing))) {
			server = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--token", &missing))) {
			token = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--token-file", &missing))) {
			token_file = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, "-o",
						  "--output", &missing))) {
			if (strcmp(v, "text") && strcmp(v, "json")) {
				ks_cli_error("unknown output format \"%s\" "
					     "(want text or json)",
					     v);
				return KS_EXIT_USAGE;
			}
			c->output = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--timeout", &missing))) {
			if (ks_duration_parse(v, &c->timeout_ms) ||
			    !c->timeout_ms) {
				ks_cli_error("--timeout: \"%s\" is not a "
					     "duration (like 30s, 2m)",
					     v);
				return KS_EXIT_USAGE;
			}
		} else if (!missing && comment &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--comment", &missing))) {
			c->comment = v;
		} else if (missing) {
			ks_cli_error("flag %s needs a value", arg);
			return KS_EXIT_USAGE;
		} else if (arg[0] == '-' && arg[1]) {
			ks_cli_error("unknown flag %s; run 'kusync %s --help'",
				     arg, c->command);
			return KS_EXIT_USAGE;
		} else if (c->nargs == maxargs) {
			ks_cli_error("unexpected argument \"%s\"; run 'kusync "
				     "%s --help'",
				     arg, c->command);
			return KS_EXIT_USAGE;
		} else {
			c->args[c->nargs++] = arg;
		}
	}
	if (!server || !*server)
		server = "http://127.0.0.1:8080";
	if (strncmp(server, "http://", 7) && strncmp(server, "https://", 8)) {
		ks_cli_error("--server: expected an http:// or https:// URL, "
			     "got \"%s\"",
			     server);
		return KS_EXIT_USAGE;
	}
	size_t len = strlen(server);
	while (len && server[len - 1] == '/')
		len--;
	c->server = ks_xstrndup(server, len);
	if (token && token_file) {
		ks_cli_error("--token and --token-file exclude each other");
		return KS_EXIT_USAGE;
	}
	if (token_file)
		return read_token_file(c, token_file);
	if (!token)
		token = getenv("KUSYNC_TOKEN");
	if (token && *token)
		c->token = ks_xstrdup(token);
	return -1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	ks_buf *b = ud;
	if (ks_buf_append(b, p, size * n) < 0)
		return 0; /* over the cap: curl stops with a write error */
	return size * n;
}

/* The server's {"error": ...} message, or a stand-in. */
static const char *error_text(const json_t *answer, const ks_buf *raw,
			      char *buf, size_t size)
{
	const char *msg = json_string_value(json_object_get(answer, "error"));
	if (msg)
		return msg;
	if (raw->len && raw->len < 200 && !memchr(raw->data, '\n', raw->len))
		return raw->data;
	snprintf(buf, size, "no error message");
	return buf;
}

/* The exit code for an answer that is not 2xx (the problem printed). */
static int refused(long status, const json_t *answer, const ks_buf *raw)
{
	char buf[64];
	const char *msg = error_text(answer, raw, buf, sizeof(buf));
	switch (status) {
	case 400:
	case 404:
	case 409:
	case 422:
		ks_cli_error("%s", msg);
		return KS_EXIT_USAGE;
	case 401:
		ks_cli_error("the agent refused the token (401): %s", msg);
		return KS_EXIT_ENV;
	case 403:
		ks_cli_error("the token's role is too low for this (403): %s",
			     msg);
		return KS_EXIT_ENV;
	default:
		ks_cli_error("the agent answered %ld: %s", status, msg);
		return KS_EXIT_ENV;
	}
}

/* A header line for curl; the token part is wiped before it is freed. */
static struct curl_slist *auth_header(const client *c, struct curl_slist *h,
				      char **line)
{
	*line = NULL;
	if (!c->token)
		return h;
	*line = ks_xasprintf("Authorization: Bearer %s", c->token);
	return curl_slist_append(h, *line);
}

/*
 * METHOD PATH with BODY (may be NULL: no body) to the agent. -1 and
 * *ANSWER (a new reference; JSON null for an empty answer) on a 2xx,
 * else the exit code with the problem printed.
 */
static int call(const client *c, const char *method, const char *path,
		const json_t *body, json_t **answer)
{
	*answer = NULL;
	CURL *h = curl_easy_init();
	if (!h) {
		ks_cli_error("cannot start an HTTP client");
		return KS_EXIT_ENV;
	}
	char *url = ks_xasprintf("%s%s", c->server, path);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char *auth = NULL;
	struct curl_slist *hdrs =
		curl_slist_append(NULL, "Accept: application/json");
	hdrs = auth_header(c, hdrs, &auth);
	/* a POST without a body has no Content-Type (curl would send a
	 * form's) */
	hdrs = curl_slist_append(hdrs, text ? "Content-Type: application/json"
					    : "Content-Type:");
	ks_buf raw;
	ks_buf_init(&raw, MAX_ANSWER);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
				 (long)(text ? strlen(text) : 0));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &raw);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	int rc = -1;
	if (cc != CURLE_OK) {
		ks_cli_error("cannot reach the agent at %s: %s", c->server,
			     raw.len >= MAX_ANSWER ? "the answer is too large"
			     : *errbuf		   ? errbuf
						   : curl_easy_strerror(cc));
		rc = KS_EXIT_ENV;
		goto out;
	}
	json_t *j = NULL;
	if (raw.len) {
		json_error_t jerr;
		j = json_loadb(raw.data, raw.len, 0, &jerr);
	}
	if (status < 200 || status > 299) {
		rc = refused(status, j, &raw);
		json_decref(j);
		goto out;
	}
	if (raw.len && !j) {
		ks_cli_error("the agent's answer to %s %s is not JSON", method,
			     path);
		rc = KS_EXIT_ENV;
		goto out;
	}
	*answer = j ? j : json_null();
out:
	ks_buf_release(&raw);
	curl_slist_free_all(hdrs);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	free(text);
	free(url);
	curl_easy_cleanup(h);
	return rc;
}

/* "/api/v1/apps/<app><suffix>" with the app name percent-encoded. */
static char *app_path(const char *app, const char *suffix)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "/api/v1/apps/");
	for (const unsigned char *p = (const unsigned char *)app; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			ks_buf_append(&b, p, 1);
		else
			ks_buf_printf(&b, "%%%02X", *p);
	}
	ks_buf_puts(&b, suffix);
	return ks_buf_detach(&b, NULL);
}

static int write_out(const ks_buf *b)
{
	if (b->len &&
	    (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout))) {
		ks_cli_error("writing the output failed");
		return KS_EXIT_ENV;
	}
	return -1;
}

static int print_json(const json_t *v)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_json_pretty(&b, v);
	int rc = write_out(&b);
	ks_buf_release(&b);
	return rc;
}

/* A table cell or field: strings as they are, numbers, yes/no, "-". */
static const char *cell(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%" PRId64, (int64_t)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, size, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	return "-";
}

static bool failed_phase(const char *phase)
{
	return phase &&
	       (!strcmp(phase, "Failed") || !strcmp(phase, "Blocked") ||
		!strcmp(phase, "RolledBack"));
}

enum { NCOLS = 8 };

static void table_row(ks_buf *b, const char *const *cols, const int *width)
{
	for (int i = 0; i < NCOLS; i++) {
		if (i + 1 < NCOLS)
			ks_buf_printf(b, "%-*s  ", width[i], cols[i]);
		else
			ks_buf_printf(b, "%s\n", cols[i]);
	}
}

/* The cells of one app's row, in heap strings. */
static void app_row(const json_t *app, char **cols)
{
	static const char *const keys[NCOLS] = {
		"name",	 "source", "commit", "release",
		"phase", "health", "drift",  "suspended",
	};
	char buf[64];
	for (int i = 0; i < NCOLS; i++) {
		const json_t *v = json_object_get(app, keys[i]);
		if (i == 2 && json_is_string(v))
			cols[i] = ks_xstrndup(json_string_value(v), 7);
		else if (i == 3 && json_is_object(v))
			cols[i] = ks_xstrdup(cell(json_object_get(v, "number"),
						  buf, sizeof(buf)));
		else if (i == 6 && json_is_object(v))
			cols[i] =
				ks_xstrdup(cell(json_object_get(v, "resources"),
						buf, sizeof(buf)));
		else
			cols[i] = ks_xstrdup(cell(v, buf, sizeof(buf)));
	}
}

static void print_table(ks_buf *b, const json_t *apps)
{
	static const char *const head[NCOLS] = {
		"NAME",	 "SOURCE", "COMMIT", "RELEASE",
		"PHASE", "HEALTH", "DRIFT",  "SUSPENDED",
	};
	size_t n = json_array_size(apps);
	char **cells = ks_xcalloc(n * NCOLS + 1, sizeof(*cells));
	int width[NCOLS];
	for (int k = 0; k < NCOLS; k++)
		width[k] = (int)strlen(head[k]);
	for (size_t i = 0; i < n; i++) {
		app_row(json_array_get(apps, i), cells + i * NCOLS);
		for (int k = 0; k < NCOLS; k++) {
			int w = (int)strlen(cells[i * NCOLS + k]);
			width[k] = w > width[k] ? w : width[k];
		}
	}
	table_row(b, head, width);
	for (size_t i = 0; i < n; i++)
		table_row(b, (const char *const *)cells + i * NCOLS, width);
	for (size_t i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
}

/* The phase of an app's latest release (list row or detail). */
static const char *app_phase(const json_t *app)
{
	const char *p = json_string_value(json_object_get(app, "phase"));
	if (p)
		return p;
	return json_string_value(
		json_object_get(json_object_get(app, "release"), "phase"));
}

/* A list of names: strings as they are, objects by their "app" or
 * "name". */
static void name_list(ks_buf *b, const json_t *list)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			s = json_string_value(json_object_get(v, "app"));
		if (!s)
			s = json_string_value(json_object_get(v, "name"));
		const char *why =
			json_string_value(json_object_get(v, "reason"));
		ks_buf_printf(b, "%s%s", i ? ", " : "", s ? s : "?");
		if (why)
			ks_buf_printf(b, " (%s)", why);
	}
}

/* One error: a string, or {file, line, col, message}. */
static void one_error(ks_buf *b, const json_t *e)
{
	if (json_is_string(e)) {
		const char *p = json_string_value(e);
		while (*p) {
			size_t n = strcspn(p, "\n");
			ks_buf_printf(b, "  %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
		return;
	}
	const char *file = json_string_value(json_object_get(e, "file"));
	json_int_t line = json_integer_value(json_object_get(e, "line"));
	json_int_t col = json_integer_value(json_object_get(e, "col"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	ks_buf_puts(b, "  ");
	if (file && line)
		ks_buf_printf(b,
			      "%s:%" JSON_INTEGER_FORMAT
			      ":%" JSON_INTEGER_FORMAT ": ",
			      file, line, col);
	else if (file)
		ks_buf_printf(b, "%s: ", file);
	if (msg) {
		ks_buf_printf(b, "%s\n", msg);
	} else {
		char *s = json_dumps(e, JSON_COMPACT);
		ks_buf_printf(b, "%s\n", s ? s : "?");
		free(s);
	}
}

/* The app's error: a string, a list of errors, or an object with a
 * message and/or a list of errors. */
static void print_error(ks_buf *b, const json_t *err)
{
	if (!err || json_is_null(err))
		return;
	ks_buf_puts(b, "error:\n");
	const json_t *list = json_is_array(err) ? err : NULL;
	if (json_is_array(json_object_get(err, "errors"))) {
		const char *msg =
			json_string_value(json_object_get(err, "message"));
		if (msg)
			ks_buf_printf(b, "  %s\n", msg);
		list = json_object_get(err, "errors");
	}
	if (!list) {
		one_error(b, err);
		return;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(list, i, e)
	{
		one_error(b, e);
	}
}

/* "1 to create, 2 to update, 0 to delete, 3 unchanged" from a preview. */
static void print_preview(ks_buf *b, const json_t *plan)
{
	const json_t *apps = json_object_get(plan, "apps");
	if (!json_is_array(apps))
		return;
	unsigned cr = 0, up = 0, del = 0, same = 0;
	size_t i, k;
	const json_t *app, *act;
	json_array_foreach(apps, i, app)
	{
		json_array_foreach(json_object_get(app, "actions"), k, act)
		{
			const char *a = json_string_value(
				json_object_get(act, "action"));
			if (!a)
				continue;
			cr += !strcmp(a, "create");
			up += !strcmp(a, "update");
			del += !strcmp(a, "delete");
			same += !strcmp(a, "unchanged");
		}
	}
	ks_buf_printf(b,
		      "preview:    %u to create, %u to update, %u to delete, "
		      "%u unchanged\n",
		      cr, up, del, same);
}

/* "policy:     SET/RULE (mandatory): KIND OBJECT: MESSAGE" */
static void print_finding(ks_buf *b, const json_t *f)
{
	const char *set = json_string_value(json_object_get(f, "set"));
	const char *rule = json_string_value(json_object_get(f, "rule"));
	const char *kind = json_string_value(json_object_get(f, "kind"));
	const char *obj = json_string_value(json_object_get(f, "object"));
	const char *m = json_string_value(json_object_get(f, "message"));
	ks_buf_printf(b, "policy:     %s/%s (%s): ", set ? set : "?",
		      rule ? rule : "?",
		      json_is_true(json_object_get(f, "mandatory"))
			      ? "mandatory"
			      : "advisory");
	if (kind || obj)
		ks_buf_printf(b, "%s%s%s: ", kind ? kind : "",
			      kind && obj ? " " : "", obj ? obj : "");
	ks_buf_printf(b, "%s\n", m ? m : "");
}

static void print_release(ks_buf *b, const json_t *rel)
{
	char buf[32], buf2[32];
	if (!json_is_object(rel)) {
		ks_buf_puts(b, "release:    none\n");
		return;
	}
	const char *commit = json_string_value(json_object_get(rel, "commit"));
	ks_buf_printf(b, "release:    %s (%s",
		      cell(json_object_get(rel, "number"), buf, sizeof(buf)),
		      cell(json_object_get(rel, "phase"), buf2, sizeof(buf2)));
	if (commit)
		ks_buf_printf(b, ", commit %.7s", commit);
	ks_buf_puts(b, ")\n");
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(rel, "cells"), i, c)
	{
		const char *zone =
			json_string_value(json_object_get(c, "zone"));
		const char *name =
			json_string_value(json_object_get(c, "cell"));
		ks_buf_printf(
			b, "  cell %s%s%s: %s\n", zone ? zone : "",
			zone && *zone ? "/" : "", name ? name : "-",
			cell(json_object_get(c, "phase"), buf, sizeof(buf)));
	}
	const char *msg = json_string_value(json_object_get(rel, "message"));
	if (msg && *msg)
		ks_buf_printf(b, "message:    %s\n", msg);
	json_array_foreach(json_object_get(rel, "approvals"), i, c)
	{
		ks_buf_printf(
			b, "approved:   by %s via %s at %s\n",
			cell(json_object_get(c, "who"), buf, sizeof(buf)),
			cell(json_object_get(c, "via"), buf2, sizeof(buf2)),
			json_string_value(json_object_get(c, "at"))
				? json_string_value(json_object_get(c, "at"))
				: "-");
	}
	json_array_foreach(json_object_get(rel, "policy"), i, c)
	{
		print_finding(b, c);
	}
	print_preview(b, json_object_get(rel, "plan"));
}

static void print_history(ks_buf *b, const json_t *releases)
{
	size_t n = json_array_size(releases);
	if (!n)
		return;
	ks_buf_puts(b, "releases:\n");
	for (size_t i = 0; i < n && i < 5; i++) {
		const json_t *r = json_array_get(releases, i);
		char num[32], ph[32];
		const char *commit =
			json_string_value(json_object_get(r, "commit"));
		const char *at =
			json_string_value(json_object_get(r, "startedAt"));
		const char *msg =
			json_string_value(json_object_get(r, "message"));
		ks_buf_printf(
			b, "  %-4s %-22s %.7s  %s%s%s\n",
			cell(json_object_get(r, "number"), num, sizeof(num)),
			cell(json_object_get(r, "phase"), ph, sizeof(ph)),
			commit ? commit : "-      ", at ? at : "-",
			msg && *msg ? "  " : "", msg && *msg ? msg : "");
	}
}

static void print_app(ks_buf *b, const json_t *app, const json_t *releases)
{
	char buf[64];
	static const char *const fields[] = {"name", "source", "commit",
					     "health", "suspended"};
	for (size_t i = 0; i < 5; i++) {
		char label[16];
		snprintf(label, sizeof(label), "%s:", fields[i]);
		ks_buf_printf(b, "%-11s %s\n", label,
			      cell(json_object_get(app, fields[i]), buf,
				   sizeof(buf)));
	}
	const json_t *drift = json_object_get(app, "drift");
	if (drift)
		ks_buf_printf(b, "drift:      %s\n",
			      cell(drift, buf, sizeof(buf)));
	const char *status = json_string_value(json_object_get(app, "status"));
	if (status)
		ks_buf_printf(b, "status:     %s\n", status);
	const char *next =
		json_string_value(json_object_get(app, "waitingCommit"));
	if (next)
		ks_buf_printf(b,
			      "next:       commit %.7s waits for the running "
			      "release\n",
			      next);
	const json_t *rel = json_object_get(app, "release");
	print_release(b, rel);
	const json_t *wait = json_object_get(app, "waitingFor");
	if (!json_array_size(wait))
		wait = json_object_get(rel, "waitingFor");
	if (json_array_size(wait)) {
		ks_buf_puts(b, "waiting for: ");
		name_list(b, wait);
		ks_buf_puts(b, "\n");
	}
	print_error(b, json_object_get(app, "error"));
	print_history(b, json_object_get(releases, "releases"));
}

static int status_one(const client *c, const char *app)
{
	char *path = app_path(app, "");
	json_t *a = NULL, *rels = NULL;
	int rc = call(c, "GET", path, NULL, &a);
	free(path);
	if (rc >= 0)
		return rc;
	if (!strcmp(c->output, "json")) {
		rc = print_json(a);
	} else {
		path = app_path(app, "/releases");
		rc = call(c, "GET", path, NULL, &rels);
		free(path);
		if (rc >= 0) {
			json_decref(a);
			return rc;
		}
		ks_buf b;
		ks_buf_init(&b, 0);
		print_app(&b, a, rels);
		rc = write_out(&b);
		ks_buf_release(&b);
	}
	if (rc < 0)
		rc = failed_phase(app_phase(a)) ? KS_EXIT_FINDINGS : KS_EXIT_OK;
	json_decref(a);
	json_decref(rels);
	return rc;
}

static int status_all(const client *c)
{
	json_t *a = NULL;
	int rc = call(c, "GET", "/api/v1/apps", NULL, &a);
	if (rc >= 0)
		return rc;
	const json_t *apps = json_object_get(a, "apps");
	if (!json_is_array(apps)) {
		ks_cli_error("the agent's app list has no \"apps\" list");
		json_decref(a);
		return KS_EXIT_ENV;
	}
	if (!strcmp(c->output, "json")) {
		rc = print_json(a);
	} else if (!json_array_size(apps)) {
		fputs("no apps\n", stdout);
	} else {
		ks_buf b;
		ks_buf_init(&b, 0);
		print_table(&b, apps);
		rc = write_out(&b);
		ks_buf_release(&b);
	}
	if (rc < 0) {
		rc = KS_EXIT_OK;
		size_t i;
		const json_t *app;
		json_array_foreach(apps, i,
				   app) if (failed_phase(app_phase(app))) rc =
			KS_EXIT_FINDINGS;
	}
	json_decref(a);
	return rc;
}

int ks_cmd_status(int argc, char **argv)
{
	client c = {.command = "status"};
	int rc = parse(&c, argc, argv, 1, false);
	if (rc < 0)
		rc = c.nargs ? status_one(&c, c.args[0]) : status_all(&c);
	client_release(&c);
	return rc;
}

/*
 * What an action's answer says, in one line: "approved APP" and, with
 * RELEASE_INFO, " release 4 (Deploying)" from the answer (the agent
 * answers approvals and rollbacks with {"app", "release", "phase",
 * "commit"} once the release has moved on). A release that ended Failed,
 * Blocked or RolledBack makes the exit code 1.
 */
static int action_done(const client *c, const char *what, const char *app,
		       const json_t *answer, bool release_info)
{
	const char *phase = json_string_value(json_object_get(answer, "phase"));
	int rc = release_info && failed_phase(phase) ? KS_EXIT_FINDINGS
						     : KS_EXIT_OK;
	if (!strcmp(c->output, "json")) {
		int wrc = print_json(answer);
		return wrc < 0 ? rc : wrc;
	}
	char buf[64];
	const json_t *num = json_object_get(answer, "release");
	if (!num)
		num = json_object_get(answer, "number");
	printf("%s %s", what, app);
	if (release_info && json_is_integer(num))
		printf(": release %s", cell(num, buf, sizeof(buf)));
	if (release_info && phase)
		printf(" (%s)", phase);
	printf("\n");
	if (fflush(stdout)) {
		ks_cli_error("writing the output failed");
		return KS_EXIT_ENV;
	}
	return rc;
}

/* POST SUFFIX for the one APP argument, with BODY (may be NULL). */
static int post_action(client *c, const char *suffix, const json_t *body,
		       const char *what, bool release_info)
{
	char *path = app_path(c->args[0], suffix);
	json_t *answer = NULL;
	int rc = call(c, "POST", path, body, &answer);
	free(path);
	if (rc < 0)
		rc = action_done(c, what, c->args[0], answer, release_info);
	json_decref(answer);
	return rc;
}

static int need_args(const client *c, size_t n, const char *what)
{
	if (c->nargs >= n)
		return -1;
	ks_cli_error("missing %s; run 'kusync %s --help'", what, c->command);
	return KS_EXIT_USAGE;
}

/* A commit id (7 to 64 hex digits) or a release number. */
static bool good_revision(const char *s)
{
	size_t n = strlen(s), hex = strspn(s, "0123456789abcdefABCDEF");
	size_t dec = strspn(s, "0123456789");
	if (n && dec == n)
		return s[0] != '0';
	return n >= 7 && n <= 64 && hex == n;
}

int ks_cmd_approve(int argc, char **argv)
{
	client c = {.command = "approve"};
	int rc = parse(&c, argc, argv, 2, true);
	if (rc < 0)
		rc = need_args(&c, 2, "APP and REVISION");
	if (rc < 0 && !good_revision(c.args[1])) {
		ks_cli_error("revision \"%s\" is neither a commit id (7 or "
			     "more hex digits) nor a release number",
			     c.args[1]);
		rc = KS_EXIT_USAGE;
	}
	if (rc < 0) {
		json_t *body = json_pack("{s:s, s:s}", "revision", c.args[1],
					 "comment", c.comment ? c.comment : "");
		rc = post_action(&c, "/approve", body, "approved", true);
		json_decref(body);
	}
	client_release(&c);
	return rc;
}

int ks_cmd_rollback(int argc, char **argv)
{
	client c = {.command = "rollback"};
	int rc = parse(&c, argc, argv, 2, true);
	if (rc < 0)
		rc = need_args(&c, 1, "APP");
	json_t *body = NULL;
	if (rc < 0 && c.comment)
		body = json_pack("{s:s}", "comment", c.comment);
	if (rc < 0 && c.nargs == 2) {
		char *end;
		errno = 0;
		long long n = strtoll(c.args[1], &end, 10);
		if (*end || errno || n < 1 || c.args[1][0] == '+') {
			ks_cli_error("release \"%s\" is not a release number",
				     c.args[1]);
			rc = KS_EXIT_USAGE;
		} else {
			if (!body)
				body = json_object();
			json_object_set_new(body, "release",
					    json_integer((json_int_t)n));
		}
	}
	if (rc < 0)
		rc = post_action(&c, "/rollback", body, "rolled back", true);
	json_decref(body);
	client_release(&c);
	return rc;
}

/* sync, suspend and resume: one APP, no body. */
static int simple_action(const char *command, int argc, char **argv,
			 const char *suffix, const char *what)
{
	client c = {.command = command};
	int rc = parse(&c, argc, argv, 1, false);
	if (rc < 0)
		rc = need_args(&c, 1, "APP");
	if (rc < 0)
		rc = post_action(&c, suffix, NULL, what, false);
	client_release(&c);
	return rc;
}

int ks_cmd_sync(int argc, char **argv)
{
	return simple_action("sync", argc, argv, "/sync", "sync requested for");
}

int ks_cmd_suspend(int argc, char **argv)
{
	return simple_action("suspend", argc, argv, "/suspend", "suspended");
}

int ks_cmd_resume(int argc, char **argv)
{
	return simple_action("resume", argc, argv, "/resume", "resumed");
}
