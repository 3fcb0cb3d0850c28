/*
 * The Kubernetes client of kusync: cluster configuration (kubeconfig files
 * and in-cluster service accounts), HTTP requests on libcurl with
 * authentication, a client-side rate limit, retries with backoff, and a
 * discovery cache mapping kinds to resources.
 *
 * A client may be used from several threads at once (apply runs independent
 * resources in parallel): requests take an easy handle from a small pool,
 * and connections, DNS and TLS sessions are shared between the handles.
 */
#ifndef KS_SYNC_KUBE_H
#define KS_SYNC_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mem.h"

/* An exec credential plugin (users[].user.exec). */
typedef struct ks_kube_exec {
	char *command;
	char **args; /* nargs entries */
	size_t nargs;
	char **env; /* "NAME=value", nenv entries */
	size_t nenv;
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	bool provide_cluster_info;
	char *install_hint;
} ks_kube_exec;

/*
 * Where and how to reach one API server, as resolved from a kubeconfig
 * context or the in-cluster service account. File references are read at
 * load time (certificate authority, client certificate and key), except
 * token_file, which the client re-reads every minute because bound service
 * account tokens rotate. PEM data is held as bytes (pointer and length).
 */
typedef struct ks_kube_config {
	char *context; /* the context used; NULL in-cluster */
	char *server;  /* "https://host:port", no trailing slash */
	char *ca_pem;  /* certificate authority bundle, or NULL */
	size_t ca_len;
	char *cert_pem; /* client certificate, or NULL */
	size_t cert_len;
	char *key_pem; /* client key, or NULL */
	size_t key_len;
	char *token;	  /* static bearer token, or NULL */
	char *token_file; /* absolute path, or NULL */
	char *username;	  /* basic auth, or NULL */
	char *password;
	bool insecure;	       /* insecure-skip-tls-verify */
	char *tls_server_name; /* SNI and verification name, or NULL */
	char *proxy_url;
	bool disable_compression;
	char *namespace; /* the context's namespace, or "default" */
	char *impersonate_user;
	char **impersonate_groups;
	size_t nimpersonate_groups;
	ks_kube_exec *exec; /* exec credential plugin, or NULL */
	bool in_cluster;
} ks_kube_config;

/* Frees the config and everything it holds. Accepts NULL. */
void ks_kube_config_free(ks_kube_config *c);

/*
 * Resolves a context from kubeconfig documents already parsed (as JSON
 * values, e.g. from YAML), merged in order the way kubectl merges the
 * $KUBECONFIG list: for clusters, users and contexts the first entry with a
 * given name wins, and so does the first non-empty current-context. DIRS[i]
 * is the folder of the file DOCS[i] came from (relative paths in an entry
 * are resolved against the folder of the file that entry came from; NULL:
 * the working directory). CONTEXT selects the context (NULL or "": the
 * current context). base64 "-data" fields are decoded; file references are
 * read. KS_EINVAL with a message naming the context, cluster or user for a
 * missing or broken entry, KS_EIO for an unreadable referenced file. The
 * docs are borrowed.
 */
int ks_kube_config_from_json(ks_kube_config **out, const json_t *const *docs,
			     const char *const *dirs, size_t ndocs,
			     const char *context, ks_error *err);

/*
 * Loads the configuration the way the CLI's cluster flags say: KUBECONFIG
 * (a single file) when not NULL, else the ':'-separated list in
 * $KUBECONFIG, else ~/.kube/config when it exists, else the in-cluster
 * service account. Files are YAML (or JSON). KS_EENV when nothing is
 * configured at all.
 */
int ks_kube_config_load(ks_kube_config **out, const char *kubeconfig,
			const char *context, ks_error *err);

/*
 * The in-cluster configuration: $KUBERNETES_SERVICE_HOST and
 * $KUBERNETES_SERVICE_PORT (IPv6 hosts bracketed) and, under SA_DIR (NULL:
 * /var/run/secrets/kubernetes.io/serviceaccount), the files token (kept as
 * token_file, re-read every minute), ca.crt and namespace. KS_EENV when not
 * running in a cluster.
 */
int ks_kube_config_in_cluster(ks_kube_config **out, const char *sa_dir,
			      ks_error *err);

/*
 * A credential from an exec plugin: a bearer token and/or a client
 * certificate and key (PEM text), valid until expires (Unix seconds, 0:
 * no expiry given).
 */
typedef struct ks_kube_cred {
	char *token;
	char *cert_pem;
	char *key_pem;
	int64_t expires;
} ks_kube_cred;

