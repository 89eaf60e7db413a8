package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Associated data of each sealed column: a value copied into another
// column does not open.
const (
	aadIDNumber       = "persons.id_number"
	aadPhone          = "persons.phone"
	aadApplicantPhone = "cases.applicant_phone"
	aadApplicantEmail = "cases.applicant_email"
	aadDisability     = "cases.disability"
)

type sealedPerson struct {
	idNumberEnc, idNumberMasked string
	idNumberHash                []byte
	phoneEnc, phoneMasked       string
}

func (db *DB) sealPerson(idNumber, phone string) (sealedPerson, error) {
	var s sealedPerson
	var err error
	if s.idNumberEnc, err = db.keys.seal(aadIDNumber, idNumber); err != nil {
		return s, err
	}
	if s.idNumberHash, err = db.keys.lookupHash("id_number", idNumber); err != nil {
		return s, err
	}
	s.idNumberMasked = civicflow.MaskIDNumber(idNumber)
	if phone != "" {
		if s.phoneEnc, err = db.keys.seal(aadPhone, phone); err != nil {
			return s, err
		}
		s.phoneMasked = civicflow.MaskPhone(phone)
	}
	return s, nil
}

type sealedContact struct {
	phoneEnc, emailEnc, disabilityEnc string
}

func (db *DB) sealCaseContact(phone, email string, dis *civicflow.Disability) (sealedContact, error) {
	var s sealedContact
	var err error
	if s.phoneEnc, err = db.keys.seal(aadApplicantPhone, phone); err != nil {
		return s, err
	}
	if s.emailEnc, err = db.keys.seal(aadApplicantEmail, email); err != nil {
		return s, err
	}
	if dis != nil {
		b, err := json.Marshal(dis)
		if err != nil {
			return s, err
		}
		if s.disabilityEnc, err = db.keys.seal(aadDisability, string(b)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// PersonalData is the unmasked personal data of one case. Only the reveal
// endpoint (audited) and activities that must pass it on read it.
type PersonalData struct {
	IDNumber       string                `json:"id_number"`
	Phone          string                `json:"phone"`
	ApplicantPhone string                `json:"applicant_phone"`
	ApplicantEmail string                `json:"applicant_email"`
	Disability     *civicflow.Disability `json:"disability"`
}

// PersonalData opens the sealed personal data of a case.
func (db *DB) PersonalData(ctx context.Context, caseID int64) (*PersonalData, error) {
	var idEnc, phoneEnc, aPhoneEnc, aEmailEnc, disEnc string
	err := db.pool.QueryRow(ctx, `SELECT p.id_number_enc, coalesce(p.phone_enc, ''), coalesce(c.applicant_phone_enc, ''),
			coalesce(c.applicant_email_enc, ''), coalesce(c.disability_enc, '')
		FROM cases c JOIN persons p ON p.id = c.person_id WHERE c.id = $1`, caseID).
		Scan(&idEnc, &phoneEnc, &aPhoneEnc, &aEmailEnc, &disEnc)
	if err != nil {
		return nil, mapError(fmt.Sprintf("personal data of case %d", caseID), err)
	}
	var pd PersonalData
	if pd.IDNumber, err = db.keys.open(aadIDNumber, idEnc); err != nil {
		return nil, err
	}
	if pd.Phone, err = db.keys.open(aadPhone, phoneEnc); err != nil {
		return nil, err
	}
	if pd.ApplicantPhone, err = db.keys.open(aadApplicantPhone, aPhoneEnc); err != nil {
		return nil, err
	}
	if pd.ApplicantEmail, err = db.keys.open(aadApplicantEmail, aEmailEnc); err != nil {
		return nil, err
	}
	dis, err := db.keys.open(aadDisability, disEnc)
	if err != nil {
		return nil, err
	}
	if dis != "" {
		pd.Disability = &civicflow.Disability{}
		if err := json.Unmarshal([]byte(dis), pd.Disability); err != nil {
			return nil, fmt.Errorf("decode disability of case %d: %w", caseID, err)
		}
	}
	return &pd, nil
}

// sealedColumn is one column of sealed values, for rotation and status.
type sealedColumn struct {
	table, column, aad string
}

var sealedColumns = []sealedColumn{
	{"persons", "id_number_enc", aadIDNumber},
	{"persons", "phone_enc", aadPhone},
	{"cases", "applicant_phone_enc", aadApplicantPhone},
	{"cases", "applicant_email_enc", aadApplicantEmail},
	{"cases", "disability_enc", aadDisability},
	{"rehab_records", "content_enc", aadRehabContent},
	{"rehab_applications", "guardian_name_enc", aadGuardianName},
}

// KeyUsage counts sealed values per table.column and key id.
type KeyUsage struct {
	Column string `json:"column"`
	KeyID  string `json:"key_id"`
	Values int64  `json:"values"`
}

// KeyUsage reports how many values each key seals, column by column. Once a
// key seals nothing it may be removed from the configuration.
func (db *DB) KeyUsage(ctx context.Context) ([]KeyUsage, error) {
	var out []KeyUsage
	for _, c := range sealedColumns {
		rows, err := db.pool.Query(ctx, fmt.Sprintf(`SELECT split_part(%[1]s, ':', 1), count(*) FROM %[2]s
			WHERE %[1]s IS NOT NULL GROUP BY 1 ORDER BY 1`, c.column, c.table))
		if err != nil {
			return nil, mapError("key usage", err)
		}
		us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyUsage, error) {
			u := KeyUsage{Column: c.table + "." + c.column}
			return u, r.Scan(&u.KeyID, &u.Values)
		})
		if err != nil {
			return nil, mapError("key usage", err)
		}
		out = append(out, us...)
	}
	return out, nil
}

// RotateKeys re-seals every value not sealed under the current key, batch
// rows at a time, each batch in its own short transaction (rows being
// written by the workflows wait at most one batch; rows locked elsewhere are
// skipped and taken by a later round). Reads keep working throughout because
// every configured key opens its values. It returns how many values it
// re-sealed; progress, if not nil, is called after each batch.
func (db *DB) RotateKeys(ctx context.Context, batch int, progress func(column string, done int64)) (int64, error) {
	if db.keys == nil {
		return 0, errNoKeys
	}
	if batch <= 0 {
		batch = 500
	}
	prefix := db.keys.CurrentKeyID() + ":"
	var total int64
	for _, c := range sealedColumns {
		var done int64
		for {
			n, err := db.rotateBatch(ctx, c, prefix, batch)
			if err != nil {
				return total, err
			}
			done += int64(n)
			total += int64(n)
			if progress != nil && n > 0 {
				progress(c.table+"."+c.column, done)
			}
			if n == 0 {
				break
			}
		}
	}
	return total, nil
}

func (db *DB) rotateBatch(ctx context.Context, c sealedColumn, prefix string, batch int) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, %[1]s FROM %[2]s WHERE %[1]s IS NOT NULL AND left(%[1]s, $1) <> $2
			ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, c.column, c.table), len(prefix), prefix, batch)
		if err != nil {
			return err
		}
		type row struct {
			id     int64
			sealed string
		}
		rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.sealed)
		})
		if err != nil {
			return err
		}
		for _, r := range rs {
			plain, err := db.keys.open(c.aad, r.sealed)
			if err != nil {
				return fmt.Errorf("%s %d: %w", c.table, r.id, err)
			}
			resealed, err := db.keys.seal(c.aad, plain)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $2 WHERE id = $1`, c.table, c.column), r.id, resealed); err != nil {
				return err
			}
		}
		n = len(rs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rotate %s.%s: %w", c.table, c.column, err)
	}
	return n, nil
}
