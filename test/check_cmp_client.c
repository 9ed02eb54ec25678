/*
 * Check suite for the CMP client (cmp/cmp_client.c, cmp/cmp_http.c): the cases
 * run cmp_client_run() against the real `openssl cmp -port` mock CA (or cmpca),
 * started fresh for the case on a free loopback port and killed at its end
 * (PEERS.md: the 3.0.19 mock may crash after several signature-protected
 * requests). Keys and certificates are made once per run with the openssl
 * program. The mock cannot save messages (-reqout is client-only), so the
 * client's trace hook records every message sent and received, and the cases
 * decode them with the engine to check what went over the wire.
 *
 * The trust rules (whom the client believes) are tested against a hostile CA
 * of our own: a forked loopback responder that answers with messages built by
 * the cmp/ builders, signed or MAC-protected as the case says, carrying the
 * certificates an attacker would choose (a self-made CA with the real CA's
 * name, a certificate issued by it, an expired signer...).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "../cmp/cmp.h"
#include "testutil.h"
#include "tu_cmp.h"
#include "tu_http.h"

static char *dir;		/* fixtures, made once (unchecked fixture) */

/* per case (checked fixture) */
static EVP_PKEY *k_cl, *k_auth, *k_new, *k_ca, *k_srv;
static X509 *c_ca, *c_srv, *c_cl, *c_auth, *c_other, *c_ca2cl;
static STACK_OF(X509) *trusted, *trusted_other;
static X509_NAME *subj, *ca_name;
static pid_t mock_pid = -1;
static char url[80];

#define MAXMSG 16
static struct {
	int n;
	int sent[MAXMSG];
	CMP_PKIMESSAGE *m[MAXMSG];
} tr;
static int nprogress;

/* --- fixtures --- */

static const char cnf[] =
	"[req]\ndistinguished_name=dn\n[dn]\n"
	"[ca]\nbasicConstraints=critical,CA:TRUE\n"
	"keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
	"[ee]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
	"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
	"[ra]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
	"extendedKeyUsage=cmcRA\n"
	"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
	"[tls]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
	"extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
	"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

static void
make_fixtures(void)
{
	char path[512];
	int rc;

	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/cnf", dir);
	ck_assert_int_eq(tu_write(path, cnf, strlen(cnf)), 0);
	rc = tu_sh("cd '%s' && for k in ca ca2 srv cl auth other new tls; do "
	    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	    "-out $k.key || exit 1; done && "
	    "openssl req -x509 -config cnf -extensions ca -new -key ca.key "
	    "-subj '/CN=Test CA' -days 30 -out ca.crt && "
	    "openssl req -x509 -config cnf -extensions ca -new -key ca2.key "
	    "-subj '/CN=Other CA' -days 30 -out ca2.crt && "
	    "openssl req -x509 -config cnf -extensions ra -new -key srv.key "
	    "-subj '/CN=Mock Server' -CA ca.crt -CAkey ca.key -days 30 "
	    "-out srv.crt && "
	    "openssl req -x509 -config cnf -extensions ee -new -key cl.key "
	    "-subj '/CN=device1' -CA ca.crt -CAkey ca.key -days 30 -out cl.crt && "
	    "openssl req -x509 -config cnf -extensions ee -new -key auth.key "
	    "-subj '/CN=vendor-device' -CA ca.crt -CAkey ca.key -days 30 "
	    "-out auth.crt && "
	    "openssl req -x509 -config cnf -extensions ee -new -key other.key "
	    "-subj '/CN=device1' -CA ca.crt -CAkey ca.key -days 30 "
	    "-out other.crt && "
	    "openssl req -x509 -config cnf -extensions ee -new -key cl.key "
	    "-subj '/CN=device1' -CA ca2.crt -CAkey ca2.key -days 30 "
	    "-out ca2cl.crt && "
	    "openssl req -x509 -config cnf -extensions tls -new -key tls.key "
	    "-subj '/CN=localhost' -CA ca.crt -CAkey ca.key -days 30 "
	    "-out tls.crt", dir);
	ck_assert_int_eq(rc, 0);
}

static void
remove_fixtures(void)
{
	tu_rmrf(dir);
	free(dir);
}

static EVP_PKEY *
load_key(const char *name)
{
	char path[512];
	FILE *f;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	return k;
}

static X509 *
load_cert(const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static STACK_OF(X509) *
one_cert(X509 *x)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	X509_up_ref(x);
	sk_X509_push(sk, x);
	return sk;
}

static void
setup(void)
{
	k_cl = load_key("cl.key");
	k_auth = load_key("auth.key");
	k_new = load_key("new.key");
	k_ca = load_key("ca.key");
	k_srv = load_key("srv.key");
	c_ca = load_cert("ca.crt");
	c_srv = load_cert("srv.crt");
	c_cl = load_cert("cl.crt");
	c_auth = load_cert("auth.crt");
	c_other = load_cert("other.crt");
	c_ca2cl = load_cert("ca2cl.crt");
	trusted = one_cert(c_ca);
	trusted_other = sk_X509_new_null();
	sk_X509_push(trusted_other, load_cert("ca2.crt"));
	subj = X509_NAME_dup(X509_get_subject_name(c_cl));
	ca_name = X509_NAME_dup(X509_get_subject_name(c_ca));
	memset(&tr, 0, sizeof(tr));
	nprogress = 0;
	mock_pid = -1;
}

static void
mock_stop(void)
{
	if (mock_pid > 0) {
		kill(mock_pid, SIGTERM);
		waitpid(mock_pid, NULL, 0);
	}
	mock_pid = -1;
}

/* --- a hostile CA of our own (the trust rules) --- */

/* What the hostile responder does: how it protects its answers, who issues
 * the certificate it returns, what it puts in caPubs. Set by a case before
 * hostile_start(); the forked responder works on its copy. */
static struct {
	int mac;			/* PBM with the session secret "sec1" */
	int weak_iter, weak_salt;	/* ... by hand, with these parameters */
	EVP_PKEY *sig_key;		/* else signed with this key */
	X509 *sig_cert;			/* and this certificate (extraCerts[0]) */
	STACK_OF(X509) *extra;		/* more extraCerts */
	X509 *iss_cert;			/* issuer of the new certificate */
	EVP_PKEY *iss_key;
	int no_aki;			/* new certificate without AKI */
	STACK_OF(X509) *capubs;
	int ber;			/* outer length in a non-minimal form */
	int status;			/* PKIStatus of the answer (accepted) */
} H;

static void
hostile_clear(void)
{
	EVP_PKEY_free(H.sig_key);
	X509_free(H.sig_cert);
	sk_X509_pop_free(H.extra, X509_free);
	X509_free(H.iss_cert);
	EVP_PKEY_free(H.iss_key);
	sk_X509_pop_free(H.capubs, X509_free);
	memset(&H, 0, sizeof(H));
}

#define MK_CA		0x01	/* basicConstraints CA:TRUE, keyCertSign */
#define MK_NO_AKI	0x02	/* no authorityKeyIdentifier */
#define MK_CMCRA	0x04	/* extendedKeyUsage id-kp-cmcRA */
#define MK_SERVERAUTH	0x08	/* extendedKeyUsage serverAuth */

