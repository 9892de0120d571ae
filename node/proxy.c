/* The proxy role: request parsing, routing, the Milvus envelope, and the
 * helpers handlers share (see proxy.h). */
#include "proxy.h"
#include "json_scan.h"
#include "ddl.h"
#include "tm_log.h"

#include "tm_time.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int tm_proxy_init(struct tm_proxy *p, const struct tm_proxy_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    tm_schema_cache_init(&p->cache);
    if (cfg->shards < 1 || cfg->shards > TM_PROXY_MAX_SHARDS || cfg->nquery > TM_PROXY_MAX_QUERY)
        return TM_EINVAL;
    int rc = tm_rpc_client_open(&p->coord, cfg->coord_url);
    for (int s = 0; !rc && s < cfg->shards; s++) {
        rc = tm_rpc_client_open(&p->data[s],
                                cfg->shard_data_urls ? cfg->shard_data_urls[s] : cfg->data_url);
        if (!rc && cfg->shard_write_urls)
            rc = tm_rpc_client_open(&p->data_direct[s], cfg->shard_write_urls[s]);
        if (!rc)
            rc = tm_write_queue_start(
                &p->write_queues[s], p->data_direct[s] ? p->data_direct[s] : p->data[s], s,
                cfg->request_timeout_ms, cfg->shard_data_urls ? TM_WQ_LINGER_US : 0);
        p->queues_started += !rc;
    }
    if (!rc)
        rc = tm_rpc_client_open(&p->query, cfg->query_url);
    pthread_mutex_init(&p->add_mu, NULL);
    for (int i = 0; !rc && i < cfg->nquery; i++)
        rc =
            tm_proxy_add_query(p, cfg->query_urls[i], cfg->query_serves ? cfg->query_serves[i] : 0);
    if (!rc && cfg->nquery == 0) /* alone: the one query role serves every shard */
        rc = tm_proxy_add_query(p, cfg->query_url, 0);
    p->nonce = (unsigned)tm_wall_ms() ^ (unsigned)getpid() << 16;
    if (rc)
        tm_proxy_close(p);
    return rc;
}

void tm_proxy_close(struct tm_proxy *p)
{
    tm_rpc_client_close(p->coord);
    for (int s = 0; s < p->queues_started; s++)
        tm_write_queue_stop(&p->write_queues[s]);
    for (int s = 0; s < TM_PROXY_MAX_SHARDS; s++) {
        tm_rpc_client_close(p->data[s]);
        tm_rpc_client_close(p->data_direct[s]);
    }
    tm_rpc_client_close(p->query);
    for (int i = 0; i < atomic_load(&p->nquery_each); i++)
        tm_rpc_client_close(p->query_each[i]);
    if (p->query)
        pthread_mutex_destroy(&p->add_mu);
    tm_schema_cache_free(&p->cache);
    memset(p, 0, sizeof *p);
}

int tm_proxy_add_query(struct tm_proxy *p, const char *url, uint64_t serves)
{
    uint64_t every = p->cfg.shards >= 64 ? ~0ull : (1ull << p->cfg.shards) - 1;
    serves = serves ? serves & every : every;
    pthread_mutex_lock(&p->add_mu);
    int n = atomic_load(&p->nquery_each), rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (strcmp(p->query_urls[i], url) == 0) {
            if (atomic_exchange(&p->query_serves[i], serves) != serves)
                TM_INFO("proxy", "the query node at %s serves shards %#llx", url,
                        (unsigned long long)serves);
            rc = 1;
        }
    if (!rc && n == TM_PROXY_MAX_QUERY)
        rc = TM_ETOOBIG;
    if (!rc)
        rc = tm_rpc_client_add(p->query, url);
    if (!rc)
        rc = tm_rpc_client_open(&p->query_each[n], url);
    if (!rc) {
        /* in a cluster a read can go to another node: give up a dead one soon */
        if (p->cfg.nquery)
            tm_rpc_client_watch(p->query_each[n]);
        snprintf(p->query_urls[n], sizeof p->query_urls[n], "%s", url);
        atomic_store(&p->query_serves[n], serves);
        atomic_store(&p->nquery_each, n + 1);
        TM_INFO("proxy", "reads may go to the query node at %s (shards %#llx)", url,
                (unsigned long long)serves);
    }
    pthread_mutex_unlock(&p->add_mu);
    return rc == 1 ? 0 : rc;
}

