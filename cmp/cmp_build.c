/*
 * cmp_build: building CMP messages, unprotected (cmp_protect.c protects them).
 *
 * Requests: ir/cr/kur with one CertReqMsg and a signature POP (RFC 4211 4.1),
 * p10cr, certConf (RFC 4210 5.3.18), pollReq (5.3.22), rr (5.3.9), genm (5.3.19).
 * Responses: ip/cp/kup, pollRep, pkiConf, rp, genp, error; a response copies the
 * request's transactionID, answers its senderNonce in recipNonce and has a fresh
 * senderNonce (RFC 4210 5.1.1). Everything built is encoded as DER by OpenSSL's
 * templates (SET OF sorted, minimal lengths), which BouncyCastle relies on.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_msg_int.h"

static int
set_octets(ASN1_OCTET_STRING **dst, const unsigned char *p, size_t len)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	if (s == NULL || !ASN1_OCTET_STRING_set(s, p, (int)len)) {
		ASN1_OCTET_STRING_free(s);
		return -1;
	}
	ASN1_OCTET_STRING_free(*dst);
	*dst = s;
	return 0;
}

static int
dup_octets(ASN1_OCTET_STRING **dst, const ASN1_OCTET_STRING *src)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_dup(src);

	if (s == NULL)
		return -1;
	ASN1_OCTET_STRING_free(*dst);
	*dst = s;
	return 0;
}

static int
random_octets(ASN1_OCTET_STRING **dst)
{
	ASN1_OCTET_STRING *s = cmp_random_octets(CMP_NONCE_LEN);

	if (s == NULL)
		return -1;
	ASN1_OCTET_STRING_free(*dst);
	*dst = s;
	return 0;
}

/* A directoryName GeneralName of NAME (the NULL-DN when NAME is NULL). */
static GENERAL_NAME *
dirname_new(const X509_NAME *name)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *n = name != NULL ? X509_NAME_dup(name) : X509_NAME_new();

	if (gn == NULL || n == NULL) {
		GENERAL_NAME_free(gn);
		X509_NAME_free(n);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, n);
	return gn;
}

static STACK_OF(ASN1_UTF8STRING) *
freetext_new(const char *text)
{
	STACK_OF(ASN1_UTF8STRING) *sk = sk_ASN1_UTF8STRING_new_null();
	ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();

	if (sk == NULL || u == NULL ||
	    !ASN1_STRING_set(u, text, (int)strlen(text)) ||
	    !sk_ASN1_UTF8STRING_push(sk, u)) {
		ASN1_UTF8STRING_free(u);
		sk_ASN1_UTF8STRING_free(sk);
		return NULL;
	}
	return sk;
}

static int
push_itav_copies(STACK_OF(CMP_ITAV) **dst, STACK_OF(CMP_ITAV) *src)
{
	int i;

	if (*dst == NULL && (*dst = sk_CMP_ITAV_new_null()) == NULL)
		return -1;
	for (i = 0; i < sk_CMP_ITAV_num(src); i++) {
		CMP_ITAV *it = CMP_ITAV_dup(sk_CMP_ITAV_value(src, i));

		if (it == NULL || !sk_CMP_ITAV_push(*dst, it)) {
			CMP_ITAV_free(it);
			return -1;
		}
	}
	return 0;
}

/* A message of body TYPE with its header filled from H and, for a response, from
 * the request REQ (RFC 4210 5.1.1). The body's value is left for the caller. */
