/*
 * Check suite for pki/ key pairs in and out of files: pki_key_import() of PEM
 * (PKCS#8 and traditional, plain and encrypted) and PKCS#12 (with and without a
 * certificate, with and without a password), RSA and EC; every refusal leaves
 * the store and the key list as they were; a certificate that cannot be stored
 * rolls the key back; pki_key_export() as PEM and PKCS#12, checked by the
 * `openssl` program and imported back. The key files are made once per run by
 * the `openssl` program (files_setup).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check_pki.h"

/* The key files, made once (an unchecked fixture) and copied into each test's
 * flash:/pki/public. PEM passwords are "pem-pass", PKCS#12 ones "p12-pass". */
static char *files;

static const char files_sh[] =
    "set -e\n"
    "rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$1 -out $2; }\n"
    "ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$1 -out $2; }\n"
    /* RSA: PKCS#8 plain, PKCS#8 encrypted, traditional plain and encrypted */
    "rsa 2048 rsa2048.pem\n"
    "rsa 3072 rsa3072.pem\n"
    "openssl pkey -in rsa3072.pem -aes256 -passout pass:pem-pass "
    "    -out rsa3072.p8e.pem\n"
    "openssl rsa -in rsa2048.pem -traditional -out rsa2048.trad.pem\n"
    "openssl rsa -in rsa2048.pem -traditional -aes128 -passout pass:pem-pass "
    "    -out rsa2048.trade.pem\n"
    "rsa 1024 rsa1024.pem\n"
    "openssl pkey -in rsa2048.pem -pubout -out rsa.pub.pem\n"
    /* EC: "EC PARAMETERS" + traditional, traditional encrypted, PKCS#8 */
    "openssl ecparam -name secp384r1 -genkey -out ec384.pem\n"
    "ec P-256 ec256.pem\n"
    "openssl ec -in ec256.pem -aes256 -passout pass:pem-pass -out ec256.trade.pem\n"
    "ec P-521 ec521.pem\n"
    "openssl pkey -in ec521.pem -aes256 -passout pass:pem-pass -out ec521.p8e.pem\n"
    "openssl ecparam -name secp256k1 -genkey -noout -out k1.pem\n"
    /* ECPrivateKey (RFC 5915) of ec256 whose publicKey field (the last 65
     * bytes) is another key's point */
    "ec P-256 other.pem\n"
    "openssl ec -in ec256.pem -outform DER -out ec256.der\n"
    "openssl ec -in other.pem -pubout -outform DER -out other.pub.der\n"
    "{ head -c -65 ec256.der; tail -c 65 other.pub.der; } > mixed.der\n"
    "{ echo '-----BEGIN EC PRIVATE KEY-----'; openssl base64 -in mixed.der;\n"
    "  echo '-----END EC PRIVATE KEY-----'; } > ec.mixed.pem\n"
    "openssl genpkey -algorithm ED25519 -out ed.pem\n"
    /* a plain PKCS#8 key with lines of its body missing */
    "sed '5,9d' rsa2048.pem > rsa.cut.pem\n"
    /* a CA and end-entity certificates for rsa2048 and ec256 */
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
    "    -keyout ca.key -out ca.pem -subj '/CN=Test CA' -days 30\n"
    "openssl x509 -in ca.pem -outform DER -out ca.der\n"
    "printf 'basicConstraints=CA:FALSE\\n' > leaf.ext\n"
    "for k in rsa2048 ec256; do\n"
    "  openssl req -new -key $k.pem -subj /O=Test/CN=$k -out $k.csr\n"
    "  openssl x509 -req -in $k.csr -CA ca.pem -CAkey ca.key -set_serial 7 "
    "      -days 30 -extfile leaf.ext -out $k.crt\n"
    "done\n"
    /* PKCS#12: key + certificate + CA chain; key + certificate; key only;
     * without a password; a key with another key's certificate; truncated */
    "openssl pkcs12 -export -inkey rsa2048.pem -in rsa2048.crt -certfile ca.pem "
    "    -passout pass:p12-pass -out rsa.p12\n"
    "openssl pkcs12 -export -inkey ec256.pem -in ec256.crt -passout pass:p12-pass "
    "    -out ec.p12\n"
    "openssl pkcs12 -export -inkey ec521.pem -nocerts -passout pass:p12-pass "
    "    -out ec-nocert.p12\n"
    "openssl pkcs12 -export -inkey rsa2048.pem -nocerts -passout pass: "
    "    -out rsa-nopass.p12\n"
    "openssl pkcs12 -export -inkey ec521.pem -nocerts -certfile ec256.crt "
    "    -passout pass:p12-pass -out mismatch.p12\n"
    "head -c 600 rsa.p12 > cut.p12\n";

