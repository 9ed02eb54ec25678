/*
 * Check suite for ca/ca_server.c, in process: the cases the openssl client
 * cannot produce (reused transactionID, a POP signature that does not verify,
 * certConf without statusInfo, wrong recipNonce or certHash, certConf twice,
 * missing senderNonce, garbage, pvno 3), the protection of answers (PBM like the
 * request, signed errors when the request's protection failed), genm values
 * (decoded with cmp/'s readers), polling, revocation reasons with hold and
 * release, and several threads at once; cmpca on the issuing CA of a three-level
 * hierarchy (test/mkpki.sh: signed requests, the response chain, caPubs, an
 * impostor CA and a sibling refused, rootCaKeyUpdate after a root rollover);
 * profiles from a cmpca.conf (secrets and transactions per path, key-type
 * policy); the per-address table of failed authentications (window, lockout,
 * bounded with the oldest evicted) and the server refusing a locked address
 * before any MAC. Every error text checked here cites each RFC clause once. The
 * openssl interop runs in test/t_cmpca_interop.sh and t_cmpca_hierarchy.sh.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../ca/ca_int.h"
#include "testutil.h"
#include "tu_cmp.h"

#define SECRET	"s3cr3t"
#define REF	"lab"
/* the administrator credential: the only MAC that an rr takes */
#define ADMIN_REF	"admin"
#define ADMIN_SECRET	"adm1n-s3cr3t"

static char *dir, *cadir, *admin_file;
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
	cfg.def.secret = SECRET;
	cfg.def.ref = REF;
	admin_file = malloc(n + 16);
	snprintf(admin_file, n + 16, "%s/admin.secret", dir);
	ck_assert_int_eq(tu_sh("printf '%%s\\n' '%s' >'%s'", ADMIN_SECRET,
	    admin_file), 0);
	cfg.def.admin_ref = ADMIN_REF;
	cfg.def.admin_secret_file = admin_file;
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
	free(admin_file);
}

/* DER round trip through the HTTP handler. */
static CMP_PKIMESSAGE *
exchange_der(const unsigned char *der, size_t len)
{
	CMP_PKIMESSAGE *rsp = NULL;
	unsigned char *out = NULL;
	size_t n = 0;
	struct pk_err e;

	ck_assert_int_eq(ca_server_handle(srv, &(struct ca_req){ NULL, NULL, der,
	    len }, &out, &n), 0);
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
	/* RFC 4210 7: a supported version is answered in kind */
	ck_assert_int_eq(cmp_msg_pvno(ip), 3);
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

/* A genm with ITAVS (taken), MAC'd with the default secret, sent to PATH (NULL:
 * the default profile); returns the genp. */
static CMP_PKIMESSAGE *
genm_exchange(STACK_OF(CMP_ITAV) *in, int pvno)
{
	CMP_PKIMESSAGE *genm = NULL, *genp;
	struct cmp_hdr h;
	struct pk_err e;

	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.pvno = pvno;
	ck_assert(cmp_build_genm(&h, in, &genm, &e) == 0);
	mac(genm, SECRET, NULL);
	genp = exchange(genm);
	ck_assert_msg(cmp_msg_body_type(genp) == CMP_BODY_GENP, "body %s",
	    cmp_body_name(cmp_msg_body_type(genp)));
	CMP_PKIMESSAGE_free(genm);
	sk_CMP_ITAV_pop_free(in, CMP_ITAV_free);
	return genp;
}

static STACK_OF(CMP_ITAV) *
itavs(const char *oid, ...)
{
	STACK_OF(CMP_ITAV) *sk = sk_CMP_ITAV_new_null();
	va_list ap;

	va_start(ap, oid);
	for (; oid != NULL; oid = va_arg(ap, const char *))
		sk_CMP_ITAV_push(sk, cmp_itav_new_oid(oid, NULL));
	va_end(ap);
	return sk;
}

START_TEST(genm_values)
{
	CMP_PKIMESSAGE *genp;
	STACK_OF(CMP_ITAV) *out;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_ALGOR) *algs = NULL;
	CMP_CERTREQTEMPLATE *t = NULL;
	CMP_ROOTCAKEYUPDATE *u = NULL;
	X509_ALGOR *a;
	struct pk_err e;
	long bits;
	int i, n_alg = 0, n_rsa = 0;

	genp = genm_exchange(itavs(CMP_OID_IT_CA_CERTS, "1.2.3.4.5",
	    CMP_OID_IT_SIGN_KEY_PAIR_TYPES, CMP_OID_IT_CERT_REQ_TEMPLATE,
	    CMP_OID_IT_ROOT_CA_CERT, NULL), 2);
	/* RFC 9480 2.20: no cmp2021 syntax here, the request's version */
	ck_assert_int_eq(cmp_msg_pvno(genp), 2);
	out = cmp_msg_get0_itavs(genp);
	/* RFC 4210 5.3.19: the unknown infoType is left out */
	ck_assert_int_eq(sk_CMP_ITAV_num(out), 4);
	/* caCerts: the (self-signed) CA certificate */
	ck_assert(cmp_itav_is(sk_CMP_ITAV_value(out, 0), CMP_OID_IT_CA_CERTS));
	ck_assert_msg(cmp_itav_get1_certs(sk_CMP_ITAV_value(out, 0), &certs, &e) ==
	    0, "%s", e.msg);
	ck_assert_int_eq(sk_X509_num(certs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), ca_get0_cert(ca)), 0);
	/* signKeyPairTypes: rsaEncryption once, three curves, EdDSA */
	ck_assert(cmp_itav_is(sk_CMP_ITAV_value(out, 1),
	    CMP_OID_IT_SIGN_KEY_PAIR_TYPES));
	ck_assert(cmp_itav_get1_algs(sk_CMP_ITAV_value(out, 1), &algs, &e) == 0);
	ck_assert_int_eq(sk_X509_ALGOR_num(algs), 6);
	ck_assert_int_eq(OBJ_obj2nid(sk_X509_ALGOR_value(algs, 0)->algorithm),
	    NID_rsaEncryption);
	ck_assert_int_eq(OBJ_obj2nid(sk_X509_ALGOR_value(algs, 1)->algorithm),
	    NID_X9_62_id_ecPublicKey);
	ck_assert_int_eq(OBJ_obj2nid(sk_X509_ALGOR_value(algs, 5)->algorithm),
	    NID_ED448);
	/* certReqTemplate: an empty template, a keySpec control per key type */
	ck_assert(cmp_itav_is(sk_CMP_ITAV_value(out, 2),
	    CMP_OID_IT_CERT_REQ_TEMPLATE));
	ck_assert_msg(cmp_itav_get1_cert_req_template(sk_CMP_ITAV_value(out, 2),
	    &t, &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(t->certTemplate->publicKey);	/* RFC 9480 2.16 */
	ck_assert_int_eq(sk_CMP_ATAV_num(t->keySpec), 6);
	for (i = 0; i < sk_CMP_ATAV_num(t->keySpec); i++) {
		ck_assert(cmp_atav_keyspec(sk_CMP_ATAV_value(t->keySpec, i), &a,
		    &bits, &e) == 0);
		if (a != NULL)
			n_alg++;
		else if (bits == 2048)
			n_rsa++;
		X509_ALGOR_free(a);
	}
	ck_assert_int_eq(n_alg, 5);
	ck_assert_int_eq(n_rsa, 1);
	/* rootCaKeyUpdate: no rollover, no value (RFC 9483 4.3.2) */
	ck_assert(cmp_itav_is(sk_CMP_ITAV_value(out, 3),
	    CMP_OID_IT_ROOT_CA_KEY_UPDATE));
	ck_assert(cmp_itav_get1_root_ca_key_update(sk_CMP_ITAV_value(out, 3), &u,
	    &e) == 0);
	ck_assert_ptr_null(u);
	CMP_CERTREQTEMPLATE_free(t);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	sk_X509_pop_free(certs, X509_free);
	CMP_PKIMESSAGE_free(genp);
	/* a genm without infoTypes: an empty genp; pvno 3 answered in kind */
	genp = genm_exchange(NULL, 3);
	ck_assert_int_eq(sk_CMP_ITAV_num(cmp_msg_get0_itavs(genp)), 0);
	ck_assert_int_eq(cmp_msg_pvno(genp), 3);
	CMP_PKIMESSAGE_free(genp);
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
	cfg.def.poll = 2;
	cfg.def.check_after = 3;
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

static X509 *enroll(const char *name);
static CMP_PKIMESSAGE *make_signed(int type, const char *name, X509 *signer,
    EVP_PKEY *skey, STACK_OF(X509) *chain);

/* An rr for CERT with REASON (-1: none), MAC'd with REF / SECRET: the
 * answer. */
static CMP_PKIMESSAGE *
rr_mac_as(X509 *cert, int reason, const char *ref, const char *secret)
{
	CMP_PKIMESSAGE *rr = NULL, *rsp;
	struct cmp_hdr h;
	struct pk_err e;

	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)ref;
	h.sender_kid_len = strlen(ref);
	/* our builder refuses 7: write it into crlEntryDetails by hand */
	ck_assert(cmp_build_rr(&h, cert, reason == 7 ? -1 : reason, &rr, &e) == 0);
	if (reason == 7) {
		CMP_REVDETAILS *d = sk_CMP_REVDETAILS_value(rr->body->value.rr, 0);
		ASN1_ENUMERATED *en = ASN1_ENUMERATED_new();

		ASN1_ENUMERATED_set(en, 7);
		ck_assert_int_eq(X509V3_add1_i2d(&d->crlEntryDetails, NID_crl_reason,
		    en, 0, X509V3_ADD_REPLACE), 1);
		ASN1_ENUMERATED_free(en);
		cmp_msg_touch(rr);
	}
	mac(rr, secret, NULL);
	rsp = exchange(rr);
	CMP_PKIMESSAGE_free(rr);
	return rsp;
}

/* The same with the administrator credential. */
static CMP_PKIMESSAGE *
rr_mac(X509 *cert, int reason)
{
	return rr_mac_as(cert, reason, ADMIN_REF, ADMIN_SECRET);
}

static int
rr_accepted(X509 *cert, int reason)
{
	CMP_PKIMESSAGE *rsp = rr_mac(cert, reason);
	int ok = cmp_msg_body_type(rsp) == CMP_BODY_RP &&
	    cmp_si_status(cmp_msg_get0_status(rsp, 0)) == CMP_STATUS_ACCEPTED;

	CMP_PKIMESSAGE_free(rsp);
	return ok;
}

/* Every CRLReason revokes; certificateHold suspends until removeFromCRL; a
 * held certificate is no credential; 7 and removeFromCRL of a certificate not
 * on hold are refused. */
START_TEST(rr_reasons_hold_and_release)
{
	static const int reasons[] = { -1, 0, 1, 2, 3, 4, 5, 9, 10 };
	CMP_PKIMESSAGE *rsp, *cr;
	X509 *x, *held = enroll("held");
	char *txt, *hex;
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(*reasons); i++) {
		x = enroll("reason");
		ck_assert_msg(rr_accepted(x, reasons[i]), "reason %d", reasons[i]);
		hex = ca_serial_hex(X509_get0_serialNumber(x));
		ck_assert_int_eq(ca_db_is_revoked(ca_get0_db(ca), hex, NULL), 1);
		free(hex);
		/* final: not even removeFromCRL undoes it */
		rsp = rr_mac(x, CA_CRL_REMOVE);
		ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
		CMP_PKIMESSAGE_free(rsp);
		X509_free(x);
	}
	/* 7 is not a CRLReason; removeFromCRL of a valid certificate */
	rsp = rr_mac(held, 7);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
	CMP_PKIMESSAGE_free(rsp);
	rsp = rr_mac(held, CA_CRL_REMOVE);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
	txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
	ck_assert_msg(strstr(txt, "not revoked") != NULL, "%s", txt);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	/* hold: the certificate signs nothing while held */
	ck_assert(rr_accepted(held, CA_CRL_HOLD));
	rsp = rr_mac(held, CA_CRL_HOLD);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_CERT_REVOKED));
	CMP_PKIMESSAGE_free(rsp);
	cr = make_signed(CMP_BODY_CR, "held", held, key, NULL);
	rsp = exchange(cr);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_CERT_REVOKED));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	/* released: valid again */
	ck_assert(rr_accepted(held, CA_CRL_REMOVE));
	cr = make_signed(CMP_BODY_CR, "held", held, key, NULL);
	rsp = exchange(cr);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_CP);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	/* hold, then a reason: final */
	ck_assert(rr_accepted(held, CA_CRL_HOLD));
	ck_assert(rr_accepted(held, 1));
	ck_assert(!rr_accepted(held, CA_CRL_REMOVE));
	X509_free(held);
}
END_TEST

