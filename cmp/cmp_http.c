/*
 * cmp_http: the client's HTTP transport for CMP (RFC 6712).
 *
 * Contract (cmp.h section 2): one struct cmp_http per transaction. Each
 * cmp_http_exchange() POSTs one DER PKIMessage with Content-Type
 * application/pkixcmp (RFC 6712 3.3) and returns the decoded answer, strictly
 * DER. We open the TCP connection ourselves (non-blocking connect bounded by
 * the connect timeout, so "Connection refused" and "no answer" are told apart),
 * put TLS on it for https (server verified against the imported CA
 * certificates, host name checked), and hand OpenSSL's HTTP client the
 * connection through a BIO of our own (struct conn) that
 *   - buffers what is written and sends the whole request, header and body,
 *     in one write when the request is flushed (with TCP_NODELAY: no
 *     Nagle / delayed-ACK stall on a kept-alive connection);
 *   - counts and keeps the first bytes received, so that a failure is named
 *     from what actually came ("Content-Length 1894 but the connection closed
 *     after 1830 bytes", "the answer has 26 bytes after the CMP message",
 *     "closed the connection without an answer" only when nothing came).
 * OSSL_HTTP_REQ_CTX_nbio() does the request and the response header; we drive
 * it without blocking, waiting on the socket in slices of at most 100 ms so
 * that the transaction's deadline and the operator's stop (should_stop: Ctrl+C,
 * poll-request stop) are honoured in every phase, and we read the body
 * ourselves by its Content-Length. The connection is kept alive between the
 * messages of the transaction when the server allows it (the openssl mock CA
 * binds a transaction to its connection) and opened anew when the server
 * closed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

#define CMP_HTTP_CT		"application/pkixcmp"	/* RFC 6712 3.4 */
#define CMP_HTTP_SLICE_MS	100	/* longest wait between stop checks */
#define CONN_RBUF		16384	/* read buffer */
#define CONN_HEAD		16384	/* first bytes of an answer kept */

/* ---- the connection BIO ---- */

/* State of our filter BIO over the socket (or the TLS BIO over it). */
struct conn {
	unsigned char *wbuf;		/* the request, until flushed */
	size_t wlen, woff, wcap;
	unsigned char rbuf[CONN_RBUF];	/* read ahead */
	size_t rpos, rlen;
	/* the current answer, as received */
	unsigned char head[CONN_HEAD];	/* its first bytes */
	size_t headlen;
	size_t nread;			/* bytes received */
	size_t hdrlen;			/* length of the HTTP header, 0 unknown */
	int eof;			/* the peer closed the connection */
	int rerrno;			/* a read error's errno */
	size_t nwrites;			/* writes of the current request */
};

static BIO_METHOD *conn_method;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static struct conn *
conn_of(BIO *b)
{
	return BIO_get_data(b);
}

static void
conn_record(struct conn *c, const unsigned char *p, size_t n)
{
	size_t k = n < CONN_HEAD - c->headlen ? n : CONN_HEAD - c->headlen;

	memcpy(c->head + c->headlen, p, k);
	c->headlen += k;
	c->nread += n;
}

/* Refills the read buffer from the next BIO: >0 bytes, 0 end of stream, -1
 * retry or error (flags copied). */
static int
conn_fill(BIO *b)
{
	struct conn *c = conn_of(b);
	BIO *next = BIO_next(b);
	int n;

	BIO_clear_retry_flags(b);
	errno = 0;
	n = BIO_read(next, c->rbuf, sizeof(c->rbuf));
	if (n > 0) {
		c->rpos = 0;
		c->rlen = (size_t)n;
		conn_record(c, c->rbuf, (size_t)n);
		return n;
	}
	if (BIO_should_retry(next)) {
		BIO_copy_next_retry(b);
		return -1;
	}
	if (n == 0 || errno == 0)
		c->eof = 1;
	else
		c->rerrno = errno;
	return n < 0 ? -1 : 0;
}

static int
conn_read(BIO *b, char *out, int outl)
{
	struct conn *c = conn_of(b);
	size_t k;
	int n;

	if (outl <= 0)
		return 0;
	if (c->rpos == c->rlen && (n = conn_fill(b)) <= 0)
		return n;
	k = c->rlen - c->rpos < (size_t)outl ? c->rlen - c->rpos : (size_t)outl;
	memcpy(out, c->rbuf + c->rpos, k);
	c->rpos += k;
	return (int)k;
}

