package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/drain"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

// benchOptions are the flags of `agentotp bench`.
type benchOptions struct {
	server   string
	token    string
	dataDir  string
	clients  []int
	duration time.Duration
	waiters  int
	live     []int
	probes   int
	jsonOut  bool
	// The relay that bench starts runs as a child process: `agentotp
	// bench --relay-child`, which serves an embedded relay without rate
	// limits until its stdin closes.
	child    bool
	seedLive int
	// cpuProfile, when set, is where the relay writes a CPU profile of
	// the lifecycle run with the most agents.
	cpuProfile string
	// heapProfile, when set, is where the relay writes a heap profile
	// while the waiters of the waiters run wait.
	heapProfile string
	// database and relays: also run the lifecycle on `serve` relays, one
	// on embedded SQLite, then each number of relays on this PostgreSQL
	// database (bench_cluster.go).
	database string
	relays   []int
}

func newBenchCmd(a *app) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a relay: full lifecycles per second, latencies, cost at scale, memory per waiting agent",
		Long: `bench sizes a deployment. It starts a relay of its own (this binary, in a
separate process, on a loopback port, with a fresh SQLite file and no rate
limits) or targets one with --server (loopback only; that relay's rate limits
apply), and runs:

  lifecycles   N concurrent agents, each repeating create → approve → ingest →
               long-poll returns → consume → decrypt for --duration, for each N
               of --clients; lifecycles/s, p50/p99 of each step and of
               ingest → agent has the ciphertext.
  floors       the same five round trips against a bare net/http handler, and
               the same number of SQLite WAL commits with the store's pragmas
               (with and without a checkpoint per lifecycle), in the same run;
               the relay's ratio to each.
  live         with 0, 100, 1,000, 10,000 live requests present (--live), the
               cost of ingesting a message that matches nothing and of create +
               cancel.
  waiters      --waiters agents long-polling at once: relay memory per waiter
               (go_memstats from its /metrics), then all fed: feed rate and
               ingest → agent p50/p99.

It stops by itself; --json prints the figures as one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.child {
				return runBenchChild(cmd.Context(), a, o)
			}
			return runBench(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "measure this relay (a loopback URL) instead of starting one")
	f.StringVar(&o.token, "token", "", "owner token of --server (env AGENTOTP_OWNER_TOKEN; default: the data dir's owner.token)")
	f.StringVar(&o.dataDir, "data", defaultDataDir, "with --server: data directory holding owner.token")
	f.IntSliceVar(&o.clients, "clients", []int{1, 16, 64}, "concurrent agents of the lifecycle runs (0 skips them)")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "length of each lifecycle and floor run")
	f.IntVar(&o.waiters, "waiters", 1000, "agents long-polling at once in the waiters run (0 skips it)")
	f.IntSliceVar(&o.live, "live", []int{0, 100, 1000, 10000}, "live requests present in the cost-at-scale runs (empty skips them)")
	f.IntVar(&o.probes, "probes", 200, "ingests and create+cancels measured at each --live level")
	f.BoolVar(&o.jsonOut, "json", false, "print JSON")
	f.BoolVar(&o.child, "relay-child", false, "serve bench's own relay (used by bench itself)")
	f.IntVar(&o.seedLive, "seed-live", 0, "with --relay-child: live requests stored before serving")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write the relay's CPU profile of the lifecycle run with the most agents (with --clients 0: of the waiters run) to this file")
	f.StringVar(&o.heapProfile, "heapprofile", "", "write the relay's heap profile, taken while the waiters wait, to this file")
	f.StringVar(&o.database, "database", "", "also measure serve relays on PostgreSQL through this URL (loopback; its role makes and drops a database per run): one relay on SQLite, then --relays of them")
	f.IntSliceVar(&o.relays, "relays", []int{1, 2, 3}, "with --database: the numbers of relays to run on it, each with the most --clients")
	_ = f.MarkHidden("relay-child")
	_ = f.MarkHidden("seed-live")
	return cmd
}

// benchTarget is a relay under measurement.
type benchTarget struct {
	url, token string
	stop       func() error
	// peers are the other relays on the same database (bench_cluster.go):
	// a lifecycle then crosses relays step by step.
	peers []*benchTarget
}

// childHello is the line a relay child prints once it serves.
type childHello struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// runBenchChild serves an embedded relay for bench: a fresh store in
// --data, seedLive approved live requests stored first, no rate limits.
// It prints a childHello line and serves until stdin closes.
func runBenchChild(ctx context.Context, a *app, o benchOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, a.stdin); cancel() }()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return err
	}
	box, err := loadSecretBox(o.dataDir)
	if err != nil {
		return err
	}
	// Logs are written as serve writes them, JSON at info, but discarded:
	// their cost is measured, not their text.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, filepath.Join(o.dataDir, "agentotp.db"), log, sqlite.WithSecretBox(box))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	publicURL := "http://" + ln.Addr().String()
	cfg := relay.Config{PublicURL: publicURL, Logger: log, Secrets: box}
	boot := relay.New(store, relay.NewBroker(), cfg)
	owner, token, err := boot.EnsureOwner(ctx, "owner", true)
	if err != nil {
		return err
	}
	if o.seedLive > 0 {
		if err := seedLive(ctx, boot, store, owner.ID, o.seedLive); err != nil {
			return err
		}
	}
	// A service made after the seeding, as after a restart.
	svc := relay.New(store, relay.NewBroker(), cfg)
	apiCfg := httpapi.DefaultConfig()
	apiCfg.AgentRate, apiCfg.AgentBurst = 0, 0
	apiCfg.OwnerRate, apiCfg.OwnerBurst = 0, 0
	apiCfg.SourceRate, apiCfg.SourceBurst = 0, 0
	apiCfg.MaxWaits = 1 << 20
	api := httpapi.New(svc, log, apiCfg).Handler()
	mux := http.NewServeMux()
	// Before reading memory from /metrics, bench collects the garbage, so
	// that the figure is what is held, not what is yet to be freed. Only
	// bench's own relay has this route.
	mux.HandleFunc("POST /bench/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		runtime.GC()
		w.WriteHeader(http.StatusNoContent)
	})
	if o.heapProfile != "" {
		// bench asks for the heap profile while its waiters wait.
		mux.HandleFunc("POST /bench/heapprofile", func(w http.ResponseWriter, r *http.Request) {
			if err := writeHeapProfile(o.heapProfile); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	mux.Handle("/", api)
	// The server is set up as serve sets up its own (serve_main.go): the
	// same timeouts and a drain signal in every connection's context, so
	// that what a waiter costs here is what it costs there.
	draining := drain.New()
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return drain.With(ctx, draining) },
	}
	srv.RegisterOnShutdown(draining.Start)
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { svc.Run(runCtx, 5*time.Second); close(runDone) }()
	defer func() { stopRun(); <-runDone }()
	hello, _ := json.Marshal(childHello{URL: publicURL, Token: token})
	fmt.Fprintf(a.stdout, "%s\n", hello)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	_ = srv.Shutdown(shut)
	return nil
}

// seedLive stores n approved live requests of one agent straight into the
// store (the API's live cap and its cost would make seeding itself the
// benchmark); each waits for a sender that no bench message uses.
func seedLive(ctx context.Context, svc *relay.Service, store domain.Store, ownerID string, n int) error {
	na, err := svc.CreateAgent(ctx, ownerID, "bench-seed", false)
	if err != nil {
		return err
	}
	priv, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		return err
	}
	pub := priv.Public()
	now := svc.Now()
	for i := range n {
		r := &domain.Request{
			ID: domain.NewID("otp_"), OwnerID: ownerID, AgentID: na.Agent.ID, Status: domain.StatusPending,
			Reason: "bench seed", Encryption: string(pub.Algorithm()), PublicKey: pub.String(), KeyFingerprint: pub.Fingerprint(),
			Filter:    domain.Filter{Sources: []domain.Channel{domain.ChannelSMS}, SenderPattern: fmt.Sprintf("SEED%06d", i)},
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now,
		}
		if err := r.Approve(domain.DecidedByOwner, now); err != nil {
			return err
		}
		if err := store.CreateRequest(ctx, r); err != nil {
			return fmt.Errorf("seed live request %d: %w", i, err)
		}
	}
	return nil
}

// startChild starts a relay child with seed live requests.
func startChild(ctx context.Context, seed int, profile, heapProfile string) (*benchTarget, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentotp-bench-")
	if err != nil {
		return nil, err
	}
	args := []string{"bench", "--relay-child", "--data", filepath.Join(dir, "data"), "--seed-live", strconv.Itoa(seed)}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	if heapProfile != "" {
		args = append(args, "--heapprofile", heapProfile)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "AGENTOTP_SECRET_KEY=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		os.RemoveAll(dir)
		return err
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	var hello childHello
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("bench relay did not start: %v: %s", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &benchTarget{url: hello.URL, token: hello.Token, stop: stop}, nil
}

// loopbackOnly refuses a --server that is not on this machine: bench is a
// load generator, not to be pointed at someone else's relay.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--server %q: want http://127.0.0.1:PORT or another loopback URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--server %q: bench runs against loopback relays only", raw)
	}
	return nil
}

// benchReport is bench's output.
type benchReport struct {
	Target     string           `json:"target"`
	Duration   float64          `json:"duration_s"`
	Lifecycles []lifecycleRun   `json:"lifecycles"`
	Live       []liveRun        `json:"live,omitempty"`
	Waiters    *waitersRun      `json:"waiters,omitempty"`
	Serve      []clusterRun     `json:"serve,omitempty"` // with --database (bench_cluster.go)
	Errors     map[string]int64 `json:"errors,omitempty"`
}

// lifecycleRun is one lifecycle run with its floors.
type lifecycleRun struct {
	Clients       int                 `json:"clients"`
	Lifecycles    int64               `json:"lifecycles"`
	PerSecond     float64             `json:"lifecycles_per_s"`
	Steps         map[string]quantile `json:"steps_ms"`
	IngestToAgent quantile            `json:"ingest_to_agent_ms"`
	Failures      int64               `json:"failures"`
	FirstFailure  string              `json:"first_failure,omitempty"`
	HTTPFloor     float64             `json:"http_floor_per_s"`
	SQLiteFloor   float64             `json:"sqlite_floor_per_s"`
	SQLiteCkpt    float64             `json:"sqlite_floor_checkpoint_each_per_s"`
	RatioHTTP     float64             `json:"ratio_to_http_floor"`
	RatioSQLite   float64             `json:"ratio_to_sqlite_floor"`
}

// liveRun is the cost at one number of live requests.
type liveRun struct {
	Live         int      `json:"live_requests"`
	IngestNoMat  quantile `json:"ingest_no_match_ms"`
	CreateCancel quantile `json:"create_cancel_ms"`
}

// waitersRun is the waiters scenario.
type waitersRun struct {
	Waiters      int     `json:"waiters"`
	PerWaiterKiB float64 `json:"memory_per_waiter_kib"`
	// The same memory split into heap and goroutine stacks, and the
	// relay's goroutines per waiter (net/http's included).
	HeapPerWaiterKiB    float64 `json:"heap_per_waiter_kib"`
	StackPerWaiterKiB   float64 `json:"stack_per_waiter_kib"`
	GoroutinesPerWaiter float64 `json:"goroutines_per_waiter"`
	// CPUPerMessageMs is the relay's CPU time (user + system, from its
	// process_cpu_seconds_total) per message fed, ingest and the answer
	// of the long-poll it wakes: a figure that other load on the machine
	// disturbs less than the feed rate.
	CPUPerMessageMs float64  `json:"relay_cpu_per_message_ms"`
	FeedPerSecond   float64  `json:"feed_msg_per_s"`
	IngestToAgent   quantile `json:"ingest_to_agent_ms"`
	Failures        int64    `json:"failures"`
}

// quantile is a p50/p99 pair in milliseconds.
type quantile struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	N   int     `json:"n"`
}

func quantiles(ds []time.Duration) quantile {
	if len(ds) == 0 {
		return quantile{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	return quantile{P50: at(0.50), P99: at(0.99), N: len(ds)}
}

// samples collects durations from many goroutines.
type samples struct {
	mu sync.Mutex
	m  map[string][]time.Duration
}

func (s *samples) add(name string, d time.Duration) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string][]time.Duration{}
	}
	s.m[name] = append(s.m[name], d)
	s.mu.Unlock()
}

func runBench(ctx context.Context, a *app, o benchOptions) error {
	if o.duration <= 0 || o.probes < 1 || o.waiters < 0 {
		return &exitErr{exitUsage, errors.New("--duration and --probes must be positive, --waiters not negative")}
	}
	for _, c := range o.clients {
		if c < 0 {
			return &exitErr{exitUsage, errors.New("--clients must not be negative (0 skips the lifecycle runs)")}
		}
	}
	if o.database != "" {
		if err := checkBenchDatabase(o.database); err != nil {
			return &exitErr{exitUsage, err}
		}
		for _, n := range o.relays {
			if n < 1 || n > 16 {
				return &exitErr{exitUsage, errors.New("--relays must be between 1 and 16")}
			}
		}
	}
	if o.server != "" {
		if err := loopbackOnly(o.server); err != nil {
			return &exitErr{exitUsage, err}
		}
		if o.token == "" {
			if b, err := os.ReadFile(filepath.Join(o.dataDir, "owner.token")); err == nil {
				o.token = strings.TrimSpace(string(b))
			}
		}
		if o.token == "" {
			return &exitErr{exitUsage, errors.New("--server needs the owner token: --token, AGENTOTP_OWNER_TOKEN or --data")}
		}
	}
	rep := &benchReport{Target: "bench's own relay (separate process, fresh SQLite, no rate limits)", Duration: o.duration.Seconds()}
	if o.server != "" {
		rep.Target = o.server
	}
	progress := func(format string, args ...any) {
		if !o.jsonOut {
			fmt.Fprintf(a.stderr, format+"\n", args...)
		}
	}
	// open returns the relay of one run: a fresh child, or --server.
	open := func(seed int, profile, heapProfile string) (*benchTarget, error) {
		if o.server != "" {
			return &benchTarget{url: strings.TrimRight(o.server, "/"), token: o.token, stop: func() error { return nil }}, nil
		}
		return startChild(ctx, seed, profile, heapProfile)
	}
	abs := func(path string) (string, error) {
		if path == "" {
			return "", nil
		}
		return filepath.Abs(path)
	}
	most := slices.Max(append([]int{0}, o.clients...))
	tmp, err := os.MkdirTemp("", "agentotp-bench-floor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	for _, c := range o.clients {
		if c == 0 {
			continue
		}
		progress("lifecycles with %d concurrent agents for %v …", c, o.duration)
		profile := ""
		if c == most && o.cpuProfile != "" {
			if profile, err = filepath.Abs(o.cpuProfile); err != nil {
				return err
			}
		}
		t, err := open(0, profile, "")
		if err != nil {
			return err
		}
		run, err := benchLifecycles(ctx, t, c, o.duration)
		if serr := t.stop(); err == nil && serr != nil && o.server == "" {
			err = fmt.Errorf("bench relay: %w", serr)
		}
		if err != nil {
			return err
		}
		progress("  floors …")
		if run.HTTPFloor, err = httpFloor(ctx, c, o.duration); err != nil {
			return err
		}
		dir, _ := os.MkdirTemp(tmp, "f")
		fr, err := sqlite.MeasureCommitFloor(ctx, dir, c, commitsPerLifecycle, false, o.duration)
		if err != nil {
			return err
		}
		run.SQLiteFloor = fr.PerSecond()
		dir, _ = os.MkdirTemp(tmp, "f")
		if fr, err = sqlite.MeasureCommitFloor(ctx, dir, c, commitsPerLifecycle, true, o.duration); err != nil {
			return err
		}
		run.SQLiteCkpt = fr.PerSecond()
		run.RatioHTTP = ratio(run.PerSecond, run.HTTPFloor)
		run.RatioSQLite = ratio(run.PerSecond, run.SQLiteFloor)
		rep.Lifecycles = append(rep.Lifecycles, run)
	}
	levels := slices.Clone(o.live)
	slices.Sort(levels)
	for _, n := range slices.Compact(levels) {
		if n < 0 {
			continue
		}
		progress("cost with %d live requests …", n)
		t, err := open(n, "", "")
		if err != nil {
			return err
		}
		lr, err := benchLive(ctx, t, n, o.probes, o.server != "")
		_ = t.stop()
		if err != nil {
			return err
		}
		rep.Live = append(rep.Live, lr)
	}
	if o.waiters > 0 {
		progress("%d waiters …", o.waiters)
		profile := ""
		if most == 0 { // no lifecycle run: the CPU profile is of this one
			if profile, err = abs(o.cpuProfile); err != nil {
				return err
			}
		}
		heapProfile, err := abs(o.heapProfile)
		if err != nil {
			return err
		}
		t, err := open(0, profile, heapProfile)
		if err != nil {
			return err
		}
		wr, err := benchWaiters(ctx, t, o.waiters, heapProfile != "" && o.server == "")
		_ = t.stop()
		if err != nil {
			return err
		}
		rep.Waiters = wr
	}
	if o.database != "" && most > 0 {
		if rep.Serve, err = benchServeRuns(ctx, o.database, o.relays, most, o.duration, progress); err != nil {
			return err
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBench(a.stdout, rep)
	printServeRuns(a.stdout, rep.Serve)
	return nil
}

// commitsPerLifecycle is the write transactions one lifecycle makes in
// the relay's store (create, approve, the message id, the delivery,
// consume), which the SQLite floor repeats.
const commitsPerLifecycle = 5

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// firstError keeps the first error that many goroutines report.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// benchHTTP is a small JSON client for the bench's round trips.
type benchHTTP struct {
	base string
	hc   *http.Client
}

func newBenchHTTP(base string, conns int) *benchHTTP {
	tr := &http.Transport{MaxIdleConns: conns * 4, MaxIdleConnsPerHost: conns * 4, IdleConnTimeout: time.Minute}
	return &benchHTTP{base: base, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// call sends one request and decodes a 2xx answer into out.
func (b *benchHTTP) call(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// benchFleet is an owner's agents and one SMS source on a target.
type benchFleet struct {
	h      *benchHTTP
	relays []*benchHTTP // with peers: h first, then one per peer
	owner  string
	agents []string // API keys
	source string   // source token
	priv   *seal.PrivateKey
	pub    string
}

func newFleet(ctx context.Context, t *benchTarget, agents, conns int) (*benchFleet, error) {
	f := &benchFleet{h: newBenchHTTP(t.url, conns), owner: t.token}
	if len(t.peers) > 0 {
		f.relays = []*benchHTTP{f.h}
		for _, p := range t.peers {
			f.relays = append(f.relays, newBenchHTTP(p.url, conns))
		}
	}
	priv, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		return nil, err
	}
	f.priv, f.pub = priv, priv.Public().String()
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range agents {
		var na struct {
			APIKey string `json:"api_key"`
		}
		if err := f.h.call(ctx, http.MethodPost, "/v1/owner/agents", f.owner, map[string]any{"name": fmt.Sprintf("bench-%s-%d", stamp, i)}, &na); err != nil {
			return nil, fmt.Errorf("create bench agent: %w", err)
		}
		f.agents = append(f.agents, na.APIKey)
	}
	var ns struct {
		Token string `json:"token"`
	}
	if err := f.h.call(ctx, http.MethodPost, "/v1/owner/sources", f.owner, map[string]any{"name": "bench-" + stamp, "kind": "sms"}, &ns); err != nil {
		return nil, fmt.Errorf("create bench source: %w", err)
	}
	f.source = ns.Token
	return f, nil
}

// otpView is the part of a request object bench reads.
type otpView struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	EncryptedPayload string `json:"encrypted_payload"`
}

// on returns the relay that step of agent w's lifecycle goes to. On one
// relay it is always that relay; on several, the steps of one lifecycle
// go round them (create and the long-poll on one, the approval and the
// consume on the next, the ingest on the one after), so that every
// lifecycle waits on a change another relay committed.
func (f *benchFleet) on(w, step int) *benchHTTP {
	if len(f.relays) == 0 {
		return f.h
	}
	return f.relays[(w+step)%len(f.relays)]
}

// create asks for a request that only a message from sender feeds.
func (f *benchFleet) create(ctx context.Context, key, sender string) (string, error) {
	return f.createOn(ctx, f.h, key, sender)
}

func (f *benchFleet) createOn(ctx context.Context, h *benchHTTP, key, sender string) (string, error) {
	var r otpView
	err := h.call(ctx, http.MethodPost, "/v1/otp/request", key, map[string]any{
		"reason": "bench", "public_key": f.pub, "ttl": 600,
		"filter": map[string]any{"sources": []string{"sms"}, "sender_pattern": sender},
	}, &r)
	return r.ID, err
}

func (f *benchFleet) approve(ctx context.Context, id string) error {
	return f.approveOn(ctx, f.h, id)
}

func (f *benchFleet) approveOn(ctx context.Context, h *benchHTTP, id string) error {
	return h.call(ctx, http.MethodPost, "/v1/owner/requests/"+id+"/approve", f.owner, struct{}{}, nil)
}

// ingest posts an SMS from sender holding code; it reports whether it fed
// a request.
func (f *benchFleet) ingest(ctx context.Context, sender, code, externalID string) (bool, error) {
	return f.ingestOn(ctx, f.h, sender, code, externalID)
}

func (f *benchFleet) ingestOn(ctx context.Context, h *benchHTTP, sender, code, externalID string) (bool, error) {
	var res struct {
		Matched bool `json:"matched"`
	}
	err := h.call(ctx, http.MethodPost, "/v1/messages", f.source, map[string]any{
		"source": "sms", "sender": sender, "text": "Your verification code is " + code, "external_id": externalID,
	}, &res)
	return res.Matched, err
}

// lifecycle is one full lifecycle, timed step by step.
func (f *benchFleet) lifecycle(ctx context.Context, w int, key, sender, code string, s *samples) error {
	t0 := time.Now()
	id, err := f.createOn(ctx, f.on(w, 0), key, sender)
	if err != nil {
		return err
	}
	t1 := time.Now()
	s.add("create", t1.Sub(t0))
	if err := f.approveOn(ctx, f.on(w, 1), id); err != nil {
		return err
	}
	t2 := time.Now()
	s.add("approve", t2.Sub(t1))
	type waited struct {
		r   otpView
		at  time.Time
		err error
	}
	wc := make(chan waited, 1)
	poll := f.on(w, 0)
	go func() {
		var w waited
		w.err = poll.call(ctx, http.MethodGet, "/v1/otp/"+id+"?wait=30", key, nil, &w.r)
		w.at = time.Now()
		wc <- w
	}()
	t3 := time.Now()
	matched, err := f.ingestOn(ctx, f.on(w, 2), sender, code, "bench-"+id)
	if err != nil {
		return err
	}
	t4 := time.Now()
	s.add("ingest", t4.Sub(t3))
	if !matched {
		return fmt.Errorf("message for %s matched no request", id)
	}
	got := <-wc
	if got.err != nil {
		return got.err
	}
	if got.r.Status != "otp_received" {
		return fmt.Errorf("long-poll of %s returned %q", id, got.r.Status)
	}
	s.add("ingest_to_agent", got.at.Sub(t3))
	t5 := time.Now()
	var c otpView
	if err := f.on(w, 1).call(ctx, http.MethodPost, "/v1/otp/"+id+"/consume", key, struct{}{}, &c); err != nil {
		return err
	}
	t6 := time.Now()
	s.add("consume", t6.Sub(t5))
	plain, err := client.DecryptOTPPayload(f.priv, id, c.EncryptedPayload)
	if err != nil {
		return err
	}
	s.add("decrypt", time.Since(t6))
	if plain != code {
		return fmt.Errorf("request %s: decrypted %q, sent %q", id, plain, code)
	}
	s.add("lifecycle", time.Since(t0))
	return nil
}

// benchLifecycles runs c agents' lifecycles for d.
func benchLifecycles(ctx context.Context, t *benchTarget, c int, d time.Duration) (lifecycleRun, error) {
	f, err := newFleet(ctx, t, c, c)
	if err != nil {
		return lifecycleRun{}, err
	}
	var s samples
	var n, fails atomic.Int64
	var firstErr firstError
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := range c {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				sender := fmt.Sprintf("BENCH%dX%d", w, i)
				code := fmt.Sprintf("%06d", (w*7919+i*104729)%1000000)
				if err := f.lifecycle(ctx, w, f.agents[w], sender, code, &s); err != nil {
					fails.Add(1)
					firstErr.set(err)
					if ctx.Err() != nil || fails.Load() > 100 {
						return
					}
					continue
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n.Load() == 0 {
		return lifecycleRun{}, fmt.Errorf("no lifecycle finished with %d agents: %v", c, firstErr.get())
	}
	run := lifecycleRun{Clients: c, Lifecycles: n.Load(), PerSecond: float64(n.Load()) / elapsed.Seconds(),
		Steps: map[string]quantile{}, Failures: fails.Load()}
	if err := firstErr.get(); err != nil {
		run.FirstFailure = err.Error()
	}
	for name, ds := range s.m {
		if name == "ingest_to_agent" {
			run.IngestToAgent = quantiles(ds)
			continue
		}
		run.Steps[name] = quantiles(ds)
	}
	return run, nil
}

// httpFloor runs, with c clients for d, five sequential round trips per
// lifecycle against a bare net/http handler on loopback that reads a small
// JSON body and answers a small JSON object, and returns lifecycles/s.
func httpFloor(ctx context.Context, c int, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	answer := []byte(`{"id":"otp_0000000000000000000000","status":"approved"}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	h := newBenchHTTP("http://"+ln.Addr().String(), c)
	var n atomic.Int64
	var wg sync.WaitGroup
	var failed firstError
	start := time.Now()
	stop := start.Add(d)
	for range c {
		wg.Go(func() {
			for time.Now().Before(stop) {
				for step := range 5 {
					var out map[string]any
					if err := h.call(ctx, http.MethodPost, "/step/"+strconv.Itoa(step), "x", map[string]string{"reason": "floor"}, &out); err != nil {
						failed.set(err)
						return
					}
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err := failed.get(); err != nil {
		return 0, fmt.Errorf("net/http floor: %w", err)
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// benchLive measures, with n live requests present, ingesting a message
// that matches none and creating + cancelling a request. With remote
// (--server), the n live requests are made through the API first.
func benchLive(ctx context.Context, t *benchTarget, n, probes int, remote bool) (liveRun, error) {
	f, err := newFleet(ctx, t, 1, 4)
	if err != nil {
		return liveRun{}, err
	}
	if remote && n > 0 {
		if err := fillLive(ctx, t, f, n); err != nil {
			return liveRun{}, err
		}
	}
	var ing, cc []time.Duration
	for i := range probes {
		t0 := time.Now()
		matched, err := f.ingest(ctx, "NOMATCH", "424242", fmt.Sprintf("nomatch-%d-%d", n, i))
		if err != nil {
			return liveRun{}, err
		}
		if matched {
			return liveRun{}, errors.New("a message for no request fed one")
		}
		ing = append(ing, time.Since(t0))
	}
	for range probes {
		t0 := time.Now()
		id, err := f.create(ctx, f.agents[0], "PROBE")
		if err != nil {
			return liveRun{}, err
		}
		if err := f.h.call(ctx, http.MethodDelete, "/v1/otp/"+id, f.agents[0], nil, nil); err != nil {
			return liveRun{}, err
		}
		cc = append(cc, time.Since(t0))
	}
	return liveRun{Live: n, IngestNoMat: quantiles(ing), CreateCancel: quantiles(cc)}, nil
}

// fillLive makes n live requests on a remote relay through its API,
// spread over agents as the live cap per agent demands.
func fillLive(ctx context.Context, t *benchTarget, f *benchFleet, n int) error {
	per := relay.MaxLiveRequestsPerAgent
	g, err := newFleet(ctx, t, (n+per-1)/per, 8)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := g.create(ctx, g.agents[i/per], fmt.Sprintf("FILL%06d", i)); err != nil {
			return err
		}
	}
	return nil
}

// benchWaiters opens w long-polls at once, each a bare connection with its
// request written, reads the relay's memory from its /metrics before and
// after, then feeds them all from 8 concurrent senders.
func benchWaiters(ctx context.Context, t *benchTarget, w int, heapProfile bool) (*waitersRun, error) {
	per := relay.MaxLiveRequestsPerAgent
	f, err := newFleet(ctx, t, (w+per-1)/per, 16)
	if err != nil {
		return nil, err
	}
	type waiter struct {
		id, sender, code, key string
		conn                  net.Conn
		fed, got              time.Time
		err                   error
	}
	ws := make([]*waiter, w)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var setupErr firstError
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				x := &waiter{sender: fmt.Sprintf("WAIT%06d", i), code: fmt.Sprintf("%06d", (i*7919)%1000000), key: f.agents[i/per]}
				id, err := f.create(ctx, x.key, x.sender)
				if err == nil {
					err = f.approve(ctx, id)
				}
				if err != nil {
					setupErr.set(err)
				}
				x.id = id
				ws[i] = x
			}
		})
	}
	for i := range w {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := setupErr.get(); err != nil {
		return nil, fmt.Errorf("waiters: %w", err)
	}
	base, err := relayMemory(ctx, f.h)
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(t.url, "http://"), "https://")
	defer func() {
		for _, x := range ws {
			if x.conn != nil {
				x.conn.Close()
			}
		}
	}()
	for _, x := range ws {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("waiters: %w", err)
		}
		x.conn = c
		fmt.Fprintf(c, "GET /v1/otp/%s?wait=55 HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", x.id, addr, x.key)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var held memoryFigures
	for {
		if held, err = relayMemory(ctx, f.h); err != nil {
			return nil, err
		}
		if held.waiters-base.waiters >= float64(w) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waiters: %.0f of %d long-polls are waiting", held.waiters-base.waiters, w)
		}
		time.Sleep(50 * time.Millisecond)
	}
	perWaiter := func(a, b float64) float64 { return (a - b) / float64(w) }
	run := &waitersRun{Waiters: w,
		PerWaiterKiB:        perWaiter(held.heap+held.stack, base.heap+base.stack) / 1024,
		HeapPerWaiterKiB:    perWaiter(held.heap, base.heap) / 1024,
		StackPerWaiterKiB:   perWaiter(held.stack, base.stack) / 1024,
		GoroutinesPerWaiter: perWaiter(held.goroutines, base.goroutines),
	}
	if heapProfile {
		if err := benchPost(ctx, f.h, "/bench/heapprofile"); err != nil {
			return nil, fmt.Errorf("waiters: heap profile: %w", err)
		}
	}

	var rg sync.WaitGroup
	for _, x := range ws {
		rg.Go(func() {
			_ = x.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(x.conn), nil)
			if err != nil {
				x.err = err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			x.got = time.Now()
			if err != nil || !bytes.Contains(b, []byte(`"otp_received"`)) {
				x.err = fmt.Errorf("long-poll of %s: %v %.200s", x.id, err, b)
			}
		})
	}
	feed := make(chan *waiter)
	var fg sync.WaitGroup
	start := time.Now()
	for range 8 {
		fg.Go(func() {
			for x := range feed {
				x.fed = time.Now()
				matched, err := f.ingest(ctx, x.sender, x.code, "wait-"+x.id)
				if err == nil && !matched {
					err = errors.New("matched no request")
				}
				if err != nil {
					x.err = fmt.Errorf("feed %s: %w", x.id, err)
				}
			}
		})
	}
	for _, x := range ws {
		feed <- x
	}
	close(feed)
	fg.Wait()
	rg.Wait()
	total := time.Since(start)
	if after, err := relayMemory(ctx, f.h); err == nil {
		run.CPUPerMessageMs = (after.cpu - held.cpu) * 1000 / float64(w)
	}
	var lat []time.Duration
	for _, x := range ws {
		if x.err != nil {
			run.Failures++
			continue
		}
		lat = append(lat, x.got.Sub(x.fed))
	}
	run.FeedPerSecond = float64(w) / total.Seconds()
	run.IngestToAgent = quantiles(lat)
	return run, nil
}

