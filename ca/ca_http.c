/*
 * ca_http: the CA responder's HTTP front (RFC 6712), on libmicrohttpd.
 *
 * Contract (ca.h): listens on "ADDR:PORT" / "[V6]:PORT" (port 0 picks a
 * free one; we bind the socket ourselves so the port is known), serves with a pool
 * of THREADS worker threads (each runs the handler for its connections), keep-alive
 * allowed, an idle timeout per connection. Against slow or flooding clients
 * (issue 11: 520 half-open connections made cmpca unreachable, 500 unfinished
 * bodies took 190 MB): at most MAX_PER_ADDRESS connections from one client
 * address and CONN_LIMIT in all, CONN_MEMORY bytes of header buffer per
 * connection, a body must arrive whole within twice the idle timeout of its
 * headers, and the bodies being received share a budget of BODY_BUDGET bytes
 * (past it the connection is dropped, or 503 when Content-Length says so up
 * front). Requests are refused, in this order:
 *   - a path the route function does not serve  404: paths match exactly (the
 *     profile's paths; case and a trailing '/' count; the query is not part of
 *     the path)
 *   - any method but POST                       405 (Allow: POST)  RFC 6712 3.3
 *   - Content-Type other than application/pkixcmp  415            RFC 6712 3.4
 *   - a body longer than the cap                413 when Content-Length says so
 *     up front; a chunked body that grows past the cap has its connection closed
 *   - an empty body                             400
 *   - otherwise the handler runs with the path's route and the client's
 *     address (struct ca_req): 0 -> 200 with its DER as application/pkixcmp,
 *     -1 -> 500.
 * With tls_cert/tls_key the server speaks https (TLS protects the transport;
 * CMP's own message protection is unchanged): TLS 1.2 or 1.3 only
 * (libmicrohttpd's GnuTLS, priority string TLS_PRIORITIES), the certificate
 * file's certificates sent as the chain. The files are read and checked (PEM, the key matches the
 * certificate) before anything listens.
 * ca_http_stop() stops accepting, lets running handlers finish, closes everything.
 * This module never prints (no MHD error log).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"

#define PKIXCMP		"application/pkixcmp"
#define CONN_LIMIT	512
/* GnuTLS priorities: its defaults, protocol versions 1.2 and 1.3 only */
#define TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define CONN_MEMORY	(32 * 1024)		/* header buffer per connection */
#define BODY_BUDGET	((size_t)32 * 1024 * 1024) /* all bodies being received */

struct ca_http {
	struct MHD_Daemon *d;
	ca_http_route_fn route;
	ca_http_handler_fn fn;
	void *arg;
	size_t max;
	int port;
	char *url;
	char *tls_cert_pem, *tls_key_pem;	/* https: what MHD serves */
	double deadline;		/* seconds a body may take */
	pthread_mutex_t mu;
	size_t buffered;		/* bytes of all bodies being received */
};

struct req {
	struct ca_http *h;
	const void *route;		/* what serves the path */
	char peer[CA_ADDR_MAX];		/* the client's address, "" unknown */
	double start;			/* pk_mono_s when the headers were in */
	unsigned char *buf;
	size_t len, cap;
};

/* Takes N more bytes of the body budget: 0, or -1 when it is spent. */
static int
budget_take(struct ca_http *h, size_t n)
{
	int ok;

	pthread_mutex_lock(&h->mu);
	ok = n <= BODY_BUDGET - h->buffered;
	if (ok)
		h->buffered += n;
	pthread_mutex_unlock(&h->mu);
	return ok ? 0 : -1;
}

/* 1 when N more bytes would fit the budget now. */
static int
budget_fits(struct ca_http *h, unsigned long long n)
{
	int ok;

	pthread_mutex_lock(&h->mu);
	ok = n <= BODY_BUDGET - h->buffered;
	pthread_mutex_unlock(&h->mu);
	return ok;
}

