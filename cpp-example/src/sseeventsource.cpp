#include "sseeventsource.h"

#include <sse_client.h>

#include <QtCore/QPointer>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>

#include <memory>

// The C enums and ours must agree: readyState and the first error kinds are passed through.
static_assert(int(SSE_STATE_CONNECTING) == SseEventSource::Connecting);
static_assert(int(SSE_STATE_OPEN) == SseEventSource::Open);
static_assert(int(SSE_STATE_CLOSED) == SseEventSource::Closed);
static_assert(int(SSE_ERROR_KIND_CONNECT) == SseEventSource::Connect);
static_assert(int(SSE_ERROR_KIND_HTTP_STATUS) == SseEventSource::HttpStatus);
static_assert(int(SSE_ERROR_KIND_CONTENT_TYPE) == SseEventSource::ContentType);
static_assert(int(SSE_ERROR_KIND_STREAM_ENDED) == SseEventSource::StreamEnded);
static_assert(int(SSE_ERROR_KIND_IO) == SseEventSource::Io);
static_assert(int(SSE_ERROR_KIND_READ_TIMEOUT) == SseEventSource::ReadTimeout);
static_assert(int(SSE_ERROR_KIND_EVENT_TOO_LARGE) == SseEventSource::EventTooLarge);

namespace {

// At most this many messages are delivered per wakeup; then the event loop runs again
// (the wakeup fd stays readable while messages wait, so the notifier fires again).
constexpr int kMaxBatch = 256;

struct ConfigDeleter
{
    void operator()(sse_config *config) const { sse_config_free(config); }
};
using ConfigPtr = std::unique_ptr<sse_config, ConfigDeleter>;

struct MessageDeleter
{
    void operator()(sse_message *message) const { sse_message_free(message); }
};
using MessagePtr = std::unique_ptr<sse_message, MessageDeleter>;

QString fromUtf8(const char *text, size_t len)
{
    return QString::fromUtf8(text, qsizetype(len));
}

// The detail of the last failing library call on this thread.
QString lastLibraryError()
{
    return QString::fromUtf8(sse_last_error_message());
}

// The library's explanation of a failed call (it names the culprit: the URL, header...);
// "what: SSE_ERROR_..." should it have none.
QString describeFailure(const QString &what, sse_result result)
{
    const QString detail = lastLibraryError();
    if (!detail.isEmpty())
        return detail;
    return what + QStringLiteral(": ") + QString::fromLatin1(sse_result_name(result));
}

void registerMetaTypes()
{
    static const bool registered = [] {
        qRegisterMetaType<SseEvent>("SseEvent");
        qRegisterMetaType<SseEventSource::ReadyState>("SseEventSource::ReadyState");
        qRegisterMetaType<SseEventSource::ErrorKind>("SseEventSource::ErrorKind");
        return true;
    }();
    Q_UNUSED(registered);
}

// For messages: control characters escaped.
QString printable(const QByteArray &bytes)
{
    QString result;
    for (const QChar c : QString::fromUtf8(bytes)) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            result += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QLatin1Char('0'));
        else
            result += c;
    }
    return result;
}

bool sameHeaderName(const QByteArray &a, const QByteArray &b)
{
    return a.compare(b, Qt::CaseInsensitive) == 0;
}

// Negative values restore the library default.
template <typename T>
bool updateOptional(std::optional<T> &slot, T value)
{
    std::optional<T> next;
    if (value >= 0)
        next = value;
    if (next == slot)
        return false;
    slot = next;
    return true;
}

} // namespace

SseEventSource::SseEventSource(QObject *parent) : QObject(parent)
{
    registerMetaTypes();
}

SseEventSource::SseEventSource(const QUrl &url, QObject *parent) : QObject(parent), m_url(url)
{
    registerMetaTypes();
}

SseEventSource::~SseEventSource()
{
    releaseClient();
}

QString SseEventSource::libraryVersion()
{
    return QString::fromLatin1(sse_version());
}

void SseEventSource::setUrl(const QUrl &url)
{
    if (url == m_url)
        return;
    m_url = url;
    emit urlChanged(m_url);
}

void SseEventSource::setLastEventId(const QString &id)
{
    if (id == m_lastEventId)
        return;
    m_lastEventId = id;
    emit lastEventIdChanged(m_lastEventId);
}

void SseEventSource::setRawHeader(const QByteArray &name, const QByteArray &value)
{
    for (qsizetype i = 0; i < m_headers.size(); ++i) {
        if (!sameHeaderName(m_headers[i].first, name))
            continue;
        if (value.isNull())
            m_headers.removeAt(i);
        else if (m_headers[i].second == value && m_headers[i].first == name)
            return;
        else
            m_headers[i] = qMakePair(name, value);
        emit configurationChanged();
        return;
    }
    if (value.isNull())
        return;
    m_headers.append(qMakePair(name, value));
    emit configurationChanged();
}

