/*
 * Local databases, as Kusion v0.10's local database generator lays them
 * out, per dbKey <db> and engine <e> (mysql or postgres):
 *
 *   Secret <db>-<e>-local-secret   the database's own password (key
 *                                  "password"), Opaque
 *   PVC    <db>-<e>-local-pvc      ReadWriteOnce, <size>Gi from the
 *                                  workspace, kusync.io/prune: "false"
 *   Deployment <db>                1 replica, image <e>:<version>
 *   Service <db>-<e>-local-service headless, port 3306 / 5432
 *   Secret <db>-<e>                hostAddress, username, password: what
 *                                  the app's containers read
 *
 * Choices and differences from Kusion:
 * - no password is rendered: both Secrets carry kusync.io/generate:
 *   password and sync fills the key "password" once, at creation (Kusion
 *   derives it from an md5 of the names);
 * - the selector is {app.kubernetes.io/instance: N, kusync.io/database:
 *   <db>}: without the part-of and name labels the app's Services never
 *   select the database pods, and two apps' databases never mix (Kusion
 *   uses accessory: local-database for every database);
 * - strategy Recreate: a ReadWriteOnce volume cannot be attached to the
 *   old and the new pod at once, so a rolling update would hang;
 * - mysql: root gets MYSQL_ROOT_PASSWORD; another user gets MYSQL_USER and
 *   MYSQL_PASSWORD plus MYSQL_RANDOM_ROOT_PASSWORD (the image refuses to
 *   start with none of the root password settings; Kusion sets none);
 *   postgres: POSTGRES_USER, POSTGRES_PASSWORD and PGDATA in a
 *   subdirectory (a fresh volume's lost+found makes initdb refuse the
 *   mount point itself);
 * - hostAddress is <service>.<namespace>.svc.
 */
#include "render/gen.h"
#include "core/base64.h"

#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

struct db_names {
	const char *engine;
	const char *username;
	int64_t size;
	int port;
	const char *mount;
	char *local_secret, *pvc, *service, *conn, *parts;
};

static void db_names(const ks_gen *g, const ks_database *db, struct db_names *n)
{
	bool my = db->engine == KS_DB_MYSQL;
	n->engine = my ? "mysql" : "postgres";
	n->username = my ? g->ws->mysql_username : g->ws->postgres_username;
	if (!n->username || !*n->username)
		n->username = "root";
	n->size = my ? g->ws->mysql_size : g->ws->postgres_size;
	if (n->size <= 0)
		n->size = 10;
	n->port = my ? 3306 : 5432;
	n->mount = my ? "/var/lib/mysql" : "/var/lib/postgresql/data";
	n->local_secret =
		ks_xasprintf("%s-%s-local-secret", db->key, n->engine);
	n->pvc = ks_xasprintf("%s-%s-local-pvc", db->key, n->engine);
	n->service = ks_xasprintf("%s-%s-local-service", db->key, n->engine);
	n->conn = ks_xasprintf("%s-%s", db->key, n->engine);
	n->parts = ks_xasprintf("database \"%s\"", db->key);
}

static void db_names_release(struct db_names *n)
{
	free(n->local_secret);
	free(n->pvc);
	free(n->service);
	free(n->conn);
	free(n->parts);
}

static json_t *generate_annotation(void)
{
	return json_pack("{s:s}", "kusync.io/generate", "password");
}

static json_t *db_selector(const ks_gen *g, const ks_database *db)
{
	return json_pack("{s:s, s:s}", "app.kubernetes.io/instance",
			 g->app->fullname, "kusync.io/database", db->key);
}

static json_t *db_env(const struct db_names *n)
{
	json_t *env = json_array();
	if (!strcmp(n->engine, "postgres")) {
		json_array_append_new(env, json_pack("{s:s, s:s}", "name",
						     "POSTGRES_USER", "value",
						     n->username));
		json_array_append_new(env, gen_env_secret("POSTGRES_PASSWORD",
							  n->local_secret,
							  "password"));
		json_array_append_new(
			env, json_pack("{s:s, s:s}", "name", "PGDATA", "value",
				       "/var/lib/postgresql/data/pgdata"));
	} else if (!strcmp(n->username, "root")) {
		json_array_append_new(env, gen_env_secret("MYSQL_ROOT_PASSWORD",
							  n->local_secret,
							  "password"));
	} else {
		json_array_append_new(env, json_pack("{s:s, s:s}", "name",
						     "MYSQL_USER", "value",
						     n->username));
		json_array_append_new(env, gen_env_secret("MYSQL_PASSWORD",
							  n->local_secret,
							  "password"));
		json_array_append_new(env,
				      json_pack("{s:s, s:s}", "name",
						"MYSQL_RANDOM_ROOT_PASSWORD",
						"value", "yes"));
	}
	return env;
}

