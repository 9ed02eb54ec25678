/*
 * cmp_client_int: the client transaction without its transport, private to
 * cmp_client.c and shared with the fuzz target of the response checks
 * (test/fuzz/fuzz_cmp_client.c), which feeds decoded answers to a transaction
 * that never opened a connection. Not part of the module interface (cmp.h).
 */
#ifndef PKISH_CMP_CLIENT_INT_H
#define PKISH_CMP_CLIENT_INT_H

#include "cmp.h"

/* One transaction (cmp.h: cmp_client_run). */
struct cmp_txn {
	int type;			/* CMP_BODY_IR, _CR or _KUR */
	const struct cmp_client_cfg *cfg;
	struct cmp_client_result *res;
	struct cmp_http *http;		/* NULL until connected (never when fuzzing) */
	unsigned char tid[CMP_NONCE_LEN];
	ASN1_OCTET_STRING *peer_nonce;	/* senderNonce of the last response */
	const X509_NAME *sender;
	double deadline;
	int timeout;
	int rsp_mac;			/* the last checked response was
					 * MAC-protected (and the MAC verified) */
};

/* Checks CFG for TYPE and starts T: a random transactionID, the deadline.
 * RES is cleared and filled as the transaction goes. 0 or -1 with *e. */
int cmp_txn_init(struct cmp_txn *t, int type, const struct cmp_client_cfg *cfg,
    struct cmp_client_result *res, struct pk_err *e);
void cmp_txn_clear(struct cmp_txn *t);
/* The transaction's first request (ir/cr/kur), built; sending protects it. */
int cmp_txn_first_request(struct cmp_txn *t, CMP_PKIMESSAGE **req,
    struct pk_err *e);
/* Checks RSP, the answer to REQ, before anything in it is used (RFC 4210
 * 5.1.1, 5.1.3; DESIGN "Trust rules"): protection and who made it,
 * transactionID, recipNonce, body type EXP1 or EXP2 (-1: none). An error body
 * is reported (marked unauthenticated when it is) and fails. On success the
 * senderNonce is kept for the next recipNonce. */
int cmp_txn_check_response(struct cmp_txn *t, const CMP_PKIMESSAGE *req,
    const CMP_PKIMESSAGE *rsp, int exp1, int exp2, struct pk_err *e);
/* RFC 4210 5.2.8 / RFC 9483 3.1: is CERT, issued in the checked RSP, the one
 * requested, from an imported CA (or the caPubs of a MAC-protected ip)? 0 yes;
 * -1 with WHY and the failInfo bit for the rejecting certConf. */
int cmp_txn_cert_acceptable(struct cmp_txn *t, const CMP_PKIMESSAGE *rsp,
    X509 *cert, int *failbit, char *why, size_t whylen);

#endif
