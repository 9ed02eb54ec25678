/*
 * cmp_client: one CMP client transaction (RFC 4210) over cmp_http.c.
 *
 * Contract (cmp.h section 2): cmp_client_run() runs ir/cr/kur -> (pollReq ...)
 * -> certConf -> pkiConf. Every message has the transaction's random
 * transactionID and a fresh senderNonce, and answers the previous response's
 * senderNonce in recipNonce (RFC 4210 5.1.1). Every response is checked before
 * anything in it is used: protection and whom it comes from, transactionID,
 * recipNonce, body type. Whom the client believes (DESIGN "Trust rules"):
 *   - a MAC-protected answer (PBM or PBMAC1 with the session secret,
 *     parameters within RFC 4211 4.4 / RFC 8018 4.1 limits) comes from the
 *     CA, and the caPubs of a MAC-protected ip may become trust anchors
 *     (RFC 4210 5.3.2, RFC 9483 4.1.1);
 *   - a signed answer counts only when its signer is the pinned
 *     verification-cert (valid now), or chains to an imported CA certificate
 *     and speaks for the CA: a CA certificate, or extended key usage
 *     id-kp-cmcCA / id-kp-cmcRA (RFC 9483 3.5, RFC 6402 2.10); its caPubs are
 *     never anchors;
 *   - the new certificate holds the requested key, chains to an imported CA
 *     certificate (or the MAC ip's caPubs) and names its issuer by key
 *     identifier as well as by name (RFC 5280 4.2.1.1); otherwise certConf
 *     rejects it (RFC 4210 5.2.8, RFC 9483 3.1).
 * Error messages are reported with their PKIStatusInfo; one without valid
 * protection is reported as unauthenticated and never trusted. Every refusal
 * names its rule, what was expected and what came. The module never prints:
 * progress goes to cfg->progress, failures into struct pk_err.
 *
 * The checks work on a struct cmp_txn (cmp_client_int.h) that needs no
 * connection, so the fuzz target of the response checks drives them directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_client_int.h"

#define CMP_CLIENT_DEFAULT_TIMEOUT	120	/* s, when cfg->timeout <= 0 */
#define CMP_CLIENT_CONNECT_TIMEOUT	30	/* s, at most, per connection */
#define CMP_CLIENT_MAX_POLLS		10000	/* a loop guard; time bounds first */
#define CMP_CLIENT_STOP_SLICE_NS	(100 * 1000 * 1000)	/* should_stop */

/* What the client accepts of a PBMParameter or PBMAC1-params (cmp.h). */
static const struct cmp_pbm_limits client_pbm = CMP_PBM_LIMITS_DEFAULT;