static void
budget_give(struct ca_http *h, size_t n)
{
	pthread_mutex_lock(&h->mu);
	h->buffered -= n;
	pthread_mutex_unlock(&h->mu);
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The client's address of C, numeric, into BUF ("" when unknown): an IPv4
 * client on an IPv6 socket (::ffff:a.b.c.d) as IPv4, so one client is one
 * address whatever the socket. */
static void
peer_text(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	const struct sockaddr_in6 *s6;
	socklen_t sl;

	buf[0] = '\0';
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
			    (socklen_t)size);
			return;
		}
		sl = sizeof(struct sockaddr_in6);
	} else if (sa->sa_family == AF_INET) {
		sl = sizeof(struct sockaddr_in);
	} else {
		return;
	}
	if (getnameinfo(sa, sl, buf, (socklen_t)size, NULL, 0,
	    NI_NUMERICHOST) != 0)
		buf[0] = '\0';
}

/* RFC 6712 3.4: the media type, ignoring case, blanks and parameters. */
static int
is_pkixcmp(const char *ct)
{
	size_t n = strlen(PKIXCMP);

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (!pk_strncaseeq(ct, PKIXCMP, n))
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct ca_http *h = cls;
	struct req *rq = *con_cls;
	struct ca_req creq;
	struct MHD_Response *r;
	unsigned char *rsp = NULL;
	size_t rsp_len = 0;
	const char *cl;
	const void *route = NULL;
	enum MHD_Result ret;

	(void)version;
	if (rq == NULL) {
		/* First call: headers only. Refuse early what we will never take. */
		if (h->route != NULL && (route = h->route(h->arg, url)) == NULL)
			return reply_text(c, MHD_HTTP_NOT_FOUND,
			    "no CMP service at this path\n");
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "RFC 6712 3.3: CMP messages are sent with POST\n");
		if (!is_pkixcmp(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE)))
			return reply_text(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			    "RFC 6712 3.4: Content-Type must be " PKIXCMP "\n");
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > h->max)
			return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request too large\n");
		if (cl != NULL && !budget_fits(h, strtoull(cl, NULL, 10)))
			return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many requests being received; try again\n");
		rq = xcalloc(1, sizeof(*rq));
		rq->h = h;
		rq->start = pk_mono_s();
		rq->route = route;
		peer_text(c, rq->peer, sizeof(rq->peer));
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (*upload_size > h->max - rq->len)
			return MHD_NO;	/* chunked past the cap: drop the connection */
		/* a body trickling in past the deadline, or one the budget of
		 * all bodies cannot hold: drop the connection */
		if (pk_mono_s() - rq->start > h->deadline)
			return MHD_NO;
		if (rq->len + *upload_size > rq->cap) {
			/* doubling (at most the cap): few copies of a body */
			size_t cap = rq->cap < 4096 ? 4096 : rq->cap;

			while (cap < rq->len + *upload_size)
				cap *= 2;
			if (cap > h->max)
				cap = h->max;
			if (budget_take(h, cap - rq->cap) != 0)
				return MHD_NO;
			rq->cap = cap;
			rq->buf = xrealloc(rq->buf, rq->cap);
		}
		memcpy(rq->buf + rq->len, upload, *upload_size);
		rq->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->len == 0)
		return reply_text(c, MHD_HTTP_BAD_REQUEST, "empty request\n");
	creq.route = rq->route;
	creq.peer = rq->peer;
	creq.der = rq->buf;
	creq.len = rq->len;
	if (h->fn == NULL || h->fn(h->arg, &creq, &rsp, &rsp_len) != 0 ||
	    rsp == NULL) {
		free(rsp);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "the CA could not process the request\n");
	}
	r = MHD_create_response_from_buffer(rsp_len, rsp, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(rsp);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PKIXCMP);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode why)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (rq != NULL) {
		budget_give(rq->h, rq->cap);
		free(rq->buf);
		free(rq);
		*con_cls = NULL;
	}
}

