package civicflow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSupportStart(t *testing.T) {
	t.Parallel()
	cst := ChinaZone()
	tests := []struct {
		name     string
		admitted time.Time
		want     time.Time
	}{
		{"mid month", time.Date(2024, 6, 15, 10, 0, 0, 0, cst), time.Date(2024, 7, 1, 0, 0, 0, 0, cst)},
		{"first of month", time.Date(2024, 6, 1, 0, 0, 0, 0, cst), time.Date(2024, 7, 1, 0, 0, 0, 0, cst)},
		{"last second of month", time.Date(2024, 6, 30, 23, 59, 59, 0, cst), time.Date(2024, 7, 1, 0, 0, 0, 0, cst)},
		{"december to january", time.Date(2024, 12, 15, 9, 0, 0, 0, cst), time.Date(2025, 1, 1, 0, 0, 0, 0, cst)},
		{"december 31", time.Date(2024, 12, 31, 23, 0, 0, 0, cst), time.Date(2025, 1, 1, 0, 0, 0, 0, cst)},
		{"january 31 (no skip over february)", time.Date(2023, 1, 31, 12, 0, 0, 0, cst), time.Date(2023, 2, 1, 0, 0, 0, 0, cst)},
		// 2024-01-31 20:00 UTC is 2024-02-01 04:00 in China: admitted in February.
		{"UTC last day already next day in China", time.Date(2024, 1, 31, 20, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, cst)},
		// 2024-12-31 16:00 UTC is 2025-01-01 00:00 in China.
		{"UTC new year's eve already January in China", time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, cst)},
		// 15:59:59 UTC is 23:59:59 in China: still January.
		{"UTC just before China midnight", time.Date(2024, 1, 31, 15, 59, 59, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, cst)},
		{"other zone", time.Date(2024, 3, 31, 20, 0, 0, 0, time.FixedZone("PDT", -7*3600)), time.Date(2024, 5, 1, 0, 0, 0, 0, cst)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := SupportStart(tc.admitted)
			require.True(t, tc.want.Equal(got), "want %s, got %s", tc.want, got)
			_, offset := got.Zone()
			require.Equal(t, 8*3600, offset, "support start is expressed in China time")
			require.Equal(t, 1, got.Day())
			require.Zero(t, got.Hour())
			require.True(t, got.After(tc.admitted))
		})
	}
}

func TestChinaZone(t *testing.T) {
	t.Parallel()
	name, offset := time.Date(2024, 7, 1, 0, 0, 0, 0, ChinaZone()).Zone()
	require.Equal(t, 8*3600, offset)
	require.Equal(t, "CST", name)
	_, offset = time.Date(2024, 1, 1, 0, 0, 0, 0, ChinaZone()).Zone()
	require.Equal(t, 8*3600, offset, "no daylight saving time")
}

func TestStagePredicates(t *testing.T) {
	t.Parallel()
	terminal := map[Stage]bool{StageCompleted: true, StageRejected: true, StageWithdrawn: true, StageDeparted: true,
		StageClosed: true, StageReferred: true}
	beforeDecision := map[Stage]bool{
		StageSubmitted: true, StageIntake: true, StageAwaitingSupplements: true,
		StageInvestigation: true, StagePublicNotice: true, StageDistrictReview: true, StageVerification: true,
	}
	require.Len(t, AllStages, 20) // 13 of centralised care, 6 of the rehab ending, 1 of the education grant
	seen := map[Stage]bool{}
	for _, s := range AllStages {
		require.False(t, seen[s], "duplicate stage %s", s)
		seen[s] = true
		require.True(t, s.Valid(), s)
		require.Equal(t, terminal[s], s.Terminal(), "Terminal(%s)", s)
		require.Equal(t, beforeDecision[s], s.BeforeDecision(), "BeforeDecision(%s)", s)
		require.False(t, s.Terminal() && s.BeforeDecision(), "%s cannot be both", s)
	}
	for _, s := range []Stage{"", "bogus", "Intake", "completed "} {
		require.False(t, s.Valid(), "%q", s)
		require.False(t, s.Terminal(), "%q", s)
		require.False(t, s.BeforeDecision(), "%q", s)
	}
}

func TestEnumsValid(t *testing.T) {
	t.Parallel()
	for _, c := range []CareLevel{CareSelf, CareSemiDependent, CareDependent} {
		require.True(t, c.Valid(), c)
	}
	require.False(t, CareLevel("").Valid())
	require.False(t, CareLevel("bedridden").Valid())

	for _, r := range []Relation{RelationSelf, RelationRelative, RelationAgent, RelationCommunity} {
		require.True(t, r.Valid(), r)
	}
	require.False(t, Relation("").Valid())
	require.False(t, Relation("neighbour").Valid())

	for _, k := range []DisabilityKind{DisabilityIntellectual, DisabilityMental, DisabilityPhysical,
		DisabilityVisual, DisabilityHearing, DisabilitySpeech} {
		require.True(t, k.Valid(), k)
	}
	require.False(t, DisabilityKind("").Valid())
	require.False(t, DisabilityKind("other").Valid())
}

func TestQualifiesAsUnableToWork(t *testing.T) {
	t.Parallel()
	// 特困人员认定办法 (2021) art. 7: intellectual or mental grade 1-3,
	// physical grade 1-2, visual grade 1; hearing and speech never.
	maxGrade := map[DisabilityKind]int{
		DisabilityIntellectual: 3, DisabilityMental: 3, DisabilityPhysical: 2, DisabilityVisual: 1,
		DisabilityHearing: 0, DisabilitySpeech: 0, DisabilityKind("other"): 0,
	}
	for k, top := range maxGrade {
		for grade := -1; grade <= 5; grade++ {
			want := grade >= 1 && grade <= top
			require.Equal(t, want, k.QualifiesAsUnableToWork(grade), "%s grade %d", k, grade)
		}
	}
}

func TestAgeRules(t *testing.T) {
	t.Parallel()
	for age, want := range map[int]bool{0: true, 15: true, 16: false, 17: false, 59: false, 60: true, 90: true} {
		require.Equal(t, want, UnableToWorkByAge(age), "UnableToWorkByAge(%d)", age)
	}
	for age, want := range map[int]bool{0: true, 17: true, 18: false, 60: false} {
		require.Equal(t, want, IsMinor(age), "IsMinor(%d)", age)
	}
}

func TestWorkflowIDsAndConstants(t *testing.T) {
	t.Parallel()
	require.Equal(t, "civicflow-case-42", CaseWorkflowID(42))
	require.Equal(t, "civicflow-departure-7", DepartureWorkflowID(7))
	require.NotEqual(t, CaseWorkflowID(1), DepartureWorkflowID(1))
	require.Equal(t, 7*24*time.Hour, PublicNoticePeriod)
	require.Equal(t, CaseType("centralised_care"), CaseTypeCentralisedCare)
}

func TestDistrictOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, "610113", DistrictOf("610113001"))
	require.Equal(t, "610113", DistrictOf("610113001002"))
	require.Equal(t, "610113", DistrictOf("610113"))
	require.Equal(t, "", DistrictOf("61011"))
	require.Equal(t, "", DistrictOf(""))
}
