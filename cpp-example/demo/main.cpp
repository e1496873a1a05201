// sse_demo: prints everything an SseEventSource sees, with timestamps.
//
//   sse_demo [--count N] [-H 'Name: value']... [--last-event-id ID] [URL]
//
// With a URL it connects there. Without one it starts the bundled demo server
// (examples/demo_server.rs, path compiled in as SSE_CLIENT_DEMO_SERVER) on a free port and
// connects to it. Ctrl+C (SIGINT) or SIGTERM closes the client, stops the server and exits
// 0; --count N exits 0 after N events. Exit 1: the stream closed for good or the server
// failed; 2: bad usage (or no URL and no demo server).

#include "sseeventsource.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QFileInfo>
#include <QtCore/QMetaEnum>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

#include <csignal>
#include <cstdio>

#include <fcntl.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <unistd.h>

namespace {

// --- Output -----------------------------------------------------------------------------

QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

void print(const QString &what, const QString &text)
{
    const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss.zzz"));
    out() << time << "  " << what.leftJustified(8) << text << Qt::endl; // endl flushes
}

// Control characters made visible, long texts shortened: one event, one line.
QString printable(const QString &text, qsizetype limit = 200)
{
    QString result;
    for (qsizetype i = 0; i < text.size() && i < limit; ++i) {
        const QChar c = text.at(i);
        if (c == QLatin1Char('\n'))
            result += QStringLiteral("\\n");
        else if (c == QLatin1Char('\r'))
            result += QStringLiteral("\\r");
        else if (c == QLatin1Char('\\'))
            result += QStringLiteral("\\\\");
        else if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            result += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QLatin1Char('0'));
        else
            result += c;
    }
    if (text.size() > limit)
        result += QStringLiteral("... (%1 characters)").arg(text.size());
    return result;
}

template <typename Enum>
QString enumName(Enum value)
{
    const char *key = QMetaEnum::fromType<Enum>().valueToKey(int(value));
    return key ? QString::fromLatin1(key) : QString::number(int(value));
}

// --- SIGINT / SIGTERM through a self-pipe -----------------------------------------------

int signalPipe[2] = {-1, -1};

extern "C" void onSignal(int signal)
{
    const char byte = char(signal);
    const ssize_t written = ::write(signalPipe[1], &byte, 1); // async-signal-safe
    (void)written;
}

bool installSignalHandlers()
{
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, signalPipe) != 0)
        return false;
    ::fcntl(signalPipe[1], F_SETFL, O_NONBLOCK); // never block in the handler
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return ::sigaction(SIGINT, &action, nullptr) == 0 && ::sigaction(SIGTERM, &action, nullptr) == 0;
}

// --- The demo ---------------------------------------------------------------------------

class Demo : public QObject
{
    Q_OBJECT

public:
    explicit Demo(int count) : m_count(count)
    {
        connect(&m_source, &SseEventSource::readyStateChanged, this, [](SseEventSource::ReadyState state) {
            print(QStringLiteral("state"), enumName(state));
        });
        connect(&m_source, &SseEventSource::opened, this, [this](int status) {
            ++m_connections;
            const QString id = m_source.lastEventId();
            QString text = QStringLiteral("HTTP %1, %2").arg(status).arg(
                m_connections == 1 ? QStringLiteral("connected") : QStringLiteral("reconnected (#%1)").arg(m_connections));
            if (!id.isEmpty())
                text += QStringLiteral(", resuming after id %1 (sent as Last-Event-ID)").arg(printable(id));
            print(QStringLiteral("open"), text);
        });
        connect(&m_source, &SseEventSource::eventReceived, this, [this](const SseEvent &event) {
            print(QStringLiteral("event"), QStringLiteral("type=%1 id=%2 data=%3")
                                               .arg(printable(event.type()), printable(event.id()),
                                                    printable(event.data())));
            if (m_count > 0 && ++m_received >= m_count) {
                print(QStringLiteral("done"), QStringLiteral("%1 events received").arg(m_received));
                shutdown(0);
            }
        });
        connect(&m_source, &SseEventSource::commentReceived, this, [](const QString &text) {
            print(QStringLiteral("comment"), printable(text));
        });
        connect(&m_source, &SseEventSource::errorOccurred, this,
                [this](SseEventSource::ErrorKind kind, int status, const QString &message, bool willRetry) {
                    print(QStringLiteral("error"), QStringLiteral("kind=%1 status=%2 willRetry=%3: %4")
                                                       .arg(enumName(kind))
                                                       .arg(status)
                                                       .arg(willRetry ? QStringLiteral("yes") : QStringLiteral("no"),
                                                            message));
                    // Not retried: the source is (or is about to be, readyStateChanged(Closed)
                    // follows) closed for good. Checked once this signal has been handled.
                    if (!willRetry) {
                        QTimer::singleShot(0, this, [this] {
                            if (m_source.readyState() == SseEventSource::Closed && !m_shuttingDown) {
                                print(QStringLiteral("exit"), QStringLiteral("the stream closed for good"));
                                shutdown(1);
                            }
                        });
                    }
                });
    }

