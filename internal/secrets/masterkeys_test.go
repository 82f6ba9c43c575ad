package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The master keys of every kind sops reads besides age, as the YAML store
// writes them under sops:, in the order sops' stores load them into a key
// group (kms, gcp_kms, hckms, azure_kv, hc_vault, pgp). The action
// decrypts with age only, but it must read these files as sops does: list
// their age recipients, or name the other kinds in its refusal.
var otherKeys = map[string]string{
	"kms": `    kms:
        - arn: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
          role: arn:aws:iam::111122223333:role/sops
          context:
            env: staging
          created_at: "2026-01-02T03:04:05Z"
          enc: AQICAHhQ
          aws_profile: deploy
`,
	"gcp_kms": `    gcp_kms:
        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k
          created_at: "2026-01-02T03:04:05Z"
          enc: CiQAwF
`,
	"hckms": `    hckms:
        - key_id: cn-north-4:0d0466b0-e727-4d9c-b35d-f84bb474a37f
          created_at: "2026-01-02T03:04:05Z"
          enc: AgDoAH
`,
	"azure_kv": `    azure_kv:
        - vault_url: https://v.vault.azure.net
          name: sops
          version: 0123456789abcdef
          created_at: "2026-01-02T03:04:05Z"
          enc: dGVzdA
`,
	"hc_vault": `    hc_vault:
        - vault_address: http://127.0.0.1:8200
          engine_path: sops
          key_name: k
          created_at: "2026-01-02T03:04:05+02:00"
          enc: vault:v1:dGVzdA==
`,
	"pgp": `    pgp:
        - created_at: "2026-01-02T03:04:05Z"
          enc: |
            -----BEGIN PGP MESSAGE-----

            wcBMA0
            -----END PGP MESSAGE-----
          fp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4
`,
}

var otherKinds = []string{"kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp"}

// ageBlockRE matches the canary fixture's age block.
var ageBlockRE = regexp.MustCompile(`(?s)    age:\n.*?          recipient: age1\w+\n`)

// withKeys returns the canary fixture with the given kinds' keys added to
// its sops block, and its age key removed unless keepAge.
func withKeys(t *testing.T, keepAge bool, kinds ...string) []byte {
	t.Helper()
	data := string(td(t, "canary/canary.enc.yaml"))
	if !ageBlockRE.MatchString(data) {
		t.Fatal("the canary fixture has no age block")
	}
	if !keepAge {
		data = ageBlockRE.ReplaceAllString(data, "")
	}
	var add strings.Builder
	for _, k := range kinds {
		add.WriteString(otherKeys[k])
	}
	return []byte(strings.Replace(data, "\nsops:\n", "\nsops:\n"+add.String(), 1))
}

// TestOtherKeyKinds: a file encrypted to age and to other kinds decrypts
// with the age key; one encrypted to other kinds only is refused, naming
// them in sops' order.
func TestOtherKeyKinds(t *testing.T) {
	t.Parallel()
	recipient := "age1ks0dfm7et5cje8unmwu2ksememrtp5wslnr5vd7w0krkwdy8pf6q3dqwrt"
	data := withKeys(t, true, otherKinds...)
	info, err := Inspect(data, FormatYAML)
	if err != nil || !slices.Equal(info.Recipients, []string{recipient}) {
		t.Fatalf("Inspect: %+v, %v; want the age recipient only", info, err)
	}
	res, err := Decrypt(data, ids(t, "a"))
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(res.Plaintext.Reveal(), td(t, "canary/canary.plain.yaml")) || !slices.Equal(res.Recipients, []string{recipient}) {
		t.Errorf("Decrypt: plaintext or recipients %v differ from the age-only file's", res.Recipients)
	}
	for _, tc := range []struct {
		kinds []string
		want  string
	}{
		{[]string{"kms"}, "kms"},
		{[]string{"pgp"}, "pgp"},
		{[]string{"hc_vault", "pgp", "kms"}, "kms, hc_vault, pgp"},
		{otherKinds, "kms, gcp_kms, hckms, azure_kv, hc_vault, pgp"},
	} {
		for _, decrypt := range []bool{false, true} {
			var ue *UnsupportedError
			_, err := Inspect(withKeys(t, false, tc.kinds...), FormatYAML)
			if decrypt {
				_, err = Decrypt(withKeys(t, false, tc.kinds...), ids(t, "a"))
			}
			if !errors.As(err, &ue) || ue.Problem != "has no age recipient (it is encrypted to "+tc.want+" only)" {
				t.Errorf("%v (decrypt %v): got %v, want an UnsupportedError naming %s", tc.kinds, decrypt, err, tc.want)
			}
		}
	}
}

