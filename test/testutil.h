/*
 * Helpers shared by the Check suites: temporary directories, running a command and
 * capturing its output, files. Test-only code.
 */
#ifndef PKISH_TESTUTIL_H
#define PKISH_TESTUTIL_H

#include <stddef.h>

/* A new empty directory under $TMPDIR (free() the string; tu_rmrf() removes it). */
char *tu_tmpdir(void);
void tu_rmrf(const char *dir);
/* Runs `sh -c CMD`, returns its exit status (-1 if it could not run); stdout+stderr
 * go into *out (a new string) when out != NULL. */
int tu_run(const char *cmd, char **out);
/* printf-style variant of tu_run without output capture. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whole file into a new NUL-terminated buffer; NULL if unreadable. */
char *tu_read(const char *path, size_t *len);
int tu_write(const char *path, const void *data, size_t len);
/* The build directory ($BUILD, default "build") and project top ($PKISH_TOP or "."). */
const char *tu_build(void);
const char *tu_top(void);
/* Runs suite S (Check's default fork mode, normal verbosity) and frees it; the
 * exit status for main: 0 when every test passed. */
struct Suite;
int tu_run_suite(struct Suite *s);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tu_free_port(void);

#endif
