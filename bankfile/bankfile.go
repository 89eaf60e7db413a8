// Package bankfile reads and writes the files civicflow exchanges with
// banks for a disbursement run (docs/payments.md): the batch file it
// sends (代发文件), one per run and bank, and the return file the bank
// sends back (回盘文件) with each line's outcome.
//
// Both are UTF-8 text, one record per line, fields separated by '|'
// (no field may contain one). A header record (H) carries the control
// total — number of lines and their sum — which the detail records (D)
// must add up to; a file whose records do not is refused whole.
//
//	H|<batch no>|<bank>|<payer>|<lines>|<total>|<summary>
//	D|<seq>|<line id>|<name>|<account>|<amount>|<summary>
//
// The return file:
//
//	H|<batch no>|<lines>|<total>
//	D|<line id>|<account>|<amount>|<S paid, F failed, R returned>|<reason>
//
// Amounts are yuan with two decimals ("751.00").
package bankfile

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"civicflow"
)

// Payer is the paying unit named in every batch file.
const Payer = "西安市民政局"

// Header is a batch file's header: which batch, and its control total.
type Header struct {
	BatchNo string
	Bank    string
	Lines   int
	Total   int64 // CNY
	Summary string
}

// Line is one payment of a batch file.
type Line struct {
	Seq     int
	LineID  int64
	Name    string
	Account string
	Amount  int64 // CNY
}

// WriteHeader writes the header record.
func WriteHeader(w io.Writer, h Header) error {
	_, err := fmt.Fprintf(w, "H|%s|%s|%s|%d|%s|%s\n", h.BatchNo, h.Bank, Payer, h.Lines, civicflow.FormatYuan(h.Total), clean(h.Summary))
	return err
}

// AppendLine appends one detail record to b.
func AppendLine(b []byte, l Line, summary string) []byte {
	b = append(b, "D|"...)
	b = strconv.AppendInt(b, int64(l.Seq), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, l.LineID, 10)
	b = append(b, '|')
	b = append(b, clean(l.Name)...)
	b = append(b, '|')
	b = append(b, l.Account...)
	b = append(b, '|')
	b = append(b, civicflow.FormatYuan(l.Amount)...)
	b = append(b, '|')
	b = append(b, clean(summary)...)
	return append(b, '\n')
}

// clean keeps a text field within its record.
func clean(s string) string {
	return strings.NewReplacer("|", "/", "\n", " ", "\r", " ").Replace(s)
}

// Outcome codes of a return file.
const (
	CodePaid     = "S"
	CodeFailed   = "F"
	CodeReturned = "R"
)

// Result is one line's outcome in a return file.
type Result struct {
	LineID  int64
	Account string
	Amount  int64
	Outcome civicflow.LineState // LinePaid, LineFailed or LineReturned
	Reason  string
}

// Return is a parsed return file.
type Return struct {
	BatchNo string
	Lines   int
	Total   int64
	Results []Result
}

// Problem is what is wrong with a file: its line (1 is the header) and why.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// maxProblems bounds the problems reported; the first ones say enough.
const maxProblems = 100

