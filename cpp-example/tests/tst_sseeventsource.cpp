// SseEventSource against a real loopback HTTP server (QTcpServer) scripted per connection.

#include "sseeventsource.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QMutex>
#include <QtCore/QPointer>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;

namespace {

// --- A scripted loopback server ----------------------------------------------------------

// One request as the server read it. Header names are stored lower-case.
struct Request
{
    QByteArray method;
    QByteArray target;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &[key, value] : headers) {
            if (key == name.toLower())
                return value;
        }
        return QByteArray();
    }
    bool hasHeader(const QByteArray &name) const
    {
        for (const auto &header : headers) {
            if (header.first == name.toLower())
                return true;
        }
        return false;
    }
};

// What the server does on one connection once it has read the request. A script that does
// not end with close() holds the connection open (silent) until the server goes away.
class Script
{
public:
    struct Step
    {
        enum Kind { Send, Wait, Close } kind;
        QByteArray bytes;
        int ms = 0;
    };

    // "HTTP/1.1 200 OK" with a close-delimited event stream body.
    static Script stream() { return Script().send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                                  "Cache-Control: no-cache\r\nConnection: close\r\n\r\n"); }
    // A complete response with a body, then close.
    static Script response(int status, const QByteArray &reason, const QByteArray &contentType,
                           const QByteArray &body)
    {
        return Script()
            .send("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\nContent-Type: " + contentType
                  + "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body)
            .close();
    }
    // Reads the request, answers nothing, holds the connection.
    static Script silent() { return Script(); }

    Script &&send(const QByteArray &bytes) &&
    {
        m_steps.append({Step::Send, bytes, 0});
        return std::move(*this);
    }
    Script &&wait(int ms) &&
    {
        m_steps.append({Step::Wait, {}, ms});
        return std::move(*this);
    }
    Script &&close() &&
    {
        m_steps.append({Step::Close, {}, 0});
        return std::move(*this);
    }
    const QList<Step> &steps() const { return m_steps; }

private:
    QList<Step> m_steps;
};

// One accepted connection: reads one request, then plays its script.
class Connection : public QObject
{
    Q_OBJECT

public:
    Connection(QTcpSocket *socket, Script script, QObject *parent)
        : QObject(parent), m_socket(socket), m_script(std::move(script))
    {
        socket->setParent(this);
        connect(socket, &QTcpSocket::readyRead, this, &Connection::readRequest);
        connect(socket, &QTcpSocket::disconnected, this, [this] {
            m_open = false;
            emit closed();
        });
    }

    bool isOpen() const { return m_open; }
    void write(const QByteArray &bytes)
    {
        m_socket->write(bytes);
        m_socket->flush();
    }

Q_SIGNALS:
    void requestRead(const Request &request);
    void closed();

private:
    void readRequest()
    {
        m_buffer += m_socket->readAll();
        if (m_done)
            return;
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        Request request;
        const QList<QByteArray> lines = m_buffer.left(end).split('\n');
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        request.method = requestLine.value(0);
        request.target = requestLine.value(1);
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                request.headers.append({lines[i].left(colon).trimmed().toLower(), lines[i].mid(colon + 1).trimmed()});
        }
        QByteArray rest = m_buffer.mid(end + 4);
        if (request.header("transfer-encoding").toLower() == "chunked") {
            QByteArray body;
            for (;;) {
                const qsizetype lineEnd = rest.indexOf("\r\n");
                if (lineEnd < 0)
                    return; // wait for more
                bool ok = false;
                const qsizetype size = rest.left(lineEnd).split(';').value(0).trimmed().toLongLong(&ok, 16);
                if (!ok)
                    return;
                if (size == 0)
                    break;
                if (rest.size() < lineEnd + 2 + size + 2)
                    return;
                body += rest.mid(lineEnd + 2, size);
                rest = rest.mid(lineEnd + 2 + size + 2);
            }
            request.body = body;
        } else {
            const qsizetype length = request.header("content-length").toLongLong();
            if (rest.size() < length)
                return; // wait for more
            request.body = rest.left(length);
        }
        m_done = true;
        emit requestRead(request);
        play(0);
    }

    void play(qsizetype from)
    {
        const auto &steps = m_script.steps();
        for (qsizetype i = from; i < steps.size(); ++i) {
            const Script::Step &step = steps[i];
            switch (step.kind) {
            case Script::Step::Send:
                write(step.bytes);
                break;
            case Script::Step::Wait:
                QTimer::singleShot(step.ms, this, [this, i] { play(i + 1); });
                return;
            case Script::Step::Close:
                m_socket->disconnectFromHost();
                return;
            }
        }
        // End of script without close: hold the connection.
    }

    QTcpSocket *m_socket;
    Script m_script;
    QByteArray m_buffer;
    bool m_done = false;
    bool m_open = true;
};

