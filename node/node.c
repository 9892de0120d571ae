/* `tidemark node`: starts this node's roles of a cluster (docs/cluster.md).
 *
 * Order: the coordinator role (if any) first; then the node registers with
 * the coordinators and heartbeats every 500 ms; data, query and proxy roles
 * wait for the coordinators' shard placement, then start on tcp://
 * addresses derived from --rpc: the coordinator on its port, the data role
 * on port+1, the query role on port+2, the data role's log stream on
 * port+3. */
#include "node.h"
#include "coord_role.h"
#include "data_role.h"
#include "http.h"
#include "proxy.h"
#include "placement.h"
#include "query_peer.h"
#include "query_role.h"
#include "registry.h"
#include "sealer.h"
#include "serve.h"
#include "tm_log.h"
#include "tm_rpc.h"
#include "tm_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PORT_DATA 1
#define PORT_QUERY 2
#define PORT_STREAM 3
#define PORT_WRITES 4 /* the data role's direct calls (tm_rpc_server_listen_direct) */
#define URL_MAX 96
#define URLS_MAX 1024
/* A REST handler holds its worker while it waits: reads, and writes the
 * loop thread does not start itself (bodies over 64 KiB, autoID keys,
 * merges; proxy.h). With 32 workers, when every write held one, 100
 * single-row clients made 2.6k-2.9k upserts/s, with 128 4.4k
 * (docs/benchmarks.md, fourth session). */
#define PROXY_HTTP_WORKERS 128

struct node {
    const struct tm_node_config *cfg;
    struct tm_rpc_client *coord;
    pthread_t heartbeat;
    bool heartbeat_up;
    atomic_bool stopping;
    atomic_bool proxy_ready; /* the proxy serves: the heartbeat adds query nodes to it */
    /* the placement */
    int shards;
    struct tm_data_group groups[64];
    char shard_urls[64][URLS_MAX];       /* each shard's data role replicas */
    char shard_write_urls[64][URLS_MAX]; /* the same, their direct calls */
    const char *shard_write_url_ptrs[64];
    char stream_urls[URLS_MAX]; /* every data node's log stream, once */
    const char *shard_url_ptrs[64];
    char query_urls[TM_PROXY_MAX_QUERY][URL_MAX];
    const char *query_url_ptrs[TM_PROXY_MAX_QUERY];
    uint64_t query_serves[TM_PROXY_MAX_QUERY];
    char query_all[URLS_MAX];
    int nquery;
    struct tm_roles r;
};

/* "tcp://host:port+delta" from "host:port" or "tcp://host:port". */
static int url_at(char *dst, size_t cap, const char *addr, int delta)
{
    char moved[TM_ADDR_MAX];
    const char *hp = strncmp(addr, "tcp://", 6) == 0 ? addr + 6 : addr;
    if (tm_addr_port_add(hp, (uint32_t)delta, moved, sizeof moved))
        return TM_EINVAL;
    int n = snprintf(dst, cap, "tcp://%s", moved);
    return n > 0 && (size_t)n < cap ? 0 : TM_EINVAL;
}

/* "direct://host:port+delta": url_at's address for a direct call. */
static int direct_url_at(char *dst, size_t cap, const char *addr, int delta)
{
    char url[URL_MAX];
    int rc = url_at(url, sizeof url, addr, delta);
    int n = rc ? 0 : snprintf(dst, cap, "direct://%s", url + strlen("tcp://"));
    return rc ? rc : n > 0 && (size_t)n < cap ? 0 : TM_EINVAL;
}

/* Appends url to the comma-separated list dst (cap bytes) holding *len. */
static int list_add(char *dst, size_t cap, size_t *len, const char *url)
{
    if (*len + strlen(url) + 2 > cap)
        return TM_ECORRUPT;
    *len += (size_t)snprintf(dst + *len, cap - *len, "%s%s", *len ? "," : "", url);
    return 0;
}

