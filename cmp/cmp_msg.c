/*
 * cmp_msg: reading CMP messages: header fields, statuses, the contents of each
 * body type, the proof of possession of a CertReqMsg (RFC 4211 4) and certHash
 * (RFC 4210 5.3.18). Everything returned _get0_ is borrowed from the message.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_msg_int.h"

int
cmp_oid_is(const ASN1_OBJECT *obj, const char *text)
{
	ASN1_OBJECT *o;
	int eq;

	if (obj == NULL || (o = OBJ_txt2obj(text, 1)) == NULL)
		return 0;
	eq = OBJ_cmp(obj, o) == 0;
	ASN1_OBJECT_free(o);
	return eq;
}

ASN1_OCTET_STRING *
cmp_random_octets(size_t n)
{
	unsigned char buf[256];
	ASN1_OCTET_STRING *s;

	if (n == 0 || n > sizeof(buf) || RAND_bytes(buf, (int)n) != 1)
		return NULL;
	if ((s = ASN1_OCTET_STRING_new()) == NULL)
		return NULL;
	if (!ASN1_OCTET_STRING_set(s, buf, (int)n)) {
		ASN1_OCTET_STRING_free(s);
		return NULL;
	}
	return s;
}

/* An ASN1_INTEGER as long, -1 when absent or not representable. */
static long
int_get(const ASN1_INTEGER *a)
{
	int64_t v;

	if (a == NULL || !ASN1_INTEGER_get_int64(&v, a) || v < 0 || v > LONG_MAX) {
		ERR_clear_error();
		return -1;
	}
	return (long)v;
}

/* PKIFreeText joined with "; "; NULL when absent. The text comes from a peer
 * and ends up on a console: control characters become '?'. */
static char *
free_text(const STACK_OF(ASN1_UTF8STRING) *sk)
{
	struct sbuf b = SBUF_INIT;
	int i, j;

	if (sk == NULL)
		return NULL;
	for (i = 0; i < sk_ASN1_UTF8STRING_num(sk); i++) {
		const ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(sk, i);

		if (i > 0)
			sbuf_puts(&b, "; ");
		for (j = 0; j < s->length; j++)
			sbuf_putc(&b, s->data[j] < 0x20 || s->data[j] == 0x7f ? '?' :
			    (char)s->data[j]);
	}
	if (b.s == NULL)
		return xstrdup("");
	return sbuf_take(&b);
}

int
cmp_msg_body_type(const CMP_PKIMESSAGE *m)
{
	return m == NULL || m->body == NULL ? -1 : m->body->type;
}

long
cmp_msg_pvno(const CMP_PKIMESSAGE *m)
{
	return int_get(m->header->pvno);
}

static const X509_NAME *
dir_name(const GENERAL_NAME *gn)
{
	return gn != NULL && gn->type == GEN_DIRNAME ? gn->d.directoryName : NULL;
}

const X509_NAME *
cmp_msg_get0_sender_name(const CMP_PKIMESSAGE *m)
{
	return dir_name(m->header->sender);
}

const X509_NAME *
cmp_msg_get0_recipient_name(const CMP_PKIMESSAGE *m)
{
	return dir_name(m->header->recipient);
}

const ASN1_OCTET_STRING *
cmp_msg_get0_transaction_id(const CMP_PKIMESSAGE *m)
{
	return m->header->transactionID;
}

const ASN1_OCTET_STRING *
cmp_msg_get0_sender_nonce(const CMP_PKIMESSAGE *m)
{
	return m->header->senderNonce;
}

const ASN1_OCTET_STRING *
cmp_msg_get0_recip_nonce(const CMP_PKIMESSAGE *m)
{
	return m->header->recipNonce;
}

const ASN1_OCTET_STRING *
cmp_msg_get0_sender_kid(const CMP_PKIMESSAGE *m)
{
	return m->header->senderKID;
}

const ASN1_GENERALIZEDTIME *
cmp_msg_get0_message_time(const CMP_PKIMESSAGE *m)
{
	return m->header->messageTime;
}

const X509_ALGOR *
cmp_msg_get0_protection_alg(const CMP_PKIMESSAGE *m)
{
	return m->header->protectionAlg;
}

STACK_OF(CMP_ITAV) *
cmp_msg_get0_general_info(const CMP_PKIMESSAGE *m)
{
	return m->header->generalInfo;
}

char *
cmp_msg_free_text(const CMP_PKIMESSAGE *m)
{
	return free_text(m->header->freeText);
}

