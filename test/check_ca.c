/*
 * Check suite for the CA responder core (cmp/ca_db.c, ca_issue.c, ca_http.c):
 * the database (serials, persistence, revocation, transactions, threads), CA
 * material and issuance (verified with the openssl program), the duration parser,
 * and the HTTP front (a plain socket client against ca_http on a loopback port).
 * Keys and certificates are made at test time in a temp dir.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../ca/ca_int.h"
#include "../storage/storage.h"
#include "testutil.h"

static char *dir;

static void
setup(void)
{
	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

static char *
path(const char *name)
{
	return storage_path(dir, name);
}

/* Output of a shell command (trailing newline removed); free() it. */
static char *
sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
sh_out(const char *fmt, ...)
{
	va_list ap;
	char *cmd, *out = NULL;
	size_t n;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	tu_run(cmd, &out);
	free(cmd);
	ck_assert_ptr_nonnull(out);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
}

static struct ca_db *
db_open_here(void)
{
	struct ca_db *db;
	struct pk_err e;
	char *p = path("ca.db");

	pk_err_clear(&e);
	ck_assert_msg(ca_db_open(&db, p, &e) == 0, "%s", e.msg);
	free(p);
	return db;
}

/* A self-signed certificate made by the openssl program, loaded. */
static X509 *
openssl_cert(const char *name, const char *subj)
{
	STACK_OF(X509) *sk;
	struct pk_err e;
	X509 *x;

	ck_assert_int_eq(tu_sh("cd '%s' && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.crt "
	    "-subj '%s' -days 30 2>/dev/null", dir, name, name, subj), 0);
	char *p = path(name);
	char *crt;

	ck_assert_int_ge(asprintf(&crt, "%s.crt", p), 0);
	ck_assert_msg(ca_load_certs(crt, &sk, &e) == 0, "%s", e.msg);
	x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	free(crt);
	free(p);
	return x;
}

/* ---------------------------------------------------------------- db */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(db_serials_unique_positive)
{
	enum { N = 500 };
	struct ca_db *db = db_open_here();
	char **hex = xcalloc(N, sizeof(*hex)), *q;
	struct pk_err e;
	ASN1_INTEGER *s;
	int i;

	for (i = 0; i < N; i++) {
		ck_assert_msg(ca_db_new_serial(db, &s, &e) == 0, "%s", e.msg);
		/* RFC 5280 4.1.2.2: positive; we promise 72 bits, so >= 64 */
		ck_assert_int_eq(ASN1_INTEGER_get_int64(&(int64_t){0}, s), 0);
		hex[i] = ca_serial_hex(s);
		ck_assert_uint_eq(strlen(hex[i]), 18);
		ck_assert(hex[i][0] >= '4' && hex[i][0] <= '7');
		ASN1_INTEGER_free(s);
	}
	qsort(hex, N, sizeof(*hex), cmp_str);
	for (i = 1; i < N; i++)
		ck_assert_str_ne(hex[i - 1], hex[i]);
	/* each is taken now */
	ck_assert_int_eq(ca_db_reserve_serial(db, hex[7], &e), 1);
	ck_assert_int_eq(ca_db_reserve_serial(db, "0A1B", &e), 0);
	ck_assert_int_eq(ca_db_reserve_serial(db, "a1b", &e), 1);	/* same number */
	ck_assert_int_eq(ca_db_reserve_serial(db, "xyz", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "invalid serial"));
	ca_db_close(db);
	/* queryable with the sqlite3 program */
	q = sh_out("sqlite3 '%s/ca.db' 'SELECT count(*) FROM serials'", dir);
	ck_assert_str_eq(q, "501");
	free(q);
	for (i = 0; i < N; i++)
		free(hex[i]);
	free(hex);
}
END_TEST

START_TEST(db_schema_wal_and_newer_refused)
{
	struct ca_db *db = db_open_here();
	struct pk_err e;
	char *q, *p;

	ck_assert_int_eq(ca_db_schema(db), CA_DB_SCHEMA);
	ca_db_close(db);
	q = sh_out("sqlite3 '%s/ca.db' 'PRAGMA journal_mode; PRAGMA user_version'", dir);
	ck_assert_str_eq(q, "wal\n3");
	free(q);
	ck_assert_int_eq(tu_sh("sqlite3 '%s/ca.db' 'PRAGMA user_version = 99'", dir), 0);
	p = path("ca.db");
	ck_assert_int_eq(ca_db_open(&db, p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "newer"));
	free(p);
}
END_TEST

/* A database of schema 1 (before profiles) is upgraded in place; its
 * transactions belong to the default profile, and have no owner (schema 3). */
START_TEST(db_migrates_schema_1)
{
	struct ca_db *db = db_open_here();
	struct ca_txn t;
	struct pk_err e;
	char *q;

	ca_db_close(db);
	ck_assert_int_eq(tu_sh("sqlite3 '%s/ca.db' 'DROP INDEX transactions_sweep; "
	    "ALTER TABLE transactions DROP COLUMN owner; ALTER TABLE transactions "
	    "DROP COLUMN profile; PRAGMA user_version = 1; INSERT INTO "
	    "transactions(tid, state, body_type, created_at, updated_at) VALUES "
	    "(\"ab01\", \"issued\", 0, 1, 1)'", dir), 0);
	db = db_open_here();
	ck_assert_int_eq(ca_db_schema(db), 3);
	ck_assert_int_eq(ca_db_txn_get(db, "ab01", &t, &e), 0);
	ck_assert_str_eq(t.profile, CA_DEFAULT_PROFILE);
	ck_assert_int_eq(t.state, CA_TXN_ISSUED);
	ck_assert_ptr_null(t.owner);
	ca_txn_clear(&t);
	ca_db_close(db);
	q = sh_out("sqlite3 '%s/ca.db' 'SELECT count(*) FROM pragma_table_info("
	    "\"transactions\") WHERE name IN (\"profile\", \"owner\"); SELECT "
	    "count(*) FROM sqlite_master WHERE name = \"transactions_sweep\"'", dir);
	ck_assert_str_eq(q, "2\n1");
	free(q);
}
END_TEST

