/*
 * Check suite for the CMP message layer (cmp_asn1.c, cmp_protect.c, cmp_msg.c,
 * cmp_build.c): known-answer tests over test/vectors (decode, byte-
 * identical re-encode, protection with the secret or certificate the README
 * names, tampered copies fail), strict decoding, builders and protection round
 * trips, and messages produced at test time by the real `openssl cmp` client
 * against its own mock server.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../cmp/cmp.h"
#include "testutil.h"

static char *dir;	/* keys and certificates made by `openssl` at test time */

static void
fixture_up(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(tu_sh("(cd '%s' && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout ca.key -out ca.crt -subj '/CN=Test CA' -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=keyCertSign,cRLSign && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout srv.key -out srv.crt -subj '/CN=Mock Server' -days 30 && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out ee.key && "
	    "openssl req -new -key ee.key -subj '/CN=ee/O=pkish' -out ee.csr && "
	    "printf 'basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,"
	    "keyEncipherment\\nsubjectKeyIdentifier=hash\\n"
	    "authorityKeyIdentifier=keyid\\n' > ext.cnf && "
	    "openssl x509 -req -in ee.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -days 30 -extfile ext.cnf -out ee.crt && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out other.key && "
	    "openssl req -x509 -key other.key -subj '/CN=other' -days 30 "
	    "-out other.crt && "
	    "openssl genpkey -algorithm ED25519 -out ed.key && "
	    "openssl req -x509 -key ed.key -subj '/CN=ed' -days 30 -out ed.crt"
	    ") >'%s/setup.log' 2>&1", dir, dir), 0);
}

static void
fixture_down(void)
{
	tu_rmrf(dir);
	free(dir);
	dir = NULL;
}

static char *
path_in(const char *d, const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", d, name), 0);
	return p;
}

static char *
vec(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/test/vectors/%s", tu_top(),
	    name), 0);
	return p;
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "rb");
	X509 *x;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	ck_assert_msg(x != NULL, "cannot read certificate %s", path);
	return x;
}

static X509 *
fcert(const char *name)
{
	char *p = path_in(dir, name);
	X509 *x = load_cert(p);

	free(p);
	return x;
}