static char *error_text(const CMP_PKIMESSAGE *rsp);
static CMP_PKIMESSAGE *make_ir_ref(const char *ref, const char *secret,
    EVP_PKEY *k);

/* Issue 11: the enrolment secret is handed to every device for its ir; a
 * MAC-protected rr with it revoked any certificate. Only the administrator
 * credential (admin-ref) revokes by MAC; the shared secret revokes nothing,
 * and the administrator credential enrols nothing. */
START_TEST(rr_by_shared_secret_refused)
{
	X509 *victim = enroll("victim");
	CMP_PKIMESSAGE *rsp, *ir;
	char *hex = ca_serial_hex(X509_get0_serialNumber(victim)), *txt;
	struct pk_err e;

	rsp = rr_mac_as(victim, 1, REF, SECRET);
	ck_assert_msg(cmp_msg_body_type(rsp) == CMP_BODY_ERROR, "body %s",
	    cmp_body_name(cmp_msg_body_type(rsp)));
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_NOT_AUTHORIZED));
	txt = error_text(rsp);
	ck_assert_msg(strstr(txt, "admin-ref") != NULL, "%s", txt);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	ck_assert_int_eq(ca_db_is_revoked(ca_get0_db(ca), hex, NULL), 0);
	/* the administrator's secret on an ir: not a known reference */
	ir = make_ir_ref(ADMIN_REF, ADMIN_SECRET, key);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	/* the administrator revokes; the answer is MAC'd with its secret */
	rsp = rr_mac(victim, 1);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_RP);
	ck_assert_msg(cmp_msg_verify_pbm(rsp, ADMIN_SECRET,
	    strlen(ADMIN_SECRET), NULL, &e) == 0, "%s", e.msg);
	CMP_PKIMESSAGE_free(rsp);
	ck_assert_int_eq(ca_db_is_revoked(ca_get0_db(ca), hex, NULL), 1);
	free(hex);
	X509_free(victim);
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
	h.sender_kid = (const unsigned char *)ADMIN_REF;
	h.sender_kid_len = strlen(ADMIN_REF);
	ck_assert(cmp_build_rr(&h, other, -1, &rr, &e) == 0);
	mac(rr, ADMIN_SECRET, NULL);
	rsp = exchange(rr);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_CERT_ID));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(rr);
	/* the real one: rp accepted, then revoked in the database */
	rr = NULL;
	ck_assert(cmp_build_rr(&h, ip_cert(ip), 1, &rr, &e) == 0);
	mac(rr, ADMIN_SECRET, NULL);
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
	cfg.def.validity = 1;
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
		X509_NAME *subj = X509_NAME_new();
		char cn[32];

		snprintf(cn, sizeof(cn), "par-%d-%d", w->idx, i);
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
		    (const unsigned char *)cn, -1, -1, 0);
		memset(&h, 0, sizeof(h));
		h.sender_kid = (const unsigned char *)REF;
		h.sender_kid_len = strlen(REF);
		h.implicit_confirm = 1;
		memset(&r, 0, sizeof(r));
		/* (the CA's own subject, until issue 11 refused it) */
		r.subject = subj;
		r.key = key;
		if (cmp_build_certreq(&h, CMP_BODY_IR, &r, &ir, &e) != 0 ||
		    cmp_msg_protect_pbm(ir, SECRET, strlen(SECRET), NULL, &e) != 0 ||
		    cmp_msg_encode(ir, &der, &len, &e) != 0 ||
		    ca_server_handle(srv, &(struct ca_req){ NULL, NULL, der,
		    len }, &out, &n) != 0 ||
		    cmp_msg_decode(out, n, &ip, &e) != 0 ||
		    (cr = cmp_rep_get0(ip, 0)) == NULL ||
		    cmp_certresp_get0_cert(cr) == NULL) {
			X509_NAME_free(subj);
			CMP_PKIMESSAGE_free(ir);
			CMP_PKIMESSAGE_free(ip);
			OPENSSL_free(der);
			free(out);
			continue;
		}
		w->serials[i] = ca_serial_hex(X509_get0_serialNumber(
		    cmp_certresp_get0_cert(cr)));
		w->ok++;
		X509_NAME_free(subj);
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

/* ------------------------------------------------------------ trust ---- */
/*
 * Issue 11: the attacker's cases, each written before its rule and seen to
 * fail on the code without it.
 */

/* The error text of RSP (new string; "" when none). */
static char *
error_text(const CMP_PKIMESSAGE *rsp)
{
	char *t = cmp_si_text(cmp_msg_get0_status(rsp, 0));

	return t != NULL ? t : xstrdup("");
}

/* RFC 6712 3.3: BER is refused on the protocol path (the outer length in long
 * form, one byte more than needed: outside the protected part, so the MAC
 * still verifies). */
START_TEST(ber_request_refused)
{
	CMP_PKIMESSAGE *ir = make_ir("ber", 1, SECRET), *rsp;
	unsigned char *der = NULL, *ber;
	size_t len = 0, hl, body;
	struct pk_err e;
	char *txt;
	long n;

	ck_assert(cmp_msg_encode(ir, &der, &len, &e) == 0);
	ck_assert_int_eq(der[0], 0x30);
	ck_assert_int_eq(der[1], 0x82);		/* 256..65535 bytes */
	hl = 4;
	body = len - hl;
	ber = malloc(len + 1);
	ber[0] = 0x30;
	ber[1] = 0x83;				/* three length bytes: not minimal */
	ber[2] = 0;
	ber[3] = (unsigned char)(body >> 8);
	ber[4] = (unsigned char)body;
	memcpy(ber + 5, der + hl, body);
	rsp = exchange_der(ber, len + 1);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_DATA_FORMAT));
	txt = error_text(rsp);
	ck_assert_msg(strstr(txt, "RFC 6712 3.3") != NULL && strstr(txt, "DER") !=
	    NULL, "%s", txt);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, NULL), 0);
	ck_assert_int_eq(n, 0);
	free(txt);
	free(ber);
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* PBM verification is capped at 10,000 iterations (one failed check costs a
 * tenth of what the client's cap of 100,000 would); 10,000 passes. */
START_TEST(pbm_iterations_capped)
{
	CMP_PKIMESSAGE *ir = make_ir("iter", 1, NULL), *rsp;
	char *txt;
	long n;

	ck_assert_int_eq(tu_pbm_protect(ir, SECRET, 10001, 16), 0);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	txt = error_text(rsp);
	ck_assert_msg(strstr(txt, "10001") != NULL && strstr(txt, "10000") != NULL,
	    "%s", txt);
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, NULL), 0);
	ck_assert_int_eq(n, 0);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir("iter2", 1, NULL);
	ck_assert_int_eq(tu_pbm_protect(ir, SECRET, 10000, 16), 0);
	rsp = exchange(ir);
	(void)ip_cert(rsp);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* An ir for KEY (the test's key when NULL) with SUBJ (NULL: none), a DNS SAN
 * (NULL: none) and extensions EXTS, MAC'd. */
static CMP_PKIMESSAGE *
make_ir_x(const char *subj, const char *dns, EVP_PKEY *k,
    const STACK_OF(X509_EXTENSION) *exts)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	X509_NAME *n = NULL;
	GENERAL_NAMES *san = NULL;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	if (subj != NULL) {
		n = X509_NAME_new();
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		    (const unsigned char *)subj, -1, -1, 0);
	}
	if (dns != NULL) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *v = ASN1_IA5STRING_new();

		ASN1_STRING_set(v, dns, -1);
		GENERAL_NAME_set0_value(g, GEN_DNS, v);
		san = sk_GENERAL_NAME_new_null();
		sk_GENERAL_NAME_push(san, g);
	}
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.implicit_confirm = 1;
	memset(&r, 0, sizeof(r));
	r.subject = n;
	r.san = san;
	r.exts = exts;
	r.key = k != NULL ? k : key;
	ck_assert_msg(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e) == 0, "%s",
	    e.msg);
	mac(m, SECRET, NULL);
	X509_NAME_free(n);
	GENERAL_NAMES_free(san);
	return m;
}

