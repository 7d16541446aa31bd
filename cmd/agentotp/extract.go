package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
)

// maxBatchLine bounds one line of `extract --batch` input.
const maxBatchLine = extract.MaxEmailSize + 1<<20

func newExtractCmd(a *app) *cobra.Command {
	var source, sender, senderPattern string
	var batch bool
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Find the verification code in a message (stdin), as the relay would",
		Long: `Reads one message on stdin and prints one JSON object:
  {"code": "…" | null, "confidence": 0.97, "candidates": [...]}
("domain" and "origins" are added when the last line is an origin-bound
"@example.com #123456" line.) The input is read as an email when --source
email is given or when it starts with RFC 5322 headers, and as SMS text
otherwise.

--sender-pattern GLOB extracts as for a request whose filter has that sender
pattern, as the relay does: when the sender (--sender, or the email From)
matches GLOB, a message that is only a token ("2715", "5WGU8G", "123-456")
or a short message with one code-shaped token is taken as the code; when the
pattern names a domain ("*@acme.com"), an origin-bound code bound to another
site is withheld. A sender that does not match gets no help from the pattern.
GLOB is case-insensitive; '*' matches any run of characters, '?' one.

With --batch, stdin is JSON Lines, each {"source","sender","text"} with an
optional "sender_pattern" (for email, text is the whole RFC 5322 message;
other fields are ignored), and one JSON line is printed per input line, in
order. A line's "sender_pattern" works as --sender-pattern for that line
(and replaces the flag's). A line that cannot be read gets
{"code": null, "error": "…"} and the batch goes on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if source != "" && source != "sms" && source != "email" {
				return &exitErr{exitUsage, fmt.Errorf("--source must be sms or email, not %q", source)}
			}
			if senderPattern != "" {
				if _, err := domain.CompileGlob(senderPattern); err != nil {
					return &exitErr{exitUsage, fmt.Errorf("--sender-pattern: %w", err)}
				}
			}
			if batch {
				return extractBatch(a.stdin, a.stdout, senderPattern)
			}
			data, err := io.ReadAll(io.LimitReader(a.stdin, extract.MaxEmailSize+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			res, err := extractOne(source, sender, senderPattern, data)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "sms or email (default: email if the input starts with RFC 5322 headers)")
	cmd.Flags().StringVar(&sender, "sender", "", "the SMS sender or email From, when not in the message")
	cmd.Flags().StringVar(&senderPattern, "sender-pattern", "", "extract as for a request with this sender pattern (glob): a matching sender lets a bare token be the code")
	cmd.Flags().BoolVar(&batch, "batch", false, "read JSON Lines of {source, sender, text, sender_pattern (optional)}; print one result per line")
	return cmd
}

// extractOne runs the extractor on one message as the relay does, in the
// context of a request with sender pattern (when not "").
func extractOne(source, sender, pattern string, data []byte) (extract.Result, error) {
	if len(data) > extract.MaxEmailSize {
		return extract.Result{}, fmt.Errorf("the message is over %d bytes", extract.MaxEmailSize)
	}
	msg := extract.Message{Source: "sms", Sender: sender, Text: strings.TrimRight(string(data), "\r\n")}
	if source == "email" || (source == "" && extract.LooksLikeEmail(data)) {
		em, err := extract.ParseEmail(data)
		if err != nil {
			return extract.Result{}, fmt.Errorf("read email: %w", err)
		}
		if sender != "" && em.Sender == "" {
			em.Sender = sender
		}
		msg = em.Message
	}
	ctx, err := patternContext(pattern, msg)
	if err != nil {
		return extract.Result{}, err
	}
	return extract.ExtractWith(msg, ctx)
}

// patternContext is the extraction context the relay gives msg for a
// request whose filter has sender pattern: none when the sender does not
// match (such a request would not see the message).
func patternContext(pattern string, msg extract.Message) (extract.Context, error) {
	if pattern == "" {
		return extract.Context{}, nil
	}
	g, err := domain.CompileGlob(pattern)
	if err != nil {
		return extract.Context{}, fmt.Errorf("sender_pattern: %w", err)
	}
	if !g.Match(domain.SenderAddress(msg.Sender)) {
		return extract.Context{}, nil
	}
	return extract.Context{SenderMatched: true, Domain: extract.PatternDomain(pattern)}, nil
}

type batchLine struct {
	Source        string `json:"source"`
	Sender        string `json:"sender"`
	Text          string `json:"text"`
	SenderPattern string `json:"sender_pattern"`
}

type batchError struct {
	Code  *string `json:"code"`
	Error string  `json:"error"`
}

// extractBatch answers each JSON line of r with one JSON line on w.
// pattern is the --sender-pattern flag; a line's own sender_pattern
// replaces it.
func extractBatch(r io.Reader, w io.Writer, pattern string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	out := bufio.NewWriter(w)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br, maxBatchLine)
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		var v any
		switch in := (batchLine{}); {
		case tooLong:
			v = batchError{Error: fmt.Sprintf("line %d is over %d bytes", n, maxBatchLine)}
		case json.Unmarshal(line, &in) != nil:
			v = batchError{Error: fmt.Sprintf("line %d is not a JSON object of {source, sender, text, sender_pattern}", n)}
		case in.Source != "" && in.Source != "sms" && in.Source != "email":
			v = batchError{Error: fmt.Sprintf("line %d: source must be sms or email", n)}
		default:
			p := pattern
			if in.SenderPattern != "" {
				p = in.SenderPattern
			}
			res, xerr := extractOne(in.Source, in.Sender, p, []byte(in.Text))
			if xerr != nil {
				v = batchError{Error: fmt.Sprintf("line %d: %v", n, xerr)}
			} else {
				v = res
			}
		}
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write result %d: %w", n, err)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine reads one line without its newline. A line longer than max is
// consumed and reported as tooLong.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > max {
				line, tooLong = nil, true
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}
