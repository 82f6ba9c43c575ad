// Package config holds the store configuration types of sops' config
// package, copied verbatim from its config/config.go: the stores take them
// as arguments. Upstream's package reads .sops.yaml, which the action never
// does, and imports every key service (with the cloud SDKs) to do it.
// upstream_test.go holds each declaration equal to upstream's.
package config

type DotenvStoreConfig struct{}

type JSONStoreConfig struct {
	Indent int `yaml:"indent"`
}

type JSONBinaryStoreConfig struct {
	Indent int `yaml:"indent"`
}

type YAMLStoreConfig struct {
	Indent int `yaml:"indent"`
}
