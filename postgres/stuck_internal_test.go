package postgres

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// The sweep's SQL list of terminal stages is the domain's.
func TestTerminalStagesMatchDomain(t *testing.T) {
	t.Parallel()
	var want []string
	for _, st := range civicflow.AllStages {
		if st.Terminal() {
			want = append(want, "'"+string(st)+"'")
		}
	}
	require.ElementsMatch(t, want, strings.Split(terminalStages, ", "))
}
