/*
 * Replays inputs through a libFuzzer target without libFuzzer (any C compiler):
 * linked with test/fuzz/fuzz_NAME.c it makes $(BUILD)/fuzz-replay/fuzz_NAME,
 * which `make check` (test/t_fuzz_regress.sh) runs over the target's
 * regression inputs and corpus, under the sanitizers with SANITIZE=1.
 *
 *   fuzz_NAME FILE|DIR...
 *
 * Each file (a directory: its regular files in name order) is read whole and
 * given once to LLVMFuzzerTestOneInput; "replay: NAME" is printed before each,
 * so that the input of a crash is the last one named. Exit status 0 when every
 * input ran (a crash ends the process), 2 when a file cannot be read.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	printf("replay: %s\n", path);
	fflush(stdout);
	/* libFuzzer never passes NULL: give a valid pointer for an empty file */
	LLVMFuzzerTestOneInput(buf != NULL ? buf : (unsigned char *)"", n);
	free(buf);
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_path(const char *path)
{
	struct stat sb;
	struct dirent *de;
	char **names = NULL, p[4096];
	size_t n = 0;
	DIR *d;
	int rc = 0;

	if (stat(path, &sb) != 0) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return run_file(path);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && run_file(p) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) != 0)
			rc = 2;
	return rc;
}
