/*
 * cmp_dump: a readable decode of one PKIMessage into an sbuf (cmpdump prints it;
 * the console may show it in debugging output). Names and times in the one style
 * of util (pk_name_sbuf "C=FI, O=Insta Demo, CN=Insta Demo CA", pk_time_text
 * "2018-02-06 13:31:13 UTC"), octet strings lower-case hex. The values of the
 * support messages (caCerts, rootCaCert, rootCaKeyUpdate, certReqTemplate,
 * signKeyPairTypes; RFC 9483 4.3) are decoded and shown. Never fails: fields
 * that cannot be shown are marked.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_msg_int.h"

/* Takes what BIO B holds into the sbuf and frees B. */
static void
bio_take(struct sbuf *s, BIO *b)
{
	char *p;
	long n;

	if (b == NULL)
		return;
	n = BIO_get_mem_data(b, &p);
	if (n > 0)
		sbuf_add(s, p, (size_t)n);
	BIO_free(b);
}

static void
put_name(struct sbuf *s, const X509_NAME *n)
{
	if (n == NULL) {
		sbuf_puts(s, "(absent)");
		return;
	}
	if (X509_NAME_entry_count(n) == 0) {
		sbuf_puts(s, "(NULL-DN)");
		return;
	}
	pk_name_sbuf(n, s);
}

static void
put_gn(struct sbuf *s, const GENERAL_NAME *gn)
{
	BIO *b;

	if (gn == NULL) {
		sbuf_puts(s, "(absent)");
		return;
	}
	if (gn->type == GEN_DIRNAME) {
		put_name(s, gn->d.directoryName);
		return;
	}
	b = BIO_new(BIO_s_mem());
	if (b != NULL)
		GENERAL_NAME_print(b, (GENERAL_NAME *)gn);
	bio_take(s, b);
}

static void
put_hex(struct sbuf *s, const ASN1_STRING *o)
{
	char *h;

	if (o == NULL) {
		sbuf_puts(s, "(absent)");
		return;
	}
	h = pk_hex(o->data, (size_t)o->length, 0);
	sbuf_puts(s, h);
	free(h);
}

/* Octets in hex, followed by the text when it is all printable ASCII. */
static void
put_kid(struct sbuf *s, const ASN1_OCTET_STRING *o)
{
	int i, printable = 1;

	put_hex(s, o);
	if (o == NULL || o->length == 0)
		return;
	for (i = 0; i < o->length; i++)
		if (o->data[i] < 0x20 || o->data[i] > 0x7e)
			printable = 0;
	if (printable) {
		sbuf_puts(s, " (\"");
		sbuf_add(s, o->data, (size_t)o->length);
		sbuf_puts(s, "\")");
	}
}

static void
put_time(struct sbuf *s, const ASN1_TIME *t)
{
	char buf[40];
	time_t v;

	if (t == NULL)
		sbuf_puts(s, "(absent)");
	else if (pk_asn1_time(t, &v) != 0)
		sbuf_puts(s, "(invalid time)");
	else
		sbuf_puts(s, pk_time_text(v, buf, sizeof(buf)));
}

static void
put_int(struct sbuf *s, const ASN1_INTEGER *a)
{
	BIO *b;

	if (a == NULL) {
		sbuf_puts(s, "(absent)");
		return;
	}
	b = BIO_new(BIO_s_mem());
	if (b != NULL)
		i2a_ASN1_INTEGER(b, a);
	bio_take(s, b);
}

/* id-it 1.3.6.1.5.5.7.4.N names (RFC 4210 5.3.19, RFC 9480, RFC 9483) */
static const char *const id_it_names[] = {
	NULL, "caProtEncCert", "signKeyPairTypes", "encKeyPairTypes",
	"preferredSymmAlg", "caKeyUpdateInfo", "currentCRL", "unsupportedOIDs",
	NULL, NULL, "keyPairParamReq", "keyPairParamRep", "revPassphrase",
	"implicitConfirm", "confirmWaitTime", "origPKIMessage", "suppLangTags",
	"caCerts", "rootCaKeyUpdate", "certReqTemplate", "rootCaCert",
	"certProfile", "crlStatusList", "crls"
};

