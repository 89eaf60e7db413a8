package web

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonPaths lists the JSON paths of a request type's fields
// ("person.name"), as the API names them in its 422.
func jsonPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		p := prefix + name
		out = append(out, p)
		if ft := f.Type; ft.Kind() == reflect.Struct || ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			out = append(out, jsonPaths(ft, p+".")...)
		}
	}
	return out
}

// TestApplyFormsCoverTheirRequests: every field of a process's API request
// has a field of its form to show its error at, and every form field says
// which API field it is, so a field added to the request shows here.
func TestApplyFormsCoverTheirRequests(t *testing.T) {
	t.Parallel()
	for _, pr := range applyProcesses() {
		req, _ := pr.Request(formValues{})
		for _, p := range jsonPaths(reflect.TypeOf(req), "") {
			if p == "person" || p == "applicant" {
				continue
			}
			require.NotEqual(t, "form", pr.formName(p), "%s: the form has no field for the API's %s", pr.Key, p)
		}
		seen := map[string]bool{}
		for _, s := range pr.Sections {
			for _, f := range s.Fields {
				require.NotEmpty(t, f.API, "%s: form field %s names no API field", pr.Key, f.Name)
				require.False(t, seen[f.Name], "%s: two fields named %s", pr.Key, f.Name)
				seen[f.Name] = true
			}
		}
	}
}