START_TEST(db_cert_persists_across_reopen)
{
	struct ca_db *db = db_open_here();
	X509 *x = openssl_cert("a", "/CN=persist me/O=T");
	struct ca_cert_rec r;
	struct pk_err e;
	char *hex = ca_serial_hex(X509_get0_serialNumber(x)), *q;
	unsigned char *der = NULL;
	int derlen = i2d_X509(x, &der);
	long n;

	ck_assert_msg(ca_db_add_cert(db, x, "00aa11", &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ca_db_add_cert(db, x, NULL, &e), -1);	/* same serial */
	ck_assert_ptr_nonnull(strstr(e.msg, "already"));
	ca_db_close(db);

	db = db_open_here();
	ck_assert_int_eq(ca_db_find_cert(db, hex, &r, &e), 0);
	ck_assert_str_eq(r.serial, hex);
	ck_assert_str_eq(r.subject, "CN=persist me, O=T");
	ck_assert_str_eq(r.tid, "00aa11");
	ck_assert_int_eq(r.der_len, derlen);
	ck_assert_mem_eq(r.der, der, (size_t)derlen);
	ck_assert_int_eq(r.revoked, 0);
	ck_assert_int_eq(r.not_after - r.not_before, 30 * 86400);
	X509 *back = ca_cert_rec_get1_x509(&r);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(X509_cmp(back, x), 0);
	X509_free(back);
	ca_cert_rec_clear(&r);
	/* lower case and leading zeros find it too */
	char *lc = xstrdup(hex), *z;
	for (char *p = lc; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	ck_assert_int_ge(asprintf(&z, "00%s", lc), 0);
	ck_assert_int_eq(ca_db_find_cert(db, z, &r, &e), 0);
	ca_cert_rec_clear(&r);
	ck_assert_int_eq(ca_db_find_cert(db, "1234", &r, &e), 1);
	ck_assert_int_eq(ca_db_reserve_serial(db, hex, &e), 1);
	ck_assert_int_eq(ca_db_count_certs(db, &n, &e), 0);
	ck_assert_int_eq(n, 1);
	ca_db_close(db);
	q = sh_out("sqlite3 '%s/ca.db' \"SELECT subject, tid FROM issued WHERE "
	    "serial = '%s'\"", dir, hex);
	ck_assert_str_eq(q, "CN=persist me, O=T|00aa11");
	free(q);
	free(lc);
	free(z);
	free(hex);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

START_TEST(db_find_by_issuer_and_serial)
{
	struct ca_db *db = db_open_here();
	X509 *x = openssl_cert("a", "/CN=issuer A"), *y = openssl_cert("b", "/CN=other");
	struct ca_cert_rec r;
	struct pk_err e;

	ck_assert_int_eq(ca_db_add_cert(db, x, NULL, &e), 0);
	ck_assert_int_eq(ca_db_find_cert_id(db, X509_get_issuer_name(x),
	    X509_get0_serialNumber(x), &r, &e), 0);
	ck_assert_str_eq(r.issuer, "CN=issuer A");
	ca_cert_rec_clear(&r);
	/* right serial, wrong issuer: RFC 4211 CertId names both */
	ck_assert_int_eq(ca_db_find_cert_id(db, X509_get_issuer_name(y),
	    X509_get0_serialNumber(x), &r, &e), 1);
	ck_assert_ptr_null(r.der);
	ck_assert_int_eq(ca_db_find_cert_id(db, X509_get_issuer_name(x),
	    X509_get0_serialNumber(y), &r, &e), 1);
	X509_free(x);
	X509_free(y);
	ca_db_close(db);
}
END_TEST

/* The subject/issuer columns hold the one name style of both programs; they are
 * for people reading the database. A row written by an older cmpca (RFC 2253
 * order) is still found by CertId: matching is by serial and by X509_NAME_cmp
 * against the recorded DER, never by that text. */
START_TEST(db_name_text_style_and_old_rows)
{
	struct ca_db *db = db_open_here();
	X509 *x = openssl_cert("a", "/O=Legacy Org/CN=legacy");
	char *hex = ca_serial_hex(X509_get0_serialNumber(x)), *q;
	struct ca_cert_rec r;
	struct pk_err e;

	ck_assert_int_eq(ca_db_add_cert(db, x, NULL, &e), 0);
	ck_assert_int_eq(ca_db_find_cert(db, hex, &r, &e), 0);
	ck_assert_str_eq(r.subject, "O=Legacy Org, CN=legacy");
	ck_assert_str_eq(r.issuer, "O=Legacy Org, CN=legacy");
	ca_cert_rec_clear(&r);
	/* what an older cmpca wrote */
	q = sh_out("sqlite3 '%s/ca.db' \"UPDATE certs SET subject = 'CN=legacy,"
	    "O=Legacy Org', issuer = 'CN=legacy,O=Legacy Org' WHERE serial = "
	    "'%s'; SELECT changes()\"", dir, hex);
	ck_assert_str_eq(q, "1");
	free(q);
	ck_assert_int_eq(ca_db_find_cert_id(db, X509_get_issuer_name(x),
	    X509_get0_serialNumber(x), &r, &e), 0);
	ck_assert_str_eq(r.issuer, "CN=legacy,O=Legacy Org");	/* kept as is */
	ca_cert_rec_clear(&r);
	free(hex);
	X509_free(x);
	ca_db_close(db);
}
END_TEST

START_TEST(db_revocation)
{
	struct ca_db *db = db_open_here();
	X509 *x = openssl_cert("a", "/CN=revoke me");
	char *hex = ca_serial_hex(X509_get0_serialNumber(x)), *q;
	struct ca_cert_rec r;
	struct pk_err e;

	ck_assert_int_eq(ca_db_add_cert(db, x, NULL, &e), 0);
	ck_assert_int_eq(ca_db_is_revoked(db, hex, &e), 0);
	ck_assert_int_eq(ca_db_revoke(db, hex, 1, &e), 0);	/* keyCompromise */
	ck_assert_int_eq(ca_db_is_revoked(db, hex, &e), 1);
	ck_assert_int_eq(ca_db_revoke(db, hex, 4, &e), 2);	/* already */
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_REMOVE, &e), 3);	/* final */
	ck_assert_int_eq(ca_db_revoke(db, "7777", 0, &e), 1);	/* unknown */
	ck_assert_int_eq(ca_db_is_revoked(db, "7777", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no certificate"));
	ca_db_close(db);
	/* persistent */
	db = db_open_here();
	ck_assert_int_eq(ca_db_find_cert(db, hex, &r, &e), 0);
	ck_assert_int_eq(r.revoked, 1);
	ck_assert_int_eq(r.reason, 1);
	ck_assert(r.revoked_at > 0 && r.revoked_at >= r.issued_at);
	ca_cert_rec_clear(&r);
	ca_db_close(db);
	q = sh_out("sqlite3 '%s/ca.db' \"SELECT reason, revoked_at IS NOT NULL FROM "
	    "certs WHERE serial = '%s'\"", dir, hex);
	ck_assert_str_eq(q, "1|1");
	free(q);
	free(hex);
	X509_free(x);}

/* RFC 5280 5.3.1: certificateHold suspends, removeFromCRL releases, another
 * reason makes a hold final. */
START_TEST(db_hold_and_release)
{
	struct ca_db *db = db_open_here();
	X509 *x = openssl_cert("h", "/CN=hold me");
	char *hex = ca_serial_hex(X509_get0_serialNumber(x));
	struct ca_cert_rec r;
	struct pk_err e;

	ck_assert_int_eq(ca_db_add_cert(db, x, NULL, &e), 0);
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_REMOVE, &e), 3);	/* valid */
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_HOLD, &e), 0);
	ck_assert_int_eq(ca_db_is_revoked(db, hex, &e), 1);
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_HOLD, &e), 2);	/* again */
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_REMOVE, &e), 0);
	ck_assert_int_eq(ca_db_is_revoked(db, hex, &e), 0);
	ck_assert_int_eq(ca_db_find_cert(db, hex, &r, &e), 0);
	ck_assert_int_eq(r.revoked, 0);
	ck_assert_int_eq(r.reason, -1);
	ca_cert_rec_clear(&r);
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_HOLD, &e), 0);
	ck_assert_int_eq(ca_db_revoke(db, hex, 1, &e), 0);	/* keyCompromise */
	ck_assert_int_eq(ca_db_find_cert(db, hex, &r, &e), 0);
	ck_assert_int_eq(r.reason, 1);
	ca_cert_rec_clear(&r);
	ck_assert_int_eq(ca_db_revoke(db, hex, CA_CRL_REMOVE, &e), 3);
	ck_assert_int_eq(ca_db_is_revoked(db, hex, &e), 1);
	ca_db_close(db);
	free(hex);
	X509_free(x);
}
END_TEST
END_TEST