static void
put_oid(struct sbuf *s, const ASN1_OBJECT *o)
{
	char buf[128];
	int nid = OBJ_obj2nid(o);

	if (o == NULL || OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0) {
		sbuf_puts(s, "(bad OID)");
		return;
	}
	if (strncmp(buf, "1.3.6.1.5.5.7.4.", 16) == 0) {
		char *end;
		long n = strtol(buf + 16, &end, 10);

		if (*end == '\0' && n > 0 && n < (long)(sizeof(id_it_names) /
		    sizeof(id_it_names[0])) && id_it_names[n] != NULL) {
			sbuf_printf(s, "%s (%s)", id_it_names[n], buf);
			return;
		}
	}
	if (cmp_oid_is(o, CMP_OID_OLD_CERT_ID))
		sbuf_puts(s, "oldCertID");
	else if (nid != NID_undef)
		sbuf_puts(s, OBJ_nid2ln(nid));
	else
		sbuf_puts(s, buf);
}

static const char *
crl_reason_name(int r)
{
	static const char *const n[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", "(7)", "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise" };

	return r >= 0 && r <= 10 ? n[r] : "?";
}

static void
put_cert(struct sbuf *s, const char *ind, X509 *x)
{
	sbuf_printf(s, "%ssubject: ", ind);
	put_name(s, X509_get_subject_name(x));
	sbuf_printf(s, "\n%sissuer:  ", ind);
	put_name(s, X509_get_issuer_name(x));
	sbuf_printf(s, "\n%sserial:  ", ind);
	put_int(s, X509_get0_serialNumber(x));
	sbuf_printf(s, "\n%svalid:   ", ind);
	put_time(s, X509_get0_notBefore(x));
	sbuf_puts(s, " .. ");
	put_time(s, X509_get0_notAfter(x));
	sbuf_putc(s, '\n');
}

static void
put_certs(struct sbuf *s, const char *title, const STACK_OF(X509) *sk)
{
	int i;

	if (sk == NULL)
		return;
	sbuf_printf(s, "%s: %d\n", title, sk_X509_num(sk));
	for (i = 0; i < sk_X509_num(sk); i++) {
		sbuf_printf(s, "  [%d]\n", i);
		put_cert(s, "    ", sk_X509_value(sk, i));
	}
}

static void
put_si(struct sbuf *s, const char *ind, const CMP_PKISTATUSINFO *si)
{
	char *d = cmp_si_describe(si);

	sbuf_printf(s, "%sstatus: %s\n", ind, d);
	free(d);
}

static void
put_key(struct sbuf *s, EVP_PKEY *k)
{
	char grp[64];

	if (k == NULL) {
		sbuf_puts(s, "(absent or unusable)");
		return;
	}
	sbuf_printf(s, "%s %d bits", OBJ_nid2sn(EVP_PKEY_get_base_id(k)),
	    EVP_PKEY_get_bits(k));
	if (EVP_PKEY_get_utf8_string_param(k, "group", grp, sizeof(grp), NULL))
		sbuf_printf(s, " (%s)", grp);
	ERR_clear_error();
}

static void
put_exts(struct sbuf *s, const char *ind, const STACK_OF(X509_EXTENSION) *exts)
{
	int i;
	BIO *b;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);

		sbuf_printf(s, "%sextension: ", ind);
		put_oid(s, X509_EXTENSION_get_object(x));
		if (X509_EXTENSION_get_critical(x))
			sbuf_puts(s, " (critical)");
		sbuf_puts(s, ": ");
		b = BIO_new(BIO_s_mem());
		if (b != NULL && !X509V3_EXT_print(b, x, 0, 0))
			ASN1_STRING_print(b, X509_EXTENSION_get_data(x));
		ERR_clear_error();
		bio_take(s, b);
		sbuf_putc(s, '\n');
	}
}

