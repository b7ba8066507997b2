/* sim: the built-in Anthropic-compatible server (libmicrohttpd on loopback).
 *
 * Threads. MHD runs one thread per connection (plus its listening thread).
 * That is what makes pacing simple and cheap: latency and stream pacing are
 * plain timed waits on the connection's own thread, so 64 or 500 slow
 * streams cost 64 or 500 sleeping threads and never delay anyone else, and
 * keep-alive clients get a dedicated thread with no hand-off per request.
 * Shared state sits behind two locks: `mu` guards the buckets, the prompt
 * cache and the counters; `wait_mu`/`wait_cv` carry the stop flag so that
 * every wait ends at once when the sim stops. Per-request state belongs to
 * its connection thread. The fault PRNG is counter-based (a hash of the seed
 * and the request's sequence number), so it needs no lock and a sequential
 * test sees the same faults on every run.
 *
 * Accounting follows the documented server: RPM, ITPM (input + cache
 * writes, never cache reads) and OTPM (max_tokens) are charged together when
 * a call is admitted, all or nothing; the unused part of max_tokens is given
 * back when the answer ends (JSON sent, stream finished or cut off). */
#include "sim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "sim_bucket.h"
#include "sim_cache.h"
#include "sim_text.h"

#define BODY_MAX (32ull * 1024 * 1024)        /* the API's 32 MB request limit */
#define BATCH_BODY_MAX (256ull * 1024 * 1024) /* a message batch: 256 MB */
#define BODY_TOTAL_MAX (288ull * 1024 * 1024) /* all bodies being read at once */
#define BATCH_MAX_REQUESTS 100000
#define CACHE_ENTRIES 4096
#define MAX_CONNECTIONS 1024
#define STREAM_BLOCK 4096
#define LATENCY_MAX_MS 600000
#define OUTPUT_MAX 1000000                            /* x-sim-output-tokens */
#define OUTPUT_BYTES_MAX ((int64_t)64 << 20)         /* x-sim-output-bytes */
#define ORG_ID "5a1e0000-0000-4000-8000-000000000001" /* the simulated organization */

/* ---- models ---------------------------------------------------------- */

struct model {
	const char *name;  /* what a request may say */
	const char *id;    /* what the response says */
	int64_t max_out;   /* largest max_tokens */
	int64_t min_cache; /* shortest cacheable prefix */
};

/* Aliases answer with their dated snapshot; dated ids and
 * the newer undated ids answer as themselves. */
