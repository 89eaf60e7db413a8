// Package demo seeds demonstration data: designated institutions with beds
// and one official per role, so that a newcomer can drive a case through
// every stage. It is idempotent: seeding again changes nothing.
package demo

import (
	"context"
	"fmt"

	"civicflow"
	"civicflow/postgres"
)

// DefaultPassword is the demo officials' password unless one is configured.
const DefaultPassword = "civicflow-demo"

// Login is a seeded account, for printing and for tests.
type Login struct {
	Username     string
	Role         civicflow.Role
	Jurisdiction string
	Description  string
}

// Institutions seeded for the demo.
var institutions = []postgres.NewInstitution{
	{Name: "雁塔区社会福利院", DistrictCode: "610113", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 3, civicflow.CareSemiDependent: 2, civicflow.CareDependent: 2}},
	{Name: "新城区特困人员供养服务中心", DistrictCode: "610102", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 2, civicflow.CareSemiDependent: 2, civicflow.CareDependent: 1}},
	{Name: "长安区中心敬老院", DistrictCode: "610116", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 2, civicflow.CareSemiDependent: 1, civicflow.CareDependent: 1}},
	{Name: "周至县中心敬老院", DistrictCode: "610124", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 2, civicflow.CareSemiDependent: 1, civicflow.CareDependent: 1}},
}

type user struct {
	Login
	display     string
	institution string
}

var users = []user{
	{Login{"ts.xiaozhai", civicflow.RoleTownshipOfficial, "610113001", "township official, 雁塔区小寨路街道"}, "王芳", ""},
	{Login{"ts.dayanta", civicflow.RoleTownshipOfficial, "610113002", "township official, 雁塔区大雁塔街道"}, "李强", ""},
	{Login{"ts.xiyilu", civicflow.RoleTownshipOfficial, "610102001", "township official, 新城区西一路街道"}, "赵敏", ""},
	{Login{"dr.yanta", civicflow.RoleDistrictReviewer, "610113", "district reviewer, 雁塔区民政局"}, "陈静", ""},
	{Login{"dr.xincheng", civicflow.RoleDistrictReviewer, "610102", "district reviewer, 新城区民政局"}, "刘洋", ""},
	{Login{"st.yanta", civicflow.RoleInstitutionStaff, "610113", "institution staff, 雁塔区社会福利院"}, "张伟", "雁塔区社会福利院"},
	{Login{"st.xincheng", civicflow.RoleInstitutionStaff, "610102", "institution staff, 新城区特困人员供养服务中心"}, "周丽", "新城区特困人员供养服务中心"},
	{Login{"ra.yanta", civicflow.RoleRehabAssessor, "610113", "rehab assessor, 雁塔区精神障碍社区康复服务中心"}, "吴刚", ""},
	{Login{"ra.xincheng", civicflow.RoleRehabAssessor, "610102", "rehab assessor, 新城区精神障碍社区康复服务中心"}, "黄磊", ""},
	{Login{"sv.city", civicflow.RoleSupervisor, civicflow.CityCode, "supervisor, 西安市民政局 (all districts)"}, "孙红", ""},
	{Login{"sv.yanta", civicflow.RoleSupervisor, "610113", "supervisor, 雁塔区民政局"}, "郑军", ""},
	{Login{"admin", civicflow.RoleAdministrator, civicflow.CityCode, "administrator"}, "系统管理员", ""},
}

// Seed creates the demo institutions and officials unless they exist, all
// with the given password, and returns the logins.
func Seed(ctx context.Context, db *postgres.DB, password string) ([]Login, error) {
	ids := map[string]int64{}
	for _, in := range institutions {
		id, err := db.EnsureInstitution(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("seed institution: %w", err)
		}
		ids[in.Name] = id
	}
	out := make([]Login, 0, len(users))
	for _, u := range users {
		id, err := db.EnsureUser(ctx, postgres.NewUser{Username: u.Username, DisplayName: u.display, Password: password,
			Role: u.Role, Jurisdiction: u.Jurisdiction, InstitutionID: ids[u.institution]})
		if err != nil {
			return nil, fmt.Errorf("seed user: %w", err)
		}
		// Every demo official gets mail (shown by the local mail sink); the
		// city supervisor reads it in English.
		if err := db.SetUserEmail(ctx, id, Email(u.Username), demoLocale(u.Username)); err != nil {
			return nil, fmt.Errorf("seed user email: %w", err)
		}
		out = append(out, u.Login)
	}
	return out, nil
}

// Email is the address of a demo official (delivered to the mail sink only).
func Email(username string) string { return username + "@civicflow.localhost" }

func demoLocale(username string) string {
	if username == "sv.city" {
		return "en"
	}
	return "zh"
}
