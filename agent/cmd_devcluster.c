#include "agent/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/error.h"
#include "core/mem.h"
#include "devcluster/devcluster.h"
#include "core/banned.h"

const char ks_usage_devcluster[] =
	"usage: kusync devcluster [--listen ADDR] [--kubeconfig-out FILE] "
	"[--state FILE]\n"
	"                         [behaviour flags]\n"
	"\n"
	"Serves the Kubernetes API in memory on loopback, for trying kusync "
	"and kubectl\nwithout a cluster. Prints \"devcluster: listening on "
	"URL\" to stderr once ready.\n"
	"\n"
	"  --listen ADDR           HOST:PORT to listen on (default "
	"127.0.0.1:0, a free port)\n"
	"  --kubeconfig-out FILE   write a kubeconfig for this server\n"
	"  --state FILE            keep objects across restarts in FILE\n"
	"  --rollout-delay D       time until pods of a rollout are ready "
	"(default 1s)\n"
	"  --time-scale N          divide every simulated duration by N "
	"(default 1)\n"
	"  --fail-images REGEX     images matching REGEX never become ready\n"
	"  --fault RULE            inject faults, e.g. "
	"verb=patch,resource=deployments,error=500,rate=0.5\n"
	"                          (repeatable; also PUT /_devcluster/faults)\n"
	"  --token-file FILE       require a bearer token listed in FILE\n"
	"  --tls-cert FILE, --tls-key FILE\n"
	"                          serve HTTPS with this certificate and key\n"
	"  --client-ca FILE        accept client certificates signed by FILE\n"
	"  -q, --quiet             do not log requests\n";

struct run {
	uv_signal_t sigint, sigterm;
	ks_devcluster *dc;
};

static void on_signal(uv_signal_t *s, int signum)
{
	struct run *r = s->data;
	(void)signum;
	ks_devcluster_stop(r->dc);
	r->dc = NULL;
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
}

/* "250ms", "2s", "1m", or plain milliseconds. */
static int parse_delay(const char *s, unsigned *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms") || !*end)
		;
	else if (!strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else
		return -1;
	if (v > 86400000.0)
		return -1;
	*ms = (unsigned)v;
	return 0;
}

static const char *flag_arg(int argc, char **argv, int *i, const char *name,
			    int *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (!strncmp(a, name, n) && a[n] == '=')
		return a + n + 1;
	if (strcmp(a, name))
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int ks_cmd_devcluster(int argc, char **argv)
{
	ks_devcluster_opts o = {.rollout_delay_ms = 1000, .time_scale = 1};
	const char *kubeconfig = NULL;
	ks_buf faults;
	ks_buf_init(&faults, 0);
	int rc = KS_EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		if ((v = flag_arg(argc, argv, &i, "--listen", &missing))) {
			o.listen = v;
		} else if ((v = flag_arg(argc, argv, &i, "--kubeconfig-out",
					 &missing))) {
			kubeconfig = v;
		} else if ((v = flag_arg(argc, argv, &i, "--state",
					 &missing))) {
			o.state_file = v;
		} else if ((v = flag_arg(argc, argv, &i, "--rollout-delay",
					 &missing))) {
			if (parse_delay(v, &o.rollout_delay_ms)) {
				ks_cli_error("--rollout-delay: invalid "
					     "duration \"%s\"",
					     v);
				goto out;
			}
		} else if ((v = flag_arg(argc, argv, &i, "--time-scale",
					 &missing))) {
			char *end;
			o.time_scale = strtod(v, &end);
			if (*end || o.time_scale <= 0) {
				ks_cli_error("--time-scale: want a positive "
					     "number, got \"%s\"",
					     v);
				goto out;
			}
		} else if ((v = flag_arg(argc, argv, &i, "--fail-images",
					 &missing))) {
			o.fail_images = v;
		} else if ((v = flag_arg(argc, argv, &i, "--fault",
					 &missing))) {
			ks_buf_printf(&faults, "%s;", v);
		} else if ((v = flag_arg(argc, argv, &i, "--token-file",
					 &missing))) {
			o.token_file = v;
		} else if ((v = flag_arg(argc, argv, &i, "--tls-cert",
					 &missing))) {
			o.tls_cert = v;
		} else if ((v = flag_arg(argc, argv, &i, "--tls-key",
					 &missing))) {
			o.tls_key = v;
		} else if ((v = flag_arg(argc, argv, &i, "--client-ca",
					 &missing))) {
			o.client_ca = v;
		} else if (!strcmp(argv[i], "-q") ||
			   !strcmp(argv[i], "--quiet")) {
			o.quiet = true;
		} else if (missing) {
			ks_cli_error("flag %s needs a value", argv[i]);
			goto out;
		} else {
			ks_cli_error("unknown argument %s; run 'kusync "
				     "devcluster --help'",
				     argv[i]);
			goto out;
		}
	}
	if (faults.len)
		o.faults = faults.data;

	uv_loop_t loop;
	uv_loop_init(&loop);
	struct run r = {0};
	ks_error err;
	if (ks_devcluster_start(&r.dc, &loop, &o, &err)) {
		ks_cli_error("devcluster: %s", err.msg);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		rc = err.code == KS_EINVAL ? KS_EXIT_USAGE : KS_EXIT_ENV;
		goto out;
	}
	if (kubeconfig &&
	    ks_devcluster_write_kubeconfig(r.dc, kubeconfig, &err)) {
		ks_cli_error("%s", err.msg);
		ks_devcluster_stop(r.dc);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		rc = KS_EXIT_ENV;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(&loop, &r.sigint);
	uv_signal_init(&loop, &r.sigterm);
	r.sigint.data = r.sigterm.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	fprintf(stderr, "devcluster: listening on %s\n",
		ks_devcluster_url(r.dc));
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	rc = KS_EXIT_OK;
out:
	ks_buf_release(&faults);
	return rc;
}
