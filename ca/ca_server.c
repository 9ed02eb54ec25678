/*
 * ca_server: the CA responder's protocol (RFC 4210 / RFC 4211, RFC 6712), the
 * ca_http_handler_fn (and route function) that cmpca plugs into its HTTP front.
 *
 * Contract (ca.h): one DER request on a profile's path in, one DER response out,
 * always a CMP message (HTTP 500 only when even an error message cannot be
 * built). The profile (cmpca.conf) gives the reference, secret, trust anchors
 * and issuing policy that apply:
 *   ir cr kur p10cr  -> ip cp kup cp with a certificate issued by ca_issue() for
 *                       the requested key (of a type the profile certifies and
 *                       the CA's key policy allows); subject and subjectAltName
 *                       the template's for a MAC-protected request, the signer
 *                       certificate's for a signed one (request_identity:
 *                       others refused unless allow-subject-change), never a
 *                       CA's name, never cA TRUE; "waiting" first when the
 *                       profile polls; implicitConfirm granted when asked and
 *                       allowed; the ip carries caPubs (the chain's root)
 *   certConf         -> pkiConf; statusInfo absent or accepted confirms, a
 *                       rejection marks the transaction rejected and REVOKES the
 *                       certificate (reason unspecified) so it cannot be used
 *   pollReq          -> pollRep (checkAfter) until the profile's poll count is
 *                       reached, then the ip/cp/kup with the certificate
 *   rr               -> rp (signed by the certificate to revoke, or MAC'd with
 *                       the administrator credential); revocation recorded
 *                       in the database, by CRLReason:
 *                       certificateHold suspends (the certificate is refused as
 *                       a credential), removeFromCRL releases a hold, any other
 *                       reason revokes for good (a hold too)
 *   genm             -> genp (RFC 9483 4.3): caCerts, rootCaKeyUpdate,
 *                       certReqTemplate, signKeyPairTypes; other infoTypes are
 *                       left out (RFC 4210 5.3.19)
 *   error            -> pkiConf (the transaction is marked rejected, an
 *                       issued certificate revoked)
 * Anything refused is answered with an error message (status rejection, the
 * failInfo bit, the reason as statusString: the rule, what was expected, what
 * came). Requests are decoded as strict DER (RFC 6712 3.3).
 *
 * Authentication (RFC 4210 5.1.3): every request must be protected. A MAC
 * (PBM, RFC 4210 5.1.3.1, or PBMAC1, RFC 9481 6.1.2) needs senderKID = the
 * profile's reference and a MAC with its secret (not for kur; a profile
 * without a secret takes none); for an rr the administrator's (admin-ref,
 * admin-secret-file) instead: the enrolment secret is handed to every device
 * and revokes nothing. A signature needs the protecting
 * certificate (found in extraCerts by senderKID, then sender name, else the
 * first) to be issued by this CA (the CA certificate is the anchor, root or
 * intermediate: X509_V_FLAG_PARTIAL_CHAIN on a store holding only it; on record
 * and not revoked) or, for ir, certConf, pollReq and genm, to chain to one of
 * the profile's trust anchors (3GPP TS 33.310 vendor certificate). The request's
 * extraCerts and the CA's chain are path material, never anchors. A kur must be
 * signed by the certificate it updates; an rr signed by a certificate may only
 * revoke that one.
 * Failed authentications (a MAC that does not verify, an unknown reference, a
 * signature that does not verify, a signer not trusted, not on record or
 * revoked) are counted per client address (ca_lockout.c; the HTTP front gives
 * the address): auth-fail-limit of them within auth-fail-window lock the
 * address out for the window, and its requests are then refused with
 * systemUnavail before any MAC or signature is checked (locked_out). The
 * lockout is logged once (ca_server_set_log); counters of the work done are
 * in ca_server_get_stats.
 *
 * Responses: the request's pvno (RFC 4210 7), the request's transactionID,
 * recipNonce = its senderNonce, a fresh senderNonce (RFC 4210 5.1.1); PBM with
 * the profile's secret (same OWF and MAC as the request) when the request was
 * PBM and passed, PBMAC1 (same PRF, MAC and keyLength) when it was PBMAC1,
 * otherwise signed with the signer key, the signer certificate
 * then its chain without the root in extraCerts (also errors answering requests
 * that failed authentication, so the client can still authenticate them).
 *
 * Transactions live in the database (ca_db_txn_*): the request creates the row
 * with its profile and its owner, the identity that authenticated it (a known
 * transactionID is transactionIdInUse); certConf, pollReq and error must name
 * a transaction of the same profile in the right state, come from its owner
 * (same MAC reference or same signer certificate) and answer our last
 * senderNonce in recipNonce. Read-modify-write of a transaction
 * is serialized by a mutex, so several clients (HTTP worker threads) may run at
 * once. RFC 4210 5.1.1.2 / 5.3.18: a certificate not confirmed within
 * confirm-wait (nor polled for) is revoked and its transaction expired; a
 * finished transaction loses its request DER after that wait and is deleted
 * after the retention time (ca_server_sweep, run as requests pass by). Certificates are issued when the request is accepted (also when polling
 * is asked for; polling only delays delivery).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca_int.h"

/* Which authentications a body type admits. */
#define AUTH_MAC	0x1	/* PBM or PBMAC1 with the configured reference and
				 * secret */
#define AUTH_CA		0x2	/* signature, certificate issued by this CA */
#define AUTH_TRUST	0x4	/* signature, certificate under a --trust anchor */

/* PBM iterations: what we verify at most (a request above is refused before
 * any hashing: one failed check costs a tenth of the client's cap of 100,000,
 * about 8 ms of CPU instead of 80), and what we use ourselves at most (the
 * request's count, clamped). RFC 4211 4.4 and RFC 8018 4.1 give the minimums. */
#define CA_PBM_MAX_ITER		10000
static const struct cmp_pbm_limits ca_pbm_limits = {
	CMP_PBM_MIN_ITER, CA_PBM_MAX_ITER, CMP_PBM_MIN_SALT, 0
};

#define RECENT_MAX	64

struct ca_server {
	struct ca *ca;
	X509_STORE *ca_store;		/* the CA certificate alone, as an anchor
					 * (X509_V_FLAG_PARTIAL_CHAIN) */
	STACK_OF(X509) *material;	/* the CA's chain and --extra-certs:
					 * untrusted path material */
	pthread_mutex_t mu;		/* transaction read-modify-write */
	pthread_mutex_t recent_mu;	/* recent[]: never held across a
					 * database call (an ir's recent_put
					 * must not wait for a certConf's
					 * commit under mu) */
	/* The last certificates issued, as issued: what the certConf that
	 * follows needs (the certReqId, the certificate to hash) without
	 * decoding the request and the certificate again from the database
	 * (two key decodes: a third of a transaction's CPU). A miss (a
	 * restart, many transactions between) reads the database. */
	struct recent {
		char *tid;
		char *serial;
		long req_id;
		X509 *cert;
	} recent[RECENT_MAX];
	unsigned recent_next;
	double last_sweep;		/* pk_mono_s of the last sweep, 0: none */
	/* failed authentications per client address (issue 11) */
	struct ca_lockout *lockout;
	ca_log_fn log;
	void *log_arg;
	struct {
		atomic_ulong requests, mac_checks, sig_checks, auth_failures,
		    lockouts, locked_refusals;
	} st;
};

/* One request being answered. */
struct rq {
	const CMP_PKIMESSAGE *req;
	const struct ca_prof *prof;	/* the profile of the request's path */
	const struct ca_profile *pc;	/* its configuration */
	const unsigned char *der;	/* the request as received */
	size_t der_len;
	const char *peer;		/* the client's address, NULL: unknown */
	int body;
	char *tid;			/* hex, NULL when absent */
	char *nonce;			/* the client's senderNonce, hex */
	unsigned char srv_nonce[CMP_NONCE_LEN];
	char *srv_nonce_hex;
	/* authentication outcome */
	int mac_ok;			/* answer MAC-protected, in the request's kind */
	int pbmac1;			/* ... PBMAC1 (else PBM) */
	const char *mac_ref;		/* ... the reference that passed */
	const char *mac_secret;		/* ... and its secret */
	struct cmp_pbm_opts pbm;
	struct cmp_pbmac1_opts pbmac1_opts;
	X509 *signer;			/* the protecting certificate (up-ref'd) */
	int signer_is_ours;		/* chains to the CA */
	int implicit;			/* implicitConfirm granted in the answer */
	char *owner;			/* the identity authenticated: "mac:REF"
					 * or "cert:" SHA-256 of the signer */
	int auth_failed;		/* a credential was presented and did not
					 * pass: counted against the peer */
	/* refusal */
	uint32_t fail;
	struct pk_err err;
};

/* ---- small helpers ---- */

static int
refuse(struct rq *c, int bit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
refuse(struct rq *c, int bit, const char *fmt, ...)
{
	va_list ap;

	c->fail |= CMP_FAIL(bit);
	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	va_end(ap);
	return -1;
}

static char *
octets_hex(const ASN1_OCTET_STRING *o)
{
	if (o == NULL)
		return NULL;
	return pk_hex(ASN1_STRING_get0_data(o), (size_t)ASN1_STRING_length(o), 0);
}

/* Verifies X against STORE with UNTRUSTED as chain material: NULL when it
 * verifies (*depth = the number of certificates in the chain built, anchor
 * included), else the verify error as text. */
static const char *
chain_error(X509_STORE *store, X509 *x, STACK_OF(X509) *untrusted, int *depth)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const char *why = "out of memory";

	*depth = 0;
	if (ctx == NULL)
		return why;
	if (X509_STORE_CTX_init(ctx, store, x, untrusted) == 1) {
		if (X509_verify_cert(ctx) == 1) {
			*depth = sk_X509_num(X509_STORE_CTX_get0_chain(ctx));
			why = NULL;
		} else {
			why = X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx));
		}
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return why;
}

/* The request's extraCerts followed by the CA's own chain material: what a
 * signer's path may be built from (never an anchor). New stack, borrowed
 * certificates (sk_X509_free). */
