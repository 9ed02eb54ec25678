/*
 * cmpload: a load generator for CMP servers (RFC 4210 over HTTP, RFC 6712) on
 * our own client engine (cmp/cmp.h: cmp_client_run, every response check on).
 *
 *   cmpload --url URL [--clients N] [--count N | --duration S] [--flow FLOW]
 *           [--ref REF --secret-file F | --secret-env VAR] ...
 *
 * N client threads each run transactions one after another, so N are in flight
 * at once. A transaction is the whole exchange (request, certConf, pkiConf, or
 * the implicitly confirmed one), on one kept-alive connection. Flows: `ir` (MAC
 * IR), `cr` / `kur` (one MAC IR per client, then CRs signed by its certificate /
 * KURs each signed by the certificate the previous one returned, with a new key
 * pair), `ir+cr` / `ir+kur` (each iteration a MAC IR, then a CR / KUR signed by
 * the certificate that IR returned). Each request certifies a new key pair (EC
 * P-256, or RSA 2048), or the one key of --key: the openssl mock CA (`openssl cmp
 * -port`) answers with one fixed certificate, whose key --key gives, so that the
 * engine's check that the certificate holds the requested key passes.
 *
 * Reports transactions per second, latency percentiles (p50 p90 p99 max, per
 * request type and overall), errors grouped by cause, the client's CPU per
 * transaction and, with --server-pid, the server's (utime + stime of
 * /proc/PID/stat before and after). --json prints the same as one JSON object.
 * --cert-log appends every certificate received in an ip/cp/kup, PEM, each after
 * a line "cmpload: TYPE confirmed|unconfirmed serial HEX client N" (unconfirmed:
 * the transaction failed after the certificate arrived).
 *
 * The shared secret never comes from the command line (it would be visible in
 * ps): --secret-file (the first line of a file, e.g. cmpca's DIR/secret) or
 * --secret-env. After a failed transaction a client pauses 10 ms, so that a
 * server that is down is not spun against. SIGINT / SIGTERM stop new
 * transactions; the report follows.
 *
 * Exit status: 0 every transaction succeeded, 1 some failed, 2 usage or set-up
 * error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "../cmp/cmp.h"

#ifndef PKISH_VERSION
#error "PKISH_VERSION comes from the Makefile (the file VERSION)"
#endif

#define DEFAULT_CLIENTS		1
#define DEFAULT_COUNT		10
#define DEFAULT_TIMEOUT		30	/* seconds, per transaction */
#define MAX_CLIENTS		1000
#define MAX_CAUSES		64	/* distinct error texts kept; more: "other" */
#define SECRET_MAX		1024
#define FAIL_PAUSE_MS		10	/* after a failed transaction */

enum flow { FLOW_IR, FLOW_CR, FLOW_KUR, FLOW_IR_CR, FLOW_IR_KUR };
static const char *flow_names[] = { "ir", "cr", "kur", "ir+cr", "ir+kur" };

/* request types reported apart */
enum rtype { RT_IR, RT_CR, RT_KUR, RT_N };
static const char *rtype_names[] = { "ir", "cr", "kur" };

struct opts {
	const char *url;
	int clients;
	long count;			/* iterations per client; 0: no limit */
	double duration;		/* seconds; 0: no limit */
	enum flow flow;
	const char *ref;
	unsigned char *secret;
	size_t secret_len;
	EVP_PKEY *key;			/* --key: certify this one every time */
	int rsa;			/* --key-type rsa */
	STACK_OF(X509) *trusted;	/* --trusted */
	int implicit_confirm;
	int timeout;
	long server_pid;		/* 0: none */
	int json;
	FILE *cert_log;
};

/* latencies of one request type, ms */
struct lat {
	double *v;
	size_t n, cap;
};