static EVP_PKEY *
fkey(const char *name)
{
	char *p = path_in(dir, name);
	FILE *f = fopen(p, "rb");
	EVP_PKEY *k;

	ck_assert_ptr_nonnull(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* Decodes FILE; asserts it re-encodes to the same bytes. */
static CMP_PKIMESSAGE *
decode_file(const char *path, unsigned char **derp, size_t *lenp)
{
	struct pk_err e;
	CMP_PKIMESSAGE *m = NULL;
	unsigned char *der, *out;
	size_t len, olen;

	der = (unsigned char *)tu_read(path, &len);
	ck_assert_msg(der != NULL, "cannot read %s", path);
	ck_assert_msg(cmp_msg_decode(der, len, &m, &e) == 0, "%s: %s", path,
	    e.msg);
	ck_assert_int_eq(cmp_msg_encode(m, &out, &olen, &e), 0);
	ck_assert_msg(olen == len && memcmp(out, der, len) == 0,
	    "%s: re-encoding differs", path);
	OPENSSL_free(out);
	if (derp != NULL) {
		*derp = der;
		*lenp = len;
	} else {
		free(der);
	}
	return m;
}

/* Flips a bit of the senderNonce inside DER (keeps it decodable). */
static void
tamper(const CMP_PKIMESSAGE *m, unsigned char *der, size_t len)
{
	const ASN1_OCTET_STRING *n = cmp_msg_get0_sender_nonce(m);
	unsigned char *p;

	if (n == NULL)
		n = cmp_msg_get0_transaction_id(m);
	ck_assert_ptr_nonnull(n);
	p = memmem(der, len, n->data, (size_t)n->length);
	ck_assert_ptr_nonnull(p);
	p[n->length - 1] ^= 0x01;
}

enum vmode { V_NONE, V_SECRET, V_CERT, V_EXTRA, V_PBMAC1 };
struct vcase {
	const char *file;
	enum vmode mode;
	const char *arg;	/* secret, certificate file, or extraCerts index */
	int body;
};

static const struct vcase vcases[] = {
	{ "openssl-65/protect/IR_protected.der", V_CERT,
	    "openssl-65/protect/server.crt", CMP_BODY_IR },
	{ "openssl-65/vfy/IR_protected.der", V_CERT, "openssl-65/vfy/server.crt",
	    CMP_BODY_IR },
	{ "openssl-65/protect/IR_unprotected.der", V_NONE, NULL, CMP_BODY_IR },
	{ "openssl-65/vfy/IR_unprotected.der", V_NONE, NULL, CMP_BODY_IR },
	{ "openssl-65/protect/IP_PBM.der", V_SECRET, "insta", CMP_BODY_IP },
	{ "openssl-65/vfy/IP_waitingStatus_PBM.der", V_SECRET,
	    "9pp8-b35i-Xd3Q-udNR", CMP_BODY_IP },
	{ "openssl-65/vfy/IR_protected_0_extraCerts.der", V_CERT,
	    "openssl-65/vfy/insta.cert.pem", CMP_BODY_IR },
	{ "openssl-65/vfy/IR_protected_2_extraCerts.der", V_EXTRA, "1",
	    CMP_BODY_IR },
	{ "openssl-65/vfy/IR_rmprotection.der", V_NONE, NULL, CMP_BODY_IP },
	{ "openssl-65/server/CR_protected_PBM_1234.der", V_SECRET, "1234",
	    CMP_BODY_CR },
	{ "rustcrypto-cmpv2/ir_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_IR },
	{ "rustcrypto-cmpv2/cr_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_CR },
	{ "rustcrypto-cmpv2/p10cr_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_P10CR },
	{ "rustcrypto-cmpv2/kur_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_KUR },
	{ "rustcrypto-cmpv2/rr_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_RR },
	{ "rustcrypto-cmpv2/genm_req_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_GENM },
	{ "rustcrypto-cmpv2/ir_rsp_01.bin", V_CERT,
	    "rustcrypto-cmpv2/ec384-server-key.crt", CMP_BODY_IP },
	{ "rustcrypto-cmpv2/cr_rsp_01.bin", V_CERT,
	    "rustcrypto-cmpv2/ec384-server-key.crt", CMP_BODY_CP },
	{ "rustcrypto-cmpv2/failed_kur_rsp_01.bin", V_CERT,
	    "rustcrypto-cmpv2/ec384-server-key.crt", CMP_BODY_ERROR },
	{ "rustcrypto-cmpv2/p10cr_rsp_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_CP },
	{ "rustcrypto-cmpv2/kur_rsp_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_KUP },
	{ "rustcrypto-cmpv2/rr_rsp_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_RP },
	{ "rustcrypto-cmpv2/genm_rsp_01.bin", V_SECRET, "1234-5678-1234-5678",
	    CMP_BODY_GENP },
};

/* The lwcmpra flows: every message signed by extraCerts[0], except the two
 * PBMAC1-protected downstream messages of IrWithMacProtection. */
static const char *const lw_files[] = {
	"CrDelayed/downstream_CERT_CONFIRM", "CrDelayed/downstream_CERT_REP",
	"CrDelayed/downstream_CERT_REQ", "CrDelayed/downstream_CONFIRM",
	"CrDelayed/downstream_POLL_REP", "CrDelayed/downstream_POLL_REQ",
	"CrDelayed/upstream_CERT_REP", "CrDelayed/upstream_CERT_REQ",
	"CrWithSignatureProtection/downstream_CERT_CONFIRM",
	"CrWithSignatureProtection/downstream_CERT_REP",
	"CrWithSignatureProtection/downstream_CERT_REQ",
	"CrWithSignatureProtection/downstream_CONFIRM",
	"CrWithSignatureProtection/upstream_CERT_CONFIRM",
	"CrWithSignatureProtection/upstream_CERT_REP",
	"CrWithSignatureProtection/upstream_CERT_REQ",
	"CrWithSignatureProtection/upstream_CONFIRM",
	"IrWithMacProtection/downstream_CERT_CONFIRM",
	"IrWithMacProtection/downstream_CONFIRM",
	"IrWithMacProtection/downstream_INIT_REP",
	"IrWithMacProtection/downstream_INIT_REQ",
	"IrWithMacProtection/upstream_CERT_CONFIRM",
	"IrWithMacProtection/upstream_CONFIRM",
	"IrWithMacProtection/upstream_INIT_REP",
	"IrWithMacProtection/upstream_INIT_REQ",
	"Kur/downstream_CERT_CONFIRM", "Kur/downstream_CONFIRM",
	"Kur/downstream_KEY_UPDATE_REP", "Kur/downstream_KEY_UPDATE_REQ",
	"Kur/upstream_CERT_CONFIRM", "Kur/upstream_CONFIRM",
	"Kur/upstream_KEY_UPDATE_REP", "Kur/upstream_KEY_UPDATE_REQ",
	"Rr/downstream_REVOCATION_REP", "Rr/downstream_REVOCATION_REQ",
	"Rr/upstream_REVOCATION_REP", "Rr/upstream_REVOCATION_REQ",
};

/* Verifies M per MODE/ARG; returns 0 on success with E filled otherwise. */
static int
verify_as(const CMP_PKIMESSAGE *m, enum vmode mode, const char *arg,
    struct pk_err *e)
{
	X509 *x;
	char *p;
	int rc;

	switch (mode) {
	case V_SECRET:
		return cmp_msg_verify_pbm(m, arg, strlen(arg), NULL, e);
	case V_CERT:
		p = vec(arg);
		x = load_cert(p);
		free(p);
		rc = cmp_msg_verify_sig(m, x, e);
		X509_free(x);
		return rc;
	case V_EXTRA:
		x = sk_X509_value(cmp_msg_get0_extra_certs(m), atoi(arg));
		ck_assert_ptr_nonnull(x);
		return cmp_msg_verify_sig(m, x, e);
	case V_PBMAC1:
		return cmp_msg_verify_pbm(m, arg, strlen(arg), NULL, e);
	default:
		return cmp_msg_protection_kind(m) == CMP_PROT_NONE ? 0 : -1;
	}
}

static void
run_vcase(const char *file, enum vmode mode, const char *arg, int body)
{
	char *p = vec(file);
	unsigned char *der;
	size_t len;
	CMP_PKIMESSAGE *m = decode_file(p, &der, &len), *t = NULL;
	struct pk_err e;

	if (body >= 0)
		ck_assert_msg(cmp_msg_body_type(m) == body, "%s: body %s", file,
		    cmp_body_name(cmp_msg_body_type(m)));
	if (mode == V_PBMAC1) {
		/* decodes and re-encodes, but the protection is reported as an
		 * unsupported algorithm, clearly */
		ck_assert_int_eq(cmp_msg_protection_kind(m), CMP_PROT_PBMAC1);
		ck_assert_int_eq(verify_as(m, mode, arg, &e), -1);
		ck_assert_msg(strstr(e.msg, "unsupported protection algorithm "
		    "PBMAC1") != NULL, "%s: %s", file, e.msg);
		goto out;
	}
	ck_assert_msg(verify_as(m, mode, arg, &e) == 0, "%s: %s", file, e.msg);
	if (mode == V_NONE)
		goto out;
	/* a tampered copy must fail */
	tamper(m, der, len);
	ck_assert_msg(cmp_msg_decode(der, len, &t, &e) == 0, "%s tampered: %s",
	    file, e.msg);
	ck_assert_msg(verify_as(t, mode, arg, &e) == -1, "%s: tampered copy "
	    "verifies", file);
	if (mode == V_SECRET)
		ck_assert_msg(strstr(e.msg, "wrong MAC") != NULL, "%s", e.msg);
	else
		ck_assert_msg(strstr(e.msg, "signature does not verify") != NULL,
		    "%s", e.msg);
	if (mode == V_SECRET) {
		ck_assert_int_eq(cmp_msg_verify_pbm(m, "wrong", 5, NULL, &e), -1);
		ck_assert_ptr_nonnull(strstr(e.msg, "wrong MAC"));
	}
out:
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(t);
	free(der);
	free(p);
}

START_TEST(vectors_openssl_rustcrypto)
{
	const struct vcase *c = &vcases[_i];

	run_vcase(c->file, c->mode, c->arg, c->body);
}
END_TEST

START_TEST(vectors_lwcmpra)
{
	char name[200];
	int pbmac1 = strcmp(lw_files[_i], "IrWithMacProtection/"
	    "downstream_CERT_CONFIRM") == 0 || strcmp(lw_files[_i],
	    "IrWithMacProtection/downstream_INIT_REQ") == 0;

	snprintf(name, sizeof(name), "lwcmpra-messageflows/%s.PKI", lw_files[_i]);
	run_vcase(name, pbmac1 ? V_PBMAC1 : V_EXTRA, pbmac1 ? "Password" : "0",
	    -1);
}
END_TEST

START_TEST(vector_contents)
{
	CMP_PKIMESSAGE *m;
	char *p, *s;
	long id, after;
	struct pk_err e;
	time_t t;

	/* waiting status of a polling start (RFC 4210 5.3.22) */
	p = vec("openssl-65/vfy/IP_waitingStatus_PBM.der");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_int_eq(cmp_rep_count(m), 1);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(m, 0)),
	    CMP_STATUS_WAITING);
	ck_assert_ptr_null(cmp_certresp_get0_cert(cmp_rep_get0(m, 0)));
	ck_assert_str_eq(cmp_msg_get0_sender_kid(m)->data[0] == '4' ? "ok" : "x",
	    "ok");
	CMP_PKIMESSAGE_free(m);

	/* pollRep with checkAfter */
	p = vec("lwcmpra-messageflows/CrDelayed/downstream_POLL_REP.PKI");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_int_eq(cmp_pollrep_count(m), 1);
	ck_assert_int_eq(cmp_pollrep_get(m, 0, &id, &after, &s, &e), 0);
	ck_assert_int_eq(id, 0);
	ck_assert_int_ge(after, 0);
	free(s);
	CMP_PKIMESSAGE_free(m);

	/* ip with certificate (Insta Demo CA) */
	p = vec("openssl-65/protect/IP_PBM.der");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_ptr_nonnull(cmp_certresp_get0_cert(cmp_rep_find(m, 0)));
	ck_assert_int_eq(sk_X509_num(cmp_msg_get0_extra_certs(m)), 1);
	ck_assert_int_eq(cmp_si_status(cmp_certresp_get0_status(
	    cmp_rep_get0(m, 0))), CMP_STATUS_ACCEPTED);
	ck_assert_int_eq(cmp_msg_get0_transaction_id(m)->length, 16);
	ck_assert_ptr_nonnull(cmp_msg_get0_recip_nonce(m));
	CMP_PKIMESSAGE_free(m);

	/* kur with oldCertID, POP that verifies */
	p = vec("rustcrypto-cmpv2/kur_req_01.bin");
	m = decode_file(p, NULL, NULL);
	free(p);
	{
		X509_NAME *iss;
		ASN1_INTEGER *sn;

		ck_assert_int_eq(cmp_crm_get1_old_cert_id(cmp_req_get0(m, 0), &iss,
		    &sn, &e), 0);
		ck_assert_ptr_nonnull(iss);
		ck_assert_ptr_nonnull(sn);
		X509_NAME_free(iss);
		ASN1_INTEGER_free(sn);
	}
	ck_assert_msg(cmp_crm_verify_pop(cmp_req_get0(m, 0), 0, &e) == 0, "%s",
	    e.msg);
	ck_assert_ptr_nonnull(cmp_tmpl_get0_pubkey(cmp_crm_get0_template(
	    cmp_req_get0(m, 0))));
	CMP_PKIMESSAGE_free(m);

	/* genm with generalInfo; error with status */
	p = vec("rustcrypto-cmpv2/genm_req_01.bin");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_ptr_nonnull(cmp_msg_get0_itavs(m));
	ck_assert_int_eq(cmp_msg_confirm_wait_time(m, &t), -1);
	CMP_PKIMESSAGE_free(m);
	p = vec("rustcrypto-cmpv2/failed_kur_rsp_01.bin");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(m, 0)),
	    CMP_STATUS_REJECTION);
	s = cmp_si_describe(cmp_msg_get0_status(m, 0));
	ck_assert_ptr_nonnull(strstr(s, "rejection"));
	free(s);
	CMP_PKIMESSAGE_free(m);

	/* p10cr; rr certDetails */
	p = vec("rustcrypto-cmpv2/p10cr_req_01.bin");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_ptr_nonnull(cmp_msg_get0_p10(m));
	CMP_PKIMESSAGE_free(m);
	p = vec("rustcrypto-cmpv2/rr_req_01.bin");
	m = decode_file(p, NULL, NULL);
	free(p);
	ck_assert_int_eq(cmp_rr_count(m), 1);
	ck_assert_ptr_nonnull(cmp_tmpl_get0_serial(cmp_rr_get0_details(m, 0)));
	ck_assert_ptr_nonnull(cmp_tmpl_get0_issuer(cmp_rr_get0_details(m, 0)));
	CMP_PKIMESSAGE_free(m);
}
END_TEST

/* --- strict decoding --- */

static unsigned char *
load_vec(const char *name, size_t *len)
{
	char *p = vec(name);
	unsigned char *d = (unsigned char *)tu_read(p, len);

	ck_assert_ptr_nonnull(d);
	free(p);
	return d;
}

START_TEST(strict_decode)
{
	struct pk_err e;
	CMP_PKIMESSAGE *m;
	size_t len, i;
	unsigned char *der = load_vec("rustcrypto-cmpv2/ir_req_01.bin", &len);
	unsigned char *big;

	/* trailing bytes */
	der = realloc(der, len + 1);
	der[len] = 0;
	ck_assert_int_eq(cmp_msg_decode(der, len + 1, &m, &e), -1);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(e.msg, "trailing") != NULL, "%s", e.msg);
	/* every truncation */
	for (i = 0; i < len; i++)
		ck_assert_msg(cmp_msg_decode(der, i, &m, &e) == -1,
		    "prefix of %zu bytes decoded", i);
	/* wrong outer tag */
	der[0] = 0x31;
	ck_assert_int_eq(cmp_msg_decode(der, len, &m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "malformed"));
	der[0] = 0x30;
	ck_assert_int_eq(cmp_msg_decode(der, len, &m, &e), 0);
	CMP_PKIMESSAGE_free(m);
	/* over the size cap, before any parsing */
	big = calloc(1, CMP_MSG_MAX_SIZE + 1);
	memcpy(big, der, len);
	ck_assert_int_eq(cmp_msg_decode(big, CMP_MSG_MAX_SIZE + 1, &m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "too large"));
	free(big);
	ck_assert_int_eq(cmp_msg_decode(der, 0, &m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "empty"));
	free(der);
}
END_TEST

/* The offset of the body tag in DER (after the outer header and the header). */
static size_t
body_offset(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *q;
	long l;
	int tag, cls;

	ck_assert_int_eq(ASN1_get_object(&p, &l, &tag, &cls, (long)len) & 0x80, 0);
	q = p;
	ck_assert_int_eq(ASN1_get_object(&q, &l, &tag, &cls, (long)len) & 0x80, 0);
	return (size_t)(q - der) + (size_t)l;
}

START_TEST(ber_length_kept)
{
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	CMP_PKIMESSAGE *m, *d, *m2;
	unsigned char *der, *ber, *out;
	const unsigned char *p;
	size_t len, blen, olen, hl;
	long l;
	int tag, cls;

	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "pw", 2, NULL, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert(cmp_msg_is_der(m));
	/* the outer length in a non-minimal 4-byte long form: BER, not DER */
	p = der;
	ASN1_get_object(&p, &l, &tag, &cls, (long)len);
	hl = (size_t)(p - der);
	blen = 6 + (size_t)l;
	ber = malloc(blen);
	ber[0] = 0x30;
	ber[1] = 0x84;
	ber[2] = (unsigned char)(l >> 24);
	ber[3] = (unsigned char)(l >> 16);
	ber[4] = (unsigned char)(l >> 8);
	ber[5] = (unsigned char)l;
	memcpy(ber + 6, der + hl, (size_t)l);
	ck_assert_int_eq(cmp_msg_decode(ber, blen, &d, &e), 0);
	ck_assert(!cmp_msg_is_der(d));
	/* the protocol paths' decoder refuses it, saying where */
	ck_assert_int_eq(cmp_msg_decode_ex(ber, blen, CMP_DECODE_DER, &m2, &e), -1);
	ck_assert_ptr_null(m2);
	ck_assert_msg(strstr(e.msg, "RFC 6712 3.3: the message is not DER") &&
	    strstr(e.msg, "non-minimal length at byte 0 (leading zero octet)"),
	    "%s", e.msg);
	ck_assert_int_eq(cmp_msg_decode_ex(der, len, CMP_DECODE_DER, &m2, &e), 0);
	CMP_PKIMESSAGE_free(m2);
	/* kept as received, and the protection still verifies over it */
	ck_assert_int_eq(cmp_msg_encode(d, &out, &olen, &e), 0);
	ck_assert(olen == blen && memcmp(out, ber, blen) == 0);
	ck_assert_int_eq(cmp_msg_verify_pbm(d, "pw", 2, NULL, &e), 0);
	OPENSSL_free(out);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	OPENSSL_free(der);
	free(ber);
}
END_TEST

/* The strict decoder's other BER forms, anywhere in the message: an
 * indefinite length (the outer SEQUENCE), a long-form length below 128 (a
 * header field), a constructed OCTET STRING (the transactionID). The plain
 * decoder takes all three. */
START_TEST(der_strict_forms)
{
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	CMP_PKIMESSAGE *m, *d;
	unsigned char *der, *b;
	const unsigned char *tid;
	size_t len, i;

	h.transaction_id = (const unsigned char *)"0123456789abcdef";
	h.transaction_id_len = 16;
	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "pw", 2, NULL, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	CMP_PKIMESSAGE_free(m);
	ck_assert(der[1] == 0x81 || der[1] == 0x82);
	tid = memmem(der, len, "\x04\x10" "0123456789abcdef", 18);
	ck_assert_ptr_nonnull(tid);

	/* indefinite outer length: 30 80 <content> 00 00 */
	{
		size_t hl = der[1] == 0x81 ? 3 : 4, cl = len - hl;

		b = malloc(cl + 4);
		b[0] = 0x30;
		b[1] = 0x80;
		memcpy(b + 2, der + hl, cl);
		b[cl + 2] = b[cl + 3] = 0;
		ck_assert_int_eq(cmp_msg_decode(b, cl + 4, &d, &e), 0);
		CMP_PKIMESSAGE_free(d);
		ck_assert_int_eq(cmp_msg_decode_ex(b, cl + 4, CMP_DECODE_DER, &d,
		    &e), -1);
		ck_assert_msg(strstr(e.msg, "indefinite length at byte 0"), "%s",
		    e.msg);
		free(b);
	}
	/* the transactionID OCTET STRING (inside [4] EXPLICIT) with its length
	 * in the long form 0x81 0x10; the lengths around it grow by one */
	{
		size_t off = (size_t)(tid - der);

		b = malloc(len + 1);
		memcpy(b, der, off + 1);
		b[off + 1] = 0x81;
		memcpy(b + off + 2, der + off + 1, len - off - 1);
		/* outer, header and the [4] tag: add one to each length */
		ck_assert_int_eq(b[off - 1], 0x12);
		b[off - 1]++;
		for (i = 0; i < 2; i++) {
			unsigned char *l = i == 0 ? b + 1 : NULL;

			if (i == 1) {
				/* the header SEQUENCE follows the outer header */
				size_t ho = der[1] == 0x81 ? 3 : 4;

				l = b + ho + 1;
			}
			if (*l & 0x80) {
				int n = *l & 0x7f;

				l[n]++;
			} else {
				(*l)++;
			}
		}
		ck_assert_int_eq(cmp_msg_decode(b, len + 1, &d, &e), 0);
		ck_assert_int_eq(ASN1_STRING_length(cmp_msg_get0_transaction_id(d)),
		    16);
		CMP_PKIMESSAGE_free(d);
		ck_assert_int_eq(cmp_msg_decode_ex(b, len + 1, CMP_DECODE_DER, &d,
		    &e), -1);
		ck_assert_msg(strstr(e.msg, "non-minimal length at byte") &&
		    strstr(e.msg, "(long form for 16)"), "%s", e.msg);
		free(b);
	}
	/* the transactionID as a constructed OCTET STRING: 24 12 04 10 ... */
	{
		size_t off = (size_t)(tid - der);

		b = malloc(len + 2);
		memcpy(b, der, off);
		b[off] = 0x24;
		b[off + 1] = 0x12;
		memcpy(b + off + 2, der + off, len - off);
		b[off - 1] += 2;
		for (i = 0; i < 2; i++) {
			size_t ho = der[1] == 0x81 ? 3 : 4;
			unsigned char *l = i == 0 ? b + 1 : b + ho + 1;

			if (*l & 0x80)
				l[*l & 0x7f] += 2;
			else
				*l += 2;
		}
		if (cmp_msg_decode(b, len + 2, &d, &e) == 0)
			CMP_PKIMESSAGE_free(d);
		ck_assert_int_eq(cmp_msg_decode_ex(b, len + 2, CMP_DECODE_DER, &d,
		    &e), -1);
		ck_assert_msg(strstr(e.msg, "not DER"), "%s", e.msg);
		free(b);
	}
	OPENSSL_free(der);
}
END_TEST

START_TEST(unsupported_body_and_pvno)
{
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	CMP_PKIMESSAGE *m, *d;
	unsigned char *der;
	size_t len, off;

	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	off = body_offset(der, len);
	ck_assert_int_eq(der[off], 0xa0 | 21);
	der[off] = 0xa0 | 5;	/* popdecc */
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), -1);
	ck_assert_str_eq(e.msg, "unsupported body type popdecc (5)");
	der[off] = 0xa0 | 20;	/* nested */
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), -1);
	ck_assert_str_eq(e.msg, "unsupported body type nested (20)");
	der[off] = 0xa0 | 27;	/* beyond RFC 4210 */
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unsupported body type"));
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(m);

	/* pvno: 3 accepted (RFC 9480), 1 refused except on error */
	h.pvno = 3;
	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), 0);
	ck_assert_int_eq(cmp_msg_pvno(d), 3);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	OPENSSL_free(der);
	h.pvno = 1;
	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "pvno 1"));
	CMP_PKIMESSAGE_free(m);
	OPENSSL_free(der);
	ck_assert_int_eq(cmp_build_error(&h, NULL, CMP_STATUS_REJECTION, 0, NULL,
	    -1, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert_int_eq(cmp_msg_decode(der, len, &d, &e), 0);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	OPENSSL_free(der);
}
END_TEST

START_TEST(names)
{
	char *s;

	s = cmp_failinfo_names(CMP_FAIL(CMP_FAIL_BAD_POP) |
	    CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	ck_assert_str_eq(s, "badMessageCheck, badPOP");
	free(s);
	s = cmp_failinfo_names(0);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_str_eq(cmp_failinfo_name(CMP_FAIL_DUPLICATE_CERT_REQ),
	    "duplicateCertReq");
	ck_assert_str_eq(cmp_failinfo_name(CMP_FAIL_TRANSACTION_ID_IN_USE),
	    "transactionIdInUse");
	ck_assert_ptr_null(cmp_failinfo_name(27));
	ck_assert_str_eq(cmp_status_name(CMP_STATUS_WAITING), "waiting");
	ck_assert_str_eq(cmp_body_name(CMP_BODY_CERTCONF), "certConf");
	ck_assert_str_eq(cmp_body_name(CMP_BODY_POLLREP), "pollRep");
	ck_assert(!cmp_body_supported(CMP_BODY_KRR));
}
END_TEST

/* --- builders and protection --- */

/* Encodes, decodes, and checks that a fresh encoding from the structures is the
 * same: what we emit is strict DER. */
static CMP_PKIMESSAGE *
roundtrip(const CMP_PKIMESSAGE *m)
{
	struct pk_err e;
	unsigned char *der, *der2;
	size_t len, len2;
	CMP_PKIMESSAGE *d;

	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert_msg(cmp_msg_decode(der, len, &d, &e) == 0, "%s", e.msg);
	cmp_msg_touch(d);
	ck_assert_int_eq(cmp_msg_encode(d, &der2, &len2, &e), 0);
	ck_assert(len == len2 && memcmp(der, der2, len) == 0);
	OPENSSL_free(der);
	OPENSSL_free(der2);
	return d;
}

static X509_NAME *
name_of(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"pkish", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	return n;
}

START_TEST(ir_pbm_roundtrip)
{
	struct pk_err e;
	EVP_PKEY *key = fkey("ee.key");
	X509_NAME *subj = name_of("device1"), *snd = name_of("device1"),
	    *rcp = name_of("Test CA");
	GENERAL_NAMES *san = sk_GENERAL_NAME_new_null(), *san2;
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	struct cmp_hdr h = { 0 };
	struct cmp_certreq r = { 0 };
	struct cmp_pbm_opts o = { NID_sha512, NID_hmacWithSHA512, 1000, 20 };
	CMP_PKIMESSAGE *m, *d;
	CMP_CERTREQMSG *crm;
	char *desc;

	ASN1_STRING_set(ia5, "dev1.example.net", -1);
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	sk_GENERAL_NAME_push(san, gn);
	h.sender = snd;
	h.recipient = rcp;
	h.sender_kid = (const unsigned char *)"ref1";
	h.sender_kid_len = 4;
	h.implicit_confirm = 1;
	r.subject = subj;
	r.key = key;
	r.san = san;
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "s3cret", 6, NULL, &e), 0);
	d = roundtrip(m);
	ck_assert_msg(cmp_msg_verify_pbm(d, "s3cret", 6, NULL, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(cmp_msg_verify_pbm(d, "s3creT", 6, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "wrong MAC"));
	desc = cmp_msg_protection_desc(d);
	ck_assert_str_eq(desc, "PBM owf=SHA256 iterations=500 salt=16 bytes "
	    "mac=hmacWithSHA256");
	free(desc);
	/* header */
	ck_assert_int_eq(cmp_msg_body_type(d), CMP_BODY_IR);
	ck_assert_int_eq(cmp_msg_pvno(d), 2);
	ck_assert_int_eq(cmp_msg_get0_transaction_id(d)->length, 16);
	ck_assert_int_eq(cmp_msg_get0_sender_nonce(d)->length, 16);
	ck_assert_ptr_null(cmp_msg_get0_recip_nonce(d));
	ck_assert_int_eq(X509_NAME_cmp(cmp_msg_get0_sender_name(d), snd), 0);
	ck_assert_int_eq(X509_NAME_cmp(cmp_msg_get0_recipient_name(d), rcp), 0);
	ck_assert_int_eq(cmp_msg_get0_sender_kid(d)->length, 4);
	ck_assert_int_eq(cmp_msg_implicit_confirm(d), 1);
	ck_assert_ptr_nonnull(cmp_msg_get0_message_time(d));
	/* request */
	ck_assert_int_eq(cmp_req_count(d), 1);
	crm = cmp_req_get0(d, 0);
	ck_assert_int_eq(cmp_crm_req_id(crm), 0);
	ck_assert_int_eq(X509_NAME_cmp(cmp_tmpl_get0_subject(
	    cmp_crm_get0_template(crm)), subj), 0);
	ck_assert_int_eq(EVP_PKEY_eq(cmp_tmpl_get0_pubkey(
	    cmp_crm_get0_template(crm)), key), 1);
	san2 = cmp_tmpl_get1_san(cmp_crm_get0_template(crm));
	ck_assert_ptr_nonnull(san2);
	ck_assert_int_eq(GENERAL_NAME_cmp(sk_GENERAL_NAME_value(san2, 0), gn), 0);
	GENERAL_NAMES_free(san2);
	ck_assert_msg(cmp_crm_verify_pop(crm, 0, &e) == 0, "%s", e.msg);
	/* a changed template breaks the POP (RFC 4211 4.1) */
	X509_NAME_add_entry_by_txt(crm->certReq->certTemplate->subject, "OU",
	    MBSTRING_UTF8, (const unsigned char *)"x", -1, -1, 0);
	crm->certReq->enc.modified = 1;
	ck_assert_int_eq(cmp_crm_verify_pop(crm, 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "POP signature does not verify"));
	CMP_PKIMESSAGE_free(d);

	/* other PBM parameters */
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "s3cret", 6, &o, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_msg_verify_pbm(d, "s3cret", 6, NULL, &e), 0);
	desc = cmp_msg_protection_desc(d);
	ck_assert_str_eq(desc, "PBM owf=SHA512 iterations=1000 salt=20 bytes "
	    "mac=hmacWithSHA512");
	free(desc);
	CMP_PKIMESSAGE_free(d);
	o.owf_nid = NID_sha1;
	o.mac_nid = NID_hmac_sha1;
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "s3cret", 6, &o, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_msg_verify_pbm(d, "s3cret", 6, NULL, &e), 0);
	CMP_PKIMESSAGE_free(d);
	/* caps when protecting */
	o.iterations = CMP_PBM_MAX_ITER + 1;
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "s3cret", 6, &o, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "iteration count"));
	o.iterations = 500;
	o.salt_len = CMP_PBM_MAX_SALT + 1;
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "s3cret", 6, &o, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "salt length"));

	CMP_PKIMESSAGE_free(m);
	GENERAL_NAMES_free(san);
	X509_NAME_free(subj);
	X509_NAME_free(snd);
	X509_NAME_free(rcp);
	EVP_PKEY_free(key);
}
END_TEST

