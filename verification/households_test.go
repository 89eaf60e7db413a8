package verification

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestSeededHouseholds: every seeded ID number is valid (GB 11643, the ISO
// 7064 check character), and the education grant's demo students answer
// with their household's assistance status.
func TestSeededHouseholds(t *testing.T) {
	t.Parallel()
	vs, err := NewDevServer()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, id := range vs.SeededIDNumbers() {
		_, reason := civicflow.ParseIDNumber(id, time.Now())
		require.Empty(t, reason, id)
		require.False(t, seen[id], "seeded twice: %s", id)
		seen[id] = true
	}

	srv := httptest.NewServer(vs)
	defer srv.Close()
	c := NewClient(srv.URL, 2*time.Second)
	students := map[string]civicflow.FamilyStatus{
		"610113200803150131": civicflow.FamilyDibao,
		"610113200711020241": civicflow.FamilyDibaoMargin,
		"610113200806200317": civicflow.FamilyExtremelyPoor,
		"610102200801080468": civicflow.FamilyDibao,
		"610113200712250575": "", // no assistance: the township finds the student ineligible
	}
	for id, status := range students {
		require.True(t, seen[id], id)
		res, err := c.Check(context.Background(), id)
		require.NoError(t, err)
		require.True(t, res.Found)
		require.Equal(t, status, res.AssistanceStatus, id)
		if status == civicflow.FamilyDibao || status == civicflow.FamilyExtremelyPoor {
			require.Less(t, res.MonthlyIncomePerCap, res.MinimumLivingLine, id)
		}
	}
	require.Len(t, vs.SeededStudents(), 4)
	require.Contains(t, vs.SeededStudents(), "610113200806200317 (extremely_poor)")
	// The residents of centralised care report none.
	res, err := c.Check(context.Background(), "610113194503121015")
	require.NoError(t, err)
	require.Empty(t, res.AssistanceStatus)
}