void SseEventSource::setRawHeaders(const QList<QPair<QByteArray, QByteArray>> &headers)
{
    m_headers.clear();
    for (const auto &header : headers) {
        if (!header.second.isNull()) {
            // Later duplicates replace earlier ones, as with setRawHeader().
            bool replaced = false;
            for (auto &existing : m_headers) {
                if (sameHeaderName(existing.first, header.first)) {
                    existing = header;
                    replaced = true;
                }
            }
            if (!replaced)
                m_headers.append(header);
        }
    }
    emit configurationChanged();
}

QByteArray SseEventSource::rawHeader(const QByteArray &name) const
{
    for (const auto &header : m_headers) {
        if (sameHeaderName(header.first, name))
            return header.second;
    }
    return QByteArray();
}

bool SseEventSource::hasRawHeader(const QByteArray &name) const
{
    for (const auto &header : m_headers) {
        if (sameHeaderName(header.first, name))
            return true;
    }
    return false;
}

void SseEventSource::setMethod(const QByteArray &method)
{
    if (method == m_method)
        return;
    m_method = method;
    emit configurationChanged();
}

void SseEventSource::setBody(const QByteArray &body)
{
    if (body == m_body && body.isNull() == m_body.isNull())
        return;
    m_body = body;
    emit configurationChanged();
}

void SseEventSource::setReconnectDelay(int initialMs, int maxMs)
{
    const bool a = updateOptional(m_reconnectInitialMs, initialMs);
    const bool b = updateOptional(m_reconnectMaxMs, maxMs);
    if (a || b)
        emit configurationChanged();
}

void SseEventSource::setMaxRetries(int retries)
{
    if (updateOptional(m_maxRetries, retries))
        emit configurationChanged();
}

void SseEventSource::setConnectTimeout(int ms)
{
    if (updateOptional(m_connectTimeoutMs, ms))
        emit configurationChanged();
}

void SseEventSource::setReadTimeout(int ms)
{
    if (updateOptional(m_readTimeoutMs, ms))
        emit configurationChanged();
}

void SseEventSource::setMaxEventSize(qint64 bytes)
{
    if (updateOptional(m_maxEventSize, bytes))
        emit configurationChanged();
}

void SseEventSource::setQueueCapacity(qint64 messages)
{
    if (updateOptional(m_queueCapacity, messages))
        emit configurationChanged();
}

void SseEventSource::setMaxRedirects(int redirects)
{
    if (updateOptional(m_maxRedirects, redirects))
        emit configurationChanged();
}

