package demo

import (
	"context"
	"fmt"
	"time"

	"civicflow"
	"civicflow/postgres"
)

// RegisterSize is the number of persons SeedRegister enters: a third in
// centralised support in the register's own institutions, the rest
// dispersed at home with a carer, across four districts.
const RegisterSize = 300

// registerInstitutions hold the seeded residents: one per district, with
// exactly the beds registerPerson fills (a test checks it), full once
// seeded, so that new demo cases still go to the institutions of
// Seed (a termination frees a bed here for the wait-list).
var registerInstitutions = []postgres.NewInstitution{
	{Name: "雁塔区颐养院", DistrictCode: "610113", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 11, civicflow.CareSemiDependent: 9, civicflow.CareDependent: 10}},
	{Name: "新城区长乐敬老院", DistrictCode: "610102", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 10, civicflow.CareSemiDependent: 10, civicflow.CareDependent: 10}},
	{Name: "长安区韦曲敬老院", DistrictCode: "610116", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 6, civicflow.CareSemiDependent: 7, civicflow.CareDependent: 7}},
	{Name: "周至县二曲敬老院", DistrictCode: "610124", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 7, civicflow.CareSemiDependent: 7, civicflow.CareDependent: 6}},
}

var registerTownships = []string{"610113001", "610102001", "610116001", "610124001", "610113002",
	"610102002", "610116002", "610124101", "610113003", "610102003"}

var (
	surnames   = []rune("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗")
	givenNames = []string{"秀英", "桂兰", "建国", "淑珍", "玉兰", "德胜", "凤英", "志强", "金花", "长福", "秀珍", "国华", "兰英", "振山", "翠花"}
	carerNames = []string{"李娜", "王磊", "张敏", "刘洋", "陈静", "杨帆", "赵丽", "黄伟"}
	relations  = []string{"侄女", "邻居", "侄子", "外甥", "远房亲戚", "村民"}
	careLevels = []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent}
)

// registerPerson is the i-th seeded person, the same on every machine.
func registerPerson(i int) postgres.SeedPerson {
	township := registerTownships[i%len(registerTownships)]
	birth := time.Date(1932+i%28, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)
	first17 := township[:6] + birth.Format("20060102") + fmt.Sprintf("%03d", 700+i/12%300)
	id := first17 + string(civicflow.IDCheckChar(first17))
	name := string(surnames[i%len(surnames)]) + givenNames[(i/len(surnames))%len(givenNames)]
	start := time.Date(2019+i%7, time.Month(1+i%12), 1, 0, 0, 0, 0, civicflow.ChinaZone())
	sp := postgres.SeedPerson{
		Application: civicflow.Application{
			Person: civicflow.Person{Name: name, IDNumber: id, BirthDate: birth, Male: (700+i/12%300)%2 == 1,
				TownshipCode: township},
			Address: fmt.Sprintf("%d 号院", 1+i%80), Relation: civicflow.RelationCommunity, ApplicantName: "村（居）委会",
			Statement: "在册特困人员（演示数据）",
		},
		Form:      civicflow.SupportDispersed,
		CareLevel: careLevels[i%2],
		StartsOn:  start,
		Carer: civicflow.CarerAgreement{Name: carerNames[i%len(carerNames)], Relation: relations[i%len(relations)],
			Phone: fmt.Sprintf("139%08d", 10000000+i), StartsOn: start.Format(time.DateOnly)},
	}
	if i%3 == 0 {
		sp.Form, sp.CareLevel, sp.Carer = civicflow.SupportCentralised, careLevels[(i/3)%3], civicflow.CarerAgreement{}
	}
	return sp
}

// SeedRegister enters RegisterSize persons in the register (and the
// institutions housing the centralised ones), unless they are there; a
// run cut short goes on where it stopped. It is for `civicflow dev`: the
// seeded cases have no workflow, being completed.
func SeedRegister(ctx context.Context, db *postgres.DB) (int, error) {
	for _, in := range registerInstitutions {
		if _, err := db.EnsureInstitution(ctx, in); err != nil {
			return 0, fmt.Errorf("seed register institution: %w", err)
		}
	}
	if err := seedStandards(ctx, db); err != nil {
		return 0, err
	}
	done, err := db.SeededRegister(ctx)
	if err != nil {
		return 0, err
	}
	for i := done; i < RegisterSize; i++ {
		if err := db.SeedRegisterPerson(ctx, registerPerson(i)); err != nil {
			return i, fmt.Errorf("seed register person %d: %w", i, err)
		}
	}
	return RegisterSize, nil
}

// demoStandards are monthly support standards (CNY) for the demo
// districts from 2026-01-01. They are demonstration values, not the
// bureau's: administrators set the real ones (PUT
// /api/v1/admin/support-standards/...).
var demoStandards = map[string]int{"610113": 1180, "610102": 1180, "610116": 1100, "610124": 980}

// seedStandards sets each demo district's standard unless it has one.
func seedStandards(ctx context.Context, db *postgres.DB) error {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, district := range []string{"610102", "610113", "610116", "610124"} {
		have, err := db.SupportStandards(ctx, district)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			continue
		}
		if _, err := db.PutSupportStandard(ctx, civicflow.SupportStandard{DistrictCode: district, EffectiveFrom: from,
			MonthlyAmount: demoStandards[district], SetBy: "demo"}); err != nil {
			return fmt.Errorf("seed support standard of %s: %w", district, err)
		}
	}
	return nil
}
