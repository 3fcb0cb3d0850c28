/*
 * The release store: local folder and Kubernetes Secret backends. See
 * agent/store.h for the layout; the reasons for the less obvious choices
 * are next to the code.
 */
#include "agent/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/mem.h"
#include "core/banned.h"

/* State and audit lines are small; a cap keeps a damaged file from being
 * read whole. */
#define STATE_MAX ((size_t)1 << 20)
/* A Secret holds at most 1 MiB; an audit day continues in a new part
 * Secret once this much is written. */
#define AUDIT_PART_MAX ((size_t)512 << 10)
#define AUDIT_MAX_PARTS 1000
/* Room for a release record in a Secret's 1 MiB, leaving some for the
 * metadata. */
#define SECRET_DATA_MAX ((size_t)1000 << 10)
#define CONFLICT_RETRIES 20

/* The number of an app's newest Succeeded release (0: none, -1: unknown),
 * so that pruning need not read the history back on every put. Learned by
 * the first prune that has to look, kept up to date by puts: the local
 * folder has one writer (this agent), so it cannot go stale. */
typedef struct succ_entry {
	char app[64];
	long long number;
} succ_entry;

struct ks_store {
	pthread_mutex_t mu;
	int history_limit;
	char *path;	    /* local backend, else NULL */
	ks_kube_client *kc; /* kubernetes backend, else NULL */
	char *ns;
	succ_entry *succ; /* local backend: per app */
	size_t nsucc;
};

int ks_store_name_ok(const char *name)
{
	if (!name)
		return 0;
	size_t n = strlen(name);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (c != '-' || i == 0 || i == n - 1))
			return 0;
	}
	return 1;
}

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- gzip ---------------------------------------------------------- */

/* Compresses (P, N) into a gzip stream: a new heap buffer in *OUT. */
static int gzip_bytes(const void *p, size_t n, char **out, size_t *outlen,
		      ks_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return ks_error_set(err, KS_ERROR, "cannot initialise zlib");
	uLong bound = deflateBound(&zs, (uLong)n);
	unsigned char *buf = ks_xmalloc(bound);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	int rc = deflate(&zs, Z_FINISH);
	size_t total = (size_t)zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		return ks_error_set(err, KS_ERROR, "gzip failed (zlib %d)", rc);
	}
	*out = (char *)buf;
	*outlen = total;
	return 0;
}

/* Decompresses one gzip stream of at most CAP bytes into *OUT (a new
 * NUL-terminated heap buffer). On failure WHY says what is wrong with the
 * data. */
static int gunzip_bytes(const void *p, size_t n, size_t cap, char **out,
			size_t *outlen, char *why, size_t whylen)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 31) != Z_OK) {
		snprintf(why, whylen, "cannot initialise zlib");
		return KS_ERROR;
	}
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	ks_buf b;
	ks_buf_init(&b, cap);
	unsigned char chunk[16384];
	int rc, ret = 0;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof chunk;
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_BUF_ERROR) {
			snprintf(why, whylen,
				 "truncated gzip data (ends after %zu bytes)",
				 n);
			ret = KS_EINVAL;
			break;
		}
		if (rc != Z_OK && rc != Z_STREAM_END) {
			snprintf(why, whylen, "not gzip data: %s",
				 zs.msg ? zs.msg : "corrupt stream");
			ret = KS_EINVAL;
			break;
		}
		size_t got = sizeof chunk - zs.avail_out;
		if (ks_buf_append(&b, chunk, got) < 0) {
			snprintf(why, whylen,
				 "decompressed record larger than %zu bytes",
				 cap);
			ret = KS_ELIMIT;
			break;
		}
	} while (rc != Z_STREAM_END);
	inflateEnd(&zs);
	if (ret < 0) {
		ks_buf_release(&b);
		return ret;
	}
	if (!b.data)
		ks_buf_append(&b, "", 0);
	*out = ks_buf_detach(&b, outlen);
	return 0;
}

/* ---- records ------------------------------------------------------- */

/* The app and number of RELEASE, or KS_EINVAL. */
static int release_id(const json_t *release, const char **app,
		      long long *number, ks_error *err)
{
	if (!json_is_object(release))
		return ks_error_set(err, KS_EINVAL,
				    "a release must be a JSON object");
	const char *a = json_string_value(json_object_get(release, "app"));
	if (!ks_store_name_ok(a))
		return ks_error_set(
			err, KS_EINVAL,
			"release app \"%s\" is not a DNS-1123 label",
			a ? a : "");
	json_t *num = json_object_get(release, "number");
	if (!json_is_integer(num) || json_integer_value(num) <= 0)
		return ks_error_set(err, KS_EINVAL,
				    "release of \"%s\" has no positive number",
				    a);
	*app = a;
	*number = (long long)json_integer_value(num);
	return 0;
}

/* The record bytes of RELEASE: gzip'd compact JSON. */
static int encode_record(const json_t *v, char **out, size_t *outlen,
			 ks_error *err)
{
	size_t len = json_dumpb(v, NULL, 0, JSON_COMPACT);
	if (len == 0)
		return ks_error_set(err, KS_EINVAL,
				    "release cannot be encoded as JSON");
	if (len > KS_STORE_MAX_RECORD)
		return ks_error_set(err, KS_ELIMIT,
				    "release record of %zu bytes is over the "
				    "%zu byte limit",
				    len, KS_STORE_MAX_RECORD);
	char *json = ks_xmalloc(len);
	json_dumpb(v, json, len, JSON_COMPACT);
	int rc = gzip_bytes(json, len, out, outlen, err);
	free(json);
	return rc;
}