void tm_proxy_query_each(struct tm_req *r, const char *type, const struct tm_mpw *body)
{
    struct tm_status saved = r->st;
    struct tm_rpc_reply rep;
    int n = atomic_load(&r->p->nquery_each);
    for (int i = 0; i < n; i++)
        if (tm_proxy_call(r, r->p->query_each[i], type, body, &rep) == 0)
            tm_rpc_reply_free(&rep);
    r->st = saved;
}

const char *tm_req_write_id(struct tm_req *r)
{
    if (!r->request_id[0] && r->p->cfg.shard_data_urls)
        snprintf(r->request_id, sizeof r->request_id, "~%08x-%llu", r->p->nonce,
                 (unsigned long long)atomic_fetch_add(&r->p->writes, 1));
    return r->request_id[0] ? r->request_id : NULL;
}

/* ---- request helpers ---- */

json_t *tm_req_get(const struct tm_req *r, const char *key)
{
    json_t *v = json_object_get(r->body, key);
    if (v)
        return v;
    const char *k;
    json_object_foreach(r->body, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

const char *tm_req_str(struct tm_req *r, const char *key, bool required)
{
    json_t *v = tm_req_get(r, key);
    if (v && !json_is_string(v) && !json_is_null(v)) {
        tm_status_set(&r->st, TM_MV_BAD_JSON,
                      "can only accept json format request, error: json: cannot unmarshal %s "
                      "into Go struct field of type string (key %s)",
                      json_is_number(v)    ? "number"
                      : json_is_boolean(v) ? "bool"
                                           : "object",
                      key);
        return NULL;
    }
    const char *s = v && json_is_string(v) ? json_string_value(v) : NULL;
    if (required && (!s || !*s)) {
        tm_status_set(&r->st, TM_MV_MISSING_PARAM,
                      "missing required parameters, error: Key: '%s' Error:Field validation for "
                      "'%s' failed on the 'required' tag",
                      key, key);
        return NULL;
    }
    return s;
}

int tm_req_name(struct tm_req *r, const char *key, char *dst)
{
    const char *s = tm_req_str(r, key, true);
    if (!s)
        return TM_ESTATUS;
    if (strlen(s) >= TM_NAME_MAX)
        return tm_status_set(&r->st, TM_MV_INVALID_PARAM,
                             "the length of %s must be less than %d characters", key, TM_NAME_MAX);
    strcpy(dst, s);
    return 0;
}

int tm_req_int(struct tm_req *r, const char *key, int64_t dflt, int64_t *out)
{
    json_t *v = tm_req_get(r, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    return tm_status_set(&r->st, TM_MV_BAD_JSON,
                         "can only accept json format request, error: json: cannot unmarshal "
                         "%s into Go struct field %s of type int",
                         json_is_string(v) ? "string" : "value", key);
}

int tm_req_bool(struct tm_req *r, const char *key, bool dflt, bool *out)
{
    json_t *v = tm_req_get(r, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return tm_status_set(&r->st, TM_MV_BAD_JSON,
                         "can only accept json format request, error: json: cannot unmarshal "
                         "value into Go struct field %s of type bool",
                         key);
}

int tm_req_fail_call(struct tm_req *r, const struct tm_status *st)
{
    r->st = *st;
    return TM_ESTATUS;
}

/* ---- role calls ---- */

int tm_proxy_call(struct tm_req *r, struct tm_rpc_client *to, const char *type,
                  const struct tm_mpw *body, struct tm_rpc_reply *reply)
{
    struct tm_status st;
    if (r->answer_later)
        return TM_EAGAIN;
    int rc = tm_rpc_call(to, type, body ? body->buf.data : NULL, body ? body->buf.len : 0,
                         r->p->cfg.request_timeout_ms, reply, &st);
    return rc ? tm_req_fail_call(r, &st) : 0;
}

int tm_proxy_ddl(struct tm_req *r, const struct tm_ddl *d)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    tm_mpw_init(&w);
    tm_ddl_encode(&w, d);
    /* Before: no request may cache what it reads while the DDL runs.
     * After: none may use what was cached before it completed. */
    tm_schema_cache_invalidate(&r->p->cache);
    int rc = tm_proxy_call(r, r->p->coord, "ddl", &w, &rep);
    tm_schema_cache_invalidate(&r->p->cache);
    tm_mpw_free(&w);
    if (!rc)
        tm_rpc_reply_free(&rep);
    return rc;
}

int tm_proxy_collection(struct tm_req *r, const char *name, struct tm_collection *out)
{
    struct tm_mpr rd;
    struct tm_buf cached;
    tm_buf_init(&cached);
    if (tm_schema_cache_get(&r->p->cache, r->db, name, &cached) == 0) {
        tm_mpr_init(&rd, cached.data, cached.len);
        int rc = tm_collection_decode(&rd, out);
        tm_buf_free(&cached);
        if (rc == 0)
            return 0;
    }
    tm_buf_free(&cached);
    if (r->answer_later)
        return TM_EAGAIN;
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    uint64_t gen = tm_schema_cache_gen(&r->p->cache);
    tm_mpw_init(&w);
    tm_mpw_map(&w, 2);
    tm_mpw_cstr(&w, "db"), tm_mpw_cstr(&w, r->db);
    tm_mpw_cstr(&w, "name"), tm_mpw_cstr(&w, name);
    int rc = tm_proxy_call(r, r->p->coord, "cat.coll", &w, &rep);
    tm_mpw_free(&w);
    if (rc)
        return rc;
    tm_schema_cache_put(&r->p->cache, r->db, name, gen, rep.body.p, tm_mpr_remaining(&rep.body));
    rc = tm_collection_decode(&rep.body, out);
    tm_rpc_reply_free(&rep);
    if (rc)
        return tm_status_set(&r->st, TM_MV_INTERNAL, "malformed collection from coordinator");
    return 0;
}

int tm_proxy_tso(struct tm_req *r, uint32_t n, uint64_t *ts)
{
    struct tm_status st;
    if (r->answer_later)
        return TM_EAGAIN;
    int rc =
        tm_rpc_call_uint_arg(r->p->coord, "tso", "n", n, r->p->cfg.request_timeout_ms, ts, &st);
    return rc ? tm_req_fail_call(r, &st) : 0;
}

/* ---- routing and envelope ---- */

static const struct {
    const char *category;
    int (*fn)(struct tm_req *r, const char *action);
} g_routes[] = {
    {"databases", tm_rest_db},  {"collections", tm_rest_coll}, {"partitions", tm_rest_part},
    {"indexes", tm_rest_index}, {"entities", tm_rest_entity},
};

/* Finds the handler of a path; false for an unknown route. */
static bool resolve(const char *path, int (**fn)(struct tm_req *, const char *),
                    const char **action)
{
    static const char prefix[] = "/v2/vectordb/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *cat = path + sizeof prefix - 1;
    const char *slash = strchr(cat, '/');
    if (!slash || !slash[1] || strchr(slash + 1, '/'))
        return false;
    for (size_t i = 0; i < sizeof g_routes / sizeof g_routes[0]; i++) {
        if (strlen(g_routes[i].category) == (size_t)(slash - cat) &&
            strncmp(g_routes[i].category, cat, (size_t)(slash - cat)) == 0) {
            *fn = g_routes[i].fn;
            *action = slash + 1;
            return true;
        }
    }
    return false;
}

static void envelope(struct tm_req *r, int rc, struct tm_http_response *resp)
{
    struct tm_jw w;
    tm_jw_init(&w);
    tm_jw_obj(&w);
    if (rc) {
        if (!r->st.code)
            tm_status_set(&r->st, TM_MV_INTERNAL, "service internal error: %s", tm_strerror(rc));
        tm_jw_key(&w, "code"), tm_jw_int(&w, r->st.code);
        tm_jw_key(&w, "message"), tm_jw_cstr(&w, r->st.msg);
    } else {
        tm_jw_key(&w, "code"), tm_jw_int(&w, 0);
        if (r->with_cost)
            tm_jw_key(&w, "cost"), tm_jw_int(&w, 0);
        if (r->has_data) {
            tm_jw_key(&w, "data");
            tm_jw_raw(&w, (const char *)r->data.out.data, r->data.out.len);
        }
        if (r->topks.out.len) {
            tm_jw_key(&w, "topks");
            tm_jw_raw(&w, (const char *)r->topks.out.data, r->topks.out.len);
        }
        if (r->with_message)
            tm_jw_key(&w, "message"), tm_jw_cstr(&w, "");
    }
    tm_jw_obj_end(&w);
    if (!rc && r->write_ts)
        snprintf(resp->extra_headers, sizeof resp->extra_headers, "%s: %llu\r\n",
                 TM_HEADER_WRITE_TS, (unsigned long long)r->write_ts);
    size_t len;
    resp->body = (char *)tm_buf_steal(&w.out, &len);
    resp->body_len = len;
    tm_jw_free(&w);
}

/* A copy of text without the commas that directly precede `]` or `}`
 * (outside strings), or NULL. JSON forbids them, but hand-written bodies
 * have them: the seed documents' own curl examples do. */
static char *strip_trailing_commas(const char *text, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    size_t n = 0, comma = SIZE_MAX;
    bool in_str = false;
    for (size_t i = 0; out && i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\' && i + 1 < len) {
                out[n++] = ch; /* the escape, then the escaped character below */
                ch = text[++i];
            } else if (ch == '"') {
                in_str = false;
            }
        } else if (ch == '"') {
            in_str = true;
        } else if ((ch == ']' || ch == '}') && comma != SIZE_MAX) {
            memmove(out + comma, out + comma + 1, n - comma - 1);
            n--;
        }
        if (!in_str && ch == ',')
            comma = n;
        else if (!in_str && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            comma = SIZE_MAX;
        out[n++] = ch;
    }
    *out_len = n;
    return out;
}

/* Parses a body, forgiving trailing commas (a second attempt, so well-formed
 * bodies pay nothing). */
static json_t *parse_json(const char *text, size_t len, json_error_t *err)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, err);
    if (j)
        return j;
    size_t n;
    char *fixed = strip_trailing_commas(text, len, &n);
    json_error_t ignored;
    j = fixed ? json_loadb(fixed, n, JSON_DECODE_ANY, &ignored) : NULL;
    free(fixed);
    return j;
}

