package lint

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// maxConfigSize bounds .sops.yaml; real ones are a few hundred bytes.
const maxConfigSize = 1 << 20

// config is the part of .sops.yaml lint checks files against.
type config struct {
	rules []rule
}

// rule is one creation rule.
type rule struct {
	index      int // 1-based
	line       int
	pathRE     *regexp.Regexp // nil when path_regex is empty or invalid
	pathBroken bool           // path_regex does not compile: sops refuses the rule
	age        []recipient
	crypt      secrets.Rules // which values the rule encrypts
	cryptBad   bool          // one of its regexes does not compile
}

type recipient struct {
	value string
	line  int
}

// knownRuleKeys are the creation rule fields of sops v3.13.3
// (config/config.go, creationRule).
var knownRuleKeys = []string{"path_regex", "kms", "aws_profile", "age", "pgp", "gcp_kms", "hckms", "azure_keyvault",
	"hc_vault_transit_uri", "key_groups", "shamir_threshold", "unencrypted_suffix", "encrypted_suffix",
	"unencrypted_regex", "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex", "mac_only_encrypted"}

// cryptRules are the fields sops allows at most one of per rule.
var cryptRules = []string{"unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
	"unencrypted_comment_regex", "encrypted_comment_regex"}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// loadConfig reads and checks configFile; l.cfg stays nil when it is
// absent or does not parse.
func (l *linter) loadConfig() {
	f, err := l.fsys.Open(configFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	l.res.Files = append(l.res.Files, File{Path: configFile})
	cfgErr := func(line int, title, msg, hint string) {
		l.cfgBroken = l.cfg == nil
		l.add(Finding{File: configFile, Line: line, Severity: Error, Title: title, Message: msg, Hint: hint})
	}
	if err != nil {
		cfgErr(1, "unreadable", ".sops.yaml cannot be read", "check that it is a readable file")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil || len(data) > maxConfigSize {
		cfgErr(1, "unreadable", fmt.Sprintf(".sops.yaml cannot be read or is larger than %d bytes", maxConfigSize), "keep .sops.yaml to its creation rules")
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 1
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		cfgErr(line, ".sops.yaml does not parse", ".sops.yaml is not valid YAML, so sops cannot read its creation rules and every sops command in this repository fails",
			"check indentation and quoting near that line")
		return
	}
	l.cfg = &config{}
	if len(doc.Content) == 0 {
		return
	}
	top := doc.Content[0]
	cr := mapValue(top, "creation_rules")
	if top.Kind != yaml.MappingNode || cr == nil {
		cfgErr(top.Line, "no creation_rules", ".sops.yaml has no creation_rules list, so sops encrypts with no recipient from it", "add creation_rules with a path_regex and age recipients per environment")
		return
	}
	if cr.Kind != yaml.SequenceNode {
		cfgErr(cr.Line, "creation_rules is not a list", ".sops.yaml creation_rules is not a list of rules", "write each rule as a list item: - path_regex: …")
		return
	}
	for i, n := range cr.Content {
		l.cfg.rules = append(l.cfg.rules, l.checkRule(i+1, n))
	}
}

// checkRule checks one creation rule and returns what files are checked
// against.
func (l *linter) checkRule(index int, n *yaml.Node) rule {
	r := rule{index: index, line: n.Line}
	if n.Kind != yaml.MappingNode {
		l.add(Finding{File: configFile, Line: n.Line, Severity: Error, Title: "creation rule is not a mapping",
			Message: fmt.Sprintf("creation rule %d of .sops.yaml is not a mapping of fields", index), Hint: "write the rule as path_regex: …, age: …"})
		return r
	}
	var crypt []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(knownRuleKeys, k.Value):
			l.add(Finding{File: configFile, Line: k.Line, Severity: Warning, Title: "unknown field",
				Message: fmt.Sprintf("creation rule %d of .sops.yaml has a field %q that sops does not know and ignores", index, k.Value),
				Hint:    "check its spelling against the sops documentation"})
		case strings.HasSuffix(k.Value, "_regex"):
			re := l.checkRegex(index, k.Value, v)
			if k.Value == "path_regex" {
				r.pathRE, r.pathBroken = re, re == nil && v.Value != ""
			}
		case k.Value == "age":
			r.age = append(r.age, l.ageList(index, v)...)
		case k.Value == "key_groups":
			r.age = append(r.age, l.groupRecipients(index, v)...)
		}
		if slices.Contains(cryptRules, k.Value) && v.Value != "" {
			crypt = append(crypt, k.Value)
			r.setCrypt(k.Value, v.Value)
		}
	}
	if len(crypt) > 1 {
		l.add(Finding{File: configFile, Line: n.Line, Severity: Error, Title: "conflicting encryption rules",
			Message: fmt.Sprintf("creation rule %d of .sops.yaml sets %s; sops refuses more than one of them", index, strings.Join(crypt, " and ")),
			Hint:    "keep one: `unencrypted_regex: ^sops_`, or none (sops then encrypts every value)"})
	}
	return r
}