static STACK_OF(X509) *
chain_material(struct ca_server *s, const CMP_PKIMESSAGE *m)
{
	STACK_OF(X509) *ec = cmp_msg_get0_extra_certs(m);
	STACK_OF(X509) *sk = ec != NULL ? sk_X509_dup(ec) : sk_X509_new_null();
	int i;

	for (i = 0; sk != NULL && i < sk_X509_num(s->material); i++)
		if (!sk_X509_push(sk, sk_X509_value(s->material, i))) {
			sk_X509_free(sk);
			return NULL;
		}
	return sk;
}

/* 0 when X is a certificate this CA issued, on record byte for byte and not
 * revoked; otherwise refused with the reason. */
static int
issued_here(struct ca_server *s, struct rq *c, X509 *x)
{
	struct ca_cert_rec r;
	struct pk_err e;
	char *serial = ca_serial_hex(X509_get0_serialNumber(x));
	X509 *rec = NULL;
	int f, same;

	pk_err_clear(&e);
	f = serial != NULL ? ca_db_find_cert(ca_get0_db(s->ca), serial, &r, &e) : 1;
	free(serial);
	if (f < 0)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
	if (f == 1)
		return refuse(c, CMP_FAIL_SIGNER_NOT_TRUSTED, "RFC 4210 5.1.3.3: the "
		    "certificate protecting the request is not on record at this CA");
	rec = ca_cert_rec_get1_x509(&r);
	same = rec != NULL && X509_cmp(rec, x) == 0;
	f = r.revoked;
	X509_free(rec);
	ca_cert_rec_clear(&r);
	if (!same)
		return refuse(c, CMP_FAIL_SIGNER_NOT_TRUSTED, "RFC 4210 5.1.3.3: the "
		    "certificate protecting the request is not the one on record "
		    "with its serial number");
	if (f)
		return refuse(c, CMP_FAIL_CERT_REVOKED, "the certificate protecting "
		    "the request is revoked");
	return 0;
}

/* The protecting certificate: RFC 4210 5.1.1 senderKID names its key identifier,
 * RFC 9483 3.1 puts it first in extraCerts. */
static X509 *
find_signer(const CMP_PKIMESSAGE *m)
{
	STACK_OF(X509) *ec = cmp_msg_get0_extra_certs(m);
	const ASN1_OCTET_STRING *kid = cmp_msg_get0_sender_kid(m);
	const X509_NAME *name = cmp_msg_get0_sender_name(m);
	int i;

	if (kid != NULL) {
		for (i = 0; i < sk_X509_num(ec); i++) {
			const ASN1_OCTET_STRING *ski =
			    X509_get0_subject_key_id(sk_X509_value(ec, i));

			if (ski != NULL && ASN1_OCTET_STRING_cmp(ski, kid) == 0)
				return sk_X509_value(ec, i);
		}
	}
	if (name != NULL && X509_NAME_entry_count(name) > 0) {
		for (i = 0; i < sk_X509_num(ec); i++) {
			X509 *x = sk_X509_value(ec, i);

			if (X509_NAME_cmp(X509_get_subject_name(x), name) == 0)
				return x;
		}
	}
	return sk_X509_value(ec, 0);
}

/* The PBM parameters of the request, for answering in the same style. */
static int
pbm_style(const CMP_PKIMESSAGE *m, struct cmp_pbm_opts *o, struct rq *c)
{
	const X509_ALGOR *a = cmp_msg_get0_protection_alg(m);
	const ASN1_OBJECT *obj;
	const void *pval;
	const ASN1_STRING *str;
	const unsigned char *p;
	CMP_PBMPARAMETER *pp;
	int ptype, owf, mac;
	long it;

	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	if (ptype != V_ASN1_SEQUENCE || pval == NULL)
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 4210 5.1.3.1: PBMParameter "
		    "missing");
	str = pval;
	p = ASN1_STRING_get0_data(str);
	pp = d2i_CMP_PBMPARAMETER(NULL, &p, ASN1_STRING_length(str));
	if (pp == NULL) {
		ERR_clear_error();
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 4210 5.1.3.1: malformed "
		    "PBMParameter");
	}
	owf = OBJ_obj2nid(pp->owf->algorithm);
	mac = OBJ_obj2nid(pp->mac->algorithm);
	it = ASN1_INTEGER_get(pp->iterationCount);
	CMP_PBMPARAMETER_free(pp);
	if (owf != NID_sha1 && owf != NID_sha256 && owf != NID_sha384 &&
	    owf != NID_sha512)
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 4210 5.1.3.1: unsupported "
		    "PBM one-way function %s", OBJ_nid2sn(owf));
	if (mac != NID_hmac_sha1 && mac != NID_hmacWithSHA1 &&
	    mac != NID_hmacWithSHA256 && mac != NID_hmacWithSHA384 &&
	    mac != NID_hmacWithSHA512)
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 4210 5.1.3.1: unsupported "
		    "PBM MAC algorithm %s", OBJ_nid2sn(mac));
	o->owf_nid = owf;
	o->mac_nid = mac;
	if (it < CMP_PBM_MIN_ITER)
		it = CMP_PBM_MIN_ITER;
	if (it > CA_PBM_MAX_ITER)
		it = CA_PBM_MAX_ITER;
	o->iterations = (int)it;
	o->salt_len = CMP_PBM_DEFAULT_SALT;
	return 0;
}

/* The PBMAC1 parameters of the request, for answering in kind (a
 * MAC-protected request gets a MAC-protected answer, as with PBM): the
 * same PRF, MAC and keyLength, the iteration count clamped like PBM's,
 * a fresh salt of our length. */
static int
pbmac1_style(const CMP_PKIMESSAGE *m, struct cmp_pbmac1_opts *o, struct rq *c)
{
	struct pk_err e;

	pk_err_clear(&e);
	if (cmp_msg_get_pbmac1_opts(m, o, &e) != 0)
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 9481 6.1.2: %s", e.msg);
	if (o->iterations < CMP_PBM_MIN_ITER)
		o->iterations = CMP_PBM_MIN_ITER;
	if (o->iterations > CA_PBM_MAX_ITER)
		o->iterations = CA_PBM_MAX_ITER;
	o->salt_len = CMP_PBM_DEFAULT_SALT;
	return 0;
}

/* ---- authentication (RFC 4210 5.1.3) ---- */

static int
authenticate_1(struct ca_server *s, struct rq *c, int allowed)
{
	const CMP_PKIMESSAGE *m = c->req;
	const ASN1_OCTET_STRING *kid;
	const char *ref = c->pc->ref, *secret = c->prof->secret;
	const char *why = NULL, *why_trust = NULL;
	int admin = c->body == CMP_BODY_RR;
	STACK_OF(X509) *material;
	struct pk_err e;
	X509 *x;
	int depth = 0, trusted = 0;

	switch (cmp_msg_protection_kind(m)) {
	case CMP_PROT_NONE:
		return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 5.1.3: "
		    "the request is not protected");
	case CMP_PROT_PBM:
	case CMP_PROT_PBMAC1:
		if (!(allowed & AUTH_MAC))
			return refuse(c, CMP_FAIL_WRONG_INTEGRITY, "RFC 4210 5.3.5: "
			    "a %s must be signed, not MAC-protected",
			    cmp_body_name(c->body));
		/* issue 11: the enrolment secret is handed to every device
		 * for its ir, so it authorises no revocation: a MAC-protected
		 * rr takes the administrator credential only (admin-ref) */
		if (admin) {
			ref = c->pc->admin_ref;
			secret = c->prof->admin_secret;
		}
		if (admin && secret == NULL)
			return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "a MAC-protected "
			    "rr needs the administrator credential, and profile "
			    "%s has none (admin-ref); the enrolment secret "
			    "revokes nothing: sign the rr with the certificate "
			    "to revoke", c->pc->name);
		if (secret == NULL)
			return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 "
			    "5.1.3.1: profile %s takes no MAC-protected requests "
			    "(it has no secret)", c->pc->name);
		kid = cmp_msg_get0_sender_kid(m);
		if (kid == NULL || (size_t)ASN1_STRING_length(kid) != strlen(ref) ||
		    memcmp(ASN1_STRING_get0_data(kid), ref, strlen(ref)) != 0) {
			c->auth_failed = 1;
			if (admin)
				return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "a "
				    "MAC-protected rr needs the administrator "
				    "reference (admin-ref) of profile %s; the "
				    "enrolment secret revokes nothing",
				    c->pc->name);
			return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 "
			    "5.1.1: senderKID is not a known reference");
		}
		pk_err_clear(&e);
		if (cmp_msg_protection_kind(m) == CMP_PROT_PBMAC1) {
			/* RFC 9481 6.1.2; the iteration count capped as for
			 * PBM, checked before any hashing */
			if (pbmac1_style(m, &c->pbmac1_opts, c) != 0)
				return -1;
			atomic_fetch_add(&s->st.mac_checks, 1);
			if (cmp_msg_verify_pbm(m, secret, strlen(secret),
			    &ca_pbm_limits, &e) != 0) {
				c->auth_failed = 1;
				return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "RFC 9481 6.1.2: %s", e.msg);
			}
			c->pbmac1 = 1;
			c->mac_ok = 1;
			c->mac_ref = ref;
			c->mac_secret = secret;
			return 0;
		}
		if (pbm_style(m, &c->pbm, c) != 0)
			return -1;
		atomic_fetch_add(&s->st.mac_checks, 1);
		if (cmp_msg_verify_pbm(m, secret, strlen(secret), &ca_pbm_limits,
		    &e) != 0) {
			c->auth_failed = 1;
			return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 "
			    "5.1.3.1: %s", e.msg);
		}
		c->mac_ok = 1;
		c->mac_ref = ref;
		c->mac_secret = secret;
		return 0;
	case CMP_PROT_SIG:
		break;
	default:
		return refuse(c, CMP_FAIL_BAD_ALG, "RFC 4210 5.1.3: unknown "
		    "protection algorithm");
	}
	if (!(allowed & (AUTH_CA | AUTH_TRUST)))
		return refuse(c, CMP_FAIL_WRONG_INTEGRITY, "a %s must be "
		    "MAC-protected", cmp_body_name(c->body));
	if ((x = find_signer(m)) == NULL)
		return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 5.1.3.3: "
		    "signature-protected request without the signer's "
		    "certificate in extraCerts");
	pk_err_clear(&e);
	atomic_fetch_add(&s->st.sig_checks, 1);
	if (cmp_msg_verify_sig(m, x, &e) != 0) {
		c->auth_failed = 1;
		return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "RFC 4210 5.1.3.3: %s",
		    e.msg);
	}
	if ((material = chain_material(s, m)) == NULL)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "out of memory");
	if (allowed & AUTH_CA) {
		/* the CA certificate is the anchor, whether it is a root or not
		 * (X509_V_FLAG_PARTIAL_CHAIN on a store that holds only it): the
		 * signer must be its direct subject */
		why = chain_error(s->ca_store, x, material, &depth);
		if (why == NULL && depth == 2) {
			sk_X509_free(material);
			if (issued_here(s, c, x) != 0) {
				/* not on record, another, revoked: a credential
				 * that does not pass */
				c->auth_failed = !(c->fail &
				    CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE));
				return -1;
			}
			c->signer_is_ours = 1;
			X509_up_ref(x);
			c->signer = x;
			return 0;
		}
		if (why == NULL)
			why = "it is not issued by this CA directly";
	}
	/* RFC 4210 5.1.3.3 / 3GPP TS 33.310: a full chain to a --trust anchor */
	if ((allowed & AUTH_TRUST) && c->prof->trust != NULL) {
		why_trust = chain_error(c->prof->trust, x, material, &depth);
		trusted = why_trust == NULL;
	}
	sk_X509_free(material);
	if (!trusted) {
		c->auth_failed = 1;
		return refuse(c, CMP_FAIL_SIGNER_NOT_TRUSTED, "RFC 4210 5.1.3.3: "
		    "the certificate protecting the request is not trusted: %s",
		    why_trust != NULL ? why_trust : why != NULL ? why :
		    "no --trust anchor for this request type");
	}
	X509_up_ref(x);
	c->signer = x;
	return 0;
}

