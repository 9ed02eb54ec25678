/*
 * bench_ca (make bench): what cmpca's protocol core costs per issuance, beside
 * its crypto floor measured in the same run with the same keys and parameters.
 *
 * A transaction is what a device sends for a MAC-protected IR: ir, then
 * certConf, both handed to ca_server_handle() as DER (the HTTP front is left
 * out: it is measured by cmpload against the running cmpca). The client's
 * messages are built before the clock starts; only the server's CPU is timed
 * (the thread's CPU clock around ca_server_handle).
 *
 * The floor is the cryptography such a transaction cannot avoid: one ECDSA
 * P-256 signature (the certificate), one ECDSA verification (the POP, RFC 4211
 * 4.1), four PBM computations at the client's parameters (verify ir, protect
 * ip, verify certConf, protect pkiConf; RFC 4210 5.1.3.1).
 *
 * Beside it, what an implementation on OpenSSL 3.0 and a durable database
 * cannot avoid either: one decode of the request, and one commit per message
 * (ir, certConf).
 *
 * Output: lines "name: value unit" for the bench table, with the ratios. Usage: bench_ca [-n N] [-t THREADS] (the throughput of 1..THREADS
 * worker threads, each its own transactions on one shared server).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <sqlite3.h>

#include "../ca/ca.h"
#include "../cmp/cmp.h"

#define SECRET	"bench-secret"
#define REF	"bench"

static double
thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, const struct pk_err *e)
{
	fprintf(stderr, "bench_ca: %s: %s\n", what, e != NULL ? e->msg : "failed");
	exit(1);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* An ir for a fresh P-256 key, PBM-protected, as DER; *KEY gets the key. */
static void
make_ir(int i, unsigned char **der, size_t *len, EVP_PKEY **key)
{
	struct cmp_hdr h;
	struct cmp_certreq r;
	X509_NAME *subj = X509_NAME_new();
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;
	char cn[32];

	snprintf(cn, sizeof(cn), "bench%d", i);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	if ((*key = EVP_EC_gen("P-256")) == NULL)
		die("key", NULL);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	memset(&r, 0, sizeof(r));
	r.subject = subj;
	r.key = *key;
	if (cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e) != 0 ||
	    cmp_msg_protect_pbm(m, SECRET, strlen(SECRET), NULL, &e) != 0 ||
	    cmp_msg_encode(m, der, len, &e) != 0)
		die("ir", &e);
	CMP_PKIMESSAGE_free(m);
	X509_NAME_free(subj);
}

/* The certConf answering the ip RSP (DER), as DER. */
static void
make_certconf(const unsigned char *rsp, size_t rlen, unsigned char **der,
    size_t *len)
{
	CMP_PKIMESSAGE *ip = NULL, *m = NULL;
	const ASN1_OCTET_STRING *tid, *sn;
	CMP_CERTRESPONSE *r;
	struct cmp_hdr h;
	struct pk_err e;

	if (cmp_msg_decode(rsp, rlen, &ip, &e) != 0)
		die("ip", &e);
	if (cmp_msg_body_type(ip) != CMP_BODY_IP ||
	    (r = cmp_rep_get0(ip, 0)) == NULL || cmp_certresp_get0_cert(r) == NULL)
		die("the CA did not issue", NULL);
	tid = cmp_msg_get0_transaction_id(ip);
	sn = cmp_msg_get0_sender_nonce(ip);
	memset(&h, 0, sizeof(h));
	h.sender_kid = (const unsigned char *)REF;
	h.sender_kid_len = strlen(REF);
	h.transaction_id = ASN1_STRING_get0_data(tid);
	h.transaction_id_len = (size_t)ASN1_STRING_length(tid);
	h.recip_nonce = ASN1_STRING_get0_data(sn);
	h.recip_nonce_len = (size_t)ASN1_STRING_length(sn);
	if (cmp_build_certconf(&h, cmp_certresp_get0_cert(r), 0,
	    CMP_STATUS_ACCEPTED, 0, NULL, &m, &e) != 0 ||
	    cmp_msg_protect_pbm(m, SECRET, strlen(SECRET), NULL, &e) != 0 ||
	    cmp_msg_encode(m, der, len, &e) != 0)
		die("certConf", &e);
	CMP_PKIMESSAGE_free(m);
	CMP_PKIMESSAGE_free(ip);
}

