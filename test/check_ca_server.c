/*
 * Check suite for ca/ca_server.c, in process: the cases the openssl client
 * cannot produce (reused transactionID, a POP signature that does not verify,
 * certConf without statusInfo, wrong recipNonce or certHash, certConf twice,
 * missing senderNonce, garbage, pvno 3), the protection of answers (PBM like the
 * request, signed errors when the request's protection failed), genm values,
 * polling, and several threads at once. Every error text checked here cites
 * each RFC clause once. The openssl interop runs in test/t_cmpca_interop.sh.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../ca/ca_int.h"
#include "testutil.h"

#define SECRET	"s3cr3t"
#define REF	"lab"

static char *dir, *cadir;
static struct ca_config cfg;
static struct ca *ca;
static struct ca_server *srv;
static EVP_PKEY *key;

static void
open_server(void)
{
	struct pk_err e;

	ck_assert_msg(ca_open(&ca, &cfg, &e) == 0, "%s", e.msg);
	ck_assert_msg(ca_server_new(&srv, ca, &e) == 0, "%s", e.msg);
}

static void
close_server(void)
{
	ca_server_free(srv);
	ca_close(ca);
	srv = NULL;
	ca = NULL;
}

static void
setup(void)
{
	size_t n;

	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	n = strlen(dir) + 8;
	cadir = malloc(n);
	snprintf(cadir, n, "%s/ca", dir);
	ca_config_init(&cfg);
	cfg.dir = cadir;
	cfg.secret = SECRET;
	cfg.ref = REF;
	open_server();
	key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(key);
}

static void
teardown(void)
{
	close_server();
	ca_config_clear(&cfg);
	EVP_PKEY_free(key);
	tu_rmrf(dir);
	free(dir);
	free(cadir);
}

/* DER round trip through the HTTP handler. */
static CMP_PKIMESSAGE *
exchange_der(const unsigned char *der, size_t len)
{
	CMP_PKIMESSAGE *rsp = NULL;
	unsigned char *out = NULL;
	size_t n = 0;
	struct pk_err e;

	ck_assert_int_eq(ca_server_handle(srv, der, len, &out, &n), 0);
	ck_assert_msg(cmp_msg_decode(out, n, &rsp, &e) == 0, "%s", e.msg);
	free(out);
	return rsp;
}

static CMP_PKIMESSAGE *
exchange(const CMP_PKIMESSAGE *req)
{
	unsigned char *der = NULL;
	size_t len = 0;
	struct pk_err e;
	CMP_PKIMESSAGE *rsp;

	ck_assert_msg(cmp_msg_encode(req, &der, &len, &e) == 0, "%s", e.msg);
	rsp = exchange_der(der, len);
	OPENSSL_free(der);
	return rsp;
}

static void
mac(CMP_PKIMESSAGE *m, const char *secret, const struct cmp_pbm_opts *o)
{
	struct pk_err e;

	ck_assert_msg(cmp_msg_protect_pbm(m, secret, strlen(secret), o, &e) == 0,
	    "%s", e.msg);
}

/* An ir for KEY with subject CN=NAME, PBM-protected unless SECRET is NULL. */
static CMP_PKIMESSAGE *
make_ir(const char *name, int implicit, const char *secret)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	X509_NAME *subj = X509_NAME_new();
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)name, -1, -1, 0);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.implicit_confirm = implicit;
	memset(&r, 0, sizeof(r));
	r.subject = subj;
	r.key = key;
	ck_assert_msg(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e) == 0, "%s",
	    e.msg);
	X509_NAME_free(subj);
	if (secret != NULL)
		mac(m, secret, NULL);
	return m;
}

/* Every RFC clause cited in TEXT ("RFC 4210 5.3.18") is cited once: a clause
 * and a longer one under it ("5.1.3" and "5.1.3.1") are different clauses. */
static void
assert_clauses_once(const char *text)
{
	char seen[16][40];
	const char *p = text, *q;
	int i, n = 0;

	while ((p = strstr(p, "RFC ")) != NULL) {
		q = p + 4;
		q += strspn(q, "0123456789");
		if (*q == ' ' && q[1] >= '0' && q[1] <= '9') {
			q++;
			q += strspn(q, "0123456789.");
			while (q[-1] == '.')
				q--;	/* a sentence's full stop */
		}
		ck_assert_int_lt(n, 16);
		snprintf(seen[n], sizeof(seen[n]), "%.*s", (int)(q - p), p);
		for (i = 0; i < n; i++)
			ck_assert_msg(strcmp(seen[i], seen[n]) != 0,
			    "\"%s\" cited twice in \"%s\"", seen[n], text);
		n++;
		p = q;
	}
}

