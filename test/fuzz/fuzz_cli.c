/*
 * libFuzzer target: tokenizer + matcher. Each input is one console line (NUL bytes
 * end it) run through execution, '?' help and Tab completion in every view the
 * line can reach. Build with `make fuzz`; run build/fuzz/fuzz_cli.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/cli_int.h"

static const cli_feature_fn features[] = {
	cli_sys_init, cli_pki_init, cli_cmp_init, NULL,
};
static struct cli *c;
static char dir[] = "/dev/shm/pkish-fuzz.XXXXXX";	/* in memory: fsync is free */

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	(void)remove(p);
	return 0;
}

/* at exit (libFuzzer and the replay program end with exit()): the flash goes */
static void
rm_dir(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	struct cli_options o = { 0 };
	struct pk_err e;
	if (mkdtemp(dir) == NULL) {	/* no tmpfs: on the disk */
		strcpy(dir, "/tmp/pkish-fuzz.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	atexit(rm_dir);
	o.flash = dir;
	o.schemas = getenv("PKISH_SCHEMA_DIR") ? getenv("PKISH_SCHEMA_DIR") : PKISH_SCHEMA_DIR;
	o.no_startup = 1;
	o.features = features;
	if (cli_new(&c, &o, &e) != 0) {
		fprintf(stderr, "fuzz_cli: %s\n", e.msg);
		abort();
	}
	c->out = fopen("/dev/null", "w");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;
	size_t ws;

	if (c == NULL)
		setup();
	if (size > CLI_MAX_LINE)
		size = CLI_MAX_LINE;
	line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	cli_strv_free(cli_complete(c, line, &ws));
	cli_help(c, line);
	cli_exec(c, line);
	if (cli_done(c))
		c->done = 0;
	if (data[0] % 4 == 0)
		cli_exec(c, "system-view");
	free(line);
	return 0;
}
