/*
 * Root CA key update on the device (RFC 9480 2.15, RFC 9483 4.3.2, RFC 4210
 * 4.4): the session asks its CA with a genm id-it-rootCaCert holding the root
 * it trusts; a genp id-it-rootCaKeyUpdate without a value means no update;
 * with one, the rollover (newWithNew, newWithOld, oldWithNew) is verified
 * against the imported old root (rootca_verify) and only then the new root is
 * written to flash:/pki/public and imported as a CA certificate beside the
 * old one, which stays (certificates issued under it still chain to it until
 * it expires).
 *
 * The exchange goes through the session's one genm path (genm_prepare in
 * enrol.c, the same as caCerts). Prepare and finish run in the device's
 * thread; run touches only the job, so an automatic check runs it in a worker
 * thread (worker.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../cmp/cmp.h"
#include "../storage/storage.h"
#include "device_int.h"

/* ---- the rules ---- */

static int
signed_with(X509 *x, EVP_PKEY *k)
{
	int r = k != NULL ? X509_verify(x, k) : -1;

	ERR_clear_error();
	return r == 1;
}

static int
same_key(X509 *a, X509 *b)
{
	return EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

int
rootca_verify(X509 *old, X509 *nwn, X509 *nwo, X509 *own, time_t now,
    struct pk_err *e)
{
	uint32_t fl;
	time_t nb, na;

	if (nwn == NULL)
		return pk_err_set(e, "RFC 9480 2.15: newWithNew is missing");
	/* RFC 4210 4.4: newWithNew is the new root, self-signed with the new
	 * key */
	if (X509_NAME_cmp(X509_get_subject_name(nwn),
	    X509_get_issuer_name(nwn)) != 0 || !signed_with(nwn, X509_get0_pubkey(nwn)))
		return pk_err_set(e, "RFC 4210 4.4: newWithNew is not self-signed "
		    "(it does not verify under its own key)");
	fl = X509_get_extension_flags(nwn);
	if (!(fl & EXFLAG_BCONS) || !(fl & EXFLAG_CA))
		return pk_err_set(e, "RFC 4210 4.4: newWithNew is not a CA certificate "
		    "(no basicConstraints cA)");
	if ((fl & EXFLAG_KUSAGE) && !(X509_get_key_usage(nwn) & KU_KEY_CERT_SIGN))
		return pk_err_set(e, "RFC 4210 4.4: newWithNew may not sign "
		    "certificates (keyUsage without keyCertSign)");
	if (pk_asn1_time(X509_get0_notBefore(nwn), &nb) != 0 ||
	    pk_asn1_time(X509_get0_notAfter(nwn), &na) != 0 || nb >= na)
		return pk_err_set(e, "newWithNew has an invalid validity");
	if (na <= now)
		return pk_err_set(e, "newWithNew has expired");
	if (same_key(nwn, old))
		return pk_err_set(e, "RFC 4210 4.4: newWithNew holds the old root's "
		    "key: it is no key update");
	/* RFC 9483 4.3.2: newWithOld MUST be present; RFC 4210 4.4: it holds the
	 * new public key, signed with the old private key: the link the device
	 * can check with what it already trusts */
	if (nwo == NULL)
		return pk_err_set(e, "RFC 9483 4.3.2: newWithOld is missing, so the "
		    "new root cannot be verified under the old one");
	if (!signed_with(nwo, X509_get0_pubkey(old)))
		return pk_err_set(e, "RFC 4210 4.4: newWithOld does not verify under "
		    "the old root's key");
	if (X509_NAME_cmp(X509_get_issuer_name(nwo), X509_get_subject_name(old)) != 0)
		return pk_err_set(e, "RFC 4210 4.4: newWithOld is not issued by the "
		    "old root");
	if (!same_key(nwo, nwn))
		return pk_err_set(e, "RFC 4210 4.4: newWithOld does not hold "
		    "newWithNew's public key");
	if (X509_NAME_cmp(X509_get_subject_name(nwo), X509_get_subject_name(nwn)) != 0)
		return pk_err_set(e, "RFC 4210 4.4: newWithOld's subject is not "
		    "newWithNew's");
	/* RFC 4210 4.4: oldWithNew (optional) holds the old public key, signed
	 * with the new private key */
	if (own != NULL) {
		if (!same_key(own, old))
			return pk_err_set(e, "RFC 4210 4.4: oldWithNew does not hold "
			    "the old root's public key");
		if (!signed_with(own, X509_get0_pubkey(nwn)))
			return pk_err_set(e, "RFC 4210 4.4: oldWithNew does not verify "
			    "under newWithNew's key");
	}
	return 0;
}

/* ---- which root the session asks about ---- */

static int
self_signed(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)) == 0 && signed_with(x, X509_get0_pubkey(x));
}

