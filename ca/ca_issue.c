/*
 * ca_issue: the CA responder's configuration defaults, key material and issuance.
 *
 * Contract (ca.h): ca_open() makes DIR (0700) usable: the database, the
 * CA key and certificate (explicit --ca-cert/--ca-key, or DIR/ca.key + DIR/ca.crt,
 * created on the first run: EC P-256 key, self-signed v3 CA certificate valid ten
 * years), the PBM secret (DIR/secret, random, created once), the response signer,
 * extraCerts and the trust store. Every file is written atomically (temp file,
 * fsync, rename) and the first-run creation holds an exclusive lock on DIR/.lock so
 * two processes starting at once cannot create two different CAs. The key is
 * written before the certificate; a DIR holding only the key (a crash between the
 * two) gets its certificate made from that key on the next run.
 *
 * ca_issue() makes v3 end-entity certificates, signs them SHA-256 with the CA key
 * and records them in the database. Safe to call from several threads at once: the
 * CA key and certificate are only read, the database serializes itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "../storage/storage.h"
#include "ca_int.h"

#define CA_VALIDITY_SECS	(10L * 365 * 86400)
#define CA_SUBJECT_CN		"cmpca CA"
#define CA_SUBJECT_O		"pkish"
#define SECRET_BYTES		16

struct ca {
	const struct ca_config *cfg;
	int check_only;			/* ca_check(): nothing is written */
	char *dir, *cert_path, *key_path, *db_path;
	int created;
	X509 *cert;
	EVP_PKEY *key;
	X509 *signer_cert;
	EVP_PKEY *signer_key;
	STACK_OF(X509) *extra;		/* --extra-certs as given */
	STACK_OF(X509) *trust_certs;	/* every profile's trust certificates */
	STACK_OF(X509) *chain;		/* the CA certificate, then its issuers */
	X509 *root;			/* the chain's self-signed top, or NULL */
	STACK_OF(X509) *resp_chain;	/* extraCerts after the signer's */
	STACK_OF(X509) *capubs;		/* caPubs of an ip */
	X509 *old_root, *new_with_old, *old_with_new;	/* root key rollover */
	struct ca_prof *profs;		/* one per cfg->profiles[i] */
	size_t nprofs;
	struct ca_db *db;
};

/* ---- files ---- */

int
ca_load_certs(const char *file, STACK_OF(X509) **out, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len;
	BIO *b = NULL;
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	int rc = -1;

	*out = NULL;
	if (storage_read(file, STORAGE_MAX_FILE, &data, &len, e) != 0)
		goto out;
	if (strstr((char *)data, "-----BEGIN") != NULL) {
		b = BIO_new_mem_buf(data, (int)len);
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			sk_X509_push(sk, x);
		/* the loop ends at end of data: that "error" is expected */
		ERR_clear_error();
	} else {
		const unsigned char *p = data;

		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
			if (p != data + len) {
				X509_free(x);
				pk_err_set(e, "%s: trailing bytes after the certificate",
				    file);
				goto out;
			}
			sk_X509_push(sk, x);
		}
	}
	if (sk_X509_num(sk) == 0) {
		pk_err_ossl(e, "%s: no certificate found", file);
		goto out;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(b);
	free(data);
	return rc;
}

int
ca_load_key(const char *file, EVP_PKEY **out, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *b = NULL;
	int rc = -1;

	*out = NULL;
	if (storage_read(file, STORAGE_MAX_FILE, &data, &len, e) != 0)
		goto out;
	if (strstr((char *)data, "-----BEGIN") != NULL) {
		b = BIO_new_mem_buf(data, (int)len);
		*out = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
	} else {
		const unsigned char *p = data;

		*out = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	if (*out == NULL) {
		pk_err_ossl(e, "%s: cannot read the private key", file);
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return rc;
}

static int
load_one_cert(const char *file, X509 **out, struct pk_err *e)
{
	STACK_OF(X509) *sk;

	if (ca_load_certs(file, &sk, e) != 0)
		return -1;
	*out = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

static int
write_pem(const char *path, int is_key, void *obj, struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok, rc = -1;

	if (b == NULL)
		return pk_err_ossl(e, "out of memory");
	ok = is_key ? PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_X509(b, obj);
	if (!ok) {
		pk_err_ossl(e, "cannot encode %s", path);
		goto out;
	}
	n = BIO_get_mem_data(b, &p);
	rc = storage_write_atomic(path, p, (size_t)n, is_key ? 0600 : 0644, e);
	if (is_key)
		OPENSSL_cleanse(p, (size_t)n);
out:
	BIO_free(b);
	return rc;
}

static int
file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- certificates ---- */

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct pk_err *e)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return pk_err_ossl(e, "cannot make extension %s=%s", OBJ_nid2sn(nid),
		    value);
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return pk_err_ossl(e, "cannot add extension %s", OBJ_nid2sn(nid));
	return 0;
}

static const EVP_MD *
sign_md(EVP_PKEY *key)
{
	/* EdDSA signs the message itself: no separate digest. */
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		return NULL;
	return EVP_sha256();
}

static int
set_validity(X509 *x, long secs, struct pk_err *e)
{
	time_t now = time(NULL);

	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)(secs / 86400),
	    secs % 86400, &now) == NULL)
		return pk_err_ossl(e, "cannot set the validity");
	return 0;
}

