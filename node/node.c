/* `tidemark node`: starts this node's roles of a cluster (docs/cluster.md).
 *
 * Order: the coordinator role (if any) first; then the node registers with
 * the coordinators and heartbeats every 500 ms; data, query and proxy roles
 * wait for the coordinators' shard placement, then start on tcp://
 * addresses derived from --rpc: the coordinator on its port, the data role
 * on port+1, the query role on port+2. */
#include "node.h"
#include "coord_role.h"
#include "data_role.h"
#include "http.h"
#include "proxy.h"
#include "query_role.h"
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
#define URL_MAX 96
#define URLS_MAX 1024

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
    char shard_urls[64][URLS_MAX]; /* each shard's data role replicas */
    const char *shard_url_ptrs[64];
    char query_urls[TM_PROXY_MAX_QUERY][URL_MAX];
    const char *query_url_ptrs[TM_PROXY_MAX_QUERY];
    char query_all[URLS_MAX];
    int nquery;
    struct tm_roles r;
};

/* "tcp://host:port+delta" from "host:port" or "tcp://host:port". */
static int url_at(char *dst, size_t cap, const char *addr, int delta)
{
    const char *hp = strncmp(addr, "tcp://", 6) == 0 ? addr + 6 : addr;
    const char *colon = strrchr(hp, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port + delta > 65535)
        return TM_EINVAL;
    int n = snprintf(dst, cap, "tcp://%.*s:%ld", (int)(colon - hp), hp, port + delta);
    return n > 0 && (size_t)n < cap ? 0 : TM_EINVAL;
}

/* Every coordinator's URL, comma separated. */
static int coord_urls(const struct tm_node_config *c, char *dst, size_t cap)
{
    size_t len = 0;
    dst[0] = '\0';
    for (const char *p = c->coord; *p;) {
        size_t n = strcspn(p, ",");
        char one[URL_MAX], addr[URL_MAX];
        if (n == 0 || n >= sizeof addr)
            return TM_EINVAL;
        memcpy(addr, p, n);
        addr[n] = '\0';
        if (url_at(one, sizeof one, addr, 0) || len + strlen(one) + 2 > cap)
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
    tm_mpw_map(&w, 5);
    tm_mpw_cstr(&w, "id"), tm_mpw_uint(&w, c->id);
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

static int parse_member(struct tm_mpr *b, struct tm_raft_member *m, char *rpc, size_t cap)
{
    uint32_t n, kn;
    const char *k;
    if (tm_mpr_map(b, &n))
        return TM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (tm_mpr_str(b, &k, &kn))
            return TM_ECORRUPT;
        int rc = kn == 2 && memcmp(k, "id", 2) == 0 ? tm_mpr_uint(b, &m->id)
                 : kn == 4 && memcmp(k, "raft", 4) == 0
                     ? tm_mpr_str_copy(b, m->address, sizeof m->address)
                 : kn == 3 && memcmp(k, "rpc", 3) == 0 ? tm_mpr_str_copy(b, rpc, cap)
                                                       : tm_mpr_skip(b);
        if (rc)
            return TM_ECORRUPT;
    }
    return m->id && m->address[0] && rpc[0] ? 0 : TM_ECORRUPT;
}

/* One shard's group; its replicas' data role URLs into nd->shard_urls[s]. */
static int parse_group(struct node *nd, struct tm_mpr *b, int s)
{
    uint32_t n;
    struct tm_data_group *g = &nd->groups[s];
    if (tm_mpr_array(b, &n) || n == 0 || n > TM_DATA_MAX_REPLICAS)
        return TM_ECORRUPT;
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        char rpc[URL_MAX] = "", url[URL_MAX];
        int rc = parse_member(b, &g->members[i], rpc, sizeof rpc);
        if (!rc)
            rc = url_at(url, sizeof url, rpc, PORT_DATA);
        if (rc || len + strlen(url) + 2 > URLS_MAX)
            return TM_ECORRUPT;
        len +=
            (size_t)snprintf(nd->shard_urls[s] + len, URLS_MAX - len, "%s%s", len ? "," : "", url);
    }
    g->n = n;
    nd->shard_url_ptrs[s] = nd->shard_urls[s];
    return 0;
}