/* The failInfo of error message M; its text cites each clause once. */
static uint32_t
error_failinfo(const CMP_PKIMESSAGE *m)
{
	char *txt;

	ck_assert_msg(cmp_msg_body_type(m) == CMP_BODY_ERROR, "body %s",
	    cmp_body_name(cmp_msg_body_type(m)));
	txt = cmp_si_text(cmp_msg_get0_status(m, 0));
	if (txt != NULL)
		assert_clauses_once(txt);
	free(txt);
	return cmp_si_failinfo(cmp_msg_get0_status(m, 0));
}

/* The header of a follow-up message (certConf, pollReq) answering RSP. */
static void
follow_hdr(struct cmp_hdr *h, const CMP_PKIMESSAGE *rsp)
{
	const ASN1_OCTET_STRING *tid = cmp_msg_get0_transaction_id(rsp);
	const ASN1_OCTET_STRING *sn = cmp_msg_get0_sender_nonce(rsp);

	memset(h, 0, sizeof(*h));
	h->sender_kid = (const unsigned char *)REF;
	h->sender_kid_len = strlen(REF);
	h->transaction_id = ASN1_STRING_get0_data(tid);
	h->transaction_id_len = (size_t)ASN1_STRING_length(tid);
	h->recip_nonce = ASN1_STRING_get0_data(sn);
	h->recip_nonce_len = (size_t)ASN1_STRING_length(sn);
}

static CMP_PKIMESSAGE *
make_certconf(const CMP_PKIMESSAGE *ip, X509 *cert, int status)
{
	struct cmp_hdr h;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	follow_hdr(&h, ip);
	ck_assert_msg(cmp_build_certconf(&h, cert, 0, status, 0, NULL, &m, &e) == 0,
	    "%s", e.msg);
	mac(m, SECRET, NULL);
	return m;
}

static X509 *
ip_cert(const CMP_PKIMESSAGE *ip)
{
	CMP_CERTRESPONSE *r;

	ck_assert_msg(cmp_msg_body_type(ip) == CMP_BODY_IP, "body %s",
	    cmp_body_name(cmp_msg_body_type(ip)));
	r = cmp_rep_get0(ip, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cmp_si_status(cmp_certresp_get0_status(r)),
	    CMP_STATUS_ACCEPTED);
	ck_assert_ptr_nonnull(cmp_certresp_get0_cert(r));
	return cmp_certresp_get0_cert(r);
}

static char *
txn_state_of(const CMP_PKIMESSAGE *m)
{
	const ASN1_OCTET_STRING *tid = cmp_msg_get0_transaction_id(m);
	char *hex = pk_hex(ASN1_STRING_get0_data(tid), ASN1_STRING_length(tid), 0);
	struct ca_txn t;
	struct pk_err e;
	char *r;

	ck_assert_int_eq(ca_db_txn_get(ca_get0_db(ca), hex, &t, &e), 0);
	r = xstrdup(ca_txn_state_name(t.state));
	ca_txn_clear(&t);
	free(hex);
	return r;
}