static void
put_template(struct sbuf *s, const char *ind, const CMP_CERTTEMPLATE *t)
{
	if (t->subject != NULL) {
		sbuf_printf(s, "%ssubject: ", ind);
		put_name(s, t->subject);
		sbuf_putc(s, '\n');
	}
	if (t->issuer != NULL) {
		sbuf_printf(s, "%sissuer: ", ind);
		put_name(s, t->issuer);
		sbuf_putc(s, '\n');
	}
	if (t->serialNumber != NULL) {
		sbuf_printf(s, "%sserial: ", ind);
		put_int(s, t->serialNumber);
		sbuf_putc(s, '\n');
	}
	if (t->publicKey != NULL) {
		sbuf_printf(s, "%spublic key: ", ind);
		put_key(s, cmp_tmpl_get0_pubkey(t));
		sbuf_putc(s, '\n');
	}
	if (t->validity != NULL) {
		sbuf_printf(s, "%svalidity: ", ind);
		put_time(s, t->validity->notBefore);
		sbuf_puts(s, " .. ");
		put_time(s, t->validity->notAfter);
		sbuf_putc(s, '\n');
	}
	put_exts(s, ind, t->extensions);
}

static void
put_crm(struct sbuf *s, const CMP_CERTREQMSG *crm)
{
	static const char *const pop[] = { "raVerified", "signature",
	    "keyEncipherment", "keyAgreement" };
	X509_NAME *iss = NULL;
	ASN1_INTEGER *sn = NULL;
	struct pk_err e;

	sbuf_printf(s, "  certReqId: %ld\n", cmp_crm_req_id(crm));
	put_template(s, "    ", crm->certReq->certTemplate);
	if (cmp_crm_get1_old_cert_id(crm, &iss, &sn, &e) != 0) {
		sbuf_printf(s, "    oldCertID: %s\n", e.msg);
	} else if (iss != NULL) {
		sbuf_puts(s, "    oldCertID: issuer ");
		put_name(s, iss);
		sbuf_puts(s, ", serial ");
		put_int(s, sn);
		sbuf_putc(s, '\n');
	}
	X509_NAME_free(iss);
	ASN1_INTEGER_free(sn);
	if (crm->popo == NULL) {
		sbuf_puts(s, "    POP: none\n");
		return;
	}
	sbuf_printf(s, "    POP: %s", crm->popo->type >= 0 && crm->popo->type <= 3 ?
	    pop[crm->popo->type] : "?");
	if (crm->popo->type == 1) {
		sbuf_printf(s, " (%s): ", OBJ_nid2ln(OBJ_obj2nid(
		    crm->popo->value.signature->algorithmIdentifier->algorithm)));
		if (cmp_crm_verify_pop(crm, 0, &e) == 0)
			sbuf_puts(s, "verifies");
		else
			sbuf_printf(s, "FAILS: %s", e.msg);
	}
	sbuf_putc(s, '\n');
}

/* An AlgorithmIdentifier: its name, and a parameter that is an OID (the
 * curve of id-ecPublicKey). */
static void
put_alg(struct sbuf *s, const X509_ALGOR *a)
{
	const ASN1_OBJECT *o;
	const void *pv;
	int ptype;

	X509_ALGOR_get0(&o, &ptype, &pv, a);
	put_oid(s, o);
	if (ptype == V_ASN1_OBJECT && pv != NULL) {
		sbuf_putc(s, ' ');
		put_oid(s, pv);
	}
}

/* The decoded value of a support message's ITAV (RFC 9483 4.3); 0 when IT
 * is not one of them. */
