package httpapi

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// openAPIDoc reads and parses openapi.json from the package directory.
// It reads the file rather than the embedded copy so that the test works
// whether or not the embed exists.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatalf("read openapi.json: %v", err)
	}
	if !json.Valid(b) {
		t.Fatal("openapi.json is not valid JSON")
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse openapi.json: %v", err)
	}
	return doc
}

func TestOpenAPIVersionAndInfo(t *testing.T) {
	doc := openAPIDoc(t)
	info, _ := doc["info"].(map[string]any)
	tests := []struct {
		name string
		got  any
		want string
	}{
		{"openapi", doc["openapi"], "3.1.0"},
		{"info.title", info["title"], "agentotp"},
		{"info.version", info["version"], "v1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// resolvePointer resolves a local JSON pointer ("#/a/b~1c") in doc.
func resolvePointer(doc any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#") {
		return nil, false
	}
	ptr := strings.TrimPrefix(ref, "#")
	if ptr == "" {
		return doc, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// walkRefs calls fn with the location and value of every "$ref" in v.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "$ref" {
				s, _ := child.(string)
				fn(at, s)
				continue
			}
			walkRefs(child, at+"/"+k, fn)
		}
	case []any:
		for i, child := range v {
			walkRefs(child, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPIDoc(t)
	n := 0
	walkRefs(doc, "#", func(at, ref string) {
		n++
		if _, ok := resolvePointer(doc, ref); !ok {
			t.Errorf("%s: $ref %q does not resolve within the document", at, ref)
		}
	})
	if n == 0 {
		t.Error("the document has no $ref at all")
	}
}

var (
	// wildcard matches a ServeMux or OpenAPI path wildcard: {id}, {rest...}.
	wildcard = regexp.MustCompile(`\{[^{}/]*\}`)
	// httpMethods are the operation keys of an OpenAPI path item.
	httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
)

// normalizeRoute turns "METHOD /path/{name}" into "METHOD /path/{}", so
// that routes compare equal whatever their wildcards are named. The
// ServeMux's end anchor {$} is dropped.
func normalizeRoute(method, path string) string {
	path = strings.ReplaceAll(path, "{$}", "")
	return strings.ToUpper(method) + " " + wildcard.ReplaceAllString(path, "{}")
}

// documentedRoutes returns the "METHOD path" pairs of the document's paths.
func documentedRoutes(t *testing.T, doc map[string]any) map[string]bool {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("the document has no paths object")
	}
	out := map[string]bool{}
	for p, item := range paths {
		item, ok := item.(map[string]any)
		if !ok {
			t.Errorf("path %s: not an object", p)
			continue
		}
		for _, m := range httpMethods {
			if _, ok := item[m]; ok {
				out[normalizeRoute(m, p)] = true
			}
		}
	}
	return out
}

// registeredRoutes parses the package's non-test Go files (server.go's
// routes() and any file that registers more, such as the /openapi.json
// and /metrics handlers) and returns the string literal patterns passed to
// s.mux.Handle and s.mux.HandleFunc, except the catch-all "/". A pattern
// without a method is taken as GET.
func registeredRoutes(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	sawServer := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		sawServer = sawServer || name == "server.go"
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			recv, ok := sel.X.(*ast.SelectorExpr)
			if !ok || recv.Sel.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a mux route whose pattern is not a string literal", fset.Position(call.Pos()))
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: %v", fset.Position(lit.Pos()), err)
				return true
			}
			if pattern == "/" {
				return true
			}
			method, path, found := strings.Cut(pattern, " ")
			if !found {
				method, path = "GET", pattern
			}
			out[normalizeRoute(method, strings.TrimSpace(path))] = true
			return true
		})
	}
	if !sawServer {
		t.Fatal("server.go not found in the package directory")
	}
	if len(out) == 0 {
		t.Fatal("no s.mux.Handle/HandleFunc route found")
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestOpenAPIPathsMatchRoutes(t *testing.T) {
	doc := openAPIDoc(t)
	documented := documentedRoutes(t, doc)
	registered := registeredRoutes(t)
	for _, r := range sortedKeys(registered) {
		if !documented[r] {
			t.Errorf("route %q is registered but not in openapi.json", r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if !registered[r] {
			t.Errorf("openapi.json describes %q, which is not registered", r)
		}
	}
}

// TestOpenAPIOperations checks every operation: a unique operationId,
// responses, a declared path parameter for each wildcard, and
// problem+json for every 4xx and 5xx response but the 400 that net/http
// itself writes.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	paths, _ := doc["paths"].(map[string]any)
	deref := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			r, _ := resolvePointer(doc, ref)
			m, _ = r.(map[string]any)
		}
		return m
	}
	ids := map[string]string{}
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(m) + " " + p
			id, _ := o["operationId"].(string)
			switch {
			case id == "":
				t.Errorf("%s: no operationId", where)
			case ids[id] != "":
				t.Errorf("%s: operationId %q is also used by %s", where, id, ids[id])
			default:
				ids[id] = where
			}
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, prm := range params {
				prm := deref(prm)
				if prm["in"] == "path" {
					name, _ := prm["name"].(string)
					declared[name] = true
				}
			}
			for _, w := range wildcard.FindAllString(p, -1) {
				if name := strings.Trim(w, "{}"); !declared[name] {
					t.Errorf("%s: path parameter %q is not declared", where, name)
				}
			}
			resps, _ := o["responses"].(map[string]any)
			if len(resps) == 0 {
				t.Errorf("%s: no responses", where)
			}
			for status, r := range resps {
				if !strings.HasPrefix(status, "4") && !strings.HasPrefix(status, "5") {
					continue
				}
				if ref, _ := r.(map[string]any)["$ref"].(string); ref == "#/components/responses/BadRequest" {
					continue // net/http's own plain-text answer to a request that is not HTTP
				}
				content, _ := deref(r)["content"].(map[string]any)
				if _, ok := content["application/problem+json"]; !ok {
					t.Errorf("%s: response %s is not application/problem+json", where, status)
				}
			}
		}
	}
}

