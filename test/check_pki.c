/*
 * Check suite for pki/: key pairs (create, display vs `openssl pkey -text`, export,
 * destroy, the in-use hook, persistence), certificates (import PEM/DER, hostile
 * files changing nothing, local certificates matching a key pair, display, delete,
 * validate) and entities (subject order, subjectAltName, checks, display).
 * Certificates and keys are made at test time by the `openssl` program.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../pki/pki.h"
#include "../storage/storage.h"
#include "testutil.h"

static char *dir, *flash, *gen;
static struct storage *st;
static struct pki *pki;

static char *
cat(const char *a, const char *b)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s%s", a, b), 0);
	return p;
}

static void
open_all(void)
{
	struct pk_err e;

	pk_err_clear(&e);
	ck_assert_msg(storage_open(&st, flash, &e) == 0, "%s", e.msg);
	ck_assert_msg(pki_open(&pki, st, &e) == 0, "%s", e.msg);
}

static void
reopen(void)
{
	pki_close(pki);
	storage_close(st);
	open_all();
}

static void
setup(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	flash = cat(dir, "/flash");
	gen = cat(dir, "/gen");
	ck_assert_int_eq(mkdir(gen, 0700), 0);
	open_all();
}

static void
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

static char *
pub_path(const char *name)
{
	return storage_path(storage_public_dir(st), name);
}

/* A self-signed CA (EC P-256) NAME.pem / NAME.key in gen. */
static void
make_ca(const char *name, const char *subj)
{
	SH("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes -keyout %s.key -out %s.pem -subj '%s' -days 365", name, name, subj);
}

/* Copies gen/SRC to flash:/pki/public/DST. */
static void
to_public(const char *src, const char *dst)
{
	char *d = pub_path(dst);

	SH("cp %s '%s'", src, d);
	free(d);
}

/* Names of the files in the store, one string, to compare before/after. */
static char *
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
static char *
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

static char *
line_after(const char *text, const char *label)
{
	const char *p = strstr(text, label);

	ck_assert_msg(p != NULL, "no %s in:\n%s", label, text);
	p += strlen(label);
	return strndup(p, strcspn(p, "\n"));
}

static int
mode_of(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return (int)(sb.st_mode & 0777);
}

static char *
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

/* ---- key pairs ------------------------------------------------------ */

START_TEST(rsa_display_matches_openssl)
{
	struct pk_err e;
	struct sbuf out = SBUF_INIT;
	char *exp_path, *ours, *theirs, *text, *ev1, *ev2;
	int bits = 0;
	regex_t re;

	ck_assert_msg(pki_key_create_rsa(pki, "Key1", 2048, 1, &bits, &e) == 0, "%s",
	    e.msg);
	ck_assert_int_eq(bits, 2048);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, NULL, &out, &e), 0);
	text = (char *)sbuf_str(&out);
	ck_assert_msg(strncmp(text, "Total Number: 1\n", 16) == 0, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "\nKey Name: Key1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nKey Modulus: 2048 bits\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nKey Exportable: Yes\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nRSA Public-Key: (2048 bits)\nModulus:\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nExponent: 65537 (0x10001)\n"));
	ck_assert_int_eq(regcomp(&re, "\nTime of Key pair created: [0-2][0-9]:[0-5][0-9]:"
	    "[0-6][0-9]  20[0-9][0-9]/[1-9][0-2]?/[1-9][0-9]?\n", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "%s", text);
	regfree(&re);
	/* 15 bytes a line, 4-space indent, as openssl prints it */
	ck_assert_ptr_nonnull(strstr(text, "Modulus:\n    00:"));

	/* the same key, seen by openssl through an export */
	ck_assert_msg(pki_key_export_pem(pki, "key1", "k1.pem", "secret1", &e) == 0,
	    "%s", e.msg);
	exp_path = pub_path("k1.pem");
	theirs = openssl_out("openssl pkey -in '%s' -passin pass:%s -text -noout",
	    exp_path, "secret1");
	ours = hex_after(text, "\nModulus:\n");
	char *omod = hex_after(theirs, "modulus:");
	ck_assert_uint_eq(strlen(ours), 2 * 257);	/* 00 + 256 bytes */
	ck_assert_str_eq(ours, omod);
	ev1 = line_after(text, "\nExponent: ");
	ev2 = line_after(theirs, "publicExponent: ");
	ck_assert_str_eq(ev1, ev2);
	/* the modulus lines have the same layout as openssl's */
	const char *a = strstr(text, "Modulus:\n") + 9;
	const char *b = strstr(theirs, "modulus:\n") + 9;
	ck_assert_int_eq(strncmp(a, b, strcspn(b, "\n") + 1), 0);
	free(omod);
	free(ev1);
	free(ev2);
	free(ours);
	free(theirs);
	free(exp_path);
	sbuf_free(&out);
}
END_TEST

START_TEST(rsa_bits_rules)
{
	struct pk_err e;
	int bits = 0;
	enum pki_key_type t;
	int b2, ex;

	ck_assert_int_eq(pki_rsa_bits(0, &e), 3072);
	ck_assert_int_eq(pki_rsa_bits(2049, &e), 2048);
	ck_assert_int_eq(pki_rsa_bits(4095, &e), 4094);
	ck_assert_int_eq(pki_rsa_bits(4096, &e), 4096);
	ck_assert_int_eq(pki_rsa_bits(2047, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "2048 to 4096"));
	ck_assert_int_eq(pki_rsa_bits(4097, &e), -1);
	ck_assert_int_eq(pki_key_create_rsa(pki, "small", 1024, 0, &bits, &e), -1);
	ck_assert_int_eq(pki_key_exists(pki, "small"), 0);
	ck_assert_int_eq(pki_key_create_rsa(pki, "odd", 2049, 0, &bits, &e), 0);
	ck_assert_int_eq(bits, 2048);
	ck_assert_int_eq(pki_key_info(pki, "ODD", &t, &b2, NULL, &ex, NULL), 0);
	ck_assert_int_eq(t, PKI_KEY_RSA);
	ck_assert_int_eq(b2, 2048);
	ck_assert_int_eq(ex, 0);
}
END_TEST

