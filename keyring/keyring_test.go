package keyring_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow/keyring"
)

func ring(t *testing.T, keys, current string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.Parse(keys, current, keyring.NewKey())
	require.NoError(t, err)
	return k
}

func TestSealOpenAcrossRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := keyring.NewKey(), keyring.NewKey()
	old := ring(t, "k1:"+k1, "")
	sealed, err := old.Seal("persons.phone", "13800001234")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sealed, "k1:"), sealed)
	require.NotContains(t, sealed, "13800001234")

	both := ring(t, "k1:"+k1+",k2:"+k2, "k2")
	plain, err := both.Open("persons.phone", sealed)
	require.NoError(t, err)
	require.Equal(t, "13800001234", plain, "a value sealed under an old key still opens")
	resealed, err := both.Seal("persons.phone", plain)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(resealed, "k2:"), "new values go under the current key")

	_, err = old.Open("persons.phone", resealed)
	require.ErrorContains(t, err, `data key "k2" is not configured`)
	_, err = both.Open("persons.id_number", sealed)
	require.ErrorContains(t, err, "authentication failed", "the AAD binds a value to its place")
}

func TestSealBytes(t *testing.T) {
	t.Parallel()
	k := ring(t, "a1:"+keyring.NewKey(), "")
	id, a, err := k.SealBytes("temporal", []byte("x"))
	require.NoError(t, err)
	_, b, err := k.SealBytes("temporal", []byte("x"))
	require.NoError(t, err)
	require.Equal(t, "a1", id)
	require.NotEqual(t, a, b, "a fresh nonce per value")
	plain, err := k.OpenBytes(id, "temporal", b)
	require.NoError(t, err)
	require.Equal(t, "x", string(plain))
	b[len(b)-1] ^= 1
	_, err = k.OpenBytes(id, "temporal", b)
	require.ErrorContains(t, err, "authentication failed")
	_, err = k.OpenBytes(id, "temporal", b[:5])
	require.ErrorContains(t, err, "malformed")
}

func TestNilKeyring(t *testing.T) {
	t.Parallel()
	var k *keyring.Keyring
	_, err := k.Seal("a", "b")
	require.True(t, errors.Is(err, keyring.ErrNoKeys))
	plain, err := k.Open("a", "")
	require.NoError(t, err, "no value needs no key")
	require.Empty(t, plain)
	_, _, err = k.SealBytes("a", nil)
	require.ErrorIs(t, err, keyring.ErrNoKeys)
	_, err = k.LookupHash("id_number", "x")
	require.ErrorIs(t, err, keyring.ErrNoKeys)
}

func TestParseNeverShowsKeys(t *testing.T) {
	t.Parallel()
	key := keyring.NewKey()
	for _, c := range []struct{ keys, want string }{
		{"k1" + key, "want <id>:<base64"},
		{"k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "want 32 bytes"},
		{"k1:!!" + key, "not base64"},
	} {
		_, err := keyring.Parse(c.keys, "", keyring.NewKey())
		require.ErrorContains(t, err, c.want)
		require.NotContains(t, err.Error(), key[4:])
	}
}