static int
put_support_value(struct sbuf *s, const char *ind, const CMP_ITAV *it)
{
	char in2[32];
	struct pk_err e;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_ALGOR) *algs = NULL;
	CMP_ROOTCAKEYUPDATE *u = NULL;
	CMP_CERTREQTEMPLATE *t = NULL;
	X509 *x = NULL;
	int i, rc;

	snprintf(in2, sizeof(in2), "%s    ", ind);
	pk_err_clear(&e);
	if (cmp_itav_is(it, CMP_OID_IT_CA_CERTS)) {
		if ((rc = cmp_itav_get1_certs(it, &certs, &e)) == 0) {
			sbuf_printf(s, ": %d certificates\n", sk_X509_num(certs));
			for (i = 0; i < sk_X509_num(certs); i++) {
				sbuf_printf(s, "%s  [%d]\n", ind, i);
				put_cert(s, in2, sk_X509_value(certs, i));
			}
		}
	} else if (cmp_itav_is(it, CMP_OID_IT_ROOT_CA_CERT)) {
		if ((rc = cmp_itav_get1_cert(it, &x, &e)) == 0) {
			sbuf_puts(s, ":\n");
			put_cert(s, in2, x);
		}
	} else if (cmp_itav_is(it, CMP_OID_IT_ROOT_CA_KEY_UPDATE)) {
		if ((rc = cmp_itav_get1_root_ca_key_update(it, &u, &e)) == 0) {
			static const char *const n[] = { "newWithNew", "newWithOld",
			    "oldWithNew" };
			X509 *c[3];

			c[0] = u->newWithNew;
			c[1] = u->newWithOld;
			c[2] = u->oldWithNew;
			sbuf_puts(s, ":\n");
			for (i = 0; i < 3; i++) {
				if (c[i] == NULL) {
					sbuf_printf(s, "%s  %s: (absent)\n", ind, n[i]);
					continue;
				}
				sbuf_printf(s, "%s  %s:\n", ind, n[i]);
				put_cert(s, in2, c[i]);
			}
			/* RFC 4210 4.4: newWithOld carries the new key under
			 * the old one, oldWithNew the old key under the new */
			if (u->newWithOld != NULL)
				sbuf_printf(s, "%s  newWithOld holds newWithNew's key: "
				    "%s\n", ind, EVP_PKEY_eq(X509_get0_pubkey(
				    u->newWithOld), X509_get0_pubkey(u->newWithNew)) ==
				    1 ? "yes" : "NO");
			if (u->oldWithNew != NULL)
				sbuf_printf(s, "%s  oldWithNew verifies with the new key: "
				    "%s\n", ind, X509_verify(u->oldWithNew,
				    X509_get0_pubkey(u->newWithNew)) == 1 ? "yes" :
				    "NO");
			if (u->oldWithNew != NULL && u->newWithOld != NULL)
				sbuf_printf(s, "%s  newWithOld verifies with the old key: "
				    "%s\n", ind, X509_verify(u->newWithOld,
				    X509_get0_pubkey(u->oldWithNew)) == 1 ? "yes" :
				    "NO");
			ERR_clear_error();
		}
	} else if (cmp_itav_is(it, CMP_OID_IT_CERT_REQ_TEMPLATE)) {
		if ((rc = cmp_itav_get1_cert_req_template(it, &t, &e)) == 0) {
			sbuf_printf(s, ":\n%s  certTemplate:", ind);
			if (i2d_CMP_CERTTEMPLATE(t->certTemplate, NULL) <= 2)
				sbuf_puts(s, " (empty)");
			sbuf_putc(s, '\n');
			put_template(s, in2, t->certTemplate);
			sbuf_printf(s, "%s  keySpec:%s\n", ind, t->keySpec == NULL ?
			    " (absent)" : "");
			for (i = 0; i < sk_CMP_ATAV_num(t->keySpec); i++) {
				X509_ALGOR *a = NULL;
				long bits = -1;

				sbuf_puts(s, in2);
				if (cmp_atav_keyspec(sk_CMP_ATAV_value(t->keySpec, i),
				    &a, &bits, &e) != 0)
					sbuf_printf(s, "%s\n", e.msg);
				else if (a != NULL) {
					sbuf_puts(s, "algId ");
					put_alg(s, a);
					sbuf_putc(s, '\n');
				} else
					sbuf_printf(s, "rsaKeyLen %ld\n", bits);
				X509_ALGOR_free(a);
			}
		}
	} else if (cmp_itav_is(it, CMP_OID_IT_SIGN_KEY_PAIR_TYPES)) {
		if ((rc = cmp_itav_get1_algs(it, &algs, &e)) == 0) {
			sbuf_puts(s, ":");
			for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
				sbuf_puts(s, i > 0 ? ", " : " ");
				put_alg(s, sk_X509_ALGOR_value(algs, i));
			}
			sbuf_putc(s, '\n');
		}
	} else
		return 0;
	if (rc != 0)
		sbuf_printf(s, ": %s\n", e.msg);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	CMP_ROOTCAKEYUPDATE_free(u);
	CMP_CERTREQTEMPLATE_free(t);
	X509_free(x);
	return 1;
}

