// SseEventSource: a Qt front end to the sse_client C library, modelled on the browser
// EventSource and on QWebSocket / QMqttClient.
//
// Public header of the `SseClient::Qt` CMake target. It does not include sse_client.h:
// the C library stays an implementation detail (but it is linked, through the target).

#ifndef SSEEVENTSOURCE_H
#define SSEEVENTSOURCE_H

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QPair>
#include <QtCore/QString>
#include <QtCore/QUrl>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

// The C handle (see sse_client.h), forward-declared so that this header stays Qt-only.
struct sse_client;
struct sse_batch;
struct sse_message;
class QSocketNotifier;

// One Server-Sent Event: a value type (a Q_GADGET), copyable and usable in queued
// connections, QVariant and QML.
class SseEvent
{
    Q_GADGET
    Q_PROPERTY(QString type READ type CONSTANT)
    Q_PROPERTY(QString data READ data CONSTANT)
    Q_PROPERTY(QString id READ id CONSTANT)

public:
    SseEvent() = default;
    SseEvent(QString type, QString data, QString id)
        : m_type(std::move(type)), m_data(std::move(data)), m_id(std::move(id)) {}

    // The `event:` field; "message" when the event had none (as in the browser).
    QString type() const { return m_type; }
    // The `data:` lines joined with "\n", decoded from UTF-8 with its length: NUL
    // characters in the data survive.
    QString data() const { return m_data; }
    // The last event ID after this event ("" if the stream has not set one).
    QString id() const { return m_id; }

    friend bool operator==(const SseEvent &a, const SseEvent &b)
    {
        return a.m_type == b.m_type && a.m_data == b.m_data && a.m_id == b.m_id;
    }
    friend bool operator!=(const SseEvent &a, const SseEvent &b) { return !(a == b); }

private:
    QString m_type;
    QString m_data;
    QString m_id;
};

Q_DECLARE_METATYPE(SseEvent)

// An EventSource: connects to a URL, delivers events, reconnects by itself.
//
// Threading: an SseEventSource lives in one thread, like every QObject. All signals are
// emitted on that thread (the library's worker thread never touches this object: messages
// are queued by the C library and drained here when a QSocketNotifier on its wakeup
// handle fires: a descriptor on POSIX, a SOCKET on Windows). Call open(), close() and the setters on the object's thread (from another
// thread use QMetaObject::invokeMethod). moveToThread() works, also while open.
//
// Configuration (headers, method, body, timeouts...) is applied on the next open().
// A configuration the library rejects (bad URL, bad header...) makes open() report
// errorOccurred(Configuration, 0, message, false) before it returns and leaves the
// readyState Closed: never a crash.
class SseEventSource : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QUrl url READ url WRITE setUrl NOTIFY urlChanged)
    Q_PROPERTY(ReadyState readyState READ readyState NOTIFY readyStateChanged)
    Q_PROPERTY(QString lastEventId READ lastEventId WRITE setLastEventId NOTIFY lastEventIdChanged)
    // Configuration, applied on the next open(). -1 means "the library's default".
    Q_PROPERTY(QByteArray method READ method WRITE setMethod NOTIFY configurationChanged)
    Q_PROPERTY(QByteArray body READ body WRITE setBody NOTIFY configurationChanged)
    Q_PROPERTY(int reconnectInitialDelay READ reconnectInitialDelay NOTIFY configurationChanged)
    Q_PROPERTY(int reconnectMaxDelay READ reconnectMaxDelay NOTIFY configurationChanged)
    Q_PROPERTY(int maxRetries READ maxRetries WRITE setMaxRetries NOTIFY configurationChanged)
    Q_PROPERTY(int connectTimeout READ connectTimeout WRITE setConnectTimeout NOTIFY configurationChanged)
    Q_PROPERTY(int readTimeout READ readTimeout WRITE setReadTimeout NOTIFY configurationChanged)
    Q_PROPERTY(qint64 maxEventSize READ maxEventSize WRITE setMaxEventSize NOTIFY configurationChanged)
    Q_PROPERTY(qint64 queueCapacity READ queueCapacity WRITE setQueueCapacity NOTIFY configurationChanged)
    Q_PROPERTY(int maxRedirects READ maxRedirects WRITE setMaxRedirects NOTIFY configurationChanged)

