package civicflow

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// testNow is a fixed "now" for ID parsing: 2024-06-01 12:00 China time.
var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, ChinaZone())

// idWith builds an 18-character number from 17 digits and their check char.
func idWith(first17 string) string {
	return first17 + string(IDCheckChar(first17))
}

// wrongCheck returns id with a check character that is certainly wrong.
func wrongCheck(id string) string {
	bad := byte('0')
	if id[17] == '0' {
		bad = '1'
	}
	return id[:17] + string(bad)
}

func TestIDCheckCharGBExample(t *testing.T) {
	t.Parallel()
	// GB 11643-1999 publishes 11010519491231002X as a worked example.
	require.Equal(t, byte('X'), IDCheckChar("11010519491231002"))
	// Recompute ISO 7064 MOD 11-2 from its definition (weights 2^(17-i) mod 11,
	// check c with sum+c ≡ 1 mod 11) rather than from the package's tables.
	for _, first17 := range []string{"11010519491231002", "61011319800101123", "44030420000229001", "61010219450101987"} {
		sum := 0
		for i := 0; i < 17; i++ {
			w := 1
			for j := 0; j < 17-i; j++ { // weight = 2^(17-i) mod 11
				w = w * 2 % 11
			}
			sum += int(first17[i]-'0') * w
		}
		// check value c satisfies (sum + c) ≡ 1 (mod 11); 10 is written X.
		c := (12 - sum%11) % 11
		want := byte('0' + c)
		if c == 10 {
			want = 'X'
		}
		require.Equal(t, want, IDCheckChar(first17), first17)
	}
}

func TestParseIDNumberValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"GB example with X", "11010519491231002X", "11010519491231002X"},
		{"GB example lower-case x", "11010519491231002x", "11010519491231002X"},
		{"surrounding spaces", "  11010519491231002x\t", "11010519491231002X"},
		{"xi'an yanta", idWith("61011319800101123"), idWith("61011319800101123")},
		{"leap day", idWith("44030420000229001"), idWith("44030420000229001")},
		{"hong kong prefix", idWith("81000019700101001"), idWith("81000019700101001")},
		{"earliest allowed birth", idWith("61010218900101001"), idWith("61010218900101001")},
		{"born yesterday", idWith("61010220240531001"), idWith("61010220240531001")},
		{"born today", idWith("61010220240601001"), idWith("61010220240601001")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, reason := ParseIDNumber(tc.in, testNow)
			require.Empty(t, reason)
			require.Equal(t, IDNumber(tc.want), got)
		})
	}
}

func TestParseIDNumberFindsAnXCheckChar(t *testing.T) {
	t.Parallel()
	// Find a number whose check character is X by varying the sequence and
	// make sure both cases are accepted and normalised.
	found := false
	for seq := 100; seq < 1000 && !found; seq++ {
		first17 := "61011319750615" + itoa3(seq)
		if IDCheckChar(first17) != 'X' {
			continue
		}
		found = true
		got, reason := ParseIDNumber(first17+"x", testNow)
		require.Empty(t, reason)
		require.Equal(t, IDNumber(first17+"X"), got)
		got, reason = ParseIDNumber(first17+"X", testNow)
		require.Empty(t, reason)
		require.Equal(t, IDNumber(first17+"X"), got)
	}
	require.True(t, found, "some sequence must give check char X")
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

func TestParseIDNumberInvalid(t *testing.T) {
	t.Parallel()
	valid := idWith("61011319800101123")
	tests := []struct {
		name, in, reasonHas string
	}{
		{"empty", "", "18 characters"},
		{"15-digit old number", "610113800101123", "15-digit"},
		{"15-digit old number with spaces", " 610113800101123 ", "15-digit"},
		{"15 chars not all digits", "61011380010112X", "18 characters"},
		{"17 characters", valid[:17], "18 characters"},
		{"19 characters", valid + "1", "18 characters"},
		{"full-width digits", "６１０１１３１９８００１０１１２３５", "18 characters"},
		{"letter inside", "6101131980A101123" + "5", "first 17"},
		{"X inside", "61011319800101X23" + "5", "first 17"},
		{"space inside", "6101131980 101123" + "5", "first 17"},
		{"bad last char", valid[:17] + "Y", "last character"},
		{"unknown province 99", idWith("99011319800101123"), "not a known province"},
		{"unknown province 00", idWith("00011319800101123"), "not a known province"},
		{"february 30", idWith("61011319450230123"), "not a real date"},
		{"month 13", idWith("61011319451301123"), "not a real date"},
		{"day 00", idWith("61011319450100123"), "not a real date"},
		{"feb 29 in non-leap year", idWith("61011319000229123"), "not a real date"},
		{"tomorrow", idWith("61011320240602123"), "out of range"},
		{"far future", idWith("61011330000101123"), "out of range"},
		{"before 1890", idWith("61011318891231123"), "out of range"},
		{"wrong check char", wrongCheck(valid), "check character"},
		{"wrong check char on GB example", "110105194912310021", "check character"},
		{"transposed digits", valid[:6] + "19800110" + valid[14:], "check character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, reason := ParseIDNumber(tc.in, testNow)
			require.Empty(t, got)
			require.Contains(t, reason, tc.reasonHas)
		})
	}
}