START_TEST(ir_certconf_pkiconf)
{
	CMP_PKIMESSAGE *ir = make_ir("dev1", 0, SECRET), *ip, *cc, *conf;
	STACK_OF(X509) *capubs;
	X509 *cert;
	struct pk_err e;
	char *st;

	ip = exchange(ir);
	cert = ip_cert(ip);
	/* the certificate is for our key, from our CA, on record */
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
	ck_assert_int_eq(X509_check_issued(ca_get0_cert(ca), cert), X509_V_OK);
	/* RFC 4210 5.1.1: pvno 2, same transactionID, nonces chained */
	ck_assert_int_eq(cmp_msg_pvno(ip), 2);
	ck_assert(cmp_octets_eq(cmp_msg_get0_transaction_id(ip),
	    cmp_msg_get0_transaction_id(ir)));
	ck_assert(cmp_octets_eq(cmp_msg_get0_recip_nonce(ip),
	    cmp_msg_get0_sender_nonce(ir)));
	ck_assert(!cmp_octets_eq(cmp_msg_get0_sender_nonce(ip),
	    cmp_msg_get0_sender_nonce(ir)));
	/* protected like the request, caPubs = the CA */
	ck_assert_int_eq(cmp_msg_protection_kind(ip), CMP_PROT_PBM);
	ck_assert_msg(cmp_msg_verify_pbm(ip, SECRET, strlen(SECRET), NULL, &e) == 0,
	    "%s", e.msg);
	capubs = cmp_rep_get0_capubs(ip);
	ck_assert_int_eq(sk_X509_num(capubs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(capubs, 0), ca_get0_cert(ca)), 0);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "issued");
	free(st);

	cc = make_certconf(ip, cert, CMP_STATUS_ACCEPTED);
	conf = exchange(cc);
	ck_assert_int_eq(cmp_msg_body_type(conf), CMP_BODY_PKICONF);
	ck_assert(cmp_octets_eq(cmp_msg_get0_recip_nonce(conf),
	    cmp_msg_get0_sender_nonce(cc)));
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "confirmed");
	free(st);
	CMP_PKIMESSAGE_free(conf);
	/* RFC 4210 5.3.18: the same certConf again: certConfirmed */
	CMP_PKIMESSAGE_free(cc);
	cc = make_certconf(ip, cert, CMP_STATUS_ACCEPTED);
	conf = exchange(cc);
	ck_assert(error_failinfo(conf) & CMP_FAIL(CMP_FAIL_BAD_RECIPIENT_NONCE) ||
	    error_failinfo(conf) & CMP_FAIL(CMP_FAIL_CERT_CONFIRMED));
	CMP_PKIMESSAGE_free(conf);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(certconf_without_statusinfo_accepts)
{
	CMP_PKIMESSAGE *ir = make_ir("bc", 0, SECRET), *ip, *cc, *conf;
	CMP_CERTSTATUS *cs;
	char *st;

	ip = exchange(ir);
	cc = make_certconf(ip, ip_cert(ip), CMP_STATUS_ACCEPTED);
	/* BouncyCastle leaves statusInfo out when accepting */
	cs = cmp_certconf_get0(cc, 0);
	CMP_PKISTATUSINFO_free(cs->statusInfo);
	cs->statusInfo = NULL;
	cmp_msg_touch(cc);
	mac(cc, SECRET, NULL);
	conf = exchange(cc);
	ck_assert_int_eq(cmp_msg_body_type(conf), CMP_BODY_PKICONF);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "confirmed");
	free(st);
	CMP_PKIMESSAGE_free(conf);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(certconf_rejection_revokes)
{
	CMP_PKIMESSAGE *ir = make_ir("rej", 0, SECRET), *ip, *cc, *conf;
	char *st, *serial;
	struct pk_err e;

	ip = exchange(ir);
	serial = ca_serial_hex(X509_get0_serialNumber(ip_cert(ip)));
	cc = make_certconf(ip, ip_cert(ip), CMP_STATUS_REJECTION);
	conf = exchange(cc);
	ck_assert_int_eq(cmp_msg_body_type(conf), CMP_BODY_PKICONF);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "rejected");
	ck_assert_int_eq(ca_db_is_revoked(ca_get0_db(ca), serial, &e), 1);
	free(st);
	free(serial);
	CMP_PKIMESSAGE_free(conf);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(certconf_bad_nonce_hash_and_txn)
{
	CMP_PKIMESSAGE *ir = make_ir("nonce", 0, SECRET), *ip, *cc, *rsp;
	struct cmp_hdr h;
	unsigned char bogus[16] = { 1, 2, 3 };
	struct pk_err e;
	char *st;

	ip = exchange(ir);
	/* recipNonce not ours: badRecipientNonce, the transaction unchanged */
	follow_hdr(&h, ip);
	h.recip_nonce = bogus;
	h.recip_nonce_len = sizeof(bogus);
	ck_assert(cmp_build_certconf(&h, ip_cert(ip), 0, CMP_STATUS_ACCEPTED, 0,
	    NULL, &cc, &e) == 0);
	mac(cc, SECRET, NULL);
	rsp = exchange(cc);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_RECIPIENT_NONCE));
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "issued");
	free(st);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cc);
	/* certHash of another certificate: badCertId */
	cc = make_certconf(ip, ca_get0_cert(ca), CMP_STATUS_ACCEPTED);
	rsp = exchange(cc);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_CERT_ID));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cc);
	/* an unknown transaction: badRequest */
	follow_hdr(&h, ip);
	h.transaction_id = bogus;
	h.transaction_id_len = sizeof(bogus);
	ck_assert(cmp_build_certconf(&h, ip_cert(ip), 0, CMP_STATUS_ACCEPTED, 0,
	    NULL, &cc, &e) == 0);
	mac(cc, SECRET, NULL);
	rsp = exchange(cc);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(transaction_id_in_use)
{
	CMP_PKIMESSAGE *ir = make_ir("twice", 0, SECRET), *a, *b;

	a = exchange(ir);
	ip_cert(a);
	b = exchange(ir);
	ck_assert(error_failinfo(b) & CMP_FAIL(CMP_FAIL_TRANSACTION_ID_IN_USE));
	/* the error to a good MAC is MAC-protected too */
	ck_assert_int_eq(cmp_msg_protection_kind(b), CMP_PROT_PBM);
	CMP_PKIMESSAGE_free(a);
	CMP_PKIMESSAGE_free(b);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(bad_pop_signature)
{
	CMP_PKIMESSAGE *ir = make_ir("pop", 0, NULL), *rsp;
	CMP_CERTREQMSG *crm = cmp_req_get0(ir, 0);
	ASN1_BIT_STRING *sig = crm->popo->value.signature->signature;
	long n;

	ck_assert_int_eq(crm->popo->type, 1);
	sig->data[sig->length / 2] ^= 0x01;
	cmp_msg_touch(ir);
	mac(ir, SECRET, NULL);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_POP));
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, NULL), 0);
	ck_assert_int_eq(n, 0);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(wrong_mac_answered_signed)
{
	CMP_PKIMESSAGE *ir = make_ir("wrong", 0, "not the secret"), *rsp;
	struct pk_err e;

	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	ck_assert_msg(cmp_msg_verify_sig(rsp, ca_get0_cert(ca), &e) == 0, "%s",
	    e.msg);
	ck_assert_int_eq(sk_X509_num(cmp_msg_get0_extra_certs(rsp)) >= 1, 1);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(unprotected_and_missing_nonce)
{
	CMP_PKIMESSAGE *ir = make_ir("unprot", 0, NULL), *rsp;
	struct pk_err e;

	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	ck_assert_msg(cmp_msg_verify_sig(rsp, ca_get0_cert(ca), &e) == 0, "%s",
	    e.msg);
	CMP_PKIMESSAGE_free(rsp);
	/* RFC 4210 5.1.1: no senderNonce */
	ASN1_OCTET_STRING_free(ir->header->senderNonce);
	ir->header->senderNonce = NULL;
	cmp_msg_touch(ir);
	mac(ir, SECRET, NULL);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_SENDER_NONCE));
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_PBM);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(garbage_answered_signed)
{
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	CMP_PKIMESSAGE *rsp = exchange_der(junk, sizeof(junk));
	struct pk_err e;

	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_DATA_FORMAT));
	ck_assert_msg(cmp_msg_verify_sig(rsp, ca_get0_cert(ca), &e) == 0, "%s",
	    e.msg);
	CMP_PKIMESSAGE_free(rsp);
}
END_TEST

