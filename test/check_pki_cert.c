/*
 * Check suite for pki/ certificates: import PEM/DER, hostile files changing
 * nothing, local certificates matching a key pair, CA checks, display, delete,
 * validate. Certificates are made at test time by the `openssl` program.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "check_pki.h"

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
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, key, PKI_KEYFMT_PEM, exp,
	    "secret1", 0, &e), 0);
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

int
main(void)
{
	Suite *s = suite_create("pki_cert");
	TCase *certs = tcase_create("certs");

	tcase_add_checked_fixture(certs, setup, teardown);
	tcase_set_timeout(certs, 300);
	tcase_add_test(certs, import_ca_pem_and_der);
	tcase_add_test(certs, bad_files_change_nothing);
	tcase_add_test(certs, local_cert_must_match_key);
	tcase_add_test(certs, ca_import_refuses_non_ca);
	tcase_add_test(certs, display_and_delete);
	tcase_add_test(certs, validate_statuses);
	tcase_add_test(certs, multi_cert_file_takes_first);
	tcase_add_test(certs, validate_chain_with_intermediate);
	suite_add_tcase(s, certs);

	return tu_run_suite(s);
}
