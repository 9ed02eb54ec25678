/*
 * cmpca: the CMP CA responder (RFC 4210/4211 over HTTP, RFC 6712) for the demo,
 * tests and labs. A thin main: cmpca.conf (--config) and the options into struct
 * ca_config (the options override the file's top: global settings and the
 * default profile), ca_open() (first run on an empty DIR creates the CA key, its
 * self-signed certificate and the PBM secret), ca_http_start() with the
 * protocol's routing (a path to its profile, 404 for others) and handler, then
 * waits for SIGTERM or
 * SIGINT and stops cleanly: the HTTP server finishes the requests it is running,
 * then the database is closed (every database call is its own SQL transaction,
 * every file is written atomically, so nothing is left half-written).
 *
 * Prints, for scripts: "cmpca: listening on http://ADDR:PORT/" (use --listen
 * 127.0.0.1:0 for a free port). Exit status 0 after a clean stop, 1 on error
 * (cmpca.conf included), 2 on a usage error. --check-config loads and checks
 * without writing anything and prints the effective configuration (secrets
 * masked): 0 valid, 1 not.
 */
#include <getopt.h>
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
"       cmpca --check-config [--config FILE] [options]\n"
"  --config FILE           read cmpca.conf FILE: global settings and the\n"
"                          default profile at its top, one profile per section;\n"
"                          the options below override its top\n"
"  --check-config          check the configuration and the files it names, print\n"
"                          the effective profiles (secrets masked) and exit:\n"
"                          0 valid, 1 not\n"
"  --dir DIR               CA directory (default " CA_DEFAULT_DIR "); an empty or\n"
"                          missing DIR gets a new CA key and certificate\n"
"  --listen ADDR:PORT      listen address (default " CA_DEFAULT_LISTEN ";\n"
"                          [V6ADDR]:PORT for IPv6; port 0 picks a free port)\n"
"  --path P                a URL path of the default profile, matched exactly;\n"
"                          may be repeated (default: / /pkix/ /.well-known/cmp)\n"
"  --ref REF               PBM reference (senderKID) (default " CA_DEFAULT_REF ")\n"
"  --secret SECRET         PBM secret (default: random, kept in DIR/secret)\n"
"  --secret-file F         PBM secret: the text of file F\n"
"  --admin-ref REF --admin-secret-file F\n"
"                          the administrator credential: the only MAC that an\n"
"                          rr takes (default none: an rr must be signed by the\n"
"                          certificate it revokes)\n"
"  --ca-cert F --ca-key F  use this CA certificate and key instead of DIR's\n"
"  --signer-cert F --signer-key F\n"
"                          sign responses with this certificate (default: CA)\n"
"  --extra-certs F         the CA certificate's chain and other certificates\n"
"                          (PEM) sent in extraCerts\n"
"  --capubs F              certificates (PEM) sent in the caPubs of an ip\n"
"                          (default: the chain's root, else the CA certificate)\n"
"  --previous-ca-cert F    the root before its key rollover and the link\n"
"                          certificates newWithOld, oldWithNew (PEM), for genm\n"
"                          rootCaKeyUpdate\n"
"  --tls-cert F --tls-key F\n"
"                          serve https (TLS 1.2 or 1.3) with this certificate\n"
"                          (PEM, its chain may follow) and key\n"
"  --trust F               trusted certificates (PEM) for signature-protected\n"
"                          requests; may be repeated\n"
"  --validity DURATION     validity of issued certificates: 20s, 10m, 2h, 30d,\n"
"                          or a number of days (default 365d)\n"
"  --poll N                answer 'waiting' N times before delivering (default 0)\n"
"  --check-after S         checkAfter seconds in pollRep (default %d)\n"
"  --implicit-confirm yes|no  grant implicitConfirm when asked (default yes)\n"
"  --allow-subject-change yes|no\n"
"                          yes: a signed request (cr, kur, p10cr, ir under\n"
"                          --trust) may name another subject and SAN than its\n"
"                          signer certificate's (default no: refused)\n"
"  --key-types LIST        key types certified: rsa, rsa:BITS, ec:P-256,\n"
"                          ec:P-384, ec:P-521, ed25519, ed448 (default all;\n"
"                          rsa is rsa:2048, BITS the least size)\n"
"  --threads N             HTTP worker threads (default %d)\n"
"  --timeout S             idle timeout per connection, seconds (default %d);\n"
"                          a request not received whole within 2 S is dropped\n"
"  --max-per-address N     connections at once from one client address\n"
"                          (default %d)\n"
"  --auth-fail-limit N     failed authentications (wrong MAC, bad signature)\n"
"                          from one client address within the window that\n"
"                          lock it out for the window (default %d; 0: none)\n"
"  --auth-fail-window S    that window, seconds (default %d)\n"
"  --confirm-wait DURATION a certificate not confirmed (certConf) within this\n"
"                          time is revoked (default 300s)\n"
"  --retention DURATION    finished transactions are deleted after this time\n"
"                          (default 7d)\n"
"  --help, --version\n",
	    CA_DEFAULT_CHECK_AFTER, CA_DEFAULT_THREADS, CA_DEFAULT_TIMEOUT,
	    CA_DEFAULT_PER_ADDRESS, CA_DEFAULT_AUTH_FAIL_LIMIT,
	    CA_DEFAULT_AUTH_FAIL_WINDOW);
}