/* Decodes stored record bytes (gzip'd JSON) that should be release NUMBER
 * of APP: a new reference, or NULL with WHY set. */
static json_t *decode_record(const void *p, size_t n, const char *app,
			     long long number, char *why, size_t whylen)
{
	char *text;
	size_t len;
	if (gunzip_bytes(p, n, KS_STORE_MAX_RECORD, &text, &len, why, whylen) <
	    0)
		return NULL;
	json_error_t jerr;
	json_t *v = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!v) {
		snprintf(why, whylen, "not JSON: %s (line %d)", jerr.text,
			 jerr.line);
		return NULL;
	}
	const char *a = json_string_value(json_object_get(v, "app"));
	json_t *num = json_object_get(v, "number");
	if (!json_is_object(v) || !a || !json_is_integer(num)) {
		snprintf(why, whylen,
			 "not a release record (no \"app\" or \"number\")");
	} else if (strcmp(a, app) != 0) {
		snprintf(why, whylen, "record of app \"%s\", expected \"%s\"",
			 a, app);
	} else if ((long long)json_integer_value(num) != number) {
		snprintf(why, whylen, "record number %lld, expected %lld",
			 (long long)json_integer_value(num), number);
	} else {
		return v;
	}
	json_decref(v);
	return NULL;
}

static bool is_succeeded(const json_t *release)
{
	const char *ph = json_string_value(json_object_get(release, "phase"));
	return ph && !strcmp(ph, "Succeeded");
}

/* Parses the decimal digits of [P, END) as a record number: no sign, no
 * leading zero, at most 18 digits. -1 when it is not one. */
static long long parse_number(const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	if (n == 0 || n > 18 || *p == '0')
		return -1;
	long long v = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

static int cmp_desc(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts an array of strings and drops duplicates, in place. */
static void sort_unique_strings(json_t *arr)
{
	size_t n = json_array_size(arr);
	if (n == 0)
		return;
	char **v = ks_xcalloc(n, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = ks_xstrdup(json_string_value(json_array_get(arr, i)));
	qsort(v, n, sizeof *v, cmp_str);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			json_array_append_new(arr, json_string(v[i]));
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- local files --------------------------------------------------- */

static int fsync_dir(const char *dir, ks_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ks_error_set(err, KS_EIO, "cannot open \"%s\": %s", dir,
				    strerror(errno));
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = ks_error_set(err, KS_EIO, "cannot sync \"%s\": %s", dir,
				  strerror(errno));
	close(fd);
	return rc;
}

/* Creates PATH and its missing parents, mode 0700; the folder holding
 * each one created is fsync'd so that the new entry is durable. */
static int mkdirs(const char *path, ks_error *err)
{
	char *p = ks_xstrdup(path);
	int rc = 0;
	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) == 0) {
			char *slash = strrchr(p, '/');
			char *parent =
				slash == p ? ks_xstrdup("/")
				: slash	   ? ks_xstrndup(p, (size_t)(slash - p))
					   : ks_xstrdup(".");
			rc = fsync_dir(parent, err);
			free(parent);
		} else if (errno != EEXIST) {
			rc = ks_error_set(err, KS_EIO,
					  "cannot create \"%s\": %s", p,
					  strerror(errno));
		}
		*q = c;
		if (rc < 0 || c == '\0')
			break;
	}
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			rc = ks_error_set(err, KS_EIO, "\"%s\" is not a folder",
					  path);
	}
	free(p);
	return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates a new temporary file next to FINAL (O_EXCL, a random suffix,
 * mode 0600, close-on-exec): its descriptor, its name in *TMP. */
static int create_temp(const char *dir, const char *name, char **tmp,
		       ks_error *err)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned char r[8];
		if (RAND_bytes(r, sizeof r) != 1)
			return ks_error_set(err, KS_ERROR,
					    "no random bytes for a file name");
		char hex[17];
		for (size_t i = 0; i < sizeof r; i++)
			snprintf(hex + 2 * i, 3, "%02x", r[i]);
		char *t = ks_xasprintf("%s/.%s.tmp-%s", dir, name, hex);
		int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*tmp = t;
			return fd;
		}
		int e = errno;
		free(t);
		if (e != EEXIST)
			return ks_error_set(
				err, KS_EIO,
				"cannot create a file in \"%s\": %s", dir,
				strerror(e));
	}
	return ks_error_set(err, KS_EIO, "cannot create a file in \"%s\"", dir);
}

/* Replaces DIR/NAME with (P, N) atomically: a temporary file in DIR is
 * written, fsync'd and renamed over NAME, then DIR is fsync'd. */
