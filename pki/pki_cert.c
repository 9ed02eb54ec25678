/*
 * pki certificates: decoding and describing certificate files, the certificate
 * store files, import (CA and local, a local one recorded with its key pair),
 * delete, `display pki certificate` and `pki validate-certificate`. Contract in
 * pki.h; the store file format in pki_int.h.
 */
#include "pki_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../storage/storage.h"

static const char *
kind_word(enum pki_cert_kind k)
{
	return k == PKI_CERT_CA ? "CA" : "local";
}

char *
pki_cert_path(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	unsigned char md[32];
	char *hex, *path;
	char base[128];

	if (EVP_Digest(name, strlen(name), md, NULL, EVP_sha256(), NULL) != 1)
		abort();	/* SHA-256 of a short string cannot fail */
	hex = pk_hex(md, sizeof(md), 0);
	snprintf(base, sizeof(base), "cert-%s-%s.pem",
	    kind == PKI_CERT_CA ? "ca" : "local", hex);
	path = storage_path(storage_store_dir(p->st), base);
	free(hex);
	return path;
}

/* ---- records -------------------------------------------------------- */

void
pki_certrec_free(struct certrec *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->realm);
	free(c->key_name);
	X509_free(c->x);
	free(c);
}

static int
cert_order(enum pki_cert_kind ka, const char *na, enum pki_cert_kind kb,
    const char *nb)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(na, nb);
}

/* The index of the first record not below (KIND, NAME) in the list's order: a
 * binary search. */
