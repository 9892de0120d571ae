/* The node registry (rules in registry.h). */
#include "registry.h"
#include "tm_err.h"

#include <string.h>

void tm_registry_init(struct tm_registry *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

void tm_registry_destroy(struct tm_registry *r)
{
    pthread_mutex_destroy(&r->mu);
}

void tm_registry_clear(struct tm_registry *r)
{
    pthread_mutex_lock(&r->mu);
    r->n = 0;
    pthread_mutex_unlock(&r->mu);
}

int tm_registry_put(struct tm_registry *r, const struct tm_node *node, uint64_t now_ms)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    size_t i = 0;
    while (i < r->n && r->nodes[i].id != node->id)
        i++;
    if (i == TM_REGISTRY_MAX) {
        rc = TM_ETOOBIG;
    } else {
        r->nodes[i] = *node;
        r->nodes[i].seen_ms = now_ms;
        r->n += i == r->n;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static uint64_t age_of(const struct tm_node *node, uint64_t now_ms)
{
    return now_ms > node->seen_ms ? now_ms - node->seen_ms : 0;
}

void tm_registry_encode(struct tm_registry *r, struct tm_mpw *w, uint64_t now_ms)
{
    pthread_mutex_lock(&r->mu);
    tm_mpw_array(w, (uint32_t)r->n);
    for (size_t i = 0; i < r->n; i++) {
        const struct tm_node *node = &r->nodes[i];
        uint64_t age = age_of(node, now_ms);
        tm_mpw_map(w, 8);
        tm_mpw_cstr(w, "id"), tm_mpw_uint(w, node->id);
        tm_mpw_cstr(w, "roles"), tm_mpw_cstr(w, node->roles);
        tm_mpw_cstr(w, "rpc"), tm_mpw_cstr(w, node->rpc);
        tm_mpw_cstr(w, "raft"), tm_mpw_cstr(w, node->raft);
        tm_mpw_cstr(w, "http"), tm_mpw_cstr(w, node->http);
        tm_mpw_cstr(w, "up"), tm_mpw_bool(w, age < TM_NODE_DOWN_MS);
        tm_mpw_cstr(w, "age_ms"), tm_mpw_uint(w, age);
        tm_mpw_cstr(w, "serves"), tm_mpw_uint(w, node->serves);
    }
    pthread_mutex_unlock(&r->mu);
}

size_t tm_registry_data_nodes(struct tm_registry *r, uint64_t now_ms, struct tm_placement_node *out,
                              size_t cap)
{
    size_t k = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && k < cap; i++) {
        const struct tm_node *node = &r->nodes[i];
        if (age_of(node, now_ms) >= TM_NODE_DOWN_MS || !tm_roles_has(node->roles, "data"))
            continue;
        out[k].id = node->id;
        memcpy(out[k].raft, node->raft, sizeof out[k].raft);
        memcpy(out[k].rpc, node->rpc, sizeof out[k].rpc);
        k++;
    }
    pthread_mutex_unlock(&r->mu);
    return k;
}

bool tm_roles_has(const char *roles, const char *role)
{
    size_t n = strlen(role);
    for (const char *p = roles; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, role, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* The string at key into dst; "" when absent. 0, or TM_EINVAL when present
 * but not a string that fits. */
static int key_str(struct tm_mpr body, const char *key, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (tm_mpr_find(&body, key))
        return 0;
    return tm_mpr_str_copy(&body, dst, cap) ? TM_EINVAL : 0;
}

int tm_node_decode(const struct tm_mpr *r, struct tm_node *node, struct tm_status *st)
{
    static const char *keys[] = {"roles", "rpc", "raft", "http"};
    memset(node, 0, sizeof *node);
    char *dsts[] = {node->roles, node->rpc, node->raft, node->http};
    size_t caps[] = {sizeof node->roles, sizeof node->rpc, sizeof node->raft, sizeof node->http};
    int64_t id = tm_mpr_key_int(*r, "id", 0);
    if (id <= 0)
        return tm_status_set(st, TM_MV_INVALID_PARAM, "register: id must be a positive integer");
    node->id = (uint64_t)id;
    struct tm_mpr serves = *r;
    if (!tm_mpr_find(&serves, "serves") && tm_mpr_uint(&serves, &node->serves))
        return tm_status_set(st, TM_MV_INVALID_PARAM,
                             "register: serves must be an unsigned integer");
    for (size_t i = 0; i < 4; i++)
        if (key_str(*r, keys[i], dsts[i], caps[i]))
            return tm_status_set(st, TM_MV_INVALID_PARAM,
                                 "register: %s must be a string of at most %zu bytes", keys[i],
                                 caps[i] - 1);
    /* A data node's Raft address is the base of its shards' ports: the
     * placement needs host:port with a numeric port. */
    char probe[TM_ADDR_MAX];
    if (tm_roles_has(node->roles, "data") &&
        (!node->rpc[0] || tm_addr_port_add(node->raft, 0, probe, sizeof probe)))
        return tm_status_set(st, TM_MV_INVALID_PARAM,
                             "register: node %llu has the data role: it needs rpc, and raft "
                             "as host:port",
                             (unsigned long long)node->id);
    return 0;
}
