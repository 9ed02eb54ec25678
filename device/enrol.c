/*
 * Enrolment: one IR/CR/KUR of a CMP session on the cmp/ engine, and storing what
 * came back (device_int.h: prepare, run, finish). The certificate, with
 * regenerate the new key pair, and the store's copy change together through a
 * journal in the store, which device_journal_recover() completes after a crash.
 * Before the request, with template-query, the CA's certificate request
 * template (genm certReqTemplate, RFC 9483 4.3.3) and the fitting of the key
 * and subject to it. Also the genm caCerts of device_ca_certs() (RFC 9483
 * 4.3.1): the CA certificates saved as files, not imported.
 * Everything OpenSSL-specific of a session lives here so the console stays free
 * of OpenSSL headers. The request kind becomes the protocol's in one place
 * (cmp_kind).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../cmp/cmp.h"
#include "../storage/storage.h"
#include "device_int.h"

/* Parses "C=CN,O=Example,CN=CA" or "/C=CN/O=Example/CN=CA" (RFC 4514-like, no
 * escapes) into a new X509_NAME. */
static int
parse_dn(const char *text, X509_NAME **out, struct pk_err *e)
{
	char sep = text[0] == '/' ? '/' : ',';
	char *copy = xstrdup(text[0] == '/' ? text + 1 : text), *save = NULL;
	X509_NAME *n = X509_NAME_new();
	int rc = -1, count = 0;
	char seps[2] = { sep, '\0' };

	*out = NULL;
	for (char *rdn = strtok_r(copy, seps, &save); rdn != NULL;
	    rdn = strtok_r(NULL, seps, &save)) {
		char *eq, *k, *v, *end;

		while (*rdn == ' ')
			rdn++;
		eq = strchr(rdn, '=');
		if (eq == NULL || eq == rdn) {
			pk_err_set(e, "\"%s\" is not an attribute=value pair", rdn);
			goto out;
		}
		*eq = '\0';
		k = rdn;
		v = eq + 1;
		for (end = k + strlen(k); end > k && end[-1] == ' '; end--)
			end[-1] = '\0';
		while (*v == ' ')
			v++;
		for (end = v + strlen(v); end > v && end[-1] == ' '; end--)
			end[-1] = '\0';
		if (*v == '\0') {
			pk_err_set(e, "the attribute %s has no value", k);
			goto out;
		}
		if (OBJ_txt2nid(k) == NID_undef) {
			pk_err_set(e, "unknown attribute \"%s\"", k);
			goto out;
		}
		if (!X509_NAME_add_entry_by_txt(n, k, MBSTRING_UTF8,
		    (const unsigned char *)v, -1, -1, 0)) {
			pk_err_ossl(e, "cannot use %s=%s", k, v);
			goto out;
		}
		count++;
	}
	if (count == 0) {
		pk_err_set(e, "the name is empty");
		goto out;
	}
	*out = n;
	n = NULL;
	rc = 0;
out:
	X509_NAME_free(n);
	free(copy);
	return rc;
}

int
device_ca_name_ok(const char *text, struct pk_err *e)
{
	/* The last name found valid: a saved configuration names the same CA in
	 * session after session, and parse_dn's verdict depends on the text
	 * alone (OpenSSL's attribute table is fixed), so the same text is not
	 * parsed again. A name not valid is parsed each time, for its reason. */
	static _Thread_local char last_ok[256];
	X509_NAME *n = NULL;
	struct pk_err why;

	if (last_ok[0] != '\0' && strcmp(last_ok, text) == 0)
		return 1;
	if (parse_dn(text, &n, &why) != 0) {
		pk_err_set(e, "The CA name is not valid: %s.", why.msg);
		return 0;
	}
	X509_NAME_free(n);
	if (strlen(text) < sizeof(last_ok))
		strcpy(last_ok, text);
	return 1;
}

int
enrol_write_cert(struct storage *st, const char *file, X509 *x, struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	char *path;
	int rc;

	if (b == NULL || !PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return pk_err_ossl(e, "cannot encode the certificate");
	}
	len = BIO_get_mem_data(b, &data);
	path = storage_path(storage_public_dir(st), file);
	rc = storage_write_atomic(path, data, (size_t)len, 0644, e);
	free(path);
	BIO_free(b);
	return rc;
}

/* ---- the update journal ----
 * store/cmp-pending-<hex of session name>: "file: F", "key: K" (when a key pair is
 * replaced), "local: 0|1" (import F as a local certificate: the store's copy is
 * kept current), "realm: R" (the realm of a new local record; an existing record
 * keeps its own), then the certificate PEM and, with a key, the private key PEM.
 * Written atomically (0600), applied (each step idempotent), then removed. */

static char *
journal_path(struct storage *st, const char *session)
{
	char *hex = pk_hex((const unsigned char *)session, strlen(session), 0);
	char name[300];

	snprintf(name, sizeof(name), "cmp-pending-%s", hex);
	free(hex);
	return storage_path(storage_store_dir(st), name);
}

