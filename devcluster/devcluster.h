/*
 * devcluster: a local, in-memory Kubernetes API server for trying and
 * testing kusync without a cluster (spec/agent.md "devcluster",
 * spec/kube-api.md). It serves the REST API over core/http on a libuv loop
 * the caller owns, with simulated controllers driven by the loop's timers.
 */
#ifndef KS_DEVCLUSTER_DEVCLUSTER_H
#define KS_DEVCLUSTER_DEVCLUSTER_H

#include <stdbool.h>
#include <uv.h>

#include "core/error.h"

typedef struct ks_devcluster_opts {
	const char *listen;	   /* "127.0.0.1:0" when NULL */
	unsigned rollout_delay_ms; /* simulated time until pods are ready */
	double time_scale;	   /* divides every simulated duration; 1 */
	const char *fail_images;   /* POSIX ERE; matching images never run */
	const char *state_file;	   /* load at start, save on change; NULL */
	const char *token_file;	   /* bearer tokens, one per line; NULL */
	const char *tls_cert;	   /* PEM; with tls_key serves HTTPS */
	const char *tls_key;
	const char *client_ca; /* PEM bundle for client certificates */
	const char *faults;    /* initial fault rules (see faults.c) */
	bool quiet;	       /* no request log */
} ks_devcluster_opts;

typedef struct ks_devcluster ks_devcluster;

/*
 * Creates the server on LOOP and starts listening. Loads opts->state_file
 * when it exists. The options' strings are copied.
 */
int ks_devcluster_start(ks_devcluster **out, uv_loop_t *loop,
			const ks_devcluster_opts *opts, ks_error *err);

/* The URL clients use: "http://127.0.0.1:PORT" (https with TLS). */
const char *ks_devcluster_url(const ks_devcluster *dc);

/*
 * Writes a kubeconfig for this server to PATH (mode 0600): cluster
 * "devcluster", user "devcluster" (with a token from the token file if any),
 * context "devcluster" as current-context, CA data when TLS is on.
 */
int ks_devcluster_write_kubeconfig(const ks_devcluster *dc, const char *path,
				   ks_error *err);

/*
 * Stops serving: closes the listener, every connection and watch and the
 * controllers' timers, saves the state file, and frees DC once the loop has
 * closed all handles. Accepts NULL.
 */
void ks_devcluster_stop(ks_devcluster *dc);

#endif
