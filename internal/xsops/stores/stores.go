/*
Package stores acts as a layer between the internal representation of encrypted files and the encrypted files
themselves.

Subpackages implement serialization and deserialization to multiple formats.

This package defines the structure SOPS files should have and conversions to and from the internal representation. Part
of the purpose of this package is to make it easy to change the SOPS file format while remaining backwards-compatible.
*/
package stores

// xsops: begin patch
// Not imported: azkv, gcpkms, hckms, hcvault, kms and pgp, whose key types
// link the cloud SDKs (and OpenPGP). Their keys load as *ForeignKey
// (foreign.go): see the patched conversions below, and README.md.
import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/getsops/sops/v3/age"
	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
)

// xsops: end patch

const (
	// SopsMetadataKey is the key used to store SOPS metadata at in SOPS encrypted files.
	SopsMetadataKey = "sops"
)

// Metadata is stored in SOPS encrypted files, and it contains the information necessary to decrypt the file.
// This struct is just used for serialization, and SOPS uses another struct internally, sops.Metadata. It exists
// in order to allow the binary format to stay backwards compatible over time, but at the same time allow the internal
// representation SOPS uses to change over time.
type metadata struct {
	ShamirThreshold           int         `mapstructure:"shamir_threshold,omitempty"`
	KeyGroups                 []keygroup  `mapstructure:"key_groups,omitempty,deep"`
	KMSKeys                   []kmskey    `mapstructure:"kms,omitempty,deep"`
	GCPKMSKeys                []gcpkmskey `mapstructure:"gcp_kms,omitempty,deep"`
	HCKmsKeys                 []hckmskey  `mapstructure:"hckms,omitempty,deep"`
	AzureKeyVaultKeys         []azkvkey   `mapstructure:"azure_kv,omitempty,deep"`
	VaultKeys                 []vaultkey  `mapstructure:"hc_vault,omitempty,deep"`
	AgeKeys                   []agekey    `mapstructure:"age,omitempty,deep"`
	LastModified              string      `mapstructure:"lastmodified"`
	MessageAuthenticationCode string      `mapstructure:"mac"`
	PGPKeys                   []pgpkey    `mapstructure:"pgp,omitempty,deep"`
	UnencryptedSuffix         string      `mapstructure:"unencrypted_suffix,omitempty"`
	EncryptedSuffix           string      `mapstructure:"encrypted_suffix,omitempty"`
	UnencryptedRegex          string      `mapstructure:"unencrypted_regex,omitempty"`
	EncryptedRegex            string      `mapstructure:"encrypted_regex,omitempty"`
	UnencryptedCommentRegex   string      `mapstructure:"unencrypted_comment_regex,omitempty"`
	EncryptedCommentRegex     string      `mapstructure:"encrypted_comment_regex,omitempty"`
	MACOnlyEncrypted          bool        `mapstructure:"mac_only_encrypted,omitempty"`
	Version                   string      `mapstructure:"version"`
}

type keygroup struct {
	PGPKeys           []pgpkey    `mapstructure:"pgp,omitempty,deep"`
	KMSKeys           []kmskey    `mapstructure:"kms,omitempty,deep"`
	GCPKMSKeys        []gcpkmskey `mapstructure:"gcp_kms,omitempty,deep"`
	HCKmsKeys         []hckmskey  `mapstructure:"hckms,omitempty,deep"`
	AzureKeyVaultKeys []azkvkey   `mapstructure:"azure_kv,omitempty,deep"`
	VaultKeys         []vaultkey  `mapstructure:"hc_vault,deep"`
	AgeKeys           []agekey    `mapstructure:"age,deep"`
}

type pgpkey struct {
	CreatedAt        string `mapstructure:"created_at"`
	EncryptedDataKey string `mapstructure:"enc"`
	Fingerprint      string `mapstructure:"fp"`
}

type kmskey struct {
	Arn              string             `mapstructure:"arn"`
	Role             string             `mapstructure:"role,omitempty"`
	Context          map[string]*string `mapstructure:"context,omitempty"`
	CreatedAt        string             `mapstructure:"created_at"`
	EncryptedDataKey string             `mapstructure:"enc"`
	AwsProfile       string             `mapstructure:"aws_profile"`
}

type gcpkmskey struct {
	ResourceID       string `mapstructure:"resource_id"`
	CreatedAt        string `mapstructure:"created_at"`
	EncryptedDataKey string `mapstructure:"enc"`
}

