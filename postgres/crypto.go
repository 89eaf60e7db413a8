package postgres

import (
	"civicflow/keyring"
)

// Keyring holds the keys that protect personal data at rest. It is
// package keyring's, shared with the Temporal payload codec; see there for
// the format of sealed values.
type Keyring = keyring.Keyring

// NewKeyring builds a keyring from data keys (key id to 32 raw bytes), the
// id of the current key and a lookup key of at least 32 bytes.
func NewKeyring(dataKeys map[string][]byte, current string, lookupKey []byte) (*Keyring, error) {
	return keyring.New(dataKeys, current, lookupKey)
}

// ParseKeyring reads keys as configured: dataKeys is "k1:<base64>,k2:<base64>",
// current names one of them ("" means the last listed), lookupKey is base64.
func ParseKeyring(dataKeys, current, lookupKey string) (*Keyring, error) {
	return keyring.Parse(dataKeys, current, lookupKey)
}

// NewKey returns 32 random bytes, base64-encoded: a fresh data or lookup key.
func NewKey() string { return keyring.NewKey() }

// errNoKeys is returned when personal data must be sealed or opened but the
// store was opened without a keyring.
var errNoKeys = keyring.ErrNoKeys

// sealer is the store's hold on the keyring: nil when the store was opened
// without one, so that sealing and opening fail with errNoKeys.
type sealer struct{ *Keyring }

// newSealer wraps k; a nil k gives a nil sealer.
func newSealer(k *Keyring) *sealer {
	if k == nil {
		return nil
	}
	return &sealer{k}
}

// seal encrypts plain for the column named by aad ("persons.id_number"):
// the column name is authenticated, so a value copied into another column
// does not open. The empty string seals to the empty string (no value).
func (s *sealer) seal(aad, plain string) (string, error) {
	if s == nil {
		return "", errNoKeys
	}
	return s.Seal(aad, plain)
}

// open decrypts a value sealed by seal under any key of the ring.
func (s *sealer) open(aad, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if s == nil {
		return "", errNoKeys
	}
	return s.Open(aad, sealed)
}

// lookupHash is the keyed hash used to find and deduplicate a value of a
// kind ("id_number") without storing it.
func (s *sealer) lookupHash(kind, value string) ([]byte, error) {
	if s == nil {
		return nil, errNoKeys
	}
	return s.LookupHash(kind, value)
}

// IDNumberHash is the keyed hash under which a person's ID number is
// found; tests and tools use it instead of the plain number.
func (db *DB) IDNumberHash(idNumber string) ([]byte, error) {
	return db.keys.lookupHash("id_number", idNumber)
}