/* jansson's parse of the body with null for the data at [at, at + n). */
static json_t *parse_without_data(const char *text, size_t len, size_t at, size_t n,
                                  json_error_t *err)
{
    char *rest = malloc(len - n + 4);
    if (!rest)
        return NULL;
    memcpy(rest, text, at);
    memcpy(rest + at, "null", 4);
    memcpy(rest + at + 4, text + at + n, len - at - n);
    json_t *j = json_loadb(rest, len - n + 4, 0, err);
    free(rest);
    return j;
}

/* Parses the body, except for an insert's or upsert's "data" array when
 * the scanner is sure of the whole body (json_scan.h): that stays text, for
 * the rows to read without a jansson node per number, and its arrays of
 * numbers are read as floats while the scanner checks them. */
static json_t *parse_split(struct tm_req *r, const char *text, size_t len, json_error_t *err)
{
    size_t at, n;
    json_t *j = NULL;
    if (tm_jscan_split_data(text, len, &at, &n, &r->data_arrays))
        j = parse_without_data(text, len, at, n, err);
    if (!j) {
        tm_jscan_arrays_free(&r->data_arrays);
        return parse_json(text, len, err);
    }
    r->data_text = text + at;
    r->data_len = n;
    return j;
}

const json_t *tm_req_data(struct tm_req *r)
{
    if (r->data_text) {
        /* The scanner read the text already: only memory can fail here. */
        json_t *d = json_loadb(r->data_text, r->data_len, JSON_DECODE_ANY, NULL);
        r->data_text = NULL;
        if (!d || json_object_set_new(r->body, "data", d)) {
            tm_status_set(&r->st, TM_MV_INTERNAL, "out of memory reading the rows");
            return NULL;
        }
    }
    return json_object_get(r->body, "data");
}