/* The self-signed CA certificate for KEY. RFC 5280 4.2.1.9/4.2.1.3: a CA
 * certificate has basicConstraints cA critical and keyCertSign; digitalSignature
 * too, because by default the CA also signs the CMP responses. */
static int
make_ca_cert(struct ca *ca, EVP_PKEY *key, X509 **out, struct pk_err *e)
{
	X509 *x = X509_new();
	X509_NAME *n = NULL;
	ASN1_INTEGER *serial = NULL;
	X509V3_CTX ctx;
	int rc = -1;

	*out = NULL;
	if (x == NULL || (n = X509_NAME_new()) == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	if (ca_db_new_serial(ca->db, &serial, e) != 0)
		goto out;
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)CA_SUBJECT_O, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)CA_SUBJECT_CN, -1, -1, 0) ||
	    !X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
	    !X509_set_pubkey(x, key)) {
		pk_err_ossl(e, "cannot build the CA certificate");
		goto out;
	}
	if (set_validity(x, CA_VALIDITY_SECS, e) != 0)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE", e) != 0 ||
	    add_ext(x, &ctx, NID_key_usage,
	    "critical,digitalSignature,keyCertSign,cRLSign", e) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", e) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", e) != 0)
		goto out;
	if (X509_sign(x, key, sign_md(key)) <= 0) {
		pk_err_ossl(e, "cannot sign the CA certificate");
		goto out;
	}
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	X509_NAME_free(n);
	ASN1_INTEGER_free(serial);
	return rc;
}

/* Loads DIR/ca.key + DIR/ca.crt, creating what is missing. Runs under DIR/.lock. */
static int
load_or_create(struct ca *ca, struct pk_err *e)
{
	int have_key = file_exists(ca->key_path), have_cert = file_exists(ca->cert_path);

	if (have_cert && !have_key)
		return pk_err_set(e, "%s exists but its key %s is missing",
		    ca->cert_path, ca->key_path);
	if (have_key) {
		if (ca_load_key(ca->key_path, &ca->key, e) != 0)
			return -1;
	} else {
		ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (ca->key == NULL)
			return pk_err_ossl(e, "cannot generate the CA key");
		/* key first: a crash before the certificate leaves a key we reuse */
		if (write_pem(ca->key_path, 1, ca->key, e) != 0)
			return -1;
	}
	if (have_cert)
		return load_one_cert(ca->cert_path, &ca->cert, e);
	if (make_ca_cert(ca, ca->key, &ca->cert, e) != 0 ||
	    write_pem(ca->cert_path, 0, ca->cert, e) != 0)
		return -1;
	ca->created = 1;
	return 0;
}

/* The secret in PATH: its text without the final line break; not empty. */
static int
read_secret(const char *path, char **out, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = -1;

	*out = NULL;
	if (storage_read(path, 4096, &data, &len, e) != 0)
		goto out;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (len == 0 || strlen((char *)data) != len) {
		pk_err_set(e, "%s: the secret is empty or not text", path);
		goto out;
	}
	*out = xstrdup((char *)data);
	rc = 0;
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return rc;
}

/* The default profile's secret file DIR/secret: random, made on the first run. */
static int
default_secret(struct ca *ca, struct ca_prof *pr, struct pk_err *e)
{
	unsigned char rnd[SECRET_BYTES];
	size_t n;
	char *hex;
	int rc;

	pr->secret_path = storage_path(ca->dir, "secret");
	if (!file_exists(pr->secret_path)) {
		if (ca->check_only)
			return 0;	/* made on the first run */
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return pk_err_ossl(e, "no random bytes for the secret");
		hex = pk_hex(rnd, sizeof(rnd), 0);
		OPENSSL_cleanse(rnd, sizeof(rnd));
		n = strlen(hex);
		hex = xrealloc(hex, n + 2);
		hex[n] = '\n';
		hex[n + 1] = '\0';
		rc = storage_write_atomic(pr->secret_path, hex, n + 1, 0600, e);
		storage_wipe_free(hex);
		if (rc != 0)
			return -1;
	}
	return read_secret(pr->secret_path, &pr->secret, e);
}

/* A profile's secret (given, in its secret-file, or for the default profile
 * DIR/secret; a named profile may have none) and its trust anchors. */
static int
load_profile(struct ca *ca, struct ca_prof *pr, const struct ca_profile *p,
    struct pk_err *e)
{
	STACK_OF(X509) *sk = NULL;
	size_t i;
	int rc = -1;

