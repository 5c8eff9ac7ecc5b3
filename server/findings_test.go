package server_test

import (
	"os"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/server"
)

type findingsData struct {
	Design struct {
		Head struct {
			Number   int
			Findings []struct {
				Rule, Severity, Title, Message, Path, Remedy string
				Suppressed                                   bool
				Line                                         *int
			}
		}
	}
}

const findingsQuery = `query($n: String!) { design(name: $n) { head { number findings { rule severity title message path remedy suppressed line } } } }`

func TestFindingsAreStoredPerRevision(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		e.save(t, e.admin, "shop", 50, 0)
		var got findingsData
		e.must(t, e.admin, findingsQuery, map[string]any{"n": "shop"}, &got)
		for _, f := range got.Design.Head.Findings {
			if f.Rule == "SEC-001" {
				t.Fatalf("strict-by-default design has SEC-001: %+v", f)
			}
		}

		// Revision 2 turns mTLS permissive: SEC-001 (error) is stored with it, not with revision 1.
		permissive := designYAML("shop", 50) + "  security:\n    mtls: permissive\n"
		e.must(t, e.admin, saveMutation, saveVars("shop", permissive, 1, "permissive"), nil)
		e.must(t, e.admin, findingsQuery, map[string]any{"n": "shop"}, &got)
		var sec001 bool
		for _, f := range got.Design.Head.Findings {
			if f.Rule == "SEC-001" {
				sec001 = f.Severity == "error" && f.Title != "" && f.Remedy != "" && strings.HasPrefix(f.Path, "spec.security") && !f.Suppressed
			}
		}
		if got.Design.Head.Number != 2 || !sec001 {
			t.Fatalf("revision 2 findings = %+v", got.Design.Head)
		}
		var r1 struct {
			Design struct {
				Revision struct{ Findings []struct{ Rule string } }
			}
		}
		e.must(t, e.admin, `{ design(name: "shop") { revision(number: 1) { findings { rule } } } }`, nil, &r1)
		for _, f := range r1.Design.Revision.Findings {
			if f.Rule == "SEC-001" {
				t.Fatal("revision 1 got revision 2's findings")
			}
		}

		// A suppression annotation is honoured and stored as suppressed.
		suppressed := strings.Replace(permissive, "metadata: {name: shop, namespace: shop}",
			"metadata:\n  name: shop\n  namespace: shop\n  annotations: {trellis.dev/ignore: \"SEC-001: migrating to strict next sprint\"}", 1)
		e.must(t, e.admin, saveMutation, saveVars("shop", suppressed, 2, "suppress"), nil)
		e.must(t, e.admin, findingsQuery, map[string]any{"n": "shop"}, &got)
		suppressedOK := false
		for _, f := range got.Design.Head.Findings {
			if f.Rule == "SEC-001" {
				suppressedOK = f.Suppressed
			}
		}
		if !suppressedOK {
			t.Fatalf("SEC-001 is not stored as suppressed: %+v", got.Design.Head.Findings)
		}

		// Deleting the design deletes its findings with it (no foreign-key failure).
		e.must(t, e.admin, `mutation { deleteDesign(name: "shop") { deleted } }`, nil, nil)
	})
}

func TestExampleDesignsGetFindings(t *testing.T) {
	dir := t.TempDir()
	permissive := designYAML("loose", 50) + "  security:\n    mtls: permissive\n"
	if err := os.WriteFile(dir+"/loose.yaml", []byte(permissive), 0o600); err != nil {
		t.Fatal(err)
	}
	e := serveEnv(t, backends(t)[0], server.Config{LoadExamples: dir})
	var got findingsData
	e.must(t, e.admin, findingsQuery, map[string]any{"n": "loose"}, &got)
	for _, f := range got.Design.Head.Findings {
		if f.Rule == "SEC-001" {
			return
		}
	}
	t.Fatalf("example findings = %+v", got.Design.Head.Findings)
}