START_TEST(rsa_default_3072)
{
	struct pk_err e;
	struct sbuf out = SBUF_INIT;
	int bits = 0;

	ck_assert_int_eq(pki_key_create_rsa(pki, "def", 0, 0, &bits, &e), 0);
	ck_assert_int_eq(bits, 3072);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, "DEF", &out, &e), 0);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&out), "Key Modulus: 3072 bits\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&out), "Key Exportable: No\n"));
	sbuf_free(&out);
}
END_TEST

START_TEST(key_names_rules)
{
	struct pk_err e;
	char long65[66];

	memset(long65, 'a', 65);
	long65[65] = '\0';
	ck_assert(!pki_key_name_ok("", &e));
	ck_assert(!pki_key_name_ok(long65, &e));
	ck_assert(!pki_key_name_ok("a b", &e));
	ck_assert(!pki_key_name_ok("a?b", &e));
	ck_assert(pki_key_name_ok(long65 + 1, &e));
	ck_assert(pki_key_name_ok("../weird/name", &e));	/* hex-encoded in the store */
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "../weird/name", 0, &e), 0);
	ck_assert_int_eq(pki_key_exists(pki, "../WEIRD/name"), PKI_KEY_EC);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", long65, 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "1 to 64"));
	reopen();
	ck_assert_int_eq(pki_key_exists(pki, "../weird/name"), PKI_KEY_EC);
	/* nothing was written outside the store */
	char *outside = cat(flash, "/pki/weird");
	ck_assert_int_ne(access(outside, F_OK), 0);
	free(outside);
}
END_TEST

START_TEST(ec_display_matches_openssl)
{
	struct pk_err e;
	struct sbuf out = SBUF_INIT;
	const char *const *cv = pki_ec_curves();
	const int bits[] = { 256, 384, 521 };

	ck_assert_str_eq(cv[0], "prime256v1");
	ck_assert_str_eq(cv[1], "secp384r1");
	ck_assert_str_eq(cv[2], "secp521r1");
	ck_assert_ptr_null(cv[3]);
	for (int i = 0; i < 3; i++) {
		char name[16], file[32], hdr[64], *p, *theirs, *ours, *otheirs;

		snprintf(name, sizeof(name), "ec%d", i);
		snprintf(file, sizeof(file), "ec%d.pem", i);
		ck_assert_msg(pki_key_create_ec(pki, cv[i], name, 1, &e) == 0, "%s",
		    e.msg);
		sbuf_reset(&out);
		ck_assert_int_eq(pki_key_display(pki, PKI_KEY_EC, name, &out, &e), 0);
		snprintf(hdr, sizeof(hdr), "EC Public-Key: (%d bits)\npub:\n", bits[i]);
		ck_assert_msg(strstr(sbuf_str(&out), hdr) != NULL, "%s",
		    sbuf_str(&out));
		snprintf(hdr, sizeof(hdr), "\nASN1 OID: %s\n", cv[i]);
		ck_assert_ptr_nonnull(strstr(sbuf_str(&out), hdr));
		ck_assert_int_eq(pki_key_export_pem(pki, name, file, "pass-word", &e), 0);
		p = pub_path(file);
		theirs = openssl_out("openssl pkey -in '%s' -passin pass:%s -text -noout",
		    p, "pass-word");
		ours = hex_after(sbuf_str(&out), "\npub:");
		otheirs = hex_after(theirs, "\npub:");
		ck_assert_str_eq(ours, otheirs);
		ck_assert_ptr_nonnull(strstr(theirs, hdr));
		free(ours);
		free(otheirs);
		free(theirs);
		free(p);
	}
	ck_assert_int_eq(pki_key_create_ec(pki, "secp256k1", "bad", 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not supported"));
	/* display filters by type: the EC keys are not RSA keys */
	sbuf_reset(&out);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, NULL, &out, &e), 0);
	ck_assert_str_eq(sbuf_str(&out), "Total Number: 0\n");
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, "ec0", &out, &e), -1);
	ck_assert_str_eq(e.msg, "The RSA key pair ec0 does not exist.");
	sbuf_reset(&out);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_EC, NULL, &out, &e), 0);
	ck_assert(strncmp(sbuf_str(&out), "Total Number: 3\n", 16) == 0);
	sbuf_free(&out);
}
END_TEST

START_TEST(export_rules)
{
	struct pk_err e;
	char *p, *txt, *out = NULL, *cmd;

	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "noexp", 0, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "exp", 1, &e), 0);
	ck_assert_int_eq(pki_key_export_pem(pki, "noexp", "x.pem", "secret1", &e), -1);
	ck_assert_str_eq(e.msg, "The key pair noexp is not exportable.");
	ck_assert_int_eq(pki_key_export_pem(pki, "nokey", "x.pem", "secret1", &e), -1);
	ck_assert_str_eq(e.msg, "The key pair nokey does not exist.");
	ck_assert_int_eq(pki_key_export_pem(pki, "exp", "x.pem", "short", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "6 to 32"));
	ck_assert_int_eq(pki_key_export_pem(pki, "exp", "x.pem",
	    "123456789012345678901234567890123", &e), -1);
	ck_assert_int_eq(pki_key_export_pem(pki, "exp", "../x.pem", "secret1", &e), -1);
	ck_assert_int_eq(pki_key_export_pem(pki, "exp", "a/x.pem", "secret1", &e), -1);
	p = pub_path("x.pem");
	ck_assert_int_ne(access(p, F_OK), 0);
	ck_assert_int_eq(pki_key_export_pem(pki, "EXP", "x.pem", "secret1", &e), 0);
	ck_assert_int_eq(mode_of(p), 0600);
	txt = tu_read(p, NULL);
	ck_assert_ptr_nonnull(strstr(txt, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	free(txt);
	/* PBES2 with AES-256-CBC */
	txt = openssl_out("openssl asn1parse -in '%s'%s", p, "");
	ck_assert_msg(strstr(txt, "aes-256-cbc") != NULL, "%s", txt);
	free(txt);
	/* the right password opens it and it is our key; a wrong one does not */
	ck_assert_int_ge(asprintf(&cmd, "openssl pkey -in '%s' -passin pass:wrong-pw "
	    "-noout", p), 0);
	ck_assert_int_ne(tu_run(cmd, &out), 0);
	free(out);
	free(cmd);
	ck_assert_int_ge(asprintf(&cmd, "openssl pkey -in '%s' -passin pass:secret1 "
	    "-pubout -outform DER | openssl pkey -pubin -inform DER -text -noout", p),
	    0);
	ck_assert_int_eq(tu_run(cmd, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "ASN1 OID: prime256v1"));
	free(out);
	free(cmd);
	free(p);
}
END_TEST

static int
hook_uses(void *arg, const char *name)
{
	return pk_strcaseeq((const char *)arg, name);
}

START_TEST(destroy_and_in_use_hook)
{
	struct pk_err e;
	char *before, *after;

	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "Used", 0, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "free", 0, &e), 0);
	pki_set_key_in_use_hook(pki, hook_uses, "used");
	before = store_listing();
	ck_assert_int_eq(pki_key_destroy(pki, PKI_KEY_EC, "USED", &e), -1);
	ck_assert_str_eq(e.msg, "The key pair Used is in use by a CMP session and "
	    "cannot be destroyed.");
	/* replacing it is refused too */
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "used", 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "in use"));
	after = store_listing();
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(pki_key_exists(pki, "used"), PKI_KEY_EC);
	free(after);
	/* wrong type: refused */
	ck_assert_int_eq(pki_key_destroy(pki, PKI_KEY_RSA, "free", &e), -1);
	ck_assert_str_eq(e.msg, "The RSA key pair free does not exist.");
	ck_assert_int_eq(pki_key_destroy(pki, PKI_KEY_EC, "free", &e), 0);
	ck_assert_int_eq(pki_key_exists(pki, "free"), 0);
	ck_assert_int_eq(pki_key_destroy(pki, PKI_KEY_EC, "free", &e), -1);
	ck_assert_str_eq(e.msg, "The ECC key pair free does not exist.");
	after = store_listing();
	ck_assert_str_ne(before, after);
	free(before);
	free(after);
	pki_set_key_in_use_hook(pki, NULL, NULL);
	ck_assert_int_eq(pki_key_destroy(pki, PKI_KEY_ANY, "used", &e), 0);
	reopen();
	ck_assert_int_eq(pki_key_exists(pki, "used"), 0);
	ck_assert_int_eq(pki_key_exists(pki, "free"), 0);
	before = store_listing();
	ck_assert_ptr_null(strstr(before, "key-"));
	free(before);
}
END_TEST

