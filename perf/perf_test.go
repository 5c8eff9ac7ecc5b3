package perf_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/perf"
)

func TestRunMeasuresLatencyAndCountsErrorsByCode(t *testing.T) {
	const delay = 5 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(delay)
		if n.Add(1)%4 == 0 { // every fourth request fails
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	var reports int
	res, err := perf.Run(context.Background(), perf.Profile{
		Name: "direct", URL: srv.URL + "/x", QPS: 200, Connections: 4, Duration: 1500 * time.Millisecond,
	}, func(perf.Progress) { reports++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 50 {
		t.Fatalf("requests = %d, want ≥ 50 at 200 qps for 1.5s", res.Requests)
	}
	if res.Latency.P50 < float64(delay.Milliseconds()) {
		t.Errorf("p50 = %.3f ms, want ≥ %d ms (the server's delay)", res.Latency.P50, delay.Milliseconds())
	}
	if res.Latency.Min < float64(delay.Milliseconds()) || res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("inconsistent latency summary: %+v", res.Latency)
	}
	if res.ErrorCodes["503"] == 0 || res.ErrorCodes["503"] != res.Errors {
		t.Errorf("errors %d by code %v, want all 503", res.Errors, res.ErrorCodes)
	}
	if res.Codes["200"]+res.Codes["503"] != res.Requests {
		t.Errorf("codes %v do not add up to %d requests", res.Codes, res.Requests)
	}
	// Warm-up requests are excluded, so the measured share is close to 1/4.
	if rate := res.ErrorRate(); rate < 0.15 || rate > 0.35 {
		t.Errorf("error rate %.2f, want about 0.25", rate)
	}
	if res.QPS <= 0 || !res.End.After(res.Start) {
		t.Errorf("qps %.1f start %s end %s", res.QPS, res.Start, res.End)
	}
	if reports == 0 {
		t.Error("no progress report during a 1.5s run")
	}
	if res.Environment.Cores == 0 || res.Environment.GOMAXPROCS == 0 {
		t.Errorf("environment not recorded: %+v", res.Environment)
	}
}

func TestRunWithRequestCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	res, err := perf.Run(context.Background(), perf.Profile{URL: srv.URL, Connections: 2, Requests: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 {
		t.Errorf("requests = %d, want exactly 100", res.Requests)
	}
}

func TestRunRefusesNonLoopbackTargets(t *testing.T) {
	for _, u := range []string{"http://10.1.2.3:8080/", "http://93.184.216.34/", "http://[2001:db8::1]:80/"} {
		_, err := perf.Run(context.Background(), perf.Profile{URL: u, Duration: time.Second}, nil)
		if !errors.Is(err, perf.ErrNotLoopback) {
			t.Errorf("%s: err = %v, want ErrNotLoopback", u, err)
		}
	}
	for _, u := range []string{"http://localhost:1/", "http://127.0.0.2:8080/x", "http://[::1]:9/"} {
		if _, err := perf.CheckLoopback(context.Background(), u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

func TestRunRejectsOutOfBoundsProfiles(t *testing.T) {
	for name, p := range map[string]perf.Profile{
		"too long":     {URL: "http://127.0.0.1:1/", Duration: 6 * time.Minute},
		"too many":     {URL: "http://127.0.0.1:1/", Requests: perf.MaxRequests + 1},
		"https":        {URL: "https://127.0.0.1:1/"},
		"negative qps": {URL: "http://127.0.0.1:1/", QPS: -1},
	} {
		if _, err := perf.Run(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "profile.") {
			t.Errorf("%s: err = %v, want a profile.* error", name, err)
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	res, err := perf.Run(ctx, perf.Profile{URL: srv.URL, QPS: 100, Connections: 2, Duration: time.Minute}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// About 1 s is expected (one request timeout at most); the bound leaves room for a loaded machine.
	took := time.Since(start)
	t.Logf("a 1-minute run cancelled after 300ms stopped after %s", took)
	if took > 5*time.Second {
		t.Errorf("a cancelled 1-minute run took %s to stop", took)
	}
	if res == nil || !res.Cancelled || res.Requests == 0 {
		t.Errorf("partial result = %+v, want Cancelled with some requests", res)
	}
}

func TestRunStopsOnCancelWithSlowTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // far slower than the cancellation
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	res, err := perf.Run(ctx, perf.Profile{URL: srv.URL, Connections: 2, Duration: time.Minute}, nil)
	took := time.Since(start)
	t.Logf("stopped after %s", took)
	if !errors.Is(err, context.Canceled) || res == nil || !res.Cancelled {
		t.Fatalf("err = %v, result %+v; want a cancelled partial result", err, res)
	}
	if took > 2*time.Second {
		t.Errorf("a cancelled run against a 3s-per-request target took %s to return, want about 1s", took)
	}
}

func synthetic(name string, qps, p50, p99, p999 float64, reqs, errs int64) *perf.Result {
	return &perf.Result{Profile: perf.Profile{Name: name}, QPS: qps, Requests: reqs, Errors: errs,
		Latency: perf.Latency{P50: p50, P99: p99, P999: p999}}
}

func TestCompareRatios(t *testing.T) {
	base := synthetic("direct", 2000, 0.27, 0.79, 1.2, 30000, 0)
	one := synthetic("one-proxy", 1000, 0.71, 1.53, 2.34, 15000, 150)
	c, err := perf.Compare(base, one)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 2 || c.Baseline != "direct" {
		t.Fatalf("rows = %+v", c.Rows)
	}
	r := c.Rows[1]
	if r.Throughput != 0.5 || r.AddedP50 != 0.44 || r.AddedP99 != 0.74 || r.AddedP999 != 1.14 || r.ErrorRate != 0.01 {
		t.Errorf("row = %+v, want ×0.5, +0.44/+0.74/+1.14 ms, 1%% errors", r)
	}
	if c.Rows[0].Throughput != 1 || c.Rows[0].AddedP99 != 0 {
		t.Errorf("baseline row = %+v", c.Rows[0])
	}
	txt, md := c.Text(), c.Markdown()
	for _, want := range []string{"one-proxy", "0.50", "+0.44 / +0.74 / +1.14", "1.00%"} {
		if !strings.Contains(txt, want) || !strings.Contains(md, want) {
			t.Errorf("rendering lacks %q:\n%s\n%s", want, txt, md)
		}
	}
	if !strings.HasPrefix(md, "| config |") {
		t.Errorf("markdown:\n%s", md)
	}
	if _, err := perf.Compare(nil, one); err == nil {
		t.Error("nil baseline accepted")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := synthetic("direct", 2000, 0.27, 0.79, 1.2, 30000, 3)
	r.Codes = map[string]int64{"200": 29997, "503": 3}
	path := filepath.Join(dir, "direct.json")
	if err := perf.Save(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := perf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Name != "direct" || got.Codes["503"] != 3 || got.Latency.P999 != 1.2 {
		t.Errorf("loaded %+v", got)
	}
	if _, err := perf.Decode("bad.json", []byte(`{"foo": 1}`)); err == nil {
		t.Error("unknown fields accepted")
	}
}

func TestMedianOfRounds(t *testing.T) {
	a := synthetic("direct", 1000, 0.3, 1.0, 2.0, 100, 1)
	b := synthetic("direct", 3000, 0.1, 3.0, 9.0, 300, 0)
	c := synthetic("direct", 2000, 0.2, 2.0, 4.0, 200, 2)
	a.Environment.OtherTenantsPercent, b.Environment.OtherTenantsPercent = 3, 12
	m := perf.Median(a, b, c)
	if m.QPS != 2000 || m.Latency.P50 != 0.2 || m.Latency.P99 != 2.0 || m.Latency.P999 != 4.0 {
		t.Errorf("median = qps %.0f latency %+v, want the middle values", m.QPS, m.Latency)
	}
	if m.Requests != 600 || m.Errors != 3 {
		t.Errorf("requests %d errors %d, want sums 600 and 3", m.Requests, m.Errors)
	}
	if !m.Environment.Noisy() && m.Environment.OtherTenantsPercent != 12 {
		t.Errorf("environment %+v, want the noisiest round's", m.Environment)
	}
	if perf.Median() != nil || perf.Median(a) != a {
		t.Error("Median of zero or one result")
	}
}