static void
files_setup(void)
{
	char *cmd, *out = NULL;
	int rc;

	files = tu_tmpdir();
	ck_assert_ptr_nonnull(files);
	ck_assert_int_ge(asprintf(&cmd, "cd '%s' && %s", files, files_sh), 0);
	rc = tu_run(cmd, &out);
	ck_assert_msg(rc == 0, "making the key files failed: %s", out);
	free(out);
	free(cmd);
}

static void
files_teardown(void)
{
	tu_rmrf(files);
	free(files);
	files = NULL;
}

/* Copies the made file NAME into flash:/pki/public under the same name. */
static void
put(const char *name)
{
	char *d = pub_path(name);

	SH("cp '%s/%s' '%s'", files, name, d);
	free(d);
}

/* The key in the made file NAME (PASSWORD for an encrypted one). */
static EVP_PKEY *
file_key(const char *name, const char *password)
{
	char *p;
	FILE *f;
	EVP_PKEY *k;

	ck_assert_int_ge(asprintf(&p, "%s/%s", files, name), 0);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, (void *)password);
	ck_assert_ptr_nonnull(k);
	fclose(f);
	free(p);
	return k;
}

/* Everything an import could change: the store files and their contents, and
 * the key pairs and certificates in memory with their public keys. */
static char *
snapshot(void)
{
	struct pk_err e;
	struct sbuf b = SBUF_INIT;
	char **names;

	ck_assert_int_eq(storage_list(storage_store_dir(st), &names, &e), 0);
	for (char **n = names; *n; n++) {
		char *p = storage_path(storage_store_dir(st), *n);
		char *data = tu_read(p, NULL);

		ck_assert_ptr_nonnull(data);
		sbuf_printf(&b, "== %s\n%s", *n, data);
		free(data);
		free(p);
	}
	storage_list_free(names);
	names = pki_key_names(pki, PKI_KEY_ANY);
	for (char **n = names; *n; n++) {
		EVP_PKEY *k = pki_key_get0_pkey(pki, *n);
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(k, &der);
		char *hex = pk_hex(der, (size_t)len, 0);

		sbuf_printf(&b, "key %s %s\n", *n, hex);
		free(hex);
		OPENSSL_free(der);
	}
	pki_names_free(names);
	for (int kind = PKI_CERT_CA; kind <= PKI_CERT_LOCAL; kind++) {
		names = pki_cert_names(pki, kind);
		for (char **n = names; *n; n++)
			sbuf_printf(&b, "cert %d %s\n", kind, *n);
		pki_names_free(names);
	}
	sbuf_puts(&b, "");
	return sbuf_take(&b);
}

/* The store file of key pair NAME (lower-case ASCII names only here). */
static char *
key_store_path(const char *name)
{
	char *hex = pk_hex((const unsigned char *)name, strlen(name), 0);
	char *base, *p;

	ck_assert_int_ge(asprintf(&base, "key-%s.pem", hex), 0);
	p = storage_path(storage_store_dir(st), base);
	free(base);
	free(hex);
	return p;
}

/* ---- imports that work ---------------------------------------------- */

