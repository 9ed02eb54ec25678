/*
 * tu_http: HTTP/1.x server side for test peers (tu_http.h). Enough for a CMP
 * client's POST: request line, header lines, a body of Content-Length bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tu_http.h"

#define TU_HTTP_MAX_HEADER	16384
#define TU_HTTP_MAX_BODY	(4u << 20)

int
tu_http_listen(int port, int *bound)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		close(fd);
		return -1;
	}
	if (bound != NULL)
		*bound = ntohs(a.sin_port);
	return fd;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads what is there (waiting until the deadline): >0 bytes, 0 EOF, -1. */
static ssize_t
read_some(int fd, void *buf, size_t n, long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;
	long left;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		r = read(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

/* Value of header NAME in the header block H (NUL-terminated), copied into V. */
static int
header(const char *h, const char *name, char *v, size_t vn)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(h, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *s = l + nl + 1;
			size_t k;

			while (*s == ' ' || *s == '\t')
				s++;
			k = strcspn(s, "\r\n");
			if (k >= vn)
				k = vn - 1;
			memcpy(v, s, k);
			v[k] = '\0';
			return 1;
		}
	}
	return 0;
}

int
tu_http_read_request(int fd, int timeout_ms, unsigned char **body, size_t *len,
    int *keep_alive)
{
	char *h = malloc(TU_HTTP_MAX_HEADER + 1), v[64], *end = NULL;
	unsigned char *b = NULL;
	size_t hn = 0, cl, have;
	long deadline = now_ms() + timeout_ms;
	ssize_t r;
	int rc = -1, http11;

	*body = NULL;
	*len = 0;
	*keep_alive = 0;
	if (h == NULL)
		return -1;
	/* the header, one byte at a time so that nothing of the body is taken */
	while (end == NULL) {
		if (hn >= TU_HTTP_MAX_HEADER)
			goto out;
		r = read_some(fd, h + hn, 1, deadline);
		if (r == 0 && hn == 0) {
			rc = 0;
			goto out;
		}
		if (r <= 0)
			goto out;
		hn++;
		h[hn] = '\0';
		end = hn >= 4 ? strstr(h + hn - 4, "\r\n\r\n") : NULL;
	}
	if (strncmp(h, "POST ", 5) != 0)
		goto out;
	http11 = strstr(h, " HTTP/1.1\r\n") != NULL;
	*keep_alive = http11;
	if (header(h, "Connection", v, sizeof(v)))
		*keep_alive = strcasecmp(v, "keep-alive") == 0 ? 1 :
		    strcasecmp(v, "close") == 0 ? 0 : *keep_alive;
	if (!header(h, "Content-Length", v, sizeof(v)))
		goto out;
	cl = strtoul(v, NULL, 10);
	if (cl > TU_HTTP_MAX_BODY || (b = malloc(cl + 1)) == NULL)
		goto out;
	for (have = 0; have < cl; have += (size_t)r) {
		r = read_some(fd, b + have, cl - have, deadline);
		if (r <= 0)
			goto out;
	}
	*body = b;
	*len = cl;
	b = NULL;
	rc = 1;
out:
	free(b);
	free(h);
	return rc;
}

int
tu_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len > 0) {
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	default: return "Status";
	}
}

int
tu_http_respond(int fd, int status, const char *ctype, const void *body,
    size_t len, int keep_alive)
{
	char hdr[512];
	unsigned char *msg;
	int n, rc;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %d %s\r\n%s%s%sContent-Length: "
	    "%zu\r\nConnection: %s\r\n\r\n", status, reason(status),
	    ctype != NULL ? "Content-Type: " : "", ctype != NULL ? ctype : "",
	    ctype != NULL ? "\r\n" : "", len, keep_alive ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof(hdr) || (msg = malloc((size_t)n + len)) ==
	    NULL)
		return -1;
	memcpy(msg, hdr, (size_t)n);
	if (len > 0)
		memcpy(msg + n, body, len);
	rc = tu_write_all(fd, msg, (size_t)n + len);
	free(msg);
	return rc;
}