START_TEST(names_case_insensitive_one_namespace)
{
	struct pk_err e;
	char **names;

	ck_assert_int_eq(pki_key_create_ec(pki, "secp384r1", "Bravo", 0, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "alpha", 0, &e), 0);
	ck_assert_int_eq(pki_key_create_rsa(pki, "BRAVO", 2048, 0, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair Bravo already exists as an ECC key "
	    "pair.");
	/* the same type replaces (the console asked first) */
	EVP_PKEY *old = pki_key_get0_pkey(pki, "bravo");
	ck_assert_ptr_nonnull(old);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "bravo", 1, &e), 0);
	ck_assert_ptr_ne(pki_key_get0_pkey(pki, "BRAVO"), NULL);
	names = pki_key_names(pki, PKI_KEY_EC);
	ck_assert_str_eq(names[0], "alpha");
	ck_assert_str_eq(names[1], "bravo");
	ck_assert_ptr_null(names[2]);
	pki_names_free(names);
	names = pki_key_names(pki, PKI_KEY_RSA);
	ck_assert_ptr_null(names[0]);
	pki_names_free(names);
	int bits;
	const char *curve;

	ck_assert_int_eq(pki_key_info(pki, "bravo", NULL, &bits, &curve, NULL, NULL), 0);
	ck_assert_int_eq(bits, 256);
	ck_assert_str_eq(curve, "prime256v1");
}
END_TEST

START_TEST(keys_persist_with_modes)
{
	struct pk_err e;
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	char **names;
	time_t t1, t2;
	int ex;

	ck_assert_int_eq(pki_key_create_rsa(pki, "R1", 2048, 1, NULL, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "secp521r1", "E1", 0, &e), 0);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_ANY, NULL, &a, &e), 0);
	ck_assert_int_eq(pki_key_info(pki, "r1", NULL, NULL, NULL, NULL, &t1), 0);
	ck_assert_int_eq(mode_of(storage_store_dir(st)), 0700);
	ck_assert_int_eq(storage_list(storage_store_dir(st), &names, &e), 0);
	int nkeys = 0;
	for (char **n = names; *n; n++) {
		char *p = storage_path(storage_store_dir(st), *n);

		ck_assert_msg(mode_of(p) == 0600, "%s", *n);
		if (strncmp(*n, "key-", 4) == 0)
			nkeys++;
		free(p);
	}
	ck_assert_int_eq(nkeys, 2);
	storage_list_free(names);

	reopen();
	ck_assert_str_eq(pki_load_warnings(pki), "");
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_ANY, NULL, &b, &e), 0);
	ck_assert_str_eq(sbuf_str(&a), sbuf_str(&b));	/* same keys, times, flags */
	ck_assert_int_eq(pki_key_info(pki, "R1", NULL, NULL, NULL, &ex, &t2), 0);
	ck_assert_int_eq(ex, 1);
	ck_assert(t1 == t2);
	ck_assert_int_eq(pki_key_exists(pki, "e1"), PKI_KEY_EC);
	sbuf_free(&a);
	sbuf_free(&b);
}
END_TEST

START_TEST(corrupt_store_file_skipped)
{
	struct pk_err e;
	char **names;
	char *victim = NULL;

	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "good", 0, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "bad", 0, &e), 0);
	ck_assert_int_eq(storage_list(storage_store_dir(st), &names, &e), 0);
	for (char **n = names; *n; n++)
		if (strcmp(*n, "key-626164.pem") == 0)	/* hex("bad") */
			victim = storage_path(storage_store_dir(st), *n);
	storage_list_free(names);
	ck_assert_ptr_nonnull(victim);
	ck_assert_int_eq(truncate(victim, 120), 0);
	reopen();
	ck_assert_int_eq(pki_key_exists(pki, "good"), PKI_KEY_EC);
	ck_assert_int_eq(pki_key_exists(pki, "bad"), 0);
	ck_assert_ptr_nonnull(strstr(pki_load_warnings(pki), "key-626164.pem"));
	free(victim);
}
END_TEST

