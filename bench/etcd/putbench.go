// putbench measures what a durable, replicated write costs in etcd: the rate
// and latency of Put requests that each wait for etcd's acknowledgement (the
// entry committed on a majority, fsynced in each member's WAL and applied).
//
// N clients share M gRPC connections round-robin. Each client loops for S
// seconds: Put(random key from a key space of K, value of B bytes), then waits
// for the ack, each put with its own context timeout. Puts go to the leader:
// at start the program asks every endpoint for its status, finds the leader
// and dials only that member, so no put pays for a follower's forwarding.
// It prints one line:
//
//	puts/s X p50 Y ms p99 Z ms n N errors E
//
// puts/s and the percentiles count the successful puts only; E counts puts
// that failed or timed out. Build (GOPATH mode, Debian's clientv3 3.4):
//
//	GO111MODULE=off GOPATH=/tmp/etcd-anchor/gopath:/usr/share/gocode GOFLAGS= go build -o putbench putbench.go
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "putbench: "+format+"\n", args...)
	os.Exit(1)
}

// findLeader returns the endpoint whose member is the raft leader.
func findLeader(endpoints []string, timeout time.Duration) (string, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: timeout})
	if err != nil {
		return "", err
	}
	defer c.Close()
	var lastErr error
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		st, err := c.Status(ctx, ep)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if st.Header.MemberId == st.Leader {
			return ep, nil
		}
	}
	if lastErr != nil {
		return "", fmt.Errorf("no leader among %v: %v", endpoints, lastErr)
	}
	return "", fmt.Errorf("no leader among %v", endpoints)
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func main() {
	endpointsFlag := flag.String("endpoints", "127.0.0.1:2379", "comma-separated etcd client endpoints")
	clients := flag.Int("clients", 1, "concurrent clients, each with one put in flight")
	conns := flag.Int("conns", 1, "gRPC connections, shared by the clients round-robin")
	valueSize := flag.Int("value-size", 512, "value size in bytes")
	seconds := flag.Float64("seconds", 10, "duration of the load in seconds")
	keys := flag.Int("keys", 100000, "size of the key space that random keys are drawn from")
	timeout := flag.Duration("timeout", 5*time.Second, "context timeout of each put")
	flag.Parse()

	if *clients < 1 || *conns < 1 || *valueSize < 0 || *seconds <= 0 || *keys < 1 {
		fail("bad flags: need clients>=1 conns>=1 value-size>=0 seconds>0 keys>=1")
	}
	if *conns > *clients {
		*conns = *clients
	}
	var endpoints []string
	for _, ep := range strings.Split(*endpointsFlag, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			endpoints = append(endpoints, ep)
		}
	}
	if len(endpoints) == 0 {
		fail("no endpoints")
	}

	leader, err := findLeader(endpoints, 5*time.Second)
	if err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "putbench: leader %s; %d clients over %d conns, %d B values, %d keys, %.1f s\n",
		leader, *clients, *conns, *valueSize, *keys, *seconds)

	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{leader}, DialTimeout: 5 * time.Second})
		if err != nil {
			fail("dial %s: %v", leader, err)
		}
		defer c.Close()
		cs[i] = c
	}

	lat := make([][]time.Duration, *clients)
	errs := make([]int, *clients)
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			kv := cs[i%len(cs)]
			rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(i)*7919))
			buf := make([]byte, *valueSize)
			for j := range buf {
				buf[j] = byte('a' + rng.Intn(26))
			}
			value := string(buf)
			own := make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				key := fmt.Sprintf("putbench/%08d", rng.Intn(*keys))
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				_, err := kv.Put(ctx, key, value)
				cancel()
				if err != nil {
					errs[i]++
					continue
				}
				own = append(own, time.Since(t0))
			}
			lat[i] = own
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	nerr := 0
	for i := range lat {
		all = append(all, lat[i]...)
		nerr += errs[i]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	fmt.Printf("puts/s %.0f p50 %.2f ms p99 %.2f ms n %d errors %d\n",
		float64(len(all))/elapsed.Seconds(), percentile(all, 0.50), percentile(all, 0.99), len(all), nerr)
}
