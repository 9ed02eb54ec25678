/*
 * Check suite for pki/ key pairs and the store: create, display vs `openssl pkey
 * -text`, PEM export, destroy, the in-use hook, persistence and modes, corrupt
 * store files, automatic-update keys (detached, replace), reads of
 * flash:/pki/public. Keys are checked against the `openssl` program.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check_pki.h"

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
	ck_assert_msg(pki_key_export(pki, PKI_KEY_RSA, "key1", PKI_KEYFMT_PEM, "k1.pem",
	    "secret1", 0, &e) == 0, "%s", e.msg);
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
		ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, name, PKI_KEYFMT_PEM, file,
		    "pass-word", 0, &e), 0);
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
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "noexp", PKI_KEYFMT_PEM, "x.pem",
	    "secret1", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair noexp is not exportable.");
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "nokey", PKI_KEYFMT_PEM, "x.pem",
	    "secret1", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair nokey does not exist.");
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "exp", PKI_KEYFMT_PEM, "x.pem",
	    "short", 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "6 to 32"));
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "exp", PKI_KEYFMT_PEM, "x.pem",
	    "123456789012345678901234567890123", 0, &e), -1);
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "exp", PKI_KEYFMT_PEM,
	    "../x.pem", "secret1", 0, &e), -1);
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_ANY, "exp", PKI_KEYFMT_PEM,
	    "a/x.pem", "secret1", 0, &e), -1);
	/* the type of the command: an ECC key pair is no RSA key pair */
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_RSA, "exp", PKI_KEYFMT_PEM, "x.pem",
	    "secret1", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The RSA key pair exp does not exist.");
	p = pub_path("x.pem");
	ck_assert_int_ne(access(p, F_OK), 0);
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "EXP", PKI_KEYFMT_PEM, "x.pem",
	    "secret1", 0, &e), 0);
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

/* ---- the store ------------------------------------------------------ */

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

int
main(void)
{
	Suite *s = suite_create("pki");
	TCase *keys = tcase_create("keys");
	TCase *store = tcase_create("store");

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

	tcase_add_checked_fixture(store, setup, teardown);
	tcase_add_test(store, public_read_refuses_escapes);
	suite_add_tcase(s, store);

	return tu_run_suite(s);
}