func TestParseIDNumberFutureUsesChinaDate(t *testing.T) {
	t.Parallel()
	born := idWith("61011320240601123")
	// 2024-06-01 03:00 in China is still 2024-05-31 in UTC: the person was
	// born "today" in China and must be accepted.
	early := time.Date(2024, 5, 31, 19, 0, 0, 0, time.UTC)
	got, reason := ParseIDNumber(born, early)
	require.Empty(t, reason)
	require.Equal(t, IDNumber(born), got)

	// 2024-05-31 23:00 China time: the 1st of June is still in the future.
	before := time.Date(2024, 5, 31, 23, 0, 0, 0, ChinaZone())
	_, reason = ParseIDNumber(born, before)
	require.Contains(t, reason, "out of range")
}

func TestIDNumberAccessors(t *testing.T) {
	t.Parallel()
	gb, reason := ParseIDNumber("11010519491231002x", testNow)
	require.Empty(t, reason)
	require.Equal(t, "110105", gb.RegionCode())
	require.Equal(t, time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), gb.BirthDate())
	require.False(t, gb.Male(), "sequence digit 2 is even: female")
	require.Equal(t, "1101**********002X", gb.Masked())

	for d := byte('0'); d <= '9'; d++ {
		n, reason := ParseIDNumber(idWith("6101131980010112"+string(d)), testNow)
		require.Empty(t, reason)
		require.Equal(t, (d-'0')%2 == 1, n.Male(), "sequence digit %c", d)
	}

	n, reason := ParseIDNumber(idWith("61010219750615123"), testNow)
	require.Empty(t, reason)
	require.Equal(t, "610102", n.RegionCode())
	require.Equal(t, time.Date(1975, 6, 15, 0, 0, 0, 0, time.UTC), n.BirthDate())
	require.True(t, n.Male())
	masked := n.Masked()
	require.Equal(t, "6101**********"+string(n[14:]), masked)
	require.Len(t, masked, 18)
}

func TestMaskIDNumber(t *testing.T) {
	t.Parallel()
	require.Equal(t, "6101**********1234", MaskIDNumber("610113198001011234"))
	require.Equal(t, "*******", MaskIDNumber("1234567"))
	require.Equal(t, "12345678", MaskIDNumber("12345678"))
	require.Equal(t, "", MaskIDNumber(""))
}

func TestValidMobile(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"13812345678", "19912345678", "15000000000", "17700001111"} {
		require.True(t, ValidMobile(ok), ok)
	}
	for _, bad := range []string{
		"", "1381234567", "138123456789", "12812345678", "10012345678",
		"23812345678", "1381234567a", "+8613812345678", "138 1234 5678", "１３８１２３４５６７８",
	} {
		require.False(t, ValidMobile(bad), bad)
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	require.Equal(t, "138****5678", MaskPhone("13812345678"))
	require.Equal(t, "1234567", MaskPhone("1234567"))
	require.Equal(t, "******", MaskPhone("123456"))
	require.Equal(t, "", MaskPhone(""))
	require.Equal(t, "029*****4321", MaskPhone("029887654321"))
}

func TestMaskName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "张*", MaskName("张三"))
	require.Equal(t, "买*****", MaskName("买买提·艾力"))
	require.Equal(t, "𠀀*", MaskName("𠀀明"))
	require.Equal(t, "A****", MaskName("Anna5"))
	require.Equal(t, "王", MaskName("王"))
	require.Equal(t, "", MaskName(""))
	require.True(t, utf8.ValidString(MaskName("𪚥𪚥𪚥")))
}

func TestAgeOn(t *testing.T) {
	t.Parallel()
	birth := time.Date(1964, 6, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		on   time.Time
		want int
	}{
		{time.Date(2024, 6, 14, 23, 59, 0, 0, time.UTC), 59},
		{time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC), 60},
		{time.Date(2024, 6, 16, 0, 0, 0, 0, time.UTC), 60},
		{time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC), 59},
		{time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), 60},
		{time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), 60},
		{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 60},
		{time.Date(1964, 6, 15, 0, 0, 0, 0, time.UTC), 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, AgeOn(birth, tc.on), "on %s", tc.on.Format(time.DateOnly))
	}

	leap := time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 22, AgeOn(leap, time.Date(2023, 2, 28, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, 23, AgeOn(leap, time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, 24, AgeOn(leap, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)))
}