void ks_kube_cred_release(ks_kube_cred *c);

/*
 * Parses the standard output of an exec plugin (an ExecCredential of
 * client.authentication.k8s.io/v1 or v1beta1). KS_EENV with a message
 * naming the plugin command when the output is not a valid credential.
 */
int ks_kube_cred_parse(ks_kube_cred *out, const char *json_text, size_t len,
		       const char *command, ks_error *err);

/*
 * Runs the plugin of CFG (cfg->exec must be set) with KUBERNETES_EXEC_INFO
 * in its environment, waits at most TIMEOUT_MS and parses what it prints.
 * KS_EENV when it cannot be run, fails (its stderr's last line and the
 * install hint are in the message) or times out.
 */
int ks_kube_exec_run(ks_kube_cred *out, const ks_kube_config *cfg,
		     unsigned timeout_ms, ks_error *err);

/*
 * Token-bucket rate limit (client-go's flowcontrol: QPS tokens a second, at
 * most BURST saved up). Pure arithmetic over a caller-given clock so it can
 * be tested: ks_kube_ratelimit_take reserves one token at NOW_MS and returns
 * how many milliseconds the caller must wait before sending (0 when a token
 * was available). qps <= 0 means no limit.
 */
typedef struct ks_kube_ratelimit {
	double qps;
	double burst;
	double tokens;
	int64_t last_ms;
} ks_kube_ratelimit;

void ks_kube_ratelimit_init(ks_kube_ratelimit *rl, double qps, int burst,
			    int64_t now_ms);
int64_t ks_kube_ratelimit_take(ks_kube_ratelimit *rl, int64_t now_ms);

/*
 * The delay before retry number ATTEMPT (0 = the first retry): exponential
 * from BASE_MS, doubled each attempt and capped at MAX_MS, with jitter: a
 * value in [d/2, d) chosen by RAND01 in [0, 1). A Retry-After the server
 * sent (RETRY_AFTER_MS > 0) is honoured: the delay is never shorter than
 * it, though still capped at MAX_MS.
 */
int64_t ks_kube_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms,
			   int64_t retry_after_ms, double rand01);

/* Parses a Retry-After value (delta seconds, or an HTTP date relative to
 * NOW); -1 when it cannot be read. */
int64_t ks_kube_retry_after_ms(const char *value, int64_t now_unix);

typedef struct ks_kube_client ks_kube_client;

typedef struct ks_kube_client_opts {
	double qps;		  /* default 50 */
	int burst;		  /* default 100 */
	unsigned timeout_ms;	  /* per request; default 30000 */
	unsigned connect_ms;	  /* default 10000 */
	unsigned max_retries;	  /* default 5 */
	unsigned backoff_base_ms; /* default 200 */
	unsigned backoff_max_ms;  /* default 10000 */
	size_t max_body;	  /* response body cap; default 64 MiB */
	const char *user_agent;	  /* default "kusync/<version>" */
	/* How often a token file is re-read; default 60000 (client-go's
	 * minute: bound service account tokens rotate). */
	unsigned token_file_period_ms;
	/* Called after every attempt (retries included) with the request's
	 * method and the HTTP status, 0 when no answer came; from the
	 * thread that sent it. NULL: none. (The agent counts requests.) */
	void (*on_response)(void *ud, const char *method, long status);
	void *on_response_ud;
} ks_kube_client_opts;

/* Fills O with the defaults above. */
void ks_kube_client_opts_default(ks_kube_client_opts *o);

/*
 * A client for CFG (copied: the client does not keep CFG). OPTS may be NULL
 * (defaults). Cannot fail except for a config without a server (KS_EINVAL).
 */
int ks_kube_client_new(ks_kube_client **out, const ks_kube_config *cfg,
		       const ks_kube_client_opts *opts, ks_error *err);
void ks_kube_client_free(ks_kube_client *c);

/* The default namespace of the client's context. Borrowed. */
const char *ks_kube_client_namespace(const ks_kube_client *c);

/* Request and response. */
typedef struct ks_kube_req {
	const char *method;	  /* "GET", "POST", "PATCH", "DELETE", "PUT" */
	const char *path;	  /* "/api/v1/namespaces?labelSelector=..." */
	const char *content_type; /* of body; NULL: application/json */
	const char *body;	  /* NULL: none */
	size_t body_len;
	/* What the request is about, for messages: `apply
	 * "apps/v1:Deployment:ns:web"`. NULL: the method and path. */
	const char *what;
} ks_kube_req;

