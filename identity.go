package civicflow

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Province-level prefixes of GB/T 2260 region codes (first two digits of a
// resident ID number).
var provincePrefixes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// ISO 7064 MOD 11-2 weights and check characters used by GB 11643-1999.
var (
	idWeights    = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCheckChars = "10X98765432"
)

// IDNumber is a validated 18-character resident ID number (GB 11643-1999),
// normalised to upper case.
type IDNumber string

// ParseIDNumber validates s as a GB 11643-1999 resident ID number: 18
// characters, a plausible region code, a real birth date not in the future
// (relative to now) and the ISO 7064 MOD 11-2 check character. A lower-case
// x is accepted as X. The returned reason is empty when s is valid.
func ParseIDNumber(s string, now time.Time) (IDNumber, string) {
	s = strings.TrimSpace(s)
	if len(s) == 15 && isDigits(s) {
		return "", "15-digit ID numbers are no longer valid; give the 18-character number"
	}
	if utf8.RuneCountInString(s) != 18 || len(s) != 18 {
		return "", "must be 18 characters"
	}
	s = strings.ToUpper(s)
	if !isDigits(s[:17]) {
		return "", "the first 17 characters must be digits"
	}
	if last := s[17]; last != 'X' && (last < '0' || last > '9') {
		return "", "the last character must be a digit or X"
	}
	if !provincePrefixes[s[:2]] {
		return "", "region code " + s[:6] + " is not a known province"
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return "", "birth date " + s[6:14] + " is not a real date"
	}
	today := now.In(chinaZone) // compare dates as in China, not instants
	if birth.Before(time.Date(1890, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		birth.After(time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)) {
		return "", "birth date " + s[6:14] + " is out of range"
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * idWeights[i]
	}
	if want := idCheckChars[sum%11]; s[17] != want {
		return "", "check character does not match (typing error?)"
	}
	return IDNumber(s), ""
}

// IDCheckChar computes the check character for the first 17 digits of an ID
// number. It is used to build valid test and demo numbers.
func IDCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17 && i < len(first17); i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// RegionCode is the 6-digit administrative code at the start of the number.
func (n IDNumber) RegionCode() string { return string(n[:6]) }

// BirthDate is the date of birth encoded in the number.
func (n IDNumber) BirthDate() time.Time {
	t, _ := time.Parse("20060102", string(n[6:14]))
	return t
}

// Male reports whether the sequence digit is odd (male) or even (female).
func (n IDNumber) Male() bool { return (n[16]-'0')%2 == 1 }

// Masked shows the region prefix and last four characters only,
// e.g. 6101**********1234.
func (n IDNumber) Masked() string { return MaskIDNumber(string(n)) }

// MaskIDNumber masks an ID number for display, keeping the first four and
// last four characters.
func MaskIDNumber(s string) string {
	if len(s) < 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:4] + strings.Repeat("*", len(s)-8) + s[len(s)-4:]
}

// MaskPhone masks a mobile number for display, e.g. 138****5678.
func MaskPhone(s string) string {
	if len(s) < 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// MaskName keeps the first character of a name, e.g. 张** for public lists.
func MaskName(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// AgeOn returns the age in whole years on the given date.
func AgeOn(birth, on time.Time) int {
	age := on.Year() - birth.Year()
	if on.Month() < birth.Month() || (on.Month() == birth.Month() && on.Day() < birth.Day()) {
		age--
	}
	return age
}

// ValidMobile reports whether s is a mainland mobile number: 11 digits
// starting with 1 and a second digit 3-9.
func ValidMobile(s string) bool {
	return len(s) == 11 && isDigits(s) && s[0] == '1' && s[1] >= '3' && s[1] <= '9'
}

// NameReason validates a person's name and returns why it is refused, or ""
// when it is acceptable. Names may use any letters, including CJK characters
// outside the Basic Multilingual Plane, and a middle dot between parts
// (买买提·艾力); Latin names may contain spaces, hyphens and apostrophes.
func NameReason(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.TrimSpace(s) != s {
		return "must not start or end with spaces"
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "is required"
	}
	if n > 64 {
		return "must be at most 64 characters"
	}
	prevSep := true
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
			prevSep = false
		case r == '·' || r == '•' || r == '・' || r == ' ' || r == '-' || r == '\'':
			if prevSep {
				return "has a separator in the wrong place"
			}
			prevSep = true
		default:
			return "may only contain letters, spaces, hyphens, apostrophes and the middle dot (·)"
		}
	}
	if prevSep {
		return "must not end with a separator"
	}
	return ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
