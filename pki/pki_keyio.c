/*
 * pki key files: a key pair in from a PEM or PKCS#12 file of flash:/pki/public
 * (`pki import {rsa|ecc}-key-pair`), and out as encrypted PEM or PKCS#12
 * (`pki export {rsa|ecc}-key-pair`). Contract in pki.h.
 *
 * An import reads and checks everything in memory first (the file, the password,
 * key type, size, curve, consistency of the key and of the PKCS#12 certificate),
 * then writes the key pair's store file, then the certificate's. When the second
 * write fails the first is undone, so the store holds both or neither; memory
 * changes only after both. The file read, holding key material, is wiped.
 * OpenSSL is always given a password callback, so it never prompts on a terminal.
 */
#include "pki_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "../storage/storage.h"

/* The PEM password callback: U is the password (NUL-terminated) or NULL. */
static int
password_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n;

	(void)rwflag;
	if (pw == NULL || (n = strlen(pw)) > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int
wrong_password(const char *file, struct pk_err *e)
{
	return pk_err_set(e, "Failed to read the file %s: wrong password or corrupt "
	    "file.", file);
}

/* ---- what a file holds ---------------------------------------------- */

/* 1 when DATA is a whole DER PKCS#12 structure. */
static int
is_pkcs12(const unsigned char *data, size_t len)
{
	const unsigned char *q = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)len);
	int r = p12 != NULL && q == data + len;

	PKCS12_free(p12);
	ERR_clear_error();
	return r;
}

/* The error for DATA (FILE) that holds no key pair of FMT: says what it holds
 * instead when we can tell (a certificate, a public key, the other format). */
static int
no_key_pair(const unsigned char *data, size_t len, enum pki_key_format fmt,
    const char *file, struct pk_err *e)
{
	X509 *x = NULL;
	int cert = pki_cert_decode(data, len, PKI_FMT_AUTO, file, &x, NULL) == 0;
	int priv = memmem(data, len, "PRIVATE KEY-----", 16) != NULL;

	X509_free(x);
	ERR_clear_error();
	if (cert && !priv)
		return pk_err_set(e, "The file %s holds a certificate, not a key pair.",
		    file);
	if (fmt == PKI_KEYFMT_PEM && is_pkcs12(data, len))
		return pk_err_set(e, "The file %s is in PKCS#12 format, not PEM.", file);
	if (fmt == PKI_KEYFMT_PKCS12 && priv)
		return pk_err_set(e, "The file %s is in PEM format, not PKCS#12.", file);
	if (!priv && memmem(data, len, "PUBLIC KEY-----", 15) != NULL)
		return pk_err_set(e, "The file %s holds a public key only, not a key "
		    "pair.", file);
	if (fmt == PKI_KEYFMT_PEM && priv)
		return pk_err_set(e, "The file %s is corrupt: its private key cannot "
		    "be read.", file);
	return pk_err_set(e, "The file %s holds no key pair in %s format.", file,
	    fmt == PKI_KEYFMT_PKCS12 ? "PKCS#12" : "PEM");
}

/* The first private key block of a PEM file. */
struct pem_key {
	char *name;		/* its PEM name ("PRIVATE KEY", "EC PRIVATE KEY"...) */
	char *header;		/* its header lines (traditional encryption) */
	unsigned char *body;	/* its DER, wiped on free */
	long len;
	int encrypted;
};

static void
pem_key_free(struct pem_key *pk)
{
	OPENSSL_free(pk->name);
	OPENSSL_free(pk->header);
	if (pk->body != NULL)
		OPENSSL_clear_free(pk->body, (size_t)pk->len);
	memset(pk, 0, sizeof(*pk));
}

/* Finds the first private key block of DATA (other blocks, such as "EC
 * PARAMETERS" or certificates, are skipped); -1 with the reason when none. */
static int
pem_key_find(const unsigned char *data, size_t len, const char *file,
    struct pem_key *pk, struct pk_err *e)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *body = NULL;
	long blen = 0;

	memset(pk, 0, sizeof(*pk));
	if (b == NULL)
		return pk_err_ossl(e, "cannot read the file %s", file);
	while (PEM_read_bio(b, &name, &header, &body, &blen) == 1) {
		if (ends_with(name, "PRIVATE KEY")) {
			pk->name = name;
			pk->header = header;
			pk->body = body;
			pk->len = blen;
			/* PKCS#8 EncryptedPrivateKeyInfo, or RFC 1421 "Proc-Type:
			 * 4,ENCRYPTED" of the traditional form */
			pk->encrypted = strcmp(name, PEM_STRING_PKCS8) == 0 ||
			    strstr(header, "ENCRYPTED") != NULL;
			BIO_free(b);
			return 0;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(body, (size_t)blen);
	}
	ERR_clear_error();
	BIO_free(b);
	return no_key_pair(data, len, PKI_KEYFMT_PEM, file, e);
}