public:
    // The values of the browser EventSource.readyState (and of sse_ready_state).
    enum ReadyState { Connecting = 0, Open = 1, Closed = 2 };
    Q_ENUM(ReadyState)

    // Why a connection failed. The first seven equal the C library's sse_error_kind.
    enum ErrorKind {
        Connect = 0,       // DNS, TCP or TLS failure
        HttpStatus = 1,    // a status other than 200 (httpStatus says which)
        ContentType = 2,   // not text/event-stream
        StreamEnded = 3,   // the server closed the stream
        Io = 4,            // the connection broke mid-stream
        ReadTimeout = 5,   // nothing arrived within the read timeout
        EventTooLarge = 6, // an event exceeded maxEventSize
        Configuration = 100, // open() rejected the configuration (URL, header, ...)
        Resource = 101,      // open() could not start the client (thread, wakeup handle)
    };
    Q_ENUM(ErrorKind)

    explicit SseEventSource(QObject *parent = nullptr);
    explicit SseEventSource(const QUrl &url, QObject *parent = nullptr);
    // Closes the stream if needed and frees the C client (joins its worker thread: quick,
    // except during a DNS lookup or TCP connect, bounded by the connect timeout).
    ~SseEventSource() override;

    QUrl url() const { return m_url; }
    void setUrl(const QUrl &url);

    ReadyState readyState() const { return m_readyState; }

    // The last event ID: the `id` of the last event received (it carries over
    // reconnects and is sent as Last-Event-ID), or the one set here before open().
    // open() sends it on its first request too, so open() after close() resumes the
    // stream; setLastEventId(QString()) before open() starts afresh.
    QString lastEventId() const { return m_lastEventId; }
    void setLastEventId(const QString &id);

    // --- Configuration, applied on the next open() -----------------------------------
    // Numeric settings: a negative value restores the library's default (getters then
    // return -1). Each default is stated once, in the comment of the matching
    // sse_config_set_* function in sse_client.h; this header does not repeat the numbers.
    // A request header sent with every attempt. Setting a name again replaces its value
    // (names compare case-insensitively); a null value removes the header.
    // Accept and Cache-Control replace the library's defaults; Last-Event-ID is managed
    // by the library (use setLastEventId) and is rejected at open().
    void setRawHeader(const QByteArray &name, const QByteArray &value);
    // Replaces all headers set so far.
    void setRawHeaders(const QList<QPair<QByteArray, QByteArray>> &headers);
    QByteArray rawHeader(const QByteArray &name) const;
    bool hasRawHeader(const QByteArray &name) const;
    QList<QPair<QByteArray, QByteArray>> rawHeaders() const { return m_headers; }

    // The HTTP method (empty: the library default, GET) and request body (for POST
    // streaming APIs; empty: none).
    QByteArray method() const { return m_method; }
    void setMethod(const QByteArray &method);
    QByteArray body() const { return m_body; }
    void setBody(const QByteArray &body);

    // The first wait after a lost connection (the server's `retry:` replaces it), doubled
    // after each failed attempt up to maxMs (sse_config_set_reconnect_delay).
    void setReconnectDelay(int initialMs, int maxMs);
    int reconnectInitialDelay() const { return m_reconnectInitialMs.value_or(-1); }
    int reconnectMaxDelay() const { return m_reconnectMaxMs.value_or(-1); }
    // Retries after a failure: N retries = N + 1 consecutive failed attempts, then the
    // source closes; 0 = never give up (sse_config_set_max_retries).
    void setMaxRetries(int retries);
    int maxRetries() const { return m_maxRetries.value_or(-1); }
    // Bound on TCP connect + TLS + response headers, ms; 0 = none
    // (sse_config_set_connect_timeout).
    void setConnectTimeout(int ms);
    int connectTimeout() const { return m_connectTimeoutMs.value_or(-1); }
    // An open stream silent for this long (comments count) is dropped and re-opened;
    // 0 = never (sse_config_set_read_timeout).
    void setReadTimeout(int ms);
    int readTimeout() const { return m_readTimeoutMs.value_or(-1); }
    // Largest event accepted, in bytes as received; 0 = no limit
    // (sse_config_set_max_event_size).
    void setMaxEventSize(qint64 bytes);
    qint64 maxEventSize() const { return m_maxEventSize.value_or(-1); }
    // How many messages the library may queue for this object before it stops reading
    // the socket (backpressure, nothing dropped) (sse_config_set_queue_capacity).
    void setQueueCapacity(qint64 messages);
    qint64 queueCapacity() const { return m_queueCapacity.value_or(-1); }
    // Redirects followed per attempt; 0 = none (sse_config_set_max_redirects).
    void setMaxRedirects(int redirects);
    int maxRedirects() const { return m_maxRedirects.value_or(-1); }

    // The last error reported by errorOccurred, "" before any.
    QString errorString() const { return m_errorString; }

    // The C library's version, "MAJOR.MINOR.PATCH".
    static QString libraryVersion();

    // --- addEventListener: a per-type filter on eventReceived ------------------------
    // Calls `f(const SseEvent &)` for each event whose type is `type` ("message" for
    // events without an `event:` field), in the thread of `context`, like
    // QObject::connect (the connection is dropped when `context` is destroyed). Returns
    // the connection: QObject::disconnect(connection) is removeEventListener.
    //   source->addEventListener(QStringLiteral("update"), this,
    //                            [this](const SseEvent &e) { apply(e.data()); });
    template <typename Functor>
    QMetaObject::Connection addEventListener(const QString &type, const QObject *context,
                                             Functor &&f,
                                             Qt::ConnectionType connectionType = Qt::AutoConnection)
    {
        static_assert(std::is_invocable_v<std::decay_t<Functor> &, const SseEvent &>,
                      "addEventListener: the functor must be callable with const SseEvent &");
        return connect(
            this, &SseEventSource::eventReceived, context,
            [type, f = std::forward<Functor>(f)](const SseEvent &event) mutable {
                if (event.type() == type)
                    std::invoke(f, event);
            },
            connectionType);
    }

    // The same with a member function: addEventListener("update", obj, &Obj::onUpdate).
    template <typename Receiver>
    QMetaObject::Connection addEventListener(const QString &type, Receiver *receiver,
                                             void (Receiver::*slot)(const SseEvent &),
                                             Qt::ConnectionType connectionType = Qt::AutoConnection)
    {
        static_assert(std::is_base_of_v<QObject, Receiver>, "the receiver must be a QObject");
        return addEventListener(
            type, static_cast<const QObject *>(receiver),
            [receiver, slot](const SseEvent &event) { (receiver->*slot)(event); },
            connectionType);
    }

