/*
 * Concurrency stress test of the sse_client C API, in C99, against the built cdylib.
 *
 * A loopback HTTP server (one pthread multiplexing every connection with poll(2)) streams
 * events quickly; what each connection does is chosen by the URL path /s/<kind>:
 *
 *   h  hold: an event every 1-3 ms (a comment every 4th), never closes
 *   e  ends: retry: 10, then 2-8 events 1 ms apart, then closes (the client reconnects)
 *   b  burst: events as fast as the socket takes them, 500 per connection, then closes
 *      (fills a poll-mode queue: the worker blocks on the full queue)
 *   s  slow head: the response head comes 0-30 ms late, then like h
 *   c  comments only, every 2 ms
 *   n  never answers: the client waits for the response head
 *   x  closes the connection on reading the request
 *   5  503 (the client retries)
 *   f  404 (the client closes for good: will_retry = false)
 *   r  (another port) refused: connect errors and backoff
 *
 * N worker threads each loop over a bounded number of iterations (and a time cap). Each
 * iteration opens one client (callback or poll mode), lets it run 0-20 ms (SSE_STRESS_RUN_MS),
 * and ends it in one of six ways, taken in turn:
 *
 *   close-free      close, check what a closed client answers, drain the queue, free (or
 *                   free right after close)
 *   free-only       free without close (free closes first), sometimes on another thread
 *   poll-close      one thread polls with timeout -1 while another closes: the poll must
 *                   end with SSE_ERROR_CLOSED promptly
 *   close-in-cb     on_event (or on_open) closes its own client through the pointer in
 *                   userdata; the owning thread frees afterwards (sometimes closing too, racing)
 *   restart-race    another thread calls sse_client_restart in a loop across the close
 *   stats-race      another thread reads stats, readyState, last event ID and the wakeup fd
 *                   in a loop across the close
 *
 * Every callback and hook checks, under the client context's mutex, that the host's close
 * has not returned yet (and that no close from a callback came before it, and that the
 * client is not freed), that no other callback of its client is running, and that it is
 * not on the owning thread. Events are checked intact (id, data, type, NUL terminators).
 * Once sse_client_close returns: readyState is CLOSED, restart says SSE_ERROR_CLOSED, the
 * queue yields at most what was queued, then SSE_ERROR_CLOSED. A message is sometimes kept
 * past sse_client_free and read after. Workers also switch the process-wide log callback
 * on and off while clients log. Latencies of close, free and a poll racing a close are
 * bounded.
 *
 * A watchdog thread aborts with a message naming each worker's phase when one iteration
 * takes longer than SSE_STRESS_WATCHDOG or the whole run longer than its total limit: a
 * hang (a poll(-1) that never ends, a close that waits for itself) is a failure, never a
 * stuck CI job.
 *
 * Parameters (argv overrides the environment):
 *   stress [THREADS [ITERATIONS [SECONDS]]]
 *   SSE_STRESS_THREADS     worker threads (default 8)
 *   SSE_STRESS_ITERATIONS  iterations per worker (default 300)
 *   SSE_STRESS_SECONDS     no iteration starts after this many seconds (default 30)
 *   SSE_STRESS_RUN_MS      each client runs 0..this many ms before it is ended (default 20;
 *                          more under valgrind, where connecting alone takes that long)
 *   SSE_STRESS_SEED        random seed (default: time and pid; printed)
 *   SSE_STRESS_WATCHDOG    seconds one iteration may take before the watchdog aborts the
 *                          run (default 20); the whole run may take SSE_STRESS_SECONDS plus
 *                          twice that
 *   SSE_TEST_TIMEOUT_SCALE multiplies the latency bounds (close, free, a poll racing close:
 *                          2 s) and the wait for a close from a callback (5 s), e.g. under
 *                          valgrind
 *
 * Output: a FAIL line per violating iteration (the first few), then one line per property,
 * then "N passed, M failed"; exit status 1 if M > 0.
 *
 * Built and run by tests/c/run.sh (natively, under memcheck, under helgrind or drd), and
 * cross-built with MinGW against the DLL and run under wine by tests/windows/run.sh
 * (Winsock through portable.h; the host waits on the wakeup handle there).
 */

#include "common.h" /* checks, time, the loopback server plumbing; portable.h */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_client.h"

/* ------------------------------------------------------------------------------------ */
/* Parameters, time, randomness                                                         */
/* ------------------------------------------------------------------------------------ */

static int g_threads = 8;
static int g_iterations = 300;
static long g_seconds = 30;
static long g_run_ms = 20;          /* each client runs 0..g_run_ms before it is ended */
static unsigned long g_seed;
static long g_scale = 1;
static long g_bound_ms = 2000;      /* close, free, a poll racing close: times the scale */
static long g_wait_ms = 5000;       /* waiting for a close from a callback: times the scale */
static long g_stall_ms = 20000;     /* the watchdog: one iteration (SSE_STRESS_WATCHDOG) */
static long g_total_ms;             /* the watchdog: the whole run (seconds + 2 x stall) */

/* xorshift32: per thread, no shared state. */
static unsigned rnd_next(unsigned *state)
{
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static unsigned rnd_seed(unsigned long seed, unsigned salt)
{
    unsigned s = (unsigned)(seed ^ (seed >> 16 >> 16)) * 2654435761u + salt * 40503u + 1u;
    return s != 0 ? s : 1u;
}

/* ------------------------------------------------------------------------------------ */
/* Violations: counted per client context, summed globally                              */
/* ------------------------------------------------------------------------------------ */

enum {
    V_LATE_CALLBACK,
    V_LATE_AFTER_CB_CLOSE,
    V_AFTER_FREE,
    V_OVERLAP,
    V_ON_OWNER,
    V_CLOSE_DURING_CB,
    V_BAD_EVENT,
    V_BAD_MESSAGE,
    V_UNEXPECTED_CLOSE,
    V_POLL_RESULT,
    V_POLL0_TIMEOUT_AFTER_CLOSE,
    V_POLL_TIMEOUT_AFTER_CLOSE,
    V_POLL_FLOOD_AFTER_CLOSE,
    V_POLL_RACE_LATE,
    V_STATE_AFTER_CLOSE,
    V_RESTART_AFTER_CLOSE,
    V_RESTART_RESULT,
    V_STATS,
    V_LAST_EVENT_ID,
    V_WAKEUP_FD,
    V_IN_CB_CHECKS,
    V_CB_CLOSE_MISSING,
    V_SLOW_CLOSE,
    V_SLOW_FREE,
    V_SETUP,
    V_KEPT_MESSAGE,
    V_COUNT
};

static const char *const V_TEXT[V_COUNT] = {
    "no callback or hook ran after sse_client_close returned",
    "no callback or hook ran after the callback that closed its own client returned",
    "no callback or hook ran after sse_client_free returned",
    "callbacks and hooks of one client never overlapped",
    "no callback or hook ran on the thread that owns the client",
    "sse_client_close never returned while a callback of its client was running",
    "every event arrived intact (id, data, type, NUL terminators)",
    "every polled message was well-formed",
    "no client closed by itself unless its server failed it for good (404)",
    "sse_client_poll returned only SSE_OK, SSE_ERROR_TIMEOUT or SSE_ERROR_CLOSED",
    "after sse_client_close, poll(0) on a drained queue said SSE_ERROR_CLOSED, not TIMEOUT",
    "after sse_client_close, poll with a timeout (1 ms or -1) never said TIMEOUT",
    "after sse_client_close, the queue yielded at most what was queued, then SSE_ERROR_CLOSED",
    "every poll(-1) racing a close from another thread ended with SSE_ERROR_CLOSED in bound",
    "readyState was CLOSED whenever sse_client_close had returned",
    "sse_client_restart said SSE_ERROR_CLOSED whenever sse_client_close had returned",
    "sse_client_restart returned only SSE_OK or SSE_ERROR_CLOSED",
    "sse_client_stats succeeded with non-decreasing counters across the close",
    "sse_client_last_event_id stayed snprintf-like across the close",
    "the wakeup fd (Windows: the wakeup handle, the fd -1) stayed >= 0 (poll mode) or -1 (callback mode) until free",
    "inside a callback, after closing its own client: readyState CLOSED, stats SSE_OK",
    "every close-in-callback iteration closed from its callback (or the host closed first)",
    "sse_client_close returned within the bound",
    "sse_client_free returned within the bound",
    "every sse_config_* call and sse_client_open succeeded",
    "a message kept past sse_client_free stayed readable",
};

enum { M_CLOSE_FREE, M_FREE_ONLY, M_POLL_CLOSE, M_CLOSE_IN_CB, M_RESTART_RACE, M_STATS_RACE, M_COUNT };

static const char *const MODE_NAME[M_COUNT] = {
    "close-free", "free-only", "poll-close", "close-in-cb", "restart-race", "stats-race",
};

/* Everything global, under g_mu. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    long violations[V_COUNT];
    long iterations[M_COUNT][2]; /* [mode][poll mode] */
    long callbacks;
    long cb_events;
    long hooks;
    long polled;
    long polled_events;
    long closes;
    long closes_in_cb;
    long poll_races;
    long restarts_ok;
    long restarts_closed;
    long stats_reads;
    long kept_messages;
    long log_toggles;
    long long max_close_ms;
    long long max_free_ms;
    long long max_poll_race_ms;
    int fail_lines;
} g_tot;