/* The certificate of an ip/cp/kup, or a failed check with the error's text. */
static X509 *
got_cert(const CMP_PKIMESSAGE *rsp)
{
	CMP_CERTRESPONSE *r;
	char *txt;

	if (cmp_msg_body_type(rsp) == CMP_BODY_ERROR) {
		txt = error_text(rsp);
		ck_abort_msg("error: %s", txt);
	}
	r = cmp_rep_get0(rsp, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(cmp_certresp_get0_cert(r));
	return cmp_certresp_get0_cert(r);
}

/* RSP is an error with failInfo BIT whose text holds every one of the
 * NULL-terminated strings. */
static void
assert_refused(const CMP_PKIMESSAGE *rsp, int bit, ...)
{
	va_list ap;
	const char *want;
	char *txt;

	ck_assert_msg(cmp_msg_body_type(rsp) == CMP_BODY_ERROR, "body %s",
	    cmp_body_name(cmp_msg_body_type(rsp)));
	ck_assert_msg(error_failinfo(rsp) & CMP_FAIL(bit), "failInfo %x",
	    error_failinfo(rsp));
	txt = error_text(rsp);
	va_start(ap, bit);
	while ((want = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(txt, want) != NULL, "no \"%s\" in \"%s\"",
		    want, txt);
	va_end(ap);
	free(txt);
}

/* A certificate enrolled by MAC for CN=NAME with DNS SAN (may be NULL). */
static X509 *
enroll_san(const char *name, const char *dns)
{
	CMP_PKIMESSAGE *ir = make_ir_x(name, dns, NULL, NULL), *ip = exchange(ir);
	X509 *x = got_cert(ip);

	X509_up_ref(x);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	return x;
}

static int
subject_is(X509 *x, const char *cn)
{
	char buf[256];

	pk_name_text(X509_get_subject_name(x), buf, sizeof(buf));
	return strcmp(buf, cn) == 0;
}

/* The DNS SAN of X ("" when none). */
static const char *
dns_of(X509 *x, char *buf, size_t n)
{
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i;

	buf[0] = '\0';
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

		if (g->type == GEN_DNS)
			snprintf(buf, n, "%s", (const char *)ASN1_STRING_get0_data(
			    g->d.dNSName));
	}
	GENERAL_NAMES_free(san);
	return buf;
}

/* Issue 11: any holder of a certificate got certificates for any subject
 * through cr, kur or p10cr. A signed request is for its signer's identity:
 * another subject or SAN is refused (badCertTemplate, naming the rule); the
 * same, or none, gets the signer's subject and SAN. */
START_TEST(signed_cr_gets_the_signers_identity)
{
	X509 *a = enroll_san("dev-a", "a.example.net"), *x;
	CMP_PKIMESSAGE *cr, *rsp;
	char buf[128];
	long n0, n1;

	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n0, NULL), 0);
	/* another subject: refused, nothing issued */
	cr = make_signed(CMP_BODY_CR, "victim", a, key, NULL);
	rsp = exchange(cr);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "CN=victim", "CN=dev-a",
	    "allow-subject-change", NULL);
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n1, NULL), 0);
	ck_assert_int_eq(n1, n0);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	/* its own subject without a SAN: the signer's SAN comes along */
	cr = make_signed(CMP_BODY_CR, "dev-a", a, key, NULL);
	rsp = exchange(cr);
	x = got_cert(rsp);
	ck_assert(subject_is(x, "CN=dev-a"));
	ck_assert_str_eq(dns_of(x, buf, sizeof(buf)), "a.example.net");
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	X509_free(a);
}
END_TEST

/* A kur renews the certificate that signs it: a template with another
 * subject is refused (it used to be taken whenever it was not empty). */
START_TEST(kur_keeps_the_old_identity)
{
	X509 *a = enroll_san("kur-own", "own.example.net"), *x;
	EVP_PKEY *nk = EVP_EC_gen("P-256");
	CMP_PKIMESSAGE *kur, *rsp;
	CMP_CERTTEMPLATE *t;
	struct pk_err e;
	char buf[128];

	kur = make_kur(a, nk, a, key);
	t = cmp_crm_get0_template(cmp_req_get0(kur, 0));
	X509_NAME_free(t->subject);
	t->subject = X509_NAME_new();
	X509_NAME_add_entry_by_txt(t->subject, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"someone-else", -1, -1, 0);
	cmp_req_get0(kur, 0)->certReq->enc.modified = 1;
	ck_assert_int_gt(ASN1_item_sign(ASN1_ITEM_rptr(CMP_CERTREQUEST), NULL, NULL,
	    cmp_req_get0(kur, 0)->popo->value.signature->signature,
	    cmp_req_get0(kur, 0)->certReq, nk, EVP_sha256()), 0);
	cmp_msg_touch(kur);
	ck_assert(cmp_msg_protect_sig(kur, key, a, NULL, 0, 0, &e) == 0);
	rsp = exchange(kur);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "CN=someone-else",
	    "CN=kur-own", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(kur);
	/* the old subject: a kup, the old SAN carried over */
	kur = make_kur(a, nk, a, key);
	rsp = exchange(kur);
	x = got_cert(rsp);
	ck_assert(subject_is(x, "CN=kur-own"));
	ck_assert_str_eq(dns_of(x, buf, sizeof(buf)), "own.example.net");
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(kur);
	EVP_PKEY_free(nk);
	X509_free(a);
}
END_TEST

/* A p10cr signed by a certificate: the CSR's subject must be the signer's. */
START_TEST(signed_p10cr_gets_the_signers_identity)
{
	X509 *a = enroll_san("p10-a", NULL);
	X509_REQ *csr = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	CMP_PKIMESSAGE *m = NULL, *rsp;
	struct cmp_hdr h;
	struct pk_err e;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"p10-victim", -1, -1, 0);
	X509_REQ_set_subject_name(csr, n);
	X509_REQ_set_pubkey(csr, key);
	ck_assert_int_gt(X509_REQ_sign(csr, key, EVP_sha256()), 0);
	memset(&h, 0, sizeof(h));
	h.sender = X509_get_subject_name(a);
	ck_assert(cmp_build_p10cr(&h, csr, &m, &e) == 0);
	ck_assert(cmp_msg_protect_sig(m, key, a, NULL, 0, 0, &e) == 0);
	rsp = exchange(m);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "CN=p10-victim",
	    "CN=p10-a", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	X509_NAME_free(n);
	X509_REQ_free(csr);
	X509_free(a);
}
END_TEST

/* With allow-subject-change the template's subject is taken; the CA's own
 * name never is, whoever asks (MAC or signature). */
START_TEST(allow_subject_change_but_never_the_cas_name)
{
	X509 *a, *x;
	CMP_PKIMESSAGE *cr, *rsp, *ir;
	X509_NAME *own = X509_NAME_dup(X509_get_subject_name(ca_get0_cert(ca)));
	struct cmp_hdr h;
	struct cmp_certreq r;
	struct pk_err e;

	close_server();
	cfg.def.allow_subject_change = 1;
	open_server();
	a = enroll_san("chg-a", NULL);
	cr = make_signed(CMP_BODY_CR, "chg-b", a, key, NULL);
	rsp = exchange(cr);
	x = got_cert(rsp);
	ck_assert(subject_is(x, "CN=chg-b"));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	/* the CA's name by MAC */
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	memset(&r, 0, sizeof(r));
	r.subject = own;
	r.key = key;
	ck_assert(cmp_build_certreq(&h, CMP_BODY_IR, &r, &ir, &e) == 0);
	mac(ir, SECRET, NULL);
	rsp = exchange(ir);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "O=pkish, CN=cmpca CA",
	    "RFC 5280 4.1.2.6", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	/* ... and by signature */
	memset(&h, 0, sizeof(h));
	h.sender = X509_get_subject_name(a);
	ck_assert(cmp_build_certreq(&h, CMP_BODY_CR, &r, &cr, &e) == 0);
	ck_assert(cmp_msg_protect_sig(cr, key, a, NULL, 0, 0, &e) == 0);
	rsp = exchange(cr);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "RFC 5280 4.1.2.6", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	X509_NAME_free(own);
	X509_free(a);
}
END_TEST