static const struct model models[] = {
    {"claude-opus-4-5", "claude-opus-4-5-20251101", 64000, 4096},
    {"claude-opus-4-5-20251101", "claude-opus-4-5-20251101", 64000, 4096},
    {"claude-opus-4-1", "claude-opus-4-1-20250805", 32000, 1024},
    {"claude-opus-4-1-20250805", "claude-opus-4-1-20250805", 32000, 1024},
    {"claude-opus-4-0", "claude-opus-4-20250514", 32000, 1024},
    {"claude-opus-4-20250514", "claude-opus-4-20250514", 32000, 1024},
    {"claude-4-opus-20250514", "claude-4-opus-20250514", 32000, 1024},
    {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 64000, 1024},
    {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", 64000, 1024},
    {"claude-sonnet-4-0", "claude-sonnet-4-20250514", 64000, 1024},
    {"claude-sonnet-4-20250514", "claude-sonnet-4-20250514", 64000, 1024},
    {"claude-4-sonnet-20250514", "claude-4-sonnet-20250514", 64000, 1024},
    {"claude-haiku-4-5", "claude-haiku-4-5-20251001", 64000, 4096},
    {"claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", 64000, 4096},
    {"claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219", 64000, 1024},
    {"claude-3-7-sonnet-20250219", "claude-3-7-sonnet-20250219", 64000, 1024},
    {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", 8192, 2048},
    {"claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", 8192, 2048},
    {"claude-3-haiku-20240307", "claude-3-haiku-20240307", 4096, 2048},
    {"claude-opus-4-6", "claude-opus-4-6", 128000, 4096},
    {"claude-opus-4-7", "claude-opus-4-7", 128000, 4096},
    {"claude-opus-4-8", "claude-opus-4-8", 128000, 4096},
    {"claude-opus-5", "claude-opus-5", 128000, 4096},
    {"claude-sonnet-4-6", "claude-sonnet-4-6", 64000, 1024},
    {"claude-sonnet-5", "claude-sonnet-5", 64000, 1024},
    {"claude-fable-5", "claude-fable-5", 64000, 1024},
    {"claude-opus-5-5", "claude-opus-5-5", 128000, 4096},
    {"claude-sonnet-5-5", "claude-sonnet-5-5", 128000, 1024},
    {"claude-haiku-5-5", "claude-haiku-5-5", 128000, 4096},
    {"claude-fable-5-1", "claude-fable-5-1", 128000, 1024},
    {"claude-fable-5-2", "claude-fable-5-2", 128000, 1024},
};

/* Whether an id is one of `ids` (NULL-terminated). */
static bool id_in(const char *id, const char *const *ids)
{
	for (; *ids; ids++)
		if (!strcmp(id, *ids))
			return true;
	return false;
}

/* Fast mode: served fast on these; Opus 4.6 accepts it and serves standard. */
static const char *const fast_ids[] = { "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5",
	                                "claude-opus-5-5", "claude-fable-5-2", NULL };
static const char *const fast_quiet_ids[] = { "claude-opus-4-6", NULL };

/* Data residency: Opus 4.6, Sonnet 4.6 and every later model. */
static const char *const geo_ids[] = {
	"claude-opus-4-6",   "claude-opus-4-7",  "claude-opus-4-8",   "claude-opus-5",
	"claude-opus-5-5",   "claude-sonnet-4-6", "claude-sonnet-5",  "claude-sonnet-5-5",
	"claude-haiku-5-5",  "claude-fable-5",   "claude-fable-5-1", "claude-fable-5-2",
	NULL
};

/* `sim-fault-<fault>` names a test hook that behaves like a model. */
static const struct model hook_model = {NULL, NULL, 64000, 1024};
#define HOOK_PREFIX "sim-fault-"

static const struct model *find_model(const char *name)
{
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		if (!strcmp(models[i].name, name))
			return &models[i];
	return NULL;
}

/* ---- the server object ----------------------------------------------- */

enum dim { D_REQ, D_IN, D_OUT, D_COUNT, D_BATCH, D_N };
enum endpoint { EP_NONE, EP_MESSAGES, EP_COUNT, EP_BATCH };

struct sbatch;
struct req;
struct am_sim;

struct am_sim {
	am_sim_cfg cfg; /* cfg.api_key points at api_key, cfg.output_text at output_text */
	char *api_key;
	char *output_text;
	const am_clock *clock;
	struct MHD_Daemon *d;
	uint16_t port;
	char url[48];

	pthread_mutex_t mu; /* b, cache, stats, cfg limits */
	am_simbucket b[D_N];
	am_simcache cache;
	am_sim_stats stats;

	pthread_mutex_t wait_mu; /* stop flag and the waits of latency and pacing */
	pthread_cond_t wait_cv;
	atomic_bool stopping;

	pthread_mutex_t bmu; /* the message batches and the custom_id counts */
	struct sbatch **batches;         /* in creation order */
	size_t nbatches, capbatches;
	struct seen *seen;               /* custom_id -> times submitted (open addressing) */
	size_t nseen, capseen;

	atomic_uint_fast64_t seq;        /* requests numbered in arrival order */
	atomic_uint_fast64_t body_bytes; /* bytes of request bodies held now */
};

static int64_t now_mono(const am_sim *s)
{
	return am_clock_mono(s->clock);
}

static int64_t real_mono(void)
{
	return am_clock_mono(am_clock_system());
}

/* Waits until the real monotonic deadline. Returns false when the sim is
 * stopping, so callers abandon their response. */
static bool wait_until(am_sim *s, int64_t deadline_ns)
{
	pthread_mutex_lock(&s->wait_mu);
	while (!atomic_load(&s->stopping)) {
		int64_t now = real_mono();
		if (now >= deadline_ns)
			break;
		struct timespec ts = {(time_t)(deadline_ns / AM_NS_PER_SEC),
		                      (long)(deadline_ns % AM_NS_PER_SEC)};
		pthread_cond_timedwait(&s->wait_cv, &s->wait_mu, &ts);
	}
	bool ok = !atomic_load(&s->stopping);
	pthread_mutex_unlock(&s->wait_mu);
	return ok;
}

/* ---- small text helpers ---------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = am_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void fmt_rfc3339(char *out, size_t n, int64_t wall_ns)
{
	/* Second precision, rounded up: the bucket is full at or before it. */
	time_t t = (time_t)(wall_ns / AM_NS_PER_SEC + (wall_ns % AM_NS_PER_SEC > 0));
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void fmt_http_date(char *out, size_t n, int64_t wall_ns)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(wall_ns / AM_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The first day of next month, as the spend-limit messages state it. */
static void fmt_next_month(char *out, size_t n, int64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / AM_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
	if (m == 13) {
		m = 1;
		y++;
	}
	snprintf(out, n, "%04d-%02d-01", y, m);
}

static void base62(char *out, size_t n, uint64_t a, uint64_t b)
{
	static const char digits[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	for (size_t i = 0; i < n; i++) {
		uint64_t *w = i % 2 ? &b : &a;
		out[i] = digits[*w % 62];
		*w /= 62;
		if (*w == 0)
			*w = am_simtext_mix(a ^ b ^ i);
	}
	out[n] = '\0';
}

/* A uniform draw in [0,1) for request `seq`, slot j: a pure function of the
 * seed, so faults repeat run after run. */
static double draw(const am_sim *s, uint64_t seq, unsigned j)
{
	uint64_t x = am_simtext_mix(s->cfg.seed ^ am_simtext_mix(seq * 8 + j));
	return (double)(x >> 11) * 0x1p-53;
}

/* ---- faults ---------------------------------------------------------- */

enum fault_kind { FK_NONE, FK_STATUS, FK_SPEND, FK_USER_SPEND, FK_MIDSTREAM, FK_TRUNCATE, FK_DROP };

struct fault {
	enum fault_kind kind;
	unsigned status;
};

static int parse_fault(const char *v, struct fault *f)
{
	static const struct {
		const char *name;
		enum fault_kind kind;
	} names[] = {
	    {"spend_limit", FK_SPEND},   {"user_spend_limit", FK_USER_SPEND},
	    {"midstream", FK_MIDSTREAM}, {"truncate", FK_TRUNCATE},
	    {"drop", FK_DROP},
	};
	*f = (struct fault){FK_NONE, 0};
	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!strcmp(v, names[i].name)) {
			f->kind = names[i].kind;
			return 0;
		}
	}
	char *end;
	unsigned long st = strtoul(v, &end, 10);
	if (*end || st < 400 || st > 599)
		return -1;
	f->kind = FK_STATUS;
	f->status = (unsigned)st;
	return 0;
}

/* The documented error type and message for each status a fault may force. */
struct status_error {
	unsigned status;
	const char *type, *text;
};

/* Any other 4xx is an invalid_request_error and any other 5xx an api_error,
 * as the API does. */
static const struct status_error client_error = {
    400, "invalid_request_error", "There was an issue with the format or content of your request."};
static const struct status_error server_error = {500, "api_error", "Internal server error"};

static const struct status_error status_errors[] = {
    {401, "authentication_error", "invalid x-api-key"},
    {402, "billing_error", "Your credit balance is too low to access the Anthropic API."},
    {403, "permission_error",
     "Your API key does not have permission to use the specified resource."},
    {404, "not_found_error", "The requested resource could not be found."},
    {408, "timeout_error", "Request timed out."},
    {409, "conflict_error", "Conflict."},
    {413, "request_too_large",
     "Request exceeds the maximum allowed number of bytes. The maximum request size is 32 MB "
     "for standard API endpoints."},
    {429, "rate_limit_error",
     "This request would exceed your account's rate limit. Please try again later."},
    {504, "timeout_error", "Request timed out."},
    {529, "overloaded_error", "Overloaded"},
};

static const struct status_error *status_error(unsigned status)
{
	for (size_t i = 0; i < sizeof status_errors / sizeof status_errors[0]; i++)
		if (status_errors[i].status == status)
			return &status_errors[i];
	return status >= 500 ? &server_error : &client_error;
}

static const char *error_type(unsigned status)
{
	return status_error(status)->type;
}

/* ---- one request ------------------------------------------------------ */

/* Lives from a request's first callback until MHD reports it complete. */
struct req {
	enum endpoint ep;
	uint64_t seq;
	char id[32];
	struct buf body;
	bool too_large, overloaded;
	char retry_after[64], retry_after_ms[64]; /* sent when non-empty */
	bool get;        /* GET (the batch endpoints also take POST) */
	char path[192];  /* the URL path, for the batch endpoints */
};

struct rl_out {
	const char *name; /* requests, tokens, input-tokens, output-tokens */
	int64_t limit, remaining, full_ns;
	bool round; /* token counts are rounded to the nearest thousand */
};

/* anthropic-ratelimit-*-{limit,remaining,reset} for every limited bucket;
 * count_tokens answers with its own request bucket. */
static void add_ratelimit_headers(am_sim *s, const struct req *rq, struct MHD_Response *r)
{
	struct {
		int64_t limit, remaining, full_ns;
	} v[D_N];
	int64_t now = now_mono(s), wall = am_clock_wall(s->clock);
	pthread_mutex_lock(&s->mu);
	for (int d = 0; d < D_N; d++) {
		v[d].limit = s->b[d].limit;
		v[d].remaining = am_simbucket_remaining(&s->b[d], now);
		v[d].full_ns = am_simbucket_full_in_ns(&s->b[d], now);
	}
	pthread_mutex_unlock(&s->mu);

	struct rl_out out[4];
	int n = 0;
	if (rq->ep == EP_BATCH) {
		if (v[D_BATCH].limit)
			out[n++] = (struct rl_out){"requests", v[D_BATCH].limit,
			                           v[D_BATCH].remaining, v[D_BATCH].full_ns, false};
	} else if (rq->ep == EP_COUNT) {
		if (v[D_COUNT].limit)
			out[n++] = (struct rl_out){"requests", v[D_COUNT].limit,
			                           v[D_COUNT].remaining, v[D_COUNT].full_ns, false};
	} else {
		if (v[D_REQ].limit)
			out[n++] = (struct rl_out){"requests", v[D_REQ].limit, v[D_REQ].remaining,
			                           v[D_REQ].full_ns, false};
		/* tokens-*: the sum of input and output, full when both are. */
		if (v[D_IN].limit && v[D_OUT].limit)
			out[n++] = (struct rl_out){
			    "tokens", v[D_IN].limit + v[D_OUT].limit,
			    v[D_IN].remaining + v[D_OUT].remaining,
			    v[D_IN].full_ns > v[D_OUT].full_ns ? v[D_IN].full_ns : v[D_OUT].full_ns,
			    true};
		if (v[D_IN].limit)
			out[n++] = (struct rl_out){"input-tokens", v[D_IN].limit, v[D_IN].remaining,
			                           v[D_IN].full_ns, true};
		if (v[D_OUT].limit)
			out[n++] = (struct rl_out){"output-tokens", v[D_OUT].limit,
			                           v[D_OUT].remaining, v[D_OUT].full_ns, true};
	}
	for (int i = 0; i < n; i++) {
		char name[64], val[48];
		int64_t rem =
		    out[i].round ? (out[i].remaining + 500) / 1000 * 1000 : out[i].remaining;
		snprintf(name, sizeof name, "anthropic-ratelimit-%s-limit", out[i].name);
		snprintf(val, sizeof val, "%lld", (long long)out[i].limit);
		MHD_add_response_header(r, name, val);
		snprintf(name, sizeof name, "anthropic-ratelimit-%s-remaining", out[i].name);
		snprintf(val, sizeof val, "%lld", (long long)rem);
		MHD_add_response_header(r, name, val);
		snprintf(name, sizeof name, "anthropic-ratelimit-%s-reset", out[i].name);
		fmt_rfc3339(val, sizeof val, wall + out[i].full_ns);
		MHD_add_response_header(r, name, val);
	}
}

/* Adds the headers every response carries, queues it and counts it. */
static enum MHD_Result send_reply(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                  unsigned status, struct MHD_Response *r, const char *ctype)
{
	char date[64];
	fmt_http_date(date, sizeof date, am_clock_wall(s->clock));
	MHD_add_response_header(r, "Date", date);
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "request-id", rq->id);
	MHD_add_response_header(r, "anthropic-organization-id", ORG_ID);
	if (rq->retry_after[0])
		MHD_add_response_header(r, "retry-after", rq->retry_after);
	if (rq->retry_after_ms[0])
		MHD_add_response_header(r, "retry-after-ms", rq->retry_after_ms);
	add_ratelimit_headers(s, rq, r);
	pthread_mutex_lock(&s->mu);
	if (status == 429)
		s->stats.rate_limited++;
	else if (status == 529)
		s->stats.overloaded++;
	else if (status == 500)
		s->stats.server_errors++;
	pthread_mutex_unlock(&s->mu);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                 unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return MHD_NO;
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	return send_reply(s, conn, rq, status, r, "application/json");
}

/* The documented error shape; error_code adds error.details.error_code. */
static enum MHD_Result send_error(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                  unsigned status, const char *type, const char *msg,
                                  const char *error_code)
{
	json_t *err = json_pack("{s:s,s:s}", "type", type, "message", msg);
	if (error_code)
		json_object_set_new(err, "details", json_pack("{s:s}", "error_code", error_code));
	json_t *body =
	    json_pack("{s:s,s:o,s:s}", "type", "error", "error", err, "request_id", rq->id);
	return send_json(s, conn, rq, status, body);
}

static enum MHD_Result send_status_error(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                         unsigned status)
{
	const struct status_error *e = status_error(status);
	return send_error(s, conn, rq, status, e->type, e->text, NULL);
}

/* A forced error. x-sim-retry-after / x-sim-retry-after-ms are copied
 * verbatim into retry-after / retry-after-ms (to test every form a client
 * must parse); a forced 429 otherwise says "retry-after: 1". */
static enum MHD_Result send_fault(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                  const struct fault *f)
{
	const char *ra = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-sim-retry-after");
	const char *ra_ms =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-sim-retry-after-ms");
	if (ra)
		snprintf(rq->retry_after, sizeof rq->retry_after, "%s", ra);
	if (ra_ms)
		snprintf(rq->retry_after_ms, sizeof rq->retry_after_ms, "%s", ra_ms);
	char msg[300], when[16];
	fmt_next_month(when, sizeof when, am_clock_wall(s->clock));
	switch (f->kind) {
	case FK_SPEND:
		snprintf(
		    msg, sizeof msg,
		    "You have reached your API usage limits: your organization has crossed its "
		    "monthly API usage threshold, set based on your organization's API tier. You "
		    "will regain access on %s at 00:00 UTC.",
		    when);
		rq->retry_after[0] = rq->retry_after_ms[0] = '\0';
		return send_error(s, conn, rq, 429, "rate_limit_error", msg,
		                  "enforced_spend_limit_reached");
	case FK_USER_SPEND:
		snprintf(
		    msg, sizeof msg,
		    "You have reached your specified API usage limits. You will regain access on "
		    "%s at 00:00 UTC.",
		    when);
		return send_error(s, conn, rq, 400, "invalid_request_error", msg, NULL);
	case FK_MIDSTREAM: /* without a stream, the documented equivalent is a 529 */
		return send_status_error(s, conn, rq, 529);
	default:
		if (f->status == 429 && !ra && !ra_ms)
			snprintf(rq->retry_after, sizeof rq->retry_after, "1");
		return send_status_error(s, conn, rq, f->status);
	}
}

/* ---- request parameters ----------------------------------------------- */

struct params {
	const struct model *model;
	const char *answer_model; /* the id the response names */
	struct fault hook;        /* from a sim-fault-* model */
	int64_t max_tokens;
	bool stream;
	const char *stops[AM_SIMTEXT_MAX_STOPS];
	size_t n_stops;
	am_simtext_prompt prompt;
	bool new_version;         /* anthropic-version 2026-10-21 */
	bool fast;                /* "speed": "fast" asked */
	bool speed_asked;         /* a "speed" field was there */
	const char *geo;          /* "inference_geo" asked; NULL = none */
	int64_t web_searches;     /* searches a web_search tool makes; 0 = no tool */
};


static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Fills err and returns the status to answer with. */
__attribute__((format(printf, 3, 4))) static unsigned reject(am_err *err, unsigned status,
                                                             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[AM_ERR_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	am_err_set(err, "%s", msg);
	return status;
}

/* speed, inference_geo and a web_search tool. Returns 0 or a status. */
static unsigned parse_served(const json_t *req, struct params *p, am_err *err)
{
	const json_t *sp = json_object_get(req, "speed");
	if (sp) {
		const char *v = json_string_value(sp);
		if (!v || (strcmp(v, "fast") && strcmp(v, "standard")))
			return reject(err, 400, "speed: Input should be 'standard' or 'fast'");
		p->speed_asked = true;
		p->fast = !strcmp(v, "fast");
	}
	const json_t *geo = json_object_get(req, "inference_geo");
	if (geo) {
		const char *v = json_string_value(geo);
		if (!v || (strcmp(v, "us") && strcmp(v, "global")))
			return reject(err, 400, "inference_geo: Input should be 'global' or 'us'");
		p->geo = v;
	}
	const json_t *tools = json_object_get(req, "tools");
	size_t i;
	const json_t *t;
	json_array_foreach(tools, i, t)
	{
		const char *type = json_string_value(json_object_get(t, "type"));
		if (!type || strncmp(type, "web_search_", 11))
			continue;
		const json_t *mu = json_object_get(t, "max_uses");
		if (mu && (!json_is_integer(mu) || json_integer_value(mu) < 1))
			return reject(err, 400, "tools.%zu.max_uses: Input should be greater than 0", i);
		p->web_searches += mu ? (int64_t)json_integer_value(mu) : 1;
	}
	return 0;
}

/* Validates a request body. Returns 0, or the HTTP status to answer with
 * and the message in err. */
static unsigned parse_params(const json_t *req, enum endpoint ep, bool new_version,
                             struct params *p, am_err *err)
{
	memset(p, 0, sizeof *p);
	p->new_version = new_version;
	const json_t *model = json_object_get(req, "model");
	if (!model)
		return reject(err, 400, "model: Field required");
	if (!json_is_string(model))
		return reject(err, 400, "model: Input should be a valid string");
	if (ep == EP_MESSAGES) {
		const json_t *mt = json_object_get(req, "max_tokens");
		if (!mt)
			return reject(err, 400, "max_tokens: Field required");
		if (!json_is_integer(mt))
			return reject(err, 400, "max_tokens: Input should be a valid integer");
		p->max_tokens = json_integer_value(mt);
		if (p->max_tokens < 0)
			return reject(err, 400,
			              "max_tokens: Input should be greater than or equal to 0");
		const json_t *st = json_object_get(req, "stream");
		if (st && !json_is_boolean(st))
			return reject(err, 400, "stream: Input should be a valid boolean");
		p->stream = json_is_true(st);
		const json_t *temp = json_object_get(req, "temperature");
		if (temp && (!json_is_number(temp) || json_number_value(temp) < 0 ||
		             json_number_value(temp) > 1))
			return reject(err, 400,
			              "temperature: Input should be a number from 0 to 1");
		const json_t *meta = json_object_get(req, "metadata");
		if (meta && !json_is_object(meta))
			return reject(err, 400, "metadata: Input should be a valid dictionary");
		const json_t *stops = json_object_get(req, "stop_sequences");
		if (stops && !json_is_array(stops))
			return reject(err, 400, "stop_sequences: Input should be a valid list");
		if (json_array_size(stops) > AM_SIMTEXT_MAX_STOPS)
			return reject(err, 400, "stop_sequences: at most %d are supported",
			              AM_SIMTEXT_MAX_STOPS);
		size_t i;
		const json_t *v;
		json_array_foreach(stops, i, v)
		{
			if (!json_is_string(v) || blank(json_string_value(v)))
				return reject(err, 400,
				              "stop_sequences: each element must be a string "
				              "containing non-whitespace");
			p->stops[p->n_stops++] = json_string_value(v);
		}
		if (p->new_version) {
			static const char *const gone[] = { "temperature", "top_p", "top_k" };
			for (size_t g = 0; g < 3; g++)
				if (json_object_get(req, gone[g]))
					return reject(err, 400,
					              "%s: Extra inputs are not permitted in "
					              "anthropic-version 2026-10-21",
					              gone[g]);
		}
		unsigned bad = parse_served(req, p, err);
		if (bad)
			return bad;
	}
	if (am_simtext_prompt_parse(req, &p->prompt, err))
		return 400; /* err already says why */

	const char *name = json_string_value(model);
	if (!strncmp(name, HOOK_PREFIX, strlen(HOOK_PREFIX))) {
		if (parse_fault(name + strlen(HOOK_PREFIX), &p->hook))
			return reject(err, 404, "model: unknown simulator hook '%.64s'", name);
		p->model = &hook_model;
		p->answer_model = name;
	} else {
		p->model = find_model(name);
		if (!p->model)
			return reject(err, 404, "model: %.200s", name);
		p->answer_model = p->model->id;
	}
	if (p->fast && !id_in(p->answer_model, fast_ids) &&
	    !id_in(p->answer_model, fast_quiet_ids) && p->model != &hook_model)
		return reject(err, 400, "speed: fast mode is not supported on %s", p->answer_model);
	if (p->geo && !id_in(p->answer_model, geo_ids) && p->model != &hook_model)
		return reject(err, 400, "inference_geo: not supported on %s", p->answer_model);
	if (ep == EP_MESSAGES && p->max_tokens > p->model->max_out)
		return reject(err, 400,
		              "max_tokens: %lld > %lld, which is the maximum allowed number of "
		              "output tokens for %s",
		              (long long)p->max_tokens, (long long)p->model->max_out,
		              p->answer_model);
	return 0;
}

/* ---- answers ----------------------------------------------------------- */

/* Everything the response body says about one admitted call. */
struct answer {
	char msg_id[32];
	char model[128];
	int64_t input, write_5m, write_1h, read, max_tokens;
	char *stop_seq; /* the matched stop sequence, owned */
	am_simtext_answer text;
	const char *speed;    /* usage.speed; NULL = not reported */
	const char *geo;      /* usage.inference_geo; NULL = not reported */
	int64_t web_searches; /* usage.server_tool_use.web_search_requests */
	const char *tier;     /* usage.service_tier; NULL = "standard" */
};

/* What was served, from what was asked (see sim.h). */
static void answer_served(const am_sim *s, const struct params *p, struct answer *a)
{
	if (p->speed_asked)
		a->speed = p->fast && id_in(p->answer_model, fast_ids) ? "fast" : "standard";
	if (id_in(p->answer_model, geo_ids))
		a->geo = p->geo ? p->geo : s->cfg.default_geo ? s->cfg.default_geo : "global";
	else if (p->model != &hook_model)
		a->geo = "not_available";
	a->web_searches = p->web_searches;
}

/* The server_tool_use object, or NULL when no server tool ran. */
static json_t *server_tool_json(const struct answer *a)
{
	if (a->web_searches <= 0)
		return NULL;
	return json_pack("{s:I,s:I}", "web_search_requests", (json_int_t)a->web_searches,
	                 "web_fetch_requests", (json_int_t)0);
}

static json_t *usage_json(const struct answer *a, int64_t output_tokens)
{
	json_t *u = json_pack("{s:I,s:I,s:I,s:{s:I,s:I},s:I,s:s}", "input_tokens",
	                      (json_int_t)a->input, "cache_creation_input_tokens",
	                      (json_int_t)(a->write_5m + a->write_1h), "cache_read_input_tokens",
	                      (json_int_t)a->read, "cache_creation", "ephemeral_5m_input_tokens",
	                      (json_int_t)a->write_5m, "ephemeral_1h_input_tokens",
	                      (json_int_t)a->write_1h, "output_tokens", (json_int_t)output_tokens,
	                      "service_tier", a->tier ? a->tier : "standard");
	if (a->speed)
		json_object_set_new(u, "speed", json_string(a->speed));
	if (a->geo)
		json_object_set_new(u, "inference_geo", json_string(a->geo));
	json_t *st = server_tool_json(a);
	if (st)
		json_object_set_new(u, "server_tool_use", st);
	return u;
}

static const char *stop_reason(const struct answer *a)
{
	switch (a->text.stop) {
	case AM_SIMTEXT_MAX_TOKENS:
		return "max_tokens";
	case AM_SIMTEXT_STOP_SEQUENCE:
		return "stop_sequence";
	default:
		return "end_turn";
	}
}

/* The Message object: final for a JSON answer, empty for message_start
 * (content [], stop_reason null, output_tokens 1 as in the docs' example). */
static json_t *message_json(const struct answer *a, bool final)
{
	json_t *content = json_array();
	if (final && a->text.len > 0)
		json_array_append_new(content, json_pack("{s:s,s:s%}", "type", "text", "text",
		                                         a->text.text, a->text.len));
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s?,s:s?,s:o}", "id", a->msg_id, "type", "message",
	                 "role", "assistant", "content", content, "model", a->model, "stop_reason",
	                 final ? stop_reason(a) : NULL, "stop_sequence", final ? a->stop_seq : NULL,
	                 "usage", usage_json(a, final ? a->text.n_tokens : 1));
}