static int g_finished; /* under g_mu: the watchdog stops */

/* ------------------------------------------------------------------------------------ */
/* The loopback server                                                                  */
/* ------------------------------------------------------------------------------------ */

#define SRV_MAX 192
#define SRV_OUT 4096

enum { CONN_READ, CONN_WAIT, CONN_STREAM, CONN_SILENT };

typedef struct {
    socket_t fd;
    int phase;
    char kind;
    char req[2048];
    size_t req_len;
    char out[SRV_OUT];
    size_t out_len;
    size_t out_off;
    long long next_at;
    int events_left;    /* < 0: no limit */
    int close_after_flush;
    unsigned long next_id;
    unsigned rng;
} conn_t;

typedef struct {
    loopback_t lb;
    unsigned short refused_port;
    conn_t conns[SRV_MAX];
    int nconns;
    unsigned long accepted;
    unsigned long events_sent;
} server_t;

static server_t g_srv;

static const char HEAD_404[] =
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static const char HEAD_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static void out_append(conn_t *c, const char *data, size_t len)
{
    if (c->out_len + len > SRV_OUT) return; /* never happens: events are small */
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* One event: "id: N\n[event: tick\n]data: N:PAD:xxx..x\n[data: end\n]\n". */
static void gen_event(conn_t *c)
{
    char buf[512];
    unsigned long id = c->next_id++;
    unsigned r = rnd_next(&c->rng);
    int pad = (int)(r % 120);
    int n;
    if (r % 23 == 0) pad = 300; /* larger than a small max_event_size */
    n = snprintf(buf, sizeof buf, "id: %lu\n%sdata: %lu:%d:", id, (r >> 8) % 4 == 0 ? "event: tick\n" : "", id,
                 pad);
    memset(buf + n, 'x', (size_t)pad);
    n += pad;
    if ((r >> 12) % 4 == 0) {
        memcpy(buf + n, "\ndata: end\n\n", 12);
        n += 12;
    } else {
        memcpy(buf + n, "\n\n", 2);
        n += 2;
    }
    out_append(c, buf, (size_t)n);
    g_srv.events_sent++; /* the server thread's own counter */
}

static void gen_comment(conn_t *c)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, ": hb %lu\n", c->next_id);
    out_append(c, buf, (size_t)n);
}

/* The request head is complete: pick the behaviour from the path /s/<kind>. */
static int start_response(conn_t *c, long long now)
{
    const char *path = strstr(c->req, " /s/");
    c->kind = path != NULL ? path[4] : 'h';
    c->next_id = 1;
    c->next_at = now;
    switch (c->kind) {
    case 'x':
        return -1;
    case 'n':
        c->phase = CONN_SILENT;
        return 0;
    case 'f':
        out_append(c, HEAD_404, sizeof HEAD_404 - 1);
        c->close_after_flush = 1;
        c->phase = CONN_SILENT;
        return 0;
    case '5':
        out_append(c, HEAD_503, sizeof HEAD_503 - 1);
        c->close_after_flush = 1;
        c->phase = CONN_SILENT;
        return 0;
    case 's':
        c->phase = CONN_WAIT;
        c->next_at = now + (long long)(rnd_next(&c->rng) % 30);
        c->events_left = -1;
        return 0;
    default:
        break;
    }
    out_append(c, STREAM_HEAD, sizeof STREAM_HEAD - 1);
    c->phase = CONN_STREAM;
    switch (c->kind) {
    case 'e':
        out_append(c, "retry: 10\n\n", 11);
        c->events_left = 2 + (int)(rnd_next(&c->rng) % 7);
        break;
    case 'b':
        c->events_left = 500;
        break;
    default:
        c->events_left = -1;
        break;
    }
    return 0;
}

static void produce(conn_t *c, long long now)
{
    if (c->out_off < c->out_len || c->events_left == 0 || now < c->next_at) return;
    c->out_len = c->out_off = 0;
    if (c->kind == 'b') {
        while (c->events_left != 0 && c->out_len + 512 <= SRV_OUT) {
            gen_event(c);
            c->events_left--;
        }
    } else if (c->kind == 'c') {
        gen_comment(c);
        c->next_id++;
        c->next_at = now + 2;
    } else {
        if (c->next_id % 4 == 0) gen_comment(c);
        gen_event(c);
        if (c->events_left > 0) c->events_left--;
        c->next_at = now + 1 + (long long)(rnd_next(&c->rng) % 3);
    }
    if (c->events_left == 0) c->close_after_flush = 1;
}

/* Serves one connection after poll(2) (WSAPoll); returns -1 when it is to be dropped. */
static int serve(conn_t *c, short revents, long long now)
{
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[1024];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0); /* non-blocking: set on accept */
        if (n == 0) return -1;
        if (n < 0 && !socket_would_block() && !socket_interrupted()) return -1;
        if (n > 0 && c->phase == CONN_READ) {
            size_t take = (size_t)n;
            if (take > sizeof c->req - 1 - c->req_len) take = sizeof c->req - 1 - c->req_len;
            memcpy(c->req + c->req_len, buf, take);
            c->req_len += take;
            c->req[c->req_len] = '\0';
            if (strstr(c->req, "\r\n\r\n") != NULL && start_response(c, now) != 0) return -1;
        }
    }
    if (c->phase == CONN_WAIT && now >= c->next_at) {
        out_append(c, STREAM_HEAD, sizeof STREAM_HEAD - 1);
        c->phase = CONN_STREAM;
    }
    if (c->phase == CONN_STREAM) produce(c, now);
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (socket_interrupted()) continue;
            if (socket_would_block()) break;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    if (c->close_after_flush && c->out_off >= c->out_len) return -1;
    return 0;
}

