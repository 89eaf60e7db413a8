package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

func ensureInstitution(t *testing.T, db *postgres.DB, name, district string, beds map[civicflow.CareLevel]int) int64 {
	t.Helper()
	id, err := db.EnsureInstitution(context.Background(), postgres.NewInstitution{Name: name, DistrictCode: district, Beds: beds})
	require.NoError(t, err)
	require.Positive(t, id)
	return id
}

func allocate(t *testing.T, db *postgres.DB, caseID int64, level civicflow.CareLevel, district string) *civicflow.Placement {
	t.Helper()
	p, err := db.AllocateBed(context.Background(), caseID, level, district)
	require.NoError(t, err)
	return p
}

func waitlist(t *testing.T, db *postgres.DB, level civicflow.CareLevel) []int64 {
	t.Helper()
	ids, err := db.Waitlist(context.Background(), level)
	require.NoError(t, err)
	if ids == nil {
		ids = []int64{}
	}
	return ids
}

func TestEnsureInstitutionIsIdempotentByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	beds := map[civicflow.CareLevel]int{civicflow.CareSelf: 1, civicflow.CareDependent: 2}
	id := ensureInstitution(t, db, "雁塔区社会福利院", "610113", beds)
	again := ensureInstitution(t, db, "雁塔区社会福利院", "610113",
		map[civicflow.CareLevel]int{civicflow.CareSelf: 5, civicflow.CareSemiDependent: 5})
	require.Equal(t, id, again)
	other := ensureInstitution(t, db, "新城区敬老院", "610102", map[civicflow.CareLevel]int{civicflow.CareSemiDependent: 1})
	require.NotEqual(t, id, other)

	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM beds WHERE institution_id = $1`, id), "no beds added by the second call")
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM institutions`))

	insts, err := db.Institutions(ctx, "610113")
	require.NoError(t, err)
	require.Equal(t, []civicflow.Institution{{ID: id, Name: "雁塔区社会福利院", DistrictCode: "610113",
		Beds: beds, FreeBeds: beds}}, insts)
	all, err := db.Institutions(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	none, err := db.Institutions(ctx, "610124")
	require.NoError(t, err)
	require.Empty(t, none)

	// Free beds go down with an allocation.
	cr := createCase(t, db, "610113001")
	require.NotNil(t, allocate(t, db, cr.CaseID, civicflow.CareDependent, "610113").Allocation)
	insts, err = db.Institutions(ctx, "610113")
	require.NoError(t, err)
	require.Equal(t, 2, insts[0].Beds[civicflow.CareDependent])
	require.Equal(t, 1, insts[0].FreeBeds[civicflow.CareDependent])
	require.Equal(t, 1, insts[0].FreeBeds[civicflow.CareSelf])

	_, err = db.EnsureInstitution(ctx, postgres.NewInstitution{Name: "无区机构", DistrictCode: "610199"})
	requireCode(t, err, civicflow.EINVALID)
}

func TestAllocateBedPrefersTheCasesDistrict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	// The other district's institution comes first by ID.
	xincheng := ensureInstitution(t, db, "新城区敬老院", "610102", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	yanta := ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})

	local := createCase(t, db, "610113001")
	p := allocate(t, db, local.CaseID, civicflow.CareDependent, "610113")
	require.False(t, p.Waitlisted)
	require.NotNil(t, p.Allocation)
	require.Equal(t, yanta, p.Allocation.InstitutionID)
	require.Equal(t, "雁塔区福利院", p.Allocation.Institution)
	require.Equal(t, local.CaseID, p.Allocation.CaseID)
	require.Equal(t, civicflow.CareDependent, p.Allocation.CareLevel)
	require.Equal(t, "dependent-01", p.Allocation.BedLabel)
	require.Nil(t, p.Allocation.AdmittedAt)
	require.Nil(t, p.Allocation.ReleasedAt)

	c := getCase(t, db, local.CaseID)
	require.Equal(t, yanta, c.InstitutionID)
	require.Equal(t, p.Allocation.BedID, c.BedID)
	require.Equal(t, p.Allocation.ID, c.AllocationID)

	got, err := db.CaseAllocation(ctx, local.CaseID)
	require.NoError(t, err)
	require.Equal(t, p.Allocation, got)
	got, err = db.Allocation(ctx, p.Allocation.ID)
	require.NoError(t, err)
	require.Equal(t, p.Allocation, got)

	// With none left in its district, a case gets a bed elsewhere.
	far := createCase(t, db, "610124001")
	p = allocate(t, db, far.CaseID, civicflow.CareDependent, "610124")
	require.NotNil(t, p.Allocation)
	require.Equal(t, xincheng, p.Allocation.InstitutionID)

	// A care level without beds wait-lists.
	semi := createCase(t, db, "610113001")
	p = allocate(t, db, semi.CaseID, civicflow.CareSemiDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 1, p.Position)
	require.Nil(t, p.Allocation)
	_, err = db.CaseAllocation(ctx, semi.CaseID)
	requireCode(t, err, civicflow.ENOTFOUND)
	_, err = db.Allocation(ctx, 999999)
	requireCode(t, err, civicflow.ENOTFOUND)
}

func TestAllocateBedConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{
		civicflow.CareDependent: 3, civicflow.CareSemiDependent: 2})
	const n = 10
	cases := make([]int64, n)
	for i := range cases {
		cases[i] = createCase(t, db, "610113001").CaseID
	}

	placements := make([]*civicflow.Placement, n)
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		placements[i], errs[i] = db.AllocateBed(ctx, cases[i], civicflow.CareDependent, "610113")
	})

	beds := map[int64]int64{} // bed -> case
	positions := map[int]int64{}
	for i, p := range placements {
		require.NoError(t, errs[i], "case %d", cases[i])
		if p.Allocation != nil {
			require.False(t, p.Waitlisted)
			require.Equal(t, cases[i], p.Allocation.CaseID)
			require.Equal(t, civicflow.CareDependent, p.Allocation.CareLevel)
			_, dup := beds[p.Allocation.BedID]
			require.False(t, dup, "bed %d allocated twice", p.Allocation.BedID)
			beds[p.Allocation.BedID] = cases[i]
			continue
		}
		require.True(t, p.Waitlisted)
		_, dup := positions[p.Position]
		require.False(t, dup, "position %d given twice", p.Position)
		positions[p.Position] = cases[i]
	}
	require.Len(t, beds, 3, "exactly three cases got beds")
	require.Len(t, positions, 7, "the other seven are wait-listed")
	for pos := 1; pos <= 7; pos++ {
		require.Contains(t, positions, pos)
	}
	wl := waitlist(t, db, civicflow.CareDependent)
	require.Len(t, wl, 7)
	for i, id := range wl {
		require.Equal(t, positions[i+1], id, "wait-list order matches the positions returned")
	}

	// The table itself: three current allocations, of three distinct
	// dependent beds, for three distinct cases.
	var total, distinctBeds, distinctCases, dependent int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT a.bed_id), count(DISTINCT a.case_id),
			count(*) FILTER (WHERE b.care_level = 'dependent')
		FROM bed_allocations a JOIN beds b ON b.id = a.bed_id`).Scan(&total, &distinctBeds, &distinctCases, &dependent))
	require.Equal(t, []int{3, 3, 3, 3}, []int{total, distinctBeds, distinctCases, dependent})
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM bed_allocations WHERE released_at IS NOT NULL`))

	// Asking again (a retried activity) returns the same bed or place.
	for i, id := range cases {
		p := allocate(t, db, id, civicflow.CareDependent, "610113")
		if placements[i].Allocation != nil {
			require.NotNil(t, p.Allocation, "case %d", id)
			require.Equal(t, placements[i].Allocation.ID, p.Allocation.ID)
			require.Equal(t, placements[i].Allocation.BedID, p.Allocation.BedID)
		} else {
			require.True(t, p.Waitlisted, "case %d", id)
			require.Equal(t, placements[i].Position, p.Position)
		}
	}
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM bed_allocations`))
	require.Equal(t, wl, waitlist(t, db, civicflow.CareDependent))
	require.Empty(t, waitlist(t, db, civicflow.CareSemiDependent))

	insts, err := db.Institutions(ctx, "610113")
	require.NoError(t, err)
	require.Equal(t, 0, insts[0].FreeBeds[civicflow.CareDependent])
	require.Equal(t, 2, insts[0].FreeBeds[civicflow.CareSemiDependent], "other care levels untouched")
}

func TestWaitlistIsServedInOrder(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})

	c1 := createCase(t, db, "610113001").CaseID
	c2 := createCase(t, db, "610113001").CaseID
	c3 := createCase(t, db, "610113001").CaseID
	c4 := createCase(t, db, "610113001").CaseID
	require.NotNil(t, allocate(t, db, c1, civicflow.CareDependent, "610113").Allocation)
	p := allocate(t, db, c2, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 1, p.Position)
	p = allocate(t, db, c3, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 2, p.Position)

	// A bed becomes free in another district (a seeded institution; the
	// API serves the wait-list when it adds a bed). By the wait-list rule
	// (docs/beds.md) a newcomer from a third district queues behind the
	// cases already waiting, and a waiting case of 雁塔 behind the head
	// stays behind it, since nobody waits from the bed's district ...
	ensureInstitution(t, db, "新城区敬老院", "610102", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	c6 := createCase(t, db, "610124001").CaseID
	p = allocate(t, db, c6, civicflow.CareDependent, "610124")
	require.True(t, p.Waitlisted)
	require.Equal(t, 3, p.Position)
	p = allocate(t, db, c3, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 2, p.Position)

	// ... but a newcomer of the bed's own district takes it: no case of
	// that district is ahead of it, and its district comes first.
	c5 := createCase(t, db, "610102001").CaseID
	p = allocate(t, db, c5, civicflow.CareDependent, "610102")
	require.NotNil(t, p.Allocation)
	require.Equal(t, []int64{c2, c3, c6}, waitlist(t, db, civicflow.CareDependent))

	p = allocate(t, db, c4, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 4, p.Position)
	require.Equal(t, []int64{c2, c3, c6, c4}, waitlist(t, db, civicflow.CareDependent))
}

func TestAllocateBedWaitsBehindItsDistrict(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	holder := createCase(t, db, "610113001").CaseID
	require.NotNil(t, allocate(t, db, holder, civicflow.CareDependent, "610113").Allocation)
	first := createCase(t, db, "610113001").CaseID
	require.True(t, allocate(t, db, first, civicflow.CareDependent, "610113").Waitlisted)
	// A free bed of 雁塔 appears (seeded, not served): a later case of 雁塔
	// stays behind the earlier one of 雁塔, which takes it when it asks.
	ensureInstitution(t, db, "雁塔区第二福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	second := createCase(t, db, "610113002").CaseID
	p := allocate(t, db, second, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 2, p.Position)
	// Nor may a case of another district take 雁塔's bed over 雁塔's own.
	far := createCase(t, db, "610124001").CaseID
	require.True(t, allocate(t, db, far, civicflow.CareDependent, "610124").Waitlisted)
	require.NotNil(t, allocate(t, db, first, civicflow.CareDependent, "610113").Allocation)
	require.Equal(t, []int64{second, far}, waitlist(t, db, civicflow.CareDependent))
}

// placed puts a case on the given bed's care level and records that it
// awaits admission, as the workflow's bed_allocated step does.
func placed(t *testing.T, db *postgres.DB, township string, level civicflow.CareLevel) (int64, *civicflow.Allocation) {
	t.Helper()
	id := createCase(t, db, township).CaseID
	p := allocate(t, db, id, level, township[:6])
	require.NotNil(t, p.Allocation)
	require.NoError(t, db.RecordTransition(context.Background(), civicflow.Transition{CaseID: id, Key: "placed", Seq: 1,
		Action: civicflow.StepBedAllocated, From: civicflow.StagePlacement, To: civicflow.StageAwaitingAdmission,
		Actor: civicflow.SystemActor, At: now()}))
	return id, p.Allocation
}

func release(caseID, allocationID int64, reason civicflow.ReleaseReason) civicflow.Release {
	return civicflow.Release{AllocationID: allocationID, Reason: reason, Transition: civicflow.Transition{
		CaseID: caseID, Key: "released", Seq: 2, Action: civicflow.ActionReleaseAllocation,
		From: civicflow.StageAwaitingAdmission, To: civicflow.StageWithdrawn,
		Actor:   civicflow.Actor{UserID: 2, Username: "dr", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"},
		Reasons: "家属决定居家照料", At: now(), Details: map[string]any{"release_reason": reason}}}
}

func TestFreedBedGoesToItsDistrictFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	inst := ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	holder, alloc := placed(t, db, "610113001", civicflow.CareDependent)
	// Waiting, in city order: 新城, 雁塔, 周至.
	xincheng := createCase(t, db, "610102001").CaseID
	yanta := createCase(t, db, "610113002").CaseID
	zhouzhi := createCase(t, db, "610124001").CaseID
	for _, c := range []struct {
		id       int64
		district string
	}{{xincheng, "610102"}, {yanta, "610113"}, {zhouzhi, "610124"}} {
		require.True(t, allocate(t, db, c.id, civicflow.CareDependent, c.district).Waitlisted)
	}

	// The bed is given up before admission: 雁塔's own waiting case gets
	// it, although 新城's waits longer.
	d, err := db.ReleaseAllocation(ctx, release(holder, alloc.ID, civicflow.ReleaseDeclined))
	require.NoError(t, err)
	require.True(t, d.Released)
	require.Equal(t, yanta, d.NextCaseID)
	require.Equal(t, []int64{xincheng, zhouzhi}, waitlist(t, db, civicflow.CareDependent))
	next, err := db.CaseAllocation(ctx, yanta)
	require.NoError(t, err)
	require.Equal(t, alloc.BedID, next.BedID)
	require.Equal(t, inst, next.InstitutionID)

	// 雁塔's case is admitted and leaves; nobody of 雁塔 waits now, so the
	// first in city order (新城) gets the bed.
	require.NoError(t, db.ConfirmAdmission(ctx, next.ID, civicflow.Transition{CaseID: yanta, Key: "admitted", Seq: 2,
		Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
		Actor: civicflow.SystemActor, At: now()}))
	d, err = db.ReleaseBed(ctx, next.ID, civicflow.Transition{Key: "departed", Seq: 3, Action: civicflow.ActionRecordDeparture,
		From: civicflow.StageCompleted, To: civicflow.StageDeparted, Actor: civicflow.SystemActor, At: now()})
	require.NoError(t, err)
	require.Equal(t, xincheng, d.NextCaseID)
	require.Equal(t, []int64{zhouzhi}, waitlist(t, db, civicflow.CareDependent))
}

func TestReleaseAllocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 2})
	holder, alloc := placed(t, db, "610113001", civicflow.CareDependent)
	other, otherAlloc := placed(t, db, "610113001", civicflow.CareDependent)
	waiting := createCase(t, db, "610113002").CaseID
	require.True(t, allocate(t, db, waiting, civicflow.CareDependent, "610113").Waitlisted)

	// Field and ownership checks change nothing.
	_, err := db.ReleaseAllocation(ctx, release(holder, alloc.ID, "moved"))
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.ReleaseAllocation(ctx, release(holder, otherAlloc.ID, civicflow.ReleaseDied))
	requireCode(t, err, civicflow.ECONFLICT)
	_, err = db.ReleaseAllocation(ctx, release(holder, 999999, civicflow.ReleaseDied))
	requireCode(t, err, civicflow.ENOTFOUND)
	require.Equal(t, civicflow.StageAwaitingAdmission, getCase(t, db, holder).Stage)

	r := release(holder, alloc.ID, civicflow.ReleaseNoShow)
	d, err := db.ReleaseAllocation(ctx, r)
	require.NoError(t, err)
	require.Equal(t, civicflow.Departure{CaseID: holder, NextCaseID: waiting, AllocationID: d.AllocationID, Released: true}, *d)
	c := getCase(t, db, holder)
	require.Equal(t, civicflow.StageWithdrawn, c.Stage)
	var cause, reason string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT release_cause, release_reason FROM bed_allocations WHERE id = $1`, alloc.ID).Scan(&cause, &reason))
	require.Equal(t, "no_show", cause)
	require.Equal(t, "家属决定居家照料", reason)
	evs, err := db.Events(ctx, holder)
	require.NoError(t, err)
	require.Equal(t, civicflow.ActionReleaseAllocation, evs[len(evs)-1].Action)
	require.Equal(t, civicflow.StageWithdrawn, evs[len(evs)-1].ToStage)

	// A retried attempt of the same step answers the same next case and
	// writes nothing.
	again, err := db.ReleaseAllocation(ctx, r)
	require.NoError(t, err)
	require.False(t, again.Released)
	require.Equal(t, waiting, again.NextCaseID)
	require.Equal(t, d.AllocationID, again.AllocationID)
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM bed_allocations`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1 AND event_key = 'released'`, holder))

	// A released allocation is never admitted.
	err = db.ConfirmAdmission(ctx, alloc.ID, civicflow.Transition{CaseID: holder, Key: "admitted", Seq: 3,
		Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
		Actor: civicflow.SystemActor, At: now()})
	requireCode(t, err, civicflow.ECONFLICT)
	require.Equal(t, civicflow.StageWithdrawn, getCase(t, db, holder).Stage)

	// An admitted one is not released here: that is a departure.
	require.NoError(t, db.ConfirmAdmission(ctx, otherAlloc.ID, civicflow.Transition{CaseID: other, Key: "admitted", Seq: 2,
		Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
		Actor: civicflow.SystemActor, At: now()}))
	_, err = db.ReleaseAllocation(ctx, release(other, otherAlloc.ID, civicflow.ReleaseDied))
	requireCode(t, err, civicflow.ECONFLICT)

	// The schema refuses what Go would not do: an admitted allocation
	// released as given up, a settled one changed, an allocation deleted.
	for _, sql := range []string{
		`UPDATE bed_allocations SET released_at = now(), release_cause = 'died' WHERE id = $1`,
		`UPDATE bed_allocations SET admitted_at = now() WHERE id = $1`,
		`DELETE FROM bed_allocations WHERE id = $1`,
	} {
		_, err := db.Pool().Exec(ctx, sql, otherAlloc.ID)
		require.Error(t, err, sql)
	}
}