static int parse_placement(struct node *nd, struct tm_mpr b)
{
    struct tm_mpr m = b;
    uint64_t shards = 0;
    uint32_t n;
    if (tm_mpr_find(&m, "shards") || tm_mpr_uint(&m, &shards) || shards == 0 || shards > 64)
        return TM_ECORRUPT;
    m = b;
    if (tm_mpr_find(&m, "groups") || tm_mpr_array(&m, &n) || n != shards)
        return TM_ECORRUPT;
    for (int s = 0; s < (int)n; s++)
        if (parse_group(nd, &m, s))
            return TM_ECORRUPT;
    nd->shards = (int)n;
    return 0;
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

/* The roles and RPC base address of one registry entry. */
static void registry_entry(struct tm_mpr m, char *roles, size_t rcap, char *rpc, size_t pcap)
{
    uint32_t nk, kn;
    const char *k;
    if (tm_mpr_map(&m, &nk))
        return;
    for (uint32_t j = 0; j < nk && !m.err; j++) {
        tm_mpr_str(&m, &k, &kn);
        if (kn == 5 && memcmp(k, "roles", 5) == 0)
            tm_mpr_str_copy(&m, roles, rcap);
        else if (kn == 3 && memcmp(k, "rpc", 3) == 0)
            tm_mpr_str_copy(&m, rpc, pcap);
        else
            tm_mpr_skip(&m);
    }
}

/* The query role URLs of the query nodes in the coordinators' registry (up
 * or not: a client passes over one it cannot reach). How many, up to max. */
static int list_query_urls(struct node *nd, char urls[][URL_MAX], int max)
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
        struct tm_node_config probe = {0};
        char rpc[URL_MAX] = "";
        registry_entry(*b, probe.roles, sizeof probe.roles, rpc, sizeof rpc);
        tm_mpr_skip(b);
        if (tm_node_has_role(&probe, "query") && !url_at(urls[found], URL_MAX, rpc, PORT_QUERY))
            found++;
    }
    tm_rpc_reply_free(&rep);
    return found;
}

/* The query nodes the proxy starts with: those registered now (waits for
 * one). Later ones are added by the heartbeat (refresh_query_nodes). */
static int find_query_nodes(struct node *nd)
{
    for (int tries = 0; tries < 300 && !atomic_load(&nd->stopping); tries++) {
        nd->nquery = list_query_urls(nd, nd->query_urls, TM_PROXY_MAX_QUERY);
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

static void refresh_query_nodes(struct node *nd)
{
    char urls[TM_PROXY_MAX_QUERY][URL_MAX];
    int n = list_query_urls(nd, urls, TM_PROXY_MAX_QUERY);
    for (int i = 0; i < n; i++)
        tm_proxy_add_query(&nd->r.proxy, urls[i]);
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
    char wal[1100], seg[1100], url[URL_MAX];
    snprintf(wal, sizeof wal, "%s/wal", c->dir);
    snprintf(seg, sizeof seg, "%s/segments", c->dir);
    url_at(url, sizeof url, c->rpc, PORT_DATA);
    struct tm_sealer_config sc = {seg, coord_url, nd->shards};
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
                                      .shards = nd->shards,
                                      .index_dir = idx,
                                      .fetch_dir = fetched};
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
                                 .query_urls = nd->query_url_ptrs,
                                 .nquery = nd->nquery};
    if (!rc && !(rc = tm_proxy_init(&nd->r.proxy, &pc)))
        nd->r.proxy_up = true;
    char host[64];
    const char *colon = strrchr(nd->cfg->http, ':');
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - nd->cfg->http) : 0, nd->cfg->http);
    struct tm_http_config hc = {.host = host,
                                .port = colon ? atoi(colon + 1) : 0,
                                .max_body = 64u << 20,
                                .workers = 32,
                                .handler = tm_proxy_serve_http,
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
    if (coord_urls(c, coord_url, sizeof coord_url))
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
    tm_rpc_client_close(nd->coord);
    tm_roles_stop(&nd->r);
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