/* One transaction: ir then certConf; returns the server's CPU seconds. */
static double
transaction(struct ca_server *srv, const unsigned char *ir, size_t irlen)
{
	unsigned char *rsp = NULL, *cc = NULL, *conf = NULL;
	size_t rlen = 0, cclen = 0, clen = 0;
	double t0, cpu;

	t0 = thread_cpu_s();
	if (ca_server_handle(srv, &(struct ca_req){ NULL, NULL, ir, irlen },
	    &rsp, &rlen) != 0)
		die("ca_server_handle(ir)", NULL);
	cpu = thread_cpu_s() - t0;
	make_certconf(rsp, rlen, &cc, &cclen);
	t0 = thread_cpu_s();
	if (ca_server_handle(srv, &(struct ca_req){ NULL, NULL, cc, cclen },
	    &conf, &clen) != 0)
		die("ca_server_handle(certConf)", NULL);
	cpu += thread_cpu_s() - t0;
	if (cmp_msg_peek_body_type(conf, clen) != CMP_BODY_PKICONF)
		die("no pkiConf", NULL);
	free(rsp);
	free(conf);
	OPENSSL_free(cc);
	return cpu;
}

/* The floor: the cryptography of one transaction, in this process, with a
 * CA-like key and the client's PBM parameters; CPU seconds, median of N. */
static double
floor_s(const unsigned char *ir, size_t irlen, int n)
{
	EVP_PKEY *cakey = EVP_EC_gen("P-256"), *eekey = EVP_EC_gen("P-256");
	CMP_PKIMESSAGE *m = NULL;
	unsigned char tbs[300], sig[80], pop[80];
	size_t poplen = sizeof(pop);
	double *v = calloc((size_t)n, sizeof(*v)), r;
	struct pk_err e;

	if (cakey == NULL || eekey == NULL || v == NULL ||
	    cmp_msg_decode(ir, irlen, &m, &e) != 0)
		die("floor", NULL);
	memset(tbs, 0x5a, sizeof(tbs));
	/* the requester's POP signature, made before the clock (not the CA's) */
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, eekey) != 1 ||
		    EVP_DigestSign(ctx, pop, &poplen, tbs, 200) != 1)
			die("pop sign", NULL);
		EVP_MD_CTX_free(ctx);
	}
	for (int i = 0; i < n; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		size_t slen = sizeof(sig);
		double t0 = thread_cpu_s();

		/* the certificate's signature */
		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, cakey) != 1 ||
		    EVP_DigestSign(ctx, sig, &slen, tbs, sizeof(tbs)) != 1)
			die("sign", NULL);
		EVP_MD_CTX_reset(ctx);
		/* the POP's verification */
		if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, eekey) != 1 ||
		    EVP_DigestVerify(ctx, pop, poplen, tbs, 200) != 1)
			die("pop verify", NULL);
		/* four PBM computations (verify ir, protect ip, verify certConf,
		 * protect pkiConf) at the ir's parameters */
		for (int k = 0; k < 4; k++)
			if (cmp_msg_verify_pbm(m, SECRET, strlen(SECRET), NULL, &e) != 0)
				die("pbm", &e);
		v[i] = thread_cpu_s() - t0;
		EVP_MD_CTX_free(ctx);
	}
	r = median(v, (size_t)n);
	free(v);
	CMP_PKIMESSAGE_free(m);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(eekey);
	return r;
}

/* What cannot be avoided beside the cryptography, CPU seconds, median of N:
 * decoding the request once (OpenSSL 3.0 sets up a key decoder for its
 * publicKey), and one durable commit (SQLite WAL, synchronous=FULL, as the
 * CA's database: the fsync costs CPU in the kernel too) in DIR. */
static double
decode_floor_s(const unsigned char *ir, size_t irlen, int n)
{
	double *v = calloc((size_t)n, sizeof(*v)), r;
	struct pk_err e;

	for (int i = 0; i < n; i++) {
		CMP_PKIMESSAGE *m = NULL;
		double t0 = thread_cpu_s();

		if (cmp_msg_decode(ir, irlen, &m, &e) != 0)
			die("decode", &e);
		v[i] = thread_cpu_s() - t0;
		CMP_PKIMESSAGE_free(m);
	}
	r = median(v, (size_t)n);
	free(v);
	return r;
}

static double
commit_floor_s(const char *dir, int n)
{
	char path[256];
	sqlite3 *db = NULL;
	double *v = calloc((size_t)n, sizeof(*v)), r;

	snprintf(path, sizeof(path), "%s/floor.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
	    "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)", NULL, NULL,
	    NULL) != SQLITE_OK)
		die("sqlite", NULL);
	for (int i = 0; i < n; i++) {
		double t0 = thread_cpu_s();

		if (sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t(v) "
		    "VALUES (randomblob(600)); COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			die("sqlite commit", NULL);
		v[i] = thread_cpu_s() - t0;
	}
	sqlite3_close(db);
	r = median(v, (size_t)n);
	free(v);
	return r;
}