struct worker {
	int id;
	pthread_t th;
	const struct opts *o;
	struct lat lat[RT_N];
	long ok[RT_N], failed[RT_N];
	long iter;			/* iterations begun */
	X509 *seen;			/* last certificate of an ip/cp/kup (trace) */
	/* the identity signing cr/kur: certificate and key */
	X509 *cert;
	EVP_PKEY *cert_key;
};

/* ---- shared state ---- */

static atomic_int stop_flag;		/* a signal, the duration, or a fatal error */
static atomic_int running;		/* workers not finished */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;	/* causes, cert log */
static struct cause {
	char *text;
	long n;
} causes[MAX_CAUSES + 1];		/* the last one: "other" */
static int ncauses;
static pthread_mutex_t go_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static int go;				/* the clients start together */
static double t_start, t_deadline;
static const struct timespec fail_pause = { 0, FAIL_PAUSE_MS * 1000 * 1000 };

static void
usage(FILE *f)
{
	fprintf(f,
"usage: cmpload --url URL [options]\n"
"  --url URL               the CMP server (http:// or https://)\n"
"  --clients N             concurrent clients, each one transaction at a time\n"
"                          (default %d, at most %d)\n"
"  --count N               iterations per client (default %d; 0: no limit)\n"
"  --duration S            stop starting transactions after S seconds (0.5:\n"
"                          half a second)\n"
"  --flow FLOW             ir (default), cr, kur, ir+cr or ir+kur: ir is MAC\n"
"                          protected; cr and kur are signed with the certificate\n"
"                          of a first ir (kur: of the previous kur); ir+cr and\n"
"                          ir+kur pair every ir with a cr or kur it signs\n"
"  --ref REF               MAC reference (senderKID) for ir\n"
"  --secret-file FILE      MAC secret: the first line of FILE\n"
"  --secret-env VAR        MAC secret: the environment variable VAR\n"
"  --key FILE              certify this key pair (PEM) in every request instead\n"
"                          of a new one (a CA that answers with a fixed\n"
"                          certificate, such as the openssl mock, needs its key)\n"
"  --key-type ec|rsa       new key pairs: EC P-256 (default) or RSA 2048\n"
"  --trusted FILE          CA certificates (PEM) for signed responses, issued\n"
"                          certificates and https\n"
"  --implicit-confirm      ask the server to skip certConf\n"
"  --timeout S             per transaction (default %d)\n"
"  --server-pid PID        report the server's CPU time per transaction\n"
"  --cert-log FILE         append every certificate received (PEM)\n"
"  --json                  print the report as one JSON object\n"
"  --help, --version\n"
"Exit status: 0 all transactions succeeded, 1 some failed, 2 usage or set-up\n"
"error.\n",
	    DEFAULT_CLIENTS, MAX_CLIENTS, DEFAULT_COUNT, DEFAULT_TIMEOUT);
}

/* ---- results ---- */

static void
lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ms;
}

static void
count_error(const char *text)
{
	int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncauses; i++)
		if (strcmp(causes[i].text, text) == 0)
			break;
	if (i == ncauses) {
		/* a new cause; once the table is full i is MAX_CAUSES, "other" */
		if (ncauses < MAX_CAUSES)
			causes[ncauses++].text = xstrdup(text);
		else if (causes[MAX_CAUSES].text == NULL)
			causes[MAX_CAUSES].text = xstrdup("other causes");
	}
	causes[i].n++;
	pthread_mutex_unlock(&mu);
}