static void *server_main(void *arg)
{
    server_t *s = (server_t *)arg;
    static struct pollfd pfds[SRV_MAX + 1];
    while (!loopback_stopping(&s->lb)) {
        long long now = now_ms();
        long long timeout = 50;
        int i, n = s->nconns;
        pfds[0].fd = s->lb.listen_fd;
        pfds[0].events = POLLIN;
        pfds[0].revents = 0;
        for (i = 0; i < n; i++) {
            conn_t *c = &s->conns[i];
            pfds[i + 1].fd = c->fd;
            pfds[i + 1].events = (short)(POLLIN | (c->out_off < c->out_len ? POLLOUT : 0));
            pfds[i + 1].revents = 0;
            if (c->phase == CONN_WAIT || (c->phase == CONN_STREAM && c->out_off >= c->out_len && c->events_left != 0)) {
                long long wait = c->next_at - now;
                if (wait < timeout) timeout = wait < 0 ? 0 : wait;
            }
        }
        if (poll(pfds, (nfds_t)n + 1, (int)timeout) < 0 && !socket_interrupted()) break;
        now = now_ms();
        for (i = 0; i < n; i++) {
            if (serve(&s->conns[i], pfds[i + 1].revents, now) != 0) {
                close_socket(s->conns[i].fd);
                s->conns[i].fd = NO_SOCKET;
            }
        }
        /* Compact the dropped connections away. */
        {
            int j = 0;
            for (i = 0; i < n; i++) {
                if (s->conns[i].fd == NO_SOCKET) continue;
                if (i != j) memcpy(&s->conns[j], &s->conns[i], sizeof s->conns[0]);
                j++;
            }
            s->nconns = j;
        }
        if (pfds[0].revents & POLLIN) {
            for (;;) {
                socket_t fd = accept(s->lb.listen_fd, NULL, NULL);
                conn_t *c;
                if (fd == NO_SOCKET) break;
                s->accepted++;
                if (s->nconns >= SRV_MAX || set_nonblocking(fd) != 0) {
                    close_socket(fd); /* the client sees a broken attempt and reconnects */
                    continue;
                }
                c = &s->conns[s->nconns++];
                memset(c, 0, sizeof *c);
                c->fd = fd;
                c->phase = CONN_READ;
                c->events_left = -1;
                c->next_id = 1;
                c->rng = rnd_seed(g_seed, (unsigned)s->accepted + 7919u);
            }
        }
    }
    {
        int i;
        for (i = 0; i < s->nconns; i++) close_socket(s->conns[i].fd);
        s->nconns = 0;
    }
    return NULL;
}

static int server_start(server_t *s)
{
    socket_t probe;
    memset(s, 0, sizeof *s);
    /* A port nothing listens on: bound, read, closed. */
    probe = bind_loopback(&s->refused_port);
    if (probe == NO_SOCKET) return -1;
    close_socket(probe);

    if (loopback_listen(&s->lb, 128) != 0) return -1;
    /* The server thread accepts until accept would block. */
    if (set_nonblocking(s->lb.listen_fd) != 0) return -1;
    return loopback_run(&s->lb, server_main, s);
}

static void server_stop(server_t *s)
{
    loopback_stop(&s->lb); /* the server thread closes its connections on its way out */
}

/* ------------------------------------------------------------------------------------ */
/* Log callback (switched on and off by the workers while clients log)                  */
/* ------------------------------------------------------------------------------------ */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static long g_log_records;
static long g_log_bad;
static int g_log_tag = 42;

static void log_cb(void *userdata, sse_log_level level, const char *message)
{
    int bad = userdata != &g_log_tag || message == NULL || level < SSE_LOG_ERROR || level > SSE_LOG_TRACE;
    pthread_mutex_lock(&g_log_mu);
    g_log_records++;
    if (bad) g_log_bad++;
    pthread_mutex_unlock(&g_log_mu);
}

/* ------------------------------------------------------------------------------------ */
/* Client context: what every callback checks                                           */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    pthread_t owner;
    sse_client *client;     /* published after open, for the closing callback */
    char kind;
    int poll_mode;
    int slow;               /* callbacks sleep a little: widens the close/callback race */
    int close_on_event;     /* > 0: the on_event with this number closes the client */
    int close_on_open;      /* the first on_open closes the client */
    int closed_by_cb;       /* a callback's close returned (inside that callback) */
    int close_pending;      /* a callback was to close before the owner published `client` */
    int close_started;      /* the host called sse_client_close */
    int close_returned;     /* ... and it returned */
    long long close_done_ms;
    int freed;
    int in_cb;
    int fatal;              /* the server failed the client for good */
    int stop_helper;        /* tells a helper thread to stop */
    long callbacks, events, hooks, polled, polled_events;
    long restarts_ok, restarts_closed, stats_reads;
    long v[V_COUNT];
    char note[160];         /* detail of the first violation */
} ctx_t;

static void ctx_init(ctx_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->owner = pthread_self();
}

/* Under c->mu. */
static void violate_locked(ctx_t *c, int which, const char *fmt, ...)
{
    c->v[which]++;
    if (c->note[0] == '\0') {
        va_list args;
        va_start(args, fmt);
        vsnprintf(c->note, sizeof c->note, fmt, args);
        va_end(args);
    }
}

static void violate(ctx_t *c, int which, const char *what)
{
    pthread_mutex_lock(&c->mu);
    violate_locked(c, which, "%s", what);
    pthread_mutex_unlock(&c->mu);
}

