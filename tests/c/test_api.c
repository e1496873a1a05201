/*
 * End-to-end test of the sse_client C API, in C99, against the built cdylib.
 *
 * It starts its own loopback HTTP server (a pthread with real sockets on 127.0.0.1, an
 * ephemeral port) that records each request head and answers with a scripted response,
 * and drives the library through it: hostile input, callback mode with a reconnect,
 * close from inside a callback, fatal responses, poll mode with the wakeup handle, the log
 * callback, the request and response hooks, restart, stats, failed_attempts and the
 * POST replay rule. One line per check, then "N passed, M failed"; exit status 1 if M > 0.
 *
 * Every wait is bounded (5 s, times SSE_TEST_TIMEOUT_SCALE when set, e.g. under valgrind)
 * so that a bug fails a check instead of hanging the run.
 *
 * Built and run by tests/c/run.sh.
 */

#include "common.h" /* checks, time, the loopback server plumbing; portable.h */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_client.h"

/* ------------------------------------------------------------------------------------ */
/* Checks                                                                               */
/* ------------------------------------------------------------------------------------ */

/* A result check that names what was expected and what came back. */
static void check_result(sse_result got, sse_result want, const char *what)
{
    check(got == want, "%s -> %s (got %s)", what, sse_result_name(want), sse_result_name(got));
}

/* ------------------------------------------------------------------------------------ */
/* Time                                                                                 */
/* ------------------------------------------------------------------------------------ */

static long g_wait_ms = 5000;

/* ------------------------------------------------------------------------------------ */
/* Strings                                                                              */
/* ------------------------------------------------------------------------------------ */