/* Rewrites the PBMParameter of M's protectionAlg through FN. */
static void
edit_pbm(CMP_PKIMESSAGE *m, void (*fn)(CMP_PBMPARAMETER *))
{
	X509_ALGOR *a = m->header->protectionAlg;
	CMP_PBMPARAMETER *p = ASN1_TYPE_unpack_sequence(
	    ASN1_ITEM_rptr(CMP_PBMPARAMETER), a->parameter);
	ASN1_STRING *s = NULL;

	ck_assert_ptr_nonnull(p);
	fn(p);
	ck_assert_ptr_nonnull(ASN1_item_pack(p, ASN1_ITEM_rptr(CMP_PBMPARAMETER),
	    &s));
	X509_ALGOR_set0(a, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE,
	    s);
	CMP_PBMPARAMETER_free(p);
	cmp_msg_touch(m);
}

static void big_iter(CMP_PBMPARAMETER *p) { ASN1_INTEGER_set(p->iterationCount, 100000000); }
static void big_salt(CMP_PBMPARAMETER *p)
{
	unsigned char b[200] = { 0 };

	ASN1_OCTET_STRING_set(p->salt, b, sizeof(b));
}
static void one_iter(CMP_PBMPARAMETER *p) { ASN1_INTEGER_set(p->iterationCount, 1); }
static void iter_50000(CMP_PBMPARAMETER *p) { ASN1_INTEGER_set(p->iterationCount, 50000); }
static void short_salt(CMP_PBMPARAMETER *p)
{
	unsigned char b[7] = { 0 };

	ASN1_OCTET_STRING_set(p->salt, b, sizeof(b));
}
static void md5_owf(CMP_PBMPARAMETER *p) { X509_ALGOR_set0(p->owf, OBJ_nid2obj(NID_md5), V_ASN1_UNDEF, NULL); }
static void bad_mac(CMP_PBMPARAMETER *p) { X509_ALGOR_set0(p->mac, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF, NULL); }
static void mac_params(CMP_PBMPARAMETER *p)
{
	X509_ALGOR_set0(p->mac, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_OBJECT,
	    OBJ_nid2obj(NID_sha256));
}

