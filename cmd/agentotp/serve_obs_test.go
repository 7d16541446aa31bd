package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/relaytest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeStreams: with JSON logs, stderr holds JSON lines only and the
// banner is on stdout; a second relay on the same data directory refuses
// to start and names the first's PID.
func TestServeStreams(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json")
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &relaytest.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	var banner []string
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		banner = append(banner, sc.Text())
		if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
			url = u
		}
		if strings.HasPrefix(sc.Text(), "next, in another shell") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if url == "" {
		t.Fatalf("no banner on stdout: %q; stderr %s", banner, logs.String())
	}
	if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	second := agentotp(t, "", nil, "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json")
	pid := strconv.Itoa(cmd.Process.Pid)
	if second.code == 0 || !strings.Contains(second.stderr, "in use by process "+pid) {
		t.Errorf("second relay on the same data directory: %+v (first is %s)", second, pid)
	}

	cancel()
	cmd.Wait()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
		}
	}
	if strings.Contains(logs.String(), "listening on") {
		t.Error("the banner reached the log stream")
	}
	// Once the first has stopped, the directory is free again.
	r := startRelayIn(t, data)
	if resp, err := http.Get(r.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("relay after the first stopped: %v %v", resp, err)
	}
}

// startRelayIn is startRelay on a given data directory.
func startRelayIn(t *testing.T, data string, extra ...string) *relayProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json"}, extra...)...)
	cmd.Env = cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	buf := &relaytest.Buffer{}
	cmd.Stderr = buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	r := &relayProc{data: data, stderr: buf, cmd: cmd}
	metricsRE := regexp.MustCompile(`metrics:\s+(\S+)`)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("relay ended: %s", buf.String())
			}
			if _, u, ok := strings.Cut(l, "listening on "); ok {
				r.url = u
			}
			if m := metricsRE.FindStringSubmatch(l); m != nil {
				r.metricsURL = m[1]
			}
			if strings.HasPrefix(l, "next, in another shell") {
				go func() {
					for range lines {
					}
				}()
				return r
			}
		case <-timeout:
			t.Fatalf("relay did not start: %s", buf.String())
		}
	}
}

// TestServeMetricsAddr: --metrics-addr serves /metrics apart from the
// API (which then has none), with the webhook deliveries, the outbox, the
// build and the HTTP method, parsed by the Prometheus text parser.
func TestServeMetricsAddr(t *testing.T) {
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	r := startRelayIn(t, filepath.Join(t.TempDir(), "data"), "--metrics-addr", "127.0.0.1:0", "--allow-private-webhooks")
	if r.metricsURL == "" {
		t.Fatal("no metrics address in the banner")
	}
	if resp, err := http.Get(r.url + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the API still serves /metrics: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	agentID, key := r.newAgent(t, "--test")
	if res := r.owner(t, "webhooks", "set-url", agentID, hook.URL+"/otp"); res.code != 0 {
		t.Fatalf("set-url: %+v", res)
	}
	// A test agent's request is approved and answered at once: each
	// change is a webhook delivery.
	res := agentotp(t, "", nil, "request", "--reason", "metrics", "--server", r.url, "--api-key", key, "--timeout", "10s", "--quiet")
	if res.code != 0 {
		t.Fatalf("request: %+v", res)
	}
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(r.metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err = p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if delivered(fams) >= 1 && gauge(fams, "agentotp_webhook_outbox_pending") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery counted (receiver got %d)", hits.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if int(delivered(fams)) > int(hits.Load()) {
		t.Errorf("%v deliveries counted, %d received", delivered(fams), hits.Load())
	}
	for _, name := range []string{"agentotp_build_info", "agentotp_webhook_outbox_oldest_age_seconds", "agentotp_imap_connectors", "agentotp_waiters"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	found := false
	for _, m := range fams["agentotp_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["method"] == "POST" && labels["route"] == "/v1/otp/request" && labels["code"] == "201" {
			found = true
		}
	}
	if !found {
		t.Error("no agentotp_http_requests_total{method=POST,route=/v1/otp/request,code=201}")
	}
}

func delivered(fams map[string]*dto.MetricFamily) float64 {
	for _, m := range fams["agentotp_webhook_deliveries_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "outcome" && l.GetValue() == "delivered" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func gauge(fams map[string]*dto.MetricFamily, name string) float64 {
	f, ok := fams[name]
	if !ok || len(f.Metric) == 0 {
		return -1
	}
	return f.Metric[0].GetGauge().GetValue()
}