static CMP_PKIMESSAGE *
msg_new(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req, int type)
{
	static const struct cmp_hdr none;
	CMP_PKIMESSAGE *m = CMP_PKIMESSAGE_new(), *ret = NULL;
	CMP_PKIHEADER *hd;
	const X509_NAME *rcpt;

	if (h == NULL)
		h = &none;
	if (m == NULL)
		return NULL;
	hd = m->header;
	m->body->type = type;
	if (!ASN1_INTEGER_set(hd->pvno, h->pvno != 0 ? h->pvno : CMP_PVNO))
		goto out;
	GENERAL_NAME_free(hd->sender);
	GENERAL_NAME_free(hd->recipient);
	hd->recipient = NULL;
	if ((hd->sender = dirname_new(h->sender)) == NULL)
		goto out;
	rcpt = h->recipient;
	if (rcpt == NULL && req != NULL) {
		/* answer to whoever sent the request */
		if ((hd->recipient = GENERAL_NAME_dup(req->header->sender)) == NULL)
			goto out;
	} else if ((hd->recipient = dirname_new(rcpt)) == NULL) {
		goto out;
	}
	if (h->message_time != -1 &&
	    (hd->messageTime = ASN1_GENERALIZEDTIME_set(NULL,
	    h->message_time != 0 ? h->message_time : time(NULL))) == NULL)
		goto out;
	if (h->sender_kid != NULL &&
	    set_octets(&hd->senderKID, h->sender_kid, h->sender_kid_len) != 0)
		goto out;
	/* RFC 4210 5.1.1: a response carries the request's transactionID */
	if (h->transaction_id != NULL) {
		if (set_octets(&hd->transactionID, h->transaction_id,
		    h->transaction_id_len) != 0)
			goto out;
	} else if (req != NULL && req->header->transactionID != NULL) {
		if (dup_octets(&hd->transactionID, req->header->transactionID) != 0)
			goto out;
	} else if (random_octets(&hd->transactionID) != 0) {
		goto out;
	}
	/* RFC 4210 5.1.1: senderNonce 128 bits, fresh for every message */
	if (h->sender_nonce != NULL) {
		if (set_octets(&hd->senderNonce, h->sender_nonce,
		    h->sender_nonce_len) != 0)
			goto out;
	} else if (random_octets(&hd->senderNonce) != 0) {
		goto out;
	}
	/* RFC 4210 5.1.1: recipNonce is the senderNonce of the message answered */
	if (h->recip_nonce != NULL) {
		if (set_octets(&hd->recipNonce, h->recip_nonce,
		    h->recip_nonce_len) != 0)
			goto out;
	} else if (req != NULL && req->header->senderNonce != NULL) {
		if (dup_octets(&hd->recipNonce, req->header->senderNonce) != 0)
			goto out;
	}
	if (h->free_text != NULL &&
	    (hd->freeText = freetext_new(h->free_text)) == NULL)
		goto out;
	if (h->implicit_confirm) {
		/* RFC 4210 5.1.1.1: implicitConfirm, value NULL */
		ASN1_TYPE *v = ASN1_TYPE_new();
		CMP_ITAV *it;

		if (v == NULL)
			goto out;
		ASN1_TYPE_set(v, V_ASN1_NULL, NULL);
		if ((it = cmp_itav_new_oid(CMP_OID_IMPLICIT_CONFIRM, v)) == NULL) {
			ASN1_TYPE_free(v);
			goto out;
		}
		if ((hd->generalInfo == NULL &&
		    (hd->generalInfo = sk_CMP_ITAV_new_null()) == NULL) ||
		    !sk_CMP_ITAV_push(hd->generalInfo, it)) {
			CMP_ITAV_free(it);
			goto out;
		}
	}
	if (sk_CMP_ITAV_num(h->general_info) > 0 &&
	    push_itav_copies(&hd->generalInfo, h->general_info) != 0)
		goto out;
	ret = m;
	m = NULL;
out:
	CMP_PKIMESSAGE_free(m);
	return ret;
}

static int
oom(struct pk_err *e, const char *what)
{
	return pk_err_ossl(e, "cannot build %s", what);
}