enum { O_CONFIG = 256, O_CHECK, O_HELP, O_VERSION, O_KEY };

/* Every option but the four above is a cmpca.conf key of the same name. */
static const struct option longopts[] = {
	{ "config", required_argument, NULL, O_CONFIG },
	{ "check-config", no_argument, NULL, O_CHECK },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ "dir", required_argument, NULL, O_KEY },
	{ "listen", required_argument, NULL, O_KEY },
	{ "path", required_argument, NULL, O_KEY },
	{ "ref", required_argument, NULL, O_KEY },
	{ "secret", required_argument, NULL, O_KEY },
	{ "secret-file", required_argument, NULL, O_KEY },
	{ "admin-ref", required_argument, NULL, O_KEY },
	{ "admin-secret-file", required_argument, NULL, O_KEY },
	{ "ca-cert", required_argument, NULL, O_KEY },
	{ "ca-key", required_argument, NULL, O_KEY },
	{ "signer-cert", required_argument, NULL, O_KEY },
	{ "signer-key", required_argument, NULL, O_KEY },
	{ "extra-certs", required_argument, NULL, O_KEY },
	{ "capubs", required_argument, NULL, O_KEY },
	{ "previous-ca-cert", required_argument, NULL, O_KEY },
	{ "tls-cert", required_argument, NULL, O_KEY },
	{ "tls-key", required_argument, NULL, O_KEY },
	{ "trust", required_argument, NULL, O_KEY },
	{ "validity", required_argument, NULL, O_KEY },
	{ "poll", required_argument, NULL, O_KEY },
	{ "check-after", required_argument, NULL, O_KEY },
	{ "implicit-confirm", required_argument, NULL, O_KEY },
	{ "key-types", required_argument, NULL, O_KEY },
	{ "allow-subject-change", required_argument, NULL, O_KEY },
	{ "threads", required_argument, NULL, O_KEY },
	{ "timeout", required_argument, NULL, O_KEY },
	{ "max-per-address", required_argument, NULL, O_KEY },
	{ "auth-fail-limit", required_argument, NULL, O_KEY },
	{ "auth-fail-window", required_argument, NULL, O_KEY },
	{ "confirm-wait", required_argument, NULL, O_KEY },
	{ "retention", required_argument, NULL, O_KEY },
	{ NULL, 0, NULL, 0 }
};

/* The command line: the settings it gives, applied after cmpca.conf. */
struct args {
	const char *config;
	int check;
	const char **keys, **values;
	size_t n;
};