/* Never basicConstraints cA TRUE: a template asking for it is refused (it
 * used to be ignored silently). */
START_TEST(template_asking_ca_true_refused)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, NULL,
	    NID_basic_constraints, "critical,CA:TRUE");
	CMP_PKIMESSAGE *ir, *rsp;
	long n;

	sk_X509_EXTENSION_push(exts, bc);
	ir = make_ir_x("wants-ca", NULL, NULL, exts);
	rsp = exchange(ir);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "RFC 5280 4.2.1.9",
	    "cA TRUE", NULL);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, NULL), 0);
	ck_assert_int_eq(n, 0);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
END_TEST

/* Never a key below RSA 2048 or EC P-256, whatever a profile lists (the
 * configuration refuses rsa:1024 too, see check_ca_config). */
START_TEST(weak_keys_refused)
{
	EVP_PKEY *r1024 = EVP_RSA_gen(1024);
	EVP_PKEY *p224 = EVP_EC_gen("P-224");
	CMP_PKIMESSAGE *ir, *rsp;

	close_server();
	cfg.def.key_types[0].type = EVP_PKEY_RSA;	/* as rsa:1024 was */
	cfg.def.key_types[0].param = 1024;
	cfg.def.key_types[1].type = EVP_PKEY_EC;
	cfg.def.key_types[1].param = NID_secp224r1;
	open_server();
	ir = make_ir_x("rsa1024", NULL, r1024, NULL);
	rsp = exchange(ir);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "RSA", "1024", "2048",
	    NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir_x("p224", NULL, p224, NULL);
	rsp = exchange(ir);
	assert_refused(rsp, CMP_FAIL_BAD_CERT_TEMPLATE, "P-256", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	EVP_PKEY_free(r1024);
	EVP_PKEY_free(p224);
}
END_TEST

/* Protects M with SIGNER / SKEY (senderKID is the signer's key identifier). */
static void
sign_as(CMP_PKIMESSAGE *m, X509 *signer, EVP_PKEY *skey)
{
	struct pk_err e;

	ck_assert_msg(cmp_msg_protect_sig(m, skey, signer, NULL, 0, 0, &e) == 0,
	    "%s", e.msg);
}

/* A follow-up header answering RSP without the MAC reference (signed). */
static void
follow_hdr_signed(struct cmp_hdr *h, const CMP_PKIMESSAGE *rsp, X509 *signer)
{
	follow_hdr(h, rsp);
	h->sender_kid = NULL;
	h->sender_kid_len = 0;
	h->sender = X509_get_subject_name(signer);
}

static int
is_revoked(X509 *x)
{
	char *hex = ca_serial_hex(X509_get0_serialNumber(x));
	int r = ca_db_is_revoked(ca_get0_db(ca), hex, NULL);

	free(hex);
	return r;
}

/* Issue 11: anyone with a valid credential who saw the transactionID revoked
 * another device's fresh certificate (a rejecting certConf, an error message)
 * or polled it. Every later message must come from the identity that opened
 * the transaction; otherwise it is refused and the transaction untouched. */
START_TEST(followups_from_another_identity_refused)
{
	X509 *mallory = enroll_san("mallory", NULL), *victim;
	CMP_PKIMESSAGE *ir = make_ir("victim", 0, SECRET), *ip, *m = NULL, *rsp;
	struct cmp_hdr h;
	struct pk_err e;
	char *st;

	ip = exchange(ir);
	victim = got_cert(ip);
	/* a rejecting certConf signed by another certificate of this CA */
	follow_hdr_signed(&h, ip, mallory);
	ck_assert(cmp_build_certconf(&h, victim, 0, CMP_STATUS_REJECTION, 0,
	    "not mine", &m, &e) == 0);
	sign_as(m, mallory, key);
	rsp = exchange(m);
	assert_refused(rsp, CMP_FAIL_NOT_AUTHORIZED, "RFC 4210 5.1.1",
	    "MAC reference \"lab\"", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	/* an error message from it */
	ck_assert(cmp_build_error(&h, NULL, CMP_STATUS_REJECTION, 0, "stop", -1,
	    NULL, &m, &e) == 0);
	sign_as(m, mallory, key);
	rsp = exchange(m);
	assert_refused(rsp, CMP_FAIL_NOT_AUTHORIZED, "RFC 4210 5.1.1", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "issued");
	free(st);
	ck_assert_int_eq(is_revoked(victim), 0);
	/* the owner's error with a recipNonce that is not our last senderNonce:
	 * refused too (RFC 4210 5.1.1), nothing touched */
	follow_hdr(&h, ip);
	h.recip_nonce = (const unsigned char *)"0123456789abcdef";
	ck_assert(cmp_build_error(&h, NULL, CMP_STATUS_REJECTION, 0, "stop", -1,
	    NULL, &m, &e) == 0);
	mac(m, SECRET, NULL);
	rsp = exchange(m);
	assert_refused(rsp, CMP_FAIL_BAD_RECIPIENT_NONCE, "recipNonce", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	ck_assert_int_eq(is_revoked(victim), 0);
	/* the owner's certConf: accepted */
	m = make_certconf(ip, victim, CMP_STATUS_ACCEPTED);
	rsp = exchange(m);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_PKICONF);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "confirmed");
	free(st);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	X509_free(mallory);
}
END_TEST

/* The same for polling: another identity's pollReq gets nothing; a signed
 * transaction's certConf by MAC is refused as well. */
START_TEST(poll_from_another_identity_refused)
{
	X509 *a, *mallory;
	CMP_PKIMESSAGE *cr, *rsp, *pr = NULL, *m = NULL;
	struct cmp_hdr h;
	struct pk_err e;
	char *st;

	a = enroll_san("poll-a", NULL);
	mallory = enroll_san("poll-m", NULL);
	close_server();
	cfg.def.poll = 1;
	open_server();
	cr = make_signed(CMP_BODY_CR, "poll-a", a, key, NULL);
	rsp = exchange(cr);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_CP);
	ck_assert_int_eq(cmp_si_status(cmp_certresp_get0_status(cmp_rep_get0(rsp,
	    0))), CMP_STATUS_WAITING);
	/* mallory polls a's transaction */
	follow_hdr_signed(&h, rsp, mallory);
	ck_assert(cmp_build_pollreq(&h, 0, &pr, &e) == 0);
	sign_as(pr, mallory, key);
	m = exchange(pr);
	assert_refused(m, CMP_FAIL_NOT_AUTHORIZED, "CN=poll-m", NULL);
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(pr);
	/* the shared secret's holder polls it */
	follow_hdr(&h, rsp);
	ck_assert(cmp_build_pollreq(&h, 0, &pr, &e) == 0);
	mac(pr, SECRET, NULL);
	m = exchange(pr);
	assert_refused(m, CMP_FAIL_NOT_AUTHORIZED, "MAC reference \"lab\"", NULL);
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(pr);
	st = txn_state_of(cr);
	ck_assert_str_eq(st, "polling");
	free(st);
	/* a itself: the certificate */
	follow_hdr_signed(&h, rsp, a);
	ck_assert(cmp_build_pollreq(&h, 0, &pr, &e) == 0);
	sign_as(pr, a, key);
	m = exchange(pr);
	(void)got_cert(m);
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(pr);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	X509_free(a);
	X509_free(mallory);
}
END_TEST

/* Issue 11: an unauthenticated PBM request must not buy a MAC computation
 * with what is cheap to check: a pollReq, certConf or error naming no
 * transaction is refused before its MAC is verified (a wrong secret gets "no
 * transaction", not badMessageCheck, and the answer is signed). */
START_TEST(followup_without_transaction_costs_no_mac)
{
	static const unsigned char tid[16] = "no-such-txn-000";
	static const unsigned char rn[16] = "0123456789abcdef";
	struct cmp_pbm_opts o = { NID_sha256, NID_hmacWithSHA256, 10000, 16 };
	CMP_PKIMESSAGE *m = NULL, *rsp;
	X509 *x = enroll_san("nomac", NULL);
	struct cmp_hdr h;
	struct pk_err e;
	int i;

	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.transaction_id = tid;
	h.transaction_id_len = sizeof(tid);
	h.recip_nonce = rn;
	h.recip_nonce_len = sizeof(rn);
	for (i = 0; i < 3; i++) {
		if (i == 0)
			ck_assert(cmp_build_pollreq(&h, 0, &m, &e) == 0);
		else if (i == 1)
			ck_assert(cmp_build_certconf(&h, x, 0,
			    CMP_STATUS_ACCEPTED, 0, NULL, &m, &e) == 0);
		else
			ck_assert(cmp_build_error(&h, NULL, CMP_STATUS_REJECTION,
			    0, "stop", -1, NULL, &m, &e) == 0);
		mac(m, "wrong", &o);
		rsp = exchange(m);
		assert_refused(rsp, CMP_FAIL_BAD_REQUEST, "no transaction", NULL);
		ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
		CMP_PKIMESSAGE_free(rsp);
		CMP_PKIMESSAGE_free(m);
		m = NULL;
	}
	X509_free(x);
}
END_TEST

/* The transaction of M: 0 found (*t filled), 1 gone. */
static int
txn_of(const CMP_PKIMESSAGE *m, struct ca_txn *t)
{
	const ASN1_OCTET_STRING *tid = cmp_msg_get0_transaction_id(m);
	char *hex = pk_hex(ASN1_STRING_get0_data(tid), ASN1_STRING_length(tid), 0);
	struct pk_err e;
	int r = ca_db_txn_get(ca_get0_db(ca), hex, t, &e);

	free(hex);
	ck_assert_int_ge(r, 0);
	return r;
}