START_TEST(pbm_verify_errors)
{
	/* a CA's own caps (a lower maximum) */
	static const struct cmp_pbm_limits ca = { 100, 10000, 8 };
	static const struct {
		void (*fn)(CMP_PBMPARAMETER *);
		const struct cmp_pbm_limits *lim;
		const char *want;
	} cases[] = {
		{ big_iter, NULL, "iteration count refused: 100000000 is above the "
		    "limit of 100000" },
		{ big_salt, NULL, "salt of 200 bytes refused" },
		{ one_iter, NULL, "RFC 4211 4.4: the PBM iteration count must be at "
		    "least 100, this one is 1" },
		{ short_salt, NULL, "RFC 8018 4.1: a PBM salt of at least 8 bytes is "
		    "required, this one has 7" },
		{ iter_50000, &ca, "iteration count refused: 50000 is above the "
		    "limit of 10000" },
		{ md5_owf, NULL, "unknown PBM one-way function" },
		{ bad_mac, NULL, "unknown PBM MAC algorithm" },
		{ mac_params, NULL, "malformed PBM parameters" },
	};
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	CMP_PKIMESSAGE *m, *d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
		ck_assert_int_eq(cmp_msg_protect_pbm(m, "pw", 2, NULL, &e), 0);
		edit_pbm(m, cases[i].fn);
		d = roundtrip(m);
		ck_assert_int_eq(cmp_msg_verify_pbm(d, "pw", 2, cases[i].lim, &e),
		    -1);
		ck_assert_msg(strstr(e.msg, cases[i].want) != NULL, "case %zu: %s",
		    i, e.msg);
		CMP_PKIMESSAGE_free(d);
		CMP_PKIMESSAGE_free(m);
	}
	/* unprotected; PBMAC1; signature-protected */
	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_verify_pbm(m, "pw", 2, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "message is not protected");
	ck_assert_int_eq(cmp_msg_protect_pbm(m, "pw", 2, NULL, &e), 0);
	X509_ALGOR_set0(m->header->protectionAlg, OBJ_txt2obj(
	    "1.2.840.113549.1.5.14", 1), V_ASN1_UNDEF, NULL);
	cmp_msg_touch(m);
	ck_assert_int_eq(cmp_msg_verify_pbm(m, "pw", 2, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unsupported protection algorithm "
	    "PBMAC1"));
	ck_assert_int_eq(cmp_msg_verify_sig_key(m, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "PBMAC1"));
	X509_ALGOR_set0(m->header->protectionAlg, OBJ_txt2obj("1.2.3.4", 1),
	    V_ASN1_UNDEF, NULL);
	ck_assert_int_eq(cmp_msg_verify_pbm(m, "pw", 2, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unknown protection algorithm"));
	CMP_PKIMESSAGE_free(m);
}
END_TEST

START_TEST(signature_protection)
{
	static const struct {
		const char *key, *cert;
		int md, pss;
		const char *alg;
	} cases[] = {
		{ "srv.key", "srv.crt", 0, 0, "ecdsa-with-SHA256" },
		{ "srv.key", "srv.crt", NID_sha512, 0, "ecdsa-with-SHA512" },
		{ "ee.key", "ee.crt", 0, 0, "sha256WithRSAEncryption" },
		{ "ee.key", "ee.crt", NID_sha384, 0, "sha384WithRSAEncryption" },
		{ "ee.key", "ee.crt", NID_sha256, 1, "rsassaPss" },
		{ "ed.key", "ed.crt", 0, 0, "ED25519" },
	};
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	X509 *other = fcert("other.crt"), *ca = fcert("ca.crt");
	STACK_OF(X509) *chain = sk_X509_new_null();
	size_t i;

	sk_X509_push(chain, ca);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *k = fkey(cases[i].key);
		X509 *x = fcert(cases[i].cert);
		CMP_PKIMESSAGE *m, *d;
		const X509_ALGOR *a;

		ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
		ck_assert_msg(cmp_msg_protect_sig(m, k, x, chain, cases[i].md,
		    cases[i].pss, &e) == 0, "case %zu: %s", i, e.msg);
		d = roundtrip(m);
		ck_assert_int_eq(cmp_msg_protection_kind(d), CMP_PROT_SIG);
		a = cmp_msg_get0_protection_alg(d);
		ck_assert_str_eq(OBJ_nid2ln(OBJ_obj2nid(a->algorithm)), cases[i].alg);
		ck_assert_msg(cmp_msg_verify_sig(d, x, &e) == 0, "case %zu: %s", i,
		    e.msg);
		/* extraCerts: protection certificate first, then the chain */
		ck_assert_int_eq(sk_X509_num(cmp_msg_get0_extra_certs(d)), 2);
		ck_assert_int_eq(X509_cmp(sk_X509_value(cmp_msg_get0_extra_certs(d),
		    0), x), 0);
		ck_assert_int_eq(X509_cmp(sk_X509_value(cmp_msg_get0_extra_certs(d),
		    1), ca), 0);
		if (X509_get0_subject_key_id(x) != NULL)
			ck_assert(cmp_octets_eq(cmp_msg_get0_sender_kid(d),
			    X509_get0_subject_key_id(x)));
		/* another key */
		ck_assert_int_eq(cmp_msg_verify_sig(d, other, &e), -1);
		if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
			ck_assert_msg(strstr(e.msg, "signature does not verify") !=
			    NULL, "%s", e.msg);
		else
			ck_assert_msg(strstr(e.msg, "key mismatch") != NULL, "%s",
			    e.msg);
		ck_assert_int_eq(cmp_msg_verify_pbm(d, "x", 1, NULL, &e), -1);
		ck_assert_ptr_nonnull(strstr(e.msg, "signature-protected"));
		CMP_PKIMESSAGE_free(d);
		CMP_PKIMESSAGE_free(m);
		EVP_PKEY_free(k);
		X509_free(x);
	}
	/* malformed parameters: ECDSA with NULL parameters */
	{
		EVP_PKEY *k = fkey("srv.key");
		X509 *x = fcert("srv.crt");
		CMP_PKIMESSAGE *m;

		ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
		ck_assert_int_eq(cmp_msg_protect_sig(m, k, x, NULL, 0, 0, &e), 0);
		X509_ALGOR_set0(m->header->protectionAlg,
		    OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_NULL, NULL);
		cmp_msg_touch(m);
		ck_assert_int_eq(cmp_msg_verify_sig(m, x, &e), -1);
		ck_assert_msg(strstr(e.msg, "malformed parameters") != NULL, "%s",
		    e.msg);
		/* a key that does not match the certificate */
		ck_assert_int_eq(cmp_msg_protect_sig(m, k, other, NULL, 0, 0, &e),
		    -1);
		ck_assert_ptr_nonnull(strstr(e.msg, "does not match"));
		CMP_PKIMESSAGE_free(m);
		EVP_PKEY_free(k);
		X509_free(x);
	}
	sk_X509_pop_free(chain, X509_free);
	X509_free(other);
}
END_TEST