static int ctx_flag(ctx_t *c, const int *flag)
{
    int v;
    pthread_mutex_lock(&c->mu);
    v = *flag;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* Every callback and hook starts here. */
static void cb_enter(ctx_t *c, const char *what)
{
    int slow;
    pthread_mutex_lock(&c->mu);
    if (c->in_cb) violate_locked(c, V_OVERLAP, "%s overlapped another callback", what);
    c->in_cb = 1;
    c->callbacks++;
    if (c->close_returned) violate_locked(c, V_LATE_CALLBACK, "%s after sse_client_close returned", what);
    if (c->closed_by_cb) violate_locked(c, V_LATE_AFTER_CB_CLOSE, "%s after the callback's own close", what);
    if (c->freed) violate_locked(c, V_AFTER_FREE, "%s after sse_client_free returned", what);
    if (pthread_equal(pthread_self(), c->owner)) violate_locked(c, V_ON_OWNER, "%s on the owning thread", what);
    slow = c->slow;
    pthread_mutex_unlock(&c->mu);
    if (slow) sleep_us(200);
}

static void close_from_callback(ctx_t *c);

static void cb_leave(ctx_t *c)
{
    int retry;
    pthread_mutex_lock(&c->mu);
    retry = c->close_pending && !c->closed_by_cb;
    pthread_mutex_unlock(&c->mu);
    if (retry) close_from_callback(c); /* still inside a callback */
    pthread_mutex_lock(&c->mu);
    c->in_cb = 0;
    pthread_mutex_unlock(&c->mu);
}

/* "N:PAD:" then PAD 'x', optionally "\nend"; the id is N; the type message or tick. */
static int event_ok(const sse_event *ev)
{
    unsigned long id = 0, did = 0, pad = 0;
    size_t i = 0, k;
    if (ev == NULL || ev->data == NULL || ev->id == NULL || ev->type == NULL) return 0;
    if (!nul_at(ev->data, ev->data_len) || !nul_at(ev->id, ev->id_len) || !nul_at(ev->type, ev->type_len)) return 0;
    if (!((ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0) ||
          (ev->type_len == 4 && memcmp(ev->type, "tick", 4) == 0)))
        return 0;
    if (ev->id_len == 0) return 0;
    for (k = 0; k < ev->id_len; k++) {
        if (ev->id[k] < '0' || ev->id[k] > '9') return 0;
        id = id * 10 + (unsigned long)(ev->id[k] - '0');
    }
    for (; i < ev->data_len && ev->data[i] >= '0' && ev->data[i] <= '9'; i++) did = did * 10 + (unsigned long)(ev->data[i] - '0');
    if (i == 0 || i >= ev->data_len || ev->data[i++] != ':') return 0;
    k = i;
    for (; i < ev->data_len && ev->data[i] >= '0' && ev->data[i] <= '9'; i++) pad = pad * 10 + (unsigned long)(ev->data[i] - '0');
    if (i == k || i >= ev->data_len || ev->data[i++] != ':') return 0;
    for (k = 0; k < pad; k++, i++) {
        if (i >= ev->data_len || ev->data[i] != 'x') return 0;
    }
    if (i != ev->data_len && !(ev->data_len - i == 4 && memcmp(ev->data + i, "\nend", 4) == 0)) return 0;
    return did == id;
}

/* Closes the client from inside one of its callbacks, then checks what it answers. */
static void close_from_callback(ctx_t *c)
{
    sse_client *client;
    sse_stats st;
    pthread_mutex_lock(&c->mu);
    client = c->client;
    /* NULL until the owner published it (a callback may come first): then the next
       callback closes. Without this, a close-on-open client whose only on_open came too
       early was never closed, and the iteration failed about once in 20 native runs. */
    c->close_pending = client == NULL;
    pthread_mutex_unlock(&c->mu);
    if (client == NULL) return;
    sse_client_close(client); /* must not wait for itself */
    if (sse_client_ready_state(client) != SSE_STATE_CLOSED) violate(c, V_IN_CB_CHECKS, "readyState not CLOSED in cb");
    if (sse_client_stats(client, &st) != SSE_OK) violate(c, V_IN_CB_CHECKS, "stats failed in cb");
    (void)sse_client_last_event_id(client, NULL, 0);
    pthread_mutex_lock(&c->mu);
    c->closed_by_cb = 1;
    pthread_mutex_unlock(&c->mu);
}

static void on_open(void *userdata, uint16_t status)
{
    ctx_t *c = (ctx_t *)userdata;
    int close_now;
    cb_enter(c, "on_open");
    pthread_mutex_lock(&c->mu);
    if (status != 200) violate_locked(c, V_BAD_EVENT, "on_open with status %u", (unsigned)status);
    close_now = c->close_on_open && !c->closed_by_cb;
    pthread_mutex_unlock(&c->mu);
    if (close_now) close_from_callback(c);
    cb_leave(c);
}

static void on_event(void *userdata, const sse_event *ev)
{
    ctx_t *c = (ctx_t *)userdata;
    int ok = event_ok(ev), close_now;
    cb_enter(c, "on_event");
    pthread_mutex_lock(&c->mu);
    c->events++;
    if (!ok) violate_locked(c, V_BAD_EVENT, "bad event (id \"%.20s\", %lu data bytes)", ev && ev->id ? ev->id : "?",
                            ev ? (unsigned long)ev->data_len : 0ul);
    close_now = c->close_on_event > 0 && c->events >= c->close_on_event && !c->closed_by_cb;
    pthread_mutex_unlock(&c->mu);
    if (close_now) close_from_callback(c);
    cb_leave(c);
}

static void on_comment(void *userdata, const char *text, size_t len)
{
    ctx_t *c = (ctx_t *)userdata;
    cb_enter(c, "on_comment");
    if (!nul_at(text, len) || len < 3 || memcmp(text, "hb ", 3) != 0) violate(c, V_BAD_EVENT, "bad comment");
    cb_leave(c);
}

static void on_error(void *userdata, const sse_error *err)
{
    ctx_t *c = (ctx_t *)userdata;
    cb_enter(c, "on_error");
    pthread_mutex_lock(&c->mu);
    if (err == NULL || err->message == NULL || (int)err->kind < 0 || (int)err->kind > SSE_ERROR_KIND_EVENT_TOO_LARGE) {
        violate_locked(c, V_BAD_EVENT, "malformed error");
    } else if (!err->will_retry) {
        c->fatal = 1;
    }
    pthread_mutex_unlock(&c->mu);
    cb_leave(c);
}

static void on_state(void *userdata, sse_ready_state state)
{
    ctx_t *c = (ctx_t *)userdata;
    cb_enter(c, "on_state");
    if ((int)state < 0 || state > SSE_STATE_CLOSED) violate(c, V_BAD_EVENT, "bad state");
    cb_leave(c);
}

static void on_request(void *userdata, sse_request *req)
{
    ctx_t *c = (ctx_t *)userdata;
    cb_enter(c, "request hook");
    pthread_mutex_lock(&c->mu);
    c->hooks++;
    pthread_mutex_unlock(&c->mu);
    if (sse_request_attempt(req) == 0 || sse_request_last_event_id(req) == NULL ||
        sse_request_set_header(req, "X-Stress", "1") != SSE_OK)
        violate(c, V_BAD_EVENT, "request hook view");
    cb_leave(c);
}

static void on_response(void *userdata, const sse_response *resp)
{
    ctx_t *c = (ctx_t *)userdata;
    cb_enter(c, "response hook");
    pthread_mutex_lock(&c->mu);
    c->hooks++;
    pthread_mutex_unlock(&c->mu);
    if (sse_response_status(resp) == 0) violate(c, V_BAD_EVENT, "response hook status 0");
    (void)sse_response_header(resp, "content-type");
    cb_leave(c);
}

/* ------------------------------------------------------------------------------------ */
/* Workers                                                                              */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    int index;
    pthread_t thread;
    unsigned rng;
    /* under g_mu, for the watchdog */
    int iter;
    int mode;
    char kind;
    const char *phase;
    long long since;
    int done;
} worker_t;

static worker_t *g_workers;
static long long g_start_ms;

static void set_phase(worker_t *w, const char *phase)
{
    pthread_mutex_lock(&g_mu);
    w->phase = phase;
    pthread_mutex_unlock(&g_mu);
}

static unsigned rnd(worker_t *w)
{
    return rnd_next(&w->rng);
}

static char pick(worker_t *w, const char *kinds)
{
    return kinds[rnd(w) % strlen(kinds)];
}

/* Reads a polled message through its accessors and checks it: every read the test makes
 * of a message's memory goes through here (tests/c/valgrind-thread.supp names this
 * function: the message was built on the worker thread and handed over through the
 * library's channel, a hand-off helgrind cannot see). Sets *is_event, and *fatal for an
 * error with will_retry = false. Returns whether it is well-formed. */
static int message_ok(const sse_message *m, int *is_event, int *fatal)
{
    *is_event = 0;
    *fatal = 0;
    switch (sse_message_kind_of(m)) {
    case SSE_MESSAGE_EVENT:
        *is_event = 1;
        return event_ok(sse_message_event(m));
    case SSE_MESSAGE_ERROR: {
        const sse_error *e = sse_message_error(m);
        if (e == NULL || e->message == NULL || strlen(e->message) == 0) return 0;
        *fatal = !e->will_retry;
        return 1;
    }
    case SSE_MESSAGE_STATE:
        return sse_message_state(m) <= SSE_STATE_CLOSED && sse_message_event(m) == NULL;
    case SSE_MESSAGE_OPEN:
        return sse_message_http_status(m) == 200;
    case SSE_MESSAGE_COMMENT: {
        size_t len = 0;
        const char *t = sse_message_comment(m, &len);
        return nul_at(t, len) && len >= 3 && memcmp(t, "hb ", 3) == 0;
    }
    default:
        return 0;
    }
}

/* Counts one polled message; frees it, or keeps it in *keep (freed after the client). */
static void take_message(worker_t *w, ctx_t *c, sse_message *m, sse_message **keep)
{
    int event, fatal;
    int ok = message_ok(m, &event, &fatal);
    pthread_mutex_lock(&c->mu);
    c->polled++;
    if (event) c->polled_events++;
    if (fatal) c->fatal = 1;
    if (!ok) violate_locked(c, V_BAD_MESSAGE, "bad polled message (kind %d)", (int)sse_message_kind_of(m));
    pthread_mutex_unlock(&c->mu);
    if (w != NULL && keep != NULL && *keep == NULL && event && rnd(w) % 4 == 0) {
        *keep = m;
    } else {
        sse_message_free(m);
    }
}