int tm_node_urls(const char *addrs, int delta, char *dst, size_t cap)
{
    size_t len = 0;
    dst[0] = '\0';
    for (const char *p = addrs; *p;) {
        size_t n = strcspn(p, ",");
        char one[URL_MAX], addr[URL_MAX];
        if (n == 0 || n >= sizeof addr)
            return TM_EINVAL;
        memcpy(addr, p, n);
        addr[n] = '\0';
        if (url_at(one, sizeof one, addr, delta) || len + strlen(one) + 2 > cap)
            return TM_EINVAL;
        len += (size_t)snprintf(dst + len, cap - len, "%s%s", len ? "," : "", one);
        p += n + (p[n] == ',');
    }
    return len ? 0 : TM_EINVAL;
}

/* ---- registration and heartbeat ---- */

static void register_once(struct node *nd)
{
    const struct tm_node_config *c = nd->cfg;
    char rpc[URL_MAX] = "";
    if (c->rpc[0])
        url_at(rpc, sizeof rpc, c->rpc, 0);
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 6);
    tm_mpw_cstr(&w, "id"), tm_mpw_uint(&w, c->id);
    tm_mpw_cstr(&w, "serves"), tm_mpw_uint(&w, tm_node_has_role(c, "query") ? c->serve_shards : 0);
    tm_mpw_cstr(&w, "roles"), tm_mpw_cstr(&w, c->roles);
    tm_mpw_cstr(&w, "rpc"), tm_mpw_cstr(&w, rpc);
    tm_mpw_cstr(&w, "raft"), tm_mpw_cstr(&w, c->raft);
    tm_mpw_cstr(&w, "http"), tm_mpw_cstr(&w, c->http);
    if (tm_rpc_call(nd->coord, "register", w.buf.data, w.buf.len, 2000, &rep, &st) == 0)
        tm_rpc_reply_free(&rep);
    tm_mpw_free(&w);
}

static void refresh_query_nodes(struct node *nd);

static void *heartbeat_main(void *arg)
{
    struct node *nd = arg;
    pthread_setname_np(pthread_self(), "tm-heartbeat");
    while (!atomic_load(&nd->stopping)) {
        register_once(nd);
        if (atomic_load(&nd->proxy_ready))
            refresh_query_nodes(nd);
        for (int i = 0; i < 5 && !atomic_load(&nd->stopping); i++)
            tm_sleep_ms(100);
    }
    return NULL;
}

/* ---- placement ---- */