static int write_atomic(const char *dir, const char *name, const void *p,
			size_t n, ks_error *err)
{
	char *tmp = NULL;
	int fd = create_temp(dir, name, &tmp, err);
	if (fd < 0)
		return fd;
	char *final = ks_xasprintf("%s/%s", dir, name);
	int rc = 0;
	if (fchmod(fd, 0600) < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0)
		rc = ks_error_set(err, KS_EIO, "cannot write \"%s\": %s", tmp,
				  strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = ks_error_set(err, KS_EIO, "cannot write \"%s\": %s", tmp,
				  strerror(errno));
	if (rc == 0 && rename(tmp, final) < 0)
		rc = ks_error_set(err, KS_EIO, "cannot rename \"%s\": %s", tmp,
				  strerror(errno));
	if (rc < 0)
		unlink(tmp);
	else
		rc = fsync_dir(dir, err);
	free(tmp);
	free(final);
	return rc;
}

/* The record numbers in folder DIR (files "<number>.json.gz"), newest
 * first: *NUMS a new array (NULL when none). A missing folder has none. */
static int scan_numbers(const char *dir, long long **nums, size_t *n,
			ks_error *err)
{
	*nums = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return ks_error_set(err, KS_EIO, "cannot read \"%s\": %s", dir,
				    strerror(errno));
	}
	size_t alloc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		static const char suffix[] = ".json.gz";
		size_t sl = sizeof suffix - 1;
		if (len <= sl || strcmp(name + len - sl, suffix) != 0)
			continue;
		long long v = parse_number(name, name + len - sl);
		if (v <= 0)
			continue;
		if (*n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			*nums = ks_xrealloc(*nums, alloc * sizeof **nums);
		}
		(*nums)[(*n)++] = v;
	}
	closedir(d);
	if (*n > 1)
		qsort(*nums, *n, sizeof **nums, cmp_desc);
	return 0;
}

static char *local_app_dir(const ks_store *s, const char *app)
{
	return ks_xasprintf("%s/releases/%s", s->path, app);
}

/* Reads record NUMBER of APP from DIR: a new reference, or NULL with a
 * warning in WARNINGS naming the file. */
static json_t *local_read(const char *dir, const char *app, long long number,
			  ks_errlist *warnings)
{
	char *file = ks_xasprintf("%s/%lld.json.gz", dir, number);
	char *data = NULL;
	size_t len = 0;
	ks_error e;
	json_t *v = NULL;
	char why[1100];
	if (ks_read_file(file, KS_STORE_MAX_RECORD, &data, &len, &e) < 0)
		snprintf(why, sizeof why, "%s", e.msg);
	else
		v = decode_record(data, len, app, number, why, sizeof why);
	if (!v && warnings)
		ks_errlist_add(warnings, file, 0, 0,
			       "unreadable release record skipped: %s", why);
	free(data);
	free(file);
	return v;
}

static succ_entry *succ_entry_of(ks_store *s, const char *app)
{
	for (size_t i = 0; i < s->nsucc; i++)
		if (!strcmp(s->succ[i].app, app))
			return &s->succ[i];
	s->succ = ks_xrealloc(s->succ, (s->nsucc + 1) * sizeof *s->succ);
	succ_entry *e = &s->succ[s->nsucc++];
	snprintf(e->app, sizeof e->app, "%s", app);
	e->number = -1;
	return e;
}

/* Keeps the newest-Succeeded number of APP right after a put. */
static void succ_note_put(ks_store *s, const char *app, long long number,
			  bool succeeded)
{
	succ_entry *e = succ_entry_of(s, app);
	if (e->number < 0)
		return;
	if (succeeded && number > e->number)
		e->number = number;
	else if (!succeeded && number == e->number)
		e->number = -1; /* it was replaced: look again */
}

/* The newest Succeeded number among NUMS (newest first) by reading them
 * (JUST_PUT, numbered PUT_NUMBER, is known without reading), 0 if none. */
static long long scan_succeeded(const char *dir, const char *app,
				const long long *nums, size_t n,
				const json_t *just_put, long long put_number)
{
	for (size_t i = 0; i < n; i++) {
		if (nums[i] == put_number) {
			if (is_succeeded(just_put))
				return nums[i];
			continue;
		}
		json_t *r = local_read(dir, app, nums[i], NULL);
		bool ok = r && is_succeeded(r);
		json_decref(r);
		if (ok)
			return nums[i];
	}
	return 0;
}

/* Deletes the records of APP past the history limit, keeping the newest
 * Succeeded one. JUST_PUT is the record just written (known without
 * reading it back). */
static int local_prune(ks_store *s, const char *app, const json_t *just_put,
		       long long put_number, ks_error *err)
{
	char *dir = local_app_dir(s, app);
	long long *nums;
	size_t n;
	int rc = scan_numbers(dir, &nums, &n, err);
	if (rc < 0 || n <= (size_t)s->history_limit)
		goto out;
	succ_entry *e = succ_entry_of(s, app);
	if (e->number < 0)
		e->number =
			scan_succeeded(dir, app, nums, n, just_put, put_number);
	long long keep = e->number;
	bool removed = false;
	for (size_t i = (size_t)s->history_limit; i < n; i++) {
		if (nums[i] == keep)
			continue;
		char *file = ks_xasprintf("%s/%lld.json.gz", dir, nums[i]);
		if (unlink(file) < 0 && errno != ENOENT)
			rc = ks_error_set(err, KS_EIO,
					  "cannot remove \"%s\": %s", file,
					  strerror(errno));
		else
			removed = true;
		free(file);
		if (rc < 0)
			break;
	}
	if (rc == 0 && removed)
		rc = fsync_dir(dir, err);
out:
	free(nums);
	free(dir);
	return rc;
}

static int local_put(ks_store *s, const json_t *release, const char *app,
		     long long number, ks_error *err)
{
	char *gz;
	size_t gzlen;
	int rc = encode_record(release, &gz, &gzlen, err);
	if (rc < 0)
		return rc;
	char *dir = local_app_dir(s, app);
	char name[64];
	snprintf(name, sizeof name, "%lld.json.gz", number);
	rc = mkdirs(dir, err);
	if (rc == 0)
		rc = write_atomic(dir, name, gz, gzlen, err);
	free(gz);
	free(dir);
	if (rc == 0) {
		succ_note_put(s, app, number, is_succeeded(release));
		rc = local_prune(s, app, release, number, err);
	}
	return rc;
}