// The n-th connection plays the n-th script (later ones replay the last). Records every
// request; tests read them after QTRY_ waits.
class ScriptedServer : public QObject
{
    Q_OBJECT

public:
    explicit ScriptedServer(QList<Script> scripts) : m_scripts(std::move(scripts))
    {
        if (!m_server.listen(QHostAddress::LocalHost, 0))
            qFatal("cannot listen: %s", qPrintable(m_server.errorString()));
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                const Script script = m_scripts.value(qMin(m_connections.size(), m_scripts.size() - 1));
                auto *connection = new Connection(socket, script, this);
                connect(connection, &Connection::requestRead, this,
                        [this](const Request &request) { m_requests.append(request); });
                connect(connection, &Connection::closed, this, [this] { ++m_closedConnections; });
                m_connections.append(connection);
            }
        });
    }

    QUrl url(const QString &path = u"/events"_s) const
    {
        return QUrl(u"http://127.0.0.1:%1%2"_s.arg(m_server.serverPort()).arg(path));
    }
    const QList<Request> &requests() const { return m_requests; }
    qsizetype connectionCount() const { return m_connections.size(); }
    int closedConnections() const { return m_closedConnections; }
    // Writes on the n-th connection, outside any script.
    void send(qsizetype connection, const QByteArray &bytes) { m_connections.at(connection)->write(bytes); }

private:
    QTcpServer m_server;
    QList<Script> m_scripts;
    QList<Connection *> m_connections;
    QList<Request> m_requests;
    int m_closedConnections = 0;
};

// A source set up for tests: quick reconnects (10 ms doubling up to 100 ms).
std::unique_ptr<SseEventSource> makeSource(const QUrl &url)
{
    auto source = std::make_unique<SseEventSource>(url);
    source->setReconnectDelay(10, 100);
    source->setConnectTimeout(5000);
    return source;
}

SseEvent eventAt(const QSignalSpy &spy, qsizetype i)
{
    return spy.at(i).at(0).value<SseEvent>();
}

QList<SseEventSource::ReadyState> states(const QSignalSpy &spy)
{
    QList<SseEventSource::ReadyState> result;
    for (const auto &arguments : spy)
        result.append(arguments.at(0).value<SseEventSource::ReadyState>());
    return result;
}

// Records, under a lock, which thread each event was delivered on.
struct ThreadLog
{
    QMutex mutex;
    QList<QThread *> threads;
    QStringList data;

    void record(const SseEvent &event)
    {
        QMutexLocker lock(&mutex);
        threads.append(QThread::currentThread());
        data.append(event.data());
    }
    qsizetype size()
    {
        QMutexLocker lock(&mutex);
        return threads.size();
    }
};

} // namespace

class tst_SseEventSource : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void events_arrive_in_order_with_type_data_and_id();
    void nul_bytes_in_data_survive();
    void a_long_id_shared_by_many_events_is_carried_by_each_and_announced_once();
    void repeated_and_changing_types_ids_and_data_decode_like_from_utf8();
    void opened_200_and_ready_state_sequence();
    void reconnects_with_last_event_id_after_server_close();
    void http_404_is_a_fatal_error_and_closes();
    void wrong_content_type_is_a_fatal_error();
    void gives_up_after_max_retries();
    void comments_are_reported();
    void bad_configuration_reports_a_configuration_error_data();
    void bad_configuration_reports_a_configuration_error();
    void close_from_event_slot_stops_delivery();
    void open_again_after_close_resumes_with_last_event_id();
    void add_event_listener_filters_by_type();
    void destruction_while_open_neither_crashes_nor_hangs();
    void destruction_while_connecting_to_a_silent_server();
    void deleting_the_source_from_an_event_slot_is_safe();
    void open_on_a_worker_thread_delivers_there();
    void moving_an_open_source_to_another_thread_keeps_delivering();
    void moving_to_another_thread_from_an_event_slot_delivers_the_rest_there();
    void post_with_body_and_header_reaches_the_server();
    void a_refused_post_reports_plain_words_without_c_function_names();
    void a_burst_larger_than_queue_and_batch_arrives_complete_and_in_order();
    void an_event_over_max_event_size_is_an_error_then_a_reconnect();
    void a_silent_stream_hits_the_read_timeout_and_reconnects();
    void restart_while_open_reconnects_with_last_event_id();
};