static bool listed(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, item, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* Adds a data node's log stream to nd->stream_urls unless listed. */
static int add_stream_url(struct node *nd, const char *rpc)
{
    char url[URL_MAX];
    size_t len = strlen(nd->stream_urls);
    int rc = url_at(url, sizeof url, rpc, PORT_STREAM);
    if (rc || listed(nd->stream_urls, url))
        return rc;
    if (len + strlen(url) + 2 > sizeof nd->stream_urls)
        return TM_ECORRUPT;
    snprintf(nd->stream_urls + len, sizeof nd->stream_urls - len, "%s%s", len ? "," : "", url);
    return 0;
}

/* The coordinators' placement (coord/placement.h) as Raft groups for the
 * data role and, per shard, its replicas' data role URLs. */
static int parse_placement(struct node *nd, struct tm_mpr b)
{
    struct tm_placement p;
    int rc = tm_placement_decode(&b, &p);
    if (!rc && (p.shards > 64 || p.replicas > TM_DATA_MAX_REPLICAS))
        rc = TM_ECORRUPT;
    for (uint32_t s = 0; !rc && s < p.shards; s++) {
        const struct tm_placement_member *m = tm_placement_group(&p, s);
        struct tm_data_group *g = &nd->groups[s];
        size_t len = 0, wlen = 0;
        g->n = p.replicas;
        for (uint32_t i = 0; !rc && i < p.replicas; i++) {
            char url[URL_MAX], direct[URL_MAX];
            g->members[i].id = m[i].id;
            snprintf(g->members[i].address, sizeof g->members[i].address, "%s", m[i].raft);
            rc = add_stream_url(nd, m[i].rpc);
            if (!rc)
                rc = url_at(url, sizeof url, m[i].rpc, PORT_DATA);
            if (!rc)
                rc = direct_url_at(direct, sizeof direct, m[i].rpc, PORT_WRITES);
            if (!rc)
                rc = list_add(nd->shard_urls[s], URLS_MAX, &len, url);
            if (!rc)
                rc = list_add(nd->shard_write_urls[s], URLS_MAX, &wlen, direct);
        }
        nd->shard_write_url_ptrs[s] = nd->shard_write_urls[s];
        nd->shard_url_ptrs[s] = nd->shard_urls[s];
    }
    if (!rc)
        nd->shards = (int)p.shards;
    tm_placement_free(&p);
    return rc;
}

/* Waits for the coordinators' placement (decided once enough data nodes
 * registered). */
static int await_placement(struct node *nd)
{
    uint64_t said = 0;
    while (!atomic_load(&nd->stopping)) {
        struct tm_rpc_reply rep;
        struct tm_status st;
        int rc = tm_rpc_call(nd->coord, "placement", NULL, 0, 2000, &rep, &st);
        if (rc == 0) {
            rc = parse_placement(nd, rep.body);
            tm_rpc_reply_free(&rep);
            if (rc)
                TM_ERROR("node", "malformed placement from the coordinator");
            return rc;
        }
        if (tm_mono_ms() - said > 5000) {
            TM_INFO("node", "waiting for the shard placement: %s", st.msg);
            said = tm_mono_ms();
        }
        tm_sleep_ms(200);
    }
    return TM_ESHUTDOWN;
}

/* The query role URLs of the query nodes in the coordinators' registry (up
 * or not: a client passes over one it cannot reach), and the shards each
 * serves. How many, up to max. */
static int list_query_urls(struct node *nd, char urls[][URL_MAX], uint64_t *serves, int max)
{
    struct tm_rpc_reply rep;
    struct tm_status st;
    uint32_t n = 0;
    int found = 0;
    if (tm_rpc_call(nd->coord, "nodes", NULL, 0, 2000, &rep, &st))
        return 0;
    struct tm_mpr *b = &rep.body;
    if (tm_mpr_array(b, &n))
        n = 0;
    for (uint32_t i = 0; i < n && found < max && !b->err; i++) {
        struct tm_node node;
        bool query = tm_node_decode(b, &node, &st) == 0 && tm_roles_has(node.roles, "query");
        tm_mpr_skip(b);
        if (query && !url_at(urls[found], URL_MAX, node.rpc, PORT_QUERY))
            serves[found++] = node.serves;
    }
    tm_rpc_reply_free(&rep);
    return found;
}

/* The query nodes the proxy starts with: those registered now (waits for
 * one). Later ones are added by the heartbeat (refresh_query_nodes). */
static int find_query_nodes(struct node *nd)
{
    for (int tries = 0; tries < 300 && !atomic_load(&nd->stopping); tries++) {
        nd->nquery = list_query_urls(nd, nd->query_urls, nd->query_serves, TM_PROXY_MAX_QUERY);
        size_t len = 0;
        for (int i = 0; i < nd->nquery; i++) {
            nd->query_url_ptrs[i] = nd->query_urls[i];
            len += (size_t)snprintf(nd->query_all + len, sizeof nd->query_all - len, "%s%s",
                                    len ? "," : "", nd->query_urls[i]);
        }
        if (nd->nquery)
            return 0;
        tm_sleep_ms(200);
    }
    TM_ERROR("node", "no query node registered with the coordinators");
    return TM_ETIMEDOUT;
}

/* The query role's peers (query_role.h): every registered query node. */
static int list_query_peers(void *arg, struct tm_qpeer *out, int max)
{
    struct node *nd = arg;
    char urls[TM_QPEER_MAX][URL_MAX];
    uint64_t serves[TM_QPEER_MAX];
    int n = list_query_urls(nd, urls, serves, max < TM_QPEER_MAX ? max : TM_QPEER_MAX);
    for (int i = 0; i < n; i++) {
        snprintf(out[i].url, sizeof out[i].url, "%.*s", (int)sizeof out[i].url - 1, urls[i]);
        out[i].serves = serves[i];
    }
    return n;
}

static void refresh_query_nodes(struct node *nd)
{
    char urls[TM_PROXY_MAX_QUERY][URL_MAX];
    uint64_t serves[TM_PROXY_MAX_QUERY];
    int n = list_query_urls(nd, urls, serves, TM_PROXY_MAX_QUERY);
    for (int i = 0; i < n; i++)
        tm_proxy_add_query(&nd->r.proxy, urls[i], serves[i]);
}

/* ---- roles ---- */

static int start_coord(struct node *nd)
{
    const struct tm_node_config *c = nd->cfg;
    struct tm_raft_member members[8];
    unsigned n = 0;
    uint64_t self = 0;
    const char *p = c->coord, *q = c->coord_raft;
    while (*p && *q && n < 8) {
        size_t pn = strcspn(p, ","), qn = strcspn(q, ",");
        if (qn >= sizeof members[n].address)
            return TM_EINVAL;
        members[n].id = n + 1;
        memcpy(members[n].address, q, qn);
        members[n].address[qn] = '\0';
        if (pn == strlen(c->rpc) && memcmp(p, c->rpc, pn) == 0)
            self = n + 1;
        n++;
        p += pn + (p[pn] == ',');
        q += qn + (q[qn] == ',');
    }
    if (!self || *p || *q) {
        TM_ERROR("node", "--rpc %s must be one of --coord, and --coord-raft list as many", c->rpc);
        return TM_EINVAL;
    }
    char dir[1100], url[URL_MAX];
    snprintf(dir, sizeof dir, "%s/coord", c->dir);
    url_at(url, sizeof url, c->rpc, 0);
    struct tm_coord_role_config cc = {.dir = dir,
                                      .url = url,
                                      .self_id = self,
                                      .members = members,
                                      .nmembers = n,
                                      .shards = (uint32_t)c->shards,
                                      .replicas = (uint32_t)c->replicas,
                                      .election_ms = c->election_ms};
    return tm_coord_role_start(&nd->r.coord, &cc);
}

static int start_data(struct node *nd, const char *coord_url)
{
    const struct tm_node_config *c = nd->cfg;
    char wal[1100], seg[1100], url[URL_MAX], stream[URL_MAX], writes[URL_MAX];
    snprintf(wal, sizeof wal, "%s/wal", c->dir);
    snprintf(seg, sizeof seg, "%s/segments", c->dir);
    url_at(url, sizeof url, c->rpc, PORT_DATA);
    url_at(stream, sizeof stream, c->rpc, PORT_STREAM);
    url_at(writes, sizeof writes, c->rpc, PORT_WRITES);
    struct tm_sealer_config sc = {seg, coord_url, nd->shards, nd->shard_url_ptrs};
    int rc = tm_sealer_open(&nd->r.sealer, &sc);
    if (rc)
        return rc;
    struct tm_data_role_config dc = {
        .dir = wal,
        .url = url,
        .coord_url = coord_url,
        .shards = nd->shards,
        .sink = tm_sealer_sink(nd->r.sealer),
        .seal_bytes = (uint64_t)(c->seal_mb > 0 ? c->seal_mb : 64) << 20,
        .seal_rows = (uint64_t)(c->seal_rows > 0 ? c->seal_rows : 0),
        .groups = nd->groups,
        .stream_url = stream,
        .writes_url = writes,
        .files_dir = seg,
        .self_id = c->id,
        .election_ms = c->election_ms,
    };
    return tm_data_role_start(&nd->r.data, &dc);
}

static int start_query(struct node *nd, const char *coord_url)
{
    char idx[1100], fetched[1100], url[URL_MAX];
    snprintf(idx, sizeof idx, "%s/indexes", nd->cfg->dir);
    snprintf(fetched, sizeof fetched, "%s/fetched", nd->cfg->dir);
    url_at(url, sizeof url, nd->cfg->rpc, PORT_QUERY);
    struct tm_query_role_config qc = {.url = url,
                                      .data_url = nd->shard_urls[0],
                                      .shard_data_urls = nd->shard_url_ptrs,
                                      .coord_url = coord_url,
                                      .stream_urls = nd->stream_urls,
                                      .shards = nd->shards,
                                      .index_dir = idx,
                                      .fetch_dir = fetched,
                                      .serves = nd->cfg->serve_shards,
                                      .list_peers = list_query_peers,
                                      .peers_arg = nd};
    return tm_query_role_start(&nd->r.query, &qc);
}

static int start_proxy(struct node *nd, const char *coord_url)
{
    int rc = find_query_nodes(nd);
    struct tm_proxy_config pc = {.coord_url = coord_url,
                                 .data_url = nd->shard_urls[0],
                                 .query_url = nd->query_all,
                                 .shards = nd->shards,
                                 .request_timeout_ms = 30000,
                                 .max_body = 64u << 20,
                                 .shard_data_urls = nd->shard_url_ptrs,
                                 .shard_write_urls = nd->shard_write_url_ptrs,
                                 .query_urls = nd->query_url_ptrs,
                                 .query_serves = nd->query_serves,
                                 .nquery = nd->nquery};
    if (!rc && !(rc = tm_proxy_init(&nd->r.proxy, &pc)))
        nd->r.proxy_up = true;
    char host[64];
    const char *colon = strrchr(nd->cfg->http, ':');
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - nd->cfg->http) : 0, nd->cfg->http);
    struct tm_http_config hc = {.host = host,
                                .port = colon ? atoi(colon + 1) : 0,
                                .max_body = 64u << 20,
                                .workers = PROXY_HTTP_WORKERS,
                                .handler = tm_proxy_serve_http,
                                .inline_handler = tm_proxy_serve_inline,
                                .arg = &nd->r.proxy};
    if (!rc)
        rc = tm_http_server_start(&nd->r.http, &hc);
    atomic_store(&nd->proxy_ready, rc == 0);
    if (!rc) {
        printf("tidemark: serving the Milvus REST API on http://%s:%d\n", host,
               tm_http_server_port(nd->r.http));
        fflush(stdout);
    }
    return rc;
}

