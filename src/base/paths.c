/* paths: XDG base directories and private directory creation. */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int xdg_dir(const char *env, const char *fallback, char *buf, size_t n, am_err *err)
{
	const char *base = getenv(env);
	int len;
	if (base && base[0] == '/') {
		len = snprintf(buf, n, "%s/aimeter", base);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return am_err_set(err, "neither %s nor HOME is set", env);
		len = snprintf(buf, n, "%s/%s/aimeter", home, fallback);
	}
	if (len < 0 || (size_t)len >= n)
		return am_err_set(err, "%s path is too long", env);
	return 0;
}

int am_path_config_dir(char *buf, size_t n, am_err *err)
{
	return xdg_dir("XDG_CONFIG_HOME", ".config", buf, n, err);
}

int am_path_data_dir(char *buf, size_t n, am_err *err)
{
	return xdg_dir("XDG_DATA_HOME", ".local/share", buf, n, err);
}

static int join(char *buf, size_t n, const char *leaf, am_err *err)
{
	size_t len = strlen(buf);
	if (len + 1 + strlen(leaf) + 1 > n)
		return am_err_set(err, "path is too long");
	buf[len] = '/';
	strcpy(buf + len + 1, leaf);
	return 0;
}

int am_path_default_db(char *buf, size_t n, am_err *err)
{
	return am_path_data_dir(buf, n, err) ? -1 : join(buf, n, "aimeter.db", err);
}

int am_path_default_config(char *buf, size_t n, am_err *err)
{
	return am_path_config_dir(buf, n, err) ? -1 : join(buf, n, "config.json", err);
}

int am_path_pricing_override(char *buf, size_t n, am_err *err)
{
	return am_path_config_dir(buf, n, err) ? -1 : join(buf, n, "pricing.json", err);
}

int am_mkdir_p(const char *path, mode_t mode, am_err *err)
{
	char tmp[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof tmp)
		return am_err_set(err, "bad directory path");
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST)
				return am_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int am_mkdir_parent(const char *file, am_err *err)
{
	char dir[4096];
	const char *slash = strrchr(file, '/');
	if (!slash || slash == file)
		return 0;
	size_t len = (size_t)(slash - file);
	if (len >= sizeof dir)
		return am_err_set(err, "path is too long");
	memcpy(dir, file, len);
	dir[len] = '\0';
	return am_mkdir_p(dir, 0700, err);
}