START_TEST(kur_cr_p10cr_rr)
{
	struct cmp_hdr h = { 0 };
	struct cmp_certreq r = { 0 };
	struct pk_err e;
	EVP_PKEY *key = fkey("ee.key");
	X509 *old = fcert("ee.crt");
	X509_NAME *iss;
	ASN1_INTEGER *sn;
	CMP_PKIMESSAGE *m, *d;
	X509_REQ *csr;
	FILE *f;
	char *p;

	r.subject = X509_get_subject_name(old);
	r.key = key;
	r.cert_req_id = 0;
	/* kur without the old certificate is refused */
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_KUR, &r, &m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "oldCertId"));
	r.old_cert = old;
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_KUR, &r, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_msg_body_type(d), CMP_BODY_KUR);
	ck_assert_int_eq(cmp_crm_get1_old_cert_id(cmp_req_get0(d, 0), &iss, &sn,
	    &e), 0);
	ck_assert_int_eq(X509_NAME_cmp(iss, X509_get_issuer_name(old)), 0);
	ck_assert_int_eq(ASN1_INTEGER_cmp(sn, X509_get0_serialNumber(old)), 0);
	ck_assert_int_eq(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e), 0);
	X509_NAME_free(iss);
	ASN1_INTEGER_free(sn);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* cr: no oldCertID */
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_CR, &r, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_crm_get1_old_cert_id(cmp_req_get0(d, 0), &iss, &sn,
	    &e), 0);
	ck_assert_ptr_null(iss);
	ck_assert_ptr_null(sn);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* p10cr */
	p = path_in(dir, "ee.csr");
	f = fopen(p, "r");
	csr = PEM_read_X509_REQ(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	ck_assert_int_eq(cmp_build_p10cr(&h, csr, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(X509_NAME_cmp(X509_REQ_get_subject_name(
	    cmp_msg_get0_p10(d)), X509_REQ_get_subject_name(csr)), 0);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	X509_REQ_free(csr);

	/* rr with a reason */
	ck_assert_int_eq(cmp_build_rr(&h, old, 1, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_rr_count(d), 1);
	ck_assert_int_eq(ASN1_INTEGER_cmp(cmp_tmpl_get0_serial(
	    cmp_rr_get0_details(d, 0)), X509_get0_serialNumber(old)), 0);
	ck_assert_int_eq(X509_NAME_cmp(cmp_tmpl_get0_issuer(
	    cmp_rr_get0_details(d, 0)), X509_get_issuer_name(old)), 0);
	ck_assert_int_eq(cmp_rr_reason(d, 0), 1);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* pollReq */
	ck_assert_int_eq(cmp_build_pollreq(&h, 3, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_pollreq_req_id(d, 0), 3);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	EVP_PKEY_free(key);
	X509_free(old);
}
END_TEST

START_TEST(certconf_hash)
{
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	X509 *ee = fcert("ee.crt"), *ed = fcert("ed.crt"), *other =
	    fcert("other.crt");
	CMP_PKIMESSAGE *m, *d;
	const CMP_CERTSTATUS *cs;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;
	char *s;

	ck_assert_int_eq(cmp_build_certconf(&h, ee, 0, CMP_STATUS_ACCEPTED, 0,
	    NULL, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_certconf_count(d), 1);
	cs = cmp_certconf_get0(d, 0);
	ck_assert_int_eq(cmp_certstatus_req_id(cs), 0);
	ck_assert_int_eq(cmp_certstatus_get0_hash(cs)->length, 32);
	ck_assert_int_eq(cmp_si_status(cmp_certstatus_get0_si(cs)),
	    CMP_STATUS_ACCEPTED);
	ck_assert_int_eq(cmp_certstatus_check_hash(cs, ee, &e), 0);
	ck_assert_int_eq(cmp_certstatus_check_hash(cs, other, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "certHash does not match"));
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* RFC 9480: Ed25519 certificates hash with SHA-512 */
	ck_assert_int_eq(cmp_cert_hash(ed, md, &n, &e), 0);
	ck_assert_int_eq(n, 64);

	/* rejection with failInfo and text */
	ck_assert_int_eq(cmp_build_certconf(&h, ee, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL(CMP_FAIL_BAD_CERT_TEMPLATE), "wrong key", &m, &e), 0);
	d = roundtrip(m);
	s = cmp_si_describe(cmp_msg_get0_status(d, 0));
	ck_assert_str_eq(s, "rejection, failInfo: badCertTemplate, text: "
	    "\"wrong key\"");
	free(s);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	ck_assert_int_eq(cmp_build_certconf(&h, ee, 0, CMP_STATUS_WAITING, 0,
	    NULL, &m, &e), -1);
	X509_free(ee);
	X509_free(ed);
	X509_free(other);
}
END_TEST

START_TEST(responses)
{
	struct cmp_hdr h = { 0 }, sh = { 0 };
	struct cmp_certreq r = { 0 };
	struct pk_err e;
	EVP_PKEY *key = fkey("ee.key");
	X509 *ee = fcert("ee.crt"), *ca = fcert("ca.crt");
	X509_NAME *snd = name_of("device"), *srv = name_of("CA");
	STACK_OF(X509) *capubs = sk_X509_new_null();
	STACK_OF(CMP_ITAV) *itavs = sk_CMP_ITAV_new_null();
	CMP_PKIMESSAGE *req, *m, *d;
	long id, after;
	char *s;

	sk_X509_push(capubs, ca);
	h.sender = snd;
	r.subject = snd;
	r.key = key;
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_IR, &r, &req, &e), 0);
	sh.sender = srv;

	/* ip: RFC 4210 5.1.1 transactionID copied, nonces chained */
	ck_assert_int_eq(cmp_build_certrep(&sh, req, CMP_BODY_IP, 0,
	    CMP_STATUS_ACCEPTED, 0, NULL, ee, capubs, &m, &e), 0);
	d = roundtrip(m);
	ck_assert(cmp_octets_eq(cmp_msg_get0_transaction_id(d),
	    cmp_msg_get0_transaction_id(req)));
	ck_assert(cmp_octets_eq(cmp_msg_get0_recip_nonce(d),
	    cmp_msg_get0_sender_nonce(req)));
	ck_assert(!cmp_octets_eq(cmp_msg_get0_sender_nonce(d),
	    cmp_msg_get0_sender_nonce(req)));
	ck_assert_int_eq(cmp_msg_get0_sender_nonce(d)->length, 16);
	ck_assert_int_eq(X509_NAME_cmp(cmp_msg_get0_recipient_name(d), snd), 0);
	ck_assert_int_eq(X509_NAME_cmp(cmp_msg_get0_sender_name(d), srv), 0);
	ck_assert_int_eq(cmp_rep_count(d), 1);
	ck_assert_int_eq(X509_cmp(cmp_certresp_get0_cert(cmp_rep_find(d, 0)), ee),
	    0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(cmp_rep_get0_capubs(d), 0), ca),
	    0);
	ck_assert_ptr_null(cmp_rep_find(d, 1));
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* waiting kup without a certificate */
	ck_assert_int_eq(cmp_build_certrep(&sh, req, CMP_BODY_KUP, 0,
	    CMP_STATUS_WAITING, 0, NULL, NULL, NULL, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(d, 0)),
	    CMP_STATUS_WAITING);
	ck_assert_ptr_null(cmp_certresp_get0_cert(cmp_rep_get0(d, 0)));
	ck_assert_ptr_null(cmp_rep_get0_capubs(d));
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* error with failInfo bits, text, errorCode, errorDetails */
	ck_assert_int_eq(cmp_build_error(&sh, req, CMP_STATUS_REJECTION,
	    CMP_FAIL(CMP_FAIL_BAD_POP) | CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK),
	    "POP failed", 42, "see log", &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_si_failinfo(cmp_msg_get0_status(d, 0)),
	    CMP_FAIL(CMP_FAIL_BAD_POP) | CMP_FAIL(CMP_FAIL_BAD_MESSAGE_CHECK));
	s = cmp_si_describe(cmp_msg_get0_status(d, 0));
	ck_assert_str_eq(s, "rejection, failInfo: badMessageCheck, badPOP, text: "
	    "\"POP failed\"");
	free(s);
	ck_assert_int_eq(cmp_error_code(d), 42);
	s = cmp_error_details(d);
	ck_assert_str_eq(s, "see log");
	free(s);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* error answering nothing decodable: fresh transactionID */
	ck_assert_int_eq(cmp_build_error(&sh, NULL, CMP_STATUS_REJECTION,
	    CMP_FAIL(CMP_FAIL_BAD_DATA_FORMAT), NULL, -1, NULL, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_get0_transaction_id(m)->length, 16);
	ck_assert_ptr_null(cmp_msg_get0_recip_nonce(m));
	ck_assert_int_eq(cmp_error_code(m), -1);
	CMP_PKIMESSAGE_free(m);

	/* pollRep */
	ck_assert_int_eq(cmp_build_pollrep(&sh, req, 0, 7, "busy", &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_pollrep_get(d, 0, &id, &after, &s, &e), 0);
	ck_assert_int_eq(id, 0);
	ck_assert_int_eq(after, 7);
	ck_assert_str_eq(s, "busy");
	free(s);
	ck_assert_int_eq(cmp_pollrep_get(d, 1, &id, &after, &s, &e), -1);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* pkiConf, rp */
	ck_assert_int_eq(cmp_build_pkiconf(&sh, req, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_msg_body_type(d), CMP_BODY_PKICONF);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	ck_assert_int_eq(cmp_build_rp(&sh, req, CMP_STATUS_ACCEPTED, 0, NULL, &m,
	    &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_rp_count(d), 1);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(d, 0)),
	    CMP_STATUS_ACCEPTED);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);

	/* genp: an unknown infoType and its value come back as sent */
	{
		ASN1_TYPE *v = ASN1_TYPE_new();
		ASN1_INTEGER *i = ASN1_INTEGER_new();
		STACK_OF(CMP_ITAV) *got;
		char buf[64];

		ASN1_INTEGER_set(i, 12345);
		ASN1_TYPE_set(v, V_ASN1_INTEGER, i);
		sk_CMP_ITAV_push(itavs, cmp_itav_new_oid("1.3.6.1.4.1.99999.1", v));
		ck_assert_int_eq(cmp_build_genp(&sh, req, itavs, &m, &e), 0);
		d = roundtrip(m);
		got = cmp_msg_get0_itavs(d);
		ck_assert_int_eq(sk_CMP_ITAV_num(got), 1);
		OBJ_obj2txt(buf, sizeof(buf), sk_CMP_ITAV_value(got, 0)->infoType,
		    1);
		ck_assert_str_eq(buf, "1.3.6.1.4.1.99999.1");
		ck_assert_int_eq(ASN1_INTEGER_get(sk_CMP_ITAV_value(got, 0)->
		    infoValue->value.integer), 12345);
		CMP_PKIMESSAGE_free(d);
		CMP_PKIMESSAGE_free(m);
	}
	CMP_PKIMESSAGE_free(req);
	sk_CMP_ITAV_pop_free(itavs, CMP_ITAV_free);
	sk_X509_pop_free(capubs, X509_free);
	X509_NAME_free(snd);
	X509_NAME_free(srv);
	X509_free(ee);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(pop_variants)
{
	static const char *const keys[] = { "srv.key", "ed.key", "ee.key" };
	struct cmp_hdr h = { 0 };
	struct cmp_certreq r = { 0 };
	struct pk_err e;
	X509_NAME *subj = name_of("pop");
	CMP_PKIMESSAGE *m, *d;
	CMP_CERTREQMSG *crm;
	CMP_POPOSIGNINGKEY *sk;
	CMP_POPOSKINPUT *in;
	EVP_PKEY *k, *other = fkey("other.key");
	size_t i;

	r.subject = subj;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		k = fkey(keys[i]);
		r.key = k;
		ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_CR, &r, &m, &e), 0);
		d = roundtrip(m);
		ck_assert_msg(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e) == 0,
		    "%s: %s", keys[i], e.msg);
		CMP_PKIMESSAGE_free(d);
		CMP_PKIMESSAGE_free(m);
		EVP_PKEY_free(k);
	}

	/* RFC 4211 4.1 with poposkInput: the signature covers poposkInput */
	k = fkey("ee.key");
	r.key = k;
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e), 0);
	crm = cmp_req_get0(m, 0);
	sk = crm->popo->value.signature;
	in = sk->poposkInput = CMP_POPOSKINPUT_new();
	in->authInfo->type = 0;
	in->authInfo->value.sender = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(in->authInfo->value.sender, GEN_DIRNAME,
	    X509_NAME_dup(subj));
	X509_PUBKEY_set(&in->publicKey, k);
	ck_assert_int_gt(ASN1_item_sign(ASN1_ITEM_rptr(CMP_POPOSKINPUT),
	    sk->algorithmIdentifier, NULL, sk->signature, in, k, EVP_sha256()), 0);
	cmp_msg_touch(m);
	d = roundtrip(m);
	ck_assert_msg(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e) == 0, "%s",
	    e.msg);
	CMP_PKIMESSAGE_free(d);
	/* poposkInput naming another key than the template's */
	X509_PUBKEY_set(&in->publicKey, other);
	cmp_msg_touch(m);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "poposkInput publicKey differs"));
	CMP_PKIMESSAGE_free(d);

	/* raVerified only when accepted; no POP at all */
	CMP_POPO_free(crm->popo);
	crm->popo = CMP_POPO_new();
	crm->popo->type = 0;
	crm->popo->value.raVerified = ASN1_NULL_new();
	cmp_msg_touch(m);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "raVerified"));
	ck_assert_int_eq(cmp_crm_verify_pop(cmp_req_get0(d, 0), 1, &e), 0);
	CMP_PKIMESSAGE_free(d);
	CMP_POPO_free(crm->popo);
	crm->popo = NULL;
	cmp_msg_touch(m);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_crm_verify_pop(cmp_req_get0(d, 0), 0, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no proof of possession"));
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	X509_NAME_free(subj);
}
END_TEST