/* What one CMP message changes is one batch: all of it on record after a
 * reopen, or (a step failed) none of it. */
START_TEST(db_batch_all_or_nothing)
{
	struct ca_db *db = db_open_here();
	struct ca_txn t, g;
	struct pk_err e;
	ASN1_INTEGER *serial = NULL;
	struct ca_cert_rec r;
	X509 *x = openssl_cert("batch", "/CN=batch");
	char *hex, *xhex;

	memset(&t, 0, sizeof(t));
	t.tid = "aa02030405060708090a0b0c0d0e0f10";
	t.state = CA_TXN_ISSUED;
	t.profile = "default";
	/* a good batch: the transaction and a serial, one commit */
	ck_assert_int_eq(ca_db_batch_begin(db, &e), 0);
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), 0);
	ck_assert_int_eq(ca_db_new_serial(db, &serial, &e), 0);
	ck_assert_int_eq(ca_db_batch_end(db, 1, &e), 0);
	hex = ca_serial_hex(serial);
	ca_db_close(db);
	db = db_open_here();
	ck_assert_int_eq(ca_db_txn_get(db, t.tid, &g, &e), 0);
	ca_txn_clear(&g);
	/* the serial is taken: reserving it again finds it */
	ck_assert_int_eq(ca_db_reserve_serial(db, hex, &e), 1);
	/* a batch whose last step fails leaves nothing of its first */
	t.tid = "bb02030405060708090a0b0c0d0e0f10";
	ck_assert_int_eq(ca_db_batch_begin(db, &e), 0);
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), 0);
	ck_assert_int_eq(ca_db_add_cert(db, x, t.tid, &e), 0);
	/* the same certificate twice: its serial is on record already */
	ck_assert_int_eq(ca_db_add_cert(db, x, t.tid, &e), -1);
	ck_assert_int_eq(ca_db_batch_end(db, 1, &e), -1);
	ck_assert_msg(strstr(e.msg, "nothing was written") != NULL, "%s", e.msg);
	ck_assert_int_eq(ca_db_txn_get(db, t.tid, &g, &e), 1);
	xhex = ca_serial_hex(X509_get0_serialNumber(x));
	ck_assert_int_eq(ca_db_find_cert(db, xhex, &r, &e), 1);
	/* and the connection is usable again: a batch after it commits */
	ck_assert_int_eq(ca_db_batch_begin(db, &e), 0);
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), 0);
	ck_assert_int_eq(ca_db_batch_end(db, 1, &e), 0);
	ck_assert_int_eq(ca_db_txn_get(db, t.tid, &g, &e), 0);
	ca_txn_clear(&g);
	free(hex);
	free(xhex);
	X509_free(x);
	ASN1_INTEGER_free(serial);
	ca_db_close(db);
}
END_TEST

START_TEST(db_transactions)
{
	struct ca_db *db = db_open_here();
	struct ca_txn t, g;
	struct pk_err e;
	unsigned char req[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	int n;

	memset(&t, 0, sizeof(t));
	t.tid = "0102030405060708090a0b0c0d0e0f10";
	t.state = CA_TXN_POLLING;
	t.body_type = 0;
	t.sender_nonce = "aa";
	t.request = req;
	t.request_len = sizeof(req);
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), 0);
	/* RFC 4210 5.1.1: a reused transactionID is detected */
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), 1);
	ck_assert_int_eq(ca_db_txn_poll(db, t.tid, &n, &e), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(ca_db_txn_poll(db, t.tid, &n, &e), 0);
	ck_assert_int_eq(n, 2);

	ck_assert_int_eq(ca_db_txn_get(db, t.tid, &g, &e), 0);
	ck_assert_str_eq(g.tid, t.tid);
	ck_assert_int_eq(g.state, CA_TXN_POLLING);
	ck_assert_str_eq(g.sender_nonce, "aa");
	ck_assert_ptr_null(g.server_nonce);
	ck_assert_ptr_null(g.cert_serial);
	ck_assert_uint_eq(g.request_len, sizeof(req));
	ck_assert_mem_eq(g.request, req, sizeof(req));
	ck_assert_int_eq(g.poll_count, 2);
	ck_assert(g.created > 0 && g.updated >= g.created);

	/* the certificate is issued: certConf must find it */
	free(g.sender_nonce);
	g.sender_nonce = xstrdup("bb");
	g.server_nonce = xstrdup("cc");
	g.cert_serial = xstrdup("4A0B");
	g.state = CA_TXN_ISSUED;
	ck_assert_int_eq(ca_db_txn_update(db, &g, &e), 0);
	ca_txn_clear(&g);
	ca_db_close(db);

	db = db_open_here();
	ck_assert_int_eq(ca_db_txn_get(db, t.tid, &g, &e), 0);
	ck_assert_int_eq(g.state, CA_TXN_ISSUED);
	ck_assert_str_eq(g.sender_nonce, "bb");
	ck_assert_str_eq(g.server_nonce, "cc");
	ck_assert_str_eq(g.cert_serial, "4A0B");
	ck_assert_int_eq(g.poll_count, 2);
	ca_txn_clear(&g);

	ck_assert_int_eq(ca_db_txn_get(db, "ffff", &g, &e), 1);
	ck_assert_int_eq(ca_db_txn_poll(db, "ffff", &n, &e), 1);
	t.tid = "ffff";
	ck_assert_int_eq(ca_db_txn_update(db, &t, &e), 1);
	t.tid = NULL;
	ck_assert_int_eq(ca_db_txn_new(db, &t, &e), -1);
	ca_db_close(db);

	char *q = sh_out("sqlite3 '%s/ca.db' 'SELECT state, poll_count, cert_serial "
	    "FROM transactions'", dir);
	ck_assert_str_eq(q, "issued|2|4A0B");
	free(q);
	ck_assert_str_eq(ca_txn_state_name(CA_TXN_CONFIRMED), "confirmed");
}
END_TEST

struct alloc_job {
	struct ca_db *db;	/* shared handle, or NULL: open its own */
	int n;
	char **out;
	int errors;
};

static void *
alloc_thread(void *arg)
{
	struct alloc_job *j = arg;
	struct ca_db *db = j->db;
	struct pk_err e;
	ASN1_INTEGER *s;
	int i;

	if (db == NULL) {
		char *p = storage_path(dir, "ca.db");

		if (ca_db_open(&db, p, &e) != 0)
			j->errors++;
		free(p);
		if (db == NULL)
			return NULL;
	}
	for (i = 0; i < j->n; i++) {
		if (ca_db_new_serial(db, &s, &e) != 0) {
			j->errors++;
			continue;
		}
		j->out[i] = ca_serial_hex(s);
		ASN1_INTEGER_free(s);
	}
	if (j->db == NULL)
		ca_db_close(db);
	return NULL;
}

START_TEST(db_threads_allocate_at_once)
{
	enum { T = 4, N = 150 };
	struct ca_db *db = db_open_here();
	struct alloc_job j[T];
	pthread_t th[T];
	char **all = xcalloc(T * N, sizeof(*all)), *q;
	int i;

	/* two threads on the shared handle, two with their own connection */
	for (i = 0; i < T; i++) {
		j[i].db = i < 2 ? db : NULL;
		j[i].n = N;
		j[i].out = all + i * N;
		j[i].errors = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, alloc_thread, &j[i]), 0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(j[i].errors, 0);
	}
	for (i = 0; i < T * N; i++)
		ck_assert_ptr_nonnull(all[i]);
	qsort(all, T * N, sizeof(*all), cmp_str);
	for (i = 1; i < T * N; i++)
		ck_assert_str_ne(all[i - 1], all[i]);
	ca_db_close(db);
	q = sh_out("sqlite3 '%s/ca.db' 'SELECT count(DISTINCT serial) FROM serials'",
	    dir);
	ck_assert_int_eq(atoi(q), T * N);
	free(q);
	for (i = 0; i < T * N; i++)
		free(all[i]);
	free(all);
}
END_TEST