START_TEST(import_pem_forms)
{
	static const struct {
		const char *file;	/* in flash:/pki/public */
		const char *plain;	/* the same key, unencrypted */
		const char *password;
		enum pki_key_type type;
		int bits;
		const char *curve;
		int weak;
	} cases[] = {
		{ "rsa2048.pem", "rsa2048.pem", NULL, PKI_KEY_RSA, 2048, NULL, 1 },
		{ "rsa3072.p8e.pem", "rsa3072.pem", "pem-pass", PKI_KEY_RSA, 3072,
		  NULL, 0 },
		{ "rsa2048.trad.pem", "rsa2048.pem", NULL, PKI_KEY_RSA, 2048, NULL, 1 },
		{ "rsa2048.trade.pem", "rsa2048.pem", "pem-pass", PKI_KEY_RSA, 2048,
		  NULL, 1 },
		{ "ec384.pem", "ec384.pem", NULL, PKI_KEY_EC, 384, "secp384r1", 0 },
		{ "ec256.trade.pem", "ec256.pem", "pem-pass", PKI_KEY_EC, 256,
		  "prime256v1", 0 },
		{ "ec521.p8e.pem", "ec521.pem", "pem-pass", PKI_KEY_EC, 521,
		  "secp521r1", 0 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct pki_key_import_result r;
	struct pk_err e;

	for (size_t i = 0; i < n; i++) {
		char name[16], *src, *kp, *before, *after;
		EVP_PKEY *want = file_key(cases[i].plain, NULL);

		snprintf(name, sizeof(name), "k%zu", i);
		put(cases[i].file);
		src = pub_path(cases[i].file);
		before = tu_read(src, NULL);
		ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PEM,
		    cases[i].file, &e), cases[i].password != NULL);
		pk_err_clear(&e);
		ck_assert_msg(pki_key_import(pki, cases[i].type, name, PKI_KEYFMT_PEM,
		    cases[i].file, cases[i].password, i % 2 ? PKI_IMPORT_EXPORTABLE : 0,
		    &r, &e) == 0, "%s: %s", cases[i].file, e.msg);
		ck_assert_int_eq(r.type, cases[i].type);
		ck_assert_int_eq(r.bits, cases[i].bits);
		if (cases[i].curve != NULL)
			ck_assert_str_eq(r.curve, cases[i].curve);
		else
			ck_assert_ptr_null(r.curve);
		ck_assert_int_eq(r.weak, cases[i].weak);
		ck_assert_int_eq(r.replaced, 0);
		ck_assert_int_eq(r.cert_imported, 0);
		/* the key of the file, stored like a created key: 0600 */
		ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, name), want) == 1);
		ck_assert_int_eq(pki_key_exists(pki, name), cases[i].type);
		kp = key_store_path(name);
		ck_assert_int_eq(mode_of(kp), 0600);
		/* the source file stays, unchanged */
		after = tu_read(src, NULL);
		ck_assert_ptr_nonnull(after);
		ck_assert_str_eq(before, after);
		free(before);
		free(after);
		free(kp);
		free(src);
		EVP_PKEY_free(want);
	}
	/* after a restart: the same keys, flags and no load warning */
	reopen();
	ck_assert_str_eq(pki_load_warnings(pki), "");
	for (size_t i = 0; i < n; i++) {
		char name[16];
		int ex = -1;
		EVP_PKEY *want = file_key(cases[i].plain, NULL);

		snprintf(name, sizeof(name), "k%zu", i);
		ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, name), want) == 1);
		ck_assert_int_eq(pki_key_info(pki, name, NULL, NULL, NULL, &ex, NULL),
		    0);
		ck_assert_int_eq(ex, (int)(i % 2));
		EVP_PKEY_free(want);
	}
}
END_TEST

