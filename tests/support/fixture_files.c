/* fixture_files: file helpers shared by the fixture-driven suites. */
#include "fixture_files.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"

const char *am_test_fixture_dir(const char *sub)
{
	static char buf[4096];
	const char *root = getenv("AIMETER_SOURCE_DIR");
	if (!root || !root[0])
		root = AIMETER_SOURCE_DIR;
	snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", root, sub);
	return buf;
}

char *am_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = am_xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			cap *= 2;
			buf = am_xrealloc(buf, cap);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

bool am_test_file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **am_test_list_dir(const char *dir, const char *suffix, size_t *count)
{
	size_t n = 0, cap = 16;
	char **names = am_xcalloc(cap + 1, sizeof *names);
	DIR *d = opendir(dir);
	size_t sl = strlen(suffix);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= sl || strcmp(e->d_name + l - sl, suffix))
			continue;
		if (n == cap) {
			cap *= 2;
			names = am_xrealloc(names, (cap + 1) * sizeof *names);
		}
		names[n++] = am_xstrdup(e->d_name);
	}
	if (d)
		closedir(d);
	names[n] = NULL;
	qsort(names, n, sizeof *names, cmp_names);
	*count = n;
	return names;
}

void am_test_free_list(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}