START_TEST(pbm_style_and_pvno3)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	struct cmp_pbm_opts o = { NID_sha1, NID_hmacWithSHA256, 1000, 20 };
	CMP_PKIMESSAGE *ir = NULL, *ip;
	X509_NAME *subj = X509_NAME_new();
	struct pk_err e;
	char *d;

	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)"style", -1, -1, 0);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.pvno = 3;
	memset(&r, 0, sizeof(r));
	r.subject = subj;
	r.key = key;
	ck_assert(cmp_build_certreq(&h, CMP_BODY_IR, &r, &ir, &e) == 0);
	mac(ir, SECRET, &o);
	ip = exchange(ir);
	ip_cert(ip);
	ck_assert_int_eq(cmp_msg_pvno(ip), 2);
	d = cmp_msg_protection_desc(ip);
	ck_assert_msg(strstr(d, "owf=SHA1") != NULL || strstr(d, "owf=sha1") != NULL,
	    "%s", d);
	ck_assert_msg(strstr(d, "hmacWithSHA256") != NULL, "%s", d);
	ck_assert_msg(cmp_msg_verify_pbm(ip, SECRET, strlen(SECRET), NULL, &e) == 0,
	    "%s", e.msg);
	free(d);
	X509_NAME_free(subj);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(genm_values)
{
	STACK_OF(CMP_ITAV) *in = sk_CMP_ITAV_new_null();
	STACK_OF(CMP_ITAV) *out;
	CMP_PKIMESSAGE *genm = NULL, *genp;
	struct cmp_hdr h;
	struct pk_err e;
	const CMP_ITAV *it;
	const unsigned char *p;
	STACK_OF(X509) *certs = NULL;
	X509 *x;
	long len;
	int tag, xclass, i;

	sk_CMP_ITAV_push(in, cmp_itav_new_oid("1.3.6.1.5.5.7.4.17", NULL));
	sk_CMP_ITAV_push(in, cmp_itav_new_oid("1.3.6.1.5.5.7.4.2", NULL));
	sk_CMP_ITAV_push(in, cmp_itav_new_oid("1.2.3.4.5", NULL));
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	ck_assert(cmp_build_genm(&h, in, &genm, &e) == 0);
	mac(genm, SECRET, NULL);
	genp = exchange(genm);
	ck_assert_int_eq(cmp_msg_body_type(genp), CMP_BODY_GENP);
	out = cmp_msg_get0_itavs(genp);
	ck_assert_int_eq(sk_CMP_ITAV_num(out), 3);
	/* caCerts: SEQUENCE OF Certificate holding the CA certificate */
	it = sk_CMP_ITAV_value(out, 0);
	ck_assert_int_eq(OBJ_cmp(it->infoType, sk_CMP_ITAV_value(in, 0)->infoType),
	    0);
	ck_assert_ptr_nonnull(it->infoValue);
	ck_assert_int_eq(it->infoValue->type, V_ASN1_SEQUENCE);
	p = it->infoValue->value.sequence->data;
	ck_assert_int_eq(ASN1_get_object(&p, &len, &tag, &xclass,
	    it->infoValue->value.sequence->length) & 0x80, 0);
	certs = sk_X509_new_null();
	while (len > 0) {
		const unsigned char *q = p;

		x = d2i_X509(NULL, &p, len);
		ck_assert_ptr_nonnull(x);
		len -= p - q;
		sk_X509_push(certs, x);
	}
	ck_assert_int_eq(sk_X509_num(certs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), ca_get0_cert(ca)), 0);
	/* signKeyPairTypes: present; the unknown infoType without a value */
	ck_assert_ptr_nonnull(sk_CMP_ITAV_value(out, 1)->infoValue);
	ck_assert_ptr_null(sk_CMP_ITAV_value(out, 2)->infoValue);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(OBJ_cmp(sk_CMP_ITAV_value(out, i)->infoType,
		    sk_CMP_ITAV_value(in, i)->infoType), 0);
	sk_X509_pop_free(certs, X509_free);
	sk_CMP_ITAV_pop_free(in, CMP_ITAV_free);
	CMP_PKIMESSAGE_free(genp);
	CMP_PKIMESSAGE_free(genm);
}
END_TEST

