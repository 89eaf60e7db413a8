package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// register puts a new person of township into the register in dispersed
// support from startsOn (the row a district's approval writes; the case
// that opened it is a plain application) and returns the person's ID.
func register(t *testing.T, db *postgres.DB, township string, startsOn time.Time) int64 {
	t.Helper()
	c := createCase(t, db, township)
	var personID int64
	err := db.Pool().QueryRow(context.Background(), `INSERT INTO register_periods (person_id, form, care_level,
			district_code, township_code, carer_name, carer_relation, carer_phone_enc, carer_phone_masked,
			agreement_starts_on, starts_on, opened_by_case)
		SELECT c.person_id, 'dispersed', 'self_care', c.district_code, c.township_code, '侄女', '侄女', 'k1:AAAA',
			'139****5678', $2, $2, c.id FROM cases c WHERE c.id = $1 RETURNING person_id`, c.CaseID, startsOn).Scan(&personID)
	require.NoError(t, err)
	return personID
}

func campaignUsers(t *testing.T, db *postgres.DB) (sup, ts, other civicflow.Actor) {
	t.Helper()
	ctx := context.Background()
	mk := func(name string, role civicflow.Role, j string) civicflow.Actor {
		id, err := db.EnsureUser(ctx, postgres.NewUser{Username: name, DisplayName: name, Password: "a-long-password",
			Role: role, Jurisdiction: j})
		require.NoError(t, err)
		return civicflow.Actor{UserID: id, Username: name, Role: role, Jurisdiction: j}
	}
	return mk("sv.c", civicflow.RoleSupervisor, "610113"), mk("ts.c1", civicflow.RoleTownshipOfficial, "610113001"),
		mk("ts.c2", civicflow.RoleTownshipOfficial, "610113002")
}

func createTasks(t *testing.T, db *postgres.DB, campaignID int64, chunk int) (chunks int) {
	t.Helper()
	var after int64
	for {
		r, err := db.CreateTaskChunk(context.Background(), civicflow.TaskChunk{CampaignID: campaignID, AfterPersonID: after, Limit: chunk})
		require.NoError(t, err)
		chunks++
		after = r.LastPersonID
		if r.Read < chunk {
			return chunks
		}
	}
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// The tasks are the persons in the register on the campaign's day and in
// its scope, one each, however often a chunk runs: a chunk run twice (a
// retried activity whose heartbeat was lost) and two creations at once
// insert every task exactly once.
func TestCampaignTasksExactlyOnce(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	sup, _, _ := campaignUsers(t, db)
	var yanta []int64
	for i := 0; i < 7; i++ {
		yanta = append(yanta, register(t, db, []string{"610113001", "610113002"}[i%2], day("2025-01-01")))
	}
	register(t, db, "610103001", day("2025-01-01")) // another district
	register(t, db, "610113001", day("2027-01-01")) // enters after the campaign's day
	ended := register(t, db, "610113001", day("2024-01-01"))
	_, err := db.Pool().Exec(ctx, `UPDATE register_periods SET ends_on = '2025-06-01', end_reason = 'died', closed_at = now()
		WHERE person_id = $1`, ended)
	require.NoError(t, err)

	c, replayed, err := db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignAnnualReview, Scope: "610113",
		Title: "2026 年审", AsOf: day("2026-03-01"), CreatedBy: sup, IdempotencyKey: "k-1"})
	require.NoError(t, err)
	require.False(t, replayed)
	again, replayed, err := db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignAnnualReview, Scope: "610113",
		Title: "2026 年审", AsOf: day("2026-03-01"), CreatedBy: sup, IdempotencyKey: "k-1"})
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, c.ID, again.ID)

	// The first chunk, then the same chunk again: nothing twice.
	r1, err := db.CreateTaskChunk(ctx, civicflow.TaskChunk{CampaignID: c.ID, Limit: 3})
	require.NoError(t, err)
	require.Equal(t, civicflow.TaskChunkResult{Read: 3, Inserted: 3, LastPersonID: yanta[2]}, r1)
	r2, err := db.CreateTaskChunk(ctx, civicflow.TaskChunk{CampaignID: c.ID, Limit: 3})
	require.NoError(t, err)
	require.Equal(t, civicflow.TaskChunkResult{Read: 3, Inserted: 0, LastPersonID: yanta[2]}, r2)
	// Two whole creations at once, from the start, as two attempts might.
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var after int64
			for {
				r, err := db.CreateTaskChunk(ctx, civicflow.TaskChunk{CampaignID: c.ID, AfterPersonID: after, Limit: 2})
				if err != nil {
					t.Error(err)
					return
				}
				if after = r.LastPersonID; r.Read < 2 {
					return
				}
			}
		}()
	}
	wg.Wait()
	n, err := db.FinishTaskCreation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	n, err = db.FinishTaskCreation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 7, n, "a repeat answers the count recorded")
	require.Equal(t, 7, count(t, db, `SELECT count(DISTINCT person_id) FROM campaign_tasks WHERE campaign_id = $1`, c.ID))
	// Once counted, no chunk adds to the campaign.
	r, err := db.CreateTaskChunk(ctx, civicflow.TaskChunk{CampaignID: c.ID, Limit: 100})
	require.NoError(t, err)
	require.Zero(t, r.Read)
	got, err := db.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 7, *got.TaskCount)
	require.Equal(t, "雁塔区", got.ScopeName)

	// A city campaign covers the other district too.
	city, _, err := db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignInspection, Scope: civicflow.CityCode,
		Title: "专项排查", AsOf: day("2026-03-01"), CreatedBy: sup})
	require.NoError(t, err)
	require.Equal(t, 1, createTasks(t, db, city.ID, 1000))
	n, err = db.FinishTaskCreation(ctx, city.ID)
	require.NoError(t, err)
	require.Equal(t, 8, n)
}