static int local_list(ks_store *s, const char *app, json_t *out,
		      ks_errlist *warnings, ks_error *err)
{
	char *dir = local_app_dir(s, app);
	long long *nums;
	size_t n;
	int rc = scan_numbers(dir, &nums, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *r = local_read(dir, app, nums[i], warnings);
		if (r)
			json_array_append_new(out, r);
	}
	free(nums);
	free(dir);
	return rc;
}

static int local_apps(ks_store *s, json_t *out, ks_error *err)
{
	char *root = ks_xasprintf("%s/releases", s->path);
	DIR *d = opendir(root);
	int rc = 0;
	if (!d) {
		if (errno != ENOENT)
			rc = ks_error_set(err, KS_EIO, "cannot read \"%s\": %s",
					  root, strerror(errno));
		free(root);
		return rc;
	}
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!ks_store_name_ok(de->d_name))
			continue;
		char *dir = ks_xasprintf("%s/%s", root, de->d_name);
		long long *nums;
		size_t n;
		ks_error e;
		if (scan_numbers(dir, &nums, &n, &e) == 0 && n > 0)
			json_array_append_new(out, json_string(de->d_name));
		free(nums);
		free(dir);
	}
	closedir(d);
	free(root);
	sort_unique_strings(out);
	return rc;
}

static char *local_state_file(const ks_store *s, const char *app)
{
	return ks_xasprintf("%s/apps/%s.json", s->path, app);
}

static int local_get_state(ks_store *s, const char *app, json_t **out,
			   ks_error *err)
{
	char *file = local_state_file(s, app);
	char *data = NULL;
	size_t len;
	ks_error e;
	int rc = ks_read_file(file, STATE_MAX, &data, &len, &e);
	*out = NULL;
	if (rc == 0) {
		json_t *v = json_loadb(data, len, 0, NULL);
		if (json_is_object(v))
			*out = v;
		else
			json_decref(v);
	} else if (rc != KS_ENOTFOUND) {
		rc = ks_error_set(err, rc, "%s", e.msg);
		goto out;
	}
	rc = 0;
out:
	free(data);
	free(file);
	return rc;
}

static int local_put_state(ks_store *s, const char *app, const json_t *state,
			   ks_error *err)
{
	char *dir = ks_xasprintf("%s/apps", s->path);
	int rc = 0;
	if (!state) {
		char *file = local_state_file(s, app);
		if (unlink(file) < 0 && errno != ENOENT)
			rc = ks_error_set(err, KS_EIO,
					  "cannot remove \"%s\": %s", file,
					  strerror(errno));
		else
			rc = fsync_dir(dir, err);
		free(file);
		free(dir);
		return rc;
	}
	char *text = json_dumps(state, JSON_COMPACT);
	char name[80];
	snprintf(name, sizeof name, "%s.json", app);
	rc = mkdirs(dir, err);
	if (rc == 0)
		rc = write_atomic(dir, name, text, strlen(text), err);
	free(text);
	free(dir);
	return rc;
}

static int local_audit(ks_store *s, const char *line, size_t len, ks_error *err)
{
	char *file = ks_xasprintf("%s/audit.log", s->path);
	int rc = 0;
	bool created = true;
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
		      0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (fd < 0 || write_all(fd, line, len) < 0 || fsync(fd) < 0)
		rc = ks_error_set(err, KS_EIO, "cannot append to \"%s\": %s",
				  file, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc == 0 && created)
		rc = fsync_dir(s->path, err);
	free(file);
	return rc;
}

/* Appends every JSON object line of (P, N) to OUT; others are skipped. */
static void parse_lines(const char *p, size_t n, json_t *out)
{
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		json_t *v = json_loadb(p, (size_t)(le - p), 0, NULL);
		if (json_is_object(v))
			json_array_append_new(out, v);
		else
			json_decref(v);
		p = nl ? nl + 1 : end;
	}
}

static int local_audit_list(ks_store *s, json_t *out, ks_error *err)
{
	char *file = ks_xasprintf("%s/audit.log", s->path);
	char *data = NULL;
	size_t len;
	ks_error e;
	int rc = ks_read_file(file, KS_STORE_MAX_RECORD, &data, &len, &e);
	if (rc == 0)
		parse_lines(data, len, out);
	else if (rc == KS_ENOTFOUND)
		rc = 0;
	else
		ks_error_set(err, rc, "%s", e.msg);
	free(data);
	free(file);
	return rc;
}

/* ---- kubernetes Secrets -------------------------------------------- */

static const ks_kube_resource secret_resource = {
	.api_version = "v1",
	.kind = "Secret",
	.name = "secrets",
	.namespaced = true,
	.verbs = KS_VERB_GET | KS_VERB_LIST | KS_VERB_CREATE | KS_VERB_UPDATE |
		 KS_VERB_PATCH | KS_VERB_DELETE,
};

static char *secret_path(const ks_store *s, const char *name)
{
	return ks_xasprintf("/api/v1/namespaces/%s/secrets/%s", s->ns, name);
}

/* Sends one request; RESP is released unless the caller wants it. */
static int kube_call(ks_store *s, const char *method, const char *path,
		     const char *ctype, const json_t *body, const char *what,
		     ks_kube_resp *resp, ks_error *err)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	ks_kube_req req = {
		.method = method,
		.path = path,
		.content_type = ctype,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.what = what,
	};
	ks_kube_resp local;
	ks_kube_resp *r = resp ? resp : &local;
	int rc = ks_kube_request(s->kc, &req, r, err);
	if (!resp)
		ks_kube_resp_release(&local);
	free(text);
	return rc;
}