public Q_SLOTS:
    // Starts connecting to url() with the current configuration (readyState Connecting).
    // An open source is closed first. Must be called on the object's thread: it creates
    // the QSocketNotifier there.
    void open();
    // Stops the stream: readyState Closed, no signal about this stream after close()
    // returns, including the rest of a batch being delivered when close() is called from
    // a slot. Idempotent. open() may be called again afterwards.
    void close();
    // Drops the current connection, or cuts the wait before a reconnect short, and
    // connects again at once (with lastEventId() as Last-Event-ID), the backoff starting
    // over: for a host that learns the network came back. No errorOccurred: only
    // readyStateChanged(Connecting) if the stream was Open, then Open again. A no-op when
    // the source is Closed (never opened, closed, or given up). Call it on the object's
    // thread, like open() and close().
    void restart();

Q_SIGNALS:
    void urlChanged(const QUrl &url);
    void readyStateChanged(SseEventSource::ReadyState state);
    void lastEventIdChanged(const QString &lastEventId);
    void configurationChanged();

    // Each successful (re)connect, with the HTTP status (200). readyStateChanged(Open)
    // comes just before it.
    void opened(int httpStatus);
    // Each event, in stream order. lastEventId() is already updated to event.id().
    void eventReceived(const SseEvent &event);
    // Comment lines (heartbeats): the text after the colon, one leading space removed.
    void commentReceived(const QString &text);
    // A failed attempt or a lost stream. willRetry = false: the source is now Closed for
    // good (readyStateChanged(Closed) follows); otherwise readyStateChanged(Connecting)
    // follows and the library reconnects by itself. httpStatus is set for HttpStatus and
    // ContentType errors, else 0.
    void errorOccurred(SseEventSource::ErrorKind kind, int httpStatus, const QString &message,
                       bool willRetry);

private:
    // The decoding caches of the delivery path (see the .cpp).
    struct Decoder;
    // What a slot may change during a batch (see the .cpp).
    struct Guard;

    void drain();
    // Delivers m_batch from m_batchNext on; false when a slot interrupted it.
    bool deliverBatch(const Guard &guard);
    // Returns false when delivering it closed, reopened or destroyed this object.
    bool dispatch(const sse_message *message, const Guard &guard);
    void setReadyState(ReadyState state);
    void reportFailure(ErrorKind kind, const QString &message);
    void releaseClient();

    QUrl m_url;
    QString m_lastEventId;
    ReadyState m_readyState = Closed;
    QString m_errorString;

    QList<QPair<QByteArray, QByteArray>> m_headers;
    QByteArray m_method;
    QByteArray m_body;
    std::optional<int> m_reconnectInitialMs;
    std::optional<int> m_reconnectMaxMs;
    std::optional<int> m_maxRetries;
    std::optional<int> m_connectTimeoutMs;
    std::optional<int> m_readTimeoutMs;
    std::optional<qint64> m_maxEventSize;
    std::optional<qint64> m_queueCapacity;
    std::optional<int> m_maxRedirects;

    sse_client *m_client = nullptr;
    // Taken from the library but not yet delivered, from m_batchNext on: what is left of
    // a batch when a slot moved this object to another thread mid-batch.
    sse_batch *m_batch = nullptr;
    size_t m_batchNext = 0;
    // The ID bytes of the last event delivered from m_batch, while that batch lives (see
    // dispatch()); null otherwise.
    const char *m_batchIdBytes = nullptr;
    size_t m_batchIdLen = 0;
    QSocketNotifier *m_notifier = nullptr;
    quint64 m_generation = 0; // bumped each time the client is released
    std::unique_ptr<Decoder> m_decoder;
};

#endif // SSEEVENTSOURCE_H