static int
journal_write(struct storage *st, const char *session, const char *file,
    const char *key_name, EVP_PKEY *key, X509 *cert, int local, const char *realm,
    struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *path;
	long len;
	int rc = -1;

	if (b == NULL)
		return pk_err_ossl(e, "cannot write the update journal");
	BIO_printf(b, "file: %s\n", file);
	if (key_name != NULL)
		BIO_printf(b, "key: %s\n", key_name);
	BIO_printf(b, "local: %d\n", local);
	if (local && realm != NULL)
		BIO_printf(b, "realm: %s\n", realm);
	if (!PEM_write_bio_X509(b, cert) ||
	    (key != NULL && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
	    NULL))) {
		pk_err_ossl(e, "cannot write the update journal");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	path = journal_path(st, session);
	rc = storage_write_atomic(path, data, (size_t)len, 0600, e);
	free(path);
out:
	BIO_free(b);
	return rc;
}

static const char *
header(const char *data, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);

	for (const char *l = data; l != NULL && *l != '\0' && *l != '-';
	    l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, nl) == 0 && l[nl] == ':' && l[nl + 1] == ' ') {
			size_t k = strcspn(l + nl + 2, "\n");

			if (k >= n)
				return NULL;
			memcpy(buf, l + nl + 2, k);
			buf[k] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* Applies and removes the journal of SESSION. */
static int
journal_apply(struct pki *p, struct storage *st, const char *session,
    struct pk_err *e)
{
	char *path = journal_path(st, session);
	unsigned char *data = NULL;
	size_t len;
	char file[300], key[PKI_NAME_MAX + 1], local[8], realm[PKI_NAME_MAX + 1];
	BIO *b = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = -1;

	if (storage_read(path, 1 << 20, &data, &len, e) != 0)
		goto out;
	if (header((char *)data, "file", file, sizeof(file)) == NULL ||
	    !storage_name_ok(file, e)) {
		pk_err_set(e, "the update journal %s is corrupt", path);
		goto out;
	}
	b = BIO_new_mem_buf(data, (int)len);
	cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	if (cert == NULL) {
		pk_err_ossl(e, "the update journal %s is corrupt", path);
		goto out;
	}
	if (header((char *)data, "key", key, sizeof(key)) != NULL) {
		pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		if (pkey == NULL) {
			pk_err_ossl(e, "the update journal %s is corrupt", path);
			goto out;
		}
		if (pki_key_replace(p, key, pkey, e) != 0)
			goto out;
	}
	if (enrol_write_cert(st, file, cert, e) != 0)
		goto out;
	if (header((char *)data, "local", local, sizeof(local)) != NULL &&
	    strcmp(local, "1") == 0) {
		/* an existing record keeps its realm; a new one takes the journal's */
		const char *old = pki_cert_realm(p, PKI_CERT_LOCAL, file);
		char *r = old != NULL ? xstrdup(old) :
		    header((char *)data, "realm", realm, sizeof(realm)) != NULL ?
		    xstrdup(realm) : NULL;
		int irc = pki_cert_import_x509(p, PKI_CERT_LOCAL, r, cert, file, NULL, e);

		free(r);
		if (irc != 0)
			goto out;
	}
	rc = storage_remove(path, e);
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	BIO_free(b);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	free(path);
	return rc;
}

int
device_journal_recover(struct pki *p, struct storage *st, struct sbuf *report)
{
	char **names = NULL;
	int failed = 0;

	/* storage_list skips hidden files only; the journal names are plain */
	if (storage_list(storage_store_dir(st), &names, NULL) != 0)
		return -1;
	for (char **n = names; *n != NULL; n++) {
		const char *hex;
		size_t hl;
		char session[128];
		struct pk_err e;

		if (strncmp(*n, "cmp-pending-", 12) != 0)
			continue;
		hex = *n + 12;
		hl = strlen(hex);
		if (hl % 2 != 0 || hl / 2 >= sizeof(session))
			continue;
		for (size_t i = 0; i < hl / 2; i++) {
			unsigned v;

			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				v = '?';
			session[i] = (char)v;
		}
		session[hl / 2] = '\0';
		if (journal_apply(p, st, session, &e) == 0) {
			sbuf_printf(report, "completed the interrupted certificate update "
			    "of the CMP session %s\n", session);
		} else {
			sbuf_printf(report, "cannot complete the interrupted certificate "
			    "update of the CMP session %s: %s\n", session, e.msg);
			failed++;
		}
	}
	storage_list_free(names);
	return failed ? -1 : 0;
}

int
enrol_cert_get(struct pki *p, enum pki_cert_kind kind, const char *name,
    X509 **out, int *imported, struct pk_err *e)
{
	X509 *x = pki_cert_get0(p, kind, name);

	*out = NULL;
	if (imported != NULL)
		*imported = x != NULL;
	if (x != NULL) {
		if (!X509_up_ref(x))
			return pk_err_ossl(e, "out of memory");
		*out = x;
		return 0;
	}
	if (!pki_public_exists(p, name))
		return pk_err_set(e, "The certificate %s is neither an imported %s "
		    "certificate nor a file in flash:/pki/public.", name,
		    kind == PKI_CERT_CA ? "CA" : "local");
	return pki_cert_load_file(p, PKI_FMT_AUTO, name, out, e);
}

int
enrol_cert_validity(struct pki *p, const char *name, time_t *nb, time_t *na,
    struct pk_err *e)
{
	X509 *x = NULL;
	int rc = 0;

	if (enrol_cert_get(p, PKI_CERT_LOCAL, name, &x, NULL, e) != 0)
		return -1;
	if (pk_asn1_time(X509_get0_notBefore(x), nb) != 0 ||
	    pk_asn1_time(X509_get0_notAfter(x), na) != 0)
		rc = pk_err_set(e, "The certificate %s has an invalid validity.", name);
	X509_free(x);
	return rc;
}

int
enrol_auth_cert_info(struct pki *p, const char *name, struct pki_cert_info *info,
    struct pk_err *e)
{
	X509 *x = NULL;

	if (enrol_cert_get(p, PKI_CERT_LOCAL, name, &x, NULL, e) != 0)
		return -1;
	pki_cert_describe(p, x, info);
	X509_free(x);
	return 0;
}

/* The chain of CERT up to a trust anchor among the imported CA certificates,
 * without CERT itself (for extraCerts); NULL when none can be built. */
STACK_OF(X509) *
enrol_chain_of(struct pki *p, X509 *cert)
{
	STACK_OF(X509) *cas = pki_ca_certs_get0(p);
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *chain = NULL, *out = NULL;

	if (store == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	chain = X509_build_chain(cert, cas, store, 1, NULL, NULL);
	X509_STORE_free(store);
	ERR_clear_error();
	if (chain == NULL)
		return NULL;
	out = sk_X509_new_null();
	for (int i = 1; out != NULL && i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);

		if (X509_up_ref(c))
			sk_X509_push(out, c);
	}
	sk_X509_pop_free(chain, X509_free);
	return out;
}

void
enrol_fill_status(struct device_result *o, const struct cmp_client_result *r)
{
	o->status = r->status;
	o->unauthenticated = r->unauthenticated;
	o->polled = r->polled;
	snprintf(o->status_name, sizeof(o->status_name), "%s",
	    r->status >= 0 ? cmp_status_name(r->status) : "-");
	if (r->failinfo) {
		char *names = cmp_failinfo_names(r->failinfo);

		snprintf(o->failinfo, sizeof(o->failinfo), "%s", names ? names : "");
		free(names);
	}
	snprintf(o->status_text, sizeof(o->status_text), "%s",
	    r->status_text ? r->status_text : "");
}

/* What every exchange with the session's CA holds, an enrolment or a genm: where
 * to send, how to protect, whom to believe (peer_prepare, peer_auth). */
struct peer {
	char *url, *ref, *secret;
	X509_NAME *recipient;
	X509 *auth, *verify;
	EVP_PKEY *auth_key;
	STACK_OF(X509) *chain, *trusted;
};

struct enrol_job {
	enum device_req kind;
	char *name, *key_name, *result_file;
	X509_NAME *subject;
	GENERAL_NAMES *san;
	EVP_PKEY *key, *newkey;
	struct peer w;
	struct cmp_client_cfg cfg;
	struct cmp_client_result r;
	int auth_imported;		/* the authentication certificate is an
					 * imported local certificate */
	char *auth_realm;		/* its realm */
	int template_query;		/* genm certReqTemplate first */
	X509_NAME *fitted_subject;	/* the subject fitted to the template */
	int ran, rc;
	struct pk_err err;
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static STACK_OF(X509) *
certs_dup(STACK_OF(X509) *in)
{
	STACK_OF(X509) *out = sk_X509_new_null();

	for (int i = 0; out != NULL && i < sk_X509_num(in); i++) {
		X509 *x = sk_X509_value(in, i);

		if (X509_up_ref(x) && !sk_X509_push(out, x))
			X509_free(x);
	}
	return out;
}

static void
peer_clear(struct peer *w)
{
	free(w->url);
	free(w->ref);
	storage_wipe_free(w->secret);
	X509_NAME_free(w->recipient);
	X509_free(w->auth);
	X509_free(w->verify);
	EVP_PKEY_free(w->auth_key);
	sk_X509_pop_free(w->chain, X509_free);
	sk_X509_pop_free(w->trusted, X509_free);
	memset(w, 0, sizeof(*w));
}

void
enrol_job_free(struct enrol_job *j)
{
	if (j == NULL)
		return;
	cmp_client_result_clear(&j->r);
	free(j->name);
	free(j->key_name);
	free(j->result_file);
	free(j->auth_realm);
	X509_NAME_free(j->subject);
	X509_NAME_free(j->fitted_subject);
	GENERAL_NAMES_free(j->san);
	EVP_PKEY_free(j->key);
	EVP_PKEY_free(j->newkey);
	peer_clear(&j->w);
	free(j);
}

/* A KUR authenticates with the certificate it updates (RFC 4210 5.3.5): one that
 * has expired or is not yet valid is refused here, before anything is sent (the
 * CA would refuse it anyway). */
static int
auth_cert_current(X509 *x, const struct enrol_params *s, struct pk_err *e)
{
	time_t nb, na, now = (time_t)(s->now_ms / 1000);
	char t[40];

	if (pk_asn1_time(X509_get0_notBefore(x), &nb) != 0 ||
	    pk_asn1_time(X509_get0_notAfter(x), &na) != 0)
		return pk_err_set(e, "The authentication certificate %s has an invalid "
		    "validity.", s->auth_cert);
	if (now < nb)
		return pk_err_set(e, "The authentication certificate %s of the CMP "
		    "session %s is not valid before %s; a key update request needs a "
		    "valid certificate.", s->auth_cert, s->name,
		    pk_time_text(nb, t, sizeof(t)));
	if (now >= na)
		return pk_err_set(e, "The authentication certificate %s of the CMP "
		    "session %s expired at %s; a key update request needs a valid "
		    "certificate (request a new one with pki cmp initial-request).",
		    s->auth_cert, s->name, pk_time_text(na, t, sizeof(t)));
	return 0;
}

/* The session's CA as every exchange sees it (W, filled into CFG): the URL, the
 * recipient, the certificate that verifies the responses and the imported CA
 * certificates, the timeout, stop and progress hooks, the MAC algorithm, and
 * with USE_MAC the reference and secret that protect the request. */
static int
peer_prepare(struct pki *p, const struct enrol_params *s, int use_mac,
    struct peer *w, struct cmp_client_cfg *cfg, struct pk_err *e)
{
	w->url = dup_or_null(s->url);
	w->ref = dup_or_null(s->ref);
	w->secret = dup_or_null(s->secret);
	if (s->ca_name != NULL && parse_dn(s->ca_name, &w->recipient, e) != 0)
		return -1;
	if (s->verify_cert != NULL &&
	    enrol_cert_get(p, PKI_CERT_CA, s->verify_cert, &w->verify, NULL, e) != 0)
		return -1;
	w->trusted = certs_dup(pki_ca_certs_get0(p));
	cfg->url = w->url;
	cfg->recipient = w->recipient;
	cfg->verify_cert = w->verify;
	cfg->trusted = w->trusted;
	cfg->timeout = s->timeout > 0 ? s->timeout : DEVICE_TIMEOUT_DEFAULT;
	cfg->should_stop = s->should_stop;
	cfg->stop_arg = s->stop_arg;
	cfg->progress = s->progress;
	cfg->progress_arg = s->progress_arg;
	cfg->mac_nid = s->hmac_sha1 ? NID_hmac_sha1 : NID_hmacWithSHA256;
	cfg->pbmac1 = s->pbmac1;
	if (use_mac) {
		cfg->use_mac = 1;
		cfg->ref = w->ref;
		cfg->secret = (const unsigned char *)w->secret;
		cfg->secret_len = w->secret ? strlen(w->secret) : 0;
	}
	return 0;
}

/* A signed request's credential (W, into CFG): the session's authentication
 * certificate (IMPORTED: whether it is an imported local certificate; for a
 * KUR it must be valid now), the key pair that matches it and its chain. */
static int
peer_auth(struct pki *p, const struct enrol_params *s, int kur, struct peer *w,
    struct cmp_client_cfg *cfg, int *imported, struct pk_err *e)
{
	const char *kn;

	if (s->auth_cert == NULL)
		return pk_err_set(e, "The CMP session %s has no authentication "
		    "certificate configured.", s->name);
	if (enrol_cert_get(p, PKI_CERT_LOCAL, s->auth_cert, &w->auth, imported,
	    e) != 0)
		return -1;
	if (kur && auth_cert_current(w->auth, s, e) != 0)
		return -1;
	if ((kn = pki_key_match_cert(p, w->auth)) == NULL)
		return pk_err_set(e, "The authentication certificate %s does not "
		    "match any key pair in the device.", s->auth_cert);
	w->auth_key = pki_key_get0_pkey(p, kn);
	EVP_PKEY_up_ref(w->auth_key);
	w->chain = enrol_chain_of(p, w->auth);
	cfg->auth_cert = w->auth;
	cfg->auth_key = w->auth_key;
	cfg->auth_chain = w->chain;
	return 0;
}

int
enrol_prepare(struct pki *p, enum device_req kind, const struct enrol_params *s,
    struct enrol_job **out, struct pk_err *e)
{
	struct enrol_job *j = xcalloc(1, sizeof(*j));
	struct cmp_client_cfg *cfg = &j->cfg;
	EVP_PKEY *key;
	char file[300];

	*out = NULL;
	j->kind = kind;
	j->name = xstrdup(s->name);
	j->key_name = xstrdup(s->key_name);
	if (s->result_file != NULL)
		snprintf(file, sizeof(file), "%s", s->result_file);
	else
		snprintf(file, sizeof(file), "%s_%s.cer", s->name,
		    device_req_suffix(kind));
	if (!storage_name_ok(file, e))
		goto fail;
	j->result_file = xstrdup(file);
	key = pki_key_get0_pkey(p, s->key_name);
	if (key == NULL) {
		pk_err_set(e, "The key pair %s does not exist.", s->key_name);
		goto fail;
	}
	EVP_PKEY_up_ref(key);
	j->key = key;
	if (s->entity != NULL && pki_entity_subject(s->entity, &j->subject, e) != 0)
		goto fail;
	if (s->entity != NULL && pki_entity_san(s->entity, &j->san, e) != 0)
		goto fail;
	if (peer_prepare(p, s, kind == DEVICE_IR && !s->use_signature, &j->w, cfg,
	    e) != 0)
		goto fail;
	cfg->subject = j->subject;
	cfg->san = j->san;
	cfg->key = j->key;
	cfg->implicit_confirm = s->implicit_confirm;
	j->template_query = s->template_query;
	if (!cfg->use_mac) {
		if (peer_auth(p, s, kind == DEVICE_KUR, &j->w, cfg, &j->auth_imported,
		    e) != 0)
			goto fail;
		if (j->auth_imported) {
			const char *r = pki_cert_realm(p, PKI_CERT_LOCAL, s->auth_cert);

			j->auth_realm = r != NULL ? xstrdup(r) : NULL;
		}
		if (kind == DEVICE_KUR && s->regenerate) {
			if (pki_key_generate_detached(p, s->key_name, s->regen_bits,
			    &j->newkey, e) != 0)
				goto fail;
			cfg->key = j->newkey;
		}
		if (kind == DEVICE_KUR && j->subject == NULL)
			cfg->subject = X509_get_subject_name(j->w.auth);
	}
	*out = j;
	return 0;
fail:
	enrol_job_free(j);
	return -1;
}

/* The one place where a request kind becomes the protocol's. */
static int
cmp_kind(enum device_req k)
{
	return k == DEVICE_IR ? CMP_BODY_IR : k == DEVICE_CR ? CMP_BODY_CR :
	    CMP_BODY_KUR;
}

/* ---- the CA's certificate request template (RFC 9483 4.3.3) ---- */

static void
job_progress(struct enrol_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
job_progress(struct enrol_job *j, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (j->cfg.progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	j->cfg.progress(j->cfg.progress_arg, buf);
}

/* "RSA 2048 bits", "EC prime256v1", "ED25519" */
static void
key_text(EVP_PKEY *k, char *buf, size_t n)
{
	char curve[80] = "";

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		snprintf(buf, n, "RSA %d bits", EVP_PKEY_get_bits(k));
		break;
	case EVP_PKEY_EC:
		EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve,
		    sizeof(curve), NULL);
		snprintf(buf, n, "EC %s", curve);
		break;
	default:
		snprintf(buf, n, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
		break;
	}
	ERR_clear_error();
}

/* RFC 9480 2.16 keySpec: the key types the CA certifies (id-regCtrl-rsaKeyLen:
 * RSA of at least that size; id-regCtrl-algId: that algorithm, an EC key on
 * its curve). The key to certify must be one of them; a KUR with regenerate
 * makes its new RSA key as large as the template asks (up to
 * PKI_RSA_MAX_BITS). */
static int
fit_key(struct enrol_job *j, const CMP_CERTREQTEMPLATE *t, struct pk_err *e)
{
	EVP_PKEY *k = j->cfg.key;
	int ktype = EVP_PKEY_get_base_id(k), bits = EVP_PKEY_get_bits(k);
	int knid = NID_undef, ok = 0, i, rc = -1;
	long need_rsa = -1;
	char curve[80] = "", have[100];
	struct sbuf allowed = SBUF_INIT;
	struct pk_err why;

	if (sk_CMP_ATAV_num(t->keySpec) <= 0)
		return 0;
	if (ktype == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve,
	    sizeof(curve), NULL))
		knid = OBJ_sn2nid(curve);
	ERR_clear_error();
	for (i = 0; i < sk_CMP_ATAV_num(t->keySpec); i++) {
		X509_ALGOR *alg = NULL;
		long rb;
		int nid;

		if (cmp_atav_keyspec(sk_CMP_ATAV_value(t->keySpec, i), &alg, &rb,
		    &why) != 0) {
			pk_err_set(e, "the CA's certificate request template does not "
			    "decode: %s", why.msg);
			goto out;
		}
		if (allowed.len > 0)
			sbuf_puts(&allowed, ", ");
		if (rb > 0) {
			sbuf_printf(&allowed, "RSA of at least %ld bits", rb);
			ok |= ktype == EVP_PKEY_RSA && bits >= rb;
			if (need_rsa < 0 || rb < need_rsa)
				need_rsa = rb;
			continue;
		}
		nid = OBJ_obj2nid(alg->algorithm);
		if (nid == NID_rsaEncryption) {
			sbuf_puts(&allowed, "RSA");
			ok |= ktype == EVP_PKEY_RSA;
		} else if (nid == NID_X9_62_id_ecPublicKey) {
			int cnid = alg->parameter != NULL &&
			    alg->parameter->type == V_ASN1_OBJECT ?
			    OBJ_obj2nid(alg->parameter->value.object) : NID_undef;

			sbuf_printf(&allowed, "EC %s", cnid != NID_undef ?
			    OBJ_nid2sn(cnid) : "(unnamed curve)");
			ok |= ktype == EVP_PKEY_EC && cnid != NID_undef && cnid == knid;
		} else {
			sbuf_puts(&allowed, nid != NID_undef ? OBJ_nid2sn(nid) :
			    "(unknown algorithm)");
			ok |= nid != NID_undef && ktype == nid;
		}
		X509_ALGOR_free(alg);
	}
	key_text(k, have, sizeof(have));
	if (ok) {
		job_progress(j, "The key (%s) fits the CA's template (%s)", have,
		    sbuf_str(&allowed));
		rc = 0;
		goto out;
	}
	/* a new RSA key may be made as large as the CA asks */
	if (j->newkey != NULL && ktype == EVP_PKEY_RSA && need_rsa > 0 &&
	    need_rsa <= PKI_RSA_MAX_BITS) {
		unsigned int nb = (unsigned int)(need_rsa + (need_rsa & 1));
		EVP_PKEY *nk = EVP_RSA_gen(nb);

		if (nk == NULL) {
			pk_err_ossl(e, "cannot generate an RSA key of %u bits", nb);
			goto out;
		}
		EVP_PKEY_free(j->newkey);
		j->newkey = nk;
		j->cfg.key = nk;
		job_progress(j, "The CA's template asks for %s: the new key pair has "
		    "%u bits instead of %d", sbuf_str(&allowed), nb, bits);
		rc = 0;
		goto out;
	}
	pk_err_set(e, "the key does not fit the CA's certificate request template "
	    "(RFC 9483 4.3.3): the CA certifies %s; the key pair %s is %s%s",
	    sbuf_str(&allowed), j->key_name, have, need_rsa > PKI_RSA_MAX_BITS ?
	    " (and this device makes RSA keys of at most 4096 bits)" : "");
out:
	sbuf_free(&allowed);
	return rc;
}

/* The certTemplate's subject (RFC 9483 4.3.3): an attribute with a value is
 * fixed by the CA (added when the entity lacks it; a different value is a
 * mismatch), one with an empty value must be filled in by the requester. */
static int
fit_subject(struct enrol_job *j, const CMP_CERTREQTEMPLATE *t, struct pk_err *e)
{
	const X509_NAME *ts = t->certTemplate != NULL ?
	    cmp_tmpl_get0_subject(t->certTemplate) : NULL;
	X509_NAME *n;
	int i, added = 0;

	if (ts == NULL || X509_NAME_entry_count(ts) == 0)
		return 0;
	n = j->cfg.subject != NULL ? X509_NAME_dup(j->cfg.subject) :
	    X509_NAME_new();
	if (n == NULL)
		return pk_err_ossl(e, "out of memory");
	for (i = 0; i < X509_NAME_entry_count(ts); i++) {
		const X509_NAME_ENTRY *te = X509_NAME_get_entry(ts, i);
		const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(te);
		const ASN1_STRING *tv = X509_NAME_ENTRY_get_data(te);
		int idx = X509_NAME_get_index_by_OBJ(n, obj, -1);
		const char *an = OBJ_nid2sn(OBJ_obj2nid(obj));
		unsigned char *want = NULL, *hv = NULL;
		int wl, hl, same;

		if (ASN1_STRING_length(tv) == 0) {
			if (idx >= 0)
				continue;
			X509_NAME_free(n);
			return pk_err_set(e, "the subject does not fit the CA's "
			    "certificate request template (RFC 9483 4.3.3): it asks "
			    "for %s, which the entity does not give", an);
		}
		if (idx < 0) {
			if (!X509_NAME_add_entry(n, te, -1, 0)) {
				X509_NAME_free(n);
				return pk_err_ossl(e, "out of memory");
			}
			added++;
			continue;
		}
		wl = ASN1_STRING_to_UTF8(&want, tv);
		hl = ASN1_STRING_to_UTF8(&hv, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(n, idx)));
		same = wl >= 0 && wl == hl && memcmp(want, hv, (size_t)wl) == 0;
		if (!same) {
			pk_err_set(e, "the subject does not fit the CA's certificate "
			    "request template (RFC 9483 4.3.3): the CA fixes %s=%s, "
			    "the entity gives %s=%s", an, wl >= 0 ? (char *)want : "?",
			    an, hl >= 0 ? (char *)hv : "?");
			OPENSSL_free(want);
			OPENSSL_free(hv);
			X509_NAME_free(n);
			return -1;
		}
		OPENSSL_free(want);
		OPENSSL_free(hv);
	}
	if (added > 0) {
		char nm[512];

		job_progress(j, "The CA's template fixes subject attributes: the "
		    "subject becomes %s", pk_name_text(n, nm, sizeof(nm)));
	}
	X509_NAME_free(j->fitted_subject);
	j->fitted_subject = n;
	j->cfg.subject = n;
	return 0;
}

/* genm certReqTemplate, protected as the request will be, then the fitting.
 * A CA that leaves it out or has none: the request goes as configured. */
static int
fit_template(struct enrol_job *j, struct pk_err *e)
{
	struct cmp_client_result res;
	CMP_ITAV *ask = NULL, *got = NULL;
	CMP_CERTREQTEMPLATE *t = NULL;
	struct pk_err ge;
	int rc = -1;

	if ((ask = cmp_itav_new_oid(CMP_OID_IT_CERT_REQ_TEMPLATE, NULL)) == NULL)
		return pk_err_ossl(e, "out of memory");
	if (cmp_client_genm(&j->cfg, ask, CMP_OID_IT_CERT_REQ_TEMPLATE, &got, &res,
	    &ge) != 0) {
		/* the CA's answer, as for the request itself */
		cmp_client_result_clear(&j->r);
		j->r = res;
		memset(&res, 0, sizeof(res));
		pk_err_set(e, "the certificate request template query failed: %s",
		    ge.msg);
		goto out;
	}
	if (got != NULL && cmp_itav_get1_cert_req_template(got, &t, &ge) != 0) {
		pk_err_set(e, "the CA's certificate request template does not "
		    "decode: %s", ge.msg);
		goto out;
	}
	if (t == NULL) {
		job_progress(j, "The CA has no certificate request template; the "
		    "request goes as configured");
		rc = 0;
		goto out;
	}
	if (fit_key(j, t, e) != 0 || fit_subject(j, t, e) != 0)
		goto out;
	rc = 0;
out:
	cmp_client_result_clear(&res);
	CMP_ITAV_free(ask);
	CMP_ITAV_free(got);
	CMP_CERTREQTEMPLATE_free(t);
	return rc;
}

int
enrol_run(struct enrol_job *j)
{
	j->ran = 1;
	j->r.status = -1;
	if (j->template_query && fit_template(j, &j->err) != 0)
		return j->rc = -1;
	j->rc = cmp_client_run(cmp_kind(j->kind), &j->cfg, &j->r, &j->err);
	return j->rc;
}

int
enrol_finish(struct pki *p, struct storage *st, struct enrol_job *j,
    struct device_result *o, struct pk_err *e)
{
	const char *file = j->result_file;

	o->status = -1;
	enrol_fill_status(o, &j->r);
	if (!j->ran || j->rc != 0) {
		if (e != NULL)
			*e = j->err;
		return -1;
	}
	/* The new key pair (regenerate), the certificate file and the store's copy
	 * change together through a journal: a crash leaves the old state or one
	 * that device_journal_recover() completes at the next start. */
	/* The store's copy is kept current: a result over an imported local
	 * certificate replaces it, and a KUR of an imported authentication
	 * certificate imports its successor (the file is only the way in). */
	o->local_record = pki_local_cert_get0(p, file) != NULL ? 2 :
	    j->kind == DEVICE_KUR && j->auth_imported ? 1 : 0;
	if (journal_write(st, j->name, file, j->newkey ? j->key_name : NULL,
	    j->newkey, j->r.cert, o->local_record != 0, j->auth_realm, e) != 0 ||
	    journal_apply(p, st, j->name, e) != 0) {
		o->local_record = 0;
		return -1;
	}
	o->key_replaced = j->newkey != NULL;
	snprintf(o->cert_file, sizeof(o->cert_file), "%s", file);
	for (int i = 0; i < sk_X509_num(j->r.ca_pubs); i++) {
		char ca[300];

		snprintf(ca, sizeof(ca), "%s_ca%d.cer", j->name, i);
		if (enrol_write_cert(st, ca, sk_X509_value(j->r.ca_pubs, i), e) != 0)
			return -1;
		o->ncapubs++;
	}
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(j->r.cert), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;

		snprintf(o->serial, sizeof(o->serial), "%s", hex ? hex : "?");
		OPENSSL_free(hex);
		BN_free(bn);
	}
	pk_asn1_time_text(X509_get0_notBefore(j->r.cert), o->not_before,
	    sizeof(o->not_before));
	pk_asn1_time_text(X509_get0_notAfter(j->r.cert), o->not_after,
	    sizeof(o->not_after));
	if (pk_asn1_time(X509_get0_notBefore(j->r.cert), &o->nb) != 0)
		o->nb = 0;
	if (pk_asn1_time(X509_get0_notAfter(j->r.cert), &o->na) != 0)
		o->na = 0;
	o->ok = 1;
	return 0;
}


