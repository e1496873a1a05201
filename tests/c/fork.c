/*
 * fork() with live clients, in C99, against the built cdylib.
 *
 * After fork() only the calling thread exists in the child: a client inherited from the
 * parent has no worker thread there, and any lock that thread (or another thread of the
 * parent) held at the moment of the fork stays locked forever. The header promises that
 * every sse_client_* call on an inherited client returns at once, touches none of its
 * locks, threads or descriptors, and that freeing it releases nothing; the parent's
 * clients carry on as if nothing happened.
 *
 * The parent runs a loopback server that streams events as fast as a millisecond tick
 * allows, a callback-mode client (whose callback dawdles, so that the worker is often
 * inside it, holding the callback lock, when the fork comes) and a poll-mode client
 * drained by a poller thread (so that the queue's lock is often held, by the worker or by
 * the poller). Each round the parent takes a batch and a message, forks, and the child,
 * under alarm() so that a hang fails the round instead of the run:
 *
 *   - calls every client function on both inherited clients, wait-forever polls
 *     included: each must answer as documented (CLOSED, -1, 0) at once and never panic;
 *   - frees the batch and the message taken before the fork;
 *   - frees both inherited clients (free last), which must leave the parent's wakeup fd
 *     open in the child (free releases nothing);
 *   - opens a client of its own and receives an event with it;
 *   - _exit(0); any failed check exits with a code that names it.
 *
 * The parent checks that the child exited 0 and that both of its clients received more
 * events after the child was done, and, at the end, that each parent's client opened one
 * connection only (a child that shut down an inherited socket would have forced a
 * reconnect). The race is the point: SSE_FORK_ROUNDS rounds (default 300, under 3 s).
 * On the code before the fix, freeing an inherited client hung or panicked in every
 * round; freeing the batch hung in about 1 round of 200 (the queue's lock is held only
 * for moments), hence the count. Before the rounds, every open descriptor must be close-on-exec (the
 * test's own are made so), which is what makes exec() after fork() safe.
 *
 * Every wait is bounded (5 s, times SSE_TEST_TIMEOUT_SCALE when set); the child's alarm is
 * 10 s times the scale.
 *
 *   fork [ROUNDS]
 *
 * Output: one line per property ("PASS ..." or "FAIL ..."), the first few failing rounds
 * in detail, then "N passed, M failed"; exit status 1 if M > 0. Built and run by
 * tests/c/run.sh.
 */

#include "common.h" /* checks, time, the loopback server plumbing; portable.h */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sse_client.h"

/* ------------------------------------------------------------------------------------ */
/* Checks, time                                                                         */
/* ------------------------------------------------------------------------------------ */

static long g_scale = 1;
static long g_wait_ms = 5000;

static void set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* ------------------------------------------------------------------------------------ */
/* The streaming server: every connection gets the stream head, then events, forever    */
/* ------------------------------------------------------------------------------------ */

#define MAX_CONNS 64
#define EVENTS_PER_TICK 4

typedef struct {
    int fd;
    int streaming;      /* the request head was read and the response head sent */
    size_t got;         /* bytes of the request read so far */
    char req[2048];
    unsigned long next_id;
} conn_t;

typedef struct {
    loopback_t lb;
    conn_t conns[MAX_CONNS];
} server_t;

static void conn_drop(conn_t *c)
{
    close(c->fd);
    c->fd = -1;
}

/* Reads what the client sent; answers once the request head is complete. */
static void conn_read(conn_t *c)
{
    char scratch[512];
    for (;;) {
        char *into = c->streaming || c->got + 1 >= sizeof c->req ? scratch : c->req + c->got;
        size_t room = into == scratch ? sizeof scratch : sizeof c->req - 1 - c->got;
        ssize_t n = recv(c->fd, into, room, 0);
        if (n == 0 || (n < 0 && !socket_would_block() && !socket_interrupted())) {
            conn_drop(c);
            return;
        }
        if (n < 0) return;
        if (into != scratch) {
            c->got += (size_t)n;
            c->req[c->got] = '\0';
        }
        if (!c->streaming && strstr(c->req, "\r\n\r\n") != NULL) {
            /* Small enough for an empty socket buffer: sent whole or the client is gone. */
            if (send(c->fd, STREAM_HEAD, sizeof STREAM_HEAD - 1, MSG_NOSIGNAL) !=
                (ssize_t)(sizeof STREAM_HEAD - 1)) {
                conn_drop(c);
                return;
            }
            c->streaming = 1;
        }
    }
}

