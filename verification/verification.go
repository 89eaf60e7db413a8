// Package verification talks to the city's household economic verification
// platform (家庭经济状况核对平台) over HTTP, and provides a development
// stand-in of that platform answering from seeded household data.
package verification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"civicflow"
)

// Client calls the platform. The zero value is not usable; use NewClient.
type Client struct {
	baseURL string
	http    *http.Client
}

// NewClient returns a client for the platform at baseURL; timeout bounds
// each call (retries are the caller's, e.g. Temporal's activity retries).
func NewClient(baseURL string, timeout time.Duration) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: &http.Client{Timeout: timeout}}
}

// ErrRejected marks answers that retrying cannot change (the platform
// refused the request itself).
var ErrRejected = errors.New("verification platform rejected the request")

type checkRequest struct {
	IDNumber string `json:"id_number"`
}

// Check asks the platform for the household economic situation of the
// person with this ID number. A person the platform does not know gives a
// result with Found false, not an error.
func (c *Client) Check(ctx context.Context, idNumber string) (*civicflow.CheckResult, error) {
	body, err := json.Marshal(checkRequest{IDNumber: idNumber})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/v1/household-checks", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call verification platform: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read verification answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &civicflow.CheckResult{Found: false, Note: "the platform has no household record for this person"}, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("verification platform answered %d: %s", resp.StatusCode, truncate(data))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: status %d: %s", ErrRejected, resp.StatusCode, truncate(data))
	}
	var r civicflow.CheckResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode verification answer: %w", err)
	}
	r.Found = true
	return &r, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
