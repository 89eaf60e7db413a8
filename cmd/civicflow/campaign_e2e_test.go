package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// generateRegister puts n generated persons into the register, in
// dispersed support since 2025-01-01, spread over townships in turn: a
// person, a completed case that opened the period, and the period, in one
// statement. Personal data is placeholder (sealed columns hold no real
// ciphertext): campaigns read only masked columns. tag keeps the rows of
// one call apart from every other's.
func generateRegister(t testing.TB, db *postgres.DB, tag string, townships []string, n int) {
	t.Helper()
	_, err := db.Pool().Exec(context.Background(), `WITH p AS (
			INSERT INTO persons (name, birth_date, male, hukou_township_code, id_number_enc, id_number_hash, id_number_masked)
			SELECT '在册' || g, date '1940-01-01' + g % 3000, g % 2 = 1, ($1::text[])[1 + g % cardinality($1::text[])],
				'gen:' || md5($2 || g), decode(md5('a' || $2 || g) || md5('b' || $2 || g), 'hex'),
				'6101**********' || lpad((g % 10000)::text, 4, '0')
			FROM generate_series(0, $3 - 1) g
			RETURNING id, hukou_township_code
		), c AS (
			INSERT INTO cases (reference, case_type, stage, workflow_id, person_id, district_code, township_code, address,
				relation, applicant_name, reported_self_care, care_level, access_code_hash, support_form)
			SELECT 'GEN-' || $2 || '-' || p.id, 'centralised_care', 'completed', 'generated-' || $2 || '-' || p.id, p.id,
				left(p.hukou_township_code, 6), p.hukou_township_code, '生成地址', 'self', '在册', 'self_care', 'self_care',
				'\x00'::bytea, 'dispersed'
			FROM p RETURNING id, person_id, district_code, township_code
		)
		INSERT INTO register_periods (person_id, form, care_level, district_code, township_code, carer_name, carer_relation,
			carer_phone_enc, carer_phone_masked, agreement_starts_on, starts_on, opened_by_case)
		SELECT c.person_id, 'dispersed', 'self_care', c.district_code, c.township_code, '照料人', '邻居', 'gen:AAAA',
			'139****0000', date '2025-01-01', date '2025-01-01', c.id FROM c`, townships, tag, n)
	require.NoError(t, err)
}

// campaignOfficial creates (once) a township official of township and
// logs in.
func (e *e2eSystem) campaignOfficial(t testing.TB, username, township string) map[string]string {
	t.Helper()
	_, err := e.db.EnsureUser(context.Background(), postgres.NewUser{Username: username, DisplayName: username,
		Password: testPassword, Role: civicflow.RoleTownshipOfficial, Jurisdiction: township})
	require.NoError(t, err)
	return e.login(t.(*testing.T), username)
}

