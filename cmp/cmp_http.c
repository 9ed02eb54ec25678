/*
 * cmp_http: the client's HTTP transport for CMP (RFC 6712).
 *
 * Contract (cmp.h section 2): one struct cmp_http per transaction. Each
 * cmp_http_exchange() POSTs one DER PKIMessage with Content-Type
 * application/pkixcmp (RFC 6712 3.3) and returns the decoded answer. We open the
 * TCP connection ourselves (non-blocking connect bounded by the connect timeout,
 * so "Connection refused" and "no answer" are told apart), put TLS on it for
 * https (server verified against the imported CA certificates, host name
 * checked), and hand the ready BIO to OpenSSL's HTTP client (OSSL_HTTP_open /
 * OSSL_HTTP_set1_request / OSSL_HTTP_exchange), which bounds the read time and
 * the response size. The connection is kept alive between the messages of the
 * transaction when the server allows it (the openssl mock CA binds a transaction
 * to its connection) and opened anew when the server closed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cmp.h"

#define CMP_HTTP_CT	"application/pkixcmp"	/* RFC 6712 3.4 */

struct cmp_http {
	char *host;
	char *port;
	char *path;
	int use_ssl;
	int connect_timeout;
	SSL_CTX *ssl_ctx;		/* https only */
	BIO *bio;			/* the connection: socket, or SSL over it */
	OSSL_HTTP_REQ_CTX *rctx;	/* HTTP state on BIO */
	int used;			/* messages exchanged on this connection */
	int (*should_stop)(void *arg);
	void *stop_arg;
};

void
cmp_http_set_stop(struct cmp_http *h, int (*should_stop)(void *arg), void *arg)
{
	h->should_stop = should_stop;
	h->stop_arg = arg;
}

static void
conn_close(struct cmp_http *h)
{
	OSSL_HTTP_REQ_CTX_free(h->rctx);	/* does not free the BIO we gave */
	h->rctx = NULL;
	BIO_free_all(h->bio);			/* closes the socket */
	h->bio = NULL;
	h->used = 0;
}

void
cmp_http_free(struct cmp_http *h)
{
	if (h == NULL)
		return;
	conn_close(h);
	SSL_CTX_free(h->ssl_ctx);
	OPENSSL_free(h->host);
	OPENSSL_free(h->port);
	OPENSSL_free(h->path);
	free(h);
}

int
cmp_http_new(struct cmp_http **out, const char *url, STACK_OF(X509) *trusted,
    int connect_timeout, struct pk_err *e)
{
	struct cmp_http *h;
	char *query = NULL;
	X509_STORE *st;
	int i, rc = -1;

	*out = NULL;
	if (url == NULL || *url == '\0')
		return pk_err_set(e, "no CMP server URL");
	h = xcalloc(1, sizeof(*h));
	h->connect_timeout = connect_timeout;
	if (!OSSL_HTTP_parse_url(url, &h->use_ssl, NULL, &h->host, &h->port, NULL,
	    &h->path, &query, NULL)) {
		ERR_clear_error();
		pk_err_set(e, "invalid CMP server URL \"%s\" (expected "
		    "http://HOST[:PORT]/PATH or https://...)", url);
		goto out;
	}
	if (query != NULL && *query != '\0') {
		/* keep the query part in the request target */
		size_t n = strlen(h->path) + strlen(query) + 2;
		char *p = OPENSSL_malloc(n);

		if (p == NULL)
			goto oom;
		snprintf(p, n, "%s?%s", h->path, query);
		OPENSSL_free(h->path);
		h->path = p;
	}
	if (h->use_ssl) {
		if (sk_X509_num(trusted) <= 0) {
			pk_err_set(e, "https needs the CA certificates that verify the "
			    "server (import them first)");
			goto out;
		}
		if ((h->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    !SSL_CTX_set_min_proto_version(h->ssl_ctx, TLS1_2_VERSION))
			goto oom;
		st = SSL_CTX_get_cert_store(h->ssl_ctx);
		for (i = 0; i < sk_X509_num(trusted); i++)
			if (!X509_STORE_add_cert(st, sk_X509_value(trusted, i)))
				goto oom;
		SSL_CTX_set_verify(h->ssl_ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = h;
	h = NULL;
	rc = 0;
	goto out;
oom:
	pk_err_ossl(e, "cannot set up the HTTP transport");
out:
	OPENSSL_free(query);
	cmp_http_free(h);
	return rc;
}

/* Waits until FD is ready for EVENTS or DEADLINE passes: 1 ready, 0 timeout,
 * -1 error (errno). */
static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ms, r;

	for (;;) {
		ms = deadline > 0 ? (int)((deadline - pk_mono_s()) * 1000) : -1;
		if (deadline > 0 && ms <= 0)
			return 0;
		r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* TCP connection to host:port, non-blocking, within connect_timeout. */
static int
tcp_connect(struct cmp_http *h, int *fdp, struct pk_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	double deadline;
	int fd = -1, r, err = 0, timedout = 0;
	socklen_t len;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(h->host, h->port, &hints, &res)) != 0)
		return pk_err_set(e, "cannot resolve %s: %s", h->host,
		    gai_strerror(r));
	deadline = h->connect_timeout > 0 ? pk_mono_s() + h->connect_timeout : 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
			err = errno;
			goto next;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			err = errno;
			goto next;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0) {
			timedout = 1;
			goto next;
		}
		if (r < 0) {
			err = errno;
			goto next;
		}
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == 0)
			break;
next:
		close(fd);
		fd = -1;
		if (timedout)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (timedout)
			return pk_err_set(e, "cannot connect to %s:%s: no answer "
			    "within %d seconds", h->host, h->port,
			    h->connect_timeout);
	{
		char eb[128];

		return pk_err_set(e, "cannot connect to %s:%s: %s", h->host,
		    h->port, strerror_r(err != 0 ? err : ECONNREFUSED, eb,
		    sizeof(eb)));
	}
	}
	*fdp = fd;
	return 0;
}

