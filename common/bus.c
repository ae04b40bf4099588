#include <nats/nats.h>

#include "compat.h"
#include "bus.h"
#include "log.h"

#include <pthread.h>
#include <sodium.h>

struct bus {
	natsConnection *nc;
	jsCtx *js;
	int timeout_ms;
	pthread_mutex_t lock;
	enum tl_err async_err;
	jsCtx *ajs;              /* async publishing context, made on first use */
	uint64_t async_failed;   /* guarded by lock */
};

struct bus_kv {
	kvStore *kv;
};

struct bus_consumer {
	natsSubscription *sub;
};

/* A struct bus_msg is a natsMsg; the cast keeps nats.c out of the header. */
#define NM(m) ((natsMsg *)(void *)(m))

static enum tl_err
xlate(natsStatus s)
{
	switch (s) {
	case NATS_OK: return TL_OK;
	case NATS_TIMEOUT: return TL_ETIMEOUT;
	case NATS_NO_RESPONDERS:
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_NO_SERVER:
	case NATS_STALE_CONNECTION:
	case NATS_INSUFFICIENT_BUFFER:
		return TL_EUNAVAIL;
	case NATS_NOT_FOUND: return TL_ENOTFOUND;
	case NATS_NOT_PERMITTED:
	case NATS_CONNECTION_AUTH_FAILED:
		return TL_EDENIED;
	case NATS_NO_MEMORY: return TL_ENOMEM;
	case NATS_INVALID_ARG: return TL_EINVAL;
	default: return TL_EBUS;
	}
}

static void
on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	struct bus *b = closure;

	/* Permission violations only arrive here; remember them for callers
	 * and say which kind, never which subject payload. */
	pthread_mutex_lock(&b->lock);
	b->async_err = xlate(err);
	pthread_mutex_unlock(&b->lock);
	log_warn("nats async error: %s", natsStatus_GetText(err));
}

/* natsOptions_SetURL takes one URL only; a cluster's comma-separated list
 * ("nats://a:4222,nats://b:4222") must go through natsOptions_SetServers. */
#define BUS_MAX_SERVERS 16
static natsStatus
set_servers(natsOptions *opts, const char *url)
{
	const char *servers[BUS_MAX_SERVERS];
	char *copy, *p, *next;
	int n = 0;
	natsStatus s;

	if (!url || !strchr(url, ','))
		return natsOptions_SetURL(opts, url);
	if (!(copy = strdup(url)))
		return NATS_NO_MEMORY;
	for (p = copy; p; p = next) {
		char *end;

		if ((next = strchr(p, ',')))
			*next++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (n == BUS_MAX_SERVERS) {
			free(copy);
			return NATS_INVALID_ARG;
		}
		servers[n++] = p;
	}
	s = n > 0 ? natsOptions_SetServers(opts, servers, n) : NATS_INVALID_ARG;
	free(copy); /* SetServers copies the strings */
	return s;
}

/* Having a callback makes a failed first connect asynchronous: without
 * one, nats.c blocks in natsConnection_Connect until the server appears. */
static void
on_connected(natsConnection *nc, void *closure)
{
	log_info("nats connected");
}

static void
on_disconnected(natsConnection *nc, void *closure)
{
	log_warn("nats disconnected");
}

static void
on_reconnected(natsConnection *nc, void *closure)
{
	log_info("nats reconnected");
}

enum tl_err
bus_init(int64_t lock_spin)
{
	return xlate(nats_Open(lock_spin));
}

