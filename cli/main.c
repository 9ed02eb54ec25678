/*
 * pkish: the PKI console of a network device.
 *
 * pkish [--flash DIR] [-f FILE]... [-c LINE]... [--stop-on-error] [--no-startup]
 *       [--daemon] [--schemas DIR] [--version] [--help]
 *
 * Loads flash:/vrpcfg.cfg (unless --no-startup), then runs the -c/-f input in the
 * order given and exits, or reads stdin: the libedit console at a terminal, batch
 * mode otherwise. Exit status 1 when batch lines failed, 2 on a start-up error.
 *
 * The grammar directory: --schemas DIR, else $PKISH_SCHEMA_DIR, else the tree's
 * schemas/ for an uninstalled build (make links BUILD/schemas beside the program),
 * else PKISH_SCHEMA_DIR, the installed directory compiled in from the Makefile's
 * prefix. No source tree path is compiled in: a copied or packaged pkish works.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#if !defined(PKISH_SCHEMA_DIR) || !defined(PKISH_VERSION)
#error "PKISH_SCHEMA_DIR and PKISH_VERSION come from the Makefile"
#endif

/*
 * The directory "schemas" beside this executable when it holds the grammar (the
 * uninstalled build), else the compiled-in one. Returns a static buffer or the
 * literal.
 */
static const char *
default_schemas(void)
{
	static char dir[PATH_MAX];
	char xsd[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (n > 0) {
		dir[n] = '\0';
		if ((slash = strrchr(dir, '/')) != NULL &&
		    (size_t)(slash - dir) + sizeof("/schemas") <= sizeof(dir)) {
			strcpy(slash, "/schemas");
			snprintf(xsd, sizeof(xsd), "%s/cli.xsd", dir);
			if (access(xsd, R_OK) == 0)
				return dir;
		}
	}
	return PKISH_SCHEMA_DIR;
}

static void
usage(FILE *f)
{
	fputs("usage: pkish [--flash DIR] [-f FILE]... [-c LINE]... [--stop-on-error]\n"
	    "             [--daemon] [--no-startup] [--schemas DIR] [--version] [--help]\n"
	    "  --flash DIR      the device's flash (default ./flash)\n"
	    "  -f FILE          run the commands of FILE (batch mode), then exit\n"
	    "  -c LINE          run one command line (batch mode), then exit\n"
	    "  --stop-on-error  stop at the first failing line\n"
	    "  --no-startup     do not load flash:/vrpcfg.cfg at start\n"
	    "  --daemon         no console: run automatic certificate updates until\n"
	    "                   SIGTERM/SIGINT, logging to stderr and syslog\n"
	    "  --schemas DIR    grammar directory (default: $PKISH_SCHEMA_DIR, else\n"
	    "                   " PKISH_SCHEMA_DIR ")\n"
	    "  --version        print the version and exit\n"
	    "Without -f/-c: the console at a terminal, batch mode from a pipe.\n", f);
}

/* The features of the console, in the order they register (cli.h). */
static const cli_feature_fn features[] = {
	cli_sys_init,
	cli_pki_init,
	cli_cmp_init,
	NULL,
};

struct input {
	int is_file;
	const char *text;
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "flash", required_argument, NULL, 'F' },
		{ "stop-on-error", no_argument, NULL, 'S' },
		{ "no-startup", no_argument, NULL, 'N' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "schemas", required_argument, NULL, 'G' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_options o = { 0 };
	struct input *in = NULL;
	size_t nin = 0;
	struct cli_batch b = { 0 };
	struct cli *c;
	struct pk_err e;
	int ch, rc = 0;

	o.flash = "flash";
	o.features = features;
	o.schemas = getenv("PKISH_SCHEMA_DIR");
	if (o.schemas == NULL || o.schemas[0] == '\0')
		o.schemas = default_schemas();
	while ((ch = getopt_long(argc, argv, "f:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			o.flash = optarg;
			break;
		case 'S':
			b.stop_on_error = 1;
			break;
		case 'N':
			o.no_startup = 1;
			break;
		case 'D':
			o.daemon = 1;
			break;
		case 'G':
			o.schemas = optarg;
			break;
		case 'V':
			printf("pkish (pkish) %s\n", PKISH_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'f':
		case 'c':
			in = realloc(in, (nin + 1) * sizeof(*in));
			in[nin].is_file = ch == 'f';
			in[nin].text = optarg;
			nin++;
			break;
		default:
			usage(stderr);
			free(in);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pkish: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(in);
		return 2;
	}
	if (o.daemon && nin > 0) {
		fprintf(stderr, "pkish: --daemon takes no -c or -f\n");
		free(in);
		return 2;
	}
	o.interactive = !o.daemon && nin == 0 && isatty(STDIN_FILENO) &&
	    isatty(STDOUT_FILENO);
	if (cli_new(&c, &o, &e) != 0) {
		fprintf(stderr, "pkish: %s\n", e.msg);
		free(in);
		return 2;
	}
	if (o.daemon) {
		cli_daemon_run(c);
	} else if (o.interactive) {
		cli_edit_run(c);
	} else if (nin == 0) {
		cli_batch_file(c, &b, stdin);
		fflush(stdout);
		rc = cli_batch_summary(&b, stderr);
	} else {
		for (size_t i = 0; i < nin && !cli_done(c); i++) {
			if (in[i].is_file) {
				FILE *f = fopen(in[i].text, "r");

				if (f == NULL) {
					fflush(stdout);
					fprintf(stderr, "pkish: cannot open %s\n", in[i].text);
					rc = 2;
					break;
				}
				cli_batch_file(c, &b, f);
				fclose(f);
			} else {
				cli_batch_line(c, &b, in[i].text);
				fflush(stdout);
			}
			if (b.failed && b.stop_on_error)
				break;
		}
		if (rc == 0)
			rc = cli_batch_summary(&b, stderr);
	}
	fflush(stdout);
	cli_batch_free(&b);
	cli_free(c);
	free(in);
	return rc;
}