static const CMP_ITAV *
find_itav(const STACK_OF(CMP_ITAV) *sk, const char *oid)
{
	int i;

	for (i = 0; i < sk_CMP_ITAV_num(sk); i++) {
		const CMP_ITAV *it = sk_CMP_ITAV_value(sk, i);

		if (cmp_oid_is(it->infoType, oid))
			return it;
	}
	return NULL;
}

int
cmp_msg_implicit_confirm(const CMP_PKIMESSAGE *m)
{
	/* RFC 4210 5.1.1.1: the value is NULL; be lenient about its presence */
	return find_itav(m->header->generalInfo, CMP_OID_IMPLICIT_CONFIRM) != NULL;
}

int
cmp_msg_confirm_wait_time(const CMP_PKIMESSAGE *m, time_t *t)
{
	const CMP_ITAV *it;

	it = find_itav(m->header->generalInfo, CMP_OID_CONFIRM_WAIT_TIME);
	/* RFC 4210 5.1.1.2: the value is a GeneralizedTime */
	if (it == NULL || it->infoValue == NULL ||
	    it->infoValue->type != V_ASN1_GENERALIZEDTIME)
		return -1;
	return pk_asn1_time(it->infoValue->value.generalizedtime, t);
}

STACK_OF(X509) *
cmp_msg_get0_extra_certs(const CMP_PKIMESSAGE *m)
{
	return m->extraCerts;
}

