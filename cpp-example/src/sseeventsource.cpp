#include "sseeventsource.h"

#include <sse_client.h>

#include <QtCore/QPointer>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>

#include <array>
#include <cstring>
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


// A decoded string's buffer is kept for the next event up to this many characters; a
// larger one is freed with its event, so that a big event does not pin its memory.
constexpr qsizetype kReusableChars = 4096;

struct ConfigDeleter
{
    void operator()(sse_config *config) const { sse_config_free(config); }
};
using ConfigPtr = std::unique_ptr<sse_config, ConfigDeleter>;

QString fromUtf8(const char *text, size_t len)
{
    return QString::fromUtf8(text, qsizetype(len));
}

bool isAscii(const char *bytes, qsizetype len)
{
    // Eight bytes at a time, then the tail.
    quint64 seen = 0;
    qsizetype i = 0;
    for (; i + 8 <= len; i += 8) {
        quint64 word;
        std::memcpy(&word, bytes + i, sizeof word);
        seen |= word;
    }
    for (; i < len; ++i)
        seen |= static_cast<unsigned char>(bytes[i]);
    return (seen & 0x8080808080808080ULL) == 0;
}

// True if `text` equals `bytes` read as Latin-1. When either is ASCII, that is: `text` is
// QString::fromUtf8(bytes, len).
bool equalsAscii(const QString &text, const char *bytes, qsizetype len)
{
    if (text.size() != len)
        return false;
    const QChar *chars = text.constData();
    // The last character first: successive IDs are often counters.
    if (len > 0 && chars[len - 1].unicode() != static_cast<unsigned char>(bytes[len - 1]))
        return false;
    for (qsizetype i = 0; i < len; ++i) {
        if (chars[i].unicode() != static_cast<unsigned char>(bytes[i]))
            return false;
    }
    return true;
}

// Whether `bytes` can be decoded into a kept buffer by assignAscii.
bool reusable(const char *bytes, qsizetype len)
{
    return len > 0 && len <= kReusableChars && isAscii(bytes, len);
}