/* ---- CA certificates from the CA (genm caCerts, RFC 9483 4.3.1) ---- */

static void
fill_error_status(struct device_ca_certs *o, const struct cmp_client_result *r)
{
	struct device_result tmp;

	memset(&tmp, 0, sizeof(tmp));
	enrol_fill_status(&tmp, r);
	o->status = tmp.status;
	o->unauthenticated = tmp.unauthenticated;
	memcpy(o->status_name, tmp.status_name, sizeof(o->status_name));
	memcpy(o->failinfo, tmp.failinfo, sizeof(o->failinfo));
	memcpy(o->status_text, tmp.status_text, sizeof(o->status_text));
}

/* A support message's set-up (genm_prepare): S's URL, recipient, protection
 * (MAC as the IR's, or signature with the authentication certificate) and
 * trust (verification-cert, the imported CA certificates), all owned copies,
 * so a worker thread may run the exchange while the device goes on. */
struct genm_ctx {
	struct cmp_client_cfg cfg;
	struct peer w;
};

void
genm_free(struct genm_ctx *g)
{
	if (g == NULL)
		return;
	peer_clear(&g->w);
	free(g);
}

struct cmp_client_cfg *
genm_cfg(struct genm_ctx *g)
{
	return &g->cfg;
}

int
genm_prepare(struct pki *p, const struct enrol_params *s, struct genm_ctx **out,
    struct pk_err *e)
{
	struct genm_ctx *g = xcalloc(1, sizeof(*g));
	struct cmp_client_cfg *cfg = &g->cfg;

