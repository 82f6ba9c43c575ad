#!/usr/bin/env bash
# TEST-ONLY: regenerates internal/lint/testdata with the real sops CLI and
# the public test keys in testdata/keys. Every value is fake; the CNRY…
# tokens are canaries the tests search all output for. Run from the repo
# root:  bash internal/lint/testdata/gen.sh
#
# Each file is encrypted by sops in a scratch repository, at
# secrets/staging/galaxy.enc.<ext>, with the .sops.yaml of its case, so the
# creation rules that shaped it are sops' own. The tests put the files back
# under such paths in memory or in temporary directories: nothing under a
# secrets/ directory is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
OUT=internal/lint/testdata
KEYS=testdata/keys

if command -v go >/dev/null 2>&1; then PATH="$PATH:$(go env GOPATH)/bin"; fi
SOPS="${SOPS:-sops}"
command -v "$SOPS" >/dev/null || { echo "gen.sh: sops not found" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
die() { echo "gen.sh: FAIL: $*" >&2; exit 1; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
cnry() { printf 'CNRYLINT%s' "$(hex 8)"; }

A=$(age-keygen -y "$KEYS/a.agekey"); B=$(age-keygen -y "$KEYS/b.agekey"); C=$(age-keygen -y "$KEYS/c.agekey")
HDR="# TEST-ONLY fixture (internal/lint/testdata/gen.sh): fake values, public test keys."

# ------------------------------------------------------------ configs
mkdir -p "$OUT/configs" "$OUT/files"
rule() { # <age recipients> <extra line or "">
	printf '  - path_regex: ^secrets/staging/.*\\.enc\\.(yaml|json|env)$\n'
	[[ -n "$2" ]] && printf '    %s\n' "$2"
	printf '    age: %s\n' "$1"
	printf '  - path_regex: ^secrets/prod/.*\\.enc\\.yaml$\n'
	printf '    unencrypted_regex: ^sops_\n'
	printf '    age: %s\n' "$C"
}
cfg() { { echo "$HDR"; echo "creation_rules:"; rule "$2" "$3"; } >"$OUT/configs/$1.sops.yaml"; }
cfg good   "$A"      'unencrypted_regex: ^sops_'
cfg seed   "$A"      'encrypted_regex: ^(?!sops_).*'
cfg addnew "$A,$B"   'unencrypted_regex: ^sops_'
cfg dropold "$B"     'unencrypted_regex: ^sops_'
printf '%s\ncreation_rules:\n  - path_regex: ^secrets/staging/\n    age: [%s\n' "$HDR" "$A" >"$OUT/configs/broken.sops.yaml"

# ------------------------------------------------------------ files
# enc <config> <ext> <plain file> <out name>
enc() {
	local repo="$WORK/repo-$4"
	mkdir -p "$repo/secrets/staging"
	cp "$OUT/configs/$1.sops.yaml" "$repo/.sops.yaml"
	cp "$3" "$repo/secrets/staging/galaxy.enc.$2"
	(cd "$repo" && env -u SOPS_AGE_KEY -u SOPS_AGE_KEY_FILE -u SOPS_AGE_KEY_CMD HOME="$WORK" \
		"$SOPS" encrypt --in-place "secrets/staging/galaxy.enc.$2")
	cp "$repo/secrets/staging/galaxy.enc.$2" "$OUT/files/$4"
}
plain="$WORK/plain.yaml"
cat >"$plain" <<PL
$HDR
database_url: postgres://galaxy_app:$(cnry)@postgres:5432/galaxy
better_auth_secret: $(cnry)
docs_api_token: $(cnry)
sops_note: public
PL
enc good yaml "$plain" good.enc.yaml
enc addnew yaml "$plain" multi.enc.yaml
enc seed yaml "$plain" seedbug.enc.yaml
printf 'DATABASE_URL=%s\nDOCS_API_TOKEN=%s\n' "$(cnry)" "$(cnry)" >"$WORK/plain.env"
enc good env "$WORK/plain.env" good.enc.env
printf '{"database_url": "%s", "nested": {"token": "%s"}}\n' "$(cnry)" "$(cnry)" >"$WORK/plain.json"
enc good json "$WORK/plain.json" good.enc.json

# One value pasted in plaintext among encrypted ones (a hand edit after sops).
sed "s/^docs_api_token: ENC\[.*\]\$/docs_api_token: $(cnry)/" "$OUT/files/good.enc.yaml" >"$OUT/files/oneplain.enc.yaml"
# An old file: lastmodified set back by hand (sops has no option for it), so
# its MAC no longer verifies; lint does not decrypt, verify would refuse it.
sed 's/^    lastmodified: .*/    lastmodified: "2025-01-02T03:04:05Z"/' "$OUT/files/good.enc.yaml" >"$OUT/files/old.enc.yaml"

# ------------------------------------------------------------ checks
grep -q '^docs_api_token: CNRYLINT' "$OUT/files/oneplain.enc.yaml" || die "oneplain: no plaintext value"
grep -q '^    lastmodified: "2025-01-02T03:04:05Z"' "$OUT/files/old.enc.yaml" || die "old: lastmodified not set"
grep -q '^database_url: postgres://galaxy_app:CNRYLINT' "$OUT/files/seedbug.enc.yaml" || die "seedbug: expected plaintext"
grep -q '^    mac: ENC\[' "$OUT/files/seedbug.enc.yaml" || die "seedbug: no MAC"
! grep -q CNRYLINT "$OUT/files/good.enc.yaml" "$OUT/files/multi.enc.yaml" "$OUT/files/good.enc.env" "$OUT/files/good.enc.json" || die "canary visible in an encrypted file"
grep -q '^sops_note: public$' "$OUT/files/good.enc.yaml" || die "good: sops_note should be left plain by unencrypted_regex"
[[ $(grep -c 'recipient:' "$OUT/files/multi.enc.yaml") -eq 2 ]] || die "multi: want 2 recipients"
SOPS_AGE_KEY_FILE="$KEYS/a.agekey" "$SOPS" decrypt "$OUT/files/good.enc.yaml" >/dev/null || die "good: does not decrypt"
echo "gen.sh: OK"