START_TEST(replace_and_detached)
{
	struct pk_err e;
	EVP_PKEY *nk = NULL, *ek = NULL;
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;

	ck_assert_int_eq(pki_key_create_rsa(pki, "upd", 2048, 1, NULL, &e), 0);
	ck_assert_int_eq(pki_key_create_ec(pki, "secp384r1", "eupd", 0, &e), 0);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, "upd", &a, &e), 0);
	ck_assert_int_eq(pki_key_generate_detached(pki, "upd", 0, &nk, &e), 0);
	ck_assert_int_eq(EVP_PKEY_get_bits(nk), 2048);
	ck_assert_int_eq(pki_key_generate_detached(pki, "eupd", 0, &ek, &e), 0);
	ck_assert_int_eq(EVP_PKEY_get_bits(ek), 384);
	/* detached: not stored */
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "upd"), nk) != 1);
	ck_assert_int_eq(pki_key_replace(pki, "upd", ek, &e), -1);	/* wrong type */
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "upd"), nk) != 1);
	ck_assert_int_eq(pki_key_replace(pki, "UPD", nk, &e), 0);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "upd"), nk) == 1);
	reopen();
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "upd"), nk) == 1);
	ck_assert_int_eq(pki_key_display(pki, PKI_KEY_RSA, "upd", &b, &e), 0);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&b), "Key Exportable: Yes"));
	char *m1 = hex_after(sbuf_str(&a), "\nModulus:\n");
	char *m2 = hex_after(sbuf_str(&b), "\nModulus:\n");
	ck_assert_str_ne(m1, m2);
	free(m1);
	free(m2);
	EVP_PKEY_free(nk);
	EVP_PKEY_free(ek);
	sbuf_free(&a);
	sbuf_free(&b);
}
END_TEST

/* ---- certificates --------------------------------------------------- */

START_TEST(import_ca_pem_and_der)
{
	struct pk_err e;
	struct pki_cert_info info, peek;
	char *fp, *want;
	char **names;

	make_ca("ca", "/C=CN/O=Test Org/CN=Root CA");
	SH("openssl x509 -in ca.pem -outform DER -out ca.der");
	to_public("ca.pem", "ca.pem");
	to_public("ca.der", "ca.cer");
	fp = openssl_out("cd '%s' && openssl x509 -in ca.pem -noout -fingerprint "
	    "-sha256%s", gen, "");
	want = strchr(fp, '=') + 1;
	want[strcspn(want, "\n")] = '\0';

	ck_assert_int_eq(pki_cert_file_info(pki, PKI_FMT_AUTO, "ca.pem", &peek, &e), 0);
	ck_assert_str_eq(peek.fingerprint, want);
	ck_assert_str_eq(peek.subject, "C=CN, O=Test Org, CN=Root CA");
	ck_assert_int_eq(peek.self_signed, 1);
	ck_assert_ptr_nonnull(pki_ca_certs_get0(pki));
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 0);	/* peek: nothing */

	ck_assert_msg(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO, "ca.pem",
	    NULL, &info, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(info.fingerprint, want);
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, "r2", PKI_FMT_DER, "ca.cer",
	    NULL, &info, &e), 0);
	ck_assert_str_eq(info.fingerprint, want);
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO, "ca.cer",
	    "ca-copy.cer", &info, &e), 0);
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 3);
	names = pki_cert_names(pki, PKI_CERT_CA);
	ck_assert_str_eq(names[0], "ca-copy.cer");
	ck_assert_str_eq(names[1], "ca.cer");
	ck_assert_str_eq(names[2], "ca.pem");
	ck_assert_ptr_null(names[3]);
	pki_names_free(names);
	ck_assert_str_eq(pki_cert_realm(pki, PKI_CERT_CA, "ca.cer"), "r2");
	ck_assert_str_eq(pki_cert_realm(pki, PKI_CERT_CA, "ca.pem"), "default");
	/* explicit format that does not fit */
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_PEM, "ca.cer",
	    "x.cer", &info, &e), -1);
	ck_assert_str_eq(e.msg, "The file ca.cer is not a valid certificate (PEM).");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_DER, "ca.pem",
	    "x.cer", &info, &e), -1);
	ck_assert_str_eq(e.msg, "The file ca.pem is not a valid certificate (DER).");

	reopen();
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 3);
	ck_assert_str_eq(pki_cert_realm(pki, PKI_CERT_CA, "ca.cer"), "r2");
	ck_assert_ptr_nonnull(pki_cert_get0(pki, PKI_CERT_CA, "ca.pem"));
	ck_assert_ptr_null(pki_cert_get0(pki, PKI_CERT_LOCAL, "ca.pem"));
	free(fp);
}
END_TEST

