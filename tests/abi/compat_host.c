/*
 * A host written against a frozen release header: the ABI compatibility test.
 *
 * The same source is compiled against each frozen header of tests/abi (sse_client-X.Y.Z.h,
 * copied to a directory as sse_client.h and found through -I) and run against the freshly
 * built library. It uses only what the 0.1.0 header declares, the way a program built
 * against 0.1.0 and never rebuilt would, so a library that breaks such a program fails
 * here: a moved struct field, a renumbered enum value, a changed meaning. Where a later
 * header adds something worth exercising, it is guarded by what that header defines
 * (SSE_STATS_ERROR_SLOTS for 1.0's sse_client_error_count).
 *
 *   compat_host http://127.0.0.1:PORT
 *
 * The server is the repository's demo server (examples/demo_server.rs, started by
 * tests/abi/run.sh with --drop-every 0): GET /events answers a stream that starts with
 * "retry: 2000" and the comment "welcome to the sse_client demo server", then events with
 * ids 1, 2, 3...: "tick" with data {"n":N,"time":...}, every 5th "news" with two data lines,
 * every 7th without a type ("message"), a ": heartbeat" comment every 3 events. Any other
 * path answers 404. A refused connection is a loopback port bound but not listening.
 *
 * One line per check, then "N passed, M failed"; exit status 1 if M > 0. Every wait is
 * bounded (5 s, times SSE_TEST_TIMEOUT_SCALE when set, e.g. under valgrind).
 */

/* Checks, time, sockets: tests/c/common.h, which includes no sse_client.h of its own, so
 * that the only one this host sees is the frozen header found through -I. */
#include "../c/common.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_client.h"

/* ------------------------------------------------------------------------------------ */
/* Checks and strings                                                                   */
/* ------------------------------------------------------------------------------------ */

static long g_wait_ms = 5000;