/* TLS on top of h->bio (the socket), server verified, host name checked. */
static int
tls_start(struct cmp_http *h, struct pk_err *e)
{
	BIO *sbio;
	SSL *ssl = NULL;
	ASN1_OCTET_STRING *ip;
	double deadline;
	long vr;
	int r;

	if ((sbio = BIO_new_ssl(h->ssl_ctx, 1)) == NULL)
		return pk_err_ossl(e, "cannot set up TLS");
	BIO_get_ssl(sbio, &ssl);
	/* RFC 6125: check the server's identity against the URL's host */
	if ((ip = a2i_IPADDRESS(h->host)) != NULL) {
		ASN1_OCTET_STRING_free(ip);
		r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), h->host);
	} else {
		r = SSL_set_tlsext_host_name(ssl, h->host) &&
		    SSL_set1_host(ssl, h->host);
	}
	ERR_clear_error();
	if (!r) {
		BIO_free(sbio);
		return pk_err_set(e, "cannot set up TLS for host %s", h->host);
	}
	h->bio = BIO_push(sbio, h->bio);
	deadline = h->connect_timeout > 0 ? pk_mono_s() + h->connect_timeout : 0;
	for (;;) {
		if (BIO_do_handshake(h->bio) > 0)
			return 0;
		if (!BIO_should_retry(h->bio))
			break;
		r = wait_fd((int)BIO_get_fd(h->bio, NULL),
		    BIO_should_read(h->bio) ? POLLIN : POLLOUT, deadline);
		if (r == 0)
			return pk_err_set(e, "TLS handshake with %s:%s: no answer "
			    "within %d seconds", h->host, h->port,
			    h->connect_timeout);
		if (r < 0)
			break;
	}
	vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		return pk_err_set(e, "TLS handshake with %s:%s failed: server "
		    "certificate not accepted: %s", h->host, h->port,
		    X509_verify_cert_error_string(vr));
	}
	return pk_err_ossl(e, "TLS handshake with %s:%s failed", h->host, h->port);
}

