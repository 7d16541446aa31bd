package httpapi_test

import (
	"net/http/httptest"
	"testing"

	"github.com/agentotp/agentotp/httpapi"
)

// BenchmarkHealthz is one GET /healthz through the whole handler chain
// (request id, recovery, access log, CORS, mux), with and without an
// incoming traceparent.
func BenchmarkHealthz(b *testing.B) {
	h := httpapi.New(nil, nil, httpapi.DefaultConfig()).Handler()
	for _, tc := range []struct{ name, tp string }{{"made-id", ""}, {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", "/healthz", nil)
				if tc.tp != "" {
					req.Header.Set("Traceparent", tc.tp)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
