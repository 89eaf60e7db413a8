package notify

import "civicflow"

// Wording of the education grant (issue 15) where a stage means something
// else than in centralised care: its completed case is a grant approved,
// not a person admitted to an institution.
var educationStageNames = map[civicflow.Stage][2]string{
	civicflow.StageCompleted: {"grant approved", "资助已核准"},
}

// caseStageLabel is stageLabel for a case of type t.
func caseStageLabel(locale string, t civicflow.CaseType, s civicflow.Stage) string {
	if n, ok := educationStageNames[s]; ok && t == civicflow.CaseTypeEducationGrant {
		return label(locale, n[0], n[1])
	}
	return stageLabel(locale, s)
}