/* A few events; a full socket buffer skips this tick (the client is behind), no more. */
static void conn_stream(conn_t *c)
{
    int i;
    for (i = 0; i < EVENTS_PER_TICK; i++) {
        char event[64];
        int len = snprintf(event, sizeof event, "id: %lu\ndata: tick %lu\n\n", c->next_id, c->next_id);
        ssize_t n = send(c->fd, event, (size_t)len, MSG_NOSIGNAL);
        if (n < 0 && socket_would_block()) return;
        if (n != len) {
            /* Gone, or a partial event: the client would see a corrupt stream. */
            conn_drop(c);
            return;
        }
        c->next_id++;
    }
}

static void *server_main(void *arg)
{
    server_t *s = (server_t *)arg;
    while (!loopback_stopping(&s->lb)) {
        struct pollfd p[MAX_CONNS + 1];
        int i, n = 0, which[MAX_CONNS + 1];
        p[n].fd = s->lb.listen_fd;
        p[n].events = POLLIN;
        p[n].revents = 0;
        which[n++] = -1;
        for (i = 0; i < MAX_CONNS; i++) {
            if (s->conns[i].fd < 0) continue;
            p[n].fd = s->conns[i].fd;
            p[n].events = POLLIN;
            p[n].revents = 0;
            which[n++] = i;
        }
        poll(p, (nfds_t)n, 1);
        for (i = 0; i < n; i++) {
            if (which[i] < 0) {
                if (p[i].revents & POLLIN) {
                    int fd = accept(s->lb.listen_fd, NULL, NULL);
                    int slot;
                    if (fd < 0) continue;
                    set_cloexec(fd);
                    set_nonblocking(fd);
                    for (slot = 0; slot < MAX_CONNS && s->conns[slot].fd >= 0; slot++) {
                    }
                    if (slot == MAX_CONNS) {
                        close(fd);
                        continue;
                    }
                    memset(&s->conns[slot], 0, sizeof s->conns[slot]);
                    s->conns[slot].fd = fd;
                    s->conns[slot].next_id = 1;
                }
            } else if (p[i].revents != 0) {
                conn_read(&s->conns[which[i]]);
            }
        }
        for (i = 0; i < MAX_CONNS; i++) {
            if (s->conns[i].fd >= 0 && s->conns[i].streaming) conn_stream(&s->conns[i]);
        }
    }
    return NULL;
}

static int server_start(server_t *s)
{
    int i;
    memset(s, 0, sizeof *s);
    for (i = 0; i < MAX_CONNS; i++) s->conns[i].fd = -1;
    if (loopback_listen(&s->lb, 64) != 0) return -1;
    set_cloexec(s->lb.listen_fd);
    return loopback_run(&s->lb, server_main, s);
}

static void server_stop(server_t *s)
{
    int i;
    loopback_stop(&s->lb);
    for (i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i].fd >= 0) close(s->conns[i].fd);
    }
}

/* ------------------------------------------------------------------------------------ */
/* The parent's clients                                                                 */
/* ------------------------------------------------------------------------------------ */

/* Counts what a client delivered; `events` read under `mu`. */
typedef struct {
    pthread_mutex_t mu;
    long events;
    int stop;           /* poll mode: tells the poller thread to end */
    sse_client *client; /* poll mode: what the poller thread drains */
} counter_t;

