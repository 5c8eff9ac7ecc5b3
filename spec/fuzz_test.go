package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic or hang, every violation
// must carry a position, and whatever loads must validate, re-default to itself and survive a
// JSON round trip. Seeds are every valid and invalid case, so plain `go test` runs them.
//
//	go test ./spec -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/cases/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("[1, {a: *b}]"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := LoadBytes("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("want a non-empty *ValidationError, got %v", err)
			}
			for _, v := range ve.Violations {
				if v.Pos == nil || v.Pos.File != "fuzz.yaml" {
					t.Fatalf("violation without position: %v", v)
				}
				_ = v.String()
			}
			return
		}
		for _, d := range ds {
			if vs := d.Validate(); len(vs) != 0 {
				t.Fatalf("loaded design does not validate: %v", vs)
			}
			before, err := json.Marshal(d)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			c := d.Clone()
			c.Default()
			if after, _ := json.Marshal(c); string(after) != string(before) {
				t.Fatalf("Default is not idempotent:\n%s\n%s", before, after)
			}
			if _, err := LoadBytes("again.json", before); err != nil {
				t.Fatalf("JSON round trip does not load: %v\n%s", err, before)
			}
		}
	})
}
