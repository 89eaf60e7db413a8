package civicflow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// declared reads the package's source and returns the value of every
// constant declared with the named type (Stage, Action, CaseType), so that
// a new constant nobody added to a list or to the vocabulary fails a test.
func declared(t *testing.T, typ string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typ {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "%s: a %s constant that is not a string literal", fset.Position(v.Pos()), typ)
					s, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					out = append(out, s)
				}
			}
		}
	}
	require.NotEmpty(t, out, "no %s constants found", typ)
	return out
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// requireNamed checks one value's names: both languages, neither the code
// (what a missing entry falls back to), Chinese in Chinese, English without.
func requireNamed(t *testing.T, code string, label func(Lang) string) {
	t.Helper()
	zh, en := label(LangZH), label(LangEN)
	require.NotEqual(t, code, zh, "%s has no Chinese name", code)
	require.NotEqual(t, code, en, "%s has no English name", code)
	require.NotEmpty(t, strings.TrimSpace(zh), code)
	require.NotEmpty(t, strings.TrimSpace(en), code)
	require.True(t, hasHan(zh), "%s: %q is not Chinese", code, zh)
	require.False(t, hasHan(en), "%s: %q is not English", code, en)
}

func TestEveryStageIsListedAndNamed(t *testing.T) {
	t.Parallel()
	var all []string
	for _, s := range AllStages {
		all = append(all, string(s))
		requireNamed(t, string(s), s.Label)
	}
	require.ElementsMatch(t, declared(t, "Stage"), all, "AllStages lists every Stage constant")
	require.Len(t, stageNames, len(AllStages), "the vocabulary names no stage that does not exist")
}

func TestEveryActionAndStepIsNamed(t *testing.T) {
	t.Parallel()
	consts := declared(t, "Action")
	for _, a := range consts {
		requireNamed(t, a, Action(a).Label)
	}
	require.Len(t, actionNames, len(consts), "the vocabulary names no action that does not exist")
	// The lists other code iterates over hold declared actions only.
	for _, a := range append(Actions(), SystemSteps...) {
		require.Contains(t, consts, string(a))
	}
	require.Contains(t, Actions(), ActionRecordVerification)
}

func TestEveryCaseTypeIsListedAndNamed(t *testing.T) {
	t.Parallel()
	var all []string
	for _, c := range AllCaseTypes {
		all = append(all, string(c))
		requireNamed(t, string(c), c.Label)
	}
	require.ElementsMatch(t, declared(t, "CaseType"), all, "AllCaseTypes lists every CaseType constant")
	require.Len(t, caseTypeNames, len(AllCaseTypes))
	require.Equal(t, "特困人员集中供养", CaseTypeCentralisedCare.Label(LangZH))
	require.Equal(t, "精神障碍社区康复", CaseTypeCommunityRehab.Label(LangZH))
	require.Equal(t, "教育资助", CaseTypeEducationGrant.Label(LangZH))
}

// Two stages with one name would make a case's place ambiguous; two
// timeline entries with one name, its history.
func TestNamesAreDistinct(t *testing.T) {
	t.Parallel()
	for _, l := range []Lang{LangZH, LangEN} {
		stages := map[string]Stage{}
		for _, s := range AllStages {
			other, dup := stages[s.Label(l)]
			require.False(t, dup, "%s and %s are both called %q", other, s, s.Label(l))
			stages[s.Label(l)] = s
		}
		actions := map[string]string{}
		for _, a := range declared(t, "Action") {
			n := Action(a).Label(l)
			other, dup := actions[n]
			require.False(t, dup, "%s and %s are both called %q", other, a, n)
			actions[n] = a
		}
	}
}

func TestUnknownValuesAreNamedByTheirCode(t *testing.T) {
	t.Parallel()
	for _, l := range []Lang{LangZH, LangEN, "fr", ""} {
		require.Equal(t, "bogus_stage", Stage("bogus_stage").Label(l))
		require.Equal(t, "fly", Action("fly").Label(l))
		require.Equal(t, "low_income", CaseType("low_income").Label(l))
		require.Equal(t, "bogus", DeadlineLabel("bogus", l))
	}
	// An unknown language is Chinese, the default.
	require.Equal(t, StageIntake.Label(LangZH), StageIntake.Label("fr"))
	require.Equal(t, StageIntake.Label(LangZH), DeadlineLabel(string(StageIntake), LangZH))
	requireNamed(t, DeadlineRefusalNotice, func(l Lang) string { return DeadlineLabel(DeadlineRefusalNotice, l) })
}

func TestParseLang(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Lang{"zh": LangZH, "zh-CN": LangZH, "zh-Hans": LangZH, "": LangZH, "fr": LangZH,
		"en": LangEN, "EN": LangEN, "en-GB": LangEN, "en_US": LangEN, "eng": LangZH} {
		require.Equal(t, want, ParseLang(in), "%q", in)
	}
}
