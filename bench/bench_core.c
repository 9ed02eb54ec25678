/*
 * Benchmarks (make bench): numbers to watch, not pass/fail tests.
 *  - timer heap: arm, re-arm and cancel 100,000 timers;
 *  - idle cost: CPU time used by the event loop over 1 s with 10,000 armed timers
 *    (thousands of auto-update sessions must cost nothing while idle);
 *  - matcher: console lines matched and run per second;
 *  - CMP: messages decoded + re-encoded per second (an ir built by the engine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli_int.h"
#include "../device/device.h"
#include "../cmp/cmp.h"

static const cli_feature_fn features[] = {
	cli_sys_init, cli_pki_init, cli_cmp_init, NULL,
};

static double
now_s(void)
{
	return pk_mono_s();
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
never(void *arg)
{
	(void)arg;
}

static void
bench_timers(void)
{
	enum { N = 100000 };
	struct loop *l = loop_new(NULL, NULL);
	struct loop_timer *t = calloc(N, sizeof(*t));
	int64_t base = loop_now(l) + 3600 * 1000;
	double t0 = now_s(), c0;

	for (int i = 0; i < N; i++) {
		t[i].fn = never;
		loop_timer_set(l, &t[i], base + rand() % 1000000);
	}
	for (int i = 0; i < N; i++)
		loop_timer_set(l, &t[i], base + rand() % 1000000);
	for (int i = 0; i < N; i++)
		loop_timer_cancel(l, &t[i]);
	printf("timer heap: %d arm + %d re-arm + %d cancel in %.3f s (%.0f ops/s)\n",
	    N, N, N, now_s() - t0, 3.0 * N / (now_s() - t0));
	for (int i = 0; i < 10000; i++)
		loop_timer_set(l, &t[i], base + rand() % 1000000);
	c0 = cpu_s();
	t0 = now_s();
	loop_wait(l, -1, loop_now(l) + 1000);
	printf("idle loop: %zu armed timers, %.3f s waited, %.6f s CPU used\n",
	    loop_timer_count(l), now_s() - t0, cpu_s() - c0);
	for (int i = 0; i < 10000; i++)
		loop_timer_cancel(l, &t[i]);
	loop_free(l);
	free(t);
}

static void
bench_matcher(void)
{
	static const char *const lines[] = {
		"system-view", "pki entity e1", "common-name bench.example.com",
		"country CN", "quit", "display this", "dis cu", "pki cmp session s1",
		"cmp-request entity e1", "cmp-request timeout 60", "quit",
		"sysname bench", "undo sysname", "display pki entity", "bogus command",
		"return",
	};
	struct cli_options o = { 0 };
	struct cli *c;
	struct pk_err e;
	char dir[] = "/tmp/pkish-bench.XXXXXX";
	enum { ROUNDS = 2000 };
	double t0;
	size_t n = 0;
	char cmd[128];

	if (mkdtemp(dir) == NULL)
		return;
	o.flash = dir;
	o.schemas = getenv("PKISH_SCHEMA_DIR") ? getenv("PKISH_SCHEMA_DIR") : PKISH_SCHEMA_DIR;
	o.no_startup = 1;
	o.features = features;
	if (cli_new(&c, &o, &e) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return;
	}
	c->out = fopen("/dev/null", "w");
	t0 = now_s();
	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++, n++)
			cli_exec(c, lines[i]);
	printf("matcher: %zu console lines in %.3f s (%.0f lines/s)\n", n, now_s() - t0,
	    n / (now_s() - t0));
	fclose(c->out);
	c->out = stdout;
	cli_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: cannot remove %s\n", dir);
}

static void
bench_cmp(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_NAME *subj = X509_NAME_new();
	struct cmp_hdr h;
	struct cmp_certreq r;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err e;
	unsigned char *der = NULL;
	size_t len = 0;
	enum { N = 20000 };
	double t0;

	memset(&h, 0, sizeof(h));
	memset(&r, 0, sizeof(r));
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)"bench", -1, -1, 0);
	r.subject = subj;
	r.key = key;
	if (cmp_build_certreq(&h, CMP_BODY_IR, &r, &m, &e) != 0 ||
	    cmp_msg_protect_pbm(m, "secret", 6, NULL, &e) != 0 ||
	    cmp_msg_encode(m, &der, &len, &e) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return;
	}
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		CMP_PKIMESSAGE *d = NULL;
		unsigned char *out = NULL;
		size_t olen;

		if (cmp_msg_decode(der, len, &d, &e) != 0 ||
		    cmp_msg_encode(d, &out, &olen, &e) != 0)
			abort();
		OPENSSL_free(out);
		CMP_PKIMESSAGE_free(d);
	}
	printf("cmp: %d ir messages (%zu bytes) decoded and re-encoded in %.3f s "
	    "(%.0f msgs/s)\n", N, len, now_s() - t0, N / (now_s() - t0));
	t0 = now_s();
	for (int i = 0; i < N / 10; i++)
		if (cmp_msg_verify_pbm(m, "secret", 6, NULL, &e) != 0)
			abort();
	printf("cmp: %d PBM verifications (500 iterations) in %.3f s (%.0f/s)\n",
	    N / 10, now_s() - t0, (N / 10) / (now_s() - t0));
	OPENSSL_free(der);
	CMP_PKIMESSAGE_free(m);
	X509_NAME_free(subj);
	EVP_PKEY_free(key);
}

int
main(void)
{
	srand(1);
	bench_timers();
	bench_matcher();
	bench_cmp();
	return 0;
}