static void
progress(struct cmp_txn *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
progress(struct cmp_txn *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (t->cfg->progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->cfg->progress(t->cfg->progress_arg, buf);
}

/* Whole seconds left of the transaction (at least 1), 0 when it ran out. */
static int
remaining(const struct cmp_txn *t)
{
	double left = t->deadline - pk_mono_s();

	if (left <= 0)
		return 0;
	return left < 1 ? 1 : (int)(left + 0.999);
}

/* RFC 4210 5.3.4: ir -> ip, cr -> cp, kur -> kup; 5.3.19: genm -> genp */
static int
rep_body(int type)
{
	return type == CMP_BODY_IR ? CMP_BODY_IP : type == CMP_BODY_CR ?
	    CMP_BODY_CP : type == CMP_BODY_GENM ? CMP_BODY_GENP : CMP_BODY_KUP;
}

/* Header of the next message: our names, the transactionID, a fresh senderNonce
 * (NULL: the builder draws one) and recipNonce = the last response's senderNonce
 * (RFC 4210 5.1.1). */
static void
hdr_init(struct cmp_txn *t, struct cmp_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->sender = t->sender;
	h->recipient = t->cfg->recipient;
	h->transaction_id = t->tid;
	h->transaction_id_len = sizeof(t->tid);
	if (t->cfg->use_mac && t->cfg->ref != NULL) {
		/* RFC 4210 5.1.1: with MAC protection senderKID carries the
		 * reference value the CA knows the secret by */
		h->sender_kid = (const unsigned char *)t->cfg->ref;
		h->sender_kid_len = strlen(t->cfg->ref);
	}
	if (t->peer_nonce != NULL) {
		h->recip_nonce = ASN1_STRING_get0_data(t->peer_nonce);
		h->recip_nonce_len = (size_t)ASN1_STRING_length(t->peer_nonce);
	}
}

static int
protect(struct cmp_txn *t, CMP_PKIMESSAGE *m, struct pk_err *e)
{
	const struct cmp_client_cfg *c = t->cfg;

	if (c->use_mac && c->pbmac1)
		return cmp_msg_protect_pbmac1(m, c->secret, c->secret_len, NULL, e);
	if (c->use_mac) {
		struct cmp_pbm_opts o;

		memset(&o, 0, sizeof(o));
		o.mac_nid = c->mac_nid;	/* 0: the default HMAC-SHA256 */
		return cmp_msg_protect_pbm(m, c->secret, c->secret_len, &o, e);
	}
	return cmp_msg_protect_sig(m, c->auth_key, c->auth_cert, c->auth_chain, 0,
	    0, e);
}

/* The first 8 bytes of OS in hex ("(absent)" when NULL), for messages. */
static const char *
octets_hint(const ASN1_OCTET_STRING *os, char *buf, size_t n)
{
	char *h;
	int len;

	if (os == NULL)
		return snprintf(buf, n, "(absent)"), buf;
	len = ASN1_STRING_length(os);
	h = pk_hex(ASN1_STRING_get0_data(os), len > 8 ? 8 : (size_t)len, 0);
	snprintf(buf, n, "%s%s", h, len > 8 ? "..." : "");
	free(h);
	return buf;
}

static const char *
name_of(X509 *x, char *buf, size_t n)
{
	return pk_name_text(X509_get_subject_name(x), buf, n);
}

/* Verifies CERT up to ANCHORS1 or ANCHORS2 (an imported intermediate may be the
 * anchor: partial chains), with UNTRUSTED as chain material. 0 with *chain
 * (CERT first; sk_X509_pop_free) when CHAIN is not NULL; -1 with the reason. */
static int
verify_chain(X509 *cert, STACK_OF(X509) *anchors1, STACK_OF(X509) *anchors2,
    STACK_OF(X509) *untrusted, STACK_OF(X509) **chain, char *why, size_t whylen)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int i, rc = -1;

	if (chain != NULL)
		*chain = NULL;
	if (st == NULL || ctx == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(anchors1); i++)
		X509_STORE_add_cert(st, sk_X509_value(anchors1, i));
	for (i = 0; i < sk_X509_num(anchors2); i++)
		X509_STORE_add_cert(st, sk_X509_value(anchors2, i));
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_CTX_init(ctx, st, cert, untrusted)) {
		snprintf(why, whylen, "cannot set up certificate verification");
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		if (chain != NULL && (*chain = X509_STORE_CTX_get1_chain(ctx)) ==
		    NULL) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		rc = 0;
		goto out;
	}
	snprintf(why, whylen, "%s", X509_verify_cert_error_string(
	    X509_STORE_CTX_get_error(ctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

/* The keyUsage bits of X by name, for messages ("" when there is none). */
static void
key_usage_text(X509 *x, char *buf, size_t n)
{
	static const struct { uint32_t bit; const char *name; } ku[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },
		{ KU_KEY_CERT_SIGN, "keyCertSign" },
		{ KU_CRL_SIGN, "cRLSign" },
		{ KU_ENCIPHER_ONLY, "encipherOnly" },
		{ KU_DECIPHER_ONLY, "decipherOnly" },
	};
	uint32_t v = X509_get_key_usage(x);
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(ku) / sizeof(ku[0]) && len < n; i++)
		if (v & ku[i].bit)
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
			    len ? ", " : "", ku[i].name);
}

/* RFC 5280 4.2.1.3: a keyUsage, when present, must allow digitalSignature for
 * the key to sign CMP messages. 0 or -1 with the reason. */
static int
signer_usage_ok(X509 *x, const char *what, struct pk_err *e)
{
	char nm[256], ku[200];

	X509_check_purpose(x, -1, 0);
	if (!(X509_get_extension_flags(x) & EXFLAG_KUSAGE) ||
	    (X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return 0;
	key_usage_text(x, ku, sizeof(ku));
	return pk_err_set(e, "%s \"%s\" lacks the digitalSignature key usage "
	    "(RFC 5280 4.2.1.3; its key usage: %s)", what, name_of(x, nm,
	    sizeof(nm)), ku[0] ? ku : "none");
}

/* RFC 9483 3.5, RFC 6402 2.10: 1 when X's extended key usage holds
 * id-kp-cmcCA or id-kp-cmcRA; *text lists what it holds ("" when X has no
 * extended key usage). */
static int
has_cmc_eku(X509 *x, char *text, size_t n)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL,
	    NULL);
	size_t len = 0;
	int i, found = 0;

	text[0] = '\0';
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		char oid[80];

		if (nid == NID_cmcCA || nid == NID_cmcRA)
			found = 1;
		if (nid == NID_undef)
			OBJ_obj2txt(oid, sizeof(oid), o, 1);
		if (len < n)
			len += (size_t)snprintf(text + len, n - len, "%s%s",
			    len ? ", " : "", nid != NID_undef ? OBJ_nid2sn(nid) :
			    oid);
	}
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return found;
}

/* RFC 5280 4.1.2.5: 0 when X is valid now, -1 with the reason. */
static int
valid_now(X509 *x, const char *what, struct pk_err *e)
{
	char nm[256], tm[40];

	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
		return pk_err_set(e, "%s \"%s\" is not valid before %s (RFC 5280 "
		    "4.1.2.5)", what, name_of(x, nm, sizeof(nm)),
		    pk_asn1_time_text(X509_get0_notBefore(x), tm, sizeof(tm)));
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		return pk_err_set(e, "%s \"%s\" expired on %s (RFC 5280 4.1.2.5)",
		    what, name_of(x, nm, sizeof(nm)), pk_asn1_time_text(
		    X509_get0_notAfter(x), tm, sizeof(tm)));
	return 0;
}

/* 1 when X is one of the imported CA certificates. */
static int
is_imported(const struct cmp_client_cfg *c, X509 *x)
{
	for (int i = 0; i < sk_X509_num(c->trusted); i++)
		if (X509_cmp(sk_X509_value(c->trusted, i), x) == 0)
			return 1;
	return 0;
}

/* A signer X whose signature verified: chains to an imported CA certificate and
 * may speak for the CA (RFC 9483 3.5). 0 or -1 with the reason. */
static int
signer_authorised(struct cmp_txn *t, X509 *x, STACK_OF(X509) *extra,
    struct pk_err *e)
{
	const struct cmp_client_cfg *c = t->cfg;
	char why[PK_ERR_MAX], nm[256], is[256], eku[256];

	if (verify_chain(x, c->trusted, NULL, extra, NULL, why, sizeof(why)) != 0)
		return pk_err_set(e, "the CMP signer certificate \"%s\" is not "
		    "trusted: %s (it must chain to an imported CA certificate)",
		    name_of(x, nm, sizeof(nm)), why);
	/* the CA itself (an imported CA certificate, or a CA certificate on a
	 * chain to one, such as the issuing CA under an imported root), or an
	 * RA or CA authorised by extended key usage */
	if (!is_imported(c, x) && X509_check_ca(x) == 0 &&
	    !has_cmc_eku(x, eku, sizeof(eku)))
		return pk_err_set(e, "RFC 9483 3.5: the CMP signer certificate "
		    "\"%s\" (issued by \"%s\") may not speak for the CA: it is "
		    "neither an imported CA certificate nor a CA certificate, and "
		    "its extended key usage holds neither id-kp-cmcCA nor "
		    "id-kp-cmcRA (%s%s)", name_of(x, nm, sizeof(nm)),
		    pk_name_text(X509_get_issuer_name(x), is, sizeof(is)),
		    eku[0] ? "its extended key usage: " : "it has no extended key "
		    "usage", eku);
	return signer_usage_ok(x, "the CMP signer certificate", e);
}

