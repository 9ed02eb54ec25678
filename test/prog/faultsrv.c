/*
 * faultsrv: a fault-injecting CMP server for the transport tests (t_faults.sh).
 *
 *   faultsrv --upstream URL --fault NAME [--secret S] [--listen PORT]
 *            [--record DIR]
 *
 * It proxies every request to a real CMP server (cmpca, the openssl mock) with
 * the engine's own client transport, one upstream connection per client
 * connection (the openssl mock binds a transaction to its connection), and
 * breaks the first answer as NAME says, at the HTTP level or in the CMP message
 * (re-protected with the PBM secret S where the fault must be the only thing
 * wrong). Prints "faultsrv: listening on http://127.0.0.1:PORT/", then one
 * line per answer it broke: "faultsrv: FAULT: ip of N bytes". Fault pvno3
 * breaks nothing: it sets pvno 3 (RFC 9480) in the first answer; empty-genp
 * takes every ITAV out of a genp; template-subject makes the certReqTemplate
 * of a genp fix the subject attribute O=Forced Org; root-update replaces the
 * value of a genp's rootCaKeyUpdate by the certificates of --root-update
 * FILE (PEM: newWithNew, newWithOld, oldWithNew; the last two may be left
 * out), re-protected: a rollover the test made. With --record
 * DIR every request as received and every answer (as broken) is
 * written to DIR/NN-req-BODY.der / NN-rsp-BODY.der, for cmpdump to check what
 * two real peers said. Test-only program; it runs until it is killed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../cmp/cmp.h"
#include "../tu_cmp.h"
#include "../tu_http.h"

static const char *const faults[] = {
	"none", "refused", "silent", "slow", "headers-close", "half-body",
	"cl-long", "cl-short", "trailing", "empty", "http500", "http404",
	"http302", "wrong-ct", "huge", "chunked", "no-status", "random",
	"flip-protection", "flip-body", "wrong-tid", "wrong-nonce", "wrong-body",
	"strip-protection", "unprotected-error", "huge-iter", "replay", "nested",
	"pvno3", "empty-genp", "template-subject", "root-update", NULL
};

static const char *fault = "none";
static const char *secret;
static const char *root_update_file;	/* --root-update */
static unsigned char *recorded;		/* replay: the first ip */
static size_t recorded_len;
static int broken;			/* answers broken so far */

static int
is(const char *name)
{
	return strcmp(fault, name) == 0;
}

static void
logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("faultsrv: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

/* Waits until the client closes the connection (or 60 s). */
static const char *record_dir;		/* --record */
static int recorded_n;

/* --record: writes DER as DIR/NN-WHAT-BODY.der. */
static void
record(const char *what, const CMP_PKIMESSAGE *m, const unsigned char *der,
    size_t len)
{
	char path[4096];
	FILE *f;

	if (record_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%02d-%s-%s.der", record_dir,
	    recorded_n++, what, cmp_body_name(cmp_msg_body_type(m)));
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(der, 1, len, f) != len || fclose(f) != 0)
		logf_("record: cannot write %s", path);
}

