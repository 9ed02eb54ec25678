/*
 * ca_db: the CA responder's SQLite database (DIR/ca.db).
 *
 * Contract (ca.h): one connection per struct ca_db, opened in WAL
 * mode and with a busy timeout, shared by every server thread and
 * serialized by a mutex held for the whole of each call. Each call that writes is
 * one SQL transaction (BEGIN IMMEDIATE ... COMMIT), or a step of the caller's
 * batch (ca_db_batch_begin/_end), so a crash or SIGTERM leaves it entirely done
 * or not done.
 *
 * Durability: a commit is on disk before the call that made it returns, power
 * loss included (what synchronous=FULL gives), but the fsync is ours: SQLite
 * runs with synchronous=NORMAL (WAL frames written, not synced, at COMMIT) and
 * wal_sync() fdatasyncs the WAL file after the commit. For a batch that sync
 * runs after the mutex is released, so other threads' requests use the
 * database while the disk works, and one fsync covers every commit written
 * before it (a group commit): the answer to a CMP message leaves only after
 * its batch_end, so after its sync. Other processes (a second handle, `sqlite3 DIR/ca.db`)
 * may read and write at the same time; the busy timeout makes them wait their turn.
 *
 * Schema (PRAGMA user_version = CA_DB_SCHEMA):
 *   serials(serial PK, allocated_at)            every serial ever handed out
 *   certs(serial PK, subject, issuer, not_before, not_after, der, issued_at, tid,
 *         revoked_at, reason)                    issued certificates
 *   transactions(tid PK, state, body_type, sender_nonce, server_nonce,
 *         cert_serial, request, poll_count, created_at, updated_at, profile,
 *         owner)                                 (profile: schema 2; owner and
 *                                                the index on state and
 *                                                updated_at: schema 3)
 *   issued (view)                                certs with readable dates
 * Times are Unix seconds. Serials are upper-case hex (`openssl x509 -serial`).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <sqlite3.h>

#include "ca_int.h"

#define BUSY_TIMEOUT_MS	10000
#define SERIAL_BYTES	9	/* 72 bits: more than the 64 of CA/B BR 7.1 */
#define SERIAL_TRIES	16

#define STMT_CACHE	32

struct ca_db {
	sqlite3 *db;
	char *path;
	pthread_mutex_t mu;	/* recursive: a batch holds it across calls */
	int depth;		/* open db_begin()s: only the outermost commits */
	int failed;		/* an inner step of the batch failed */
	int wal_fd;		/* DIR/ca.db-wal for wal_sync(), -1: not open */
	int defer_sync;		/* the outermost db_end leaves the sync to
				 * ca_db_batch_end, after the unlock */
	/* Prepared statements kept for the connection's life, by their SQL
	 * text's address (db_prep is only ever given string literals):
	 * compiling the SQL again for each call cost a tenth of an issuance. */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} stmts[STMT_CACHE];
	int nstmts;
};

static const char *schema_v1[] = {
	"CREATE TABLE serials ("
	" serial TEXT PRIMARY KEY NOT NULL,"
	" allocated_at INTEGER NOT NULL)",
	"CREATE TABLE certs ("
	" serial TEXT PRIMARY KEY NOT NULL REFERENCES serials(serial),"
	" subject TEXT NOT NULL,"
	" issuer TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" der BLOB NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" tid TEXT,"
	" revoked_at INTEGER,"
	" reason INTEGER)",
	"CREATE INDEX certs_tid ON certs(tid)",
	"CREATE TABLE transactions ("
	" tid TEXT PRIMARY KEY NOT NULL,"
	" state TEXT NOT NULL,"
	" body_type INTEGER NOT NULL,"
	" sender_nonce TEXT,"
	" server_nonce TEXT,"
	" cert_serial TEXT,"
	" request BLOB,"
	" poll_count INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL)",
	"CREATE VIEW issued AS SELECT serial, subject,"
	" datetime(not_before, 'unixepoch') AS not_before,"
	" datetime(not_after, 'unixepoch') AS not_after,"
	" datetime(issued_at, 'unixepoch') AS issued_at, tid,"
	" datetime(revoked_at, 'unixepoch') AS revoked_at, reason FROM certs",
	NULL
};

/* Schema 2: the profile a transaction belongs to (NULL in rows of schema 1:
 * the default profile, the only one there was). */
static const char *schema_v2[] = {
	"ALTER TABLE transactions ADD COLUMN profile TEXT",
	NULL
};