static char *rq_owner(const struct rq *c);

/* Authenticates the request (RFC 4210 5.1.3) by the means ALLOWED; on success
 * C's owner is the identity that passed. */
static int
authenticate(struct ca_server *s, struct rq *c, int allowed)
{
	if (authenticate_1(s, c, allowed) != 0)
		return -1;
	free(c->owner);
	c->owner = rq_owner(c);
	return 0;
}

/* The identity that authenticated C as a transaction owner (ca_txn.owner):
 * "mac:REF" for the profile's reference, "cert:" and the SHA-256 of the signer
 * certificate's DER in hex. New string, NULL before authentication. */
static char *
rq_owner(const struct rq *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	struct sbuf b = SBUF_INIT;
	char *hex;

	if (c->mac_ok) {
		sbuf_printf(&b, "mac:%s", c->mac_ref);
		return sbuf_take(&b);
	}
	if (c->signer == NULL || !X509_digest(c->signer, EVP_sha256(), md, &n))
		return NULL;
	hex = pk_hex(md, n, 0);
	sbuf_printf(&b, "cert:%s", hex);
	free(hex);
	return sbuf_take(&b);
}

/* Who OWNER is, for an operator reading a refusal (into B). */
static void
owner_sbuf(const char *owner, struct sbuf *b)
{
	if (owner == NULL)
		sbuf_puts(b, "nobody on record (a transaction older than this "
		    "rule)");
	else if (strncmp(owner, "mac:", 4) == 0)
		sbuf_printf(b, "MAC reference \"%s\"", owner + 4);
	else
		sbuf_printf(b, "the certificate with SHA-256 fingerprint %.16s...",
		    owner + 5);
}

/* Who sent C (authenticated), for a refusal (into B). */
static void
sender_sbuf(const struct rq *c, struct sbuf *b)
{
	const char *fp;

	if (c->mac_ok || c->signer == NULL) {
		owner_sbuf(c->owner, b);
		return;
	}
	sbuf_puts(b, "the certificate of ");
	pk_name_sbuf(X509_get_subject_name(c->signer), b);
	fp = c->owner != NULL ? c->owner + 5 : "?";
	sbuf_printf(b, " (SHA-256 fingerprint %.16s...)", fp);
}

/* RFC 4210 5.1.1: a transaction's later messages (certConf, pollReq, error)
 * belong to it, and the CA must not let another party end, confirm or poll it:
 * they must come from the identity that opened it (the same MAC reference, or
 * the same signer certificate). Refused with notAuthorized, both identities
 * named. */
static int
txn_owner_check(struct rq *c, const struct ca_txn *t)
{
	struct sbuf want = SBUF_INIT, have = SBUF_INIT;

	if (t->owner != NULL && c->owner != NULL &&
	    strcmp(t->owner, c->owner) == 0)
		return 0;
	owner_sbuf(t->owner, &want);
	sender_sbuf(c, &have);
	refuse(c, CMP_FAIL_NOT_AUTHORIZED, "RFC 4210 5.1.1: the %s of "
	    "transaction %s must come from the identity that opened it, %s; "
	    "it comes from %s", cmp_body_name(c->body), c->tid, sbuf_str(&want),
	    sbuf_str(&have));
	sbuf_free(&want);
	sbuf_free(&have);
	return -1;
}

/* ---- responses ---- */

static void
hdr_init(struct ca_server *s, struct rq *c, struct cmp_hdr *h)
{
	const char *ref = c->mac_ref;

	memset(h, 0, sizeof(*h));
	h->sender = X509_get_subject_name(ca_get0_signer_cert(s->ca));
	h->sender_nonce = c->srv_nonce;
	h->sender_nonce_len = sizeof(c->srv_nonce);
	/* RFC 4210 7: the response has the version of the request (both
	 * cmp2000 and cmp2021 are ours); RFC 9480 2.20: cmp2021 only where
	 * its syntax is needed, so we never raise it */
	h->pvno = c->req != NULL && cmp_msg_pvno(c->req) == 3 ? 3 : CMP_PVNO;
	if (c->mac_ok) {
		h->sender_kid = (const unsigned char *)ref;
		h->sender_kid_len = strlen(ref);
	}
	h->implicit_confirm = c->implicit;
}

/* Protects RSP like the request (RFC 4210 5.1.3): PBM or PBMAC1 when the
 * request was so protected and passed, otherwise signed. */
static int
protect(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE *rsp,
    struct pk_err *e)
{
	const char *secret = c->mac_secret;

	if (c->mac_ok && c->pbmac1)
		return cmp_msg_protect_pbmac1(rsp, secret, strlen(secret),
		    &c->pbmac1_opts, e);
	if (c->mac_ok)
		return cmp_msg_protect_pbm(rsp, secret, strlen(secret), &c->pbm, e);
	return cmp_msg_protect_sig(rsp, ca_get0_signer_key(s->ca),
	    ca_get0_signer_cert(s->ca), ca_get0_resp_chain(s->ca), 0, 0, e);
}

/* ---- transactions ---- */

/* Creates the transaction row of a new request (RFC 4210 5.1.1). */
/* The record of C's new transaction in state ST (borrowing C's strings). */
static void
txn_fill(struct rq *c, struct ca_txn *t, enum ca_txn_state st, int keep_request)
{
	memset(t, 0, sizeof(*t));
	t->tid = c->tid;
	t->state = st;
	t->body_type = c->body;
	t->sender_nonce = c->nonce;
	t->server_nonce = c->srv_nonce_hex;
	t->profile = (char *)c->pc->name;
	t->owner = c->owner;
	if (keep_request) {
		t->request = (unsigned char *)c->der;
		t->request_len = c->der_len;
	}
}

static int
txn_create(struct ca_server *s, struct rq *c, enum ca_txn_state st,
    int keep_request)
{
	struct ca_txn t;
	struct pk_err e;
	int r;

	txn_fill(c, &t, st, keep_request);
	pk_err_clear(&e);
	r = ca_db_txn_new(ca_get0_db(s->ca), &t, &e);
	if (r == 1)
		return refuse(c, CMP_FAIL_TRANSACTION_ID_IN_USE, "RFC 4210 5.1.1: "
		    "transactionID %s is already in use", c->tid);
	if (r != 0)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
	return 0;
}

/* Writes state, nonces and serial of the transaction. */
static void
txn_set(struct ca_server *s, struct rq *c, struct ca_txn *t,
    enum ca_txn_state st, const char *serial)
{
	struct pk_err e;
	char *old = t->cert_serial;

	t->state = st;
	if (serial != NULL)
		t->cert_serial = (char *)serial;
	free(t->sender_nonce);
	t->sender_nonce = xstrdup(c->nonce);
	free(t->server_nonce);
	t->server_nonce = xstrdup(c->srv_nonce_hex);
	(void)ca_db_txn_update(ca_get0_db(s->ca), t, &e);
	t->cert_serial = old;
}

/* Marks the new transaction of C with ST (and SERIAL). */
static void
txn_finish(struct ca_server *s, struct rq *c, enum ca_txn_state st,
    const char *serial)
{
	struct ca_txn t;
	struct pk_err e;

	if (ca_db_txn_get(ca_get0_db(s->ca), c->tid, &t, &e) != 0)
		return;
	txn_set(s, c, &t, st, serial);
	ca_txn_clear(&t);
}

/* ---- certificate requests ---- */

static int
rep_type(int body)
{
	switch (body) {
	case CMP_BODY_IR: return CMP_BODY_IP;
	case CMP_BODY_KUR: return CMP_BODY_KUP;
	default: return CMP_BODY_CP;
	}
}

/* subjectAltName of a PKCS#10 request (new, or NULL). */
static GENERAL_NAMES *
csr_san(X509_REQ *csr)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *san = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);

	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return san;
}

/* The subjectAltName entries of SAN as text ("DNS:a.example, IP
 * Address:192.0.2.1"; "none" when empty) into B. */
static void
san_sbuf(const GENERAL_NAMES *san, struct sbuf *b)
{
	BIO *bio;
	char *p;
	long n;
	int i;

	if (san == NULL || sk_GENERAL_NAME_num(san) == 0) {
		sbuf_puts(b, "none");
		return;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		if (i > 0)
			BIO_puts(bio, ", ");
		GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(san, i));
	}
	n = BIO_get_mem_data(bio, &p);
	sbuf_printf(b, "%.*s", (int)(n < 300 ? n : 300), p);
	BIO_free(bio);
}