START_TEST(polling_then_certificate)
{
	CMP_PKIMESSAGE *ir, *ip, *pr = NULL, *rsp, *cc, *conf;
	CMP_CERTRESPONSE *cr;
	struct cmp_hdr h;
	struct pk_err e;
	long rid, after;
	char *reason = NULL;

	close_server();
	cfg.poll = 2;
	cfg.check_after = 3;
	open_server();
	ir = make_ir("poll", 1, SECRET);
	ip = exchange(ir);
	ck_assert_int_eq(cmp_msg_body_type(ip), CMP_BODY_IP);
	cr = cmp_rep_get0(ip, 0);
	ck_assert_int_eq(cmp_si_status(cmp_certresp_get0_status(cr)),
	    CMP_STATUS_WAITING);
	ck_assert_ptr_null(cmp_certresp_get0_cert(cr));
	/* certConf before delivery is refused */
	cc = make_certconf(ip, ca_get0_cert(ca), CMP_STATUS_ACCEPTED);
	rsp = exchange(cc);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cc);
	/* first pollReq: pollRep with checkAfter */
	follow_hdr(&h, ip);
	ck_assert(cmp_build_pollreq(&h, 0, &pr, &e) == 0);
	mac(pr, SECRET, NULL);
	rsp = exchange(pr);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_POLLREP);
	ck_assert(cmp_pollrep_get(rsp, 0, &rid, &after, &reason, &e) == 0);
	ck_assert_int_eq(rid, 0);
	ck_assert_int_eq(after, 3);
	free(reason);
	CMP_PKIMESSAGE_free(pr);
	/* second pollReq: the certificate, implicitConfirm granted */
	follow_hdr(&h, rsp);
	ck_assert(cmp_build_pollreq(&h, 0, &pr, &e) == 0);
	mac(pr, SECRET, NULL);
	CMP_PKIMESSAGE_free(rsp);
	rsp = exchange(pr);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(ip_cert(rsp)), key), 1);
	ck_assert_int_eq(cmp_msg_implicit_confirm(rsp), 1);
	/* delivered and confirmed implicitly: certConf is not expected */
	cc = make_certconf(rsp, ip_cert(rsp), CMP_STATUS_ACCEPTED);
	conf = exchange(cc);
	ck_assert(error_failinfo(conf) & CMP_FAIL(CMP_FAIL_CERT_CONFIRMED));
	CMP_PKIMESSAGE_free(conf);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(pr);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