static int bytes_eq(const char *got, size_t got_len, const char *want, size_t want_len)
{
    return got != NULL && got_len == want_len && memcmp(got, want, want_len) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The C function an sse_setting names, NULL for a value this test does not know. */
static const char *c_setter(sse_setting setting)
{
    switch (setting) {
    case SSE_SETTING_CA_FILE: return "sse_config_set_ca_file";
    case SSE_SETTING_CLIENT_CERT: return "sse_config_set_client_cert";
    case SSE_SETTING_LAST_EVENT_ID: return "sse_config_set_last_event_id";
    case SSE_SETTING_RETRY_NON_GET: return "sse_config_set_retry_non_get";
    default: return NULL;
    }
}

/* What a binding does with sse_error's 1.1.0 fields, done with this API's own words: 1 when
 * err->message is err->plain_message with " (sse_config_set_...)" inserted at each
 * remedy's `at` (in order, each within the plain message), else 0. */
static int message_is_plain_in_c_words(const sse_error *err)
{
    char built[512];
    size_t used = 0, copied = 0, plain_len, i;
    if (err->plain_message == NULL || err->message == NULL) return 0;
    if ((err->remedies == NULL) != (err->remedy_count == 0)) return 0;
    plain_len = strlen(err->plain_message);
    for (i = 0; i < err->remedy_count; i++) {
        const char *name = c_setter(err->remedies[i].setting);
        size_t at = err->remedies[i].at;
        int n;
        if (name == NULL || at < copied || at > plain_len) return 0;
        n = snprintf(built + used, sizeof built - used, "%.*s (%s)", (int)(at - copied),
                     err->plain_message + copied, name);
        if (n < 0 || (size_t)n >= sizeof built - used) return 0;
        used += (size_t)n;
        copied = at;
    }
    if (snprintf(built + used, sizeof built - used, "%s", err->plain_message + copied) >= (int)(sizeof built - used))
        return 0;
    return strcmp(built, err->message) == 0;
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
    loopback_t lb;
    pthread_mutex_t mu;
    step_t steps[MAX_STEPS];
    int nsteps;
    char requests[MAX_CONNS][REQ_MAX];
    int nconns;         /* connections accepted */
    socket_t held[MAX_CONNS];
    int held_trickle[MAX_CONNS];
    int nheld;
} server_t;

static void *server_main(void *arg)
{
    server_t *s = (server_t *)arg;
    static const char tick[] = ": tick\n";
    while (!loopback_stopping(&s->lb)) {
        socket_t fd;
        int idx, i;
        char req[REQ_MAX];
        if (!socket_readable(s->lb.listen_fd, 10)) {
            /* Idle: feed the trickling connections. */
            pthread_mutex_lock(&s->mu);
            for (i = 0; i < s->nheld; i++) {
                if (s->held_trickle[i] && s->held[i] != NO_SOCKET) {
                    if (send_all(s->held[i], tick, sizeof tick - 1) != 0) {
                        s->held_trickle[i] = 0; /* the client went away */
                    }
                }
            }
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        fd = accept(s->lb.listen_fd, NULL, NULL);
        if (fd == NO_SOCKET) continue;
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
        close_socket(fd);
    }
    return NULL;
}

/* Starts the scripted server, which answers its i-th connection with steps[i]; 0 on
 * success, else -1 with the failure already counted. */
static int server_start(server_t *s, const step_t *steps, int nsteps)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    memcpy(s->steps, steps, (size_t)nsteps * sizeof *steps);
    s->nsteps = nsteps;
    if (loopback_listen(&s->lb, 16) == 0 && loopback_run(&s->lb, server_main, s) == 0) return 0;
    check(0, "start the loopback server: %s", strerror(errno));
    loopback_stop(&s->lb);
    pthread_mutex_destroy(&s->mu);
    return -1;
}

static void server_stop(server_t *s)
{
    int i;
    loopback_stop(&s->lb);
    for (i = 0; i < s->nheld; i++) close_socket(s->held[i]);
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
    uint32_t failed_attempts;
    char plain_message[256];
    size_t remedy_count;
    int first_setting;          /* remedies[0].setting, 0 when there is none */
    int message_is_plain_in_c_words;
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
        e->failed_attempts = err->failed_attempts;
        snprintf(e->message, sizeof e->message, "%s", err->message ? err->message : "(NULL)");
        snprintf(e->plain_message, sizeof e->plain_message, "%s",
                 err->plain_message ? err->plain_message : "(NULL)");
        e->remedy_count = err->remedy_count;
        e->first_setting = err->remedy_count > 0 && err->remedies != NULL ? (int)err->remedies[0].setting : 0;
        e->message_is_plain_in_c_words = message_is_plain_in_c_words(err);
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

/* Field readers under the recorder's lock: static int rec_<field>(rec_t *r). */
#define REC_READER(field)                  \
    static int rec_##field(rec_t *r)       \
    {                                      \
        int n;                             \
        pthread_mutex_lock(&r->mu);        \
        n = r->field;                      \
        pthread_mutex_unlock(&r->mu);      \
        return n;                          \
    }
REC_READER(nevents)
REC_READER(total)
REC_READER(nstates)
REC_READER(nticks)
REC_READER(closed_in_callback)
REC_READER(ncomments)

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
    r = sse_config_new("http://user:secret@127.0.0.1:99999/x", &out);
    check_result(r, SSE_ERROR_INVALID_URL, "sse_config_new(port 99999) (ureq would connect to port 80)");
    msg = sse_last_error_message();
    check(msg != NULL && strstr(msg, "99999") != NULL && strstr(msg, "secret") == NULL,
          "  with a message naming the port, not the password (\"%s\")", msg ? msg : "NULL");
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
    check(strcmp(sse_last_error_message(),
                 "Last-Event-ID is managed by the client: set it as the last event ID "
                 "(sse_config_set_last_event_id)") == 0,
          "  the message names the C function that sets it (\"%s\")", sse_last_error_message());
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
    /* An ID that could not be sent as Last-Event-ID was accepted and silently never sent. */
    check_result(sse_config_set_last_event_id(c, "a\x01z"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_last_event_id(\"a\\x01z\") (a control character)");
    msg = sse_last_error_message();
    check(msg != NULL && strstr(msg, "control character") != NULL, "  with a message saying why (\"%s\")",
          msg ? msg : "NULL");
    check_result(sse_config_set_last_event_id(c, "\x1b[0m"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_last_event_id(ESC...)");
    check_result(sse_config_set_last_event_id(c, "del\x7f"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_last_event_id(DEL)");
    {
        /* Longer than the 4096 bytes sent; a 17,000-byte value bricked the client. */
        static char big[17001];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        check_result(sse_config_set_last_event_id(c, big), SSE_ERROR_INVALID_ARGUMENT,
                     "sse_config_set_last_event_id(17,000 bytes)");
        msg = sse_last_error_message();
        check(msg != NULL && strstr(msg, "4096") != NULL, "  with the limit in the message (\"%.80s\")",
              msg ? msg : "NULL");
        check_result(sse_config_set_header(c, "X-Big", big), SSE_ERROR_INVALID_ARGUMENT,
                     "sse_config_set_header(17,000-byte value) (would not fit the request head)");
        msg = sse_last_error_message();
        check(msg != NULL && strstr(msg, "16384") != NULL, "  with the limit in the message (\"%.80s\")",
              msg ? msg : "NULL");
        memcpy(big, "http://127.0.0.1/", 17);
        out = sentinel;
        check_result(sse_config_new(big, &out), SSE_ERROR_INVALID_URL, "sse_config_new(17,000-byte URL)");
        msg = sse_last_error_message();
        check(msg != NULL && strstr(msg, "16384") != NULL, "  with the limit in the message (\"%.80s\")",
              msg ? msg : "NULL");
        check(out == sentinel, "  and *out untouched");
        big[4096] = '\0';
        memset(big, 'x', 4096);
        check_result(sse_config_set_last_event_id(c, big), SSE_OK, "sse_config_set_last_event_id(4096 bytes)");
    }
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
    check(sse_client_wakeup_handle(NULL) == -1, "sse_client_wakeup_handle(NULL) == -1");
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
    if (server_start(&srv, steps, 2) != 0) return;
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_header(cfg, "X-Test", "yes"), SSE_OK, "sse_config_set_header(\"X-Test\", \"yes\")");
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg); /* the client keeps a copy */
    check_result(r, SSE_OK, "sse_client_open (callback mode), config freed right after");
    if (r != SSE_OK || client == NULL) goto out_server;

    check(sse_client_wakeup_fd(client) == -1, "sse_client_wakeup_fd on a callback-mode client == -1");
    check(sse_client_wakeup_handle(client) == -1, "sse_client_wakeup_handle on a callback-mode client == -1");
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
    if (server_start(&srv, &step, 1) != 0) return;
    rec_init(&rec);
    rec.close_on_event = 1;
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
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
    if (server_start(&srv, step, 1) != 0) return;
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
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

/* Whether a wakeup handle (or the wakeup fd) is readable within `timeout_ms`, as a host's
 * event loop sees it: a file descriptor on POSIX (poll), a SOCKET on Windows (WSAPoll). */
static int handle_readable(intptr_t handle, int timeout_ms)
{
    return socket_readable((socket_t)handle, timeout_ms);
}

/* Poll mode with the wakeup handle (and the wakeup fd, the same descriptor on POSIX). */
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
    int comment_ok = -1, wakeups = 0, spurious = 0;
    intptr_t handle;
    sse_result drain_end = SSE_ERROR_TIMEOUT;
    long long deadline, t0;

    section("poll mode");
    memset(&step, 0, sizeof step);
    step.head = STREAM_HEAD;
    step.body = body;
    step.body_len = sizeof body - 1;
    step.delay_ms = 300; /* so the client is still CONNECTING right after open */
    step.hold_open = 1;
    if (server_start(&srv, &step, 1) != 0) return;
    cfg = fast_config(srv.lb.url);
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
    if (IS_WINDOWS) {
        check(fd == -1, "sse_client_wakeup_fd == -1 on Windows, which has no descriptor (got %d)", fd);
    } else {
        check(fd >= 0, "sse_client_wakeup_fd >= 0 (got %d)", fd);
    }
    check(fd == sse_client_wakeup_fd(client), "sse_client_wakeup_fd is stable");
    check(fd < 0 || !handle_readable(fd, 0), "the wakeup fd is not readable before anything arrives");
    handle = sse_client_wakeup_handle(client);
    check(handle >= 0, "sse_client_wakeup_handle >= 0 (got %ld)", (long)handle);
    if (IS_WINDOWS) {
        skip("sse_client_wakeup_handle == sse_client_wakeup_fd", "POSIX only: on Windows the handle is a SOCKET");
    } else {
        check(handle == (intptr_t)fd, "sse_client_wakeup_handle == sse_client_wakeup_fd on POSIX (%ld, %d)",
              (long)handle, fd);
    }
    check(handle == sse_client_wakeup_handle(client), "sse_client_wakeup_handle is stable");
    check(handle < 0 || !handle_readable(handle, 0), "the wakeup handle is not readable before anything arrives");
    m = NULL;
    check_result(sse_client_poll(client, 0, &m), SSE_ERROR_TIMEOUT, "sse_client_poll(c, 0) with nothing queued");
    t0 = now_ms();
    check_result(sse_client_poll(client, 30, &m), SSE_ERROR_TIMEOUT, "sse_client_poll(c, 30) with nothing queued");
    check(now_ms() - t0 >= 25, "  and it waited about 30 ms (%lld ms)", now_ms() - t0);
    check(m == NULL, "  *out untouched");
    check_result(sse_client_poll(client, 0, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll(c, 0, NULL)");

    if (handle >= 0) {
        check(handle_readable(handle, (int)g_wait_ms), "poll(2) on the wakeup handle becomes readable when messages arrive");
    }
    /* The rule: readable while at least one announced message is not taken. So each time
     * the handle is readable, this host (the only taker) finds a message. */
    deadline = now_ms() + g_wait_ms;
    while (!seen_event && now_ms() < deadline) {
        int taken = 0, readable = handle >= 0 && handle_readable(handle, 50);
        for (;;) {
            m = NULL;
            r = sse_client_poll(client, 0, &m);
            if (r != SSE_OK) {
                if (readable && taken == 0) spurious++;
                break;
            }
            taken++;
            wakeups += readable && taken == 1;
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
    check(wakeups > 0 && spurious == 0,
          "each time the wakeup handle was readable a message was queued (%d wakeups, %d with nothing queued)", wakeups,
          spurious);
    kinds[nkinds] = '\0';
    check(seen_event, "the EVENT message arrived");
    check(strcmp(kinds, "osce") == 0,
          "message kinds in order: OPEN, STATE, COMMENT, EVENT (got \"%s\")", kinds);
    check(open_status == 200, "OPEN message has http status 200 (got %d)", open_status);
    check(nstate == 1 && state_ok, "one STATE message, OPEN");
    check(comment_ok == 1, "COMMENT message: \"ping\" with length 4");
    check(bad_views == 0, "accessors of other kinds return NULL/0/CLOSED (%d wrong)", bad_views);
    if (fd >= 0) check(!handle_readable(fd, 0), "after draining, the wakeup fd is not readable (poll timeout 0 returns 0)");
    if (handle >= 0) check(!handle_readable(handle, 0), "after draining, the wakeup handle is not readable");
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
    if (fd >= 0) check(!handle_readable(fd, 0), "the wakeup fd is not readable once closed and drained");
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

/* Poll mode, everything queued at once: sse_client_poll_batch and the sse_batch accessors. */
static void test_poll_batch(void)
{
    /* 40 events with ids, a comment among them: more than the queue capacity of 16. */
    static char body[4096];
    step_t step;
    server_t srv;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_batch *batch, *kept = NULL;
    sse_message *m;
    sse_result r;
    size_t used = 0, i, len, max_len = 0;
    intptr_t handle;
    int events = 0, in_order = 1, comments = 0, opens = 0, states = 0, batches = 0, bad_views = 0;
    int single_first = 0;
    long long deadline;
    char want[16], buf[16];

    section("poll mode, batches");
    for (i = 0; i < 40; i++) {
        if (i == 20) used += (size_t)snprintf(body + used, sizeof body - used, ": halfway\n\n");
        used += (size_t)snprintf(body + used, sizeof body - used, "id: %lu\ndata: event %lu\n\n", (unsigned long)i,
                                 (unsigned long)i);
    }
    memset(&step, 0, sizeof step);
    step.head = STREAM_HEAD;
    step.body = body;
    step.body_len = used;
    step.hold_open = 1;
    if (server_start(&srv, &step, 1) != 0) return;
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_queue_capacity(cfg, 16), SSE_OK, "sse_config_set_queue_capacity(16)");
    r = sse_client_open(cfg, NULL, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open (poll mode)");
    if (r != SSE_OK || client == NULL) goto out_server;
    handle = sse_client_wakeup_handle(client);

    batch = (sse_batch *)&step;
    check_result(sse_client_poll_batch(client, 0, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll_batch(c, 0, NULL)");
    check(handle_readable(handle, (int)g_wait_ms), "the wakeup handle becomes readable");

    /* One message alone first: a batch then starts after it. */
    m = NULL;
    r = sse_client_poll(client, (int32_t)g_wait_ms, &m);
    check_result(r, SSE_OK, "sse_client_poll takes the first message alone");
    if (r == SSE_OK) {
        single_first = sse_message_kind_of(m) == SSE_MESSAGE_OPEN && sse_message_http_status(m) == 200;
        sse_message_free(m);
    }
    check(single_first, "  and it is OPEN 200");

    deadline = now_ms() + g_wait_ms;
    while (events < 40 && now_ms() < deadline) {
        batch = NULL;
        r = sse_client_poll_batch(client, 100, &batch);
        if (r == SSE_ERROR_TIMEOUT) continue;
        if (r != SSE_OK) {
            check(0, "sse_client_poll_batch returned %s", sse_result_name(r));
            break;
        }
        batches++;
        len = sse_batch_len(batch);
        if (len > max_len) max_len = len;
        if (len == 0) bad_views++;
        if (sse_batch_get(batch, len) != NULL || sse_batch_get(batch, (size_t)-1) != NULL) bad_views++;
        for (i = 0; i < len; i++) {
            const sse_message *bm = sse_batch_get(batch, i);
            switch (sse_message_kind_of(bm)) {
            case SSE_MESSAGE_OPEN: opens++; break;
            case SSE_MESSAGE_STATE: states++; break;
            case SSE_MESSAGE_COMMENT: {
                size_t clen = 0;
                const char *text = sse_message_comment(bm, &clen);
                if (text != NULL && clen == 7 && strcmp(text, "halfway") == 0 && events == 20) comments++;
                else bad_views++;
                break;
            }
            case SSE_MESSAGE_EVENT: {
                const sse_event *ev = sse_message_event(bm);
                int n = snprintf(want, sizeof want, "event %d", events);
                snprintf(buf, sizeof buf, "%d", events);
                if (ev == NULL || !bytes_eq(ev->data, ev->data_len, want, (size_t)n) ||
                    !bytes_eq(ev->id, ev->id_len, buf, strlen(buf)) ||
                    !bytes_eq(ev->type, ev->type_len, "message", 7) || !nul_at(ev->data, ev->data_len) ||
                    !nul_at(ev->id, ev->id_len) || !nul_at(ev->type, ev->type_len))
                    in_order = 0;
                if (sse_message_error(bm) != NULL || sse_message_comment(bm, NULL) != NULL) bad_views++;
                events++;
                break;
            }
            case SSE_MESSAGE_ERROR: bad_views++; break;
            }
        }
        if (kept == NULL) {
            kept = batch; /* read again after the client is freed */
        } else {
            sse_batch_free(batch);
        }
    }
    check(events == 40 && in_order, "all 40 events arrived in order, with their ids, NUL-terminated (%d)", events);
    check(comments == 1, "the comment came between event 19 and event 20");
    check(opens == 0 && states == 1, "the batches held the STATE OPEN after the OPEN taken alone (%d opens, %d states)",
          opens, states);
    check(max_len >= 1 && max_len <= 16, "no batch is larger than the queue capacity of 16 (largest %lu)",
          (unsigned long)max_len);
    check(batches >= 3, "42 messages through a queue of 16 took at least 3 batches (%d)", batches);
    check(bad_views == 0, "empty batches, out-of-range indexes and wrong-kind accessors: none (%d)", bad_views);
    check(!handle_readable(handle, 0), "the wakeup handle is not readable once everything is taken");
    batch = (sse_batch *)&step;
    check_result(sse_client_poll_batch(client, 0, &batch), SSE_ERROR_TIMEOUT, "sse_client_poll_batch(c, 0) on an empty queue");
    check(batch == (sse_batch *)&step, "  and *out untouched");
    sse_client_close(client);
    check_result(sse_client_poll_batch(client, 1000, &batch), SSE_ERROR_CLOSED,
                 "sse_client_poll_batch after close and drained: SSE_ERROR_CLOSED");
    sse_client_free(client);

    if (kept != NULL) {
        const sse_message *first = sse_batch_get(kept, 0);
        check(sse_batch_len(kept) >= 1 && first != NULL && sse_message_kind_of(first) == SSE_MESSAGE_STATE,
              "a batch read after sse_client_free is still valid");
        sse_batch_free(kept);
    }

    /* NULLs and the wrong mode. */
    check(sse_batch_len(NULL) == 0, "sse_batch_len(NULL) == 0");
    check(sse_batch_get(NULL, 0) == NULL, "sse_batch_get(NULL, 0) == NULL");
    sse_batch_free(NULL);
    batch = (sse_batch *)&step;
    check_result(sse_client_poll_batch(NULL, 0, &batch), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll_batch(NULL, ...)");
    check(batch == (sse_batch *)&step, "  and *out untouched");
    cfg = fast_config(srv.lb.url);
    if (cfg != NULL) {
        sse_callbacks callbacks;
        memset(&callbacks, 0, sizeof callbacks);
        client = NULL;
        r = sse_client_open(cfg, &callbacks, &client);
        sse_config_free(cfg);
        if (r == SSE_OK) {
            check_result(sse_client_poll_batch(client, 0, &batch), SSE_ERROR_WRONG_MODE,
                         "sse_client_poll_batch on a callback-mode client");
            sse_client_free(client);
        }
    }

out_server:
    server_stop(&srv);
}

/* ------------------------------------------------------------------------------------ */
/* Hooks, restart, stats, failed_attempts, retry_non_get, and the new setters            */
/* ------------------------------------------------------------------------------------ */

#define HOOK_MAX 8

/* What the request hook saw and what its calls returned, per call (under mu). */
typedef struct {
    pthread_mutex_t mu;
    pthread_t main_thread;
    int calls;
    int on_main_thread;
    uint32_t attempts[HOOK_MAX];
    char last_ids[HOOK_MAX][32];
    char urls[HOOK_MAX][64];
    sse_result set_token[HOOK_MAX];   /* set_header("Authorization", "Bearer token-<attempt>") */
    sse_result set_crlf[HOOK_MAX];    /* set_header("X-Evil", "a\r\nEvil: 1") */
    int crlf_has_message[HOOK_MAX];   /* sse_last_error_message() explains it, on the worker */
    sse_result set_lf[HOOK_MAX];      /* set_header("X-Evil", "a\nb") */
    sse_result set_lei[HOOK_MAX];     /* set_header("Last-Event-ID", "forged") */
    sse_result set_null[HOOK_MAX];    /* set_header(req, NULL, "v") and (req, "X-A", NULL) */
    sse_result set_null_req[HOOK_MAX];/* set_header(NULL, "X-A", "v") */
    sse_result remove_drop[HOOK_MAX]; /* remove_header("x-drop") in attempt 1 only */
    sse_result remove_null[HOOK_MAX]; /* remove_header(req, NULL) */
} req_hook_t;

static void on_request(void *userdata, sse_request *request)
{
    req_hook_t *h = (req_hook_t *)userdata;
    uint32_t attempt = sse_request_attempt(request);
    char token[64];
    int i;
    pthread_mutex_lock(&h->mu);
    i = h->calls++;
    if (pthread_equal(pthread_self(), h->main_thread)) h->on_main_thread++;
    if (i < HOOK_MAX) {
        h->attempts[i] = attempt;
        snprintf(h->last_ids[i], sizeof h->last_ids[i], "%s", sse_request_last_event_id(request));
        snprintf(h->urls[i], sizeof h->urls[i], "%s", sse_request_url(request));
        snprintf(token, sizeof token, "Bearer token-%u", (unsigned)attempt);
        h->set_token[i] = sse_request_set_header(request, "Authorization", token);
        h->set_crlf[i] = sse_request_set_header(request, "X-Evil", "a\r\nEvil: 1");
        h->crlf_has_message[i] = sse_last_error_message()[0] != '\0';
        h->set_lf[i] = sse_request_set_header(request, "X-Evil", "a\nb");
        h->set_lei[i] = sse_request_set_header(request, "Last-Event-ID", "forged");
        h->set_null[i] = sse_request_set_header(request, NULL, "v");
        if (h->set_null[i] == SSE_ERROR_NULL_ARGUMENT) {
            h->set_null[i] = sse_request_set_header(request, "X-A", NULL);
        }
        h->set_null_req[i] = sse_request_set_header(NULL, "X-A", "v");
        h->remove_drop[i] = attempt == 1 ? sse_request_remove_header(request, "x-drop") : SSE_OK;
        h->remove_null[i] = sse_request_remove_header(request, NULL);
    }
    pthread_mutex_unlock(&h->mu);
}

static int req_hook_calls(req_hook_t *h)
{
    int n;
    pthread_mutex_lock(&h->mu);
    n = h->calls;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* The request hook: a fresh header per attempt, the attempt number, the Last-Event-ID about
 * to be sent, refused bad headers, and a removal that applies to one attempt only. */
static void test_request_hook(void)
{
    static const char body1[] = "id: c1\ndata: one\n\n";
    static const char body2[] = "data: two\n\n";
    step_t steps[2];
    server_t srv;
    rec_t rec;
    req_hook_t hook;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    char req[REQ_MAX];
    int i, ok;

    section("request hook");
    memset(steps, 0, sizeof steps);
    steps[0].head = STREAM_HEAD;
    steps[0].body = body1;
    steps[0].body_len = sizeof body1 - 1;
    steps[1].head = STREAM_HEAD;
    steps[1].body = body2;
    steps[1].body_len = sizeof body2 - 1;
    steps[1].hold_open = 1;
    if (server_start(&srv, steps, 2) != 0) return;
    rec_init(&rec);
    memset(&hook, 0, sizeof hook);
    pthread_mutex_init(&hook.mu, NULL);
    hook.main_thread = pthread_self();
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_header(cfg, "Authorization", "Bearer configured"), SSE_OK,
                 "sse_config_set_header(\"Authorization\", \"Bearer configured\")");
    check_result(sse_config_set_header(cfg, "X-Drop", "configured"), SSE_OK, "sse_config_set_header(\"X-Drop\")");
    check_result(sse_config_set_request_hook(NULL, on_request, &hook), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_request_hook(NULL, hook, ud)");
    check_result(sse_config_set_request_hook(cfg, on_request, &hook), SSE_OK, "sse_config_set_request_hook(cfg, hook, ud)");
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg); /* the client keeps the hook */
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    ok = wait_for(&rec, rec_nevents, 2);
    check(ok, "2 events arrive over 2 connections (got %d)", rec_nevents(&rec));
    check(req_hook_calls(&hook) == 2, "the hook ran once per attempt: 2 (got %d)", req_hook_calls(&hook));

    pthread_mutex_lock(&hook.mu);
    check(hook.on_main_thread == 0, "the hook runs on the worker thread");
    check(hook.attempts[0] == 1 && hook.attempts[1] == 2, "sse_request_attempt: 1 then 2 (got %u, %u)",
          (unsigned)hook.attempts[0], (unsigned)hook.attempts[1]);
    check(strcmp(hook.last_ids[0], "") == 0 && strcmp(hook.last_ids[1], "c1") == 0,
          "sse_request_last_event_id: \"\" then \"c1\" (got \"%s\", \"%s\")", hook.last_ids[0], hook.last_ids[1]);
    check(strcmp(hook.urls[0], srv.lb.url) == 0 && strcmp(hook.urls[1], srv.lb.url) == 0,
          "sse_request_url is the configured URL (got \"%s\")", hook.urls[0]);
    ok = 1;
    for (i = 0; i < 2; i++) {
        ok = ok && hook.set_token[i] == SSE_OK;
    }
    check(ok, "sse_request_set_header(\"Authorization\", token) -> SSE_OK");
    check(hook.set_crlf[0] == SSE_ERROR_INVALID_ARGUMENT && hook.set_crlf[1] == SSE_ERROR_INVALID_ARGUMENT,
          "sse_request_set_header with CR/LF in the value -> SSE_ERROR_INVALID_ARGUMENT (got %s)",
          sse_result_name(hook.set_crlf[0]));
    check(hook.crlf_has_message[0], "  and sse_last_error_message() explains it inside the hook");
    check(hook.set_lf[0] == SSE_ERROR_INVALID_ARGUMENT, "sse_request_set_header with LF -> SSE_ERROR_INVALID_ARGUMENT (got %s)",
          sse_result_name(hook.set_lf[0]));
    check(hook.set_lei[0] == SSE_ERROR_INVALID_ARGUMENT,
          "sse_request_set_header(\"Last-Event-ID\") -> SSE_ERROR_INVALID_ARGUMENT (got %s)", sse_result_name(hook.set_lei[0]));
    check(hook.set_null[0] == SSE_ERROR_NULL_ARGUMENT,
          "sse_request_set_header with a NULL name or value -> SSE_ERROR_NULL_ARGUMENT (got %s)",
          sse_result_name(hook.set_null[0]));
    check(hook.set_null_req[0] == SSE_ERROR_NULL_ARGUMENT, "sse_request_set_header(NULL, ...) -> SSE_ERROR_NULL_ARGUMENT (got %s)",
          sse_result_name(hook.set_null_req[0]));
    check(hook.remove_drop[0] == SSE_OK, "sse_request_remove_header(\"x-drop\") -> SSE_OK (got %s)",
          sse_result_name(hook.remove_drop[0]));
    check(hook.remove_null[0] == SSE_ERROR_NULL_ARGUMENT, "sse_request_remove_header(req, NULL) -> SSE_ERROR_NULL_ARGUMENT (got %s)",
          sse_result_name(hook.remove_null[0]));
    pthread_mutex_unlock(&hook.mu);

    server_request(&srv, 0, req, sizeof req);
    check(find_ci(req, "\r\nauthorization: Bearer token-1\r\n") != NULL,
          "request 1 carries the hook's Authorization: Bearer token-1 (replacing the configured one)");
    check(find_ci(req, "Bearer configured") == NULL, "request 1 does not carry the configured Authorization");
    check(find_ci(req, "\r\nx-drop:") == NULL, "request 1 lacks X-Drop (removed by the hook)");
    check(find_ci(req, "evil") == NULL && find_ci(req, "forged") == NULL, "request 1 has no refused header");
    server_request(&srv, 1, req, sizeof req);
    check(find_ci(req, "\r\nauthorization: Bearer token-2\r\n") != NULL, "request 2 carries Authorization: Bearer token-2");
    check(find_ci(req, "\r\nx-drop: configured\r\n") != NULL, "request 2 has X-Drop again: the removal was for attempt 1 only");
    check(find_ci(req, "\r\nlast-event-id: c1\r\n") != NULL, "request 2 carries Last-Event-ID: c1");

    sse_client_close(client);
    i = req_hook_calls(&hook);
    sleep_ms(100);
    check(req_hook_calls(&hook) == i, "no hook call after sse_client_close returned");
    sse_client_free(client);

    /* The accessors with NULL, outside any hook. */
    check(sse_request_attempt(NULL) == 0, "sse_request_attempt(NULL) == 0");
    check(sse_request_last_event_id(NULL) != NULL && sse_request_last_event_id(NULL)[0] == '\0',
          "sse_request_last_event_id(NULL) == \"\"");
    check(sse_request_url(NULL) != NULL && sse_request_url(NULL)[0] == '\0', "sse_request_url(NULL) == \"\"");
    check_result(sse_request_set_header(NULL, "X-A", "1"), SSE_ERROR_NULL_ARGUMENT, "sse_request_set_header(NULL, ...)");
    check_result(sse_request_remove_header(NULL, "X-A"), SSE_ERROR_NULL_ARGUMENT, "sse_request_remove_header(NULL, ...)");

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
    pthread_mutex_destroy(&hook.mu);
}

/* What the response hook saw, per call (under mu). */
typedef struct {
    pthread_mutex_t mu;
    int calls;
    uint16_t statuses[HOOK_MAX];
    char urls[HOOK_MAX][64];
    char rate_lower[HOOK_MAX][16];  /* sse_response_header(r, "x-ratelimit-remaining") */
    char rate_upper[HOOK_MAX][16];  /* sse_response_header(r, "X-RATELIMIT-REMAINING") */
    int missing_is_null[HOOK_MAX];  /* a header it does not have -> NULL */
    int null_name_is_null[HOOK_MAX];
    size_t count[HOOK_MAX];
    int iterate_ok[HOOK_MAX];       /* every index < count: SSE_OK, lower-case name, a value */
    int found_by_index[HOOK_MAX];   /* x-ratelimit-remaining: 0 found by iterating */
    sse_result out_of_range[HOOK_MAX];
    sse_result null_out[HOOK_MAX];
    sse_result null_response[HOOK_MAX];
} resp_hook_t;

static void copy_or_null(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "(NULL)");
}

static void on_response(void *userdata, const sse_response *response)
{
    resp_hook_t *h = (resp_hook_t *)userdata;
    int i;
    pthread_mutex_lock(&h->mu);
    i = h->calls++;
    if (i < HOOK_MAX) {
        size_t k, n = sse_response_header_count(response);
        const char *name = NULL;
        const char *value = NULL;
        h->statuses[i] = sse_response_status(response);
        snprintf(h->urls[i], sizeof h->urls[i], "%s", sse_response_url(response));
        copy_or_null(h->rate_lower[i], sizeof h->rate_lower[i], sse_response_header(response, "x-ratelimit-remaining"));
        copy_or_null(h->rate_upper[i], sizeof h->rate_upper[i], sse_response_header(response, "X-RATELIMIT-REMAINING"));
        h->missing_is_null[i] = sse_response_header(response, "x-not-sent") == NULL;
        h->null_name_is_null[i] = sse_response_header(response, NULL) == NULL;
        h->count[i] = n;
        h->iterate_ok[i] = 1;
        for (k = 0; k < n; k++) {
            const char *c;
            name = NULL;
            value = NULL;
            if (sse_response_header_at(response, k, &name, &value) != SSE_OK || name == NULL || value == NULL) {
                h->iterate_ok[i] = 0;
                continue;
            }
            for (c = name; *c; c++) {
                if (*c >= 'A' && *c <= 'Z') h->iterate_ok[i] = 0;
            }
            if (strcmp(name, "x-ratelimit-remaining") == 0 && strcmp(value, "0") == 0) h->found_by_index[i] = 1;
        }
        h->out_of_range[i] = sse_response_header_at(response, n, &name, &value);
        h->null_out[i] = sse_response_header_at(response, 0, NULL, &value);
        h->null_response[i] = sse_response_header_at(NULL, 0, &name, &value);
    }
    pthread_mutex_unlock(&h->mu);
}

/* The response hook: every response (the 429 too), status, headers by name and index. */
static void test_response_hook(void)
{
    static const char body[] = "data: ok\n\n";
    step_t steps[2];
    server_t srv;
    rec_t rec;
    resp_hook_t hook;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    const char *name = NULL;
    const char *value = NULL;
    int ok;

    section("response hook");
    memset(steps, 0, sizeof steps);
    steps[0].head = "HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Remaining: 0\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n";
    steps[1].head = STREAM_HEAD;
    steps[1].body = body;
    steps[1].body_len = sizeof body - 1;
    steps[1].hold_open = 1;
    if (server_start(&srv, steps, 2) != 0) return;
    rec_init(&rec);
    memset(&hook, 0, sizeof hook);
    pthread_mutex_init(&hook.mu, NULL);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_response_hook(NULL, on_response, &hook), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_response_hook(NULL, hook, ud)");
    check_result(sse_config_set_response_hook(cfg, on_response, &hook), SSE_OK, "sse_config_set_response_hook(cfg, hook, ud)");
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    ok = wait_for(&rec, rec_nevents, 1);
    check(ok, "the event arrives after the 429 (got %d events)", rec_nevents(&rec));
    pthread_mutex_lock(&hook.mu);
    check(hook.calls == 2, "the hook saw 2 responses (got %d)", hook.calls);
    check(hook.statuses[0] == 429 && hook.statuses[1] == 200, "sse_response_status: 429 then 200 (got %u, %u)",
          (unsigned)hook.statuses[0], (unsigned)hook.statuses[1]);
    check(strcmp(hook.urls[0], srv.lb.url) == 0, "sse_response_url is the URL answered (got \"%s\")", hook.urls[0]);
    check(strcmp(hook.rate_lower[0], "0") == 0 && strcmp(hook.rate_upper[0], "0") == 0,
          "sse_response_header finds X-RateLimit-Remaining: 0 whatever the case (got \"%s\", \"%s\")", hook.rate_lower[0],
          hook.rate_upper[0]);
    check(strcmp(hook.rate_lower[1], "(NULL)") == 0, "the 200 has no X-RateLimit-Remaining: NULL (got \"%s\")",
          hook.rate_lower[1]);
    check(hook.missing_is_null[0] && hook.null_name_is_null[0], "sse_response_header: absent name or NULL name -> NULL");
    check(hook.count[0] >= 3 && hook.count[1] >= 2, "sse_response_header_count counts the headers (got %lu, %lu)",
          (unsigned long)hook.count[0], (unsigned long)hook.count[1]);
    check(hook.iterate_ok[0] && hook.iterate_ok[1],
          "sse_response_header_at(i < count) -> SSE_OK with a lower-case name and a value");
    check(hook.found_by_index[0], "iterating the 429's headers finds x-ratelimit-remaining: 0");
    check(hook.out_of_range[0] == SSE_ERROR_INVALID_ARGUMENT,
          "sse_response_header_at(count) -> SSE_ERROR_INVALID_ARGUMENT (got %s)", sse_result_name(hook.out_of_range[0]));
    check(hook.null_out[0] == SSE_ERROR_NULL_ARGUMENT, "sse_response_header_at(r, 0, NULL, &v) -> SSE_ERROR_NULL_ARGUMENT (got %s)",
          sse_result_name(hook.null_out[0]));
    check(hook.null_response[0] == SSE_ERROR_NULL_ARGUMENT,
          "sse_response_header_at(NULL, ...) -> SSE_ERROR_NULL_ARGUMENT (got %s)", sse_result_name(hook.null_response[0]));
    check(rec.nerrors == 1 && rec.errors[0].http_status == 429 && rec.errors[0].will_retry,
          "the 429 was also reported as a retried error (got %d errors)", rec.nerrors);
    pthread_mutex_unlock(&hook.mu);
    sse_client_free(client);

    check(sse_response_status(NULL) == 0, "sse_response_status(NULL) == 0");
    check(sse_response_url(NULL) != NULL && sse_response_url(NULL)[0] == '\0', "sse_response_url(NULL) == \"\"");
    check(sse_response_header(NULL, "x") == NULL, "sse_response_header(NULL, name) == NULL");
    check(sse_response_header_count(NULL) == 0, "sse_response_header_count(NULL) == 0");
    check_result(sse_response_header_at(NULL, 0, &name, &value), SSE_ERROR_NULL_ARGUMENT, "sse_response_header_at(NULL, ...)");
    check(name == NULL && value == NULL, "  and the outputs untouched");

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
    pthread_mutex_destroy(&hook.mu);
}

static int all_zero(const uint64_t *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (v[i] != 0) return 0;
    }
    return 1;
}

/* sse_client_stats counts exactly; sse_client_restart reconnects at once, with the last
 * event ID and without an error, even with a backoff far longer than the test. */
static void test_restart_and_stats(void)
{
    static const char body1[] = "id: r1\ndata: a\n\n: note\n\n";
    static const char body2[] = "data: b\n\n";
    step_t steps[2];
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_stats st, before;
    sse_result r;
    char req[REQ_MAX];
    long long t0;
    uint64_t connected;
    int ok;

    section("sse_client_restart and sse_client_stats");
    memset(steps, 0, sizeof steps);
    steps[0].head = STREAM_HEAD;
    steps[0].body = body1;
    steps[0].body_len = sizeof body1 - 1;
    steps[0].hold_open = 1;
    steps[1].head = STREAM_HEAD;
    steps[1].body = body2;
    steps[1].body_len = sizeof body2 - 1;
    steps[1].hold_open = 1;
    if (server_start(&srv, steps, 2) != 0) return;
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    /* Far beyond any wait of this test (also under valgrind): only a restart reconnects. */
    check_result(sse_config_set_reconnect_delay(cfg, 600000, 600000), SSE_OK, "sse_config_set_reconnect_delay(600000, 600000)");
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    ok = wait_for(&rec, rec_nevents, 1) && wait_for(&rec, rec_ncomments, 1);
    check(ok, "the event and the comment arrive");
    /* The counters of a read are published after its callbacks: wait for them. */
    t0 = now_ms();
    memset(&st, 0, sizeof st);
    while (now_ms() - t0 < g_wait_ms) {
        if (sse_client_stats(client, &st) == SSE_OK && st.bytes_received >= sizeof body1 - 1) break;
        sleep_ms(2);
    }
    check_result(sse_client_stats(client, &st), SSE_OK, "sse_client_stats(client, &st)");
    check(st.connection_attempts == 1 && st.connections_opened == 1, "stats: 1 attempt, 1 opened (got %lu, %lu)",
          (unsigned long)st.connection_attempts, (unsigned long)st.connections_opened);
    check(st.events == 1 && st.comments == 1, "stats: 1 event, 1 comment (got %lu, %lu)", (unsigned long)st.events,
          (unsigned long)st.comments);
    check(st.bytes_received == sizeof body1 - 1, "stats: bytes_received == the body length %lu (got %lu)",
          (unsigned long)(sizeof body1 - 1), (unsigned long)st.bytes_received);
    check(all_zero(st.errors, sizeof st.errors / sizeof st.errors[0]), "stats: no error of any kind");
    check(st.reconnect_delay_ms == 0, "stats: reconnect_delay_ms 0 before any reconnect (got %lu)",
          (unsigned long)st.reconnect_delay_ms);
    connected = st.time_connected_ms;
    sleep_ms(120);
    sse_client_stats(client, &st);
    check(st.time_connected_ms >= connected + 60, "stats: time_connected_ms grows while OPEN (%lu, then %lu 120 ms later)",
          (unsigned long)connected, (unsigned long)st.time_connected_ms);

    memset(&before, 0xab, sizeof before);
    st = before;
    check_result(sse_client_stats(NULL, &st), SSE_ERROR_NULL_ARGUMENT, "sse_client_stats(NULL, &st)");
    check(memcmp(&st, &before, sizeof st) == 0, "  and *out untouched");
    check_result(sse_client_stats(client, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_stats(client, NULL)");
    check_result(sse_client_restart(NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_restart(NULL)");

    t0 = now_ms();
    check_result(sse_client_restart(client), SSE_OK, "sse_client_restart while OPEN");
    ok = wait_for(&rec, rec_nevents, 2);
    check(ok, "the stream is back at once (a 600 s backoff would not be) (%lld ms)", now_ms() - t0);
    check(server_conns(&srv) == 2, "the server saw a second connection (got %d)", server_conns(&srv));
    server_request(&srv, 1, req, sizeof req);
    check(find_ci(req, "\r\nlast-event-id: r1\r\n") != NULL, "the new request carries Last-Event-ID: r1");
    pthread_mutex_lock(&rec.mu);
    check(rec.nerrors == 0, "no on_error for a restart (got %d)", rec.nerrors);
    check(strcmp(rec.seq, "oOecCoOe") == 0,
          "order: open, OPEN, event, comment, CONNECTING (restart), open, OPEN, event (got \"%s\")", rec.seq);
    pthread_mutex_unlock(&rec.mu);
    sse_client_stats(client, &st);
    check(st.connection_attempts == 2 && st.connections_opened == 2 && st.events == 2,
          "stats after the restart: 2 attempts, 2 opened, 2 events (got %lu, %lu, %lu)",
          (unsigned long)st.connection_attempts, (unsigned long)st.connections_opened, (unsigned long)st.events);
    check(all_zero(st.errors, sizeof st.errors / sizeof st.errors[0]), "stats: still no error");

    sse_client_close(client);
    check_result(sse_client_restart(client), SSE_ERROR_CLOSED, "sse_client_restart after close");
    check_result(sse_client_stats(client, &st), SSE_OK, "sse_client_stats after close");
    sleep_ms(50);
    check(server_conns(&srv) == 2, "no connection after close (got %d)", server_conns(&srv));
    sse_client_free(client);

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

/* sse_error.failed_attempts: 1, 2 on consecutive 503s, 0 once a stream delivered an event. */
static void test_failed_attempts(void)
{
    static const char head503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char body1[] = "data: x\n\n";
    static const char body2[] = "data: y\n\n";
    step_t steps[4];
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    int ok;

    section("sse_error.failed_attempts");
    memset(steps, 0, sizeof steps);
    steps[0].head = head503;
    steps[1].head = head503;
    steps[2].head = STREAM_HEAD;
    steps[2].body = body1;
    steps[2].body_len = sizeof body1 - 1;
    steps[3].head = STREAM_HEAD;
    steps[3].body = body2;
    steps[3].body_len = sizeof body2 - 1;
    steps[3].hold_open = 1;
    if (server_start(&srv, steps, 4) != 0) return;
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    ok = wait_for(&rec, rec_nevents, 2);
    check(ok, "2 events after two 503s (got %d)", rec_nevents(&rec));
    pthread_mutex_lock(&rec.mu);
    check(rec.nerrors == 3, "3 errors (got %d)", rec.nerrors);
    check(rec.errors[0].kind == SSE_ERROR_KIND_HTTP_STATUS && rec.errors[0].failed_attempts == 1,
          "first 503: failed_attempts 1 (got %u)", (unsigned)rec.errors[0].failed_attempts);
    check(rec.errors[1].kind == SSE_ERROR_KIND_HTTP_STATUS && rec.errors[1].failed_attempts == 2,
          "second 503: failed_attempts 2 (got %u)", (unsigned)rec.errors[1].failed_attempts);
    check(rec.errors[2].kind == SSE_ERROR_KIND_STREAM_ENDED && rec.errors[2].failed_attempts == 0,
          "the end of a stream that delivered an event: failed_attempts 0 (got %u)", (unsigned)rec.errors[2].failed_attempts);
    pthread_mutex_unlock(&rec.mu);
    sse_client_free(client);

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

/* A POST is not sent again unless sse_config_set_retry_non_get allows it. */
static void run_post(int allow_replay)
{
    static const char head503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char body[] = "data: ok\n\n";
    static const char post_body[] = "{\"q\":1}";
    step_t steps[2];
    server_t srv;
    rec_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_result r;
    char req[REQ_MAX];
    int i;

    section(allow_replay ? "POST with sse_config_set_retry_non_get(true): sent again" : "POST: a 503 is not retried");
    memset(steps, 0, sizeof steps);
    steps[0].head = head503;
    steps[1].head = STREAM_HEAD;
    steps[1].body = body;
    steps[1].body_len = sizeof body - 1;
    steps[1].hold_open = 1;
    if (server_start(&srv, steps, 2) != 0) return;
    rec_init(&rec);
    cb = callbacks_for(&rec);
    cfg = fast_config(srv.lb.url);
    if (cfg == NULL) goto out_server;
    check_result(sse_config_set_method(cfg, "POST"), SSE_OK, "sse_config_set_method(\"POST\")");
    check_result(sse_config_set_body(cfg, (const uint8_t *)post_body, strlen(post_body)), SSE_OK, "sse_config_set_body");
    if (allow_replay) {
        check_result(sse_config_set_retry_non_get(cfg, true), SSE_OK, "sse_config_set_retry_non_get(cfg, true)");
    }
    r = sse_client_open(cfg, &cb, &client);
    sse_config_free(cfg);
    check_result(r, SSE_OK, "sse_client_open");
    if (r != SSE_OK || client == NULL) goto out_server;

    if (allow_replay) {
        check(wait_for(&rec, rec_nevents, 1), "the event arrives on the second POST");
        check(server_conns(&srv) == 2, "2 requests (got %d)", server_conns(&srv));
        for (i = 0; i < 2; i++) {
            const char *end;
            server_request(&srv, i, req, sizeof req);
            end = strstr(req, "\r\n\r\n");
            check(strncmp(req, "POST /stream HTTP/1.1\r\n", 23) == 0 && end != NULL && strcmp(end + 4, post_body) == 0,
                  "request %d is a POST with the body \"%s\"", i + 1, post_body);
        }
        pthread_mutex_lock(&rec.mu);
        check(rec.nerrors == 1 && rec.errors[0].will_retry, "the 503 was reported with will_retry");
        pthread_mutex_unlock(&rec.mu);
    } else {
        check(wait_for(&rec, rec_nstates, 1), "a state callback arrives");
        sleep_ms(150); /* room for a wrong retry to show */
        pthread_mutex_lock(&rec.mu);
        check(rec.nerrors == 1 && rec.errors[0].http_status == 503 && !rec.errors[0].will_retry,
              "one error: 503, will_retry false (got %d errors, status %u)", rec.nerrors, (unsigned)rec.errors[0].http_status);
        check(ends_with(rec.errors[0].message,
                        "; not reconnecting: a POST request is not sent again unless retrying non-GET "
                        "requests is allowed (sse_config_set_retry_non_get)"),
              "the message names sse_config_set_retry_non_get (\"%s\")", rec.errors[0].message);
        check(rec.errors[0].failed_attempts == 1, "  failed_attempts 1: this attempt (got %u)",
              (unsigned)rec.errors[0].failed_attempts);
        /* 1.1.0: the plain message and the remedy, for a binding that names settings its way. */
        check(strstr(rec.errors[0].plain_message, "sse_") == NULL &&
                  ends_with(rec.errors[0].plain_message,
                            "; not reconnecting: a POST request is not sent again unless retrying non-GET "
                            "requests is allowed"),
              "  plain_message has the words without any sse_ name (\"%s\")", rec.errors[0].plain_message);
        check(rec.errors[0].remedy_count == 1 && rec.errors[0].first_setting == SSE_SETTING_RETRY_NON_GET,
              "  one remedy: SSE_SETTING_RETRY_NON_GET (got %lu, first %d)", (unsigned long)rec.errors[0].remedy_count,
              rec.errors[0].first_setting);
        check(rec.errors[0].message_is_plain_in_c_words,
              "  message is plain_message with \" (sse_config_set_retry_non_get)\" inserted at the remedy's at");
        check(strcmp(rec.seq, "xX") == 0, "then state CLOSED (got \"%s\")", rec.seq);
        pthread_mutex_unlock(&rec.mu);
        check(server_conns(&srv) == 1, "the POST was sent once (got %d)", server_conns(&srv));
        check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "ready_state is CLOSED");
        check_result(sse_client_restart(client), SSE_ERROR_CLOSED, "sse_client_restart on a client that gave up");
        sleep_ms(50);
        check(server_conns(&srv) == 1, "  and nothing reconnects (got %d connections)", server_conns(&srv));
    }
    sse_client_free(client);

out_server:
    server_stop(&srv);
    rec_destroy(&rec);
}

static void test_retry_non_get(void)
{
    run_post(0);
    run_post(1);
}

/* The new configuration functions with hostile input and NULL. */
static void test_hostile_new_setters(void)
{
    sse_config *c = NULL;

    section("hostile input: redirects, TLS, proxy, retry, hooks");
    if (sse_config_new("http://127.0.0.1:1/", &c) != SSE_OK) {
        check(0, "sse_config_new: %s", sse_last_error_message());
        return;
    }
    check_result(sse_config_set_queue_capacity(c, 0), SSE_ERROR_INVALID_ARGUMENT, "sse_config_set_queue_capacity(0)");
    check_result(sse_config_set_queue_capacity(c, (size_t)-1), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_queue_capacity(SIZE_MAX)");
    check_result(sse_config_set_max_event_size(c, (size_t)-1), SSE_OK, "sse_config_set_max_event_size(SIZE_MAX)");
    check_result(sse_config_set_reconnect_delay(c, 0, 0), SSE_OK, "sse_config_set_reconnect_delay(0, 0)");
    check_result(sse_config_set_reconnect_delay(c, UINT32_MAX, UINT32_MAX), SSE_OK,
                 "sse_config_set_reconnect_delay(UINT32_MAX, UINT32_MAX)");
    check_result(sse_config_set_connect_timeout(c, UINT32_MAX), SSE_OK, "sse_config_set_connect_timeout(UINT32_MAX)");
    check_result(sse_config_set_read_timeout(c, UINT32_MAX), SSE_OK, "sse_config_set_read_timeout(UINT32_MAX)");
    check_result(sse_config_set_max_redirects(c, UINT32_MAX), SSE_OK, "sse_config_set_max_redirects(UINT32_MAX)");
    check_result(sse_config_set_proxy(c, "ftp://x"), SSE_ERROR_INVALID_URL, "sse_config_set_proxy(\"ftp://x\")");
    check(sse_last_error_message()[0] != '\0', "  with a message (\"%s\")", sse_last_error_message());
    check_result(sse_config_set_proxy(c, "not a url"), SSE_ERROR_INVALID_URL, "sse_config_set_proxy(\"not a url\")");
    check_result(sse_config_set_proxy(c, "http://user:secret@127.0.0.1:3128/some/path"), SSE_ERROR_INVALID_URL,
                 "sse_config_set_proxy(URL with a path)");
    check(strstr(sse_last_error_message(), "secret") == NULL, "  and the message does not repeat the password (\"%s\")",
          sse_last_error_message());
    check_result(sse_config_set_proxy(c, "http://127.0.0.1:3128"), SSE_OK, "sse_config_set_proxy(\"http://127.0.0.1:3128\")");
    check_result(sse_config_set_proxy(c, "socks5://127.0.0.1:1080"), SSE_OK, "sse_config_set_proxy(\"socks5://127.0.0.1:1080\")");
    check_result(sse_config_set_proxy(c, ""), SSE_OK, "sse_config_set_proxy(\"\") removes it");
    check_result(sse_config_set_proxy(c, NULL), SSE_OK, "sse_config_set_proxy(c, NULL) removes it");
    check_result(sse_config_set_proxy(NULL, "http://127.0.0.1:3128"), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_proxy(NULL, url)");
    check_result(sse_config_set_proxy_from_env(NULL, false), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_proxy_from_env(NULL, false)");
    check_result(sse_config_set_proxy_from_env(c, false), SSE_OK, "sse_config_set_proxy_from_env(c, false)");

    check_result(sse_config_set_ca_file(c, "/nonexistent/sse_client/ca.pem"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_ca_file(missing path)");
    check(sse_last_error_message()[0] != '\0', "  with a message (\"%s\")", sse_last_error_message());
    check_result(sse_config_set_ca_file(c, "/dev/null"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_ca_file(\"/dev/null\"): no certificate");
    check_result(sse_config_set_ca_file(c, NULL), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_ca_file(c, NULL)");
    check_result(sse_config_set_ca_file(NULL, "/dev/null"), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_ca_file(NULL, path)");
    check_result(sse_config_set_client_cert(c, "/nonexistent/cert.pem", "/nonexistent/key.pem"), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_client_cert(missing paths)");
    check_result(sse_config_set_client_cert(c, NULL, "/dev/null"), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_client_cert(c, NULL, key)");
    check_result(sse_config_set_client_cert(c, "/dev/null", NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_client_cert(c, cert, NULL)");
    check_result(sse_config_set_client_cert(NULL, "/dev/null", "/dev/null"), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_client_cert(NULL, ...)");
    check_result(sse_config_set_trust_roots(NULL, SSE_TRUST_SYSTEM), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_trust_roots(NULL, SSE_TRUST_SYSTEM)");
    check_result(sse_config_set_trust_roots(c, SSE_TRUST_SYSTEM), SSE_OK, "sse_config_set_trust_roots(c, SSE_TRUST_SYSTEM)");
    check_result(sse_config_set_trust_roots(c, SSE_TRUST_BUNDLED), SSE_OK, "sse_config_set_trust_roots(c, SSE_TRUST_BUNDLED)");

    check_result(sse_config_set_retry_non_get(NULL, true), SSE_ERROR_NULL_ARGUMENT, "sse_config_set_retry_non_get(NULL, true)");
    check_result(sse_config_set_retry_non_get(c, false), SSE_OK, "sse_config_set_retry_non_get(c, false)");
    check_result(sse_config_set_max_redirects(c, 3), SSE_OK, "sse_config_set_max_redirects(c, 3)");
    check_result(sse_config_set_request_hook(NULL, NULL, NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_request_hook(NULL, NULL, NULL)");
    check_result(sse_config_set_response_hook(NULL, NULL, NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_response_hook(NULL, NULL, NULL)");
    check_result(sse_config_set_request_hook(c, on_request, NULL), SSE_OK, "sse_config_set_request_hook(c, hook, NULL)");
    check_result(sse_config_set_request_hook(c, NULL, NULL), SSE_OK, "sse_config_set_request_hook(c, NULL) removes it");
    check_result(sse_config_set_response_hook(c, on_response, NULL), SSE_OK, "sse_config_set_response_hook(c, hook, NULL)");
    check_result(sse_config_set_response_hook(c, NULL, NULL), SSE_OK, "sse_config_set_response_hook(c, NULL) removes it");
    sse_config_free(c);
}

/* ------------------------------------------------------------------------------------ */
/* Values out of range: enums and bools a C caller can pass whatever the header says     */
/* ------------------------------------------------------------------------------------ */

static pthread_mutex_t g_range_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_range_log_warnings_naming;  /* WARN records naming max_level and the value */
static int g_range_log_too_verbose;      /* INFO, DEBUG or TRACE records */
static int g_range_log_records;
static const char *g_range_log_value;    /* the value the warning must name */

static void range_log_cb(void *userdata, sse_log_level level, const char *message)
{
    (void)userdata;
    pthread_mutex_lock(&g_range_log_mu);
    g_range_log_records++;
    if (level == SSE_LOG_WARN && message != NULL && strstr(message, "max_level") != NULL &&
        strstr(message, g_range_log_value) != NULL)
        g_range_log_warnings_naming++;
    if (level != SSE_LOG_ERROR && level != SSE_LOG_WARN) g_range_log_too_verbose++;
    pthread_mutex_unlock(&g_range_log_mu);
}

/* Drains a poll-mode client until it is closed for good; returns whether it got there. */
static int drain_until_closed(sse_client *client)
{
    long long deadline = now_ms() + g_wait_ms;
    while (now_ms() < deadline) {
        sse_message *m = NULL;
        sse_result r = sse_client_poll(client, 50, &m);
        if (r == SSE_OK) sse_message_free(m);
        if (r == SSE_ERROR_CLOSED) return 1;
    }
    return 0;
}

/* The bool setters called the way a caller whose declaration does not match the header
 * calls them (another language's FFI declaring the parameter as a byte, a stale
 * prototype): through a function pointer type taking uint8_t, with 2. A C99 bool never
 * holds 2, so only such a caller can pass it; the library must refuse it, not read it
 * as a Rust bool (undefined behaviour). */
typedef sse_result (*bool_setter_as_byte)(sse_config *config, uint8_t enabled);

static void check_bool_setter(sse_config *c, bool_setter_as_byte set, const char *name)
{
    check_result(set(c, 2), SSE_ERROR_INVALID_ARGUMENT, name);
    check(strstr(sse_last_error_message(), "enabled is 2") != NULL, "  the message names enabled and 2 (\"%s\")",
          sse_last_error_message());
    check_result(set(c, 0xff), SSE_ERROR_INVALID_ARGUMENT, "  and 0xff");
    check_result(set(c, 1), SSE_OK, "  1 through the same pointer is SSE_OK");
    check_result(set(c, 0), SSE_OK, "  0 through the same pointer is SSE_OK");
}

/* Installs range_log_cb with an out-of-range max_level: the callback must be installed at
 * SSE_LOG_WARN and have received one warning naming the value before the call returns. */
static void check_log_level_out_of_range(sse_log_level level, const char *value)
{
    int naming, records;

    pthread_mutex_lock(&g_range_log_mu);
    g_range_log_warnings_naming = g_range_log_records = g_range_log_too_verbose = 0;
    g_range_log_value = value;
    pthread_mutex_unlock(&g_range_log_mu);
    sse_set_log_callback(range_log_cb, NULL, level);
    pthread_mutex_lock(&g_range_log_mu);
    naming = g_range_log_warnings_naming;
    records = g_range_log_records;
    pthread_mutex_unlock(&g_range_log_mu);
    check(naming == 1 && records == 1,
          "sse_set_log_callback(cb, ud, (sse_log_level)%s): one WARN record naming max_level and %s, "
          "through the callback, before it returns (%d naming, %d records)",
          value, value, naming, records);
}

static void test_out_of_range_values(void)
{
    sse_config *c = NULL;
    sse_client *client = NULL;
    sse_result r;
    uint64_t count, untouched;
    unsigned char buf[sizeof(sse_stats) + 64];
    sse_stats st;
    size_t i;
    int k, canary_ok, closed, too_verbose, records;

    section("out-of-range enums and bools");
    check(strcmp(sse_result_name((sse_result)77), "SSE_UNKNOWN") == 0, "sse_result_name((sse_result)77) is \"SSE_UNKNOWN\" (got \"%s\")",
          sse_result_name((sse_result)77));
    check(strcmp(sse_result_name((sse_result)-1), "SSE_UNKNOWN") == 0, "sse_result_name((sse_result)-1) is \"SSE_UNKNOWN\" (got \"%s\")",
          sse_result_name((sse_result)-1));
    check(strcmp(sse_result_name((sse_result)(SSE_ERROR_RESOURCE + 1)), "SSE_UNKNOWN") == 0,
          "sse_result_name(SSE_ERROR_RESOURCE + 1) is \"SSE_UNKNOWN\"");

    if (sse_config_new("http://127.0.0.1:1/", &c) != SSE_OK) {
        check(0, "sse_config_new: %s", sse_last_error_message());
        return;
    }
    check_result(sse_config_set_trust_roots(c, (sse_trust_roots)77), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_trust_roots(c, (sse_trust_roots)77)");
    check(strstr(sse_last_error_message(), "roots is 77") != NULL && strstr(sse_last_error_message(), "0 to 1") != NULL,
          "  the message names roots, 77 and the valid range (\"%s\")", sse_last_error_message());
    check_result(sse_config_set_trust_roots(c, (sse_trust_roots)-1), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_config_set_trust_roots(c, (sse_trust_roots)-1)");
    check_result(sse_config_set_trust_roots(c, SSE_TRUST_SYSTEM), SSE_OK, "sse_config_set_trust_roots(c, SSE_TRUST_SYSTEM)");
    check_result(sse_config_set_trust_roots(c, SSE_TRUST_BUNDLED), SSE_OK, "sse_config_set_trust_roots(c, SSE_TRUST_BUNDLED)");

    /* Through void (*)(void): the one cast -Wcast-function-type accepts. */
    check_bool_setter(c, (bool_setter_as_byte)(void (*)(void))sse_config_set_proxy_from_env,
                      "sse_config_set_proxy_from_env(c, 2) through a uint8_t function pointer");
    check_bool_setter(c, (bool_setter_as_byte)(void (*)(void))sse_config_set_retry_non_get,
                      "sse_config_set_retry_non_get(c, 2) through a uint8_t function pointer");

    /* A client whose every attempt is refused, max_retries 2: the first attempt and two retries,
       3 CONNECT errors, then CLOSED. */
    check_result(sse_config_set_proxy_from_env(c, false), SSE_OK, "sse_config_set_proxy_from_env(c, false)");
    check_result(sse_config_set_reconnect_delay(c, 10, 20), SSE_OK, "sse_config_set_reconnect_delay(c, 10, 20)");
    check_result(sse_config_set_max_retries(c, 2), SSE_OK, "sse_config_set_max_retries(c, 2)");

    check_log_level_out_of_range((sse_log_level)77, "77");
    r = sse_client_open(c, NULL, &client);
    check_result(r, SSE_OK, "sse_client_open(poll mode, a refused port)");
    if (r != SSE_OK) goto out_config;
    closed = drain_until_closed(client);
    check(closed, "the client gives up after 3 refused attempts");

    /* sse_client_stats writes sizeof(sse_stats) bytes, no more; the slots are per kind. */
    check(sizeof(sse_stats) == 112 && SSE_STATS_ERROR_SLOTS == 7, "sizeof(sse_stats) == 112, SSE_STATS_ERROR_SLOTS == 7 (got %lu, %d)",
          (unsigned long)sizeof(sse_stats), (int)SSE_STATS_ERROR_SLOTS);
    memset(buf, 0xa5, sizeof buf);
    check_result(sse_client_stats(client, (sse_stats *)(void *)buf), SSE_OK, "sse_client_stats into a larger buffer");
    canary_ok = 1;
    for (i = sizeof(sse_stats); i < sizeof buf; i++) {
        if (buf[i] != 0xa5) canary_ok = 0;
    }
    check(canary_ok, "  the bytes after sizeof(sse_stats) are untouched");
    memcpy(&st, buf, sizeof st);
    check(st.connection_attempts == 3 && st.errors[SSE_ERROR_KIND_CONNECT] == 3,
          "  3 attempts, errors[SSE_ERROR_KIND_CONNECT] == 3 (got %lu, %lu)", (unsigned long)st.connection_attempts,
          (unsigned long)st.errors[SSE_ERROR_KIND_CONNECT]);
    for (k = 0; k < SSE_STATS_ERROR_SLOTS; k++) {
        if (k == SSE_ERROR_KIND_CONNECT) continue;
        check(st.errors[k] == 0, "  errors[%d] == 0 (got %lu)", k, (unsigned long)st.errors[k]);
    }
    for (k = 0; k < SSE_STATS_ERROR_SLOTS; k++) {
        count = 12345;
        r = sse_client_error_count(client, (sse_error_kind)k, &count);
        check(r == SSE_OK && count == st.errors[k], "sse_client_error_count(client, %d) == stats.errors[%d] == %lu (got %s, %lu)",
              k, k, (unsigned long)st.errors[k], sse_result_name(r), (unsigned long)count);
    }

    untouched = 12345;
    check_result(sse_client_error_count(client, (sse_error_kind)99, &untouched), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_client_error_count(client, (sse_error_kind)99)");
    check(strstr(sse_last_error_message(), "kind is 99") != NULL && strstr(sse_last_error_message(), "0 to 6") != NULL,
          "  the message names kind, 99 and the valid range (\"%s\")", sse_last_error_message());
    check(untouched == 12345, "  and *out is not written");
    check_result(sse_client_error_count(client, (sse_error_kind)-1, &untouched), SSE_ERROR_INVALID_ARGUMENT,
                 "sse_client_error_count(client, (sse_error_kind)-1)");
    check_result(sse_client_error_count(NULL, SSE_ERROR_KIND_CONNECT, &untouched), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_error_count(NULL, CONNECT, &n)");
    check_result(sse_client_error_count(client, SSE_ERROR_KIND_CONNECT, NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_error_count(client, CONNECT, NULL)");
    check(untouched == 12345, "  *out never written on failure");

    sse_client_free(client);
    /* The worker is joined: every record it logged has been delivered. The attempts log
     * their errors (ERROR, WARN); at a level above WARN the callback would also have had
     * INFO and DEBUG records ("gave up on ..."). */
    pthread_mutex_lock(&g_range_log_mu);
    too_verbose = g_range_log_too_verbose;
    records = g_range_log_records;
    pthread_mutex_unlock(&g_range_log_mu);
    check(records >= 3 && too_verbose == 0,
          "the callback stayed installed at SSE_LOG_WARN: the warning and the attempts' errors came, "
          "nothing below WARN (%d records, %d below WARN)", records, too_verbose);
    check_log_level_out_of_range((sse_log_level)0, "0");
out_config:
    sse_set_log_callback(NULL, NULL, SSE_LOG_WARN);
    sse_config_free(c);
}

int main(void)
{
    static int log_tag = 42;
    int records, after_off;

    portable_init();
    g_wait_ms *= timeout_scale();
    printf("sse_client C API test (library %s, waits up to %ld ms)\n", sse_version(), g_wait_ms);

    test_basics();
    test_hostile_input();

    section("log callback");
    sse_set_log_callback(log_cb, &log_tag, SSE_LOG_DEBUG);
    test_poll_mode();
    test_poll_batch();
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
    test_hostile_new_setters();
    test_request_hook();
    test_response_hook();
    test_restart_and_stats();
    test_failed_attempts();
    test_retry_non_get();
    test_out_of_range_values();

    section("log callback off");
    check(log_records() == after_off, "no record after sse_set_log_callback(NULL) (%d more)", log_records() - after_off);

    return checks_report();
}
