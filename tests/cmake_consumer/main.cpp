// Links the installed sse_client through find_package(SseClient) and checks that the
// library answers: the version matches the package's, a valid URL gives a config, an
// invalid one the documented result code and a message.
#include <sse_client.h>

#include <cstdio>
#include <cstring>

namespace {

int failures = 0;

void check(bool ok, const char *what)
{
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        ++failures;
}

} // namespace

int main()
{
    const char *version = sse_version();
    check(version != nullptr && std::strcmp(version, SSE_CLIENT_EXPECTED_VERSION) == 0,
          "sse_version() is the version of the CMake package");

    sse_config *config = nullptr;
    check(sse_config_new("http://127.0.0.1:8080/events", &config) == SSE_OK && config != nullptr,
          "sse_config_new accepts an http URL");
    sse_config_free(config);

    sse_config *bad = nullptr;
    const sse_result result = sse_config_new("ftp://example.com/events", &bad);
    check(result == SSE_ERROR_INVALID_URL, "sse_config_new rejects an ftp URL with SSE_ERROR_INVALID_URL");
    check(bad == nullptr, "sse_config_new leaves the out-pointer alone on failure");
    check(std::strcmp(sse_result_name(result), "SSE_ERROR_INVALID_URL") == 0,
          "sse_result_name names the result");
    check(std::strlen(sse_last_error_message()) > 0, "sse_last_error_message explains the failure");

    check(sse_config_new("not a url", &bad) == SSE_ERROR_INVALID_URL, "sse_config_new rejects garbage");
    check(sse_config_new(nullptr, &bad) == SSE_ERROR_NULL_ARGUMENT,
          "sse_config_new(NULL) returns SSE_ERROR_NULL_ARGUMENT");
    sse_config_free(nullptr);

    if (failures != 0) {
        std::printf("consumer: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("consumer: ok (sse_client %s)\n", version);
    return 0;
}
