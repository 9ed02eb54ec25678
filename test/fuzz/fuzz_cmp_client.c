/*
 * libFuzzer target for the client's response checks (`make fuzz`, then e.g.
 *   mkdir -p build/fuzz/corpus-client
 *   build/fuzz/fuzz_cmp_client -max_total_time=60 build/fuzz/corpus-client \
 *       test/vectors/openssl-65 test/vectors/rustcrypto-cmpv2
 * The corpus directory comes first: libFuzzer writes new inputs into the
 * first directory it is given, and test/vectors is checked against SHA256SUMS.)
 *
 * Each input is taken as the answer to the ir of a transaction that never
 * opened a connection (cmp_client_int.h): decoded with the protocol's strict
 * decoder, then checked three ways, so that the later checks are reached as
 * well as the first ones:
 *   0. as it came, by a MAC session;
 *   1. with its transactionID and recipNonce set to the request's and
 *      MAC-protected with the session's secret;
 *   2. the same, signed by an RA (id-kp-cmcRA) under the CA the session
 *      imported, checked by a signature session.
 * Each goes through cmp_txn_check_response() and, for an ip, the CertResponse
 * and cmp_txn_cert_acceptable(). Properties (abort when one fails): an answer
 * that passes has our transactionID, answers our senderNonce, is protected and
 * is an ip or pollRep; no input passes as it came (the transactionID is 128
 * random bits); no certificate is ever acceptable (the device's key and the
 * CA are made at start, so no input can hold a certificate the CA issued for
 * that key).
 *
 * test/check_cmp_client_fuzz.c includes this file to run cmp_client_fuzz_one()
 * over the vectors and mutants of them inside `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../../cmp/cmp.h"
#include "../../cmp/cmp_client_int.h"

static struct {
	EVP_PKEY *dev_key, *ca_key, *ra_key;
	X509 *ca, *ra, *dev;
	STACK_OF(X509) *trusted;
	X509_NAME *subject;
	struct cmp_client_cfg mac, sig;
	unsigned long passed, certs;	/* answers that passed; certificates
					 * that reached the acceptance check */
} fz;