static int
conn_open(struct cmp_http *h, struct pk_err *e)
{
	int fd = -1;

	if (tcp_connect(h, &fd, e) != 0)
		return -1;
	if ((h->bio = BIO_new_socket(fd, BIO_CLOSE)) == NULL) {
		close(fd);
		return pk_err_ossl(e, "cannot set up the connection");
	}
	if (h->use_ssl && tls_start(h, e) != 0) {
		conn_close(h);
		return -1;
	}
	/* bio and rbio given: OpenSSL's HTTP client uses our connection as is
	 * (no connect, no TLS callback); its reads wait with BIO_wait() on the
	 * non-blocking socket, bounded by the exchange's timeout */
	h->rctx = OSSL_HTTP_open(h->host, h->port, NULL, NULL, 0, h->bio, h->bio,
	    NULL, NULL, 0, 0);
	if (h->rctx == NULL) {
		pk_err_ossl(e, "cannot start HTTP on %s:%s", h->host, h->port);
		conn_close(h);
		return -1;
	}
	return 0;
}

/* Turns the OpenSSL error queue of a failed exchange into one clear sentence. */
static void
exchange_error(struct cmp_http *h, int read_timeout, double elapsed,
    struct pk_err *e)
{
	unsigned long code, first = 0;
	const char *data = NULL, *d;
	char datacopy[256] = "";
	int flags, lib, reason, timeout = 0, http_status = 0, closed = 0;
	int too_large = 0, bad_ct = 0;

