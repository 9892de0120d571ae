/* Shard placement: the decision rule and the msgpack form (placement.h). */
#include "placement.h"
#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

int tm_addr_port_add(const char *base, uint32_t s, char *dst, size_t cap)
{
    const char *colon = strrchr(base, ':');
    if (!colon || colon == base || !colon[1] || strlen(colon + 1) > 5)
        return TM_EINVAL;
    unsigned long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return TM_EINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port + s > 65535)
        return TM_EINVAL;
    int n = snprintf(dst, cap, "%.*s:%lu", (int)(colon - base), base, port + s);
    return n < 0 || (size_t)n >= cap ? TM_EINVAL : 0;
}

static int node_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct tm_placement_node *)a)->id;
    uint64_t y = ((const struct tm_placement_node *)b)->id;
    return (x > y) - (x < y);
}

/* Fills shard s's group from the sorted nodes: replicas of them from s mod n. */
static int group_fill(struct tm_placement *p, uint32_t s, const struct tm_placement_node *sorted,
                      size_t n)
{
    struct tm_placement_member *m = &p->members[(size_t)s * p->replicas];
    for (uint32_t k = 0; k < p->replicas; k++) {
        const struct tm_placement_node *node = &sorted[(s + k) % n];
        m[k].id = node->id;
        snprintf(m[k].rpc, sizeof m[k].rpc, "%s", node->rpc);
        int rc = tm_addr_port_add(node->raft, s, m[k].raft, sizeof m[k].raft);
        if (rc)
            return rc;
    }
    return 0;
}

int tm_placement_decide(const struct tm_placement_node *nodes, size_t n, uint32_t shards,
                        uint32_t replicas, struct tm_placement *out)
{
    if (shards == 0 || shards > TM_PLACEMENT_MAX_SHARDS || replicas == 0 ||
        replicas > TM_PLACEMENT_MAX_REPLICAS)
        return TM_EINVAL;
    if (n < replicas)
        return 1;
    /* Sorted by id so that the decision does not depend on the order in
     * which nodes happened to register. */
    struct tm_placement_node *sorted = malloc(n * sizeof *sorted);
    struct tm_placement p = {shards, replicas,
                             calloc((size_t)shards * replicas, sizeof *p.members)};
    int rc = sorted && p.members ? 0 : TM_ENOMEM;
    if (!rc) {
        memcpy(sorted, nodes, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, node_cmp);
    }
    for (uint32_t s = 0; s < shards && !rc; s++)
        rc = group_fill(&p, s, sorted, n);
    free(sorted);
    if (rc) {
        tm_placement_free(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void tm_placement_free(struct tm_placement *p)
{
    free(p->members);
    memset(p, 0, sizeof *p);
}

void tm_placement_encode(struct tm_mpw *w, const struct tm_placement *p)
{
    tm_mpw_map(w, 2);
    tm_mpw_cstr(w, "shards"), tm_mpw_uint(w, p->shards);
    tm_mpw_cstr(w, "groups"), tm_mpw_array(w, p->shards);
    for (uint32_t s = 0; s < p->shards; s++) {
        const struct tm_placement_member *m = tm_placement_group(p, s);
        tm_mpw_array(w, p->replicas);
        for (uint32_t k = 0; k < p->replicas; k++) {
            tm_mpw_map(w, 3);
            tm_mpw_cstr(w, "id"), tm_mpw_uint(w, m[k].id);
            tm_mpw_cstr(w, "raft"), tm_mpw_cstr(w, m[k].raft);
            tm_mpw_cstr(w, "rpc"), tm_mpw_cstr(w, m[k].rpc);
        }
    }
}

static int str_decode(struct tm_mpr *r, char *dst, size_t cap)
{
    int rc = tm_mpr_str_copy(r, dst, cap);
    return rc == TM_ETOOBIG ? TM_ECORRUPT : rc;
}

static int member_decode(struct tm_mpr *r, struct tm_placement_member *m)
{
    uint32_t n, kn;
    const char *k;
    int rc = tm_mpr_map(r, &n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        if ((rc = tm_mpr_str(r, &k, &kn)))
            break;
        if (KEY_IS(k, kn, "id"))
            rc = tm_mpr_uint(r, &m->id);
        else if (KEY_IS(k, kn, "raft"))
            rc = str_decode(r, m->raft, sizeof m->raft);
        else if (KEY_IS(k, kn, "rpc"))
            rc = str_decode(r, m->rpc, sizeof m->rpc);
        else
            rc = tm_mpr_skip(r);
    }
    return rc ? rc : m->id && m->raft[0] && m->rpc[0] ? 0 : TM_ECORRUPT;
}

/* Reads the groups; the first one fixes the replica count, and every other
 * group must have as many members. *ngroups_out is the number read. */
static int groups_decode(struct tm_mpr *r, struct tm_placement *p, uint32_t *ngroups_out)
{
    uint32_t ng, nm;
    int rc = tm_mpr_array(r, &ng);
    if (rc || ng > TM_PLACEMENT_MAX_SHARDS || p->members)
        return rc ? rc : TM_ECORRUPT;
    for (uint32_t g = 0; g < ng; g++) {
        if ((rc = tm_mpr_array(r, &nm)))
            return rc;
        if (g == 0 && nm > 0 && nm <= TM_PLACEMENT_MAX_REPLICAS) {
            p->replicas = nm;
            p->members = calloc((size_t)ng * nm, sizeof *p->members);
            if (!p->members)
                return TM_ENOMEM;
        }
        if (nm == 0 || nm != p->replicas)
            return TM_ECORRUPT;
        for (uint32_t k = 0; k < nm; k++)
            if ((rc = member_decode(r, &p->members[(size_t)g * nm + k])))
                return rc;
    }
    *ngroups_out = ng;
    return 0;
}

int tm_placement_decode(struct tm_mpr *r, struct tm_placement *p)
{
    uint32_t n, kn, ngroups = 0;
    uint64_t shards = 0;
    const char *k;
    memset(p, 0, sizeof *p);
    int rc = tm_mpr_map(r, &n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        if ((rc = tm_mpr_str(r, &k, &kn)))
            break;
        if (KEY_IS(k, kn, "shards"))
            rc = tm_mpr_uint(r, &shards);
        else if (KEY_IS(k, kn, "groups"))
            rc = groups_decode(r, p, &ngroups);
        else
            rc = tm_mpr_skip(r);
    }
    /* The count is written twice (shards and the groups): they must agree. */
    if (!rc && shards != ngroups)
        rc = TM_ECORRUPT;
    if (rc)
        tm_placement_free(p);
    else
        p->shards = ngroups;
    return rc;
}