/* Each bad file: a clear error and the store unchanged. */
START_TEST(bad_files_change_nothing)
{
	struct pk_err e;
	struct pki_cert_info info;
	char *before, *after, *p;
	static const struct {
		const char *file;
		const char *msg;
	} bad[] = {
		{ "trunc.pem", "The file trunc.pem is not a valid certificate (PEM or DER)." },
		{ "trunc.der", "The file trunc.der is not a valid certificate (PEM or DER)." },
		{ "trail.der", "The file trail.der is not a valid certificate (PEM or DER)." },
		{ "garbage.cer", "The file garbage.cer is not a valid certificate (PEM or DER)." },
		{ "corrupt.pem", "The file corrupt.pem is not a valid certificate (PEM or DER)." },
		{ "key.pem", "The file key.pem is not a valid certificate (PEM or DER)." },
		{ "empty.cer", "The file empty.cer is not a valid certificate (PEM or DER)." },
		{ "csr.pem", "The file csr.pem is not a valid certificate (PEM or DER)." },
		{ "missing.cer", "The file missing.cer does not exist in flash:/pki/public." },
		{ "badext.pem", "The certificate in badext.pem has invalid extensions." },
		{ "../ca.pem", NULL },
		{ "a/ca.pem", NULL },
		{ "..", NULL },
		{ "", NULL },
	};

	make_ca("ca", "/CN=Good CA");
	to_public("ca.pem", "good.pem");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "good.pem", NULL, &info, &e), 0);
	SH("openssl x509 -in ca.pem -outform DER -out ca.der");
	SH("head -c 300 ca.pem > trunc.pem");
	SH("head -c 200 ca.der > trunc.der");
	SH("cat ca.der ca.der > trail.der");
	SH("head -c 3000 /dev/urandom > garbage.cer");
	/* a PEM certificate with its body replaced by other valid base64 */
	SH("sed '2,4s/[A-Za-z]/A/g' ca.pem > corrupt.pem");
	SH(": > empty.cer");
	SH("openssl req -new -key ca.key -subj /CN=csr -out csr.pem");
	/* a well-signed certificate whose basicConstraints is malformed DER */
	SH("printf 'basicConstraints=critical,DER:30:03:01:01\\n' > bad.ext");
	SH("openssl x509 -req -in csr.pem -CA ca.pem -CAkey ca.key -set_serial 4 "
	    "-days 30 -extfile bad.ext -out badext.pem");
	to_public("badext.pem", "badext.pem");
	to_public("trunc.pem", "trunc.pem");
	to_public("trunc.der", "trunc.der");
	to_public("trail.der", "trail.der");
	to_public("garbage.cer", "garbage.cer");
	to_public("corrupt.pem", "corrupt.pem");
	to_public("ca.key", "key.pem");
	to_public("empty.cer", "empty.cer");
	to_public("csr.pem", "csr.pem");
	/* a real certificate just outside the public folder */
	p = cat(flash, "/pki/ca.pem");
	SH("cp ca.pem '%s'", p);
	free(p);

	before = store_listing();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int kind = PKI_CERT_CA; kind <= PKI_CERT_LOCAL; kind++) {
			pk_err_clear(&e);
			ck_assert_msg(pki_cert_import(pki, kind, NULL, PKI_FMT_AUTO,
			    bad[i].file, "new.cer", &info, &e) == -1, "%s", bad[i].file);
			if (bad[i].msg != NULL)
				ck_assert_str_eq(e.msg, bad[i].msg);
			else
				ck_assert_msg(strstr(e.msg, "file name") != NULL, "%s: %s",
				    bad[i].file, e.msg);
		}
		ck_assert_int_eq(pki_cert_file_info(pki, PKI_FMT_AUTO, bad[i].file,
		    &info, &e), -1);
	}
	after = store_listing();
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 1);
	ck_assert_ptr_null(pki_cert_get0(pki, PKI_CERT_CA, "new.cer"));
	/* a bad cert-name is refused too */
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "good.pem", "../evil", &info, &e), -1);
	after = (free(after), store_listing());
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

/* An EC key pair in the device, and a certificate for it issued by gen/ca. */
static void
make_local(const char *key, const char *out, const char *days)
{
	struct pk_err e;
	char *p, *exp;

	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", key, 1, &e), 0);
	ck_assert_int_ge(asprintf(&exp, "%s.exp", key), 0);
	ck_assert_int_eq(pki_key_export_pem(pki, key, exp, "secret1", &e), 0);
	p = pub_path(exp);
	SH("openssl req -new -key '%s' -passin pass:secret1 -subj /CN=%s -out %s.csr",
	    p, key, key);
	SH("openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -set_serial 7 "
	    "-days %s -out %s", key, days, out);
	free(p);
	free(exp);
}

START_TEST(local_cert_must_match_key)
{
	struct pk_err e;
	struct pki_cert_info info;
	char *before, *after;

	make_ca("ca", "/CN=Issuing CA");
	make_local("devkey", "dev.pem", "30");
	/* a certificate for a key the device does not hold */
	SH("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	    "-keyout other.key -subj /CN=other -out other.csr");
	SH("openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -set_serial 9 "
	    "-days 30 -out other.pem");
	to_public("other.pem", "other.pem");
	to_public("dev.pem", "dev.cer");
	before = store_listing();
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_LOCAL, NULL, PKI_FMT_AUTO,
	    "other.pem", NULL, &info, &e), -1);
	ck_assert_str_eq(e.msg, "The certificate does not match any key pair in the "
	    "device.");
	after = store_listing();
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	ck_assert_ptr_null(pki_local_cert_get0(pki, "other.pem"));
	/* nor is a (v1, not self-signed) leaf a CA certificate */
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "other.pem", NULL, &info, &e), -1);
	ck_assert_str_eq(e.msg, "The certificate other.pem is not a CA certificate.");

	ck_assert_msg(pki_cert_import(pki, PKI_CERT_LOCAL, "myrealm", PKI_FMT_AUTO,
	    "dev.cer", NULL, &info, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(info.key_name, "devkey");
	ck_assert_str_eq(info.subject, "CN=devkey");
	ck_assert_str_eq(info.issuer, "CN=Issuing CA");
	ck_assert_str_eq(pki_cert_key_name(pki, "dev.cer"), "devkey");
	ck_assert(EVP_PKEY_eq(X509_get0_pubkey(pki_local_cert_get0(pki, "dev.cer")),
	    pki_key_get0_pkey(pki, "devkey")) == 1);
	ck_assert_str_eq(pki_key_match_cert(pki, pki_local_cert_get0(pki, "dev.cer")),
	    "devkey");
	reopen();
	ck_assert_str_eq(pki_cert_key_name(pki, "dev.cer"), "devkey");
	ck_assert_str_eq(pki_cert_realm(pki, PKI_CERT_LOCAL, "dev.cer"), "myrealm");
}
END_TEST

START_TEST(ca_import_refuses_non_ca)
{
	struct pk_err e;
	struct pki_cert_info info;

	make_ca("ca", "/CN=Issuing CA");
	SH("printf 'basicConstraints=CA:FALSE\\n' > leaf.ext");
	SH("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	    "-keyout l.key -subj /CN=leaf -out l.csr");
	SH("openssl x509 -req -in l.csr -CA ca.pem -CAkey ca.key -set_serial 3 "
	    "-days 30 -extfile leaf.ext -out leaf.pem");
	to_public("leaf.pem", "leaf.pem");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "leaf.pem", NULL, &info, &e), -1);
	ck_assert_str_eq(e.msg, "The certificate leaf.pem is not a CA certificate.");
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 0);
}
END_TEST

