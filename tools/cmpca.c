/*
 * cmpca: the CMP CA responder (RFC 4210/4211 over HTTP, RFC 6712) for the demo,
 * tests and labs. A thin main: options into struct ca_config, ca_open() (first run
 * on an empty DIR creates the CA key, its self-signed certificate and the PBM
 * secret), ca_http_start() with the protocol handler, then waits for SIGTERM or
 * SIGINT and stops cleanly: the HTTP server finishes the requests it is running,
 * then the database is closed (every database call is its own SQL transaction,
 * every file is written atomically, so nothing is left half-written).
 *
 * Prints, for scripts: "cmpca: listening on http://ADDR:PORT/" (use --listen
 * 127.0.0.1:0 for a free port). Exit status 0 after a clean stop, 1 on error,
 * 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ca/ca.h"

#ifndef PKISH_VERSION
#error "PKISH_VERSION comes from the Makefile (the file VERSION)"
#endif
#define CMPCA_VERSION "cmpca (pkish) " PKISH_VERSION

static void
usage(FILE *f)
{
	fprintf(f,
"usage: cmpca [options]\n"
"  --dir DIR               CA directory (default " CA_DEFAULT_DIR "); an empty or\n"
"                          missing DIR gets a new CA key and certificate\n"
"  --listen ADDR:PORT      listen address (default " CA_DEFAULT_LISTEN ";\n"
"                          [V6ADDR]:PORT for IPv6; port 0 picks a free port)\n"
"  --ref REF               PBM reference (senderKID) (default " CA_DEFAULT_REF ")\n"
"  --secret SECRET         PBM secret (default: random, kept in DIR/secret)\n"
"  --ca-cert F --ca-key F  use this CA certificate and key instead of DIR's\n"
"  --signer-cert F --signer-key F\n"
"                          sign responses with this certificate (default: CA)\n"
"  --extra-certs F         the CA certificate's chain and other certificates\n"
"                          (PEM) sent in extraCerts\n"
"  --capubs F              certificates (PEM) sent in the caPubs of an ip\n"
"                          (default: the chain's root, else the CA certificate)\n"
"  --trust F               trusted certificates (PEM) for signature-protected\n"
"                          requests; may be repeated\n"
"  --validity DURATION     validity of issued certificates: 20s, 10m, 2h, 30d,\n"
"                          or a number of days (default 365d)\n"
"  --poll N                answer 'waiting' N times before delivering (default 0)\n"
"  --check-after S         checkAfter seconds in pollRep (default %d)\n"
"  --implicit-confirm yes|no  grant implicitConfirm when asked (default yes)\n"
"  --threads N             HTTP worker threads (default %d)\n"
"  --timeout S             idle timeout per connection, seconds (default %d)\n"
"  --help, --version\n",
	    CA_DEFAULT_CHECK_AFTER, CA_DEFAULT_THREADS, CA_DEFAULT_TIMEOUT);
}

static int
parse_num(const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "cmpca: %s: '%s' is not a number from %ld to %ld\n",
		    opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	O_DIR = 256, O_LISTEN, O_REF, O_SECRET, O_CA_CERT, O_CA_KEY, O_SIGNER_CERT,
	O_SIGNER_KEY, O_EXTRA, O_CAPUBS, O_TRUST, O_VALIDITY, O_POLL, O_CHECK_AFTER, O_IMPLICIT,
	O_THREADS, O_TIMEOUT, O_HELP, O_VERSION
};

static const struct option longopts[] = {
	{ "dir", required_argument, NULL, O_DIR },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "ref", required_argument, NULL, O_REF },
	{ "secret", required_argument, NULL, O_SECRET },
	{ "ca-cert", required_argument, NULL, O_CA_CERT },
	{ "ca-key", required_argument, NULL, O_CA_KEY },
	{ "signer-cert", required_argument, NULL, O_SIGNER_CERT },
	{ "signer-key", required_argument, NULL, O_SIGNER_KEY },
	{ "extra-certs", required_argument, NULL, O_EXTRA },
	{ "capubs", required_argument, NULL, O_CAPUBS },
	{ "trust", required_argument, NULL, O_TRUST },
	{ "validity", required_argument, NULL, O_VALIDITY },
	{ "poll", required_argument, NULL, O_POLL },
	{ "check-after", required_argument, NULL, O_CHECK_AFTER },
	{ "implicit-confirm", required_argument, NULL, O_IMPLICIT },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* 0 parsed, 1 --help/--version done, -1 usage error (message printed). */
