/*
 * The validated AppConfiguration model: what render/validate.c produces
 * from documents and what render/generate.c turns into resources. Internal
 * to render/. Everything is allocated from the render's arena; strings are
 * NUL-terminated and never NULL unless said.
 */
#ifndef KS_RENDER_MODEL_H
#define KS_RENDER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/doc.h"
#include "core/mem.h"

/* Where something came from, for errors found after validation
 * (derived names too long, dependency cycles). */
typedef struct ks_where {
	const char *file;
	ks_mark mark;
} ks_where;

typedef struct ks_kv {
	const char *key;
	const char *value;
} ks_kv;

/* An ordered string map (file order, or sorted where the spec says). */
typedef struct ks_strmap {
	ks_kv *items;
	size_t n;
} ks_strmap;

typedef struct ks_strlist {
	const char **items;
	size_t n;
} ks_strlist;

enum ks_handler_type { KS_H_NONE, KS_H_HTTP, KS_H_EXEC, KS_H_TCP };

typedef struct ks_handler {
	enum ks_handler_type type;
	const char *url;    /* Http, Tcp */
	ks_strmap headers;  /* Http, file order */
	ks_strlist command; /* Exec, non-empty */
} ks_handler;

typedef struct ks_probe {
	bool present;
	ks_handler handler;
	/* 0 = unset or 0: omitted from the output */
	int64_t initialDelaySeconds, timeoutSeconds, periodSeconds,
		successThreshold, failureThreshold;
} ks_probe;

typedef struct ks_resource_req {
	const char *name;    /* cpu, memory, ephemeral-storage, ... */
	const char *request; /* NULL when only a limit was given */
	const char *limit;   /* as written (render emits as written) */
} ks_resource_req;

typedef struct ks_file {
	const char *path; /* absolute */
	const char *content;
	unsigned mode; /* numeric, e.g. 0644 = 420 */
} ks_file;

typedef struct ks_container {
	const char *name;
	const char *image;
	ks_strlist command, args;
	bool has_command, has_args;
	ks_strmap env;		    /* file order; values as written */
	const char *workingDir;	    /* NULL if unset */
	ks_resource_req *resources; /* sorted by name */
	size_t nresources;
	ks_file *files; /* file order */
	size_t nfiles;
	ks_strmap dirs; /* mount path -> "secret://X" / "configmap://X" */
	ks_probe liveness, readiness, startup;
	ks_handler preStop, postStart; /* type KS_H_NONE when absent */
} ks_container;

typedef struct ks_port {
	int port;	/* 1-65535 */
	int targetPort; /* 1-65535 */
	bool udp;
	bool expose; /* exposeInternet / public */
} ks_port;

enum ks_secret_type {
	KS_SECRET_BASIC,
	KS_SECRET_TOKEN,
	KS_SECRET_CERT,
	KS_SECRET_OPAQUE,
};

typedef struct ks_secret {
	const char *name;
	enum ks_secret_type type;
	ks_strmap data; /* file order */
	bool immutable;
} ks_secret;

enum ks_workload_kind { KS_WL_SERVICE, KS_WL_JOB };
enum ks_service_type { KS_ST_UNSET, KS_ST_DEPLOYMENT, KS_ST_COLLASET };

typedef struct ks_workload {
	enum ks_workload_kind kind;
	ks_container *containers; /* sorted by name, at least one */
	size_t ncontainers;
	ks_secret *secrets; /* sorted by name */
	size_t nsecrets;
	int64_t replicas; /* -1 = unset */
	ks_strmap labels,
		annotations; /* the app's workload.labels/annotations */
	/* Service */
	ks_port *ports;
	size_t nports;
	enum ks_service_type type;
	/* Job */
	const char *schedule; /* NULL or "" -> Job, else CronJob */
} ks_workload;

/* maxUnavailable as written: an int or "N%". */
typedef struct ks_intorpct {
	bool present;
	bool is_percent;
	int64_t value; /* the int, or N of N% */
} ks_intorpct;

enum ks_db_engine { KS_DB_MYSQL, KS_DB_POSTGRES };

typedef struct ks_database {
	const char *key; /* dbKey */
	enum ks_db_engine engine;
	const char *version;
} ks_database;

typedef struct ks_cell {
	const char *zone;
	const char *cell; /* as written; lower-cased in names */
} ks_cell;

typedef struct ks_policyset_ref {
	const char *name;
	bool mandatory;
} ks_policyset_ref;

typedef struct ks_depref {
	const char *text; /* "app" or "project/stack/app" as written */
	ks_where where;
	const char *path;     /* field path for messages: a.dependency... */
	const char *resolved; /* full name, set by render.c */
} ks_depref;

typedef struct ks_app {
	const char *project, *stack, *name; /* name: the app key */
	const char *fullname;		    /* project-stack-name */
	ks_where where;			    /* the app's key */
	ks_workload workload;
	ks_intorpct opsRule; /* present when the app has the block */
	bool has_monitoring;
	const char *monitoring_path; /* NULL: workspace/unset */
	const char *monitoring_port; /* as text */
	ks_where monitoring_where;   /* the monitoring key */
	ks_database *databases;	     /* sorted by key */
	size_t ndatabases;
	ks_strmap labels, annotations;
	ks_cell *cells; /* zones and cells in file order; 0 = no topologies */
	size_t ncells;
	bool manualApprove, rollbackIfFailed;
	int64_t timeout_ms;	      /* default 10m */
	ks_policyset_ref *policysets; /* file order */
	size_t npolicysets;
	ks_depref *deps;
	size_t ndeps;
} ks_app;

/* The workspace after choosing the block for one project. */
typedef struct ks_ws_module {
	bool present;
} ks_ws_module;

typedef struct ks_workspace_view {
	/* service */
	enum ks_service_type service_type; /* KS_ST_DEPLOYMENT by default */
	int64_t service_replicas;	   /* 2 by default */
	ks_strmap service_labels, service_annotations;
	/* job */
	int64_t job_replicas; /* 1 by default */
	ks_strmap job_labels, job_annotations;
	/* port */
	const char *port_type; /* NULL, "aws" or "alicloud" */
	ks_strmap port_labels, port_annotations;
	/* opsRule */
	ks_intorpct opsRule; /* present when the module is */
	/* monitoring */
	bool has_monitoring;
	bool operatorMode;
	bool podMonitor;			 /* monitorType: Pod */
	const char *interval, *timeout, *scheme; /* defaults 30s, 15s, http */
	/* namespace */
	const char *namespace_name; /* NULL or "" = <project>-<stack> */
	/* databases */
	const char *mysql_username, *postgres_username;
	int64_t mysql_size, postgres_size; /* Gi of the PVC */
} ks_workspace_view;

#endif