static void answer_free(struct answer *a)
{
	am_simtext_answer_free(&a->text);
	free(a->stop_seq);
}

/* Gives back the unused part of max_tokens and counts what was produced. */
static void settle(am_sim *s, const struct answer *a, int64_t produced, bool whole)
{
	pthread_mutex_lock(&s->mu);
	am_simbucket_give(&s->b[D_OUT], a->max_tokens - produced, now_mono(s));
	s->stats.output_tokens += produced;
	if (whole)
		s->stats.ok++;
	pthread_mutex_unlock(&s->mu);
}

/* ---- streams ----------------------------------------------------------- */

enum phase {
	PH_START,
	PH_BLOCK_START,
	PH_PING,
	PH_DELTA,
	PH_BLOCK_STOP,
	PH_MSG_DELTA,
	PH_MSG_STOP,
	PH_DONE,
	PH_ABORT
};

struct stream {
	am_sim *s;
	struct answer a;
	enum fault_kind fault; /* FK_MIDSTREAM, FK_TRUNCATE or FK_NONE */
	int64_t fault_at;      /* deltas sent before the fault */
	int tps;
	int64_t t0; /* real time the answer started */
	enum phase phase;
	int64_t next; /* next output token */
	bool settled;
	struct buf out;
	size_t off;
};