	pr->cfg = p;
	if (p->secret != NULL)
		pr->secret = xstrdup(p->secret);
	else if (p->secret_file != NULL) {
		pr->secret_path = xstrdup(p->secret_file);
		if (read_secret(pr->secret_path, &pr->secret, e) != 0) {
			struct pk_err e2 = *e;

			pk_err_set(e, "secret-file: %s", e2.msg);
			goto out;
		}
	} else if (p == &ca->cfg->def && default_secret(ca, pr, e) != 0)
		goto out;
	if (p->admin_secret_file != NULL &&
	    read_secret(p->admin_secret_file, &pr->admin_secret, e) != 0) {
		struct pk_err e2 = *e;

		pk_err_set(e, "admin-secret-file: %s", e2.msg);
		goto out;
	}
	for (i = 0; i < p->trust.n; i++) {
		if (ca_load_certs(p->trust.v[i], &sk, e) != 0) {
			struct pk_err e2 = *e;

			pk_err_set(e, "trust: %s", e2.msg);
			goto out;
		}
		if (pr->trust == NULL && (pr->trust = X509_STORE_new()) == NULL) {
			pk_err_ossl(e, "out of memory");
			goto out;
		}
		while (sk_X509_num(sk) > 0) {
			X509 *x = sk_X509_shift(sk);
			int ok = X509_STORE_add_cert(pr->trust, x) &&
			    sk_X509_push(ca->trust_certs, x);

			if (!ok) {
				X509_free(x);
				pk_err_ossl(e, "%s: cannot add to the trust store",
				    p->trust.v[i]);
				goto out;
			}
		}
		sk_X509_free(sk);
		sk = NULL;
	}
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static int
check_pair(X509 *x, EVP_PKEY *k, const char *what, struct pk_err *e)
{
	if (X509_check_private_key(x, k) != 1)
		return pk_err_ossl(e, "the %s key does not match its certificate", what);
	return 0;
}

/* ---- the CA's chain ---- */

/* 1 when X is self-signed: its own issuer, and its signature verifies with its
 * own key (a self-issued link certificate of a key rollover is not). */
static int
is_self_signed(X509 *x)
{
	int r = X509_self_signed(x, 1);

	ERR_clear_error();
	return r == 1;
}

/* The issuer of X in POOL: names and key identifiers match (RFC 5280 4.2.1.1,
 * X509_check_issued) and X's signature verifies with its key. NULL if none. */
static X509 *
find_issuer(X509 *x, STACK_OF(X509) *pool)
{
	int i;

	for (i = 0; i < sk_X509_num(pool); i++) {
		X509 *c = sk_X509_value(pool, i);

		if (X509_cmp(c, x) != 0 && X509_check_issued(c, x) == X509_V_OK &&
		    X509_verify(x, X509_get0_pubkey(c)) == 1)
			return c;
	}
	ERR_clear_error();
	return NULL;
}

static int
push_ref(STACK_OF(X509) *sk, X509 *x)
{
	if (!sk_X509_push(sk, x))
		return -1;
	X509_up_ref(x);
	return 0;
}

static int
in_stack(STACK_OF(X509) *sk, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return 1;
	return 0;
}

/* The chain of the CA certificate: its issuers looked up in --extra-certs and
 * the --trust certificates, up to a self-signed root when they hold one. A
 * chain that reaches a root must verify (RFC 5280 6.1: names, signatures,
 * validity, basicConstraints), so that what this CA issues verifies too. */
static int
build_chain(struct ca *ca, struct pk_err *e)
{
	STACK_OF(X509) *pool = sk_X509_new_null();
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *cur = ca->cert, *up;
	int i, rc = -1;

	ca->chain = sk_X509_new_null();
	if (pool == NULL || ca->chain == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(ca->extra); i++)
		sk_X509_push(pool, sk_X509_value(ca->extra, i));
	for (i = 0; i < sk_X509_num(ca->trust_certs); i++)
		sk_X509_push(pool, sk_X509_value(ca->trust_certs, i));
	if (push_ref(ca->chain, cur) != 0) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	/* at most as many steps as certificates: a loop of cross-certificates
	 * ends there */
	while (!is_self_signed(cur) && sk_X509_num(ca->chain) <= sk_X509_num(pool) &&
	    (up = find_issuer(cur, pool)) != NULL && !in_stack(ca->chain, up)) {
		if (push_ref(ca->chain, up) != 0) {
			pk_err_ossl(e, "out of memory");
			goto out;
		}
		cur = up;
	}
	if (!is_self_signed(cur)) {
		rc = 0;		/* no root known: the chain as far as it goes */
		goto out;
	}
	ca->root = cur;
	if ((st = X509_STORE_new()) == NULL || !X509_STORE_add_cert(st, cur) ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, st, ca->cert, ca->chain)) {
		pk_err_ossl(e, "cannot check the CA certificate's chain");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		struct sbuf n = SBUF_INIT;

		pk_name_sbuf(X509_get_subject_name(
		    X509_STORE_CTX_get_current_cert(ctx) != NULL ?
		    X509_STORE_CTX_get_current_cert(ctx) : ca->cert), &n);
		pk_err_set(e, "%s does not verify up to its root: %s: %s",
		    ca->cert_path, sbuf_str(&n), X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		sbuf_free(&n);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_free(pool);
	return rc;
}

/* What signed responses carry in extraCerts after the signer (RFC 4210 5.1.1,
 * RFC 9483 3.3: the protection certificate first, then its chain; the
 * self-signed root is left out, a client anchors it from elsewhere, e.g. caPubs):
 * the CA certificate when another certificate signs, the chain's intermediates,
 * then the other --extra-certs. caPubs (RFC 4210 5.3.2): --capubs, else the
 * chain's root, else the CA certificate. */
static int
response_certs(struct ca *ca, struct pk_err *e)
{
	int i, ok = 1;

	ca->resp_chain = sk_X509_new_null();
	if (ca->resp_chain == NULL)
		return pk_err_ossl(e, "out of memory");
	for (i = 0; ok && i < sk_X509_num(ca->chain); i++) {
		X509 *x = sk_X509_value(ca->chain, i);

		if (x != ca->root && X509_cmp(x, ca->signer_cert) != 0)
			ok = push_ref(ca->resp_chain, x) == 0;
	}
	for (i = 0; ok && i < sk_X509_num(ca->extra); i++) {
		X509 *x = sk_X509_value(ca->extra, i);

		if ((ca->root == NULL || X509_cmp(x, ca->root) != 0) &&
		    X509_cmp(x, ca->signer_cert) != 0 && !in_stack(ca->resp_chain, x))
			ok = push_ref(ca->resp_chain, x) == 0;
	}
	if (!ok)
		return pk_err_ossl(e, "out of memory");
	if (ca->cfg->capubs != NULL)
		return ca_load_certs(ca->cfg->capubs, &ca->capubs, e);
	if ((ca->capubs = sk_X509_new_null()) == NULL ||
	    push_ref(ca->capubs, ca->root != NULL ? ca->root : ca->cert) != 0)
		return pk_err_ossl(e, "out of memory");
	return 0;
}

/* 1 when X's signature verifies with the public key of K. */
static int
signed_by(X509 *x, X509 *k)
{
	int r = X509_verify(x, X509_get0_pubkey(k));

	ERR_clear_error();
	return r == 1;
}

/* --previous-ca-cert: the root before its key rollover and the link
 * certificates (RFC 4210 4.4), made when the root was rolled over, told apart
 * by keys and signatures (the names are usually the same): the old root is
 * self-signed with another key than the new root (the chain's root); newWithOld
 * holds the new root's key and verifies with the old one; oldWithNew holds the
 * old key and verifies with the new one. newWithOld is required (RFC 9483
 * 4.3.2), oldWithNew optional; nothing else may be in the file. */
static int
load_rollover(struct ca *ca, struct pk_err *e)
{
	const char *f = ca->cfg->previous_ca_cert;
	STACK_OF(X509) *sk = NULL;
	X509 *nr = ca->root, *x;
	int i, rc = -1;

	if (nr == NULL)
		return pk_err_set(e, "%s: the root of the CA's chain is not known (give "
		    "it with --extra-certs or --trust), so there is no new root "
		    "for its key rollover", f);
	if (ca_load_certs(f, &sk, e) != 0)
		return -1;
	for (i = 0; i < sk_X509_num(sk); i++) {
		x = sk_X509_value(sk, i);
		if (is_self_signed(x) && !EVP_PKEY_eq(X509_get0_pubkey(x),
		    X509_get0_pubkey(nr)) && ca->old_root == NULL)
			ca->old_root = x;
	}
	if (ca->old_root == NULL) {
		pk_err_set(e, "%s: no self-signed root with another key than the "
		    "CA's root (the root before the rollover)", f);
		goto out;
	}
	for (i = 0; i < sk_X509_num(sk); i++) {
		x = sk_X509_value(sk, i);
		if (x == ca->old_root)
			continue;
		if (EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(nr)) == 1 &&
		    signed_by(x, ca->old_root) && ca->new_with_old == NULL)
			ca->new_with_old = x;
		else if (EVP_PKEY_eq(X509_get0_pubkey(x),
		    X509_get0_pubkey(ca->old_root)) == 1 && signed_by(x, nr) &&
		    ca->old_with_new == NULL)
			ca->old_with_new = x;
		else {
			struct sbuf n = SBUF_INIT;

			pk_name_sbuf(X509_get_subject_name(x), &n);
			pk_err_set(e, "%s: certificate %d (%s) is neither the old root, "
			    "nor newWithOld (the new root's key signed with the old), "
			    "nor oldWithNew (the old key signed with the new)", f, i + 1,
			    sbuf_str(&n));
			sbuf_free(&n);
			goto out;
		}
	}
	if (ca->new_with_old == NULL) {
		pk_err_set(e, "%s: RFC 9483 4.3.2: newWithOld (the new root's key "
		    "signed with the old root's) is missing", f);
		goto out;
	}
	X509_up_ref(ca->old_root);
	X509_up_ref(ca->new_with_old);
	if (ca->old_with_new != NULL)
		X509_up_ref(ca->old_with_new);
	rc = 0;
out:
	if (rc != 0)
		ca->old_root = ca->new_with_old = ca->old_with_new = NULL;
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* Every certificate cmpca may send (the signer, the chain in extraCerts,
 * caCerts and caPubs, the rollover's) must be X.509 v3: BouncyCastle-based
 * peers refuse a CMP message with a v1 or v2 certificate anywhere in it. */
static int
check_v3(const char *what, X509 *x, struct pk_err *e)
{
	struct sbuf n = SBUF_INIT;

	if (x == NULL || X509_get_version(x) == X509_VERSION_3)
		return 0;
	pk_name_sbuf(X509_get_subject_name(x), &n);
	pk_err_set(e, "%s: the certificate %s is X.509 v%ld; CMP peers (BouncyCastle) "
	    "refuse anything but v3 in a message", what, sbuf_str(&n),
	    X509_get_version(x) + 1);
	sbuf_free(&n);
	return -1;
}

static int
sent_certs_v3(struct ca *ca, struct pk_err *e)
{
	int i;

	if (check_v3("signer-cert", ca->signer_cert, e) != 0)
		return -1;
	for (i = 0; i < sk_X509_num(ca->chain); i++)
		if (check_v3(i == 0 ? "ca-cert" : "the CA's chain",
		    sk_X509_value(ca->chain, i), e) != 0)
			return -1;
	for (i = 0; i < sk_X509_num(ca->resp_chain); i++)
		if (check_v3("extra-certs", sk_X509_value(ca->resp_chain, i), e) != 0)
			return -1;
	for (i = 0; i < sk_X509_num(ca->capubs); i++)
		if (check_v3("capubs", sk_X509_value(ca->capubs, i), e) != 0)
			return -1;
	if (check_v3("previous-ca-cert", ca->old_root, e) != 0 ||
	    check_v3("previous-ca-cert", ca->new_with_old, e) != 0 ||
	    check_v3("previous-ca-cert", ca->old_with_new, e) != 0)
		return -1;
	return 0;
}

/* ca_open and ca_check: CHECK_ONLY loads and checks without writing. */
static int
open_ca(struct ca **out, const struct ca_config *cfg, int check_only,
    struct pk_err *e)
{
	struct ca *ca = xcalloc(1, sizeof(*ca));
	char *lock = NULL;
	int lfd = -1, rc = -1;
	size_t i;

	*out = NULL;
	ca->cfg = cfg;
	ca->check_only = check_only;
	ca->dir = xstrdup(cfg->dir != NULL ? cfg->dir : CA_DEFAULT_DIR);
	ca->db_path = storage_path(ca->dir, "ca.db");
	if ((cfg->ca_cert == NULL) != (cfg->ca_key == NULL)) {
		pk_err_set(e, "--ca-cert and --ca-key go together");
		goto out;
	}
	if ((cfg->signer_cert == NULL) != (cfg->signer_key == NULL)) {
		pk_err_set(e, "--signer-cert and --signer-key go together");
		goto out;
	}
	if (!check_only) {
		if (mkdir(ca->dir, 0700) != 0 && errno != EEXIST) {
			pk_err_set(e, "cannot create %s: %s", ca->dir, strerror(errno));
			goto out;
		}
		if (ca_db_open(&ca->db, ca->db_path, e) != 0)
			goto out;
	}
	if (cfg->ca_cert != NULL) {
		ca->cert_path = xstrdup(cfg->ca_cert);
		ca->key_path = xstrdup(cfg->ca_key);
		if (load_one_cert(ca->cert_path, &ca->cert, e) != 0 ||
		    ca_load_key(ca->key_path, &ca->key, e) != 0)
			goto out;
	} else {
		ca->cert_path = storage_path(ca->dir, "ca.crt");
		ca->key_path = storage_path(ca->dir, "ca.key");
		if (check_only) {
			/* what a first run would make is not there yet */
			if (file_exists(ca->cert_path) &&
			    (load_one_cert(ca->cert_path, &ca->cert, e) != 0 ||
			    ca_load_key(ca->key_path, &ca->key, e) != 0))
				goto out;
		} else {
			lock = storage_path(ca->dir, ".lock");
			lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
				pk_err_set(e, "cannot lock %s: %s", lock,
				    strerror(errno));
				goto out;
			}
			if (load_or_create(ca, e) != 0)
				goto out;
		}
	}
	if (ca->cert != NULL) {
		if (check_pair(ca->cert, ca->key, "CA", e) != 0)
			goto out;
		/* RFC 5280 4.2.1.9: only a CA certificate may issue. */
		if (X509_check_ca(ca->cert) == 0) {
			pk_err_set(e, "%s is not a CA certificate", ca->cert_path);
			goto out;
		}
	}
	if (cfg->signer_cert != NULL) {
		if (load_one_cert(cfg->signer_cert, &ca->signer_cert, e) != 0 ||
		    ca_load_key(cfg->signer_key, &ca->signer_key, e) != 0 ||
		    check_pair(ca->signer_cert, ca->signer_key, "signer", e) != 0)
			goto out;
	} else if (ca->cert != NULL) {
		X509_up_ref(ca->cert);
		ca->signer_cert = ca->cert;
		EVP_PKEY_up_ref(ca->key);
		ca->signer_key = ca->key;
	}
	if (cfg->extra_certs != NULL) {
		if (ca_load_certs(cfg->extra_certs, &ca->extra, e) != 0)
			goto out;
	} else
		ca->extra = sk_X509_new_null();
	ca->trust_certs = sk_X509_new_null();
	ca->profs = xcalloc(cfg->nprofiles, sizeof(*ca->profs));
	for (i = 0; i < cfg->nprofiles; i++, ca->nprofs++)
		if (load_profile(ca, &ca->profs[i], cfg->profiles[i], e) != 0) {
			struct pk_err e2 = *e;

			ca->nprofs++;
			pk_err_set(e, "profile %s: %s", cfg->profiles[i]->name,
			    e2.msg);
			goto out;
		}
	if (ca->cert != NULL &&
	    (build_chain(ca, e) != 0 || response_certs(ca, e) != 0))
		goto out;
	if (ca->cert != NULL && cfg->previous_ca_cert != NULL &&
	    load_rollover(ca, e) != 0)
		goto out;
	if (ca->cert == NULL && cfg->capubs != NULL &&
	    ca_load_certs(cfg->capubs, &ca->capubs, e) != 0)
		goto out;
	if (sent_certs_v3(ca, e) != 0)
		goto out;
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);	/* releases the lock */
	free(lock);
	if (rc != 0) {
		ca_close(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

int
ca_open(struct ca **out, const struct ca_config *cfg, struct pk_err *e)
{
	return open_ca(out, cfg, 0, e);
}

int
ca_check(struct ca **out, const struct ca_config *cfg, struct pk_err *e)
{
	return open_ca(out, cfg, 1, e);
}

void
ca_close(struct ca *ca)
{
	size_t i;

	if (ca == NULL)
		return;
	ca_db_close(ca->db);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	X509_free(ca->signer_cert);
	EVP_PKEY_free(ca->signer_key);
	sk_X509_pop_free(ca->extra, X509_free);
	sk_X509_pop_free(ca->trust_certs, X509_free);
	sk_X509_pop_free(ca->chain, X509_free);
	sk_X509_pop_free(ca->resp_chain, X509_free);
	sk_X509_pop_free(ca->capubs, X509_free);
	X509_free(ca->old_root);
	X509_free(ca->new_with_old);
	X509_free(ca->old_with_new);
	for (i = 0; i < ca->nprofs; i++) {
		storage_wipe_free(ca->profs[i].secret);
		storage_wipe_free(ca->profs[i].admin_secret);
		free(ca->profs[i].secret_path);
		X509_STORE_free(ca->profs[i].trust);
	}
	free(ca->profs);
	free(ca->dir);
	free(ca->cert_path);
	free(ca->key_path);
	free(ca->db_path);
	free(ca);
}

int ca_created(const struct ca *ca) { return ca->created; }
const char *ca_cert_path(const struct ca *ca) { return ca->cert_path; }
const char *ca_key_path(const struct ca *ca) { return ca->key_path; }
const char *ca_db_path(const struct ca *ca) { return ca->db_path; }
const char *ca_secret_path(const struct ca *ca) { return ca->profs[0].secret_path; }
const char *ca_get0_secret(const struct ca *ca) { return ca->profs[0].secret; }
const struct ca_config *ca_get0_config(const struct ca *ca) { return ca->cfg; }
X509 *ca_get0_cert(const struct ca *ca) { return ca->cert; }
EVP_PKEY *ca_get0_key(const struct ca *ca) { return ca->key; }
struct ca_db *ca_get0_db(const struct ca *ca) { return ca->db; }
X509 *ca_get0_signer_cert(const struct ca *ca) { return ca->signer_cert; }
EVP_PKEY *ca_get0_signer_key(const struct ca *ca) { return ca->signer_key; }
STACK_OF(X509) *ca_get0_extra_certs(const struct ca *ca) { return ca->extra; }
X509_STORE *ca_get0_trust(const struct ca *ca) { return ca->profs[0].trust; }
size_t ca_nprofs(const struct ca *ca) { return ca->nprofs; }
const struct ca_prof *ca_get0_prof(const struct ca *ca, size_t i) { return &ca->profs[i]; }

const struct ca_prof *
ca_route(const struct ca *ca, const char *path)
{
	const struct ca_profile *p = ca_config_route(ca->cfg, path);
	size_t i;

	for (i = 0; p != NULL && i < ca->nprofs; i++)
		if (ca->profs[i].cfg == p)
			return &ca->profs[i];
	return NULL;
}
STACK_OF(X509) *ca_get0_chain(const struct ca *ca) { return ca->chain; }
X509 *ca_get0_root(const struct ca *ca) { return ca->root; }
X509 *ca_get0_old_root(const struct ca *ca) { return ca->old_root; }
X509 *ca_get0_new_with_old(const struct ca *ca) { return ca->new_with_old; }
X509 *ca_get0_old_with_new(const struct ca *ca) { return ca->old_with_new; }
STACK_OF(X509) *ca_get0_resp_chain(const struct ca *ca) { return ca->resp_chain; }
STACK_OF(X509) *ca_get0_capubs(const struct ca *ca) { return ca->capubs; }

const char *
ca_get0_ref(const struct ca *ca)
{
	return ca->cfg->def.ref != NULL ? ca->cfg->def.ref : CA_DEFAULT_REF;
}

/* ---- issuance ---- */

static const char *
ee_key_usage(EVP_PKEY *pub)
{
	if (EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS"))
		return "critical,digitalSignature,keyEncipherment";
	if (EVP_PKEY_is_a(pub, "EC"))
		return "critical,digitalSignature,keyAgreement";
	return "critical,digitalSignature";
}

int
ca_key_policy(EVP_PKEY *pub, struct pk_err *e)
{
	char grp[64];
	int nid = NID_undef, bits = EVP_PKEY_get_bits(pub);

	if (EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS")) {
		if (bits >= CA_MIN_RSA_BITS)
			return 0;
		return pk_err_set(e, "key policy: an RSA key of %d bits is refused; "
		    "this CA certifies RSA of %d bits and more, EC P-256, P-384 or "
		    "P-521, Ed25519 and Ed448", bits, CA_MIN_RSA_BITS);
	}
	if (EVP_PKEY_is_a(pub, "ED25519") || EVP_PKEY_is_a(pub, "ED448"))
		return 0;
	if (EVP_PKEY_is_a(pub, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pub, "group", grp, sizeof(grp),
		    NULL)) {
			nid = OBJ_txt2nid(grp);
			if (nid == NID_undef)
				nid = EC_curve_nist2nid(grp);
		} else
			snprintf(grp, sizeof(grp), "(explicit parameters)");
		ERR_clear_error();
		if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ||
		    nid == NID_secp521r1)
			return 0;
		return pk_err_set(e, "key policy: an EC key on curve %s is refused; "
		    "this CA certifies EC P-256, P-384 or P-521, RSA of %d bits and "
		    "more, Ed25519 and Ed448", grp, CA_MIN_RSA_BITS);
	}
	return pk_err_set(e, "key policy: a %s key is refused; this CA certifies "
	    "RSA of %d bits and more, EC P-256, P-384 or P-521, Ed25519 and Ed448",
	    OBJ_nid2sn(EVP_PKEY_get_base_id(pub)), CA_MIN_RSA_BITS);
}

/* 1 when NAME is the subject of X (NULL: no). */
static int
names(const X509_NAME *name, X509 *x)
{
	return x != NULL && X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;
}

/* 1 when NAME (not empty) is a name this CA answers to: the subject of a
 * certificate of its chain, of the response signer, of the roots before and
 * after a key rollover. An end-entity certificate with such a subject would
 * be self-issued (RFC 5280 6.1) or pass for one of these CAs. */
static int
is_ca_name(const struct ca *ca, const X509_NAME *name)
{
	int i;

	for (i = 0; i < sk_X509_num(ca->chain); i++)
		if (names(name, sk_X509_value(ca->chain, i)))
			return 1;
	return names(name, ca->cert) || names(name, ca->signer_cert) ||
	    names(name, ca->old_root) || names(name, ca->new_with_old) ||
	    names(name, ca->old_with_new);
}

/*
 * The certificate's subjectPublicKeyInfo from SPKI, the request's encoding of
 * the key, copied field by field. X509_set_pubkey() would encode the key and
 * decode it again (OpenSSL 3.0 sets up a decoder for every key decoded, the
 * dearest step of an issuance after the commit); the key was decoded once
 * already, with the request. RFC 5280 4.1.2.7: the field is the subject's key
 * as is. The new certificate then has no decoded key cached: what uses it
 * encodes, hashes or signs it, and a copy decoded from DER has one.
 */
static int
copy_spki(X509 *x, const X509_PUBKEY *spki)
{
	ASN1_OBJECT *obj;
	const unsigned char *bits;
	int nbits;
	X509_ALGOR *alg, *a2 = NULL;
	ASN1_TYPE *param;
	unsigned char *copy = NULL;
	int type = V_ASN1_UNDEF;
	void *val = NULL;

	if (!X509_PUBKEY_get0_param(&obj, &bits, &nbits, &alg,
	    (X509_PUBKEY *)spki) || alg == NULL || nbits <= 0 ||
	    (a2 = X509_ALGOR_dup(alg)) == NULL ||
	    (copy = OPENSSL_memdup(bits, (size_t)nbits)) == NULL)
		goto fail;
	/* take the duplicate's parts: X509_PUBKEY_set0_param owns them */
	obj = a2->algorithm;
	a2->algorithm = NULL;
	if ((param = a2->parameter) != NULL) {
		type = param->type;
		val = param->value.ptr;
		param->value.ptr = NULL;
		param->type = V_ASN1_NULL;
	}
	X509_ALGOR_free(a2);
	a2 = NULL;
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), obj, type, val,
	    copy, nbits)) {
		ASN1_OBJECT_free(obj);
		if (val != NULL) {
			ASN1_TYPE *t = ASN1_TYPE_new();

			if (t != NULL)
				ASN1_TYPE_set(t, type, val);
			ASN1_TYPE_free(t);
		}
		goto fail;
	}
	return 1;
fail:
	X509_ALGOR_free(a2);
	OPENSSL_free(copy);
	return 0;
}