// ParseReturn reads a return file and checks it on its own: its header,
// each record, no line twice, and the control total. Matching it against
// the batch is the store's. Problems are nil when the file is sound.
func ParseReturn(r io.Reader) (*Return, []Problem) {
	var (
		ret      Return
		problems []Problem
		seen     = map[int64]bool{}
		sum      int64
		n        int
	)
	add := func(line int, format string, args ...any) {
		if len(problems) < maxProblems {
			problems = append(problems, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	header := false
	for sc.Scan() {
		n++
		text := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if text == "" {
			continue
		}
		f := strings.Split(text, "|")
		switch {
		case !header:
			if f[0] != "H" || len(f) != 4 {
				add(n, "the first record must be the header H|batch no|lines|total")
				return nil, problems
			}
			header = true
			ret.BatchNo = f[1]
			lines, err := strconv.Atoi(f[2])
			if err != nil || lines < 0 {
				add(n, "the header's number of lines %q is not a number", f[2])
			}
			total, ok := civicflow.ParseYuan(f[3])
			if !ok {
				add(n, "the header's total %q is not an amount", f[3])
			}
			ret.Lines, ret.Total = lines, total
		case f[0] != "D" || len(f) != 6:
			add(n, "a detail record must be D|line id|account|amount|S, F or R|reason")
		default:
			res, why := parseResult(f)
			if why != "" {
				add(n, "%s", why)
				continue
			}
			if seen[res.LineID] {
				add(n, "line %d appears twice", res.LineID)
				continue
			}
			seen[res.LineID] = true
			sum += res.Amount
			ret.Results = append(ret.Results, res)
		}
	}
	if err := sc.Err(); err != nil {
		add(n, "the file could not be read: %v", err)
	}
	if !header {
		add(1, "the file is empty")
		return nil, problems
	}
	if len(problems) == 0 && (len(ret.Results) != ret.Lines || sum != ret.Total) {
		add(1, "the records (%d lines, %s) do not add up to the header's control total (%d lines, %s)",
			len(ret.Results), civicflow.FormatYuan(sum), ret.Lines, civicflow.FormatYuan(ret.Total))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &ret, nil
}

func parseResult(f []string) (Result, string) {
	id, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || id <= 0 {
		return Result{}, fmt.Sprintf("line id %q is not a number", f[1])
	}
	amount, ok := civicflow.ParseYuan(f[3])
	if !ok || amount <= 0 {
		return Result{}, fmt.Sprintf("line %d: amount %q is not an amount", id, f[3])
	}
	res := Result{LineID: id, Account: f[2], Amount: amount, Reason: strings.TrimSpace(f[5])}
	switch f[4] {
	case CodePaid:
		res.Outcome = civicflow.LinePaid
		res.Reason = ""
	case CodeFailed:
		res.Outcome = civicflow.LineFailed
	case CodeReturned:
		res.Outcome = civicflow.LineReturned
	default:
		return Result{}, fmt.Sprintf("line %d: outcome %q must be S, F or R", id, f[4])
	}
	if res.Outcome != civicflow.LinePaid && res.Reason == "" {
		return Result{}, fmt.Sprintf("line %d: a failed or returned line needs a reason", id)
	}
	if len([]rune(res.Reason)) > 200 {
		return Result{}, fmt.Sprintf("line %d: the reason is longer than 200 characters", id)
	}
	return res, ""
}

// Batch is a parsed batch file (the bank's side, and tests).
type Batch struct {
	Header Header
	Lines  []Line
}

// ParseBatch reads a batch file and checks its control total.
func ParseBatch(r io.Reader) (*Batch, error) {
	var b Batch
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var sum int64
	n := 0
	for sc.Scan() {
		n++
		f := strings.Split(sc.Text(), "|")
		if n == 1 {
			if f[0] != "H" || len(f) != 7 {
				return nil, fmt.Errorf("line 1: not a batch header")
			}
			lines, err := strconv.Atoi(f[4])
			total, ok := civicflow.ParseYuan(f[5])
			if err != nil || !ok {
				return nil, fmt.Errorf("line 1: bad control total")
			}
			b.Header = Header{BatchNo: f[1], Bank: f[2], Lines: lines, Total: total, Summary: f[6]}
			continue
		}
		if f[0] != "D" || len(f) != 7 {
			return nil, fmt.Errorf("line %d: not a detail record", n)
		}
		seq, err1 := strconv.Atoi(f[1])
		id, err2 := strconv.ParseInt(f[2], 10, 64)
		amount, ok := civicflow.ParseYuan(f[5])
		if err1 != nil || err2 != nil || !ok {
			return nil, fmt.Errorf("line %d: bad number", n)
		}
		sum += amount
		b.Lines = append(b.Lines, Line{Seq: seq, LineID: id, Name: f[3], Account: f[4], Amount: amount})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("empty batch file")
	}
	if len(b.Lines) != b.Header.Lines || sum != b.Header.Total {
		return nil, fmt.Errorf("the records (%d, %d) do not add up to the control total (%d, %d)",
			len(b.Lines), sum, b.Header.Lines, b.Header.Total)
	}
	for i, l := range b.Lines {
		if l.Seq != i+1 {
			return nil, fmt.Errorf("record %d has sequence number %d", i+1, l.Seq)
		}
	}
	return &b, nil
}

// WriteReturn writes a return file for results (the bank's side: the
// bench and tests simulate the bank with it).
func WriteReturn(w io.Writer, batchNo string, results []Result) error {
	var total int64
	for _, r := range results {
		total += r.Amount
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "H|%s|%d|%s\n", batchNo, len(results), civicflow.FormatYuan(total))
	for _, r := range results {
		code := CodePaid
		switch r.Outcome {
		case civicflow.LineFailed:
			code = CodeFailed
		case civicflow.LineReturned:
			code = CodeReturned
		}
		fmt.Fprintf(bw, "D|%d|%s|%s|%s|%s\n", r.LineID, r.Account, civicflow.FormatYuan(r.Amount), code, clean(r.Reason))
	}
	return bw.Flush()
}