/* Splits "HOST:PORT" / "[HOST]:PORT" and binds a listening socket. */
static int
listen_on(const char *spec, int *fdp, int *v6, char **url, int *port,
    struct pk_err *e)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char *host = NULL, *p, numhost[NI_MAXHOST], numport[NI_MAXSERV];
	const char *portstr;
	int fd = -1, one = 1, g, rc = -1;

	*fdp = -1;
	if (spec == NULL || *spec == '\0')
		spec = CA_DEFAULT_LISTEN;
	if (spec[0] == '[') {
		if ((p = strchr(spec, ']')) == NULL || p[1] != ':')
			goto bad;
		host = xstrndup(spec + 1, (size_t)(p - spec - 1));
		portstr = p + 2;
	} else {
		if ((p = strrchr(spec, ':')) == NULL || strchr(spec, ':') != p)
			goto bad;
		host = xstrndup(spec, (size_t)(p - spec));
		portstr = p + 1;
	}
	if (*portstr == '\0' || strspn(portstr, "0123456789") != strlen(portstr) ||
	    strlen(portstr) > 5 || atoi(portstr) > 65535)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((g = getaddrinfo(*host ? host : NULL, portstr, &hints, &res)) != 0) {
		pk_err_set(e, "listen address %s: %s", spec, gai_strerror(g));
		goto out;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		pk_err_set(e, "cannot listen on %s: %s", spec, strerror(errno));
		goto out;
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, numhost, sizeof(numhost), numport,
	    sizeof(numport), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		pk_err_set(e, "cannot name the address of %s", spec);
		goto out;
	}
	*v6 = ss.ss_family == AF_INET6;
	*port = atoi(numport);
	if (asprintf(url, *v6 ? "http://[%s]:%s/" : "http://%s:%s/", numhost,
	    numport) < 0) {
		*url = NULL;
		pk_err_set(e, "out of memory");
		goto out;
	}
	*fdp = fd;
	fd = -1;
	rc = 0;
	goto out;
bad:
	pk_err_set(e, "invalid listen address '%s' (expected ADDR:PORT or [ADDR]:PORT)",
	    spec);
out:
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	return rc;
}

/* The PEM text of BIO (a memory BIO), as a new string. */
static char *
bio_text(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);

	return n > 0 ? xstrndup(p, (size_t)n) : NULL;
}

/* Reads the https certificate file (the certificate, then its chain) and key
 * file, checks them, and keeps them as PEM for libmicrohttpd. */
static int
tls_load(struct ca_http *h, const char *certf, const char *keyf,
    struct pk_err *e)
{
	BIO *in = NULL, *cb = NULL, *kb = NULL;
	X509 *x = NULL, *first = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1, n = 0;

	if ((in = BIO_new_file(certf, "r")) == NULL) {
		pk_err_ossl(e, "tls-cert %s: cannot read", certf);
		goto out;
	}
	if ((cb = BIO_new(BIO_s_mem())) == NULL || (kb = BIO_new(BIO_s_mem())) ==
	    NULL) {
		pk_err_ossl(e, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (!PEM_write_bio_X509(cb, x)) {
			pk_err_ossl(e, "tls-cert %s", certf);
			goto out;
		}
		if (first == NULL)
			first = x;
		else
			X509_free(x);
		x = NULL;
		n++;
	}
	ERR_clear_error();
	if (n == 0) {
		pk_err_set(e, "tls-cert %s: no PEM certificate in it", certf);
		goto out;
	}
	BIO_free(in);
	if ((in = BIO_new_file(keyf, "r")) == NULL ||
	    (k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)) == NULL) {
		pk_err_ossl(e, "tls-key %s: cannot read a PEM private key", keyf);
		goto out;
	}
	if (!X509_check_private_key(first, k)) {
		ERR_clear_error();
		pk_err_set(e, "tls-key %s does not belong to the certificate of "
		    "tls-cert %s", keyf, certf);
		goto out;
	}
	if (!PEM_write_bio_PKCS8PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL)) {
		pk_err_ossl(e, "tls-key %s", keyf);
		goto out;
	}
	h->tls_cert_pem = bio_text(cb);
	h->tls_key_pem = bio_text(kb);
	rc = h->tls_cert_pem != NULL && h->tls_key_pem != NULL ? 0 :
	    pk_err_set(e, "tls-cert/tls-key: empty");