/* Schema 3: who opened a transaction (its later messages must come from the
 * same; NULL in older rows, which then take none), and the index the sweep
 * of unconfirmed and finished transactions reads. */
static const char *schema_v3[] = {
	"ALTER TABLE transactions ADD COLUMN owner TEXT",
	"CREATE INDEX transactions_sweep ON transactions(state, updated_at)",
	NULL
};

static const char *state_names[] = {
	[CA_TXN_POLLING] = "polling",
	[CA_TXN_ISSUED] = "issued",
	[CA_TXN_CONFIRMED] = "confirmed",
	[CA_TXN_REJECTED] = "rejected",
	[CA_TXN_CLOSED] = "closed",
	[CA_TXN_EXPIRED] = "expired",
};

const char *
ca_txn_state_name(enum ca_txn_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

static int
state_parse(const char *s, enum ca_txn_state *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum ca_txn_state)i;
			return 0;
		}
	return -1;
}

static int
db_fail(struct ca_db *db, struct pk_err *e, const char *what)
{
	return pk_err_set(e, "CA database %s: %s: %s", db->path, what,
	    sqlite3_errmsg(db->db));
}

static int
db_exec(struct ca_db *db, const char *sql, struct pk_err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pk_err_set(e, "CA database %s: %s: %s", db->path, sql,
		    msg != NULL ? msg : sqlite3_errmsg(db->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* SQL (a string literal: it is kept by address) prepared, or taken ready
 * from the cache; db_done() after use. */
static int
db_prep(struct ca_db *db, const char *sql, sqlite3_stmt **st, struct pk_err *e)
{
	int i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].sql == sql) {
			*st = db->stmts[i].st;
			sqlite3_reset(*st);
			sqlite3_clear_bindings(*st);
			return 0;
		}
	if (sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK) {
		*st = NULL;
		return db_fail(db, e, "prepare");
	}
	if (db->nstmts < STMT_CACHE) {
		db->stmts[db->nstmts].sql = sql;
		db->stmts[db->nstmts].st = *st;
		db->nstmts++;
	}
	return 0;
}

/* Ends the use of ST from db_prep: reset when kept (a SELECT left unreset
 * holds its read transaction open), finalized otherwise. Accepts NULL. */
static void
db_done(struct ca_db *db, sqlite3_stmt *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].st == st) {
			sqlite3_reset(st);
			return;
		}
	sqlite3_finalize(st);
}

/* fdatasync of the WAL file: the commits written so far are on disk. An fsync
 * on any descriptor of a file flushes the file (POSIX fsync, "all data for
 * the open file descriptor" is the file's data), so this one needs no
 * access to SQLite's own. The WAL exists once a commit has written it, and
 * stays while this connection is open. */
static int
wal_sync(struct ca_db *db, struct pk_err *e)
{
	char *wal;

	if (db->wal_fd < 0) {
		wal = xmalloc(strlen(db->path) + 5);
		sprintf(wal, "%s-wal", db->path);
		db->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
		free(wal);
		if (db->wal_fd < 0)
			return pk_err_set(e, "CA database %s: cannot open its WAL "
			    "to sync it: %s", db->path, strerror(errno));
	}
	if (fdatasync(db->wal_fd) != 0)
		return pk_err_set(e, "CA database %s: cannot sync its WAL: %s",
		    db->path, strerror(errno));
	return 0;
}

/*
 * BEGIN IMMEDIATE ... COMMIT, nested: inside a batch (ca_db_batch_begin) a
 * call's own begin and end are steps of the batch's one SQL transaction, so
 * what a CMP message changes is written with one commit (one fsync: the cost
 * that dominates an issuance) and a crash leaves all of it or none.
 */
static int
db_begin(struct ca_db *db, struct pk_err *e)
{
	if (db->depth > 0) {
		/* a failed statement may have ended the batch's transaction
		 * (SQLITE_FULL, _IOERR...): the steps after it must not run
		 * in autocommit mode, half a batch committed */
		if (sqlite3_get_autocommit(db->db)) {
			db->failed = 1;
			return pk_err_set(e, "CA database %s: the transaction "
			    "ended early", db->path);
		}
		db->depth++;
		return 0;
	}
	if (db_exec(db, "BEGIN IMMEDIATE", e) != 0)
		return -1;
	db->depth = 1;
	db->failed = 0;
	return 0;
}

