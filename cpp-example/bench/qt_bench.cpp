// sse_qt_bench: the Qt consumer of the firehose benchmark (benches/firehose), built with
// -DSSE_CLIENT_BUILD_BENCH=ON; benches/run.sh builds and runs it.
//
//   sse_qt_bench --url URL --events N [--latency] [--timeout SECONDS]
//
// Opens an SseEventSource on URL in a QCoreApplication and counts eventReceived signals
// (delivered on this, the Qt thread) until N have arrived, then prints one line the
// orchestrator parses, in the same format as the Rust consumers:
//
//   RESULT events=N first_s=... span_s=... cpu_s=... hwm_kib=... errors=... [p50_us=...]
//
// first_s: from just before open() to the first event; span_s: first to last event;
// cpu_s: process CPU (all threads) from just before open() to the last event; hwm_kib:
// peak RSS (VmHWM). With --latency every event's data is the server's CLOCK_MONOTONIC
// send time in ns; receive - send is recorded (std::chrono::steady_clock is
// CLOCK_MONOTONIC on Linux) and p50/p99/max reported. Exit 1 on a timeout or a final
// error, 2 on bad usage.

#include "sseeventsource.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QStringList>
#include <QtCore/QTimer>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <sys/resource.h>

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t monotonicNs()
{
    return std::uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count());
}

double cpuSeconds()
{
    rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval &tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// VmHWM of this process in kB (0 if unreadable).
long peakRssKib()
{
    std::FILE *status = std::fopen("/proc/self/status", "r");
    if (!status)
        return 0;
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, status)) {
        if (std::strncmp(line, "VmHWM:", 6) == 0) {
            kib = std::strtol(line + 6, nullptr, 10);
            break;
        }
    }
    std::fclose(status);
    return kib;
}

// Nearest-rank quantile of sorted samples, in microseconds.
double quantileUs(const std::vector<std::uint64_t> &sorted, double q)
{
    if (sorted.empty())
        return 0;
    auto rank = std::size_t(std::ceil(double(sorted.size()) * q));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return double(sorted[rank - 1]) / 1e3;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const auto value = [&args](const char *name) -> QString {
        const qsizetype i = args.indexOf(QLatin1String(name));
        return i >= 0 && i + 1 < args.size() ? args.at(i + 1) : QString();
    };
    const QUrl url(value("--url"));
    const qint64 events = value("--events").toLongLong();
    const bool latency = args.contains(QStringLiteral("--latency"));
    const QString timeoutArg = value("--timeout");
    const int timeoutSeconds = timeoutArg.isEmpty() ? 600 : timeoutArg.toInt();
    if (!url.isValid() || events <= 0) {
        std::fprintf(stderr, "usage: sse_qt_bench --url URL --events N [--latency] [--timeout S]\n");
        return 2;
    }

    SseEventSource source(url);
    qint64 count = 0;
    qint64 errors = 0;
    Clock::time_point first;
    Clock::time_point last;
    std::vector<std::uint64_t> latencies;
    if (latency)
        latencies.reserve(std::size_t(events));
    double cpuEnd = 0;

    QObject::connect(&source, &SseEventSource::eventReceived, &app, [&](const SseEvent &event) {
        // The clock is read for the first and the last event only, as the C consumers
        // do: per event it would measure the clock, not the client.
        if (latency) {
            const std::uint64_t sent = event.data().toULongLong();
            const std::uint64_t received = monotonicNs();
            latencies.push_back(received > sent ? received - sent : 0);
        }
        if (++count == 1)
            first = Clock::now();
        if (count == events) {
            last = Clock::now();
            cpuEnd = cpuSeconds();
            QCoreApplication::exit(0);
        }
    });
    QObject::connect(&source, &SseEventSource::errorOccurred, &app,
                     [&](SseEventSource::ErrorKind, int, const QString &message, bool willRetry) {
                         ++errors;
                         std::fprintf(stderr, "qt consumer: error: %s\n", qPrintable(message));
                         if (!willRetry)
                             QCoreApplication::exit(1);
                     });
    QTimer::singleShot(timeoutSeconds * 1000, &app, [] {
        std::fprintf(stderr, "qt consumer: timed out\n");
        QCoreApplication::exit(1);
    });

    const double cpuStart = cpuSeconds();
    const auto start = Clock::now();
    source.open();
    const int status = app.exec();
    source.close();

    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    std::printf("RESULT events=%lld errors=%lld cpu_s=%f hwm_kib=%ld", static_cast<long long>(count),
                static_cast<long long>(errors), (cpuEnd > 0 ? cpuEnd : cpuSeconds()) - cpuStart,
                peakRssKib());
    if (count > 0)
        std::printf(" first_s=%.9f", seconds(first - start));
    if (count == events)
        std::printf(" span_s=%.9f", seconds(last - first));
    if (!latencies.empty()) {
        std::sort(latencies.begin(), latencies.end());
        std::printf(" p50_us=%f p99_us=%f max_us=%f", quantileUs(latencies, 0.50),
                    quantileUs(latencies, 0.99), quantileUs(latencies, 1.0));
    }
    std::printf("\n");
    return status;
}