static void
log_cert(struct worker *w, enum rtype t, int confirmed, X509 *x)
{
	BIGNUM *bn;
	char *hex;

	if (w->o->cert_log == NULL || x == NULL)
		return;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	pthread_mutex_lock(&mu);
	fprintf(w->o->cert_log, "cmpload: %s %s serial %s client %d\n",
	    rtype_names[t], confirmed ? "confirmed" : "unconfirmed",
	    hex != NULL ? hex : "?", w->id);
	PEM_write_X509(w->o->cert_log, x);
	fflush(w->o->cert_log);
	pthread_mutex_unlock(&mu);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* ---- one transaction ---- */

/* cmp_client_cfg.trace: keeps the certificate of an ip/cp/kup as it arrives,
 * so that one received by a transaction that fails later is logged too. */
static void
trace(void *arg, int sent, const CMP_PKIMESSAGE *m)
{
	struct worker *w = arg;
	CMP_CERTRESPONSE *r;
	X509 *x;

	if (sent || cmp_rep_count(m) < 1 || (r = cmp_rep_get0(m, 0)) == NULL ||
	    (x = cmp_certresp_get0_cert(r)) == NULL || !X509_up_ref(x))
		return;
	X509_free(w->seen);
	w->seen = x;
}

static int
should_stop(void *arg)
{
	(void)arg;
	return atomic_load(&stop_flag);
}

static EVP_PKEY *
new_key(const struct opts *o)
{
	EVP_PKEY *k;

	if (o->key != NULL) {
		EVP_PKEY_up_ref(o->key);
		return o->key;
	}
	k = o->rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ERR_clear_error();
	return k;
}

/* Runs one transaction of type T for W, iteration ITER. On success the new
 * certificate and its key are handed to *cert / *key (when not NULL). */
static int
transaction(struct worker *w, enum rtype t, long iter, X509 **cert,
    EVP_PKEY **key)
{
	const struct opts *o = w->o;
	struct cmp_client_cfg cfg;
	struct cmp_client_result res;
	struct pk_err e;
	X509_NAME *subject = NULL;
	EVP_PKEY *k = new_key(o);
	char cn[64];
	double t0;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	memset(&cfg, 0, sizeof(cfg));
	pk_err_clear(&e);
	if (t == RT_IR) {
		/* a name that tells the requests apart in the server's records */
		snprintf(cn, sizeof(cn), "cmpload-%d-%ld", w->id, iter);
		if ((subject = X509_NAME_new()) == NULL ||
		    !X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
		    (const unsigned char *)"pkish", -1, -1, 0) ||
		    !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
		    (const unsigned char *)cn, -1, -1, 0)) {
			pk_err_ossl(&e, "cannot make the subject");
			goto failed;
		}
		cfg.subject = subject;
		cfg.use_mac = 1;
		cfg.ref = o->ref;
		cfg.secret = o->secret;
		cfg.secret_len = o->secret_len;
	} else {
		/* RFC 4210 5.3.3/5.3.5: the certificate that signs names the
		 * subject (as the device does) */
		cfg.subject = X509_get_subject_name(w->cert);
		cfg.auth_cert = w->cert;
		cfg.auth_key = w->cert_key;
	}
	if (k == NULL) {
		pk_err_set(&e, "cannot make a key pair");
		goto failed;
	}
	cfg.url = o->url;
	cfg.key = k;
	cfg.trusted = o->trusted;
	cfg.implicit_confirm = o->implicit_confirm;
	cfg.timeout = o->timeout;
	cfg.should_stop = should_stop;
	cfg.trace = trace;
	cfg.trace_arg = w;
	t0 = pk_mono_s();
	if (cmp_client_run(t == RT_IR ? CMP_BODY_IR : t == RT_CR ? CMP_BODY_CR :
	    CMP_BODY_KUR, &cfg, &res, &e) != 0) {
		log_cert(w, t, 0, w->seen);
		goto failed;
	}
	lat_add(&w->lat[t], (pk_mono_s() - t0) * 1000);
	w->ok[t]++;
	log_cert(w, t, 1, res.cert);
	if (cert != NULL) {
		*cert = res.cert;
		res.cert = NULL;
		*key = k;
		k = NULL;
	}
	rc = 0;
	goto out;
failed:
	w->failed[t]++;
	count_error(e.msg);
	/* a server that is down refuses at once: do not spin against it */
	nanosleep(&fail_pause, NULL);
out:
	X509_free(w->seen);
	w->seen = NULL;
	cmp_client_result_clear(&res);
	X509_NAME_free(subject);
	EVP_PKEY_free(k);
	return rc;
}

