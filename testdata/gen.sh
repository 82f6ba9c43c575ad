#!/usr/bin/env bash
# TEST-ONLY: regenerates the test fixtures under testdata/ with the real sops CLI.
# Every key and value produced here is fake / public and must never be used for
# real secrets. Run from the repo root:  bash testdata/gen.sh
#
# Idempotent: existing keys in testdata/keys/*.agekey are kept; every other file
# is rewritten (ciphertexts, random canary markers and fake values change on
# each run, which is expected).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TD=testdata

if command -v go >/dev/null 2>&1; then
	PATH="$PATH:$(go env GOPATH)/bin"
fi
SOPS="${SOPS:-sops}"
command -v "$SOPS" >/dev/null 2>&1 || { echo "gen.sh: sops not found (set SOPS=/path/to/sops)" >&2; exit 1; }
command -v age-keygen >/dev/null 2>&1 || { echo "gen.sh: age-keygen not found" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "gen.sh: python3 not found" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home/.config" "$WORK/plain"

HDR="# TEST-ONLY fixture: fake values, encrypted to public test keys in testdata/keys. Not a real secret."

die() { echo "gen.sh: FAIL: $*" >&2; exit 1; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Run sops hermetically: no .sops.yaml lookup (--config /dev/null), no key
# material from the caller's environment, ~/.config/sops/age/keys.txt or
# ~/.ssh/id_{ed25519,rsa} (sops reads those by default).
sops_clean() {
	env -u SOPS_AGE_KEY -u SOPS_AGE_KEY_FILE -u SOPS_AGE_KEY_CMD \
		-u SOPS_AGE_SSH_PRIVATE_KEY_FILE -u SOPS_AGE_SSH_PRIVATE_KEY_CMD \
		-u SOPS_AGE_RECIPIENTS -u SOPS_PGP_FP -u SOPS_KMS_ARN -u SOPS_GCP_KMS_IDS \
		-u SOPS_AZURE_KEYVAULT_URLS -u SOPS_VAULT_URIS -u SOPS_HUAWEICLOUD_KMS_IDS \
		-u SOPS_CONFIG -u SOPS_KEYSERVICE -u SOPS_DECRYPTION_ORDER \
		HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" \
		"$@"
}
sops_with_key() { # <keyfile> <sops args...>
	local key="$1"; shift
	sops_clean SOPS_AGE_KEY_FILE="$key" "$SOPS" --config /dev/null "$@"
}

# ---------------------------------------------------------------- keys
mkdir -p "$TD/keys"
KEYHDR="# TEST-ONLY age key: committed on purpose, PUBLIC, never use it for real secrets."
declare -A RCP
for k in a b c; do
	f="$TD/keys/$k.agekey"
	if [[ ! -s "$f" ]]; then
		age-keygen -o "$WORK/$k.agekey" 2>/dev/null
		{ echo "$KEYHDR"; cat "$WORK/$k.agekey"; } >"$f"
	elif [[ "$(head -n1 "$f")" != *TEST-ONLY* ]]; then
		{ echo "$KEYHDR"; cat "$f"; } >"$WORK/$k.agekey" && cat "$WORK/$k.agekey" >"$f"
	fi
	chmod 600 "$f"
	RCP[$k]="$(age-keygen -y "$f")"
done
{
	echo "# TEST-ONLY: public age recipients of the committed test keys (name recipient). c is used by no fixture."
	for k in a b c; do echo "$k ${RCP[$k]}"; done
} >"$TD/keys/recipients.txt"

# ---------------------------------------------------------------- helpers
FIXTURES=()     # encrypted fixture paths, for verification
declare -A RECIPS_OF

# encrypt <plain-src> <out.enc.yaml> <recipients: a|a,b> [extra sops flags...]
encrypt() {
	local src="$1" out="$2" who="$3"; shift 3
	local r="" k
	for k in ${who//,/ }; do r+="${r:+,}${RCP[$k]}"; done
	mkdir -p "$(dirname "$out")"
	sops_clean "$SOPS" --config /dev/null encrypt --age "$r" \
		--input-type yaml --output-type yaml \
		--filename-override "$(basename "$out")" "$@" "$src" >"$WORK/out.tmp"
	mv "$WORK/out.tmp" "$out"
	# golden plaintext = exactly what `sops decrypt` emits, never edited
	sops_with_key "$TD/keys/${who%%,*}.agekey" decrypt "$out" >"$WORK/golden.tmp"
	mv "$WORK/golden.tmp" "${out%.enc.yaml}.plain.yaml"
	FIXTURES+=("$out")
	RECIPS_OF[$out]="$who"
}

# ---------------------------------------------------------------- 1. demo (runbook keys)
P="$WORK/plain/staging.yaml"
cat >"$P" <<EOF
$HDR
database_url: postgres://galaxy_app:demo-not-a-secret-$(hex 8)@postgres:5432/galaxy
mcp_db_url: postgres://galaxy_mcp:demo-not-a-secret-$(hex 8)@postgres:5432/galaxy
better_auth_secret: demo-not-a-secret-$(hex 32)
oauth_signing_key: demo-not-a-secret-$(hex 32)
docs_api_token: demo-not-a-secret-docs-$(hex 16)
b2_key_id: demo-b2-key-id-$(hex 8)
b2_application_key: demo-not-a-secret-b2-$(hex 16)
pgbackrest_cipher_pass: demo-not-a-secret-$(hex 24)
smoke_principal_jwt: demo-not-a-jwt.$(hex 12).$(hex 24)
EOF
encrypt "$P" "$TD/staging/galaxy.enc.yaml" a

# ---------------------------------------------------------------- 2. canary
m() { printf 'CNRY%s' "$(hex 8)"; }  # unique marker token: CNRY + 16 lowercase hex
P="$WORK/plain/canary.yaml"
cat >"$P" <<EOF
$HDR
plain: $(m)-plain
multiline: |
  $(m)-line1 first line
  $(m)-line2 second line
  $(m)-line3 third line
percent: "$(m)-pct 100% done"
percent_encoded_newline: "$(m)-pct0a before%0Aafter"
workflow_command: "$(m)-cmd a::b ::add-mask::nope"
carriage_return: "$(m)-cr before\rafter"
quotes: "$(m)-quotes it's \"double\" and 'single'"
unicode: "$(m)-uni café ✓ 日本"
db:
  user: $(m)-dbuser
  password: $(m)-dbpass
list:
  - $(m)-list0
  - $(m)-list1
EOF
# m() runs in command substitutions, so collect the markers back from the file
mapfile -t M < <(grep -o 'CNRY[0-9a-f]\{16\}' "$P")
[[ ${#M[@]} -eq 14 ]] || die "canary: expected 14 markers, got ${#M[@]}"
[[ $(printf '%s\n' "${M[@]}" | sort -u | wc -l) -eq 14 ]] || die "canary: markers not unique"
mkdir -p "$TD/canary"
{
	echo "# TEST-ONLY: canary markers in testdata/canary/canary.enc.yaml, one per line (skip # lines)."
	printf '%s\n' "${M[@]}"
} >"$TD/canary/markers.txt.tmp"
mv "$TD/canary/markers.txt.tmp" "$TD/canary/markers.txt"
encrypt "$P" "$TD/canary/canary.enc.yaml" a

# ---------------------------------------------------------------- 3. multi (a + b)
P="$WORK/plain/multi.yaml"
cat >"$P" <<EOF
$HDR
database_url: postgres://galaxy_app:demo-not-a-secret-$(hex 8)@postgres:5432/galaxy
better_auth_secret: demo-not-a-secret-$(hex 32)
docs_api_token: demo-not-a-secret-docs-$(hex 16)
EOF
encrypt "$P" "$TD/multi/galaxy.enc.yaml" a,b

# ---------------------------------------------------------------- 4. seedbug (lookahead regex)
P="$WORK/plain/seedbug.yaml"
cat >"$P" <<EOF
$HDR
database_url: postgres://galaxy_app:demo-not-a-secret-seedbug@postgres:5432/galaxy
better_auth_secret: demo-not-a-secret-seedbug-$(hex 16)
docs_api_token: demo-not-a-secret-seedbug-docs-$(hex 8)
EOF
encrypt "$P" "$TD/seedbug/galaxy.enc.yaml" a --encrypted-regex '^(?!sops_).*'

# ---------------------------------------------------------------- 5. unencrypted suffix
P="$WORK/plain/unencsuffix.yaml"
cat >"$P" <<EOF
$HDR
api_token: demo-not-a-secret-suffix-$(hex 16)
region_unencrypted: eu-central-1
EOF
encrypt "$P" "$TD/unencsuffix/galaxy.enc.yaml" a --unencrypted-suffix _unencrypted

# ---------------------------------------------------------------- 6. unencrypted regex
P="$WORK/plain/unencregex.yaml"
cat >"$P" <<EOF
$HDR
public_url: https://example.test
secret_token: demo-not-a-secret-regex-$(hex 16)
EOF
encrypt "$P" "$TD/unencregex/galaxy.enc.yaml" a --unencrypted-regex '^public_'

# ---------------------------------------------------------------- 7. nested / typed values
P="$WORK/plain/nested.yaml"
cat >"$P" <<EOF
$HDR
app:
  db:
    host: postgres
    user: galaxy_app
    password: demo-not-a-secret-nested-$(hex 8)
  features:
    - alpha
    - beta
    - gamma
port: 5432
enabled: true
empty: ""
motd: |
  demo line one
  demo line two
EOF
encrypt "$P" "$TD/nested/galaxy.enc.yaml" a

# ---------------------------------------------------------------- 8. top-level list
# Not generated: sops 3.13.3 refuses a top-level YAML sequence
# ("cannot unmarshal !!seq into map[string]interface {}"). Checked below.
P="$WORK/plain/toplist.yaml"
printf '%s\n- demo-a\n- demo-b\n' "$HDR" >"$P"
if sops_clean "$SOPS" --config /dev/null encrypt --age "${RCP[a]}" --input-type yaml \
	--output-type yaml --filename-override galaxy.enc.yaml "$P" >/dev/null 2>&1; then
	echo "gen.sh: NOTE: this sops now accepts a top-level list; consider adding a toplist fixture" >&2
fi

# ---------------------------------------------------------------- 9. not sops
mkdir -p "$TD/notsops"
cat >"$TD/notsops/plain.yaml" <<EOF
# TEST-ONLY fixture: plain YAML without a sops block (fake values).
database_url: postgres://galaxy_app:demo-not-a-secret@postgres:5432/galaxy
better_auth_secret: demo-not-a-secret
docs_api_token: demo-not-a-secret-docs
EOF
# deliberately invalid YAML: unbalanced brackets, tab indentation, control and non-UTF-8 bytes
printf '%s\n%s\n\t%s\n%b\n' \
	"# TEST-ONLY fixture: deliberately NOT valid YAML." \
	"key: [unclosed, {also: unclosed" \
	"sub:	value" \
	'\x01\x02\x7f\xff\xfe binary-ish }}]]' >"$TD/notsops/garbage.yaml"

# ---------------------------------------------------------------- 10. large
P="$WORK/plain/large.yaml"
python3 - "$P" "$HDR" <<'PY'
import secrets, string, sys
alphabet = string.ascii_letters + string.digits
rnd = lambda: "".join(secrets.choice(alphabet) for _ in range(40))
with open(sys.argv[1], "w") as f:
    f.write(sys.argv[2] + "\n")
    for i in range(10000):
        if i % 100 == 0:
            f.write(f"key_{i:05d}: |\n  {rnd()}\n  {rnd()}\n  {rnd()}\n")
        else:
            f.write(f"key_{i:05d}: {rnd()}\n")
PY
encrypt "$P" "$TD/large/galaxy.enc.yaml" a

# ---------------------------------------------------------------- verification
for f in "${FIXTURES[@]}"; do
	g="${f%.enc.yaml}.plain.yaml"
	for k in ${RECIPS_OF[$f]//,/ }; do
		sops_with_key "$TD/keys/$k.agekey" decrypt "$f" >"$WORK/check" || die "$f: decrypt with key $k failed"
		cmp -s "$WORK/check" "$g" || die "$f: decrypt with key $k differs from $g"
	done
	if sops_with_key "$TD/keys/c.agekey" decrypt "$f" >/dev/null 2>&1; then
		die "$f: decrypt with key c unexpectedly succeeded"
	fi
	head -n1 "$g" | grep -q TEST-ONLY || die "$g: missing TEST-ONLY header"
done

# canary: no marker leaks into the ciphertext, every marker is in the golden
! grep -q CNRY "$TD/canary/canary.enc.yaml" || die "canary marker visible in ciphertext"
for t in "${M[@]}"; do grep -q "$t" "$TD/canary/canary.plain.yaml" || die "marker $t missing from golden"; done
# seedbug: values stay in plaintext despite a valid sops block + MAC
grep -q '^database_url: postgres://galaxy_app:demo-not-a-secret-seedbug@' "$TD/seedbug/galaxy.enc.yaml" \
	|| die "seedbug: expected plaintext values"
grep -q '^    mac: ENC\[' "$TD/seedbug/galaxy.enc.yaml" || die "seedbug: no MAC"
# unencrypted rules
grep -q '^region_unencrypted: eu-central-1$' "$TD/unencsuffix/galaxy.enc.yaml" || die "unencsuffix: region not plaintext"
grep -q '^api_token: ENC\[' "$TD/unencsuffix/galaxy.enc.yaml" || die "unencsuffix: api_token not encrypted"
grep -q '^public_url: https://example.test$' "$TD/unencregex/galaxy.enc.yaml" || die "unencregex: public_url not plaintext"
grep -q '^secret_token: ENC\[' "$TD/unencregex/galaxy.enc.yaml" || die "unencregex: secret_token not encrypted"
# not-sops inputs must be rejected by sops
! sops_with_key "$TD/keys/a.agekey" decrypt "$TD/notsops/plain.yaml" >/dev/null 2>&1 || die "notsops/plain.yaml decrypted?!"
! sops_with_key "$TD/keys/a.agekey" decrypt "$TD/notsops/garbage.yaml" >/dev/null 2>&1 || die "notsops/garbage.yaml decrypted?!"

# The demo (go run ./cmd/demo) embeds its own copies; internal/demo's test
# holds them equal to these.
mkdir -p "$TD/../internal/demo/testdata/staging" "$TD/../internal/demo/testdata/keys"
cp "$TD/staging/galaxy.enc.yaml" "$TD/../internal/demo/testdata/staging/galaxy.enc.yaml"
cp "$TD/keys/a.agekey" "$TD/../internal/demo/testdata/keys/a.agekey"

echo "gen.sh: OK (${#FIXTURES[@]} encrypted fixtures, sops $("$SOPS" --version --disable-version-check 2>/dev/null | head -n1 | awk '{print $2}'))"