/* Issue 11: an issued but never confirmed certificate stayed valid forever
 * and every transaction kept its request DER forever. RFC 4210 5.1.1.2 /
 * 5.3.18: after confirm-wait (default 300 s) it is revoked and the
 * transaction expired; finished transactions lose their request after that
 * wait and are deleted after the retention time. */
START_TEST(unconfirmed_revoked_and_transactions_pruned)
{
	CMP_PKIMESSAGE *ira = make_ir("unconfirmed", 0, SECRET), *ipa;
	CMP_PKIMESSAGE *irb = make_ir("confirmed", 0, SECRET), *ipb, *m, *rsp;
	X509 *a, *b;
	struct ca_txn t;
	struct pk_err e;
	long rev = -1, pruned = -1;
	int64_t now = (int64_t)time(NULL);
	char *st;

	ck_assert_int_eq(cfg.confirm_wait, 300);
	ipa = exchange(ira);
	a = got_cert(ipa);
	ipb = exchange(irb);
	b = got_cert(ipb);
	m = make_certconf(ipb, b, CMP_STATUS_ACCEPTED);
	rsp = exchange(m);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_PKICONF);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	/* within the wait: nothing happens */
	ck_assert_msg(ca_server_sweep(srv, now + 290, &rev, &pruned, &e) == 0,
	    "%s", e.msg);
	ck_assert_int_eq(rev, 0);
	ck_assert_int_eq(is_revoked(a), 0);
	ck_assert_int_eq(txn_of(irb, &t), 0);
	ck_assert_ptr_nonnull(t.request);
	ca_txn_clear(&t);
	/* past it: a revoked, its transaction expired; b's request dropped */
	ck_assert_msg(ca_server_sweep(srv, now + 310, &rev, &pruned, &e) == 0,
	    "%s", e.msg);
	ck_assert_int_eq(rev, 1);
	ck_assert_int_eq(pruned, 0);
	ck_assert_int_eq(is_revoked(a), 1);
	ck_assert_int_eq(is_revoked(b), 0);
	st = txn_state_of(ira);
	ck_assert_str_eq(st, "expired");
	free(st);
	ck_assert_int_eq(txn_of(irb, &t), 0);
	ck_assert_ptr_null(t.request);
	ca_txn_clear(&t);
	/* a late certConf confirms nothing */
	m = make_certconf(ipa, a, CMP_STATUS_ACCEPTED);
	rsp = exchange(m);
	assert_refused(rsp, CMP_FAIL_BAD_REQUEST, "expired", NULL);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	/* after the retention time both are gone */
	ck_assert_msg(ca_server_sweep(srv, now + cfg.retention + 400, &rev,
	    &pruned, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(pruned, 2);
	ck_assert_int_eq(txn_of(ira, &t), 1);
	ck_assert_int_eq(txn_of(irb, &t), 1);
	CMP_PKIMESSAGE_free(ipa);
	CMP_PKIMESSAGE_free(ipb);
	CMP_PKIMESSAGE_free(ira);
	CMP_PKIMESSAGE_free(irb);
}
END_TEST

/* ------------------------------------------------------- hierarchy ---- */
/*
 * cmpca on the issuing CA of a three-level hierarchy made by test/mkpki.sh
 * (root -> intermediate -> issuing), --extra-certs the intermediate and the
 * root, --trust an external vendor root.
 */

static char *pki;

/* "DIR/pki/NAME" (free()). */
static char *
pki_file(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", pki, name), 0);
	return p;
}

static X509 *
pki_cert(const char *name)
{
	char *f = pki_file(name);
	STACK_OF(X509) *sk;
	struct pk_err e;
	X509 *x;

	ck_assert_msg(ca_load_certs(f, &sk, &e) == 0, "%s", e.msg);
	x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	free(f);
	return x;
}

static EVP_PKEY *
pki_key(const char *name)
{
	char *f = pki_file(name);
	struct pk_err e;
	EVP_PKEY *k;

	ck_assert_msg(ca_load_key(f, &k, &e) == 0, "%s", e.msg);
	free(f);
	return k;
}

static char *hier_files[4];

static void
hier_setup(void)
{
	setup();
	close_server();
	ck_assert_int_ge(asprintf(&pki, "%s/pki", dir), 0);
	ck_assert_int_eq(tu_sh("sh '%s/test/mkpki.sh' '%s'", tu_top(), pki), 0);
	hier_files[0] = pki_file("issuing.crt");
	hier_files[1] = pki_file("issuing.key");
	hier_files[2] = pki_file("chain.pem");
	hier_files[3] = pki_file("vroot.crt");
	cfg.ca_cert = hier_files[0];
	cfg.ca_key = hier_files[1];
	cfg.extra_certs = hier_files[2];
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "trust", hier_files[3],
	    CA_SRC_ARGS, NULL), 0);
	open_server();
}

static void
hier_teardown(void)
{
	int i;

	teardown();
	for (i = 0; i < 4; i++)
		free(hier_files[i]);
	free(pki);
}

/* A cr for KEY with subject CN=NAME signed by SIGNER/SKEY (its certificate
 * and CHAIN in extraCerts). */
static CMP_PKIMESSAGE *
make_signed(int type, const char *name, X509 *signer, EVP_PKEY *skey,
    STACK_OF(X509) *chain)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	X509_NAME *subj = X509_NAME_new();
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)name, -1, -1, 0);
	memset(&h, 0, sizeof(h));
	h.sender = X509_get_subject_name(signer);
	memset(&r, 0, sizeof(r));
	r.subject = subj;
	r.key = key;
	ck_assert_msg(cmp_build_certreq(&h, type, &r, &m, &e) == 0, "%s", e.msg);
	ck_assert_msg(cmp_msg_protect_sig(m, skey, signer, chain, 0, 0, &e) == 0,
	    "%s", e.msg);
	X509_NAME_free(subj);
	return m;
}

/* The certificate of a cp/ip/kup RSP (borrowed). */
static X509 *
rep_cert(const CMP_PKIMESSAGE *rsp)
{
	CMP_CERTRESPONSE *r;
	char *txt;

	if (cmp_msg_body_type(rsp) == CMP_BODY_ERROR) {
		txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
		ck_abort_msg("error: %s", txt != NULL ? txt : "(no text)");
	}
	r = cmp_rep_get0(rsp, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(cmp_certresp_get0_cert(r));
	return cmp_certresp_get0_cert(r);
}

/* X verifies up to the root with the intermediate and the issuing CA as
 * untrusted certificates (what `openssl verify -CAfile root -untrusted` does). */
static void
assert_verifies_to_root(X509 *x)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *root = pki_cert("root.crt");
	STACK_OF(X509) *un = sk_X509_new_null();
	X509 *a = pki_cert("issuing.crt"), *b = pki_cert("int.crt");

	sk_X509_push(un, a);
	sk_X509_push(un, b);
	X509_STORE_add_cert(st, root);
	X509_STORE_CTX_init(ctx, st, x, un);
	ck_assert_msg(X509_verify_cert(ctx) == 1, "%s",
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	ck_assert_int_eq(sk_X509_num(X509_STORE_CTX_get0_chain(ctx)), 4);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_pop_free(un, X509_free);
	X509_free(root);
}

/* Issue 12: requests signed by certificates this CA issued were refused with
 * "unable to get issuer certificate" when the CA is not a root. */
START_TEST(hier_signed_by_issued_certificate)
{
	X509 *a = enroll("dev-a"), *c, *k;
	CMP_PKIMESSAGE *cr, *cp, *kur, *kup;

	assert_verifies_to_root(a);
	cr = make_signed(CMP_BODY_CR, "dev-a", a, key, NULL);
	cp = exchange(cr);
	c = rep_cert(cp);
	ck_assert_int_eq(cmp_msg_body_type(cp), CMP_BODY_CP);
	assert_verifies_to_root(c);
	kur = make_kur(a, key, a, key);
	kup = exchange(kur);
	k = rep_cert(kup);
	ck_assert_int_eq(cmp_msg_body_type(kup), CMP_BODY_KUP);
	assert_verifies_to_root(k);
	CMP_PKIMESSAGE_free(kup);
	CMP_PKIMESSAGE_free(kur);
	CMP_PKIMESSAGE_free(cp);
	CMP_PKIMESSAGE_free(cr);
	X509_free(a);
}
END_TEST

/* Signed answers carry the signer and its chain without the root (RFC 9483
 * 3.3); the ip's caPubs is the root (RFC 4210 5.3.2). */
START_TEST(hier_response_chain_and_capubs)
{
	CMP_PKIMESSAGE *ir = make_ir("chain", 0, "wrong secret"), *rsp, *ip;
	STACK_OF(X509) *ec, *capubs;
	X509 *iss = pki_cert("issuing.crt"), *in = pki_cert("int.crt");
	X509 *root = pki_cert("root.crt");

	rsp = exchange(ir);
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	ec = cmp_msg_get0_extra_certs(rsp);
	ck_assert_int_eq(sk_X509_num(ec), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(ec, 0), iss), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(ec, 1), in), 0);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir("capubs", 1, SECRET);
	ip = exchange(ir);
	(void)ip_cert(ip);
	capubs = cmp_rep_get0_capubs(ip);
	ck_assert_int_eq(sk_X509_num(capubs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(capubs, 0), root), 0);
	ck_assert_int_eq(X509_cmp(ca_get0_root(ca), root), 0);
	ck_assert_int_eq(sk_X509_num(ca_get0_chain(ca)), 3);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	X509_free(iss);
	X509_free(in);
	X509_free(root);
}
END_TEST

/* The attacker's cases: the CA certificate is an anchor, nothing the request
 * brings is. A certificate from a self-made CA with the issuing CA's name (sent
 * along in extraCerts), and one from the intermediate (a sibling of this CA),
 * are not credentials for a cr. */
