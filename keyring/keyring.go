// Package keyring holds the keys that protect personal data: AES-256-GCM
// data keys by key id (one of them current, used for new values) and one
// HMAC-SHA256 lookup key for keyed hashes. The store seals columns with it
// (package postgres) and the Temporal payload codec seals workflow
// payloads with it (package codec), so one set of keys, one rotation
// procedure and one configuration cover both.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Keyring holds the data keys and the lookup key. It is safe for
// concurrent use and never changes after New.
//
// A sealed text value is "<key id>:<base64(nonce || ciphertext)>", so that
// values sealed under an old key stay readable while `civicflow keys
// rotate` re-seals them under the current one. Every seal authenticates an
// AAD naming where the value belongs (a column, or Temporal payloads): a
// value copied elsewhere does not open.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	lookup  []byte
}

// ErrNoKeys is returned when personal data must be sealed or opened but no
// keyring was configured (a nil *Keyring).
var ErrNoKeys = errors.New("personal data keys are not configured (CIVICFLOW_DATA_KEYS, CIVICFLOW_LOOKUP_KEY)")

var keyIDPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// New builds a keyring from data keys (key id to 32 raw bytes), the id of
// the current key and a lookup key of at least 32 bytes.
func New(dataKeys map[string][]byte, current string, lookupKey []byte) (*Keyring, error) {
	if len(dataKeys) == 0 {
		return nil, errors.New("no data keys")
	}
	k := &Keyring{current: current, aeads: map[string]cipher.AEAD{}, lookup: append([]byte(nil), lookupKey...)}
	for id, key := range dataKeys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("data key id %q: use 1-16 lower-case letters and digits", id)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("data key %s: want 32 bytes (AES-256), got %d", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("data key %s: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("data key %s: %w", id, err)
		}
		k.aeads[id] = aead
	}
	if _, ok := k.aeads[current]; !ok {
		return nil, fmt.Errorf("current data key id %q is not among the data keys", current)
	}
	if len(lookupKey) < 32 {
		return nil, fmt.Errorf("lookup key: want at least 32 bytes, got %d", len(lookupKey))
	}
	return k, nil
}

// Parse reads keys as configured: dataKeys is "k1:<base64>,k2:<base64>",
// current names one of them ("" means the last listed), lookupKey is base64.
// Errors never contain key material.
func Parse(dataKeys, current, lookupKey string) (*Keyring, error) {
	keys := map[string][]byte{}
	last := ""
	for _, part := range strings.Split(dataKeys, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("data key %q: want <id>:<base64 of 32 bytes>", redact(part))
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("data key %s: not base64", id)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("data key %s is listed twice", id)
		}
		keys[id], last = raw, id
	}
	if current == "" {
		current = last
	}
	lk, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lookupKey))
	if err != nil {
		return nil, errors.New("lookup key: not base64")
	}
	return New(keys, current, lk)
}

func redact(s string) string {
	if id, _, ok := strings.Cut(s, ":"); ok {
		return id + ":…"
	}
	if len(s) > 4 {
		return s[:4] + "…"
	}
	return s
}

// NewKey returns 32 random bytes, base64-encoded: a fresh data or lookup key.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// CurrentKeyID is the id of the key new values are sealed with.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plain for the place named by aad ("persons.id_number")
// under the current key. The empty string seals to the empty string (no
// value).
func (k *Keyring) Seal(aad, plain string) (string, error) {
	if k == nil {
		return "", ErrNoKeys
	}
	if plain == "" {
		return "", nil
	}
	id, out, err := k.SealBytes(aad, []byte(plain))
	if err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed by Seal under any key of the ring.
func (k *Keyring) Open(aad, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if k == nil {
		return "", ErrNoKeys
	}
	id, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return "", fmt.Errorf("open %s: not a sealed value", aad)
	}
	if _, ok := k.aeads[id]; !ok {
		return "", fmt.Errorf("open %s: data key %q is not configured", aad, id)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("open %s: malformed sealed value", aad)
	}
	plain, err := k.OpenBytes(id, aad, raw)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// SealBytes encrypts plain under the current key with a fresh 96-bit
// nonce, authenticating aad, and returns the key's id and nonce ||
// ciphertext || tag.
func (k *Keyring) SealBytes(aad string, plain []byte) (keyID string, sealed []byte, err error) {
	if k == nil {
		return "", nil, ErrNoKeys
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("nonce: %w", err)
	}
	return k.current, aead.Seal(nonce, nonce, plain, []byte(aad)), nil
}

// OpenBytes decrypts what SealBytes returned under the key keyID.
func (k *Keyring) OpenBytes(keyID, aad string, sealed []byte) ([]byte, error) {
	if k == nil {
		return nil, ErrNoKeys
	}
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("open %s: data key %q is not configured", aad, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("open %s: malformed sealed value", aad)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("open %s: authentication failed (wrong key or altered value)", aad)
	}
	return plain, nil
}

// LookupHash is the keyed hash used to find and deduplicate a value of a
// kind ("id_number") without storing it.
func (k *Keyring) LookupHash(kind, value string) ([]byte, error) {
	if k == nil {
		return nil, ErrNoKeys
	}
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil), nil
}