/* ------------------------------------------------------------ issue */

static struct ca_config cfg;
static char *cadir;

static void
ca_setup(void)
{
	setup();
	cadir = path("ca");
	ca_config_init(&cfg);
	cfg.dir = cadir;
}

static void
ca_teardown(void)
{
	ca_config_clear(&cfg);
	free(cadir);
	teardown();
}

static struct ca *
ca_open_ok(void)
{
	struct ca *ca;
	struct pk_err e;

	pk_err_clear(&e);
	ck_assert_msg(ca_open(&ca, &cfg, &e) == 0, "%s", e.msg);
	return ca;
}

static int
file_mode(const char *p)
{
	struct stat sb;

	if (stat(p, &sb) != 0)
		return -1;
	return (int)(sb.st_mode & 0777);
}

START_TEST(first_run_creates_then_reloads)
{
	struct ca *ca = ca_open_ok();
	unsigned char *d1 = NULL, *d2 = NULL;
	int n1, n2;
	char *secret, *q;

	ck_assert_int_eq(ca_created(ca), 1);
	ck_assert_int_eq(file_mode(ca_key_path(ca)), 0600);
	ck_assert_int_eq(file_mode(ca_secret_path(ca)), 0600);
	ck_assert_int_eq(file_mode(cadir), 0700);
	ck_assert_str_eq(ca_get0_ref(ca), CA_DEFAULT_REF);
	ck_assert_uint_eq(strlen(ca_get0_secret(ca)), 32);
	secret = xstrdup(ca_get0_secret(ca));
	n1 = i2d_X509(ca_get0_cert(ca), &d1);
	/* a v3 CA certificate per RFC 5280 4.2.1.9 / 4.2.1.3 */
	q = sh_out("openssl x509 -in '%s' -noout -text", ca_cert_path(ca));
	ck_assert_ptr_nonnull(strstr(q, "Version: 3"));
	ck_assert_ptr_nonnull(strstr(q, "Basic Constraints: critical"));
	ck_assert_ptr_nonnull(strstr(q, "CA:TRUE"));
	ck_assert_ptr_nonnull(strstr(q, "Certificate Sign, CRL Sign"));
	ck_assert_ptr_nonnull(strstr(q, "Subject Key Identifier"));
	free(q);
	/* the key file holds the certificate's key */
	q = sh_out("openssl x509 -in '%s' -noout -pubkey | cmp - "
	    "$(openssl pkey -in '%s' -pubout >'%s/pub' && echo '%s/pub') && echo same",
	    ca_cert_path(ca), ca_key_path(ca), dir, dir);
	ck_assert_str_eq(q, "same");
	free(q);
	ca_close(ca);

	ca = ca_open_ok();
	ck_assert_int_eq(ca_created(ca), 0);
	n2 = i2d_X509(ca_get0_cert(ca), &d2);
	ck_assert_int_eq(n1, n2);
	ck_assert_mem_eq(d1, d2, (size_t)n1);
	ck_assert_str_eq(ca_get0_secret(ca), secret);
	/* the signer defaults to the CA */
	ck_assert_ptr_eq(ca_get0_signer_cert(ca), ca_get0_cert(ca));
	ck_assert_int_eq(sk_X509_num(ca_get0_extra_certs(ca)), 0);
	ck_assert_ptr_null(ca_get0_trust(ca));
	ca_close(ca);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	free(secret);
}
END_TEST

START_TEST(key_without_cert_gets_cert)
{
	struct ca *ca = ca_open_ok();
	char *crt = xstrdup(ca_cert_path(ca));

	ca_close(ca);
	/* a crash between writing the key and the certificate */
	ck_assert_int_eq(unlink(crt), 0);
	ca = ca_open_ok();
	ck_assert_int_eq(ca_created(ca), 1);
	ck_assert_int_eq(X509_check_private_key(ca_get0_cert(ca), ca_get0_key(ca)), 1);
	ca_close(ca);
	free(crt);
}
END_TEST

START_TEST(given_secret_not_stored)
{
	struct ca *ca;
	char *s;

	cfg.def.ref = "myref";
	cfg.def.secret = "pass123";
	ca = ca_open_ok();
	ck_assert_str_eq(ca_get0_ref(ca), "myref");
	ck_assert_str_eq(ca_get0_secret(ca), "pass123");
	ck_assert_ptr_null(ca_secret_path(ca));
	s = storage_path(cadir, "secret");
	ck_assert_int_eq(access(s, F_OK), -1);
	free(s);
	ca_close(ca);
}
END_TEST

static EVP_PKEY *
gen_key(const char *name, const char *alg)
{
	struct pk_err e;
	EVP_PKEY *k;
	char *p = path(name);

	ck_assert_int_eq(tu_sh("openssl genpkey %s -out '%s' 2>/dev/null", alg, p), 0);
	ck_assert_msg(ca_load_key(p, &k, &e) == 0, "%s", e.msg);
	free(p);
	return k;
}

static char *
write_cert(X509 *x, const char *name)
{
	char *p = path(name);
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	PEM_write_X509(f, x);
	fclose(f);
	return p;
}

static GENERAL_NAMES *
san_dns_ip(const char *dns, const char *ip)
{
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *n;

	if (dns != NULL) {
		n = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, dns, 0);
		ck_assert_ptr_nonnull(n);
		sk_GENERAL_NAME_push(g, n);
	}
	if (ip != NULL) {
		n = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, ip, 0);
		ck_assert_ptr_nonnull(n);
		sk_GENERAL_NAME_push(g, n);
	}
	return g;
}

