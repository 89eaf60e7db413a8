// Package codec seals Temporal payloads with civicflow's keyring, so that
// the personal text carried by workflow inputs, update arguments, activity
// inputs and results (reasons, home-visit findings, rehab notes) is
// AES-256-GCM ciphertext in Temporal's histories and visibility store. It
// also serves Temporal's remote codec protocol (/encode, /decode) for the
// Temporal UI and CLI.
//
// A sealed payload has metadata encoding "binary/encrypted" and
// "encryption-key-id" naming the data key; its data is nonce || ciphertext
// || tag of the whole original payload (metadata and data, protobuf), with
// the AAD "temporal.payload" so that a value sealed for a database column
// does not open as a payload (nor the other way round). Decoding opens
// under whichever configured key the metadata names, so rotation keeps old
// histories readable, and passes payloads that are not sealed through
// unchanged, so histories written before the codec replay.
package codec

import (
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"civicflow/keyring"
)

const (
	// Encoding is the metadata encoding of a sealed payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the metadata entry holding the data key's id.
	MetadataKeyID = "encryption-key-id"
	// aad binds the ciphertext to its use: a Temporal payload.
	aad = "temporal.payload"
)

// Codec is a converter.PayloadCodec sealing payloads under the keyring's
// current key. It is safe for concurrent use.
type Codec struct {
	keys *keyring.Keyring
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec of keys; keys must not be nil.
func New(keys *keyring.Keyring) (*Codec, error) {
	if keys == nil {
		return nil, fmt.Errorf("temporal payload codec: %w", keyring.ErrNoKeys)
	}
	return &Codec{keys: keys}, nil
}

// Encode seals each payload.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		id, sealed, err := c.keys.SealBytes(aad, plain)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(id)},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode opens each sealed payload and leaves the others as they are.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p // written before the codec, or by a plain client
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		if id == "" {
			return nil, errors.New("decode payload: sealed payload names no key")
		}
		plain, err := c.keys.OpenBytes(id, aad, p.GetData())
		if err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is the SDK's default data converter with payloads sealed
// by c: what every civicflow client and worker uses.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