enum tl_err
bus_connect(const struct bus_opts *o, struct bus **out)
{
	natsOptions *opts = NULL;
	struct bus *b;
	jsOptions jo;
	natsStatus s;

	if (!(b = calloc(1, sizeof(*b))))
		return TL_ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	s = natsOptions_Create(&opts);
	if (s == NATS_OK) s = set_servers(opts, o->url);
	if (s == NATS_OK && o->user) s = natsOptions_SetUserInfo(opts, o->user, o->password);
	if (s == NATS_OK && o->name) s = natsOptions_SetName(opts, o->name);
	if (s == NATS_OK && o->inbox_prefix) s = natsOptions_SetCustomInboxPrefix(opts, o->inbox_prefix);
	if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
	if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
	/* Nothing may be queued while disconnected: a publish that a client
	 * was told failed (503) must not be delivered later. */
	if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 1);
	if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 2000);
	if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
	if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, on_async_error, b);
	if (s == NATS_OK && o->send_asap)
		s = natsOptions_SetSendAsap(opts, true);
	if (s == NATS_OK && o->retry_on_failed_connect)
		s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, b);
	if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, b);
	if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected, b);
	if (s != NATS_OK)
		goto fail;
	s = natsConnection_Connect(&b->nc, opts);
	if (s == NATS_NOT_YET_CONNECTED && o->retry_on_failed_connect)
		s = NATS_OK; /* reconnects in the background */
	if (s != NATS_OK)
		goto fail;
	jsOptions_Init(&jo);
	jo.Wait = b->timeout_ms;
	if ((s = natsConnection_JetStream(&b->js, b->nc, &jo)) != NATS_OK)
		goto fail;
	natsOptions_Destroy(opts);
	*out = b;
	return TL_OK;
fail:
	natsOptions_Destroy(opts);
	bus_close(b);
	return xlate(s);
}

void
bus_close(struct bus *b)
{
	if (!b)
		return;
	jsCtx_Destroy(b->js);
	jsCtx_Destroy(b->ajs);
	if (b->nc) {
		natsConnection_Close(b->nc);
		natsConnection_Destroy(b->nc);
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

bool
bus_connected(struct bus *b)
{
	return b && b->nc && natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

enum tl_err
bus_last_async_error(struct bus *b)
{
	enum tl_err e;

	pthread_mutex_lock(&b->lock);
	e = b->async_err;
	pthread_mutex_unlock(&b->lock);
	return e;
}

enum tl_err
bus_publish(struct bus *b, const char *subject, const void *data, size_t len, const char *msg_id,
            bool *duplicate)
{
	jsPubOptions po;
	jsPubAck *ack = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if (len > INT32_MAX)
		return TL_ETOOBIG;
	if (!bus_connected(b))
		return TL_EUNAVAIL;
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = b->timeout_ms;
	s = js_Publish(&ack, b->js, subject, data, (int)len, &po, &jerr);
	if (s == NATS_OK && duplicate)
		*duplicate = ack->Duplicate;
	jsPubAck_Destroy(ack);
	if (s != NATS_OK && jerr)
		log_warn("jetstream publish refused: %s (jerr %d)", natsStatus_GetText(s), (int)jerr);
	return xlate(s);
}

/* ---- asynchronous publish ---- */

static void
on_async_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	struct bus *b = closure;

	/* The library destroys pae->Msg after this returns. */
	pthread_mutex_lock(&b->lock);
	b->async_failed++;
	pthread_mutex_unlock(&b->lock);
}

static enum tl_err
async_ctx(struct bus *b, jsCtx **out)
{
	natsStatus s = NATS_OK;
	jsOptions jo;

	pthread_mutex_lock(&b->lock);
	if (!b->ajs) {
		jsOptions_Init(&jo);
		jo.Wait = b->timeout_ms;
		jo.PublishAsync.MaxPending = 4000;
		jo.PublishAsync.StallWait = b->timeout_ms;
		jo.PublishAsync.ErrHandler = on_async_pub_err;
		jo.PublishAsync.ErrHandlerClosure = b;
		s = natsConnection_JetStream(&b->ajs, b->nc, &jo);
	}
	*out = b->ajs;
	pthread_mutex_unlock(&b->lock);
	return xlate(s);
}

enum tl_err
bus_publish_async(struct bus *b, const char *subject, const void *data, size_t len, const char *msg_id)
{
	jsPubOptions po;
	jsCtx *js;
	enum tl_err e;

	if (len > INT32_MAX)
		return TL_ETOOBIG;
	if (!bus_connected(b))
		return TL_EUNAVAIL;
	if ((e = async_ctx(b, &js)) != TL_OK)
		return e;
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	return xlate(js_PublishAsync(js, subject, data, (int)len, &po));
}

enum tl_err
bus_publish_async_wait(struct bus *b, int timeout_ms, uint64_t *failed)
{
	jsPubOptions po;
	jsCtx *js;
	natsStatus s = NATS_OK;

	pthread_mutex_lock(&b->lock);
	js = b->ajs;
	pthread_mutex_unlock(&b->lock);
	if (js) {
		jsPubOptions_Init(&po);
		po.MaxWait = timeout_ms;
		s = js_PublishAsyncComplete(js, &po);
	}
	pthread_mutex_lock(&b->lock);
	if (failed)
		*failed = b->async_failed;
	b->async_failed = 0;
	pthread_mutex_unlock(&b->lock);
	return xlate(s);
}

/* ---- admin ---- */

enum tl_err
bus_stream_ensure(struct bus *b, const struct bus_stream_cfg *c)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamConfig_Init(&sc);
	sc.Name = c->name;
	sc.Subjects = (const char **)c->subjects;
	sc.SubjectsLen = c->nsubjects;
	sc.Retention = c->retention == BUS_WORKQUEUE ? js_WorkQueuePolicy
	             : c->retention == BUS_INTEREST  ? js_InterestPolicy
	                                             : js_LimitsPolicy;
	sc.Storage = js_FileStorage;
	sc.MaxAge = c->max_age_ms * 1000000;
	sc.Duplicates = c->dup_window_ms * 1000000;
	if (c->max_msg_size > 0)
		sc.MaxMsgSize = (int32_t)c->max_msg_size;
	sc.Replicas = c->replicas > 0 ? c->replicas : 1;
	s = js_AddStream(&si, b->js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr == JSStreamNameExistErr) {
		jsStreamInfo_Destroy(si);
		si = NULL;
		s = js_UpdateStream(&si, b->js, &sc, NULL, &jerr);
	}
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK)
		log_err("stream %s: %s (jerr %d)", c->name, natsStatus_GetText(s), (int)jerr);
	return xlate(s);
}