START_TEST(hier_partial_chain_only_for_the_ca)
{
	X509 *other = pki_cert("other.crt"), *sib = pki_cert("sibling.crt");
	EVP_PKEY *okey = pki_key("other.key"), *skey = pki_key("sibling.key");
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *fake = X509_new(), *in = pki_cert("int.crt");
	CMP_PKIMESSAGE *cr, *rsp;

	/* a certificate "issued" by the impostor CA for our key */
	X509_set_version(fake, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(fake), 4242);
	X509_set_issuer_name(fake, X509_get_subject_name(other));
	X509_set_subject_name(fake, X509_get_subject_name(other));
	X509_NAME_add_entry_by_txt(X509_get_subject_name(fake), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"mallory", -1, -1, 0);
	X509_gmtime_adj(X509_getm_notBefore(fake), -60);
	X509_gmtime_adj(X509_getm_notAfter(fake), 3600);
	X509_set_pubkey(fake, key);
	ck_assert_int_gt(X509_sign(fake, okey, EVP_sha256()), 0);
	sk_X509_push(chain, other);
	cr = make_signed(CMP_BODY_CR, "mallory", fake, key, chain);
	rsp = exchange(cr);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_SIGNER_NOT_TRUSTED));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	/* the sibling chains to the root, but not to this CA */
	sk_X509_pop(chain);
	sk_X509_push(chain, in);
	cr = make_signed(CMP_BODY_CR, "sibling", sib, skey, chain);
	rsp = exchange(cr);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_SIGNER_NOT_TRUSTED));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cr);
	sk_X509_free(chain);
	X509_free(fake);
	X509_free(other);
	X509_free(sib);
	X509_free(in);
	EVP_PKEY_free(okey);
	EVP_PKEY_free(skey);
}
END_TEST

/* An ir signed by a vendor certificate under a --trust root: accepted, for
 * the vendor certificate's subject; another subject only with
 * allow-subject-change. */
START_TEST(hier_vendor_ir)
{
	X509 *v = pki_cert("vdev.crt");
	EVP_PKEY *vk = pki_key("vdev.key");
	CMP_PKIMESSAGE *ir = make_signed(CMP_BODY_IR, "vendor", v, vk, NULL), *ip;
	char *txt;

	ip = exchange(ir);
	ck_assert(error_failinfo(ip) & CMP_FAIL(CMP_FAIL_BAD_CERT_TEMPLATE));
	txt = cmp_si_text(cmp_msg_get0_status(ip, 0));
	ck_assert_msg(strstr(txt, "CN=vendor-dev-42") != NULL, "%s", txt);
	free(txt);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	ir = make_signed(CMP_BODY_IR, "vendor-dev-42", v, vk, NULL);
	ip = exchange(ir);
	assert_verifies_to_root(rep_cert(ip));
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	close_server();
	cfg.def.allow_subject_change = 1;
	open_server();
	ir = make_signed(CMP_BODY_IR, "vendor", v, vk, NULL);
	ip = exchange(ir);
	ck_assert(subject_is(rep_cert(ip), "CN=vendor"));
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	X509_free(v);
	EVP_PKEY_free(vk);
}
END_TEST

/* --capubs sets caPubs; a chain that does not verify stops ca_open. */
START_TEST(hier_capubs_file_and_bad_chain)
{
	char *vr = pki_file("vroot.crt"), *t1 = pki_file("tightissuing.crt");
	char *t2 = pki_file("tightissuing.key"), *t3 = pki_file("tightchain.pem");
	CMP_PKIMESSAGE *ir, *ip;
	X509 *v = pki_cert("vroot.crt");
	struct pk_err e;

	close_server();
	cfg.capubs = vr;
	open_server();
	ir = make_ir("capubs2", 1, SECRET);
	ip = exchange(ir);
	(void)ip_cert(ip);
	ck_assert_int_eq(sk_X509_num(cmp_rep_get0_capubs(ip)), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(cmp_rep_get0_capubs(ip), 0), v), 0);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
	close_server();
	cfg.capubs = NULL;
	cfg.ca_cert = t1;
	cfg.ca_key = t2;
	cfg.extra_certs = t3;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_msg(strstr(e.msg, "path length constraint exceeded") != NULL,
	    "%s", e.msg);
	ca = NULL;
	cfg.ca_cert = hier_files[0];
	cfg.ca_key = hier_files[1];
	cfg.extra_certs = hier_files[2];
	open_server();
	X509_free(v);
	free(vr);
	free(t1);
	free(t2);
	free(t3);
}
END_TEST

/* genm in the hierarchy: caCerts is the chain up to the root; after the
 * root's key rollover (--previous-ca-cert) rootCaKeyUpdate carries the new
 * root and the link certificates, for a requester that has the old root. */
START_TEST(hier_genm_chain_and_root_update)
{
	char *roll = pki_file("rollover.pem");
	X509 *root = pki_cert("root.crt"), *old = pki_cert("oldroot.crt");
	X509 *nwo = pki_cert("newwithold.crt"), *own = pki_cert("oldwithnew.crt");
	STACK_OF(CMP_ITAV) *in;
	STACK_OF(X509) *certs = NULL;
	CMP_ROOTCAKEYUPDATE *u = NULL;
	CMP_PKIMESSAGE *genp;
	struct pk_err e;

	genp = genm_exchange(itavs(CMP_OID_IT_CA_CERTS, NULL), 2);
	ck_assert(cmp_itav_get1_certs(sk_CMP_ITAV_value(cmp_msg_get0_itavs(genp),
	    0), &certs, &e) == 0);
	ck_assert_int_eq(sk_X509_num(certs), 3);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), ca_get0_cert(ca)), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 2), root), 0);
	sk_X509_pop_free(certs, X509_free);
	CMP_PKIMESSAGE_free(genp);

	close_server();
	cfg.previous_ca_cert = roll;
	open_server();
	ck_assert_int_eq(X509_cmp(ca_get0_old_root(ca), old), 0);
	/* rootCaCert with the old root: the update */
	in = sk_CMP_ITAV_new_null();
	sk_CMP_ITAV_push(in, cmp_itav_new_cert(CMP_OID_IT_ROOT_CA_CERT, old));
	genp = genm_exchange(in, 2);
	ck_assert(cmp_itav_is(sk_CMP_ITAV_value(cmp_msg_get0_itavs(genp), 0),
	    CMP_OID_IT_ROOT_CA_KEY_UPDATE));
	ck_assert_msg(cmp_itav_get1_root_ca_key_update(sk_CMP_ITAV_value(
	    cmp_msg_get0_itavs(genp), 0), &u, &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(X509_cmp(u->newWithNew, root), 0);
	ck_assert_int_eq(X509_cmp(u->newWithOld, nwo), 0);
	ck_assert_int_eq(X509_cmp(u->oldWithNew, own), 0);
	/* what the requester checks: newWithOld verifies with the old root */
	ck_assert_int_eq(X509_verify(u->newWithOld, X509_get0_pubkey(old)), 1);
	CMP_ROOTCAKEYUPDATE_free(u);
	CMP_PKIMESSAGE_free(genp);
	/* with the current root already: no update */
	in = sk_CMP_ITAV_new_null();
	sk_CMP_ITAV_push(in, cmp_itav_new_cert(CMP_OID_IT_ROOT_CA_CERT, root));
	genp = genm_exchange(in, 2);
	ck_assert(cmp_itav_get1_root_ca_key_update(sk_CMP_ITAV_value(
	    cmp_msg_get0_itavs(genp), 0), &u, &e) == 0);
	ck_assert_ptr_null(u);
	CMP_PKIMESSAGE_free(genp);
	/* no value, or OpenSSL 3.0's id-it-rootCaKeyUpdate: the update */
	genp = genm_exchange(itavs(CMP_OID_IT_ROOT_CA_KEY_UPDATE, NULL), 2);
	ck_assert(cmp_itav_get1_root_ca_key_update(sk_CMP_ITAV_value(
	    cmp_msg_get0_itavs(genp), 0), &u, &e) == 0);
	ck_assert_ptr_nonnull(u);
	CMP_ROOTCAKEYUPDATE_free(u);
	CMP_PKIMESSAGE_free(genp);

	/* the rollover file must hold newWithOld, and nothing unknown */
	close_server();
	cfg.previous_ca_cert = hier_files[3];	/* vroot: not a rollover */
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_msg(strstr(e.msg, "RFC 9483 4.3.2: newWithOld") != NULL, "%s",
	    e.msg);
	ck_assert_int_eq(tu_sh("cat '%s/oldroot.crt' '%s/newwithold.crt' "
	    "'%s/vdev.crt' > '%s/roll2.pem'", pki, pki, pki, pki), 0);
	free(roll);
	roll = pki_file("roll2.pem");
	cfg.previous_ca_cert = roll;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_msg(strstr(e.msg, "is neither the old root") != NULL, "%s",
	    e.msg);
	ca = NULL;
	cfg.previous_ca_cert = NULL;
	open_server();
	free(roll);
	X509_free(root);
	X509_free(old);
	X509_free(nwo);
	X509_free(own);
}
END_TEST

/* -------------------------------------------------------- profiles ---- */
/*
 * Profiles from a cmpca.conf: "a" and "b" on their own paths with their own
 * secrets; "twin" shares a's reference and secret on another path; "sigonly"
 * has no secret; "p384" certifies EC P-384 keys only.
 */

static char *conf_file;

static void
prof_setup(void)
{
	static const char text[] =
	    "[a]\npath = /a\nref = ref-a\nsecret = secret-a\n"
	    "[b]\npath = /b\nref = ref-b\nsecret = secret-b\n"
	    "[twin]\npath = /twin\nref = ref-a\nsecret = secret-a\n"
	    "[sigonly]\npath = /sig\n"
	    "[p384]\npath = /p384\nref = lab\nsecret = s3cr3t\n"
	    "key-types = ec:P-384\n";
	struct pk_err e;

	setup();
	close_server();
	ck_assert_int_ge(asprintf(&conf_file, "%s/cmpca.conf", dir), 0);
	ck_assert_int_eq(tu_write(conf_file, text, strlen(text)), 0);
	ck_assert_msg(ca_config_load(&cfg, conf_file, &e) == 0, "%s", e.msg);
	ck_assert_msg(ca_config_check(&cfg, &e) == 0, "%s", e.msg);
	open_server();
}

static void
prof_teardown(void)
{
	teardown();
	free(conf_file);
}

/* REQ sent to PATH (as the HTTP front routes it). */
static CMP_PKIMESSAGE *
exchange_at(const char *path, const CMP_PKIMESSAGE *req)
{
	const void *route = ca_server_route(srv, path);
	CMP_PKIMESSAGE *rsp = NULL;
	unsigned char *der = NULL, *out = NULL;
	size_t len = 0, n = 0;
	struct pk_err e;

	ck_assert_msg(route != NULL, "%s is not served", path);
	ck_assert_msg(cmp_msg_encode(req, &der, &len, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_server_handle(srv, &(struct ca_req){ route, NULL,
	    der, len }, &out, &n), 0);
	ck_assert_msg(cmp_msg_decode(out, n, &rsp, &e) == 0, "%s", e.msg);
	OPENSSL_free(der);
	free(out);
	return rsp;
}

/* An ir for K with reference REF, MAC with SECRET. */
static CMP_PKIMESSAGE *
make_ir_ref(const char *ref, const char *secret, EVP_PKEY *k)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	X509_NAME *subj = X509_NAME_new();
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;

	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"profiled", -1, -1, 0);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)ref;
	h.sender_kid_len = strlen(ref);
	memset(&r, 0, sizeof(r));
	r.subject = subj;
	r.key = k;
	ck_assert_msg(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e) == 0, "%s",
	    e.msg);
	X509_NAME_free(subj);
	mac(m, secret, NULL);
	return m;
}

