/*
 * Daemon mode (pkish --daemon): no console, the event loop runs the automatic
 * updates until SIGTERM or SIGINT. The signal handler only sets a flag and writes
 * a byte to a pipe the loop watches (a self-pipe), so the loop wakes and stops
 * between two callbacks. Start and stop are reported as events.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "device_int.h"

static volatile sig_atomic_t daemon_stop;
static int daemon_pipe[2] = { -1, -1 };

static void
on_term(int sig)
{
	(void)sig;
	daemon_stop = 1;
	if (write(daemon_pipe[1], "x", 1) < 0)
		daemon_stop = 1;
}

static void
drain(void *arg)
{
	struct device *d = arg;
	char b[16];

	if (read(daemon_pipe[0], b, sizeof(b)) < 0)
		daemon_stop = 1;
	loop_break(d->loop);
}

int
device_daemon_run(struct device *d)
{
	struct sigaction sa;
	struct device_event ev = { .kind = DEVICE_EV_DAEMON_START };

	for (size_t i = 0; i < d->norder; i++)
		ev.count += d->order[i]->cfg.auto_update != 0;
	if (pipe(daemon_pipe) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	loop_watch(d->loop, daemon_pipe[0], drain, d);
	device_emit(d, &ev);
	while (!daemon_stop)
		if (loop_wait(d->loop, -1, -1) < 0)
			break;
	ev.kind = DEVICE_EV_DAEMON_STOP;
	device_emit(d, &ev);
	loop_unwatch(d->loop, daemon_pipe[0]);
	close(daemon_pipe[0]);
	close(daemon_pipe[1]);
	daemon_pipe[0] = daemon_pipe[1] = -1;
	return 0;
}
