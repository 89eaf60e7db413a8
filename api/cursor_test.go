package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// A page's next_after gives the next page's after, to the nanosecond;
// anything else is a 422 naming the field.
func TestTimeCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 14, 7, 26, 77380123, time.FixedZone("CST", 8*3600))
	got, id, err := parseTimeCursor(timeCursor(at, 274942))
	require.NoError(t, err)
	require.True(t, at.Equal(*got))
	require.Equal(t, int64(274942), id)

	got, id, err = parseTimeCursor("")
	require.NoError(t, err)
	require.Nil(t, got)
	require.Zero(t, id)
	for _, bad := range []string{"274942", "2026-11-27T14:07:26Z", "2026-11-27T14:07:26Z,x", "yesterday,1"} {
		_, _, err := parseTimeCursor(bad)
		var e *civicflow.Error
		require.ErrorAs(t, err, &e, bad)
		require.Equal(t, civicflow.EINVALID, e.Code)
		require.Equal(t, "after", e.Fields[0].Field)
	}
}

// A district supervisor asks only about their district; the city
// supervisor about any.
func TestWithinDistrict(t *testing.T) {
	d, err := withinDistrict("", "610102", "")
	require.NoError(t, err)
	require.Equal(t, "610102", d, "city: what was asked")
	d, err = withinDistrict("610113", "", "610113001")
	require.NoError(t, err)
	require.Equal(t, "610113", d, "a district supervisor's own district, whatever was asked")
	for _, ask := range [][2]string{{"610102", ""}, {"", "610102001"}, {"610113", "610102001"}} {
		_, err := withinDistrict("610113", ask[0], ask[1])
		require.Equal(t, civicflow.EFORBIDDEN, civicflow.ErrorCode(err), "%v", ask)
	}
}
