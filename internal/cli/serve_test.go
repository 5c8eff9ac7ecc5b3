package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs the command line with ctx and returns stdout, stderr and the error.
func runCmd(ctx context.Context, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	root := newRoot(strings.NewReader(""), &out, &errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func TestTokenCommands(t *testing.T) {
	home := t.TempDir()
	ctx := context.Background()
	tok, _, err := runCmd(ctx, "token", "create", "--home", home, "--role", "editor", "--name", "ci")
	if err != nil || !strings.HasPrefix(tok, "trellis_") {
		t.Fatalf("create: %q %v", tok, err)
	}
	if _, _, err := runCmd(ctx, "token", "create", "--home", home, "--role", "root", "--name", "x"); err == nil {
		t.Fatal("bad role accepted")
	}
	t.Setenv("TRELLIS_HOME", home)
	out, _, err := runCmd(ctx, "token", "list", "-o", "json")
	var list []tokenInfo
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Role != "editor" {
		t.Fatalf("list: %q %v", out, err)
	}
	if strings.Contains(out, strings.TrimSpace(tok)) {
		t.Fatal("list prints the token")
	}
	if _, _, err := runCmd(ctx, "token", "delete", "ci"); err != nil {
		t.Fatal(err)
	}
}

func TestServeCommand(t *testing.T) {
	home := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := filepath.Join(home, "trellis.yaml")
	if err := os.WriteFile(cfg, []byte("addr: "+addr+"\nlogFormat: json\nloadExamples: ../../spec/testdata/cases\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	xln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	xaddr := xln.Addr().String()
	_ = xln.Close()
	t.Setenv("TRELLIS_XDS_ADDR", xaddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		_, stderr, err = runCmd(ctx, "serve", "--config", cfg, "--home", home)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	token, err := os.ReadFile(filepath.Join(home, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ designs { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Data struct{ Designs struct{ TotalCount int } }
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if body.Data.Designs.TotalCount == 0 {
		t.Fatal("examples were not loaded")
	}
	// The embedded xDS control plane listens on TRELLIS_XDS_ADDR.
	if c, err := net.DialTimeout("tcp", xaddr, 5*time.Second); err != nil {
		t.Fatalf("xDS control plane on %s: %v", xaddr, err)
	} else {
		_ = c.Close()
	}
	// The dashboard is served at /.
	if res, err := http.Get("http://" + addr + "/"); err != nil || res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "html") {
		t.Fatalf("GET /: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	cancel() // graceful shutdown, as on SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(stderr, strings.TrimSpace(string(token))) {
		t.Fatal("the admin token was not printed on first start")
	}
}