/* RFC 4211 6.5 id-regCtrl-oldCertID = issuer + serial of OLD */
static CMP_ATAV *
old_cert_id_new(X509 *old)
{
	CMP_CERTID *id = CMP_CERTID_new();
	CMP_ATAV *a = NULL;
	ASN1_INTEGER *sn = NULL;

	if (id == NULL)
		goto out;
	GENERAL_NAME_free(id->issuer);
	if ((id->issuer = dirname_new(X509_get_issuer_name(old))) == NULL ||
	    (sn = ASN1_INTEGER_dup(X509_get0_serialNumber(old))) == NULL)
		goto out;
	ASN1_INTEGER_free(id->serialNumber);
	id->serialNumber = sn;
	if ((a = CMP_ATAV_new()) == NULL)
		goto out;
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->value = NULL;
	if ((a->type = OBJ_txt2obj(CMP_OID_OLD_CERT_ID, 1)) == NULL ||
	    ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(CMP_CERTID), id,
	    &a->value) == NULL) {
		CMP_ATAV_free(a);
		a = NULL;
	}
out:
	CMP_CERTID_free(id);
	return a;
}

static CMP_CERTREQMSG *
crm_new(int type, const struct cmp_certreq *r, struct pk_err *e)
{
	CMP_CERTREQMSG *crm = NULL, *ret = NULL;
	CMP_CERTTEMPLATE *t;
	CMP_POPOSIGNINGKEY *sk;
	CMP_ATAV *a;
	const EVP_MD *md = NULL;
	int i, base;

	/* RFC 4211 4.1: the POP digest (none for EdDSA) */
	base = EVP_PKEY_get_base_id(r->key);
	if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448 &&
	    (md = EVP_get_digestbynid(r->pop_md_nid != 0 ? r->pop_md_nid :
	    NID_sha256)) == NULL) {
		pk_err_set(e, "unknown POP digest");
		return NULL;
	}
	if ((crm = CMP_CERTREQMSG_new()) == NULL)
		goto out;
	t = crm->certReq->certTemplate;
	if (!ASN1_INTEGER_set(crm->certReq->certReqId, r->cert_req_id))
		goto out;
	/* RFC 4211 4.1: without poposkInput the template must carry subject and
	 * publicKey; an absent subject is sent as the empty name */
	t->subject = r->subject != NULL ? X509_NAME_dup(r->subject) :
	    X509_NAME_new();
	if (t->subject == NULL || !X509_PUBKEY_set(&t->publicKey, r->key))
		goto out;
	if (r->san != NULL && X509V3_add1_i2d(&t->extensions,
	    NID_subject_alt_name, (void *)r->san,
	    X509_NAME_entry_count(t->subject) == 0, X509V3_ADD_REPLACE) != 1)
		goto out;
	for (i = 0; i < sk_X509_EXTENSION_num(r->exts); i++) {
		if (X509v3_add_ext(&t->extensions,
		    sk_X509_EXTENSION_value(r->exts, i), -1) == NULL)
			goto out;
	}
	if (type == CMP_BODY_KUR) {
		if ((a = old_cert_id_new(r->old_cert)) == NULL)
			goto out;
		if ((crm->certReq->controls = sk_CMP_ATAV_new_null()) == NULL ||
		    !sk_CMP_ATAV_push(crm->certReq->controls, a)) {
			CMP_ATAV_free(a);
			goto out;
		}
	}
	/* RFC 4211 4.1: signature POP over DER(CertRequest) with the private key */
	if ((crm->popo = CMP_POPO_new()) == NULL ||
	    (sk = CMP_POPOSIGNINGKEY_new()) == NULL)
		goto out;
	crm->popo->type = 1;
	crm->popo->value.signature = sk;
	if (ASN1_item_sign(ASN1_ITEM_rptr(CMP_CERTREQUEST), sk->algorithmIdentifier,
	    NULL, sk->signature, crm->certReq, r->key, md) <= 0)
		goto out;
	ret = crm;
	crm = NULL;
out:
	if (ret == NULL)
		pk_err_ossl(e, "cannot build the certificate request");
	CMP_CERTREQMSG_free(crm);
	return ret;
}

