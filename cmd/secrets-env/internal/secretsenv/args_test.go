package secretsenv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args string
		want Config
	}{
		{"A=a -- cmd", Config{File: DefaultFile, Specs: []Spec{{"A", "a"}}, Command: []string{"cmd"}}},
		{"-file /x.yaml -override A=db.password B=list[0] -- cmd -- -x", Config{File: "/x.yaml", Override: true,
			Specs: []Spec{{"A", "db.password"}, {"B", "list[0]"}}, Command: []string{"cmd", "--", "-x"}}},
		{"-all -- cmd", Config{File: DefaultFile, All: true, Command: []string{"cmd"}}},
		{"--all --file=/f -- cmd", Config{File: "/f", All: true, Command: []string{"cmd"}}},
		{"-user 1000 -all -- cmd", Config{File: DefaultFile, All: true, User: &Cred{1000, 1000, "1000:1000"}, Command: []string{"cmd"}}},
		{"-user 1000:2000 A=a=b -- cmd", Config{File: DefaultFile, User: &Cred{1000, 2000, "1000:2000"}, Specs: []Spec{{"A", "a=b"}}, Command: []string{"cmd"}}},
	} {
		got, err := ParseArgs(strings.Fields(tc.args))
		if err != nil {
			t.Errorf("ParseArgs(%s): %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("ParseArgs(%s):\n got %+v\nwant %+v", tc.args, *got, tc.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args, want string
	}{
		{"A=a cmd", "no -- before the command"},
		{"", "no -- before the command"},
		{"A=a --", "no command after --"},
		{"-- cmd", "nothing to export"},
		{"-all A=a -- cmd", "-all and VAR=key arguments are given together"},
		{"A=a -override -- cmd", `flag "-override" after a VAR=key argument`},
		{"A -- cmd", `argument "A" is not VAR=key`},
		{"1A=a -- cmd", `"1A" is not a valid variable name`},
		{"A-B=a -- cmd", `"A-B" is not a valid variable name`},
		{"=a -- cmd", `"" is not a valid variable name`},
		{"A= -- cmd", "no key after A="},
		{"A=a A=b -- cmd", "variable A is given twice"},
		{"-nope A=a -- cmd", "flag provided but not defined: -nope"},
		{"-file -- cmd", "flag needs an argument: -file"},
		{"-user -all -- cmd", `-user "-all": the uid is not a number`},
		{"-user root A=a -- cmd", `-user "root": the uid is not a number`},
		{"-user 1000: A=a -- cmd", `-user "1000:": the gid is empty`},
		{"-user -1 A=a -- cmd", `the uid is not a number`},
		{"-user 4294967295 A=a -- cmd", `the uid is not a number from 0 to 4294967294`},
		{"-user 1:2:3 A=a -- cmd", `the gid is not a number`},
	} {
		_, err := ParseArgs(strings.Fields(tc.args))
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseArgs(%s): got %v, want a *UsageError", tc.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%s): got %q, want %q", tc.args, err, tc.want)
		}
	}
	for _, args := range []string{"-h", "-help", "--help", "-h -- cmd", "A=a -h"} {
		if _, err := ParseArgs(strings.Fields(args)); !errors.Is(err, ErrHelp) {
			t.Errorf("ParseArgs(%s): got %v, want ErrHelp", args, err)
		}
	}
	if _, err := ParseArgs([]string{"-file", "", "A=a", "--", "cmd"}); err == nil || err.Error() != "-file is empty" {
		t.Errorf("empty -file: %v", err)
	}
	if _, err := ParseArgs([]string{"A=a", "--", ""}); err == nil || err.Error() != "the command is empty" {
		t.Errorf("empty command: %v", err)
	}
}
