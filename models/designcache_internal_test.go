package models

import "testing"

// TestHeadCacheFillLosesToWrites: a reader's fill never replaces a write recorded after the
// reader's snapshot (its database read may predate that commit), nor survives an emptying.
func TestHeadCacheFillLosesToWrites(t *testing.T) {
	c := newHeadCache()
	old := headEntry{design: &Design{ID: 1, HeadRevision: 1}, head: &DesignRevision{Number: 1}}
	g := c.snapshot()
	c.write("d", &Design{ID: 1, HeadRevision: 2}, &DesignRevision{Number: 2})
	c.fill("d", old, g)
	if e, _ := c.get("d"); e.head.Number != 2 {
		t.Fatalf("a stale fill replaced the written head: got revision %d, want 2", e.head.Number)
	}

	g = c.snapshot()
	c.write("gone", nil, nil)
	c.fill("gone", old, g)
	if e, ok := c.get("gone"); !ok || e.design != nil {
		t.Fatalf("a stale fill replaced a deletion: %+v", e)
	}

	g = c.snapshot()
	c.forget()
	c.fill("x", old, g)
	if _, ok := c.get("x"); ok {
		t.Fatal("a fill from before forget was stored")
	}

	// A fill after the last write is kept.
	g = c.snapshot()
	c.fill("d", headEntry{design: &Design{ID: 1, HeadRevision: 3}, head: &DesignRevision{Number: 3}}, g)
	if e, _ := c.get("d"); e.head.Number != 3 {
		t.Fatalf("a current fill was dropped: got revision %d, want 3", e.head.Number)
	}
}

// TestHeadCacheBounded: past maxCachedHeads the cache empties, and fills from before that are
// dropped.
func TestHeadCacheBounded(t *testing.T) {
	c := newHeadCache()
	g := c.snapshot()
	for i := range maxCachedHeads + 1 {
		c.write(string(rune(i)), nil, nil)
	}
	if n := len(c.m); n > maxCachedHeads {
		t.Fatalf("%d entries cached; the bound is %d", n, maxCachedHeads)
	}
	c.fill("late", headEntry{}, g)
	if _, ok := c.get("late"); ok {
		t.Fatal("a fill from before the emptying was stored")
	}
}