out:
	BIO_free(in);
	BIO_free(cb);
	BIO_free_all(kb);
	X509_free(first);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* Wipes and frees the key's PEM. */
static void
tls_clear(struct ca_http *h)
{
	if (h->tls_key_pem != NULL)
		OPENSSL_cleanse(h->tls_key_pem, strlen(h->tls_key_pem));
	free(h->tls_key_pem);
	free(h->tls_cert_pem);
	h->tls_key_pem = h->tls_cert_pem = NULL;
}

int
ca_http_check_tls(const char *tls_cert, const char *tls_key, struct pk_err *e)
{
	struct ca_http h;
	int rc;

	memset(&h, 0, sizeof(h));
	rc = tls_load(&h, tls_cert, tls_key, e);
	tls_clear(&h);
	return rc;
}

int
ca_http_start(struct ca_http **out, const struct ca_http_opts *o,
    struct pk_err *e)
{
	struct ca_http *h = xcalloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	int fd = -1, v6 = 0, threads = o->threads, timeout = o->timeout;
	int per_address = o->max_per_address;

	*out = NULL;
	h->route = o->route;
	h->fn = o->handler;
	h->arg = o->arg;
	h->max = o->max_request > 0 ? o->max_request : CA_MAX_REQUEST;
	if (threads < 1)
		threads = 1;
	if (timeout < 1)
		timeout = CA_DEFAULT_TIMEOUT;
	if (per_address < 1)
		per_address = CA_DEFAULT_PER_ADDRESS;
	h->deadline = 2.0 * timeout;
	pthread_mutex_init(&h->mu, NULL);
	if (o->tls_cert != NULL || o->tls_key != NULL) {
		if (o->tls_cert == NULL || o->tls_key == NULL) {
			pk_err_set(e, "tls-cert and tls-key go together");
			goto fail;
		}
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			pk_err_set(e, "this libmicrohttpd has no TLS support");
			goto fail;
		}
		if (tls_load(h, o->tls_cert, o->tls_key, e) != 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	if (listen_on(o->listen, &fd, &v6, &h->url, &h->port, e) != 0)
		goto fail;
	if (h->tls_cert_pem != NULL) {
		/* "http://..." -> "https://..." */
		char *u = NULL;

		if (asprintf(&u, "https%s", h->url + 4) < 0) {
			pk_err_set(e, "out of memory");
			goto fail;
		}
		free(h->url);
		h->url = u;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	{
		/* https: the certificate, key and protocol versions */
		struct MHD_OptionItem tls[] = {
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert_pem },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key_pem },
			{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
			{ MHD_OPTION_END, 0, NULL },
		};

		h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)per_address,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		    MHD_OPTION_NOTIFY_COMPLETED, on_done, (void *)NULL,
		    MHD_OPTION_ARRAY, h->tls_cert_pem != NULL ? tls : &tls[3],
		    MHD_OPTION_END);
	}
	if (h->d == NULL) {
		pk_err_set(e, "cannot start the HTTP server on %s", h->url);
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	tls_clear(h);
	if (h->deadline > 0)
		pthread_mutex_destroy(&h->mu);
	free(h->url);
	free(h);
	return -1;
}

int
ca_http_port(const struct ca_http *h)
{
	return h->port;
}

const char *
ca_http_url(const struct ca_http *h)
{
	return h->url;
}

void
ca_http_stop(struct ca_http *h)
{
	if (h == NULL)
		return;
	/* Joins the worker threads after their running handlers return and closes
	 * the listening socket and every connection. */
	MHD_stop_daemon(h->d);
	tls_clear(h);
	pthread_mutex_destroy(&h->mu);
	free(h->url);
	free(h);
}
