/*
 * libFuzzer target for the CA's request processing (`make fuzz`, then e.g.
 *   mkdir -p build/fuzz/corpus-ca
 *   build/fuzz/fuzz_ca_server -max_total_time=60 build/fuzz/corpus-ca \
 *       test/vectors/openssl-65 test/vectors/rustcrypto-cmpv2
 * The corpus directory comes first: libFuzzer writes new inputs into the
 * first directory it is given.)
 *
 * A CA is made once in a temporary directory (removed at exit) with a random
 * secret. Each input is taken as a request to it twice, so that the checks
 * behind authentication are reached as well as the first ones:
 *   0. as it came (ca_server_process, the HTTP handler's entry);
 *   1. decoded, with a fresh transactionID, senderKID = the CA's reference and
 *      MAC-protected with its secret (a mutated valid transaction).
 * Properties (abort when one fails): every request gets an answer, a DER CMP
 * message that decodes strictly and is protected; no input as it came gets a
 * certificate (the secret is random and the CA new, so none can be
 * authenticated); no certificate the CA issues is a CA certificate
 * (basicConstraints cA) or carries the CA's own subject.
 *
 * test/check_ca_server_fuzz.c includes this file to run ca_server_fuzz_one()
 * over the vectors and mutants of them inside `make check`.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "../../ca/ca_int.h"

static struct {
	char dir[64];
	char *cadir;
	char secret[33];
	struct ca_config cfg;
	struct ca *ca;
	struct ca_server *srv;
	unsigned long answered, issued;	/* answers; certificates issued */
} fzc;

static int
fzc_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Frees what fzc_init made and removes the CA's directory. */
static void
fzc_free(void)
{
	if (fzc.srv == NULL)
		return;
	ca_server_free(fzc.srv);
	ca_close(fzc.ca);
	ca_config_clear(&fzc.cfg);
	free(fzc.cadir);
	nftw(fzc.dir, fzc_rm, 16, FTW_DEPTH | FTW_PHYS);
	memset(&fzc, 0, sizeof(fzc));
}

/* The CA in a temporary directory, its secret random, made once. */
static void
fzc_init(void)
{
	unsigned char r[16];
	struct pk_err e;
	char *hex;

	if (fzc.srv != NULL)
		return;
	snprintf(fzc.dir, sizeof(fzc.dir), "%s", "/tmp/pkish-fuzz-ca.XXXXXX");
	if (mkdtemp(fzc.dir) == NULL || RAND_bytes(r, sizeof(r)) != 1)
		abort();
	hex = pk_hex(r, sizeof(r), 0);
	snprintf(fzc.secret, sizeof(fzc.secret), "%s", hex);
	free(hex);
	if (asprintf(&fzc.cadir, "%s/ca", fzc.dir) < 0)
		abort();
	ca_config_init(&fzc.cfg);
	fzc.cfg.dir = fzc.cadir;
	fzc.cfg.def.ref = "fuzz";
	fzc.cfg.def.secret = fzc.secret;
	if (ca_config_check(&fzc.cfg, &e) != 0 ||
	    ca_open(&fzc.ca, &fzc.cfg, &e) != 0 ||
	    ca_server_new(&fzc.srv, fzc.ca, &e) != 0) {
		fprintf(stderr, "fuzz_ca_server: %s\n", e.msg);
		abort();
	}
}

/* The properties of an answer RSP; AUTHED: the request was authenticated
 * (mode 1). 0 they hold, -1 not. */
static int
fzc_answer_ok(CMP_PKIMESSAGE *rsp, int authed)
{
	unsigned char *der = NULL;
	size_t n = 0;
	CMP_PKIMESSAGE *back = NULL;
	struct pk_err e;
	int type = cmp_msg_body_type(rsp), rc = 0;

	fzc.answered++;
	if (cmp_msg_protection_kind(rsp) == CMP_PROT_NONE ||
	    cmp_msg_encode(rsp, &der, &n, &e) != 0 ||
	    cmp_msg_decode_ex(der, n, CMP_DECODE_DER, &back, &e) != 0)
		rc = -1;
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(back);
	if (rc != 0 || (type != CMP_BODY_IP && type != CMP_BODY_CP &&
	    type != CMP_BODY_KUP))
		return rc;
	for (int i = 0; i < cmp_rep_count(rsp); i++) {
		X509 *cert = cmp_certresp_get0_cert(cmp_rep_get0(rsp, i));

		if (cert == NULL)
			continue;
		fzc.issued++;
		if (!authed || X509_check_ca(cert) != 0 ||
		    X509_NAME_cmp(X509_get_subject_name(cert),
		    X509_get_subject_name(ca_get0_cert(fzc.ca))) == 0)
			rc = -1;
	}
	return rc;
}

/* Input as a request with a fresh transactionID, senderKID = the reference and
 * the CA's MAC: its DER in *out (OPENSSL_free), or -1 when it does not
 * decode. */
static int
fzc_patch(const uint8_t *data, size_t size, unsigned char **out, size_t *n)
{
	CMP_PKIMESSAGE *m = NULL;
	unsigned char tid[16];
	struct pk_err e;
	int rc = -1;

	if (cmp_msg_decode(data, size, &m, &e) != 0)
		return -1;
	if (RAND_bytes(tid, sizeof(tid)) != 1)
		abort();
	if (m->header->transactionID == NULL &&
	    (m->header->transactionID = ASN1_OCTET_STRING_new()) == NULL)
		goto out;
	if (m->header->senderKID == NULL &&
	    (m->header->senderKID = ASN1_OCTET_STRING_new()) == NULL)
		goto out;
	if (!ASN1_OCTET_STRING_set(m->header->transactionID, tid, sizeof(tid)) ||
	    !ASN1_OCTET_STRING_set(m->header->senderKID,
	    (const unsigned char *)"fuzz", 4))
		goto out;
	cmp_msg_touch(m);
	if (cmp_msg_protect_pbm(m, fzc.secret, strlen(fzc.secret), NULL,
	    &e) != 0 || cmp_msg_encode(m, out, n, &e) != 0)
		goto out;
	rc = 0;
out:
	CMP_PKIMESSAGE_free(m);
	return rc;
}

/* 0 fine (every answer with its properties), -1 a property does not hold. */
static int
ca_server_fuzz_one(const uint8_t *data, size_t size)
{
	CMP_PKIMESSAGE *rsp = NULL;
	unsigned char *der = NULL;
	size_t n = 0;
	struct pk_err e;
	int rc = 0;

	fzc_init();
	if (ca_server_process(fzc.srv, &(struct ca_req){ NULL, NULL,
	    data, size }, &rsp, &e) != 0 ||
	    fzc_answer_ok(rsp, 0) != 0)
		rc = -1;
	CMP_PKIMESSAGE_free(rsp);
	rsp = NULL;
	if (rc == 0 && fzc_patch(data, size, &der, &n) == 0) {
		if (ca_server_process(fzc.srv, &(struct ca_req){ NULL,
		    NULL, der, n }, &rsp, &e) != 0 ||
		    fzc_answer_ok(rsp, 1) != 0)
			rc = -1;
		CMP_PKIMESSAGE_free(rsp);
	}
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fzc_init();
	atexit(fzc_free);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ca_server_fuzz_one(data, size) != 0)
		abort();
	return 0;
}