/* The host closes: records when, and that no callback was running as it returned. */
static void host_close(ctx_t *c, sse_client *client)
{
    long long t0, dt;
    pthread_mutex_lock(&c->mu);
    c->close_started = 1;
    pthread_mutex_unlock(&c->mu);
    t0 = now_ms();
    sse_client_close(client);
    dt = now_ms() - t0;
    pthread_mutex_lock(&c->mu);
    c->close_returned = 1;
    c->close_done_ms = now_ms();
    if (c->in_cb) violate_locked(c, V_CLOSE_DURING_CB, "close returned during a callback");
    if (dt > g_bound_ms) violate_locked(c, V_SLOW_CLOSE, "close took %lld ms", dt);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&g_mu);
    g_tot.closes++;
    if (dt > g_tot.max_close_ms) g_tot.max_close_ms = dt;
    pthread_mutex_unlock(&g_mu);
}

/* What a host waits on in poll mode: the wakeup fd on POSIX; on Windows, which has no such
 * descriptor (sse_client_wakeup_fd answers -1 there), the wakeup handle, a SOCKET. Both
 * are -1 in callback mode. */
static intptr_t wakeup_of(const sse_client *client)
{
#if IS_WINDOWS
    return sse_client_wakeup_handle(client);
#else
    return sse_client_wakeup_fd(client);
#endif
}

/* While the client runs: sleep, or consume the queue (poll with short timeouts, or the
 * wakeup fd then poll(0) until TIMEOUT), or restart it. */
static void run_for(worker_t *w, ctx_t *c, sse_client *client, long ms, sse_message **keep)
{
    long long end = now_ms() + ms;
    unsigned style = rnd(w) % 4;
    if (!c->poll_mode || style == 0) {
        if (rnd(w) % 8 == 0 && sse_client_restart(client) == SSE_OK) {
            pthread_mutex_lock(&c->mu);
            c->restarts_ok++;
            pthread_mutex_unlock(&c->mu);
        }
        sleep_ms(ms);
        return;
    }
    while (now_ms() < end) {
        sse_message *m = NULL;
        sse_result r;
        if (style == 1) {
            intptr_t wakeup = wakeup_of(client);
            if (wakeup < 0) {
                violate(c, V_WAKEUP_FD, "wakeup fd -1 in poll mode");
                return;
            }
            if (!socket_readable((socket_t)wakeup, 2)) continue;
            r = sse_client_poll(client, 0, &m);
            if (r == SSE_ERROR_TIMEOUT) continue;
        } else {
            r = sse_client_poll(client, (int32_t)(rnd(w) % 3), &m);
        }
        if (r == SSE_OK) {
            take_message(w, c, m, keep);
        } else if (r == SSE_ERROR_TIMEOUT) {
            continue;
        } else if (r == SSE_ERROR_CLOSED) {
            pthread_mutex_lock(&c->mu);
            if (!c->fatal && !c->close_started) violate_locked(c, V_UNEXPECTED_CLOSE, "poll said CLOSED unasked");
            pthread_mutex_unlock(&c->mu);
            sleep_ms(end - now_ms() > 0 ? (long)(end - now_ms()) : 0);
            return;
        } else {
            violate(c, V_POLL_RESULT, sse_result_name(r));
            return;
        }
    }
}

/* After the host's close: what a closed client answers, and the queue drains to CLOSED. */
static void after_close(worker_t *w, ctx_t *c, sse_client *client, size_t capacity, sse_message **keep)
{
    sse_result r;
    sse_stats st;
    long n = 0;
    int timeout;
    if (sse_client_ready_state(client) != SSE_STATE_CLOSED) violate(c, V_STATE_AFTER_CLOSE, "readyState after close");
    r = sse_client_restart(client);
    if (r != SSE_ERROR_CLOSED) violate(c, V_RESTART_AFTER_CLOSE, sse_result_name(r));
    if (sse_client_stats(client, &st) != SSE_OK) violate(c, V_STATS, "stats after close");
    if (!c->poll_mode) {
        sse_message *m = NULL;
        r = sse_client_poll(client, 0, &m);
        if (r != SSE_ERROR_WRONG_MODE) violate(c, V_POLL_RESULT, "poll in callback mode");
        return;
    }
    timeout = (int)(rnd(w) % 3) - 1; /* -1, 0 or 1 ms */
    for (;;) {
        sse_message *m = NULL;
        r = sse_client_poll(client, timeout, &m);
        if (r == SSE_OK) {
            take_message(w, c, m, keep);
            if (++n > (long)capacity + 8) {
                violate(c, V_POLL_FLOOD_AFTER_CLOSE, "messages kept coming after close");
                break;
            }
        } else if (r == SSE_ERROR_CLOSED) {
            break;
        } else if (r == SSE_ERROR_TIMEOUT) {
            violate(c, timeout == 0 ? V_POLL0_TIMEOUT_AFTER_CLOSE : V_POLL_TIMEOUT_AFTER_CLOSE,
                    timeout == 0 ? "poll(0) said TIMEOUT after close" : "poll(1) said TIMEOUT after close");
            timeout = -1; /* bounded by the watchdog */
        } else {
            violate(c, V_POLL_RESULT, sse_result_name(r));
            break;
        }
    }
}

/* Helper threads, one per racing iteration. */
typedef struct {
    ctx_t *c;
    sse_client *client;
    unsigned rng;
    long delay_ms;
    int role;             /* what it does */
    long long poll_end_ms;
    long long free_ms;
} helper_t;

enum { H_CLOSE, H_POLL, H_RESTART, H_STATS, H_FREE };

static int helper_stop(ctx_t *c)
{
    return ctx_flag(c, &c->stop_helper);
}

/* poll(-1) until SSE_ERROR_CLOSED, freeing each message; returns when it ended. */
static long long poll_until_closed(ctx_t *c, sse_client *client)
{
    for (;;) {
        sse_message *m = NULL;
        sse_result r = sse_client_poll(client, -1, &m);
        if (r == SSE_OK) {
            take_message(NULL, c, m, NULL);
            continue;
        }
        if (r != SSE_ERROR_CLOSED) violate(c, V_POLL_RESULT, sse_result_name(r));
        return now_ms();
    }
}

