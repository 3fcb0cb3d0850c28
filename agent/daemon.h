/*
 * The agent daemon (`kusync agent`): the libuv loop that owns the sources,
 * the apps, the timers, the HTTP server and the metrics, and drives the
 * release pipeline (agent/pipeline.h) of every app on worker threads.
 *
 * Private to agent/daemon.c, agent/api.c and agent/cmd_agent.c. Everything
 * in these structs belongs to the loop's thread; workers get copies (jobs)
 * and hand results back in their after-work callbacks.
 */
#ifndef KS_AGENT_DAEMON_H
#define KS_AGENT_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/config.h"
#include "core/http.h"
#include "core/log.h"

typedef struct ks_daemon ks_daemon;
typedef struct ks_dsource ks_dsource;
typedef struct ks_dapp ks_dapp;
typedef struct ks_dreq ks_dreq;

/* One Git source as the loop sees it. */
struct ks_dsource {
	ks_daemon *d;
	const ks_agent_source *cfg;
	uv_timer_t timer;
	bool fetching;		/* a cycle is queued or on a worker */
	bool queued;		/* waiting for a fetch slot */
	bool again;		/* fetch once more when this one ends */
	bool force;		/* render even when the commit is unchanged */
	bool first_done;	/* the first cycle ended (either way) */
	char commit[41];	/* the last good commit, "" before one */
	int64_t last_fetch;	/* unix ms of the last fetch's end, 0 never */
	int64_t error_since;	/* unix ms, 0 when the last fetch was good */
	char *error;		/* the last fetch's error, or NULL */
	json_t *render_errors;	/* array of strings, or NULL */
	json_t *apps;		/* names of the apps of the last render */
	json_t *last_spec;	/* the last rendered Spec (for a re-plan) */
	char *last_spec_commit; /* its commit */
	json_t *mr_approvals;	/* MR id -> array of approving logins */
	json_t *merged;		/* merge commit -> array of logins */
};

/* Explicit requests waiting for an app to be idle (API, merge requests). */
enum ks_dreq_kind { KS_DREQ_APPROVE, KS_DREQ_ROLLBACK };

struct ks_dreq {
	enum ks_dreq_kind kind;
	int number; /* approve: the release; rollback: the target */
	char *who, *via, *comment;
	ks_http_exchange *ex; /* answered when done; NULL for none */
	ks_dreq *next;
};

/* One app (full name) as the loop sees it. */
struct ks_dapp {
	ks_daemon *d;
	char *name;
	ks_dsource *src;  /* NULL when no configured source defines it */
	json_t *releases; /* full records, newest first */
	int last_number;  /* highest number in the store, readable or not */
	bool busy;	  /* an operation is on a worker */
	bool queued;	  /* waiting for an operation slot */
	bool suspended;
	bool deps_dirty;       /* re-run a WaitingForDependencies release */
	bool sync_requested;   /* next render: a release even if unchanged */
	bool defined;	       /* rendered by its source's last render */
	json_t *waiting;       /* {"subspec","hash","commit"} or NULL */
	json_t *render_errors; /* array of strings or NULL */
	char *error;	       /* last operation error, or NULL */
	json_t *drift;	       /* last drift report, or NULL */
	bool drift_dirty;
	char health[16]; /* Healthy, Progressing, Degraded, Missing,
			    Unknown */
	uint64_t heals;
	int64_t retry_at;  /* uv_now ms before which no retry, 0 none */
	unsigned failures; /* consecutive operation errors */
	ks_dreq *reqs;	   /* FIFO of explicit requests */
};

struct ks_daemon {
	uv_loop_t *loop;
	ks_agent_config *cfg;
	ks_logger log;
	struct ks_kube_client *kube;
	struct ks_store *store;
	struct ks_policy_registry *policies;
	struct ks_metrics *metrics;
	struct ks_watch *watch;
	struct ks_hook_replay *replay;
	ks_http_server *http;
	volatile int cancel;
	bool stopping;
	bool starting; /* until every source ended its first cycle */
	int exit_code;
	bool ready;  /* /readyz: the cluster answered /version */
	bool leader; /* local backend: always */
	bool lease_busy;
	bool probing;
	char identity[128];

	ks_dsource *sources;
	size_t nsources;
	ks_dapp **apps;
	size_t napps, aapps;

	unsigned nfetching, nrunning, ndrifting;
	size_t drift_rr; /* where the next free drift slot looks first */
	unsigned njobs;	 /* every job queued or running */
	ks_dsource **fetchq;
	size_t nfetchq;
	ks_dapp **appq;
	size_t nappq;

	uv_signal_t sigterm, sigint;
	uv_timer_t tick;     /* 1 s: retries, readiness, drift not synced */
	uv_timer_t debounce; /* drift after watch events */
	uv_timer_t lease;    /* 5 s: the lease (kubernetes backend) */
	uv_async_t wake;     /* workers and watches have news */
	bool debounce_on;
	unsigned closing; /* handles still closing */

	/* filled by other threads, drained by the loop (wake) */
	pthread_mutex_t mu;
	json_t *changed; /* release copies from pipeline on_change */
	json_t *dirty;	 /* object: app names the watches touched */

	json_t *sessions; /* dashboard: session id -> {"name","role","csrf"} */
};

/* Runs the agent for CFG (taken over) with logger LOG until SIGTERM or
 * SIGINT; returns the process exit code (0 after a clean shutdown, 2 for
 * input errors found at start, 3 for environment failures). */
int ks_daemon_run(ks_agent_config *cfg, const ks_logger *log);

/* --- daemon.c services the API uses (loop thread only) --- */

ks_dapp *ks_daemon_app(ks_daemon *d, const char *name);
/* Starts a fetch of SRC now (coalesced with one running); FORCE renders
 * even when the commit is unchanged. */
void ks_daemon_fetch_now(ks_dsource *src, bool force);
/* Queues an explicit request on APP and starts it when the app is idle. */
void ks_daemon_request(ks_dapp *app, ks_dreq *r);
/* Re-evaluates APP: starts what it needs when idle. */
void ks_daemon_kick(ks_dapp *app);
/* Persists APP's suspended flag (on a worker) and kicks it. */
void ks_daemon_set_suspended(ks_dapp *app, bool suspended);
/* Persists APP's suspended flag on a worker; answers EX (may be NULL)
 * with the app view once stored. */
void ks_daemon_store_state(ks_dapp *app, ks_http_exchange *ex);
/* A merge request's approvals became a merge: approve matching releases. */
void ks_daemon_merge_approved(ks_dsource *src, const char *commit);
/* The newest release of APP (borrowed) or NULL. */
json_t *ks_daemon_latest(const ks_dapp *app);
/* The newest Succeeded release of APP (borrowed) or NULL. */
json_t *ks_daemon_last_succeeded(const ks_dapp *app);
/* RFC 3339 UTC of unix milliseconds MS into BUF (32 bytes). */
void ks_daemon_time(int64_t ms, char *buf, size_t len);

/* --- api.c --- */

/* The HTTP handler of the agent (webhooks, API, metrics, dashboard). */
void ks_api_handle(void *ud, const ks_http_request *req, ks_http_exchange *ex);
/* Answers EX with STATUS and a JSON body (V stolen). */
void ks_api_json(ks_http_exchange *ex, int status, json_t *v);
/* Answers EX with {"error": MSG}. */
void ks_api_error(ks_http_exchange *ex, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The app view of the API (GET /api/v1/apps/{app}); BRIEF: list entry. */
json_t *ks_api_app_view(ks_daemon *d, ks_dapp *app, bool brief);

#endif