/* 1 when A and B hold the same names (in any order). */
static int
same_names(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	int i, j, na = a != NULL ? sk_GENERAL_NAME_num(a) : 0;
	int nb = b != NULL ? sk_GENERAL_NAME_num(b) : 0, found;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++) {
		for (found = 0, j = 0; !found && j < nb; j++)
			found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			    sk_GENERAL_NAME_value(b, j)) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Whom a certificate request may name (DESIGN "Trust rules"). A MAC-protected
 * request is authorised by the shared secret: the template's subject and
 * subjectAltName. A signed one (cr, kur, p10cr; ir under a --trust anchor or
 * signed by a certificate of ours) is authorised by its signer certificate
 * (RFC 4210 5.1.3.3): it gets that certificate's subject and subjectAltName; a
 * template naming others is refused (badCertTemplate, both names in the text)
 * unless the profile sets allow-subject-change, and then the template's count,
 * the absent ones still the signer's. A kur renews the certificate it updates
 * (RFC 4210 5.3.5). *SAN may be replaced (freed here).
 */
static int
request_identity(struct rq *c, const X509_NAME **subject, GENERAL_NAMES **san)
{
	X509 *x = c->signer;
	const X509_NAME *own;
	GENERAL_NAMES *own_san;
	struct sbuf want = SBUF_INIT, have = SBUF_INIT;
	const char *clause = c->body == CMP_BODY_KUR ? "RFC 4210 5.3.5: a kur "
	    "keeps the identity of the certificate it updates" : "RFC 4210 "
	    "5.1.3.3: a signed request is for the identity of its signer";
	int tsubj, tsan, rc = -1;

	if (x == NULL)
		return 0;
	own = X509_get_subject_name(x);
	own_san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ERR_clear_error();
	tsubj = *subject != NULL && X509_NAME_entry_count(*subject) > 0;
	tsan = *san != NULL && sk_GENERAL_NAME_num(*san) > 0;
	if (!c->pc->allow_subject_change) {
		if (tsubj && X509_NAME_cmp(*subject, own) != 0) {
			pk_name_sbuf(*subject, &want);
			pk_name_sbuf(own, &have);
			refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "%s: the template asks "
			    "for subject %s, the signing certificate's is %s "
			    "(profile %s does not set allow-subject-change)", clause,
			    sbuf_str(&want), sbuf_str(&have), c->pc->name);
			goto out;
		}
		if (tsan && !same_names(*san, own_san)) {
			san_sbuf(*san, &want);
			san_sbuf(own_san, &have);
			refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "%s: the template asks "
			    "for subjectAltName %s, the signing certificate has %s "
			    "(profile %s does not set allow-subject-change)", clause,
			    sbuf_str(&want), sbuf_str(&have), c->pc->name);
			goto out;
		}
		tsubj = tsan = 0;
	}
	if (!tsubj)
		*subject = own;
	if (!tsan) {
		GENERAL_NAMES_free(*san);
		*san = own_san;
		own_san = NULL;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(own_san);
	sbuf_free(&want);
	sbuf_free(&have);
	return rc;
}

/* RFC 5280 4.2.1.9: this CA issues end-entity certificates only; a template
 * (EXTS) or a PKCS#10 extension request (CSR) asking for basicConstraints cA
 * TRUE is refused rather than quietly issued without it. Other requested
 * extensions are not copied (the CA sets its own), the SAN aside. */
static int
no_ca_true(struct rq *c, const STACK_OF(X509_EXTENSION) *exts, X509_REQ *csr)
{
	STACK_OF(X509_EXTENSION) *req = csr != NULL ?
	    X509_REQ_get_extensions(csr) : NULL;
	BASIC_CONSTRAINTS *bc;
	int ca;

	bc = X509V3_get_d2i(csr != NULL ? req : exts, NID_basic_constraints,
	    NULL, NULL);
	ca = bc != NULL && bc->ca;
	BASIC_CONSTRAINTS_free(bc);
	sk_X509_EXTENSION_pop_free(req, X509_EXTENSION_free);
	ERR_clear_error();
	if (ca)
		return refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "RFC 5280 4.2.1.9: "
		    "this CA issues end-entity certificates only; the request "
		    "asks for basicConstraints cA TRUE");
	return 0;
}

/* Refuses a key the profile does not certify, naming what it does. */
static void
refuse_key_type(struct rq *c, EVP_PKEY *pub)
{
	struct sbuf b = SBUF_INIT;
	char grp[64];

	sbuf_printf(&b, "%s %d bits", OBJ_nid2sn(EVP_PKEY_get_base_id(pub)),
	    EVP_PKEY_get_bits(pub));
	if (EVP_PKEY_get_utf8_string_param(pub, "group", grp, sizeof(grp), NULL))
		sbuf_printf(&b, " (%s)", grp);
	ERR_clear_error();
	refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "profile %s does not certify a %s "
	    "key (its key-types are in signKeyPairTypes)", c->pc->name,
	    sbuf_str(&b));
	sbuf_free(&b);
}

/* The certificate answer of a delivered request: ip/cp/kup with CERT, caPubs
 * in an ip (RFC 4210 5.3.2), implicitConfirm when asked and granted. */
static int
deliver(struct ca_server *s, struct rq *c, const CMP_PKIMESSAGE *orig,
    long req_id, X509 *cert, CMP_PKIMESSAGE **rsp, struct pk_err *e)
{
	struct cmp_hdr h;
	int type = rep_type(cmp_msg_body_type(orig));

	/* RFC 4210 5.1.1.1: implicitConfirm only when asked and allowed */
	c->implicit = cmp_msg_implicit_confirm(orig) &&
	    c->pc->implicit_confirm;
	hdr_init(s, c, &h);
	/* RFC 4210 5.3.2: caPubs in an ip only */
	return cmp_build_certrep(&h, c->req, type, req_id, CMP_STATUS_ACCEPTED, 0,
	    NULL, cert, type == CMP_BODY_IP ? ca_get0_capubs(s->ca) : NULL, rsp,
	    e);
}

/* The certReqId of a stored request: the CertReqMsg's, -1 for p10cr
 * (RFC 4210 5.3.4 as clarified by RFC 9480 / OpenSSL). */
static long
orig_req_id(const CMP_PKIMESSAGE *orig)
{
	if (cmp_msg_body_type(orig) == CMP_BODY_P10CR)
		return -1;
	return cmp_crm_req_id(cmp_req_get0(orig, 0));
}

static void
recent_clear(struct recent *r)
{
	free(r->tid);
	free(r->serial);
	X509_free(r->cert);
	memset(r, 0, sizeof(*r));
}

/* Remembers CERT (up-ref'd), issued with SERIAL for certReqId REQ_ID in
 * transaction TID. */
static void
recent_put(struct ca_server *s, const char *tid, const char *serial,
    long req_id, X509 *cert)
{
	struct recent *r;

	if (tid == NULL || serial == NULL || !X509_up_ref(cert))
		return;
	pthread_mutex_lock(&s->recent_mu);
	r = &s->recent[s->recent_next++ % RECENT_MAX];
	recent_clear(r);
	r->tid = xstrdup(tid);
	r->serial = xstrdup(serial);
	r->req_id = req_id;
	r->cert = cert;
	pthread_mutex_unlock(&s->recent_mu);
}

/* The certificate issued in T (its serial on record) and its
 * certReqId, taken from recent[] (the entry is used up); 0, or -1 for none. */
static int
recent_take(struct ca_server *s, const struct ca_txn *t, X509 **cert,
    long *req_id)
{
	int rc = -1;

	pthread_mutex_lock(&s->recent_mu);
	for (unsigned i = 0; i < RECENT_MAX && rc != 0; i++) {
		struct recent *r = &s->recent[i];

		if (r->tid == NULL || t->cert_serial == NULL ||
		    strcmp(r->tid, t->tid) != 0 ||
		    strcmp(r->serial, t->cert_serial) != 0)
			continue;
		*cert = r->cert;
		*req_id = r->req_id;
		r->cert = NULL;
		recent_clear(r);
		rc = 0;
	}
	pthread_mutex_unlock(&s->recent_mu);
	return rc;
}

/* kur: the certificate being updated is the one that signed the request
 * (RFC 4210 5.3.5, RFC 9483 4.1.3); id-regCtrl-oldCertID, when sent, must name
 * it. *old gets a reference to the signer. */
static int
kur_old_cert(struct ca_server *s, struct rq *c, const CMP_CERTREQMSG *crm,
    X509 **old)
{
	X509_NAME *iss = NULL;
	ASN1_INTEGER *ser = NULL;
	struct ca_cert_rec r;
	struct pk_err e;
	int rc = -1, f;

	*old = NULL;
	if (!c->signer_is_ours)
		return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "RFC 4210 5.3.5: a kur "
		    "must be signed by the certificate it updates, one issued by "
		    "this CA");
	pk_err_clear(&e);
	/* cmp/ cites RFC 4211 6.5 where it reads the control */
	if (cmp_crm_get1_old_cert_id(crm, &iss, &ser, &e) != 0)
		return refuse(c, CMP_FAIL_BAD_REQUEST, "%s", e.msg);
	if (ser != NULL) {
		f = ca_db_find_cert_id(ca_get0_db(s->ca), iss, ser, &r, &e);
		if (f == 1) {
			refuse(c, CMP_FAIL_BAD_CERT_ID, "RFC 4211 6.5: oldCertID "
			    "names no certificate issued by this CA");
			goto out;
		}
		if (f != 0) {
			refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
			goto out;
		}
		f = r.revoked;
		ca_cert_rec_clear(&r);
		if (f) {
			refuse(c, CMP_FAIL_CERT_REVOKED, "the certificate to update "
			    "is revoked");
			goto out;
		}
		if (ASN1_INTEGER_cmp(ser, X509_get0_serialNumber(c->signer)) != 0 ||
		    X509_NAME_cmp(iss, X509_get_issuer_name(c->signer)) != 0) {
			refuse(c, CMP_FAIL_BAD_CERT_ID, "RFC 4210 5.3.5: oldCertID "
			    "does not name the certificate that signed the kur");
			goto out;
		}
	}
	X509_up_ref(c->signer);
	*old = c->signer;
	rc = 0;