int
cmp_octets_eq(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
	return a != NULL && b != NULL && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

/* --- PKIStatusInfo --- */

long
cmp_si_status(const CMP_PKISTATUSINFO *s)
{
	return s == NULL ? -1 : int_get(s->status);
}

uint32_t
cmp_si_failinfo(const CMP_PKISTATUSINFO *s)
{
	uint32_t mask = 0;
	int bit;

	if (s == NULL || s->failInfo == NULL)
		return 0;
	for (bit = 0; bit < 32; bit++)
		if (ASN1_BIT_STRING_get_bit(s->failInfo, bit))
			mask |= 1u << bit;
	return mask;
}

char *
cmp_si_text(const CMP_PKISTATUSINFO *s)
{
	return s == NULL ? NULL : free_text(s->statusString);
}

char *
cmp_si_describe(const CMP_PKISTATUSINFO *s)
{
	struct sbuf b = SBUF_INIT;
	uint32_t fi;
	char *t;

	if (s == NULL)
		return xstrdup("(no status)");
	sbuf_puts(&b, cmp_status_name(cmp_si_status(s)));
	if ((fi = cmp_si_failinfo(s)) != 0) {
		t = cmp_failinfo_names(fi);
		sbuf_printf(&b, ", failInfo: %s", t);
		free(t);
	}
	if ((t = cmp_si_text(s)) != NULL) {
		sbuf_printf(&b, ", text: \"%s\"", t);
		free(t);
	}
	return sbuf_take(&b);
}

CMP_PKISTATUSINFO *
cmp_si_new(int status, uint32_t failinfo, const char *text)
{
	CMP_PKISTATUSINFO *s = CMP_PKISTATUSINFO_new();
	ASN1_UTF8STRING *u = NULL;
	CMP_PKISTATUSINFO *ret = NULL;
	int bit;

	if (s == NULL || !ASN1_INTEGER_set(s->status, status))
		goto out;
	if (failinfo != 0) {
		if ((s->failInfo = ASN1_BIT_STRING_new()) == NULL)
			goto out;
		/* DER of a named bit list: no trailing zero bits (X.690 11.2.2),
		 * which ASN1_BIT_STRING_set_bit keeps */
		for (bit = 0; bit < 32; bit++)
			if ((failinfo & (1u << bit)) &&
			    !ASN1_BIT_STRING_set_bit(s->failInfo, bit, 1))
				goto out;
	}
	if (text != NULL) {
		if ((s->statusString = sk_ASN1_UTF8STRING_new_null()) == NULL ||
		    (u = ASN1_UTF8STRING_new()) == NULL ||
		    !ASN1_STRING_set(u, text, (int)strlen(text)) ||
		    !sk_ASN1_UTF8STRING_push(s->statusString, u))
			goto out;
		u = NULL;
	}
	ret = s;
	s = NULL;
out:
	ASN1_UTF8STRING_free(u);
	CMP_PKISTATUSINFO_free(s);
	return ret;
}

static CMP_CERTREPMESSAGE *
certrep(const CMP_PKIMESSAGE *m)
{
	switch (cmp_msg_body_type(m)) {
	case CMP_BODY_IP: return m->body->value.ip;
	case CMP_BODY_CP: return m->body->value.cp;
	case CMP_BODY_KUP: return m->body->value.kup;
	default: return NULL;
	}
}

const CMP_PKISTATUSINFO *
cmp_msg_get0_status(const CMP_PKIMESSAGE *m, int idx)
{
	CMP_CERTREPMESSAGE *r;
	CMP_CERTSTATUS *cs;

	if ((r = certrep(m)) != NULL) {
		CMP_CERTRESPONSE *c = sk_CMP_CERTRESPONSE_value(r->response, idx);

		return c == NULL ? NULL : c->status;
	}
	switch (cmp_msg_body_type(m)) {
	case CMP_BODY_RP:
		return sk_CMP_PKISTATUSINFO_value(m->body->value.rp->status, idx);
	case CMP_BODY_ERROR:
		return idx == 0 ? m->body->value.error->pKIStatusInfo : NULL;
	case CMP_BODY_CERTCONF:
		cs = sk_CMP_CERTSTATUS_value(m->body->value.certConf, idx);
		return cs == NULL ? NULL : cs->statusInfo;
	default:
		return NULL;
	}
}

/* --- ip / cp / kup --- */

int
cmp_rep_count(const CMP_PKIMESSAGE *m)
{
	CMP_CERTREPMESSAGE *r = certrep(m);

	return r == NULL ? -1 : sk_CMP_CERTRESPONSE_num(r->response);
}

CMP_CERTRESPONSE *
cmp_rep_get0(const CMP_PKIMESSAGE *m, int idx)
{
	CMP_CERTREPMESSAGE *r = certrep(m);

	return r == NULL ? NULL : sk_CMP_CERTRESPONSE_value(r->response, idx);
}

CMP_CERTRESPONSE *
cmp_rep_find(const CMP_PKIMESSAGE *m, long cert_req_id)
{
	int i, n = cmp_rep_count(m);

	for (i = 0; i < n; i++) {
		CMP_CERTRESPONSE *c = cmp_rep_get0(m, i);

		if (cmp_certresp_req_id(c) == cert_req_id)
			return c;
	}
	return NULL;
}

STACK_OF(X509) *
cmp_rep_get0_capubs(const CMP_PKIMESSAGE *m)
{
	CMP_CERTREPMESSAGE *r = certrep(m);

	return r == NULL ? NULL : r->caPubs;
}

long
cmp_certresp_req_id(const CMP_CERTRESPONSE *r)
{
	return r == NULL ? -1 : int_get(r->certReqId);
}

const CMP_PKISTATUSINFO *
cmp_certresp_get0_status(const CMP_CERTRESPONSE *r)
{
	return r == NULL ? NULL : r->status;
}

X509 *
cmp_certresp_get0_cert(const CMP_CERTRESPONSE *r)
{
	if (r == NULL || r->certifiedKeyPair == NULL ||
	    r->certifiedKeyPair->certOrEncCert->type != 0)
		return NULL;
	return r->certifiedKeyPair->certOrEncCert->value.certificate;
}

/* --- pollRep / pollReq / error --- */

int
cmp_pollrep_count(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_POLLREP)
		return -1;
	return sk_CMP_POLLREP_num(m->body->value.pollRep);
}

int
cmp_pollrep_get(const CMP_PKIMESSAGE *m, int idx, long *cert_req_id,
    long *check_after, char **reason, struct pk_err *e)
{
	const CMP_POLLREP *p;

	if (reason != NULL)
		*reason = NULL;
	if (cmp_msg_body_type(m) != CMP_BODY_POLLREP)
		return pk_err_set(e, "not a pollRep message");
	if ((p = sk_CMP_POLLREP_value(m->body->value.pollRep, idx)) == NULL)
		return pk_err_set(e, "pollRep has no entry %d", idx);
	if (cert_req_id != NULL)
		*cert_req_id = int_get(p->certReqId);
	/* RFC 4210 5.3.22: checkAfter is a number of seconds, >= 0 */
	if (int_get(p->checkAfter) < 0)
		return pk_err_set(e, "RFC 4210 5.3.22: invalid checkAfter in pollRep");
	if (check_after != NULL)
		*check_after = int_get(p->checkAfter);
	if (reason != NULL)
		*reason = free_text(p->reason);
	return 0;
}

