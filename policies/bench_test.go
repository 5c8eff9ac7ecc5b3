package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/istio" // the istio adapter for mesh rules
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// benchTarget builds a generated design of n services and its Istio output.
func benchTarget(b *testing.B, n int) Target {
	b.Helper()
	d := spectest.Design(n)
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	out, _, err := adapters.Translate(context.Background(), a, d, adapters.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return Target{Design: d, Meshes: map[string]*adapters.Output{"istio": out}}
}

func benchCheck(b *testing.B, n int) {
	e := newEngine(b, Options{})
	t := benchTarget(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var findings int
	for b.Loop() {
		fs, err := e.Check(ctx, t, nil)
		if err != nil {
			b.Fatal(err)
		}
		findings = len(fs)
	}
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(len(t.Meshes["istio"].Objects)), "objects")
}

// BenchmarkCheck1000 checks a 1,000-service design and its Istio output (target: ≤ 1 s).
func BenchmarkCheck1000(b *testing.B) { benchCheck(b, 1000) }

// BenchmarkCheck10000 checks a 10,000-service design and its Istio output (target: ≤ 10× the
// 1,000-service time).
func BenchmarkCheck10000(b *testing.B) { benchCheck(b, 10000) }

func benchTranslate(b *testing.B, n int) {
	d := spectest.Design(n)
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := adapters.Translate(ctx, a, d, adapters.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIstioTranslate1000 is the baseline the check time is compared with: translating the
// same design to Istio.
func BenchmarkIstioTranslate1000(b *testing.B) { benchTranslate(b, 1000) }

// BenchmarkIstioTranslate10000 is the 10,000-service baseline.
func BenchmarkIstioTranslate10000(b *testing.B) { benchTranslate(b, 10000) }

// BenchmarkCheckRatios measures the check of 1,000- and 10,000-service designs (with their Istio
// output) and the Istio translation of the same designs, and reports the ratios the budgets are
// stated in: check10k/check1k (target ≤ 10) and check/translate.
//
// Every measurement runs in a fresh process (this test binary run again, see
// TestCheckRatiosChild) holding only the design it measures, as `trellis check` does: measured in
// one process, the 1,000-service check would run beside the 10,000-service design's heap and
// never collect garbage, while the 10,000-service check would page its heap back in after every
// run — neither is what a user sees. Rounds alternate the sizes (TRELLIS_BENCH_ROUNDS, default
// 3); each child times its first check (cold: a CLI run) and the best of two more (warm: the
// server checking again). The medians of the per-round values are reported, with the spread of
// the cold ratio. The loop itself does nothing, so ns/op is meaningless: read the metrics.
//
// check10k/ten-check1k is the linearity reference: the 10,000-service check against ten
// 1,000-service designs checked one after another in one process (the same amount of data, the
// same heap, no work across services). A value near 1 means the check does no more per service
// at 10,000 services than at 1,000; whatever check10k/check1k shows beyond that is what a ten
// times larger heap costs on this machine.
func BenchmarkCheckRatios(b *testing.B) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("TRELLIS_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	var small, large, ten []childTimes
	for r := range rounds {
		for _, kind := range []string{"1000", "10000", "10x1000"} {
			c, err := runChild(kind)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("round %d, %s services: %+v", r+1, kind, c)
			switch kind {
			case "1000":
				small = append(small, c)
			case "10000":
				large = append(large, c)
			default:
				ten = append(ten, c)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
	}
	ratio := func(f func(childTimes) float64) []float64 {
		out := make([]float64, rounds)
		for i := range out {
			out[i] = f(large[i]) / f(small[i])
		}
		return out
	}
	value := func(cs []childTimes, f func(childTimes) float64) float64 {
		v := make([]float64, len(cs))
		for i, c := range cs {
			v[i] = f(c)
		}
		return median(v)
	}
	cold := func(c childTimes) float64 { return c.Cold }
	warm := func(c childTimes) float64 { return c.Warm }
	coldCPU := func(c childTimes) float64 { return c.ColdCPU }
	tr := func(c childTimes) float64 { return c.Translate }
	coldRatios := ratio(cold)
	b.ReportMetric(value(small, cold), "check1k-s")
	b.ReportMetric(value(large, cold), "check10k-s")
	b.ReportMetric(median(coldRatios), "check10k/check1k")
	b.ReportMetric(slices.Min(coldRatios), "check10k/check1k-min")
	b.ReportMetric(slices.Max(coldRatios), "check10k/check1k-max")
	b.ReportMetric(median(ratio(coldCPU)), "check10k/check1k-cpu")
	b.ReportMetric(median(ratio(warm)), "check10k/check1k-warm")
	b.ReportMetric(median(ratio(tr)), "translate10k/translate1k")
	tenRatios := make([]float64, rounds)
	for i := range tenRatios {
		tenRatios[i] = large[i].Cold / ten[i].Cold
	}
	b.ReportMetric(median(tenRatios), "check10k/ten-check1k")
	b.ReportMetric(value(small, cold)/value(small, tr), "check/translate-1k")
	b.ReportMetric(value(large, cold)/value(large, tr), "check/translate-10k")
}

// childTimes are the seconds one child measured.
type childTimes struct {
	Translate float64 // translating one design to Istio (best of two)
	Cold      float64 // the first check in the process (of every design, one after another)
	ColdCPU   float64 // CPU time of the first check (all goroutines, GC included)
	Warm      float64 // the best of two more checks
}

const childEnv = "TRELLIS_BENCH_CHILD"

// runChild measures, in a fresh process, one design of n services ("1000") or k designs of n
// services checked one after another ("10x1000").
func runChild(kind string) (childTimes, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckRatiosChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return childTimes{}, fmt.Errorf("benchmark child for %s services: %w\n%s", kind, err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "childTimes "); ok {
			var c childTimes
			if err := json.Unmarshal([]byte(rest), &c); err != nil {
				return childTimes{}, fmt.Errorf("benchmark child for %s services: %w", kind, err)
			}
			return c, nil
		}
	}
	return childTimes{}, fmt.Errorf("benchmark child for %s services printed no times:\n%s", kind, out)
}

// TestCheckRatiosChild is the child of BenchmarkCheckRatios; it does nothing in a normal test run.
func TestCheckRatiosChild(t *testing.T) {
	kind := os.Getenv(childEnv)
	if kind == "" {
		t.Skip("runs as a child of BenchmarkCheckRatios only")
	}
	k, size, found := strings.Cut(kind, "x")
	if !found {
		k, size = "1", kind
	}
	copies, err1 := strconv.Atoi(k)
	n, err2 := strconv.Atoi(size)
	if err1 != nil || err2 != nil || copies <= 0 || n <= 0 {
		t.Fatalf("%s=%q: want N or KxN", childEnv, kind)
	}
	ctx := context.Background()
	e := newEngine(t, Options{})
	a, err := adapters.Lookup("istio")
	if err != nil {
		t.Fatal(err)
	}
	var c childTimes
	targets := make([]Target, copies)
	for i := range targets {
		d := spectest.Design(n)
		var out *adapters.Output
		for range 2 {
			t0 := time.Now()
			o, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
			if s := time.Since(t0).Seconds(); c.Translate == 0 || s < c.Translate {
				c.Translate = s
			}
			if err != nil {
				t.Fatal(err)
			}
			out = o
		}
		targets[i] = Target{Design: d, Meshes: map[string]*adapters.Output{"istio": out}}
	}
	runtime.GC()
	for i := range 3 {
		c0, t0 := cpuTime(), time.Now()
		for _, target := range targets {
			if _, err := e.Check(ctx, target, nil); err != nil {
				t.Fatal(err)
			}
		}
		s := time.Since(t0).Seconds()
		switch {
		case i == 0:
			c.Cold, c.ColdCPU = s, (cpuTime() - c0).Seconds()
		case c.Warm == 0 || s < c.Warm:
			c.Warm = s
		}
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("childTimes %s\n", j)
}

// median returns the median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