/* Ends the call's accounting once: before the last bytes go out, so a
 * client that has read them sees the refund and the counters. */
static void stream_settle(struct stream *st, bool whole)
{
	if (!st->settled)
		settle(st->s, &st->a, st->next, whole);
	st->settled = true;
}

static void sse(struct buf *b, const char *event, json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	buf_add(b, "event: ", 7);
	buf_add(b, event, strlen(event));
	buf_add(b, "\ndata: ", 7);
	if (text)
		buf_add(b, text, strlen(text));
	buf_add(b, "\n\n", 2);
	free(text);
}

/* Appends the next event to st->out. Returns false when the stream must be
 * cut (truncation fault, or the sim stopping). */
static bool next_event(struct stream *st)
{
	const am_simtext_answer *t = &st->a.text;
	bool has_block = t->len > 0;
	switch (st->phase) {
	case PH_START:
		sse(&st->out, "message_start",
		    json_pack("{s:s,s:o}", "type", "message_start", "message",
		              message_json(&st->a, false)));
		st->phase = has_block ? PH_BLOCK_START : PH_PING;
		return true;
	case PH_BLOCK_START:
		sse(&st->out, "content_block_start",
		    json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_start", "index", 0,
		              "content_block", "type", "text", "text", ""));
		st->phase = PH_PING;
		return true;
	case PH_PING:
		sse(&st->out, "ping", json_pack("{s:s}", "type", "ping"));
		st->phase = PH_DELTA;
		return true;
	case PH_DELTA:
		for (;;) {
			if (st->fault != FK_NONE && st->next == st->fault_at) {
				pthread_mutex_lock(&st->s->mu);
				if (st->fault == FK_MIDSTREAM)
					st->s->stats.midstream_errors++;
				else
					st->s->stats.truncated++;
				pthread_mutex_unlock(&st->s->mu);
				stream_settle(st, false);
				if (st->fault == FK_MIDSTREAM) {
					sse(&st->out, "error",
					    json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error",
					              "type", "overloaded_error", "message",
					              "Overloaded"));
					st->phase = PH_DONE;
					return true;
				}
				/* Cut off in the middle of the next event, then close. */
				st->fault = FK_NONE;
				st->phase = PH_ABORT;
				sse(&st->out, "content_block_delta",
				    json_pack("{s:s,s:i,s:{s:s,s:s}}", "type",
				              "content_block_delta", "index", 0, "delta", "type",
				              "text_delta", "text", "cut"));
				st->out.len /= 2;
				return true;
			}
			if (st->next >= t->n_tokens) {
				st->phase = has_block ? PH_BLOCK_STOP : PH_MSG_DELTA;
				return next_event(st);
			}
			if (st->tps > 0 &&
			    !wait_until(st->s, st->t0 + (st->next + 1) * AM_NS_PER_SEC / st->tps)) {
				stream_settle(st, false);
				return false;
			}
			size_t from = st->next ? t->tok_end[st->next - 1] : 0;
			size_t to = t->tok_end[st->next];
			st->next++;
			if (to > from) {
				sse(&st->out, "content_block_delta",
				    json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type",
				              "content_block_delta", "index", 0, "delta", "type",
				              "text_delta", "text", t->text + from, to - from));
				return true;
			}
		}
	case PH_BLOCK_STOP:
		sse(&st->out, "content_block_stop",
		    json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 0));
		st->phase = PH_MSG_DELTA;
		return true;
	case PH_MSG_DELTA: {
		/* The usage here is cumulative; it carries the searches. */
		json_t *du = json_pack("{s:I}", "output_tokens", (json_int_t)t->n_tokens);
		json_t *tool = server_tool_json(&st->a);
		if (tool)
			json_object_set_new(du, "server_tool_use", tool);
		sse(&st->out, "message_delta",
		    json_pack("{s:s,s:{s:s,s:s?},s:o}", "type", "message_delta", "delta",
		              "stop_reason", stop_reason(&st->a), "stop_sequence", st->a.stop_seq,
		              "usage", du));
		st->phase = PH_MSG_STOP;
		return true;
	}
	case PH_MSG_STOP:
		sse(&st->out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
		stream_settle(st, true);
		st->phase = PH_DONE;
		return true;
	default:
		return false;
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	(void)pos;
	while (st->off == st->out.len) {
		st->off = st->out.len = 0;
		if (st->phase == PH_DONE)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (st->phase == PH_ABORT || !next_event(st)) {
			st->phase = PH_ABORT;
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	size_t n = st->out.len - st->off;
	if (n > max)
		n = max;
	memcpy(buf, st->out.p + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

/* MHD is done with the stream: finished, cut off, or the client went away
 * (only then is it still unsettled). */
static void stream_free(void *cls)
{
	struct stream *st = cls;
	stream_settle(st, false);
	answer_free(&st->a);
	free(st->out.p);
	free(st);
}

/* A JSON body sent only in part behind a Content-Length for all of it. */
struct partial {
	char *p;
	size_t cut;
};

static ssize_t partial_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct partial *pt = cls;
	if (pos >= pt->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = pt->cut - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, pt->p + pos, n);
	return (ssize_t)n;
}

static void partial_free(void *cls)
{
	struct partial *pt = cls;
	free(pt->p);
	free(pt);
}

/* ---- the endpoints ------------------------------------------------------ */

/* Charges RPM, ITPM and OTPM together, or none of them. On success applies
 * the cache and fills the usage. On refusal returns the wait in ns and the
 * dimension that binds. */
static int64_t admit(am_sim *s, const struct params *p, struct answer *a, enum dim *binding)
{
	int64_t now = now_mono(s);
	uint64_t scope = am_simtext_hash(0, p->answer_model, strlen(p->answer_model));
	am_simcache_use use;
	pthread_mutex_lock(&s->mu);
	am_simcache_apply(&s->cache, &p->prompt, scope, p->model->min_cache, now, false, &use);
	int64_t in_charge = p->prompt.tokens - use.read;
	int64_t need[3] = {1, in_charge, p->max_tokens}, worst = 0;
	for (int d = D_REQ; d <= D_OUT; d++) {
		int64_t w = am_simbucket_wait_ns(&s->b[d], need[d], now);
		if (w > worst) {
			worst = w;
			*binding = (enum dim)d;
		}
	}
	if (worst == 0) {
		for (int d = D_REQ; d <= D_OUT; d++)
			am_simbucket_take(&s->b[d], need[d], now);
		am_simcache_apply(&s->cache, &p->prompt, scope, p->model->min_cache, now, true,
		                  &use);
		a->read = use.read;
		a->write_5m = use.write_5m;
		a->write_1h = use.write_1h;
		a->input = p->prompt.tokens - use.read - use.write_5m - use.write_1h;
		s->stats.input_tokens += a->input;
		s->stats.cache_read_tokens += a->read;
		s->stats.cache_write_tokens += a->write_5m + a->write_1h;
	} else if (worst == AM_SIMBUCKET_NEVER) {
		worst = am_simbucket_full_in_ns(&s->b[*binding], now);
		if (worst == 0)
			worst = AM_NS_PER_SEC;
	}
	pthread_mutex_unlock(&s->mu);
	return worst;
}

static enum MHD_Result send_rate_limited(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                         int64_t wait_ns, enum dim d)
{
	static const char *const what[] = {"requests", "input tokens", "output tokens",
	                                   "token counting requests", "batch API requests"};
	int64_t limit;
	pthread_mutex_lock(&s->mu);
	limit = s->b[d].limit;
	pthread_mutex_unlock(&s->mu);
	int64_t secs = wait_ns / AM_NS_PER_SEC + (wait_ns % AM_NS_PER_SEC > 0);
	snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)(secs > 0 ? secs : 1));
	if (s->cfg.retry_after_ms) {
		int64_t ms = wait_ns / AM_NS_PER_MS + (wait_ns % AM_NS_PER_MS > 0);
		snprintf(rq->retry_after_ms, sizeof rq->retry_after_ms, "%lld", (long long)ms);
	}
	char msg[512];
	snprintf(msg, sizeof msg,
	         "This request would exceed the rate limit for your organization of %lld %s per "
	         "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You "
	         "can see the response headers for current usage. Please reduce the prompt length "
	         "or the maximum tokens requested, or try again later.",
	         (long long)limit, what[d]);
	return send_error(s, conn, rq, 429, "rate_limit_error", msg, NULL);
}

static int64_t header_int(struct MHD_Connection *conn, const char *name, int64_t dflt, int64_t lo,
                          int64_t hi)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
	if (!v || !*v)
		return dflt;
	char *end;
	long long x = strtoll(v, &end, 10);
	if (*end)
		return dflt;
	return x < lo ? lo : x > hi ? hi : x;
}

/* cfg.output_text as the answer: a token per word, each but the first
 * starting with its space, cut by max_tokens. */
static void answer_replace(am_simtext_answer *t, const char *text, int64_t max_tokens)
{
	am_simtext_answer_free(t);
	t->stop_index = -1;
	size_t len = strlen(text);
	t->tok_end = am_xmalloc(sizeof *t->tok_end * (len + 1));
	int64_t n = 0;
	size_t i = 0;
	while (i < len && n < max_tokens) {
		size_t j = i + 1;
		while (j < len && text[j] != ' ')
			j++;
		t->tok_end[n++] = j;
		i = j;
	}
	t->n_tokens = n;
	t->len = n ? t->tok_end[n - 1] : 0;
	t->text = am_xstrndup(text, t->len);
	t->stop = t->len < len ? AM_SIMTEXT_MAX_TOKENS : AM_SIMTEXT_END_TURN;
}

/* Repeats each token's text in place until the answer has >= bytes bytes;
 * tokens stay whole, so the text stays valid UTF-8 and a stream sends the
 * same number of (larger) deltas. */