START_TEST(issue_rsa_verifies)
{
	struct ca *ca = ca_open_ok();
	EVP_PKEY *k = gen_key("ee.key", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
	X509_NAME *subj = X509_NAME_new();
	GENERAL_NAMES *san = san_dns_ip("dev1.example.com", "192.0.2.1");
	struct ca_cert_rec r;
	struct pk_err e;
	X509 *x;
	char *p, *q, *hex;
	int days, secs;
	long n;

	X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Test Org", -1, -1, 0);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"dev1", -1, -1, 0);
	pk_err_clear(&e);
	ck_assert_msg(ca_issue(ca, k, NULL, subj, san, 3600, "abcd", &x, &e) == 0, "%s",
	    e.msg);
	p = write_cert(x, "ee.crt");
	q = sh_out("openssl verify -CAfile '%s' '%s'", ca_cert_path(ca), p);
	ck_assert_msg(strstr(q, ": OK") != NULL, "%s", q);
	free(q);
	q = sh_out("openssl x509 -in '%s' -noout -text -nameopt RFC2253", p);
	ck_assert_ptr_nonnull(strstr(q, "Version: 3 (0x2)"));
	ck_assert_ptr_nonnull(strstr(q, "Subject: CN=dev1,O=Test Org"));
	ck_assert_ptr_nonnull(strstr(q, "CA:FALSE"));
	ck_assert_ptr_nonnull(strstr(q, "Digital Signature, Key Encipherment"));
	ck_assert_ptr_nonnull(strstr(q, "DNS:dev1.example.com, IP Address:192.0.2.1"));
	ck_assert_ptr_nonnull(strstr(q, "X509v3 Subject Alternative Name: \n"));
	ck_assert_ptr_nonnull(strstr(q, "Authority Key Identifier"));
	ck_assert_ptr_nonnull(strstr(q, "Subject Key Identifier"));
	ck_assert_ptr_nonnull(strstr(q, "sha256WithRSAEncryption") == NULL ?
	    strstr(q, "ecdsa-with-SHA256") : q);
	free(q);
	/* carries the requested key */
	q = sh_out("openssl x509 -in '%s' -noout -pubkey > '%s/a' && openssl pkey "
	    "-in '%s/ee.key' -pubout > '%s/b' && cmp '%s/a' '%s/b' && echo same", p, dir,
	    dir, dir, dir, dir);
	ck_assert_str_eq(q, "same");
	free(q);
	/* validity as asked */
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	ck_assert_int_eq(days * 86400 + secs, 3600);
	/* recorded */
	hex = ca_serial_hex(X509_get0_serialNumber(x));
	ck_assert_int_eq(ca_db_find_cert(ca_get0_db(ca), hex, &r, &e), 0);
	ck_assert_str_eq(r.tid, "abcd");
	ck_assert_str_eq(r.subject, "O=Test Org, CN=dev1");
	ca_cert_rec_clear(&r);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, &e), 0);
	ck_assert_int_eq(n, 1);
	q = sh_out("openssl x509 -in '%s' -noout -serial", p);
	ck_assert_str_eq(q + strlen("serial="), hex);
	free(q);
	free(hex);
	free(p);
	X509_free(x);
	X509_NAME_free(subj);
	GENERAL_NAMES_free(san);
	EVP_PKEY_free(k);
	ca_close(ca);
}
END_TEST

START_TEST(issue_ec_default_validity_and_usage)
{
	struct ca *ca;
	EVP_PKEY *k = gen_key("ec.key", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	X509_NAME *subj = X509_NAME_new();
	struct pk_err e;
	X509 *x;
	char *p, *q;
	int days, secs;

	cfg.def.validity = 20;	/* --validity 20s */
	ca = ca_open_ok();
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"ec dev", -1, -1, 0);
	ck_assert_int_eq(ca_issue(ca, k, NULL, subj, NULL, 0, NULL, &x, &e), 0);
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	ck_assert_int_eq(days * 86400 + secs, 20);
	p = write_cert(x, "ec.crt");
	q = sh_out("openssl verify -CAfile '%s' '%s'", ca_cert_path(ca), p);
	ck_assert_msg(strstr(q, ": OK") != NULL, "%s", q);
	free(q);
	q = sh_out("openssl x509 -in '%s' -noout -text", p);
	ck_assert_ptr_nonnull(strstr(q, "Digital Signature, Key Agreement"));
	ck_assert_ptr_null(strstr(q, "Key Encipherment"));
	ck_assert_ptr_null(strstr(q, "Subject Alternative Name"));
	free(q);
	free(p);
	X509_free(x);
	X509_NAME_free(subj);
	EVP_PKEY_free(k);
	ca_close(ca);
}
END_TEST

START_TEST(issue_empty_subject_needs_san)
{
	struct ca *ca = ca_open_ok();
	EVP_PKEY *k = gen_key("ec.key", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	X509_NAME *subj = X509_NAME_new();
	GENERAL_NAMES *san = san_dns_ip("only-san.example", NULL);
	struct pk_err e;
	X509 *x;
	char *p, *q;

	ck_assert_int_eq(ca_issue(ca, k, NULL, subj, NULL, 60, NULL, &x, &e), -2);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(e.msg, "4.1.2.6"));
	ck_assert_int_eq(ca_issue(ca, k, NULL, subj, san, 60, NULL, &x, &e), 0);
	p = write_cert(x, "s.crt");
	q = sh_out("openssl x509 -in '%s' -noout -text", p);
	/* RFC 5280 4.2.1.6: critical when the subject is empty */
	ck_assert_ptr_nonnull(strstr(q, "Subject Alternative Name: critical"));
	ck_assert_ptr_nonnull(strstr(q, "DNS:only-san.example"));
	free(q);
	free(p);
	X509_free(x);
	X509_NAME_free(subj);
	GENERAL_NAMES_free(san);
	EVP_PKEY_free(k);
	ca_close(ca);
}
END_TEST

START_TEST(explicit_ca_files)
{
	struct ca *ca;
	struct pk_err e;
	EVP_PKEY *k = gen_key("ee.key", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384");
	X509_NAME *subj = X509_NAME_new();
	X509 *x;
	char *crt = path("myca.crt"), *key = path("myca.key"), *other = path("o.key");
	char *p, *q, *dirkey;

	ck_assert_int_eq(tu_sh("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes "
	    "-keyout myca.key -out myca.crt -subj '/CN=Explicit CA' -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null && "
	    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	    "-out o.key 2>/dev/null", dir), 0);
	/* one without the other */
	cfg.ca_cert = crt;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "together"));
	/* a key that is not the certificate's */
	cfg.ca_key = other;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "does not match"));

	cfg.ca_key = key;
	ca = ca_open_ok();
	ck_assert_int_eq(ca_created(ca), 0);
	ck_assert_str_eq(ca_cert_path(ca), crt);
	dirkey = storage_path(cadir, "ca.key");
	ck_assert_int_eq(access(dirkey, F_OK), -1);	/* nothing generated */
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"dev", -1, -1, 0);
	ck_assert_int_eq(ca_issue(ca, k, NULL, subj, NULL, 86400, NULL, &x, &e), 0);
	p = write_cert(x, "ee.crt");
	q = sh_out("openssl verify -CAfile '%s' '%s'", crt, p);
	ck_assert_msg(strstr(q, ": OK") != NULL, "%s", q);
	free(q);
	q = sh_out("openssl x509 -in '%s' -noout -issuer -text", p);
	ck_assert_ptr_nonnull(strstr(q, "issuer=CN = Explicit CA"));
	ck_assert_ptr_nonnull(strstr(q, "sha256WithRSAEncryption"));
	free(q);
	free(p);
	X509_free(x);
	X509_NAME_free(subj);
	EVP_PKEY_free(k);
	ca_close(ca);

	/* a non-CA certificate cannot issue */
	ck_assert_int_eq(tu_sh("cd '%s' && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ee2.key -out ee2.crt "
	    "-subj '/CN=not a CA' -addext basicConstraints=critical,CA:FALSE "
	    "2>/dev/null", dir), 0);
	free(crt);
	free(key);
	crt = path("ee2.crt");
	key = path("ee2.key");
	cfg.ca_cert = crt;
	cfg.ca_key = key;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not a CA"));
	free(dirkey);
	free(crt);
	free(key);
	free(other);
}
END_TEST