/* The identity for cr/kur becomes CERT with KEY (taken). */
static void
set_identity(struct worker *w, X509 *cert, EVP_PKEY *key)
{
	X509_free(w->cert);
	EVP_PKEY_free(w->cert_key);
	w->cert = cert;
	w->cert_key = key;
}

static int
more(struct worker *w)
{
	if (atomic_load(&stop_flag))
		return 0;
	if (w->o->count > 0 && w->iter >= w->o->count)
		return 0;
	if (t_deadline > 0 && pk_mono_s() >= t_deadline)
		return 0;
	return 1;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	enum rtype second = o->flow == FLOW_CR || o->flow == FLOW_IR_CR ? RT_CR :
	    RT_KUR;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;

	pthread_mutex_lock(&go_mu);
	while (!go)
		pthread_cond_wait(&go_cv, &go_mu);
	pthread_mutex_unlock(&go_mu);
	/* cr and kur flows: one ir first gives the identity that signs */
	if (o->flow == FLOW_CR || o->flow == FLOW_KUR) {
		while (w->cert == NULL && more(w)) {
			if (transaction(w, RT_IR, -1, &cert, &key) == 0)
				set_identity(w, cert, key);
			else
				w->iter++;	/* a failed set-up counts as a try */
		}
	}
	for (; more(w); w->iter++) {
		switch (o->flow) {
		case FLOW_IR:
			transaction(w, RT_IR, w->iter, NULL, NULL);
			break;
		case FLOW_CR:
			transaction(w, RT_CR, w->iter, NULL, NULL);
			break;
		case FLOW_KUR:
			/* the new certificate (new key) signs the next kur */
			if (transaction(w, RT_KUR, w->iter, &cert, &key) == 0)
				set_identity(w, cert, key);
			break;
		case FLOW_IR_CR:
		case FLOW_IR_KUR:
			if (transaction(w, RT_IR, w->iter, &cert, &key) != 0)
				break;
			set_identity(w, cert, key);
			if (!atomic_load(&stop_flag))
				transaction(w, second, w->iter, NULL, NULL);
			break;
		}
	}
	atomic_fetch_sub(&running, 1);
	return NULL;
}

/* ---- reading options ---- */

