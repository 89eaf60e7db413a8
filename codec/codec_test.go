package codec_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"civicflow/codec"
	"civicflow/keyring"
)

type visit struct {
	Findings string
	Visitors []string
}

func newCodec(t *testing.T, keys, current string) *codec.Codec {
	t.Helper()
	k, err := keyring.Parse(keys, current, keyring.NewKey())
	require.NoError(t, err)
	c, err := codec.New(k)
	require.NoError(t, err)
	return c
}

func TestRoundTripAndRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := keyring.NewKey(), keyring.NewKey()
	old := codec.DataConverter(newCodec(t, "k1:"+k1, ""))
	in := visit{Findings: "独居卧床，精神分裂症病史", Visitors: []string{"王芳"}}
	p, err := old.ToPayload(in)
	require.NoError(t, err)
	require.Equal(t, codec.Encoding, string(p.GetMetadata()[converter.MetadataEncoding]))
	require.Equal(t, "k1", string(p.GetMetadata()[codec.MetadataKeyID]))
	require.NotContains(t, string(p.GetData()), "独居")
	require.NotContains(t, string(p.GetData()), "王芳")

	rotated := codec.DataConverter(newCodec(t, "k1:"+k1+",k2:"+k2, "k2"))
	var out visit
	require.NoError(t, rotated.FromPayload(p, &out), "a payload sealed under the old key opens after rotation")
	require.Equal(t, in, out)
	p2, err := rotated.ToPayload(in)
	require.NoError(t, err)
	require.Equal(t, "k2", string(p2.GetMetadata()[codec.MetadataKeyID]))

	require.ErrorContains(t, old.FromPayload(p2, &out), `data key "k2" is not configured`)
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	t.Parallel()
	plain, err := converter.GetDefaultDataConverter().ToPayload(visit{Findings: "x"})
	require.NoError(t, err)
	var out visit
	require.NoError(t, codec.DataConverter(newCodec(t, "k1:"+keyring.NewKey(), "")).FromPayload(plain, &out),
		"histories written before the codec still decode")
	require.Equal(t, "x", out.Findings)
}

func TestTamperedPayloadFails(t *testing.T) {
	t.Parallel()
	c := newCodec(t, "k1:"+keyring.NewKey(), "")
	ps, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"a"`)}})
	require.NoError(t, err)
	ps[0].Data[len(ps[0].Data)-1] ^= 1
	_, err = c.Decode(ps)
	require.ErrorContains(t, err, "authentication failed")
	delete(ps[0].Metadata, codec.MetadataKeyID)
	_, err = c.Decode(ps)
	require.ErrorContains(t, err, "names no key")
}

func TestNewNeedsKeys(t *testing.T) {
	t.Parallel()
	_, err := codec.New(nil)
	require.ErrorIs(t, err, keyring.ErrNoKeys)
}

// TestServerSpeaksTheRemoteCodecProtocol drives the server with the SDK's
// own remote codec client, as `temporal --codec-endpoint` and the UI do.
func TestServerSpeaksTheRemoteCodecProtocol(t *testing.T) {
	t.Parallel()
	c := newCodec(t, "k1:"+keyring.NewKey(), "")
	var ops []string
	srv := httptest.NewServer(codec.NewServer(c, codec.ServerOptions{
		Origins: []string{"http://ui.example"},
		Authorize: func(r *http.Request, op string, n int) error {
			switch r.Header.Get("Authorization") {
			case "":
				return codec.ErrUnauthenticated
			case "Bearer good":
				ops = append(ops, op)
				return nil
			default:
				return codec.ErrForbidden
			}
		},
	}))
	defer srv.Close()
	remote := func(token string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL + "/codec",
			ModifyRequest: func(r *http.Request) error {
				if token != "" {
					r.Header.Set("Authorization", "Bearer "+token)
				}
				return nil
			}})
	}
	sealed, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"秘密"`)}})
	require.NoError(t, err)
	got, err := remote("good").Decode(sealed)
	require.NoError(t, err)
	require.Equal(t, `"秘密"`, string(got[0].GetData()))
	again, err := remote("good").Encode(got)
	require.NoError(t, err)
	require.Equal(t, codec.Encoding, string(again[0].GetMetadata()["encoding"]))
	require.Equal(t, []string{codec.OpDecode, codec.OpEncode}, ops)

	_, err = remote("").Decode(sealed)
	require.ErrorContains(t, err, "Unauthorized")
	_, err = remote("bad").Decode(sealed)
	require.ErrorContains(t, err, "Forbidden")

	pre, err := http.NewRequest(http.MethodOptions, srv.URL+"/codec/decode", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", "http://ui.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(pre)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, "http://ui.example", res.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")

	evil, err := http.NewRequest(http.MethodPost, srv.URL+"/codec/decode", strings.NewReader(`{"payloads":[]}`))
	require.NoError(t, err)
	evil.Header.Set("Origin", "http://evil.example")
	evil.Header.Set("Authorization", "Bearer good")
	res, err = http.DefaultClient.Do(evil)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
}
