/*
 * daemon.h - process set-up shared by the Tipline daemons.
 *
 * Startup only; not thread-safe (call before starting threads).
 */
#ifndef TL_DAEMON_H
#define TL_DAEMON_H

/* Routes SIGTERM and SIGINT to handler without SA_RESTART, so a blocking
 * wait notices a stop promptly, and ignores SIGPIPE (a peer that hangs up
 * is an error return, not a death).  Returns 0, or -1 with errno set. */
int daemon_stop_signals(void (*handler)(int));

#endif