/* The imported root CERT chains to (CERT itself when it is one), or NULL. */
static X509 *
anchor_of(struct pki *p, X509 *cert)
{
	STACK_OF(X509) *ch;
	X509 *a = NULL;

	if (cert == NULL)
		return NULL;
	if (self_signed(cert))
		return X509_up_ref(cert) ? cert : NULL;
	ch = enrol_chain_of(p, cert);
	if (sk_X509_num(ch) > 0) {
		a = sk_X509_value(ch, sk_X509_num(ch) - 1);
		if (!self_signed(a) || !X509_up_ref(a))
			a = NULL;
	}
	sk_X509_pop_free(ch, X509_free);
	return a;
}

/* The record name of the imported CA certificate X into BUF, or "". */
static void
record_name(struct pki *p, X509 *x, char *buf, size_t n)
{
	char **names = pki_cert_names(p, PKI_CERT_CA);

	buf[0] = '\0';
	for (char **k = names; k != NULL && *k != NULL; k++)
		if (X509_cmp(pki_cert_get0(p, PKI_CERT_CA, *k), x) == 0) {
			snprintf(buf, n, "%s", *k);
			break;
		}
	pki_names_free(names);
}

/* The root S trusts: the one its last update installed (still imported),
 * else the anchor of its verification-cert, else of its authentication
 * certificate, else the one self-signed imported CA certificate. */
static int
session_root(struct pki *p, const struct device_session *s, X509 **out,
    struct pk_err *e)
{
	STACK_OF(X509) *cas = pki_ca_certs_get0(p);
	X509 *x = NULL, *one = NULL;
	int i, n = 0;

	*out = NULL;
	if (s->root_file[0] != '\0' &&
	    (x = pki_cert_get0(p, PKI_CERT_CA, s->root_file)) != NULL &&
	    X509_up_ref(x)) {
		*out = x;
		return 0;
	}
	if (s->cfg.verify_cert != NULL &&
	    enrol_cert_get(p, PKI_CERT_CA, s->cfg.verify_cert, &x, NULL, NULL) == 0) {
		*out = anchor_of(p, x);
		X509_free(x);
		if (*out != NULL)
			return 0;
	}
	if (s->cfg.auth_cert != NULL &&
	    enrol_cert_get(p, PKI_CERT_LOCAL, s->cfg.auth_cert, &x, NULL, NULL) == 0) {
		*out = anchor_of(p, x);
		X509_free(x);
		if (*out != NULL)
			return 0;
	}
	for (i = 0; i < sk_X509_num(cas); i++)
		if (self_signed(sk_X509_value(cas, i))) {
			one = sk_X509_value(cas, i);
			n++;
		}
	if (n == 1 && X509_up_ref(one)) {
		*out = one;
		return 0;
	}
	return pk_err_set(e, n == 0 ? "The CMP session %s trusts no imported root CA "
	    "certificate to ask an update of." : "The CMP session %s trusts several "
	    "imported root CA certificates; configure its verification-cert to tell "
	    "which one to ask an update of.", s->cfg.name);
}

/* ---- the job ---- */

struct rootca_job {
	struct genm_ctx *g;
	X509 *old;
	char old_name[300];
	char *realm;
	CMP_ITAV *got;
	struct cmp_client_result res;
	int sent, rc;
	time_t now;
	struct pk_err err;
};

void
rootca_job_free(struct rootca_job *j)
{
	if (j == NULL)
		return;
	genm_free(j->g);
	X509_free(j->old);
	free(j->realm);
	CMP_ITAV_free(j->got);
	cmp_client_result_clear(&j->res);
	free(j);
}