int
cmp_build_certreq(const struct cmp_hdr *h, int type,
    const struct cmp_certreq *r, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	STACK_OF(CMP_CERTREQMSG) *sk = NULL;
	CMP_CERTREQMSG *crm = NULL;
	CMP_PKIMESSAGE *m = NULL;

	*out = NULL;
	if (type != CMP_BODY_IR && type != CMP_BODY_CR && type != CMP_BODY_KUR)
		return pk_err_set(e, "not a certificate request body type: %d", type);
	if (r == NULL || r->key == NULL)
		return pk_err_set(e, "certificate request without a key pair");
	if (type == CMP_BODY_KUR && r->old_cert == NULL)
		return pk_err_set(e, "RFC 4210 5.3.5: kur needs the certificate "
		    "being updated (oldCertId)");
	if (r->subject == NULL && r->san == NULL)
		return pk_err_set(e, "certificate request without subject or "
		    "subjectAltName");
	if ((crm = crm_new(type, r, e)) == NULL)
		return -1;
	if ((m = msg_new(h, NULL, type)) == NULL ||
	    (sk = sk_CMP_CERTREQMSG_new_null()) == NULL ||
	    !sk_CMP_CERTREQMSG_push(sk, crm)) {
		sk_CMP_CERTREQMSG_free(sk);
		CMP_CERTREQMSG_free(crm);
		CMP_PKIMESSAGE_free(m);
		return oom(e, "the request");
	}
	m->body->value.ir = sk;
	*out = m;
	return 0;
}

int
cmp_build_p10cr(const struct cmp_hdr *h, X509_REQ *csr, CMP_PKIMESSAGE **out,
    struct pk_err *e)
{
	CMP_PKIMESSAGE *m;

	*out = NULL;
	if (csr == NULL)
		return pk_err_set(e, "p10cr without a CSR");
	if ((m = msg_new(h, NULL, CMP_BODY_P10CR)) == NULL ||
	    (m->body->value.p10cr = X509_REQ_dup(csr)) == NULL) {
		CMP_PKIMESSAGE_free(m);
		return oom(e, "p10cr");
	}
	*out = m;
	return 0;
}