static X509 *
fz_cert(EVP_PKEY *pub, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *ikey, const char *bc, const char *ku, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	const char *v[4] = { bc, ku, eku, "hash" };
	const int nid[4] = { NID_basic_constraints, NID_key_usage,
	    NID_ext_key_usage, NID_subject_key_identifier };

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (int i = 0; i < 4; i++) {
		if (v[i] == NULL)
			continue;
		ext = X509V3_EXT_conf_nid(NULL, &ctx, nid[i], v[i]);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, ikey, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

/* The session, the CA it imported, an RA of that CA, made once. */
static void
fz_init(void)
{
	if (fz.dev_key != NULL)
		return;
	fz.dev_key = EVP_EC_gen("P-256");
	fz.ca_key = EVP_EC_gen("P-256");
	fz.ra_key = EVP_EC_gen("P-256");
	if (fz.dev_key == NULL || fz.ca_key == NULL || fz.ra_key == NULL)
		abort();
	fz.ca = fz_cert(fz.ca_key, "Fuzz CA", 1, NULL, fz.ca_key,
	    "critical,CA:TRUE", "critical,keyCertSign,cRLSign,digitalSignature",
	    NULL);
	fz.ra = fz_cert(fz.ra_key, "Fuzz RA", 2, fz.ca, fz.ca_key, "CA:FALSE",
	    "critical,digitalSignature", "cmcRA");
	fz.dev = fz_cert(fz.dev_key, "device", 3, fz.ca, fz.ca_key, "CA:FALSE",
	    "critical,digitalSignature", NULL);
	fz.trusted = sk_X509_new_null();
	X509_up_ref(fz.ca);
	sk_X509_push(fz.trusted, fz.ca);
	fz.subject = X509_NAME_dup(X509_get_subject_name(fz.dev));
	memset(&fz.mac, 0, sizeof(fz.mac));
	fz.mac.url = "http://127.0.0.1:1/";
	fz.mac.subject = fz.subject;
	fz.mac.key = fz.dev_key;
	fz.mac.use_mac = 1;
	fz.mac.ref = "fuzz";
	fz.mac.secret = (const unsigned char *)"fuzz-secret";
	fz.mac.secret_len = strlen("fuzz-secret");
	fz.mac.trusted = fz.trusted;
	fz.sig = fz.mac;
	fz.sig.use_mac = 0;
	fz.sig.ref = NULL;
	fz.sig.secret = NULL;
	fz.sig.secret_len = 0;
	fz.sig.auth_cert = fz.dev;
	fz.sig.auth_key = fz.dev_key;
}

/* Frees what fz_init made (the check program's teardown; the fuzz target's
 * exit). */
static void
fz_free(void)
{
	EVP_PKEY_free(fz.dev_key);
	EVP_PKEY_free(fz.ca_key);
	EVP_PKEY_free(fz.ra_key);
	X509_free(fz.ca);
	X509_free(fz.ra);
	X509_free(fz.dev);
	sk_X509_pop_free(fz.trusted, X509_free);
	X509_NAME_free(fz.subject);
	memset(&fz, 0, sizeof(fz));
}

/* Sets RSP's transactionID and recipNonce to REQ's, and protects it. */
static int
fz_patch(CMP_PKIMESSAGE *rsp, const CMP_PKIMESSAGE *req, int mode)
{
	struct pk_err e;

	if (!ASN1_STRING_copy(rsp->header->transactionID == NULL ?
	    (rsp->header->transactionID = ASN1_OCTET_STRING_new()) :
	    rsp->header->transactionID, cmp_msg_get0_transaction_id(req)))
		return -1;
	if (rsp->header->recipNonce == NULL &&
	    (rsp->header->recipNonce = ASN1_OCTET_STRING_new()) == NULL)
		return -1;
	if (!ASN1_STRING_copy(rsp->header->recipNonce,
	    cmp_msg_get0_sender_nonce(req)))
		return -1;
	cmp_msg_touch(rsp);
	if (mode == 1)
		return cmp_msg_protect_pbm(rsp, fz.mac.secret, fz.mac.secret_len,
		    NULL, &e);
	return cmp_msg_protect_sig(rsp, fz.ra_key, fz.ra, NULL, 0, 0, &e);
}

/* 0 fine (refused, or passed with the properties holding), -1 a property does
 * not hold. */
static int
cmp_client_fuzz_one(const uint8_t *data, size_t size)
{
	int mode, rc = 0;

	fz_init();
	for (mode = 0; mode < 3 && rc == 0; mode++) {
		const struct cmp_client_cfg *cfg = mode == 2 ? &fz.sig : &fz.mac;
		struct cmp_client_result res;
		struct cmp_txn t;
		struct pk_err e;
		CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
		int type, failbit;
		char why[400];

		if (cmp_txn_init(&t, CMP_BODY_IR, cfg, &res, &e) != 0 ||
		    cmp_txn_first_request(&t, &req, &e) != 0)
			abort();
		if (cmp_msg_decode_ex(data, size, CMP_DECODE_DER, &rsp, &e) != 0)
			goto next;
		if (mode > 0 && fz_patch(rsp, req, mode) != 0)
			goto next;
		if (cmp_txn_check_response(&t, req, rsp, CMP_BODY_IP,
		    CMP_BODY_POLLREP, &e) != 0)
			goto next;
		/* it passed: the properties of a checked answer */
		fz.passed++;
		type = cmp_msg_body_type(rsp);
		if (mode == 0 || cmp_msg_protection_kind(rsp) == CMP_PROT_NONE ||
		    (type != CMP_BODY_IP && type != CMP_BODY_POLLREP) ||
		    !cmp_octets_eq(cmp_msg_get0_transaction_id(rsp),
		    cmp_msg_get0_transaction_id(req)) ||
		    !cmp_octets_eq(cmp_msg_get0_recip_nonce(rsp),
		    cmp_msg_get0_sender_nonce(req))) {
			rc = -1;
			goto next;
		}
		for (int i = 0; type == CMP_BODY_IP && i < cmp_rep_count(rsp); i++) {
			CMP_CERTRESPONSE *crs = cmp_rep_get0(rsp, i);
			X509 *cert = cmp_certresp_get0_cert(crs);
			char *d = cmp_si_describe(cmp_certresp_get0_status(crs));

			free(d);
			(void)cmp_certresp_req_id(crs);
			if (cert == NULL)
				continue;
			fz.certs++;
			if (cmp_txn_cert_acceptable(&t, rsp, cert, &failbit, why,
			    sizeof(why)) == 0)
				rc = -1;
		}
next:
		CMP_PKIMESSAGE_free(req);
		CMP_PKIMESSAGE_free(rsp);
		cmp_txn_clear(&t);
		cmp_client_result_clear(&res);
		ERR_clear_error();
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;

	/* freed at exit (libFuzzer and test/fuzz/replay.c end with exit()) */
	if (!once && atexit(fz_free) == 0)
		once = 1;
	if (cmp_client_fuzz_one(data, size) != 0)
		abort();
	return 0;
}
