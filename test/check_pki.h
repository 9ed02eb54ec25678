/*
 * The fixture of the pki Check suites (check_pki.c, check_pki_cert.c,
 * check_pki_keyio.c): a fresh flash and an opened storage + pki per test, a
 * generation directory for files made by the `openssl` program, and helpers to
 * copy them into flash:/pki/public and to compare the store before and after.
 * Test-only; each suite includes it once.
 */
#ifndef PKISH_CHECK_PKI_H
#define PKISH_CHECK_PKI_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pki/pki.h"
#include "../storage/storage.h"
#include "testutil.h"

/* The helpers below: unused in some suites (unused), and kept out of line
 * (noinline): inlined into a test body, GCC 12 reports a false
 * -Wdangling-pointer about their returned buffers. */
#define PKI_T_HELPER static __attribute__((unused, noinline))

static char *dir, *flash, *gen;
static struct storage *st;
static struct pki *pki;

PKI_T_HELPER char *
cat(const char *a, const char *b)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s%s", a, b), 0);
	return p;
}

PKI_T_HELPER void
open_all(void)
{
	struct pk_err e;

	pk_err_clear(&e);
	ck_assert_msg(storage_open(&st, flash, &e) == 0, "%s", e.msg);
	ck_assert_msg(pki_open(&pki, st, &e) == 0, "%s", e.msg);
}

PKI_T_HELPER void
reopen(void)
{
	pki_close(pki);
	storage_close(st);
	open_all();
}

PKI_T_HELPER void
setup(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	flash = cat(dir, "/flash");
	gen = cat(dir, "/gen");
	ck_assert_int_eq(mkdir(gen, 0700), 0);
	open_all();
}

PKI_T_HELPER void
teardown(void)
{
	pki_close(pki);
	storage_close(st);
	tu_rmrf(dir);
	free(dir);
	free(flash);
	free(gen);
}

/* Runs CMD in the generation directory; asserts success. */
#define SH(...) do { \
	char *c_; \
	ck_assert_int_ge(asprintf(&c_, __VA_ARGS__), 0); \
	char *full_ = NULL, *o_ = NULL; \
	ck_assert_int_ge(asprintf(&full_, "cd '%s' && %s", gen, c_), 0); \
	int rc_ = tu_run(full_, &o_); \
	ck_assert_msg(rc_ == 0, "%s failed: %s", c_, o_); \
	free(o_); free(full_); free(c_); \
} while (0)

PKI_T_HELPER char *
pub_path(const char *name)
{
	return storage_path(storage_public_dir(st), name);
}

/* A self-signed CA (EC P-256) NAME.pem / NAME.key in gen. */
PKI_T_HELPER void
make_ca(const char *name, const char *subj)
{
	SH("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes -keyout %s.key -out %s.pem -subj '%s' -days 365", name, name, subj);
}

/* Copies gen/SRC to flash:/pki/public/DST. */
PKI_T_HELPER void
to_public(const char *src, const char *dst)
{
	char *d = pub_path(dst);

	SH("cp %s '%s'", src, d);
	free(d);
}

/* Names of the files in the store, one string, to compare before/after. */
PKI_T_HELPER char *
store_listing(void)
{
	struct pk_err e;
	char **names;
	struct sbuf b = SBUF_INIT;

	ck_assert_int_eq(storage_list(storage_store_dir(st), &names, &e), 0);
	for (char **n = names; *n; n++) {
		sbuf_puts(&b, *n);
		sbuf_putc(&b, '\n');
	}
	storage_list_free(names);
	sbuf_puts(&b, "");
	return sbuf_take(&b);
}

/* Hex digits of the indented block after the line containing LABEL. */
PKI_T_HELPER char *
hex_after(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	struct sbuf b = SBUF_INIT;

	ck_assert_msg(p != NULL, "no %s in:\n%s", label, text);
	p += strlen(label);
	if (p[-1] != '\n') {
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	while (*p == ' ') {
		for (; *p && *p != '\n'; p++)
			if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
				sbuf_putc(&b, *p);
		if (*p == '\n')
			p++;
	}
	sbuf_puts(&b, "");
	return sbuf_take(&b);
}

PKI_T_HELPER char *
line_after(const char *text, const char *label)
{
	const char *p = strstr(text, label);

	ck_assert_msg(p != NULL, "no %s in:\n%s", label, text);
	p += strlen(label);
	return strndup(p, strcspn(p, "\n"));
}

PKI_T_HELPER int
mode_of(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return (int)(sb.st_mode & 0777);
}

PKI_T_HELPER char *
openssl_out(const char *fmt, const char *arg1, const char *arg2)
{
	char *cmd, *out = NULL;
	int rc;

	ck_assert_int_ge(asprintf(&cmd, fmt, arg1, arg2), 0);
	rc = tu_run(cmd, &out);
	ck_assert_msg(rc == 0, "%s: %s", cmd, out);
	free(cmd);
	return out;
}

#endif