static void
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	ck_assert_ptr_nonnull(ext);
	ck_assert(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate for PUB named SUBJECT (or CN=CN), issued by ISSUER with IKEY
 * (ISSUER NULL: self-signed with IKEY), valid FROM..TO days from now. */
static X509 *
mk_cert(EVP_PKEY *pub, const X509_NAME *subject, const char *cn, X509 *issuer,
    EVP_PKEY *ikey, long from, long to, int flags)
{
	X509 *x = X509_new();
	X509_NAME *n = subject != NULL ? X509_NAME_dup(subject) : X509_NAME_new();
	X509V3_CTX ctx;
	unsigned char rnd[8];

	ck_assert_ptr_nonnull(x);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		    (const unsigned char *)cn, -1, -1, 0);
	RAND_bytes(rnd, sizeof(rnd));
	rnd[0] = (unsigned char)((rnd[0] & 0x3f) | 0x40);	/* positive, minimal */
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	ck_assert(ASN1_STRING_set(sn, rnd, sizeof(rnd)));
	X509_set_serialNumber(x, sn);
	ASN1_INTEGER_free(sn);
	X509_set_version(x, X509_VERSION_3);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to * 86400);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (flags & MK_CA) {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,"
		    "keyCertSign,cRLSign");
	} else {
		add_ext(x, &ctx, NID_basic_constraints, "CA:FALSE");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
	}
	if (flags & MK_CMCRA)
		add_ext(x, &ctx, NID_ext_key_usage, "cmcRA");
	if (flags & MK_SERVERAUTH)
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (!(flags & MK_NO_AKI))
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	ck_assert_int_gt(X509_sign(x, ikey, EVP_sha256()), 0);
	X509_NAME_free(n);
	return x;
}

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

/* The hostile answer to REQ: a certificate for the requested key from
 * H.iss_cert, pkiConf for certConf; protected as H says. */
static CMP_PKIMESSAGE *
hostile_answer(const CMP_PKIMESSAGE *req)
{
	struct cmp_hdr h;
	CMP_PKIMESSAGE *rsp = NULL;
	struct pk_err e;
	int type = cmp_msg_body_type(req);

	memset(&h, 0, sizeof(h));
	h.sender = H.sig_cert != NULL ? X509_get_subject_name(H.sig_cert) :
	    ca_name;
	if (type == CMP_BODY_IR || type == CMP_BODY_CR || type == CMP_BODY_KUR) {
		CMP_CERTREQMSG *crm = cmp_req_get0(req, 0);
		CMP_CERTTEMPLATE *tm = cmp_crm_get0_template(crm);
		X509 *x = mk_cert(cmp_tmpl_get0_pubkey(tm), cmp_tmpl_get0_subject(tm),
		    NULL, H.iss_cert, H.iss_key, -1, 30, H.no_aki ? MK_NO_AKI : 0);

		ck_assert_int_eq(cmp_build_certrep(&h, req, type + 1,
		    cmp_crm_req_id(crm), H.status, 0, NULL, x, H.capubs, &rsp,
		    &e), 0);
		X509_free(x);
	} else if (type == CMP_BODY_CERTCONF) {
		ck_assert_int_eq(cmp_build_pkiconf(&h, req, &rsp, &e), 0);
	} else {
		ck_assert_int_eq(cmp_build_error(&h, req, CMP_STATUS_REJECTION,
		    CMP_FAIL(CMP_FAIL_BAD_REQUEST), "unexpected", -1, NULL, &rsp,
		    &e), 0);
	}
	if (H.weak_iter > 0)
		ck_assert_int_eq(tu_pbm_protect(rsp, "sec1", H.weak_iter,
		    H.weak_salt), 0);
	else if (H.mac)
		ck_assert_int_eq(cmp_msg_protect_pbm(rsp, "sec1", 4, NULL, &e), 0);
	else
		ck_assert_msg(cmp_msg_protect_sig(rsp, H.sig_key, H.sig_cert,
		    H.extra, 0, 0, &e) == 0, "%s", e.msg);
	return rsp;
}

/* The outer SEQUENCE's length in a non-minimal form (BER, not DER): the
 * protection, over header and body, still verifies. *DER is replaced. */
static void
make_ber(unsigned char **der, size_t *len)
{
	unsigned char *b = *der, *n;
	int nl;

	ck_assert_int_eq(b[0], 0x30);
	ck_assert(b[1] & 0x80);
	nl = b[1] & 0x7f;
	n = OPENSSL_malloc(*len + 1);
	n[0] = 0x30;
	n[1] = (unsigned char)(0x80 | (nl + 1));
	n[2] = 0x00;
	memcpy(n + 3, b + 2, *len - 2);
	OPENSSL_free(b);
	*der = n;
	*len += 1;
}

static void
on_term(int sig)
{
	(void)sig;
	_exit(0);
}

/* Forks the hostile responder on a free loopback port; URL points to it. It
 * answers every POST on every connection until the case ends (mock_stop). */
static void
hostile_start(void)
{
	int port, lfd = tu_http_listen(0, &port);

	ck_assert_int_ge(lfd, 0);
	if (H.status == 0)
		H.status = CMP_STATUS_ACCEPTED;
	mock_pid = fork();
	ck_assert_int_ge(mock_pid, 0);
	if (mock_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, on_term);
		for (;;) {
			int fd = accept(lfd, NULL, NULL), ka = 0;

			if (fd < 0)
				continue;
			do {
				unsigned char *body = NULL, *der = NULL;
				size_t len, dlen;
				CMP_PKIMESSAGE *req = NULL, *rsp;
				struct pk_err e;

				if (tu_http_read_request(fd, 10000, &body, &len, &ka) != 1)
					break;
				if (cmp_msg_decode(body, len, &req, &e) != 0)
					_exit(3);
				rsp = hostile_answer(req);
				ck_assert_int_eq(cmp_msg_encode(rsp, &der, &dlen, &e), 0);
				if (H.ber)
					make_ber(&der, &dlen);
				tu_http_respond(fd, 200, "application/pkixcmp", der, dlen,
				    ka);
				OPENSSL_free(der);
				free(body);
				CMP_PKIMESSAGE_free(req);
				CMP_PKIMESSAGE_free(rsp);
			} while (ka);
			close(fd);
		}
	}
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/pkix/", port);
}

/* A certificate of SUBJECT-like name for a new key, and the key. */
static void
mk_pair(const char *cn, X509 *issuer, EVP_PKEY *ikey, long from, long to,
    int flags, X509 **cert, EVP_PKEY **key)
{
	*key = ec_key();
	*cert = mk_cert(*key, NULL, cn, issuer, issuer != NULL ? ikey : *key, from,
	    to, flags);
}

/* Runs an IR (signature mode when SIG) against the hostile responder: -1 and
 * the error expected; the certificate was not returned. */