/* A Secret of TYPE named NAME with LABELS (stolen) and KEY = base64 of
 * (P, N): a new reference. */
static json_t *secret_new(const ks_store *s, const char *name, const char *type,
			  json_t *labels, const char *key, const void *p,
			  size_t n)
{
	char *b64 = ks_base64_encode(p, n);
	json_t *sec = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:{s:s}}", "apiVersion",
		"v1", "kind", "Secret", "metadata", "name", name, "namespace",
		s->ns, "labels", labels, "type", type, "data", key, b64);
	free(b64);
	return sec;
}

/* Creates or replaces SECRET (borrowed) with one server-side apply:
 * field manager kusync, forced, so a record written twice is simply
 * replaced. */
static int kube_apply(ks_store *s, const json_t *secret, ks_error *err)
{
	const char *name = json_string_value(
		json_object_get(json_object_get(secret, "metadata"), "name"));
	char *path = secret_path(s, name);
	char *full = ks_xasprintf("%s?fieldManager=kusync&force=true", path);
	char *what = ks_xasprintf("write Secret \"%s/%s\"", s->ns, name);
	int rc = kube_call(s, "PATCH", full, "application/apply-patch+yaml",
			   secret, what, NULL, err);
	free(what);
	free(full);
	free(path);
	return rc;
}

static int kube_delete(ks_store *s, const char *name, ks_error *err)
{
	char *path = secret_path(s, name);
	char *what = ks_xasprintf("delete Secret \"%s/%s\"", s->ns, name);
	int rc = kube_call(s, "DELETE", path, NULL, NULL, what, NULL, err);
	if (rc == KS_ENOTFOUND)
		rc = 0;
	free(what);
	free(path);
	return rc;
}

/* Decodes data[KEY] of Secret ITEM from base64: a new buffer in *OUT. */
static int secret_data(const json_t *item, const char *key, char **out,
		       size_t *outlen, char *why, size_t whylen)
{
	const char *b64 = json_string_value(
		json_object_get(json_object_get(item, "data"), key));
	if (!b64) {
		snprintf(why, whylen, "no data.%s", key);
		return KS_EINVAL;
	}
	if (ks_base64_decode(b64, out, outlen) < 0) {
		snprintf(why, whylen, "data.%s is not base64", key);
		return KS_EINVAL;
	}
	return 0;
}

static const char *item_name(const json_t *item)
{
	const char *n = json_string_value(
		json_object_get(json_object_get(item, "metadata"), "name"));
	return n ? n : "";
}

/* The release number a Secret's name gives for APP, or -1. */
static long long release_secret_number(const char *name, const char *app)
{
	static const char prefix[] = "kusync.release.";
	size_t pl = sizeof prefix - 1, al = strlen(app);
	if (strncmp(name, prefix, pl) != 0 ||
	    strncmp(name + pl, app, al) != 0 ||
	    strncmp(name + pl + al, ".v", 2) != 0)
		return -1;
	const char *d = name + pl + al + 2;
	return parse_number(d, d + strlen(d));
}

static char *release_selector(const char *app)
{
	return ks_xasprintf("owner=kusync,kusync.io/release-of=%s", app);
}

typedef struct kube_rec {
	long long number;
	const char *name; /* borrowed from the list */
	json_t *release;  /* NULL when unreadable */
} kube_rec;

static int cmp_rec_desc(const void *a, const void *b)
{
	const kube_rec *x = a, *y = b;
	return x->number < y->number ? 1 : x->number > y->number ? -1 : 0;
}

/* Every release Secret of APP, decoded, newest first: *RECS a new array
 * of *N entries (unreadable ones with release NULL and described in
 * WARNINGS), *ITEMS the list they borrow names from. */
static int kube_records(ks_store *s, const char *app, kube_rec **recs,
			size_t *n, json_t **items, ks_errlist *warnings,
			ks_error *err)
{
	char *sel = release_selector(app);
	int rc = ks_kube_list(s->kc, &secret_resource, s->ns, sel, items, err);
	free(sel);
	*recs = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	size_t total = json_array_size(*items);
	*recs = ks_xcalloc(total ? total : 1, sizeof **recs);
	for (size_t i = 0; i < total; i++) {
		const json_t *item = json_array_get(*items, i);
		const char *name = item_name(item);
		char why[1100];
		kube_rec r = {release_secret_number(name, app), name, NULL};
		if (r.number <= 0) {
			snprintf(why, sizeof why,
				 "name is not kusync.release.%s.v<number>",
				 app);
		} else {
			char *data;
			size_t len;
			if (secret_data(item, "release", &data, &len, why,
					sizeof why) == 0) {
				r.release =
					decode_record(data, len, app, r.number,
						      why, sizeof why);
				free(data);
			}
		}
		if (!r.release && warnings) {
			char *file = ks_xasprintf("Secret %s/%s", s->ns, name);
			ks_errlist_add(warnings, file, 0, 0,
				       "unreadable release record skipped: %s",
				       why);
			free(file);
		}
		if (r.number > 0)
			(*recs)[(*n)++] = r;
		else
			json_decref(r.release);
	}
	if (*n > 1)
		qsort(*recs, *n, sizeof **recs, cmp_rec_desc);
	return 0;
}