void SseEventSource::open()
{
    if (QThread::currentThread() != thread()) {
        qWarning("SseEventSource::open: called from another thread than the object's; "
                 "use QMetaObject::invokeMethod(source, &SseEventSource::open)");
        return;
    }

    // An open source is closed first; the readyState moves straight to Connecting (or to
    // Closed if the new configuration is rejected).
    releaseClient();

    const auto containsNul = [](const QByteArray &bytes) { return bytes.contains('\0'); };
    const auto fail = [this](const QString &message) { reportFailure(Configuration, message); };

    const QByteArray url = m_url.toEncoded();
    if (m_url.isEmpty()) {
        fail(QStringLiteral("no URL: call setUrl() before open()"));
        return;
    }
    if (!m_url.isValid()) {
        fail(QStringLiteral("invalid URL: %1").arg(m_url.errorString()));
        return;
    }
    sse_config *rawConfig = nullptr;
    if (const sse_result r = sse_config_new(url.constData(), &rawConfig); r != SSE_OK) {
        fail(describeFailure(QStringLiteral("invalid URL \"%1\"").arg(QString::fromUtf8(url)), r));
        return;
    }
    const ConfigPtr config(rawConfig);

    for (const auto &[name, value] : std::as_const(m_headers)) {
        const QString what = QStringLiteral("invalid header \"%1\"").arg(printable(name));
        if (containsNul(name) || containsNul(value)) {
            fail(what + QStringLiteral(": it contains a NUL byte"));
            return;
        }
        if (sameHeaderName(name, QByteArrayLiteral("Last-Event-ID"))) {
            fail(what + QStringLiteral(": Last-Event-ID is managed by SseEventSource: use setLastEventId()"));
            return;
        }
        if (const sse_result r = sse_config_set_header(config.get(), name.constData(), value.constData());
            r != SSE_OK) {
            fail(describeFailure(what, r));
            return;
        }
    }
    if (!m_method.isEmpty()) {
        const QString what = QStringLiteral("invalid method \"%1\"").arg(printable(m_method));
        if (containsNul(m_method)) {
            fail(what + QStringLiteral(": it contains a NUL byte"));
            return;
        }
        if (const sse_result r = sse_config_set_method(config.get(), m_method.constData()); r != SSE_OK) {
            fail(describeFailure(what, r));
            return;
        }
    }
    if (!m_body.isEmpty()) {
        if (const sse_result r = sse_config_set_body(
                config.get(), reinterpret_cast<const uint8_t *>(m_body.constData()), size_t(m_body.size()));
            r != SSE_OK) {
            fail(describeFailure(QStringLiteral("invalid body"), r));
            return;
        }
    }
    if (!m_lastEventId.isEmpty()) {
        const QByteArray id = m_lastEventId.toUtf8();
        const QString what = QStringLiteral("invalid last event ID \"%1\"").arg(printable(id));
        if (containsNul(id)) {
            fail(what + QStringLiteral(": it contains a NUL character"));
            return;
        }
        if (const sse_result r = sse_config_set_last_event_id(config.get(), id.constData()); r != SSE_OK) {
            fail(describeFailure(what, r));
            return;
        }
    }
    if (m_reconnectInitialMs || m_reconnectMaxMs) {
        // Only one of the pair set: the other keeps the library's default.
        const int initial = m_reconnectInitialMs.value_or(qMin(3000, m_reconnectMaxMs.value_or(3000)));
        const int max = m_reconnectMaxMs.value_or(qMax(30000, initial));
        if (const sse_result r = sse_config_set_reconnect_delay(config.get(), uint32_t(initial), uint32_t(max));
            r != SSE_OK) {
            fail(describeFailure(
                QStringLiteral("invalid reconnect delay (initial %1 ms, max %2 ms)").arg(initial).arg(max), r));
            return;
        }
    }
    struct Setting
    {
        const char *what;
        bool set;
        sse_result (*apply)(sse_config *, qint64);
        qint64 value;
    };
    const Setting settings[] = {
        {"max retries", bool(m_maxRetries),
         [](sse_config *c, qint64 v) { return sse_config_set_max_retries(c, uint32_t(v)); },
         m_maxRetries.value_or(0)},
        {"connect timeout", bool(m_connectTimeoutMs),
         [](sse_config *c, qint64 v) { return sse_config_set_connect_timeout(c, uint32_t(v)); },
         m_connectTimeoutMs.value_or(0)},
        {"read timeout", bool(m_readTimeoutMs),
         [](sse_config *c, qint64 v) { return sse_config_set_read_timeout(c, uint32_t(v)); },
         m_readTimeoutMs.value_or(0)},
        {"max event size", bool(m_maxEventSize),
         [](sse_config *c, qint64 v) { return sse_config_set_max_event_size(c, size_t(v)); },
         m_maxEventSize.value_or(0)},
        {"queue capacity", bool(m_queueCapacity),
         [](sse_config *c, qint64 v) { return sse_config_set_queue_capacity(c, size_t(v)); },
         m_queueCapacity.value_or(0)},
        {"max redirects", bool(m_maxRedirects),
         [](sse_config *c, qint64 v) { return sse_config_set_max_redirects(c, uint32_t(v)); },
         m_maxRedirects.value_or(0)},
    };
    for (const Setting &setting : settings) {
        if (!setting.set)
            continue;
        if (const sse_result r = setting.apply(config.get(), setting.value); r != SSE_OK) {
            fail(describeFailure(
                QStringLiteral("invalid %1 %2").arg(QLatin1String(setting.what)).arg(setting.value), r));
            return;
        }
    }

    sse_client *client = nullptr;
    if (const sse_result r = sse_client_open(config.get(), nullptr, &client); r != SSE_OK) {
        reportFailure(Resource, describeFailure(QStringLiteral("cannot start the client"), r));
        return;
    }
    m_client = client;
    // Created here, on the object's thread, as a child: moveToThread() takes it along.
    m_notifier = new QSocketNotifier(qintptr(sse_client_wakeup_fd(client)), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SseEventSource::drain);
    setReadyState(Connecting);
}

void SseEventSource::close()
{
    if (QThread::currentThread() != thread()) {
        qWarning("SseEventSource::close: called from another thread than the object's; "
                 "use QMetaObject::invokeMethod(source, &SseEventSource::close)");
        return;
    }
    releaseClient();
    setReadyState(Closed);
}

