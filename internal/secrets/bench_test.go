package secrets

import "testing"

func benchDecrypt(b *testing.B, file string) {
	data := td(b, file)
	keys := ids(b, "a")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(data, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecrypt9Keys is the runbook's file.
func BenchmarkDecrypt9Keys(b *testing.B) { benchDecrypt(b, "staging/galaxy.enc.yaml") }

// BenchmarkDecrypt10kKeys is 10,000 keys with multi-line values among them.
func BenchmarkDecrypt10kKeys(b *testing.B) { benchDecrypt(b, "large/galaxy.enc.yaml") }