static void kube_records_free(kube_rec *recs, size_t n, json_t *items)
{
	for (size_t i = 0; i < n; i++)
		json_decref(recs[i].release);
	free(recs);
	json_decref(items);
}

static int kube_prune(ks_store *s, const char *app, ks_error *err)
{
	kube_rec *recs;
	size_t n;
	json_t *items = NULL;
	int rc = kube_records(s, app, &recs, &n, &items, NULL, err);
	if (rc < 0 || n <= (size_t)s->history_limit)
		goto out;
	size_t keep = n;
	for (size_t i = 0; i < n && keep == n; i++)
		if (recs[i].release && is_succeeded(recs[i].release))
			keep = i;
	for (size_t i = (size_t)s->history_limit; rc == 0 && i < n; i++)
		if (i != keep)
			rc = kube_delete(s, recs[i].name, err);
out:
	kube_records_free(recs, n, items);
	return rc;
}

static int kube_put(ks_store *s, const json_t *release, const char *app,
		    long long number, ks_error *err)
{
	char *gz;
	size_t gzlen;
	int rc = encode_record(release, &gz, &gzlen, err);
	if (rc < 0)
		return rc;
	char *name = ks_xasprintf("kusync.release.%s.v%lld", app, number);
	char num[24];
	snprintf(num, sizeof num, "%lld", number);
	json_t *labels = json_pack("{s:s, s:s, s:s}", "owner", "kusync",
				   "kusync.io/release-of", app,
				   "kusync.io/release-number", num);
	/* A Secret holds at most 1 MiB; base64 makes 4 bytes of 3. */
	if (gzlen / 3 * 4 > SECRET_DATA_MAX) {
		json_decref(labels);
		free(name);
		free(gz);
		return ks_error_set(err, KS_ELIMIT,
				    "release %lld of \"%s\" is %zu bytes "
				    "gzip'd, too large for a Secret",
				    number, app, gzlen);
	}
	json_t *sec = secret_new(s, name, "kusync.io/release", labels,
				 "release", gz, gzlen);
	rc = kube_apply(s, sec, err);
	json_decref(sec);
	free(name);
	free(gz);
	if (rc == 0)
		rc = kube_prune(s, app, err);
	return rc;
}

static int kube_list_releases(ks_store *s, const char *app, json_t *out,
			      ks_errlist *warnings, ks_error *err)
{
	kube_rec *recs;
	size_t n;
	json_t *items = NULL;
	int rc = kube_records(s, app, &recs, &n, &items, warnings, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (recs[i].release)
			json_array_append(out, recs[i].release);
	kube_records_free(recs, n, items);
	return rc;
}

static int kube_apps(ks_store *s, json_t *out, ks_error *err)
{
	json_t *items = NULL;
	int rc = ks_kube_list(s->kc, &secret_resource, s->ns,
			      "owner=kusync,kusync.io/release-of", &items, err);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item)
	{
		const char *app = json_string_value(json_object_get(
			json_object_get(json_object_get(item, "metadata"),
					"labels"),
			"kusync.io/release-of"));
		if (ks_store_name_ok(app) &&
		    release_secret_number(item_name(item), app) > 0)
			json_array_append_new(out, json_string(app));
	}
	json_decref(items);
	sort_unique_strings(out);
	return 0;
}

static int kube_get_state(ks_store *s, const char *app, json_t **out,
			  ks_error *err)
{
	char *name = ks_xasprintf("kusync.state.%s", app);
	char *path = secret_path(s, name);
	char *what = ks_xasprintf("read Secret \"%s/%s\"", s->ns, name);
	ks_kube_resp resp;
	int rc = kube_call(s, "GET", path, NULL, NULL, what, &resp, err);
	*out = NULL;
	if (rc == 0) {
		char *data;
		size_t len;
		char why[256];
		if (secret_data(resp.json, "state", &data, &len, why,
				sizeof why) == 0) {
			json_t *v = json_loadb(data, len, 0, NULL);
			if (json_is_object(v))
				*out = v;
			else
				json_decref(v);
			free(data);
		}
	} else if (rc == KS_ENOTFOUND) {
		rc = 0;
	}
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	free(name);
	return rc;
}

static int kube_put_state(ks_store *s, const char *app, const json_t *state,
			  ks_error *err)
{
	char *name = ks_xasprintf("kusync.state.%s", app);
	int rc;
	if (!state) {
		rc = kube_delete(s, name, err);
	} else {
		char *text = json_dumps(state, JSON_COMPACT);
		json_t *labels = json_pack("{s:s, s:s}", "owner", "kusync",
					   "kusync.io/state-of", app);
		json_t *sec = secret_new(s, name, "kusync.io/state", labels,
					 "state", text, strlen(text));
		rc = kube_apply(s, sec, err);
		json_decref(sec);
		free(text);
	}
	free(name);
	return rc;
}

/*
 * Appends LINE to part PART of DAY's audit Secret: 1 when appended, 0 when
 * that part is full (the caller moves on to the next one), else an error.
 * The Secret is read, the line appended, and written back with the
 * resourceVersion read (PUT), so that two writers never lose each other's
 * lines: a 409 reads it again.
 */
