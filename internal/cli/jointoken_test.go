package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJoinTokenCommand(t *testing.T) {
	home := t.TempDir()
	out := filepath.Join(t.TempDir(), "share", "join-token")
	code, stdout, errs := run(t, "join-token", "--home", home, "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	src, err := os.ReadFile(filepath.Join(home, "mesh-ca", "join-token"))
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(src))
	if !strings.HasPrefix(token, "trellis-join-") || string(copied) != string(src) {
		t.Errorf("home token %q, copy %q: want one trellis-join-… token in both", src, copied)
	}
	if strings.Contains(stdout+errs, token) {
		t.Error("the token was printed")
	}
	for _, f := range []string{out, filepath.Join(home, "mesh-ca", "join-token")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (err %v), want 0600", f, fi.Mode().Perm(), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("the token directory holds %d entries, want the token only", len(entries))
	}
	// A second run keeps the token (as trellis serve does).
	if code, _, errs := run(t, "join-token", "--home", home, "--out", out); code != ExitOK {
		t.Fatalf("second run: exit %d: %s", code, errs)
	}
	if again, _ := os.ReadFile(out); string(again) != string(src) {
		t.Errorf("second run wrote %q, want the unchanged %q", again, src)
	}
	if code, _, errs := run(t, "join-token", "--home", home); code != ExitUsage || !strings.Contains(errs, "--out is required") {
		t.Errorf("without --out: exit %d %q, want a usage error", code, errs)
	}
}