    SseEventSource &source() { return m_source; }

    void connectTo(const QUrl &url)
    {
        print(QStringLiteral("connect"), QStringLiteral("%1 (libsse_client %2)")
                                             .arg(url.toString(), SseEventSource::libraryVersion()));
        m_source.setUrl(url);
        m_source.open();
    }

    void startServer(const QString &program)
    {
        print(QStringLiteral("server"), QStringLiteral("starting %1 --port 0").arg(program));
        m_server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        connect(&m_server, &QProcess::readyReadStandardOutput, this, &Demo::readServerOutput);
        connect(&m_server, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
            if (error == QProcess::FailedToStart) {
                print(QStringLiteral("server"), QStringLiteral("cannot start: %1").arg(m_server.errorString()));
                shutdown(1);
            }
        });
        connect(&m_server, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
            if (m_shuttingDown)
                return;
            print(QStringLiteral("server"), status == QProcess::CrashExit
                                                ? QStringLiteral("crashed")
                                                : QStringLiteral("exited with code %1").arg(code));
            shutdown(1);
        });
        QTimer::singleShot(10000, this, [this] {
            if (!m_serverUrlSeen && !m_shuttingDown) {
                print(QStringLiteral("server"), QStringLiteral("did not print its URL within 10 s"));
                shutdown(1);
            }
        });
        // The server gets its own process group: Ctrl+C in a terminal signals the whole
        // foreground group, and the server must not die before we close the client; we
        // stop it in shutdown(). On Linux it also dies with us should we be killed.
        m_server.setChildProcessModifier([] {
            ::setpgid(0, 0);
#ifdef __linux__
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        });
        m_server.start(program, {QStringLiteral("--port"), QStringLiteral("0")});
    }

    // Idempotent: closes the client, stops the server, leaves the event loop with `code`.
    void shutdown(int code)
    {
        if (m_shuttingDown)
            return;
        m_shuttingDown = true;
        m_source.close();
        if (m_server.state() != QProcess::NotRunning) {
            m_server.terminate();
            if (!m_server.waitForFinished(3000)) {
                m_server.kill();
                m_server.waitForFinished(3000);
            }
            print(QStringLiteral("server"), QStringLiteral("stopped"));
        }
        QCoreApplication::exit(code);
    }