static int node_start(struct node *nd)
{
    const struct tm_node_config *c = nd->cfg;
    char coord_url[URLS_MAX];
    if (tm_node_urls(c->coord, 0, coord_url, sizeof coord_url))
        return TM_ERROR("node", "bad --coord list '%s'", c->coord), TM_EINVAL;
    int rc = tm_node_has_role(c, "coord") ? start_coord(nd) : 0;
    if (!rc)
        rc = tm_rpc_client_open(&nd->coord, coord_url);
    if (rc)
        return rc;
    nd->heartbeat_up = pthread_create(&nd->heartbeat, NULL, heartbeat_main, nd) == 0;
    bool data = tm_node_has_role(c, "data"), query = tm_node_has_role(c, "query");
    bool proxy = tm_node_has_role(c, "proxy");
    if (!data && !query && !proxy)
        return 0;
    rc = await_placement(nd);
    if (!rc && data)
        rc = start_data(nd, coord_url);
    if (!rc && query)
        rc = start_query(nd, coord_url);
    if (!rc && proxy)
        rc = start_proxy(nd, coord_url);
    return rc;
}

static void node_stop(struct node *nd)
{
    atomic_store(&nd->stopping, true);
    if (nd->heartbeat_up)
        pthread_join(nd->heartbeat, NULL);
    tm_roles_stop(&nd->r); /* first: the query role's builder lists its peers through coord */
    tm_rpc_client_close(nd->coord);
}

int tm_node_main(const struct tm_node_config *c)
{
    tm_block_stop_signals();
    static struct node nd; /* large; one per process */
    nd.cfg = c;
    int lock_fd = tm_lock_data_dir(c->dir);
    int rc = lock_fd < 0 ? TM_EIO : node_start(&nd);
    if (rc) {
        TM_ERROR("node", "node %llu: start failed: %s", (unsigned long long)c->id, tm_strerror(rc));
        node_stop(&nd);
        return 1;
    }
    TM_INFO("node", "node %llu up: roles %s", (unsigned long long)c->id, c->roles);
    TM_INFO("node", "%s: shutting down", tm_await_stop());
    node_stop(&nd);
    close(lock_fd);
    return 0;
}
