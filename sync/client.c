/*
 * The HTTP side of the Kubernetes client: libcurl easy handles from a small
 * pool sharing connections, DNS and TLS sessions; authentication; the rate
 * limit; retries.
 */
#include "sync/kube.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sync/client_internal.h"
#include "sync/internal.h"
#include "core/banned.h"

#define POOL_MAX KS_POOL_MAX
#define TOKEN_FILE_PERIOD_MS 60000
#define EXEC_LEEWAY_S 10

/* ---- backoff and rate limit (pure) ---- */

int64_t ks_kube_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms,
			   int64_t retry_after_ms, double rand01)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	int64_t j = d / 2 + (int64_t)((double)(d - d / 2) * rand01);
	if (retry_after_ms > j)
		j = retry_after_ms;
	if (j > max_ms)
		j = max_ms;
	return j;
}

int64_t ks_kube_retry_after_ms(const char *value, int64_t now_unix)
{
	if (!value)
		return -1;
	while (*value == ' ')
		value++;
	char *end;
	long v = strtol(value, &end, 10);
	if (end != value && (*end == '\0' || *end == ' ' || *end == '\r')) {
		if (v < 0)
			return -1;
		return (int64_t)v * 1000;
	}
	/* An HTTP date: "Wed, 25 Nov 2026 08:00:00 GMT". */
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	int day, year, h, m, s;
	char mon[4];
	if (sscanf(value, "%*3s, %d %3s %d %d:%d:%d GMT", &day, mon, &year, &h,
		   &m, &s) != 6)
		return -1;
	int mi = -1;
	for (int i = 0; i < 12; i++)
		if (!strcmp(mon, months[i]))
			mi = i + 1;
	if (mi < 0)
		return -1;
	char iso[64];
	snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mi,
		 day, h, m, s);
	int64_t t = ks_sync_parse_time(iso);
	if (t < 0)
		return -1;
	return t > now_unix ? (t - now_unix) * 1000 : 0;
}

void ks_kube_ratelimit_init(ks_kube_ratelimit *rl, double qps, int burst,
			    int64_t now_ms)
{
	rl->qps = qps;
	rl->burst = burst > 0 ? burst : 1;
	rl->tokens = rl->burst;
	rl->last_ms = now_ms;
}

int64_t ks_kube_ratelimit_take(ks_kube_ratelimit *rl, int64_t now_ms)
{
	if (rl->qps <= 0)
		return 0;
	if (now_ms > rl->last_ms) {
		rl->tokens += (double)(now_ms - rl->last_ms) * rl->qps / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ms = now_ms;
	}
	/* The token is taken now even when it is not there yet (tokens goes
	 * negative): later callers queue behind this one, as client-go's
	 * reservations do. */
	rl->tokens -= 1;
	if (rl->tokens >= 0)
		return 0;
	return (int64_t)ceil(-rl->tokens * 1000.0 / rl->qps);
}

/* ---- the client ---- */

