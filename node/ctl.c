/* `tidemark ctl`: asks a cluster's roles directly, for operators and for
 * the cluster tests. Every answer is printed as one JSON object per line.
 *
 *   tidemark ctl digest --data H:P[,H:P...] --shards N
 *       each data node's digest of each shard it holds (data_role.h "digest"):
 *       {"node": "H:P", "shard": s, "leading": bool, "n": .., "ts": .., "digest": ..}
 *   tidemark ctl nodes --coord H:P[,H:P...]
 *       the coordinators' registry: {"id": .., "roles": "..", "up": bool, ...}
 *   tidemark ctl call --to H:P TYPE [JSON body]
 *       any call: {"st": Milvus code, "msg": "..", "body": reply body}; exits 0
 *       when the call was answered, whatever its status (cluster/tmcluster
 *       makes its calls this way)
 *
 * --data takes data roles' addresses (a node's --rpc port + 1). */
#include "node.h"
#include "tm_rpc.h"

#include <getopt.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_ctl_main(int argc, char **argv);

static void print_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Prints one msgpack value as JSON (maps, arrays, strings, numbers, bools). */
static void print_value(struct tm_mpr *r)
{
    uint32_t n;
    const char *s;
    uint64_t u;
    int64_t i;
    bool b;
    struct tm_mpr probe = *r;
    if (tm_mpr_map(&probe, &n) == 0) {
        *r = probe;
        putchar('{');
        for (uint32_t k = 0; k < n; k++) {
            printf(k ? ", " : "");
            print_value(r);
            printf(": ");
            print_value(r);
        }
        putchar('}');
    } else if ((probe = *r), tm_mpr_array(&probe, &n) == 0) {
        *r = probe;
        putchar('[');
        for (uint32_t k = 0; k < n; k++) {
            printf(k ? ", " : "");
            print_value(r);
        }
        putchar(']');
    } else if ((probe = *r), tm_mpr_str(&probe, &s, &n) == 0) {
        *r = probe;
        print_str(s, n);
    } else if ((probe = *r), tm_mpr_uint(&probe, &u) == 0) {
        *r = probe;
        printf("%" PRIu64, u);
    } else if ((probe = *r), tm_mpr_int(&probe, &i) == 0) {
        *r = probe;
        printf("%" PRId64, i);
    } else if ((probe = *r), tm_mpr_bool(&probe, &b) == 0) {
        *r = probe;
        printf(b ? "true" : "false");
    } else {
        tm_mpr_skip(r);
        printf("null");
    }
}

/* One call to the role at addrs (a list: the first that answers). */
static int ctl_rpc(const char *addrs, const char *type, const struct tm_mpw *body,
                   struct tm_rpc_reply *rep, struct tm_status *st)
{
    char url[1024];
    struct tm_rpc_client *c;
    int rc = tm_node_urls(addrs, 0, url, sizeof url);
    if (!rc)
        rc = tm_rpc_client_open(&c, url);
    if (rc)
        return tm_status_set(st, TM_MV_INTERNAL, "cannot reach %s", addrs), rc;
    rc =
        tm_rpc_call(c, type, body ? body->buf.data : NULL, body ? body->buf.len : 0, 3000, rep, st);
    tm_rpc_client_close(c);
    return rc;
}

static int call_print(const char *addrs, const char *type, const struct tm_mpw *body,
                      const char *prefix, const char *suffix)
{
    struct tm_rpc_reply rep;
    struct tm_status st;
    int rc = ctl_rpc(addrs, type, body, &rep, &st);
    if (rc == 0) {
        printf("%s", prefix);
        print_value(&rep.body);
        printf("%s\n", suffix);
        tm_rpc_reply_free(&rep);
    } else {
        printf("%s{\"error\": %d, \"message\": ", prefix, st.code);
        print_str(st.msg, strlen(st.msg));
        printf("}%s\n", suffix);
    }
    return rc ? 1 : 0;
}

/* A JSON value as msgpack (objects, arrays, strings, integers, reals,
 * booleans, null). */