static void answer_stretch(am_simtext_answer *t, int64_t bytes)
{
	if (bytes <= 0 || t->len == 0 || (size_t)bytes <= t->len)
		return;
	size_t k = ((size_t)bytes + t->len - 1) / t->len;
	char *out = am_xmalloc(t->len * k + 1), *o = out;
	size_t from = 0;
	for (int64_t i = 0; i < t->n_tokens; i++) {
		size_t to = t->tok_end[i];
		for (size_t r = 0; r < k; r++) {
			memcpy(o, t->text + from, to - from);
			o += to - from;
		}
		t->tok_end[i] = (size_t)(o - out);
		from = to;
	}
	*o = '\0';
	free(t->text);
	t->text = out;
	t->len = (size_t)(o - out);
}

static enum MHD_Result answer_call(am_sim *s, struct MHD_Connection *conn, struct req *rq,
                                   const struct params *p, enum fault_kind fault)
{
	struct answer a = {0};
	enum dim binding = D_REQ;
	a.max_tokens = p->max_tokens;
	int64_t wait = admit(s, p, &a, &binding);
	if (wait > 0)
		return send_rate_limited(s, conn, rq, wait, binding);

	memcpy(a.msg_id, "msg_01", 6);
	base62(a.msg_id + 6, 22, am_simtext_mix(s->cfg.seed ^ rq->seq ^ 0x6d7367ULL),
	       am_simtext_mix(rq->seq + 17));
	snprintf(a.model, sizeof a.model, "%s", p->answer_model);
	answer_served(s, p, &a);
	uint64_t h = am_simtext_mix(s->cfg.seed);
	h = am_simtext_hash(h, p->answer_model, strlen(p->answer_model));
	h = am_simtext_mix(h ^ p->prompt.hash);
	int64_t length = header_int(conn, "x-sim-output-tokens", s->cfg.output_tokens, 0, OUTPUT_MAX);
	am_simtext_answer_make(h, length, p->max_tokens, p->stops, p->n_stops, &a.text);
	if (s->output_text)
		answer_replace(&a.text, s->output_text, p->max_tokens);
	answer_stretch(&a.text, header_int(conn, "x-sim-output-bytes", s->cfg.output_bytes, 0,
	                                   OUTPUT_BYTES_MAX));
	if (a.text.stop_index >= 0)
		a.stop_seq = am_xstrdup(p->stops[a.text.stop_index]);

	if (fault == FK_NONE && p->stream && draw(s, rq->seq, 2) < s->cfg.fault_midstream)
		fault = FK_MIDSTREAM;
	if (fault == FK_NONE && draw(s, rq->seq, 3) < s->cfg.fault_truncate)
		fault = FK_TRUNCATE;

	int64_t start = real_mono();
	int64_t latency =
	    header_int(conn, "x-sim-latency-ms", s->cfg.latency_ms, 0, LATENCY_MAX_MS);
	if (latency > 0 && !wait_until(s, start + latency * AM_NS_PER_MS)) {
		settle(s, &a, 0, false);
		answer_free(&a);
		return MHD_NO;
	}
	int tps = s->cfg.tokens_per_second;

	if (!p->stream) {
		/* A JSON answer arrives when the whole text would have been generated. */
		if (tps > 0 &&
		    !wait_until(s, real_mono() + a.text.n_tokens * AM_NS_PER_SEC / tps)) {
			settle(s, &a, 0, false);
			answer_free(&a);
			return MHD_NO;
		}
		settle(s, &a, a.text.n_tokens, fault != FK_TRUNCATE);
		json_t *body = message_json(&a, true);
		answer_free(&a);
		if (fault != FK_TRUNCATE)
			return send_json(s, conn, rq, 200, body);
		struct partial *pt = am_xcalloc(1, sizeof *pt);
		pt->p = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		size_t len = pt->p ? strlen(pt->p) : 0;
		pt->cut = len / 2;
		struct MHD_Response *r = MHD_create_response_from_callback(
		    len, STREAM_BLOCK, partial_read, pt, partial_free);
		if (!r) {
			partial_free(pt);
			return MHD_NO;
		}
		pthread_mutex_lock(&s->mu);
		s->stats.truncated++;
		pthread_mutex_unlock(&s->mu);
		return send_reply(s, conn, rq, 200, r, "application/json");
	}

	struct stream *st = am_xcalloc(1, sizeof *st);
	st->s = s;
	st->a = a;
	st->fault = fault == FK_MIDSTREAM || fault == FK_TRUNCATE ? fault : FK_NONE;
	st->fault_at = a.text.n_tokens / 2;
	st->tps = tps;
	st->t0 = real_mono();
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
	                                                           stream_read, st, stream_free);
	if (!r) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	return send_reply(s, conn, rq, 200, r, "text/event-stream; charset=utf-8");
}

/* ---- message batches ------------------------------------------------------ */

/* One request of a batch: its custom_id and params as sent, and from the
 * batch's end on its result and the usage it was billed for. The answer
 * text is made again from the params whenever the results are read (it is
 * a function of them and the seed), so a batch holds no answers. */
enum bres { BR_PROCESSING, BR_SUCCEEDED, BR_ERRORED, BR_CANCELED, BR_EXPIRED };

struct sbreq {
	char custom_id[65];
	char *params;        /* compact JSON */
	enum bres res;
	bool invalid;        /* errored: the params were refused */
	char why[160];       /* invalid: the message */
	int64_t input, write_5m, write_1h, read;
};

struct sbatch {
	char id[48];
	int64_t created_wall, created_real; /* ns */
	int64_t cancel_wall, ended_wall;    /* 0 = not yet */
	int64_t cancel_real;
	size_t n;
	struct sbreq *reqs;
	int64_t counts[5];                  /* by enum bres */
	bool ended;
};

struct seen {
	char *id; /* NULL = free slot */
	int64_t n;
};

static uint64_t str_hash(const char *s)
{
	return am_simtext_hash(0x62617463ULL, s, strlen(s));
}

/* How many times custom_id was submitted before this one, counting this
 * one in. Under bmu. */
static int64_t seen_add(am_sim *s, const char *id)
{
	if ((s->nseen + 1) * 2 > s->capseen) {
		size_t cap = s->capseen ? s->capseen * 2 : 1024;
		struct seen *t = am_xcalloc(cap, sizeof *t);
		for (size_t i = 0; i < s->capseen; i++) {
			if (!s->seen[i].id)
				continue;
			size_t k = str_hash(s->seen[i].id) & (cap - 1);
			while (t[k].id)
				k = (k + 1) & (cap - 1);
			t[k] = s->seen[i];
		}
		free(s->seen);
		s->seen = t;
		s->capseen = cap;
	}
	size_t k = str_hash(id) & (s->capseen - 1);
	while (s->seen[k].id && strcmp(s->seen[k].id, id))
		k = (k + 1) & (s->capseen - 1);
	if (!s->seen[k].id) {
		s->seen[k].id = am_xstrdup(id);
		s->nseen++;
	}
	return ++s->seen[k].n;
}

static void batches_free(am_sim *s)
{
	for (size_t i = 0; i < s->nbatches; i++) {
		struct sbatch *b = s->batches[i];
		for (size_t j = 0; j < b->n; j++)
			free(b->reqs[j].params);
		free(b->reqs);
		free(b);
	}
	free(s->batches);
	for (size_t i = 0; i < s->capseen; i++)
		free(s->seen[i].id);
	free(s->seen);
}

static const char *const bres_name[] = { "processing", "succeeded", "errored", "canceled",
	                                 "expired" };

/* The usage of one request as the Messages endpoint would bill it (the
 * prompt cache applied), or why its params are refused. */
static void process_one(am_sim *s, struct sbreq *r)
{
	json_error_t je;
	json_t *req = json_loads(r->params, 0, &je);
	struct params p;
	am_err err;
	unsigned bad = req ? parse_params(req, EP_MESSAGES, false, &p, &err) : 400;
	if (!bad && (p.stream || p.speed_asked || p.max_tokens < 1)) {
		bad = 400;
		am_err_set(&err, "%s", p.stream ? "stream: not supported in a message batch"
		                       : p.speed_asked ? "speed: not supported in a message batch"
		                                       : "max_tokens: must be at least 1");
	}
	if (bad) {
		r->res = BR_ERRORED;
		r->invalid = true;
		snprintf(r->why, sizeof r->why, "%s", req ? err.msg : "params: not valid JSON");
		json_decref(req);
		return;
	}
	uint64_t scope = am_simtext_hash(0, p.answer_model, strlen(p.answer_model));
	am_simcache_use use;
	int64_t now = now_mono(s);
	pthread_mutex_lock(&s->mu);
	am_simcache_apply(&s->cache, &p.prompt, scope, p.model->min_cache, now, true, &use);
	pthread_mutex_unlock(&s->mu);
	r->read = use.read;
	r->write_5m = use.write_5m;
	r->write_1h = use.write_1h;
	r->input = p.prompt.tokens - use.read - use.write_5m - use.write_1h;
	r->res = BR_SUCCEEDED;
	json_decref(req);
}

/* The answer of a succeeded request, made again from its params. */
static int answer_of(am_sim *s, const struct sbreq *r, struct answer *a, uint64_t n)
{
	json_t *req = json_loads(r->params, 0, NULL);
	struct params p;
	am_err err;
	if (!req || parse_params(req, EP_MESSAGES, false, &p, &err)) {
		json_decref(req);
		return -1;
	}
	memset(a, 0, sizeof *a);
	memcpy(a->msg_id, "msg_01", 6);
	uint64_t ch = str_hash(r->custom_id);
	base62(a->msg_id + 6, 22, am_simtext_mix(s->cfg.seed ^ ch ^ 0x6d7367ULL),
	       am_simtext_mix(n + 17));
	snprintf(a->model, sizeof a->model, "%s", p.answer_model);
	answer_served(s, &p, a);
	a->tier = "batch";
	a->input = r->input;
	a->write_5m = r->write_5m;
	a->write_1h = r->write_1h;
	a->read = r->read;
	a->max_tokens = p.max_tokens;
	uint64_t h = am_simtext_mix(s->cfg.seed);
	h = am_simtext_hash(h, p.answer_model, strlen(p.answer_model));
	h = am_simtext_mix(h ^ p.prompt.hash);
	am_simtext_answer_make(h, s->cfg.output_tokens, p.max_tokens, p.stops, p.n_stops, &a->text);
	if (s->output_text)
		answer_replace(&a->text, s->output_text, p.max_tokens);
	answer_stretch(&a->text, s->cfg.output_bytes);
	if (a->text.stop_index >= 0)
		a->stop_seq = am_xstrdup(p.stops[a->text.stop_index]);
	json_decref(req);
	return 0;
}