/* Each profile has its own secret: profile a's reference and secret on b's
 * path are refused, the answer signed (it cannot be MAC'd with a secret the
 * request did not prove). */
START_TEST(prof_secret_of_another_profile_refused)
{
	CMP_PKIMESSAGE *ir, *rsp;
	struct pk_err e;

	ir = make_ir_ref("ref-a", "secret-a", key);
	rsp = exchange_at("/b", ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	CMP_PKIMESSAGE_free(rsp);
	/* b's reference with a's secret: the MAC fails */
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir_ref("ref-b", "secret-a", key);
	rsp = exchange_at("/b", ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	/* the right pairs on the right paths: MAC'd with that profile's secret */
	ir = make_ir_ref("ref-a", "secret-a", key);
	rsp = exchange_at("/a", ir);
	(void)ip_cert(rsp);
	ck_assert_msg(cmp_msg_verify_pbm(rsp, "secret-a", 8, NULL, &e) == 0, "%s", e.msg);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir_ref("ref-b", "secret-b", key);
	rsp = exchange_at("/b", ir);
	(void)ip_cert(rsp);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	/* the default profile still has its own (the command line's) */
	ir = make_ir_ref("ref-a", "secret-a", key);
	rsp = exchange(ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* A transaction belongs to the profile whose path opened it: its certConf on
 * another path is refused even when that path takes the same credentials. */
START_TEST(prof_transaction_bound_to_its_path)
{
	CMP_PKIMESSAGE *ir = make_ir_ref("ref-a", "secret-a", key), *ip, *cc, *rsp;
	struct cmp_hdr h;
	struct pk_err e;
	char *st;

	ip = exchange_at("/a", ir);
	follow_hdr(&h, ip);
	h.sender_kid = (const unsigned char *)"ref-a";
	h.sender_kid_len = 5;
	ck_assert(cmp_build_certconf(&h, ip_cert(ip), 0, CMP_STATUS_REJECTION, 0,
	    "no", &cc, &e) == 0);
	mac(cc, "secret-a", NULL);
	rsp = exchange_at("/twin", cc);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_REQUEST));
	CMP_PKIMESSAGE_free(rsp);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "issued");		/* untouched */
	free(st);
	rsp = exchange_at("/a", cc);
	ck_assert_int_eq(cmp_msg_body_type(rsp), CMP_BODY_PKICONF);
	st = txn_state_of(ir);
	ck_assert_str_eq(st, "rejected");
	free(st);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(cc);
	CMP_PKIMESSAGE_free(ip);
	CMP_PKIMESSAGE_free(ir);
}
END_TEST

/* A profile without a secret takes no MAC; a profile's key types are its
 * policy. */
START_TEST(prof_no_secret_and_key_types)
{
	CMP_PKIMESSAGE *ir, *rsp;
	EVP_PKEY *k384 = EVP_EC_gen("P-384");
	char *txt;

	ir = make_ir_ref("sigonly", "anything", key);
	rsp = exchange_at("/sig", ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
	ck_assert_msg(strstr(txt, "profile sigonly takes no MAC") != NULL, "%s", txt);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	/* P-256 on the P-384 profile: badCertTemplate, nothing issued */
	ir = make_ir_ref("lab", "s3cr3t", key);
	rsp = exchange_at("/p384", ir);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_BAD_CERT_TEMPLATE));
	txt = cmp_si_text(cmp_msg_get0_status(rsp, 0));
	ck_assert_msg(strstr(txt, "profile p384 does not certify") != NULL &&
	    strstr(txt, "prime256v1") != NULL, "%s", txt);
	free(txt);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ir = make_ir_ref("lab", "s3cr3t", k384);
	rsp = exchange_at("/p384", ir);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(ip_cert(rsp)), k384), 1);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(ir);
	ck_assert_ptr_null(ca_server_route(srv, "/p384/"));
	EVP_PKEY_free(k384);
}
END_TEST

/* genm on a profile's path answers with that profile's policy. */
START_TEST(prof_genm_policy)
{
	STACK_OF(CMP_ITAV) *in = itavs(CMP_OID_IT_SIGN_KEY_PAIR_TYPES,
	    CMP_OID_IT_CERT_REQ_TEMPLATE, NULL);
	STACK_OF(X509_ALGOR) *algs = NULL;
	CMP_CERTREQTEMPLATE *t = NULL;
	CMP_PKIMESSAGE *genm = NULL, *genp;
	X509_ALGOR *a = NULL;
	struct cmp_hdr h;
	struct pk_err e;
	const void *pv;
	long bits;
	int ptype;

	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)"lab";
	h.sender_kid_len = 3;
	ck_assert(cmp_build_genm(&h, in, &genm, &e) == 0);
	mac(genm, "s3cr3t", NULL);
	genp = exchange_at("/p384", genm);
	ck_assert(cmp_itav_get1_algs(sk_CMP_ITAV_value(cmp_msg_get0_itavs(genp), 0),
	    &algs, &e) == 0);
	ck_assert_int_eq(sk_X509_ALGOR_num(algs), 1);
	X509_ALGOR_get0(NULL, &ptype, &pv, sk_X509_ALGOR_value(algs, 0));
	ck_assert_int_eq(ptype, V_ASN1_OBJECT);
	ck_assert_int_eq(OBJ_obj2nid(pv), NID_secp384r1);
	ck_assert(cmp_itav_get1_cert_req_template(sk_CMP_ITAV_value(
	    cmp_msg_get0_itavs(genp), 1), &t, &e) == 0);
	ck_assert_int_eq(sk_CMP_ATAV_num(t->keySpec), 1);
	ck_assert(cmp_atav_keyspec(sk_CMP_ATAV_value(t->keySpec, 0), &a, &bits,
	    &e) == 0);
	ck_assert_int_eq(OBJ_obj2nid(a->algorithm), NID_X9_62_id_ecPublicKey);
	X509_ALGOR_free(a);
	CMP_CERTREQTEMPLATE_free(t);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	sk_CMP_ITAV_pop_free(in, CMP_ITAV_free);
	CMP_PKIMESSAGE_free(genp);
	CMP_PKIMESSAGE_free(genm);
}
END_TEST

/* ---- failed authentications per client address (issue 11) ---- */

/* The table on a clock of its own: LIMIT failures within the window (from
 * the first) lock the address for the window from the last of them; a lock
 * ends with time only (a failure during it does not extend it); failures
 * spread wider than the window never lock; addresses are counted apart. */
START_TEST(lockout_window)
{
	struct ca_lockout *l = ca_lockout_new(16, 3, 10);
	int64_t left = -1;

	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 0, &left), 0);
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 1000, NULL), 0);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 1500), 0);
	/* the third within 10 s locks, for 10 s from it */
	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 2000, &left), 1);
	ck_assert_int_eq(left, 10000);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 5000), 7000);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.2", 5000), 0);
	/* a failure while locked (a request already past the check) neither
	 * locks again nor extends */
	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 6000, &left), 0);
	ck_assert_int_eq(left, 6000);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 11999), 1);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 12000), 0);
	/* after the lock, a clean count: two more failures do not lock */
	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 12000, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", 13000, NULL), 0);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 13000), 0);
	/* failures 4.5 s apart: the window (from the first) passes before the
	 * third, which starts a new one */
	ck_assert_int_eq(ca_lockout_fail(l, "2001:db8::1", 0, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "2001:db8::1", 4500, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "2001:db8::1", 10000, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "2001:db8::1", 14500, NULL), 0);
	ck_assert_int_eq(ca_lockout_check(l, "2001:db8::1", 14500), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "2001:db8::1", 15000, NULL), 1);
	/* an unknown address and a disabled limit are never counted */
	ck_assert_int_eq(ca_lockout_fail(l, "", 0, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, NULL, 0, NULL), 0);
	ca_lockout_free(l);
	l = ca_lockout_new(16, 0, 10);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(ca_lockout_fail(l, "192.0.2.1", i, NULL), 0);
	ck_assert_int_eq(ca_lockout_check(l, "192.0.2.1", 100), 0);
	ck_assert_int_eq(ca_lockout_used(l, 100), 0);
	ca_lockout_free(l);
}
END_TEST

