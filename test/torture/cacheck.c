/*
 * cacheck: the CA-side invariants of the torture suite (test/torture), checked
 * on cmpca's database after cmpca was killed and restarted, against the
 * certificates the clients received (cmpload --cert-log). It reads the database
 * with SQL and the certificates with OpenSSL, not through the ca/ module.
 *
 *   cacheck [--rows] DB CERTLOG
 *
 * Problems (each printed as "cacheck: PROBLEM: ..."):
 *   - PRAGMA integrity_check is not "ok";
 *   - two certificates received by clients with the same serial (a serial
 *     issued twice);
 *   - a certificate a client received (confirmed or not) that the database
 *     does not hold, or holds with other bytes;
 *   - with --rows (every row is decoded: slower): a row of certs whose DER
 *     does not parse, or whose certificate's serial is not the row's serial,
 *     or a serial of certs missing from serials.
 * Last line: "cacheck: integrity=ok certs=N received=N confirmed=N
 * unconfirmed=N problems=N". Exit status: 0 no problem, 1 problems, 2 usage or
 * an unreadable input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sqlite3.h>

static int problems;

static void
problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
problem(const char *fmt, ...)
{
	va_list ap;

	fputs("cacheck: PROBLEM: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	problems++;
}

/* Upper-case hex of X's serial, the database's form (`openssl x509 -serial`). */
static char *
serial_hex(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn != NULL ? BN_bn2hex(bn) : NULL;
	char *r = strdup(h != NULL ? h : "?");

	OPENSSL_free(h);
	BN_free(bn);
	return r;
}

struct rcv {	/* a certificate a client received */
	char *serial;
	X509 *x;
	int confirmed;
};

static int
by_serial(const void *a, const void *b)
{
	return strcmp(((const struct rcv *)a)->serial, ((const struct rcv *)b)->serial);
}

/* Every row of certs: its DER parses, its certificate's serial is the row's,
 * the serial is in serials. */
static int
check_rows(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rows = 0;

	if (sqlite3_prepare_v2(db, "SELECT c.serial, c.der, s.serial FROM certs c "
	    "LEFT JOIN serials s ON s.serial = c.serial", -1, &st, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "cacheck: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *serial = (const char *)sqlite3_column_text(st, 0);
		const unsigned char *der = sqlite3_column_blob(st, 1);
		const unsigned char *p = der;
		int len = sqlite3_column_bytes(st, 1);
		X509 *x = der != NULL ? d2i_X509(NULL, &p, len) : NULL;
		char *hex;

		rows++;
		if (serial == NULL)
			serial = "(null)";
		if (x == NULL || p != der + len) {
			problem("the certificate of serial %s in the database does not "
			    "parse", serial);
			X509_free(x);
			ERR_clear_error();
			continue;
		}
		hex = serial_hex(x);
		if (strcmp(hex, serial) != 0)
			problem("the row of serial %s holds the certificate of serial %s",
			    serial, hex);
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			problem("serial %s is in certs but not in serials", serial);
		free(hex);
		X509_free(x);
	}
	sqlite3_finalize(st);
	return rows;
}

/* Each received certificate is the database's certificate of its serial. */
static void
check_received(sqlite3 *db, const struct rcv *v, size_t n)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT der FROM certs WHERE serial = ?", -1, &st,
	    NULL) != SQLITE_OK) {
		problem("cannot look certificates up: %s", sqlite3_errmsg(db));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *der, *p;
		X509 *x = NULL;
		int len;

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, v[i].serial, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW) {
			problem("the %s certificate of serial %s that a client received "
			    "is not in the database", v[i].confirmed ? "confirmed" :
			    "unconfirmed", v[i].serial);
			continue;
		}
		der = p = sqlite3_column_blob(st, 0);
		len = sqlite3_column_bytes(st, 0);
		if (der != NULL)
			x = d2i_X509(NULL, &p, len);
		if (x == NULL || X509_cmp(x, v[i].x) != 0)
			problem("the certificate of serial %s a client received differs "
			    "from the database's", v[i].serial);
		X509_free(x);
		ERR_clear_error();
	}
	sqlite3_finalize(st);
}

int
main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct rcv *v = NULL;
	size_t n = 0, cap = 0, i;
	int certs = -1, confirmed = 0, rc = 2, all_rows = 0, a = 1;
	char line[512], *integ = NULL;
	FILE *f;

	if (argc > 1 && strcmp(argv[1], "--rows") == 0) {
		all_rows = 1;
		a++;
	}
	if (argc - a != 2) {
		fprintf(stderr, "usage: cacheck [--rows] DB CERTLOG\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[a], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "cacheck: cannot open %s: %s\n", argv[a],
		    sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	/* the whole file, every page and index */
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "cacheck: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (integ == NULL)
			integ = strdup(t != NULL ? t : "?");
		if (t == NULL || strcmp(t, "ok") != 0)
			problem("integrity_check: %s", t != NULL ? t : "(null)");
	}
	sqlite3_finalize(st);
	st = NULL;

	/* the certificates received by the clients */
	if ((f = fopen(argv[a + 1], "r")) == NULL) {
		fprintf(stderr, "cacheck: cannot open %s\n", argv[a + 1]);
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		int conf;
		X509 *x;

		if (strncmp(line, "cmpload: ", 9) != 0)
			continue;
		conf = strstr(line, " confirmed ") != NULL;
		if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
			problem("the certificate after \"%.*s\" in %s does not parse",
			    (int)strcspn(line, "\n"), line, argv[a + 1]);
			ERR_clear_error();
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				abort();
		}
		v[n].serial = serial_hex(x);
		v[n].x = x;
		v[n].confirmed = conf;
		confirmed += conf;
		n++;
	}
	fclose(f);
	qsort(v, n, sizeof(*v), by_serial);
	for (i = 1; i < n; i++)
		if (strcmp(v[i].serial, v[i - 1].serial) == 0)
			problem("serial %s was received twice (%s)", v[i].serial,
			    X509_cmp(v[i].x, v[i - 1].x) == 0 ? "the same certificate" :
			    "two different certificates");
	check_received(db, v, n);
	if (all_rows && (certs = check_rows(db)) < 0)
		goto out;
	if (certs < 0) {
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM certs", -1, &st,
		    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			certs = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		st = NULL;
	}
	printf("cacheck: integrity=%s certs=%d received=%zu confirmed=%d "
	    "unconfirmed=%zu problems=%d\n", integ != NULL ? integ : "(no answer)",
	    certs, n, confirmed, n - (size_t)confirmed, problems);
	rc = problems ? 1 : 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	for (i = 0; i < n; i++) {
		free(v[i].serial);
		X509_free(v[i].x);
	}
	free(v);
	free(integ);
	return rc;
}