/* Decodes the key block PK with PASSWORD. */
static int
pem_key_decode(const struct pem_key *pk, const char *file, const char *password,
    EVP_PKEY **out, struct pk_err *e)
{
	BIO *b = NULL;
	int rc = -1;

	*out = NULL;
	if (pk->encrypted && password == NULL) {
		pk_err_set(e, "The key pair in %s is encrypted: a password is required.",
		    file);
		goto out;
	}
	/* The block alone, so that no other block of the file is read. */
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio(b, pk->name, pk->header, pk->body, pk->len) <= 0) {
		pk_err_ossl(e, "cannot read the file %s", file);
		goto out;
	}
	*out = PEM_read_bio_PrivateKey_ex(b, NULL, password_cb, (void *)password,
	    NULL, NULL);
	if (*out == NULL) {
		ERR_clear_error();
		if (pk->encrypted)
			wrong_password(file, e);
		else
			pk_err_set(e, "The file %s is corrupt: its private key cannot "
			    "be read.", file);
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);	/* secure memory: cleansed on free */
	return rc;
}

/* What a key file gave. */
struct keyfile {
	EVP_PKEY *pkey;
	X509 *cert;			/* PKCS#12: the certificate of the key */
	STACK_OF(X509) *others;		/* PKCS#12: its other certificates */
};

static void
keyfile_free(struct keyfile *kf)
{
	EVP_PKEY_free(kf->pkey);
	X509_free(kf->cert);
	sk_X509_pop_free(kf->others, X509_free);
	memset(kf, 0, sizeof(*kf));
}

static int
p12_decode(const unsigned char *data, size_t len, const char *file,
    PKCS12 **out, struct pk_err *e)
{
	const unsigned char *q = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)len);

	*out = NULL;
	/* After every d2i: all input consumed, no trailing bytes. */
	if (p12 == NULL || q != data + len) {
		PKCS12_free(p12);
		ERR_clear_error();
		return no_key_pair(data, len, PKI_KEYFMT_PKCS12, file, e);
	}
	*out = p12;
	return 0;
}

/* 1 when the MAC of P12 verifies with PASSWORD (NULL: no password or the empty
 * one, the two ways a PKCS#12 file goes without one), or there is no MAC. */
static int
p12_mac_ok(PKCS12 *p12, const char *password)
{
	int ok;

	if (!PKCS12_mac_present(p12))
		return 1;
	if (password != NULL)
		ok = PKCS12_verify_mac(p12, password, -1);
	else
		ok = PKCS12_verify_mac(p12, NULL, 0) || PKCS12_verify_mac(p12, "", 0);
	ERR_clear_error();
	return ok;
}

static int
p12_read(PKCS12 *p12, const char *file, const char *password, struct keyfile *kf,
    struct pk_err *e)
{
	if (!p12_mac_ok(p12, password)) {
		if (password == NULL)
			return pk_err_set(e, "The file %s is protected by a password: "
			    "a password is required.", file);
		return wrong_password(file, e);
	}
	if (!PKCS12_parse(p12, password, &kf->pkey, &kf->cert, &kf->others)) {
		/* the MAC verified: not the password, but the content */
		if (PKCS12_mac_present(p12))
			return pk_err_ossl(e, "The file %s cannot be read", file);
		ERR_clear_error();
		return wrong_password(file, e);
	}
	if (kf->pkey == NULL) {
		if (kf->cert != NULL || sk_X509_num(kf->others) > 0)
			return pk_err_set(e, "The file %s holds a certificate, not a "
			    "key pair.", file);
		return pk_err_set(e, "The file %s holds no key pair.", file);
	}
	return 0;
}

