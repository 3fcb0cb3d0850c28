#include "render/render.h"

#include "core/banned.h"

int ks_render_dirs(json_t **out, const char *const *dirs, size_t ndirs,
		   const char *workspace, ks_errlist *errs)
{
	(void)out;
	(void)dirs;
	(void)ndirs;
	(void)workspace;
	ks_errlist_add(errs, NULL, 0, 0, "render is not written yet");
	return KS_EINVAL;
}

int ks_render_write(ks_buf *out, const json_t *spec,
		    enum ks_render_format format)
{
	(void)out;
	(void)spec;
	(void)format;
	return KS_ERROR;
}
