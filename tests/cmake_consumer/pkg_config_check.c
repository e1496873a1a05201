/* Built by cmake/RunConsumerTest.cmake with $(pkg-config --cflags --libs sse_client)
 * against the installed tree: the .pc file gives a working include path and library. */
#include <stdio.h>
#include <string.h>

#include <sse_client.h>

int main(void)
{
    sse_config *config = NULL;
    if (sse_config_new("https://example.com/events", &config) != SSE_OK || config == NULL) {
        fprintf(stderr, "sse_config_new failed: %s\n", sse_last_error_message());
        return 1;
    }
    sse_config_free(config);
    if (strcmp(sse_result_name(SSE_OK), "SSE_OK") != 0) {
        fprintf(stderr, "sse_result_name(SSE_OK) is %s\n", sse_result_name(SSE_OK));
        return 1;
    }
    printf("pkg-config consumer: ok (sse_client %s)\n", sse_version());
    return 0;
}