void tst_SseEventSource::events_arrive_in_order_with_type_data_and_id()
{
    ScriptedServer server({Script::stream().send("event: greeting\ndata: hello\nid: 1\n\n"
                                                 "data: line1\ndata: line2\nid: 2\n\n"
                                                 "event: update\ndata: {\"x\":1}\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    QSignalSpy ids(source.get(), &SseEventSource::lastEventIdChanged);
    source->open();

    QTRY_COMPARE(events.size(), 3);
    QCOMPARE(eventAt(events, 0), SseEvent(u"greeting"_s, u"hello"_s, u"1"_s));
    QCOMPARE(eventAt(events, 1), SseEvent(u"message"_s, u"line1\nline2"_s, u"2"_s));
    QCOMPARE(eventAt(events, 2), SseEvent(u"update"_s, u"{\"x\":1}"_s, u"2"_s));
    QCOMPARE(source->lastEventId(), u"2"_s);
    QCOMPARE(ids.size(), 2);
    QCOMPARE(ids.at(0).at(0).toString(), u"1"_s);
    QCOMPARE(ids.at(1).at(0).toString(), u"2"_s);
    QCOMPARE(server.requests().size(), 1);
    QCOMPARE(server.requests().at(0).method, QByteArray("GET"));
    QCOMPARE(server.requests().at(0).target, QByteArray("/events"));
    QCOMPARE(server.requests().at(0).header("accept"), QByteArray("text/event-stream"));
}

void tst_SseEventSource::repeated_and_changing_types_ids_and_data_decode_like_from_utf8()
{
    // The delivery path caches the last types and ID and reuses string buffers: events
    // must still equal the plain decoding, and events kept by slots must not change.
    const QByteArray big(5000, 'z'); // longer than the buffers kept for reuse
    const QByteArray e = "\xc3\xa9";  // U+00E9 in UTF-8
    struct Expected
    {
        QByteArray type, data, id;
    };
    const QList<Expected> expected {
        {"a", "1", ""},         {"b", "h" + e, "1"},    {"c", "3", "1"},        {"d", "", "1"},
        {"e", "5", "1"},        {"a", "6", e},          {"message", "7", e},    {e + "t" + e, "8", e},
        {e + "t" + e, big, ""}, {"b", "10", "x"},       {"message", "11", "x"}, {"f", "12", "x"},
        {"g", "13", "x"},       {"message", "14", "x"}, {"c", "15", "x"},
    };
    const QByteArray stream = "event: a\ndata: 1\n\n"
                              "event: b\ndata: h" + e + "\nid: 1\n\n"
                              "event: c\ndata: 3\n\n"
                              "event: d\ndata:\n\n"
                              "event: e\ndata: 5\nid: 1\n\n"
                              "event: a\ndata: 6\nid: " + e + "\n\n"
                              "data: 7\nid: " + e + "\n\n"
                              "event: " + e + "t" + e + "\ndata: 8\n\n"
                              "event: " + e + "t" + e + "\ndata: " + big + "\nid:\n\n"
                              "event: b\ndata: 10\nid: x\n\n"
                              "data: 11\n\n"
                              "event: f\ndata: 12\n\n"
                              "event: g\ndata: 13\n\n"
                              "data: 14\n\n"
                              "event: c\ndata: 15\n\n";
    ScriptedServer server({Script::stream().send(stream)});
    auto source = makeSource(server.url());
    QList<SseEvent> kept;
    connect(source.get(), &SseEventSource::eventReceived, this, [&](const SseEvent &event) { kept << event; });
    QSignalSpy ids(source.get(), &SseEventSource::lastEventIdChanged);
    source->open();

    QTRY_COMPARE(kept.size(), expected.size());
    for (qsizetype i = 0; i < expected.size(); ++i) {
        const SseEvent want(QString::fromUtf8(expected[i].type), QString::fromUtf8(expected[i].data),
                            QString::fromUtf8(expected[i].id));
        QCOMPARE(kept.at(i), want);
        QVERIFY(!kept.at(i).id().isNull()); // "" when the stream has set no ID, not null
        QVERIFY(!kept.at(i).type().isNull());
    }
    QCOMPARE(source->lastEventId(), u"x"_s);
    QStringList changes;
    for (const QList<QVariant> &arguments : std::as_const(ids))
        changes << arguments.at(0).toString();
    QCOMPARE(changes, (QStringList {u"1"_s, u"\u00e9"_s, QString(), u"x"_s}));
}

void tst_SseEventSource::a_long_id_shared_by_many_events_is_carried_by_each_and_announced_once()
{
    // The library shares a long ID between the events of a batch (one copy), and the
    // wrapper then skips comparing it again: each event must still carry it, the change be
    // announced once, and an ID the host sets in between be replaced by the stream's again.
    const QByteArray longId(100000, 'L');
    QByteArray stream = "id: " + longId + "\n\n";
    for (int i = 0; i < 50; ++i)
        stream += "data: " + QByteArray::number(i) + "\n\n";
    stream += "id: 2\ndata: last\n\n";
    ScriptedServer server({Script::stream().send(stream)});
    auto source = makeSource(server.url());
    QList<SseEvent> kept;
    connect(source.get(), &SseEventSource::eventReceived, this, [&, s = source.get()](const SseEvent &event) {
        kept << event;
        if (kept.size() == 20)
            s->setLastEventId(u"set by the host"_s);
    });
    QSignalSpy ids(source.get(), &SseEventSource::lastEventIdChanged);
    source->open();

    QTRY_COMPARE(kept.size(), 51);
    const QString expectedId = QString::fromLatin1(longId);
    for (qsizetype i = 0; i < 50; ++i) {
        QCOMPARE(kept.at(i).data(), QString::number(i));
        QVERIFY2(kept.at(i).id() == expectedId, qPrintable(QStringLiteral("event %1").arg(i)));
    }
    QCOMPARE(kept.at(50).id(), u"2"_s);
    QCOMPARE(source->lastEventId(), u"2"_s);
    QStringList changes;
    for (const QList<QVariant> &arguments : std::as_const(ids))
        changes << arguments.at(0).toString();
    QCOMPARE(changes, (QStringList {expectedId, u"set by the host"_s, expectedId, u"2"_s}));
}

void tst_SseEventSource::nul_bytes_in_data_survive()
{
    ScriptedServer server({Script::stream().send(QByteArray("data: a\0b \xc3\xa9\n\n", 14))});
    auto source = makeSource(server.url());
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();

    QTRY_COMPARE(events.size(), 1);
    const QString data = eventAt(events, 0).data();
    QCOMPARE(data.size(), 5);
    QCOMPARE(data, QStringView(u"a\0b \u00e9", 5).toString());
}

void tst_SseEventSource::opened_200_and_ready_state_sequence()
{
    ScriptedServer server({Script::stream().send("data: x\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy states(source.get(), &SseEventSource::readyStateChanged);
    QSignalSpy opened(source.get(), &SseEventSource::opened);
    SseEventSource::ReadyState stateInOpenedSlot = SseEventSource::Closed;
    connect(source.get(), &SseEventSource::opened, this,
            [&, s = source.get()] { stateInOpenedSlot = s->readyState(); });

    QCOMPARE(source->readyState(), SseEventSource::Closed);
    source->open();
    QCOMPARE(source->readyState(), SseEventSource::Connecting);
    QTRY_COMPARE(opened.size(), 1);
    QCOMPARE(opened.at(0).at(0).toInt(), 200);
    QCOMPARE(source->readyState(), SseEventSource::Open);
    QCOMPARE(stateInOpenedSlot, SseEventSource::Open);

    source->close();
    QCOMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(::states(states), (QList<SseEventSource::ReadyState>{SseEventSource::Connecting, SseEventSource::Open,
                                                                  SseEventSource::Closed}));
    source->close(); // idempotent
    QCOMPARE(states.size(), 3);
}

void tst_SseEventSource::reconnects_with_last_event_id_after_server_close()
{
    ScriptedServer server({Script::stream().send("id: 41\ndata: a\n\nid: 42\ndata: b\n\n").close(),
                           Script::stream().send("data: c\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy states(source.get(), &SseEventSource::readyStateChanged);
    QSignalSpy opened(source.get(), &SseEventSource::opened);
    source->open();

    QTRY_COMPARE(events.size(), 3);
    QCOMPARE(eventAt(events, 2), SseEvent(u"message"_s, u"c"_s, u"42"_s)); // the ID carries over
    QCOMPARE(server.requests().size(), 2);
    QVERIFY(!server.requests().at(0).hasHeader("last-event-id"));
    QCOMPARE(server.requests().at(1).header("last-event-id"), QByteArray("42"));
    QCOMPARE(opened.size(), 2);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::StreamEnded);
    QCOMPARE(errors.at(0).at(3).toBool(), true);
    QCOMPARE(::states(states), (QList<SseEventSource::ReadyState>{SseEventSource::Connecting, SseEventSource::Open,
                                                                  SseEventSource::Connecting, SseEventSource::Open}));
}

void tst_SseEventSource::http_404_is_a_fatal_error_and_closes()
{
    ScriptedServer server({Script::response(404, "Not Found", "text/plain", "not found")});
    auto source = makeSource(server.url());
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy states(source.get(), &SseEventSource::readyStateChanged);
    QSignalSpy opened(source.get(), &SseEventSource::opened);
    source->open();

    QTRY_COMPARE(errors.size(), 1);
    const QList<QVariant> error = errors.at(0);
    QCOMPARE(error.at(0).value<SseEventSource::ErrorKind>(), SseEventSource::HttpStatus);
    QCOMPARE(error.at(1).toInt(), 404);
    QVERIFY2(!error.at(2).toString().isEmpty(), "the error has a message");
    QCOMPARE(error.at(3).toBool(), false);
    QTRY_COMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(::states(states), (QList<SseEventSource::ReadyState>{SseEventSource::Connecting, SseEventSource::Closed}));
    QCOMPARE(source->errorString(), error.at(2).toString());
    QTest::qWait(150); // more than the reconnect delay: no retry of a 404
    QCOMPARE(server.connectionCount(), 1);
    QCOMPARE(opened.size(), 0);
    QCOMPARE(errors.size(), 1);
}

void tst_SseEventSource::wrong_content_type_is_a_fatal_error()
{
    ScriptedServer server({Script::response(200, "OK", "text/html", "<p>hi</p>")});
    auto source = makeSource(server.url());
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    source->open();

    QTRY_COMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::ContentType);
    QCOMPARE(errors.at(0).at(3).toBool(), false);
    QTRY_COMPARE(source->readyState(), SseEventSource::Closed);
}

void tst_SseEventSource::gives_up_after_max_retries()
{
    // A port nobody listens on: every attempt is refused.
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        port = probe.serverPort();
    }
    auto source = makeSource(QUrl(u"http://127.0.0.1:%1/events"_s.arg(port)));
    source->setMaxRetries(2);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    source->open();

    // Two retries: the first attempt and both retries fail, then the source closes.
    QTRY_COMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(errors.size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(errors.at(i).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::Connect);
        QCOMPARE(errors.at(i).at(3).toBool(), i < 2);
    }
}

void tst_SseEventSource::comments_are_reported()
{
    ScriptedServer server({Script::stream().send(": keep-alive\n:no space\ndata: after\n\n")});
    auto source = makeSource(server.url());
    QStringList seen;
    connect(source.get(), &SseEventSource::commentReceived, this, [&](const QString &text) { seen << u"comment "_s + text; });
    connect(source.get(), &SseEventSource::eventReceived, this, [&](const SseEvent &e) { seen << u"event "_s + e.data(); });
    source->open();

    QTRY_COMPARE(seen.size(), 3);
    QCOMPARE(seen, (QStringList{u"comment keep-alive"_s, u"comment no space"_s, u"event after"_s}));
}

void tst_SseEventSource::bad_configuration_reports_a_configuration_error_data()
{
    QTest::addColumn<QUrl>("url");
    QTest::addColumn<QByteArray>("headerName");
    QTest::addColumn<QByteArray>("headerValue");
    QTest::addColumn<QString>("mentions");

    const QUrl good(u"http://127.0.0.1:1/events"_s);
    QTest::newRow("ftp scheme") << QUrl(u"ftp://example.com/events"_s) << QByteArray() << QByteArray() << u"URL"_s;
    QTest::newRow("empty URL") << QUrl() << QByteArray() << QByteArray() << u"URL"_s;
    QTest::newRow("invalid URL") << QUrl(u"http://exa mple.com/"_s) << QByteArray() << QByteArray() << u"URL"_s;
    QTest::newRow("relative URL") << QUrl(u"/events"_s) << QByteArray() << QByteArray() << u"URL"_s;
    QTest::newRow("header value with CRLF") << good << QByteArray("X-Token") << QByteArray("a\r\nEvil: 1")
                                            << u"header"_s;
    QTest::newRow("header name with a space") << good << QByteArray("Bad Name") << QByteArray("v") << u"header"_s;
    QTest::newRow("Last-Event-ID as a header") << good << QByteArray("Last-Event-ID") << QByteArray("1")
                                               << u"header"_s;
}

void tst_SseEventSource::bad_configuration_reports_a_configuration_error()
{
    QFETCH(QUrl, url);
    QFETCH(QByteArray, headerName);
    QFETCH(QByteArray, headerValue);
    QFETCH(QString, mentions);

    auto source = makeSource(url);
    if (!headerName.isEmpty())
        source->setRawHeader(headerName, headerValue);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy states(source.get(), &SseEventSource::readyStateChanged);
    source->open();

    // Reported before open() returns.
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::Configuration);
    QCOMPARE(errors.at(0).at(1).toInt(), 0);
    const QString message = errors.at(0).at(2).toString();
    QVERIFY2(message.contains(mentions), qPrintable(message));
    QCOMPARE(errors.at(0).at(3).toBool(), false);
    QCOMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(states.size(), 0); // it never left Closed
    qInfo("message: %s", qPrintable(message));
}

void tst_SseEventSource::close_from_event_slot_stops_delivery()
{
    ScriptedServer server({Script::stream().send("data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QStringList received;
    connect(source.get(), &SseEventSource::eventReceived, this, [&, s = source.get()](const SseEvent &e) {
        received << e.data();
        s->close();
    });
    source->open();

    QTRY_COMPARE(received.size(), 1);
    QCOMPARE(source->readyState(), SseEventSource::Closed);
    QTRY_COMPARE(server.closedConnections(), 1); // the client hung up
    QTest::qWait(100);
    QCOMPARE(received, QStringList{u"1"_s});
    QCOMPARE(errors.size(), 0); // a close the host asked for is not an error
}

void tst_SseEventSource::open_again_after_close_resumes_with_last_event_id()
{
    ScriptedServer server({Script::stream().send("id: 7\ndata: a\n\n"), Script::stream().send("data: b\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();
    QTRY_COMPARE(events.size(), 1);
    source->close();
    QTRY_COMPARE(server.closedConnections(), 1);

    source->open();
    QTRY_COMPARE(events.size(), 2);
    QCOMPARE(eventAt(events, 1).data(), u"b"_s);
    QCOMPARE(server.requests().at(1).header("last-event-id"), QByteArray("7"));
    QCOMPARE(source->readyState(), SseEventSource::Open);

    // setLastEventId() before open() replaces it; an empty one starts afresh.
    source->close();
    source->setLastEventId(QString());
    source->open();
    QTRY_COMPARE(server.requests().size(), 3);
    QVERIFY(!server.requests().at(2).hasHeader("last-event-id"));
}

namespace {
class Listener : public QObject
{
public:
    QStringList seen;
    void onUpdate(const SseEvent &event) { seen << event.data(); }
};
} // namespace

void tst_SseEventSource::add_event_listener_filters_by_type()
{
    ScriptedServer server({Script::stream().send("event: update\ndata: u1\n\ndata: m1\n\nevent: other\ndata: o1\n\n"
                                                 "event: update\ndata: u2\n\n")});
    auto source = makeSource(server.url());
    QStringList messages;
    Listener listener;
    source->addEventListener(u"message"_s, this, [&](const SseEvent &e) { messages << e.data(); });
    const QMetaObject::Connection updates = source->addEventListener(u"update"_s, &listener, &Listener::onUpdate);
    QVERIFY(updates);
    QSignalSpy all(source.get(), &SseEventSource::eventReceived);
    source->open();

    QTRY_COMPARE(all.size(), 4);
    QCOMPARE(messages, QStringList{u"m1"_s});
    QCOMPARE(listener.seen, (QStringList{u"u1"_s, u"u2"_s}));

    QVERIFY(QObject::disconnect(updates)); // removeEventListener
    server.send(0, "event: update\ndata: u3\n\n");
    QTRY_COMPARE(all.size(), 5);
    QCOMPARE(listener.seen.size(), 2);
}

void tst_SseEventSource::destruction_while_open_neither_crashes_nor_hangs()
{
    ScriptedServer server({Script::stream().send("data: 1\n\n")});
    auto source = makeSource(server.url());
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();
    QTRY_COMPARE(events.size(), 1);

    // Queue more messages without letting the event loop drain them, then destroy.
    server.send(0, "data: 2\n\ndata: 3\n\n");
    QTest::qWait(0);
    QThread::msleep(50);
    QElapsedTimer timer;
    timer.start();
    source.reset();
    QVERIFY2(timer.elapsed() < 2000, "destruction waits at most briefly for the worker");
    QTRY_COMPARE(server.closedConnections(), 1);
}

void tst_SseEventSource::destruction_while_connecting_to_a_silent_server()
{
    ScriptedServer server({Script::silent()}); // reads the request, never answers
    auto source = makeSource(server.url());
    source->open();
    QTRY_COMPARE(server.requests().size(), 1);
    QCOMPARE(source->readyState(), SseEventSource::Connecting);

    QElapsedTimer timer;
    timer.start();
    source.reset();
    QVERIFY2(timer.elapsed() < 2000, "destruction interrupts the wait for the response");
    QTRY_COMPARE(server.closedConnections(), 1);
}

void tst_SseEventSource::deleting_the_source_from_an_event_slot_is_safe()
{
    ScriptedServer server({Script::stream().send("data: 1\n\ndata: 2\n\ndata: 3\n\n")});
    auto *source = makeSource(server.url()).release();
    QPointer<SseEventSource> guard(source);
    int received = 0;
    connect(source, &SseEventSource::eventReceived, this, [&](const SseEvent &) {
        ++received;
        delete source;
    });
    source->open();

    QTRY_VERIFY(guard.isNull());
    QTest::qWait(50);
    QCOMPARE(received, 1);
    QTRY_COMPARE(server.closedConnections(), 1);
}

void tst_SseEventSource::open_on_a_worker_thread_delivers_there()
{
    ScriptedServer server({Script::stream().send("data: one\n\ndata: two\n\n")});
    QThread worker;
    worker.start();
    auto *source = makeSource(server.url()).release();
    source->moveToThread(&worker);

    ThreadLog direct;
    connect(source, &SseEventSource::eventReceived, source, [&](const SseEvent &e) { direct.record(e); },
            Qt::DirectConnection);
    QStringList queuedToMain; // a queued connection carries SseEvent across threads
    QThread *queuedThread = nullptr;
    connect(source, &SseEventSource::eventReceived, this, [&](const SseEvent &e) {
        queuedToMain << e.data();
        queuedThread = QThread::currentThread();
    });
    QMetaObject::invokeMethod(source, &SseEventSource::open); // queued: runs on the worker

    QTRY_COMPARE(direct.size(), 2);
    QTRY_COMPARE(queuedToMain.size(), 2);
    {
        QMutexLocker lock(&direct.mutex);
        QCOMPARE(direct.threads, (QList<QThread *>{&worker, &worker}));
        QCOMPARE(direct.data, (QStringList{u"one"_s, u"two"_s}));
    }
    QCOMPARE(queuedToMain, (QStringList{u"one"_s, u"two"_s}));
    QCOMPARE(queuedThread, QThread::currentThread());

    // Destroyed on its own thread while open.
    QMetaObject::invokeMethod(source, [source] { source->deleteLater(); }, Qt::BlockingQueuedConnection);
    worker.quit();
    QVERIFY(worker.wait(5000));
    QTRY_COMPARE(server.closedConnections(), 1);
}

void tst_SseEventSource::moving_an_open_source_to_another_thread_keeps_delivering()
{
    ScriptedServer server({Script::stream().send("data: before\n\n")});
    auto source = makeSource(server.url());
    ThreadLog log;
    connect(source.get(), &SseEventSource::eventReceived, source.get(), [&](const SseEvent &e) { log.record(e); },
            Qt::DirectConnection);
    source->open();
    QTRY_COMPARE(log.size(), 1);

    QThread worker;
    worker.start();
    source->moveToThread(&worker); // the notifier, a child, moves along
    server.send(0, "data: on worker\n\n");
    QTRY_COMPARE(log.size(), 2);

    // And back, still open.
    QThread *const mainThread = QThread::currentThread();
    QMetaObject::invokeMethod(
        source.get(), [s = source.get(), mainThread] { s->moveToThread(mainThread); }, Qt::BlockingQueuedConnection);
    server.send(0, "data: back\n\n");
    QTRY_COMPARE(log.size(), 3);
    {
        QMutexLocker lock(&log.mutex);
        QCOMPARE(log.threads, (QList<QThread *>{mainThread, &worker, mainThread}));
        QCOMPARE(log.data, (QStringList{u"before"_s, u"on worker"_s, u"back"_s}));
    }
    QCOMPARE(source->readyState(), SseEventSource::Open);
    QCOMPARE(server.connectionCount(), 1); // the stream never dropped
    worker.quit();
    QVERIFY(worker.wait(5000));
}

void tst_SseEventSource::moving_to_another_thread_from_an_event_slot_delivers_the_rest_there()
{
    ScriptedServer server({Script::stream().send("data: 1\n\ndata: 2\n\ndata: 3\n\n")});
    QThread worker;
    worker.start();
    auto source = makeSource(server.url());
    ThreadLog log;
    connect(source.get(), &SseEventSource::eventReceived, source.get(),
            [&, s = source.get()](const SseEvent &e) {
                log.record(e);
                if (e.data() == u"1"_s)
                    s->moveToThread(&worker); // in the middle of a batch
            },
            Qt::DirectConnection);
    source->open();

    QTRY_COMPARE(log.size(), 3);
    {
        QMutexLocker lock(&log.mutex);
        QCOMPARE(log.threads, (QList<QThread *>{QThread::currentThread(), &worker, &worker}));
        QCOMPARE(log.data, (QStringList{u"1"_s, u"2"_s, u"3"_s}));
    }
    QMetaObject::invokeMethod(source.get(), [s = source.get()] { s->moveToThread(QCoreApplication::instance()->thread()); },
                              Qt::BlockingQueuedConnection);
    worker.quit();
    QVERIFY(worker.wait(5000));
}

void tst_SseEventSource::post_with_body_and_header_reaches_the_server()
{
    ScriptedServer server({Script::stream().send("data: ok\n\n")});
    auto source = makeSource(server.url(u"/v1/stream?x=1"_s));
    source->setMethod("POST");
    source->setBody(R"({"prompt":"hi"})");
    source->setRawHeader("Authorization", "Bearer secret");
    source->setRawHeader("content-type", "text/plain");
    source->setRawHeader("Content-Type", "application/json"); // replaces, case-insensitively
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();

    QTRY_COMPARE(events.size(), 1);
    QCOMPARE(server.requests().size(), 1);
    const Request &request = server.requests().at(0);
    QCOMPARE(request.method, QByteArray("POST"));
    QCOMPARE(request.target, QByteArray("/v1/stream?x=1"));
    QCOMPARE(request.body, QByteArray(R"({"prompt":"hi"})"));
    QCOMPARE(request.header("authorization"), QByteArray("Bearer secret"));
    QCOMPARE(request.header("content-type"), QByteArray("application/json"));
    QCOMPARE(request.header("accept"), QByteArray("text/event-stream"));
}

// The library's error names the setting that would allow a retry; a Qt user cannot call
// the C function the C API names there (sse_config_set_retry_non_get), so the wrapper
// keeps the plain words and adds none of the C API's.
void tst_SseEventSource::a_refused_post_reports_plain_words_without_c_function_names()
{
    ScriptedServer server({Script::response(503, "Service Unavailable", "text/plain", "busy")});
    auto source = makeSource(server.url());
    source->setMethod("POST");
    source->setBody("{}");
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    source->open();

    QTRY_COMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(errors.size(), 1);
    const QList<QVariant> error = errors.at(0);
    QCOMPARE(error.at(1).toInt(), 503);
    QCOMPARE(error.at(3).toBool(), false);
    const QString message = error.at(2).toString();
    QVERIFY2(message.endsWith(u"; not reconnecting: a POST request is not sent again unless retrying non-GET "
                              u"requests is allowed"_s),
             qPrintable(message));
    QVERIFY2(!message.contains(u"sse_"_s), qPrintable(message));
    QCOMPARE(source->errorString(), message);
    QCOMPARE(server.connectionCount(), 1);
}

void tst_SseEventSource::a_burst_larger_than_queue_and_batch_arrives_complete_and_in_order()
{
    // 3000 events in one write; the library may queue 16 at a time (it stops reading the
    // socket meanwhile) and the source delivers at most 1024 per wakeup.
    QByteArray burst;
    for (int i = 0; i < 3000; ++i)
        burst += "id: " + QByteArray::number(i) + "\ndata: " + QByteArray::number(i) + "\n\n";
    ScriptedServer server({Script::stream().send(burst)});
    auto source = makeSource(server.url());
    source->setQueueCapacity(16);
    QStringList received;
    connect(source.get(), &SseEventSource::eventReceived, this, [&](const SseEvent &e) { received << e.data(); });
    int timerTicks = 0; // the event loop keeps running during the burst
    QTimer ticker;
    connect(&ticker, &QTimer::timeout, this, [&] {
        if (!received.isEmpty() && received.size() < 3000)
            ++timerTicks;
    });
    ticker.start(0);
    source->open();

    QTRY_COMPARE(received.size(), 3000);
    for (int i = 0; i < 3000; ++i)
        QCOMPARE(received.at(i), QString::number(i));
    QCOMPARE(source->lastEventId(), u"2999"_s);
    QVERIFY(timerTicks > 0);
}

void tst_SseEventSource::an_event_over_max_event_size_is_an_error_then_a_reconnect()
{
    ScriptedServer server({Script::stream().send("data: " + QByteArray(200, 'x') + "\n\n").close(),
                           Script::stream().send("data: small\n\n")});
    auto source = makeSource(server.url());
    source->setMaxEventSize(100);
    QCOMPARE(source->maxEventSize(), 100);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();

    QTRY_COMPARE(events.size(), 1);
    QCOMPARE(eventAt(events, 0).data(), u"small"_s);
    QVERIFY(errors.size() >= 1);
    QCOMPARE(errors.at(0).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::EventTooLarge);
    QCOMPARE(errors.at(0).at(3).toBool(), true);
}

void tst_SseEventSource::a_silent_stream_hits_the_read_timeout_and_reconnects()
{
    ScriptedServer server({Script::stream(), Script::stream().send("data: second\n\n")});
    auto source = makeSource(server.url());
    source->setReadTimeout(200);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    source->open();

    QTRY_COMPARE(events.size(), 1);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.at(0).at(0).value<SseEventSource::ErrorKind>(), SseEventSource::ReadTimeout);
    QCOMPARE(errors.at(0).at(3).toBool(), true);
    QCOMPARE(server.connectionCount(), 2);
}

void tst_SseEventSource::restart_while_open_reconnects_with_last_event_id()
{
    ScriptedServer server({Script::stream().send("id: 9\ndata: a\n\n"), Script::stream().send("data: b\n\n")});
    auto source = makeSource(server.url());
    // A backoff far beyond the test: only restart() can reconnect in time.
    source->setReconnectDelay(600000, 600000);
    QSignalSpy events(source.get(), &SseEventSource::eventReceived);
    QSignalSpy errors(source.get(), &SseEventSource::errorOccurred);
    QSignalSpy states(source.get(), &SseEventSource::readyStateChanged);
    QSignalSpy opened(source.get(), &SseEventSource::opened);

    source->restart(); // Closed: a no-op
    QCOMPARE(source->readyState(), SseEventSource::Closed);
    QCOMPARE(states.size(), 0);

    source->open();
    QTRY_COMPARE(events.size(), 1);
    QCOMPARE(server.connectionCount(), 1);
    source->restart();
    QTRY_COMPARE(events.size(), 2);
    QCOMPARE(eventAt(events, 1), SseEvent(u"message"_s, u"b"_s, u"9"_s));
    QCOMPARE(server.requests().size(), 2);
    QVERIFY(!server.requests().at(0).hasHeader("last-event-id"));
    QCOMPARE(server.requests().at(1).header("last-event-id"), QByteArray("9"));
    QTRY_COMPARE(server.closedConnections(), 1); // the first connection was dropped
    QCOMPARE(errors.size(), 0);                 // a restart is not an error
    QCOMPARE(opened.size(), 2);
    QCOMPARE(::states(states), (QList<SseEventSource::ReadyState>{SseEventSource::Connecting, SseEventSource::Open,
                                                                  SseEventSource::Connecting, SseEventSource::Open}));

    source->close();
    source->restart(); // after close: a no-op
    QTest::qWait(100);
    QCOMPARE(server.connectionCount(), 2);
    QCOMPARE(source->readyState(), SseEventSource::Closed);
}

QTEST_GUILESS_MAIN(tst_SseEventSource)

#include "tst_sseeventsource.moc"