/* Ends b when its processing time has passed, or when a cancel asked for
 * it: the requests processed by then (a share of them in proportion to
 * the time passed) succeed or error, the rest are canceled; the error and
 * expiry knobs pick requests by a draw on their custom_id and how many
 * times it was submitted. Under bmu. */
static void batch_tick(am_sim *s, struct sbatch *b)
{
	if (b->ended)
		return;
	int64_t now = real_mono(), delay = (int64_t)s->cfg.batch_delay_ms * AM_NS_PER_MS;
	bool due = now - b->created_real >= delay;
	if (!due && !b->cancel_wall)
		return;
	size_t done = b->n;
	if (!due && delay > 0)
		done = (size_t)((double)b->n * (double)(b->cancel_real - b->created_real) /
		                (double)delay);
	am_sim_stats add = { 0 };
	for (size_t i = 0; i < b->n; i++) {
		struct sbreq *r = &b->reqs[i];
		uint64_t x = am_simtext_mix(s->cfg.seed ^ am_simtext_mix(str_hash(r->custom_id)));
		int64_t times = 0;
		for (size_t k = str_hash(r->custom_id) & (s->capseen - 1); s->seen[k].id;
		     k = (k + 1) & (s->capseen - 1))
			if (!strcmp(s->seen[k].id, r->custom_id)) {
				times = s->seen[k].n;
				break;
			}
		x = am_simtext_mix(x ^ (uint64_t)times * 0x9e3779b97f4a7c15ULL);
		int roll = (int)(x % 100), roll2 = (int)((x >> 20) % 100);
		if (i >= done)
			r->res = BR_CANCELED;
		else if (roll < s->cfg.batch_expire_pct)
			r->res = BR_EXPIRED;
		else if (roll2 < s->cfg.batch_error_pct)
			r->res = BR_ERRORED;
		else
			process_one(s, r);
		b->counts[r->res]++;
		if (r->res == BR_SUCCEEDED) {
			add.batch_input_tokens += r->input;
			add.batch_cache_write_tokens += r->write_5m + r->write_1h;
			add.batch_cache_read_tokens += r->read;
		}
	}
	b->counts[BR_PROCESSING] = 0;
	b->ended = true;
	b->ended_wall = am_clock_wall(s->clock);
	pthread_mutex_lock(&s->mu);
	s->stats.batch_input_tokens += add.batch_input_tokens;
	s->stats.batch_cache_write_tokens += add.batch_cache_write_tokens;
	s->stats.batch_cache_read_tokens += add.batch_cache_read_tokens;
	s->stats.batch_succeeded += b->counts[BR_SUCCEEDED];
	s->stats.batch_errored += b->counts[BR_ERRORED];
	s->stats.batch_canceled += b->counts[BR_CANCELED];
	s->stats.batch_expired += b->counts[BR_EXPIRED];
	pthread_mutex_unlock(&s->mu);
	/* Output tokens: the answers' lengths, a function of the params. */
	int64_t out = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct answer a;
		if (b->reqs[i].res != BR_SUCCEEDED || answer_of(s, &b->reqs[i], &a, i))
			continue;
		out += a.text.n_tokens;
		answer_free(&a);
	}
	pthread_mutex_lock(&s->mu);
	s->stats.batch_output_tokens += out;
	pthread_mutex_unlock(&s->mu);
}

/* RFC 3339 with microseconds, as the batch objects carry their times. */
static void fmt_rfc3339_us(char *out, size_t n, int64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / AM_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long long)(wall_ns % AM_NS_PER_SEC / 1000));
}

static json_t *batch_json(const am_sim *s, const struct sbatch *b)
{
	char created[40], expires[40], ended[40], cancel[40], url[300];
	fmt_rfc3339_us(created, sizeof created, b->created_wall);
	fmt_rfc3339_us(expires, sizeof expires, b->created_wall + 24 * 3600 * AM_NS_PER_SEC);
	fmt_rfc3339_us(ended, sizeof ended, b->ended_wall);
	fmt_rfc3339_us(cancel, sizeof cancel, b->cancel_wall);
	snprintf(url, sizeof url, "%s/v1/messages/batches/%s/results", s->url, b->id);
	const char *status = b->ended ? "ended" : b->cancel_wall ? "canceling" : "in_progress";
	return json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I,s:I,s:I},s:s?,s:s,s:s,s:s?,s:s?,s:n}",
	                 "id", b->id, "type", "message_batch", "processing_status", status,
	                 "request_counts", "processing", (json_int_t)b->counts[BR_PROCESSING],
	                 "succeeded", (json_int_t)b->counts[BR_SUCCEEDED], "errored",
	                 (json_int_t)b->counts[BR_ERRORED], "canceled",
	                 (json_int_t)b->counts[BR_CANCELED], "expired",
	                 (json_int_t)b->counts[BR_EXPIRED], "ended_at",
	                 b->ended ? ended : NULL, "created_at", created, "expires_at", expires,
	                 "cancel_initiated_at", b->cancel_wall ? cancel : NULL, "results_url",
	                 b->ended ? url : NULL, "archived_at");
}

static bool valid_custom_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > 64)
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-'))
			return false;
	return true;
}

/* The custom_ids of one batch (open addressing over borrowed strings), to
 * refuse a repeated one. */
struct uniq {
	const char **v;
	size_t cap;
};

static bool uniq_add(struct uniq *u, const char *id)
{
	size_t k = str_hash(id) & (u->cap - 1);
	for (; u->v[k]; k = (k + 1) & (u->cap - 1))
		if (!strcmp(u->v[k], id))
			return false;
	u->v[k] = id;
	return true;
}

/* POST /v1/messages/batches. The shape is checked here (custom_id, params,
 * unique ids, at most 100,000 requests); the params themselves only when
 * the batch is processed, as errored results. */
static enum MHD_Result batch_create(am_sim *s, struct MHD_Connection *conn, struct req *rq)
{
	json_error_t je;
	json_t *body = json_loadb(rq->body.p ? rq->body.p : "", rq->body.len, 0, &je);
	json_t *reqs = json_object_get(body, "requests");
	char msg[200] = "";
	size_t n = json_array_size(reqs);
	if (!body)
		snprintf(msg, sizeof msg, "Invalid JSON in the request body: %s", je.text);
	else if (!json_is_array(reqs))
		snprintf(msg, sizeof msg, "requests: Field required");
	else if (n == 0)
		snprintf(msg, sizeof msg, "requests: List should have at least 1 item");
	else if (n > BATCH_MAX_REQUESTS)
		snprintf(msg, sizeof msg, "requests: List should have at most %d items",
		         BATCH_MAX_REQUESTS);
	struct sbatch *b = NULL;
	struct uniq uniq = { 0 };
	if (!msg[0]) {
		uniq.cap = 16;
		while (uniq.cap < n * 2)
			uniq.cap *= 2;
		uniq.v = am_xcalloc(uniq.cap, sizeof *uniq.v);
		b = am_xcalloc(1, sizeof *b);
		b->reqs = am_xcalloc(n, sizeof *b->reqs);
		for (size_t i = 0; i < n && !msg[0]; i++) {
			json_t *r = json_array_get(reqs, i);
			const char *cid = json_string_value(json_object_get(r, "custom_id"));
			json_t *params = json_object_get(r, "params");
			if (!cid || !valid_custom_id(cid))
				snprintf(msg, sizeof msg,
				         "requests.%zu.custom_id: String should match pattern "
				         "'^[a-zA-Z0-9_-]{1,64}$'", i);
			else if (!json_is_object(params))
				snprintf(msg, sizeof msg, "requests.%zu.params: Field required", i);
			else {
				snprintf(b->reqs[i].custom_id, sizeof b->reqs[i].custom_id, "%s", cid);
				b->reqs[i].params = json_dumps(params, JSON_COMPACT);
				b->n = i + 1;
				if (!uniq_add(&uniq, b->reqs[i].custom_id))
					snprintf(msg, sizeof msg,
					         "requests.%zu.custom_id: '%s' is not unique in the batch", i,
					         cid);
			}
		}
	}
	json_decref(body);
	free(uniq.v);
	if (msg[0]) {
		if (b) {
			for (size_t j = 0; j < b->n; j++)
				free(b->reqs[j].params);
			free(b->reqs);
			free(b);
		}
		return send_error(s, conn, rq, 400, "invalid_request_error", msg, NULL);
	}
	/* Unique across simulator runs too, as the API's ids are: the time of
	 * creation goes into the id. */
	b->created_wall = am_clock_wall(s->clock);
	memcpy(b->id, "msgbatch_01", 11);
	base62(b->id + 11, 24, am_simtext_mix(s->cfg.seed ^ rq->seq ^ 0x626174ULL),
	       am_simtext_mix((uint64_t)b->created_wall ^ (rq->seq + 29)));
	b->created_real = real_mono();
	b->counts[BR_PROCESSING] = (int64_t)b->n;
	int64_t repeated = 0;
	pthread_mutex_lock(&s->bmu);
	for (size_t i = 0; i < b->n; i++)
		repeated += seen_add(s, b->reqs[i].custom_id) > 1;
	if (s->nbatches == s->capbatches) {
		s->capbatches = s->capbatches ? s->capbatches * 2 : 16;
		s->batches = am_xrealloc(s->batches, s->capbatches * sizeof *s->batches);
	}
	s->batches[s->nbatches++] = b;
	int64_t distinct = (int64_t)s->nseen;
	json_t *out = batch_json(s, b);
	pthread_mutex_unlock(&s->bmu);
	pthread_mutex_lock(&s->mu);
	s->stats.batches++;
	s->stats.batch_requests += (int64_t)b->n;
	s->stats.batch_repeated += repeated;
	s->stats.batch_distinct = distinct;
	s->stats.ok++;
	pthread_mutex_unlock(&s->mu);
	return send_json(s, conn, rq, 200, out);
}

/* Under bmu. */
static struct sbatch *batch_find(am_sim *s, const char *id, size_t len)
{
	for (size_t i = 0; i < s->nbatches; i++)
		if (strlen(s->batches[i]->id) == len && !strncmp(s->batches[i]->id, id, len))
			return s->batches[i];
	return NULL;
}