long
cmp_pollreq_req_id(const CMP_PKIMESSAGE *m, int idx)
{
	const CMP_POLLREQ *p;

	if (cmp_msg_body_type(m) != CMP_BODY_POLLREQ ||
	    (p = sk_CMP_POLLREQ_value(m->body->value.pollReq, idx)) == NULL)
		return -1;
	return int_get(p->certReqId);
}

long
cmp_error_code(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_ERROR)
		return -1;
	return int_get(m->body->value.error->errorCode);
}

char *
cmp_error_details(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_ERROR)
		return NULL;
	return free_text(m->body->value.error->errorDetails);
}

/* --- ir / cr / kur --- */

static STACK_OF(CMP_CERTREQMSG) *
reqs(const CMP_PKIMESSAGE *m)
{
	switch (cmp_msg_body_type(m)) {
	case CMP_BODY_IR: return m->body->value.ir;
	case CMP_BODY_CR: return m->body->value.cr;
	case CMP_BODY_KUR: return m->body->value.kur;
	default: return NULL;
	}
}

int
cmp_req_count(const CMP_PKIMESSAGE *m)
{
	STACK_OF(CMP_CERTREQMSG) *r = reqs(m);

	return r == NULL ? -1 : sk_CMP_CERTREQMSG_num(r);
}

CMP_CERTREQMSG *
cmp_req_get0(const CMP_PKIMESSAGE *m, int idx)
{
	return sk_CMP_CERTREQMSG_value(reqs(m), idx);
}

long
cmp_crm_req_id(const CMP_CERTREQMSG *crm)
{
	return crm == NULL ? -1 : int_get(crm->certReq->certReqId);
}

CMP_CERTTEMPLATE *
cmp_crm_get0_template(const CMP_CERTREQMSG *crm)
{
	return crm == NULL ? NULL : crm->certReq->certTemplate;
}

const X509_NAME *
cmp_tmpl_get0_subject(const CMP_CERTTEMPLATE *t)
{
	return t == NULL ? NULL : t->subject;
}

const X509_NAME *
cmp_tmpl_get0_issuer(const CMP_CERTTEMPLATE *t)
{
	return t == NULL ? NULL : t->issuer;
}

const ASN1_INTEGER *
cmp_tmpl_get0_serial(const CMP_CERTTEMPLATE *t)
{
	return t == NULL ? NULL : t->serialNumber;
}

EVP_PKEY *
cmp_tmpl_get0_pubkey(const CMP_CERTTEMPLATE *t)
{
	EVP_PKEY *k;

	if (t == NULL || t->publicKey == NULL)
		return NULL;
	k = X509_PUBKEY_get0(t->publicKey);
	ERR_clear_error();
	return k;
}

const X509_PUBKEY *
cmp_tmpl_get0_spki(const CMP_CERTTEMPLATE *t)
{
	return t == NULL ? NULL : t->publicKey;
}

const STACK_OF(X509_EXTENSION) *
cmp_tmpl_get0_extensions(const CMP_CERTTEMPLATE *t)
{
	return t == NULL ? NULL : t->extensions;
}

GENERAL_NAMES *
cmp_tmpl_get1_san(const CMP_CERTTEMPLATE *t)
{
	GENERAL_NAMES *g;

	if (t == NULL || t->extensions == NULL)
		return NULL;
	g = X509V3_get_d2i(t->extensions, NID_subject_alt_name, NULL, NULL);
	ERR_clear_error();
	return g;
}

int
cmp_crm_get1_old_cert_id(const CMP_CERTREQMSG *crm, X509_NAME **issuer,
    ASN1_INTEGER **serial, struct pk_err *e)
{
	const STACK_OF(CMP_ATAV) *c;
	CMP_CERTID *id = NULL;
	int i, rc = -1;

	*issuer = NULL;
	*serial = NULL;
	if (crm == NULL)
		return pk_err_set(e, "no CertReqMsg");
	c = crm->certReq->controls;
	for (i = 0; i < sk_CMP_ATAV_num(c); i++) {
		const CMP_ATAV *a = sk_CMP_ATAV_value(c, i);

		if (!cmp_oid_is(a->type, CMP_OID_OLD_CERT_ID))
			continue;
		if (a->value == NULL || a->value->type != V_ASN1_SEQUENCE ||
		    (id = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMP_CERTID),
		    a->value)) == NULL) {
			ERR_clear_error();
			return pk_err_set(e, "RFC 4211 6.5: malformed oldCertID "
			    "control");
		}
		/* RFC 4211 6.5: the issuer is a directoryName for X.509 */
		if (id->issuer->type != GEN_DIRNAME) {
			pk_err_set(e, "RFC 4211 6.5: oldCertID issuer is not a "
			    "directoryName");
			goto out;
		}
		if ((*issuer = X509_NAME_dup(id->issuer->d.directoryName)) == NULL ||
		    (*serial = ASN1_INTEGER_dup(id->serialNumber)) == NULL) {
			X509_NAME_free(*issuer);
			*issuer = NULL;
			pk_err_ossl(e, "out of memory");
			goto out;
		}
		rc = 0;
		goto out;
	}
	return 0;