static void
expect_refused(int type, struct cmp_client_cfg *c, const char *want,
    const char *want2)
{
	struct cmp_client_result r;
	struct pk_err e;

	ck_assert_int_eq(cmp_client_run(type, c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, want) != NULL && (want2 == NULL ||
	    strstr(e.msg, want2) != NULL), "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}

static void
teardown(void)
{
	int i;

	mock_stop();
	for (i = 0; i < tr.n; i++)
		CMP_PKIMESSAGE_free(tr.m[i]);
	EVP_PKEY_free(k_cl);
	EVP_PKEY_free(k_auth);
	EVP_PKEY_free(k_new);
	EVP_PKEY_free(k_ca);
	EVP_PKEY_free(k_srv);
	hostile_clear();
	X509_free(c_ca);
	X509_free(c_srv);
	X509_free(c_cl);
	X509_free(c_auth);
	X509_free(c_other);
	X509_free(c_ca2cl);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_pop_free(trusted_other, X509_free);
	X509_NAME_free(subj);
	X509_NAME_free(ca_name);
}

/* Starts the openssl program CMDFMT (with %d for a free port, %s for OPTS) in
 * the fixture directory and waits until it listens (both `openssl cmp -port`
 * and `openssl s_server` print "ACCEPT" then); URL points to it. */
static void
peer_start_ready(const char *cmdfmt, const char *scheme, const char *opts,
    const char *ready)
{
	char log[512], cmd[2048];
	int port = tu_free_port(), i, fd, st;
	char *s;

	ck_assert_int_gt(port, 0);
	snprintf(log, sizeof(log), "%s/peer-%d.log", dir, port);
	snprintf(cmd, sizeof(cmd), cmdfmt, port, opts);
	mock_pid = fork();
	ck_assert_int_ge(mock_pid, 0);
	if (mock_pid == 0) {
		/* dies with the test process, even when a case fails */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(dir) != 0)
			_exit(126);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		s = tu_read(log, NULL);
		if (s != NULL && strstr(s, ready) != NULL) {
			free(s);
			snprintf(url, sizeof(url), "%s://127.0.0.1:%d/pkix/", scheme,
			    port);
			return;
		}
		free(s);
		if (waitpid(mock_pid, &st, WNOHANG) == mock_pid) {
			mock_pid = -1;
			ck_abort_msg("the openssl peer exited at start: %s", cmd);
		}
		usleep(50 * 1000);
	}
	ck_abort_msg("the openssl peer did not start listening: %s", cmd);
}

static void
peer_start(const char *cmdfmt, const char *scheme, const char *opts)
{
	peer_start_ready(cmdfmt, scheme, opts, "ACCEPT");
}

/* `openssl cmp -port PORT OPTS`: the mock CA */
static void
mock_start(const char *opts)
{
	peer_start("exec openssl cmp -port %d %s", "http", opts);
}

static void
trace_cb(void *arg, int sent, const CMP_PKIMESSAGE *m)
{
	unsigned char *der = NULL;
	size_t len;
	struct pk_err e;

	(void)arg;
	if (getenv("CHECK_CMP_TRACE") != NULL) {
		struct sbuf b = SBUF_INIT;

		cmp_msg_dump(m, &b);
		fprintf(stderr, "--- %s\n%s\n", sent ? "sent" : "received",
		    sbuf_str(&b));
		sbuf_free(&b);
	}
	if (tr.n >= MAXMSG)
		return;
	/* a decoded copy: what the peer gets, read back by the engine */
	ck_assert_int_eq(cmp_msg_encode(m, &der, &len, &e), 0);
	ck_assert_msg(cmp_msg_decode(der, len, &tr.m[tr.n], &e) == 0, "%s", e.msg);
	OPENSSL_free(der);
	tr.sent[tr.n++] = sent;
}

static void
progress_cb(void *arg, const char *text)
{
	(void)arg;
	ck_assert_ptr_nonnull(text);
	nprogress++;
}

/* A MAC-protected IR of CN=device1 for cl.key to the mock. */
static void
cfg_mac(struct cmp_client_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->url = url;
	c->recipient = ca_name;
	c->subject = subj;
	c->key = k_cl;
	c->use_mac = 1;
	c->ref = "ref1";
	c->secret = (const unsigned char *)"sec1";
	c->secret_len = 4;
	c->mac_nid = NID_hmacWithSHA256;
	c->trusted = trusted;
	c->timeout = 15;
	c->progress = progress_cb;
	c->trace = trace_cb;
}

/* Signature protection with the vendor certificate auth.crt. */
static void
cfg_sig(struct cmp_client_cfg *c)
{
	cfg_mac(c);
	c->use_mac = 0;
	c->ref = NULL;
	c->secret = NULL;
	c->secret_len = 0;
	c->auth_cert = c_auth;
	c->auth_key = k_auth;
}

#define MOCK_MAC	"-srv_ref ref1 -srv_secret pass:sec1 "
#define MOCK_SIG	"-srv_cert srv.crt -srv_key srv.key -srv_trusted ca.crt "

static int
octets_eq(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
	return a != NULL && b != NULL && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

/* The transaction recorded in tr has the body types TYPES (-1 terminated),
 * alternating sent/received, one transactionID, and the nonces chained
 * (RFC 4210 5.1.1). */
static void
check_flow(const int *types)
{
	const ASN1_OCTET_STRING *tid;
	int i, n;

	for (n = 0; types[n] >= 0; n++)
		;
	ck_assert_int_eq(tr.n, n);
	tid = cmp_msg_get0_transaction_id(tr.m[0]);
	ck_assert_ptr_nonnull(tid);
	ck_assert_int_eq(ASN1_STRING_length(tid), 16);
	for (i = 0; i < n; i++) {
		ck_assert_msg(cmp_msg_body_type(tr.m[i]) == types[i],
		    "message %d is %s, expected %s", i,
		    cmp_body_name(cmp_msg_body_type(tr.m[i])),
		    cmp_body_name(types[i]));
		ck_assert_int_eq(tr.sent[i], i % 2 == 0);
		ck_assert(octets_eq(cmp_msg_get0_transaction_id(tr.m[i]), tid));
		ck_assert_int_eq(ASN1_STRING_length(
		    cmp_msg_get0_sender_nonce(tr.m[i])), 16);
		if (i > 0)
			ck_assert_msg(octets_eq(cmp_msg_get0_recip_nonce(tr.m[i]),
			    cmp_msg_get0_sender_nonce(tr.m[i - 1])),
			    "recipNonce of message %d does not chain", i);
		/* a fresh senderNonce for every request */
		if (i >= 2 && i % 2 == 0)
			ck_assert(!octets_eq(cmp_msg_get0_sender_nonce(tr.m[i]),
			    cmp_msg_get0_sender_nonce(tr.m[i - 2])));
	}
}

/* certConf (message IDX) confirms CERT with STATUS (and failInfo BIT). */
static void
check_certconf(int idx, X509 *cert, long status, int bit)
{
	CMP_CERTSTATUS *cs;
	const CMP_PKISTATUSINFO *si;
	struct pk_err e;

	ck_assert_int_eq(cmp_msg_body_type(tr.m[idx]), CMP_BODY_CERTCONF);
	ck_assert_int_eq(cmp_certconf_count(tr.m[idx]), 1);
	cs = cmp_certconf_get0(tr.m[idx], 0);
	ck_assert_msg(cmp_certstatus_check_hash(cs, cert, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(cmp_certstatus_req_id(cs), 0);
	si = cmp_certstatus_get0_si(cs);
	if (status == CMP_STATUS_ACCEPTED && si == NULL)
		return;
	ck_assert_ptr_nonnull(si);
	ck_assert_int_eq(cmp_si_status(si), status);
	if (bit >= 0)
		ck_assert_uint_eq(cmp_si_failinfo(si), CMP_FAIL(bit));
}

static const int flow_ok[] = { -2, -2, CMP_BODY_CERTCONF, CMP_BODY_PKICONF, -1 };

static void
expect_flow(int req, int rep)
{
	int types[5];

	memcpy(types, flow_ok, sizeof(types));
	types[0] = req;
	types[1] = rep;
	check_flow(types);
}

/* --- IR with MAC --- */

static void
run_ir_mac(int mac_nid, const char *mac_text)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	char *d;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -rsp_capubs ca.crt");
	cfg_mac(&c);
	c.mac_nid = mac_nid;
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(r.cert);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	ck_assert_int_eq(r.status, CMP_STATUS_ACCEPTED);
	ck_assert_int_eq(sk_X509_num(r.ca_pubs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(r.ca_pubs, 0), c_ca), 0);
	ck_assert_int_eq(r.unauthenticated, 0);
	ck_assert_int_eq(r.polled, 0);
	ck_assert_int_gt(nprogress, 0);
	expect_flow(CMP_BODY_IR, CMP_BODY_IP);
	/* the ir: PBM with the asked MAC, the reference as senderKID */
	ck_assert_int_eq(cmp_msg_protection_kind(tr.m[0]), CMP_PROT_PBM);
	d = cmp_msg_protection_desc(tr.m[0]);
	ck_assert_msg(strstr(d, mac_text) != NULL, "%s", d);
	free(d);
	ck_assert_int_eq(ASN1_STRING_length(cmp_msg_get0_sender_kid(tr.m[0])), 4);
	ck_assert_mem_eq(ASN1_STRING_get0_data(cmp_msg_get0_sender_kid(tr.m[0])),
	    "ref1", 4);
	/* the request's template carries our key and subject */
	ck_assert_int_eq(EVP_PKEY_eq(cmp_tmpl_get0_pubkey(cmp_crm_get0_template(
	    cmp_req_get0(tr.m[0], 0))), k_cl), 1);
	ck_assert_int_eq(X509_NAME_cmp(cmp_tmpl_get0_subject(cmp_crm_get0_template(
	    cmp_req_get0(tr.m[0], 0))), subj), 0);
	/* the certConf too is MAC-protected and accepts with the certHash */
	ck_assert_int_eq(cmp_msg_protection_kind(tr.m[2]), CMP_PROT_PBM);
	ck_assert_int_eq(cmp_msg_verify_pbm(tr.m[2], "sec1", 4, NULL, &e), 0);
	check_certconf(2, c_cl, CMP_STATUS_ACCEPTED, -1);
	cmp_client_result_clear(&r);
}

START_TEST(ir_mac_hmac_sha256)
{
	run_ir_mac(NID_hmacWithSHA256, "mac=hmacWithSHA256");
}
END_TEST

START_TEST(ir_mac_hmac_sha1)
{
	run_ir_mac(NID_hmac_sha1, "mac=HMAC-SHA1");
}
END_TEST

START_TEST(ir_mac_implicit_confirm)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	static const int types[] = { CMP_BODY_IR, CMP_BODY_IP, -1 };

	mock_start(MOCK_MAC "-rsp_cert cl.crt -grant_implicitconf");
	cfg_mac(&c);
	c.implicit_confirm = 1;
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	ck_assert_int_eq(r.implicit_confirm_granted, 1);
	ck_assert_int_eq(cmp_msg_implicit_confirm(tr.m[0]), 1);
	check_flow(types);	/* no certConf, no pkiConf */
	cmp_client_result_clear(&r);
}
END_TEST

/* --- signature protection --- */

START_TEST(ir_signature_chain_from_extracerts)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	STACK_OF(X509) *xc;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	expect_flow(CMP_BODY_IR, CMP_BODY_IP);
	/* signed with the vendor key, its certificate first in extraCerts */
	ck_assert_int_eq(cmp_msg_protection_kind(tr.m[0]), CMP_PROT_SIG);
	ck_assert_int_eq(cmp_msg_verify_sig(tr.m[0], c_auth, &e), 0);
	xc = cmp_msg_get0_extra_certs(tr.m[0]);
	ck_assert_int_ge(sk_X509_num(xc), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(xc, 0), c_auth), 0);
	/* the response was signed by the mock's certificate */
	ck_assert_int_eq(cmp_msg_verify_sig(tr.m[1], c_srv, &e), 0);
	check_certconf(2, c_cl, CMP_STATUS_ACCEPTED, -1);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(ir_signature_verify_cert)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	c.verify_cert = c_srv;
	/* the pinned signer authenticates the answer; the new certificate
	 * still chains to the imported CA */
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(ir_signature_untrusted_signer_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	c.trusted = trusted_other;	/* the mock's signer is not under it */
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "RFC 4210 5.1.3") != NULL &&
	    strstr(e.msg, "not trusted") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	ck_assert_int_eq(tr.n, 2);	/* nothing sent after the bad ip */
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(ir_signature_wrong_verify_cert_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	c.verify_cert = c_auth;		/* not the mock's key */
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "does not verify") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(cr_signed)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	ck_assert_msg(cmp_client_run(CMP_BODY_CR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	expect_flow(CMP_BODY_CR, CMP_BODY_CP);
	ck_assert_int_eq(cmp_msg_verify_sig(tr.m[0], c_auth, &e), 0);
	cmp_client_result_clear(&r);
}
END_TEST

/* KUR, signed with the current certificate, which oldCertId names. */
static void
check_old_cert_id(void)
{
	X509_NAME *is = NULL;
	ASN1_INTEGER *sn = NULL;
	struct pk_err e;

	ck_assert_int_eq(cmp_crm_get1_old_cert_id(cmp_req_get0(tr.m[0], 0), &is,
	    &sn, &e), 0);
	ck_assert_ptr_nonnull(is);
	ck_assert_int_eq(X509_NAME_cmp(is, X509_get_issuer_name(c_cl)), 0);
	ck_assert_int_eq(ASN1_INTEGER_cmp(sn, X509_get0_serialNumber(c_cl)), 0);
	X509_NAME_free(is);
	ASN1_INTEGER_free(sn);
	ck_assert_int_eq(cmp_msg_verify_sig(tr.m[0], c_cl, &e), 0);
}

START_TEST(kur_same_key)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	c.auth_cert = c_cl;
	c.auth_key = k_cl;
	ck_assert_msg(cmp_client_run(CMP_BODY_KUR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	expect_flow(CMP_BODY_KUR, CMP_BODY_KUP);
	check_old_cert_id();
	ck_assert_int_eq(EVP_PKEY_eq(cmp_tmpl_get0_pubkey(cmp_crm_get0_template(
	    cmp_req_get0(tr.m[0], 0))), k_cl), 1);
	cmp_client_result_clear(&r);
}
END_TEST

/* regenerate: the kur carries the new key; the mock's fixed certificate holds
 * the old one, so the client rejects it with certConf (PEERS.md). */
START_TEST(kur_regenerate_mismatch_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_SIG "-rsp_cert cl.crt");
	cfg_sig(&c);
	c.auth_cert = c_cl;
	c.auth_key = k_cl;
	c.key = k_new;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_KUR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "public key is not the requested one") &&
	    strstr(e.msg, "rejected with certConf"), "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	expect_flow(CMP_BODY_KUR, CMP_BODY_KUP);
	check_old_cert_id();
	ck_assert_int_eq(EVP_PKEY_eq(cmp_tmpl_get0_pubkey(cmp_crm_get0_template(
	    cmp_req_get0(tr.m[0], 0))), k_new), 1);
	check_certconf(2, c_cl, CMP_STATUS_REJECTION, CMP_FAIL_BAD_CERT_TEMPLATE);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(mac_refuses_cr_and_kur)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	snprintf(url, sizeof(url), "http://127.0.0.1:1/");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_CR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "signature-protected") != NULL, "%s", e.msg);
	ck_assert_int_eq(r.status, -1);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_KUR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "signature-protected") != NULL, "%s", e.msg);
	ck_assert_int_eq(tr.n, 0);	/* nothing was sent */
	cmp_client_result_clear(&r);
}
END_TEST