static void *helper_main(void *arg)
{
    helper_t *h = (helper_t *)arg;
    ctx_t *c = h->c;
    switch (h->role) {
    case H_CLOSE:
        sleep_ms(h->delay_ms);
        host_close(c, h->client);
        break;
    case H_POLL:
        h->poll_end_ms = poll_until_closed(c, h->client);
        break;
    case H_FREE: {
        long long t0 = now_ms();
        sse_client_free(h->client);
        h->free_ms = now_ms() - t0;
        break;
    }
    case H_RESTART: {
        int n;
        /* Until told to stop, and a few calls more once the close has returned. */
        for (n = 0; n < 100000; n++) {
            int closed_before = ctx_flag(c, &c->close_returned);
            sse_result r = sse_client_restart(h->client);
            pthread_mutex_lock(&c->mu);
            if (r == SSE_OK) {
                c->restarts_ok++;
                if (closed_before) violate_locked(c, V_RESTART_AFTER_CLOSE, "restart OK after close returned");
            } else if (r == SSE_ERROR_CLOSED) {
                c->restarts_closed++;
            } else {
                violate_locked(c, V_RESTART_RESULT, "restart said %s", sse_result_name(r));
            }
            pthread_mutex_unlock(&c->mu);
            if (helper_stop(c)) break;
            if (rnd_next(&h->rng) % 2) sleep_us((long)(rnd_next(&h->rng) % 1500));
        }
        break;
    }
    case H_STATS: {
        sse_stats prev;
        int n, have_prev = 0;
        memset(&prev, 0, sizeof prev);
        for (n = 0; n < 100000; n++) {
            int closed_before = ctx_flag(c, &c->close_returned);
            sse_stats st;
            char buf[8];
            size_t cap = rnd_next(&h->rng) % sizeof buf, len, len0;
            sse_result r = sse_client_stats(h->client, &st);
            sse_ready_state rs = sse_client_ready_state(h->client);
            int fd = sse_client_wakeup_fd(h->client);
            intptr_t wakeup = wakeup_of(h->client);
            memset(buf, 'Z', sizeof buf);
            len = sse_client_last_event_id(h->client, cap > 0 ? buf : NULL, cap);
            len0 = sse_client_last_event_id(h->client, NULL, 0);
            pthread_mutex_lock(&c->mu);
            c->stats_reads++;
            if (r != SSE_OK) {
                violate_locked(c, V_STATS, "stats said %s", sse_result_name(r));
            } else {
                if (have_prev && (st.connection_attempts < prev.connection_attempts || st.events < prev.events ||
                                  st.bytes_received < prev.bytes_received ||
                                  st.connections_opened < prev.connections_opened))
                    violate_locked(c, V_STATS, "stats went backwards");
                if (st.connections_opened > st.connection_attempts) violate_locked(c, V_STATS, "opened > attempts");
                prev = st;
                have_prev = 1;
            }
            if (closed_before && rs != SSE_STATE_CLOSED) violate_locked(c, V_STATE_AFTER_CLOSE, "state %d", (int)rs);
            if (c->poll_mode ? wakeup < 0 : wakeup != -1)
                violate_locked(c, V_WAKEUP_FD, "wakeup fd (handle) %ld", (long)wakeup);
            if (IS_WINDOWS && fd != -1) violate_locked(c, V_WAKEUP_FD, "wakeup fd %d on Windows", fd);
            if (cap > 0) {
                size_t copied = len < cap - 1 ? len : cap - 1;
                if (buf[copied] != '\0' || memchr(buf, '\0', copied) != NULL)
                    violate_locked(c, V_LAST_EVENT_ID, "last_event_id not NUL-terminated at %lu",
                                   (unsigned long)copied);
                else if (copied > 0 && (buf[0] < '0' || buf[0] > '9'))
                    violate_locked(c, V_LAST_EVENT_ID, "last_event_id not a server id");
            }
            (void)len0; /* the ID may change between the two calls */
            pthread_mutex_unlock(&c->mu);
            if (helper_stop(c)) break;
            if (rnd_next(&h->rng) % 2) sleep_us((long)(rnd_next(&h->rng) % 1000));
        }
        break;
    }
    default:
        break;
    }
    return NULL;
}

static int start_helper(helper_t *h, pthread_t *t, ctx_t *c, sse_client *client, int role, worker_t *w)
{
    memset(h, 0, sizeof *h);
    h->c = c;
    h->client = client;
    h->role = role;
    h->rng = rnd(w) | 1u;
    h->delay_ms = (long)(rnd(w) % (unsigned)(g_run_ms + 1));
    if (pthread_create(t, NULL, helper_main, h) != 0) {
        violate(c, V_SETUP, "pthread_create failed");
        return -1;
    }
    return 0;
}

static sse_config *make_config(worker_t *w, ctx_t *c, char kind, size_t *capacity)
{
    char url[96];
    sse_config *cfg = NULL;
    int ok = 1;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%c", kind == 'r' ? (unsigned)g_srv.refused_port : (unsigned)g_srv.lb.port,
             kind);
    if (sse_config_new(url, &cfg) != SSE_OK) {
        violate(c, V_SETUP, sse_last_error_message());
        return NULL;
    }
    *capacity = rnd(w) % 3 == 0 ? 2 : rnd(w) % 2 ? 16 : 1024;
    ok &= sse_config_set_reconnect_delay(cfg, 10, 40) == SSE_OK;
    ok &= sse_config_set_connect_timeout(cfg, 3000) == SSE_OK;
    ok &= sse_config_set_queue_capacity(cfg, *capacity) == SSE_OK;
    ok &= sse_config_set_proxy_from_env(cfg, false) == SSE_OK;
    if (rnd(w) % 6 == 0) ok &= sse_config_set_read_timeout(cfg, 40) == SSE_OK;
    if (rnd(w) % 8 == 0) ok &= sse_config_set_max_event_size(cfg, 200) == SSE_OK;
    if (rnd(w) % 4 == 0) ok &= sse_config_set_last_event_id(cfg, "7") == SSE_OK;
    if (rnd(w) % 2 == 0) {
        ok &= sse_config_set_request_hook(cfg, on_request, c) == SSE_OK;
        ok &= sse_config_set_response_hook(cfg, on_response, c) == SSE_OK;
    }
    if (!ok) violate(c, V_SETUP, "an sse_config_set_* call failed");
    return cfg;
}

/* Adds the context's counts to the totals; prints the first few violating iterations. */
static void ctx_finish(worker_t *w, ctx_t *c, int mode)
{
    int i, any = 0;
    pthread_mutex_lock(&c->mu);
    pthread_mutex_lock(&g_mu);
    for (i = 0; i < V_COUNT; i++) {
        g_tot.violations[i] += c->v[i];
        if (c->v[i] != 0) any = 1;
    }
    g_tot.iterations[mode][c->poll_mode]++;
    g_tot.callbacks += c->callbacks;
    g_tot.cb_events += c->events;
    g_tot.hooks += c->hooks;
    g_tot.polled += c->polled;
    g_tot.polled_events += c->polled_events;
    g_tot.restarts_ok += c->restarts_ok;
    g_tot.restarts_closed += c->restarts_closed;
    g_tot.stats_reads += c->stats_reads;
    if (c->closed_by_cb) g_tot.closes_in_cb++;
    if (any && g_tot.fail_lines < 20) {
        g_tot.fail_lines++;
        printf("FAIL worker %d iteration %d (%s, %s mode, server kind %c):", w->index, w->iter, MODE_NAME[mode],
               c->poll_mode ? "poll" : "callback", c->kind);
        for (i = 0; i < V_COUNT; i++) {
            if (c->v[i] != 0) printf(" [%ld x %s]", c->v[i], V_TEXT[i]);
        }
        printf(" first: %s\n", c->note);
        fflush(stdout);
    }
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
}