START_TEST(import_pkcs12_forms)
{
	struct pki_key_import_result r;
	struct pk_err e;
	struct sbuf out = SBUF_INIT;
	EVP_PKEY *want;
	X509 *x;

	put("rsa.p12");
	put("ec.p12");
	put("ec-nocert.p12");
	put("rsa-nopass.p12");
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PKCS12, "rsa.p12",
	    &e), 1);
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PKCS12,
	    "rsa-nopass.p12", &e), 0);

	/* key, its certificate and a CA chain: the key and its certificate */
	ck_assert_msg(pki_key_import(pki, PKI_KEY_RSA, "Dev", PKI_KEYFMT_PKCS12,
	    "rsa.p12", "p12-pass", PKI_IMPORT_EXPORTABLE, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(r.type, PKI_KEY_RSA);
	ck_assert_int_eq(r.bits, 2048);
	ck_assert_int_eq(r.weak, 1);
	ck_assert_int_eq(r.cert_imported, 1);
	ck_assert_str_eq(r.cert_name, "rsa.p12");
	ck_assert_str_eq(r.cert.subject, "O=Test, CN=rsa2048");
	ck_assert_str_eq(r.cert.issuer, "CN=Test CA");
	ck_assert_str_eq(r.cert.key_name, "Dev");
	want = file_key("rsa2048.pem", NULL);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "dev"), want) == 1);
	EVP_PKEY_free(want);
	x = pki_local_cert_get0(pki, "rsa.p12");
	ck_assert_ptr_nonnull(x);
	ck_assert(EVP_PKEY_eq(X509_get0_pubkey(x), pki_key_get0_pkey(pki, "dev")) == 1);
	ck_assert_str_eq(pki_cert_key_name(pki, "rsa.p12"), "Dev");
	ck_assert_str_eq(pki_cert_realm(pki, PKI_CERT_LOCAL, "rsa.p12"), "default");
	/* the CA certificate of the chain is not trusted by an import */
	ck_assert_int_eq(sk_X509_num(pki_ca_certs_get0(pki)), 0);
	ck_assert_int_eq(pki_cert_display(pki, PKI_CERT_LOCAL, "rsa.p12", NULL, &out,
	    &e), 0);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&out), "Subject: O=Test, CN=rsa2048\n"));
	sbuf_free(&out);

	/* exclude-cert: the key only */
	ck_assert_msg(pki_key_import(pki, PKI_KEY_EC, "e1", PKI_KEYFMT_PKCS12, "ec.p12",
	    "p12-pass", PKI_IMPORT_EXCLUDE_CERT, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(r.cert_imported, 0);
	ck_assert_str_eq(r.curve, "prime256v1");
	ck_assert_int_eq(r.weak, 0);
	ck_assert_ptr_null(pki_local_cert_get0(pki, "ec.p12"));
	/* no certificate in the file */
	ck_assert_msg(pki_key_import(pki, PKI_KEY_EC, "e2", PKI_KEYFMT_PKCS12,
	    "ec-nocert.p12", "p12-pass", 0, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(r.cert_imported, 0);
	ck_assert_int_eq(r.bits, 521);
	/* no password */
	ck_assert_msg(pki_key_import(pki, PKI_KEY_RSA, "r2", PKI_KEYFMT_PKCS12,
	    "rsa-nopass.p12", NULL, 0, &r, &e) == 0, "%s", e.msg);
	want = file_key("rsa2048.pem", NULL);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "r2"), want) == 1);
	EVP_PKEY_free(want);

	/* all of it persists: key pairs, and the certificate with its key pair */
	reopen();
	ck_assert_str_eq(pki_load_warnings(pki), "");
	ck_assert_str_eq(pki_cert_key_name(pki, "rsa.p12"), "Dev");
	ck_assert_int_eq(pki_key_exists(pki, "e1"), PKI_KEY_EC);
	ck_assert_int_eq(pki_key_exists(pki, "e2"), PKI_KEY_EC);
	ck_assert_int_eq(pki_key_exists(pki, "r2"), PKI_KEY_RSA);
	for (const char *const *f = (const char *const[]){ "rsa.p12", "ec.p12",
	    "ec-nocert.p12", "rsa-nopass.p12", NULL }; *f; f++)
		ck_assert_int_eq(pki_public_exists(pki, *f), 1);
}
END_TEST

/* ---- refusals ------------------------------------------------------- */

