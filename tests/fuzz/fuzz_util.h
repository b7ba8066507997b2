/* fuzz_util: small helpers shared by the libFuzzer targets (tests/fuzz).
 *
 * A target's invariants are checked with FUZZ_CHECK, which prints what broke
 * and aborts: libFuzzer then saves the input as a crash. The helpers read the
 * fuzzer's bytes as a stream of choices (fuzz_in) and check that text meant
 * for people and JSON is well formed. Everything is static: each target is
 * its own executable. */
#ifndef AIMETER_FUZZ_UTIL_H
#define AIMETER_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                     \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                         \
		}                                                                                    \
	} while (0)

/* The fuzzer's input read front to back: a few choice bytes, then the rest. */
typedef struct fuzz_in {
	const uint8_t *p;
	size_t n;
} fuzz_in;

static inline unsigned fuzz_byte(fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline unsigned fuzz_u16(fuzz_in *in)
{
	unsigned hi = fuzz_byte(in);
	return hi << 8 | fuzz_byte(in);
}

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static inline bool fuzz_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p++;
		size_t more;
		unsigned cp, min;
		if (c < 0x80)
			continue;
		if ((c & 0xE0) == 0xC0) {
			more = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			more = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if ((size_t)(end - p) < more)
			return false;
		for (size_t i = 0; i < more; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		p += more;
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

/* Whether needle occurs in hay (memmem is a GNU extension). */
static inline bool fuzz_contains(const void *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	const char *h = hay;
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (h[i] == needle[0] && !memcmp(h + i, needle, m))
			return true;
	return false;
}

/* A fixed char array holds a NUL-terminated, well-formed UTF-8 string. */
#define FUZZ_CHECK_CSTR(arr) FUZZ_CHECK(memchr((arr), '\0', sizeof(arr)) != NULL)
#define FUZZ_CHECK_UTF8_CSTR(arr) \
	FUZZ_CHECK(memchr((arr), '\0', sizeof(arr)) != NULL && fuzz_utf8_ok((arr), strlen(arr)))

/* ---- files, for parsers that only take a path ---------------------------- */

static char fuzz_dir_[256] __attribute__((unused));
static char fuzz_paths_[4][512] __attribute__((unused));

/* The loaders write nothing but the files named through fuzz_path (the
 * override writer renames its temporary over one of them). */
__attribute__((unused)) static void fuzz_dir_cleanup_(void)
{
	for (int i = 0; i < 4; i++)
		if (fuzz_paths_[i][0])
			unlink(fuzz_paths_[i]);
	rmdir(fuzz_dir_);
}

/* A private directory for this process, on tmpfs when there is one (the
 * loaders are fed a file per input), removed at exit. */
static inline const char *fuzz_dir(void)
{
	if (!fuzz_dir_[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/aimeter-fuzz-XXXXXX", base);
		FUZZ_CHECK(mkdtemp(fuzz_dir_) != NULL);
		atexit(fuzz_dir_cleanup_);
	}
	return fuzz_dir_;
}

/* `name` inside fuzz_dir(), in a static buffer per call site's slot (0..3). */
static inline const char *fuzz_path(int slot, const char *name)
{
	snprintf(fuzz_paths_[slot], sizeof fuzz_paths_[slot], "%s/%s", fuzz_dir(), name);
	return fuzz_paths_[slot];
}

static inline void fuzz_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(n == 0 || fwrite(data, 1, n, f) == n);
	FUZZ_CHECK(fclose(f) == 0);
}

#endif