START_TEST(explicit_ca_without_ski)
{
	struct ca *ca;
	struct pk_err e;
	EVP_PKEY *k = gen_key("ee.key", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	X509_NAME *subj = X509_NAME_new();
	X509 *x;
	char *crt = path("n.crt"), *key = path("n.key"), *p, *q;

	/* an older CA certificate without subjectKeyIdentifier */
	ck_assert_int_eq(tu_sh("cd '%s' && openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256 -out n.key 2>/dev/null && openssl req -new -key "
	    "n.key -subj /CN=NoSKI -out n.csr && printf 'basicConstraints=critical,"
	    "CA:TRUE\\nkeyUsage=critical,keyCertSign\\nsubjectKeyIdentifier=none\\n' "
	    "> n.cnf && openssl x509 -req -in n.csr -signkey n.key -extfile n.cnf "
	    "-days 10 -out n.crt 2>/dev/null", dir), 0);
	q = sh_out("openssl x509 -in '%s' -noout -text", crt);
	ck_assert_ptr_null(strstr(q, "Subject Key Identifier"));
	free(q);
	cfg.ca_cert = crt;
	cfg.ca_key = key;
	ca = ca_open_ok();
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"dev", -1, -1, 0);
	ck_assert_msg(ca_issue(ca, k, NULL, subj, NULL, 600, NULL, &x, &e) == 0, "%s", e.msg);
	p = write_cert(x, "ee.crt");
	q = sh_out("openssl verify -CAfile '%s' '%s'", crt, p);
	ck_assert_msg(strstr(q, ": OK") != NULL, "%s", q);
	free(q);
	q = sh_out("openssl x509 -in '%s' -noout -text", p);
	ck_assert_ptr_nonnull(strstr(q, "Authority Key Identifier"));
	free(q);
	free(p);
	X509_free(x);
	X509_NAME_free(subj);
	EVP_PKEY_free(k);
	ca_close(ca);
	free(crt);
	free(key);
}
END_TEST

START_TEST(signer_extra_and_trust)
{
	struct ca *ca;
	struct pk_err e;
	char *sc = path("a.crt"), *sk = path("a.key"), *bk = path("b.key");
	char *both = path("both.pem");
	X509 *x = openssl_cert("a", "/CN=signer"), *y = openssl_cert("b", "/CN=extra");

	ck_assert_int_eq(tu_sh("cat '%s/a.crt' '%s/b.crt' > '%s'", dir, dir, both), 0);
	cfg.signer_cert = sc;
	cfg.signer_key = bk;
	ck_assert_int_eq(ca_open(&ca, &cfg, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "signer key does not match"));
	cfg.signer_key = sk;
	cfg.extra_certs = both;
	ck_assert_int_eq(ca_config_set(&cfg, NULL, "trust", both, CA_SRC_ARGS, &e),
	    0);
	ca = ca_open_ok();
	ck_assert_int_eq(X509_cmp(ca_get0_signer_cert(ca), x), 0);
	ck_assert_int_eq(sk_X509_num(ca_get0_extra_certs(ca)), 2);
	ck_assert_ptr_nonnull(ca_get0_trust(ca));
	ck_assert_int_eq(sk_X509_OBJECT_num(X509_STORE_get0_objects(
	    ca_get0_trust(ca))), 2);
	ca_close(ca);
	X509_free(x);
	X509_free(y);
	free(sc);
	free(sk);
	free(bk);
	free(both);
}
END_TEST

struct issue_job {
	struct ca *ca;
	EVP_PKEY *key;
	int n, ok;
	X509 *certs[10];
};

static void *
issue_thread(void *arg)
{
	struct issue_job *j = arg;
	X509_NAME *subj = X509_NAME_new();
	struct pk_err e;
	int i;

	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"many", -1, -1, 0);
	for (i = 0; i < j->n; i++)
		if (ca_issue(j->ca, j->key, NULL, subj, NULL, 600, NULL, &j->certs[i], &e) == 0)
			j->ok++;
	X509_NAME_free(subj);
	return NULL;
}

START_TEST(issue_from_threads_at_once)
{
	enum { T = 4, N = 10 };
	struct ca *ca = ca_open_ok();
	EVP_PKEY *k = gen_key("ec.key", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	struct issue_job j[T];
	pthread_t th[T];
	X509_STORE *st = X509_STORE_new();
	char *hex[T * N];
	struct pk_err e;
	long n;
	int i, m;

	X509_STORE_add_cert(st, ca_get0_cert(ca));
	for (i = 0; i < T; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].ca = ca;
		j[i].key = k;
		j[i].n = N;
		ck_assert_int_eq(pthread_create(&th[i], NULL, issue_thread, &j[i]), 0);
	}
	for (i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < T; i++) {
		ck_assert_int_eq(j[i].ok, N);
		for (m = 0; m < N; m++) {
			X509_STORE_CTX *ctx = X509_STORE_CTX_new();

			X509_STORE_CTX_init(ctx, st, j[i].certs[m], NULL);
			ck_assert_int_eq(X509_verify_cert(ctx), 1);
			X509_STORE_CTX_free(ctx);
			hex[i * N + m] = ca_serial_hex(X509_get0_serialNumber(j[i].certs[m]));
			X509_free(j[i].certs[m]);
		}
	}
	qsort(hex, T * N, sizeof(*hex), cmp_str);
	for (i = 1; i < T * N; i++)
		ck_assert_str_ne(hex[i - 1], hex[i]);
	ck_assert_int_eq(ca_db_count_certs(ca_get0_db(ca), &n, &e), 0);
	ck_assert_int_eq(n, T * N);
	for (i = 0; i < T * N; i++)
		free(hex[i]);
	X509_STORE_free(st);
	EVP_PKEY_free(k);
	ca_close(ca);
}
END_TEST

