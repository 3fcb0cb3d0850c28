/*
 * The client's fields, shared by client.c and discovery.c.
 */
#ifndef KS_SYNC_CLIENT_INTERNAL_H
#define KS_SYNC_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

#include "sync/kube.h"

#define KS_SHARE_LOCKS 8
#define KS_POOL_MAX 8

/* One discovered resource; strings owned, never freed before the client
 * (callers hold borrowed pointers). */
struct ks_disc_entry {
	char *api_version;
	char *kind;
	char *name;
	bool namespaced;
	unsigned verbs;
};

struct ks_kube_client {
	ks_kube_config *cfg;
	ks_kube_client_opts opts;
	char *user_agent;
	char *base;		       /* URL prefix, with tls-server-name */
	struct curl_slist *connect_to; /* for tls-server-name */
	char *no_proxy; /* $NO_PROXY plus loopback, as Go's clients do */
	CURLSH *share;
	pthread_mutex_t share_mu[KS_SHARE_LOCKS];
	pthread_mutex_t mu; /* everything below */
	pthread_cond_t pool_cv;
	CURL *pool[KS_POOL_MAX];
	size_t npool;
	CURL *free_handles[KS_POOL_MAX];
	size_t nfree;
	ks_kube_ratelimit rl;
	char *file_token;
	int64_t file_token_at;
	ks_kube_cred cred;
	bool have_cred;
	unsigned long retries; /* requests sent again (429, 5xx, network) */
	/* discovery */
	struct ks_disc_entry *disc;
	size_t ndisc, adisc;
	char **fetched_gv; /* group/versions fetched at least once */
	size_t nfetched;
};

void ks_kube_discovery_release(ks_kube_client *c);

/*
 * For requests a caller drives itself (sync/watch.c's interruptible
 * requests on a multi handle): waits for the rate limit and sets up H, a
 * handle the caller owns, for a GET of PATH the way ks_kube_request would
 * (server, TLS, client certificate, proxy, credentials, headers), without
 * an overall timeout and without write or header callbacks. *HDRS gets the
 * header list: the caller frees it with curl_slist_free_all after the
 * transfer. Fails only when no credentials can be had (KS_EENV).
 */
int ks_kube_client_prepare_get(ks_kube_client *c, CURL *h, const char *path,
			       struct curl_slist **hdrs, ks_error *err);

/* Tells the client that a request it prepared was answered 401: an exec
 * plugin's credential is dropped, so the next request runs the plugin
 * again (as ks_kube_request does by itself). */
void ks_kube_client_auth_failed(ks_kube_client *c);

#endif