out:
	CMP_CERTID_free(id);
	return rc;
}

int
cmp_crm_verify_pop(const CMP_CERTREQMSG *crm, int accept_ra_verified,
    struct pk_err *e)
{
	const CMP_POPO *popo;
	const CMP_POPOSIGNINGKEY *sk;
	EVP_PKEY *pub;
	const ASN1_ITEM *it;
	const void *data;

	if (crm == NULL)
		return pk_err_set(e, "no CertReqMsg");
	popo = crm->popo;
	if (popo == NULL)
		return pk_err_set(e, "RFC 4211 4: the request carries no proof of "
		    "possession");
	switch (popo->type) {
	case 0:
		/* RFC 4211 4: raVerified only when an RA checked the POP */
		if (accept_ra_verified)
			return 0;
		return pk_err_set(e, "RFC 4211 4: raVerified POP not accepted from "
		    "this sender");
	case 1:
		break;
	case 2:
		return pk_err_set(e, "unsupported POP: keyEncipherment");
	default:
		return pk_err_set(e, "unsupported POP: keyAgreement");
	}
	sk = popo->value.signature;
	pub = cmp_tmpl_get0_pubkey(crm->certReq->certTemplate);
	if (pub == NULL)
		return pk_err_set(e, "RFC 4211 4.1: the template has no usable "
		    "public key to check the POP signature");
	if (sk->poposkInput != NULL) {
		/* RFC 4211 4.1: with poposkInput the template's subject and
		 * publicKey may be absent; its publicKey must be the template's */
		if (X509_PUBKEY_eq(sk->poposkInput->publicKey,
		    crm->certReq->certTemplate->publicKey) != 1)
			return pk_err_set(e, "RFC 4211 4.1: poposkInput publicKey "
			    "differs from the template's");
		it = ASN1_ITEM_rptr(CMP_POPOSKINPUT);
		data = sk->poposkInput;
	} else {
		/* RFC 4211 4.1: the signature is over DER(certReq) */
		it = ASN1_ITEM_rptr(CMP_CERTREQUEST);
		data = crm->certReq;
	}
	if (ASN1_item_verify(it, sk->algorithmIdentifier, sk->signature,
	    data, pub) != 1) {
		ERR_clear_error();
		return pk_err_set(e, "RFC 4211 4.1: the POP signature does not "
		    "verify with the requested public key");
	}
	return 0;
}

/* --- p10cr, rr, rp, certConf, genm/genp --- */

X509_REQ *
cmp_msg_get0_p10(const CMP_PKIMESSAGE *m)
{
	return cmp_msg_body_type(m) == CMP_BODY_P10CR ? m->body->value.p10cr :
	    NULL;
}

int
cmp_rr_count(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_RR)
		return -1;
	return sk_CMP_REVDETAILS_num(m->body->value.rr);
}

CMP_CERTTEMPLATE *
cmp_rr_get0_details(const CMP_PKIMESSAGE *m, int idx)
{
	CMP_REVDETAILS *d;

	if (cmp_msg_body_type(m) != CMP_BODY_RR ||
	    (d = sk_CMP_REVDETAILS_value(m->body->value.rr, idx)) == NULL)
		return NULL;
	return d->certDetails;
}

int
cmp_rr_reason(const CMP_PKIMESSAGE *m, int idx)
{
	CMP_REVDETAILS *d;
	ASN1_ENUMERATED *r;
	long v;

	if (cmp_msg_body_type(m) != CMP_BODY_RR ||
	    (d = sk_CMP_REVDETAILS_value(m->body->value.rr, idx)) == NULL ||
	    d->crlEntryDetails == NULL)
		return -1;
	r = X509V3_get_d2i(d->crlEntryDetails, NID_crl_reason, NULL, NULL);
	ERR_clear_error();
	if (r == NULL)
		return -1;
	v = ASN1_ENUMERATED_get(r);
	ASN1_ENUMERATED_free(r);
	return v < 0 || v > 10 ? -1 : (int)v;
}

