package stores

// Not upstream's: the fork's stand-in for the master key types it does not
// link (see ../README.md). parseKeyID is a verbatim copy of upstream's
// hckms/keysource.go (upstream_test.go holds it so).

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
)

// ForeignKey stands in for a master key of a kind the fork does not link:
// AWS KMS, GCP KMS, HuaweiCloud KMS, Azure Key Vault, HashiCorp Vault or
// PGP. Upstream's types for them import the cloud SDKs (and OpenPGP) to
// reach their key services; the action decrypts with age only, but still
// reads files that list such keys beside age ones, and names their kinds
// when a file has no age key. So a ForeignKey keeps the key as the file
// stores it, answers TypeToIdentifier as upstream's type does, and refuses
// to encrypt or decrypt.
type ForeignKey struct {
	kind    string    // upstream's KeyTypeIdentifier
	stored  any       // *kmskey, *gcpkmskey, …: emitted back as loaded
	enc     *string   // stored's EncryptedDataKey
	created time.Time // stored's CreatedAt, parsed
}

// foreignTTL is upstream's kmsTTL, gcpkmsTTL, hckmsTTL, azkvTTL, vaultTTL
// and pgpTTL: every one is six months of 30 days.
const foreignTTL = time.Hour * 24 * 30 * 6

// newForeignKey checks a stored key as upstream's conversions do (its
// created_at must be RFC 3339) and wraps it. The stored CreatedAt is
// rewritten as upstream's stores write a parsed time back.
func newForeignKey(stored any) (*ForeignKey, error) {
	kind, createdAt, enc := foreignFields(stored)
	created, err := time.Parse(time.RFC3339, *createdAt)
	if err != nil {
		return nil, err
	}
	*createdAt = created.Format(time.RFC3339)
	return &ForeignKey{kind: kind, stored: stored, enc: enc, created: created}, nil
}

// foreignFields returns a stored key's kind (upstream's KeyTypeIdentifier
// of its package) and its created_at and enc fields.
func foreignFields(stored any) (kind string, createdAt, enc *string) {
	switch k := stored.(type) {
	case *kmskey:
		return "kms", &k.CreatedAt, &k.EncryptedDataKey
	case *gcpkmskey:
		return "gcp_kms", &k.CreatedAt, &k.EncryptedDataKey
	case *hckmskey:
		return "hckms", &k.CreatedAt, &k.EncryptedDataKey
	case *azkvkey:
		return "azure_kv", &k.CreatedAt, &k.EncryptedDataKey
	case *vaultkey:
		return "hc_vault", &k.CreatedAt, &k.EncryptedDataKey
	case *pgpkey:
		return "pgp", &k.CreatedAt, &k.EncryptedDataKey
	}
	panic(fmt.Sprintf("stores: %T is not a foreign key", stored))
}

// foreignKeysFromGroup returns the group's foreign keys of storage type T,
// as metadataFromInternal writes them.
func foreignKeysFromGroup[T any](group sops.KeyGroup) (keys []T) {
	for _, key := range group {
		if f, ok := key.(*ForeignKey); ok {
			if k, ok := f.stored.(*T); ok {
				keys = append(keys, *k)
			}
		}
	}
	return
}

func (f *ForeignKey) refuse() error {
	return fmt.Errorf("%s master key %s: this build reads %s keys but does not link their key service; it decrypts with age keys only", f.kind, f.ToString(), f.kind)
}

// Encrypt refuses: the key service is not linked.
func (f *ForeignKey) Encrypt([]byte) error { return f.refuse() }

// EncryptIfNeeded encrypts (refuses) only if there is no encrypted data
// key yet, as upstream's types do.
func (f *ForeignKey) EncryptIfNeeded(dataKey []byte) error {
	if *f.enc == "" {
		return f.Encrypt(dataKey)
	}
	return nil
}

// EncryptedDataKey returns the data key as this key encrypted it.
func (f *ForeignKey) EncryptedDataKey() []byte { return []byte(*f.enc) }

// SetEncryptedDataKey sets the encrypted data key, as it is emitted.
func (f *ForeignKey) SetEncryptedDataKey(enc []byte) { *f.enc = string(enc) }

// Decrypt refuses: the key service is not linked.
func (f *ForeignKey) Decrypt() ([]byte, error) { return nil, f.refuse() }

// NeedsRotation is upstream's: the key is older than six months.
func (f *ForeignKey) NeedsRotation() bool { return time.Since(f.created) > foreignTTL }

// ToString names the key as upstream's types do, except that an AWS KMS
// key is its ARN alone (upstream adds its role, context and profile).
func (f *ForeignKey) ToString() string {
	switch k := f.stored.(type) {
	case *kmskey:
		return k.Arn
	case *gcpkmskey:
		return k.ResourceID
	case *hckmskey:
		return k.KeyID
	case *azkvkey:
		return fmt.Sprintf("%s/keys/%s/%s", k.VaultURL, k.Name, k.Version)
	case *vaultkey:
		return fmt.Sprintf("%s/v1/%s/keys/%s", k.VaultAddress, k.EnginePath, k.KeyName)
	case *pgpkey:
		return k.Fingerprint
	}
	return f.kind
}

// ToMap returns the key's fields as the sops block stores them. (Upstream's
// types differ in detail: some leave out empty or profile fields.)
func (f *ForeignKey) ToMap() map[string]interface{} {
	out := map[string]interface{}{}
	if err := mapstructure.Decode(f.stored, &out); err != nil {
		return nil
	}
	return out
}

// TypeToIdentifier is upstream's KeyTypeIdentifier of the key's kind:
// "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault" or "pgp".
func (f *ForeignKey) TypeToIdentifier() string { return f.kind }

// parseKeyID is upstream's hckms key ID check, which its stores apply on
// load (hckms.NewMasterKey).
func parseKeyID(keyID string) (string, string, error) {
	keyID = strings.TrimSpace(keyID)
	parts := strings.SplitN(keyID, ":", 2)
	if len(parts) != 2 {
		return "", "", fmt.Errorf("invalid key ID format: expected 'region:key-uuid', got %q", keyID)
	}
	region := strings.TrimSpace(parts[0])
	keyUUID := strings.TrimSpace(parts[1])
	if region == "" {
		return "", "", fmt.Errorf("region cannot be empty in key ID: %q", keyID)
	}
	if keyUUID == "" {
		return "", "", fmt.Errorf("key UUID cannot be empty in key ID: %q", keyID)
	}
	return region, keyUUID, nil
}