static void iteration(worker_t *w, int mode)
{
    ctx_t ctx;
    ctx_t *c = &ctx;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_callbacks cbs;
    sse_message *keep = NULL;
    size_t capacity = 1024;
    sse_result r;
    long run_ms = (long)(rnd(w) % (unsigned)(g_run_ms + 1));
    long long t0, dt;
    int free_config_late = rnd(w) % 2;

    ctx_init(c);
    switch (mode) {
    case M_POLL_CLOSE:
        c->poll_mode = 1;
        c->kind = pick(w, "hhhebbscnx5r");
        break;
    case M_CLOSE_IN_CB:
        c->poll_mode = 0;
        c->kind = pick(w, "hhebs");
        if (rnd(w) % 4 == 0) {
            c->close_on_open = 1;
        } else {
            c->close_on_event = 1 + (int)(rnd(w) % 4);
        }
        break;
    default:
        c->poll_mode = (int)(rnd(w) % 2);
        c->kind = pick(w, "hhhheebbscnx5fr");
        break;
    }
    c->slow = rnd(w) % 4 == 0;
    pthread_mutex_lock(&g_mu);
    w->mode = mode;
    w->kind = c->kind;
    pthread_mutex_unlock(&g_mu);

    if (rnd(w) % 32 == 0) {
        /* The process-wide log callback, switched while other threads' clients log. */
        if (rnd(w) % 2) {
            sse_set_log_callback(log_cb, &g_log_tag, (sse_log_level)(SSE_LOG_WARN + (int)(rnd(w) % 3)));
        } else {
            sse_set_log_callback(NULL, NULL, SSE_LOG_ERROR);
        }
        pthread_mutex_lock(&g_mu);
        g_tot.log_toggles++;
        pthread_mutex_unlock(&g_mu);
    }

    set_phase(w, "open");
    cfg = make_config(w, c, c->kind, &capacity);
    if (cfg == NULL) {
        ctx_finish(w, c, mode);
        return;
    }
    memset(&cbs, 0, sizeof cbs);
    cbs.userdata = c;
    cbs.on_open = on_open;
    cbs.on_event = on_event;
    cbs.on_comment = on_comment;
    cbs.on_error = on_error;
    cbs.on_state = on_state;
    r = sse_client_open(cfg, c->poll_mode ? NULL : &cbs, &client);
    if (!free_config_late) sse_config_free(cfg); /* the client copied it */
    if (r != SSE_OK) {
        violate(c, V_SETUP, sse_last_error_message());
        if (free_config_late) sse_config_free(cfg);
        ctx_finish(w, c, mode);
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->client = client;
    pthread_mutex_unlock(&c->mu);

    switch (mode) {
    case M_CLOSE_FREE:
        set_phase(w, "close-free: run");
        run_for(w, c, client, run_ms, &keep);
        set_phase(w, "close-free: close");
        host_close(c, client);
        if (rnd(w) % 3 != 0) { /* else free right after close */
            set_phase(w, "close-free: after close");
            after_close(w, c, client, capacity, &keep);
            if (rnd(w) % 2) sleep_ms(2); /* a late callback would show here */
        }
        break;

    case M_FREE_ONLY:
        set_phase(w, "free-only: run");
        run_for(w, c, client, run_ms, &keep);
        break;

    case M_POLL_CLOSE: {
        helper_t h;
        pthread_t t;
        long long end_ms, closed_ms;
        int helper_polls = rnd(w) % 2;
        set_phase(w, "poll-close: poll(-1) racing close");
        if (start_helper(&h, &t, c, client, helper_polls ? H_POLL : H_CLOSE, w) != 0) break;
        if (helper_polls) {
            sleep_ms(run_ms);
            host_close(c, client);
            set_phase(w, "poll-close: joining the poller (poll(-1) after close)");
            pthread_join(t, NULL);
            end_ms = h.poll_end_ms;
        } else {
            end_ms = poll_until_closed(c, client);
            set_phase(w, "poll-close: joining the closer");
            pthread_join(t, NULL);
        }
        pthread_mutex_lock(&c->mu);
        closed_ms = c->close_done_ms;
        if (!c->close_started && !c->fatal)
            violate_locked(c, V_UNEXPECTED_CLOSE, "poll(-1) said CLOSED before any close");
        if (end_ms - closed_ms > g_bound_ms)
            violate_locked(c, V_POLL_RACE_LATE, "poll(-1) ended %lld ms after close returned", end_ms - closed_ms);
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_lock(&g_mu);
        g_tot.poll_races++;
        if (end_ms - closed_ms > g_tot.max_poll_race_ms) g_tot.max_poll_race_ms = end_ms - closed_ms;
        pthread_mutex_unlock(&g_mu);
        if (sse_client_ready_state(client) != SSE_STATE_CLOSED) violate(c, V_STATE_AFTER_CLOSE, "state after poll race");
        break;
    }

    case M_CLOSE_IN_CB: {
        int host_races = rnd(w) % 3 == 0;
        set_phase(w, "close-in-cb: waiting for the callback's close");
        if (host_races) {
            sleep_ms(run_ms);
            host_close(c, client); /* racing the callback's own close */
        } else {
            long long deadline = now_ms() + g_wait_ms;
            while (!ctx_flag(c, &c->closed_by_cb) && now_ms() < deadline) sleep_ms(1);
            if (!ctx_flag(c, &c->closed_by_cb) && !ctx_flag(c, &c->fatal))
                violate(c, V_CB_CLOSE_MISSING, "no close from the callback in time");
            if (rnd(w) % 2) sleep_ms(2); /* a callback after the closing one would show here */
        }
        if (sse_client_ready_state(client) != SSE_STATE_CLOSED && ctx_flag(c, &c->closed_by_cb))
            violate(c, V_STATE_AFTER_CLOSE, "state after close in callback");
        break;
    }

    case M_RESTART_RACE:
    case M_STATS_RACE: {
        helper_t h;
        pthread_t t;
        int role = mode == M_RESTART_RACE ? H_RESTART : H_STATS;
        set_phase(w, mode == M_RESTART_RACE ? "restart-race: run" : "stats-race: run");
        if (start_helper(&h, &t, c, client, role, w) != 0) break;
        run_for(w, c, client, run_ms, &keep);
        set_phase(w, mode == M_RESTART_RACE ? "restart-race: close" : "stats-race: close");
        host_close(c, client);
        sleep_ms(1 + (long)(rnd(w) % 2)); /* the helper goes on across the close */
        pthread_mutex_lock(&c->mu);
        c->stop_helper = 1;
        pthread_mutex_unlock(&c->mu);
        set_phase(w, "race: joining the helper");
        pthread_join(t, NULL);
        after_close(w, c, client, capacity, &keep);
        break;
    }

    default:
        break;
    }

    set_phase(w, "free");
    if (mode == M_FREE_ONLY && rnd(w) % 3 == 0) {
        /* Freed on another thread than the one that opened it. */
        helper_t h;
        pthread_t t;
        if (start_helper(&h, &t, c, client, H_FREE, w) == 0) {
            pthread_join(t, NULL);
            dt = h.free_ms;
        } else {
            t0 = now_ms();
            sse_client_free(client);
            dt = now_ms() - t0;
        }
    } else {
        t0 = now_ms();
        sse_client_free(client);
        dt = now_ms() - t0;
    }
    pthread_mutex_lock(&c->mu);
    c->freed = 1;
    if (dt > g_bound_ms) violate_locked(c, V_SLOW_FREE, "free took %lld ms", dt);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&g_mu);
    if (dt > g_tot.max_free_ms) g_tot.max_free_ms = dt;
    pthread_mutex_unlock(&g_mu);
    if (free_config_late) sse_config_free(cfg);
    if (keep != NULL) {
        /* A message outlives its client. */
        int event, fatal;
        if (!message_ok(keep, &event, &fatal) || !event) violate(c, V_KEPT_MESSAGE, "kept message changed after free");
        sse_message_free(keep);
        pthread_mutex_lock(&g_mu);
        g_tot.kept_messages++;
        pthread_mutex_unlock(&g_mu);
    }
    if (rnd(w) % 4 == 0) sleep_ms(1); /* a callback after free would show here */
    ctx_finish(w, c, mode);
}