/* GET /v1/messages/batches?limit=&after_id=&before_id=: most recent first. */
static enum MHD_Result batch_list(am_sim *s, struct MHD_Connection *conn, struct req *rq)
{
	const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after_id");
	const char *before = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "before_id");
	int64_t limit = 20;
	const char *lv = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	if (lv) {
		char *end;
		long long v = strtoll(lv, &end, 10);
		if (*end || v < 1 || v > 1000)
			return send_error(s, conn, rq, 400, "invalid_request_error",
			                  "limit: Input should be between 1 and 1000", NULL);
		limit = v;
	}
	json_t *data = json_array();
	bool more = false;
	pthread_mutex_lock(&s->bmu);
	/* Index i counts from the newest (0) to the oldest. */
	size_t n = s->nbatches, from = 0, to = n;
	for (size_t i = 0; i < n; i++) {
		const char *id = s->batches[n - 1 - i]->id;
		if (after && !strcmp(id, after))
			from = i + 1;
		if (before && !strcmp(id, before))
			to = i;
	}
	if (before && !after && to > (size_t)limit) {
		from = to - (size_t)limit;
		more = true;
	}
	for (size_t i = from; i < to; i++) {
		if ((int64_t)json_array_size(data) == limit) {
			more = true;
			break;
		}
		struct sbatch *b = s->batches[n - 1 - i];
		if (real_mono() - b->created_real < (int64_t)s->cfg.batch_hide_ms * AM_NS_PER_MS)
			continue;
		batch_tick(s, b);
		json_array_append_new(data, batch_json(s, b));
	}
	pthread_mutex_unlock(&s->bmu);
	size_t nd = json_array_size(data);
	const char *first = nd ? json_string_value(json_object_get(json_array_get(data, 0), "id"))
	                       : NULL;
	const char *last =
	    nd ? json_string_value(json_object_get(json_array_get(data, nd - 1), "id")) : NULL;
	json_t *page = json_pack("{s:o,s:b,s:s?,s:s?}", "data", data, "has_more", more,
	                         "first_id", first, "last_id", last);
	pthread_mutex_lock(&s->mu);
	s->stats.ok++;
	pthread_mutex_unlock(&s->mu);
	return send_json(s, conn, rq, 200, page);
}

/* The results of an ended batch, one JSONL line at a time. */
struct results {
	am_sim *s;
	struct sbatch *b; /* ended: immutable from then on */
	size_t next;
	struct buf out;
	size_t off;
};

static ssize_t results_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct results *rs = cls;
	(void)pos;
	while (rs->off == rs->out.len) {
		if (rs->next == rs->b->n)
			return MHD_CONTENT_READER_END_OF_STREAM;
		rs->out.len = rs->off = 0;
		const struct sbreq *r = &rs->b->reqs[rs->next];
		json_t *res;
		struct answer a;
		if (r->res == BR_SUCCEEDED && !answer_of(rs->s, r, &a, rs->next)) {
			res = json_pack("{s:s,s:o}", "type", "succeeded", "message",
			                message_json(&a, true));
			answer_free(&a);
		} else if (r->res == BR_ERRORED || r->res == BR_SUCCEEDED) {
			char rid[32];
			memcpy(rid, "req_011C", 8);
			base62(rid + 8, 20, am_simtext_mix(str_hash(r->custom_id)), rs->next + 3);
			res = json_pack("{s:s,s:{s:s,s:{s:s,s:s},s:s}}", "type", "errored", "error",
			                "type", "error", "error", "type",
			                r->invalid ? "invalid_request_error" : "api_error", "message",
			                r->invalid ? r->why : "Internal server error", "request_id",
			                rid);
		} else {
			res = json_pack("{s:s}", "type", bres_name[r->res]);
		}
		json_t *line = json_pack("{s:s,s:o}", "custom_id", r->custom_id, "result", res);
		char *text = json_dumps(line, JSON_COMPACT);
		json_decref(line);
		if (text) {
			buf_add(&rs->out, text, strlen(text));
			buf_add(&rs->out, "\n", 1);
			free(text);
		}
		rs->next++;
	}
	size_t n = rs->out.len - rs->off;
	if (n > max)
		n = max;
	memcpy(buf, rs->out.p + rs->off, n);
	rs->off += n;
	return (ssize_t)n;
}

static void results_free(void *cls)
{
	struct results *rs = cls;
	free(rs->out.p);
	free(rs);
}

/* The batch endpoints: their own request bucket (cfg.batch_rpm), then
 * create, list, retrieve, cancel and results. */
static enum MHD_Result batch_handle(am_sim *s, struct MHD_Connection *conn, struct req *rq)
{
	int64_t now = now_mono(s), wait;
	pthread_mutex_lock(&s->mu);
	wait = am_simbucket_wait_ns(&s->b[D_BATCH], 1, now);
	if (wait == 0)
		am_simbucket_take(&s->b[D_BATCH], 1, now);
	pthread_mutex_unlock(&s->mu);
	if (wait > 0)
		return send_rate_limited(s, conn, rq, wait, D_BATCH);

	const char *rest = rq->path + 20; /* after /v1/messages/batches */
	if (!*rest || !strcmp(rest, "/")) {
		if (rq->get)
			return batch_list(s, conn, rq);
		/* A create takes latency_ms, as a call's first byte does (for
		 * tests that stop a client in the middle of a submit). */
		if (s->cfg.latency_ms > 0 &&
		    !wait_until(s, real_mono() + (int64_t)s->cfg.latency_ms * AM_NS_PER_MS))
			return MHD_NO;
		return batch_create(s, conn, rq);
	}
	const char *id = rest + 1, *slash = strchr(id, '/');
	size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
	const char *op = slash ? slash + 1 : "";
	pthread_mutex_lock(&s->bmu);
	struct sbatch *b = batch_find(s, id, idlen);
	if (!b) {
		pthread_mutex_unlock(&s->bmu);
		return send_error(s, conn, rq, 404, "not_found_error", "message batch not found",
		                  NULL);
	}
	batch_tick(s, b);
	if (!*op && rq->get) {
		json_t *out = batch_json(s, b);
		pthread_mutex_unlock(&s->bmu);
		return send_json(s, conn, rq, 200, out);
	}
	if (!strcmp(op, "cancel") && !rq->get) {
		if (!b->ended && !b->cancel_wall) {
			b->cancel_wall = am_clock_wall(s->clock);
			b->cancel_real = real_mono();
		}
		json_t *out = batch_json(s, b);
		pthread_mutex_unlock(&s->bmu);
		return send_json(s, conn, rq, 200, out);
	}
	if (!strcmp(op, "results") && rq->get) {
		bool ended = b->ended;
		pthread_mutex_unlock(&s->bmu);
		if (!ended)
			return send_error(s, conn, rq, 400, "invalid_request_error",
			                  "message batch is still processing: no results yet", NULL);
		struct results *rs = am_xcalloc(1, sizeof *rs);
		rs->s = s;
		rs->b = b;
		struct MHD_Response *r = MHD_create_response_from_callback(
		    MHD_SIZE_UNKNOWN, STREAM_BLOCK, results_read, rs, results_free);
		if (!r) {
			results_free(rs);
			return MHD_NO;
		}
		pthread_mutex_lock(&s->mu);
		s->stats.ok++;
		pthread_mutex_unlock(&s->mu);
		return send_reply(s, conn, rq, 200, r, "application/binary");
	}
	pthread_mutex_unlock(&s->bmu);
	return send_error(s, conn, rq, rq->get ? 404 : 405,
	                  rq->get ? "not_found_error" : "invalid_request_error",
	                  rq->get ? "Not Found" : "Method Not Allowed", NULL);
}

static enum MHD_Result handle(am_sim *s, struct MHD_Connection *conn, struct req *rq)
{
	if (rq->too_large)
		return send_status_error(s, conn, rq, 413);
	if (rq->overloaded)
		return send_status_error(s, conn, rq, 529);

	struct fault fault;
	const char *fv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-sim-fault");
	if (parse_fault(fv, &fault))
		return send_error(s, conn, rq, 400, "invalid_request_error",
		                  "x-sim-fault: expected a status 400..599, spend_limit, "
		                  "user_spend_limit, midstream, truncate or drop",
		                  NULL);
	if (fault.kind == FK_STATUS && fault.status == 401)
		return send_fault(s, conn, rq, &fault);
	if (fault.kind == FK_DROP) {
		pthread_mutex_lock(&s->mu);
		s->stats.truncated++;
		pthread_mutex_unlock(&s->mu);
		return MHD_NO; /* MHD closes the connection without a response */
	}

	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
	if (!key || !*key) {
		/* Today's SDKs may send the key as a bearer token instead. */
		const char *auth =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		if (auth && !strncasecmp(auth, "Bearer ", 7) && auth[7])
			key = auth + 7;
	}
	if (!key || !*key)
		return send_error(s, conn, rq, 401, "authentication_error",
		                  "x-api-key header is required", NULL);
	if (s->api_key && strcmp(key, s->api_key))
		return send_error(s, conn, rq, 401, "authentication_error", "invalid x-api-key",
		                  NULL);
	const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version");
	if (!ver || !*ver)
		return send_error(s, conn, rq, 400, "invalid_request_error",
		                  "anthropic-version: header is required", NULL);
	bool new_version = !strcmp(ver, "2026-10-21");
	if (strcmp(ver, "2023-06-01") && strcmp(ver, "2023-01-01") && !new_version) {
		char msg[160];
		snprintf(msg, sizeof msg, "anthropic-version: invalid version '%.64s'", ver);
		return send_error(s, conn, rq, 400, "invalid_request_error", msg, NULL);
	}

	if (rq->ep == EP_BATCH)
		return batch_handle(s, conn, rq);