START_TEST(display_and_delete)
{
	struct pk_err e;
	struct pki_cert_info info;
	struct sbuf out = SBUF_INIT;
	const char *t;
	regex_t re;

	make_ca("ca", "/C=CN/O=Test/CN=Root One");
	make_ca("ca2", "/CN=Root Two");
	to_public("ca.pem", "one.pem");
	to_public("ca2.pem", "two.pem");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "one.pem", NULL, &info, &e), 0);
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, "lab", PKI_FMT_AUTO,
	    "two.pem", NULL, &info, &e), 0);
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_CA, NULL, NULL, &out, &e), 0);
	t = sbuf_str(&out);
	ck_assert_msg(strncmp(t, "Total Number: 2\n\nCertificate:\n    Data:\n", 39) == 0,
	    "%s", t);
	/* one name and time style on every screen (util's pk_name_text and
	 * pk_asn1_time_text), in OpenSSL's dump layout */
	ck_assert_ptr_nonnull(strstr(t, "\n        Issuer: C=CN, O=Test, CN=Root One\n"
	    "        Validity\n            Not Before: "));
	ck_assert_ptr_nonnull(strstr(t, "\n        Subject: C=CN, O=Test, CN=Root One\n"
	    "        Subject Public Key Info:\n"));
	ck_assert_ptr_null(strstr(t, " = "));
	ck_assert_int_eq(regcomp(&re, "\n            Not Before: 20[0-9]{2}-[01][0-9]-"
	    "[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] UTC\n            Not After : "
	    "20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] UTC\n",
	    REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, t, 0, NULL, 0) == 0, "%s", t);
	regfree(&re);
	/* the parts around them are OpenSSL's: extensions and the signature */
	ck_assert_ptr_nonnull(strstr(t, "        X509v3 extensions:\n"));
	ck_assert_ptr_nonnull(strstr(t, "\n    Signature Algorithm: ecdsa-with-SHA256\n"
	    "    Signature Value:\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nPki realm name: default\n"
	    "Certificate file name: one.pem\nCertificate peer name: -\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nPki realm name: lab\n"
	    "Certificate file name: two.pem\nCertificate peer name: -\n"));
	ck_assert_ptr_nonnull(strstr(t, "Public Key Algorithm: id-ecPublicKey"));
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_CA, NULL, "LAB", &out, &e), 0);
	t = sbuf_str(&out);
	ck_assert(strncmp(t, "Total Number: 1\n", 16) == 0);
	ck_assert_ptr_nonnull(strstr(t, "Root Two"));
	ck_assert_ptr_null(strstr(t, "Root One"));
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_CA, "one.pem", NULL, &out, &e), 0);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&out), "Root One"));
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_CA, "nope.pem", NULL, &out, &e),
	    -1);
	ck_assert_str_eq(e.msg, "The CA certificate nope.pem does not exist in the "
	    "device.");
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_LOCAL, NULL, NULL, &out, &e), 0);
	ck_assert_str_eq(sbuf_str(&out), "Total Number: 0\n");

	/* delete */
	ck_assert_int_eq(pki_cert_delete(pki, PKI_CERT_LOCAL, "one.pem", NULL, &e), -1);
	ck_assert_str_eq(e.msg, "The local certificate one.pem does not exist in the "
	    "device.");
	ck_assert_int_eq(pki_cert_delete(pki, PKI_CERT_CA, NULL, "nosuch", &e), -1);
	ck_assert_str_eq(e.msg, "There is no CA certificate in realm nosuch.");
	ck_assert_int_eq(pki_cert_delete(pki, PKI_CERT_CA, NULL, "lab", &e), 0);
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 1);
	reopen();
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 1);
	ck_assert_int_eq(pki_cert_delete(pki, PKI_CERT_CA, "one.pem", NULL, &e), 0);
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 0);
	reopen();
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 0);
	char *l = store_listing();
	ck_assert_ptr_null(strstr(l, "cert-"));
	free(l);
	/* the source files in flash:/pki/public are left alone */
	char *p = pub_path("one.pem");
	ck_assert_int_eq(access(p, F_OK), 0);
	free(p);
	sbuf_free(&out);
}
END_TEST

static void
expect_row(const char *table, const char *file, const char *status,
    const char *reason)
{
	const char *row;

	ck_assert_msg(strncmp(table, "Certificate  ", 13) == 0, "%s", table);
	ck_assert_ptr_nonnull(strstr(table, "Subject"));
	row = strchr(table, '\n');
	ck_assert_ptr_nonnull(row);
	row++;
	ck_assert_msg(strncmp(row, file, strlen(file)) == 0, "%s", table);
	ck_assert_msg(strstr(row, status) != NULL, "want %s:\n%s", status, table);
	ck_assert_msg(strstr(row, reason) != NULL, "want %s:\n%s", reason, table);
}

START_TEST(validate_statuses)
{
	struct pk_err e;
	struct pki_cert_info info;
	struct sbuf out = SBUF_INIT;
	int valid;

	make_ca("ca", "/CN=Issuing CA");
	to_public("ca.pem", "ca.pem");
	make_local("k1", "good.pem", "30");
	SH("openssl x509 -req -in k1.csr -CA ca.pem -CAkey ca.key -set_serial 8 "
	    "-days -1 -out expired.pem");
	/* same issuer name, another key: the signature does not verify */
	SH("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	    "-keyout fake.key -out fake.pem -subj '/CN=Issuing CA' -days 30");
	SH("openssl x509 -req -in k1.csr -CA fake.pem -CAkey fake.key -set_serial 9 "
	    "-days 30 -out forged.pem");
	make_ca("other", "/CN=Other CA");
	SH("openssl x509 -req -in k1.csr -CA other.pem -CAkey other.key -set_serial 9 "
	    "-days 30 -out stranger.pem");
	to_public("good.pem", "good.pem");
	to_public("expired.pem", "expired.pem");
	to_public("forged.pem", "forged.pem");
	to_public("stranger.pem", "stranger.pem");

	/* before the CA is imported */
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "good.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "good.pem", "Invalid",
	    "The issuer's CA certificate is not imported.");
	ck_assert_int_eq(valid, 0);

	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO, "ca.pem",
	    NULL, &info, &e), 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_CA, "ca.pem", &out, &valid,
	    &e), 0);
	expect_row(sbuf_str(&out), "ca.pem", "Self-sign", "-");
	ck_assert_int_eq(valid, 1);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "good.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "good.pem", "Valid", "-");
	ck_assert_ptr_nonnull(strstr(sbuf_str(&out), "CN=k1"));
	ck_assert_int_eq(valid, 1);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "expired.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "expired.pem", "Invalid",
	    "The certificate is ineffective or expired.");
	ck_assert_int_eq(valid, 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "forged.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "forged.pem", "Invalid",
	    "The certificate signature is invalid.");
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "stranger.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "stranger.pem", "Invalid",
	    "The issuer's CA certificate is not imported.");
	/* the imported certificate is used when its file is gone */
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_LOCAL, NULL, PKI_FMT_AUTO,
	    "good.pem", NULL, &info, &e), 0);
	char *p = pub_path("good.pem");
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "good.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "good.pem", "Valid", "-");
	/* bad names and missing files are errors */
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "../ca.pem", &out,
	    &valid, &e), -1);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_CA, "none.pem", &out, &valid,
	    &e), -1);
	ck_assert_str_eq(e.msg, "The file none.pem does not exist in flash:/pki/public.");
	sbuf_free(&out);
}
END_TEST

