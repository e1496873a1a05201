// Links the installed Qt wrapper through find_package(SseClient) (target SseClient::Qt):
// its header is found, its static library and the C library it needs link, and an
// SseEventSource can be made and configured without a network.
#include <sseeventsource.h>

#include <QCoreApplication>
#include <QUrl>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    SseEventSource source(QUrl(QStringLiteral("http://127.0.0.1:1/events")));
    if (source.url() != QUrl(QStringLiteral("http://127.0.0.1:1/events"))) {
        std::printf("consumer_qt: url() does not return the URL given\n");
        return 1;
    }
    if (source.readyState() != SseEventSource::Closed) {
        std::printf("consumer_qt: a new SseEventSource is not Closed (%d)\n",
                    static_cast<int>(source.readyState()));
        return 1;
    }
    std::printf("consumer_qt: ok\n");
    return 0;
}