static long counter_events(counter_t *c)
{
    long n;
    pthread_mutex_lock(&c->mu);
    n = c->events;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void counter_add(counter_t *c, long n)
{
    pthread_mutex_lock(&c->mu);
    c->events += n;
    pthread_mutex_unlock(&c->mu);
}

/* Dawdles: the worker is inside this callback (holding the callback lock) much of the
 * time, which is where a fork hurt most. */
static void on_event(void *userdata, const sse_event *event)
{
    (void)event;
    counter_add((counter_t *)userdata, 1);
    sleep_us(100);
}

static long batch_events(const sse_batch *batch)
{
    size_t i;
    long n = 0;
    for (i = 0; i < sse_batch_len(batch); i++) {
        if (sse_message_kind_of(sse_batch_get(batch, i)) == SSE_MESSAGE_EVENT) n++;
    }
    return n;
}

/* Drains the poll-mode client until told to stop. */
static void *poller_main(void *arg)
{
    counter_t *c = (counter_t *)arg;
    for (;;) {
        sse_batch *batch = NULL;
        sse_result r;
        pthread_mutex_lock(&c->mu);
        if (c->stop) {
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        pthread_mutex_unlock(&c->mu);
        r = sse_client_poll_batch(c->client, 10, &batch);
        if (r == SSE_OK) {
            counter_add(c, batch_events(batch));
            sse_batch_free(batch);
        } else if (r != SSE_ERROR_TIMEOUT) {
            return NULL;
        }
    }
}

/* Waits until the counter passes `above`; returns whether it did in time. */
static int wait_events_above(counter_t *c, long above)
{
    long long deadline = now_ms() + g_wait_ms;
    while (counter_events(c) <= above) {
        if (now_ms() > deadline) return 0;
        sleep_us(1000);
    }
    return 1;
}

static sse_client *open_client(const char *url, const sse_callbacks *callbacks)
{
    sse_config *cfg = NULL;
    sse_client *client = NULL;
    sse_result r = sse_config_new(url, &cfg);
    if (r == SSE_OK) r = sse_config_set_reconnect_delay(cfg, 10, 100);
    if (r == SSE_OK) r = sse_client_open(cfg, callbacks, &client);
    sse_config_free(cfg);
    if (r != SSE_OK) {
        check(0, "open a %s client on %s: %s (%s)", callbacks ? "callback" : "poll", url, sse_result_name(r),
              sse_last_error_message());
        return NULL;
    }
    return client;
}

/* ------------------------------------------------------------------------------------ */
/* The child                                                                            */
/* ------------------------------------------------------------------------------------ */

/* Exit codes of a failed child check: 10 + the check's number. A hang ends by SIGALRM. */
static void child_fail(int code, const char *fmt, ...)
{
    char line[512];
    va_list args;
    int len = snprintf(line, sizeof line, "child %d: FAIL ", (int)getpid());
    va_start(args, fmt);
    len += vsnprintf(line + len, sizeof line - (size_t)len - 1, fmt, args);
    va_end(args);
    if (len > (int)sizeof line - 2) len = (int)sizeof line - 2;
    line[len++] = '\n';
    /* write(2), not stdio: a thread of the parent may have held stdout's lock. */
    if (write(STDERR_FILENO, line, (size_t)len) < 0) {
        /* Nothing left to tell. */
    }
    _exit(10 + code);
}

/* A panic caught at the boundary leaves this message for the thread. */
static void child_no_panic(int code, const char *call)
{
    const char *message = sse_last_error_message();
    if (strstr(message, "internal error") != NULL) child_fail(code, "%s panicked: %s", call, message);
}

/* What the header promises for a client inherited across fork(). */
static void child_check_inherited(sse_client *client, const char *name, int base)
{
    char buf[64];
    sse_stats stats;
    sse_message *message = NULL;
    sse_batch *batch = NULL;
    sse_result r;
    size_t n;

    memset(buf, 'x', sizeof buf);
    if (sse_client_ready_state(client) != SSE_STATE_CLOSED) child_fail(base, "%s: ready_state is not CLOSED", name);
    child_no_panic(base, "sse_client_ready_state");
    n = sse_client_last_event_id(client, buf, sizeof buf);
    if (n != 0 || buf[0] != '\0') child_fail(base + 1, "%s: last_event_id -> %lu, \"%.8s\"", name, (unsigned long)n, buf);
    child_no_panic(base + 1, "sse_client_last_event_id");
    memset(&stats, 0xff, sizeof stats);
    r = sse_client_stats(client, &stats);
    if (r != SSE_OK || stats.events != 0 || stats.connection_attempts != 0)
        child_fail(base + 2, "%s: stats -> %s, %lu events", name, sse_result_name(r), (unsigned long)stats.events);
    child_no_panic(base + 2, "sse_client_stats");
    {
        uint64_t count = 12345;
        r = sse_client_error_count(client, SSE_ERROR_KIND_CONNECT, &count);
        if (r != SSE_OK || count != 0)
            child_fail(base + 2, "%s: error_count -> %s, %lu", name, sse_result_name(r), (unsigned long)count);
        child_no_panic(base + 2, "sse_client_error_count");
    }
    if (sse_client_wakeup_fd(client) != -1) child_fail(base + 3, "%s: wakeup_fd is not -1", name);
    child_no_panic(base + 3, "sse_client_wakeup_fd");
    if (sse_client_wakeup_handle(client) != -1) child_fail(base + 3, "%s: wakeup_handle is not -1", name);
    child_no_panic(base + 3, "sse_client_wakeup_handle");
    r = sse_client_restart(client);
    if (r != SSE_ERROR_CLOSED) child_fail(base + 4, "%s: restart -> %s", name, sse_result_name(r));
    /* Wait without limit: an inherited client answers at once (the alarm catches a hang). */
    r = sse_client_poll(client, -1, &message);
    if (r != SSE_ERROR_CLOSED || message != NULL) child_fail(base + 5, "%s: poll(-1) -> %s", name, sse_result_name(r));
    r = sse_client_poll_batch(client, -1, &batch);
    if (r != SSE_ERROR_CLOSED || batch != NULL)
        child_fail(base + 6, "%s: poll_batch(-1) -> %s", name, sse_result_name(r));
    sse_client_close(client);
    child_no_panic(base + 7, "sse_client_close");
    if (sse_client_ready_state(client) != SSE_STATE_CLOSED)
        child_fail(base + 7, "%s: ready_state after close is not CLOSED", name);
}

/* The child opens a client of its own: it works like any other. */
static void child_own_client(const char *url)
{
    sse_config *cfg = NULL;
    sse_client *client = NULL;
    sse_message *message = NULL;
    long long deadline = now_ms() + g_wait_ms;
    int got_event = 0;
    if (sse_config_new(url, &cfg) != SSE_OK || sse_client_open(cfg, NULL, &client) != SSE_OK)
        child_fail(30, "cannot open a client of its own: %s", sse_last_error_message());
    sse_config_free(cfg);
    while (!got_event && now_ms() < deadline) {
        sse_result r = sse_client_poll(client, 100, &message);
        if (r == SSE_OK) {
            got_event = sse_message_kind_of(message) == SSE_MESSAGE_EVENT;
            sse_message_free(message);
        } else if (r != SSE_ERROR_TIMEOUT) {
            child_fail(31, "its own client: poll -> %s", sse_result_name(r));
        }
    }
    if (!got_event) child_fail(32, "its own client received no event");
    sse_client_free(client);
}

static void child_main(sse_client *callback_client, sse_client *poll_client, int parent_wakeup_fd,
                       sse_batch *held_batch, sse_message *held_message, const char *url)
{
    alarm((unsigned)(10 * g_scale));
    child_check_inherited(callback_client, "callback client", 0);
    child_check_inherited(poll_client, "poll client", 10);
    /* Taken in the parent before the fork: owned memory, freed without the queue. */
    sse_batch_free(held_batch);
    child_no_panic(20, "sse_batch_free");
    sse_message_free(held_message);
    child_no_panic(21, "sse_message_free");
    /* Releases nothing: the parent owns the worker, the sockets and the wakeup fd. */
    sse_client_free(callback_client);
    child_no_panic(22, "sse_client_free (callback client)");
    sse_client_free(poll_client);
    child_no_panic(23, "sse_client_free (poll client)");
    if (fcntl(parent_wakeup_fd, F_GETFD) < 0) child_fail(24, "sse_client_free closed the inherited wakeup fd");
    child_own_client(url);
    _exit(0);
}

/* ------------------------------------------------------------------------------------ */
/* The rounds                                                                           */
/* ------------------------------------------------------------------------------------ */

#define FD_SCAN 1024

/* Marks the descriptors open now (those the test was started with among them). */
static void open_fds(unsigned char open[FD_SCAN])
{
    int fd;
    for (fd = 0; fd < FD_SCAN; fd++) open[fd] = fcntl(fd, F_GETFD) >= 0;
}

/* Every descriptor opened since `before` must be close-on-exec: no exec() inherits a
 * client's socket or wakeup fd. The test's own are made so too. */
static void check_new_fds_cloexec(const unsigned char before[FD_SCAN])
{
    int fd, opened = 0, leaky = -1;
    for (fd = 0; fd < FD_SCAN; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || before[fd]) continue;
        opened++;
        if (!(flags & FD_CLOEXEC) && leaky < 0) leaky = fd;
    }
    check(opened >= 4 && leaky < 0,
          "every descriptor opened since the start (%d: the server's, the clients' sockets and wakeup fd) is "
          "close-on-exec (first one that is not: %d)",
          opened, leaky);
}

/* How the children ended: each distinct way, counted. */
#define MAX_OUTCOMES 8

typedef struct {
    char how[MAX_OUTCOMES][64];
    int count[MAX_OUTCOMES];
    int n;
} outcomes_t;

static void outcome_add(outcomes_t *o, const char *how)
{
    int i;
    for (i = 0; i < o->n && strcmp(o->how[i], how) != 0; i++) {
    }
    if (i == o->n) {
        if (o->n == MAX_OUTCOMES) i = MAX_OUTCOMES - 1; /* lumped with the last */
        else snprintf(o->how[o->n++], sizeof o->how[0], "%s", how);
    }
    o->count[i]++;
}

static void outcomes_print(const outcomes_t *o)
{
    int i;
    printf("children ended:");
    for (i = 0; i < o->n; i++) printf("%s %d x %s", i ? "," : "", o->count[i], o->how[i]);
    printf("\n");
}

/* How the child ended, for a FAIL line. */
static void describe(int status, char *out, size_t cap)
{
    if (WIFEXITED(status)) {
        snprintf(out, cap, "exit %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        snprintf(out, cap, "hung: killed by its alarm");
    } else if (WIFSIGNALED(status)) {
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, cap, "status 0x%x", (unsigned)status);
    }
}

/* Waits for the child (its alarm bounds it; SIGKILL past a margin). */
static int reap(pid_t pid)
{
    long long deadline = now_ms() + 10000 * g_scale + g_wait_ms;
    int status = 0;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) return status;
        if (done < 0 && errno != EINTR) return -1;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
        sleep_us(1000);
    }
}