void ks_kube_client_opts_default(ks_kube_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->qps = 50;
	o->burst = 100;
	o->timeout_ms = 30000;
	o->connect_ms = 10000;
	o->max_retries = 5;
	o->backoff_base_ms = 200;
	o->backoff_max_ms = 10000;
	o->max_body = 64u << 20;
	o->user_agent = "kusync/" KS_VERSION;
	o->token_file_period_ms = TOKEN_FILE_PERIOD_MS;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
		       void *ud)
{
	(void)h;
	(void)a;
	ks_kube_client *c = ud;
	pthread_mutex_lock(&c->share_mu[data % KS_SHARE_LOCKS]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	ks_kube_client *c = ud;
	pthread_mutex_unlock(&c->share_mu[data % KS_SHARE_LOCKS]);
}

static char *dup_or_null(const char *s)
{
	return s ? ks_xstrdup(s) : NULL;
}

static char *dup_mem(const char *p, size_t n)
{
	if (!p)
		return NULL;
	char *d = ks_xmalloc(n + 1);
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static ks_kube_config *config_dup(const ks_kube_config *s)
{
	ks_kube_config *c = ks_xcalloc(1, sizeof(*c));
	c->context = dup_or_null(s->context);
	c->server = dup_or_null(s->server);
	c->ca_pem = dup_mem(s->ca_pem, s->ca_len);
	c->ca_len = s->ca_len;
	c->cert_pem = dup_mem(s->cert_pem, s->cert_len);
	c->cert_len = s->cert_len;
	c->key_pem = dup_mem(s->key_pem, s->key_len);
	c->key_len = s->key_len;
	c->token = dup_or_null(s->token);
	c->token_file = dup_or_null(s->token_file);
	c->username = dup_or_null(s->username);
	c->password = dup_or_null(s->password);
	c->insecure = s->insecure;
	c->tls_server_name = dup_or_null(s->tls_server_name);
	c->proxy_url = dup_or_null(s->proxy_url);
	c->disable_compression = s->disable_compression;
	c->namespace = ks_xstrdup(s->namespace ? s->namespace : "default");
	c->impersonate_user = dup_or_null(s->impersonate_user);
	if (s->nimpersonate_groups) {
		c->impersonate_groups =
			ks_xcalloc(s->nimpersonate_groups, sizeof(char *));
		for (size_t i = 0; i < s->nimpersonate_groups; i++)
			c->impersonate_groups[i] =
				ks_xstrdup(s->impersonate_groups[i]);
		c->nimpersonate_groups = s->nimpersonate_groups;
	}
	if (s->exec) {
		ks_kube_exec *e = ks_xcalloc(1, sizeof(*e));
		e->command = ks_xstrdup(s->exec->command);
		e->nargs = s->exec->nargs;
		e->args = ks_xcalloc(e->nargs ? e->nargs : 1, sizeof(char *));
		for (size_t i = 0; i < e->nargs; i++)
			e->args[i] = ks_xstrdup(s->exec->args[i]);
		e->nenv = s->exec->nenv;
		e->env = ks_xcalloc(e->nenv ? e->nenv : 1, sizeof(char *));
		for (size_t i = 0; i < e->nenv; i++)
			e->env[i] = ks_xstrdup(s->exec->env[i]);
		e->api_version = dup_or_null(s->exec->api_version);
		e->provide_cluster_info = s->exec->provide_cluster_info;
		e->install_hint = dup_or_null(s->exec->install_hint);
		c->exec = e;
	}
	c->in_cluster = s->in_cluster;
	return c;
}

/* Splits "https://host:port/prefix" for tls-server-name: the URL base with
 * the host replaced, and curl's CONNECT_TO entry sending that name to the
 * real host. */
static void setup_sni(ks_kube_client *c)
{
	const char *server = c->cfg->server;
	const char *hs = strstr(server, "://");
	hs = hs ? hs + 3 : server;
	const char *pe = strchr(hs, '/');
	size_t hostport_len = pe ? (size_t)(pe - hs) : strlen(hs);
	char *hostport = ks_xstrndup(hs, hostport_len);
	const char *colon = strrchr(hostport, ':');
	const char *rb = strrchr(hostport, ']');
	char *host, *port;
	if (colon && (!rb || colon > rb)) {
		host = ks_xstrndup(hostport, (size_t)(colon - hostport));
		port = ks_xstrdup(colon + 1);
	} else {
		host = ks_xstrdup(hostport);
		port = ks_xstrdup(strncmp(server, "http://", 7) ? "443" : "80");
	}
	const char *sni = c->cfg->tls_server_name;
	c->base = ks_xasprintf("%.*s%s:%s%s", (int)(hs - server), server, sni,
			       port, pe ? pe : "");
	char *entry = ks_xasprintf("%s:%s:%s:%s", sni, port, host, port);
	c->connect_to = curl_slist_append(NULL, entry);
	free(entry);
	free(hostport);
	free(host);
	free(port);
}

int ks_kube_client_new(ks_kube_client **out, const ks_kube_config *cfg,
		       const ks_kube_client_opts *opts, ks_error *err)
{
	if (!cfg || !cfg->server || !*cfg->server)
		return ks_error_set(err, KS_EINVAL,
				    "the cluster configuration has no server");
	pthread_once(&curl_once, curl_init_once);
	ks_kube_client *c = ks_xcalloc(1, sizeof(*c));
	if (opts)
		c->opts = *opts;
	else
		ks_kube_client_opts_default(&c->opts);
	if (!c->opts.user_agent)
		c->opts.user_agent = "kusync/" KS_VERSION;
	c->user_agent = ks_xstrdup(c->opts.user_agent);
	c->opts.user_agent = c->user_agent;
	c->cfg = config_dup(cfg);
	if (c->cfg->tls_server_name)
		setup_sni(c);
	else
		c->base = ks_xstrdup(c->cfg->server);
	/* Proxies from the environment never apply to loopback (as in
	 * kubectl), whatever $NO_PROXY says. */
	const char *np = getenv("NO_PROXY");
	if (!np || !*np)
		np = getenv("no_proxy");
	c->no_proxy = ks_xasprintf("%s%slocalhost,127.0.0.1,::1",
				   np && *np ? np : "", np && *np ? "," : "");
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->pool_cv, NULL);
	for (int i = 0; i < KS_SHARE_LOCKS; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	c->share = curl_share_init();
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	ks_kube_ratelimit_init(&c->rl, c->opts.qps, c->opts.burst,
			       ks_sync_now_ms());
	*out = c;
	return 0;
}

void ks_kube_client_free(ks_kube_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_share_cleanup(c->share);
	curl_slist_free_all(c->connect_to);
	for (int i = 0; i < KS_SHARE_LOCKS; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->pool_cv);
	ks_kube_discovery_release(c);
	ks_kube_cred_release(&c->cred);
	free(c->file_token);
	free(c->base);
	free(c->no_proxy);
	free(c->user_agent);
	ks_kube_config_free(c->cfg);
	free(c);
}

const char *ks_kube_client_namespace(const ks_kube_client *c)
{
	return c->cfg->namespace;
}

static CURL *pool_take(ks_kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (c->nfree > 0) {
			CURL *h = c->free_handles[--c->nfree];
			pthread_mutex_unlock(&c->mu);
			return h;
		}
		if (c->npool < POOL_MAX) {
			CURL *h = curl_easy_init();
			if (!h)
				abort();
			c->pool[c->npool++] = h;
			pthread_mutex_unlock(&c->mu);
			return h;
		}
		pthread_cond_wait(&c->pool_cv, &c->mu);
	}
}

static void pool_put(ks_kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	c->free_handles[c->nfree++] = h;
	pthread_cond_signal(&c->pool_cv);
	pthread_mutex_unlock(&c->mu);
}

/* Waits for the rate limit. */
static void rate_wait(ks_kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	int64_t wait = ks_kube_ratelimit_take(&c->rl, ks_sync_now_ms());
	pthread_mutex_unlock(&c->mu);
	ks_sync_sleep_ms(wait);
}

/* The credentials for the next request, under c->mu: the token file is
 * re-read once a minute, an exec credential is re-run shortly before it
 * expires or after a 401. Copies what the request needs. */
static int current_auth(ks_kube_client *c, char **token, char **cert,
			char **key, ks_error *err)
{
	int rc = 0;
	*token = *cert = *key = NULL;
	pthread_mutex_lock(&c->mu);
	const ks_kube_config *cfg = c->cfg;
	if (cfg->exec) {
		int64_t now = ks_sync_wall_ms() / 1000;
		bool stale = !c->have_cred ||
			     (c->cred.expires &&
			      c->cred.expires - EXEC_LEEWAY_S <= now);
		if (stale) {
			ks_kube_cred_release(&c->cred);
			c->have_cred = false;
			rc = ks_kube_exec_run(&c->cred, cfg, 60000, err);
			if (!rc)
				c->have_cred = true;
		}
		if (!rc) {
			*token = dup_or_null(c->cred.token);
			*cert = dup_or_null(c->cred.cert_pem);
			*key = dup_or_null(c->cred.key_pem);
		}
	}
	if (!rc && !*token && cfg->token)
		*token = ks_xstrdup(cfg->token);
	if (!rc && !*token && cfg->token_file) {
		int64_t now = ks_sync_now_ms();
		if (!c->file_token ||
		    now - c->file_token_at >=
			    (c->opts.token_file_period_ms
				     ? c->opts.token_file_period_ms
				     : TOKEN_FILE_PERIOD_MS)) {
			char *data = NULL;
			size_t len = 0;
			ks_error e2;
			if (ks_read_file(cfg->token_file, 1u << 20, &data, &len,
					 &e2) == 0) {
				while (len && (data[len - 1] == '\n' ||
					       data[len - 1] == '\r' ||
					       data[len - 1] == ' '))
					data[--len] = '\0';
				free(c->file_token);
				c->file_token = data;
				c->file_token_at = now;
			} else if (!c->file_token) {
				rc = ks_error_set(err, KS_EENV,
						  "bearer token file: %s",
						  e2.msg);
			}
		}
		if (!rc)
			*token = ks_xstrdup(c->file_token);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void invalidate_cred(ks_kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	ks_kube_cred_release(&c->cred);
	c->have_cred = false;
	pthread_mutex_unlock(&c->mu);
}

struct xfer {
	ks_buf *body;
	bool over_cap;
	char retry_after[64];
	char content_type[128];
};

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (ks_buf_append(x->body, p, len) < 0) {
		x->over_cap = true;
		return 0;
	}
	return len;
}

static void header_value(const char *line, size_t len, const char *name,
			 char *out, size_t outlen)
{
	size_t nl = strlen(name);
	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v &&
	       (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	header_value(p, len, "Retry-After", x->retry_after,
		     sizeof(x->retry_after));
	header_value(p, len, "Content-Type", x->content_type,
		     sizeof(x->content_type));
	return len;
}

static struct curl_slist *build_headers(const ks_kube_client *c,
					const ks_kube_req *req,
					const char *token)
{
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Accept: application/json");
	if (req->body) {
		char *ct = ks_xasprintf("Content-Type: %s",
					req->content_type ? req->content_type
							  : "application/json");
		h = curl_slist_append(h, ct);
		free(ct);
	}
	if (token) {
		char *a = ks_xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, a);
		free(a);
	}
	if (c->cfg->impersonate_user) {
		char *a = ks_xasprintf("Impersonate-User: %s",
				       c->cfg->impersonate_user);
		h = curl_slist_append(h, a);
		free(a);
	}
	for (size_t i = 0; i < c->cfg->nimpersonate_groups; i++) {
		char *a = ks_xasprintf("Impersonate-Group: %s",
				       c->cfg->impersonate_groups[i]);
		h = curl_slist_append(h, a);
		free(a);
	}
	/* No "Expect: 100-continue" round trip for big bodies. */
	h = curl_slist_append(h, "Expect:");
	return h;
}

static void set_blob(CURL *h, CURLoption opt, const char *p, size_t n)
{
	struct curl_blob b = {.data = (void *)(uintptr_t)p,
			      .len = n,
			      .flags = CURL_BLOB_COPY};
	curl_easy_setopt(h, opt, &b);
}

/* Sets H up for REQ: everything but the body callbacks. Returns the
 * header list, which must outlive the transfer. */
static struct curl_slist *configure(ks_kube_client *c, CURL *h,
				    const ks_kube_req *req, const char *token,
				    const char *cert, const char *key)
{
	const ks_kube_config *cfg = c->cfg;
	curl_easy_reset(h);
	char *url = ks_xasprintf("%s%s", c->base, req->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->opts.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)c->opts.connect_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!cfg->disable_compression)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
	if (cfg->proxy_url)
		curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy_url);
	else
		curl_easy_setopt(h, CURLOPT_NOPROXY, c->no_proxy);
	if (cfg->ca_pem)
		set_blob(h, CURLOPT_CAINFO_BLOB, cfg->ca_pem, cfg->ca_len);
	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	const char *cp = cert ? cert : cfg->cert_pem;
	const char *kp = cert ? key : cfg->key_pem;
	if (cp && kp) {
		set_blob(h, CURLOPT_SSLCERT_BLOB, cp,
			 cert ? strlen(cert) : cfg->cert_len);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(h, CURLOPT_SSLKEY_BLOB, kp,
			 cert ? strlen(key) : cfg->key_len);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->username && !token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, cfg->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password);
	}
	struct curl_slist *hdrs = build_headers(c, req, token);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	} else if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "DELETE")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	free(url);
	return hdrs;
}

