// Package secretsenv is the logic of the secrets-env entrypoint: it reads
// the secrets YAML file that sops-deploy-action installs (mounted into a
// container as a Compose secret), selects values by key path, merges them
// into the environment, drops privileges and finds the command to exec.
//
// It imports nothing of the action: the entrypoint ships alone in a scratch
// image, so it must not pull in sops, SSH or age.
//
// Values are held in [Secret], which prints a redaction under every fmt
// verb. No error of this package quotes a value or any text of the file:
// errors name the file, the key path, the variable and a line number.
package secretsenv
