/*
 * End-to-end test of the sse_client C API, in C99, against the built cdylib.
 *
 * It starts its own loopback HTTP server (a pthread with real sockets on 127.0.0.1, an
 * ephemeral port) that records each request head and answers with a scripted response,
 * and drives the library through it: hostile input, callback mode with a reconnect,
 * close from inside a callback, fatal responses, poll mode with the wakeup fd, and the
 * log callback. One line per check, then "N passed, M failed"; exit status 1 if M > 0.
 *
 * Every wait is bounded (5 s, times SSE_TEST_TIMEOUT_SCALE when set, e.g. under valgrind)
 * so that a bug fails a check instead of hanging the run.
 *
 * Built and run by tests/c/run.sh.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sse_client.h"

/* ------------------------------------------------------------------------------------ */
/* Checks                                                                               */
/* ------------------------------------------------------------------------------------ */

static int g_passed;
static int g_failed;

static void check(int ok, const char *fmt, ...)
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

static void section(const char *name)
{
    printf("--- %s\n", name);
    fflush(stdout);
}

/* A result check that names what was expected and what came back. */
static void check_result(sse_result got, sse_result want, const char *what)
{
    check(got == want, "%s -> %s (got %s)", what, sse_result_name(want), sse_result_name(got));
}

/* ------------------------------------------------------------------------------------ */
/* Time                                                                                 */
/* ------------------------------------------------------------------------------------ */

static long g_wait_ms = 5000;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------------------------ */
/* Strings                                                                              */
/* ------------------------------------------------------------------------------------ */

/* Case-insensitive strstr (header names may come in any case). */
static const char *find_ci(const char *haystack, const char *needle)
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

static int bytes_eq(const char *got, size_t got_len, const char *want, size_t want_len)
{
    return got != NULL && got_len == want_len && memcmp(got, want, want_len) == 0;
}

/* A view's string must be NUL-terminated right at its length. */
static int nul_at(const char *s, size_t len)
{
    return s != NULL && s[len] == '\0';
}

/* ------------------------------------------------------------------------------------ */
/* The loopback HTTP server                                                             */
/* ------------------------------------------------------------------------------------ */

#define MAX_STEPS 8
#define MAX_CONNS 16
#define REQ_MAX 8192

typedef struct {
    const char *head;   /* status line, headers and the blank line */
    const char *body;   /* may contain NUL bytes */
    size_t body_len;
    long delay_ms;      /* wait this long after reading the request, before answering */
    int hold_open;      /* keep the connection open after the body (until the server stops) */
    int trickle;        /* while held open, send ": tick\n" every 10 ms */
} step_t;

typedef struct {
    int listen_fd;
    unsigned short port;
    char url[64];
    pthread_t thread;
    pthread_mutex_t mu;
    step_t steps[MAX_STEPS];
    int nsteps;
    char requests[MAX_CONNS][REQ_MAX];
    int nconns;         /* connections accepted */
    int stop;
    int held[MAX_CONNS];
    int held_trickle[MAX_CONNS];
    int nheld;
} server_t;

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the request head up to \r\n\r\n and a Content-Length body, bounded in time. */
static void read_request(int fd, char *buf, size_t cap)
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

static int server_stopping(server_t *s)
{
    int stop;
    pthread_mutex_lock(&s->mu);
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *server_main(void *arg)
{
    server_t *s = (server_t *)arg;
    static const char tick[] = ": tick\n";
    while (!server_stopping(s)) {
        struct pollfd p;
        int fd, idx, i;
        char req[REQ_MAX];
        p.fd = s->listen_fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 10) <= 0) {
            /* Idle: feed the trickling connections. */
            pthread_mutex_lock(&s->mu);
            for (i = 0; i < s->nheld; i++) {
                if (s->held_trickle[i] && s->held[i] >= 0) {
                    if (send_all(s->held[i], tick, sizeof tick - 1) != 0) {
                        s->held_trickle[i] = 0; /* the client went away */
                    }
                }
            }
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        read_request(fd, req, sizeof req);
        pthread_mutex_lock(&s->mu);
        idx = s->nconns++;
        if (idx < MAX_CONNS) memcpy(s->requests[idx], req, sizeof req);
        pthread_mutex_unlock(&s->mu);
        if (idx < s->nsteps) {
            const step_t *st = &s->steps[idx];
            if (st->delay_ms > 0) sleep_ms(st->delay_ms);
            send_all(fd, st->head, strlen(st->head));
            if (st->body_len > 0) send_all(fd, st->body, st->body_len);
            if (st->hold_open && s->nheld < MAX_CONNS) {
                pthread_mutex_lock(&s->mu);
                s->held[s->nheld] = fd;
                s->held_trickle[s->nheld] = st->trickle;
                s->nheld++;
                pthread_mutex_unlock(&s->mu);
                continue;
            }
            shutdown(fd, SHUT_WR);
        }
        /* Past the script: refuse by closing at once (the client sees a broken attempt). */
        close(fd);
    }
    return NULL;
}

/* Starts a server that answers its i-th connection with steps[i]. */
static int server_start(server_t *s, const step_t *steps, int nsteps)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1;
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    memcpy(s->steps, steps, (size_t)nsteps * sizeof *steps);
    s->nsteps = nsteps;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->listen_fd < 0) return -1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
    if (listen(s->listen_fd, 16) != 0) return -1;
    if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) != 0) return -1;
    s->port = ntohs(addr.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/stream", (unsigned)s->port);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) return -1;
    return 0;
}

static void server_stop(server_t *s)
{
    int i;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (i = 0; i < s->nheld; i++) close(s->held[i]);
    close(s->listen_fd);
    pthread_mutex_destroy(&s->mu);
}