int
cmp_build_certconf(const struct cmp_hdr *h, X509 *cert, long cert_req_id,
    int status, uint32_t failinfo, const char *text, CMP_PKIMESSAGE **out,
    struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_CERTSTATUS *cs = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	*out = NULL;
	if (cert == NULL)
		return pk_err_set(e, "certConf without a certificate");
	if (status != CMP_STATUS_ACCEPTED && status != CMP_STATUS_REJECTION)
		return pk_err_set(e, "RFC 4210 5.3.18: certConf status must be "
		    "accepted or rejection");
	/* RFC 4210 5.3.18: certHash over the DER of the certificate */
	if (cmp_cert_hash(cert, md, &n, e) != 0)
		return -1;
	if ((cs = CMP_CERTSTATUS_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(cs->certHash, md, (int)n) ||
	    !ASN1_INTEGER_set(cs->certReqId, cert_req_id) ||
	    (cs->statusInfo = cmp_si_new(status, failinfo, text)) == NULL ||
	    (m = msg_new(h, NULL, CMP_BODY_CERTCONF)) == NULL ||
	    (m->body->value.certConf = sk_CMP_CERTSTATUS_new_null()) == NULL ||
	    !sk_CMP_CERTSTATUS_push(m->body->value.certConf, cs)) {
		CMP_CERTSTATUS_free(cs);
		CMP_PKIMESSAGE_free(m);
		return oom(e, "certConf");
	}
	*out = m;
	return 0;
}

int
cmp_build_pollreq(const struct cmp_hdr *h, long cert_req_id,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_POLLREQ *p;

	*out = NULL;
	if ((p = CMP_POLLREQ_new()) == NULL ||
	    !ASN1_INTEGER_set(p->certReqId, cert_req_id) ||
	    (m = msg_new(h, NULL, CMP_BODY_POLLREQ)) == NULL ||
	    (m->body->value.pollReq = sk_CMP_POLLREQ_new_null()) == NULL ||
	    !sk_CMP_POLLREQ_push(m->body->value.pollReq, p)) {
		CMP_POLLREQ_free(p);
		CMP_PKIMESSAGE_free(m);
		return oom(e, "pollReq");
	}
	*out = m;
	return 0;
}

int
cmp_build_rr(const struct cmp_hdr *h, X509 *cert, int reason,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_REVDETAILS *d;
	ASN1_ENUMERATED *en = NULL;
	CMP_CERTTEMPLATE *t;
	int rc = -1;

	*out = NULL;
	if (cert == NULL)
		return pk_err_set(e, "rr without a certificate");
	if (reason < -1 || reason > 10 || reason == 7)
		return pk_err_set(e, "invalid CRLReason %d", reason);
	if ((d = CMP_REVDETAILS_new()) == NULL)
		goto out;
	/* RFC 4210 5.3.9, RFC 9483 4.2: certDetails names issuer and serial */
	t = d->certDetails;
	if ((t->issuer = X509_NAME_dup(X509_get_issuer_name(cert))) == NULL ||
	    (t->serialNumber = ASN1_INTEGER_dup(X509_get0_serialNumber(cert))) ==
	    NULL)
		goto out;
	if (reason >= 0) {
		if ((en = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(en, reason) ||
		    X509V3_add1_i2d(&d->crlEntryDetails, NID_crl_reason, en, 0,
		    X509V3_ADD_REPLACE) != 1)
			goto out;
	}
	if ((m = msg_new(h, NULL, CMP_BODY_RR)) == NULL ||
	    (m->body->value.rr = sk_CMP_REVDETAILS_new_null()) == NULL ||
	    !sk_CMP_REVDETAILS_push(m->body->value.rr, d))
		goto out;
	d = NULL;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rc != 0)
		oom(e, "rr");
	ASN1_ENUMERATED_free(en);
	CMP_REVDETAILS_free(d);
	CMP_PKIMESSAGE_free(m);
	return rc;
}

static int
build_itavs(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req, int type,
    STACK_OF(CMP_ITAV) *itavs, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m;

	*out = NULL;
	if ((m = msg_new(h, req, type)) == NULL ||
	    push_itav_copies(&m->body->value.genm, itavs) != 0) {
		CMP_PKIMESSAGE_free(m);
		return oom(e, cmp_body_name(type));
	}
	*out = m;
	return 0;
}

int
cmp_build_genm(const struct cmp_hdr *h, STACK_OF(CMP_ITAV) *itavs,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	return build_itavs(h, NULL, CMP_BODY_GENM, itavs, out, e);
}

int
cmp_build_genp(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    STACK_OF(CMP_ITAV) *itavs, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	return build_itavs(h, req, CMP_BODY_GENP, itavs, out, e);
}

static STACK_OF(X509) *
certs_dup(STACK_OF(X509) *sk)
{
	STACK_OF(X509) *r = sk_X509_new_null();
	int i;

	for (i = 0; r != NULL && i < sk_X509_num(sk); i++) {
		if (!X509_add_cert(r, sk_X509_value(sk, i), X509_ADD_FLAG_UP_REF)) {
			sk_X509_pop_free(r, X509_free);
			return NULL;
		}
	}
	return r;
}

int
cmp_build_certrep(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    int type, long cert_req_id, int status, uint32_t failinfo, const char *text,
    X509 *cert, STACK_OF(X509) *capubs, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_CERTREPMESSAGE *rep = NULL;
	CMP_CERTRESPONSE *r = NULL;
	CMP_CERTIFIEDKEYPAIR *kp;
	int rc = -1;

	*out = NULL;
	if (type != CMP_BODY_IP && type != CMP_BODY_CP && type != CMP_BODY_KUP)
		return pk_err_set(e, "not a certificate response body type: %d",
		    type);
	if ((rep = CMP_CERTREPMESSAGE_new()) == NULL ||
	    (r = CMP_CERTRESPONSE_new()) == NULL ||
	    !ASN1_INTEGER_set(r->certReqId, cert_req_id))
		goto out;
	CMP_PKISTATUSINFO_free(r->status);
	if ((r->status = cmp_si_new(status, failinfo, text)) == NULL)
		goto out;
	if (cert != NULL) {
		/* CMP_CERTIFIEDKEYPAIR_new allocates the (empty) CHOICE */
		if ((kp = r->certifiedKeyPair = CMP_CERTIFIEDKEYPAIR_new()) == NULL ||
		    !X509_up_ref(cert))
			goto out;
		kp->certOrEncCert->type = 0;
		kp->certOrEncCert->value.certificate = cert;
	}
	if (!sk_CMP_CERTRESPONSE_push(rep->response, r))
		goto out;
	r = NULL;
	if (sk_X509_num(capubs) > 0 && (rep->caPubs = certs_dup(capubs)) == NULL)
		goto out;
	if ((m = msg_new(h, req, type)) == NULL)
		goto out;
	m->body->value.ip = rep;
	rep = NULL;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rc != 0)
		oom(e, cmp_body_name(type));
	CMP_CERTRESPONSE_free(r);
	CMP_CERTREPMESSAGE_free(rep);
	CMP_PKIMESSAGE_free(m);
	return rc;
}