enum tl_err
bus_stream_info(struct bus *b, const char *stream, uint64_t *msgs, uint64_t *first_seq,
                uint64_t *last_seq)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, b->js, stream, NULL, &jerr);

	if (s != NATS_OK)
		return jerr == JSStreamNotFoundErr ? TL_ENOTFOUND : xlate(s);
	if (msgs) *msgs = si->State.Msgs;
	if (first_seq) *first_seq = si->State.FirstSeq;
	if (last_seq) *last_seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return TL_OK;
}

enum tl_err
bus_stream_get(struct bus *b, const char *stream, uint64_t seq, struct buf *data, char *subject,
               size_t subjlen)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetMsg(&m, b->js, stream, seq, NULL, &jerr);
	enum tl_err e;

	if (s != NATS_OK)
		return jerr == JSNoMessageFoundErr ? TL_ENOTFOUND : xlate(s);
	buf_reset(data);
	e = buf_append(data, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	if (e == TL_OK && subject)
		snprintf(subject, subjlen, "%s", natsMsg_GetSubject(m));
	natsMsg_Destroy(m);
	return e;
}

enum tl_err
bus_stream_purge(struct bus *b, const char *stream)
{
	jsErrCode jerr = 0;

	return xlate(js_PurgeStream(b->js, stream, NULL, &jerr));
}

enum tl_err
bus_consumer_ensure(struct bus *b, const struct bus_consumer_cfg *c)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsConsumerConfig_Init(&cc);
	cc.Durable = c->durable;
	cc.FilterSubject = c->filter;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = c->ack_wait_ms * 1000000;
	cc.MaxDeliver = c->max_deliver;
	if (c->max_ack_pending > 0)
		cc.MaxAckPending = c->max_ack_pending;
	cc.DeliverPolicy = js_DeliverAll;
	s = js_GetConsumerInfo(&ci, b->js, c->stream, c->durable, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s == NATS_OK)
		s = js_UpdateConsumer(&ci, b->js, c->stream, &cc, NULL, &jerr);
	else
		s = js_AddConsumer(&ci, b->js, c->stream, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK)
		log_err("consumer %s/%s: %s (jerr %d)", c->stream, c->durable, natsStatus_GetText(s),
		        (int)jerr);
	return xlate(s);
}