out:
	X509_NAME_free(iss);
	ASN1_INTEGER_free(ser);
	return rc;
}

static int
do_certreq(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	const struct ca_profile *cfg = c->pc;
	int allowed = AUTH_MAC | AUTH_CA;
	const CMP_CERTREQMSG *crm = NULL;
	const CMP_CERTTEMPLATE *tmpl;
	X509_REQ *csr = NULL;
	EVP_PKEY *pub = NULL;
	const X509_PUBKEY *spki = NULL;	/* PUB as encoded in the request */
	const X509_NAME *subject = NULL;
	GENERAL_NAMES *san = NULL;
	X509 *old = NULL, *cert = NULL;
	char *serial = NULL;
	struct cmp_hdr h;
	struct pk_err e;
	struct ca_db *db = ca_get0_db(s->ca);
	long req_id = 0;
	int r, rc = -1, created = 0, batch = 0;

	if (c->body == CMP_BODY_IR)
		allowed |= AUTH_TRUST;		/* 3GPP TS 33.310 vendor cert */
	else if (c->body == CMP_BODY_KUR)
		allowed = AUTH_CA;
	if (authenticate(s, c, allowed) != 0)
		return -1;
	if (c->body == CMP_BODY_P10CR) {
		csr = cmp_msg_get0_p10(c->req);
		req_id = -1;
		pub = csr != NULL ? X509_REQ_get0_pubkey(csr) : NULL;
		spki = csr != NULL ? X509_REQ_get_X509_PUBKEY(csr) : NULL;
		if (pub == NULL) {
			refuse(c, CMP_FAIL_BAD_DATA_FORMAT, "the PKCS#10 request "
			    "has no usable public key");
			goto out;
		}
		/* RFC 2986 4.2: the self-signature is the proof of possession */
		if (X509_REQ_verify(csr, pub) != 1) {
			ERR_clear_error();
			refuse(c, CMP_FAIL_BAD_POP, "RFC 2986: the PKCS#10 "
			    "signature does not verify with its public key");
			goto out;
		}
		subject = X509_REQ_get_subject_name(csr);
		san = csr_san(csr);
	} else {
		/* RFC 9483 4.1.1: one CertReqMsg per request */
		if (cmp_req_count(c->req) != 1) {
			refuse(c, CMP_FAIL_BAD_REQUEST, "exactly one CertReqMsg "
			    "is supported, the request has %d",
			    cmp_req_count(c->req));
			goto out;
		}
		crm = cmp_req_get0(c->req, 0);
		req_id = cmp_crm_req_id(crm);
		tmpl = cmp_crm_get0_template(crm);
		spki = cmp_tmpl_get0_spki(tmpl);
		if ((pub = cmp_tmpl_get0_pubkey(tmpl)) == NULL) {
			refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "RFC 4211 5: the "
			    "certTemplate has no usable publicKey (central key "
			    "generation is not offered)");
			goto out;
		}
		/* RFC 4211 4: POP; raVerified is not accepted from an EE */
		pk_err_clear(&e);
		if (cmp_crm_verify_pop(crm, 0, &e) != 0) {
			refuse(c, CMP_FAIL_BAD_POP, "%s", e.msg);
			goto out;
		}
		subject = cmp_tmpl_get0_subject(tmpl);
		san = cmp_tmpl_get1_san(tmpl);
		/* RFC 4210 5.3.5: the kur's signer is the certificate it updates */
		if (c->body == CMP_BODY_KUR && kur_old_cert(s, c, crm, &old) != 0)
			goto out;
	}
	if (no_ca_true(c, crm != NULL ? cmp_tmpl_get0_extensions(
	    cmp_crm_get0_template(crm)) : NULL, csr) != 0 ||
	    request_identity(c, &subject, &san) != 0)
		goto out;
	/* the profile's issuing policy: the key types it certifies */
	if (!ca_profile_accepts_key(cfg, pub)) {
		refuse_key_type(c, pub);
		goto out;
	}
	/* What the request changes is one batch, one commit (the fsync is
	 * most of an issuance's cost): the transaction (its transactionID
	 * claimed here, RFC 4210 5.1.1), the serial, the certificate, its
	 * state. The checks above ran outside it, in parallel with other
	 * requests; a refusal among them is recorded at out. */
	pk_err_clear(&e);
	if (ca_db_batch_begin(db, &e) != 0) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	batch = 1;
	if (txn_create(s, c, CA_TXN_REJECTED, 1) != 0)
		goto out;
	created = 1;
	pk_err_clear(&e);
	/* -2: the policy that holds for every profile (the key's type and
	 * size, never the CA's name) refused the template */
	if ((r = ca_issue(s->ca, pub, spki, subject, san, cfg->validity, c->tid, &cert,
	    &e)) != 0) {
		refuse(c, r == -2 ? CMP_FAIL_BAD_CERT_TEMPLATE :
		    CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	serial = ca_serial_hex(X509_get0_serialNumber(cert));
	if (cfg->poll > 0) {
		/* RFC 4210 5.3.22: "waiting" now, the certificate on pollReq */
		hdr_init(s, c, &h);
		if (cmp_build_certrep(&h, c->req, rep_type(c->body), req_id,
		    CMP_STATUS_WAITING, 0, "the certificate is being prepared",
		    NULL, NULL, rsp, &c->err) != 0) {
			c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
			goto out;
		}
		txn_finish(s, c, CA_TXN_POLLING, serial);
	} else {
		if (deliver(s, c, c->req, req_id, cert, rsp, &c->err) != 0) {
			c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
			goto out;
		}
		txn_finish(s, c, c->implicit ? CA_TXN_CONFIRMED : CA_TXN_ISSUED,
		    serial);
	}
	created = 0;
	rc = 0;
out:
	if (rc != 0 && created)
		txn_finish(s, c, CA_TXN_REJECTED, serial);
	if (batch) {
		pk_err_clear(&e);
		if (ca_db_batch_end(db, 1, &e) != 0 && rc == 0) {
			/* nothing is on record: the certificate must not leave */
			CMP_PKIMESSAGE_free(*rsp);
			*rsp = NULL;
			refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
			rc = -1;
		}
		if (rc == 0 && cfg->poll == 0 && !c->implicit)
			recent_put(s, c->tid, serial, req_id, cert);
	} else if (rc != 0 && c->tid != NULL) {
		/* refused before the batch: the transactionID is used up all
		 * the same (an answer was given under it); a clash with an
		 * existing one changes nothing */
		struct ca_txn t;

		txn_fill(c, &t, CA_TXN_REJECTED, 1);
		(void)ca_db_txn_new(db, &t, &e);
	}
	free(serial);
	X509_free(cert);
	X509_free(old);
	GENERAL_NAMES_free(san);
	return rc;
}

/* ---- certConf, pollReq, error: messages inside a transaction ---- */

/* Issue 11 (PBM cost): a certConf, pollReq or error must name a transaction
 * of this profile; checked before authentication, so that an unauthenticated
 * request naming none costs a database lookup, not a MAC computation of up
 * to CA_PBM_MAX_ITER iterations. txn_lookup checks it again under the lock. */
static int
txn_known(struct ca_server *s, struct rq *c)
{
	struct ca_txn t;
	struct pk_err e;
	int r, other;

	pk_err_clear(&e);
	r = ca_db_txn_get(ca_get0_db(s->ca), c->tid, &t, &e);
	if (r == 1)
		return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.1: no "
		    "transaction with transactionID %s", c->tid);
	if (r != 0)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
	other = t.profile == NULL || strcmp(t.profile, c->pc->name) != 0;
	ca_txn_clear(&t);
	if (other)
		return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.1: "
		    "transactionID %s belongs to another profile's path", c->tid);
	return 0;
}

/* Looks up the transaction of C under the lock and checks recipNonce. Returns 0
 * with *t filled and s->mu held; -1 (refused, lock released). */
static int
txn_lookup(struct ca_server *s, struct rq *c, struct ca_txn *t)
{
	struct pk_err e;
	int r;
	char *rn;

	pthread_mutex_lock(&s->mu);
	pk_err_clear(&e);
	r = ca_db_txn_get(ca_get0_db(s->ca), c->tid, t, &e);
	if (r != 0) {
		pthread_mutex_unlock(&s->mu);
		if (r == 1)
			return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.1: no "
			    "transaction with transactionID %s", c->tid);
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
	}
	/* a transaction lives in the profile whose path opened it: its
	 * secret and trust anchors, not another profile's, admit what follows */
	if (t->profile == NULL || strcmp(t->profile, c->pc->name) != 0) {
		ca_txn_clear(t);
		pthread_mutex_unlock(&s->mu);
		return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.1: "
		    "transactionID %s belongs to another profile's path", c->tid);
	}
	if (txn_owner_check(c, t) != 0) {
		ca_txn_clear(t);
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	/* RFC 4210 5.1.1: recipNonce answers our last senderNonce */
	rn = octets_hex(cmp_msg_get0_recip_nonce(c->req));
	if (rn == NULL || t->server_nonce == NULL ||
	    strcmp(rn, t->server_nonce) != 0) {
		free(rn);
		ca_txn_clear(t);
		pthread_mutex_unlock(&s->mu);
		return refuse(c, CMP_FAIL_BAD_RECIPIENT_NONCE, "RFC 4210 5.1.1: "
		    "recipNonce does not match the senderNonce of our last "
		    "message in this transaction");
	}
	free(rn);
	return 0;
}

/* The request of a transaction, decoded again. */
static int
txn_request(struct rq *c, const struct ca_txn *t, CMP_PKIMESSAGE **orig)
{
	struct pk_err e;

	*orig = NULL;
	if (t->request == NULL || cmp_msg_decode(t->request, t->request_len, orig,
	    &e) != 0)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "the transaction's "
		    "request is not on record");
	return 0;
}

static X509 *
txn_cert(struct ca_server *s, const struct ca_txn *t)
{
	struct ca_cert_rec r;
	struct pk_err e;
	X509 *x;

	if (t->cert_serial == NULL ||
	    ca_db_find_cert(ca_get0_db(s->ca), t->cert_serial, &r, &e) != 0)
		return NULL;
	x = ca_cert_rec_get1_x509(&r);
	ca_cert_rec_clear(&r);
	return x;
}