START_TEST(refusals_change_nothing)
{
	static const struct {
		enum pki_key_type type;
		enum pki_key_format fmt;
		const char *file;
		const char *password;
		const char *msg;	/* NULL: only that it fails */
	} bad[] = {
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa3072.p8e.pem", "wrong-pass",
		  "Failed to read the file rsa3072.p8e.pem: wrong password or corrupt "
		  "file." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa2048.trade.pem", "wrong-pass",
		  "Failed to read the file rsa2048.trade.pem: wrong password or "
		  "corrupt file." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "ec521.p8e.pem", "pem-pas",
		  "Failed to read the file ec521.p8e.pem: wrong password or corrupt "
		  "file." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PKCS12, "rsa.p12", "wrong-pass",
		  "Failed to read the file rsa.p12: wrong password or corrupt file." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa3072.p8e.pem", NULL,
		  "The key pair in rsa3072.p8e.pem is encrypted: a password is "
		  "required." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PKCS12, "rsa.p12", NULL,
		  "The file rsa.p12 is protected by a password: a password is "
		  "required." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "ca.pem", NULL,
		  "The file ca.pem holds a certificate, not a key pair." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "ca.der", NULL,
		  "The file ca.der holds a certificate, not a key pair." },
		{ PKI_KEY_EC, PKI_KEYFMT_PKCS12, "ca.der", "p12-pass",
		  "The file ca.der holds a certificate, not a key pair." },
		{ PKI_KEY_EC, PKI_KEYFMT_PKCS12, "ca.pem", "p12-pass",
		  "The file ca.pem holds a certificate, not a key pair." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa.pub.pem", NULL,
		  "The file rsa.pub.pem holds a public key only, not a key pair." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa1024.pem", NULL,
		  "The RSA key pair in rsa1024.pem has 1024 bits; 2048 to 4096 bits "
		  "are supported." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "k1.pem", NULL,
		  "The ECC key pair in k1.pem uses the curve secp256k1; supported "
		  "curves: prime256v1, secp384r1, secp521r1." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "rsa2048.pem", NULL,
		  "The file rsa2048.pem holds an RSA key pair, not an ECC key pair." },
		{ PKI_KEY_EC, PKI_KEYFMT_PKCS12, "rsa.p12", "p12-pass",
		  "The file rsa.p12 holds an RSA key pair, not an ECC key pair." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "ec384.pem", NULL,
		  "The file ec384.pem holds an ECC key pair, not an RSA key pair." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "ec.mixed.pem", NULL,
		  "The key pair in ec.mixed.pem is inconsistent: its private and "
		  "public keys do not belong together." },
		{ PKI_KEY_EC, PKI_KEYFMT_PEM, "ed.pem", NULL,
		  "The file ed.pem holds a key pair of type ED25519; only RSA and ECC "
		  "key pairs are supported." },
		{ PKI_KEY_EC, PKI_KEYFMT_PKCS12, "mismatch.p12", "p12-pass",
		  "The certificate in mismatch.p12 does not match its key pair." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa.p12", "p12-pass",
		  "The file rsa.p12 is in PKCS#12 format, not PEM." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PKCS12, "rsa2048.pem", NULL,
		  "The file rsa2048.pem is in PEM format, not PKCS#12." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PKCS12, "cut.p12", "p12-pass",
		  "The file cut.p12 holds no key pair in PKCS#12 format." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa.cut.pem", NULL,
		  "The file rsa.cut.pem is corrupt: its private key cannot be read." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "missing.pem", NULL,
		  "The file missing.pem does not exist in flash:/pki/public." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "../rsa2048.pem", NULL, NULL },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "a/rsa2048.pem", NULL, NULL },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa2048.pem", "",
		  "The password must be 1 to 32 characters." },
		{ PKI_KEY_RSA, PKI_KEYFMT_PEM, "rsa2048.pem",
		  "123456789012345678901234567890123",
		  "The password must be 1 to 32 characters." },
		{ PKI_KEY_ANY, PKI_KEYFMT_PEM, "rsa2048.pem", NULL,
		  "Unknown key pair type." },
	};
	static const char *const made[] = { "rsa3072.p8e.pem", "rsa2048.trade.pem",
	    "ec521.p8e.pem", "rsa.p12", "ca.pem", "ca.der", "rsa.pub.pem",
	    "rsa1024.pem", "k1.pem", "rsa2048.pem", "ec384.pem", "ed.pem",
	    "mismatch.p12", "cut.p12", "rsa.cut.pem", "ec.mixed.pem" };
	struct pki_key_import_result r;
	struct pk_err e;
	char *before, *after, *outside;

	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		put(made[i]);
	/* a real key just outside the public folder */
	outside = cat(flash, "/pki/rsa2048.pem");
	SH("cp '%s/rsa2048.pem' '%s'", files, outside);
	free(outside);
	/* a store that is not empty: a key pair and a certificate */
	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "keep", 0, &e), 0);
	put("ec.p12");
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_EC, "keep2", PKI_KEYFMT_PKCS12,
	    "ec.p12", "p12-pass", 0, &r, &e), 0);

	before = snapshot();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* both under a new name and over an existing one */
		for (int over = 0; over < 2; over++) {
			const char *name = over ? "keep" : "new";
			unsigned fl = (over ? PKI_IMPORT_REPLACE : 0) |
			    PKI_IMPORT_EXPORTABLE;

			if (over && bad[i].type != PKI_KEY_EC)
				continue;	/* the type check comes first */
			pk_err_clear(&e);
			ck_assert_msg(pki_key_import(pki, bad[i].type, name, bad[i].fmt,
			    bad[i].file, bad[i].password, fl, &r, &e) == -1, "%s",
			    bad[i].file);
			if (bad[i].msg != NULL)
				ck_assert_str_eq(e.msg, bad[i].msg);
			else
				ck_assert_msg(strstr(e.msg, "file name") != NULL, "%s: %s",
				    bad[i].file, e.msg);
			/* no password in any message */
			if (bad[i].password != NULL && bad[i].password[0] != '\0')
				ck_assert_ptr_null(strstr(e.msg, bad[i].password));
			after = snapshot();
			ck_assert_str_eq(before, after);
			free(after);
		}
		ck_assert_int_eq(pki_key_exists(pki, "new"), 0);
	}
	/* needs_password refuses what import refuses for the same reason */
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PEM, "ca.pem", &e),
	    -1);
	ck_assert_str_eq(e.msg, "The file ca.pem holds a certificate, not a key pair.");
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PKCS12,
	    "../rsa.p12", &e), -1);
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PKCS12,
	    "none.p12", &e), -1);
	ck_assert_str_eq(e.msg, "The file none.p12 does not exist in "
	    "flash:/pki/public.");
	/* and a restart finds what was there before */
	reopen();
	ck_assert_str_eq(pki_load_warnings(pki), "");
	after = snapshot();
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
}
END_TEST