	json_error_t je;
	json_t *req = json_loadb(rq->body.p ? rq->body.p : "", rq->body.len, 0, &je);
	if (!req || !json_is_object(req)) {
		char msg[300];
		if (req)
			snprintf(msg, sizeof msg, "The request body must be a JSON object");
		else
			snprintf(msg, sizeof msg,
			         "Invalid JSON in the request body: %s (line %d, column %d)",
			         je.text, je.line, je.column);
		json_decref(req);
		return send_error(s, conn, rq, 400, "invalid_request_error", msg, NULL);
	}
	struct params p;
	am_err err;
	unsigned bad = parse_params(req, rq->ep, new_version, &p, &err);
	enum MHD_Result ret;
	if (bad) {
		ret = send_error(s, conn, rq, bad, error_type(bad), err.msg, NULL);
		goto done;
	}
	if (fault.kind == FK_NONE)
		fault = p.hook;
	if (fault.kind == FK_DROP) { /* sim-fault-drop: as the header does */
		pthread_mutex_lock(&s->mu);
		s->stats.truncated++;
		pthread_mutex_unlock(&s->mu);
		ret = MHD_NO;
		goto done;
	}
	if (fault.kind == FK_STATUS || fault.kind == FK_SPEND || fault.kind == FK_USER_SPEND ||
	    (fault.kind == FK_MIDSTREAM && (rq->ep == EP_COUNT || !p.stream))) {
		ret = send_fault(s, conn, rq, &fault);
		goto done;
	}

	if (rq->ep == EP_COUNT) {
		int64_t now = now_mono(s), wait;
		pthread_mutex_lock(&s->mu);
		wait = am_simbucket_wait_ns(&s->b[D_COUNT], 1, now);
		if (wait == 0) {
			am_simbucket_take(&s->b[D_COUNT], 1, now);
			s->stats.ok++;
		}
		pthread_mutex_unlock(&s->mu);
		if (wait > 0)
			ret = send_rate_limited(s, conn, rq, wait, D_COUNT);
		else
			ret = send_json(
			    s, conn, rq, 200,
			    json_pack("{s:I}", "input_tokens", (json_int_t)p.prompt.tokens));
		goto done;
	}

	if (draw(s, rq->seq, 0) < s->cfg.fault_529) {
		ret = send_status_error(s, conn, rq, 529);
		goto done;
	}
	if (draw(s, rq->seq, 1) < s->cfg.fault_500) {
		ret = send_status_error(s, conn, rq, 500);
		goto done;
	}
	ret = answer_call(s, conn, rq, &p, fault.kind);
done:
	json_decref(req); /* p points into req until here */
	return ret;
}

/* ---- MHD plumbing -------------------------------------------------------- */

static enum endpoint route(const char *url)
{
	if (!strcmp(url, "/v1/messages"))
		return EP_MESSAGES;
	if (!strcmp(url, "/v1/messages/count_tokens"))
		return EP_COUNT;
	if (!strncmp(url, "/v1/messages/batches", 20) && (!url[20] || url[20] == '/'))
		return EP_BATCH;
	return EP_NONE;
}

static uint64_t body_max(const struct req *rq)
{
	return rq->ep == EP_BATCH ? BATCH_BODY_MAX : BODY_MAX;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
	am_sim *s = cls;
	struct req *rq = *req_cls;
	(void)version;
	if (atomic_load(&s->stopping))
		return MHD_NO;
	if (!rq) {
		rq = am_xcalloc(1, sizeof *rq);
		*req_cls = rq;
		rq->seq = atomic_fetch_add(&s->seq, 1);
		/* A test may fix the number a request's ids and draws come from,
		 * to get the same answer twice (directly and through a proxy). */
		const char *fixed = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-sim-seq");
		if (fixed && *fixed >= '0' && *fixed <= '9')
			rq->seq = strtoull(fixed, NULL, 10);
		memcpy(rq->id, "req_011C", 8);
		base62(rq->id + 8, 20, am_simtext_mix(s->cfg.seed ^ am_simtext_mix(rq->seq)),
		       am_simtext_mix(rq->seq ^ 0x726571ULL));
		rq->ep = route(url);
		pthread_mutex_lock(&s->mu);
		s->stats.requests++;
		pthread_mutex_unlock(&s->mu);
		/* Answered before the body is read: MHD then closes the connection. */
		if (rq->ep == EP_NONE)
			return send_error(s, conn, rq, 404, "not_found_error", "Not Found", NULL);
		rq->get = !strcmp(method, "GET");
		if (rq->ep == EP_BATCH)
			snprintf(rq->path, sizeof rq->path, "%s", url);
		if (strcmp(method, "POST") && !(rq->get && rq->ep == EP_BATCH))
			return send_error(s, conn, rq, 405, "invalid_request_error",
			                  "Method Not Allowed", NULL);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > body_max(rq))
			return send_status_error(s, conn, rq, 413);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (rq->too_large || rq->overloaded)
			return MHD_YES;
		if (rq->body.len + n > body_max(rq))
			rq->too_large = true;
		else if (atomic_fetch_add(&s->body_bytes, n) + n > BODY_TOTAL_MAX)
			rq->overloaded = true;
		else
			buf_add(&rq->body, upload, n);
		if (rq->too_large || rq->overloaded) {
			/* Bounded: drop what was read, remember only the verdict. */
			atomic_fetch_sub(&s->body_bytes, rq->body.len + (rq->overloaded ? n : 0));
			free(rq->body.p);
			rq->body = (struct buf){0};
		}
		return MHD_YES;
	}
	return handle(s, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	am_sim *s = cls;
	struct req *rq = *req_cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	atomic_fetch_sub(&s->body_bytes, rq->body.len);
	free(rq->body.p);
	free(rq);
	*req_cls = NULL;
}

/* ---- public API ------------------------------------------------------- */

void am_sim_cfg_default(am_sim_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->seed = 1;
}

static double prob(double p)
{
	return p > 0 ? (p < 1 ? p : 1) : 0; /* NaN ends up 0 */
}

static int pct(int p)
{
	return p < 0 ? 0 : p > 100 ? 100 : p;
}

static void set_buckets(am_sim *s, int64_t now)
{
	const am_sim_cfg *c = &s->cfg;
	am_simbucket_set(&s->b[D_REQ], c->rpm, c->rpm_burst > 0 ? c->rpm_burst : c->rpm, now);
	am_simbucket_set(&s->b[D_IN], c->itpm, 0, now);
	am_simbucket_set(&s->b[D_OUT], c->otpm, 0, now);
	am_simbucket_set(&s->b[D_COUNT], c->count_rpm, 0, now);
	am_simbucket_set(&s->b[D_BATCH], c->batch_rpm, 0, now);
}

int am_sim_start(am_sim **out, const am_sim_cfg *cfg, am_err *err)
{
	*out = NULL;
	am_sim *s = am_xcalloc(1, sizeof *s);
	s->cfg = *cfg;
	s->clock = cfg->clock ? cfg->clock : am_clock_system();
	s->api_key = cfg->api_key ? am_xstrdup(cfg->api_key) : NULL;
	s->cfg.api_key = s->api_key;
	s->output_text = cfg->output_text && *cfg->output_text ? am_xstrdup(cfg->output_text)
	                                                       : NULL;
	s->cfg.output_text = s->output_text;
	if (s->cfg.output_bytes < 0)
		s->cfg.output_bytes = 0;
	if (s->cfg.output_bytes > OUTPUT_BYTES_MAX)
		s->cfg.output_bytes = OUTPUT_BYTES_MAX;
	s->cfg.fault_529 = prob(cfg->fault_529);
	s->cfg.fault_500 = prob(cfg->fault_500);
	s->cfg.fault_midstream = prob(cfg->fault_midstream);
	s->cfg.fault_truncate = prob(cfg->fault_truncate);
	if (s->cfg.latency_ms < 0)
		s->cfg.latency_ms = 0;
	if (s->cfg.tokens_per_second < 0)
		s->cfg.tokens_per_second = 0;
	s->cfg.batch_error_pct = pct(cfg->batch_error_pct);
	s->cfg.batch_expire_pct = pct(cfg->batch_expire_pct);
	if (s->cfg.batch_delay_ms < 0)
		s->cfg.batch_delay_ms = 0;
	if (s->cfg.output_tokens < 0 || s->cfg.output_tokens > OUTPUT_MAX)
		s->cfg.output_tokens = s->cfg.output_tokens < 0 ? 0 : OUTPUT_MAX;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wait_mu, NULL);
	pthread_mutex_init(&s->bmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->stopping, false);
	atomic_init(&s->seq, 0);
	atomic_init(&s->body_bytes, 0);
	am_simcache_init(&s->cache, CACHE_ENTRIES);
	set_buckets(s, now_mono(s));
	json_t *text = s->output_text ? json_string(s->output_text) : NULL;
	if (s->output_text && !text) {
		am_err_set(err, "sim: the output text is not valid UTF-8");
		am_sim_stop(s);
		return -1;
	}
	json_decref(text);

	struct sockaddr_in addr;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(cfg->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                            MHD_USE_POLL | MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK |
	                            MHD_USE_TURBO,
	                        cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
	                        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	                        s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
	if (!s->d) {
		am_err_set(err, "sim: cannot listen on 127.0.0.1:%u", (unsigned)cfg->port);
		am_sim_stop(s);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	/* The daemon's threads run already: a batch's results_url reads the
	 * URL under bmu (a client learns the port only from it, through a
	 * pipe no race detector can see). */
	pthread_mutex_lock(&s->bmu);
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", (unsigned)s->port);
	pthread_mutex_unlock(&s->bmu);
	*out = s;
	return 0;
}

const char *am_sim_url(const am_sim *s)
{
	return s->url;
}

uint16_t am_sim_port(const am_sim *s)
{
	return s->port;
}

void am_sim_get_stats(const am_sim *s, am_sim_stats *out)
{
	am_sim *m = (am_sim *)(uintptr_t)s; /* the lock is not part of the value */
	pthread_mutex_lock(&m->mu);
	*out = s->stats;
	pthread_mutex_unlock(&m->mu);
}

void am_sim_set_limits(am_sim *s, int64_t rpm, int64_t itpm, int64_t otpm)
{
	pthread_mutex_lock(&s->mu);
	s->cfg.rpm = rpm;
	s->cfg.itpm = itpm;
	s->cfg.otpm = otpm;
	set_buckets(s, now_mono(s));
	pthread_mutex_unlock(&s->mu);
}

void am_sim_stop(am_sim *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->wait_mu);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->wait_cv);
	pthread_mutex_unlock(&s->wait_mu);
	if (s->d)
		MHD_stop_daemon(s->d);
	am_simcache_free(&s->cache);
	batches_free(s);
	pthread_mutex_destroy(&s->bmu);
	pthread_cond_destroy(&s->wait_cv);
	pthread_mutex_destroy(&s->wait_mu);
	pthread_mutex_destroy(&s->mu);
	free(s->api_key);
	free(s->output_text);
	free(s);
}
