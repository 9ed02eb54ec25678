/*
 * libFuzzer target for the CA's request processing (`make fuzz`, then e.g.
 *   mkdir -p build/fuzz/corpus-ca
 *   build/fuzz/fuzz_ca_request -max_total_time=60 build/fuzz/corpus-ca \
 *       test/vectors/openssl-65
 * the corpus directory first: libFuzzer writes new inputs into it).
 *
 * One CA serves every input: made on its first run (EC P-256, self-signed) in
 * a temporary directory (in /dev/shm when there is one: SQLite's syncs are
 * then free), the default profile with reference "fuzz" and a secret. Each
 * input is the body of an HTTP request, given to ca_server_handle(), the entry
 * point of cmpca's HTTP front:
 *   0. as it came;
 *   1. when it decodes, with senderKID set to the reference and MAC-protected
 *      with the secret (RFC 4210 5.1.3.1), so that what the CA checks after
 *      the protection (body, proof of possession, transactions, nonces,
 *      issuance and confirmation) is reached too.
 * Property (abort when it fails): every request gets an answer, and the answer
 * is a CMP message that decodes strictly (CMP_DECODE_DER) and whose
 * protection verifies: signed by the CA, or with the profile's secret.
 *
 * The directory is removed at exit (libFuzzer and test/fuzz/replay.c end with
 * exit()).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "../../ca/ca.h"
#include "../../cmp/cmp.h"
#include "../../cmp/cmp_asn1.h"

#define REF	"fuzz"
#define SECRET	"fuzz-ca-secret"

static char dir[] = "/dev/shm/pkish-fuzzca.XXXXXX";
static char cadir[sizeof(dir) + 8];
static struct ca_config cfg;
static struct ca *ca;
static struct ca_server *srv;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	(void)remove(p);
	return 0;
}

static void
done(void)
{
	ca_server_free(srv);
	ca_close(ca);
	ca_config_clear(&cfg);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	struct pk_err e;

	if (mkdtemp(dir) == NULL) {	/* no tmpfs: on the disk */
		strcpy(dir, "/tmp/pkish-fuzzca.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	snprintf(cadir, sizeof(cadir), "%s/ca", dir);
	ca_config_init(&cfg);
	cfg.dir = cadir;
	cfg.def.ref = REF;
	cfg.def.secret = SECRET;
	if (ca_config_check(&cfg, &e) != 0 || ca_open(&ca, &cfg, &e) != 0 ||
	    ca_server_new(&srv, ca, &e) != 0) {
		fprintf(stderr, "fuzz_ca_request: %s\n", e.msg);
		abort();
	}
	atexit(done);
}

/* 0 when REQ got an answer that decodes and whose protection verifies. */
static int
ask(const unsigned char *req, size_t len)
{
	unsigned char *rsp = NULL;
	size_t n = 0;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;
	int rc = -1;

	if (ca_server_handle(srv, NULL, req, len, &rsp, &n) != 0) {
		fprintf(stderr, "fuzz_ca_request: no answer\n");
		goto out;
	}
	if (cmp_msg_decode_ex(rsp, n, CMP_DECODE_DER, &m, &e) != 0) {
		fprintf(stderr, "fuzz_ca_request: the answer: %s\n", e.msg);
		goto out;
	}
	switch (cmp_msg_protection_kind(m)) {
	case CMP_PROT_PBM:
		rc = cmp_msg_verify_pbm(m, SECRET, strlen(SECRET), NULL, &e);
		break;
	case CMP_PROT_SIG:
		rc = cmp_msg_verify_sig(m, ca_get0_cert(ca), &e);
		break;
	default:
		snprintf(e.msg, sizeof(e.msg), "not protected");
		break;
	}
	if (rc != 0)
		fprintf(stderr, "fuzz_ca_request: the answer's protection: %s\n",
		    e.msg);
out:
	CMP_PKIMESSAGE_free(m);
	free(rsp);
	ERR_clear_error();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CMP_PKIMESSAGE *m = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	struct pk_err e;

	if (srv == NULL)
		setup();
	if (ask(data, size) != 0)
		abort();
	if (cmp_msg_decode(data, size, &m, &e) != 0)
		goto out;
	/* the same request as one of ours would send it: our reference, our MAC */
	if (m->header->senderKID == NULL &&
	    (m->header->senderKID = ASN1_OCTET_STRING_new()) == NULL)
		abort();
	if (!ASN1_OCTET_STRING_set(m->header->senderKID,
	    (const unsigned char *)REF, strlen(REF)))
		abort();
	cmp_msg_touch(m);
	if (cmp_msg_protect_pbm(m, SECRET, strlen(SECRET), NULL, &e) == 0 &&
	    cmp_msg_encode(m, &der, &len, &e) == 0 && ask(der, len) != 0)
		abort();
out:
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(m);
	ERR_clear_error();
	return 0;
}