static int server_conns(server_t *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* A copy of the i-th request head ("" if there is none yet). */
static void server_request(server_t *s, int i, char *out, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    if (i < s->nconns && i < MAX_CONNS) {
        snprintf(out, cap, "%s", s->requests[i]);
    } else {
        out[0] = '\0';
    }
    pthread_mutex_unlock(&s->mu);
}

static const char STREAM_HEAD[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "Connection: close\r\n"
    "\r\n";

/* ------------------------------------------------------------------------------------ */
/* Callback recorder                                                                    */
/* ------------------------------------------------------------------------------------ */

#define MAX_REC 16

typedef struct {
    char type[64];
    size_t type_len;
    char data[256];
    size_t data_len;
    char id[64];
    size_t id_len;
    int nul_terminated;
} rec_event_t;

typedef struct {
    sse_error_kind kind;
    uint16_t http_status;
    int will_retry;
    uint32_t retry_delay_ms;
    char message[256];
} rec_error_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_t main_thread;
    int total;              /* every callback */
    int opens;
    uint16_t open_status;
    int nevents;
    rec_event_t events[MAX_REC];
    int ncomments;          /* not counting "tick" */
    int nticks;
    char comments[MAX_REC][64];
    size_t comment_len[MAX_REC];
    int comment_nul_ok;
    int nerrors;
    rec_error_t errors[MAX_REC];
    int nstates;
    sse_ready_state states[MAX_REC];
    char seq[64];           /* o=open O/C/X=state OPEN/CONNECTING/CLOSED e=event c=comment x=error */
    size_t seq_len;
    int on_main_thread;     /* callbacks seen on the host's thread (must stay 0) */
    int in_callback;
    int overlaps;           /* callbacks that ran concurrently (must stay 0) */
    /* close-from-callback */
    int close_on_event;
    sse_client *client;
    int closed_in_callback;
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->main_thread = pthread_self();
    r->comment_nul_ok = 1;
}

static void rec_destroy(rec_t *r)
{
    pthread_mutex_destroy(&r->mu);
}

/* Enter/leave wrap every callback: counts, overlap and thread checks. */
static void rec_enter(rec_t *r, char seq)
{
    pthread_mutex_lock(&r->mu);
    if (r->in_callback) r->overlaps++;
    r->in_callback = 1;
    r->total++;
    if (pthread_equal(pthread_self(), r->main_thread)) r->on_main_thread++;
    if (seq != 0 && r->seq_len + 1 < sizeof r->seq) {
        r->seq[r->seq_len++] = seq;
        r->seq[r->seq_len] = '\0';
    }
    pthread_mutex_unlock(&r->mu);
}

static void rec_leave(rec_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->in_callback = 0;
    pthread_mutex_unlock(&r->mu);
}

static void copy_bytes(char *dst, size_t cap, const char *src, size_t len)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void cb_open(void *userdata, uint16_t http_status)
{
    rec_t *r = (rec_t *)userdata;
    rec_enter(r, 'o');
    pthread_mutex_lock(&r->mu);
    r->opens++;
    r->open_status = http_status;
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static void cb_event(void *userdata, const sse_event *ev)
{
    rec_t *r = (rec_t *)userdata;
    int close_now = 0;
    rec_enter(r, 'e');
    pthread_mutex_lock(&r->mu);
    if (r->nevents < MAX_REC && ev != NULL) {
        rec_event_t *e = &r->events[r->nevents];
        copy_bytes(e->type, sizeof e->type, ev->type, ev->type_len);
        e->type_len = ev->type_len;
        copy_bytes(e->data, sizeof e->data, ev->data, ev->data_len);
        e->data_len = ev->data_len;
        copy_bytes(e->id, sizeof e->id, ev->id, ev->id_len);
        e->id_len = ev->id_len;
        e->nul_terminated = nul_at(ev->type, ev->type_len) && nul_at(ev->data, ev->data_len) &&
                            nul_at(ev->id, ev->id_len);
    }
    r->nevents++;
    close_now = r->close_on_event && !r->closed_in_callback;
    pthread_mutex_unlock(&r->mu);
    if (close_now) {
        /* The host stores the client pointer right after sse_client_open returns, which
         * may be after the first event: wait for it (bounded). */
        sse_client *client = NULL;
        long long deadline = now_ms() + g_wait_ms;
        for (;;) {
            pthread_mutex_lock(&r->mu);
            client = r->client;
            pthread_mutex_unlock(&r->mu);
            if (client != NULL || now_ms() > deadline) break;
            sleep_ms(1);
        }
        sse_client_close(client); /* must not deadlock: it does not wait for itself */
        pthread_mutex_lock(&r->mu);
        r->closed_in_callback = client != NULL ? 1 : -1;
        pthread_mutex_unlock(&r->mu);
    }
    rec_leave(r);
}

static void cb_comment(void *userdata, const char *text, size_t len)
{
    rec_t *r = (rec_t *)userdata;
    int is_tick = text != NULL && len == 4 && memcmp(text, "tick", 4) == 0;
    rec_enter(r, is_tick ? 0 : 'c');
    pthread_mutex_lock(&r->mu);
    if (!nul_at(text, len)) r->comment_nul_ok = 0;
    if (is_tick) {
        r->nticks++;
    } else {
        if (r->ncomments < MAX_REC) {
            copy_bytes(r->comments[r->ncomments], sizeof r->comments[0], text, len);
            r->comment_len[r->ncomments] = len;
        }
        r->ncomments++;
    }
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static void cb_error(void *userdata, const sse_error *err)
{
    rec_t *r = (rec_t *)userdata;
    rec_enter(r, 'x');
    pthread_mutex_lock(&r->mu);
    if (r->nerrors < MAX_REC && err != NULL) {
        rec_error_t *e = &r->errors[r->nerrors];
        e->kind = err->kind;
        e->http_status = err->http_status;
        e->will_retry = err->will_retry ? 1 : 0;
        e->retry_delay_ms = err->retry_delay_ms;
        snprintf(e->message, sizeof e->message, "%s", err->message ? err->message : "(NULL)");
    }
    r->nerrors++;
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static void cb_state(void *userdata, sse_ready_state state)
{
    rec_t *r = (rec_t *)userdata;
    char c = state == SSE_STATE_OPEN ? 'O' : state == SSE_STATE_CONNECTING ? 'C' : 'X';
    rec_enter(r, c);
    pthread_mutex_lock(&r->mu);
    if (r->nstates < MAX_REC) r->states[r->nstates] = state;
    r->nstates++;
    pthread_mutex_unlock(&r->mu);
    rec_leave(r);
}

static sse_callbacks callbacks_for(rec_t *r)
{
    sse_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.userdata = r;
    cb.on_open = cb_open;
    cb.on_event = cb_event;
    cb.on_comment = cb_comment;
    cb.on_error = cb_error;
    cb.on_state = cb_state;
    return cb;
}

/* Field readers under the recorder's lock. */
static int rec_nevents(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->nevents;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int rec_total(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->total;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int rec_nstates(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->nstates;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int rec_nticks(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->nticks;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int rec_closed_in_callback(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->closed_in_callback;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits until reader(r) >= want or the deadline; returns whether it got there. */
static int wait_for(rec_t *r, int (*reader)(rec_t *), int want)
{
    long long deadline = now_ms() + g_wait_ms;
    while (reader(r) < want) {
        if (now_ms() > deadline) return 0;
        sleep_ms(2);
    }
    return 1;
}

/* A config for url with fast reconnects; NULL (and a FAIL line) if it cannot be made. */
static sse_config *fast_config(const char *url)
{
    sse_config *c = NULL;
    sse_result r = sse_config_new(url, &c);
    if (r != SSE_OK) {
        check(0, "sse_config_new(%s) -> %s: %s", url, sse_result_name(r), sse_last_error_message());
        return NULL;
    }
    r = sse_config_set_reconnect_delay(c, 10, 100);
    if (r != SSE_OK) check(0, "sse_config_set_reconnect_delay(10, 100) -> %s", sse_result_name(r));
    return c;
}

/* ------------------------------------------------------------------------------------ */
/* Log callback                                                                         */
/* ------------------------------------------------------------------------------------ */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_log_records;
static int g_log_bad_level;
static int g_log_null_message;

static void log_cb(void *userdata, sse_log_level level, const char *message)
{
    int *tag = (int *)userdata;
    pthread_mutex_lock(&g_log_mu);
    g_log_records++;
    if (tag == NULL || *tag != 42 || level < SSE_LOG_ERROR || level > SSE_LOG_DEBUG) g_log_bad_level++;
    if (message == NULL) g_log_null_message++;
    pthread_mutex_unlock(&g_log_mu);
}

static int log_records(void)
{
    int n;
    pthread_mutex_lock(&g_log_mu);
    n = g_log_records;
    pthread_mutex_unlock(&g_log_mu);
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* Tests                                                                                */
/* ------------------------------------------------------------------------------------ */

static void *thread_last_error(void *arg)
{
    const char **out = (const char **)arg;
    const char *m = sse_last_error_message();
    *out = (m != NULL && m[0] == '\0') ? "empty" : (m == NULL ? "NULL" : "non-empty");
    return NULL;
}

static void test_basics(void)
{
    const char *msg = sse_last_error_message();
    const char *v = sse_version();
    static const struct {
        sse_result code;
        const char *name;
    } names[] = {
        {SSE_OK, "SSE_OK"},
        {SSE_ERROR_NULL_ARGUMENT, "SSE_ERROR_NULL_ARGUMENT"},
        {SSE_ERROR_INVALID_ARGUMENT, "SSE_ERROR_INVALID_ARGUMENT"},
        {SSE_ERROR_INVALID_URL, "SSE_ERROR_INVALID_URL"},
        {SSE_ERROR_TIMEOUT, "SSE_ERROR_TIMEOUT"},
        {SSE_ERROR_CLOSED, "SSE_ERROR_CLOSED"},
        {SSE_ERROR_WRONG_MODE, "SSE_ERROR_WRONG_MODE"},
        {SSE_ERROR_PANIC, "SSE_ERROR_PANIC"},
        {SSE_ERROR_RESOURCE, "SSE_ERROR_RESOURCE"},
    };
    size_t i;
    unsigned a, b, c;
    int consumed = 0;
    pthread_t t;
    const char *other = "not run";

    section("basics");
    check(msg != NULL && msg[0] == '\0', "sse_last_error_message() is \"\" before any failure (got %s%s%s)",
          msg ? "\"" : "", msg ? msg : "NULL", msg ? "\"" : "");
    check(v != NULL && sscanf(v, "%u.%u.%u%n", &a, &b, &c, &consumed) == 3 && v[consumed] == '\0' &&
              v[0] >= '0' && v[0] <= '9',
          "sse_version() is MAJOR.MINOR.PATCH (got \"%s\")", v ? v : "NULL");
    check(v != NULL && v == sse_version(), "sse_version() is a static string");
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *n = sse_result_name(names[i].code);
        check(n != NULL && strcmp(n, names[i].name) == 0, "sse_result_name(%d) == \"%s\" (got \"%s\")",
              (int)names[i].code, names[i].name, n ? n : "NULL");
    }
    /* A failure explains itself; the message is thread-local. */
    {
        sse_config *cfg = NULL;
        sse_result r = sse_config_new(NULL, &cfg);
        check_result(r, SSE_ERROR_NULL_ARGUMENT, "sse_config_new(NULL, &c)");
        msg = sse_last_error_message();
        check(msg != NULL && msg[0] != '\0', "sse_last_error_message() explains the failure (\"%s\")",
              msg ? msg : "NULL");
        check(cfg == NULL, "out is not written on failure");
    }
    if (pthread_create(&t, NULL, thread_last_error, (void *)&other) == 0) {
        pthread_join(t, NULL);
    }
    check(strcmp(other, "empty") == 0, "sse_last_error_message() is thread-local (another thread sees \"\": %s)",
          other);
}

static void test_hostile_input(void)
{
    sse_config *c = NULL;
    sse_config *sentinel = (sse_config *)&c; /* any non-NULL value, never dereferenced */
    sse_config *out;
    sse_client *client;
    sse_message *m;
    char buf[8];
    size_t len;
    sse_result r;
    const char *msg;

    section("hostile input");
    out = sentinel;
    r = sse_config_new("ftp://x/", &out);
    check_result(r, SSE_ERROR_INVALID_URL, "sse_config_new(\"ftp://x/\")");
    msg = sse_last_error_message();
    check(msg != NULL && msg[0] != '\0', "  with a message (\"%s\")", msg ? msg : "NULL");
    check(out == sentinel, "  and *out untouched");

    out = sentinel;
    r = sse_config_new("not a url", &out);
    check_result(r, SSE_ERROR_INVALID_URL, "sse_config_new(\"not a url\")");
    msg = sse_last_error_message();
    check(msg != NULL && msg[0] != '\0', "  with a message (\"%s\")", msg ? msg : "NULL");
    check(out == sentinel, "  and *out untouched");

    out = sentinel;
    r = sse_config_new("http://127.0.0.1/\xff\xfe", &out);
    check_result(r, SSE_ERROR_INVALID_ARGUMENT, "sse_config_new(non-UTF-8 bytes)");
    msg = sse_last_error_message();
    check(msg != NULL && msg[0] != '\0', "  with a message (\"%s\")", msg ? msg : "NULL");
    check(out == sentinel, "  and *out untouched");

    r = sse_config_new("http://127.0.0.1:1/", NULL);
    check_result(r, SSE_ERROR_NULL_ARGUMENT, "sse_config_new(url, NULL)");

    r = sse_config_new("http://127.0.0.1:1/", &c);
    check_result(r, SSE_OK, "sse_config_new(\"http://127.0.0.1:1/\")");
    if (c == NULL) return;

    r = sse_config_set_header(c, "X-A", "1\r\nEvil: x");
    check_result(r, SSE_ERROR_INVALID_ARGUMENT, "sse_config_set_header(\"X-A\", \"1\\r\\nEvil: x\")");
    msg = sse_last_error_message();
    check(msg != NULL && msg[0] != '\0', "  with a message (\"%s\")", msg ? msg : "NULL");
    check_result(sse_config_set_header(c, "X-A", "1\nEvil: x"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(\"X-A\", \"1\\nEvil: x\")");
    check_result(sse_config_set_header(c, "X A", "1"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(\"X A\", \"1\") (name with a space)");
    check_result(sse_config_set_header(c, "", "1"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(\"\", \"1\")");
    check_result(sse_config_set_header(c, "X-Evil\r\n", "1"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(\"X-Evil\\r\\n\", \"1\")");
    check_result(sse_config_set_header(c, "Last-Event-ID", "5"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(\"Last-Event-ID\", ...) (managed by the client)");
    check_result(sse_config_set_header(c, NULL, "1"), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_header(c, NULL, v)");
    check_result(sse_config_set_header(c, "X-A", NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_header(c, n, NULL)");
    check_result(sse_config_set_header(c, "X-A", "\xff"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_header(value not UTF-8)");
    check_result(sse_config_set_header(c, "X-Ok", "fine value"), SSE_OK, "sse_config_set_header(\"X-Ok\", \"fine value\")");

    check_result(sse_config_set_method(c, "GE T"), SSE_ERROR_INVALID_ARGUMENT, "sse_config_set_method(\"GE T\")");
    check_result(sse_config_set_method(c, ""), SSE_ERROR_INVALID_ARGUMENT, "sse_config_set_method(\"\")");
    check_result(sse_config_set_method(c, "GET\r\n"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_method(\"GET\\r\\n\")");
    check_result(sse_config_set_method(c, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_method(c, NULL)");
    check_result(sse_config_set_method(c, "REPORT"), SSE_OK, "sse_config_set_method(\"REPORT\")");

    check_result(sse_config_set_body(c, NULL, 5), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_body(c, NULL, 5)");
    check_result(sse_config_set_body(c, NULL, 0), SSE_OK, "sse_config_set_body(c, NULL, 0)");

    check_result(sse_config_set_last_event_id(c, "a\nb"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_last_event_id(\"a\\nb\")");
    check_result(sse_config_set_last_event_id(c, "a\rb"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_last_event_id(\"a\\rb\")");
    check_result(sse_config_set_last_event_id(c, NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_last_event_id(c, NULL)");
    check_result(sse_config_set_reconnect_delay(c, 100, 10), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_reconnect_delay(100, 10) (max < initial)");
    check_result(sse_config_set_reconnect_delay(c, 10, 100), SSE_OK, "sse_config_set_reconnect_delay(10, 100)");

    /* Every setter with a NULL config. */
    check_result(sse_config_set_header(NULL, "X-A", "1"), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_header(NULL, ...)");
    check_result(sse_config_set_method(NULL, "GET"), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_method(NULL, ...)");
    check_result(sse_config_set_body(NULL, (const uint8_t *)"x", 1), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_body(NULL, ...)");
    check_result(sse_config_set_last_event_id(NULL, "1"), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_last_event_id(NULL, ...)");
    check_result(sse_config_set_reconnect_delay(NULL, 10, 100), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_reconnect_delay(NULL, ...)");
    check_result(sse_config_set_max_retries(NULL, 3), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_max_retries(NULL, ...)");
    check_result(sse_config_set_connect_timeout(NULL, 1000), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_connect_timeout(NULL, ...)");
    check_result(sse_config_set_read_timeout(NULL, 1000), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_read_timeout(NULL, ...)");
    check_result(sse_config_set_max_event_size(NULL, 1024), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_max_event_size(NULL, ...)");
    check_result(sse_config_set_queue_capacity(NULL, 8), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_queue_capacity(NULL, ...)");
    check_result(sse_config_set_max_redirects(NULL, 2), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_max_redirects(NULL, ...)");
    /* And with a live one, the plain setters succeed. */
    check_result(sse_config_set_max_retries(c, 3), SSE_OK, "sse_config_set_max_retries(c, 3)");
    check_result(sse_config_set_connect_timeout(c, 1000), SSE_OK, "sse_config_set_connect_timeout(c, 1000)");
    check_result(sse_config_set_read_timeout(c, 0), SSE_OK, "sse_config_set_read_timeout(c, 0)");
    check_result(sse_config_set_max_event_size(c, 1024), SSE_OK, "sse_config_set_max_event_size(c, 1024)");
    check_result(sse_config_set_queue_capacity(c, 8), SSE_OK, "sse_config_set_queue_capacity(c, 8)");
    check_result(sse_config_set_max_redirects(c, 0), SSE_OK, "sse_config_set_max_redirects(c, 0)");

    /* The client functions with NULL. */
    client = (sse_client *)sentinel;
    check_result(sse_client_open(NULL, NULL, &client), SSE_ERROR_NULL_ARGUMENT, "sse_client_open(NULL config)");
    check(client == (sse_client *)sentinel, "  and *out untouched");
    check_result(sse_client_open(c, NULL, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_open(c, NULL, NULL out)");
    check(sse_client_ready_state(NULL) == SSE_STATE_CLOSED, "sse_client_ready_state(NULL) == SSE_STATE_CLOSED");
    check(sse_client_wakeup_fd(NULL) == -1, "sse_client_wakeup_fd(NULL) == -1");
    m = (sse_message *)sentinel;
    check_result(sse_client_poll(NULL, 0, &m), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll(NULL, 0, &m)");
    check(m == (sse_message *)sentinel, "  and *out untouched");
    memcpy(buf, "xxxxxxx", 8);
    check(sse_client_last_event_id(NULL, buf, sizeof buf) == 0, "sse_client_last_event_id(NULL, buf, n) == 0");
    check(sse_client_last_event_id(NULL, NULL, 0) == 0, "sse_client_last_event_id(NULL, NULL, 0) == 0");

    /* Message accessors with NULL. */
    check(sse_message_kind_of(NULL) == SSE_MESSAGE_STATE, "sse_message_kind_of(NULL) == SSE_MESSAGE_STATE");
    check(sse_message_event(NULL) == NULL, "sse_message_event(NULL) == NULL");
    check(sse_message_error(NULL) == NULL, "sse_message_error(NULL) == NULL");
    check(sse_message_state(NULL) == SSE_STATE_CLOSED, "sse_message_state(NULL) == SSE_STATE_CLOSED");
    check(sse_message_http_status(NULL) == 0, "sse_message_http_status(NULL) == 0");
    len = 12345;
    {
        const char *text = sse_message_comment(NULL, &len);
        check(text == NULL && len == 0, "sse_message_comment(NULL, &len) == NULL, len = 0 (got %lu)", (unsigned long)len);
    }
    check(sse_message_comment(NULL, NULL) == NULL, "sse_message_comment(NULL, NULL) == NULL");

    /* Every *_free(NULL) (and close(NULL)) is a no-op. */
    sse_config_free(NULL);
    sse_client_close(NULL);
    sse_client_free(NULL);
    sse_message_free(NULL);
    sse_set_log_callback(NULL, NULL, SSE_LOG_TRACE);
    check(1, "sse_config_free/sse_client_close/sse_client_free/sse_message_free(NULL) and "
             "sse_set_log_callback(NULL) return");

    sse_config_free(c);
}

/* Callback mode: retry:, comments, ids, types, multi-line and NUL data, a reconnect with
 * Last-Event-ID, the last event ID buffer semantics, and no callback after close. */
static void test_callback_mode(void)
{
    static const char body1[] =
        "retry: 50\n"
        ": hi\n"
        "\n"
        "id: 1\n"
        "event: greet\n"
        "data: hello\n"
        "\n"
        "id: 2\n"
        "data: line1\n"
        "data: line2\n"
        "\n"
        "id: e-3\n"
        "data: a\0b\n"
        "\n";
    static const char body2[] = "id: abcdef\ndata: second\n\n";
    step_t steps[2];
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_message *m = NULL;
    sse_result r;
    char req[REQ_MAX];
    char buf[16];
    size_t n;
    int total, i, ok;
    long long t0;

    section("callback mode");
    memset(steps, 0, sizeof steps);
    steps[0].head = STREAM_HEAD;
    steps[0].body = body1;
    steps[0].body_len = sizeof body1 - 1;
    steps[1].head = STREAM_HEAD;
    steps[1].body = body2;
    steps[1].body_len = sizeof body2 - 1;
    steps[1].hold_open = 1;
    steps[1].trickle = 1;
    if (server_start(&srv, steps, 2) != 0) {
        check(0, "start the loopback server: %s", strerror(errno));
        return;
    }
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_header(cfg, "X-Test", "yes"), SSE_OK, "sse_config_set_header(\"X-Test\", \"yes\")");
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg); /* the client keeps a copy */
    check_result(r, SSE_OK, "sse_client_open (callback mode), config freed right after");
    if (r != SSE_OK || client == NULL) goto out_server;

    check(sse_client_wakeup_fd(client) == -1, "sse_client_wakeup_fd on a callback-mode client == -1");
    m = NULL;
    check_result(sse_client_poll(client, 0, &m), SSE_ERROR_WRONG_MODE, "sse_client_poll on a callback-mode client");
    check(m == NULL, "  and *out untouched");

    ok = wait_for(&rec, rec_nevents, 4);
    check(ok, "4 events arrive over 2 connections (got %d)", rec_nevents(&rec));
    ok = wait_for(&rec, rec_nticks, 3);
    check(ok, "heartbeat comments keep arriving on the held connection (got %d)", rec_nticks(&rec));

    pthread_mutex_lock(&rec.mu);
    check(rec.opens == 2 && rec.open_status == 200, "on_open twice with 200 (got %d, %u)", rec.opens,
          (unsigned)rec.open_status);
    check(rec.ncomments == 1 && rec.comment_len[0] == 2 && strcmp(rec.comments[0], "hi") == 0,
          "on_comment got \"hi\" with len 2 (count %d, \"%s\", len %lu)", rec.ncomments, rec.comments[0],
          (unsigned long)rec.comment_len[0]);
    check(rec.comment_nul_ok, "comment text is NUL-terminated at len");
    check(rec.nevents >= 4 && strcmp(rec.events[0].type, "greet") == 0 && rec.events[0].type_len == 5 &&
              bytes_eq(rec.events[0].data, rec.events[0].data_len, "hello", 5) &&
              strcmp(rec.events[0].id, "1") == 0 && rec.events[0].id_len == 1,
          "event 1: type \"greet\", data \"hello\", id \"1\" (got \"%s\", \"%s\", \"%s\")", rec.events[0].type,
          rec.events[0].data, rec.events[0].id);
    check(strcmp(rec.events[1].type, "message") == 0 && rec.events[1].type_len == 7 &&
              bytes_eq(rec.events[1].data, rec.events[1].data_len, "line1\nline2", 11) &&
              strcmp(rec.events[1].id, "2") == 0,
          "event 2: type \"message\" by default, multi-line data \"line1\\nline2\", id \"2\" (got \"%s\", len %lu, \"%s\")",
          rec.events[1].type, (unsigned long)rec.events[1].data_len, rec.events[1].id);
    check(bytes_eq(rec.events[2].data, rec.events[2].data_len, "a\0b", 3) && strcmp(rec.events[2].id, "e-3") == 0 &&
              rec.events[2].id_len == 3,
          "event 3: data \"a\\0b\" with data_len 3, id \"e-3\" (got data_len %lu, id \"%s\")",
          (unsigned long)rec.events[2].data_len, rec.events[2].id);
    check(bytes_eq(rec.events[3].data, rec.events[3].data_len, "second", 6) && strcmp(rec.events[3].id, "abcdef") == 0,
          "event 4 (after the reconnect): data \"second\", id \"abcdef\" (got \"%s\", \"%s\")", rec.events[3].data,
          rec.events[3].id);
    ok = 1;
    for (i = 0; i < 4 && i < rec.nevents; i++) ok = ok && rec.events[i].nul_terminated;
    check(ok, "every event view string is NUL-terminated at its length");
    check(rec.nerrors == 1 && rec.errors[0].kind == SSE_ERROR_KIND_STREAM_ENDED && rec.errors[0].will_retry &&
              rec.errors[0].http_status == 0,
          "one on_error: STREAM_ENDED, will_retry, http_status 0 (got %d errors, kind %d, retry %d, status %u)",
          rec.nerrors, (int)rec.errors[0].kind, rec.errors[0].will_retry, (unsigned)rec.errors[0].http_status);
    check(rec.errors[0].retry_delay_ms >= 50 && rec.errors[0].retry_delay_ms <= 75,
          "retry_delay_ms follows the server's retry: 50, jitter at most half (got %u)",
          (unsigned)rec.errors[0].retry_delay_ms);
    check(rec.errors[0].message[0] != '\0', "the error has a message (\"%s\")", rec.errors[0].message);
    check(rec.nstates == 3 && rec.states[0] == SSE_STATE_OPEN && rec.states[1] == SSE_STATE_CONNECTING &&
              rec.states[2] == SSE_STATE_OPEN,
          "on_state: OPEN, CONNECTING, OPEN (got %d states)", rec.nstates);
    check(strcmp(rec.seq, "oOceeexCoOe") == 0,
          "callback order: open, state OPEN, comment, 3 events, error, state CONNECTING, open, state OPEN, event "
          "(got \"%s\")",
          rec.seq);
    check(rec.on_main_thread == 0, "callbacks run on the worker thread, not the host's");
    check(rec.overlaps == 0, "callbacks never overlap");
    pthread_mutex_unlock(&rec.mu);

    server_request(&srv, 0, req, sizeof req);
    check(strncmp(req, "GET /stream HTTP/1.1\r\n", 22) == 0, "request 1 is \"GET /stream HTTP/1.1\"");
    check(find_ci(req, "\r\naccept: text/event-stream\r\n") != NULL, "request 1 has Accept: text/event-stream");
    check(find_ci(req, "\r\nx-test: yes\r\n") != NULL, "request 1 has the configured header X-Test: yes");
    check(find_ci(req, "\r\nlast-event-id:") == NULL, "request 1 has no Last-Event-ID");
    server_request(&srv, 1, req, sizeof req);
    check(find_ci(req, "\r\nlast-event-id: e-3\r\n") != NULL, "request 2 (reconnect) carries Last-Event-ID: e-3");
    check(find_ci(req, "\r\nx-test: yes\r\n") != NULL, "request 2 has X-Test: yes too");

    check(sse_client_ready_state(client) == SSE_STATE_OPEN, "sse_client_ready_state == OPEN");

    /* snprintf semantics of sse_client_last_event_id; the ID is "abcdef" (6 bytes). */
    memset(buf, 'z', sizeof buf);
    n = sse_client_last_event_id(client, buf, 7);
    check(n == 6 && strcmp(buf, "abcdef") == 0, "last_event_id(buf, 7) == 6, \"abcdef\" (got %lu, \"%.7s\")",
          (unsigned long)n, buf);
    memset(buf, 'z', sizeof buf);
    n = sse_client_last_event_id(client, buf, 4);
    check(n == 6 && strcmp(buf, "abc") == 0 && buf[4] == 'z',
          "last_event_id(buf, 4) truncates to \"abc\", returns 6, writes nothing past 4 (got %lu, \"%.4s\")",
          (unsigned long)n, buf);
    memset(buf, 'z', sizeof buf);
    n = sse_client_last_event_id(client, buf, 1);
    check(n == 6 && buf[0] == '\0' && buf[1] == 'z', "last_event_id(buf, 1) writes just the NUL, returns 6");
    n = sse_client_last_event_id(client, NULL, 0);
    check(n == 6, "last_event_id(NULL, 0) returns the length 6 (got %lu)", (unsigned long)n);
    memset(buf, 'z', sizeof buf);
    n = sse_client_last_event_id(client, buf, 0);
    check(n == 6 && buf[0] == 'z', "last_event_id(buf, 0) writes nothing, returns 6");

    /* Close: no callback once it returns, even with heartbeats still arriving. */
    t0 = now_ms();
    sse_client_close(client);
    check(now_ms() - t0 < 2000, "sse_client_close returns promptly (%lld ms)", now_ms() - t0);
    total = rec_total(&rec);
    check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "ready_state is CLOSED after close");
    sleep_ms(200);
    check(rec_total(&rec) == total, "no callback after close returned (before %d, after 200 ms %d)", total,
          rec_total(&rec));
    sse_client_close(client);
    check(1, "sse_client_close twice is fine");
    pthread_mutex_lock(&rec.mu);
    check(rec.nstates == 3, "no state callback reports the host's close (got %d states)", rec.nstates);
    pthread_mutex_unlock(&rec.mu);
    m = NULL;
    r = sse_client_poll(client, 0, &m);
    check(r == SSE_ERROR_WRONG_MODE || r == SSE_ERROR_CLOSED,
          "sse_client_poll on a closed callback client -> WRONG_MODE or CLOSED (got %s)", sse_result_name(r));
    t0 = now_ms();
    sse_client_free(client);
    check(now_ms() - t0 < 2000, "sse_client_free returns promptly (%lld ms)", now_ms() - t0);
    check(rec_total(&rec) == total, "no callback during free");
    check(server_conns(&srv) == 2, "the server saw exactly 2 connections (got %d)", server_conns(&srv));

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

/* sse_client_close from inside on_event: no deadlock; free from the main thread. */
static void test_close_in_callback(void)
{
    static const char body[] = "data: x\n\ndata: y\n\n";
    step_t step;
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    int total;
    long long t0;

    section("close from inside on_event");
    memset(&step, 0, sizeof step);
    step.head = STREAM_HEAD;
    step.body = body;
    step.body_len = sizeof body - 1;
    step.hold_open = 1;
    step.trickle = 1;
    if (server_start(&srv, &step, 1) != 0) {
        check(0, "start the loopback server: %s", strerror(errno));
        return;
    }
    rec_init(&rec);
    rec.close_on_event = 1;
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.url);
    if (cfg == NULL) goto out_server;
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;
    pthread_mutex_lock(&rec.mu);
    rec.client = client;
    pthread_mutex_unlock(&rec.mu);

    check(wait_for(&rec, rec_closed_in_callback, 1), "sse_client_close called from on_event returned (no deadlock)");
    sleep_ms(100);
    total = rec_total(&rec);
    pthread_mutex_lock(&rec.mu);
    check(rec.nevents == 1, "only the first event was delivered (got %d)", rec.nevents);
    check(rec.nticks == 0, "no heartbeat after the close (got %d)", rec.nticks);
    check(rec.nstates == 1 && rec.states[0] == SSE_STATE_OPEN, "no state callback after OPEN (got %d states)",
          rec.nstates);
    check(rec.nerrors == 0, "no error callback (got %d)", rec.nerrors);
    check(rec.overlaps == 0, "callbacks never overlap");
    pthread_mutex_unlock(&rec.mu);
    check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "ready_state is CLOSED");
    t0 = now_ms();
    sse_client_free(client);
    check(now_ms() - t0 < 2000, "sse_client_free from the main thread returns promptly (%lld ms)", now_ms() - t0);
    check(rec_total(&rec) == total, "no callback after that");

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

/* A fatal response: one error with will_retry false, then state CLOSED, no reconnect. */
static void run_fatal(const char *title, const step_t *step, const char *method, const char *body,
                      sse_error_kind want_kind, uint16_t want_status)
{
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    char req[REQ_MAX];

    req[0] = '\0';
    section(title);
    if (server_start(&srv, step, 1) != 0) {
        check(0, "start the loopback server: %s", strerror(errno));
        return;
    }
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.url);
    if (cfg == NULL) goto out_server;
    if (method != NULL) {
        check_result(sse_config_set_method(cfg, method), SSE_OK, "sse_config_set_method");
    }
    if (body != NULL) {
        check_result(sse_config_set_body(cfg, (const uint8_t *)body, strlen(body)), SSE_OK, "sse_config_set_body");
    }
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    check(wait_for(&rec, rec_nstates, 1), "a state callback arrives");
    sleep_ms(150); /* room for a wrong reconnect to show */
    pthread_mutex_lock(&rec.mu);
    check(rec.nerrors == 1, "exactly one on_error (got %d)", rec.nerrors);
    check(rec.errors[0].kind == want_kind, "error kind %d (got %d: \"%s\")", (int)want_kind, (int)rec.errors[0].kind,
          rec.errors[0].message);
    check(rec.errors[0].http_status == want_status, "error http_status %u (got %u)", (unsigned)want_status,
          (unsigned)rec.errors[0].http_status);
    check(!rec.errors[0].will_retry, "will_retry is false");
    check(rec.errors[0].message[0] != '\0', "the error has a message (\"%s\")", rec.errors[0].message);
    check(rec.nstates == 1 && rec.states[0] == SSE_STATE_CLOSED, "then on_state CLOSED, and nothing else (got %d states)",
          rec.nstates);
    check(strcmp(rec.seq, "xX") == 0, "order: on_error, then on_state CLOSED (got \"%s\")", rec.seq);
    check(rec.opens == 0, "no on_open");
    pthread_mutex_unlock(&rec.mu);
    check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "ready_state is CLOSED");
    check(server_conns(&srv) == 1, "no reconnect (the server saw %d connections)", server_conns(&srv));
    if (method != NULL) {
        char line[64];
        server_request(&srv, 0, req, sizeof req);
        snprintf(line, sizeof line, "%s /stream HTTP/1.1\r\n", method);
        check(strncmp(req, line, strlen(line)) == 0, "the request line uses the configured method %s", method);
    }
    if (body != NULL) {
        char cl[64];
        size_t hl;
        const char *end = strstr(req, "\r\n\r\n");
        snprintf(cl, sizeof cl, "\r\ncontent-length: %lu\r\n", (unsigned long)strlen(body));
        check(find_ci(req, cl) != NULL, "the request has Content-Length %lu", (unsigned long)strlen(body));
        hl = end != NULL ? (size_t)(end + 4 - req) : 0;
        check(end != NULL && strcmp(req + hl, body) == 0, "the request body arrived intact (\"%s\")",
              end != NULL ? req + hl : "(no head end)");
    }
    sse_client_free(client);

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

static void test_fatal(void)
{
    step_t step;
    memset(&step, 0, sizeof step);
    step.head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\n";
    step.body = "not found";
    step.body_len = 9;
    run_fatal("fatal: 404", &step, NULL, NULL, SSE_ERROR_KIND_HTTP_STATUS, 404);

    memset(&step, 0, sizeof step);
    step.head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
    step.body = "hello";
    step.body_len = 5;
    run_fatal("fatal: 200 text/html (with method REPORT and a body)", &step, "REPORT", "{\"q\":1}",
              SSE_ERROR_KIND_CONTENT_TYPE, 200);
}

static int fd_readable(int fd, int timeout_ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

/* Poll mode with the wakeup fd. */
static void test_poll_mode(void)
{
    static const char body[] = ": ping\n\nevent: update\nid: p1\ndata: payload\n\n";
    step_t step;
    server_t srv;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_message *m;
    sse_message *kept = NULL;
    sse_result r;
    char req[REQ_MAX];
    char buf[32];
    char kinds[32];
    size_t nkinds = 0;
    size_t n;
    int fd, ok, seen_event = 0, bad_views = 0, open_status = -1, nstate = 0, state_ok = 1;
    int comment_ok = -1;
    sse_result drain_end = SSE_ERROR_TIMEOUT;
    long long deadline, t0;

    section("poll mode");
    memset(&step, 0, sizeof step);
    step.head = STREAM_HEAD;
    step.body = body;
    step.body_len = sizeof body - 1;
    step.delay_ms = 300; /* so the client is still CONNECTING right after open */
    step.hold_open = 1;
    if (server_start(&srv, &step, 1) != 0) {
        check(0, "start the loopback server: %s", strerror(errno));
        return;
    }
    cfg = fast_config(srv.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_last_event_id(cfg, "start-0"), SSE_OK, "sse_config_set_last_event_id(\"start-0\")");
    check_result(sse_config_set_queue_capacity(cfg, 16), SSE_OK, "sse_config_set_queue_capacity(16)");
    r = sse_client_open(cfg, NULL, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open (poll mode, callbacks NULL)");
    if (r != SSE_OK || client == NULL) goto out_server;

    check(sse_client_ready_state(client) == SSE_STATE_CONNECTING, "ready_state is CONNECTING right after open");
    n = sse_client_last_event_id(client, buf, sizeof buf);
    check(n == 7 && strcmp(buf, "start-0") == 0, "last_event_id is the configured \"start-0\" (got %lu, \"%s\")",
          (unsigned long)n, buf);
    fd = sse_client_wakeup_fd(client);
    check(fd >= 0, "sse_client_wakeup_fd >= 0 (got %d)", fd);
    check(fd == sse_client_wakeup_fd(client), "sse_client_wakeup_fd is stable");
    check(fd < 0 || !fd_readable(fd, 0), "the wakeup fd is not readable before anything arrives");
    m = NULL;
    check_result(sse_client_poll(client, 0, &m), SSE_ERROR_TIMEOUT, "sse_client_poll(c, 0) with nothing queued");
    t0 = now_ms();
    check_result(sse_client_poll(client, 30, &m), SSE_ERROR_TIMEOUT, "sse_client_poll(c, 30) with nothing queued");
    check(now_ms() - t0 >= 25, "  and it waited about 30 ms (%lld ms)", now_ms() - t0);
    check(m == NULL, "  *out untouched");
    check_result(sse_client_poll(client, 0, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll(c, 0, NULL)");

    if (fd >= 0) {
        check(fd_readable(fd, (int)g_wait_ms), "poll(2) on the wakeup fd becomes readable when messages arrive");
    }
    deadline = now_ms() + g_wait_ms;
    while (!seen_event && now_ms() < deadline) {
        if (fd >= 0) fd_readable(fd, 50);
        for (;;) {
            m = NULL;
            r = sse_client_poll(client, 0, &m);
            if (r != SSE_OK) break;
            switch (sse_message_kind_of(m)) {
            case SSE_MESSAGE_OPEN:
                if (nkinds + 1 < sizeof kinds) kinds[nkinds++] = 'o';
                open_status = sse_message_http_status(m);
                if (sse_message_event(m) != NULL || sse_message_error(m) != NULL) bad_views++;
                break;
            case SSE_MESSAGE_STATE:
                if (nkinds + 1 < sizeof kinds) kinds[nkinds++] = 's';
                if (sse_message_state(m) != SSE_STATE_OPEN) state_ok = 0;
                nstate++;
                if (sse_message_event(m) != NULL || sse_message_http_status(m) != 0) bad_views++;
                break;
            case SSE_MESSAGE_COMMENT: {
                size_t len = 999;
                const char *text = sse_message_comment(m, &len);
                if (nkinds + 1 < sizeof kinds) kinds[nkinds++] = 'c';
                comment_ok = text != NULL && len == 4 && strcmp(text, "ping") == 0;
                if (sse_message_event(m) != NULL || sse_message_http_status(m) != 0) bad_views++;
                break;
            }
            case SSE_MESSAGE_EVENT: {
                const sse_event *ev = sse_message_event(m);
                size_t len = 999;
                if (nkinds + 1 < sizeof kinds) kinds[nkinds++] = 'e';
                check(ev != NULL && bytes_eq(ev->type, ev->type_len, "update", 6) &&
                          bytes_eq(ev->data, ev->data_len, "payload", 7) && bytes_eq(ev->id, ev->id_len, "p1", 2) &&
                          nul_at(ev->type, ev->type_len) && nul_at(ev->data, ev->data_len) &&
                          nul_at(ev->id, ev->id_len),
                      "EVENT message: type \"update\", data \"payload\", id \"p1\", NUL-terminated");
                if (sse_message_comment(m, &len) != NULL || len != 0) bad_views++;
                if (sse_message_error(m) != NULL || sse_message_http_status(m) != 0) bad_views++;
                if (sse_message_state(m) != SSE_STATE_CLOSED) bad_views++;
                seen_event = 1;
                if (kept == NULL) {
                    kept = m; /* read again after the client is freed */
                    m = NULL;
                }
                break;
            }
            case SSE_MESSAGE_ERROR: {
                const sse_error *e = sse_message_error(m);
                if (nkinds + 1 < sizeof kinds) kinds[nkinds++] = 'x';
                printf("     (unexpected error message: %s)\n", e && e->message ? e->message : "NULL");
                break;
            }
            }
            sse_message_free(m);
        }
        if (r != SSE_ERROR_TIMEOUT && drain_end == SSE_ERROR_TIMEOUT) drain_end = r;
    }
    check(drain_end == SSE_ERROR_TIMEOUT, "each drain with sse_client_poll(c, 0) ends with SSE_ERROR_TIMEOUT (got %s)",
          sse_result_name(drain_end));
    kinds[nkinds] = '\0';
    check(seen_event, "the EVENT message arrived");
    check(strcmp(kinds, "osce") == 0,
          "message kinds in order: OPEN, STATE, COMMENT, EVENT (got \"%s\")", kinds);
    check(open_status == 200, "OPEN message has http status 200 (got %d)", open_status);
    check(nstate == 1 && state_ok, "one STATE message, OPEN");
    check(comment_ok == 1, "COMMENT message: \"ping\" with length 4");
    check(bad_views == 0, "accessors of other kinds return NULL/0/CLOSED (%d wrong)", bad_views);
    if (fd >= 0) check(!fd_readable(fd, 0), "after draining, the wakeup fd is not readable (poll timeout 0 returns 0)");
    m = NULL;
    check_result(sse_client_poll(client, 0, &m), SSE_ERROR_TIMEOUT, "sse_client_poll(c, 0) after draining");
    n = sse_client_last_event_id(client, buf, sizeof buf);
    check(n == 2 && strcmp(buf, "p1") == 0, "last_event_id is now \"p1\" (got %lu, \"%s\")", (unsigned long)n, buf);
    check(sse_client_ready_state(client) == SSE_STATE_OPEN, "ready_state is OPEN");
    server_request(&srv, 0, req, sizeof req);
    check(find_ci(req, "\r\nlast-event-id: start-0\r\n") != NULL,
          "the first request carries the configured Last-Event-ID: start-0");

    /* Close: the poll eventually reports CLOSED, promptly, with no error reported. */
    sse_client_close(client);
    check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "ready_state is CLOSED after close");
    deadline = now_ms() + g_wait_ms;
    ok = 0;
    for (;;) {
        m = NULL;
        r = sse_client_poll(client, 100, &m);
        if (r == SSE_OK) {
            if (sse_message_kind_of(m) == SSE_MESSAGE_ERROR ||
                (sse_message_kind_of(m) == SSE_MESSAGE_STATE && sse_message_state(m) == SSE_STATE_CLOSED)) {
                ok = -1;
            }
            sse_message_free(m);
            continue;
        }
        if (r != SSE_ERROR_TIMEOUT || now_ms() > deadline) break;
    }
    check(r == SSE_ERROR_CLOSED, "after sse_client_close, sse_client_poll returns SSE_ERROR_CLOSED (got %s)",
          sse_result_name(r));
    check(ok == 0, "no ERROR or STATE CLOSED message reports the host's close");
    t0 = now_ms();
    r = sse_client_poll(client, 2000, &m);
    check(r == SSE_ERROR_CLOSED && now_ms() - t0 < 1000, "and keeps returning it at once (%s, %lld ms)",
          sse_result_name(r), now_ms() - t0);
    if (fd >= 0) check(!fd_readable(fd, 0), "the wakeup fd is not readable once closed and drained");
    sse_client_free(client);

    /* A message outlives its client. */
    if (kept != NULL) {
        const sse_event *ev = sse_message_event(kept);
        check(sse_message_kind_of(kept) == SSE_MESSAGE_EVENT && ev != NULL &&
                  bytes_eq(ev->data, ev->data_len, "payload", 7) && bytes_eq(ev->type, ev->type_len, "update", 6),
              "a message read after sse_client_free is still valid");
        sse_message_free(kept);
    } else {
        check(0, "a message read after sse_client_free is still valid (no message kept)");
    }

out_server:
    server_stop(&srv);
}

int main(void)
{
    const char *scale = getenv("SSE_TEST_TIMEOUT_SCALE");
    static int log_tag = 42;
    int records, after_off;

    signal(SIGPIPE, SIG_IGN);
    if (scale != NULL && atoi(scale) > 1) g_wait_ms *= atoi(scale);
    printf("sse_client C API test (library %s, waits up to %ld ms)\n", sse_version(), g_wait_ms);

    test_basics();
    test_hostile_input();

    section("log callback");
    sse_set_log_callback(log_cb, &log_tag, SSE_LOG_DEBUG);
    test_poll_mode();
    section("log callback (checks)");
    records = log_records();
    check(records >= 1, "the log callback at SSE_LOG_DEBUG got records during a connection (%d)", records);
    pthread_mutex_lock(&g_log_mu);
    check(g_log_bad_level == 0, "every record came with our userdata and a level in ERROR..DEBUG (%d bad)",
          g_log_bad_level);
    check(g_log_null_message == 0, "no record had a NULL message");
    pthread_mutex_unlock(&g_log_mu);
    sse_set_log_callback(NULL, NULL, SSE_LOG_DEBUG);
    after_off = log_records();

    test_callback_mode();
    test_close_in_callback();
    test_fatal();

    section("log callback off");
    check(log_records() == after_off, "no record after sse_set_log_callback(NULL) (%d more)", log_records() - after_off);

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed > 0 ? 1 : 0;
}