/* cmp_client_run takes the request's own body type and nothing else: a p10cr,
 * a response type or a number outside the PKIBody CHOICE is refused before
 * anything is sent. */
START_TEST(only_ir_cr_kur_accepted)
{
	static const int bad[] = { CMP_BODY_P10CR, CMP_BODY_IP, CMP_BODY_GENM,
	    CMP_BODY_RR, -1, 27 };
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	size_t i;

	snprintf(url, sizeof(url), "http://127.0.0.1:1/");
	cfg_mac(&c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(cmp_client_run(bad[i], &c, &r, &e), -1);
		ck_assert_msg(strstr(e.msg, "is an ir, cr or kur") != NULL, "%s",
		    e.msg);
		ck_assert_int_eq(r.status, -1);
		cmp_client_result_clear(&r);
	}
	ck_assert_int_eq(tr.n, 0);	/* nothing was sent */
}
END_TEST

/* --- polling --- */

START_TEST(polling_until_delivered)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	time_t t0 = time(NULL);
	long id, after;
	int i, npoll = 0;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -poll_count 2 -check_after 1");
	cfg_mac(&c);
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_cmp(r.cert, c_cl), 0);
	ck_assert_int_ge(r.polled, 1);
	ck_assert_int_ge(time(NULL) - t0, 1);	/* checkAfter honoured */
	/* ir, ip(waiting), pollReq, pollRep..., ip/pollRep(cert), certConf,
	 * pkiConf: one transaction, nonces chained throughout */
	ck_assert_int_eq(cmp_msg_body_type(tr.m[0]), CMP_BODY_IR);
	ck_assert_int_eq(cmp_si_status(cmp_msg_get0_status(tr.m[1], 0)),
	    CMP_STATUS_WAITING);
	for (i = 2; i < tr.n; i++) {
		ck_assert(octets_eq(cmp_msg_get0_recip_nonce(tr.m[i]),
		    cmp_msg_get0_sender_nonce(tr.m[i - 1])));
		if (cmp_msg_body_type(tr.m[i]) == CMP_BODY_POLLREQ)
			npoll++;
		if (cmp_msg_body_type(tr.m[i]) == CMP_BODY_POLLREP) {
			ck_assert_int_eq(cmp_pollrep_get(tr.m[i], 0, &id, &after, NULL,
			    &e), 0);
			ck_assert_int_eq(after, 1);
		}
	}
	ck_assert_int_eq(npoll, r.polled);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 2]), CMP_BODY_CERTCONF);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 1]), CMP_BODY_PKICONF);
	cmp_client_result_clear(&r);
}
END_TEST