// memoryFigures are the relay's heap and stacks in use, its goroutines
// and its waiters, from its /metrics.
type memoryFigures struct {
	heap, stack, goroutines, waiters, cpu float64
}

// relayMemory reads the relay's memoryFigures from /metrics, after asking
// bench's own relay to collect its garbage.
func relayMemory(ctx context.Context, h *benchHTTP) (memoryFigures, error) {
	var m memoryFigures
	_ = benchPost(ctx, h, "/bench/gc") // --server: a 404, and memory as it stands
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/metrics", nil)
	if err != nil {
		return m, err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return m, fmt.Errorf("read /metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, perr := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if perr != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.heap = v
		case "go_memstats_stack_inuse_bytes":
			m.stack = v
		case "go_goroutines":
			m.goroutines = v
		case "agentotp_waiters":
			m.waiters = v
		case "process_cpu_seconds_total":
			m.cpu = v
		}
	}
	return m, sc.Err()
}

// benchPost sends an empty POST to one of bench's own relay routes and
// wants 204.
func benchPost(ctx context.Context, h *benchHTTP, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// printBench writes the report as a table.
func printBench(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "agentotp bench: %s; %gs per run\n\n", r.Target, r.Duration)
	fmt.Fprintf(w, "full lifecycles (create → approve → ingest → long-poll returns → consume → decrypt)\n")
	fmt.Fprintf(w, "  %-8s %12s %14s %14s %12s %12s %10s\n", "clients", "lifecycles/s", "ingest→agent", "net/http floor", "SQLite floor", "+checkpoint", "failures")
	fmt.Fprintf(w, "  %-8s %12s %14s %14s %12s %12s\n", "", "", "p50/p99 ms", "/s (ratio)", "/s (ratio)", "/s")
	for _, l := range r.Lifecycles {
		fmt.Fprintf(w, "  %-8d %12.0f %14s %14s %12s %12.0f %10d\n", l.Clients, l.PerSecond,
			fmt.Sprintf("%.1f/%.1f", l.IngestToAgent.P50, l.IngestToAgent.P99),
			fmt.Sprintf("%.0f (%.2f)", l.HTTPFloor, l.RatioHTTP), fmt.Sprintf("%.0f (%.2f)", l.SQLiteFloor, l.RatioSQLite),
			l.SQLiteCkpt, l.Failures)
	}
	fmt.Fprintf(w, "\nper step, p50/p99 ms\n  %-8s", "clients")
	steps := []string{"create", "approve", "ingest", "consume", "decrypt", "lifecycle"}
	for _, s := range steps {
		fmt.Fprintf(w, " %14s", s)
	}
	fmt.Fprintln(w)
	for _, l := range r.Lifecycles {
		fmt.Fprintf(w, "  %-8d", l.Clients)
		for _, s := range steps {
			q := l.Steps[s]
			fmt.Fprintf(w, " %14s", fmt.Sprintf("%.2f/%.2f", q.P50, q.P99))
		}
		fmt.Fprintln(w)
	}
	if len(r.Live) > 0 {
		fmt.Fprintf(w, "\ncost with live requests present, over HTTP, p50/p99 ms\n  %-14s %18s %18s\n", "live requests", "ingest, no match", "create + cancel")
		for _, l := range r.Live {
			fmt.Fprintf(w, "  %-14d %18s %18s\n", l.Live, fmt.Sprintf("%.2f/%.2f", l.IngestNoMat.P50, l.IngestNoMat.P99),
				fmt.Sprintf("%.2f/%.2f", l.CreateCancel.P50, l.CreateCancel.P99))
		}
	}
	if x := r.Waiters; x != nil {
		fmt.Fprintf(w, "\n%d long-polls waiting: %.1f KiB per waiter (relay heap %.1f + stacks %.1f), %.2f goroutines per waiter; all fed at %.0f msg/s (relay CPU %.2f ms per message); ingest→agent p50 %.1f ms, p99 %.1f ms; failures %d\n",
			x.Waiters, x.PerWaiterKiB, x.HeapPerWaiterKiB, x.StackPerWaiterKiB, x.GoroutinesPerWaiter, x.FeedPerSecond, x.CPUPerMessageMs, x.IngestToAgent.P50, x.IngestToAgent.P99, x.Failures)
	}
}

// writeHeapProfile writes the heap profile of this process to path, after
// a collection, so that it shows what is held.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if g, err := os.Create(path + ".goroutines"); err == nil {
		_ = pprof.Lookup("goroutine").WriteTo(g, 1)
		g.Close()
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