static int
db_end(struct ca_db *db, int ok, struct pk_err *e)
{
	if (db->depth > 1) {
		db->depth--;
		if (!ok)
			db->failed = 1;
		return ok ? 0 : -1;
	}
	db->depth = 0;
	if (ok && !db->failed) {
		if (db_exec(db, "COMMIT", e) != 0)
			return -1;
		return db->defer_sync ? 0 : wal_sync(db, e);
	}
	db->failed = 0;
	/* A failed statement may already have ended the transaction. */
	if (!sqlite3_get_autocommit(db->db))
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	if (ok)
		pk_err_set(e, "CA database %s: a step of the transaction failed; "
		    "nothing was written", db->path);
	return -1;
}

int
ca_db_batch_begin(struct ca_db *db, struct pk_err *e)
{
	pthread_mutex_lock(&db->mu);
	if (db_begin(db, e) != 0) {
		pthread_mutex_unlock(&db->mu);
		return -1;
	}
	return 0;
}

int
ca_db_batch_end(struct ca_db *db, int ok, struct pk_err *e)
{
	int rc, outer = db->depth == 1;

	db->defer_sync = outer;
	rc = db_end(db, ok, e);
	db->defer_sync = 0;
	pthread_mutex_unlock(&db->mu);
	/* outside the lock: the next batch runs while this one's sync waits
	 * for the disk (wal_fd is set once, before, by the first commit's
	 * sync under the lock at open) */
	if (rc == 0 && outer && ok)
		rc = wal_sync(db, e);
	return rc;
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static unsigned char *
col_blob(sqlite3_stmt *st, int i, size_t *len)
{
	const void *b = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	unsigned char *p;

	*len = 0;
	if (b == NULL || n <= 0)
		return NULL;
	p = xmalloc((size_t)n);
	memcpy(p, b, (size_t)n);
	*len = (size_t)n;
	return p;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int
schema_version(struct ca_db *db, int *v, struct pk_err *e)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (db_prep(db, "PRAGMA user_version", &st, e) != 0)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = 0;
	} else
		db_fail(db, e, "reading the schema version");
	db_done(db, st);
	return rc;
}

static int
migrate(struct ca_db *db, struct pk_err *e)
{
	char sql[64];
	int v, i;

	if (db_begin(db, e) != 0)
		return -1;
	if (schema_version(db, &v, e) != 0)
		return db_end(db, 0, e);
	if (v > CA_DB_SCHEMA) {
		pk_err_set(e, "CA database %s has schema version %d, newer than this "
		    "program's %d", db->path, v, CA_DB_SCHEMA);
		return db_end(db, 0, e);
	}
	if (v == 0)
		for (i = 0; schema_v1[i] != NULL; i++)
			if (db_exec(db, schema_v1[i], e) != 0)
				return db_end(db, 0, e);
	if (v < 2)
		for (i = 0; schema_v2[i] != NULL; i++)
			if (db_exec(db, schema_v2[i], e) != 0)
				return db_end(db, 0, e);
	if (v < 3)
		for (i = 0; schema_v3[i] != NULL; i++)
			if (db_exec(db, schema_v3[i], e) != 0)
				return db_end(db, 0, e);
	/* later versions: their steps from v to CA_DB_SCHEMA go here */
	if (v < CA_DB_SCHEMA) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", CA_DB_SCHEMA);
		if (db_exec(db, sql, e) != 0)
			return db_end(db, 0, e);
	}
	return db_end(db, 1, e) == 0 ? 0 : -1;
}

int
ca_db_open(struct ca_db **out, const char *path, struct pk_err *e)
{
	struct ca_db *db = xcalloc(1, sizeof(*db));
	sqlite3_stmt *st = NULL;
	int rc = -1;

	*out = NULL;
	db->path = xstrdup(path);
	db->wal_fd = -1;
	{
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&db->mu, &a);
		pthread_mutexattr_destroy(&a);
	}
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		pk_err_set(e, "cannot open CA database %s: %s", path,
		    db->db != NULL ? sqlite3_errmsg(db->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->db, 1);
	/* WAL: readers never block the writer, and a crash leaves the last
	 * committed state. FULL: a commit survives power loss too. */
	if (db_prep(db, "PRAGMA journal_mode=WAL", &st, e) != 0)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		pk_err_set(e, "CA database %s: cannot switch to WAL mode", path);
		goto out;
	}
	db_done(db, st);
	st = NULL;
	/* NORMAL + wal_sync() after each commit: FULL's guarantee, with the
	 * syncs of concurrent batches merged (see the top of the file) */
	if (db_exec(db, "PRAGMA synchronous=NORMAL", e) != 0 ||
	    db_exec(db, "PRAGMA foreign_keys=ON", e) != 0 || migrate(db, e) != 0)
		goto out;
	/* the WAL exists now (migrate or the journal_mode switch wrote it, or
	 * an earlier run did); open it while single-threaded */
	if (db_exec(db, "BEGIN IMMEDIATE; COMMIT", e) != 0 || wal_sync(db, e) != 0)
		goto out;
	rc = 0;
