package stores

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getsops/sops/v3/age"
	"github.com/productgalaxy/sops-deploy-action/internal/forktest"
	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
)

// foreignMetadata lists a key of every foreign kind, and an age key, in
// the sops block's storage form. Times are as upstream writes them back.
func foreignMetadata() metadata {
	created := "2026-01-02T03:04:05Z"
	env := "staging"
	return metadata{
		LastModified:      created,
		KMSKeys:           []kmskey{{Arn: "arn:aws:kms:eu-west-1:1:key/k", Role: "arn:aws:iam::1:role/r", Context: map[string]*string{"env": &env}, CreatedAt: created, EncryptedDataKey: "kms-enc", AwsProfile: "p"}},
		GCPKMSKeys:        []gcpkmskey{{ResourceID: "projects/p/locations/l/keyRings/r/cryptoKeys/k", CreatedAt: created, EncryptedDataKey: "gcp-enc"}},
		HCKmsKeys:         []hckmskey{{KeyID: "cn-north-4:0d0466b0", CreatedAt: created, EncryptedDataKey: "hckms-enc"}},
		AzureKeyVaultKeys: []azkvkey{{VaultURL: "https://v.vault.azure.net", Name: "n", Version: "1", CreatedAt: created, EncryptedDataKey: "azkv-enc"}},
		VaultKeys:         []vaultkey{{VaultAddress: "http://127.0.0.1:8200", EnginePath: "sops", KeyName: "k", CreatedAt: "2026-01-02T03:04:05+02:00", EncryptedDataKey: "vault-enc"}},
		PGPKeys:           []pgpkey{{Fingerprint: "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", CreatedAt: created, EncryptedDataKey: "pgp-enc"}},
		AgeKeys:           []agekey{{Recipient: "age1ks0dfm7et5cje8unmwu2ksememrtp5wslnr5vd7w0krkwdy8pf6q3dqwrt", EncryptedDataKey: "age-enc"}},
		Version:           "3.13.3",
	}
}