enum tl_err
bus_consumer_delete(struct bus *b, const char *stream, const char *durable)
{
	jsErrCode jerr = 0;
	natsStatus s = js_DeleteConsumer(b->js, stream, durable, NULL, &jerr);

	if (s != NATS_OK && jerr == JSConsumerNotFoundErr)
		return TL_ENOTFOUND;
	return xlate(s);
}

enum tl_err
bus_kv_ensure(struct bus *b, const struct bus_kv_cfg *c)
{
	kvConfig kc;
	kvStore *kv = NULL;
	natsStatus s;

	kvConfig_Init(&kc);
	kc.Bucket = c->bucket;
	kc.History = (uint8_t)(c->history > 0 ? c->history : 1);
	kc.TTL = c->ttl_ms * 1000000;
	kc.StorageType = js_FileStorage;
	kc.Replicas = c->replicas > 0 ? c->replicas : 1;
	s = js_CreateKeyValue(&kv, b->js, &kc);
	kvStore_Destroy(kv);
	if (s != NATS_OK)
		log_err("kv bucket %s: %s", c->bucket, natsStatus_GetText(s));
	return xlate(s);
}

/* ---- pull consumers ---- */

enum tl_err
bus_consumer_bind(struct bus *b, const char *stream, const char *durable, struct bus_consumer **out)
{
	struct bus_consumer *c = calloc(1, sizeof(*c));
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	if (!c)
		return TL_ENOMEM;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable;
	s = js_PullSubscribe(&c->sub, b->js, NULL, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		log_err("bind %s/%s: %s (jerr %d)", stream, durable, natsStatus_GetText(s), (int)jerr);
		free(c);
		return xlate(s);
	}
	*out = c;
	return TL_OK;
}

void
bus_consumer_free(struct bus_consumer *c)
{
	if (!c)
		return;
	/* Unsubscribe only: the durable stays on the server for the next run. */
	natsSubscription_Unsubscribe(c->sub);
	natsSubscription_Destroy(c->sub);
	free(c);
}

enum tl_err
bus_fetch(struct bus_consumer *c, int max, int timeout_ms, struct bus_batch *out)
{
	natsMsgList *list = calloc(1, sizeof(*list));
	jsErrCode jerr = 0;
	natsStatus s;

	memset(out, 0, sizeof(*out));
	if (!list)
		return TL_ENOMEM;
	s = natsSubscription_Fetch(list, c->sub, max, timeout_ms, &jerr);
	if (s == NATS_TIMEOUT || (s == NATS_OK && list->Count == 0)) {
		natsMsgList_Destroy(list);
		free(list);
		return TL_OK;
	}
	if (s != NATS_OK) {
		natsMsgList_Destroy(list);
		free(list);
		return xlate(s);
	}
	out->msgs = (struct bus_msg **)(void *)list->Msgs;
	out->count = list->Count;
	out->list_ = list;
	return TL_OK;
}

void
bus_batch_free(struct bus_batch *bt)
{
	if (bt->list_) {
		natsMsgList_Destroy(bt->list_);
		free(bt->list_);
	}
	memset(bt, 0, sizeof(*bt));
}

const char *
bus_msg_data(const struct bus_msg *m, size_t *len)
{
	*len = (size_t)natsMsg_GetDataLength(NM(m));
	return natsMsg_GetData(NM(m));
}

const char *
bus_msg_subject(const struct bus_msg *m)
{
	return natsMsg_GetSubject(NM(m));
}

enum tl_err
bus_msg_meta(struct bus_msg *m, uint64_t *stream_seq, uint64_t *delivered)
{
	jsMsgMetaData *md = NULL;
	natsStatus s = natsMsg_GetMetaData(&md, NM(m));

	if (s != NATS_OK)
		return xlate(s);
	if (stream_seq) *stream_seq = md->Sequence.Stream;
	if (delivered) *delivered = md->NumDelivered;
	jsMsgMetaData_Destroy(md);
	return TL_OK;
}

