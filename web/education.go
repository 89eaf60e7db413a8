package web

import (
	"fmt"
	"strconv"

	"civicflow"
	"civicflow/wire"
)

// The education grant for low-income college freshmen (教育资助) in the
// console: the names of its family statuses, kinds of school and tiers,
// what the case page says of the tier the rules give, and what the
// township's record_verification and the district's approve forms start
// with. The application form is educationProcess (apply.go); the forms
// are the shared action forms (actions.go, templates/action.html).

// Family names a family status (civicflow.FamilyStatus); "—" for none.
func (p *page) Family(s any) string { return p.named("education.family.", s) }

// School names a kind of school (civicflow.SchoolKind); "—" for none.
func (p *page) School(k any) string { return p.named("education.school.", k) }

// named is the message prefix+v names, "—" for an empty v: the name of
// a code (a family status, a form of support, a reason) in the page's
// language.
func (p *page) named(prefix string, v any) string {
	if s := fmt.Sprint(v); s != "" {
		return p.T(prefix + s)
	}
	return "—"
}

// Yuan shows an amount of CNY, with thousands separated ("5,000 元").
func (p *page) Yuan(amount int) string { return p.T("education.yuan", groupThousands(amount)) }

// groupThousands writes n with a comma between each three digits.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// TierBasis says why the rules give a tier: for which family status and
// kind of school (the township's verified ones, or before a verification
// the declared ones) and whose rules (the city's, or the district's own).
func (p *page) TierBasis(t *wire.EducationTier) string {
	rules := p.T("education.rules.district")
	if t.Jurisdiction == civicflow.CityCode {
		rules = p.T("education.rules.city")
	}
	key := "education.tier_basis.declared"
	if t.Basis == "verified" {
		key = "education.tier_basis.verified"
	}
	return p.T(key, p.Family(t.FamilyStatus), p.School(t.SchoolKind), rules)
}

// educationChoices are what the education-grant forms offer.
type educationChoices struct {
	Families []civicflow.FamilyStatus
	Kinds    []civicflow.SchoolKind
	Tiers    []int
	// Check is the latest household economic check, whose assistance
	// status the township compares with the declared one; nil before it
	// answered.
	Check *civicflow.CheckResult
}

func newEducationChoices(v *wire.CaseDetail) *educationChoices {
	ch := &educationChoices{Families: civicflow.FamilyStatuses, Kinds: civicflow.SchoolKinds, Tiers: civicflow.GrantTiers}
	if n := len(v.Checks); n > 0 {
		ch.Check = &v.Checks[n-1]
	}
	return ch
}

// Tier is the tier typed in an approval (0: none, or not a number).
func (in actionInput) Tier() int {
	n, _ := strconv.Atoi(in.TierAmount)
	return n
}

// prefilled is a new form of an education-grant action, started from the
// case: the verification from the platform's assistance status and the
// declared kind of school (the township confirms or corrects them), the
// approval from the tier the rules give now (the district confirms it;
// the API refuses any other).
func (in actionInput) prefilled(act civicflow.Action, v *wire.CaseDetail, ch *educationChoices) actionInput {
	ed := v.Education
	if ed == nil {
		return in
	}
	switch act {
	case civicflow.ActionRecordVerification:
		in.SchoolKind = string(ed.Application.SchoolKind)
		if ch.Check != nil {
			in.FamilyStatus = string(ch.Check.AssistanceStatus)
		}
	case civicflow.ActionApprove:
		if ed.Tier != nil {
			in.TierAmount = strconv.Itoa(ed.Tier.Amount)
		}
	}
	return in
}