// TestOpenAPIErrorCodes checks that the Problem code enum lists exactly
// the error codes of the agentotp package (errors.go).
func TestOpenAPIErrorCodes(t *testing.T) {
	checkEnumIsConsts(t, "#/components/schemas/ErrorCode/enum", []string{filepath.Join("..", "errors.go")}, "E", "error code")
}

// TestOpenAPIBounds checks that every number in the document, in a
// schema, parameter, header or webhook, has a minimum and a maximum.
func TestOpenAPIBounds(t *testing.T) {
	doc := openAPIDoc(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			var types []string
			switch ty := v["type"].(type) {
			case string:
				types = []string{ty}
			case []any:
				for _, x := range ty {
					if s, ok := x.(string); ok {
						types = append(types, s)
					}
				}
			}
			if slices.Contains(types, "integer") || slices.Contains(types, "number") {
				_, lo := v["minimum"]
				_, xlo := v["exclusiveMinimum"]
				_, hi := v["maximum"]
				_, xhi := v["exclusiveMaximum"]
				if !(lo || xlo) || !(hi || xhi) {
					t.Errorf("%s: a number without a minimum and a maximum", at)
				}
			}
			for k, x := range v {
				if k == "examples" || k == "example" {
					continue
				}
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	for _, part := range []string{"paths", "webhooks", "components"} {
		walk(doc[part], "#/"+part)
	}
}

// TestOpenAPIMethodNotAllowed checks that every operation documents the
// 405 that a method the path lacks gets, with its Allow header.
func TestOpenAPIMethodNotAllowed(t *testing.T) {
	doc := openAPIDoc(t)
	resp, ok := resolvePointer(doc, "#/components/responses/MethodNotAllowed")
	if !ok {
		t.Fatal("no #/components/responses/MethodNotAllowed")
	}
	allow, ok := resolvePointer(resp, "#/headers/Allow/$ref")
	if !ok {
		t.Fatal("MethodNotAllowed has no Allow header")
	}
	if req, _ := resolvePointer(doc, allow.(string)+"/required"); req != true {
		t.Errorf("the Allow header of a 405 is not required")
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok || o["responses"] == nil {
				continue
			}
			r, _ := resolvePointer(o, "#/responses/405/$ref")
			if r != "#/components/responses/MethodNotAllowed" {
				t.Errorf("%s %s: no 405 (#/components/responses/MethodNotAllowed)", strings.ToUpper(method), path)
			}
		}
	}
}

// TestOpenAPIAuditActions checks that the AuditAction enum lists exactly
// the Audit… constants of the agentotp package.
func TestOpenAPIAuditActions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	checkEnumIsConsts(t, "#/components/schemas/AuditAction/enum", files, "Audit", "audit action")
}

// checkEnumIsConsts checks that the OpenAPI enum at pointer lists exactly
// the string constants whose names start with prefix in the Go files.
func checkEnumIsConsts(t *testing.T, pointer string, files []string, prefix, what string) {
	t.Helper()
	enum, ok := resolvePointer(openAPIDoc(t), pointer)
	if !ok {
		t.Fatalf("no %s", pointer)
	}
	documented := map[string]bool{}
	for _, c := range enum.([]any) {
		documented[c.(string)] = true
	}
	defined := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						defined[v] = true
					}
				}
			}
		}
	}
	if len(defined) == 0 {
		t.Fatalf("no %s… constant found in %v", prefix, files)
	}
	for _, c := range sortedKeys(defined) {
		if !documented[c] {
			t.Errorf("%s %s is missing from %s", what, c, pointer)
		}
	}
	for _, c := range sortedKeys(documented) {
		if !defined[c] {
			t.Errorf("%s lists %s, which the Go code does not define", pointer, c)
		}
	}
}