static int kube_audit_part(ks_store *s, const char *day, int part,
			   const char *line, size_t len, ks_error *err)
{
	char *name = part == 1 ? ks_xasprintf("kusync.audit.%s", day)
			       : ks_xasprintf("kusync.audit.%s.%d", day, part);
	char *path = secret_path(s, name);
	char *what = ks_xasprintf("append to Secret \"%s/%s\"", s->ns, name);
	int rc = KS_ECONFLICT;
	for (int attempt = 0; rc == KS_ECONFLICT && attempt < CONFLICT_RETRIES;
	     attempt++) {
		ks_kube_resp resp;
		rc = kube_call(s, "GET", path, NULL, NULL, what, &resp, err);
		if (rc == KS_ENOTFOUND) {
			char pn[16];
			snprintf(pn, sizeof pn, "%d", part);
			json_t *labels =
				json_pack("{s:s, s:s, s:s}", "owner", "kusync",
					  "kusync.io/audit-day", day,
					  "kusync.io/audit-part", pn);
			json_t *sec = secret_new(s, name, "kusync.io/audit",
						 labels, "audit", line, len);
			char *coll = ks_xasprintf(
				"/api/v1/namespaces/%s/secrets", s->ns);
			rc = kube_call(s, "POST", coll, NULL, sec, what, NULL,
				       err);
			free(coll);
			json_decref(sec);
			rc = rc == 0 ? 1 : rc;
		} else if (rc == 0) {
			char *old = NULL;
			size_t oldlen = 0;
			char why[256];
			if (secret_data(resp.json, "audit", &old, &oldlen, why,
					sizeof why) < 0 ||
			    oldlen + len > AUDIT_PART_MAX) {
				rc = 0; /* full or damaged: next part */
			} else {
				char *all = ks_xmalloc(oldlen + len);
				memcpy(all, old, oldlen);
				memcpy(all + oldlen, line, len);
				char *b64 = ks_base64_encode(all, oldlen + len);
				free(all);
				json_object_set_new(
					json_object_get(resp.json, "data"),
					"audit", json_string(b64));
				free(b64);
				json_object_del(
					json_object_get(resp.json, "metadata"),
					"managedFields");
				rc = kube_call(s, "PUT", path, NULL, resp.json,
					       what, NULL, err);
				rc = rc == 0 ? 1 : rc;
			}
			free(old);
		}
		ks_kube_resp_release(&resp);
	}
	free(what);
	free(path);
	free(name);
	return rc;
}

static int kube_audit(ks_store *s, const char *line, size_t len, ks_error *err)
{
	char day[16];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y%m%d", &tm);
	for (int part = 1; part <= AUDIT_MAX_PARTS; part++) {
		int rc = kube_audit_part(s, day, part, line, len, err);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return ks_error_set(err, KS_ELIMIT, "audit log of %s is full", day);
}

typedef struct audit_part {
	char day[16];
	long part;
	const json_t *item;
} audit_part;

static int cmp_audit_part(const void *a, const void *b)
{
	const audit_part *x = a, *y = b;
	int c = strcmp(x->day, y->day);
	if (c)
		return c;
	return x->part < y->part ? -1 : x->part > y->part;
}

/* The day and part of an audit Secret's name, or -1. */
static int audit_name(const char *name, audit_part *out)
{
	static const char prefix[] = "kusync.audit.";
	size_t pl = sizeof prefix - 1;
	if (strncmp(name, prefix, pl) != 0 || strlen(name + pl) < 8)
		return -1;
	const char *d = name + pl;
	for (int i = 0; i < 8; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	memcpy(out->day, d, 8);
	out->day[8] = '\0';
	out->part = 1;
	if (d[8] == '\0')
		return 0;
	if (d[8] != '.')
		return -1;
	long long p = parse_number(d + 9, d + strlen(d));
	if (p < 2)
		return -1;
	out->part = (long)p;
	return 0;
}

static int kube_audit_list(ks_store *s, json_t *out, ks_error *err)
{
	json_t *items = NULL;
	int rc = ks_kube_list(s->kc, &secret_resource, s->ns,
			      "owner=kusync,kusync.io/audit-day", &items, err);
	if (rc < 0)
		return rc;
	size_t n = json_array_size(items), m = 0;
	audit_part *parts = ks_xcalloc(n ? n : 1, sizeof *parts);
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(items, i);
		if (audit_name(item_name(item), &parts[m]) == 0)
			parts[m++].item = item;
	}
	qsort(parts, m, sizeof *parts, cmp_audit_part);
	for (size_t i = 0; i < m; i++) {
		char *data;
		size_t len;
		char why[256];
		if (secret_data(parts[i].item, "audit", &data, &len, why,
				sizeof why) < 0)
			continue;
		parse_lines(data, len, out);
		free(data);
	}
	free(parts);
	json_decref(items);
	return 0;
}

/* Creates namespace NS unless it exists. */
static int kube_ensure_namespace(ks_store *s, ks_error *err)
{
	char *path = ks_xasprintf("/api/v1/namespaces/%s", s->ns);
	char *what = ks_xasprintf("read Namespace \"%s\"", s->ns);
	ks_kube_resp resp;
	int rc = kube_call(s, "GET", path, NULL, NULL, what, &resp, err);
	/* An agent confined to its namespace (a Role, not a ClusterRole) may
	 * not read Namespaces: then it exists, or the first write says so. */
	if (rc < 0 && resp.status == 403)
		rc = 0;
	ks_kube_resp_release(&resp);
	if (rc == KS_ENOTFOUND) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion",
				       "v1", "kind", "Namespace", "metadata",
				       "name", s->ns);
		free(what);
		what = ks_xasprintf("create Namespace \"%s\"", s->ns);
		rc = kube_call(s, "POST", "/api/v1/namespaces", NULL, ns, what,
			       NULL, err);
		if (rc == KS_ECONFLICT) /* created meanwhile */
			rc = 0;
		json_decref(ns);
	}
	free(what);
	free(path);
	return rc;
}

