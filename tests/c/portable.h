/*
 * The few lines of the C tests that differ between POSIX and Windows, so that the tests
 * themselves read the same on both: sockets (BSD sockets, or Winsock 2 with WSAPoll),
 * threads (pthreads; MinGW-w64 ships winpthreads, which also provides clock_gettime and
 * nanosleep), and the start-up each platform needs.
 *
 * What a test cannot do on one platform it skips there with skip(), which prints a
 * "SKIP (reason)" line: never silently.
 *
 * Windows: built with x86_64-w64-mingw32-gcc by tests/windows/run.sh (link -lws2_32).
 */
#ifndef SSE_TEST_PORTABLE_H
#define SSE_TEST_PORTABLE_H

#include <stdio.h>
#include <stdlib.h>

#ifdef _WIN32

/* WSAPoll and struct pollfd need Windows Vista or later. */
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <pthread.h>
#include <time.h>

typedef SOCKET socket_t;
#define NO_SOCKET INVALID_SOCKET
#define close_socket(s) closesocket(s)
/* Winsock never raises SIGPIPE: there is nothing to suppress. */
#define MSG_NOSIGNAL 0
#define SHUT_WR SD_SEND
typedef ULONG nfds_t;
#define poll(fds, nfds, timeout_ms) WSAPoll((fds), (ULONG)(nfds), (timeout_ms))
#define IS_WINDOWS 1

/* Winsock must be started before the first socket call. */
static inline void portable_init(void)
{
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        fprintf(stderr, "WSAStartup failed\n");
        exit(2);
    }
}

#else /* POSIX */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef int socket_t;
#define NO_SOCKET (-1)
#define close_socket(s) close(s)
#define IS_WINDOWS 0

/* A write to a connection the peer closed must fail with EPIPE, not kill the test. */
static inline void portable_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

#endif

/* Prints why a check does not run on this platform. */
static inline void skip(const char *what, const char *reason)
{
    printf("SKIP %s (%s)\n", what, reason);
    fflush(stdout);
}

#endif /* SSE_TEST_PORTABLE_H */