static int parse_body(struct tm_req *r, const struct tm_http_request *http, size_t max_body,
                      bool split)
{
    if (http->too_large)
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: request body too "
                             "large: the limit is %zu bytes",
                             max_body);
    if (http->body_len == 0)
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, the request body should be "
                             "nil, however {} is valid");
    json_error_t err;
    r->body = split ? parse_split(r, http->body, http->body_len, &err)
                    : parse_json(http->body, http->body_len, &err);
    if (!r->body)
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: %s (line %d, column "
                             "%d)",
                             err.text, err.line, err.column);
    if (json_is_null(r->body)) {
        json_decref(r->body);
        r->body = json_object();
    }
    if (!json_is_object(r->body))
        return tm_status_set(&r->st, TM_MV_BAD_JSON,
                             "can only accept json format request, error: json: cannot "
                             "unmarshal a non-object into the request");
    return 0;
}

static int select_db(struct tm_req *r)
{
    const char *db = tm_req_str(r, "dbName", false);
    if (r->st.code)
        return TM_ESTATUS;
    if (!db || !*db)
        db = tm_http_request_header(r->http, "DB-Name");
    if (!db || !*db)
        db = TM_DEFAULT_DB;
    if (strlen(db) >= TM_NAME_MAX)
        return tm_status_set(&r->st, TM_MV_DB_NOT_FOUND, "database not found[database=%s]", db);
    strcpy(r->db, db);
    return 0;
}