static int
parse_args(int argc, char **argv, struct ca_config *c)
{
	struct pk_err e;
	long v;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_DIR: c->dir = optarg; break;
		case O_LISTEN: c->listen = optarg; break;
		case O_REF: c->ref = optarg; break;
		case O_SECRET: c->secret = optarg; break;
		case O_CA_CERT: c->ca_cert = optarg; break;
		case O_CA_KEY: c->ca_key = optarg; break;
		case O_SIGNER_CERT: c->signer_cert = optarg; break;
		case O_SIGNER_KEY: c->signer_key = optarg; break;
		case O_EXTRA: c->extra_certs = optarg; break;
		case O_CAPUBS: c->capubs = optarg; break;
		case O_TRUST: ca_config_add_trust(c, optarg); break;
		case O_VALIDITY:
			if (ca_parse_duration(optarg, &c->validity, &e) != 0) {
				fprintf(stderr, "cmpca: --validity: %s\n", e.msg);
				return -1;
			}
			break;
		case O_POLL:
			if (parse_num("--poll", optarg, 0, 1000, &v) != 0)
				return -1;
			c->poll = (int)v;
			break;
		case O_CHECK_AFTER:
			if (parse_num("--check-after", optarg, 0, 86400, &v) != 0)
				return -1;
			c->check_after = (int)v;
			break;
		case O_IMPLICIT:
			if (strcmp(optarg, "yes") == 0)
				c->implicit_confirm = 1;
			else if (strcmp(optarg, "no") == 0)
				c->implicit_confirm = 0;
			else {
				fprintf(stderr, "cmpca: --implicit-confirm takes yes "
				    "or no, not '%s'\n", optarg);
				return -1;
			}
			break;
		case O_THREADS:
			if (parse_num("--threads", optarg, 1, 256, &v) != 0)
				return -1;
			c->threads = (int)v;
			break;
		case O_TIMEOUT:
			if (parse_num("--timeout", optarg, 1, 3600, &v) != 0)
				return -1;
			c->timeout = (int)v;
			break;
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			printf("%s\n", CMPCA_VERSION);
			return 1;
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "cmpca: unknown option -%c\n", optopt);
			else if (optopt >= O_DIR)
				fprintf(stderr, "cmpca: %s needs an argument\n",
				    argv[optind - 1]);
			else
				fprintf(stderr, "cmpca: unknown option %s\n",
				    argv[optind - 1]);
			fprintf(stderr, "Try 'cmpca --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cmpca: unexpected argument '%s'\nTry 'cmpca --help'.\n",
		    argv[optind]);
		return -1;
	}
	if ((c->ca_cert == NULL) != (c->ca_key == NULL)) {
		fprintf(stderr, "cmpca: --ca-cert and --ca-key go together\n");
		return -1;
	}
	if ((c->signer_cert == NULL) != (c->signer_key == NULL)) {
		fprintf(stderr, "cmpca: --signer-cert and --signer-key go together\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ca_config cfg;
	struct ca *ca = NULL;
	struct ca_http *http = NULL;
	struct ca_server *srv = NULL;
	struct pk_err e;
	sigset_t set;
	struct sbuf subj = SBUF_INIT;
	STACK_OF(X509) *chain;
	int sig = 0, rc = 1, r, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ca_config_init(&cfg);
	if ((r = parse_args(argc, argv, &cfg)) != 0) {
		ca_config_clear(&cfg);
		return r > 0 ? 0 : 2;
	}
	/* Block the stop signals in every thread (the HTTP workers inherit the
	 * mask) so only sigwait() below sees them; a broken pipe is an error
	 * return, not a death. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pk_err_clear(&e);
	if (ca_open(&ca, &cfg, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	if (ca_created(ca))
		printf("cmpca: created a new CA in %s: key %s, certificate %s\n",
		    cfg.dir, ca_key_path(ca), ca_cert_path(ca));
	else
		printf("cmpca: CA certificate %s, key %s\n", ca_cert_path(ca),
		    ca_key_path(ca));
	/* the one name style of both programs (util: pk_name_sbuf) */
	pk_name_sbuf(X509_get_subject_name(ca_get0_cert(ca)), &subj);
	printf("cmpca: CA subject: %s\n", sbuf_str(&subj));
	chain = ca_get0_chain(ca);
	if (sk_X509_num(chain) > 1 || ca_get0_root(ca) == NULL) {
		sbuf_reset(&subj);
		for (i = 0; i < sk_X509_num(chain); i++) {
			if (i > 0)
				sbuf_puts(&subj, " <- ");
			pk_name_sbuf(X509_get_subject_name(sk_X509_value(chain, i)),
			    &subj);
		}
		printf("cmpca: CA chain: %s%s\n", sbuf_str(&subj),
		    ca_get0_root(ca) != NULL ? " (root)" : " (its issuer is not "
		    "known: give the chain with --extra-certs)");
	}
	sbuf_free(&subj);
	printf("cmpca: database %s\n", ca_db_path(ca));
	if (ca_secret_path(ca) != NULL)
		printf("cmpca: reference \"%s\", secret \"%s\" (kept in %s)\n",
		    ca_get0_ref(ca), ca_get0_secret(ca), ca_secret_path(ca));
	else
		printf("cmpca: reference \"%s\", secret \"%s\" (given with --secret)\n",
		    ca_get0_ref(ca), ca_get0_secret(ca));
	/* the protocol (ca_server.c) answers every request */
	if (ca_server_new(&srv, ca, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	if (ca_http_start(&http, cfg.listen, cfg.threads, cfg.timeout,
	    cfg.max_request, ca_server_handle, srv, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	printf("cmpca: listening on %s\n", ca_http_url(http));
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;	/* no reload; keep serving */
		break;
	}
	printf("cmpca: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
	rc = 0;
out:
	ca_http_stop(http);	/* running handlers finish first */
	ca_server_free(srv);
	ca_close(ca);
	ca_config_clear(&cfg);
	if (rc == 0)
		printf("cmpca: stopped\n");
	return rc;
}