private:
    void readServerOutput()
    {
        static const QRegularExpression listening(QStringLiteral("listening on (\\S+)"));
        while (m_server.canReadLine()) {
            const QString line = QString::fromUtf8(m_server.readLine()).trimmed();
            if (!m_serverUrlSeen) {
                const QRegularExpressionMatch match = listening.match(line);
                if (match.hasMatch()) {
                    m_serverUrlSeen = true;
                    print(QStringLiteral("server"), line);
                    connectTo(QUrl(match.captured(1)));
                    continue;
                }
            }
            print(QStringLiteral("server"), line);
        }
    }

    SseEventSource m_source;
    QProcess m_server;
    const int m_count;
    int m_received = 0;
    int m_connections = 0;
    bool m_serverUrlSeen = false;
    bool m_shuttingDown = false;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sse_demo"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Prints the events, comments, (re)connects and errors of a Server-Sent Events stream.\n"
        "Without a URL it starts the bundled demo server and connects to it."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("url"), QStringLiteral("The http(s) URL of the event stream."),
                                 QStringLiteral("[url]"));
    const QCommandLineOption countOption(QStringLiteral("count"), QStringLiteral("Exit 0 after <n> events."),
                                         QStringLiteral("n"));
    const QCommandLineOption headerOption({QStringLiteral("H"), QStringLiteral("header")},
                                          QStringLiteral("Send a request header (repeatable)."),
                                          QStringLiteral("Name: value"));
    const QCommandLineOption lastIdOption(QStringLiteral("last-event-id"),
                                          QStringLiteral("Send this Last-Event-ID on the first connect."),
                                          QStringLiteral("id"));
    parser.addOptions({countOption, headerOption, lastIdOption});
    parser.process(app);

    int count = 0;
    if (parser.isSet(countOption)) {
        bool ok = false;
        count = parser.value(countOption).toInt(&ok);
        if (!ok || count <= 0) {
            std::fprintf(stderr, "sse_demo: --count wants a positive number\n");
            return 2;
        }
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "sse_demo: at most one URL\n");
        return 2;
    }

    Demo demo(count);
    for (const QString &header : parser.values(headerOption)) {
        const qsizetype colon = header.indexOf(QLatin1Char(':'));
        if (colon <= 0) {
            std::fprintf(stderr, "sse_demo: a header is 'Name: value', not '%s'\n", qPrintable(header));
            return 2;
        }
        demo.source().setRawHeader(header.left(colon).trimmed().toUtf8(), header.mid(colon + 1).trimmed().toUtf8());
    }
    if (parser.isSet(lastIdOption))
        demo.source().setLastEventId(parser.value(lastIdOption));

    QString serverProgram;
    if (positional.isEmpty()) {
#ifdef SSE_CLIENT_DEMO_SERVER
        serverProgram = QStringLiteral(SSE_CLIENT_DEMO_SERVER);
#endif
        if (serverProgram.isEmpty() || !QFileInfo(serverProgram).isExecutable()) {
            std::fprintf(stderr,
                         "sse_demo: no URL given, and the bundled demo server is not available%s%s.\n"
                         "Pass the URL of an event stream:  sse_demo http://127.0.0.1:8080/events\n"
                         "(or build the demo server: cargo build --example demo_server, or the CMake target "
                         "sse_client_demo_server)\n",
                         serverProgram.isEmpty() ? "" : " at ", qPrintable(serverProgram));
            return 2;
        }
    }

    if (!installSignalHandlers()) {
        std::perror("sse_demo: signal handlers");
        return 1;
    }
    QSocketNotifier signalNotifier{qintptr(signalPipe[0]), QSocketNotifier::Read};
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &demo, [&demo] {
        char byte = 0;
        const ssize_t n = ::read(signalPipe[0], &byte, 1);
        const int signal = n == 1 ? int(byte) : 0;
        print(QStringLiteral("signal"), QStringLiteral("%1, quitting")
                                            .arg(signal == SIGINT ? QStringLiteral("SIGINT")
                                                                  : signal == SIGTERM ? QStringLiteral("SIGTERM")
                                                                                      : QString::number(signal)));
        demo.shutdown(0);
    });

    // Started from the event loop, so that an early shutdown() can leave it.
    QTimer::singleShot(0, &demo, [&] {
        if (positional.isEmpty())
            demo.startServer(serverProgram);
        else
            demo.connectTo(QUrl::fromUserInput(positional.first()));
    });
    const int code = app.exec();
    demo.shutdown(code); // after a signal or exit, everything is already stopped
    return code;
}

#include "main.moc"