type vaultkey struct {
	VaultAddress     string `mapstructure:"vault_address"`
	EnginePath       string `mapstructure:"engine_path"`
	KeyName          string `mapstructure:"key_name"`
	CreatedAt        string `mapstructure:"created_at"`
	EncryptedDataKey string `mapstructure:"enc"`
}

type azkvkey struct {
	VaultURL         string `mapstructure:"vault_url"`
	Name             string `mapstructure:"name"`
	Version          string `mapstructure:"version"`
	CreatedAt        string `mapstructure:"created_at"`
	EncryptedDataKey string `mapstructure:"enc"`
}

type agekey struct {
	Recipient        string `mapstructure:"recipient"`
	EncryptedDataKey string `mapstructure:"enc"`
}

type hckmskey struct {
	KeyID            string `mapstructure:"key_id"`
	CreatedAt        string `mapstructure:"created_at"`
	EncryptedDataKey string `mapstructure:"enc"`
}

// metadataFromInternal converts an internal SOPS metadata representation to a
// representation appropriate for storage.
func metadataFromInternal(sopsMetadata sops.Metadata) metadata {
	var m metadata
	m.LastModified = sopsMetadata.LastModified.Format(time.RFC3339)
	m.UnencryptedSuffix = sopsMetadata.UnencryptedSuffix
	m.EncryptedSuffix = sopsMetadata.EncryptedSuffix
	m.UnencryptedRegex = sopsMetadata.UnencryptedRegex
	m.EncryptedRegex = sopsMetadata.EncryptedRegex
	m.UnencryptedCommentRegex = sopsMetadata.UnencryptedCommentRegex
	m.EncryptedCommentRegex = sopsMetadata.EncryptedCommentRegex
	m.MessageAuthenticationCode = sopsMetadata.MessageAuthenticationCode
	m.MACOnlyEncrypted = sopsMetadata.MACOnlyEncrypted
	m.Version = sopsMetadata.Version
	m.ShamirThreshold = sopsMetadata.ShamirThreshold
	if len(sopsMetadata.KeyGroups) == 1 {
		group := sopsMetadata.KeyGroups[0]
		m.PGPKeys = pgpKeysFromGroup(group)
		m.KMSKeys = kmsKeysFromGroup(group)
		m.GCPKMSKeys = gcpkmsKeysFromGroup(group)
		m.HCKmsKeys = hckmsKeysFromGroup(group)
		m.VaultKeys = vaultKeysFromGroup(group)
		m.AzureKeyVaultKeys = azkvKeysFromGroup(group)
		m.AgeKeys = ageKeysFromGroup(group)
	} else {
		for _, group := range sopsMetadata.KeyGroups {
			m.KeyGroups = append(m.KeyGroups, keygroup{
				KMSKeys:           kmsKeysFromGroup(group),
				PGPKeys:           pgpKeysFromGroup(group),
				GCPKMSKeys:        gcpkmsKeysFromGroup(group),
				HCKmsKeys:         hckmsKeysFromGroup(group),
				VaultKeys:         vaultKeysFromGroup(group),
				AzureKeyVaultKeys: azkvKeysFromGroup(group),
				AgeKeys:           ageKeysFromGroup(group),
			})
		}
	}
	return m
}

// xsops: begin patch
// The other kinds' keys are *ForeignKey, which hold the key as it was
// loaded, with created_at as upstream writes it back.

func pgpKeysFromGroup(group sops.KeyGroup) []pgpkey {
	return foreignKeysFromGroup[pgpkey](group)
}

func kmsKeysFromGroup(group sops.KeyGroup) []kmskey {
	return foreignKeysFromGroup[kmskey](group)
}

func gcpkmsKeysFromGroup(group sops.KeyGroup) []gcpkmskey {
	return foreignKeysFromGroup[gcpkmskey](group)
}

func vaultKeysFromGroup(group sops.KeyGroup) []vaultkey {
	return foreignKeysFromGroup[vaultkey](group)
}

func azkvKeysFromGroup(group sops.KeyGroup) []azkvkey {
	return foreignKeysFromGroup[azkvkey](group)
}

// xsops: end patch

func ageKeysFromGroup(group sops.KeyGroup) (keys []agekey) {
	for _, key := range group {
		switch key := key.(type) {
		case *age.MasterKey:
			keys = append(keys, agekey{
				Recipient:        key.Recipient,
				EncryptedDataKey: key.EncryptedKey,
			})
		}
	}
	return
}

// xsops: begin patch
func hckmsKeysFromGroup(group sops.KeyGroup) []hckmskey {
	return foreignKeysFromGroup[hckmskey](group)
}

// xsops: end patch

