// Package archtest keeps the relay's layering: the edges reach the store
// only through relay.Service (and narrow interfaces of their own), and
// edge capture does not depend on the relay's service at all.
package archtest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/agentotp/agentotp"

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
	Imports    []string
}

func list(t *testing.T) map[string]pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the go tool is needed: ", err)
		}
		t.Skip("the go tool is not on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-json", mod+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// edges are the packages that face callers or mail: they use the service.
var edges = []string{"httpapi", "web", "smtp", "imap", "telegram", "capture", "mcp", "webhook", "client"}

// TestEdgesDoNotReachTheStore: no edge depends on a store implementation,
// and none names the whole agentotp.Store interface.
func TestEdgesDoNotReachTheStore(t *testing.T) {
	pkgs := list(t)
	for _, e := range edges {
		p, ok := pkgs[mod+"/"+e]
		if !ok {
			t.Fatalf("package %s not listed", e)
		}
		for _, bad := range []string{mod + "/sqlite", mod + "/storetest"} {
			if slices.Contains(p.Deps, bad) {
				t.Errorf("%s depends on %s", e, bad)
			}
		}
		for _, f := range p.GoFiles {
			if names := storeRefs(t, filepath.Join(p.Dir, f)); len(names) > 0 {
				t.Errorf("%s/%s uses %s: an edge reaches the store through the service or an interface of its own", e, f, strings.Join(names, ", "))
			}
		}
	}
}

// TestCaptureDoesNotImportRelay: edge capture, which runs on the owner's
// machine, depends neither directly nor through another package on the
// relay's service; nor do the IMAP and SMTP packages it builds on.
func TestCaptureDoesNotImportRelay(t *testing.T) {
	pkgs := list(t)
	for _, e := range []string{"capture", "imap", "smtp", "webhook"} {
		if slices.Contains(pkgs[mod+"/"+e].Deps, mod+"/relay") {
			t.Errorf("%s depends on relay", e)
		}
	}
}

// TestDomainDoesNoIO: the domain package and the approval statements
// import nothing that reaches files, sockets, processes or databases, so
// every rule in them is a pure function of its inputs.
func TestDomainDoesNoIO(t *testing.T) {
	pkgs := list(t)
	io := []string{"os", "os/exec", "net/http", "database/sql", "syscall", "io/fs", "log", "log/slog"}
	for _, name := range []string{mod, mod + "/approval"} {
		p, ok := pkgs[name]
		if !ok {
			t.Fatalf("package %s not listed", name)
		}
		for _, bad := range io {
			if slices.Contains(p.Imports, bad) {
				t.Errorf("%s imports %s", name, bad)
			}
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, mod+"/") {
				t.Errorf("%s depends on %s: the domain depends on no other package of the relay", name, dep)
			}
		}
	}
}

// storeRefs returns the selectors X.Store and X.Broker of a file, where X
// is the root package or relay: the store interface and the broker.
func storeRefs(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // local name → import path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		local := filepath.Base(p)
		if p == mod {
			local = "agentotp"
		}
		if im.Name != nil {
			local = im.Name.Name
		}
		names[local] = p
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch {
		case names[x.Name] == mod && sel.Sel.Name == "Store",
			names[x.Name] == mod+"/relay" && (sel.Sel.Name == "Broker" || sel.Sel.Name == "NewBroker"):
			out = append(out, x.Name+"."+sel.Sel.Name)
		}
		return true
	})
	return out
}
