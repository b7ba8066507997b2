/* fixture_files: reading fixture files and listing fixture directories for
 * the Check suites (fixtures live under $AIMETER_SOURCE_DIR/tests/fixtures). */
#ifndef AIMETER_TEST_FIXTURE_FILES_H
#define AIMETER_TEST_FIXTURE_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* $AIMETER_SOURCE_DIR/tests/fixtures/<sub> (falls back to the compiled-in
 * source dir). Returns a static buffer. */
const char *am_test_fixture_dir(const char *sub);

/* The whole file as a NUL-terminated heap buffer (caller frees), its size in
 * *len (len may be NULL). NULL when the file cannot be read. */
char *am_test_read_file(const char *path, size_t *len);

/* Whether path names an existing file. */
bool am_test_file_exists(const char *path);

/* The names (not paths) in dir ending in `suffix`, sorted, as a
 * NULL-terminated heap array (free with am_test_free_list). *count gets the
 * number of names. */
char **am_test_list_dir(const char *dir, const char *suffix, size_t *count);
void am_test_free_list(char **names);

#endif
