/*
 * tu_http: the server side of HTTP/1.x as far as test peers need it (the hostile
 * CA of check_cmp_client, the fault-injecting proxy faultsrv): a loopback
 * listener, reading one POST with a Content-Length body, writing an answer in one
 * write. Test-only code; the product's client side is cmp/cmp_http.c and its
 * server side libmicrohttpd.
 */
#ifndef PKISH_TU_HTTP_H
#define PKISH_TU_HTTP_H

#include <stddef.h>

/* A listening socket on 127.0.0.1 (PORT 0: a free one); *port gets the port.
 * -1 on failure. */
int tu_http_listen(int port, int *bound);
/* Reads one request from FD within TIMEOUT_MS: 1 with *body (malloc'ed, *len
 * bytes) and *keep_alive (HTTP/1.1 without "Connection: close", or
 * "Connection: keep-alive"); 0 when the peer closed the connection before a
 * request; -1 on a malformed request, a timeout or an error. */
int tu_http_read_request(int fd, int timeout_ms, unsigned char **body,
    size_t *len, int *keep_alive);
/* Writes all of BUF (retrying short writes); 0 or -1. */
int tu_write_all(int fd, const void *buf, size_t len);
/* "HTTP/1.0 STATUS REASON" with Content-Type CTYPE (NULL: none), Content-Length
 * LEN and Connection keep-alive/close, then BODY: one write. 0 or -1. */
int tu_http_respond(int fd, int status, const char *ctype, const void *body,
    size_t len, int keep_alive);

#endif