static int
parse_long(const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "cmpload: %s: '%s' is not a number from %ld to %ld\n",
		    opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* A duration in seconds, decimals allowed ("0.5"), more than 0. */
static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v > 0) ||
	    v > 86400.0 * 365) {
		fprintf(stderr, "cmpload: --duration: '%s' is not a number of seconds "
		    "(more than 0, decimals allowed)\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The first line of FILE, without its line end. */
static int
read_secret_file(struct opts *o, const char *file)
{
	FILE *f = fopen(file, "r");
	char buf[SECRET_MAX + 2];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "cmpload: --secret-file %s: %s\n", file,
		    strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0 || n > SECRET_MAX) {
		OPENSSL_cleanse(buf, sizeof(buf));
		fprintf(stderr, "cmpload: --secret-file %s: %s\n", file, n == 0 ?
		    "the first line is empty" : "the secret is too long");
		return -1;
	}
	o->secret = (unsigned char *)xstrdup(buf);
	o->secret_len = n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int
read_key(struct opts *o, const char *file)
{
	FILE *f = fopen(file, "r");

	if (f == NULL) {
		fprintf(stderr, "cmpload: --key %s: %s\n", file, strerror(errno));
		return -1;
	}
	o->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (o->key == NULL) {
		fprintf(stderr, "cmpload: --key %s: not an unencrypted PEM private "
		    "key\n", file);
		return -1;
	}
	return 0;
}

static int
read_trusted(struct opts *o, const char *file)
{
	FILE *f = fopen(file, "r");
	X509 *x;

	if (f == NULL) {
		fprintf(stderr, "cmpload: --trusted %s: %s\n", file, strerror(errno));
		return -1;
	}
	if (o->trusted == NULL)
		o->trusted = sk_X509_new_null();
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(o->trusted, x);
	fclose(f);
	ERR_clear_error();
	if (sk_X509_num(o->trusted) == 0) {
		fprintf(stderr, "cmpload: --trusted %s: no PEM certificate\n", file);
		return -1;
	}
	return 0;
}

enum {
	O_URL = 256, O_CLIENTS, O_COUNT, O_DURATION, O_FLOW, O_REF, O_SECRET_FILE,
	O_SECRET_ENV, O_KEY, O_KEY_TYPE, O_TRUSTED, O_IMPLICIT, O_TIMEOUT,
	O_SERVER_PID, O_CERT_LOG, O_JSON, O_HELP, O_VERSION
};

static const struct option longopts[] = {
	{ "url", required_argument, NULL, O_URL },
	{ "clients", required_argument, NULL, O_CLIENTS },
	{ "count", required_argument, NULL, O_COUNT },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "flow", required_argument, NULL, O_FLOW },
	{ "ref", required_argument, NULL, O_REF },
	{ "secret-file", required_argument, NULL, O_SECRET_FILE },
	{ "secret-env", required_argument, NULL, O_SECRET_ENV },
	{ "key", required_argument, NULL, O_KEY },
	{ "key-type", required_argument, NULL, O_KEY_TYPE },
	{ "trusted", required_argument, NULL, O_TRUSTED },
	{ "implicit-confirm", no_argument, NULL, O_IMPLICIT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "server-pid", required_argument, NULL, O_SERVER_PID },
	{ "cert-log", required_argument, NULL, O_CERT_LOG },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* 0 parsed, 1 --help/--version done, -1 usage error (message printed). */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	long v;
	int ch, f, count_given = 0;
	const char *s;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_URL: o->url = optarg; break;
		case O_CLIENTS:
			if (parse_long("--clients", optarg, 1, MAX_CLIENTS, &v) != 0)
				return -1;
			o->clients = (int)v;
			break;
		case O_COUNT:
			if (parse_long("--count", optarg, 0, LONG_MAX / 2, &v) != 0)
				return -1;
			o->count = v;
			count_given = 1;
			break;
		case O_DURATION:
			if (parse_seconds(optarg, &o->duration) != 0)
				return -1;
			break;
		case O_FLOW:
			for (f = 0; f < (int)(sizeof(flow_names) /
			    sizeof(flow_names[0])); f++)
				if (strcmp(optarg, flow_names[f]) == 0)
					break;
			if (f == (int)(sizeof(flow_names) / sizeof(flow_names[0]))) {
				fprintf(stderr, "cmpload: --flow takes ir, cr, kur, "
				    "ir+cr or ir+kur, not '%s'\n", optarg);
				return -1;
			}
			o->flow = (enum flow)f;
			break;
		case O_REF: o->ref = optarg; break;
		case O_SECRET_FILE:
		case O_SECRET_ENV:
			if (o->secret != NULL) {
				fprintf(stderr, "cmpload: one secret: --secret-file or "
				    "--secret-env\n");
				return -1;
			}
			if (ch == O_SECRET_FILE) {
				if (read_secret_file(o, optarg) != 0)
					return -1;
				break;
			}
			if ((s = getenv(optarg)) == NULL || *s == '\0') {
				fprintf(stderr, "cmpload: --secret-env: the environment "
				    "variable %s is not set or empty\n", optarg);
				return -1;
			}
			o->secret = (unsigned char *)xstrdup(s);
			o->secret_len = strlen(s);
			break;
		case O_KEY:
			if (o->key != NULL || read_key(o, optarg) != 0)
				return -1;
			break;
		case O_KEY_TYPE:
			if (strcmp(optarg, "ec") == 0)
				o->rsa = 0;
			else if (strcmp(optarg, "rsa") == 0)
				o->rsa = 1;
			else {
				fprintf(stderr, "cmpload: --key-type takes ec or rsa, "
				    "not '%s'\n", optarg);
				return -1;
			}
			break;
		case O_TRUSTED:
			if (read_trusted(o, optarg) != 0)
				return -1;
			break;
		case O_IMPLICIT: o->implicit_confirm = 1; break;
		case O_TIMEOUT:
			if (parse_long("--timeout", optarg, 1, 3600, &v) != 0)
				return -1;
			o->timeout = (int)v;
			break;
		case O_SERVER_PID:
			if (parse_long("--server-pid", optarg, 1, INT_MAX, &v) != 0)
				return -1;
			o->server_pid = v;
			break;
		case O_CERT_LOG:
			if (o->cert_log != NULL)
				fclose(o->cert_log);
			if ((o->cert_log = fopen(optarg, "a")) == NULL) {
				fprintf(stderr, "cmpload: --cert-log %s: %s\n", optarg,
				    strerror(errno));
				return -1;
			}
			break;
		case O_JSON: o->json = 1; break;
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			printf("cmpload (pkish) %s\n", PKISH_VERSION);
			return 1;
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "cmpload: unknown option -%c\n", optopt);
			else if (optopt >= O_URL)
				fprintf(stderr, "cmpload: %s needs an argument\n",
				    argv[optind - 1]);
			else
				fprintf(stderr, "cmpload: unknown option %s\n",
				    argv[optind - 1]);
			fprintf(stderr, "Try 'cmpload --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cmpload: unexpected argument '%s' (a secret is given "
		    "with --secret-file or --secret-env)\nTry 'cmpload --help'.\n",
		    argv[optind]);
		return -1;
	}
	if (o->url == NULL) {
		fprintf(stderr, "cmpload: --url is required\nTry 'cmpload --help'.\n");
		return -1;
	}
	/* every flow starts with ir: MAC protection needs both */
	if (o->ref == NULL || o->secret == NULL) {
		fprintf(stderr, "cmpload: the ir of every flow is MAC-protected: "
		    "give --ref and --secret-file or --secret-env\n");
		return -1;
	}
	if (o->duration > 0 && !count_given)
		o->count = 0;	/* the duration alone bounds the run */
	return 0;
}