out:
	db_done(db, st);
	if (rc != 0) {
		ca_db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void
ca_db_close(struct ca_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < db->nstmts; i++)
		sqlite3_finalize(db->stmts[i].st);
	sqlite3_close(db->db);
	if (db->wal_fd >= 0)
		close(db->wal_fd);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
}

int
ca_db_schema(struct ca_db *db)
{
	int v = -1;

	pthread_mutex_lock(&db->mu);
	if (schema_version(db, &v, NULL) != 0)
		v = -1;
	pthread_mutex_unlock(&db->mu);
	return v;
}

/* ---- serials ---- */

char *
ca_serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *h = NULL, *r = NULL;

	if (bn == NULL || BN_is_negative(bn))
		goto out;
	if ((h = BN_bn2hex(bn)) == NULL)
		goto out;
	/* BN_bn2hex prints whole bytes except for zero ("0"). */
	if (strlen(h) % 2 == 1) {
		r = xmalloc(strlen(h) + 2);
		r[0] = '0';
		strcpy(r + 1, h);
	} else
		r = xstrdup(h);
out:
	OPENSSL_free(h);
	BN_free(bn);
	return r;
}

/* Canonical form of user-given hex (any case, optional leading zeros). */
static char *
serial_norm(const char *hex, struct pk_err *e)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	char *r = NULL;
	size_t n = hex != NULL ? strlen(hex) : 0;

	if (n == 0 || n > 80 || strspn(hex, "0123456789abcdefABCDEF") != n) {
		pk_err_set(e, "invalid serial number '%s'", hex != NULL ? hex : "");
		return NULL;
	}
	if (BN_hex2bn(&bn, hex) != (int)n || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		pk_err_ossl(e, "invalid serial number '%s'", hex);
	else
		r = ca_serial_hex(ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return r;
}

static int
reserve_locked(struct ca_db *db, const char *hex, struct pk_err *e)
{
	sqlite3_stmt *st;
	int rc;

	if (db_prep(db, "INSERT INTO serials(serial, allocated_at) VALUES (?, ?)", &st,
	    e) != 0)
		return -1;
	bind_text(st, 1, hex);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	db_done(db, st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return 1;
	return db_fail(db, e, "reserving a serial");
}

int
ca_db_reserve_serial(struct ca_db *db, const char *hex, struct pk_err *e)
{
	char *h = serial_norm(hex, e);
	int rc;

	if (h == NULL)
		return -1;
	pthread_mutex_lock(&db->mu);
	rc = reserve_locked(db, h, e);
	pthread_mutex_unlock(&db->mu);
	free(h);
	return rc;
}

int
ca_db_new_serial(struct ca_db *db, ASN1_INTEGER **serial, struct pk_err *e)
{
	unsigned char b[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int i, r = 1, rc = -1;

	*serial = NULL;
	pthread_mutex_lock(&db->mu);
	for (i = 0; i < SERIAL_TRIES && r == 1; i++) {
		if (RAND_bytes(b, sizeof(b)) != 1) {
			pk_err_ossl(e, "no random bytes for a serial number");
			goto out;
		}
		/* RFC 5280 4.1.2.2: positive, at most 20 octets. The top bits 01
		 * keep it positive and always SERIAL_BYTES long. */
		b[0] = (unsigned char)((b[0] & 0x3f) | 0x40);
		free(hex);
		hex = pk_hex(b, sizeof(b), 0);
		for (char *p = hex; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		if ((r = reserve_locked(db, hex, e)) < 0)
			goto out;
	}
	if (r != 0) {
		pk_err_set(e, "no unused serial number after %d tries", SERIAL_TRIES);
		goto out;
	}
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    (*serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		pk_err_ossl(e, "serial number");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&db->mu);
	BN_free(bn);
	free(hex);
	return rc;
}

/* ---- certificates ---- */

/* The subject / issuer column text: the one name style of both programs
 * (util: "O=pkish, CN=cmpca CA"). The columns are for people reading the
 * database; nothing matches on them: certificates are found by serial, and a
 * CertId's issuer is compared with X509_NAME_cmp against the stored DER
 * (ca_db_find_cert_id). Rows written before this style (RFC 2253 order,
 * "CN=cmpca CA,O=pkish") therefore stay as they are and keep working. */
static char *
name_text(const X509_NAME *n)
{
	struct sbuf b = SBUF_INIT;

	pk_name_sbuf(n, &b);
	return sbuf_take(&b);
}

int
ca_db_add_cert(struct ca_db *db, X509 *x, const char *tid, struct pk_err *e)
{
	sqlite3_stmt *st = NULL;
	char *serial = ca_serial_hex(X509_get0_serialNumber(x));
	char *subj = name_text(X509_get_subject_name(x));
	char *iss = name_text(X509_get_issuer_name(x));
	unsigned char *der = NULL;
	int derlen, r, locked = 0, rc = -1;
	time_t nb, na;

	if (serial == NULL) {
		pk_err_set(e, "certificate has an invalid serial number");
		goto out;
	}
	if (pk_asn1_time(X509_get0_notBefore(x), &nb) != 0 ||
	    pk_asn1_time(X509_get0_notAfter(x), &na) != 0) {
		pk_err_set(e, "certificate has an invalid validity");
		goto out;
	}
	if ((derlen = i2d_X509(x, &der)) <= 0) {
		pk_err_ossl(e, "cannot encode the certificate");
		goto out;
	}
	pthread_mutex_lock(&db->mu);
	locked = 1;
	if (db_begin(db, e) != 0)
		goto out;
	if (reserve_locked(db, serial, e) < 0) {
		db_end(db, 0, e);
		goto out;
	}
	if (db_prep(db, "INSERT INTO certs(serial, subject, issuer, not_before, "
	    "not_after, der, issued_at, tid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st, e) != 0) {
		db_end(db, 0, e);
		goto out;
	}
	bind_text(st, 1, serial);
	bind_text(st, 2, subj);
	bind_text(st, 3, iss);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)nb);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)na);
	sqlite3_bind_blob(st, 6, der, derlen, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	bind_text(st, 8, tid);
	r = sqlite3_step(st);
	if (r != SQLITE_DONE) {
		if ((r & 0xff) == SQLITE_CONSTRAINT)
			pk_err_set(e, "a certificate with serial %s is already recorded",
			    serial);
		else
			db_fail(db, e, "recording a certificate");
		db_end(db, 0, e);
		goto out;
	}
	if (db_end(db, 1, e) != 0)
		goto out;
	rc = 0;
out:
	db_done(db, st);
	if (locked)
		pthread_mutex_unlock(&db->mu);
	OPENSSL_free(der);
	free(serial);
	free(subj);
	free(iss);
	return rc;
}

void
ca_cert_rec_clear(struct ca_cert_rec *r)
{
	if (r == NULL)
		return;
	free(r->serial);
	free(r->subject);
	free(r->issuer);
	free(r->der);
	free(r->tid);
	memset(r, 0, sizeof(*r));
	r->reason = -1;
}

X509 *
ca_cert_rec_get1_x509(const struct ca_cert_rec *r)
{
	const unsigned char *p = r->der;
	X509 *x;

	if (p == NULL)
		return NULL;
	x = d2i_X509(NULL, &p, (long)r->der_len);
	if (x != NULL && p != r->der + r->der_len) {
		X509_free(x);	/* trailing bytes: not what we stored */
		return NULL;
	}
	return x;
}

static int
find_locked(struct ca_db *db, const char *serial, struct ca_cert_rec *r,
    struct pk_err *e)
{
	sqlite3_stmt *st;
	int s, rc = -1;

	if (db_prep(db, "SELECT serial, subject, issuer, not_before, not_after, der, "
	    "issued_at, tid, revoked_at, reason FROM certs WHERE serial = ?", &st, e) != 0)
		return -1;
	bind_text(st, 1, serial);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		rc = 1;
	else if (s != SQLITE_ROW)
		db_fail(db, e, "looking up a certificate");
	else {
		r->serial = col_text(st, 0);
		r->subject = col_text(st, 1);
		r->issuer = col_text(st, 2);
		r->not_before = sqlite3_column_int64(st, 3);
		r->not_after = sqlite3_column_int64(st, 4);
		r->der = col_blob(st, 5, &r->der_len);
		r->issued_at = sqlite3_column_int64(st, 6);
		r->tid = col_text(st, 7);
		r->revoked = sqlite3_column_type(st, 8) != SQLITE_NULL;
		r->revoked_at = r->revoked ? sqlite3_column_int64(st, 8) : 0;
		r->reason = r->revoked && sqlite3_column_type(st, 9) != SQLITE_NULL ?
		    sqlite3_column_int(st, 9) : -1;
		rc = 0;
	}
	db_done(db, st);
	return rc;
}

int
ca_db_find_cert(struct ca_db *db, const char *serial, struct ca_cert_rec *r,
    struct pk_err *e)
{
	char *h;
	int rc;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	if ((h = serial_norm(serial, e)) == NULL)
		return -1;
	pthread_mutex_lock(&db->mu);
	rc = find_locked(db, h, r, e);
	pthread_mutex_unlock(&db->mu);
	free(h);
	return rc;
}

int
ca_db_find_cert_id(struct ca_db *db, const X509_NAME *issuer,
    const ASN1_INTEGER *serial, struct ca_cert_rec *r, struct pk_err *e)
{
	char *h = ca_serial_hex(serial);
	X509 *x = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	if (h == NULL)
		return pk_err_set(e, "invalid serial number in CertId");
	rc = ca_db_find_cert(db, h, r, e);
	free(h);
	if (rc != 0)
		return rc;
	if ((x = ca_cert_rec_get1_x509(r)) == NULL) {
		ca_cert_rec_clear(r);
		return pk_err_ossl(e, "recorded certificate does not decode");
	}
	/* RFC 4211 6.5 (CertId): the serial is only unique per issuer. */
	if (X509_NAME_cmp(issuer, X509_get_issuer_name(x)) != 0) {
		ca_cert_rec_clear(r);
		rc = 1;
	}
	X509_free(x);
	return rc;
}

int
ca_db_revoke(struct ca_db *db, const char *serial, int reason, struct pk_err *e)
{
	sqlite3_stmt *st = NULL;
	char *h = serial_norm(serial, e);
	int s, rc = -1, revoked, held;

	if (h == NULL)
		return -1;
	pthread_mutex_lock(&db->mu);
	if (db_begin(db, e) != 0)
		goto out;
	if (db_prep(db, "SELECT revoked_at, reason FROM certs WHERE serial = ?", &st,
	    e) != 0)
		goto fail;
	bind_text(st, 1, h);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = 1;
		goto fail;
	}
	if (s != SQLITE_ROW) {
		db_fail(db, e, "looking up a certificate");
		goto fail;
	}
	revoked = sqlite3_column_type(st, 0) != SQLITE_NULL;
	held = revoked && sqlite3_column_type(st, 1) != SQLITE_NULL &&
	    sqlite3_column_int(st, 1) == CA_CRL_HOLD;
	db_done(db, st);
	st = NULL;
	/* RFC 5280 5.3.1: removeFromCRL releases a hold; a hold may become a
	 * revocation; a revocation is final */
	if (reason == CA_CRL_REMOVE && !held) {
		rc = 3;
		goto fail;
	}
	if (revoked && (!held || reason == CA_CRL_HOLD)) {
		rc = 2;
		goto fail;
	}
	if (reason == CA_CRL_REMOVE) {
		if (db_prep(db, "UPDATE certs SET revoked_at = NULL, reason = NULL "
		    "WHERE serial = ?", &st, e) != 0)
			goto fail;
		bind_text(st, 1, h);
	} else {
		if (db_prep(db, "UPDATE certs SET revoked_at = ?, reason = ? "
		    "WHERE serial = ?", &st, e) != 0)
			goto fail;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		if (reason >= 0)
			sqlite3_bind_int(st, 2, reason);
		else
			sqlite3_bind_null(st, 2);
		bind_text(st, 3, h);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(db, e, "revoking");
		goto fail;
	}
	if (db_end(db, 1, e) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	db_end(db, 0, e);
out:
	db_done(db, st);
	pthread_mutex_unlock(&db->mu);
	free(h);
	return rc;
}

int
ca_db_is_revoked(struct ca_db *db, const char *serial, struct pk_err *e)
{
	struct ca_cert_rec r;
	int rc = ca_db_find_cert(db, serial, &r, e);

	if (rc == 1)
		pk_err_set(e, "no certificate with serial %s was issued", serial);
	if (rc != 0)
		return -1;
	rc = r.revoked ? 1 : 0;
	ca_cert_rec_clear(&r);
	return rc;
}

int
ca_db_count_certs(struct ca_db *db, long *n, struct pk_err *e)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&db->mu);
	if (db_prep(db, "SELECT count(*) FROM certs", &st, e) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*n = (long)sqlite3_column_int64(st, 0);
			rc = 0;
		} else
			db_fail(db, e, "counting certificates");
		db_done(db, st);
	}
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* ---- transactions ---- */

