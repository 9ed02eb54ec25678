/*
 * util/text: the one text form of names and times, and the clocks, shared by
 * every screen of pkish, cmpca and cmpdump and by the CA database.
 *
 * Names: "C=CN, O=Example Networks, CN=router.example.com" (most significant RDN
 * first, ", " between RDNs, "+" inside a multi-valued RDN, short attribute names,
 * RFC 2253 escaping of special characters, UTF-8 kept). Times: "YYYY-MM-DD
 * HH:MM:SS UTC".
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "util.h"

#define NAME_FLAGS (XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | \
	XN_FLAG_DUMP_UNKNOWN_FIELDS | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB))

void
pk_name_sbuf(const struct X509_name_st *n, struct sbuf *out)
{
	BIO *b;
	char *d;
	long len;

	if (n == NULL)
		return;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, NAME_FLAGS) >= 0 &&
	    (len = BIO_get_mem_data(b, &d)) > 0)
		sbuf_add(out, d, (size_t)len);
	BIO_free(b);
}

char *
pk_name_text(const struct X509_name_st *n, char *buf, size_t size)
{
	struct sbuf b = SBUF_INIT;

	pk_name_sbuf(n, &b);
	snprintf(buf, size, "%s", sbuf_str(&b));
	sbuf_free(&b);
	return buf;
}

char *
pk_time_text(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size,
	    "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "-");
	return buf;
}

int
pk_asn1_time(const struct asn1_string_st *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

char *
pk_asn1_time_text(const struct asn1_string_st *t, char *buf, size_t size)
{
	time_t v;

	if (pk_asn1_time(t, &v) != 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	return pk_time_text(v, buf, size);
}

int64_t
pk_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
pk_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t
pk_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