int
cmp_rr_reason_code(const CMP_PKIMESSAGE *m, int idx, long *code)
{
	CMP_REVDETAILS *d;
	ASN1_ENUMERATED *r;
	int crit = -1;

	*code = -1;
	if (cmp_msg_body_type(m) != CMP_BODY_RR ||
	    (d = sk_CMP_REVDETAILS_value(m->body->value.rr, idx)) == NULL ||
	    d->crlEntryDetails == NULL)
		return 0;
	r = X509V3_get_d2i(d->crlEntryDetails, NID_crl_reason, &crit, NULL);
	ERR_clear_error();
	if (r == NULL)
		return crit == -1 ? 0 : -1;	/* -1: absent; else malformed */
	*code = ASN1_ENUMERATED_get(r);
	ASN1_ENUMERATED_free(r);
	return *code < 0 ? -1 : 0;
}

int
cmp_rp_count(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_RP)
		return -1;
	return sk_CMP_PKISTATUSINFO_num(m->body->value.rp->status);
}

int
cmp_certconf_count(const CMP_PKIMESSAGE *m)
{
	if (cmp_msg_body_type(m) != CMP_BODY_CERTCONF)
		return -1;
	return sk_CMP_CERTSTATUS_num(m->body->value.certConf);
}

CMP_CERTSTATUS *
cmp_certconf_get0(const CMP_PKIMESSAGE *m, int idx)
{
	if (cmp_msg_body_type(m) != CMP_BODY_CERTCONF)
		return NULL;
	return sk_CMP_CERTSTATUS_value(m->body->value.certConf, idx);
}

const ASN1_OCTET_STRING *
cmp_certstatus_get0_hash(const CMP_CERTSTATUS *cs)
{
	return cs == NULL ? NULL : cs->certHash;
}

long
cmp_certstatus_req_id(const CMP_CERTSTATUS *cs)
{
	return cs == NULL ? -1 : int_get(cs->certReqId);
}

const CMP_PKISTATUSINFO *
cmp_certstatus_get0_si(const CMP_CERTSTATUS *cs)
{
	return cs == NULL ? NULL : cs->statusInfo;
}

int
cmp_cert_hash(X509 *cert, unsigned char *md, unsigned int *len,
    struct pk_err *e)
{
	const EVP_MD *dg;
	int mdnid = NID_undef, pknid = NID_undef;

	/* RFC 4210 5.3.18: the hash algorithm of the certificate's signature;
	 * RFC 9480 2.10: SHA-512 for Ed25519 (no digest in the signature) */
	if (!X509_get_signature_info(cert, &mdnid, &pknid, NULL, NULL))
		ERR_clear_error();
	if (mdnid == NID_undef && pknid == NID_ED25519)
		mdnid = NID_sha512;
	if (mdnid == NID_undef && pknid == NID_ED448)
		mdnid = NID_shake256;
	if (mdnid == NID_undef ||
	    (dg = EVP_get_digestbynid(mdnid)) == NULL)
		return pk_err_set(e, "RFC 4210 5.3.18: no hash algorithm for the "
		    "certificate's signature algorithm");
	if (mdnid == NID_shake256) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		unsigned char *der = NULL;
		int n = i2d_X509(cert, &der), ok;

		ok = c != NULL && n > 0 && EVP_DigestInit_ex(c, dg, NULL) &&
		    EVP_DigestUpdate(c, der, (size_t)n) &&
		    EVP_DigestFinalXOF(c, md, 64);
		EVP_MD_CTX_free(c);
		OPENSSL_free(der);
		if (!ok)
			return pk_err_ossl(e, "certHash failed");
		*len = 64;
		return 0;
	}
	if (!X509_digest(cert, dg, md, len))
		return pk_err_ossl(e, "certHash failed");
	return 0;
}

