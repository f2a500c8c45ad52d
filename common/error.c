#include "common/error.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void wp_error_init(wp_error *err)
{
	err->code = WP_OK;
	err->msg[0] = '\0';
}

static int vset(wp_error *err, int code, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int wp_error_set(wp_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int wp_error_sys(wp_error *err, int code, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (code == WP_EIO && saved == ENOENT)
		code = WP_ENOTFOUND;
	if (saved == ENOMEM)
		code = WP_ENOMEM;
	if (!err)
		return code;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
	errno = saved;
	return code;
}

int wp_error_prefix(wp_error *err, const char *fmt, ...)
{
	char prefix[WP_ERROR_MSG_MAX];
	char old[WP_ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return WP_EFAIL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	if (strlen(prefix) + 2 >= sizeof(err->msg))
		prefix[sizeof(err->msg) - 3] = '\0';
	memcpy(err->msg, prefix, strlen(prefix));
	memcpy(err->msg + strlen(prefix), ": ", 2);
	wp_str_copy(err->msg + strlen(prefix) + 2, old, sizeof(err->msg) - strlen(prefix) - 2);
	if (err->code == WP_OK)
		err->code = WP_EFAIL;
	return err->code;
}

int wp_error_append(wp_error *err, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!err)
		return WP_EFAIL;
	len = strlen(err->msg);
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
	if (err->code == WP_OK)
		err->code = WP_EFAIL;
	return err->code;
}

int wp_error_exit_status(int code)
{
	switch (code) {
	case WP_OK: return 0;
	case WP_EUSAGE: return 2;
	case WP_ENOTFOUND: return 3;
	case WP_EAUTH: return 4;
	case WP_EDIGEST: return 5;
	default: return 1;
	}
}

const char *wp_error_code_name(int code)
{
	switch (code) {
	case WP_OK: return "ok";
	case WP_EUSAGE: return "usage";
	case WP_ENOTFOUND: return "not_found";
	case WP_EAUTH: return "auth";
	case WP_EDIGEST: return "digest";
	case WP_EINVALID: return "invalid";
	case WP_EEXISTS: return "exists";
	case WP_ETOOBIG: return "too_big";
	case WP_EIO: return "io";
	case WP_ENOMEM: return "no_memory";
	case WP_ESTATE: return "state";
	case WP_EUNSUPPORTED: return "unsupported";
	case WP_ETIMEOUT: return "timeout";
	case WP_EUNAVAILABLE: return "unavailable";
	default: return "error";
	}
}