/* One line (up to and with '\n'), or what is buffered when no line is
 * complete; OSSL_HTTP reads the response header with it. */
static int
conn_gets(BIO *b, char *buf, int size)
{
	struct conn *c = conn_of(b);
	const unsigned char *nl;
	size_t k;
	int n;

	if (size <= 1)
		return 0;
	if (c->rpos == c->rlen && (n = conn_fill(b)) <= 0)
		return n;
	k = c->rlen - c->rpos;
	if (k > (size_t)size - 1)
		k = (size_t)size - 1;
	if ((nl = memchr(c->rbuf + c->rpos, '\n', k)) != NULL)
		k = (size_t)(nl - (c->rbuf + c->rpos)) + 1;
	memcpy(buf, c->rbuf + c->rpos, k);
	buf[k] = '\0';
	c->rpos += k;
	return (int)k;
}

static int
conn_write(BIO *b, const char *in, int inl)
{
	struct conn *c = conn_of(b);

	BIO_clear_retry_flags(b);
	if (inl <= 0)
		return 0;
	if (c->wlen + (size_t)inl > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		unsigned char *p;

		while (cap < c->wlen + (size_t)inl)
			cap *= 2;
		if ((p = OPENSSL_realloc(c->wbuf, cap)) == NULL)
			return -1;
		c->wbuf = p;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, in, (size_t)inl);
	c->wlen += (size_t)inl;
	return inl;
}

/* The buffered request in one write (more only when the socket takes less). */
static long
conn_flush(BIO *b)
{
	struct conn *c = conn_of(b);
	BIO *next = BIO_next(b);
	int n;

	BIO_clear_retry_flags(b);
	while (c->woff < c->wlen) {
		n = BIO_write(next, c->wbuf + c->woff, (int)(c->wlen - c->woff));
		if (n <= 0) {
			if (BIO_should_retry(next))
				BIO_copy_next_retry(b);
			return -1;
		}
		c->nwrites++;
		c->woff += (size_t)n;
	}
	c->wlen = c->woff = 0;
	return BIO_flush(next) > 0 ? 1 : (BIO_copy_next_retry(b), -1);
}

static long
conn_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn *c = conn_of(b);
	BIO *next = BIO_next(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return conn_flush(b);
	case BIO_CTRL_PENDING:
		return (long)(c->rlen - c->rpos) + (next ? BIO_pending(next) : 0);
	case BIO_CTRL_WPENDING:
		return (long)(c->wlen - c->woff);
	case BIO_CTRL_RESET:
		/* OSSL_HTTP resets the read side to drop a response */
		c->rpos = c->rlen = 0;
		return 1;
	default:
		return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
	}
}

static int
conn_create(BIO *b)
{
	struct conn *c = OPENSSL_zalloc(sizeof(*c));

	if (c == NULL)
		return 0;
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	return 1;
}

static int
conn_destroy(BIO *b)
{
	struct conn *c = conn_of(b);

	if (c != NULL) {
		OPENSSL_free(c->wbuf);
		OPENSSL_free(c);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static void
conn_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER,
	    "pkish CMP connection");

	if (m == NULL || !BIO_meth_set_write(m, conn_write) ||
	    !BIO_meth_set_read(m, conn_read) || !BIO_meth_set_gets(m, conn_gets) ||
	    !BIO_meth_set_ctrl(m, conn_ctrl) || !BIO_meth_set_create(m, conn_create) ||
	    !BIO_meth_set_destroy(m, conn_destroy)) {
		BIO_meth_free(m);
		return;
	}
	conn_method = m;
}

/* Starts recording a new answer (and drops read-ahead of an old one). 1 when
 * bytes were left over from the last answer. */
static int
conn_begin(struct conn *c)
{
	int left = c->rpos < c->rlen;

	c->rpos = c->rlen = 0;
	c->headlen = c->nread = c->hdrlen = 0;
	c->eof = c->rerrno = 0;
	c->wlen = c->woff = 0;
	c->nwrites = 0;
	return left;
}

/* ---- the transport ---- */