// TestReleaseAndAdmissionRace sends a release and an admission of the same
// allocation at the same moment, many times: exactly one wins, and the bed
// is either admitted or given to the next waiting case, never both.
func TestReleaseAndAdmissionRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareSelf: 1})
	wins := map[string]int{}
	for round := range 12 {
		holder, alloc := placed(t, db, "610113001", civicflow.CareSelf)
		next := createCase(t, db, "610113002").CaseID
		require.True(t, allocate(t, db, next, civicflow.CareSelf, "610113").Waitlisted)
		errs := make([]error, 2)
		runConcurrently(2, func(i int) {
			if i == 0 {
				_, errs[0] = db.ReleaseAllocation(ctx, release(holder, alloc.ID, civicflow.ReleaseDeclined))
				return
			}
			errs[1] = db.ConfirmAdmission(ctx, alloc.ID, civicflow.Transition{CaseID: holder, Key: "admitted", Seq: 2,
				Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
				Actor: civicflow.SystemActor, At: now()})
		})
		a, err := db.Allocation(ctx, alloc.ID)
		require.NoError(t, err)
		nextAlloc, nextErr := db.CaseAllocation(ctx, next)
		switch {
		case errs[0] == nil:
			requireCode(t, errs[1], civicflow.ECONFLICT)
			require.NotNil(t, a.ReleasedAt)
			require.Nil(t, a.AdmittedAt)
			require.Equal(t, civicflow.StageWithdrawn, getCase(t, db, holder).Stage)
			require.NoError(t, nextErr, "round %d", round)
			require.Equal(t, alloc.BedID, nextAlloc.BedID)
			wins["release"]++
			// Free the bed for the next round: the next case leaves at once.
			_, err := db.ReleaseAllocation(ctx, release(next, nextAlloc.ID, civicflow.ReleaseDied))
			require.NoError(t, err)
		case errs[1] == nil:
			requireCode(t, errs[0], civicflow.ECONFLICT)
			require.NotNil(t, a.AdmittedAt)
			require.Nil(t, a.ReleasedAt)
			require.Equal(t, civicflow.StageCompleted, getCase(t, db, holder).Stage)
			requireCode(t, nextErr, civicflow.ENOTFOUND)
			wins["admission"]++
			_, err := db.ReleaseBed(ctx, alloc.ID, civicflow.Transition{Key: "departed", Seq: 3, Action: civicflow.ActionRecordDeparture,
				From: civicflow.StageCompleted, To: civicflow.StageDeparted, Actor: civicflow.SystemActor, At: now()})
			require.NoError(t, err)
			nextAlloc, err := db.CaseAllocation(ctx, next)
			require.NoError(t, err)
			_, err = db.ReleaseAllocation(ctx, release(next, nextAlloc.ID, civicflow.ReleaseDied))
			require.NoError(t, err)
		default:
			t.Fatalf("round %d: both failed: %v, %v", round, errs[0], errs[1])
		}
		require.Equal(t, 0, count(t, db, `SELECT count(*) FROM bed_allocations WHERE released_at IS NULL`), "round %d", round)
	}
	t.Logf("release vs admission: %v", wins)
}

func TestAdmissionAndRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	staff := civicflow.Actor{UserID: 3, Username: "zhao", Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: 1}

	inst := ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	resident := createCase(t, db, "610113001").CaseID
	semi := createCase(t, db, "610113001").CaseID // waits for another care level, queued first
	next := createCase(t, db, "610102001").CaseID
	later := createCase(t, db, "610124001").CaseID // neither waits in the bed's district: city order

	p := allocate(t, db, resident, civicflow.CareDependent, "610113")
	require.NotNil(t, p.Allocation)
	alloc := p.Allocation
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: resident, Key: "placed", Seq: 1,
		Action: "allocate_bed", From: civicflow.StageSubmitted, To: civicflow.StageAwaitingAdmission,
		Actor: civicflow.SystemActor, At: now()}))
	require.True(t, allocate(t, db, semi, civicflow.CareSemiDependent, "610113").Waitlisted)
	require.True(t, allocate(t, db, next, civicflow.CareDependent, "610102").Waitlisted)
	require.True(t, allocate(t, db, later, civicflow.CareDependent, "610124").Waitlisted)

	departure := civicflow.Transition{Key: "departed", Seq: 3, Action: "record_departure",
		From: civicflow.StageCompleted, To: civicflow.StageDeparted, Actor: staff, Reasons: "moved in with family"}

	// Not yet admitted: nothing is released.
	departure.At = now()
	d, err := db.ReleaseBed(ctx, alloc.ID, departure)
	require.NoError(t, err)
	require.False(t, d.Released)
	require.Equal(t, resident, d.CaseID)
	require.Zero(t, d.NextCaseID)
	a, err := db.Allocation(ctx, alloc.ID)
	require.NoError(t, err)
	require.Nil(t, a.ReleasedAt)
	require.Equal(t, civicflow.StageAwaitingAdmission, getCase(t, db, resident).Stage)
	require.Equal(t, []int64{next, later}, waitlist(t, db, civicflow.CareDependent))
	evs, err := db.Events(ctx, resident)
	require.NoError(t, err)
	require.Len(t, evs, 1)

	// Admission.
	admittedAt := now()
	support := civicflow.SupportStart(admittedAt)
	admit := civicflow.Transition{CaseID: resident, Key: "admitted", Seq: 2, Action: "confirm_admission",
		From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted, Actor: staff, At: admittedAt,
		SupportStart: &support}
	require.NoError(t, db.ConfirmAdmission(ctx, alloc.ID, admit))
	a, err = db.Allocation(ctx, alloc.ID)
	require.NoError(t, err)
	require.NotNil(t, a.AdmittedAt)
	requireSameTime(t, admittedAt, *a.AdmittedAt)
	c := getCase(t, db, resident)
	require.Equal(t, civicflow.StageCompleted, c.Stage)
	require.NotNil(t, c.SupportStart)
	require.Equal(t, support.Format(time.DateOnly), c.SupportStart.Format(time.DateOnly))

	// Confirming again changes nothing.
	again := admit
	again.At = admittedAt.Add(time.Hour)
	require.NoError(t, db.ConfirmAdmission(ctx, alloc.ID, again))
	a, err = db.Allocation(ctx, alloc.ID)
	require.NoError(t, err)
	requireSameTime(t, admittedAt, *a.AdmittedAt)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1 AND event_key = 'admitted'`, resident))

	// Departure: the bed goes to the first case waiting for dependent care,
	// not to the earlier semi-dependent one.
	departure.At = now()
	d, err = db.ReleaseBed(ctx, alloc.ID, departure)
	require.NoError(t, err)
	require.True(t, d.Released)
	require.Equal(t, resident, d.CaseID)
	require.Equal(t, next, d.NextCaseID)
	require.NotZero(t, d.AllocationID)
	require.NotEqual(t, alloc.ID, d.AllocationID)

	a, err = db.Allocation(ctx, alloc.ID)
	require.NoError(t, err)
	require.NotNil(t, a.ReleasedAt)
	requireSameTime(t, departure.At, *a.ReleasedAt)
	var reason string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT release_reason FROM bed_allocations WHERE id = $1`, alloc.ID).Scan(&reason))
	require.Equal(t, "moved in with family", reason)
	c = getCase(t, db, resident)
	require.Equal(t, civicflow.StageDeparted, c.Stage)
	requireSameTime(t, departure.At, c.StageEnteredAt)
	evs, err = db.Events(ctx, resident)
	require.NoError(t, err)
	// Allocation, admission, the note that the applicant (no e-mail) could
	// not be told of the admission (notifications.go), departure.
	require.Len(t, evs, 4)
	require.Equal(t, civicflow.StepNoticeNotSent, evs[2].Action)
	require.Equal(t, "departed", evs[3].Key)
	require.Equal(t, civicflow.StageDeparted, evs[3].ToStage)
	_, err = db.CaseAllocation(ctx, resident)
	requireCode(t, err, civicflow.ENOTFOUND)

	na, err := db.CaseAllocation(ctx, next)
	require.NoError(t, err)
	require.Equal(t, d.AllocationID, na.ID)
	require.Equal(t, alloc.BedID, na.BedID)
	require.Equal(t, inst, na.InstitutionID)
	nc := getCase(t, db, next)
	require.Equal(t, inst, nc.InstitutionID)
	require.Equal(t, alloc.BedID, nc.BedID)
	require.Equal(t, d.AllocationID, nc.AllocationID)
	require.Equal(t, []int64{later}, waitlist(t, db, civicflow.CareDependent))
	require.Equal(t, []int64{semi}, waitlist(t, db, civicflow.CareSemiDependent))

	// The same departure again (its activity retried after it committed)
	// changes nothing and answers as the first did, so the case the bed
	// went to is still woken; another departure of it releases nothing.
	retry := departure
	retry.At = now()
	d, err = db.ReleaseBed(ctx, alloc.ID, retry)
	require.NoError(t, err)
	require.True(t, d.Released)
	require.Equal(t, next, d.NextCaseID)
	require.Equal(t, na.ID, d.AllocationID)
	other := retry
	other.Key = "departed-again"
	d, err = db.ReleaseBed(ctx, alloc.ID, other)
	require.NoError(t, err)
	require.False(t, d.Released)
	require.Zero(t, d.NextCaseID)
	require.Zero(t, d.AllocationID)
	require.Equal(t, []int64{later}, waitlist(t, db, civicflow.CareDependent))
	_, err = db.CaseAllocation(ctx, later)
	requireCode(t, err, civicflow.ENOTFOUND)
	na2, err := db.CaseAllocation(ctx, next)
	require.NoError(t, err)
	require.Equal(t, na.ID, na2.ID)
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM bed_allocations`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM case_events WHERE event_key = 'departed'`))

	// Unknown allocation.
	_, err = db.ReleaseBed(ctx, 999999, retry)
	requireCode(t, err, civicflow.ENOTFOUND)
}

func TestReleaseBedWithEmptyWaitlistFreesTheBed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareSelf: 1})
	resident := createCase(t, db, "610113001").CaseID
	alloc := allocate(t, db, resident, civicflow.CareSelf, "610113").Allocation
	require.NotNil(t, alloc)
	require.NoError(t, db.ConfirmAdmission(ctx, alloc.ID, civicflow.Transition{CaseID: resident, Key: "admitted", Seq: 1,
		Action: "confirm_admission", From: civicflow.StageSubmitted, To: civicflow.StageCompleted,
		Actor: civicflow.SystemActor, At: now()}))
	d, err := db.ReleaseBed(ctx, alloc.ID, civicflow.Transition{Key: "departed", Seq: 2, Action: "record_departure",
		From: civicflow.StageCompleted, To: civicflow.StageDeparted, Actor: civicflow.SystemActor, At: now()})
	require.NoError(t, err)
	require.True(t, d.Released)
	require.Zero(t, d.NextCaseID)

	// The bed is free for the next case.
	other := createCase(t, db, "610113001").CaseID
	p := allocate(t, db, other, civicflow.CareSelf, "610113")
	require.NotNil(t, p.Allocation)
	require.Equal(t, alloc.BedID, p.Allocation.BedID)
}