/* Reads FILE of FMT into KF. */
static int
keyfile_read(struct pki *p, enum pki_key_format fmt, const char *file,
    const char *password, struct keyfile *kf, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct pem_key pk;
	PKCS12 *p12 = NULL;
	int rc = -1;

	memset(kf, 0, sizeof(*kf));
	memset(&pk, 0, sizeof(pk));
	if (pki_public_read(p, file, &data, &len, e) != 0)
		goto out;
	if (fmt == PKI_KEYFMT_PEM) {
		if (pem_key_find(data, len, file, &pk, e) != 0 ||
		    pem_key_decode(&pk, file, password, &kf->pkey, e) != 0)
			goto out;
	} else {
		if (p12_decode(data, len, file, &p12, e) != 0 ||
		    p12_read(p12, file, password, kf, e) != 0)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		keyfile_free(kf);
	pem_key_free(&pk);
	PKCS12_free(p12);
	if (data != NULL)
		OPENSSL_clear_free(data, len);
	return rc;
}

int
pki_key_file_needs_password(struct pki *p, enum pki_key_format fmt,
    const char *file, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct pem_key pk;
	PKCS12 *p12 = NULL;
	struct keyfile kf;
	int rc = -1;

	memset(&pk, 0, sizeof(pk));
	memset(&kf, 0, sizeof(kf));
	if (fmt != PKI_KEYFMT_PEM && fmt != PKI_KEYFMT_PKCS12) {
		pk_err_set(e, "Unknown key file format.");
		goto out;
	}
	if (pki_public_read(p, file, &data, &len, e) != 0)
		goto out;
	if (fmt == PKI_KEYFMT_PEM) {
		if (pem_key_find(data, len, file, &pk, e) == 0)
			rc = pk.encrypted;
	} else if (p12_decode(data, len, file, &p12, e) == 0) {
		if (PKCS12_mac_present(p12))
			rc = !p12_mac_ok(p12, NULL);
		else	/* no MAC: whether it opens without one */
			rc = !PKCS12_parse(p12, NULL, &kf.pkey, &kf.cert, &kf.others);
		ERR_clear_error();
	}
out:
	keyfile_free(&kf);
	pem_key_free(&pk);
	PKCS12_free(p12);
	if (data != NULL)
		OPENSSL_clear_free(data, len);
	return rc;
}

/* ---- checks --------------------------------------------------------- */

/* The key of an import: a type we offer, that of the command (TYPE), RSA size,
 * EC curve, and its private and public parts consistent. */
static int
key_check(EVP_PKEY *pk, enum pki_key_type type, const char *file,
    struct pk_err *e)
{
	static const unsigned char msg[] = "pkish key import consistency check";
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char group[64];
	enum pki_key_type got;
	int bits = EVP_PKEY_get_bits(pk), ok = 0, rc = -1;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		got = PKI_KEY_RSA;
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		got = PKI_KEY_EC;
	} else {
		const char *t = EVP_PKEY_get0_type_name(pk);

		pk_err_set(e, "The file %s holds a key pair of type %s; only RSA and "
		    "ECC key pairs are supported.", file, t != NULL ? t : "unknown");
		goto out;
	}
	if (got != type) {
		pk_err_set(e, "The file %s holds an %s key pair, not an %s key pair.",
		    file, pki_type_word(got), pki_type_word(type));
		goto out;
	}
	if (got == PKI_KEY_RSA &&
	    (bits < PKI_RSA_MIN_BITS || bits > PKI_RSA_MAX_BITS)) {
		pk_err_set(e, "The RSA key pair in %s has %d bits; %d to %d bits are "
		    "supported.", file, bits, PKI_RSA_MIN_BITS, PKI_RSA_MAX_BITS);
		goto out;
	}
	if (got == PKI_KEY_EC) {
		const char *const *cv = pki_ec_curves();
		int known = 0;

		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1)
			snprintf(group, sizeof(group), "(explicit parameters)");
		for (size_t i = 0; cv[i] != NULL; i++)
			known |= pk_strcaseeq(cv[i], group);
		if (!known) {
			ERR_clear_error();
			pk_err_set(e, "The ECC key pair in %s uses the curve %s; supported "
			    "curves: prime256v1, secp384r1, secp521r1.", file, group);
			goto out;
		}
	}
	/* A pairwise consistency test (as FIPS 140 asks of a new key pair): a
	 * signature made with the private key verifies with the public key. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, msg, sizeof(msg)) != 1)
		goto check;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) != 1 ||
	    EVP_MD_CTX_reset(md) != 1 ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) != 1)
		goto check;
	ok = EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg)) == 1;
check:
	ERR_clear_error();
	if (!ok) {
		pk_err_set(e, "The key pair in %s is inconsistent: its private and "
		    "public keys do not belong together.", file);
		goto out;
	}
	rc = 0;
out:
	free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

/* PKCS#12: the certificate of the key is KF->cert (PKCS12_parse picks the one
 * whose public key is the key's). Any other certificate must be a CA
 * certificate (a chain); an end-entity certificate that is not the key's means
 * the file does not hold what it claims. */
