package mcp

import (
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/agentotp/agentotp"
)

// inputSchema is the JSON Schema of a tool's arguments: the one inferred
// from T, with the bounds the relay enforces, so that a client (and the
// SDK, which validates every call against it) knows them up front:
// lengths of the texts, the message kinds, and the range of each number.
// No default is declared: the SDK would fill it in, and the server's own
// defaults (DefaultTimeout) are configurable.
// maxTimeoutSeconds is the server's bound on timeout_seconds. Inferring
// from the fixed argument types fails only on a programming error, which
// every test would show: it panics then.
func inputSchema[T any](maxTimeoutSeconds int) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: input schema of %T: %v", *new(T), err))
	}
	bound := func(name string, f func(p *jsonschema.Schema)) {
		if p, ok := s.Properties[name]; ok {
			f(p)
		}
	}
	intp := func(v int) *float64 { f := float64(v); return &f }
	bound("reason", func(p *jsonschema.Schema) {
		p.MinLength, p.MaxLength = ptr(1), ptr(agentotp.MaxReasonLen)
	})
	bound("expected_sender", func(p *jsonschema.Schema) { p.MaxLength = ptr(agentotp.MaxExpectedSenderLen) })
	bound("sender_pattern", func(p *jsonschema.Schema) { p.MaxLength = ptr(255) })
	bound("sources", func(p *jsonschema.Schema) {
		p.Types, p.Type = nil, "array" // absent or a list; not null
		p.UniqueItems, p.MaxItems = true, ptr(2)
		if p.Items != nil {
			p.Items.Enum = []any{"sms", "email"}
		}
	})
	bound("timeout_seconds", func(p *jsonschema.Schema) {
		p.Minimum, p.Maximum = intp(1), intp(maxTimeoutSeconds)
	})
	bound("ttl_seconds", func(p *jsonschema.Schema) {
		p.Minimum, p.Maximum = intp(int(agentotp.MinTTL.Seconds())), intp(int(agentotp.MaxTTL.Seconds()))
	})
	bound("wait_seconds", func(p *jsonschema.Schema) { p.Minimum, p.Maximum = intp(0), intp(55) })
	bound("request_id", func(p *jsonschema.Schema) { p.MinLength, p.MaxLength = ptr(1), ptr(100) })
	return s
}

func ptr[T any](v T) *T { return &v }