static int
hook_uses(void *arg, const char *name)
{
	return pk_strcaseeq((const char *)arg, name);
}

START_TEST(replace_rules)
{
	struct pki_key_import_result r;
	struct pk_err e;
	char *before, *after;
	EVP_PKEY *want = file_key("ec256.pem", NULL);

	put("ec256.pem");
	put("rsa2048.pem");
	ck_assert_int_eq(pki_key_create_ec(pki, "secp384r1", "K", 0, &e), 0);
	before = snapshot();
	/* an existing name: only when the caller says so */
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_EC, "k", PKI_KEYFMT_PEM,
	    "ec256.pem", NULL, 0, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair K already exists.");
	/* never as the other type */
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_RSA, "k", PKI_KEYFMT_PEM,
	    "rsa2048.pem", NULL, PKI_IMPORT_REPLACE, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair K already exists as an ECC key pair.");
	/* never while a CMP session uses it */
	pki_set_key_in_use_hook(pki, hook_uses, "k");
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_EC, "k", PKI_KEYFMT_PEM,
	    "ec256.pem", NULL, PKI_IMPORT_REPLACE, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair K is in use by a CMP session and "
	    "cannot be replaced.");
	after = snapshot();
	ck_assert_str_eq(before, after);
	free(after);
	pki_set_key_in_use_hook(pki, NULL, NULL);
	ck_assert_msg(pki_key_import(pki, PKI_KEY_EC, "k", PKI_KEYFMT_PEM, "ec256.pem",
	    NULL, PKI_IMPORT_REPLACE, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(r.replaced, 1);
	ck_assert_int_eq(r.bits, 256);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "K"), want) == 1);
	after = snapshot();
	ck_assert_str_ne(before, after);
	free(after);
	reopen();
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "k"), want) == 1);
	free(before);
	EVP_PKEY_free(want);
}
END_TEST

/* A certificate that cannot be stored after the key pair was: the key pair file
 * is put back (removed, or the previous one rewritten), memory unchanged. */