static int
do_certconf(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	struct ca_txn t;
	CMP_PKIMESSAGE *orig = NULL;
	const CMP_CERTSTATUS *cs;
	const CMP_PKISTATUSINFO *si;
	struct cmp_hdr h;
	struct pk_err e;
	X509 *cert = NULL;
	long st, orig_id = 0;
	int rc = -1, n, locked;

	if (txn_known(s, c) != 0 ||
	    authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST) != 0)
		return -1;
	if (txn_lookup(s, c, &t) != 0)
		return -1;
	locked = 1;
	switch (t.state) {
	case CA_TXN_ISSUED:
		break;
	case CA_TXN_CONFIRMED:
		refuse(c, CMP_FAIL_CERT_CONFIRMED, "RFC 4210 5.3.18: the "
		    "certificate was already confirmed");
		goto out;
	case CA_TXN_POLLING:
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.18: certConf "
		    "before the certificate was delivered (pollReq expected)");
		goto out;
	default:
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.18: the "
		    "transaction is %s, no certificate awaits confirmation",
		    ca_txn_state_name(t.state));
		goto out;
	}
	if (recent_take(s, &t, &cert, &orig_id) != 0) {
		if (txn_request(c, &t, &orig) != 0)
			goto out;
		orig_id = orig_req_id(orig);
		if ((cert = txn_cert(s, &t)) == NULL) {
			refuse(c, CMP_FAIL_SYSTEM_FAILURE, "the issued "
			    "certificate is not on record");
			goto out;
		}
	}
	n = cmp_certconf_count(c->req);
	if (n > 1) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.18: %d CertStatus "
		    "for one certificate", n);
		goto out;
	}
	if (n == 0) {
		/* RFC 4210 5.3.18: an empty certConf rejects all certificates */
		st = CMP_STATUS_REJECTION;
	} else {
		cs = cmp_certconf_get0(c->req, 0);
		if (cmp_certstatus_req_id(cs) != orig_id) {
			refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.18: "
			    "certReqId %ld does not match the request's %ld",
			    cmp_certstatus_req_id(cs), orig_id);
			goto out;
		}
		pk_err_clear(&e);
		/* cmp/ cites RFC 4210 5.3.18 where it checks certHash */
		if (cmp_certstatus_check_hash(cs, cert, &e) != 0) {
			refuse(c, CMP_FAIL_BAD_CERT_ID, "%s", e.msg);
			goto out;
		}
		/* absent statusInfo means accepted (BouncyCastle) */
		si = cmp_certstatus_get0_si(cs);
		st = si == NULL ? CMP_STATUS_ACCEPTED : cmp_si_status(si);
	}
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_REJECTION) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.18: status %s in "
		    "certConf", cmp_status_name(st));
		goto out;
	}
	hdr_init(s, c, &h);
	if (cmp_build_pkiconf(&h, c->req, rsp, &c->err) != 0) {
		c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
		goto out;
	}
	/* one commit: the revocation and the transaction's end together */
	pk_err_clear(&e);
	if (ca_db_batch_begin(ca_get0_db(s->ca), &e) != 0) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	/* the batch holds the database until its commit: a certConf for the
	 * same transaction reads the new state after it, so the server's
	 * lock can go now, before the commit's fsync (every request takes
	 * that lock briefly: none waits for this disk write) */
	pthread_mutex_unlock(&s->mu);
	locked = 0;
	if (st == CMP_STATUS_REJECTION) {
		/* the client refused the certificate: it must never be used */
		(void)ca_db_revoke(ca_get0_db(s->ca), t.cert_serial, 0, &e);
		txn_set(s, c, &t, CA_TXN_REJECTED, NULL);
	} else {
		txn_set(s, c, &t, CA_TXN_CONFIRMED, NULL);
	}
	if (ca_db_batch_end(ca_get0_db(s->ca), 1, &e) != 0) {
		CMP_PKIMESSAGE_free(*rsp);
		*rsp = NULL;
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	rc = 0;
out:
	if (locked)
		pthread_mutex_unlock(&s->mu);
	ca_txn_clear(&t);
	CMP_PKIMESSAGE_free(orig);
	X509_free(cert);
	return rc;
}

static int
do_pollreq(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	const struct ca_profile *cfg = c->pc;
	struct ca_txn t;
	CMP_PKIMESSAGE *orig = NULL;
	struct cmp_hdr h;
	struct pk_err e;
	X509 *cert = NULL;
	long rid;
	int rc = -1, count = 0;

	if (txn_known(s, c) != 0 ||
	    authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST) != 0)
		return -1;
	if (txn_lookup(s, c, &t) != 0)
		return -1;
	if (t.state != CA_TXN_POLLING) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.22: nothing to poll "
		    "for: the transaction is %s", ca_txn_state_name(t.state));
		goto out;
	}
	if (txn_request(c, &t, &orig) != 0)
		goto out;
	rid = orig_req_id(orig);
	if (cmp_pollreq_req_id(c->req, 0) != rid) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.3.22: pollReq for "
		    "certReqId %ld, the request had %ld",
		    cmp_pollreq_req_id(c->req, 0), rid);
		goto out;
	}
	pk_err_clear(&e);
	if (ca_db_txn_poll(ca_get0_db(s->ca), c->tid, &count, &e) != 0) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	t.poll_count = count;
	if (count < cfg->poll) {
		/* the request's "waiting" was one of the --poll answers */
		hdr_init(s, c, &h);
		if (cmp_build_pollrep(&h, c->req, rid, cfg->check_after,
		    "the certificate is being prepared", rsp, &c->err) != 0) {
			c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
			goto out;
		}
		txn_set(s, c, &t, CA_TXN_POLLING, NULL);
		rc = 0;
		goto out;
	}
	if ((cert = txn_cert(s, &t)) == NULL) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "the issued certificate is "
		    "not on record");
		goto out;
	}
	if (deliver(s, c, orig, rid, cert, rsp, &c->err) != 0) {
		c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
		goto out;
	}
	txn_set(s, c, &t, c->implicit ? CA_TXN_CONFIRMED : CA_TXN_ISSUED, NULL);
	rc = 0;
out:
	pthread_mutex_unlock(&s->mu);
	ca_txn_clear(&t);
	CMP_PKIMESSAGE_free(orig);
	X509_free(cert);
	return rc;
}

/* RFC 4210 5.3.21: an error from the client ends its transaction; pkiConf.
 * Like certConf and pollReq it must come from the transaction's owner and
 * answer our last senderNonce (txn_lookup): otherwise anyone who saw the
 * transactionID could revoke another device's fresh certificate. */
static int
do_error(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	struct ca_txn t;
	struct cmp_hdr h;
	struct pk_err e;

	if (txn_known(s, c) != 0 ||
	    authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST) != 0)
		return -1;
	if (txn_lookup(s, c, &t) != 0)
		return -1;
	if (t.state == CA_TXN_ISSUED && t.cert_serial != NULL)
		(void)ca_db_revoke(ca_get0_db(s->ca), t.cert_serial, 0, &e);
	if (t.state == CA_TXN_ISSUED || t.state == CA_TXN_POLLING)
		txn_set(s, c, &t, CA_TXN_REJECTED, NULL);
	ca_txn_clear(&t);
	pthread_mutex_unlock(&s->mu);
	hdr_init(s, c, &h);
	if (cmp_build_pkiconf(&h, c->req, rsp, &c->err) != 0)
		return refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", c->err.msg);
	return 0;
}

/* ---- rr ---- */

static int
do_rr(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	const CMP_CERTTEMPLATE *d;
	const X509_NAME *iss;
	const ASN1_INTEGER *ser;
	struct ca_cert_rec r;
	struct cmp_hdr h;
	struct pk_err e;
	long reason = -1;
	int f, rc = -1, found = 0;

	if (authenticate(s, c, AUTH_MAC | AUTH_CA) != 0)
		return -1;
	if (txn_create(s, c, CA_TXN_REJECTED, 0) != 0)
		return -1;
	memset(&r, 0, sizeof(r));
	/* RFC 9483 4.2: one RevDetails */
	if (cmp_rr_count(c->req) != 1) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "exactly one RevDetails is "
		    "supported, the request has %d", cmp_rr_count(c->req));
		goto out;
	}
	/* RFC 5280 5.3.1: CRLReason 0 to 10, 7 is not used; certificateHold
	 * (6) suspends, removeFromCRL (8) releases a hold */
	if (cmp_rr_reason_code(c->req, 0, &reason) != 0 || reason == 7 ||
	    reason > 10) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 5280 5.3.1: the reasonCode in "
		    "crlEntryDetails is not a CRLReason (0 to 10 but 7)");
		goto out;
	}
	d = cmp_rr_get0_details(c->req, 0);
	iss = cmp_tmpl_get0_issuer(d);
	ser = cmp_tmpl_get0_serial(d);
	if (iss == NULL || ser == NULL) {
		refuse(c, CMP_FAIL_BAD_CERT_TEMPLATE, "RFC 4210 5.3.9: certDetails "
		    "must name the issuer and serialNumber");
		goto out;
	}
	pk_err_clear(&e);
	f = ca_db_find_cert_id(ca_get0_db(s->ca), iss, ser, &r, &e);
	if (f == 1) {
		refuse(c, CMP_FAIL_BAD_CERT_ID, "RFC 4210 5.3.9: no certificate "
		    "with this issuer and serial was issued by this CA");
		goto out;
	}
	if (f != 0) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	found = 1;
	/* a certificate may revoke itself, nothing else (MAC: only the
	 * administrator credential passed authenticate) */
	if (c->signer != NULL &&
	    (ASN1_INTEGER_cmp(ser, X509_get0_serialNumber(c->signer)) != 0 ||
	    X509_NAME_cmp(iss, X509_get_issuer_name(c->signer)) != 0)) {
		refuse(c, CMP_FAIL_NOT_AUTHORIZED, "a signed rr may only revoke "
		    "the certificate that signed it");
		goto out;
	}
	f = ca_db_revoke(ca_get0_db(s->ca), r.serial, (int)reason, &e);
	if (f == 2) {
		refuse(c, CMP_FAIL_CERT_REVOKED, "RFC 9483 4.2: the certificate "
		    "is already %s", r.reason == CA_CRL_HOLD ? "on hold" :
		    "revoked");
		goto out;
	}
	if (f == 3) {
		refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 5280 5.3.1: removeFromCRL "
		    "releases a certificate on hold; this one is %s",
		    r.revoked ? "revoked for good" : "not revoked");
		goto out;
	}
	if (f != 0) {
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "%s", e.msg);
		goto out;
	}
	hdr_init(s, c, &h);
	if (cmp_build_rp(&h, c->req, CMP_STATUS_ACCEPTED, 0, NULL, rsp,
	    &c->err) != 0) {
		c->fail |= CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE);
		goto out;
	}
	rc = 0;