static void
put_itavs(struct sbuf *s, const char *ind, const STACK_OF(CMP_ITAV) *sk)
{
	int i;

	for (i = 0; i < sk_CMP_ITAV_num(sk); i++) {
		const CMP_ITAV *it = sk_CMP_ITAV_value(sk, i);

		sbuf_puts(s, ind);
		put_oid(s, it->infoType);
		if (it->infoValue == NULL) {
			sbuf_puts(s, " (no value)\n");
			continue;
		}
		if (put_support_value(s, ind, it))
			continue;
		if (it->infoValue->type == V_ASN1_GENERALIZEDTIME) {
			sbuf_puts(s, " = ");
			put_time(s, it->infoValue->value.generalizedtime);
		}
		sbuf_putc(s, '\n');
	}
}

static void
put_body(struct sbuf *s, const CMP_PKIMESSAGE *m)
{
	int i, n, t = cmp_msg_body_type(m);
	char *txt;

	switch (t) {
	case CMP_BODY_IR: case CMP_BODY_CR: case CMP_BODY_KUR:
		n = cmp_req_count(m);
		sbuf_printf(s, "requests: %d\n", n);
		for (i = 0; i < n; i++)
			put_crm(s, cmp_req_get0(m, i));
		break;
	case CMP_BODY_IP: case CMP_BODY_CP: case CMP_BODY_KUP:
		put_certs(s, "caPubs", cmp_rep_get0_capubs(m));
		n = cmp_rep_count(m);
		sbuf_printf(s, "responses: %d\n", n);
		for (i = 0; i < n; i++) {
			CMP_CERTRESPONSE *r = cmp_rep_get0(m, i);

			sbuf_printf(s, "  certReqId: %ld\n", cmp_certresp_req_id(r));
			put_si(s, "    ", r->status);
			if (cmp_certresp_get0_cert(r) != NULL) {
				sbuf_puts(s, "    certificate:\n");
				put_cert(s, "      ", cmp_certresp_get0_cert(r));
			} else if (r->certifiedKeyPair != NULL) {
				sbuf_puts(s, "    certificate: encrypted\n");
			}
		}
		break;
	case CMP_BODY_P10CR: {
		X509_REQ *rq = cmp_msg_get0_p10(m);
		EVP_PKEY *k = X509_REQ_get0_pubkey(rq);

		sbuf_puts(s, "CSR subject: ");
		put_name(s, X509_REQ_get_subject_name(rq));
		sbuf_puts(s, "\nCSR public key: ");
		put_key(s, k);
		sbuf_printf(s, "\nCSR signature: %s\n",
		    k != NULL && X509_REQ_verify(rq, k) == 1 ? "verifies" : "FAILS");
		ERR_clear_error();
		break;
	}
	case CMP_BODY_RR:
		n = cmp_rr_count(m);
		sbuf_printf(s, "revocations: %d\n", n);
		for (i = 0; i < n; i++) {
			sbuf_printf(s, "  [%d]\n", i);
			put_template(s, "    ", cmp_rr_get0_details(m, i));
			if (cmp_rr_reason(m, i) >= 0)
				sbuf_printf(s, "    reason: %s (%d)\n",
				    crl_reason_name(cmp_rr_reason(m, i)),
				    cmp_rr_reason(m, i));
		}
		break;
	case CMP_BODY_RP:
		n = cmp_rp_count(m);
		for (i = 0; i < n; i++)
			put_si(s, "  ", cmp_msg_get0_status(m, i));
		break;
	case CMP_BODY_CERTCONF:
		n = cmp_certconf_count(m);
		sbuf_printf(s, "confirmations: %d\n", n);
		for (i = 0; i < n; i++) {
			const CMP_CERTSTATUS *cs = cmp_certconf_get0(m, i);

			sbuf_printf(s, "  certReqId: %ld\n    certHash: ",
			    cmp_certstatus_req_id(cs));
			put_hex(s, cs->certHash);
			sbuf_putc(s, '\n');
			if (cs->statusInfo != NULL)
				put_si(s, "    ", cs->statusInfo);
			else
				sbuf_puts(s, "    status: (absent: accepted)\n");
		}
		break;
	case CMP_BODY_POLLREQ:
		for (i = 0; i < sk_CMP_POLLREQ_num(m->body->value.pollReq); i++)
			sbuf_printf(s, "  certReqId: %ld\n", cmp_pollreq_req_id(m, i));
		break;
	case CMP_BODY_POLLREP:
		n = cmp_pollrep_count(m);
		for (i = 0; i < n; i++) {
			long id = -1, after = -1;
			struct pk_err e;

			if (cmp_pollrep_get(m, i, &id, &after, &txt, &e) != 0) {
				sbuf_printf(s, "  %s\n", e.msg);
				continue;
			}
			sbuf_printf(s, "  certReqId: %ld checkAfter: %ld s", id, after);
			if (txt != NULL)
				sbuf_printf(s, " reason: \"%s\"", txt);
			free(txt);
			sbuf_putc(s, '\n');
		}
		break;
	case CMP_BODY_GENM: case CMP_BODY_GENP:
		n = sk_CMP_ITAV_num(cmp_msg_get0_itavs(m));
		sbuf_printf(s, "infoTypes: %d\n", n);
		put_itavs(s, "  ", cmp_msg_get0_itavs(m));
		break;
	case CMP_BODY_ERROR:
		put_si(s, "  ", cmp_msg_get0_status(m, 0));
		if (cmp_error_code(m) >= 0)
			sbuf_printf(s, "  errorCode: %ld\n", cmp_error_code(m));
		if ((txt = cmp_error_details(m)) != NULL)
			sbuf_printf(s, "  errorDetails: \"%s\"\n", txt);
		free(txt);
		break;
	default:
		break;
	}
}