// setCrypt records one of the rule's encryption choices.
func (r *rule) setCrypt(field, value string) {
	if strings.HasSuffix(field, "_regex") {
		if _, err := regexp.Compile(value); err != nil {
			r.cryptBad = true
		}
	}
	*map[string]*string{
		"unencrypted_suffix": &r.crypt.UnencryptedSuffix, "encrypted_suffix": &r.crypt.EncryptedSuffix,
		"unencrypted_regex": &r.crypt.UnencryptedRegex, "encrypted_regex": &r.crypt.EncryptedRegex,
		"unencrypted_comment_regex": &r.crypt.UnencryptedCommentRegex, "encrypted_comment_regex": &r.crypt.EncryptedCommentRegex,
	}[field] = value
}

// checkRegex compiles a rule's regular expression as sops does (Go's
// regexp, RE2) and returns it, or nil when it is empty or does not compile.
func (l *linter) checkRegex(index int, field string, v *yaml.Node) *regexp.Regexp {
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return nil
	}
	re, err := regexp.Compile(v.Value)
	if err == nil {
		return re
	}
	f := Finding{File: configFile, Line: v.Line, Severity: Error, Title: "regex does not compile in Go"}
	var effect string
	switch field {
	case "path_regex":
		effect = "sops refuses to encrypt any file that reaches this rule"
	case "encrypted_regex", "encrypted_comment_regex":
		effect = "sops ignores the error and writes every value of the files this rule creates in PLAINTEXT, with a valid sops block and MAC"
	default:
		effect = "sops ignores the error and the rule leaves nothing unencrypted"
	}
	if hasLookaround(v.Value) {
		f.Title = "lookahead in " + field + " (the seed runbook's trap)"
		f.Message = fmt.Sprintf("creation rule %d of .sops.yaml: %s %q uses a lookahead or lookbehind, which Go's RE2 (and so sops) cannot compile: %s", index, field, v.Value, effect)
	} else {
		f.Message = fmt.Sprintf("creation rule %d of .sops.yaml: %s %q is not a valid Go (RE2) regular expression (RE2 has no lookaround, backreferences or possessive quantifiers): %s", index, field, v.Value, effect)
	}
	f.Hint = "use `unencrypted_regex: ^sops_` instead (or no regex: sops then encrypts every value); files already encrypted under this rule hold plaintext in git history: rotate their values and re-encrypt them"
	if field == "path_regex" {
		f.Hint = "rewrite path_regex without PCRE-only constructs, e.g. ^secrets/staging/.*\\.enc\\.yaml$"
	}
	l.add(f)
	return nil
}

func hasLookaround(re string) bool {
	for _, s := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.Contains(re, s) {
			return true
		}
	}
	return false
}

// ageList reads an age: field (a comma-separated string or a list) and
// checks each entry is an age public key. An invalid entry is never quoted:
// it could be a secret key pasted in the wrong place.
func (l *linter) ageList(index int, v *yaml.Node) []recipient {
	var out []recipient
	addOne := func(s string, line int) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		n := len(out) + 1
		switch {
		case strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-"):
			l.add(Finding{File: configFile, Line: line, Severity: Error, Title: "secret key in .sops.yaml",
				Message: fmt.Sprintf("creation rule %d of .sops.yaml: age entry %d is an age SECRET key, not a recipient", index, n),
				Hint:    "generate a new key pair with age-keygen, put its public age1… recipient here, and re-encrypt every file to it: the committed secret key is in git history"})
		case !secrets.IsAgeRecipient(s):
			l.add(Finding{File: configFile, Line: line, Severity: Error, Title: "invalid age recipient",
				Message: fmt.Sprintf("creation rule %d of .sops.yaml: age entry %d is not an age public key (age1…)", index, n),
				Hint:    "copy the recipient from `age-keygen -y <key file>`; SSH and plugin recipients are not decrypted by this action"})
		}
		out = append(out, recipient{value: s, line: line})
	}
	switch v.Kind {
	case yaml.ScalarNode:
		for _, s := range strings.Split(v.Value, ",") {
			addOne(s, v.Line)
		}
	case yaml.SequenceNode:
		for _, e := range v.Content {
			addOne(e.Value, e.Line)
		}
	default:
		l.add(Finding{File: configFile, Line: v.Line, Severity: Error, Title: "invalid age field",
			Message: fmt.Sprintf("creation rule %d of .sops.yaml: age is neither a string nor a list", index), Hint: "write age: age1…,age1… or a list of age1… recipients"})
	}
	return out
}

// groupRecipients reads the age recipients of key_groups.
func (l *linter) groupRecipients(index int, v *yaml.Node) []recipient {
	var out []recipient
	if v.Kind != yaml.SequenceNode {
		return nil
	}
	for _, g := range v.Content {
		if a := mapValue(g, "age"); a != nil {
			out = append(out, l.ageList(index, a)...)
		}
	}
	return out
}

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ruleFor returns the creation rule sops applies to p: the first whose
// path_regex matches (or that has none). ok is false when no rule applies
// or a broken path_regex comes first (sops then fails).
func (c *config) ruleFor(p string) (r rule, ok bool) {
	for _, r := range c.rules {
		switch {
		case r.pathBroken:
			return rule{}, false
		case r.pathRE == nil, r.pathRE.MatchString(p):
			return r, true
		}
	}
	return rule{}, false
}
