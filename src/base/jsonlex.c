/* jsonlex: JSON loading that keeps the source text of real numbers.
 *
 * jansson 2.14 has no hook for raw number text, so the file is parsed twice.
 * The first pass validates it and gives jansson's own line/column errors.
 * If that tree holds any real number, a second pass parses a copy of the text
 * in which every number lexeme is wrapped in quotes; the two trees have the
 * same shape, so each real in the first tree is swapped for the string at the
 * same place in the second. Only strings need care when finding lexemes
 * (a digit inside a string is not a number), and the first pass has already
 * proved the text well formed. */
#include "jsonlex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool has_real(json_t *v)
{
	if (json_is_real(v))
		return true;
	if (json_is_object(v)) {
		const char *key;
		json_t *child;
		json_object_foreach (v, key, child)
			if (has_real(child))
				return true;
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (has_real(json_array_get(v, i)))
				return true;
	}
	return false;
}

static bool number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Copies text into out (when non-NULL) with every number lexeme quoted;
 * returns the length of the result. */
static size_t quote_numbers(const char *text, size_t len, char *out)
{
	size_t o = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (out)
				out[o] = c;
			o++;
			if (c == '\\' && i + 1 < len) {
				if (out)
					out[o] = text[i + 1];
				o++;
				i++;
			} else if (c == '"') {
				in_string = false;
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i;
			while (j < len && number_char(text[j]))
				j++;
			if (out) {
				out[o] = '"';
				memcpy(out + o + 1, text + i, j - i);
				out[o + 1 + (j - i)] = '"';
			}
			o += (j - i) + 2;
			i = j - 1;
			continue;
		}
		if (out)
			out[o] = c;
		o++;
	}
	return o;
}

static int swap_reals(json_t *a, json_t *b, am_err *err);

/* One child pair: 1 when `va` is a real to be replaced by `vb` (its text),
 * 0 when done (descended into containers), -1 on a mismatch. */
static int visit(json_t *va, json_t *vb, am_err *err)
{
	if (!vb)
		return am_err_set(err, "internal: JSON passes disagree");
	if (!json_is_real(va))
		return swap_reals(va, vb, err);
	if (!json_is_string(vb))
		return am_err_set(err, "internal: number lexeme not found");
	return 1;
}

/* Replaces each real in `a` by the string at the same place in `b`. */
static int swap_reals(json_t *a, json_t *b, am_err *err)
{
	if (json_is_object(a)) {
		for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it)) {
			json_t *vb = json_object_get(b, json_object_iter_key(it));
			int rc = visit(json_object_iter_value(it), vb, err);
			if (rc < 0)
				return -1;
			if (rc == 1)
				json_object_iter_set(a, it, vb);
		}
	} else if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return am_err_set(err, "internal: JSON passes disagree");
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *vb = json_array_get(b, i);
			int rc = visit(json_array_get(a, i), vb, err);
			if (rc < 0)
				return -1;
			if (rc == 1)
				json_array_set(a, i, vb);
		}
	}
	return 0;
}

int am_jsonlex_load(const char *text, size_t len, const char *name, bool reject_duplicates,
                    json_t **out, am_err *err)
{
	size_t flags = JSON_DECODE_ANY | (reject_duplicates ? JSON_REJECT_DUPLICATES : 0);
	json_error_t je;
	json_t *tree = json_loadb(text, len, flags, &je);
	if (!tree) {
		if (name)
			return am_err_set(err, "%s:%d:%d: %s", name, je.line, je.column, je.text);
		return am_err_set(err, "%d:%d: %s", je.line, je.column, je.text);
	}
	if (has_real(tree)) {
		size_t qlen = quote_numbers(text, len, NULL);
		char *q = am_xmalloc(qlen + 1);
		quote_numbers(text, len, q);
		q[qlen] = '\0';
		json_t *lex = json_loadb(q, qlen, flags, &je);
		free(q);
		if (!lex) {
			json_decref(tree);
			return am_err_set(err, "%s: internal: second JSON pass failed at %d:%d: %s",
			                  name ? name : "JSON", je.line, je.column, je.text);
		}
		int rc = 0;
		if (json_is_real(tree)) { /* a bare number: nothing to walk */
			json_decref(tree);
			tree = json_incref(lex);
		} else {
			rc = swap_reals(tree, lex, err);
		}
		json_decref(lex);
		if (rc) {
			json_decref(tree);
			return -1;
		}
	}
	*out = tree;
	return 0;
}

int am_jsonlex_load_file(const char *path, bool reject_duplicates, json_t **out, bool *missing,
                         am_err *err)
{
	if (missing)
		*missing = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && missing)
			*missing = true;
		return am_err_set(err, "%s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return am_err_set(err, "%s: not a regular file", path);
	}
	if ((unsigned long long)st.st_size > AM_JSONLEX_MAX_BYTES) {
		close(fd);
		return am_err_set(err, "%s: larger than %u bytes", path, AM_JSONLEX_MAX_BYTES);
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *buf = am_xmalloc(size + 1);
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int saved = errno;
	close(fd);
	if (got != size) {
		free(buf);
		return am_err_set(err, "%s: read failed: %s", path, strerror(saved));
	}
	buf[size] = '\0';
	int rc = am_jsonlex_load(buf, size, path, reject_duplicates, out, err);
	free(buf);
	return rc;
}

int am_jsonlex_decimal_text(const json_t *v, char *buf, size_t n, am_err *err)
{
	int len;
	if (json_is_string(v))
		len = snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		len = snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		return am_err_set(err, "expected a decimal number or string");
	if (len < 0 || (size_t)len >= n)
		return am_err_set(err, "number is too long");
	return 0;
}

json_t *am_jsonlex_string(const char *s)
{
	if (!s)
		return json_null();
	json_t *v = json_string(s);
	if (v)
		return v;
	char *ascii = am_xstrdup(s);
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(ascii);
	free(ascii);
	return v;
}