START_TEST(rr_unknown_certificate)
{
	CMP_PKIMESSAGE *ir = make_ir("rr", 0, SECRET), *ip, *rr = NULL, *rsp;
	X509 *other;
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	struct cmp_hdr h;
	struct pk_err e;

	ip = exchange(ir);
	other = X509_dup(ip_cert(ip));
	ASN1_INTEGER_set(sn, 12345);
	X509_set_serialNumber(other, sn);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	ck_assert(cmp_build_rr(&h, other, -1, &rr, &e) == 0);
	mac(rr, SECRET, NULL);
	rsp = exchange(rr);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_CERT_ID));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(rr);
	/* the real one: rp accepted, then revoked in the database */
	rr = NULL;
	ck_assert(cmp_build_rr(&h, ip_cert(ip), 1, &rr, &e) == 0);
	mac(rr, SECRET, NULL);
	rsp = exchange(rr);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_RP);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(rsp, 0)),
	    CMP_STATUS_ACCEPTED);
	CMP_PKIMESSAGE_free(rsp);
	{
		char *s = ca_serial_hex(X509_get0_serialNumber(ip_cert(ip)));

		ck_assert_int_eq(ca_db_is_revoked(ca_get0_db(ca), s, &e), 1);
		free(s);
	}
	ASN1_INTEGER_free(sn);
	X509_free(other);
	CMP_PKIMESSAGE_free(rr);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* An ir answered and confirmed implicitly; returns the certificate (up-ref'd). */
static X509 *
enroll(const char *name)
{
	CMP_PKIMESSAGE *ir = make_ir(name, 1, SECRET), *ip = exchange(ir);
	X509 *x = ip_cert(ip);

	X509_up_ref(x);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	return x;
}

/* A kur for NEWKEY naming OLD in oldCertID, signed by SIGNER with SKEY. */
static CMP_PKIMESSAGE *
make_kur(X509 *old, EVP_PKEY *newkey, X509 *signer, EVP_PKEY *skey)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	memset(&h, 0, sizeof(h));
	h.sender = X509_get_subject_name(signer);
	memset(&r, 0, sizeof(r));
	r.key = newkey;
	r.old_cert = old;
	r.subject = X509_get_subject_name(old);
	ck_assert_msg(cmp_build_certreq(&h, CMP_BODY_KUR, &r, &m, &e) == 0, "%s",
	    e.msg);
	ck_assert_msg(cmp_msg_protect_sig(m, skey, signer, NULL, 0, 0, &e) == 0,
	    "%s", e.msg);
	return m;
}

START_TEST(kur_signed_by_the_old_certificate)
{
	X509 *a = enroll("kur-a"), *b = enroll("kur-b");
	EVP_PKEY *nk = EVP_EC_gen("P-256");
	CMP_PKIMESSAGE *kur, *rsp;
	CMP_CERTRESPONSE *r;
	X509 *x;

	/* oldCertID names b, signed by a: badCertId */
	kur = make_kur(b, nk, a, key);
	rsp = exchange(kur);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_CERT_ID));
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(kur);
	/* the right one: kup with a certificate for the new key, old subject */
	kur = make_kur(a, nk, a, key);
	rsp = exchange(kur);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_KUP);
	r = cmp_rep_get0(rsp, 0);
	ck_assert_int_eq(cmp_si_status(cmp_certresp_get0_status(r)),
	    CMP_STATUS_ACCEPTED);
	x = cmp_certresp_get0_cert(r);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), nk), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(a)), 0);
	ck_assert_ptr_null(cmp_rep_get0_capubs(rsp));	/* caPubs: ip only */
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(kur);
	EVP_PKEY_free(nk);
	X509_free(a);
	X509_free(b);
}
END_TEST

START_TEST(kur_with_expired_certificate)
{
	X509 *a;
	CMP_PKIMESSAGE *kur, *rsp;
	char *txt;

	close_server();
	cfg.validity = 1;
	open_server();
	a = enroll("short");
	sleep(2);
	kur = make_kur(a, key, a, key);
	rsp = exchange(kur);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_SIGNER_NOT_TRUSTED));
	txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
	ck_assert_msg(txt != NULL && strstr(txt, "expired") != NULL, "%s",
	    txt != NULL ? txt : "(none)");
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(kur);
	X509_free(a);
}
END_TEST