START_TEST(rollback_when_certificate_cannot_be_stored)
{
	struct pki_key_import_result r;
	struct pk_err e;
	unsigned char md[32];
	char *hex, *base, *blocker, *before, *after;
	EVP_PKEY *old;

	put("rsa.p12");
	/* the certificate's store file (pki.h: cert-local-<sha256 of the name>) is
	 * made a directory, so that its atomic rename fails */
	ck_assert_int_eq(EVP_Digest("rsa.p12", 7, md, NULL, EVP_sha256(), NULL), 1);
	hex = pk_hex(md, sizeof(md), 0);
	ck_assert_int_ge(asprintf(&base, "cert-local-%s.pem", hex), 0);
	blocker = storage_path(storage_store_dir(st), base);
	ck_assert_int_eq(mkdir(blocker, 0700), 0);

	before = snapshot();
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_RSA, "dev", PKI_KEYFMT_PKCS12,
	    "rsa.p12", "p12-pass", 0, &r, &e), -1);
	after = snapshot();
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	ck_assert_int_eq(pki_key_exists(pki, "dev"), 0);

	/* over an existing key pair: the previous one comes back */
	ck_assert_int_eq(pki_key_create_rsa(pki, "dev", 2048, 1, NULL, &e), 0);
	old = pki_key_get0_pkey(pki, "dev");
	EVP_PKEY_up_ref(old);
	before = snapshot();
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_RSA, "dev", PKI_KEYFMT_PKCS12,
	    "rsa.p12", "p12-pass", PKI_IMPORT_REPLACE, &r, &e), -1);
	after = snapshot();
	ck_assert_str_eq(before, after);
	free(after);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "dev"), old) == 1);
	reopen();
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "dev"), old) == 1);
	ck_assert_ptr_null(pki_local_cert_get0(pki, "rsa.p12"));

	/* without the obstacle the same import works */
	ck_assert_int_eq(rmdir(blocker), 0);
	ck_assert_msg(pki_key_import(pki, PKI_KEY_RSA, "dev", PKI_KEYFMT_PKCS12,
	    "rsa.p12", "p12-pass", PKI_IMPORT_REPLACE, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(r.cert_imported, 1);
	ck_assert_int_eq(mode_of(blocker), 0600);
	free(before);
	EVP_PKEY_free(old);
	free(blocker);
	free(base);
	free(hex);
}
END_TEST

/* ---- export --------------------------------------------------------- */

START_TEST(export_pkcs12_round_trip)
{
	struct pki_key_import_result r;
	struct pk_err e;
	char *p, *info;

	put("rsa.p12");
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_RSA, "dev", PKI_KEYFMT_PKCS12,
	    "rsa.p12", "p12-pass", PKI_IMPORT_EXPORTABLE, &r, &e), 0);
	ck_assert_msg(pki_key_export(pki, PKI_KEY_RSA, "DEV", PKI_KEYFMT_PKCS12,
	    "out.p12", "export-pw", 0, &e) == 0, "%s", e.msg);
	p = pub_path("out.p12");
	ck_assert_int_eq(mode_of(p), 0600);
	/* what openssl sees: modern algorithms, our name, the key and its
	 * certificate */
	info = openssl_out("openssl pkcs12 -in '%s' -passin pass:%s -info -nodes",
	    p, "export-pw");
	ck_assert_msg(strstr(info, "MAC: sha256") != NULL, "%s", info);
	ck_assert_ptr_nonnull(strstr(info, "PBES2, PBKDF2, AES-256-CBC"));
	ck_assert_ptr_nonnull(strstr(info, "friendlyName: dev"));
	ck_assert_ptr_nonnull(strstr(info, "subject=O = Test, CN = rsa2048"));
	ck_assert_ptr_nonnull(strstr(info, "-----BEGIN PRIVATE KEY-----"));
	free(info);
	/* a wrong password does not open it */
	ck_assert_int_ne(tu_sh("openssl pkcs12 -in '%s' -passin pass:wrong -noout "
	    "2>/dev/null", p), 0);
	/* back in under another name: the same key and certificate */
	ck_assert_msg(pki_key_import(pki, PKI_KEY_RSA, "dev2", PKI_KEYFMT_PKCS12,
	    "out.p12", "export-pw", 0, &r, &e) == 0, "%s", e.msg);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "dev2"),
	    pki_key_get0_pkey(pki, "dev")) == 1);
	ck_assert_int_eq(r.cert_imported, 1);
	ck_assert_int_eq(X509_cmp(pki_local_cert_get0(pki, "out.p12"),
	    pki_local_cert_get0(pki, "rsa.p12")), 0);
	ck_assert_str_eq(pki_cert_key_name(pki, "out.p12"), "dev2");
	/* imported without exportable: not exported */
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_RSA, "dev2", PKI_KEYFMT_PKCS12,
	    "again.p12", "export-pw", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The key pair dev2 is not exportable.");
	free(p);

	/* a key pair without a local certificate: the key alone */
	ck_assert_int_eq(pki_key_create_ec(pki, "secp384r1", "bare", 1, &e), 0);
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "bare", PKI_KEYFMT_PKCS12,
	    "bare.p12", "export-pw", 0, &e), 0);
	p = pub_path("bare.p12");
	info = openssl_out("openssl pkcs12 -in '%s' -passin pass:%s -info -nodes",
	    p, "export-pw");
	ck_assert_ptr_null(strstr(info, "BEGIN CERTIFICATE"));
	ck_assert_ptr_nonnull(strstr(info, "-----BEGIN PRIVATE KEY-----"));
	free(info);
	free(p);
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_EC, "bare2", PKI_KEYFMT_PKCS12,
	    "bare.p12", "export-pw", 0, &r, &e), 0);
	ck_assert_int_eq(r.cert_imported, 0);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "bare2"),
	    pki_key_get0_pkey(pki, "bare")) == 1);
	/* the other type of command does not find it */
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_RSA, "bare", PKI_KEYFMT_PKCS12,
	    "x.p12", "export-pw", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The RSA key pair bare does not exist.");

	/* PEM the same way */
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "bare", PKI_KEYFMT_PEM,
	    "bare.pem", "export-pw", 0, &e), 0);
	ck_assert_int_eq(pki_key_file_needs_password(pki, PKI_KEYFMT_PEM, "bare.pem",
	    &e), 1);
	ck_assert_int_eq(pki_key_import(pki, PKI_KEY_EC, "bare3", PKI_KEYFMT_PEM,
	    "bare.pem", "export-pw", 0, &r, &e), 0);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(pki, "bare3"),
	    pki_key_get0_pkey(pki, "bare")) == 1);
}
END_TEST