static double stop_at;

/* The operator stops 1.5 s in: the CA answered waiting and asked to check
 * again in 2 s, so the transaction is in its polling wait. */
static int
stop_after_first_poll(void *arg)
{
	(void)arg;
	return pk_mono_s() >= stop_at;
}

START_TEST(polling_stopped_by_operator)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	time_t t0 = time(NULL);

	mock_start(MOCK_MAC "-rsp_cert cl.crt -poll_count 50 -check_after 2");
	cfg_mac(&c);
	stop_at = pk_mono_s() + 1.5;
	c.should_stop = stop_after_first_poll;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "stopped by the operator while polling") !=
	    NULL, "%s", e.msg);
	ck_assert_int_eq(r.status, CMP_STATUS_WAITING);
	ck_assert_ptr_null(r.cert);
	ck_assert_int_le(time(NULL) - t0, 5);
	cmp_client_result_clear(&r);
}
END_TEST

static int
stop_now(void *arg)
{
	(void)arg;
	return pk_mono_s() >= stop_at;
}

/* A loopback listener with a full accept queue: a new connection stays in
 * its TCP handshake (the SYN is dropped). *fds: the listener and the two
 * connections that fill its queue (close them all). */
static void
listener_full(int fds[3])
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int i;

	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fds[0], 0), 0);
	ck_assert_int_eq(getsockname(fds[0], (struct sockaddr *)&a, &alen), 0);
	for (i = 1; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fds[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(100 * 1000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
}

/* The stop (Ctrl+C, poll-request stop) is honoured within ~200 ms while
 * connecting and while waiting for the HTTP answer, not at the timeout. */
START_TEST(stopped_while_connecting)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	double t0;
	int fds[3];

	listener_full(fds);
	cfg_mac(&c);
	c.timeout = 20;
	c.should_stop = stop_now;
	t0 = pk_mono_s();
	stop_at = t0 + 0.3;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "stopped by the operator while connecting to "
	    "127.0.0.1:") != NULL, "%s", e.msg);
	ck_assert_msg(pk_mono_s() - t0 < 0.3 + 0.25, "took %.3f s",
	    pk_mono_s() - t0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(stopped_while_waiting_for_answer)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	double t0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	cfg_mac(&c);
	c.timeout = 20;
	c.should_stop = stop_now;
	t0 = pk_mono_s();
	stop_at = t0 + 0.5;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "stopped by the operator while waiting for "
	    "the answer from 127.0.0.1:") != NULL, "%s", e.msg);
	ck_assert_msg(pk_mono_s() - t0 < 0.5 + 0.25, "took %.3f s",
	    pk_mono_s() - t0);
	ck_assert_int_eq(tr.n, 1);	/* the ir went out */
	close(fd);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(polling_bounded_by_timeout)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	time_t t0 = time(NULL);

	mock_start(MOCK_MAC "-rsp_cert cl.crt -poll_count 50 -check_after 1");
	cfg_mac(&c);
	c.timeout = 3;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "timeout") != NULL ||
	    strstr(e.msg, "timed out") != NULL, "%s", e.msg);
	ck_assert_int_ge(r.polled, 1);
	ck_assert_int_le(time(NULL) - t0, 5);
	cmp_client_result_clear(&r);
}
END_TEST

/* --- errors from the CA --- */

START_TEST(error_message_reported)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -send_error -pkistatus 2 "
	    "-failure 2 -statusstring 'go away'");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[1]), CMP_BODY_ERROR);
	ck_assert_msg(strstr(e.msg, "error message") != NULL, "%s", e.msg);
	ck_assert_int_eq(r.unauthenticated, 0);	/* PBM-protected error */
	ck_assert_int_eq(r.status, CMP_STATUS_REJECTION);
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(rejection_status_reported)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -pkistatus 2 -failure 9 "
	    "-statusstring 'POP is broken'");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_int_eq(r.status, CMP_STATUS_REJECTION);
	ck_assert_uint_eq(r.failinfo, CMP_FAIL(CMP_FAIL_BAD_POP));
	ck_assert_str_eq(r.status_text, "POP is broken");
	ck_assert_msg(strstr(e.msg, "rejection") && strstr(e.msg, "badPOP") &&
	    strstr(e.msg, "POP is broken"), "%s", e.msg);
	ck_assert_int_eq(tr.n, 2);	/* no certConf for a rejection */
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(unprotected_error_marked_unauthenticated)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -send_error -send_unprotected");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[1]), CMP_BODY_ERROR);
	ck_assert_int_eq(cmp_msg_protection_kind(tr.m[1]), CMP_PROT_NONE);
	ck_assert_int_eq(r.unauthenticated, 1);
	ck_assert_int_eq(r.status, CMP_STATUS_REJECTION);
	ck_assert_msg(strstr(e.msg, "error message: rejection") != NULL &&
	    strstr(e.msg, "unauthenticated") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}
END_TEST

/* -send_unprot_err: a rejecting ip without protection is reported, marked */
START_TEST(unprotected_rejection_marked_unauthenticated)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -send_unprot_err -pkistatus 2 "
	    "-failure 25 -statusstring 'down'");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[1]), CMP_BODY_IP);
	ck_assert_int_eq(cmp_msg_protection_kind(tr.m[1]), CMP_PROT_NONE);
	ck_assert_int_eq(r.unauthenticated, 1);
	ck_assert_int_eq(r.status, CMP_STATUS_REJECTION);
	ck_assert_uint_eq(r.failinfo, CMP_FAIL(CMP_FAIL_SYSTEM_FAILURE));
	ck_assert_str_eq(r.status_text, "down");
	ck_assert_msg(strstr(e.msg, "systemFailure") != NULL &&
	    strstr(e.msg, "unauthenticated") != NULL, "%s", e.msg);
	ck_assert_int_eq(tr.n, 2);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(unprotected_positive_response_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -send_unprotected");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[1]), CMP_BODY_IP);
	ck_assert_msg(strstr(e.msg, "RFC 4210 5.1.3") != NULL &&
	    strstr(e.msg, "not protected") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	ck_assert_int_eq(tr.n, 2);	/* not confirmed */
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(wrong_secret_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt");
	cfg_mac(&c);
	c.secret = (const unsigned char *)"not-the-secret";
	c.secret_len = strlen("not-the-secret");
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_ptr_null(r.cert);
	/* the mock refuses our MAC with an error we cannot authenticate */
	ck_assert_int_eq(cmp_msg_body_type(tr.m[1]), CMP_BODY_ERROR);
	ck_assert_int_eq(r.unauthenticated, 1);
	ck_assert_msg(strstr(e.msg, "unauthenticated") != NULL, "%s", e.msg);
	cmp_client_result_clear(&r);
}
END_TEST

/* --- unacceptable certificates: certConf with rejection --- */

START_TEST(foreign_key_cert_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert other.crt");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "public key is not the requested one"), "%s",
	    e.msg);
	ck_assert_ptr_null(r.cert);
	expect_flow(CMP_BODY_IR, CMP_BODY_IP);
	check_certconf(2, c_other, CMP_STATUS_REJECTION, CMP_FAIL_BAD_CERT_TEMPLATE);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(foreign_ca_cert_rejected)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert ca2cl.crt");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	/* names in the one style of both programs (util: pk_name_text) */
	ck_assert_msg(strstr(e.msg, "it was issued by \"CN=Other CA\", not by the "
	    "expected CA \"CN=Test CA\""), "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	expect_flow(CMP_BODY_IR, CMP_BODY_IP);
	check_certconf(2, c_ca2cl, CMP_STATUS_REJECTION, CMP_FAIL_WRONG_AUTHORITY);
	/* without a CA name, the chain to the imported CA decides */
	mock_stop();
	teardown();
	setup();
	mock_start(MOCK_MAC "-rsp_cert ca2cl.crt");
	cfg_mac(&c);
	c.recipient = NULL;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "not from an imported CA"), "%s", e.msg);
	check_certconf(2, c_ca2cl, CMP_STATUS_REJECTION, CMP_FAIL_INCORRECT_DATA);
	cmp_client_result_clear(&r);
}
END_TEST

