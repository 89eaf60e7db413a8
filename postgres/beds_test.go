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

	// A bed becomes free (a new institution). A newcomer still queues
	// behind the cases already waiting, even in the bed's own district.
	ensureInstitution(t, db, "新城区敬老院", "610102", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	c5 := createCase(t, db, "610102001").CaseID
	p = allocate(t, db, c5, civicflow.CareDependent, "610102")
	require.True(t, p.Waitlisted)
	require.Equal(t, 3, p.Position)
	require.Equal(t, []int64{c2, c3, c5}, waitlist(t, db, civicflow.CareDependent))

	// Someone behind the head asking again stays where they are.
	p = allocate(t, db, c3, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 2, p.Position)

	// The head of the queue asking again gets the free bed.
	p = allocate(t, db, c2, civicflow.CareDependent, "610113")
	require.NotNil(t, p.Allocation)
	require.Equal(t, []int64{c3, c5}, waitlist(t, db, civicflow.CareDependent))

	p = allocate(t, db, c4, civicflow.CareDependent, "610113")
	require.True(t, p.Waitlisted)
	require.Equal(t, 3, p.Position)
	require.Equal(t, []int64{c3, c5, c4}, waitlist(t, db, civicflow.CareDependent))
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
	later := createCase(t, db, "610113002").CaseID

	p := allocate(t, db, resident, civicflow.CareDependent, "610113")
	require.NotNil(t, p.Allocation)
	alloc := p.Allocation
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: resident, Key: "placed", Seq: 1,
		Action: "allocate_bed", From: civicflow.StageSubmitted, To: civicflow.StageAwaitingAdmission,
		Actor: civicflow.SystemActor, At: now()}))
	require.True(t, allocate(t, db, semi, civicflow.CareSemiDependent, "610113").Waitlisted)
	require.True(t, allocate(t, db, next, civicflow.CareDependent, "610102").Waitlisted)
	require.True(t, allocate(t, db, later, civicflow.CareDependent, "610113").Waitlisted)

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

	// Releasing again changes nothing.
	retry := departure
	retry.At = now()
	d, err = db.ReleaseBed(ctx, alloc.ID, retry)
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
