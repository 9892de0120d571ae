#!/bin/bash
# vs-etcd.sh ROUNDS BASEPORT TIDEMARK_BIN
#
# Rounds of: a 3-member etcd (bench/etcd/run.sh: 512 B puts from 100
# clients, 3 KB puts from 1), then a fresh split Tidemark cluster (7
# processes) and a fresh converged one (tmcluster up --converged 3), each
# with single-row upserts: 128-d from 100 clients, 768-d from 1 (and, on the
# converged one, 100 clients spread over its three proxies). Every cluster
# is fresh and taken down after its loads; ports BASEPORT + 300 * round
# upwards, in steps of 100. Needs bench/etcd/run.sh build first.
set -euo pipefail
rounds=$1 port=$2 bin=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
etcd=$here/../etcd/run.sh tmc=$here/../../cluster/tmcluster
work=$(mktemp -d /tmp/tm-vs-etcd-XXXXXX)
trap 'for d in "$work"/t*; do [[ -e $d/cluster.json ]] && "$tmc" down --dir "$d" >/dev/null 2>&1; done; "$etcd" down "$work/etcd" >/dev/null 2>&1 || true' EXIT

upsert() { # REST_PORTS ARGS -> "N requests/s, latency p50 .. ms p99 .. ms"
    "$bin" bench upsert --port "$1" --seconds 10 "${@:2}" 2>&1 |
        grep -o '[0-9]* requests/s, latency p50 [0-9.]* ms p99 [0-9.]* ms' || echo failed
}

for round in $(seq 1 "$rounds"); do
    base=$((port + 300 * (round - 1)))
    rm -rf "$work/etcd"
    "$etcd" up "$work/etcd" "$base" > /dev/null
    sleep 2
    echo "round $round etcd 512 B, 100 clients: $("$etcd" bench "$work/etcd" "$base" --clients 100 --conns 10 --value-size 512 --seconds 10 2>&1 | tail -1)"
    echo "round $round etcd 3 KB, 1 client:     $("$etcd" bench "$work/etcd" "$base" --clients 1 --conns 1 --value-size 3072 --seconds 10 2>&1 | tail -1)"
    "$etcd" down "$work/etcd" > /dev/null
    for layout in split converged; do
        base=$((base + 100))
        d=$work/t$round-$layout
        args=(); [[ $layout == converged ]] && args=(--converged 3)
        "$tmc" up --dir "$d" --base-port "$base" --bin "$bin" "${args[@]}" > /dev/null
        ports=$(python3 -c "import json,sys; print(','.join(u.rsplit(':', 1)[1] for u in json.load(open(sys.argv[1]))['rest_urls']))" "$d/cluster.json")
        echo "round $round $layout 128-d, 100 clients: $(upsert "${ports%%,*}" --dim 128 --clients 100)"
        echo "round $round $layout 768-d, 1 client:    $(upsert "${ports%%,*}" --dim 768 --clients 1)"
        [[ $layout == converged ]] &&
            echo "round $round $layout 128-d, 100 clients over every proxy: $(upsert "$ports" --dim 128 --clients 100)"
        "$tmc" down --dir "$d" > /dev/null
    done
done