	*out = NULL;
	if (peer_prepare(p, s, !s->use_signature, &g->w, cfg, e) != 0 ||
	    (s->use_signature && peer_auth(p, s, 0, &g->w, cfg, NULL, e) != 0))
		goto fail;
	*out = g;
	return 0;
fail:
	genm_free(g);
	return -1;
}

int
enrol_ca_certs(struct pki *p, struct storage *st, const struct enrol_params *s,
    struct device_ca_certs *o, struct pk_err *e)
{
	struct genm_ctx *g = NULL;
	struct cmp_client_result res;
	STACK_OF(X509) *certs = NULL;
	CMP_ITAV *ask = NULL, *got = NULL;
	int i, rc = -1;

	memset(&res, 0, sizeof(res));
	res.status = -1;
	if (genm_prepare(p, s, &g, e) != 0)
		goto out;
	/* RFC 9483 4.3.1: the genm holds id-it-caCerts with no value */
	if ((ask = cmp_itav_new_oid(CMP_OID_IT_CA_CERTS, NULL)) == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	o->sent = 1;
	if (cmp_client_genm(&g->cfg, ask, CMP_OID_IT_CA_CERTS, &got, &res,
	    e) != 0) {
		fill_error_status(o, &res);
		goto out;
	}
	if (got == NULL) {
		pk_err_set(e, "the genp holds no caCerts (RFC 9483 4.3.1): the CA "
		    "did not answer the question");
		goto out;
	}
	/* RFC 9483 4.3.1: an absent value means the CA has none to send */
	if (cmp_itav_get1_certs(got, &certs, e) != 0)
		goto out;
	if (sk_X509_num(certs) > DEVICE_CA_CERTS_MAX) {
		pk_err_set(e, "the genp holds %d CA certificates, more than the %d "
		    "this device takes", sk_X509_num(certs), DEVICE_CA_CERTS_MAX);
		goto out;
	}
	if (sk_X509_num(certs) > 0)
		o->certs = xcalloc((size_t)sk_X509_num(certs), sizeof(*o->certs));
	for (i = 0; i < sk_X509_num(certs); i++) {
		struct device_ca_cert *c = &o->certs[i];
		X509 *x = sk_X509_value(certs, i);

		snprintf(c->file, sizeof(c->file), "%s_ca%d.cer", s->name, i);
		/* the session name cannot hold '/', but check the name anyway:
		 * nothing is written outside flash:/pki/public */
		if (!storage_name_ok(c->file, e) || enrol_write_cert(st, c->file, x, e) != 0)
			goto out;
		pki_cert_describe(p, x, &c->info);
		o->n++;
	}
	rc = 0;
out:
	cmp_client_result_clear(&res);
	genm_free(g);
	sk_X509_pop_free(certs, X509_free);
	CMP_ITAV_free(ask);
	CMP_ITAV_free(got);
	return rc;
}