static void not_found(struct tm_http_response *resp)
{
    static const char text[] = "404 page not found";
    resp->status = 404;
    resp->content_type = "text/plain";
    resp->body = strdup(text);
    resp->body_len = resp->body ? sizeof text - 1 : 0;
}

/* Inserts and upserts: their rows are read from the body's text. */
static bool writes_rows(int (*fn)(struct tm_req *, const char *), const char *action)
{
    return fn == tm_rest_entity && (strcmp(action, "insert") == 0 || strcmp(action, "upsert") == 0);
}

/* Everything a handler needs before it runs: 0 or TM_ESTATUS. */
static int req_begin(struct tm_req *r, struct tm_proxy *p, const struct tm_http_request *http,
                     bool rows, void (*answer_later)(struct tm_req *, int))
{
    *r = (struct tm_req){.p = p, .http = http, .answer_later = answer_later};
    tm_jw_init(&r->data);
    tm_jw_init(&r->topks);
    tm_status_ok(&r->st);
    const char *allow = tm_http_request_header(http, "Accept-Type-Allow-Int64");
    r->int64_as_string = allow && strcasecmp(allow, "false") == 0;
    const char *rid = tm_http_request_header(http, TM_HEADER_REQUEST_ID);
    int rc = parse_body(r, http, p->cfg.max_body, rows);
    if (!rc && rid && strlen(rid) >= sizeof r->request_id)
        rc = tm_status_set(&r->st, TM_MV_INVALID_PARAM, "%s must be at most %zu characters",
                           TM_HEADER_REQUEST_ID, sizeof r->request_id - 1);
    else if (rid)
        strcpy(r->request_id, rid);
    return rc ? rc : select_db(r);
}