static void test_inherited_clients_never_block_the_child_nor_disturb_the_parent(int rounds)
{
    server_t srv;
    counter_t cb_count, poll_count;
    sse_callbacks callbacks;
    sse_client *callback_client, *poll_client;
    pthread_t poller;
    int round, children_ok = 0, parent_ok = 0, states_ok = 0, reported = 0, flowing, wakeup_fd;
    sse_stats cb_stats, poll_stats;
    unsigned char fds_before[FD_SCAN];
    outcomes_t outcomes;

    open_fds(fds_before);
    memset(&outcomes, 0, sizeof outcomes);
    memset(&cb_count, 0, sizeof cb_count);
    memset(&poll_count, 0, sizeof poll_count);
    pthread_mutex_init(&cb_count.mu, NULL);
    pthread_mutex_init(&poll_count.mu, NULL);
    if (server_start(&srv) != 0) {
        check(0, "start the loopback server: %s", strerror(errno));
        return;
    }
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.userdata = &cb_count;
    callbacks.on_event = on_event;
    callback_client = open_client(srv.lb.url, &callbacks);
    poll_client = open_client(srv.lb.url, NULL);
    if (callback_client == NULL || poll_client == NULL) goto out;
    poll_count.client = poll_client;
    if (pthread_create(&poller, NULL, poller_main, &poll_count) != 0) {
        check(0, "start the poller thread");
        goto out;
    }
    flowing = wait_events_above(&cb_count, 0) && wait_events_above(&poll_count, 0);
    check(flowing, "both clients receive events before the first fork (callback %ld, poll %ld)",
          counter_events(&cb_count), counter_events(&poll_count));
    check_new_fds_cloexec(fds_before);
    wakeup_fd = sse_client_wakeup_fd(poll_client);

    for (round = 0; round < rounds; round++) {
        sse_batch *held_batch = NULL;
        sse_message *held_message = NULL;
        long cb_before, poll_before;
        char how[64];
        pid_t pid;
        int status;

        /* Taken now, freed by the child and by the parent: neither may disturb the other. */
        if (sse_client_poll_batch(poll_client, (int)g_wait_ms, &held_batch) != SSE_OK) held_batch = NULL;
        if (sse_client_poll(poll_client, (int)g_wait_ms, &held_message) != SSE_OK) held_message = NULL;
        /* Let the worker run into the middle of something. */
        sleep_us(200 + 97 * (round % 10));
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
            check(0, "round %d: fork: %s", round, strerror(errno));
            break;
        }
        if (pid == 0) child_main(callback_client, poll_client, wakeup_fd, held_batch, held_message, srv.lb.url);

        status = reap(pid);
        describe(status, how, sizeof how);
        outcome_add(&outcomes, how);
        if (status == 0) {
            children_ok++;
        } else if (reported++ < 5) {
            check(0, "round %d: the child ended with %s", round, how);
        }
        counter_add(&poll_count, held_batch != NULL ? batch_events(held_batch) : 0);
        sse_batch_free(held_batch);
        sse_message_free(held_message);

        cb_before = counter_events(&cb_count);
        poll_before = counter_events(&poll_count);
        if (wait_events_above(&cb_count, cb_before) && wait_events_above(&poll_count, poll_before)) {
            parent_ok++;
        } else if (reported++ < 5) {
            check(0, "round %d: the parent's clients received nothing after the child ended (callback %ld, poll %ld)",
                  round, counter_events(&cb_count) - cb_before, counter_events(&poll_count) - poll_before);
        }
        if (sse_client_ready_state(callback_client) == SSE_STATE_OPEN &&
            sse_client_ready_state(poll_client) == SSE_STATE_OPEN) {
            states_ok++;
        }
    }

    outcomes_print(&outcomes);
    memset(&cb_stats, 0, sizeof cb_stats);
    memset(&poll_stats, 0, sizeof poll_stats);
    sse_client_stats(callback_client, &cb_stats);
    sse_client_stats(poll_client, &poll_stats);
    check(children_ok == rounds,
          "%d/%d children: every call on an inherited client answered at once as documented, no panic, "
          "free released nothing, their own client received an event, exit 0",
          children_ok, rounds);
    check(parent_ok == rounds, "%d/%d rounds: both of the parent's clients kept receiving events after the child",
          parent_ok, rounds);
    check(states_ok == rounds, "%d/%d rounds: both of the parent's clients stayed OPEN", states_ok, rounds);
    check(cb_stats.connections_opened == 1 && poll_stats.connections_opened == 1,
          "no child disturbed the parent's connections: each client opened exactly one (callback %lu, poll %lu)",
          (unsigned long)cb_stats.connections_opened, (unsigned long)poll_stats.connections_opened);

    pthread_mutex_lock(&poll_count.mu);
    poll_count.stop = 1;
    pthread_mutex_unlock(&poll_count.mu);
    pthread_join(poller, NULL);
out:
    {
        long long t0 = now_ms();
        sse_client_free(callback_client);
        sse_client_free(poll_client);
        check(now_ms() - t0 < g_wait_ms, "the parent frees both clients promptly (%lld ms)", now_ms() - t0);
    }
    printf("events received by the parent: callback %ld, poll %ld\n", counter_events(&cb_count),
           counter_events(&poll_count));
    server_stop(&srv);
    pthread_mutex_destroy(&cb_count.mu);
    pthread_mutex_destroy(&poll_count.mu);
}

int main(int argc, char **argv)
{
    const char *rounds_env = getenv("SSE_FORK_ROUNDS");
    int rounds = 300;

    portable_init();
    g_scale = timeout_scale();
    g_wait_ms *= g_scale;
    if (rounds_env != NULL && atoi(rounds_env) > 0) rounds = atoi(rounds_env);
    if (argc > 1 && atoi(argv[1]) > 0) rounds = atoi(argv[1]);
    printf("sse_client fork test (library %s, %d rounds, waits up to %ld ms)\n", sse_version(), rounds, g_wait_ms);

    test_inherited_clients_never_block_the_child_nor_disturb_the_parent(rounds);

    return checks_report();
}