void
ca_txn_clear(struct ca_txn *t)
{
	if (t == NULL)
		return;
	free(t->tid);
	free(t->sender_nonce);
	free(t->server_nonce);
	free(t->cert_serial);
	free(t->request);
	free(t->profile);
	free(t->owner);
	memset(t, 0, sizeof(*t));
}

int
ca_db_txn_new(struct ca_db *db, const struct ca_txn *t, struct pk_err *e)
{
	sqlite3_stmt *st;
	int64_t now = (int64_t)time(NULL);
	int s, rc = -1;

	if (t->tid == NULL || *t->tid == '\0')
		return pk_err_set(e, "RFC 4210 5.1.1: a transaction needs a transactionID");
	pthread_mutex_lock(&db->mu);
	if (db_prep(db, "INSERT INTO transactions(tid, state, body_type, sender_nonce, "
	    "server_nonce, cert_serial, request, poll_count, created_at, updated_at, "
	    "profile, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st,
	    e) != 0)
		goto out;
	bind_text(st, 1, t->tid);
	bind_text(st, 2, ca_txn_state_name(t->state));
	sqlite3_bind_int(st, 3, t->body_type);
	bind_text(st, 4, t->sender_nonce);
	bind_text(st, 5, t->server_nonce);
	bind_text(st, 6, t->cert_serial);
	if (t->request != NULL)
		sqlite3_bind_blob(st, 7, t->request, (int)t->request_len,
		    SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int(st, 8, t->poll_count);
	sqlite3_bind_int64(st, 9, now);
	sqlite3_bind_int64(st, 10, now);
	bind_text(st, 11, t->profile);
	bind_text(st, 12, t->owner);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		rc = 0;
	else if ((s & 0xff) == SQLITE_CONSTRAINT)
		rc = 1;	/* RFC 4210 5.1.1: transactionIdInUse */
	else
		db_fail(db, e, "recording a transaction");
	db_done(db, st);
out:
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
ca_db_txn_get(struct ca_db *db, const char *tid, struct ca_txn *t,
    struct pk_err *e)
{
	sqlite3_stmt *st;
	char *state;
	int s, rc = -1;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&db->mu);
	if (db_prep(db, "SELECT tid, state, body_type, sender_nonce, server_nonce, "
	    "cert_serial, request, poll_count, created_at, updated_at, profile, "
	    "owner FROM transactions WHERE tid = ?", &st, e) != 0)
		goto out;
	bind_text(st, 1, tid);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		rc = 1;
	else if (s != SQLITE_ROW)
		db_fail(db, e, "looking up a transaction");
	else {
		t->tid = col_text(st, 0);
		state = col_text(st, 1);
		if (state_parse(state, &t->state) != 0) {
			pk_err_set(e, "transaction %s has an unknown state '%s'", tid,
			    state != NULL ? state : "");
			free(state);
			ca_txn_clear(t);
			db_done(db, st);
			goto out;
		}
		free(state);
		t->body_type = sqlite3_column_int(st, 2);
		t->sender_nonce = col_text(st, 3);
		t->server_nonce = col_text(st, 4);
		t->cert_serial = col_text(st, 5);
		t->request = col_blob(st, 6, &t->request_len);
		t->poll_count = sqlite3_column_int(st, 7);
		t->created = sqlite3_column_int64(st, 8);
		t->updated = sqlite3_column_int64(st, 9);
		t->profile = col_text(st, 10);
		if (t->profile == NULL)
			t->profile = xstrdup(CA_DEFAULT_PROFILE);
		t->owner = col_text(st, 11);
		rc = 0;
	}
	db_done(db, st);
out:
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
ca_db_txn_update(struct ca_db *db, const struct ca_txn *t, struct pk_err *e)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&db->mu);
	if (db_prep(db, "UPDATE transactions SET state = ?, sender_nonce = ?, "
	    "server_nonce = ?, cert_serial = ?, request = ?, poll_count = ?, "
	    "updated_at = ? WHERE tid = ?", &st, e) != 0)
		goto out;
	bind_text(st, 1, ca_txn_state_name(t->state));
	bind_text(st, 2, t->sender_nonce);
	bind_text(st, 3, t->server_nonce);
	bind_text(st, 4, t->cert_serial);
	if (t->request != NULL)
		sqlite3_bind_blob(st, 5, t->request, (int)t->request_len,
		    SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int(st, 6, t->poll_count);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	bind_text(st, 8, t->tid);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_fail(db, e, "updating a transaction");
	else
		rc = sqlite3_changes(db->db) == 0 ? 1 : 0;
	db_done(db, st);
out:
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
ca_db_txn_poll(struct ca_db *db, const char *tid, int *count, struct pk_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	pthread_mutex_lock(&db->mu);
	if (db_begin(db, e) != 0)
		goto out;
	if (db_prep(db, "UPDATE transactions SET poll_count = poll_count + 1, "
	    "updated_at = ? WHERE tid = ?", &st, e) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	bind_text(st, 2, tid);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(db, e, "counting a poll");
		goto fail;
	}
	if (sqlite3_changes(db->db) == 0) {
		rc = 1;
		goto fail;
	}
	db_done(db, st);
	if (db_prep(db, "SELECT poll_count FROM transactions WHERE tid = ?", &st, e) != 0)
		goto fail;
	bind_text(st, 1, tid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_fail(db, e, "counting a poll");
		goto fail;
	}
	*count = sqlite3_column_int(st, 0);
	if (db_end(db, 1, e) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	db_end(db, 0, e);
out:
	db_done(db, st);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* Runs SQL (one statement) with NOW and AGE bound to ?1 and ?2; *n gets the
 * rows it changed. Inside the caller's SQL transaction. */
static int
sweep_step(struct ca_db *db, const char *sql, int64_t now, int64_t age,
    long *n, struct pk_err *e)
{
	sqlite3_stmt *st = NULL;

	if (db_prep(db, sql, &st, e) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)age);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_done(db, st);
		return db_fail(db, e, "sweeping transactions");
	}
	db_done(db, st);
	if (n != NULL)
		*n = sqlite3_changes(db->db);
	return 0;
}

int
ca_db_txn_sweep(struct ca_db *db, int64_t now, int64_t wait, int64_t retention,
    long *revoked, long *pruned, struct pk_err *e)
{
	int rc = -1;

	*revoked = *pruned = 0;
	pthread_mutex_lock(&db->mu);
	if (db_begin(db, e) != 0)
		goto out;
	/* RFC 4210 5.1.1.2 / 5.3.18: a certificate delivered (or waiting to be
	 * polled for) and not confirmed within the wait is revoked
	 * (unspecified), its transaction expired */
	if (sweep_step(db, "UPDATE certs SET revoked_at = ?1, reason = 0 WHERE "
	    "revoked_at IS NULL AND serial IN (SELECT cert_serial FROM "
	    "transactions WHERE state IN ('issued', 'polling') AND "
	    "updated_at < ?1 - ?2 AND cert_serial IS NOT NULL)", now, wait,
	    revoked, e) != 0 ||
	    sweep_step(db, "UPDATE transactions SET state = 'expired', "
	    "updated_at = ?1 WHERE state IN ('issued', 'polling') AND "
	    "updated_at < ?1 - ?2", now, wait, NULL, e) != 0 ||
	    /* a finished transaction needs its request no more (rows of the
	     * last wait are left: a request being answered is 'rejected' until
	     * it is done) */
	    sweep_step(db, "UPDATE transactions SET request = NULL WHERE state "
	    "IN ('confirmed', 'rejected', 'closed', 'expired') AND request IS "
	    "NOT NULL AND updated_at < ?1 - ?2", now, wait, NULL, e) != 0 ||
	    sweep_step(db, "DELETE FROM transactions WHERE state IN "
	    "('confirmed', 'rejected', 'closed', 'expired') AND updated_at < "
	    "?1 - ?2", now, retention, pruned, e) != 0) {
		db_end(db, 0, e);
		goto out;
	}
	if (db_end(db, 1, e) != 0)
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&db->mu);
	return rc;
}