/* --- transport failures --- */

/* The mock stops after one message (-max_msgs 1): the certConf finds the
 * connection closed and nobody listening any more. */
START_TEST(server_gone_mid_transaction)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	mock_start(MOCK_MAC "-rsp_cert cl.crt -max_msgs 1");
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	if (getenv("CHECK_CMP_TRACE") != NULL)
		fprintf(stderr, "error: %s\n", e.msg);
	ck_assert_int_eq(tr.n, 3);	/* ir, ip, certConf without answer */
	ck_assert_int_eq(cmp_msg_body_type(tr.m[2]), CMP_BODY_CERTCONF);
	/* the retry on a new connection meets the mock on its way out */
	ck_assert_msg(strstr(e.msg, "closed the connection without an answer") !=
	    NULL || strstr(e.msg, "Connection refused") != NULL ||
	    strstr(e.msg, "Connection reset by peer") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	ck_assert_int_eq(r.status, CMP_STATUS_ACCEPTED);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(server_down_connection_refused)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	time_t t0 = time(NULL);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", tu_free_port());
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "cannot connect to 127.0.0.1:") &&
	    strstr(e.msg, "Connection refused"), "%s", e.msg);
	ck_assert_int_le(time(NULL) - t0, 2);
	ck_assert_int_eq(r.status, -1);
	cmp_client_result_clear(&r);
}
END_TEST

START_TEST(server_never_answers)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	time_t t0;
	int fd;

	/* a real listening socket that accepts (in the kernel) and never replies */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	cfg_mac(&c);
	c.timeout = 2;
	t0 = time(NULL);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "no response within 2 seconds"), "%s", e.msg);
	ck_assert_int_ge(time(NULL) - t0, 1);
	ck_assert_int_le(time(NULL) - t0, 4);
	close(fd);
	cmp_client_result_clear(&r);
}
END_TEST

/* https: the server is verified against the trusted certificates. The peer is
 * a real TLS server (`openssl s_server -WWW`), which is no CMP server: with
 * the right CA the handshake passes, the POST is sent and never answered
 * (s_server -WWW serves GET only). */
START_TEST(https_server_verified)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	peer_start("exec openssl s_server -accept %d %s", "https",
	    "-cert tls.crt -key tls.key -WWW");
	cfg_mac(&c);
	c.timeout = 2;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "TLS") == NULL &&
	    strstr(e.msg, "no response within 2 seconds") != NULL, "%s", e.msg);
	/* a server certificate from a CA we do not trust */
	c.trusted = trusted_other;
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "TLS handshake") != NULL &&
	    strstr(e.msg, "server certificate not accepted") != NULL, "%s",
	    e.msg);
	cmp_client_result_clear(&r);
}
END_TEST

/* The success path of a KUR with a new key needs a CA that issues for the
 * requested key: our own responder, cmpca (PEERS.md). IR with MAC first, then
 * KUR signed with the certificate just issued, for a new key. */
static void
cmpca_start(const char *opts)
{
	char cmd[1024];
	const char *b = tu_build();

	if (b[0] == '/')
		snprintf(cmd, sizeof(cmd), "exec '%s/cmpca' --listen 127.0.0.1:%%d "
		    "%%s", b);
	else
		snprintf(cmd, sizeof(cmd), "exec '%s/%s/cmpca' --listen "
		    "127.0.0.1:%%d %%s", tu_top(), b);
	peer_start_ready(cmd, "http", opts, "listening on");
}

START_TEST(cmpca_ir_then_kur_regenerate)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r1, r2;
	struct pk_err e;

	cmpca_start("--dir cmpca.d --ca-cert ca.crt --ca-key "
	    "ca.key --signer-cert srv.crt --signer-key srv.key --trust ca.crt "
	    "--ref ref1 --secret sec1");
	cfg_mac(&c);
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r1, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(r1.cert), k_cl), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(r1.cert), ca_name), 0);
	cfg_sig(&c);
	c.auth_cert = r1.cert;
	c.auth_key = k_cl;
	c.key = k_new;
	ck_assert_msg(cmp_client_run(CMP_BODY_KUR, &c, &r2, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(r2.cert), k_new), 1);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(r1.cert),
	    X509_get0_serialNumber(r2.cert)), 0);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 4]), CMP_BODY_KUR);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 3]), CMP_BODY_KUP);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 1]), CMP_BODY_PKICONF);
	cmp_client_result_clear(&r1);
	cmp_client_result_clear(&r2);
}
END_TEST

/* cmp_client_genm (RFC 9483 4.3.1): a MAC-protected genm caCerts to cmpca
 * gets the CA certificate back, with no certificate, key or subject needed;
 * the genp went through the response checks (trace: genm, genp); the same
 * genm with the wrong secret is refused with the CA's error. */
START_TEST(cmpca_genm_ca_certs)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	CMP_ITAV *ask = cmp_itav_new_oid(CMP_OID_IT_CA_CERTS, NULL), *got = NULL;
	STACK_OF(X509) *certs = NULL;

	cmpca_start("--dir cmpca4.d --ca-cert ca.crt --ca-key ca.key "
	    "--ref ref1 --secret sec1");
	cfg_mac(&c);
	c.key = NULL;
	c.subject = NULL;
	ck_assert_msg(cmp_client_genm(&c, ask, CMP_OID_IT_CA_CERTS, &got, &r,
	    &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(cmp_itav_get1_certs(got, &certs, &e), 0);
	ck_assert_int_eq(sk_X509_num(certs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), c_ca), 0);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 2]), CMP_BODY_GENM);
	ck_assert_int_eq(cmp_msg_pvno(tr.m[tr.n - 2]), 2);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[tr.n - 1]), CMP_BODY_GENP);
	cmp_client_result_clear(&r);
	CMP_ITAV_free(got);
	got = NULL;
	/* the wrong secret: cmpca answers with an error, reported */
	c.secret = (const unsigned char *)"wrong";
	c.secret_len = 5;
	ck_assert_int_eq(cmp_client_genm(&c, ask, CMP_OID_IT_CA_CERTS, &got, &r,
	    &e), -1);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(e.msg, "the CA answered with an error message") !=
	    NULL, "%s", e.msg);
	ck_assert_int_eq(r.status, CMP_STATUS_REJECTION);
	cmp_client_result_clear(&r);
	/* and cmp_client_run does not run a genm */
	ck_assert_int_eq(cmp_client_run(CMP_BODY_GENM, &c, &r, &e), -1);
	cmp_client_result_clear(&r);
	sk_X509_pop_free(certs, X509_free);
	CMP_ITAV_free(ask);
}
END_TEST

/* A signer certificate without digitalSignature (here cmpca signing with its
 * CA certificate, keyUsage keyCertSign+cRLSign) is refused, saying so. */
START_TEST(signer_without_digital_signature_refused)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;

	cmpca_start("--dir cmpca2.d --ca-cert ca.crt --ca-key ca.key "
	    "--trust ca.crt");
	cfg_sig(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_CR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "lacks the digitalSignature key usage") !=
	    NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	cmp_client_result_clear(&r);
}
END_TEST

/* --- trust rules (DESIGN "Trust rules"), each against the hostile CA --- */

static X509 *
up(X509 *x)
{
	X509_up_ref(x);
	return x;
}

static EVP_PKEY *
upk(EVP_PKEY *k)
{
	EVP_PKEY_up_ref(k);
	return k;
}

