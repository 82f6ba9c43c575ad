package mask

import (
	"fmt"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

type discard struct{ n int }

func (d *discard) AddMask(s string) { d.n += len(s) }

// BenchmarkValues10k registers 10,000 values, one in a hundred multi-line.
func BenchmarkValues10k(b *testing.B) {
	leaves := make([]secret.Leaf, 10000)
	for i := range leaves {
		v := fmt.Sprintf("value-%05d-abcdefghijklmnopqrstuvwxyz0123", i)
		if i%100 == 0 {
			v += "\nsecond line " + v + "\nthird line\n"
		}
		leaves[i] = secret.Leaf{Path: fmt.Sprintf("key_%05d", i), Type: "str", Value: secret.NewString(v)}
	}
	b.ReportAllocs()
	for b.Loop() {
		Values(&discard{}, leaves)
	}
}