typedef struct ks_kube_resp {
	long status;  /* HTTP status; 0 when no response came */
	ks_buf body;  /* the (decompressed) body, capped */
	json_t *json; /* the body decoded when it is JSON, else NULL */
	unsigned attempts;
} ks_kube_resp;

void ks_kube_resp_release(ks_kube_resp *r);

/* How many requests this client has sent again so far (429, 5xx and
 * connection errors), for reporting. */
unsigned long ks_kube_client_retries(ks_kube_client *c);

/*
 * Sends one request, waiting for the rate limit first and retrying (with
 * ks_kube_backoff_ms) on 429, 500, 502, 503, 504 and connection errors,
 * honouring Retry-After, at most opts.max_retries times; a 401 with an exec
 * plugin re-runs the plugin once. RESP is initialised here and must be
 * released by the caller even on error.
 *
 * Returns 0 for a 2xx answer. Otherwise a negative code with ERR saying
 * what failed, in the API server's words when it sent a Status: `apply
 * "apps/v1:Deployment:ns:web": deployments.apps "web" is invalid:
 * spec.replicas: Invalid value: -1: must be greater than or equal to 0
 * (422 Invalid)`. Codes: KS_ENOTFOUND (404), KS_ECONFLICT (409),
 * KS_EINVAL (400, 415, 422), KS_EENV (401, 403, 5xx, 429 after the last
 * retry, connection errors, TLS), KS_ELIMIT (body over the cap).
 */
int ks_kube_request(ks_kube_client *c, const ks_kube_req *req,
		    ks_kube_resp *resp, ks_error *err);

/*
 * Turns an error answer into one line: the Status message and its code and
 * reason when BODY is a Status, else the HTTP status and the start of the
 * body. WHAT prefixes the line ("" or NULL: nothing).
 */
void ks_kube_status_message(char *out, size_t outlen, const char *what,
			    long http_status, const json_t *body,
			    const char *raw, size_t raw_len);

/* A resource as discovery describes it. Strings are borrowed from the
 * client's cache and stay valid until the client is freed. */
typedef struct ks_kube_resource {
	const char *api_version; /* "apps/v1", "v1" */
	const char *kind;
	const char *name; /* plural: "deployments" */
	bool namespaced;
	unsigned verbs; /* KS_VERB_* bits */
} ks_kube_resource;

enum {
	KS_VERB_GET = 1 << 0,
	KS_VERB_LIST = 1 << 1,
	KS_VERB_WATCH = 1 << 2,
	KS_VERB_CREATE = 1 << 3,
	KS_VERB_UPDATE = 1 << 4,
	KS_VERB_PATCH = 1 << 5,
	KS_VERB_DELETE = 1 << 6,
	KS_VERB_DELETECOLLECTION = 1 << 7,
};

/*
 * The resource for API_VERSION and KIND. The discovery document of that
 * group/version is fetched on first use and cached; a kind the cache lacks
 * makes one refetch (a CRD may have been created since). KS_ENOTFOUND
 * (`no resource for kind "Widget" in "example.com/v1"`) when the server
 * does not serve it; other failures as ks_kube_request.
 */
int ks_kube_discover(ks_kube_client *c, const char *api_version,
		     const char *kind, ks_kube_resource *out, ks_error *err);

/*
 * Fills a discovery cache entry from an APIResourceList document (for
 * tests, and for callers that already hold one). Subresources are skipped.
 */
int ks_kube_discovery_add(ks_kube_client *c, const json_t *resource_list,
			  ks_error *err);

/*
 * The URL path of a resource: /api/v1/namespaces/NS/configmaps/NAME or
 * /apis/apps/v1/deployments (NS NULL for every namespace or a cluster-scoped
 * resource, NAME NULL for the collection). Name and namespace are
 * percent-escaped. Returns a new string.
 */
char *ks_kube_path(const ks_kube_resource *r, const char *ns, const char *name);

/* Percent-escapes S for a query value (unreserved characters kept). */
char *ks_kube_escape(const char *s);

/*
 * LISTs every object of R (in NS, or everywhere when NS is NULL) matching
 * LABEL_SELECTOR (NULL: all), following `continue` with pages of 500.
 * *out is a new array of the items, each given its apiVersion and kind
 * (a List's items have neither).
 */
int ks_kube_list(ks_kube_client *c, const ks_kube_resource *r, const char *ns,
		 const char *label_selector, json_t **out, ks_error *err);

#endif
