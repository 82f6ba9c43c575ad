package mask

import (
	"reflect"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

type rec []string

func (r *rec) AddMask(s string) { *r = append(*r, s) }

func TestForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"abcd", []string{"abcd"}},
		{"abc", nil},
		{"", nil},
		{" padded value ", []string{" padded value ", "padded value"}},
		{"line one\nab\r\nline three\n", []string{"line one\nab\r\nline three\n", "line one\nab\r\nline three", "line one", "line three"}},
	} {
		if got := forms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Forms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	leaf := func(path, typ, v string) secret.Leaf {
		return secret.Leaf{Path: path, Type: typ, Value: secret.NewString(v)}
	}
	var r rec
	sk := Values(&r, []secret.Leaf{
		leaf("a", "str", "long-enough"),
		leaf("b", "str", ""),
		leaf("c", "null", ""),
		leaf("d", "str", "1"),
		leaf("e", "bool", "true"),
		leaf("f", "int", "5432"),
		leaf("g", "str", "long-enough"),
	})
	if want := (rec{"long-enough", "5432"}); !reflect.DeepEqual(r, want) {
		t.Errorf("registered %q, want %q", r, want)
	}
	if want := []string{"b", "c"}; !reflect.DeepEqual(sk.Empty, want) {
		t.Errorf("Empty = %q, want %q", sk.Empty, want)
	}
	if want := []string{"d", "e"}; !reflect.DeepEqual(sk.Short, want) {
		t.Errorf("Short = %q, want %q", sk.Short, want)
	}
}
