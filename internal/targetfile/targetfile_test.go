package targetfile

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{"dup.csv", `testdata/dup.csv:3: duplicate address "127.0.0.2" (first on line 1)`},
		{"badip.csv", `testdata/badip.csv:2: invalid address "300.1.1.1"`},
		{"noname.csv", `testdata/noname.csv:2: missing name`},
		{"badstable.csv", `testdata/badstable.csv:2: bad stable value "maybe" (want true/false/yes/no/1/0)`},
		{"fields.csv", `testdata/fields.csv:1: want name,address,stable but got 4 fields`},
		{"empty.csv", `testdata/empty.csv: no targets`},
		{"dup.json", `testdata/dup.json:3: duplicate address "127.0.0.2" (first on line 2)`},
		{"badstable.json", `testdata/badstable.json:4: bad stable value "perhaps" (want true/false/yes/no/1/0)`},
		{"syntax.json", `testdata/syntax.json:3: invalid JSON: invalid character '"' after object key:value pair`},
		{"missing.csv", `read targets: open testdata/missing.csv: no such file or directory`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.in))
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want error %q", tc.in, tc.wantErr)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Load(%s) error\n got: %s\nwant: %s", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	want := []Target{
		{Name: "sat1", Address: "127.0.0.2", Stable: true},
		{Name: "sat2", Address: "127.0.0.3", Stable: true},
		{Name: "ground", Address: "127.0.0.4", Stable: false},
		{Name: "v6", Address: "::1", Stable: true},
	}
	for _, in := range []string{"good.csv", "good.json"} {
		t.Run(in, func(t *testing.T) {
			got, err := Load(filepath.Join("testdata", in))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].Line = 0
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(%s) = %+v, want %+v", in, got, want)
			}
		})
	}
}

func TestParseStable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"true", true, true}, {"YES", true, true}, {"1", true, true}, {" no ", false, true},
		{"False", false, true}, {"0", false, true}, {"", false, false}, {"2", false, false},
	} {
		got, err := parseStable(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseStable(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a,127.0.0.1,true\n"))
	f.Add([]byte(`[{"name":"a","address":"::1","stable":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse("fuzz", data) // must not panic
	})
}
