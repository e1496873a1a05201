/*
 * What the C test programs share: see common.h.
 */

#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <process.h> /* _getpid */
#else
#include <fcntl.h>
#endif

/* ------------------------------------------------------------------------------------ */
/* Checks                                                                               */
/* ------------------------------------------------------------------------------------ */

static int g_passed;
static int g_failed;

void check(int ok, const char *fmt, ...)
{
    va_list args;
    printf("%s ", ok ? "PASS" : "FAIL");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
    }
}

void section(const char *name)
{
    printf("--- %s\n", name);
    fflush(stdout);
}

int checks_report(void)
{
    printf("%d passed, %d failed\n", g_passed, g_failed);
    fflush(stdout);
    return g_failed > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------------------------ */
/* Time                                                                                 */
/* ------------------------------------------------------------------------------------ */

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_us(long us)
{
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void sleep_ms(long ms)
{
    sleep_us(ms * 1000);
}

long timeout_scale(void)
{
    const char *scale = getenv("SSE_TEST_TIMEOUT_SCALE");
    return scale != NULL && atoi(scale) > 1 ? atoi(scale) : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Bytes                                                                                */
/* ------------------------------------------------------------------------------------ */

int nul_at(const char *s, size_t len)
{
    return s != NULL && s[len] == '\0';
}

void copy_bytes(char *dst, size_t cap, const char *src, size_t len)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

const char *find_ci(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    const char *p;
    for (p = haystack; *p; p++) {
        size_t i;
        for (i = 0; i < n; i++) {
            char a = p[i], b = needle[i];
            if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
            if (a == '\0' || a != b) break;
        }
        if (i == n) return p;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Sockets                                                                              */
/* ------------------------------------------------------------------------------------ */

socket_t bind_loopback(unsigned short *port)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == NO_SOCKET) return NO_SOCKET;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close_socket(fd);
        return NO_SOCKET;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

int set_nonblocking(socket_t fd)
{
#ifdef _WIN32
    u_long on = 1;
    return ioctlsocket(fd, FIONBIO, &on) == 0 ? 0 : -1;
#else
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : -1;
#endif
}

int socket_would_block(void)
{
#ifdef _WIN32
    return WSAGetLastError() == WSAEWOULDBLOCK;
#else
    return errno == EAGAIN || errno == EWOULDBLOCK;
#endif
}

int socket_interrupted(void)
{
#ifdef _WIN32
    return WSAGetLastError() == WSAEINTR;
#else
    return errno == EINTR;
#endif
}

int send_all(socket_t fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (socket_interrupted()) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int socket_readable(socket_t fd, long timeout_ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, (int)timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

void read_request(socket_t fd, char *buf, size_t cap)
{
    size_t used = 0;
    size_t want = 0; /* total bytes once the head is known */
    long long deadline = now_ms() + 3000;
    buf[0] = '\0';
    while (used + 1 < cap) {
        struct pollfd p;
        ssize_t n;
        long long left = deadline - now_ms();
        if (want != 0 && used >= want) break;
        if (left <= 0) break;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) <= 0) break;
        n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n <= 0) break;
        used += (size_t)n;
        buf[used] = '\0';
        if (want == 0) {
            const char *end = strstr(buf, "\r\n\r\n");
            if (end != NULL) {
                const char *cl = find_ci(buf, "\r\ncontent-length:");
                size_t body = 0;
                if (cl != NULL && cl < end) body = (size_t)strtoul(cl + 17, NULL, 10);
                want = (size_t)(end + 4 - buf) + body;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* A loopback server                                                                    */
/* ------------------------------------------------------------------------------------ */

int loopback_listen(loopback_t *lb, int backlog)
{
    int one = 1;
    memset(lb, 0, sizeof *lb);
    pthread_mutex_init(&lb->stop_mu, NULL);
    lb->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (lb->listen_fd == NO_SOCKET) return -1;
    setsockopt(lb->listen_fd, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof one);
    {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (bind(lb->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
        if (listen(lb->listen_fd, backlog) != 0) return -1;
        if (getsockname(lb->listen_fd, (struct sockaddr *)&addr, &len) != 0) return -1;
        lb->port = ntohs(addr.sin_port);
    }
    snprintf(lb->url, sizeof lb->url, "http://127.0.0.1:%u/stream", (unsigned)lb->port);
    return 0;
}

int loopback_run(loopback_t *lb, void *(*serve)(void *), void *arg)
{
    if (pthread_create(&lb->thread, NULL, serve, arg) != 0) return -1;
    lb->running = 1;
    return 0;
}

int loopback_stopping(loopback_t *lb)
{
    int stop;
    pthread_mutex_lock(&lb->stop_mu);
    stop = lb->stop;
    pthread_mutex_unlock(&lb->stop_mu);
    return stop;
}

void loopback_stop(loopback_t *lb)
{
    pthread_mutex_lock(&lb->stop_mu);
    lb->stop = 1;
    pthread_mutex_unlock(&lb->stop_mu);
    if (lb->running) pthread_join(lb->thread, NULL);
    lb->running = 0;
    if (lb->listen_fd != NO_SOCKET) close_socket(lb->listen_fd);
    lb->listen_fd = NO_SOCKET;
    pthread_mutex_destroy(&lb->stop_mu);
}

/* ------------------------------------------------------------------------------------ */
/* Processes                                                                            */
/* ------------------------------------------------------------------------------------ */

unsigned long process_id(void)
{
#ifdef _WIN32
    return (unsigned long)_getpid();
#else
    return (unsigned long)getpid();
#endif
}