START_TEST(multi_cert_file_takes_first)
{
	struct pk_err e;
	struct pki_cert_info info;
	char **names;

	make_ca("one", "/CN=First CA");
	make_ca("two", "/CN=Second CA");
	SH("cat one.key two.pem one.pem > bundle.pem");	/* a key block first */
	to_public("bundle.pem", "bundle.pem");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "bundle.pem", NULL, &info, &e), 0);
	ck_assert_str_eq(info.subject, "CN=Second CA");
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 1);
	/* the import left the source file alone */
	ck_assert_int_eq(storage_list(storage_public_dir(st), &names, &e), 0);
	ck_assert_str_eq(names[0], "bundle.pem");
	ck_assert_ptr_null(names[1]);
	storage_list_free(names);
}
END_TEST

START_TEST(validate_chain_with_intermediate)
{
	struct pk_err e;
	struct pki_cert_info info;
	struct sbuf out = SBUF_INIT;
	int valid;

	make_ca("root", "/CN=Root");
	SH("printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=keyCertSign,cRLSign\\n'"
	    " > ca.ext");
	SH("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	    "-keyout sub.key -subj /CN=Sub -out sub.csr");
	SH("openssl x509 -req -in sub.csr -CA root.pem -CAkey root.key -set_serial 11 "
	    "-days 30 -extfile ca.ext -out sub.pem");
	SH("openssl x509 -req -in sub.csr -CA root.pem -CAkey root.key -set_serial 12 "
	    "-days -1 -extfile ca.ext -out subold.pem");
	SH("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	    "-keyout leaf.key -subj /CN=Leaf -out leaf.csr");
	SH("openssl x509 -req -in leaf.csr -CA sub.pem -CAkey sub.key -set_serial 13 "
	    "-days 30 -out leaf.pem");
	to_public("root.pem", "root.pem");
	to_public("sub.pem", "sub.pem");
	to_public("subold.pem", "subold.pem");
	to_public("leaf.pem", "leaf.pem");

	/* only the intermediate imported: it anchors the chain */
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "sub.pem", NULL, &info, &e), 0);
	ck_assert_int_eq(info.self_signed, 0);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "leaf.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "leaf.pem", "Valid", "-");
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "root.pem", NULL, &info, &e), 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_CA, "sub.pem", &out, &valid,
	    &e), 0);
	expect_row(sbuf_str(&out), "sub.pem", "Valid", "-");
	/* an expired intermediate breaks the leaf's chain */
	ck_assert_int_eq(pki_cert_delete(pki, PKI_CERT_CA, "sub.pem", NULL, &e), 0);
	ck_assert_int_eq(pki_cert_import(pki, PKI_CERT_CA, NULL, PKI_FMT_AUTO,
	    "subold.pem", NULL, &info, &e), 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pki_cert_validate(pki, PKI_CERT_LOCAL, "leaf.pem", &out,
	    &valid, &e), 0);
	expect_row(sbuf_str(&out), "leaf.pem", "Invalid",
	    "A CA certificate of the chain is ineffective or expired.");
	ck_assert_int_eq(valid, 0);
	sbuf_free(&out);
}
END_TEST

START_TEST(public_read_refuses_escapes)
{
	struct pk_err e;
	unsigned char *d;
	size_t n;
	char *p = cat(flash, "/pki/secret");

	ck_assert_int_eq(tu_write(p, "x", 1), 0);
	ck_assert_int_eq(pki_public_read(pki, "../secret", &d, &n, &e), -1);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(e.msg, ".."));
	ck_assert_int_eq(pki_public_read(pki, "/etc/passwd", &d, &n, &e), -1);
	ck_assert_int_eq(pki_public_read(pki, ".store", &d, &n, &e), -1);
	free(p);
	p = pub_path("hello.txt");
	ck_assert_int_eq(tu_write(p, "hello", 5), 0);
	ck_assert_int_eq(pki_public_read(pki, "hello.txt", &d, &n, &e), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq((char *)d, "hello");
	free(d);
	free(p);
}
END_TEST

/* ---- entities ------------------------------------------------------- */

START_TEST(entity_subject_order_and_san)
{
	struct pk_err e;
	struct pki_entity ent = {
		.name = "e1", .common_name = "router.example.com", .country = "CN",
		.state = "Guangdong", .locality = "Shenzhen", .organization = "Example",
		.org_unit = "Net", .fqdn = "router.example.com",
		.ip_address = "2001:db8::1", .email = "noc@example.com",
	};
	const int order[] = { NID_countryName, NID_stateOrProvinceName,
	    NID_localityName, NID_organizationName, NID_organizationalUnitName,
	    NID_commonName };
	X509_NAME *n;
	GENERAL_NAMES *g;
	char buf[256];

	ck_assert_int_eq(pki_entity_subject(&ent, &n, &e), 0);
	ck_assert_int_eq(X509_NAME_entry_count(n), 6);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(n, i))), order[i]);
	X509_NAME_oneline(n, buf, sizeof(buf));
	ck_assert_str_eq(buf, "/C=CN/ST=Guangdong/L=Shenzhen/O=Example/OU=Net/"
	    "CN=router.example.com");
	X509_NAME_free(n);

	ck_assert_int_eq(pki_entity_san(&ent, &g, &e), 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(g), 3);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 0)->type, GEN_DNS);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 1)->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(g, 1)->d.iPAddress),
	    16);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 2)->type, GEN_EMAIL);
	GENERAL_NAMES_free(g);

	ent.ip_address = "192.0.2.7";
	ent.fqdn = NULL;
	ent.email = "";
	ck_assert_int_eq(pki_entity_san(&ent, &g, &e), 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(g), 1);
	ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(g, 0)->d.iPAddress),
	    4);
	GENERAL_NAMES_free(g);

	/* only some fields, and none of the SAN ones */
	struct pki_entity small = { .name = "e2", .common_name = "cn2",
	    .organization = "O2" };
	ck_assert_int_eq(pki_entity_san(&small, &g, &e), 0);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(pki_entity_subject(&small, &n, &e), 0);
	X509_NAME_oneline(n, buf, sizeof(buf));
	ck_assert_str_eq(buf, "/O=O2/CN=cn2");
	X509_NAME_free(n);
	/* values the console should have refused are refused here too */
	struct pki_entity bad = { .name = "e3", .common_name = "x", .fqdn = "a..b" };
	ck_assert_int_eq(pki_entity_san(&bad, &g, &e), -1);
	ck_assert_ptr_null(g);
	bad.fqdn = NULL;
	bad.ip_address = "1.2.3";
	ck_assert_int_eq(pki_entity_san(&bad, &g, &e), -1);
	ck_assert_str_eq(e.msg, "The IP address 1.2.3 is not a valid IPv4 or IPv6 "
	    "address.");
	bad.country = "CHN";
	ck_assert_int_eq(pki_entity_subject(&bad, &n, &e), -1);
	small.common_name = NULL;
	ck_assert_int_eq(pki_entity_subject(&small, &n, &e), -1);
	ck_assert_ptr_null(n);
	ck_assert_str_eq(e.msg, "The entity e2 has no common name configured.");
}
END_TEST