/* ---- the public operations ----------------------------------------- */

static ks_store *store_new(int history_limit)
{
	ks_store *s = ks_xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->history_limit = history_limit >= 1 ? history_limit : 1;
	return s;
}

int ks_store_open_local(ks_store **out, const char *path, int history_limit,
			ks_error *err)
{
	if (!path || !*path)
		return ks_error_set(err, KS_EINVAL, "no state path");
	ks_store *s = store_new(history_limit);
	s->path = ks_xstrdup(path);
	size_t n = strlen(s->path);
	while (n > 1 && s->path[n - 1] == '/')
		s->path[--n] = '\0';
	char *rel = ks_xasprintf("%s/releases", s->path);
	char *apps = ks_xasprintf("%s/apps", s->path);
	int rc = mkdirs(rel, err);
	if (rc == 0)
		rc = mkdirs(apps, err);
	free(rel);
	free(apps);
	if (rc < 0) {
		ks_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int ks_store_open_kube(ks_store **out, ks_kube_client *c, const char *ns,
		       int history_limit, ks_error *err)
{
	if (!ks_store_name_ok(ns))
		return ks_error_set(err, KS_EINVAL,
				    "state namespace \"%s\" is not a DNS-1123 "
				    "label",
				    ns ? ns : "");
	ks_store *s = store_new(history_limit);
	s->kc = c;
	s->ns = ks_xstrdup(ns);
	int rc = kube_ensure_namespace(s, err);
	if (rc < 0) {
		ks_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ks_store_free(ks_store *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->succ);
	free(s->path);
	free(s->ns);
	free(s);
}

static int check_app(const char *app, ks_error *err)
{
	if (ks_store_name_ok(app))
		return 0;
	return ks_error_set(err, KS_EINVAL,
			    "app name \"%s\" is not a DNS-1123 label",
			    app ? app : "");
}

int ks_store_put(ks_store *s, const json_t *release, ks_error *err)
{
	const char *app = NULL;
	long long number = 0;
	int rc = release_id(release, &app, &number, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (s->kc)
		rc = kube_put(s, release, app, number, err);
	else
		rc = local_put(s, release, app, number, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int ks_store_list(ks_store *s, const char *app, json_t **out,
		  ks_errlist *warnings, ks_error *err)
{
	int rc = check_app(app, err);
	if (rc < 0)
		return rc;
	json_t *arr = json_array();
	pthread_mutex_lock(&s->mu);
	if (s->kc)
		rc = kube_list_releases(s, app, arr, warnings, err);
	else
		rc = local_list(s, app, arr, warnings, err);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int ks_store_last_number(ks_store *s, const char *app, long long *out,
			 ks_error *err)
{
	*out = 0;
	int rc = check_app(app, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (s->kc) {
		kube_rec *recs;
		size_t n;
		json_t *items = NULL;
		rc = kube_records(s, app, &recs, &n, &items, NULL, err);
		if (rc == 0) {
			if (n)
				*out = recs[0].number;
			kube_records_free(recs, n, items);
		}
	} else {
		char *dir = local_app_dir(s, app);
		long long *nums;
		size_t n;
		rc = scan_numbers(dir, &nums, &n, err);
		if (rc == 0 && n)
			*out = nums[0];
		if (rc == 0)
			free(nums);
		free(dir);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int ks_store_apps(ks_store *s, json_t **out, ks_error *err)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&s->mu);
	int rc = s->kc ? kube_apps(s, arr, err) : local_apps(s, arr, err);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int ks_store_get_state(ks_store *s, const char *app, json_t **out,
		       ks_error *err)
{
	int rc = check_app(app, err);
	if (rc < 0)
		return rc;
	json_t *v = NULL;
	pthread_mutex_lock(&s->mu);
	rc = s->kc ? kube_get_state(s, app, &v, err)
		   : local_get_state(s, app, &v, err);
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		*out = v;
	return rc;
}

int ks_store_put_state(ks_store *s, const char *app, const json_t *state,
		       ks_error *err)
{
	int rc = check_app(app, err);
	if (rc < 0)
		return rc;
	if (state && !json_is_object(state))
		return ks_error_set(err, KS_EINVAL,
				    "state of \"%s\" must be a JSON object",
				    app);
	pthread_mutex_lock(&s->mu);
	rc = s->kc ? kube_put_state(s, app, state, err)
		   : local_put_state(s, app, state, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int ks_store_audit(ks_store *s, const json_t *entry, ks_error *err)
{
	if (!json_is_object(entry))
		return ks_error_set(err, KS_EINVAL,
				    "an audit entry must be a JSON object");
	json_t *e = json_copy((json_t *)entry);
	if (!json_is_string(json_object_get(e, "at"))) {
		char at[32];
		now_rfc3339(at, sizeof at);
		json_object_set_new(e, "at", json_string(at));
	}
	/* Compact JSON escapes newlines in strings: one entry, one line. */
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	char *line = ks_xasprintf("%s\n", text);
	free(text);
	pthread_mutex_lock(&s->mu);
	int rc = s->kc ? kube_audit(s, line, strlen(line), err)
		       : local_audit(s, line, strlen(line), err);
	pthread_mutex_unlock(&s->mu);
	free(line);
	return rc;
}

int ks_store_audit_list(ks_store *s, json_t **out, ks_error *err)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&s->mu);
	int rc = s->kc ? kube_audit_list(s, arr, err)
		       : local_audit_list(s, arr, err);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