void
cmp_msg_dump(const CMP_PKIMESSAGE *m, struct sbuf *s)
{
	const CMP_PKIHEADER *h = m->header;
	char *txt;

	sbuf_printf(s, "body: %s (%d)\n", cmp_body_name(cmp_msg_body_type(m)),
	    cmp_msg_body_type(m));
	sbuf_printf(s, "pvno: %ld\n", cmp_msg_pvno(m));
	if (!cmp_msg_is_der(m))
		sbuf_puts(s, "encoding: BER, not canonical DER (RFC 4210 asks for "
		    "DER)\n");
	sbuf_puts(s, "sender: ");
	put_gn(s, h->sender);
	sbuf_puts(s, "\nrecipient: ");
	put_gn(s, h->recipient);
	sbuf_putc(s, '\n');
	if (h->messageTime != NULL) {
		sbuf_puts(s, "messageTime: ");
		put_time(s, h->messageTime);
		sbuf_putc(s, '\n');
	}
	txt = cmp_msg_protection_desc(m);
	sbuf_printf(s, "protection: %s\n", txt);
	free(txt);
	if (h->senderKID != NULL) {
		sbuf_puts(s, "senderKID: ");
		put_kid(s, h->senderKID);
		sbuf_putc(s, '\n');
	}
	if (h->recipKID != NULL) {
		sbuf_puts(s, "recipKID: ");
		put_kid(s, h->recipKID);
		sbuf_putc(s, '\n');
	}
	sbuf_puts(s, "transactionID: ");
	put_hex(s, h->transactionID);
	sbuf_puts(s, "\nsenderNonce: ");
	put_hex(s, h->senderNonce);
	sbuf_puts(s, "\nrecipNonce: ");
	put_hex(s, h->recipNonce);
	sbuf_putc(s, '\n');
	if ((txt = cmp_msg_free_text(m)) != NULL)
		sbuf_printf(s, "freeText: \"%s\"\n", txt);
	free(txt);
	if (h->generalInfo != NULL) {
		sbuf_puts(s, "generalInfo:\n");
		put_itavs(s, "  ", h->generalInfo);
	}
	put_body(s, m);
	put_certs(s, "extraCerts", m->extraCerts);
}
