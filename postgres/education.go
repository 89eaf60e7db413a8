package postgres

import (
	"context"

	"civicflow"
)

// RecordAward writes an approved education grant: the step that completes
// the case and the award for payment, in one transaction (issue 15; the
// full store is being written on the education-grant branch).
func (db *DB) RecordAward(ctx context.Context, w civicflow.AwardWrite) error {
	return civicflow.Errorf(civicflow.EINTERNAL, "education awards are not stored yet")
}