int
cmp_certstatus_check_hash(const CMP_CERTSTATUS *cs, X509 *cert,
    struct pk_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (cs == NULL || cs->certHash == NULL)
		return pk_err_set(e, "RFC 4210 5.3.18: certConf carries no "
		    "certHash");
	if (cs->hashAlg != NULL) {
		/* RFC 9480 2.10 (cmp2021): hashAlg names the hash of certHash;
		 * a SHA-2 without parameters (or NULL ones), as RFC 9481 2
		 * lists them */
		int nid = OBJ_obj2nid(cs->hashAlg->algorithm);
		const EVP_MD *md_alg = nid == NID_sha256 ? EVP_sha256() :
		    nid == NID_sha384 ? EVP_sha384() : nid == NID_sha512 ?
		    EVP_sha512() : nid == NID_sha224 ? EVP_sha224() : NULL;

		if (md_alg == NULL || (cs->hashAlg->parameter != NULL &&
		    cs->hashAlg->parameter->type != V_ASN1_NULL))
			return pk_err_set(e, "RFC 9480 2.10: unsupported certConf "
			    "hashAlg %s", nid != NID_undef ? OBJ_nid2sn(nid) :
			    "(unknown)");
		if (!X509_digest(cert, md_alg, md, &n))
			return pk_err_ossl(e, "certHash failed");
	} else if (cmp_cert_hash(cert, md, &n, e) != 0)
		return -1;
	if ((unsigned int)cs->certHash->length != n ||
	    memcmp(md, cs->certHash->data, n) != 0)
		return pk_err_set(e, "RFC 4210 5.3.18: certHash does not match the "
		    "issued certificate");
	return 0;
}

STACK_OF(CMP_ITAV) *
cmp_msg_get0_itavs(const CMP_PKIMESSAGE *m)
{
	switch (cmp_msg_body_type(m)) {
	case CMP_BODY_GENM: return m->body->value.genm;
	case CMP_BODY_GENP: return m->body->value.genp;
	default: return NULL;
	}
}

CMP_ITAV *
cmp_itav_new_oid(const char *oid_text, ASN1_TYPE *value)
{
	CMP_ITAV *it;
	ASN1_OBJECT *o = OBJ_txt2obj(oid_text, 1);

	if (o == NULL || (it = CMP_ITAV_new()) == NULL) {
		ASN1_OBJECT_free(o);
		return NULL;
	}
	ASN1_OBJECT_free(it->infoType);
	it->infoType = o;
	it->infoValue = value;
	return it;
}

int
cmp_itav_is(const CMP_ITAV *it, const char *oid_text)
{
	return it != NULL && cmp_oid_is(it->infoType, oid_text);
}

/* The value of IT decoded as ITEM: 0 with *out new, or NULL when the value is
 * absent; -1 when it is not exactly one DER ITEM. */
static int
itav_unpack(const CMP_ITAV *it, const ASN1_ITEM *item, const char *what,
    void **out, struct pk_err *e)
{
	const unsigned char *p, *end;
	void *v;

	*out = NULL;
	if (it->infoValue == NULL)
		return 0;
	if (it->infoValue->type != V_ASN1_SEQUENCE)
		return pk_err_set(e, "%s: the value is not a SEQUENCE", what);
	p = ASN1_STRING_get0_data(it->infoValue->value.sequence);
	end = p + ASN1_STRING_length(it->infoValue->value.sequence);
	if ((v = ASN1_item_d2i(NULL, &p, end - p, item)) == NULL)
		return pk_err_ossl(e, "%s: the value does not decode", what);
	if (p != end) {
		ASN1_item_free(v, item);
		return pk_err_set(e, "%s: trailing bytes after the value", what);
	}
	*out = v;
	return 0;
}

/* X509_check_purpose caches extensions and flags broken ones (STYLE.md). */
static int
cert_ok(X509 *x, const char *what, struct pk_err *e)
{
	if (x != NULL && (X509_check_purpose(x, -1, 0) != 1 ||
	    (X509_get_extension_flags(x) & EXFLAG_INVALID)))
		return pk_err_ossl(e, "%s: a certificate has invalid extensions",
		    what);
	return 0;
}

int
cmp_itav_get1_certs(const CMP_ITAV *it, STACK_OF(X509) **out, struct pk_err *e)
{
	STACK_OF(X509) *sk;
	int i;

	if (itav_unpack(it, ASN1_ITEM_rptr(CMP_CERTS), "caCerts", (void **)&sk,
	    e) != 0)
		return -1;
	*out = NULL;
	if (sk == NULL)
		return 0;
	/* RFC 9480 2.14: SEQUENCE SIZE (1..MAX) */
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return pk_err_set(e, "RFC 9480 2.14: an empty certificate list");
	}
	for (i = 0; i < sk_X509_num(sk); i++)
		if (cert_ok(sk_X509_value(sk, i), "caCerts", e) != 0) {
			sk_X509_pop_free(sk, X509_free);
			return -1;
		}
	*out = sk;
	return 0;
}

