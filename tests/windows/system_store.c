/*
 * One connection through sse_client.dll with SSE_TRUST_SYSTEM, and what it must give:
 *
 *   system_store.exe URL refused        the first outcome is a connect error saying the
 *                                       server's certificate has an unknown issuer
 *   system_store.exe URL trusted DATA   the first outcome is an event whose data is DATA
 *
 * Run by tests/windows/system_store.sh under wine, before and after the test CA is added to
 * the prefix's ROOT store (cert_store.c), so the trust comes from the Windows certificate
 * store alone: no CA file is set, and SSL_CERT_FILE / SSL_CERT_DIR (which would replace the
 * store) must not be set. Prints one PASS or FAIL line; exit status 0 or 1 (2: bad usage).
 * The wait is bounded (20 s, times SSE_TEST_TIMEOUT_SCALE when set).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_client.h"

/* The library's own account of which roots it trusts, and its warnings. */
static void on_log(void *userdata, sse_log_level level, const char *message)
{
    (void)userdata;
    if (level <= SSE_LOG_WARN || strstr(message, "root certificates") != NULL) {
        printf("  log: %s\n", message);
        fflush(stdout);
    }
}

static int verdict(bool ok, const char *expectation, const char *got)
{
    printf("%s SSE_TRUST_SYSTEM %s: %s\n", ok ? "PASS" : "FAIL", expectation, got);
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    bool want_trusted = argc == 4 && strcmp(argv[2], "trusted") == 0;
    bool want_refused = argc == 3 && strcmp(argv[2], "refused") == 0;
    if (!want_trusted && !want_refused) {
        fprintf(stderr, "usage: system_store.exe URL refused | URL trusted DATA\n");
        return 2;
    }
    const char *expectation = want_trusted ? "trusts the store's CA" : "refuses an unknown CA";
    if (getenv("SSL_CERT_FILE") != NULL || getenv("SSL_CERT_DIR") != NULL) {
        return verdict(false, expectation,
                       "SSL_CERT_FILE or SSL_CERT_DIR is set: the store would not be read");
    }
    const char *scale_text = getenv("SSE_TEST_TIMEOUT_SCALE");
    int scale = scale_text != NULL && atoi(scale_text) > 0 ? atoi(scale_text) : 1;

    sse_set_log_callback(on_log, NULL, SSE_LOG_DEBUG);
    sse_config *config = NULL;
    sse_client *client = NULL;
    if (sse_config_new(argv[1], &config) != SSE_OK ||
        sse_config_set_trust_roots(config, SSE_TRUST_SYSTEM) != SSE_OK ||
        sse_config_set_reconnect_delay(config, 100, 100) != SSE_OK ||
        sse_client_open(config, NULL, &client) != SSE_OK) {
        return verdict(false, expectation, sse_last_error_message());
    }
    sse_config_free(config);

    char got[1024] = "nothing within the time limit";
    bool ok = false;
    bool decided = false;
    sse_message *message = NULL;
    /* The first event or error decides; OPEN and STATE messages come before either. */
    while (!decided && sse_client_poll(client, 20000 * scale, &message) == SSE_OK) {
        const sse_error *error = sse_message_error(message);
        const sse_event *event = sse_message_event(message);
        if (error != NULL) {
            decided = true;
            snprintf(got, sizeof got, "error of kind %d: %s", (int)error->kind, error->message);
            ok = want_refused && error->kind == SSE_ERROR_KIND_CONNECT &&
                 strstr(error->message, "unknown issuer") != NULL;
        } else if (event != NULL) {
            decided = true;
            snprintf(got, sizeof got, "event with data \"%.*s\"", (int)event->data_len, event->data);
            ok = want_trusted && event->data_len == strlen(argv[3]) &&
                 memcmp(event->data, argv[3], event->data_len) == 0;
        }
        sse_message_free(message);
    }
    sse_client_free(client);
    sse_set_log_callback(NULL, NULL, SSE_LOG_WARN);
    return verdict(ok, expectation, got);
}
