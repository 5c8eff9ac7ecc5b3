// Command benchproxy is the Go helper of hack/bench-proxy.sh: a 20-byte upstream HTTP server and a
// fixed-rate load generator built on the fortio library (so nothing but apt packages is installed).
//
//	benchproxy upstream 127.0.0.1:19080
//	benchproxy load http://127.0.0.1:19001/ 2000 16 15s   # prints one JSON line
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/log"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: benchproxy upstream ADDR | benchproxy load URL QPS CONNS DURATION")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstream(os.Args[2])
	case "load":
		if len(os.Args) != 6 {
			err = fmt.Errorf("load needs URL QPS CONNS DURATION")
			break
		}
		err = load(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Stdout)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchproxy:", err)
		os.Exit(1)
	}
}

func upstream(addr string) error {
	body := []byte("01234567890123456789")
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(body)
	}))
}

// Result is one fixed-rate run.
type Result struct {
	QPS    float64 `json:"qps"`
	Count  int64   `json:"count"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p999_ms"`
}

func load(url, qps, conns, dur string, out io.Writer) error {
	q, err := strconv.ParseFloat(qps, 64)
	if err != nil {
		return fmt.Errorf("qps: %w", err)
	}
	c, err := strconv.Atoi(conns)
	if err != nil {
		return fmt.Errorf("conns: %w", err)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	log.SetLogLevel(log.Error)
	o := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{QPS: q, NumThreads: c, Duration: d, Resolution: 0.0001,
			Percentiles: []float64{50, 99, 99.9}, Out: io.Discard},
		HTTPOptions: fhttp.HTTPOptions{URL: url},
	}
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		return err
	}
	r := Result{QPS: res.ActualQPS, Count: res.DurationHistogram.Count}
	for code, n := range res.RetCodes {
		if code != http.StatusOK {
			r.Errors += n
		}
	}
	for _, p := range res.DurationHistogram.Percentiles {
		switch p.Percentile {
		case 50:
			r.P50 = p.Value * 1000
		case 99:
			r.P99 = p.Value * 1000
		case 99.9:
			r.P999 = p.Value * 1000
		}
	}
	return json.NewEncoder(out).Encode(r)
}