START_TEST(header_extras)
{
	struct cmp_hdr h = { 0 };
	struct pk_err e;
	STACK_OF(CMP_ITAV) *gi = sk_CMP_ITAV_new_null();
	ASN1_TYPE *v = ASN1_TYPE_new();
	CMP_PKIMESSAGE *m, *d;
	unsigned char tid[20];
	time_t t = 0;
	char *s;

	/* RFC 4210 5.1.1.2 confirmWaitTime, a GeneralizedTime */
	ASN1_TYPE_set(v, V_ASN1_GENERALIZEDTIME,
	    ASN1_GENERALIZEDTIME_set(NULL, 1800000000));
	sk_CMP_ITAV_push(gi, cmp_itav_new_oid(CMP_OID_CONFIRM_WAIT_TIME, v));
	memset(tid, 0xab, sizeof(tid));
	h.general_info = gi;
	h.transaction_id = tid;
	h.transaction_id_len = sizeof(tid);
	h.free_text = "line1\nline2\033[2J";
	h.message_time = -1;
	ck_assert_int_eq(cmp_build_genm(&h, NULL, &m, &e), 0);
	d = roundtrip(m);
	ck_assert_int_eq(cmp_msg_confirm_wait_time(d, &t), 0);
	ck_assert_int_eq((long)t, 1800000000L);
	ck_assert_int_eq(cmp_msg_implicit_confirm(d), 0);
	ck_assert_ptr_null(cmp_msg_get0_message_time(d));
	ck_assert_int_eq(cmp_msg_get0_transaction_id(d)->length, 20);
	ck_assert_int_eq(cmp_msg_get0_transaction_id(d)->data[19], 0xab);
	/* the NULL-DN when no names are given (RFC 4210 5.1.1) */
	ck_assert_int_eq(X509_NAME_entry_count(cmp_msg_get0_sender_name(d)), 0);
	ck_assert_int_eq(X509_NAME_entry_count(cmp_msg_get0_recipient_name(d)), 0);
	/* peer text reaches the console without control characters */
	s = cmp_msg_free_text(d);
	ck_assert_str_eq(s, "line1?line2?[2J");
	free(s);
	CMP_PKIMESSAGE_free(d);
	CMP_PKIMESSAGE_free(m);
	sk_CMP_ITAV_pop_free(gi, CMP_ITAV_free);
}
END_TEST