func TestNameReasonAccepts(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"张三",
		"王",
		"买买提·艾力",
		"阿卜杜拉·买买提·艾力",
		"𠀀明", // U+20000, CJK Extension B
		"王𪚥", // U+2A6A5, CJK Extension B
		"Anna-Maria O'Neil",
		"José Müller",
		"Zoë",
		"Jose\u0301", // combining acute accent (Mn)
		"李・四",        // katakana middle dot
		strings.Repeat("张", 64),
		strings.Repeat("𠀀", 64),
	} {
		require.Empty(t, NameReason(name), "%q", name)
	}
}

func TestNameReasonRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, reasonHas string
	}{
		{"empty", "", "required"},
		{"only space", " ", "must not start or end with spaces"},
		{"leading space", " 张三", "must not start or end with spaces"},
		{"trailing space", "张三 ", "must not start or end with spaces"},
		{"trailing ideographic space", "张三\u3000", "must not start or end with spaces"},
		{"leading tab", "\t张三", "must not start or end with spaces"},
		{"trailing newline", "张三\n", "must not start or end with spaces"},
		{"digit", "张3", "may only contain"},
		{"full-width digit", "张３", "may only contain"},
		{"emoji", "张三😀", "may only contain"},
		{"emoji only", "😀", "may only contain"},
		{"control char", "张\x00三", "may only contain"},
		{"newline inside", "张\n三", "may only contain"},
		{"punctuation", "张三!", "may only contain"},
		{"leading middle dot", "·艾力", "wrong place"},
		{"trailing middle dot", "买买提·", "must not end"},
		{"doubled middle dot", "买买提··艾力", "wrong place"},
		{"dot then space", "买买提· 艾力", "wrong place"},
		{"double space", "Anna  Maria", "wrong place"},
		{"leading hyphen", "-Anna", "wrong place"},
		{"trailing apostrophe", "O'", "must not end"},
		{"65 characters", strings.Repeat("张", 65), "at most 64"},
		{"65 supplementary characters", strings.Repeat("𠀀", 65), "at most 64"},
		{"invalid UTF-8", "张\xff三", "UTF-8"},
		{"truncated UTF-8", "张三"[:4], "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, NameReason(tc.in), tc.reasonHas)
		})
	}
}

func FuzzParseIDNumber(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", " 11010519491231002X ",
		idWith("61011319800101123"), idWith("44030420000229001"),
		"610113800101123", "99011319800101123X", "61011319450230123X",
		"", "x", "\xff\xfe", "６１０１１３１９８００１０１１２３５",
		"11010519491231002\xff", "1101051949123100\xffX",
		// Added for issue 9 (hostile input): leap days, future births,
		// embedded NUL and spaces, a full-width X, one character too many.
		idWith("61011320000229001"), idWith("61011319000229001"), idWith("61011399991231001"),
		"110105194912310\x0002X", "1101051949 1231002X", "11010519491231002Ｘ", "11010519491231002X1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, reason := ParseIDNumber(s, testNow)
		if reason != "" {
			require.Empty(t, n)
			return
		}
		str := string(n)
		require.Len(t, str, 18)
		require.Equal(t, strings.ToUpper(str), str)
		require.True(t, isDigits(str[:17]))
		require.Equal(t, IDCheckChar(str[:17]), str[17])
		require.True(t, provincePrefixes[n.RegionCode()[:2]])
		require.False(t, n.BirthDate().IsZero())
		again, reason := ParseIDNumber(str, testNow)
		require.Empty(t, reason)
		require.Equal(t, n, again)
		require.Len(t, n.Masked(), 18)
	})
}

func FuzzNameReason(f *testing.F) {
	for _, s := range []string{
		"张三", "买买提·艾力", "𠀀明", "王𪚥", "Anna-Maria O'Neil", "",
		" 张三", "张三 ", "张3", "😀", "·艾力", "买买提·", "买买提··艾力",
		"张\xff三", strings.Repeat("张", 65), "Jose\u0301", "\u0301",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if NameReason(s) != "" {
			return
		}
		require.True(t, utf8.ValidString(s))
		require.NotEmpty(t, s)
		require.Equal(t, strings.TrimSpace(s), s)
		require.LessOrEqual(t, utf8.RuneCountInString(s), 64)
		for _, r := range s {
			require.False(t, unicode.IsDigit(r), "digit %q in %q", r, s)
			require.False(t, unicode.IsControl(r), "control %q in %q", r, s)
		}
		require.NotEmpty(t, MaskName(s))
	})
}