START_TEST(entity_value_checks)
{
	struct pk_err e;

	ck_assert(pki_entity_country_ok("CN", &e));
	ck_assert(pki_entity_country_ok("de", &e));
	ck_assert(!pki_entity_country_ok("C", &e));
	ck_assert(!pki_entity_country_ok("CHN", &e));
	ck_assert(!pki_entity_country_ok("C1", &e));
	ck_assert_str_eq(e.msg, "The country code must be exactly 2 letters "
	    "(ISO 3166).");
	ck_assert(pki_entity_ip_ok("10.1.2.3", &e));
	ck_assert(pki_entity_ip_ok("::1", &e));
	ck_assert(pki_entity_ip_ok("2001:db8:0:1::5", &e));
	ck_assert(!pki_entity_ip_ok("300.1.1.1", &e));
	ck_assert(!pki_entity_ip_ok("10.1.2", &e));
	ck_assert(!pki_entity_ip_ok("2001:db8::1::2", &e));
	ck_assert(!pki_entity_ip_ok("host", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_STATE, "12345678901234567890123456789012",
	    &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_STATE,
	    "123456789012345678901234567890123", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_ORG_UNIT,
	    "12345678901234567890123456789012", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_COMMON_NAME, "", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_FQDN, "a.example.com", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_FQDN, "a..example.com", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_FQDN, "a b.com", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_EMAIL, "a@b.c", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_EMAIL, "ab.c", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_NAME, "has space", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_NAME, "E1", &e));
}
END_TEST

START_TEST(entity_display_format)
{
	struct sbuf out = SBUF_INIT;
	struct pki_entity ents[2] = {
		{ .name = "e1", .common_name = "dev1", .country = "CN",
		  .ip_address = "10.0.0.1" },
		{ .name = "e2" },
	};

	pki_entity_display(ents, 2, &out);
	ck_assert_str_eq(sbuf_str(&out),
	    "Entity Name      : e1\n"
	    "Common Name      : dev1\n"
	    "Country          : CN\n"
	    "State            : -\n"
	    "Locality         : -\n"
	    "Organization     : -\n"
	    "Organization Unit: -\n"
	    "FQDN             : -\n"
	    "IP Address       : 10.0.0.1\n"
	    "Email            : -\n"
	    "\n"
	    "Entity Name      : e2\n"
	    "Common Name      : -\n"
	    "Country          : -\n"
	    "State            : -\n"
	    "Locality         : -\n"
	    "Organization     : -\n"
	    "Organization Unit: -\n"
	    "FQDN             : -\n"
	    "IP Address       : -\n"
	    "Email            : -\n"
	    "\n"
	    " Total Number: 2\n");
	sbuf_reset(&out);
	pki_entity_display(NULL, 0, &out);
	ck_assert_str_eq(sbuf_str(&out), " Total Number: 0\n");
	sbuf_free(&out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pki");
	TCase *keys = tcase_create("keys");
	TCase *certs = tcase_create("certs");
	TCase *ents = tcase_create("entities");

	tcase_add_checked_fixture(keys, setup, teardown);
	tcase_set_timeout(keys, 300);
	tcase_add_test(keys, rsa_display_matches_openssl);
	tcase_add_test(keys, rsa_bits_rules);
	tcase_add_test(keys, rsa_default_3072);
	tcase_add_test(keys, key_names_rules);
	tcase_add_test(keys, ec_display_matches_openssl);
	tcase_add_test(keys, export_rules);
	tcase_add_test(keys, destroy_and_in_use_hook);
	tcase_add_test(keys, names_case_insensitive_one_namespace);
	tcase_add_test(keys, keys_persist_with_modes);
	tcase_add_test(keys, corrupt_store_file_skipped);
	tcase_add_test(keys, replace_and_detached);
	suite_add_tcase(s, keys);

	tcase_add_checked_fixture(certs, setup, teardown);
	tcase_set_timeout(certs, 300);
	tcase_add_test(certs, import_ca_pem_and_der);
	tcase_add_test(certs, bad_files_change_nothing);
	tcase_add_test(certs, local_cert_must_match_key);
	tcase_add_test(certs, ca_import_refuses_non_ca);
	tcase_add_test(certs, display_and_delete);
	tcase_add_test(certs, validate_statuses);
	tcase_add_test(certs, public_read_refuses_escapes);
	tcase_add_test(certs, multi_cert_file_takes_first);
	tcase_add_test(certs, validate_chain_with_intermediate);
	suite_add_tcase(s, certs);

	tcase_add_checked_fixture(ents, setup, teardown);
	tcase_add_test(ents, entity_subject_order_and_san);
	tcase_add_test(ents, entity_value_checks);
	tcase_add_test(ents, entity_display_format);
	suite_add_tcase(s, ents);

	return tu_run_suite(s);
}