/* Signature protection (RFC 4210 5.1.3.3): by the pinned verification-cert
 * when configured, else by a certificate of extraCerts (the one named by
 * senderKID, or with the sender's name) or an imported CA certificate, which
 * must be authorised (signer_authorised). */
static int
verify_sig(struct cmp_txn *t, const CMP_PKIMESSAGE *m, struct pk_err *e)
{
	const struct cmp_client_cfg *c = t->cfg;
	STACK_OF(X509) *extra = cmp_msg_get0_extra_certs(m);
	const ASN1_OCTET_STRING *kid = cmp_msg_get0_sender_kid(m);
	const X509_NAME *sn = cmp_msg_get0_sender_name(m);
	char why[PK_ERR_MAX] = "";
	struct pk_err se;
	int i, pass, tried = 0;

	if (c->verify_cert != NULL) {
		/* pinned: this certificate and no other (DESIGN "Trust rules") */
		if (cmp_msg_verify_sig(m, c->verify_cert, e) != 0)
			return -1;
		if (valid_now(c->verify_cert, "the verification-cert", e) != 0)
			return -1;
		return signer_usage_ok(c->verify_cert, "the verification-cert", e);
	}
	if (sk_X509_num(c->trusted) <= 0)
		return pk_err_set(e, "no verification certificate configured and no "
		    "CA certificate imported: cannot authenticate the signed "
		    "response");
	/* candidates: extraCerts, then the trusted certificates themselves (a
	 * CA signing with its own certificate may leave it out of extraCerts).
	 * pass 0: senderKID = subjectKeyIdentifier; pass 1: subject = sender
	 * (some CAs echo our senderKID, so the name is the fallback) */
	for (pass = 0; pass < 4; pass++) {
		STACK_OF(X509) *cand = pass < 2 ? extra : c->trusted;

		for (i = 0; i < sk_X509_num(cand); i++) {
			X509 *x = sk_X509_value(cand, i);
			const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);

			if (pass % 2 == 0 && (kid == NULL || skid == NULL ||
			    ASN1_OCTET_STRING_cmp(kid, skid) != 0))
				continue;
			if (pass % 2 == 1 && (sn == NULL ||
			    X509_NAME_cmp(X509_get_subject_name(x), sn) != 0 ||
			    (kid != NULL && skid != NULL &&
			    ASN1_OCTET_STRING_cmp(kid, skid) == 0)))
				continue;
			tried++;
			if (cmp_msg_verify_sig(m, x, &se) != 0) {
				snprintf(why, sizeof(why), "%s", se.msg);
				continue;
			}
			return signer_authorised(t, x, extra, e);
		}
	}
	if (tried > 0)
		return pk_err_set(e, "%s", why);
	return pk_err_set(e, "no certificate to check the signature with: no "
	    "verification-cert configured, and neither extraCerts nor the CA "
	    "certificates hold one matching the sender");
}

/* 0 when M's protection verifies and comes from whom the session believes. */
static int
verify_protection(struct cmp_txn *t, const CMP_PKIMESSAGE *m, struct pk_err *e)
{
	char *d;

	t->rsp_mac = 0;
	switch (cmp_msg_protection_kind(m)) {
	case CMP_PROT_NONE:
		return pk_err_set(e, "the message is not protected");
	case CMP_PROT_PBM:
	case CMP_PROT_PBMAC1:
		/* either MAC with the session's secret proves the sender
		 * knows it (cmpca answers in the request's kind) */
		if (!t->cfg->use_mac)
			return pk_err_set(e, "the message is MAC-protected but this "
			    "session has no shared secret (signature mode)");
		if (cmp_msg_verify_pbm(m, t->cfg->secret, t->cfg->secret_len,
		    &client_pbm, e) != 0)
			return -1;
		t->rsp_mac = 1;
		return 0;
	case CMP_PROT_SIG:
		return verify_sig(t, m, e);
	default:
		d = cmp_msg_protection_desc(m);
		pk_err_set(e, "unsupported protection algorithm %s", d ? d : "?");
		free(d);
		return -1;
	}
}

static void
set_status(struct cmp_txn *t, const CMP_PKISTATUSINFO *si)
{
	free(t->res->status_text);
	t->res->status = cmp_si_status(si);
	t->res->failinfo = cmp_si_failinfo(si);
	t->res->status_text = cmp_si_text(si);
}

/* An error message (RFC 4210 5.3.21): fills the result, composes the report. */
static int
report_error_msg(struct cmp_txn *t, const CMP_PKIMESSAGE *m, int authentic,
    const char *why_unauth, struct pk_err *e)
{
	const CMP_PKISTATUSINFO *si = cmp_msg_get0_status(m, 0);
	char *desc = si != NULL ? cmp_si_describe(si) : NULL;
	char *details = cmp_error_details(m);
	long code = cmp_error_code(m);
	struct sbuf b = SBUF_INIT;

	set_status(t, si);
	t->res->unauthenticated = !authentic;
	sbuf_printf(&b, "the CA answered with an error message: %s",
	    desc != NULL ? desc : "no status");
	if (code >= 0)
		sbuf_printf(&b, "; errorCode %ld", code);
	if (details != NULL)
		sbuf_printf(&b, "; details: \"%s\"", details);
	if (!authentic)
		sbuf_printf(&b, " [unauthenticated: %s; reported, not trusted]",
		    why_unauth);
	pk_err_set(e, "%s", sbuf_str(&b));
	sbuf_free(&b);
	free(desc);
	free(details);
	return -1;
}