static json_t *db_deployment(const ks_gen *g, const ks_database *db,
			     const struct db_names *n)
{
	json_t *sel = db_selector(g, db);
	char *image = ks_xasprintf("%s:%s", n->engine, db->version);
	json_t *container = json_pack(
		"{s:s, s:s, s:o, s:[{s:s, s:i, s:s}], s:[{s:s, s:s}]}", "name",
		n->engine, "image", image, "env", db_env(n), "ports", "name",
		n->engine, "containerPort", n->port, "protocol", "TCP",
		"volumeMounts", "name", "data", "mountPath", n->mount);
	json_t *spec = json_pack(
		"{s:i, s:{s:O}, s:{s:s}, s:{s:{s:O}, s:{s:[o], s:[{s:s, "
		"s:{s:s}}]}}}",
		"replicas", 1, "selector", "matchLabels", sel, "strategy",
		"type", "Recreate", "template", "metadata", "labels", sel,
		"spec", "containers", container, "volumes", "name", "data",
		"persistentVolumeClaim", "claimName", n->pvc);
	json_t *o = gen_object("apps/v1", "Deployment",
			       gen_meta(g, db->key, sel, NULL));
	json_object_set_new(o, "spec", spec);
	json_decref(sel);
	free(image);
	return o;
}

static void database(ks_gen *g, const ks_database *db)
{
	struct db_names n;
	db_names(g, db, &n);
	gen_check_subdomain(g, "secret name", n.local_secret, 253, n.parts);
	gen_check_subdomain(g, "persistentvolumeclaim name", n.pvc, 253,
			    n.parts);
	gen_check_subdomain(g, "deployment name", db->key, 253, n.parts);
	gen_check_dns1035(g, "service name", n.service, n.parts);
	gen_check_subdomain(g, "secret name", n.conn, 253, n.parts);

	json_t *ann = generate_annotation();
	json_t *o = gen_object("v1", "Secret",
			       gen_meta(g, n.local_secret, NULL, ann));
	json_object_set_new(o, "type", json_string("Opaque"));
	gen_add(g, o);

	json_t *keep = json_pack("{s:s}", "kusync.io/prune", "false");
	o = gen_object("v1", "PersistentVolumeClaim",
		       gen_meta(g, n.pvc, NULL, keep));
	json_decref(keep);
	char size[32];
	snprintf(size, sizeof(size), "%lldGi", (long long)n.size);
	json_object_set_new(o, "spec",
			    json_pack("{s:[s], s:{s:{s:s}}}", "accessModes",
				      "ReadWriteOnce", "resources", "requests",
				      "storage", size));
	gen_add(g, o);

	gen_add(g, db_deployment(g, db, &n));

	json_t *sel = db_selector(g, db);
	o = gen_object("v1", "Service", gen_meta(g, n.service, NULL, NULL));
	json_object_set_new(o, "spec",
			    json_pack("{s:[{s:s, s:s, s:i, s:i}], s:O, s:s}",
				      "ports", "name", n.engine, "protocol",
				      "TCP", "port", n.port, "targetPort",
				      n.port, "selector", sel, "clusterIP",
				      "None"));
	json_decref(sel);
	gen_add(g, o);

	char *host = ks_xasprintf("%s.%s.svc", n.service, g->ns);
	char *host64 = ks_base64_encode(host, strlen(host));
	char *user64 = ks_base64_encode(n.username, strlen(n.username));
	o = gen_object("v1", "Secret", gen_meta(g, n.conn, NULL, ann));
	json_object_set_new(o, "type", json_string("Opaque"));
	json_object_set_new(o, "data",
			    json_pack("{s:s, s:s}", "hostAddress", host64,
				      "username", user64));
	gen_add(g, o);
	free(host);
	free(host64);
	free(user64);
	json_decref(ann);
	db_names_release(&n);
}

void gen_databases(ks_gen *g)
{
	for (size_t i = 0; i < g->app->ndatabases; i++)
		database(g, &g->app->databases[i]);
}

/* <DB>: the dbKey upper-cased, '-' as '_'. */
static char *env_suffix(const char *key)
{
	char *s = ks_xstrdup(key);
	for (char *p = s; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (*p == '-')
			*p = '_';
	}
	return s;
}

json_t *gen_database_env(const ks_gen *g)
{
	static const char *const vars[][2] = {
		{"KUSION_DB_HOST_", "hostAddress"},
		{"KUSION_DB_USERNAME_", "username"},
		{"KUSION_DB_PASSWORD_", "password"},
	};
	json_t *env = json_array();
	for (size_t i = 0; i < g->app->ndatabases; i++) {
		const ks_database *db = &g->app->databases[i];
		char *suffix = env_suffix(db->key);
		char *secret = ks_xasprintf(
			"%s-%s", db->key,
			db->engine == KS_DB_MYSQL ? "mysql" : "postgres");
		for (size_t v = 0; v < 3; v++) {
			char *name = ks_xasprintf("%s%s", vars[v][0], suffix);
			json_array_append_new(
				env, gen_env_secret(name, secret, vars[v][1]));
			free(name);
		}
		free(secret);
		free(suffix);
	}
	return env;
}