START_TEST(duration_parser)
{
	struct pk_err e;
	long s;

	ck_assert_int_eq(ca_parse_duration("20s", &s, &e), 0);
	ck_assert_int_eq(s, 20);
	ck_assert_int_eq(ca_parse_duration("10m", &s, &e), 0);
	ck_assert_int_eq(s, 600);
	ck_assert_int_eq(ca_parse_duration("2h", &s, &e), 0);
	ck_assert_int_eq(s, 7200);
	ck_assert_int_eq(ca_parse_duration("30d", &s, &e), 0);
	ck_assert_int_eq(s, 30 * 86400);
	ck_assert_int_eq(ca_parse_duration("365", &s, &e), 0);	/* bare: days */
	ck_assert_int_eq(s, 365 * 86400);
	s = 7;
	ck_assert_int_eq(ca_parse_duration("0", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("0s", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("-5", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("5x", &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unit"));
	ck_assert_int_eq(ca_parse_duration("5ss", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("h", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration(" 5", &s, &e), -1);
	ck_assert_int_eq(ca_parse_duration("99999999999999999999", &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "too long"));
	ck_assert_int_eq(ca_parse_duration("36000d", &s, &e), 0);
	ck_assert_int_eq(ca_parse_duration("40000000d", &s, &e), -1);
	ck_assert_int_eq(s, 36000L * 86400);	/* untouched by failures */
}
END_TEST

/* ------------------------------------------------------------- http */

static atomic_int calls;
static char last_peer[CA_ADDR_MAX];	/* the client address of the last call */

/* Echo handler: "rsp:" + the request; a request starting with "FAIL" fails. */
static int
echo_handler(void *arg, const struct ca_req *r, unsigned char **rsp,
    size_t *rsp_len)
{
	const unsigned char *req = r->der;
	size_t len = r->len;

	ck_assert_ptr_eq(arg, &calls);
	atomic_fetch_add(&calls, 1);
	snprintf(last_peer, sizeof(last_peer), "%s", r->peer != NULL ? r->peer :
	    "(null)");
	if (len >= 4 && memcmp(req, "FAIL", 4) == 0)
		return -1;
	*rsp = malloc(len + 4);
	memcpy(*rsp, "rsp:", 4);
	memcpy(*rsp + 4, req, len);
	*rsp_len = len + 4;
	return 0;
}

static struct ca_http *http;

/* ca_http_start with the echo handler, every path served. */
static int
echo_start(struct ca_http **h, const char *listen, int threads, int timeout,
    size_t max, struct pk_err *e)
{
	struct ca_http_opts o;

	memset(&o, 0, sizeof(o));
	o.listen = listen;
	o.threads = threads;
	o.timeout = timeout;
	o.max_request = max;
	o.handler = echo_handler;
	o.arg = &calls;
	return ca_http_start(h, &o, e);
}

static void
http_setup(void)
{
	struct pk_err e;

	atomic_store(&calls, 0);
	ck_assert_msg(echo_start(&http, "127.0.0.1:0", 2, 5, 1024, &e) == 0, "%s",
	    e.msg);
}

static void
http_teardown(void)
{
	ca_http_stop(http);
	http = NULL;
}

static int
connect_to(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;	/* the server may refuse early and close */
		c += w;
		n -= (size_t)w;
	}
}

struct resp {
	int status;
	char head[8192];
	unsigned char body[4096];
	size_t body_len;
};

/* Reads one response (headers + Content-Length body). 0 ok, -1 closed. */
static int
read_resp(int fd, struct resp *r)
{
	char buf[8192];
	size_t n = 0;
	char *end, *cl;
	long want;

	memset(r, 0, sizeof(*r));
	for (;;) {
		ssize_t g;

		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		g = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (g <= 0)
			return -1;
		n += (size_t)g;
	}
	*end = '\0';
	snprintf(r->head, sizeof(r->head), "%s", buf);
	ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
	cl = strcasestr(r->head, "\r\nContent-Length:");
	want = cl != NULL ? atol(cl + 17) : 0;
	ck_assert(want >= 0 && (size_t)want <= sizeof(r->body));
	r->body_len = n - (size_t)(end + 4 - buf);
	memcpy(r->body, end + 4, r->body_len);
	while (r->body_len < (size_t)want) {
		ssize_t g = recv(fd, r->body + r->body_len, (size_t)want - r->body_len, 0);

		if (g <= 0)
			return -1;
		r->body_len += (size_t)g;
	}
	return 0;
}

/* A request for PATH with METHOD, Content-Type CTYPE (NULL: none) and BODY. */
static void
post_path(int fd, const char *method, const char *path, const char *ctype,
    const void *body, size_t len, const char *extra)
{
	char h[1024];
	int n;

	n = snprintf(h, sizeof(h), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
	    "Content-Length: %zu\r\n%s\r\n", method, path,
	    ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
	    len, extra ? extra : "");
	send_all(fd, h, (size_t)n);
	if (body != NULL)
		send_all(fd, body, len);
}

static void
post(int fd, const char *method, const char *ctype, const void *body, size_t len,
    const char *extra)
{
	post_path(fd, method, "/pkix/", ctype, body, len, extra);
}

START_TEST(http_post_reaches_handler)
{
	static const unsigned char der[] = { 0x30, 0x05, 0x00, 0x01, 0xff, 0x0d, 0x0a };
	struct resp r;
	int fd = connect_to(ca_http_port(http));
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ca_http_port(http));
	ck_assert_str_eq(ca_http_url(http), url);
	ck_assert_int_gt(ca_http_port(http), 0);
	post(fd, "POST", "application/pkixcmp", der, sizeof(der), NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: application/pkixcmp"));
	ck_assert_uint_eq(r.body_len, sizeof(der) + 4);
	ck_assert_mem_eq(r.body, "rsp:", 4);
	ck_assert_mem_eq(r.body + 4, der, sizeof(der));
	/* the handler knows the client's address */
	ck_assert_str_eq(last_peer, "127.0.0.1");
	/* keep-alive: a second request on the same connection, type in other case */
	post(fd, "POST", "Application/PKIXCMP; x=1", "second", 6, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_mem_eq(r.body, "rsp:second", 10);
	ck_assert_int_eq(atomic_load(&calls), 2);
	close(fd);
}
END_TEST

START_TEST(http_refusals)
{
	struct resp r;
	char big[2048];
	int fd;

	/* RFC 6712 3.3: POST only */
	fd = connect_to(ca_http_port(http));
	post(fd, "GET", NULL, NULL, 0, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strcasestr(r.head, "Allow: POST"));
	close(fd);
	fd = connect_to(ca_http_port(http));
	post(fd, "PUT", "application/pkixcmp", "x", 1, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 405);
	close(fd);
	/* RFC 6712 3.4: application/pkixcmp only */
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", "application/octet-stream", "abc", 3, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 415);
	close(fd);
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", NULL, "abc", 3, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 415);
	close(fd);
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", "application/pkixcmpx", "abc", 3, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 415);
	close(fd);
	/* over the cap (1024 here): refused before the body is read */
	memset(big, 'A', sizeof(big));
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", "application/pkixcmp", NULL, sizeof(big), NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 413);
	close(fd);
	/* at the cap: taken */
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", "application/pkixcmp", big, 1024, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 1028);
	close(fd);
	/* handler failure */
	fd = connect_to(ca_http_port(http));
	post(fd, "POST", "application/pkixcmp", "FAIL!", 5, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 500);
	close(fd);
	/* only the last two reached the handler */
	ck_assert_int_eq(atomic_load(&calls), 2);
}
END_TEST

START_TEST(http_chunked_over_cap_closed)
{
	struct resp r;
	char chunk[600];
	int fd = connect_to(ca_http_port(http)), i;
	const char *h = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkixcmp"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n";

	send_all(fd, h, strlen(h));
	memset(chunk, 'B', sizeof(chunk));
	for (i = 0; i < 3; i++) {
		send_all(fd, "258\r\n", 5);	/* 0x258 = 600 */
		send_all(fd, chunk, sizeof(chunk));
		send_all(fd, "\r\n", 2);
	}
	send_all(fd, "0\r\n\r\n", 5);
	/* no 200: the connection is dropped (or refused) */
	ck_assert(read_resp(fd, &r) == -1 || r.status >= 400);
	ck_assert_int_eq(atomic_load(&calls), 0);
	close(fd);
}
END_TEST

struct client_job {
	int port, n, ok;
};

static void *
client_thread(void *arg)
{
	struct client_job *j = arg;
	struct resp r;
	char body[32];
	int i, fd = connect_to(j->port);

	for (i = 0; i < j->n; i++) {
		int len = snprintf(body, sizeof(body), "req-%d-%p", i, arg);

		post(fd, "POST", "application/pkixcmp", body, (size_t)len, NULL);
		if (read_resp(fd, &r) == 0 && r.status == 200 &&
		    r.body_len == (size_t)len + 4 && memcmp(r.body + 4, body,
		    (size_t)len) == 0)
			j->ok++;
	}
	close(fd);
	return NULL;
}

START_TEST(http_clients_at_once)
{
	enum { T = 6, N = 25 };
	struct client_job j[T];
	pthread_t th[T];
	int i;

	for (i = 0; i < T; i++) {
		j[i].port = ca_http_port(http);
		j[i].n = N;
		j[i].ok = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, client_thread, &j[i]), 0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(j[i].ok, N);
	}
	ck_assert_int_eq(atomic_load(&calls), T * N);
}
END_TEST

/* Routing: two served paths with their own route; any other path, a case
 * variant or a trailing '/' more or less gets 404, before the method (405) is
 * looked at; the query string is not part of the path. */
static const char route_a[] = "A", route_b[] = "B";
static const char *last_route;

static const void *
route_ab(void *arg, const char *path)
{
	ck_assert_ptr_eq(arg, &calls);
	if (strcmp(path, "/.well-known/cmp/p/a") == 0)
		return route_a;
	if (strcmp(path, "/b/") == 0)
		return route_b;
	return NULL;
}

static int
route_handler(void *arg, const struct ca_req *r, unsigned char **rsp,
    size_t *rsp_len)
{
	last_route = r->route;
	return echo_handler(arg, r, rsp, rsp_len);
}

START_TEST(http_routing)
{
	static const char *const unserved[] = { "/", "/pkix/", "/b", "/B/",
	    "/b//", "/.well-known/cmp/p/A", "/.well-known/cmp/p/a/",
	    "/publicweb/cmp/example", "/%42/" };
	struct ca_http *h2;
	struct ca_http_opts o;
	struct pk_err e;
	struct resp r;
	size_t i;
	int fd;

	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.threads = 1;
	o.timeout = 5;
	o.route = route_ab;
	o.handler = route_handler;
	o.arg = &calls;
	ck_assert_msg(ca_http_start(&h2, &o, &e) == 0, "%s", e.msg);
	for (i = 0; i < sizeof(unserved) / sizeof(*unserved); i++) {
		fd = connect_to(ca_http_port(h2));
		post_path(fd, "POST", unserved[i], "application/pkixcmp", "x", 1,
		    NULL);
		ck_assert_int_eq(read_resp(fd, &r), 0);
		ck_assert_msg(r.status == 404, "%s: %d", unserved[i], r.status);
		close(fd);
		fd = connect_to(ca_http_port(h2));
		post_path(fd, "GET", unserved[i], NULL, NULL, 0, NULL);
		ck_assert_int_eq(read_resp(fd, &r), 0);
		ck_assert_msg(r.status == 404, "GET %s: %d", unserved[i], r.status);
		close(fd);
	}
	ck_assert_int_eq(atomic_load(&calls), 0);
	/* a served path: GET is 405, POST reaches the handler with its route */
	fd = connect_to(ca_http_port(h2));
	post_path(fd, "GET", "/b/", NULL, NULL, 0, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 405);
	close(fd);
	fd = connect_to(ca_http_port(h2));
	post_path(fd, "POST", "/b/?x=1", "application/pkixcmp", "bb", 2, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_eq(last_route, route_b);
	post_path(fd, "POST", "/.well-known/cmp/p/a", "application/pkixcmp", "aa",
	    2, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_eq(last_route, route_a);
	ck_assert_mem_eq(r.body, "rsp:aa", 6);
	/* the path is matched after percent-decoding (RFC 3986 2.1) */
	last_route = NULL;
	post_path(fd, "POST", "/%62/", "application/pkixcmp", "bb", 2, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_eq(last_route, route_b);
	close(fd);
	ca_http_stop(h2);
}
END_TEST

START_TEST(http_idle_timeout_single_thread)
{
	struct ca_http *h2;
	struct pk_err e;
	struct resp r;
	char c;
	int fd;

	/* one worker, 1 s idle timeout */
	ck_assert_int_eq(echo_start(&h2, "127.0.0.1:0", 1, 1, 1024, &e), 0);
	fd = connect_to(ca_http_port(h2));
	post(fd, "POST", "application/pkixcmp", "one", 3, NULL);
	ck_assert_int_eq(read_resp(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	/* an idle keep-alive connection is closed by the server */
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
	close(fd);
	/* a client that never finishes its headers is dropped too */
	fd = connect_to(ca_http_port(h2));
	send_all(fd, "POST / HTTP/1.1\r\n", 17);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);
	close(fd);
	ca_http_stop(h2);
}
END_TEST

START_TEST(http_listen_errors_and_ipv6)
{
	struct ca_http *h2;
	struct pk_err e;
	char spec[64];

	/* the port is taken */
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ca_http_port(http));
	ck_assert_int_eq(echo_start(&h2, spec, 1, 5, 1024, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot listen"));
	ck_assert_int_eq(echo_start(&h2, "127.0.0.1", 1, 5, 1024, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "invalid listen address"));
	ck_assert_int_eq(echo_start(&h2, "::1:80", 1, 5, 1024, &e), -1);
	ck_assert_int_eq(echo_start(&h2, "127.0.0.1:99999", 1, 5, 1024, &e), -1);
	/* IPv6 loopback, when the host has it */
	if (tu_sh("test -e /proc/net/if_inet6 && grep -q '^0*1 ' /proc/net/if_inet6")
	    == 0) {
		ck_assert_msg(echo_start(&h2, "[::1]:0", 1, 5, 1024, &e) == 0,
		    "%s", e.msg);
		ck_assert_ptr_nonnull(strstr(ca_http_url(h2), "http://[::1]:"));
		ca_http_stop(h2);
	}
	ca_http_stop(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ca");
	TCase *db = tcase_create("db"), *is = tcase_create("issue");
	TCase *ht = tcase_create("http");

	/* fsync per commit (synchronous=FULL) is slow on a busy disk */
	tcase_set_timeout(db, 120);
	tcase_set_timeout(is, 120);
	tcase_set_timeout(ht, 60);
	tcase_add_checked_fixture(db, setup, teardown);
	tcase_add_test(db, db_serials_unique_positive);
	tcase_add_test(db, db_schema_wal_and_newer_refused);
	tcase_add_test(db, db_migrates_schema_1);
	tcase_add_test(db, db_cert_persists_across_reopen);
	tcase_add_test(db, db_find_by_issuer_and_serial);
	tcase_add_test(db, db_name_text_style_and_old_rows);
	tcase_add_test(db, db_revocation);
	tcase_add_test(db, db_hold_and_release);
	tcase_add_test(db, db_transactions);
	tcase_add_test(db, db_batch_all_or_nothing);
	tcase_add_test(db, db_threads_allocate_at_once);
	suite_add_tcase(s, db);

	tcase_add_checked_fixture(is, ca_setup, ca_teardown);
	tcase_add_test(is, first_run_creates_then_reloads);
	tcase_add_test(is, key_without_cert_gets_cert);
	tcase_add_test(is, given_secret_not_stored);
	tcase_add_test(is, issue_rsa_verifies);
	tcase_add_test(is, issue_ec_default_validity_and_usage);
	tcase_add_test(is, issue_empty_subject_needs_san);
	tcase_add_test(is, explicit_ca_files);
	tcase_add_test(is, explicit_ca_without_ski);
	tcase_add_test(is, signer_extra_and_trust);
	tcase_add_test(is, issue_from_threads_at_once);
	tcase_add_test(is, duration_parser);
	suite_add_tcase(s, is);

	tcase_add_checked_fixture(ht, http_setup, http_teardown);
	tcase_add_test(ht, http_post_reaches_handler);
	tcase_add_test(ht, http_refusals);
	tcase_add_test(ht, http_routing);
	tcase_add_test(ht, http_chunked_over_cap_closed);
	tcase_add_test(ht, http_clients_at_once);
	tcase_add_test(ht, http_idle_timeout_single_thread);
	tcase_add_test(ht, http_listen_errors_and_ipv6);
	suite_add_tcase(s, ht);

	return tu_run_suite(s);
}