out:
	txn_finish(s, c, rc == 0 ? CA_TXN_CLOSED : CA_TXN_REJECTED,
	    found ? r.serial : NULL);
	if (found)
		ca_cert_rec_clear(&r);
	return rc;
}

/* ---- genm (RFC 4210 5.3.19, RFC 9483 4.3) ---- */

/* The AlgorithmIdentifier of a key type: rsaEncryption (NULL parameters,
 * RFC 3279 2.3.1), id-ecPublicKey with its namedCurve (RFC 5480 2.1.1),
 * id-Ed25519 / id-Ed448 without parameters (RFC 8410 3). New. */
static X509_ALGOR *
key_type_alg(const struct ca_key_type *kt)
{
	X509_ALGOR *a = X509_ALGOR_new();
	int ok;

	if (a == NULL)
		return NULL;
	switch (kt->type) {
	case EVP_PKEY_RSA:
		ok = X509_ALGOR_set0(a, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL,
		    NULL);
		break;
	case EVP_PKEY_EC:
		ok = X509_ALGOR_set0(a, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
		    V_ASN1_OBJECT, OBJ_nid2obj(kt->param));
		break;
	default:
		ok = X509_ALGOR_set0(a, OBJ_nid2obj(kt->type), V_ASN1_UNDEF, NULL);
		break;
	}
	if (!ok) {
		X509_ALGOR_free(a);
		return NULL;
	}
	return a;
}

/* RFC 4210 5.3.19.2 signKeyPairTypes: the profile's key types (RSA once). */
static CMP_ITAV *
key_types_itav(const struct ca_profile *p)
{
	STACK_OF(X509_ALGOR) *algs = sk_X509_ALGOR_new_null();
	CMP_ITAV *it = NULL;
	X509_ALGOR *a;
	size_t i, j;
	int dup;

	for (i = 0; algs != NULL && i < p->nkey_types; i++) {
		for (dup = 0, j = 0; j < i; j++)
			dup |= p->key_types[j].type == EVP_PKEY_RSA &&
			    p->key_types[i].type == EVP_PKEY_RSA;
		if (dup)
			continue;
		if ((a = key_type_alg(&p->key_types[i])) == NULL ||
		    !sk_X509_ALGOR_push(algs, a)) {
			X509_ALGOR_free(a);
			goto out;
		}
	}
	if (algs != NULL)
		it = cmp_itav_new_algs(CMP_OID_IT_SIGN_KEY_PAIR_TYPES, algs);
out:
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return it;
}

/* RFC 9483 4.3.3 / RFC 9480 2.16 certReqTemplate: the profile's requirements.
 * The certTemplate is empty (the subject and its extensions are the
 * requester's: the CA adds basicConstraints, keyUsage and the key identifiers
 * itself; publicKey MUST NOT be given); keySpec has one control per key type:
 * id-regCtrl-rsaKeyLen with the least RSA size, id-regCtrl-algId for the
 * others. */
static CMP_ITAV *
template_itav(const struct ca_profile *p)
{
	CMP_CERTREQTEMPLATE *t = CMP_CERTREQTEMPLATE_new();
	CMP_ITAV *it = NULL;
	CMP_ATAV *c;
	X509_ALGOR *a;
	size_t i;

	if (t == NULL || (t->keySpec = sk_CMP_ATAV_new_null()) == NULL)
		goto out;
	for (i = 0; i < p->nkey_types; i++) {
		if (p->key_types[i].type == EVP_PKEY_RSA)
			c = cmp_atav_new_rsa_key_len(p->key_types[i].param);
		else {
			if ((a = key_type_alg(&p->key_types[i])) == NULL)
				goto out;
			c = cmp_atav_new_alg_id(a);
			X509_ALGOR_free(a);
		}
		if (c == NULL || !sk_CMP_ATAV_push(t->keySpec, c)) {
			CMP_ATAV_free(c);
			goto out;
		}
	}
	it = cmp_itav_new_cert_req_template(t);
out:
	CMP_CERTREQTEMPLATE_free(t);
	return it;
}

/* RFC 9480 2.15 / RFC 9483 4.3.2: the root CA's key update. The genm may hold
 * the requester's current root (rootCaCert): an update is sent when it is the
 * root before the rollover, or not given; otherwise (it is the current root
 * already, or a root unknown here) the value is absent, as when no rollover
 * is configured. */
static CMP_ITAV *
root_update_itav(struct ca_server *s, const CMP_ITAV *req, struct rq *c)
{
	X509 *have = NULL;
	struct pk_err e;
	CMP_ITAV *it;
	int update = ca_get0_new_with_old(s->ca) != NULL;

	if (update && req != NULL && cmp_itav_is(req, CMP_OID_IT_ROOT_CA_CERT)) {
		pk_err_clear(&e);
		if (cmp_itav_get1_cert(req, &have, &e) != 0) {
			refuse(c, CMP_FAIL_BAD_DATA_FORMAT, "RFC 9480 2.15: "
			    "rootCaCert: %s", e.msg);
			return NULL;
		}
		if (have != NULL && X509_cmp(have, ca_get0_old_root(s->ca)) != 0)
			update = 0;
		X509_free(have);
	}
	it = update ? cmp_itav_new_root_ca_key_update(ca_get0_root(s->ca),
	    ca_get0_new_with_old(s->ca), ca_get0_old_with_new(s->ca)) :
	    cmp_itav_new_root_ca_key_update(NULL, NULL, NULL);
	if (it == NULL)
		refuse(c, CMP_FAIL_SYSTEM_FAILURE, "cannot build rootCaKeyUpdate");
	return it;
}

/*
 * RFC 4210 5.3.19 / RFC 9483 4.3: one answer per infoType asked for:
 *   caCerts           the CA's chain (the CA certificate first, up to the root)
 *   rootCaCert        rootCaKeyUpdate (its own infoType; RFC 9480 2.15), also
 *                     for a genm naming id-it-rootCaKeyUpdate itself (what
 *                     OpenSSL 3.0's client can send)
 *   certReqTemplate   the profile's template
 *   signKeyPairTypes  the profile's key types
 * An infoType we do not know is left out of the genp ("the receiver is free to
 * ignore any contained OIDs that it does not recognize"); an empty genm gets
 * an empty genp.
 */
static int
do_genm(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	STACK_OF(CMP_ITAV) *in = cmp_msg_get0_itavs(c->req);
	STACK_OF(CMP_ITAV) *out = NULL;
	struct cmp_hdr h;
	int i, rc = -1;

	if (authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST) != 0)
		return -1;
	if (txn_create(s, c, CA_TXN_CLOSED, 0) != 0)
		return -1;
	if ((out = sk_CMP_ITAV_new_null()) == NULL)
		goto oom;
	for (i = 0; i < sk_CMP_ITAV_num(in); i++) {
		const CMP_ITAV *q = sk_CMP_ITAV_value(in, i);
		CMP_ITAV *it;

		if (cmp_itav_is(q, CMP_OID_IT_CA_CERTS))
			it = cmp_itav_new_certs(CMP_OID_IT_CA_CERTS,
			    ca_get0_chain(s->ca));
		else if (cmp_itav_is(q, CMP_OID_IT_SIGN_KEY_PAIR_TYPES))
			it = key_types_itav(c->pc);
		else if (cmp_itav_is(q, CMP_OID_IT_CERT_REQ_TEMPLATE))
			it = template_itav(c->pc);
		else if (cmp_itav_is(q, CMP_OID_IT_ROOT_CA_CERT) ||
		    cmp_itav_is(q, CMP_OID_IT_ROOT_CA_KEY_UPDATE)) {
			if ((it = root_update_itav(s, q, c)) == NULL)
				goto out;
		} else
			continue;
		if (it == NULL)
			goto oom;
		if (!sk_CMP_ITAV_push(out, it)) {
			CMP_ITAV_free(it);
			goto oom;
		}
	}
	hdr_init(s, c, &h);
	if (cmp_build_genp(&h, c->req, out, rsp, &c->err) != 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	refuse(c, CMP_FAIL_SYSTEM_FAILURE, "cannot build the genp");
out:
	sk_CMP_ITAV_pop_free(out, CMP_ITAV_free);
	return rc;
}

/* ---- the handler ---- */

/* Checks the header (RFC 4210 5.1.1) and runs the body's handler. */
static int
dispatch(struct ca_server *s, struct rq *c, CMP_PKIMESSAGE **rsp)
{
	const ASN1_OCTET_STRING *tid = cmp_msg_get0_transaction_id(c->req);
	const ASN1_OCTET_STRING *sn = cmp_msg_get0_sender_nonce(c->req);

	if (tid == NULL || ASN1_STRING_length(tid) == 0) {
		/* authenticate first so the answer can be protected like it */
		(void)authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST);
		c->fail = 0;
		return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.1: "
		    "transactionID missing");
	}
	c->tid = octets_hex(tid);
	/* RFC 4210 5.1.1 / RFC 9483 3.1: senderNonce of 128 bits */
	if (sn == NULL || ASN1_STRING_length(sn) < CMP_NONCE_LEN) {
		(void)authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST);
		c->fail = 0;
		return refuse(c, CMP_FAIL_BAD_SENDER_NONCE, "RFC 4210 5.1.1: "
		    "senderNonce missing or shorter than 128 bits");
	}
	c->nonce = octets_hex(sn);
	switch (c->body) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_P10CR:
		return do_certreq(s, c, rsp);
	case CMP_BODY_CERTCONF:
		return do_certconf(s, c, rsp);
	case CMP_BODY_POLLREQ:
		return do_pollreq(s, c, rsp);
	case CMP_BODY_RR:
		return do_rr(s, c, rsp);
	case CMP_BODY_GENM:
		return do_genm(s, c, rsp);
	case CMP_BODY_ERROR:
		return do_error(s, c, rsp);
	default:
		(void)authenticate(s, c, AUTH_MAC | AUTH_CA | AUTH_TRUST);
		c->fail = 0;
		return refuse(c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.2: a CA "
		    "does not accept %s messages", cmp_body_name(c->body));
	}
}