// foreignKinds are the kinds in the order upstream loads them into a key
// group, with the upstream package of each and its key's ToString.
var foreignKinds = []struct{ kind, pkg, name string }{
	{"kms", "kms", "arn:aws:kms:eu-west-1:1:key/k"},
	{"gcp_kms", "gcpkms", "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
	{"hckms", "hckms", "cn-north-4:0d0466b0"},
	{"azure_kv", "azkv", "https://v.vault.azure.net/keys/n/1"},
	{"hc_vault", "hcvault", "http://127.0.0.1:8200/v1/sops/keys/k"},
	{"pgp", "pgp", "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"},
}

// TestForeignKeysLoad: the foreign kinds load as ForeignKeys in upstream's
// order, named as upstream names them, and the metadata writes back as
// it was read.
func TestForeignKeysLoad(t *testing.T) {
	m := foreignMetadata()
	md, err := m.ToInternal()
	if err != nil {
		t.Fatal(err)
	}
	if len(md.KeyGroups) != 1 || len(md.KeyGroups[0]) != len(foreignKinds)+1 {
		t.Fatalf("key groups %v", md.KeyGroups)
	}
	for i, want := range foreignKinds {
		k, ok := md.KeyGroups[0][i].(*ForeignKey)
		if !ok || k.TypeToIdentifier() != want.kind || k.ToString() != want.name {
			t.Errorf("key %d is %#v, want a %s key %s", i, md.KeyGroups[0][i], want.kind, want.name)
		}
	}
	if _, ok := md.KeyGroups[0][len(foreignKinds)].(*age.MasterKey); !ok {
		t.Errorf("the last key is %T, want the age key", md.KeyGroups[0][len(foreignKinds)])
	}
	if back := metadataFromInternal(md); !reflect.DeepEqual(back, m) {
		t.Errorf("written back:\n%#v\nwant\n%#v", back, m)
	}
	md.KeyGroups = []sops.KeyGroup{md.KeyGroups[0], md.KeyGroups[0]}
	if back := metadataFromInternal(md); len(back.KeyGroups) != 2 || !reflect.DeepEqual(back.KeyGroups[1].KMSKeys, m.KMSKeys) {
		t.Errorf("key groups written back as %#v", back.KeyGroups)
	}
}

// TestForeignKeysChecked: a key upstream cannot load fails to load, with
// upstream's error.
func TestForeignKeysChecked(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*metadata)
		want string
	}{
		"kms created_at":     {func(m *metadata) { m.KMSKeys[0].CreatedAt = "yesterday" }, `parsing time "yesterday"`},
		"pgp created_at":     {func(m *metadata) { m.PGPKeys[0].CreatedAt = "" }, `parsing time ""`},
		"hckms no separator": {func(m *metadata) { m.HCKmsKeys[0].KeyID = "0d0466b0" }, `invalid key ID format: expected 'region:key-uuid', got "0d0466b0"`},
		"hckms no region":    {func(m *metadata) { m.HCKmsKeys[0].KeyID = " :0d0466b0" }, "region cannot be empty"},
		"hckms bad date too": {func(m *metadata) { m.HCKmsKeys[0].KeyID, m.HCKmsKeys[0].CreatedAt = "x", "y" }, `parsing time "y"`},
	} {
		m := foreignMetadata()
		tc.edit(&m)
		if _, err := m.ToInternal(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
	m := foreignMetadata()
	m.VaultKeys[0].CreatedAt = "2026-01-02T03:04:05.25+02:00"
	md, err := m.ToInternal()
	if err != nil {
		t.Fatal(err)
	}
	if got := metadataFromInternal(md).VaultKeys[0].CreatedAt; got != "2026-01-02T03:04:05+02:00" {
		t.Errorf("created_at written back as %q, want it as upstream formats the parsed time", got)
	}
}

// TestForeignKeyRefuses: a ForeignKey neither encrypts nor decrypts, and
// otherwise behaves as upstream's key types.
func TestForeignKeyRefuses(t *testing.T) {
	m := foreignMetadata()
	md, err := m.ToInternal()
	if err != nil {
		t.Fatal(err)
	}
	k := md.KeyGroups[0][0].(*ForeignKey)
	if _, err := k.Decrypt(); err == nil || !strings.Contains(err.Error(), "kms master key arn:aws:kms:eu-west-1:1:key/k") {
		t.Errorf("Decrypt: %v", err)
	}
	if err := k.Encrypt([]byte("data key")); err == nil {
		t.Error("Encrypt succeeded")
	}
	if err := k.EncryptIfNeeded([]byte("data key")); err != nil || string(k.EncryptedDataKey()) != "kms-enc" {
		t.Errorf("EncryptIfNeeded with a key: %v, %q", err, k.EncryptedDataKey())
	}
	k.SetEncryptedDataKey(nil)
	if err := k.EncryptIfNeeded([]byte("data key")); err == nil {
		t.Error("EncryptIfNeeded without a key succeeded")
	}
	k.SetEncryptedDataKey([]byte("new-enc"))
	if got := metadataFromInternal(md).KMSKeys[0].EncryptedDataKey; got != "new-enc" {
		t.Errorf("enc written back as %q", got)
	}
	if got := k.ToMap(); got["arn"] != "arn:aws:kms:eu-west-1:1:key/k" || got["enc"] != "new-enc" {
		t.Errorf("ToMap: %v", got)
	}
	for days, want := range map[int]bool{179: false, 181: true} {
		m := foreignMetadata()
		m.PGPKeys[0].CreatedAt = time.Now().AddDate(0, 0, -days).Format(time.RFC3339)
		md, err := m.ToInternal()
		if err != nil {
			t.Fatal(err)
		}
		if got := md.KeyGroups[0][5].NeedsRotation(); got != want {
			t.Errorf("a key of %d days: NeedsRotation %v, want %v (upstream's 6 months of 30 days)", days, got, want)
		}
	}
}

// TestForeignKindsAreUpstreams holds each kind to upstream's
// KeyTypeIdentifier of its package: ageMasterKeys in internal/secrets
// prints it.
func TestForeignKindsAreUpstreams(t *testing.T) {
	dir := forktest.ModuleDir(t, "github.com/getsops/sops/v3", "kms/keysource.go")
	re := regexp.MustCompile(`(?m)^\s*KeyTypeIdentifier = "([^"]*)"$`)
	for _, k := range foreignKinds {
		src, err := os.ReadFile(filepath.Join(dir, k.pkg, "keysource.go"))
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindSubmatch(src); m == nil || string(m[1]) != k.kind {
			t.Errorf("%s.KeyTypeIdentifier is %q, the fork says %q", k.pkg, m, k.kind)
		}
	}
}
