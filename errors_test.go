package agentotp_test

import (
	"testing"

	"github.com/agentotp/agentotp"
)

// TestValidationErrorText: a field name appears once in the text, and a
// problem with several fields names all of them.
func TestValidationErrorText(t *testing.T) {
	var two agentotp.ValidationErrors
	two.Add("reason", "is required")
	two.Add("ttl", "must be between %d and %d seconds", 60, 3600)
	var same agentotp.ValidationErrors
	same.Add("name", "is required")
	same.Add("name", "is too long")
	tests := []struct {
		name     string
		err      error
		msg, all string
		fields   int
	}{
		{"one field", agentotp.FieldErr("public_key", "not valid base64"), "public_key: not valid base64", "public_key: not valid base64", 1},
		{"two fields", two.Err(), "2 fields are invalid: reason, ttl", "2 fields are invalid: reason, ttl (reason: is required; ttl: must be between 60 and 3600 seconds)", 2},
		{"one field twice", same.Err(), "name is invalid", "name is invalid (name: is required; name: is too long)", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := tt.err.(*agentotp.Error)
			if !ok || e.Code != agentotp.EValidation {
				t.Fatalf("err = %#v, want a VALIDATION_ERROR", tt.err)
			}
			if e.Message != tt.msg || e.Error() != tt.all || len(e.Fields) != tt.fields {
				t.Errorf("message %q, text %q, %d fields; want %q, %q, %d", e.Message, e.Error(), len(e.Fields), tt.msg, tt.all, tt.fields)
			}
		})
	}
}