void SseEventSource::restart()
{
    if (QThread::currentThread() != thread()) {
        qWarning("SseEventSource::restart: called from another thread than the object's; "
                 "use QMetaObject::invokeMethod(source, &SseEventSource::restart)");
        return;
    }
    if (!m_client || m_readyState == Closed)
        return;
    // SSE_ERROR_CLOSED: the library gave up meanwhile; its CLOSED state is on its way
    // through the queue, so there is nothing to do here.
    sse_client_restart(m_client);
}

void SseEventSource::releaseClient()
{
    // The notifier goes first: the fd it watches belongs to the client. Deleting it from
    // its own activated() signal (close() called from a slot) is supported by Qt, and
    // deleting (rather than deleteLater) also drops a re-enable that a moveToThread()
    // may have queued for it.
    delete std::exchange(m_notifier, nullptr);
    // Joins the worker: quick after close, except in a DNS lookup or TCP connect
    // (bounded by the connect timeout). Queued messages are discarded.
    sse_client_free(std::exchange(m_client, nullptr));
    ++m_generation;
}

void SseEventSource::drain()
{
    sse_client *const client = m_client;
    for (int i = 0; client && i < kMaxBatch; ++i) {
        sse_message *raw = nullptr;
        const sse_result r = sse_client_poll(client, 0, &raw);
        if (r == SSE_ERROR_TIMEOUT)
            return;
        if (r != SSE_OK) {
            // SSE_ERROR_CLOSED: the worker ended (its CLOSED state was delivered). Anything
            // else would be a library bug; report it rather than spin on a readable fd.
            const QString detail = describeFailure(QStringLiteral("sse_client_poll"), r);
            releaseClient();
            if (r != SSE_ERROR_CLOSED) {
                m_errorString = detail;
                QPointer<SseEventSource> self(this);
                emit errorOccurred(Resource, 0, detail, false);
                if (!self)
                    return;
            }
            setReadyState(Closed);
            return;
        }
        const MessagePtr message(raw);
        if (!dispatch(message.get()))
            return; // closed, reopened or destroyed by a slot: drop the rest of the batch
    }
}

bool SseEventSource::dispatch(sse_message *message)
{
    // Still the same stream, on the same thread, after a signal? A slot may have closed,
    // reopened or deleted us (a generation, not the handle, tells: a reopened client may
    // reuse the old one's address), or moved us to another thread, where the notifier
    // (moved along, the fd still readable) delivers the rest.
    const QPointer<SseEventSource> self(this);
    const quint64 generation = m_generation;
    const auto same = [&] {
        return self && m_generation == generation && m_client && thread() == QThread::currentThread();
    };

    switch (sse_message_kind_of(message)) {
    case SSE_MESSAGE_OPEN:
        // As QAbstractSocket does: the state change first, then opened().
        setReadyState(Open);
        if (!same())
            return false;
        emit opened(int(sse_message_http_status(message)));
        return same();
    case SSE_MESSAGE_EVENT: {
        const sse_event *e = sse_message_event(message);
        if (!e)
            return true;
        SseEvent event(fromUtf8(e->type, e->type_len), fromUtf8(e->data, e->data_len),
                       fromUtf8(e->id, e->id_len));
        if (event.id() != m_lastEventId) {
            m_lastEventId = event.id();
            emit lastEventIdChanged(m_lastEventId);
            if (!same())
                return false;
        }
        emit eventReceived(event);
        return same();
    }
    case SSE_MESSAGE_COMMENT: {
        size_t len = 0;
        const char *text = sse_message_comment(message, &len);
        if (!text)
            return true;
        emit commentReceived(fromUtf8(text, len));
        return same();
    }
    case SSE_MESSAGE_ERROR: {
        const sse_error *e = sse_message_error(message);
        if (!e)
            return true;
        m_errorString = QString::fromUtf8(e->message);
        emit errorOccurred(ErrorKind(e->kind), int(e->http_status), m_errorString, e->will_retry);
        return same();
    }
    case SSE_MESSAGE_STATE: {
        const auto state = ReadyState(sse_message_state(message));
        if (state == Closed) {
            // Closed for good: nothing follows; the worker is ending, so free it now.
            releaseClient();
            setReadyState(Closed);
            return false;
        }
        setReadyState(state);
        return same();
    }
    }
    return true;
}

void SseEventSource::setReadyState(ReadyState state)
{
    if (state == m_readyState)
        return;
    m_readyState = state;
    emit readyStateChanged(m_readyState);
}

void SseEventSource::reportFailure(ErrorKind kind, const QString &message)
{
    m_errorString = message;
    const QPointer<SseEventSource> self(this);
    emit errorOccurred(kind, 0, message, false);
    if (self)
        setReadyState(Closed);
}