static void json_to_mp(const json_t *v, struct tm_mpw *w)
{
    const char *key;
    json_t *item;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        tm_mpw_map(w, (uint32_t)json_object_size(v));
        json_object_foreach((json_t *)v, key, item)
        {
            tm_mpw_cstr(w, key);
            json_to_mp(item, w);
        }
        break;
    case JSON_ARRAY:
        tm_mpw_array(w, (uint32_t)json_array_size(v));
        json_array_foreach(v, i, item) json_to_mp(item, w);
        break;
    case JSON_STRING:
        tm_mpw_str(w, json_string_value(v), (uint32_t)json_string_length(v));
        break;
    case JSON_INTEGER:
        tm_mpw_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        tm_mpw_double(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        tm_mpw_bool(w, json_is_true(v));
        break;
    default:
        tm_mpw_nil(w);
    }
}

static int ctl_call(const char *to, const char *type, const char *body_json)
{
    struct tm_mpw w;
    tm_mpw_init(&w);
    if (body_json) {
        json_error_t err;
        json_t *v = json_loads(body_json, JSON_DECODE_ANY, &err);
        if (!v) {
            fprintf(stderr, "tidemark ctl: bad JSON body: %s\n", err.text);
            return 2;
        }
        json_to_mp(v, &w);
        json_decref(v);
    }
    struct tm_rpc_reply rep;
    struct tm_status st;
    int rc = ctl_rpc(to, type, body_json ? &w : NULL, &rep, &st);
    tm_mpw_free(&w);
    printf("{\"st\": %d, \"msg\": ", st.code);
    print_str(st.msg, strlen(st.msg));
    printf(", \"body\": ");
    if (rc == 0) {
        print_value(&rep.body);
        tm_rpc_reply_free(&rep);
    } else {
        printf("null");
    }
    printf("}\n");
    return rc == 0 || rc == TM_ESTATUS ? 0 : 1;
}

static int ctl_digest(const char *nodes, int shards)
{
    int failed = 0;
    for (const char *p = nodes; *p;) {
        size_t len = strcspn(p, ",");
        char addr[100], prefix[200];
        snprintf(addr, sizeof addr, "%.*s", (int)len, p);
        for (int s = 0; s < shards; s++) {
            struct tm_mpw w;
            tm_mpw_init(&w);
            tm_mpw_map(&w, 1);
            tm_mpw_cstr(&w, "shard"), tm_mpw_int(&w, s);
            snprintf(prefix, sizeof prefix, "{\"node\": \"%s\", \"shard\": %d, \"reply\": ", addr,
                     s);
            failed |= call_print(addr, "digest", &w, prefix, "}");
            fflush(stdout);
            tm_mpw_free(&w);
        }
        p += len + (p[len] == ',');
    }
    return failed;
}

int tm_ctl_main(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"to", required_argument, 0, 't'},
                                         {"coord", required_argument, 0, 'c'},
                                         {"shards", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *coord = NULL, *to = NULL;
    int shards = 1, c;
    if (argc < 2) {
        fputs("usage: tidemark ctl digest --data H:P[,...] --shards N\n"
              "       tidemark ctl nodes --coord H:P[,...]\n"
              "       tidemark ctl call --to H:P TYPE [JSON body]\n",
              stderr);
        return 2;
    }
    const char *what = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'c')
            coord = optarg;
        else if (c == 's')
            shards = atoi(optarg);
        else if (c == 't')
            to = optarg;
        else
            return 2;
    }
    if (strcmp(what, "digest") == 0 && data && shards > 0 && shards <= 64)
        return ctl_digest(data, shards);
    int rest = argc - 1 - optind; /* operands after the options */
    if (strcmp(what, "call") == 0 && to && (rest == 1 || rest == 2))
        return ctl_call(to, argv[1 + optind], rest == 2 ? argv[2 + optind] : NULL);
    if (strcmp(what, "nodes") == 0 && coord)
        return call_print(coord, "nodes", NULL, "", "");
    fputs("tidemark ctl: bad arguments (tidemark ctl with no arguments for usage)\n", stderr);
    return 2;
}
