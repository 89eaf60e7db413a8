package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
)

// Languages of the console; the first is the default.
var languages = []string{"zh-CN", "en"}

//go:embed messages/*.json
var messageFS embed.FS

// catalogue holds every string the console shows, per language.
type catalogue map[string]map[string]string

func loadCatalogue() (catalogue, error) {
	cat := catalogue{}
	for _, lang := range languages {
		b, err := messageFS.ReadFile("messages/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("read catalogue %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("parse catalogue %s: %w", lang, err)
		}
		cat[lang] = m
	}
	return cat, nil
}

// text returns the message key in lang, formatted with args. A key missing
// from the catalogue shows as ⟦key⟧ so that it is noticed (and the
// catalogue test fails first).
func (cat catalogue) text(lang, key string, args ...any) string {
	s, ok := cat[lang][key]
	if !ok {
		s, ok = cat[languages[0]][key]
	}
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

func (cat catalogue) has(key string) bool {
	_, ok := cat[languages[0]][key]
	return ok
}

func langOf(v string) string {
	for _, l := range languages {
		if strings.EqualFold(v, l) {
			return l
		}
	}
	return languages[0]
}