/* 0 parsed, 1 --help/--version done, -1 usage error (message printed). */
static int
parse_args(int argc, char **argv, struct args *a)
{
	int ch, idx;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (ch) {
		case O_CONFIG:
			a->config = optarg;
			break;
		case O_CHECK:
			a->check = 1;
			break;
		case O_KEY:
			a->keys = xrealloc(a->keys, (a->n + 1) * sizeof(*a->keys));
			a->values = xrealloc(a->values, (a->n + 1) *
			    sizeof(*a->values));
			a->keys[a->n] = longopts[idx].name;
			a->values[a->n++] = optarg;
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
			else if (optopt >= O_CONFIG)
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
	return 0;
}

/* cmpca.conf, then the command line over it, then the whole checked. Returns
 * 0, or the exit status after printing why: 1 for the file (or anything under
 * --check-config), 2 for the command line alone. */
static int
configure(const struct args *a, struct ca_config *cfg)
{
	struct pk_err e;
	size_t i;
	int bad = a->check || a->config != NULL ? 1 : 2;

	pk_err_clear(&e);
	if (a->config != NULL && ca_config_load(cfg, a->config, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		return 1;
	}
	for (i = 0; i < a->n; i++)
		if (ca_config_set(cfg, NULL, a->keys[i], a->values[i], CA_SRC_ARGS,
		    &e) != 0) {
			fprintf(stderr, "cmpca: --%s\n", e.msg);
			return a->check ? 1 : 2;
		}
	if (ca_config_check(cfg, &e) != 0) {
		fprintf(stderr, "cmpca: %s%s%s\n", a->config != NULL ? a->config : "",
		    a->config != NULL ? ": " : "", e.msg);
		return bad;
	}
	return 0;
}

/* The protocol's events (a lockout), one line each on stdout. */
static void
log_line(void *arg, const char *line)
{
	(void)arg;
	printf("cmpca: %s\n", line);
}

/* What the server did: on SIGUSR1 and when stopping. */
static void
print_stats(struct ca_server *srv)
{
	struct ca_server_stats st;

	ca_server_get_stats(srv, &st);
	printf("cmpca: statistics: %lu requests, %lu MAC checks, %lu signature "
	    "checks, %lu failed authentications, %lu lockouts, %lu requests "
	    "refused while locked out\n", st.requests, st.mac_checks,
	    st.sig_checks, st.auth_failures, st.lockouts, st.locked_refusals);
}

/* "C=.., CN=A <- C=.., CN=B (root)": the CA's chain as found. */
static void
chain_text(struct ca *ca, struct sbuf *b)
{
	STACK_OF(X509) *chain = ca_get0_chain(ca);
	int i;

	for (i = 0; i < sk_X509_num(chain); i++) {
		if (i > 0)
			sbuf_puts(b, " <- ");
		pk_name_sbuf(X509_get_subject_name(sk_X509_value(chain, i)), b);
	}
	sbuf_puts(b, ca_get0_root(ca) != NULL ? " (root)" : " (its issuer is "
	    "not known: give the chain with --extra-certs)");
}

static void
print_paths(const struct ca_profile *p)
{
	size_t i;

	for (i = 0; i < p->paths.n; i++)
		printf(" %s", p->paths.v[i]);
}

/* One line per profile; a secret that came from cmpca.conf or a secret file is
 * never printed (the default profile's reference line is printed before). */
static void
print_profiles(const struct ca_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nprofiles; i++) {
		const struct ca_profile *p = cfg->profiles[i];

		printf("cmpca: profile %s at", p->name);
		print_paths(p);
		if (p != &cfg->def) {
			printf(": reference \"%s\", ", p->ref);
			if (p->secret_file != NULL)
				printf("secret kept in %s", p->secret_file);
			else if (p->secret != NULL)
				printf("secret set in %s", cfg->file != NULL ?
				    cfg->file : "the configuration");
			else
				printf("no secret (signed requests only)");
		}
		printf("\n");
	}
}

/* --check-config: everything loaded and checked, nothing written. */
static int
check_config(const struct ca_config *cfg)
{
	struct ca *ca = NULL;
	struct sbuf b = SBUF_INIT;
	struct pk_err e;

	pk_err_clear(&e);
	if (ca_check(&ca, cfg, &e) != 0 || (cfg->tls_cert != NULL &&
	    ca_http_check_tls(cfg->tls_cert, cfg->tls_key, &e) != 0)) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		ca_close(ca);
		return 1;
	}
	printf("cmpca: the configuration%s%s is valid\n", cfg->file != NULL ?
	    " in " : "", cfg->file != NULL ? cfg->file : "");
	if (ca_get0_cert(ca) != NULL) {
		chain_text(ca, &b);
		printf("CA chain: %s\n", sbuf_str(&b));
		sbuf_reset(&b);
	} else {
		printf("CA chain: (a new CA is made in %s on the first run)\n",
		    cfg->dir);
	}
	ca_config_describe(cfg, &b);
	fputs(sbuf_str(&b), stdout);
	sbuf_free(&b);
	ca_close(ca);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ca_config cfg;
	struct args args;
	struct ca *ca = NULL;
	struct ca_http *http = NULL;
	struct ca_server *srv = NULL;
	struct ca_http_opts ho;
	const struct ca_profile *def;
	struct pk_err e;
	sigset_t set;
	struct sbuf subj = SBUF_INIT;
	int sig = 0, rc = 1, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&args, 0, sizeof(args));
	ca_config_init(&cfg);
	if ((r = parse_args(argc, argv, &args)) != 0) {
		rc = r > 0 ? 0 : 2;
		goto out;
	}
	if ((rc = configure(&args, &cfg)) != 0)
		goto out;
	if (args.check) {
		rc = check_config(&cfg);
		goto out;
	}
	rc = 1;
	/* Block the stop signals in every thread (the HTTP workers inherit the
	 * mask) so only sigwait() below sees them; a broken pipe is an error
	 * return, not a death. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pk_err_clear(&e);
	/* everything checked before anything is made: a bad file leaves no
	 * first-run CA behind */
	if (ca_check(&ca, &cfg, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	ca_close(ca);
	ca = NULL;
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
	if (sk_X509_num(ca_get0_chain(ca)) > 1 || ca_get0_root(ca) == NULL) {
		sbuf_reset(&subj);
		chain_text(ca, &subj);
		printf("cmpca: CA chain: %s\n", sbuf_str(&subj));
	}
	sbuf_free(&subj);
	printf("cmpca: database %s\n", ca_db_path(ca));
	def = &cfg.def;
	if (def->secret_src == CA_SRC_FILE || def->secret_file != NULL)
		printf("cmpca: reference \"%s\", secret %s %s\n", ca_get0_ref(ca),
		    def->secret_file != NULL ? "kept in" : "set in",
		    def->secret_file != NULL ? def->secret_file : cfg.file);
	/* issue 11: the secret itself is never printed (a log or a terminal
	 * is no place for it), only where it is */
	else if (ca_secret_path(ca) != NULL)
		printf("cmpca: reference \"%s\", secret kept in %s\n",
		    ca_get0_ref(ca), ca_secret_path(ca));
	else
		printf("cmpca: reference \"%s\", secret given with --secret\n",
		    ca_get0_ref(ca));
	if (cfg.nprofiles > 1 || cfg.file != NULL)
		print_profiles(&cfg);
	/* the protocol (ca_server.c) answers every request */
	if (ca_server_new(&srv, ca, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	ca_server_set_log(srv, log_line, NULL);
	memset(&ho, 0, sizeof(ho));
	ho.listen = cfg.listen;
	ho.tls_cert = cfg.tls_cert;
	ho.tls_key = cfg.tls_key;
	ho.threads = cfg.threads;
	ho.timeout = cfg.timeout;
	ho.max_per_address = cfg.max_per_address;
	ho.max_request = cfg.max_request;
	ho.route = ca_server_route;
	ho.handler = ca_server_handle;
	ho.arg = srv;
	if (ca_http_start(&http, &ho, &e) != 0) {
		fprintf(stderr, "cmpca: %s\n", e.msg);
		goto out;
	}
	printf("cmpca: listening on %s\n", ca_http_url(http));
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;	/* no reload; keep serving */
		if (sig == SIGUSR1) {
			print_stats(srv);
			continue;
		}
		break;
	}
	printf("cmpca: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
	rc = 0;
	ca_http_stop(http);	/* running handlers finish first */
	print_stats(srv);
	ca_server_free(srv);
	ca_close(ca);
	printf("cmpca: stopped\n");
	http = NULL;
	srv = NULL;
	ca = NULL;
out:
	ca_http_stop(http);
	ca_server_free(srv);
	ca_close(ca);
	ca_config_clear(&cfg);
	free(args.keys);
	free(args.values);
	return rc;
}