struct cmp_http {
	char *host;
	char *port;
	char *path;
	int use_ssl;
	int connect_timeout;
	SSL_CTX *ssl_ctx;		/* https only */
	BIO *bio;			/* the connection: ours over socket or SSL */
	OSSL_HTTP_REQ_CTX *rctx;	/* HTTP state on BIO */
	int fd;
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

static int
stop_asked(struct cmp_http *h)
{
	return h->should_stop != NULL && h->should_stop(h->stop_arg);
}

static void
conn_close(struct cmp_http *h)
{
	OSSL_HTTP_REQ_CTX_free(h->rctx);	/* does not free the BIO we gave */
	h->rctx = NULL;
	BIO_free_all(h->bio);			/* closes the socket */
	h->bio = NULL;
	h->fd = -1;
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
	if (pthread_once(&conn_once, conn_method_init) != 0 || conn_method == NULL)
		return pk_err_ossl(e, "cannot set up the HTTP transport");
	h = xcalloc(1, sizeof(*h));
	h->fd = -1;
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

/* Waits until FD is ready for EVENTS, at most CMP_HTTP_SLICE_MS and not past
 * DEADLINE (0: none): 1 ready, 0 not yet (the caller checks the stop and the
 * deadline), -1 error (errno). EINTR (Ctrl+C) counts as "not yet". */
static int
wait_slice(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ms = CMP_HTTP_SLICE_MS, r;

	if (deadline > 0) {
		double left = (deadline - pk_mono_s()) * 1000;

		if (left < ms)
			ms = left > 0 ? (int)left + 1 : 0;
	}
	r = poll(&p, 1, ms);
	if (r > 0)
		return 1;
	if (r == 0 || errno == EINTR)
		return 0;
	return -1;
}

/* TCP connection to host:port, non-blocking, within connect_timeout. */
static int
tcp_connect(struct cmp_http *h, int *fdp, struct pk_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	double deadline;
	int fd = -1, r, err = 0, timedout = 0, one = 1;
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
		for (;;) {
			if (stop_asked(h)) {
				close(fd);
				freeaddrinfo(res);
				return pk_err_set(e, "stopped by the operator while "
				    "connecting to %s:%s", h->host, h->port);
			}
			if (deadline > 0 && pk_mono_s() >= deadline) {
				r = 0;
				break;
			}
			if ((r = wait_slice(fd, POLLOUT, deadline)) != 0)
				break;
		}
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
		char eb[128];

		if (timedout)
			return pk_err_set(e, "cannot connect to %s:%s: no answer "
			    "within %d seconds", h->host, h->port,
			    h->connect_timeout);
		return pk_err_set(e, "cannot connect to %s:%s: %s", h->host,
		    h->port, strerror_r(err != 0 ? err : ECONNREFUSED, eb,
		    sizeof(eb)));
	}
	/* each message goes out in one write (struct conn): nothing for Nagle
	 * to wait for, never a delayed-ACK stall */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return 0;
}

/* TLS on top of the socket BIO SOCK, server verified, host name checked. On
 * success *top is the SSL BIO over SOCK. */
static int
tls_start(struct cmp_http *h, BIO *sock, BIO **top, struct pk_err *e)
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
	*top = BIO_push(sbio, sock);
	deadline = h->connect_timeout > 0 ? pk_mono_s() + h->connect_timeout : 0;
	for (;;) {
		if (BIO_do_handshake(*top) > 0)
			return 0;
		if (!BIO_should_retry(*top))
			break;
		if (stop_asked(h))
			return pk_err_set(e, "stopped by the operator during the TLS "
			    "handshake with %s:%s", h->host, h->port);
		if (deadline > 0 && pk_mono_s() >= deadline)
			return pk_err_set(e, "TLS handshake with %s:%s: no answer "
			    "within %d seconds", h->host, h->port,
			    h->connect_timeout);
		if (wait_slice(h->fd, BIO_should_read(*top) ? POLLIN : POLLOUT,
		    deadline) < 0)
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
	BIO *sock, *top, *ours;
	int fd = -1;

	if (tcp_connect(h, &fd, e) != 0)
		return -1;
	h->fd = fd;
	if ((sock = BIO_new_socket(fd, BIO_CLOSE)) == NULL) {
		close(fd);
		h->fd = -1;
		return pk_err_ossl(e, "cannot set up the connection");
	}
	top = sock;
	if (h->use_ssl && tls_start(h, sock, &top, e) != 0) {
		BIO_free_all(top);
		h->fd = -1;
		return -1;
	}
	if ((ours = BIO_new(conn_method)) == NULL) {
		BIO_free_all(top);
		h->fd = -1;
		return pk_err_ossl(e, "cannot set up the connection");
	}
	h->bio = BIO_push(ours, top);
	/* bio and rbio given: OpenSSL's HTTP client uses our connection as is
	 * (no connect, no TLS callback, no timing: we drive it) */
	h->rctx = OSSL_HTTP_open(h->host, h->port, NULL, NULL, 0, h->bio, h->bio,
	    NULL, NULL, 0, 0);
	if (h->rctx == NULL) {
		pk_err_ossl(e, "cannot start HTTP on %s:%s", h->host, h->port);
		conn_close(h);
		return -1;
	}
	return 0;
}

/* ---- what came: the recorded answer ---- */

/* The value of header NAME in the recorded header (HDR, LEN bytes up to the
 * blank line) into V; 1 found, 0 not. */
static int
rec_header(const char *hdr, size_t len, const char *name, char *v, size_t vn)
{
	size_t nl = strlen(name), i = 0;

	/* skip the status line */
	while (i < len && hdr[i] != '\n')
		i++;
	while (++i < len) {
		const char *l = hdr + i;
		size_t k = 0, rest = len - i;

		while (k < rest && l[k] != '\n')
			k++;
		if (k > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *s = l + nl + 1, *end = l + k;

			while (s < end && (*s == ' ' || *s == '\t'))
				s++;
			while (end > s && (end[-1] == '\r' || end[-1] == ' ' ||
			    end[-1] == '\t'))
				end--;
			snprintf(v, vn, "%.*s", (int)(end - s), s);
			return 1;
		}
		i += k;
	}
	return 0;
}

/* P[0..N) with what is not printable as \xNN, for a message. */
static void
printable(const unsigned char *p, size_t n, char *out, size_t on)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < on; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, on - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
	if (i < n && o + 4 < on)
		snprintf(out + o, on - o, "...");
}

