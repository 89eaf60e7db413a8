package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/demo"
)

// The demo register (`civicflow dev`): a few hundred persons in both forms
// across the demo districts, the centralised ones filling the register's
// own institutions exactly; seeding again adds nothing.
func TestDemoRegisterSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	_, err := demo.Seed(ctx, db, "a demo password")
	require.NoError(t, err)
	free := func() int {
		return count(t, db, `SELECT count(*) FROM beds b WHERE NOT EXISTS (SELECT 1 FROM bed_allocations a
			WHERE a.bed_id = b.id AND a.released_at IS NULL)`)
	}
	before := free()
	n, err := demo.SeedRegister(ctx, db)
	require.NoError(t, err)
	require.Equal(t, demo.RegisterSize, n)
	require.Equal(t, before, free(), "the demo's own beds stay free; the register's institutions are full")
	counts, err := db.RegisterCounts(ctx, civicflow.CityCode)
	require.NoError(t, err)
	total, forms, districts := 0, map[civicflow.SupportForm]int{}, map[string]bool{}
	for _, c := range counts {
		total += c.Persons
		forms[c.Form] += c.Persons
		districts[c.DistrictCode] = true
	}
	require.Equal(t, demo.RegisterSize, total)
	require.Equal(t, demo.RegisterSize/3, forms[civicflow.SupportCentralised])
	require.Len(t, districts, 4)
	standards, err := db.SupportStandards(ctx, "610113")
	require.NoError(t, err)
	require.Len(t, standards, 1)

	again, err := demo.SeedRegister(ctx, db)
	require.NoError(t, err)
	require.Equal(t, demo.RegisterSize, again)
	require.Equal(t, demo.RegisterSize, count(t, db, `SELECT count(*) FROM register_periods`))
}
