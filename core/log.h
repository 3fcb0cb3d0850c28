/*
 * Logging: one line per event, "module: message key=value ...", or JSON
 * lines. The level is checked before the arguments are evaluated. The
 * logger is passed explicitly (no global state); ks_log_default() is a
 * stderr text logger for one-shot commands.
 */
#ifndef KS_CORE_LOG_H
#define KS_CORE_LOG_H

#include <stdio.h>

enum ks_log_level {
	KS_LOG_ERROR,
	KS_LOG_WARN,
	KS_LOG_INFO,
	KS_LOG_DEBUG,
};

typedef struct ks_logger {
	enum ks_log_level level;
	int json; /* 1: JSON lines */
	FILE *fp;
} ks_logger;

void ks_log_write(const ks_logger *lg, enum ks_log_level level,
		  const char *module, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define KS_LOG(lg, lvl, module, ...)                                           \
	do {                                                                   \
		if ((lg) && (lvl) <= (lg)->level)                              \
			ks_log_write((lg), (lvl), (module), __VA_ARGS__);      \
	} while (0)

#endif
