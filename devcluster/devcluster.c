#include "devcluster/devcluster.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "devcluster/internal.h"
#include "core/banned.h"

static char *dup_or_null(const char *s)
{
	return s ? ks_xstrdup(s) : NULL;
}

static int load_tokens(ks_devcluster *dc, ks_error *err)
{
	char *data;
	size_t len;
	int rc = ks_read_file(dc->token_file, 1 << 20, &data, &len, err);
	if (rc)
		return rc;
	char *p = data;
	while (p && *p) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		/* a line may be a plain token or "token,user,uid" (the
		 * kube-apiserver token file format) */
		size_t tl = 0;
		while (tl < n && p[tl] != ',')
			tl++;
		if (tl && p[0] != '#') {
			dc->tokens = ks_xrealloc(
				dc->tokens, (dc->ntokens + 1) * sizeof(char *));
			dc->tokens[dc->ntokens++] = ks_xstrndup(p, tl);
		}
		p = nl ? nl + 1 : NULL;
	}
	free(data);
	if (!dc->ntokens)
		return ks_error_set(err, KS_EINVAL, "%s: no token in the file",
				    dc->token_file);
	return 0;
}

int ks_devcluster_start(ks_devcluster **out, uv_loop_t *loop,
			const ks_devcluster_opts *opts, ks_error *err)
{
	ks_devcluster *dc = ks_xcalloc(1, sizeof(*dc));
	dc->loop = loop;
	dc->opts = *opts;
	if (dc->opts.time_scale <= 0)
		dc->opts.time_scale = 1;
	dc->listen = ks_xstrdup(opts->listen ? opts->listen : "127.0.0.1:0");
	dc->state_file = dup_or_null(opts->state_file);
	dc->token_file = dup_or_null(opts->token_file);
	dc->tls_cert = dup_or_null(opts->tls_cert);
	dc->tls_key = dup_or_null(opts->tls_key);
	dc->client_ca = dup_or_null(opts->client_ca);
	dc->opts.listen = dc->listen;
	dc->opts.state_file = dc->state_file;
	dc->opts.token_file = dc->token_file;
	dc->opts.tls_cert = dc->tls_cert;
	dc->opts.tls_key = dc->tls_key;
	dc->opts.client_ca = dc->client_ca;
	dc->opts.fail_images = NULL;
	dc->opts.faults = NULL;
	uv_timer_init(loop, &dc->save_timer);
	dc->save_timer.data = dc;
	dc_types_init(dc);
	int rc = 0;
	if (opts->fail_images && *opts->fail_images) {
		if (regcomp(&dc->fail_re, opts->fail_images,
			    REG_EXTENDED | REG_NOSUB)) {
			rc = ks_error_set(err, KS_EINVAL,
					  "--fail-images: invalid regular "
					  "expression \"%s\"",
					  opts->fail_images);
			goto fail;
		}
		dc->have_fail_re = true;
	}
	if (opts->faults && (rc = dc_faults_set(dc, opts->faults, err)))
		goto fail;
	if (dc->token_file && (rc = load_tokens(dc, err)))
		goto fail;
	if ((rc = dc_state_load(dc, err)))
		goto fail;
	dc->http = ks_http_server_new(loop, NULL, dc_handle, dc);
	if ((dc->tls_cert || dc->tls_key) && (!dc->tls_cert || !dc->tls_key)) {
		rc = ks_error_set(err, KS_EINVAL,
				  "--tls-cert and --tls-key go together");
		goto fail;
	}
	if (dc->tls_cert &&
	    (rc = ks_http_server_set_tls(dc->http, dc->tls_cert, dc->tls_key,
					 dc->client_ca, err)))
		goto fail;
	if ((rc = ks_http_server_listen(dc->http, dc->listen, err)))
		goto fail;
	const char *host = dc->listen;
	const char *colon = strrchr(host, ':');
	int hl = (int)(colon - host);
	if (hl == 0 || (hl == 9 && !strncmp(host, "localhost", 9)))
		host = "127.0.0.1", hl = 9;
	snprintf(dc->url, sizeof(dc->url), "%s://%.*s:%d",
		 dc->tls_cert ? "https" : "http", hl, host,
		 ks_http_server_port(dc->http));
	/* seed the namespaces every cluster has */
	dc_type *nst = dc_type_find(dc, "", "v1", "namespaces");
	static const char *const seed[] = {"default", "kube-system",
					   "kube-public", "kube-node-lease"};
	for (size_t i = 0; i < 4; i++) {
		if (dc_get(nst, NULL, seed[i]))
			continue;
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "kind",
				       "Namespace", "apiVersion", "v1",
				       "metadata", "name", seed[i]);
		dc_controller_write(dc, nst, ns, "kube-apiserver", false);
	}
	*out = dc;
	return 0;