static void *worker_main(void *arg)
{
    worker_t *w = (worker_t *)arg;
    long long deadline = g_start_ms + g_seconds * 1000;
    int i;
    for (i = 0; i < g_iterations && now_ms() < deadline; i++) {
        pthread_mutex_lock(&g_mu);
        w->iter = i;
        w->since = now_ms();
        pthread_mutex_unlock(&g_mu);
        iteration(w, (w->index + i) % M_COUNT);
    }
    pthread_mutex_lock(&g_mu);
    w->iter = i;
    w->done = 1;
    w->phase = "done";
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Watchdog                                                                             */
/* ------------------------------------------------------------------------------------ */

static void *watchdog_main(void *arg)
{
    (void)arg;
    for (;;) {
        long long now = now_ms();
        int i, stalled = -1;
        pthread_mutex_lock(&g_mu);
        if (g_finished) {
            pthread_mutex_unlock(&g_mu);
            return NULL;
        }
        for (i = 0; i < g_threads; i++) {
            if (!g_workers[i].done && now - g_workers[i].since > g_stall_ms) stalled = i;
        }
        if (stalled >= 0 || now - g_start_ms > g_total_ms) {
            fflush(stdout);
            if (stalled >= 0) {
                fprintf(stderr, "stress: WATCHDOG: worker %d stuck in one iteration for more than %ld ms\n", stalled,
                        g_stall_ms);
            } else {
                fprintf(stderr, "stress: WATCHDOG: the run took more than %ld ms\n", g_total_ms);
            }
            for (i = 0; i < g_threads; i++) {
                worker_t *w = &g_workers[i];
                fprintf(stderr, "  worker %d: iteration %d (%s, server kind %c) for %lld ms, phase: %s\n", i, w->iter,
                        MODE_NAME[w->mode], w->kind ? w->kind : '-', now - w->since, w->phase ? w->phase : "?");
            }
            fprintf(stderr, "stress: a hang is a failure; aborting\n");
            abort();
        }
        pthread_mutex_unlock(&g_mu);
        sleep_ms(100);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Main                                                                                 */
/* ------------------------------------------------------------------------------------ */

static long param(const char *env, int argc, char **argv, int pos, long def, long min, long max)
{
    const char *s = argc > pos ? argv[pos] : getenv(env);
    long v;
    char *end = NULL;
    if (s == NULL || *s == '\0') return def;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "stress: %s: bad value \"%s\" (want %ld..%ld)\n", argc > pos ? "argument" : env, s, min, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    pthread_t watchdog;
    int i, m, all_modes = 1;
    long total_iterations = 0;
    const char *seed_env = getenv("SSE_STRESS_SEED");

    portable_init();
    g_threads = (int)param("SSE_STRESS_THREADS", argc, argv, 1, g_threads, 1, 64);
    g_iterations = (int)param("SSE_STRESS_ITERATIONS", argc, argv, 2, g_iterations, 1, 1000000);
    g_seconds = param("SSE_STRESS_SECONDS", argc, argv, 3, g_seconds, 1, 100000);
    g_run_ms = param("SSE_STRESS_RUN_MS", 0, argv, 1, g_run_ms, 0, 60000);
    g_scale = param("SSE_TEST_TIMEOUT_SCALE", 0, argv, 1, 1, 1, 1000);
    g_seed = seed_env != NULL && *seed_env != '\0' ? strtoul(seed_env, NULL, 10)
                                                   : (unsigned long)time(NULL) ^ (process_id() << 16);
    g_stall_ms = param("SSE_STRESS_WATCHDOG", 0, argv, 1, g_stall_ms / 1000, 1, 100000) * 1000;
    g_bound_ms *= g_scale;
    g_wait_ms *= g_scale;
    if (g_wait_ms > g_stall_ms / 2) g_wait_ms = g_stall_ms / 2;
    g_total_ms = g_seconds * 1000 + 2 * g_stall_ms;

    printf("sse_client C stress test (library %s): %d threads x %d iterations, at most %ld s, clients run "
           "0-%ld ms; seed %lu; bounds %ld ms, watchdog %ld ms per iteration, %ld ms in all\n",
           sse_version(), g_threads, g_iterations, g_seconds, g_run_ms, g_seed, g_bound_ms, g_stall_ms, g_total_ms);
    fflush(stdout);

    if (server_start(&g_srv) != 0) {
        printf("FAIL cannot start the loopback server: %s\n0 passed, 1 failed\n", strerror(errno));
        return 1;
    }
    sse_set_log_callback(log_cb, &g_log_tag, SSE_LOG_WARN);

    g_workers = (worker_t *)calloc((size_t)g_threads, sizeof *g_workers);
    if (g_workers == NULL) return 1;
    g_start_ms = now_ms();
    for (i = 0; i < g_threads; i++) {
        g_workers[i].index = i;
        g_workers[i].rng = rnd_seed(g_seed, (unsigned)i);
        g_workers[i].since = g_start_ms;
        g_workers[i].phase = "starting";
    }
    if (pthread_create(&watchdog, NULL, watchdog_main, NULL) != 0) return 1;
    for (i = 0; i < g_threads; i++) {
        if (pthread_create(&g_workers[i].thread, NULL, worker_main, &g_workers[i]) != 0) {
            fprintf(stderr, "stress: cannot start worker %d\n", i);
            return 1;
        }
    }
    for (i = 0; i < g_threads; i++) pthread_join(g_workers[i].thread, NULL);
    server_stop(&g_srv);
    pthread_mutex_lock(&g_mu);
    g_finished = 1;
    pthread_mutex_unlock(&g_mu);
    pthread_join(watchdog, NULL);
    sse_set_log_callback(NULL, NULL, SSE_LOG_ERROR);

    /* Every worker thread is joined: the totals are final. */
    printf("--- %.1f s; server: %lu connections, %lu events sent\n", (double)(now_ms() - g_start_ms) / 1000.0,
           g_srv.accepted, g_srv.events_sent);
    for (m = 0; m < M_COUNT; m++) {
        printf("    %-12s %5ld callback-mode + %5ld poll-mode iterations\n", MODE_NAME[m], g_tot.iterations[m][0],
               g_tot.iterations[m][1]);
        total_iterations += g_tot.iterations[m][0] + g_tot.iterations[m][1];
        if (g_tot.iterations[m][0] + g_tot.iterations[m][1] == 0) all_modes = 0;
    }
    printf("    %ld callbacks (%ld events), %ld hooks; %ld polled (%ld events), %ld kept past free; "
           "%ld closes, %ld from callbacks; %ld poll(-1) races; restarts %ld OK / %ld CLOSED; %ld stats reads; "
           "%ld log records, %ld log switches\n",
           g_tot.callbacks, g_tot.cb_events, g_tot.hooks, g_tot.polled, g_tot.polled_events, g_tot.kept_messages,
           g_tot.closes, g_tot.closes_in_cb, g_tot.poll_races, g_tot.restarts_ok, g_tot.restarts_closed,
           g_tot.stats_reads, g_log_records, g_tot.log_toggles);
    printf("    slowest: close %lld ms, free %lld ms, poll(-1) after a racing close %lld ms (bound %ld ms)\n",
           g_tot.max_close_ms, g_tot.max_free_ms, g_tot.max_poll_race_ms, g_bound_ms);

    for (i = 0; i < V_COUNT; i++) {
        check(g_tot.violations[i] == 0, "%s (%ld violations)", V_TEXT[i], g_tot.violations[i]);
    }
    check(g_log_bad == 0, "every log record came with our userdata, a level and a message (%ld bad)", g_log_bad);
    /* The run did what it claims: a stress test that silently does nothing passes nothing. */
    check(total_iterations > 0 && (all_modes || total_iterations < M_COUNT),
          "every ending was exercised (%ld iterations)", total_iterations);
    check(g_tot.cb_events > 0, "events reached callbacks (%ld)", g_tot.cb_events);
    check(g_tot.polled_events > 0 || g_tot.iterations[M_POLL_CLOSE][1] == 0, "events reached sse_client_poll (%ld)",
          g_tot.polled_events);
    check(g_tot.closes_in_cb > 0 || g_tot.iterations[M_CLOSE_IN_CB][0] == 0,
          "callbacks closed their own client (%ld times)", g_tot.closes_in_cb);

    free(g_workers);
    return checks_report();
}