START_TEST(export_existing_file_rules)
{
	static const enum pki_key_format fmts[] = { PKI_KEYFMT_PEM, PKI_KEYFMT_PKCS12 };
	struct pk_err e;

	ck_assert_int_eq(pki_key_create_ec(pki, "prime256v1", "x", 1, &e), 0);
	ck_assert_int_eq(pki_public_exists(pki, "taken"), 0);
	ck_assert_int_eq(pki_public_exists(pki, "../taken"), 0);
	for (size_t i = 0; i < 2; i++) {
		char *p = pub_path("taken"), *txt;

		ck_assert_int_eq(tu_write(p, "old", 3), 0);
		ck_assert_int_eq(chmod(p, 0644), 0);
		ck_assert_int_eq(pki_public_exists(pki, "taken"), 1);
		/* refused unless the caller says overwrite; the file is kept */
		ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "x", fmts[i], "taken",
		    "secret1", 0, &e), -1);
		ck_assert_str_eq(e.msg, "The file taken already exists in "
		    "flash:/pki/public.");
		txt = tu_read(p, NULL);
		ck_assert_str_eq(txt, "old");
		free(txt);
		ck_assert_int_eq(mode_of(p), 0644);
		ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "x", fmts[i], "taken",
		    "secret1", PKI_EXPORT_OVERWRITE, &e), 0);
		ck_assert_int_eq(mode_of(p), 0600);
		ck_assert_int_eq(pki_key_file_needs_password(pki, fmts[i], "taken", &e),
		    1);
		ck_assert_int_eq(unlink(p), 0);
		free(p);
	}
	/* names that leave the folder are refused before anything is written */
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "x", PKI_KEYFMT_PKCS12,
	    "../x.p12", "secret1", PKI_EXPORT_OVERWRITE, &e), -1);
	ck_assert_int_eq(pki_key_export(pki, PKI_KEY_EC, "x", PKI_KEYFMT_PKCS12,
	    "x.p12", "short", 0, &e), -1);
	ck_assert_str_eq(e.msg, "The password must be 6 to 32 characters.");
	char *outside = cat(flash, "/pki/x.p12");
	ck_assert_int_ne(access(outside, F_OK), 0);
	free(outside);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pki_keyio");
	TCase *imp = tcase_create("import");
	TCase *exp = tcase_create("export");

	tcase_add_unchecked_fixture(imp, files_setup, files_teardown);
	tcase_add_checked_fixture(imp, setup, teardown);
	tcase_set_timeout(imp, 300);
	tcase_add_test(imp, import_pem_forms);
	tcase_add_test(imp, import_pkcs12_forms);
	tcase_add_test(imp, refusals_change_nothing);
	tcase_add_test(imp, replace_rules);
	tcase_add_test(imp, rollback_when_certificate_cannot_be_stored);
	suite_add_tcase(s, imp);

	tcase_add_unchecked_fixture(exp, files_setup, files_teardown);
	tcase_add_checked_fixture(exp, setup, teardown);
	tcase_set_timeout(exp, 300);
	tcase_add_test(exp, export_pkcs12_round_trip);
	tcase_add_test(exp, export_existing_file_rules);
	suite_add_tcase(s, exp);

	return tu_run_suite(s);
}