fail:
	ks_devcluster_stop(dc);
	return rc;
}

const char *ks_devcluster_url(const ks_devcluster *dc)
{
	return dc->url;
}

static char *base64_file(const char *path, ks_error *err)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	char *data;
	size_t n;
	if (ks_read_file(path, 1 << 20, &data, &n, err))
		return NULL;
	const unsigned char *s = (const unsigned char *)data;
	char *out = ks_xmalloc(4 * (n / 3 + 1) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)s[i] << 16;
		if (i + 1 < n)
			x |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			x |= s[i + 2];
		out[o++] = b64[(x >> 18) & 63];
		out[o++] = b64[(x >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(x >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[x & 63] : '=';
	}
	out[o] = '\0';
	free(data);
	return out;
}

int ks_devcluster_write_kubeconfig(const ks_devcluster *dc, const char *path,
				   ks_error *err)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_printf(&b,
		      "apiVersion: v1\nkind: Config\nclusters:\n"
		      "- name: devcluster\n  cluster:\n    server: %s\n",
		      dc->url);
	if (dc->tls_cert) {
		char *ca = base64_file(dc->tls_cert, err);
		if (!ca) {
			ks_buf_release(&b);
			return err ? err->code : KS_EIO;
		}
		ks_buf_printf(&b, "    certificate-authority-data: %s\n", ca);
		free(ca);
	}
	ks_buf_puts(&b, "users:\n- name: devcluster\n  user:");
	if (dc->ntokens)
		ks_buf_printf(&b, "\n    token: %s\n", dc->tokens[0]);
	else
		ks_buf_puts(&b, " {}\n");
	ks_buf_puts(&b, "contexts:\n- name: devcluster\n  context:\n"
			"    cluster: devcluster\n    user: devcluster\n"
			"    namespace: default\n"
			"current-context: devcluster\npreferences: {}\n");
	char *tmp = ks_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = 0;
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len ||
	    close(fd) != 0 || rename(tmp, path) != 0) {
		rc = ks_error_set(err, KS_EIO, "cannot write \"%s\": %s", path,
				  strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	ks_buf_release(&b);
	return rc;
}

static void maybe_free(ks_devcluster *dc);

static int pending_closes(ks_devcluster *dc)
{
	return (dc->http ? 1 : 0) + (dc->save_timer.data ? 1 : 0);
}

static void on_http_closed(void *ud)
{
	ks_devcluster *dc = ud;
	dc->http = NULL;
	maybe_free(dc);
}

static void on_save_timer_closed(uv_handle_t *h)
{
	ks_devcluster *dc = h->data;
	dc->save_timer.data = NULL;
	maybe_free(dc);
}

static void maybe_free(ks_devcluster *dc)
{
	if (pending_closes(dc))
		return;
	for (size_t i = 0; i < dc->log_len; i++) {
		dc_event *e = &dc->log[(dc->log_start + i) % DC_EVENT_LOG];
		json_decref(e->obj);
		json_decref(e->old);
	}
	dc_types_free(dc);
	dc_faults_free(dc);
	if (dc->have_fail_re)
		regfree(&dc->fail_re);
	for (size_t i = 0; i < dc->ntokens; i++)
		free(dc->tokens[i]);
	free(dc->tokens);
	free(dc->listen);
	free(dc->state_file);
	free(dc->token_file);
	free(dc->tls_cert);
	free(dc->tls_key);
	free(dc->client_ca);
	free(dc);
}

void ks_devcluster_stop(ks_devcluster *dc)
{
	if (!dc || dc->stopping)
		return;
	if (dc->state_file && dc->http) {
		ks_error err;
		if (dc_state_save(dc, &err))
			fprintf(stderr, "devcluster: %s\n", err.msg);
	}
	dc->stopping = true;
	dc_watches_stop_all(dc);
	dc_controllers_stop(dc);
	dc_faults_stop(dc);
	uv_timer_stop(&dc->save_timer);
	uv_close((uv_handle_t *)&dc->save_timer, on_save_timer_closed);
	if (dc->http)
		ks_http_server_close(dc->http, on_http_closed, dc);
	else
		maybe_free(dc);
}