/* The issued certificate in the recorded ip/cp/kup (message IDX). */
static X509 *
recorded_cert(int idx)
{
	return cmp_certresp_get0_cert(cmp_rep_get0(tr.m[idx], 0));
}

/* The attack of issue 11: a responder signing with an ordinary device
 * certificate that chains to the imported CA puts a self-made CA carrying the
 * real CA's name in caPubs and returns a certificate issued by that CA. The
 * signer is refused (RFC 9483 3.5: only the CA or an RA authorised by
 * id-kp-cmcCA / id-kp-cmcRA speaks for the CA). */
START_TEST(trust_device_signer_with_fake_ca_refused)
{
	struct cmp_client_cfg c;
	EVP_PKEY *fk = ec_key();
	X509 *fake = mk_cert(fk, X509_get_subject_name(c_ca), NULL, NULL, fk, -1,
	    30, MK_CA);

	H.sig_key = load_key("other.key");
	H.sig_cert = up(c_other);	/* CN=device1, issued by the real CA */
	H.iss_cert = fake;
	H.iss_key = fk;
	H.capubs = one_cert(fake);
	hostile_start();
	cfg_mac(&c);
	expect_refused(CMP_BODY_IR, &c, "RFC 9483 3.5", "may not speak for the CA");
	ck_assert_int_eq(tr.n, 2);	/* nothing more sent to that responder */
	cfg_sig(&c);
	expect_refused(CMP_BODY_CR, &c, "RFC 9483 3.5", "\"CN=device1\"");
}
END_TEST

/* The caPubs of a signed answer are never trust anchors (RFC 9483 4.1.1), even
 * when the signer is an authorised RA: a certificate from a self-made CA named
 * like the real one is rejected with certConf (RFC 4210 5.2.8). */
START_TEST(trust_capubs_of_signed_answer_not_anchors)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	EVP_PKEY *fk = ec_key();
	X509 *fake = mk_cert(fk, X509_get_subject_name(c_ca), NULL, NULL, fk, -1,
	    30, MK_CA);

	H.sig_key = upk(k_srv);
	H.sig_cert = up(c_srv);		/* a legitimate RA (id-kp-cmcRA) */
	H.iss_cert = fake;
	H.iss_key = fk;
	H.capubs = one_cert(fake);
	hostile_start();
	cfg_mac(&c);
	ck_assert_int_eq(cmp_client_run(CMP_BODY_IR, &c, &r, &e), -1);
	ck_assert_msg(strstr(e.msg, "not from an imported CA") != NULL &&
	    strstr(e.msg, "rejected with certConf") != NULL, "%s", e.msg);
	ck_assert_ptr_null(r.cert);
	ck_assert_ptr_null(r.ca_pubs);	/* not handed on as CA certificates */
	expect_flow(CMP_BODY_IR, CMP_BODY_IP);
	check_certconf(2, recorded_cert(1), CMP_STATUS_REJECTION,
	    CMP_FAIL_INCORRECT_DATA);
	cmp_client_result_clear(&r);
}
END_TEST

/* A signer that chains to the imported CA but is neither the CA nor an RA is
 * refused, saying which extended key usage it has. */
START_TEST(trust_signer_needs_cmc_eku)
{
	struct cmp_client_cfg c;
	X509 *x;
	EVP_PKEY *k;

	mk_pair("TLS server", c_ca, k_ca, -1, 30, MK_SERVERAUTH, &x, &k);
	H.sig_key = k;
	H.sig_cert = x;
	H.iss_cert = up(c_ca);		/* a real certificate, from the real CA */
	H.iss_key = upk(k_ca);
	hostile_start();
	cfg_sig(&c);
	expect_refused(CMP_BODY_CR, &c, "RFC 9483 3.5: the CMP signer certificate "
	    "\"CN=TLS server\"", "neither id-kp-cmcCA nor id-kp-cmcRA (its "
	    "extended key usage: serverAuth)");
}
END_TEST

/* Issuing CAs are intermediates (PEERS.md): a CA certificate that chains to the
 * imported root signs the answer and issues; it speaks for itself. */
START_TEST(trust_intermediate_issuing_ca_accepted)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	X509 *ica;
	EVP_PKEY *ik;

	mk_pair("Issuing CA", c_ca, k_ca, -1, 30, MK_CA, &ica, &ik);
	H.sig_key = upk(ik);
	H.sig_cert = up(ica);
	H.iss_cert = ica;
	H.iss_key = ik;
	hostile_start();
	cfg_sig(&c);
	c.recipient = X509_get_subject_name(ica);
	ck_assert_msg(cmp_client_run(CMP_BODY_CR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(r.cert),
	    X509_get_subject_name(ica)), 0);
	expect_flow(CMP_BODY_CR, CMP_BODY_CP);
	cmp_client_result_clear(&r);
}
END_TEST

/* A pinned verification-cert must be valid now (RFC 5280 4.1.2.5). */
START_TEST(trust_pinned_signer_validity_checked)
{
	struct cmp_client_cfg c;
	X509 *x;
	EVP_PKEY *k;

	mk_pair("Old RA", c_ca, k_ca, -30, -1, MK_CMCRA, &x, &k);
	H.sig_key = k;
	H.sig_cert = x;
	H.iss_cert = up(c_ca);
	H.iss_key = upk(k_ca);
	hostile_start();
	cfg_sig(&c);
	c.verify_cert = x;
	expect_refused(CMP_BODY_CR, &c, "the verification-cert \"CN=Old RA\"",
	    "expired on ");
	mock_stop();
	hostile_clear();
	mk_pair("Future RA", c_ca, k_ca, 1, 30, MK_CMCRA, &x, &k);
	H.sig_key = k;
	H.sig_cert = x;
	H.iss_cert = up(c_ca);
	H.iss_key = upk(k_ca);
	hostile_start();
	c.verify_cert = x;
	expect_refused(CMP_BODY_CR, &c, "the verification-cert \"CN=Future RA\"",
	    "not valid before ");
}
END_TEST

/* The new certificate must chain to an imported CA certificate: a pinned
 * signer alone does not make its certificates trusted. */
START_TEST(trust_new_cert_needs_imported_ca)
{
	struct cmp_client_cfg c;
	X509 *x, *fake;
	EVP_PKEY *k, *fk;

	mk_pair("Pinned RA", NULL, NULL, -1, 30, MK_CMCRA, &x, &k);
	mk_pair("Test CA", NULL, NULL, -1, 30, MK_CA, &fake, &fk);
	H.sig_key = k;
	H.sig_cert = x;
	H.iss_cert = fake;
	H.iss_key = fk;
	hostile_start();
	cfg_sig(&c);
	c.verify_cert = x;
	c.trusted = NULL;
	expect_refused(CMP_BODY_CR, &c, "no imported CA certificate", NULL);
	ck_assert_int_eq(cmp_msg_body_type(tr.m[2]), CMP_BODY_CERTCONF);
}
END_TEST

/* The issuer is matched by key identifier as well as name (RFC 5280
 * 4.2.1.1): a certificate without authorityKeyIdentifier is rejected. */
START_TEST(trust_new_cert_needs_aki)
{
	struct cmp_client_cfg c;

	H.sig_key = upk(k_srv);
	H.sig_cert = up(c_srv);
	H.iss_cert = up(c_ca);
	H.iss_key = upk(k_ca);
	H.no_aki = 1;
	hostile_start();
	cfg_sig(&c);
	expect_refused(CMP_BODY_CR, &c, "RFC 5280 4.2.1.1", "authorityKeyIdentifier");
	check_certconf(2, recorded_cert(1), CMP_STATUS_REJECTION,
	    CMP_FAIL_WRONG_AUTHORITY);
}
END_TEST

/* The caPubs of a MAC-protected ip are trust anchors (RFC 4210 5.3.2, RFC 9483
 * 4.1.1): the secret's holder is the CA, even with nothing imported. */