/* Answers with a handler's result and frees what r holds. */
static void req_end(struct tm_req *r, int rc, struct tm_http_response *resp)
{
    if (rc == 1) /* the category has no such action */
        not_found(resp);
    else
        envelope(r, rc, resp);
    json_decref(r->body);
    tm_jscan_arrays_free(&r->data_arrays);
    tm_jw_free(&r->data);
    tm_jw_free(&r->topks);
    if (r->release)
        r->release(r->release_arg);
}

void tm_proxy_serve_http(void *arg, const struct tm_http_request *http,
                         struct tm_http_response *resp)
{
    struct tm_proxy *p = arg;
    int (*fn)(struct tm_req *, const char *) = NULL;
    const char *action = NULL;
    if (strcmp(http->method, "POST") != 0 || !resolve(http->path, &fn, &action)) {
        not_found(resp);
        return;
    }
    struct tm_req r;
    int rc = req_begin(&r, p, http, writes_rows(fn, action), NULL);
    if (!rc)
        rc = fn(&r, action);
    req_end(&r, rc, resp);
}

/* ---- the inline path: writes started on the loop thread ---- */

/* Bodies above this are parsed by a worker: parsing holds up the loop. */
#define INLINE_MAX_BODY (64u << 10)

struct inline_req {
    struct tm_req r;
    /* A copy of the loop's request (its pointers are into the call's
     * message, which lives until the answer): r.http points here, so a
     * worker that takes the request over reads it safely. */
    struct tm_http_request http;
    struct tm_http_call *call;
    struct tm_http_response *resp;
    const char *action; /* "insert" or "upsert", in the request's path */
    int rc;             /* the handler's result, once answered */
};

/* On the loop thread, where the request was parsed: see tm_http_call_done. */
static void finish_inline(void *arg)
{
    struct inline_req *in = arg;
    req_end(&in->r, in->rc, in->resp);
    free(in);
}

static void answer_later(struct tm_req *r, int rc)
{
    struct inline_req *in = (struct inline_req *)((char *)r - offsetof(struct inline_req, r));
    in->rc = rc;
    tm_http_call_done(in->call, finish_inline, in);
}

/* A request the loop could not finish without blocking, done again by a
 * worker from the parsed body on: the inline attempt wrote nothing. */
static void serve_on_worker(void *arg)
{
    struct inline_req *in = arg;
    in->r.answer_later = NULL;
    in->r.nops = 0; /* fieldOps are read again */
    req_end(&in->r, tm_rest_entity(&in->r, in->action), in->resp);
    free(in);
}

enum tm_http_inline tm_proxy_serve_inline(void *arg, struct tm_http_call *call,
                                          const struct tm_http_request *http,
                                          struct tm_http_response *resp)
{
    int (*fn)(struct tm_req *, const char *) = NULL;
    const char *action = NULL;
    if (http->body_len > INLINE_MAX_BODY || strcmp(http->method, "POST") != 0 ||
        !resolve(http->path, &fn, &action) || !writes_rows(fn, action))
        return TM_HTTP_TO_WORKER;
    struct inline_req *in = malloc(sizeof *in);
    if (!in)
        return TM_HTTP_TO_WORKER;
    *in = (struct inline_req){.http = *http, .call = call, .resp = resp, .action = action};
    int rc = req_begin(&in->r, arg, &in->http, true, answer_later);
    if (!rc)
        rc = tm_rest_entity(&in->r, action);
    if (rc == TM_LATER)
        return TM_HTTP_LATER;
    if (rc == TM_EAGAIN) { /* a schema not cached, autoID keys, a merge's read */
        tm_http_call_to_worker(call, serve_on_worker, in);
        return TM_HTTP_LATER;
    }
    req_end(&in->r, rc, resp);
    free(in);
    return TM_HTTP_ANSWERED;
}