enum tl_err
bus_msg_ack(struct bus_msg *m)
{
	jsErrCode jerr = 0;

	return xlate(natsMsg_AckSync(NM(m), NULL, &jerr));
}

enum tl_err
bus_msg_nak(struct bus_msg *m, int64_t delay_ms)
{
	return xlate(delay_ms > 0 ? natsMsg_NakWithDelay(NM(m), delay_ms, NULL) : natsMsg_Nak(NM(m), NULL));
}

enum tl_err
bus_msg_term(struct bus_msg *m)
{
	return xlate(natsMsg_Term(NM(m), NULL));
}

enum tl_err
bus_msg_in_progress(struct bus_msg *m)
{
	return xlate(natsMsg_InProgress(NM(m), NULL));
}

/* ---- key-value ---- */

enum tl_err
bus_kv_open(struct bus *b, const char *bucket, struct bus_kv **out)
{
	struct bus_kv *kv = calloc(1, sizeof(*kv));
	natsStatus s;

	if (!kv)
		return TL_ENOMEM;
	if ((s = js_KeyValue(&kv->kv, b->js, bucket)) != NATS_OK) {
		free(kv);
		return xlate(s);
	}
	*out = kv;
	return TL_OK;
}

void
bus_kv_close(struct bus_kv *kv)
{
	if (!kv)
		return;
	kvStore_Destroy(kv->kv);
	free(kv);
}

enum tl_err
bus_kv_get(struct bus_kv *kv, const char *key, struct buf *val, uint64_t *rev)
{
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, kv->kv, key);
	enum tl_err r;

	if (s != NATS_OK)
		return xlate(s);
	buf_reset(val);
	r = buf_append(val, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
	if (rev)
		*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	return r;
}

enum tl_err
bus_kv_put(struct bus_kv *kv, const char *key, const void *val, size_t len, uint64_t *rev)
{
	uint64_t r = 0;
	natsStatus s;

	if (len > INT32_MAX)
		return TL_ETOOBIG;
	s = kvStore_Put(&r, kv->kv, key, val, (int)len);
	if (rev)
		*rev = r;
	return xlate(s);
}

/* KV CAS failures come back as a plain NATS_ERR whose only trace is the
 * text "wrong last sequence" in the thread's last error. */
static bool
last_error_is_wrong_seq(void)
{
	const char *txt = nats_GetLastError(NULL);

	return txt && strstr(txt, "wrong last sequence") != NULL;
}

enum tl_err
bus_kv_create(struct bus_kv *kv, const char *key, const void *val, size_t len, uint64_t *rev)
{
	uint64_t r = 0;
	natsStatus s;

	if (len > INT32_MAX)
		return TL_ETOOBIG;
	s = kvStore_Create(&r, kv->kv, key, val, (int)len);
	if (s == NATS_ERR && last_error_is_wrong_seq())
		return TL_EEXIST;
	if (rev)
		*rev = r;
	return xlate(s);
}

enum tl_err
bus_kv_update(struct bus_kv *kv, const char *key, const void *val, size_t len, uint64_t last_rev,
              uint64_t *rev)
{
	uint64_t r = 0;
	natsStatus s;

	if (len > INT32_MAX)
		return TL_ETOOBIG;
	s = kvStore_Update(&r, kv->kv, key, val, (int)len, last_rev);
	if (s == NATS_ERR && last_error_is_wrong_seq())
		return TL_ECONFLICT;
	if (rev)
		*rev = r;
	return xlate(s);
}

enum tl_err
bus_kv_delete(struct bus_kv *kv, const char *key)
{
	return xlate(kvStore_Delete(kv->kv, key));
}

/* ---- core request/reply ---- */

struct bus_sub {
	natsSubscription *sub;
};

/* A reveal reply carries payee details (sealed, but still) and a request
 * may carry anything the caller chose: wipe nats.c's copy before it goes
 * back to the allocator, as buf_init_secret() does for ours. */
