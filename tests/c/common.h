/*
 * What the C test programs share: checks and their tally, time, a few byte helpers, and
 * the plumbing of a loopback test server (a listening socket on 127.0.0.1 with an
 * ephemeral port, served by a thread of its own until it is told to stop).
 *
 * Used by tests/c/test_api.c, tests/c/fork.c, tests/c/stress.c and tests/abi/compat_host.c.
 * The last is compiled against frozen release headers, so this file knows nothing of
 * sse_client.h: sockets, threads, time and output only. Built from common.c next to each
 * program (see tests/c/run.sh, tests/abi/run.sh, tests/windows/run.sh and
 * cmake/SseClientTests.cmake); portable.h makes it build on POSIX and on Windows.
 */
#ifndef SSE_TEST_COMMON_H
#define SSE_TEST_COMMON_H

#include "portable.h" /* sockets, threads and time on POSIX and Windows */

#include <stddef.h>

#if defined(__GNUC__)
#define TEST_PRINTF(fmt_pos, args_pos) __attribute__((format(printf, fmt_pos, args_pos)))
#else
#define TEST_PRINTF(fmt_pos, args_pos)
#endif

/* ------------------------------------------------------------------------------------ */
/* Checks                                                                               */
/* ------------------------------------------------------------------------------------ */

/* One line per check, "PASS ..." or "FAIL ...", counted. From one thread at a time. */
void check(int ok, const char *fmt, ...) TEST_PRINTF(2, 3);

/* A heading between groups of checks. */
void section(const char *name);

/* Prints "N passed, M failed"; returns the exit status: 1 when a check failed. */
int checks_report(void);

/* ------------------------------------------------------------------------------------ */
/* Time                                                                                 */
/* ------------------------------------------------------------------------------------ */

/* A monotonic clock in milliseconds. */
long long now_ms(void);

/* Sleeps at least this long (a signal does not cut it short). */
void sleep_us(long us);
void sleep_ms(long ms);

/* SSE_TEST_TIMEOUT_SCALE when it is a number above 1 (e.g. under valgrind), else 1: what
 * every bounded wait of a test is multiplied by. */
long timeout_scale(void);

/* ------------------------------------------------------------------------------------ */
/* Bytes                                                                                */
/* ------------------------------------------------------------------------------------ */

/* Whether a string the library hands out is NUL-terminated right at its length. */
int nul_at(const char *s, size_t len);

/* Copies len bytes of src (NULL: none) into dst as a string, cut to fit cap. */
void copy_bytes(char *dst, size_t cap, const char *src, size_t len);

/* Case-insensitive strstr (header names may come in any case). */
const char *find_ci(const char *haystack, const char *needle);

/* ------------------------------------------------------------------------------------ */
/* Sockets                                                                              */
/* ------------------------------------------------------------------------------------ */

/* The head of a successful event-stream response. */
#define STREAM_HEAD                      \
    "HTTP/1.1 200 OK\r\n"                \
    "Content-Type: text/event-stream\r\n" \
    "Cache-Control: no-cache\r\n"        \
    "Connection: close\r\n"              \
    "\r\n"

/* A TCP socket bound to 127.0.0.1 on an ephemeral port, not listening: connections to
 * that port are refused for as long as it stays open. NO_SOCKET on failure. */
socket_t bind_loopback(unsigned short *port);

/* Makes a socket's reads and writes return at once instead of blocking. 0 on success. */
int set_nonblocking(socket_t fd);

/* Whether the last failed socket call would have blocked (EAGAIN, WSAEWOULDBLOCK), or
 * was interrupted by a signal (EINTR, WSAEINTR): both mean "try again". */
int socket_would_block(void);
int socket_interrupted(void);

/* Sends all of data (retrying short writes); 0, or -1 when the connection failed. */
int send_all(socket_t fd, const char *data, size_t len);

/* Whether fd is readable within timeout_ms (poll on POSIX, WSAPoll on Windows). */
int socket_readable(socket_t fd, long timeout_ms);

/* Reads a request head up to its blank line and a Content-Length body, within 3 s,
 * into buf as a string ("" when nothing came). */
void read_request(socket_t fd, char *buf, size_t cap);

/* ------------------------------------------------------------------------------------ */
/* A loopback server                                                                    */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    socket_t listen_fd;
    unsigned short port;
    char url[64];            /* http://127.0.0.1:PORT/stream */
    pthread_t thread;
    pthread_mutex_t stop_mu;
    int stop;
    int running;             /* the thread was started: loopback_stop joins it */
} loopback_t;

/* Listens on 127.0.0.1 with an ephemeral port: lb->listen_fd, lb->port and lb->url are
 * set. Nothing is accepted until loopback_run. 0, or -1 with errno (WSA error) set. */
int loopback_listen(loopback_t *lb, int backlog);

/* Runs serve(arg) on a thread of its own; it is to loop until loopback_stopping(lb).
 * 0, or -1 when the thread could not start. */
int loopback_run(loopback_t *lb, void *(*serve)(void *), void *arg);

/* Whether loopback_stop has been called: the serving thread's loop condition. */
int loopback_stopping(loopback_t *lb);

/* Tells the serving thread to stop, joins it, closes the listening socket. Safe after a
 * failed loopback_listen or loopback_run. */
void loopback_stop(loopback_t *lb);

/* ------------------------------------------------------------------------------------ */
/* Processes                                                                            */
/* ------------------------------------------------------------------------------------ */

/* This process's id (for seeding randomness). */
unsigned long process_id(void);

#endif /* SSE_TEST_COMMON_H */