/* A rejecting ip/cp/kup whose protection does not verify. */
static int
report_unauth_rejection(struct cmp_txn *t, const CMP_PKIMESSAGE *m,
    const char *why_unauth, struct pk_err *e)
{
	const CMP_PKISTATUSINFO *si = cmp_certresp_get0_status(cmp_rep_get0(m, 0));
	char *desc = cmp_si_describe(si);

	set_status(t, si);
	t->res->unauthenticated = 1;
	pk_err_set(e, "the CA refused the %s: %s [unauthenticated: %s; reported, "
	    "not trusted]", cmp_body_name(t->type), desc != NULL ? desc : "rejection",
	    why_unauth);
	free(desc);
	return -1;
}

int
cmp_txn_check_response(struct cmp_txn *t, const CMP_PKIMESSAGE *req,
    const CMP_PKIMESSAGE *rsp, int exp1, int exp2, struct pk_err *e)
{
	int type = cmp_msg_body_type(rsp);
	int rtype = cmp_msg_body_type(req);
	struct pk_err pe;
	const ASN1_OCTET_STRING *tid, *rn, *sn;
	ASN1_OCTET_STRING *mytid = NULL;
	char h1[40], h2[40];
	int rc = -1;

	pk_err_clear(&pe);
	if (verify_protection(t, rsp, &pe) != 0) {
		if (type == CMP_BODY_ERROR)
			return report_error_msg(t, rsp, 0, pe.msg, e);
		/* some CAs send negative ip/cp/kup unprotected (RFC 9483 3.6.4
		 * lets a client take them): report the refusal, never trust it */
		if (type == rep_body(t->type) && cmp_rep_count(rsp) == 1 &&
		    cmp_si_status(cmp_certresp_get0_status(cmp_rep_get0(rsp, 0)))
		    == CMP_STATUS_REJECTION)
			return report_unauth_rejection(t, rsp, pe.msg, e);
		if (cmp_msg_protection_kind(rsp) == CMP_PROT_NONE)
			return pk_err_set(e, "RFC 4210 5.1.3: the %s answering our %s "
			    "is not protected; an unprotected positive response is "
			    "refused", cmp_body_name(type), cmp_body_name(rtype));
		return pk_err_set(e, "RFC 4210 5.1.3: the %s answering our %s is "
		    "not authenticated: %s", cmp_body_name(type),
		    cmp_body_name(rtype), pe.msg);
	}
	/* RFC 4210 5.1.1: the transactionID is the same in every message */
	tid = cmp_msg_get0_transaction_id(rsp);
	if ((mytid = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(mytid, t->tid, sizeof(t->tid))) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	rn = cmp_msg_get0_recip_nonce(rsp);
	if (type == CMP_BODY_ERROR) {
		/* reported in any case; trusted only when it is bound to this
		 * request (a protected error replayed from elsewhere is not) */
		const char *bad = !cmp_octets_eq(tid, mytid) ? "its transactionID "
		    "is not ours (RFC 4210 5.1.1)" : !cmp_octets_eq(rn,
		    cmp_msg_get0_sender_nonce(req)) ? "its recipNonce does not "
		    "answer our senderNonce (RFC 4210 5.1.1)" : NULL;

		rc = report_error_msg(t, rsp, bad == NULL, bad, e);
		goto out;
	}
	if (!cmp_octets_eq(tid, mytid)) {
		pk_err_set(e, "RFC 4210 5.1.1: the transactionID of the %s is not "
		    "the request's: expected %s, came %s", cmp_body_name(type),
		    octets_hint(mytid, h1, sizeof(h1)), octets_hint(tid, h2,
		    sizeof(h2)));
		goto out;
	}
	/* RFC 4210 5.1.1: recipNonce is the senderNonce of our request */
	if (rn == NULL) {
		pk_err_set(e, "RFC 4210 5.1.1: the %s has no recipNonce",
		    cmp_body_name(type));
		goto out;
	}
	if (!cmp_octets_eq(rn, cmp_msg_get0_sender_nonce(req))) {
		pk_err_set(e, "RFC 4210 5.1.1: the recipNonce of the %s does not "
		    "answer the request's senderNonce: expected %s, came %s",
		    cmp_body_name(type), octets_hint(cmp_msg_get0_sender_nonce(
		    req), h1, sizeof(h1)), octets_hint(rn, h2, sizeof(h2)));
		goto out;
	}
	if (type != exp1 && type != exp2) {
		pk_err_set(e, "RFC 4210 5.1.2: unexpected %s in answer to %s "
		    "(expected %s%s%s)", cmp_body_name(type), cmp_body_name(rtype),
		    cmp_body_name(exp1), exp2 >= 0 ? " or " : "",
		    exp2 >= 0 ? cmp_body_name(exp2) : "");
		goto out;
	}
	sn = cmp_msg_get0_sender_nonce(rsp);
	if (sn == NULL || ASN1_STRING_length(sn) <= 0) {
		pk_err_set(e, "RFC 4210 5.1.1: the %s has no senderNonce",
		    cmp_body_name(type));
		goto out;
	}
	ASN1_OCTET_STRING_free(t->peer_nonce);
	if ((t->peer_nonce = ASN1_OCTET_STRING_dup(sn)) == NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	rc = 0;
out:
	ASN1_OCTET_STRING_free(mytid);
	return rc;
}

/* Sends REQ (protected here) and returns the checked response. */
static int
transfer(struct cmp_txn *t, CMP_PKIMESSAGE *req, int exp1, int exp2,
    CMP_PKIMESSAGE **rsp, struct pk_err *e)
{
	int left, type = cmp_msg_body_type(req);

	*rsp = NULL;
	if (protect(t, req, e) != 0)
		return -1;
	if ((left = remaining(t)) == 0)
		return pk_err_set(e, "the transaction timed out after %d seconds "
		    "(before sending %s)", t->timeout, cmp_body_name(type));
	progress(t, "Sending %s to %s", cmp_body_name(type), t->cfg->url);
	if (t->cfg->trace != NULL)
		t->cfg->trace(t->cfg->trace_arg, 1, req);
	if (cmp_http_exchange(t->http, req, left, rsp, e) != 0)
		return -1;
	if (t->cfg->trace != NULL)
		t->cfg->trace(t->cfg->trace_arg, 0, *rsp);
	progress(t, "Received %s", cmp_body_name(cmp_msg_body_type(*rsp)));
	if (cmp_txn_check_response(t, req, *rsp, exp1, exp2, e) != 0) {
		CMP_PKIMESSAGE_free(*rsp);
		*rsp = NULL;
		return -1;
	}
	return 0;
}

static int
stopped(struct cmp_txn *t)
{
	return t->cfg->should_stop != NULL && t->cfg->should_stop(t->cfg->stop_arg);
}

/* Sleeps SECS seconds in short steps, watching should_stop and the deadline. */
static int
poll_wait(struct cmp_txn *t, long secs, struct pk_err *e)
{
	double until = pk_mono_s() + (double)secs;
	struct timespec ts = { 0, CMP_CLIENT_STOP_SLICE_NS };

	if (until > t->deadline)
		return pk_err_set(e, "the certificate did not arrive within the "
		    "timeout of %d seconds (the CA asks to check again in %ld "
		    "seconds)", t->timeout, secs);
	for (;;) {
		if (stopped(t))
			return pk_err_set(e, "stopped by the operator while polling "
			    "(the CA had asked to check again in %ld seconds)", secs);
		if (pk_mono_s() >= until)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* RFC 4210 5.3.22: pollReq until the ip/cp/kup with the certificate. *rsp is
 * the waiting response on entry, the final one on return. */
static int
poll_loop(struct cmp_txn *t, long req_id, CMP_PKIMESSAGE **rsp, struct pk_err *e)
{
	struct cmp_hdr h;
	CMP_PKIMESSAGE *req = NULL, *r = NULL;
	long rid, after = 0;
	char *reason = NULL;
	int rc = -1;

	while (t->res->polled < CMP_CLIENT_MAX_POLLS) {
		if (after > 0 && poll_wait(t, after, e) != 0)
			goto out;
		if (stopped(t)) {
			pk_err_set(e, "stopped by the operator while polling");
			goto out;
		}
		hdr_init(t, &h);
		if (cmp_build_pollreq(&h, req_id, &req, e) != 0)
			goto out;
		t->res->polled++;
		if (transfer(t, req, CMP_BODY_POLLREP, rep_body(t->type), &r, e) != 0)
			goto out;
		CMP_PKIMESSAGE_free(req);
		req = NULL;
		if (cmp_msg_body_type(r) != CMP_BODY_POLLREP) {
			CMP_PKIMESSAGE_free(*rsp);
			*rsp = r;
			r = NULL;
			rc = 0;
			goto out;
		}
		if (cmp_pollrep_count(r) < 1 ||
		    cmp_pollrep_get(r, 0, &rid, &after, &reason, e) != 0) {
			pk_err_set(e, "RFC 4210 5.3.22: malformed pollRep");
			goto out;
		}
		if (rid != req_id) {
			pk_err_set(e, "RFC 4210 5.3.22: the pollRep names certReqId "
			    "%ld, we asked for %ld", rid, req_id);
			goto out;
		}
		if (after < 0)
			after = 0;
		progress(t, "The CA is still working on it%s%s%s; checking again "
		    "in %ld seconds", reason ? " (" : "", reason ? reason : "",
		    reason ? ")" : "", after);
		free(reason);
		reason = NULL;
		CMP_PKIMESSAGE_free(r);
		r = NULL;
		/* a CA asking for no wait: still do not hammer it */
		if (after == 0)
			after = 1;
	}
	if (rc != 0 && t->res->polled >= CMP_CLIENT_MAX_POLLS)
		pk_err_set(e, "gave up after %d pollReq", t->res->polled);
out:
	free(reason);
	CMP_PKIMESSAGE_free(req);
	CMP_PKIMESSAGE_free(r);
	return rc;
}

/* The caPubs of RSP when they may be trust anchors: those of an ip whose MAC
 * verified (RFC 4210 5.3.2, RFC 9483 4.1.1); NULL otherwise. */
static STACK_OF(X509) *
capubs_anchors(struct cmp_txn *t, const CMP_PKIMESSAGE *rsp)
{
	return t->rsp_mac && cmp_msg_body_type(rsp) == CMP_BODY_IP ?
	    cmp_rep_get0_capubs(rsp) : NULL;
}

int
cmp_txn_cert_acceptable(struct cmp_txn *t, const CMP_PKIMESSAGE *rsp,
    X509 *cert, int *failbit, char *why, size_t whylen)
{
	const struct cmp_client_cfg *c = t->cfg;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	STACK_OF(X509) *capubs = cmp_rep_get0_capubs(rsp);
	STACK_OF(X509) *anchors = capubs_anchors(t, rsp);
	STACK_OF(X509) *extra = cmp_msg_get0_extra_certs(rsp);
	STACK_OF(X509) *untrusted = NULL, *chain = NULL;
	const ASN1_OCTET_STRING *aki, *skid;
	X509 *issuer;
	char cw[200], nm[256], h1[40], h2[40];
	int i, rc = -1;

	if (pub == NULL || EVP_PKEY_eq(pub, c->key) != 1) {
		ERR_clear_error();
		*failbit = CMP_FAIL_BAD_CERT_TEMPLATE;
		snprintf(why, whylen, "its public key is not the requested one");
		return -1;
	}
	if (c->recipient != NULL && X509_NAME_entry_count(c->recipient) > 0 &&
	    X509_NAME_cmp(X509_get_issuer_name(cert), c->recipient) != 0) {
		char is[256], ca[256];

		*failbit = CMP_FAIL_WRONG_AUTHORITY;
		snprintf(why, whylen, "it was issued by \"%s\", not by the expected "
		    "CA \"%s\"", pk_name_text(X509_get_issuer_name(cert), is,
		    sizeof(is)), pk_name_text(c->recipient, ca, sizeof(ca)));
		return -1;
	}
	*failbit = CMP_FAIL_INCORRECT_DATA;
	/* anchors: the imported CA certificates, and the caPubs of a
	 * MAC-protected ip; never the caPubs of a signed answer */
	if (sk_X509_num(c->trusted) <= 0 && sk_X509_num(anchors) <= 0) {
		snprintf(why, whylen, "there is no imported CA certificate to check "
		    "it against%s (import the CA certificate; RFC 9483 4.1.1: only "
		    "the caPubs of a MAC-protected ip may stand in for it)",
		    sk_X509_num(capubs) > 0 ? ", and the caPubs of a signed answer "
		    "are not trust anchors" : "");
		return -1;
	}
	if ((untrusted = sk_X509_new_null()) == NULL) {
		snprintf(why, whylen, "out of memory");
		*failbit = CMP_FAIL_SYSTEM_FAILURE;
		return -1;
	}
	/* chain material only: extraCerts, caPubs */
	for (i = 0; i < sk_X509_num(extra); i++)
		sk_X509_push(untrusted, sk_X509_value(extra, i));
	for (i = 0; i < sk_X509_num(capubs); i++)
		sk_X509_push(untrusted, sk_X509_value(capubs, i));
	if (verify_chain(cert, c->trusted, anchors, untrusted, &chain, cw,
	    sizeof(cw)) != 0) {
		snprintf(why, whylen, "it is not from an imported CA: %s%s", cw,
		    sk_X509_num(capubs) > 0 && anchors == NULL ? " (the caPubs of a "
		    "signed answer are not trust anchors, RFC 9483 4.1.1)" : "");
		goto out;
	}
	if (sk_X509_num(chain) < 2) {
		snprintf(why, whylen, "it is itself one of the trusted CA "
		    "certificates");
		goto out;
	}
	/* RFC 5280 4.2.1.1: the issuer is named by key identifier as well as by
	 * name (the chain matched the names) */
	issuer = sk_X509_value(chain, 1);
	aki = X509_get0_authority_key_id(cert);
	skid = X509_get0_subject_key_id(issuer);
	*failbit = CMP_FAIL_WRONG_AUTHORITY;
	if (aki == NULL) {
		snprintf(why, whylen, "RFC 5280 4.2.1.1: it has no "
		    "authorityKeyIdentifier, so its issuer \"%s\" cannot be "
		    "matched by key identifier", name_of(issuer, nm, sizeof(nm)));
		goto out;
	}
	if (skid == NULL) {
		snprintf(why, whylen, "RFC 5280 4.2.1.2: its issuer \"%s\" has no "
		    "subjectKeyIdentifier to match its authorityKeyIdentifier",
		    name_of(issuer, nm, sizeof(nm)));
		goto out;
	}
	if (ASN1_OCTET_STRING_cmp(aki, skid) != 0) {
		snprintf(why, whylen, "RFC 5280 4.2.1.1: its authorityKeyIdentifier "
		    "%s is not the subjectKeyIdentifier %s of its issuer \"%s\"",
		    octets_hint(aki, h1, sizeof(h1)), octets_hint(skid, h2,
		    sizeof(h2)), name_of(issuer, nm, sizeof(nm)));
		goto out;
	}
	rc = 0;
out:
	sk_X509_free(untrusted);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static int
check_cfg(int type, const struct cmp_client_cfg *c, struct pk_err *e)
{
	if (type != CMP_BODY_IR && type != CMP_BODY_CR && type != CMP_BODY_KUR &&
	    type != CMP_BODY_GENM)
		return pk_err_set(e, "a client transaction is an ir, cr, kur or "
		    "genm, not %s (body type %d)", cmp_body_name(type), type);
	if (c->url == NULL || *c->url == '\0')
		return pk_err_set(e, "no CMP server URL configured");
	/* a genm certifies nothing: no key, no subject (RFC 9483 4.3) */
	if (type != CMP_BODY_GENM && c->key == NULL)
		return pk_err_set(e, "no key pair to certify");
	if (type != CMP_BODY_GENM && c->subject == NULL && c->san == NULL)
		return pk_err_set(e, "the request has neither a subject nor a "
		    "subjectAltName");
	if (c->use_mac) {
		/* RFC 4210 5.3.3/5.3.5 (and RFC 9483 4.1.2, 4.1.3): cr and kur
		 * are protected by the current certificate's key; a genm may
		 * use either (RFC 9483 4.3) */
		if (type == CMP_BODY_CR || type == CMP_BODY_KUR)
			return pk_err_set(e, "a %s must be signature-protected: MAC "
			    "protection is for the initial request only",
			    cmp_body_name(type));
		if (c->ref == NULL || *c->ref == '\0')
			return pk_err_set(e, "MAC protection needs the reference "
			    "value (senderKID)");
		if (c->secret == NULL || c->secret_len == 0)
			return pk_err_set(e, "MAC protection needs the shared secret");
	} else {
		if (c->auth_cert == NULL || c->auth_key == NULL)
			return pk_err_set(e, "signature protection needs the "
			    "authentication certificate and its key");
	}
	return 0;
}

void
cmp_client_result_clear(struct cmp_client_result *r)
{
	if (r == NULL)
		return;
	X509_free(r->cert);
	sk_X509_pop_free(r->ca_pubs, X509_free);
	sk_X509_pop_free(r->extra_certs, X509_free);
	free(r->status_text);
	memset(r, 0, sizeof(*r));
	r->status = -1;
}

/* Sends certConf for CERT (accepted, or rejection with FAILBIT and WHY) and
 * waits for pkiConf (RFC 4210 5.3.18, 5.3.17). */
static int
confirm(struct cmp_txn *t, X509 *cert, long req_id, int reject, int failbit,
    const char *why, struct pk_err *e)
{
	struct cmp_hdr h;
	CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
	int rc = -1;

	hdr_init(t, &h);
	if (cmp_build_certconf(&h, cert, req_id, reject ? CMP_STATUS_REJECTION :
	    CMP_STATUS_ACCEPTED, reject ? CMP_FAIL(failbit) : 0, reject ? why :
	    NULL, &req, e) != 0)
		goto out;
	/* no progress line of its own: the pkiConf is the exchange's last
	 * step (transfer reports it), and after a rejecting certConf the
	 * failure is the request's error */
	if (transfer(t, req, CMP_BODY_PKICONF, -1, &rsp, e) != 0)
		goto out;
	rc = 0;
out:
	CMP_PKIMESSAGE_free(req);
	CMP_PKIMESSAGE_free(rsp);
	return rc;
}

int
cmp_txn_init(struct cmp_txn *t, int type, const struct cmp_client_cfg *cfg,
    struct cmp_client_result *res, struct pk_err *e)
{
	memset(res, 0, sizeof(*res));
	res->status = -1;
	memset(t, 0, sizeof(*t));
	if (check_cfg(type, cfg, e) != 0)
		return -1;
	t->type = type;
	t->cfg = cfg;
	t->res = res;
	t->timeout = cfg->timeout > 0 ? cfg->timeout : CMP_CLIENT_DEFAULT_TIMEOUT;
	t->deadline = pk_mono_s() + t->timeout;
	/* RFC 4210 5.1.1: sender names the originator; without a certificate
	 * (MAC) that is the requested subject, or the NULL-DN */
	t->sender = cfg->use_mac ? cfg->subject :
	    X509_get_subject_name(cfg->auth_cert);
	/* RFC 4210 5.1.1: transactionID 128 random bits for a new transaction */
	if (RAND_bytes(t->tid, sizeof(t->tid)) != 1)
		return pk_err_ossl(e, "cannot draw a transactionID");
	return 0;
}

void
cmp_txn_clear(struct cmp_txn *t)
{
	ASN1_OCTET_STRING_free(t->peer_nonce);
	t->peer_nonce = NULL;
	cmp_http_free(t->http);
	t->http = NULL;
}

int
cmp_txn_first_request(struct cmp_txn *t, CMP_PKIMESSAGE **req,
    struct pk_err *e)
{
	const struct cmp_client_cfg *cfg = t->cfg;
	struct cmp_certreq cr;
	struct cmp_hdr h;

	*req = NULL;
	memset(&cr, 0, sizeof(cr));
	cr.subject = cfg->subject;
	cr.key = cfg->key;
	cr.san = cfg->san;
	cr.cert_req_id = 0;
	/* RFC 4211 6.5 / RFC 4210 5.3.5: kur names the certificate it updates */
	cr.old_cert = t->type == CMP_BODY_KUR ? cfg->auth_cert : NULL;
	hdr_init(t, &h);
	h.implicit_confirm = cfg->implicit_confirm;	/* RFC 4210 5.1.1.1 */
	return cmp_build_certreq(&h, t->type, &cr, req, e);
}

int
cmp_client_run(int type, const struct cmp_client_cfg *cfg,
    struct cmp_client_result *result, struct pk_err *e)
{
	struct cmp_txn t;
	CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
	CMP_CERTRESPONSE *crs;
	const CMP_PKISTATUSINFO *si;
	STACK_OF(X509) *capubs;
	X509 *cert;
	char why[400];
	long st, req_id = 0;
	int failbit = 0, ctimeout, rc = -1;
	struct pk_err ce;

	pk_err_clear(e);
	if (type != CMP_BODY_IR && type != CMP_BODY_CR && type != CMP_BODY_KUR) {
		/* a genm is cmp_client_genm()'s (no certificate, no certConf) */
		memset(result, 0, sizeof(*result));
		result->status = -1;
		return pk_err_set(e, "a client transaction is an ir, cr or kur, "
		    "not %s (body type %d)", cmp_body_name(type), type);
	}
	if (cmp_txn_init(&t, type, cfg, result, e) != 0)
		goto out;
	ctimeout = t.timeout < CMP_CLIENT_CONNECT_TIMEOUT ? t.timeout :
	    CMP_CLIENT_CONNECT_TIMEOUT;
	if (cmp_http_new(&t.http, cfg->url, cfg->trusted, ctimeout, e) != 0)
		goto out;
	cmp_http_set_stop(t.http, cfg->should_stop, cfg->stop_arg);
	if (cmp_txn_first_request(&t, &req, e) != 0)
		goto out;
	if (transfer(&t, req, rep_body(type), -1, &rsp, e) != 0)
		goto out;

	for (;;) {
		crs = cmp_rep_find(rsp, req_id);
		if (crs == NULL && cmp_rep_count(rsp) == 1)
			crs = cmp_rep_get0(rsp, 0);
		if (crs == NULL) {
			pk_err_set(e, "RFC 4210 5.3.4: the %s has no CertResponse for "
			    "certReqId %ld", cmp_body_name(cmp_msg_body_type(rsp)),
			    req_id);
			goto out;
		}
		si = cmp_certresp_get0_status(crs);
		set_status(&t, si);
		st = cmp_si_status(si);
		if (st != CMP_STATUS_WAITING)
			break;
		/* RFC 4210 5.3.22: waiting -> poll */
		progress(&t, "The CA answered waiting; polling");
		if (poll_loop(&t, req_id, &rsp, e) != 0)
			goto out;
	}
	/* RFC 9483 4.1.1: only the caPubs of a MAC-protected ip are handed on
	 * as CA certificates */
	capubs = cmp_rep_get0_capubs(rsp);
	if (sk_X509_num(capubs) > 0 && capubs_anchors(&t, rsp) == NULL)
		progress(&t, "The caPubs of the signed %s are not used (RFC 9483 "
		    "4.1.1: only a MAC-protected ip delivers CA certificates)",
		    cmp_body_name(cmp_msg_body_type(rsp)));
	else if (sk_X509_num(capubs) > 0 &&
	    (result->ca_pubs = X509_chain_up_ref(capubs)) == NULL)
		goto oom;
	if (sk_X509_num(cmp_msg_get0_extra_certs(rsp)) > 0 &&
	    (result->extra_certs = X509_chain_up_ref(
	    cmp_msg_get0_extra_certs(rsp))) == NULL)
		goto oom;
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_GRANTED_WITH_MODS) {
		char *d = cmp_si_describe(si);

		pk_err_set(e, "the CA refused the %s: %s", cmp_body_name(type),
		    d != NULL ? d : "no status");
		free(d);
		goto out;
	}
	if ((cert = cmp_certresp_get0_cert(crs)) == NULL) {
		pk_err_set(e, "RFC 4210 5.3.4: the %s grants the request but holds "
		    "no certificate (an encrypted certificate is not supported)",
		    cmp_body_name(cmp_msg_body_type(rsp)));
		goto out;
	}
	req_id = cmp_certresp_req_id(crs);
	result->implicit_confirm_granted = cfg->implicit_confirm &&
	    cmp_msg_implicit_confirm(rsp);

	if (cmp_txn_cert_acceptable(&t, rsp, cert, &failbit, why,
	    sizeof(why)) != 0) {
		if (result->implicit_confirm_granted) {
			pk_err_set(e, "the issued certificate is unacceptable: %s "
			    "(implicit confirmation was granted, so no certConf "
			    "rejection could be sent)", why);
			goto out;
		}
		/* RFC 4210 5.2.8, RFC 9483 3.1: say so with a rejecting certConf
		 * (the error below reports it, once) */
		if (confirm(&t, cert, req_id, 1, failbit, why, &ce) != 0)
			pk_err_set(e, "the issued certificate is unacceptable: %s; "
			    "sending the certConf rejection failed: %s", why, ce.msg);
		else
			pk_err_set(e, "the issued certificate is unacceptable: %s "
			    "(rejected with certConf, failInfo %s)", why,
			    cmp_failinfo_name(failbit));
		goto out;
	}
	if (result->implicit_confirm_granted) {
		progress(&t, "Implicit confirmation granted: no certConf needed");
	} else if (confirm(&t, cert, req_id, 0, 0, NULL, e) != 0) {
		goto out;
	}
	if (!X509_up_ref(cert))
		goto oom;
	result->cert = cert;
	rc = 0;
	goto out;
oom:
	pk_err_ossl(e, "out of memory");
out:
	if (rc != 0) {
		X509_free(result->cert);
		result->cert = NULL;
	}
	CMP_PKIMESSAGE_free(req);
	CMP_PKIMESSAGE_free(rsp);
	cmp_txn_clear(&t);
	ERR_clear_error();
	return rc;
}

int
cmp_client_genm(const struct cmp_client_cfg *cfg, const CMP_ITAV *ask,
    const char *want, CMP_ITAV **out, struct cmp_client_result *result,
    struct pk_err *e)
{
	struct cmp_txn t;
	STACK_OF(CMP_ITAV) *itavs = NULL, *got;
	CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
	struct cmp_hdr h;
	int i, ctimeout, rc = -1;

	*out = NULL;
	pk_err_clear(e);
	if (cmp_txn_init(&t, CMP_BODY_GENM, cfg, result, e) != 0)
		goto out;
	ctimeout = t.timeout < CMP_CLIENT_CONNECT_TIMEOUT ? t.timeout :
	    CMP_CLIENT_CONNECT_TIMEOUT;
	if (cmp_http_new(&t.http, cfg->url, cfg->trusted, ctimeout, e) != 0)
		goto out;
	cmp_http_set_stop(t.http, cfg->should_stop, cfg->stop_arg);
	/* the builder copies the ITAVs: the stack only borrows ASK */
	if ((itavs = sk_CMP_ITAV_new_null()) == NULL ||
	    !sk_CMP_ITAV_push(itavs, (CMP_ITAV *)ask))
		goto oom;
	hdr_init(&t, &h);
	if (cmp_build_genm(&h, itavs, &req, e) != 0)
		goto out;
	/* the genp is checked like any answer (protection and whom it comes
	 * from, transactionID, recipNonce; an error body is reported) */
	if (transfer(&t, req, CMP_BODY_GENP, -1, &rsp, e) != 0)
		goto out;
	if (sk_X509_num(cmp_msg_get0_extra_certs(rsp)) > 0 &&
	    (result->extra_certs = X509_chain_up_ref(
	    cmp_msg_get0_extra_certs(rsp))) == NULL)
		goto oom;
	/* RFC 4210 5.3.19: the genp answers with ITAVs of the types asked for
	 * (or leaves out what the CA does not know); one of WANT at most */
	got = cmp_msg_get0_itavs(rsp);
	for (i = 0; i < sk_CMP_ITAV_num(got); i++) {
		const CMP_ITAV *it = sk_CMP_ITAV_value(got, i);

		if (!cmp_itav_is(it, want))
			continue;
		if (*out != NULL) {
			pk_err_set(e, "RFC 4210 5.3.19: the genp holds the infoType "
			    "%s more than once", want);
			goto out;
		}
		if ((*out = CMP_ITAV_dup(it)) == NULL)
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	pk_err_ossl(e, "out of memory");
out:
	if (rc != 0) {
		CMP_ITAV_free(*out);
		*out = NULL;
	}
	sk_CMP_ITAV_free(itavs);
	CMP_PKIMESSAGE_free(req);
	CMP_PKIMESSAGE_free(rsp);
	cmp_txn_clear(&t);
	ERR_clear_error();
	return rc;
}
