package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/agentotp/agentotp"
)

// Body limits.
const (
	maxJSONBody    = 64 << 10
	maxMessageBody = 1 << 20
	maxRawEmail    = 10 << 20
)

// readBody reads at most limit bytes of the body; more is PAYLOAD_TOO_LARGE.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, agentotp.Errorf(agentotp.ETooLarge, "the body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, agentotp.Errorf(agentotp.EValidation, "the body could not be read")
	}
	return b, nil
}

// mediaType returns the request's media type, lower case, "" if none.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return strings.ToLower(mt)
}

// decodeJSON decodes a JSON body strictly into v: unknown fields, trailing
// data, wrong types and oversize bodies are errors. An empty body decodes
// as {} when allowEmpty is set.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	if mt := mediaType(r); mt != "" && mt != "application/json" {
		return agentotp.Errorf(agentotp.EUnsupportedMedia, "Content-Type must be application/json")
	}
	b, err := readBody(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v, allowEmpty)
}

func unmarshalStrict(b []byte, v any, allowEmpty bool) error {
	if len(bytes.TrimSpace(b)) == 0 {
		if allowEmpty {
			return nil
		}
		return agentotp.Errorf(agentotp.EValidation, "a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return agentotp.Errorf(agentotp.EValidation, "the body holds data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return agentotp.Errorf(agentotp.EValidation, "the body holds data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a validation error naming the
// field where it can.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return agentotp.Errorf(agentotp.EValidation, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return agentotp.FieldErr(field, "must be of type %s", jsonKind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return agentotp.FieldErr(field, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return agentotp.Errorf(agentotp.EValidation, "malformed JSON: unexpected end of input")
	}
	// time.Time and other text unmarshalers report their own errors.
	return agentotp.Errorf(agentotp.EValidation, "invalid JSON value: %s", sanitize(err.Error()))
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "string":
		return "string"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	}
	return "object"
}

// sanitize keeps an error message short and printable.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