/* --- interop: messages of the real `openssl cmp` client and mock server --- */

static int
port_open(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Starts `openssl cmp -port PORT ARGS` in DIR (PEERS.md: a fresh mock per case;
 * it listens on all interfaces, we only connect to 127.0.0.1). */
static pid_t
mock_start(int port, const char *args)
{
	char *cmd;
	pid_t pid;
	int i;

	ck_assert_int_ge(asprintf(&cmd, "cd '%s' && exec openssl cmp -port %d %s "
	    ">mock.log 2>&1", dir, port, args), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	for (i = 0; i < 200 && !port_open(port); i++)
		usleep(25000);
	if (!port_open(port)) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		ck_abort_msg("mock server did not start on port %d", port);
	}
	return pid;
}

static void
mock_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

#define SECRET "interop-s3cret"
#define MOCK_PBM "-srv_ref 1234 -srv_secret pass:" SECRET \
	" -rsp_cert ee.crt -rsp_capubs ca.crt"
#define MOCK_SIG "-srv_cert srv.crt -srv_key srv.key -srv_trusted ca.crt " \
	"-rsp_cert ee.crt -rsp_capubs ca.crt"
#define CLI_PBM "-ref 1234 -secret pass:" SECRET " -recipient /CN=Mock"
#define CLI_SIG "-cert ee.crt -key ee.key -srvcert srv.crt"

struct icase {
	const char *name;
	const char *mock;
	const char *client;	/* -cmd and its options */
	const char *req[2], *rsp[2];	/* files, NULL when absent */
	int req_body[2], rsp_body[2];
	int pbm;		/* 1: everything PBM; 0: requests signed by ee.crt,
				 * responses by srv.crt */
};

static const struct icase icases[] = {
	{ "ir", MOCK_PBM, "-cmd ir " CLI_PBM " -newkey ee.key -subject /CN=ee "
	    "-certout out.crt", { "ir.der", "cc.der" }, { "ip.der", "pc.der" },
	    { CMP_BODY_IR, CMP_BODY_CERTCONF }, { CMP_BODY_IP, CMP_BODY_PKICONF },
	    1 },
	{ "cr", MOCK_SIG, "-cmd cr " CLI_SIG " -newkey ee.key -subject /CN=ee "
	    "-certout out.crt", { "cr.der", "cc.der" }, { "cp.der", "pc.der" },
	    { CMP_BODY_CR, CMP_BODY_CERTCONF }, { CMP_BODY_CP, CMP_BODY_PKICONF },
	    0 },
	{ "kur", MOCK_SIG, "-cmd kur " CLI_SIG " -newkey ee.key "
	    "-certout out.crt", { "kur.der", "cc.der" }, { "kup.der", "pc.der" },
	    { CMP_BODY_KUR, CMP_BODY_CERTCONF },
	    { CMP_BODY_KUP, CMP_BODY_PKICONF }, 0 },
	{ "p10cr", MOCK_PBM, "-cmd p10cr " CLI_PBM " -csr ee.csr "
	    "-certout out.crt", { "p10.der", "cc.der" }, { "cp.der", "pc.der" },
	    { CMP_BODY_P10CR, CMP_BODY_CERTCONF },
	    { CMP_BODY_CP, CMP_BODY_PKICONF }, 1 },
	{ "rr", MOCK_SIG, "-cmd rr " CLI_SIG " -oldcert ee.crt",
	    { "rr.der", NULL }, { "rp.der", NULL }, { CMP_BODY_RR, -1 },
	    { CMP_BODY_RP, -1 }, 0 },
	{ "genm", MOCK_PBM, "-cmd genm " CLI_PBM " -infotype signKeyPairTypes",
	    { "genm.der", NULL }, { "genp.der", NULL }, { CMP_BODY_GENM, -1 },
	    { CMP_BODY_GENP, -1 }, 1 },
};

static CMP_PKIMESSAGE *
check_interop_msg(const char *file, int body, int pbm, const char *signer)
{
	char *p = path_in(dir, file);
	CMP_PKIMESSAGE *m = decode_file(p, NULL, NULL);
	struct pk_err e;
	X509 *x;

	free(p);
	ck_assert_msg(cmp_msg_body_type(m) == body, "%s: body %s", file,
	    cmp_body_name(cmp_msg_body_type(m)));
	if (pbm) {
		ck_assert_msg(cmp_msg_verify_pbm(m, SECRET, strlen(SECRET), NULL, &e) == 0,
		    "%s: %s", file, e.msg);
	} else {
		x = fcert(signer);
		ck_assert_msg(cmp_msg_verify_sig(m, x, &e) == 0, "%s: %s", file,
		    e.msg);
		X509_free(x);
	}
	return m;
}

START_TEST(interop_openssl)
{
	const struct icase *c = &icases[_i];
	int port = tu_free_port();
	char *cmd, *out = NULL, reqout[64], rspout[64];
	CMP_PKIMESSAGE *m[4] = { NULL };
	struct pk_err e;
	pid_t pid;
	int rc, k;

	ck_assert_int_gt(port, 0);
	snprintf(reqout, sizeof(reqout), "%s%s%s", c->req[0], c->req[1] ? "," : "",
	    c->req[1] ? c->req[1] : "");
	snprintf(rspout, sizeof(rspout), "%s%s%s", c->rsp[0], c->rsp[1] ? "," : "",
	    c->rsp[1] ? c->rsp[1] : "");
	tu_sh("cd '%s' && rm -f %s %s %s %s out.crt", dir, c->req[0],
	    c->req[1] ? c->req[1] : "", c->rsp[0], c->rsp[1] ? c->rsp[1] : "");
	pid = mock_start(port, c->mock);
	ck_assert_int_ge(asprintf(&cmd, "cd '%s' && openssl cmp -server "
	    "127.0.0.1:%d %s -reqout %s -rspout %s", dir, port, c->client, reqout,
	    rspout), 0);
	rc = tu_run(cmd, &out);
	mock_stop(pid);
	ck_assert_msg(rc == 0, "%s: openssl cmp failed: %s", c->name, out);
	free(out);
	free(cmd);
	for (k = 0; k < 2; k++) {
		if (c->req[k] == NULL)
			continue;
		m[k] = check_interop_msg(c->req[k], c->req_body[k], c->pbm, "ee.crt");
		m[2 + k] = check_interop_msg(c->rsp[k], c->rsp_body[k], c->pbm,
		    "srv.crt");
		/* RFC 4210 5.1.1: same transaction, nonces chained */
		ck_assert(cmp_octets_eq(cmp_msg_get0_transaction_id(m[k]),
		    cmp_msg_get0_transaction_id(m[2 + k])));
		ck_assert(cmp_octets_eq(cmp_msg_get0_sender_nonce(m[k]),
		    cmp_msg_get0_recip_nonce(m[2 + k])));
	}
	/* contents */
	if (cmp_req_count(m[0]) > 0) {
		CMP_CERTREQMSG *crm = cmp_req_get0(m[0], 0);

		ck_assert_msg(cmp_crm_verify_pop(crm, 0, &e) == 0, "%s", e.msg);
		if (cmp_msg_body_type(m[0]) == CMP_BODY_KUR) {
			X509 *ee = fcert("ee.crt");
			X509_NAME *iss;
			ASN1_INTEGER *sn;

			ck_assert_int_eq(cmp_crm_get1_old_cert_id(crm, &iss, &sn, &e), 0);
			ck_assert_int_eq(ASN1_INTEGER_cmp(sn,
			    X509_get0_serialNumber(ee)), 0);
			X509_NAME_free(iss);
			ASN1_INTEGER_free(sn);
			X509_free(ee);
		}
	}
	if (cmp_rep_count(m[2]) > 0) {
		X509 *ee = fcert("ee.crt");

		ck_assert_int_eq(X509_cmp(cmp_certresp_get0_cert(cmp_rep_get0(m[2],
		    0)), ee), 0);
		/* the client's certConf hashes the certificate it got */
		ck_assert_msg(cmp_certstatus_check_hash(cmp_certconf_get0(m[1], 0),
		    ee, &e) == 0, "%s", e.msg);
		X509_free(ee);
	}
	if (cmp_msg_body_type(m[0]) == CMP_BODY_RR)
		ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(m[2], 0)),
		    CMP_STATUS_ACCEPTED);
	for (k = 0; k < 4; k++)
		CMP_PKIMESSAGE_free(m[k]);
}
END_TEST

