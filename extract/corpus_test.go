package extract

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// sharedCorpusSHA256 pins testdata/corpus/shared.jsonl, the byte-for-byte
// copy of ../shared/corpus/extract.jsonl. Update it only together with a
// fresh copy of the shared file.
const sharedCorpusSHA256 = "fff679790b14e300c31cc37f843fca3505ffbf72ee025d3a3155f12b255cda59"

type corpusCase struct {
	ID     string  `json:"id"`
	Source string  `json:"source"`
	Sender string  `json:"sender"`
	Text   string  `json:"text"`
	Want   *string `json:"want"`
	// SenderPattern, when set, is the sender pattern of the request the
	// message may feed: the case is extracted with the context the relay
	// gives it (see runCase).
	SenderPattern string `json:"sender_pattern"`
	file          string
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	sort.Strings(files)
	var cases []corpusCase
	ids := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var c corpusCase
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("%s:%d: %v", f, n, err)
			}
			if c.ID == "" || (c.Source != "sms" && c.Source != "email") {
				t.Fatalf("%s:%d: bad case %q source %q", f, n, c.ID, c.Source)
			}
			if prev, dup := ids[c.ID]; dup {
				t.Fatalf("%s:%d: duplicate id %q (also in %s)", f, n, c.ID, prev)
			}
			ids[c.ID] = f
			c.file = filepath.Base(f)
			cases = append(cases, c)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return cases
}

// runCase runs one labelled case the way the relay and the CLI do: with
// the context of a request whose filter has the case's sender pattern, when
// it has one and the sender matches it.
func runCase(c corpusCase) (Result, error) {
	msg := Message{Source: "sms", Sender: c.Sender, Text: c.Text}
	if c.Source == "email" {
		e, err := ParseEmail([]byte(c.Text))
		if err != nil {
			return Result{}, err
		}
		msg = e.Message
	}
	var ctx Context
	if c.SenderPattern != "" {
		g, err := agentotp.CompileGlob(c.SenderPattern)
		if err != nil {
			return Result{}, err
		}
		if g.Match(agentotp.SenderAddress(msg.Sender)) {
			ctx = Context{SenderMatched: true, Domain: PatternDomain(c.SenderPattern)}
		}
	}
	return ExtractWith(msg, ctx)
}

// caseClass is the class of a case: its id up to the first '-'.
func caseClass(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

func TestSharedCorpusCopyUnchanged(t *testing.T) {
	local, err := os.ReadFile(filepath.Join("testdata", "corpus", "shared.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(local)
	if got := hex.EncodeToString(sum[:]); got != sharedCorpusSHA256 {
		t.Errorf("testdata/corpus/shared.jsonl has SHA-256 %s, want %s: the copy drifted", got, sharedCorpusSHA256)
	}
	// The module root is the parent of this package; the shared corpus
	// lives next to the module.
	upstream, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "extract.jsonl"))
	if err != nil {
		// A clone of the repository has no ../shared: the pinned hash
		// above is the check there, in CI too.
		t.Skipf("shared corpus not found (%v); only the pinned hash was checked", err)
	}
	if !bytes.Equal(local, upstream) {
		t.Errorf("testdata/corpus/shared.jsonl differs from ../shared/corpus/extract.jsonl: copy it again byte for byte and update sharedCorpusSHA256")
	}
}

func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	var total, none, pass int
	perFile := map[string][2]int{}
	perClass := map[string][3]int{} // passed, total, no-code
	for _, c := range cases {
		total++
		want := ""
		if c.Want == nil {
			none++
		} else {
			want = *c.Want
		}
		res, err := runCase(c)
		got := res.Code
		ok := err == nil && got == want
		pf := perFile[c.file]
		pf[1]++
		if ok {
			pass++
			pf[0]++
		} else {
			var cands []string
			for _, cd := range res.Candidates {
				cands = append(cands, cd.Code+"="+ftoa(cd.Score)+" "+strings.Join(cd.Reasons, "; "))
			}
			t.Errorf("%s/%s: got %q want %q (err %v)\n  text: %.300q\n  candidates:\n    %s", c.file, c.ID, got, want, err, c.Text, strings.Join(cands, "\n    "))
		}
		perFile[c.file] = pf
		pc := perClass[caseClass(c.ID)]
		pc[1]++
		if ok {
			pc[0]++
		}
		if c.Want == nil {
			pc[2]++
		}
		perClass[caseClass(c.ID)] = pc
		if got != "" && len(res.Origins) == 0 {
			if n := utf8.RuneCountInString(got); n < 3 || n > 10 || !isASCIIAlnumString(got) {
				t.Errorf("%s: code %q is not 3–10 letters/digits", c.ID, got)
			}
		}
		if res.Confidence < 0 || res.Confidence > 1 {
			t.Errorf("%s: confidence %v out of range", c.ID, res.Confidence)
		}
	}
	files := make([]string, 0, len(perFile))
	for f := range perFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Logf("%-22s %d/%d", f, perFile[f][0], perFile[f][1])
	}
	if testing.Verbose() || os.Getenv("EXTRACT_CLASSES") != "" {
		classes := make([]string, 0, len(perClass))
		for k := range perClass {
			classes = append(classes, k)
		}
		sort.Strings(classes)
		var b strings.Builder
		fmt.Fprintf(&b, "%-10s %6s %6s %8s %7s\n", "class", "cases", "null", "passed", "rate")
		for _, k := range classes {
			pc := perClass[k]
			fmt.Fprintf(&b, "%-10s %6d %6d %8d %6.1f%%\n", k, pc[1], pc[2], pc[0], 100*float64(pc[0])/float64(pc[1]))
		}
		t.Logf("pass rate by class (id prefix):\n%s", b.String())
	}
	t.Logf("corpus: %d cases, %d with no code, %d passed (%.1f%%)", total, none, pass, 100*float64(pass)/float64(total))
	if total < 300 {
		t.Errorf("corpus has %d cases, want at least 300", total)
	}
	if none*4 < total {
		t.Errorf("corpus has %d no-code cases of %d, want at least a quarter", none, total)
	}
}

func isASCIIAlnumString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestCorpusDump prints the full Result of selected cases, for working on
// the rules:  EXTRACT_DUMP=p15,email-gb2312 go test -run TestCorpusDump -v
func TestCorpusDump(t *testing.T) {
	ids := os.Getenv("EXTRACT_DUMP")
	if ids == "" {
		t.Skip("set EXTRACT_DUMP to a comma-separated list of case ids")
	}
	want := map[string]bool{}
	for _, id := range strings.Split(ids, ",") {
		want[strings.TrimSpace(id)] = true
	}
	for _, c := range loadCorpus(t) {
		if !want[c.ID] {
			continue
		}
		res, err := runCase(c)
		b, _ := json.MarshalIndent(res, "", "  ")
		t.Logf("%s (want %v, err %v):\n%s", c.ID, c.Want, err, b)
	}
}
