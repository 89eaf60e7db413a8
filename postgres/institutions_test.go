package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

func TestInstitutionAdministration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	in, err := db.CreateInstitution(ctx, postgres.InstitutionInput{Name: "雁塔区第二敬老院", DistrictCode: "610113",
		Designated: false, Address: "长安南路 100 号"})
	require.NoError(t, err)
	require.False(t, in.Designated)
	_, err = db.CreateInstitution(ctx, postgres.InstitutionInput{Name: "雁塔区第二敬老院", DistrictCode: "610102"})
	requireCode(t, err, civicflow.ECONFLICT)

	// Beds of an institution not designated are not allocated.
	b1, offer, err := db.AddBed(ctx, in.ID, "A-101", civicflow.CareSelf)
	require.NoError(t, err)
	require.Nil(t, offer)
	_, _, err = db.AddBed(ctx, in.ID, "A-101", civicflow.CareDependent)
	requireCode(t, err, civicflow.ECONFLICT)
	waiting := createCase(t, db, "610113001").CaseID
	require.True(t, allocate(t, db, waiting, civicflow.CareSelf, "610113").Waitlisted)

	// Made designated, its free bed serves the wait-list at once.
	yes, name := true, "雁塔区第二社会福利院"
	up, offers, err := db.UpdateInstitution(ctx, in.ID, postgres.InstitutionChange{Name: &name, Designated: &yes})
	require.NoError(t, err)
	require.Equal(t, name, up.Name)
	require.True(t, up.Designated)
	require.Len(t, offers, 1)
	require.Equal(t, waiting, offers[0].CaseID)
	require.Empty(t, waitlist(t, db, civicflow.CareSelf))

	// A bed added while someone waits goes to them at once.
	next := createCase(t, db, "610113002").CaseID
	require.True(t, allocate(t, db, next, civicflow.CareSelf, "610113").Waitlisted)
	b2, offer, err := db.AddBed(ctx, in.ID, "A-102", civicflow.CareSelf)
	require.NoError(t, err)
	require.NotNil(t, offer)
	require.Equal(t, next, offer.CaseID)
	require.NotNil(t, b2.Holder)
	require.False(t, b2.Holder.Admitted)

	// Occupancy, and retiring: a held bed is refused, a free one retired
	// for good and never allocated again.
	b3, _, err := db.AddBed(ctx, in.ID, "A-103", civicflow.CareSelf)
	require.NoError(t, err)
	require.Nil(t, b3.Holder)
	_, err = db.RetireBed(ctx, in.ID, b1.ID)
	requireCode(t, err, civicflow.ECONFLICT)
	retired, err := db.RetireBed(ctx, in.ID, b3.ID)
	require.NoError(t, err)
	require.NotNil(t, retired.RetiredAt)
	again, err := db.RetireBed(ctx, in.ID, b3.ID)
	require.NoError(t, err)
	require.Equal(t, retired.RetiredAt, again.RetiredAt)
	_, err = db.RetireBed(ctx, in.ID+1000, b3.ID)
	requireCode(t, err, civicflow.ENOTFOUND)
	beds, err := db.InstitutionBeds(ctx, in.ID)
	require.NoError(t, err)
	require.Len(t, beds, 3)
	ref := getCase(t, db, waiting).Reference
	require.Equal(t, ref, beds[0].Holder.Reference)
	require.Nil(t, beds[2].Holder)
	require.NotNil(t, beds[2].RetiredAt)
	late := createCase(t, db, "610113001").CaseID
	require.True(t, allocate(t, db, late, civicflow.CareSelf, "610113").Waitlisted, "the retired bed is not given out")

	// The schema refuses what Go would not do.
	for _, sql := range []string{
		`UPDATE beds SET retired_at = now() WHERE id = $1`, // held
		`DELETE FROM beds WHERE id = $1`,
	} {
		_, err := db.Pool().Exec(ctx, sql, b1.ID)
		require.Error(t, err, sql)
	}
	_, err = db.Pool().Exec(ctx, `UPDATE beds SET retired_at = NULL WHERE id = $1`, b3.ID)
	require.Error(t, err, "a retired bed stays retired")
	_, err = db.Pool().Exec(ctx, `INSERT INTO bed_allocations (bed_id, case_id) VALUES ($1, $2)`, b3.ID, late)
	require.Error(t, err, "a retired bed is never allocated")
}

func TestWaitlistEntriesPositions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	a := createCase(t, db, "610113001").CaseID
	b := createCase(t, db, "610102001").CaseID
	c := createCase(t, db, "610113002").CaseID
	d := createCase(t, db, "610113001").CaseID
	for _, id := range []int64{a, b, c} {
		cs := getCase(t, db, id)
		require.True(t, allocate(t, db, id, civicflow.CareDependent, cs.DistrictCode).Waitlisted)
	}
	require.True(t, allocate(t, db, d, civicflow.CareSelf, "610113").Waitlisted)

	all, err := db.WaitlistEntries(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, all, 4)
	require.Equal(t, civicflow.CareDependent, all[0].CareLevel)
	yanta, err := db.WaitlistEntries(ctx, civicflow.CareDependent, "610113")
	require.NoError(t, err)
	require.Len(t, yanta, 2)
	require.Equal(t, a, yanta[0].CaseID)
	require.Equal(t, [2]int{1, 1}, [2]int{yanta[0].CityPosition, yanta[0].DistrictPosition})
	require.Equal(t, c, yanta[1].CaseID)
	require.Equal(t, [2]int{3, 2}, [2]int{yanta[1].CityPosition, yanta[1].DistrictPosition}, "third in the city, second in 雁塔")
	require.Equal(t, "610113002", yanta[1].TownshipCode)
	require.Contains(t, yanta[1].MaskedName, "*")
	require.NotContains(t, yanta[1].MaskedName, getCase(t, db, c).ApplicantName[3:], "the name is masked")
}
