package mcp_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/mcp"
)

// toolSchema is the part of a tool's input schema this test reads.
type toolSchema struct {
	Properties map[string]struct {
		Type      any      `json:"type"`
		Minimum   *float64 `json:"minimum"`
		Maximum   *float64 `json:"maximum"`
		MinLength *int     `json:"minLength"`
		MaxLength *int     `json:"maxLength"`
		MaxItems  *int     `json:"maxItems"`
		Items     *struct {
			Enum []string `json:"enum"`
		} `json:"items"`
	} `json:"properties"`
}

// TestToolSchemasBounded: every number in a tool's arguments has a
// minimum and a maximum (timeout_seconds follows MaxTimeout), every text
// a maximum length, and sources lists only sms and email, as the client
// sees them in tools/list.
func TestToolSchemasBounded(t *testing.T) {
	otp := relayWithTestKey(t)
	cs, _ := connect(t, mcp.Config{Client: otp, MaxTimeout: 10 * time.Minute})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{"timeout_seconds": {1, 600}, "ttl_seconds": {60, 3600}, "wait_seconds": {0, 55}}
	for _, tool := range res.Tools {
		b, err := json.Marshal(tool.InputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var s toolSchema
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Properties) == 0 {
			t.Errorf("%s: no properties in %s", tool.Name, b)
		}
		for name, p := range s.Properties {
			switch p.Type {
			case "integer", "number":
				if p.Minimum == nil || p.Maximum == nil {
					t.Errorf("%s.%s: a number without bounds", tool.Name, name)
				} else if w, ok := want[name]; ok && (*p.Minimum != w[0] || *p.Maximum != w[1]) {
					t.Errorf("%s.%s: bounds %v..%v, want %v..%v", tool.Name, name, *p.Minimum, *p.Maximum, w[0], w[1])
				}
			case "string":
				if p.MaxLength == nil {
					t.Errorf("%s.%s: a text without maxLength", tool.Name, name)
				}
			case "array":
				if p.MaxItems == nil || p.Items == nil || !slices.Equal(p.Items.Enum, []string{"sms", "email"}) {
					t.Errorf("%s.%s: %s", tool.Name, name, b)
				}
			default:
				t.Errorf("%s.%s: type %v", tool.Name, name, p.Type)
			}
		}
	}
}

// TestToolSchemasRefuse: arguments out of the schema's bounds are refused
// by the SDK's check of the input schema, before the tool runs.
func TestToolSchemasRefuse(t *testing.T) {
	otp := relayWithTestKey(t)
	cs, _ := connect(t, mcp.Config{Client: otp})
	long := strings.Repeat("x", 501)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{mcp.ToolRequest, map[string]any{"reason": long}},
		{mcp.ToolRequest, map[string]any{"reason": ""}},
		{mcp.ToolRequest, map[string]any{"reason": "x", "sources": []any{"fax"}}},
		{mcp.ToolRequest, map[string]any{"reason": "x", "ttl_seconds": 30}},
		{mcp.ToolGet, map[string]any{"reason": "x", "timeout_seconds": 3601}},
		{mcp.ToolCheck, map[string]any{"request_id": "otp_x", "wait_seconds": -1}},
	} {
		res, text := call(t, cs, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(text, `validating "arguments"`) {
			t.Errorf("%s %v: not refused by the input schema: %s", tc.tool, tc.args, text)
		}
	}
}