int
cmp_itav_get1_cert(const CMP_ITAV *it, X509 **out, struct pk_err *e)
{
	X509 *x;

	if (itav_unpack(it, ASN1_ITEM_rptr(X509), "certificate", (void **)&x,
	    e) != 0)
		return -1;
	if (cert_ok(x, "certificate", e) != 0) {
		X509_free(x);
		return -1;
	}
	*out = x;
	return 0;
}

int
cmp_itav_get1_root_ca_key_update(const CMP_ITAV *it, CMP_ROOTCAKEYUPDATE **out,
    struct pk_err *e)
{
	CMP_ROOTCAKEYUPDATE *u;

	if (itav_unpack(it, ASN1_ITEM_rptr(CMP_ROOTCAKEYUPDATE),
	    "rootCaKeyUpdate", (void **)&u, e) != 0)
		return -1;
	if (u != NULL && (cert_ok(u->newWithNew, "rootCaKeyUpdate", e) != 0 ||
	    cert_ok(u->newWithOld, "rootCaKeyUpdate", e) != 0 ||
	    cert_ok(u->oldWithNew, "rootCaKeyUpdate", e) != 0)) {
		CMP_ROOTCAKEYUPDATE_free(u);
		return -1;
	}
	*out = u;
	return 0;
}

int
cmp_itav_get1_cert_req_template(const CMP_ITAV *it, CMP_CERTREQTEMPLATE **out,
    struct pk_err *e)
{
	CMP_CERTREQTEMPLATE *t;

	if (itav_unpack(it, ASN1_ITEM_rptr(CMP_CERTREQTEMPLATE),
	    "certReqTemplate", (void **)&t, e) != 0)
		return -1;
	/* RFC 9480 2.16: Controls ::= SEQUENCE SIZE (1..MAX) */
	if (t != NULL && t->keySpec != NULL &&
	    sk_CMP_ATAV_num(t->keySpec) == 0) {
		CMP_CERTREQTEMPLATE_free(t);
		return pk_err_set(e, "RFC 9480 2.16: an empty keySpec");
	}
	*out = t;
	return 0;
}

int
cmp_itav_get1_algs(const CMP_ITAV *it, STACK_OF(X509_ALGOR) **out,
    struct pk_err *e)
{
	return itav_unpack(it, ASN1_ITEM_rptr(CMP_ALGORS), "algorithms",
	    (void **)out, e);
}

int
cmp_atav_keyspec(const CMP_ATAV *a, X509_ALGOR **alg, long *rsa_bits,
    struct pk_err *e)
{
	const unsigned char *p, *end;

	*alg = NULL;
	*rsa_bits = -1;
	if (cmp_oid_is(a->type, CMP_OID_REGCTRL_RSA_KEY_LEN)) {
		/* RFC 9480 2.16: RsaKeyLenCtrl ::= INTEGER (1..MAX) */
		if (a->value == NULL || a->value->type != V_ASN1_INTEGER ||
		    (*rsa_bits = ASN1_INTEGER_get(a->value->value.integer)) < 1)
			return pk_err_set(e, "RFC 9480 2.16: rsaKeyLen is not a "
			    "positive INTEGER");
		return 0;
	}
	if (!cmp_oid_is(a->type, CMP_OID_REGCTRL_ALG_ID))
		return pk_err_set(e, "RFC 9480 2.16: keySpec holds another "
		    "control than algId and rsaKeyLen");
	if (a->value == NULL || a->value->type != V_ASN1_SEQUENCE)
		return pk_err_set(e, "RFC 9480 2.16: algId is not an "
		    "AlgorithmIdentifier");
	p = ASN1_STRING_get0_data(a->value->value.sequence);
	end = p + ASN1_STRING_length(a->value->value.sequence);
	if ((*alg = d2i_X509_ALGOR(NULL, &p, end - p)) == NULL || p != end) {
		X509_ALGOR_free(*alg);
		*alg = NULL;
		ERR_clear_error();
		return pk_err_set(e, "RFC 9480 2.16: algId is not an "
		    "AlgorithmIdentifier");
	}
	return 0;
}