struct worker {
	struct ca_server *srv;
	unsigned char **ir;
	size_t *irlen;
	int from, to;
};

static void *
work(void *arg)
{
	struct worker *w = arg;

	for (int i = w->from; i < w->to; i++)
		transaction(w->srv, w->ir[i], w->irlen[i]);
	return NULL;
}

/* Transactions per second of THREADS threads sharing SRV over IR[FROM..TO). */
static double
throughput(struct ca_server *srv, unsigned char **ir, size_t *irlen, int from,
    int to, int threads)
{
	pthread_t tid[16];
	struct worker w[16];
	int per = (to - from) / threads;
	double t0 = pk_mono_s();

	for (int t = 0; t < threads; t++) {
		w[t] = (struct worker){ srv, ir, irlen, from + t * per,
		    from + (t + 1) * per };
		if (pthread_create(&tid[t], NULL, work, &w[t]) != 0)
			die("pthread_create", NULL);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return per * threads / (pk_mono_s() - t0);
}

int
main(int argc, char **argv)
{
	int n = 200, maxthreads = 2, opt;
	char dir[] = "/tmp/pkish-bench-ca.XXXXXX", cmd[96];
	struct ca_config cfg;
	struct ca *ca = NULL;
	struct ca_server *srv = NULL;
	struct pk_err e;
	unsigned char **ir;
	size_t *irlen;
	EVP_PKEY **keys;
	double *cpu, med, fl, tp1 = 0;
	int used = 0;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 't')
			maxthreads = atoi(optarg);
		else {
			fprintf(stderr, "usage: bench_ca [-n N] [-t THREADS]\n");
			return 2;
		}
	}
	if (n < 20 || maxthreads < 1 || maxthreads > 16) {
		fprintf(stderr, "bench_ca: -n at least 20, -t 1..16\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL)
		die(dir, NULL);
	ca_config_init(&cfg);
	snprintf(cmd, sizeof(cmd), "%s/ca", dir);
	cfg.dir = cmd;
	cfg.def.secret = SECRET;
	cfg.def.ref = REF;
	if (ca_config_check(&cfg, &e) != 0 || ca_open(&ca, &cfg, &e) != 0 ||
	    ca_server_new(&srv, ca, &e) != 0)
		die("cmpca", &e);
	/* requests for the single-thread run and for each thread count */
	{
		int total = n + n * (maxthreads * (maxthreads + 1) / 2);

		ir = calloc((size_t)total, sizeof(*ir));
		irlen = calloc((size_t)total, sizeof(*irlen));
		keys = calloc((size_t)total, sizeof(*keys));
		cpu = calloc((size_t)n, sizeof(*cpu));
		for (int i = 0; i < total; i++)
			make_ir(i, &ir[i], &irlen[i], &keys[i]);
		for (int i = 0; i < 5; i++)	/* warm up: first-use look-ups */
			transaction(srv, ir[i], irlen[i]);
		for (int i = 5; i < n; i++)
			cpu[i - 5] = transaction(srv, ir[i], irlen[i]);
		used = n;
		med = median(cpu, (size_t)(n - 5));
		fl = floor_s(ir[0], irlen[0], 50);
		printf("ca cpu per ir transaction: %.3f ms (median of %d)\n",
		    med * 1e3, n - 5);
		printf("crypto floor per ir transaction: %.3f ms (1 ECDSA sign, "
		    "1 verify, 4 PBM at the ir's parameters)\n", fl * 1e3);
		printf("ca cpu / floor: %.2f\n", med / fl);
		{
			double dec = decode_floor_s(ir[0], irlen[0], 50);
			double com = commit_floor_s(dir, 50);
			double all = fl + dec + 2 * com;

			printf("request decode (ir, once): %.3f ms; durable commit: "
			    "%.3f ms\n", dec * 1e3, com * 1e3);
			printf("floor with one decode and one commit per message: "
			    "%.3f ms\n", all * 1e3);
			printf("ca cpu / that floor: %.2f\n", med / all);
		}
		for (int t = 1; t <= maxthreads; t++) {
			double tp = throughput(srv, ir, irlen, used, used + n * t, t);

			used += n * t;
			if (t == 1)
				tp1 = tp;
			printf("ca throughput, %d thread%s: %.0f transactions/s "
			    "(%.2fx one thread)\n", t, t > 1 ? "s" : "", tp,
			    tp / tp1);
		}
		for (int i = 0; i < total; i++) {
			OPENSSL_free(ir[i]);
			EVP_PKEY_free(keys[i]);
		}
	}
	free(ir);
	free(irlen);
	free(keys);
	free(cpu);
	ca_server_free(srv);
	ca_close(ca);
	ca_config_clear(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_ca: cannot remove %s\n", dir);
	return 0;
}
