package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/extract"
)

// maxBatchLine bounds one line of `extract --batch` input.
const maxBatchLine = extract.MaxEmailSize + 1<<20

func newExtractCmd(a *app) *cobra.Command {
	var source, sender string
	var batch bool
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Find the verification code in a message (stdin), as the relay would",
		Long: `Reads one message on stdin and prints one JSON object:
  {"code": "…" | null, "confidence": 0.97, "candidates": [...]}
The input is read as an email when --source email is given or when it starts
with RFC 5322 headers, and as SMS text otherwise.

With --batch, stdin is JSON Lines, each {"source","sender","text"} (for email,
text is the whole RFC 5322 message; other fields are ignored), and one JSON
line is printed per input line, in order. A line that cannot be read gets
{"code": null, "error": "…"} and the batch goes on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if source != "" && source != "sms" && source != "email" {
				return &exitErr{exitUsage, fmt.Errorf("--source must be sms or email, not %q", source)}
			}
			if batch {
				return extractBatch(a.stdin, a.stdout)
			}
			data, err := io.ReadAll(io.LimitReader(a.stdin, extract.MaxEmailSize+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			res, err := extractOne(source, sender, data)
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
	cmd.Flags().BoolVar(&batch, "batch", false, "read JSON Lines of {source, sender, text}; print one result per line")
	return cmd
}

// extractOne runs the extractor on one message as the relay does.
func extractOne(source, sender string, data []byte) (extract.Result, error) {
	if len(data) > extract.MaxEmailSize {
		return extract.Result{}, fmt.Errorf("the message is over %d bytes", extract.MaxEmailSize)
	}
	if source == "email" || (source == "" && extract.LooksLikeEmail(data)) {
		em, err := extract.ParseEmail(data)
		if err != nil {
			return extract.Result{}, fmt.Errorf("read email: %w", err)
		}
		if sender != "" && em.Sender == "" {
			em.Sender = sender
		}
		return extract.Extract(em.Message)
	}
	return extract.Extract(extract.Message{Source: "sms", Sender: sender, Text: strings.TrimRight(string(data), "\r\n")})
}

type batchLine struct {
	Source string `json:"source"`
	Sender string `json:"sender"`
	Text   string `json:"text"`
}

type batchError struct {
	Code  *string `json:"code"`
	Error string  `json:"error"`
}

// extractBatch answers each JSON line of r with one JSON line on w.
func extractBatch(r io.Reader, w io.Writer) error {
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
			v = batchError{Error: fmt.Sprintf("line %d is not a JSON object of {source, sender, text}", n)}
		case in.Source != "" && in.Source != "sms" && in.Source != "email":
			v = batchError{Error: fmt.Sprintf("line %d: source must be sms or email", n)}
		default:
			res, xerr := extractOne(in.Source, in.Sender, []byte(in.Text))
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
