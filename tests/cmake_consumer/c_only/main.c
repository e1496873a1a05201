/* A C99 program linked with SseClient::sse_client from a C-only CMake project: the
 * library loads (through its SONAME), answers with the package's version, and checks a URL. */
#include <stdio.h>
#include <string.h>

#include <sse_client.h>

int main(void)
{
    sse_config *config = NULL;
    const char *version = sse_version();
    if (version == NULL || strcmp(version, SSE_CLIENT_EXPECTED_VERSION) != 0) {
        printf("sse_version() is %s, the package says %s\n", version ? version : "NULL",
               SSE_CLIENT_EXPECTED_VERSION);
        return 1;
    }
    if (sse_config_new("https://example.com/events", &config) != SSE_OK || config == NULL) {
        printf("sse_config_new failed: %s\n", sse_last_error_message());
        return 1;
    }
    sse_config_free(config);
    if (sse_config_new("ftp://example.com/events", &config) != SSE_ERROR_INVALID_URL) {
        printf("sse_config_new accepted an ftp URL\n");
        return 1;
    }
    printf("consumer_c: ok (sse_client %s)\n", version);
    return 0;
}
