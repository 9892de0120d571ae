/* `tidemark node` settings: flags, or a JSON file with the same keys
 * (docs/cluster.md). Flags given after --config win over the file. */
#include "node.h"
#include "registry.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_ID = 1,
    O_ROLES,
    O_DIR,
    O_COORD,
    O_COORD_RAFT,
    O_RPC,
    O_RAFT,
    O_HTTP,
    O_SHARDS,
    O_REPLICAS,
    O_ELECTION,
    O_SEAL_MB,
    O_SEAL_ROWS,
    O_SERVE_SHARDS,
    O_CONFIG,
    O_HELP
};

static const struct option g_opts[] = {{"id", required_argument, 0, O_ID},
                                       {"roles", required_argument, 0, O_ROLES},
                                       {"dir", required_argument, 0, O_DIR},
                                       {"coord", required_argument, 0, O_COORD},
                                       {"coord-raft", required_argument, 0, O_COORD_RAFT},
                                       {"rpc", required_argument, 0, O_RPC},
                                       {"raft", required_argument, 0, O_RAFT},
                                       {"http", required_argument, 0, O_HTTP},
                                       {"shards", required_argument, 0, O_SHARDS},
                                       {"replicas", required_argument, 0, O_REPLICAS},
                                       {"election-ms", required_argument, 0, O_ELECTION},
                                       {"seal-mb", required_argument, 0, O_SEAL_MB},
                                       {"seal-rows", required_argument, 0, O_SEAL_ROWS},
                                       {"serve-shards", required_argument, 0, O_SERVE_SHARDS},
                                       {"config", required_argument, 0, O_CONFIG},
                                       {"help", no_argument, 0, O_HELP},
                                       {0, 0, 0, 0}};

static int copy_str(char *dst, size_t cap, const char *v, const char *name)
{
    if (strlen(v) >= cap) {
        fprintf(stderr, "tidemark node: --%s is too long\n", name);
        return -1;
    }
    strcpy(dst, v);
    return 0;
}

static int to_int(const char *v, long lo, long hi, const char *name, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > hi) {
        fprintf(stderr, "tidemark node: --%s must be an integer in [%ld, %ld]\n", name, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* "0,2": shard numbers in [0, 64) as a bit set. */
static int to_shard_set(const char *v, const char *name, uint64_t *out)
{
    *out = 0;
    for (const char *p = v;; p++) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 63 || (*end && *end != ',')) {
            fprintf(stderr, "tidemark node: --%s must list shard numbers in [0, 63], as 0,1\n",
                    name);
            return -1;
        }
        *out |= 1ull << x;
        if (!*end)
            return 0;
        p = end;
    }
}

/* One setting by its option code, from a flag or from the file. */
static int set_opt(struct tm_node_config *c, int code, const char *v)
{
    long x = 0;
    const char *name = g_opts[code - 1].name;
    switch (code) {
    case O_ID:
        return to_int(v, 1, 1000000, name, &x) ? -1 : (c->id = (uint64_t)x, 0);
    case O_ROLES:
        return copy_str(c->roles, sizeof c->roles, v, name);
    case O_DIR:
        return copy_str(c->dir, sizeof c->dir, v, name);
    case O_COORD:
        return copy_str(c->coord, sizeof c->coord, v, name);
    case O_COORD_RAFT:
        return copy_str(c->coord_raft, sizeof c->coord_raft, v, name);
    case O_RPC:
        return copy_str(c->rpc, sizeof c->rpc, v, name);
    case O_RAFT:
        return copy_str(c->raft, sizeof c->raft, v, name);
    case O_HTTP:
        return copy_str(c->http, sizeof c->http, v, name);
    case O_SHARDS:
        return to_int(v, 1, 64, name, &x) ? -1 : (c->shards = (int)x, 0);
    case O_REPLICAS:
        return to_int(v, 1, 5, name, &x) ? -1 : (c->replicas = (int)x, 0);
    case O_ELECTION:
        return to_int(v, 200, 60000, name, &x) ? -1 : (c->election_ms = (unsigned)x, 0);
    case O_SEAL_MB:
        return to_int(v, 1, 65536, name, &x) ? -1 : (c->seal_mb = (int)x, 0);
    case O_SEAL_ROWS:
        return to_int(v, 1, 1000000000, name, &x) ? -1 : (c->seal_rows = (int)x, 0);
    case O_SERVE_SHARDS:
        return to_shard_set(v, name, &c->serve_shards);
    default:
        return -1;
    }
}

static int load_file(struct tm_node_config *c, const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(root)) {
        fprintf(stderr, "tidemark node: %s: %s (line %d)\n", path,
                root ? "not a JSON object" : err.text, err.line);
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        int code = 0;
        for (int i = 0; g_opts[i].name && !code; i++)
            code = strcmp(g_opts[i].name, key) == 0 ? g_opts[i].val : 0;
        char num[32];
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        }
        if (!code || code == O_CONFIG || code == O_HELP || !s) {
            fprintf(stderr, "tidemark node: %s: unknown key or bad value \"%s\"\n", path, key);
            rc = -1;
        } else if (set_opt(c, code, s)) {
            rc = -1;
        }
        if (rc)
            break;
    }
    json_decref(root);
    return rc;
}

static int check(const struct tm_node_config *c)
{
    const char *missing =
        !c->id         ? "--id"
        : !c->roles[0] ? "--roles"
        : !c->coord[0] ? "--coord"
        : !c->dir[0]   ? "--dir"
        : !c->rpc[0] && (tm_node_has_role(c, "coord") || tm_node_has_role(c, "data") ||
                         tm_node_has_role(c, "query"))
            ? "--rpc"
        : !c->raft[0] && tm_node_has_role(c, "data")        ? "--raft"
        : !c->coord_raft[0] && tm_node_has_role(c, "coord") ? "--coord-raft"
        : !c->http[0] && tm_node_has_role(c, "proxy")       ? "--http"
                                                            : NULL;
    if (missing)
        fprintf(stderr, "tidemark node: %s is required (tidemark node --help)\n", missing);
    return missing ? -1 : 0;
}

/* 0 to run, 1 when --help was printed, -1 on bad settings (printed). */
int tm_node_parse(struct tm_node_config *c, int argc, char **argv, const char *usage)
{
    memset(c, 0, sizeof *c);
    c->shards = 2;
    c->replicas = 3;
    int code;
    optind = 1;
    while ((code = getopt_long(argc, argv, "", g_opts, NULL)) != -1) {
        if (code == O_HELP) {
            fputs(usage, stdout);
            return 1;
        }
        int rc = code == '?'        ? -1
                 : code == O_CONFIG ? load_file(c, optarg)
                                    : set_opt(c, code, optarg);
        if (rc)
            return -1;
    }
    return check(c);
}

bool tm_node_has_role(const struct tm_node_config *c, const char *role)
{
    return tm_roles_has(c->roles, role);
}