static int
p12_cert_check(const struct keyfile *kf, const char *file, struct pk_err *e)
{
	if (kf->cert != NULL &&
	    X509_check_private_key(kf->cert, kf->pkey) != 1) {	/* defensive */
		ERR_clear_error();
		goto mismatch;
	}
	for (int i = 0; i < sk_X509_num(kf->others); i++) {
		X509 *x = sk_X509_value(kf->others, i);

		/* RFC 5280 4.2.1.9 (cA), as for a CA import */
		if (X509_check_purpose(x, -1, 0) != 1 || X509_check_ca(x) == 0) {
			ERR_clear_error();
			goto mismatch;
		}
	}
	return 0;
mismatch:
	return pk_err_set(e, "The certificate in %s does not match its key pair.",
	    file);
}

/* ---- import --------------------------------------------------------- */

/* Puts the store file of key pair NAME back as it was before an import that
 * failed after writing it: OLD's file, or none. A failure is added to *e. */
static void
key_file_restore(struct pki *p, const struct keyrec *old, const char *name,
    struct pk_err *e)
{
	struct pk_err re;
	struct sbuf msg = SBUF_INIT;
	char *path;
	int r;

	pk_err_clear(&re);
	if (old != NULL) {
		r = pki_keyrec_write(p, old, &re);
	} else {
		path = pki_key_path(p, name);
		r = storage_remove(path, &re);
		free(path);
	}
	if (r != 0 && e != NULL) {
		sbuf_printf(&msg, "%s (and the key pair file could not be restored: "
		    "%s)", e->msg, re.msg);
		pk_err_set(e, "%s", sbuf_str(&msg));
		sbuf_free(&msg);
	}
}

int
pki_key_import(struct pki *p, enum pki_key_type type, const char *name,
    enum pki_key_format fmt, const char *file, const char *password,
    unsigned flags, struct pki_key_import_result *out, struct pk_err *e)
{
	struct keyrec *old = NULL, *k = NULL;
	struct certrec *c = NULL;
	struct keyfile kf;
	int written = 0, rc = -1;

	memset(&kf, 0, sizeof(kf));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (type != PKI_KEY_RSA && type != PKI_KEY_EC) {
		pk_err_set(e, "Unknown key pair type.");
		goto out;
	}
	if (fmt != PKI_KEYFMT_PEM && fmt != PKI_KEYFMT_PKCS12) {
		pk_err_set(e, "Unknown key file format.");
		goto out;
	}
	if (!pki_key_name_ok(name, e))
		goto out;
	if (password != NULL && (password[0] == '\0' ||
	    strlen(password) > PKI_IMPORT_PASSWORD_MAX)) {
		pk_err_set(e, "The password must be 1 to %d characters.",
		    PKI_IMPORT_PASSWORD_MAX);
		goto out;
	}
	if ((old = pki_keyrec_find(p, name)) != NULL) {
		if (old->type != type) {
			pk_err_set(e, "The key pair %s already exists as an %s key "
			    "pair.", old->name, pki_type_word(old->type));
			goto out;
		}
		if (!(flags & PKI_IMPORT_REPLACE)) {
			pk_err_set(e, "The key pair %s already exists.", old->name);
			goto out;
		}
		if (pki_key_used(p, old->name)) {
			pk_err_set(e, "The key pair %s is in use by a CMP session and "
			    "cannot be replaced.", old->name);
			goto out;
		}
	}
	if (keyfile_read(p, fmt, file, password, &kf, e) != 0 ||
	    key_check(kf.pkey, type, file, e) != 0 ||
	    (fmt == PKI_KEYFMT_PKCS12 && p12_cert_check(&kf, file, e) != 0))
		goto out;

	k = xcalloc(1, sizeof(*k));
	k->name = xstrdup(name);
	k->pkey = kf.pkey;
	kf.pkey = NULL;
	k->exportable = (flags & PKI_IMPORT_EXPORTABLE) != 0;
	k->created = time(NULL);
	if (pki_keyrec_facts(k, e) != 0)
		goto out;
	if (kf.cert != NULL && !(flags & PKI_IMPORT_EXCLUDE_CERT) &&
	    pki_certrec_make(p, PKI_CERT_LOCAL, NULL, kf.cert, file, k->name, &c,
	    e) != 0)
		goto out;

	/* The store: the key pair, then its certificate; both or neither. */
	if (pki_keyrec_write(p, k, e) != 0)
		goto out;
	written = 1;
	if (c != NULL && pki_certrec_write(p, c, e) != 0)
		goto out;

	if (out != NULL) {
		out->type = k->type;
		out->bits = k->bits;
		out->curve = k->curve;
		out->weak = k->type == PKI_KEY_RSA && k->bits < PKI_RSA_WARN_BITS;
		out->replaced = old != NULL;
	}
	pki_keyrec_put(p, k);	/* frees OLD */
	k = NULL;
	if (c != NULL) {
		if (out != NULL) {
			out->cert_imported = 1;
			snprintf(out->cert_name, sizeof(out->cert_name), "%s", c->name);
			pki_cert_describe(p, c->x, &out->cert);
		}
		pki_certrec_put(p, c);
		c = NULL;
	}
	rc = 0;
out:
	if (rc != 0 && written)
		key_file_restore(p, old, name, e);
	pki_keyrec_free(k);
	pki_certrec_free(c);
	keyfile_free(&kf);
	return rc;
}

