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
		{"mapped.csv", `testdata/mapped.csv:2: duplicate address "127.0.0.2" (first on line 1)`},
		{"mapped.json", `testdata/mapped.json:3: duplicate address "127.0.0.2" (first on line 2)`},
		{"unspecified.csv", `testdata/unspecified.csv:2: address "0.0.0.0" is unspecified, want a unicast address`},
		{"unspecified6.csv", `testdata/unspecified6.csv:2: address "::" is unspecified, want a unicast address`},
		{"broadcast.csv", `testdata/broadcast.csv:2: address "255.255.255.255" is broadcast, want a unicast address`},
		{"multicast.csv", `testdata/multicast.csv:3: address "224.0.0.1" is multicast, want a unicast address`},
		{"multicast.json", `testdata/multicast.json:3: address "ff02::1" is multicast, want a unicast address`},
		{"badutf8.csv", `testdata/badutf8.csv:2: invalid name "b\xff" (want UTF-8 text without control characters)`},
		{"control.csv", `testdata/control.csv:2: invalid name "b\x1b[31m" (want UTF-8 text without control characters)`},
		{"control.json", `testdata/control.json:3: invalid name "b\a" (want UTF-8 text without control characters)`},
		{"trailing.json", `testdata/trailing.json:4: invalid JSON: data after the array`},
		{"trailing2.json", `testdata/trailing2.json:3: invalid JSON: data after the array`},
		{"object.json", `testdata/object.json:1: want a JSON array of {"name","address","stable"} objects`},
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
	for _, in := range []string{"good.csv", "good.json", "bom.json", "canonical.csv"} {
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

func TestLoadKeepsZones(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "zone.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Address != "fe80::1%eth0" {
		t.Errorf("Load(zone.csv) = %+v; want fe80::1%%eth0 kept with its zone", got)
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