int
cmp_build_pollrep(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    long cert_req_id, long check_after, const char *reason,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_POLLREP *p;

	*out = NULL;
	if (check_after < 0)
		return pk_err_set(e, "RFC 4210 5.3.22: checkAfter must be >= 0");
	if ((p = CMP_POLLREP_new()) == NULL ||
	    !ASN1_INTEGER_set(p->certReqId, cert_req_id) ||
	    !ASN1_INTEGER_set(p->checkAfter, check_after) ||
	    (reason != NULL && (p->reason = freetext_new(reason)) == NULL) ||
	    (m = msg_new(h, req, CMP_BODY_POLLREP)) == NULL ||
	    (m->body->value.pollRep = sk_CMP_POLLREP_new_null()) == NULL ||
	    !sk_CMP_POLLREP_push(m->body->value.pollRep, p)) {
		CMP_POLLREP_free(p);
		CMP_PKIMESSAGE_free(m);
		return oom(e, "pollRep");
	}
	*out = m;
	return 0;
}

int
cmp_build_pkiconf(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m;

	*out = NULL;
	if ((m = msg_new(h, req, CMP_BODY_PKICONF)) == NULL ||
	    (m->body->value.pkiconf = ASN1_NULL_new()) == NULL) {
		CMP_PKIMESSAGE_free(m);
		return oom(e, "pkiConf");
	}
	*out = m;
	return 0;
}

int
cmp_build_rp(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req, int status,
    uint32_t failinfo, const char *text, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_REVREPCONTENT *rp;
	CMP_PKISTATUSINFO *si = NULL;
	int rc = -1;

	*out = NULL;
	if ((rp = CMP_REVREPCONTENT_new()) == NULL ||
	    (si = cmp_si_new(status, failinfo, text)) == NULL ||
	    !sk_CMP_PKISTATUSINFO_push(rp->status, si)) {
		CMP_PKISTATUSINFO_free(si);
		goto out;
	}
	if ((m = msg_new(h, req, CMP_BODY_RP)) == NULL)
		goto out;
	m->body->value.rp = rp;
	rp = NULL;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rc != 0)
		oom(e, "rp");
	CMP_REVREPCONTENT_free(rp);
	CMP_PKIMESSAGE_free(m);
	return rc;
}

int
cmp_build_error(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    int status, uint32_t failinfo, const char *text, long error_code,
    const char *details, CMP_PKIMESSAGE **out, struct pk_err *e)
{
	CMP_PKIMESSAGE *m = NULL;
	CMP_ERRORMSGCONTENT *em;
	int rc = -1;

	*out = NULL;
	if ((em = CMP_ERRORMSGCONTENT_new()) == NULL)
		goto out;
	CMP_PKISTATUSINFO_free(em->pKIStatusInfo);
	if ((em->pKIStatusInfo = cmp_si_new(status, failinfo, text)) == NULL)
		goto out;
	if (error_code >= 0 && ((em->errorCode = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set(em->errorCode, error_code)))
		goto out;
	if (details != NULL && (em->errorDetails = freetext_new(details)) == NULL)
		goto out;
	if ((m = msg_new(h, req, CMP_BODY_ERROR)) == NULL)
		goto out;
	m->body->value.error = em;
	em = NULL;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rc != 0)
		oom(e, "error");
	CMP_ERRORMSGCONTENT_free(em);
	CMP_PKIMESSAGE_free(m);
	return rc;
}