	while ((code = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		lib = ERR_GET_LIB(code);
		reason = ERR_GET_REASON(code);
		if (first == 0)
			first = code;
		if ((lib == ERR_LIB_BIO && reason == BIO_R_TRANSFER_TIMEOUT) ||
		    (lib == ERR_LIB_HTTP && reason == HTTP_R_RETRY_TIMEOUT))
			timeout = 1;
		if (lib == ERR_LIB_HTTP && (reason == HTTP_R_RECEIVED_ERROR ||
		    reason == HTTP_R_STATUS_CODE_UNSUPPORTED)) {
			http_status = 1;
			data = d;
		}
		if (lib == ERR_LIB_HTTP && (reason == HTTP_R_MAX_RESP_LEN_EXCEEDED ||
		    reason == HTTP_R_ASN1_LEN_EXCEEDS_MAX_RESP_LEN))
			too_large = 1;
		if (lib == ERR_LIB_HTTP && (reason == HTTP_R_UNEXPECTED_CONTENT_TYPE ||
		    reason == HTTP_R_MISSING_CONTENT_TYPE ||
		    reason == HTTP_R_MISSING_ASN1_ENCODING)) {
			bad_ct = 1;
			data = d;
		}
		if (lib == ERR_LIB_HTTP && (reason == HTTP_R_ERROR_RECEIVING ||
		    reason == HTTP_R_SERVER_CANCELED_CONNECTION ||
		    reason == HTTP_R_FAILED_READING_DATA))
			closed = 1;
		if (data != NULL && datacopy[0] == '\0' && (flags & ERR_TXT_STRING))
			snprintf(datacopy, sizeof(datacopy), "%s", data);
	}
	if (timeout || (read_timeout > 0 && elapsed >= read_timeout - 0.05 &&
	    !http_status && !too_large && !bad_ct)) {
		pk_err_set(e, "no response within %d seconds from %s:%s",
		    read_timeout, h->host, h->port);
	} else if (http_status) {
		int st = 0;
		const char *rs = strstr(datacopy, "reason=");

		sscanf(datacopy, "code=%d", &st);
		if (st > 0)
			pk_err_set(e, "HTTP status %d from the server%s%s", st,
			    rs != NULL ? ": " : "", rs != NULL ? rs + 7 : "");
		else
			pk_err_set(e, "HTTP error from the server: %s", datacopy);
	} else if (too_large) {
		pk_err_set(e, "the response is larger than %u bytes (refused)",
		    CMP_MSG_MAX_SIZE);
	} else if (bad_ct) {
		pk_err_set(e, "the response is not a CMP message: %s%s",
		    datacopy[0] ? datacopy : "wrong or missing content type",
		    datacopy[0] ? " (expected " CMP_HTTP_CT ")" : "");
	} else if (closed) {
		pk_err_set(e, "the server %s:%s closed the connection without an "
		    "answer", h->host, h->port);
	} else {
		const char *r = first != 0 ? ERR_reason_error_string(first) : NULL;

		pk_err_set(e, "HTTP exchange with %s:%s failed%s%s", h->host,
		    h->port, r != NULL ? ": " : "", r != NULL ? r : "");
	}
}

/* One POST on the current connection: 0 with *resp (a BIO to free), -1 with
 * *retry set when the server closed a reused connection before answering (the
 * request may be sent again on a new connection). */
static int
post_once(struct cmp_http *h, const unsigned char *der, size_t len,
    int read_timeout, BIO **resp, int *retry, struct pk_err *e)
{
	BIO *req = NULL;
	double t0 = pk_mono_s();
	int reused = h->used > 0, rc = -1;

	*resp = NULL;
	*retry = 0;
	if ((req = BIO_new_mem_buf(der, (int)len)) == NULL) {
		pk_err_ossl(e, "cannot send the request");
		goto out;
	}
	ERR_clear_error();
	/* RFC 6712 3.3/3.4: POST, Content-Type application/pkixcmp both ways;
	 * keep_alive 1: ask for a persistent connection, accept a refusal */
	if (!OSSL_HTTP_set1_request(h->rctx, h->path, NULL, CMP_HTTP_CT, req,
	    CMP_HTTP_CT, 1, CMP_MSG_MAX_SIZE, read_timeout > 0 ? read_timeout : 0,
	    1)) {
		pk_err_ossl(e, "cannot prepare the HTTP request");
		goto out;
	}
	*resp = OSSL_HTTP_exchange(h->rctx, NULL);
	if (*resp == NULL) {
		double el = pk_mono_s() - t0;

		/* a kept-alive connection the server dropped while idle: the
		 * request never got an answer; a new connection may try again */
		if (reused && el < 1.0 && ERR_GET_LIB(ERR_peek_last_error()) ==
		    ERR_LIB_HTTP && (ERR_GET_REASON(ERR_peek_last_error()) ==
		    HTTP_R_ERROR_RECEIVING || ERR_GET_REASON(ERR_peek_last_error())
		    == HTTP_R_ERROR_SENDING || ERR_GET_REASON(ERR_peek_last_error())
		    == HTTP_R_SERVER_CANCELED_CONNECTION))
			*retry = 1;
		exchange_error(h, read_timeout, el, e);
		goto out;
	}
	h->used++;
	rc = 0;
out:
	BIO_free(req);
	return rc;
}

static int exchange(struct cmp_http *h, const CMP_PKIMESSAGE *reqmsg,
    int read_timeout, CMP_PKIMESSAGE **rsp, struct pk_err *e);

/* A write to a connection the server has closed raises SIGPIPE, which would
 * end the console: it is blocked in this thread for the exchange and a
 * SIGPIPE raised meanwhile is consumed (the write fails with EPIPE instead). */
int
cmp_http_exchange(struct cmp_http *h, const CMP_PKIMESSAGE *reqmsg,
    int read_timeout, CMP_PKIMESSAGE **rsp, struct pk_err *e)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	int was_pending, rc;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	rc = exchange(h, reqmsg, read_timeout, rsp, e);
	if (!was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
			    errno == EINTR)
				;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int
exchange(struct cmp_http *h, const CMP_PKIMESSAGE *reqmsg,
    int read_timeout, CMP_PKIMESSAGE **rsp, struct pk_err *e)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	BIO *resp = NULL;
	long n;
	int retry, attempt, rc = -1;
	struct pk_err de;

	*rsp = NULL;
	if (cmp_msg_encode(reqmsg, &der, &len, e) != 0)
		return -1;
	for (attempt = 0; attempt < 2; attempt++) {
		if (h->rctx == NULL && conn_open(h, e) != 0)
			goto out;
		if (post_once(h, der, len, read_timeout, &resp, &retry, e) == 0)
			break;
		conn_close(h);
		if (!retry)
			goto out;
	}
	if (resp == NULL)
		goto out;
	/* the server said Connection: close (or HTTP/1.0 without keep-alive) */
	if (!OSSL_HTTP_is_alive(h->rctx))
		conn_close(h);
	n = BIO_get_mem_data(resp, (char **)&p);
	if (n <= 0) {
		pk_err_set(e, "the response is not a CMP message: empty body");
		goto out;
	}
	if (cmp_msg_decode_ex(p, (size_t)n, CMP_DECODE_DER, rsp, &de) != 0) {
		pk_err_set(e, "the response is not a CMP message: %s", de.msg);
		goto out;
	}
	rc = 0;
out:
	BIO_free(resp);
	OPENSSL_free(der);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}