/* Where the recorded header ends (after the blank line), 0 when it has not. */
static size_t
rec_header_end(const struct conn *c)
{
	const unsigned char *p = c->head;
	size_t i;

	for (i = 0; i + 1 < c->headlen; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 2;
		if (i + 3 < c->headlen && p[i] == '\r' && p[i + 1] == '\n' &&
		    p[i + 2] == '\r' && p[i + 3] == '\n')
			return i + 4;
	}
	return 0;
}

/* Names a failure of the exchange from what was received (struct conn) and
 * OpenSSL's error queue. WHY: "timeout", "stop", "closed" (EOF or error on
 * the connection) or NULL (OSSL_HTTP refused the answer). */
static void
diagnose(struct cmp_http *h, struct conn *c, const char *why, int read_timeout,
    struct pk_err *e)
{
	const char *hd = (const char *)c->head, *line;
	size_t hend = rec_header_end(c), body;
	char v[256], txt[80], eb[128];
	int status = 0;
	unsigned long err = ERR_peek_last_error();

	ERR_clear_error();
	if (why != NULL && strcmp(why, "stop") == 0) {
		pk_err_set(e, "stopped by the operator while %s %s:%s",
		    c->nread == 0 ? "waiting for the answer from" :
		    "receiving the answer from", h->host, h->port);
		return;
	}
	if (c->nread == 0) {
		if (why != NULL && strcmp(why, "timeout") == 0)
			pk_err_set(e, "no response within %d seconds from %s:%s",
			    read_timeout, h->host, h->port);
		else if (c->rerrno != 0)
			pk_err_set(e, "the connection to %s:%s failed before an "
			    "answer: %s", h->host, h->port, strerror_r(c->rerrno,
			    eb, sizeof(eb)));
		else
			pk_err_set(e, "the server %s:%s closed the connection without "
			    "an answer", h->host, h->port);
		return;
	}
	if (c->headlen < 5 || memcmp(hd, "HTTP/", 5) != 0) {
		printable(c->head, c->headlen < 24 ? c->headlen : 24, txt,
		    sizeof(txt));
		pk_err_set(e, "the answer from %s:%s is not HTTP: it starts with "
		    "\"%s\" (%zu bytes received)", h->host, h->port, txt, c->nread);
		return;
	}
	line = memchr(hd, '\n', c->headlen);
	if (line != NULL) {
		/* the status line as a string of its own */
		size_t ll = (size_t)(line - hd) < sizeof(txt) - 1 ?
		    (size_t)(line - hd) : sizeof(txt) - 1;

		memcpy(txt, hd, ll);
		txt[ll] = '\0';
		if (sscanf(txt, "HTTP/%*d.%*d %d", &status) != 1)
			status = 0;
	}
	if (line != NULL && (status < 100 || status > 999)) {
		printable(c->head, (size_t)(line - hd) < 40 ? (size_t)(line - hd) :
		    40, txt, sizeof(txt));
		pk_err_set(e, "the answer from %s:%s has no valid HTTP status line: "
		    "\"%s\"", h->host, h->port, txt);
		return;
	}
	if (line != NULL && status != 200) {
		char reason[80] = "", loc[200];
		const char *r = memchr(hd, ' ', (size_t)(line - hd));

		if (r != NULL && (r = memchr(r + 1, ' ', (size_t)(line - r - 1))) !=
		    NULL) {
			size_t rl = (size_t)(line - r - 1);

			if (rl > 0 && r[rl] == '\r')
				rl--;
			printable((const unsigned char *)r + 1, rl, reason,
			    sizeof(reason));
		}
		if ((status == 301 || status == 302 || status == 303 ||
		    status == 307 || status == 308) && hend != 0 &&
		    rec_header(hd, hend, "Location", loc, sizeof(loc)))
			pk_err_set(e, "HTTP status %d%s%s%s from the server %s:%s: a "
			    "redirection to %s, which a CMP client does not follow "
			    "for its POST", status, reason[0] ? " (" : "", reason,
			    reason[0] ? ")" : "", h->host, h->port, loc);
		else
			pk_err_set(e, "HTTP status %d%s%s%s from the server %s:%s",
			    status, reason[0] ? " (" : "", reason, reason[0] ? ")" :
			    "", h->host, h->port);
		return;
	}
	if (hend == 0) {
		if (c->headlen == CONN_HEAD)
			pk_err_set(e, "the HTTP header from %s:%s is longer than %d "
			    "bytes (refused)", h->host, h->port, CONN_HEAD);
		else if (why != NULL && strcmp(why, "timeout") == 0)
			pk_err_set(e, "the HTTP header from %s:%s did not complete "
			    "within %d seconds (%zu bytes received)", h->host, h->port,
			    read_timeout, c->nread);
		else
			pk_err_set(e, "the server %s:%s closed the connection in the "
			    "middle of the HTTP header (after %zu bytes)", h->host,
			    h->port, c->nread);
		return;
	}
	if (!rec_header(hd, hend, "Content-Type", v, sizeof(v))) {
		pk_err_set(e, "RFC 6712 3.4: the answer from %s:%s has no "
		    "Content-Type (expected " CMP_HTTP_CT ")", h->host, h->port);
		return;
	}
	if (strncasecmp(v, CMP_HTTP_CT, strlen(CMP_HTTP_CT)) != 0 ||
	    (v[strlen(CMP_HTTP_CT)] != '\0' && v[strlen(CMP_HTTP_CT)] != ';')) {
		pk_err_set(e, "RFC 6712 3.4: the answer's Content-Type is \"%s\", "
		    "not " CMP_HTTP_CT, v);
		return;
	}
	if (rec_header(hd, hend, "Transfer-Encoding", v, sizeof(v))) {
		pk_err_set(e, "RFC 7230 3.3.1: the answer uses Transfer-Encoding "
		    "\"%s\", which a server must not send in answer to our "
		    "HTTP/1.0 request", v);
		return;
	}
	if (rec_header(hd, hend, "Content-Length", v, sizeof(v))) {
		char *end;
		unsigned long long cl = strtoull(v, &end, 10);

		if (end == v || *end != '\0' || v[0] == '-') {
			pk_err_set(e, "the answer has an invalid Content-Length \"%s\"",
			    v);
			return;
		}
		if (cl > CMP_MSG_MAX_SIZE) {
			pk_err_set(e, "the answer announces %llu bytes (Content-Length), "
			    "more than the limit of %u (refused)", cl,
			    CMP_MSG_MAX_SIZE);
			return;
		}
		body = c->nread - hend;
		if (why != NULL && strcmp(why, "timeout") == 0) {
			pk_err_set(e, "Content-Length %llu but only %zu bytes arrived "
			    "within %d seconds", cl, body, read_timeout);
			return;
		}
		if (why != NULL && strcmp(why, "closed") == 0) {
			pk_err_set(e, "Content-Length %llu but the connection closed "
			    "after %zu bytes", cl, body);
			return;
		}
	}
	body = c->nread - hend;
	if (why != NULL && strcmp(why, "timeout") == 0)
		pk_err_set(e, "the answer from %s:%s did not end within %d seconds "
		    "(%zu bytes of body received, no Content-Length)", h->host,
		    h->port, read_timeout, body);
	else if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_HTTP)
		pk_err_set(e, "HTTP exchange with %s:%s failed: %s", h->host, h->port,
		    ERR_reason_error_string(err));
	else
		pk_err_set(e, "the server %s:%s closed the connection after %zu "
		    "bytes of the answer", h->host, h->port, c->nread);
}

