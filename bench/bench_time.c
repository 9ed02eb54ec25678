/*
 * bench_time: the stopwatch of bench/bench.sh (make bench). Runs a command N
 * times and prints one line per run: wall milliseconds, CPU milliseconds (user +
 * system, from wait4's rusage, microsecond resolution where time(1) has 10 ms),
 * maximum RSS in KiB, exit status.
 *
 *   bench_time [-n N] [-o FILE] COMMAND [ARG...]
 *
 * The command's stdin is /dev/null and its stdout and stderr go to FILE
 * (default /dev/null), truncated before each run, so a caller may look at the
 * last run's output. Not a test: it asserts nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double
tv_ms(const struct timeval *tv)
{
	return tv->tv_sec * 1e3 + tv->tv_usec / 1e3;
}

int
main(int argc, char **argv)
{
	const char *out = "/dev/null";
	long n = 1;
	int ch;

	while ((ch = getopt(argc, argv, "+n:o:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || n < 1)
		goto usage;
	for (long i = 0; i < n; i++) {
		struct rusage ru;
		double t0 = mono_ms(), t1;
		int st = 0;
		pid_t pid = fork();

		if (pid < 0) {
			perror("bench_time: fork");
			return 1;
		}
		if (pid == 0) {
			int in = open("/dev/null", O_RDONLY);
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
			    dup2(fd, 2) < 0)
				_exit(126);
			execvp(argv[optind], argv + optind);
			_exit(127);
		}
		if (wait4(pid, &st, 0, &ru) < 0) {
			perror("bench_time: wait4");
			return 1;
		}
		t1 = mono_ms();
		printf("%.3f %.3f %ld %d\n", t1 - t0, tv_ms(&ru.ru_utime) + tv_ms(&ru.ru_stime),
		    ru.ru_maxrss, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_time [-n N] [-o FILE] COMMAND [ARG...]\n");
	return 2;
}