START_TEST(signed_answers_carry_extra_certs)
{
	char *f = malloc(strlen(dir) + 16);
	X509 *extra = enroll("extra");
	FILE *fp;
	CMP_PKIMESSAGE *ir, *rsp;
	STACK_OF(X509) *ec;

	/* --extra-certs: any PEM certificate will do */
	sprintf(f, "%s/extra.pem", dir);
	fp = fopen(f, "w");
	ck_assert_ptr_nonnull(fp);
	PEM_write_X509(fp, extra);
	fclose(fp);
	close_server();
	cfg.extra_certs = f;
	open_server();
	ir = make_ir("x", 0, "wrong secret");
	rsp = exchange(ir);
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	ec = cmp_msg_get0_extra_certs(rsp);
	ck_assert_int_eq(sk_X509_num(ec), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(ec, 0), ca_get0_signer_cert(ca)), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(ec, 1), extra), 0);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	X509_free(extra);
	close_server();
	cfg.extra_certs = NULL;
	open_server();
	free(f);
}
END_TEST

/* The statusString of the error answering REQ: must name CLAUSE once and carry
 * failInfo BIT. */
static void
refusal_cites_once(const CMP_PKIMESSAGE *req, int bit, const char *clause)
{
	CMP_PKIMESSAGE *rsp = exchange(req);
	char *txt;

	ck_assert(error_failinfo(rsp) & CMP_FAIL(bit));
	txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
	ck_assert_ptr_nonnull(txt);
	ck_assert_msg(strstr(txt, clause) != NULL, "no %s in \"%s\"", clause, txt);
	assert_clauses_once(txt);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
}

/* Issue 12 point 4: "RFC 4210 5.3.18: RFC 4210 5.3.18: certHash does not
 * match". The layer that enforces a rule cites its clause; the CA passes that
 * text on without citing it again. */
START_TEST(refusal_texts_cite_their_clause_once)
{
	CMP_PKIMESSAGE *ir = make_ir("clause", 0, SECRET), *ip, *cc, *kur;
	X509 *a = enroll("clause-kur");
	CMP_CERTREQMSG *crm;
	CMP_POPOSIGNINGKEY *pop;
	ASN1_TYPE *bad;
	X509_NAME *iss = NULL;
	ASN1_INTEGER *ser = NULL;
	struct pk_err e;
	char oid[64];
	int i, n = 0;

	/* certConf with the hash of another certificate */
	ip = exchange(ir);
	cc = make_certconf(ip, ca_get0_cert(ca), CMP_STATUS_ACCEPTED);
	refusal_cites_once(cc, CMP_FAIL_BAD_CERT_ID, "RFC 4210 5.3.18");
	CMP_PKIMESSAGE_free(cc);

	/* kur whose oldCertID control is not a CertId (an INTEGER), with a POP
	 * and a protection that still verify */
	kur = make_kur(a, key, a, key);
	crm = cmp_req_get0(kur, 0);
	for (i = 0; i < sk_CMP_ATAV_num(crm->certReq->controls); i++) {
		CMP_ATAV *at = sk_CMP_ATAV_value(crm->certReq->controls, i);

		OBJ_obj2txt(oid, sizeof(oid), at->type, 1);
		if (strcmp(oid, CMP_OID_OLD_CERT_ID) != 0)
			continue;
		ck_assert_ptr_nonnull(bad = ASN1_TYPE_new());
		ASN1_TYPE_set(bad, V_ASN1_INTEGER, ASN1_INTEGER_new());
		ASN1_TYPE_free(at->value);
		at->value = bad;
		n++;
	}
	ck_assert_int_eq(n, 1);
	crm->certReq->enc.modified = 1;
	pop = crm->popo->value.signature;
	ck_assert_int_gt(ASN1_item_sign(ASN1_ITEM_rptr(CMP_CERTREQUEST), NULL, NULL,
	    pop->signature, crm->certReq, key, EVP_sha256()), 0);
	cmp_msg_touch(kur);
	ck_assert_int_eq(cmp_crm_get1_old_cert_id(crm, &iss, &ser, &e), -1);
	ck_assert_msg(cmp_crm_verify_pop(crm, 0, &e) == 0, "%s", e.msg);
	ck_assert_msg(cmp_msg_protect_sig(kur, key, a, NULL, 0, 0, &e) == 0, "%s",
	    e.msg);
	refusal_cites_once(kur, CMP_FAIL_BAD_REQUEST, "RFC 4211 6.5");

	CMP_PKIMESSAGE_free(kur);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	X509_free(a);
}
END_TEST