/* Waits for FD in slices, watching the stop and DEADLINE: 1 ready, 0 the
 * deadline passed, -1 stopped, -2 error. */
static int
wait_io(struct cmp_http *h, short events, double deadline)
{
	int r;

	for (;;) {
		if (stop_asked(h))
			return -1;
		if (deadline > 0 && pk_mono_s() >= deadline)
			return 0;
		r = wait_slice(h->fd, events, deadline);
		if (r > 0)
			return 1;
		if (r < 0)
			return -2;
	}
}

/* Reads the body after the header: Content-Length bytes (or to the end of
 * the connection without one) into *body. 0, or -1 with *why. */
static int
read_body(struct cmp_http *h, struct conn *c, double deadline,
    unsigned char **body, size_t *blen, const char **why)
{
	const char *hd = (const char *)c->head;
	size_t hend = rec_header_end(c), cap, n = 0;
	unsigned long long cl = 0;
	char v[64];
	unsigned char *b;
	int have_cl, r, w;

	*body = NULL;
	*blen = 0;
	*why = NULL;
	if (hend == 0 || rec_header(hd, hend, "Transfer-Encoding", v, sizeof(v)))
		return -1;	/* diagnose() says which */
	have_cl = rec_header(hd, hend, "Content-Length", v, sizeof(v));
	if (have_cl) {
		char *end;

		cl = strtoull(v, &end, 10);
		if (end == v || *end != '\0' || v[0] == '-' ||
		    cl > CMP_MSG_MAX_SIZE)
			return -1;
	}
	cap = have_cl ? (size_t)cl : CMP_MSG_MAX_SIZE + 1;
	b = OPENSSL_malloc(cap > 0 ? cap : 1);
	if (b == NULL)
		return -1;
	while (n < cap) {
		r = BIO_read(h->bio, b + n, (int)(cap - n));
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (!BIO_should_retry(h->bio)) {
			if (!have_cl && c->eof)
				break;		/* HTTP/1.0: the body ends with the
						 * connection */
			*why = "closed";
			goto fail;
		}
		w = wait_io(h, POLLIN, deadline);
		if (w == 0) {
			*why = "timeout";
			goto fail;
		}
		if (w == -1) {
			*why = "stop";
			goto fail;
		}
		if (w < 0) {
			*why = "closed";
			goto fail;
		}
	}
	if (!have_cl && n > CMP_MSG_MAX_SIZE) {
		*why = "large";
		goto fail;
	}
	*body = b;
	*blen = n;
	return 0;
fail:
	OPENSSL_free(b);
	return -1;
}