// TestOtherKeyKindsBroken: a key sops cannot read (a created_at that is
// not RFC 3339, an hckms key ID that is not region:uuid) makes the whole
// sops block unreadable, as in sops, even next to a good age key.
func TestOtherKeyKindsBroken(t *testing.T) {
	t.Parallel()
	broken := map[string][2]string{"hckms: no region": {"key_id: cn-north-4:", "key_id: "}, "hckms: no uuid": {"key_id: cn-north-4:0d0466b0-e727-4d9c-b35d-f84bb474a37f", `key_id: "cn-north-4:"`}}
	for _, k := range otherKinds {
		broken[k+": created_at"] = [2]string{`created_at: "2026-01-02T03:04:05`, `created_at: "2026-01-02 03:04:05`}
	}
	for name, edit := range broken {
		kind, _, _ := strings.Cut(name, ":")
		data := withKeys(t, true, kind)
		if !bytes.Contains(data, []byte(edit[0])) {
			t.Fatalf("%s: %q is not in the fixture", name, edit[0])
		}
		data = bytes.Replace(data, []byte(edit[0]), []byte(edit[1]), 1)
		var fe *FileError
		if _, err := Inspect(data, FormatYAML); !errors.As(err, &fe) || fe.Problem != "has a sops metadata block that sops cannot read" {
			t.Errorf("%s: got %v, want the unreadable sops block", name, err)
		}
	}
}

// TestOtherKeyKindsInGroups: key_groups are read the same way: one group
// with an age key decrypts, two groups are refused as Shamir.
func TestOtherKeyKindsInGroups(t *testing.T) {
	t.Parallel()
	// A group is a list item holding the keys, 6 columns deeper.
	group := func(keys string) string {
		return "        - " + strings.TrimPrefix(regexp.MustCompile(`(?m)^(.)`).ReplaceAllString(keys, "      $1"), "          ")
	}
	age := ageBlockRE.FindString(string(td(t, "canary/canary.enc.yaml")))
	base := ageBlockRE.ReplaceAllString(string(td(t, "canary/canary.enc.yaml")), "")
	one := strings.Replace(base, "\nsops:\n", "\nsops:\n    key_groups:\n"+group(otherKeys["kms"]+age+otherKeys["pgp"]), 1)
	if info, err := Inspect([]byte(one), FormatYAML); err != nil || len(info.Recipients) != 1 {
		t.Errorf("one group: %+v, %v; want the age recipient", info, err)
	}
	two := strings.Replace(base, "\nsops:\n", "\nsops:\n    key_groups:\n"+group(otherKeys["kms"])+group(age), 1)
	var ue *UnsupportedError
	if _, err := Inspect([]byte(two), FormatYAML); !errors.As(err, &ue) || !strings.Contains(ue.Problem, "uses 2 sops key groups") {
		t.Errorf("two groups: got %v, want the Shamir refusal", err)
	}
}

// TestOtherKeyKindsOtherStores: the JSON and dotenv stores read the other
// kinds too (dotenv flattens them).
func TestOtherKeyKindsOtherStores(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "lint", "testdata", "files", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	json := strings.Replace(read("good.enc.json"), `"sops": {`, `"sops": {
		"kms": [{"arn": "arn:aws:kms:eu-west-1:111122223333:key/k", "created_at": "2026-01-02T03:04:05Z", "enc": "AQICAHhQ"}],
		"pgp": [{"fp": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", "created_at": "2026-01-02T03:04:05Z", "enc": "x"}],`, 1)
	env := read("good.enc.env") + "sops_hckms__list_0__map_key_id=cn-north-4:0d0466b0\nsops_hckms__list_0__map_created_at=2026-01-02T03:04:05Z\nsops_hckms__list_0__map_enc=AgDoAH\n"
	for _, tc := range []struct {
		data   string
		format Format
		want   string
	}{{json, FormatJSON, "kms, pgp"}, {env, FormatDotenv, "hckms"}} {
		if info, err := Inspect([]byte(tc.data), tc.format); err != nil || len(info.Recipients) != 1 {
			t.Errorf("format %d: %+v, %v; want the age recipient", tc.format, info, err)
		}
		noAge := regexp.MustCompile(`(?s)"age": \[.*?\],|sops_age__[^\n]*\n`).ReplaceAllString(tc.data, "")
		var ue *UnsupportedError
		if _, err := Inspect([]byte(noAge), tc.format); !errors.As(err, &ue) || !strings.Contains(ue.Problem, "encrypted to "+tc.want+" only") {
			t.Errorf("format %d without age: got %v, want an UnsupportedError naming %s", tc.format, err, tc.want)
		}
	}
}