/* ---- the report ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile P (0..100] of sorted V[N]. */
static double
pct(const double *v, size_t n, double p)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t)ceil(p / 100 * (double)n);
	return v[r == 0 ? 0 : r - 1];
}

/* utime + stime of PID in ms, -1 when unreadable. */
static double
proc_cpu_ms(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces: count from its ')' */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static void
json_str(struct sbuf *b, const char *s)
{
	sbuf_putc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			sbuf_printf(b, "\\u%04x", c);
		else
			sbuf_putc(b, (char)c);
	}
	sbuf_putc(b, '"');
}

struct summary {
	long ok, failed;
	double p50, p90, p99, max;
};

static void
summarise(struct lat *l, long ok, long failed, struct summary *s)
{
	if (l->n > 1)	/* no latencies: v is NULL, which qsort must not get */
		qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	s->ok = ok;
	s->failed = failed;
	s->p50 = pct(l->v, l->n, 50);
	s->p90 = pct(l->v, l->n, 90);
	s->p99 = pct(l->v, l->n, 99);
	s->max = l->n ? l->v[l->n - 1] : 0;
}

static int
cmp_cause(const void *a, const void *b)
{
	const struct cause *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->text, y->text);
}

static void
report(const struct opts *o, struct worker *ws, double secs, double srv_cpu,
    double cli_cpu)
{
	struct lat all = { 0 }, per[RT_N];
	struct summary s[RT_N], tot;
	struct sbuf b = SBUF_INIT;
	long ok[RT_N] = { 0 }, failed[RT_N] = { 0 }, tok = 0, tfail = 0;
	int i, t, nc;

	memset(per, 0, sizeof(per));
	for (i = 0; i < o->clients; i++)
		for (t = 0; t < RT_N; t++) {
			for (size_t k = 0; k < ws[i].lat[t].n; k++) {
				lat_add(&per[t], ws[i].lat[t].v[k]);
				lat_add(&all, ws[i].lat[t].v[k]);
			}
			ok[t] += ws[i].ok[t];
			failed[t] += ws[i].failed[t];
		}
	for (t = 0; t < RT_N; t++) {
		summarise(&per[t], ok[t], failed[t], &s[t]);
		tok += ok[t];
		tfail += failed[t];
	}
	summarise(&all, tok, tfail, &tot);
	/* "other causes" (index MAX_CAUSES) exists only once the table is full,
	 * so the causes are contiguous */
	nc = ncauses + (causes[MAX_CAUSES].text != NULL);
	qsort(causes, (size_t)nc, sizeof(causes[0]), cmp_cause);

	if (o->json) {
		sbuf_puts(&b, "{\"url\": ");
		json_str(&b, o->url);
		sbuf_printf(&b, ", \"flow\": \"%s\", \"clients\": %d, \"ok\": %ld, "
		    "\"failed\": %ld, \"seconds\": %.3f, \"tps\": %.1f, "
		    "\"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, "
		    "\"max_ms\": %.2f, \"client_cpu_ms_per_txn\": %.3f",
		    flow_names[o->flow], o->clients, tok, tfail, secs,
		    secs > 0 ? (double)tok / secs : 0, tot.p50, tot.p90, tot.p99,
		    tot.max, tok + tfail > 0 ? cli_cpu / (double)(tok + tfail) : 0);
		if (o->server_pid > 0)
			sbuf_printf(&b, ", \"server_pid\": %ld, \"server_cpu_ms\": "
			    "%.0f, \"server_cpu_ms_per_txn\": %.3f", o->server_pid,
			    srv_cpu, srv_cpu >= 0 && tok + tfail > 0 ? srv_cpu /
			    (double)(tok + tfail) : -1);
		sbuf_puts(&b, ", \"types\": {");
		for (t = 0, i = 0; t < RT_N; t++) {
			if (s[t].ok + s[t].failed == 0)
				continue;
			sbuf_printf(&b, "%s\"%s\": {\"ok\": %ld, \"failed\": %ld, "
			    "\"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, "
			    "\"max_ms\": %.2f}", i++ ? ", " : "", rtype_names[t],
			    s[t].ok, s[t].failed, s[t].p50, s[t].p90, s[t].p99,
			    s[t].max);
		}
		sbuf_puts(&b, "}, \"errors\": {");
		for (i = 0; i < nc; i++) {
			if (i)
				sbuf_puts(&b, ", ");
			json_str(&b, causes[i].text);
			sbuf_printf(&b, ": %ld", causes[i].n);
		}
		sbuf_puts(&b, "}}\n");
	} else {
		sbuf_printf(&b, "cmpload: %d client%s, flow %s, %s\n", o->clients,
		    o->clients == 1 ? "" : "s", flow_names[o->flow], o->url);
		sbuf_printf(&b, "transactions: %ld ok, %ld failed in %.2f s: %.1f "
		    "per second\n", tok, tfail, secs, secs > 0 ? (double)tok / secs :
		    0);
		sbuf_puts(&b, "latency (ms)     ok  failed      p50      p90      "
		    "p99      max\n");
		for (t = 0; t <= RT_N; t++) {
			const struct summary *x = t < RT_N ? &s[t] : &tot;

			if (t < RT_N && x->ok + x->failed == 0)
				continue;
			sbuf_printf(&b, "  %-5s %9ld %7ld %8.1f %8.1f %8.1f %8.1f\n",
			    t < RT_N ? rtype_names[t] : "all", x->ok, x->failed,
			    x->p50, x->p90, x->p99, x->max);
		}
		if (nc == 0)
			sbuf_puts(&b, "errors: none\n");
		for (i = 0; i < nc; i++)
			sbuf_printf(&b, "%s%7ld  %s\n", i == 0 ? "errors:\n" : "",
			    causes[i].n, causes[i].text);
		sbuf_printf(&b, "client CPU: %.2f ms per transaction\n", tok + tfail >
		    0 ? cli_cpu / (double)(tok + tfail) : 0);
		if (o->server_pid > 0 && srv_cpu >= 0)
			sbuf_printf(&b, "server CPU (pid %ld): %.0f ms, %.2f ms per "
			    "transaction\n", o->server_pid, srv_cpu, tok + tfail > 0 ?
			    srv_cpu / (double)(tok + tfail) : 0);
		else if (o->server_pid > 0)
			sbuf_printf(&b, "server CPU (pid %ld): cannot be read from "
			    "/proc\n", o->server_pid);
	}
	fputs(sbuf_str(&b), stdout);
	sbuf_free(&b);
	for (t = 0; t < RT_N; t++)
		free(per[t].v);
	free(all.v);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct worker *ws = NULL;
	sigset_t set;
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	double srv0 = -1, srv1 = -1, cli0, secs;
	long failed = 0;
	int i, r, started = 0, rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&o, 0, sizeof(o));
	o.clients = DEFAULT_CLIENTS;
	o.count = DEFAULT_COUNT;
	o.timeout = DEFAULT_TIMEOUT;
	if ((r = parse_args(argc, argv, &o)) != 0) {
		rc = r > 0 ? 0 : 2;
		goto out;
	}
	if (o.server_pid > 0 && (srv0 = proc_cpu_ms(o.server_pid)) < 0) {
		fprintf(stderr, "cmpload: --server-pid %ld: no such process (cannot "
		    "read /proc/%ld/stat)\n", o.server_pid, o.server_pid);
		goto out;
	}
	/* the workers inherit a mask without the stop signals: only the main
	 * thread takes them, with sigtimedwait below */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ws = xcalloc((size_t)o.clients, sizeof(*ws));
	atomic_store(&running, o.clients);
	for (i = 0; i < o.clients; i++) {
		ws[i].id = i;
		ws[i].o = &o;
		if (pthread_create(&ws[i].th, NULL, work, &ws[i]) != 0) {
			fprintf(stderr, "cmpload: cannot start client thread %d\n", i);
			atomic_store(&stop_flag, 1);
			break;
		}
		started++;
	}
	cli0 = self_cpu_ms();
	t_start = pk_mono_s();
	t_deadline = o.duration > 0 ? t_start + o.duration : 0;
	pthread_mutex_lock(&go_mu);
	go = 1;
	pthread_cond_broadcast(&go_cv);
	pthread_mutex_unlock(&go_mu);
	/* the clients not started never run: count them as finished */
	atomic_fetch_sub(&running, o.clients - started);
	while (atomic_load(&running) > 0) {
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig == SIGINT || sig == SIGTERM)
			atomic_store(&stop_flag, 1);
	}
	secs = pk_mono_s() - t_start;
	for (i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
	if (o.server_pid > 0)
		srv1 = proc_cpu_ms(o.server_pid);
	if (started < o.clients)
		goto out;
	report(&o, ws, secs, srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1,
	    self_cpu_ms() - cli0);
	for (i = 0; i < o.clients; i++)
		for (int t = 0; t < RT_N; t++)
			failed += ws[i].failed[t];
	rc = failed > 0 ? 1 : 0;
out:
	for (i = 0; ws != NULL && i < o.clients; i++) {
		for (int t = 0; t < RT_N; t++)
			free(ws[i].lat[t].v);
		set_identity(&ws[i], NULL, NULL);
	}
	free(ws);
	for (i = 0; i <= MAX_CAUSES; i++)
		free(causes[i].text);
	if (o.secret != NULL) {
		OPENSSL_cleanse(o.secret, o.secret_len);
		free(o.secret);
	}
	EVP_PKEY_free(o.key);
	sk_X509_pop_free(o.trusted, X509_free);
	if (o.cert_log != NULL)
		fclose(o.cert_log);
	return rc;
}