int
ca_server_sweep(struct ca_server *s, int64_t now, long *revoked, long *pruned,
    struct pk_err *e)
{
	const struct ca_config *cfg = ca_get0_config(s->ca);
	long r = 0, p = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = ca_db_txn_sweep(ca_get0_db(s->ca), now, cfg->confirm_wait,
	    cfg->retention, &r, &p, e);
	pthread_mutex_unlock(&s->mu);
	if (revoked != NULL)
		*revoked = r;
	if (pruned != NULL)
		*pruned = p;
	return rc;
}

/* The sweep, when it is due (a request passes by at least every
 * CA_SWEEP_EVERY seconds or there is nothing new to sweep). A failed sweep is
 * tried again with the next request. */
static void
sweep_due(struct ca_server *s)
{
	struct pk_err e;
	double now = pk_mono_s();
	int due;

	pthread_mutex_lock(&s->mu);
	due = s->last_sweep == 0 || now - s->last_sweep >= CA_SWEEP_EVERY;
	if (due)
		s->last_sweep = now;
	pthread_mutex_unlock(&s->mu);
	pk_err_clear(&e);
	if (due && ca_server_sweep(s, pk_wall_ms() / 1000, NULL, NULL, &e) != 0) {
		pthread_mutex_lock(&s->mu);
		s->last_sweep = 0;
		pthread_mutex_unlock(&s->mu);
	}
}

/* Issue 11: an address locked out for failed authentications is refused
 * before anything is verified (no PBM hashing, no signature check): 1 when C
 * was so refused. systemUnavail (RFC 4210 5.2.3: "the request cannot be
 * handled due to system unavailability") with the time it ends: the client
 * may try again then. The answer is a CMP error message in HTTP 200 like
 * every other refusal: RFC 6712 3.3 has the CMP response in the body of a
 * 200 and only allows ("MAY") 4xx/5xx for errors; a bare 503 would hide the
 * reason and the time to retry from a CMP client, which reports the CMP error
 * (openssl cmp prints its failInfo and text). RFC 6712 3.6 is the Request-URI
 * and sets no status. */
static int
locked_out(struct ca_server *s, struct rq *c)
{
	char when[64];
	int64_t left = ca_lockout_check(s->lockout, c->peer, pk_mono_ms());
	long secs;

	if (left <= 0)
		return 0;
	atomic_fetch_add(&s->st.locked_refusals, 1);
	secs = (long)((left + 999) / 1000);
	pk_time_text((time_t)((pk_wall_ms() + left + 999) / 1000), when,
	    sizeof(when));
	refuse(c, CMP_FAIL_SYSTEM_UNAVAIL, "too many failed authentications "
	    "from %s: its requests are refused until %s (%ld s from now); try "
	    "again later", c->peer, when, secs);
	return 1;
}

/* Counts C's failed authentication against its address; the failure that
 * locks the address is logged (once per lockout, never the credential). */
static void
count_failure(struct ca_server *s, struct rq *c)
{
	const struct ca_config *cfg = ca_get0_config(s->ca);
	int64_t left = 0;
	char when[64], line[256];

	if (!c->auth_failed || c->peer == NULL || *c->peer == '\0')
		return;
	atomic_fetch_add(&s->st.auth_failures, 1);
	if (!ca_lockout_fail(s->lockout, c->peer, pk_mono_ms(), &left))
		return;
	atomic_fetch_add(&s->st.lockouts, 1);
	if (s->log == NULL)
		return;
	pk_time_text((time_t)((pk_wall_ms() + left + 999) / 1000), when,
	    sizeof(when));
	snprintf(line, sizeof(line), "%s locked out until %s: %d failed "
	    "authentications within %d s", c->peer, when, cfg->auth_fail_limit,
	    cfg->auth_fail_window);
	s->log(s->log_arg, line);
}

int
ca_server_process(struct ca_server *s, const struct ca_req *r,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	const struct ca_prof *prof = r->route;
	const unsigned char *der = r->der;
	size_t len = r->len;
	CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
	struct rq c;
	struct cmp_hdr h;
	struct pk_err de;
	int rc = -1, pt;

	*out = NULL;
	sweep_due(s);
	atomic_fetch_add(&s->st.requests, 1);
	memset(&c, 0, sizeof(c));
	pk_err_clear(&c.err);
	c.prof = prof != NULL ? prof : ca_get0_prof(s->ca, 0);
	c.pc = c.prof->cfg;
	c.peer = r->peer;
	if (RAND_bytes(c.srv_nonce, sizeof(c.srv_nonce)) != 1)
		return pk_err_ossl(e, "no random senderNonce");
	c.srv_nonce_hex = pk_hex(c.srv_nonce, sizeof(c.srv_nonce), 0);
	pk_err_clear(&de);
	/* RFC 6712 3.3: a DER-encoded PKIMessage; BER is refused here (cmpdump
	 * reports it) */
	if (cmp_msg_decode_ex(der, len, CMP_DECODE_DER, &req, &de) != 0) {
		pt = cmp_msg_peek_body_type(der, len);
		if (strstr(de.msg, "pvno") != NULL)
			refuse(&c, CMP_FAIL_UNSUPPORTED_VERSION, "%s", de.msg);
		else if (pt >= 0 && !cmp_body_supported(pt))
			refuse(&c, CMP_FAIL_BAD_REQUEST, "RFC 4210 5.1.2: %s "
			    "messages are not supported", cmp_body_name(pt));
		else
			refuse(&c, CMP_FAIL_BAD_DATA_FORMAT, "not a valid CMP "
			    "message: %s", de.msg);
	} else {
		c.req = req;
		c.der = der;
		c.der_len = len;
		c.body = cmp_msg_body_type(req);
		if (!locked_out(s, &c) && dispatch(s, &c, &rsp) != 0) {
			CMP_PKIMESSAGE_free(rsp);
			rsp = NULL;
		}
		count_failure(s, &c);
	}
	/* RFC 4210 5.3.21: refusals are error messages, protected (signed when
	 * the request's own protection did not pass) */
	if (rsp == NULL) {
		c.implicit = 0;
		hdr_init(s, &c, &h);
		if (cmp_build_error(&h, req, CMP_STATUS_REJECTION, c.fail,
		    c.err.msg, -1, NULL, &rsp, e) != 0)
			goto out;
	}
	if (protect(s, &c, rsp, e) != 0)
		goto out;
	*out = rsp;
	rsp = NULL;
	rc = 0;
out:
	CMP_PKIMESSAGE_free(rsp);
	CMP_PKIMESSAGE_free(req);
	X509_free(c.signer);
	free(c.tid);
	free(c.nonce);
	free(c.owner);
	free(c.srv_nonce_hex);
	return rc;
}

const void *
ca_server_route(void *arg, const char *path)
{
	struct ca_server *s = arg;

	return ca_route(s->ca, path);
}

int
ca_server_handle(void *arg, const struct ca_req *r, unsigned char **rsp,
    size_t *rsp_len)
{
	struct ca_server *s = arg;
	CMP_PKIMESSAGE *m = NULL;
	unsigned char *der = NULL;
	size_t n = 0;
	struct pk_err e;
	int rc = -1;

	*rsp = NULL;
	*rsp_len = 0;
	pk_err_clear(&e);
	if (ca_server_process(s, r, &m, &e) != 0 ||
	    cmp_msg_encode(m, &der, &n, &e) != 0)
		goto out;
	/* the HTTP front frees with free() */
	*rsp = xmalloc(n);
	memcpy(*rsp, der, n);
	*rsp_len = n;
	rc = 0;
out:
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(m);
	ERR_clear_error();
	return rc;
}

/* ---- life cycle ---- */

int
ca_server_new(struct ca_server **out, struct ca *ca, struct pk_err *e)
{
	struct ca_server *s = xcalloc(1, sizeof(*s));
	int i;

	*out = NULL;
	s->ca = ca;
	s->lockout = ca_lockout_new(CA_LOCKOUT_SLOTS,
	    ca_get0_config(ca)->auth_fail_limit,
	    ca_get0_config(ca)->auth_fail_window);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->recent_mu, NULL);
	if ((s->ca_store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(s->ca_store, ca_get0_cert(ca)) ||
	    !X509_STORE_set_flags(s->ca_store, X509_V_FLAG_PARTIAL_CHAIN) ||
	    (s->material = sk_X509_dup(ca_get0_chain(ca))) == NULL) {
		pk_err_ossl(e, "cannot make the CA trust store");
		ca_server_free(s);
		return -1;
	}
	for (i = 0; i < sk_X509_num(ca_get0_extra_certs(ca)); i++)
		if (!sk_X509_push(s->material,
		    sk_X509_value(ca_get0_extra_certs(ca), i))) {
			pk_err_ossl(e, "out of memory");
			ca_server_free(s);
			return -1;
		}
	*out = s;
	return 0;
}

void
ca_server_free(struct ca_server *s)
{
	if (s == NULL)
		return;
	X509_STORE_free(s->ca_store);
	sk_X509_free(s->material);
	ca_lockout_free(s->lockout);
	for (unsigned i = 0; i < RECENT_MAX; i++)
		recent_clear(&s->recent[i]);
	pthread_mutex_destroy(&s->recent_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
ca_server_set_log(struct ca_server *s, ca_log_fn fn, void *arg)
{
	s->log = fn;
	s->log_arg = arg;
}

void
ca_server_get_stats(struct ca_server *s, struct ca_server_stats *st)
{
	st->requests = atomic_load(&s->st.requests);
	st->mac_checks = atomic_load(&s->st.mac_checks);
	st->sig_checks = atomic_load(&s->st.sig_checks);
	st->auth_failures = atomic_load(&s->st.auth_failures);
	st->lockouts = atomic_load(&s->st.lockouts);
	st->locked_refusals = atomic_load(&s->st.locked_refusals);
}