/* --- protection of our messages checked by `openssl cmp` as a server --- */

/* POSTs BODY to http://127.0.0.1:PORT/ (RFC 6712: application/pkixcmp) with
 * HTTP/1.0 and returns the response body (malloc) of a 200 answer, or NULL. */
static unsigned char *
http_post(int port, const unsigned char *body, size_t len, size_t *rlen)
{
	struct sockaddr_in a;
	char hdr[256], *sep;
	unsigned char *buf = NULL, *r = NULL;
	size_t n = 0, cap = 0;
	ssize_t k;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	snprintf(hdr, sizeof(hdr), "POST / HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
	    "Content-Type: application/pkixcmp\r\nContent-Length: %zu\r\n\r\n",
	    port, len);
	if (write(fd, hdr, strlen(hdr)) != (ssize_t)strlen(hdr) ||
	    write(fd, body, len) != (ssize_t)len)
		goto out;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			buf = realloc(buf, cap);
		}
		if ((k = read(fd, buf + n, 4096)) <= 0)
			break;
		n += (size_t)k;
	}
	if (buf == NULL)
		goto out;
	buf[n] = '\0';
	if (strncmp((char *)buf, "HTTP/1.", 7) != 0 || strstr((char *)buf,
	    " 200 ") == NULL || (sep = strstr((char *)buf, "\r\n\r\n")) == NULL)
		goto out;
	sep += 4;
	*rlen = n - (size_t)(sep - (char *)buf);
	r = malloc(*rlen + 1);
	memcpy(r, sep, *rlen);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

START_TEST(openssl_accepts_our_protection)
{
	/* the mock server checks our PBM-protected ir; a refusal would come back
	 * as an error body */
	struct cmp_hdr h = { 0 };
	struct cmp_certreq r = { 0 };
	struct pk_err e;
	EVP_PKEY *key = fkey("ee.key");
	X509_NAME *subj = name_of("ee"), *rcp = X509_NAME_new();
	CMP_PKIMESSAGE *m, *rsp;
	unsigned char *der, *rder;
	size_t len, rlen = 0;
	int port = tu_free_port();
	pid_t pid;

	X509_NAME_add_entry_by_txt(rcp, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"Mock", -1, -1, 0);
	h.sender_kid = (const unsigned char *)"1234";
	h.sender_kid_len = 4;
	h.recipient = rcp;
	h.sender = subj;
	r.subject = subj;
	r.key = key;
	ck_assert_int_eq(cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e), 0);
	ck_assert_int_eq(cmp_msg_protect_pbm(m, SECRET, strlen(SECRET), NULL, &e),
	    0);
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	pid = mock_start(port, MOCK_PBM);
	rder = http_post(port, der, len, &rlen);
	mock_stop(pid);
	OPENSSL_free(der);
	ck_assert_msg(rder != NULL, "no HTTP 200 answer from the mock server");
	ck_assert_msg(cmp_msg_decode(rder, rlen, &rsp, &e) == 0, "%s", e.msg);
	free(rder);
	ck_assert_msg(cmp_msg_body_type(rsp) == CMP_BODY_IP, "answer: %s",
	    cmp_body_name(cmp_msg_body_type(rsp)));
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(rsp, 0)),
	    CMP_STATUS_ACCEPTED);
	ck_assert_int_eq(cmp_msg_verify_pbm(rsp, SECRET, strlen(SECRET), NULL, &e), 0);
	ck_assert(cmp_octets_eq(cmp_msg_get0_recip_nonce(rsp),
	    cmp_msg_get0_sender_nonce(m)));
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(m);
	X509_NAME_free(subj);
	X509_NAME_free(rcp);
	EVP_PKEY_free(key);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("cmp_msg");
	TCase *tc = tcase_create("vectors"), *tb = tcase_create("build"),
	    *ti = tcase_create("interop");

	tcase_add_loop_test(tc, vectors_openssl_rustcrypto, 0,
	    (int)(sizeof(vcases) / sizeof(vcases[0])));
	tcase_add_loop_test(tc, vectors_lwcmpra, 0,
	    (int)(sizeof(lw_files) / sizeof(lw_files[0])));
	tcase_add_test(tc, vector_contents);
	tcase_add_test(tc, strict_decode);
	tcase_add_test(tc, ber_length_kept);
	tcase_add_test(tc, der_strict_forms);
	tcase_add_test(tc, unsupported_body_and_pvno);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tb, fixture_up, fixture_down);
	tcase_add_test(tb, ir_pbm_roundtrip);
	tcase_add_test(tb, pbm_verify_errors);
	tcase_add_test(tb, signature_protection);
	tcase_add_test(tb, kur_cr_p10cr_rr);
	tcase_add_test(tb, certconf_hash);
	tcase_add_test(tb, responses);
	tcase_add_test(tb, header_extras);
	tcase_add_test(tb, pop_variants);
	tcase_set_timeout(tb, 120);
	suite_add_tcase(s, tb);

	tcase_add_unchecked_fixture(ti, fixture_up, fixture_down);
	tcase_add_loop_test(ti, interop_openssl, 0,
	    (int)(sizeof(icases) / sizeof(icases[0])));
	tcase_add_test(ti, openssl_accepts_our_protection);
	tcase_set_timeout(ti, 120);
	suite_add_tcase(s, ti);
	return s;
}

int
main(void)
{
	return tu_run_suite(suite());
}