static size_t
cert_lower_bound(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	size_t lo = 0, hi = p->ncerts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cert_order(p->certs[mid]->kind, p->certs[mid]->name, kind, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct certrec *
pki_certrec_find(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	i = cert_lower_bound(p, kind, name);
	return i < p->ncerts && p->certs[i]->kind == kind &&
	    strcmp(p->certs[i]->name, name) == 0 ? p->certs[i] : NULL;
}

void
pki_cas_rebuild(struct pki *p)
{
	sk_X509_pop_free(p->cas, X509_free);
	p->cas = sk_X509_new_null();
	if (p->cas == NULL)
		abort();	/* out of memory, as xmalloc */
	for (size_t i = 0; i < p->ncerts; i++) {
		if (p->certs[i]->kind != PKI_CERT_CA)
			continue;
		if (!X509_up_ref(p->certs[i]->x) ||
		    sk_X509_push(p->cas, p->certs[i]->x) <= 0)
			abort();
	}
}

void
pki_certrec_put(struct pki *p, struct certrec *c)
{
	size_t i = cert_lower_bound(p, c->kind, c->name);

	if (i < p->ncerts && p->certs[i]->kind == c->kind &&
	    strcmp(p->certs[i]->name, c->name) == 0) {
		pki_certrec_free(p->certs[i]);
		p->certs[i] = c;
		pki_cas_rebuild(p);
		return;
	}
	p->certs = xrealloc(p->certs, (p->ncerts + 1) * sizeof(*p->certs));
	memmove(p->certs + i + 1, p->certs + i, (p->ncerts - i) * sizeof(*p->certs));
	p->certs[i] = c;
	p->ncerts++;
	pki_cas_rebuild(p);
}

static void
cert_drop(struct pki *p, struct certrec *c)
{
	for (size_t i = 0; i < p->ncerts; i++) {
		if (p->certs[i] == c) {
			memmove(p->certs + i, p->certs + i + 1,
			    (p->ncerts - i - 1) * sizeof(*p->certs));
			p->ncerts--;
			pki_certrec_free(c);
			pki_cas_rebuild(p);
			return;
		}
	}
}

/* ---- store: certificates -------------------------------------------- */

int
pki_certrec_write(const struct pki *p, const struct certrec *c,
    struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *path = NULL;
	char *data = NULL;
	long n;
	int rc = -1;

	if (b == NULL) {
		pk_err_ossl(e, "cannot save the certificate %s", c->name);
		goto out;
	}
	if (BIO_printf(b, "%s\nkind: %s\nname: %s\nrealm: %s\nkey: %s\n", PKI_CERT_MAGIC,
	    c->kind == PKI_CERT_CA ? "ca" : "local", c->name, c->realm,
	    c->key_name != NULL ? c->key_name : "-") <= 0 ||
	    PEM_write_bio_X509(b, c->x) != 1) {
		pk_err_ossl(e, "cannot save the certificate %s", c->name);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	path = pki_cert_path(p, c->kind, c->name);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);
	return rc;
}

int
pki_certrec_load(struct pki *p, const char *path, struct certrec **out,
    struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct certrec *c = NULL;
	char *v = NULL, *expect = NULL;
	int rc = -1;

	*out = NULL;
	if (storage_read(path, PKI_FILE_MAX, &data, &len, e) != 0)
		goto out;
	if (strncmp((char *)data, PKI_CERT_MAGIC "\n", strlen(PKI_CERT_MAGIC) + 1) != 0) {
		pk_err_set(e, "%s is not a certificate file of this device", path);
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	v = pki_header_dup((char *)data, "kind");
	if (v != NULL && strcmp(v, "ca") == 0)
		c->kind = PKI_CERT_CA;
	else if (v != NULL && strcmp(v, "local") == 0)
		c->kind = PKI_CERT_LOCAL;
	else {
		pk_err_set(e, "%s has no valid certificate kind", path);
		goto out;
	}
	c->name = pki_header_dup((char *)data, "name");
	c->realm = pki_header_dup((char *)data, "realm");
	c->key_name = pki_header_dup((char *)data, "key");
	if (c->name == NULL || !storage_name_ok(c->name, NULL) || c->realm == NULL ||
	    c->key_name == NULL) {
		pk_err_set(e, "%s has incomplete metadata", path);
		goto out;
	}
	if (strcmp(c->key_name, "-") == 0) {
		free(c->key_name);
		c->key_name = NULL;
	}
	expect = pki_cert_path(p, c->kind, c->name);
	if (strcmp(expect, path) != 0) {
		pk_err_set(e, "%s does not belong to certificate %s", path, c->name);
		goto out;
	}
	if (pki_cert_decode(data, len, PKI_FMT_PEM, path, &c->x, e) != 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(v);
	free(expect);
	free(data);
	pki_certrec_free(c);
	return rc;
}

/* ---- certificates --------------------------------------------------- */

static int
not_a_cert(enum pki_cert_format fmt, const char *what, struct pk_err *e)
{
	return pk_err_set(e, "The file %s is not a valid certificate (%s).", what,
	    fmt == PKI_FMT_PEM ? "PEM" : fmt == PKI_FMT_DER ? "DER" : "PEM or DER");
}

int
pki_cert_decode(const unsigned char *data, size_t len, enum pki_cert_format fmt,
    const char *what, X509 **out, struct pk_err *e)
{
	unsigned char *der = NULL;
	char *pemname = NULL;
	long derlen = 0;
	const unsigned char *q;
	enum pki_cert_format f = fmt;
	BIO *b = NULL;
	X509 *x = NULL;
	int rc = -1;

	*out = NULL;
	if (what == NULL)
		what = "(data)";
	if (data == NULL || len == 0 || len > PKI_FILE_MAX) {
		not_a_cert(fmt, what, e);
		goto out;
	}
	if (f == PKI_FMT_AUTO)
		f = memmem(data, len, "-----BEGIN", 10) != NULL ? PKI_FMT_PEM :
		    PKI_FMT_DER;
	if (f == PKI_FMT_PEM) {
		/* The first CERTIFICATE block; other blocks are skipped. */
		if ((b = BIO_new_mem_buf(data, (int)len)) == NULL ||
		    PEM_bytes_read_bio(&der, &derlen, &pemname, PEM_STRING_X509, b,
		    pki_no_password, NULL) != 1) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
		q = der;
		x = d2i_X509(NULL, &q, derlen);
		if (x == NULL || q != der + derlen) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
	} else {
		q = data;
		x = d2i_X509(NULL, &q, (long)len);
		/* After every d2i: all input consumed, no trailing bytes. */
		if (x == NULL || q != data + len) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
	}
	/* Caches and checks the extensions before any getter relies on them. */
	if (X509_check_purpose(x, -1, 0) != 1) {
		ERR_clear_error();
		pk_err_set(e, "The certificate in %s has invalid extensions.", what);
		goto out;
	}
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	OPENSSL_free(der);
	OPENSSL_free(pemname);
	BIO_free(b);
	return rc;
}

int
pki_cert_load_file(struct pki *p, enum pki_cert_format fmt, const char *file,
    X509 **out, struct pk_err *e)
{
	unsigned char *data;
	size_t len;
	int rc;

	*out = NULL;
	if (pki_public_read(p, file, &data, &len, e) != 0)
		return -1;
	rc = pki_cert_decode(data, len, fmt, file, out, e);
	free(data);
	return rc;
}

void
pki_cert_describe(const struct pki *p, X509 *x, struct pki_cert_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_INTEGER *sn;
	const char *k;
	char *hex;

	memset(info, 0, sizeof(*info));
	pk_name_text(X509_get_subject_name(x), info->subject, sizeof(info->subject));
	pk_name_text(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer));
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
		hex = pk_hex(md, mdlen, ':');
		for (char *q = hex; *q; q++)
			if (*q >= 'a' && *q <= 'f')
				*q = (char)(*q - 'a' + 'A');
		snprintf(info->fingerprint, sizeof(info->fingerprint), "%s", hex);
		free(hex);
	}
	sn = X509_get0_serialNumber(x);
	if (sn != NULL && sn->length > 0) {
		hex = pk_hex(sn->data, (size_t)sn->length, ':');
		for (char *q = hex; *q; q++)
			if (*q >= 'a' && *q <= 'f')
				*q = (char)(*q - 'a' + 'A');
		snprintf(info->serial, sizeof(info->serial), "%s", hex);
		free(hex);
	}
	pk_asn1_time_text(X509_get0_notBefore(x), info->not_before,
	    sizeof(info->not_before));
	pk_asn1_time_text(X509_get0_notAfter(x), info->not_after,
	    sizeof(info->not_after));
	info->self_signed = X509_self_signed(x, 1) == 1;
	if (p != NULL && (k = pki_key_match_cert(p, x)) != NULL)
		snprintf(info->key_name, sizeof(info->key_name), "%s", k);
	ERR_clear_error();
}

int
pki_cert_file_info(struct pki *p, enum pki_cert_format fmt, const char *file,
    struct pki_cert_info *info, struct pk_err *e)
{
	X509 *x;

	if (pki_cert_load_file(p, fmt, file, &x, e) != 0)
		return -1;
	pki_cert_describe(p, x, info);
	X509_free(x);
	return 0;
}

int
pki_certrec_make(struct pki *p, enum pki_cert_kind kind, const char *realm,
    X509 *x, const char *cert_name, const char *key_name, struct certrec **out,
    struct pk_err *e)
{
	struct certrec *c = NULL;
	const char *key = key_name;
	int rc = -1;

	*out = NULL;
	if (realm == NULL)
		realm = PKI_DEFAULT_REALM;
	if (kind != PKI_CERT_CA && kind != PKI_CERT_LOCAL) {
		pk_err_set(e, "Unknown certificate kind.");
		goto out;
	}
	if (!pki_simple_name_ok("realm name", realm, e))
		goto out;
	if (cert_name == NULL || !storage_name_ok(cert_name, e))
		goto out;
	if (x == NULL || X509_check_purpose(x, -1, 0) != 1) {
		ERR_clear_error();
		pk_err_set(e, "The certificate %s has invalid extensions.", cert_name);
		goto out;
	}
	/* RFC 5280 4.2.1.9: only a certificate with cA set in basicConstraints (or
	 * a v1 self-signed root, which has no extensions) can be a CA. */
	if (kind == PKI_CERT_CA && X509_check_ca(x) == 0) {
		pk_err_set(e, "The certificate %s is not a CA certificate.", cert_name);
		goto out;
	}
	if (kind == PKI_CERT_LOCAL && key == NULL &&
	    (key = pki_key_match_cert(p, x)) == NULL) {
		pk_err_set(e, "The certificate does not match any key pair in the "
		    "device.");
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->name = xstrdup(cert_name);
	c->realm = xstrdup(realm);
	c->key_name = kind == PKI_CERT_LOCAL ? xstrdup(key) : NULL;
	if (!X509_up_ref(x)) {
		pk_err_ossl(e, "cannot keep the certificate");
		goto out;
	}
	c->x = x;
	*out = c;
	c = NULL;
	rc = 0;
out:
	pki_certrec_free(c);
	return rc;
}

int
pki_cert_import_x509(struct pki *p, enum pki_cert_kind kind, const char *realm,
    X509 *x, const char *cert_name, struct pki_cert_info *info, struct pk_err *e)
{
	struct certrec *c = NULL;
	int rc = -1;

	if (pki_certrec_make(p, kind, realm, x, cert_name, NULL, &c, e) != 0)
		goto out;
	if (pki_certrec_write(p, c, e) != 0)
		goto out;
	if (info != NULL)
		pki_cert_describe(p, x, info);
	pki_certrec_put(p, c);
	c = NULL;
	rc = 0;
out:
	pki_certrec_free(c);
	return rc;
}

int
pki_cert_import(struct pki *p, enum pki_cert_kind kind, const char *realm,
    enum pki_cert_format fmt, const char *file, const char *cert_name,
    struct pki_cert_info *info, struct pk_err *e)
{
	X509 *x;
	int rc;

	if (pki_cert_load_file(p, fmt, file, &x, e) != 0)
		return -1;
	rc = pki_cert_import_x509(p, kind, realm, x,
	    cert_name != NULL ? cert_name : file, info, e);
	X509_free(x);
	return rc;
}

int
pki_cert_delete(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct pk_err *e)
{
	size_t i = 0;
	int found = 0;

	if (file != NULL) {
		struct certrec *c = pki_certrec_find(p, kind, file);
		char *path;
		int rc;

		if (c == NULL)
			return pk_err_set(e, "The %s certificate %s does not exist in "
			    "the device.", kind_word(kind), file);
		path = pki_cert_path(p, kind, c->name);
		rc = storage_remove(path, e);
		free(path);
		if (rc == 0)
			cert_drop(p, c);
		return rc;
	}
	if (realm == NULL)
		return pk_err_set(e, "A file name or a realm is required.");
	while (i < p->ncerts) {
		struct certrec *c = p->certs[i];
		char *path;
		int rc;

		if (c->kind != kind || !pk_strcaseeq(c->realm, realm)) {
			i++;
			continue;
		}
		path = pki_cert_path(p, kind, c->name);
		rc = storage_remove(path, e);
		free(path);
		if (rc != 0)
			return -1;
		cert_drop(p, c);
		found++;
	}
	if (!found)
		return pk_err_set(e, "There is no %s certificate in realm %s.",
		    kind_word(kind), realm);
	return 0;
}

/* Appends OpenSSL's text dump of X for the parts of CFLAG (X509_print_ex). */
static int
print_part(X509 *x, unsigned long cflag, struct sbuf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d;
	long n;
	int rc = -1;

	if (b != NULL && X509_print_ex(b, x, 0, cflag) == 1) {
		n = BIO_get_mem_data(b, &d);
		if (n > 0)
			sbuf_add(out, d, (size_t)n);
		rc = 0;
	}
	BIO_free(b);
	return rc;
}

/* The layout of `openssl x509 -text` (X509_print_ex), except that Issuer, the
 * validity dates and Subject use the one name and time style of every screen
 * (util: "C=CN, O=Example, CN=Root CA", "2026-11-27 10:00:00 UTC"). OpenSSL
 * prints them between the signature algorithm and the public key, so the dump is
 * made of the part before them, our lines, and the part after them. */
static int
cert_display_one(const struct certrec *c, struct sbuf *out, struct pk_err *e)
{
	const unsigned long ours = X509_FLAG_NO_ISSUER | X509_FLAG_NO_VALIDITY |
	    X509_FLAG_NO_SUBJECT;
	const unsigned long head = ours | X509_FLAG_NO_PUBKEY | X509_FLAG_NO_IDS |
	    X509_FLAG_NO_EXTENSIONS | X509_FLAG_NO_SIGDUMP | X509_FLAG_NO_AUX;
	const unsigned long tail = ours | X509_FLAG_NO_HEADER | X509_FLAG_NO_VERSION |
	    X509_FLAG_NO_SERIAL | X509_FLAG_NO_SIGNAME;
	struct sbuf t = SBUF_INIT;
	char nb[40], na[40];
	int rc = -1;

	if (print_part(c->x, head, &t) != 0)
		goto out;
	sbuf_puts(&t, "        Issuer: ");
	pk_name_sbuf(X509_get_issuer_name(c->x), &t);
	sbuf_printf(&t, "\n        Validity\n            Not Before: %s\n"
	    "            Not After : %s\n",
	    pk_asn1_time_text(X509_get0_notBefore(c->x), nb, sizeof(nb)),
	    pk_asn1_time_text(X509_get0_notAfter(c->x), na, sizeof(na)));
	sbuf_puts(&t, "        Subject: ");
	pk_name_sbuf(X509_get_subject_name(c->x), &t);
	sbuf_putc(&t, '\n');
	if (print_part(c->x, tail, &t) != 0)
		goto out;
	sbuf_putc(out, '\n');
	sbuf_puts(out, sbuf_str(&t));
	sbuf_printf(out, "Pki realm name: %s\n", c->realm);
	sbuf_printf(out, "Certificate file name: %s\n", c->name);
	sbuf_puts(out, "Certificate peer name: -\n");
	rc = 0;
out:
	if (rc != 0)
		pk_err_ossl(e, "cannot display the certificate %s", c->name);
	sbuf_free(&t);
	return rc;
}

int
pki_cert_display(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct sbuf *out, struct pk_err *e)
{
	struct sbuf body = SBUF_INIT;
	size_t count = 0;
	int rc = -1;

	if (file != NULL && pki_certrec_find(p, kind, file) == NULL) {
		pk_err_set(e, "The %s certificate %s does not exist in the device.",
		    kind_word(kind), file);
		goto out;
	}
	for (size_t i = 0; i < p->ncerts; i++) {
		const struct certrec *c = p->certs[i];

		if (c->kind != kind || (file != NULL && strcmp(c->name, file) != 0) ||
		    (realm != NULL && !pk_strcaseeq(c->realm, realm)))
			continue;
		if (cert_display_one(c, &body, e) != 0)
			goto out;
		count++;
	}
	sbuf_printf(out, "Total Number: %zu\n", count);
	sbuf_puts(out, sbuf_str(&body));
	rc = 0;
out:
	sbuf_free(&body);
	return rc;
}

static const char *
verify_reason(int err, int depth, char *buf, size_t size)
{
	switch (err) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CERT_HAS_EXPIRED:
		if (depth == 0)
			return "The certificate is ineffective or expired.";
		return "A CA certificate of the chain is ineffective or expired.";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "The issuer's CA certificate is not imported.";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
		return "The certificate signature is invalid.";
	default:
		snprintf(buf, size, "The certificate chain is invalid (%s).",
		    X509_verify_cert_error_string(err));
		return buf;
	}
}

/* Status and reason of X against the imported CA certificates: path validation
 * of RFC 5280 6.1 (signatures, validity periods, basicConstraints of the CAs) by
 * X509_verify_cert, with the imported CA certificates as trust anchors. */
static void
validate_x(struct pki *p, X509 *x, const char **status, const char **reason,
    char *buf, size_t size)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *pub;

	*status = "Invalid";
	if (X509_self_signed(x, 0) == 1) {
		pub = X509_get0_pubkey(x);
		if (pub == NULL || X509_verify(x, pub) != 1)
			*reason = "The certificate signature is invalid.";
		else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
		    X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
			*reason = "The certificate is ineffective or expired.";
		else {
			*status = "Self-sign";
			*reason = "-";
		}
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		*reason = "Out of memory.";
		goto out;
	}
	for (int i = 0; i < sk_X509_num(p->cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(p->cas, i));
	/* An imported intermediate CA is a trust anchor of its own. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
		*reason = "The certificate cannot be checked.";
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		*status = "Valid";
		*reason = "-";
	} else {
		*reason = verify_reason(X509_STORE_CTX_get_error(ctx),
		    X509_STORE_CTX_get_error_depth(ctx), buf, size);
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

int
pki_cert_validate(struct pki *p, enum pki_cert_kind kind, const char *file,
    struct sbuf *out, int *valid, struct pk_err *e)
{
	X509 *x = NULL;
	struct certrec *c;
	struct stat sb;
	char *path = NULL;
	char subject[512], rbuf[300];
	const char *status, *reason;
	int w1, w2, rc = -1;

	if (valid != NULL)
		*valid = 0;
	if (file == NULL || !storage_name_ok(file, e))
		goto out;
	path = storage_path(storage_public_dir(p->st), file);
	c = pki_certrec_find(p, kind, file);
	if (lstat(path, &sb) != 0 && errno == ENOENT && c != NULL) {
		x = c->x;
		X509_up_ref(x);
	} else if (pki_cert_load_file(p, PKI_FMT_AUTO, file, &x, e) != 0) {
		goto out;
	}
	validate_x(p, x, &status, &reason, rbuf, sizeof(rbuf));
	pk_name_text(X509_get_subject_name(x), subject, sizeof(subject));
	w1 = (int)strlen(file) > 11 ? (int)strlen(file) : 11;
	w2 = (int)strlen(subject) > 7 ? (int)strlen(subject) : 7;
	sbuf_printf(out, "%-*s  %-*s  %-9s  %s\n", w1, "Certificate", w2, "Subject",
	    "Status", "Reason");
	sbuf_printf(out, "%-*s  %-*s  %-9s  %s\n", w1, file, w2, subject, status,
	    reason);
	if (valid != NULL)
		*valid = strcmp(status, "Invalid") != 0;
	rc = 0;
out:
	free(path);
	X509_free(x);
	return rc;
}

char **
pki_cert_names(const struct pki *p, enum pki_cert_kind kind)
{
	char **v = xcalloc(p->ncerts + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < p->ncerts; i++)
		if (p->certs[i]->kind == kind)
			v[n++] = xstrdup(p->certs[i]->name);
	v[n] = NULL;
	return v;
}

STACK_OF(X509) *
pki_ca_certs_get0(const struct pki *p)
{
	return p->cas;
}

X509 *
pki_cert_get0(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	struct certrec *c = pki_certrec_find(p, kind, name);

	return c != NULL ? c->x : NULL;
}

X509 *
pki_local_cert_get0(const struct pki *p, const char *name)
{
	return pki_cert_get0(p, PKI_CERT_LOCAL, name);
}

const char *
pki_cert_key_name(const struct pki *p, const char *name)
{
	struct certrec *c = pki_certrec_find(p, PKI_CERT_LOCAL, name);

	return c != NULL ? c->key_name : NULL;
}

const char *
pki_cert_realm(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	struct certrec *c = pki_certrec_find(p, kind, name);

	return c != NULL ? c->realm : NULL;
}
