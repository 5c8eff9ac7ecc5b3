package live

import (
	"context"
	"strings"
	"testing"
)

func TestBrokerRelaysLocalValuesOnly(t *testing.T) {
	var b Broker[string]
	var relayed, observed []string
	lost := 0
	b.SetRelay(func(v string) { relayed = append(relayed, v) })
	remove := b.AddObserver(ObserverFuncs[string]{
		OnValue: func(v string, remote bool) {
			if remote {
				v += "(remote)"
			}
			observed = append(observed, v)
		},
		OnLost: func() { lost++ },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := b.Subscribe(ctx, 8)

	b.Publish("a")
	b.Deliver("b")
	b.LostRemote()
	remove()
	b.Publish("c")

	if got := strings.Join(relayed, ","); got != "a,c" {
		t.Fatalf("relayed %q, want local values only", got)
	}
	if got := strings.Join(observed, ","); got != "a,b(remote)" || lost != 1 {
		t.Fatalf("observed %q (lost %d)", got, lost)
	}
	var got []string
	for range 3 {
		got = append(got, <-sub)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("subscriber got %q", got)
	}
	b.SetRelay(nil)
	b.Publish("d") // no relay: must not panic
}
