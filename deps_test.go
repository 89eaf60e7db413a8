package civicflow_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// importRule is one rule of the import direction (docs/architecture.md):
// pkg must not depend on anything matching one of banned, transitively
// (deps) or in its own imports (direct).
type importRule struct {
	pkg    string
	direct bool
	banned []string
}

var importRules = []importRule{
	// Workflows know the domain, the activities by name and the SDK: never
	// the store, its driver or the HTTP layer, however indirectly.
	{pkg: "civicflow/workflows", banned: []string{"civicflow/postgres", "github.com/jackc/pgx", "github.com/labstack/echo", "civicflow/api", "civicflow/web"}},
	// ... and do no I/O of their own (the SDK brings net/http in; fine).
	{pkg: "civicflow/workflows", direct: true, banned: []string{"net/http", "os", "os/exec"}},
	// Activities are imported by workflows: the same holds for them.
	{pkg: "civicflow/activities", banned: []string{"civicflow/postgres", "github.com/jackc/pgx", "github.com/labstack/echo"}},
	// The API starts and drives workflows; it never calls activities.
	{pkg: "civicflow/api", direct: true, banned: []string{"civicflow/activities", "civicflow/web"}},
	// The API's contract is plain data: the domain and the standard library.
	{pkg: "civicflow/wire", banned: []string{"civicflow/api", "civicflow/web", "civicflow/postgres", "civicflow/workflows", "civicflow/activities", "github.com/"}},
	// The console is an API client: it does not reach behind the API.
	{pkg: "civicflow/web", banned: []string{"civicflow/api", "civicflow/postgres", "civicflow/workflows", "civicflow/activities", "github.com/jackc/pgx"}},
}

// violations lists the dependencies in deps that a rule bans.
func violations(deps []string, banned []string) []string {
	var bad []string
	for _, d := range deps {
		for _, b := range banned {
			if d == b || strings.HasPrefix(d, b+"/") {
				bad = append(bad, d)
			}
		}
	}
	return bad
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestImportDirection(t *testing.T) {
	for _, r := range importRules {
		var deps []string
		if r.direct {
			deps = goList(t, "-f", `{{join .Imports " "}}`, r.pkg)
		} else {
			deps = goList(t, "-deps", r.pkg)
		}
		if len(deps) == 0 {
			t.Fatalf("go list found no imports of %s", r.pkg)
		}
		if bad := violations(deps, r.banned); len(bad) > 0 {
			how := "depends on"
			if r.direct {
				how = "imports"
			}
			t.Errorf("%s %s %v", r.pkg, how, bad)
		}
	}
}

// The check must catch what the workflows package looked like before the
// store contract moved into the domain (issue 15): it imported
// civicflow/postgres, and through it pgx.
func TestImportDirectionCatchesTheOldWorkflows(t *testing.T) {
	old := []string{"civicflow", "civicflow/activities", "civicflow/postgres", "github.com/jackc/pgx/v5/pgxpool", "go.temporal.io/sdk/workflow"}
	bad := violations(old, importRules[0].banned)
	if !slices.Contains(bad, "civicflow/postgres") || !slices.Contains(bad, "github.com/jackc/pgx/v5/pgxpool") {
		t.Fatalf("the old workflows dependencies passed the check: %v", bad)
	}
	if bad := violations([]string{"github.com/jackc/pgxlike"}, importRules[0].banned); len(bad) != 0 {
		t.Fatalf("a prefix that is not a path matched: %v", bad)
	}
}