static void check_result(sse_result got, sse_result want, const char *what)
{
    check(got == want, "%s -> %s (want %s)", what, sse_result_name(got), sse_result_name(want));
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* What the demo server sends (examples/demo_server.rs::event_text)                     */
/* ------------------------------------------------------------------------------------ */

#define WELCOME "welcome to the sse_client demo server"
#define TEXT_MAX 256

typedef struct {
    char type[32];
    char data[TEXT_MAX];
    size_t data_len;
    char id[32];
    int nul_terminated;
} seen_event_t;

static void copy_event(seen_event_t *e, const sse_event *ev)
{
    copy_bytes(e->type, sizeof e->type, ev->type, ev->type_len);
    copy_bytes(e->data, sizeof e->data, ev->data, ev->data_len);
    e->data_len = ev->data_len;
    copy_bytes(e->id, sizeof e->id, ev->id, ev->id_len);
    e->nul_terminated = nul_at(ev->type, ev->type_len) && nul_at(ev->data, ev->data_len) &&
                        nul_at(ev->id, ev->id_len);
}

/* Whether event number n (1-based, the n-th of a fresh connection) is what the demo
 * server sends as event n: its id, type and data. */
static int event_is_demo_event(const seen_event_t *e, int n, char *why, size_t why_cap)
{
    char want[TEXT_MAX];
    snprintf(want, sizeof want, "%d", n);
    if (strcmp(e->id, want) != 0) {
        snprintf(why, why_cap, "id \"%s\", want \"%s\"", e->id, want);
        return 0;
    }
    if (n % 7 == 0) {
        snprintf(want, sizeof want, "plain message #%d, without an event type", n);
        if (strcmp(e->type, "message") != 0 || strcmp(e->data, want) != 0) {
            snprintf(why, why_cap, "type \"%s\" data \"%s\", want \"message\" \"%s\"", e->type,
                     e->data, want);
            return 0;
        }
    } else if (n % 5 == 0) {
        snprintf(want, sizeof want,
                 "Headline #%d: demo server still streaming\nsecond line of news #%d", n, n);
        if (strcmp(e->type, "news") != 0 || strcmp(e->data, want) != 0) {
            snprintf(why, why_cap, "type \"%s\" data \"%s\", want \"news\" \"%s\"", e->type,
                     e->data, want);
            return 0;
        }
    } else {
        snprintf(want, sizeof want, "{\"n\":%d,\"time\":\"", n);
        if (strcmp(e->type, "tick") != 0 || !starts_with(e->data, want)) {
            snprintf(why, why_cap, "type \"%s\" data \"%s\", want \"tick\" \"%s...\"", e->type,
                     e->data, want);
            return 0;
        }
    }
    if (e->data_len != strlen(e->data) || !e->nul_terminated) {
        snprintf(why, why_cap, "data_len %zu for \"%s\", or a string not NUL-terminated",
                 e->data_len, e->data);
        return 0;
    }
    return 1;
}

/* Checks events[0..n) are the demo server's events 1..n, in order. */
static void check_demo_events(const seen_event_t *events, int n, const char *mode)
{
    char why[4 * TEXT_MAX] = "";
    int i;
    for (i = 0; i < n; i++) {
        if (!event_is_demo_event(&events[i], i + 1, why, sizeof why)) break;
    }
    check(i == n, "%s: events 1..%d arrive in order with their id, type and data%s%s", mode, n,
          i == n ? "" : ": ", i == n ? "" : why);
}

/* ------------------------------------------------------------------------------------ */
/* Layouts the host relies on: frozen at 0.1.0                                          */
/* ------------------------------------------------------------------------------------ */

/* The header this host was compiled with must describe the 0.1.0 layouts of the structs
 * a host reads or fills (later headers may only add trailing fields to the views). */
static void test_layouts(void)
{
    section("layouts of the header this host was compiled with");
    check(sizeof(sse_stats) == 112, "sizeof(sse_stats) == 112 (got %zu)", sizeof(sse_stats));
    check(offsetof(sse_stats, errors) == 40 && offsetof(sse_stats, reconnect_delay_ms) == 96 &&
              offsetof(sse_stats, time_connected_ms) == 104,
          "sse_stats: errors at 40, reconnect_delay_ms at 96, time_connected_ms at 104");
    check(sizeof(sse_callbacks) == 48 && offsetof(sse_callbacks, on_open) == 8 &&
              offsetof(sse_callbacks, on_event) == 16 && offsetof(sse_callbacks, on_comment) == 24 &&
              offsetof(sse_callbacks, on_error) == 32 && offsetof(sse_callbacks, on_state) == 40,
          "sse_callbacks: 48 bytes, userdata then on_open..on_state every 8 bytes (got %zu)",
          sizeof(sse_callbacks));
    check(offsetof(sse_event, type_len) == 8 && offsetof(sse_event, data) == 16 &&
              offsetof(sse_event, data_len) == 24 && offsetof(sse_event, id) == 32 &&
              offsetof(sse_event, id_len) == 40,
          "sse_event: type, type_len, data, data_len, id, id_len at 0, 8, ..., 40");
    check(offsetof(sse_error, http_status) == 4 && offsetof(sse_error, message) == 8 &&
              offsetof(sse_error, will_retry) == 16 && offsetof(sse_error, retry_delay_ms) == 20 &&
              offsetof(sse_error, failed_attempts) == 24,
          "sse_error: kind 0, http_status 4, message 8, will_retry 16, retry_delay_ms 20, "
          "failed_attempts 24");
    check(SSE_OK == 0 && SSE_ERROR_NULL_ARGUMENT == 1 && SSE_ERROR_INVALID_ARGUMENT == 2 &&
              SSE_ERROR_INVALID_URL == 3 && SSE_ERROR_TIMEOUT == 4 && SSE_ERROR_CLOSED == 5 &&
              SSE_ERROR_WRONG_MODE == 6 && SSE_ERROR_PANIC == 7 && SSE_ERROR_RESOURCE == 8,
          "sse_result values 0..8");
    check(SSE_ERROR_KIND_CONNECT == 0 && SSE_ERROR_KIND_HTTP_STATUS == 1 &&
              SSE_ERROR_KIND_CONTENT_TYPE == 2 && SSE_ERROR_KIND_STREAM_ENDED == 3 &&
              SSE_ERROR_KIND_IO == 4 && SSE_ERROR_KIND_READ_TIMEOUT == 5 &&
              SSE_ERROR_KIND_EVENT_TOO_LARGE == 6,
          "sse_error_kind values 0..6");
    check(SSE_MESSAGE_OPEN == 0 && SSE_MESSAGE_EVENT == 1 && SSE_MESSAGE_COMMENT == 2 &&
              SSE_MESSAGE_ERROR == 3 && SSE_MESSAGE_STATE == 4,
          "sse_message_kind values 0..4");
    check(SSE_STATE_CONNECTING == 0 && SSE_STATE_OPEN == 1 && SSE_STATE_CLOSED == 2 &&
              SSE_LOG_ERROR == 1 && SSE_LOG_TRACE == 5 && SSE_TRUST_BUNDLED == 0 &&
              SSE_TRUST_SYSTEM == 1,
          "sse_ready_state, sse_log_level and sse_trust_roots values");
}

/* ------------------------------------------------------------------------------------ */
/* Version, result names, NULL arguments                                                */
/* ------------------------------------------------------------------------------------ */

static void test_basics(void)
{
    const char *version = sse_version();
    unsigned major = 99, minor = 0, patch = 0;
    char extra = 0;
    section("version and result names");
    printf("library version: %s\n", version != NULL ? version : "(NULL)");
    check(version != NULL && sscanf(version, "%u.%u.%u%c", &major, &minor, &patch, &extra) == 3,
          "sse_version() is MAJOR.MINOR.PATCH (\"%s\")", version != NULL ? version : "(NULL)");
    check(major == 0 || major == 1, "sse_version() major is 0 or 1 (got %u)", major);

    check(strcmp(sse_result_name(SSE_OK), "SSE_OK") == 0, "sse_result_name(SSE_OK)");
    check(strcmp(sse_result_name(SSE_ERROR_NULL_ARGUMENT), "SSE_ERROR_NULL_ARGUMENT") == 0,
          "sse_result_name(SSE_ERROR_NULL_ARGUMENT)");
    check(strcmp(sse_result_name(SSE_ERROR_INVALID_URL), "SSE_ERROR_INVALID_URL") == 0,
          "sse_result_name(SSE_ERROR_INVALID_URL)");
    check(strcmp(sse_result_name(SSE_ERROR_WRONG_MODE), "SSE_ERROR_WRONG_MODE") == 0,
          "sse_result_name(SSE_ERROR_WRONG_MODE)");
    check(strcmp(sse_result_name(SSE_ERROR_RESOURCE), "SSE_ERROR_RESOURCE") == 0,
          "sse_result_name(SSE_ERROR_RESOURCE), the last 0.1.0 value");
    check(sse_last_error_message() != NULL, "sse_last_error_message() is never NULL");
#ifdef SSE_STATS_ERROR_SLOTS
    /* From 1.0 the library validates enums coming in (a 0.1.0 library must not be given
     * an unknown value: there it is undefined behaviour). */
    check(strcmp(sse_result_name((sse_result)1000), "SSE_UNKNOWN") == 0,
          "sse_result_name(1000) == \"SSE_UNKNOWN\" (\"%s\")", sse_result_name((sse_result)1000));
#endif
}

static void test_null_arguments(const char *base_url)
{
    sse_config *cfg = NULL;
    sse_client *client = NULL;
    sse_message *msg = NULL;
    sse_batch *batch = NULL;
    sse_stats stats;
    char buf[8] = "x";
    char url[128];
    size_t len = 77;
    section("NULL arguments and bad input");

    check_result(sse_config_new(NULL, &cfg), SSE_ERROR_NULL_ARGUMENT, "sse_config_new(NULL, &out)");
    check(cfg == NULL, "  *out not written on failure");
    check_result(sse_config_new("http://127.0.0.1:1/", NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_new(url, NULL)");
    check_result(sse_config_new("ftp://127.0.0.1/", &cfg), SSE_ERROR_INVALID_URL,
                 "sse_config_new(\"ftp://...\")");
    check(sse_last_error_message()[0] != '\0', "  with a message: \"%s\"", sse_last_error_message());
    check_result(sse_client_open(NULL, NULL, &client), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_open(NULL config)");
    check(client == NULL, "  *out not written on failure");
    check_result(sse_config_set_header(NULL, "X-A", "b"), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_header(NULL config)");
    check_result(sse_config_set_reconnect_delay(NULL, 10, 100), SSE_ERROR_NULL_ARGUMENT,
                 "sse_config_set_reconnect_delay(NULL config)");
    check_result(sse_client_poll(NULL, 0, &msg), SSE_ERROR_NULL_ARGUMENT, "sse_client_poll(NULL)");
    check_result(sse_client_poll_batch(NULL, 0, &batch), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_poll_batch(NULL)");
    check_result(sse_client_stats(NULL, &stats), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_stats(NULL client)");
    check_result(sse_client_restart(NULL), SSE_ERROR_NULL_ARGUMENT, "sse_client_restart(NULL)");
    check(sse_client_last_event_id(NULL, buf, sizeof buf) == 0, "sse_client_last_event_id(NULL) == 0");
    check(sse_client_ready_state(NULL) == SSE_STATE_CLOSED, "sse_client_ready_state(NULL) == CLOSED");
    check(sse_client_wakeup_fd(NULL) == -1, "sse_client_wakeup_fd(NULL) == -1");
    check(sse_message_kind_of(NULL) == SSE_MESSAGE_STATE && sse_message_state(NULL) == SSE_STATE_CLOSED,
          "sse_message_kind_of(NULL) == STATE, sse_message_state(NULL) == CLOSED");
    check(sse_message_event(NULL) == NULL && sse_message_error(NULL) == NULL &&
              sse_message_http_status(NULL) == 0,
          "the other message accessors answer NULL / 0 for NULL");
    check(sse_message_comment(NULL, &len) == NULL && len == 0,
          "sse_message_comment(NULL, &len) == NULL with len 0");
    check(sse_batch_len(NULL) == 0 && sse_batch_get(NULL, 0) == NULL,
          "sse_batch_len(NULL) == 0, sse_batch_get(NULL, 0) == NULL");
    /* The frees and close of NULL are no-ops: surviving them is the check. */
    sse_message_free(NULL);
    sse_batch_free(NULL);
    sse_client_close(NULL);
    sse_client_free(NULL);
    sse_config_free(NULL);
    check(1, "sse_message_free, sse_batch_free, sse_client_close, sse_client_free, "
             "sse_config_free of NULL return");

    /* NULL out-pointers on a live client. */
    snprintf(url, sizeof url, "%s/events", base_url);
    if (sse_config_new(url, &cfg) != SSE_OK) {
        check(0, "sse_config_new(%s): %s", url, sse_last_error_message());
        return;
    }
    check_result(sse_client_open(cfg, NULL, NULL), SSE_ERROR_NULL_ARGUMENT,
                 "sse_client_open(config, NULL, NULL out)");
    if (sse_client_open(cfg, NULL, &client) == SSE_OK) {
        check_result(sse_client_poll(client, 0, NULL), SSE_ERROR_NULL_ARGUMENT,
                     "sse_client_poll(client, 0, NULL out)");
        check_result(sse_client_poll_batch(client, 0, NULL), SSE_ERROR_NULL_ARGUMENT,
                     "sse_client_poll_batch(client, 0, NULL out)");
        check_result(sse_client_stats(client, NULL), SSE_ERROR_NULL_ARGUMENT,
                     "sse_client_stats(client, NULL out)");
        /* The worker may already have an event (and its ID) by now: only the length. */
        check(sse_client_last_event_id(client, NULL, 0) < 64,
              "sse_client_last_event_id(client, NULL, 0) answers the length of a short ID");
#ifdef SSE_STATS_ERROR_SLOTS
        {
            uint64_t n = 42;
            check_result(sse_client_error_count(NULL, SSE_ERROR_KIND_CONNECT, &n),
                         SSE_ERROR_NULL_ARGUMENT, "sse_client_error_count(NULL client)");
            check_result(sse_client_error_count(client, SSE_ERROR_KIND_CONNECT, NULL),
                         SSE_ERROR_NULL_ARGUMENT, "sse_client_error_count(client, kind, NULL out)");
            check(n == 42, "  *out not written on failure");
        }
#endif
        sse_client_free(client);
    } else {
        check(0, "sse_client_open(poll mode): %s", sse_last_error_message());
    }
    sse_config_free(cfg);
}

/* ------------------------------------------------------------------------------------ */
/* Stats: the library writes exactly sizeof(sse_stats) of the header the host knows     */
/* ------------------------------------------------------------------------------------ */

#define CANARY 0xA5
#define STATS_SLACK 64

typedef union {
    sse_stats stats;
    uint64_t align;
    unsigned char bytes[sizeof(sse_stats) + STATS_SLACK];
} stats_buffer_t;

/* Takes the stats into a buffer larger than sse_stats prefilled with a canary, checks
 * nothing past sizeof(sse_stats) was written, and returns them in *out. */
static int take_stats(sse_client *client, sse_stats *out, const char *mode)
{
    stats_buffer_t buf;
    size_t i, overwritten = 0;
    sse_result r;
    memset(buf.bytes, CANARY, sizeof buf.bytes);
    r = sse_client_stats(client, &buf.stats);
    check_result(r, SSE_OK, "sse_client_stats");
    for (i = sizeof(sse_stats); i < sizeof buf.bytes; i++) {
        if (buf.bytes[i] != CANARY) overwritten++;
    }
    check(overwritten == 0, "%s: sse_client_stats wrote nothing past sizeof(sse_stats) = %zu "
          "(%zu of the %d bytes after it changed)", mode, sizeof(sse_stats), overwritten, STATS_SLACK);
    *out = buf.stats;
    return r == SSE_OK;
}

static uint64_t error_total(const sse_stats *s)
{
    uint64_t total = 0;
    size_t k;
    for (k = 0; k < sizeof s->errors / sizeof s->errors[0]; k++) total += s->errors[k];
    return total;
}

/* The counters of a healthy stream that delivered `events` events and `comments` comments
 * to the host: at least that many counted, one connection, no error. */
static void check_healthy_stats(const sse_stats *s, int events, int comments, long long elapsed_ms,
                                const char *mode)
{
    check(s->connection_attempts >= 1 && s->connections_opened >= 1 &&
              s->connections_opened <= s->connection_attempts,
          "%s: 1 <= connections_opened (%llu) <= connection_attempts (%llu)", mode,
          (unsigned long long)s->connections_opened, (unsigned long long)s->connection_attempts);
    check(s->events >= (uint64_t)events, "%s: stats.events %llu >= %d events delivered", mode,
          (unsigned long long)s->events, events);
    check(s->comments >= (uint64_t)comments, "%s: stats.comments %llu >= %d comments delivered",
          mode, (unsigned long long)s->comments, comments);
    check(s->bytes_received >= (uint64_t)events * 20,
          "%s: stats.bytes_received %llu >= 20 per event (every event's text is longer)", mode,
          (unsigned long long)s->bytes_received);
    check(error_total(s) == 0, "%s: no error counted on a healthy stream (%llu)", mode,
          (unsigned long long)error_total(s));
    check(s->time_connected_ms <= (uint64_t)elapsed_ms + 1000,
          "%s: time_connected_ms %llu within the %lld ms the client lived", mode,
          (unsigned long long)s->time_connected_ms, elapsed_ms);
}

/* 1.0 adds sse_client_error_count: it must agree with the frozen errors[] slots. */
static void check_error_count_agrees(sse_client *client, const sse_stats *s, const char *mode)
{
#ifdef SSE_STATS_ERROR_SLOTS
    int k, agree = 1;
    for (k = 0; k < SSE_STATS_ERROR_SLOTS; k++) {
        uint64_t n = 0;
        sse_result r = sse_client_error_count(client, (sse_error_kind)k, &n);
        if (r != SSE_OK || n != s->errors[k]) {
            check(0, "%s: sse_client_error_count(kind %d) -> %s, %llu; stats.errors[%d] = %llu",
                  mode, k, sse_result_name(r), (unsigned long long)n, k,
                  (unsigned long long)s->errors[k]);
            agree = 0;
        }
    }
    if (agree) check(1, "%s: sse_client_error_count agrees with stats.errors[0..%d)", mode,
                     SSE_STATS_ERROR_SLOTS);
#else
    (void)client;
    (void)s;
    (void)mode;
#endif
}

/* ------------------------------------------------------------------------------------ */
/* Callback mode                                                                        */
/* ------------------------------------------------------------------------------------ */

#define MAX_SEEN 64

typedef struct {
    pthread_mutex_t mu;
    int opens;
    uint16_t open_status;
    seen_event_t events[MAX_SEEN];
    int nevents;
    char comments[8][TEXT_MAX];
    int ncomments;
    int comments_nul_ok;
    int nerrors;
    sse_error_kind error_kind;
    uint16_t error_status;
    int error_will_retry;
    int error_has_message;
    int unknown_values;          /* enum values the 0.1.0 header does not know */
    sse_ready_state states[16];
    int nstates;
} recorder_t;

static void on_open(void *userdata, uint16_t http_status)
{
    recorder_t *r = (recorder_t *)userdata;
    pthread_mutex_lock(&r->mu);
    r->opens++;
    r->open_status = http_status;
    pthread_mutex_unlock(&r->mu);
}

static void on_event(void *userdata, const sse_event *event)
{
    recorder_t *r = (recorder_t *)userdata;
    pthread_mutex_lock(&r->mu);
    if (r->nevents < MAX_SEEN && event != NULL) copy_event(&r->events[r->nevents], event);
    r->nevents++;
    pthread_mutex_unlock(&r->mu);
}

static void on_comment(void *userdata, const char *text, size_t len)
{
    recorder_t *r = (recorder_t *)userdata;
    pthread_mutex_lock(&r->mu);
    if (!nul_at(text, len)) r->comments_nul_ok = 0;
    if (r->ncomments < 8) copy_bytes(r->comments[r->ncomments], TEXT_MAX, text, len);
    r->ncomments++;
    pthread_mutex_unlock(&r->mu);
}

static void on_error(void *userdata, const sse_error *error)
{
    recorder_t *r = (recorder_t *)userdata;
    pthread_mutex_lock(&r->mu);
    if (r->nerrors == 0 && error != NULL) {
        r->error_kind = error->kind;
        r->error_status = error->http_status;
        r->error_will_retry = error->will_retry;
        r->error_has_message = error->message != NULL && error->message[0] != '\0';
        /* A host handles values its header does not name (the default: branch). */
        switch (error->kind) {
        case SSE_ERROR_KIND_CONNECT:
        case SSE_ERROR_KIND_HTTP_STATUS:
        case SSE_ERROR_KIND_CONTENT_TYPE:
        case SSE_ERROR_KIND_STREAM_ENDED:
        case SSE_ERROR_KIND_IO:
        case SSE_ERROR_KIND_READ_TIMEOUT:
        case SSE_ERROR_KIND_EVENT_TOO_LARGE:
            break;
        default:
            r->unknown_values++;
            break;
        }
    }
    r->nerrors++;
    pthread_mutex_unlock(&r->mu);
}

static void on_state(void *userdata, sse_ready_state state)
{
    recorder_t *r = (recorder_t *)userdata;
    pthread_mutex_lock(&r->mu);
    if (r->nstates < 16) r->states[r->nstates] = state;
    r->nstates++;
    pthread_mutex_unlock(&r->mu);
}

static void recorder_init(recorder_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->comments_nul_ok = 1;
}

static sse_callbacks callbacks_for(recorder_t *r)
{
    sse_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.userdata = r;
    cb.on_open = on_open;
    cb.on_event = on_event;
    cb.on_comment = on_comment;
    cb.on_error = on_error;
    cb.on_state = on_state;
    return cb;
}

static int recorder_events(recorder_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->nevents;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int recorder_closed(recorder_t *r)
{
    int closed;
    pthread_mutex_lock(&r->mu);
    closed = r->nstates > 0 && r->nstates <= 16 && r->states[r->nstates - 1] == SSE_STATE_CLOSED;
    pthread_mutex_unlock(&r->mu);
    return closed;
}

static int wait_until(recorder_t *r, int (*reader)(recorder_t *), int want)
{
    long long deadline = now_ms() + g_wait_ms;
    while (reader(r) < want) {
        if (now_ms() > deadline) return 0;
        sleep_ms(5);
    }
    return 1;
}

static sse_config *config_for(const char *base_url, const char *path)
{
    char url[128];
    sse_config *cfg = NULL;
    sse_result r;
    snprintf(url, sizeof url, "%s%s", base_url, path);
    r = sse_config_new(url, &cfg);
    if (r != SSE_OK) {
        check(0, "sse_config_new(%s) -> %s: %s", url, sse_result_name(r), sse_last_error_message());
        return NULL;
    }
    return cfg;
}

#define STREAM_EVENTS 8 /* covers a tick, a news (5) and a message (7) */

static void test_callback_mode(const char *base_url)
{
    recorder_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_message *msg = NULL;
    sse_stats stats;
    char id[16];
    size_t id_len;
    int nevents, i, opened_state = 0;
    long long started;
    section("callback mode: on_open, on_event, on_comment, on_state");

    cfg = config_for(base_url, "/events");
    if (cfg == NULL) return;
    recorder_init(&rec);
    cb = callbacks_for(&rec);
    started = now_ms();
    check_result(sse_client_open(cfg, &cb, &client), SSE_OK, "sse_client_open(callbacks)");
    sse_config_free(cfg); /* the client keeps its own copy */
    if (client == NULL) return;

    check(wait_until(&rec, recorder_events, STREAM_EVENTS), "%d events within %ld ms",
          STREAM_EVENTS, g_wait_ms);
    check(sse_client_ready_state(client) == SSE_STATE_OPEN, "sse_client_ready_state == OPEN");
    check(sse_client_wakeup_fd(client) == -1, "sse_client_wakeup_fd in callback mode == -1");
    check_result(sse_client_poll(client, 0, &msg), SSE_ERROR_WRONG_MODE,
                 "sse_client_poll in callback mode");

    /* last_event_id like snprintf: read it while the stream runs, so take its length
     * first, then a copy, and check the truncation rule on the copy's value. */
    id_len = sse_client_last_event_id(client, id, sizeof id);
    check(id_len > 0 && id_len < sizeof id && strlen(id) == id_len && atoi(id) >= STREAM_EVENTS,
          "sse_client_last_event_id = \"%s\" (length %zu), at least the %d-th event's", id, id_len,
          STREAM_EVENTS);
    {
        char tiny[2] = "xy";
        size_t full = sse_client_last_event_id(client, tiny, sizeof tiny);
        check(full >= 1 && tiny[1] == '\0' && tiny[0] >= '1' && tiny[0] <= '9',
              "sse_client_last_event_id into 2 bytes: 1 digit and a NUL, returns the full "
              "length %zu", full);
    }

    take_stats(client, &stats, "callbacks");
    nevents = recorder_events(&rec);
    pthread_mutex_lock(&rec.mu);
    i = rec.ncomments;
    pthread_mutex_unlock(&rec.mu);
    check_healthy_stats(&stats, nevents < STREAM_EVENTS ? nevents : STREAM_EVENTS, i > 0 ? 1 : 0,
                        now_ms() - started, "callbacks");
    check_error_count_agrees(client, &stats, "callbacks");

    sse_client_close(client);
    check(sse_client_ready_state(client) == SSE_STATE_CLOSED, "after sse_client_close: CLOSED");
    nevents = recorder_events(&rec);
    sleep_ms(100);
    check(recorder_events(&rec) == nevents, "no callback after sse_client_close returned");

    pthread_mutex_lock(&rec.mu);
    check(rec.opens == 1 && rec.open_status == 200, "on_open once with 200 (%d, %u)", rec.opens,
          (unsigned)rec.open_status);
    for (i = 0; i < rec.nstates && i < 16; i++) {
        if (rec.states[i] == SSE_STATE_OPEN) opened_state = 1;
    }
    check(opened_state && rec.nerrors == 0,
          "on_state OPEN, no on_error (states %d, errors %d)", rec.nstates, rec.nerrors);
    check(rec.ncomments >= 1 && strcmp(rec.comments[0], WELCOME) == 0 && rec.comments_nul_ok,
          "on_comment: first \"%s\" (want \"" WELCOME "\"), NUL-terminated",
          rec.ncomments > 0 ? rec.comments[0] : "");
    check_demo_events(rec.events, STREAM_EVENTS, "callbacks");
    pthread_mutex_unlock(&rec.mu);

    take_stats(client, &stats, "callbacks after close");
    check(stats.events >= STREAM_EVENTS, "stats readable after close (events %llu)",
          (unsigned long long)stats.events);
    sse_client_free(client);
    pthread_mutex_destroy(&rec.mu);
}

/* A 404 is an HTTP_STATUS error with the status; the client then closes for good. */
static void test_http_status_error(const char *base_url)
{
    recorder_t rec;
    sse_callbacks cb;
    sse_config *cfg;
    sse_client *client = NULL;
    sse_stats stats;
    section("errors: a non-200 status (callback mode)");

    cfg = config_for(base_url, "/no-such-stream");
    if (cfg == NULL) return;
    recorder_init(&rec);
    cb = callbacks_for(&rec);
    check_result(sse_client_open(cfg, &cb, &client), SSE_OK, "sse_client_open(callbacks, 404 url)");
    sse_config_free(cfg);
    if (client == NULL) return;
    check(wait_until(&rec, recorder_closed, 1), "on_state CLOSED within %ld ms", g_wait_ms);

    pthread_mutex_lock(&rec.mu);
    check(rec.nerrors == 1 && rec.error_kind == SSE_ERROR_KIND_HTTP_STATUS && rec.error_status == 404,
          "one on_error: kind %d (want HTTP_STATUS = %d), http_status %u (want 404)",
          (int)rec.error_kind, (int)SSE_ERROR_KIND_HTTP_STATUS, (unsigned)rec.error_status);
    check(!rec.error_will_retry && rec.error_has_message,
          "  will_retry false, a message");
    check(rec.unknown_values == 0, "  no error kind unknown to this header");
    check(rec.opens == 0 && rec.nevents == 0, "  no on_open, no on_event");
    pthread_mutex_unlock(&rec.mu);

    take_stats(client, &stats, "404");
    check(stats.errors[SSE_ERROR_KIND_HTTP_STATUS] == 1 && error_total(&stats) == 1 &&
              stats.connections_opened == 0 && stats.connection_attempts == 1,
          "404: stats errors[HTTP_STATUS] 1 (%llu), 1 attempt (%llu), none opened (%llu)",
          (unsigned long long)stats.errors[SSE_ERROR_KIND_HTTP_STATUS],
          (unsigned long long)stats.connection_attempts,
          (unsigned long long)stats.connections_opened);
    check_error_count_agrees(client, &stats, "404");
    sse_client_free(client);
    pthread_mutex_destroy(&rec.mu);
}

/* ------------------------------------------------------------------------------------ */
/* Poll mode                                                                            */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    int opens;
    uint16_t open_status;
    int state_open;
    int ncomments;
    char first_comment[TEXT_MAX];
    size_t first_comment_len;
    int comment_len_ok;
    seen_event_t events[MAX_SEEN];
    int nevents;
    int nerrors;
    sse_error_kind error_kind;
    int error_will_retry;
    int unknown_kinds;
    int closed;
} drained_t;

/* Records one message (from sse_client_poll or a batch) through the accessors. */
static void record_message(drained_t *d, const sse_message *m)
{
    sse_message_kind kind = sse_message_kind_of(m);
    switch (kind) {
    case SSE_MESSAGE_OPEN:
        d->opens++;
        d->open_status = sse_message_http_status(m);
        break;
    case SSE_MESSAGE_EVENT: {
        const sse_event *ev = sse_message_event(m);
        if (ev != NULL && d->nevents < MAX_SEEN) copy_event(&d->events[d->nevents], ev);
        d->nevents++;
        break;
    }
    case SSE_MESSAGE_COMMENT: {
        size_t len = 0;
        const char *text = sse_message_comment(m, &len);
        if (text == NULL || strlen(text) != len) d->comment_len_ok = 0;
        if (d->ncomments == 0) {
            copy_bytes(d->first_comment, sizeof d->first_comment, text, len);
            d->first_comment_len = len;
        }
        d->ncomments++;
        break;
    }
    case SSE_MESSAGE_ERROR: {
        const sse_error *err = sse_message_error(m);
        if (err != NULL && d->nerrors == 0) {
            d->error_kind = err->kind;
            d->error_will_retry = err->will_retry;
        }
        d->nerrors++;
        break;
    }
    case SSE_MESSAGE_STATE:
        if (sse_message_state(m) == SSE_STATE_OPEN) d->state_open = 1;
        if (sse_message_state(m) == SSE_STATE_CLOSED) d->closed = 1;
        break;
    default:
        /* A later library may queue kinds this header does not name: skip them. */
        d->unknown_kinds++;
        break;
    }
    /* The accessors of the other kinds answer NULL / 0. */
    if (kind != SSE_MESSAGE_EVENT && sse_message_event(m) != NULL) d->unknown_kinds += 1000;
    if (kind != SSE_MESSAGE_ERROR && sse_message_error(m) != NULL) d->unknown_kinds += 1000;
}

static void test_poll_mode(const char *base_url)
{
    sse_config *cfg;
    sse_client *client = NULL;
    sse_message *msg = NULL;
    sse_stats stats;
    drained_t d;
    int fd, single = 0, batches = 0, batch_messages = 0, batch_bounds_ok = 1;
    long long started, deadline;
    sse_result r = SSE_OK;
    section("poll mode: wakeup fd, sse_client_poll, accessors, sse_client_poll_batch");

    memset(&d, 0, sizeof d);
    d.comment_len_ok = 1;
    cfg = config_for(base_url, "/events");
    if (cfg == NULL) return;
    started = now_ms();
    check_result(sse_client_open(cfg, NULL, &client), SSE_OK, "sse_client_open(poll mode)");
    sse_config_free(cfg);
    if (client == NULL) return;
    fd = sse_client_wakeup_fd(client);
    check(fd >= 0, "sse_client_wakeup_fd >= 0 (%d)", fd);

    /* Wait on the fd, then drain one message at a time until the queue is empty, until
     * the greeting comment and the first event have been seen. */
    deadline = now_ms() + g_wait_ms;
    while (fd >= 0 && d.nevents < 1 && now_ms() < deadline) {
        if (!socket_readable((socket_t)fd, (long)(deadline - now_ms()))) continue;
        while ((r = sse_client_poll(client, 0, &msg)) == SSE_OK) {
            record_message(&d, msg);
            sse_message_free(msg);
            msg = NULL;
            single++;
        }
        if (r != SSE_ERROR_TIMEOUT) break;
    }
    check(r == SSE_ERROR_TIMEOUT && d.nevents >= 1,
          "the wakeup fd fired; sse_client_poll(0) drained %d messages, then TIMEOUT (%s)", single,
          sse_result_name(r));

    /* Then whole batches, with a timeout instead of the fd, up to STREAM_EVENTS events
     * and at least one batch (the stream goes on: a slow host, e.g. under valgrind, may
     * have drained STREAM_EVENTS already). */
    deadline = now_ms() + g_wait_ms;
    while ((d.nevents < STREAM_EVENTS || batches == 0) && now_ms() < deadline) {
        sse_batch *batch = NULL;
        size_t n, i;
        r = sse_client_poll_batch(client, 500, &batch);
        if (r == SSE_ERROR_TIMEOUT) continue;
        if (r != SSE_OK) break;
        n = sse_batch_len(batch);
        if (n < 1 || sse_batch_get(batch, n) != NULL) batch_bounds_ok = 0;
        for (i = 0; i < n; i++) record_message(&d, sse_batch_get(batch, i));
        batches++;
        batch_messages += (int)n;
        sse_batch_free(batch);
    }
    check(d.nevents >= STREAM_EVENTS, "sse_client_poll_batch: %d batches of %d messages, %d events "
          "in all (want %d; last %s)", batches, batch_messages, d.nevents, STREAM_EVENTS,
          sse_result_name(r));
    check(batches >= 1 && batch_bounds_ok, "every batch: sse_batch_len >= 1, sse_batch_get(len) NULL");

    check(d.opens == 1 && d.open_status == 200 && d.state_open,
          "OPEN message with 200 and a STATE OPEN message (%d, %u, %d)", d.opens,
          (unsigned)d.open_status, d.state_open);
    check(d.ncomments >= 1 && strcmp(d.first_comment, WELCOME) == 0 &&
              d.first_comment_len == strlen(WELCOME) && d.comment_len_ok,
          "COMMENT message: \"%s\" with its length", d.first_comment);
    check(d.nerrors == 0 && d.unknown_kinds == 0 && !d.closed,
          "no ERROR, no CLOSED, no kind unknown to this header, accessors of other kinds NULL "
          "(%d, %d, %d)", d.nerrors, d.closed, d.unknown_kinds);
    check_demo_events(d.events, STREAM_EVENTS, "poll");

    take_stats(client, &stats, "poll");
    check_healthy_stats(&stats, STREAM_EVENTS, 1, now_ms() - started, "poll");
    check_error_count_agrees(client, &stats, "poll");

    sse_client_close(client);
    /* Messages queued before the close may still be taken, then CLOSED. */
    deadline = now_ms() + g_wait_ms;
    while ((r = sse_client_poll(client, 100, &msg)) == SSE_OK && now_ms() < deadline) {
        sse_message_free(msg);
        msg = NULL;
    }
    check(r == SSE_ERROR_CLOSED, "after sse_client_close, polling ends with CLOSED (%s)",
          sse_result_name(r));
    sse_client_free(client);
}

/* A refused connection is a CONNECT error; with max_retries 2 the client gives up after
 * three failed attempts: the first and two retries. (0.1.0 gave up after two: 1.0 made
 * max_retries count retries, as the contract says, the one change of meaning 1.0 made.) */
static void test_connect_error(void)
{
    unsigned short port = 0;
    char url[64];
    sse_config *cfg = NULL;
    sse_client *client = NULL;
    sse_message *msg = NULL;
    sse_stats stats;
    drained_t d;
    long long deadline;
    sse_result r = SSE_OK;
    socket_t sock;
    section("errors: a refused connection (poll mode)");

    /* A port bound but not listening refuses connections, and stays ours meanwhile. */
    sock = bind_loopback(&port);
    if (sock == NO_SOCKET) {
        check(0, "bind a loopback port");
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/events", (unsigned)port);
    if (sse_config_new(url, &cfg) != SSE_OK) {
        check(0, "sse_config_new(%s): %s", url, sse_last_error_message());
        close_socket(sock);
        return;
    }
    check_result(sse_config_set_reconnect_delay(cfg, 10, 20), SSE_OK,
                 "sse_config_set_reconnect_delay(10, 20)");
    check_result(sse_config_set_max_retries(cfg, 2), SSE_OK, "sse_config_set_max_retries(2)");
    check_result(sse_client_open(cfg, NULL, &client), SSE_OK, "sse_client_open(refused port)");
    sse_config_free(cfg);
    if (client == NULL) {
        close_socket(sock);
        return;
    }

    memset(&d, 0, sizeof d);
    deadline = now_ms() + g_wait_ms;
    while (now_ms() < deadline) {
        r = sse_client_poll(client, 200, &msg);
        if (r == SSE_ERROR_TIMEOUT) continue;
        if (r != SSE_OK) break;
        record_message(&d, msg);
        sse_message_free(msg);
        msg = NULL;
    }
    check(r == SSE_ERROR_CLOSED, "the client gives up: sse_client_poll ends with CLOSED (%s)",
          sse_result_name(r));
    check(d.nerrors == 3 && d.error_kind == SSE_ERROR_KIND_CONNECT && d.closed && d.opens == 0,
          "3 ERROR messages, the first of kind %d (want CONNECT = %d), then STATE CLOSED (%d, %d)",
          (int)d.error_kind, (int)SSE_ERROR_KIND_CONNECT, d.nerrors, d.closed);
    check(d.unknown_kinds == 0, "  no message kind unknown to this header");

    take_stats(client, &stats, "refused");
    check(stats.errors[SSE_ERROR_KIND_CONNECT] == 3 && error_total(&stats) == 3 &&
              stats.connection_attempts == 3 && stats.connections_opened == 0,
          "refused: stats errors[CONNECT] 3 (%llu), 3 attempts (%llu), none opened (%llu)",
          (unsigned long long)stats.errors[SSE_ERROR_KIND_CONNECT],
          (unsigned long long)stats.connection_attempts,
          (unsigned long long)stats.connections_opened);
    check_error_count_agrees(client, &stats, "refused");
    sse_client_free(client);
    close_socket(sock);
}

int main(int argc, char **argv)
{
    if (argc != 2 || !starts_with(argv[1], "http://")) {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT (the demo server)\n", argv[0]);
        return 2;
    }
    portable_init();
    g_wait_ms *= timeout_scale();

    test_layouts();
    test_basics();
    test_null_arguments(argv[1]);
    test_callback_mode(argv[1]);
    test_http_status_error(argv[1]);
    test_poll_mode(argv[1]);
    test_connect_error();

    printf("\n");
    return checks_report();
}
