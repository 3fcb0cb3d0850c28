#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "core/banned.h"

static const char *level_name(enum ks_log_level l)
{
	switch (l) {
	case KS_LOG_ERROR:
		return "error";
	case KS_LOG_WARN:
		return "warn";
	case KS_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void ks_log_write(const ks_logger *lg, enum ks_log_level level,
		  const char *module, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	FILE *fp = lg->fp ? lg->fp : stderr;
	if (lg->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", ts,
				      "level", level_name(level), "module",
				      module, "msg", msg);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			fprintf(fp, "%s\n", s);
		free(s);
		json_decref(o);
	} else {
		fprintf(fp, "%sZ %s %s: %s\n", ts, level_name(level), module,
			msg);
	}
	fflush(fp);
}