/* The outer TLV of BODY: 1 with *total when it is a definite-length SEQUENCE
 * header, 0 otherwise. */
static int
der_total(const unsigned char *p, size_t n, size_t *total)
{
	size_t l, i, k;

	if (n < 2 || p[0] != 0x30)
		return 0;
	if (!(p[1] & 0x80)) {
		*total = 2 + p[1];
		return 1;
	}
	k = p[1] & 0x7f;
	if (k == 0 || k > 4 || n < 2 + k)
		return 0;
	for (l = 0, i = 0; i < k; i++)
		l = (l << 8) | p[2 + i];
	*total = 2 + k + l;
	return 1;
}

/* One POST on the current connection: 0 with *body (OPENSSL_free), -1 with
 * *retry set when the server closed a reused connection before answering
 * anything (the request may be sent again on a new connection). */
static int
post_once(struct cmp_http *h, const unsigned char *der, size_t len,
    int read_timeout, unsigned char **body, size_t *blen, int *retry,
    struct pk_err *e)
{
	struct conn *c = conn_of(h->bio);
	BIO *req = NULL;
	double t0 = pk_mono_s(), deadline = read_timeout > 0 ? t0 +
	    read_timeout : 0;
	const char *why = NULL;
	int reused = h->used > 0, rc = -1, rv, w;