// target = QString::fromUtf8(bytes, len) for `bytes` that are reusable(). target's buffer
// is reused when nobody else holds it any more (the previous event and its copies are
// gone) and it is large enough: a widening copy instead of a malloc, a UTF-8 decoding and
// a free. (Should it be shared after all, resize() and data() detach: never a write into a
// string someone holds.)
void assignAscii(QString &target, const char *bytes, qsizetype len)
{
    if (!target.isDetached() || target.capacity() < len) {
        QString fresh;
        fresh.reserve(qMax(len, qMin(2 * len, kReusableChars))); // room to grow a little
        target.swap(fresh);
    }
    if (target.size() != len)
        target.resize(len); // detached, large enough: no allocation
    char16_t *out = reinterpret_cast<char16_t *>(target.data());
    for (qsizetype i = 0; i < len; ++i)
        out[i] = static_cast<unsigned char>(bytes[i]);
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

// This wrapper's name for a setting an error names as its remedy, or nothing when it has
// none: then the plain words stand alone (they say the remedy already). The C API's
// message names C functions instead, which a Qt user cannot call.
QByteArray qtNameOf(sse_setting setting)
{
    switch (setting) {
    case SSE_SETTING_LAST_EVENT_ID:
        return QByteArrayLiteral("SseEventSource::setLastEventId");
    // No SseEventSource property yet for these. When one exists, name it here:
    // SSE_SETTING_CA_FILE: a caCertificates property (setCaCertificates);
    // SSE_SETTING_CLIENT_CERT: a clientCertificate property (setClientCertificate);
    // SSE_SETTING_RETRY_NON_GET: a retryNonGet property (setRetryNonGet).
    case SSE_SETTING_CA_FILE:
    case SSE_SETTING_CLIENT_CERT:
    case SSE_SETTING_RETRY_NON_GET:
        return {};
    }
    return {}; // a setting a newer library added: the words alone
}

// The error's message in this wrapper's words: the library's plain message with, where a
// remedy points, this wrapper's name for the setting in parentheses (as the C API puts
// its function's name there).
QString errorMessage(const sse_error &error)
{
    // Always set by the library this wrapper needs (1.1 or later, whose header it is built
    // with); should it ever be missing, the C API's words are better than none.
    if (!error.plain_message)
        return QString::fromUtf8(error.message);
    const QByteArray plain(error.plain_message);
    QByteArray text;
    qsizetype copied = 0;
    for (size_t i = 0; error.remedies && i < error.remedy_count; ++i) {
        const QByteArray name = qtNameOf(error.remedies[i].setting);
        // The library gives them in order and within the message; clamped all the same.
        const qsizetype at = qMax(copied, qsizetype(qMin(error.remedies[i].at, size_t(plain.size()))));
        if (name.isEmpty())
            continue;
        text += plain.mid(copied, at - copied) + " (" + name + ")";
        copied = at;
    }
    text += plain.mid(copied);
    return QString::fromUtf8(text);
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

// The decoding of the delivery path, once per event on the object's thread. It keeps what
// repeats from one event to the next: a small event costs one decoded string (its data)
// and, when the ID changed, a second one, both written into reused buffers (assignAscii).
// The strings are the same as QString::fromUtf8 gives.
struct SseEventSource::Decoder
{
    // The event type as a QString, shared by every event of that type: the last few types
    // seen (a stream uses one or a few), found by comparing the bytes. Entry 0 is
    // "message", the type of events without an `event:` field; the others are replaced in
    // turn. Only ASCII types are kept (a UTF-8 type is decoded each time).
    QString type(const char *bytes, size_t size)
    {
        const auto len = qsizetype(size);
        if (len == 0)
            return fromUtf8(bytes, size);
        for (const QString &known : types) {
            if (equalsAscii(known, bytes, len))
                return known; // `known` is ASCII: equal to the bytes means equal to their decoding
        }
        if (len > kMaxCachedType || !isAscii(bytes, len))
            return fromUtf8(bytes, size);
        QString &slot = types[nextType];
        nextType = nextType + 1 < types.size() ? nextType + 1 : 1;
        slot = fromUtf8(bytes, size);
        return slot;
    }

    // Makes lastEventId the decoding of `bytes` if its value differs (then returns true).
    // Each event carries the last ID, which most often is the previous event's, or a new
    // one of the same shape: compared as bytes, and decoded into the buffer of the ID
    // before.
    bool updateId(QString &lastEventId, const char *bytes, size_t size)
    {
        const auto len = qsizetype(size);
        const bool ascii = isAscii(bytes, len);
        if (ascii && equalsAscii(lastEventId, bytes, len))
            return false;
        if (ascii && len > 0 && len <= kReusableChars) { // reusable(), known ASCII
            assignAscii(spareId, bytes, len);
        } else {
            spareId = fromUtf8(bytes, size);
            if (spareId == lastEventId)
                return false; // not ASCII, and the same text
        }
        lastEventId.swap(spareId);
        if (spareId.capacity() > kReusableChars)
            spareId = QString(); // the previous ID was a large one: do not keep it
        return true;
    }

    // The data of an event. A short ASCII one is decoded into the buffer of the previous
    // event's (lastData).
    QString data(const char *bytes, size_t size)
    {
        const auto len = qsizetype(size);
        if (!reusable(bytes, len))
            return fromUtf8(bytes, size);
        assignAscii(lastData, bytes, len);
        return lastData;
    }

    static constexpr qsizetype kMaxCachedType = 64;
    std::array<QString, 4> types {{QStringLiteral("message"), {}, {}, {}}};
    size_t nextType = 1;
    // The ID before lastEventId: its buffer is reused for the next one.
    QString spareId;
    // The last short ASCII data: its buffer is reused for the next.
    QString lastData;
};

// Taken at the start of a batch: after each signal, is this still the same stream on the
// same thread? A slot may have closed, reopened or deleted the source (a generation, not
// the handle, tells: a reopened client may reuse the old one's address), or moved it to
// another thread, where the notifier (moved along, the handle still readable) delivers the
// rest.
struct SseEventSource::Guard
{
    bool holds(const SseEventSource *source) const
    {
        return self && source->m_generation == generation && source->m_client
            && source->thread() == thread;
    }

    QPointer<SseEventSource> self;
    quint64 generation;
    QThread *thread;
};

SseEventSource::SseEventSource(QObject *parent) : QObject(parent), m_decoder(std::make_unique<Decoder>())
{
    registerMetaTypes();
}

SseEventSource::SseEventSource(const QUrl &url, QObject *parent)
    : QObject(parent), m_url(url), m_decoder(std::make_unique<Decoder>())
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
    m_batchIdBytes = nullptr;
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
    // The wakeup handle, not the fd: a descriptor on POSIX, a SOCKET on Windows, what
    // QSocketNotifier takes on each platform.
    m_notifier = new QSocketNotifier(qintptr(sse_client_wakeup_handle(client)), QSocketNotifier::Read, this);
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
    // The notifier goes first: the handle it watches belongs to the client. Deleting it from
    // its own activated() signal (close() called from a slot) is supported by Qt, and
    // deleting (rather than deleteLater) also drops a re-enable that a moveToThread()
    // may have queued for it.
    delete std::exchange(m_notifier, nullptr);
    // Joins the worker: quick after close, except in a DNS lookup or TCP connect
    // (bounded by the connect timeout). Queued messages are discarded.
    sse_client_free(std::exchange(m_client, nullptr));
    sse_batch_free(std::exchange(m_batch, nullptr));
    m_batchIdBytes = nullptr;
    ++m_generation;
}

void SseEventSource::drain()
{
    if (!m_client)
        return;
    const Guard guard {this, m_generation, QThread::currentThread()};
    // The rest of a batch that a slot interrupted by moving this object here comes first.
    if (!deliverBatch(guard))
        return;
    // One call takes everything queued (at most the queue capacity, 4096 messages by
    // default): one lock and no allocation per message. Whatever arrives meanwhile makes
    // the handle readable again, and the notifier fires once the event loop runs.
    sse_batch *batch = nullptr;
    const sse_result r = sse_client_poll_batch(m_client, 0, &batch);
    if (r == SSE_ERROR_TIMEOUT)
        return;
    if (r != SSE_OK) {
        // SSE_ERROR_CLOSED: the worker ended (its CLOSED state was delivered). Anything
        // else would be a library bug; report it rather than spin on a readable handle.
        const QString detail = describeFailure(QStringLiteral("sse_client_poll_batch"), r);
        releaseClient();
        if (r != SSE_ERROR_CLOSED) {
            m_errorString = detail;
            emit errorOccurred(Resource, 0, detail, false);
            if (!guard.self)
                return;
        }
        setReadyState(Closed);
        return;
    }
    m_batch = batch;
    m_batchNext = 0;
    m_batchIdBytes = nullptr;
    deliverBatch(guard);
}

bool SseEventSource::deliverBatch(const Guard &guard)
{
    // Members only, re-read after every slot: a slot may close the source (which frees the
    // batch) or run a nested event loop whose drain() carries on with it.
    while (m_batch && m_batchNext < sse_batch_len(m_batch)) {
        if (!dispatch(sse_batch_get(m_batch, m_batchNext++), guard)) {
            // Moved to another thread by a slot: the rest is delivered there, in order,
            // before anything newer. Closed, reopened or destroyed: it was dropped.
            if (guard.self && m_batch)
                QMetaObject::invokeMethod(this, &SseEventSource::drain, Qt::QueuedConnection);
            return false;
        }
    }
    sse_batch_free(std::exchange(m_batch, nullptr));
    m_batchIdBytes = nullptr;
    return true;
}

bool SseEventSource::dispatch(const sse_message *message, const Guard &guard)
{
    switch (sse_message_kind_of(message)) {
    case SSE_MESSAGE_OPEN:
        // As QAbstractSocket does: the state change first, then opened().
        setReadyState(Open);
        if (!guard.holds(this))
            return false;
        emit opened(int(sse_message_http_status(message)));
        return guard.holds(this);
    case SSE_MESSAGE_EVENT: {
        const sse_event *e = sse_message_event(message);
        if (!e)
            return true;
        Decoder &decoder = *m_decoder;
        // The events of a batch that carry the same long ID point at one copy of it, which
        // stays put while the batch lives: the same bytes at the same place are the same
        // ID, without comparing what may be megabytes again for every event.
        const bool sameIdAsBefore = e->id == m_batchIdBytes && e->id_len == m_batchIdLen;
        const bool idChanged = !sameIdAsBefore && decoder.updateId(m_lastEventId, e->id, e->id_len);
        m_batchIdBytes = e->id;
        m_batchIdLen = e->id_len;
        // The event's ID is lastEventId (shared), but never null: the decoding of "".
        const SseEvent event(decoder.type(e->type, e->type_len), decoder.data(e->data, e->data_len),
                             m_lastEventId.isNull() ? QStringLiteral("") : m_lastEventId);
        if (idChanged) {
            emit lastEventIdChanged(m_lastEventId);
            if (!guard.holds(this))
                return false;
        }
        emit eventReceived(event);
        return guard.holds(this);
    }
    case SSE_MESSAGE_COMMENT: {
        size_t len = 0;
        const char *text = sse_message_comment(message, &len);
        if (!text)
            return true;
        emit commentReceived(fromUtf8(text, len));
        return guard.holds(this);
    }
    case SSE_MESSAGE_ERROR: {
        const sse_error *e = sse_message_error(message);
        if (!e)
            return true;
        m_errorString = errorMessage(*e);
        emit errorOccurred(ErrorKind(e->kind), int(e->http_status), m_errorString, e->will_retry);
        return guard.holds(this);
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
        return guard.holds(this);
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