// Visits are recorded once, problems open ledger items, items are closed
// once, and the board counts all of it per township.
func TestCampaignVisitsLedgerAndBoard(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	sup, ts, other := campaignUsers(t, db)
	for i := 0; i < 5; i++ {
		register(t, db, []string{"610113001", "610113001", "610113001", "610113002", "610113002"}[i], day("2025-01-01"))
	}
	_, _, err := db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: "audit", Scope: "610113", Title: " ", CreatedBy: sup})
	requireCode(t, err, civicflow.EINVALID)
	_, _, err = db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignAnnualReview, Scope: "610113001", Title: "x", CreatedBy: sup})
	requireCode(t, err, civicflow.EINVALID)
	c, _, err := db.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignAnnualReview, Scope: "610113",
		Title: "2026 年审", AsOf: day("2026-03-01"), CreatedBy: sup})
	require.NoError(t, err)
	_, err = db.CloseCampaign(ctx, civicflow.CampaignClosing{CampaignID: c.ID, By: sup, At: time.Now()})
	requireCode(t, err, civicflow.ECONFLICT) // tasks not created yet
	createTasks(t, db, c.ID, 2)
	_, err = db.FinishTaskCreation(ctx, c.ID)
	require.NoError(t, err)

	mine, err := db.CampaignTasks(ctx, civicflow.TaskFilter{CampaignID: c.ID, TownshipCode: "610113001", State: civicflow.TaskPending, Limit: 2})
	require.NoError(t, err)
	require.Len(t, mine, 2)
	require.Contains(t, mine[0].PersonName, "*", "names are masked")
	require.Contains(t, mine[0].IDNumberMasked, "**********")
	rest, err := db.CampaignTasks(ctx, civicflow.TaskFilter{CampaignID: c.ID, TownshipCode: "610113001", AfterID: mine[1].ID, Limit: 2})
	require.NoError(t, err)
	require.Len(t, rest, 1, "keyset: the page after the last ID")

	ref, err := db.TaskRef(ctx, c.ID, mine[0].ID)
	require.NoError(t, err)
	require.Equal(t, civicflow.TaskRef{CampaignID: c.ID, Scope: "610113", TownshipCode: "610113001", Open: true}, ref)
	_, err = db.TaskRef(ctx, c.ID+100, mine[0].ID)
	requireCode(t, err, civicflow.ENOTFOUND)

	today := time.Now()
	_, err = db.RecordVisit(ctx, civicflow.Visit{TaskID: mine[0].ID, VisitedOn: today, Outcome: civicflow.OutcomeProblem, Visitor: ts})
	requireCode(t, err, civicflow.EINVALID) // no findings, no problems
	items, err := db.RecordVisit(ctx, civicflow.Visit{TaskID: mine[0].ID, VisitedOn: today, Findings: "照料人外出务工，老人独居",
		Outcome: civicflow.OutcomeProblem, Problems: []string{"照料协议需重签", "房屋漏雨"}, Visitor: ts})
	require.NoError(t, err)
	require.Len(t, items, 2)
	_, err = db.RecordVisit(ctx, civicflow.Visit{TaskID: mine[0].ID, VisitedOn: today, Outcome: civicflow.OutcomeOK, Visitor: ts})
	requireCode(t, err, civicflow.ECONFLICT) // recorded once
	_, err = db.RecordVisit(ctx, civicflow.Visit{TaskID: mine[1].ID, VisitedOn: today, Outcome: civicflow.OutcomeOK, Visitor: ts})
	require.NoError(t, err)
	_, err = db.OpenLedgerItem(ctx, rest[0].ID, "x", ts)
	requireCode(t, err, civicflow.ECONFLICT) // not visited yet
	extra, err := db.OpenLedgerItem(ctx, mine[1].ID, "门锁损坏", ts)
	require.NoError(t, err)
	_, err = db.Pool().Exec(ctx, `UPDATE campaign_tasks SET findings = 'rewritten' WHERE id = $1`, mine[0].ID)
	require.Error(t, err, "a recorded visit never changes")

	closed, err := db.CloseLedgerItem(ctx, items[0].ID, "已与侄女重签照料协议", ts)
	require.NoError(t, err)
	require.NotNil(t, closed.ClosedAt)
	require.Equal(t, "已与侄女重签照料协议", closed.ActionTaken)
	_, err = db.CloseLedgerItem(ctx, items[0].ID, "again", ts)
	requireCode(t, err, civicflow.ECONFLICT) // closed once
	_, err = db.CloseLedgerItem(ctx, items[0].ID+1000, "x", ts)
	requireCode(t, err, civicflow.ENOTFOUND)
	_, err = db.CloseLedgerItem(ctx, extra.ID, " ", ts)
	requireCode(t, err, civicflow.EINVALID)

	found := createCase(t, db, "610113002")
	require.NoError(t, db.RecordFoundPerson(ctx, c.ID, found.CaseID, other))
	require.NoError(t, db.RecordFoundPerson(ctx, c.ID, found.CaseID, other), "a repeat records nothing new")

	board, err := db.CampaignBoard(ctx, c.ID, "")
	require.NoError(t, err)
	require.Equal(t, []civicflow.BoardRow{
		{DistrictCode: "610113", District: "雁塔区", TownshipCode: "610113001", Township: board[0].Township,
			Total: 3, Visited: 2, Problems: 1, OpenItems: 2},
		{DistrictCode: "610113", District: "雁塔区", TownshipCode: "610113002", Township: board[1].Township,
			Total: 2, Found: 1},
	}, board)
	require.NotEmpty(t, board[0].Township)
	open, err := db.LedgerItems(ctx, c.ID, "", "610113001", true)
	require.NoError(t, err)
	require.Len(t, open, 2)

	sum, err := db.CloseCampaign(ctx, civicflow.CampaignClosing{CampaignID: c.ID, Note: "完成", By: sup, At: time.Now()})
	require.NoError(t, err)
	require.Equal(t, civicflow.CampaignSummary{Total: 5, Visited: 2, OpenItems: 2}, sum)
	sum2, err := db.CloseCampaign(ctx, civicflow.CampaignClosing{CampaignID: c.ID, By: sup, At: time.Now()})
	require.NoError(t, err)
	require.Equal(t, sum, sum2, "a retried close answers the same")
	_, err = db.RecordVisit(ctx, civicflow.Visit{TaskID: rest[0].ID, VisitedOn: today, Outcome: civicflow.OutcomeOK, Visitor: ts})
	requireCode(t, err, civicflow.ECONFLICT) // campaign closed
	_, err = db.CloseLedgerItem(ctx, extra.ID, "已更换门锁", ts)
	require.NoError(t, err, "ledger items are closed one by one after the campaign too")
	got, err := db.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "完成", got.ClosingNote)
	list, err := db.Campaigns(ctx, postgres.CampaignFilter{Covering: "610113", OpenOnly: true})
	require.NoError(t, err)
	require.Empty(t, list)
}