	*body = NULL;
	*blen = 0;
	*retry = 0;
	if (conn_begin(c)) {
		/* bytes after the last answer: the connection is not usable */
		pk_err_set(e, "the server %s:%s sent more than its last answer",
		    h->host, h->port);
		*retry = 1;
		return -1;
	}
	if ((req = BIO_new_mem_buf(der, (int)len)) == NULL) {
		pk_err_ossl(e, "cannot send the request");
		goto out;
	}
	ERR_clear_error();
	/* RFC 6712 3.3/3.4: POST, Content-Type application/pkixcmp both ways;
	 * keep_alive 1: ask for a persistent connection, accept a refusal;
	 * expect_asn1 0: OSSL_HTTP stops after the header, we read the body;
	 * timeout 0: our loop keeps the time */
	if (!OSSL_HTTP_set1_request(h->rctx, h->path, NULL, CMP_HTTP_CT, req,
	    CMP_HTTP_CT, 0, CMP_MSG_MAX_SIZE, 0, 1)) {
		pk_err_ossl(e, "cannot prepare the HTTP request");
		goto out;
	}
	for (;;) {
		rv = OSSL_HTTP_REQ_CTX_nbio(h->rctx);
		if (rv != -1)
			break;
		w = wait_io(h, BIO_should_write(h->bio) ? POLLOUT : POLLIN,
		    deadline);
		if (w == 1)
			continue;
		why = w == 0 ? "timeout" : w == -1 ? "stop" : "closed";
		break;
	}
	if (why == NULL && rv == 1)
		rc = read_body(h, c, deadline, body, blen, &why);
	if (rc == 0) {
		h->used++;
		goto out;
	}
	if (why == NULL && (c->eof || c->rerrno != 0))
		why = "closed";
	/* a kept-alive connection the server dropped while idle: the request
	 * never got an answer; a new connection may try again */
	if (reused && c->nread == 0 && why != NULL && strcmp(why, "closed") == 0 &&
	    pk_mono_s() - t0 < 1.0)
		*retry = 1;
	if (why != NULL && strcmp(why, "large") == 0)
		pk_err_set(e, "the answer is larger than %u bytes (refused)",
		    CMP_MSG_MAX_SIZE);
	else if (why != NULL && strcmp(why, "stop") == 0 && c->woff < c->wlen)
		pk_err_set(e, "stopped by the operator while sending the request "
		    "to %s:%s", h->host, h->port);
	else
		diagnose(h, c, why, read_timeout, e);
out:
	ERR_clear_error();
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
	unsigned char *der = NULL, *body = NULL;
	size_t len, blen = 0, total;
	int retry, attempt, rc = -1;
	struct pk_err de;

	*rsp = NULL;
	if (cmp_msg_encode(reqmsg, &der, &len, e) != 0)
		return -1;
	for (attempt = 0; attempt < 2; attempt++) {
		if (h->rctx == NULL && conn_open(h, e) != 0)
			goto out;
		if (post_once(h, der, len, read_timeout, &body, &blen, &retry,
		    e) == 0)
			break;
		conn_close(h);
		if (!retry)
			goto out;
	}
	if (body == NULL)
		goto out;
	/* the server said Connection: close (or HTTP/1.0 without keep-alive),
	 * or sent no Content-Length (the body ended with the connection) */
	if (!OSSL_HTTP_is_alive(h->rctx) || conn_of(h->bio)->eof)
		conn_close(h);
	/* RFC 6712 3.3: the body is one PKIMessage; say exactly how it is not */
	if (blen == 0) {
		pk_err_set(e, "the answer has an empty body (Content-Length 0)");
		goto out;
	}
	if (der_total(body, blen, &total)) {
		if (total < blen) {
			pk_err_set(e, "the answer has %zu bytes after the CMP message "
			    "(%zu bytes)", blen - total, total);
			goto out;
		}
		if (total > blen) {
			pk_err_set(e, "the answer ends inside the CMP message: "
			    "Content-Length %zu, the message is %zu bytes by its DER "
			    "header", blen, total);
			goto out;
		}
	}
	if (cmp_msg_decode_ex(body, blen, CMP_DECODE_DER, rsp, &de) != 0) {
		pk_err_set(e, "the response is not a CMP message: %s", de.msg);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && h->rctx != NULL && body != NULL)
		conn_close(h);		/* the peer misbehaved: no reuse */
	OPENSSL_free(body);
	OPENSSL_free(der);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}
