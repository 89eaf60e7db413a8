package bankfile

import (
	"bytes"
	"strings"
	"testing"

	"civicflow"
)

func TestBatchRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	lines := []Line{{Seq: 1, LineID: 10, Name: "王|芳", Account: "6222020200001234567", Amount: 751},
		{Seq: 2, LineID: 11, Name: "买买提·艾力", Account: "6222020200007654321", Amount: 820}}
	if err := WriteHeader(&buf, Header{BatchNo: "B1", Bank: "icbc", Lines: 2, Total: 1571, Summary: "春节一次性生活补贴"}); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, l := range lines {
		b = AppendLine(b, l, "春节")
	}
	buf.Write(b)
	got, err := ParseBatch(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Total != 1571 || len(got.Lines) != 2 || got.Lines[0].Name != "王/芳" || got.Lines[1].Amount != 820 {
		t.Fatalf("parsed %+v", got)
	}
}

func TestBatchControlTotalMismatchRefused(t *testing.T) {
	f := "H|B1|icbc|" + Payer + "|2|1571.00|x\nD|1|10|a|6222020200001234567|751.00|x\n"
	if _, err := ParseBatch(strings.NewReader(f)); err == nil {
		t.Fatal("a batch whose lines do not add up to its header was read")
	}
}

func TestReturnRoundTripAndChecks(t *testing.T) {
	res := []Result{{LineID: 10, Account: "6222020200001234567", Amount: 751, Outcome: civicflow.LinePaid},
		{LineID: 11, Account: "6222020200007654321", Amount: 820, Outcome: civicflow.LineFailed, Reason: "账户已销户"},
		{LineID: 12, Account: "6222020200007654322", Amount: 820, Outcome: civicflow.LineReturned, Reason: "户名不符"}}
	var buf bytes.Buffer
	if err := WriteReturn(&buf, "B1", res); err != nil {
		t.Fatal(err)
	}
	ret, problems := ParseReturn(strings.NewReader("\uFEFF" + buf.String()))
	if problems != nil {
		t.Fatalf("problems %v", problems)
	}
	if ret.BatchNo != "B1" || ret.Total != 2391 || len(ret.Results) != 3 || ret.Results[1].Outcome != civicflow.LineFailed || ret.Results[2].Reason != "户名不符" {
		t.Fatalf("parsed %+v", ret)
	}

	cases := map[string]string{
		"empty":          "",
		"no header":      "D|10|6222020200001234567|751.00|S|\n",
		"total mismatch": "H|B1|1|752.00\nD|10|6222020200001234567|751.00|S|\n",
		"count mismatch": "H|B1|2|751.00\nD|10|6222020200001234567|751.00|S|\n",
		"twice":          "H|B1|2|1502.00\nD|10|a|751.00|S|\nD|10|a|751.00|S|\n",
		"bad code":       "H|B1|1|751.00\nD|10|a|751.00|X|\n",
		"no reason":      "H|B1|1|751.00\nD|10|a|751.00|F|\n",
		"bad amount":     "H|B1|1|751.50\nD|10|a|751.50|S|\n",
		"short record":   "H|B1|1|751.00\nD|10|a|751.00\n",
	}
	for name, f := range cases {
		if ret, problems := ParseReturn(strings.NewReader(f)); ret != nil || len(problems) == 0 {
			t.Errorf("%s: accepted (%+v)", name, ret)
		}
	}
}