static void
msg_wipe_destroy(natsMsg *m)
{
	if (!m)
		return;
	if (natsMsg_GetDataLength(m) > 0)
		sodium_memzero((void *)(uintptr_t)natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

enum tl_err
bus_request(struct bus *b, const char *subject, const void *data, size_t len, int timeout_ms,
            struct buf *reply)
{
	natsMsg *m = NULL;
	natsStatus s;
	enum tl_err e;

	buf_reset(reply);
	if (len > INT32_MAX)
		return TL_ETOOBIG;
	if (!bus_connected(b))
		return TL_EUNAVAIL;
	/* nats.c takes the reply inbox from the connection's custom inbox
	 * prefix (bus_opts.inbox_prefix), the only inbox a restricted user may
	 * subscribe to. */
	s = natsConnection_Request(&m, b->nc, subject, data, (int)len, timeout_ms > 0 ? timeout_ms : 1);
	/* The caller cannot tell "nobody is serving" from "the server is slow"
	 * any better than by waiting and retrying, so both are a timeout; the
	 * connection itself is fine. */
	if (s == NATS_NO_RESPONDERS)
		return TL_ETIMEOUT;
	if (s == NATS_MAX_PAYLOAD)
		return TL_ETOOBIG;
	if (s != NATS_OK)
		return xlate(s);
	e = buf_append(reply, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	msg_wipe_destroy(m);
	if (e != TL_OK)
		buf_reset(reply);
	return e;
}

enum tl_err
bus_sub_sync(struct bus *b, const char *subject, struct bus_sub **out)
{
	struct bus_sub *sb = calloc(1, sizeof(*sb));
	natsStatus s;

	if (!sb)
		return TL_ENOMEM;
	if ((s = natsConnection_SubscribeSync(&sb->sub, b->nc, subject)) != NATS_OK) {
		free(sb);
		return xlate(s);
	}
	/* A request sent right after this returns must find the subscription
	 * registered on the server.  While disconnected nats.c registers it on
	 * reconnect, so only a connected bus waits for the server. */
	if (bus_connected(b) && (s = natsConnection_FlushTimeout(b->nc, b->timeout_ms)) != NATS_OK)
		log_warn("subscribe %s: server did not confirm: %s", subject, natsStatus_GetText(s));
	*out = sb;
	return TL_OK;
}

enum tl_err
bus_sub_next(struct bus_sub *sb, int timeout_ms, struct bus_msg **out)
{
	natsMsg *m = NULL;
	natsStatus s;

	*out = NULL;
	s = natsSubscription_NextMsg(&m, sb->sub, timeout_ms > 0 ? timeout_ms : 0);
	if (s == NATS_SLOW_CONSUMER) {
		/* Reported once when nats.c dropped messages for a full pending
		 * queue; the requesters concerned time out and retry.  What is
		 * still queued is served. */
		log_warn("subscription %s: messages dropped (slow consumer)", natsSubscription_GetSubject(sb->sub));
		s = natsSubscription_NextMsg(&m, sb->sub, timeout_ms > 0 ? timeout_ms : 0);
	}
	if (s != NATS_OK)
		return xlate(s);
	*out = (struct bus_msg *)(void *)m;
	return TL_OK;
}

enum tl_err
bus_respond(struct bus *b, struct bus_msg *m, const void *data, size_t len)
{
	const char *reply = natsMsg_GetReply(NM(m));
	natsStatus s;

	if (!reply || !*reply)
		return TL_EINVAL;
	if (len > INT32_MAX)
		return TL_ETOOBIG;
	if (!bus_connected(b))
		return TL_EUNAVAIL;
	/* No publish right on the requester's inbox is needed: the server lets
	 * a user with allow_responses answer the reply subject it was given. */
	s = natsConnection_Publish(b->nc, reply, data, (int)len);
	if (s == NATS_MAX_PAYLOAD)
		return TL_ETOOBIG;
	return xlate(s);
}

void
bus_msg_free(struct bus_msg *m)
{
	msg_wipe_destroy(NM(m));
}

void
bus_sub_free(struct bus_sub *sb)
{
	if (!sb)
		return;
	natsSubscription_Unsubscribe(sb->sub);
	natsSubscription_Destroy(sb->sub);
	free(sb);
}

void
bus_shutdown(void)
{
	nats_CloseAndWait(2000);
}