int
rootca_prepare(struct device *d, struct device_session *s,
    int (*should_stop)(void *arg), void *stop_arg,
    void (*progress)(void *arg, const char *text), void *progress_arg,
    struct rootca_job **out, struct pk_err *e)
{
	struct rootca_job *j = xcalloc(1, sizeof(*j));
	struct enrol_params p;
	char *secret = NULL, *url = NULL;
	const char *realm;
	int rc = -1;

	*out = NULL;
	j->res.status = -1;
	if (d->pki == NULL || d->st == NULL) {
		pk_err_set(e, "The device has no PKI store.");
		goto out;
	}
	if (session_params_genm(d, s, &p, &secret, &url, e) != 0)
		goto out;
	p.should_stop = should_stop;
	p.stop_arg = stop_arg;
	p.progress = progress;
	p.progress_arg = progress_arg;
	if (session_root(d->pki, s, &j->old, e) != 0 ||
	    genm_prepare(d->pki, &p, &j->g, e) != 0)
		goto out;
	record_name(d->pki, j->old, j->old_name, sizeof(j->old_name));
	realm = j->old_name[0] ? pki_cert_realm(d->pki, PKI_CERT_CA, j->old_name) :
	    NULL;
	j->realm = realm != NULL ? xstrdup(realm) : NULL;
	j->now = (time_t)(device_now(d) / 1000);
	*out = j;
	j = NULL;
	rc = 0;
out:
	rootca_job_free(j);
	storage_wipe_free(secret);
	free(url);
	return rc;
}

void
rootca_run(struct rootca_job *j)
{
	CMP_ITAV *ask;

	pk_err_clear(&j->err);
	/* RFC 9483 4.3.2: the genm holds id-it-rootCaCert with the root the
	 * update is asked for; the genp answers with id-it-rootCaKeyUpdate */
	if ((ask = cmp_itav_new_cert(CMP_OID_IT_ROOT_CA_CERT, j->old)) == NULL) {
		j->rc = pk_err_ossl(&j->err, "out of memory");
		return;
	}
	j->sent = 1;
	j->rc = cmp_client_genm(genm_cfg(j->g), ask, CMP_OID_IT_ROOT_CA_KEY_UPDATE,
	    &j->got, &j->res, &j->err);
	CMP_ITAV_free(ask);
}

/* NAME_root_XXXXXXXX.cer: the session and the start of the fingerprint, so
 * each generation of roots gets its own file and record. */
static void
root_file(const char *session, const struct pki_cert_info *in, char *buf,
    size_t n)
{
	char hex[9];
	int k = 0;

	for (const char *c = in->fingerprint; *c != '\0' && k < 8; c++)
		if (*c != ':')
			hex[k++] = *c;
	hex[k] = '\0';
	snprintf(buf, n, "%s_root_%s.cer", session, hex);
}

static int
install(struct device *d, struct device_session *s, struct rootca_job *j,
    X509 *nwn, struct device_root_update *r, struct pk_err *e)
{
	STACK_OF(X509) *cas = pki_ca_certs_get0(d->pki);

	pki_cert_describe(d->pki, nwn, &r->info);
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (X509_cmp(sk_X509_value(cas, i), nwn) == 0) {
			record_name(d->pki, nwn, r->file, sizeof(r->file));
			r->known = 1;
			return 0;
		}
	root_file(s->cfg.name, &r->info, r->file, sizeof(r->file));
	/* the name stays inside flash:/pki/public; both writes are atomic and
	 * the store's record is the one that counts */
	if (!storage_name_ok(r->file, e) ||
	    enrol_write_cert(d->st, r->file, nwn, e) != 0 ||
	    pki_cert_import_x509(d->pki, PKI_CERT_CA, j->realm, nwn, r->file, NULL,
	    e) != 0)
		return -1;
	r->installed = 1;
	return 0;
}

int
rootca_finish(struct device *d, struct device_session *s, struct rootca_job *j,
    struct device_root_update *r, struct pk_err *e)
{
	CMP_ROOTCAKEYUPDATE *u = NULL;
	struct pk_err why;
	int rc = -1;