int
ca_issue(struct ca *ca, EVP_PKEY *pub, const X509_PUBKEY *spki,
    const X509_NAME *subject, const GENERAL_NAMES *san, long validity,
    const char *tid, X509 **out, struct pk_err *e)
{
	X509 *x = NULL;
	ASN1_INTEGER *serial = NULL;
	X509V3_CTX ctx;
	int empty_subject = subject == NULL || X509_NAME_entry_count(subject) == 0;
	int rc = -1;

	*out = NULL;
	if (pub == NULL) {
		pk_err_set(e, "no public key to certify");
		goto out;
	}
	if (ca_key_policy(pub, e) != 0) {
		rc = -2;
		goto out;
	}
	/* RFC 5280 4.1.2.6: an empty subject needs a subjectAltName. */
	if (empty_subject && (san == NULL || sk_GENERAL_NAME_num(san) == 0)) {
		pk_err_set(e, "RFC 5280 4.1.2.6: the subject is empty and no "
		    "subjectAltName was requested");
		rc = -2;
		goto out;
	}
	/* RFC 5280 4.1.2.6: a subject name names one entity certified by this
	 * CA: never the CA itself or a CA of its chain */
	if (!empty_subject && is_ca_name(ca, subject)) {
		struct sbuf n = SBUF_INIT;

		pk_name_sbuf(subject, &n);
		pk_err_set(e, "RFC 5280 4.1.2.6: the subject %s is the name of this "
		    "CA or of a CA of its chain; an end entity never gets it",
		    sbuf_str(&n));
		sbuf_free(&n);
		rc = -2;
		goto out;
	}
	if (validity <= 0)
		validity = ca->cfg->def.validity > 0 ? ca->cfg->def.validity :
		    CA_DEFAULT_VALIDITY;
	if ((x = X509_new()) == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	if (ca_db_new_serial(ca->db, &serial, e) != 0)
		goto out;
	/* BouncyCastle refuses v1/v2 certificates anywhere (PEERS.md): v3 only. */
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !(subject != NULL ? X509_set_subject_name(x, subject) : 1) ||
	    !(spki != NULL ? copy_spki(x, spki) : X509_set_pubkey(x, pub))) {
		pk_err_ossl(e, "cannot build the certificate");
		goto out;
	}
	if (set_validity(x, validity, e) != 0)
		goto out;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	/* RFC 5280 4.2.1.1: the AKI names the CA's key identifier; a CA
	 * certificate without one (older, explicit --ca-cert) is named by its
	 * issuer and serial instead. */
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", e) != 0 ||
	    add_ext(x, &ctx, NID_key_usage, ee_key_usage(pub), e) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", e) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier,
	    X509_get0_subject_key_id(ca->cert) != NULL ? "keyid:always" :
	    "issuer:always", e) != 0)
		goto out;
	if (san != NULL && sk_GENERAL_NAME_num(san) > 0 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, (void *)san, empty_subject,
	    X509V3_ADD_REPLACE) != 1) {
		pk_err_ossl(e, "cannot add the subjectAltName");
		goto out;
	}
	if (X509_sign(x, ca->key, sign_md(ca->key)) <= 0) {
		pk_err_ossl(e, "cannot sign the certificate");
		goto out;
	}
	if (ca_db_add_cert(ca->db, x, tid, e) != 0)
		goto out;
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	ASN1_INTEGER_free(serial);
	return rc;
}
