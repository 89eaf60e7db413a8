package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"civicflow"
	"civicflow/codec"
	"civicflow/postgres"
)

// rawHistory reads a workflow's history as it is stored in Temporal: with
// a plain client, no codec.
func (e *e2eSystem) rawHistory(t *testing.T, workflowID string) *historypb.History {
	t.Helper()
	plain, err := client.Dial(client.Options{HostPort: e.cfg.TemporalAddress, Namespace: e.cfg.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer plain.Close()
	it := plain.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	require.NotEmpty(t, h.Events)
	return &h
}

// TestE2EPayloadsSealedInTemporal drives a case through a home visit, a
// return and a refusal with text no other test uses, then reads the raw
// history from the Temporal server: none of that text is in it, in any
// form, while the API still shows it and the codec opens it.
func TestE2EPayloadsSealedInTemporal(t *testing.T) {
	e := setup(t)
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")
	tag := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)
	findings := "入户见其卧床，患精神分裂症多年-" + tag
	visitor := "走访人甲" + tag
	returnReasons := "缺少残疾证复印件-" + tag
	rejectReasons := "经核实其子每月收入九千元，具备赡养能力-" + tag
	secrets := []string{findings, visitor, returnReasons, rejectReasons}

	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	visit := func() {
		e.visited(t, ts, c.Ref, map[string]any{"home_visit": map[string]any{"visited_on": "2026-11-20",
			"visitors": []string{visitor}, "findings": findings, "care_level": "dependent", "opinion": "eligible"}})
		e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	}
	visit()
	e.mustAct(t, dr, c.Ref, "return", map[string]any{"reasons": returnReasons}, "investigation")
	visit()
	e.mustAct(t, dr, c.Ref, "reject", map[string]any{"reasons": rejectReasons}, "rejected")

	raw := e.rawHistory(t, civicflow.CaseWorkflowID(c.ID))
	wire, err := proto.Marshal(raw) // payload data as stored, not base64
	require.NoError(t, err)
	text, err := protojson.Marshal(raw)
	require.NoError(t, err)
	for _, s := range secrets {
		require.False(t, bytes.Contains(wire, []byte(s)), "raw history holds %q", s)
		require.NotContains(t, string(text), s)
	}
	sealed := 0
	for _, ev := range raw.Events {
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			for _, p := range a.GetAcceptedRequest().GetInput().GetArgs().GetPayloads() {
				require.Equal(t, codec.Encoding, string(p.GetMetadata()["encoding"]), "update arguments are sealed")
				require.Equal(t, "k1", string(p.GetMetadata()[codec.MetadataKeyID]))
				sealed++
			}
		}
	}
	require.Positive(t, sealed)

	// Negative control: opened with the keys, the same history holds the
	// text, so the search above would have found it in the clear.
	require.NoError(t, decodeHistory(e.cfg, raw))
	opened, err := proto.Marshal(raw)
	require.NoError(t, err)
	for _, s := range secrets {
		require.True(t, bytes.Contains(opened, []byte(s)), "decoded history holds %q", s)
	}

	// The API still shows what officials wrote.
	r := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, dr, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), rejectReasons)
	require.Contains(t, string(r.Raw), returnReasons)

	// The Temporal UI finds the case by reference, and its summary names
	// the reference and process (sealed, opened by the codec client).
	var found []string
	require.Eventually(t, func() bool {
		res, err := e.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: e.cfg.TemporalNamespace, Query: fmt.Sprintf("CivicflowReference = %q", c.Ref)})
		if err != nil {
			return false
		}
		found = found[:0]
		for _, x := range res.GetExecutions() {
			found = append(found, x.GetExecution().GetWorkflowId())
		}
		return len(found) == 1
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, []string{civicflow.CaseWorkflowID(c.ID)}, found)
	d, err := e.tc.DescribeWorkflow(context.Background(), civicflow.CaseWorkflowID(c.ID), "")
	require.NoError(t, err)
	summary, err := d.GetStaticSummary()
	require.NoError(t, err)
	require.Contains(t, summary, c.Ref)
	require.Contains(t, summary, "特困人员集中供养")
	require.NotContains(t, summary, "买买提", "no personal data in the summary")
}

// TestE2ECodecServer asks the API's codec server to open a sealed payload
// of a case's history: city supervisors and administrators may, with their
// bearer token or (under /console/codec/) the console's session cookie;
// everyone else is refused; every request is in the audit trail.
func TestE2ECodecServer(t *testing.T) {
	e := setup(t)
	ts := e.login(t, "ts.xiaozhai")
	c := e.toReview(t, ts, "dependent")
	var sealed *commonpb.Payload
	for _, ev := range e.rawHistory(t, civicflow.CaseWorkflowID(c.ID)).Events {
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil && a.GetAcceptedRequest().GetInput().GetName() == "record_investigation" {
			sealed = a.GetAcceptedRequest().GetInput().GetArgs().GetPayloads()[0]
		}
	}
	require.NotNil(t, sealed, "the home visit's update is in the history")
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{sealed}})
	require.NoError(t, err)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := e.cfg
	cfg.CodecOrigins = "http://127.0.0.1:18233"
	h, err := withCodec(http.NotFoundHandler(), cfg, e.db, log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(path string, headers map[string]string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", cfg.TemporalNamespace)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	token := func(h map[string]string) string { return strings.TrimPrefix(h["Authorization"], "Bearer ") }

	city, admin, district := e.login(t, "sv.city"), e.login(t, "admin"), e.login(t, "sv.yanta")
	status, out := post("/codec/decode", city)
	require.Equal(t, http.StatusOK, status, out)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(out), &decoded))
	require.Contains(t, string(decoded.GetPayloads()[0].GetData()), "独居卧床", "the home visit, opened")
	status, _ = post("/codec/decode", admin)
	require.Equal(t, http.StatusOK, status)
	status, _ = post("/console/codec/decode", map[string]string{"Cookie": "cf_session=" + token(city),
		"Origin": "http://127.0.0.1:18233"})
	require.Equal(t, http.StatusOK, status, "the console's session opens it for the Temporal UI")

	for name, hdr := range map[string]map[string]string{
		"township official":   ts,
		"district supervisor": district,
		"no credentials":      nil,
		"cookie on /codec/":   {"Cookie": "cf_session=" + token(city)},
		"garbage token":       {"Authorization": "Bearer nope"},
		"origin not allowed":  with(city, "Origin", "http://evil.example"),
	} {
		status, out := post("/codec/decode", hdr)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, status, "%s: %s", name, out)
		require.NotContains(t, out, "独居卧床", name)
	}

	es, err := e.db.AuditEntries(context.Background(), "", "temporal:"+cfg.TemporalNamespace, 1000)
	require.NoError(t, err)
	var ok, denied int
	for _, a := range es {
		if a.Action != "temporal.codec_decode" {
			continue
		}
		switch a.Outcome {
		case postgres.OutcomeSuccess:
			ok++
		case postgres.OutcomeDenied:
			denied++
		}
	}
	require.GreaterOrEqual(t, ok, 3, "each decode is recorded")
	require.GreaterOrEqual(t, denied, 2, "refused officials are recorded")
}