START_TEST(trust_mac_capubs_are_anchors)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	X509 *ca;
	EVP_PKEY *k;

	mk_pair("Test CA", NULL, NULL, -1, 30, MK_CA, &ca, &k);
	H.mac = 1;
	H.iss_cert = ca;
	H.iss_key = k;
	H.capubs = one_cert(ca);
	hostile_start();
	cfg_mac(&c);
	c.trusted = NULL;
	ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(sk_X509_num(r.ca_pubs), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(r.ca_pubs, 0), ca), 0);
	cmp_client_result_clear(&r);
}
END_TEST

/* PBM verification needs 100..100,000 iterations and an 8-byte salt (RFC 4211
 * 4.4, RFC 8018 4.1): a MAC made with 1 iteration and a 1-byte salt, or a
 * 4-byte salt, does not authenticate the answer. */
START_TEST(trust_weak_pbm_refused)
{
	struct cmp_client_cfg c;

	H.mac = 1;
	H.weak_iter = 1;
	H.weak_salt = 1;
	H.iss_cert = up(c_ca);
	H.iss_key = upk(k_ca);
	hostile_start();
	cfg_mac(&c);
	expect_refused(CMP_BODY_IR, &c, "RFC 4211 4.4: the PBM iteration count "
	    "must be at least 100, this one is 1", NULL);
	mock_stop();
	H.weak_iter = 1000;
	H.weak_salt = 4;
	hostile_start();
	expect_refused(CMP_BODY_IR, &c, "RFC 8018 4.1: a PBM salt of at least 8 "
	    "bytes is required, this one has 4", NULL);
}
END_TEST

/* BER on the protocol path is refused (RFC 6712 3.3: a DER-encoded
 * PKIMessage), although the protection, over header and body, verifies. */
START_TEST(trust_ber_answer_refused)
{
	struct cmp_client_cfg c;

	H.mac = 1;
	H.iss_cert = up(c_ca);
	H.iss_key = upk(k_ca);
	H.ber = 1;
	hostile_start();
	cfg_mac(&c);
	expect_refused(CMP_BODY_IR, &c, "not DER", "non-minimal length");
}
END_TEST

/* Issue 14 point 3, the one timing assertion of make check: a kept-alive IR +
 * certConf in one process against cmpca on loopback takes well under 20 ms
 * (the best of five; with header and body in two writes the certConf waited
 * ~40 ms for a delayed ACK). Not asserted under valgrind; 3x under the
 * sanitizers. The real figure is make bench's. */
START_TEST(kept_alive_ir_certconf_fast)
{
	struct cmp_client_cfg c;
	struct cmp_client_result r;
	struct pk_err e;
	const char *pre = getenv("LD_PRELOAD"), *san = getenv("SANITIZE");
	double best = 1e9, t0, bound = 0.020;
	char shm[] = "/dev/shm/pkish-ca.XXXXXX", opts[512];
	int i, on_shm;

	/* the CA's database in memory where there is a tmpfs: the figure is the
	 * transport's, not the disk's fdatasync */
	on_shm = mkdtemp(shm) != NULL;
	snprintf(opts, sizeof(opts), "--dir %s/ca --ca-cert ca.crt --ca-key ca.key "
	    "--signer-cert srv.crt --signer-key srv.key --ref ref1 --secret sec1",
	    on_shm ? shm : "cmpca3.d");
	cmpca_start(opts);
	cfg_mac(&c);
	c.trace = NULL;
	c.progress = NULL;
	for (i = 0; i < 6; i++) {
		t0 = pk_mono_s();
		ck_assert_msg(cmp_client_run(CMP_BODY_IR, &c, &r, &e) == 0, "%s",
		    e.msg);
		if (i > 0 && pk_mono_s() - t0 < best)	/* the first warms up */
			best = pk_mono_s() - t0;
		cmp_client_result_clear(&r);
	}
	fprintf(stderr, "kept-alive IR + certConf against cmpca: best of 5 "
	    "%.1f ms\n", best * 1000);
	mock_stop();
	if (on_shm)
		tu_rmrf(shm);
	if (pre != NULL && strstr(pre, "vgpreload") != NULL)
		return;
	if (san != NULL && strcmp(san, "1") == 0)
		bound *= 3;
	ck_assert_msg(best < bound, "a kept-alive IR + certConf took %.1f ms "
	    "(bound %.0f ms)", best * 1000, bound * 1000);
}
END_TEST

START_TEST(bad_urls_refused)
{
	struct cmp_http *h;
	struct pk_err e;

	ck_assert_int_eq(cmp_http_new(&h, "ftp://x/", NULL, 5, &e), -1);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(cmp_http_new(&h, "", NULL, 5, &e), -1);
	/* https without CA certificates to verify the server */
	ck_assert_int_eq(cmp_http_new(&h, "https://127.0.0.1:1/", NULL, 5, &e), -1);
	ck_assert_msg(strstr(e.msg, "https") != NULL, "%s", e.msg);
	ck_assert_int_eq(cmp_http_new(&h, "http://127.0.0.1:8080/pkix/?a=b", NULL,
	    5, &e), 0);
	cmp_http_free(h);
	cmp_http_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cmp_client");
	TCase *tc = tcase_create("mock");

	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, make_fixtures, remove_fixtures);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ir_mac_hmac_sha256);
	tcase_add_test(tc, ir_mac_hmac_sha1);
	tcase_add_test(tc, ir_mac_implicit_confirm);
	tcase_add_test(tc, ir_signature_chain_from_extracerts);
	tcase_add_test(tc, ir_signature_verify_cert);
	tcase_add_test(tc, ir_signature_untrusted_signer_rejected);
	tcase_add_test(tc, ir_signature_wrong_verify_cert_rejected);
	tcase_add_test(tc, cr_signed);
	tcase_add_test(tc, kur_same_key);
	tcase_add_test(tc, kur_regenerate_mismatch_rejected);
	tcase_add_test(tc, mac_refuses_cr_and_kur);
	tcase_add_test(tc, only_ir_cr_kur_accepted);
	tcase_add_test(tc, polling_until_delivered);
	tcase_add_test(tc, polling_stopped_by_operator);
	tcase_add_test(tc, polling_bounded_by_timeout);
	tcase_add_test(tc, stopped_while_connecting);
	tcase_add_test(tc, stopped_while_waiting_for_answer);
	tcase_add_test(tc, error_message_reported);
	tcase_add_test(tc, rejection_status_reported);
	tcase_add_test(tc, unprotected_error_marked_unauthenticated);
	tcase_add_test(tc, unprotected_rejection_marked_unauthenticated);
	tcase_add_test(tc, unprotected_positive_response_rejected);
	tcase_add_test(tc, wrong_secret_rejected);
	tcase_add_test(tc, foreign_key_cert_rejected);
	tcase_add_test(tc, foreign_ca_cert_rejected);
	tcase_add_test(tc, server_gone_mid_transaction);
	tcase_add_test(tc, server_down_connection_refused);
	tcase_add_test(tc, server_never_answers);
	tcase_add_test(tc, https_server_verified);
	tcase_add_test(tc, bad_urls_refused);
	tcase_add_test(tc, cmpca_ir_then_kur_regenerate);
	tcase_add_test(tc, cmpca_genm_ca_certs);
	tcase_add_test(tc, signer_without_digital_signature_refused);
	tcase_add_test(tc, kept_alive_ir_certconf_fast);
	tcase_add_test(tc, trust_device_signer_with_fake_ca_refused);
	tcase_add_test(tc, trust_capubs_of_signed_answer_not_anchors);
	tcase_add_test(tc, trust_signer_needs_cmc_eku);
	tcase_add_test(tc, trust_intermediate_issuing_ca_accepted);
	tcase_add_test(tc, trust_pinned_signer_validity_checked);
	tcase_add_test(tc, trust_new_cert_needs_imported_ca);
	tcase_add_test(tc, trust_new_cert_needs_aki);
	tcase_add_test(tc, trust_mac_capubs_are_anchors);
	tcase_add_test(tc, trust_weak_pbm_refused);
	tcase_add_test(tc, trust_ber_answer_refused);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