/* ---- export --------------------------------------------------------- */

/* The local certificate imported for key pair K: recorded with K and holding
 * K's public key (a record left from before a key change does not); the first
 * by record name. NULL when none. */
static X509 *
local_cert_of(const struct pki *p, const struct keyrec *k)
{
	for (size_t i = 0; i < p->ncerts; i++) {
		const struct certrec *c = p->certs[i];

		if (c->kind == PKI_CERT_LOCAL && c->key_name != NULL &&
		    pk_strcaseeq(c->key_name, k->name) &&
		    EVP_PKEY_eq(X509_get0_pubkey(c->x), k->pkey) == 1)
			return c->x;
	}
	ERR_clear_error();
	return NULL;
}

int
pki_public_exists(const struct pki *p, const char *name)
{
	struct stat sb;
	char *path;
	int r;

	if (name == NULL || !storage_name_ok(name, NULL))
		return 0;
	path = storage_path(storage_public_dir(p->st), name);
	r = lstat(path, &sb) == 0;
	free(path);
	return r;
}

int
pki_key_export(struct pki *p, enum pki_key_type type, const char *name,
    enum pki_key_format fmt, const char *file, const char *password,
    unsigned flags, struct pk_err *e)
{
	struct keyrec *k = pki_keyrec_of_type(p, type, name, e);
	BIO *b = NULL;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	char *path = NULL, *data = NULL;
	size_t pl;
	long n = 0;
	int rc = -1;

	if (k == NULL)
		goto out;
	if (!k->exportable) {
		pk_err_set(e, "The key pair %s is not exportable.", k->name);
		goto out;
	}
	pl = password != NULL ? strlen(password) : 0;
	if (pl < PKI_PASSWORD_MIN || pl > PKI_PASSWORD_MAX) {
		pk_err_set(e, "The password must be %d to %d characters.",
		    PKI_PASSWORD_MIN, PKI_PASSWORD_MAX);
		goto out;
	}
	if (fmt != PKI_KEYFMT_PEM && fmt != PKI_KEYFMT_PKCS12) {
		pk_err_set(e, "Unknown key file format.");
		goto out;
	}
	if (file == NULL || !storage_name_ok(file, e))
		goto out;
	if (!(flags & PKI_EXPORT_OVERWRITE) && pki_public_exists(p, file)) {
		pk_err_set(e, "The file %s already exists in flash:/pki/public.", file);
		goto out;
	}
	if (fmt == PKI_KEYFMT_PEM) {
		if ((b = BIO_new(BIO_s_secmem())) == NULL ||
		    PEM_write_bio_PKCS8PrivateKey(b, k->pkey, EVP_aes_256_cbc(),
		    password, (int)pl, NULL, NULL) != 1) {
			pk_err_ossl(e, "Failed to export the key pair %s", k->name);
			goto out;
		}
		n = BIO_get_mem_data(b, &data);
	} else {
		/* PBES2/AES-256-CBC for the key and the certificate, and the MAC,
		 * with OpenSSL's default iteration count, as `openssl pkcs12
		 * -export` makes them. */
		p12 = PKCS12_create(password, k->name, k->pkey, local_cert_of(p, k),
		    NULL, NID_aes_256_cbc, NID_aes_256_cbc, PKCS12_DEFAULT_ITER,
		    PKCS12_DEFAULT_ITER, 0);
		if (p12 == NULL || (n = i2d_PKCS12(p12, &der)) <= 0) {
			pk_err_ossl(e, "Failed to export the key pair %s", k->name);
			goto out;
		}
		data = (char *)der;
	}
	path = storage_path(storage_public_dir(p->st), file);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);
	OPENSSL_free(der);
	PKCS12_free(p12);
	return rc;
}