START_TEST(unknown_protection_badalg)
{
	CMP_PKIMESSAGE *ir = make_ir("alg", 0, SECRET), *rsp;

	/* a digest OID is no protection algorithm */
	X509_ALGOR_set0(ir->header->protectionAlg, OBJ_nid2obj(NID_sha256),
	    V_ASN1_UNDEF, NULL);
	cmp_msg_touch(ir);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_ALG));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* several threads at once, each its own transactions */
#define NTHREADS	4
#define PER_THREAD	3

struct worker {
	int idx;
	int ok;
	char *serials[PER_THREAD];
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct cmp_hdr h;
		struct cmp_certreq r;
		CMP_PKIMESSAGE *ir = NULL, *ip = NULL;
		unsigned char *der = NULL, *out = NULL;
		size_t len = 0, n = 0;
		struct pk_err e;
		CMP_CERTRESPONSE *cr;

		memset(&h, 0, sizeof(h));
		h.sender_kid = (const unsigned char *)REF;
		h.sender_kid_len = strlen(REF);
		h.implicit_confirm = 1;
		memset(&r, 0, sizeof(r));
		r.subject = X509_get_subject_name(ca_get0_cert(ca));
		r.key = key;
		if (cmp_build_certreq(&h, CMP_BODY_IR, &r, &ir, &e) != 0 ||
		    cmp_msg_protect_pbm(ir, SECRET, strlen(SECRET), NULL, &e) != 0 ||
		    cmp_msg_encode(ir, &der, &len, &e) != 0 ||
		    ca_server_handle(srv, der, len, &out, &n) != 0 ||
		    cmp_msg_decode(out, n, &ip, &e) != 0 ||
		    (cr = cmp_rep_get0(ip, 0)) == NULL ||
		    cmp_certresp_get0_cert(cr) == NULL) {
			CMP_PKIMESSAGE_free(ir);
			CMP_PKIMESSAGE_free(ip);
			OPENSSL_free(der);
			free(out);
			continue;
		}
		w->serials[i] = ca_serial_hex(X509_get0_serialNumber(
		    cmp_certresp_get0_cert(cr)));
		w->ok++;
		CMP_PKIMESSAGE_free(ir);
		CMP_PKIMESSAGE_free(ip);
		OPENSSL_free(der);
		free(out);
	}
	return NULL;
}

START_TEST(parallel_requests)
{
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	int i, j, k, l;
	long n;

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].idx = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(w[i].ok, PER_THREAD);
	/* every serial distinct, every certificate recorded */
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < PER_THREAD; j++)
			for (k = 0; k < NTHREADS; k++)
				for (l = 0; l < PER_THREAD; l++)
					if (i != k || j != l)
						ck_assert_str_ne(w[i].serials[j],
						    w[k].serials[l]);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, NULL), 0);
	ck_assert_int_eq(n, NTHREADS * PER_THREAD);
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < PER_THREAD; j++)
			free(w[i].serials[j]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ca_server");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ir_certconf_pkiconf);
	tcase_add_test(tc, certconf_without_statusinfo_accepts);
	tcase_add_test(tc, certconf_rejection_revokes);
	tcase_add_test(tc, certconf_bad_nonce_hash_and_txn);
	tcase_add_test(tc, transaction_id_in_use);
	tcase_add_test(tc, bad_pop_signature);
	tcase_add_test(tc, wrong_mac_answered_signed);
	tcase_add_test(tc, unprotected_and_missing_nonce);
	tcase_add_test(tc, garbage_answered_signed);
	tcase_add_test(tc, pbm_style_and_pvno3);
	tcase_add_test(tc, genm_values);
	tcase_add_test(tc, polling_then_certificate);
	tcase_add_test(tc, rr_unknown_certificate);
	tcase_add_test(tc, kur_signed_by_the_old_certificate);
	tcase_add_test(tc, kur_with_expired_certificate);
	tcase_add_test(tc, signed_answers_carry_extra_certs);
	tcase_add_test(tc, unknown_protection_badalg);
	tcase_add_test(tc, refusal_texts_cite_their_clause_once);
	tcase_add_test(tc, parallel_requests);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
