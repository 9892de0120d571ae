/* tidemark: one binary for every role and tool. */
#include "heap.h"
#include "node.h"
#include "serve.h"
#include "tm_log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_bench_main(int argc, char **argv);
int tm_ctl_main(int argc, char **argv);

static const char g_usage[] =
    "usage: tidemark <command> [options]\n"
    "\n"
    "Tidemark is a log-structured vector database that speaks the Milvus RESTful API v2.\n"
    "\n"
    "commands:\n"
    "  serve     run the standalone server: coordinator, data, query and proxy roles in\n"
    "            one process; REST on --host:--port, data under --data-dir\n"
    "  node      run some roles of a cluster (`tidemark node --help`)\n"
    "  ctl       ask a cluster's roles: replica digests, registered nodes (`tidemark ctl`)\n"
    "  bench     insert and upsert benchmarks against a running server\n"
    "            (`tidemark bench --help`)\n"
    "  version   print the version\n"
    "\n"
    "serve options:\n"
    "  --host ADDR        listen address (default 127.0.0.1)\n"
    "  --port N           REST port, 0 for any free port (default 19530)\n"
    "  --data-dir DIR     where the logs and catalog live (default ./tidemark-data)\n"
    "  --shards N         WAL shards, each its own Raft group (default 1)\n"
    "  --max-body-mb N    largest request body accepted (default 64)\n"
    "  --http-workers N   threads running REST handlers (default 32)\n"
    "  --seal-mb N        seal a shard's growing data into segments after N MiB\n"
    "                     of entries (default 64)\n"
    "  --seal-rows N      ... or after N rows inserted, upserted or merged, whichever\n"
    "                     comes first (default 1000000)\n"
    "\n"
    "Stop the server with SIGINT (Ctrl-C) or SIGTERM; every acknowledged write is durable\n"
    "before it is acknowledged, so even kill -9 loses nothing that was acknowledged.\n";

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "tidemark: %s must be an integer in [%d, %d]\n", what, lo, hi);
        exit(2);
    }
    return (int)v;
}

static int serve(int argc, char **argv)
{
    static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                         {"port", required_argument, 0, 'p'},
                                         {"data-dir", required_argument, 0, 'd'},
                                         {"shards", required_argument, 0, 's'},
                                         {"max-body-mb", required_argument, 0, 'm'},
                                         {"http-workers", required_argument, 0, 'w'},
                                         {"seal-mb", required_argument, 0, 'S'},
                                         {"seal-rows", required_argument, 0, 'R'},
                                         {"help", no_argument, 0, '?'},
                                         {0, 0, 0, 0}};
    /* seal_rows 0: the data role's default (TM_DATA_SEAL_ROWS_DEFAULT). */
    struct tm_serve_config cfg = {"127.0.0.1", 19530, "./tidemark-data", 1, 64u << 20, 32, 64, 0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cfg.host = optarg;
            break;
        case 'p':
            cfg.port = parse_int(optarg, 0, 65535, "--port");
            break;
        case 'd':
            cfg.data_dir = optarg;
            break;
        case 's':
            cfg.shards = parse_int(optarg, 1, 64, "--shards");
            break;
        case 'm':
            cfg.max_body = (size_t)parse_int(optarg, 1, 1024, "--max-body-mb") << 20;
            break;
        case 'w':
            cfg.http_workers = parse_int(optarg, 1, 256, "--http-workers");
            break;
        case 'S':
            cfg.seal_mb = parse_int(optarg, 1, 65536, "--seal-mb");
            break;
        case 'R':
            cfg.seal_rows = parse_int(optarg, 1, 1000000000, "--seal-rows");
            break;
        default:
            fputs(g_usage, c == '?' && optopt == 0 ? stdout : stderr);
            return c == '?' && optopt == 0 ? 0 : 2;
        }
    }
    return tm_serve_main(&cfg);
}

static const char g_node_usage[] =
    "usage: tidemark node --id N --roles coord,data,query,proxy --dir DIR --coord H:P[,H:P...]\n"
    "                     [--coord-raft H:P[,...]] [--rpc H:P] [--raft H:P] [--http H:P]\n"
    "                     [--shards N] [--replicas R] [--election-ms MS] [--seal-mb N]\n"
    "                     [--seal-rows N] [--serve-shards S,S...] [--config FILE]\n"
    "\n"
    "Runs some roles of a cluster (docs/cluster.md); cluster/tmcluster starts a local one.\n"
    "  --id           this node's id, unique in the cluster\n"
    "  --roles        the roles it runs, comma separated\n"
    "  --dir          its state directory\n"
    "  --coord        every coordinator's RPC address, the same list on every node\n"
    "  --coord-raft   every coordinator's Raft address, same order (coordinators)\n"
    "  --rpc          RPC base address: coordinator on its port, data +1, query +2,\n"
    "                 the data role's log stream +3, its direct calls +4\n"
    "  --raft         the data role's Raft base address: WAL shard s on port + s\n"
    "  --http         the proxy's REST address\n"
    "  --shards, --replicas   WAL shards and replicas per shard (coordinators; 2 and 3)\n"
    "  --election-ms  Raft election timeout (default 1000)\n"
    "  --seal-mb, --seal-rows   a WAL shard's seal triggers, as for serve (data role)\n"
    "  --serve-shards  the WAL shards the query role tails and answers for (default\n"
    "                 all); the proxy sends each read to nodes that serve every shard\n"
    "  --config       a JSON object with the same keys; later settings win\n";

static int node(int argc, char **argv)
{
    static struct tm_node_config cfg;
    int rc = tm_node_parse(&cfg, argc, argv, g_node_usage);
    return rc < 0 ? 2 : rc == 1 ? 0 : tm_node_main(&cfg);
}

int main(int argc, char **argv)
{
    tm_heap_setup(argv,
                  argc >= 2 && (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "node") == 0));
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(g_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0)
        return tm_bench_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "node") == 0)
        return node(argc - 1, argv + 1);
    if (strcmp(argv[1], "ctl") == 0)
        return tm_ctl_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("tidemark %s\n", TM_VERSION);
        return 0;
    }
    fprintf(stderr, "tidemark: unknown command '%s'\n\n%s", argv[1], g_usage);
    return 2;
}