/* ---- genm / genp values (RFC 4210 5.3.19, RFC 9480 2.14-2.16) ---- */

/* An ITAV OID whose value is OBJ encoded as ITEM (DER, a SEQUENCE), or without
 * a value when OBJ is NULL. */
static CMP_ITAV *
itav_item(const char *oid, const ASN1_ITEM *item, const void *obj)
{
	ASN1_TYPE *t = NULL;
	CMP_ITAV *r;

	if (obj != NULL &&
	    (t = ASN1_TYPE_pack_sequence(item, (void *)obj, NULL)) == NULL)
		return NULL;
	if ((r = cmp_itav_new_oid(oid, t)) == NULL)
		ASN1_TYPE_free(t);
	return r;
}

CMP_ITAV *
cmp_itav_new_certs(const char *oid, STACK_OF(X509) *certs)
{
	/* RFC 9480 2.14: SEQUENCE SIZE (1..MAX): none is no value */
	return itav_item(oid, ASN1_ITEM_rptr(CMP_CERTS),
	    sk_X509_num(certs) > 0 ? certs : NULL);
}

CMP_ITAV *
cmp_itav_new_cert(const char *oid, X509 *x)
{
	return itav_item(oid, ASN1_ITEM_rptr(X509), x);
}

CMP_ITAV *
cmp_itav_new_root_ca_key_update(X509 *new_with_new, X509 *new_with_old,
    X509 *old_with_new)
{
	CMP_ROOTCAKEYUPDATE u;

	u.newWithNew = new_with_new;
	u.newWithOld = new_with_old;
	u.oldWithNew = old_with_new;
	return itav_item(CMP_OID_IT_ROOT_CA_KEY_UPDATE,
	    ASN1_ITEM_rptr(CMP_ROOTCAKEYUPDATE), new_with_new != NULL ? &u : NULL);
}

CMP_ITAV *
cmp_itav_new_cert_req_template(const CMP_CERTREQTEMPLATE *t)
{
	return itav_item(CMP_OID_IT_CERT_REQ_TEMPLATE,
	    ASN1_ITEM_rptr(CMP_CERTREQTEMPLATE), t);
}

CMP_ITAV *
cmp_itav_new_algs(const char *oid, STACK_OF(X509_ALGOR) *algs)
{
	return itav_item(oid, ASN1_ITEM_rptr(CMP_ALGORS), algs);
}

CMP_ATAV *
cmp_atav_new_alg_id(const X509_ALGOR *alg)
{
	CMP_ATAV *a = CMP_ATAV_new();
	ASN1_TYPE *t = NULL;

	if (a == NULL ||
	    (t = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(X509_ALGOR), (void *)alg,
	    NULL)) == NULL) {
		CMP_ATAV_free(a);
		return NULL;
	}
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->type = OBJ_txt2obj(CMP_OID_REGCTRL_ALG_ID, 1);
	a->value = t;
	if (a->type == NULL) {
		CMP_ATAV_free(a);
		return NULL;
	}
	return a;
}

CMP_ATAV *
cmp_atav_new_rsa_key_len(int bits)
{
	CMP_ATAV *a = CMP_ATAV_new();
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	/* RFC 9480 2.16: RsaKeyLenCtrl ::= INTEGER (1..MAX) */
	if (a == NULL || n == NULL || bits < 1 || !ASN1_INTEGER_set(n, bits)) {
		CMP_ATAV_free(a);
		ASN1_INTEGER_free(n);
		return NULL;
	}
	ASN1_OBJECT_free(a->type);
	a->type = OBJ_txt2obj(CMP_OID_REGCTRL_RSA_KEY_LEN, 1);
	ASN1_TYPE_set(a->value, V_ASN1_INTEGER, n);
	if (a->type == NULL) {
		CMP_ATAV_free(a);
		return NULL;
	}
	return a;
}