// waitTasks waits until the campaign's workflow has created its tasks
// (tasks_created_at set) and answers the campaign.
func (e *e2eSystem) waitTasks(t *testing.T, who map[string]string, id int64, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := e.do(t, http.MethodGet, "/api/v1/campaigns/"+strconv.FormatInt(id, 10), who, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		cp := r.Body["campaign"].(map[string]any)
		if cp["tasks_created_at"] != nil {
			return cp
		}
		require.True(t, time.Now().Before(deadline), "the campaign's tasks were not created within %s", within)
		time.Sleep(50 * time.Millisecond) // polling the read model, as a client would
	}
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// A campaign over a district's register, end to end: tasks created by the
// workflow, visits recorded by the township officials, a ledger item
// opened and closed, a person found and their application started, the
// board following each step, and the close.
func TestE2ECampaign(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// 高陵区 (610117): no other test registers persons there.
	generateRegister(t, e.db, fmt.Sprintf("e2e%d", time.Now().UnixNano()), []string{"610117001", "610117001", "610117002"}, 6)
	ts1 := e.campaignOfficial(t, "ts.luyuan", "610117001")
	ts2 := e.campaignOfficial(t, "ts.jingwei", "610117002")
	city, yanta := e.login(t, "sv.city"), e.login(t, "sv.yanta")

	create := map[string]any{"kind": "annual_review", "scope": "610117", "title": "2026 年度特困人员年审（高陵区）"}
	r := e.postJSON(t, "/api/v1/campaigns", yanta, create)
	require.Equal(t, http.StatusForbidden, r.Status, "a district supervisor starts no campaign of another district")
	r = e.postJSON(t, "/api/v1/campaigns", ts1, create)
	require.Equal(t, http.StatusForbidden, r.Status)
	r = e.postJSON(t, "/api/v1/campaigns", city, map[string]any{"kind": "audit", "scope": "610117", "title": "x"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	key := map[string]string{"Authorization": city["Authorization"], "Idempotency-Key": "campaign-e2e-" + t.Name()}
	r = e.postJSON(t, "/api/v1/campaigns", key, create)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	id := num(r.Body["campaign"].(map[string]any)["id"])
	r = e.postJSON(t, "/api/v1/campaigns", key, create)
	require.Equal(t, http.StatusOK, r.Status, "the same key: the same campaign")
	require.Equal(t, id, num(r.Body["campaign"].(map[string]any)["id"]))
	base := "/api/v1/campaigns/" + strconv.FormatInt(id, 10)

	cp := e.waitTasks(t, city, id, 60*time.Second)
	require.EqualValues(t, 6, cp["task_count"])
	board := func() map[string]any {
		t.Helper()
		r := e.do(t, http.MethodGet, base+"/progress", city, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		return r.Body
	}
	total := func(b map[string]any) map[string]any { return b["total"].(map[string]any) }
	require.EqualValues(t, 6, total(board())["total"])
	require.EqualValues(t, 0, total(board())["visited"])
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, base+"/progress", yanta, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, base+"/progress", ts1, nil).Status)

	// The township official's list: their township only, masked, paged.
	r = e.do(t, http.MethodGet, base+"/tasks?limit=3", ts1, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	page1 := r.Body["tasks"].([]any)
	require.Len(t, page1, 3)
	r = e.do(t, http.MethodGet, base+"/tasks?limit=3&after="+strconv.FormatInt(num(r.Body["next_after"]), 10), ts1, nil)
	require.Len(t, r.Body["tasks"].([]any), 1)
	first := page1[0].(map[string]any)
	require.Regexp(t, `^在\*+$`, first["person_name"], "names are masked")
	require.Equal(t, "610117001", first["township_code"])
	task1, task2 := num(first["id"]), num(page1[1].(map[string]any)["id"])
	visit := func(who map[string]string, task int64, body any) response {
		return e.postJSON(t, base+"/tasks/"+strconv.FormatInt(task, 10)+"/visit", who, body)
	}
	today := time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)
	r = visit(ts2, task1, map[string]any{"visited_on": today, "outcome": "ok"})
	require.Equal(t, http.StatusForbidden, r.Status, "a task of another township")
	r = visit(ts1, task1, map[string]any{"visited_on": today, "outcome": "problem", "findings": "照料人外出"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	require.Contains(t, string(r.Raw), `"problems"`)
	r = visit(ts1, task1, map[string]any{"visited_on": "2999-01-01", "outcome": "ok"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	require.Contains(t, string(r.Raw), `"visited_on"`)
	r = visit(ts1, task1, map[string]any{"visited_on": today, "outcome": "ok", "findings": "生活正常"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "visited", r.Body["task"].(map[string]any)["state"])
	r = visit(ts1, task1, map[string]any{"visited_on": today, "outcome": "ok"})
	require.Equal(t, http.StatusConflict, r.Status, "a visit is recorded once")
	r = visit(ts1, task2, map[string]any{"visited_on": today, "outcome": "problem", "findings": "照料协议已过期",
		"problems": []string{"照料协议需续签"}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	item := num(r.Body["items"].([]any)[0].(map[string]any)["id"])

	b := board()
	require.EqualValues(t, 2, total(b)["visited"])
	require.EqualValues(t, 1, total(b)["open_items"])
	require.EqualValues(t, 1, total(b)["problems"])
	require.Len(t, b["districts"].([]any), 1)
	towns := b["townships"].([]any)
	require.Len(t, towns, 2)
	require.Equal(t, "610117001", towns[0].(map[string]any)["township_code"])
	require.EqualValues(t, 4, towns[0].(map[string]any)["total"])
	require.EqualValues(t, 2, towns[0].(map[string]any)["visited"])

	closeItem := func(who map[string]string) response {
		return e.postJSON(t, base+"/ledger/"+strconv.FormatInt(item, 10)+"/close", who, map[string]any{"action_taken": "已与照料人续签协议"})
	}
	require.Equal(t, http.StatusForbidden, closeItem(ts2).Status)
	r = closeItem(ts1)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "已与照料人续签协议", r.str("action_taken"))
	require.Equal(t, http.StatusConflict, closeItem(ts1).Status, "closed once")
	require.EqualValues(t, 0, total(board())["open_items"])

	// A person found eligible and not in the register: an application on
	// their behalf, relation community.
	found := map[string]any{
		"person": map[string]any{"name": "李秀兰", "id_number": newIDNumber(t), "hukou_township_code": "610117001",
			"address": "鹿苑街道某村3组", "self_care": "semi_dependent"},
		"contact": map[string]any{"name": "张社工", "phone": "13700001111"},
	}
	require.Equal(t, http.StatusForbidden, e.postJSON(t, base+"/found-persons", ts2, found).Status, "another township's resident")
	r = e.postJSON(t, base+"/found-persons", ts1, found)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	cs := e.waitStage(t, num(r.Body["case_id"]), civicflow.StageIntake, 60*time.Second)
	require.Equal(t, civicflow.RelationCommunity, cs.Relation)
	require.EqualValues(t, 1, total(board())["found"])

	// The close: supervisors of the scope only, once.
	require.Equal(t, http.StatusForbidden, e.postJSON(t, base+"/close", yanta, map[string]any{}).Status)
	r = e.postJSON(t, base+"/close", city, map[string]any{"note": "年审结束"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.EqualValues(t, 6, r.Body["summary"].(map[string]any)["total"])
	require.EqualValues(t, 2, r.Body["summary"].(map[string]any)["visited"])
	require.NotNil(t, r.Body["campaign"].(map[string]any)["closed_at"])
	require.Equal(t, http.StatusConflict, e.postJSON(t, base+"/close", city, map[string]any{}).Status)
	r = visit(ts1, num(page1[2].(map[string]any)["id"]), map[string]any{"visited_on": today, "outcome": "ok"})
	require.Equal(t, http.StatusConflict, r.Status, "no visits after the close")

	var audited int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'campaign_task.visit'
		AND target_type = 'campaign_task' AND target_id IN ($1, $2) AND outcome = 'success'`,
		strconv.FormatInt(task1, 10), strconv.FormatInt(task2, 10)).Scan(&audited))
	require.Equal(t, 2, audited, "each visit recorded is audited")

	// The closed campaign's workflow ends; its history is replayed by the
	// workflow tests (make histories).
	require.NoError(t, e.tc.GetWorkflow(ctx, civicflow.CampaignWorkflowID(id), "").Get(ctx, nil))
	saveHistory(t, e, civicflow.CampaignWorkflowID(id), "campaign_closed")
}