/* One attempt. Returns the CURLcode; fills status and x. */
static CURLcode perform(ks_kube_client *c, CURL *h, const ks_kube_req *req,
			const char *token, const char *cert, const char *key,
			long *status, struct xfer *x)
{
	struct curl_slist *hdrs = configure(c, h, req, token, cert, key);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	CURLcode cc = curl_easy_perform(h);
	*status = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	/* The handle keeps pointers to these until the next reset. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return cc;
}

void ks_kube_client_auth_failed(ks_kube_client *c)
{
	if (c->cfg->exec)
		invalidate_cred(c);
}

int ks_kube_client_prepare_get(ks_kube_client *c, CURL *h, const char *path,
			       struct curl_slist **hdrs, ks_error *err)
{
	char *token, *cert, *key;
	*hdrs = NULL;
	int rc = current_auth(c, &token, &cert, &key, err);
	if (rc)
		return rc;
	rate_wait(c);
	ks_kube_req req = {.method = "GET", .path = path};
	*hdrs = configure(c, h, &req, token, cert, key);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
	free(token);
	free(cert);
	free(key);
	return 0;
}

static bool retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

static bool retryable_status(long st)
{
	return st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

void ks_kube_resp_release(ks_kube_resp *r)
{
	if (!r)
		return;
	ks_buf_release(&r->body);
	json_decref(r->json);
	r->json = NULL;
}

void ks_kube_status_message(char *out, size_t outlen, const char *what,
			    long http_status, const json_t *body,
			    const char *raw, size_t raw_len)
{
	const char *pre = what && *what ? what : "";
	const char *sep = *pre ? ": " : "";
	const char *kind = json_string_value(json_object_get(body, "kind"));
	const char *msg = json_string_value(json_object_get(body, "message"));
	if (kind && !strcmp(kind, "Status") && msg && *msg) {
		const char *reason =
			json_string_value(json_object_get(body, "reason"));
		snprintf(out, outlen, "%s%s%s (%ld%s%s)", pre, sep, msg,
			 http_status, reason && *reason ? " " : "",
			 reason ? reason : "");
		return;
	}
	size_t n = raw ? raw_len : 0;
	while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	if (n > 200)
		n = 200;
	snprintf(out, outlen, "%s%sthe server answered %ld%s%.*s", pre, sep,
		 http_status, n ? ": " : "", (int)n, raw ? raw : "");
}

static int code_for_status(long st)
{
	switch (st) {
	case 404:
		return KS_ENOTFOUND;
	case 409:
		return KS_ECONFLICT;
	case 400:
	case 405:
	case 406:
	case 410:
	case 413:
	case 415:
	case 422:
		return KS_EINVAL;
	default:
		return KS_EENV;
	}
}

static const char *curl_what(const ks_kube_req *req, char *buf, size_t n)
{
	if (req->what && *req->what)
		return req->what;
	snprintf(buf, n, "%s %s", req->method, req->path);
	return buf;
}

static void count_retry(ks_kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->retries++;
	pthread_mutex_unlock(&c->mu);
}

unsigned long ks_kube_client_retries(ks_kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	unsigned long n = c->retries;
	pthread_mutex_unlock(&c->mu);
	return n;
}

int ks_kube_request(ks_kube_client *c, const ks_kube_req *req,
		    ks_kube_resp *resp, ks_error *err)
{
	memset(resp, 0, sizeof(*resp));
	ks_buf_init(&resp->body, c->opts.max_body);
	char whatbuf[512];
	const char *what = curl_what(req, whatbuf, sizeof(whatbuf));
	bool reran_exec = false;
	unsigned attempt = 0;
	for (;;) {
		char *token, *cert, *key;
		int rc = current_auth(c, &token, &cert, &key, err);
		if (rc)
			return rc;
		rate_wait(c);
		ks_buf_release(&resp->body);
		struct xfer x = {.body = &resp->body};
		CURL *h = pool_take(c);
		long st = 0;
		CURLcode cc = perform(c, h, req, token, cert, key, &st, &x);
		char curl_msg[256];
		snprintf(curl_msg, sizeof(curl_msg), "%s",
			 curl_easy_strerror(cc));
		pool_put(c, h);
		free(token);
		free(cert);
		free(key);
		resp->attempts = attempt + 1;
		resp->status = st;
		if (c->opts.on_response)
			c->opts.on_response(c->opts.on_response_ud, req->method,
					    cc == CURLE_OK ? st : 0);
		if (x.over_cap)
			return ks_error_set(err, KS_ELIMIT,
					    "%s: the response is larger than "
					    "%zu bytes",
					    what, c->opts.max_body);
		if (cc != CURLE_OK) {
			if (retryable_curl(cc) &&
			    attempt < c->opts.max_retries) {
				count_retry(c);
				ks_sync_sleep_ms(ks_kube_backoff_ms(
					attempt++, c->opts.backoff_base_ms,
					c->opts.backoff_max_ms, 0,
					ks_sync_rand01()));
				continue;
			}
			return ks_error_set(err, KS_EENV, "%s: %s (%s)", what,
					    curl_msg, c->cfg->server);
		}
		if (st == 401 && c->cfg->exec && !reran_exec) {
			reran_exec = true;
			invalidate_cred(c);
			continue;
		}
		if (retryable_status(st) && attempt < c->opts.max_retries) {
			int64_t ra = ks_kube_retry_after_ms(
				x.retry_after[0] ? x.retry_after : NULL,
				ks_sync_wall_ms() / 1000);
			count_retry(c);
			ks_sync_sleep_ms(ks_kube_backoff_ms(
				attempt++, c->opts.backoff_base_ms,
				c->opts.backoff_max_ms, ra, ks_sync_rand01()));
			continue;
		}
		if (resp->body.len &&
		    (strstr(x.content_type, "json") ||
		     resp->body.data[0] == '{' || resp->body.data[0] == '[')) {
			resp->json = json_loadb(resp->body.data, resp->body.len,
						0, NULL);
		}
		if (st >= 200 && st < 300)
			return 0;
		char msg[sizeof(err->msg)];
		ks_kube_status_message(msg, sizeof(msg), what, st, resp->json,
				       resp->body.data, resp->body.len);
		return ks_error_set(err, code_for_status(st), "%s", msg);
	}
}