static void
linger_until_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	while (poll(&p, 1, 60000) > 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
send_head(int fd, const char *status, const char *extra, long long cl)
{
	char h[512];

	snprintf(h, sizeof(h), "HTTP/1.0 %s\r\n%s", status, extra);
	if (cl >= 0)
		snprintf(h + strlen(h), sizeof(h) - strlen(h),
		    "Content-Length: %lld\r\n", cl);
	strncat(h, "\r\n", sizeof(h) - strlen(h) - 1);
	tu_write_all(fd, h, strlen(h));
}

#define CT "Content-Type: application/pkixcmp\r\n"

/* The CMP-level faults: M (the upstream's answer to REQ) is changed. 0 when
 * the answer was changed, -1 when the fault is not a CMP-level one. */
static int
break_message(CMP_PKIMESSAGE **mp, const CMP_PKIMESSAGE *req)
{
	CMP_PKIMESSAGE *m = *mp;
	struct pk_err e;

	if (is("flip-protection")) {
		m->protection->data[m->protection->length - 1] ^= 0x01;
		cmp_msg_touch(m);
		return 0;
	}
	if (is("wrong-tid")) {
		ASN1_OCTET_STRING_set(m->header->transactionID,
		    (const unsigned char *)"faultsrv-txnid!!", 16);
		cmp_msg_touch(m);
	} else if (is("wrong-nonce")) {
		ASN1_OCTET_STRING_set(m->header->recipNonce,
		    (const unsigned char *)"faultsrv-nonce!!", 16);
		cmp_msg_touch(m);
	} else if (is("wrong-body")) {
		if (m->body->type != CMP_BODY_IP)
			return -1;
		m->body->type = CMP_BODY_CP;	/* the same CertRepMessage */
		cmp_msg_touch(m);
	} else if (is("strip-protection")) {
		X509_ALGOR_free(m->header->protectionAlg);
		m->header->protectionAlg = NULL;
		ASN1_BIT_STRING_free(m->protection);
		m->protection = NULL;
		cmp_msg_touch(m);
		return 0;
	} else if (is("unprotected-error")) {
		struct cmp_hdr h;
		CMP_PKIMESSAGE *err = NULL;

		memset(&h, 0, sizeof(h));
		if (cmp_build_error(&h, req, CMP_STATUS_REJECTION,
		    CMP_FAIL(CMP_FAIL_SYSTEM_UNAVAIL), "faultsrv: unprotected error",
		    -1, NULL, &err, &e) != 0)
			return -1;
		CMP_PKIMESSAGE_free(m);
		*mp = err;
		return 0;
	} else if (is("pvno3")) {
		/* not a fault: the answer as a cmp2021 peer sends it (RFC 9480
		 * 2.20), re-protected; a client must take it */
		ASN1_INTEGER_set(m->header->pvno, 3);
		cmp_msg_touch(m);
	} else if (is("empty-genp")) {
		/* a genp answering none of the genm's questions (RFC 4210
		 * 5.3.19 lets a CA leave out what it does not know),
		 * re-protected */
		if (m->body->type != CMP_BODY_GENP)
			return -1;
		sk_CMP_ITAV_pop_free(m->body->value.genp, CMP_ITAV_free);
		m->body->value.genp = sk_CMP_ITAV_new_null();
		cmp_msg_touch(m);
	} else if (is("template-subject")) {
		/* not a fault: a certReqTemplate whose certTemplate fixes the
		 * subject attribute O=Forced Org (RFC 9483 4.3.3), re-protected */
		STACK_OF(CMP_ITAV) *v = m->body->type == CMP_BODY_GENP ?
		    m->body->value.genp : NULL;
		CMP_CERTREQTEMPLATE *t = NULL;
		CMP_ITAV *it = NULL;
		int i;

		for (i = 0; i < sk_CMP_ITAV_num(v); i++)
			if (cmp_itav_is(sk_CMP_ITAV_value(v, i),
			    CMP_OID_IT_CERT_REQ_TEMPLATE))
				break;
		if (i == sk_CMP_ITAV_num(v) || cmp_itav_get1_cert_req_template(
		    sk_CMP_ITAV_value(v, i), &t, &e) != 0 || t == NULL)
			return -1;
		if (t->certTemplate == NULL)
			t->certTemplate = CMP_CERTTEMPLATE_new();
		X509_NAME_free(t->certTemplate->subject);
		t->certTemplate->subject = X509_NAME_new();
		X509_NAME_add_entry_by_txt(t->certTemplate->subject, "O",
		    MBSTRING_UTF8, (const unsigned char *)"Forced Org", -1, -1, 0);
		it = cmp_itav_new_cert_req_template(t);
		CMP_CERTREQTEMPLATE_free(t);
		if (it == NULL)
			return -1;
		CMP_ITAV_free(sk_CMP_ITAV_value(v, i));
		sk_CMP_ITAV_set(v, i, it);
		cmp_msg_touch(m);
	} else if (is("root-update")) {
		STACK_OF(CMP_ITAV) *v = m->body->type == CMP_BODY_GENP ?
		    m->body->value.genp : NULL;
		STACK_OF(X509_INFO) *xi = NULL;
		X509 *x[3] = { NULL, NULL, NULL };
		CMP_ITAV *it;
		BIO *b;
		int i, n = 0;

		for (i = 0; i < sk_CMP_ITAV_num(v); i++)
			if (cmp_itav_is(sk_CMP_ITAV_value(v, i),
			    CMP_OID_IT_ROOT_CA_KEY_UPDATE))
				break;
		if (i == sk_CMP_ITAV_num(v) || root_update_file == NULL ||
		    (b = BIO_new_file(root_update_file, "r")) == NULL)
			return -1;
		xi = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
		BIO_free(b);
		for (int k = 0; k < sk_X509_INFO_num(xi) && n < 3; k++)
			if (sk_X509_INFO_value(xi, k)->x509 != NULL)
				x[n++] = sk_X509_INFO_value(xi, k)->x509;
		it = n > 0 ? cmp_itav_new_root_ca_key_update(x[0], x[1], x[2]) :
		    NULL;
		sk_X509_INFO_pop_free(xi, X509_INFO_free);
		if (it == NULL)
			return -1;
		CMP_ITAV_free(sk_CMP_ITAV_value(v, i));
		sk_CMP_ITAV_set(v, i, it);
		cmp_msg_touch(m);
	} else if (is("huge-iter")) {
		/* twice the client's cap, with a MAC that verifies */
		return tu_pbm_protect(m, secret, 200000, 16);
	} else {
		return -1;
	}
	/* re-protected: only the check under test can catch it */
	if (secret != NULL && cmp_msg_protect_pbm(m, secret, strlen(secret), NULL,
	    &e) != 0)
		logf_("cannot re-protect: %s", e.msg);
	return 0;
}

/* Flips a byte in the issued certificate's signature: the body changes, its
 * structure does not. */
static void
flip_body(unsigned char *der, size_t len, const CMP_PKIMESSAGE *m)
{
	X509 *x = cmp_certresp_get0_cert(cmp_rep_get0(m, 0));
	unsigned char *xd = NULL, *at;
	int xl;

	if (x == NULL || (xl = i2d_X509(x, &xd)) <= 0)
		return;
	at = memmem(der, len, xd, (size_t)xl);
	if (at != NULL)
		at[xl - 2] ^= 0x01;
	OPENSSL_free(xd);
}

/* The answer DER with the HTTP-level fault; 1 when the connection must end. */
static int
send_answer(int fd, const unsigned char *der, size_t len, int ka)
{
	char ctx[128];
	size_t i;

	if (is("silent")) {
		linger_until_closed(fd);
		return 1;
	}
	if (is("slow")) {
		char h[256];

		snprintf(h, sizeof(h), "HTTP/1.0 200 OK\r\n" CT "Content-Length: "
		    "%zu\r\n\r\n", len);
		for (i = 0; h[i] != '\0'; i++) {
			if (tu_write_all(fd, h + i, 1) != 0)
				return 1;
			sleep(1);
		}
		return 1;
	}
	if (is("headers-close")) {
		send_head(fd, "200 OK", CT, (long long)len);
		return 1;
	}
	if (is("half-body")) {
		send_head(fd, "200 OK", CT, (long long)len);
		tu_write_all(fd, der, len / 2);
		return 1;
	}
	if (is("cl-long")) {
		send_head(fd, "200 OK", CT, (long long)len + 64);
		tu_write_all(fd, der, len);
		return 1;
	}
	if (is("cl-short")) {
		send_head(fd, "200 OK", CT, (long long)len - 64);
		tu_write_all(fd, der, len);
		linger_until_closed(fd);
		return 1;
	}
	if (is("trailing")) {
		static const char junk[26] = "abcdefghijklmnopqrstuvwxyz";

		send_head(fd, "200 OK", CT, (long long)len + 26);
		tu_write_all(fd, der, len);
		tu_write_all(fd, junk, sizeof(junk));
		return !ka;
	}
	if (is("empty")) {
		send_head(fd, "200 OK", CT, 0);
		return !ka;
	}
	if (is("http500") || is("http404")) {
		const char *st = is("http500") ? "500 Internal Server Error" :
		    "404 Not Found";

		send_head(fd, st, "Content-Type: text/plain\r\n", 9);
		tu_write_all(fd, "no, sorry", 9);
		return 1;
	}
	if (is("http302")) {
		send_head(fd, "302 Found", "Location: http://127.0.0.1:1/elsewhere\r\n",
		    0);
		return 1;
	}
	if (is("wrong-ct")) {
		send_head(fd, "200 OK", "Content-Type: text/html\r\n",
		    (long long)len);
		tu_write_all(fd, der, len);
		return 1;
	}
	if (is("huge")) {
		static unsigned char zeros[65536];

		send_head(fd, "200 OK", CT, 100LL << 20);
		for (i = 0; i < 1600; i++)
			if (tu_write_all(fd, zeros, sizeof(zeros)) != 0)
				break;
		return 1;
	}
	if (is("chunked")) {
		send_head(fd, "200 OK", CT "Transfer-Encoding: chunked\r\n", -1);
		tu_write_all(fd, "zz\r\nnot a chunk\r\n", 17);
		return 1;
	}
	if (is("no-status")) {
		snprintf(ctx, sizeof(ctx), CT "Content-Length: %zu\r\n\r\n", len);
		tu_write_all(fd, ctx, strlen(ctx));
		tu_write_all(fd, der, len);
		return 1;
	}
	if (is("random")) {
		unsigned char r[300];
		unsigned x = 12345;

		for (i = 0; i < sizeof(r); i++) {
			x = x * 1103515245u + 12345u;
			r[i] = (unsigned char)(x >> 16);
		}
		r[0] = 0x8f;	/* not "HTTP/" */
		tu_write_all(fd, r, sizeof(r));
		return 1;
	}
	if (is("nested")) {
		/* 10,000 nested SEQUENCEs, built from the inside out */
		size_t cap = 10000 * 6 + 2, n = 2, k;
		unsigned char *b = malloc(cap), *p = b + cap - 2;

		p[0] = 0x30;
		p[1] = 0x00;
		for (k = 0; k < 10000; k++) {
			unsigned char lh[6];
			int ll = 0;

			lh[ll++] = 0x30;
			if (n < 0x80) {
				lh[ll++] = (unsigned char)n;
			} else if (n < 0x100) {
				lh[ll++] = 0x81;
				lh[ll++] = (unsigned char)n;
			} else if (n < 0x10000) {
				lh[ll++] = 0x82;
				lh[ll++] = (unsigned char)(n >> 8);
				lh[ll++] = (unsigned char)n;
			} else {
				lh[ll++] = 0x83;
				lh[ll++] = (unsigned char)(n >> 16);
				lh[ll++] = (unsigned char)(n >> 8);
				lh[ll++] = (unsigned char)n;
			}
			p -= ll;
			memcpy(p, lh, (size_t)ll);
			n += (size_t)ll;
		}
		tu_http_respond(fd, 200, "application/pkixcmp", p, n, 0);
		free(b);
		return 1;
	}
	tu_http_respond(fd, 200, "application/pkixcmp", der, len, ka);
	return !ka;
}

/* Serves one client connection until it closes (or a fault ends it). */
static void
serve(int fd, const char *upstream)
{
	struct cmp_http *up = NULL;
	struct pk_err e;
	unsigned char *body = NULL, *der = NULL;
	size_t len, dlen;
	int ka, end = 0;

	if (cmp_http_new(&up, upstream, NULL, 10, &e) != 0) {
		logf_("upstream: %s", e.msg);
		return;
	}
	while (!end && tu_http_read_request(fd, 60000, &body, &len, &ka) == 1) {
		CMP_PKIMESSAGE *req = NULL, *rsp = NULL;
		int arm = broken == 0 || is("huge") || is("random");

		if (cmp_msg_decode(body, len, &req, &e) != 0) {
			tu_http_respond(fd, 400, "text/plain", e.msg, strlen(e.msg),
			    0);
			break;
		}
		record("req", req, body, len);
		if (is("silent")) {
			/* accepts, reads the request, never answers (no upstream
			 * needed: a listener for the stop and timeout tests) */
			logf_("silent: a %s of %zu bytes, no answer",
			    cmp_body_name(cmp_msg_body_type(req)), len);
			CMP_PKIMESSAGE_free(req);
			linger_until_closed(fd);
			break;
		}
		if (is("replay") && recorded != NULL &&
		    cmp_msg_body_type(req) == CMP_BODY_IR) {
			logf_("replay: ip of %zu bytes", recorded_len);
			tu_http_respond(fd, 200, "application/pkixcmp", recorded,
			    recorded_len, ka);
			end = !ka;
			goto next;
		}
		if (cmp_http_exchange(up, req, 30, &rsp, &e) != 0) {
			logf_("upstream: %s", e.msg);
			tu_http_respond(fd, 502, "text/plain", e.msg, strlen(e.msg), 0);
			break;
		}
		if (is("replay")) {
			if (recorded == NULL && cmp_msg_body_type(rsp) == CMP_BODY_IP &&
			    cmp_msg_encode(rsp, &recorded, &recorded_len, &e) == 0)
				logf_("recorded: ip of %zu bytes", recorded_len);
			arm = 0;
		}
		if (arm && !is("none"))
			(void)break_message(&rsp, req);
		if (cmp_msg_encode(rsp, &der, &dlen, &e) != 0) {
			logf_("encode: %s", e.msg);
			break;
		}
		if (arm && is("flip-body"))
			flip_body(der, dlen, rsp);
		record("rsp", rsp, der, dlen);
		if (arm && !is("none") && !is("replay")) {
			logf_("%s: %s of %zu bytes", fault, cmp_body_name(
			    cmp_msg_body_type(rsp)), dlen);
			broken++;
			end = send_answer(fd, der, dlen, ka);
		} else {
			tu_http_respond(fd, 200, "application/pkixcmp", der, dlen, ka);
			end = !ka;
		}
next:
		OPENSSL_free(der);
		der = NULL;
		CMP_PKIMESSAGE_free(req);
		CMP_PKIMESSAGE_free(rsp);
		free(body);
		body = NULL;
	}
	free(body);
	cmp_http_free(up);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "fault", required_argument, NULL, 'f' },
		{ "secret", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "record", required_argument, NULL, 'r' },
		{ "root-update", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	const char *upstream = NULL;
	int c, lfd, port = 0, i, known = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': upstream = optarg; break;
		case 'f': fault = optarg; break;
		case 's': secret = optarg; break;
		case 'l': port = atoi(optarg); break;
		case 'r': record_dir = optarg; break;
		case 'R': root_update_file = optarg; break;
		default:
			fprintf(stderr, "usage: faultsrv --upstream URL --fault NAME "
			    "[--secret S] [--listen PORT] [--record DIR]\n");
			return 2;
		}
	}
	for (i = 0; faults[i] != NULL; i++)
		known |= is(faults[i]);
	if (upstream == NULL || !known) {
		fprintf(stderr, "faultsrv: --upstream and a known --fault needed:");
		for (i = 0; faults[i] != NULL; i++)
			fprintf(stderr, " %s", faults[i]);
		fprintf(stderr, "\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = tu_http_listen(port, &port)) < 0) {
		perror("faultsrv: listen");
		return 1;
	}
	if (is("refused")) {
		/* a port that was just free, now closed: nobody listens */
		close(lfd);
		logf_("listening on http://127.0.0.1:%d/", port);
		logf_("refused: nothing listens on port %d", port);
		return 0;
	}
	logf_("listening on http://127.0.0.1:%d/", port);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("faultsrv: accept");
			return 1;
		}
		serve(fd, upstream);
		close(fd);
	}
}