// ToInternal converts a storage-appropriate Metadata struct to a SOPS internal representation
func (m *metadata) ToInternal() (sops.Metadata, error) {
	lastModified, err := time.Parse(time.RFC3339, m.LastModified)
	if err != nil {
		return sops.Metadata{}, err
	}
	groups, err := m.internalKeygroups()
	if err != nil {
		return sops.Metadata{}, err
	}

	cryptRuleCount := 0
	if m.UnencryptedSuffix != "" {
		cryptRuleCount++
	}
	if m.EncryptedSuffix != "" {
		cryptRuleCount++
	}
	if m.UnencryptedRegex != "" {
		cryptRuleCount++
	}
	if m.EncryptedRegex != "" {
		cryptRuleCount++
	}
	if m.UnencryptedCommentRegex != "" {
		cryptRuleCount++
	}
	if m.EncryptedCommentRegex != "" {
		cryptRuleCount++
	}

	if cryptRuleCount > 1 {
		return sops.Metadata{}, fmt.Errorf("Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file")
	}

	if cryptRuleCount == 0 {
		m.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	return sops.Metadata{
		KeyGroups:                 groups,
		ShamirThreshold:           m.ShamirThreshold,
		Version:                   m.Version,
		MessageAuthenticationCode: m.MessageAuthenticationCode,
		UnencryptedSuffix:         m.UnencryptedSuffix,
		EncryptedSuffix:           m.EncryptedSuffix,
		UnencryptedRegex:          m.UnencryptedRegex,
		EncryptedRegex:            m.EncryptedRegex,
		UnencryptedCommentRegex:   m.UnencryptedCommentRegex,
		EncryptedCommentRegex:     m.EncryptedCommentRegex,
		MACOnlyEncrypted:          m.MACOnlyEncrypted,
		LastModified:              lastModified,
	}, nil
}

func internalGroupFrom(kmsKeys []kmskey, pgpKeys []pgpkey, gcpKmsKeys []gcpkmskey, hckmsKeys []hckmskey, azkvKeys []azkvkey, vaultKeys []vaultkey, ageKeys []agekey) (sops.KeyGroup, error) {
	var internalGroup sops.KeyGroup
	for _, kmsKey := range kmsKeys {
		k, err := kmsKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, gcpKmsKey := range gcpKmsKeys {
		k, err := gcpKmsKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, hckmsKey := range hckmsKeys {
		k, err := hckmsKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, azkvKey := range azkvKeys {
		k, err := azkvKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, vaultKey := range vaultKeys {
		k, err := vaultKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, pgpKey := range pgpKeys {
		k, err := pgpKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	for _, ageKey := range ageKeys {
		k, err := ageKey.toInternal()
		if err != nil {
			return nil, err
		}
		internalGroup = append(internalGroup, k)
	}
	return internalGroup, nil
}

func (m *metadata) internalKeygroups() ([]sops.KeyGroup, error) {
	var internalGroups []sops.KeyGroup
	if len(m.PGPKeys) > 0 || len(m.KMSKeys) > 0 || len(m.GCPKMSKeys) > 0 || len(m.HCKmsKeys) > 0 || len(m.AzureKeyVaultKeys) > 0 || len(m.VaultKeys) > 0 || len(m.AgeKeys) > 0 {
		internalGroup, err := internalGroupFrom(m.KMSKeys, m.PGPKeys, m.GCPKMSKeys, m.HCKmsKeys, m.AzureKeyVaultKeys, m.VaultKeys, m.AgeKeys)
		if err != nil {
			return nil, err
		}
		internalGroups = append(internalGroups, internalGroup)
		return internalGroups, nil
	} else if len(m.KeyGroups) > 0 {
		for _, group := range m.KeyGroups {
			internalGroup, err := internalGroupFrom(group.KMSKeys, group.PGPKeys, group.GCPKMSKeys, group.HCKmsKeys, group.AzureKeyVaultKeys, group.VaultKeys, group.AgeKeys)
			if err != nil {
				return nil, err
			}
			internalGroups = append(internalGroups, internalGroup)
		}
		return internalGroups, nil
	} else {
		return nil, fmt.Errorf("No keys found in file")
	}
}

// xsops: begin patch
// The other kinds load as *ForeignKey after upstream's checks: created_at
// is RFC 3339 (newForeignKey), an hckms key_id is region:uuid (below).

func (kmsKey *kmskey) toInternal() (*ForeignKey, error) {
	k := *kmsKey
	return newForeignKey(&k)
}

func (gcpKmsKey *gcpkmskey) toInternal() (*ForeignKey, error) {
	k := *gcpKmsKey
	return newForeignKey(&k)
}

func (azkvKey *azkvkey) toInternal() (*ForeignKey, error) {
	k := *azkvKey
	return newForeignKey(&k)
}

func (vaultKey *vaultkey) toInternal() (*ForeignKey, error) {
	k := *vaultKey
	return newForeignKey(&k)
}

func (pgpKey *pgpkey) toInternal() (*ForeignKey, error) {
	k := *pgpKey
	return newForeignKey(&k)
}

// xsops: end patch

func (ageKey *agekey) toInternal() (*age.MasterKey, error) {
	return &age.MasterKey{
		EncryptedKey: ageKey.EncryptedDataKey,
		Recipient:    ageKey.Recipient,
	}, nil
}

// xsops: begin patch
// Upstream checks created_at, then the key ID (hckms.NewMasterKey).
func (hckmsKey *hckmskey) toInternal() (*ForeignKey, error) {
	k := *hckmsKey
	key, err := newForeignKey(&k)
	if err != nil {
		return nil, err
	}
	if _, _, err := parseKeyID(k.KeyID); err != nil {
		return nil, err
	}
	return key, nil
}

// xsops: end patch

// ExampleComplexTree is an example sops.Tree object exhibiting complex relationships
var ExampleComplexTree = sops.Tree{
	Branches: sops.TreeBranches{
		sops.TreeBranch{
			sops.TreeItem{
				Key:   "hello",
				Value: `Welcome to SOPS! Edit this file as you please!`,
			},
			sops.TreeItem{
				Key:   "example_key",
				Value: "example_value",
			},
			sops.TreeItem{
				Key:   sops.Comment{Value: " Example comment"},
				Value: nil,
			},
			sops.TreeItem{
				Key: "example_array",
				Value: []interface{}{
					"example_value1",
					"example_value2",
				},
			},
			sops.TreeItem{
				Key:   "example_number",
				Value: 1234.56789,
			},
			sops.TreeItem{
				Key:   "example_booleans",
				Value: []interface{}{true, false},
			},
		},
	},
}

// ExampleSimpleTree is an example sops.Tree object exhibiting only simple relationships
// with only one nested branch and only simple string values
var ExampleSimpleTree = sops.Tree{
	Branches: sops.TreeBranches{
		sops.TreeBranch{
			sops.TreeItem{
				Key: "Welcome!",
				Value: sops.TreeBranch{
					sops.TreeItem{
						Key:   sops.Comment{Value: " This is an example file."},
						Value: nil,
					},
					sops.TreeItem{
						Key:   "hello",
						Value: "Welcome to SOPS! Edit this file as you please!",
					},
					sops.TreeItem{
						Key:   "example_key",
						Value: "example_value",
					},
				},
			},
		},
	},
}

// ExampleFlatTree is an example sops.Tree object exhibiting only simple relationships
// with no nested branches and only simple string values
var ExampleFlatTree = sops.Tree{
	Branches: sops.TreeBranches{
		sops.TreeBranch{
			sops.TreeItem{
				Key:   sops.Comment{Value: " This is an example file."},
				Value: nil,
			},
			sops.TreeItem{
				Key:   "hello",
				Value: "Welcome to SOPS! Edit this file as you please!",
			},
			sops.TreeItem{
				Key:   "example_key",
				Value: "example_value",
			},
			sops.TreeItem{
				Key:   "example_multiline",
				Value: "foo\nbar\nbaz",
			},
		},
	},
}

// HasSopsTopLevelKey returns true if the given branch has a top-level key called "sops".
func HasSopsTopLevelKey(branch sops.TreeBranch) bool {
	for _, b := range branch {
		if b.Key == SopsMetadataKey {
			return true
		}
	}
	return false
}

// IsComplexValue returns true if the given value is an array or dictionary/hash.
func IsComplexValue(v interface{}) bool {
	switch v.(type) {
	case []interface{}:
		return true
	case sops.TreeBranch:
		return true
	}
	return false
}

// ValToString converts a simple value to a string.
// It does not handle complex values (arrays and mappings).
func ValToString(v interface{}) string {
	switch v := v.(type) {
	case float64:
		result := strconv.FormatFloat(v, 'G', -1, 64)
		// If the result can be confused with an integer, make sure we have at least one decimal digit
		if !strings.ContainsRune(result, '.') && !strings.ContainsRune(result, 'E') {
			result = strconv.FormatFloat(v, 'f', 1, 64)
		}
		return result
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}