	r->sent = j->sent;
	snprintf(r->old_root, sizeof(r->old_root), "%s", j->old_name);
	{
		struct device_result tmp;

		memset(&tmp, 0, sizeof(tmp));
		enrol_fill_status(&tmp, &j->res);
		r->status = tmp.status;
		r->unauthenticated = tmp.unauthenticated;
		memcpy(r->status_name, tmp.status_name, sizeof(r->status_name));
		memcpy(r->failinfo, tmp.failinfo, sizeof(r->failinfo));
		memcpy(r->status_text, tmp.status_text, sizeof(r->status_text));
	}
	if (j->rc != 0) {
		*e = j->err;
		goto out;
	}
	if (j->got == NULL) {
		r->no_answer = 1;
		pk_err_set(e, "the CA did not answer rootCaKeyUpdate (RFC 9483 4.3.2: "
		    "its genp holds no id-it-rootCaKeyUpdate)");
		goto out;
	}
	r->answered = 1;
	if (cmp_itav_get1_root_ca_key_update(j->got, &u, e) != 0)
		goto out;
	if (u == NULL) {	/* RFC 9483 4.3.2: absent value, no update */
		rc = 0;
		goto out;
	}
	r->update = 1;
	if (rootca_verify(j->old, u->newWithNew, u->newWithOld, u->oldWithNew,
	    j->now, &why) != 0) {
		pk_err_set(e, "the CA's new root CA certificate is refused, nothing is "
		    "installed: %s", why.msg);
		goto out;
	}
	if (install(d, s, j, u->newWithNew, r, e) != 0)
		goto out;
	/* the session asks about the new root from now on */
	snprintf(s->root_file, sizeof(s->root_file), "%s", r->file);
	snprintf(s->root_fp, sizeof(s->root_fp), "%s", r->info.fingerprint);
	rc = 0;
out:
	CMP_ROOTCAKEYUPDATE_free(u);
	s->root_checked = (time_t)(device_now(d) / 1000);
	if (rc != 0)
		snprintf(s->root_result, sizeof(s->root_result), "failed: %s", e->msg);
	else if (r->installed)
		snprintf(s->root_result, sizeof(s->root_result), "new root CA "
		    "certificate installed as %s (the old root %s stays)", r->file,
		    r->old_root[0] ? r->old_root : "-");
	else if (r->known)
		snprintf(s->root_result, sizeof(s->root_result), "the CA's new root "
		    "is imported already as %s", r->file);
	else
		snprintf(s->root_result, sizeof(s->root_result), "no update of the "
		    "root %s", r->old_root[0] ? r->old_root : "-");
	return rc;
}

/* ---- the console's check ---- */

static void
result_init(struct device_root_update *r)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
}

int
device_root_ca_update(struct device *d, const char *name,
    int (*cancelled)(void *arg), void *arg, struct device_root_update *r,
    struct pk_err *e)
{
	struct device_session *s = device_session_find(d, name);
	struct device_call k = { .d = d, .s = s, .cancelled = cancelled,
		.arg = arg };
	struct rootca_job *j = NULL;
	int rc;

	result_init(r);
	if (s == NULL)
		return pk_err_set(e, "The CMP session %s does not exist.", name);
	if (s->root_running)
		return pk_err_set(e, "The CMP session %s is checking its root CA "
		    "already.", s->cfg.name);
	if (strcmp(s->state, "idle") != 0)
		return pk_err_set(e, "The CMP session %s has a transaction in "
		    "progress.", s->cfg.name);
	if (rootca_prepare(d, s, device_call_should_stop, &k, device_call_progress, &k,
	    &j, e) != 0)
		return -1;
	atomic_store(&s->stop, 0);
	rootca_run(j);
	rc = rootca_finish(d, s, j, r, e);
	rootca_job_free(j);
	return rc;
}

void
device_root_status(const struct device_session *s, struct device_root_status *out)
{
	out->checked = s->root_checked;
	out->result = s->root_result;
	out->fingerprint = s->root_fp;
	out->file = s->root_file;
	out->next = s->root_next;
}
