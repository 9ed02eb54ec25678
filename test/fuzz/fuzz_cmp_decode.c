/*
 * libFuzzer target for the CMP decoder (`make fuzz`, then e.g.
 * build/fuzz/fuzz_cmp_decode -max_total_time=60 test/vectors/...).
 *
 * Feeds the input to cmp_msg_decode() and, when it decodes, runs everything a
 * peer's message reaches: re-encoding (which must give back the input bytes),
 * ProtectedPart, both protection checks, the accessors and the dump. Aborts
 * when a decoded message does not re-encode to its input.
 *
 * test/check_cmp_fuzz.c includes this file to run cmp_fuzz_one() over mutated
 * vectors inside `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "../../cmp/cmp.h"

/* 0 fine (decoded or cleanly refused), -1 a property does not hold. */
static int
cmp_fuzz_one(const uint8_t *data, size_t size)
{
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;
	struct sbuf s = SBUF_INIT;
	unsigned char *der = NULL;
	size_t len = 0;
	int i, rc = 0;
	X509 *x;
	char *t;

	if (cmp_msg_decode(data, size, &m, &e) != 0) {
		(void)cmp_msg_peek_body_type(data, size);
		return 0;
	}
	/* a decoded message re-encodes to the same bytes */
	if (cmp_msg_encode(m, &der, &len, &e) != 0 || len != size ||
	    memcmp(der, data, size) != 0)
		rc = -1;
	OPENSSL_free(der);
	der = NULL;
	if (cmp_msg_protected_part(m, &der, &len, &e) == 0)
		OPENSSL_free(der);
	(void)cmp_msg_verify_pbm(m, "fuzz", 4, NULL, &e);
	x = sk_X509_value(cmp_msg_get0_extra_certs(m), 0);
	if (x != NULL)
		(void)cmp_msg_verify_sig(m, x, &e);
	t = cmp_msg_protection_desc(m);
	free(t);
	cmp_msg_dump(m, &s);
	sbuf_free(&s);
	for (i = 0; i < cmp_req_count(m); i++) {
		CMP_CERTREQMSG *crm = cmp_req_get0(m, i);
		X509_NAME *iss;
		ASN1_INTEGER *sn;
		GENERAL_NAMES *san;

		(void)cmp_crm_verify_pop(crm, 0, &e);
		if (cmp_crm_get1_old_cert_id(crm, &iss, &sn, &e) == 0) {
			X509_NAME_free(iss);
			ASN1_INTEGER_free(sn);
		}
		san = cmp_tmpl_get1_san(cmp_crm_get0_template(crm));
		GENERAL_NAMES_free(san);
	}
	for (i = 0; i < cmp_rep_count(m); i++) {
		x = cmp_certresp_get0_cert(cmp_rep_get0(m, i));
		t = cmp_si_describe(cmp_msg_get0_status(m, i));
		free(t);
		for (int j = 0; x != NULL && j < cmp_certconf_count(m); j++)
			(void)cmp_certstatus_check_hash(cmp_certconf_get0(m, j), x, &e);
	}
	for (i = 0; i < cmp_certconf_count(m); i++) {
		t = cmp_si_describe(cmp_msg_get0_status(m, i));
		free(t);
	}
	for (i = 0; i < cmp_rr_count(m); i++)
		(void)cmp_rr_reason(m, i);
	t = cmp_error_details(m);
	free(t);
	(void)cmp_msg_implicit_confirm(m);
	{
		time_t tt;

		(void)cmp_msg_confirm_wait_time(m, &tt);
	}
	CMP_PKIMESSAGE_free(m);
	ERR_clear_error();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (cmp_fuzz_one(data, size) != 0)
		abort();
	return 0;
}
