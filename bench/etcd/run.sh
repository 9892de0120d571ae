#!/usr/bin/env bash
# etcd reference benchmark ("anchor"): a 3-member etcd cluster on 127.0.0.1
# and putbench against it, from Debian 12 packages only (see README.md).
#
#   run.sh build [DIR]                   build putbench into DIR/putbench
#                                        (default /tmp/etcd-anchor/putbench)
#   run.sh up DIR BASEPORT               start 3 members: client ports BASEPORT..+2,
#                                        peer ports BASEPORT+10..+12, data DIR/etcd-N.data,
#                                        logs DIR/etcd-N.log, PIDs DIR/etcd-N.pid
#   run.sh down DIR                      stop them by their PIDs (TERM, KILL after 10 s)
#   run.sh bench DIR BASEPORT [ARGS...]  run putbench against the 3 endpoints;
#                                        ARGS go to putbench (--clients, --conns, ...)
#
# putbench is looked for in $PUTBENCH, then DIR/putbench, then /tmp/etcd-anchor/putbench.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_BIN=/tmp/etcd-anchor/putbench
ETCD=${ETCD:-etcd}
ETCDCTL=${ETCDCTL:-etcdctl}

die() { echo "run.sh: $*" >&2; exit 1; }

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

endpoints() { # BASEPORT -> comma list of client endpoints
    local b=$1
    echo "127.0.0.1:$b,127.0.0.1:$((b + 1)),127.0.0.1:$((b + 2))"
}

check_port() {
    [[ $1 =~ ^[0-9]+$ ]] || die "BASEPORT must be a number"
    (($1 >= 1024 && $1 + 12 < 32768)) || die "BASEPORT must be in 1024..32755 (ports stay below 32768)"
}

# is_etcd PID: the PID is alive and is an etcd member that run.sh started
# (its command line, under nohup or after nohup's exec); guards against PID reuse.
is_etcd() {
    local cl
    cl=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
    [[ $cl == *"--initial-cluster-token etcd-anchor-"* ]]
}

cmd_build() {
    local dir=${1:-}
    local out=$DEFAULT_BIN
    [[ -n $dir ]] && out=$dir/putbench
    mkdir -p "$(dirname "$out")" /tmp/etcd-anchor/gopath
    [[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]] ||
        die "Debian's clientv3 is missing: apt-get install golang-etcd-server-dev"
    (cd "$HERE" &&
        GO111MODULE=off GOPATH=/tmp/etcd-anchor/gopath:/usr/share/gocode GOFLAGS='' \
            GOCACHE=${GOCACHE:-/tmp/etcd-anchor/gocache} \
            go build -o "$out" putbench.go)
    echo "built $out"
}

cmd_up() {
    [[ $# -eq 2 ]] || usage
    local dir=$1 base=$2
    check_port "$base"
    command -v "$ETCD" >/dev/null || die "etcd not found: apt-get install etcd-server"
    command -v "$ETCDCTL" >/dev/null || die "etcdctl not found: apt-get install etcd-client"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)

    local cluster="" n
    for n in 1 2 3; do
        cluster+="${cluster:+,}etcd-$n=http://127.0.0.1:$((base + 9 + n))"
    done

    for n in 1 2 3; do
        local pidf=$dir/etcd-$n.pid
        if [[ -f $pidf ]] && is_etcd "$(cat "$pidf")"; then
            die "etcd-$n already runs (PID $(cat "$pidf")); run.sh down $dir first"
        fi
        local cport=$((base + n - 1)) pport=$((base + 9 + n))
        # Default etcd settings (heartbeat 100 ms, election 1000 ms, snapshot count)
        # apart from addresses, a large backend quota and a quieter log.
        nohup "$ETCD" \
            --name "etcd-$n" \
            --data-dir "$dir/etcd-$n.data" \
            --listen-client-urls "http://127.0.0.1:$cport" \
            --advertise-client-urls "http://127.0.0.1:$cport" \
            --listen-peer-urls "http://127.0.0.1:$pport" \
            --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
            --initial-cluster "$cluster" \
            --initial-cluster-token "etcd-anchor-$base" \
            --initial-cluster-state new \
            --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
            --logger zap --log-level warn \
            >"$dir/etcd-$n.log" 2>&1 </dev/null &
        echo $! >"$pidf"
    done

    local eps i
    eps=$(endpoints "$base")
    for ((i = 0; i < 60; i++)); do
        for n in 1 2 3; do
            is_etcd "$(cat "$dir/etcd-$n.pid")" ||
                { tail -n 20 "$dir/etcd-$n.log" >&2; die "etcd-$n exited; log $dir/etcd-$n.log"; }
        done
        if "$ETCDCTL" --endpoints="$eps" --dial-timeout=1s --command-timeout=2s \
            endpoint health >/dev/null 2>&1; then
            "$ETCDCTL" --endpoints="$eps" endpoint status -w table
            echo "up: 3 members, endpoints $eps, data under $dir"
            return 0
        fi
        sleep 0.5
    done
    "$ETCDCTL" --endpoints="$eps" endpoint health >&2 || true
    die "cluster not healthy after 30 s; logs $dir/etcd-N.log (run.sh down $dir to stop)"
}

# Members are stopped one at a time: a leader that gets SIGTERM hands its
# leadership to a live follower first, which waits out a timeout (about 7 s)
# when all members are stopped at once.
cmd_down() {
    [[ $# -eq 1 ]] || usage
    local dir=$1 n pid i stopped=0 killed=0
    for n in 1 2 3; do
        local pidf=$dir/etcd-$n.pid
        [[ -f $pidf ]] || continue
        pid=$(cat "$pidf")
        if is_etcd "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                is_etcd "$pid" || break
                sleep 0.1
            done
            if is_etcd "$pid"; then
                echo "run.sh: etcd-$n (PID $pid) ignored SIGTERM for 10 s, sending SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null || true
                killed=$((killed + 1))
            fi
            stopped=$((stopped + 1))
        fi
        rm -f "$pidf"
    done
    echo "down: stopped $stopped member(s) ($killed killed)"
}

cmd_bench() {
    [[ $# -ge 2 ]] || usage
    local dir=$1 base=$2
    shift 2
    check_port "$base"
    local bin=${PUTBENCH:-}
    if [[ -z $bin ]]; then
        if [[ -x $dir/putbench ]]; then bin=$dir/putbench; else bin=$DEFAULT_BIN; fi
    fi
    [[ -x $bin ]] || die "no putbench at $bin: run.sh build first"
    "$bin" --endpoints "$(endpoints "$base")" "$@"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
build) cmd_build "$@" ;;
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
bench) cmd_bench "$@" ;;
*) usage ;;
esac