/* The table is bounded: an attacker cycling through addresses takes no more
 * than its slots; when they are all taken, the address whose last failure is
 * the oldest gives its slot (and starts again with a clean count); slots
 * whose window and lock are over are free again. */
START_TEST(lockout_bounded_oldest_evicted)
{
	struct ca_lockout *l = ca_lockout_new(4, 2, 10);
	char a[CA_ADDR_MAX];
	int i;

	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.1", 0, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.2", 100, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.3", 200, NULL), 0);
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.4", 300, NULL), 0);
	ck_assert_int_eq(ca_lockout_used(l, 300), 4);
	/* 10.0.0.1 (the oldest) is pushed out by 10.0.0.5 ... */
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.5", 400, NULL), 0);
	ck_assert_int_eq(ca_lockout_used(l, 400), 4);
	/* ... so its second failure is its first again; 10.0.0.2 goes */
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.1", 500, NULL), 0);
	/* 10.0.0.3 kept its count: its second failure locks it */
	ck_assert_int_eq(ca_lockout_fail(l, "10.0.0.3", 600, NULL), 1);
	ck_assert_int_gt(ca_lockout_check(l, "10.0.0.3", 700), 0);
	/* a locked address refreshed by no failure is the oldest after a
	 * while: a flood of addresses pushes it out, and the table stays at
	 * four slots throughout */
	for (i = 0; i < 10000; i++) {
		snprintf(a, sizeof(a), "2001:db8::%x", i);
		ca_lockout_fail(l, a, 1000 + i / 10, NULL);
		ck_assert_int_le(ca_lockout_used(l, 1000 + i / 10), 4);
	}
	ck_assert_int_eq(ca_lockout_check(l, "10.0.0.3", 2000), 0);
	/* every window over: all slots free */
	ck_assert_int_eq(ca_lockout_used(l, 60000), 0);
	ca_lockout_free(l);
}
END_TEST

/* REQ sent from the client address PEER through the HTTP handler. */
static CMP_PKIMESSAGE *
exchange_from(const char *peer, const CMP_PKIMESSAGE *req)
{
	CMP_PKIMESSAGE *rsp = NULL;
	unsigned char *der = NULL, *out = NULL;
	size_t len = 0, n = 0;
	struct pk_err e;

	ck_assert_msg(cmp_msg_encode(req, &der, &len, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_server_handle(srv, &(struct ca_req){ NULL, peer,
	    der, len }, &out, &n), 0);
	ck_assert_msg(cmp_msg_decode(out, n, &rsp, &e) == 0, "%s", e.msg);
	OPENSSL_free(der);
	free(out);
	return rsp;
}

static int nlog;
static char last_log[256];

static void
log_capture(void *arg, const char *line)
{
	(void)arg;
	nlog++;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

/* The server: wrong MACs and a signature by an untrusted certificate count
 * against their address; at the limit the address is refused with
 * systemUnavail, the right secret too, without a MAC computed; one log line
 * per lockout, without the secret; other addresses, and in-process requests
 * (no address), are served. */
START_TEST(lockout_server_refuses_before_mac)
{
	CMP_PKIMESSAGE *m, *rsp;
	struct ca_server_stats st;
	X509 *self = X509_new();
	char *txt;
	int i;

	close_server();
	cfg.auth_fail_limit = 3;
	cfg.auth_fail_window = 60;
	open_server();
	nlog = 0;
	ca_server_set_log(srv, log_capture, NULL);
	for (i = 0; i < 2; i++) {
		m = make_ir("guess", 0, "not the secret");
		rsp = exchange_from("192.0.2.1", m);
		ck_assert(error_failinfo(rsp) &
		    CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
		CMP_PKIMESSAGE_free(rsp);
		CMP_PKIMESSAGE_free(m);
	}
	/* the third: a signature by a certificate nobody trusts */
	X509_set_version(self, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(self), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(self), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"mallory", -1, -1, 0);
	X509_set_issuer_name(self, X509_get_subject_name(self));
	X509_gmtime_adj(X509_getm_notBefore(self), -60);
	X509_gmtime_adj(X509_getm_notAfter(self), 3600);
	X509_set_pubkey(self, key);
	ck_assert_int_gt(X509_sign(self, key, EVP_sha256()), 0);
	m = make_signed(CMP_BODY_CR, "mallory", self, key, NULL);
	rsp = exchange_from("192.0.2.1", m);
	ck_assert(error_failinfo(rsp) & CMP_FAIL(CMP_FAIL_SIGNER_NOT_TRUSTED));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	ca_server_get_stats(srv, &st);
	ck_assert_uint_eq(st.mac_checks, 2);
	ck_assert_uint_eq(st.sig_checks, 1);
	ck_assert_uint_eq(st.auth_failures, 3);
	ck_assert_uint_eq(st.lockouts, 1);
	ck_assert_int_eq(nlog, 1);
	ck_assert_msg(strstr(last_log, "192.0.2.1 locked out until ") != NULL &&
	    strstr(last_log, " UTC: 3 failed authentications within 60 s") !=
	    NULL && strstr(last_log, SECRET) == NULL, "%s", last_log);
	/* the right secret now: refused, no MAC computed, no certificate */
	m = make_ir("right", 0, SECRET);
	rsp = exchange_from("192.0.2.1", m);
	ck_assert_uint_eq(error_failinfo(rsp), CMP_FAIL(CMP_FAIL_SYSTEM_UNAVAIL));
	txt = error_text(rsp);
	ck_assert_msg(strstr(txt, "too many failed authentications from "
	    "192.0.2.1") != NULL && strstr(txt, "try again later") != NULL &&
	    strstr(txt, " UTC (60 s from now)") != NULL, "%s", txt);
	free(txt);
	/* signed by the CA (the request's MAC was never checked) */
	ck_assert_int_eq(cmp_msg_protection_kind(rsp), CMP_PROT_SIG);
	CMP_PKIMESSAGE_free(rsp);
	ca_server_get_stats(srv, &st);
	ck_assert_uint_eq(st.mac_checks, 2);
	ck_assert_uint_eq(st.locked_refusals, 1);
	ck_assert_int_eq(nlog, 1);
	/* another address, and the in-process entry, are served */
	rsp = exchange_from("192.0.2.2", m);
	(void)ip_cert(rsp);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	m = make_ir("inproc", 0, SECRET);
	rsp = exchange(m);
	(void)ip_cert(rsp);
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	ca_server_get_stats(srv, &st);
	ck_assert_uint_eq(st.mac_checks, 4);
	ck_assert_uint_eq(st.lockouts, 1);
	X509_free(self);
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
	tcase_add_test(tc, rr_by_shared_secret_refused);
	tcase_add_test(tc, rr_reasons_hold_and_release);
	tcase_add_test(tc, kur_signed_by_the_old_certificate);
	tcase_add_test(tc, kur_with_expired_certificate);
	tcase_add_test(tc, signed_answers_carry_extra_certs);
	tcase_add_test(tc, unknown_protection_badalg);
	tcase_add_test(tc, refusal_texts_cite_their_clause_once);
	tcase_add_test(tc, parallel_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("trust");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ber_request_refused);
	tcase_add_test(tc, pbm_iterations_capped);
	tcase_add_test(tc, signed_cr_gets_the_signers_identity);
	tcase_add_test(tc, kur_keeps_the_old_identity);
	tcase_add_test(tc, signed_p10cr_gets_the_signers_identity);
	tcase_add_test(tc, allow_subject_change_but_never_the_cas_name);
	tcase_add_test(tc, template_asking_ca_true_refused);
	tcase_add_test(tc, weak_keys_refused);
	tcase_add_test(tc, followups_from_another_identity_refused);
	tcase_add_test(tc, poll_from_another_identity_refused);
	tcase_add_test(tc, followup_without_transaction_costs_no_mac);
	tcase_add_test(tc, unconfirmed_revoked_and_transactions_pruned);
	tcase_add_test(tc, lockout_window);
	tcase_add_test(tc, lockout_bounded_oldest_evicted);
	tcase_add_test(tc, lockout_server_refuses_before_mac);
	suite_add_tcase(s, tc);
	tc = tcase_create("hierarchy");
	tcase_add_checked_fixture(tc, hier_setup, hier_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hier_signed_by_issued_certificate);
	tcase_add_test(tc, hier_response_chain_and_capubs);
	tcase_add_test(tc, hier_partial_chain_only_for_the_ca);
	tcase_add_test(tc, hier_vendor_ir);
	tcase_add_test(tc, hier_capubs_file_and_bad_chain);
	tcase_add_test(tc, hier_genm_chain_and_root_update);
	suite_add_tcase(s, tc);
	tc = tcase_create("profiles");
	tcase_add_checked_fixture(tc, prof_setup, prof_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, prof_secret_of_another_profile_refused);
	tcase_add_test(tc, prof_transaction_bound_to_its_path);
	tcase_add_test(tc, prof_no_secret_and_key_types);
	tcase_add_test(tc, prof_genm_policy);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
